// Lost replies on the real ensemble. A session whose operation timeout (1 ms) is shorter than a
// quorum write gives up waiting for most setData replies although the server applies the writes:
// the same situation as a reply lost to a connection drop. The counter must prove each outcome from
// the node (writer tags) instead of retrying blindly, so the final value must equal the
// acknowledged increments plus at most the ones reported indeterminate — never more.
#include <zkrecipes/distributed_counter.hpp>

#include "support/ensemble.hpp"

#include <gtest/gtest.h>

#include <thread>

using namespace std::chrono_literals;

namespace {

struct Tally {
  std::int64_t ok = 0;
  std::int64_t indeterminate = 0;
  std::int64_t lost_replies = 0;
  std::int64_t other_errors = 0;
};

// `async`: each update is an async_add (its own timers and callbacks) waited for by its future.
Tally hammer(zk::DistributedCounter& c, int n, bool async = false) {
  Tally t;
  for (int i = 0; i < n; ++i) {
    try {
      const auto r = async ? zkt::settled(c.async_add(1)) : c.add_detailed(1);
      ++t.ok;
      t.lost_replies += r.lost_replies;
    } catch (const zk::Error& e) {
      if (e.errc() == zk::Errc::indeterminate)
        ++t.indeterminate;
      else
        ++t.other_errors;
    }
  }
  return t;
}

void run(zk::CounterCodec codec, zk::WriterTags tags, bool async = false) {
  zkt::RootGuard root(std::string("counter-lost-") + zk::to_string(codec) +
                      (async ? "-async" : ""));
  const std::string path = root.path() + "/c";
  auto hasty_options = zkt::options();
  hasty_options.operation_timeout = 1ms;
  hasty_options.log_level = zk::LogLevel::error;
  zk::Session hasty(hasty_options);
  zk::CounterOptions o;
  o.codec = codec;
  o.writer_tags = tags;
  o.retry.timeout = 60s;
  o.retry.max_attempts = 10000;
  zk::DistributedCounter lossy(hasty, path, o);

  // A normal writer at the same time, so that "someone else wrote next" is part of the evidence.
  zk::Session calm(zkt::options());
  zk::DistributedCounter steady(calm, path, o);
  Tally steady_tally;
  std::thread other([&] { steady_tally = hammer(steady, 150); });
  const Tally t = hammer(lossy, 150, async);
  other.join();

  calm.sync(path);
  const std::int64_t final_value = steady.get();
  const std::int64_t acknowledged = t.ok + steady_tally.ok;
  std::cout << "[ measure ] " << zk::to_string(codec) << (async ? " async" : "")
            << ": lossy ok=" << t.ok << " lost replies=" << t.lost_replies
            << " indeterminate=" << t.indeterminate << " other errors=" << t.other_errors
            << "; steady ok=" << steady_tally.ok << "; final=" << final_value << '\n';
  EXPECT_EQ(steady_tally.indeterminate + steady_tally.other_errors, 0);
  EXPECT_EQ(t.other_errors, 0);
  EXPECT_GE(final_value, acknowledged) << "an acknowledged increment was lost";
  EXPECT_LE(final_value, acknowledged + t.indeterminate) << "an increment was applied twice";
  EXPECT_GT(t.lost_replies + t.indeterminate, 0)
      << "the 1 ms timeout never lost a reply: the test proved nothing";
  // Late answers and (int64_be) writer tags prove almost every outcome; a guess would show up
  // above.
  EXPECT_GT(t.ok, 100);
}

TEST(CounterLostReplies, TaggedInt64ProvesLostWrites) {
  run(zk::CounterCodec::int64_be, zk::WriterTags::automatic);
}

TEST(CounterLostReplies, AsciiNeverDoubleCounts) {
  run(zk::CounterCodec::ascii, zk::WriterTags::automatic);
}

TEST(CounterLostReplies, AsyncUpdatesProveLostWritesToo) {
  run(zk::CounterCodec::int64_be, zk::WriterTags::automatic, true);
}

} // namespace
