// Leader election with Debian's Curator 5.4 and Kazoo 2.8 on the same paths as ours: our latches
// with Curator LeaderLatch, our selectors with Curator LeaderSelector, our Kazoo-profile selectors
// with Kazoo Election. Each participant (a process of its own) leads several times; leadership
// passes among them in queue order, both ways; the fenced writes of all of them, in the server's
// order, must come from one term at a time with increasing tokens (zkt::check_terms).
#include "support/checkers.hpp"
#include "support/ensemble.hpp"
#include "support/processes.hpp"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string_view>

using namespace std::chrono_literals;

namespace {

struct ElectionRun {
  std::vector<zkt::FencedWrite> writes;
  std::vector<std::pair<std::int64_t, std::string>> terms; // (token, participant), by token
};

// Starts every participant and collects their output. A node of the election's own form
// (`blocker`, the test's) is first in the queue until every participant has joined, the first one
// (the peer) before the others: then each leads in turn and rejoins behind the others, so the
// leadership passes both ways. Without it, a participant that joined late (a JVM, or a process
// the scheduler let start last) could find another's terms all over.
ElectionRun run_election(const std::vector<std::pair<std::string, std::vector<std::string>>>& who,
                         zk::Session& session, const std::string& path, std::string_view blocker) {
  std::vector<std::unique_ptr<zkt::Child>> children;
  for (const auto& [name, argv] : who)
    children.push_back(std::make_unique<zkt::Child>(argv));
  for (std::size_t i = 0; i < children.size(); ++i)
    EXPECT_EQ(children[i]->wait_for("READY", 60s), "READY") << who[i].first;
  const auto first =
      session.create(path + "/" + std::string(blocker), "", zk::CreateMode::ephemeral_sequential);
  const auto joined = [&](std::size_t n) {
    return zkt::wait_until([&] { return zkt::children(session, path).size() == n + 1; }, 30s);
  };
  children.front()->write_line("go");
  EXPECT_TRUE(joined(1)) << who.front().first << " did not join";
  for (std::size_t i = 1; i < children.size(); ++i)
    children[i]->write_line("go");
  EXPECT_TRUE(joined(children.size())) << "a participant did not join";
  session.remove(first.path);
  ElectionRun run;
  std::map<std::int64_t, std::string> terms;
  for (std::size_t i = 0; i < children.size(); ++i) {
    bool done = false;
    for (const auto& line : children[i]->read_all(180s)) {
      if (auto w = zkt::parse_write(line)) run.writes.push_back(*w);
      std::istringstream in(line);
      std::string tag;
      std::int64_t token = 0;
      in >> tag >> token;
      if (tag == "TERM_BEGIN") terms[token] = who[i].first;
      if (tag == "DONE") done = true;
      if (tag == "UNKNOWN") ADD_FAILURE() << who[i].first << ": " << line << " without a fault";
    }
    EXPECT_TRUE(done) << who[i].first << " did not finish";
    EXPECT_EQ(children[i]->wait(30s), 0) << who[i].first;
  }
  run.terms.assign(terms.begin(), terms.end());
  return run;
}

std::vector<std::string> ours(const std::string& mode, const std::string& path,
                              const std::string& id, const std::string& state, int terms,
                              int writes) {
  return zkt::peer(
      "election_peer", "ZKR_ELECTION_PEER",
      {mode, zkt::hosts(), path, id, state, "6000", std::to_string(terms), std::to_string(writes)});
}

// Both directions: leadership passed from ours to theirs and from theirs to ours.
void expect_handovers_both_ways(const ElectionRun& run, const std::string& theirs) {
  bool to_them = false;
  bool to_us = false;
  for (std::size_t i = 1; i < run.terms.size(); ++i) {
    const bool prev_theirs = run.terms[i - 1].second == theirs;
    const bool now_theirs = run.terms[i].second == theirs;
    to_them |= !prev_theirs && now_theirs;
    to_us |= prev_theirs && !now_theirs;
  }
  EXPECT_TRUE(to_them) << "leadership never passed from ours to " << theirs;
  EXPECT_TRUE(to_us) << "leadership never passed from " << theirs << " to ours";
}

// The test's own queue node in each election form (the sequence is appended by the server).
constexpr std::string_view latch_blocker = "_c_00000000-0000-0000-0000-000000000000-latch-";
constexpr std::string_view selector_blocker = "_c_00000000-0000-0000-0000-000000000000-lock-";
constexpr std::string_view kazoo_blocker = "00000000000000000000000000000000__lock__";

class LeaderInterop : public ::testing::Test {
protected:
  zkt::RootGuard root{"leader-interop"};
  const std::string path = root.path() + "/election";
  const std::string state = root.path() + "/state";
  static constexpr int terms = 3;
  static constexpr int writes = 4;

  LeaderInterop() {
    root.session().create(state, "");
    root.session().create(path, ""); // persistent: Kazoo 2.8 trips over a reaped container
  }
  void check(const ElectionRun& run, const std::string& theirs, std::size_t participants) {
    EXPECT_EQ(run.terms.size(), participants * terms) << "a participant did not lead its turns";
    EXPECT_EQ(run.writes.size(), participants * terms * writes) << "a leader's write was refused";
    const auto r = zkt::check_terms(run.writes);
    EXPECT_TRUE(r.ok()) << r.explain();
    expect_handovers_both_ways(run, theirs);
    EXPECT_TRUE(zkt::wait_until([&] { return zkt::children(root.session(), path).empty(); }, 10s))
        << "a node was left behind";
  }
};

TEST_F(LeaderInterop, OurLatchesAndACuratorLeaderLatchShareOneElection) {
  const auto run =
      run_election({{"curator", zkt::peer("CuratorLeaderPeer", "ZKR_CURATOR_LEADER_PEER",
                                          {zkt::hosts(), path, "latch", "curator", state,
                                           std::to_string(terms), std::to_string(writes)})},
                    {"ours-1", ours("latch", path, "ours-1", state, terms, writes)},
                    {"ours-2", ours("latch", path, "ours-2", state, terms, writes)}},
                   root.session(), path, latch_blocker);
  check(run, "curator", 3);
}

TEST_F(LeaderInterop, OurSelectorsAndACuratorLeaderSelectorShareOneElection) {
  const auto run =
      run_election({{"curator", zkt::peer("CuratorLeaderPeer", "ZKR_CURATOR_LEADER_PEER",
                                          {zkt::hosts(), path, "selector", "curator", state,
                                           std::to_string(terms), std::to_string(writes)})},
                    {"ours-1", ours("selector", path, "ours-1", state, terms, writes)},
                    {"ours-2", ours("selector", path, "ours-2", state, terms, writes)}},
                   root.session(), path, selector_blocker);
  check(run, "curator", 3);
}

TEST_F(LeaderInterop, OurKazooProfileSelectorsAndAKazooElectionShareOneElection) {
  const auto run =
      run_election({{"kazoo", zkt::python_peer("kazoo_election_peer.py",
                                               {zkt::hosts(), path, "kazoo", state,
                                                std::to_string(terms), std::to_string(writes)})},
                    {"ours-1", ours("kazoo", path, "ours-1", state, terms, writes)},
                    {"ours-2", ours("kazoo", path, "ours-2", state, terms, writes)}},
                   root.session(), path, kazoo_blocker);
  check(run, "kazoo", 3);
}

} // namespace
