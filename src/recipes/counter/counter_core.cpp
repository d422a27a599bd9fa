// The counter's read-modify-write loop: conditional writes, conflict retries with backoff, and the
// proof of a write whose reply was lost (see distributed_counter.hpp for the contract).
#include "recipes/counter/counter_core.hpp"

#include "core/janitor.hpp"
#include "core/retry.hpp"

#include <algorithm>
#include <random>
#include <thread>

namespace zk::detail {
namespace {

using counter::PlannedWrite;
using counter::Snapshot;
using counter::Verdict;

std::string parent_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == 0 || slash == std::string::npos ? std::string() : path.substr(0, slash);
}

std::string describe(const PlannedWrite& w, std::int64_t before) {
  if (w.create) return "the create holding " + std::to_string(w.value);
  return "the write of " + std::to_string(w.value) + " over " + std::to_string(before) +
         " at version " + std::to_string(w.expected_version);
}

std::string describe(const Snapshot& s) {
  if (!s.exists) return "the node is gone";
  return "the node is at version " + std::to_string(s.version) + " holding " +
         std::to_string(s.value);
}

} // namespace

CounterCore::CounterCore(std::shared_ptr<core::Gate> session, std::string path,
                         CounterOptions options)
    : m_session(std::move(session)), m_path(std::move(path)), m_options(options),
      m_competition(std::make_shared<Competition>()) {
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

Snapshot CounterCore::read(Clock::time_point deadline) {
  return snapshot_of(m_session->get(m_path, request_deadline(deadline)));
}

std::shared_ptr<CounterCore::ReadFlight> CounterCore::start_read() {
  auto f = ReadFlight::make();
  m_session->get_direct(m_path, f->callback());
  return f;
}

std::optional<Snapshot> CounterCore::read_behind(const std::shared_ptr<ReadFlight>& f,
                                                 Clock::time_point deadline) const {
  // Sent after the write on the same connection, it is answered right after it.
  if (!f || !f->wait_until(request_deadline(deadline))) return std::nullopt;
  auto& r = f->result();
  if (!r.ok() && r.error() != Errc::no_node) return std::nullopt;
  return snapshot_of(r.ok() ? std::optional<NodeData>(r.value()) : std::nullopt);
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

void CounterCore::saw_children(std::int32_t children) {
  auto& c = *m_competition;
  std::lock_guard<std::mutex> lock(c.mutex);
  c.contention.children(Clock::now(), children, !c.marker.empty());
}

void CounterCore::saw_conflict() {
  std::lock_guard<std::mutex> lock(m_competition->mutex);
  m_competition->contention.conflict(Clock::now());
}

void CounterCore::maybe_announce(int conflicts, Clock::time_point deadline) {
  auto& c = *m_competition;
  {
    std::lock_guard<std::mutex> lock(c.mutex);
    if (!c.marker.empty() && c.marker_session != m_session->session_id())
      c.marker.clear(); // it ended with its session
    if (c.announcing || !c.contention.announce(conflicts, !c.marker.empty())) return;
    c.announcing = true;
  }
  std::string marker;
  const auto session = m_session->session_id();
  try {
    marker = m_session
                 ->create(m_path + "/" + std::string(counter::marker_prefix), "",
                          CreateMode::ephemeral_sequential, request_deadline(deadline))
                 .path;
  } catch (const Error& e) {
    // No marker (no CREATE permission, the node is gone, a connection loss): the others are not
    // told, and this writer still retries on the read behind its writes. (A create whose reply
    // was lost may have made one: it is ephemeral, and goes with the session.)
    m_session->log(LogLevel::debug, "counter " + m_path + ": no contention marker: " + e.what());
  }
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

void CounterCore::wait_turn(Clock::time_point deadline) {
  Clock::time_point until;
  {
    std::lock_guard<std::mutex> lock(m_competition->mutex);
    until = std::min(m_competition->not_before, deadline);
  }
  if (until > Clock::now()) std::this_thread::sleep_until(until); // the yield: a wait, not a sync
}

std::shared_ptr<CounterCore::Flight> CounterCore::start_write(const PlannedWrite& w) {
  auto f = Flight::make();
  if (w.create) {
    m_session->create_direct(
        m_path, w.data, CreateMode::persistent,
        [land = f->callback(), c = m_competition](Result<Created> r) {
          if (r.ok()) {
            c->note_win(r.value().stat);
            return land(r.value().stat);
          }
          land(Result<Stat>(r.error(), "create " + std::string(to_string(r.error()))));
        });
    return f;
  }
  // The version -1 guard, again at the last moment: plan_write never produces this, and no future
  // change may ever let an unconditional write through.
  if (w.expected_version == any_version)
    throw Error(Errc::runtime_inconsistency, "counter " + m_path + ": refusing a blind write");
  m_session->set_direct(m_path, w.data, w.expected_version,
                        [land = f->callback(), c = m_competition](Result<Stat> r) {
                          if (r.ok()) {
                            c->note_win(r.value());
                            return land(std::move(r));
                          }
                          land(Result<Stat>(r.error(), "set " + std::string(to_string(r.error()))));
                        });
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

Verdict CounterCore::judge(Doubt& doubt, const Snapshot& now, Clock::time_point deadline) {
  // Every send of the doubtful write went out before the read that produced `now`, on the same
  // session: the C client answers requests in order (a dropped connection fails them all first), so
  // their answers are already on their way to the callback thread. Wait for them briefly.
  std::vector<std::optional<Errc>> answers;
  for (const auto& f : doubt.sends) {
    const bool answered = f->wait_until(request_deadline(deadline));
    answers.push_back(answered ? std::optional<Errc>(f->result().error()) : std::nullopt);
    if (answered && f->result().ok()) remember(written(doubt.write, f->result().value()));
  }
  if (const auto v = counter::judge_answers(answers)) return *v;
  return counter::judge_lost_write(doubt.write, now);
}

CounterCore::Outcome CounterCore::update(const Decide& decide, Clock::time_point deadline) {
  Observer* const obs = m_session->observer();
  if (obs == nullptr) return run_update(decide, deadline);
  const auto start = Clock::now();
  try {
    auto outcome = run_update(decide, deadline);
    obs->counter_update(m_path, Errc::ok, outcome.attempts, Clock::now() - start);
    return outcome;
  } catch (const Error& e) {
    obs->counter_update(m_path, e.errc(), 0, Clock::now() - start);
    throw;
  }
}

CounterCore::Outcome CounterCore::run_update(const Decide& decide, Clock::time_point deadline) {
  Backoff backoff(m_options.retry, deadline);
  std::optional<Snapshot> snap = cached();
  bool fresh = false;
  std::optional<Doubt> doubt; // a write whose reply did not come, not judged yet
  std::string last_error = "none";
  bool proof_only = false; // out of attempts: only a proof of the doubtful write may still succeed
  int lost = 0;
  int conflicts = 0;

  const auto indeterminate = [&](const std::string& why) {
    return Error(Errc::indeterminate,
                 "counter " + m_path + ": the reply to " +
                     describe(doubt->write, doubt->base.value) + " was lost (" + doubt->cause +
                     ") and " + why + "; it may or may not have been applied, and was not retried");
  };
  const auto exhausted = [&](const std::string& why) {
    return Error(Errc::retries_exhausted, "counter " + m_path + ": gave up after " +
                                              std::to_string(backoff.attempts()) + " attempts (" +
                                              why + "); last error: " + last_error);
  };
  // Waits out the backoff before the next round, or ends the call: exhausted with nothing in doubt
  // is retries_exhausted; with a write in doubt, one more read may still prove it before the
  // deadline.
  const auto wait_or_give_up = [&]() {
    const auto now = Clock::now();
    if (const auto delay = backoff.next_delay(now)) {
      std::this_thread::sleep_for(*delay); // backoff between retries, not synchronisation
      return;
    }
    if (doubt && !proof_only && !backoff.expired(now)) {
      proof_only = true;
      return;
    }
    if (doubt) throw indeterminate("the retry policy ran out before it could be proven");
    if (backoff.attempts() >= m_options.retry.max_attempts)
      throw exhausted("max_attempts " + std::to_string(m_options.retry.max_attempts) + " reached");
    throw exhausted("the deadline leaves no room for another");
  };

  for (;;) {
    if (!snap) {
      if (Clock::now() >= deadline) {
        if (doubt) throw indeterminate("the deadline passed before it could be proven");
        wait_or_give_up(); // throws: the deadline has passed
      }
      try {
        snap = read(deadline);
        fresh = true;
        saw_children(snap->children);
      } catch (const Error& e) {
        last_error = e.what();
        if (doubt && !core::worth_retrying(e.errc()))
          throw indeterminate(std::string("then ") + e.what());
        if (!core::worth_retrying(e.errc())) throw;
        if (proof_only) throw indeterminate("the last proof read failed: " + last_error);
        wait_or_give_up();
        continue;
      }
    }

    std::optional<PlannedWrite> w;
    Snapshot base = *snap;
    if (doubt) {
      const Verdict verdict = judge(*doubt, *snap, deadline);
      if (verdict == Verdict::applied) {
        remember(*snap);
        return Outcome{doubt->base, doubt->write.value, backoff.attempts(), lost, true};
      }
      if (verdict == Verdict::unprovable) {
        remember(*snap);
        throw indeterminate("cannot be proven: " + describe(*snap));
      }
      if (verdict == Verdict::pending) {
        if (proof_only) throw indeterminate("it is still unanswered when the retry policy ran out");
        w = doubt->write; // identical bytes and version: at most one of the copies can ever apply
        base = doubt->base;
      } else {
        doubt.reset(); // proven not applied and never applicable: start afresh from this read
        if (proof_only) {
          remember(*snap);
          throw exhausted("the last one proven not applied");
        }
      }
    }
    const bool resend = w.has_value();
    if (!w) {
      const Decision d = decide(*snap, fresh);
      if (d.kind == Decision::refresh && !fresh) {
        snap.reset();
        continue;
      }
      if (d.kind != Decision::write) {
        if (fresh) remember(*snap);
        return Outcome{*snap, snap->value, backoff.attempts(), lost, false};
      }
      w = counter::plan_write(*snap, d.value, m_options, next_tag(), m_path);
    }

    wait_turn(deadline);
    if (Clock::now() >= deadline) wait_or_give_up(); // throws: the deadline has passed
    backoff.start_attempt();
    std::shared_ptr<Flight> flight;
    std::shared_ptr<ReadFlight> behind;
    const auto sent = Clock::now();
    try {
      flight = start_write(*w);
    } catch (const Error& e) { // refused before anything was sent (closed session, bad argument)
      if (doubt) throw indeterminate(std::string("then ") + e.what());
      throw;
    }
    if (!doubt && contended()) {
      try {
        behind = start_read();
      } catch (const Error&) { // the write is out: its reply decides, the retry reads as usual
      }
    }
    const bool answered = flight->wait_until(request_deadline(deadline));
    const auto latency = Clock::now() - sent;
    Errc code = Errc::deadline_exceeded;
    Stat stat;
    if (answered) {
      auto& r = flight->result();
      code = r.error();
      last_error = r.detail();
      if (r.ok()) stat = r.value();
    } else {
      last_error = "no answer before the request deadline";
    }
    const auto seen = read_behind(behind, deadline);
    if (code == Errc::ok) {
      remember(written(*w, stat));
      saw_children(stat.num_children);
      if (seen && seen->exists && seen->czxid == stat.czxid && seen->version != stat.version) {
        remember(*seen); // another writer's, right after ours
        saw_conflict();
      }
      won(latency);
      return Outcome{base, w->value, backoff.attempts(), lost, true};
    }
    if (resend) doubt->sends.push_back(flight); // a refused copy is evidence too
    if (code == Errc::no_node && w->create) {
      // The parent is missing: create it (as persistent nodes, like Kazoo's ensure_path).
      const std::string parent = parent_of(m_path);
      try {
        if (!parent.empty()) {
          m_session->ensure_path(parent, CreateMode::persistent, request_deadline(deadline));
        }
      } catch (const Error& pe) {
        if (!core::worth_retrying(pe.errc())) throw;
      }
    } else if (classify(code) == ErrorClass::fatal && code != Errc::no_node &&
               code != Errc::session_closed) {
      if (doubt) throw indeterminate("then " + last_error);
      throw Error(code, "counter " + m_path + ": " + last_error);
    } else if (!core::write_refused(code)) {
      ++lost; // no answer: maybe applied; prove it from late answers and the node
      if (!doubt) doubt = Doubt{*w, base, last_error, {flight}};
    }
    // A conflict (bad_version, node_exists), no_node on a set (deleted) and a refusal for now
    // (not_readonly) need a fresh read.
    // Refused because another thread of this object wrote first: no other writer is involved, so
    // no marker and no yield, only the backoff.
    const bool local = won_since(base);
    snap.reset();
    fresh = false;
    forget(); // the cache is known stale: even if this call gives up, the next one re-reads
    if ((code == Errc::bad_version || code == Errc::node_exists) && !local) {
      saw_conflict();
      maybe_announce(++conflicts, deadline);
      if (seen && !doubt && backoff.may_retry_now(Clock::now())) {
        snap = seen; // the read behind the refused write: retry at once, no backoff
        fresh = true;
        saw_children(seen->children);
        continue;
      }
    }
    wait_or_give_up();
  }
}

} // namespace zk::detail
