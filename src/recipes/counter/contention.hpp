// The counter's contention policy, pure: when a writer counts as contended, when it announces
// itself with a marker, when it withdraws the marker, and how long a contended win makes its next
// write wait. counter_core.cpp performs what it decides (the marker's create and delete, the read
// pipelined behind a write, the wait).
//
// Why: with a versioned compare-and-set, the last winner's cached version is always current, so it
// keeps winning while the others pay a refused write, a read and a backoff per try; closed-loop
// writers starve. A refused writer therefore creates an ephemeral-sequential child of the counter
// node (a marker). Every write reply's Stat carries the node's child count, so the winner learns
// of it without a request, and yields: its next write waits a random fraction of its own write
// latency, long enough for a refused writer's retry to arrive first. A writer that sees conflicts
// or another's marker retries a refusal at once, on the answer of a read sent right behind its
// write. Quiet for `linger`, it withdraws its marker and updates are one setData again.
#pragma once

#include <zkrecipes/session.hpp>

#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>

namespace zk::detail::counter {

/// Name prefix of a marker (ephemeral-sequential child of the counter node).
inline constexpr std::string_view marker_prefix = "zkr-contended-";

struct ContentionPolicy {
  /// How long a conflict or another's marker keeps a writer contended.
  std::chrono::nanoseconds linger = std::chrono::seconds(1);
  /// Conflicts within one call before the writer creates its marker.
  int announce_after = 1;
  /// A contended win waits U(0, yield_fraction) x its write's latency before the next write.
  double yield_fraction = 1.0;
  /// How long a turn lasts at least (turns.hpp; longer on a slow link: 8 of our writes); zero: no
  /// turns.
  std::chrono::nanoseconds turn = std::chrono::milliseconds(8);
  /// The longest wait for a turn. One that does not come by then (its holder crashed, paused or
  /// was cut off, and its node stays until its session expires) is not waited for again for
  /// `linger`: writes go without turns meanwhile, as when nobody takes them.
  std::chrono::nanoseconds turn_wait = std::chrono::milliseconds(500);
  /// A write refused because another wrote first ends the update with Errc::retries_exhausted
  /// (nothing applied, nothing in doubt) instead of a retry on this node.
  bool move_on_conflict = false;

  /// A ShardedCounter's shards: a writer that meets another moves its add to another shard instead
  /// of retrying or queueing on this one, so it neither marks the node, nor reads behind its
  /// writes, nor yields, nor takes turns (each of which would keep the other writer slow after it
  /// left).
  static ContentionPolicy spreading() noexcept {
    ContentionPolicy p;
    p.linger = std::chrono::nanoseconds::zero();
    p.announce_after = std::numeric_limits<int>::max();
    p.yield_fraction = 0.0;
    p.turn = std::chrono::nanoseconds::zero();
    p.move_on_conflict = true;
    return p;
  }
};

class Contention {
public:
  explicit Contention(ContentionPolicy policy = {}) : m_policy(policy) {}

  [[nodiscard]] const ContentionPolicy& policy() const noexcept { return m_policy; }

  /// A write of ours was refused (bad_version, node_exists), or a read behind our won write
  /// showed another writer's right after it.
  void conflict(Clock::time_point now) noexcept { m_last_seen = now; }
  /// The node has `n` children, `ours` of them ours: any other is a competitor's marker or turn
  /// node (the counter node has no other children).
  void children(Clock::time_point now, std::int32_t n, int ours) noexcept {
    if (n > ours) m_last_seen = now;
  }
  /// Whether writes carry a read behind them, wins outside a turn yield, and writes wait for a
  /// turn.
  [[nodiscard]] bool contended(Clock::time_point now) const noexcept {
    return m_last_seen && now - *m_last_seen < m_policy.linger;
  }
  /// When the competition goes quiet unless seen again: the last sign of it plus linger.
  [[nodiscard]] std::optional<Clock::time_point> quiet_at() const noexcept {
    if (!m_last_seen) return std::nullopt;
    return *m_last_seen + m_policy.linger;
  }
  /// After `conflicts` conflicts in one call: whether to create our marker now.
  [[nodiscard]] bool announce(int conflicts, bool have_marker) const noexcept {
    return !have_marker && conflicts >= m_policy.announce_after;
  }
  /// Whether to delete our marker: the competition has been quiet for `linger`.
  [[nodiscard]] bool withdraw(Clock::time_point now, bool have_marker) const noexcept {
    return have_marker && !contended(now);
  }
  /// The wait before our next write after a win that took `latency`; `u` is uniform in [0, 1).
  [[nodiscard]] std::chrono::nanoseconds
  yield(Clock::time_point now, std::chrono::nanoseconds latency, double u) const noexcept {
    if (!contended(now) || latency.count() <= 0) return std::chrono::nanoseconds{0};
    const double wait = static_cast<double>(latency.count()) * m_policy.yield_fraction * u;
    return std::chrono::nanoseconds{static_cast<std::int64_t>(wait)};
  }

private:
  ContentionPolicy m_policy;
  std::optional<Clock::time_point> m_last_seen;
};

} // namespace zk::detail::counter
