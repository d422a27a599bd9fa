#include "core/janitor.hpp"

#include "core/retry.hpp"

namespace zk::detail::core {
namespace {

// True while a node owned by `owner` can still exist and be deleted by us.
bool worth_trying(const std::shared_ptr<SessionImpl>& impl, std::int64_t owner) {
  return impl && !impl->is_closed() && impl->session_id() == owner;
}

bool transient(Errc e) {
  const ErrorClass c = classify(e);
  return c == ErrorClass::retry || c == ErrorClass::in_doubt;
}

void retry_later(const std::shared_ptr<SessionImpl>& impl, int attempt, std::function<void()> fn) {
  impl->post_at(Clock::now() + recovery_delay(attempt + 1), std::move(fn));
}

void delete_attempt(const std::weak_ptr<SessionImpl>& weak, const std::string& node,
                    std::int32_t version, std::int64_t owner, int attempt);

// After bad_version: the node changed since we read it; delete it only if it is still ours.
void recheck_owner(const std::weak_ptr<SessionImpl>& weak, const std::string& node,
                   std::int64_t owner, int attempt) {
  auto impl = weak.lock();
  if (!worth_trying(impl, owner)) return;
  try {
    impl->get_async(node,
                    [weak, node, owner, attempt](Result<NodeData> r) {
                      if (r.ok()) {
                        if (r.value().stat.ephemeral_owner == owner)
                          delete_attempt(weak, node, r.value().stat.version, owner, attempt + 1);
                      } else if (transient(r.error())) {
                        if (auto i = weak.lock()) {
                          retry_later(i, attempt,
                                      [=] { recheck_owner(weak, node, owner, attempt + 1); });
                        }
                      }
                    },
                    {});
  } catch (const Error&) { // closed meanwhile: the node went with the session
  }
}

void delete_attempt(const std::weak_ptr<SessionImpl>& weak, const std::string& node,
                    std::int32_t version, std::int64_t owner, int attempt) {
  auto impl = weak.lock();
  if (!worth_trying(impl, owner)) return;
  try {
    impl->remove_async(node, version, [weak, node, version, owner, attempt](const Result<Done>& r) {
      if (r.ok() || r.error() == Errc::no_node) return;
      if (r.error() == Errc::bad_version) return recheck_owner(weak, node, owner, attempt);
      auto i = weak.lock();
      if (!i) return;
      if (transient(r.error())) {
        retry_later(i, attempt, [=] { delete_attempt(weak, node, version, owner, attempt + 1); });
      } else if (classify(r.error()) != ErrorClass::lost && r.error() != Errc::session_closed) {
        i->log(LogLevel::warn, "node " + node + " could not be deleted: " + r.failure().what());
      }
    });
  } catch (const Error&) {
  }
}

void matching_attempt(const std::weak_ptr<SessionImpl>& weak, const std::string& parent,
                      const std::function<bool(std::string_view)>& mine, std::int64_t owner,
                      int attempt) {
  auto impl = weak.lock();
  if (!worth_trying(impl, owner)) return;
  try {
    impl->children_async(parent,
                         [weak, parent, mine, owner, attempt](Result<Children> r) {
                           if (r.ok()) {
                             for (const auto& name : r.value().names) {
                               if (!mine(name)) continue;
                               delete_attempt(weak, std::string(parent).append("/").append(name),
                                              any_version, owner, 0);
                             }
                           } else if (transient(r.error())) {
                             if (auto i = weak.lock()) {
                               retry_later(i, attempt, [=] {
                                 matching_attempt(weak, parent, mine, owner, attempt + 1);
                               });
                             }
                           }
                         },
                         {});
  } catch (const Error&) {
  }
}

} // namespace

void delete_in_background(const std::shared_ptr<SessionImpl>& impl, const std::string& node,
                          std::int32_t version, std::int64_t owner) {
  delete_attempt(impl, node, version, owner, 0);
}

void delete_matching_in_background(const std::shared_ptr<SessionImpl>& impl,
                                   const std::string& parent,
                                   const std::function<bool(std::string_view child)>& mine,
                                   std::int64_t owner) {
  matching_attempt(impl, parent, mine, owner, 0);
}

void delete_now(const std::shared_ptr<SessionImpl>& impl, const std::string& node,
                std::int32_t version, std::int64_t owner, Clock::time_point deadline) noexcept {
  try {
    if (!worth_trying(impl, owner)) return;
    if (Clock::now() < deadline) {
      try {
        impl->remove(node, version, deadline);
        return; // deleted, or already gone
      } catch (const Error& e) {
        if (classify(e.errc()) == ErrorClass::lost || e.errc() == Errc::session_closed) return;
      }
    }
    delete_in_background(impl, node, version, owner);
  } catch (...) { // never let cleanup throw into unlock() or a destructor
  }
}

} // namespace zk::detail::core
