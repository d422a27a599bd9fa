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

inline bool is_ttl(CreateMode m) {
  return m == CreateMode::persistent_with_ttl || m == CreateMode::persistent_sequential_with_ttl;
}

} // namespace zk::detail
