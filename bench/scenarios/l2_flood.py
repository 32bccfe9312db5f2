"""l2-flood: known unicast with a share of broadcast, flooded to every other port of the segment."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import _l2common as l2  # noqa: E402

NAME = "l2-flood"
DESCRIPTION = "1k MACs, 10 % broadcast flooded to 4 ports (trunk + 3 access), 64 B"
PROGRAM = "vswitch"
PEER = "ovs"
PORTS = [("in0", "in"), ("out0", "out"), ("out1", "out"), ("out2", "out"), ("out3", "out")]
VARIANTS = [{"id": "10pct-bcast", "macs": 1000, "size": 64, "broadcast": 0.1}]
SMOKE = {"id": "smoke", "macs": 256, "size": 64, "broadcast": 0.1}


def traffic(v):
    return ["--macs", str(v["macs"]), "--size", str(v["size"]), "--broadcast", str(v["broadcast"])]


def config(v, ports):
    return l2.vswitch_config(v, ports)


def ovs_setup(v, ovs):
    l2.ovs_setup(v, ovs, ovs.ports)


def micro_args(v):
    return ["--macs", str(v["macs"]), "--broadcast", str(v["broadcast"]), "--flood-ports", "4"]
