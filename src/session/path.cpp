// Znode path validation: refuse a bad path before anything is sent, naming it and what is wrong.
#include <zkrecipes/session.hpp>

#include <cstdio>

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

} // namespace zk
