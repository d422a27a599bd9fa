// Core's own use of zk::RetryPolicy (include/zkrecipes/retry.hpp, implemented in retry.cpp): the
// policy of the waits nobody's call owns, so that every backoff in the library is the same formula.
#pragma once

#include <zkrecipes/retry.hpp>

namespace zk::detail::core {

/// Trouble that passes with time, whatever became of the session: retry or in_doubt.
[[nodiscard]] bool transient(Errc e) noexcept;

/// Whether an operation that failed with `e` may succeed if tried again after a pause: transient
/// trouble (retry, in_doubt), or an expired session, which the session renews (lost). For reads and
/// for protocol steps that prove their writes (a protected create); conflicts and fatal errors are
/// the caller's to handle.
[[nodiscard]] bool worth_retrying(Errc e) noexcept;

/// The pause before trying again after transient trouble (zk::classify says retry or in_doubt, or
/// the session is being renewed) where no caller's RetryPolicy applies: the lock's protocol steps
/// and the janitor's deletions. 25 ms doubling to 1 s, half jitter; the attempts are bounded by
/// the caller's deadline or by the node's existence, not by a count.
const RetryPolicy& recovery_retry() noexcept;

/// recovery_retry().backoff(retry, u) with a fresh uniform draw u.
std::chrono::nanoseconds recovery_delay(int retry);

} // namespace zk::detail::core
