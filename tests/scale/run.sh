#!/usr/bin/env bash
# run.sh — scale tests: one file read in chunks by several workers gives
# the one-chunk result (facts in order, rejects with their lines, manifest),
# with chunk boundaries put exactly on a quoted line end, a doubled quote and
# a CRLF, for 1, 2, 3 and 7 workers; Windows-1252 and day-first decided per
# file across chunks; 10,000 tiny files in bounded memory. Ends
# "N passed, N failed".
set -u
# The optimised build unless told: the suite reads files of 10-100 MB and
# 10,000 small ones, too slow under the sanitizers for the suite's time.
SALESPIPE=${SALESPIPE:-build/salespipe}
# shellcheck disable=SC2034 # read by lib.sh
LIB_SAY_OK=1
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
gen="$root/tests/scale/gen_chunks.py"

DS=2024-01-01
# Every salespipe runs in $tmp: the repository root may hold a demo's
# warehouse.db and ledger (`make run`), which the row-drop gate would read.
# transform DIR OUT [VAR=VALUE...]: raw store DIR, processed store OUT
transform() {
  local raw=$1 out=$2; shift 2
  (cd "$tmp" && env "$@" RAW_STORE="$raw" PROCESSED_STORE="$out" DATE_ORDER=auto "$bin" -q transform --ds $DS)
}
# what a run produced, as text: facts in order, rejects, manifest without
# the fields that differ between runs
# (run_id differs between runs by design: every column but it)
facts() {
  "$bin" inspect --csv --head 100000000 "$1/runs/$DS/fact_sales.parquet" | python3 -c '
import csv, sys
r = csv.reader(sys.stdin); w = csv.writer(sys.stdout, lineterminator="\n")
head = next(r); keep = [i for i, h in enumerate(head) if h != "run_id"]
for row in [head] + list(r):
    w.writerow([row[i] for i in keep])'
}
groups() { "$bin" inspect "$1/runs/$DS/fact_sales.parquet" | grep '^row group [0-9]' | sed 's/,.*//'; }
manifest() { grep -v '"created"\|"run_id"' "$1/runs/$DS/_manifest.json"; }
same_result() { # REF OUT
  cmp -s <(facts "$1") <(facts "$2") && cmp -s "$1/runs/$DS/rejects.csv" "$2/runs/$DS/rejects.csv" \
    && cmp -s <(manifest "$1") <(manifest "$2")
}

# ---- one file, chunk boundaries on the hard bytes ----------------------------
raw=$tmp/raw; mkdir -p "$raw/runs/$DS"
python3 "$gen" tricky "$raw/runs/$DS/Tricky_orders.csv"
transform "$raw" "$tmp/ref" CHUNK_BYTES=1000000000 THREADS=1 2>"$tmp/err" || bad ref "$(cat "$tmp/err")"
rows=$(facts "$tmp/ref" | wc -l)
rej=$(($(wc -l <"$tmp/ref/runs/$DS/rejects.csv")))
if [ "$rows" -gt 500 ] && [ "$rej" -gt 10 ]; then ok "reference run: $((rows - 1)) facts, rejects file of $rej lines"
else bad reference "rows $rows rejects $rej"; fi
cuts=$(python3 "$gen" cuts "$raw/runs/$DS/Tricky_orders.csv" 6)
check "chunk sizes putting boundaries on the hard bytes: $(tr '\n' ' ' <<<"$cuts")" "$cuts" \
  [ "$(wc -w <<<"$cuts")" -ge 6 ]
for cb in $cuts; do
  first=""
  for t in 1 2 3 7; do
    out=$tmp/out-$cb-$t
    if ! transform "$raw" "$out" CHUNK_BYTES="$cb" THREADS=$t 2>"$tmp/err"; then
      bad "chunks of $cb bytes, $t workers" "$(head -c 300 "$tmp/err")"; continue
    fi
    if same_result "$tmp/ref" "$out"; then ok "chunks of $cb bytes, $t workers: same facts, rejects, manifest"
    else bad "chunks of $cb bytes, $t workers" "differs from the one-chunk run"; fi
    # the Parquet layout depends on the chunks, never on the workers
    if [ -z "$first" ]; then first=$out
    elif cmp -s <(groups "$first") <(groups "$out"); then
      ok "chunks of $cb bytes, $t workers: fact_sales row groups as with 1 worker"
    else bad "chunks of $cb bytes, $t workers" "fact_sales row groups differ from 1 worker's"; fi
  done
done

# ---- per-file decisions across chunks -----------------------------------------
for kind in cp1252 dayfirst; do
  r=$tmp/raw-$kind; mkdir -p "$r/runs/$DS"
  python3 "$gen" $kind "$r/runs/$DS/X_orders.csv"
  transform "$r" "$tmp/ref-$kind" CHUNK_BYTES=1000000000 THREADS=1 2>/dev/null
  for t in 1 2 7; do
    out=$tmp/out-$kind-$t
    if transform "$r" "$out" CHUNK_BYTES=997 THREADS=$t 2>"$tmp/err" && same_result "$tmp/ref-$kind" "$out"; then
      ok "$kind file in chunks of 997 bytes, $t workers: same result as one chunk"
    else bad "$kind file, $t workers" "$(head -c 300 "$tmp/err")"; fi
  done
done
check "a Windows-1252 byte in the last chunk makes the whole file windows-1252" "manifest encoding" \
  grep -q '"encoding": "windows-1252"' "$tmp/out-cp1252-7/runs/$DS/_manifest.json"
check "a day-first date in the last chunk makes the whole file day-first" "manifest date order" \
  grep -q '"date_order": "dmy"' "$tmp/out-dayfirst-7/runs/$DS/_manifest.json"
r=$tmp/raw-conflict; mkdir -p "$r/runs/$DS"
python3 "$gen" conflict "$r/runs/$DS/X_orders.csv"
transform "$r" "$tmp/c1" CHUNK_BYTES=1000000000 THREADS=1 2>"$tmp/e1"; rc1=$?
transform "$r" "$tmp/c2" CHUNK_BYTES=997 THREADS=3 2>"$tmp/e2"; rc2=$?
if [ $rc1 -eq 1 ] && [ $rc2 -eq 1 ] && grep -q "day-first on line 2" "$tmp/e2" \
   && cmp -s <(sed 's/.*failed after [0-9.]*s: //' "$tmp/e1") <(sed 's/.*failed after [0-9.]*s: //' "$tmp/e2"); then
  ok "day-first and month-first in different chunks: the one-chunk error, naming both lines"
else bad conflict "exit $rc1/$rc2: $(cat "$tmp/e1" "$tmp/e2" | head -c 400)"; fi

# ---- 10,000 tiny files: memory does not grow with the number of files ---------
r=$tmp/raw-many; mkdir -p "$r/runs/$DS"
python3 - "$r/runs/$DS" <<'PY'
import sys
d = sys.argv[1]
head = "Order Date,Ship Date,Product ID,Category,Sales,Quantity,Profit\n"
for i in range(10000):
    with open(f"{d}/R{i:05d}_orders.csv", "w") as f:
        f.write(head + f"1/13/2024,1/14/2024,P-{i % 50},Tech,10.5,2,1.25\n"
                       f"2/14/2024,2/15/2024,P-{i % 70},Tech,7,1,-0.5\n")
PY
if (cd "$tmp" && /usr/bin/time -f %M -o "$tmp/rss" env RAW_STORE="$r" PROCESSED_STORE="$tmp/many" "$bin" -q transform --ds $DS 2>"$tmp/err"); then
  kb=$(tail -1 "$tmp/rss")
  n=$(grep -o '"fact_sales": [0-9]*' "$tmp/many/runs/$DS/_manifest.json" | grep -o '[0-9]*$')
  groups=$("$bin" inspect "$tmp/many/runs/$DS/fact_sales.parquet" | grep -c '^row group [0-9]')
  check "10,000 files: 20,000 facts" "facts $n" [ "$n" = 20000 ]
  check "10,000 files: peak RSS ${kb} KB (at most 128 MB)" "peak RSS $kb KB" [ "$kb" -le 131072 ]
  check "10,000 files: small parts coalesced into $groups row group(s)" "$groups row groups" \
    [ "$groups" -le 2 ]
else bad "10,000 files" "$(head -c 300 "$tmp/err")"; fi

finish
