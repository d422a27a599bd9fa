// zk::DistributedCounter's asynchronous updates against the real ensemble: many at once from one
// thread among other writers, exact; compare-and-exchange rounds; the completion's forms and
// threads; cancellation, deadlines, a closed session, a counter destroyed while they are pending.
#include <zkrecipes/distributed_counter.hpp>

#include "support/ensemble.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <limits>
#include <mutex>
#include <set>
#include <thread>

using namespace std::chrono_literals;

namespace {

using zkt::code_of;
using zkt::settled;

zk::CounterOptions patient() {
  zk::CounterOptions o;
  o.retry.max_attempts = 100000;
  o.retry.timeout = 60s;
  return o;
}

// What the completions of many asynchronous updates reported.
struct Results {
  std::mutex m;
  std::condition_variable cv;
  int done = 0;
  std::vector<zk::AddResult> ok;
  std::vector<std::error_code> errors;
  bool inline_run = false; // a completion ran on the thread that started it

  zk::AddHandler handler(std::thread::id caller) {
    return [this, caller](std::error_code ec, zk::AddResult r) {
      std::lock_guard<std::mutex> lock(m);
      inline_run = inline_run || std::this_thread::get_id() == caller;
      if (ec) {
        errors.push_back(ec);
      } else {
        ok.push_back(r);
      }
      ++done;
      cv.notify_all();
    };
  }
  bool wait_for(int n, std::chrono::seconds limit) {
    std::unique_lock<std::mutex> lock(m);
    return cv.wait_for(lock, limit, [&] { return done >= n; });
  }
};

TEST(CounterAsync, ManyAtOnceFromOneThreadAmongOtherWritersCountEachUpdateOnce) {
  zkt::RootGuard root("counter-async-many");
  const std::string path = root.path() + "/c";
  zk::Session other(zkt::options());
  zk::Session blocking(zkt::options());
  zk::DistributedCounter a(root.session(), path, patient());
  zk::DistributedCounter b(other, path, patient());
  zk::DistributedCounter c(blocking, path, patient());
  constexpr int per_object = 40;
  constexpr int blocking_adds = 100;
  std::vector<std::int64_t> blocking_afters;
  std::thread writer([&] {
    for (int i = 0; i < blocking_adds; ++i)
      blocking_afters.push_back(c.increment());
  });
  Results results;
  const auto me = std::this_thread::get_id();
  for (int i = 0; i < per_object; ++i) {
    a.async_add(1, results.handler(me));
    b.async_add(1, results.handler(me));
  }
  ASSERT_TRUE(results.wait_for(2 * per_object, 120s));
  writer.join();

  std::lock_guard<std::mutex> lock(results.m);
  ASSERT_TRUE(results.errors.empty()) << results.errors.front().message();
  EXPECT_FALSE(results.inline_run) << "a completion ran inside the call that started it";
  std::set<std::int64_t> afters(blocking_afters.begin(), blocking_afters.end());
  int contended = 0;
  for (const auto& r : results.ok) {
    EXPECT_EQ(r.after, r.before + 1);
    afters.insert(r.after);
    contended += r.attempts > 1 ? 1 : 0;
  }
  constexpr int total = 2 * per_object + blocking_adds;
  // Every update saw its own value: 1..total, each exactly once.
  EXPECT_EQ(afters.size(), static_cast<std::size_t>(total));
  EXPECT_EQ(*afters.begin(), 1);
  EXPECT_EQ(*afters.rbegin(), total);
  EXPECT_EQ(c.get(), total);
  EXPECT_GT(contended, 0) << "no update met a conflict: the test proved nothing about retries";
}

TEST(CounterAsync, CompareAndExchangeHasOneWinnerPerRound) {
  zkt::RootGuard root("counter-async-cas");
  const std::string path = root.path() + "/c";
  zk::Session s2(zkt::options());
  zk::Session s3(zkt::options());
  std::vector<std::unique_ptr<zk::DistributedCounter>> counters;
  for (zk::Session* s : {&root.session(), &s2, &s3}) {
    for (int i = 0; i < 2; ++i)
      counters.push_back(std::make_unique<zk::DistributedCounter>(*s, path));
  }
  for (std::int64_t round = 0; round < 5; ++round) {
    std::vector<std::future<zk::CasResult>> answers;
    answers.reserve(counters.size());
    for (auto& c : counters)
      answers.push_back(c->async_compare_and_exchange(round, round + 1));
    int winners = 0;
    for (auto& f : answers) {
      const auto r = settled(std::move(f));
      winners += r.swapped ? 1 : 0;
      EXPECT_EQ(r.after, round + 1);
      if (!r.swapped) {
        EXPECT_EQ(r.before, round + 1) << "a loser must report the value it lost to";
      }
    }
    EXPECT_EQ(winners, 1) << "round " << round;
  }
  EXPECT_EQ(counters.front()->get(), 5);
}

TEST(CounterAsync, FuturesExecutorsAndCallsFromTheCallbackThread) {
  zkt::RootGuard root("counter-async-forms");
  zk::DistributedCounter c(root.session(), root.path() + "/c");
  EXPECT_EQ(settled(c.async_add(5)).after, 5);

  // An executor gets the completion; it runs where the executor runs it (here, this thread).
  std::mutex m;
  std::condition_variable cv;
  std::deque<std::function<void()>> work;
  zk::Executor executor = [&](std::function<void()> w) {
    std::lock_guard<std::mutex> lock(m);
    work.push_back(std::move(w));
    cv.notify_all();
  };
  std::optional<std::thread::id> ran_on;
  std::int64_t after = 0;
  c.async_add(
      2,
      [&](std::error_code ec, zk::AddResult r) {
        EXPECT_FALSE(ec);
        ran_on = std::this_thread::get_id();
        after = r.after;
      },
      executor);
  {
    std::unique_lock<std::mutex> lock(m);
    ASSERT_TRUE(cv.wait_for(lock, 10s, [&] { return !work.empty(); }));
  }
  EXPECT_FALSE(ran_on) << "the completion must wait for the executor";
  work.front()();
  EXPECT_EQ(ran_on, std::this_thread::get_id());
  EXPECT_EQ(after, 7);

  // From a session callback (where the blocking form is refused): started there, and completed
  // there too, but later.
  Results results;
  std::atomic<bool> returned{false};
  std::atomic<bool> before_return{false};
  root.session().sync_async(root.path(), [&](zk::Result<zk::Done>) {
    auto done = results.handler(std::thread::id());
    c.async_add(1, [&, done](std::error_code ec, const zk::AddResult& r) {
      before_return = before_return || !returned;
      done(ec, r);
    });
    returned = true;
  });
  ASSERT_TRUE(results.wait_for(1, 10s));
  {
    std::lock_guard<std::mutex> lock(results.m);
    ASSERT_EQ(results.ok.size(), 1U);
    EXPECT_EQ(results.ok.front().after, 8);
    EXPECT_FALSE(before_return) << "the completion ran inside the call";
  }

  // Errors the call can tell at once are thrown by it.
  EXPECT_EQ(code_of([&] { c.async_add(1, zk::AddHandler()); }), zk::Errc::invalid_argument);
  zk::CounterOptions small;
  small.codec = zk::CounterCodec::int32_be;
  zk::DistributedCounter narrow(root.session(), root.path() + "/narrow", small);
  EXPECT_EQ(code_of([&] {
              (void)narrow.async_compare_and_exchange(0, std::numeric_limits<std::int64_t>::max());
            }),
            zk::Errc::overflow);
  zk::DistributedCounter moved(std::move(narrow));
  EXPECT_EQ(code_of([&] { (void)narrow.async_add(1); }), zk::Errc::invalid_argument); // NOLINT
  EXPECT_EQ(c.get(), 8);
}

TEST(CounterAsync, StoppedUpdatesAreTypedAndCountNothing) {
  zkt::RootGuard root("counter-async-stop");
  const std::string path = root.path() + "/c";
  zk::DistributedCounter c(root.session(), path, patient());
  (void)c.increment();
  const auto version = [&] { return root.session().get(path)->stat.version; };
  const auto before = version();

  zk::CancelToken cancelled;
  cancelled.cancel();
  try {
    (void)settled(c.async_add(1, zk::Deadline(), cancelled));
    ADD_FAILURE() << "a cancelled update succeeded";
  } catch (const zk::Error& e) {
    EXPECT_EQ(e.errc(), zk::Errc::cancelled);
  }
  // A deadline that leaves no room: what the blocking form throws, and nothing sent.
  const auto blocking = code_of([&] { (void)c.add(1, zk::Clock::now()); });
  const auto async = code_of([&] { (void)settled(c.async_add(1, zk::Clock::now())); });
  EXPECT_EQ(blocking, zk::Errc::retries_exhausted);
  EXPECT_EQ(async, blocking);
  EXPECT_EQ(version(), before) << "a stopped update wrote";

  // Cancelled right after it starts: each update either counted (ok) or did not (cancelled).
  int counted = 0;
  for (int i = 0; i < 30; ++i) {
    zk::CancelToken token;
    auto f = c.async_add(1, zk::Deadline(), token);
    token.cancel();
    try {
      (void)settled(std::move(f));
      ++counted;
    } catch (const zk::Error& e) {
      EXPECT_EQ(e.errc(), zk::Errc::cancelled) << e.what();
    }
  }
  EXPECT_EQ(c.get(), 1 + counted);

  zk::Session closing(zkt::options());
  zk::DistributedCounter on_closed(closing, path);
  closing.close();
  EXPECT_EQ(code_of([&] { (void)on_closed.async_add(1); }), zk::Errc::session_closed);
}

TEST(CounterAsync, PendingUpdatesOutliveTheirCounterAndEndWithTheSession) {
  zkt::RootGuard root("counter-async-life");
  const std::string path = root.path() + "/c";
  zk::Session other(zkt::options()); // a second writer, so that conflicts raise markers
  {
    Results results;
    auto c = std::make_unique<zk::DistributedCounter>(root.session(), path, patient());
    auto d = std::make_unique<zk::DistributedCounter>(other, path, patient());
    for (int i = 0; i < 10; ++i) {
      c->async_add(1, results.handler(std::this_thread::get_id()));
      d->async_add(1, results.handler(std::this_thread::get_id()));
    }
    c.reset(); // the updates keep what they need
    d.reset();
    ASSERT_TRUE(results.wait_for(20, 60s));
    std::lock_guard<std::mutex> lock(results.m);
    EXPECT_TRUE(results.errors.empty());
    EXPECT_EQ(results.ok.size(), 20U);
  }
  zk::DistributedCounter reader(root.session(), path);
  EXPECT_EQ(reader.get(), 20);
  // Both sessions are still open, so a marker left behind would stay.
  EXPECT_TRUE(zkt::wait_until([&] { return root.session().children(path)->names.empty(); }, 10s))
      << "a contention marker was left";

  // The session closes while updates conflict with each other: each ends, none counts twice.
  constexpr int updates = 50;
  Results results;
  int pending = 0;
  {
    zk::Session closing(zkt::options());
    zk::DistributedCounter c(closing, path, patient());
    for (int i = 0; i < updates; ++i)
      c.async_add(1, results.handler(std::this_thread::get_id()));
    ASSERT_TRUE(results.wait_for(3, 30s)); // the others are on their way
    {
      std::lock_guard<std::mutex> lock(results.m);
      pending = updates - results.done;
    }
    closing.close();
  }
  ASSERT_TRUE(results.wait_for(updates, 30s));
  std::lock_guard<std::mutex> lock(results.m);
  ASSERT_GT(pending, 0) << "every update ended before the close: the test proved nothing";
  EXPECT_FALSE(results.errors.empty()) << "updates pending at the close all succeeded";
  int indeterminate = 0;
  for (const auto& e : results.errors) {
    EXPECT_TRUE(e == zk::Errc::session_closed || e == zk::Errc::indeterminate) << e.message();
    indeterminate += e == zk::Errc::indeterminate ? 1 : 0;
  }
  root.session().sync(path);
  const auto value = reader.get();
  const auto ok = static_cast<std::int64_t>(results.ok.size());
  EXPECT_GE(value, 20 + ok) << "an acknowledged update was lost";
  EXPECT_LE(value, 20 + ok + indeterminate) << "an update counted twice";
}

} // namespace
