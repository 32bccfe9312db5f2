"""l2-vlan: VLAN switching of known unicast, access port -> trunk port (tag push), 64 B."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import _l2common as l2  # noqa: E402

NAME = "l2-vlan"
DESCRIPTION = "known unicast, access -> trunk (802.1Q push), 64 B, static MACs behind the trunk"
PROGRAM = "vswitch"
PEER = "ovs"  # NORMAL switching, access port tag=100 -> trunk, static fdb entries
PORTS = [("in0", "in"), ("out0", "out")]
VARIANTS = [
    {"id": "1k-macs", "macs": 1000, "size": 64},
    {"id": "100k-macs", "macs": 100000, "size": 64},
]
SMOKE = {"id": "smoke", "macs": 256, "size": 64}


def traffic(v):
    return ["--macs", str(v["macs"]), "--size", str(v["size"])]


def config(v, ports):
    return l2.vswitch_config(v, ports)


def ovs_setup(v, ovs):
    l2.ovs_setup(v, ovs, ovs.ports)


def micro_args(v):
    return ["--macs", str(v["macs"]), "--broadcast", "0"]
