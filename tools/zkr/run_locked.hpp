// Runs a command as a child process while a distributed lock is held, and stops it if the lock is
// lost.
#pragma once

#include <signal.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace zkr {

/// A lock-loss notifier the child-supervision loop can wait on (a pipe, written from any thread).
class LossSignal {
public:
  LossSignal();
  ~LossSignal();
  LossSignal(const LossSignal&) = delete;
  LossSignal& operator=(const LossSignal&) = delete;
  void raise(const std::string& why) noexcept; // from any thread (not from a signal handler)
  [[nodiscard]] int fd() const noexcept { return m_fds[0]; }
  [[nodiscard]] std::string why() const;

private:
  int m_fds[2] = {-1, -1};
  mutable std::mutex m_mutex;
  std::string m_why;
};

/// Takes SIGINT, SIGTERM and SIGHUP for the whole process (construct it before any other thread):
/// while a child runs they are forwarded to it; otherwise `while_no_child(sig)` runs (on the
/// forwarder's own thread) and received() reports the signal.
class SignalForwarder {
public:
  explicit SignalForwarder(std::function<void(int)> while_no_child);
  ~SignalForwarder();
  SignalForwarder(const SignalForwarder&) = delete;
  SignalForwarder& operator=(const SignalForwarder&) = delete;
  void forward_to(pid_t child) noexcept { m_child.store(child); }
  [[nodiscard]] int received() const noexcept { return m_received.load(); }

private:
  sigset_t m_set{};
  std::function<void(int)> m_while_no_child;
  std::atomic<pid_t> m_child{0};
  std::atomic<int> m_received{0};
  std::atomic<bool> m_stop{false};
  std::thread m_thread;
};

struct ChildOutcome {
  int exit_code = 0; ///< the command's exit code, or 128+signal
  bool lost = false; ///< the lock was lost and the command terminated
};

/// Forks and execs `command` with `extra_env` added and waits for it (signals reach it through
/// `signals`); terminates it (SIGTERM, then SIGKILL after `grace`) if `loss` is raised. Throws
/// std::system_error if the command cannot be started.
ChildOutcome run_child(const std::vector<std::string>& command,
                       const std::vector<std::string>& extra_env, LossSignal& loss,
                       SignalForwarder& signals, std::chrono::milliseconds grace);

} // namespace zkr
