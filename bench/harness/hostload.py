"""Other load on the host during a benchmark turn: the development machine is
shared, so a turn waits for the host to be about idle and measures what ran
outside the measured processes while it ran. Not the rule for a disturbed turn
(run again or keep): each script decides that from what this measures."""
import os
import resource
import time

# A turn during which processes outside the benchmark used more than this
# share of a CPU is run again.
OTHER_MAX = 0.15


def cpu_snapshot():
    """(host busy CPU seconds, CPU seconds of this process and its reaped
    children): their difference over a turn is what ran outside the
    measured processes (other users of the host, and kernel threads)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    busy = (v[0] + v[1] + v[2] + v[5] + v[6]) / os.sysconf("SC_CLK_TCK")  # user nice system irq softirq
    ours = sum(getattr(resource.getrusage(w), f) for w in (resource.RUSAGE_SELF,
               resource.RUSAGE_CHILDREN) for f in ("ru_utime", "ru_stime"))
    return busy, ours


def wait_quiet(limit_s):
    """Waits (up to limit_s) until the host is about idle. Returns the
    seconds waited."""
    t0 = time.perf_counter()
    while True:
        b0, o0 = cpu_snapshot()
        time.sleep(0.3)
        b1, o1 = cpu_snapshot()
        if (b1 - b0) - (o1 - o0) < 0.3 * OTHER_MAX or time.perf_counter() - t0 > limit_s:
            return time.perf_counter() - t0
        time.sleep(0.7)
