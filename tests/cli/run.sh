#!/usr/bin/env bash
# run.sh — command-line tests: exit codes of SPEC §3, configuration
# precedence as the user sees it, secret masking in everything printed, and
# log formats. Runs the sanitizer build when present. Ends "N passed, N failed".
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"

# expect NAME WANT_EXIT WANT_SUBSTRING (in stdout+stderr) -- ARGS...
expect() {
  local name=$1 want=$2 needle=$3; shift 4
  local out rc
  out=$(cd "$tmp" && env -u DATABASE_URL "$bin" "$@" 2>&1); rc=$?
  if [ "$rc" != "$want" ]; then bad "$name" "exit $rc, expected $want; output: ${out:0:300}"; return; fi
  if [ -n "$needle" ] && ! grep -qF -- "$needle" <<<"$out"; then
    bad "$name" "output lacks '$needle': ${out:0:300}"; return
  fi
  ok "$name"
}

expect help 0 "usage: salespipe" -- --help
expect help-lists-tasks 0 "create-tables" -- --help
expect version 0 "salespipe 0." -- --version
expect no-command 2 "usage:" --
expect unknown-command 2 "unknown command 'frobnicate'" -- frobnicate
expect unknown-flag 2 "unknown option '--bogus'" -- --bogus run
expect flag-of-other-command 2 "'stage' does not take option '--csv'" -- stage --csv
expect bad-ds 2 "--ds '2024-02-30' is not a date" -- run --ds 2024-02-30
expect bad-retries 2 "--retries 'x'" -- run --retries x
expect bad-task 2 "'extract' is not a task" -- run --from extract
expect from-and-only 2 "cannot be used together" -- run --from stage --only load
expect missing-value 2 "needs a value" -- run --ds
expect gen-needs-out 2 "gen needs --out" -- gen
expect inspect-needs-file 2 "inspect needs a FILE" -- inspect
expect bad-log-format 2 "LOG_FORMAT: 'xml' is not one of text,json" -- --log-format xml config
expect missing-env-file 2 "env file /nonexistent.env" -- --env-file /nonexistent.env config

# Help: every command listed by --help has its own, by `help CMD` and `CMD --help`.
cmds=$(cd "$tmp" && "$bin" --help | sed -n '/^commands/,/^$/p' | awk 'NR>1 && NF {print $1}')
if [ "$(wc -w <<<"$cmds")" -ge 11 ]; then ok help-lists-commands; else bad help-lists-commands "$cmds"; fi
for c in $cmds; do
  a=$(cd "$tmp" && "$bin" help "$c" 2>&1); ra=$?
  b=$(cd "$tmp" && "$bin" "$c" --help 2>&1); rb=$?
  if [ $ra -eq 0 ] && [ $rb -eq 0 ] && [ "$a" = "$b" ] && grep -q "^usage: salespipe $c\b" <<<"$a" \
     && [ "$(grep -c . <<<"$a")" -ge 6 ] && awk 'length > 80 {exit 1}' <<<"$a"; then
    ok "help-$c"
  else bad "help-$c" "exit $ra/$rb, same=$([ "$a" = "$b" ] && echo y || echo n): ${a:0:300}"; fi
done
dups=$(sort <<<"$cmds" | uniq -d)
if [ -z "$dups" ]; then ok commands-unique; else bad commands-unique "listed twice: $dups"; fi
expect help-before-command 0 "usage: salespipe runs" -- --help runs
expect gen-rows-per-file 0 "data rows per file" -- gen --help
expect help-unknown 2 "unknown command 'rnu'; did you mean 'run'?" -- help rnu
expect suggest-command 2 "did you mean 'transform'?" -- trasnform
expect suggest-option 2 "'run' does not take option '--form'; did you mean '--from'?" -- run --form stage
expect suggest-global 2 "did you mean '--verbose'?" -- --verbos config
expect no-far-suggestion 2 "'stage' does not take option '--csv'" -- stage --csv
out=$(cd "$tmp" && "$bin" stage --csv 2>&1)
if grep -q "did you mean" <<<"$out"; then bad no-far-suggestion-2 "$out"; else ok no-far-suggestion-2; fi
expect option-before-command 2 "'--ds' is a command's option: put it after the command" -- --ds 2024-01-01 run

# Configuration precedence, as `salespipe config` shows it.
cat > "$tmp/.env" <<'ENV'
SALES_THRESHOLD=750
DATE_ORDER=dmy
DATA_DIR=/from/dotenv
DATABASE_URL=postgresql://etl:Sup3rS3cret!@db.internal:5432/sales
RDS_PASS=another-s3cret-value
AWS_SECRET_ACCESS_KEY=AKIAFAKESECRETVALUE123
ENV
out=$(cd "$tmp" && DATE_ORDER=ymd "$bin" config 2>&1); rc=$?
if [ $rc -eq 0 ] \
   && grep -qE '^SALES_THRESHOLD +\.env +750$' <<<"$out" \
   && grep -qE '^DATE_ORDER +environment +ymd$' <<<"$out" \
   && grep -qE '^ENCODING +default +auto$' <<<"$out"; then ok precedence
else bad precedence "unexpected config output: $out"; fi

out=$(cd "$tmp" && "$bin" --log-format json config --json 2>&1)
if grep -q '"LOG_FORMAT":{"value":"json","source":"flag"}' <<<"$out"; then ok flag-beats-all
else bad flag-beats-all "$out"; fi

out=$(cd "$tmp" && "$bin" config 2>&1; "$bin" config --json 2>&1; "$bin" -v config 2>&1)
if grep -qE 'Sup3rS3cret|another-s3cret-value|AKIAFAKESECRETVALUE123' <<<"$out"; then
  bad secrets-masked "a secret was printed"
elif grep -qF 'postgresql://etl:***@db.internal:5432/sales' <<<"$out"; then ok secrets-masked
else bad secrets-masked "masked DATABASE_URL not shown: $out"; fi

mkdir -p "$tmp/other"
printf 'DATA_DIR=/from/env-file\n' > "$tmp/other/alt.env"
out=$(cd "$tmp" && "$bin" --env-file other/alt.env config 2>&1)
if grep -qE '^DATA_DIR +\.env +/from/env-file$' <<<"$out"; then ok env-file-flag
else bad env-file-flag "$out"; fi
rm -f "$tmp/.env"

out=$(cd "$tmp" && RAW_STORE=gs://bucket/x "$bin" config 2>&1); rc=$?
if [ $rc -eq 2 ] && grep -q "unknown URL scheme 'gs'" <<<"$out"; then ok unknown-scheme-env
else bad unknown-scheme-env "exit $rc: $out"; fi

out=$(cd "$tmp" && DATABASE_URL='mysql://root:TopS3cretPw@h/db' "$bin" config 2>&1); rc=$?
if [ $rc -eq 2 ] && ! grep -q TopS3cretPw <<<"$out"; then ok bad-url-error-masks-secret
else bad bad-url-error-masks-secret "exit $rc: $out"; fi

# The S3 endpoint config names is the one the store uses (store_s3_endpoint):
# AWS_ENDPOINT_URL_S3 > AWS_ENDPOINT_URL > S3_ENDPOINT_URL, an empty one unset.
out=$(cd "$tmp" && RAW_STORE=s3://raw-bkt/pre AWS_ENDPOINT_URL_S3='' AWS_ENDPOINT_URL=http://mid:2 \
      S3_ENDPOINT_URL=http://low:1 "$bin" config 2>&1); rc=$?
if [ $rc -eq 0 ] && grep -qE '^  raw store +S3 bucket raw-bkt, key prefix pre, at http://mid:2$' <<<"$out"
then ok config-s3-endpoint
else bad config-s3-endpoint "exit $rc: $(grep -i 'raw store' <<<"$out")"; fi

# The run ledger: empty history; nothing to resume; --resume is not --from.
expect runs-empty 0 "no runs recorded" -- runs
expect runs-unknown-id 1 "no run nope" -- runs nope
expect resume-nothing 1 "nothing to resume" -- run --ds 2024-01-02 --resume
expect resume-and-from 2 "cannot be combined" -- run --resume --from load
expect bad-backoff 2 "--retry-backoff 'linear'" -- run --retry-backoff linear

# Tasks fail with exit 1 and name the cause.
expect preflight-no-input 1 "input folder ./data/raw" -- preflight --ds 2024-01-02
expect transform-no-input 1 "no input files" -- transform --ds 2024-01-02
expect load-no-transform 1 "run transform first" -- load --ds 2024-01-02
expect stage-no-files 1 "input folder ./data/raw" -- stage --ds 2024-01-02
# No credentials anywhere (the chain would end at the instance metadata
# service, which this machine has not: turned off to fail at once).
out=$(cd "$tmp" && AWS_EC2_METADATA_DISABLED=true RAW_STORE=s3://bucket/raw "$bin" stage --ds 2024-01-02 2>&1); rc=$?
if [ $rc -eq 1 ] && grep -qi "s3" <<<"$out"; then ok s3-store-named; else bad s3-store-named "exit $rc: $out"; fi
out=$(cd "$tmp" && DATABASE_URL='postgresql://etl:Pg5ecretPw@127.0.0.1:1/db' "$bin" create-tables 2>&1); rc=$?
if [ $rc -eq 1 ] && ! grep -q Pg5ecretPw <<<"$out"; then ok warehouse-error-masks-password
else bad warehouse-error-masks-password "exit $rc: $out"; fi

# The whole pipeline in an empty folder: gen, run, a summary; JSON logs.
mkdir -p "$tmp/proj"
out=$(cd "$tmp/proj" && "$bin" gen --out data/raw --rows 50 2>&1 && "$bin" run --ds 2024-01-02 2>&1); rc=$?
if [ $rc -eq 0 ] && grep -q "rows in 200, kept 200" <<<"$out" && [ -f "$tmp/proj/warehouse.db" ] \
   && [ -f "$tmp/proj/lake/processed/runs/2024-01-02/_manifest.json" ]; then ok run-summary
else bad run-summary "exit $rc: ${out:0:600}"; fi
out=$(cd "$tmp/proj" && "$bin" --log-format json run --ds 2024-01-02 2>&1 >/dev/null); rc=$?
if [ $rc -eq 0 ] && [ -n "$out" ] && ! grep -qv '^{"ts":' <<<"$out"; then ok run-json-logs
else bad run-json-logs "exit $rc: ${out:0:600}"; fi
# JSON logs (docs/operations.md): every line of whole runs, successful and
# failed, is one object with the schema's keys and types; the key events are
# there; the end-of-run summary is the last object; stdout stays empty.
jcheck() { python3 tests/cli/json_log_check.py "$@"; }
(cd "$tmp/proj" && "$bin" --log-format json run --ds 2024-01-05 2>"$tmp/j1.log" >"$tmp/j1.out"); rc=$?
why=$(jcheck "$tmp/j1.log" started:preflight succeeded:stage succeeded:transform succeeded:load \
      summary=succeeded)
if [ $rc -eq 0 ] && [ -z "$why" ] && [ ! -s "$tmp/j1.out" ] \
   && tail -n 1 "$tmp/j1.log" | grep -q '"rows_in":200,"rows_kept":200,"rows_rejected":0' \
   && grep '"task":"stage"' "$tmp/j1.log" | grep -q '"file":"West_orders.csv"' \
   && grep '"task":"transform"' "$tmp/j1.log" | grep -q '"file":"West_orders.csv","rows_in":50,"rows_kept":50,"rows_rejected":0' \
   && grep '"event":"succeeded"' "$tmp/j1.log" | grep '"task":"transform"' | grep -q '"rows_in":200'; then
  ok json-log-run
else bad json-log-run "exit $rc: $why $(head -c 400 "$tmp/j1.out")"; fi
(cd "$tmp/proj" && DATABASE_URL='postgresql://etl:Pg5ecretPw@127.0.0.1:1/db' "$bin" --log-format json \
   run --ds 2024-01-06 --retries 1 --retry-delay 0 2>"$tmp/j2.log" >"$tmp/j2.out"); rc=$?
why=$(jcheck "$tmp/j2.log" started:preflight failed:preflight retrying:preflight summary=failed)
if [ $rc -eq 1 ] && [ -z "$why" ] && ! grep -q Pg5ecretPw "$tmp/j2.log" \
   && grep '"event":"failed"' "$tmp/j2.log" | grep -q '"attempt":2,.*"error_class":"net"' \
   && tail -n 1 "$tmp/j2.log" | grep -q '"failed_task":"preflight"'; then
  ok json-log-failed-run
else bad json-log-failed-run "exit $rc: $why"; fi
mkdir -p "$tmp/dirty"
# 40 dirty rows per file are mostly rejects: MAX_REJECT_RATE=1 lets the gate pass them.
(cd "$tmp/dirty" && export MAX_REJECT_RATE=1 && "$bin" gen --out data/raw --rows 40 --dirty >/dev/null 2>&1 \
   && "$bin" --log-format json transform --ds 2024-01-02 2>"$tmp/j3.log"; \
   "$bin" --log-format json stage --ds 2024-01-02 2>>"$tmp/j3.log" \
   && "$bin" --log-format json transform --ds 2024-01-02 2>>"$tmp/j3.log"); rc=$?
why=$(jcheck "$tmp/j3.log" failed:transform succeeded:stage succeeded:transform warning:transform)
if [ $rc -eq 0 ] && [ -z "$why" ] && grep '"event":"failed"' "$tmp/j3.log" | grep -q '"error_class":"data"' \
   && grep '"event":"warning"' "$tmp/j3.log" | grep -q '"file":"South_orders.csv"'; then
  ok json-log-tasks
else bad json-log-tasks "exit $rc: $why"; fi

out=$(cd "$tmp/proj" && "$bin" stage --ds 2024-01-03 2>&1 \
      && PROCESSED_STORE=new/deep/processed "$bin" transform --ds 2024-01-03 2>&1); rc=$?
if [ $rc -eq 0 ] && [ -f "$tmp/proj/new/deep/processed/runs/2024-01-03/fact_sales.parquet" ]; then ok transform-new-store
else bad transform-new-store "exit $rc: ${out:0:600}"; fi
# stage: identical files are skipped; a same-size file with other bytes is copied.
out=$(cd "$tmp/proj" && "$bin" stage --ds 2024-01-04 2>&1 && sed -i '2s/,/;/' data/raw/West_orders.csv \
      && "$bin" stage --ds 2024-01-04 2>&1); rc=$?
if [ $rc -eq 0 ] && grep -q "stage: 1 uploaded, 3 unchanged" <<<"$out" \
   && cmp -s "$tmp/proj/data/raw/West_orders.csv" "$tmp/proj/lake/raw/runs/2024-01-04/West_orders.csv"; then
  ok stage-changed-same-size
else bad stage-changed-same-size "exit $rc: ${out:0:600}"; fi
out=$(cd "$tmp/proj" && "$bin" run --ds 2024-01-02 --only transform 2>&1); rc=$?
if [ $rc -eq 0 ] && grep -q "transform: succeeded" <<<"$out" && ! grep -q "stage:" <<<"$out"; then ok run-only
else bad run-only "exit $rc: ${out:0:600}"; fi

# Progress (SPEC §9): a live line on a terminal (a pseudo-terminal from
# util-linux `script`), none when stderr is not a TTY, with -q or
# NO_PROGRESS=1; NO_COLOR drops the bold.
mkdir -p "$tmp/big"
(cd "$tmp/big" && "$bin" gen --out data/raw --rows 100000 >/dev/null 2>&1 \
   && "$bin" run --ds 2024-01-02 >/dev/null 2>"$tmp/notty.err"); rc=$?
if [ $rc -eq 0 ] && [ -s "$tmp/notty.err" ] && ! grep -q $'[\r\x1b]' "$tmp/notty.err"; then ok progress-none-without-tty
else bad progress-none-without-tty "exit $rc: $(head -c 300 "$tmp/notty.err" | cat -v)"; fi
pty() { # FILE ENV... -- ARGS...: run salespipe in $tmp/big on a pseudo-terminal
  local f=$1; shift
  local envs=()
  while [ "$1" != -- ]; do envs+=("$1"); shift; done; shift
  (cd "$tmp/big" && env "${envs[@]}" script -qefc "$(printf '%q ' "$bin" "$@")" "$f" >/dev/null 2>&1)
}
pty "$tmp/pty1" NO_COLOR= -- stage --ds 2024-01-03; rc1=$?
pty "$tmp/pty2" NO_COLOR= -- load --ds 2024-01-02; rc2=$?
pty "$tmp/pty6" NO_COLOR= -- transform --ds 2024-01-02; rc6=$?
if [ $rc1 -eq 0 ] && [ $rc2 -eq 0 ] && [ $rc6 -eq 0 ] \
   && grep -qaE $'\r\x1b\\[1mtransform\x1b\\[0m  [0-9.]+ [KM]iB / 8[0-9.]+ MiB +[0-9]+%  [0-9.]+ [KM]iB/s  ETA [0-9]+s' "$tmp/pty6" \
   && grep -qaE $'\r\x1b\\[1mstage\x1b\\[0m  [0-9.]+ [KM]iB / 8[0-9.]+ MiB +[0-9]+%' "$tmp/pty1" \
   && grep -qaE $'\r\x1b\\[1mload fact_sales\x1b\\[0m  [0-9.]+k? rows / 400.00k rows +[0-9]+%  [0-9.]+k? rows/s  ETA [0-9]+s' "$tmp/pty2"; then
  ok progress-on-tty
else bad progress-on-tty "exit $rc1/$rc2/$rc6: $(tr '\r' '\n' < "$tmp/pty2" | grep -a load | head -5 | cat -v)"; fi
pty "$tmp/pty3" NO_COLOR=1 -- load --ds 2024-01-02; rc=$?
if [ $rc -eq 0 ] && grep -qaE $'\rload fact_sales  ' "$tmp/pty3" && ! grep -qa $'\x1b\\[1m' "$tmp/pty3"; then
  ok progress-no-color
else bad progress-no-color "exit $rc: $(head -c 300 "$tmp/pty3" | cat -v)"; fi
pty "$tmp/pty4" NO_PROGRESS=1 -- load --ds 2024-01-02; rc=$?
pty "$tmp/pty5" NO_COLOR= -- -q load --ds 2024-01-02; rc5=$?
if [ $rc -eq 0 ] && [ $rc5 -eq 0 ] && grep -qa "load: succeeded" "$tmp/pty4" \
   && ! grep -qa -e 'rows/s' -e $'\x1b' "$tmp/pty4" \
   && ! grep -qa -e 'rows/s' -e $'\x1b' "$tmp/pty5"; then
  ok progress-off-on-tty
else bad progress-off-on-tty "exit $rc/$rc5: $(head -c 300 "$tmp/pty4" | cat -v)"; fi

# The man page renders without a warning, and documents every command and
# every option that `salespipe help CMD` lists.
man_out=$(MANWIDTH=80 man -l docs/salespipe.1 2>"$tmp/man.err"); rc=$?
if [ $rc -eq 0 ] && [ ! -s "$tmp/man.err" ] && groff -ww -z -man docs/salespipe.1 2>&1 | grep -q . ; then
  bad man-renders "groff warns: $(groff -ww -z -man docs/salespipe.1 2>&1 | head -3)"
elif [ $rc -eq 0 ] && [ ! -s "$tmp/man.err" ] && grep -q "^SALESPIPE(1)" <<<"$man_out"; then ok man-renders
else bad man-renders "exit $rc: $(head -c 300 "$tmp/man.err")"; fi
missing=""
for c in $cmds; do
  grep -qE "^       $c( |$)" <<<"$man_out" || missing="$missing $c"
  for o in $(cd "$tmp" && "$bin" help "$c" | awk '/^options:/ {on=1; next} /^$/ {on=0} on {print $1}'); do
    grep -qF -- "$o" <<<"$man_out" || missing="$missing $c:$o"
  done
done
if [ -z "$missing" ]; then ok man-covers-commands; else bad man-covers-commands "not in the man page:$missing"; fi

# Bash completion: commands, a command's options, task names, formats.
comp() { bash -c 'source contrib/salespipe.bash; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1));
                  COMPREPLY=(); _salespipe; echo "${COMPREPLY[*]}"' _ "$bin" "$@"; }
c1=$(comp trans) c2=$(comp run --re) c3=$(comp -q run --only cr) c4=$(comp gen --r) c5=$(comp help ins)
if [ "$c1" = transform ] && [ "$c2" = "--resume --retries --retry-delay --retry-backoff" ] \
   && [ "$c3" = create-tables ] && [ "$c4" = --rows ] && [ "$c5" = inspect ]; then ok bash-completion
else bad bash-completion "'$c1' '$c2' '$c3' '$c4' '$c5'"; fi

# make install / uninstall into a DESTDIR: every file where it belongs, the
# unit pointing at the installed binary, nothing left after uninstall.
dest="$tmp/dest"
if make --no-print-directory -s install DESTDIR="$dest" PREFIX=/usr/local BUILD="$(dirname "$SP")" >"$tmp/inst.log" 2>&1 \
   && [ -x "$dest/usr/local/bin/salespipe" ] && [ -f "$dest/usr/local/share/man/man1/salespipe.1" ] \
   && [ -f "$dest/usr/local/share/bash-completion/completions/salespipe" ] \
   && [ -f "$dest/usr/local/lib/systemd/system/salespipe.timer" ] \
   && grep -qx 'ExecStart=/usr/local/bin/salespipe --env-file /etc/salespipe/salespipe.env run' \
        "$dest/usr/local/lib/systemd/system/salespipe.service" \
   && [ -f "$dest/etc/salespipe/salespipe.env.example" ] && [ ! -e "$dest/etc/salespipe/salespipe.env" ] \
   && "$dest/usr/local/bin/salespipe" --version | grep -q "salespipe 0." \
   && MANWIDTH=80 man -l "$dest/usr/local/share/man/man1/salespipe.1" 2>/dev/null | grep -q "^SALESPIPE(1)"; then
  ok make-install
else bad make-install "$(find "$dest" -type f 2>/dev/null | head; head -c 400 "$tmp/inst.log")"; fi
make --no-print-directory -s uninstall DESTDIR="$dest" PREFIX=/usr/local >/dev/null 2>&1
left=$(find "$dest" -type f 2>/dev/null)
if [ -z "$left" ]; then ok make-uninstall; else bad make-uninstall "left: $left"; fi
make --no-print-directory -s install DESTDIR="$dest" PREFIX=/opt/sp SYSCONFDIR=/opt/sp/etc BUILD="$(dirname "$SP")" >/dev/null 2>&1
if grep -qx 'ExecStart=/opt/sp/bin/salespipe --env-file /opt/sp/etc/salespipe/salespipe.env run' \
     "$dest/opt/sp/lib/systemd/system/salespipe.service" 2>/dev/null; then ok make-install-prefix
else bad make-install-prefix "$(find "$dest" -name salespipe.service)"; fi

# `make run`'s closing suggestions work on this machine: run the demo in an
# empty folder and every command it suggests.
mkdir -p "$tmp/demo"
demo=$(cd "$tmp/demo" && "$root/scripts/run-demo.sh" "$bin" 2>/dev/null); rc=$?
block=$(awk '/^Look inside:/ {on=1; next} on && !/^  \(/' <<<"$demo")
out=$(cd "$tmp/demo" && bash -euc "$block" 2>&1); rc2=$?
if [ $rc -eq 0 ] && [ $rc2 -eq 0 ] && grep -q "inspect" <<<"$block" && grep -q "Furniture|" <<<"$out"; then
  ok run-demo-suggestions
else bad run-demo-suggestions "exit $rc/$rc2: ${block:0:300} => ${out:0:300}"; fi

# plan: what run would do (new / changed / unchanged files, an object the
# input set leaves out, the gates, an estimate from the ledger), and nothing
# changed: the store trees, the warehouse's dump and the ledger file hashed
# before and after; in an empty folder it creates nothing at all.
snap() { (cd "$1" && find lake .salespipe -type f -print0 | sort -z | xargs -0 sha256sum \
          && sqlite3 warehouse.db .dump | sha256sum && find . -path ./data -prune -o -print | sort); }
mkdir -p "$tmp/plan"
(cd "$tmp/plan" && "$bin" gen --out data/raw --rows 300 >/dev/null 2>&1 && "$bin" run --ds 2024-01-02 >/dev/null 2>&1 \
   && sed -i '2s/,/;/' data/raw/West_orders.csv && cp data/raw/East_orders.csv data/raw/North_orders.csv \
   && echo stray > lake/raw/runs/2024-01-02/Old_orders.csv); rc=$?
before=$(snap "$tmp/plan")
out=$(cd "$tmp/plan" && "$bin" plan --ds 2024-01-02 2>&1); rc2=$?
after=$(snap "$tmp/plan")
if [ $rc -eq 0 ] && [ $rc2 -eq 0 ] && [ "$before" = "$after" ] \
   && grep -qE '^  new +North_orders.csv' <<<"$out" && grep -qE '^  changed +West_orders.csv' <<<"$out" \
   && grep -qE '^  unchanged +Central_orders.csv' <<<"$out" && grep -q "1 new, 1 changed, 3 unchanged" <<<"$out" \
   && grep -q "input set: 5 files" <<<"$out" && grep -q "ignored by transform.*Old_orders.csv" <<<"$out" \
   && grep -qE '^  MIN_ROWS=1 ' <<<"$out" && grep -q "drop against the last load (run 2024-01-02_" <<<"$out" \
   && grep -qE '^estimated duration: (about|under) .* the last 1 successful run' <<<"$out"; then
  ok plan-changes-nothing
else bad plan-changes-nothing "exit $rc/$rc2, same=$([ "$before" = "$after" ] && echo y || echo n): ${out:0:900}"; fi
# Incremental: the warehouse's etl_file (written by the run above) decides
# per file: the same sha256 skipped, another replaced, an unknown file loaded.
before=$(snap "$tmp/plan")
out=$(cd "$tmp/plan" && LOAD_MODE=incremental MIN_ROWS=5 "$bin" plan --ds 2024-01-02 2>&1); rc=$?
if [ $rc -eq 0 ] && [ "$before" = "$(snap "$tmp/plan")" ] && grep -q "load (LOAD_MODE=incremental)" <<<"$out" \
   && grep -qE '^  MIN_ROWS=5 ' <<<"$out" \
   && grep -qE '^  skip +East_orders.csv: same sha256 as loaded by run 2024-01-02_' <<<"$out" \
   && grep -qE '^  replace +West_orders.csv: sha256 changed since run 2024-01-02_' <<<"$out" \
   && grep -qE '^  load +North_orders.csv: new' <<<"$out" && grep -q "1 to load, 1 to replace, 3 to skip" <<<"$out"; then
  ok plan-incremental-registry
else bad plan-incremental-registry "exit $rc: ${out:0:900}"; fi
mkdir -p "$tmp/plan-empty"
out=$(cd "$tmp/plan-empty" && "$bin" plan 2>&1); rc=$?
if [ $rc -eq 0 ] && [ -z "$(ls -A "$tmp/plan-empty")" ] && grep -q "would fail: input folder" <<<"$out" \
   && grep -q "does not exist yet" <<<"$out" && grep -q "estimated duration: no history" <<<"$out"; then
  ok plan-empty-folder
else bad plan-empty-folder "exit $rc: $(ls -A "$tmp/plan-empty") ${out:0:600}"; fi

# inspect: errors name the file and exit 1; log formats.
printf 'definitely not parquet' > "$tmp/bad.parquet"
expect inspect-missing 1 "nope.parquet" -- inspect nope.parquet
expect inspect-not-parquet 1 "bad.parquet" -- inspect bad.parquet
mkdir -p "$tmp/dir.parquet"
expect inspect-directory 1 "dir.parquet: is a directory" -- inspect dir.parquet
mkfifo "$tmp/fifo.parquet"
out=$(cd "$tmp" && timeout 20 "$bin" inspect fifo.parquet 2>&1); rc=$?
if [ $rc -eq 1 ] && grep -q "fifo.parquet: not a regular file" <<<"$out"; then ok inspect-fifo-no-hang
else bad inspect-fifo-no-hang "exit $rc (124 = hung): $out"; fi
out=$(cd "$tmp" && "$bin" --log-format json inspect bad.parquet 2>&1 >/dev/null)
if grep -qE '^\{"ts":"[0-9T:-]+Z","level":"error","msg":"inspect: .*bad\.parquet' <<<"$out"; then
  ok json-log-line
else bad json-log-line "$out"; fi
out=$(cd "$tmp" && "$bin" inspect bad.parquet 2>&1 >/dev/null)
if grep -qE '^[0-9T:-]+Z ERROR +inspect: .*bad\.parquet' <<<"$out"; then ok text-log-line
else bad text-log-line "$out"; fi

# THREADS: listed by config with the core count as its default, honoured by
# transform (the workers it logs) and by gen.
cores=$(nproc)
out=$(cd "$tmp" && "$bin" config 2>&1)
if grep -qE "^THREADS +default +$cores\$" <<<"$out"; then ok threads-default
else bad threads-default "$(grep THREADS <<<"$out")"; fi
mkdir -p "$tmp/th" && (cd "$tmp/th" && "$bin" gen --out data/raw --rows 50 >/dev/null 2>&1 \
  && "$bin" stage --ds 2024-01-01 >/dev/null 2>&1)
for n in 1 3; do
  out=$(cd "$tmp/th" && THREADS=$n "$bin" transform --ds 2024-01-01 2>&1)
  if grep -q "4 file(s) in 4 chunk(s) from .*, $n worker(s)" <<<"$out"; then ok "threads-transform-$n"
  else bad "threads-transform-$n" "${out:0:300}"; fi
done

finish
