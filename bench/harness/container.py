"""The benchmarks' "container" column: the host's own binaries run by util-linux
unshare in fresh user, pid and mount namespaces, in a network namespace joined to
the host by a veth pair, under cgroup CPU and memory limits (what LXC or Docker
give a process). Not an image or a runtime: the host's files, so native's work."""
import itertools
import os
import shlex
import subprocess
import sys
import time

CGROOT = "/sys/fs/cgroup"
PERIOD_US = 100000
_seq = itertools.count()


def _sh(*argv):
    p = subprocess.run(argv, capture_output=True, text=True)
    if p.returncode:
        raise RuntimeError(f"container: {' '.join(argv)}: {p.stderr.strip() or p.returncode}")


def descendants(pid):
    """Every process below pid (from /proc's parent links): under a
    container command's process (unshare), the workload and its children."""
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    v = f.read()
                kids.setdefault(int(v[v.rindex(")") + 2:].split()[1]), []).append(int(d))
            except (OSError, ValueError, IndexError):
                pass
    out, todo = [], [pid]
    while todo:
        for k in kids.get(todo.pop(), []):
            out.append(k)
            todo.append(k)
    return out


def cgroup_version():
    """2 with a unified hierarchy that has the controllers, else 1."""
    return 2 if os.path.exists(os.path.join(CGROOT, "cgroup.controllers")) else 1


class Container:
    """Needs root. The netns, the veth and the cgroup are made once in
    __enter__ and removed in __exit__; every c.cmd() run gets new user, pid
    and mount namespaces, so it also costs what starting a container costs
    (see Container.cmd):

        with Container("cpu", cpus=2, mem_bytes=4 << 30) as c:
            subprocess.run(c.cmd(["build/hostbench", ...]))
    """

    def __init__(self, name, cpus=None, mem_bytes=4 << 30, net=True):
        self.name = name
        self.cpus = cpus or os.cpu_count()
        self.mem_bytes = mem_bytes
        self.net = net
        n = next(_seq)
        self.seq = n
        tag = f"{os.getpid() % 10000}{n}"
        self.netns = f"vireo-bench-{name}-{tag}" if net else None
        self.host_if, self.cont_if = f"vbh{tag}"[:15], f"vbc{tag}"[:15]
        octet = (os.getpid() + n) % 200 + 20
        self.prefix = f"10.231.{octet}"
        self.host_ip, self.ip = f"{self.prefix}.1", f"{self.prefix}.2"
        self.cgroups = []       # the cgroup directories made, to join and remove

    # --- set-up and tear-down ---
    def __enter__(self):
        try:
            self._make_cgroup()
            if self.net:
                self._make_net()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        if self.netns:
            subprocess.run(["ip", "netns", "del", self.netns], capture_output=True)
        for d in reversed(self.cgroups):
            # a command just killed may still be exiting: rmdir fails with
            # EBUSY until its cgroup.procs is empty
            deadline = time.monotonic() + 5
            while True:
                try:
                    os.rmdir(d)
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        print(f"container: {d} left behind (still busy)", file=sys.stderr)
                        break
                    time.sleep(0.01)
        self.cgroups = []
        return False

    def _make_cgroup(self):
        leaf = f"vireo-bench-{self.name}-{os.getpid()}-{self.seq}"
        quota = int(self.cpus * PERIOD_US)
        if cgroup_version() == 2:
            d = os.path.join(CGROOT, leaf)
            try:
                with open(os.path.join(CGROOT, "cgroup.subtree_control"), "w") as f:
                    f.write("+cpu +memory")
            except OSError:
                pass    # already on, or delegated elsewhere; the writes below say
            os.mkdir(d)
            self.cgroups.append(d)
            self._write(d, "cpu.max", f"{quota} {PERIOD_US}")
            self._write(d, "memory.max", str(self.mem_bytes))
            return
        for ctl, files in (("cpu", {"cpu.cfs_period_us": str(PERIOD_US),
                                    "cpu.cfs_quota_us": str(quota)}),
                           ("memory", {"memory.limit_in_bytes": str(self.mem_bytes)})):
            d = os.path.join(CGROOT, ctl, leaf)
            os.mkdir(d)
            self.cgroups.append(d)
            for k, v in files.items():
                self._write(d, k, v)

    @staticmethod
    def _write(d, name, value):
        try:
            with open(os.path.join(d, name), "w") as f:
                f.write(value)
        except OSError as e:
            raise RuntimeError(f"container: cannot set {name} in {d}: {e.strerror}")

    def _make_net(self):
        _sh("ip", "netns", "add", self.netns)
        _sh("ip", "link", "add", self.host_if, "type", "veth", "peer", "name", self.cont_if)
        _sh("ip", "link", "set", self.cont_if, "netns", self.netns)
        _sh("ip", "addr", "add", f"{self.host_ip}/24", "dev", self.host_if)
        _sh("ip", "link", "set", self.host_if, "up")
        inside = ["ip", "netns", "exec", self.netns]
        _sh(*inside, "ip", "addr", "add", f"{self.ip}/24", "dev", self.cont_if)
        _sh(*inside, "ip", "link", "set", self.cont_if, "up")
        _sh(*inside, "ip", "link", "set", "lo", "up")

    # --- running things inside ---
    def cmd(self, argv):
        """argv wrapped to run inside: it joins the cgroup(s), then the netns,
        then unshares new user (root mapped), pid and mount namespaces with
        its own /proc. Killing the returned command's process kills argv too
        (unshare --kill-child)."""
        join = " ".join(f"echo $$ > {shlex.quote(os.path.join(d, 'cgroup.procs'))};"
                        for d in self.cgroups)
        inner = ["unshare", "--user", "--map-root-user", "--pid", "--mount", "--fork",
                 "--mount-proc", "--kill-child"]
        if self.netns:
            inner = ["ip", "netns", "exec", self.netns] + inner
        script = f'{join} exec {" ".join(shlex.quote(a) for a in inner)} -- "$@"'
        return ["sh", "-c", script, "container"] + list(argv)

    def describe(self):
        v = cgroup_version()
        lim = (f"cgroup v{v} limits of {self.cpus:g} CPU(s) "
               f"({'cpu.max' if v == 2 else 'cfs quota'}) and {self.mem_bytes >> 20} MiB")
        net = (f", in its own network namespace joined to the host by a veth pair "
               f"({self.host_ip} host side, {self.ip} inside)" if self.net else "")
        return ("The container is the host binary run by util-linux unshare in new user "
                f"(root mapped), pid and mount namespaces{net}, under {lim}; no image, "
                "the host's files.")


if __name__ == "__main__":
    # A smoke test: python3 bench/harness/container.py
    with Container("smoke") as c:
        out = subprocess.run(c.cmd(["sh", "-c", "echo pid=$$ uid=$(id -u); cat /proc/self/cgroup | head -3; ip -brief addr"]),
                             capture_output=True, text=True)
        print(out.stdout, out.stderr, c.describe(), sep="\n")
