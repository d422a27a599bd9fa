// What a LockRig contender drives: the lock itself, or the leader election (a LeaderLatch: one
// term is one hold). Both give the rig the same five moves (wait to hold, the token, a fenced
// write, "do I still hold it", let go) and the same two reports (lost, uncertain), so every cell
// of the lock's fault matrix runs unchanged against the election, with the same checker.
#pragma once

#include <zkrecipes/distributed_lock.hpp>
#include <zkrecipes/leader.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace zkt::matrix {

/// The recipe a rig's contenders use.
enum class Recipe { lock, election };

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

inline std::unique_ptr<RigTarget> make_target(Recipe r, zk::Session& s, const std::string& path,
                                              const TargetReports& reports) {
  if (r == Recipe::election) return std::make_unique<LatchTarget>(s, path, reports);
  return std::make_unique<LockTarget>(s, path, reports);
}

} // namespace zkt::matrix
