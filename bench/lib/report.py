#!/usr/bin/python3
"""Result files -> report.md (table) and PNG plots, see bench/report.sh."""
import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile

BENCH = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load(paths):
    out = []
    for p in paths:
        try:
            with open(p) as f:
                r = json.load(f)
            r["_path"] = p
            out.append(r)
        except (OSError, ValueError) as e:
            print(f"skipping {p}: {e}", file=sys.stderr)
    return out


def latest(results):
    best = {}
    for r in results:
        key = (r["scenario"], r.get("method", "builtin"))
        if key not in best or r["timestamp"] > best[key]["timestamp"]:
            best[key] = r
    return sorted(best.values(), key=lambda r: (r.get("method", ""), r["scenario"]))


# Every stage any microbenchmark reports, in pipeline order: stage_bench (switching),
# route_bench (routing), fw_bench (the firewall, timed with parse and tx as one figure).
STAGES = ["parse", "vlan_ingress", "l2_lookup", "routing", "l2_egress", "egress", "fw_parse_firewall_tx",
          "dispatch_tx"]


def stages_of(r):
    s = r.get("stage_cycles_per_packet") or {}
    if s.get("mode") == "established":
        return {"fw_parse_firewall_tx": s.get("cycles_per_packet")}
    return {k: s[k] for k in STAGES if s.get(k) is not None}


def fmt(x, spec="{:.2f}"):
    return spec.format(x) if x is not None else "-"


def table(results):
    lines = ["| scenario | method | size | flows | ours Mpps | cycles/pkt | ceiling Mpps | of ceiling | peer | "
             "peer Mpps | vs peer | when |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        rc = r.get("ratio_to_ceiling")
        lines.append(f"| {r['scenario']} | {r.get('method', 'builtin')} | {r['packet_size']} | {r['flows'] or '-'} | "
                     f"{fmt(r['mpps'])} | {fmt(r.get('cycles_per_packet'), '{:.0f}')} | {fmt(r['ceiling_mpps'])} | "
                     f"{fmt(rc * 100 if rc else None, '{:.0f}%')} | {r.get('peer') or '-'} | {fmt(r.get('peer_mpps'))} | "
                     f"{fmt(r.get('ratio_to_peer'), '{:.2f}x')} | {r['timestamp'][:16]} |")
    stage_rows = [r for r in results if stages_of(r)]
    if stage_rows:
        stages = [k for k in STAGES if any(k in stages_of(r) for r in stage_rows)]
        lines += ["", "Cycles per packet by stage (bench/micro/{stage,route,fw}_bench, best of 20 chunks; "
                  "the firewall's figure covers parse + firewall + tx):", "",
                  "| scenario | " + " | ".join(stages) + " | total | burst p50 / p99 us |",
                  "|---|" + "---|" * (len(stages) + 2)]
        for r in stage_rows:
            st = stages_of(r)
            lat = r["stage_cycles_per_packet"].get("burst_latency_us") or {}
            lines.append(f"| {r['scenario']} | " + " | ".join(fmt(st.get(k), "{:.1f}") for k in stages) +
                         f" | {fmt(sum(st.values()), '{:.1f}')} | {fmt(lat.get('p50'))} / {fmt(lat.get('p99'))} |")
    return "\n".join(lines) + "\n"


def gnuplot(script):
    subprocess.run(["gnuplot"], input=script, text=True, check=True)


def plots(results, out_dir):
    made = []
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "mpps.dat")
        with open(data, "w") as f:
            for r in results:
                f.write(f"\"{r['scenario']}\\n{r.get('method', 'builtin')}\" {r['mpps'] or 0} "
                        f"{r['ceiling_mpps'] or 0} {r.get('peer_mpps') or 0}\n")
        png = os.path.join(out_dir, "mpps.png")
        gnuplot(f"""set terminal pngcairo size 1100,560 font ',10' noenhanced
set bmargin 7
set xtics rotate by -25
set output '{png}'
set title 'Forwarding rate, one worker core, 64 B unless noted (ours vs testpmd io ceiling vs peer)'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set ylabel 'Mpps'
set yrange [0:*]
set key top right
set grid ytics
plot '{data}' using 2:xtic(1) title 'ours', '' using 3 title 'ceiling (testpmd io)', '' using 4 title 'peer (OVS-DPDK / l3fwd)'
""")
        made.append(png)
        stage_rows = [r for r in results if stages_of(r)]
        if stage_rows:
            stages = [k for k in STAGES if any(k in stages_of(r) for r in stage_rows)]
            data = os.path.join(tmp, "stages.dat")
            with open(data, "w") as f:
                for r in stage_rows:
                    st = stages_of(r)
                    f.write(f"\"{r['scenario']}\" " + " ".join(str(st.get(k) or 0) for k in stages) + "\n")
            png = os.path.join(out_dir, "stage_cycles.png")
            cols = ", ".join(f"'' using {i + 2} title '{k}'" for i, k in enumerate(stages[1:], start=1))
            gnuplot(f"""set terminal pngcairo size 1000,520 font ',10' noenhanced
set bmargin 7
set xtics rotate by -25
set output '{png}'
set title 'Cycles per packet by stage (TSC ticks, in-process microbenchmark)'
set style data histograms
set style histogram rowstacked
set style fill solid 0.85 border -1
set ylabel 'cycles / packet'
set yrange [0:*]
set key outside right
set grid ytics
plot '{data}' using 2:xtic(1) title '{stages[0]}', {cols}
""")
            made.append(png)
            data = os.path.join(tmp, "lat.dat")
            with open(data, "w") as f:
                for r in stage_rows:
                    lat = (r.get("stage_cycles_per_packet") or {}).get("burst_latency_us")
                    if lat:
                        f.write(f"\"{r['scenario']}\" {lat['p50']} {lat['p99']} {lat['p999']}\n")
            png = os.path.join(out_dir, "latency.png")
            gnuplot(f"""set terminal pngcairo size 1000,520 font ',10' noenhanced
set bmargin 7
set xtics rotate by -25
set output '{png}'
set title 'A burst of 32 through the pipeline, parse to tx hand-off (percentiles)'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set ylabel 'microseconds (log)'
set logscale y
set key top left
set grid ytics
plot '{data}' using 2:xtic(1) title 'p50', '' using 3 title 'p99', '' using 4 title 'p99.9'
""")
            made.append(png)
    return made


def main():
    ap = argparse.ArgumentParser(prog="bench/report.sh")
    ap.add_argument("files", nargs="*")
    ap.add_argument("--out-dir", default=os.path.join(BENCH, "results"))
    a = ap.parse_args()
    paths = a.files or glob.glob(os.path.join(BENCH, "results", "*.json"))
    # Smoke runs prove the harness in seconds; they are not measurements.
    results = latest([r for r in load(paths) if not r["scenario"].endswith("/smoke")])
    if not results:
        sys.exit("no result files (run bench/run.sh first)")
    os.makedirs(a.out_dir, exist_ok=True)
    md = table(results)
    with open(os.path.join(a.out_dir, "report.md"), "w") as f:
        f.write(md)
    print(md)
    for p in plots(results, a.out_dir):
        print(f"wrote {p}")


if __name__ == "__main__":
    main()
