// The fault matrix's lock workload: what the contenders recorded, and the checks on it (see
// lock_rig.hpp).
#include "lock_rig_contender.hpp"

#include <algorithm>
#include <sstream>

namespace zkt::matrix {

std::size_t LockRig::holds() const {
  std::lock_guard<std::mutex> lock(m_mutex);
  std::size_t total = 0;
  for (const auto& c : m_contenders)
    total += c->hold_starts.size() - (c->holding ? 1 : 0);
  return total;
}

std::size_t LockRig::holds_of(int i) const {
  std::lock_guard<std::mutex> lock(m_mutex);
  const auto& c = *m_contenders.at(static_cast<std::size_t>(i));
  return c.hold_starts.size() - (c.holding ? 1 : 0);
}

std::size_t LockRig::holds_of_since(int i, std::int64_t ns) const {
  std::lock_guard<std::mutex> lock(m_mutex);
  const auto& s = m_contenders.at(static_cast<std::size_t>(i))->hold_starts;
  return static_cast<std::size_t>(
      std::count_if(s.begin(), s.end(), [&](auto t) { return t > ns; }));
}

std::vector<std::int64_t> LockRig::tokens_of(int i) const {
  std::lock_guard<std::mutex> lock(m_mutex);
  return m_contenders.at(static_cast<std::size_t>(i))->hold_tokens;
}

std::int64_t LockRig::first_hold_after(std::int64_t ns) const {
  std::lock_guard<std::mutex> lock(m_mutex);
  std::int64_t first = -1;
  for (const auto& c : m_contenders)
    for (auto t : c->hold_starts)
      if (t > ns && (first < 0 || t < first)) first = t;
  return first;
}

Ms LockRig::longest_gap(std::int64_t from, std::int64_t to) const {
  std::vector<std::int64_t> t{from, to};
  {
    std::lock_guard<std::mutex> lock(m_mutex);
    for (const auto& c : m_contenders)
      for (auto s : c->hold_starts)
        if (s > from && s < to) t.push_back(s);
  }
  std::sort(t.begin(), t.end());
  std::int64_t gap = 0;
  for (std::size_t i = 1; i < t.size(); ++i)
    gap = std::max(gap, t[i] - t[i - 1]);
  return Ms(gap / 1000000);
}

int LockRig::holder() const {
  std::lock_guard<std::mutex> lock(m_mutex);
  for (const auto& c : m_contenders)
    if (c->holding && c->seg_open) return c->index;
  return -1;
}

zk::Session& LockRig::session(int i) {
  return *m_contenders.at(static_cast<std::size_t>(i))->session;
}
RigTarget& LockRig::target(int i) {
  return *m_contenders.at(static_cast<std::size_t>(i))->target;
}

std::int64_t LockRig::first_session(int i) const {
  return m_contenders.at(static_cast<std::size_t>(i))->first_session;
}

std::vector<LockRig::Stamp> LockRig::losses(int i) const {
  std::lock_guard<std::mutex> lock(m_mutex);
  return m_contenders.at(static_cast<std::size_t>(i))->losses;
}
std::vector<LockRig::Stamp> LockRig::uncertainty(int i) const {
  std::lock_guard<std::mutex> lock(m_mutex);
  return m_contenders.at(static_cast<std::size_t>(i))->uncertainty;
}
std::vector<LockRig::Stamp> LockRig::states(int i) const {
  std::lock_guard<std::mutex> lock(m_mutex);
  return m_contenders.at(static_cast<std::size_t>(i))->states;
}

void LockRig::forced_expiry(int i, std::int64_t from, std::int64_t to) {
  std::lock_guard<std::mutex> lock(m_mutex);
  m_contenders.at(static_cast<std::size_t>(i))->expiries.emplace_back(from, to);
}

std::vector<HoldRecord> LockRig::whole_holds() const {
  std::lock_guard<std::mutex> lock(m_mutex);
  const auto now = monotonic_ns();
  std::vector<HoldRecord> all;
  for (const auto& c : m_contenders)
    for (auto r : c->whole) {
      if (r.exit_ns == 0) r.exit_ns = now;
      all.push_back(r);
    }
  return all;
}

std::int64_t LockRig::first_concurrent_after(std::int64_t ns, std::size_t k) const {
  std::vector<std::pair<std::int64_t, int>> edges; // (time, +1 enter / -1 exit), exits first
  for (const auto& r : whole_holds()) {
    edges.emplace_back(r.enter_ns, 1);
    edges.emplace_back(r.exit_ns, -1);
  }
  std::sort(edges.begin(), edges.end());
  std::size_t held = 0;
  for (const auto& [t, d] : edges) {
    held = d > 0 ? held + 1 : held - 1;
    if (d > 0 && held >= k && t > ns) return t;
  }
  return -1;
}

void expect_recipe_rule(Recipe recipe, const std::vector<HoldRecord>& holds,
                        const std::string& what) {
  switch (recipe) {
  case Recipe::rwlock: {
    const auto rw = check_read_write(holds);
    EXPECT_TRUE(rw.ok()) << what << ": a writer overlapped another holder:\n" << rw.explain();
    break;
  }
  case Recipe::semaphore: {
    const auto sem = check_semaphore(holds, semaphore_max);
    EXPECT_TRUE(sem.ok()) << what << ": more leases than the maximum:\n" << sem.explain();
    break;
  }
  case Recipe::lock:
  case Recipe::election: {
    const auto mutex_check = check_mutual_exclusion(holds);
    EXPECT_TRUE(mutex_check.ok()) << what << ": two holders at once:\n" << mutex_check.explain();
    break;
  }
  }
}

std::vector<HoldRecord> LockRig::segments() const {
  std::lock_guard<std::mutex> lock(m_mutex);
  std::vector<HoldRecord> all;
  for (const auto& c : m_contenders) {
    for (auto r : c->segments) {
      bool keep = true;
      for (const auto& [from, to] : c->expiries) {
        if (r.enter_ns >= from && r.enter_ns <= to) keep = false;
        if (r.enter_ns < from && r.exit_ns > from) r.exit_ns = from;
      }
      if (keep) all.push_back(r);
    }
  }
  return all;
}

std::string LockRig::describe_since(std::int64_t ns) const {
  std::ostringstream out;
  const auto ms = [&](std::int64_t t) { return (t - ns) / 1000000; };
  {
    std::lock_guard<std::mutex> lock(m_mutex);
    for (const auto& c : m_contenders) {
      out << "\n  " << m_name << " contender " << c->index << ": session "
          << c->session->session_id() << " (first " << c->first_session
          << "), holding=" << c->holding << " pinned=" << c->pinned;
      for (const auto& st : c->states)
        if (st.ns > ns) out << "\n    +" << ms(st.ns) << " ms session " << st.what;
      for (const auto& st : c->losses)
        if (st.ns > ns) out << "\n    +" << ms(st.ns) << " ms on_lost " << st.what;
      for (const auto& st : c->uncertainty)
        if (st.ns > ns) out << "\n    +" << ms(st.ns) << " ms " << st.what;
      for (auto t : c->hold_starts)
        if (t > ns) out << "\n    +" << ms(t) << " ms acquired";
    }
  }
  try {
    for (const auto& dir : node_dirs(m_options.recipe, m_options.lock_path)) {
      m_reader->sync(dir, Ms(5000));
      const auto kids = m_reader->children(dir, {}, Ms(5000));
      for (const auto& k : kids ? kids->names : std::vector<std::string>{}) {
        const auto node = m_reader->get(dir + "/" + k, {}, Ms(5000));
        out << "\n  child " << dir << "/" << k << " owner "
            << (node ? node->stat.ephemeral_owner : 0);
      }
    }
  } catch (const zk::Error& e) {
    out << "\n  (listing failed: " << e.what() << ")";
  }
  return out.str();
}

std::vector<FencedWrite> LockRig::fence(std::size_t* shared) const {
  m_reader->sync(m_options.fence_dir, Ms(10000));
  const auto kids = m_reader->children(m_options.fence_dir, {}, Ms(10000));
  std::vector<FencedWrite> writes;
  if (!kids) return writes;
  for (const auto& name : kids->names) { // "w-<token>-<seq>"; a shared hold's "r-…" are not ordered
    if (name.rfind("w-", 0) != 0) {
      if (shared != nullptr && name.rfind("r-", 0) == 0) ++*shared;
      continue;
    }
    const auto dash = name.rfind('-');
    writes.push_back(
        FencedWrite{std::stoll(name.substr(2, dash - 2)), std::stoll(name.substr(dash + 1))});
  }
  std::sort(writes.begin(), writes.end(),
            [](const FencedWrite& a, const FencedWrite& b) { return a.order < b.order; });
  return writes;
}

std::string LockRig::check(const std::vector<HoldRecord>& extra) const {
  auto holds = segments();
  for (auto r : extra) {
    r.token *= 64;
    holds.push_back(r);
  }
  expect_recipe_rule(m_options.recipe, holds, "hold segments");
  std::size_t shared_writes = 0;
  const auto writes = fence(&shared_writes);
  const auto fence_check = check_fenced_writes(writes);
  EXPECT_TRUE(fence_check.ok()) << "the fenced resource accepted a stale token:\n"
                                << fence_check.explain();
  std::size_t gone = 0;
  std::size_t losses = 0;
  std::lock_guard<std::mutex> lock(m_mutex);
  const auto grace = (m_options.session_timeout + Ms(3000)).count() * 1000000LL;
  for (const auto& c : m_contenders) {
    losses += c->losses.size();
    for (const auto& [enter, at] : c->gone) {
      ++gone;
      const bool told = std::any_of(c->losses.begin(), c->losses.end(), [&](const Stamp& s) {
        return s.ns >= enter && s.ns <= at + grace;
      });
      EXPECT_TRUE(told) << "contender " << c->index
                        << ": a fenced write found the lock node gone during a hold, and the lock "
                           "never reported the loss (silent loss)";
    }
  }
  std::ostringstream out;
  out << m_name << ": hold_segments=" << holds.size() << " fenced_writes=" << writes.size()
      << " shared_fenced_writes=" << shared_writes << " losses_reported=" << losses
      << " fenced_refused_lock_lost=" << gone;
  return out.str();
}

} // namespace zkt::matrix
