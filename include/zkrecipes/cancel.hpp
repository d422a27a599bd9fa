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

class CancelToken {
public:
  CancelToken();
  /// Cancels every call waiting with this token (or a copy), now and later. Idempotent.
  void cancel() const;
  [[nodiscard]] bool cancelled() const noexcept;

  /// For the library's waits: runs `wake` once when the token is cancelled (at once if it already
  /// is) until the returned id is passed to unsubscribe(), which waits for a running `wake`.
  std::uint64_t subscribe(std::function<void()> wake) const;
  void unsubscribe(std::uint64_t id) const noexcept;

private:
  struct State;
  std::shared_ptr<State> m_state;
};

} // namespace zk
