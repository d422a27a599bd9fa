#include "recipes/rwlock/rw_protocol.hpp"

#include <zkrecipes/error.hpp>

#include <algorithm>

namespace zk::detail::rwlock {
namespace {

bool is_writer(const lock::LockName& n, const RwProfile& p) {
  return n.form == p.write;
}

} // namespace

lock::Profile queue_profile(const RwProfile& p, Side side) {
  return lock::Profile{p.name,
                       side == Side::write ? p.write : p.read,
                       {p.write, p.read},
                       lock::Profile::Foreign::fails};
}

const RwProfile& curator_profile() {
  static const RwProfile p{"Curator InterProcessReadWriteLock", lock::NameForm::curator_write,
                           lock::NameForm::curator_read};
  return p;
}

const RwProfile& kazoo_profile() {
  static const RwProfile p{"Kazoo WriteLock/ReadLock", lock::NameForm::kazoo,
                           lock::NameForm::kazoo_read};
  return p;
}

lock::Decision decide(const std::vector<std::string>& children, std::string_view me,
                      std::string_view guid, const RwProfile& profile, Side side) {
  const lock::Profile queue = queue_profile(profile, side);
  if (side == Side::write) return lock::decide(children, me, guid, queue);
  // The reader: the stale and foreign rules are the exclusive queue's; the predecessor differs.
  lock::Decision d = lock::decide(children, me, guid, queue);
  if (d.kind != lock::Decision::Kind::wait && d.kind != lock::Decision::Kind::acquired) return d;
  const auto order = lock::order_children(children, queue).contenders;
  const auto mine = std::find_if(order.begin(), order.end(),
                                 [&](const lock::LockName& c) { return c.name == me; });
  const auto writer = std::find_if(std::make_reverse_iterator(mine), order.rend(),
                                   [&](const lock::LockName& c) { return is_writer(c, profile); });
  d.watch.clear();
  if (writer == order.rend()) {
    d.kind = lock::Decision::Kind::acquired;
  } else {
    d.kind = lock::Decision::Kind::wait;
    d.watch = writer->name;
  }
  return d;
}

RwPolicy::RwPolicy(const RwProfile& profile, Side side)
    : m_profile(profile), m_side(side), m_queue(queue_profile(profile, side)),
      m_name(std::string(profile.name) + (side == Side::write ? " (write)" : " (read)")) {}

const RwPolicy& RwPolicy::of(const RwProfile& profile, Side side) noexcept {
  static const RwPolicy policies[] = {
      {curator_profile(), Side::write},
      {curator_profile(), Side::read},
      {kazoo_profile(), Side::write},
      {kazoo_profile(), Side::read},
  };
  for (const auto& p : policies)
    if (&p.m_profile == &profile && p.m_side == side) return p;
  return policies[side == Side::write ? 0 : 1]; // profiles are the two above
}

std::string RwPolicy::make_guid() const {
  return lock::make_guid(m_queue.ours);
}

std::string RwPolicy::node_prefix(std::string_view guid) const {
  return lock::node_prefix(m_queue.ours, guid);
}

bool RwPolicy::created_with(std::string_view child, std::string_view guid) const {
  return lock::has_guid(m_queue.ours, child, guid);
}

std::optional<std::string> RwPolicy::find_own(const std::vector<std::string>& children,
                                              std::string_view guid) const {
  return lock::find_own(children, guid, m_queue);
}

lock::Decision RwPolicy::decide(const std::vector<std::string>& children, std::string_view me,
                                std::string_view guid) const {
  return rwlock::decide(children, me, guid, m_profile, m_side);
}

bool RwPolicy::relist_after_delete(std::string_view predecessor) const {
  if (m_side != Side::write) return false;
  const auto name = lock::parse_lock_name(predecessor);
  return !name || name->form == m_profile.write;
}

std::string RwPolicy::downgrade_name(std::string_view write_node, std::string_view guid) const {
  const auto name = lock::parse_lock_name(write_node);
  if (!name || name->form != m_profile.write) {
    throw Error(Errc::invalid_argument, "downgrade: \"" + std::string(write_node) +
                                            "\" is not a writer's node of " + m_profile.name);
  }
  return lock::node_prefix(m_profile.read, guid) + lock::format_sequence(name->sequence);
}

} // namespace zk::detail::rwlock
