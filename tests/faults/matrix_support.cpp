// The fault matrix's fixture, ensemble verbs and global criteria (see matrix_support.hpp).
#include "matrix_support.hpp"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <sstream>

namespace zkt::matrix {
namespace {

std::mutex g_print_mutex;

void print(const std::string& tag, const std::string& text) {
  std::lock_guard<std::mutex> lock(g_print_mutex);
  std::cout << "[ " << tag << std::string(tag.size() < 9 ? 9 - tag.size() : 0, ' ') << "] " << text
            << std::endl;
}

constexpr int kLogLines = 20;
std::atomic<int> g_log_lines{0};

std::uint64_t splitmix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::uint64_t base_seed() {
  const char* env = std::getenv("ZKR_MATRIX_SEED");
  return env != nullptr && *env != '\0' ? std::strtoull(env, nullptr, 10) : 20240601ULL;
}

} // namespace

void quiet_log(zk::SessionOptions& o) {
  o.log_level = zk::LogLevel::error;
  o.log_sink = [](zk::LogLevel, std::string_view message) {
    const int n = g_log_lines.fetch_add(1);
    if (n < kLogLines) {
      std::lock_guard<std::mutex> lock(g_print_mutex);
      std::cerr << "zkrecipes: " << message << std::endl;
    } else if (n == kLogLines) {
      std::lock_guard<std::mutex> lock(g_print_mutex);
      std::cerr << "zkrecipes: (further C client log lines of this process are not shown)"
                << std::endl;
    }
  };
}

// --- Faults --------------------------------------------------------------------------------------

void Faults::kill(int n) {
  m_log("kill -9 server " + std::to_string(n));
  m_killed.insert(n);
  ensemble("kill " + std::to_string(n));
}

void Faults::start(int n) {
  m_log("start server " + std::to_string(n));
  ensemble("start " + std::to_string(n));
  m_killed.erase(n);
}

void Faults::pause(int n) {
  m_log("pause (SIGSTOP) server " + std::to_string(n));
  m_paused.insert(n);
  // The cgroup freezer behind `docker pause` now and then gives up ("unable to freeze") while a
  // process is in an uninterruptible state; that is the tool failing, not the ensemble.
  for (int attempt = 1;; ++attempt) {
    try {
      ensemble("pause " + std::to_string(n));
      return;
    } catch (const std::exception& e) {
      if (attempt == 3) throw;
      m_log(std::string("pause failed, trying again: ") + e.what());
    }
  }
}

void Faults::resume(int n) {
  m_log("resume (SIGCONT) server " + std::to_string(n));
  ensemble("resume " + std::to_string(n));
  m_paused.erase(n);
}

void Faults::isolate(int n) {
  m_log("isolate server " + std::to_string(n) + " from its peers");
  m_isolated = true;
  ensemble("isolate " + std::to_string(n));
}

void Faults::heal() {
  m_log("heal the partition");
  ensemble("heal");
  m_isolated = false;
}

int Faults::leader(Ms timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    try {
      return std::stoi(ensemble("leader"));
    } catch (const std::exception&) {
      if (Clock::now() >= deadline) throw;
    }
    // Polling: an election has no event a test can wait on.
    std::this_thread::sleep_for(Ms(100));
  }
}

void Faults::wait_healthy(Ms timeout) {
  ensemble("wait " + std::to_string(std::max<long>(1, static_cast<long>(timeout.count() / 1000))));
}

bool Faults::restore() noexcept {
  const bool touched = m_isolated || !m_killed.empty() || !m_paused.empty();
  try {
    if (m_isolated) heal();
    for (int n : std::set<int>(m_paused))
      resume(n);
    for (int n : std::set<int>(m_killed))
      start(n);
    if (touched) {
      wait_healthy(Ms(60000));
      m_log("ensemble healthy again");
    }
    return true;
  } catch (const std::exception& e) {
    m_log(std::string("restore failed (") + e.what() + "); running `docker/ensemble up`");
  }
  try {
    m_isolated = false;
    m_paused.clear();
    m_killed.clear();
    ensemble("up");
    return true;
  } catch (const std::exception& e) {
    m_log(std::string("`docker/ensemble up` failed: ") + e.what());
    return false;
  }
}

std::string ensure_healthy() {
  try {
    ensemble("status");
    return {};
  } catch (const std::exception& e) {
    const std::string before = e.what();
    ensemble("up");
    return before;
  }
}

int server_of(const zk::Session& s) {
  return server_number(s.current_server());
}

std::size_t watches_under(const std::string& prefix) {
  std::size_t n = 0;
  for (int s = 1; s <= 3; ++s) {
    std::istringstream in(four_letter(server_address(s), "wchp"));
    bool inside = false;
    for (std::string line; std::getline(in, line);) {
      if (!line.empty() && line[0] == '/')
        inside = line.rfind(prefix, 0) == 0;
      else if (inside && line.find("0x") != std::string::npos)
        ++n;
    }
  }
  return n;
}

std::size_t ephemerals_under(const std::string& prefix) {
  for (int s = 1; s <= 3; ++s) {
    if (four_letter(server_address(s), "srvr").find("Mode: leader") == std::string::npos) continue;
    std::istringstream in(four_letter(server_address(s), "dump"));
    std::size_t n = 0;
    for (std::string line; std::getline(in, line);) {
      const auto start = line.find_first_not_of(" \t");
      if (start != std::string::npos && line.compare(start, prefix.size(), prefix) == 0) ++n;
    }
    return n;
  }
  throw std::runtime_error("no leader answered `srvr` for `dump`");
}

std::size_t total_watches() {
  std::size_t n = 0;
  for (int s = 1; s <= 3; ++s) {
    const std::string r = four_letter(server_address(s), "wchs");
    const auto at = r.find("Total watches:");
    if (at != std::string::npos) n += std::stoul(r.substr(at + 14));
  }
  return n;
}

// --- CallLog -------------------------------------------------------------------------------------

bool CallLog::run(const std::string& what, Ms bound, const std::function<void()>& fn,
                  zk::Errc* error) {
  Call c{what, bound, Ms(0), "ok", true};
  const auto start = Clock::now();
  bool ok = false;
  try {
    fn();
    ok = true;
  } catch (const zk::Error& e) {
    c.outcome = zk::to_string(e.errc());
    if (error != nullptr) *error = e.errc();
    // The C client's internal codes mean the library passed on something it should have classified
    // (a dropped connection is connection_loss, an expiry session_expired...).
    const auto code = e.errc();
    c.typed = code != zk::Errc::runtime_inconsistency && code != zk::Errc::system_error &&
              code != zk::Errc::marshalling_error && code != zk::Errc::data_inconsistency &&
              code != zk::Errc::api_error;
    if (!c.typed) c.outcome += std::string(" (unclassified C client code: ") + e.what() + ")";
  } catch (const std::exception& e) {
    c.outcome = std::string("untyped: ") + e.what();
    c.typed = false;
    if (error != nullptr) *error = zk::Errc::system_error;
  }
  c.took = std::chrono::duration_cast<Ms>(Clock::now() - start);
  std::lock_guard<std::mutex> lock(m_mutex);
  m_calls.push_back(std::move(c));
  return ok;
}

void CallLog::expect_all_within(Ms slack) const {
  std::lock_guard<std::mutex> lock(m_mutex);
  std::map<std::string, int> outcomes;
  Ms worst_margin = Ms::min();
  std::string worst;
  std::vector<std::string> bad;
  for (const auto& c : m_calls) {
    ++outcomes[c.what + ":" + c.outcome];
    if (!c.typed)
      bad.push_back(c.what + " ended with an untyped or unclassified error: " + c.outcome);
    if (c.took > c.bound + slack)
      bad.push_back(c.what + " took " + std::to_string(c.took.count()) + " ms, bound " +
                    std::to_string(c.bound.count()) + " ms (" + c.outcome +
                    "): it overran its deadline");
    if (c.took - c.bound > worst_margin) {
      worst_margin = c.took - c.bound;
      worst = c.what + " " + std::to_string(c.took.count()) + "/" +
              std::to_string(c.bound.count()) + " ms";
    }
  }
  std::string listed;
  for (std::size_t i = 0; i < bad.size() && i < 5; ++i)
    listed += "\n  " + bad[i];
  EXPECT_TRUE(bad.empty()) << bad.size() << " of " << m_calls.size()
                           << " calls broke the global criteria (first ones):" << listed;
  std::ostringstream out;
  out << "calls=" << m_calls.size() << " closest_to_bound=\"" << worst << "\" outcomes={";
  bool first = true;
  for (const auto& [k, v] : outcomes) {
    out << (first ? "" : ", ") << k << " x" << v;
    first = false;
  }
  out << "}";
  print("measure", out.str());
}

std::size_t CallLog::size() const {
  std::lock_guard<std::mutex> lock(m_mutex);
  return m_calls.size();
}

// --- Cell ----------------------------------------------------------------------------------------

void Cell::SetUp() {
  ASSERT_TRUE(own_ensemble()) << "the fault matrix drives the project's own ensemble "
                                 "(docker/ensemble); unset ZKR_TEST_HOSTS";
  m_start = Clock::now();
  const CellInfo ci = info();
  const std::uint64_t base = base_seed();
  const int slot = GetParam() % 10; // 10-12: the same slots of a second recipe
  m_seed = splitmix(base ^ splitmix(std::hash<std::string>{}(std::string(ci.id) + ci.recipe)) ^
                    static_cast<std::uint64_t>(slot));
  m_variant = static_cast<int>((base + static_cast<std::uint64_t>(slot)) % 3);
  m_rng.seed(m_seed);
  const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
  print("cell", std::string("id=") + ci.id + " recipe=" + ci.recipe +
                    " slot=" + std::to_string(slot) + " seed=" + std::to_string(m_seed) +
                    " variant=" + std::to_string(m_variant) + " base=" + std::to_string(base) +
                    " test=" + test->test_suite_name() + "." + test->name());
  print("fault", ci.fault);
  print("criteria", ci.criteria);
  print("replay", "ZKR_MATRIX_SEED=" + std::to_string(base) + " ctest -R '" +
                      test->test_suite_name() + "\\." + test->name() + "$'");
  RecordProperty("seed", std::to_string(m_seed));
  RecordProperty("cell", std::string(ci.id) + "/" + ci.recipe);

  const std::string repaired = ensure_healthy();
  if (!repaired.empty()) event("the ensemble was degraded before the cell; repaired with `up`");
  m_faults = std::make_unique<Faults>([this](const std::string& s) { event(s); });
  m_wchs_before = total_watches();
  m_root = std::make_unique<RootGuard>(std::string("matrix-") + ci.recipe + "-" + ci.id);

  const Ms limit = budget();
  m_watchdog = std::thread([this, limit, name = std::string(test->name())] {
    std::unique_lock<std::mutex> lock(m_watchdog_mutex);
    if (m_watchdog_cv.wait_for(lock, limit, [this] { return m_watchdog_stop; })) return;
    print("watchdog", "the cell ran longer than its budget of " + std::to_string(limit.count()) +
                          " ms (hang or deadlock): restoring the ensemble and aborting");
    try {
      ensemble("heal");
      ensemble("up");
    } catch (const std::exception& e) {
      print("watchdog", std::string("restore failed: ") + e.what());
    }
    std::abort();
  });
}

void Cell::TearDown() {
  stop_clients();
  if (!m_finished && !HasFailure()) ADD_FAILURE() << "the cell did not run its global checks";
  if (m_faults) {
    EXPECT_TRUE(m_faults->restore()) << "the ensemble could not be restored";
  }
  m_root.reset(); // deletes the cell's tree
  m_faults.reset();
  {
    std::lock_guard<std::mutex> lock(m_watchdog_mutex);
    m_watchdog_stop = true;
  }
  m_watchdog_cv.notify_all();
  if (m_watchdog.joinable()) m_watchdog.join();
  print("result", std::string(HasFailure() ? "FAILED" : "passed") + " in " + since_start());
}

Ms Cell::between(Ms lo, Ms hi) {
  if (hi <= lo) return lo;
  return lo + Ms(static_cast<Ms::rep>(m_rng() % static_cast<std::uint64_t>((hi - lo).count() + 1)));
}

std::string Cell::since_start() const {
  char buf[32];
  std::snprintf(buf, sizeof buf, "+%.3fs",
                std::chrono::duration<double>(Clock::now() - m_start).count());
  return buf;
}

void Cell::event(const std::string& text) const {
  print("event", since_start() + " " + text);
}

void Cell::measure(const std::string& text) const {
  print("measure", text);
}

void Cell::finish(Ms settle) {
  m_finished = true;
  EXPECT_TRUE(m_faults->restore()) << "the ensemble could not be restored";
  m_calls.expect_all_within();
  std::size_t watches = 0;
  std::size_t ephemerals = 0;
  const bool clean = wait_until(
      [&] {
        try {
          watches = watches_under(root());
          ephemerals = ephemerals_under(root());
          return watches == 0 && ephemerals == 0;
        } catch (const std::exception&) {
          return false;
        }
      },
      settle);
  EXPECT_TRUE(clean) << watches << " watch(es) and " << ephemerals
                     << " ephemeral node(s) left under " << root() << " " << settle.count()
                     << " ms after every client closed (wchp / dump on the leader)";
  // The ensemble is shared with other tests, so the totals of `wchs` are recorded, not asserted:
  // the assertion above is on the watches under this cell's own root, whose baseline is zero.
  measure("leftover_watches=" + std::to_string(watches) + " leftover_ephemerals=" +
          std::to_string(ephemerals) + " wchs_total_before=" + std::to_string(m_wchs_before) +
          " wchs_total_after=" + std::to_string(total_watches()));
}

} // namespace zkt::matrix
