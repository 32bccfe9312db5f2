#!/usr/bin/env bash
# Turns bench result files into a Markdown table and PNG plots (gnuplot, from Debian).
#   bench/report.sh                      the latest result of each scenario in bench/results/
#   bench/report.sh FILE.json ...        these results
# Writes bench/results/report.md, mpps.png, stage_cycles.png, latency.png (or --out-dir DIR).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
if ! command -v gnuplot >/dev/null; then
  echo "installing gnuplot-nox (Debian) for the plots" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends gnuplot-nox >/dev/null
fi
exec /usr/bin/python3 "$top/bench/lib/report.py" "$@"
