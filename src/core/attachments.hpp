// Per-session attachments: a recipe's shared state kept once per (session, key), such as the lock's
// one contender per path that every DistributedLock of a process on that path shares. Held weakly
// by the session, so it lives exactly as long as some recipe object holds it, and never outlives
// the session's shared state.
#pragma once

#include "core/gate.hpp"

#include <memory>
#include <string>
#include <typeinfo>

namespace zk::detail::core {

/// The T attached to `session` under `key`, made by `make()` (a std::shared_ptr<T>) on first use.
/// Keys of different types never collide. `make` runs under the attachments' mutex: it must not
/// block on the session or attach anything itself.
template <class T, class Make>
std::shared_ptr<T> attached(Gate& session, const std::string& key, Make&& make) {
  return std::static_pointer_cast<T>(session.attachment(
      std::string(typeid(T).name()) + '\n' + key, [&] { return std::shared_ptr<void>(make()); }));
}

} // namespace zk::detail::core
