// Records events delivered on the callback thread so a test can wait for them with a deadline.
#pragma once

#include <zkrecipes/session.hpp>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <vector>

namespace zkt {

template <class T> class Recorder {
public:
  void push(const T& v) {
    std::lock_guard<std::mutex> lock(m_mutex);
    m_items.push_back(v);
    m_cv.notify_all();
  }
  /// Waits until pred(items) holds or the timeout passes; returns whether it held.
  template <class Pred> bool wait(Pred pred, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(m_mutex);
    return m_cv.wait_for(lock, timeout, [&] { return pred(m_items); });
  }
  bool wait_count(std::size_t n, std::chrono::milliseconds timeout) {
    return wait([n](const std::vector<T>& v) { return v.size() >= n; }, timeout);
  }
  std::vector<T> items() const {
    std::lock_guard<std::mutex> lock(m_mutex);
    return m_items;
  }

private:
  mutable std::mutex m_mutex;
  std::condition_variable m_cv;
  std::vector<T> m_items;
};

/// Session states seen by a listener.
class StateLog : public Recorder<zk::SessionEvent> {
public:
  explicit StateLog(zk::Session& s)
      : m_session(s), m_id(s.add_listener([this](const zk::SessionEvent& e) { push(e); })) {}
  ~StateLog() {
    try {
      m_session.remove_listener(m_id);
    } catch (...) { // a closed or moved-from session calls nobody any more
    }
  }
  StateLog(const StateLog&) = delete;
  StateLog& operator=(const StateLog&) = delete;
  bool wait_for_state(zk::SessionState st, std::chrono::milliseconds timeout) {
    return wait(
        [st](const std::vector<zk::SessionEvent>& v) {
          for (const auto& e : v)
            if (e.state == st) return true;
          return false;
        },
        timeout);
  }

private:
  zk::Session& m_session;
  std::uint64_t m_id;
};

} // namespace zkt
