#include "support/contenders.hpp"

#include <gtest/gtest.h>

#include <sys/wait.h>

#include <sstream>

namespace zkt {

using namespace std::chrono_literals;

void Contenders::add(const std::vector<std::string>& argv) {
  m_children.push_back(std::make_unique<Child>(argv));
}

bool Contenders::start() {
  for (auto& c : m_children)
    if (c->wait_for("READY", 60s) != "READY") return false;
  for (auto& c : m_children)
    c->write_line("go");
  return true;
}

std::vector<HoldRecord> Contenders::finish(std::chrono::milliseconds timeout) {
  std::vector<HoldRecord> holds;
  for (auto& c : m_children) {
    std::ostringstream out;
    bool done = false;
    for (const auto& line : c->read_all(timeout)) {
      out << line << '\n';
      done = done || line == "DONE";
    }
    EXPECT_TRUE(done) << "contender " << c->pid() << " did not finish";
    const int status = c->wait(10s);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << "contender " << c->pid() << ": status " << status;
    std::istringstream in(out.str());
    for (const auto& h : read_holds(in))
      holds.push_back(h);
  }
  return holds;
}

} // namespace zkt
