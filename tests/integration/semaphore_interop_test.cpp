// Semaphore with Debian's Curator 5.4 (InterProcessSemaphoreV2, fixed and SharedCount maximum) and
// Kazoo 2.8 (Semaphore): 1,000 leases of six processes of ours and a peer under the checker (never
// more than 3 at once), a SharedCount change admitting ours and keeping Curator out, a killed
// holder of ours freeing its place for a peer, and Kazoo refusing another maximum on our path.
#include "semaphore_harness.hpp"

#include <zkrecipes/semaphore.hpp>

#include <gtest/gtest.h>

#include <signal.h>

#include <future>

using namespace std::chrono_literals;

namespace {

using zkt::Child;

std::vector<std::string> curator(const std::vector<std::string>& args) {
  return zkt::peer("CuratorSemaphorePeer", "ZKR_CURATOR_SEMAPHORE_PEER", args);
}
std::vector<std::string> kazoo(const std::vector<std::string>& args) {
  return zkt::python_peer("kazoo_semaphore_peer.py", args);
}

class SemInterop : public ::testing::Test {
protected:
  zkt::RootGuard root{"semaphore-interop"};
  const std::string path = root.path() + "/pool";

  // Six of our processes (150 leases each) and one peer (100): 1,000 leases, at most 3 at once,
  // each held 20 ms (longer than an acquisition, so that holds overlap).
  void mixed_run(const std::string& profile, std::vector<std::string> peer_argv,
                 const std::string& lease_path) {
    zkt::Contenders all;
    for (int i = 0; i < 6; ++i)
      all.add(zkt::sem::worker({"contend", zkt::hosts(), path, profile, "3", "1", "150", "20000"}));
    all.add(peer_argv);
    ASSERT_TRUE(all.start());
    const auto holds = all.finish(300s);
    EXPECT_EQ(holds.size(), 1000U);
    const auto r = zkt::check_semaphore(holds, 3);
    EXPECT_TRUE(r.ok()) << r.explain();
    EXPECT_GT(zkt::max_concurrent(holds), 1U) << "the leases were serialised";
    EXPECT_TRUE(
        zkt::wait_until([&] { return zkt::children(root.session(), lease_path).empty(); }, 10s))
        << "a lease was left behind";
  }
};

TEST_F(SemInterop, OursAndACuratorContenderShareAFixedMaximum) {
  mixed_run("curator", curator({zkt::hosts(), path, "3", "contend", "100", "20000"}),
            path + "/leases");
}

TEST_F(SemInterop, OursAndAKazooContenderShareAKazooPath) {
  mixed_run("kazoo", kazoo({zkt::hosts(), path, "3", "contend", "100", "20000"}), path);
}

TEST_F(SemInterop, ASharedCountChangeAdmitsOursAndKeepsCuratorOut) {
  const std::string count = root.path() + "/size";
  root.session().create(count, std::string("\0\0\0\1", 4));
  Child holder(curator({zkt::hosts(), path, "count:" + count, "hold"}));
  ASSERT_EQ(holder.wait_for("READY", 60s), "READY");
  ASSERT_EQ(holder.wait_for("HELD", 10s).substr(0, 4), "HELD");
  zk::Semaphore pool(root.session(), path, zk::SharedMaxLeases{count});
  EXPECT_FALSE(pool.try_acquire_for(300ms)) << "a lease beyond Curator's SharedCount";
  auto waiting = std::async(std::launch::async, [&] { return pool.acquire(20s); });
  // Our lease created and still waiting after 300 ms: only the count's change can wake it.
  ASSERT_TRUE(zkt::wait_until(
      [&] { return zkt::children(root.session(), path + "/leases").size() == 2; }, 10s))
      << "ours is not waiting on the leases";
  ASSERT_EQ(waiting.wait_for(300ms), std::future_status::timeout) << "a lease beyond the count";
  root.session().set(count, std::string("\0\0\0\2", 4));
  auto lease = waiting.get();
  EXPECT_TRUE(lease.held());
  Child late(curator({zkt::hosts(), path, "count:" + count, "try", "1500"}));
  EXPECT_EQ(late.wait_for("TIMEOUT", 60s), "TIMEOUT") << "Curator took a third lease of two";
  lease.release();
  holder.write_line("release");
  EXPECT_EQ(holder.wait_for("RELEASED", 10s), "RELEASED");
}

TEST_F(SemInterop, AKilledHolderOfOursFreesItsPlaceForCurator) {
  Child ours(zkt::sem::worker({"hold", zkt::hosts(), path, "curator", "1", "2000"}));
  ASSERT_EQ(ours.wait_for("READY", 30s), "READY");
  ASSERT_EQ(ours.wait_for("HELD", 10s).substr(0, 4), "HELD");
  Child peer(curator({zkt::hosts(), path, "1", "try", "20000"}));
  ASSERT_EQ(peer.wait_for("READY", 60s), "READY");
  ours.kill(SIGKILL);
  EXPECT_EQ(peer.wait_for("ACQUIRED", 20s).substr(0, 8), "ACQUIRED");
  EXPECT_EQ(peer.wait(10s), 0);
  EXPECT_TRUE(
      zkt::wait_until([&] { return zkt::children(root.session(), path + "/leases").empty(); }, 10s))
      << "an orphan lease";
}

TEST_F(SemInterop, KazooCountsOurLeaseAndRefusesAnotherMaximum) {
  zk::SemaphoreOptions o;
  o.profile = zk::SemaphoreProfile::kazoo;
  zk::Semaphore pool(root.session(), path, 1, o);
  auto lease = pool.acquire(5s);
  Child full(kazoo({zkt::hosts(), path, "1", "try", "1000"}));
  EXPECT_EQ(full.wait_for("TIMEOUT", 60s), "TIMEOUT") << "Kazoo took a second lease of one";
  Child other(kazoo({zkt::hosts(), path, "2", "try", "1000"}));
  EXPECT_EQ(other.wait_for("REFUSED", 60s).substr(0, 7), "REFUSED");
  lease.release();
  Child free(kazoo({zkt::hosts(), path, "1", "try", "5000"}));
  EXPECT_EQ(free.wait_for("ACQUIRED", 60s).substr(0, 8), "ACQUIRED");
}

} // namespace
