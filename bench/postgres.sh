#!/usr/bin/env bash
# postgres.sh — `make bench`: the PostgreSQL load, 2 M facts into the star
# schema on a throwaway PostgreSQL 15 (tests/postgres/pg.sh), against, in the
# same run and on the same server:
#   reference  the reference system's method: psql \copy of CSV into the
#              dimensions and a temporary staging table, then INSERT … SELECT
#              joining the dimensions, one transaction, constraints in place;
#   limit      a server-side binary COPY FROM a file into a bare table (no
#              keys, no indexes): what the server alone needs for the rows.
# Each of the three runs on two servers, one after the other, data directory
# on the same disk:
#   fast       fsync=off, synchronous_commit=off, full_page_writes=off (the
#              test suite's server);
#   durable    PostgreSQL's defaults (fsync, synchronous_commit and
#              full_page_writes on), as a production server runs.
# Only the load is timed (gen/stage/transform run once before). Prints the
# times and the same-run ratios; a benchmark, never a test: it asserts
# nothing about time.
# BENCH_PG_ROWS overrides gen's --rows (500000 → about 2 M facts); BENCH_PG_RUNS
# how often our load and the limit run (the best and the median are shown);
# BENCH_PG_REF_RUNS how often the reference runs (1: about 25-35 s each);
# BENCH_PG_CONFIGS which servers ("fast durable"; e.g. "durable" alone).
#
# Then, on the durable server (issue 13):
#   reader wait  one psql session counts fact_sales every ~20 ms during a
#                full load of the same 2 M facts (what it sees, and each
#                count's time: the wait plus the count's own execution);
#                a second session probes fact_sales every ~10 ms with a
#                query that takes the same locks as the count and reads one
#                row: its time is the wait alone (the target's figure);
#   incremental  one 500,000-row input file replaced (new SHA-256) in a
#                fact_sales of BENCH_PG_BIG_FACTS facts (default 20,000,000:
#                the run's 2 M, plus 500,000-row files cloned server-side, as
#                a history of earlier loads), against loading that file into
#                an empty warehouse; each BENCH_PG_RUNS times, medians.
# BENCH_PG_INCREMENTAL=0 skips these.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
rows=${BENCH_PG_ROWS:-500000}
runs=${BENCH_PG_RUNS:-3}
ref_runs=${BENCH_PG_REF_RUNS:-1}
configs=${BENCH_PG_CONFIGS:-fast durable}
sp="$root/build/salespipe"
work=$(mktemp -d)
# As root the server runs as `postgres`, which must reach its directory:
# /tmp rather than a private TMPDIR.
pgbase=${TMPDIR:-/tmp}; [ "$(id -u)" -eq 0 ] && pgbase=/tmp
pgdir=
trap 'cd "$pgbase"; [ -z "$pgdir" ] || "$root/tests/postgres/pg.sh" stop "$pgdir"; rm -rf "$work"' EXIT
DS=2024-01-01
now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
best() { printf '%s\n' "$@" | sort -n | head -n 1; }
mid() { printf '%s\n' "$@" | median; }
load1() { uptime | sed 's/.*load average: \([0-9.]*\).*/\1/'; }

echo "== PostgreSQL load benchmark ($(nproc) cores, $(uname -m), $(/usr/lib/postgresql/15/bin/postgres --version 2>/dev/null || echo 'PostgreSQL 15'))"
mkdir -p "$work/data/raw"
cd "$work"
"$sp" -q gen --out data/raw --rows "$rows" --seed 1
"$sp" -q stage --ds $DS
"$sp" -q transform --ds $DS
out="$work/lake/processed/runs/$DS"
facts=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["tables"]["fact_sales"])' "$out/_manifest.json")
echo "input: $facts facts, $(du -m "$out/fact_sales.parquet" | cut -f1) MB of Parquet; configurations: $configs"

# The CSVs the reference starts from (not timed): the same rows, written by DuckDB.
if [ ! -d "$root/tests/interop/node_modules/@duckdb/node-api" ]; then
  npm ci --prefix "$root/tests/interop" --no-audit --no-fund --loglevel=error >/dev/null
fi
(cd "$root/tests/interop" && OUT="$out" CSV="$work" node --input-type=module) <<'JS'
import { DuckDBInstance } from '@duckdb/node-api';
const o = process.env.OUT, c = process.env.CSV;
const con = await (await DuckDBInstance.create(':memory:')).connect();
await con.run(`COPY (SELECT order_date, day, month, quarter, year FROM read_parquet('${o}/dim_date.parquet')) TO '${c}/dim_date.csv' (HEADER false)`);
await con.run(`COPY (SELECT product_id, category FROM read_parquet('${o}/dim_product.parquet')) TO '${c}/dim_product.csv' (HEADER false)`);
await con.run(`COPY (SELECT order_date, product_id, quantity, total_sales, profit, unit_price, profit_margin FROM read_parquet('${o}/fact_sales.parquet')) TO '${c}/facts.csv' (HEADER false)`);
JS
cat >"$work/reference.sql" <<SQL
BEGIN;
TRUNCATE fact_sales, dim_product, dim_date RESTART IDENTITY;
\\copy dim_date(order_date, day, month, quarter, year) FROM '$work/dim_date.csv' CSV
\\copy dim_product(product_id, category) FROM '$work/dim_product.csv' CSV
CREATE TEMP TABLE staging(order_date date, product_id text, quantity int, total_sales numeric,
  profit numeric, unit_price numeric, profit_margin numeric) ON COMMIT DROP;
\\copy staging FROM '$work/facts.csv' CSV
INSERT INTO fact_sales(date_id, product_sk, quantity, total_sales, profit, unit_price, profit_margin)
  SELECT d.date_id, p.product_sk, s.quantity, s.total_sales, s.profit, s.unit_price, s.profit_margin
  FROM staging s JOIN dim_date d USING (order_date) JOIN dim_product p USING (product_id);
COMMIT;
SQL

# One configuration: start its server, time the three methods, stop it.
# Sets R_<name>_<field> for the summary.
bench_config() {
  local name=$1 durable=0
  [ "$name" = durable ] && durable=1
  pgdir=$(mktemp -d "$pgbase/salespipe-pgbench.XXXXXX")
  # (from a directory the server's user may enter: $work is private)
  (cd "$pgbase" && PG_DURABLE=$durable "$root/tests/postgres/pg.sh" start "$pgdir")
  # shellcheck disable=SC1091
  . "$pgdir/env"
  export PGPASSWORD=$PG_PASS
  local url="postgresql://$PG_USER@127.0.0.1:$PG_PORT/$PG_DB"
  admin() { PGOPTIONS='-c client_min_messages=warning' psql -X -q -At -v ON_ERROR_STOP=1 -h "$PG_SOCK" -p "$PG_PORT" -U "$PG_ADMIN" -d "$PG_DB" "$@"; }
  echo
  echo "-- server '$name': $(admin -c "SELECT 'fsync=' || current_setting('fsync') || ', synchronous_commit=' || current_setting('synchronous_commit') || ', full_page_writes=' || current_setting('full_page_writes') || ', wal_level=' || current_setting('wal_level')"); data directory $pgdir"
  DATABASE_URL=$url "$sp" -q create-tables
  local la; la=$(load1)

  # ---- ours: salespipe load (Parquet → binary COPY) ------------------------------
  # Statement durations go to the server log, for the breakdown printed below;
  # the client's CPU time beside the wall clock.
  admin -c "ALTER DATABASE $PG_DB SET log_min_duration_statement = 0"
  local ours=() cpu=() t
  for _ in $(seq 1 "$runs"); do
    admin -c "CHECKPOINT" # each timed method starts from a clean checkpoint
    t=$( { TIMEFORMAT='%R %U %S'; time DATABASE_URL=$url "$sp" -q load --ds $DS; } 2>&1 )
    ours+=("${t%% *}")
    cpu+=("$(echo "$t" | awk '{print $2 + $3}')")
  done
  local check; check=$(admin -c "SELECT count(*) || ' ' || sum(total_sales) FROM fact_sales")
  # The last load's statements, from its BEGIN: the facts' COPY, each key
  # re-created, COMMIT, and everything else.
  local breakdown
  breakdown=$(awk '/duration: .* statement: BEGIN/ {n=0; delete s}
    /duration: .* statement: / {s[++n]=$0}
    END {for (i = 1; i <= n; i++) {match(s[i], /duration: [0-9.]+/); d = substr(s[i], RSTART+10, RLENGTH-10)/1000;
           if (s[i] ~ /statement: COPY fact_sales/) c += d
           else if (s[i] ~ /VALIDATE CONSTRAINT/) fk = fk sprintf("%s%.2f", fk == "" ? "" : " + ", d)
           else if (s[i] ~ /ADD (CONSTRAINT .* )?PRIMARY KEY/) pk += d
           else if (s[i] ~ /ADD CONSTRAINT .* FOREIGN KEY/) fk = fk sprintf("%s%.2f", fk == "" ? "" : " + ", d)
           else if (s[i] ~ /statement: COMMIT/) cm += d
           else rest += d}
         printf "COPY fact_sales %.2f s, primary key %.2f s, foreign keys %s s, COMMIT %.2f s, the rest %.2f s", c, pk, fk, cm, rest}' "$pgdir/server.log")
  admin -c "ALTER DATABASE $PG_DB RESET log_min_duration_statement"

  # ---- the limit: server-side binary COPY FROM file into a bare table --------------
  local srvdir="$pgdir/bench" limit=()
  mkdir -p "$srvdir"
  [ "$(id -u)" -eq 0 ] && chown postgres: "$srvdir"
  # (a query: COPY of a table alone would skip the rows in its children)
  admin -c "COPY (SELECT * FROM fact_sales) TO '$srvdir/facts.bin' (FORMAT binary)"
  for _ in $(seq 1 "$runs"); do
    admin -c "DROP TABLE IF EXISTS bare; CREATE TABLE bare (LIKE fact_sales); CHECKPOINT"
    t0=$(now)
    admin -c "COPY bare FROM '$srvdir/facts.bin' (FORMAT binary)"
    limit+=("$(echo "$(now) - $t0" | bc)")
  done
  admin -c "DROP TABLE bare"

  # ---- the reference's method: CSV, staging table, INSERT … SELECT -----------------
  local refs=()
  for _ in $(seq 1 "$ref_runs"); do
    admin -c "CHECKPOINT"
    t0=$(now)
    psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d "$PG_DB" -f "$work/reference.sql"
    refs+=("$(echo "$(now) - $t0" | bc)")
  done
  local reference; reference=$(mid "${refs[@]}")
  local check_ref; check_ref=$(admin -c "SELECT count(*) || ' ' || sum(total_sales) FROM fact_sales")
  la="$la/$(load1)"
  (cd "$pgbase" && "$root/tests/postgres/pg.sh" stop "$pgdir"); pgdir=

  local om lm; om=$(mid "${ours[@]}"); lm=$(mid "${limit[@]}")
  printf '%-58s %9s %9s\n' "method ($facts facts; runs in brackets)" "best s" "median s"
  printf '%-58s %9.2f %9.2f\n' "salespipe load: binary COPY, keys rebuilt ($runs)" "$(best "${ours[@]}")" "$om"
  printf '%-58s %9.2f %9.2f\n' "reference: \\copy CSV + staging + INSERT…SELECT ($ref_runs)" "$(best "${refs[@]}")" "$reference"
  printf '%-58s %9.2f %9.2f\n' "limit: server-side COPY FROM binary file, bare table ($runs)" "$(best "${limit[@]}")" "$lm"
  echo "our loads' wall clock: ${ours[*]} s; client CPU (user+sys): ${cpu[*]} s"
  echo "our last load, from the server log: $breakdown"
  echo "same rows loaded by ours and the reference: $([ "$check" = "$check_ref" ] && echo "yes ($check)" || echo "NO: $check vs $check_ref")"
  printf -v "R_${name}_ours" '%s' "$om"
  printf -v "R_${name}_ref" '%s' "$reference"
  printf -v "R_${name}_limit" '%s' "$lm"
  printf -v "R_${name}_load" '%s' "$la"
}

for c in $configs; do
  case $c in fast|durable) bench_config "$c" ;; *) echo "BENCH_PG_CONFIGS: unknown '$c' (fast, durable)" >&2; exit 2 ;; esac
done

# ---- issue 13: the reader's wait during a load, and the incremental replace -------------
bench_incremental() {
  local big=${BENCH_PG_BIG_FACTS:-20000000}
  pgdir=$(mktemp -d "$pgbase/salespipe-pgbench.XXXXXX")
  (cd "$pgbase" && PG_DURABLE=1 "$root/tests/postgres/pg.sh" start "$pgdir")
  # shellcheck disable=SC1091
  . "$pgdir/env"
  export PGPASSWORD=$PG_PASS
  local url="postgresql://$PG_USER@127.0.0.1:$PG_PORT/$PG_DB"
  admin() { PGOPTIONS='-c client_min_messages=warning' psql -X -q -At -v ON_ERROR_STOP=1 -h "$PG_SOCK" -p "$PG_PORT" -U "$PG_ADMIN" -d "$PG_DB" "$@"; }
  echo
  echo "-- durable server: readers during a full load, and the incremental replace"
  DATABASE_URL=$url "$sp" -q create-tables
  DATABASE_URL=$url "$sp" -q load --ds $DS
  # Readers during a full load of the same run, two sessions (psql \timing:
  # each query's time, lock waits included): count(*) every ~20 ms (what a
  # reader sees), and every ~10 ms a probe that plans fact_sales and its
  # children as the count does (the same locks) but reads one row, so its
  # time is the wait: a count of 2 M rows itself takes 100-500 ms here.
  local stop="$work/reader.stop" log="$work/reader.log" plog="$work/probe.log" waits=()
  reader() { # SQL PAUSE LOG
    ( printf '%s\n' '\timing on'; while [ ! -e "$stop" ]; do echo "$1"; sleep "$2"; done ) \
      | psql -X -q -At -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d "$PG_DB" >"$3" 2>&1
  }
  timings() { awk '/^Time:/ {n++; s += $2; if ($2 > m) m = $2} END {printf "%.1f %.1f %d", m, s / n, n}' "$1"; }
  for _ in $(seq 1 "$runs"); do
    rm -f "$stop"
    reader "SELECT count(*) FROM fact_sales;" 0.02 "$log" &
    local rpid=$!
    reader "SELECT 1 FROM fact_sales LIMIT 1;" 0.01 "$plog" &
    local ppid=$!
    sleep 1
    local t0; t0=$(now)
    DATABASE_URL=$url "$sp" -q load --ds $DS
    local lt; lt=$(echo "$(now) - $t0" | bc)
    sleep 1; touch "$stop"; wait "$rpid" "$ppid"
    local w p; w=$(timings "$log"); p=$(timings "$plog")
    local odd; odd=$(cat "$log" "$plog" | grep -cvE '^(Time: .*|[0-9]+)$' || true)
    echo "full load ${lt} s; probe: longest wait ${p%% *} ms, mean $(echo "$p" | cut -d' ' -f2) ms over $(echo "$p" | cut -d' ' -f3) probes; count(*): longest ${w%% *} ms, mean $(echo "$w" | cut -d' ' -f2) ms (wait + the count itself) over $(echo "$w" | cut -d' ' -f3) counts (every count $(sort -u <(grep -E '^[0-9]+$' "$log") | tr '\n' ' ')); other lines: $odd"
    waits+=("${p%% *}")
  done
  R_reader_wait=$(mid "${waits[@]}")

  # One 500,000-row file: West_orders.csv of another seed (a run of its own).
  local one="$work/one"
  rm -rf "$one"; mkdir -p "$one/data/raw"
  (cd "$one" && "$sp" -q gen --out gen --rows 500000 --seed 2 && mv gen/West_orders.csv data/raw/ && rm -rf gen \
     && "$sp" -q stage --ds $DS && "$sp" -q transform --ds $DS)
  # The big warehouse: this run incrementally, then clones of its children
  # (file names clone_NNN_orders.csv in etl_file) up to $big facts.
  admin -c "CREATE DATABASE big OWNER $PG_USER" -c "CREATE DATABASE small OWNER $PG_USER"
  local burl="postgresql://$PG_USER@127.0.0.1:$PG_PORT/big" surl="postgresql://$PG_USER@127.0.0.1:$PG_PORT/small"
  DATABASE_URL=$burl "$sp" -q create-tables
  DATABASE_URL=$burl LOAD_MODE=incremental "$sp" -q load --ds $DS
  psql -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d big -c "DO \$\$
    DECLARE src text; k int := 0; n bigint;
    BEGIN
      SELECT fact_table INTO src FROM etl_file WHERE source_file = 'West_orders.csv';
      SELECT count(*) INTO n FROM fact_sales;
      WHILE n + 500000 <= $big LOOP
        k := k + 1;
        EXECUTE format('CREATE TABLE %I (LIKE fact_sales INCLUDING CONSTRAINTS)', 'fact_sales_t0_' || k);
        EXECUTE format('INSERT INTO %I (sale_id, date_id, product_sk, quantity, total_sales, profit,
          unit_price, profit_margin, ship_date, region, order_id, source_file, source_line, run_id)
          SELECT sale_id + %s, date_id, product_sk, quantity, total_sales, profit, unit_price,
          profit_margin, ship_date, region, order_id, %L, source_line, run_id FROM %I', 'fact_sales_t0_' || k,
          (SELECT max(sale_id) FROM fact_sales), format('clone_%s_orders.csv', lpad(k::text, 3, '0')), src);
        EXECUTE format('ALTER TABLE %I ADD PRIMARY KEY (sale_id), ADD FOREIGN KEY (date_id) REFERENCES dim_date,
          ADD FOREIGN KEY (product_sk) REFERENCES dim_product, INHERIT fact_sales', 'fact_sales_t0_' || k);
        INSERT INTO etl_file VALUES (format('clone_%s_orders.csv', lpad(k::text, 3, '0')), md5(k::text), 0, 500000,
          'bench', '2024-01-01', now(), 'fact_sales_t0_' || k);
        n := n + 500000;
      END LOOP;
      PERFORM setval(pg_get_serial_sequence('fact_sales', 'sale_id'), (SELECT max(sale_id) FROM fact_sales));
    END \$\$" -c "VACUUM ANALYZE"
  local bigsize; bigsize=$(psql -X -q -At -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d big -c "SELECT count(*) || ' facts in ' || count(DISTINCT tableoid) || ' tables, ' || pg_size_pretty((SELECT sum(pg_total_relation_size(inhrelid)) FROM pg_inherits WHERE inhparent = 'fact_sales'::regclass)) FROM fact_sales")
  local repl=() empty=() t0
  for _ in $(seq 1 "$runs"); do
    admin -c "CHECKPOINT"
    t0=$(now)
    (cd "$one" && DATABASE_URL=$burl LOAD_MODE=incremental "$sp" -q load --ds $DS --force)
    repl+=("$(echo "$(now) - $t0" | bc)")
    admin -c "DROP DATABASE small" -c "CREATE DATABASE small OWNER $PG_USER"
    DATABASE_URL=$surl "$sp" -q create-tables
    admin -c "CHECKPOINT"
    t0=$(now)
    (cd "$one" && DATABASE_URL=$surl LOAD_MODE=incremental "$sp" -q load --ds $DS --force)
    empty+=("$(echo "$(now) - $t0" | bc)")
  done
  local after; after=$(psql -X -q -At -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d big -c "SELECT count(*) FROM fact_sales")
  echo "big warehouse: $bigsize; after the replaces: $after facts"
  echo "replace one 500,000-row file in it: ${repl[*]} s; the same file into an empty warehouse: ${empty[*]} s"
  R_repl=$(mid "${repl[@]}")
  R_empty=$(mid "${empty[@]}")
  (cd "$pgbase" && "$root/tests/postgres/pg.sh" stop "$pgdir"); pgdir=
}
if [ "${BENCH_PG_INCREMENTAL:-1}" != 0 ]; then bench_incremental; fi

echo
echo "summary (seconds; ours and limit: medians of $runs; reference: median of $ref_runs; same-run ratios; load average at start/end)"
printf '%-8s %8s %10s %8s %12s %11s %11s\n' server ours reference limit "ref / ours" "ours / lim" "load avg"
for c in $configs; do
  o=R_${c}_ours r=R_${c}_ref l=R_${c}_limit a=R_${c}_load
  printf '%-8s %8.2f %10.2f %8.2f %11.1fx %10.2fx %11s\n' "$c" "${!o}" "${!r}" "${!l}" \
    "$(echo "scale=3; ${!r} / ${!o}" | bc)" "$(echo "scale=3; ${!o} / ${!l}" | bc)" "${!a}"
done
# Each target with PASS or MISS (a benchmark: the exit status never depends on them).
verdict() { awk -v v="$1" -v op="$2" -v l="$3" 'BEGIN {ok = (op == ">=") ? v >= l : v <= l; print ok ? "PASS" : "MISS"}'; }
target() { printf '  %-70s %8.2f%-3s target %s %s%s  %s\n' "$1" "$2" "$3" "$4" "$5" "$3" "$(verdict "$2" "$4" "$5")"; }
echo "targets (same run, medians):"
for c in $configs; do
  o=R_${c}_ours r=R_${c}_ref l=R_${c}_limit
  target "$c server: reference / ours" "$(echo "scale=4; ${!r} / ${!o}" | bc)" x ">=" 8
  # issue 15: the durable server within 1.4x of the limit (the fast one: 1.5x, as before)
  lim=1.5; [ "$c" = durable ] && lim=1.4
  target "$c server: ours / limit (limit: COPY FROM binary file, bare table)" "$(echo "scale=4; ${!o} / ${!l}" | bc)" x "<=" "$lim"
done
if [ "${BENCH_PG_INCREMENTAL:-1}" != 0 ]; then
  target "durable: reader's longest wait (probe) during a full load of $facts facts" "$R_reader_wait" " ms" "<=" 200
  target "incremental replace of 500,000 rows in $(( ${BENCH_PG_BIG_FACTS:-20000000} / 1000000 )) M facts / into empty" \
    "$(echo "scale=4; $R_repl / $R_empty" | bc)" x "<=" 2
  printf '  (replace %.2f s, into an empty warehouse %.2f s)\n' "$R_repl" "$R_empty"
fi
