// zk::Semaphore: the internal lock (an exclusive queue on core's engine), then one standalone
// engine per lease under the lease policy (semaphore_protocol.hpp), which waits on the children of
// the lease path while this acquisition holds the lock (a lost lock stops the wait: see acquire_n).
#include "recipes/semaphore/state.hpp"

#include "core/cancel_subscription.hpp"
#include "core/retry.hpp"
#include "recipes/lock/lock_protocol.hpp"

#include <algorithm>
#include <thread>

namespace zk {
namespace detail::semaphore {

void compare_kazoo_max(const State& st, const std::string& stored) {
  const std::int32_t max = st.max->load();
  const auto value = parse_kazoo_max(stored);
  if (value && *value != max) {
    throw Error(Errc::invalid_argument, "Kazoo Semaphore " + st.path + " stores max_leases " +
                                            std::to_string(*value) + "; this one has " +
                                            std::to_string(max));
  }
}

namespace {

Hold& hold_of(const std::unique_ptr<LeaseState>& s) {
  if (!s) throw Error(Errc::lock_not_held, "use of an empty zk::Lease");
  return s->hold;
}

constexpr const char* lease_noun = "the lease on ";

std::shared_ptr<State> make_state(Session& session, std::string path, SemaphoreOptions& options) {
  auto st = std::make_shared<State>();
  st->gate = core::gate_of(session);
  if (st->gate->is_closed()) throw Error(Errc::session_closed, "Semaphore: the session is closed");
  validate_path(path);
  if (path == "/") throw Error(Errc::invalid_argument, "Semaphore: the path cannot be \"/\"");
  st->profile = options.profile;
  st->paths = layout(options.profile, path);
  st->path = std::move(path);
  st->policy = std::make_shared<LeasePolicy>(options.profile, st->max);
  const bool kazoo = options.profile == SemaphoreProfile::kazoo;
  st->gate->check_create(st->paths.leases + "/" + st->policy->node_prefix(st->policy->make_guid()) +
                             "0000000000",
                         options.node_data);
  auto& o = st->lease_options;
  o.node_data = std::move(options.node_data);
  // Kazoo 2.8 fails once the server reaps a container it created (see LockOptions).
  o.container_parent = !kazoo;
  o.on_lost = std::move(options.on_lost);
  o.on_uncertain = std::move(options.on_uncertain);
  st->lock_options.node_data = o.node_data;
  st->lock_options.container_parent = o.container_parent;
  st->lock_options.release_in_background = true; // the acquisition's deadline does not pay for it
  const auto& lock_policy =
      lock::ExclusivePolicy::of(kazoo ? lock::kazoo_election_profile() : lock::mutex_profile());
  st->lock_engine = QueueEngine::for_path(st->gate, st->paths.lock, lock_policy, st->lock_options);
  return st;
}

// The SharedCount's value, or what is wrong with it, as the count watch reports it.
void on_count(const std::weak_ptr<State>& weak, const std::optional<NodeData>& node) {
  const auto st = weak.lock();
  if (!st) return;
  std::shared_ptr<QueueEngine> waiting;
  std::map<std::uint64_t, std::function<void()>> waiters;
  {
    std::lock_guard<std::mutex> lk(st->m);
    waiters.swap(st->count_waiters);
    st->count_known = true;
    st->count_error.reset();
    if (!node) {
      st->count_error = Error(Errc::no_node, "semaphore " + st->path +
                                                 ": its shared count does "
                                                 "not exist");
    } else {
      try {
        st->max->store(decode_shared_count(node->data, "of semaphore " + st->path));
      } catch (const Error& e) {
        st->count_error = e;
      }
    }
    waiting = st->waiting;
    st->cv.notify_all();
  }
  if (waiting) waiting->reconsider(); // a higher maximum may admit the waiting lease
  for (const auto& [id, fn] : waiters)
    fn();
}

void throw_if_cancelled(const CancelToken* cancel, const std::string& path) {
  if (cancel != nullptr && cancel->cancelled())
    throw Error(Errc::cancelled, "semaphore " + path + ": cancelled while waiting");
}

void await_count(State& st, Clock::time_point until, const CancelToken* cancel) {
  const core::CancelSubscription woken(cancel, [&st] {
    std::lock_guard<std::mutex> lk(st.m);
    st.cv.notify_all();
  });
  {
    std::unique_lock<std::mutex> lk(st.m);
    st.cv.wait_until(lk, until,
                     [&] { return st.count_known || (cancel != nullptr && cancel->cancelled()); });
    if (st.count_known && st.count_error) throw *st.count_error;
    if (st.count_known) return;
  }
  throw_if_cancelled(cancel, st.path);
  throw Error(Errc::deadline_exceeded,
              "semaphore " + st.path + ": its shared count was not read before the deadline");
}

// Kazoo keeps the maximum in the semaphore node's data and refuses a contender with another one.
// Checked once per object, as Kazoo does; the connection's trouble is waited out within the
// deadline.
void check_kazoo_max(State& st, Clock::time_point until, const CancelToken* cancel) {
  {
    std::lock_guard<std::mutex> lk(st.m);
    if (st.kazoo_checked) return;
  }
  const std::int32_t max = st.max->load();
  auto& gate = *st.gate;
  for (int retry = 1;; ++retry) {
    const auto op_until = std::min(until, Clock::now() + gate.operation_timeout());
    try {
      try {
        gate.ensure_path(st.path.substr(0, std::max<std::size_t>(st.path.rfind('/'), 1)),
                         CreateMode::persistent, op_until);
        gate.create(st.path, std::to_string(max), CreateMode::persistent, op_until);
      } catch (const Error& e) {
        if (e.errc() != Errc::node_exists) throw;
        if (const auto got = gate.get(st.path, op_until)) compare_kazoo_max(st, got->data);
      }
      break;
    } catch (const Error& e) {
      const auto again = Clock::now() + core::recovery_delay(retry);
      if (!core::worth_retrying(e.errc()) || again >= until) throw;
      std::this_thread::sleep_until(again); // a short backoff, then the cancel is looked at
      throw_if_cancelled(cancel, st.path);
    }
  }
  std::lock_guard<std::mutex> lk(st.m);
  st.kazoo_checked = true;
}

// The lease engine waiting under the lock, for the SharedCount's watch to wake, while it lives.
class Waiting {
public:
  Waiting(State& st, std::shared_ptr<QueueEngine> engine) : m_st(st), m_engine(std::move(engine)) {
    m_st.wait_with(m_engine);
  }
  ~Waiting() { m_st.stop_waiting(m_engine); }
  Waiting(const Waiting&) = delete;
  Waiting& operator=(const Waiting&) = delete;
  Waiting(Waiting&&) = delete;
  Waiting& operator=(Waiting&&) = delete;

private:
  State& m_st;
  std::shared_ptr<QueueEngine> m_engine;
};

} // namespace
} // namespace detail::semaphore

using detail::semaphore::LeaseState;
using detail::semaphore::State;

// Lease.

Lease::Lease() noexcept = default;
Lease::Lease(std::unique_ptr<LeaseState> state) noexcept : m_state(std::move(state)) {}
Lease::~Lease() = default;
Lease::Lease(Lease&& other) noexcept = default;
Lease& Lease::operator=(Lease&& other) noexcept = default;

bool Lease::held() const noexcept {
  return m_state && detail::core::owns(&m_state->hold);
}

bool Lease::uncertain() const noexcept {
  return m_state && detail::core::is_uncertain(&m_state->hold);
}

std::int64_t Lease::fencing_token() const {
  return detail::core::read_held(detail::semaphore::hold_of(m_state), "fencing_token",
                                 detail::semaphore::lease_noun,
                                 [](const detail::core::Hold& x) { return x.token; });
}

std::string Lease::node_path() const {
  return detail::core::read_held(detail::semaphore::hold_of(m_state), "node_path",
                                 detail::semaphore::lease_noun,
                                 [](const detail::core::Hold& x) { return x.node; });
}

MultiResult Lease::fenced(std::vector<Op> ops, Deadline deadline) {
  return detail::core::fenced_on(detail::semaphore::hold_of(m_state), std::move(ops), deadline,
                                 "Lease::fenced", detail::semaphore::lease_noun);
}

void Lease::on_lost(std::function<void(const Error& why)> callback) {
  auto& h = detail::semaphore::hold_of(m_state);
  auto& engine = *h.contender;
  const auto lost = engine.read(h, [&](detail::core::Hold& x) {
    x.options.on_lost = callback;
    return x.lost;
  });
  if (lost && callback) {
    engine.gate().post_at(Clock::now(),
                          detail::core::loss_report(engine.gate_ptr(), h.reports,
                                                    "semaphore lease " + engine.path(),
                                                    std::move(callback), *lost));
  }
}

void Lease::release() {
  if (!m_state) return;
  const auto state = std::move(m_state); // empty from now, whatever release() says
  state->hold.contender->release(state->hold, true);
}

// Semaphore.

Semaphore::Semaphore(Session& session, std::string path, std::int32_t max_leases,
                     SemaphoreOptions options) {
  if (max_leases < 1) {
    throw Error(Errc::invalid_argument,
                "Semaphore: max_leases must be at least 1, not " + std::to_string(max_leases));
  }
  m_state = detail::semaphore::make_state(session, std::move(path), options);
  m_state->max->store(max_leases);
  m_state->count_known = true;
}

Semaphore::Semaphore(Session& session, std::string path, SharedMaxLeases max,
                     SemaphoreOptions options) {
  if (options.profile == SemaphoreProfile::kazoo) {
    throw Error(Errc::invalid_argument,
                "Semaphore: a Kazoo Semaphore stores a fixed maximum; a SharedCount is Curator's");
  }
  validate_path(max.count_path);
  m_state = detail::semaphore::make_state(session, std::move(path), options);
  m_state->fixed = false;
  m_state->count_watch = detail::core::NodeWatch::start(
      m_state->gate, std::move(max.count_path),
      [weak = std::weak_ptr<State>(m_state)](const std::optional<NodeData>& node) {
        detail::semaphore::on_count(weak, node);
      });
}

Semaphore::~Semaphore() {
  if (m_state) m_state->closing.cancel(); // its asynchronous acquisitions end
}

Semaphore::Semaphore(Semaphore&& other) noexcept = default;

Semaphore& Semaphore::operator=(Semaphore&& other) noexcept {
  if (this != &other) {
    if (m_state) m_state->closing.cancel();
    m_state = std::move(other.m_state);
  }
  return *this;
}

Lease Semaphore::acquire() {
  return std::move(acquire_until(1, far_future, nullptr).front());
}

Lease Semaphore::acquire(const CancelToken& cancel) {
  return std::move(acquire_until(1, far_future, &cancel).front());
}

Lease Semaphore::acquire(Deadline deadline) {
  return std::move(acquire(1, deadline).front());
}

std::vector<Lease> Semaphore::acquire(std::int32_t n, Deadline deadline) {
  const auto& st = detail::semaphore::state_of(m_state);
  return acquire_until(n, deadline.resolve(st.gate->operation_timeout()), nullptr);
}

std::vector<Lease> Semaphore::acquire_until(std::int32_t n, Clock::time_point at,
                                            const CancelToken* cancel) {
  auto leases = acquire_n(n, at, cancel);
  if (leases.empty()) {
    throw Error(Errc::deadline_exceeded, "semaphore " + path() + ": no lease (of " +
                                             std::to_string(n) +
                                             " asked) within the deadline; nothing is held");
  }
  return leases;
}

std::optional<Lease> Semaphore::try_acquire() {
  return acquire_one(Clock::now(), nullptr);
}

std::optional<Lease> Semaphore::acquire_one(Clock::time_point at, const CancelToken* cancel) {
  auto leases = acquire_n(1, at, cancel);
  if (leases.empty()) return std::nullopt;
  return std::move(leases.front());
}

// As std::timed_mutex: a deadline already passed is one try that waits for no holder.
std::vector<Lease> Semaphore::acquire_n(std::int32_t n, Clock::time_point at,
                                        const CancelToken* cancel) {
  auto& st = detail::semaphore::state_of(m_state);
  st.gate->check_blocking_call("Semaphore::acquire");
  if (n < 1) throw Error(Errc::invalid_argument, "Semaphore::acquire: n must be at least 1");
  if (st.fixed && n > st.max->load()) {
    throw Error(Errc::invalid_argument, "Semaphore::acquire: " + std::to_string(n) +
                                            " leases can never be held at once on " + st.path +
                                            " (max_leases " + std::to_string(st.max->load()) + ")");
  }
  const bool try_only = at <= Clock::now();
  const auto until = try_only ? Clock::now() + st.gate->operation_timeout() : at;
  detail::semaphore::await_count(st, until, cancel);
  if (st.profile == SemaphoreProfile::kazoo) detail::semaphore::check_kazoo_max(st, until, cancel);
  for (;;) {
    // One round: the lock, then the leases under it. `round` stops the round when the user cancels
    // or when the lock is lost while a lease waits (a session expiry: the waiting lease would queue
    // again in the new session without the lock, and two waiters could each wait for the other).
    const CancelToken round;
    const detail::core::CancelSubscription forward(cancel, [round] { round.cancel(); });
    detail::core::Hold lock;
    lock.options = st.lock_options;
    lock.options.on_lost = [round](const Error& /*why*/) { round.cancel(); };
    lock.contender = st.lock_engine;
    struct End { // the lock released on success, timeout, cancel and failure
      detail::core::Hold& h;
      ~End() { detail::core::end_hold(h); }
      End(const End&) = delete;
      End& operator=(const End&) = delete;
      End(End&&) = delete;
      End& operator=(End&&) = delete;
    } const end{lock};
    std::vector<Lease> leases;
    try {
      if (!st.lock_engine->acquire(lock, until, try_only, &round)) return {};
      for (std::int32_t i = 0; i < n; ++i) {
        auto lease = std::make_unique<LeaseState>();
        lease->hold.options = st.lease_options;
        lease->hold.contender = detail::core::QueueEngine::standalone(st.gate, st.paths.leases,
                                                                      st.policy, st.lease_options);
        const detail::semaphore::Waiting waiting(st, lease->hold.contender);
        if (!lease->hold.contender->acquire(lease->hold, until, try_only, &round)) return {};
        leases.push_back(Lease(std::move(lease))); // those taken so far go with `leases`
      }
    } catch (const Error& e) {
      if (e.errc() != Errc::cancelled || (cancel != nullptr && cancel->cancelled())) throw;
      continue; // the lock was lost: take it again, within the deadline
    }
    // Counted while this call held the lock: otherwise (lost at the last moment) a lease taken
    // elsewhere may not have been visible to us.
    if (detail::core::owns(&lock)) return leases;
  }
}

std::int32_t Semaphore::max_leases() const noexcept {
  return m_state ? m_state->max->load() : 0;
}

const std::string& Semaphore::path() const noexcept {
  static const std::string none;
  return m_state ? m_state->path : none;
}

} // namespace zk
