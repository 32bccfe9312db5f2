#!/usr/bin/python3
"""bench/run.sh --pktgen: the same scenarios, driven by pktgen-dpdk over net_memif.

pktgen-dpdk is not part of Debian and not part of this repository: point PKTGEN at a build
(see docs/performance.md for what a small host needs). Layout on two cores, as measured here
(../shared/PKTGEN-NOTES.md): pktgen's main lcore on CPU 0 and its two ports on CPU 1; the
system under test forwards on CPU 0. pktgen's main thread spins too, so on two cores the setup
itself caps the figures: compare ours, the ceiling and the peer of one run, not absolutes.

  PKTGEN=/path/to/pktgen bench/run.sh --pktgen l2-vlan [--zero-loss] [--rounds N] ...
"""
import argparse
import datetime
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("bench", os.path.join(HERE, "bench.py"))
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)

LUA = os.path.join(bench.BENCH, "pktgen", "run.lua")


def memif_ports(scenario, sock):
    """in0/out0 become memif servers (ids 0 and 1, one socket); other outputs stay null."""
    ports = []
    for i, (name, role) in enumerate(scenario.PORTS):
        if name in ("in0", "out0"):
            mid = 0 if name == "in0" else 1
            ports.append(bench.Port(name, role,
                                    f"net_memif{i},role=server,id={mid},socket={sock},socket-abstract=no",
                                    f"type: memif, role: server, id: {mid}, socket: {sock}"))
        else:
            ports.append(bench.Port(name, role, f"net_null{i},no-rx=1", 'type: null, devargs: "no-rx=1"'))
    return ports


def run_pktgen(pktgen, sock, work, pcap, env, timeout):
    """Runs pktgen under a pseudo-terminal (it exits without one) and returns its result lines."""
    cmd = (f"{pktgen} -l 0-1 -n 1 --file-prefix vnf-bench-pktgen --huge-unlink -m 1024 --no-pci "
           f"--vdev net_memif0,role=client,id=0,socket={sock},socket-abstract=no "
           f"--vdev net_memif1,role=client,id=1,socket={sock},socket-abstract=no "
           f"-- -P -m 1.[0-1] -s 0:{pcap} -f {LUA}")
    log = os.path.join(work, "pktgen.log")
    with open(log, "wb") as out:
        p = subprocess.Popen(["script", "-qfec", cmd, "/dev/null"], stdout=out, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, env=dict(os.environ, **env))
        bench.STARTED.append(p)
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            raise RuntimeError(f"pktgen did not finish within {timeout} s (see {log})")
    text = open(log, "rb").read().decode("latin-1")
    if "VNF_PG_ERROR" in text:
        raise RuntimeError(re.search(r"VNF_PG_ERROR[^\r\n\x1b]*", text).group(0))
    res = re.findall(r"VNF_PG_RESULT ([^\r\n\x1b]*)", text)
    if not res:
        raise RuntimeError(f"pktgen printed no result (see {log})")
    kv = dict(x.split("=") for x in res[-1].split())
    trials = [dict(x.split("=") for x in t.split()) for t in re.findall(r"VNF_PG_TRIAL ([^\r\n\x1b]*)", text)]
    return kv, trials


def measure(system, pktgen, sock, work, pcap, env, timeout):
    bench.log(f"  {system.name}: starting")
    try:
        system.start()
        time.sleep(1.0)  # the memif servers listen; pktgen connects as client
        kv, trials = run_pktgen(pktgen, sock, work, pcap, env, timeout)
    finally:
        system.stop()
    secs = float(kv["seconds"])
    res = {"pktgen_tx": int(kv["tx"]), "pktgen_rx": int(kv["rx"]), "seconds": secs,
           "rate_percent": float(kv["rate"]), "rx_pps": int(kv["rx"]) / secs, "tx_pps": int(kv["tx"]) / secs,
           "trials": trials}
    bench.log(f"  {system.name}: {res['rx_pps'] / 1e6:.2f} Mpps forwarded ({kv['mode']}), "
              f"sent {res['tx_pps'] / 1e6:.2f} Mpps")
    return res


def main():
    ap = argparse.ArgumentParser(prog="bench/run.sh --pktgen", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pktgen", action="store_true")
    ap.add_argument("scenario")
    ap.add_argument("--variant")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--window", type=float, default=10.0)
    ap.add_argument("--zero-loss", action="store_true", help="RFC 2544-style binary search on the rate")
    ap.add_argument("--trial", type=float, default=3.0, help="seconds per zero-loss trial")
    ap.add_argument("--iterations", type=int, default=8, help="zero-loss search steps")
    ap.add_argument("--no-peer", action="store_true")
    ap.add_argument("--peer-ovs", action="store_true",
                    help="also run Open vSwitch over memif (off by default: on this kind of host OVS 3.1 "
                         "receives on net_memif but transmits nothing; see docs/performance.md)")
    ap.add_argument("--no-ceiling", action="store_true")
    ap.add_argument("--out-dir", default=os.path.join(bench.BENCH, "results"))
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()

    pktgen = os.environ.get("PKTGEN")
    if not pktgen or not os.access(pktgen, os.X_OK):
        sys.exit("bench: --pktgen needs PKTGEN=/path/to/pktgen (a pktgen-dpdk build; see docs/performance.md)")
    if not shutil.which("script"):
        sys.exit("bench: --pktgen needs script(1) from util-linux (pktgen wants a terminal)")
    scenario = bench.load_scenario(args.scenario)
    if not scenario:
        sys.exit(f"bench: unknown scenario '{args.scenario}' (see bench/run.sh --list)")
    variants = [v for v in scenario.VARIANTS if not args.variant or v["id"] == args.variant]
    bench.pinned_to_cpu0()
    os.makedirs(args.out_dir, exist_ok=True)
    work = tempfile.mkdtemp(prefix="vnf-bench-pg-")
    sock = os.path.join(work, "memif.sock")
    results = []
    try:
        for v in variants:
            vid = v["id"]
            bench.log(f"{scenario.NAME} / {vid} (pktgen over memif): {scenario.DESCRIPTION}")
            pcap = os.path.join(work, f"{scenario.NAME}-{vid}.pcap")
            subprocess.run([bench.PY, os.path.join(bench.BENCH, "lib", "genpcap.py"), pcap, *scenario.traffic(v)],
                           check=True)
            plain = isinstance(v.get("size", 64), int) and not v.get("broadcast")
            env = {"VNF_PG_MODE": "zero-loss" if args.zero_loss else "rate",
                   "VNF_PG_TRAFFIC": "range" if plain else "pcap",
                   "VNF_PG_SIZE": str(v.get("size", 64)), "VNF_PG_FLOWS": str(v.get("macs", 1000)),
                   "VNF_PG_RATE": "100", "VNF_PG_WARMUP": str(args.warmup), "VNF_PG_DURATION": str(args.window),
                   "VNF_PG_TRIAL": str(args.trial), "VNF_PG_ITERATIONS": str(args.iterations), "VNF_PG_LOSS": "0"}
            timeout = 120 + (args.iterations * (args.trial + 2) if args.zero_loss else args.warmup + args.window)
            mbufs = 65536 + v.get("macs", 1000)
            v = dict(v, mbufs=mbufs)
            ports = memif_ports(scenario, sock)
            systems = [lambda: bench.Ours(scenario, v, ports, work, lcores="1,0")]
            if not args.no_ceiling:
                systems.append(lambda: bench.Testpmd(ports, work, mbufs, fwd_core=0))
            peer_name = None
            if args.peer_ovs and not args.no_peer and getattr(scenario, "PEER", None) == "ovs" and bench.Ovs.available():
                peer_name = "ovs-dpdk"
                systems.append(lambda: bench.Ovs(scenario, v, ports, work, pmd_core=0))
            rounds = {}
            for r in range(args.rounds):
                bench.log(f" round {r + 1}/{args.rounds}")
                for make in systems:
                    s = make()
                    rounds.setdefault(s.role, []).append(measure(s, pktgen, sock, work, pcap, env, timeout))

            def med(role):
                return bench.median([x["rx_pps"] for x in rounds.get(role, [])])

            ours, ceiling, peer = med("ours"), med("ceiling"), med("peer")
            now = datetime.datetime.now().astimezone()
            r = {
                "scenario": f"{scenario.NAME}/{vid}", "description": scenario.DESCRIPTION,
                "timestamp": now.isoformat(timespec="seconds"),
                "method": "pktgen-zero-loss" if args.zero_loss else "pktgen",
                "generator": f"pktgen-dpdk ({pktgen}) over net_memif, {env['VNF_PG_TRAFFIC']} traffic",
                "cpu_model": bench.cpu_model(), "dpdk_version": bench.dpdk_version(),
                "suite_version": bench.our_version(), "program": scenario.PROGRAM,
                "packet_size": v.get("size", 64), "flows": v.get("macs"), "cores": 1, "rounds": args.rounds,
                "mpps": round(ours / 1e6, 3) if ours else None,
                "cycles_per_packet": None,  # the forwarding core is shared with pktgen's main thread
                "ceiling": "dpdk-testpmd --forward-mode=io" if ceiling else None,
                "ceiling_mpps": round(ceiling / 1e6, 3) if ceiling else None,
                "peer": peer_name if peer else None, "peer_mpps": round(peer / 1e6, 3) if peer else None,
                "ratio_to_ceiling": round(ours / ceiling, 3) if ours and ceiling else None,
                "ratio_to_peer": round(ours / peer, 2) if ours and peer else None,
                "rounds_detail": rounds,
            }
            results.append(bench.save_result(r, args.out_dir, f"{scenario.NAME}-{vid}-pktgen"))
    finally:
        bench.clean_up(work, args.keep)
    bench.publish(results, args.out_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
