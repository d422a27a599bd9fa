// Guaranteed deletion of lock nodes: a node we stop using must not outlive our interest in it, or
// it blocks every other contender until the session ends. These run on the session's callback
// thread (asynchronous calls and post_at retries), so they work from any thread, including
// callbacks, and outlive the DistributedLock that started them. They stop as soon as the node
// cannot exist any more: it is gone, the session it belonged to ended, or the session was closed.
#pragma once

#include "session/session_impl.hpp"

#include <cstdint>
#include <memory>
#include <string>

namespace zk::detail::lock {

/// Deletes `node` (a full path, owned by session `owner`), retrying with backoff after connection
/// loss. A bad_version answer re-reads the node and deletes it only if `owner` still owns it.
void delete_in_background(const std::shared_ptr<SessionImpl>& impl, std::string node,
                          std::int32_t version, std::int64_t owner);

/// Lists `lock_path` and deletes every child created with `guid` by session `owner`: the recovery
/// for a create whose reply was lost and whose outcome could not be settled before the call
/// returned.
void delete_guid_in_background(const std::shared_ptr<SessionImpl>& impl, std::string lock_path,
                               std::string guid, std::int64_t owner);

/// Deletes `node` now (blocking, until `deadline`); whatever is left undone is handed to
/// delete_in_background. Never throws.
void delete_now(const std::shared_ptr<SessionImpl>& impl, const std::string& node,
                std::int32_t version, std::int64_t owner, Clock::time_point deadline) noexcept;

/// The zk::Error inside a failed Result (Result exposes it only by throwing).
template <class T> Error error_of(Result<T>& r) {
  try {
    (void)r.value();
  } catch (const Error& e) {
    return e;
  }
  return Error(Errc::runtime_inconsistency, "error_of: the result is not an error");
}

/// Sends a warning to the session's log sink (or the default one).
void log_warning(const SessionImpl& impl, const std::string& message) noexcept;

} // namespace zk::detail::lock
