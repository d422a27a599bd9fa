#include "session/log_router.hpp"

#include <zookeeper/zookeeper.h>

#include <array>
#include <iostream>
#include <mutex>
#include <utility>

namespace zk::detail {
namespace {

constexpr int slot_count = 64;

struct Slot {
  bool used = false;
  LogSink sink;
  LogLevel level = LogLevel::warn;
};

std::mutex& registry_mutex() {
  static std::mutex m;
  return m;
}
std::array<Slot, slot_count>& slots() {
  static std::array<Slot, slot_count> s;
  return s;
}

void apply_global_level() { // caller holds registry_mutex
  int most = static_cast<int>(LogLevel::error);
  for (const Slot& s : slots())
    if (s.used) most = std::max(most, static_cast<int>(s.level));
  zoo_set_debug_level(static_cast<ZooLogLevel>(most));
}

void deliver(int slot, const char* message) {
  const std::string_view line = message ? message : "";
  const LogLevel level = parse_log_level(line);
  LogSink sink;
  {
    std::lock_guard<std::mutex> lock(registry_mutex());
    if (slot >= 0 && slot < slot_count && slots()[static_cast<std::size_t>(slot)].used) {
      const Slot& s = slots()[static_cast<std::size_t>(slot)];
      if (static_cast<int>(level) > static_cast<int>(s.level)) return;
      sink = s.sink;
    }
  }
  if (!sink) {
    if (level > LogLevel::warn) return;
    sink = default_log_sink;
  }
  // Lines end with a newline; sinks get the bare text.
  std::string_view text = line;
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r'))
    text.remove_suffix(1);
  try {
    sink(level, text);
  } catch (...) { // a sink must not take the C client's thread down
  }
}

template <int N> void trampoline(const char* message) {
  deliver(N, message);
}

template <int... N>
constexpr std::array<zkr_log_fn, sizeof...(N)> make_table(std::integer_sequence<int, N...>) {
  return {&trampoline<N>...};
}
constexpr auto table = make_table(std::make_integer_sequence<int, slot_count>{});

void fallback(const char* message) {
  deliver(-1, message);
}

} // namespace

LogLevel parse_log_level(std::string_view line) {
  if (line.find("ZOO_ERROR@") != std::string_view::npos) return LogLevel::error;
  if (line.find("ZOO_WARN@") != std::string_view::npos) return LogLevel::warn;
  if (line.find("ZOO_INFO@") != std::string_view::npos) return LogLevel::info;
  return LogLevel::debug;
}

void default_log_sink(LogLevel level, std::string_view message) {
  static const char* names[] = {"", "error", "warn", "info", "debug"};
  std::clog << "zkrecipes[" << names[static_cast<int>(level)] << "] " << message << '\n';
}

int acquire_log_slot(LogSink sink, LogLevel level) {
  std::lock_guard<std::mutex> lock(registry_mutex());
  for (int i = 0; i < slot_count; ++i) {
    Slot& s = slots()[static_cast<std::size_t>(i)];
    if (!s.used) {
      s = Slot{true, sink ? std::move(sink) : LogSink(default_log_sink), level};
      apply_global_level();
      return i;
    }
  }
  return -1;
}

zkr_log_fn log_callback_for(int slot) {
  return slot >= 0 && slot < slot_count ? table[static_cast<std::size_t>(slot)] : &fallback;
}

void release_log_slot(int slot) {
  if (slot < 0 || slot >= slot_count) return;
  std::lock_guard<std::mutex> lock(registry_mutex());
  slots()[static_cast<std::size_t>(slot)] = Slot{};
  apply_global_level();
}

} // namespace zk::detail
