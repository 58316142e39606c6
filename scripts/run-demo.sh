#!/usr/bin/env bash
# run-demo.sh — what `make run` does after building: run the whole pipeline
# on embedded defaults (local lake, SQLite warehouse) and say where the
# results are. Tasks that are not built yet are reported, not hidden.
set -u
sp=${1:-build/salespipe}
"$sp" --version
echo "effective configuration (secrets masked):"
"$sp" config | sed 's/^/  /'
echo
"$sp" run
rc=$?
if [ $rc -eq 2 ]; then
  echo
  echo "The pipeline tasks are not in this version yet: today salespipe offers"
  echo "'inspect' (read any Parquet file) and 'config'. Try: $sp inspect FILE.parquet --head 5"
  exit 0
fi
exit $rc
