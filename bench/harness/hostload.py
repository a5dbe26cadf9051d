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


class HostLoad:
    """Others' CPU time as the whole host's busy time less this process's
    and its reaped children's (blk.py, cpumem.py): what ran outside the
    measured processes (other users of the host, and kernel threads)."""

    @staticmethod
    def snapshot():
        """(host busy CPU seconds, CPU seconds of this process and its reaped
        children)."""
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        # user nice system irq softirq
        busy = (v[0] + v[1] + v[2] + v[5] + v[6]) / os.sysconf("SC_CLK_TCK")
        ours = sum(getattr(resource.getrusage(w), f) for w in (resource.RUSAGE_SELF,
                   resource.RUSAGE_CHILDREN) for f in ("ru_utime", "ru_stime"))
        return busy, ours

    def others(self, before):
        """CPU seconds that others used since the snapshot before."""
        b1, o1 = self.snapshot()
        return max(0.0, (b1 - before[0]) - (o1 - before[1]))


class ProcLoad:
    """Others' CPU time summed per process from /proc (net.py). Network
    processing runs partly in softirq context, which the kernel charges to
    no process, so HostLoad would count the benchmark's own packets as
    someone else's load. Instead the CPU time of every other user-space
    process is summed: utime+stime, plus cutime+cstime, which takes in the
    children they reaped during the turn (short-lived ones such as compilers
    included). A process that was there at the start and is gone at the end
    was reaped by someone, whose cutime now holds all of its time: what it
    had used before is taken off again. Kernel threads are left out, and so
    are the processes in ours and their children: inside a container the
    measured netpeer is forked by the util-linux unshare the benchmark
    started. ours: a set of pids that the caller keeps up to date."""

    def __init__(self, ours):
        self.ours = ours

    def snapshot(self):
        """{pid: CPU ticks used by it and the children it reaped} for every
        user-space process not in ours and not a child of one."""
        res = {}
        for d in os.listdir("/proc"):
            if not d.isdigit() or int(d) in self.ours:
                continue
            try:
                with open(f"/proc/{d}/stat") as f:
                    s = f.read()
            except OSError:
                continue
            v = s[s.rindex(")") + 2:].split()
            if int(v[6]) & 0x00200000 or int(v[1]) in self.ours:    # PF_KTHREAD, or ours
                continue
            res[int(d)] = sum(int(x) for x in v[11:15])
        return res

    def others(self, before):
        """CPU seconds that others used since the snapshot before."""
        after = self.snapshot()
        ticks = sum(t - before.get(pid, 0) for pid, t in after.items())
        ticks -= sum(t for pid, t in before.items() if pid not in after)
        return max(0, ticks) / os.sysconf("SC_CLK_TCK")


def wait_quiet(limit_s, load=None):
    """Waits (up to limit_s) until others are about idle, as load (default
    HostLoad()) counts them. Returns the seconds waited."""
    load = load or HostLoad()
    t0 = time.perf_counter()
    while True:
        a = load.snapshot()
        time.sleep(0.3)
        if load.others(a) < 0.3 * OTHER_MAX or time.perf_counter() - t0 > limit_s:
            return time.perf_counter() - t0
        time.sleep(0.7)
