#!/usr/bin/env bash
# run.sh — a transform across processes (issue 15): `transform --map` per
# input, four at once, then `--merge`, must publish byte for byte what one
# `transform` process publishes (given the same run id), on a directory
# store and on S3 (s3rver behind the tests/s3 proxy); a missing, stale,
# corrupt or differently configured part fails the merge naming it and
# leaves the published outputs as they were; a map rerun replaces its own
# parts; the parts are gone after a merge. Ends "N passed, N failed, N skipped".
set -u
export LIB_SAY_OK=1
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
s3dir=$tmp/s3srv
at_exit "tests/s3/server.sh stop '$s3dir' >/dev/null 2>&1"

DS=2026-11-30
OUTS="dim_date.parquet dim_product.parquet fact_sales.parquet rejects.csv"
# Small chunks: each file is read in several chunks, so chunk parts matter.
base=(DATA_DIR="$tmp/data" STATE_DIR="$tmp/state" CHUNK_BYTES=150000 MAX_REJECT_RATE=0.9
      DATABASE_URL="sqlite:///$tmp/wh.db")
sp() { # VAR=VALUE... -- ARGS...: salespipe with the base settings plus these
  local extra=()
  while [ "$1" != -- ]; do extra+=("$1"); shift; done
  shift
  env "${base[@]}" "${extra[@]}" "$bin" "$@"
}
dirs() { echo RAW_STORE="$tmp/$1-raw" PROCESSED_STORE="$tmp/$1-proc"; }
outdir() { echo "$tmp/$1-proc/runs/$DS"; }
same_outputs() { # DIR1 DIR2 [SKIP]: every output byte for byte, the manifest but
  # its time (and lines matching SKIP)
  local f skip='"created"'
  [ $# -gt 2 ] && skip="$skip\\|$3"
  for f in $OUTS; do cmp -s "$1/$f" "$2/$f" || { echo "$f differs"; return 1; }; done
  cmp -s <(grep -v "$skip" "$1/_manifest.json") <(grep -v "$skip" "$2/_manifest.json") ||
    { echo "_manifest.json differs"; diff <(grep -v "$skip" "$1/_manifest.json") \
        <(grep -v "$skip" "$2/_manifest.json") | head -5; return 1; }
}
map_all() { # STORE-SETTINGS...: every input of --list mapped, four processes at once
  local names n rc=0 pids=()
  names=$(sp "$@" -- -q transform --ds $DS --list) || return 1
  for n in $names; do
    sp "$@" -- -q transform --ds $DS --map "$n" 2>>"$tmp/map.err" & pids+=($!)
  done
  for n in "${pids[@]}"; do wait "$n" || rc=1; done
  [ ${#pids[@]} -eq 4 ] || { echo "${#pids[@]} inputs listed, 4 expected" >>"$tmp/map.err"; rc=1; }
  return $rc
}

"$bin" -q gen --out "$tmp/data/raw" --rows 6000 --dirty --seed 7 || { echo "gen failed"; exit 1; }

# ---- 1. directory stores: --list, four maps at once, merge ------------------------
read -r -a D <<<"$(dirs dir)"
sp "${D[@]}" -- -q stage --ds $DS 2>"$tmp/err" || bad stage "$(cat "$tmp/err")"
listed=$(sp "${D[@]}" -- -q transform --ds $DS --list 2>"$tmp/err")
check list-is-the-input-set "got: $listed $(cat "$tmp/err")" \
  [ "$listed" = "$(cd "$tmp/data/raw" && printf '%s\n' *_orders.csv | LC_ALL=C sort)" ]
: >"$tmp/map.err"
check four-maps-at-once "$(head -c 600 "$tmp/map.err")" map_all "${D[@]}"
nparts=$(find "$tmp/dir-proc/runs/$DS/_parts" -name 'fact-*.parquet' 2>/dev/null | wc -l)
check parts-per-chunk "$nparts fact parts" [ "$nparts" -gt 4 ]
sp "${D[@]}" -- -q transform --ds $DS --merge 2>"$tmp/err"
rc=$?
check merge "exit $rc: $(head -c 400 "$tmp/err")" [ $rc -eq 0 ]
check parts-removed "$(find "$tmp/dir-proc/runs/$DS/_parts" 2>/dev/null | head -3)" \
  [ ! -e "$tmp/dir-proc/runs/$DS/_parts" ]
sp "${D[@]}" -- transform --ds $DS --merge 2>"$tmp/err"
rc=$?
check merge-again-is-a-no-op "exit $rc: $(head -c 400 "$tmp/err")" \
  bash -c "[ $rc -eq 0 ] && grep -q 'merged and published already' '$tmp/err'"
run_id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["run_id"])' \
  "$(outdir dir)/_manifest.json" 2>/dev/null)
check mapped-run-id "got '$run_id'" bash -c "[[ '$run_id' == ${DS}_mapped_* ]]"
facts_run_ids=$("$bin" inspect --csv "$(outdir dir)/fact_sales.parquet" 2>/dev/null |
  python3 -c 'import csv,sys; r=csv.DictReader(sys.stdin); print(" ".join(sorted({x["run_id"] for x in r})))')
check facts-carry-the-run-id "fact_sales.run_id: $facts_run_ids" [ "$facts_run_ids" = "$run_id" ]
# The "started" line names the process's own id; the next one says which
# id the run uses (the JSON log's run_id field carries it from there).
check merge-log-names-the-run-id "$(head -c 600 "$tmp/err")" \
  grep -q "transform: run $run_id, not " "$tmp/err"

# the one-process transform of the same inputs with the same run id
read -r -a O <<<"$(dirs one)"
sp "${O[@]}" -- -q stage --ds $DS 2>/dev/null
sp "${O[@]}" -- -q transform --ds $DS --run-id "$run_id" 2>"$tmp/err" || bad one-process "$(cat "$tmp/err")"
check byte-identical-to-one-process "$(same_outputs "$(outdir one)" "$(outdir dir)")" \
  same_outputs "$(outdir one)" "$(outdir dir)"
for t in 1 3; do
  sp "${O[@]}" THREADS=$t -- -q transform --ds $DS --run-id "$run_id" 2>/dev/null
  check "one-process-$t-workers-same" "$(same_outputs "$(outdir one)" "$(outdir dir)")" \
    same_outputs "$(outdir one)" "$(outdir dir)"
done

# load what the merge published: the warehouse holds every kept row
sp "${D[@]}" -- -q create-tables --ds $DS 2>"$tmp/err" && sp "${D[@]}" -- -q load --ds $DS 2>>"$tmp/err"
kept=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["tables"]["fact_sales"])' \
  "$(outdir dir)/_manifest.json" 2>/dev/null)
loaded=$(sqlite3 "$tmp/wh.db" 'SELECT count(*) FROM fact_sales' 2>/dev/null)
check load-after-merge "kept $kept, loaded $loaded: $(head -c 300 "$tmp/err")" \
  bash -c "[ -n '$kept' ] && [ '$kept' = '$loaded' ]"

# ---- 2. a merge that must fail: the published outputs stay as they were ---------
cp -r "$(outdir dir)" "$tmp/published"
merge_fails() { # NAME WANT-IN-ERROR: merge exits 1 naming it; outputs unchanged
  sp "${D[@]}" -- -q transform --ds $DS --merge 2>"$tmp/err"
  local rc=$?
  check "$1" "exit $rc: $(head -c 400 "$tmp/err")" \
    bash -c "[ $rc -eq 1 ] && grep -qF -- '$2' '$tmp/err'"
  check "$1-outputs-untouched" "$(same_outputs "$tmp/published" "$(outdir dir)")" \
    same_outputs "$tmp/published" "$(outdir dir)"
}
first=$(head -n 1 <<<"$listed")
map_one() { sp "${D[@]}" "$@" -- -q transform --ds $DS --map "$first" 2>"$tmp/err"; }
: >"$tmp/map.err"
map_all "${D[@]}" || bad remap "$(head -c 300 "$tmp/map.err")"
rm "$tmp/dir-proc/runs/$DS/_parts/$first/part.json"
merge_fails missing-part "no part for input $first"

map_one || bad remap "$(cat "$tmp/err")"
: >"$tmp/dir-proc/runs/$DS/_parts/$first/fact-0.parquet"
merge_fails corrupt-fact-part "$first"
map_one || bad remap "$(cat "$tmp/err")"
check map-rerun-replaces-its-parts "fact-0 still empty" \
  [ -s "$tmp/dir-proc/runs/$DS/_parts/$first/fact-0.parquet" ]

printf '{"format": 1, "run_id": ' >"$tmp/dir-proc/runs/$DS/_parts/$first/part.json"
merge_fails hostile-part-json "part.json"
map_one
head -c 40 /dev/urandom >"$tmp/dir-proc/runs/$DS/_parts/$first/dims.bin"
merge_fails hostile-dims "dims.bin"
map_one
python3 - "$tmp/dir-proc/runs/$DS/_parts/$first/part.json" <<'EOF'
import json, sys
p = json.load(open(sys.argv[1])); p["rejected"][0] += 1; p["rows_in"] += 1
json.dump(p, open(sys.argv[1], "w"))
EOF
merge_fails counts-disagree-with-facts "fact rows"

map_one DATE_ORDER=dmy
merge_fails other-settings "DATE_ORDER=dmy"

# the input set changes after the maps: their parts belong to another run
map_one
cp "$tmp/data/raw/$first" "$tmp/keep.csv"
tail -n 1 "$tmp/keep.csv" >>"$tmp/data/raw/$first"
sp "${D[@]}" -- -q stage --ds $DS 2>/dev/null
merge_fails stale-parts "map $first again"
cp "$tmp/keep.csv" "$tmp/data/raw/$first"
sp "${D[@]}" -- -q stage --ds $DS 2>/dev/null

# ---- 3. the command line -------------------------------------------------------------
sp "${D[@]}" -- -q transform --ds $DS --map no_such_orders.csv 2>"$tmp/err"
rc=$?
check map-unknown-input-exit-2 "exit $rc: $(cat "$tmp/err")" \
  bash -c "[ $rc -eq 2 ] && grep -q 'no_such_orders.csv: not an input' '$tmp/err'"
sp "${D[@]}" -- transform --ds $DS --map-index 4 2>"$tmp/err"
rc=$?
check map-index-past-the-end "exit $rc: $(cat "$tmp/err")" \
  bash -c "[ $rc -eq 0 ] && grep -q 'nothing to map' '$tmp/err'"
sp "${D[@]}" -- -q transform --ds $DS --map-index 1 2>"$tmp/err"
second=$(sed -n 2p <<<"$listed")
check map-index-picks-list-order "$(cat "$tmp/err")" \
  [ -s "$tmp/dir-proc/runs/$DS/_parts/$second/part.json" ]
sp "${D[@]}" -- -q transform --ds $DS --map "runs/$DS/$first" 2>"$tmp/err"
check map-by-raw-key "$(cat "$tmp/err")" [ -s "$tmp/dir-proc/runs/$DS/_parts/$first/part.json" ]
for args in "--map a --merge" "--list --map-index 0" "--map-index -1" "--map-index x" \
  "--run-id bad/id" "--map a --skip-gates"; do
  # shellcheck disable=SC2086 # the words are the options
  sp "${D[@]}" -- -q transform --ds $DS $args 2>"$tmp/err"
  rc=$?
  check "usage: $args" "exit $rc: $(cat "$tmp/err")" [ $rc -eq 2 ]
done

# ---- 4. no _inputs.json (files delivered straight into the raw store) ----------------
read -r -a L <<<"$(dirs listing)"
mkdir -p "$tmp/listing-raw/runs/$DS"
cp "$tmp/data/raw/"*_orders.csv "$tmp/listing-raw/runs/$DS/"
: >"$tmp/map.err"
check listing-four-maps "$(head -c 400 "$tmp/map.err")" map_all "${L[@]}"
sp "${L[@]}" -- -q transform --ds $DS --merge 2>"$tmp/err"
lrun=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["run_id"])' \
  "$(outdir listing)/_manifest.json" 2>/dev/null)
read -r -a L2 <<<"$(dirs listing2)"
mkdir -p "$tmp/listing2-raw" && cp -r "$tmp/listing-raw/runs" "$tmp/listing2-raw/"
sp "${L2[@]}" -- -q transform --ds $DS --run-id "${lrun:-none}" 2>/dev/null
check listing-merge-as-one-process "$(same_outputs "$(outdir listing2)" "$(outdir listing)") $(head -c 300 "$tmp/err")" \
  same_outputs "$(outdir listing2)" "$(outdir listing)"

# ---- 5. S3: four maps at once against the test server, then merge -------------------
if S3_TEST_WATCH_PID=$$ S3_TEST_BUCKETS="raw processed" tests/s3/server.sh start "$s3dir" \
  >"$tmp/s3start.log" 2>&1; then
  S=(RAW_STORE=s3://raw PROCESSED_STORE=s3://processed)
  backend=
  while IFS= read -r line; do
    case "$line" in
      AWS_*=*) S+=("$line") ;;
      S3_TEST_ENDPOINT=*) S+=("AWS_ENDPOINT_URL_S3=${line#*=}") ;;
      S3_TEST_BACKEND=*) backend=${line#*=} ;;
    esac
  done <"$s3dir/env"
  sp "${S[@]}" -- -q stage --ds $DS 2>"$tmp/err" || bad s3-stage "$(cat "$tmp/err")"
  : >"$tmp/map.err"
  check s3-four-maps-at-once "$(head -c 600 "$tmp/map.err")" map_all "${S[@]}"
  sp "${S[@]}" -- -q transform --ds $DS --merge 2>"$tmp/err"
  rc=$?
  check s3-merge "exit $rc: $(head -c 400 "$tmp/err")" [ $rc -eq 0 ]
  mkdir -p "$tmp/s3out"
  for f in $OUTS _manifest.json; do
    curl -sS --fail --max-time 60 -o "$tmp/s3out/$f" "$backend/processed/runs/$DS/$f" 2>>"$tmp/s3get.err"
  done
  # the same inputs give the same mapped run id: the directory run's outputs
  # (but MAX_ROW_DROP's note: that run's warehouse had no load yet)
  check s3-byte-identical "$(same_outputs "$tmp/published" "$tmp/s3out" '"gates"') $(cat "$tmp/s3get.err" 2>/dev/null)" \
    same_outputs "$tmp/published" "$tmp/s3out" '"gates"'
  left=$(curl -sS --max-time 60 "$backend/processed?prefix=runs/$DS/_parts/" | grep -o '<Key>[^<]*</Key>' | head -3)
  check s3-parts-removed "left: $left" [ -z "$left" ]
else
  bad s3-harness "tests/s3/server.sh start failed: $(tail -5 "$tmp/s3start.log")"
fi

finish
