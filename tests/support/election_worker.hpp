// One election participant in a process of its own, speaking the interop peers' protocol
// (tests/interop/CuratorLeaderPeer.java, kazoo_election_peer.py), so a test can run ours, Curator's
// and Kazoo's side by side and check them with one checker (zkt::check_terms):
//
//   MODE HOSTS PATH ID STATE SESSION_MS TERMS WRITES
//     MODE: latch (LeaderLatch), selector (LeaderSelector), kazoo (LeaderSelector, Kazoo profile).
//     Prints READY once connected, starts on a line from stdin, and takes part until it has led
//     TERMS times (0: until killed). Each term: "TERM_BEGIN <token> <pid> <ns>", WRITES fenced
//     writes of STATE (0: until the term ends), each "WRITE <token> <mzxid> <pid>" or
//     "REFUSED <token> <pid>", then "TERM_END <token> <pid> <ns>" and the term is given up (a latch
//     is closed and a new one joins). Then "DONE". Times are CLOCK_MONOTONIC.
#pragma once

#include <string>
#include <vector>

namespace zkt {

int election_worker(const std::vector<std::string>& args);

} // namespace zkt
