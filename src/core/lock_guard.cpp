// zk::LockGuard and the asynchronous start of a hold (lock_guard.hpp).
#include "core/lock_guard.hpp"

#include "core/async_completion.hpp"
#include "core/hold_access.hpp"

#include <utility>

namespace zk {
namespace detail::core {
namespace {

void start(const std::shared_ptr<Hold>& h, Deadline deadline, const CancelToken* cancel,
           Decided<LockGuard> done) {
  h->contender->acquire_async(*h, async_until(deadline, h->contender->gate().operation_timeout()),
                              cancel,
                              [hold = std::weak_ptr<Hold>(h), done = std::move(done)](
                                  std::optional<Error> e, std::uint64_t grant) {
                                if (e) return done(std::move(e), LockGuard());
                                done(std::nullopt, GuardAccess::make(hold, grant));
                              });
}

} // namespace

void start_async(const std::shared_ptr<Hold>& h, Deadline deadline, const CancelToken* cancel,
                 LockHandler done, Executor executor, const char* caller) {
  start(h, deadline, cancel, to_completion(std::move(done), std::move(executor), caller));
}

std::future<LockGuard> start_async_future(const std::shared_ptr<Hold>& h, Deadline deadline,
                                          const CancelToken& cancel) {
  auto promise = std::make_shared<std::promise<LockGuard>>();
  auto future = promise->get_future();
  start(h, deadline, &cancel, to_promise(std::move(promise)));
  return future;
}

} // namespace detail::core

using detail::core::Hold;

LockGuard::~LockGuard() {
  release();
}

LockGuard::LockGuard(LockGuard&& other) noexcept
    : m_hold(std::exchange(other.m_hold, {})), m_grant(other.m_grant) {}

LockGuard& LockGuard::operator=(LockGuard&& other) noexcept {
  if (this != &other) {
    release();
    m_hold = std::exchange(other.m_hold, {});
    m_grant = other.m_grant;
  }
  return *this;
}

bool LockGuard::owns_lock() const noexcept {
  const auto h = m_hold.lock();
  return h && h->contender->read(*h, [&](const Hold& x) { return x.has_grant(m_grant); });
}

void LockGuard::release() noexcept {
  const auto h = std::exchange(m_hold, {}).lock(); // kept alive while it is used
  if (!h) return;
  try {
    h->contender->release_grant(*h, m_grant);
  } catch (...) { // the loss was reported; a release must not throw
  }
}

namespace {

// The guard's Hold, or lock_not_held: an empty guard, or its lock object is gone.
std::shared_ptr<Hold> hold_of(const std::weak_ptr<Hold>& weak, const char* what) {
  auto h = weak.lock();
  if (!h) {
    throw Error(Errc::lock_not_held, std::string("LockGuard::") + what +
                                         ": the guard holds nothing (or its lock is gone)");
  }
  return h;
}

} // namespace

std::int64_t LockGuard::fencing_token() const {
  const auto h = hold_of(m_hold, "fencing_token");
  return detail::core::read_held(*h, "fencing_token", "", [&](const Hold& x) {
    if (!x.has_grant(m_grant)) {
      throw Error(Errc::lock_lost,
                  "fencing_token: this guard's hold of " + x.contender->path() + " ended");
    }
    return x.token;
  });
}

std::string LockGuard::path() const {
  return hold_of(m_hold, "path")->contender->path();
}

} // namespace zk
