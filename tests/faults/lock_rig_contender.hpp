// The state of one LockRig contender, shared by lock_rig.cpp (the workload) and
// lock_rig_history.cpp (what it recorded, and the checks).
#pragma once

#include "lock_rig.hpp"

namespace zkt::matrix {

struct LockRig::Contender {
  int index = 0;
  std::unique_ptr<zk::Session> session;
  std::unique_ptr<RigTarget> target;
  std::thread thread;
  std::int64_t first_session = 0;
  std::mt19937_64 rng;
  // Guarded by LockRig::m_mutex.
  bool pinned = false;
  bool parked = false;
  bool holding = false;      // between a successful lock call and the unlock call
  bool lost_in_hold = false; // on_lost came during this hold
  bool connected = true;     // by the session's own events
  bool seg_open = false;
  std::int64_t token = 0;
  bool shared = false; // the hold overlaps others' (a reader, a lease)
  std::int64_t seg_enter = 0;
  std::int64_t seg_number = 0;
  std::int64_t hold_enter = 0;
  std::vector<HoldRecord> segments;
  std::vector<std::int64_t> hold_starts;
  std::vector<std::int64_t> hold_tokens;
  std::vector<HoldRecord> whole; // each hold from lock call to unlock call (the last may be open)
  std::vector<Stamp> losses;
  std::vector<Stamp> uncertainty;
  std::vector<Stamp> states;
  std::vector<std::pair<std::int64_t, std::int64_t>> gone; // (hold enter, fenced said lock_lost)
  std::vector<std::pair<std::int64_t, std::int64_t>> expiries; // forced_expiry windows
};

} // namespace zkt::matrix
