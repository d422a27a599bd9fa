// A re-arming watch on one node: reports the node's data (nullopt while it does not exist) at the
// start and after every change, creation or deletion, re-arming itself after each event, after
// transient errors (with core's recovery backoff) and after a session expiry (a new session has
// none of the old one's watches), until stopped. The base for caches and barriers.
//
// Changes are reported as states, not as events: two changes between two reads are one report,
// and a re-arm that finds the node as last reported reports nothing.
#pragma once

#include "core/gate.hpp"

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace zk::detail::core {

class NodeWatch : public std::enable_shared_from_this<NodeWatch> {
public:
  /// Runs on the session's callback thread; must not block.
  using OnChange = std::function<void(const std::optional<NodeData>& node)>;

  /// Starts watching `path`; the first report (the current state) follows on the callback thread.
  static std::shared_ptr<NodeWatch> start(const std::shared_ptr<Gate>& gate, std::string path,
                                          OnChange on_change);
  ~NodeWatch();
  NodeWatch(const NodeWatch&) = delete;
  NodeWatch& operator=(const NodeWatch&) = delete;
  NodeWatch(NodeWatch&&) = delete;
  NodeWatch& operator=(NodeWatch&&) = delete;

  /// No report runs after this returns (called from a report itself, on the callback thread, it
  /// does not wait for that report to end).
  void stop();

private:
  struct Private {};

public:
  NodeWatch(Private, std::shared_ptr<Gate> gate, std::string path, OnChange on_change);

private:
  void arm();
  /// arm() if `round` is still the current one: a watch or retry of an older round is dropped, so
  /// exactly one watch re-arms (a stale one fires once and is gone).
  void rearm_if(std::uint64_t round);
  /// Whether an error may go away by retrying: transient trouble, or an expiry the session renews.
  bool retry_helps(Errc e) const;
  void on_exists(std::uint64_t round, Result<std::optional<Stat>> r);
  void on_data(std::uint64_t round, Result<NodeData> r);
  void report(std::uint64_t round, const std::optional<NodeData>& node);
  void retry(std::uint64_t round);

  const std::shared_ptr<Gate> m_gate;
  const std::string m_path;
  const OnChange m_on_change;
  std::uint64_t m_listener = 0;

  std::mutex m_mutex;
  std::condition_variable m_idle; ///< notified when a report ends (stop() waits for it)
  bool m_stopped = false;
  bool m_reporting = false;
  std::uint64_t m_round = 0; ///< one per arm(): replies of an older round are ignored
  int m_retries = 0;
  bool m_reported = false;
  std::optional<std::int64_t> m_last_mzxid; ///< of the last report; nullopt: reported absent
};

} // namespace zk::detail::core
