#include "recipes/lock/lock_protocol.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <random>

namespace zk::detail::lock {
namespace {

constexpr std::string_view protected_prefix = "_c_";
constexpr std::string_view curator_infix = "-lock-";
constexpr std::string_view latch_infix = "-latch-";
constexpr std::string_view write_infix = "-__WRIT__";
constexpr std::string_view read_infix = "-__READ__";
constexpr std::string_view kazoo_infix = "__lock__";
constexpr std::string_view kazoo_read_infix = "__rlock__";

bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool all_hex(std::string_view s) {
  return std::all_of(s.begin(), s.end(), is_hex);
}

// 8-4-4-4-12 hex digits, as java.util.UUID.toString() writes it.
bool is_uuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !is_hex(s[i])) return false;
  }
  return true;
}

// Splits "<guid><infix><sequence>" at the last occurrence of the infix.
std::optional<LockName> split(std::string_view child, std::string_view body, std::string_view infix,
                              NameForm form) {
  const auto at = body.rfind(infix);
  if (at == std::string_view::npos) return std::nullopt;
  const auto seq = parse_sequence(body.substr(at + infix.size()));
  if (!seq) return std::nullopt;
  return LockName{std::string(child), form, std::string(body.substr(0, at)), *seq};
}

// Sort key of a sequence number: its distance on the 2^32 circle from the start of the order.
std::uint32_t circle_key(std::int32_t seq, std::int32_t start) {
  return static_cast<std::uint32_t>(seq) - static_cast<std::uint32_t>(start);
}

// The value after the largest gap between neighbouring sequence numbers on the circle.
std::int32_t order_start(std::vector<std::int32_t> seqs) {
  std::sort(seqs.begin(), seqs.end());
  seqs.erase(std::unique(seqs.begin(), seqs.end()), seqs.end());
  std::size_t best = 0;
  std::uint32_t best_gap = 0;
  for (std::size_t i = 0; i < seqs.size(); ++i) {
    const std::int32_t next = seqs[(i + 1) % seqs.size()];
    const std::uint32_t gap = circle_key(next, seqs[i]); // wraps to 2^32 - span for the last one
    if (gap > best_gap) {
      best_gap = gap;
      best = (i + 1) % seqs.size();
    }
  }
  return seqs.empty() ? 0 : seqs[best];
}

} // namespace

std::optional<std::int32_t> parse_sequence(std::string_view text) {
  if (text.size() < 10 || text.size() > 11) return std::nullopt;
  const bool negative = text.front() == '-';
  std::int64_t value = 0;
  for (std::size_t i = negative ? 1 : 0; i < text.size(); ++i) {
    if (text[i] < '0' || text[i] > '9') return std::nullopt;
    value = value * 10 + (text[i] - '0');
  }
  if (negative) value = -value;
  if (value < INT32_MIN || value > INT32_MAX) return std::nullopt;
  const auto seq = static_cast<std::int32_t>(value);
  // Only the server's own spelling counts, so that a name maps to one number and back.
  if (format_sequence(seq) != text) return std::nullopt;
  return seq;
}

std::string format_sequence(std::int32_t sequence) {
  std::array<char, 16> buf{};
  std::snprintf(buf.data(), buf.size(), "%010d", sequence);
  return buf.data();
}

std::optional<LockName> parse_lock_name(std::string_view child) {
  if (child.substr(0, protected_prefix.size()) == protected_prefix) {
    const std::string_view body = child.substr(protected_prefix.size());
    for (const auto& [infix, form] :
         {std::pair{latch_infix, NameForm::latch}, std::pair{write_infix, NameForm::curator_write},
          std::pair{read_infix, NameForm::curator_read}}) {
      auto name = split(child, body, infix, form);
      if (name && is_uuid(name->guid)) return name;
    }
    auto name = split(child, body, curator_infix, NameForm::curator);
    if (!name) return std::nullopt;
    if (is_uuid(name->guid)) return name;
    if (name->guid.size() == 32 && all_hex(name->guid)) {
      name->form = NameForm::go;
      return name;
    }
    return std::nullopt;
  }
  for (const auto& [infix, form] : {std::pair{kazoo_infix, NameForm::kazoo},
                                    std::pair{kazoo_read_infix, NameForm::kazoo_read}}) {
    auto name = split(child, child, infix, form);
    if (name && name->guid.size() == 32 && all_hex(name->guid)) return name;
  }
  return std::nullopt;
}

std::string make_guid() {
  // One generator per thread: the guid only has to be unique, not secret.
  thread_local std::mt19937_64 rng{[] {
    std::random_device rd;
    std::seed_seq seq{rd(), rd(), rd(), rd(), rd(), rd(), rd(), rd()};
    return std::mt19937_64(seq);
  }()};
  std::array<unsigned char, 16> b{};
  for (std::size_t i = 0; i < b.size(); i += 8) {
    std::uint64_t r = rng();
    for (std::size_t j = 0; j < 8; ++j, r >>= 8)
      b[i + j] = static_cast<unsigned char>(r & 0xff);
  }
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40); // version 4
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80); // RFC 4122 variant
  std::array<char, 40> out{};
  std::snprintf(out.data(), out.size(),
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
                b[15]);
  return out.data();
}

std::string make_guid(NameForm form) {
  std::string guid = make_guid();
  if (form == NameForm::kazoo || form == NameForm::kazoo_read || form == NameForm::go)
    guid.erase(std::remove(guid.begin(), guid.end(), '-'), guid.end()); // uuid4().hex
  return guid;
}

bool is_read_form(NameForm form) {
  return form == NameForm::curator_read || form == NameForm::kazoo_read;
}

std::string node_prefix(std::string_view guid) {
  return node_prefix(NameForm::curator, guid);
}

std::string node_prefix(NameForm form, std::string_view guid) {
  const auto join = [guid](std::string_view before, std::string_view after) {
    std::string out(before);
    out += guid;
    out += after;
    return out;
  };
  switch (form) {
  case NameForm::curator:
  case NameForm::go:
    return join(protected_prefix, curator_infix);
  case NameForm::latch:
    return join(protected_prefix, latch_infix);
  case NameForm::curator_write:
    return join(protected_prefix, write_infix);
  case NameForm::curator_read:
    return join(protected_prefix, read_infix);
  case NameForm::kazoo:
    return join({}, kazoo_infix);
  case NameForm::kazoo_read:
    return join({}, kazoo_read_infix);
  }
  return std::string(guid);
}

bool has_guid(std::string_view child, std::string_view guid) {
  return has_guid(NameForm::curator, child, guid);
}

bool has_guid(NameForm form, std::string_view child, std::string_view guid) {
  const std::string prefix = node_prefix(form, guid);
  return child.substr(0, prefix.size()) == prefix && parse_sequence(child.substr(prefix.size()));
}

const Profile& mutex_profile() {
  static const Profile p{"lock",
                         NameForm::curator,
                         {NameForm::curator, NameForm::go, NameForm::kazoo, NameForm::kazoo_read},
                         Profile::Foreign::blocks};
  return p;
}
const Profile& latch_profile() {
  static const Profile p{
      "Curator LeaderLatch", NameForm::latch, {NameForm::latch}, Profile::Foreign::fails};
  return p;
}
const Profile& selector_profile() {
  static const Profile p{
      "Curator LeaderSelector", NameForm::curator, {NameForm::curator}, Profile::Foreign::fails};
  return p;
}
const Profile& kazoo_election_profile() {
  static const Profile p{
      "Kazoo Election", NameForm::kazoo, {NameForm::kazoo}, Profile::Foreign::fails};
  return p;
}

const Profile& counter_turn_profile() {
  static const Profile p{
      "counter turn", NameForm::curator, {NameForm::curator}, Profile::Foreign::ignored};
  return p;
}

Ordering order_children(const std::vector<std::string>& children, const Profile& profile) {
  Ordering out;
  const auto takes_part = [&profile](const LockName& n) {
    return std::find(profile.contenders.begin(), profile.contenders.end(), n.form) !=
           profile.contenders.end();
  };
  for (const auto& child : children) {
    auto name = parse_lock_name(child);
    if (name && takes_part(*name)) {
      out.contenders.push_back(std::move(*name));
    } else {
      out.unrecognised.push_back(child);
    }
  }
  std::vector<std::int32_t> seqs;
  seqs.reserve(out.contenders.size());
  for (const auto& c : out.contenders)
    seqs.push_back(c.sequence);
  const std::int32_t start = order_start(std::move(seqs));
  // Equal sequence numbers: a downgrade's read node first; the name only makes the order total.
  std::sort(out.contenders.begin(), out.contenders.end(),
            [start](const LockName& a, const LockName& b) {
              const auto ka = circle_key(a.sequence, start);
              const auto kb = circle_key(b.sequence, start);
              if (ka != kb) return ka < kb;
              if (is_read_form(a.form) != is_read_form(b.form)) return is_read_form(a.form);
              return a.name < b.name;
            });
  std::sort(out.unrecognised.begin(), out.unrecognised.end());
  return out;
}

Decision decide(const std::vector<std::string>& children, std::string_view my_node,
                std::string_view my_guid, const Profile& profile) {
  Decision d;
  Ordering order = order_children(children, profile);
  if (profile.foreign == Profile::Foreign::ignored) order.unrecognised.clear();
  d.unrecognised = order.unrecognised;
  if (!my_guid.empty()) {
    for (const auto& c : order.contenders) {
      if (c.name != my_node && has_guid(profile.ours, c.name, my_guid))
        d.stale_own.push_back(c.name);
    }
  }
  if (profile.foreign == Profile::Foreign::fails && !order.unrecognised.empty()) {
    d.kind = Decision::Kind::foreign;
    return d;
  }
  const auto mine = std::find_if(order.contenders.begin(), order.contenders.end(),
                                 [&](const LockName& c) { return c.name == my_node; });
  if (mine == order.contenders.end()) return d; // missing
  if (mine != order.contenders.begin()) {
    d.kind = Decision::Kind::wait;
    d.watch = std::prev(mine)->name;
    return d;
  }
  if (!order.unrecognised.empty()) {
    d.kind = Decision::Kind::wait;
    d.blocked = true;
    d.watch = order.unrecognised.front();
    return d;
  }
  d.kind = Decision::Kind::acquired;
  return d;
}

std::optional<std::string> find_own(const std::vector<std::string>& children, std::string_view guid,
                                    const Profile& profile) {
  for (const auto& c : order_children(children, profile).contenders)
    if (has_guid(profile.ours, c.name, guid)) return c.name;
  return std::nullopt;
}

std::string ExclusivePolicy::make_guid() const {
  return lock::make_guid(m_profile.ours);
}
std::string ExclusivePolicy::node_prefix(std::string_view guid) const {
  return lock::node_prefix(m_profile.ours, guid);
}
bool ExclusivePolicy::created_with(std::string_view child, std::string_view guid) const {
  return has_guid(m_profile.ours, child, guid);
}
std::optional<std::string> ExclusivePolicy::find_own(const std::vector<std::string>& children,
                                                     std::string_view guid) const {
  return lock::find_own(children, guid, m_profile);
}
Decision ExclusivePolicy::decide(const std::vector<std::string>& children, std::string_view me,
                                 std::string_view guid) const {
  return lock::decide(children, me, guid, m_profile);
}
bool ExclusivePolicy::relist_after_delete(std::string_view predecessor) const {
  const auto name = parse_lock_name(predecessor);
  const auto& c = m_profile.contenders;
  const bool reads = std::find(c.begin(), c.end(), NameForm::kazoo_read) != c.end();
  return !name || (reads && name->form == NameForm::kazoo);
}
const ExclusivePolicy& ExclusivePolicy::instance() noexcept {
  return of(mutex_profile());
}
const ExclusivePolicy& ExclusivePolicy::of(const Profile& profile) noexcept {
  static const ExclusivePolicy mutex(mutex_profile());
  static const ExclusivePolicy latch(latch_profile());
  static const ExclusivePolicy selector(selector_profile());
  static const ExclusivePolicy kazoo(kazoo_election_profile());
  static const ExclusivePolicy turn(counter_turn_profile());
  for (const ExclusivePolicy* p : {&mutex, &latch, &selector, &kazoo, &turn})
    if (&p->m_profile == &profile) return *p;
  return mutex; // profiles are the five above
}

} // namespace zk::detail::lock
