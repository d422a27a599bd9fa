// election_peer: our election participant as a program of its own, speaking the interop peers'
// protocol (CuratorLeaderPeer.java, kazoo_election_peer.py), so the tests and the benchmark run
// ours, Curator's and Kazoo's side by side and check them with one checker (zkt::check_terms):
//
//   election_peer MODE HOSTS PATH ID STATE SESSION_MS TERMS WRITES
//     MODE: latch (LeaderLatch), selector (LeaderSelector), kazoo (LeaderSelector, Kazoo profile).
//     Prints READY once connected, starts on a line from stdin, and takes part until it has led
//     TERMS times (0: until killed). Each term: "TERM_BEGIN <token> <pid> <ns>", WRITES fenced
//     writes of STATE (0: until the term ends), each "WRITE <token> <mzxid> <pid>" or
//     "REFUSED <token> <pid>", then "TERM_END <token> <pid> <ns>" and the term is given up (a latch
//     is closed and a new one joins). Then "DONE". Times are CLOCK_MONOTONIC.
#include <zkrecipes/leader.hpp>

#include <time.h>
#include <unistd.h>

#include <condition_variable>
#include <iostream>
#include <mutex>
#include <thread>

namespace {

std::int64_t monotonic_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

struct Spec {
  std::string mode, path, id, state;
  int terms = 0;
  int writes = 0;
};

void line(const std::string& text) {
  std::cout << text << std::endl; // one flushed line: the test reads them as they come
}

// The writes of one term; `leading` says whether to go on when WRITES is 0.
template <class Fenced, class Leading>
void term(const Spec& s, std::int64_t token, Fenced fenced, Leading leading) {
  const std::string pid = std::to_string(::getpid());
  line("TERM_BEGIN " + std::to_string(token) + " " + pid + " " + std::to_string(monotonic_ns()));
  for (int i = 0; s.writes == 0 ? leading() : i < s.writes; ++i) {
    try {
      const auto r = fenced({zk::Op::set(s.state, std::to_string(token) + " " + pid)});
      if (r.ok() && r.results.front().stat) {
        line("WRITE " + std::to_string(token) + " " +
             std::to_string(r.results.front().stat->mzxid) + " " + pid);
      } else {
        line("REFUSED " + std::to_string(token) + " " + pid);
      }
    } catch (const zk::Error&) {
      line("REFUSED " + std::to_string(token) + " " + pid);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  line("TERM_END " + std::to_string(token) + " " + pid + " " + std::to_string(monotonic_ns()));
}

void run_latch(zk::Session& session, const Spec& s) {
  for (int n = 0; s.terms == 0 || n < s.terms; ++n) {
    zk::LatchOptions o;
    o.id = s.id;
    zk::LeaderLatch latch(session, s.path, o);
    if (!latch.await_leadership()) return;
    std::int64_t token = 0;
    try {
      token = latch.term();
    } catch (const zk::Error&) {
      continue; // lost before it began
    }
    term(
        s, token, [&](std::vector<zk::Op> ops) { return latch.fenced(token, std::move(ops)); },
        [&] { return latch.is_leader(); });
    latch.close();
  }
}

void run_selector(zk::Session& session, const Spec& s) {
  std::mutex m;
  std::condition_variable cv;
  int done = 0;
  zk::SelectorOptions o;
  o.id = s.id;
  o.profile = s.mode == "kazoo" ? zk::SelectorProfile::kazoo : zk::SelectorProfile::curator;
  zk::LeaderSelector selector(
      session, s.path,
      [&](zk::Leadership& l) {
        term(
            s, l.term(), [&](std::vector<zk::Op> ops) { return l.fenced(std::move(ops)); },
            [&] { return !l.stop_requested(); });
        const std::lock_guard<std::mutex> lk(m);
        ++done;
        cv.notify_all();
      },
      o);
  std::unique_lock<std::mutex> lk(m);
  cv.wait(lk, [&] { return s.terms != 0 && done >= s.terms; });
}

} // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> a(argv + 1, argv + argc);
  if (a.size() != 8) {
    std::cerr << "usage: election_peer MODE HOSTS PATH ID STATE SESSION_MS TERMS WRITES\n";
    return 2;
  }
  try {
    Spec s{a[0], a[2], a[3], a[4], std::stoi(a[6]), std::stoi(a[7])};
    zk::SessionOptions o;
    o.hosts = a[1];
    o.session_timeout = std::chrono::milliseconds(std::stoi(a[5]));
    o.log_level = zk::LogLevel::error;
    zk::Session session(o);
    line("READY");
    std::string go;
    std::getline(std::cin, go);
    if (s.mode == "latch") {
      run_latch(session, s);
    } else {
      run_selector(session, s);
    }
    line("DONE");
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "election_peer: " << e.what() << std::endl;
    return 1;
  }
}
