// usage_counter: count API calls from many threads without making one znode the bottleneck.
//
// A zk::ShardedCounter spreads the adds over K shard znodes (each a versioned compare-and-set
// counter), so concurrent writers rarely collide; get() sums the shards. While writers run, get()
// is not an atomic snapshot; once they are done it is exact, which is what this example checks
// (up to adds whose outcome a lost reply left unknown; they are counted apart).
//
//   ZK_HOSTS=127.0.0.11:2181,127.0.0.12:2181,127.0.0.13:2181 ./usage_counter
#include <zkrecipes/zkrecipes.hpp>

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
  const std::string path = "/examples/usage_counter-" + std::to_string(std::random_device{}());
  constexpr int threads = 8;
  constexpr int calls_per_thread = 25;
  try {
    zk::Session session(hosts);
    zk::ShardedCounter api_calls(session, path); // 8 shards by default

    // An add whose reply is lost and cannot be proven throws `indeterminate`: it may or may not
    // have counted. Count those apart; the total is exact up to them.
    std::atomic<int> acknowledged{0};
    std::atomic<int> unknown{0};
    std::mutex failure_mutex;
    std::optional<zk::Error> failure;
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t)
      workers.emplace_back([&] {
        for (int i = 0; i < calls_per_thread; ++i) {
          try {
            api_calls.increment(); // one shard write each
            ++acknowledged;
          } catch (const zk::Error& e) {
            if (e.is_indeterminate()) {
              ++unknown;
              continue;
            }
            const std::lock_guard<std::mutex> lock(failure_mutex);
            if (!failure) failure = e;
            return;
          }
        }
      });
    for (auto& w : workers)
      w.join();
    if (failure) throw *failure;

    const std::int64_t total = api_calls.get();
    std::cout << threads << " threads x " << calls_per_thread << " calls over "
              << api_calls.shards() << " shards: total " << total << " (" << acknowledged
              << " acknowledged, " << unknown << " with an unknown outcome)\n";
    if (auto shards = session.children(path)) {
      for (const auto& name : shards->names)
        session.remove(path + "/" + name);
    }
    session.remove(path);
    if (total < acknowledged || total > acknowledged + unknown) {
      std::cerr << "expected between " << acknowledged << " and " << acknowledged + unknown << '\n';
      return 1;
    }
    std::cout << "exact — OK\n";
    return 0;
  } catch (const zk::Error& e) {
    std::cerr << "usage_counter: " << e.what() << '\n';
    return 1;
  }
}
