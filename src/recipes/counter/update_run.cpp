// The counter's read-modify-write protocol (see update_run.hpp and distributed_counter.hpp for the
// contract): conditional writes, conflict retries with backoff, and the proof of a write whose
// reply was lost.
#include "recipes/counter/update_run.hpp"

#include "core/janitor.hpp"

#include <algorithm>

namespace zk::detail {
namespace {

using counter::PlannedWrite;
using counter::Snapshot;
using counter::Verdict;

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

CounterCore::Run::Run(CounterCore& core, Decide decide, Clock::time_point deadline,
                      std::function<void()> wake)
    : m_core(core), m_decide(std::move(decide)), m_deadline(deadline), m_wake(std::move(wake)),
      m_backoff(core.m_options.retry, deadline), m_until(deadline), m_snap(core.cached()) {}

CounterCore::Run::~Run() {
  if (m_ticket != 0) m_turns->forget(m_ticket);
}

void CounterCore::Run::stop(const Error& why) {
  if (!m_stop) m_stop = why;
}

void CounterCore::Run::check_stop() const {
  if (m_stop) throw *m_stop; // advance() makes it indeterminate if a write is in doubt
}

Error CounterCore::Run::abandoned(const Error& why) const {
  if (m_doubt) return indeterminate(std::string("then ") + why.what());
  if (m_phase != Phase::writing) return why;
  return Error(Errc::indeterminate, "counter " + m_core.m_path + ": " + why.what() +
                                        " before the reply to " + describe(*m_write, m_base.value) +
                                        " came; it may or may not have been applied");
}

Error CounterCore::Run::indeterminate(const std::string& why) const {
  return Error(Errc::indeterminate,
               "counter " + m_core.m_path + ": the reply to " +
                   describe(m_doubt->write, m_doubt->base.value) + " was lost (" + m_doubt->cause +
                   ") and " + why + "; it may or may not have been applied, and was not retried");
}

Error CounterCore::Run::exhausted(const std::string& why) const {
  return Error(Errc::retries_exhausted, "counter " + m_core.m_path + ": gave up after " +
                                            std::to_string(m_backoff.attempts()) + " attempts (" +
                                            why + "); last error: " + m_last_error);
}

bool CounterCore::Run::finish(const Outcome& outcome) {
  m_outcome = outcome;
  return false;
}

std::optional<CounterCore::Outcome> CounterCore::Run::advance() {
  try {
    return steps();
  } catch (const Error& e) {
    // Whatever ends the update while a write is in doubt (a request refused by a closing session
    // included) ends it as indeterminate: the caller must not take it for a write not applied.
    if (m_doubt && e.errc() != Errc::indeterminate)
      throw indeterminate(std::string("then ") + e.what());
    throw;
  }
}

std::optional<CounterCore::Outcome> CounterCore::Run::steps() {
  for (;;) {
    bool wait = false;
    switch (m_phase) {
    case Phase::top:
      wait = top();
      break;
    case Phase::reading:
      wait = reading();
      break;
    case Phase::proving:
      wait = proving();
      break;
    case Phase::queued:
      wait = queued();
      break;
    case Phase::turn:
      wait = turn();
      break;
    case Phase::writing:
      wait = writing();
      break;
    case Phase::behind:
      wait = written();
      break;
    case Phase::parents:
      wait = parents();
      break;
    case Phase::announcing:
      wait = announcing();
      break;
    case Phase::pause:
      wait = m_stop == std::nullopt && Clock::now() < m_until;
      if (!wait) m_phase = Phase::top;
      break;
    }
    if (m_outcome) return m_outcome;
    if (wait) return std::nullopt;
  }
}

// Waits out the backoff before the next round, or ends the call: exhausted with nothing in doubt
// is retries_exhausted; with a write in doubt, one more read may still prove it before the
// deadline.
bool CounterCore::Run::pause_or_give_up() {
  const auto now = Clock::now();
  m_phase = Phase::top;
  if (const auto delay = m_backoff.next_delay(now)) {
    m_phase = Phase::pause;
    m_until = now + *delay;
    return false; // advance() looks at the pause at once (it may be zero)
  }
  if (m_doubt && !m_proof_only && !m_backoff.expired(now)) {
    m_proof_only = true;
    return false;
  }
  if (m_doubt) throw indeterminate("the retry policy ran out before it could be proven");
  if (m_backoff.attempts() >= m_core.m_options.retry.max_attempts) {
    throw exhausted("max_attempts " + std::to_string(m_core.m_options.retry.max_attempts) +
                    " reached");
  }
  throw exhausted("the deadline leaves no room for another");
}

bool CounterCore::Run::top() {
  if (!m_snap) {
    if (Clock::now() >= m_deadline) {
      if (m_doubt) throw indeterminate("the deadline passed before it could be proven");
      return pause_or_give_up(); // throws: the deadline has passed
    }
    check_stop();
    m_own_sent = m_core.own_children();
    try {
      m_read = m_core.start_read(m_wake);
    } catch (const Error& e) {
      return read_failed(e);
    }
    m_until = m_core.request_deadline(m_deadline);
    m_phase = Phase::reading;
    return true;
  }
  if (m_doubt) {
    m_until = m_core.request_deadline(m_deadline);
    m_phase = Phase::proving;
    return false;
  }
  return plan();
}

bool CounterCore::Run::reading() {
  if (!m_read->ready() && Clock::now() < m_until) return true;
  const auto read = std::exchange(m_read, nullptr);
  try {
    if (!read->ready()) throw Error(Errc::deadline_exceeded, "get " + m_core.m_path);
    auto& r = read->result();
    if (!r.ok() && r.error() != Errc::no_node) throw r.failure();
    m_snap = m_core.snapshot_of(r.ok() ? std::optional<NodeData>(r.value()) : std::nullopt);
    m_fresh = true;
    m_core.saw_children(m_snap->children, m_own_sent);
  } catch (const Error& e) {
    return read_failed(e);
  }
  m_phase = Phase::top;
  return false;
}

bool CounterCore::Run::read_failed(const Error& e) {
  m_last_error = e.what();
  if (!core::worth_retrying(e.errc())) throw e; // indeterminate if a write is in doubt (advance())
  if (m_proof_only) throw indeterminate("the last proof read failed: " + m_last_error);
  return pause_or_give_up();
}

// Every send of the doubtful write went out before the read that produced the snapshot, on the
// same session: the C client answers requests in order (a dropped connection fails them all
// first), so their answers are already on their way. Waits for them briefly, then judges: late
// answers first, then the node's evidence.
bool CounterCore::Run::proving() {
  auto& sends = m_doubt->sends;
  const bool all =
      std::all_of(sends.begin(), sends.end(), [](const auto& f) { return f->ready(); });
  if (!all && Clock::now() < m_until) return true;
  std::vector<std::optional<Errc>> answers;
  for (const auto& f : sends) {
    answers.push_back(f->ready() ? std::optional<Errc>(f->result().error()) : std::nullopt);
    if (f->ready() && f->result().ok())
      m_core.remember(m_core.written(m_doubt->write, f->result().value()));
  }
  const auto& snap = *m_snap;
  const auto answered = counter::judge_answers(answers);
  const Verdict verdict = answered ? *answered : counter::judge_lost_write(m_doubt->write, snap);
  m_phase = Phase::top;
  switch (verdict) {
  case Verdict::applied:
    m_core.remember(snap);
    return finish(Outcome{m_doubt->base, m_doubt->write.value, m_backoff.attempts(), m_lost, true});
  case Verdict::unprovable:
    m_core.remember(snap);
    throw indeterminate("cannot be proven: " + describe(snap));
  case Verdict::pending:
    if (m_proof_only) throw indeterminate("it is still unanswered when the retry policy ran out");
    m_write = m_doubt->write; // identical bytes and version: at most one of the copies can apply
    m_base = m_doubt->base;
    m_resend = true;
    m_turn_taken = false;
    m_phase = Phase::turn;
    return false;
  case Verdict::not_applied:
    break;
  }
  m_doubt.reset(); // proven not applied and never applicable: start afresh from this read
  if (m_proof_only) {
    m_core.remember(snap);
    throw exhausted("the last one proven not applied");
  }
  return plan();
}

bool CounterCore::Run::plan() {
  const Decision d = m_decide(*m_snap, m_fresh);
  if (d.kind == Decision::refresh && !m_fresh) {
    m_snap.reset();
    m_phase = Phase::top;
    return false;
  }
  if (d.kind != Decision::write) {
    if (m_fresh) m_core.remember(*m_snap);
    return finish(Outcome{*m_snap, m_snap->value, m_backoff.attempts(), m_lost, false});
  }
  m_write =
      counter::plan_write(*m_snap, d.value, m_core.m_options, m_core.next_tag(), m_core.m_path);
  m_base = *m_snap;
  m_resend = false;
  m_turn_taken = false;
  m_in_turn = false; // each round asks again: the turn may have gone to another process since
  const bool queue = !m_no_turn && m_core.contended();
  if (queue && !m_turns) m_turns = m_core.turns();
  m_phase = queue && m_turns ? Phase::queued : Phase::turn;
  return false;
}

// Contended: the write waits for this object's turn, unless the wait for one fails.
bool CounterCore::Run::queued() {
  check_stop();
  if (Clock::now() >= m_deadline) return pause_or_give_up(); // throws: the deadline has passed
  const bool waited = m_ticket != 0;
  switch (m_turns->ask(m_ticket, m_wake)) {
  case counter::Turns::Answer::wait:
    m_until = m_deadline;
    return true;
  case counter::Turns::Answer::skip:
    m_no_turn = true;
    break;
  case counter::Turns::Answer::held:
    m_in_turn = true;
    if (waited) { // the others wrote meanwhile: a write on the cached version would be refused
      m_snap.reset();
      m_fresh = false;
      m_phase = Phase::top;
      return false;
    }
    break;
  }
  m_phase = Phase::turn;
  return false;
}

bool CounterCore::Run::turn() {
  if (!m_turn_taken) { // the yield after a contended win (none in our turn): a wait, not a sync
    m_turn_taken = true;
    m_until = m_in_turn ? Clock::now() : std::min(m_core.turn_at(), m_deadline);
  }
  if (!m_stop && Clock::now() < m_until) return true;
  check_stop();
  if (Clock::now() >= m_deadline) return pause_or_give_up(); // throws: the deadline has passed
  m_sent = Clock::now();
  m_own_sent = m_core.own_children();
  // A send refused at once (closed session, bad argument) throws: nothing was sent.
  m_flight = m_core.start_write(*m_write, m_wake);
  m_backoff.start_attempt(); // once it is out: writes() counts what was sent
  m_read.reset();
  if (!m_doubt && !m_in_turn && m_core.contended()) { // in our turn nobody else should write
    try {
      m_read = m_core.start_read(m_wake);
    } catch (const Error&) { // the write is out: its reply decides, the retry reads as usual
    }
  }
  m_until = m_core.request_deadline(m_deadline);
  m_phase = Phase::writing;
  return true;
}

bool CounterCore::Run::writing() {
  if (!m_flight->ready() && Clock::now() < m_until) return true;
  m_latency = Clock::now() - m_sent;
  m_code = Errc::deadline_exceeded;
  if (m_flight->ready()) {
    auto& r = m_flight->result();
    m_code = r.error();
    m_last_error = r.detail();
    if (r.ok()) m_stat = r.value();
  } else {
    m_last_error = "no answer before the request deadline";
  }
  // Sent after the write on the same connection, the read behind it is answered right after it.
  m_until = m_core.request_deadline(m_deadline);
  m_phase = Phase::behind;
  return false;
}

bool CounterCore::Run::written() {
  if (m_read && !m_read->ready() && !m_stop && Clock::now() < m_until) return true;
  std::optional<Snapshot> seen;
  if (const auto behind = std::exchange(m_read, nullptr); behind && behind->ready()) {
    auto& r = behind->result();
    if (r.ok() || r.error() == Errc::no_node)
      seen = m_core.snapshot_of(r.ok() ? std::optional<NodeData>(r.value()) : std::nullopt);
  }
  const Errc code = *m_code;
  const auto flight = std::exchange(m_flight, nullptr);
  m_phase = Phase::top;
  if (code == Errc::ok) {
    m_core.remember(m_core.written(*m_write, m_stat));
    m_core.saw_children(m_stat.num_children, m_own_sent);
    if (seen && seen->exists && seen->czxid == m_stat.czxid && seen->version != m_stat.version) {
      m_core.remember(*seen); // another writer's, right after ours
      m_core.saw_conflict();
    }
    if (m_in_turn) {
      m_turns->wrote(m_latency);
    } else {
      m_core.won(m_latency);
    }
    return finish(Outcome{m_base, m_write->value, m_backoff.attempts(), m_lost, true});
  }
  if (m_resend) m_doubt->sends.push_back(flight); // a refused copy is evidence too
  const bool missing_parent = code == Errc::no_node && m_write->create;
  if (!missing_parent && classify(code) == ErrorClass::fatal && code != Errc::no_node &&
      code != Errc::session_closed) {
    if (m_doubt) throw indeterminate("then " + m_last_error);
    throw Error(code, "counter " + m_core.m_path + ": " + m_last_error);
  }
  if (!missing_parent && !core::write_refused(code)) {
    ++m_lost; // no answer: maybe applied; prove it from late answers and the node
    if (!m_doubt) m_doubt = Doubt{*m_write, m_base, m_last_error, {flight}};
  }
  // A conflict (bad_version, node_exists), no_node on a set (deleted) and a refusal for now
  // (not_readonly) need a fresh read.
  // Refused because another thread of this object wrote first: no other writer is involved, so
  // no marker and no yield, only the backoff.
  const bool local = m_core.won_since(m_base);
  m_snap.reset();
  m_fresh = false;
  m_core.forget(); // the cache is known stale: even if this call gives up, the next one re-reads
  if (missing_parent) {
    check_stop();
    // Create the ancestors, top down, as persistent nodes (like Kazoo's ensure_path); each create
    // of an existing one is answered node_exists.
    m_creates.clear();
    const auto& path = m_core.m_path;
    for (auto slash = path.find('/', 1); slash != std::string::npos;
         slash = path.find('/', slash + 1)) {
      m_creates.push_back(core::Completion<Created>::make());
      try {
        m_core.m_session->create_async(path.substr(0, slash), "", CreateMode::persistent,
                                       m_creates.back()->callback(m_wake));
      } catch (const Error& e) { // refused before it was sent: those before it are answered
        m_creates.back()->callback({})(Result<Created>(e.errc(), e.what()));
        break;
      }
    }
    m_until = m_core.request_deadline(m_deadline);
    m_phase = Phase::parents;
    return false;
  }
  const bool conflict = code == Errc::bad_version || code == Errc::node_exists;
  if (conflict && !m_doubt && m_core.policy().move_on_conflict)
    throw exhausted("refused: another writer wrote first; the caller moves elsewhere");
  if (conflict && !local) {
    m_core.saw_conflict();
    m_snap = seen; // the read behind the refused write, if any: used if a retry may go at once
    ++m_conflicts;
    if (!m_stop && m_core.claim_announce(m_conflicts, m_marker_session)) {
      m_creates.assign(1, core::Completion<Created>::make());
      // A marker whose answer comes after announcing() stopped waiting for it is deleted as it
      // lands: it would tell the others of a contention long over, for as long as the session.
      m_marker_fate = std::make_shared<std::atomic<MarkerFate>>(MarkerFate::pending);
      auto land = [fate = m_marker_fate, gate = m_core.m_session, owner = m_marker_session,
                   record = m_creates.back()->callback(m_wake)](Result<Created> r) {
        const std::string made = r.ok() ? r.value().path : std::string();
        record(std::move(r));
        if (fate->exchange(MarkerFate::landed) == MarkerFate::given_up && !made.empty())
          core::delete_in_background(gate, made, any_version, owner);
      };
      try {
        m_core.m_session->create_async(m_core.m_path + "/" + std::string(counter::marker_prefix),
                                       "", CreateMode::ephemeral_sequential, std::move(land));
      } catch (const Error& e) { // refused at once: announcing() reports it as a failed create
        m_creates.back()->callback({})(Result<Created>(e.errc(), e.what()));
      }
      m_until = m_core.request_deadline(m_deadline);
      m_phase = Phase::announcing;
      return false;
    }
    return announcing();
  }
  return pause_or_give_up();
}

bool CounterCore::Run::parents() {
  const bool all =
      std::all_of(m_creates.begin(), m_creates.end(), [](const auto& c) { return c->ready(); });
  if (!all && Clock::now() < m_until) return true;
  for (const auto& c : m_creates) {
    if (c->ready() && (c->result().ok() || c->result().error() == Errc::node_exists)) continue;
    // The first failure says why (those after it are its consequence, no_node).
    const Error e = c->ready()
                        ? c->result().failure()
                        : Error(Errc::deadline_exceeded, "create the parent of " + m_core.m_path);
    if (!core::worth_retrying(e.errc())) throw e;
    break;
  }
  m_creates.clear();
  return pause_or_give_up();
}

// After a conflict: our marker's create (if claim_announce said so) has been answered, or it was
// not needed. Then the retry goes at once on the read behind the refused write, or after the
// backoff.
bool CounterCore::Run::announcing() {
  if (!m_creates.empty()) {
    if (!m_creates.front()->ready() && Clock::now() < m_until) return true;
    std::string marker;
    const auto created = std::exchange(m_creates, {}).front();
    const auto fate = std::exchange(m_marker_fate, nullptr);
    if (!created->ready() && fate->exchange(MarkerFate::given_up) == MarkerFate::pending) {
      m_core.m_session->log(LogLevel::debug, "counter " + m_core.m_path +
                                                 ": no contention marker: no answer in time");
    } else if (!created->result().ok()) {
      // No marker (no CREATE permission, the node is gone, a connection loss): the others are not
      // told, and this writer still retries on the read behind its writes. (A create whose reply
      // was lost may have made one: it is ephemeral, and goes with the session.)
      m_core.m_session->log(LogLevel::debug,
                            "counter " + m_core.m_path +
                                ": no contention marker: " + created->result().detail());
    } else {
      marker = created->result().value().path;
    }
    m_core.announced(marker, m_marker_session);
  }
  if (m_snap && !m_doubt && m_backoff.may_retry_now(Clock::now())) {
    m_fresh = true;
    m_core.saw_children(m_snap->children, m_own_sent);
    m_phase = Phase::top;
    return false;
  }
  m_snap.reset();
  return pause_or_give_up();
}

} // namespace zk::detail
