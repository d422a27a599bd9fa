#include "lock/janitor.hpp"

#include "lock/lock_protocol.hpp"
#include "session/log_router.hpp"

#include <algorithm>

namespace zk::detail::lock {
namespace {

using std::chrono::milliseconds;

milliseconds backoff(unsigned attempt) {
  return std::min(milliseconds(std::int64_t{50} << std::min(attempt, 5U)), milliseconds(1000));
}

// True while a node owned by `owner` can still exist and be deleted by us.
bool worth_trying(const std::shared_ptr<SessionImpl>& impl, std::int64_t owner) {
  return impl && !impl->is_closed() && impl->session_id() == owner;
}

bool transient(Errc e) {
  return e == Errc::connection_loss || e == Errc::operation_timeout || e == Errc::session_moved;
}

void retry_later(const std::shared_ptr<SessionImpl>& impl, unsigned attempt,
                 std::function<void()> fn) {
  impl->post_at(Clock::now() + backoff(attempt), std::move(fn));
}

void delete_attempt(std::weak_ptr<SessionImpl> weak, std::string node, std::int32_t version,
                    std::int64_t owner, unsigned attempt);

// After bad_version: the node changed since we read it; delete it only if it is still ours.
void recheck_owner(std::weak_ptr<SessionImpl> weak, std::string node, std::int64_t owner,
                   unsigned attempt) {
  auto impl = weak.lock();
  if (!worth_trying(impl, owner)) return;
  try {
    impl->get_async(node,
                    [weak, node, owner, attempt](Result<NodeData> r) {
                      if (r.ok()) {
                        if (r.value().stat.ephemeral_owner == owner)
                          delete_attempt(weak, node, r.value().stat.version, owner, attempt + 1);
                      } else if (transient(r.error())) {
                        if (auto i = weak.lock())
                          retry_later(i, attempt,
                                      [=] { recheck_owner(weak, node, owner, attempt + 1); });
                      }
                    },
                    {});
  } catch (const Error&) { // closed meanwhile: the node went with the session
  }
}

void delete_attempt(std::weak_ptr<SessionImpl> weak, std::string node, std::int32_t version,
                    std::int64_t owner, unsigned attempt) {
  auto impl = weak.lock();
  if (!worth_trying(impl, owner)) return;
  try {
    impl->remove_async(node, version, [weak, node, version, owner, attempt](Result<Done> r) {
      if (r.ok() || r.error() == Errc::no_node) return;
      if (r.error() == Errc::bad_version) return recheck_owner(weak, node, owner, attempt);
      auto i = weak.lock();
      if (!i) return;
      if (transient(r.error())) {
        retry_later(i, attempt, [=] { delete_attempt(weak, node, version, owner, attempt + 1); });
      } else if (r.error() != Errc::session_expired && r.error() != Errc::session_closed) {
        log_warning(*i, "lock node " + node + " could not be deleted: " + error_of(r).what());
      }
    });
  } catch (const Error&) {
  }
}

void guid_attempt(std::weak_ptr<SessionImpl> weak, std::string lock_path, std::string guid,
                  std::int64_t owner, unsigned attempt) {
  auto impl = weak.lock();
  if (!worth_trying(impl, owner)) return;
  try {
    impl->children_async(
        lock_path,
        [weak, lock_path, guid, owner, attempt](Result<Children> r) {
          if (r.ok()) {
            for (const auto& name : r.value().names)
              if (has_guid(name, guid))
                delete_attempt(weak, lock_path + "/" + name, any_version, owner, 0);
          } else if (transient(r.error())) {
            if (auto i = weak.lock())
              retry_later(i, attempt,
                          [=] { guid_attempt(weak, lock_path, guid, owner, attempt + 1); });
          }
        },
        {});
  } catch (const Error&) {
  }
}

} // namespace

void delete_in_background(const std::shared_ptr<SessionImpl>& impl, std::string node,
                          std::int32_t version, std::int64_t owner) {
  delete_attempt(impl, std::move(node), version, owner, 0);
}

void delete_guid_in_background(const std::shared_ptr<SessionImpl>& impl, std::string lock_path,
                               std::string guid, std::int64_t owner) {
  guid_attempt(impl, std::move(lock_path), std::move(guid), owner, 0);
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
        if (e.errc() == Errc::session_expired || e.errc() == Errc::session_closed) return;
      }
    }
    delete_in_background(impl, node, version, owner);
  } catch (...) { // never let cleanup throw into unlock() or a destructor
  }
}

void log_warning(const SessionImpl& impl, const std::string& message) noexcept {
  try {
    if (impl.options().log_sink)
      impl.options().log_sink(LogLevel::warn, message);
    else
      default_log_sink(LogLevel::warn, message);
  } catch (...) {
  }
}

} // namespace zk::detail::lock
