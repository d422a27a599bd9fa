// The read-write lock tests' harness: our contender processes (this binary's --rw-worker, see
// rwlock_test.cpp) and the Curator and Kazoo peers, started together, their holds merged.
#pragma once

#include "support/checkers.hpp"
#include "support/contenders.hpp"
#include "support/ensemble.hpp"
#include "support/processes.hpp"

#include <zkrecipes/read_write_lock.hpp>

#include <string>
#include <vector>

namespace zkt::rw {

zk::ReadWriteProfile profile_named(const std::string& name);
/// argv of one of our contenders (this binary as --rw-worker).
std::vector<std::string> worker(const std::vector<std::string>& args);

} // namespace zkt::rw
