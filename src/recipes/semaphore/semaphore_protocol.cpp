#include "recipes/semaphore/semaphore_protocol.hpp"

#include "recipes/counter/codec.hpp"
#include "recipes/lock/lock_protocol.hpp"

#include <algorithm>
#include <cctype>
#include <limits>

namespace zk::detail::semaphore {
namespace {

constexpr std::string_view lease_infix = "-lease-";
constexpr std::string_view protected_prefix = "_c_";

bool kazoo(SemaphoreProfile p) {
  return p == SemaphoreProfile::kazoo;
}

} // namespace

Layout layout(SemaphoreProfile profile, const std::string& path) {
  if (kazoo(profile)) return {path, path + "-__lock__"};
  return {path + "/leases", path + "/locks"};
}

LeasePolicy::LeasePolicy(SemaphoreProfile profile,
                         std::shared_ptr<const std::atomic<std::int32_t>> max)
    : m_profile(profile), m_max(std::move(max)) {}

const char* LeasePolicy::name() const {
  return kazoo(m_profile) ? "Kazoo Semaphore" : "semaphore";
}

bool LeasePolicy::sequential() const {
  return !kazoo(m_profile);
}

std::string LeasePolicy::make_guid() const {
  return lock::make_guid(kazoo(m_profile) ? lock::NameForm::kazoo : lock::NameForm::curator);
}

std::string LeasePolicy::node_prefix(std::string_view guid) const {
  if (kazoo(m_profile)) return std::string(guid);
  std::string out(protected_prefix);
  out += guid;
  out += lease_infix;
  return out;
}

bool LeasePolicy::created_with(std::string_view child, std::string_view guid) const {
  if (kazoo(m_profile)) return child == guid;
  const std::string prefix = node_prefix(guid);
  return child.substr(0, prefix.size()) == prefix &&
         lock::parse_sequence(child.substr(prefix.size()));
}

std::optional<std::string> LeasePolicy::find_own(const std::vector<std::string>& children,
                                                 std::string_view guid) const {
  // The lowest sequence: any duplicate of a create applied twice is stale (see decide()).
  std::optional<std::string> own;
  for (const auto& c : children) {
    if (created_with(c, guid) && (!own || c < *own)) own = c;
  }
  return own;
}

core::QueueDecision LeasePolicy::decide(const std::vector<std::string>& children,
                                        std::string_view me, std::string_view guid) const {
  core::QueueDecision d;
  if (std::find(children.begin(), children.end(), me) == children.end()) return d; // missing
  for (const auto& c : children) {
    if (c != me && created_with(c, guid)) d.stale_own.push_back(c);
  }
  const auto count = static_cast<std::int64_t>(children.size() - d.stale_own.size());
  if (count <= m_max->load()) {
    d.kind = core::QueueDecision::Kind::acquired;
  } else {
    d.kind = core::QueueDecision::Kind::wait;
    d.watch_children = true;
  }
  return d;
}

std::int32_t decode_shared_count(std::string_view data, std::string_view path) {
  if (data.size() != 4) {
    throw Error(Errc::bad_data, "shared count " + std::string(path) + " holds " +
                                    counter::show_bytes(data) +
                                    ", not a SharedCount (4 bytes, a big-endian int32)");
  }
  return static_cast<std::int32_t>(counter::decode(CounterCodec::int32_be, data, path, 0).value);
}

std::optional<std::int64_t> parse_kazoo_max(std::string_view data) {
  // Python's int(): optional surrounding whitespace and sign, then digits.
  while (!data.empty() && std::isspace(static_cast<unsigned char>(data.front())) != 0)
    data.remove_prefix(1);
  while (!data.empty() && std::isspace(static_cast<unsigned char>(data.back())) != 0)
    data.remove_suffix(1);
  bool negative = false;
  if (!data.empty() && (data.front() == '+' || data.front() == '-')) {
    negative = data.front() == '-';
    data.remove_prefix(1);
  }
  if (data.empty()) return std::nullopt;
  std::int64_t value = 0;
  for (const char c : data) {
    if (std::isdigit(static_cast<unsigned char>(c)) == 0) return std::nullopt;
    // Beyond int32 it is still a number (Kazoo parses any): saturated, it mismatches every maximum.
    if (value < std::numeric_limits<std::int64_t>::max() / 100) value = value * 10 + (c - '0');
  }
  return negative ? -value : value;
}

} // namespace zk::detail::semaphore
