// zkrecipes — one error model for the whole library.
//
// Every failure is a zk::Error (a std::system_error). Its code is a zk::Errc: the negative values
// are exactly the C client's Z* codes (checked at compile time in src/session/c_errors.cpp); the
// positive values are failures the library itself detects. Compare against a zk::Condition to
// decide what to do, or ask for its zk::ErrorClass, the one classification the library itself
// decides with (its recipes, their background deletions and zkr all call zk::classify):
//
// clang-format off
//   try { session.set(path, data, version); }
//   catch (const zk::Error& e) {
//     if (e.code() == zk::Condition::conflict) { /* re-read and retry */ }
//     else if (e.code() == zk::Condition::retryable) { /* back off, try again */ }
//     else throw;
//   }
// clang-format on
//
// Thread safety: all functions here are pure and may be called from any thread.
#pragma once

#include <string>
#include <system_error>
#include <type_traits>

namespace zk {

/// Error codes. Negative values equal the C client's codes; positive values are the library's own.
enum class Errc : int {
  ok = 0, ///< success
  // --- The C client's codes (zookeeper.h), same numbers. ---
  system_error = -1,          ///< a system call failed in the C client (its range: -1..-99)
  runtime_inconsistency = -2, ///< an op after the failed one of a refused multi (OpResult::error)
  data_inconsistency = -3,    ///< the C client found inconsistent data
  connection_loss = -4,       ///< the connection dropped before the reply: a write may have applied
  marshalling_error = -5,     ///< the C client could not encode or decode a message
  unimplemented = -6,         ///< the server does not implement the request
  operation_timeout = -7,     ///< an operation timed out in the C client
  bad_arguments = -8,         ///< the C client refused an argument
  invalid_state = -9,         ///< the handle cannot be used any more (reported as session_expired)
  new_config_no_quorum = -13, ///< reconfiguration: no quorum of the new configuration is in sync
  reconfig_in_progress = -14, ///< reconfiguration: another one is under way
  ssl_connection_error = -15, ///< the TLS connection failed
  api_error = -100,           ///< start of the range of the server's answers; not reported itself
  no_node = -101,             ///< the node (or a create's parent) does not exist
  no_auth = -102,             ///< the node's ACL does not grant this session the permission
  bad_version = -103,         ///< the node's version is not the one the call expected
  no_children_for_ephemerals = -108, ///< an ephemeral node may not have children
  node_exists = -110,                ///< the node already exists
  not_empty = -111,                  ///< the node has children, so it cannot be deleted
  session_expired = -112,            ///< the server expired the session
  invalid_callback = -113,           ///< the C client refused the callback
  invalid_acl = -114,                ///< the server refused the ACL
  auth_failed = -115,                ///< the server refused the session's credentials
  closing = -116,       ///< the C client's handle is closing (reported as session_closed)
  nothing = -117,       ///< the C client had no reply to process (not an error)
  session_moved = -118, ///< the session moved to another server; this request was ignored
  not_readonly = -119,  ///< a write sent to a read-only server
  ephemeral_on_local_session = -120,       ///< a local session may not create ephemeral nodes
  no_watcher = -121,                       ///< no such watch to remove
  reconfig_disabled = -123,                ///< reconfiguration is disabled on the server
  session_closed_require_sasl_auth = -124, ///< closed: the server requires authentication
  throttled = -127, ///< the server throttled the request and did not run it: retry
  // --- Failures the library detects itself. ---
  invalid_argument = 1,  ///< a value was refused before anything was sent (path, size, timeout…)
  session_closed = 2,    ///< the zk::Session was closed (or is closing)
  wrong_thread = 3,      ///< a blocking call from the library's callback thread (it would deadlock)
  deadline_exceeded = 4, ///< the call's deadline passed before the server answered
  indeterminate = 5,     ///< a write may or may not have been applied, and it could not be proven
  session_lost = 6,      ///< the session expired, or no reply came within its timeout (local timer)
  lock_not_held = 7,     ///< unlock or a fenced write without holding the lock
  would_deadlock = 8,    ///< the calling thread already holds this lock object
  bad_data = 9,          ///< a znode holds bytes the recipe cannot decode (nothing was overwritten)
  overflow = 10,         ///< the result does not fit the encoding (never wraps silently)
  retries_exhausted = 11, ///< the retry policy's attempts or deadline ran out
  lock_lost = 12,         ///< the lock was held and is not any more
  cancelled = 13,         ///< the call was cancelled through its zk::CancelToken
  not_leader = 14,   ///< a term's token or a fenced write without leadership (nothing was written)
  foreign_node = 15, ///< a child of a recipe's path is of another protocol (profiles never mix)
};

/// What an error means for the operation that got it. Every Errc has exactly one class.
enum class ErrorClass : int {
  retry = 1,    ///< refused for now, nothing applied: the same call may succeed later
  conflict = 2, ///< someone else changed the node first (bad version, node exists): re-read
  in_doubt = 3, ///< no answer (connection loss, timeouts) or unproven: a write may have applied
  lost = 4,     ///< the session, and with it our ephemeral nodes, watches and holds, is gone
  fatal = 5,    ///< retrying cannot help: usage, permissions, absent nodes, bad data, exhaustion
};
/// The class of `e` (ok is fatal: there is nothing to retry).
[[nodiscard]] ErrorClass classify(Errc e) noexcept;
/// "retry", "conflict", "in_doubt", "lost" or "fatal".
const char* to_string(ErrorClass c) noexcept;

/// What a caller should do about an error; compare with `e.code() == zk::Condition::retryable`.
/// Derived from classify(): retryable = retry or in_doubt (but not indeterminate, the library's
/// verdict after its own retries), conflict = conflict, session_lost = lost, indeterminate =
/// in_doubt; precondition and usage split the fatal class; timeout = the two timeout codes.
enum class Condition : int {
  retryable = 1,     ///< transient: the same call may succeed later (connection loss, timeouts)
  conflict = 2,      ///< someone else changed the node first (bad version, node exists)
  session_lost = 3,  ///< the session (and its ephemeral nodes) is gone
  precondition = 4,  ///< the tree is not as the call needs it (no node, not empty, bad data)
  usage = 5,         ///< the call itself is wrong (bad argument, wrong thread, closed session)
  indeterminate = 6, ///< a write's outcome is unknown (connection loss, timeout, unproven)
  timeout = 7,       ///< a deadline or the server's operation timeout passed
};

} // namespace zk

namespace std {
/// zk::Errc converts to std::error_code: `std::error_code ec = zk::Errc::no_node;`.
template <> struct is_error_code_enum<zk::Errc> : true_type {};
/// zk::Condition compares with any std::error_code: `ec == zk::Condition::retryable`.
template <> struct is_error_condition_enum<zk::Condition> : true_type {};
} // namespace std

namespace zk {

/// The category of zk::Errc codes, named "zookeeper": the message is the library's own text or
/// the C client's, and each code maps to its zk::Condition.
const std::error_category& error_category() noexcept;
/// The category of zk::Condition values, named "zookeeper-condition".
const std::error_category& condition_category() noexcept;

/// `e` as a std::error_code of error_category().
std::error_code make_error_code(Errc e) noexcept;
/// `c` as a std::error_condition of condition_category().
std::error_condition make_error_condition(Condition c) noexcept;

/// The one exception type the library throws.
/// Thread safety: immutable once made; it may be read from any thread.
class Error : public std::system_error {
public:
  /// An error with code `code`; what() is `detail` (what failed, such as the operation and
  /// path) followed by the code's message.
  Error(Errc code, const std::string& detail);
  /// The code as a zk::Errc.
  [[nodiscard]] Errc errc() const noexcept { return static_cast<Errc>(code().value()); }
  /// What the error means for the operation: classify(errc()).
  [[nodiscard]] ErrorClass error_class() const noexcept { return classify(errc()); }
  /// The same call may succeed later (Condition::retryable).
  [[nodiscard]] bool is_retryable() const noexcept { return code() == Condition::retryable; }
  /// Someone else changed the node first (Condition::conflict).
  [[nodiscard]] bool is_conflict() const noexcept { return code() == Condition::conflict; }
  /// The session, and its ephemeral nodes, is gone (Condition::session_lost).
  [[nodiscard]] bool is_session_lost() const noexcept { return code() == Condition::session_lost; }
  /// The call itself is wrong (Condition::usage).
  [[nodiscard]] bool is_usage() const noexcept { return code() == Condition::usage; }
  /// A write's outcome is unknown (Condition::indeterminate).
  [[nodiscard]] bool is_indeterminate() const noexcept {
    return code() == Condition::indeterminate;
  }
};

/// Short name of a code, for example "no_node".
const char* to_string(Errc e) noexcept;

} // namespace zk
