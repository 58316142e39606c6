#!/usr/bin/env bash
# run.sh — the PostgreSQL warehouse against a real PostgreSQL 15 that
# tests/postgres/pg.sh starts on a free loopback port (never the system
# cluster): the whole pipeline on the superstore data and `gen --dirty` with
# exact sums and every fact row compared with DuckDB reading the Parquet;
# the schema in pg_catalog; load twice; atomicity (corrupt Parquet halfway,
# a CHECK constraint violated mid-COPY, the backend terminated during COPY);
# one handle loading again after loads that failed mid-COPY (unit_tests
# pg_live); preflight (closed port, refused password, missing privileges); RDS_*,
# PGPASSWORD and PG* settings; and no line of output holding the password.
# psql is the independent reader. Runs the sanitizer build when present.
# A server that cannot be started is a FAILURE, never a skip.
# Ends with "N passed, N failed, N skipped".
set -u
# shellcheck disable=SC2034 # read by lib.sh
LIB_SAY_OK=1
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
all="$tmp/all-output.log"   # every line the suite saw, for the password check
: >"$all"
DS=2024-03-15
shared=${SALESPIPE_SHARED:-$root/../shared/data}

pg_start
URL="postgresql://$PG_USER:$PG_PASS@127.0.0.1:$PG_PORT/$PG_DB"

# q SQL: the admin's psql over the socket, unaligned, tuples only.
q() { psql -X -q -At -v ON_ERROR_STOP=1 -h "$PG_SOCK" -p "$PG_PORT" -U "$PG_ADMIN" -d "${QDB:-$PG_DB}" -c "$1" 2>&1 | tee -a "$all"; }

# sp DIR [VAR=value …] -- ARGS: salespipe in project DIR (cwd); sets $out, $rc.
sp() {
  local dir=$1; shift
  local envs=()
  while [ "$1" != "--" ]; do envs+=("$1"); shift; done
  shift
  out=$(cd "$dir" && env -u DATABASE_URL -u PGPASSWORD -u PGHOST -u PGPORT -u PGUSER \
        -u PGDATABASE -u RDS_HOST ${envs[@]+"${envs[@]}"} "$bin" "$@" 2>&1); rc=$?
  printf '%s\n' "$out" >>"$all"
}

project() { rm -rf "${tmp:?}/${1:?}"; mkdir -p "$tmp/$1/data/raw"; echo "$tmp/$1"; }
manifest() { python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' \
  "$1/lake/processed/runs/$DS/_manifest.json" "$2"; }

# The whole warehouse as one fingerprint: counts, exact sums, md5 of every row.
state() {
  q "SELECT (SELECT count(*) FROM dim_date) || ' ' || (SELECT count(*) FROM dim_product) || ' ' ||
       count(*) || ' ' || coalesce(sum(total_sales), 0) || ' ' || coalesce(sum(profit), 0) || ' ' ||
       md5(coalesce(string_agg(f::text, ',' ORDER BY sale_id), '')) || ' ' ||
       (SELECT md5(coalesce(string_agg(d::text, ',' ORDER BY date_id), '')) FROM dim_date d) || ' ' ||
       (SELECT md5(coalesce(string_agg(p::text, ',' ORDER BY product_sk), '')) FROM dim_product p)
     FROM fact_sales f"
}

# ---- DuckDB: the Parquet facts as text, joined with their dimensions --------------
if [ ! -d tests/interop/node_modules/@duckdb/node-api ]; then
  (cd tests/interop && npm ci --no-audit --no-fund --loglevel=error >/dev/null 2>&1)
fi
# parquet_rows DIR OUT: one '|' line per fact, ordered by source file and line.
parquet_rows() {
  (cd tests/interop && DIR="$1" OUT="$2" node --input-type=module) <<'JS'
import { DuckDBInstance } from '@duckdb/node-api';
const d = process.env.DIR, out = process.env.OUT;
const con = await (await DuckDBInstance.create(':memory:')).connect();
await con.run(`COPY (SELECT f.source_file, f.source_line, f.order_date, d.day, d.month, d.quarter,
    d.year, f.product_id, p.category, f.quantity, f.total_sales, f.profit, f.unit_price,
    f.profit_margin, f.ship_date
  FROM read_parquet('${d}/fact_sales.parquet') f
  JOIN read_parquet('${d}/dim_date.parquet') d USING (order_date)
  JOIN read_parquet('${d}/dim_product.parquet') p USING (product_id)
  ORDER BY f.source_file, f.source_line) TO '${out}' (FORMAT csv, DELIMITER '|', HEADER false)`);
JS
}
warehouse_rows() {
  psql -X -q -h "$PG_SOCK" -p "$PG_PORT" -U "$PG_ADMIN" -d "$PG_DB" -c "COPY (SELECT
    f.source_file, f.source_line, d.order_date, d.day, d.month, d.quarter, d.year, p.product_id,
    p.category, f.quantity, f.total_sales, f.profit, f.unit_price, f.profit_margin, f.ship_date
    FROM fact_sales f JOIN dim_date d USING (date_id) JOIN dim_product p USING (product_sk)
    ORDER BY f.source_file, f.source_line) TO STDOUT (FORMAT csv, DELIMITER '|')" >"$1"
}

# check_run NAME DIR: after a run, the warehouse equals the manifest and the Parquet.
check_run() {
  local name=$1 dir=$2 want got
  want="$(manifest "$dir" 'm["tables"]["dim_date"]') $(manifest "$dir" 'm["tables"]["dim_product"]') $(manifest "$dir" 'm["rows_kept"]') $(manifest "$dir" 'm["sums"]["quantity"]') $(manifest "$dir" 'm["sums"]["total_sales"]') $(manifest "$dir" 'm["sums"]["profit"]')"
  # NUMERIC sums printed by PostgreSQL as text: compared as text, no float anywhere.
  got=$(q "SELECT (SELECT count(*) FROM dim_date) || ' ' || (SELECT count(*) FROM dim_product) || ' ' ||
      count(*) || ' ' || sum(quantity) || ' ' || sum(total_sales) || ' ' || sum(profit) FROM fact_sales")
  if [ "$got" = "$want" ]; then ok "$name: counts and exact sums equal the manifest ($got)"
  else bad "$name: counts and exact sums" "warehouse '$got', manifest '$want'"; fi
  got=$(q "SELECT count(*) FROM fact_sales f JOIN dim_date USING (date_id) JOIN dim_product USING (product_sk)")
  if [ "$got" = "$(manifest "$dir" 'm["rows_kept"]')" ]; then ok "$name: every fact joins both dimensions"
  else bad "$name: joins" "$got joined facts"; fi
  parquet_rows "$dir/lake/processed/runs/$DS" "$tmp/$name.parquet.txt"
  warehouse_rows "$tmp/$name.pg.txt"
  if [ -s "$tmp/$name.pg.txt" ] && cmp -s "$tmp/$name.parquet.txt" "$tmp/$name.pg.txt"; then
    ok "$name: every fact row (with its dimensions) equals DuckDB reading the Parquet, value by value"
  else
    bad "$name: rows" "$(diff "$tmp/$name.parquet.txt" "$tmp/$name.pg.txt" 2>&1 | head -n 4)"
  fi
  check_sequences "$name"
}

# next_keys: what nextval would hand out on each key sequence (without calling
# it), then each table's last key + 1; both halves must be equal.
next_keys() {
  q "SELECT concat_ws(' ', $(for s in dim_date_date_id_seq dim_product_product_sk_seq fact_sales_sale_id_seq; do
        printf '(SELECT CASE WHEN is_called THEN last_value + 1 ELSE last_value END FROM %s), ' "$s"; done)
      (SELECT coalesce(max(date_id), 0) + 1 FROM dim_date), (SELECT coalesce(max(product_sk), 0) + 1 FROM dim_product),
      (SELECT coalesce(max(sale_id), 0) + 1 FROM fact_sales))"
}
check_sequences() {
  local got a b c x y z
  got=$(next_keys)
  read -r a b c x y z <<<"$got"
  if [ -n "$x" ] && [ "$a $b $c" = "$x $y $z" ]; then ok "$1: each key sequence's next value is its table's last key + 1 ($a $b $c)"
  else bad "$1: sequences" "next values, then last keys + 1: $got"; fi
}

# ---- the NUMERIC wire format, judged by the server --------------------------------------
check_tool=$(dirname "$bin")/pg_numeric_check
if [ -x "$check_tool" ] && out=$("$check_tool" "$URL" 2>&1); then
  ok "binary NUMERIC: $out (tests/tools/pg_numeric_check.c)"
else bad numeric-wire "${out:-$check_tool missing (make tools)}"; fi
printf '%s\n' "${out:-}" >>"$all"

# ---- one handle, loads that fail with a COPY open, then a load (tests/unit/test_postgres.c) ----
q "CREATE DATABASE unit OWNER $PG_USER" >/dev/null
unit_bin=$(dirname "$bin")/unit_tests
out=$(SALESPIPE_TEST_PG_URL="postgresql://$PG_USER:$PG_PASS@127.0.0.1:$PG_PORT/unit" "$unit_bin" pg_live 2>&1)
printf '%s\n' "$out" >>"$all"
if grep -qx '3 passed, 0 failed, 0 skipped' <<<"$out"; then
  ok "a handle whose loads failed mid-COPY (ours, then the server's) rolls back and loads again; etl_load and quality checks inside the load's transaction, which see the load's facts (unit_tests pg_live)"
else bad handle-reuse "${out:-$unit_bin missing (make unit)}"; fi

# ---- create-tables: SPEC §5 exactly, idempotent ----------------------------------------
P=$(project schema)
sp "$P" "DATABASE_URL=$URL" -- create-tables
if [ "$rc" -eq 0 ]; then ok "create-tables exits 0"; else bad create-tables "exit $rc: $out"; fi
schema() {
  q "SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable || ' ' ||
       coalesce(column_default, '') FROM information_schema.columns
     WHERE table_schema = 'public' AND table_name IN ('dim_date','dim_product','fact_sales')
     ORDER BY table_name, ordinal_position"
  q "SELECT conrelid::regclass::text || ' ' || contype::text || ' ' || pg_get_constraintdef(oid) || ' ' || convalidated::text
     FROM pg_constraint WHERE conrelid IN ('dim_date'::regclass, 'dim_product'::regclass, 'fact_sales'::regclass)
     ORDER BY 1"
}
schema >"$tmp/schema1.txt"
cat >"$tmp/schema-want.txt" <<'WANT'
dim_date.date_id integer NO nextval('dim_date_date_id_seq'::regclass)
dim_date.order_date date YES 
dim_date.day integer YES 
dim_date.month integer YES 
dim_date.quarter integer YES 
dim_date.year integer YES 
dim_product.product_sk integer NO nextval('dim_product_product_sk_seq'::regclass)
dim_product.product_id text YES 
dim_product.category text YES 
fact_sales.sale_id integer NO nextval('fact_sales_sale_id_seq'::regclass)
fact_sales.date_id integer NO 
fact_sales.product_sk integer NO 
fact_sales.quantity integer YES 
fact_sales.total_sales numeric YES 
fact_sales.profit numeric YES 
fact_sales.unit_price numeric YES 
fact_sales.profit_margin numeric YES 
fact_sales.region text YES 
fact_sales.order_id text YES 
fact_sales.source_file text YES 
fact_sales.source_line bigint YES 
fact_sales.run_id text YES 
fact_sales.ship_date date YES 
dim_date p PRIMARY KEY (date_id) true
dim_date u UNIQUE (order_date) true
dim_product p PRIMARY KEY (product_sk) true
dim_product u UNIQUE (product_id) true
fact_sales f FOREIGN KEY (date_id) REFERENCES dim_date(date_id) true
fact_sales f FOREIGN KEY (product_sk) REFERENCES dim_product(product_sk) true
fact_sales p PRIMARY KEY (sale_id) true
WANT
if diff "$tmp/schema-want.txt" "$tmp/schema1.txt" >"$tmp/schema.diff"; then
  ok "schema: SPEC §5 columns, types, primary, foreign and unique keys (information_schema, pg_constraint)"
else bad schema "$(head -n 8 "$tmp/schema.diff")"; fi
sp "$P" "DATABASE_URL=$URL" -- create-tables
out2=$out; schema >"$tmp/schema2.txt"
if [ "$rc" -eq 0 ] && cmp -s "$tmp/schema1.txt" "$tmp/schema2.txt" && ! grep -qi 'already exists' <<<"$out2"; then
  ok "create-tables twice: exit 0, same schema, no notices printed"
else bad create-tables-twice "exit $rc: $out2"; fi

# A table of another shape is refused, naming table and column.
q "CREATE DATABASE other OWNER $PG_USER" >/dev/null
QDB=other q "CREATE TABLE fact_sales(sale_id int, date_id int, product_sk int, quantity int,
   total_sales double precision, profit numeric, unit_price numeric, profit_margin numeric);
   ALTER TABLE fact_sales OWNER TO $PG_USER" >/dev/null
sp "$P" "DATABASE_URL=postgresql://$PG_USER:$PG_PASS@127.0.0.1:$PG_PORT/other" -- create-tables
if [ "$rc" -eq 1 ] && grep -q "fact_sales column total_sales is double precision, expected numeric" <<<"$out"; then
  ok "create-tables refuses an existing fact_sales of another shape, naming the column"
else bad wrong-shape "exit $rc: $out"; fi

# ---- the superstore data, end to end -----------------------------------------------------
if [ -d "$shared/superstore" ]; then
  S=$(project superstore)
  cp "$shared"/superstore/*_orders.csv "$S/data/raw/"
  sp "$S" "DATABASE_URL=$URL" -- run --ds "$DS" --retries 0
  if [ "$rc" -eq 0 ]; then ok "superstore: salespipe run into PostgreSQL exits 0"
  else bad superstore-run "exit $rc: ${out: -600}"; fi
  check_run superstore "$S"
  before=$(state)
  sp "$S" "DATABASE_URL=$URL" -- load --ds "$DS"
  after=$(state)
  if [ "$rc" -eq 0 ] && [ "$before" = "$after" ]; then ok "superstore: a second load gives the same warehouse"
  else bad load-twice "exit $rc; before $before; after $after"; fi
else
  for t in run sums joins rows sequences load-twice; do
    skipped "superstore $t" "$shared/superstore not found (it lives in ../shared)"
  done
fi

# ---- gen --dirty end to end, through RDS_* settings ----------------------------------------------
D=$(project dirty)
sp "$D" -- gen --out data/raw --rows 2000 --seed 11 --dirty
sp "$D" RDS_HOST=127.0.0.1 "RDS_PORT=$PG_PORT" "RDS_DB=$PG_DB" "RDS_USER=$PG_USER" "RDS_PASS=$PG_PASS" \
  -- run --ds "$DS" --retries 0
if [ "$rc" -eq 0 ] && grep -q "postgresql://$PG_USER@127.0.0.1:$PG_PORT/$PG_DB" <<<"$out"; then
  ok "dirty: gen --dirty then run with RDS_HOST/RDS_PORT/RDS_DB/RDS_USER/RDS_PASS exits 0"
else bad dirty-run "exit $rc: ${out: -600}"; fi
check_run dirty "$D"

# No row kept (the quality gates told that an empty day is expected:
# MIN_ROWS=0, MAX_ROW_DROP=1): the load empties the warehouse and each
# sequence hands out 1 next.
E=$(project empty)
echo 'Order Date,Ship Date,Product ID,Category,Sales,Quantity,Profit' >"$E/data/raw/East_orders.csv"
sp "$E" "DATABASE_URL=$URL" MIN_ROWS=0 MAX_ROW_DROP=1 -- run --ds "$DS" --retries 0
got=$(q "SELECT (SELECT count(*) FROM dim_date) + (SELECT count(*) FROM dim_product) + (SELECT count(*) FROM fact_sales)")
if [ "$rc" -eq 0 ] && [ "$got" = 0 ] && [ "$(next_keys)" = "1 1 1 1 1 1" ]; then
  ok "empty: a run that keeps no row loads empty tables, every key sequence at 1"
else bad empty "exit $rc, $got rows, next keys $(next_keys): ${out: -300}"; fi

# ---- atomicity ---------------------------------------------------------------------------
B=$(project big)
sp "$B" -- gen --out data/raw --rows 100000 --seed 5
sp "$B" "DATABASE_URL=$URL" -- run --ds "$DS" --retries 0
[ "$rc" -eq 0 ] || bad big-run "exit $rc: ${out: -400}"
base=$(state)
fact="$B/lake/processed/runs/$DS/fact_sales.parquet"
cp "$fact" "$tmp/fact.saved"

# Corrupt the second row group's bytes (the footer stays valid): the load
# fails after the first row group went through COPY.
size=$(stat -c %s "$fact")
python3 - "$fact" "$size" <<'PY'
import sys
path, size = sys.argv[1], int(sys.argv[2])
with open(path, 'r+b') as f:
    f.seek(size * 3 // 4)
    f.write(bytes((i * 37 + 11) & 0xff for i in range(4096)))
PY
sp "$B" "DATABASE_URL=$URL" -- load --ds "$DS"
cp "$tmp/fact.saved" "$fact"
if [ "$rc" -eq 1 ] && grep -q "fact_sales.parquet" <<<"$out" && grep -q "rolled back" <<<"$out" \
   && [ "$(state)" = "$base" ]; then
  ok "atomicity: Parquet corrupt in its second row group → exit 1, named, warehouse unchanged"
else bad atomic-corrupt "exit $rc: ${out: -500}"; fi

# A constraint PostgreSQL checks during COPY, violated by a row in the
# middle (fact_sales' CHECK constraints go to each input file's table). The
# line it names is that fact's position among its file's facts (DuckDB:
# file_row_number within source_file), and our message names the file.
q "ALTER TABLE fact_sales ADD CONSTRAINT test_quantity_cap CHECK (quantity < 14 OR sale_id <= 300000) NOT VALID" >/dev/null
sp "$B" "DATABASE_URL=$URL" -- load --ds "$DS"
q "ALTER TABLE fact_sales DROP CONSTRAINT test_quantity_cap" >/dev/null
read -r vfile vline < <( (cd tests/interop && F="$fact" node --input-type=module) <<'JS'
import { DuckDBInstance } from '@duckdb/node-api';
const con = await (await DuckDBInstance.create(':memory:')).connect();
const r = await con.runAndReadAll(`WITH f AS (SELECT source_file, quantity, file_row_number,
  row_number() OVER (PARTITION BY source_file ORDER BY file_row_number) AS k
  FROM read_parquet('${process.env.F}', file_row_number = true))
  SELECT source_file, k FROM f WHERE quantity >= 14 AND file_row_number >= 300000 ORDER BY file_row_number LIMIT 1`);
console.log(`${r.getRows()[0][0]} ${r.getRows()[0][1]}`);
JS
)
if [ "$rc" -eq 1 ] && grep -q 'test_quantity_cap' <<<"$out" && grep -q "facts of $vfile" <<<"$out" \
   && grep -qE "COPY fact_sales_t[0-9]+_[0-9]+, line ${vline}[^0-9]" <<<"$out" && [ "$(state)" = "$base" ]; then
  ok "atomicity: a CHECK violated by fact $vline of $vfile → exit 1, error names the file and line, unchanged"
else bad atomic-constraint "first violating fact: $vfile $vline; exit $rc: ${out: -500}"; fi

# The backend terminated during COPY. A CHECK constraint (copied to each
# input file's table) parks the COPY at fact row 150000 (pg_sleep) so the
# test can see it in pg_stat_activity, then pg_terminate_backend kills it.
q "CREATE FUNCTION test_park(id int) RETURNS boolean LANGUAGE plpgsql AS
   'BEGIN IF id = 150000 THEN PERFORM pg_sleep(60); END IF; RETURN true; END';
   ALTER TABLE fact_sales ADD CONSTRAINT test_park CHECK (test_park(sale_id)) NOT VALID" >/dev/null
(cd "$B" && env -u PGPASSWORD "DATABASE_URL=$URL" "$bin" load --ds "$DS" >"$tmp/killed.out" 2>&1; echo $? >"$tmp/killed.rc") &
loader=$!
killed=""
for _ in $(seq 1 300); do
  killed=$(q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
              WHERE query LIKE 'COPY fact_sales%' AND wait_event = 'PgSleep'")
  [ -n "$killed" ] && break
  sleep 0.1
done
wait "$loader"
cat "$tmp/killed.out" >>"$all"
q "ALTER TABLE fact_sales DROP CONSTRAINT test_park; DROP FUNCTION test_park(int)" >/dev/null
krc=$(cat "$tmp/killed.rc")
if [ "$killed" = "t" ] && [ "$krc" = 1 ] && grep -q "127.0.0.1:$PG_PORT" "$tmp/killed.out" \
   && [ "$(state)" = "$base" ]; then
  ok "atomicity: backend terminated during COPY fact_sales → exit 1, server named, warehouse unchanged"
else bad atomic-terminate "terminated '$killed', exit $krc: $(tail -c 500 "$tmp/killed.out")"; fi

# The server cancels a statement of the load (statement_timeout through
# PGOPTIONS, which libpq passes on): rolled back, named, unchanged. A CHECK
# constraint holds the COPY one second at fact 50000, so the timeout fires
# mid-COPY however fast the machine is.
q "CREATE FUNCTION test_hold(id int) RETURNS boolean LANGUAGE plpgsql AS
   'BEGIN IF id = 50000 THEN PERFORM pg_sleep(1); END IF; RETURN true; END';
   ALTER TABLE fact_sales ADD CONSTRAINT test_hold CHECK (test_hold(sale_id)) NOT VALID" >/dev/null
sp "$B" "DATABASE_URL=$URL" "PGOPTIONS=-c statement_timeout=150" -- load --ds "$DS"
q "ALTER TABLE fact_sales DROP CONSTRAINT test_hold; DROP FUNCTION test_hold(int)" >/dev/null
if [ "$rc" -eq 1 ] && grep -q 'statement timeout' <<<"$out" && grep -q '57014' <<<"$out" \
   && [ "$(state)" = "$base" ]; then
  ok "atomicity: a statement cancelled by the server (statement_timeout) → exit 1, unchanged"
else bad atomic-timeout "exit $rc: $(tail -c 500 <<<"$out")"; fi

# No tables yet: load says to run create-tables, touching nothing.
q "CREATE DATABASE empty OWNER $PG_USER" >/dev/null
sp "$B" "DATABASE_URL=postgresql://$PG_USER:$PG_PASS@127.0.0.1:$PG_PORT/empty" -- load --ds "$DS"
if [ "$rc" -eq 1 ] && grep -q 'table dim_date does not exist: run create-tables first' <<<"$out"; then
  ok "load without the tables → exit 1: run create-tables first"
else bad load-no-tables "exit $rc: $(tail -c 400 <<<"$out")"; fi

# Another table's foreign key on a dimension: loads never TRUNCATE (readers
# must not wait) and keep the keys of the dimension rows they keep, so the
# load goes through and the referencing rows stay valid. A full load of a
# run without that date would have to delete it: refused by PostgreSQL,
# named, nothing changed.
q "CREATE TABLE audit_ref(d int REFERENCES dim_date(date_id)); INSERT INTO audit_ref SELECT min(date_id) FROM dim_date" >/dev/null
sp "$B" "DATABASE_URL=$URL" -- load --ds "$DS"
refs=$(q "SELECT count(*) FROM audit_ref a JOIN dim_date d ON d.date_id = a.d")
if [ "$rc" -eq 0 ] && [ "$refs" = 1 ] && [ "$(state)" = "$base" ]; then
  ok "a foreign key from another table onto dim_date: the load succeeds, same warehouse, the reference still resolves"
else bad dim-referenced "exit $rc, refs $refs: $(tail -c 500 <<<"$out")"; fi
q "INSERT INTO dim_date(order_date, day, month, quarter, year) VALUES ('1901-01-01', 1, 1, 1, 1901);
   INSERT INTO audit_ref SELECT date_id FROM dim_date WHERE order_date = '1901-01-01'" >/dev/null
sp "$B" "DATABASE_URL=$URL" -- load --ds "$DS"
left=$(q "SELECT count(*) FROM dim_date WHERE order_date = '1901-01-01'")
q "DROP TABLE audit_ref; DELETE FROM dim_date WHERE order_date = '1901-01-01'" >/dev/null
if [ "$rc" -eq 1 ] && grep -q 'audit_ref' <<<"$out" && grep -q 'rolled back' <<<"$out" && [ "$left" = 1 ]; then
  ok "a full load that must delete a date another table references → exit 1 naming the table, rolled back"
else bad dim-referenced-delete "exit $rc, left $left: $(tail -c 500 <<<"$out")"; fi

# The advisory lock: while another session holds it, a load waits before
# touching anything (TRUNCATE alone would also serialise two loads, so the
# wait itself is what is checked), then proceeds once it is released.
psql -X -q -h "$PG_SOCK" -p "$PG_PORT" -U "$PG_ADMIN" -d "$PG_DB" -v ON_ERROR_STOP=1 \
  -c "SELECT pg_advisory_xact_lock(8313495815447570544), pg_sleep(600)" >/dev/null 2>&1 &
holder=$!
held=""
for _ in $(seq 1 300); do # the holder first, or the load could take the lock before it
  held=$(q "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted")
  [ "$held" = 1 ] && break
  sleep 0.1
done
(cd "$B" && env "DATABASE_URL=$URL" "$bin" load --ds "$DS" >"$tmp/locked.out" 2>&1; echo $? >"$tmp/locked.rc") &
loader=$!
waiting=""
for _ in $(seq 1 300); do
  waiting=$(q "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'salespipe'
               AND wait_event_type = 'Lock' AND wait_event = 'advisory'")
  [ "$waiting" = 1 ] && break
  sleep 0.1
done
during=$(state)
q "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_advisory_xact_lock(8313495815447570544), pg_sleep%' AND pid <> pg_backend_pid()" >/dev/null
wait "$loader"; wait "$holder"
cat "$tmp/locked.out" >>"$all"
if [ "$held" = 1 ] && [ "$waiting" = 1 ] && [ "$during" = "$base" ] && [ "$(cat "$tmp/locked.rc")" = 0 ] && [ "$(state)" = "$base" ]; then
  ok "a load waits on the salespipe advisory lock held elsewhere, then loads once it is released"
else bad advisory-lock "held '$held', waiting '$waiting', exit $(cat "$tmp/locked.rc"): $(tail -c 300 "$tmp/locked.out")"; fi

# Loads at once: the advisory lock serialises them; all succeed. Three at a
# time, four rounds: a load's clean-up after its commit (dropping detached
# children, validating the new ones' foreign keys) once deadlocked with the
# next load reading the dimensions; it now takes the same lock, untried
# when held. What one load leaves, the next one's clean-up takes: after
# the last round, no detached child and no unvalidated foreign key remain.
conc_rcs="" conc_out=""
for round in 1 2 3 4; do
  loaders=()
  for k in 1 2 3; do
    (cd "$B" && env "DATABASE_URL=$URL" "$bin" load --ds "$DS" >"$tmp/l$k.out" 2>&1; echo $? >"$tmp/l$k.rc") &
    loaders+=($!)
  done
  wait "${loaders[@]}"
  for k in 1 2 3; do
    cat "$tmp/l$k.out" >>"$all"
    conc_rcs="$conc_rcs$(cat "$tmp/l$k.rc")"
    [ "$(cat "$tmp/l$k.rc")" = 0 ] || conc_out="round $round load $k: $(tail -c 300 "$tmp/l$k.out")"
  done
done
sp "$B" "DATABASE_URL=$URL" -- load --ds "$DS" # the last clean-up, alone
leftover=$(q "SELECT count(*) FROM pg_class c WHERE c.relkind = 'r' AND c.relname ~ '^fact_sales_t[0-9]+_[0-9]+$'
              AND NOT EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = c.oid)")
unvalidated=$(q "SELECT count(*) FROM pg_constraint k JOIN pg_inherits i ON i.inhrelid = k.conrelid
                 WHERE i.inhparent = 'fact_sales'::regclass AND k.contype = 'f' AND NOT k.convalidated")
if [ "$conc_rcs" = 000000000000 ] && [ "$rc" -eq 0 ] && [ "$(state)" = "$base" ] &&
   [ "$leftover" = 0 ] && [ "$unvalidated" = 0 ]; then
  ok "three loads at once, four rounds: all succeed, one consistent copy, nothing left detached or unvalidated"
else bad concurrent "exits $conc_rcs, leftover $leftover, unvalidated $unvalidated: $conc_out"; fi

# ---- preflight and connection settings ---------------------------------------------------------
mkdir -p "$P/data/raw"
closed=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
sp "$P" "DATABASE_URL=postgresql://$PG_USER:$PG_PASS@127.0.0.1:$closed/$PG_DB" -- preflight
if [ "$rc" -eq 1 ] && grep -q "127.0.0.1:$closed" <<<"$out" && grep -qi 'refused' <<<"$out"; then
  ok "preflight: a closed port → exit 1 naming host:port and the refusal"
else bad preflight-closed "exit $rc: $out"; fi

sp "$P" "DATABASE_URL=$URL" -- preflight
if [ "$rc" -eq 0 ] && grep -q "reachable and writable" <<<"$out"; then ok "preflight: reachable server → exit 0"
else bad preflight-ok "exit $rc: $out"; fi

sp "$P" "DATABASE_URL=postgresql://$PG_USER:not-$PG_PASS@127.0.0.1:$PG_PORT/$PG_DB" -- preflight
if [ "$rc" -eq 1 ] && grep -q 'password authentication failed' <<<"$out" && ! grep -q "not-$PG_PASS" <<<"$out"; then
  ok "preflight: a wrong password → exit 1, the cause named, the password not printed"
else bad preflight-password "exit $rc: $out"; fi

sp "$P" "DATABASE_URL=postgresql://$PG_USER:not-$PG_PASS@127.0.0.1:$PG_PORT/$PG_DB" RETRIES=2 \
  RETRY_DELAY=0 -- run --only preflight
if [ "$rc" -eq 1 ] && grep -q 'permanent error (net): not retried' <<<"$out" &&
   ! grep -q 'attempt 2 of 3' <<<"$out" && ! grep -q "not-$PG_PASS" <<<"$out"; then
  ok "run: refused credentials are permanent → one attempt, not retried"
else bad run-password-permanent "exit $rc: $out"; fi

q "CREATE ROLE reader LOGIN PASSWORD '$PG_PASS-r'; GRANT SELECT ON dim_date, dim_product, fact_sales TO reader" >/dev/null
sp "$P" "DATABASE_URL=postgresql://reader:$PG_PASS-r@127.0.0.1:$PG_PORT/$PG_DB" -- preflight
if [ "$rc" -eq 1 ] && grep -q 'role reader lacks the INSERT privilege on table dim_date' <<<"$out"; then
  ok "preflight: a role without INSERT/DELETE → exit 1 naming role, privilege and table"
else bad preflight-privileges "exit $rc: $out"; fi
q "GRANT INSERT, DELETE ON dim_date, dim_product, fact_sales TO reader" >/dev/null
sp "$P" "DATABASE_URL=postgresql://reader:$PG_PASS-r@127.0.0.1:$PG_PORT/$PG_DB" -- preflight
if [ "$rc" -eq 1 ] && grep -q 'role reader lacks the UPDATE privilege on sequence public.dim_date_date_id_seq' <<<"$out"; then
  ok "preflight: table privileges but no UPDATE on the key sequences → exit 1 naming the sequence"
else bad preflight-sequence "exit $rc: $out"; fi
q "GRANT UPDATE ON SEQUENCE dim_date_date_id_seq, dim_product_product_sk_seq, fact_sales_sale_id_seq TO reader" >/dev/null
sp "$P" "DATABASE_URL=postgresql://reader:$PG_PASS-r@127.0.0.1:$PG_PORT/$PG_DB" -- preflight
if [ "$rc" -eq 1 ] && grep -q 'role reader lacks the SELECT privilege on table etl_load' <<<"$out"; then
  ok "preflight: no privileges on etl_load (where each load records itself) → exit 1 naming it"
else bad preflight-etl-load "exit $rc: $out"; fi
q "GRANT SELECT, INSERT ON etl_load TO reader" >/dev/null
sp "$P" "DATABASE_URL=postgresql://reader:$PG_PASS-r@127.0.0.1:$PG_PORT/$PG_DB" -- preflight
if [ "$rc" -eq 1 ] && grep -q "role reader does not own fact_sales ($PG_USER does)" <<<"$out" \
   && grep -q "GRANT $PG_USER TO reader" <<<"$out"; then
  ok "preflight: privileges granted but fact_sales owned by another role → exit 1 naming both and the GRANT"
else bad preflight-owner "exit $rc: $out"; fi
q "GRANT $PG_USER TO reader" >/dev/null
sp "$P" "DATABASE_URL=postgresql://reader:$PG_PASS-r@127.0.0.1:$PG_PORT/$PG_DB" -- preflight
if [ "$rc" -eq 0 ]; then ok "preflight: a member of the owning role passes"
else bad preflight-granted "exit $rc: $out"; fi
if [ -n "${B:-}" ]; then
  sp "$B" "DATABASE_URL=postgresql://reader:$PG_PASS-r@127.0.0.1:$PG_PORT/$PG_DB" -- load --ds "$DS"
  keys=$(q "SELECT count(*) FROM pg_constraint WHERE conrelid = 'fact_sales'::regclass AND contype IN ('p','f') AND convalidated")
  if [ "$rc" -eq 0 ] && [ "$(state)" = "$base" ] && [ "$keys" = 3 ]; then
    ok "a member of the owning role loads: same warehouse, fact_sales' keys in place and validated"
  else bad load-not-owner "exit $rc, keys $keys: $(tail -c 600 <<<"$out")"; fi
fi

# docker-compose's form: a URL without password, the password in PGPASSWORD.
sp "$P" "DATABASE_URL=postgresql://$PG_USER@127.0.0.1:$PG_PORT/$PG_DB" "PGPASSWORD=$PG_PASS" -- preflight
if [ "$rc" -eq 0 ]; then ok "PGPASSWORD with a passwordless DATABASE_URL (docker-compose) connects"
else bad pgpassword "exit $rc: $out"; fi
printf 'PGPASSWORD=%s\n' "$PG_PASS" >"$P/.env"
sp "$P" "DATABASE_URL=postgresql://$PG_USER@127.0.0.1:$PG_PORT/$PG_DB" -- preflight
rm -f "$P/.env"
if [ "$rc" -eq 0 ]; then ok "PGPASSWORD from the .env file is used too"
else bad pgpassword-dotenv "exit $rc: $out"; fi

# libpq's own variables: host, port, user, database from PG*; PGSSLMODE passes through.
sp "$P" "DATABASE_URL=postgresql://" PGHOST=127.0.0.1 "PGPORT=$PG_PORT" "PGUSER=$PG_USER" \
  "PGDATABASE=$PG_DB" "PGPASSWORD=$PG_PASS" -- preflight
if [ "$rc" -eq 0 ] && grep -q "postgresql://$PG_USER@127.0.0.1:$PG_PORT/$PG_DB" <<<"$out"; then
  ok "PGHOST/PGPORT/PGUSER/PGDATABASE fill a bare postgresql:// URL"
else bad pg-env "exit $rc: $out"; fi
sp "$P" "DATABASE_URL=$URL" PGSSLMODE=require -- preflight
if [ "$rc" -eq 1 ] && grep -qi 'SSL' <<<"$out"; then
  ok "PGSSLMODE=require reaches libpq (this test server has no TLS: refused, named)"
else bad pgsslmode "exit $rc: $out"; fi
sp "$P" "DATABASE_URL=postgresql://$PG_USER:$PG_PASS@127.0.0.1:$PG_PORT/$PG_DB?sslmode=bogus" -- preflight
if [ "$rc" -eq 1 ] && grep -q 'sslmode' <<<"$out"; then ok "a bad sslmode in the URL → exit 1, named"
else bad sslmode-url "exit $rc: $out"; fi

# Verbose logs, config and a run summary: more places a password could leak.
sp "$P" "DATABASE_URL=$URL" -- -v config
sp "$P" "DATABASE_URL=$URL" -- -v --log-format json preflight

# ---- the password never appears ---------------------------------------------------------------
lines=$(wc -l <"$all")
if grep -qF -- "$PG_PASS" "$all"; then
  bad no-password "the password appears in the suite's output: $(grep -nF -- "$PG_PASS" "$all" | head -n 3 | cut -c1-200)"
else ok "no line of the suite's output ($lines lines) contains the password"; fi

finish
