// zkr's command line and exit codes, as pure functions (no I/O) so that unit tests cover every
// form.
#pragma once

#include <zkrecipes/error.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace zkr {

/// Exit codes (documented in `zkr --help` and the README).
enum Exit : int {
  exit_ok = 0,
  exit_cas_failed = 1,   ///< counter cas: the value was not the expected one
  exit_usage = 64,       ///< bad arguments
  exit_bad_data = 65,    ///< a znode holds bytes that cannot be decoded, or a value overflows
  exit_unavailable = 69, ///< the ensemble cannot be reached, or the session ended
  exit_error = 70,       ///< any other ZooKeeper error
  exit_contended = 75,   ///< contended, try again later: lock --try found it held (semaphore: no
                         ///< lease free), --timeout ran out; a counter update lost to other writers
                         ///< until its retries ran out
  exit_lock_lost = 76,   ///< lock: the lock was lost while the command ran (it was terminated);
                         ///< leader: leadership was lost or became uncertain while it ran
  exit_cannot_exec = 126, ///< lock: the command could not be executed
};

struct Common {
  std::string hosts = "127.0.0.1:2181";
  std::chrono::milliseconds session_timeout{10000};
  std::chrono::milliseconds connect_timeout{10000};
};

struct LockArgs {
  /// The DistributedLock, a ReadWriteLock's side, or a Semaphore's lease (zkr semaphore).
  enum class Side { mutex, read, write, lease };
  Side side = Side::mutex;
  std::int32_t max_leases = 0; // zkr semaphore's N
  std::string path;
  std::vector<std::string> command;
  std::optional<std::chrono::milliseconds> timeout; // none: wait forever
  bool try_only = false;
  std::chrono::milliseconds grace{5000}; // SIGTERM, then SIGKILL after this
};

struct CounterArgs {
  std::string op; // get incr decr add set cas
  std::string path;
  std::int64_t value = 0;   // add N, set N, cas's EXPECTED
  std::int64_t desired = 0; // cas DESIRED
  std::string codec = "int64";
};

struct LeaderArgs {
  std::string path;
  std::vector<std::string> command;
  std::string id;        // node data (empty: host:pid zkr)
  bool requeue = false;  // run the command again at each next term
  bool selector = false; // Curator LeaderSelector (mutex) node form instead of LeaderLatch
  bool show = false;     // print the leader and the participants, run nothing
  std::chrono::milliseconds grace{5000};
};

struct HoldersArgs {
  std::string path;
};

struct Parsed {
  std::string subcommand; // lock, semaphore, leader, counter, holders, help, version
  Common common;
  LockArgs lock;
  LeaderArgs leader;
  CounterArgs counter;
  HoldersArgs holders;
  bool help = false; // print the subcommand's help and exit 0
};

/// Parses argv[1..]. `env_hosts` is $ZK_HOSTS (may be null). Throws UsageError with one line.
Parsed parse(const std::vector<std::string>& args, const char* env_hosts);

struct UsageError {
  std::string message;
};

/// The exit code for a library error that ends a subcommand.
int exit_code_for(const zk::Error& e);

/// Help texts.
std::string main_help();
std::string lock_help();
std::string semaphore_help();
std::string leader_help();
std::string counter_help();
std::string holders_help();

/// "1.5" or "2s" or "300ms" → milliseconds; throws UsageError naming the option.
std::chrono::milliseconds parse_duration(const std::string& text, const std::string& option);

} // namespace zkr
