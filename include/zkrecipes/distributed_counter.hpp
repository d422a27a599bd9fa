// zkrecipes — zk::DistributedCounter: an exact 64-bit counter in one znode, updated by versioned
// compare-and-set, that never counts an update twice.
//
// clang-format off
//   zk::DistributedCounter jobs(session, "/app/counters/jobs");
//   std::int64_t n = jobs.increment();             // the value after the change
//   n = jobs.add(-42);
//   zk::AddResult r = jobs.add_detailed(5);        // {before, after, attempts}
//   bool swapped = jobs.compare_and_set(10, 11);
//   jobs.set(0);
//   jobs.async_add(1, [](std::error_code ec, zk::AddResult r) { /* no thread waits */ });
// clang-format on
//
// How an update works. The value and data version of the last read or write are cached, so an
// uncontended update is ONE setData(path, new, version). If another writer got there first
// (bad_version), the counter re-reads and retries after an exponential backoff with jitter
// (CounterOptions::retry). A missing node reads as `initial_value` and is created by the first
// write (a create that meets node_exists is a conflict like bad_version). Every write is
// conditional: the counter never sends version -1 ("any version"); a node whose int32 version has
// wrapped to -1 after 2^32 writes makes updates fail with Errc::overflow instead of writing
// blindly.
//
// Contention. A writer refused because another object or process wrote first marks the node with an
// ephemeral child (`zkr-contended-<seq>`). The marker is deleted once the writer has seen no
// competition for a second, when the DistributedCounter is destroyed (before its destructor
// returns), or with its session. Threads of one object refused by each other mark nothing. Every
// reply's Stat carries the node's child count, so the other writers learn of it without a request.
// While a writer sees conflicts or other writers' children, its updates take turns: each
// DistributedCounter waits in a FIFO queue of ephemeral-sequential children of the node
// (`_c_<uuid>-lock-<seq>`, our lock's protocol), then writes on its cache for 8 ms (8 of its writes
// on a slower link) with nobody racing it (one setData per increment), and goes to the back of the
// queue. So N writers keep about one writer's rate between them, and each waits about N - 1 turns,
// never behind a winner's head start. A turn only orders writers; every write stays a versioned
// compare-and-set, so a writer that takes no turns (Curator, Kazoo) or a turn lost with its session
// costs a conflict, never a wrong count. A turn that does not come within 500 ms (its holder
// crashed or paused, and its node stays until its session expires) is not waited for again for a
// second: writes then go at once, each with a getData right behind it, a refusal retried on that
// read's answer, and a win followed by a wait of a random fraction of its latency. Alone, or once
// the competition is quiet, an update is one setData again. Readers and the Curator and Kazoo
// counters ignore the markers and turn nodes. A node with either cannot be deleted until they go:
// destroy the counters, or wait a second after the last conflict, before deleting the node.
//
// Lost replies. When the reply to a write is lost (connection loss, timeout, session expiry),
// blindly retrying could count the update twice. The counter re-reads the node and proves the
// outcome:
//  - a late answer: a reply that merely came after the request deadline is still delivered by the
//    session, and the re-read (sent later on the same session) cannot overtake it. ok = applied; a
//    refusal (bad_version...) from every copy sent = not applied. This settles slow replies for
//    every codec; only a dropped connection (answered "connection loss") needs the node's evidence
//    below.
//  - the node still has the version the write expected: the write has not been applied yet. It may
//    still be in flight, so the counter re-sends the IDENTICAL write (same version, same bytes): at
//    most one of the two can ever apply, and the re-sent one's answer settles the question.
//  - the node moved on: the write at version v is applied iff version v+1 was written by it. What
//    the counter can see of version v+1 depends on the codec:
//    * int64_be (default; writer tags on): after the 8 value bytes the counter stores a trailer
//      with the writer tags {version, writer id, sequence} of the last `tag_history` (default 8)
//      writes made by zkrecipes counters. Proven applied iff the entry for version v+1 carries this
//      write's tag; proven NOT applied if that entry is someone else's, or if the node is at v+1
//      without a trailer (another client wrote it). Unprovable if the entry for v+1 is gone: more
//      than `tag_history` writes since, or a write by another client followed by a later write, or
//      the node was deleted. Curator's DistributedAtomicLong reads only the first 8 bytes (checked
//      in Curator 5.4: ByteBuffer.wrap(data).getLong()), so its get/increment/add interoperate; its
//      compareAndSet compares the whole byte array and so reports failure while a trailer is
//      present (its next increment removes the trailer). Set writer_tags = off for byte-exact
//      8-byte values.
//    * int32_be (writer tags off by default: Kazoo's Counter(support_curator=True) unpacks exactly
//      4 bytes) and ascii (never tagged: Kazoo parses the whole text): proven NOT applied if the
//      node is at v+1 holding bytes different from the ones we wrote. Unprovable if v+1 holds
//      exactly our bytes (another writer may have computed the same value from the same base) or
//      the node is past v+1. int32_be with writer_tags = on proves as much as int64_be (Curator's
//      SharedCount reads the first 4 bytes; Kazoo's support_curator mode can then no longer read
//      the node).
//  Unprovable (or unproven when the deadline or the attempts run out) is an Error with
//  Errc::indeterminate: the update may or may not have been applied, and it was not retried.
//
// Errors (zk::Error): Errc::bad_data for bytes the codec cannot decode (wrong length, non-numeric
// text, a damaged trailer) — the message names the path and shows the bytes, and nothing is
// written; Errc::overflow when the result does not fit the codec (never a silent wrap);
// Errc::retries_exhausted (message gives the attempt count) when the retry policy runs out with
// nothing in doubt; Errc::indeterminate as above; session errors as zk::Session throws them.
//
// Threading: every method but the async_ ones blocks (never call it from a session callback:
// Errc::wrong_thread). With CounterOptions::combine (the default), concurrent add() calls on ONE
// DistributedCounter object are combined: one thread writes the sum of the queued deltas while the
// others wait, and each caller still gets its own distinct {before, after}. A caller whose deadline
// passes while it is queued leaves with Errc::deadline_exceeded and nothing sent; a batch is
// bounded by the earliest deadline of its callers, and a failure of its write is each caller's.
//
// Asynchronous updates (async_add, async_compare_and_exchange; see async.hpp) run the same protocol
// with no thread: each step runs on the session's callback thread as its answer lands, and the
// completion runs there or is given to an Executor. They are bounded as the blocking calls are (a
// default Deadline is the RetryPolicy's timeout: an update waits for nobody), and they are never
// combined. A cancellation stops an update before its next request (Errc::cancelled); a write
// already sent is followed to its answer, so the completion still says whether it counted
// (Errc::indeterminate if it cannot be proven). A pending update keeps what it needs: it completes
// even if its DistributedCounter is destroyed meanwhile (whose contention marker then goes when the
// last such update ends).
#pragma once

#include <zkrecipes/async.hpp>
#include <zkrecipes/cancel.hpp>
#include <zkrecipes/retry.hpp>
#include <zkrecipes/session.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <system_error>

namespace zk {

/// How the value is stored in the znode.
enum class CounterCodec {
  int64_be, ///< 8-byte big-endian two's complement (Curator DistributedAtomicLong)
  int32_be, ///< 4-byte big-endian (Curator SharedCount, Kazoo Counter(support_curator=True))
  ascii,    ///< decimal text, "-?[0-9]+" (Kazoo Counter default)
};
/// "int64_be", "int32_be" or "ascii".
const char* to_string(CounterCodec c) noexcept;

/// Whether writes carry the writer-tag trailer that proves the outcome of a lost reply.
enum class WriterTags {
  automatic, ///< on for int64_be, off for int32_be and ascii
  on,        ///< binary codecs only (ascii + on is Errc::invalid_argument)
  off,       ///< plain value bytes only; lost replies are provable in fewer cases (see above)
};

/// How a DistributedCounter encodes its node and retries its updates.
struct CounterOptions {
  /// The node's encoding; it must match the other clients' (Curator's and Kazoo's, see above).
  CounterCodec codec = CounterCodec::int64_be;
  /// What a missing (or empty) node reads as; must fit the codec.
  std::int64_t initial_value = 0;
  /// Bounds every call: attempts, backoff between conflicting writes, overall timeout (replaced by
  /// a call's own Deadline).
  RetryPolicy retry;
  /// Combine concurrent add() calls of this object's threads into one write (the default: threads
  /// of one object that write apart race each other for every version, a refused write each).
  bool combine = true;
  /// Whether writes carry the trailer that proves the outcome of a lost reply (see WriterTags).
  WriterTags writer_tags = WriterTags::automatic;
  /// How many recent writer tags the trailer keeps (1..32): more survive heavier contention.
  std::size_t tag_history = 8;
};

/// Outcome of compare_and_exchange() (what Curator's AtomicValue reports).
struct CasResult {
  bool swapped = false;    ///< the value was `expected` and is now `desired`
  std::int64_t before = 0; ///< the value the answer is based on (a fresh read when not swapped)
  std::int64_t after = 0;  ///< the value now: `desired` when swapped, else `before`
};

/// Outcome of add_detailed().
struct AddResult {
  std::int64_t before = 0; ///< the value this update was applied to
  std::int64_t after = 0;  ///< the value it produced
  int attempts = 0;        ///< writes sent (1 when uncontended; shared by a combined batch)
  int lost_replies = 0;    ///< writes whose reply was lost and whose outcome was then proven
};

/// The completion of DistributedCounter::async_add(): no error and the update's AddResult, or the
/// error (as add_detailed() throws it) and an empty AddResult.
using AddHandler = std::function<void(std::error_code error, AddResult result)>;
/// The completion of DistributedCounter::async_compare_and_exchange() (as AddHandler).
using CasHandler = std::function<void(std::error_code error, CasResult result)>;

namespace detail {
class CounterCore;
}

/// A counter stored in one znode. See the file comment for encodings, retries and lost replies.
/// Thread safety: all methods are safe to call concurrently; all but the async_ ones block and must
/// not be called from a session callback (Errc::wrong_thread).
/// Errors (zk::Error): Errc::retries_exhausted when the retry policy runs out while other writers
/// keep winning; Errc::indeterminate when a write's reply was lost and its outcome cannot be
/// proven (it may or may not have been applied, and was not retried); Errc::overflow when the
/// result does not fit the codec; Errc::bad_data for a node that does not decode; the session's
/// errors (session_lost, deadline_exceeded, closed) otherwise.
class DistributedCounter {
public:
  /// Validates path and options (Errc::invalid_argument); does no I/O.
  DistributedCounter(Session& session, std::string path, CounterOptions options = {});
  ~DistributedCounter();
  /// Moves the counter; the moved-from object throws Errc::invalid_argument on use.
  DistributedCounter(DistributedCounter&&) noexcept;
  /// Moves the counter; the moved-from object throws Errc::invalid_argument on use.
  DistributedCounter& operator=(DistributedCounter&&) noexcept;
  DistributedCounter(const DistributedCounter&) = delete;
  DistributedCounter& operator=(const DistributedCounter&) = delete;

  /// Adds 1; returns the value after the change.
  std::int64_t increment(Deadline deadline = {});
  /// Subtracts 1; returns the value after the change.
  std::int64_t decrement(Deadline deadline = {});
  /// Adds `delta`; returns the value after the change.
  std::int64_t add(std::int64_t delta, Deadline deadline = {});
  /// Adds `delta`; returns the value before and after and how many writes it took.
  AddResult add_detailed(std::int64_t delta, Deadline deadline = {});
  /// Reads the node (as served by the connected server; call Session::sync first to see every write
  /// acknowledged to other clients).
  [[nodiscard]] std::int64_t get(Deadline deadline = {});
  /// Sets `desired` if the value is `expected` (checked against a fresh read before answering
  /// false).
  [[nodiscard]] bool compare_and_set(std::int64_t expected, std::int64_t desired,
                                     Deadline deadline = {});
  /// As compare_and_set, also returning the value seen, so that a caller who lost the race needs
  /// no second read.
  [[nodiscard]] CasResult compare_and_exchange(std::int64_t expected, std::int64_t desired,
                                               Deadline deadline = {});
  /// Sets the value (still a versioned write: concurrent updates are not overwritten blindly).
  void set(std::int64_t value, Deadline deadline = {});

  /// add_detailed() without blocking a thread (see the file comment and async.hpp): returns at
  /// once; `done` runs once, on the session's callback thread or given to `executor`, with the
  /// AddResult or what add_detailed() would throw (also Errc::cancelled once `cancel` stopped it
  /// before its next request, Errc::session_closed when the session closes first; either is
  /// Errc::indeterminate if a write it sent is in doubt then). May be called
  /// from any thread, a session callback too. Throws Errc::invalid_argument for a moved-from
  /// counter or a null `done`, Errc::session_closed for a closed session.
  void async_add(std::int64_t delta, Deadline deadline, const CancelToken& cancel, AddHandler done,
                 Executor executor = {});
  /// async_add() with the RetryPolicy's timeout and no token.
  void async_add(std::int64_t delta, AddHandler done, Executor executor = {});
  /// async_add() as a future: the AddResult, or the zk::Error thrown by get().
  [[nodiscard]] std::future<AddResult> async_add(std::int64_t delta, Deadline deadline = {},
                                                 const CancelToken& cancel = CancelToken());
  /// compare_and_exchange() without blocking a thread (as async_add()). Throws Errc::overflow at
  /// once for a `desired` that does not fit the codec.
  void async_compare_and_exchange(std::int64_t expected, std::int64_t desired, Deadline deadline,
                                  const CancelToken& cancel, CasHandler done,
                                  Executor executor = {});
  /// async_compare_and_exchange() with the RetryPolicy's timeout and no token.
  void async_compare_and_exchange(std::int64_t expected, std::int64_t desired, CasHandler done,
                                  Executor executor = {});
  /// async_compare_and_exchange() as a future: the CasResult, or the zk::Error thrown by get().
  [[nodiscard]] std::future<CasResult>
  async_compare_and_exchange(std::int64_t expected, std::int64_t desired, Deadline deadline = {},
                             const CancelToken& cancel = CancelToken());

  /// The path and options (empty and the defaults on a moved-from object).
  [[nodiscard]] const std::string& path() const noexcept;
  /// The options it was made with (the defaults on a moved-from object).
  [[nodiscard]] const CounterOptions& options() const noexcept;

private:
  detail::CounterCore& core() const;           // throws Errc::invalid_argument when moved from
  std::shared_ptr<detail::CounterCore> m_core; // shared with its pending async updates
};

} // namespace zk
