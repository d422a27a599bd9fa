// main() of the fault-matrix binaries: GoogleTest, or a worker process when re-run by a cell with
// --matrix-worker (see matrix_process.cpp), so no second executable is needed. A crash (abort,
// segfault) prints a raw backtrace first: a cell that crashes must say where.
#include "matrix_support.hpp"

#include "core/queue_engine.hpp"

#include <gtest/gtest.h>

#include <execinfo.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace {

extern "C" void on_crash(int sig) {
  static const char head[] =
      "\n[ crash    ] fatal signal; backtrace (addr2line -e <binary> -f -C):\n";
  (void)!::write(2, head, sizeof head - 1);
  void* frames[64];
  const int n = ::backtrace(frames, 64);
  ::backtrace_symbols_fd(frames, n, 2);
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

} // namespace

int main(int argc, char** argv) {
  for (int sig : {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL})
    ::signal(sig, on_crash);
  // The negative control of docs/reliability.md (scripts/reliability-report.py sets it): the lock
  // forgets a node whose create reply was lost, and the F7 cell must catch it. Inherited by the
  // worker processes a cell starts.
  if (const char* v = std::getenv("ZKR_TEST_BREAK_PROTECTED_CREATE");
      v != nullptr && *v != '\0' && std::strcmp(v, "0") != 0)
    zk::detail::core::break_protected_create_for_testing(true);
  if (argc > 1 && std::strcmp(argv[1], "--matrix-worker") == 0)
    return zkt::matrix::worker_main(argc - 1, argv + 1);
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
