#include "vrouter/neighbor_fsm.h"

namespace vrouter {

const char* neigh_state_name(NeighState s) {
  switch (s) {
    case NeighState::kIncomplete:
      return "incomplete";
    case NeighState::kReachable:
      return "reachable";
    case NeighState::kStale:
      return "stale";
    case NeighState::kProbe:
      return "probe";
    case NeighState::kFailed:
      return "failed";
    case NeighState::kPermanent:
      return "permanent";
  }
  return "?";
}

NeighAction NeighFsm::start(uint64_t now, const NeighTimers& t) {
  state = NeighState::kIncomplete;
  has_mac = false;
  unanswered = 1;
  next_ms = now + t.probe_interval_ms;
  return NeighAction::kProbeBroadcast;
}

void NeighFsm::make_permanent() {
  state = NeighState::kPermanent;
  has_mac = true;
  unanswered = 0;
  next_ms = UINT64_MAX;
}

void NeighFsm::set_monitored(bool on, uint64_t now) {
  if (monitored == on || state == NeighState::kPermanent) {
    monitored = on;
    return;
  }
  monitored = on;
  if (on) {
    if (next_ms > now) next_ms = now;  // probe now, then every interval
  } else if (state == NeighState::kReachable || state == NeighState::kFailed) {
    next_ms = now;  // back to ordinary aging from here
  }
}

void NeighFsm::link_down(uint64_t now, const NeighTimers& t) {
  if (state == NeighState::kPermanent) return;
  state = NeighState::kFailed;
  if (unanswered < t.probe_misses) unanswered = static_cast<uint8_t>(t.probe_misses);
  next_ms = now + t.probe_interval_ms;
}

bool NeighFsm::link_up(uint64_t now, const NeighTimers& t) {
  if (!monitored || state != NeighState::kFailed) return false;
  next_ms = now + t.probe_interval_ms;  // this probe is sent now, the next one then
  if (unanswered < 255) ++unanswered;
  return true;
}

bool NeighFsm::usable() const {
  if (!has_mac) return false;
  return state != NeighState::kFailed && state != NeighState::kIncomplete;
}

bool NeighFsm::confirm(bool solicited, bool mac_changed, uint64_t now, const NeighTimers& t) {
  if (state == NeighState::kPermanent) return false;
  const bool was_usable = usable();
  const bool was_route_usable = route_usable();
  if (solicited) {
    state = NeighState::kReachable;
    has_mac = true;
    unanswered = 0;
    confirmed_ms = now;
    next_ms = now + (monitored ? t.probe_interval_ms : t.reachable_ms);
  } else if (mac_changed || !has_mac || state == NeighState::kIncomplete ||
             state == NeighState::kFailed) {
    // New or changed link-layer address without proof of two-way reachability: STALE, and
    // the next use probes it (RFC 4861 §7.2.3-7.2.5).
    state = NeighState::kStale;
    has_mac = true;
    unanswered = 0;
    confirmed_ms = now;
    next_ms = now + (monitored ? t.probe_interval_ms : t.stale_check_ms);
  }
  return was_usable != usable() || was_route_usable != route_usable();
}

NeighAction NeighFsm::tick(uint64_t now, bool used, const NeighTimers& t) {
  if (used) last_use_ms = now;
  if (now < next_ms) return NeighAction::kNone;
  if (state == NeighState::kPermanent) {
    next_ms = UINT64_MAX;
    return NeighAction::kNone;
  }
  if (monitored) {
    // Probe every interval; probe_misses unanswered probes in a row: failed. A failed next hop
    // keeps being probed (broadcast) so that its return is noticed.
    next_ms = now + t.probe_interval_ms;
    if (state != NeighState::kFailed && unanswered >= t.probe_misses) {
      state = NeighState::kFailed;
      return NeighAction::kFail;
    }
    if (unanswered < 255) ++unanswered;
    return has_mac && unanswered == 1 && state != NeighState::kFailed
               ? NeighAction::kProbeUnicast
               : NeighAction::kProbeBroadcast;
  }
  switch (state) {
    case NeighState::kIncomplete:
      if (unanswered < t.probe_misses) {
        ++unanswered;
        next_ms = now + t.probe_interval_ms;
        return NeighAction::kProbeBroadcast;
      }
      state = NeighState::kFailed;
      next_ms = now + t.failed_hold_ms;
      return NeighAction::kFail;
    case NeighState::kReachable:
      state = NeighState::kStale;
      next_ms = now + t.stale_check_ms;
      return NeighAction::kNone;
    case NeighState::kStale: {
      if (used) {
        state = NeighState::kProbe;
        unanswered = 1;
        next_ms = now + t.probe_interval_ms;
        return NeighAction::kProbeUnicast;
      }
      const uint64_t last = last_use_ms > confirmed_ms ? last_use_ms : confirmed_ms;
      if (now - last >= t.aging_ms) return NeighAction::kRemove;
      next_ms = now + t.stale_check_ms;
      return NeighAction::kNone;
    }
    case NeighState::kProbe:
      if (unanswered < t.probe_misses) {
        ++unanswered;
        next_ms = now + t.probe_interval_ms;
        return NeighAction::kProbeUnicast;
      }
      state = NeighState::kFailed;
      next_ms = now + t.failed_hold_ms;
      return NeighAction::kFail;
    case NeighState::kFailed:
      return NeighAction::kRemove;
    case NeighState::kPermanent:
      break;
  }
  return NeighAction::kNone;
}

}  // namespace vrouter
