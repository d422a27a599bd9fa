// zkrecipes — the conventions of the recipes' asynchronous calls (DistributedLock::async_lock…).
//
// clang-format off
//   lock.async_lock(5s, cancel, [](std::error_code ec, zk::LockGuard guard) {
//     if (ec) return log(ec.message());       // zk::Errc::deadline_exceeded, cancelled…
//     write(guard.fencing_token());           // guard ends the hold, on any thread
//   });
//   std::future<zk::LockGuard> f = lock.async_lock(5s);    // the same, as a future
// clang-format on
//
// An asynchronous call returns at once: no thread waits for it, none is started. The queue engine
// that drives the blocking form drives it, on whichever thread news arrives. Its completion runs
// exactly once, never inside the call that started it: on the session's callback thread, or given
// to an Executor (for an event loop: post it there). A deadline or a cancellation ends the wait as
// it ends a blocking one; the removal of our node and watch is sent before the completion runs, so
// every later request of the session finds them gone (a wait that ends while its node's create is
// still unanswered, within a round trip of its start, has the node found and deleted after that
// answer instead). Errors that the call can tell at once (a moved-from object, a closed session)
// are thrown by the call itself.
#pragma once

#include <functional>

namespace zk {

/// Runs the function it is given, later, somewhere else (an event loop's post, a thread pool's
/// submit). It must not run it inline: the completion may take locks that the caller holds.
using Executor = std::function<void(std::function<void()> work)>;

} // namespace zk
