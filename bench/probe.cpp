// The primitives probe, on the raw C client:
//   w        synchronous setData of 8 bytes, on the first server of HOSTS (where the single-client
//            scenarios run)
//   r        synchronous getData, same server
//   w_rd r_rd the same on a handle with zoo_set_servers_resolution_delay(10 s): by default the C
//   client
//            re-resolves its host list (getaddrinfo + srandom) on every wakeup of its I/O thread
//   n        delete by one session → the data-watch callback of another session; the two sessions
//   are
//            drawn at random among the servers (as the holder and the next waiter of a handoff are)
//   ceiling  the ensemble's pipelined write ceiling: asynchronous setData with 256 in flight per
//            session, one session per server, for CEIL_MS
// Command: `probe W R N CEIL_MS BASE` → {"w":[…],"r":[…],"n":[…],"ceiling":ops_per_s}.
#include "raw_handle.hpp"

#include <atomic>
#include <iostream>
#include <random>
#include <sstream>
#include <thread>

namespace zkbench {
namespace {

std::vector<std::string> split(const std::string& hosts) {
  std::vector<std::string> out;
  std::istringstream in(hosts);
  for (std::string h; std::getline(in, h, ',');)
    if (!h.empty()) out.push_back(h);
  return out;
}

struct Fired {
  std::mutex m;
  std::condition_variable cv;
  std::int64_t at = 0;
};

void on_fired(zhandle_t*, int type, int, const char*, void* ctx) {
  if (type == ZOO_SESSION_EVENT) return;
  const auto t = now_ns();
  auto* holder = static_cast<std::shared_ptr<Fired>*>(ctx);
  auto f = *holder;
  delete holder;
  std::lock_guard<std::mutex> lk(f->m);
  f->at = t;
  f->cv.notify_all();
}

struct Pipe {
  zhandle_t* zh = nullptr;
  std::string path;
  std::atomic<std::int64_t> done{0};
  std::atomic<int> in_flight{0};
  std::atomic<bool> stop{false};
};

void issue(Pipe* p);

void on_set(int rc, const struct Stat*, const void* data) {
  auto* p = static_cast<Pipe*>(const_cast<void*>(data));
  if (rc == ZOK) p->done.fetch_add(1);
  if (!p->stop.load())
    issue(p);
  else
    p->in_flight.fetch_sub(1);
}

void issue(Pipe* p) {
  static const char data[8] = {};
  if (zoo_aset(p->zh, p->path.c_str(), data, sizeof data, -1, on_set, p) != ZOK)
    p->in_flight.fetch_sub(1);
}

class Probe {
public:
  explicit Probe(const std::string& hosts) : m_hosts(split(hosts)), m_rng(std::random_device{}()) {
    if (m_hosts.empty()) throw Failure("probe: no hosts");
    m_main = std::make_unique<RawHandle>(m_hosts[0]);
    m_tuned = std::make_unique<RawHandle>(m_hosts[0]);
    zoo_set_servers_resolution_delay(m_tuned->zh(), 10000);
    for (std::size_t i = 0; i < m_hosts.size() && i < 3; ++i) {
      m_deleters.push_back(std::make_unique<RawHandle>(m_hosts[i]));
      m_watchers.push_back(std::make_unique<RawHandle>(m_hosts[i]));
    }
  }

  std::string run(int w_count, int r_count, int n_count, int ceil_ms, const std::string& base) {
    m_main->ensure(base);
    const std::string node = base + "/w";
    int rc = zoo_create(m_main->zh(), node.c_str(), "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, nullptr, 0);
    if (rc != ZNODEEXISTS) check(rc, "create");
    std::vector<std::int64_t> w, r, n, w_rd, r_rd;
    char buf[64];
    for (int i = 0; i < w_count; ++i) { // alternating, so both handles see the same conditions
      for (auto* h : {m_main.get(), m_tuned.get()}) {
        const auto t0 = now_ns();
        check(zoo_set(h->zh(), node.c_str(), "12345678", 8, -1), "set");
        (h == m_main.get() ? w : w_rd).push_back(now_ns() - t0);
      }
    }
    for (int i = 0; i < r_count; ++i) {
      for (auto* h : {m_main.get(), m_tuned.get()}) {
        int len = sizeof buf;
        const auto t0 = now_ns();
        check(zoo_get(h->zh(), node.c_str(), 0, buf, &len, nullptr), "get");
        (h == m_main.get() ? r : r_rd).push_back(now_ns() - t0);
      }
    }
    for (int i = 0; i < n_count; ++i)
      n.push_back(notify_once(base + "/n"));
    const double ceiling = ceiling_of(base, ceil_ms);
    return "{\"w\":" + json_array(w) + ",\"r\":" + json_array(r) + ",\"n\":" + json_array(n) +
           ",\"w_rd\":" + json_array(w_rd) + ",\"r_rd\":" + json_array(r_rd) +
           ",\"ceiling\":" + std::to_string(ceiling) + "}";
  }

private:
  std::int64_t notify_once(const std::string& node) {
    RawHandle& a = *m_deleters[m_rng() % m_deleters.size()];
    RawHandle& b = *m_watchers[m_rng() % m_watchers.size()];
    check(zoo_create(a.zh(), node.c_str(), "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, nullptr, 0), "create");
    auto fired = std::make_shared<Fired>();
    char buf[16];
    for (int attempt = 0;; ++attempt) { // b's server may not have seen the create yet
      auto* ctx = new std::shared_ptr<Fired>(fired);
      int len = sizeof buf;
      const int rc = zoo_wget(b.zh(), node.c_str(), on_fired, ctx, buf, &len, nullptr);
      if (rc == ZOK) break;
      delete ctx;
      if (rc != ZNONODE || attempt > 1000) check(rc, "wget");
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    const auto t0 = now_ns();
    check(zoo_delete(a.zh(), node.c_str(), -1), "delete");
    std::unique_lock<std::mutex> lk(fired->m);
    if (!fired->cv.wait_for(lk, std::chrono::seconds(10), [&] { return fired->at != 0; }))
      throw Failure("probe: no watch event within 10 s");
    return fired->at - t0;
  }

  double ceiling_of(const std::string& base, int ceil_ms) {
    std::vector<std::unique_ptr<Pipe>> pipes;
    for (std::size_t i = 0; i < m_deleters.size(); ++i) {
      auto p = std::make_unique<Pipe>();
      p->zh = m_deleters[i]->zh();
      p->path = base + "/ceiling-" + std::to_string(i);
      const int rc = zoo_create(p->zh, p->path.c_str(), "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, nullptr, 0);
      if (rc != ZNODEEXISTS) check(rc, "create");
      pipes.push_back(std::move(p));
    }
    for (auto& p : pipes)
      for (int k = 0; k < 256; ++k) {
        p->in_flight.fetch_add(1);
        issue(p.get());
      }
    const auto total = [&] {
      std::int64_t sum = 0;
      for (auto& p : pipes)
        sum += p->done.load();
      return sum;
    };
    std::this_thread::sleep_for(std::chrono::milliseconds(100)); // ramp up
    const auto c0 = total();
    const auto t0 = now_ns();
    std::this_thread::sleep_for(std::chrono::milliseconds(ceil_ms));
    const auto c1 = total();
    const auto t1 = now_ns();
    for (auto& p : pipes)
      p->stop.store(true);
    for (auto& p : pipes)
      while (p->in_flight.load() > 0)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return static_cast<double>(c1 - c0) * 1e9 / static_cast<double>(t1 - t0);
  }

  std::vector<std::string> m_hosts;
  std::mt19937_64 m_rng;
  std::unique_ptr<RawHandle> m_main;
  std::unique_ptr<RawHandle> m_tuned; // same server, resolution delay set
  std::vector<std::unique_ptr<RawHandle>> m_deleters;
  std::vector<std::unique_ptr<RawHandle>> m_watchers;
};

} // namespace

int run_probe(const std::string& hosts) {
  Probe probe(hosts);
  std::printf("{\"ready\":1}\n");
  std::fflush(stdout);
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream in(line);
    std::string cmd, base;
    int w = 0, r = 0, n = 0, ceil_ms = 0;
    in >> cmd;
    if (cmd == "quit") break;
    std::string out;
    try {
      if (cmd != "probe" || !(in >> w >> r >> n >> ceil_ms >> base))
        throw Failure("bad command: " + line);
      out = probe.run(w, r, n, ceil_ms, base);
    } catch (const std::exception& e) {
      out = std::string("{\"error\":\"") + e.what() + "\"}";
    }
    std::printf("%s\n", out.c_str());
    std::fflush(stdout);
  }
  return 0;
}

} // namespace zkbench
