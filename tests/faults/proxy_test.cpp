// Session layer under network faults injected by zkt::FaultProxy (label `faults`):
//  F8: every client link black-holed for 0.5x and 2x the session timeout;
//  F7 (session level): the reply to create2 / setData / multi lost after the server applied it.
// Plus checks that the proxy's own controls work, so a failure above is not the proxy's.
//
// Timing varies with a seed (session timeout, when the fault starts relative to the ping cycle):
// ZKR_SEED=<n> replays a run; the seed is printed and recorded as a test property.
#include "support/ensemble.hpp"
#include "support/fault_proxy.hpp"
#include "support/recorder.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <future>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <thread>

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

std::uint64_t seed() {
  static const std::uint64_t s = [] {
    const char* env = std::getenv("ZKR_SEED");
    return env != nullptr && *env != '\0' ? std::strtoull(env, nullptr, 10)
                                          : std::random_device{}();
  }();
  return s;
}

// Per-test generator: same seed, different test → different but reproducible choices.
std::mt19937_64 rng_for_test() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  ::testing::Test::RecordProperty("seed", std::to_string(seed()));
  std::cout << "[ seed     ] ZKR_SEED=" << seed() << '\n';
  return std::mt19937_64(seed() ^ std::hash<std::string>{}(info->name()));
}

milliseconds pick(std::mt19937_64& rng, std::initializer_list<milliseconds> choices) {
  return *(choices.begin() + static_cast<std::ptrdiff_t>(rng() % choices.size()));
}
milliseconds up_to(std::mt19937_64& rng, milliseconds max) {
  return milliseconds(
      static_cast<milliseconds::rep>(rng() % static_cast<std::uint64_t>(max.count() + 1)));
}

zk::SessionOptions through(const zkt::FaultProxy& proxy, milliseconds session_timeout) {
  auto o = zkt::options(session_timeout);
  o.hosts = proxy.connect_string();
  o.log_level = zk::LogLevel::error; // broken connections are the point here; keep stderr readable
  return o;
}

struct Timed {
  zk::SessionState state;
  std::int64_t session_id;
  Clock::time_point at;
};

// Session states with the time each arrived.
class TimedStates : public zkt::Recorder<Timed> {
public:
  explicit TimedStates(zk::Session& s)
      : m_s(s), m_id(s.add_listener([this](const zk::SessionEvent& e) {
          push({e.state, e.session_id, Clock::now()});
        })) {}
  ~TimedStates() { m_s.remove_listener(m_id); }
  TimedStates(const TimedStates&) = delete;
  TimedStates& operator=(const TimedStates&) = delete;
  std::optional<Timed> first(zk::SessionState st, milliseconds timeout) {
    std::optional<Timed> hit;
    wait(
        [&](const std::vector<Timed>& v) {
          for (const auto& e : v)
            if (e.state == st) {
              hit = e;
              return true;
            }
          return false;
        },
        timeout);
    return hit;
  }
  std::string history() const {
    std::string out;
    for (const auto& e : items())
      out += std::string(zk::to_string(e.state)) + " ";
    return out;
  }

private:
  zk::Session& m_s;
  std::uint64_t m_id;
};

// Ends a black hole whatever the test's outcome, so that the session can close normally.
struct Heal {
  zkt::FaultProxy& proxy;
  ~Heal() { proxy.blackhole(false); }
};

bool usable(zk::SessionState s) {
  return s == zk::SessionState::connected || s == zk::SessionState::reconnected;
}

// --- The proxy's own controls
// ---------------------------------------------------------------------

TEST(FaultProxy, ForwardsTrafficAndDelaysEachDirection) {
  zkt::FaultProxy proxy(zkt::hosts());
  zkt::RootGuard root("proxy");
  zk::Session s(through(proxy, 6s));
  s.create(root.path() + "/a", "x");
  EXPECT_EQ(s.get(root.path() + "/a")->data, "x");

  proxy.delay(zkt::Direction::to_server, 150ms);
  proxy.delay(zkt::Direction::to_client, 150ms);
  const auto t0 = Clock::now();
  EXPECT_EQ(s.get(root.path() + "/a", {}, 5s)->data, "x");
  EXPECT_GE(Clock::now() - t0, 300ms);
  proxy.delay(zkt::Direction::to_server, 0ms);
  proxy.delay(zkt::Direction::to_client, 0ms);
  // Bytes that are not ZooKeeper framing (a four-letter word) pass through unchanged.
  bool imok = false;
  for (std::size_t i = 0; i < proxy.size() && !imok; ++i)
    imok = zkt::four_letter("127.0.0.1:" + std::to_string(proxy.port(i)), "ruok") == "imok";
  EXPECT_TRUE(imok) << "no server answered ruok through the proxy";
  const auto st = proxy.stats();
  EXPECT_GE(st.accepted, 1u);
  EXPECT_GE(st.frames_forwarded, 6u);
  EXPECT_EQ(st.replies_dropped, 0u);
}

TEST(FaultProxy, ResetAndRefuseCutTheSessionOffUntilAllowedBack) {
  zkt::FaultProxy proxy(zkt::hosts());
  zk::Session s(through(proxy, 6s));
  TimedStates states(s);
  const auto id = s.session_id();
  proxy.refuse(true);
  EXPECT_EQ(proxy.reset_all(), 1u);
  ASSERT_TRUE(states.first(zk::SessionState::suspended, 5s)) << states.history();
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(s.state(), zk::SessionState::suspended) << "reconnected through a refusing proxy";
  EXPECT_EQ(proxy.connections(), 0u);
  proxy.refuse(false);
  ASSERT_TRUE(states.first(zk::SessionState::reconnected, 10s)) << states.history();
  EXPECT_EQ(s.session_id(), id);
  EXPECT_NO_THROW(s.sync("/", 5s));
}

// --- F8: all client links black-holed
// -------------------------------------------------------------

TEST(F8Blackhole, HalfTheSessionTimeoutLosesNothing) {
  auto rng = rng_for_test();
  zkt::FaultProxy proxy(zkt::hosts());
  zkt::RootGuard root("f8-half");
  zk::Session s(through(proxy, pick(rng, {2000ms, 3000ms, 4000ms})));
  TimedStates states(s);
  const milliseconds timeout = s.negotiated_timeout();
  const auto eph = s.create(root.path() + "/eph", "", zk::CreateMode::ephemeral);
  const auto id = s.session_id();

  const milliseconds phase = up_to(rng, timeout / 3); // anywhere in the client's ping cycle
  std::this_thread::sleep_for(phase);
  {
    Heal heal{proxy};
    proxy.blackhole(true);
    std::this_thread::sleep_for(timeout / 2);
  }
  // The client may notice the silence only after the heal (its read timeout is 2/3 of the session
  // timeout), then reconnect: give it a whole timeout, then it must be usable on the same session.
  std::this_thread::sleep_for(timeout);
  ASSERT_TRUE(zkt::wait_until([&] { return usable(s.state()); }, 10s)) << states.history();
  EXPECT_NO_THROW(s.sync("/", 5s));
  EXPECT_EQ(s.session_id(), id);
  EXPECT_TRUE(root.session().exists(eph.path))
      << "the ephemeral node vanished: the session expired";
  for (const auto& e : states.items()) {
    EXPECT_TRUE(e.state == zk::SessionState::suspended || e.state == zk::SessionState::reconnected)
        << "unexpected " << zk::to_string(e.state) << "; history: " << states.history();
    EXPECT_EQ(e.session_id, id);
  }
  EXPECT_GT(proxy.stats().frames_blackholed, 0u)
      << "the black hole saw no traffic: nothing was tested";
  std::cout << "[ timing   ] session timeout " << timeout.count() << " ms, black hole "
            << (timeout / 2).count() << " ms after " << phase.count()
            << " ms; states: " << states.history() << '\n';
}

struct CallRecord {
  std::string what;
  milliseconds deadline;
  milliseconds took;
  zk::Errc error;
  bool returned = false; // returned a value (a MultiResult) instead of throwing
};

TEST(F8Blackhole, TwiceTheSessionTimeoutReportsLostBeforeTheHealAndCallsKeepTheirDeadlines) {
  auto rng = rng_for_test();
  zkt::FaultProxy proxy(zkt::hosts());
  zkt::RootGuard root("f8-twice");
  auto o = through(proxy, pick(rng, {2000ms, 3000ms, 4000ms}));
  o.operation_timeout = o.session_timeout; // default deadlines are exercised too
  zk::Session s(o);
  TimedStates states(s);
  const milliseconds timeout = s.negotiated_timeout();
  const auto eph = s.create(root.path() + "/eph", "", zk::CreateMode::ephemeral);
  const auto id = s.session_id();

  std::this_thread::sleep_for(up_to(rng, timeout / 3));
  const auto t0 = Clock::now();
  const auto heal_at = t0 + 2 * timeout;
  std::optional<Timed> lost;
  std::vector<CallRecord> calls;
  {
    Heal heal{proxy};
    proxy.blackhole(true);
    // Blocking calls during the partition, each with a deadline that ends before the heal.
    auto worker = std::async(std::launch::async, [&] {
      std::vector<CallRecord> out;
      const std::string p = root.path() + "/eph";
      for (int i = 0; out.size() < 64; ++i) {
        const milliseconds d = timeout / 4 + up_to(rng, timeout / 4);
        const int kind = (i + 5) % 6; // the default-deadline call (kind 5, the longest) goes first
        const bool use_default = kind == 5;
        const milliseconds expect = use_default ? o.operation_timeout : d;
        if (Clock::now() + expect + 300ms > heal_at) break;
        const zk::Deadline dl = use_default ? zk::Deadline{} : zk::Deadline{d};
        CallRecord r{"", expect, 0ms, zk::Errc::ok, false};
        const auto start = Clock::now();
        try {
          switch (kind) {
          case 0:
            r.what = "get";
            s.get(p, dl);
            break;
          case 1:
            r.what = "create";
            s.create(p + "-" + std::to_string(i), "", {}, dl);
            break;
          case 2:
            r.what = "set";
            s.set(p, "x", zk::any_version, dl);
            break;
          case 3: {
            r.what = "multi";
            const auto res = s.multi({zk::Op::check(p), zk::Op::set(p, "y")}, dl);
            r.returned = true; // no server could answer: this must have thrown
            r.error = res.error;
            break;
          }
          case 4:
            r.what = "sync";
            s.sync("/", dl);
            break;
          default:
            r.what = "exists(default deadline)";
            s.exists(p, dl);
            break;
          }
        } catch (const zk::Error& e) {
          r.error = e.errc();
        }
        r.took = std::chrono::duration_cast<milliseconds>(Clock::now() - start);
        out.push_back(r);
      }
      return out;
    });
    lost = states.first(zk::SessionState::lost,
                        std::chrono::duration_cast<milliseconds>(heal_at - Clock::now()));
    ASSERT_EQ(worker.wait_until(heal_at + 2s), std::future_status::ready)
        << "a blocking call did not return by its deadline (hang)";
    calls = worker.get();
    std::this_thread::sleep_until(heal_at);
  }

  ASSERT_TRUE(lost) << "no `lost` before the heal after " << 2 * timeout.count()
                    << " ms of silence; history: " << states.history();
  EXPECT_LT(lost->at, heal_at);
  EXPECT_EQ(lost->session_id, id);
  EXPECT_LE(lost->at - t0, timeout * 5 / 3 + 500ms) << "the local timer fired late";
  EXPECT_GE(calls.size(), 3u);
  std::map<std::string, int> seen;
  for (const auto& c : calls) {
    ++seen[c.what + (c.returned ? " returned " : " threw ") + zk::to_string(c.error)];
    EXPECT_FALSE(c.returned) << c.what << " returned a result with error " << zk::to_string(c.error)
                             << " instead of throwing: no server could have answered it";
    // operation_timeout is the C client's code for "the connection timed out"; the library passes
    // it on. Like the other two it is retryable and indeterminate.
    EXPECT_TRUE(c.error == zk::Errc::deadline_exceeded || c.error == zk::Errc::connection_loss ||
                c.error == zk::Errc::operation_timeout)
        << c.what << " ended with " << zk::to_string(c.error) << " during the partition";
    EXPECT_TRUE(zk::make_error_code(c.error) == zk::Condition::retryable) << zk::to_string(c.error);
    EXPECT_LE(c.took, c.deadline + 250ms) << c.what << " overran its deadline";
  }
  std::cout << "[ timing   ] session timeout " << timeout.count() << " ms; lost at +"
            << std::chrono::duration_cast<milliseconds>(lost->at - t0).count() << " ms; heal at +"
            << 2 * timeout.count() << " ms; calls:";
  for (const auto& entry : seen)
    std::cout << " [" << entry.first << " x" << entry.second << "]";
  std::cout << '\n';

  // After the heal the server has expired the session: the client learns it and renews.
  ASSERT_TRUE(states.wait(
      [&](const std::vector<Timed>& v) {
        return !v.empty() && v.back().state == zk::SessionState::connected &&
               v.back().session_id != id;
      },
      3 * timeout + 10s))
      << states.history();
  EXPECT_TRUE(zkt::wait_until([&] { return !root.session().exists(eph.path); }, 5s))
      << "the old session's ephemeral node outlived it";
  EXPECT_NO_THROW(s.create(root.path() + "/after", "", zk::CreateMode::ephemeral, 5s));
}

// --- F7 (session level): the reply is lost after the server applied the write --------------------

class LostReply : public ::testing::Test {
protected:
  zkt::FaultProxy proxy{zkt::hosts()};
  zkt::RootGuard root{"f7"};
  zk::Session s{through(proxy, 6s)};
  TimedStates states{s};
  std::int64_t id = s.session_id();
  std::string path = root.path() + "/node";

  // Runs the write, which must fail as indeterminate connection loss after the proxy dropped
  // exactly one reply of `op_type` that the server had answered with ok.
  template <class Write> void expect_lost_reply(std::int32_t op_type, Write&& write) {
    proxy.drop_reply_after_apply(op_type);
    const auto start = Clock::now();
    try {
      write();
      ADD_FAILURE() << "the write succeeded although its reply was dropped";
    } catch (const zk::Error& e) {
      EXPECT_EQ(e.errc(), zk::Errc::connection_loss) << e.what();
      EXPECT_TRUE(e.code() == zk::Condition::indeterminate) << e.what();
      EXPECT_TRUE(e.is_indeterminate());
    }
    EXPECT_LT(Clock::now() - start, 5s);
    ASSERT_TRUE(proxy.wait_for_drops(1, 2s));
    const auto drops = proxy.dropped();
    ASSERT_EQ(drops.size(), 1u);
    EXPECT_EQ(drops[0].op_type, op_type);
    EXPECT_EQ(drops[0].err, 0) << "the server refused the write: nothing was applied";
    EXPECT_GT(drops[0].zxid, 0);
    // The session itself survives: the client reconnects through another link.
    ASSERT_TRUE(states.first(zk::SessionState::reconnected, 15s)) << states.history();
    EXPECT_EQ(s.session_id(), id);
  }
};

TEST_F(LostReply, Create2IsIndeterminateYetTheNodeExists) {
  expect_lost_reply(zkt::opcode::create2, [&] { s.create(path, "payload", {}, 10s); });
  const auto node = root.session().get(path);
  ASSERT_TRUE(node) << "the proxy dropped the reply of a create that was not applied";
  EXPECT_EQ(node->data, "payload");
  EXPECT_TRUE(s.exists(path, 5s));
  EXPECT_THROW(s.create(path, "again", {}, 5s), zk::Error); // a blind retry would conflict
}

TEST_F(LostReply, SetDataIsIndeterminateYetApplied) {
  root.session().create(path, "v1");
  expect_lost_reply(zkt::opcode::set_data, [&] { s.set(path, "v2", 0, 10s); });
  const auto node = root.session().get(path);
  ASSERT_TRUE(node);
  EXPECT_EQ(node->data, "v2");
  EXPECT_EQ(node->stat.version, 1);
  try { // retrying with the version read before is refused: the first write did happen
    s.set(path, "v3", 0, 5s);
    ADD_FAILURE() << "a retry at the old version was accepted";
  } catch (const zk::Error& e) {
    EXPECT_EQ(e.errc(), zk::Errc::bad_version) << e.what();
  }
}

TEST_F(LostReply, DeleteIsIndeterminateYetApplied) {
  root.session().create(path, "v1");
  expect_lost_reply(zkt::opcode::remove, [&] { s.remove(path, 0, 10s); });
  EXPECT_FALSE(root.session().exists(path));
  EXPECT_FALSE(s.remove(path, 0, 5s)); // the retry finds nothing to delete
}

TEST_F(LostReply, MultiIsIndeterminateYetApplied) {
  root.session().create(path, "v1");
  expect_lost_reply(zkt::opcode::multi, [&] {
    const auto r = s.multi({zk::Op::check(path, 0), zk::Op::set(path, "m", 0)}, 10s);
    // A MultiResult means "the server answered and refused an op"; here no answer arrived.
    ADD_FAILURE() << "multi returned a MultiResult (error " << zk::to_string(r.error)
                  << ", failed_op " << r.failed_op()
                  << ") instead of throwing: a lost reply looks like a refusal";
    throw zk::Error(r.error, "multi (returned as a result)");
  });
  const auto node = root.session().get(path);
  ASSERT_TRUE(node);
  EXPECT_EQ(node->data, "m");
  EXPECT_EQ(node->stat.version, 1);
}

} // namespace
