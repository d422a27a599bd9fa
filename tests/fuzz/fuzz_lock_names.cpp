// Lock node names as other clients (and garbage) may list them: parsing, ordering across the int32
// wrap, and the decision of the contender owning one of them.
#include "fuzz_support.hpp"
#include "recipes/lock/lock_protocol.hpp"

#include <algorithm>

using namespace zk::detail;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // As a server lists them: distinct, non-empty names without '/' (anything else is garbage).
  std::vector<std::string> children;
  for (auto& c : zkfuzz::split(zkfuzz::bytes(data, size), '\n')) {
    if (c.empty() || c.find('/') != std::string::npos) continue;
    if (std::find(children.begin(), children.end(), c) == children.end()) children.push_back(c);
  }
  if (children.empty()) return 0;
  for (const auto& child : children) {
    if (const auto name = lock::parse_lock_name(child)) {
      const std::string seq = lock::format_sequence(name->sequence);
      zkfuzz::require(child.size() >= seq.size() &&
                          child.compare(child.size() - seq.size(), seq.size(), seq) == 0,
                      "a parsed name ends with its sequence as the server writes it");
      zkfuzz::require(lock::parse_sequence(seq) == name->sequence, "sequence round trip");
    }
  }
  const auto order = lock::order_children(children);
  zkfuzz::require(order.contenders.size() + order.unrecognised.size() == children.size(),
                  "ordering keeps every child");
  // The first child plays our node, named with its own guid if it has one.
  const std::string me = children.front();
  const auto parsed = lock::parse_lock_name(me);
  const std::string guid =
      parsed ? parsed->guid : std::string("00000000-0000-0000-0000-000000000000");
  const auto d = lock::decide(children, me, guid);
  if (d.kind == core::QueueDecision::Kind::wait) {
    zkfuzz::require(!d.watch.empty() && d.watch != me, "a waiter watches another node");
    zkfuzz::require(std::find(children.begin(), children.end(), d.watch) != children.end(),
                    "a waiter watches a listed child");
  }
  if (d.kind == core::QueueDecision::Kind::acquired)
    zkfuzz::require(order.unrecognised.empty(), "nothing unrecognised is ahead of a holder");
  (void)lock::find_own(children, guid);
  return 0;
}
