#include "support/ensemble.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <random>
#include <stdexcept>
#include <thread>

namespace zkt {

std::string hosts() {
  const char* env = std::getenv("ZKR_TEST_HOSTS");
  return env != nullptr && *env != '\0' ? env : ZKR_DEFAULT_HOSTS;
}

bool own_ensemble() {
  const char* env = std::getenv("ZKR_TEST_HOSTS");
  return env == nullptr || *env == '\0' || std::string(env) == ZKR_DEFAULT_HOSTS;
}

std::string ensemble(const std::string& args) {
  const std::string cmd = std::string(ZKR_SOURCE_DIR) + "/docker/ensemble " + args + " 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("cannot run " + cmd);
  std::string out;
  std::array<char, 512> buf{};
  while (std::fgets(buf.data(), static_cast<int>(buf.size()), pipe) != nullptr)
    out += buf.data();
  const int rc = pclose(pipe);
  if (rc != 0) throw std::runtime_error("`docker/ensemble " + args + "` failed: " + out);
  return out;
}

std::string four_letter(const std::string& host_port, const std::string& word) {
  const auto colon = host_port.rfind(':');
  const std::string host = host_port.substr(0, colon);
  const int port = std::stoi(host_port.substr(colon + 1));
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  ::inet_pton(AF_INET, host.c_str(), &addr.sin_addr);
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::send(fd, word.data(), word.size(), 0) == static_cast<ssize_t>(word.size())) {
    pollfd p{fd, POLLIN, 0};
    std::array<char, 4096> buf{};
    while (::poll(&p, 1, 3000) > 0) {
      const ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
      if (n <= 0) break;
      out.append(buf.data(), static_cast<std::size_t>(n));
    }
  }
  ::close(fd);
  return out;
}

int server_number(const std::string& host_port) {
  for (int n = 1; n <= 3; ++n)
    if (host_port == server_address(n)) return n;
  return 0;
}

std::string server_address(int n) {
  return "127.0.0." + std::to_string(10 + n) + ":2181";
}

std::string unique_path(const std::string& name) {
  static std::mt19937_64 rng{std::random_device{}()};
  static std::mutex m;
  std::lock_guard<std::mutex> lock(m);
  char suffix[20];
  std::snprintf(suffix, sizeof suffix, "%012llx",
                static_cast<unsigned long long>(rng() & 0xffffffffffffULL));
  return "/zkrt/" + name + "-" + suffix;
}

zk::SessionOptions options(std::chrono::milliseconds session_timeout) {
  zk::SessionOptions o;
  o.hosts = hosts();
  o.session_timeout = session_timeout;
  o.connect_timeout = std::chrono::seconds(20);
  o.operation_timeout = std::chrono::seconds(20);
  return o;
}

bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    // Polling state that has no event of its own (server statistics, another process's nodes).
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return pred();
}

zk::Errc code_of(const std::function<void()>& fn, std::string* message) {
  try {
    fn();
  } catch (const zk::Error& e) {
    if (message != nullptr) *message = e.what();
    return e.errc();
  }
  return zk::Errc::ok;
}

void remove_tree(zk::Session& s, const std::string& path) {
  // Ephemeral nodes of a session closed a moment ago may still be on their way out: retry briefly.
  wait_until(
      [&] {
        try {
          (void)s.remove_recursive(path);
          return true;
        } catch (const zk::Error& e) {
          return e.errc() != zk::Errc::not_empty; // anything else: a test's failure says it better
        }
      },
      std::chrono::seconds(5));
}

void expire_session(const zk::ClientId& id) {
  using namespace std::chrono_literals;
  zk::SessionOptions o = options();
  o.resume = id;
  // A twin with the same id and password takes the session over and closes it, which ends the
  // session for both. Neither the close nor a later refusal to resume proves it: the original
  // client may take the session back before the close goes out, and a server has been seen to
  // refuse a live session as expired. So the twin leaves an ephemeral marker first, and the
  // session is over once another session sees the marker gone (the close has been applied).
  zk::Session observer(options());
  observer.ensure_path("/zkrt");
  int refusals = 0;
  std::string last_error;
  for (int attempt = 0; attempt < 10; ++attempt) {
    const std::string marker = unique_path("expiry-marker");
    try {
      zk::Session twin(o);
      twin.create(marker, "", zk::CreateMode::ephemeral);
      twin.close();
    } catch (const zk::Error& e) {
      last_error = e.what();
      if (e.errc() == zk::Errc::session_expired) {
        // Refused before any close of ours: trust it only when it persists.
        if (++refusals >= 3) return;
        std::this_thread::sleep_for(300ms);
      }
      continue;
    }
    refusals = 0;
    if (wait_until([&] { return !observer.exists(marker); }, 5s)) return;
    last_error = "the twin's ephemeral marker outlived its close";
  }
  throw std::runtime_error("expire_session: the session survived 10 attempts (" + last_error + ")");
}

RootGuard::RootGuard(const std::string& name) : m_session(options()), m_path(unique_path(name)) {
  m_session.ensure_path(m_path);
}

RootGuard::~RootGuard() {
  remove_tree(m_session, m_path);
}

} // namespace zkt
