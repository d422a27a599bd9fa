// Child processes of the tests (our workers, the Curator and Kazoo peers) and what the servers
// say about a test's nodes and watches.
#pragma once

#include <zkrecipes/session.hpp>

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace zkt {

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

/// This test binary's path, and `head` followed by `tail`.
std::string self_exe();
std::vector<std::string> with(std::vector<std::string> head, const std::vector<std::string>& tail);
/// argv of a peer program in the build's bin/ (bin/NAME, or $ENV if set: the Java launchers of
/// zkr_add_java_peer, election_peer) and of a Python peer in tests/interop (Debian's python3, which
/// has Kazoo).
std::vector<std::string> peer(const std::string& name, const char* env,
                              const std::vector<std::string>& args);
std::vector<std::string> python_peer(const std::string& script,
                                     const std::vector<std::string>& args);

/// Makes this session's next reads see every write committed before (by any session): ZooKeeper
/// orders reads only within a session, and a follower may lag behind the leader.
void sync(zk::Session& s, const std::string& path);
/// The data of `path` after sync(), or nullopt if it does not exist: how a test reads what another
/// session wrote.
std::optional<std::string> data_of(zk::Session& s, const std::string& path);
/// The children of `path` after sync() (empty if it does not exist).
std::vector<std::string> children(zk::Session& s, const std::string& path);

/// Number of (path, session) watches under `prefix`, summed over the ensemble's servers (`wchp`).
std::size_t watches_under(const std::string& prefix);
/// Ephemeral nodes under `prefix` that the leader knows of (`dump`).
std::size_t ephemerals_under(const std::string& prefix);

} // namespace zkt
