// The integration_counter binary's main(): GoogleTest normally, or — with --counter-worker — one
// writer process of the multi-process counter tests (counter_process_test.cpp spawns
// /proc/self/exe that way, so no second executable or path plumbing is needed).
//
// Worker protocol (stdout, one line each): READY once connected and watching the start node; after
// the start node appears, each thread runs its operations (mode timed: increments for OPS
// milliseconds, with the default CounterOptions, and does not stop at an error); then
//   VALUES v1 v2 ...   (inc mode: the value each successful increment returned)
//   RESULT sum=S ok=N indeterminate=I failed=F writes=W elapsed_ms=T
// S is the sum of the deltas acknowledged as applied; I counts updates that ended indeterminate.
#include <zkrecipes/distributed_counter.hpp>

#include "support/ensemble.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

struct WorkerArgs {
  std::string path;
  int threads = 1;
  int ops = 1;
  bool mixed = false;
  bool timed = false;
  std::uint64_t seed = 1;
  bool combine = false;
  zk::CounterCodec codec = zk::CounterCodec::int64_be;
  std::string go;
};

zk::CounterCodec parse_codec(const std::string& s) {
  if (s == "int32_be") return zk::CounterCodec::int32_be;
  if (s == "ascii") return zk::CounterCodec::ascii;
  return zk::CounterCodec::int64_be;
}

// Blocks until `go` exists: a watch set by exists() fires on its creation; the deadline bounds it.
// The watch may also fire after we return (when `go` is deleted): its state is shared, not
// borrowed.
bool wait_for_start(zk::Session& s, const std::string& go) {
  struct Flag {
    std::mutex m;
    std::condition_variable cv;
    bool fired = false;
  };
  auto flag = std::make_shared<Flag>();
  const auto exists = s.exists(go, [flag](const zk::WatchEvent&) {
    std::lock_guard<std::mutex> lock(flag->m);
    flag->fired = true;
    flag->cv.notify_all();
  });
  std::cout << "READY" << std::endl;
  if (exists) return true;
  std::unique_lock<std::mutex> lock(flag->m);
  return flag->cv.wait_for(lock, std::chrono::seconds(120), [&] { return flag->fired; });
}

int run_worker(const WorkerArgs& a) {
  zk::Session session(zkt::options());
  zk::CounterOptions options;
  options.codec = a.codec;
  options.combine = a.combine;
  if (!a.timed) { // room for the fault tests' outages; a timed run keeps the defaults a user gets
    options.retry.timeout = std::chrono::seconds(60);
    options.retry.max_attempts = 1000;
  }
  zk::DistributedCounter counter(session, a.path, options);
  if (!wait_for_start(session, a.go)) {
    std::cerr << "worker: start node never appeared\n";
    return 3;
  }
  std::mutex m;
  std::int64_t sum = 0;
  long ok = 0, indeterminate = 0, failed = 0, writes = 0;
  std::vector<std::int64_t> values;
  std::atomic<bool> stop{false};
  const auto start = std::chrono::steady_clock::now();
  const auto until = start + std::chrono::milliseconds(a.ops);
  const auto more = [&](int i) {
    return a.timed ? std::chrono::steady_clock::now() < until : i < a.ops && !stop.load();
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < a.threads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(a.seed * 1000 + static_cast<std::uint64_t>(t));
      for (int i = 0; more(i); ++i) {
        const std::int64_t delta = a.mixed && (rng() & 1U) != 0 ? -1 : 1;
        try {
          const auto r = counter.add_detailed(delta);
          std::lock_guard<std::mutex> lock(m);
          sum += delta;
          ++ok;
          writes += r.attempts;
          if (!a.mixed && !a.timed) values.push_back(r.after);
        } catch (const zk::Error& e) {
          std::lock_guard<std::mutex> lock(m);
          if (e.errc() == zk::Errc::indeterminate)
            ++indeterminate;
          else
            ++failed;
          // A broken ensemble would otherwise keep every remaining operation waiting out its full
          // retry timeout: report what happened so far instead.
          stop = true;
          std::cerr << "worker: " << e.what() << '\n';
        }
      }
    });
  }
  for (auto& th : threads)
    th.join();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - start)
                      .count();
  std::string line = "VALUES";
  for (auto v : values)
    line += " " + std::to_string(v);
  std::cout << line << '\n'
            << "RESULT sum=" << sum << " ok=" << ok << " indeterminate=" << indeterminate
            << " failed=" << failed << " writes=" << writes << " elapsed_ms=" << ms << std::endl;
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && std::strcmp(argv[1], "--counter-worker") == 0) {
    if (argc != 10) {
      std::cerr << "usage: " << argv[0]
                << " --counter-worker PATH THREADS OPS inc|mixed|timed SEED COMBINE CODEC GO\n";
      return 2;
    }
    WorkerArgs a;
    a.path = argv[2];
    a.threads = std::stoi(argv[3]);
    a.ops = std::stoi(argv[4]);
    a.mixed = std::strcmp(argv[5], "mixed") == 0;
    a.timed = std::strcmp(argv[5], "timed") == 0;
    a.seed = std::stoull(argv[6]);
    a.combine = std::strcmp(argv[7], "1") == 0;
    a.codec = parse_codec(argv[8]);
    a.go = argv[9];
    try {
      return run_worker(a);
    } catch (const std::exception& e) {
      std::cerr << "worker: " << e.what() << '\n';
      return 1;
    }
  }
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
