#!/usr/bin/env python3
"""json_log_check.py — checks a captured `--log-format json` stderr against the
schema of docs/operations.md: every line one JSON object with ts, level, msg
and, where present, the structured fields with their types. Then the events
asked for on the command line must be there:
  json_log_check.py LOG [EVENT[:TASK]]... [summary=succeeded|failed]
Prints what is wrong and exits 1; exits 0 when all holds."""
import json
import re
import sys

LEVELS = {"error", "warn", "info", "debug"}
EVENTS = {"started", "succeeded", "failed", "retrying", "gate", "warning"}
STRINGS = {"task", "ds", "run_id", "file", "error_class", "event"}
COUNTS = {"rows_in", "rows_kept", "rows_rejected"}


def check_line(n, obj, errors):
    def bad(why):
        errors.append(f"line {n}: {why}: {json.dumps(obj)[:300]}")
    if not isinstance(obj, dict):
        return bad("not an object")
    for key in ("ts", "level", "msg"):
        if not isinstance(obj.get(key), str):
            bad(f"{key} missing or not a string")
    if isinstance(obj.get("ts"), str) and not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", obj["ts"]):
        bad("ts is not ISO 8601 UTC")
    if obj.get("level") not in LEVELS:
        bad("level not one of " + ",".join(sorted(LEVELS)))
    for key in STRINGS & obj.keys():
        if not isinstance(obj[key], str) or not obj[key]:
            bad(f"{key} is not a non-empty string")
    if "event" in obj and obj["event"] not in EVENTS:
        bad("event not one of " + ",".join(sorted(EVENTS)))
    if "ds" in obj and not re.fullmatch(r"\d{4}-\d\d-\d\d", str(obj["ds"])):
        bad("ds is not YYYY-MM-DD")
    if "attempt" in obj and (type(obj["attempt"]) is not int or obj["attempt"] < 1):
        bad("attempt is not an integer >= 1")
    if "attempt" in obj and "task" not in obj:
        bad("attempt without task")
    present = COUNTS & obj.keys()
    if present and present != COUNTS:
        bad("rows_in, rows_kept, rows_rejected come together")
    for key in present:
        if type(obj[key]) is not int or obj[key] < 0:
            bad(f"{key} is not a non-negative integer")
    if present == COUNTS and all(type(obj[k]) is int for k in COUNTS) \
            and obj["rows_in"] != obj["rows_kept"] + obj["rows_rejected"]:
        bad("rows_in != rows_kept + rows_rejected")
    if "duration_s" in obj and (type(obj["duration_s"]) not in (int, float) or obj["duration_s"] < 0):
        bad("duration_s is not a non-negative number")
    if obj.get("event") in ("failed", "retrying") and "error_class" not in obj:
        bad("a failure without error_class")
    if obj.get("level") == "warn" and "event" not in obj:
        bad("a warning without event")


def main():
    path, wants = sys.argv[1], sys.argv[2:]
    errors, objs = [], []
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if "\r" in text or "\x1b" in text:
        errors.append("carriage return or escape code in the log")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines:
        errors.append("no log lines")
    for n, line in enumerate(lines, 1):
        try:
            obj = json.loads(line)
        except ValueError as e:
            errors.append(f"line {n}: not JSON ({e}): {line[:200]}")
            continue
        objs.append(obj)
        check_line(n, obj, errors)
    for want in wants:
        if want.startswith("summary="):
            outcome = want.split("=", 1)[1]
            last = objs[-1] if objs else {}
            if not (last.get("event") == outcome and "task" not in last and "run_id" in last
                    and "duration_s" in last):
                errors.append(f"last line is not a {outcome} run summary: {json.dumps(last)[:300]}")
            continue
        event, _, task = want.partition(":")
        if not any(o.get("event") == event and (not task or o.get("task") == task) for o in objs):
            errors.append(f"no {event} event" + (f" of task {task}" if task else ""))
    for e in errors[:20]:
        print(e)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
