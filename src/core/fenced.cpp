#include "core/fenced.hpp"

namespace zk::detail::core {

MultiResult fenced_multi(Gate& gate, const std::string& node, std::vector<Op> ops,
                         Clock::time_point until, Errc gone) {
  if (ops.empty()) throw Error(Errc::invalid_argument, "fenced: no operations");
  ops.insert(ops.begin(), Op::check(node, any_version));
  MultiResult r = gate.multi(ops, until);
  if (!r.ok() && r.failed_op() == 0)
    throw Error(gone, "fenced: our node " + node + " is gone; nothing was written");
  if (!r.results.empty()) r.results.erase(r.results.begin());
  return r;
}

} // namespace zk::detail::core
