// Counter codecs and the writer-tag trailer (see codec.hpp for the layout).
#include "recipes/counter/codec.hpp"

#include <algorithm>
#include <limits>

namespace zk::detail::counter {
namespace {

constexpr std::int64_t int32_min = std::numeric_limits<std::int32_t>::min();
constexpr std::int64_t int32_max = std::numeric_limits<std::int32_t>::max();
constexpr std::int64_t int64_min = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t int64_max = std::numeric_limits<std::int64_t>::max();

std::size_t value_size(CounterCodec codec) noexcept {
  return codec == CounterCodec::int32_be ? 4 : 8;
}

[[noreturn]] void bad_data(CounterCodec codec, std::string_view path, std::string_view data,
                           const std::string& why) {
  throw Error(Errc::bad_data, "counter " + std::string(path) + ": cannot decode " +
                                  std::to_string(data.size()) + " bytes as " + to_string(codec) +
                                  " (" + why + "): " + show_bytes(data) + "; nothing was written");
}

std::uint64_t read_be(std::string_view bytes) noexcept {
  std::uint64_t v = 0;
  for (char c : bytes)
    v = (v << 8) | static_cast<unsigned char>(c);
  return v;
}

void write_be(std::string& out, std::uint64_t v, std::size_t width) {
  for (std::size_t i = width; i-- > 0;)
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xffU));
}

// The value bytes are reinterpreted as two's complement; memcpy-free so it works on any host.
std::int64_t to_signed(std::uint64_t u, std::size_t width) noexcept {
  if (width == 4) {
    const auto low = static_cast<std::uint32_t>(u);
    return low >= 0x80000000U ? static_cast<std::int64_t>(low) - (std::int64_t{1} << 32)
                              : static_cast<std::int64_t>(low);
  }
  if (u > static_cast<std::uint64_t>(int64_max)) {
    return -static_cast<std::int64_t>(~u) - 1; // ~u fits in int64 here
  }
  return static_cast<std::int64_t>(u);
}

std::vector<TagEntry> decode_trailer(CounterCodec codec, std::string_view data,
                                     std::string_view path) {
  const std::string_view t = data.substr(value_size(codec));
  if (t.size() < trailer_header_size || t.substr(0, trailer_magic.size()) != trailer_magic)
    bad_data(codec, path, data, "wrong length");
  if (static_cast<unsigned char>(t[4]) != trailer_format)
    bad_data(codec, path, data, "unknown trailer format");
  const auto n = static_cast<unsigned char>(t[5]);
  if (n == 0 || n > max_tag_history || t.size() != trailer_header_size + n * tag_entry_size)
    bad_data(codec, path, data, "damaged trailer");
  std::vector<TagEntry> history;
  history.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::string_view e = t.substr(trailer_header_size + i * tag_entry_size, tag_entry_size);
    TagEntry entry;
    entry.version = static_cast<std::int32_t>(to_signed(read_be(e.substr(0, 4)), 4));
    entry.tag.writer = read_be(e.substr(4, 8));
    entry.tag.sequence = read_be(e.substr(12, 8));
    history.push_back(entry);
  }
  return history;
}

std::int64_t decode_ascii(std::string_view data, std::string_view path) {
  const bool negative = data.front() == '-';
  const std::string_view digits = negative ? data.substr(1) : data;
  if (digits.empty()) bad_data(CounterCodec::ascii, path, data, "no digits");
  // Accumulate as a negative number: its range includes int64's minimum.
  std::int64_t v = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') bad_data(CounterCodec::ascii, path, data, "not a decimal integer");
    const int d = c - '0';
    if (v < (int64_min + d) / 10) {
      throw Error(Errc::overflow, "counter " + std::string(path) + " holds " + show_bytes(data) +
                                      ", beyond the 64-bit range");
    }
    v = v * 10 - d;
  }
  if (negative) return v;
  if (v == int64_min) {
    throw Error(Errc::overflow, "counter " + std::string(path) + " holds " + show_bytes(data) +
                                    ", beyond the 64-bit range");
  }
  return -v;
}

} // namespace

std::int64_t min_value(CounterCodec codec) noexcept {
  return codec == CounterCodec::int32_be ? int32_min : int64_min;
}
std::int64_t max_value(CounterCodec codec) noexcept {
  return codec == CounterCodec::int32_be ? int32_max : int64_max;
}

bool tags_enabled(const CounterOptions& options) noexcept {
  switch (options.writer_tags) {
  case WriterTags::on:
    return options.codec != CounterCodec::ascii;
  case WriterTags::off:
    return false;
  case WriterTags::automatic:
    return options.codec == CounterCodec::int64_be;
  }
  return false;
}

void validate(const CounterOptions& options) {
  options.retry.validate();
  if (options.initial_value < min_value(options.codec) ||
      options.initial_value > max_value(options.codec)) {
    throw Error(Errc::invalid_argument, "CounterOptions: initial_value " +
                                            std::to_string(options.initial_value) +
                                            " does not fit " + to_string(options.codec));
  }
  if (options.codec == CounterCodec::ascii && options.writer_tags == WriterTags::on) {
    throw Error(
        Errc::invalid_argument,
        "CounterOptions: writer tags need a binary codec (Kazoo parses the whole ascii text)");
  }
  if (options.tag_history < 1 || options.tag_history > max_tag_history) {
    throw Error(Errc::invalid_argument,
                "CounterOptions: tag_history must be in 1.." + std::to_string(max_tag_history));
  }
}

Decoded decode(CounterCodec codec, std::string_view data, std::string_view path,
               std::int64_t initial_value) {
  Decoded out;
  if (data.empty()) {
    out.empty = true;
    out.value = initial_value;
    return out;
  }
  if (codec == CounterCodec::ascii) {
    out.value = decode_ascii(data, path);
    return out;
  }
  const std::size_t width = value_size(codec);
  if (data.size() < width) bad_data(codec, path, data, "wrong length");
  if (data.size() > width) out.history = decode_trailer(codec, data, path);
  out.value = to_signed(read_be(data.substr(0, width)), width);
  return out;
}

std::string encode(CounterCodec codec, std::int64_t value, const std::vector<TagEntry>& history,
                   std::string_view path) {
  if (value < min_value(codec) || value > max_value(codec)) {
    throw Error(Errc::overflow, "counter " + std::string(path) + ": " + std::to_string(value) +
                                    " does not fit " + to_string(codec));
  }
  if (codec == CounterCodec::ascii) return std::to_string(value);
  std::string out;
  const std::size_t width = value_size(codec);
  const std::size_t n = std::min(history.size(), max_tag_history);
  out.reserve(width + (n == 0 ? 0 : trailer_header_size + n * tag_entry_size));
  write_be(out, static_cast<std::uint64_t>(value), width); // two's complement by conversion rules
  if (n == 0) return out;
  out.append(trailer_magic);
  out.push_back(static_cast<char>(trailer_format));
  out.push_back(static_cast<char>(n));
  for (std::size_t i = 0; i < n; ++i) {
    write_be(out, static_cast<std::uint32_t>(history[i].version), 4);
    write_be(out, history[i].tag.writer, 8);
    write_be(out, history[i].tag.sequence, 8);
  }
  return out;
}

bool add_fits(std::int64_t a, std::int64_t delta, CounterCodec codec) noexcept {
  // The sum is computed with an overflow check first: `a + delta` (or `hi - a`) on plain int64 is
  // undefined behaviour exactly in the cases this function exists to catch.
  std::int64_t sum = 0;
  if (__builtin_add_overflow(a, delta, &sum)) return false;
  return a >= min_value(codec) && a <= max_value(codec) && sum >= min_value(codec) &&
         sum <= max_value(codec);
}

std::int64_t checked_add(std::int64_t a, std::int64_t delta, CounterCodec codec,
                         std::string_view path) {
  if (!add_fits(a, delta, codec)) {
    throw Error(Errc::overflow, "counter " + std::string(path) + ": " + std::to_string(a) + " + (" +
                                    std::to_string(delta) + ") does not fit " + to_string(codec) +
                                    "; nothing was written");
  }
  return a + delta;
}

std::string show_bytes(std::string_view data) {
  constexpr std::size_t limit = 64;
  const std::string_view shown = data.substr(0, limit);
  static constexpr char hex[] = "0123456789abcdef";
  std::string text = "\"";
  for (char c : shown) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f && c != '"' && c != '\\') {
      text.push_back(c);
    } else {
      text += "\\x";
      text.push_back(hex[u >> 4]);
      text.push_back(hex[u & 0xfU]);
    }
  }
  text += "\" (hex";
  for (char c : shown) {
    const auto u = static_cast<unsigned char>(c);
    text.push_back(' ');
    text.push_back(hex[u >> 4]);
    text.push_back(hex[u & 0xfU]);
  }
  if (data.size() > limit) text += " ... " + std::to_string(data.size() - limit) + " more";
  return text + ")";
}

} // namespace zk::detail::counter

namespace zk {
const char* to_string(CounterCodec c) noexcept {
  switch (c) {
  case CounterCodec::int64_be:
    return "int64_be";
  case CounterCodec::int32_be:
    return "int32_be";
  case CounterCodec::ascii:
    return "ascii";
  }
  return "unknown";
}
} // namespace zk
