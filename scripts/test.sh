#!/usr/bin/env bash
# Builds and runs every test suite: unit (GoogleTest, under ASan/UBSan), dataplane
# (GoogleTest on DPDK vdevs), static (the built fast path calls no allocator, lock, throw or
# logger), system (the real programs in network namespaces), and the
# bench smoke run. Does all set-up first (packages, hugepages, build) via scripts/setup.sh.
#
# Ends with one line totalling every suite: "N passed, N failed, N skipped". Exits non-zero
# if anything failed.
#
#   scripts/test.sh                 everything
#   scripts/test.sh unit dataplane  only these suites (unit, dataplane, static, system, bench)
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
export BUILD_DIR=${BUILD_DIR:-$top/build}
log_dir=$(mktemp -d /tmp/vnf-test.XXXXXX)

passed=0
failed=0
skipped=0
summary=()

tally() {  # tally SUITE PASSED FAILED SKIPPED
  passed=$((passed + $2))
  failed=$((failed + $3))
  skipped=$((skipped + $4))
  summary+=("$(printf '%-28s %4d passed, %d failed, %d skipped' "$1" "$2" "$3" "$4")")
}

if ! scripts/setup.sh; then
  echo "setup or build failed"
  echo "0 passed, 1 failed"
  exit 1
fi

# gtest: count per test case from the verbose output; a crash with no verdict is a failure.
run_gtest() {  # run_gtest SUITE BINARY TIMEOUT
  local suite=$1 bin=$2 limit=$3 out="$log_dir/${1//\//_}.log" rc=0
  echo "=== $suite"
  timeout --signal=TERM --kill-after=10 "$limit" "$bin" --gtest_color=no >"$out" 2>&1 || rc=$?
  local p f s
  p=$(grep -c '^\[       OK \] ' "$out")
  f=$(grep -cE '^\[  FAILED  \] .*\([0-9]+ ms\)$' "$out")
  s=$(grep -cE '^\[  SKIPPED \] .*\([0-9]+ ms\)$' "$out")
  grep -E '^\[  (FAILED|SKIPPED) \] .*\([0-9]+ ms\)$|Failure$|^  (Expected|Which|  Which)' "$out" | head -60
  if ((rc != 0 && f == 0)); then
    echo "$suite: exited with status $rc without a test verdict (crash or timeout):"
    tail -30 "$out"
    f=$((f + 1))
  fi
  echo "$suite: $p passed, $f failed, $s skipped"
  tally "$suite" "$p" "$f" "$s"
}

# system tests print PASS/FAIL/SKIP lines and a closing "system/NAME: N passed, ..." line.
run_script() {  # run_script SUITE SCRIPT TIMEOUT
  local suite=$1 script=$2 limit=$3 out="$log_dir/${1//\//_}.log" rc=0
  echo "=== $suite"
  timeout --signal=TERM --kill-after=20 "$limit" bash "$script" >"$out" 2>&1 || rc=$?
  grep -E '^(PASS|FAIL|SKIP|NOTE|      )' "$out"
  local line
  line=$(grep -E '^[a-z]+/[a-z0-9_]+: [0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$out" | tail -1)
  if [[ -z "$line" ]]; then
    echo "$suite: no result line (status $rc):"
    tail -40 "$out"
    tally "$suite" 0 1 0
    return
  fi
  local p f s
  read -r p f s < <(sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed, ([0-9]+) skipped/\1 \2 \3/' <<<"$line")
  if ((f > 0)); then
    echo "--- $suite output (failures above; logs follow)"
    sed -n '/^--- /,$p' "$out" | head -150
  fi
  if ((rc != 0 && f == 0)); then
    echo "$suite: exited with status $rc"
    f=1
  fi
  echo "$suite: $p passed, $f failed, $s skipped"
  tally "$suite" "$p" "$f" "$s"
}

suites=("$@")
selected() {
  ((${#suites[@]} == 0)) && return 0
  local s
  for s in "${suites[@]}"; do [[ "$s" == "$1" ]] && return 0; done
  return 1
}

if selected unit; then run_gtest unit "$BUILD_DIR/tests/unit_tests" 300; fi
if selected dataplane; then run_gtest dataplane "$BUILD_DIR/tests/dataplane/dataplane_tests" 600; fi
if selected static; then run_script "static/fastpath_calls" tests/static/fastpath_calls.sh 120; fi
if selected system; then
  for t in tests/system/*.sh; do
    [[ "$(basename "$t")" == lib.sh ]] && continue
    run_script "system/$(basename "$t" .sh)" "$t" 600
  done
fi
if selected bench && [[ -x bench/smoke.sh ]]; then
  run_script "bench/smoke" bench/smoke.sh 600
fi

echo
echo "=== summary (logs in $log_dir)"
printf '%s\n' "${summary[@]}"
echo "$passed passed, $failed failed, $skipped skipped"
((failed == 0))
