// Connection timeouts (seconds) and the rule that picks one for a connection's state.
// Defaults follow Linux nf_conntrack where it has one. Pure: unit-tested without DPDK.
#pragma once

#include <cstdint>

#include "vfirewall/dp/tcp_state.h"

namespace vfirewall {

struct Timeouts {
  uint32_t tcp_syn = 120;             // syn_sent, syn_recv
  uint32_t tcp_established = 432000;  // 5 days
  uint32_t tcp_closing = 120;         // fin_wait, close_wait, last_ack
  uint32_t tcp_time_wait = 120;
  uint32_t tcp_close = 10;  // after a RST
  uint32_t udp_unreplied = 30;
  uint32_t udp_replied = 120;
  uint32_t icmp = 30;             // echo request/reply
  uint32_t other_unreplied = 30;  // other IP protocols
  uint32_t other_replied = 600;
};

inline constexpr uint8_t kProtoIcmp = 1, kProtoTcp = 6, kProtoUdp = 17, kProtoIcmp6 = 58;

inline uint32_t timeout_for(const Timeouts& t, uint8_t proto, TcpState tcp, bool replied) noexcept {
  switch (proto) {
    case kProtoTcp:
      switch (tcp) {
        case TcpState::kSynSent:
        case TcpState::kSynRecv:
          return t.tcp_syn;
        case TcpState::kEstablished:
          return t.tcp_established;
        case TcpState::kFinWait:
        case TcpState::kCloseWait:
        case TcpState::kLastAck:
          return t.tcp_closing;
        case TcpState::kTimeWait:
          return t.tcp_time_wait;
        default:
          return t.tcp_close;
      }
    case kProtoUdp:
      return replied ? t.udp_replied : t.udp_unreplied;
    case kProtoIcmp:
    case kProtoIcmp6:
      return t.icmp;
    default:
      return replied ? t.other_replied : t.other_unreplied;
  }
}

}  // namespace vfirewall
