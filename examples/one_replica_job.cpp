// one_replica_job: N replicas of a service start a periodic job; only one of them runs it at a
// time.
//
// Each replica calls try_lock(): the winner runs the job and stamps what it writes with the lock's
// fencing token, through a fenced write that the server commits only while the lock is still ours.
// The others skip this round instead of queueing. Here four replicas (threads with their own
// sessions, as separate processes would be) try three rounds each; the example checks that exactly
// one ran per round and that the stored token only ever grew.
//
//   ZK_HOSTS=127.0.0.11:2181,127.0.0.12:2181,127.0.0.13:2181 ./one_replica_job
#include <zkrecipes/zkrecipes.hpp>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

// All replicas start a round at the same moment (std::barrier is C++20; the library is C++17).
class Barrier {
public:
  explicit Barrier(int n) : m_n(n) {}
  void arrive_and_wait() {
    std::unique_lock<std::mutex> lock(m_mutex);
    const int generation = m_generation;
    if (++m_arrived == m_n) {
      m_arrived = 0;
      ++m_generation;
      m_cv.notify_all();
    } else {
      m_cv.wait(lock, [&] { return generation != m_generation; });
    }
  }

private:
  std::mutex m_mutex;
  std::condition_variable m_cv;
  int m_n;
  int m_arrived = 0;
  int m_generation = 0;
};

int main() {
  const char* env = std::getenv("ZK_HOSTS");
  const std::string hosts =
      env != nullptr && *env != '\0' ? env : "127.0.0.11:2181,127.0.0.12:2181,127.0.0.13:2181";
  const std::string root = "/examples/one_replica_job-" + std::to_string(std::random_device{}());
  constexpr int replicas = 4;
  constexpr int rounds = 3;
  try {
    zk::Session admin(hosts);
    admin.ensure_path(root + "/report");
    std::atomic<int> ran[rounds] = {};
    std::atomic<bool> stale{false};
    Barrier round_start(replicas);

    std::vector<std::thread> threads;
    for (int r = 0; r < replicas; ++r) {
      threads.emplace_back([&, r] {
        zk::Session session(hosts);
        zk::DistributedLock lock(session, root + "/lock");
        for (int round = 0; round < rounds; ++round) {
          round_start.arrive_and_wait(); // all replicas try at the same moment
          if (lock.try_lock()) {
            const std::int64_t token = lock.fencing_token();
            const std::string last = session.get(root + "/report")->data;
            const std::int64_t seen = last.empty() ? 0 : std::stoll(last);
            if (token <= seen) stale = true; // a token never goes backwards
            // The job's output, committed only while we hold the lock.
            lock.fenced({zk::Op::set(root + "/report", std::to_string(token))}).throw_if_failed();
            ++ran[round];
            std::cout << "round " << round << ": replica " << r << " ran the job with token "
                      << token << '\n';
            round_start.arrive_and_wait(); // hold until everyone has tried
            lock.unlock();
          } else {
            round_start.arrive_and_wait();
          }
        }
      });
    }
    for (auto& t : threads)
      t.join();
    admin.remove(root + "/report");
    admin.remove(root + "/lock");
    admin.remove(root);
    for (int round = 0; round < rounds; ++round) {
      if (ran[round] != 1) {
        std::cerr << "round " << round << " ran " << ran[round] << " times\n";
        return 1;
      }
    }
    if (stale) {
      std::cerr << "a fencing token went backwards\n";
      return 1;
    }
    std::cout << "exactly one replica per round — OK\n";
    return 0;
  } catch (const zk::Error& e) {
    std::cerr << "one_replica_job: " << e.what() << '\n';
    return 1;
  }
}
