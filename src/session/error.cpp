// zk::Errc, its categories, and the proof that its negative values are the C client's codes.
#include <zkrecipes/error.hpp>

#include <zookeeper/zookeeper.h>

namespace zk {
namespace {

#define ZKR_SAME_CODE(ours, theirs)                                                                \
  static_assert(static_cast<int>(Errc::ours) == (theirs), "zk::Errc::" #ours " must "              \
                                                          "equal " #theirs)
ZKR_SAME_CODE(ok, ZOK);
ZKR_SAME_CODE(system_error, ZSYSTEMERROR);
ZKR_SAME_CODE(runtime_inconsistency, ZRUNTIMEINCONSISTENCY);
ZKR_SAME_CODE(data_inconsistency, ZDATAINCONSISTENCY);
ZKR_SAME_CODE(connection_loss, ZCONNECTIONLOSS);
ZKR_SAME_CODE(marshalling_error, ZMARSHALLINGERROR);
ZKR_SAME_CODE(unimplemented, ZUNIMPLEMENTED);
ZKR_SAME_CODE(operation_timeout, ZOPERATIONTIMEOUT);
ZKR_SAME_CODE(bad_arguments, ZBADARGUMENTS);
ZKR_SAME_CODE(invalid_state, ZINVALIDSTATE);
ZKR_SAME_CODE(new_config_no_quorum, ZNEWCONFIGNOQUORUM);
ZKR_SAME_CODE(reconfig_in_progress, ZRECONFIGINPROGRESS);
ZKR_SAME_CODE(ssl_connection_error, ZSSLCONNECTIONERROR);
ZKR_SAME_CODE(api_error, ZAPIERROR);
ZKR_SAME_CODE(no_node, ZNONODE);
ZKR_SAME_CODE(no_auth, ZNOAUTH);
ZKR_SAME_CODE(bad_version, ZBADVERSION);
ZKR_SAME_CODE(no_children_for_ephemerals, ZNOCHILDRENFOREPHEMERALS);
ZKR_SAME_CODE(node_exists, ZNODEEXISTS);
ZKR_SAME_CODE(not_empty, ZNOTEMPTY);
ZKR_SAME_CODE(session_expired, ZSESSIONEXPIRED);
ZKR_SAME_CODE(invalid_callback, ZINVALIDCALLBACK);
ZKR_SAME_CODE(invalid_acl, ZINVALIDACL);
ZKR_SAME_CODE(auth_failed, ZAUTHFAILED);
ZKR_SAME_CODE(closing, ZCLOSING);
ZKR_SAME_CODE(nothing, ZNOTHING);
ZKR_SAME_CODE(session_moved, ZSESSIONMOVED);
ZKR_SAME_CODE(not_readonly, ZNOTREADONLY);
ZKR_SAME_CODE(ephemeral_on_local_session, ZEPHEMERALONLOCALSESSION);
ZKR_SAME_CODE(no_watcher, ZNOWATCHER);
ZKR_SAME_CODE(reconfig_disabled, ZRECONFIGDISABLED);
ZKR_SAME_CODE(session_closed_require_sasl_auth, ZSESSIONCLOSEDREQUIRESASLAUTH);
#undef ZKR_SAME_CODE

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
    return zerror(value); // the C client's own text
  }
  std::error_condition default_error_condition(int value) const noexcept override {
    switch (static_cast<Errc>(value)) {
    case Errc::connection_loss:
    case Errc::operation_timeout:
    case Errc::deadline_exceeded:
    case Errc::session_moved:
      return Condition::retryable;
    case Errc::bad_version:
    case Errc::node_exists:
      return Condition::conflict;
    case Errc::session_expired:
    case Errc::session_lost:
    case Errc::lock_lost:
      return Condition::session_lost;
    case Errc::no_node:
    case Errc::not_empty:
    case Errc::no_children_for_ephemerals:
    case Errc::bad_data:
      return Condition::precondition;
    case Errc::invalid_argument:
    case Errc::bad_arguments:
    case Errc::session_closed:
    case Errc::wrong_thread:
    case Errc::would_deadlock:
    case Errc::lock_not_held:
    case Errc::closing:
      return Condition::usage;
    case Errc::indeterminate:
      return Condition::indeterminate;
    default:
      return {value, *this};
    }
  }
  bool equivalent(int value, const std::error_condition& cond) const noexcept override {
    if (cond.category() != condition_category()) return default_error_condition(value) == cond;
    const auto e = static_cast<Errc>(value);
    switch (static_cast<Condition>(cond.value())) {
    case Condition::indeterminate: // a write that got no answer may have been applied
      return e == Errc::indeterminate || e == Errc::connection_loss ||
             e == Errc::operation_timeout || e == Errc::deadline_exceeded;
    case Condition::timeout:
      return e == Errc::operation_timeout || e == Errc::deadline_exceeded;
    case Condition::retryable:
      return e == Errc::connection_loss || e == Errc::operation_timeout ||
             e == Errc::deadline_exceeded || e == Errc::session_moved ||
             e == Errc::retries_exhausted;
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
#undef ZKR_NAME
  }
  return "unknown";
}

} // namespace zk
