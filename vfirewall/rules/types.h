// The few firewall types both sides share: the fast path (vfirewall/snapshot.h, dp/) and the
// rule compiler. No config structs here, so the fast path's headers never pull in yaml-cpp.
#pragma once

#include <cstdint>

namespace vfirewall {

enum class Action : uint8_t { kAccept, kDrop, kReject };
const char* action_name(Action a);

inline constexpr uint8_t kZoneNone = 0;  // classifier: no zone matched
inline constexpr unsigned kMaxZoneIds = 256;

// A rule's or policy's `log_rate` when the file gives none: conntrack.log_rate.
inline constexpr uint32_t kLogRateDefault = UINT32_MAX;

struct PairPolicy {
  Action action = Action::kDrop;
  bool log = false;
  uint32_t log_rate = kLogRateDefault;  // log records per second for this zone pair
};

}  // namespace vfirewall
