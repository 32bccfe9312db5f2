"""route6: 1000 IPv6 /48 routes, random destinations, 78 B (the smallest IPv6/UDP frame); the peer is DPDK's l3fwd (LPM) on the same ports and core."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from _routecommon import (MICRO_EXE, PEER, PORTS, PROGRAM, config, l3fwd_args, micro_args,  # noqa: E402,F401
                          prepare, traffic)

NAME = "route6"
DESCRIPTION = "vrouter, 1000 IPv6 /48 routes, random destinations, 78 B (the smallest IPv6/UDP frame)"
VARIANTS = [{"id": "1k-routes", "routes": 1000, "family": 6, "size": 78}]
SMOKE = {"id": "smoke", "routes": 256, "family": 6, "size": 78}
