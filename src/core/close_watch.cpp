#include "core/close_watch.hpp"

#include <utility>

namespace zk::detail::core {

void CloseWatch::start(std::shared_ptr<Gate> gate, std::function<void()> on_closed,
                       const std::string& message) {
  m_gate = std::move(gate);
  m_listener = m_gate->add_listener(
      [claimed = m_claimed, on_closed = std::move(on_closed)](const SessionEvent& e) {
        if (e.state != SessionState::closed || claimed->exchange(true)) return;
        on_closed();
      });
  if (!m_gate->is_closed() || m_claimed->exchange(true)) return;
  stop(); // closed before the listener came, so no event will come: the caller hears it instead
  throw Error(Errc::session_closed, message);
}

void CloseWatch::stop() noexcept {
  if (const auto id = m_listener.exchange(0); id != 0) m_gate->remove_listener(id);
}

} // namespace zk::detail::core
