// leader_scheduler: N replicas of a scheduler; exactly one of them ticks at a time.
//
// Every replica runs a zk::LeaderSelector whose function is the scheduler loop: it ticks while it
// leads, and each tick's write is fenced, so the server commits it only while this replica's term
// is current. A replica that loses leadership (its session expires, the connection is suspended,
// or here: it steps down after a few ticks) is asked to stop, and the next replica in the queue
// takes over with a larger term. Four replicas (threads with their own sessions, as separate
// processes would be) share 12 terms; the example checks that ticks never interleave and that the
// stored term only ever grew.
//
//   ZK_HOSTS=127.0.0.11:2181,127.0.0.12:2181,127.0.0.13:2181 ./leader_scheduler
#include <zkrecipes/zkrecipes.hpp>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

int main() {
  const char* env = std::getenv("ZK_HOSTS");
  const std::string hosts =
      env != nullptr && *env != '\0' ? env : "127.0.0.11:2181,127.0.0.12:2181,127.0.0.13:2181";
  const std::string root = "/examples/leader_scheduler-" + std::to_string(std::random_device{}());
  constexpr int replicas = 4;
  constexpr int terms = 12;
  constexpr int ticks_per_term = 3;
  try {
    zk::Session admin(hosts);
    admin.ensure_path(root + "/schedule");
    std::mutex m;
    std::condition_variable done;
    int terms_run = 0;           // guarded by m
    std::atomic<int> leaders{0}; // replicas inside their term right now
    std::atomic<bool> overlap{false};
    std::atomic<bool> stale{false};

    std::vector<std::thread> threads;
    for (int r = 0; r < replicas; ++r) {
      threads.emplace_back([&, r] {
        zk::Session session(hosts);
        zk::SelectorOptions options;
        options.id = "replica-" + std::to_string(r);
        zk::LeaderSelector scheduler(
            session, root + "/leader",
            [&](zk::Leadership& l) {
              if (++leaders != 1) overlap = true;
              for (int tick = 0; tick < ticks_per_term && !l.stop_requested(); ++tick) {
                const std::string last = session.get(root + "/schedule")->data;
                if (!last.empty() && std::stoll(last) > l.term()) stale = true;
                // The tick's output, committed only while this term is current.
                l.fenced({zk::Op::set(root + "/schedule", std::to_string(l.term()))})
                    .throw_if_failed();
                std::cout << "term " << l.term() << ": replica " << r << " tick " << tick << '\n';
                l.wait_for_stop(std::chrono::milliseconds(20));
              }
              --leaders;
              const std::lock_guard<std::mutex> lock(m);
              ++terms_run; // returning ends the term; the selector queues again
              done.notify_all();
            },
            options);
        std::unique_lock<std::mutex> lock(m);
        done.wait(lock, [&] { return terms_run >= terms; });
      }); // the selector's destructor leaves the election
    }
    for (auto& t : threads)
      t.join();
    const auto left = admin.children(root + "/leader");
    const bool clean = !left || left->names.empty();
    std::cout << terms_run << " terms; overlap: " << (overlap ? "yes" : "no")
              << "; stale write accepted: " << (stale ? "yes" : "no")
              << "; nodes left: " << (clean ? "none" : "some") << '\n';
    admin.remove_recursive(root);
    return !overlap && !stale && clean && terms_run >= terms ? 0 : 1;
  } catch (const zk::Error& e) {
    std::cerr << "leader_scheduler: " << e.what() << '\n';
    return 1;
  }
}
