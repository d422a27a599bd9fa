// History checkers for the fault tests: mutual exclusion of a lock, a read-write lock's and a
// semaphore's holds, and a counter's history.
//
// Each test records what its clients observed, then asks a checker whether the history is possible
// for a correct lock / counter. Checks are pure functions of the records; a failed check explains
// itself in words (`CheckResult::explain()`), naming the records involved.
//
// Records from several processes are merged through files: each process appends one line per
// record (see the line formats below; a line is written with a single write(2) on an O_APPEND file,
// so processes may share one file), and the test loads every file afterwards. Times are
// CLOCK_MONOTONIC nanoseconds, which all processes on one machine share.
//
// Thread safety: MutexHistory and CounterHistory may be recorded into from several threads at once.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace zkt {

/// CLOCK_MONOTONIC now, in nanoseconds.
std::int64_t monotonic_ns();
/// This process's id and this thread's kernel id (for records).
std::int64_t this_process();
std::uint64_t this_thread();

/// What a checker found: ok, or a list of violations in words.
struct CheckResult {
  std::vector<std::string> problems;
  [[nodiscard]] bool ok() const { return problems.empty(); }
  explicit operator bool() const { return ok(); }
  /// "ok", or every problem on its own line (for an assertion message).
  [[nodiscard]] std::string explain() const;
};

// --- Mutual exclusion ---------------------------------------------------------------------------

/// One time a client held the lock. A holder that was killed records its exit as the time it was
/// killed (it cannot act after that), never "unknown".
struct HoldRecord {
  std::int64_t token = 0; ///< fencing token (e.g. the lock node's czxid)
  std::int64_t process = 0;
  std::uint64_t thread = 0;
  std::int64_t enter_ns = 0; ///< CLOCK_MONOTONIC when it learned it holds the lock
  std::int64_t exit_ns = 0;  ///< CLOCK_MONOTONIC when it stopped acting as the holder
  bool shared = false;       ///< a read-write lock's reader (others may hold with it)
};
/// Line format: `hold <token> <process> <thread> <enter_ns> <exit_ns>`; a reader's starts `read`.
std::string to_line(const HoldRecord& r);

/// A write accepted by a fenced resource, in the order the server applied them (e.g. by mzxid).
struct FencedWrite {
  std::int64_t token = 0;  ///< the token the writer claimed
  std::int64_t order = 0;  ///< server order (mzxid)
  std::int64_t writer = 0; ///< who wrote it (a process id; 0: not recorded)
};
/// Line format (elections): `WRITE <token> <order> <writer>`; nullopt for any other line.
std::optional<FencedWrite> parse_write(const std::string& line);

/// Intervals, sorted by enter, must not overlap (touching is fine) and tokens must strictly
/// increase.
CheckResult check_mutual_exclusion(std::vector<HoldRecord> records);
/// A read-write lock's history: a writer's hold overlaps no other hold (reader or writer), and
/// whenever a writer's hold and another are ordered in time, the earlier has the smaller token
/// (writers of one process passing one node along share its token).
/// Readers may overlap one another.
CheckResult check_read_write(const std::vector<HoldRecord>& records);
/// The largest number of readers' holds at one moment.
std::size_t max_concurrent_readers(const std::vector<HoldRecord>& records);
/// The largest number of holds of any kind at one moment.
std::size_t max_concurrent(const std::vector<HoldRecord>& records);
/// A semaphore's history: never more than `max` leases held at one moment, and no two leases with
/// one token (each lease is a node of its own).
CheckResult check_semaphore(const std::vector<HoldRecord>& records, std::size_t max);
/// A fenced resource never accepts a token lower than one it accepted before.
CheckResult check_fenced_writes(std::vector<FencedWrite> writes);
/// An election's fenced writes: as check_fenced_writes (accepted writes ordered by term, so no two
/// terms' writes interleave), and every term's writes come from one writer.
CheckResult check_terms(const std::vector<FencedWrite>& writes);

// --- Counter ------------------------------------------------------------------------------------

enum class Outcome {
  ok,            ///< acknowledged: applied exactly once, `value` is the counter after it
  failed,        ///< definitely not applied
  indeterminate, ///< may or may not have been applied (e.g. connection loss after sending)
};
const char* to_string(Outcome o);

/// One increment (delta may be any non-zero number; uniqueness and order checks need delta > 0).
struct CounterOp {
  std::int64_t process = 0;
  std::int64_t invoke_ns = 0;   ///< CLOCK_MONOTONIC before the call
  std::int64_t complete_ns = 0; ///< CLOCK_MONOTONIC after it returned
  std::int64_t delta = 1;
  Outcome outcome = Outcome::ok;
  std::int64_t value = 0; ///< for ok: the value after this increment; else ignored
};
/// Line format: `incr <process> <invoke_ns> <complete_ns> <delta> <ok|failed|indeterminate>
/// <value>`.
std::string to_line(const CounterOp& r);

/// Checks a counter's history against its final value:
///  - when every delta is positive: ok values are unique, respect real-time order (an op invoked
///    after another completed sees a value at least the earlier value + its own delta), and none
///    exceeds the final value (a value that was seen and then lost means a lost increment);
///  - final == initial + sum(ok deltas) + the sum of some subset of the indeterminate deltas
///    (failed ops count for nothing). The subset-sum search is exact up to ~10^6 partial sums
///    (equal deltas are grouped, so thousands of +1 increments are cheap); past that it only checks
///    that the difference lies between the most negative and the most positive subset sum.
CheckResult check_counter(const std::vector<CounterOp>& ops, std::int64_t final_value,
                          std::int64_t initial = 0);

// --- Recording and files ------------------------------------------------------------------------

/// Records of one kind, from many threads; optionally also appended to a file as they come.
template <class Record> class History {
public:
  History() = default;
  /// Also append every record to `path` (one line each), so another process can merge it.
  explicit History(std::string path) : m_path(std::move(path)) {}
  void add(const Record& r);
  [[nodiscard]] std::vector<Record> records() const;

private:
  mutable std::mutex m_mutex;
  std::vector<Record> m_records;
  std::string m_path;
};
using MutexHistory = History<HoldRecord>;
using CounterHistory = History<CounterOp>;

/// Appends one line to `path` with one write(2) on an O_APPEND descriptor. Throws on failure.
void append_line(const std::string& path, const std::string& line);
/// Parses every `hold` (and `read`) / `incr` line of a stream or files (blank lines and `#`
/// comments skipped; the other kind is skipped too, so both may share a file). Throws
/// std::runtime_error naming the line on a malformed one.
std::vector<HoldRecord> read_holds(std::istream& in);
std::vector<CounterOp> read_counter_ops(std::istream& in);
std::vector<HoldRecord> load_holds(const std::vector<std::string>& paths);
std::vector<CounterOp> load_counter_ops(const std::vector<std::string>& paths);

} // namespace zkt
