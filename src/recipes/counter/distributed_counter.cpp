// zk::DistributedCounter's operations on top of CounterCore::update, and the combiner that lets the
// threads of one process share a single write.
#include "core/async_completion.hpp"
#include "core/gate.hpp"
#include "recipes/counter/counter_core.hpp"

#include <algorithm>

namespace zk::detail {

using counter::Snapshot;

AddResult CounterCore::add(std::int64_t delta, Deadline deadline) {
  m_session->check_blocking_call("DistributedCounter::add");
  const auto at = m_options.retry.deadline(deadline);
  return m_options.combine ? add_combined(delta, at) : add_alone(delta, at);
}

CounterCore::Decide CounterCore::adding(std::int64_t delta) const {
  // An update holds its core (an asynchronous one keeps it alive): `this` outlives the decision.
  return [this, delta](const Snapshot& s, bool fresh) {
    // An overflow judged on a cached value could be wrong (others may have moved the value back
    // into range): only a fresh read may turn it into an error.
    if (!counter::add_fits(s.value, delta, m_options.codec)) {
      if (!fresh) return Decision{Decision::refresh, 0};
      (void)counter::checked_add(s.value, delta, m_options.codec, m_path); // throws overflow
    }
    return Decision{Decision::write, s.value + delta};
  };
}

AddResult CounterCore::add_alone(std::int64_t delta, Clock::time_point deadline) {
  const auto outcome = update(adding(delta), deadline);
  return AddResult{outcome.base.value, outcome.after, outcome.attempts, outcome.lost_replies};
}

void CounterCore::async_add(std::int64_t delta, Deadline deadline, const CancelToken* cancel,
                            core::Decided<AddResult> done) {
  update_async(adding(delta), m_options.retry.deadline(deadline), cancel,
               [done = std::move(done)](std::optional<Error> e, const Outcome& o) {
                 done(std::move(e), AddResult{o.base.value, o.after, o.attempts, o.lost_replies});
               });
}

// Flat combining: the first caller to find no active leader becomes the leader, takes every queued
// request (its own included) and writes their sum in one versioned update; callers arriving
// meanwhile queue for the next batch, whose first member the finishing leader promotes. Nobody
// holds the mutex during I/O, and each request lives on its caller's stack until its caller sees
// `done`.
AddResult CounterCore::add_combined(std::int64_t delta, Clock::time_point deadline) {
  Request me;
  me.delta = delta;
  me.deadline = deadline;
  std::unique_lock<std::mutex> lock(m_combine_mutex);
  m_queue.push_back(&me);
  if (!m_leader_active) {
    m_leader_active = true;
    me.lead = true;
  }
  // Queued behind another thread's batch: by our deadline we leave the queue with nothing sent. A
  // batch that took us is bounded by our deadline too (run_batch), so it is waited for.
  if (!m_combine_cv.wait_until(lock, deadline, [&] { return me.done || me.lead; })) {
    const auto queued = std::find(m_queue.begin(), m_queue.end(), &me);
    if (queued != m_queue.end()) {
      m_queue.erase(queued);
      throw Error(Errc::deadline_exceeded,
                  "counter " + m_path +
                      ": the deadline passed while queued behind another thread's combined "
                      "write; nothing was sent for this call");
    }
    m_combine_cv.wait(lock, [&] { return me.done || me.lead; });
  }
  if (!me.done) {
    std::vector<Request*> batch(m_queue.begin(), m_queue.end());
    m_queue.clear();
    lock.unlock();
    run_batch(batch); // never throws: every outcome is stored in the requests
    lock.lock();
    for (Request* r : batch)
      r->done = true;
    if (m_queue.empty()) {
      m_leader_active = false;
    } else {
      m_queue.front()->lead = true;
    }
    m_combine_cv.notify_all();
  }
  lock.unlock();
  if (me.error) std::rethrow_exception(me.error);
  return me.result;
}

void CounterCore::run_batch(const std::vector<Request*>& batch) {
  std::vector<std::int64_t> deltas;
  Clock::time_point deadline = Clock::time_point::max();
  for (const Request* r : batch) {
    deltas.push_back(r->delta);
    deadline = std::min(deadline, r->deadline); // the most impatient caller bounds the shared write
  }
  try {
    const auto outcome = update(
        [&](const Snapshot& s, bool fresh) {
          std::int64_t total = 0;
          const auto shares = counter::allocate(s.value, deltas, m_options.codec, total);
          bool any = false;
          for (const auto& share : shares) {
            if (!share.fits && !fresh) return Decision{Decision::refresh, 0};
            any = any || share.fits;
          }
          return any ? Decision{Decision::write, total} : Decision{Decision::stop, 0};
        },
        deadline);
    std::int64_t total = 0;
    const auto shares = counter::allocate(outcome.base.value, deltas, m_options.codec, total);
    for (std::size_t i = 0; i < batch.size(); ++i) {
      if (shares[i].fits && outcome.wrote) {
        batch[i]->result =
            AddResult{shares[i].before, shares[i].after, outcome.attempts, outcome.lost_replies};
        continue;
      }
      try {
        (void)counter::checked_add(shares[i].before, deltas[i], m_options.codec, m_path);
      } catch (...) {
        batch[i]->error = std::current_exception();
      }
    }
  } catch (...) {
    for (Request* r : batch)
      r->error = std::current_exception();
  }
}

std::int64_t CounterCore::get(Deadline deadline) {
  m_session->check_blocking_call("DistributedCounter::get");
  const auto at = m_options.retry.deadline(deadline);
  const auto outcome = update(
      [](const Snapshot& s, bool fresh) {
        return fresh ? Decision{Decision::stop, s.value} : Decision{Decision::refresh, 0};
      },
      at);
  return outcome.base.value;
}

CounterCore::Decide CounterCore::swapping(std::int64_t expected, std::int64_t desired) const {
  if (desired < counter::min_value(m_options.codec) ||
      desired > counter::max_value(m_options.codec)) {
    throw Error(Errc::overflow, "counter " + m_path + ": " + std::to_string(desired) +
                                    " does not fit " + to_string(m_options.codec));
  }
  return [expected, desired](const Snapshot& s, bool fresh) {
    if (s.value == expected) return Decision{Decision::write, desired};
    // "false" must describe the node, not a stale cache.
    return fresh ? Decision{Decision::stop, 0} : Decision{Decision::refresh, 0};
  };
}

namespace {
CasResult swapped(const CounterCore::Outcome& o, std::int64_t desired) {
  if (o.wrote) return CasResult{true, o.base.value, desired};
  return CasResult{false, o.base.value, o.base.value};
}
} // namespace

CasResult CounterCore::compare_and_set(std::int64_t expected, std::int64_t desired,
                                       Deadline deadline) {
  m_session->check_blocking_call("DistributedCounter::compare_and_set");
  auto decide = swapping(expected, desired);
  return swapped(update(decide, m_options.retry.deadline(deadline)), desired);
}

void CounterCore::async_compare_and_set(std::int64_t expected, std::int64_t desired,
                                        Deadline deadline, const CancelToken* cancel,
                                        core::Decided<CasResult> done) {
  update_async(swapping(expected, desired), m_options.retry.deadline(deadline), cancel,
               [done = std::move(done), desired](std::optional<Error> e, const Outcome& o) {
                 done(std::move(e), swapped(o, desired));
               });
}

void CounterCore::set(std::int64_t value, Deadline deadline) {
  m_session->check_blocking_call("DistributedCounter::set");
  const auto at = m_options.retry.deadline(deadline);
  (void)update([&](const Snapshot&, bool) { return Decision{Decision::write, value}; }, at);
}

} // namespace zk::detail

namespace zk {

DistributedCounter::DistributedCounter(Session& session, std::string path, CounterOptions options)
    : m_core(std::make_shared<detail::CounterCore>(detail::core::gate_of(session), std::move(path),
                                                   options)) {}
DistributedCounter::~DistributedCounter() = default;
DistributedCounter::DistributedCounter(DistributedCounter&&) noexcept = default;
DistributedCounter& DistributedCounter::operator=(DistributedCounter&&) noexcept = default;

detail::CounterCore& DistributedCounter::core() const {
  if (!m_core) throw Error(Errc::invalid_argument, "use of a moved-from zk::DistributedCounter");
  return *m_core;
}

std::int64_t DistributedCounter::increment(Deadline deadline) {
  return add(1, deadline);
}
std::int64_t DistributedCounter::decrement(Deadline deadline) {
  return add(-1, deadline);
}
std::int64_t DistributedCounter::add(std::int64_t delta, Deadline deadline) {
  return core().add(delta, deadline).after;
}
AddResult DistributedCounter::add_detailed(std::int64_t delta, Deadline deadline) {
  return core().add(delta, deadline);
}
std::int64_t DistributedCounter::get(Deadline deadline) {
  return core().get(deadline);
}
bool DistributedCounter::compare_and_set(std::int64_t expected, std::int64_t desired,
                                         Deadline deadline) {
  return core().compare_and_set(expected, desired, deadline).swapped;
}
CasResult DistributedCounter::compare_and_exchange(std::int64_t expected, std::int64_t desired,
                                                   Deadline deadline) {
  return core().compare_and_set(expected, desired, deadline);
}
void DistributedCounter::set(std::int64_t value, Deadline deadline) {
  core().set(value, deadline);
}

void DistributedCounter::async_add(std::int64_t delta, Deadline deadline, const CancelToken& cancel,
                                   AddHandler done, Executor executor) {
  auto& c = core();
  c.async_add(delta, deadline, &cancel,
              detail::core::to_completion(std::move(done), std::move(executor),
                                          "DistributedCounter::async_add"));
}
void DistributedCounter::async_add(std::int64_t delta, AddHandler done, Executor executor) {
  auto& c = core();
  c.async_add(delta, Deadline(), nullptr,
              detail::core::to_completion(std::move(done), std::move(executor),
                                          "DistributedCounter::async_add"));
}
std::future<AddResult> DistributedCounter::async_add(std::int64_t delta, Deadline deadline,
                                                     const CancelToken& cancel) {
  auto promise = std::make_shared<std::promise<AddResult>>();
  auto future = promise->get_future();
  core().async_add(delta, deadline, &cancel, detail::core::to_promise(std::move(promise)));
  return future;
}

void DistributedCounter::async_compare_and_exchange(std::int64_t expected, std::int64_t desired,
                                                    Deadline deadline, const CancelToken& cancel,
                                                    CasHandler done, Executor executor) {
  auto& c = core();
  c.async_compare_and_set(
      expected, desired, deadline, &cancel,
      detail::core::to_completion(std::move(done), std::move(executor),
                                  "DistributedCounter::async_compare_and_exchange"));
}
void DistributedCounter::async_compare_and_exchange(std::int64_t expected, std::int64_t desired,
                                                    CasHandler done, Executor executor) {
  auto& c = core();
  c.async_compare_and_set(
      expected, desired, Deadline(), nullptr,
      detail::core::to_completion(std::move(done), std::move(executor),
                                  "DistributedCounter::async_compare_and_exchange"));
}
std::future<CasResult> DistributedCounter::async_compare_and_exchange(std::int64_t expected,
                                                                      std::int64_t desired,
                                                                      Deadline deadline,
                                                                      const CancelToken& cancel) {
  auto promise = std::make_shared<std::promise<CasResult>>();
  auto future = promise->get_future();
  core().async_compare_and_set(expected, desired, deadline, &cancel,
                               detail::core::to_promise(std::move(promise)));
  return future;
}
const std::string& DistributedCounter::path() const noexcept {
  static const std::string none;
  return m_core ? m_core->path() : none;
}
const CounterOptions& DistributedCounter::options() const noexcept {
  static const CounterOptions defaults;
  return m_core ? m_core->options() : defaults;
}

} // namespace zk
