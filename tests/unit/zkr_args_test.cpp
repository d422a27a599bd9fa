#include "args.hpp"

#include <gtest/gtest.h>

using namespace std::chrono_literals;

namespace {

zkr::Parsed parse(std::vector<std::string> args, const char* env = nullptr) {
  return zkr::parse(args, env);
}

std::string usage_error(std::vector<std::string> args) {
  try {
    parse(std::move(args));
  } catch (const zkr::UsageError& e) {
    return e.message;
  }
  return "(accepted)";
}

TEST(ZkrArgs, LockWithOptionsAndCommand) {
  const auto p = parse(
      {"lock", "/app/l", "--timeout", "2.5", "--grace=300ms", "--", "sh", "-c", "echo --try"});
  EXPECT_EQ(p.subcommand, "lock");
  EXPECT_EQ(p.lock.path, "/app/l");
  ASSERT_TRUE(p.lock.timeout);
  EXPECT_EQ(*p.lock.timeout, 2500ms);
  EXPECT_EQ(p.lock.grace, 300ms);
  EXPECT_EQ(p.lock.command, (std::vector<std::string>{"sh", "-c", "echo --try"}));
  EXPECT_FALSE(p.lock.try_only);
}

TEST(ZkrArgs, HostsComeFromTheOptionThenTheEnvironmentThenTheDefault) {
  EXPECT_EQ(parse({"holders", "/l"}).common.hosts, "127.0.0.1:2181");
  EXPECT_EQ(parse({"holders", "/l"}, "h1:2181").common.hosts, "h1:2181");
  EXPECT_EQ(parse({"holders", "/l", "--hosts", "h2:1"}, "h1:2181").common.hosts, "h2:1");
  EXPECT_EQ(parse({"--hosts=h3:1", "--session-timeout", "3s", "holders", "/l"}).common.hosts,
            "h3:1");
  EXPECT_EQ(parse({"--session-timeout", "3s", "holders", "/l"}).common.session_timeout, 3000ms);
}

TEST(ZkrArgs, CounterOperations) {
  auto p = parse({"counter", "add", "-42", "/c", "--codec", "ascii"});
  EXPECT_EQ(p.counter.op, "add");
  EXPECT_EQ(p.counter.value, -42);
  EXPECT_EQ(p.counter.path, "/c");
  EXPECT_EQ(p.counter.codec, "ascii");
  p = parse({"counter", "cas", "10", "11", "/c"});
  EXPECT_EQ(p.counter.value, 10);
  EXPECT_EQ(p.counter.desired, 11);
  EXPECT_EQ(parse({"counter", "incr", "/c"}).counter.codec, "int64");
}

TEST(ZkrArgs, LeaderWithOptionsAndCommand) {
  const auto p = parse({"leader", "/app/leader", "--id", "m1", "--requeue", "--selector", "--grace",
                        "2", "--", "./job", "-x"});
  EXPECT_EQ(p.subcommand, "leader");
  EXPECT_EQ(p.leader.path, "/app/leader");
  EXPECT_EQ(p.leader.id, "m1");
  EXPECT_TRUE(p.leader.requeue);
  EXPECT_TRUE(p.leader.selector);
  EXPECT_FALSE(p.leader.show);
  EXPECT_EQ(p.leader.grace, 2000ms);
  EXPECT_EQ(p.leader.command, (std::vector<std::string>{"./job", "-x"}));
  const auto show = parse({"leader", "--show", "/app/leader"});
  EXPECT_TRUE(show.leader.show);
  EXPECT_TRUE(show.leader.command.empty());
  EXPECT_NE(zkr::leader_help().find("ZKR_LEADER_TERM"), std::string::npos);
}

TEST(ZkrArgs, SemaphorePathLeasesAndCommand) {
  const auto p = parse({"semaphore", "/app/pool", "4", "--timeout", "2s", "--", "./job", "-x"});
  EXPECT_EQ(p.subcommand, "semaphore");
  EXPECT_EQ(p.lock.side, zkr::LockArgs::Side::lease);
  EXPECT_EQ(p.lock.path, "/app/pool");
  EXPECT_EQ(p.lock.max_leases, 4);
  EXPECT_EQ(p.lock.timeout, 2000ms);
  EXPECT_EQ(p.lock.command, (std::vector<std::string>{"./job", "-x"}));
  EXPECT_TRUE(parse({"semaphore", "-n", "/p", "1", "--", "true"}).lock.try_only);
  EXPECT_TRUE(parse({"semaphore", "--help"}).help);
  EXPECT_NE(zkr::semaphore_help().find("ZKR_FENCING_TOKEN"), std::string::npos);
}

TEST(ZkrArgs, VersionBeforeAnySubcommand) {
  EXPECT_EQ(parse({"--version"}).subcommand, "version");
  EXPECT_EQ(parse({"--hosts", "127.0.0.11:2181", "version"}).subcommand, "version");
  EXPECT_NE(zkr::main_help().find("--version"), std::string::npos);
}

TEST(ZkrArgs, HelpAnywhere) {
  EXPECT_TRUE(parse({"--help"}).help);
  EXPECT_TRUE(parse({"lock", "--help"}).help);
  EXPECT_TRUE(parse({"counter", "-h"}).help);
  EXPECT_NE(zkr::lock_help().find("ZKR_FENCING_TOKEN"), std::string::npos);
  EXPECT_NE(zkr::main_help().find("76"), std::string::npos);
}

TEST(ZkrArgs, BadArgumentsGiveOneClearLine) {
  EXPECT_EQ(usage_error({}),
            "missing subcommand (lock, semaphore, leader, counter, holders); try zkr --help");
  EXPECT_EQ(usage_error({"leader", "/e"}), "zkr leader: missing COMMAND after --");
  EXPECT_EQ(usage_error({"leader", "--show", "/e", "--", "true"}),
            "zkr leader --show: no COMMAND expected");
  EXPECT_EQ(usage_error({"leader", "--try", "/e", "--", "true"}),
            "unknown option --try for zkr leader");
  EXPECT_EQ(usage_error({"frob"}), "unknown subcommand \"frob\"; try zkr --help");
  EXPECT_EQ(usage_error({"lock", "/l"}), "zkr lock: missing COMMAND after --");
  EXPECT_EQ(usage_error({"lock", "--", "true"}),
            "zkr lock: expected one PATH before --, got 0 arguments");
  EXPECT_EQ(usage_error({"semaphore", "/s", "--", "true"}),
            "zkr semaphore: expected PATH N before --, got 1 arguments");
  EXPECT_EQ(usage_error({"semaphore", "/s", "2x", "--", "true"}),
            "zkr semaphore: N must be a whole number from 1 to 2147483647, not \"2x\"");
  EXPECT_EQ(usage_error({"semaphore", "/s", "3", "--try", "--timeout", "1", "--", "true"}),
            "zkr semaphore: --try and --timeout exclude each other");
  EXPECT_EQ(usage_error({"lock", "/l", "--try", "--timeout", "1", "--", "true"}),
            "zkr lock: --try and --timeout exclude each other");
  EXPECT_EQ(usage_error({"lock", "/l", "--timeout", "soon", "--", "true"}),
            "--timeout: expected a positive duration like 5, 2.5s or 300ms, got \"soon\"");
  EXPECT_EQ(usage_error({"lock", "/l", "--timeout", "-1", "--", "true"}),
            "--timeout: expected a positive duration like 5, 2.5s or 300ms, got \"-1\"");
  EXPECT_EQ(usage_error({"counter", "add", "x", "/c"}),
            "zkr counter add: expected an integer, got \"x\"");
  EXPECT_EQ(usage_error({"counter", "add", "99999999999999999999", "/c"}),
            "zkr counter add: 99999999999999999999 is out of the 64-bit range");
  EXPECT_EQ(usage_error({"counter", "get"}), "zkr counter get: expected 1 argument(s), got 0");
  EXPECT_EQ(usage_error({"counter", "frob", "/c"}), "zkr counter: unknown operation \"frob\"");
  EXPECT_EQ(usage_error({"counter", "get", "/c", "--codec", "bcd"}),
            "--codec: expected int64, int32 or ascii, got \"bcd\"");
  EXPECT_EQ(usage_error({"holders", "/l", "--try"}), "unknown option --try for zkr holders");
  EXPECT_EQ(usage_error({"holders", "/l", "--hosts"}), "--hosts needs a value");
}

} // namespace

namespace {

int exit_for(zk::Errc e) {
  return zkr::exit_code_for(zk::Error(e, "test"));
}

// Found by fuzz_zkr_args: an argument with a newline made the one-line error two lines.
TEST(ZkrArgs, AUsageErrorIsOneLineWhateverTheArgumentsHold) {
  for (const std::vector<std::string>& args : {std::vector<std::string>{"--bogus\nline"},
                                               {"lock", "--timeout", "5\rs", "/l", "--", "x"},
                                               {"counter", "add", "1\n2", "/c"},
                                               {std::string("x\0y", 3)}}) {
    try {
      (void)zkr::parse(args, nullptr);
      ADD_FAILURE() << "accepted " << args.front();
    } catch (const zkr::UsageError& e) {
      EXPECT_EQ(e.message.find_first_of(std::string("\n\r\0", 3)), std::string::npos) << e.message;
    }
  }
}

TEST(ZkrArgs, LongDurationsSaturate) {
  using Ms = std::chrono::milliseconds;
  EXPECT_EQ(zkr::parse_duration("1e10", "--timeout"), Ms(10'000'000'000'000LL));
  EXPECT_EQ(zkr::parse_duration("1e99", "--connect-timeout"), Ms::max());
  EXPECT_EQ(zkr::parse_duration("0.0001", "--timeout"), Ms(1)) << "positive stays positive";
}

TEST(ZkrExitCodes, ContentionIsNotAnUnreachableEnsemble) {
  // A counter update that kept losing to other writers: try again later, the ensemble is fine.
  EXPECT_EQ(exit_for(zk::Errc::retries_exhausted), zkr::exit_contended);
  EXPECT_NE(exit_for(zk::Errc::retries_exhausted), zkr::exit_unavailable);
}

TEST(ZkrExitCodes, FollowTheLibrarysClassification) {
  for (auto e : {zk::Errc::connection_loss, zk::Errc::operation_timeout, zk::Errc::session_expired,
                 zk::Errc::session_lost, zk::Errc::session_closed, zk::Errc::not_readonly})
    EXPECT_EQ(exit_for(e), zkr::exit_unavailable) << zk::to_string(e);
  EXPECT_EQ(exit_for(zk::Errc::bad_data), zkr::exit_bad_data);
  EXPECT_EQ(exit_for(zk::Errc::overflow), zkr::exit_bad_data);
  EXPECT_EQ(exit_for(zk::Errc::invalid_argument), zkr::exit_usage);
  for (auto e : {zk::Errc::indeterminate, zk::Errc::no_auth, zk::Errc::no_node})
    EXPECT_EQ(exit_for(e), zkr::exit_error) << zk::to_string(e);
}

} // namespace
