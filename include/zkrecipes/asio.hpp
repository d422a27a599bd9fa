// zkrecipes — optional adapter for standalone Asio (header-only; include it where Asio is used).
//
// clang-format off
//   asio::io_context io;
//   zk::DistributedLock lock(session, "/app/locks/jobs");
//   // A plain handler: it runs on io's thread, the guard ends the hold.
//   zk::asio::async_lock(lock, io.get_executor(), 5s,
//                        [](std::error_code ec, zk::LockGuard guard) { /* ... */ });
//   // In a C++20 coroutine:
//   zk::LockGuard g = co_await zk::asio::async_lock(lock, ex, 5s, asio::use_awaitable);
//   // The read-write lock's sides alike:
//   auto r = co_await zk::asio::async_lock_shared(rw.reader(), ex, 5s, asio::use_awaitable);
//   auto w = co_await zk::asio::async_lock(rw.writer(), ex, 5s, asio::use_awaitable);
//   // A semaphore's lease, a latch's leadership:
//   zk::Lease lease = co_await zk::asio::async_acquire(pool, ex, 30s, asio::use_awaitable);
//   bool leads = co_await zk::asio::async_await_leadership(latch, ex, 30s, asio::use_awaitable);
//   // A counter's update:
//   zk::AddResult r = co_await zk::asio::async_add(hits, 1, ex, asio::use_awaitable);
//   // Also asio::use_future, asio::experimental::deferred (asio::deferred from Asio 1.24),
//   // asio::bind_cancellation_slot(...).
// clang-format on
//
// Asio's conventions hold: any completion token; the handler runs on its associated executor (by
// default the executor passed in), never inside the initiating call; the pending wait counts as
// work of that executor (io.run() does not return while it waits); a cancellation signal on the
// handler's cancellation slot (any cancellation type) ends the wait with Errc::cancelled, our node
// and watch removed as after a timeout. The library does not depend on Asio; this header needs
// Asio 1.22 or later and C++17 (C++20 for use_awaitable).
//
// Lifetimes: a pending wait holds its handler and work on the handler's executor, and its
// completion is posted there from the session's callback thread; so the execution context must
// outlive it. Before destroying an io_context, end the waits (destroy their locks or semaphores:
// that ends them with Errc::cancelled) and let it run their completions.
#pragma once

#include <zkrecipes/distributed_counter.hpp>
#include <zkrecipes/distributed_lock.hpp>
#include <zkrecipes/leader.hpp>
#include <zkrecipes/read_write_lock.hpp>
#include <zkrecipes/semaphore.hpp>

#include <asio/associated_cancellation_slot.hpp>
#include <asio/associated_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/post.hpp>

#include <memory>
#include <system_error>
#include <type_traits>
#include <utility>

namespace zk::asio {
namespace detail {

// The one initiation of every adapter below: `start(deadline, cancel, handler)` is the library's
// asynchronous call completing with (std::error_code, T), whose completion is posted to the Asio
// handler's associated executor.
template <class T, class CompletionToken, class Executor, class Start>
auto initiate(const Executor& ex, Deadline deadline, CompletionToken&& token, Start start) {
  return ::asio::async_initiate<CompletionToken, void(std::error_code, T)>(
      [ex, deadline, start](auto handler) {
        using Handler = decltype(handler);
        // Shared: the library's completion is a copyable std::function, the handler move-only.
        struct Op {
          Handler handler;
          ::asio::executor_work_guard<::asio::associated_executor_t<Handler, Executor>> work;
          CancelToken cancel;
        };
        auto target = ::asio::get_associated_executor(handler, ex);
        auto op = std::make_shared<Op>(
            Op{std::move(handler), ::asio::make_work_guard(target), CancelToken()});
        auto slot = ::asio::get_associated_cancellation_slot(op->handler);
        if (slot.is_connected()) {
          slot.assign([cancel = op->cancel](::asio::cancellation_type) { cancel.cancel(); });
        }
        start(deadline, op->cancel, [op](std::error_code ec, T value) {
          auto held = std::make_shared<T>(std::move(value));
          auto where = op->work.get_executor();
          ::asio::post(where, [op, ec, held]() mutable {
            auto bound = ::asio::get_associated_cancellation_slot(op->handler);
            if (bound.is_connected()) bound.clear();
            op->work.reset();
            std::move(op->handler)(ec, std::move(*held));
          });
        });
      },
      token);
}

} // namespace detail

/// True for the objects whose async_lock() the adapters below take.
template <class Lock>
inline constexpr bool is_async_lock_v =
    std::is_same_v<Lock, DistributedLock> || std::is_same_v<Lock, ReadWriteLock::Writer>;

/// DistributedLock::async_lock() or ReadWriteLock::Writer::async_lock() with an Asio completion
/// token: completes with (std::error_code, zk::LockGuard) on the handler's associated executor
/// (default `ex`). A default `deadline` waits without one.
template <class Lock, class Executor, class CompletionToken,
          class = std::enable_if_t<is_async_lock_v<Lock>>>
auto async_lock(Lock& lock, const Executor& ex, Deadline deadline, CompletionToken&& token) {
  return detail::initiate<LockGuard>(ex, deadline, std::forward<CompletionToken>(token),
                                     [&lock](Deadline d, const CancelToken& c, LockHandler h) {
                                       lock.async_lock(d, c, std::move(h));
                                     });
}

/// ReadWriteLock::Reader::async_lock_shared() with an Asio completion token (as above).
template <class Executor, class CompletionToken>
auto async_lock_shared(ReadWriteLock::Reader& reader, const Executor& ex, Deadline deadline,
                       CompletionToken&& token) {
  return detail::initiate<LockGuard>(ex, deadline, std::forward<CompletionToken>(token),
                                     [&reader](Deadline d, const CancelToken& c, LockHandler h) {
                                       reader.async_lock_shared(d, c, std::move(h));
                                     });
}

/// Semaphore::async_acquire() with an Asio completion token: completes with
/// (std::error_code, zk::Lease) on the handler's associated executor (default `ex`).
template <class Executor, class CompletionToken>
auto async_acquire(Semaphore& pool, const Executor& ex, Deadline deadline,
                   CompletionToken&& token) {
  return detail::initiate<Lease>(ex, deadline, std::forward<CompletionToken>(token),
                                 [&pool](Deadline d, const CancelToken& c, LeaseHandler h) {
                                   pool.async_acquire(d, c, std::move(h));
                                 });
}

/// LeaderLatch::async_await_leadership() or LeaderSelector's with an Asio completion token:
/// completes with (std::error_code, bool leading) on the handler's associated executor.
template <class Participant, class Executor, class CompletionToken,
          class = std::enable_if_t<std::is_same_v<Participant, LeaderLatch> ||
                                   std::is_same_v<Participant, LeaderSelector>>>
auto async_await_leadership(Participant& participant, const Executor& ex, Deadline deadline,
                            CompletionToken&& token) {
  return detail::initiate<bool>(
      ex, deadline, std::forward<CompletionToken>(token),
      [&participant](Deadline d, const CancelToken& c, LeadershipHandler h) {
        participant.async_await_leadership(d, c, std::move(h));
      });
}

/// DistributedCounter::async_add() with an Asio completion token: completes with
/// (std::error_code, zk::AddResult) on the handler's associated executor (default `ex`). A default
/// `deadline` is the counter's RetryPolicy timeout; a cancellation stops the update before its next
/// request (a write already sent is followed to its answer).
template <class Executor, class CompletionToken>
auto async_add(DistributedCounter& counter, std::int64_t delta, const Executor& ex,
               Deadline deadline, CompletionToken&& token) {
  return detail::initiate<AddResult>(
      ex, deadline, std::forward<CompletionToken>(token),
      [&counter, delta](Deadline d, const CancelToken& c, AddHandler h) {
        counter.async_add(delta, d, c, std::move(h));
      });
}

/// The adapters above without a deadline.
template <class Lock, class Executor, class CompletionToken,
          class = std::enable_if_t<is_async_lock_v<Lock>>>
auto async_lock(Lock& lock, const Executor& ex, CompletionToken&& token) {
  return zk::asio::async_lock(lock, ex, Deadline(), std::forward<CompletionToken>(token));
}
template <class Executor, class CompletionToken>
auto async_lock_shared(ReadWriteLock::Reader& reader, const Executor& ex, CompletionToken&& token) {
  return zk::asio::async_lock_shared(reader, ex, Deadline(), std::forward<CompletionToken>(token));
}

template <class Executor, class CompletionToken>
auto async_acquire(Semaphore& pool, const Executor& ex, CompletionToken&& token) {
  return zk::asio::async_acquire(pool, ex, Deadline(), std::forward<CompletionToken>(token));
}
template <class Executor, class CompletionToken>
auto async_add(DistributedCounter& counter, std::int64_t delta, const Executor& ex,
               CompletionToken&& token) {
  return zk::asio::async_add(counter, delta, ex, Deadline(), std::forward<CompletionToken>(token));
}

} // namespace zk::asio
