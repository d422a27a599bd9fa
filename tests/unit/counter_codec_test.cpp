// Counter codecs: round trips, bounds, garbage, overflow and the writer-tag trailer. No server.
#include "recipes/counter/codec.hpp"

#include <gtest/gtest.h>

#include <limits>

namespace {

using namespace zk::detail::counter;
using zk::CounterCodec;
using zk::Errc;

constexpr auto i64min = std::numeric_limits<std::int64_t>::min();
constexpr auto i64max = std::numeric_limits<std::int64_t>::max();
constexpr auto i32min = std::numeric_limits<std::int32_t>::min();
constexpr auto i32max = std::numeric_limits<std::int32_t>::max();

std::string bytes(std::initializer_list<unsigned> list) {
  std::string s;
  for (unsigned b : list)
    s.push_back(static_cast<char>(b));
  return s;
}

Errc code_of_decode(CounterCodec c, const std::string& data, std::string* message = nullptr) {
  try {
    (void)decode(c, data, "/c", 0);
  } catch (const zk::Error& e) {
    if (message != nullptr) *message = e.what();
    return e.errc();
  }
  return Errc::ok;
}

std::int64_t round_trip(CounterCodec c, std::int64_t v) {
  return decode(c, encode(c, v, {}, "/c"), "/c", 0).value;
}

TEST(CounterCodec, Int64BigEndianMatchesCuratorBytes) {
  EXPECT_EQ(encode(CounterCodec::int64_be, 1, {}, "/c"), bytes({0, 0, 0, 0, 0, 0, 0, 1}));
  EXPECT_EQ(encode(CounterCodec::int64_be, -1, {}, "/c"),
            bytes({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}));
  EXPECT_EQ(encode(CounterCodec::int64_be, 0x0102030405060708, {}, "/c"),
            bytes({1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(encode(CounterCodec::int64_be, i64min, {}, "/c"), bytes({0x80, 0, 0, 0, 0, 0, 0, 0}));
}

TEST(CounterCodec, Int32BigEndianMatchesSharedCountBytes) {
  EXPECT_EQ(encode(CounterCodec::int32_be, 258, {}, "/c"), bytes({0, 0, 1, 2}));
  EXPECT_EQ(encode(CounterCodec::int32_be, -2, {}, "/c"), bytes({0xff, 0xff, 0xff, 0xfe}));
}

TEST(CounterCodec, AsciiMatchesKazooRepr) {
  EXPECT_EQ(encode(CounterCodec::ascii, 0, {}, "/c"), "0");
  EXPECT_EQ(encode(CounterCodec::ascii, -42, {}, "/c"), "-42");
  EXPECT_EQ(encode(CounterCodec::ascii, i64min, {}, "/c"), "-9223372036854775808");
}

TEST(CounterCodec, RoundTripsIncludingBounds) {
  for (std::int64_t v : {std::int64_t{0}, std::int64_t{1}, std::int64_t{-1}, std::int64_t{255},
                         std::int64_t{-256}, i64min, i64max, i64min + 1, i64max - 1}) {
    EXPECT_EQ(round_trip(CounterCodec::int64_be, v), v);
    EXPECT_EQ(round_trip(CounterCodec::ascii, v), v);
  }
  for (std::int64_t v : {std::int64_t{0}, std::int64_t{-1}, std::int64_t{i32min},
                         std::int64_t{i32max}, std::int64_t{65536}}) {
    EXPECT_EQ(round_trip(CounterCodec::int32_be, v), v);
  }
}

TEST(CounterCodec, EncodingOutsideTheRangeIsOverflowNotAWrap) {
  EXPECT_THROW(
      {
        try {
          (void)encode(CounterCodec::int32_be, std::int64_t{i32max} + 1, {}, "/c");
        } catch (const zk::Error& e) {
          EXPECT_EQ(e.errc(), Errc::overflow);
          throw;
        }
      },
      zk::Error);
  EXPECT_THROW((void)encode(CounterCodec::int32_be, std::int64_t{i32min} - 1, {}, "/c"), zk::Error);
}

TEST(CounterCodec, EmptyDataReadsAsTheInitialValue) {
  for (auto c : {CounterCodec::int64_be, CounterCodec::int32_be, CounterCodec::ascii}) {
    const auto d = decode(c, "", "/c", 17);
    EXPECT_TRUE(d.empty);
    EXPECT_EQ(d.value, 17);
  }
}

TEST(CounterCodec, WrongLengthIsBadDataNamingPathAndBytes) {
  std::string message;
  EXPECT_EQ(code_of_decode(CounterCodec::int64_be, "hello", &message), Errc::bad_data);
  EXPECT_NE(message.find("/c"), std::string::npos) << message;
  EXPECT_NE(message.find("\"hello\""), std::string::npos) << message;
  EXPECT_NE(message.find("68 65 6c 6c 6f"), std::string::npos) << message;
  EXPECT_EQ(code_of_decode(CounterCodec::int64_be, bytes({0, 0, 0, 0, 0, 0, 0, 1, 0})),
            Errc::bad_data);
  EXPECT_EQ(code_of_decode(CounterCodec::int32_be, bytes({0, 0, 1})), Errc::bad_data);
  EXPECT_EQ(code_of_decode(CounterCodec::int32_be, bytes({0, 0, 0, 0, 0, 0, 0, 1})),
            Errc::bad_data); // an int64 value is not silently read as int32
}

TEST(CounterCodec, NonNumericAsciiIsBadData) {
  for (const char* garbage : {"hello", "-", "12a", " 5", "5\n", "+", "1_000", "0x10", "1.5", "--1"})
    EXPECT_EQ(code_of_decode(CounterCodec::ascii, garbage), Errc::bad_data) << garbage;
  EXPECT_EQ(code_of_decode(CounterCodec::ascii, std::string("1\0", 2)), Errc::bad_data);
}

TEST(CounterCodec, AsciiBeyondInt64IsOverflow) {
  EXPECT_EQ(code_of_decode(CounterCodec::ascii, "9223372036854775807"), Errc::ok);
  EXPECT_EQ(code_of_decode(CounterCodec::ascii, "9223372036854775808"), Errc::overflow);
  EXPECT_EQ(code_of_decode(CounterCodec::ascii, "-9223372036854775808"), Errc::ok);
  EXPECT_EQ(code_of_decode(CounterCodec::ascii, "-9223372036854775809"), Errc::overflow);
  EXPECT_EQ(code_of_decode(CounterCodec::ascii, "100000000000000000000000"), Errc::overflow);
  EXPECT_EQ(decode(CounterCodec::ascii, "007", "/c", 0).value, 7);
  EXPECT_EQ(decode(CounterCodec::ascii, "-0", "/c", 0).value, 0);
}

TEST(CounterCodec, TrailerRoundTripsAndKeepsTheValueBytesFirst) {
  const std::vector<TagEntry> history{{5, {0xdeadbeefcafef00d, 9}}, {4, {1, 2}}, {-1, {3, 4}}};
  const std::string data = encode(CounterCodec::int64_be, -7, history, "/c");
  ASSERT_EQ(data.size(), 8 + trailer_header_size + 3 * tag_entry_size);
  // The first 8 bytes are exactly what Curator's ByteBuffer.getLong() reads.
  EXPECT_EQ(data.substr(0, 8), encode(CounterCodec::int64_be, -7, {}, "/c"));
  const auto d = decode(CounterCodec::int64_be, data, "/c", 0);
  EXPECT_EQ(d.value, -7);
  EXPECT_EQ(d.history, history);

  const std::string d32 = encode(CounterCodec::int32_be, 3, history, "/c");
  EXPECT_EQ(d32.substr(0, 4), bytes({0, 0, 0, 3}));
  EXPECT_EQ(decode(CounterCodec::int32_be, d32, "/c", 0).history, history);
}

TEST(CounterCodec, DamagedTrailersAreBadData) {
  const std::string good = encode(CounterCodec::int64_be, 1, {{1, {1, 1}}, {0, {2, 2}}}, "/c");
  ASSERT_EQ(code_of_decode(CounterCodec::int64_be, good), Errc::ok);
  std::string truncated = good.substr(0, good.size() - 1);
  EXPECT_EQ(code_of_decode(CounterCodec::int64_be, truncated), Errc::bad_data);
  std::string magic = good;
  magic[8] = 'X';
  EXPECT_EQ(code_of_decode(CounterCodec::int64_be, magic), Errc::bad_data);
  std::string format = good;
  format[12] = 2;
  EXPECT_EQ(code_of_decode(CounterCodec::int64_be, format), Errc::bad_data);
  std::string count = good;
  count[13] = 3;
  EXPECT_EQ(code_of_decode(CounterCodec::int64_be, count), Errc::bad_data);
  std::string zero = good.substr(0, 14);
  zero[13] = 0;
  EXPECT_EQ(code_of_decode(CounterCodec::int64_be, zero), Errc::bad_data);
}

TEST(CounterCodec, TrailerIsCappedAtMaxHistory) {
  std::vector<TagEntry> many(max_tag_history + 5, TagEntry{1, {1, 1}});
  const auto d =
      decode(CounterCodec::int64_be, encode(CounterCodec::int64_be, 1, many, "/c"), "/c", 0);
  EXPECT_EQ(d.history.size(), max_tag_history);
}

TEST(CounterCodec, CheckedAddRefusesToWrap) {
  EXPECT_EQ(checked_add(i64max - 1, 1, CounterCodec::int64_be, "/c"), i64max);
  EXPECT_EQ(checked_add(i64min + 1, -1, CounterCodec::int64_be, "/c"), i64min);
  EXPECT_THROW((void)checked_add(i64max, 1, CounterCodec::int64_be, "/c"), zk::Error);
  EXPECT_THROW((void)checked_add(i64min, -1, CounterCodec::ascii, "/c"), zk::Error);
  EXPECT_THROW((void)checked_add(0, i64min, CounterCodec::int32_be, "/c"), zk::Error);
  EXPECT_THROW((void)checked_add(i32max, 1, CounterCodec::int32_be, "/c"), zk::Error);
  EXPECT_EQ(checked_add(i32max, -1, CounterCodec::int32_be, "/c"), i32max - 1);
  EXPECT_FALSE(add_fits(-5, i64min, CounterCodec::int64_be));
  EXPECT_TRUE(add_fits(5, i64min, CounterCodec::int64_be));
  EXPECT_TRUE(add_fits(-5, i64max, CounterCodec::int64_be));
  try {
    (void)checked_add(i64max, 2, CounterCodec::int64_be, "/app/c");
  } catch (const zk::Error& e) {
    EXPECT_EQ(e.errc(), Errc::overflow);
    EXPECT_NE(std::string(e.what()).find("/app/c"), std::string::npos);
  }
}

TEST(CounterCodec, OptionsAreValidated) {
  zk::CounterOptions o;
  EXPECT_NO_THROW(validate(o));
  o.codec = CounterCodec::ascii;
  o.writer_tags = zk::WriterTags::on;
  EXPECT_THROW(validate(o), zk::Error);
  o = {};
  o.codec = CounterCodec::int32_be;
  o.initial_value = std::int64_t{i32max} + 1;
  EXPECT_THROW(validate(o), zk::Error);
  o = {};
  o.tag_history = 0;
  EXPECT_THROW(validate(o), zk::Error);
  o.tag_history = max_tag_history + 1;
  EXPECT_THROW(validate(o), zk::Error);
}

TEST(CounterCodec, TagsDefaultOnOnlyForInt64) {
  zk::CounterOptions o;
  EXPECT_TRUE(tags_enabled(o));
  o.codec = CounterCodec::int32_be;
  EXPECT_FALSE(tags_enabled(o));
  o.writer_tags = zk::WriterTags::on;
  EXPECT_TRUE(tags_enabled(o));
  o.codec = CounterCodec::ascii;
  o.writer_tags = zk::WriterTags::automatic;
  EXPECT_FALSE(tags_enabled(o));
  o.codec = CounterCodec::int64_be;
  o.writer_tags = zk::WriterTags::off;
  EXPECT_FALSE(tags_enabled(o));
}

TEST(CounterCodec, ShowBytesEscapesAndTruncates) {
  EXPECT_EQ(show_bytes(bytes({'a', 0, 0xff})), "\"a\\x00\\xff\" (hex 61 00 ff)");
  const std::string long_data(100, 'x');
  EXPECT_NE(show_bytes(long_data).find("36 more"), std::string::npos);
}

} // namespace
