// Validation of znode paths and connect strings: refuse bad input before anything is sent, naming
// it and what is wrong.
#include <zkrecipes/session.hpp>

#include <algorithm>
#include <cstdio>
#include <string>

namespace zk {
namespace {

std::string printable(std::string_view path) {
  std::string out;
  for (const char c : path) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  return out;
}

[[noreturn]] void refuse(std::string_view path, const char* why) {
  throw Error(Errc::invalid_argument, "invalid path \"" + printable(path) + "\": " + why);
}

} // namespace

void validate_path(std::string_view path) {
  if (path.empty()) refuse(path, "empty");
  if (path.front() != '/') refuse(path, "must start with '/'");
  if (path.size() == 1) return;
  if (path.back() == '/') refuse(path, "must not end with '/'");
  std::size_t start = 1;
  while (start <= path.size()) {
    const std::size_t end = std::min(path.find('/', start), path.size());
    const std::string_view segment = path.substr(start, end - start);
    if (segment.empty()) refuse(path, "empty segment (\"//\")");
    if (segment == "." || segment == "..") refuse(path, "relative segment (\".\" or \"..\")");
    for (const char c : segment) {
      const auto u = static_cast<unsigned char>(c);
      if (u == 0) refuse(path, "contains NUL");
      if (u < 0x20 || u == 0x7f) refuse(path, "contains a control character");
    }
    start = end + 1;
  }
}

void validate_hosts(std::string_view hosts) {
  const auto refuse_hosts = [&](const std::string& why) {
    throw Error(Errc::invalid_argument, "invalid hosts \"" + printable(hosts.substr(0, 200)) +
                                            "\": " + why + " (expected host:port,host:port)");
  };
  if (hosts.empty()) refuse_hosts("empty");
  const std::size_t slash = hosts.find('/');
  if (slash != std::string_view::npos) validate_path(hosts.substr(slash)); // a chroot suffix
  const std::string_view list = hosts.substr(0, slash);
  std::size_t start = 0;
  for (;;) {
    const std::size_t end = std::min(list.find(',', start), list.size());
    const std::string_view entry = list.substr(start, end - start);
    const std::string shown = "\"" + printable(entry.substr(0, 100)) + "\"";
    std::string_view host;
    std::string_view port;
    if (!entry.empty() && entry.front() == '[') { // [IPv6]:port
      const std::size_t close = entry.find(']');
      if (close == std::string_view::npos || close + 1 >= entry.size() || entry[close + 1] != ':')
        refuse_hosts("entry " + shown + " is not [address]:port");
      host = entry.substr(1, close - 1);
      port = entry.substr(close + 2);
    } else {
      const std::size_t colon = entry.rfind(':');
      if (colon == std::string_view::npos) refuse_hosts("entry " + shown + " has no :port");
      host = entry.substr(0, colon);
      port = entry.substr(colon + 1);
    }
    if (host.empty()) refuse_hosts("entry " + shown + " has no host");
    for (const char c : host) {
      const auto u = static_cast<unsigned char>(c);
      if (u <= 0x20 || u == 0x7f)
        refuse_hosts("entry " + shown + " has a space or control character");
    }
    const bool digits = !port.empty() && port.size() <= 5 &&
                        port.find_first_not_of("0123456789") == std::string_view::npos;
    const long n = digits ? std::stol(std::string(port)) : 0;
    if (n < 1 || n > 65535) refuse_hosts("entry " + shown + " has no port between 1 and 65535");
    if (end == list.size()) return;
    start = end + 1;
  }
}

} // namespace zk
