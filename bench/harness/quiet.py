"""The quiet-window check of the hostile suites: while pvguest keeps still
after a hostile case (its option quiet=MS prints `PVGUEST QUIET <suite>
<case> ms=MS` and then touches no device for MS ms), none of the VMM's own
threads may work. A device left broken that spins its event loop (a TAP
frame nobody reads, an fd readable for ever) shows up here as a thread
on the CPU for most of the window.

The vCPU threads (named vcpuN) are left out: the guest keeps its CPU busy
in ring 3 through the window, by design. Times come from
/proc/PID/task/TID/schedstat (nanoseconds on the CPU), not from the
10 ms ticks of stat.

A window is judged only if the guest printed nothing after its QUIET line
by the time the second sample was taken: on a loaded host the watcher may
see the line late, and the guest's recovery that follows the window is
work the VMM must do. Such windows are counted as unmeasured."""
import os
import re
import threading
import time

QUIET_RE = re.compile(rb"^PVGUEST QUIET (\S+) (\S+) ms=(\d+)\r?$", re.M)
LIMIT = 0.10        # the share of one CPU a thread may use in a window (a spin takes 30-100%)


def thread_times(pid):
    """{tid: (name, ns on the CPU)} of pid's threads other than vCPUs."""
    out = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                name = f.read().strip()
            if name.startswith("vcpu"):
                continue
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                out[tid] = (name, int(f.read().split()[0]))
        except (OSError, ValueError, IndexError):
            continue
    return out


class QuietWatch(threading.Thread):
    """Follows the guest's output while the VMM pid runs, from out_path (a
    file the VMM writes) or, without it, from the lines the caller hands to
    feed(); for each QUIET line, calls during(ms) if given (to send the
    host-side traffic the window must survive, for up to ms) and measures
    the VMM's threads over half the window."""

    def __init__(self, pid, out_path=None, during=None):
        super().__init__(daemon=True)
        self.pid = pid
        self.out_path = out_path
        self.during = during
        self.stop_event = threading.Event()
        self.windows = []       # (suite, case, measured, worst share, worst thread)
        self.fed = 0            # lines handed to feed()
        self.queue = []
        self.cond = threading.Condition()

    def feed(self, line):
        """One line of the guest's output (the caller reads it)."""
        with self.cond:
            self.fed += 1
            m = QUIET_RE.match(line.rstrip("\r\n").encode(errors="replace"))
            if m:
                self.queue.append((m, self.fed))
                self.cond.notify()

    def stop(self):
        self.stop_event.set()
        self.join(5)

    def _size(self):
        try:
            return os.path.getsize(self.out_path)
        except OSError:
            return 0

    def run(self):
        if self.out_path:
            self._follow_file()
            return
        while not self.stop_event.is_set():
            with self.cond:
                if not self.queue:
                    self.cond.wait(0.05)
                    continue
                m, index = self.queue.pop(0)
            self._measure(m, lambda: self.fed == index)

    def _follow_file(self):
        base = 0        # the file offset of buf[0]
        buf = b""
        while not self.stop_event.is_set():
            try:
                with open(self.out_path, "rb") as f:
                    f.seek(base + len(buf))
                    chunk = f.read()
            except OSError:
                chunk = b""
            if not chunk:
                time.sleep(0.005)
                continue
            buf += chunk
            # whole lines only; the rest waits for the next read
            cut = buf.rfind(b"\n") + 1
            lines, start = buf[:cut], base
            base += cut
            buf = buf[cut:]
            for m in QUIET_RE.finditer(lines):
                line_end = start + m.end() + 1
                self._measure(m, lambda: self._size() <= line_end)

    def _measure(self, m, still):
        """still(): has the guest printed nothing since the QUIET line?"""
        suite, case, ms = m.group(1).decode(), m.group(2).decode(), int(m.group(3))
        if not still():     # seen late: its window is over
            self.windows.append((suite, case, False, 0.0, ""))
            return
        span = ms / 2000.0
        t0, before = time.monotonic(), thread_times(self.pid)
        if self.during:
            self.during(ms / 2)
        time.sleep(max(0.0, span - (time.monotonic() - t0)))
        t1, after = time.monotonic(), thread_times(self.pid)
        measured = still()
        worst, who = 0.0, "none"
        for tid, (name, ns) in after.items():
            if tid in before:
                share = (ns - before[tid][1]) / 1e9 / max(t1 - t0, 1e-3)
                if share > worst:
                    worst, who = share, f"{name} (tid {tid})"
        self.windows.append((suite, case, measured, worst, who))

    def problems(self, limit=LIMIT):
        return [f"{suite} {case}: thread {who} was on the CPU {worst:.0%} of a quiet window"
                for suite, case, measured, worst, who in self.windows
                if measured and worst > limit]

    def summary(self):
        measured = [w for w in self.windows if w[2]]
        worst = max(measured, key=lambda w: w[3], default=None)
        text = (f"quiet windows: {len(self.windows)}, measured {len(measured)}, "
                f"unmeasured {len(self.windows) - len(measured)}")
        if worst:
            text += f"; busiest VMM thread {worst[3]:.1%} ({worst[4]}, {worst[1]})"
        return text
