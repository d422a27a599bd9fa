// The fault matrix's counter workload (see counter_rig.hpp).
#include "counter_rig.hpp"

#include <algorithm>
#include <sstream>

namespace zkt::matrix {

struct CounterRig::Client {
  int index = 0;
  std::unique_ptr<zk::Session> session;
  std::unique_ptr<zk::DistributedCounter> counter;
  std::thread thread;
  std::int64_t first_session = 0;
  std::mt19937_64 rng;
  // Guarded by CounterRig::m_mutex.
  bool parked = false;
  bool idle = false; // parked, and no call in progress
  std::vector<CounterOp> ops;
  std::vector<Stamp> states;
};

CounterRig::CounterRig(CounterRigOptions options, CallLog& calls, std::uint64_t seed)
    : m_options(std::move(options)), m_calls(calls), m_seed(seed) {}

CounterRig::~CounterRig() {
  stop();
}

void CounterRig::start() {
  for (int i = 0; i < m_options.clients; ++i) {
    auto c = std::make_unique<Client>();
    c->index = i;
    c->rng.seed(m_seed * 104729 + static_cast<std::uint64_t>(i));
    auto o = options(m_options.session_timeout);
    if (static_cast<std::size_t>(i) < m_options.hosts.size())
      o.hosts = m_options.hosts[static_cast<std::size_t>(i)];
    o.operation_timeout = m_options.operation_timeout;
    quiet_log(o);
    c->session = std::make_unique<zk::Session>(o);
    c->first_session = c->session->session_id();
    c->parked = std::count(m_options.parked.begin(), m_options.parked.end(), i) > 0;
    Client* raw = c.get();
    c->session->add_listener([this, raw](const zk::SessionEvent& e) {
      std::lock_guard<std::mutex> lock(m_mutex);
      raw->states.push_back({monotonic_ns(), zk::to_string(e.state)});
    });
    c->counter = std::make_unique<zk::DistributedCounter>(*c->session, m_options.path);
    m_clients.push_back(std::move(c));
  }
  for (auto& c : m_clients)
    c->thread = std::thread([this, raw = c.get()] { run(*raw); });
}

void CounterRig::stop() {
  m_stop = true;
  m_cv.notify_all();
  for (auto& c : m_clients)
    if (c->thread.joinable()) c->thread.join();
  for (auto& c : m_clients) {
    c->counter.reset();
    if (c->session) c->session->close();
  }
}

void CounterRig::run(Client& c) {
  while (!m_stop) {
    {
      std::unique_lock<std::mutex> lock(m_mutex);
      c.idle = c.parked;
      if (c.parked) {
        m_cv.notify_all();
        m_cv.wait_for(lock, Ms(50));
        continue;
      }
    }
    CounterOp op;
    op.process = c.index;
    op.delta = static_cast<std::int64_t>(1 + c.rng() % 5);
    op.invoke_ns = monotonic_ns();
    zk::Errc err = zk::Errc::ok;
    const bool ok = m_calls.run(
        "add", m_options.deadline,
        [&] { op.value = c.counter->add_detailed(op.delta, m_options.deadline).after; }, &err);
    op.complete_ns = monotonic_ns();
    op.outcome = ok ? Outcome::ok
                    : (err == zk::Errc::indeterminate ? Outcome::indeterminate : Outcome::failed);
    {
      std::lock_guard<std::mutex> lock(m_mutex);
      c.ops.push_back(op);
      m_cv.notify_all();
    }
    const auto i = static_cast<std::size_t>(c.index);
    const Ms idle_max =
        i < m_options.idle_max_of.size() ? m_options.idle_max_of[i] : m_options.idle_max;
    const Ms idle(static_cast<Ms::rep>(c.rng() % static_cast<std::uint64_t>(idle_max.count() + 1)));
    // Pacing (and after an error, no spinning on it): not synchronisation.
    std::this_thread::sleep_for(ok ? idle : std::max(idle, Ms(50)));
  }
}

void CounterRig::park(int i, bool parked) {
  std::lock_guard<std::mutex> lock(m_mutex);
  auto& c = *m_clients.at(static_cast<std::size_t>(i));
  c.parked = parked;
  if (!parked) c.idle = false;
  m_cv.notify_all();
}

bool CounterRig::wait_idle(int i, Ms timeout) {
  std::unique_lock<std::mutex> lock(m_mutex);
  const auto& c = *m_clients.at(static_cast<std::size_t>(i));
  return m_cv.wait_for(lock, timeout, [&] { return c.idle; });
}

namespace {
std::size_t count_ok(const std::vector<CounterOp>& ops, std::int64_t since = 0) {
  return static_cast<std::size_t>(std::count_if(ops.begin(), ops.end(), [&](const CounterOp& o) {
    return o.outcome == Outcome::ok && o.invoke_ns > since;
  }));
}
} // namespace

bool CounterRig::wait_ok(std::size_t n, Ms timeout) {
  std::unique_lock<std::mutex> lock(m_mutex);
  return m_cv.wait_for(lock, timeout, [&] {
    std::size_t total = 0;
    for (const auto& c : m_clients)
      total += count_ok(c->ops);
    return total >= n;
  });
}

bool CounterRig::wait_ok_of(int i, std::size_t n, Ms timeout) {
  std::unique_lock<std::mutex> lock(m_mutex);
  const auto& c = *m_clients.at(static_cast<std::size_t>(i));
  return m_cv.wait_for(lock, timeout, [&] { return count_ok(c.ops) >= n; });
}

std::size_t CounterRig::ops_of_since(int i, std::int64_t ns) const {
  std::lock_guard<std::mutex> lock(m_mutex);
  const auto& ops = m_clients.at(static_cast<std::size_t>(i))->ops;
  return static_cast<std::size_t>(
      std::count_if(ops.begin(), ops.end(), [&](const CounterOp& o) { return o.invoke_ns > ns; }));
}

std::size_t CounterRig::ok_of_since(int i, std::int64_t ns) const {
  std::lock_guard<std::mutex> lock(m_mutex);
  return count_ok(m_clients.at(static_cast<std::size_t>(i))->ops, ns);
}

zk::Session& CounterRig::session(int i) {
  return *m_clients.at(static_cast<std::size_t>(i))->session;
}

std::int64_t CounterRig::first_session(int i) const {
  return m_clients.at(static_cast<std::size_t>(i))->first_session;
}

std::vector<CounterRig::Stamp> CounterRig::states(int i) const {
  std::lock_guard<std::mutex> lock(m_mutex);
  return m_clients.at(static_cast<std::size_t>(i))->states;
}

std::vector<CounterOp> CounterRig::history() const {
  std::lock_guard<std::mutex> lock(m_mutex);
  std::vector<CounterOp> all;
  for (const auto& c : m_clients)
    all.insert(all.end(), c->ops.begin(), c->ops.end());
  return all;
}

std::vector<CounterOp> CounterRig::history_of(int i) const {
  std::lock_guard<std::mutex> lock(m_mutex);
  return m_clients.at(static_cast<std::size_t>(i))->ops;
}

std::string CounterRig::describe_since(int i, std::int64_t ns) const {
  std::lock_guard<std::mutex> lock(m_mutex);
  const auto& c = *m_clients.at(static_cast<std::size_t>(i));
  std::ostringstream out;
  const auto ms = [&](std::int64_t t) { return (t - ns) / 1000000; };
  for (const auto& op : c.ops)
    if (op.complete_ns > ns)
      out << "\n  +" << ms(op.invoke_ns) << ".." << ms(op.complete_ns) << " ms add " << op.delta
          << ": " << to_string(op.outcome);
  for (const auto& st : c.states)
    if (st.ns > ns) out << "\n  +" << ms(st.ns) << " ms session " << st.what;
  return out.str();
}

std::string CounterRig::check(const std::vector<CounterOp>& extra) {
  stop();
  auto ops = history();
  ops.insert(ops.end(), extra.begin(), extra.end());
  auto o = options(Ms(10000));
  quiet_log(o);
  zk::Session reader(o);
  reader.sync(m_options.path, Ms(10000));
  const std::int64_t final_value = zk::DistributedCounter(reader, m_options.path).get(Ms(10000));
  const auto result = check_counter(ops, final_value);
  EXPECT_TRUE(result.ok()) << "the counter's history is impossible (lost or doubled update):\n"
                           << result.explain();
  std::size_t ok = 0;
  std::size_t indeterminate = 0;
  std::size_t failed = 0;
  std::int64_t ok_sum = 0;
  for (const auto& op : ops) {
    if (op.outcome == Outcome::ok) {
      ++ok;
      ok_sum += op.delta;
    } else if (op.outcome == Outcome::indeterminate) {
      ++indeterminate;
    } else {
      ++failed;
    }
  }
  std::ostringstream out;
  out << "ops=" << ops.size() << " ok=" << ok << " indeterminate=" << indeterminate
      << " failed=" << failed << " final=" << final_value << " ok_sum=" << ok_sum;
  return out.str();
}

} // namespace zkt::matrix
