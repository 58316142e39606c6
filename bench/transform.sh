#!/usr/bin/env bash
# transform.sh — the transform benchmark (`make bench` runs it after the
# codec benchmark), against issue 15's targets. On `salespipe gen --rows N`
# (4 files; N = 500,000: 2 M rows), staged once, it times in the same run,
# BENCH_RUNS times each (interleaved, medians):
#   salespipe transform on the 4 files, and on the same rows in ONE file (the
#     four concatenated, one header);
#   DuckDB and Polars (their Node packages, bench/peer_*.mjs) doing the same
#     job on the 4 files: read the CSVs, the rules, fact_sales with its
#     lineage columns, dim_date, dim_product as ZSTD Parquet;
# then salespipe once on 10 × N rows per file (20 M rows; BENCH_BIG=0 skips).
# Wall seconds, CPU seconds (user+sys) and peak RSS come from GNU time.
# Prints each target with PASS or MISS; a benchmark, never a test: it fails
# only when it cannot run, never on time.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
rows=${BENCH_TRANSFORM_ROWS:-500000}
runs=${BENCH_RUNS:-3}
big=${BENCH_BIG:-1}
sp=$root/build/salespipe
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
TIME=/usr/bin/time
[ -x "$TIME" ] || { echo "transform bench: GNU time missing (make deps installs 'time')"; exit 1; }
DS=2024-01-01
load1() { uptime | sed 's/.*load average: \([0-9.]*\).*/\1/'; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
maximum() { sort -n | tail -n 1; }
# Each measurement appends "wall cpu rss_kb rows" to $tmp/<name>.txt.
record() { echo "$2 $3 $4 $5" >>"$tmp/$1.txt"; }
col() { cut -d' ' -f"$2" "$tmp/$1.txt"; }
mrows() { awk -v n="$1" 'BEGIN {if (n >= 1e6) printf "%g M", n / 1e6; else printf "%d", n}'; }

# A run folder NAME with gen --rows N files, staged.
prepare() {
  local dir=$tmp/$1 n=$2
  mkdir -p "$dir"
  (cd "$dir" && "$sp" -q gen --out data/raw --rows "$n" --seed 42 && "$sp" -q stage --ds $DS)
}

# salespipe transform in DIR; records wall, user+sys, peak RSS, fact rows.
ours() {
  local name=$1 dir=$tmp/$2
  (cd "$dir" && "$TIME" -f '%e %U %S %M' -o "$dir/time.txt" "$sp" -q transform --ds $DS)
  local facts
  facts=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["tables"]["fact_sales"])' \
    "$dir/lake/processed/runs/$DS/_manifest.json")
  read -r wall user sys rss <"$dir/time.txt"
  record "$name" "$wall" "$(echo "$user + $sys" | bc)" "$rss" "$facts"
}

# A peer (duckdb, polars) on the 4 files: its own clock for the job (node's
# start and module load excluded), GNU time's CPU (included) and peak RSS.
peer() {
  local name=$1 out=$tmp/out-$1
  rm -rf "$out"; mkdir -p "$out"
  local res
  res=$(cd "$root/tests/interop" && FILES=$(printf '%s\n' "$tmp"/four/data/raw/*.csv) OUT=$out \
    REQUIRE_FROM=$root/tests/interop/package.json \
    "$TIME" -f 'TIME %U %S %M' -o "$out/time.txt" node "$root/bench/peer_$name.mjs")
  read -r _ secs facts version < <(grep '^RESULT' <<<"$res")
  read -r _ user sys rss <"$out/time.txt"
  record "$name" "$secs" "$(echo "$user + $sys" | bc)" "$rss" "$facts"
  echo "$version" >"$tmp/$name.version"
  rm -rf "$out"
}

if [ ! -d tests/interop/node_modules/@duckdb/node-api ] || [ ! -d tests/interop/node_modules/nodejs-polars ]; then
  npm ci --prefix tests/interop --no-audit --no-fund --loglevel=error >/dev/null
fi

la_start=$(load1)
prepare four "$rows"
bytes=$(cat "$tmp"/four/data/raw/*.csv | wc -c)
# The same rows in one file: the four concatenated, one header.
mkdir -p "$tmp/one/data/raw"
first=1
for f in "$tmp"/four/data/raw/*.csv; do
  if [ $first = 1 ]; then cat "$f"; first=0; else tail -n +2 "$f"; fi
done >"$tmp/one/data/raw/All_orders.csv"
(cd "$tmp/one" && "$sp" -q stage --ds $DS)
rm -f "$tmp/one/data/raw/All_orders.csv"

total=$((rows * 4))
echo
echo "== transform benchmark: $total rows (gen --rows $rows: 4 files, $((bytes / 1000000)) MB), $(nproc) cores, $runs runs each, interleaved"
for _ in $(seq 1 "$runs"); do
  ours ours4 four
  ours ours1 one
  peer duckdb
  peer polars
done
if [ "$big" != 0 ]; then
  rm -rf "$tmp/one"
  prepare big $((rows * 10))
  rm -rf "$tmp/big/data/raw"   # staged: the raw store holds the copy transform reads
  ours big big
fi
la_end=$(load1)

printf '%-40s %8s %8s %12s %11s\n' "engine (medians of $runs; RSS: max)" "wall s" "CPU s" "peak RSS MB" "fact rows"
line() { # NAME LABEL
  printf '%-40s %8.2f %8.2f %12.0f %11s\n' "$2" "$(col "$1" 1 | median)" "$(col "$1" 2 | median)" \
    "$(col "$1" 3 | maximum | awk '{print $1 / 1024}')" "$(col "$1" 4 | sort -u | tr '\n' ' ')"
}
line ours4 "salespipe, 4 files"
line ours1 "salespipe, the same rows in 1 file"
line duckdb "DuckDB $(cat "$tmp/duckdb.version")"
line polars "Polars (nodejs-polars $(node -p "require('$root/tests/interop/node_modules/nodejs-polars/package.json').version"))"
[ "$big" = 0 ] || line big "salespipe, $(mrows $((total * 10))) rows, 4 files (1 run)"
echo "(peers: wall clock of the job inside node, CPU including node's start; all runs: $(paste -sd' ' <(col ours4 1)) s ours,"
echo " $(paste -sd' ' <(col duckdb 1)) s DuckDB, $(paste -sd' ' <(col polars 1)) s Polars; load average $la_start at the start, $la_end at the end)"

s=$(col ours4 1 | median)
verdict() { # VALUE OP LIMIT → PASS/MISS
  awk -v v="$1" -v op="$2" -v l="$3" 'BEGIN {ok = (op == ">=") ? v >= l : v <= l; print ok ? "PASS" : "MISS"}'
}
target() { # LABEL VALUE UNIT OP LIMIT
  printf '  %-48s %8.2f%-3s target %s %s%s  %s\n' "$1" "$2" "$3" "$4" "$5" "$3" "$(verdict "$2" "$4" "$5")"
}
echo "targets (issue 15; same run, ratios of medians; the wall clock decides, CPU shown for a loaded machine):"
d=$(col duckdb 1 | median); p=$(col polars 1 | median)
target "DuckDB / salespipe, wall" "$(echo "scale=4; $d / $s" | bc)" x ">=" 5
target "Polars / salespipe, wall" "$(echo "scale=4; $p / $s" | bc)" x ">=" 4
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
echo "    (CPU-time ratios: DuckDB $(ratio "$(col duckdb 2 | median)" "$(col ours4 2 | median)")x, Polars $(ratio "$(col polars 2 | median)" "$(col ours4 2 | median)")x)"
rss=$(col ours4 3 | maximum)
target "salespipe peak RSS, $(mrows $total) rows" "$(echo "scale=2; $rss / 1024" | bc)" " MB" "<=" 128
target "1 file / 4 files, wall" "$(echo "scale=4; $(col ours1 1 | median) / $s" | bc)" x "<=" 1.15
echo "    (CPU-time ratio: $(ratio "$(col ours1 2 | median)" "$(col ours4 2 | median)")x)"
if [ "$big" != 0 ]; then
  target "$(mrows $((total * 10))) rows / $(mrows $total) rows, wall" "$(echo "scale=4; $(col big 1 | median) / $s" | bc)" x "<=" 10.5
  echo "    (CPU-time ratio: $(ratio "$(col big 2 | median)" "$(col ours4 2 | median)")x)"
  target "peak RSS $(mrows $((total * 10))) / $(mrows $total) (unchanged: +10% at most)" "$(echo "scale=4; $(col big 3 | maximum) / $rss" | bc)" x "<=" 1.10
else
  echo "  20 M rows: skipped (BENCH_BIG=0)"
fi
same=$( (col ours4 4; col ours1 4; col duckdb 4; col polars 4) | sort -u | wc -l)
echo "same fact rows from every engine: $([ "$same" = 1 ] && echo "yes ($(col ours4 4 | head -n 1))" || echo "NO")"
