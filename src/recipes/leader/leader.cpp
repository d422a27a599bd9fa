// zk::LeaderLatch, zk::LeaderSelector and zk::Leadership: the election (election.hpp) under the
// latch, selector and Kazoo election profiles.
#include <zkrecipes/leader.hpp>

#include "recipes/leader/election.hpp"

#include "core/async_completion.hpp"

namespace zk {
namespace {

using detail::leader::Election;

Election& of(const std::shared_ptr<Election>& e, const char* kind) {
  if (!e) throw Error(Errc::invalid_argument, std::string("use of a moved-from zk::") + kind);
  return *e;
}

const detail::lock::Profile& profile_of(SelectorProfile p) {
  return p == SelectorProfile::kazoo ? detail::lock::kazoo_election_profile()
                                     : detail::lock::selector_profile();
}

// The three forms of async_await_leadership, for the latch and the selector alike.
void await_async(const std::shared_ptr<Election>& e, const char* kind, Deadline deadline,
                 const CancelToken* cancel, LeadershipHandler done, Executor executor) {
  auto& election = of(e, kind);
  election.async_await(
      deadline, cancel,
      detail::core::to_completion(std::move(done), std::move(executor), "async_await_leadership"));
}

std::future<bool> await_future(const std::shared_ptr<Election>& e, const char* kind,
                               Deadline deadline, const CancelToken& cancel) {
  auto& election = of(e, kind);
  auto promise = std::make_shared<std::promise<bool>>();
  auto future = promise->get_future();
  election.async_await(deadline, &cancel, detail::core::to_promise(std::move(promise)));
  return future;
}

} // namespace

bool Leadership::stop_requested() const {
  return m_election.stop_requested(m_stop);
}

bool Leadership::wait_until_stop(Clock::time_point at) const {
  return m_election.wait_until_stop(m_stop, at);
}

MultiResult Leadership::fenced(std::vector<Op> ops, Deadline deadline) const {
  return m_election.fenced_term(m_node, std::move(ops), deadline);
}

LeaderLatch::LeaderLatch(Session& session, std::string path, LatchOptions options) {
  detail::leader::ElectionConfig c;
  c.id = std::move(options.id);
  c.container_parent = options.container_parent;
  c.lead_while_suspended = options.lead_while_suspended;
  c.requeue = true; // a latch takes part until it is closed
  c.listeners = std::move(options.listeners);
  c.kind = "LeaderLatch";
  m_election = Election::start(detail::core::gate_of(session), std::move(path),
                               detail::lock::latch_profile(), std::move(c));
}

LeaderLatch::~LeaderLatch() {
  if (m_election) m_election->close(CloseMode::silent);
}
LeaderLatch::LeaderLatch(LeaderLatch&&) noexcept = default;
LeaderLatch& LeaderLatch::operator=(LeaderLatch&& other) noexcept {
  if (this != &other) {
    if (m_election) m_election->close(CloseMode::silent);
    m_election = std::move(other.m_election);
  }
  return *this;
}

bool LeaderLatch::await_leadership() {
  return await_until(far_future);
}
bool LeaderLatch::await_until(Clock::time_point at) {
  return of(m_election, "LeaderLatch").await_until(at);
}
void LeaderLatch::async_await_leadership(Deadline deadline, const CancelToken& cancel,
                                         LeadershipHandler done, Executor executor) {
  await_async(m_election, "LeaderLatch", deadline, &cancel, std::move(done), std::move(executor));
}
void LeaderLatch::async_await_leadership(LeadershipHandler done, Executor executor) {
  await_async(m_election, "LeaderLatch", {}, nullptr, std::move(done), std::move(executor));
}
std::future<bool> LeaderLatch::async_await_leadership(Deadline deadline,
                                                      const CancelToken& cancel) {
  return await_future(m_election, "LeaderLatch", deadline, cancel);
}
bool LeaderLatch::is_leader() const noexcept {
  return m_election && m_election->is_leader();
}
std::int64_t LeaderLatch::term() const {
  return of(m_election, "LeaderLatch").term();
}
std::string LeaderLatch::node_path() const {
  return of(m_election, "LeaderLatch").node_path();
}
MultiResult LeaderLatch::fenced(std::vector<Op> ops, Deadline deadline) {
  return of(m_election, "LeaderLatch").fenced(std::nullopt, std::move(ops), deadline);
}
MultiResult LeaderLatch::fenced(std::int64_t term, std::vector<Op> ops, Deadline deadline) {
  return of(m_election, "LeaderLatch").fenced(term, std::move(ops), deadline);
}
std::optional<Participant> LeaderLatch::leader(Deadline deadline) const {
  auto all = participants(deadline);
  if (all.empty() || !all.front().leader) return std::nullopt;
  return all.front();
}
std::vector<Participant> LeaderLatch::participants(Deadline deadline) const {
  return of(m_election, "LeaderLatch").participants(deadline);
}
std::vector<Participant> LeaderLatch::participants(Session& session, std::string_view path,
                                                   Deadline deadline) {
  validate_path(path);
  return Election::list(*detail::core::gate_of(session), std::string(path),
                        detail::lock::latch_profile(), deadline);
}
void LeaderLatch::close(CloseMode mode) {
  if (m_election) m_election->close(mode);
}
const std::string& LeaderLatch::path() const noexcept {
  static const std::string none;
  return m_election ? m_election->path() : none;
}

LeaderSelector::LeaderSelector(Session& session, std::string path, Work work,
                               SelectorOptions options) {
  if (!work) throw Error(Errc::invalid_argument, "LeaderSelector: no function to run");
  detail::leader::ElectionConfig c;
  c.id = std::move(options.id);
  c.container_parent = options.container_parent;
  c.lead_while_suspended = options.lead_while_suspended;
  c.requeue = options.requeue;
  c.listeners = std::move(options.listeners);
  c.work = std::move(work);
  c.kind = "LeaderSelector";
  m_election = Election::start(detail::core::gate_of(session), std::move(path),
                               profile_of(options.profile), std::move(c));
}

LeaderSelector::~LeaderSelector() {
  if (m_election) m_election->close(CloseMode::silent);
}
LeaderSelector::LeaderSelector(LeaderSelector&&) noexcept = default;
LeaderSelector& LeaderSelector::operator=(LeaderSelector&& other) noexcept {
  if (this != &other) {
    if (m_election) m_election->close(CloseMode::silent);
    m_election = std::move(other.m_election);
  }
  return *this;
}

bool LeaderSelector::await_leadership() {
  return await_until(far_future);
}
bool LeaderSelector::await_until(Clock::time_point at) {
  return of(m_election, "LeaderSelector").await_until(at);
}
void LeaderSelector::async_await_leadership(Deadline deadline, const CancelToken& cancel,
                                            LeadershipHandler done, Executor executor) {
  await_async(m_election, "LeaderSelector", deadline, &cancel, std::move(done),
              std::move(executor));
}
void LeaderSelector::async_await_leadership(LeadershipHandler done, Executor executor) {
  await_async(m_election, "LeaderSelector", {}, nullptr, std::move(done), std::move(executor));
}
std::future<bool> LeaderSelector::async_await_leadership(Deadline deadline,
                                                         const CancelToken& cancel) {
  return await_future(m_election, "LeaderSelector", deadline, cancel);
}
bool LeaderSelector::is_leader() const noexcept {
  return m_election && m_election->is_leader();
}
std::int64_t LeaderSelector::term() const {
  return of(m_election, "LeaderSelector").term();
}
std::optional<Participant> LeaderSelector::leader(Deadline deadline) const {
  auto all = participants(deadline);
  if (all.empty() || !all.front().leader) return std::nullopt;
  return all.front();
}
std::vector<Participant> LeaderSelector::participants(Deadline deadline) const {
  return of(m_election, "LeaderSelector").participants(deadline);
}
std::vector<Participant> LeaderSelector::participants(Session& session, std::string_view path,
                                                      SelectorProfile profile, Deadline deadline) {
  validate_path(path);
  return Election::list(*detail::core::gate_of(session), std::string(path), profile_of(profile),
                        deadline);
}
void LeaderSelector::interrupt() {
  of(m_election, "LeaderSelector").interrupt();
}
void LeaderSelector::requeue() {
  of(m_election, "LeaderSelector").requeue();
}
void LeaderSelector::close(CloseMode mode) {
  if (m_election) m_election->close(mode);
}
const std::string& LeaderSelector::path() const noexcept {
  static const std::string none;
  return m_election ? m_election->path() : none;
}

} // namespace zk
