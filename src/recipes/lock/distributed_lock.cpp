// zk::DistributedLock: the exclusive policy (lock_protocol.hpp) on core's queue engine. Each object
// is a Hold on the engine of its (session, path); see src/core/queue_engine.hpp for the protocol.
#include <zkrecipes/distributed_lock.hpp>

#include "core/gate.hpp"
#include "core/hold_access.hpp"
#include "core/lock_guard.hpp"
#include "recipes/lock/contenders.hpp"
#include "recipes/lock/lock_protocol.hpp"

#include <utility>

namespace zk {
namespace {

using detail::core::Hold;

Hold& handle_of(const std::shared_ptr<Hold>& h) {
  if (!h) throw Error(Errc::invalid_argument, "use of a moved-from zk::DistributedLock");
  return *h;
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
  m_handle = std::make_shared<Hold>();
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

void DistributedLock::async_lock(Deadline deadline, const CancelToken& cancel, LockHandler done,
                                 Executor executor) {
  handle_of(m_handle);
  detail::core::start_async(m_handle, deadline, &cancel, std::move(done), std::move(executor),
                            "async_lock");
}

void DistributedLock::async_lock(LockHandler done, Executor executor) {
  handle_of(m_handle);
  detail::core::start_async(m_handle, {}, nullptr, std::move(done), std::move(executor),
                            "async_lock");
}

std::future<LockGuard> DistributedLock::async_lock(Deadline deadline, const CancelToken& cancel) {
  handle_of(m_handle);
  return detail::core::start_async_future(m_handle, deadline, cancel);
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
