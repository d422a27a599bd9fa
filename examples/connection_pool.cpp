// connection_pool: a database that accepts at most 3 connections from the whole fleet, shared by
// services through a zk::Semaphore.
//
// Each service replica (a thread with its own session here, as separate processes would be) holds a
// zk::Lease while it uses a connection: `pool.acquire(deadline)` returns one (RAII: released when
// it goes out of scope), or throws deadline_exceeded. The lease's fencing token goes with each
// query, so the database could refuse a holder whose lease was lost meanwhile. Six replicas make 5
// queries each; the example checks that the database never saw more than 3 connections at once and
// that, with more replicas than connections, some of them did share the database at the same time.
//
//   ZK_HOSTS=127.0.0.11:2181,127.0.0.12:2181,127.0.0.13:2181 ./connection_pool
#include <zkrecipes/zkrecipes.hpp>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

// Stands in for the database: counts the connections open at once.
class Database {
public:
  void query(std::int64_t token) {
    const int now = ++m_open;
    for (int seen = m_most; now > seen && !m_most.compare_exchange_weak(seen, now);) {
    }
    if (token <= 0) m_bad_token = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100)); // the query's work
    --m_open;
  }
  [[nodiscard]] int most() const { return m_most; }
  [[nodiscard]] bool bad_token() const { return m_bad_token; }

private:
  std::atomic<int> m_open{0};
  std::atomic<int> m_most{0};
  std::atomic<bool> m_bad_token{false};
};

} // namespace

int main() {
  const char* env = std::getenv("ZK_HOSTS");
  const std::string hosts =
      env != nullptr && *env != '\0' ? env : "127.0.0.11:2181,127.0.0.12:2181,127.0.0.13:2181";
  const std::string path = "/examples/connection_pool-" + std::to_string(std::random_device{}());
  constexpr int max_connections = 3;
  constexpr int replicas = 6;
  constexpr int queries = 5;
  Database db;
  std::atomic<int> failures{0};
  std::vector<std::thread> fleet;
  for (int r = 0; r < replicas; ++r) {
    fleet.emplace_back([&] {
      try {
        zk::Session session(hosts);
        zk::Semaphore pool(session, path, max_connections);
        for (int q = 0; q < queries; ++q) {
          const zk::Lease lease = pool.acquire(std::chrono::seconds(30));
          db.query(lease.fencing_token());
        } // each lease is released here, at the end of its iteration
      } catch (const zk::Error& e) {
        std::cerr << "connection_pool: " << e.what() << '\n';
        ++failures;
      }
    });
  }
  for (auto& t : fleet)
    t.join();
  std::cout << replicas * queries << " queries, at most " << db.most()
            << " connections at once (limit " << max_connections << ")\n";
  const bool ok = failures == 0 && db.most() <= max_connections && db.most() > 1 && !db.bad_token();
  if (!ok) std::cerr << "connection_pool: the pool did not bound the connections as it should\n";
  try { // the semaphore's nodes are containers: only the path itself is left to remove
    zk::Session admin(hosts);
    for (const auto& child : {path + "/leases", path + "/locks"})
      if (admin.exists(child)) admin.remove(child);
    admin.remove(path);
  } catch (const zk::Error&) { // the server reaped the containers first: nothing to do
  }
  return ok ? 0 : 1;
}
