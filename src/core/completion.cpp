#include "core/completion.hpp"

namespace zk::detail::core {

std::vector<std::optional<NodeData>> read_all(Gate& gate, const std::vector<std::string>& paths,
                                              Clock::time_point until, const std::string& what) {
  std::vector<std::shared_ptr<Completion<NodeData>>> replies;
  replies.reserve(paths.size());
  for (const auto& path : paths) { // all requests go out before the first answer is awaited
    replies.push_back(Completion<NodeData>::make());
    gate.get_async(path, {}, replies.back()->callback());
  }
  std::vector<std::optional<NodeData>> out(paths.size());
  for (std::size_t i = 0; i < replies.size(); ++i) {
    if (!replies[i]->wait_until(until)) throw Error(Errc::deadline_exceeded, what);
    auto& r = replies[i]->result();
    if (r.ok()) {
      out[i] = std::move(r.value());
    } else if (r.error() != Errc::no_node) {
      throw r.failure();
    }
  }
  return out;
}

} // namespace zk::detail::core
