// The floor: each scenario's minimal operation sequence on the raw C client, synchronous calls
// only.
//   lock    create2(ephemeral|sequential) → getChildren → (not first: wget(predecessor), wait for
//   its
//           event, getChildren again — the ZooKeeper recipes page's lock) … delete
//   counter setData(value + 1, cached version) → bad version: getData, retry at once (no backoff)
//   sharded the same on one of 8 shards, kept until a conflict, then another one at random
#include "raw_handle.hpp"

#include <algorithm>
#include <climits>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <random>

namespace zkbench {
namespace {

struct Wake {
  std::mutex m;
  std::condition_variable cv;
  bool fired = false;
};

// Data watch on the predecessor; its context is a heap shared_ptr<Wake>, freed when it fires.
void on_predecessor(zhandle_t*, int type, int, const char*, void* ctx) {
  if (type == ZOO_SESSION_EVENT) return; // the watch stays registered
  auto* holder = static_cast<std::shared_ptr<Wake>*>(ctx);
  auto wake = *holder;
  delete holder;
  std::lock_guard<std::mutex> lk(wake->m);
  wake->fired = true;
  wake->cv.notify_all();
}

long sequence_of(const char* name) {
  const char* dash = std::strrchr(name, '-');
  return dash != nullptr ? std::strtol(dash + 1, nullptr, 10) : LONG_MAX;
}

class RawLock : public BenchLock {
public:
  RawLock(RawHandle& h, std::string dir) : m_h(h), m_dir(std::move(dir)) { m_h.ensure(m_dir); }
  void lock() override {
    char buf[512];
    struct Stat st;
    const std::string prefix = m_dir + "/lock-";
    check(zoo_create2(m_h.zh(), prefix.c_str(), "", 0, &ZOO_OPEN_ACL_UNSAFE,
                      ZOO_EPHEMERAL_SEQUENTIAL, buf, sizeof buf, &st),
          "create2");
    m_node = buf;
    const long mine = sequence_of(buf);
    for (;;) {
      String_vector kids{};
      check(zoo_get_children(m_h.zh(), m_dir.c_str(), 0, &kids), "getChildren");
      std::string pred;
      long best = LONG_MIN;
      for (int i = 0; i < kids.count; ++i) {
        const long s = sequence_of(kids.data[i]);
        if (s < mine && s > best) {
          best = s;
          pred = kids.data[i];
        }
      }
      deallocate_String_vector(&kids);
      if (pred.empty()) return; // first: held
      auto wake = std::make_shared<Wake>();
      auto* ctx = new std::shared_ptr<Wake>(wake);
      int len = sizeof buf;
      const int rc =
          zoo_wget(m_h.zh(), (m_dir + "/" + pred).c_str(), on_predecessor, ctx, buf, &len, &st);
      if (rc == ZNONODE) { // no watch was set: look again
        delete ctx;
        continue;
      }
      check(rc, "wget");
      std::unique_lock<std::mutex> lk(wake->m);
      wake->cv.wait(lk, [&] { return wake->fired; });
    }
  }
  void unlock() override { check(zoo_delete(m_h.zh(), m_node.c_str(), -1), "delete"); }

private:
  RawHandle& m_h;
  std::string m_dir;
  std::string m_node;
};

std::string encode(std::int64_t v) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i, v >>= 8)
    out[static_cast<std::size_t>(i)] = static_cast<char>(v & 0xff);
  return out;
}

std::int64_t decode(const char* p, int len) {
  std::uint64_t v = 0;
  for (int i = 0; i < len; ++i)
    v = (v << 8) | static_cast<unsigned char>(p[i]);
  return static_cast<std::int64_t>(v);
}

// A counter znode: 8-byte big-endian value, version cached from the last read or write.
class RawCell {
public:
  RawCell(RawHandle& h, std::string path) : m_h(h), m_path(std::move(path)) {}
  void read() {
    char buf[64];
    int len = sizeof buf;
    struct Stat st;
    int rc = zoo_get(m_h.zh(), m_path.c_str(), 0, buf, &len, &st);
    if (rc == ZNONODE) {
      const std::string zero = encode(0);
      m_h.ensure(m_path.substr(0, m_path.rfind('/')));
      rc =
          zoo_create(m_h.zh(), m_path.c_str(), zero.data(), 8, &ZOO_OPEN_ACL_UNSAFE, 0, nullptr, 0);
      if (rc != ZNODEEXISTS) check(rc, "create");
      len = sizeof buf;
      rc = zoo_get(m_h.zh(), m_path.c_str(), 0, buf, &len, &st);
    }
    check(rc, "get");
    m_value = decode(buf, std::max(len, 0));
    m_version = st.version;
    m_known = true;
  }
  /// One conditional write of value + 1; false on a conflict (then the cell is re-read).
  bool try_incr() {
    if (!m_known) read();
    const std::string data = encode(m_value + 1);
    struct Stat st;
    const int rc = zoo_set2(m_h.zh(), m_path.c_str(), data.data(), 8, m_version, &st);
    if (rc == ZBADVERSION) {
      read();
      return false;
    }
    check(rc, "set");
    ++m_value;
    m_version = st.version;
    return true;
  }

private:
  RawHandle& m_h;
  std::string m_path;
  std::int64_t m_value = 0;
  std::int32_t m_version = 0;
  bool m_known = false;
};

class RawCounter : public BenchCounter {
public:
  RawCounter(RawHandle& h, const std::string& path) : m_cell(h, path) { m_cell.read(); }
  int incr() override {
    int tries = 1;
    while (!m_cell.try_incr())
      ++tries;
    return tries;
  }

private:
  RawCell m_cell;
};

class RawSharded : public BenchCounter {
public:
  RawSharded(RawHandle& h, const std::string& path) : m_rng(std::random_device{}()) {
    for (int i = 0; i < 8; ++i)
      m_cells.emplace_back(h, path + "/shard-" + std::to_string(i));
    m_pick = m_rng() % m_cells.size();
  }
  int incr() override {
    int tries = 1;
    while (!m_cells[m_pick].try_incr()) {
      ++tries;
      m_pick = m_rng() % m_cells.size();
    }
    return tries;
  }

private:
  std::vector<RawCell> m_cells;
  std::mt19937_64 m_rng;
  std::size_t m_pick = 0;
};

class RawLockOwning : public BenchLock { // a lock with a handle of its own
public:
  RawLockOwning(const std::string& hosts, const std::string& dir)
      : m_h(std::make_unique<RawHandle>(hosts)), m_lock(*m_h, dir) {}
  void lock() override { m_lock.lock(); }
  void unlock() override { m_lock.unlock(); }
  const RawHandle& handle() const { return *m_h; }

private:
  std::unique_ptr<RawHandle> m_h;
  RawLock m_lock;
};

class RawBackend : public Backend {
public:
  explicit RawBackend(std::string hosts) : m_hosts(std::move(hosts)), m_h(m_hosts) {}
  std::vector<std::string> sessions() const override {
    std::vector<std::string> out{hex_id(m_h.session_id())};
    for (const auto id : m_extra)
      out.push_back(hex_id(id));
    return out;
  }
  std::unique_ptr<BenchLock> lock(const std::string& path) override {
    m_extra.clear();
    return std::make_unique<RawLock>(m_h, path);
  }
  std::unique_ptr<BenchCounter> counter(const std::string& path) override {
    m_extra.clear();
    return std::make_unique<RawCounter>(m_h, path);
  }
  std::unique_ptr<BenchCounter> sharded(const std::string& path) override {
    m_extra.clear();
    return std::make_unique<RawSharded>(m_h, path);
  }
  std::vector<std::shared_ptr<BenchLock>> thread_locks(const std::string& path, int n,
                                                       const std::string& mode) override {
    m_extra.clear();
    std::vector<std::shared_ptr<BenchLock>> out;
    for (int i = 0; i < n; ++i) {
      if (mode == "pernode") {
        auto l = std::make_shared<RawLockOwning>(m_hosts, path);
        m_extra.push_back(l->handle().session_id());
        out.push_back(l);
      } else { // one handle, one node per thread (the C client is thread-safe)
        out.push_back(std::make_shared<RawLock>(m_h, path));
      }
    }
    return out;
  }

private:
  std::string m_hosts;
  RawHandle m_h;
  std::vector<std::int64_t> m_extra; // sessions of the last thread_locks("pernode")
};

} // namespace

std::unique_ptr<Backend> make_raw_backend(const std::string& hosts) {
  return std::make_unique<RawBackend>(hosts);
}

} // namespace zkbench
