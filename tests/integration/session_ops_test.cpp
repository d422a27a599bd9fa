// Every Session operation against the real 3-node ensemble, under a private root per test.
#include "support/ensemble.hpp"
#include "support/processes.hpp"
#include "support/recorder.hpp"

#include <gtest/gtest.h>

#include <zkrecipes/zkrecipes.hpp>

#include <atomic>
#include <functional>
#include <future>

using namespace std::chrono_literals;

namespace {

class SessionOps : public ::testing::Test {
protected:
  zkt::RootGuard root{"ops"};
  zk::Session& s = root.session();
  std::string p(const std::string& leaf) const { return root.path() + "/" + leaf; }
};

TEST_F(SessionOps, CreateGetSetRemoveRoundTrip) {
  const auto created = s.create(p("a"), "hello");
  EXPECT_EQ(created.path, p("a"));
  EXPECT_GT(created.stat.czxid, 0);
  EXPECT_EQ(created.stat.version, 0);

  auto got = s.get(p("a"));
  ASSERT_TRUE(got);
  EXPECT_EQ(got->data, "hello");
  EXPECT_EQ(got->stat.czxid, created.stat.czxid);

  const auto st = s.set(p("a"), std::string("bin\0ary", 7), 0);
  EXPECT_EQ(st.version, 1);
  EXPECT_EQ(s.get(p("a"))->data, std::string("bin\0ary", 7));

  try {
    s.set(p("a"), "stale", 0);
    FAIL() << "a stale version was accepted";
  } catch (const zk::Error& e) {
    EXPECT_EQ(e.errc(), zk::Errc::bad_version);
    EXPECT_TRUE(e.is_conflict());
    EXPECT_NE(std::string(e.what()).find(p("a")), std::string::npos) << e.what();
  }
  EXPECT_THROW(s.remove(p("a"), 0), zk::Error); // wrong version
  EXPECT_TRUE(s.remove(p("a"), 1));
  EXPECT_FALSE(s.remove(p("a")));
  EXPECT_FALSE(s.get(p("a")));
  EXPECT_FALSE(s.exists(p("a")));
}

TEST_F(SessionOps, CreateConflictsAndPreconditionsAreTyped) {
  s.create(p("x"));
  try {
    s.create(p("x"));
    FAIL();
  } catch (const zk::Error& e) {
    EXPECT_EQ(e.errc(), zk::Errc::node_exists);
  }
  try {
    s.create(p("missing/child"));
    FAIL();
  } catch (const zk::Error& e) {
    EXPECT_EQ(e.errc(), zk::Errc::no_node);
    EXPECT_EQ(e.code(), zk::Condition::precondition);
  }
  s.create(p("x/y"));
  try {
    s.remove(p("x"));
    FAIL();
  } catch (const zk::Error& e) {
    EXPECT_EQ(e.errc(), zk::Errc::not_empty);
  }
}

TEST_F(SessionOps, SequentialEphemeralContainerAndTtlModes) {
  const auto a = s.create(p("seq-"), "", zk::CreateMode::persistent_sequential);
  const auto b = s.create(p("seq-"), "", zk::CreateMode::persistent_sequential);
  EXPECT_EQ(a.path.size(), p("seq-").size() + 10);
  EXPECT_LT(a.path, b.path);

  const auto e = s.create(p("eph"), "", zk::CreateMode::ephemeral_sequential);
  EXPECT_EQ(s.exists(e.path)->ephemeral_owner, s.session_id());

  s.create(p("box"), "", zk::CreateMode::container);
  s.create(p("box/item"));
  s.remove(p("box/item"));
  // The test ensemble checks containers every second: the emptied container goes by itself.
  EXPECT_TRUE(zkt::wait_until([&] { return !s.exists(p("box")); }, 10s));

  const auto t = s.create(p("ttl"), "", {zk::CreateMode::persistent_with_ttl, 500ms});
  EXPECT_GT(t.stat.czxid, 0);
  EXPECT_THROW(s.create(p("ttl2"), "", zk::CreateMode::persistent_with_ttl), zk::Error);
}

TEST_F(SessionOps, ChildrenWithStat) {
  EXPECT_FALSE(s.children(p("none")));
  s.create(p("k"));
  for (const char* c : {"c1", "c2", "c3"})
    s.create(p("k/") + c);
  const auto kids = s.children(p("k"));
  ASSERT_TRUE(kids);
  auto names = kids->names;
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"c1", "c2", "c3"}));
  EXPECT_EQ(kids->stat.num_children, 3);
}

TEST_F(SessionOps, DataWatchFiresOnceOnChange) {
  s.create(p("w"), "0");
  zkt::Recorder<zk::WatchEvent> events;
  ASSERT_TRUE(s.get(p("w"), [&](const zk::WatchEvent& e) {
    EXPECT_TRUE(zk::Session::on_callback_thread());
    events.push(e);
  }));
  s.set(p("w"), "1");
  s.set(p("w"), "2");
  ASSERT_TRUE(events.wait_count(1, 10s));
  s.sync(p("w"));
  s.set(p("w"), "3"); // a round trip after the second change: a second firing would have arrived
  s.get(p("w"));
  EXPECT_EQ(events.items().size(), 1u);
  EXPECT_EQ(events.items()[0].type, zk::EventType::changed);
  EXPECT_EQ(events.items()[0].path, p("w"));
}

TEST_F(SessionOps, ExistsWatchFiresOnCreationAndChildWatchOnNewChild) {
  zkt::Recorder<zk::WatchEvent> created, child;
  EXPECT_FALSE(s.exists(p("later"), [&](const zk::WatchEvent& e) { created.push(e); }));
  s.create(p("later"));
  ASSERT_TRUE(created.wait_count(1, 10s));
  EXPECT_EQ(created.items()[0].type, zk::EventType::created);

  ASSERT_TRUE(s.children(p("later"), [&](const zk::WatchEvent& e) { child.push(e); }));
  s.create(p("later/kid"));
  ASSERT_TRUE(child.wait_count(1, 10s));
  EXPECT_EQ(child.items()[0].type, zk::EventType::child);
}

TEST_F(SessionOps, DeletionFiresTheDataWatchAsDeleted) {
  s.create(p("d"));
  zkt::Recorder<zk::WatchEvent> events;
  s.get(p("d"), [&](const zk::WatchEvent& e) { events.push(e); });
  s.remove(p("d"));
  ASSERT_TRUE(events.wait_count(1, 10s));
  EXPECT_EQ(events.items()[0].type, zk::EventType::deleted);
}

TEST_F(SessionOps, RemovedWatchesNeverFireAndLeaveNoServerWatch) {
  s.create(p("rw"));
  zkt::Recorder<zk::WatchEvent> events;
  s.get(p("rw"), [&](const zk::WatchEvent& e) { events.push(e); });
  s.children(p("rw"), [&](const zk::WatchEvent& e) { events.push(e); });
  EXPECT_EQ(s.remove_watches(p("rw"), zk::WatchKind::data), 1u);
  EXPECT_EQ(s.remove_watches(p("rw")), 1u);
  EXPECT_EQ(s.remove_watches(p("rw")), 0u);
  s.set(p("rw"), "x");
  s.create(p("rw/c"));
  s.sync(p("rw"));
  s.get(p("rw"));
  EXPECT_TRUE(events.items().empty());
}

TEST_F(SessionOps, MultiCommitsAllOrNothingWithPerOpResults) {
  s.create(p("m"), "v0");
  auto ok = s.multi({zk::Op::check(p("m"), 0), zk::Op::create(p("m/a"), "x"),
                     zk::Op::set(p("m"), "v1", 0),
                     zk::Op::create(p("m/s-"), "", zk::CreateMode::persistent_sequential)});
  ASSERT_TRUE(ok.ok()) << zk::to_string(ok.error);
  ASSERT_EQ(ok.results.size(), 4u);
  EXPECT_EQ(ok.results[1].path, p("m/a"));
  ASSERT_TRUE(ok.results[2].stat);
  EXPECT_EQ(ok.results[2].stat->version, 1);
  EXPECT_EQ(ok.results[3].path.size(), p("m/s-").size() + 10);

  auto refused =
      s.multi({zk::Op::create(p("m/b")), zk::Op::check(p("m"), 0), zk::Op::remove(p("m/a"))});
  EXPECT_FALSE(refused.ok());
  EXPECT_EQ(refused.error, zk::Errc::bad_version);
  EXPECT_EQ(refused.failed_op(), 1u);
  EXPECT_FALSE(s.exists(p("m/b"))); // nothing of it was applied
  EXPECT_TRUE(s.exists(p("m/a")));
}

TEST_F(SessionOps, EnsurePathCreatesAncestorsAndToleratesExisting) {
  s.ensure_path(p("e/f/g"));
  EXPECT_TRUE(s.exists(p("e/f/g")));
  EXPECT_NO_THROW(s.ensure_path(p("e/f/g")));
  EXPECT_NO_THROW(s.ensure_path(p("e")));
}

TEST_F(SessionOps, AsyncCallsCompleteOnTheCallbackThread) {
  std::promise<zk::Result<zk::Created>> created;
  s.create_async(p("async"), "v", zk::CreateMode::persistent,
                 [&](zk::Result<zk::Created> r) { created.set_value(std::move(r)); });
  auto c = created.get_future();
  ASSERT_EQ(c.wait_for(10s), std::future_status::ready);
  auto cr = c.get();
  ASSERT_TRUE(cr.ok());
  EXPECT_EQ(cr.value().path, p("async"));

  std::promise<std::pair<bool, std::string>> got;
  s.get_async(p("async"), [&](zk::Result<zk::NodeData> r) {
    got.set_value({zk::Session::on_callback_thread(), r.ok() ? r.value().data : ""});
  });
  auto g = got.get_future();
  ASSERT_EQ(g.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(g.get(), std::make_pair(true, std::string("v")));

  std::promise<zk::Errc> missing;
  s.get_async(p("nope"), [&](zk::Result<zk::NodeData> r) { missing.set_value(r.error()); });
  auto m = missing.get_future();
  ASSERT_EQ(m.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(m.get(), zk::Errc::no_node);
}

TEST_F(SessionOps, BlockingCallsAndCloseFromTheCallbackThreadAreRefused) {
  std::promise<std::pair<zk::Errc, zk::Errc>> seen;
  s.sync_async(root.path(), [&](zk::Result<zk::Done>) {
    zk::Errc blocking = zk::Errc::ok, closing = zk::Errc::ok;
    try {
      s.get(root.path());
    } catch (const zk::Error& e) {
      blocking = e.errc();
    }
    try {
      s.close();
    } catch (const zk::Error& e) {
      closing = e.errc();
    }
    seen.set_value({blocking, closing});
  });
  auto f = seen.get_future();
  ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(f.get(), std::make_pair(zk::Errc::wrong_thread, zk::Errc::wrong_thread));
  EXPECT_NO_THROW(s.get(root.path())); // the session is still fine
}

TEST_F(SessionOps, BadInputIsRefusedBeforeAnythingIsSent) {
  const auto expect_invalid = [](auto&& fn, const std::string& mention) {
    try {
      fn();
      FAIL() << "accepted";
    } catch (const zk::Error& e) {
      EXPECT_EQ(e.errc(), zk::Errc::invalid_argument) << e.what();
      EXPECT_NE(std::string(e.what()).find(mention), std::string::npos) << e.what();
    }
  };
  expect_invalid([&] { s.get("relative"); }, "relative");
  expect_invalid([&] { s.create(p("a//b")); }, "//");
  expect_invalid([&] { s.set(p("x/"), ""); }, "end with");
  expect_invalid([&] { s.exists(p("..")); }, "..");
  expect_invalid([&] { s.get(root.path(), {}, 0ms); }, "timeout must be positive");
  expect_invalid([&] { s.get(root.path(), {}, -1s); }, "timeout must be positive");
  expect_invalid([&] { (void)s.multi({}); }, "no operations");
  EXPECT_TRUE(s.exists(root.path())); // still connected and usable
}

TEST_F(SessionOps, OversizedRequestsAreRefusedBeforeTheServerDropsTheConnection) {
  std::atomic<int> suspensions{0};
  const auto id = s.add_listener([&](const zk::SessionEvent& e) {
    if (e.state == zk::SessionState::suspended) ++suspensions;
  });
  const std::size_t limit = zk::SessionOptions{}.max_request_size;
  int line = 0;
  const auto expect_refused = [&](auto&& fn) {
    ++line;
    try {
      fn();
      ADD_FAILURE() << "oversized request " << line << " was sent";
    } catch (const zk::Error& e) {
      EXPECT_EQ(e.errc(), zk::Errc::invalid_argument) << e.what();
      EXPECT_FALSE(e.is_retryable());
      EXPECT_NE(std::string(e.what()).find("max_request_size"), std::string::npos) << e.what();
    }
  };
  // Each of these reached the server, which dropped the connection: a retryable connection_loss.
  const std::string mib(std::size_t{1} << 20, 'x');
  expect_refused([&] { s.create(p("mib"), mib); });
  expect_refused([&] { s.create(p("mib-1"), mib.substr(1)); });
  expect_refused([&] { s.set(root.path(), mib.substr(1)); });
  expect_refused([&] {
    (void)s.multi({zk::Op::set(root.path(), mib.substr(0, limit / 2)),
                   zk::Op::create(p("m"), mib.substr(0, limit / 2))});
  });
  const std::string long_path = "/" + std::string(std::size_t{2} << 20, 'p');
  expect_refused([&] { (void)s.get(long_path); });
  expect_refused([&] { (void)s.exists(long_path); });
  expect_refused([&] { s.remove(long_path); });
  zk::LockOptions big_node;
  big_node.node_data = mib.substr(1);
  expect_refused([&] { zk::DistributedLock lock(s, p("lock"), big_node); });

  // The largest create that fits is sent and stored: the limit is the server's, framing included
  // (header, path, data, the ACL and flags), not a guess below it.
  const std::string path = p("largest");
  const std::size_t acl = 4 + 4 + (4 + 5) + (4 + 6); // [{31, "world", "anyone"}]
  const std::size_t largest = limit - (8 + (4 + path.size()) + 4 + acl + 4);
  s.create(path, mib.substr(0, largest));
  EXPECT_EQ(s.get(path)->stat.data_length, static_cast<std::int32_t>(largest));
  const std::size_t largest_set = limit - (8 + (4 + path.size()) + 4 + 4); // no ACL in a set
  s.set(path, mib.substr(0, largest_set));
  EXPECT_EQ(s.get(path)->stat.data_length, static_cast<std::int32_t>(largest_set));
  expect_refused([&] { s.set(path, mib.substr(0, largest_set + 1)); });
  expect_refused([&] { s.create(p("largest2"), mib.substr(0, largest + 1)); });
  s.remove(path);
  EXPECT_EQ(suspensions.load(), 0) << "a request made the server drop the connection";
  s.remove_listener(id);
}

TEST_F(SessionOps, DeadlineInThePastFailsTyped) {
  try {
    s.get(root.path(), {}, zk::Clock::now() - 1s);
    FAIL();
  } catch (const zk::Error& e) {
    EXPECT_EQ(e.errc(), zk::Errc::deadline_exceeded);
    EXPECT_EQ(e.code(), zk::Condition::timeout);
  }
}

TEST(SessionLifecycle, UseAfterCloseIsTypedAndEphemeralsGoAtOnce) {
  zkt::RootGuard root("close");
  zk::Session s(zkt::options());
  const auto eph = s.create(root.path() + "/eph", "", zk::CreateMode::ephemeral);
  s.close();
  s.close(); // idempotent
  EXPECT_EQ(s.state(), zk::SessionState::closed);
  try {
    s.get(root.path());
    FAIL();
  } catch (const zk::Error& e) {
    EXPECT_EQ(e.errc(), zk::Errc::session_closed);
  }
  EXPECT_THROW(s.create_async(root.path() + "/x", "", {}, [](zk::Result<zk::Created>) {}),
               zk::Error);
  // Another session's server may lag behind the leader that applied the close: sync it first.
  root.session().sync(eph.path);
  EXPECT_FALSE(root.session().exists(eph.path));
}

TEST(SessionLifecycle, ChrootScopesAllPaths) {
  zkt::RootGuard root("chroot");
  auto o = zkt::options();
  o.chroot = root.path();
  zk::Session s(o);
  s.create("/inside", "x");
  EXPECT_EQ(zkt::data_of(root.session(), root.path() + "/inside"), "x");
}

TEST(SessionLifecycle, DigestAuthProtectsNodes) {
  zkt::RootGuard root("auth");
  auto o = zkt::options();
  o.digest = zk::DigestAuth{"alice", "secret"};
  zk::Session s(o);
  EXPECT_TRUE(s.exists(root.path())); // the credentials were accepted
}

TEST(SessionLifecycle, LogSinkReceivesTheCClientLog) {
  zkt::Recorder<std::string> lines;
  auto o = zkt::options();
  o.log_level = zk::LogLevel::info;
  o.log_sink = [&](zk::LogLevel, std::string_view m) { lines.push(std::string(m)); };
  { zk::Session s(o); }
  EXPECT_TRUE(lines.wait_count(1, 1s)); // the C client logs its connection at info level
}

} // namespace

namespace {

using zkt::code_of;

// One moved-from state for every handle: empty accessors, invalid_argument for everything else.
// NOLINTBEGIN(bugprone-use-after-move)
TEST(MovedFrom, EveryHandleIsEmptyAndRefusesCallsAlike) {
  zkt::RootGuard root("moved");
  zk::Session original(zkt::options());
  zk::Session taken(std::move(original));
  EXPECT_EQ(code_of([&] { (void)original.get(root.path()); }), zk::Errc::invalid_argument);
  EXPECT_EQ(code_of([&] { zk::DistributedLock l(original, root.path() + "/l"); }),
            zk::Errc::invalid_argument);
  EXPECT_EQ(code_of([&] { zk::DistributedCounter c(original, root.path() + "/c"); }),
            zk::Errc::invalid_argument);

  zk::DistributedCounter counter(taken, root.path() + "/c");
  zk::DistributedCounter counter2(std::move(counter));
  EXPECT_EQ(counter.path(), "");
  EXPECT_EQ(counter.options().codec, zk::CounterCodec::int64_be);
  EXPECT_EQ(code_of([&] { (void)counter.increment(); }), zk::Errc::invalid_argument);

  zk::ShardedCounter sharded(taken, root.path() + "/s");
  zk::ShardedCounter sharded2(std::move(sharded));
  EXPECT_EQ(sharded.path(), "");
  EXPECT_EQ(sharded.shards(), 0U);
  EXPECT_EQ(code_of([&] { sharded.increment(); }), zk::Errc::invalid_argument);

  zk::DistributedLock lock(taken, root.path() + "/l");
  zk::DistributedLock lock2(std::move(lock));
  EXPECT_EQ(lock.path(), "");
  EXPECT_FALSE(lock.owns_lock());
  EXPECT_EQ(code_of([&] { (void)lock.try_lock(); }), zk::Errc::invalid_argument);

  EXPECT_EQ(counter2.increment(), 1); // the moved-to objects work
  EXPECT_TRUE(lock2.try_lock());
  lock2.unlock();
}
// NOLINTEND(bugprone-use-after-move)

} // namespace
