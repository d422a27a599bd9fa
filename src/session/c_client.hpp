// Internal to src/session/: the C client's header and the glue the operations share.
#pragma once

#include <zookeeper/zookeeper.h>

#include <zkrecipes/session.hpp>

namespace zk::detail {

/// The watcher function of every node watch (context: the watch id).
void node_watcher(zhandle_t* zh, int type, int state, const char* path, void* ctx);
/// True on a SessionImpl's dispatcher thread.
bool on_dispatcher_thread() noexcept;

inline Stat to_stat(const struct ::Stat& s) {
  return Stat{s.czxid,    s.mzxid,          s.ctime,      s.mtime,       s.version, s.cversion,
              s.aversion, s.ephemeralOwner, s.dataLength, s.numChildren, s.pzxid};
}

inline int to_c_mode(CreateMode m) {
  switch (m) {
  case CreateMode::persistent:
    return ZOO_PERSISTENT;
  case CreateMode::ephemeral:
    return ZOO_EPHEMERAL;
  case CreateMode::persistent_sequential:
    return ZOO_PERSISTENT_SEQUENTIAL;
  case CreateMode::ephemeral_sequential:
    return ZOO_EPHEMERAL_SEQUENTIAL;
  case CreateMode::container:
    return ZOO_CONTAINER;
  case CreateMode::persistent_with_ttl:
    return ZOO_PERSISTENT_WITH_TTL;
  case CreateMode::persistent_sequential_with_ttl:
    return ZOO_PERSISTENT_SEQUENTIAL_WITH_TTL;
  }
  return ZOO_PERSISTENT;
}

/// A zk::Acl as the C client's ACL_vector, valid while this object lives (the C client serializes a
/// request's ACL when the request is issued).
class CAcl {
public:
  explicit CAcl(const Acl& acl) : m_entries(acl) {
    m_c.reserve(m_entries.size());
    for (auto& e : m_entries)
      m_c.push_back(::ACL{static_cast<std::int32_t>(e.perms), ::Id{e.scheme.data(), e.id.data()}});
    m_vector = ::ACL_vector{static_cast<std::int32_t>(m_c.size()), m_c.data()};
  }
  CAcl(const CAcl&) = delete;
  CAcl& operator=(const CAcl&) = delete;
  CAcl(CAcl&&) = delete;
  CAcl& operator=(CAcl&&) = delete;
  ~CAcl() = default;
  ::ACL_vector* get() { return &m_vector; }

private:
  Acl m_entries; // owns the strings the C structs point into
  std::vector<::ACL> m_c;
  ::ACL_vector m_vector{};
};

/// Throws Errc::invalid_argument for an empty ACL or an entry without a scheme or permissions.
inline void validate_acl(const Acl& acl, const std::string& what) {
  if (acl.empty()) throw Error(Errc::invalid_argument, what + ": an empty ACL");
  for (const auto& e : acl) {
    if (e.scheme.empty() || e.perms == 0 || e.perms > perm::all) {
      throw Error(Errc::invalid_argument,
                  what + ": an ACL entry needs a scheme and permissions in 1..31");
    }
  }
}

inline bool is_ttl(CreateMode m) {
  return m == CreateMode::persistent_with_ttl || m == CreateMode::persistent_sequential_with_ttl;
}

} // namespace zk::detail
