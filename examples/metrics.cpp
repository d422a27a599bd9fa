// metrics: a zk::Observer that keeps Prometheus metrics of a session's recipes, served in the text
// exposition format on loopback (GET /metrics). The program takes a lock a few times, lets one wait
// time out, increments a counter from two sessions at once, then scrapes its own endpoint like
// Prometheus would, prints what it got and checks the numbers.
//
//   ZK_HOSTS=127.0.0.11:2181,127.0.0.12:2181,127.0.0.13:2181 ./metrics
#include <zkrecipes/distributed_counter.hpp>
#include <zkrecipes/distributed_lock.hpp>
#include <zkrecipes/observer.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>

namespace {

// Counters and sums by label set, as Prometheus counters and summaries (_sum, _count).
class PrometheusObserver : public zk::Observer {
public:
  void session_state(const zk::SessionEvent& e) noexcept override {
    add("zkr_session_state_changes_total", {{"state", zk::to_string(e.state)}}, 1);
  }
  void acquired(std::string_view recipe, std::string_view path,
                std::chrono::nanoseconds waited) noexcept override {
    observe("zkr_acquire_wait_seconds", labels(recipe, path, "acquired"), waited);
  }
  void acquire_failed(std::string_view recipe, std::string_view path, zk::Errc why,
                      std::chrono::nanoseconds waited) noexcept override {
    observe("zkr_acquire_wait_seconds", labels(recipe, path, zk::make_error_code(why).message()),
            waited);
  }
  void released(std::string_view recipe, std::string_view path,
                std::chrono::nanoseconds held) noexcept override {
    observe("zkr_hold_seconds", labels(recipe, path, "released"), held);
  }
  void lost(std::string_view recipe, std::string_view path, zk::Errc why,
            std::chrono::nanoseconds held) noexcept override {
    observe("zkr_hold_seconds", labels(recipe, path, zk::make_error_code(why).message()), held);
  }
  void counter_update(std::string_view path, zk::Errc result, int writes,
                      std::chrono::nanoseconds took) noexcept override {
    const Labels l{{"path", std::string(path)}, {"result", zk::make_error_code(result).message()}};
    observe("zkr_counter_update_seconds", l, took);
    add("zkr_counter_writes_total", l, writes);
  }
  void janitor_retry(std::string_view /*node*/, int /*attempt*/) noexcept override {
    add("zkr_janitor_retries_total", {}, 1);
  }

  /// The text exposition format (version 0.0.4).
  std::string text() {
    std::lock_guard<std::mutex> l(m_mutex);
    std::ostringstream out;
    std::string last;
    for (const auto& [key, value] : m_values) {
      const auto& [name, labels] = key;
      const std::string family = family_of(name);
      if (family != last) {
        out << "# TYPE " << family << (family == name ? " counter\n" : " summary\n");
        last = family;
      }
      out << name;
      if (!labels.empty()) {
        out << '{';
        for (auto it = labels.begin(); it != labels.end(); ++it)
          out << (it == labels.begin() ? "" : ",") << it->first << "=\"" << it->second << '"';
        out << '}';
      }
      out << ' ' << value << '\n';
    }
    return out.str();
  }

private:
  using Labels = std::map<std::string, std::string>;
  static Labels labels(std::string_view recipe, std::string_view path, std::string outcome) {
    return {{"recipe", std::string(recipe)}, {"path", std::string(path)}, {"outcome", outcome}};
  }
  static std::string family_of(const std::string& name) {
    for (const char* suffix : {"_sum", "_count"}) {
      const std::string s(suffix);
      if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0)
        return name.substr(0, name.size() - s.size());
    }
    return name;
  }
  void add(const std::string& name, const Labels& l, double v) {
    std::lock_guard<std::mutex> lock(m_mutex); // short: an observer must not block
    m_values[{name, l}] += v;
  }
  void observe(const std::string& name, const Labels& l, std::chrono::nanoseconds d) {
    add(name + "_sum", l, std::chrono::duration<double>(d).count());
    add(name + "_count", l, 1);
  }
  std::mutex m_mutex;
  std::map<std::tuple<std::string, Labels>, double> m_values;
};

// GET /metrics on 127.0.0.1 (an ephemeral port), one connection at a time, until stopped.
class MetricsServer {
public:
  explicit MetricsServer(PrometheusObserver& metrics) : m_metrics(metrics) {
    m_fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (m_fd < 0 || ::bind(m_fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(m_fd, 4) != 0 || ::getsockname(m_fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      throw std::runtime_error("metrics: cannot listen on 127.0.0.1");
    m_port = ntohs(a.sin_port);
    m_thread = std::thread([this] { serve(); });
  }
  ~MetricsServer() {
    m_stop = true;
    ::shutdown(m_fd, SHUT_RDWR); // wakes accept()
    m_thread.join();
    ::close(m_fd);
  }
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;
  MetricsServer(MetricsServer&&) = delete;
  MetricsServer& operator=(MetricsServer&&) = delete;
  [[nodiscard]] int port() const { return m_port; }

private:
  void serve() {
    while (!m_stop) {
      const int c = ::accept(m_fd, nullptr, nullptr);
      if (c < 0) continue;
      char buf[1024];
      const auto n = ::read(c, buf, sizeof buf - 1);
      const std::string request(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
      const bool ok = request.rfind("GET /metrics ", 0) == 0;
      const std::string body = ok ? m_metrics.text() : "not found\n";
      const std::string reply =
          std::string(ok ? "HTTP/1.0 200 OK\r\n" : "HTTP/1.0 404 Not Found\r\n") +
          "Content-Type: text/plain; version=0.0.4\r\nContent-Length: " +
          std::to_string(body.size()) + "\r\n\r\n" + body;
      for (std::size_t sent = 0; sent < reply.size();) {
        const auto w = ::write(c, reply.data() + sent, reply.size() - sent);
        if (w <= 0) break;
        sent += static_cast<std::size_t>(w);
      }
      ::close(c);
    }
  }
  PrometheusObserver& m_metrics;
  int m_fd = -1;
  int m_port = 0;
  std::atomic<bool> m_stop{false};
  std::thread m_thread;
};

std::string scrape(int port) { // as Prometheus does: one HTTP GET
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string got;
  if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    const std::string req = "GET /metrics HTTP/1.0\r\n\r\n";
    if (::write(fd, req.data(), req.size()) == static_cast<ssize_t>(req.size())) {
      char buf[4096];
      for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;)
        got.append(buf, static_cast<std::size_t>(n));
    }
  }
  if (fd >= 0) ::close(fd);
  const auto body = got.find("\r\n\r\n");
  return body == std::string::npos ? std::string() : got.substr(body + 4);
}

// The value of the first sample line that starts with `prefix` (0 if none).
double value_of(const std::string& text, const std::string& prefix) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(prefix, 0) == 0) return std::stod(line.substr(line.rfind(' ') + 1));
  }
  return 0;
}

} // namespace

int main() {
  const char* env = std::getenv("ZK_HOSTS");
  const std::string hosts =
      env != nullptr && *env != '\0' ? env : "127.0.0.11:2181,127.0.0.12:2181,127.0.0.13:2181";
  try {
    auto metrics = std::make_shared<PrometheusObserver>();
    zk::SessionOptions options;
    options.hosts = hosts;
    options.observer = metrics;
    zk::Session session(options);
    zk::Session other(hosts); // another process, unobserved
    MetricsServer server(*metrics);
    const std::string root = "/examples/metrics-" + std::to_string(std::random_device{}());
    session.ensure_path(root);

    zk::DistributedLock lock(session, root + "/lock");
    for (int i = 0; i < 3; ++i) {
      std::lock_guard<zk::DistributedLock> guard(lock);
    }
    zk::DistributedLock theirs(other, root + "/lock");
    theirs.lock();
    const bool got = lock.try_lock_for(std::chrono::milliseconds(100)); // times out
    theirs.unlock();

    zk::DistributedCounter ours(session, root + "/hits");
    zk::DistributedCounter rival(other, root + "/hits");
    std::thread racing([&] {
      for (int i = 0; i < 50; ++i)
        (void)rival.increment();
    });
    for (int i = 0; i < 50; ++i)
      (void)ours.increment();
    racing.join();

    const std::string text = scrape(server.port());
    std::cout << "GET http://127.0.0.1:" << server.port() << "/metrics\n" << text;
    const std::string lock_path = "path=\"" + root + "/lock\"";
    const bool ok =
        !got &&
        value_of(text, "zkr_acquire_wait_seconds_count{outcome=\"acquired\"," + lock_path) == 3 &&
        value_of(text, "zkr_hold_seconds_count{outcome=\"released\"," + lock_path) == 3 &&
        value_of(text, "zkr_acquire_wait_seconds_count{outcome=\"" +
                           zk::make_error_code(zk::Errc::deadline_exceeded).message() + "\"," +
                           lock_path) == 1 &&
        value_of(text, "zkr_counter_update_seconds_count{path=\"" + root + "/hits\",result=\"" +
                           zk::make_error_code(zk::Errc::ok).message() + "\"}") == 50 &&
        value_of(text, "zkr_counter_writes_total{path=\"" + root + "/hits\"") >= 50 &&
        value_of(text, "zkr_session_state_changes_total{state=\"connected\"}") == 1;
    std::cout << "metrics as expected: " << (ok ? "yes" : "NO") << '\n';
    session.remove_recursive(root);
    return ok ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "metrics: " << e.what() << '\n';
    return 1;
  }
}
