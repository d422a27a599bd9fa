// zkr — distributed locks, semaphores, leader election and counters from the shell. See `zkr
// --help`.
#include "args.hpp"
#include "run_locked.hpp"

#include <zkrecipes/zkrecipes.hpp>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <mutex>
#include <optional>
#include <thread>

namespace {

using namespace zkr;

int fail(int code, const std::string& message) {
  std::cerr << "zkr: " << message << '\n';
  return code;
}

zk::SessionOptions session_options(const Common& c) {
  zk::SessionOptions o;
  o.hosts = c.hosts;
  o.session_timeout = c.session_timeout;
  o.connect_timeout = c.connect_timeout;
  o.log_level = zk::LogLevel::error;
  // One clear line per failure: the C client's own chatter only with ZKR_DEBUG set.
  // NOLINTNEXTLINE(concurrency-mt-unsafe): read before the session starts any thread
  if (std::getenv("ZKR_DEBUG") == nullptr) o.log_sink = [](zk::LogLevel, std::string_view) {};
  return o;
}

zk::CounterCodec codec_of(const std::string& name) {
  if (name == "int32") return zk::CounterCodec::int32_be;
  if (name == "ascii") return zk::CounterCodec::ascii;
  return zk::CounterCodec::int64_be;
}

std::string describe(const zk::LockContender& c) {
  return c.name + (c.data.empty() ? "" : " (" + c.data + ")");
}

using ContendersFn = std::function<std::vector<zk::LockContender>()>;

// Says on stderr whom we wait for, again whenever that changes, until `done`.
void report_waiting(const ContendersFn& contenders, const std::string& path,
                    const std::string& own_data, const std::atomic<bool>& done) {
  std::string last;
  while (!done.load()) {
    try {
      std::string now;
      for (const auto& c : contenders())
        if (c.holder && c.data != own_data) now += (now.empty() ? "" : ", ") + describe(c);
      if (!now.empty() && now != last && !done.load())
        std::cerr << "zkr: waiting for " << path << ", held by " << now << '\n';
      last = now;
    } catch (const zk::Error&) { // the lock call itself reports what matters
    }
    for (int i = 0; i < 10 && !done.load(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

// Who this zkr is, as its lock or election node's data says: "host:pid zkr".
std::string participant_id() {
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  return std::string(host) + ":" + std::to_string(::getpid()) + " zkr";
}

// What zkr says about a command's process group once it is gone, before it lets go of `what`
// ("lock was released" / "lock is released").
void report_group(const ChildOutcome& outcome, const std::string& before,
                  const std::string& anyway) {
  if (outcome.leftovers) {
    std::cerr << "zkr: the command exited leaving processes of its group running; they were "
                 "terminated before the "
              << before << '\n';
  }
  if (outcome.survivors) {
    std::cerr << "zkr: processes of the command's group survived SIGKILL (not ours to kill); the "
              << anyway << " anyway\n";
  }
}

// A read-write lock's read side with the names of the exclusive sides, for hold_and_run.
struct ReadSide {
  zk::ReadWriteLock::Reader& reader;
  void lock() { reader.lock_shared(); }
  bool try_lock() { return reader.try_lock_shared(); }
  bool try_lock_for(std::chrono::milliseconds d) { return reader.try_lock_shared_for(d); }
  [[nodiscard]] std::int64_t fencing_token() const { return reader.fencing_token(); }
  void unlock() { reader.unlock_shared(); }
  void release() { reader.release_shared(); }
};

// A semaphore's lease with the names of a lock, for hold_and_run: holding it is holding a lease.
struct LeaseSide {
  zk::Semaphore& pool;
  std::optional<zk::Lease> lease;
  void lock() { lease = pool.acquire(); }
  bool try_lock() { return take(pool.try_acquire()); }
  bool try_lock_for(std::chrono::milliseconds d) { return take(pool.try_acquire_for(d)); }
  [[nodiscard]] std::int64_t fencing_token() const { return lease->fencing_token(); }
  void unlock() { lease.reset(); }
  void release() {
    if (lease) lease->release();
  }
  bool take(std::optional<zk::Lease> got) {
    lease = std::move(got);
    return lease.has_value();
  }
};

// The leases of a Curator-form semaphore, each a holder, for the waiting report.
std::vector<zk::LockContender> lease_holders(zk::Session& session, const std::string& path) {
  std::vector<zk::LockContender> out;
  const auto leases = path + "/leases/";
  const auto kids = session.children(path + "/leases", std::chrono::seconds(2));
  if (!kids) return out;
  for (const auto& name : kids->names) {
    const auto node = session.get(leases + name, std::chrono::seconds(2));
    if (!node) continue;
    zk::LockContender c;
    c.name = name;
    c.data = node->data;
    c.holder = true;
    if (name.size() > 10) { // _c_<uuid>-lease-<10-digit sequence>
      try {
        c.sequence = std::stoi(name.substr(name.size() - 10));
      } catch (const std::exception&) { // a foreign child: it takes a place all the same
      }
    }
    c.czxid = node->stat.czxid;
    c.ephemeral_owner = node->stat.ephemeral_owner;
    out.push_back(std::move(c));
  }
  return out;
}

// zkr lock's work with any lock side: acquire (saying whom we wait for), run the command while
// held, stop it when the hold is lost.
template <class Side>
int hold_and_run(const LockArgs& a, SignalForwarder& signals, LossSignal& loss, Side& side,
                 const ContendersFn& contenders, const std::string& own_data) {
  const std::string what = (a.side == LockArgs::Side::lease ? "semaphore " : "lock ") + a.path;
  bool acquired = false;
  if (a.try_only) {
    acquired = side.try_lock();
  } else {
    std::atomic<bool> done{false};
    std::thread reporter([&] { report_waiting(contenders, a.path, own_data, done); });
    try {
      if (a.timeout) {
        acquired = side.try_lock_for(*a.timeout);
      } else {
        side.lock();
        acquired = true;
      }
    } catch (...) {
      done.store(true);
      reporter.join();
      throw;
    }
    done.store(true);
    reporter.join();
  }
  if (!acquired) {
    std::string holders;
    try {
      for (const auto& c : contenders())
        if (c.holder) holders += (holders.empty() ? ", held by " : ", ") + describe(c);
    } catch (const zk::Error&) {
    }
    return fail(exit_contended,
                what + " not acquired" + (a.try_only ? "" : " within the timeout") + holders);
  }

  const std::vector<std::string> env = {"ZKR_FENCING_TOKEN=" + std::to_string(side.fencing_token()),
                                        "ZKR_LOCK_PATH=" + a.path};
  ChildOutcome outcome;
  try {
    outcome = run_child(a.command, env, loss, signals, a.grace);
  } catch (const std::system_error& e) {
    side.unlock();
    return fail(e.code().value() == ENOENT ? 127 : exit_cannot_exec, e.what());
  }
  if (outcome.lost) {
    side.unlock();
    return fail(exit_lock_lost, what + " lost while the command ran (" + loss.why() +
                                    "); the command was terminated");
  }
  report_group(outcome, "lock was released", "lock is released");
  // The loss may be found only now (a pause of zkr itself past its session timeout): then the
  // command may have run partly without the lock.
  try {
    side.release();
  } catch (const zk::Error& e) {
    if (e.errc() != zk::Errc::lock_lost) throw;
    return fail(exit_lock_lost,
                what + " was lost while the command ran (found at release: " + e.what() + ")");
  }
  return outcome.exit_code;
}

int run_lock(const Parsed& p, SignalForwarder& signals, zk::Session& session) {
  const LockArgs& a = p.lock;
  LossSignal loss;
  zk::LockOptions options;
  options.node_data = participant_id();
  options.max_local_handoffs = 0;
  options.on_lost = [&loss](const zk::Error& why) { loss.raise(why.what()); };
  if (a.side == LockArgs::Side::lease) {
    zk::SemaphoreOptions so;
    so.node_data = options.node_data;
    so.on_lost = options.on_lost;
    zk::Semaphore pool(session, a.path, a.max_leases, so);
    LeaseSide lease{pool, std::nullopt};
    return hold_and_run(
        a, signals, loss, lease, [&] { return lease_holders(session, a.path); }, options.node_data);
  }
  if (a.side == LockArgs::Side::mutex) {
    zk::DistributedLock lock(session, a.path, options);
    return hold_and_run(
        a, signals, loss, lock,
        [&] { return zk::DistributedLock::contenders(session, a.path, std::chrono::seconds(2)); },
        options.node_data);
  }
  zk::ReadWriteLockOptions rw_options;
  rw_options.lock = options;
  zk::ReadWriteLock rw(session, a.path, rw_options);
  const ContendersFn contenders = [&] {
    return zk::ReadWriteLock::contenders(session, a.path, zk::ReadWriteProfile::curator,
                                         std::chrono::seconds(2));
  };
  if (a.side == LockArgs::Side::write)
    return hold_and_run(a, signals, loss, rw.writer(), contenders, options.node_data);
  ReadSide reader{rw.reader()};
  return hold_and_run(a, signals, loss, reader, contenders, options.node_data);
}

int run_term(const LeaderArgs& a, SignalForwarder& signals, LossSignal& loss, std::int64_t term) {
  const std::vector<std::string> env = {"ZKR_LEADER_TERM=" + std::to_string(term),
                                        "ZKR_LEADER_PATH=" + a.path};
  ChildOutcome outcome;
  try {
    outcome = run_child(a.command, env, loss, signals, a.grace);
  } catch (const std::system_error& e) {
    return fail(e.code().value() == ENOENT ? 127 : exit_cannot_exec, e.what());
  }
  report_group(outcome, "election was left", "election is left");
  if (outcome.lost) {
    return fail(exit_lock_lost, "leadership of " + a.path + " lost while the command ran (" +
                                    loss.why() + "); the command was terminated");
  }
  return outcome.exit_code;
}

int lost_before_start(const LeaderArgs& a, const zk::Error& e) {
  return fail(exit_lock_lost,
              "leadership of " + a.path + " lost before the command started (" + e.what() + ")");
}

// One term in the LeaderLatch form: wait to lead, run the command, leave.
int latch_term(const LeaderArgs& a, const std::string& id, const zk::ElectionListeners& listeners,
               SignalForwarder& signals, LossSignal& loss, zk::Session& session) {
  zk::LatchOptions o;
  o.id = id;
  o.listeners = listeners;
  zk::LeaderLatch latch(session, a.path, o);
  latch.await_leadership(); // a signal closes the session: session_closed
  std::int64_t term = 0;
  try {
    term = latch.term();
  } catch (const zk::Error& e) {
    if (e.errc() != zk::Errc::not_leader) throw;
    return lost_before_start(a, e);
  }
  const int rc = run_term(a, signals, loss, term);
  latch.close();
  return rc;
}

// One term in the LeaderSelector form: the command runs as the selector's function.
int selector_term(const LeaderArgs& a, const std::string& id,
                  const zk::ElectionListeners& listeners, SignalForwarder& signals,
                  LossSignal& loss, zk::Session& session) {
  std::mutex m;
  std::condition_variable cv;
  std::optional<int> rc;
  zk::SelectorOptions o;
  o.id = id;
  o.requeue = false;
  o.listeners = listeners;
  zk::LeaderSelector selector(
      session, a.path,
      [&](zk::Leadership& lead) {
        const auto stop = lead.stop_token().subscribe([&loss] { loss.raise("leadership lost"); });
        const int code = run_term(a, signals, loss, lead.term());
        lead.stop_token().unsubscribe(stop);
        const std::lock_guard<std::mutex> lk(m);
        rc = code;
        cv.notify_all();
      },
      o);
  // The term may begin and end (a quick command) before this thread looks: wait for its result,
  // and ask the election now and then whether it ended otherwise (a signal closes the session).
  for (;;) {
    {
      std::unique_lock<std::mutex> lk(m);
      if (cv.wait_for(lk, std::chrono::milliseconds(100), [&] { return rc.has_value(); }))
        return *rc;
    }
    (void)selector.await_until(zk::Clock::now()); // throws what ended the election
    // Judges the hold: after a pause of zkr past its session timeout the term is lost here, which
    // stops the command (nothing else asks while the command runs).
    (void)selector.is_leader();
  }
}

int show_leader(const LeaderArgs& a, zk::Session& session) {
  const auto all =
      a.selector ? zk::LeaderSelector::participants(session, a.path, zk::SelectorProfile::curator)
                 : zk::LeaderLatch::participants(session, a.path);
  if (all.empty()) {
    std::cout << "no participants in " << a.path << '\n';
    return exit_ok;
  }
  for (const auto& c : all)
    std::cout << (c.leader ? '*' : ' ') << ' ' << c.node << '\t' << c.id << '\n';
  return exit_ok;
}

int run_leader(const Parsed& p, SignalForwarder& signals, zk::Session& session,
               const std::function<void(LossSignal*)>& on_signal_raise) {
  const LeaderArgs& a = p.leader;
  if (a.show) return show_leader(a, session);
  const std::string id = a.id.empty() ? participant_id() : a.id;
  for (;;) {
    LossSignal loss;
    // A signal between winning and starting the command closes the session, which ends the term
    // without a report (a closed session runs no listener): it must stop the command all the same.
    on_signal_raise(&loss);
    struct Unregister {
      const std::function<void(LossSignal*)>& f;
      Unregister(const Unregister&) = delete;
      Unregister& operator=(const Unregister&) = delete;
      Unregister(Unregister&&) = delete;
      Unregister& operator=(Unregister&&) = delete;
      ~Unregister() { f(nullptr); }
    } unregister{on_signal_raise};
    zk::ElectionListeners listeners;
    listeners.on_follower = [&loss] { loss.raise("the term ended"); };
    listeners.on_uncertain = [&loss](bool uncertain) {
      if (uncertain) loss.raise("the connection was suspended: leadership is uncertain");
    };
    const int rc = a.selector ? selector_term(a, id, listeners, signals, loss, session)
                              : latch_term(a, id, listeners, signals, loss, session);
    // A signal to zkr (passed on to the command) ends it, --requeue or not; so does a command that
    // cannot be run.
    if (!a.requeue || signals.received() != 0 || rc == exit_cannot_exec || rc == 127) return rc;
  }
}

int run_counter(const Parsed& p, zk::Session& session) {
  const CounterArgs& c = p.counter;
  zk::CounterOptions options;
  options.codec = codec_of(c.codec);
  zk::DistributedCounter counter(session, c.path, options);
  std::int64_t value = 0;
  if (c.op == "get") {
    value = counter.get();
  } else if (c.op == "incr") {
    value = counter.increment();
  } else if (c.op == "decr") {
    value = counter.decrement();
  } else if (c.op == "add") {
    value = counter.add(c.value);
  } else if (c.op == "set") {
    counter.set(c.value);
    value = c.value;
  } else { // cas
    const zk::CasResult r = counter.compare_and_exchange(c.value, c.desired);
    if (!r.swapped) {
      std::cout << r.after << '\n'; // the value found instead
      return exit_cas_failed;
    }
    value = c.desired;
  }
  std::cout << value << '\n';
  return exit_ok;
}

// The contenders of PATH by the rules of the recipe its children's names belong to.
std::vector<zk::LockContender> contenders_of(zk::Session& session, const std::string& path) {
  auto all = zk::DistributedLock::contenders(session, path);
  const auto named = [&](const char* infix) {
    return std::any_of(all.begin(), all.end(), [infix](const zk::LockContender& c) {
      return c.name.find(infix) != std::string::npos;
    });
  };
  if (named("-__WRIT__") || named("-__READ__"))
    return zk::ReadWriteLock::contenders(session, path, zk::ReadWriteProfile::curator);
  if (named("__rlock__"))
    return zk::ReadWriteLock::contenders(session, path, zk::ReadWriteProfile::kazoo);
  if (std::any_of(all.begin(), all.end(),
                  [](const zk::LockContender& c) { return c.name == "leases"; })) {
    auto leases = lease_holders(session, path);
    std::sort(
        leases.begin(), leases.end(),
        [](const zk::LockContender& a, const zk::LockContender& b) { return a.czxid < b.czxid; });
    for (auto& l : leases)
      l.holder = false; // which of them hold depends on a maximum only the contenders know
    return leases;
  }
  return all;
}

int run_holders(const Parsed& p, zk::Session& session) {
  const auto all = contenders_of(session, p.holders.path);
  if (all.empty()) {
    std::cout << "no contenders for " << p.holders.path << '\n';
    return exit_ok;
  }
  for (const auto& c : all) {
    const char mark = c.holder ? '*' : (c.sequence ? ' ' : '?');
    std::cout << mark << ' ' << (c.sequence ? std::to_string(*c.sequence) : std::string("-"))
              << '\t' << c.name << '\t' << c.data << '\n';
  }
  return exit_ok;
}

} // namespace

int main(int argc, char** argv) {
  Parsed p;
  try {
    // NOLINTNEXTLINE(concurrency-mt-unsafe): no other thread exists yet
    p = parse(std::vector<std::string>(argv + 1, argv + argc), std::getenv("ZK_HOSTS"));
  } catch (const UsageError& e) {
    return fail(exit_usage, e.message);
  }
  if (p.help) {
    if (p.subcommand == "lock") {
      std::cout << lock_help();
    } else if (p.subcommand == "semaphore") {
      std::cout << semaphore_help();
    } else if (p.subcommand == "leader") {
      std::cout << leader_help();
    } else if (p.subcommand == "counter") {
      std::cout << counter_help();
    } else if (p.subcommand == "holders") {
      std::cout << holders_help();
    } else {
      std::cout << main_help();
    }
    return exit_ok;
  }
  if (p.subcommand == "version") {
    std::cout << "zkr (zkrecipes) " << zk::version() << '\n';
    return exit_ok;
  }

  // Before any thread starts: a signal while we wait for the lock closes the session (our queue
  // node goes with it) instead of leaving it behind until the session times out.
  zk::Session* live = nullptr;
  LossSignal* live_loss =
      nullptr; // zkr leader: the term's loss signal, while it may start a command
  std::mutex live_mutex;
  SignalForwarder signals([&](int) {
    std::lock_guard<std::mutex> lock(live_mutex);
    if (live_loss != nullptr) live_loss->raise("zkr was signalled");
    if (live != nullptr) live->close();
  });
  try {
    zk::Session session(session_options(p.common));
    {
      std::lock_guard<std::mutex> lock(live_mutex);
      live = &session;
    }
    int rc = exit_ok;
    try {
      if (p.subcommand == "lock" || p.subcommand == "semaphore") {
        rc = run_lock(p, signals, session);
      } else if (p.subcommand == "leader") {
        rc = run_leader(p, signals, session, [&](LossSignal* l) {
          std::lock_guard<std::mutex> lock(live_mutex);
          live_loss = l;
        });
      } else if (p.subcommand == "counter") {
        rc = run_counter(p, session);
      } else {
        rc = run_holders(p, session);
      }
    } catch (const zk::Error& e) {
      if (signals.received() != 0) {
        rc = 128 + signals.received();
      } else {
        rc = fail(exit_code_for(e), e.what());
      }
    }
    std::lock_guard<std::mutex> lock(live_mutex);
    live = nullptr;
    return rc;
  } catch (const zk::Error& e) {
    if (exit_code_for(e) == exit_unavailable) {
      return fail(exit_unavailable,
                  "cannot reach the ensemble at " + p.common.hosts + ": " + e.what());
    }
    return fail(exit_code_for(e), e.what());
  }
}
