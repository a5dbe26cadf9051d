"""Statistics over a benchmark's rounds: the median, min and max of what was
measured (rounds without a figure left out) and its "median [min-max]" text.
Not the ratios and goals a script derives from them (those stay in the script)."""
import math
import statistics


def summary(xs, count=False):
    """{"median", "min", "max"} of the numbers in xs (None, NaN and
    infinities left out), with "n" when count; None when there are none."""
    xs = [x for x in xs if isinstance(x, (int, float)) and math.isfinite(x)]
    if not xs:
        return None
    s = {"median": statistics.median(xs), "min": min(xs), "max": max(xs)}
    if count:
        s["n"] = len(xs)
    return s


def median_range(s, d, none="-"):
    """A summary as "median [min-max]" with d decimals, or none without one."""
    if not s:
        return none
    return f"{s['median']:.{d}f} [{s['min']:.{d}f}-{s['max']:.{d}f}]"
