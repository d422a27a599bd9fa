// Test harness of the lock tests: child processes (our worker, the Curator and Kazoo peers), tokens
// of local handoffs for the shared mutual-exclusion checker, and server-side watch and node counts.
#pragma once

#include "support/checkers.hpp"
#include "support/ensemble.hpp"

#include <zkrecipes/distributed_lock.hpp>

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace zkt::lock {

/// A child process with pipes to its stdin and stdout (stderr is inherited). Killed by the
/// destructor.
class Child {
public:
  explicit Child(const std::vector<std::string>& argv);
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  /// The next line of its stdout, or false at EOF or when the timeout passes.
  bool read_line(std::string& line, std::chrono::milliseconds timeout);
  /// Reads lines until one starts with `prefix`; returns it, or "" on EOF or timeout.
  std::string wait_for(const std::string& prefix, std::chrono::milliseconds timeout);
  /// Every line until EOF (or the timeout).
  std::vector<std::string> read_all(std::chrono::milliseconds timeout);
  void write_line(const std::string& line);
  void kill(int signal);
  /// Waits for exit; returns the raw wait status, or -1 after killing it when the timeout passed.
  int wait(std::chrono::milliseconds timeout);
  [[nodiscard]] pid_t pid() const { return m_pid; }

private:
  pid_t m_pid = -1;
  int m_in = -1;
  int m_out = -1;
  std::string m_buffer;
  bool m_eof = false;
};

/// argv for our worker: this test binary, re-run in worker mode (see lock_worker.cpp).
std::vector<std::string> worker(const std::vector<std::string>& args);
/// argv for the Curator peer (tests/interop/CuratorMutexPeer.java) and the Kazoo peer.
std::vector<std::string> curator_peer(const std::vector<std::string>& args);
std::vector<std::string> kazoo_peer(const std::vector<std::string>& args);

/// Threads of one process hand our lock over locally and then share one node, hence one token.
/// zkt::check_mutual_exclusion wants strictly increasing tokens, so this rewrites each token as
/// token * 1024 + n, where n counts the consecutive holds (by entry time) of one process with the
/// same token. A token reused by another process, or by the same process after someone else held
/// the lock, still fails the check. Returns how many holds were local handoffs.
std::size_t fold_local_handoffs(std::vector<HoldRecord>& holds);

/// Makes this session's next reads see every write committed before (by any session): ZooKeeper
/// orders reads only within a session, and a follower may lag behind the leader.
void sync(zk::Session& s, const std::string& path);
/// The children of `path` after sync() (empty if it does not exist).
std::vector<std::string> children(zk::Session& s, const std::string& path);

/// Number of (path, session) watches under `prefix`, summed over the ensemble's servers (`wchp`).
std::size_t watches_under(const std::string& prefix);
/// Ephemeral nodes under `prefix` that the leader knows of (`dump`).
std::size_t ephemerals_under(const std::string& prefix);

/// Runs the worker entry point if argv asks for it (called from main in lock_worker.cpp).
int worker_main(int argc, char** argv);

} // namespace zkt::lock
