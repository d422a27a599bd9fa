// Test harness of the lock tests: our worker and the Curator and Kazoo lock peers as child
// processes (support/processes.hpp), and tokens of local handoffs for the mutual-exclusion checker.
#pragma once

#include "support/checkers.hpp"
#include "support/contenders.hpp"
#include "support/ensemble.hpp"
#include "support/processes.hpp"

#include <zkrecipes/distributed_lock.hpp>

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace zkt::lock {

using zkt::Child;
using zkt::children;
using zkt::ephemerals_under;
using zkt::sync;
using zkt::watches_under;

/// How many children `path` has (0 if it does not exist).
inline std::size_t child_count(zk::Session& s, const std::string& path) {
  return children(s, path).size();
}

/// argv for our worker: this test binary, re-run in worker mode (see lock_worker.cpp).
std::vector<std::string> worker(const std::vector<std::string>& args);
/// argv for the Curator peer (tests/interop/CuratorMutexPeer.java) and the Kazoo peer.
std::vector<std::string> curator_peer(const std::vector<std::string>& args);
std::vector<std::string> kazoo_peer(const std::vector<std::string>& args);

/// Threads of one process hand our lock over locally and then share one node, hence one token.
/// zkt::check_mutual_exclusion wants strictly increasing tokens, so this rewrites each token as
/// token * 1024 + n, where n counts the consecutive holds (by entry time) of one process with the
/// same token. A token reused by another process, or by the same process after someone else held
/// the lock, still fails the check. Returns how many holds were local handoffs.
std::size_t fold_local_handoffs(std::vector<HoldRecord>& holds);

/// Runs the worker entry point if argv asks for it (called from main in lock_worker.cpp).
int worker_main(int argc, char** argv);

} // namespace zkt::lock
