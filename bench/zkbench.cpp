// zkbench: entry point and the worker protocol (see bench/README.md).
//
//   zkbench worker raw|ours HOSTS        a worker on stdin/stdout, driven by bench/run.py
//   zkbench probe HOSTS                  the primitives probe (probe.cpp), driven the same way
//   zkbench cg raw|ours HOSTS PATH N     N uncontended lock cycles, then exit (run under callgrind)
#include "zkbench.hpp"

#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <future>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>

namespace zkbench {

void sleep_until_ns(std::int64_t ns) {
  const auto left = ns - now_ns();
  if (left > 0) std::this_thread::sleep_for(std::chrono::nanoseconds(left));
}

std::string hex_id(std::int64_t id) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(id));
  return buf;
}

std::string json_array(const std::vector<std::int64_t>& v) {
  std::string out = "[";
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i != 0) out += ',';
    out += std::to_string(v[i]);
  }
  return out + "]";
}

std::unique_ptr<BenchLock> Backend::read_lock(const std::string& /*path*/) {
  throw Failure("no read-write lock in this implementation");
}

std::unique_ptr<BenchLock> Backend::semaphore(const std::string& /*path*/, int /*max*/) {
  throw Failure("no semaphore in this implementation");
}

std::unique_ptr<BenchAsyncLock> Backend::async_lock(const std::string& /*path*/) {
  throw Failure("no asynchronous lock in this implementation");
}

namespace {

std::string json_strings(const std::vector<std::string>& v) {
  std::string out = "[";
  for (std::size_t i = 0; i < v.size(); ++i)
    out += (i != 0 ? ",\"" : "\"") + v[i] + "\"";
  return out + "]";
}

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += (c == '\n' || c == '\r') ? ' ' : c;
  }
  return out;
}

void reply(const std::string& json) {
  std::fputs((json + "\n").c_str(), stdout);
  std::fflush(stdout);
}

// Waits for the coordinator's "go START END" line.
std::pair<std::int64_t, std::int64_t> read_go() {
  std::string line;
  if (!std::getline(std::cin, line)) throw Failure("stdin closed before go");
  std::istringstream in(line);
  std::string word;
  std::int64_t start = 0, end = 0;
  in >> word >> start >> end;
  if (word != "go") throw Failure("expected go, got: " + line);
  return {start, end};
}

// Lock/unlock until `end`; appends (acquired, released) pairs to `holds`.
void lock_loop(BenchLock& lock, std::int64_t end, std::vector<std::int64_t>& holds) {
  while (now_ns() < end) {
    lock.lock();
    const auto acquired = now_ns();
    const auto released = now_ns();
    lock.unlock();
    holds.push_back(acquired);
    holds.push_back(released);
  }
}

std::string contend(Backend& b, const std::vector<std::string>& args) {
  const std::string& kind = args.at(1);
  const std::string& path = args.at(2);
  if (kind == "lock" || kind == "read") { // readers: their holds overlap
    auto lock = kind == "lock" ? b.lock(path) : b.read_lock(path);
    reply("{\"armed\":1,\"sessions\":" + json_strings(b.sessions()) + "}");
    const auto [start, end] = read_go();
    std::vector<std::int64_t> holds;
    sleep_until_ns(start);
    lock_loop(*lock, end, holds);
    return "{\"holds\":" + json_array(holds) + "}";
  }
  if (kind == "counter" || kind == "sharded") {
    auto counter = kind == "counter" ? b.counter(path) : b.sharded(path);
    reply("{\"armed\":1,\"sessions\":" + json_strings(b.sessions()) + "}");
    const auto [start, end] = read_go();
    // Every call started in the window is waited for and kept at its whole elapsed time (one still
    // running when the window closes too): a starved writer shows as a long call, not as nothing.
    std::vector<std::int64_t> lat;
    std::vector<std::int64_t> gave_up; // indices into lat
    std::int64_t tries = 0;
    sleep_until_ns(start);
    while (now_ns() < end) {
      const auto t0 = now_ns();
      const int t = counter->incr();
      lat.push_back(now_ns() - t0);
      if (t < 0) gave_up.push_back(static_cast<std::int64_t>(lat.size() - 1));
      tries += t < 0 ? -t : t;
    }
    const auto finished = now_ns();
    return "{\"ops\":" + std::to_string(lat.size() - gave_up.size()) +
           ",\"tries\":" + std::to_string(tries) + ",\"t_end\":" + std::to_string(finished) +
           ",\"lat\":" + json_array(lat) + ",\"gave_up\":" + json_array(gave_up) + "}";
  }
  if (kind == "async") { // N waits pending at once, no thread of theirs: each grant starts the next
    const int n = std::stoi(args.at(3));
    auto lock = b.async_lock(path);
    reply("{\"armed\":1,\"sessions\":" + json_strings(b.sessions()) + "}");
    const auto [start, end] = read_go();
    std::mutex m;
    std::condition_variable cv;
    int live = n;
    std::vector<std::int64_t> holds;
    std::string error;
    std::function<void()> next = [&] {
      lock->lock_async([&](const std::string& e, const std::function<void()>& release) {
        if (e.empty()) {
          const auto acquired = now_ns();
          const auto released = now_ns();
          release();
          std::lock_guard<std::mutex> lk(m);
          holds.push_back(acquired);
          holds.push_back(released);
        }
        if (e.empty() && now_ns() < end) return next();
        std::lock_guard<std::mutex> lk(m);
        if (!e.empty()) error = e;
        --live;
        cv.notify_all();
      });
    };
    sleep_until_ns(start);
    for (int i = 0; i < n; ++i)
      next();
    std::unique_lock<std::mutex> lk(m);
    if (!cv.wait_for(lk, std::chrono::seconds(60) + std::chrono::nanoseconds(end - now_ns()),
                     [&] { return live == 0; })) {
      // Their completions still refer to this frame: end the worker (the coordinator restarts it).
      std::fprintf(stderr, "zkbench: async waiters did not finish\n");
      std::_Exit(1);
    }
    if (!error.empty()) throw Failure(error);
    return "{\"holds\":" + json_array(holds) + "}";
  }
  if (kind == "threads") {
    const int n = std::stoi(args.at(3));
    auto locks = b.thread_locks(path, n, args.at(4));
    reply("{\"armed\":1,\"sessions\":" + json_strings(b.sessions()) + "}");
    const auto [start, end] = read_go();
    std::vector<std::vector<std::int64_t>> holds(static_cast<std::size_t>(n));
    std::vector<std::thread> threads;
    std::mutex error_mutex;
    std::string error;
    for (std::size_t i = 0; i < locks.size(); ++i) {
      threads.emplace_back([&, i] {
        try {
          sleep_until_ns(start);
          lock_loop(*locks[i], end, holds[i]);
        } catch (const std::exception& e) {
          std::lock_guard<std::mutex> lk(error_mutex);
          error = e.what();
        }
      });
    }
    for (auto& t : threads)
      t.join();
    if (!error.empty()) throw Failure(error);
    std::vector<std::int64_t> all;
    for (const auto& h : holds)
      all.insert(all.end(), h.begin(), h.end());
    return "{\"holds\":" + json_array(all) + "}";
  }
  throw Failure("unknown contend kind " + kind);
}

std::string command(Backend& b, const std::vector<std::string>& args) {
  const std::string& cmd = args.at(0);
  if (cmd == "cycle" || cmd == "semcycle") {
    // Uncontended cycles, after one untimed cycle: lock() + unlock(), or a semaphore's (at most 8
    // leases) acquire + release.
    auto lock = cmd == "cycle" ? b.lock(args.at(1)) : b.semaphore(args.at(1), 8);
    const int count = std::stoi(args.at(2));
    lock->lock();
    lock->unlock();
    std::vector<std::int64_t> lat;
    for (int i = 0; i < count; ++i) {
      const auto t0 = now_ns();
      lock->lock();
      lock->unlock();
      lat.push_back(now_ns() - t0);
    }
    return "{\"lat\":" + json_array(lat) + "}";
  }
  if (cmd == "acycle") { // uncontended async_lock + release, waited for by this thread
    auto lock = b.async_lock(args.at(1));
    const int count = std::stoi(args.at(2));
    const auto once = [&] {
      std::promise<std::function<void()>> granted;
      lock->lock_async([&](const std::string& e, std::function<void()> release) {
        if (!e.empty()) return granted.set_exception(std::make_exception_ptr(Failure(e)));
        granted.set_value(std::move(release));
      });
      granted.get_future().get()();
    };
    once();
    std::vector<std::int64_t> lat;
    for (int i = 0; i < count; ++i) {
      const auto t0 = now_ns();
      once();
      lat.push_back(now_ns() - t0);
    }
    return "{\"lat\":" + json_array(lat) + "}";
  }
  if (cmd == "incr") { // uncontended increments, after one untimed increment (creates, caches)
    auto counter = b.counter(args.at(1));
    const int count = std::stoi(args.at(2));
    counter->incr();
    std::vector<std::int64_t> lat;
    std::int64_t tries = 0;
    for (int i = 0; i < count; ++i) {
      const auto t0 = now_ns();
      tries += counter->incr();
      lat.push_back(now_ns() - t0);
    }
    return "{\"lat\":" + json_array(lat) + ",\"tries\":" + std::to_string(tries) + "}";
  }
  if (cmd == "contend") return contend(b, args);
  throw Failure("unknown command " + cmd);
}

int run_worker(const std::string& impl, const std::string& hosts) {
  auto backend = impl == "raw" ? make_raw_backend(hosts) : make_ours_backend(hosts);
  reply("{\"ready\":1,\"sessions\":" + json_strings(backend->sessions()) + "}");
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream in(line);
    std::vector<std::string> args;
    for (std::string w; in >> w;)
      args.push_back(w);
    if (args.empty()) continue;
    if (args[0] == "quit") break;
    try {
      reply(command(*backend, args));
    } catch (const std::exception& e) {
      reply("{\"error\":\"" + escape(e.what()) + "\"}");
    }
  }
  return 0;
}

// For callgrind: the same cycles as `cycle`, nothing else.
int run_cycles(const std::string& impl, const std::string& hosts, const std::string& path, int n) {
  auto backend = impl == "raw" ? make_raw_backend(hosts) : make_ours_backend(hosts);
  auto lock = backend->lock(path);
  for (int i = 0; i < n; ++i) {
    lock->lock();
    lock->unlock();
  }
  return 0;
}

} // namespace
} // namespace zkbench

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  try {
    if (args.size() == 3 && args[0] == "worker" && (args[1] == "raw" || args[1] == "ours"))
      return zkbench::run_worker(args[1], args[2]);
    if (args.size() == 2 && args[0] == "probe") return zkbench::run_probe(args[1]);
    if (args.size() == 5 && args[0] == "cg" && (args[1] == "raw" || args[1] == "ours"))
      return zkbench::run_cycles(args[1], args[2], args[3], std::stoi(args[4]));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "zkbench: %s\n", e.what());
    return 1;
  }
  std::fprintf(stderr,
               "usage: zkbench worker raw|ours HOSTS | probe HOSTS | cg raw|ours HOSTS PATH N\n");
  return 2;
}
