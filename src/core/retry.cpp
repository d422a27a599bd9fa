// zk::RetryPolicy and zk::Backoff: pure arithmetic, shared by every recipe that retries, and
// core's own recovery policy.
#include "core/retry.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

namespace zk {
namespace {

[[noreturn]] void invalid(const std::string& what) {
  throw Error(Errc::invalid_argument, "RetryPolicy: " + what);
}

std::uint64_t random_seed() {
  std::random_device device;
  return (static_cast<std::uint64_t>(device()) << 32) ^ device();
}

} // namespace

void RetryPolicy::validate() const {
  if (max_attempts < 1)
    invalid("max_attempts must be at least 1, got " + std::to_string(max_attempts));
  if (base_backoff.count() < 0) invalid("base_backoff must not be negative");
  if (max_backoff < base_backoff) invalid("max_backoff must not be below base_backoff");
  // Written so that NaN fails too.
  if (!(jitter >= 0.0 && jitter <= 1.0)) invalid("jitter must be in [0, 1]");
  if (timeout.count() <= 0) invalid("timeout must be positive");
}

std::chrono::nanoseconds RetryPolicy::backoff(int retry, double u) const {
  using std::chrono::nanoseconds;
  if (retry < 1) return nanoseconds(0);
  const auto base = std::chrono::duration_cast<nanoseconds>(base_backoff);
  const auto top = std::chrono::duration_cast<nanoseconds>(max_backoff);
  // Double the cap until it reaches the top: at most 63 steps whatever `retry` is, and no overflow,
  // because a cap above half the top jumps straight to the top. A zero base stays zero.
  auto cap = base;
  for (int i = 1; i < retry && cap < top && cap.count() > 0; ++i)
    cap = (cap > top / 2) ? top : cap * 2;
  cap = std::min(cap, top);
  const double draw = std::clamp(u, 0.0, std::nextafter(1.0, 0.0));
  const double factor = 1.0 - std::clamp(jitter, 0.0, 1.0) * draw;
  const auto ns = static_cast<double>(cap.count()) * factor;
  return nanoseconds(static_cast<nanoseconds::rep>(std::llround(ns)));
}

Clock::time_point RetryPolicy::deadline(const Deadline& d) const {
  return d.resolve(timeout);
}

Backoff::Backoff(const RetryPolicy& policy, Clock::time_point deadline)
    : Backoff(policy, deadline, random_seed()) {}

Backoff::Backoff(const RetryPolicy& policy, Clock::time_point deadline, std::uint64_t seed)
    : m_policy(policy), m_deadline(deadline), m_rng(seed) {
  m_policy.validate();
}

std::optional<std::chrono::nanoseconds> Backoff::next_delay(Clock::time_point now) {
  if (m_attempts >= m_policy.max_attempts) return std::nullopt;
  ++m_retries;
  const double u = std::uniform_real_distribution<double>(0.0, 1.0)(m_rng);
  const auto delay = m_policy.backoff(m_retries, u);
  // An attempt that could only start at or after the deadline would fail anyway: stop now, so the
  // caller reports exhaustion by the deadline instead of after it.
  if (now + delay >= m_deadline) return std::nullopt;
  return delay;
}

namespace detail::core {

bool transient(Errc e) noexcept {
  const ErrorClass c = classify(e);
  return c == ErrorClass::retry || c == ErrorClass::in_doubt;
}

bool worth_retrying(Errc e) noexcept {
  return transient(e) || classify(e) == ErrorClass::lost;
}

const RetryPolicy& recovery_retry() noexcept {
  static const RetryPolicy policy = [] {
    RetryPolicy p;
    p.max_attempts = std::numeric_limits<int>::max();
    p.base_backoff = std::chrono::milliseconds(25);
    p.max_backoff = std::chrono::milliseconds(1000);
    p.jitter = 0.5;
    return p;
  }();
  return policy;
}

std::chrono::nanoseconds recovery_delay(int retry) {
  thread_local std::mt19937_64 rng{random_seed()};
  return recovery_retry().backoff(retry, std::uniform_real_distribution<double>(0.0, 1.0)(rng));
}

} // namespace detail::core
} // namespace zk
