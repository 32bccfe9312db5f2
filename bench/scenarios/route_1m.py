"""route-1m: 1 M IPv4 /24 routes (route file), random destinations, 64 B; the peer is DPDK's l3fwd (LPM) on the same ports and core."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import _routecommon as rc  # noqa: E402

NAME = "route-1m"
DESCRIPTION = "vrouter, 1 M IPv4 /24 routes (route file), random destinations, 64 B"
PROGRAM = "vrouter"
PEER = "l3fwd"
PORTS = [("in0", "in"), ("out0", "out")]
VARIANTS = [{"id": "1m-routes", "routes": 1000000, "family": 4, "size": 64}]
SMOKE = {"id": "smoke", "routes": 256, "family": 4, "size": 64}


def prepare(v, work):
    return rc.prepare(v, work)


def traffic(v):
    return rc.traffic(v)


def config(v, ports):
    return rc.vrouter_config(v, ports)


def l3fwd_args(v):
    return rc.l3fwd_args(v)
