// zk::DistributedLock: the exclusive policy (lock_protocol.hpp) on core's queue engine. Each object
// is a Hold on the engine of its (session, path); see src/core/queue_engine.hpp for the protocol.
#include <zkrecipes/distributed_lock.hpp>

#include "core/gate.hpp"
#include "core/hold_access.hpp"
#include "recipes/lock/contenders.hpp"
#include "recipes/lock/lock_protocol.hpp"

#include <utility>

namespace zk {
namespace {

using detail::core::Hold;

Hold& handle_of(const std::unique_ptr<Hold>& h) {
  if (!h) throw Error(Errc::invalid_argument, "use of a moved-from zk::DistributedLock");
  return *h;
}

// The user's completion, with the error as a std::error_code, run where `executor` says.
std::function<void(std::optional<Error>, LockGuard)> to_handler(DistributedLock::LockHandler done,
                                                                Executor executor) {
  if (!done) throw Error(Errc::invalid_argument, "async_lock without a completion");
  return [done = std::move(done), executor = std::move(executor)](std::optional<Error> e,
                                                                  LockGuard guard) {
    const std::error_code ec = e ? e->code() : std::error_code();
    if (!executor) return done(ec, std::move(guard));
    // std::function needs a copyable callable: the guard travels in a shared_ptr.
    auto held = std::make_shared<LockGuard>(std::move(guard));
    executor([done, ec, held] { done(ec, std::move(*held)); });
  };
}

} // namespace

DistributedLock::DistributedLock(Session& session, std::string path, LockOptions options) {
  const auto gate = detail::core::gate_of(session);
  if (gate->is_closed())
    throw Error(Errc::session_closed, "DistributedLock: the session is closed");
  validate_path(path);
  if (path == "/")
    throw Error(Errc::invalid_argument, "DistributedLock: the lock path cannot be \"/\"");
  // Our node as it will be named: the protected prefix with a guid, then a 10-digit sequence.
  const auto& policy = detail::lock::ExclusivePolicy::instance();
  gate->check_create(path + "/" + policy.node_prefix(policy.make_guid()) + "0000000000",
                     options.node_data);
  m_handle = std::make_unique<Hold>();
  auto& o = m_handle->options;
  o.node_data = std::move(options.node_data);
  o.container_parent = options.container_parent;
  o.max_local_handoffs = options.max_local_handoffs;
  o.max_local_hold = options.max_local_hold;
  o.on_lost = std::move(options.on_lost);
  o.on_uncertain = std::move(options.on_uncertain);
  m_handle->contender = detail::core::QueueEngine::for_path(gate, std::move(path), policy, o);
}

DistributedLock::~DistributedLock() {
  finish();
}

void DistributedLock::finish() noexcept {
  if (!m_handle) return;
  try {
    m_handle->contender->abandon_async(*m_handle);
  } catch (...) { // only an allocation can fail there; a destructor must not throw
  }
  detail::core::end_hold(*m_handle);
}

DistributedLock::DistributedLock(DistributedLock&& other) noexcept = default;

DistributedLock& DistributedLock::operator=(DistributedLock&& other) noexcept {
  if (this != &other) {
    finish();
    m_handle = std::move(other.m_handle);
  }
  return *this;
}

void DistributedLock::lock() {
  acquire_until(far_future);
}

void DistributedLock::lock(const CancelToken& cancel) {
  acquire_until(far_future, &cancel);
}

bool DistributedLock::try_lock() {
  auto& h = handle_of(m_handle);
  return h.contender->acquire(h, Clock::now() + h.contender->gate().operation_timeout(), true);
}

bool DistributedLock::acquire_until(Clock::time_point at, const CancelToken* cancel) {
  auto& h = handle_of(m_handle);
  // std::timed_mutex: a deadline already passed means one try without waiting.
  if (at <= Clock::now()) return try_lock();
  return h.contender->acquire(h, at, false, cancel);
}

void DistributedLock::start_async(Deadline deadline, const CancelToken* cancel,
                                  std::function<void(std::optional<Error>, LockGuard)> done) {
  auto& h = handle_of(m_handle);
  const auto at = deadline.is_default() ? far_future
                                        : deadline.resolve(h.contender->gate().operation_timeout());
  h.contender->acquire_async(
      h, at, cancel,
      [hold = &h, done = std::move(done)](std::optional<Error> e, std::uint64_t grant) {
        if (e) return done(std::move(e), LockGuard());
        done(std::nullopt, LockGuard(hold, grant));
      });
}

void DistributedLock::async_lock(Deadline deadline, const CancelToken& cancel, LockHandler done,
                                 Executor executor) {
  start_async(deadline, &cancel, to_handler(std::move(done), std::move(executor)));
}

void DistributedLock::async_lock(LockHandler done, Executor executor) {
  start_async({}, nullptr, to_handler(std::move(done), std::move(executor)));
}

std::future<LockGuard> DistributedLock::async_lock(Deadline deadline, const CancelToken& cancel) {
  auto promise = std::make_shared<std::promise<LockGuard>>();
  auto future = promise->get_future();
  start_async(deadline, &cancel, [promise](std::optional<Error> e, LockGuard guard) {
    if (e) return promise->set_exception(std::make_exception_ptr(*e));
    promise->set_value(std::move(guard));
  });
  return future;
}

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
  return m_hold != nullptr && m_hold->contender->read(*m_hold, [&](const Hold& x) {
    return x.held() && x.grants == m_grant;
  });
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
    if (x.grants != m_grant) {
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

void DistributedLock::unlock() noexcept {
  detail::core::release_quietly(m_handle.get());
}

void DistributedLock::release() {
  auto& h = handle_of(m_handle);
  h.contender->release(h, true);
}

bool DistributedLock::owns_lock() const noexcept {
  return detail::core::owns(m_handle.get());
}

bool DistributedLock::uncertain() const noexcept {
  return detail::core::is_uncertain(m_handle.get());
}

std::int64_t DistributedLock::fencing_token() const {
  return detail::core::read_held(handle_of(m_handle), "fencing_token", "",
                                 [](const Hold& x) { return x.token; });
}

std::string DistributedLock::node_path() const {
  return detail::core::read_held(handle_of(m_handle), "node_path", "",
                                 [](const Hold& x) { return x.node; });
}

MultiResult DistributedLock::fenced(std::vector<Op> ops, Deadline deadline) {
  return detail::core::fenced_on(handle_of(m_handle), std::move(ops), deadline,
                                 "DistributedLock::fenced", "");
}

const std::string& DistributedLock::path() const noexcept {
  static const std::string none;
  return m_handle ? m_handle->contender->path() : none;
}

std::vector<LockContender> DistributedLock::contenders(Session& session, std::string_view path,
                                                       Deadline deadline) {
  const auto gate = detail::core::gate_of(session);
  gate->check_blocking_call("DistributedLock::contenders");
  validate_path(path);
  return detail::lock::list_contenders(*gate, std::string(path), detail::lock::mutex_profile(),
                                       deadline.resolve(gate->operation_timeout()));
}

} // namespace zk
