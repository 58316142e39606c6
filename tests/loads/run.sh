#!/usr/bin/env bash
# run.sh — loads of issue 13 / SPEC §8 against a real PostgreSQL 15
# (tests/postgres/pg.sh, its own server on a free loopback port) and SQLite:
#   - LOAD_MODE=incremental, per input file: new → inserted, same sha256 →
#     skipped (logged with the run that loaded it), new sha256 → replaced;
#     load --force; full ↔ incremental switches; etl_file true in both modes;
#   - the same run twice: every count and key unchanged;
#   - kill -9 of the load at random points (seeded; the seed is printed),
#     then a rerun: exactly the right contents;
#   - a reader loop (one psql session, \timing) during a full and an
#     incremental load of 2 M facts: every count it sees is the old or the
#     new complete one, never another; its longest wait is printed and must
#     be far below the load's duration (never blocked for the load);
#   - a view and a read-only role across loads; sales by region in one query;
#   - a warehouse made by the previous version's DDL (9eed434) migrated by
#     create-tables, nothing dropped;
#   - table sizes after 10 full loads ≤ 1.5× after one.
# LOADS_SEED fixes the kill points; LOADS_BIG_ROWS (rows per file, default
# 500000) the reader test's size. A server that cannot be started is a
# FAILURE. Ends with "N passed, N failed, N skipped".
set -u
# shellcheck disable=SC2034 # read by lib.sh
LIB_SAY_OK=1
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
fast_bin="$root/build/salespipe" # the 2 M-fact reader test: the optimised build
[ -x "$fast_bin" ] || fast_bin=$bin
seed=${LOADS_SEED:-$(( $(date +%s) % 100000 ))}
echo "# kill points seeded with LOADS_SEED=$seed"
RANDOM=$seed
big_rows=${LOADS_BIG_ROWS:-500000}

pg_start
admin() { psql -X -q -At -v ON_ERROR_STOP=1 -h "$PG_SOCK" -p "$PG_PORT" -U "$PG_ADMIN" -d "$1" -c "$2" 2>&1; }
newdb() { admin postgres "CREATE DATABASE $1 OWNER $PG_USER" >/dev/null; echo "postgresql://$PG_USER:$PG_PASS@127.0.0.1:$PG_PORT/$1"; }

# sp DIR DB [VAR=value …] -- ARGS: salespipe in project DIR with DATABASE_URL=DB; sets $out, $rc.
sp() {
  local dir=$1 db=$2; shift 2
  local envs=()
  while [ "$1" != "--" ]; do envs+=("$1"); shift; done
  shift
  out=$(cd "$dir" && env -u PGPASSWORD -u PGHOST "DATABASE_URL=$db" ${envs[@]+"${envs[@]}"} "$bin" "$@" 2>&1); rc=$?
}
project() { rm -rf "${tmp:?}/${1:?}"; mkdir -p "$tmp/$1/data/raw"; echo "$tmp/$1"; }
DS=2024-05-01
manifest() { python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' \
  "$1/lake/processed/runs/$DS/_manifest.json" "$2"; }
# stage + transform of the files now in DIR/data/raw (a fresh processed run)
prepare() { rm -rf "$1/lake"; sp "$1" "" -- stage --ds $DS && sp "$1" "" -- transform --ds $DS; }

# sql BACKEND DB QUERY: one query's rows, '|'-separated.
sql() {
  if [ "$1" = pg ]; then psql -X -q -At -v ON_ERROR_STOP=1 "$2" -c "$3" 2>&1
  else sqlite3 -bail "${2#sqlite:///}" "$3" 2>&1; fi
}
# The facts by natural keys (no surrogate key) and etl_file: what every
# load mode must agree on (an incremental load keeps dimension rows no fact
# uses any more, a full one does not). Decimals with 4 / 2 places.
natural() {
  local b=$1 db=$2 f4='%.4f' f2='%.2f'
  if [ "$b" = pg ]; then
    sql pg "$db" "SELECT count(*) || ' ' || sum(total_sales) FROM fact_sales"
    sql pg "$db" "SELECT md5(string_agg(concat_ws('|',
      f.source_file, f.source_line, d.order_date, p.product_id, p.category, f.quantity,
      to_char(f.total_sales, 'FM999999999990.0000'), to_char(f.profit, 'FM999999999990.0000'),
      to_char(f.unit_price, 'FM999999999990.00'), f.run_id IS NOT NULL), ',' ORDER BY f.source_file, f.source_line))
      FROM fact_sales f JOIN dim_date d USING (date_id) JOIN dim_product p USING (product_sk)"
    sql pg "$db" "SELECT string_agg(source_file || ':' || sha256 || ':' || rows, ',' ORDER BY source_file) FROM etl_file"
  else
    sql sqlite "$db" "SELECT count(*) || ' ' || printf('$f4', sum(total_sales)) FROM fact_sales"
    sql sqlite "$db" "SELECT f.source_file, f.source_line, d.order_date, p.product_id, p.category, f.quantity,
      printf('$f4', f.total_sales), printf('$f4', f.profit), printf('$f2', f.unit_price), f.run_id IS NOT NULL
      FROM fact_sales f JOIN dim_date d USING (date_id) JOIN dim_product p USING (product_sk)
      ORDER BY f.source_file, f.source_line" | md5sum | cut -c1-32
    sql sqlite "$db" "SELECT group_concat(source_file || ':' || sha256 || ':' || rows, ',') FROM (SELECT * FROM etl_file ORDER BY source_file)"
  fi
}
# Everything, surrogate keys included: a rerun must not change a thing.
exact() {
  if [ "$1" = pg ]; then
    sql pg "$2" "SELECT md5(string_agg(f::text, ',' ORDER BY sale_id)) FROM fact_sales f"
    sql pg "$2" "SELECT md5(string_agg(d::text, ',' ORDER BY date_id)) FROM dim_date d"
    sql pg "$2" "SELECT md5(string_agg(p::text, ',' ORDER BY product_sk)) FROM dim_product p"
    sql pg "$2" "SELECT string_agg(source_file || sha256 || run_id, ',' ORDER BY source_file) FROM etl_file"
  else
    sql sqlite "$2" "SELECT * FROM fact_sales ORDER BY sale_id" | md5sum
    sql sqlite "$2" "SELECT * FROM dim_date ORDER BY date_id; SELECT * FROM dim_product ORDER BY product_sk"
    sql sqlite "$2" "SELECT source_file, sha256, run_id FROM etl_file ORDER BY source_file"
  fi
}
# want DIR: count and exact sum of the run's manifest.
want() { echo "$(manifest "$1" 'm["rows_kept"]') $(manifest "$1" 'm["sums"]["total_sales"]')"; }
first_line() { head -n 1 <<<"$1"; }

# ---- the three per-file cases, the rerun, --force, mode switches: both backends -------
I=$(project incr)
sp "$I" "" -- gen --out data/raw --rows 3000 --seed 7
prepare "$I"
run_of() { sed -n 's/.*load: started (ds [0-9-]*, run \([^)]*\)).*/\1/p' <<<"$1" | head -n 1; }
for b in pg sqlite; do
  if [ $b = pg ]; then db=$(newdb incr); else db="sqlite:///$tmp/incr.db"; fi
  sp "$I" "$db" -- create-tables
  sp "$I" "$db" LOAD_MODE=incremental -- load --ds $DS
  run1=$(run_of "$out")
  got=$(first_line "$(natural $b "$db")")
  n_new=$(grep -c ' new: 3000 facts' <<<"$out")
  if [ "$rc" -eq 0 ] && [ "$got" = "$(want "$I")" ] && [ "$n_new" = 4 ]; then
    ok "$b: incremental into an empty warehouse: 4 files new, counts and sums equal the manifest ($got)"
  else bad "$b-incr-new" "exit $rc, '$got' vs '$(want "$I")', $n_new new: ${out: -400}"; fi
  etl=$(sql $b "$db" "SELECT count(*) FROM etl_file WHERE run_id = '$run1' AND rows = 3000 AND bytes > 0")
  sha=$(sql $b "$db" "SELECT sha256 FROM etl_file WHERE source_file = 'East_orders.csv'")
  if [ "$etl" = 4 ] && [ "$sha" = "$(sha256sum "$I/data/raw/East_orders.csv" | cut -c1-64)" ]; then
    ok "$b: etl_file holds each file's sha256 (= sha256sum), bytes, rows and the run that loaded it"
  else bad "$b-etl-file" "rows $etl, East sha '$sha'"; fi

  # plan reads the same registry from this warehouse, changing nothing
  before=$(exact $b "$db")
  sp "$I" "$db" LOAD_MODE=incremental -- plan --ds $DS
  if [ "$rc" -eq 0 ] && grep -qE "^  skip +East_orders.csv: same sha256 as loaded by run $run1" <<<"$out" \
     && grep -q "0 to load, 0 to replace, 4 to skip" <<<"$out" && [ "$(exact $b "$db")" = "$before" ]; then
    ok "$b: plan reads etl_file from the warehouse: 4 files to skip, nothing changed"
  else bad "$b-plan-registry" "exit $rc: ${out: -500}"; fi

  before=$(exact $b "$db")
  sp "$I" "$db" LOAD_MODE=incremental -- load --ds $DS
  n_same=$(grep -c "unchanged (same sha256), loaded by run $run1: skipped" <<<"$out")
  if [ "$rc" -eq 0 ] && [ "$n_same" = 4 ] && [ "$(exact $b "$db")" = "$before" ]; then
    ok "$b: the same run again: 4 files skipped, logged with the run that loaded them; every row and key unchanged"
  else bad "$b-incr-rerun" "exit $rc, $n_same skipped: ${out: -400}"; fi

  # One file changes (another seed), one file is new: replaced and inserted,
  # the others untouched (same surrogate keys).
  keep_before=$(sql $b "$db" "SELECT count(*) || ':' || min(sale_id) || ':' || max(sale_id) FROM fact_sales WHERE source_file = 'West_orders.csv'")
  mkdir -p "$tmp/alt"
  sp "$tmp/alt" "" -- gen --out raw --rows 2500 --seed 99
  cp "$tmp/alt/raw/East_orders.csv" "$I/data/raw/East_orders.csv"
  cp "$tmp/alt/raw/South_orders.csv" "$I/data/raw/North_orders.csv"
  prepare "$I"
  sp "$I" "$db" LOAD_MODE=incremental -- load --ds $DS
  got=$(first_line "$(natural $b "$db")")
  keep_after=$(sql $b "$db" "SELECT count(*) || ':' || min(sale_id) || ':' || max(sale_id) FROM fact_sales WHERE source_file = 'West_orders.csv'")
  if [ "$rc" -eq 0 ] && grep -q "East_orders.csv replaced: 2500 facts (its previous copy was loaded by run $run1)" <<<"$out" \
     && grep -q "North_orders.csv new: 2500 facts" <<<"$out" && [ "$(grep -c 'skipped' <<<"$out")" = 3 ] \
     && [ "$got" = "$(want "$I")" ] && [ "$keep_before" = "$keep_after" ]; then
    ok "$b: a changed file is replaced, a new one inserted, 3 skipped; counts = manifest ($got); West's keys unchanged ($keep_after)"
  else bad "$b-incr-change" "exit $rc, '$got' vs '$(want "$I")', West $keep_before → $keep_after: ${out: -600}"; fi
  nat_incr=$(natural $b "$db")

  sp "$I" "$db" LOAD_MODE=incremental -- load --ds $DS --force
  if [ "$rc" -eq 0 ] && [ "$(grep -c ' replaced: ' <<<"$out")" = 5 ] && [ "$(natural $b "$db")" = "$nat_incr" ]; then
    ok "$b: load --force reloads all 5 files: same contents"
  else bad "$b-force" "exit $rc: ${out: -400}"; fi

  # Full ↔ incremental: a full load of the same run gives the same contents
  # and etl_file; an incremental load after it skips everything.
  sp "$I" "$db" -- load --ds $DS
  full=$(natural $b "$db")
  sp "$I" "$db" LOAD_MODE=incremental -- load --ds $DS
  if [ "$full" = "$nat_incr" ] && [ "$rc" -eq 0 ] && [ "$(grep -c 'skipped' <<<"$out")" = 5 ]; then
    ok "$b: full load = incremental contents and etl_file; incremental after full skips all 5 files"
  else bad "$b-switch" "full '$full' vs incremental '$nat_incr'; exit $rc: ${out: -300}"; fi
  dims_ok=$(sql $b "$db" "SELECT count(*) FROM (SELECT date_id FROM dim_date WHERE date_id NOT IN (SELECT date_id FROM fact_sales)) x")
  if [ "$dims_ok" = 0 ]; then ok "$b: after the full load every dim_date row is used by a fact (stale rows removed)"
  else bad "$b-full-dims" "$dims_ok unused dates"; fi

  # Back to the 4 original files with a full load: North is forgotten.
  rm "$I/data/raw/North_orders.csv"
  sp "$tmp/alt" "" -- gen --out raw2 --rows 3000 --seed 7
  cp "$tmp/alt/raw2/East_orders.csv" "$I/data/raw/East_orders.csv"
  prepare "$I"
  sp "$I" "$db" -- load --ds $DS
  got=$(first_line "$(natural $b "$db")")
  north=$(sql $b "$db" "SELECT count(*) FROM etl_file WHERE source_file = 'North_orders.csv'")
  if [ "$rc" -eq 0 ] && [ "$got" = "$(want "$I")" ] && [ "$north" = 0 ]; then
    ok "$b: a full load without North_orders.csv: its facts and its etl_file row are gone"
  else bad "$b-full-forget" "exit $rc, '$got', north $north: ${out: -300}"; fi
  if [ $b = pg ]; then
    kids=$(sql pg "$db" "SELECT count(*) FROM pg_inherits WHERE inhparent = 'fact_sales'::regclass")
    tables=$(sql pg "$db" "SELECT count(*) FROM pg_class WHERE relname ~ '^fact_sales_t' AND relkind = 'r'")
    valid=$(sql pg "$db" "SELECT count(*) FILTER (WHERE NOT convalidated) FROM pg_constraint WHERE contype = 'f'")
    if [ "$kids" = 4 ] && [ "$tables" = 4 ] && [ "$valid" = 0 ]; then
      ok "pg: one child table per file (4), no table left behind, every foreign key validated"
    else bad pg-children "children $kids, tables $tables, not validated $valid"; fi
  fi
done

# ---- kill -9 at random points, then a rerun converges ----------------------------------
K=$(project kill)
sp "$K" "" -- gen --out data/raw --rows 60000 --seed 3
prepare "$K"
for b in pg sqlite; do
  if [ $b = pg ]; then db=$(newdb killref); else db="sqlite:///$tmp/killref.db"; fi
  # The reference: one clean incremental load of the final run.
  sp "$K" "$db" -- create-tables
  sp "$K" "$db" LOAD_MODE=incremental -- load --ds $DS
  ref=$(natural $b "$db")
  if [ $b = pg ]; then db=$(newdb killed); else db="sqlite:///$tmp/killed.db"; fi
  sp "$K" "$db" -- create-tables
  # Start from a previous state: East as another version, so a replace is in play.
  cp "$K/data/raw/East_orders.csv" "$tmp/east.keep"
  sp "$tmp/alt" "" -- gen --out raw3 --rows 1000 --seed 5
  cp "$tmp/alt/raw3/East_orders.csv" "$K/data/raw/East_orders.csv"
  prepare "$K"
  sp "$K" "$db" LOAD_MODE=incremental -- load --ds $DS
  cp "$tmp/east.keep" "$K/data/raw/East_orders.csv"
  prepare "$K"
  # How long a load takes here, to spread the kills over it.
  t0=$(date +%s%N)
  sp "$K" "$db" LOAD_MODE=incremental -- load --ds $DS --force
  span=$(( ($(date +%s%N) - t0) / 1000000 ))
  [ "$span" -gt 50 ] || span=50
  kills=""
  for i in 1 2 3 4 5 6; do
    mode=incremental; [ $((i % 3)) = 0 ] && mode=full
    at=$(( RANDOM % span ))
    (cd "$K" && exec env "DATABASE_URL=$db" "LOAD_MODE=$mode" "$bin" -q load --ds $DS --force >/dev/null 2>&1) &
    pid=$!
    sleep "$(printf '0.%03d' "$at")"; [ "$at" -ge 1000 ] && sleep $((at / 1000))
    kill -9 "$pid" 2>/dev/null && kills="$kills $mode@${at}ms"
    wait "$pid" 2>/dev/null
    sp "$K" "$db" LOAD_MODE=incremental -- load --ds $DS
    got=$(natural $b "$db")
    if [ "$rc" -ne 0 ] || [ "$got" != "$ref" ]; then break; fi
  done
  extra=""
  [ $b = pg ] && extra=$(sql pg "$db" "SELECT count(*) FROM pg_class WHERE relname ~ '^fact_sales_t' AND relkind = 'r' AND oid NOT IN (SELECT inhrelid FROM pg_inherits)")
  if [ "$rc" -eq 0 ] && [ "$got" = "$ref" ] && [ "${extra:-0}" = 0 ]; then
    ok "$b: kill -9 during loads (seed $seed:$kills), then a rerun: exactly the clean load's contents"
  else bad "$b-kill" "seed $seed, kills$kills; exit $rc; got '$got' want '$ref'; orphans ${extra:-0}: ${out: -300}"; fi
done

# ---- SQLite readers during a load (WAL): never an error, old or new count --------------
sdb="$tmp/killref.db"
sold=$(sqlite3 "$sdb" "SELECT count(*) FROM fact_sales")
rm -f "$tmp/sq.stop"
( while [ ! -e "$tmp/sq.stop" ]; do t0=$(date +%s%N); c=$(sqlite3 "$sdb" "SELECT count(*) FROM fact_sales" 2>&1)
    echo "$c $(( ($(date +%s%N) - t0) / 1000 ))"; done ) >"$tmp/sq.reads" &
spid=$!
sleep 0.5
t0=$(date +%s%N)
sp "$K" "sqlite:///$sdb" -- load --ds $DS --force
lms=$(( ($(date +%s%N) - t0) / 1000000 ))
sleep 0.5; touch "$tmp/sq.stop"; wait "$spid"
snew=$(sqlite3 "$sdb" "SELECT count(*) FROM fact_sales")
others=$(awk -v a="$sold" -v b="$snew" '$1 != a && $1 != b' "$tmp/sq.reads" | head -n 3)
longest=$(awk 'BEGIN {m = 0} $2 > m {m = $2} END {printf "%.1f", m / 1000}' "$tmp/sq.reads")
nreads=$(wc -l <"$tmp/sq.reads")
if [ "$rc" -eq 0 ] && [ -z "$others" ] && [ "$nreads" -ge 5 ] && [ "$(head -n 1 "$tmp/sq.reads" | cut -d' ' -f1)" = "$sold" ]; then
  ok "sqlite (WAL): $nreads reads during a $lms ms load, each the old or new count ($sold/$snew), longest $longest ms (with sqlite3's start)"
else bad sqlite-readers "exit $rc, reads $nreads, others '$others'"; fi

# ---- a view, a read-only role, sales by region: across full and incremental loads ----------
db=$(newdb viewed)
V=$I
sp "$V" "$db" -- create-tables
sp "$V" "$db" -- load --ds $DS
admin viewed "CREATE VIEW sales_by_file AS SELECT source_file, count(*) AS n, sum(total_sales) AS s
                FROM fact_sales GROUP BY source_file;
              CREATE ROLE ro LOGIN PASSWORD '$PG_PASS-ro';
              GRANT SELECT ON fact_sales, dim_date, dim_product, sales_by_file TO ro" >/dev/null
ro="postgresql://ro:$PG_PASS-ro@127.0.0.1:$PG_PORT/viewed"
v1=$(sql pg "$ro" "SELECT sum(n) || ' ' || sum(s) FROM sales_by_file")
sp "$tmp/alt" "" -- gen --out raw4 --rows 1500 --seed 8
cp "$tmp/alt/raw4/West_orders.csv" "$V/data/raw/West_orders.csv"
prepare "$V"
sp "$V" "$db" LOAD_MODE=incremental -- load --ds $DS
v2=$(sql pg "$ro" "SELECT sum(n) || ' ' || sum(s) FROM sales_by_file")
c2=$(sql pg "$ro" "SELECT count(*) FROM fact_sales f JOIN dim_date USING (date_id) JOIN dim_product USING (product_sk)")
sp "$V" "$db" -- load --ds $DS
v3=$(sql pg "$ro" "SELECT sum(n) || ' ' || sum(s) FROM sales_by_file")
deny=$(sql pg "$ro" "DELETE FROM fact_sales" 2>&1)
if [ "$v2" = "$(want "$V")" ] && [ "$v3" = "$v2" ] && [ "${c2%% *}" = "${v2%% *}" ] && [ "$v1" != "$v2" ] \
   && grep -q 'permission denied' <<<"$deny"; then
  ok "pg: a view on fact_sales and a read-only role's grants work across full and incremental loads ($v1 → $v2)"
else bad pg-view-role "view $v1 → $v2 → $v3 (want $(want "$V")), joined $c2, delete: $deny"; fi
regions=$(sql pg "$db" "SELECT count(*) FROM fact_sales WHERE region IS NOT NULL")
if [ "$regions" -gt 0 ]; then
  by=$(sql pg "$db" "SELECT string_agg(region || '=' || n, ',' ORDER BY region) FROM (SELECT region, count(*) n FROM fact_sales GROUP BY region) x")
  byfile=$(sql pg "$db" "SELECT string_agg(r || '=' || n, ',' ORDER BY r) FROM (SELECT split_part(source_file, '_orders', 1) AS r, count(*) n FROM fact_sales GROUP BY 1) x")
  if [ "$by" = "$byfile" ]; then ok "pg: sales by region in one query ($by)"
  else bad pg-region "$by vs $byfile"; fi
else
  skipped pg-region "this Parquet has no region column yet (the lineage change adds it); loaded as NULL"
fi

# ---- migration: a warehouse made by the previous version (9eed434's DDL) ------------------
db=$(newdb legacy)
M=$(project migrate)
sp "$M" "" -- gen --out data/raw --rows 500 --seed 4
prepare "$M"
# 9eed434:src/warehouse/postgres.c SCHEMA_SQL, verbatim.
sql pg "$db" "CREATE TABLE IF NOT EXISTS dim_date(date_id SERIAL PRIMARY KEY, order_date DATE UNIQUE, day INT, month INT, quarter INT, year INT);
CREATE TABLE IF NOT EXISTS dim_product(product_sk SERIAL PRIMARY KEY, product_id TEXT UNIQUE, category TEXT);
CREATE TABLE IF NOT EXISTS fact_sales(sale_id SERIAL PRIMARY KEY, date_id INT NOT NULL REFERENCES dim_date(date_id), product_sk INT NOT NULL REFERENCES dim_product(product_sk), quantity INT, total_sales NUMERIC, profit NUMERIC, unit_price NUMERIC, profit_margin NUMERIC, ship_date DATE, source_file TEXT, source_line BIGINT)" >/dev/null
# What that version's full load left: the same run's rows, in fact_sales itself.
sql pg "$db" "INSERT INTO dim_date(order_date, day, month, quarter, year) VALUES ('2020-01-01', 1, 1, 1, 2020);
  INSERT INTO dim_product(product_id, category) VALUES ('OLD-1', 'Office');
  INSERT INTO fact_sales(date_id, product_sk, quantity, total_sales, profit, unit_price, profit_margin, source_file, source_line)
  SELECT 1, 1, 1, 10, 1, 10, 0.1, 'East_orders.csv', g FROM generate_series(2, 101) g;
  CREATE VIEW east AS SELECT count(*) AS n FROM fact_sales WHERE source_file = 'East_orders.csv'" >/dev/null
admin legacy "CREATE ROLE ro2 LOGIN PASSWORD '$PG_PASS-ro2'; GRANT SELECT ON fact_sales, east TO ro2" >/dev/null
sp "$M" "$db" -- create-tables
cols=$(sql pg "$db" "SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 'fact_sales'::regclass AND attnum > 0")
kept=$(sql pg "$db" "SELECT count(*) FROM fact_sales")
if [ "$rc" -eq 0 ] && [ "$cols" = "sale_id,date_id,product_sk,quantity,total_sales,profit,unit_price,profit_margin,ship_date,source_file,source_line,region,order_id,run_id" ] \
   && [ "$kept" = 100 ] && [ "$(sql pg "$db" "SELECT to_regclass('etl_file') IS NOT NULL")" = t ]; then
  ok "migration: create-tables on 9eed434's schema adds region, order_id, run_id and etl_file, keeps every row"
else bad migrate-ddl "exit $rc, columns $cols, rows $kept: ${out: -300}"; fi
sp "$M" "$db" -- create-tables
again=$(sql pg "$db" "SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 'fact_sales'::regclass AND attnum > 0")
if [ "$rc" -eq 0 ] && [ "$again" = "$cols" ]; then ok "migration: create-tables again changes nothing"
else bad migrate-twice "exit $rc: $again"; fi
ro2="postgresql://ro2:$PG_PASS-ro2@127.0.0.1:$PG_PORT/legacy"
sp "$M" "$db" LOAD_MODE=incremental -- load --ds $DS
e1=$(sql pg "$ro2" "SELECT n FROM east")
want_east=$(manifest "$M" '[i["kept"] for i in m["inputs"] if i["file"]=="East_orders.csv"][0]')
sp "$M" "$db" -- load --ds $DS
got=$(first_line "$(natural pg "$db")")
e2=$(sql pg "$ro2" "SELECT n FROM east")
only=$(sql pg "$db" "SELECT count(*) FROM ONLY fact_sales")
if [ "$rc" -eq 0 ] && [ "$e1" = "$want_east" ] && [ "$e2" = "$want_east" ] && [ "$got" = "$(want "$M")" ] && [ "$only" = 0 ]; then
  ok "migration: incremental then full loads replace the old version's facts (East: 100 → $e1); its view and grants keep working"
else bad migrate-load "exit $rc, east $e1/$e2 want $want_east, '$got' vs '$(want "$M")', own rows $only: ${out: -300}"; fi
# SQLite: the previous version's DDL (9eed434:src/warehouse/sqlite.c).
sdb="$tmp/legacy.db"
sqlite3 "$sdb" "CREATE TABLE dim_date( date_id INTEGER PRIMARY KEY, order_date DATE NOT NULL UNIQUE, day INTEGER, month INTEGER, quarter INTEGER, year INTEGER);
CREATE TABLE dim_product( product_sk INTEGER PRIMARY KEY, product_id TEXT NOT NULL UNIQUE, category TEXT);
CREATE TABLE fact_sales( sale_id INTEGER PRIMARY KEY, date_id INTEGER NOT NULL REFERENCES dim_date(date_id), product_sk INTEGER NOT NULL REFERENCES dim_product(product_sk), quantity INTEGER, total_sales NUMERIC, profit NUMERIC, unit_price NUMERIC, profit_margin NUMERIC, ship_date DATE, source_file TEXT, source_line INTEGER);
INSERT INTO dim_date VALUES (1, '2020-01-01', 1, 1, 1, 2020); INSERT INTO dim_product VALUES (1, 'OLD-1', 'Office');
INSERT INTO fact_sales(date_id, product_sk, quantity, total_sales, source_file, source_line) VALUES (1, 1, 1, 10, 'East_orders.csv', 2);
CREATE VIEW east AS SELECT count(*) AS n FROM fact_sales WHERE source_file = 'East_orders.csv'"
sp "$M" "sqlite:///$sdb" -- create-tables
scols=$(sqlite3 "$sdb" "SELECT group_concat(name, ',') FROM pragma_table_info('fact_sales')")
sp "$M" "sqlite:///$sdb" LOAD_MODE=incremental -- load --ds $DS
se=$(sqlite3 "$sdb" "SELECT n FROM east")
if [ "$rc" -eq 0 ] && [ "$scols" = "sale_id,date_id,product_sk,quantity,total_sales,profit,unit_price,profit_margin,ship_date,source_file,source_line,region,order_id,run_id" ] \
   && [ "$se" = "$want_east" ]; then
  ok "sqlite: 9eed434's schema migrated by create-tables, then loaded incrementally (East 1 → $se rows, its view works)"
else bad sqlite-migrate "exit $rc, columns $scols, east $se: ${out: -300}"; fi

# ---- size after 10 full loads ≤ 1.5× after one ----------------------------------------------
db=$(newdb sizes)
Z=$(project sizes)
sp "$Z" "" -- gen --out data/raw --rows 25000 --seed 2
prepare "$Z"
sp "$Z" "$db" -- create-tables
size_sql="SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c WHERE c.oid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = 'fact_sales'::regclass) OR c.relname IN ('fact_sales', 'dim_date', 'dim_product', 'etl_file')"
sp "$Z" "$db" -- load --ds $DS
s1=$(sql pg "$db" "$size_sql")
for _ in $(seq 2 10); do sp "$Z" "$db" -- load --ds $DS; [ "$rc" -eq 0 ] || break; done
s10=$(sql pg "$db" "$size_sql")
if [ "$rc" -eq 0 ] && [ "$((s10 * 2))" -le "$((s1 * 3))" ]; then
  ok "pg: tables after 10 full loads $s10 bytes ≤ 1.5 × after one ($s1)"
else bad pg-size "after one $s1, after ten $s10 (exit $rc)"; fi

# ---- readers during loads of 2 M facts: never blocked for the load, never a mix ------------
R=$(project readers)
sp "$R" "" -- gen --out data/raw --rows "$big_rows" --seed 1
prepare "$R"
db=$(newdb readers)
bin_saved=$bin; bin=$fast_bin
sp "$R" "$db" -- create-tables
sp "$R" "$db" -- load --ds $DS
old=$(sql pg "$db" "SELECT count(*) FROM fact_sales")
# reader_during LABEL MODE: load while one psql session counts fact_sales
# every ~20 ms; each count must be $old or the new total, old ones first.
reader_during() {
  local label=$1 mode=$2 stop="$tmp/stop.$1" log="$tmp/reader.$1"
  rm -f "$stop"
  ( printf '%s\n' '\timing on'; while [ ! -e "$stop" ]; do echo "SELECT count(*) FROM fact_sales;"; sleep 0.02; done ) \
    | psql -X -q -At "$db" >"$log" 2>&1 &
  local rpid=$!
  sleep 1
  local t0; t0=$(date +%s%N)
  sp "$R" "$db" "LOAD_MODE=$mode" -- load --ds $DS
  local lrc=$rc lms=$(( ($(date +%s%N) - t0) / 1000000 ))
  sleep 1; touch "$stop"; wait "$rpid"
  local new; new=$(sql pg "$db" "SELECT count(*) FROM fact_sales")
  python3 - "$log" "$old" "$new" "$lms" "$label" "$lrc" <<'PY'
import re, sys
log, old, new, lms, label, lrc = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5], sys.argv[6]
counts, times = [], []
for line in open(log):
    line = line.strip()
    m = re.match(r'Time: ([0-9.]+) ms', line)
    if m: times.append(float(m.group(1)))
    elif re.fullmatch(r'[0-9]+', line): counts.append(line)
    elif line: print(f"FAIL {label}: reader saw '{line}'"); sys.exit(1)
bad = [c for c in counts if c not in (old, new)]
switches = sum(1 for a, b in zip(counts, counts[1:]) if a != b)
longest = max(times) if times else 0
print(f"# {label}: load {lms} ms (exit {lrc}); reader: {len(counts)} counts, old {old} → new {new}, "
      f"longest wait {longest:.1f} ms, mean {sum(times)/max(len(times),1):.1f} ms")
ok = lrc == '0' and not bad and counts and counts[0] == old and counts[-1] == new and switches == 1 \
     and longest < lms / 2 and len(counts) >= 10
if ok: print(f"ok {label}: every count the reader saw was {old} or {new} (one switch), longest wait {longest:.1f} ms of a {lms} ms load")
else: print(f"FAIL {label}: bad counts {bad[:3]}, first {counts[:1]}, last {counts[-1:]}, switches {switches}, longest {longest} ms, load {lms} ms")
PY
}
sp "$tmp/alt" "" -- gen --out raw5 --rows "$((big_rows * 9 / 10))" --seed 6
cp "$tmp/alt/raw5/"*_orders.csv "$R/data/raw/"
prepare "$R"
res=$(reader_during reader-full full); echo "$res"
if grep -q '^ok ' <<<"$res"; then pass=$((pass + 1)); else fail=$((fail + 1)); fi
old=$(sql pg "$db" "SELECT count(*) FROM fact_sales")
cp "$tmp/alt/raw/West_orders.csv" "$R/data/raw/West_orders.csv" 2>/dev/null || cp "$tmp/alt/raw2/West_orders.csv" "$R/data/raw/West_orders.csv"
prepare "$R"
res=$(reader_during reader-incremental incremental); echo "$res"
if grep -q '^ok ' <<<"$res"; then pass=$((pass + 1)); else fail=$((fail + 1)); fi
bin=$bin_saved

finish
