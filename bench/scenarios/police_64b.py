"""police-64b: the l2-vlan job with a meter on every packet: in0 policed (docs/limits.md)."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import _l2common as l2  # noqa: E402

NAME = "police-64b"
DESCRIPTION = ("known unicast, access -> trunk, 64 B, 1k MACs, every packet through an srTCM "
               "meter on in0 (rate above line rate: all green, all forwarded)")
PROGRAM = "vswitch"
PEER = "ovs"  # the l2-vlan set-up plus ingress policing on in0 (OVS-DPDK: rte_meter srTCM)
PORTS = [("in0", "in"), ("out0", "out")]
# 100 Gbit/s: no packet of a single core's stream is red, so the figure is the metering cost.
RATE_BPS = 100_000_000_000
VARIANTS = [{"id": "1k-macs", "macs": 1000, "size": 64}]
SMOKE = {"id": "smoke", "macs": 256, "size": 64}


def traffic(v):
    return ["--macs", str(v["macs"]), "--size", str(v["size"])]


def config(v, ports):
    return l2.vswitch_config(v, ports, in_limit=f"{{rx: {{rate: {RATE_BPS}}}}}")


def ovs_setup(v, ovs):
    l2.ovs_setup(v, ovs, ovs.ports)
    # kbit/s and kbit: the same rate; a burst of 500 ms at it, as our default.
    ovs.vsctl("set", "interface", "in0", f"ingress_policing_rate={RATE_BPS // 1000}",
              f"ingress_policing_burst={RATE_BPS // 2000}")
