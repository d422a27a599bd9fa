// Paths and connect strings from users: refused with invalid_argument, or accepted and well formed.
#include "fuzz_support.hpp"

#include <zkrecipes/session.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto in = zkfuzz::bytes(data, size);
  try {
    zk::validate_path(in);
    zkfuzz::require(!in.empty() && in.front() == '/', "an accepted path is absolute");
    zkfuzz::require(in.find("//") == std::string_view::npos,
                    "an accepted path has no empty segment");
    zkfuzz::require(in.find('\0') == std::string_view::npos, "an accepted path has no NUL");
  } catch (const zk::Error& e) {
    zkfuzz::require(e.errc() == zk::Errc::invalid_argument, "a bad path is invalid_argument");
  }
  try {
    zk::validate_hosts(in);
    zkfuzz::require(in.find(':') != std::string_view::npos, "accepted hosts have a port");
  } catch (const zk::Error& e) {
    zkfuzz::require(e.errc() == zk::Errc::invalid_argument, "bad hosts are invalid_argument");
  }
  return 0;
}
