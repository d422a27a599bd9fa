// lock_basic: two sessions (think: two processes) take turns on one DistributedLock; each holder
// writes to a shared resource with a fenced write, so a stale holder's write would be refused.
//
//   ZK_HOSTS=127.0.0.11:2181,127.0.0.12:2181,127.0.0.13:2181 ./lock_basic
#include <zkrecipes/distributed_lock.hpp>

#include <cstdlib>
#include <exception>
#include <iostream>
#include <mutex>
#include <random>
#include <thread>

int main() {
  const char* env = std::getenv("ZK_HOSTS");
  const std::string hosts =
      env != nullptr && *env != '\0' ? env : "127.0.0.11:2181,127.0.0.12:2181,127.0.0.13:2181";
  try {
    zk::Session alice(hosts);
    zk::Session bob(hosts);
    const std::string root = "/examples/lock_basic-" + std::to_string(std::random_device{}());
    const std::string resource = root + "/resource";
    alice.ensure_path(root);
    alice.create(resource, "nobody");

    zk::LockOptions options;
    options.on_lost = [](const zk::Error& e) { std::cerr << "  lock lost: " << e.what() << '\n'; };
    zk::DistributedLock a(alice, root + "/lock", options);
    zk::DistributedLock b(bob, root + "/lock", options);

    // Alice takes the lock; Bob cannot have it meanwhile.
    std::int64_t alice_token = 0;
    {
      std::lock_guard<zk::DistributedLock> guard(a);
      alice_token = a.fencing_token();
      std::cout << "alice holds " << a.node_path() << " (fencing token " << alice_token << ")\n";
      std::cout << "bob try_lock_for(200ms): "
                << (b.try_lock_for(std::chrono::milliseconds(200)) ? "yes" : "no") << '\n';
      for (const auto& c : zk::DistributedLock::contenders(alice, root + "/lock"))
        std::cout << "  contender " << c.name << " data \"" << c.data << "\""
                  << (c.holder ? " (holder)" : "") << '\n';
      a.fenced({zk::Op::set(resource, "alice")})
          .throw_if_failed(); // only while alice's node exists
    }

    // Bob waits in a thread (or finds it free, if Alice is quick): either way he gets it after her.
    a.lock();
    std::exception_ptr bob_failed; // an exception must not escape a std::thread: hand it over
    std::thread waiter([&] {
      try {
        std::unique_lock<zk::DistributedLock> guard(b, std::chrono::seconds(10));
        if (!guard.owns_lock()) return;
        std::cout << "bob holds it (fencing token " << b.fencing_token()
                  << ", greater: " << (b.fencing_token() > alice_token ? "yes" : "no") << ")\n";
        b.fenced({zk::Op::set(resource, "bob")}).throw_if_failed();
      } catch (...) {
        bob_failed = std::current_exception();
      }
    });
    a.unlock();
    waiter.join();
    if (bob_failed) std::rethrow_exception(bob_failed);

    // Alice no longer holds the lock: a fenced write from her is refused before it is sent.
    try {
      a.fenced({zk::Op::set(resource, "stale alice")}).throw_if_failed();
    } catch (const zk::Error& e) {
      std::cout << "alice's write without the lock refused: " << zk::to_string(e.errc()) << '\n';
    }
    const auto last = alice.get(resource);
    std::cout << "resource holds \"" << last->data << "\"\n";

    alice.remove(resource);
    alice.remove(root + "/lock"); // a container node: the server would remove it too, later
    alice.remove(root);
    const bool ok = last->data == "bob";
    std::cout << (ok ? "OK\n" : "unexpected resource value\n");
    return ok ? 0 : 1;
  } catch (const zk::Error& e) {
    std::cerr << "lock_basic: " << e.what() << '\n';
    return 1;
  }
}
