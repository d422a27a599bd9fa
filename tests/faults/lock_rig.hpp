// A lock workload for the fault matrix: N contenders, each with its own Session and
// DistributedLock on one path, lock / hold / unlock in a loop while a cell injects its fault. With
// Recipe::election the contenders are LeaderLatch participants instead (a hold is a term: lead,
// write, give up the term by leaving and joining again), with Recipe::rwlock a ReadWriteLock's
// sides (a write or a read per hold), with Recipe::semaphore a Semaphore's leases, under the same
// cells and the recipe's checker (a shared hold's segments and fenced writes are marked so).
//
// What a contender records:
//  - hold segments: the stretches during which it held the lock AND was entitled to act on it, i.e.
//    from its lock call returning (or the lock becoming certain again) to the first of: unlock,
//    on_uncertain(true), on_lost, its session being suspended or lost. A careful user stops acting
//    at those moments; the mutual-exclusion checker then demands that no two segments overlap and
//    that tokens increase (token*64 + segment number: a hold that is certain again continues with
//    the same token);
//  - fenced writes: every held stretch writes `fence_dir/w-<token>-<seq>` through lock.fenced()
//    (check of the lock node + create in one multi), so the server's own sequence numbers give the
//    order in which the fenced resource accepted tokens, including writes whose reply was lost;
//  - every call through the cell's CallLog (deadline and typed error), what the lock reported
//    (on_lost, on_uncertain) and its session's states, with CLOCK_MONOTONIC times.
//
// Thread safety: control and query methods may be called from any thread while it runs.
#pragma once

#include "matrix_support.hpp"
#include "rig_target.hpp"

#include <zkrecipes/distributed_lock.hpp>

#include <algorithm>
#include <map>
#include <set>

namespace zkt::matrix {

struct LockRigOptions {
  Recipe recipe = Recipe::lock; ///< the lock, or the election (LeaderLatch) on lock_path
  std::string lock_path;
  std::string fence_dir; ///< must exist
  int contenders = 3;
  Ms session_timeout{3000};
  Ms operation_timeout{2000};
  Ms try_for{1500};
  Ms hold_min{20};
  Ms hold_max{120};
  Ms idle_max{40};
  /// Connect string of each contender (missing entries: zkt::hosts()).
  std::vector<std::string> hosts;
  /// Contenders that start parked (see park()).
  std::vector<int> parked;
};

class LockRig {
public:
  struct Stamp {
    std::int64_t ns;
    std::string what; ///< an Errc name, a SessionState name, "uncertain"/"certain"
  };

  LockRig(LockRigOptions options, CallLog& calls, std::function<void(const std::string&)> log,
          std::uint64_t seed);
  ~LockRig();
  LockRig(const LockRig&) = delete;
  LockRig& operator=(const LockRig&) = delete;

  /// Connects every contender (before any fault) and starts their loops.
  void start();
  /// Ends the loops (each unlocks) and closes every session. Idempotent.
  void stop();

  /// Contender i keeps the lock, once it has it, until unpin(i); park(i, true) keeps it from
  /// contending at all.
  void pin(int i);
  void unpin(int i);
  void park(int i, bool parked);
  /// Waits until contender i holds the lock while pinned.
  bool wait_pinned_holding(int i, Ms timeout);
  /// Waits until the holds completed (by everyone, or by contender i) reach `n`.
  bool wait_holds(std::size_t n, Ms timeout);
  bool wait_holds_of(int i, std::size_t n, Ms timeout);
  [[nodiscard]] std::size_t holds() const;
  [[nodiscard]] std::size_t holds_of(int i) const;
  /// The contender holding the lock now (by its own account), or -1.
  [[nodiscard]] int holder() const;
  [[nodiscard]] int size() const { return m_options.contenders; }
  zk::Session& session(int i);
  /// What contender i drives (its lock, or its latch).
  RigTarget& target(int i);
  /// First session id of contender i.
  [[nodiscard]] std::int64_t first_session(int i) const;
  /// What the lock and the session reported to contender i.
  [[nodiscard]] std::vector<Stamp> losses(int i) const;
  [[nodiscard]] std::vector<Stamp> uncertainty(int i) const;
  [[nodiscard]] std::vector<Stamp> states(int i) const;
  /// Holds by contender i that began after `ns`.
  [[nodiscard]] std::size_t holds_of_since(int i, std::int64_t ns) const;
  /// Fencing tokens of contender i's holds, in order.
  [[nodiscard]] std::vector<std::int64_t> tokens_of(int i) const;
  /// The longest time between `from`, the starts of holds, and `to`: how long nobody acquired.
  [[nodiscard]] Ms longest_gap(std::int64_t from, std::int64_t to) const;
  /// When the first hold (by anyone) after `ns` began, or -1.
  [[nodiscard]] std::int64_t first_hold_after(std::int64_t ns) const;

  /// Contender i's session is being expired by the server (zkt::expire_session called at `from`,
  /// returned at `to`): its right to act ends at an instant in [from, to] that no client can
  /// observe, so its hold segments are cut at `from` and those beginning in [from, to] dropped.
  /// (Only the fenced writes can show whether it acted later; check() still checks those.)
  void forced_expiry(int i, std::int64_t from, std::int64_t to);
  [[nodiscard]] std::vector<HoldRecord> segments() const;
  /// Every hold whole, from its lock call returning to its unlock call (still open: ends now), not
  /// cut where its contender stopped being sure. Valid for a recipe's rule only while no session
  /// was lost: a hold's node lives at least that long.
  [[nodiscard]] std::vector<HoldRecord> whole_holds() const;
  /// The first moment after `ns` at which `k` contenders held at once (whole holds), or -1.
  [[nodiscard]] std::int64_t first_concurrent_after(std::int64_t ns, std::size_t k) const;
  /// Every contender's session, states, lock reports and holds since `ns`, and the lock path's
  /// children with their owners, one per line (for failure messages).
  [[nodiscard]] std::string describe_since(std::int64_t ns) const;
  /// EXPECTs: segments (plus `extra`, tokens as czxid) never overlap and tokens increase; the
  /// fenced resource never accepted a lower token after a higher one; every fenced write refused
  /// with lock_lost during a hold was followed (or preceded) by on_lost. Returns the numbers.
  std::string check(const std::vector<HoldRecord>& extra = {}) const;
  /// The fenced resource's exclusive writes in server order: (token, sequence); counts the shared
  /// holds' writes (not ordered) into `shared`.
  [[nodiscard]] std::vector<FencedWrite> fence(std::size_t* shared = nullptr) const;

private:
  struct Contender;
  void run(Contender& c);
  void open_segment(Contender& c, std::int64_t now);
  void close_segment(Contender& c, std::int64_t now);

  LockRigOptions m_options;
  CallLog& m_calls;
  std::function<void(const std::string&)> m_log;
  std::uint64_t m_seed;
  std::atomic<bool> m_stop{false};
  mutable std::mutex m_mutex; // every Contender's recorded state
  std::condition_variable m_cv;
  std::vector<std::unique_ptr<Contender>> m_contenders;
  std::unique_ptr<zk::Session> m_reader; // lists the fence after the run
  std::string m_name;                    // the lock path's last component, for messages
};

/// EXPECTs that `holds` keep the recipe's rule (one holder; a writer alone; at most semaphore_max
/// leases), naming `what` was checked.
void expect_recipe_rule(Recipe recipe, const std::vector<HoldRecord>& holds,
                        const std::string& what);

/// The fixture of the lock cells: LockRigs under the cell's root, their checks, then the global
/// criteria.
class LockCell : public Cell {
protected:
  /// The lock's cells run for four recipes, the same faults with each one's checker: the lock (seed
  /// slots 0-2), the leader election (10-12, LeaderLatch contenders), the read-write lock (20-22,
  /// each hold a write or a read) and the semaphore (30-32, at most semaphore_max leases).
  [[nodiscard]] static Recipe recipe() {
    switch (GetParam() / 10) {
    case 1:
      return Recipe::election;
    case 2:
      return Recipe::rwlock;
    case 3:
      return Recipe::semaphore;
    default:
      return Recipe::lock;
    }
  }
  [[nodiscard]] static const char* recipe_name() {
    switch (recipe()) {
    case Recipe::election:
      return "election";
    case Recipe::rwlock:
      return "rwlock";
    case Recipe::semaphore:
      return "semaphore";
    case Recipe::lock:
      break;
    }
    return "lock";
  }
  /// The worker mode that holds (leads, writes, holds a lease) in a process of its own: see
  /// matrix_process.cpp.
  [[nodiscard]] static std::string hold_mode() { return std::string(recipe_name()) + "-hold"; }
  /// Whether contender i's hold keeps every other contender out (not a reader's, not a lease).
  [[nodiscard]] static bool exclusive(LockRig& rig, int i) { return !rig.target(i).shared(); }
  /// Options of a rig on root()/<name>, its fenced resource root()/<name>-fence (created here).
  LockRigOptions rig_options(Ms session_timeout, const std::string& name = "lock") {
    LockRigOptions o;
    o.recipe = recipe();
    o.lock_path = root() + "/" + name;
    o.fence_dir = root() + "/" + name + "-fence";
    admin().ensure_path(o.fence_dir);
    o.session_timeout = session_timeout;
    return o;
  }
  LockRig& run(LockRigOptions o) {
    m_rigs.push_back(std::make_unique<LockRig>(
        std::move(o), calls(), [this](const std::string& s) { event(s); }, seed() + m_rigs.size()));
    m_rigs.back()->start();
    return *m_rigs.back();
  }
  /// Stops every rig, checks it (the first one with `extra` holds), then the global criteria.
  void done(const std::vector<HoldRecord>& extra = {}) {
    for (auto& rig : m_rigs)
      rig->stop();
    for (std::size_t i = 0; i < m_rigs.size(); ++i)
      measure(m_rigs[i]->check(i == 0 ? extra : std::vector<HoldRecord>{}));
    m_rigs.clear();
    finish();
  }
  /// EXPECTs that every contender completes `n` holds that began after `since`.
  void expect_progress_since(LockRig& rig, std::int64_t since, std::size_t n, Ms timeout) {
    const auto deadline = Clock::now() + timeout;
    for (int i = 0; i < rig.size(); ++i)
      EXPECT_TRUE(wait_until([&] { return rig.holds_of_since(i, since) >= n; },
                             std::chrono::duration_cast<Ms>(deadline - Clock::now())))
          << "contender " << i << " did not get the lock again after the fault";
  }
  /// EXPECTs that within `within` every child of the recipe's node directories on `lock_path`
  /// belongs to a current session of one of the rig's contenders, one child per session and
  /// directory at most: no orphan node.
  void expect_no_orphans(LockRig& rig, const std::string& lock_path, Ms within = Ms(10000)) {
    std::string why;
    const bool ok = wait_until(
        [&] {
          try {
            std::set<std::int64_t> live;
            for (int i = 0; i < rig.size(); ++i)
              live.insert(rig.session(i).session_id());
            for (const auto& dir : node_dirs(recipe(), lock_path)) {
              admin().sync(dir);
              const auto kids = admin().children(dir);
              std::set<std::int64_t> seen;
              for (const auto& k : kids ? kids->names : std::vector<std::string>{}) {
                const auto node = admin().get(dir + "/" + k);
                if (!node) continue;
                const auto owner = node->stat.ephemeral_owner;
                if (live.count(owner) == 0) {
                  why = dir + "/" + k + ": its session " + std::to_string(owner) +
                        " is no contender's";
                  return false;
                }
                if (!seen.insert(owner).second) {
                  why = dir + "/" + k + ": a second node of session " + std::to_string(owner);
                  return false;
                }
              }
            }
            return true;
          } catch (const zk::Error& e) {
            why = e.what();
            return false;
          }
        },
        within);
    EXPECT_TRUE(ok) << "orphan lock node: " << why;
  }
  /// With no loss and no new session anywhere, every hold kept the recipe's rule for its whole
  /// length, through the stretches its contender was unsure (a reader's node kept writers out, a
  /// lease counted): a suspension that the session survives costs nothing.
  void expect_whole_holds_keep_the_rule(LockRig& rig) {
    for (int i = 0; i < rig.size(); ++i)
      if (!rig.losses(i).empty() || rig.session(i).session_id() != rig.first_session(i)) return;
    expect_recipe_rule(recipe(), rig.whole_holds(), "whole holds");
  }
  /// When the hold of a worker that is gone (stopped, killed) was given up, seen from a rig of
  /// other contenders, after `ns`: the first hold after it (the worker held the lock, the write
  /// side, the term), or for the semaphore the first moment every rig contender holds a lease at
  /// once, which the worker's lease would forbid (the rig has semaphore_max contenders).
  std::int64_t freed_after(LockRig& rig, std::int64_t ns) {
    if (recipe() != Recipe::semaphore) return rig.first_hold_after(ns);
    return rig.first_concurrent_after(ns, static_cast<std::size_t>(rig.size()));
  }
  /// A contender on a follower: the holder if `holder` and there is one, else any (seeded), or -1.
  int contender_on_follower(LockRig& rig, int leader, bool holder) {
    std::vector<int> on;
    for (int i = 0; i < rig.size(); ++i) {
      const int n = server_of(rig.session(i));
      if (n != 0 && n != leader) on.push_back(i);
    }
    const int h = rig.holder();
    if (holder && std::find(on.begin(), on.end(), h) != on.end()) return h;
    return on.empty() ? -1 : on[rng()() % on.size()];
  }

  void stop_clients() override { m_rigs.clear(); }

private:
  std::vector<std::unique_ptr<LockRig>> m_rigs;
};

/// "s0".."s2" for the seed slots of every recipe.
inline std::string zkr_slot_name(const ::testing::TestParamInfo<int>& p) {
  return "s" + std::to_string(p.param % 10);
}

#define ZKR_LOCK_CELL(Name, Id, Fault, Criteria)                                                   \
  class Name : public LockCell {                                                                   \
  protected:                                                                                       \
    CellInfo info() const override { return {Id, recipe_name(), Fault, Criteria}; }                \
  };                                                                                               \
  ZKR_MATRIX_SEEDS(Name);                                                                          \
  INSTANTIATE_TEST_SUITE_P(Election, Name, ::testing::Values(10, 11, 12), zkr_slot_name);          \
  INSTANTIATE_TEST_SUITE_P(RwLock, Name, ::testing::Values(20, 21, 22), zkr_slot_name);            \
  INSTANTIATE_TEST_SUITE_P(Semaphore, Name, ::testing::Values(30, 31, 32), zkr_slot_name)

} // namespace zkt::matrix
