// zkrecipes — zk::RetryPolicy: how a recipe retries a conflicting or interrupted operation.
//
// clang-format off
//   zk::RetryPolicy policy;                    // 100 attempts, 2..250 ms full-jitter backoff, 30 s
//   policy.max_attempts = 10;
//   policy.timeout = std::chrono::seconds(5);  // overall bound of one call, retries included
// clang-format on
//
// The backoff before retry n (n = 1 for the first retry) is drawn from
//   cap(n) = min(max_backoff, base_backoff * 2^(n-1))
//   delay  = cap(n) * (1 - jitter * u),  u uniform in [0, 1)
// so jitter = 1 is "full jitter" (uniform in (0, cap]) and jitter = 0 is plain exponential backoff.
// Full jitter is the default because N writers that collide on one znode must spread out: with a
// fixed delay they collide again on every round and throughput collapses. The library's own
// waits that no caller's policy governs (the lock's protocol steps, the janitor's deletions) use
// this same formula too.
//
// Thread safety: RetryPolicy is a value type; Backoff is not thread-safe (one per call).
#pragma once

#include <zkrecipes/session.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>

namespace zk {

/// How one call retries: how many attempts, the backoff between them, and an overall timeout
/// (see the file comment for the formula). The recipes take one in their options.
/// Thread safety: a plain value.
struct RetryPolicy {
  /// Attempts in all, the first one included (>= 1). Exhausting them is Errc::retries_exhausted.
  int max_attempts = 100;
  /// The cap of the first retry's delay (>= 0).
  std::chrono::milliseconds base_backoff{2};
  /// No delay is longer than this (>= base_backoff).
  std::chrono::milliseconds max_backoff{250};
  /// 0 = no randomness, 1 = full jitter. Must be in [0, 1].
  double jitter = 1.0;
  /// Overall bound of one call, retries and backoff included (> 0). A Deadline passed to the call
  /// replaces it.
  std::chrono::milliseconds timeout{30000};

  /// Throws Errc::invalid_argument naming the offending field.
  void validate() const;
  /// The delay before retry `retry` (1-based) for a uniform draw u in [0, 1). Pure; never negative,
  /// never above max_backoff, and no overflow for any retry number.
  [[nodiscard]] std::chrono::nanoseconds backoff(int retry, double u) const;
  /// The call's deadline: `d` if given, else now + timeout.
  [[nodiscard]] Clock::time_point deadline(const Deadline& d) const;
};

/// The retry state of one call: counts attempts and decides whether (and after how long) another
/// one may start. It does not sleep; the caller waits the returned delay in whatever way suits it.
/// Thread safety: not thread-safe; one per call, used by one thread at a time.
class Backoff {
public:
  /// Starts with a copy of `policy` and the call's `deadline`, and no attempt. Throws zk::Error
  /// with Errc::invalid_argument if the policy does not validate().
  Backoff(const RetryPolicy& policy, Clock::time_point deadline);
  /// Deterministic variant for tests.
  Backoff(const RetryPolicy& policy, Clock::time_point deadline, std::uint64_t seed);

  /// Counts one attempt (call it when an attempt starts).
  void start_attempt() noexcept { ++m_attempts; }
  /// The attempts counted so far.
  [[nodiscard]] int attempts() const noexcept { return m_attempts; }
  /// The call's deadline, as given to the constructor.
  [[nodiscard]] Clock::time_point deadline() const noexcept { return m_deadline; }
  /// True if the deadline has passed at `now`.
  [[nodiscard]] bool expired(Clock::time_point now) const noexcept { return now >= m_deadline; }
  /// After a failed attempt: the delay before the next one, or nullopt when the policy forbids
  /// another attempt (max_attempts reached, or the next attempt could not start before the
  /// deadline).
  [[nodiscard]] std::optional<std::chrono::nanoseconds> next_delay(Clock::time_point now);
  /// Whether another attempt may start at once, with no delay: one whose cause is already
  /// answered (a refused write retried on the read sent right behind it). Bounded like the others.
  [[nodiscard]] bool may_retry_now(Clock::time_point now) const noexcept {
    return m_attempts < m_policy.max_attempts && !expired(now);
  }

private:
  RetryPolicy m_policy;
  Clock::time_point m_deadline;
  int m_attempts = 0;
  int m_retries = 0;
  std::mt19937_64 m_rng;
};

} // namespace zk
