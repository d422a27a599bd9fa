// A counter's znode data as any writer (or garbage) may leave it: every codec either decodes it or
// refuses it with bad_data / overflow, and what decodes re-encodes to the same value and history.
#include "fuzz_support.hpp"
#include "recipes/counter/codec.hpp"

using namespace zk::detail;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto in = zkfuzz::bytes(data, size);
  for (const auto codec :
       {zk::CounterCodec::int64_be, zk::CounterCodec::int32_be, zk::CounterCodec::ascii}) {
    counter::Decoded d;
    try {
      d = counter::decode(codec, in, "/fuzz", 0);
    } catch (const zk::Error& e) {
      zkfuzz::require(e.errc() == zk::Errc::bad_data || e.errc() == zk::Errc::overflow,
                      "garbage is bad_data or overflow");
      continue;
    }
    zkfuzz::require(d.value >= counter::min_value(codec) && d.value <= counter::max_value(codec),
                    "a decoded value is in the codec's range");
    zkfuzz::require(d.history.size() <= counter::max_tag_history, "history is bounded");
    const std::string again = counter::encode(codec, d.value, d.history, "/fuzz");
    const auto back = counter::decode(codec, again, "/fuzz", 0);
    zkfuzz::require(back.value == d.value && back.history == d.history, "encode/decode round trip");
    (void)counter::show_bytes(in);
  }
  return 0;
}
