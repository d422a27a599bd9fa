// The callbacks one recipe object posts to the session's callback thread (a lock's on_lost), and
// the promise its destructor keeps: none of them runs after it returns. Off the callback thread the
// destructor waits for those posted and not run yet, so a loss found by the last unlock() is still
// reported; on the callback thread, where waiting would deadlock, it drops them.
#pragma once

#include <zkrecipes/error.hpp>

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

namespace zk::detail::core {

class Gate;

class Reports {
public:
  /// `fn` wrapped for Gate::post_at: it runs unless close() came first, and counts as pending
  /// until it ran or was dropped (a closed session drops what is posted to it).
  std::function<void()> wrap(std::function<void()> fn);
  /// Waits until nothing wrapped is pending (not on the callback thread), then drops the rest.
  void close(bool on_callback_thread) noexcept;

private:
  struct State {
    std::mutex m;
    std::condition_variable cv;
    int pending = 0;
    bool open = true;
  };
  /// Pending from its creation until the last copy of the wrapped callback is gone.
  class Ticket {
  public:
    explicit Ticket(std::shared_ptr<State> state);
    ~Ticket();
    Ticket(const Ticket&) = delete;
    Ticket& operator=(const Ticket&) = delete;
    Ticket(Ticket&&) = delete;
    Ticket& operator=(Ticket&&) = delete;
    [[nodiscard]] bool open() const;

  private:
    std::shared_ptr<State> m_state;
  };
  std::shared_ptr<State> m_state = std::make_shared<State>();
};

/// `callback(why)` wrapped by `reports` (pending from now: take it while the Hold cannot go away,
/// post it with Gate::post_at later); what the callback throws is logged as
/// "<what>: on_lost threw: …", never propagated.
std::function<void()> loss_report(const std::shared_ptr<Gate>& gate, Reports& reports,
                                  const std::string& what,
                                  std::function<void(const Error& why)> callback, const Error& why);

} // namespace zk::detail::core
