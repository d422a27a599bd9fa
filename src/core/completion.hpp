// Completions: the one way core and the recipes wait for asynchronous replies. A Completion<T> is
// the one-shot result of one call, filled by its callback (on the callback thread, or the C
// client's completion thread) and waited for with a deadline; read_all issues many reads back to
// back (one pipelined round trip on the session's connection) and waits for them together.
#pragma once

#include <zkrecipes/session.hpp>

#include "core/gate.hpp"

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace zk::detail::core {

template <class T> class Completion : public std::enable_shared_from_this<Completion<T>> {
public:
  /// A completion shared by the call's callback and its waiter.
  static std::shared_ptr<Completion> make() { return std::shared_ptr<Completion>(new Completion); }

  /// The callback to hand to the asynchronous call. It stores the result and wakes wait_until();
  /// then it runs `also` (e.g. to wake a waiter that watches several things under its own mutex:
  /// `also` may take that mutex, as ready() is never called with this completion's mutex held).
  std::function<void(Result<T>)> callback(std::function<void()> also = {}) {
    return [self = this->shared_from_this(), also = std::move(also)](Result<T> r) {
      {
        std::lock_guard<std::mutex> lock(self->m_mutex);
        self->m_result.emplace(std::move(r));
      }
      self->m_cv.notify_all();
      if (also) also();
    };
  }
  /// Waits until the reply arrived (true) or `until` passed (false).
  bool wait_until(Clock::time_point until) {
    std::unique_lock<std::mutex> lock(m_mutex);
    return m_cv.wait_until(lock, until, [&] { return m_result.has_value(); });
  }
  [[nodiscard]] bool ready() const {
    std::lock_guard<std::mutex> lock(m_mutex);
    return m_result.has_value();
  }
  /// The reply; only once ready().
  [[nodiscard]] Result<T>& result() {
    std::lock_guard<std::mutex> lock(m_mutex);
    return *m_result;
  }

private:
  Completion() = default;
  mutable std::mutex m_mutex;
  std::condition_variable m_cv;
  std::optional<Result<T>> m_result;
};

/// Reads every node of `paths` in one pipelined round and waits until `until`: the data of each
/// (nullopt for a node that does not exist, e.g. deleted since it was listed). Throws the first
/// other error, or Errc::deadline_exceeded naming `what` when not every reply came in time.
std::vector<std::optional<NodeData>> read_all(Gate& gate, const std::vector<std::string>& paths,
                                              Clock::time_point until, const std::string& what);

} // namespace zk::detail::core
