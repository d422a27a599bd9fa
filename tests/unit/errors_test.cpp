#include <zkrecipes/error.hpp>
#include <zkrecipes/version.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

TEST(Errors, CodesCarryTheCClientText) {
  const zk::Error e(zk::Errc::no_node, "get /a");
  EXPECT_EQ(e.errc(), zk::Errc::no_node);
  EXPECT_EQ(e.code().value(), -101);
  EXPECT_STREQ(e.what(), "get /a: no node");
  EXPECT_EQ(std::string(zk::to_string(zk::Errc::bad_version)), "bad_version");
}

TEST(Errors, LibraryCodesHaveTheirOwnText) {
  const zk::Error e(zk::Errc::deadline_exceeded, "set /x");
  EXPECT_STREQ(e.what(), "set /x: deadline exceeded");
  EXPECT_EQ(e.code().category().name(), std::string("zookeeper"));
}

TEST(Errors, IsASystemError) {
  try {
    throw zk::Error(zk::Errc::session_expired, "x");
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), zk::Errc::session_expired);
    return;
  }
  FAIL() << "not caught as std::system_error";
}

struct Case {
  zk::Errc code;
  zk::Condition condition;
  bool expected;
};

class Conditions : public ::testing::TestWithParam<Case> {};

TEST_P(Conditions, SayWhatToDo) {
  const Case c = GetParam();
  EXPECT_EQ(zk::make_error_code(c.code) == c.condition, c.expected)
      << zk::to_string(c.code) << " vs condition " << static_cast<int>(c.condition);
}

INSTANTIATE_TEST_SUITE_P(
    All, Conditions,
    ::testing::Values(Case{zk::Errc::connection_loss, zk::Condition::retryable, true},
                      Case{zk::Errc::connection_loss, zk::Condition::indeterminate, true},
                      Case{zk::Errc::operation_timeout, zk::Condition::timeout, true},
                      Case{zk::Errc::deadline_exceeded, zk::Condition::timeout, true},
                      Case{zk::Errc::deadline_exceeded, zk::Condition::retryable, true},
                      Case{zk::Errc::bad_version, zk::Condition::conflict, true},
                      Case{zk::Errc::node_exists, zk::Condition::conflict, true},
                      Case{zk::Errc::bad_version, zk::Condition::retryable, false},
                      Case{zk::Errc::session_expired, zk::Condition::session_lost, true},
                      Case{zk::Errc::lock_lost, zk::Condition::session_lost, true},
                      Case{zk::Errc::no_node, zk::Condition::precondition, true},
                      Case{zk::Errc::not_empty, zk::Condition::precondition, true},
                      Case{zk::Errc::invalid_argument, zk::Condition::usage, true},
                      Case{zk::Errc::wrong_thread, zk::Condition::usage, true},
                      Case{zk::Errc::session_closed, zk::Condition::usage, true},
                      Case{zk::Errc::indeterminate, zk::Condition::indeterminate, true},
                      Case{zk::Errc::indeterminate, zk::Condition::retryable, false},
                      Case{zk::Errc::no_node, zk::Condition::retryable, false},
                      Case{zk::Errc::retries_exhausted, zk::Condition::retryable, false},
                      Case{zk::Errc::session_moved, zk::Condition::retryable, true},
                      Case{zk::Errc::not_readonly, zk::Condition::retryable, true},
                      Case{zk::Errc::throttled, zk::Condition::retryable, true},
                      Case{zk::Errc::not_leader, zk::Condition::precondition, true},
                      Case{zk::Errc::foreign_node, zk::Condition::precondition, true},
                      Case{zk::Errc::foreign_node, zk::Condition::retryable, false}),
    [](const ::testing::TestParamInfo<Case>& i) { return "case" + std::to_string(i.index); });

TEST(Errors, HelperPredicates) {
  EXPECT_TRUE(zk::Error(zk::Errc::connection_loss, "").is_retryable());
  EXPECT_TRUE(zk::Error(zk::Errc::bad_version, "").is_conflict());
  EXPECT_TRUE(zk::Error(zk::Errc::session_expired, "").is_session_lost());
  EXPECT_TRUE(zk::Error(zk::Errc::wrong_thread, "").is_usage());
  EXPECT_TRUE(zk::Error(zk::Errc::indeterminate, "").is_indeterminate());
  EXPECT_FALSE(zk::Error(zk::Errc::no_node, "").is_retryable());
}

// The one classification: every code has a class, and the conditions agree with it.
std::vector<zk::Errc> every_code() {
  std::vector<zk::Errc> all;
  for (int v = -200; v <= 100; ++v)
    if (std::string(zk::to_string(static_cast<zk::Errc>(v))) != "unknown")
      all.push_back(static_cast<zk::Errc>(v));
  return all;
}

TEST(Classification, ConditionsAreDerivedFromTheClass) {
  const auto all = every_code();
  ASSERT_GE(all.size(), 44U);
  for (const zk::Errc e : all) {
    const auto c = zk::classify(e);
    const auto code = zk::make_error_code(e);
    SCOPED_TRACE(std::string(zk::to_string(e)) + " is " + zk::to_string(c));
    EXPECT_EQ(code == zk::Condition::conflict, c == zk::ErrorClass::conflict);
    EXPECT_EQ(code == zk::Condition::session_lost, c == zk::ErrorClass::lost);
    EXPECT_EQ(code == zk::Condition::indeterminate, c == zk::ErrorClass::in_doubt);
    const bool retryable = c == zk::ErrorClass::retry ||
                           (c == zk::ErrorClass::in_doubt && e != zk::Errc::indeterminate);
    EXPECT_EQ(code == zk::Condition::retryable, retryable);
    if (code == zk::Condition::usage || code == zk::Condition::precondition) {
      EXPECT_EQ(c, zk::ErrorClass::fatal);
    }
  }
}

TEST(Classification, SaysWhatTheLibraryDoes) {
  using zk::Errc;
  using zk::ErrorClass;
  EXPECT_EQ(zk::classify(Errc::connection_loss), ErrorClass::in_doubt);
  EXPECT_EQ(zk::classify(Errc::indeterminate), ErrorClass::in_doubt);
  EXPECT_EQ(zk::classify(Errc::not_readonly), ErrorClass::retry);
  EXPECT_EQ(zk::classify(Errc::throttled), ErrorClass::retry); // ZTHROTTLEDOP: nothing was run
  EXPECT_EQ(zk::classify(Errc::bad_version), ErrorClass::conflict);
  EXPECT_EQ(zk::classify(Errc::session_expired), ErrorClass::lost);
  EXPECT_EQ(zk::classify(Errc::lock_lost), ErrorClass::lost);
  EXPECT_EQ(zk::classify(Errc::retries_exhausted), ErrorClass::fatal);
  EXPECT_EQ(zk::classify(Errc::no_auth), ErrorClass::fatal);
  EXPECT_EQ(zk::classify(Errc::session_closed), ErrorClass::fatal);
  EXPECT_EQ(zk::Error(Errc::bad_version, "x").error_class(), ErrorClass::conflict);
  EXPECT_STREQ(zk::to_string(ErrorClass::in_doubt), "in_doubt");
}

TEST(Version, LibraryAndHeadersAgree) {
  EXPECT_STREQ(zk::version(), zk::header_version);
  EXPECT_EQ(std::string(zk::version()), std::to_string(ZKRECIPES_VERSION_MAJOR) + "." +
                                            std::to_string(ZKRECIPES_VERSION_MINOR) + "." +
                                            std::to_string(ZKRECIPES_VERSION_PATCH));
}

} // namespace
