// The size of a request's packet as the server measures it against jute.maxbuffer: everything
// after the 4-byte length prefix (request header, then the request's fields in jute's encoding).
// A larger packet makes the server drop the connection, which the caller would see as a retryable
// connection_loss; the session refuses it before sending instead (see SessionOptions).
#pragma once

#include <zkrecipes/session.hpp>

#include <cstddef>
#include <vector>

namespace zk::detail::wire {

inline constexpr std::size_t header = 8;       // xid, op type
inline constexpr std::size_t int32 = 4;        // version, flags, perms, vector length
inline constexpr std::size_t multi_header = 9; // op type, done flag, error

/// A length-prefixed string or buffer.
constexpr std::size_t bytes(std::size_t n) {
  return int32 + n;
}

std::size_t acl(const Acl& acl);
/// `path` is the full path the server sees (the chroot included).
std::size_t create_body(std::size_t path, std::size_t data, const Acl& acl);
std::size_t set_body(std::size_t path, std::size_t data);
std::size_t remove_body(std::size_t path); // a remove's or a check's: path and version
/// One request of the given kind, with its header.
std::size_t create(std::size_t path, std::size_t data, const Acl& acl, bool ttl);
std::size_t set(std::size_t path, std::size_t data);
std::size_t remove(std::size_t path);
std::size_t read(std::size_t path); // get, exists, children: path and watch flag
std::size_t sync(std::size_t path);
/// A multi of `ops`, each path prefixed by `chroot` bytes, creates with `acl`.
std::size_t multi(const std::vector<Op>& ops, std::size_t chroot, const Acl& acl);

} // namespace zk::detail::wire
