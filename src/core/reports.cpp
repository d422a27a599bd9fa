#include "core/reports.hpp"

#include "core/gate.hpp"

namespace zk::detail::core {

Reports::Ticket::Ticket(std::shared_ptr<State> state) : m_state(std::move(state)) {
  std::lock_guard<std::mutex> lock(m_state->m);
  ++m_state->pending;
}

Reports::Ticket::~Ticket() {
  std::lock_guard<std::mutex> lock(m_state->m);
  --m_state->pending;
  m_state->cv.notify_all();
}

bool Reports::Ticket::open() const {
  std::lock_guard<std::mutex> lock(m_state->m);
  return m_state->open;
}

std::function<void()> Reports::wrap(std::function<void()> fn) {
  return [ticket = std::make_shared<Ticket>(m_state), fn = std::move(fn)] {
    if (ticket->open()) fn();
  };
}

void Reports::close(bool on_callback_thread) noexcept {
  std::unique_lock<std::mutex> lock(m_state->m);
  // The one pending report that may be running now, on the callback thread, is the caller itself.
  if (!on_callback_thread) m_state->cv.wait(lock, [&] { return m_state->pending == 0; });
  m_state->open = false;
}

std::function<void()> loss_report(const std::shared_ptr<Gate>& gate, Reports& reports,
                                  const std::string& what,
                                  std::function<void(const Error& why)> callback,
                                  const Error& why) {
  return reports.wrap([gate, what, callback = std::move(callback), why] {
    try {
      callback(why);
    } catch (const std::exception& e) {
      gate->log(LogLevel::warn, what + ": on_lost threw: " + e.what());
    } catch (...) {
      gate->log(LogLevel::warn, what + ": on_lost threw");
    }
  });
}

} // namespace zk::detail::core
