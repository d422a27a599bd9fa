#include "run_locked.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

#include <zkrecipes/session.hpp>

extern char** environ;

namespace zkr {
namespace {

[[noreturn]] void fail(const char* what) {
  throw std::system_error(errno, std::generic_category(), what);
}

int pidfd_open(pid_t pid) {
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
}

// True while any process of the group is left (zombies not yet reaped by us included).
bool group_alive(pid_t group) {
  return ::kill(-group, 0) == 0 || errno == EPERM;
}

// Reaps every exited child without blocking: the command itself, and as zkr is the subreaper,
// orphans of its process group. Returns the command's status once it has exited.
bool reap(pid_t command, int& status) {
  bool exited = false;
  for (;;) {
    int st = 0;
    const pid_t p = ::waitpid(-1, &st, WNOHANG);
    if (p <= 0) return exited;
    if (p == command) {
      status = st;
      exited = true;
    }
  }
}

int decode(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

} // namespace

LossSignal::LossSignal() {
  if (::pipe2(m_fds, O_CLOEXEC | O_NONBLOCK) != 0) fail("pipe2");
}
LossSignal::~LossSignal() {
  ::close(m_fds[0]);
  ::close(m_fds[1]);
}
void LossSignal::raise(const std::string& why) noexcept {
  try {
    std::lock_guard<std::mutex> lock(m_mutex);
    if (m_why.empty()) m_why = why;
  } catch (...) {
  }
  const char byte = 1;
  [[maybe_unused]] const auto n = ::write(m_fds[1], &byte, 1);
}
std::string LossSignal::why() const {
  std::lock_guard<std::mutex> lock(m_mutex);
  return m_why;
}

SignalForwarder::SignalForwarder(std::function<void(int)> while_no_child)
    : m_while_no_child(std::move(while_no_child)) {
  sigemptyset(&m_set);
  for (int s : {SIGINT, SIGTERM, SIGHUP})
    sigaddset(&m_set, s);
  // Blocked before any other thread exists, so every thread inherits the mask and only sigtimedwait
  // below ever sees these signals.
  if (pthread_sigmask(SIG_BLOCK, &m_set, nullptr) != 0) fail("pthread_sigmask");
  m_thread = std::thread([this] {
    while (!m_stop.load()) {
      timespec tick{0, 100L * 1000 * 1000}; // re-check m_stop ten times a second
      const int sig = ::sigtimedwait(&m_set, nullptr, &tick);
      if (sig <= 0) continue;
      const pid_t group = m_group.load();
      m_received.store(sig);
      if (group > 0) {
        ::kill(-group, sig);
      } else {
        m_while_no_child(sig);
      }
    }
  });
}

SignalForwarder::~SignalForwarder() {
  m_stop.store(true);
  m_thread.join();
}

ChildOutcome run_child(const std::vector<std::string>& command,
                       const std::vector<std::string>& extra_env, LossSignal& loss,
                       SignalForwarder& signals, std::chrono::milliseconds grace) {
  // A pipe closed on a successful exec tells the parent whether exec worked.
  int exec_check[2];
  if (::pipe2(exec_check, O_CLOEXEC) != 0) fail("pipe2");

  std::vector<std::string> env_storage;
  for (char** e = environ; *e != nullptr; ++e)
    env_storage.emplace_back(*e);
  env_storage.insert(env_storage.end(), extra_env.begin(), extra_env.end());
  std::vector<char*> envp, argv;
  for (auto& e : env_storage)
    envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = command;
  for (auto& a : args)
    argv.push_back(a.data());
  argv.push_back(nullptr);

  // Orphans of the command (a shell's background jobs) become zkr's children, so that they can be
  // waited for and reaped here instead of by init.
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  ForegroundTerminal terminal; // whether zkr has the terminal, to hand it to the command
  const pid_t pid = ::fork();
  if (pid < 0) fail("fork");
  if (pid == 0) {
    // Its own process group: everything the command starts is signalled, and waited for, with it.
    // It takes the terminal before exec, so that it never touches it from the background.
    ::setpgid(0, 0);
    if (terminal.owned()) ForegroundTerminal::give_to(::getpid());
    sigset_t none;
    sigemptyset(&none);
    pthread_sigmask(SIG_SETMASK, &none, nullptr); // zkr blocks the signals it forwards
    ::execvpe(argv[0], argv.data(), envp.data());
    const int err = errno;
    [[maybe_unused]] const auto n = ::write(exec_check[1], &err, sizeof err);
    ::_exit(127);
  }
  ::setpgid(pid, pid); // also here: whichever of the two runs first, the group exists after it
  if (terminal.owned()) ForegroundTerminal::give_to(pid);
  ::close(exec_check[1]);
  int exec_errno = 0;
  const auto got = ::read(exec_check[0], &exec_errno, sizeof exec_errno);
  ::close(exec_check[0]);
  if (got == static_cast<ssize_t>(sizeof exec_errno)) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    errno = exec_errno;
    fail(("cannot run " + command[0]).c_str());
  }

  // Wakes the poll when the command exits. Kernels before 5.3 have no pidfd_open (-1, ENOSYS):
  // then the command is checked every 50 ms instead, as are leftovers of its group once it exited.
  const int pfd = pidfd_open(pid);
  signals.forward_to(pid);
  ChildOutcome outcome;
  bool command_done = false;
  bool terminating = false;
  using SteadyClock = std::chrono::steady_clock;
  constexpr auto never = SteadyClock::time_point::max();
  auto kill_at = never;    // SIGKILL for the group
  auto give_up_at = never; // what survives SIGKILL (not ours to kill, EPERM) is left behind
  const auto terminate = [&](SteadyClock::time_point now) {
    terminating = true;
    ::kill(-pid, SIGTERM);
    ::kill(-pid, SIGCONT); // a stopped process would not act on the SIGTERM
    kill_at = zk::saturating_add(now, grace);
  };
  for (;;) {
    const bool poll_pid = !command_done && pfd >= 0;
    // Once terminating, the loss pipe has said all it has to say (it stays readable).
    pollfd fds[2] = {{terminating ? -1 : loss.fd(), POLLIN, 0}, {poll_pid ? pfd : -1, POLLIN, 0}};
    int timeout_ms = poll_pid ? -1 : 50;
    const auto next = std::min(kill_at, give_up_at);
    if (next != never) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(next - SteadyClock::now());
      const int until = static_cast<int>(std::clamp<std::int64_t>(left.count(), 0, 60000));
      timeout_ms = timeout_ms < 0 ? until : std::min(timeout_ms, until);
    }
    const int n = ::poll(fds, 2, timeout_ms);
    if (n < 0 && errno != EINTR) fail("poll");
    const auto now = SteadyClock::now();
    int status = 0;
    if (!command_done && ::waitpid(pid, &status, WNOHANG | WUNTRACED) == pid) {
      if (WIFSTOPPED(status)) {
        terminal.follow_stop(pid); // Ctrl-Z: zkr stops too, and gives the terminal back after
      } else {
        outcome.exit_code = decode(status);
        command_done = true;
      }
    }
    if (reap(pid, status)) { // orphans; the command too if it exited just now
      outcome.exit_code = decode(status);
      command_done = true;
    }
    if (command_done && !group_alive(pid)) break;
    if (!terminating && fds[0].revents != 0) {
      outcome.lost = true;
      terminate(now);
    } else if (!terminating && command_done) {
      // The command exited but left processes of its group running: they must not outlive the
      // lock, which is released once they are gone.
      outcome.leftovers = true;
      terminate(now);
    } else if (terminating && now >= kill_at) {
      ::kill(-pid, SIGKILL);
      kill_at = never;
      give_up_at = zk::saturating_add(now, grace);
    } else if (now >= give_up_at) {
      outcome.survivors = true;
      break;
    }
  }
  signals.forward_to(0);
  if (pfd >= 0) ::close(pfd);
  return outcome;
}

ForegroundTerminal::ForegroundTerminal() {
  if (::isatty(STDIN_FILENO) != 0 && ::tcgetpgrp(STDIN_FILENO) == ::getpgrp())
    m_owner = ::getpgrp();
}

ForegroundTerminal::~ForegroundTerminal() {
  if (m_owner > 0) give_to(m_owner);
}

// From the background too, where changing the foreground group raises SIGTTOU unless it is blocked.
void ForegroundTerminal::give_to(pid_t group) {
  sigset_t ttou;
  sigemptyset(&ttou);
  sigaddset(&ttou, SIGTTOU);
  sigset_t old;
  pthread_sigmask(SIG_BLOCK, &ttou, &old);
  ::tcsetpgrp(STDIN_FILENO, group);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

void ForegroundTerminal::follow_stop(pid_t group) {
  if (m_owner <= 0) return; // stopped by someone else's signal: theirs to continue
  give_to(m_owner);
  ::raise(SIGTSTP); // as the shell's job: stopped until `fg` or `bg` continues zkr
  if (::tcgetpgrp(STDIN_FILENO) == m_owner) give_to(group); // `fg`: the command's again
  ::kill(-group, SIGCONT);
}

} // namespace zkr
