"""route-1m: 1 M IPv4 /24 routes (route file), random destinations, 64 B; the peer is DPDK's l3fwd (LPM) on the same ports and core."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from _routecommon import (MICRO_EXE, PEER, PORTS, PROGRAM, config, l3fwd_args, micro_args,  # noqa: E402,F401
                          prepare, traffic)

NAME = "route-1m"
DESCRIPTION = "vrouter, 1 M IPv4 /24 routes (route file), random destinations, 64 B"
VARIANTS = [{"id": "1m-routes", "routes": 1000000, "family": 4, "size": 64}]
SMOKE = {"id": "smoke", "routes": 256, "family": 4, "size": 64}
