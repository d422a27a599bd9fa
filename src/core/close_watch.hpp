// The session's close, for an asynchronous operation that no engine waits for. Once a session is
// closed no post and no timer runs, so its `closed` event (on the callback thread) is the last
// chance to end such an operation. The close is claimed by whoever sees it first, so it is
// reported once: by the event, or by start() when the session was closed before the listener came.
#pragma once

#include "core/gate.hpp"

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace zk::detail::core {

class CloseWatch {
public:
  CloseWatch() = default;
  CloseWatch(const CloseWatch&) = delete;
  CloseWatch& operator=(const CloseWatch&) = delete;
  CloseWatch(CloseWatch&&) = delete;
  CloseWatch& operator=(CloseWatch&&) = delete;
  ~CloseWatch() { stop(); }

  /// Runs `on_closed` once, on the callback thread, when the session closes. Throws
  /// Errc::session_closed with `message` if it is closed already and no event will report it
  /// (nothing listens then); returns if the event got there first (`on_closed` runs).
  void start(std::shared_ptr<Gate> gate, std::function<void()> on_closed,
             const std::string& message);
  /// Stops listening; idempotent, from any thread, also from `on_closed`.
  void stop() noexcept;

private:
  std::shared_ptr<Gate> m_gate;
  std::shared_ptr<std::atomic<bool>> m_claimed = std::make_shared<std::atomic<bool>>(false);
  std::atomic<std::uint64_t> m_listener{0};
};

} // namespace zk::detail::core
