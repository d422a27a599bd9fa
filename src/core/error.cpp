// The error model: zk::Errc's category, the ONE classification of every code (classify), and the
// conditions derived from it. Every retry decision in the library is made from classify(); no other
// list of codes exists. (The C client's codes and text are checked in src/session/c_errors.cpp.)
#include <zkrecipes/error.hpp>

#include "session/c_errors.hpp"

#include <optional>

namespace zk {
namespace {

// The classification table: each code's class and, where one applies, its primary condition.
struct Classified {
  ErrorClass cls = ErrorClass::fatal;
  std::optional<Condition> condition;
};

Classified classified(Errc e) noexcept {
  using C = Condition;
  switch (e) {
  // Refused for now by a server that is reconfiguring, read-only or throttling: nothing applied.
  case Errc::throttled:
  case Errc::not_readonly:
  case Errc::new_config_no_quorum:
  case Errc::reconfig_in_progress:
    return {ErrorClass::retry, C::retryable};
  case Errc::bad_version:
  case Errc::node_exists:
    return {ErrorClass::conflict, C::conflict};
  // No answer: the request may have reached the server and been applied.
  case Errc::connection_loss:
  case Errc::operation_timeout:
  case Errc::deadline_exceeded:
  // The session moved to another server while the request was under way: its fate on the old one
  // is not known to us.
  case Errc::session_moved:
    return {ErrorClass::in_doubt, C::retryable};
  // The library's final verdict after its own retries: retrying the call could apply it twice.
  case Errc::indeterminate:
    return {ErrorClass::in_doubt, C::indeterminate};
  case Errc::session_expired:
  case Errc::session_lost:
  case Errc::lock_lost:
  case Errc::invalid_state: // the handle expired (the session reports it as session_expired)
    return {ErrorClass::lost, C::session_lost};
  case Errc::no_node:
  case Errc::not_empty:
  case Errc::no_children_for_ephemerals:
  case Errc::bad_data:
  case Errc::not_leader:
  case Errc::foreign_node:
    return {ErrorClass::fatal, C::precondition};
  case Errc::invalid_argument:
  case Errc::bad_arguments:
  case Errc::session_closed:
  case Errc::wrong_thread:
  case Errc::would_deadlock:
  case Errc::lock_not_held:
  case Errc::closing:
    return {ErrorClass::fatal, C::usage};
  case Errc::unimplemented: // answered by the server: it does not know the request
    return {ErrorClass::fatal, std::nullopt};
  default:
    // The C client's own range (-1..-99: system_error, marshalling, TLS, inconsistencies, and any
    // code this table does not know) says nothing about what the server did: in doubt. The rest
    // are answers (-100 and below: permissions, refusals) or the library's verdicts: fatal.
    if (static_cast<int>(e) < 0 && static_cast<int>(e) > static_cast<int>(Errc::api_error))
      return {ErrorClass::in_doubt, C::retryable};
    return {ErrorClass::fatal, std::nullopt};
  }
}

const char* library_message(Errc e) noexcept {
  switch (e) {
  case Errc::invalid_argument:
    return "invalid argument";
  case Errc::session_closed:
    return "session closed";
  case Errc::wrong_thread:
    return "blocking call on the callback thread";
  case Errc::deadline_exceeded:
    return "deadline exceeded";
  case Errc::indeterminate:
    return "outcome of the write is unknown";
  case Errc::session_lost:
    return "session lost";
  case Errc::lock_not_held:
    return "lock not held";
  case Errc::would_deadlock:
    return "this thread already holds the lock";
  case Errc::bad_data:
    return "znode data cannot be decoded";
  case Errc::overflow:
    return "value out of range";
  case Errc::retries_exhausted:
    return "retries exhausted";
  case Errc::lock_lost:
    return "lock lost";
  case Errc::cancelled:
    return "cancelled";
  case Errc::not_leader:
    return "not the leader";
  case Errc::foreign_node:
    return "a child of another protocol is in the way";
  default:
    return nullptr;
  }
}

class ErrcCategory final : public std::error_category {
public:
  const char* name() const noexcept override { return "zookeeper"; }
  std::string message(int value) const override {
    const auto e = static_cast<Errc>(value);
    if (const char* own = library_message(e)) return own;
    return detail::c_client_text(value); // the C client's own text
  }
  std::error_condition default_error_condition(int value) const noexcept override {
    if (const auto c = classified(static_cast<Errc>(value)).condition) return *c;
    return {value, *this};
  }
  bool equivalent(int value, const std::error_condition& cond) const noexcept override {
    if (cond.category() != condition_category()) return default_error_condition(value) == cond;
    const auto e = static_cast<Errc>(value);
    switch (static_cast<Condition>(cond.value())) {
    case Condition::indeterminate: // a write that got no answer may have been applied
      return classify(e) == ErrorClass::in_doubt;
    case Condition::timeout:
      return e == Errc::operation_timeout || e == Errc::deadline_exceeded;
    default:
      return default_error_condition(value) == cond;
    }
  }
};

class ConditionCategory final : public std::error_category {
public:
  const char* name() const noexcept override { return "zookeeper-condition"; }
  std::string message(int value) const override {
    switch (static_cast<Condition>(value)) {
    case Condition::retryable:
      return "retryable";
    case Condition::conflict:
      return "conflict";
    case Condition::session_lost:
      return "session lost";
    case Condition::precondition:
      return "precondition failed";
    case Condition::usage:
      return "usage error";
    case Condition::indeterminate:
      return "indeterminate outcome";
    case Condition::timeout:
      return "timeout";
    }
    return "unknown condition";
  }
};

} // namespace

ErrorClass classify(Errc e) noexcept {
  return classified(e).cls;
}

const char* to_string(ErrorClass c) noexcept {
  switch (c) {
  case ErrorClass::retry:
    return "retry";
  case ErrorClass::conflict:
    return "conflict";
  case ErrorClass::in_doubt:
    return "in_doubt";
  case ErrorClass::lost:
    return "lost";
  case ErrorClass::fatal:
    return "fatal";
  }
  return "unknown";
}

const std::error_category& error_category() noexcept {
  static const ErrcCategory category;
  return category;
}
const std::error_category& condition_category() noexcept {
  static const ConditionCategory category;
  return category;
}
std::error_code make_error_code(Errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}
std::error_condition make_error_condition(Condition c) noexcept {
  return {static_cast<int>(c), condition_category()};
}

Error::Error(Errc code, const std::string& detail)
    : std::system_error(make_error_code(code), detail) {}

const char* to_string(Errc e) noexcept {
  switch (e) {
#define ZKR_NAME(x)                                                                                \
  case Errc::x:                                                                                    \
    return #x
    ZKR_NAME(ok);
    ZKR_NAME(system_error);
    ZKR_NAME(runtime_inconsistency);
    ZKR_NAME(data_inconsistency);
    ZKR_NAME(connection_loss);
    ZKR_NAME(marshalling_error);
    ZKR_NAME(unimplemented);
    ZKR_NAME(operation_timeout);
    ZKR_NAME(bad_arguments);
    ZKR_NAME(invalid_state);
    ZKR_NAME(new_config_no_quorum);
    ZKR_NAME(reconfig_in_progress);
    ZKR_NAME(ssl_connection_error);
    ZKR_NAME(api_error);
    ZKR_NAME(no_node);
    ZKR_NAME(no_auth);
    ZKR_NAME(bad_version);
    ZKR_NAME(no_children_for_ephemerals);
    ZKR_NAME(node_exists);
    ZKR_NAME(not_empty);
    ZKR_NAME(session_expired);
    ZKR_NAME(invalid_callback);
    ZKR_NAME(invalid_acl);
    ZKR_NAME(auth_failed);
    ZKR_NAME(closing);
    ZKR_NAME(nothing);
    ZKR_NAME(session_moved);
    ZKR_NAME(not_readonly);
    ZKR_NAME(ephemeral_on_local_session);
    ZKR_NAME(no_watcher);
    ZKR_NAME(reconfig_disabled);
    ZKR_NAME(session_closed_require_sasl_auth);
    ZKR_NAME(throttled);
    ZKR_NAME(invalid_argument);
    ZKR_NAME(session_closed);
    ZKR_NAME(wrong_thread);
    ZKR_NAME(deadline_exceeded);
    ZKR_NAME(indeterminate);
    ZKR_NAME(session_lost);
    ZKR_NAME(lock_not_held);
    ZKR_NAME(would_deadlock);
    ZKR_NAME(bad_data);
    ZKR_NAME(overflow);
    ZKR_NAME(retries_exhausted);
    ZKR_NAME(lock_lost);
    ZKR_NAME(cancelled);
    ZKR_NAME(not_leader);
    ZKR_NAME(foreign_node);
#undef ZKR_NAME
  }
  return "unknown";
}

} // namespace zk
