// Pure decisions of the counter: which conditional write comes next (with the version -1 guard),
// what a re-read proves about a write whose reply was lost, and how a combined batch of deltas is
// shared out. No I/O: the glue in counter_core.cpp performs what these functions decide.
#pragma once

#include "core/write_outcome.hpp"
#include "recipes/counter/codec.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace zk::detail::counter {

/// Whether node version `a` is older than `b`. Versions wrap after 2^32 writes, so the difference
/// is taken modulo 2^32.
[[nodiscard]] inline bool older_version(std::int32_t a, std::int32_t b) noexcept {
  return static_cast<std::int32_t>(static_cast<std::uint32_t>(a) - static_cast<std::uint32_t>(b)) <
         0;
}

/// What the counter knows of its node, from its last read or its own last write.
struct Snapshot {
  bool exists = false;
  std::int64_t value = 0; ///< decoded; the initial value when the node is absent or empty
  std::int32_t version = 0;
  std::int64_t czxid = 0;
  std::string data; ///< the exact bytes (an untagged write is recognised by them)
  std::vector<TagEntry> history;
  std::int32_t children = 0; ///< the node's children: contention markers (see contention.hpp)
};

/// One conditional write: a create (node absent; node_exists means someone else created it) or a
/// set at an exact version. Never unconditional.
struct PlannedWrite {
  bool create = false;
  std::int32_t expected_version = 0; ///< set only; never any_version
  std::int64_t czxid = 0;            ///< set only: the node incarnation the write targets
  std::int64_t value = 0;
  std::string data;
  bool tagged = false;
  TagEntry entry; ///< if tagged: the version this write produces and its tag
};

/// The data version after a write at `v`: ZooKeeper adds one to the int32 and lets it wrap.
[[nodiscard]] std::int32_t next_version(std::int32_t v) noexcept;

/// Plans writing `value` over `base`. Carries the newest `tag_history - 1` entries of the base's
/// trailer behind this write's entry. The version -1 guard: a base at version -1 (reachable after
/// 2^32 writes wrap the int32) cannot be written conditionally, because ZooKeeper reads -1 as "any
/// version"; this throws Errc::overflow rather than ever planning that write.
[[nodiscard]] PlannedWrite plan_write(const Snapshot& base, std::int64_t value,
                                      const CounterOptions& options, Tag tag,
                                      std::string_view path);

/// What a fresh read proves about a write whose reply was lost.
enum class Verdict {
  applied,     ///< it was applied (exactly once)
  pending,     ///< not applied yet but possibly still in flight: re-send the identical write
  not_applied, ///< not applied, and it never can be any more: plan a new write from the read
  unprovable,  ///< the evidence is gone: report Errc::indeterminate, do not retry
};

/// Judges `w` against `now` (a read made after the reply was lost; exists = false if there is no
/// node). See distributed_counter.hpp for what each codec can prove.
[[nodiscard]] Verdict judge_lost_write(const PlannedWrite& w, const Snapshot& now);

/// Whether an answer to a write means it was certainly not applied (core's one rule).
using core::write_refused;

/// What the answers to the sends of one in-doubt write prove; each entry is a send's result code,
/// or nullopt for a send still unanswered. A write's answer can arrive after the caller stopped
/// waiting for it (the session delivers it anyway), and it beats any inference from the node: any
/// ok means applied; every send refused means not applied (and none ever can be); anything else
/// proves nothing.
[[nodiscard]] std::optional<Verdict> judge_answers(const std::vector<std::optional<Errc>>& answers);

/// One caller's part of a combined batch.
struct Share {
  bool fits = false; ///< false: this delta alone would overflow the codec; it is not applied
  std::int64_t before = 0;
  std::int64_t after = 0;
};

/// Applies `deltas` to `base` in order, skipping any delta that would leave the codec's range, so
/// each caller gets its own distinct before/after as if the updates had run one by one. `total`
/// receives the final value.
[[nodiscard]] std::vector<Share> allocate(std::int64_t base,
                                          const std::vector<std::int64_t>& deltas,
                                          CounterCodec codec, std::int64_t& total);

} // namespace zk::detail::counter
