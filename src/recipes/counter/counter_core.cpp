// The counter's state: its cache, its writer tags, the competition for its node, its requests, and
// the blocking driver of its update protocol (update_run.hpp).
#include "recipes/counter/counter_core.hpp"

#include "core/janitor.hpp"
#include "recipes/counter/update_run.hpp"

#include <algorithm>
#include <random>

namespace zk::detail {

using counter::PlannedWrite;
using counter::Snapshot;

CounterCore::CounterCore(std::shared_ptr<core::Gate> session, std::string path,
                         CounterOptions options, const counter::ContentionPolicy& policy)
    : m_session(std::move(session)), m_path(std::move(path)), m_options(options),
      m_competition(std::make_shared<Competition>(policy)) {
  if (!m_session) throw Error(Errc::session_closed, "DistributedCounter: no session");
  m_competition->gate = m_session;
  validate_path(m_path);
  counter::validate(m_options);
  // The writer id makes tags unique across processes and objects; 64 random bits make a collision
  // between the few writers of one counter negligible.
  std::random_device device;
  m_writer = (static_cast<std::uint64_t>(device()) << 32) ^ device();
}

CounterCore::~CounterCore() {
  std::string marker;
  std::int64_t owner = 0;
  {
    std::lock_guard<std::mutex> lock(m_competition->mutex);
    marker.swap(m_competition->marker);
    owner = m_competition->marker_session;
  }
  {
    const std::lock_guard<std::mutex> lock(m_turns_mutex);
    m_turns.reset(); // a held turn's node is deleted before the marker (see ~Turns)
  }
  if (marker.empty() || m_session->is_closed()) return; // a closed session took it along
  // Gone before the destructor returns (bounded by the operation timeout), so the counter node can
  // be deleted right after; from the callback thread, which must not block, in the background.
  if (m_session->on_callback_thread()) {
    core::delete_in_background(m_session, marker, any_version, owner);
  } else {
    core::delete_now(m_session, marker, any_version, owner,
                     Clock::now() + m_session->operation_timeout());
  }
}

counter::Tag CounterCore::next_tag() noexcept {
  return counter::Tag{m_writer, m_sequence.fetch_add(1, std::memory_order_relaxed) + 1};
}

void CounterCore::Competition::note_win(const Stat& stat) {
  std::lock_guard<std::mutex> lock(mutex);
  // Threads finish out of order: keep the latest.
  if (own_win && own_win->first == stat.czxid &&
      counter::older_version(stat.version, own_win->second))
    return;
  own_win = std::make_pair(stat.czxid, stat.version);
}

bool CounterCore::won_since(const Snapshot& base) const {
  auto& c = *m_competition;
  std::lock_guard<std::mutex> lock(c.mutex);
  if (!c.own_win) return false;
  if (!base.exists) return true; // a create refused: we have written the node since
  return c.own_win->first == base.czxid && counter::older_version(base.version, c.own_win->second);
}

std::optional<Snapshot> CounterCore::cached() const {
  std::lock_guard<std::mutex> lock(m_cache_mutex);
  return m_cache;
}

void CounterCore::remember(const Snapshot& s) {
  std::lock_guard<std::mutex> lock(m_cache_mutex);
  // Threads finish out of order: never replace a snapshot of the same node with an older one.
  if (m_cache && s.exists && m_cache->exists && m_cache->czxid == s.czxid &&
      counter::older_version(s.version, m_cache->version))
    return;
  m_cache = s;
}

void CounterCore::forget() {
  std::lock_guard<std::mutex> lock(m_cache_mutex);
  m_cache.reset();
}

Clock::time_point CounterCore::request_deadline(Clock::time_point deadline) const {
  return std::min(deadline, Clock::now() + m_session->operation_timeout());
}

std::shared_ptr<CounterCore::ReadFlight> CounterCore::start_read(std::function<void()> wake) {
  auto f = ReadFlight::make();
  m_session->get_direct(m_path, f->callback(std::move(wake)));
  return f;
}

Snapshot CounterCore::snapshot_of(const std::optional<NodeData>& node) const {
  Snapshot s;
  if (!node) {
    s.value = m_options.initial_value;
    return s;
  }
  const auto decoded =
      counter::decode(m_options.codec, node->data, m_path, m_options.initial_value);
  s.exists = true;
  s.value = decoded.value;
  s.version = node->stat.version;
  s.czxid = node->stat.czxid;
  s.data = node->data;
  s.history = decoded.history;
  s.children = node->stat.num_children;
  return s;
}

bool CounterCore::contended() {
  std::lock_guard<std::mutex> lock(m_competition->mutex);
  return m_competition->contention.contended(Clock::now());
}

int CounterCore::own_children() {
  int ours = 0;
  {
    const std::lock_guard<std::mutex> lock(m_turns_mutex);
    if (m_turns) ours = m_turns->own_nodes();
  }
  const std::lock_guard<std::mutex> lock(m_competition->mutex);
  return ours + (m_competition->marker.empty() ? 0 : 1);
}

void CounterCore::saw_children(std::int32_t children, int own_sent) {
  // A reply to a request sent while our marker or turn node existed counts it even if it has
  // gone meanwhile (its delete went out after the request): without own_sent, a writer alone
  // would take its own node for a competitor's and stay contended, taking turns.
  const int ours = std::max(own_sent, own_children());
  auto& c = *m_competition;
  std::lock_guard<std::mutex> lock(c.mutex);
  c.contention.children(Clock::now(), children, ours);
}

std::shared_ptr<counter::Turns> CounterCore::turns() {
  if (policy().turn <= std::chrono::nanoseconds::zero()) return nullptr;
  const std::lock_guard<std::mutex> lock(m_turns_mutex);
  if (!m_turns) m_turns = std::make_shared<counter::Turns>(m_session, m_path, policy());
  return m_turns;
}

void CounterCore::saw_conflict() {
  std::lock_guard<std::mutex> lock(m_competition->mutex);
  m_competition->contention.conflict(Clock::now());
}

bool CounterCore::claim_announce(int conflicts, std::int64_t& session) {
  auto& c = *m_competition;
  std::lock_guard<std::mutex> lock(c.mutex);
  if (!c.marker.empty() && c.marker_session != m_session->session_id())
    c.marker.clear(); // it ended with its session
  if (c.announcing || !c.contention.announce(conflicts, !c.marker.empty())) return false;
  c.announcing = true;
  session = m_session->session_id();
  return true;
}

void CounterCore::announced(const std::string& marker, std::int64_t session) {
  auto& c = *m_competition;
  Clock::time_point check;
  {
    std::lock_guard<std::mutex> lock(c.mutex);
    c.announcing = false;
    c.marker = marker;
    c.marker_session = session;
    check = c.contention.quiet_at().value_or(Clock::now());
  }
  if (!marker.empty()) arm_withdrawal(m_competition, check);
}

void CounterCore::arm_withdrawal(const std::shared_ptr<Competition>& c, Clock::time_point at) {
  c->gate->post_at(at, [weak = std::weak_ptr<Competition>(c)] {
    const auto live = weak.lock();
    if (!live) return; // the counter is gone: its destructor deleted the marker
    std::string marker;
    std::int64_t owner = 0;
    std::optional<Clock::time_point> again;
    {
      std::lock_guard<std::mutex> lock(live->mutex);
      if (live->marker.empty()) return;
      if (live->contention.withdraw(Clock::now(), true)) {
        marker.swap(live->marker);
        owner = live->marker_session;
      } else {
        again = live->contention.quiet_at();
      }
    }
    if (again) {
      arm_withdrawal(live, *again);
    } else {
      core::delete_in_background(live->gate, marker, any_version, owner);
    }
  });
}

void CounterCore::won(std::chrono::nanoseconds latency) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  const double u = std::uniform_real_distribution<double>(0.0, 1.0)(rng);
  const auto now = Clock::now();
  auto& c = *m_competition;
  std::lock_guard<std::mutex> lock(c.mutex);
  c.not_before = std::max(c.not_before, now + c.contention.yield(now, latency, u));
}

Clock::time_point CounterCore::turn_at() {
  std::lock_guard<std::mutex> lock(m_competition->mutex);
  return m_competition->not_before;
}

std::shared_ptr<CounterCore::Flight> CounterCore::start_write(const PlannedWrite& w,
                                                              std::function<void()> wake) {
  auto f = Flight::make();
  // Our win is noted as its reply lands, before any refusal that follows it on the connection.
  auto land = f->callback(std::move(wake));
  if (w.create) {
    auto done = [land = std::move(land), c = m_competition](Result<Created> r) {
      if (r.ok()) {
        c->note_win(r.value().stat);
        return land(r.value().stat);
      }
      land(Result<Stat>(r.error(), "create " + std::string(to_string(r.error()))));
    };
    m_session->create_direct(m_path, w.data, CreateMode::persistent, std::move(done));
    return f;
  }
  // The version -1 guard, again at the last moment: plan_write never produces this, and no future
  // change may ever let an unconditional write through.
  if (w.expected_version == any_version)
    throw Error(Errc::runtime_inconsistency, "counter " + m_path + ": refusing a blind write");
  auto done = [land = std::move(land), c = m_competition](Result<Stat> r) {
    if (r.ok()) {
      c->note_win(r.value());
      return land(std::move(r));
    }
    land(Result<Stat>(r.error(), "set " + std::string(to_string(r.error()))));
  };
  m_session->set_direct(m_path, w.data, w.expected_version, std::move(done));
  return f;
}

Snapshot CounterCore::written(const PlannedWrite& w, const Stat& stat) const {
  Snapshot s;
  s.exists = true;
  s.value = w.value;
  s.data = w.data;
  s.version = stat.version;
  s.czxid = stat.czxid;
  if (w.tagged) s.history = counter::decode(m_options.codec, w.data, m_path, 0).history;
  return s;
}

CounterCore::Outcome CounterCore::update(const Decide& decide, Clock::time_point deadline) {
  Observer* const obs = m_session->observer();
  int writes = 0;
  if (obs == nullptr) return run_update(decide, deadline, writes);
  const auto start = Clock::now();
  try {
    auto outcome = run_update(decide, deadline, writes);
    obs->counter_update(m_path, Errc::ok, outcome.attempts, Clock::now() - start);
    return outcome;
  } catch (const Error& e) {
    obs->counter_update(m_path, e.errc(), writes, Clock::now() - start);
    throw;
  }
}

// The blocking driver: this thread sends the requests (their answers land on the C client's thread,
// which only wakes it) and waits out the pauses.
CounterCore::Outcome CounterCore::run_update(const Decide& decide, Clock::time_point deadline,
                                             int& writes) {
  struct Bell {
    std::mutex mutex;
    std::condition_variable cv;
    bool rung = false;
  };
  const auto bell = std::make_shared<Bell>();
  Run run(*this, decide, deadline, [bell] {
    {
      std::lock_guard<std::mutex> lock(bell->mutex);
      bell->rung = true;
    }
    bell->cv.notify_all();
  });
  try {
    for (;;) {
      if (auto outcome = run.advance()) return *outcome;
      std::unique_lock<std::mutex> lock(bell->mutex);
      bell->cv.wait_until(lock, run.until(), [&] { return bell->rung; });
      bell->rung = false;
    }
  } catch (const Error&) {
    writes = run.writes();
    throw;
  }
}

} // namespace zk::detail
