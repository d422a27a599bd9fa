#include "recipes/lock/contenders.hpp"

#include "core/completion.hpp"

namespace zk::detail::lock {

std::vector<LockContender> list_contenders(core::Gate& gate, const std::string& path,
                                           const Profile& profile, Clock::time_point until) {
  const auto kids = gate.children(path, until);
  if (!kids) return {};
  const auto order = order_children(kids->names, profile);
  std::vector<LockContender> out;
  for (const auto& name : order.unrecognised)
    out.push_back(LockContender{name, {}, std::nullopt});
  for (const auto& c : order.contenders)
    out.push_back(LockContender{c.name, {}, c.sequence});

  std::vector<std::string> paths;
  paths.reserve(out.size());
  for (const auto& c : out)
    paths.push_back(path + "/" + c.name);
  const auto data = core::read_all(gate, paths, until, "contenders " + path);
  std::vector<LockContender> present;
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (!data[i]) continue; // deleted meanwhile
    out[i].data = data[i]->data;
    out[i].czxid = data[i]->stat.czxid;
    out[i].ephemeral_owner = data[i]->stat.ephemeral_owner;
    present.push_back(std::move(out[i]));
  }
  // The head holds the lock only if nothing unrecognised blocks it.
  if (!present.empty() && order.unrecognised.empty()) present.front().holder = true;
  return present;
}

} // namespace zk::detail::lock
