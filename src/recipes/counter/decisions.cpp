// Pure decisions of the counter (see decisions.hpp).
#include "recipes/counter/decisions.hpp"

#include <algorithm>

namespace zk::detail::counter {
namespace {

const TagEntry* find_entry(const std::vector<TagEntry>& history, std::int32_t version) {
  const auto it = std::find_if(history.begin(), history.end(),
                               [&](const TagEntry& e) { return e.version == version; });
  return it == history.end() ? nullptr : &*it;
}

bool has_tag(const std::vector<TagEntry>& history, const Tag& tag) {
  return std::any_of(history.begin(), history.end(),
                     [&](const TagEntry& e) { return e.tag == tag; });
}

// A tag is unique to one planned write (random writer id, per-writer sequence), and only that write
// or a later one copying its trailer can put it into the node: finding it anywhere proves
// "applied".
Verdict judge_tagged(const PlannedWrite& w, const Snapshot& now) {
  if (has_tag(now.history, w.entry.tag)) return Verdict::applied;
  const std::int32_t produced = w.entry.version;
  if (!w.create && now.czxid != w.czxid) return Verdict::unprovable; // deleted and re-created
  if (!w.create && now.version == w.expected_version) return Verdict::pending;
  if (find_entry(now.history, produced) != nullptr) return Verdict::not_applied; // someone else's
  // At exactly the version our write would have produced, a node whose newest entry is not for this
  // version was written by a client that writes no trailer: not us.
  if (now.version == produced) return Verdict::not_applied;
  return Verdict::unprovable;
}

// Without tags only the bytes can speak: identical bytes at the produced version may be ours or an
// identical computation by someone else.
Verdict judge_untagged(const PlannedWrite& w, const Snapshot& now) {
  if (!w.create && now.czxid != w.czxid) return Verdict::unprovable;
  if (!w.create && now.version == w.expected_version) return Verdict::pending;
  const std::int32_t produced = w.create ? 0 : next_version(w.expected_version);
  if (now.version == produced && now.data != w.data) return Verdict::not_applied;
  return Verdict::unprovable;
}

} // namespace

std::int32_t next_version(std::int32_t v) noexcept {
  // Computed in unsigned arithmetic: INT32_MAX + 1 wraps to INT32_MIN as on the server, without UB.
  return static_cast<std::int32_t>(static_cast<std::uint32_t>(v) + 1U);
}

PlannedWrite plan_write(const Snapshot& base, std::int64_t value, const CounterOptions& options,
                        Tag tag, std::string_view path) {
  PlannedWrite w;
  w.create = !base.exists;
  w.value = value;
  if (!w.create) {
    if (base.version == any_version) {
      throw Error(
          Errc::overflow,
          "counter " + std::string(path) +
              ": the node's data version is -1 (the int32 version wrapped after 2^32 writes), "
              "and ZooKeeper treats a write at version -1 as unconditional; refusing to write "
              "blindly (re-create the node to continue)");
    }
    w.expected_version = base.version;
    w.czxid = base.czxid;
  }
  std::vector<TagEntry> history;
  w.tagged = tags_enabled(options);
  if (w.tagged) {
    w.entry = TagEntry{w.create ? 0 : next_version(base.version), tag};
    history.push_back(w.entry);
    const std::size_t keep = std::min(options.tag_history, max_tag_history);
    // A created node starts a new history: whatever trailer an earlier incarnation had is gone.
    for (std::size_t i = 0; !w.create && i < base.history.size() && history.size() < keep; ++i)
      history.push_back(base.history[i]);
  }
  w.data = encode(options.codec, value, history, path);
  return w;
}

Verdict judge_lost_write(const PlannedWrite& w, const Snapshot& now) {
  if (!now.exists) {
    // An absent node: a create may still be in flight (re-send it: at most one create can succeed);
    // a set's node was deleted, and with it the evidence.
    return w.create ? Verdict::pending : Verdict::unprovable;
  }
  return w.tagged ? judge_tagged(w, now) : judge_untagged(w, now);
}

std::optional<Verdict> judge_answers(const std::vector<std::optional<Errc>>& answers) {
  bool all_refused = !answers.empty();
  for (const auto& a : answers) {
    if (a && *a == Errc::ok) return Verdict::applied;
    all_refused = all_refused && a && write_refused(*a);
  }
  if (all_refused) return Verdict::not_applied;
  return std::nullopt;
}

std::vector<Share> allocate(std::int64_t base, const std::vector<std::int64_t>& deltas,
                            CounterCodec codec, std::int64_t& total) {
  std::vector<Share> shares;
  shares.reserve(deltas.size());
  std::int64_t value = base;
  for (std::int64_t d : deltas) {
    Share s;
    s.fits = add_fits(value, d, codec);
    s.before = value;
    s.after = s.fits ? value + d : value;
    value = s.after;
    shares.push_back(s);
  }
  total = value;
  return shares;
}

} // namespace zk::detail::counter
