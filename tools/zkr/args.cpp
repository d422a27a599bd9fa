#include "args.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>

namespace zkr {
namespace {

// One line whatever the arguments hold: control characters are shown as \xNN.
[[noreturn]] void usage(const std::string& message) {
  std::string line;
  for (const char c : message) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      static const char hex[] = "0123456789abcdef";
      line += "\\x";
      line += hex[u >> 4];
      line += hex[u & 15];
    } else {
      line += c;
    }
  }
  throw UsageError{line};
}

std::int64_t parse_int(const std::string& text, const std::string& what) {
  if (text.empty()) usage(what + ": expected an integer, got nothing");
  errno = 0;
  char* end = nullptr;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (errno == ERANGE) usage(what + ": " + text + " is out of the 64-bit range");
  if (end == nullptr || *end != '\0') usage(what + ": expected an integer, got \"" + text + "\"");
  return static_cast<std::int64_t>(v);
}

// Takes the value of an option given as "--opt value" or "--opt=value".
std::string take_value(const std::vector<std::string>& args, std::size_t& i,
                       const std::string& name) {
  const std::string& a = args[i];
  const auto eq = a.find('=');
  if (eq != std::string::npos) return a.substr(eq + 1);
  if (i + 1 >= args.size()) usage(name + " needs a value");
  return args[++i];
}

bool is_option(const std::string& a, const std::string& name) {
  return a == name || a.rfind(name + "=", 0) == 0;
}

std::chrono::milliseconds parse_duration_option(const std::vector<std::string>& args,
                                                std::size_t& i, const std::string& name);

// Options every subcommand takes (also before the subcommand). True if args[i] was one.
bool take_common(const std::vector<std::string>& args, std::size_t& i, Common& c) {
  const std::string& a = args[i];
  if (is_option(a, "--hosts")) {
    c.hosts = take_value(args, i, "--hosts");
    if (c.hosts.empty()) usage("--hosts: empty connect string");
  } else if (is_option(a, "--session-timeout")) {
    c.session_timeout = parse_duration_option(args, i, "--session-timeout");
  } else if (is_option(a, "--connect-timeout")) {
    c.connect_timeout = parse_duration_option(args, i, "--connect-timeout");
  } else {
    return false;
  }
  return true;
}

std::chrono::milliseconds parse_duration_option(const std::vector<std::string>& args,
                                                std::size_t& i, const std::string& name) {
  return parse_duration(take_value(args, i, name), name);
}

} // namespace

std::chrono::milliseconds parse_duration(const std::string& text, const std::string& option) {
  std::string number = text;
  double scale = 1000.0; // seconds by default
  if (text.size() > 2 && text.compare(text.size() - 2, 2, "ms") == 0) {
    number = text.substr(0, text.size() - 2);
    scale = 1.0;
  } else if (!text.empty() && text.back() == 's') {
    number = text.substr(0, text.size() - 1);
  }
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(number.c_str(), &end);
  if (number.empty() || end == nullptr || *end != '\0' || errno != 0 || !std::isfinite(v) || v <= 0)
    usage(option + ": expected a positive duration like 5, 2.5s or 300ms, got \"" + text + "\"");
  // "Forever" saturates; a positive duration never rounds down to zero.
  const double ms = v * scale;
  using Ms = std::chrono::milliseconds;
  if (ms >= static_cast<double>(Ms::max().count()) / 2) return Ms::max();
  return Ms(std::max<std::int64_t>(1, std::llround(ms)));
}

Parsed parse(const std::vector<std::string>& args, const char* env_hosts) {
  Parsed p;
  if (env_hosts != nullptr && *env_hosts != '\0') p.common.hosts = env_hosts;
  std::size_t i = 0;
  while (i < args.size() && take_common(args, i, p.common))
    ++i;
  if (i >= args.size())
    usage("missing subcommand (lock, semaphore, leader, counter, holders); try zkr --help");
  p.subcommand = args[i];
  if (p.subcommand == "--help" || p.subcommand == "-h" || p.subcommand == "help") {
    p.subcommand = "help";
    p.help = true;
    return p;
  }
  if (p.subcommand == "--version" || p.subcommand == "version") {
    p.subcommand = "version";
    return p;
  }
  if (p.subcommand != "lock" && p.subcommand != "semaphore" && p.subcommand != "leader" &&
      p.subcommand != "counter" && p.subcommand != "holders")
    usage("unknown subcommand \"" + p.subcommand + "\"; try zkr --help");

  const bool locking = p.subcommand == "lock" || p.subcommand == "semaphore";
  std::vector<std::string> positional;
  for (++i; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      ++i;
      break;
    }
    if (a == "--help" || a == "-h") {
      p.help = true;
    } else if (take_common(args, i, p.common)) {
      continue;
    } else if (locking && is_option(a, "--timeout")) {
      p.lock.timeout = parse_duration(take_value(args, i, "--timeout"), "--timeout");
    } else if (locking && is_option(a, "--grace")) {
      p.lock.grace = parse_duration(take_value(args, i, "--grace"), "--grace");
    } else if (locking && (a == "--try" || a == "-n")) {
      p.lock.try_only = true;
    } else if (p.subcommand == "lock" && (a == "--read" || a == "--write")) {
      const auto side = a == "--read" ? LockArgs::Side::read : LockArgs::Side::write;
      if (p.lock.side != LockArgs::Side::mutex && p.lock.side != side)
        usage("zkr lock: --read and --write exclude each other");
      p.lock.side = side;
    } else if (p.subcommand == "leader" && is_option(a, "--id")) {
      p.leader.id = take_value(args, i, "--id");
    } else if (p.subcommand == "leader" && is_option(a, "--grace")) {
      p.leader.grace = parse_duration(take_value(args, i, "--grace"), "--grace");
    } else if (p.subcommand == "leader" && a == "--requeue") {
      p.leader.requeue = true;
    } else if (p.subcommand == "leader" && a == "--selector") {
      p.leader.selector = true;
    } else if (p.subcommand == "leader" && a == "--show") {
      p.leader.show = true;
    } else if (p.subcommand == "counter" && is_option(a, "--codec")) {
      p.counter.codec = take_value(args, i, "--codec");
      if (p.counter.codec != "int64" && p.counter.codec != "int32" && p.counter.codec != "ascii")
        usage("--codec: expected int64, int32 or ascii, got \"" + p.counter.codec + "\"");
    } else if (a.size() > 1 && a[0] == '-' &&
               !(a.size() > 1 && std::isdigit(static_cast<unsigned char>(a[1])))) {
      usage("unknown option " + a + " for zkr " + p.subcommand);
    } else {
      positional.push_back(a);
    }
  }
  if (p.help) return p;

  if (locking) {
    const std::string& name = p.subcommand;
    const std::size_t want = name == "semaphore" ? 2 : 1;
    if (positional.size() != want) {
      usage("zkr " + name + ": expected " + (want == 2 ? "PATH N" : "one PATH") +
            " before --, got " + std::to_string(positional.size()) + " arguments");
    }
    p.lock.path = positional[0];
    if (name == "semaphore") {
      p.lock.side = LockArgs::Side::lease;
      const std::string& n = positional[1];
      std::size_t used = 0;
      long value = 0;
      try {
        value = std::stol(n, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != n.size() || value < 1 || value > std::numeric_limits<std::int32_t>::max())
        usage("zkr semaphore: N must be a whole number from 1 to 2147483647, not \"" + n + "\"");
      p.lock.max_leases = static_cast<std::int32_t>(value);
    }
    p.lock.command.assign(args.begin() + static_cast<std::ptrdiff_t>(i), args.end());
    if (p.lock.command.empty()) usage("zkr " + name + ": missing COMMAND after --");
    if (p.lock.try_only && p.lock.timeout)
      usage("zkr " + name + ": --try and --timeout exclude each other");
  } else if (p.subcommand == "leader") {
    if (positional.size() != 1)
      usage("zkr leader: expected one PATH, got " + std::to_string(positional.size()));
    p.leader.path = positional[0];
    p.leader.command.assign(args.begin() + static_cast<std::ptrdiff_t>(i), args.end());
    if (p.leader.show && !p.leader.command.empty()) usage("zkr leader --show: no COMMAND expected");
    if (!p.leader.show && p.leader.command.empty()) usage("zkr leader: missing COMMAND after --");
  } else if (p.subcommand == "holders") {
    if (positional.size() != 1) usage("zkr holders: expected one PATH");
    p.holders.path = positional[0];
  } else {
    if (positional.empty())
      usage("zkr counter: missing operation (get, incr, decr, add, set, cas)");
    CounterArgs& c = p.counter;
    c.op = positional[0];
    std::size_t want = 0;
    if (c.op == "get" || c.op == "incr" || c.op == "decr") {
      want = 2;
    } else if (c.op == "add" || c.op == "set") {
      want = 3;
    } else if (c.op == "cas") {
      want = 4;
    } else {
      usage("zkr counter: unknown operation \"" + c.op + "\"");
    }
    if (positional.size() != want) {
      usage("zkr counter " + c.op + ": expected " + std::to_string(want - 1) +
            " argument(s), got " + std::to_string(positional.size() - 1));
    }
    if (want >= 3) c.value = parse_int(positional[1], "zkr counter " + c.op);
    if (want == 4) c.desired = parse_int(positional[2], "zkr counter cas DESIRED");
    c.path = positional.back();
  }
  return p;
}

std::string main_help() {
  return R"(usage: zkr SUBCOMMAND [options] ...

Distributed locks, semaphores, leader election and counters on a ZooKeeper ensemble.

  zkr lock PATH [options] -- COMMAND [ARGS...]   run COMMAND while holding the lock PATH
  zkr lock --read|--write PATH [...] -- COMMAND  the same with a side of the read-write lock PATH
  zkr semaphore PATH N [options] -- COMMAND      run COMMAND while holding one of N leases of PATH
  zkr leader PATH [options] -- COMMAND [ARGS...] run COMMAND only while elected leader on PATH
  zkr leader --show PATH                         print the leader and the participants
  zkr counter get|incr|decr|add N|set N|cas EXPECTED DESIRED PATH [--codec C]
  zkr holders PATH                               list the contenders of a lock, marking the holder

Common options:
  --hosts H             connect string (default: $ZK_HOSTS, else 127.0.0.1:2181)
  --session-timeout D   requested session timeout (default 10s)
  --connect-timeout D   give up connecting after D (default 10s)
  -h, --help            help for a subcommand
  --version             print zkr's version (the library's) and exit

Durations: 5 (seconds), 2.5s, 300ms.

Exit codes: 0 ok; 1 cas did not swap; 64 bad arguments (a malformed --hosts too); 65 undecodable
data in a znode, or a counter value that does not fit its encoding (overflow); 69 ensemble
unreachable or session ended; 70 other ZooKeeper error (also a counter update whose outcome could not
be proven); 75 contended, try again later: lock not acquired (--try, --timeout) or a counter update
that kept losing to other writers until its retries ran out; 76 lock or leadership lost while the
command ran (it was terminated) or just before it started; 126
command could not be run; 127 command not found; otherwise the command's own exit code (128+N if it
died of signal N).
)";
}

std::string lock_help() {
  return R"(usage: zkr lock PATH [options] -- COMMAND [ARGS...]
       zkr lock --read|--write PATH [options] -- COMMAND [ARGS...]

Runs COMMAND while holding the distributed lock PATH, like flock(1) across machines. With --read or
--write, PATH is a read-write lock (Curator InterProcessReadWriteLock's node form): any number of
--read commands run at once, a --write command runs alone. While waiting, it
says on stderr whom it is waiting for. The command gets ZKR_FENCING_TOKEN (increases with every
acquisition: pass it to what you write) and ZKR_LOCK_PATH in its environment. The command runs in a
process group of its own, and everything in that group is signalled with it: if the lock is lost
(session expired or lost, node deleted), the whole group gets SIGTERM, then SIGKILL after the grace
period, and zkr exits 76; SIGINT, SIGTERM and SIGHUP sent to zkr are passed on to the group. The lock
is released only once the whole group is gone: processes the command leaves running when it exits
(background jobs) are terminated the same way first. Processes that leave the group (setsid, daemons,
jobs of an interactive shell) are not followed. Ctrl-Z stops zkr with the command. If the lock turns
out to have been lost while the command ran, zkr exits 76; otherwise with the command's exit code.

Options:
  --read           hold the read side of the read-write lock PATH (shared with other readers)
  --write          hold its write side (exclusive; a later reader waits for it)
  --try, -n        do not wait: exit 75 at once if the lock is held
  --timeout D      wait at most D, then exit 75
  --grace D        time between SIGTERM and SIGKILL when the group is terminated (default 5s)
  --hosts H, --session-timeout D, --connect-timeout D   as for every subcommand
)";
}

std::string semaphore_help() {
  return R"(usage: zkr semaphore PATH N [options] -- COMMAND [ARGS...]

Runs COMMAND while holding one of the N leases of the semaphore PATH: at most N such commands run at
once across machines (Curator InterProcessSemaphoreV2's node form: a lock at PATH/locks, leases
under PATH/leases; every process must use the same N). While waiting, it says on stderr who holds
the leases. The command gets ZKR_FENCING_TOKEN (the lease node's czxid) and ZKR_LOCK_PATH. It is
supervised as by zkr lock: if the lease is lost the command's process group is terminated and zkr
exits 76; exit codes and signals as for zkr lock (75: no lease free with --try, or none within
--timeout).

Options:
  --try, -n        do not wait: exit 75 at once if no lease is free
  --timeout D      wait at most D, then exit 75
  --grace D        time between SIGTERM and SIGKILL when the group is terminated (default 5s)
  --hosts H, --session-timeout D, --connect-timeout D   as for every subcommand
)";
}

std::string leader_help() {
  return R"(usage: zkr leader PATH [options] -- COMMAND [ARGS...]
       zkr leader --show PATH [--selector]

Joins the leader election PATH and runs COMMAND only while this participant leads: one of any number
of zkr leader processes on as many machines runs it at a time. The command gets ZKR_LEADER_TERM (the
term's fencing token: it increases from term to term; pass it to what you write) and ZKR_LEADER_PATH.
It runs in a process group of its own, supervised as by zkr lock: if leadership is lost (session
expired or lost, node deleted) or becomes uncertain (the connection is suspended), the whole group
gets SIGTERM, then SIGKILL after the grace period, and zkr exits 76; signals to zkr are passed on.
When the command ends, zkr leaves the election and exits with the command's exit code; with
--requeue it joins again and runs the command at each next term (also after a loss), until a signal
ends it or the command cannot be run (126, 127).

Options:
  --id ID          this participant's id, the data of its node (default host:pid zkr)
  --requeue        run the command again at every next term
  --selector       Curator LeaderSelector (InterProcessMutex) node form `_c_<uuid>-lock-<seq>`;
                   default: Curator LeaderLatch form `_c_<uuid>-latch-<seq>`
  --show           print the leader ('*') and every participant: node and id; run nothing
  --grace D        time between SIGTERM and SIGKILL when the group is terminated (default 5s)
  --hosts H, --session-timeout D, --connect-timeout D   as for every subcommand
)";
}

std::string counter_help() {
  return R"(usage: zkr counter OP PATH [--codec int64|int32|ascii] [--hosts H]

  get PATH                  print the value (a missing node reads as 0)
  incr PATH, decr PATH      add 1 / -1 and print the new value
  add N PATH                add N and print the new value
  set N PATH                set the value to N
  cas EXPECTED DESIRED PATH set DESIRED only if the value is EXPECTED; exit 1 if it was not

--codec: int64 (8-byte big-endian, Curator DistributedAtomicLong; default), int32 (4-byte, Curator
SharedCount), ascii (decimal text, Kazoo Counter). Undecodable data exits 65 and is left in place.
)";
}

std::string holders_help() {
  return R"(usage: zkr holders PATH [--hosts H]

Lists the contenders of the lock PATH in queue order: sequence, node name and data (who it is). The
holder is marked with '*'; a child of no known lock-node form is marked '?' (it blocks the lock). A
read-write lock's path (Curator's __WRIT__/__READ__ or Kazoo's __rlock__ nodes) is shown by the
read-write rules: every reader ahead of all writers holds. A semaphore's path (zkr semaphore's, with
PATH/leases) lists its leases, oldest first.
)";
}

// From the library's one classification (zk::classify), with the codes a script can act on.
int exit_code_for(const zk::Error& e) {
  switch (e.errc()) {
  case zk::Errc::bad_data:
  case zk::Errc::overflow: // the value, or the result asked for, does not fit the encoding
    return exit_bad_data;
  case zk::Errc::invalid_argument:
    return exit_usage;
  case zk::Errc::retries_exhausted: // other writers kept winning: the ensemble is fine
    return exit_contended;
  case zk::Errc::session_closed:
    return exit_unavailable;
  default:
    break;
  }
  switch (e.error_class()) {
  case zk::ErrorClass::retry:
  case zk::ErrorClass::lost:
    return exit_unavailable;
  case zk::ErrorClass::in_doubt: // no answer; an unproven write (indeterminate) is another error
    return e.errc() == zk::Errc::indeterminate ? exit_error : exit_unavailable;
  case zk::ErrorClass::conflict:
  case zk::ErrorClass::fatal:
    break;
  }
  return exit_error;
}

} // namespace zkr
