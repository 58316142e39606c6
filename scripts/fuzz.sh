#!/usr/bin/env bash
# fuzz.sh SECONDS — build every libFuzzer target tests/fuzz/fuzz_*.c with
# clang (ASan + UBSan) into build/fuzz and run each for SECONDS; exit non-zero
# on any crash. `make fuzz FUZZ_SECONDS=30`. The Parquet reader's corpus is
# seeded from tests/fuzz/seeds plus small files written by build/pq_fixture
# and DuckDB (when present); another target fuzz_NAME.c is seeded from
# tests/fuzz/seeds-NAME/ when that folder exists. Seed folders are never
# modified: new inputs go to tests/fuzz/corpus-run/<target>/.
set -euo pipefail
seconds=${1:-60}
cd "$(dirname "$0")/.."
CLANG=${CLANG:-clang}
out=build/fuzz
mkdir -p "$out/obj" "$out/artifacts"

# shellcheck disable=SC2054 # the commas belong to -fsanitize=… values
flags=(-std=c11 -D_GNU_SOURCE -I/usr/include/postgresql -g -O1 -fno-omit-frame-pointer
       -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
       -Wall -Wextra -Werror -Wshadow -Wvla -Wstrict-prototypes)
objs=()
for src in src/*/*.c; do
  if [ "$src" = src/cli/main.c ]; then continue; fi
  obj="$out/obj/$(echo "${src%.c}" | tr / _).o"
  if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ -n "$(find src -name '*.h' -newer "$obj" | head -n 1)" ]; then
    "$CLANG" "${flags[@]}" -c -o "$obj" "$src"
  fi
  objs+=("$obj")
done
targets=()
for src in tests/fuzz/fuzz_*.c; do
  t=$(basename "${src%.c}")
  "$CLANG" "${flags[@]}" -fsanitize=fuzzer -o "$out/$t" "$src" "${objs[@]}" \
    -lpq -lcurl -lzstd -lsnappy -lz -lsqlite3 -lcrypto -ljansson -lexpat -lm -pthread
  targets+=("$t")
done
echo "fuzz: built ${targets[*]}"

# Seeds: the committed ones, then fresh small files from both writers.
seeds=$(mktemp -d)
trap 'rm -rf "$seeds"' EXIT
cp tests/fuzz/seeds/* "$seeds/" 2>/dev/null || true
if [ -x build/pq_fixture ]; then
  i=0
  for args in "all --rows 9 --rg-rows 4 --codec none" "all --rows 9 --rg-rows 4 --codec zstd" \
              "all --rows 6 --codec snappy" "required --rows 5 --codec none --no-dict" \
              "fact --rows 20 --rg-rows 8 --codec none" "all --rows 30 --codec gzip"; do
    # shellcheck disable=SC2086 # split the argument string into words on purpose
    set -- $args
    kind=$1; shift
    build/pq_fixture write "$kind" "$seeds/ours-$i.parquet" /dev/null "$@" >/dev/null 2>&1 || true
    i=$((i + 1))
  done
fi
if [ -d tests/interop/node_modules/@duckdb/node-api ]; then
  (cd tests/interop && SEEDS="$seeds" node --input-type=module -e "
    import { DuckDBInstance } from '@duckdb/node-api';
    const con = await (await DuckDBInstance.create(':memory:')).connect();
    const q = \"select i::INTEGER a, (i*1.5)::DECIMAL(18,4) d, (i*0.25)::DECIMAL(9,2) p, DATE '1969-12-25' + i::INTEGER dt, \" +
      \"case when i%3=0 then null else 's'||(i%4) end s, i%2=0 b, i/4 f from range(12) t(i)\";
    const opts = ['COMPRESSION uncompressed', 'COMPRESSION snappy', 'COMPRESSION zstd',
      'COMPRESSION uncompressed, PARQUET_VERSION v2', 'COMPRESSION gzip, PARQUET_VERSION v2'];
    for (const [k, o] of opts.entries())
      await con.run('COPY (' + q + ') TO \'' + process.env.SEEDS + '/duck-' + k + '.parquet\' (FORMAT parquet, ' + o + ')');
  ") || echo "fuzz: DuckDB seeds skipped"
fi
# Keep seeds small: libFuzzer mutates small inputs far better.
find "$seeds" -type f -size +4k -delete

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
for t in "${targets[@]}"; do
  corpus=tests/fuzz/corpus-run/$t
  mkdir -p "$corpus"
  tseeds=$seeds
  if [ "$t" != fuzz_parquet_reader ]; then
    tseeds=$(mktemp -d)
    extra=tests/fuzz/seeds-${t#fuzz_}
    [ -d "$extra" ] && cp "$extra"/* "$tseeds/" 2>/dev/null
  fi
  echo "fuzz: $t: $(find "$tseeds" -type f | wc -l) seeds, running ${seconds}s"
  if ! "$out/$t" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
       -max_len=65536 -print_final_stats=1 -artifact_prefix="$out/artifacts/$t-" \
       "$corpus" "$tseeds"; then
    echo "fuzz: CRASH in $t — reproducer in $out/artifacts/ (rerun: $out/$t FILE)" >&2
    exit 1
  fi
  [ "$tseeds" != "$seeds" ] && rm -rf "$tseeds"
  echo "fuzz: $t: no crash in ${seconds}s (corpus: $corpus, $(find "$corpus" -type f | wc -l) inputs)"
done
