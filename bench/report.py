#!/usr/bin/env python3
"""The comparison report: native vs container vs vireo vs QEMU, measured.

Runs every benchmark script in bench/ into one results directory, then
reads the "report" part of each one's JSON and writes report.md,
results.json and one chart per row group. Nothing here knows a number: a
cell is what ran, or the reason it could not.

usage: bench/report.py [--runs N] [--quick] [--only cpu,memory,...]
                       [--out DIR] [--render DIR]
  --render DIR   only (re)write the report from the JSON already in DIR
Run from the repository root as root, after ./scripts/build.sh --no-san
(scripts/bench.sh does both)."""
import argparse
import json
import math
import os
import subprocess
import sys
import time

# bench/harness is the library shared with tests/e2e (bench/, the script's
# own directory, is on sys.path)
from harness import hostinfo, results
from harness.results import COLUMNS
from harness.stats import summary

LABEL = {"native": "native", "container": "container", "vireo": "vireo",
         "qemu-microvm": "QEMU microvm", "qemu-q35": "QEMU q35"}
COLOR = {"native": "#4d4d4d", "container": "#1b9e77", "vireo": "#d95f02",
         "qemu-microvm": "#7570b3", "qemu-q35": "#a6a6d8"}

# (group, script, its output files, extra arguments, extra arguments with --quick).
# The order is the report's; the scripts take turns between columns
# themselves, so ratios within a round compare like with like.
STEPS = [
    ("cpu+memory", "cpumem.py", ["cpu.json", "memory.json"], [], []),
    ("disk", "blk.py", ["blk.json"], ["--report", "--cache", "writeback"],
     ["--report", "--cache", "writeback", "--secs", "0.5"]),
    ("network", "net.py", ["net.json"], ["--report"], ["--report", "--secs", "0.5"]),
    ("start", "start.py", ["start.json"], [], ["--launch-secs", "3"]),
    ("exits", "exits.py", ["exits.json"], [], []),
    ("rng", "rng.py", ["rng.json"], [], ["--bytes", str(8 << 20)]),
    ("balloon", "balloon.py", ["balloon.json"], [], ["--mib", "256"]),
    ("vsock", "vsock.py", ["vsock.json"], [], ["--bytes", str(16 << 20), "--secs", "0.5"]),
]
GROUP_ORDER = ["cpu", "memory", "disk", "disk-direct", "net", "start", "exits", "rng", "balloon",
               "vsock"]
TITLE = {"cpu.json": "CPU", "memory.json": "Memory", "blk.json": "Disk",
         "net.json": "Network", "start.json": "Start and footprint", "exits.json": "Exit costs",
         "rng.json": "Entropy", "balloon.json": "Memory flows back (balloon)",
         "vsock.json": "Host-guest communication (vsock)"}

# The classic container-vs-VM table (issue 5): each row's old verdict, and
# the measured rows of this report that answer it, (group, row name) pairs.
# Only the figures come from the report; a row whose groups did not run says so.
CLASSIC = [
    ("CPU", "native", "about 69% of native", "cpu",
     ["integer, 1 thread", "hash, 1 thread", "sort, 1 thread", "interp, 1 thread"]),
    ("disk I/O", "about 4x a VM's", "about 23% of native I/O", "disk",
     ["randread 4K QD1 latency p50", "randwrite 4K QD1 latency p50", "randread 4K QD32",
      "seq read 1M QD4", "seq write 1M QD4"]),
    ("network I/O", "about 5x a VM's", "about 23% of native I/O", "net",
     ["host->guest 18 B packet rate", "host->guest 1472 B packet rate",
      "guest->host 18 B packet rate", "guest->host 1472 B packet rate",
      "request/response 18 B p50"]),
    ("memory allocation", "flexible", "fixed: a VM holds its RAM until it exits",
     "balloon", ["inflate: MiB returned (RSS drop)", "inflate: time to return",
                 "free page reporting: MiB returned (RSS drop)",
                 "free page reporting: time to return",
                 "allocation after deflate (a word per page)"]),
    ("host-guest communication", "a Unix socket", "poor: through the network",
     "vsock", ["vsock: stream guest->host", "vsock: request/response 64 B, p50"]),
]


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --- running -----------------------------------------------------------------

def run_step(i, n, name, script, out, runs, extra):
    """Runs one script with its progress on the terminal. Returns None or
    the reason it failed (which then stands in the report for its rows)."""
    cmd = [sys.executable, os.path.join("bench", script), "--runs", str(runs), "--out", out] + extra
    log(f"({i}/{n}) {name}: {' '.join(cmd[1:])}")
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    tail = []
    for line in p.stdout:
        line = line.rstrip()
        tail = (tail + [line])[-5:]
        print(f"    {name}: {line}", file=sys.stderr, flush=True)
    rc = p.wait()
    log(f"({i}/{n}) {name}: exit {rc} after {time.perf_counter() - t0:.0f} s")
    if rc:
        return f"bench/{script} failed (exit {rc}): {tail[-1] if tail else 'no output'}"
    return None


# --- reading -----------------------------------------------------------------

def load_groups(out, steps, failures):
    """Every "report" object that steps wrote into out, in GROUP_ORDER; a
    script that failed or wrote nothing leaves a group that says so."""
    groups = []
    for name, script, files, _, _ in steps:
        for fn in files:
            path = os.path.join(out, fn)
            try:
                with open(path) as f:
                    data = json.load(f)
            except (OSError, ValueError) as e:
                why = failures.get(name) or f"no {fn} ({e.__class__.__name__})"
                groups.append({"group": fn.split(".")[0], "title": TITLE.get(fn, fn),
                               "failed": why, "rows": []})
                continue
            reps = data.get("reports") or ([data["report"]] if "report" in data else [])
            if not reps:
                groups.append({"group": fn.split(".")[0], "title": TITLE.get(fn, fn),
                               "failed": f"{fn} has no report section", "rows": []})
            groups += reps
    order = {g: i for i, g in enumerate(GROUP_ORDER)}
    return sorted(groups, key=lambda g: order.get(g["group"], len(order)))


def relative(row, col):
    """Per-round performance relative to native (1 = native, above 1 =
    better than native), over the rounds where both ran."""
    a, b = row.get("runs", {}).get(col, []), row.get("runs", {}).get("native", [])
    out = []
    for x, n in zip(a, b):
        if not (isinstance(x, (int, float)) and isinstance(n, (int, float))) or x <= 0 or n <= 0:
            continue
        out.append(x / n if row.get("better", "higher") == "higher" else n / x)
    return out


def analyse(groups):
    for g in groups:
        cols = g.get("columns", COLUMNS)
        for row in g.get("rows", []):
            row["stats"] = {c: summary(row.get("runs", {}).get(c, []), count=True) for c in cols}
            row["vs_native"] = {c: summary(relative(row, c), count=True)
                                for c in cols if c != "native"}
    return groups


# --- writing -----------------------------------------------------------------

def num(v):
    a = abs(v)
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def cell(row, col):
    s = row["stats"].get(col)
    if s:
        return f"{num(s['median'])} [{num(s['min'])}-{num(s['max'])}]"
    why = row.get("skip", {}).get(col)
    return f"n/a: {why}" if why else "n/a: not run"


def rel_cell(row, col):
    s = row["vs_native"].get(col)
    return f"{s['median']:.2f} [{s['min']:.2f}-{s['max']:.2f}]" if s else "-"


def group_md(g, chart):
    if g.get("failed"):
        return [f"## {g['title']}", "", f"Not measured: {g['failed']}.", ""]
    cols = g.get("columns", COLUMNS)
    lines = [f"## {g['title']}", "", g.get("method", ""), ""]
    lines += ["| row | unit | " + " | ".join(LABEL.get(c, c) for c in cols) + " |",
              "|---|---|" + "---|" * len(cols)]
    for row in g["rows"]:
        unit = f"{row['unit']} ({'higher' if row.get('better', 'higher') == 'higher' else 'lower'} is better)"
        lines.append(f"| {row['name']} | {unit} | " + " | ".join(cell(row, c) for c in cols) + " |")
    rel = [c for c in cols if c != "native"]
    lines += ["", "Relative to native, per round then the median [min-max] "
              "(1.00 = native, above 1 = better than native):", "",
              "| row | " + " | ".join(LABEL.get(c, c) for c in rel) + " |",
              "|---|" + "---|" * len(rel)]
    for row in g["rows"]:
        lines.append(f"| {row['name']} | " + " | ".join(rel_cell(row, c) for c in rel) + " |")
    if chart:
        lines += ["", f"![{g['title']}]({chart})"]
    return lines + [""]


def chart(g, out):
    """One horizontal bar chart per group, every row relative to native so
    that rows of different units share an axis. Returns its file name."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    rows = [r for r in g.get("rows", []) if any(r["vs_native"].values())]
    cols = [c for c in g.get("columns", COLUMNS) if c != "native"]
    key, absolute = "vs_native", False
    if not any(r["vs_native"].get(c) for r in rows for c in ("vireo", "qemu-microvm", "qemu-q35")):
        # nothing native to compare with (exit costs): the values themselves,
        # for the rows that share the first measured row's unit
        rows = [r for r in g.get("rows", []) if any(r["stats"].values())]
        rows = [r for r in rows if r["unit"] == rows[0]["unit"]] if rows else []
        cols = [c for c in g.get("columns", COLUMNS) if any(r["stats"].get(c) for r in rows)]
        key, absolute = "stats", True
    if not rows:
        return None
    h = 0.8 / len(cols)
    fig, ax = plt.subplots(figsize=(9, 0.9 + 0.42 * len(rows) * len(cols) / 2 + 0.6))
    for j, c in enumerate(cols):
        ys, xs, lo, hi = [], [], [], []
        for i, r in enumerate(rows):
            s = r[key].get(c)
            if not s:
                continue
            ys.append(i + (j - (len(cols) - 1) / 2) * h)
            xs.append(s["median"])
            lo.append(s["median"] - s["min"])
            hi.append(s["max"] - s["median"])
        ax.barh(ys, xs, height=h, color=COLOR.get(c),
                label=LABEL.get(c, c) + ("" if xs else " (n/a)"),
                xerr=[lo, hi], error_kw={"elinewidth": 0.8, "capsize": 2})
    ax.set_yticks(range(len(rows)))
    ax.invert_yaxis()
    if absolute:
        ax.set_yticklabels([r["name"] for r in rows], fontsize=8)
        ax.set_xlabel(f"{rows[0]['unit']} ({rows[0].get('better', 'higher')} is better; "
                      "bars: median, whiskers: min-max over rounds)", fontsize=8)
    else:
        ax.axvline(1.0, color="black", linewidth=1)
        ax.set_yticklabels([f"{r['name']} ({r['unit']})" for r in rows], fontsize=8)
        meds = [s["median"] for r in rows for s in r[key].values() if s]
        if meds and max(meds) / max(min(meds), 1e-9) > 20:
            ax.set_xscale("log")    # a VM's start next to a process's spans decades
        ax.set_xlabel("performance relative to native (1 = native; higher is better; "
                      f"{'log scale; ' if ax.get_xscale() == 'log' else ''}"
                      "bars: median, whiskers: min-max over rounds)", fontsize=8)
    ax.set_title(g["title"])
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    name = f"chart-{g['group']}.png"
    fig.savefig(os.path.join(out, name), dpi=110)
    plt.close(fig)
    return name


def furthest(groups, col="vireo", n=3):
    """The n rows where col is furthest below native."""
    rows = [(r["vs_native"][col]["median"], g["title"], r) for g in groups
            for r in g.get("rows", []) if r.get("vs_native", {}).get(col)]
    return sorted(rows, key=lambda t: t[0])[:n]


def geomean(xs):
    xs = [x for x in xs if x > 0]
    return math.exp(sum(map(math.log, xs)) / len(xs)) if xs else None


def summary_md(groups):
    """Per group, the geometric mean over its rows of each column's
    median relative-to-native figure."""
    lines = ["| group | " + " | ".join(LABEL[c] for c in COLUMNS[1:]) + " |",
             "|---|" + "---|" * (len(COLUMNS) - 1)]
    for g in groups:
        if g.get("failed"):
            lines.append(f"| {g['title']} | " + " | ".join("n/a" for _ in COLUMNS[1:]) + " |")
            continue
        cells = []
        for c in COLUMNS[1:]:
            xs = [r["vs_native"][c]["median"] for r in g["rows"] if r["vs_native"].get(c)]
            gm = geomean(xs)
            cells.append(f"{gm:.2f} ({len(xs)} rows)" if gm else "n/a")
        lines.append(f"| {g['title']} | " + " | ".join(cells) + " |")
    return lines


def classic_md(groups):
    """The classic container-vs-VM table's rows that this report measures:
    the old verdicts beside the medians (min-max) of the rows behind them."""
    by = {g["group"]: g for g in groups}
    cols = ["container", "vireo", "qemu-q35"]
    lines = ["| row | old verdict: container | old verdict: VM | measured | "
             + " | ".join(LABEL[c] for c in cols) + " |",
             "|---|---|---|---|" + "---|" * len(cols)]
    for what, cont, vm, group, names in CLASSIC:
        g = by.get(group)
        if not g or g.get("failed"):
            why = g["failed"] if g else "not run"
            lines.append(f"| {what} | {cont} | {vm} | n/a: {why} |" + " |" * len(cols))
            continue
        for name in names:
            row = next((r for r in g["rows"] if r["name"] == name), None)
            if not row:
                continue
            lines.append(f"| {what} | {cont} | {vm} | {name} ({row['unit']}) | "
                         + " | ".join(cell(row, c) for c in cols) + " |")
    return lines


def write_report(out, groups, meta):
    charts = {id(g): chart(g, out) for g in groups}
    md = [f"# vireo comparison report ({meta['stamp']})", "",
          "Native vs a container vs vireo vs QEMU, the same work in each column, "
          f"produced by `{meta['command']}` on this host; nothing in it is typed in by hand.", "",
          "Host: " + ", ".join(f"{k} {v}" for k, v in meta["host"].items()) + ".", "",
          f"Each figure is the median of the rounds with min and max (rounds: {meta['runs']}); "
          "ratios to native are taken within a round, then summarised the same way. "
          "A cell reading n/a gives the reason it could not be measured.", "",
          "## Summary", "",
          "Geometric mean, per group, of each column's median performance relative to native "
          "(1.00 = native; above 1 = better):", ""]
    md += summary_md(groups)
    worst = furthest(groups)
    if worst:
        md += ["", "Where vireo is furthest from native:", ""]
        md += [f"- {t}: {r['name']}: {v:.2f} of native" for v, t, r in worst]
    # a VM's boot next to a process's start dominates the list above
    work = furthest([g for g in groups if g["group"] != "start"])
    if work:
        md += ["", "The same, leaving out start and footprint:", ""]
        md += [f"- {t}: {r['name']}: {v:.2f} of native" for v, t, r in work]
    md += ["", "## The classic container-vs-VM table, measured", "",
           "The rows of the old table that this report's groups answer (median [min-max] of "
           "the rows named; the groups below give the method):", ""]
    md += classic_md(groups)
    md.append("")
    for g in groups:
        md += group_md(g, charts[id(g)])
    if meta.get("failures"):
        md += ["## Steps that failed", ""] + [f"- {k}: {v}" for k, v in meta["failures"].items()] + [""]
    with open(os.path.join(out, "report.md"), "w") as f:
        f.write("\n".join(md))
    results.write_json(out, "results.json", {"meta": meta, "groups": groups})
    return worst


def terminal_summary(out, groups, worst):
    print(f"\nvireo bench: {os.path.join(out, 'report.md')}")
    print("relative to native (geometric mean over each group's rows; 1.00 = native):")
    print(f"  {'group':34s}" + "".join(f"{LABEL[c]:>14s}" for c in COLUMNS[1:]))
    for g in groups:
        cells = []
        for c in COLUMNS[1:]:
            gm = geomean([r["vs_native"][c]["median"] for r in g.get("rows", [])
                          if r.get("vs_native", {}).get(c)])
            cells.append(f"{gm:14.2f}" if gm else f"{'n/a':>14s}")
        print(f"  {g['title'][:34]:34s}" + "".join(cells))
    for v, t, r in worst + furthest([g for g in groups if g["group"] != "start"]):
        print(f"  vireo furthest from native: {t}: {r['name']} at {v:.2f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5, help="rounds per figure (at least 5 for the report)")
    ap.add_argument("--quick", action="store_true", help="a short run to try things (not for committing)")
    ap.add_argument("--only", help="groups to run: " + ",".join(s[0] for s in STEPS))
    ap.add_argument("--out")
    ap.add_argument("--render", metavar="DIR", help="rewrite the report from DIR's JSON only")
    args = ap.parse_args()
    if args.runs < 1:
        ap.error("--runs must be at least 1")
    steps = STEPS
    if args.only:
        want = args.only.split(",")
        bad = [w for w in want if w not in [s[0] for s in STEPS]]
        if bad:
            ap.error(f"--only: unknown group {bad[0]!r}; known: {','.join(s[0] for s in STEPS)}")
        steps = [s for s in STEPS if s[0] in want]

    if args.render:
        out = args.render
        with open(os.path.join(out, "results.json")) as f:
            meta = json.load(f)["meta"]
    else:
        if os.geteuid() != 0:
            sys.exit("bench: run as root (namespaces, TAP devices, cgroups)")
        stamp, out = results.out_dir(args.out)
        meta = {"stamp": stamp, "runs": args.runs, "quick": args.quick,
                "command": "./scripts/bench.sh" + (" " + " ".join(sys.argv[1:]) if sys.argv[1:] else ""),
                "host": hostinfo.host_info("build/vireo"), "failures": {}, "seconds": {}}
        log(f"results go to {out}")
        for i, (name, script, files, extra, quick) in enumerate(steps, 1):
            t0 = time.perf_counter()
            why = run_step(i, len(steps), name, script, out, args.runs,
                           extra if not args.quick else quick)
            meta["seconds"][name] = round(time.perf_counter() - t0)
            if why:
                meta["failures"][name] = why
        meta["steps"] = [s[0] for s in steps]
    if args.render:
        steps = [s for s in STEPS if s[0] in meta.get("steps", [s[0] for s in STEPS])]
    groups = analyse(load_groups(out, steps, meta.get("failures", {})))
    worst = write_report(out, groups, meta)
    terminal_summary(out, groups, worst)


if __name__ == "__main__":
    main()
