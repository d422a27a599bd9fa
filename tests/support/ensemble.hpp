// Test harness: where the ensemble is, how to drive it, and a private root path per test.
#pragma once

#include <zkrecipes/session.hpp>

#include <chrono>
#include <functional>
#include <future>
#include <stdexcept>
#include <string>

namespace zkt {

/// Connect string: $ZKR_TEST_HOSTS, else the project's 3-node ensemble.
std::string hosts();
/// True when tests run against the project's own ensemble (so they may kill/pause its servers).
bool own_ensemble();
/// Runs `docker/ensemble ARGS...`; returns its stdout; throws std::runtime_error if it fails.
std::string ensemble(const std::string& args);
/// Sends a four-letter word to "ip:port" and returns the reply.
std::string four_letter(const std::string& host_port, const std::string& word);
/// Server number (1..3) of "ip:port" in the project's ensemble, or 0.
int server_number(const std::string& host_port);
/// The "ip:port" of server N (1..3).
std::string server_address(int n);
/// A fresh path like "/zkrt/<test>-<random>"; the node is created by RootGuard.
std::string unique_path(const std::string& name);
/// Session options for tests: test hosts, short timeouts, log to stderr at warn.
zk::SessionOptions options(std::chrono::milliseconds session_timeout = std::chrono::seconds(6));
/// Waits until pred() is true or the timeout passes; returns pred().
bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout);
/// The future's value (or its exception) once it is ready; std::runtime_error if it is not within
/// `limit`: a completion that never comes fails the test instead of hanging it.
template <class T>
T settled(std::future<T> f, std::chrono::seconds limit = std::chrono::seconds(60)) {
  if (f.wait_for(limit) != std::future_status::ready)
    throw std::runtime_error("no completion within " + std::to_string(limit.count()) + " s");
  return f.get();
}
/// The Errc of the zk::Error that fn() throws (its what() into `message` if given), ok if none.
zk::Errc code_of(const std::function<void()>& fn, std::string* message = nullptr);
/// Deletes a subtree (best effort).
void remove_tree(zk::Session& s, const std::string& path);
/// Forces a real server-side expiry of the session behind `id` (open a second handle, close it).
void expire_session(const zk::ClientId& id);

/// Creates a private root for a test and deletes it (recursively) afterwards.
class RootGuard {
public:
  explicit RootGuard(const std::string& name);
  ~RootGuard();
  RootGuard(const RootGuard&) = delete;
  RootGuard& operator=(const RootGuard&) = delete;
  [[nodiscard]] const std::string& path() const { return m_path; }
  [[nodiscard]] zk::Session& session() { return m_session; }

private:
  zk::Session m_session;
  std::string m_path;
};

} // namespace zkt
