// Pure encoding of a counter's znode data: the value in one of three codecs, optionally followed by
// the writer-tag trailer. No I/O; every function here is unit-tested without a server.
//
// Trailer layout (binary codecs only), after the 8 (int64_be) or 4 (int32_be) value bytes:
// clang-format off
//   "zkrT"  magic, 4 bytes        so that readers can tell a trailer from garbage
//   0x01    format, 1 byte        anything else is bad_data (a newer writer: never overwrite it)
//   n       entry count, 1 byte   1..max_tag_history
//   n x { int32 version, uint64 writer, uint64 sequence }, big-endian, newest first
// clang-format on
// An entry says "the write that produced data version `version` was made by {writer, sequence}".
#pragma once

#include <zkrecipes/distributed_counter.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace zk::detail::counter {

inline constexpr std::size_t max_tag_history = 32;
inline constexpr std::string_view trailer_magic{"zkrT"};
inline constexpr unsigned char trailer_format = 1;
inline constexpr std::size_t trailer_header_size = 6;
inline constexpr std::size_t tag_entry_size = 20;

/// Identifies one write attempt: unique per counter object (random writer id) and attempt.
struct Tag {
  std::uint64_t writer = 0;
  std::uint64_t sequence = 0;
  friend bool operator==(const Tag& a, const Tag& b) {
    return a.writer == b.writer && a.sequence == b.sequence;
  }
};

struct TagEntry {
  std::int32_t version = 0; ///< the data version the tagged write produced
  Tag tag;
  friend bool operator==(const TagEntry& a, const TagEntry& b) {
    return a.version == b.version && a.tag == b.tag;
  }
};

struct Decoded {
  std::int64_t value = 0;
  bool empty = false; ///< zero bytes: reads as the initial value (as Curator and Kazoo do)
  std::vector<TagEntry> history; ///< newest first; empty without a trailer
};

/// The codec's range.
[[nodiscard]] std::int64_t min_value(CounterCodec codec) noexcept;
[[nodiscard]] std::int64_t max_value(CounterCodec codec) noexcept;
/// Whether writes use the trailer (WriterTags::automatic resolved).
[[nodiscard]] bool tags_enabled(const CounterOptions& options) noexcept;
/// Throws Errc::invalid_argument for options that cannot work (range, ascii + tags, history
/// size...).
void validate(const CounterOptions& options);

/// Decodes node data. Throws Errc::bad_data (naming `path` and showing the bytes) for anything that
/// is not exactly a value of the codec, optionally followed by a well-formed trailer (binary
/// codecs), and Errc::overflow for ascii digits beyond int64.
[[nodiscard]] Decoded decode(CounterCodec codec, std::string_view data, std::string_view path,
                             std::int64_t initial_value);

/// Encodes `value` (Errc::overflow if outside the codec's range) and, if `history` is not empty,
/// the trailer with its first max_tag_history entries.
[[nodiscard]] std::string encode(CounterCodec codec, std::int64_t value,
                                 const std::vector<TagEntry>& history, std::string_view path);

/// a + delta, or Errc::overflow naming the path if the result leaves the codec's range.
[[nodiscard]] std::int64_t checked_add(std::int64_t a, std::int64_t delta, CounterCodec codec,
                                       std::string_view path);
/// Whether a + delta stays in the codec's range (no exception: used to split combined batches).
[[nodiscard]] bool add_fits(std::int64_t a, std::int64_t delta, CounterCodec codec) noexcept;

/// Bytes for an error message: printable ASCII quoted, then hex; long data is truncated.
[[nodiscard]] std::string show_bytes(std::string_view data);

} // namespace zk::detail::counter
