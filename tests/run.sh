#!/usr/bin/env bash
# run.sh — every test suite in turn, then one closing line summing them all:
# "N passed, N failed, N skipped". Each suite prints its own such line.
# Run from the project root after the builds (`make test` does both).
set -u
cd "$(dirname "$0")/.." || exit 1
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
total_p=0 total_f=0 total_s=0
log=$(mktemp)
# The unit tests' fault sweeps run the pipeline thousands of times, and every
# run fsyncs what it writes: on a tmpfs those flushes cost nothing (the
# sweeps took 70-100 s of waiting on disk on this 2-core machine, 20-45 s on
# /dev/shm). The suites below keep $TMPDIR as it is.
unit_tmp=$( { [ -d /dev/shm ] && [ -w /dev/shm ] && mktemp -d /dev/shm/salespipe-unit.XXXXXX; } 2>/dev/null)
unit_tmp=${unit_tmp:-${TMPDIR:-/tmp}}
trap 'rm -f "$log"; case $unit_tmp in /dev/shm/salespipe-unit.*) rm -rf "$unit_tmp";; esac' EXIT

suite() { # NAME COMMAND...
  local name=$1; shift
  echo "== $name"
  "$@" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  local line p f s
  line=$(grep -E '^([A-Za-z-]+: )?[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
  if [ -z "$line" ]; then
    echo "suite $name printed no result line (exit $rc): counted as 1 failure"
    total_f=$((total_f + 1)); return
  fi
  p=$(grep -oE '[0-9]+ passed' <<<"$line" | grep -oE '[0-9]+')
  f=$(grep -oE '[0-9]+ failed' <<<"$line" | grep -oE '[0-9]+')
  s=$(grep -oE '[0-9]+ skipped' <<<"$line" | grep -oE '[0-9]+' || true)
  total_p=$((total_p + p)); total_f=$((total_f + f)); total_s=$((total_s + ${s:-0}))
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    echo "suite $name exited $rc with no failed test: counted as 1 failure"
    total_f=$((total_f + 1))
  fi
}

suite unit env TMPDIR="$unit_tmp" build/unit_tests
suite unit-asan-ubsan env TMPDIR="$unit_tmp" build/san/unit_tests
for s in tests/cli/run.sh tests/interop/run.sh tests/pipeline/run.sh tests/daily/run.sh \
         tests/postgres/run.sh tests/loads/run.sh tests/s3/run.sh tests/aws/run.sh tests/orchestration/run.sh tests/deploy/run.sh \
         tests/report/run.sh tests/backfill/run.sh tests/scale/run.sh tests/mapped/run.sh tests/stops/run.sh tests/gates/run.sh; do
  [ -x "$s" ] && suite "$(basename "$(dirname "$s")")" "$s"
done

echo
echo "$total_p passed, $total_f failed, $total_s skipped"
[ "$total_f" -eq 0 ]
