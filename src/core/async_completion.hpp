// The one way an asynchronous call's result reaches the user (see async.hpp): the library decides
// with a std::optional<Error> and a move-only value T (a LockGuard, a Lease); the user's handler
// gets a std::error_code and the value, at once on the thread that decided (the session's callback
// thread) or given to the Executor; or a std::promise gets the value or the zk::Error.
#pragma once

#include <zkrecipes/async.hpp>
#include <zkrecipes/error.hpp>
#include <zkrecipes/session.hpp>

#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <utility>

namespace zk::detail::core {

/// The end of an asynchronous call's wait: a default Deadline means none (unlike a blocking call's,
/// which is the operation timeout).
inline Clock::time_point async_until(Deadline deadline, std::chrono::milliseconds op_timeout) {
  return deadline.is_default() ? far_future : deadline.resolve(op_timeout);
}

template <class T> using Decided = std::function<void(std::optional<Error>, T)>;

/// `done` as a Decided<T>, run where `executor` says. Throws Errc::invalid_argument for a null
/// `done`, naming `caller`.
template <class T>
Decided<T> to_completion(std::function<void(std::error_code, T)> done, Executor executor,
                         const char* caller) {
  if (!done) throw Error(Errc::invalid_argument, std::string(caller) + " without a completion");
  return [done = std::move(done), executor = std::move(executor)](std::optional<Error> e, T value) {
    const std::error_code ec = e ? e->code() : std::error_code();
    if (!executor) return done(ec, std::move(value));
    // std::function needs a copyable callable: the value travels in a shared_ptr.
    auto held = std::make_shared<T>(std::move(value));
    executor([done, ec, held] { done(ec, std::move(*held)); });
  };
}

/// A Decided<T> that fulfils `promise`.
template <class T> Decided<T> to_promise(std::shared_ptr<std::promise<T>> promise) {
  return [promise = std::move(promise)](std::optional<Error> e, T value) {
    if (e) return promise->set_exception(std::make_exception_ptr(*e));
    promise->set_value(std::move(value));
  };
}

} // namespace zk::detail::core
