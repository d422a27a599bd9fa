// Multi-process counter tests on the real ensemble: our worker processes (this binary re-run with
// --counter-worker, see counter_worker.cpp), Curator's DistributedAtomicLong and Kazoo's Counter
// incrementing the same znode. Every process reports what it was told; the final value must be
// exact and, for increments, every acknowledged value must be distinct.
#include <zkrecipes/distributed_counter.hpp>

#include "support/ensemble.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <iostream>
#include <map>
#include <sstream>

extern char** environ;

using namespace std::chrono_literals;

namespace {

std::string self_exe() {
  char buf[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) throw std::runtime_error("readlink /proc/self/exe failed");
  return std::string(buf, static_cast<std::size_t>(n));
}

// The Java launcher lives in <build>/bin; this binary somewhere below <build>.
std::string curator_peer() {
  std::string dir = self_exe();
  while (!dir.empty()) {
    dir = dir.substr(0, dir.rfind('/'));
    const std::string candidate = dir + "/bin/curator_counter_peer";
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  throw std::runtime_error("bin/curator_counter_peer not found above " + self_exe());
}

std::string kazoo_peer() {
  return std::string(ZKR_SOURCE_DIR) + "/tests/interop/kazoo_counter_peer.py";
}

// One child process whose stdout we read; killed (only it, by pid) if still running at the end.
class Child {
public:
  Child(std::string name, const std::vector<std::string>& args) : m_name(std::move(name)) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
    std::vector<char*> argv;
    for (const auto& a : args)
      argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    const int rc = ::posix_spawn(&m_pid, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(fds[1]);
    m_fd = fds[0];
    if (rc != 0) throw std::runtime_error("cannot start " + args[0]);
  }
  ~Child() {
    if (m_fd >= 0) ::close(m_fd);
    if (m_pid > 0) {
      ::kill(m_pid, SIGKILL);
      int status = 0;
      ::waitpid(m_pid, &status, 0);
    }
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  int fd() const { return m_fd; }
  const std::string& name() const { return m_name; }
  const std::string& output() const { return m_out; }
  bool eof() const { return m_fd < 0; }
  bool has_line(const std::string& prefix) const {
    return m_out.rfind(prefix, 0) == 0 || m_out.find("\n" + prefix) != std::string::npos;
  }
  void read_some() {
    char buf[65536];
    const ssize_t n = ::read(m_fd, buf, sizeof buf);
    if (n > 0) {
      m_out.append(buf, static_cast<std::size_t>(n));
    } else {
      ::close(m_fd);
      m_fd = -1;
    }
  }
  int wait_exit() {
    int status = 0;
    ::waitpid(m_pid, &status, 0);
    m_pid = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  std::string line(const std::string& prefix) const {
    std::istringstream in(m_out);
    for (std::string l; std::getline(in, l);)
      if (l.rfind(prefix, 0) == 0) return l.substr(prefix.size());
    return {};
  }

private:
  std::string m_name;
  pid_t m_pid = -1;
  int m_fd = -1;
  std::string m_out;
};

// Reads all children's output until pred() holds for each, or the deadline passes (event-driven:
// poll() wakes on output).
bool pump_until(std::vector<std::unique_ptr<Child>>& kids,
                const std::function<bool(const Child&)>& pred, std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    std::vector<pollfd> fds;
    std::vector<Child*> who;
    bool all = true;
    for (auto& k : kids) {
      if (pred(*k)) continue;
      all = false;
      if (k->eof()) return false; // exited without ever satisfying pred
      fds.push_back(pollfd{k->fd(), POLLIN, 0});
      who.push_back(k.get());
    }
    if (all) return true;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    if (::poll(fds.data(), fds.size(), static_cast<int>(left.count())) <= 0) continue;
    for (std::size_t i = 0; i < fds.size(); ++i)
      if (fds[i].revents != 0) who[i]->read_some();
  }
}

// key=value pairs of a RESULT line; a missing key reads as -1 (and fails the EXPECTs that use it).
std::map<std::string, long long> fields(const std::string& s) {
  std::map<std::string, long long> out{
      {"ok", -1}, {"sum", 0}, {"indeterminate", -1}, {"writes", 0}};
  std::istringstream in(s);
  for (std::string kv; in >> kv;) {
    const auto eq = kv.find('=');
    if (eq != std::string::npos) out[kv.substr(0, eq)] = std::stoll(kv.substr(eq + 1));
  }
  return out;
}

std::vector<std::int64_t> numbers(const std::string& s) {
  std::vector<std::int64_t> out;
  std::istringstream in(s);
  for (long long v; in >> v;)
    out.push_back(v);
  return out;
}

std::unique_ptr<Child> worker(const std::string& path, int threads, int ops, const char* mode,
                              int seed, bool combine, const char* codec, const std::string& go) {
  return std::make_unique<Child>(
      "worker" + std::to_string(seed),
      std::vector<std::string>{self_exe(), "--counter-worker", path, std::to_string(threads),
                               std::to_string(ops), mode, std::to_string(seed), combine ? "1" : "0",
                               codec, go});
}

// Starts everyone, waits until all are READY, opens the gate, waits for all to finish cleanly.
void run_all(zk::Session& s, std::vector<std::unique_ptr<Child>>& kids, const std::string& go) {
  ASSERT_TRUE(pump_until(
      kids, [](const Child& c) { return c.has_line("READY"); }, 90s))
      << "not every process became ready";
  s.create(go);
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(pump_until(
      kids, [](const Child& c) { return c.eof(); }, 300s))
      << "not every process finished in time";
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  for (auto& k : kids) {
    EXPECT_EQ(k->wait_exit(), 0) << k->name() << " failed:\n" << k->output();
    std::cout << "[ measure ] " << k->name() << ": " << k->line("RESULT ") << '\n';
  }
  std::cout << "[ measure ] all processes done in " << ms.count() << " ms\n";
}

std::int64_t peer_get(const std::vector<std::string>& args) {
  std::vector<std::unique_ptr<Child>> k;
  k.push_back(std::make_unique<Child>("reader", args));
  EXPECT_TRUE(pump_until(
      k, [](const Child& c) { return c.eof(); }, 120s));
  EXPECT_EQ(k[0]->wait_exit(), 0) << k[0]->output();
  const auto v = numbers(k[0]->line("VALUE "));
  return v.empty() ? std::numeric_limits<std::int64_t>::min() : v[0];
}

std::int64_t our_get(zk::Session& s, const std::string& path, zk::CounterCodec codec) {
  zk::CounterOptions o;
  o.codec = codec;
  s.sync(path);
  return zk::DistributedCounter(s, path, o).get();
}

void expect_distinct_steps(std::vector<std::int64_t> values, std::int64_t total) {
  std::sort(values.begin(), values.end());
  ASSERT_EQ(values.size(), static_cast<std::size_t>(total));
  for (std::size_t i = 0; i < values.size(); ++i)
    ASSERT_EQ(values[i], static_cast<std::int64_t>(i) + 1)
        << "a value was returned twice or skipped";
}

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::atoi(v) : fallback;
}

TEST(CounterProcesses, EightProcessesOfMixedUpdatesEndExact) {
  zkt::RootGuard root("counter-8proc");
  const std::string path = root.path() + "/c", go = root.path() + "/go";
  const int procs = 8, ops = env_int("ZKR_COUNTER_OPS", 500);
  std::vector<std::unique_ptr<Child>> kids;
  for (int p = 0; p < procs; ++p)
    kids.push_back(worker(path, 1, ops, "mixed", p + 1, false, "int64_be", go));
  run_all(root.session(), kids, go);
  std::int64_t expected = 0;
  long long writes = 0;
  for (auto& k : kids) {
    const auto f = fields(k->line("RESULT "));
    EXPECT_EQ(f.at("ok"), ops) << k->output();
    EXPECT_EQ(f.at("indeterminate"), 0);
    expected += f.at("sum");
    writes += f.at("writes");
  }
  EXPECT_EQ(our_get(root.session(), path, zk::CounterCodec::int64_be), expected);
  std::cout << "[ measure ] " << procs * ops << " updates, " << writes << " writes sent ("
            << static_cast<double>(writes) / (procs * ops) << " per update)\n";
}

// Four closed-loop writers on one counter for 3 s with the default options, as a user's replicas
// incrementing a shared statistic: every writer progresses (none starves behind the last winner's
// current cache: they take turns, each at least half the mean), none gives up, writes are not sent
// to be refused (in a turn one write makes one increment), the total is exact, and no contention
// marker or turn node outlives its writer.
TEST(CounterProcesses, ClosedLoopWritersAllProgressWithTheDefaults) {
  zkt::RootGuard root("counter-fair");
  const std::string path = root.path() + "/c", go = root.path() + "/go";
  const int procs = 4, window_ms = 3000;
  std::vector<std::unique_ptr<Child>> kids;
  for (int p = 0; p < procs; ++p)
    kids.push_back(worker(path, 1, window_ms, "timed", p + 1, false, "int64_be", go));
  run_all(root.session(), kids, go);
  std::vector<long long> counts;
  std::int64_t total = 0;
  long long writes = 0;
  for (auto& k : kids) {
    const auto f = fields(k->line("RESULT "));
    EXPECT_EQ(f.at("failed"), 0) << k->name() << " gave up:\n" << k->output();
    EXPECT_EQ(f.at("indeterminate"), 0) << k->output();
    counts.push_back(f.at("ok"));
    total += f.at("sum");
    writes += f.at("writes");
  }
  // Without turns, four writers sent about 2.9 writes per increment (2026-12-04 bench).
  EXPECT_LE(static_cast<double>(writes), 1.5 * static_cast<double>(total))
      << writes << " writes for " << total << " increments";
  EXPECT_EQ(our_get(root.session(), path, zk::CounterCodec::int64_be), total);
  const double mean = static_cast<double>(total) / procs;
  double squares = 0;
  for (std::size_t p = 0; p < counts.size(); ++p) {
    EXPECT_GE(static_cast<double>(counts[p]), mean / 2)
        << "writer " << p + 1 << " starved: " << counts[p] << " increments, the mean is " << mean;
    squares += static_cast<double>(counts[p]) * static_cast<double>(counts[p]);
  }
  std::cout << "[ measure ] increments per writer:";
  for (auto c : counts)
    std::cout << ' ' << c;
  std::cout << " (Jain's index " << (squares > 0 ? static_cast<double>(total) * mean / squares : 0)
            << ")\n";
  root.session().sync(path);
  const auto kids_left = root.session().children(path);
  ASSERT_TRUE(kids_left);
  EXPECT_TRUE(kids_left->names.empty())
      << "a contention marker or turn node outlived its writer: " << kids_left->names.front();
}

// The "must show": 4 of our processes x 2 threads plus one Curator process, 2,000
// increments.
TEST(CounterProcesses, OursAndCuratorReachExactly2000) {
  zkt::RootGuard root("counter-2000");
  const std::string path = root.path() + "/c", go = root.path() + "/go";
  std::vector<std::unique_ptr<Child>> kids;
  for (int p = 0; p < 4; ++p)
    kids.push_back(worker(path, 2, 200, "inc", p + 1, p >= 2, "int64_be", go));
  kids.push_back(
      std::make_unique<Child>("curator", std::vector<std::string>{curator_peer(), "increment",
                                                                  zkt::hosts(), path, "400", go}));
  run_all(root.session(), kids, go);
  std::vector<std::int64_t> all;
  for (auto& k : kids) {
    const auto v = numbers(k->line("VALUES "));
    all.insert(all.end(), v.begin(), v.end());
    if (k->name() != "curator") {
      EXPECT_EQ(fields(k->line("RESULT ")).at("indeterminate"), 0);
    }
  }
  EXPECT_EQ(our_get(root.session(), path, zk::CounterCodec::int64_be), 2000);
  EXPECT_EQ(peer_get({curator_peer(), "get", zkt::hosts(), path}), 2000);
  expect_distinct_steps(all, 2000);
}

TEST(CounterInterop, CuratorReadsAndIncrementsOurInt64Node) {
  zkt::RootGuard root("counter-curator");
  const std::string path = root.path() + "/c", go = root.path() + "/go";
  std::vector<std::unique_ptr<Child>> kids;
  kids.push_back(worker(path, 2, 150, "inc", 1, false, "int64_be", go));
  kids.push_back(
      std::make_unique<Child>("curator", std::vector<std::string>{curator_peer(), "increment",
                                                                  zkt::hosts(), path, "300", go}));
  run_all(root.session(), kids, go);
  std::vector<std::int64_t> all;
  for (auto& k : kids) {
    const auto v = numbers(k->line("VALUES "));
    all.insert(all.end(), v.begin(), v.end());
  }
  expect_distinct_steps(all, 600);
  // Our last write leaves the trailer in place; Curator must still read the value, negative too.
  zk::DistributedCounter ours(root.session(), path);
  EXPECT_EQ(ours.add(-1000), -400);
  ASSERT_GT(root.session().get(path)->data.size(), 8U) << "the trailer should be present";
  EXPECT_EQ(peer_get({curator_peer(), "get", zkt::hosts(), path}), -400);
}

TEST(CounterInterop, KazooAndOurAsciiCounterSumExactly) {
  zkt::RootGuard root("counter-kazoo");
  const std::string path = root.path() + "/c", go = root.path() + "/go";
  std::vector<std::unique_ptr<Child>> kids;
  kids.push_back(worker(path, 2, 150, "inc", 1, false, "ascii", go));
  kids.push_back(std::make_unique<Child>(
      "kazoo", std::vector<std::string>{"/usr/bin/python3", kazoo_peer(), "increment", zkt::hosts(),
                                        path, "300", go}));
  run_all(root.session(), kids, go);
  std::vector<std::int64_t> all;
  for (auto& k : kids) {
    const auto v = numbers(k->line("VALUES "));
    all.insert(all.end(), v.begin(), v.end());
  }
  expect_distinct_steps(all, 600);
  EXPECT_EQ(our_get(root.session(), path, zk::CounterCodec::ascii), 600);
  EXPECT_EQ(root.session().get(path)->data, "600");
  EXPECT_EQ(peer_get({"/usr/bin/python3", kazoo_peer(), "get", zkt::hosts(), path}), 600);
}

TEST(CounterInterop, KazooCuratorModeReadsOurInt32Node) {
  zkt::RootGuard root("counter-kazoo32");
  const std::string path = root.path() + "/c";
  zk::CounterOptions o;
  o.codec = zk::CounterCodec::int32_be;
  zk::DistributedCounter c(root.session(), path, o);
  c.set(-7);
  EXPECT_EQ(root.session().get(path)->data.size(), 4U);
  EXPECT_EQ(peer_get({"/usr/bin/python3", kazoo_peer(), "get_curator", zkt::hosts(), path}), -7);
  EXPECT_EQ(c.add(123456), 123449);
  EXPECT_EQ(peer_get({"/usr/bin/python3", kazoo_peer(), "get_curator", zkt::hosts(), path}),
            123449);
}

} // namespace
