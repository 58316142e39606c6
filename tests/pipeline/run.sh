#!/usr/bin/env bash
# run.sh — the local pipeline end to end (tests/interop/pipeline.mjs): the
# superstore data and `gen --dirty` through `salespipe run` on the fs store
# and SQLite, checked by DuckDB, sqlite3 and arithmetic of its own; failures
# (truncated Parquet, a load failing midway, missing column, date-order
# conflict, no input, preflight) leave the warehouse as it was.
# Runs the sanitizer build when present. Ends with "N passed, N failed, N skipped".
set -u
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/../.." || exit 1
interop=tests/interop
if [ ! -d "$interop/node_modules/@duckdb/node-api" ]; then
  if ! (cd "$interop" && npm ci --no-audit --no-fund --loglevel=error >/dev/null); then
    echo "FAIL npm ci in tests/interop failed (is the npm registry reachable?)"
    echo "0 passed, 1 failed"
    exit 1
  fi
fi
if ! command -v sqlite3 >/dev/null; then
  echo "FAIL the sqlite3 shell is missing (make deps installs it)"
  echo "0 passed, 1 failed"
  exit 1
fi
build=build/san
[ -x "$build/salespipe" ] || build=build
PIPELINE_BUILD=$build node "$interop/pipeline.mjs"
rc=$?
if [ "$rc" -gt 1 ]; then
  echo "FAIL pipeline.mjs exited $rc"
  echo "0 passed, 1 failed"
fi
exit "$rc"
