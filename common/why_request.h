// vnfctl why, the control side: parses a packet description (telemetry /vnf/why), builds the
// frame, has the worker that polls the ingress port run it through its pipeline's dry variant
// (common/why.h), and says what every stage decided.
//
//   /vnf/why,port=vm1,src=10.1.0.1,dst=10.2.0.7,proto=tcp,dport=443[,flags=S][,vlan=10]
//            [,src_mac=..][,dst_mac=..|gw][,sport=..][,ttl=..][,len=..][,type=..,code=..]
//            [,op=request|reply][,seq=N][,ack=N]
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <rte_telemetry.h>

#include "common/why.h"

namespace vnf {

class Engine;

using WhyMac = std::array<uint8_t, 6>;

struct WhyPacket {
  std::string port;
  uint16_t vlan = 0;  // 802.1Q VID of the frame's tag; tagged: the frame has one
  bool tagged = false;
  uint16_t tpid = 0x8100;
  std::optional<WhyMac> src_mac, dst_mac;
  bool dst_gw = false;  // dst_mac=gw: the router interface's MAC where the frame enters
  uint8_t family = 0;   // 4 or 6 (0: ARP or no address given)
  uint8_t src[16] = {}, dst[16] = {};
  bool has_src = false, has_dst = false;
  uint8_t proto = 0;  // IP protocol
  bool arp = false;
  uint16_t arp_op = 1;
  uint16_t sport = 40000, dport = 0;
  uint8_t tcp_flags = 0x02;
  uint32_t seq = 1, ack = 0;  // ack 0: seq of the other side unknown, 2 when ACK is set
  bool ack_set = false;
  uint8_t ttl = 64;
  int icmp_type = -1, icmp_code = 0;
  uint32_t len = 0;  // frame length (0: the headers, padded to 60)
};

// "k=v,k=v,...": throws std::invalid_argument naming the parameter that is wrong.
WhyPacket parse_why(const std::string& params);
// The frame's bytes (MACs resolved).
std::vector<uint8_t> build_why_frame(const WhyPacket& p);
std::string describe_why_packet(const WhyPacket& p);

// What only the program knows: names and defaults. Called on the telemetry thread; each takes
// its owner's control-plane lock.
struct WhyHooks {
  // A MAC the switch learned on (port, VLAN), for a description without src_mac.
  std::function<std::optional<WhyMac>(uint16_t port, uint16_t vlan)> learned_mac;
  // The router interface's MAC where a frame enters (port, VLAN), for dst_mac=gw and for a
  // description without dst_mac.
  std::function<std::optional<WhyMac>(uint16_t port, uint16_t vlan)> gateway_mac;
  std::function<std::string(uint16_t vlan)> segment;    // a segment's name ("" none)
  std::function<std::string(uint8_t iface)> interface;  // a router interface's name
  bool macs_matter = true;  // false (a firewall wire): dst_mac has a default
};

struct WhyResult {
  WhyPacket packet;
  WhyTrace trace;
  std::string error;  // set: nothing was run
};

// Runs one probe. `pump` plays the worker in tests (called while waiting); without it the
// workers must be running.
WhyResult run_why(Engine& e, const WhyHooks& h, const std::string& params,
                  const std::function<void()>& pump = {}, unsigned timeout_ms = 2000);

// The outcome in short: what tests compare with real forwarding, and the reply's head.
struct WhySummary {
  std::string verdict;           // forward, flood, answer, control, drop
  std::string reason;            // drop: the drop reason's name
  std::vector<uint16_t> egress;  // port ids (forward, flood, answer)
  int icmp_error_out = -1;       // a drop the router answers with an ICMP error: its port
};
WhySummary summarize(const WhyTrace& t);

// The answer as a telemetry dict (the /vnf/why reply).
void why_to_telemetry(const Engine& e, const WhyHooks& h, const WhyResult& r, rte_tel_data* d);

// Registers /vnf/why for an engine and its program's hooks.
void register_why_telemetry(Engine& e, WhyHooks h);

}  // namespace vnf
