// The semaphore tests' harness: our contender processes (this binary's --sem-worker, see
// semaphore_test.cpp) and the Curator and Kazoo peers, started together, their leases merged.
#pragma once

#include "support/checkers.hpp"
#include "support/contenders.hpp"
#include "support/ensemble.hpp"
#include "support/processes.hpp"

#include <string>
#include <vector>

namespace zkt::sem {

/// argv of one of our contenders (this binary as --sem-worker).
std::vector<std::string> worker(const std::vector<std::string>& args);

} // namespace zkt::sem
