#!/usr/bin/env bash
# scripts/test.sh suite static/dp_headers: the fast path's headers (*/dp/*.h) pull in no
# config structs and no yaml-cpp (issue #10: what only the control side needs stays out of
# dp/). Each header is run through the compiler's dependency scan (g++ -M) with the build's
# DPDK flags; one PASS/FAIL line per header.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
pass=0 fail=0
cflags=$(pkg-config --cflags libdpdk)
for h in common/burst.h common/worker.h common/parser.h */dp/*.h; do
  deps=$(g++ -std=c++20 -I. $cflags -M "$h" 2>&1)
  if [[ $? -ne 0 ]]; then
    echo "FAIL: $h: the dependency scan failed: $(head -3 <<<"$deps")"
    fail=$((fail + 1))
    continue
  fi
  bad=$(tr ' \\' '\n\n' <<<"$deps" | grep -E 'yaml-cpp/|common/config_node\.h|[a-z]+/config\.h$' | sort -u | tr '\n' ' ')
  if [[ -n "$bad" ]]; then
    echo "FAIL: $h includes control-side headers: $bad"
    fail=$((fail + 1))
  else
    echo "PASS: $h: no config structs, no yaml-cpp"
    pass=$((pass + 1))
  fi
done
echo "static/dp_headers: $pass passed, $fail failed, 0 skipped"
((fail == 0))
