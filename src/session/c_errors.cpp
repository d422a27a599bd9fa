// The proof that zk::Errc's negative values are the C client's codes, and the C client's text for
// them (the only part of the error model that needs the C header).
#include "session/c_errors.hpp"

#include <zkrecipes/error.hpp>

#include <zookeeper/zookeeper.h>

namespace zk::detail {
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
ZKR_SAME_CODE(throttled, ZTHROTTLEDOP);
#undef ZKR_SAME_CODE

} // namespace

const char* c_client_text(int code) noexcept {
  return zerror(code);
}

} // namespace zk::detail
