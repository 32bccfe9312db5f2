// vnfctl why against real forwarding: a host switch with a router and a firewall; each row
// of a table of packets is first asked about (the worker runs the pipeline's dry variant),
// then the very same frame is sent for real, and where it went (or the drop reason that was
// counted) must be what `why` said. Rows cover the switch (segments, tags, MAC lookup, port
// security), the router (routed, held, answered, ICMP errors, ARP) and the firewall (rules,
// policy, connection state, spoofing). A probe must also leave no trace: nothing learned,
// no connection, no counter.
#include <gtest/gtest.h>

#include <set>

#include "common/app.h"
#include "common/why_request.h"
#include "tests/common/frames.h"
#include "tests/dataplane/harness.h"

using namespace testing_frames;
using dptest::SwitchHarness;
using vnf::DropReason;

namespace {

const char* kHost = R"(engine: {name: dpwhy}
segments:
  - {name: core, vlan: 100}
  - {name: info, vlan: 200}
ports:
  - {name: vm1, type: ring, mode: access, segment: core}
  - {name: vm2, type: ring, mode: access, segment: core}
  - {name: vm3, type: ring, mode: access, segment: info}
  - {name: trunk, type: ring, mode: trunk, segments: [core, info]}
router:
  interfaces:
    - {name: gw-core, segment: core, ipv4: [10.1.0.1/24]}
    - {name: gw-info, segment: info, ipv4: [10.2.0.1/24]}
firewall:
  conntrack: {size: 4096}
  zones:
    - {name: core, segments: [core], networks: [10.1.0.0/24]}
    - {name: info, segments: [info], networks: [10.2.0.0/24]}
  rules:
    - {id: core-info-db, from: core, to: info, service: [tcp/5432], action: accept, cross_segment: true}
    - {id: core-info-ssh, from: core, to: info, service: [tcp/22], action: reject, cross_segment: true}
)";

const char* A = "02:00:00:00:01:01";  // vm1 10.1.0.10
const char* B = "02:00:00:00:01:02";  // vm2 10.1.0.11
const char* C = "02:00:00:00:02:03";  // vm3 10.2.0.20

struct Row {
  const char* what;
  std::string params;   // the /vnf/why description
  const char* verdict;  // what why must answer (and reality do)
  const char* reason;   // drop reason ("" for none)
  std::set<std::string> egress;
};

// One tick of the control thread and a loop of the worker, a few times: ARP answers, held
// packets released, MACs learned.
void settle(SwitchHarness& h) {
  h.learn();
  for (int i = 0; i < 3; ++i) {
    h.sw().tick(vnf::monotonic_ms());
    h.poll();
  }
  h.learn();
  h.recv_all();
}

vnf::WhyResult ask(SwitchHarness& h, const std::string& params) {
  return vnf::run_why(h.engine(), h.sw().why_hooks(), params, [&] { h.poll(); });
}

std::set<std::string> names(SwitchHarness& h, const std::vector<uint16_t>& ids) {
  std::set<std::string> out;
  for (uint16_t id : ids) out.insert(h.engine().port_by_id(id)->device.name);
  return out;
}

uint64_t all_drops(SwitchHarness& h) {
  uint64_t n = 0;
  for (size_t r = 0; r < vnf::kDropReasonCount; ++r) n += h.drops(DropReason(r));
  return n;
}

}  // namespace

TEST(VswitchWhy, AgreesWithRealForwardingPacketByPacket) {
  SwitchHarness h(kHost);
  settle(h);  // the gateways' gratuitous ARP
  // The VMs make themselves known: the switch learns their MACs, the router their addresses.
  h.send("vm1", cat({eth(kBroadcast, mac(A), {}, 0x0806),
                     arp_request(mac(A), ip4("10.1.0.10"), ip4("10.1.0.1"))}));
  h.poll();
  settle(h);
  h.send("vm2", cat({eth(kBroadcast, mac(B), {}, 0x0806),
                     arp_request(mac(B), ip4("10.1.0.11"), ip4("10.1.0.1"))}));
  h.poll();
  settle(h);
  h.send("vm3", cat({eth(kBroadcast, mac(C), {}, 0x0806),
                     arp_request(mac(C), ip4("10.2.0.20"), ip4("10.2.0.1"))}));
  h.poll();
  settle(h);

  const std::string vm1 = std::string("port=vm1,src_mac=") + A;
  const std::string vm2 = std::string("port=vm2,src_mac=") + B;
  const std::string vm3 = std::string("port=vm3,src_mac=") + C;
  const std::string to_b = std::string(",dst_mac=") + B;
  const std::string to_a = std::string(",dst_mac=") + A;
  const std::string to_c = std::string(",dst_mac=") + C;
  const std::vector<Row> rows = {
      // switch
      {"broadcast ARP floods its segment only",
       (vm1 + ",proto=arp,src=10.1.0.10,dst=10.1.0.11"),
       "flood",
       "",
       {"vm2", "trunk"}},
      {"known unicast in the segment",
       (vm2 + to_a + ",src=10.1.0.11,dst=10.1.0.10,proto=icmp"),
       "forward",
       "",
       {"vm1"}},
      {"unknown unicast floods within the zone's ports",
       (vm1 + ",dst_mac=02:00:00:00:09:09,src=10.1.0.10,dst=10.1.0.99,proto=udp,dport=53"),
       "flood",
       "",
       {"vm2", "trunk"}},
      {"another segment's MAC is unknown here: no hop into info",
       (vm1 + to_c + ",src=10.1.0.10,dst=10.1.0.77,proto=udp,dport=53"),
       "flood",
       "",
       {"vm2", "trunk"}},
      {"tagged frame on an access port",
       (vm1 + to_b + ",vlan=200,src=10.1.0.10,dst=10.1.0.11"),
       "drop",
       "tagged_on_access",
       {}},
      {"trunk VLAN not allowed",
       ("port=trunk,src_mac=02:00:00:00:03:01" + to_b + ",vlan=300,src=10.1.0.5,dst=10.1.0.11"),
       "drop",
       "vlan_not_allowed",
       {}},
      {"untagged on a trunk without native",
       ("port=trunk,src_mac=02:00:00:00:03:01" + to_b + ",src=10.1.0.5,dst=10.1.0.11"),
       "drop",
       "untagged_not_allowed",
       {}},
      {"trunk to access in segment info",
       ("port=trunk,src_mac=02:00:00:00:03:02" + to_c +
        ",vlan=200,src=10.2.0.30,dst=10.2.0.20,proto=icmp"),
       "forward",
       "",
       {"vm3"}},
      {"multicast source MAC",
       ("port=vm1,src_mac=03:00:00:00:00:01" + to_b + ",src=10.1.0.10,dst=10.1.0.11"),
       "drop",
       "bad_src_mac",
       {}},
      {"802.1D reserved group",
       (vm1 + ",dst_mac=01:80:c2:00:00:00,src=10.1.0.10,dst=10.1.0.11"),
       "drop",
       "link_local",
       {}},
      {"destination behind the ingress port",
       (vm1 + to_a + ",src=10.1.0.10,dst=10.1.0.12"),
       "drop",
       "same_port",
       {}},
      {"longer than the port's MTU",
       (vm1 + to_b + ",src=10.1.0.10,dst=10.1.0.11,proto=udp,dport=9,len=1600"),
       "drop",
       "frame_too_long",
       {}},
      // router + firewall
      {"routed core -> info, rule accepts",
       (vm1 + ",dst_mac=gw,src=10.1.0.10,dst=10.2.0.20,dport=5432,flags=S"),
       "forward",
       "",
       {"vm3"}},
      {"the reply of that connection",
       (vm3 + ",dst_mac=gw,src=10.2.0.20,dst=10.1.0.10,sport=5432,dport=40000,flags=SA,ack=2"),
       "forward",
       "",
       {"vm1"}},
      {"a rule rejects; routed, it is dropped without a reset",
       (vm1 + ",dst_mac=gw,src=10.1.0.10,dst=10.2.0.20,dport=22"),
       "drop",
       "fw_rule_drop",
       {}},
      {"no rule: the zone pair's policy drops",
       (vm1 + ",dst_mac=gw,src=10.1.0.10,dst=10.2.0.20,dport=80"),
       "drop",
       "fw_policy_drop",
       {}},
      {"info may not open connections to core",
       (vm3 + ",dst_mac=gw,src=10.2.0.20,dst=10.1.0.10,dport=5432"),
       "drop",
       "fw_policy_drop",
       {}},
      {"an ACK without a connection",
       (vm1 + ",dst_mac=gw,src=10.1.0.10,dst=10.2.0.20,dport=5432,sport=41000,flags=A"),
       "drop",
       "fw_tcp_invalid",
       {}},
      {"a core VM using an info address",
       (vm1 + ",dst_mac=gw,src=10.2.0.99,dst=10.2.0.20,dport=5432"),
       "drop",
       "fw_spoofed_source",
       {}},
      {"inside the core zone",
       (vm2 + to_a + ",src=10.1.0.11,dst=10.1.0.10,dport=8080"),
       "forward",
       "",
       {"vm1"}},
      {"no route",
       (vm1 + ",dst_mac=gw,src=10.1.0.10,dst=192.0.2.1,proto=udp,dport=33434"),
       "drop",
       "no_route",
       {}},
      {"TTL runs out at the router",
       (vm1 + ",dst_mac=gw,src=10.1.0.10,dst=10.2.0.20,dport=5432,ttl=1"),
       "drop",
       "ttl_exceeded",
       {}},
      {"ping the gateway",
       (vm1 + ",dst_mac=gw,src=10.1.0.10,dst=10.1.0.1,proto=icmp"),
       "answer",
       "",
       {"vm1"}},
      {"ARP for the gateway goes to the router",
       (vm1 + ",proto=arp,src=10.1.0.10,dst=10.1.0.1"),
       "control",
       "",
       {}},
      {"next hop not resolved yet: held",
       (vm1 + ",dst_mac=gw,src=10.1.0.10,dst=10.2.0.77,dport=5432"),
       "control",
       "",
       {}},
  };
  ASSERT_GE(rows.size(), 20u);

  for (const Row& row : rows) {
    SCOPED_TRACE(row.what);
    // Why, then the same frame for real.
    const uint64_t drops_before = all_drops(h);
    const uint64_t learn_before = h.sw().learn_requests();
    const uint64_t conns_before = h.sw().firewall()->sessions_in_use();
    const vnf::WhyResult w = ask(h, row.params);
    ASSERT_EQ(w.error, "") << row.params;
    EXPECT_EQ(all_drops(h), drops_before) << "a probe counted a drop";
    EXPECT_EQ(h.sw().learn_requests(), learn_before) << "a probe asked to learn a MAC";
    EXPECT_EQ(h.sw().firewall()->sessions_in_use(), conns_before) << "a probe opened a connection";
    EXPECT_TRUE(h.recv_all().empty()) << "a probe sent something";
    const vnf::WhySummary s = vnf::summarize(w.trace);
    EXPECT_EQ(s.verdict, row.verdict);
    EXPECT_EQ(s.reason, row.reason);
    EXPECT_EQ(names(h, s.egress), row.egress);

    const DropReason reason = [&] {
      for (size_t r = 0; r < vnf::kDropReasonCount; ++r)
        if (vnf::drop_reason_name(DropReason(r)) == s.reason) return DropReason(r);
      return DropReason::kNone;
    }();
    const uint64_t reason_before = h.drops(reason);
    const std::vector<uint8_t> frame = vnf::build_why_frame(w.packet);
    h.send(w.packet.port, Bytes(frame.begin(), frame.end()));
    h.poll();
    const auto out = h.recv_all();
    std::set<std::string> got;
    for (const auto& [port, frames] : out)
      if (!frames.empty()) got.insert(port);
    if (s.verdict == "drop") {
      EXPECT_EQ(h.drops(reason), reason_before + 1) << "reality dropped it for another reason";
      std::set<std::string> icmp;
      if (s.icmp_error_out >= 0) icmp = names(h, {static_cast<uint16_t>(s.icmp_error_out)});
      EXPECT_EQ(got, icmp) << "the ICMP error (if any) and nothing else";
    } else {
      EXPECT_EQ(got, row.egress);
    }
    settle(h);
  }
}

TEST(VswitchWhy, NamesEveryStage) {
  SwitchHarness h(kHost);
  settle(h);
  const vnf::WhyResult w = ask(
      h, std::string("port=vm1,src_mac=") + A + ",dst_mac=gw,src=10.1.0.10,dst=10.2.0.20,dport=22");
  ASSERT_EQ(w.error, "");
  const vnf::WhyTrace& t = w.trace;
  EXPECT_EQ(t.l2_src, vnf::why::Src::kLearn);
  EXPECT_EQ(t.l2_dst, vnf::why::Dst::kUnknown) << "the gateway MAC is the router's, not learned";
  EXPECT_EQ(t.rt, vnf::why::Route::kHold) << "10.2.0.20 is not resolved yet";
  EXPECT_EQ(t.fw, vnf::why::Fw::kNone) << "held packets are judged when released";
  EXPECT_EQ(vnf::summarize(t).verdict, "control");

  // Errors name the parameter.
  EXPECT_NE(ask(h, "port=nope,src=10.1.0.1,dst=10.1.0.2").error.find("port"), std::string::npos);
  EXPECT_NE(ask(h, "port=vm1,src=10.1.0.1").error.find("dst"), std::string::npos);
  EXPECT_NE(ask(h, "port=vm1,src=10.1.0.1,dst=10.1.0.2,proto=tcp").error.find("dport"),
            std::string::npos);
  EXPECT_NE(ask(h, "port=vm1,src=10.1.0.1,dst=10.1.0.2,flags=Z,dport=1").error.find("flags"),
            std::string::npos);
  EXPECT_NE(ask(h, "port=vm1,src=10.1.0.1,dst=10.1.0.2,colour=red").error.find("colour"),
            std::string::npos);
}

// A flood whose copies reach several zones is judged once per zone; why must show a zone that
// takes it (here db, by its rule), not the last one judged (backup, which refuses), and the
// copies go where it says.
TEST(VswitchWhy, AFloodAcrossZonesShowsTheZoneThatTakesIt) {
  SwitchHarness h(R"(engine: {name: dpwhysplit}
segments:
  - {name: core, vlan: 100}
ports:
  - {name: vm1, type: ring, mode: access, segment: core}
  - {name: vm2, type: ring, mode: access, segment: core}
  - {name: vm3, type: ring, mode: access, segment: core}
firewall:
  conntrack: {size: 1024}
  zones:
    - {name: web, ports: [vm1]}
    - {name: db, ports: [vm2]}
    - {name: backup, ports: [vm3]}
  rules:
    - {id: web-db, from: web, to: db, service: [tcp/5432], action: accept}
)");
  const vnf::WhyResult w =
      ask(h, std::string("port=vm1,src_mac=") + A +
                 ",dst_mac=02:00:00:00:09:09,src=10.1.0.10,dst=10.1.0.11,proto=tcp,dport=5432");
  ASSERT_EQ(w.error, "");
  EXPECT_EQ(h.sw().firewall()->sessions_in_use(), 0u) << "a probe opened a connection";
  const vnf::WhySummary s = vnf::summarize(w.trace);
  EXPECT_EQ(s.verdict, "flood");
  EXPECT_EQ(names(h, s.egress), std::set<std::string>{"vm2"});
  EXPECT_EQ(std::string(w.trace.fw_zdst_name), "db");
  EXPECT_EQ(std::string(w.trace.fw_rule_id), "web-db");
  const std::vector<uint8_t> frame = vnf::build_why_frame(w.packet);
  h.send(w.packet.port, Bytes(frame.begin(), frame.end()));
  h.poll();
  const auto out = h.recv_all();
  EXPECT_EQ(out.count("vm2"), 1u);
  EXPECT_EQ(out.count("vm3"), 0u) << "backup's policy refuses its copy";
}
