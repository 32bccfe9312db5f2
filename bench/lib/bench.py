#!/usr/bin/python3
"""The bench driver behind bench/run.sh.

For a scenario (bench/scenarios/<name>.py) and each of its variants, in interleaved rounds
(ours, ceiling, peer, ours, ceiling, peer, ...):
  - starts the system: our appliance with the scenario's config, dpdk-testpmd io forwarding
    (the framework ceiling) or the peer (Open vSwitch with DPDK, DPDK l3fwd) on the same
    virtual devices and the same forwarding core (CPU 1; everything else on CPU 0);
  - waits for the first forwarded packet, lets it warm up, then counts packets over a steady
    window from the ports' own counters (DPDK telemetry /ethdev/stats, which every DPDK
    application answers);
  - stops it.
Then writes bench/results/<scenario>-<variant>-<timestamp>.json and one Markdown row per
variant (printed, and appended to bench/results/results.md).

Traffic: built-in mode replays a generated pcap from memory (net_pcap infinite_rx) into the
system, output to net_null; --pktgen mode drives the same scenarios from pktgen-dpdk over
net_memif (see bench/pktgen/).
"""
import argparse
import datetime
import importlib.util
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("BUILD_DIR", os.path.join(TOP, "build"))
BENCH = os.path.join(TOP, "bench")
PY = "/usr/bin/python3"
OVS_VSWITCHD = "/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk"
RUNTIME = "/var/run/dpdk"

STARTED = []  # Popen objects we started: stopped on any exit

sys.path.insert(0, os.path.join(BENCH, "scenarios"))
from _l2common import memory_mb  # noqa: E402  (the pool sizing every system shares)


def log(msg):
    print(f"[bench] {msg}", flush=True)


# ---------------------------------------------------------------------------- telemetry


class Telemetry:
    """DPDK telemetry client (the protocol of dpdk-telemetry.py)."""

    def __init__(self, prefix, timeout=30.0):
        path = os.path.join(RUNTIME, prefix, "dpdk_telemetry.v2")
        deadline = time.time() + timeout
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                if time.time() > deadline:
                    raise RuntimeError(f"no telemetry at {path}")
                time.sleep(0.2)
        self.max_len = json.loads(self.sock.recv(1024).decode()).get("max_output_len", 16384)

    def get(self, cmd):
        self.sock.send(cmd.encode())
        reply = json.loads(self.sock.recv(self.max_len).decode())
        return list(reply.values())[0]

    def close(self):
        self.sock.close()


# ---------------------------------------------------------------------------- systems


class System:
    """Something that forwards from the input port(s) to the output port(s)."""

    role = "ours"
    startup_s = 60  # from start to the first forwarded packet

    def __init__(self, name, ports):
        self.name = name
        self.proc = None
        self.tel = None
        self.prefix = None
        # Counted: what the input ports received and the output ports sent.
        self.in_ports = [i for i, p in enumerate(ports) if p.role == "in"]
        self.out_ports = [i for i, p in enumerate(ports) if p.role == "out"]

    def start(self):
        raise NotImplementedError

    def counters(self):
        """(packets received on the input ports, packets sent on the output ports)."""
        rx = sum(self.tel.get(f"/ethdev/stats,{p}")["ipackets"] for p in self.in_ports)
        tx = sum(self.tel.get(f"/ethdev/stats,{p}")["opackets"] for p in self.out_ports)
        return rx, tx

    def extra(self):
        return {}

    def stop(self):
        if self.tel:
            self.tel.close()
            self.tel = None
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def _spawn(self, cmd, logfile, **kw):
        self.logfile = logfile
        out = open(logfile, "w")
        # Appliances pin their own threads (EAL lcores); the helper threads they inherit our
        # CPU 0 affinity, which is what we want.
        self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, **kw)
        STARTED.append(self.proc)

    def _died(self):
        return self.proc is not None and self.proc.poll() is not None

    def log_tail(self, n=15):
        try:
            with open(self.logfile) as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""


class Ours(System):
    role = "ours"

    def __init__(self, scenario, variant, ports, work, lcores="0,1", build=None, role=None):
        super().__init__(scenario.PROGRAM, ports)
        self.build = build or BUILD
        if role:  # "baseline": the same program from another build directory (--baseline)
            self.role = role
            self.name = f"{scenario.PROGRAM} ({role}: {self.build})"
        self.lcores = lcores  # main lcore first; the worker gets the other
        self.program = scenario.PROGRAM
        self.prefix = "vnf-bench"
        self.cfg = os.path.join(work, f"{self.program}.yaml")
        with open(self.cfg, "w") as f:
            f.write(scenario.config(variant, ports))
        self.work = work
        self.tsc_hz = None

    def start(self):
        exe = os.path.join(self.build, self.program, self.program)
        self._spawn([exe, "-c", self.cfg, "--file-prefix", self.prefix, "--lcores", self.lcores],
                    os.path.join(self.work, f"{self.program}.log"))
        deadline = time.time() + 120
        while time.time() < deadline:
            if self._died():
                raise RuntimeError(f"{self.program} exited:\n{self.log_tail()}")
            with open(self.logfile) as f:
                if "running:" in f.read():
                    break
            time.sleep(0.2)
        else:
            raise RuntimeError(f"{self.program} did not start:\n{self.log_tail()}")
        self.tel = Telemetry(self.prefix)
        self.tsc_hz = self.tel.get("/vnf/info").get("tsc_hz")

    def extra(self):
        drops = {k: v for k, v in self.tel.get("/vnf/drops").items() if v}
        out = {"drops": drops}
        if self.program == "vswitch":
            meters = self.meters()
            if meters:
                out["meters"] = meters
        return out

    def meters(self):
        """The limit meters (/vnf/limits, every page) with their colour counts since start: a
        metered scenario proves with them that its packets went through a meter."""
        keep = ("port", "segment", "class", "dir", "mode", "rate_bps", "green_packets",
                "yellow_packets", "red_packets")
        rows, offset = [], 0
        for _ in range(64):
            page = self.tel.get(f"/vnf/limits,{offset}" if offset else "/vnf/limits") or {}
            rows += [{k: r.get(k) for k in keep} for r in page.values() if isinstance(r, dict)]
            nxt = page.get("next_offset")
            if not isinstance(nxt, int) or nxt <= offset:
                break
            offset = nxt
        return rows


class Testpmd(System):
    role = "ceiling"

    def __init__(self, ports, work, mbufs, mode="io", fwd_core=1):
        super().__init__(f"testpmd-{mode}", ports)
        self.fwd_core = fwd_core
        self.prefix = "vnf-bench-testpmd"
        self.ports, self.work, self.mbufs, self.mode = ports, work, mbufs, mode
        # io forwarding pairs ports 0-1, 2-3, ...: the input's partner is the output.
        self.out_ports = [i ^ 1 for i in self.in_ports]

    def start(self):
        mem = memory_mb(self.mbufs)
        cmd = ["dpdk-testpmd", "-l", "0,1", "--main-lcore", str(1 - self.fwd_core), "--file-prefix", self.prefix,
               "--huge-unlink", "-m", str(mem), "--no-pci"]
        for p in self.ports:
            cmd += ["--vdev", p.vdev]
        cmd += ["--", "--nb-cores=1", f"--forward-mode={self.mode}", f"--total-num-mbufs={self.mbufs}",
                "--stats-period=1", "--auto-start"]
        self._spawn(cmd, os.path.join(self.work, "testpmd.log"))
        self.tel = Telemetry(self.prefix, timeout=60)


class Ovs(System):
    """Open vSwitch with DPDK, private instance (db, sockets, logs in the work dir)."""

    role = "peer"

    def __init__(self, scenario, variant, ports, work, pmd_core=1):
        super().__init__("ovs-dpdk", ports)
        self.pmd_core = pmd_core
        self.scenario, self.variant, self.ports = scenario, variant, ports
        self.dir = os.path.join(work, "ovs")
        self.prefix = "vnf-bench-ovs"
        self.env = dict(os.environ, OVS_RUNDIR=self.dir, OVS_LOGDIR=self.dir, OVS_DBDIR=self.dir,
                        OVS_SYSCONFDIR=self.dir)
        self.vswitchd_pid = None
        self.ovsdb_pid = None

    @staticmethod
    def available():
        return os.path.exists(OVS_VSWITCHD) and shutil.which("ovsdb-server") is not None

    def vsctl(self, *args):
        subprocess.run(["ovs-vsctl", f"--db=unix:{self.dir}/db.sock", *args], check=True,
                       env=self.env, stdout=subprocess.DEVNULL)

    def appctl(self, *args):
        ctl = f"{self.dir}/ovs-vswitchd-dpdk.{self.vswitchd_pid}.ctl"
        return subprocess.run(["ovs-appctl", "-t", ctl, *args], check=True, env=self.env,
                              capture_output=True, text=True).stdout

    def start(self):
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        d = self.dir
        subprocess.run(["ovsdb-tool", "create", f"{d}/conf.db", "/usr/share/openvswitch/vswitch.ovsschema"],
                       check=True, env=self.env)
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}  # they have log files
        subprocess.run(["ovsdb-server", f"{d}/conf.db", f"--remote=punix:{d}/db.sock",
                        f"--pidfile={d}/ovsdb.pid", "--detach", f"--log-file={d}/ovsdb.log"],
                       check=True, env=self.env, **quiet)
        self.ovsdb_pid = int(open(f"{d}/ovsdb.pid").read())
        self.vsctl("--no-wait", "init")
        other = 1 - self.pmd_core
        self.vsctl("--no-wait", "set", "Open_vSwitch", ".", "other_config:dpdk-init=true",
                   f"other_config:dpdk-lcore-mask={1 << other:#x}",
                   f"other_config:pmd-cpu-mask={1 << self.pmd_core:#x}",
                   "other_config:dpdk-socket-mem=1024",
                   f"other_config:dpdk-extra=--file-prefix={self.prefix} --huge-unlink --no-pci")
        # Everything but the PMD thread on the other CPU, as for every other system.
        subprocess.run(["taskset", "-c", str(other), OVS_VSWITCHD, f"unix:{d}/db.sock",
                        f"--pidfile={d}/vswitchd.pid", "--detach", f"--log-file={d}/vswitchd.log"],
                       check=True, env=self.env, **quiet)
        self.vswitchd_pid = int(open(f"{d}/vswitchd.pid").read())
        self.logfile = f"{d}/vswitchd.log"
        self.vsctl("add-br", "br0", "--", "set", "bridge", "br0", "datapath_type=netdev")
        # The bridge's own internal port sits in an unused VLAN so floods never reach the kernel.
        self.vsctl("set", "port", "br0", "tag=4094")
        self.scenario.ovs_setup(self.variant, self)
        self.tel = Telemetry(self.prefix, timeout=60)

    def add_port(self, port, *port_settings):
        args = ["add-port", "br0", port.name, "--", "set", "Interface", port.name, "type=dpdk",
                f"options:dpdk-devargs={port.vdev}"]
        if port_settings:
            args += ["--", "set", "port", port.name, *port_settings]
        self.vsctl(*args)

    def fdb_add_many(self, entries):
        """Static MAC entries (port, vlan, mac) over one unixctl connection (JSON-RPC):
        ovs-appctl per entry takes minutes for 100 k entries."""
        ctl = f"{self.dir}/ovs-vswitchd-dpdk.{self.vswitchd_pid}.ctl"
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(ctl)
        dec = json.JSONDecoder()
        buf = ""
        for start in range(0, len(entries), 256):  # 256 requests in flight at a time
            chunk = entries[start:start + 256]
            for n, (port, vlan, mac) in enumerate(chunk):
                req = {"method": "fdb/add", "params": ["br0", port, str(vlan), mac], "id": start + n}
                s.sendall(json.dumps(req).encode())
            replies = 0
            while replies < len(chunk):
                buf += s.recv(65536).decode()
                while True:  # the replies arrive as concatenated JSON objects
                    buf = buf.lstrip()
                    try:
                        obj, end = dec.raw_decode(buf)
                    except ValueError:
                        break
                    buf = buf[end:]
                    replies += 1
                    if obj.get("error"):
                        raise RuntimeError(f"ovs fdb/add: {obj['error']}")
        s.close()

    def extra(self):
        out = self.appctl("dpif-netdev/pmd-stats-show")
        for line in out.splitlines():
            if "avg processing cycles per packet" in line:
                return {"ovs_processing_cycles_per_packet": float(line.split(":")[1].split()[0])}
        return {}

    def stop(self):
        if self.tel:
            self.tel.close()
            self.tel = None
        if self.vswitchd_pid:
            try:
                self.appctl("exit", "--cleanup")
            except subprocess.CalledProcessError:
                os.kill(self.vswitchd_pid, signal.SIGTERM)
            wait_gone(self.vswitchd_pid)
            self.vswitchd_pid = None
        if self.ovsdb_pid:
            try:
                os.kill(self.ovsdb_pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            wait_gone(self.ovsdb_pid)
            self.ovsdb_pid = None


class L3fwd(System):
    """DPDK's l3fwd example (LPM), the routing peer, built from Debian's dpdk-doc package."""

    role = "peer"

    def __init__(self, scenario, variant, ports, work, mbufs):
        super().__init__("l3fwd", ports)
        self.scenario, self.variant, self.ports, self.work, self.mbufs = scenario, variant, ports, work, mbufs
        self.prefix = "vnf-bench-l3fwd"
        # l3fwd adds (and prints) its routes one by one: a million of them take minutes.
        self.startup_s = 60 + variant.get("routes", 0) // 2000

    @staticmethod
    def binary():
        if not os.path.exists("/usr/share/dpdk/examples/l3fwd/main.c"):
            return None
        out = subprocess.run([os.path.join(BENCH, "lib", "build_l3fwd.sh"), os.path.join(BUILD, "bench", "l3fwd")],
                             capture_output=True, text=True)
        if out.returncode != 0:
            log(f"  l3fwd did not build: {out.stderr[-500:]}")
            return None
        return out.stdout.strip().splitlines()[-1]

    def start(self):
        exe = self.binary()
        mem = 512 + self.variant.get("routes", 0) // 4000
        # One lcore (CPU 1) forwards; more would ask net_pcap for a tx queue per lcore.
        cmd = [exe, "-l", "1", "--file-prefix", self.prefix, "--huge-unlink",
               "-m", str(mem), "--no-pci"]
        for p in self.ports:
            cmd += ["--vdev", p.vdev]
        cmd += ["--", *self.scenario.l3fwd_args(self.variant)]
        self._spawn(cmd, os.path.join(self.work, "l3fwd.log"))
        self.tel = Telemetry(self.prefix, timeout=120)


def wait_gone(pid, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)


# ---------------------------------------------------------------------------- ports


class Port:
    """One port of the shared topology, as every system sees it (same vdev string)."""

    def __init__(self, name, role, vdev, yaml_device):
        self.name, self.role, self.vdev, self.yaml_device = name, role, vdev, yaml_device


def builtin_ports(scenario, pcap):
    """Input: the pcap replayed from memory; outputs: net_null sinks."""
    ports = []
    for i, (name, role) in enumerate(scenario.PORTS):
        if role == "in":
            ports.append(Port(name, role, f"net_pcap{i},rx_pcap={pcap},infinite_rx=1",
                              f"type: pcap, rx_pcap: {pcap}, infinite_rx: true"))
        else:
            ports.append(Port(name, role, f"net_null{i},no-rx=1", 'type: null, devargs: "no-rx=1"'))
    return ports


# ---------------------------------------------------------------------------- measuring


class OursScraped(Ours):
    """Ours with its /metrics endpoint (engine.management on 127.0.0.1) scraped every
    `interval` seconds during the whole run, as a Prometheus server would: what the scrapes
    cost the forwarding core is the difference to Ours in the same rounds."""
    role = "ours_scraped"
    port = 19470

    def __init__(self, scenario, variant, ports, work, interval):
        super().__init__(scenario, variant, ports, work)
        self.name = f"{self.program} (scraped every {interval:g} s)"
        import yaml
        with open(self.cfg) as f:
            doc = yaml.safe_load(f)
        doc.setdefault("engine", {})["management"] = {"address": "127.0.0.1",
                                                      "metrics_port": self.port}
        self.cfg = os.path.join(work, f"{self.program}-scraped.yaml")
        with open(self.cfg, "w") as f:
            f.write(f"# program: {self.program}\n" + yaml.safe_dump(doc, sort_keys=False))
        self.interval = interval
        self.scrapes, self.scrape_s, self.scrape_bytes = 0, 0.0, 0
        self.thread, self.stop_event = None, None

    def start(self):
        import threading
        import urllib.request
        super().start()
        self.stop_event = threading.Event()

        def scrape():
            url = f"http://127.0.0.1:{self.port}/metrics"
            while not self.stop_event.wait(self.interval):
                t = time.monotonic()
                with urllib.request.urlopen(url, timeout=5) as r:
                    self.scrape_bytes = len(r.read())
                self.scrape_s += time.monotonic() - t
                self.scrapes += 1
        self.thread = threading.Thread(target=scrape, daemon=True)
        self.thread.start()

    def extra(self):
        out = super().extra()
        out.update({"scrapes": self.scrapes, "scrape_bytes": self.scrape_bytes,
                    "scrape_ms": round(1000 * self.scrape_s / self.scrapes, 2) if self.scrapes else None})
        return out

    def stop(self):
        if self.stop_event:
            self.stop_event.set()
            self.thread.join(timeout=10)
        super().stop()


def measure(system, warmup, window):
    """Starts the system, waits for traffic, measures a steady window, stops it."""
    log(f"  {system.name}: starting")
    try:
        system.start()
        t_start = time.time()
        while True:
            rx, tx = system.counters()
            if tx > 0:
                break
            if system._died():
                raise RuntimeError(f"{system.name} exited:\n{system.log_tail()}")
            if time.time() - t_start > system.startup_s:
                raise RuntimeError(f"{system.name}: no packet forwarded within {system.startup_s} s:\n"
                                   f"{system.log_tail()}")
            time.sleep(0.1)
        time.sleep(warmup)
        rx0, tx0 = system.counters()
        t0 = time.monotonic()
        samples = []
        last_rx, last_t = rx0, t0
        end = t0 + window
        while True:
            time.sleep(min(1.0, max(0.0, end - time.monotonic())))
            rx, tx = system.counters()
            t = time.monotonic()
            if t - last_t > 0.05:
                samples.append((rx - last_rx) / (t - last_t))
            last_rx, last_t = rx, t
            if t >= end:
                break
        rx1, tx1, t1 = rx, tx, t
        extra = system.extra()
        extra.update({"tsc_hz": getattr(system, "tsc_hz", None)})
    finally:
        system.stop()
    dt = t1 - t0
    res = {"rx_pps": (rx1 - rx0) / dt, "tx_pps": (tx1 - tx0) / dt, "seconds": dt,
           "rx_packets": rx1 - rx0, "tx_packets": tx1 - tx0,
           "samples_mpps": [round(s / 1e6, 3) for s in samples], **extra}
    log(f"  {system.name}: {res['rx_pps'] / 1e6:.2f} Mpps in, {res['tx_pps'] / 1e6:.2f} Mpps out")
    return res


# ---------------------------------------------------------------------------- helpers


def load_scenario(name):
    path = os.path.join(BENCH, "scenarios", name.replace("-", "_") + ".py")
    if not os.path.exists(path):
        return None
    spec = importlib.util.spec_from_file_location(f"scenario_{name}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def all_scenarios():
    out = []
    for f in sorted(os.listdir(os.path.join(BENCH, "scenarios"))):
        if f.endswith(".py") and not f.startswith("_"):
            out.append(load_scenario(f[:-3].replace("_", "-")))
    return out


def cpu_model():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor()


def dpdk_version():
    try:
        return subprocess.run(["pkg-config", "--modversion", "libdpdk"], capture_output=True,
                              text=True).stdout.strip()
    except OSError:
        return None


def our_version():
    try:
        rev = subprocess.run(["git", "-C", TOP, "describe", "--always", "--dirty"], capture_output=True,
                             text=True).stdout.strip()
    except OSError:
        rev = ""
    return rev or "unknown"


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def pinned_to_cpu0():
    try:
        os.sched_setaffinity(0, {0})
    except OSError:
        pass


# ---------------------------------------------------------------------------- main


def run_micro_only(args, scenario, variant):
    """Scenarios that pcap replay cannot drive (e.g. a stream of new connections): the
    in-process microbenchmark on the real stage, reported as such."""
    vid = variant["id"]
    log(f"{scenario.NAME} / {vid}: {scenario.DESCRIPTION} (in process)")
    m = micro(scenario, variant)
    if m is None:
        raise RuntimeError(f"{scenario.NAME}: the microbenchmark failed")
    now = datetime.datetime.now().astimezone()
    r = {
        "scenario": f"{scenario.NAME}/{vid}", "description": scenario.DESCRIPTION,
        "timestamp": now.isoformat(timespec="seconds"), "method": "in-process",
        "generator": "bench/micro (mbufs built in process, one core)", "cpu_model": cpu_model(),
        "kernel": platform.release(), "dpdk_version": dpdk_version(), "suite_version": our_version(),
        "program": scenario.PROGRAM, "packet_size": variant.get("size", 64),
        "flows": variant.get("connections", variant.get("flows")), "cores": 1, "rounds": 1,
        "mpps": None, "cycles_per_packet": None, "ceiling": None, "ceiling_mpps": None,
        "peer": None, "peer_mpps": None, "ratio_to_ceiling": None, "ratio_to_peer": None,
        "rounds_detail": {}, "stage_cycles_per_packet": None, "micro": m,
    }
    r.update(scenario.summarize(m))
    return r


def run_variant(args, scenario, variant, work):
    if getattr(scenario, "MICRO_ONLY", False):
        return run_micro_only(args, scenario, variant)
    vid = variant["id"]
    log(f"{scenario.NAME} / {vid}: {scenario.DESCRIPTION}")
    if hasattr(scenario, "prepare"):  # e.g. route tables, written once for every system
        variant = dict(variant, **scenario.prepare(variant, work))
    pcap = os.path.join(work, f"{scenario.NAME}-{vid}.pcap")
    subprocess.run([PY, os.path.join(BENCH, "lib", "genpcap.py"), pcap, *scenario.traffic(variant)],
                   check=True)
    frames = int(subprocess.run(["capinfos", "-c", "-M", "-T", pcap], capture_output=True, text=True)
                 .stdout.splitlines()[-1].split("\t")[-1]) if shutil.which("capinfos") else 100000
    mbufs = frames + 32768
    variant = dict(variant, mbufs=mbufs, frames=frames)
    ports = builtin_ports(scenario, pcap)

    systems = [lambda: Ours(scenario, variant, ports, work)]
    if args.baseline:
        systems.insert(0, lambda: Ours(scenario, variant, ports, work, build=args.baseline,
                                       role="baseline"))
    if args.scrape:
        systems.append(lambda: OursScraped(scenario, variant, ports, work, args.scrape))
    if not args.no_ceiling:
        systems.append(lambda: Testpmd(ports, work, mbufs))
    peer_name = None
    if not args.no_peer and getattr(scenario, "PEER", None) == "ovs":
        if Ovs.available():
            peer_name = "ovs-dpdk"
            systems.append(lambda: Ovs(scenario, variant, ports, work))
        else:
            log("  peer: Open vSwitch with DPDK not installed (bench/run.sh --install-peers); peer figures are null")
    if not args.no_peer and getattr(scenario, "PEER", None) == "l3fwd":
        if L3fwd.binary():
            peer_name = "l3fwd-lpm"
            systems.append(lambda: L3fwd(scenario, variant, ports, work, mbufs))
        else:
            log("  peer: DPDK l3fwd unavailable (bench/run.sh --install-peers installs dpdk-doc); peer figures are null")

    rounds = {}
    for r in range(args.rounds):
        log(f" round {r + 1}/{args.rounds}")
        for make in systems:
            s = make()
            res = measure(s, args.warmup, args.window)
            rounds.setdefault(s.role, []).append(res)

    def med(role, key):
        return median([x[key] for x in rounds.get(role, [])])

    ours = med("ours", "rx_pps")
    ours_tx = med("ours", "tx_pps")
    ceiling = med("ceiling", "rx_pps")
    peer = med("peer", "rx_pps")
    tsc_hz = median([x.get("tsc_hz") for x in rounds["ours"]])
    now = datetime.datetime.now().astimezone()
    result = {
        "scenario": f"{scenario.NAME}/{vid}",
        "description": scenario.DESCRIPTION,
        "timestamp": now.isoformat(timespec="seconds"),
        "method": "builtin",
        "generator": "net_pcap infinite_rx (pcap replayed from memory) -> system -> net_null",
        "cpu_model": cpu_model(),
        "kernel": platform.release(),
        "dpdk_version": dpdk_version(),
        "suite_version": our_version(),
        "program": scenario.PROGRAM,
        "packet_size": variant.get("size", 64),
        "flows": variant.get("flows", variant.get("macs")),
        "frames_in_pcap": frames,
        "cores": 1,
        "rounds": args.rounds,
        "warmup_s": args.warmup,
        "window_s": args.window,
        "mpps": round(ours / 1e6, 3) if ours else None,
        "tx_mpps": round(ours_tx / 1e6, 3) if ours_tx else None,
        "cycles_per_packet": round(tsc_hz / ours, 1) if ours and tsc_hz else None,
        "ceiling": "dpdk-testpmd --forward-mode=io" if ceiling else None,
        "ceiling_mpps": round(ceiling / 1e6, 3) if ceiling else None,
        "ceiling_cycles_per_packet": round(tsc_hz / ceiling, 1) if ceiling and tsc_hz else None,
        "peer": peer_name if peer else None,
        "peer_mpps": round(peer / 1e6, 3) if peer else None,
        "peer_cycles_per_packet": round(tsc_hz / peer, 1) if peer and tsc_hz else None,
        "ratio_to_ceiling": round(ours / ceiling, 3) if ours and ceiling else None,
        "ratio_to_peer": round(ours / peer, 2) if ours and peer else None,
        "rounds_detail": rounds,
        "stage_cycles_per_packet": None,
        "build": build_info(BUILD),
    }
    if args.baseline:
        base = med("baseline", "rx_pps")
        result.update({
            "baseline_build": build_info(args.baseline),
            "baseline_mpps": round(base / 1e6, 3) if base else None,
            "baseline_cycles_per_packet": round(tsc_hz / base, 1) if base and tsc_hz else None,
            "speedup_vs_baseline": round(ours / base, 3) if ours and base else None,
        })
    if args.scrape:
        scraped = med("ours_scraped", "rx_pps")
        result.update({
            "scrape_interval_s": args.scrape,
            "scraped_mpps": round(scraped / 1e6, 3) if scraped else None,
            "scraped_cycles_per_packet": round(tsc_hz / scraped, 1) if scraped and tsc_hz else None,
            "scraped_ratio": round(scraped / ours, 3) if scraped and ours else None,
            "scrape_ms": median([x.get("scrape_ms") for x in rounds.get("ours_scraped", [])]),
            "scrape_bytes": median([x.get("scrape_bytes") for x in rounds.get("ours_scraped", [])]),
        })
    if not args.no_micro and hasattr(scenario, "micro_args"):
        result["stage_cycles_per_packet"] = micro(scenario, variant)
        if args.baseline:
            result["baseline_stage_cycles_per_packet"] = micro(scenario, variant, args.baseline)
    return result


def build_info(build):
    """Which build ran: meson's buildtype and whether asserts were compiled out."""
    info = {"dir": build, "buildtype": None, "optimization": None, "ndebug": None, "commit": None}
    try:
        with open(os.path.join(build, "meson-info", "intro-buildoptions.json")) as f:
            opts = {o["name"]: o["value"] for o in json.load(f)}
        info["buildtype"] = opts.get("buildtype")
        info["optimization"] = opts.get("optimization")
        nd = opts.get("b_ndebug")
        info["ndebug"] = nd == "true" or (nd == "if-release" and opts.get("buildtype") == "release")
        with open(os.path.join(build, "meson-info", "meson-info.json")) as f:
            src = json.load(f)["directories"]["source"]
    except (OSError, ValueError, KeyError):
        src = TOP
    out = subprocess.run(["git", "-C", src, "rev-parse", "--short", "HEAD"], capture_output=True,
                         text=True)
    dirty = subprocess.run(["git", "-C", src, "status", "--porcelain", "-uno"], capture_output=True,
                           text=True).stdout.strip()
    info["commit"] = (out.stdout.strip() + ("+changes" if dirty else "")) or None
    return info


def micro(scenario, variant, build=None):
    exe = os.path.join(build or BUILD, "bench", getattr(scenario, "MICRO_EXE", "stage_bench"))
    if not os.path.exists(exe):
        return None
    out = subprocess.run(["taskset", "-c", "1", exe, *scenario.micro_args(variant)], capture_output=True,
                         text=True)
    for line in out.stdout.splitlines()[::-1]:
        if line.startswith("{"):
            return json.loads(line)
    log(f"  stage_bench failed:\n{out.stdout[-800:]}{out.stderr[-800:]}")
    return None


def markdown_row(r):
    def f(x, fmt="{:.2f}"):
        return fmt.format(x) if x is not None else "-"
    if r.get("method") == "in-process" and r.get("connections_per_s"):
        return (f"| {r['timestamp'][:16]} | {r['scenario']} | {r['packet_size']} | {r['flows']} | "
                f"{r['connections_per_s'] / 1e6:.2f} M conn/s | {r['cycles_per_connection']:.0f} per conn | "
                f"- | - | - | - | - | in-process |")
    return (f"| {r['timestamp'][:16]} | {r['scenario']} | {r['packet_size']} | {r['flows'] or '-'} | "
            f"{f(r['mpps'])} | {f(r['cycles_per_packet'], '{:.0f}')} | {f(r['ceiling_mpps'])} | "
            f"{f(r['ratio_to_ceiling'] * 100 if r['ratio_to_ceiling'] else None, '{:.0f}%')} | "
            f"{r['peer'] or '-'} | {f(r['peer_mpps'])} | {f(r['ratio_to_peer'], '{:.2f}x')} | "
            f"{r['method']}{' ' + r['build']['buildtype'] if (r.get('build') or {}).get('buildtype') else ''} |")


MD_HEADER = ("| when | scenario | size | flows | ours Mpps | cycles/pkt | ceiling Mpps | of ceiling | "
             "peer | peer Mpps | vs peer | method |\n|---|---|---|---|---|---|---|---|---|---|---|---|")


# ---------------------------------------------------------------------------- results
# (shared with bench/lib/pktgen.py)


def save_result(r, out_dir, name):
    """Writes OUT_DIR/NAME-<timestamp>.json; returns r with its path."""
    stamp = r["timestamp"].replace(":", "").replace("-", "")[:15]
    path = os.path.join(out_dir, f"{name}-{stamp}.json")
    with open(path, "w") as f:
        json.dump(r, f, indent=2)
    r["_path"] = path
    return r


def clean_up(work, keep):
    """Kills what a failed run left behind and removes the work directory."""
    for p in STARTED:
        if p.poll() is None:
            p.kill()
    if not keep:
        shutil.rmtree(work, ignore_errors=True)
    else:
        log(f"work directory kept: {work}")


def publish(results, out_dir):
    """Prints the Markdown rows and a line per result; appends the rows to results.md."""
    print()
    print(MD_HEADER)
    rows = [markdown_row(r) for r in results]
    print("\n".join(rows))
    md = os.path.join(out_dir, "results.md")
    new = not os.path.exists(md)
    with open(md, "a") as f:
        if new:
            f.write("# Bench results (one row per run; see docs/performance.md for the method)\n\n" +
                    MD_HEADER + "\n")
        f.write("\n".join(rows) + "\n")
    for r in results:
        if r.get("method") == "in-process":
            print(f"{r['scenario']}: {json.dumps(r['micro'])}; {r['_path']}")
            continue
        cycles = f" ({r['cycles_per_packet']} cycles/packet)" if r.get("cycles_per_packet") else ""
        print(f"{r['scenario']}: ours {r['mpps']} Mpps{cycles}, "
              f"ceiling {r['ceiling_mpps']} Mpps, peer {r['peer'] or '-'} {r['peer_mpps']} Mpps; "
              f"{r['_path']}")
        if r.get("build"):
            b = r["build"]
            print(f"  build: {b['dir']} ({b['buildtype']} -O{b.get('optimization')}, "
                  f"asserts {'off' if b['ndebug'] else 'on'}, "
                  f"{b['commit']})")
        if r.get("baseline_build"):
            b = r["baseline_build"]
            print(f"  baseline: {r['baseline_mpps']} Mpps ({r['baseline_cycles_per_packet']} cycles/packet) "
                  f"from {b['dir']} ({b['buildtype']}, {b['commit']}); ours/baseline "
                  f"{r['speedup_vs_baseline']}")
        if r.get("stage_cycles_per_packet"):
            print(f"  stage cycles/packet: {r['stage_cycles_per_packet']}")
        if r.get("baseline_stage_cycles_per_packet"):
            print(f"  baseline stage cycles/packet: {r['baseline_stage_cycles_per_packet']}")


def main():
    ap = argparse.ArgumentParser(prog="bench/run.sh", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("scenario", nargs="?")
    ap.add_argument("--list", action="store_true", help="list the scenarios and exit")
    ap.add_argument("--variant", help="only this variant (default: all of the scenario's)")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds (medians reported)")
    ap.add_argument("--warmup", type=float, default=3.0, help="seconds after the first packet")
    ap.add_argument("--window", type=float, default=10.0, help="measured seconds")
    ap.add_argument("--no-peer", action="store_true", help="skip the peer (OVS, l3fwd)")
    ap.add_argument("--no-ceiling", action="store_true", help="skip testpmd")
    ap.add_argument("--no-micro", action="store_true", help="skip the per-stage microbenchmark")
    ap.add_argument("--scrape", type=float, metavar="SECONDS",
                    help="also run ours with /metrics scraped every SECONDS (interleaved)")
    ap.add_argument("--smoke", action="store_true",
                    help="seconds, not minutes: the scenario's small variant, 1 round, no peer; proves the harness")
    ap.add_argument("--baseline", metavar="BUILD_DIR",
                    help="also run our program from this build directory, interleaved (before/after)")
    ap.add_argument("--out-dir", default=os.path.join(BENCH, "results"))
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args()

    if args.list:
        for s in all_scenarios():
            variants = ", ".join(v["id"] for v in s.VARIANTS)
            how = "in process" if getattr(s, "MICRO_ONLY", False) else f"peer: {getattr(s, 'PEER', None) or '-'}"
            print(f"{s.NAME:14} {s.DESCRIPTION}  [variants: {variants}; {how}]")
        return 0
    if not args.scenario:
        ap.error("name a scenario (see --list)")
    scenario = load_scenario(args.scenario)
    if not scenario:
        ap.error(f"unknown scenario '{args.scenario}' (see --list)")
    if os.geteuid() != 0:
        sys.exit("bench: run as root (hugepages, DPDK)")
    variants = scenario.VARIANTS
    if args.smoke:
        variants = [scenario.SMOKE]
        args.rounds, args.warmup, args.window, args.no_peer = 1, 0.5, 2.0, True
    if args.variant:
        variants = [v for v in scenario.VARIANTS if v["id"] == args.variant]
        if not variants:
            ap.error(f"no variant '{args.variant}' in {scenario.NAME}")

    pinned_to_cpu0()
    os.makedirs(args.out_dir, exist_ok=True)
    work = tempfile.mkdtemp(prefix="vnf-bench-")
    results = []
    try:
        for v in variants:
            results.append(save_result(run_variant(args, scenario, v, work), args.out_dir,
                                       f"{scenario.NAME}-{v['id']}"))
    finally:
        clean_up(work, args.keep)
    publish(results, args.out_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
