"""Thread placement for the benchmarks: which CPUs there are to pin to, a VMM
started on one CPU, its threads found by name in /proc and moved to others, and
a thread's CPU time. Not which thread goes where: each script's plan says that."""
import os
import time


def pin_plan():
    """The CPUs this process may run on, sorted, or None with fewer than two
    (nothing to keep apart). Scripts put a VMM's own threads on [0] and its
    polling vCPU on [1]; all-CPU runs put vCPU i on [i % len]."""
    cpus = sorted(os.sched_getaffinity(0))
    return cpus if len(cpus) >= 2 else None


def on_cpu(cpu):
    """A preexec_fn that starts the child on cpu (the threads it makes
    inherit that), or None for cpu None."""
    if cpu is None:
        return None
    return lambda: os.sched_setaffinity(0, {cpu})


def _threads(pid):
    """(tid, comm) of pid's threads; raises FileNotFoundError once pid is gone."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                yield int(tid), f.read().strip()
        except (FileNotFoundError, ProcessLookupError):
            continue    # that thread has just ended (ESRCH while it exits)


def pin_threads(pid, want, deadline):
    """want: thread name -> CPU. Moves each thread of pid to its CPU as soon
    as it exists; True when all were found before deadline (perf_counter)."""
    left = dict(want)
    while left and time.perf_counter() < deadline:
        try:
            for tid, name in _threads(pid):
                if name in left:
                    os.sched_setaffinity(tid, {left.pop(name)})
        except (FileNotFoundError, ProcessLookupError):
            return False
        time.sleep(0.0005)
    return not left


def thread_ticks(pid, name):
    """(tid, CPU ticks used) of pid's thread called name, or None."""
    try:
        for tid, comm in _threads(pid):
            if comm != name:
                continue
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                v = f.read()
            v = v[v.rindex(")") + 2:].split()
            return tid, int(v[11]) + int(v[12])
    except OSError:
        pass
    return None
