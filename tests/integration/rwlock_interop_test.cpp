// ReadWriteLock with Debian's Curator 5.4 (InterProcessReadWriteLock) and Kazoo 2.8 (WriteLock,
// ReadLock) on one path: 1,000 mixed acquisitions of four processes of ours and a peer under the
// checker, a Curator writer kept out by our downgrade, and readers of both sides holding together.
#include "rwlock_harness.hpp"

#include <gtest/gtest.h>

#include <future>

using namespace std::chrono_literals;

namespace {

using zkt::Child;

std::vector<std::string> curator(const std::vector<std::string>& args) {
  return zkt::peer("CuratorRwPeer", "ZKR_CURATOR_RW_PEER", args);
}
std::vector<std::string> kazoo(const std::vector<std::string>& args) {
  return zkt::python_peer("kazoo_rw_peer.py", args);
}

class RwInterop : public ::testing::Test {
protected:
  zkt::RootGuard root{"rwlock-interop"};
  const std::string path = root.path() + "/lock";

  RwInterop() { root.session().create(path, ""); } // persistent: Kazoo 2.8 and reaped containers

  // Four of our processes (two threads each, 100 acquisitions per thread, 30 % writes) and one
  // peer with `peer_count` acquisitions: 1,000 in all.
  void mixed_run(const std::string& profile, std::vector<std::string> peer_argv) {
    zkt::Contenders all;
    for (int i = 0; i < 4; ++i)
      all.add(zkt::rw::worker({"contend", zkt::hosts(), path, profile, "2", "100", "1000", "30"}));
    all.add(peer_argv);
    ASSERT_TRUE(all.start());
    const auto holds = all.finish(300s);
    EXPECT_EQ(holds.size(), 1000U);
    const auto r = zkt::check_read_write(holds);
    EXPECT_TRUE(r.ok()) << r.explain();
    EXPECT_GT(zkt::max_concurrent_readers(holds), 1U) << "readers were serialised";
    EXPECT_TRUE(zkt::wait_until([&] { return zkt::children(root.session(), path).empty(); }, 10s))
        << "a node was left behind";
  }
};

TEST_F(RwInterop, OursAndACuratorContenderMixReadersAndWriters) {
  mixed_run("curator", curator({zkt::hosts(), path, "contend", "200", "1000", "30"}));
}

// Kazoo 2.8 readers deadlock against later writers (kazoo#649): its contender only writes.
TEST_F(RwInterop, OursAndAKazooWriterMixOnAKazooProfilePath) {
  mixed_run("kazoo", kazoo({zkt::hosts(), path, "contend", "200", "1000"}));
}

TEST_F(RwInterop, ACuratorWriterQueuedBehindOurDowngradeWaitsUntilWeStopReading) {
  zk::ReadWriteLock rw(root.session(), path);
  ASSERT_TRUE(rw.writer().try_lock_for(5s));
  Child peer(curator({zkt::hosts(), path, "try-write", "20000"}));
  ASSERT_EQ(peer.wait_for("READY", 60s), "READY");
  ASSERT_TRUE(
      zkt::wait_until([&] { return zkt::children(root.session(), path).size() == 2; }, 10s));
  rw.writer().downgrade();
  std::string line;
  EXPECT_FALSE(peer.read_line(line, 1500ms)) << "Curator wrote while we read: " << line;
  rw.reader().unlock_shared();
  EXPECT_EQ(peer.wait_for("ACQUIRED", 10s).substr(0, 8), "ACQUIRED");
  EXPECT_EQ(peer.wait(10s), 0);
}

TEST_F(RwInterop, ACuratorReaderAndOursReadTogetherAndKeepOurWriterOut) {
  Child peer(curator({zkt::hosts(), path, "hold-read"}));
  ASSERT_EQ(peer.wait_for("READY", 60s), "READY");
  ASSERT_EQ(peer.wait_for("HELD", 10s).substr(0, 4), "HELD");
  zk::ReadWriteLock rw(root.session(), path);
  ASSERT_TRUE(rw.reader().try_lock_shared_for(5s));
  rw.reader().unlock_shared();
  EXPECT_FALSE(rw.writer().try_lock_for(300ms)) << "we wrote while Curator read";
  peer.write_line("release");
  EXPECT_EQ(peer.wait_for("RELEASED", 10s), "RELEASED");
  ASSERT_TRUE(rw.writer().try_lock_for(5s));
  rw.writer().unlock();
}

TEST_F(RwInterop, AKazooReaderAndOursReadTogetherAndKeepOurWriterOut) {
  Child peer(kazoo({zkt::hosts(), path, "hold-read"}));
  ASSERT_EQ(peer.wait_for("READY", 60s), "READY");
  ASSERT_EQ(peer.wait_for("HELD", 10s).substr(0, 4), "HELD");
  zk::ReadWriteLockOptions o;
  o.profile = zk::ReadWriteProfile::kazoo;
  zk::ReadWriteLock rw(root.session(), path, o);
  ASSERT_TRUE(rw.reader().try_lock_shared_for(5s));
  rw.reader().unlock_shared();
  EXPECT_FALSE(rw.writer().try_lock_for(300ms)) << "we wrote while Kazoo read";
  peer.write_line("release");
  EXPECT_EQ(peer.wait_for("RELEASED", 10s), "RELEASED");
  ASSERT_TRUE(rw.writer().try_lock_for(5s));
  rw.writer().unlock();
}

} // namespace
