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
  RepeatFilter repeats;
};

std::mutex& registry_mutex() {
  static std::mutex m;
  return m;
}
std::array<Slot, slot_count>& slots() {
  static std::array<Slot, slot_count> s;
  return s;
}
Slot& fallback_slot() { // lines of sessions beyond the slots, and of closed ones
  static Slot s;
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
  RepeatFilter::Verdict verdict;
  {
    std::lock_guard<std::mutex> lock(registry_mutex());
    const bool own = slot >= 0 && slot < slot_count && slots()[static_cast<std::size_t>(slot)].used;
    Slot& s = own ? slots()[static_cast<std::size_t>(slot)] : fallback_slot();
    if (own) {
      if (static_cast<int>(level) > static_cast<int>(s.level)) return;
      sink = s.sink;
    } else if (level > LogLevel::warn) {
      return;
    }
    verdict = s.repeats.admit(log_source(line), Clock::now());
  }
  if (!sink) sink = default_log_sink;
  // Lines end with a newline; sinks get the bare text.
  std::string_view text = line;
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r'))
    text.remove_suffix(1);
  try {
    if (verdict.suppressed > 0) sink(level, suppressed_line(log_source(line), verdict.suppressed));
    if (verdict.pass) sink(level, text);
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

std::string_view log_source(std::string_view line) {
  const std::size_t start = line.find("ZOO_");
  if (start == std::string_view::npos) return line;
  const std::size_t at = line.find('@', line.find('@', start) + 1);
  const std::size_t end = at == std::string_view::npos ? at : line.find(':', at);
  return line.substr(start, end == std::string_view::npos ? end : end - start);
}

RepeatFilter::Verdict RepeatFilter::admit(std::string_view source, Clock::time_point now) {
  auto it = m_entries.find(source);
  if (it == m_entries.end()) it = m_entries.emplace(std::string(source), Entry{now}).first;
  Entry& e = it->second;
  Verdict v;
  if (now - e.start >= window) {
    v.suppressed = e.suppressed;
    e = Entry{now};
  }
  if (e.passed < burst) {
    ++e.passed;
  } else {
    ++e.suppressed;
    v.pass = false;
  }
  return v;
}

std::vector<std::pair<std::string, std::size_t>> RepeatFilter::drain() {
  std::vector<std::pair<std::string, std::size_t>> out;
  for (const auto& [source, e] : m_entries)
    if (e.suppressed > 0) out.emplace_back(source, e.suppressed);
  m_entries.clear();
  return out;
}

std::string suppressed_line(std::string_view source, std::size_t count) {
  return "(" + std::to_string(count) + " more lines like the last from " + std::string(source) +
         " suppressed)";
}

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
      s = Slot{true, sink ? std::move(sink) : LogSink(default_log_sink), level, {}};
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
  LogSink sink;
  std::vector<std::pair<std::string, std::size_t>> pending;
  {
    std::lock_guard<std::mutex> lock(registry_mutex());
    Slot& s = slots()[static_cast<std::size_t>(slot)];
    sink = s.sink;
    pending = s.repeats.drain();
    s = Slot{};
    apply_global_level();
  }
  try { // the summaries of what the session's last burst left unsaid
    for (const auto& [source, count] : pending)
      sink(parse_log_level(source), suppressed_line(source, count));
  } catch (...) {
  }
}

} // namespace zk::detail
