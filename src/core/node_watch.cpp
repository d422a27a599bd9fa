#include "core/node_watch.hpp"

#include "core/retry.hpp"

namespace zk::detail::core {

std::shared_ptr<NodeWatch> NodeWatch::start(const std::shared_ptr<Gate>& gate, std::string path,
                                            OnChange on_change) {
  validate_path(path);
  if (!on_change) throw Error(Errc::invalid_argument, "NodeWatch: no callback");
  auto w = std::make_shared<NodeWatch>(Private{}, gate, std::move(path), std::move(on_change));
  w->m_listener = gate->add_listener([weak = std::weak_ptr<NodeWatch>(w)](const SessionEvent& e) {
    // A new session after an expiry has none of the old one's watches.
    if (e.state != SessionState::connected) return;
    if (const auto self = weak.lock()) self->arm();
  });
  w->arm();
  return w;
}

NodeWatch::NodeWatch(Private, std::shared_ptr<Gate> gate, std::string path, OnChange on_change)
    : m_gate(std::move(gate)), m_path(std::move(path)), m_on_change(std::move(on_change)) {}

NodeWatch::~NodeWatch() {
  m_gate->remove_listener(m_listener);
}

void NodeWatch::stop() {
  {
    std::unique_lock<std::mutex> lk(m_mutex);
    m_stopped = true;
    ++m_round;
    if (!m_gate->on_callback_thread()) m_idle.wait(lk, [&] { return !m_reporting; });
  }
  m_gate->remove_listener(m_listener);
}

void NodeWatch::rearm_if(std::uint64_t round) {
  {
    std::lock_guard<std::mutex> lk(m_mutex);
    if (round != m_round) return;
  }
  arm();
}

bool NodeWatch::retry_helps(Errc e) const {
  return worth_retrying(e) && (classify(e) != ErrorClass::lost || m_gate->renews_after_expiry());
}

// exists() sets its watch whether or not the node exists: creation, change and deletion all fire.
void NodeWatch::arm() {
  std::uint64_t round = 0;
  {
    std::lock_guard<std::mutex> lk(m_mutex);
    if (m_stopped) return;
    round = ++m_round;
  }
  const std::weak_ptr<NodeWatch> weak = weak_from_this();
  try {
    m_gate->exists_async(
        m_path,
        [weak, round](const WatchEvent&) {
          if (const auto self = weak.lock()) self->rearm_if(round);
        },
        [weak, round](Result<std::optional<Stat>> r) {
          if (const auto self = weak.lock()) self->on_exists(round, std::move(r));
        });
  } catch (const Error& e) {
    if (retry_helps(e.errc())) retry(round);
  }
}

void NodeWatch::on_exists(std::uint64_t round, Result<std::optional<Stat>> r) {
  if (!r.ok()) return retry_helps(r.error()) ? retry(round) : void();
  if (!r.value()) return report(round, std::nullopt);
  const std::weak_ptr<NodeWatch> weak = weak_from_this();
  try {
    // No watch of its own: the exists watch already covers this node.
    m_gate->get_async(m_path, {}, [weak, round](Result<NodeData> d) {
      if (const auto self = weak.lock()) self->on_data(round, std::move(d));
    });
  } catch (const Error& e) {
    if (retry_helps(e.errc())) retry(round);
  }
}

void NodeWatch::on_data(std::uint64_t round, Result<NodeData> r) {
  if (r.ok()) return report(round, r.value());
  if (r.error() == Errc::no_node) return report(round, std::nullopt); // gone since exists()
  if (retry_helps(r.error())) retry(round);
}

void NodeWatch::report(std::uint64_t round, const std::optional<NodeData>& node) {
  {
    std::lock_guard<std::mutex> lk(m_mutex);
    if (m_stopped || round != m_round) return; // a newer round is under way
    m_retries = 0;
    const std::optional<std::int64_t> mzxid =
        node ? std::optional<std::int64_t>(node->stat.mzxid) : std::nullopt;
    // Only news: a re-arm that finds what was last reported says nothing.
    if (m_reported && mzxid == m_last_mzxid) return;
    m_reported = true;
    m_last_mzxid = mzxid;
    m_reporting = true;
  }
  // stop() waits for the end of this report (unless it is called from it).
  struct Done {
    NodeWatch& w;
    Done(const Done&) = delete;
    Done& operator=(const Done&) = delete;
    Done(Done&&) = delete;
    Done& operator=(Done&&) = delete;
    ~Done() {
      {
        std::lock_guard<std::mutex> lk(w.m_mutex);
        w.m_reporting = false;
      }
      w.m_idle.notify_all();
    }
  } done{*this};
  m_on_change(node);
}

void NodeWatch::retry(std::uint64_t round) {
  int retries = 0;
  {
    std::lock_guard<std::mutex> lk(m_mutex);
    if (m_stopped || round != m_round) return;
    retries = ++m_retries;
  }
  m_gate->post_at(Clock::now() + recovery_delay(retries), [weak = weak_from_this(), round] {
    if (const auto self = weak.lock()) self->rearm_if(round);
  });
}

} // namespace zk::detail::core
