// ACLs on create: with digest auth the session's default ACL is creator-only, so the recipes' nodes
// cannot be deleted or overwritten by a session without the credentials; without auth, nodes stay
// open as before. Against the real ensemble.
#include "support/ensemble.hpp"

#include <zkrecipes/zkrecipes.hpp>

#include <gtest/gtest.h>

#include <functional>

using namespace std::chrono_literals;

namespace {

using zkt::code_of;

zk::SessionOptions with_digest(const std::string& user) {
  zk::SessionOptions o = zkt::options();
  o.digest = zk::DigestAuth{user, "secret-" + user};
  return o;
}

TEST(Acl, DigestAuthMakesTheRecipesNodesCreatorOnly) {
  zkt::RootGuard root("acl");
  const std::string app = root.path() + "/app"; // created by the recipes, creator-only
  zk::Session owner(with_digest("alice"));
  zk::DistributedCounter counter(owner, app + "/counter");
  ASSERT_EQ(counter.increment(), 1);
  zk::DistributedLock lock(owner, app + "/lock");
  ASSERT_TRUE(lock.try_lock_for(5s));
  const std::string node = lock.node_path();

  zk::Session stranger(zkt::options()); // no credentials
  EXPECT_EQ(code_of([&] { (void)stranger.set(app + "/counter", "999"); }), zk::Errc::no_auth);
  EXPECT_EQ(code_of([&] { (void)stranger.remove(app + "/counter"); }), zk::Errc::no_auth);
  EXPECT_EQ(code_of([&] { (void)stranger.set(node, "mine now"); }), zk::Errc::no_auth);
  EXPECT_EQ(code_of([&] { (void)stranger.remove(node); }), zk::Errc::no_auth);
  EXPECT_EQ(code_of([&] { (void)stranger.create(app + "/lock/intruder", "x"); }),
            zk::Errc::no_auth);
  EXPECT_TRUE(lock.owns_lock());
  EXPECT_EQ(counter.get(), 1);

  zk::Session same_user(with_digest("alice")); // the same identity may
  zk::DistributedCounter again(same_user, app + "/counter");
  EXPECT_EQ(again.increment(), 2);

  lock.unlock();
  (void)owner.remove_recursive(app); // the stranger's cleanup could not
}

TEST(Acl, WithoutAuthNodesStayOpenAndAnExplicitAclWins) {
  zkt::RootGuard root("acl-open");
  zk::Session a(zkt::options());
  zk::DistributedCounter counter(a, root.path() + "/counter");
  ASSERT_EQ(counter.increment(), 1);
  zk::Session b(zkt::options());
  EXPECT_EQ(code_of([&] { (void)b.set(root.path() + "/counter", std::string(8, '\0')); }),
            zk::Errc::ok);

  zk::Session alice(with_digest("alice"));
  zk::CreateOptions open(zk::CreateMode::persistent);
  open.acl = zk::open_acl();
  alice.create(root.path() + "/shared", "x", open);
  EXPECT_EQ(code_of([&] { (void)b.set(root.path() + "/shared", "y"); }), zk::Errc::ok);

  zk::CreateOptions bad;
  bad.acl = zk::Acl{};
  EXPECT_EQ(code_of([&] { alice.create(root.path() + "/bad", "x", bad); }),
            zk::Errc::invalid_argument);
}

TEST(Acl, RemoveRecursiveDeletesASubtreeDeepestFirst) {
  zkt::RootGuard root("rmr");
  zk::Session& s = root.session();
  s.ensure_path(root.path() + "/a/b/c");
  s.create(root.path() + "/a/b/d", "x");
  s.create(root.path() + "/a/e", "y");
  EXPECT_EQ(s.remove_recursive(root.path() + "/a"), 5U);
  EXPECT_FALSE(s.exists(root.path() + "/a"));
  EXPECT_EQ(s.remove_recursive(root.path() + "/a"), 0U); // already gone: fine
  EXPECT_EQ(code_of([&] { (void)s.remove_recursive("/"); }), zk::Errc::invalid_argument);
}

} // namespace
