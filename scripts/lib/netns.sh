# Helpers for test and demo topologies: "VMs" and upstream hosts as Linux network
# namespaces, attached to an appliance through veth pairs (the appliance takes the host end
# with an af_packet port). Sourced by scripts/demo.sh and tests/system/*.sh.
#
# Everything created is recorded, and netns_cleanup removes exactly that.

NETNS_CREATED=()
LINKS_CREATED=()
BRIDGES_CREATED=()

# netns_host NS HOST_IF [ADDR/PREFIX [ADDR6/PREFIX]]
#   A namespace NS whose eth0 is the peer of HOST_IF (left in the root namespace, up, no
#   addresses, IPv6 off so the kernel itself never sends from it).
netns_host() {
  local ns=$1 hif=$2 addr=${3:-} addr6=${4:-}
  ip netns add "$ns"
  NETNS_CREATED+=("$ns")
  ip link add "$hif" type veth peer name eth0 netns "$ns"
  LINKS_CREATED+=("$hif")
  sysctl -qw "net.ipv6.conf.$hif.disable_ipv6=1"
  ip link set "$hif" up
  ip netns exec "$ns" ip link set lo up
  ip netns exec "$ns" ip link set eth0 up
  # veth offloads checksums to "hardware" that never computes them; frames leave through a
  # packet socket as they are, so let the kernel fill in checksums itself.
  ip netns exec "$ns" ethtool -K eth0 tx off >/dev/null 2>&1 || true
  ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.eth0.accept_dad=0 2>/dev/null || true
  [[ -n "$addr" ]] && ip netns exec "$ns" ip addr add "$addr" dev eth0
  [[ -n "$addr6" ]] && ip netns exec "$ns" ip -6 addr add "$addr6" dev eth0 nodad
  return 0
}

# netns_vlan NS VID ADDR/PREFIX [ADDR6/PREFIX]: an 802.1Q subinterface eth0.VID in NS.
netns_vlan() {
  local ns=$1 vid=$2 addr=$3 addr6=${4:-}
  ip netns exec "$ns" ip link add link eth0 name "eth0.$vid" type vlan id "$vid"
  ip netns exec "$ns" sysctl -qw "net.ipv4.conf.eth0/$vid.rp_filter=0" 2>/dev/null || true
  ip netns exec "$ns" ip link set "eth0.$vid" up
  ip netns exec "$ns" ip addr add "$addr" dev "eth0.$vid"
  [[ -n "$addr6" ]] && ip netns exec "$ns" ip -6 addr add "$addr6" dev "eth0.$vid" nodad
  return 0
}

# veth_pair A B: a plain veth pair in the root namespace (e.g. a trunk into a bridge).
veth_pair() {
  ip link add "$1" type veth peer name "$2"
  LINKS_CREATED+=("$1")
  sysctl -qw "net.ipv6.conf.$1.disable_ipv6=1" "net.ipv6.conf.$2.disable_ipv6=1"
  ip link set "$1" up
  ip link set "$2" up
}

# upstream_bridge BR: a Linux bridge standing in for the upstream L2/L3 switch. With
# vlan_filtering where the kernel supports it (returns 0), a plain VLAN-unaware bridge where it
# does not (returns 1): that one forwards tagged frames untouched, so VLAN separation then
# rests on the appliances alone.
upstream_bridge() {
  local rc=0
  if ! ip link add "$1" type bridge vlan_filtering 1 2>/dev/null; then
    ip link add "$1" type bridge
    rc=1
  fi
  BRIDGES_CREATED+=("$1")
  sysctl -qw "net.ipv6.conf.$1.disable_ipv6=1"
  ip link set "$1" up
  return $rc
}

# uplink_ns NS HOST_IF:PEER_IF...: a namespace NS (an upstream switch or host) reached by veth
#   pairs whose host ends stay in the root namespace (bond members, uplinks), up, IPv6 off;
#   their peers are in NS, up. arp_ignore keeps NS's kernel from answering ARP on an interface
#   that is a bridge or bond member itself. A cable pulled: `ip netns exec NS ip link set PEER down`.
uplink_ns() {
  local ns=$1 pair hif pif
  shift
  ip netns add "$ns"
  NETNS_CREATED+=("$ns")
  ip netns exec "$ns" ip link set lo up
  ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv6.conf.all.disable_ipv6=1
  for pair in "$@"; do
    hif=${pair%%:*}
    pif=${pair#*:}
    ip link add "$hif" type veth peer name "$pif" netns "$ns"
    LINKS_CREATED+=("$hif")
    sysctl -qw "net.ipv6.conf.$hif.disable_ipv6=1"
    ip link set "$hif" up
    ip netns exec "$ns" ip link set "$pif" up
    ip netns exec "$ns" ethtool -K "$pif" tx off >/dev/null 2>&1 || true
  done
}

# wait_for SECONDS COMMAND...: runs COMMAND every 50 ms until it succeeds (0) or time is up (1).
wait_for() {
  local end=$((SECONDS + $1))
  shift
  while ((SECONDS <= end)); do
    "$@" && return 0
    sleep 0.05
  done
  return 1
}

# ping_counts FILE: "SENT RECEIVED" from the summary of ping's output in FILE ("0 0" if none).
ping_counts() {
  sed -nE 's/^([0-9]+) packets transmitted, ([0-9]+) received.*/\1 \2/p' "$1" | grep . || echo "0 0"
}

# ns_ping NS DEST [extra ping args]: 0 when DEST answers within ~3 s.
ns_ping() {
  local ns=$1 dst=$2
  shift 2
  ip netns exec "$ns" ping -n -q -c 2 -i 0.2 -W 1 "$@" "$dst" >/dev/null 2>&1 ||
    ip netns exec "$ns" ping -n -q -c 2 -i 0.2 -W 1 "$@" "$dst" >/dev/null 2>&1
}

netns_cleanup() {
  local x
  for x in "${LINKS_CREATED[@]}"; do ip link del "$x" 2>/dev/null || true; done
  for x in "${BRIDGES_CREATED[@]}"; do ip link del "$x" 2>/dev/null || true; done
  for x in "${NETNS_CREATED[@]}"; do ip netns del "$x" 2>/dev/null || true; done
  NETNS_CREATED=()
  LINKS_CREATED=()
  BRIDGES_CREATED=()
}
