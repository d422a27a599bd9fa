#include "session/request_size.hpp"

namespace zk::detail::wire {

std::size_t acl(const Acl& acl) {
  std::size_t n = int32;
  for (const AclEntry& e : acl)
    n += int32 + bytes(e.scheme.size()) + bytes(e.id.size());
  return n;
}

std::size_t create_body(std::size_t path, std::size_t data, const Acl& a) {
  return bytes(path) + bytes(data) + acl(a) + int32;
}

std::size_t create(std::size_t path, std::size_t data, const Acl& a, bool ttl) {
  return header + create_body(path, data, a) + (ttl ? 8 : 0);
}

std::size_t set_body(std::size_t path, std::size_t data) {
  return bytes(path) + bytes(data) + int32;
}

std::size_t remove_body(std::size_t path) { // also a check: path and version
  return bytes(path) + int32;
}

std::size_t set(std::size_t path, std::size_t data) {
  return header + set_body(path, data);
}

std::size_t remove(std::size_t path) {
  return header + remove_body(path);
}

std::size_t read(std::size_t path) {
  return header + bytes(path) + 1;
}

std::size_t sync(std::size_t path) {
  return header + bytes(path);
}

std::size_t multi(const std::vector<Op>& ops, std::size_t chroot, const Acl& a) {
  std::size_t n = header + multi_header; // the closing header ends the list
  for (const Op& op : ops) {
    const std::size_t path = chroot + op.path.size();
    n += multi_header;
    switch (op.type) {
    case Op::Type::create:
      n += create_body(path, op.data.size(), a);
      break;
    case Op::Type::set:
      n += set_body(path, op.data.size());
      break;
    case Op::Type::remove:
    case Op::Type::check:
      n += remove_body(path);
      break;
    }
  }
  return n;
}

} // namespace zk::detail::wire
