#include "core/janitor.hpp"

#include "core/retry.hpp"

namespace zk::detail::core {
namespace {

using GatePtr = std::shared_ptr<Gate>;

// True while a node owned by `owner` can still exist and be deleted by us.
bool worth_trying(const GatePtr& gate, std::int64_t owner) {
  return gate && !gate->is_closed() && gate->session_id() == owner;
}

// `what`: the node (or, for a search by name, the parent) whose deletion is tried again.
void retry_later(const GatePtr& gate, int attempt, const std::string& what,
                 std::function<void()> fn) {
  if (Observer* const observer = gate->observer()) observer->janitor_retry(what, attempt + 2);
  gate->post_at(Clock::now() + recovery_delay(attempt + 1), std::move(fn));
}

void delete_attempt(const GatePtr& gate, const std::string& node, std::int32_t version,
                    std::int64_t owner, int attempt);

// After bad_version: the node changed since we read it; delete it only if it is still ours.
void recheck_owner(const GatePtr& gate, const std::string& node, std::int64_t owner, int attempt) {
  if (!worth_trying(gate, owner)) return;
  try {
    gate->get_async(node, {}, [gate, node, owner, attempt](Result<NodeData> r) {
      if (r.ok()) {
        if (r.value().stat.ephemeral_owner == owner)
          delete_attempt(gate, node, r.value().stat.version, owner, attempt + 1);
      } else if (transient(r.error())) {
        retry_later(gate, attempt, node, [=] { recheck_owner(gate, node, owner, attempt + 1); });
      }
    });
  } catch (const Error&) { // closed meanwhile: the node went with the session
  }
}

void delete_attempt(const GatePtr& gate, const std::string& node, std::int32_t version,
                    std::int64_t owner, int attempt) {
  if (!worth_trying(gate, owner)) return;
  try {
    gate->remove_async(node, version, [gate, node, version, owner, attempt](const Result<Done>& r) {
      if (r.ok() || r.error() == Errc::no_node) return;
      if (r.error() == Errc::bad_version) return recheck_owner(gate, node, owner, attempt);
      if (transient(r.error())) {
        retry_later(gate, attempt, node,
                    [=] { delete_attempt(gate, node, version, owner, attempt + 1); });
      } else if (classify(r.error()) != ErrorClass::lost && r.error() != Errc::session_closed) {
        gate->log(LogLevel::warn, "node " + node + " could not be deleted: " + r.failure().what());
      }
    });
  } catch (const Error&) {
  }
}

void matching_attempt(const GatePtr& gate, const std::string& parent,
                      const std::function<bool(std::string_view)>& mine, std::int64_t owner,
                      int attempt) {
  if (!worth_trying(gate, owner)) return;
  try {
    gate->children_async(parent, {}, [gate, parent, mine, owner, attempt](Result<Children> r) {
      if (r.ok()) {
        for (const auto& name : r.value().names) {
          if (!mine(name)) continue;
          delete_attempt(gate, std::string(parent).append("/").append(name), any_version, owner, 0);
        }
      } else if (transient(r.error())) {
        retry_later(gate, attempt, parent,
                    [=] { matching_attempt(gate, parent, mine, owner, attempt + 1); });
      }
    });
  } catch (const Error&) {
  }
}

} // namespace

void delete_in_background(const GatePtr& gate, const std::string& node, std::int32_t version,
                          std::int64_t owner) {
  delete_attempt(gate, node, version, owner, 0);
}

void delete_matching_in_background(const GatePtr& gate, const std::string& parent,
                                   const std::function<bool(std::string_view child)>& mine,
                                   std::int64_t owner) {
  matching_attempt(gate, parent, mine, owner, 0);
}

void delete_now(const GatePtr& gate, const std::string& node, std::int32_t version,
                std::int64_t owner, Clock::time_point deadline) noexcept {
  try {
    if (!worth_trying(gate, owner)) return;
    if (Clock::now() < deadline) {
      try {
        gate->remove(node, version, deadline);
        return; // deleted, or already gone
      } catch (const Error& e) {
        if (classify(e.errc()) == ErrorClass::lost || e.errc() == Errc::session_closed) return;
      }
    }
    delete_in_background(gate, node, version, owner);
  } catch (...) { // never let cleanup throw into unlock() or a destructor
  }
}

} // namespace zk::detail::core
