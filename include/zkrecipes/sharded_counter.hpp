// zkrecipes — zk::ShardedCounter: a write-heavy count spread over K shard znodes.
//
// clang-format off
//   zk::ShardedCounter hits(session, "/app/counters/hits");  // shards /app/counters/hits/shard-0..7
//   hits.increment();
//   std::int64_t total = hits.get();
// clang-format on
//
// One znode takes one versioned write at a time, so N writers on a single DistributedCounter queue
// up behind each other. Here each add() writes ONE shard — a DistributedCounter with every
// guarantee of that class (conditional writes, lost replies proven or reported as indeterminate) —
// chosen per thread at random. A write refused because another writer got there first (nothing
// applied, nothing in doubt) moves the add to another shard at once, and the thread stays there,
// so writers soon touch different znodes; the retry policy bounds the moves (after 4 in a row it
// also waits between them). Shards take no turns and leave no contention markers: a writer that
// meets another moves on instead of queueing behind it.
//
// get() lists the shards and sums them, reading them in one pipelined round. It is NOT an atomic
// snapshot: adds that run during get() may be counted or not, each at most once. Once writers are
// quiet it is exact. Shards that do not exist yet count 0; every child of the path must be a shard
// ("shard-<n>"), anything else is Errc::bad_data (a sum silently ignoring a node would be wrong).
// Writers configured with different shard counts still sum correctly: get() sums every shard
// present.
//
// Thread safety: all methods are safe to call concurrently; they block and must not be called from
// a session callback.
#pragma once

#include <zkrecipes/distributed_counter.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace zk {

/// How many shards a ShardedCounter writes, and how each shard is written.
struct ShardedCounterOptions {
  /// Number of shard znodes this writer spreads its adds over (1..1024).
  std::size_t shards = 8;
  /// Options of each shard; initial_value must be 0 (a missing shard counts 0).
  CounterOptions counter;
};

/// A counter summed over shard znodes; see the file comment.
/// Thread safety: all methods are safe to call concurrently; they block.
class ShardedCounter {
public:
  /// Validates path and options (Errc::invalid_argument); does no I/O.
  ShardedCounter(Session& session, std::string path, ShardedCounterOptions options = {});
  ~ShardedCounter();
  /// Moves the counter; the moved-from object throws Errc::invalid_argument on use.
  ShardedCounter(ShardedCounter&&) noexcept;
  /// Moves the counter; the moved-from object throws Errc::invalid_argument on use.
  ShardedCounter& operator=(ShardedCounter&&) noexcept;
  ShardedCounter(const ShardedCounter&) = delete;
  ShardedCounter& operator=(const ShardedCounter&) = delete;

  /// Adds 1 to one shard; errors as DistributedCounter's.
  void increment(Deadline deadline = {});
  /// Subtracts 1 from one shard; errors as DistributedCounter's.
  void decrement(Deadline deadline = {});
  /// Adds `delta` to one shard (Errc::overflow if that shard's value would leave the codec's
  /// range).
  void add(std::int64_t delta, Deadline deadline = {});
  /// The sum of all shards (not an atomic snapshot; Errc::overflow if it exceeds int64).
  [[nodiscard]] std::int64_t get(Deadline deadline = {});

  /// How many shards this writer spreads its adds over (get() sums every shard present).
  [[nodiscard]] std::size_t shards() const noexcept;
  /// The parent path of the shards (empty on a moved-from object).
  [[nodiscard]] const std::string& path() const noexcept;

private:
  struct Impl;
  Impl& impl() const; // throws Errc::invalid_argument when moved from
  std::unique_ptr<Impl> m_impl;
};

} // namespace zk
