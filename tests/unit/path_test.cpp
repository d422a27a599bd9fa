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
