#include <zkrecipes/session.hpp>

#include <gtest/gtest.h>

namespace {

TEST(PathValidation, AcceptsWellFormedPaths) {
  for (const char* p : {"/", "/a", "/a/b", "/app/locks/_c_x-lock-0000000001", "/a.b/c..d", "/ü"})
    EXPECT_NO_THROW(zk::validate_path(p)) << p;
}

struct Bad {
  std::string path;
  std::string why;
};

class BadPaths : public ::testing::TestWithParam<Bad> {};

TEST_P(BadPaths, AreRefusedNamingTheValue) {
  const Bad b = GetParam();
  try {
    zk::validate_path(b.path);
    FAIL() << "accepted " << b.path;
  } catch (const zk::Error& e) {
    EXPECT_EQ(e.errc(), zk::Errc::invalid_argument);
    EXPECT_TRUE(e.is_usage());
    EXPECT_NE(std::string(e.what()).find(b.why), std::string::npos) << e.what();
  }
}

INSTANTIATE_TEST_SUITE_P(
    All, BadPaths,
    ::testing::Values(Bad{"", "empty"}, Bad{"a/b", "\"a/b\": must start with '/'"},
                      Bad{"/a/", "must not end with '/'"}, Bad{"/a//b", "empty segment"},
                      Bad{"/a/./b", "relative segment"}, Bad{"/a/..", "relative segment"},
                      Bad{std::string("/a\0b", 4), "NUL"},
                      Bad{"/a\nb", "\"/a\\x0ab\": contains a control character"},
                      Bad{"/a\x7f", "control character"}),
    [](const ::testing::TestParamInfo<Bad>& i) { return "case" + std::to_string(i.index); });

} // namespace

TEST(Hosts, ConnectStringsAreCheckedEntryByEntry) {
  for (const char* good : {"127.0.0.1:2181", "a:1,b:65535", "zk-1.example:2181,zk-2:2181/app/x",
                           "[::1]:2181,127.0.0.11:2181"})
    EXPECT_NO_THROW(zk::validate_hosts(good)) << good;
  for (const char* bad : {"", "garbage", "127.0.0.1:abc", "::::", "127.0.0.1:99999", ",", "a:1,",
                          ":2181", "a:0", "a b:1", "[::1]2181", "[::1", "a:1//x", "a:-1"}) {
    try {
      zk::validate_hosts(bad);
      ADD_FAILURE() << "accepted \"" << bad << '"';
    } catch (const zk::Error& e) {
      EXPECT_EQ(e.errc(), zk::Errc::invalid_argument) << bad;
    }
  }
}
