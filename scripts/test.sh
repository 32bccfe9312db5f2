#!/usr/bin/env bash
# Builds and runs every test suite: unit (GoogleTest, under ASan/UBSan), dataplane
# (GoogleTest on DPDK vdevs), static (the built fast path calls no allocator, lock, throw or
# logger), system (the real programs in network namespaces), the bench smoke run, and fuzz
# (each libFuzzer target of tests/fuzz for FUZZ_SECONDS, default 60, in a separate clang build,
# $BUILD_DIR-fuzz). Does all set-up first (packages, hugepages, build) via scripts/setup.sh.
#
# Ends with one line totalling every suite: "N passed, N failed, N skipped". Exits non-zero
# if anything failed.
#
#   scripts/test.sh                 everything
#   scripts/test.sh unit dataplane  only these suites (unit, dataplane, static, system, bench,
#                                   fuzz)
#   FUZZ_SECONDS=600 scripts/test.sh fuzz   fuzz longer (docs/testing.md)
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

# fuzz: one result per libFuzzer target. A target fails on any crash, sanitizer report, leak,
# timeout (an input taking over 10 s) or invariant violation; the reproducer is printed with
# the first lines of the report. New inputs go to a scratch corpus, never into the repository.
run_fuzz() {
  local secs=${FUZZ_SECONDS:-60}
  local fuzz_build=${FUZZ_BUILD_DIR:-${BUILD_DIR%/}-fuzz}
  local cxx=${FUZZ_CXX:-clang++-16}
  local targets=(parser_vlan config_vswitch config_vfirewall config_vrouter route_file)
  echo "=== fuzz (${secs} s per target, build $fuzz_build)"
  if ! command -v "$cxx" >/dev/null; then
    echo "SKIP: fuzz: $cxx not found (scripts/setup.sh installs clang-16 and libclang-rt-16-dev)"
    tally "fuzz (no $cxx)" 0 0 ${#targets[@]}
    return
  fi
  local out="$log_dir/fuzz-build.log" t
  if [[ ! -f "$fuzz_build/build.ninja" ]] &&
    ! CXX=$cxx meson setup "$fuzz_build" "$top" -Dfuzz=true >"$out" 2>&1; then
    echo "fuzz: configuring $fuzz_build failed:"
    tail -30 "$out"
    tally "fuzz/build" 0 1 0
    return
  fi
  # Stacks with function, file and line (the sanitizers do not find it in PATH by themselves).
  local symbolizer=/usr/lib/llvm-16/bin/llvm-symbolizer
  [[ -x $symbolizer ]] || symbolizer=$(command -v llvm-symbolizer || echo none)
  local ninja_targets=()
  for t in "${targets[@]}"; do ninja_targets+=("tests/fuzz/fuzz_$t"); done
  if ! ninja -C "$fuzz_build" -j "${FUZZ_JOBS:-2}" "${ninja_targets[@]}" >>"$out" 2>&1; then
    echo "fuzz: building the targets failed:"
    grep -E 'error|FAILED' "$out" | head -30
    tally "fuzz/build" 0 1 0
    return
  fi
  for t in "${targets[@]}"; do
    local work="$log_dir/fuzz-$t" rc=0
    mkdir -p "$work/corpus" "$work/artifacts"
    local args=(-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
      -artifact_prefix="$work/artifacts/")
    [[ -f tests/fuzz/dict/$t.dict ]] && args+=(-dict="tests/fuzz/dict/$t.dict")
    # ASan: leaks count; UBSan: every report aborts (the targets are built that way too).
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:symbolize=1:external_symbolizer_path=$symbolizer \
      UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:external_symbolizer_path=$symbolizer \
      timeout --signal=TERM --kill-after=30 $((secs + 300)) \
      "$fuzz_build/tests/fuzz/fuzz_$t" "${args[@]}" "$work/corpus" "tests/fuzz/corpus/$t" \
      >"$work/log" 2>&1 || rc=$?
    local found
    found=$(find "$work/artifacts" -type f | head -1)
    local runs
    runs=$(grep -oE '^stat::number_of_executed_units: *[0-9]+' "$work/log" | grep -oE '[0-9]+$')
    if ((rc == 0)) && [[ -z "$found" ]]; then
      echo "PASS: fuzz/$t: ${runs:-?} inputs in ${secs} s, no finding"
      tally "fuzz/$t" 1 0 0
    else
      echo "FAIL: fuzz/$t (status $rc)"
      [[ -n "$found" ]] && echo "      reproducer: $found" &&
        echo "      reproduce: $fuzz_build/tests/fuzz/fuzz_$t $found"
      grep -m1 -A30 -E '^==[0-9]+==ERROR|^==FUZZ FINDING|runtime error:|^ALARM|^==[0-9]+== ERROR: libFuzzer|terminate called' \
        "$work/log" | head -40 | sed 's/^/      /'
      echo "      (full log: $work/log)"
      tally "fuzz/$t" 0 1 0
    fi
  done
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
if selected static; then
  run_script "static/fastpath_calls" tests/static/fastpath_calls.sh 120
  run_script "static/dp_headers" tests/static/dp_headers.sh 120
fi
if selected system; then
  for t in tests/system/*.sh; do
    [[ "$(basename "$t")" == lib.sh ]] && continue
    run_script "system/$(basename "$t" .sh)" "$t" 600
  done
fi
if selected bench && [[ -x bench/smoke.sh ]]; then
  run_script "bench/smoke" bench/smoke.sh 600
fi
if selected fuzz; then run_fuzz; fi

echo
echo "=== summary (logs in $log_dir)"
printf '%s\n' "${summary[@]}"
echo "$passed passed, $failed failed, $skipped skipped"
((failed == 0))
