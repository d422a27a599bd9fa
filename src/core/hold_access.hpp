// What every recipe object on the queue engine answers the same way about its Hold (a lock, a side
// of a read-write lock, a semaphore's lease): whether it is held, uncertain, its fields while held,
// a fenced write, a release that never throws.
#pragma once

#include "core/fenced.hpp"
#include "core/queue_engine.hpp"

#include <string>
#include <utility>
#include <vector>

namespace zk::detail::core {

/// True while `h` (may be null) is held and no loss was found.
inline bool owns(const Hold* h) noexcept {
  return h != nullptr && h->contender->read(*h, [](const Hold& x) { return x.held(); });
}

inline bool is_uncertain(const Hold* h) noexcept {
  return h != nullptr &&
         h->contender->read(*h, [](const Hold& x) { return x.held() && x.uncertain; });
}

/// fn(h) while held; otherwise throws Errc::lock_lost (lost since) or Errc::lock_not_held, saying
/// "<what>: <noun><path> is not held".
template <class F> auto read_held(const Hold& h, const char* what, const char* noun, F&& fn) {
  return h.contender->read(h, [&](const Hold& x) {
    if (!x.held()) {
      throw Error(x.lost ? Errc::lock_lost : Errc::lock_not_held,
                  std::string(what) + ": " + noun + h.contender->path() + " is not held");
    }
    return fn(x);
  });
}

/// `ops` committed only while h's node exists (see fenced_multi), from a blocking call `caller`.
inline MultiResult fenced_on(const Hold& h, std::vector<Op> ops, Deadline deadline,
                             const char* caller, const char* noun) {
  auto& gate = h.contender->gate();
  gate.check_blocking_call(caller);
  if (ops.empty()) throw Error(Errc::invalid_argument, "fenced: no operations");
  const std::string node =
      read_held(h, "fenced (nothing was sent)", noun, [](const Hold& x) { return x.node; });
  return fenced_multi(gate, node, std::move(ops), deadline.resolve(gate.operation_timeout()),
                      Errc::lock_lost);
}

/// Ends the calling thread's hold of `h` (may be null); what goes wrong is reported, not thrown.
inline void release_quietly(Hold* h) noexcept {
  if (h == nullptr) return;
  try {
    h->contender->release(*h, false);
  } catch (...) { // the loss was reported; a release must not throw
  }
}

/// The end of a recipe object's Hold: its hold released (quietly), then no loss report runs after
/// this returns (one already posted runs first; on the callback thread it is dropped instead).
inline void end_hold(Hold& h) noexcept {
  if (!h.contender) return;
  release_quietly(&h);
  h.reports.close(h.contender->gate().on_callback_thread());
}

} // namespace zk::detail::core
