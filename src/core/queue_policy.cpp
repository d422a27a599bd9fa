// The queue engine's pure rules that belong to no single policy.
#include "core/queue_policy.hpp"

namespace zk::detail::core {

bool hand_over_locally(std::size_t handoffs_done, std::chrono::milliseconds held_for,
                       std::size_t max_handoffs, std::chrono::milliseconds max_hold,
                       bool local_waiters) {
  return local_waiters && handoffs_done < max_handoffs && held_for < max_hold;
}

} // namespace zk::detail::core
