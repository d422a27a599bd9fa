// catalog_rwlock: a product catalog in one znode, read by many replicas at once, rewritten by one.
//
// Readers take the read side of a zk::ReadWriteLock (std::shared_lock) and read the catalog; any
// number read at once. A writer takes the write side (std::unique_lock), rewrites the catalog with
// a fenced write (committed only while its write node exists), then downgrades to a read lock to
// publish what it wrote: no other writer can slip in between its write and its own read-back.
// Three replicas (threads with their own sessions, as separate processes would be) read and
// write 10 rounds each; the example checks that no reader ever saw a half-written catalog and
// that every write was committed with a larger token than the one before.
//
//   ZK_HOSTS=127.0.0.11:2181,127.0.0.12:2181,127.0.0.13:2181 ./catalog_rwlock
#include <zkrecipes/zkrecipes.hpp>

#include <atomic>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <random>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

int main() {
  const char* env = std::getenv("ZK_HOSTS");
  const std::string hosts =
      env != nullptr && *env != '\0' ? env : "127.0.0.11:2181,127.0.0.12:2181,127.0.0.13:2181";
  const std::string root = "/examples/catalog_rwlock-" + std::to_string(std::random_device{}());
  const std::string catalog = root + "/catalog";
  constexpr int replicas = 3;
  constexpr int rounds = 10;
  try {
    zk::Session admin(hosts);
    admin.ensure_path(root);
    admin.create(catalog, "v0 v0"); // a catalog is two halves that must match
    std::atomic<bool> torn{false};
    std::atomic<bool> stale{false};
    std::atomic<int> readers{0};
    std::atomic<int> most_readers{0};
    std::mutex m;
    std::int64_t last_token = 0; // guarded by m
    std::vector<std::thread> pool;
    for (int r = 0; r < replicas; ++r) {
      pool.emplace_back([&, r] {
        zk::Session session(hosts);
        zk::ReadWriteLock lock(session, root + "/lock");
        for (int i = 0; i < rounds; ++i) {
          {
            std::shared_lock<zk::ReadWriteLock::Reader> read(lock.reader());
            const int now = ++readers;
            for (int seen = most_readers;
                 now > seen && !most_readers.compare_exchange_weak(seen, now);) {
            }
            const auto data = session.get(catalog)->data;
            const auto space = data.find(' ');
            if (data.substr(0, space) != data.substr(space + 1)) torn = true;
            std::this_thread::sleep_for(std::chrono::milliseconds(20)); // others read meanwhile
            --readers;
          }
          if (i % 3 != r % 3) continue;
          std::unique_lock<zk::ReadWriteLock::Writer> write(lock.writer());
          const std::int64_t token = lock.writer().fencing_token();
          {
            std::lock_guard<std::mutex> g(m);
            if (token <= last_token) stale = true;
            last_token = token;
          }
          const std::string version = "v" + std::to_string(token);
          // Two halves, two writes: a reader in between would see them differ (the lock prevents
          // it).
          lock.writer().fenced({zk::Op::set(catalog, version + " v-")}).throw_if_failed();
          lock.writer().fenced({zk::Op::set(catalog, version + " " + version)}).throw_if_failed();
          lock.writer().downgrade(); // keep reading what we wrote; no writer in between
          if (session.get(catalog)->data != version + " " + version) stale = true;
          lock.reader().unlock_shared();
        }
      });
    }
    for (auto& t : pool)
      t.join();
    zk::Session check(hosts);
    std::cout << "catalog " << check.get(catalog)->data << ", at most " << most_readers
              << " readers at once\n";
    const bool ok = !torn && !stale;
    if (!ok)
      std::cerr << "catalog_rwlock: "
                << (torn ? "a reader saw a half-written catalog" : "a write was stale") << '\n';
    // Clean up (the lock's container goes by itself once empty).
    check.remove(catalog);
    return ok ? 0 : 1;
  } catch (const zk::Error& e) {
    std::cerr << "catalog_rwlock: " << e.what() << '\n';
    return 1;
  }
}
