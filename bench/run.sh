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
#   bench/run.sh route-1k --baseline DIR     also the programs of build directory DIR, interleaved
#                                            (before/after a change: DIR built at the commit before)
#
# Measurements run a meson `release` build at -O2 with asserts off (NDEBUG) in build-release/,
# made or brought up to date here; --smoke (scripts/test.sh) runs build/. BUILD_DIR overrides
# both. Not -O3: it made the parser 7 cycles per packet slower (docs/performance.md).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)

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
if [[ ! -x "$top/build/vswitch/vswitch" ]]; then
  "$top/scripts/setup.sh" >&2  # the packages, and build/
fi
smoke=0
for a in "$@"; do [[ "$a" == "--smoke" || "$a" == "--list" ]] && smoke=1; done
if [[ -z "${BUILD_DIR:-}" ]]; then
  if ((smoke)); then
    BUILD_DIR=$top/build
  else
    BUILD_DIR=$top/build-release
    if [[ ! -f "$BUILD_DIR/build.ninja" ]]; then
      meson setup "$BUILD_DIR" "$top" --buildtype=release -Doptimization=2 -Db_ndebug=true >&2
    fi
    # Only what the bench runs: the programs and the stage microbenchmarks.
    ninja -C "$BUILD_DIR" vswitch/vswitch vfirewall/vfirewall vrouter/vrouter \
      bench/stage_bench bench/fw_bench bench/route_bench >&2
  fi
fi
export BUILD_DIR
exec /usr/bin/python3 "$top/bench/lib/bench.py" "$@"
