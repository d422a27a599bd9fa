// zk::LockGuard and the asynchronous start of a hold (lock_guard.hpp).
#include "core/lock_guard.hpp"

#include "core/hold_access.hpp"

#include <utility>

namespace zk {
namespace detail::core {
namespace {

using Done = std::function<void(std::optional<Error>, LockGuard)>;

void start(Hold& h, Deadline deadline, const CancelToken* cancel, Done done) {
  const auto at = deadline.is_default() ? far_future
                                        : deadline.resolve(h.contender->gate().operation_timeout());
  h.contender->acquire_async(
      h, at, cancel,
      [hold = &h, done = std::move(done)](std::optional<Error> e, std::uint64_t grant) {
        if (e) return done(std::move(e), LockGuard());
        done(std::nullopt, GuardAccess::make(hold, grant));
      });
}

} // namespace

void start_async(Hold& h, Deadline deadline, const CancelToken* cancel, LockHandler done,
                 Executor executor, const char* caller) {
  if (!done) throw Error(Errc::invalid_argument, std::string(caller) + " without a completion");
  start(h, deadline, cancel,
        [done = std::move(done), executor = std::move(executor)](std::optional<Error> e,
                                                                 LockGuard guard) {
          const std::error_code ec = e ? e->code() : std::error_code();
          if (!executor) return done(ec, std::move(guard));
          // std::function needs a copyable callable: the guard travels in a shared_ptr.
          auto held = std::make_shared<LockGuard>(std::move(guard));
          executor([done, ec, held] { done(ec, std::move(*held)); });
        });
}

std::future<LockGuard> start_async_future(Hold& h, Deadline deadline, const CancelToken& cancel) {
  auto promise = std::make_shared<std::promise<LockGuard>>();
  auto future = promise->get_future();
  start(h, deadline, &cancel, [promise](std::optional<Error> e, LockGuard guard) {
    if (e) return promise->set_exception(std::make_exception_ptr(*e));
    promise->set_value(std::move(guard));
  });
  return future;
}

} // namespace detail::core

using detail::core::Hold;

LockGuard::~LockGuard() {
  release();
}

LockGuard::LockGuard(LockGuard&& other) noexcept
    : m_hold(std::exchange(other.m_hold, nullptr)), m_grant(other.m_grant) {}

LockGuard& LockGuard::operator=(LockGuard&& other) noexcept {
  if (this != &other) {
    release();
    m_hold = std::exchange(other.m_hold, nullptr);
    m_grant = other.m_grant;
  }
  return *this;
}

bool LockGuard::owns_lock() const noexcept {
  return m_hold != nullptr &&
         m_hold->contender->read(*m_hold, [&](const Hold& x) { return x.has_grant(m_grant); });
}

void LockGuard::release() noexcept {
  auto* h = std::exchange(m_hold, nullptr);
  if (h == nullptr) return;
  try {
    h->contender->release_grant(*h, m_grant);
  } catch (...) { // the loss was reported; a release must not throw
  }
}

std::int64_t LockGuard::fencing_token() const {
  if (m_hold == nullptr)
    throw Error(Errc::lock_not_held, "LockGuard::fencing_token: the guard holds nothing");
  return detail::core::read_held(*m_hold, "fencing_token", "", [&](const Hold& x) {
    if (!x.has_grant(m_grant)) {
      throw Error(Errc::lock_lost,
                  "fencing_token: this guard's hold of " + x.contender->path() + " ended");
    }
    return x.token;
  });
}

const std::string& LockGuard::path() const {
  if (m_hold == nullptr)
    throw Error(Errc::lock_not_held, "LockGuard::path: the guard holds nothing");
  return m_hold->contender->path();
}

} // namespace zk
