#!/usr/bin/env bash
# Side-by-side forwarding benchmarks: ours, the framework ceiling (dpdk-testpmd io) and the
# peer (Open vSwitch with DPDK; DPDK l3fwd for routing), on the same virtual devices and the
# same forwarding core, in interleaved rounds. See docs/performance.md.
#
#   bench/run.sh --list                      the scenarios
#   bench/run.sh l2-vlan                     built-in traffic (pcap replay -> net_null)
#   PKTGEN=/path/to/pktgen bench/run.sh --pktgen l2-vlan    traffic from pktgen-dpdk over memif
#   bench/run.sh --install-peers             apt-get install the peers (OVS-DPDK, DPDK examples)
#   bench/run.sh l2-vlan --smoke             seconds: proves the harness (used by scripts/test.sh)
#   bench/run.sh bond-failover [ROUNDS]      bond failover interruption (bench/bond_failover.sh)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
export BUILD_DIR=${BUILD_DIR:-$top/build}

if [[ "${1:-}" == "--install-peers" ]]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends openvswitch-switch-dpdk dpdk-doc liblua5.3-dev
  exit 0
fi
if [[ "${1:-}" == "bond-failover" ]]; then
  shift
  exec bash "$top/bench/bond_failover.sh" "$@"
fi
for a in "$@"; do
  if [[ "$a" == "--pktgen" ]]; then
    exec /usr/bin/python3 "$top/bench/lib/pktgen.py" "$@"
  fi
done
if [[ ! -x "$BUILD_DIR/vswitch/vswitch" ]]; then
  "$top/scripts/setup.sh" >&2
fi
exec /usr/bin/python3 "$top/bench/lib/bench.py" "$@"
