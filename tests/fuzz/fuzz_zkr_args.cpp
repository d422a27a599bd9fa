// zkr's command line, one argument per NUL-separated field: parsed, or refused with one UsageError.
#include "args.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto args = zkfuzz::split(zkfuzz::bytes(data, size), '\0');
  try {
    const zkr::Parsed p = zkr::parse(args, nullptr);
    zkfuzz::require(p.common.session_timeout.count() > 0 && p.common.connect_timeout.count() > 0,
                    "durations are positive");
    if (p.subcommand == "lock" && !p.help) {
      zkfuzz::require(!p.lock.command.empty(), "lock has a command");
      if (p.lock.timeout) zkfuzz::require(p.lock.timeout->count() > 0, "a timeout is positive");
    }
  } catch (const zkr::UsageError& e) {
    zkfuzz::require(!e.message.empty() && e.message.find('\n') == std::string::npos,
                    "a usage error is one line");
  }
  for (const auto& a : args) {
    try {
      zkfuzz::require(zkr::parse_duration(a, "--timeout").count() > 0, "a duration is positive");
    } catch (const zkr::UsageError&) {
    }
  }
  return 0;
}
