// zk::DistributedLock: the public face. Each object is a LockHandle on the process-wide contender
// of its (session, path); see contender.hpp for how the work is shared.
#include <zkrecipes/distributed_lock.hpp>

#include "core/janitor.hpp"
#include "core/session_gate.hpp"
#include "recipes/lock/contender.hpp"
#include "recipes/lock/lock_protocol.hpp"

#include <condition_variable>
#include <mutex>

namespace zk {
namespace {

detail::LockHandle& handle_of(const std::unique_ptr<detail::LockHandle>& h) {
  if (!h) throw Error(Errc::invalid_argument, "use of a moved-from zk::DistributedLock");
  return *h;
}

} // namespace

DistributedLock::DistributedLock(Session& session, std::string path, LockOptions options) {
  const auto impl = detail::SessionGate::impl(session);
  if (impl->is_closed())
    throw Error(Errc::session_closed, "DistributedLock: the session is closed");
  validate_path(path);
  if (path == "/")
    throw Error(Errc::invalid_argument, "DistributedLock: the lock path cannot be \"/\"");
  if (options.node_data.size() > max_data_size)
    throw Error(Errc::invalid_argument, "DistributedLock: LockOptions::node_data is too large");
  m_handle = std::make_unique<detail::LockHandle>();
  m_handle->options = std::move(options);
  m_handle->contender = detail::LockContender::for_path(impl, std::move(path));
}

DistributedLock::~DistributedLock() {
  unlock();
}

DistributedLock::DistributedLock(DistributedLock&& other) noexcept = default;

DistributedLock& DistributedLock::operator=(DistributedLock&& other) noexcept {
  if (this != &other) {
    unlock();
    m_handle = std::move(other.m_handle);
  }
  return *this;
}

void DistributedLock::lock() {
  // "Forever", kept far from time_point::max() so that no clock arithmetic overflows.
  acquire_until(Clock::now() + std::chrono::hours(24 * 365 * 100), false);
}

bool DistributedLock::try_lock() {
  auto& h = handle_of(m_handle);
  return h.contender->acquire(h, Clock::now() + h.contender->session().options().operation_timeout,
                              true);
}

bool DistributedLock::acquire_until(Clock::time_point at, bool try_only) {
  auto& h = handle_of(m_handle);
  return h.contender->acquire(h, at, try_only);
}

void DistributedLock::unlock() noexcept {
  if (!m_handle) return;
  try {
    m_handle->contender->release(*m_handle, false);
  } catch (...) { // unlock() must not throw; release() reports
  }
}

void DistributedLock::release() {
  auto& h = handle_of(m_handle);
  h.contender->release(h, true);
}

bool DistributedLock::owns_lock() const noexcept {
  if (!m_handle) return false;
  return m_handle->contender->read(*m_handle, [](const detail::LockHandle& h) { return h.held; });
}

bool DistributedLock::uncertain() const noexcept {
  if (!m_handle) return false;
  return m_handle->contender->read(
      *m_handle, [](const detail::LockHandle& h) { return h.held && h.uncertain; });
}

std::int64_t DistributedLock::fencing_token() const {
  auto& h = handle_of(m_handle);
  return h.contender->read(h, [this](const detail::LockHandle& x) {
    if (!x.held) throw Error(Errc::lock_not_held, "fencing_token: " + path() + " is not held");
    return x.token;
  });
}

std::string DistributedLock::node_path() const {
  auto& h = handle_of(m_handle);
  return h.contender->read(h, [this](const detail::LockHandle& x) {
    if (!x.held) throw Error(Errc::lock_not_held, "node_path: " + path() + " is not held");
    return x.node;
  });
}

MultiResult DistributedLock::fenced(std::vector<Op> ops, Deadline deadline) {
  auto& h = handle_of(m_handle);
  auto& impl = h.contender->session();
  impl.check_blocking_call("DistributedLock::fenced");
  if (ops.empty()) throw Error(Errc::invalid_argument, "fenced: no operations");
  const std::string node = h.contender->read(h, [this](const detail::LockHandle& x) {
    if (!x.held) {
      throw Error(x.lost ? Errc::lock_lost : Errc::lock_not_held,
                  "fenced: " + path() + " is not held");
    }
    return x.node;
  });
  ops.insert(ops.begin(), Op::check(node, any_version));
  MultiResult r = impl.multi(ops, deadline);
  if (!r.ok() && r.failed_op() == 0)
    throw Error(Errc::lock_lost, "fenced: our lock node " + node + " is gone; nothing was written");
  if (!r.results.empty()) r.results.erase(r.results.begin());
  return r;
}

const std::string& DistributedLock::path() const noexcept {
  static const std::string none;
  return m_handle ? m_handle->contender->path() : none;
}

std::vector<LockContender> DistributedLock::contenders(Session& session, std::string_view path,
                                                       Deadline deadline) {
  const auto gate = detail::SessionGate::impl(session);
  auto& impl = *gate;
  impl.check_blocking_call("DistributedLock::contenders");
  validate_path(path);
  const auto until = impl.resolve(deadline);
  const auto kids = impl.children(path, {}, until);
  if (!kids) return {};
  const auto order = detail::lock::order_children(kids->names);
  std::vector<LockContender> out;
  for (const auto& name : order.unrecognised)
    out.push_back(LockContender{name, {}, std::nullopt});
  for (const auto& c : order.contenders)
    out.push_back(LockContender{c.name, {}, c.sequence});

  // Read every node's data in one round trip: all requests go out before the first answer is
  // awaited.
  struct Gather {
    std::mutex m;
    std::condition_variable cv;
    std::size_t left = 0;
    std::vector<std::optional<NodeData>> data;
    std::optional<Error> error;
  };
  auto g = std::make_shared<Gather>();
  g->left = out.size();
  g->data.resize(out.size());
  const std::string base(path);
  for (std::size_t i = 0; i < out.size(); ++i) {
    impl.get_async(base + "/" + out[i].name,
                   [g, i](Result<NodeData> r) {
                     std::lock_guard<std::mutex> lk(g->m);
                     if (r.ok()) {
                       g->data[i] = std::move(r.value());
                     } else if (r.error() != Errc::no_node && !g->error) {
                       g->error = r.failure();
                     }
                     --g->left;
                     g->cv.notify_all();
                   },
                   {});
  }
  std::unique_lock<std::mutex> lk(g->m);
  if (!g->cv.wait_until(lk, until, [&] { return g->left == 0; }))
    throw Error(Errc::deadline_exceeded, "contenders " + base);
  if (g->error) throw *g->error;
  std::vector<LockContender> present;
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (!g->data[i]) continue; // deleted meanwhile
    out[i].data = g->data[i]->data;
    out[i].czxid = g->data[i]->stat.czxid;
    out[i].ephemeral_owner = g->data[i]->stat.ephemeral_owner;
    present.push_back(std::move(out[i]));
  }
  // The head holds the lock only if nothing unrecognised blocks it.
  if (!present.empty() && order.unrecognised.empty()) present.front().holder = true;
  return present;
}

} // namespace zk
