// Our recipes, used as an application would: default options unless a scenario says otherwise.
#include "zkbench.hpp"

#include <zkrecipes/distributed_counter.hpp>
#include <zkrecipes/distributed_lock.hpp>
#include <zkrecipes/read_write_lock.hpp>
#include <zkrecipes/semaphore.hpp>
#include <zkrecipes/sharded_counter.hpp>

#include <optional>

namespace zkbench {
namespace {

zk::SessionOptions options_for(const std::string& hosts) {
  zk::SessionOptions o;
  o.hosts = hosts;
  o.session_timeout = std::chrono::seconds(10);
  o.connect_timeout = std::chrono::seconds(30);
  return o;
}

class OursLock : public BenchLock {
public:
  OursLock(zk::Session& s, const std::string& path) : m_lock(s, path) {}
  void lock() override { m_lock.lock(); }
  void unlock() override { m_lock.unlock(); }

private:
  zk::DistributedLock m_lock;
};

// A lock shared by several threads (like a std::mutex): one object, one place in the queue.
class SharedLock : public BenchLock {
public:
  explicit SharedLock(std::shared_ptr<zk::DistributedLock> l) : m_lock(std::move(l)) {}
  void lock() override { m_lock->lock(); }
  void unlock() override { m_lock->unlock(); }

private:
  std::shared_ptr<zk::DistributedLock> m_lock;
};

// A thread's own session and lock: one contender node per thread.
class OwnSessionLock : public BenchLock {
public:
  OwnSessionLock(const std::string& hosts, const std::string& path)
      : m_session(options_for(hosts)), m_lock(m_session, path) {}
  void lock() override { m_lock.lock(); }
  void unlock() override { m_lock.unlock(); }
  std::int64_t session_id() const { return m_session.session_id(); }

private:
  zk::Session m_session;
  zk::DistributedLock m_lock;
};

class OursReader : public BenchLock {
public:
  OursReader(zk::Session& s, const std::string& path) : m_lock(s, path) {}
  void lock() override { m_lock.reader().lock_shared(); }
  void unlock() override { m_lock.reader().unlock_shared(); }

private:
  zk::ReadWriteLock m_lock;
};

class OursSemaphore : public BenchLock {
public:
  OursSemaphore(zk::Session& s, const std::string& path, int max) : m_pool(s, path, max) {}
  void lock() override { m_lease = m_pool.acquire(); }
  void unlock() override { m_lease.reset(); }

private:
  zk::Semaphore m_pool;
  std::optional<zk::Lease> m_lease;
};

// Many waits may be pending on the one object; each grant's guard ends its own hold.
class OursAsyncLock : public BenchAsyncLock {
public:
  OursAsyncLock(zk::Session& s, const std::string& path) : m_lock(s, path) {}
  void lock_async(Granted granted) override {
    m_lock.async_lock([granted = std::move(granted)](std::error_code ec, zk::LockGuard g) {
      if (ec) return granted(ec.message(), {});
      auto held = std::make_shared<zk::LockGuard>(std::move(g));
      granted({}, [held] { held->release(); });
    });
  }

private:
  zk::DistributedLock m_lock;
};

class OursCounter : public BenchCounter {
public:
  OursCounter(zk::Session& s, const std::string& path) : m_counter(s, path) {
    (void)m_counter.get(); // reads (and caches) the node as an application's first use would
  }
  int incr() override {
    try {
      return m_counter.add_detailed(1).attempts;
    } catch (const zk::Error& e) {
      if (e.errc() != zk::Errc::retries_exhausted) throw;
      return -m_counter.options().retry.max_attempts;
    }
  }

private:
  zk::DistributedCounter m_counter;
};

class OursSharded : public BenchCounter {
public:
  OursSharded(zk::Session& s, const std::string& path) : m_counter(s, path) {}
  int incr() override {
    m_counter.increment();
    return 1; // ShardedCounter does not report its attempts
  }

private:
  zk::ShardedCounter m_counter;
};

class OursBackend : public Backend {
public:
  explicit OursBackend(std::string hosts)
      : m_hosts(std::move(hosts)), m_session(options_for(m_hosts)) {}
  std::vector<std::string> sessions() const override {
    std::vector<std::string> out{hex_id(m_session.session_id())};
    for (const auto id : m_extra)
      out.push_back(hex_id(id));
    return out;
  }
  std::unique_ptr<BenchLock> lock(const std::string& path) override {
    m_extra.clear();
    return std::make_unique<OursLock>(m_session, path);
  }
  std::unique_ptr<BenchCounter> counter(const std::string& path) override {
    m_extra.clear();
    return std::make_unique<OursCounter>(m_session, path);
  }
  std::unique_ptr<BenchCounter> sharded(const std::string& path) override {
    m_extra.clear();
    return std::make_unique<OursSharded>(m_session, path);
  }
  std::unique_ptr<BenchLock> read_lock(const std::string& path) override {
    m_extra.clear();
    return std::make_unique<OursReader>(m_session, path);
  }
  std::unique_ptr<BenchLock> semaphore(const std::string& path, int max) override {
    m_extra.clear();
    return std::make_unique<OursSemaphore>(m_session, path, max);
  }
  std::unique_ptr<BenchAsyncLock> async_lock(const std::string& path) override {
    m_extra.clear();
    return std::make_unique<OursAsyncLock>(m_session, path);
  }
  std::vector<std::shared_ptr<BenchLock>> thread_locks(const std::string& path, int n,
                                                       const std::string& mode) override {
    m_extra.clear();
    std::vector<std::shared_ptr<BenchLock>> out;
    auto shared = std::make_shared<zk::DistributedLock>(m_session, path);
    for (int i = 0; i < n; ++i) {
      if (mode == "pernode") {
        auto l = std::make_shared<OwnSessionLock>(m_hosts, path);
        m_extra.push_back(l->session_id());
        out.push_back(l);
      } else {
        out.push_back(std::make_shared<SharedLock>(shared));
      }
    }
    return out;
  }

private:
  std::string m_hosts;
  zk::Session m_session;
  std::vector<std::int64_t> m_extra; // sessions of the last thread_locks("pernode")
};

} // namespace

std::unique_ptr<Backend> make_ours_backend(const std::string& hosts) {
  return std::make_unique<OursBackend>(hosts);
}

} // namespace zkbench
