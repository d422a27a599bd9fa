// What the answer to a write says about whether it was applied: derived from zk::classify, for
// every recipe that must never apply a write twice (the counter's proof of a lost reply today).
#pragma once

#include <zkrecipes/error.hpp>

namespace zk::detail::core {

/// True if a write answered `e` was certainly not applied: the server (or the library, before
/// sending) refused it, as a conflict, for now (retry) or for good (fatal: an answer or a verdict;
/// classify puts every code of the C client's own range, known or not, in doubt). A write with no
/// answer (in_doubt), on a session that ended (lost: the reply may have gone with the connection),
/// or in flight when the session was closed (the C client answers those ZCLOSING, reported as
/// session_closed) may have been applied.
[[nodiscard]] inline bool write_refused(Errc e) noexcept {
  if (e == Errc::ok || e == Errc::session_closed) return false;
  const ErrorClass c = classify(e);
  return c == ErrorClass::retry || c == ErrorClass::conflict || c == ErrorClass::fatal;
}

} // namespace zk::detail::core
