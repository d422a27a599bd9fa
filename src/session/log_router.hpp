// Routes the C client's log lines to each session's LogSink.
//
// The C client's log callback is a plain function pointer without a context argument, so each
// session borrows one of a fixed set of trampolines (a "slot") that knows where to send its lines.
// Sessions beyond the slots share a fallback that writes to stderr with a prefix. The C client's
// level is global: it is set to the most verbose level any open session asked for, and each slot
// filters to its own.
#pragma once

#include <zkrecipes/session.hpp>

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

extern "C" typedef void (*zkr_log_fn)(const char* message);

namespace zk::detail {

/// Takes a slot for `sink` at `level`; returns the slot number (or -1 for the fallback).
int acquire_log_slot(LogSink sink, LogLevel level);
/// The C callback for a slot (the fallback's for -1).
zkr_log_fn log_callback_for(int slot);
/// Returns the slot; lines logged for it afterwards go to the fallback.
void release_log_slot(int slot);
/// The default sink: "zkrecipes[warn] message" on stderr.
void default_log_sink(LogLevel level, std::string_view message);
/// The level named in a C client log line ("ZOO_WARN@..."), debug if none.
LogLevel parse_log_level(std::string_view line);
/// Where a C client log line comes from: "ZOO_ERROR@check_events@3011" (the whole line if unknown).
std::string_view log_source(std::string_view line);

/// Rate limit of repeated lines: the C client logs every failed connection attempt, a few hundred
/// lines while an unreachable ensemble is retried. Per source, at most `burst` lines per `window`
/// pass; the others are counted, and summarised in one line when that source logs again after the
/// window, or when the session closes (drain()).
class RepeatFilter {
public:
  static constexpr std::size_t burst = 3;
  static constexpr std::chrono::seconds window{10};
  struct Verdict {
    bool pass = true;           ///< deliver this line
    std::size_t suppressed = 0; ///< lines of this source suppressed before it: summarise first
  };
  Verdict admit(std::string_view source, Clock::time_point now);
  /// The sources with suppressed lines not yet summarised, and their counts; forgets them.
  std::vector<std::pair<std::string, std::size_t>> drain();

private:
  struct Entry {
    Clock::time_point start;
    std::size_t passed = 0;
    std::size_t suppressed = 0;
  };
  std::map<std::string, Entry, std::less<>> m_entries;
};

/// The summary line of `count` suppressed lines from `source`.
std::string suppressed_line(std::string_view source, std::size_t count);

} // namespace zk::detail
