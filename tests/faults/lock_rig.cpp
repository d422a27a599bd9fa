// The fault matrix's lock workload (see lock_rig.hpp): contenders, their loop, and control.
#include "lock_rig_contender.hpp"

#include <algorithm>
#include <sstream>

namespace zkt::matrix {

namespace {

bool usable(zk::SessionState s) {
  return s == zk::SessionState::connected || s == zk::SessionState::reconnected;
}

} // namespace

LockRig::LockRig(LockRigOptions options, CallLog& calls,
                 std::function<void(const std::string&)> log, std::uint64_t seed)
    : m_options(std::move(options)), m_calls(calls), m_log(std::move(log)), m_seed(seed),
      m_name(m_options.lock_path.substr(m_options.lock_path.rfind('/') + 1)) {}

LockRig::~LockRig() {
  stop();
}

void LockRig::start() {
  for (int i = 0; i < m_options.contenders; ++i) {
    auto c = std::make_unique<Contender>();
    c->index = i;
    c->rng.seed(m_seed * 7919 + static_cast<std::uint64_t>(i));
    auto o = options(m_options.session_timeout);
    if (static_cast<std::size_t>(i) < m_options.hosts.size())
      o.hosts = m_options.hosts[static_cast<std::size_t>(i)];
    o.operation_timeout = m_options.operation_timeout;
    quiet_log(o);
    c->session = std::make_unique<zk::Session>(o);
    c->first_session = c->session->session_id();
    c->parked = std::count(m_options.parked.begin(), m_options.parked.end(), i) > 0;
    Contender* raw = c.get();
    TargetReports reports;
    reports.lost = [this, raw](const std::string& why) {
      const auto now = monotonic_ns();
      {
        std::lock_guard<std::mutex> lock(m_mutex);
        raw->losses.push_back({now, why});
        raw->lost_in_hold = true;
        close_segment(*raw, now);
        m_cv.notify_all();
      }
      m_log(m_name + " contender " + std::to_string(raw->index) + ": on_lost(" + why + ")");
    };
    reports.uncertain = [this, raw](bool u) {
      const auto now = monotonic_ns();
      {
        std::lock_guard<std::mutex> lock(m_mutex);
        raw->uncertainty.push_back({now, u ? "uncertain" : "certain"});
        // Certain again may come without a session event (a lease's own recheck): the hold may be
        // acted on again from here, as after a reconnect.
        if (u) {
          close_segment(*raw, now);
        } else {
          open_segment(*raw, now);
        }
      }
      m_log(m_name + " contender " + std::to_string(raw->index) + ": on_uncertain(" +
            (u ? "true" : "false") + ")");
    };
    c->target = make_target(m_options.recipe, *c->session, m_options.lock_path, reports,
                            m_seed * 7919 + static_cast<std::uint64_t>(i));
    // Registered after the lock's own listener, so on_lost has run when this sees the same event.
    c->session->add_listener([this, raw](const zk::SessionEvent& e) {
      const auto now = monotonic_ns();
      const bool owns = raw->target->holds();
      std::lock_guard<std::mutex> lock(m_mutex);
      raw->states.push_back({now, zk::to_string(e.state)});
      raw->connected = usable(e.state);
      if (!raw->connected)
        close_segment(*raw, now);
      else if (raw->holding && !raw->lost_in_hold && owns)
        open_segment(*raw, now);
    });
    m_contenders.push_back(std::move(c));
  }
  auto o = options(Ms(10000));
  quiet_log(o);
  m_reader = std::make_unique<zk::Session>(o);
  for (auto& c : m_contenders)
    c->thread = std::thread([this, raw = c.get()] { run(*raw); });
}

void LockRig::stop() {
  m_stop = true;
  m_cv.notify_all();
  for (auto& c : m_contenders)
    if (c->thread.joinable()) c->thread.join();
  for (auto& c : m_contenders) {
    // The session first: its listener (above) reads the lock until the session is closed.
    if (c->session) c->session->close();
    c->target.reset();
  }
}

void LockRig::open_segment(Contender& c, std::int64_t now) { // m_mutex held
  if (c.seg_open || !c.holding || c.lost_in_hold || !c.connected) return;
  c.seg_open = true;
  c.seg_enter = now;
}

void LockRig::close_segment(Contender& c, std::int64_t now) { // m_mutex held
  if (!c.seg_open) return;
  c.seg_open = false;
  HoldRecord r;
  r.token = c.token * 64 + c.seg_number++;
  r.process = this_process();
  r.thread = static_cast<std::uint64_t>(c.index);
  r.enter_ns = c.seg_enter;
  r.exit_ns = now;
  r.shared = c.shared;
  c.segments.push_back(r);
}

void LockRig::run(Contender& c) {
  const std::string who = "contender " + std::to_string(c.index);
  const auto rand_ms = [&](Ms lo, Ms hi) {
    return lo +
           Ms(static_cast<Ms::rep>(c.rng() % static_cast<std::uint64_t>((hi - lo).count() + 1)));
  };
  while (!m_stop) {
    {
      std::unique_lock<std::mutex> lock(m_mutex);
      if (c.parked) {
        lock.unlock();
        c.target->idle(); // a parked contender keeps no place in the queue
        lock.lock();
        m_cv.wait_for(lock, Ms(50));
        continue;
      }
    }
    bool got = false;
    zk::Errc err = zk::Errc::ok;
    const bool returned = m_calls.run(
        "try_lock_for", m_options.try_for + m_options.operation_timeout,
        [&] { got = c.target->acquire_for(m_options.try_for); }, &err);
    if (!returned || !got) {
      if (!returned) std::this_thread::sleep_for(Ms(50)); // an error: do not spin on it
      continue;
    }
    std::int64_t token = 0;
    if (!m_calls.run("fencing_token", Ms(100), [&] { token = c.target->token(); })) continue;
    const auto enter = monotonic_ns();
    {
      std::lock_guard<std::mutex> lock(m_mutex);
      c.holding = true;
      c.lost_in_hold = false;
      c.token = token;
      c.shared = c.target->shared();
      c.seg_number = 0;
      c.hold_enter = enter;
      c.hold_starts.push_back(enter);
      c.hold_tokens.push_back(token);
      c.whole.push_back(HoldRecord{token, this_process(), static_cast<std::uint64_t>(c.index),
                                   enter, 0, c.shared});
      open_segment(c, enter);
      m_cv.notify_all();
    }
    const auto until = Clock::now() + rand_ms(m_options.hold_min, m_options.hold_max);
    // Holds that overlap others' write "r-…": only exclusive holds order the fenced resource.
    const std::string data = (c.target->shared() ? "/r-" : "/w-") + std::to_string(token) + "-";
    for (;;) {
      zk::Errc ferr = zk::Errc::ok;
      m_calls.run(
          "fenced", Ms(1000),
          [&] {
            c.target
                ->fenced({zk::Op::create(m_options.fence_dir + data, who,
                                         zk::CreateMode::persistent_sequential)},
                         Ms(1000))
                .throw_if_failed();
          },
          &ferr);
      if (ferr == c.target->gone()) {
        std::lock_guard<std::mutex> lock(m_mutex);
        c.gone.emplace_back(enter, monotonic_ns());
      }
      bool pinned = false;
      {
        std::unique_lock<std::mutex> lock(m_mutex);
        m_cv.wait_for(lock, Ms(50), [&] { return m_stop.load(); });
        pinned = c.pinned;
      }
      if (m_stop || !c.target->holds() || (!pinned && Clock::now() >= until)) break;
    }
    {
      std::lock_guard<std::mutex> lock(m_mutex);
      const auto now = monotonic_ns();
      close_segment(c, now);
      c.whole.back().exit_ns = now;
      c.holding = false;
    }
    m_calls.run("unlock", m_options.operation_timeout, [&] { c.target->release(); });
    {
      std::lock_guard<std::mutex> lock(m_mutex);
      m_cv.notify_all();
    }
    std::this_thread::sleep_for(rand_ms(Ms(0), m_options.idle_max)); // give the others a turn
  }
}

void LockRig::pin(int i) {
  std::lock_guard<std::mutex> lock(m_mutex);
  m_contenders.at(static_cast<std::size_t>(i))->pinned = true;
}

void LockRig::unpin(int i) {
  std::lock_guard<std::mutex> lock(m_mutex);
  m_contenders.at(static_cast<std::size_t>(i))->pinned = false;
  m_cv.notify_all();
}

void LockRig::park(int i, bool parked) {
  std::lock_guard<std::mutex> lock(m_mutex);
  m_contenders.at(static_cast<std::size_t>(i))->parked = parked;
  m_cv.notify_all();
}

bool LockRig::wait_pinned_holding(int i, Ms timeout) {
  std::unique_lock<std::mutex> lock(m_mutex);
  auto& c = *m_contenders.at(static_cast<std::size_t>(i));
  return m_cv.wait_for(lock, timeout, [&] { return c.pinned && c.holding && c.seg_open; });
}

bool LockRig::wait_holds(std::size_t n, Ms timeout) {
  std::unique_lock<std::mutex> lock(m_mutex);
  return m_cv.wait_for(lock, timeout, [&] {
    std::size_t total = 0;
    for (const auto& c : m_contenders)
      total += c->hold_starts.size() - (c->holding ? 1 : 0);
    return total >= n;
  });
}

bool LockRig::wait_holds_of(int i, std::size_t n, Ms timeout) {
  std::unique_lock<std::mutex> lock(m_mutex);
  const auto& c = *m_contenders.at(static_cast<std::size_t>(i));
  return m_cv.wait_for(lock, timeout,
                       [&] { return c.hold_starts.size() - (c.holding ? 1 : 0) >= n; });
}

} // namespace zkt::matrix
