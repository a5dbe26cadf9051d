"""tools/netpeer, the host end of the network tests (and a guest's stand-in in
bench/net.py): started inside a namespace, waited for until it listens, its
`NETPEER <mode> key=value ...` line read, stopped by its pid. Not the
namespaces it runs in (netns.py, container.py) nor what its figures mean."""
import os
import re
import select
import signal
import subprocess
import time

from harness.pin import on_cpu
from harness.vmm import parse_kv

NETPEER = "build/tools/netpeer/netpeer"


class Netpeer:
    """`netpeer MODE ARGS...` run by ns.cmd(argv) (a netns.Netns, or anything
    with cmd), on cpu (None: any). Server modes (echo, sink) are waited for
    until they listen (10 s, else RuntimeError). started(p): told of the
    process, for a caller that keeps a list of its own. If ns has
    targets(pid), a signal meant for netpeer goes to the pids it returns:
    inside a container the process started is not netpeer itself."""

    def __init__(self, ns, argv, cpu=None, netpeer=NETPEER, started=None):
        self.mode = argv[0]
        self.targets = getattr(ns, "targets", lambda pid: [pid])
        self.p = subprocess.Popen(
            ns.cmd([netpeer] + [str(a) for a in argv]), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            preexec_fn=on_cpu(cpu))
        if started:
            started(self.p)
        self.err = ""
        if self.mode in ("echo", "sink"):
            end = time.monotonic() + 10
            while time.monotonic() < end:
                if not select.select([self.p.stderr], [], [], end - time.monotonic())[0]:
                    break
                line = self.p.stderr.readline()
                self.err += line
                if not line or "ready on" in line:
                    break
            if "ready on" not in self.err:
                self.stop()
                raise RuntimeError(f"netpeer {self.mode} did not start: {self.err.strip()!r}")

    def result(self, timeout):
        """Waits (up to timeout s, then SIGTERM: it still reports) for the
        result line; returns its key=value pairs."""
        try:
            out, err = self.p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            out, err = self.stop()
        self.err += err or ""
        m = re.search(rf"^NETPEER {self.mode} (.*)$", out or "", re.M)
        if not m:
            raise RuntimeError(f"netpeer {self.mode}: status {self.p.returncode}, no result "
                               f"line: {self.err.strip()[-200:]!r}")
        return parse_kv(m.group(1))

    def stop(self):
        """Ends it (by its pid: SIGTERM, then SIGKILL) and returns (stdout, stderr)."""
        if self.p.poll() is None:
            for pid in self.targets(self.p.pid):
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        try:
            return self.p.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            self.p.kill()
            return self.p.communicate()
