"""Where a benchmark's results go and in what shape: the results directory,
NAME.md and NAME.json in it, and the "report" group in bench/report.py's
schema (the five columns, rows with one value per round or why not).
Not what goes in them: each script writes its own tables, method and rows."""
import datetime
import json
import os
import sys

# The comparison report's columns, in its order (bench/report.py).
COLUMNS = ["native", "container", "vireo", "qemu-microvm", "qemu-q35"]


def out_dir(out=None):
    """(stamp, directory): out, or bench/results/<UTC timestamp>/, made."""
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = out or os.path.join("bench", "results", stamp)
    os.makedirs(out, exist_ok=True)
    return stamp, out


def write_json(out, filename, data):
    with open(os.path.join(out, filename), "w") as f:
        json.dump(data, f, indent=1)


def write(out, name, lines, data):
    """Prints the Markdown lines, writes them to NAME.md and data to
    NAME.json in out, and says so on stderr."""
    text = "\n".join(lines) + "\n"
    print(text)
    with open(os.path.join(out, f"{name}.md"), "w") as f:
        f.write(text)
    write_json(out, f"{name}.json", data)
    print(f"{name}: wrote {out}/{name}.md and {name}.json", file=sys.stderr)


def report_row(name, unit, better, columns, systems, figures):
    """A report row from a script whose systems stand behind the columns
    (blk.py, net.py). columns: (report column, system) pairs; figures(system):
    (values per round, None) or (None, why there are none). A system not in
    systems was not run this time; "skip" is there only if a column has one."""
    runs, skip = {}, {}
    for col, s in columns:
        if s not in systems:
            skip[col] = f"not run this time ({s} not in --systems)"
            continue
        vals, why = figures(s)
        if why:
            skip[col] = why
        else:
            runs[col] = vals
    row = {"name": name, "unit": unit, "better": better, "runs": runs}
    if skip:
        row["skip"] = skip
    return row


def report_group(group, title, method, rows, columns=COLUMNS):
    """A script's "report": one group of rows in bench/report.py's schema.
    Each row: {"name", "unit", "better": "higher" or "lower", "runs": {column:
    [value per round, None where a round has none]}, "skip": {column: why}}."""
    return {"group": group, "title": title, "method": method, "columns": columns, "rows": rows}
