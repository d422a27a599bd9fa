#include <zkrecipes/error.hpp>

#include <gtest/gtest.h>

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
                      Case{zk::Errc::no_node, zk::Condition::retryable, false}),
    [](const ::testing::TestParamInfo<Case>& i) { return "case" + std::to_string(i.index); });

TEST(Errors, HelperPredicates) {
  EXPECT_TRUE(zk::Error(zk::Errc::connection_loss, "").is_retryable());
  EXPECT_TRUE(zk::Error(zk::Errc::bad_version, "").is_conflict());
  EXPECT_TRUE(zk::Error(zk::Errc::session_expired, "").is_session_lost());
  EXPECT_TRUE(zk::Error(zk::Errc::wrong_thread, "").is_usage());
  EXPECT_TRUE(zk::Error(zk::Errc::indeterminate, "").is_indeterminate());
  EXPECT_FALSE(zk::Error(zk::Errc::no_node, "").is_retryable());
}

} // namespace
