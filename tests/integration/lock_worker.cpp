// main() of integration_lock: runs the tests, or, with --lock-worker, acts as a lock contender in a
// separate process (the multi-process tests start this same binary, so no extra build target):
//
//   --lock-worker contend HOSTS PATH THREADS COUNT HANDOFFS HOLD_US [container|persistent]
//       THREADS threads, each with its own DistributedLock on PATH over one shared Session, lock
//       and unlock COUNT times, spinning HOLD_US inside; prints one zkt::HoldRecord line per hold
//       ("hold <token> <pid> <thread> <enter ns> <exit ns>", CLOCK_MONOTONIC), then "DONE".
//   --lock-worker hold HOSTS PATH SESSION_MS
//       locks, prints "HELD <token>", unlocks on a line from stdin (or waits to be killed).
// Prints "READY" once its session is connected; `contend` then starts on a line from stdin.
#include "lock_harness.hpp"

#include <gtest/gtest.h>

#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>

namespace zkt::lock {
namespace {

int contend(zk::Session& session, const std::string& path, int threads, int count,
            std::size_t handoffs, int hold_us, bool container) {
  std::mutex m;
  std::ostringstream out;
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      zk::LockOptions o;
      o.max_local_handoffs = handoffs;
      o.container_parent = container;
      zk::DistributedLock lock(session, path, o);
      std::vector<std::string> lines;
      for (int i = 0; i < count; ++i) {
        std::lock_guard<zk::DistributedLock> guard(lock);
        HoldRecord r;
        r.enter_ns = monotonic_ns();
        r.token = lock.fencing_token();
        r.process = this_process();
        r.thread = static_cast<std::uint64_t>(t);
        while (monotonic_ns() - r.enter_ns < std::int64_t{hold_us} * 1000) {
        }
        r.exit_ns = monotonic_ns();
        lines.push_back(to_line(r));
      }
      std::lock_guard<std::mutex> g(m);
      for (const auto& l : lines)
        out << l << '\n';
    });
  }
  for (auto& th : pool)
    th.join();
  std::cout << out.str() << "DONE" << std::endl;
  return 0;
}

int hold(zk::Session& session, const std::string& path) {
  zk::DistributedLock lock(session, path);
  lock.lock();
  std::cout << "HELD " << lock.fencing_token() << std::endl;
  std::string line;
  std::getline(std::cin, line);
  lock.unlock();
  std::cout << "RELEASED" << std::endl;
  return 0;
}

} // namespace

int worker_main(int argc, char** argv) {
  const std::vector<std::string> a(argv, argv + argc);
  try {
    if (a.size() >= 7 && a[1] == "contend") {
      zk::SessionOptions o = options(std::chrono::seconds(6));
      o.hosts = a[2];
      zk::Session session(o);
      std::cout << "READY" << std::endl;
      std::string go;
      std::getline(std::cin, go); // a common start with the other contenders
      return contend(session, a[3], std::stoi(a[4]), std::stoi(a[5]),
                     static_cast<std::size_t>(std::stoul(a[6])), a.size() > 7 ? std::stoi(a[7]) : 0,
                     a.size() <= 8 || a[8] != "persistent");
    }
    if (a.size() >= 5 && a[1] == "hold") {
      zk::SessionOptions o = options(std::chrono::milliseconds(std::stoi(a[4])));
      o.hosts = a[2];
      zk::Session session(o);
      std::cout << "READY" << std::endl;
      return hold(session, a[3]);
    }
  } catch (const std::exception& e) {
    std::cerr << "lock worker: " << e.what() << std::endl;
    return 1;
  }
  std::cerr << "lock worker: bad arguments" << std::endl;
  return 2;
}

} // namespace zkt::lock

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "--lock-worker")
    return zkt::lock::worker_main(argc - 1, argv + 1);
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
