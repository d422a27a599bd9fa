// DistributedLock's compile-time contract (TimedLockable) and the checks made before any I/O.
#include <zkrecipes/distributed_lock.hpp>

#include <gtest/gtest.h>

#include <mutex>
#include <type_traits>

namespace {

// TimedLockable, spelled out: what std::lock_guard, std::unique_lock (timed constructors) and
// std::scoped_lock call.
template <class L, class = void> struct is_timed_lockable : std::false_type {};
template <class L>
struct is_timed_lockable<
    L, std::void_t<
           decltype(std::declval<L&>().lock()), decltype(std::declval<L&>().unlock()),
           decltype(bool{std::declval<L&>().try_lock()}),
           decltype(bool{std::declval<L&>().try_lock_for(std::chrono::milliseconds(1))}),
           decltype(bool{std::declval<L&>().try_lock_until(std::chrono::steady_clock::now())}),
           decltype(bool{std::declval<L&>().try_lock_until(std::chrono::system_clock::now())})>>
    : std::true_type {};

static_assert(is_timed_lockable<zk::DistributedLock>::value);
static_assert(is_timed_lockable<std::timed_mutex>::value, "the trait itself works");
static_assert(!is_timed_lockable<std::mutex>::value, "the trait can fail");
static_assert(noexcept(std::declval<zk::DistributedLock&>().unlock()), "unlock() must be noexcept");
static_assert(!std::is_copy_constructible_v<zk::DistributedLock>);
static_assert(std::is_nothrow_move_constructible_v<zk::DistributedLock>);
static_assert(std::is_constructible_v<std::lock_guard<zk::DistributedLock>, zk::DistributedLock&>);
static_assert(std::is_constructible_v<std::unique_lock<zk::DistributedLock>, zk::DistributedLock&,
                                      std::chrono::seconds>);
static_assert(std::is_constructible_v<std::unique_lock<zk::DistributedLock>, zk::DistributedLock&,
                                      std::chrono::system_clock::time_point>);
static_assert(std::is_constructible_v<std::scoped_lock<zk::DistributedLock, zk::DistributedLock>,
                                      zk::DistributedLock&, zk::DistributedLock&>);
static_assert(std::is_constructible_v<std::scoped_lock<zk::DistributedLock, std::mutex>,
                                      zk::DistributedLock&, std::mutex&>);

// The templates must instantiate, not only be declared.
[[maybe_unused]] void instantiate(zk::DistributedLock& a, zk::DistributedLock& b, std::mutex& m) {
  { std::lock_guard<zk::DistributedLock> g(a); }
  { std::unique_lock<zk::DistributedLock> u(a, std::chrono::seconds(1)); }
  { std::unique_lock<zk::DistributedLock> u(a, std::chrono::system_clock::now()); }
  { std::scoped_lock s(a, b, m); }
}

} // namespace

TEST(LockApi, MeetsTimedLockable) {
  // The static_asserts above are the test; this records it in the test list.
  EXPECT_TRUE(is_timed_lockable<zk::DistributedLock>::value);
  EXPECT_FALSE(is_timed_lockable<std::mutex>::value);
}
