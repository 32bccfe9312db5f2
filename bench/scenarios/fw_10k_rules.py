"""fw-10k-rules: the stateful firewall with 10000 rules, 10 k established UDP flows, 64 B."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import _fwcommon as fw  # noqa: E402

NAME = "fw-10k-rules"
DESCRIPTION = "vfirewall, 10000 rules, 10k UDP flows both directions (established), 64 B"
PROGRAM = "vfirewall"
PEER = "ovs"  # conntrack pipeline: ct(), commit on new, established passes
PORTS = [("in0", "in"), ("out0", "out")]
VARIANTS = [{"id": "10k-flows", "rules": 10000, "flows": 10000, "size": 64}]
SMOKE = {"id": "smoke", "rules": 100, "flows": 512, "size": 64}


def traffic(v):
    return ["--flows", str(v["flows"]), "--both-directions", "--size", str(v["size"])]


def config(v, ports):
    return fw.vfirewall_config(v, ports)


def ovs_setup(v, ovs):
    fw.ovs_setup(v, ovs)


MICRO_EXE = "fw_bench"  # established-flow cycles/packet of parse + firewall + tx, in process


def micro_args(v):
    return fw.micro_args(v)
