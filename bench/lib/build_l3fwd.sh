#!/usr/bin/env bash
# Builds DPDK's l3fwd example, the routing peer of the router scenarios, from the source that
# Debian's dpdk-doc package installs (/usr/share/dpdk/examples/l3fwd): out of tree, into
# OUT_DIR, with three changes a benchmark on virtual devices needs (BENCH-METHOD.md):
#   - the RX checksum offload request is masked with what the device offers, for the port and
#     each queue (net_pcap offers none; l3fwd would fail at configure and rx queue setup);
#   - the IPv4 LPM table holds 2 M rules (stock: 1024), for route-1m;
#   - the mbuf pool has at least 65536 buffers (stock: 8192), as it must hold the replayed pcap.
# Usage: bench/lib/build_l3fwd.sh OUT_DIR   (prints the path of the binary)
set -euo pipefail
out=$1
src=/usr/share/dpdk/examples/l3fwd
[[ -f $src/main.c ]] || { echo "no $src: apt-get install dpdk-doc" >&2; exit 1; }
if [[ -x $out/build/l3fwd && $out/.stamp -nt $src/main.c && $out/.stamp -nt $0 ]]; then
  echo "$out/build/l3fwd"
  exit 0
fi
rm -rf "$out"
mkdir -p "$out"
cp -r "$src"/. "$out"/
cd "$out"
/usr/bin/python3 - <<'PY'
import re
s = open("main.c").read()
old = "\t\tret = rte_eth_dev_configure(portid, nb_rx_queue,"
assert old in s, "main.c: rte_eth_dev_configure not where expected"
s = s.replace(old, "\t\tlocal_port_conf.rxmode.offloads &= dev_info.rx_offload_capa;\n" + old, 1)
old = "\t\t\trxq_conf.offloads = port_conf.rxmode.offloads;"
assert old in s, "main.c: rxq_conf.offloads not where expected"
s = s.replace(old, "\t\t\trxq_conf.offloads = port_conf.rxmode.offloads & dev_info.rx_offload_capa;", 1)
assert "(unsigned)8192)" in s
s = s.replace("(unsigned)8192)", "(unsigned)65536)")
open("main.c", "w").write(s)
l = open("l3fwd_lpm.c").read()
assert "#define IPV4_L3FWD_LPM_MAX_RULES         1024" in l
l = l.replace("#define IPV4_L3FWD_LPM_MAX_RULES         1024", "#define IPV4_L3FWD_LPM_MAX_RULES (1 << 21)")
open("l3fwd_lpm.c", "w").write(l)
PY
CFLAGS="-I/usr/share/dpdk/examples/common" make >build.log 2>&1 || { tail -20 build.log >&2; exit 1; }
touch .stamp
echo "$out/build/l3fwd"
