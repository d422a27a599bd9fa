// Child processes of the fault matrix: the Child handle, and the worker modes of this same binary
// (`--matrix-worker MODE ...`), used where a fault acts on a whole client process (SIGSTOP, kill
// -9):
//
//   lock-hold HOSTS LOCK FENCE_DIR SESSION_MS
//       locks LOCK, prints "HELD <token> <enter_ns>", then every 100 ms makes a fenced write (a
//       sequential child FENCE_DIR/w-<token>-<seq>) and prints "FENCE ok|<errc> <ns>";
//       prints "LOST <errc> <ns>" / "UNCERTAIN 0|1 <ns>" as the lock reports them; on a stdin line
//       (or EOF) unlocks, closes and prints "BYE".
//   election-hold HOSTS PATH FENCE_DIR SESSION_MS
//       the same with a LeaderLatch on PATH: "HELD <term> <ns>" once it leads, "LOST on_follower
//       <ns>" when the term ends.
//   rwlock-hold HOSTS PATH FENCE_DIR SESSION_MS
//       lock-hold with the write side of a ReadWriteLock on PATH.
//   semaphore-hold HOSTS PATH FENCE_DIR SESSION_MS
//       lock-hold with a lease of a Semaphore (max semaphore_max) on PATH; its fenced writes are
//       named "r-<token>-<seq>" (a shared hold's: they order nothing).
//   counter-inc HOSTS PATH SESSION_MS OUT_FILE DEADLINE_MS
//       increments PATH until a stdin line (or EOF), appending one zkt::CounterOp line per call to
//       OUT_FILE (outcome: ok, indeterminate for Errc::indeterminate, failed otherwise); prints
//       "REFUSED <invoke_ns> <attempts>" for an add that needed more than one write; "DONE <n>".
// Both print "READY <session id>" once connected. Times are CLOCK_MONOTONIC ns (shared with the
// test).
#include "matrix_support.hpp"
#include "rig_target.hpp"

#include <zkrecipes/distributed_counter.hpp>
#include <zkrecipes/distributed_lock.hpp>
#include <zkrecipes/leader.hpp>
#include <zkrecipes/read_write_lock.hpp>
#include <zkrecipes/semaphore.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <optional>

extern char** environ;

namespace zkt::matrix {
namespace {

std::string self_exe() {
  char buf[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) throw std::runtime_error("readlink /proc/self/exe failed");
  return std::string(buf, static_cast<std::size_t>(n));
}

std::mutex g_out_mutex;
void say(const std::string& line) {
  std::lock_guard<std::mutex> lock(g_out_mutex);
  std::cout << line << std::endl;
}

// True if stdin has a line or is at EOF: the parent's "stop". Waits at most `wait`.
bool stop_requested(Ms wait) {
  pollfd p{0, POLLIN, 0};
  const int r = ::poll(&p, 1, static_cast<int>(wait.count()));
  return r > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR)) != 0;
}

zk::SessionOptions worker_options(const std::string& hosts, const std::string& session_ms) {
  auto o = options(Ms(std::stoi(session_ms)));
  o.hosts = hosts;
  o.operation_timeout = Ms(std::stoi(session_ms));
  quiet_log(o);
  return o;
}

// The holder's loop: every 100 ms a fenced write named like the LockRig's ("w-<token>-<seq>", so
// one listing orders both), until a stdin line. FENCE OUTCOME END_NS START_NS OWNS LOCAL: whether
// the recipe said held just before, and whether a refusal was local (nothing sent) or the server's.
template <class Owns, class Fenced>
void fence_until_told(const std::string& fence_dir, std::int64_t token, Owns owns, Fenced fenced,
                      const char* prefix = "/w-") {
  const std::string name = fence_dir + prefix + std::to_string(token) + "-";
  const std::string data = "worker " + std::to_string(::getpid());
  while (!stop_requested(Ms(100))) {
    const auto start = monotonic_ns();
    const bool held = owns();
    std::string outcome = "ok";
    bool local = false;
    try {
      fenced({zk::Op::create(name, data, zk::CreateMode::persistent_sequential)}).throw_if_failed();
    } catch (const zk::Error& e) {
      outcome = zk::to_string(e.errc());
      local = std::string(e.what()).find("nothing was sent") != std::string::npos;
    }
    say("FENCE " + outcome + " " + std::to_string(monotonic_ns()) + " " + std::to_string(start) +
        (held ? " 1" : " 0") + (local ? " 1" : " 0"));
  }
}

void report_uncertain(bool u) {
  say(std::string("UNCERTAIN ") + (u ? "1 " : "0 ") + std::to_string(monotonic_ns()));
}

void report_lost(const zk::Error& e) {
  say(std::string("LOST ") + zk::to_string(e.errc()) + " " + std::to_string(monotonic_ns()));
}

// lock-hold's protocol for any hold: acquire within 30 s, HELD, fenced writes until told, then
// RELEASE with what release() reported (lock_lost if the hold was lost meanwhile), BYE.
template <class Hold>
int hold_and_fence(zk::Session& session, const std::string& fence_dir, Hold& h,
                   const char* prefix = "/w-") {
  if (!h.acquire(std::chrono::seconds(30))) {
    say("TIMEOUT");
    return 3;
  }
  const std::int64_t token = h.token();
  say("HELD " + std::to_string(token) + " " + std::to_string(monotonic_ns()));
  fence_until_told(
      fence_dir, token, [&] { return h.owns(); },
      [&](std::vector<zk::Op> ops) { return h.fenced(std::move(ops)); }, prefix);
  std::string released = "ok";
  try {
    h.release();
  } catch (const zk::Error& e) {
    released = zk::to_string(e.errc());
  }
  say("RELEASE " + released);
  session.close();
  say("BYE");
  return 0;
}

// The exclusive sides the workers hold, as hold_and_fence wants them.
template <class Lockable> struct Exclusive {
  Lockable& l;
  bool acquire(std::chrono::seconds t) { return l.try_lock_for(t); }
  std::int64_t token() { return l.fencing_token(); }
  bool owns() { return l.owns_lock(); }
  zk::MultiResult fenced(std::vector<zk::Op> ops) {
    return l.fenced(std::move(ops), std::chrono::seconds(1));
  }
  void release() { l.release(); }
};

struct LeaseHold {
  zk::Semaphore& pool;
  std::optional<zk::Lease> lease;
  bool acquire(std::chrono::seconds t) {
    lease = pool.try_acquire_for(t);
    return lease.has_value();
  }
  std::int64_t token() { return lease->fencing_token(); }
  bool owns() { return lease->held(); }
  zk::MultiResult fenced(std::vector<zk::Op> ops) {
    return lease->fenced(std::move(ops), std::chrono::seconds(1));
  }
  void release() { lease->release(); }
};

int lock_hold(const std::vector<std::string>& a) {
  zk::Session session(worker_options(a[0], a[3]));
  say("READY " + std::to_string(session.session_id()));
  zk::LockOptions lo;
  lo.on_lost = report_lost;
  lo.on_uncertain = report_uncertain;
  zk::DistributedLock lock(session, a[1], lo);
  Exclusive<zk::DistributedLock> hold{lock};
  return hold_and_fence(session, a[2], hold);
}

int rwlock_hold(const std::vector<std::string>& a) {
  zk::Session session(worker_options(a[0], a[3]));
  say("READY " + std::to_string(session.session_id()));
  zk::ReadWriteLockOptions o;
  o.lock.on_lost = report_lost;
  o.lock.on_uncertain = report_uncertain;
  zk::ReadWriteLock rw(session, a[1], o);
  Exclusive<zk::ReadWriteLock::Writer> hold{rw.writer()};
  return hold_and_fence(session, a[2], hold);
}

int semaphore_hold(const std::vector<std::string>& a) {
  zk::Session session(worker_options(a[0], a[3]));
  say("READY " + std::to_string(session.session_id()));
  zk::SemaphoreOptions o;
  o.on_lost = report_lost;
  o.on_uncertain = report_uncertain;
  zk::Semaphore pool(session, a[1], semaphore_max, o);
  LeaseHold hold{pool, std::nullopt};
  return hold_and_fence(session, a[2], hold, "/r-");
}

int election_hold(const std::vector<std::string>& a) {
  zk::Session session(worker_options(a[0], a[3]));
  say("READY " + std::to_string(session.session_id()));
  zk::LatchOptions lo;
  std::atomic<zk::LeaderLatch*> self{nullptr};
  // After a lost term the latch leaves, as a lost lock is not taken again: one hold per worker.
  lo.listeners.on_follower = [&self] {
    say("LOST on_follower " + std::to_string(monotonic_ns()));
    if (auto* l = self.load()) l->close(); // from the callback thread: does not wait
  };
  lo.listeners.on_uncertain = report_uncertain;
  zk::LeaderLatch latch(session, a[1], lo);
  self = &latch;
  if (!latch.await_leadership(std::chrono::seconds(30))) {
    say("TIMEOUT");
    return 3;
  }
  const std::int64_t token = latch.term();
  say("HELD " + std::to_string(token) + " " + std::to_string(monotonic_ns()));
  fence_until_told(
      a[2], token,
      [&] {
        try {
          return latch.is_leader() && latch.term() == token;
        } catch (const zk::Error&) {
          return false;
        }
      },
      [&](std::vector<zk::Op> ops) {
        return latch.fenced(token, std::move(ops), std::chrono::seconds(1)); // this term only
      });
  latch.close();
  say("RELEASE ok");
  session.close();
  say("BYE");
  return 0;
}

int counter_inc(const std::vector<std::string>& a) {
  zk::Session session(worker_options(a[0], a[2]));
  zk::DistributedCounter counter(session, a[1]);
  say("READY " + std::to_string(session.session_id()));
  const Ms deadline(std::stoi(a[4]));
  long n = 0;
  while (!stop_requested(Ms(0))) {
    CounterOp op;
    op.process = this_process();
    op.invoke_ns = monotonic_ns();
    try {
      const auto r = counter.add_detailed(1, deadline);
      op.value = r.after;
      op.outcome = Outcome::ok;
      // More than one write: a conditional write was refused (a stale version) and retried.
      if (r.attempts > 1)
        say("REFUSED " + std::to_string(op.invoke_ns) + " " + std::to_string(r.attempts));
    } catch (const zk::Error& e) {
      op.outcome = e.errc() == zk::Errc::indeterminate ? Outcome::indeterminate : Outcome::failed;
    }
    op.complete_ns = monotonic_ns();
    append_line(a[3], to_line(op));
    ++n;
    std::this_thread::sleep_for(Ms(5)); // pacing, so that the other writers get their turn
  }
  session.close();
  say("DONE " + std::to_string(n));
  return 0;
}

} // namespace

int worker_main(int argc, char** argv) {
  const std::vector<std::string> a(argv + 1, argv + argc);
  try {
    if (a.size() == 5 && a[0] == "lock-hold") return lock_hold({a.begin() + 1, a.end()});
    if (a.size() == 5 && a[0] == "election-hold") return election_hold({a.begin() + 1, a.end()});
    if (a.size() == 5 && a[0] == "rwlock-hold") return rwlock_hold({a.begin() + 1, a.end()});
    if (a.size() == 5 && a[0] == "semaphore-hold") return semaphore_hold({a.begin() + 1, a.end()});
    if (a.size() == 6 && a[0] == "counter-inc") return counter_inc({a.begin() + 1, a.end()});
  } catch (const std::exception& e) {
    std::cerr << "matrix worker: " << e.what() << std::endl;
    return 1;
  }
  std::cerr << "matrix worker: bad arguments" << std::endl;
  return 2;
}

// --- Child ---------------------------------------------------------------------------------------

Child::Child(const std::vector<std::string>& worker_args) {
  std::vector<std::string> argv{self_exe(), "--matrix-worker"};
  argv.insert(argv.end(), worker_args.begin(), worker_args.end());
  int in[2];
  int out[2];
  if (::pipe2(in, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  if (::pipe2(out, O_CLOEXEC) != 0) {
    ::close(in[0]);
    ::close(in[1]);
    throw std::runtime_error("pipe2 failed");
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  std::vector<char*> args;
  for (const auto& s : argv)
    args.push_back(const_cast<char*>(s.c_str()));
  args.push_back(nullptr);
  const int rc = ::posix_spawn(&m_pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(in[0]);
  ::close(out[1]);
  m_in = in[1];
  m_out = out[0];
  if (rc != 0) {
    m_pid = -1;
    throw std::runtime_error("cannot start the worker: " + std::string(std::strerror(rc)));
  }
}

Child::~Child() {
  if (m_pid > 0) {
    ::kill(m_pid, SIGKILL);
    ::waitpid(m_pid, nullptr, 0);
  }
  if (m_in >= 0) ::close(m_in);
  if (m_out >= 0) ::close(m_out);
}

bool Child::read_line(std::string& line, Clock::time_point deadline) {
  for (;;) {
    const auto nl = m_buffer.find('\n');
    if (nl != std::string::npos) {
      line = m_buffer.substr(0, nl);
      m_buffer.erase(0, nl + 1);
      m_lines.push_back(line);
      return true;
    }
    if (m_eof) return false;
    const auto left = std::chrono::duration_cast<Ms>(deadline - Clock::now()).count();
    if (left < 0) return false;
    pollfd p{m_out, POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(std::min<long>(left, INT_MAX)));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    char buf[4096];
    const ssize_t n = ::read(m_out, buf, sizeof buf);
    if (n <= 0)
      m_eof = true;
    else
      m_buffer.append(buf, static_cast<std::size_t>(n));
  }
}

std::string Child::wait_for(const std::string& prefix, Ms timeout) {
  const auto deadline = Clock::now() + timeout;
  std::string line;
  while (read_line(line, deadline))
    if (line.compare(0, prefix.size(), prefix) == 0) return line;
  return {};
}

void Child::drain(Ms timeout) {
  const auto deadline = Clock::now() + timeout;
  std::string line;
  while (read_line(line, deadline)) {
  }
}

void Child::write_line(const std::string& line) {
  const std::string data = line + "\n";
  if (::write(m_in, data.data(), data.size()) != static_cast<ssize_t>(data.size()))
    throw std::runtime_error("write to the worker failed");
}

void Child::signal(int sig) {
  if (m_pid > 0) ::kill(m_pid, sig);
}

int Child::wait(Ms timeout) {
  if (m_pid <= 0) return -1;
  const auto deadline = Clock::now() + timeout;
  int status = 0;
  for (;;) {
    if (::waitpid(m_pid, &status, WNOHANG) == m_pid) {
      m_pid = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    if (Clock::now() >= deadline) {
      ::kill(m_pid, SIGKILL);
      ::waitpid(m_pid, nullptr, 0);
      m_pid = -1;
      return -1;
    }
    // A child's exit has no event to wait on without a SIGCHLD handler.
    std::this_thread::sleep_for(Ms(10));
  }
}

} // namespace zkt::matrix
