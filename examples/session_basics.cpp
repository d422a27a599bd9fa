// session_basics: open a session, watch a node, change it, and print what the session saw.
//
//   ZK_HOSTS=127.0.0.11:2181,127.0.0.12:2181,127.0.0.13:2181 ./session_basics
#include <zkrecipes/session.hpp>

#include <condition_variable>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <random>

int main() {
  const char* env = std::getenv("ZK_HOSTS");
  const std::string hosts =
      env != nullptr && *env != '\0' ? env : "127.0.0.11:2181,127.0.0.12:2181,127.0.0.13:2181";
  try {
    zk::Session session(hosts); // connected, or throws by the connect timeout
    session.add_listener([](const zk::SessionEvent& e) {
      std::cout << "  state: " << zk::to_string(e.state) << '\n';
    });
    std::cout << "connected to " << session.current_server() << ", session 0x" << std::hex
              << session.session_id() << std::dec << ", timeout "
              << session.negotiated_timeout().count() << " ms\n";

    const std::string root = "/examples/session_basics-" + std::to_string(std::random_device{}());
    session.ensure_path(root);
    session.create(root + "/greeting", "hello");

    std::mutex m;
    std::condition_variable cv;
    bool fired = false;
    auto node = session.get(root + "/greeting", [&](const zk::WatchEvent& e) {
      std::lock_guard<std::mutex> lock(m);
      std::cout << "  watch fired: " << (e.type == zk::EventType::changed ? "changed " : "other ")
                << e.path << '\n';
      fired = true;
      cv.notify_all();
    });
    std::cout << "read \"" << node->data << "\" (version " << node->stat.version << ")\n";

    const zk::Stat st = session.set(root + "/greeting", "hello again", node->stat.version);
    {
      std::unique_lock<std::mutex> lock(m);
      if (!cv.wait_for(lock, std::chrono::seconds(10), [&] { return fired; })) {
        std::cerr << "the watch did not fire\n";
        return 1;
      }
    }
    std::cout << "wrote version " << st.version << '\n';

    try {
      session.set(root + "/greeting", "stale write", node->stat.version);
    } catch (const zk::Error& e) {
      std::cout << "stale write refused: " << e.what() << (e.is_conflict() ? " (conflict)" : "")
                << '\n';
    }

    session.remove(root + "/greeting");
    session.remove(root);
    std::cout << "session state: " << zk::to_string(session.state()) << " — OK\n";
    return 0;
  } catch (const zk::Error& e) {
    std::cerr << "session_basics: " << e.what() << '\n';
    return 1;
  }
}
