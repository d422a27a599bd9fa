// Contender processes started together (ours and the Curator and Kazoo peers): each prints READY
// once connected, starts on a line from stdin, prints one zkt::HoldRecord line per hold and DONE.
#pragma once

#include "support/checkers.hpp"
#include "support/processes.hpp"

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace zkt {

class Contenders {
public:
  void add(const std::vector<std::string>& argv);
  /// Waits for every contender's READY, then starts them all; false (and nothing started) if one
  /// did not come up (the destructor kills them).
  [[nodiscard]] bool start();
  /// Every contender's hold records, merged; each contender is expected (a test failure
  /// otherwise) to print DONE and exit 0 within `timeout`.
  std::vector<HoldRecord> finish(std::chrono::milliseconds timeout);
  /// The process id of the contender added `index`-th.
  [[nodiscard]] pid_t pid_of(std::size_t index) const { return m_children.at(index)->pid(); }

private:
  std::vector<std::unique_ptr<Child>> m_children;
};

} // namespace zkt
