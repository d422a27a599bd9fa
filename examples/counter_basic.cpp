// counter_basic: an exact distributed counter — a few threads increment it, then the program checks
// the total, shows compare-and-set, and shows how an error tells you what to do.
//
//   ZK_HOSTS=127.0.0.11:2181,127.0.0.12:2181,127.0.0.13:2181 ./counter_basic
#include <zkrecipes/distributed_counter.hpp>

#include <atomic>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <vector>

int main() {
  const char* env = std::getenv("ZK_HOSTS");
  const std::string hosts =
      env != nullptr && *env != '\0' ? env : "127.0.0.11:2181,127.0.0.12:2181,127.0.0.13:2181";
  const std::string root = "/examples/counter_basic-" + std::to_string(std::random_device{}());
  try {
    zk::Session session(hosts);
    // The node does not exist yet: it reads as the initial value and the first write creates it.
    zk::DistributedCounter jobs(session, root + "/jobs");
    std::cout << "initial value: " << jobs.get() << '\n';

    // Four threads, 25 increments each. Every increment is one versioned setData when uncontended;
    // a conflict re-reads and retries with backoff, so none is lost and none is counted twice.
    // If a reply is lost and the write cannot be proven either way, increment() throws an
    // `indeterminate` error instead of guessing: the total is then exact up to those few.
    std::atomic<int> acknowledged{0};
    std::atomic<int> unknown{0};
    std::mutex failure_mutex;
    std::optional<zk::Error> failure;
    std::vector<std::thread> workers;
    for (int t = 0; t < 4; ++t)
      workers.emplace_back([&] {
        for (int i = 0; i < 25; ++i) {
          try {
            (void)jobs.increment();
            ++acknowledged;
          } catch (const zk::Error& e) {
            if (e.is_indeterminate()) {
              ++unknown; // applied or not: never retried blindly
              continue;
            }
            const std::lock_guard<std::mutex> lock(failure_mutex);
            if (!failure) failure = e; // anything else ends this worker; main() reports it
            return;
          }
        }
      });
    for (auto& w : workers)
      w.join();
    if (failure) throw *failure;
    const std::int64_t total = jobs.get();
    std::cout << "after 4 x 25 increments: " << total << " (" << acknowledged << " acknowledged, "
              << unknown << " with an unknown outcome)\n";
    const bool exact = total >= acknowledged && total <= acknowledged + unknown;

    const zk::AddResult r = jobs.add_detailed(-10);
    std::cout << "add(-10): " << r.before << " -> " << r.after << " in " << r.attempts
              << " write(s)\n";

    const bool swapped = jobs.compare_and_set(r.after, 1000);
    const bool stale = jobs.compare_and_set(r.after, 2000);
    std::cout << "compare_and_set(" << r.after << ", 1000): " << std::boolalpha << swapped
              << ", again: " << stale << ", value " << jobs.get() << '\n';

    // Garbage in the node is a typed error; the bytes stay as they were.
    session.create(root + "/garbage", "hello");
    zk::DistributedCounter garbage(session, root + "/garbage");
    try {
      (void)garbage.increment();
    } catch (const zk::Error& e) {
      std::cout << "garbage node: " << zk::to_string(e.errc()) << " — " << e.what() << '\n';
    }

    for (const char* child : {"/jobs", "/garbage"})
      session.remove(root + child);
    session.remove(root);
    if (!exact || !swapped || stale) {
      std::cerr << "unexpected result\n";
      return 1;
    }
    std::cout << "OK\n";
    return 0;
  } catch (const zk::Error& e) {
    // An `indeterminate` error means an update may or may not have been applied (its reply was lost
    // and could not be proven either way); the counter never guesses by retrying.
    std::cerr << "counter_basic: " << e.what()
              << (e.is_indeterminate() ? " (outcome unknown: check before retrying)" : "") << '\n';
    return 1;
  }
}
