#include "run_locked.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

extern char** environ;

namespace zkr {
namespace {

[[noreturn]] void fail(const char* what) {
  throw std::system_error(errno, std::generic_category(), what);
}

int pidfd_open(pid_t pid) {
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
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
      const pid_t child = m_child.load();
      if (child > 0) {
        ::kill(child, sig);
      } else {
        m_received.store(sig);
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

  const pid_t pid = ::fork();
  if (pid < 0) fail("fork");
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    pthread_sigmask(SIG_SETMASK, &none, nullptr); // zkr blocks the signals it forwards
    ::execvpe(argv[0], argv.data(), envp.data());
    const int err = errno;
    [[maybe_unused]] const auto n = ::write(exec_check[1], &err, sizeof err);
    ::_exit(127);
  }
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

  // Wakes the poll when the child exits. Kernels before 5.3 have no pidfd_open (-1, ENOSYS): then
  // the child is checked every 50 ms instead.
  const int pfd = pidfd_open(pid);
  const int idle_ms = pfd < 0 ? 50 : -1;
  signals.forward_to(pid);
  ChildOutcome outcome;
  bool terminating = false;
  auto kill_at = std::chrono::steady_clock::time_point::max();
  for (;;) {
    pollfd fds[2] = {{pfd, POLLIN, 0}, {loss.fd(), POLLIN, 0}};
    int timeout_ms = idle_ms;
    if (terminating && kill_at != std::chrono::steady_clock::time_point::max()) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          kill_at - std::chrono::steady_clock::now());
      const int until_kill = static_cast<int>(std::clamp<std::int64_t>(left.count(), 0, 60000));
      timeout_ms = idle_ms < 0 ? until_kill : std::min(idle_ms, until_kill);
    }
    const int n = ::poll(fds, 2, timeout_ms);
    if (n < 0 && errno != EINTR) fail("poll");
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      outcome.exit_code = decode(status);
      break;
    }
    if (!terminating && (fds[1].revents & POLLIN) != 0) {
      outcome.lost = true;
      terminating = true;
      ::kill(pid, SIGTERM);
      kill_at = std::chrono::steady_clock::now() + grace;
    } else if (terminating && std::chrono::steady_clock::now() >= kill_at) {
      ::kill(pid, SIGKILL);
      kill_at = std::chrono::steady_clock::time_point::max();
    }
  }
  signals.forward_to(0);
  if (pfd >= 0) ::close(pfd);
  return outcome;
}

} // namespace zkr
