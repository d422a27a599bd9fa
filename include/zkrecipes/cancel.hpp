// zkrecipes — zk::CancelToken: stop a waiting call from another thread without closing the session.
//
// clang-format off
//   zk::CancelToken cancel;
//   std::thread waiter([&] {
//     try { lock.lock(cancel); }
//     catch (const zk::Error& e) { /* e.errc() == zk::Errc::cancelled: nothing left behind */ }
//   });
//   cancel.cancel();                                   // from any thread, also a callback
// clang-format on
//
// A cancelled call returns as a timed-out one does: its node and its watch are removed before it
// throws Errc::cancelled. Copies share one state: cancelling any copy cancels them all. A token
// stays cancelled; a new call with it is cancelled at once.
//
// Thread safety: every method may be called from any thread, concurrently.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

namespace zk {

/// Stops the calls that wait with it (see the file comment); copies share one state.
/// Thread safety: every method may be called from any thread, concurrently.
class CancelToken {
public:
  /// A token of its own, not cancelled.
  CancelToken();
  /// Another handle on the same state.
  CancelToken(const CancelToken&) = default;
  /// Another handle on the same state.
  CancelToken& operator=(const CancelToken&) = default;
  /// As the copy: a moved-from token still works (it keeps the state, shared with the new one).
  // NOLINTNEXTLINE(performance-move-constructor-init): copying is the point
  CancelToken(CancelToken&& other) noexcept : m_state(other.m_state) {}
  /// As the copy: a moved-from token still works.
  CancelToken& operator=(CancelToken&& other) noexcept {
    m_state = other.m_state;
    return *this;
  }
  ~CancelToken() = default;
  /// Cancels every call waiting with this token (or a copy), now and later. Idempotent.
  void cancel() const;
  /// True once cancel() was called on this token or a copy.
  [[nodiscard]] bool cancelled() const noexcept;

  /// For the library's waits: runs `wake` once when the token is cancelled (at once if it already
  /// is) until the returned id is passed to unsubscribe(), which waits for a running `wake`.
  std::uint64_t subscribe(std::function<void()> wake) const;
  /// Ends the subscription `id` (an unknown id is ignored), waiting for its `wake` if it runs.
  /// `wake` runs on the thread that cancels, under the token's lock: it must not call this token.
  void unsubscribe(std::uint64_t id) const noexcept;

private:
  struct State;
  std::shared_ptr<State> m_state;
};

} // namespace zk
