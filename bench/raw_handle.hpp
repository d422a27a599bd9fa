// A connected zhandle_t for the raw-client side of the benchmarks and the probe.
#pragma once

#include "zkbench.hpp"

#include <zookeeper/zookeeper.h>

#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <string>

namespace zkbench {

inline void check(int rc, const char* what) {
  if (rc != ZOK) throw Failure(std::string(what) + ": " + zerror(rc));
}

class RawHandle {
public:
  explicit RawHandle(const std::string& hosts, int timeout_ms = 10000) {
    zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
    m_zh = zookeeper_init(hosts.c_str(), &RawHandle::watcher, timeout_ms, nullptr, this, 0);
    if (m_zh == nullptr) throw Failure("zookeeper_init " + hosts);
    // ZKBENCH_RESOLUTION_DELAY_MS: the C client's host re-resolution delay (default 0: on every
    // wakeup of its I/O thread); run.py sets it for a second callgrind measurement of the raw
    // client.
    if (const char* delay = std::getenv("ZKBENCH_RESOLUTION_DELAY_MS"))
      zoo_set_servers_resolution_delay(m_zh, std::atoi(delay));
    std::unique_lock<std::mutex> lk(m_mutex);
    if (!m_cv.wait_for(lk, std::chrono::seconds(30), [&] { return m_connected; })) {
      lk.unlock();
      zookeeper_close(m_zh);
      throw Failure("could not connect to " + hosts);
    }
  }
  ~RawHandle() { zookeeper_close(m_zh); }
  RawHandle(const RawHandle&) = delete;
  RawHandle& operator=(const RawHandle&) = delete;

  zhandle_t* zh() const { return m_zh; }
  std::int64_t session_id() const { return zoo_client_id(m_zh)->client_id; }

  /// Creates `path` and its ancestors as persistent nodes (existing ones are fine).
  void ensure(const std::string& path) {
    for (std::size_t i = 1; i <= path.size(); ++i) {
      if (i != path.size() && path[i] != '/') continue;
      const std::string prefix = path.substr(0, i);
      const int rc =
          zoo_create(m_zh, prefix.c_str(), nullptr, -1, &ZOO_OPEN_ACL_UNSAFE, 0, nullptr, 0);
      if (rc != ZOK && rc != ZNODEEXISTS) check(rc, "create parent");
    }
  }

private:
  static void watcher(zhandle_t*, int type, int state, const char*, void* ctx) {
    if (type != ZOO_SESSION_EVENT) return;
    auto* self = static_cast<RawHandle*>(ctx);
    std::lock_guard<std::mutex> lk(self->m_mutex);
    if (state == ZOO_CONNECTED_STATE) self->m_connected = true;
    self->m_cv.notify_all();
  }

  zhandle_t* m_zh = nullptr;
  std::mutex m_mutex;
  std::condition_variable m_cv;
  bool m_connected = false;
};

} // namespace zkbench
