// zk::ReadWriteLock: the two sides of rw_protocol.hpp, each a Hold on core's queue engine of its
// (session, path, side); see src/core/queue_engine.hpp for the protocol.
#include <zkrecipes/read_write_lock.hpp>

#include "core/gate.hpp"
#include "core/hold_access.hpp"
#include "core/lock_guard.hpp"
#include "recipes/lock/contenders.hpp"
#include "recipes/rwlock/rw_protocol.hpp"

#include <thread>
#include <utility>

namespace zk {
namespace detail::rwlock {

using core::Hold;

struct Sides : std::enable_shared_from_this<Sides> {
  const RwPolicy* write_policy = nullptr;
  const RwPolicy* read_policy = nullptr;
  Hold write;
  Hold read;
};

namespace {

const RwProfile& profile_of(ReadWriteProfile p) {
  return p == ReadWriteProfile::kazoo ? kazoo_profile() : curator_profile();
}

Sides& sides_of(Sides* s) {
  if (s == nullptr) throw Error(Errc::invalid_argument, "use of a moved-from zk::ReadWriteLock");
  return *s;
}

// One side's Hold, owned with its Sides (a guard holds it weakly).
std::shared_ptr<Hold> shared_side(Sides* s, Hold Sides::*side) {
  auto& sides = sides_of(s);
  return {sides.shared_from_this(), &(sides.*side)};
}

const char* side_name(const Hold& h, const Sides& s) {
  return &h == &s.write ? "write" : "read";
}

const char* side_noun(const Hold& h, const Sides& s) {
  return &h == &s.write ? "the write side of " : "the read side of ";
}

template <class F> auto read_held(const Sides& s, const Hold& h, const char* what, F&& fn) {
  return core::read_held(h, what, side_noun(h, s), std::forward<F>(fn));
}

// Holding one side while asking for the other would wait for ourselves.
void refuse_other_side(const Sides& s, const Hold& other, const char* asking) {
  if (other.contender->held_by(std::this_thread::get_id())) {
    throw Error(Errc::would_deadlock,
                std::string("ReadWriteLock ") + other.contender->path() + ": " + asking +
                    " while this thread holds the " + side_name(other, s) +
                    " side would wait for itself" +
                    (&other == &s.write ? " (use writer().downgrade())" : " (no upgrade)"));
  }
}

bool acquire(Sides& s, Hold& h, Hold& other, Clock::time_point at, const CancelToken* cancel,
             const char* asking) {
  auto& engine = *h.contender;
  refuse_other_side(s, other, asking);
  // As std::timed_mutex: a deadline already passed means one try without waiting.
  if (at <= Clock::now())
    return engine.acquire(h, Clock::now() + engine.gate().operation_timeout(), true);
  return engine.acquire(h, at, false, cancel);
}

} // namespace
} // namespace detail::rwlock

using detail::rwlock::Side;
using detail::rwlock::Sides;

ReadWriteLock::ReadWriteLock(Session& session, std::string path, ReadWriteLockOptions options)
    : m_sides(std::make_shared<Sides>()) {
  const auto gate = detail::core::gate_of(session);
  if (gate->is_closed()) throw Error(Errc::session_closed, "ReadWriteLock: the session is closed");
  validate_path(path);
  if (path == "/")
    throw Error(Errc::invalid_argument, "ReadWriteLock: the lock path cannot be \"/\"");
  const auto& profile = detail::rwlock::profile_of(options.profile);
  auto& s = *m_sides;
  s.write_policy = &detail::rwlock::RwPolicy::of(profile, Side::write);
  s.read_policy = &detail::rwlock::RwPolicy::of(profile, Side::read);
  gate->check_create(path + "/" + s.write_policy->node_prefix(s.write_policy->make_guid()) +
                         "0000000000",
                     options.lock.node_data);
  auto& o = s.write.options;
  o.node_data = std::move(options.lock.node_data);
  o.container_parent = options.lock.container_parent;
  o.max_local_handoffs = options.lock.max_local_handoffs;
  o.max_local_hold = options.lock.max_local_hold;
  o.on_lost = std::move(options.lock.on_lost);
  o.on_uncertain = std::move(options.lock.on_uncertain);
  o.holder_thread_only = true; // one object, many threads: see Reader::unlock_shared
  s.read.options = o;          // both sides report through the same callbacks
  s.write.contender =
      detail::core::QueueEngine::for_path(gate, path, *s.write_policy, s.write.options);
  s.read.contender =
      detail::core::QueueEngine::for_path(gate, std::move(path), *s.read_policy, s.read.options);
  m_writer.m_sides = m_reader.m_sides = m_sides.get();
}

ReadWriteLock::~ReadWriteLock() {
  finish();
}

void ReadWriteLock::finish() noexcept {
  if (!m_sides) return;
  // Both sides' pending waits first: ending one side's hold may grant the other's waiter.
  for (auto* hold : {&m_sides->write, &m_sides->read}) {
    try {
      hold->contender->abandon_async(*hold);
    } catch (...) { // only an allocation can fail there; a destructor must not throw
    }
  }
  for (auto* hold : {&m_sides->write, &m_sides->read}) {
    // Every thread's and guard's hold through this object ends with it (no call runs now).
    hold->options.holder_thread_only = false;
    while (detail::core::owns(hold))
      detail::core::release_quietly(hold);
    detail::core::end_hold(*hold);
  }
}

ReadWriteLock::ReadWriteLock(ReadWriteLock&& other) noexcept : m_sides(std::move(other.m_sides)) {
  m_writer.m_sides = m_reader.m_sides = m_sides.get();
  other.m_writer.m_sides = other.m_reader.m_sides = nullptr;
}

ReadWriteLock& ReadWriteLock::operator=(ReadWriteLock&& other) noexcept {
  if (this != &other) {
    finish();
    m_sides = std::move(other.m_sides);
    m_writer.m_sides = m_reader.m_sides = m_sides.get();
    other.m_writer.m_sides = other.m_reader.m_sides = nullptr;
  }
  return *this;
}

const std::string& ReadWriteLock::path() const noexcept {
  static const std::string none;
  return m_sides ? m_sides->write.contender->path() : none;
}

std::vector<LockContender> ReadWriteLock::contenders(Session& session, std::string_view path,
                                                     ReadWriteProfile profile, Deadline deadline) {
  const auto gate = detail::core::gate_of(session);
  gate->check_blocking_call("ReadWriteLock::contenders");
  validate_path(path);
  const auto& rw = detail::rwlock::profile_of(profile);
  auto out = detail::lock::list_contenders(*gate, std::string(path),
                                           detail::rwlock::queue_profile(rw, Side::read),
                                           deadline.resolve(gate->operation_timeout()));
  // Holders by the read-write rules: the first writer alone, or every reader ahead of all writers
  // (nobody while a foreign child is there: the lock fails then).
  const bool foreign = !out.empty() && !out.front().sequence;
  for (auto& c : out) {
    c.holder = false;
    if (foreign) continue;
    if (detail::lock::parse_lock_name(c.name)->form == rw.write) {
      c.holder = &c == &out.front();
      break;
    }
    c.holder = true;
  }
  return out;
}

// The write side.

void ReadWriteLock::Writer::lock() {
  acquire_until(far_future);
}

void ReadWriteLock::Writer::lock(const CancelToken& cancel) {
  acquire_until(far_future, &cancel);
}

bool ReadWriteLock::Writer::try_lock() {
  return acquire_until(Clock::now());
}

bool ReadWriteLock::Writer::acquire_until(Clock::time_point at, const CancelToken* cancel) {
  auto& s = detail::rwlock::sides_of(m_sides);
  return detail::rwlock::acquire(s, s.write, s.read, at, cancel, "locking the write side");
}

void ReadWriteLock::Writer::async_lock(Deadline deadline, const CancelToken& cancel,
                                       LockHandler done, Executor executor) {
  detail::core::start_async(detail::rwlock::shared_side(m_sides, &Sides::write), deadline, &cancel,
                            std::move(done), std::move(executor), "Writer::async_lock");
}

void ReadWriteLock::Writer::async_lock(LockHandler done, Executor executor) {
  detail::core::start_async(detail::rwlock::shared_side(m_sides, &Sides::write), {}, nullptr,
                            std::move(done), std::move(executor), "Writer::async_lock");
}

std::future<LockGuard> ReadWriteLock::Writer::async_lock(Deadline deadline,
                                                         const CancelToken& cancel) {
  return detail::core::start_async_future(detail::rwlock::shared_side(m_sides, &Sides::write),
                                          deadline, cancel);
}

void ReadWriteLock::Writer::unlock() noexcept {
  if (m_sides != nullptr) detail::core::release_quietly(&m_sides->write);
}

void ReadWriteLock::Writer::release() {
  auto& s = detail::rwlock::sides_of(m_sides);
  s.write.contender->release(s.write, true);
}

void ReadWriteLock::Writer::downgrade(Deadline deadline) {
  auto& s = detail::rwlock::sides_of(m_sides);
  auto& engine = *s.read.contender;
  engine.gate().check_blocking_call("ReadWriteLock::downgrade");
  const auto until = deadline.resolve(engine.gate().operation_timeout());
  const auto [node, token] =
      detail::rwlock::read_held(s, s.write, "downgrade", [](const detail::core::Hold& x) {
        if (!x.held_by(std::this_thread::get_id())) {
          throw Error(Errc::lock_not_held, "downgrade: the write side of " + x.contender->path() +
                                               " is not held by this thread");
        }
        return std::pair{x.node, x.token};
      });
  const std::string guid = s.read_policy->make_guid();
  const std::string read_node =
      s.read_policy->downgrade_name(node.substr(node.rfind('/') + 1), guid);
  try {
    engine.hold_created(s.read, guid, read_node, node, token, until);
  } catch (const Error& e) {
    const auto errc = e.errc();
    if (errc == Errc::lock_lost || errc == Errc::session_lost || errc == Errc::session_closed)
      s.write.contender->release(s.write, false, false); // gone: never handed to another thread
    throw;
  }
  // Our read node is ordered where the write node was: deleting the write node frees no writer.
  s.write.contender->release(s.write, false, false);
}

bool ReadWriteLock::Writer::owns_lock() const noexcept {
  return m_sides != nullptr && detail::core::owns(&m_sides->write);
}

bool ReadWriteLock::Writer::uncertain() const noexcept {
  return m_sides != nullptr && detail::core::is_uncertain(&m_sides->write);
}

std::int64_t ReadWriteLock::Writer::fencing_token() const {
  const auto& s = detail::rwlock::sides_of(m_sides);
  return detail::rwlock::read_held(s, s.write, "fencing_token",
                                   [](const detail::core::Hold& x) { return x.token; });
}

std::string ReadWriteLock::Writer::node_path() const {
  const auto& s = detail::rwlock::sides_of(m_sides);
  return detail::rwlock::read_held(s, s.write, "node_path",
                                   [](const detail::core::Hold& x) { return x.node; });
}

MultiResult ReadWriteLock::Writer::fenced(std::vector<Op> ops, Deadline deadline) {
  auto& s = detail::rwlock::sides_of(m_sides);
  return detail::core::fenced_on(s.write, std::move(ops), deadline, "ReadWriteLock::fenced",
                                 detail::rwlock::side_noun(s.write, s));
}

// The read side.

void ReadWriteLock::Reader::lock_shared() {
  acquire_until(far_future);
}

void ReadWriteLock::Reader::lock_shared(const CancelToken& cancel) {
  acquire_until(far_future, &cancel);
}

bool ReadWriteLock::Reader::try_lock_shared() {
  return acquire_until(Clock::now());
}

bool ReadWriteLock::Reader::acquire_until(Clock::time_point at, const CancelToken* cancel) {
  auto& s = detail::rwlock::sides_of(m_sides);
  return detail::rwlock::acquire(s, s.read, s.write, at, cancel, "locking the read side");
}

void ReadWriteLock::Reader::async_lock_shared(Deadline deadline, const CancelToken& cancel,
                                              LockHandler done, Executor executor) {
  detail::core::start_async(detail::rwlock::shared_side(m_sides, &Sides::read), deadline, &cancel,
                            std::move(done), std::move(executor), "Reader::async_lock_shared");
}

void ReadWriteLock::Reader::async_lock_shared(LockHandler done, Executor executor) {
  detail::core::start_async(detail::rwlock::shared_side(m_sides, &Sides::read), {}, nullptr,
                            std::move(done), std::move(executor), "Reader::async_lock_shared");
}

std::future<LockGuard> ReadWriteLock::Reader::async_lock_shared(Deadline deadline,
                                                                const CancelToken& cancel) {
  return detail::core::start_async_future(detail::rwlock::shared_side(m_sides, &Sides::read),
                                          deadline, cancel);
}

void ReadWriteLock::Reader::unlock_shared() noexcept {
  if (m_sides != nullptr) detail::core::release_quietly(&m_sides->read);
}

void ReadWriteLock::Reader::release_shared() {
  auto& s = detail::rwlock::sides_of(m_sides);
  s.read.contender->release(s.read, true);
}

bool ReadWriteLock::Reader::owns_lock() const noexcept {
  return m_sides != nullptr && detail::core::owns(&m_sides->read);
}

bool ReadWriteLock::Reader::uncertain() const noexcept {
  return m_sides != nullptr && detail::core::is_uncertain(&m_sides->read);
}

std::int64_t ReadWriteLock::Reader::fencing_token() const {
  const auto& s = detail::rwlock::sides_of(m_sides);
  return detail::rwlock::read_held(s, s.read, "fencing_token",
                                   [](const detail::core::Hold& x) { return x.token; });
}

std::string ReadWriteLock::Reader::node_path() const {
  const auto& s = detail::rwlock::sides_of(m_sides);
  return detail::rwlock::read_held(s, s.read, "node_path",
                                   [](const detail::core::Hold& x) { return x.node; });
}

MultiResult ReadWriteLock::Reader::fenced(std::vector<Op> ops, Deadline deadline) {
  auto& s = detail::rwlock::sides_of(m_sides);
  return detail::core::fenced_on(s.read, std::move(ops), deadline, "ReadWriteLock::fenced",
                                 detail::rwlock::side_noun(s.read, s));
}

} // namespace zk
