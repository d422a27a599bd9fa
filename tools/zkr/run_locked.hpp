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
/// while a command runs they are forwarded to its whole process group; otherwise
/// `while_no_child(sig)` runs (on the forwarder's own thread). received() reports the last signal.
class SignalForwarder {
public:
  explicit SignalForwarder(std::function<void(int)> while_no_child);
  ~SignalForwarder();
  SignalForwarder(const SignalForwarder&) = delete;
  SignalForwarder& operator=(const SignalForwarder&) = delete;
  /// The process group to forward to (0: none).
  void forward_to(pid_t group) noexcept { m_group.store(group); }
  [[nodiscard]] int received() const noexcept { return m_received.load(); }

private:
  sigset_t m_set{};
  std::function<void(int)> m_while_no_child;
  std::atomic<pid_t> m_group{0};
  std::atomic<int> m_received{0};
  std::atomic<bool> m_stop{false};
  std::thread m_thread;
};

struct ChildOutcome {
  int exit_code = 0;      ///< the command's exit code, or 128+signal
  bool lost = false;      ///< the lock was lost and the command's process group terminated
  bool leftovers = false; ///< the command exited, but processes of its group had to be terminated
  bool survivors = false; ///< processes of the group outlived SIGKILL (not ours: EPERM)
};

/// The terminal, if zkr is in its foreground group: the command's group gets it while it runs, and
/// a stop of the command (Ctrl-Z) stops zkr too, as a shell job; zkr takes it back at the end.
class ForegroundTerminal {
public:
  ForegroundTerminal();
  ~ForegroundTerminal();
  ForegroundTerminal(const ForegroundTerminal&) = delete;
  ForegroundTerminal& operator=(const ForegroundTerminal&) = delete;
  [[nodiscard]] bool owned() const noexcept { return m_owner > 0; }
  /// Makes `group` the foreground group (also from the background).
  static void give_to(pid_t group);
  /// The command's group stopped: take the terminal, stop zkr, and when continued give it back
  /// and continue the group.
  void follow_stop(pid_t group);

private:
  pid_t m_owner = 0;
};

/// Forks and execs `command` with `extra_env` added, in a process group of its own, and waits until
/// that whole group is gone (signals reach the group through `signals`). If `loss` is raised, or
/// the command exits leaving processes of its group behind, the group is terminated: SIGTERM, then
/// SIGKILL after `grace`, then it gives up on survivors after `grace` more. Processes that left the
/// group (setsid, a job-control shell's jobs) are neither waited for nor signalled. Throws
/// std::system_error if the command cannot be started.
ChildOutcome run_child(const std::vector<std::string>& command,
                       const std::vector<std::string>& extra_env, LossSignal& loss,
                       SignalForwarder& signals, std::chrono::milliseconds grace);

} // namespace zkr
