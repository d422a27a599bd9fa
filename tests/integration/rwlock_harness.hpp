// The read-write lock tests' harness: our contender processes (this binary's --rw-worker, see
// rwlock_test.cpp) and the Curator and Kazoo peers, started together, their holds merged.
#pragma once

#include "support/checkers.hpp"
#include "support/ensemble.hpp"
#include "support/processes.hpp"

#include <zkrecipes/read_write_lock.hpp>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace zkt::rw {

/// What every contender of a run held, merged.
struct Run {
  std::vector<HoldRecord> holds;
  int done = 0; ///< contenders that printed DONE
  [[nodiscard]] std::size_t writes() const {
    return static_cast<std::size_t>(
        std::count_if(holds.begin(), holds.end(), [](const HoldRecord& r) { return !r.shared; }));
  }
};

zk::ReadWriteProfile profile_named(const std::string& name);
/// argv of one of our contenders (this binary as --rw-worker).
std::vector<std::string> worker(const std::vector<std::string>& args);
/// Waits until every contender is READY, starts them together, and collects their holds.
Run run_contenders(std::vector<std::unique_ptr<Child>> children, std::chrono::seconds limit);

} // namespace zkt::rw
