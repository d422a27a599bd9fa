// The janitor: guaranteed deletion of nodes a recipe stops using. A node we no longer want must not
// outlive our interest in it, or it blocks every other contender (a lock queue, a semaphore's
// leases) until the session ends. Deletions run on the session's callback thread (asynchronous
// calls and post_at retries), so they may be started from any thread, including callbacks, and
// outlive the recipe object that started them (each pending retry keeps the gate, which is released
// when the session closes and drops its timers). They stop as soon as the node cannot exist any
// more: it is gone, the session that owned it ended, or the session was closed. Retries follow
// zk::classify (retry and in_doubt are retried, after core::recovery_retry's backoff).
#pragma once

#include "core/gate.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace zk::detail::core {

/// Deletes `node` (a full path, owned by session `owner`) in the background. A bad_version answer
/// re-reads the node and deletes it only if `owner` still owns it.
void delete_in_background(const std::shared_ptr<Gate>& gate, const std::string& node,
                          std::int32_t version, std::int64_t owner);

/// Lists `parent` and deletes every child for which `mine(child)` holds, if session `owner` still
/// exists: the recovery for a protected create whose reply was lost and whose outcome could not be
/// settled before the call returned.
void delete_matching_in_background(const std::shared_ptr<Gate>& gate, const std::string& parent,
                                   const std::function<bool(std::string_view child)>& mine,
                                   std::int64_t owner);

/// Deletes `node` now (blocking, until `deadline`); whatever is left undone is handed to
/// delete_in_background. Never throws.
void delete_now(const std::shared_ptr<Gate>& gate, const std::string& node, std::int32_t version,
                std::int64_t owner, Clock::time_point deadline) noexcept;

} // namespace zk::detail::core
