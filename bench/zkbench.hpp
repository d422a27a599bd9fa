// zkbench — the C++ side of bench/run.sh: one binary that drives either the raw C client (the
// floor: each scenario's minimal operation sequence, synchronous zoo_* calls) or our recipes, plus
// the primitives probe. It speaks the worker protocol described in bench/README.md on stdin/stdout,
// so the coordinator (bench/run.py) drives it exactly like the Curator and Kazoo workers.
//
// Every time is CLOCK_MONOTONIC in nanoseconds (std::chrono::steady_clock on Linux), the clock of
// Java's System.nanoTime() and Python's time.monotonic_ns(): holds recorded by different processes
// and languages can be merged and ordered.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace zkbench {

inline std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

/// Sleeps until the monotonic time `ns` (returns at once if it has passed).
void sleep_until_ns(std::int64_t ns);

/// A lock as the scenarios use it: lock() blocks until held, unlock() releases.
class BenchLock {
public:
  virtual ~BenchLock() = default;
  virtual void lock() = 0;
  virtual void unlock() = 0;
};

/// A lock taken without blocking a thread (ours only): `granted` runs later, on the session's
/// callback thread, with an empty error and a function that ends that hold, or with the error.
class BenchAsyncLock {
public:
  using Granted = std::function<void(const std::string& error, std::function<void()> release)>;
  virtual ~BenchAsyncLock() = default;
  virtual void lock_async(Granted granted) = 0;
};

/// A counter: incr() adds 1 and returns how many writes it took (1 when uncontended).
class BenchCounter {
public:
  virtual ~BenchCounter() = default;
  /// One increment: the writes it took, or minus that when the implementation gave up (our
  /// retries_exhausted: the caller sees an error, and the bench counts it instead of failing).
  virtual int incr() = 0;
};

/// One implementation (raw C client or our recipes) connected to one server.
class Backend {
public:
  virtual ~Backend() = default;
  /// Session ids (hex) of every session this backend opened so far: the coordinator sums their
  /// server-side packet counts (`cons`) to count requests per lock cycle.
  virtual std::vector<std::string> sessions() const = 0;
  virtual std::unique_ptr<BenchLock> lock(const std::string& path) = 0;
  virtual std::unique_ptr<BenchCounter> counter(const std::string& path) = 0;
  virtual std::unique_ptr<BenchCounter> sharded(const std::string& path) = 0;
  /// One lock per thread for `n` threads of this process on `path`. mode "shared": the natural way
  /// for one session (ours: one DistributedLock object, local handoff; raw: one handle, a node per
  /// thread); "pernode": one session (and so one contender node) per thread.
  virtual std::vector<std::shared_ptr<BenchLock>> thread_locks(const std::string& path, int n,
                                                               const std::string& mode) = 0;
  /// A read-write lock's read side (lock() = lock_shared) and a semaphore of at most `max` leases
  /// (lock() = acquire a lease, unlock() = release it). Only our recipes (and the peers) have them:
  /// by default they throw Failure.
  virtual std::unique_ptr<BenchLock> read_lock(const std::string& path);
  virtual std::unique_ptr<BenchLock> semaphore(const std::string& path, int max);
  /// The lock's asynchronous form; by default it throws Failure.
  virtual std::unique_ptr<BenchAsyncLock> async_lock(const std::string& path);
};

std::unique_ptr<Backend> make_raw_backend(const std::string& hosts);
std::unique_ptr<Backend> make_ours_backend(const std::string& hosts);

/// The primitives probe (probe.cpp): `zkbench probe HOSTS` then commands on stdin.
int run_probe(const std::string& hosts);

/// Hex form of a session id, as ZooKeeper's `cons` prints it (no leading zeros).
std::string hex_id(std::int64_t id);

/// JSON array of integers.
std::string json_array(const std::vector<std::int64_t>& v);

struct Failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

} // namespace zkbench
