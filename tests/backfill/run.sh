#!/usr/bin/env bash
# run.sh — `salespipe backfill` (issue 13): three days, each a run of its own
# in `runs --json` whose run_id is in that day's manifest and fact_sales;
# a day that fails stops the backfill (exit 1 naming it, no later day run);
# --resume skips the days done, resumes the failed run (same run_id) and
# goes on; malformed, inverted, incomplete and too long ranges are exit 2
# with nothing run. The failure is real: the day's folder in the raw store
# is a file, so stage cannot write there. Ends "N passed, N failed, N skipped".
# shellcheck disable=SC2317 # helpers are run through check(), out of shellcheck's sight
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"

clean_env=(env -i PATH="$PATH" HOME="$HOME" TMPDIR="${TMPDIR:-/tmp}" RETRIES=0
           ASAN_OPTIONS="${ASAN_OPTIONS:-}" UBSAN_OPTIONS="${UBSAN_OPTIONS:-}")
# sp DIR ARGS…: salespipe in DIR, clean environment; stdout DIR/out, stderr DIR/err.
sp() { local d=$1; shift; (cd "$d" && "${clean_env[@]}" "$bin" "$@" >"$d/out" 2>"$d/err"); }
project() { # NAME: a directory with gen's files in data/raw
  local d="$tmp/$1"
  mkdir -p "$d"
  "$bin" -q gen --out "$d/data/raw" --rows 30 --seed 5 >/dev/null 2>&1 || bad "$1-gen" "gen failed"
  echo "$d"
}
# runs DIR: "ds state run_id" per run, oldest first (from runs --json)
runs() {
  (cd "$1" && "${clean_env[@]}" "$bin" runs --json) | python3 -c '
import json, sys
for r in sorted(json.load(sys.stdin), key=lambda r: (r["started"], r["run_id"])):
    print(r["ds"], r["state"], r["run_id"])'
}
# lineage_ok DIR DS RUN_ID: the manifest and every fact of DS name RUN_ID
lineage_ok() {
  local out="$1/lake/processed/runs/$2"
  grep -q "\"run_id\": \"$3\"" "$out/_manifest.json" &&
    [ "$("$bin" inspect "$out/fact_sales.parquet" --csv | python3 -c '
import csv, sys
rows = list(csv.DictReader(sys.stdin))
print(len(rows) > 0 and all(r["run_id"] == sys.argv[1] for r in rows))' "$3")" = True ]
}

# ---- three days, three runs ---------------------------------------------------
d=$(project three)
sp "$d" backfill --from 2024-02-27 --to 2024-02-29; rc=$?
check three-exit "exit $rc: $(tail -3 "$d/err")" [ $rc -eq 0 ]
runs "$d" >"$d/runs"
check three-runs "$(cat "$d/runs")" [ "$(cut -d' ' -f1,2 "$d/runs" | tr '\n' ,)" = \
  "2024-02-27 succeeded,2024-02-28 succeeded,2024-02-29 succeeded," ]
check three-distinct-ids "$(cat "$d/runs")" [ "$(cut -d' ' -f3 "$d/runs" | sort -u | wc -l)" -eq 3 ]
while read -r ds _ id; do
  check "three-lineage-$ds" "manifest or fact_sales of $ds do not carry run $id" lineage_ok "$d" "$ds" "$id"
done <"$d/runs"
check three-summary "$(grep backfill "$d/err")" grep -q 'backfill: 2024-02-27 to 2024-02-29 done: 3 runs' "$d/err"

# ---- a failing day stops the backfill; --resume goes on ------------------------
d=$(project stop)
mkdir -p "$d/lake/raw/runs"
echo 'not a folder' >"$d/lake/raw/runs/2024-03-02" # stage cannot write under runs/2024-03-02/
sp "$d" backfill --from 2024-03-01 --to 2024-03-03; rc=$?
check stop-exit "exit $rc, want 1" [ $rc -eq 1 ]
check stop-names-day "$(tail -3 "$d/err")" grep -qE 'backfill: stopped at ds 2024-03-02 \(run 2024-03-02_[^)]+\).*--resume' "$d/err"
runs "$d" >"$d/runs1"
check stop-runs "$(cat "$d/runs1")" [ "$(cut -d' ' -f1,2 "$d/runs1" | tr '\n' ,)" = \
  "2024-03-01 succeeded,2024-03-02 failed," ]
failed_id=$(awk '$1 == "2024-03-02" { print $3 }' "$d/runs1")
first_id=$(awk '$1 == "2024-03-01" { print $3 }' "$d/runs1")

rm "$d/lake/raw/runs/2024-03-02" # the cause fixed
sp "$d" backfill --from 2024-03-01 --to 2024-03-03 --resume; rc=$?
check resume-exit "exit $rc: $(tail -3 "$d/err")" [ $rc -eq 0 ]
runs "$d" >"$d/runs2"
check resume-runs "$(cat "$d/runs2")" [ "$(cut -d' ' -f1,2 "$d/runs2" | tr '\n' ,)" = \
  "2024-03-01 succeeded,2024-03-02 succeeded,2024-03-03 succeeded," ]
check resume-same-run "day 2 was $failed_id: $(cat "$d/runs2")" \
  grep -q "^2024-03-02 succeeded $failed_id\$" "$d/runs2"
check resume-day1-kept "day 1 was $first_id: $(cat "$d/runs2")" \
  grep -q "^2024-03-01 succeeded $first_id\$" "$d/runs2"
check resume-skip-logged "$(grep backfill "$d/err")" \
  grep -q "backfill: ds 2024-03-01 already succeeded (run $first_id): skipped" "$d/err"
check resume-lineage "day 2's facts do not carry run $failed_id" lineage_ok "$d" 2024-03-02 "$failed_id"
# nothing left: a second --resume runs nothing and succeeds
sp "$d" backfill --from 2024-03-01 --to 2024-03-03 --resume; rc=$?
check resume-again "exit $rc; $(grep backfill "$d/err" | tail -1)" \
  grep -q 'done: 0 runs, 3 already succeeded' "$d/err"
check resume-again-no-run "$(runs "$d")" [ "$(runs "$d" | wc -l)" -eq 3 ]

# ---- bad ranges: exit 2, nothing run -------------------------------------------
d=$(project ranges)
exit2_saying() { [ "$1" -eq 2 ] && grep -qF -- "$2" "$3"; } # RC TEXT FILE
while IFS='|' read -r name args want; do
  # shellcheck disable=SC2086 # args are words on purpose
  sp "$d" backfill $args; rc=$?
  check "range-$name" "exit $rc, stderr: $(tail -2 "$d/err")" \
    exit2_saying "$rc" "$want" "$d/err"
done <<'EOF'
inverted|--from 2024-01-05 --to 2024-01-04|--to 2024-01-04 is before --from 2024-01-05
malformed|--from 2024-1-5 --to 2024-01-06|--from '2024-1-5' is not a date YYYY-MM-DD
impossible|--from 2024-01-01 --to 2023-02-29|--to '2023-02-29' is not a date YYYY-MM-DD
missing-to|--from 2024-01-01|backfill needs --from D1 and --to D2
too-long|--from 2000-01-01 --to 2010-12-31|4018 days; at most 3660
task-name|--from stage --to 2024-01-01|--from 'stage' is not a date YYYY-MM-DD
EOF
check ranges-nothing-run "$(ls "$d")" [ ! -e "$d/lake" ]
sp "$d" backfill --help
check help "$(cat "$d/out")" grep -q -- '--resume' "$d/out"
sp "$d" backfill --from 2024-01-01 --to 2024-01-01; rc=$?
check one-day "exit $rc: $(tail -2 "$d/err")" [ $rc -eq 0 ]

reports=$(grep -lE 'Sanitizer|runtime error:' "$tmp"/*/err 2>/dev/null)
check no-sanitizer-reports "$reports" [ -z "$reports" ]
finish
