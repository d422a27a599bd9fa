// Routes the C client's log lines to each session's LogSink.
//
// The C client's log callback is a plain function pointer without a context argument, so each
// session borrows one of a fixed set of trampolines (a "slot") that knows where to send its lines.
// Sessions beyond the slots share a fallback that writes to stderr with a prefix. The C client's
// level is global: it is set to the most verbose level any open session asked for, and each slot
// filters to its own.
#pragma once

#include <zkrecipes/session.hpp>

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

} // namespace zk::detail
