#!/usr/bin/env bash
# FTP through vfirewall with a real server (vsftpd) and client (curl), IPv4 and IPv6:
# the only rule allows the control connection (tcp/21) from the client's zone to the
# server's; every data connection must be accepted as related by the FTP helper:
#   passive (PASV/227, EPSV/229) and active (PORT, EPRT), each a 256 kB file checked byte
#   for byte. Then the helper is switched off by reload (ftp: {ports: []}) and a passive
#   transfer must fail: the data connection really depended on it.
source "$(dirname "$0")/lib.sh"

cat >"$WORK/fw.yaml" <<YAML
# program: vfirewall
engine: {name: fwsys2, lcores: [0, 1], memory_mb: 256, idle_sleep_us: 100}
ports:
  - {name: clients, type: af_packet, iface: fwfc0}
  - {name: servers, type: af_packet, iface: fwfs0}
wires: [[clients, servers]]
zones:
  - {name: office, ports: [clients]}
  - {name: dc, ports: [servers]}
rules:
  - {id: ftp-control, from: office, to: dc, service: [tcp/21], action: accept, log: true}
ftp:
  ports: [21]
YAML

netns_host fwfc fwfc0 10.78.0.1/24 fd00:78::1/64
netns_host fwfs fwfs0 10.78.0.2/24 fd00:78::2/64

# The FTP server: vsftpd, anonymous read-only, dual stack, in the server namespace.
chmod 755 "$WORK"
mkdir -p "$WORK/ftproot" "$WORK/empty"
head -c 262144 /dev/urandom >"$WORK/ftproot/data.bin"
chmod 755 "$WORK/ftproot" "$WORK/empty"
chmod 644 "$WORK/ftproot/data.bin"
cat >"$WORK/vsftpd.conf" <<CONF
listen=NO
listen_ipv6=YES
background=NO
anonymous_enable=YES
no_anon_password=YES
local_enable=NO
write_enable=NO
anon_root=$WORK/ftproot
secure_chroot_dir=$WORK/empty
pasv_enable=YES
pasv_min_port=50000
pasv_max_port=50100
port_enable=YES
connect_from_port_20=NO
seccomp_sandbox=NO
xferlog_enable=NO
vsftpd_log_file=$WORK/vsftpd.xfer
dual_log_enable=NO
use_localtime=NO
CONF

start_appliance fw vfirewall "$WORK/fw.yaml" || exit 1
P=vnf-fwsys2

ip netns exec fwfs /usr/sbin/vsftpd "$WORK/vsftpd.conf" >"$WORK/vsftpd.log" 2>&1 &
ftpd=$!
APPLIANCE_PIDS+=("$ftpd")
sleep 1
if ! kill -0 $ftpd 2>/dev/null; then
  fail "vsftpd started"
  cat "$WORK/vsftpd.log"
  exit 1
fi

fetch() {  # fetch NAME URL [curl options]: downloads data.bin, checks it byte for byte
  local name=$1 url=$2
  shift 2
  rm -f "$WORK/got.$name"
  ip netns exec fwfc curl -s -S --max-time 15 --connect-timeout 5 "$@" "$url" -o "$WORK/got.$name" \
    2>>"$WORK/curl.log" && cmp -s "$WORK/ftproot/data.bin" "$WORK/got.$name"
}

check "passive IPv4, EPSV (229)" fetch epsv4 ftp://10.78.0.2/data.bin
check "passive IPv4, PASV (227)" fetch pasv4 ftp://10.78.0.2/data.bin --disable-epsv
check "active IPv4, EPRT" fetch eprt4 ftp://10.78.0.2/data.bin -P -
check "active IPv4, PORT" fetch port4 ftp://10.78.0.2/data.bin -P - --disable-eprt
check "passive IPv6, EPSV (229)" fetch epsv6 "ftp://[fd00:78::2]/data.bin" -g
check "active IPv6, EPRT" fetch eprt6 "ftp://[fd00:78::2]/data.bin" -g -P -

related=$(tel_get $P /vnf/fw/stats 'r["related"]')
check "telemetry: data connections accepted as related ($related)" test "${related:-0}" -ge 6
hits=$(tel_get $P /vnf/fw/rules 'r["ftp_control"]["hits"]')
check "telemetry: ftp-control hits ($hits)" test "${hits:-0}" -ge 6
check "log: ftp-control connections logged as fw-log records" grep -q "fw-log: .*rule=ftp-control action=accept from=office to=dc proto=tcp" "$WORK/fw.log"

# Only the control port is open: a plain TCP connection to the passive range is refused.
check_not "no rule opens the passive port range by itself" ip netns exec fwfc timeout 5 nc -z -w 2 10.78.0.2 50000

# Without the helper the same passive transfer fails.
sed -i 's/  ports: \[21\]/  ports: []/' "$WORK/fw.yaml"
kill -HUP "$(cat "$WORK/fw.pid")"
wait_for 10 generation_is $P 2
gen=$(generation $P)
check "reload with the FTP helper off (generation $gen)" test "$gen" = 2
check_not "helper off: passive IPv4 transfer fails" fetch off4 ftp://10.78.0.2/data.bin --max-time 6

kill $ftpd 2>/dev/null
wait $ftpd 2>/dev/null
stop_appliance fw
rc=$?
check "SIGTERM: clean exit (status $rc)" test "$rc" -eq 0
