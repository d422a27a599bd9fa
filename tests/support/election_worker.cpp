#include "support/election_worker.hpp"

#include "support/checkers.hpp"
#include "support/ensemble.hpp"

#include <zkrecipes/leader.hpp>

#include <condition_variable>
#include <iostream>
#include <mutex>
#include <thread>

namespace zkt {
namespace {

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
  const std::string pid = std::to_string(this_process());
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
        s, token, [&](std::vector<zk::Op> ops) { return latch.fenced(std::move(ops)); },
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

int election_worker(const std::vector<std::string>& a) {
  if (a.size() != 8) {
    std::cerr << "election worker: MODE HOSTS PATH ID STATE SESSION_MS TERMS WRITES\n";
    return 2;
  }
  try {
    Spec s{a[0], a[2], a[3], a[4], std::stoi(a[6]), std::stoi(a[7])};
    zk::SessionOptions o = options(std::chrono::milliseconds(std::stoi(a[5])));
    o.hosts = a[1];
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
    std::cerr << "election worker: " << e.what() << std::endl;
    return 1;
  }
}

} // namespace zkt
