// The semaphore tests' harness: our contender processes (this binary's --sem-worker, see
// semaphore_test.cpp) and the Curator and Kazoo peers, started together, their leases merged.
#pragma once

#include "support/checkers.hpp"
#include "support/ensemble.hpp"
#include "support/processes.hpp"

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace zkt::sem {

/// What every contender of a run held, merged.
struct Run {
  std::vector<HoldRecord> leases;
  int done = 0; ///< contenders that printed DONE
};

/// argv of one of our contenders (this binary as --sem-worker).
std::vector<std::string> worker(const std::vector<std::string>& args);
/// Waits until every contender is READY, starts them together, and collects their leases.
Run run_contenders(std::vector<std::unique_ptr<Child>> children, std::chrono::seconds limit);

} // namespace zkt::sem
