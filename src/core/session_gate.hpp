// The gate: the one way a recipe reaches the shared state behind a zk::Session (as libpqxx's call
// gates give one class access to another's internals without a public accessor). Recipes keep the
// std::shared_ptr it returns, so their background work stays valid (and fails with session_closed)
// after the Session is moved or destroyed.
#pragma once

#include <zkrecipes/session.hpp>

#include "session/session_impl.hpp"

#include <memory>

namespace zk::detail {

class SessionGate {
public:
  /// The shared state of `s`; throws Errc::invalid_argument for a moved-from Session.
  static std::shared_ptr<SessionImpl> impl(const Session& s) {
    (void)impl_of(s); // the one check of a moved-from Session
    return s.m_impl;
  }
};

} // namespace zk::detail
