// A wait's subscription to a zk::CancelToken, for as long as the wait lasts. Declare it before the
// wait takes its mutex: the token runs `wake` under its own mutex, and `wake` takes the waiter's,
// so the subscription must be made and dropped (which waits for a running `wake`) without it.
#pragma once

#include <zkrecipes/cancel.hpp>

#include <cstdint>
#include <functional>

namespace zk::detail::core {

class CancelSubscription {
public:
  /// Subscribes `wake` to `token` (nothing if `token` is null).
  CancelSubscription(const CancelToken* token, std::function<void()> wake) : m_token(token) {
    if (m_token != nullptr) m_id = m_token->subscribe(std::move(wake));
  }
  ~CancelSubscription() {
    if (m_token != nullptr) m_token->unsubscribe(m_id);
  }
  CancelSubscription(const CancelSubscription&) = delete;
  CancelSubscription& operator=(const CancelSubscription&) = delete;
  CancelSubscription(CancelSubscription&&) = delete;
  CancelSubscription& operator=(CancelSubscription&&) = delete;

private:
  const CancelToken* m_token;
  std::uint64_t m_id = 0;
};

} // namespace zk::detail::core
