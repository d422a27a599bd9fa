// zk::CancelToken: a shared flag and the wake-ups of the waits that watch it.
#include <zkrecipes/cancel.hpp>

#include <atomic>
#include <map>
#include <mutex>

namespace zk {

struct CancelToken::State {
  std::atomic<bool> cancelled{false};
  std::mutex mutex; // guards wakes; held while they run, so unsubscribe waits for a running one
  std::map<std::uint64_t, std::function<void()>> wakes;
  std::uint64_t next = 1;
};

CancelToken::CancelToken() : m_state(std::make_shared<State>()) {}

void CancelToken::cancel() const {
  std::lock_guard<std::mutex> lock(m_state->mutex);
  if (m_state->cancelled.exchange(true)) return;
  for (auto& [id, wake] : m_state->wakes)
    wake();
}

bool CancelToken::cancelled() const noexcept {
  return m_state->cancelled.load();
}

std::uint64_t CancelToken::subscribe(std::function<void()> wake) const {
  std::lock_guard<std::mutex> lock(m_state->mutex);
  if (m_state->cancelled.load()) wake();
  const std::uint64_t id = m_state->next++;
  m_state->wakes.emplace(id, std::move(wake));
  return id;
}

void CancelToken::unsubscribe(std::uint64_t id) const noexcept {
  std::lock_guard<std::mutex> lock(m_state->mutex);
  m_state->wakes.erase(id);
}

} // namespace zk
