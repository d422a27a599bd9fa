// Shared by the libFuzzer targets: splitting an input into fields, and failing loudly. A finding is
// an abort (a sanitizer report, an unexpected exception, or a broken invariant checked with
// require); each becomes a unit test once fixed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace zkfuzz {

inline std::string_view bytes(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

/// The input cut at `sep` (a separator byte no field needs).
inline std::vector<std::string> split(std::string_view in, char sep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    const std::size_t end = in.find(sep, start);
    out.emplace_back(in.substr(start, end - start));
    if (end == std::string_view::npos) return out;
    start = end + 1;
  }
}

inline void require(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "invariant broken: %s\n", what);
  std::abort();
}

} // namespace zkfuzz
