"""route6: 1000 IPv6 /48 routes, random destinations, 78 B (the smallest IPv6/UDP frame); the peer is DPDK's l3fwd (LPM) on the same ports and core."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import _routecommon as rc  # noqa: E402

NAME = "route6"
DESCRIPTION = "vrouter, 1000 IPv6 /48 routes, random destinations, 78 B (the smallest IPv6/UDP frame)"
PROGRAM = "vrouter"
PEER = "l3fwd"
PORTS = [("in0", "in"), ("out0", "out")]
VARIANTS = [{"id": "1k-routes", "routes": 1000, "family": 6, "size": 78}]
SMOKE = {"id": "smoke", "routes": 256, "family": 6, "size": 78}


def prepare(v, work):
    return rc.prepare(v, work)


def traffic(v):
    return rc.traffic(v)


def config(v, ports):
    return rc.vrouter_config(v, ports)


def l3fwd_args(v):
    return rc.l3fwd_args(v)
