#!/usr/bin/env python3
"""Reads meson testlog.json files and prints one line per test, the output of
failures, and the closing "N passed, N failed, N skipped" line."""
import json
import re
import sys

WHY = re.compile(r"(FAIL|Traceback|\w+Error\b|not ok\b)")

passed = failed = skipped = 0
for arg in sys.argv[1:]:
    path, _, tag = arg.partition(":")
    try:
        with open(path) as f:
            records = [json.loads(line) for line in f if line.strip()]
    except OSError as e:
        print(f"FAIL  {path}: {e.strerror}")
        failed += 1
        continue
    for r in records:
        name = r["name"] + (f" [{tag}]" if tag else "")
        res = r["result"]
        if res in ("OK", "EXPECTEDFAIL"):
            passed += 1
            print(f"PASS  {name}  ({r['duration']:.1f}s)")
        elif res == "SKIP":
            skipped += 1
            why = (r.get("stdout") or "").strip().splitlines()
            print(f"SKIP  {name}  {why[-1] if why else ''}")
        else:
            failed += 1
            print(f"FAIL  {name}  ({res})")
            out = ((r.get("stdout") or "") + (r.get("stderr") or "")).strip().splitlines()
            # the reasons first: a long tail of guest output can push a
            # test's own FAIL lines out of whatever a reader keeps
            for line in [ln for ln in out if WHY.match(ln)][:10]:
                print(f"    > {line}")
            for line in out[-40:]:
                print(f"      {line}")
print(f"{passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed or passed == 0 else 0)
