// zk::ShardedCounter: one CounterCore per shard for writes, one pipelined round of reads for get().
#include <zkrecipes/sharded_counter.hpp>

#include "core/completion.hpp"
#include "core/gate.hpp"
#include "core/retry.hpp"
#include "recipes/counter/counter_core.hpp"

#include <random>
#include <thread>

namespace zk {

struct ShardedCounter::Impl {
  std::shared_ptr<detail::core::Gate> gate;
  std::string path;
  ShardedCounterOptions options;
  std::vector<std::unique_ptr<detail::CounterCore>> shards;

  std::size_t pick(bool rechoose);
  std::int64_t sum(Clock::time_point deadline);
  std::int64_t sum_once(Clock::time_point deadline);
};

namespace {

constexpr std::size_t max_shards = 1024;
/// Refused adds that move to another shard without a pause (then the retry policy's backoff).
constexpr int moves_at_once = 4;
constexpr std::string_view shard_prefix = "shard-";

std::string shard_name(std::size_t i) {
  return std::string(shard_prefix) + std::to_string(i);
}

bool is_shard_name(const std::string& name) {
  if (name.size() <= shard_prefix.size() || name.compare(0, shard_prefix.size(), shard_prefix) != 0)
    return false;
  for (std::size_t i = shard_prefix.size(); i < name.size(); ++i)
    if (name[i] < '0' || name[i] > '9') return false;
  return true;
}

// Each thread keeps its shard until it meets a conflict: threads of one process then spread over
// the shards, and a collision with another writer moves this thread elsewhere.
std::uint64_t& thread_slot() {
  thread_local std::uint64_t slot = std::random_device{}();
  return slot;
}

} // namespace

std::size_t ShardedCounter::Impl::pick(bool rechoose) {
  std::uint64_t& slot = thread_slot();
  if (rechoose) {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    slot = rng();
  }
  return static_cast<std::size_t>(slot % shards.size());
}

std::int64_t ShardedCounter::Impl::sum_once(Clock::time_point deadline) {
  const auto kids = gate->children(path, deadline);
  if (!kids) return 0;
  for (const auto& name : kids->names) {
    if (!is_shard_name(name)) {
      throw Error(Errc::bad_data, "sharded counter " + path + ": unexpected child \"" + name +
                                      "\" (only shard-<n> nodes may live here)");
    }
  }
  std::vector<std::string> paths;
  for (const auto& name : kids->names)
    paths.push_back(path + "/" + name); // a shard deleted meanwhile counts 0
  const auto nodes = detail::core::read_all(*gate, paths, deadline,
                                            "sharded counter " + path + ": reading the shards");
  std::int64_t total = 0;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    if (!nodes[i]) continue;
    const auto v = detail::counter::decode(options.counter.codec, nodes[i]->data, paths[i], 0);
    if (!detail::counter::add_fits(total, v.value, CounterCodec::int64_be))
      throw Error(Errc::overflow, "sharded counter " + path + ": the sum exceeds int64");
    total += v.value;
  }
  return total;
}

std::int64_t ShardedCounter::Impl::sum(Clock::time_point deadline) {
  Backoff backoff(options.counter.retry, deadline);
  for (;;) {
    try {
      const auto per_request = std::min(deadline, Clock::now() + gate->operation_timeout());
      return sum_once(per_request);
    } catch (const Error& e) {
      if (!detail::core::worth_retrying(e.errc())) throw;
      const auto delay = backoff.next_delay(Clock::now());
      if (!delay) {
        throw Error(Errc::retries_exhausted,
                    "sharded counter " + path + ": gave up reading; last error: " + e.what());
      }
      std::this_thread::sleep_for(*delay); // backoff between retries, not synchronisation
    }
  }
}

ShardedCounter::ShardedCounter(Session& session, std::string path, ShardedCounterOptions options)
    : m_impl(std::make_unique<Impl>()) {
  validate_path(path);
  if (options.shards < 1 || options.shards > max_shards) {
    throw Error(Errc::invalid_argument,
                "ShardedCounterOptions: shards must be in 1.." + std::to_string(max_shards));
  }
  if (options.counter.initial_value != 0) {
    throw Error(Errc::invalid_argument,
                "ShardedCounterOptions: counter.initial_value must be 0 (missing shards count 0)");
  }
  m_impl->gate = detail::core::gate_of(session);
  m_impl->path = std::move(path);
  m_impl->options = options;
  // A conflict on a shard moves the add to another shard (add()), where it is as good as
  // anywhere, instead of retrying behind the writer it met. (A lost reply is still proven on its
  // shard under the retry policy.)
  for (std::size_t i = 0; i < m_impl->options.shards; ++i) {
    m_impl->shards.push_back(std::make_unique<detail::CounterCore>(
        m_impl->gate, m_impl->path + "/" + shard_name(i), m_impl->options.counter,
        detail::counter::ContentionPolicy::spreading()));
  }
}

ShardedCounter::~ShardedCounter() = default;
ShardedCounter::ShardedCounter(ShardedCounter&&) noexcept = default;
ShardedCounter& ShardedCounter::operator=(ShardedCounter&&) noexcept = default;

ShardedCounter::Impl& ShardedCounter::impl() const {
  if (!m_impl) throw Error(Errc::invalid_argument, "use of a moved-from zk::ShardedCounter");
  return *m_impl;
}

void ShardedCounter::increment(Deadline deadline) {
  add(1, deadline);
}
void ShardedCounter::decrement(Deadline deadline) {
  add(-1, deadline);
}

// Refused on a shard because another writer wrote first (nothing applied, nothing in doubt), the
// add moves to another shard at once, and this thread stays there. The retry policy bounds the
// moves and the time; after the first few moves it also waits between them.
void ShardedCounter::add(std::int64_t delta, Deadline deadline) {
  Impl& i = impl();
  const RetryPolicy& policy = i.options.counter.retry;
  const auto until = policy.deadline(deadline);
  Backoff backoff(policy, until);
  for (bool moved = false;; moved = true) {
    backoff.start_attempt();
    try {
      (void)i.shards[i.pick(moved)]->add(delta, Deadline(until));
      return;
    } catch (const Error& e) {
      if (e.errc() != Errc::retries_exhausted) throw; // indeterminate, overflow, the session's
      if (backoff.may_retry_now(Clock::now()) && backoff.attempts() < moves_at_once) continue;
      const auto delay = backoff.next_delay(Clock::now());
      if (!delay) {
        throw Error(Errc::retries_exhausted,
                    "sharded counter " + i.path + ": gave up after " +
                        std::to_string(backoff.attempts()) +
                        " attempts on its shards; last error: " + e.what());
      }
      std::this_thread::sleep_for(*delay); // backoff between retries, not synchronisation
    }
  }
}

std::int64_t ShardedCounter::get(Deadline deadline) {
  Impl& i = impl();
  i.gate->check_blocking_call("ShardedCounter::get");
  return i.sum(i.options.counter.retry.deadline(deadline));
}

std::size_t ShardedCounter::shards() const noexcept {
  return m_impl ? m_impl->options.shards : 0;
}
const std::string& ShardedCounter::path() const noexcept {
  static const std::string none;
  return m_impl ? m_impl->path : none;
}

} // namespace zk
