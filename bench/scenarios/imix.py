"""imix: the l2-vlan job with the simple IMIX (7:4:1 of 64, 570, 1518 bytes)."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import _l2common as l2  # noqa: E402

NAME = "imix"
DESCRIPTION = "known unicast, access -> trunk, simple IMIX 7:4:1 of 64/570/1518 B, 1k MACs"
PROGRAM = "vswitch"
PEER = "ovs"
PORTS = [("in0", "in"), ("out0", "out")]
VARIANTS = [{"id": "1k-macs", "macs": 1000, "size": "imix"}]
SMOKE = {"id": "smoke", "macs": 256, "size": "imix"}


def traffic(v):
    return ["--macs", str(v["macs"]), "--size", str(v["size"]), "--frames", "12000"]


def config(v, ports):
    return l2.vswitch_config(v, ports)


def ovs_setup(v, ovs):
    l2.ovs_setup(v, ovs, ovs.ports)
