#!/usr/bin/env bash
# One-time (idempotent) set-up of a Debian 12 host for building, demonstrating and testing
# the suite: Debian packages, hugepages, and the build. Sourced-free: run it, or let
# scripts/demo.sh and scripts/test.sh run it for you.
#
#   scripts/setup.sh            install what is missing, reserve hugepages, build
#   scripts/setup.sh --no-build only the host part
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${BUILD_DIR:-$top/build}
do_build=1
[[ "${1:-}" == "--no-build" ]] && do_build=0

log() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }

[[ $(id -u) -eq 0 ]] || die "run as root: the suite needs hugepages, network namespaces and raw sockets"

# Everything the build, the demo and every test suite use. Keep in one list so CI on a fresh
# machine gets exactly what a developer's machine has.
packages=(
  build-essential binutils g++ meson ninja-build pkg-config
  dpdk dpdk-dev libdpdk-dev
  libyaml-cpp-dev libspdlog-dev libfmt-dev libboost-program-options-dev libpcap-dev
  # the /metrics endpoint's HTTP server; the metrics test's Prometheus text-format parser
  libmicrohttpd-dev python3-prometheus-client
  libgtest-dev libgmock-dev libbenchmark-dev
  iproute2 iputils-ping traceroute iperf3 netcat-openbsd ethtool tshark python3 python3-scapy python3-yaml
  vsftpd curl
  # the event shipper's TLS (RFC 5425) client; the shipper test's syslog receiver (rsyslog
  # with imtcp/imptcp and its GnuTLS driver) and certtool for the test's CA and server cert
  libgnutls28-dev rsyslog rsyslog-gnutls gnutls-bin
  # the bond tests' independent LACP / static-bond partner: Open vSwitch's userspace datapath
  # (scripts/lib/ovs.sh runs a private instance; no kernel module)
  openvswitch-switch
  procps psmisc util-linux
  # the install test (tests/system/install.sh): systemd-analyze verify and systemd-tmpfiles
  # on the installed units and snippets, logrotate on the log retention snippet
  systemd logrotate
  # fuzz suite: libFuzzer needs clang >= 16 here (the code captures structured bindings in
  # lambdas, which clang 14 rejects); llvm brings llvm-symbolizer for readable stacks
  clang-16 libclang-rt-16-dev llvm
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # tshark asks whether non-root users may capture; answer "no" without a terminal.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Hugepages: 2 MB pages, enough for a few appliances side by side (the demo runs one, the
# two-host system test two). A host that already reserved more keeps its setting.
want_pages=${VNF_HUGEPAGES:-512}
have_pages=$(cat /proc/sys/vm/nr_hugepages)
if ((have_pages < want_pages)); then
  echo "$want_pages" > /proc/sys/vm/nr_hugepages || true
  have_pages=$(cat /proc/sys/vm/nr_hugepages)
  log "hugepages: $have_pages x 2 MB reserved"
fi
if ! grep -qs '^[^ ]* /dev/hugepages hugetlbfs' /proc/mounts; then
  mkdir -p /dev/hugepages
  mount -t hugetlbfs nodev /dev/hugepages || log "warning: could not mount hugetlbfs; appliances fall back to --no-huge"
fi

if ((do_build)); then
  if [[ ! -f "$build_dir/build.ninja" ]]; then
    log "configuring $build_dir"
    meson setup "$build_dir" "$top" >/dev/null
  elif [[ $(meson introspect --buildoptions "$build_dir" | python3 -c '
import json, sys
o = {x["name"]: x["value"] for x in json.load(sys.stdin)}
print(o["prefix"], o["sysconfdir"], o["localstatedir"])') == "/usr/local etc /var/local" ]]; then
    # Configured before the project defaulted to sysconfdir=/etc and localstatedir=/var
    # (meson's own defaults under /usr/local are etc and /var/local): meson install would put
    # the config in /usr/local/etc/vnf. Changes no compile flag, rebuilds nothing.
    log "$build_dir: install paths sysconfdir=/etc localstatedir=/var (docs/operations.md, Install)"
    meson configure "$build_dir" -Dsysconfdir=/etc -Dlocalstatedir=/var >/dev/null
  fi
  log "building"
  ninja -C "$build_dir" >/dev/null || ninja -C "$build_dir"
fi
