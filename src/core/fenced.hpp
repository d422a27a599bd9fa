// Guarded writes: the one way a recipe commits operations only while it holds (a lock's node, a
// leader's term): a multi that starts with a check of the holder's node, so the server refuses the
// whole write once the node is gone, whatever the writer believes.
#pragma once

#include <zkrecipes/session.hpp>

#include "core/gate.hpp"

#include <string>
#include <vector>

namespace zk::detail::core {

/// Commits `ops` atomically only while `node` exists. Throws Errc::invalid_argument for no ops, and
/// Error(`gone`, …) if the check fails (nothing was written). The results (and failed_op()) are
/// those of `ops`, without the check; a refusal of one of them is returned, not thrown.
MultiResult fenced_multi(Gate& gate, const std::string& node, std::vector<Op> ops,
                         Clock::time_point until, Errc gone);

} // namespace zk::detail::core
