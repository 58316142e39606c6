#!/usr/bin/env bash
# run.sh — the DuckDB interop suite of the Parquet codec (tests/interop).
# Installs @duckdb/node-api here when node_modules is missing, then runs
# interop.mjs against build/pq_fixture and build/salespipe (built by
# `make test`). Ends with "N passed, N failed"; exits non-zero on a failure.
# It must never write outside its temporary directory and node_modules.
set -u
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/../.." || exit 1
if [ ! -x build/pq_fixture ]; then
  echo "FAIL build/pq_fixture is missing: run 'make tools' first"
  echo "0 passed, 1 failed"
  exit 1
fi
if [ ! -d "$here/node_modules/@duckdb/node-api" ]; then
  if ! (cd "$here" && npm ci --no-audit --no-fund --loglevel=error >/dev/null); then
    echo "FAIL npm ci in tests/interop failed (is the npm registry reachable?)"
    echo "0 passed, 1 failed"
    exit 1
  fi
fi
node "$here/interop.mjs"
rc=$?
if [ "$rc" -gt 1 ]; then # a crash of node itself: make sure it counts
  echo "FAIL interop.mjs exited $rc"
  echo "0 passed, 1 failed"
fi
exit "$rc"
