// What a LockRig contender drives: the lock itself, the leader election (a LeaderLatch: one term
// is one hold), a read-write lock (each hold a write or a read, chosen by the seed) or a semaphore
// (a hold is a lease). All give the rig the same five moves (wait to hold, the token, a fenced
// write, "do I still hold it", let go) and the same two reports (lost, uncertain), so every cell of
// the lock's fault matrix runs against each of them, with the recipe's checker.
#pragma once

#include <zkrecipes/distributed_lock.hpp>
#include <zkrecipes/leader.hpp>
#include <zkrecipes/read_write_lock.hpp>
#include <zkrecipes/semaphore.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace zkt::matrix {

/// The recipe a rig's contenders use.
enum class Recipe { lock, election, rwlock, semaphore };

/// The semaphore cells' maximum (with three contenders: some wait, some hold together).
inline constexpr std::int32_t semaphore_max = 2;

struct TargetReports {
  std::function<void(const std::string& why)> lost; ///< the hold (term) was lost
  std::function<void(bool uncertain)> uncertain;
};

class RigTarget {
public:
  RigTarget() = default;
  virtual ~RigTarget() = default;
  RigTarget(const RigTarget&) = delete;
  RigTarget& operator=(const RigTarget&) = delete;
  RigTarget(RigTarget&&) = delete;
  RigTarget& operator=(RigTarget&&) = delete;

  /// Waits up to `timeout` to hold (lead).
  virtual bool acquire_for(std::chrono::milliseconds timeout) = 0;
  virtual std::int64_t token() = 0;
  virtual zk::MultiResult fenced(std::vector<zk::Op> ops, std::chrono::milliseconds deadline) = 0;
  [[nodiscard]] virtual bool holds() = 0;
  /// Holding, but the connection is suspended (not yet certain again).
  [[nodiscard]] virtual bool uncertain() = 0;
  /// Gives the hold up (the election: leaves, and joins again at the next acquire_for).
  virtual void release() = 0;
  /// Not contending for a while: the election must not keep a place in the queue.
  virtual void idle() {}
  /// The code a refused fenced write throws once the hold is gone.
  [[nodiscard]] virtual zk::Errc gone() const = 0;
  /// The current hold may overlap others' (a reader, a lease).
  [[nodiscard]] virtual bool shared() const { return false; }
};

class LockTarget final : public RigTarget {
public:
  LockTarget(zk::Session& session, const std::string& path, const TargetReports& reports) {
    zk::LockOptions o;
    o.on_lost = [lost = reports.lost](const zk::Error& e) { lost(zk::to_string(e.errc())); };
    o.on_uncertain = reports.uncertain;
    m_lock = std::make_unique<zk::DistributedLock>(session, path, o);
  }
  bool acquire_for(std::chrono::milliseconds t) override { return m_lock->try_lock_for(t); }
  std::int64_t token() override { return m_lock->fencing_token(); }
  zk::MultiResult fenced(std::vector<zk::Op> ops, std::chrono::milliseconds d) override {
    return m_lock->fenced(std::move(ops), d);
  }
  bool holds() override { return m_lock->owns_lock(); }
  bool uncertain() override { return m_lock->uncertain(); }
  void release() override { m_lock->unlock(); }
  [[nodiscard]] zk::Errc gone() const override { return zk::Errc::lock_lost; }

private:
  std::unique_ptr<zk::DistributedLock> m_lock;
};

class LatchTarget final : public RigTarget {
public:
  LatchTarget(zk::Session& session, std::string path, TargetReports reports)
      : m_session(session), m_path(std::move(path)), m_reports(std::move(reports)) {}
  bool acquire_for(std::chrono::milliseconds t) override {
    if (!m_latch) {
      zk::LatchOptions o;
      o.listeners.on_follower = [lost = m_reports.lost] { lost("on_follower"); };
      o.listeners.on_uncertain = m_reports.uncertain;
      m_latch = std::make_unique<zk::LeaderLatch>(m_session, m_path, o);
    }
    if (!m_latch->await_leadership(t)) return false;
    try {
      m_term = m_latch->term();
      return true;
    } catch (const zk::Error&) {
      return false; // lost before it began
    }
  }
  std::int64_t token() override { return m_term; }
  // In the term acquire_for() found: the latch queues again by itself after a loss, and a write
  // in a later term must not carry this term's token.
  zk::MultiResult fenced(std::vector<zk::Op> ops, std::chrono::milliseconds d) override {
    return latch().fenced(m_term, std::move(ops), d);
  }
  // As the lock's owns_lock(): still this term, also while uncertain (uncertain() says so).
  bool holds() override {
    if (!m_latch) return false;
    try {
      return m_latch->term() == m_term;
    } catch (const zk::Error&) {
      return false;
    }
  }
  // A term goes on (term() answers) while is_leader() is false only while uncertain.
  bool uncertain() override {
    if (!m_latch || m_latch->is_leader()) return false;
    try {
      return m_latch->term() == m_term;
    } catch (const zk::Error&) {
      return false;
    }
  }
  void release() override { m_latch.reset(); } // close(silent): the next term is a new node
  void idle() override { m_latch.reset(); }
  [[nodiscard]] zk::Errc gone() const override { return zk::Errc::not_leader; }

private:
  zk::LeaderLatch& latch() {
    if (!m_latch) throw zk::Error(zk::Errc::not_leader, "no latch");
    return *m_latch;
  }
  zk::Session& m_session;
  std::string m_path;
  TargetReports m_reports;
  std::unique_ptr<zk::LeaderLatch> m_latch;
  std::int64_t m_term = 0;
};

class RwTarget final : public RigTarget {
public:
  RwTarget(zk::Session& session, const std::string& path, const TargetReports& reports,
           std::uint64_t seed)
      : m_rng(seed) {
    zk::ReadWriteLockOptions o;
    o.lock.on_lost = [lost = reports.lost](const zk::Error& e) { lost(zk::to_string(e.errc())); };
    o.lock.on_uncertain = reports.uncertain;
    m_lock = std::make_unique<zk::ReadWriteLock>(session, path, o);
  }
  bool acquire_for(std::chrono::milliseconds t) override {
    m_write = m_rng() % 2 == 0;
    return m_write ? m_lock->writer().try_lock_for(t) : m_lock->reader().try_lock_shared_for(t);
  }
  std::int64_t token() override {
    return m_write ? m_lock->writer().fencing_token() : m_lock->reader().fencing_token();
  }
  zk::MultiResult fenced(std::vector<zk::Op> ops, std::chrono::milliseconds d) override {
    return m_write ? m_lock->writer().fenced(std::move(ops), d)
                   : m_lock->reader().fenced(std::move(ops), d);
  }
  bool holds() override {
    return m_write ? m_lock->writer().owns_lock() : m_lock->reader().owns_lock();
  }
  bool uncertain() override {
    return m_write ? m_lock->writer().uncertain() : m_lock->reader().uncertain();
  }
  void release() override {
    if (m_write) {
      m_lock->writer().unlock();
    } else {
      m_lock->reader().unlock_shared();
    }
  }
  [[nodiscard]] zk::Errc gone() const override { return zk::Errc::lock_lost; }
  [[nodiscard]] bool shared() const override { return !m_write; }

private:
  std::mt19937_64 m_rng;
  bool m_write = true;
  std::unique_ptr<zk::ReadWriteLock> m_lock;
};

class SemaphoreTarget final : public RigTarget {
public:
  SemaphoreTarget(zk::Session& session, const std::string& path, const TargetReports& reports) {
    zk::SemaphoreOptions o;
    o.on_lost = [lost = reports.lost](const zk::Error& e) { lost(zk::to_string(e.errc())); };
    o.on_uncertain = reports.uncertain;
    m_pool = std::make_unique<zk::Semaphore>(session, path, semaphore_max, o);
  }
  bool acquire_for(std::chrono::milliseconds t) override {
    m_lease = m_pool->try_acquire_for(t);
    return m_lease.has_value();
  }
  std::int64_t token() override { return lease().fencing_token(); }
  zk::MultiResult fenced(std::vector<zk::Op> ops, std::chrono::milliseconds d) override {
    return lease().fenced(std::move(ops), d);
  }
  bool holds() override { return m_lease && m_lease->held(); }
  bool uncertain() override { return m_lease && m_lease->uncertain(); }
  void release() override { m_lease.reset(); }
  [[nodiscard]] zk::Errc gone() const override { return zk::Errc::lock_lost; }
  [[nodiscard]] bool shared() const override { return true; }

private:
  zk::Lease& lease() {
    if (!m_lease) throw zk::Error(zk::Errc::lock_not_held, "no lease");
    return *m_lease;
  }
  std::unique_ptr<zk::Semaphore> m_pool;
  std::optional<zk::Lease> m_lease;
};

inline std::unique_ptr<RigTarget> make_target(Recipe r, zk::Session& s, const std::string& path,
                                              const TargetReports& reports, std::uint64_t seed) {
  switch (r) {
  case Recipe::election:
    return std::make_unique<LatchTarget>(s, path, reports);
  case Recipe::rwlock:
    return std::make_unique<RwTarget>(s, path, reports, seed);
  case Recipe::semaphore:
    return std::make_unique<SemaphoreTarget>(s, path, reports);
  case Recipe::lock:
    break;
  }
  return std::make_unique<LockTarget>(s, path, reports);
}

/// Where a recipe on `path` keeps its ephemeral nodes (a semaphore: its leases and its lock).
inline std::vector<std::string> node_dirs(Recipe r, const std::string& path) {
  if (r == Recipe::semaphore) return {path + "/leases", path + "/locks"};
  return {path};
}

} // namespace zkt::matrix
