// TCP connection tracking: the state machine and the sequence window check (Guido van
// Rooij, "Real Stateful TCP Packet Filtering in IP Filter", as Linux nf_conntrack_proto_tcp
// applies it). Pure functions on plain structs: the unit tests drive them without DPDK.
#pragma once

#include <cstdint>

namespace vfirewall {

enum class TcpState : uint8_t {
  kNone,         // no state yet
  kSynSent,      // SYN seen from the originator
  kSynRecv,      // SYN-ACK seen from the responder
  kEstablished,  // the handshake's final ACK seen
  kFinWait,      // one side sent FIN
  kCloseWait,    // the other side acknowledged that FIN
  kLastAck,      // both sides sent FIN
  kTimeWait,     // the last FIN was acknowledged
  kClose,        // RST seen
  kCount
};

inline constexpr const char* kTcpStateNames[] = {"none",        "syn_sent",  "syn_recv",
                                                 "established", "fin_wait",  "close_wait",
                                                 "last_ack",    "time_wait", "close"};

// What a segment means for the state machine, from its flags (RST > SYN(+ACK) > FIN > ACK).
enum class TcpEvent : uint8_t { kSyn, kSynAck, kFin, kAck, kRst, kNone, kCount };

inline constexpr uint8_t kTcpFin = 0x01, kTcpSyn = 0x02, kTcpRst = 0x04, kTcpPsh = 0x08,
                         kTcpAck = 0x10, kTcpUrg = 0x20;

inline TcpEvent tcp_event(uint8_t flags) noexcept {
  if (flags & kTcpRst) return TcpEvent::kRst;
  if (flags & kTcpSyn) {
    if (flags & kTcpFin) return TcpEvent::kNone;  // SYN+FIN: never valid
    return (flags & kTcpAck) ? TcpEvent::kSynAck : TcpEvent::kSyn;
  }
  if (flags & kTcpFin) return TcpEvent::kFin;
  if (flags & kTcpAck) return TcpEvent::kAck;
  return TcpEvent::kNone;  // no SYN, RST, FIN or ACK: a null scan
}

// Result of a transition: a new state, "ignore" (accept the segment, keep the state: a
// retransmission or a segment the machine has no opinion on) or "invalid" (drop it).
enum class TcpVerdict : uint8_t { kMove, kIgnore, kInvalid };

struct TcpTransition {
  TcpVerdict verdict;
  TcpState next;
};

namespace tcp_table {
using S = TcpState;
inline constexpr auto M = TcpVerdict::kMove;
inline constexpr auto I = TcpVerdict::kIgnore;
inline constexpr auto V = TcpVerdict::kInvalid;
// [event][state]; columns: none syn_sent syn_recv established fin_wait close_wait last_ack
// time_wait close. A SYN in time_wait/close from the originator reopens the connection.
// clang-format off
inline constexpr TcpTransition kOrig[6][9] = {
/* syn    */ {{M,S::kSynSent},{M,S::kSynSent},{I,S::kSynRecv},{I,S::kEstablished},{I,S::kFinWait},{I,S::kCloseWait},{I,S::kLastAck},{M,S::kSynSent},{M,S::kSynSent}},
/* synack */ {{V,S::kNone},{V,S::kSynSent},{V,S::kSynRecv},{V,S::kEstablished},{V,S::kFinWait},{V,S::kCloseWait},{V,S::kLastAck},{V,S::kTimeWait},{V,S::kClose}},
/* fin    */ {{V,S::kNone},{V,S::kSynSent},{M,S::kFinWait},{M,S::kFinWait},{M,S::kLastAck},{M,S::kLastAck},{M,S::kLastAck},{M,S::kTimeWait},{M,S::kClose}},
/* ack    */ {{V,S::kNone},{V,S::kSynSent},{M,S::kEstablished},{M,S::kEstablished},{M,S::kCloseWait},{M,S::kCloseWait},{M,S::kTimeWait},{M,S::kTimeWait},{M,S::kClose}},
/* rst    */ {{V,S::kNone},{M,S::kClose},{M,S::kClose},{M,S::kClose},{M,S::kClose},{M,S::kClose},{M,S::kClose},{M,S::kClose},{M,S::kClose}},
/* none   */ {{V,S::kNone},{V,S::kSynSent},{V,S::kSynRecv},{V,S::kEstablished},{V,S::kFinWait},{V,S::kCloseWait},{V,S::kLastAck},{V,S::kTimeWait},{V,S::kClose}},
};
inline constexpr TcpTransition kReply[6][9] = {
/* syn    */ {{V,S::kNone},{V,S::kSynSent},{V,S::kSynRecv},{V,S::kEstablished},{V,S::kFinWait},{V,S::kCloseWait},{V,S::kLastAck},{V,S::kTimeWait},{V,S::kClose}},
/* synack */ {{V,S::kNone},{M,S::kSynRecv},{I,S::kSynRecv},{I,S::kEstablished},{I,S::kFinWait},{I,S::kCloseWait},{I,S::kLastAck},{I,S::kTimeWait},{V,S::kClose}},
/* fin    */ {{V,S::kNone},{V,S::kSynSent},{M,S::kFinWait},{M,S::kFinWait},{M,S::kLastAck},{M,S::kLastAck},{M,S::kLastAck},{M,S::kTimeWait},{M,S::kClose}},
/* ack    */ {{V,S::kNone},{I,S::kSynSent},{M,S::kSynRecv},{M,S::kEstablished},{M,S::kCloseWait},{M,S::kCloseWait},{M,S::kTimeWait},{M,S::kTimeWait},{M,S::kClose}},
/* rst    */ {{V,S::kNone},{M,S::kClose},{M,S::kClose},{M,S::kClose},{M,S::kClose},{M,S::kClose},{M,S::kClose},{M,S::kClose},{M,S::kClose}},
/* none   */ {{V,S::kNone},{V,S::kSynSent},{V,S::kSynRecv},{V,S::kEstablished},{V,S::kFinWait},{V,S::kCloseWait},{V,S::kLastAck},{V,S::kTimeWait},{V,S::kClose}},
};
// clang-format on
}  // namespace tcp_table

// dir 0: originator -> responder; dir 1: responder -> originator.
inline TcpTransition tcp_transition(TcpState s, TcpEvent e, int dir) noexcept {
  const unsigned si = static_cast<unsigned>(s), ei = static_cast<unsigned>(e);
  if (si >= 9 || ei >= 6) return {TcpVerdict::kInvalid, s};
  return dir == 0 ? tcp_table::kOrig[ei][si] : tcp_table::kReply[ei][si];
}

// Sequence space comparisons (modulo 2^32).
inline bool seq_before(uint32_t a, uint32_t b) noexcept { return static_cast<int32_t>(a - b) < 0; }
inline bool seq_after(uint32_t a, uint32_t b) noexcept { return static_cast<int32_t>(b - a) < 0; }

// One direction's view of the window (the sender's).
struct TcpWindow {
  uint32_t end = 0;     // highest seq + len sent
  uint32_t maxend = 0;  // highest ack + window the peer allowed
  uint32_t maxwin = 0;  // largest window the sender advertised (0: direction not seen yet)
  uint8_t scale = 0;    // window scale the sender announced on its SYN (0 if not both did)
  uint8_t has_scale = 0;
};

struct TcpSegment {
  uint32_t seq;
  uint32_t ack;
  uint16_t win;  // raw window field
  uint16_t len;  // payload bytes
  uint8_t flags;
  int8_t wscale;  // window scale option of a SYN / SYN-ACK, -1 when absent
};

inline constexpr uint32_t kMaxAckWindowDefault = 66000;

// Checks a segment from `sender` against both directions' windows and, when it passes,
// updates them. Returns false for a segment outside the window (nothing is then updated).
// `check` false: only updates (window checking switched off for the zone).
inline bool tcp_window_update(TcpWindow& sender, TcpWindow& receiver, const TcpSegment& g,
                              bool check) noexcept {
  const bool syn = g.flags & kTcpSyn;
  const bool ackf = g.flags & kTcpAck;
  const uint32_t end = g.seq + g.len + (syn ? 1u : 0u) + ((g.flags & kTcpFin) ? 1u : 0u);
  if (sender.maxwin == 0) {
    // First segment of this direction: the originator's SYN or the responder's SYN-ACK.
    if (syn) {
      sender.has_scale = g.wscale >= 0;
      sender.scale = g.wscale >= 0 ? static_cast<uint8_t>(g.wscale > 14 ? 14 : g.wscale) : 0;
      if (ackf && !(sender.has_scale && receiver.has_scale)) sender.scale = receiver.scale = 0;
    }
    sender.end = sender.maxend = end;
    sender.maxwin = g.win ? g.win : 1;
    if (!ackf) return true;
  }
  const uint32_t win = syn ? g.win : static_cast<uint32_t>(g.win) << sender.scale;
  const uint32_t ack = ackf ? g.ack : receiver.end;
  if (check) {
    const uint32_t max_ack_win = sender.maxwin ? sender.maxwin : kMaxAckWindowDefault;
    const bool upper = !seq_after(g.seq, sender.maxend);                // not beyond the window
    const bool lower = !seq_before(end, sender.end - receiver.maxwin);  // not older than it
    bool ack_ok = true;
    if (receiver.maxwin != 0)  // the peer has spoken: its sequence space is known
      ack_ok = !seq_after(ack, receiver.end) && !seq_before(ack, receiver.end - max_ack_win);
    if (!(upper && lower && ack_ok)) return false;
  }
  if (g.flags & kTcpRst) return true;  // the connection ends: nothing to learn
  if (sender.maxwin < win) sender.maxwin = win ? win : 1;
  if (seq_after(end, sender.end)) sender.end = end;
  if (receiver.maxwin != 0 && seq_after(end, sender.maxend)) receiver.maxwin += end - sender.maxend;
  if (ackf && seq_after(ack + win, receiver.maxend - 1)) {
    receiver.maxend = ack + win;
    if (win == 0) ++receiver.maxend;
  }
  return true;
}

// Window scale option of a SYN segment: TCP options [20, data_offset) of `tcp`. -1 if absent.
inline int8_t tcp_wscale_option(const uint8_t* tcp, uint32_t hdr_len) noexcept {
  uint32_t i = 20;
  while (i < hdr_len) {
    const uint8_t kind = tcp[i];
    if (kind == 0) break;
    if (kind == 1) {
      ++i;
      continue;
    }
    if (i + 1 >= hdr_len) break;
    const uint8_t len = tcp[i + 1];
    if (len < 2 || i + len > hdr_len) break;
    if (kind == 3 && len == 3) return static_cast<int8_t>(tcp[i + 2]);
    i += len;
  }
  return -1;
}

}  // namespace vfirewall
