#!/usr/bin/env python3
"""vireo-jailer, as root, in temp dirs only: every bad argument refused with
one line naming it and nothing built; failures part way (a chroot that
exists, a cgroup that cannot be joined, an rlimit too high) leave nothing
behind; and inside the jail, through jail_probe.c (a static stand-in for
vireo built here with gcc -static): the user and that root cannot be
regained, the one mount, the device nodes, the rlimits, no host file, no
inherited fd or environment, the PID namespace, cgroup v1 and v2
membership, the netns (one made here with `ip netns add`), --daemonize.
Last, the static vireo under the jailer boots pvguest through its API.

Not run as root, or without gcc -static: SKIPPED (exit 77). Cgroups,
netns and temp dirs made here are removed on the way out.

usage: jailer.py JAILER PROBE_C [--vireo STATIC_VIREO --pvguest PVGUEST_ELF]"""
import argparse
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
from harness import fcapi, verdict  # noqa: E402

SKIP = 77
UID, GID = 40123, 40124
TAG = f"vireo-jailer-test-{os.getpid()}"


class Ctx:
    def __init__(self, jailer, tmp, probe):
        self.jailer = jailer
        self.tmp = tmp
        self.probe = probe
        self.n = 0
        self.cgroup_dirs = []     # removed at the end, deepest first
        self.netns = []

    def base(self):
        self.n += 1
        return os.path.join(self.tmp, f"base{self.n}")

    def args(self, base, jid, exe=None, uid=UID, gid=GID):
        return ["--id", jid, "--exec-file", exe or self.probe, "--uid", str(uid),
                "--gid", str(gid), "--chroot-base-dir", base]

    def run(self, args, **kw):
        return subprocess.run([self.jailer] + args, capture_output=True, text=True,
                              timeout=30, **kw)


def mounts():
    with open("/proc/mounts") as f:
        return [line.split() for line in f]


def v1_mount(ctl):
    for m in mounts():
        if m[2] == "cgroup" and ctl in m[3].split(","):
            return m[1]
    return None


def v2_mount():
    for m in mounts():
        if m[2] == "cgroup2":
            return m[1]
    return None


def parse_report(text):
    rep = {}
    for line in text.splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            rep[k] = v
    return rep


def read_report(stream):
    lines = []
    for line in iter(stream.readline, ""):
        lines.append(line)
        if line.strip() == "END":
            break
    return parse_report("".join(lines))


def jail_root(base, jid, exe="probe"):
    return os.path.join(base, exe, jid, "root")


def release(root):
    open(os.path.join(root, "release"), "w").close()


def held(ctx, jid, extra, inspect, after=(), **kw):
    """Runs the probe jailed with --hold; inspect(report, pid, root, jailer
    proc) returns problems while it is still alive, then it is released."""
    base = ctx.base()
    root = jail_root(base, jid)
    p = subprocess.Popen([ctx.jailer] + ctx.args(base, jid) + extra + ["--", "--hold"] +
                         list(after), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, **kw)
    problems = []
    try:
        rep = read_report(p.stdout)
        if "argc" not in rep:
            problems.append(f"no report; stderr {p.stderr.read().strip()!r}")
            return problems
        pid = p.pid
        if "--new-pid-ns" in extra:
            pid = wait_pid_file(root)
        problems += inspect(rep, pid, root, p)
    finally:
        if os.path.isdir(root):
            release(root)
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    return problems


def wait_pid_file(root, name="probe"):
    path = os.path.join(root, name + ".pid")
    for _ in range(500):
        try:
            with open(path) as f:
                return int(f.read())
        except (OSError, ValueError):
            time.sleep(0.01)
    return -1


def one_line_error(r, want):
    problems = []
    if r.returncode == 0:
        problems.append("exit status 0")
    lines = r.stderr.strip().splitlines()
    if len(lines) != 1:
        problems.append(f"stderr is {len(lines)} lines: {r.stderr!r}")
    for w in want:
        if w not in r.stderr:
            problems.append(f"stderr {r.stderr.strip()!r} lacks {w!r}")
    return problems


# --- bad arguments: refused, one line, nothing built ---------------------

def bad_args(ctx):
    tmp = ctx.tmp
    nonexec = os.path.join(tmp, "nonexec")
    shutil.copy(ctx.probe, nonexec)
    os.chmod(nonexec, 0o644)
    script = os.path.join(tmp, "script")
    with open(script, "w") as f:
        f.write("#!/bin/sh\necho hi\n")
    os.chmod(script, 0o755)
    dynamic = os.path.join(tmp, "dynamic")
    shutil.copy("/bin/true", dynamic)

    def a(jid="t1", **kw):
        return ctx.args("BASE", jid, **kw)

    def without(args, flag):
        i = args.index(flag)
        return args[:i] + args[i + 2:]

    cases = [
        ("id-empty", a(""), ["--id", "1 to 64"]),
        ("id-too-long", a("a" * 65), ["--id", "1 to 64"]),
        ("id-64-ok-but-bad-char", a("a" * 63 + "_"), ["--id", "letters, digits"]),
        ("id-path", a("../x"), ["--id", "'../x'"]),
        ("id-missing", without(a(), "--id"), ["--id: missing"]),
        ("exec-missing", a(exe=os.path.join(tmp, "nothere")), ["--exec-file", "No such file"]),
        ("exec-directory", a(exe=tmp), ["--exec-file", "not a regular file"]),
        ("exec-not-executable", a(exe=nonexec), ["--exec-file", "not executable"]),
        ("exec-dynamic", a(exe=dynamic), ["--exec-file", "dynamically linked"]),
        ("exec-script", a(exe=script), ["--exec-file", "not an ELF"]),
        ("uid-not-number", a(uid="abc"), ["--uid", "'abc'"]),
        ("uid-negative", a(uid="-1"), ["--uid", "'-1'"]),
        ("gid-too-big", a(gid="4294967295"), ["--gid", "4294967295"]),
        ("gid-missing", without(a(), "--gid"), ["--gid: missing"]),
        ("cgroup-dotdot", a() + ["--cgroup", "../pids.max=1"], ["--cgroup", "'/' nor '..'"]),
        ("cgroup-slash", a() + ["--cgroup", "pids/x.max=1"], ["--cgroup", "'/' nor '..'"]),
        ("cgroup-no-value", a() + ["--cgroup", "pids.max"], ["--cgroup", "FILE=VALUE"]),
        ("cgroup-version-3", a() + ["--cgroup-version", "3"], ["--cgroup-version", "'3'"]),
        ("parent-cgroup-dotdot", a() + ["--parent-cgroup", "a/../b"], ["--parent-cgroup"]),
        ("limit-unknown", a() + ["--resource-limit", "cpu=1"], ["--resource-limit", "cpu=1"]),
        ("limit-not-number", a() + ["--resource-limit", "no-file=lots"],
         ["--resource-limit", "no-file=lots"]),
        ("netns-missing", a() + ["--netns", os.path.join(tmp, "no-netns")],
         ["--netns", "No such file"]),
        ("netns-not-a-namespace", a() + ["--netns", script], ["--netns", "not a namespace"]),
        ("netns-not-net", a() + ["--netns", "/proc/self/ns/mnt"],
         ["--netns", "not a network namespace"]),
        ("base-relative", a() + ["--chroot-base-dir", "rel/dir"], ["--chroot-base-dir"]),
        ("flag-unknown", a() + ["--bogus"], ["'--bogus'", "unknown flag"]),
        ("flag-twice", a() + ["--uid", "5"], ["--uid", "twice"]),
    ]
    fails = 0
    for name, args, want in cases:
        base = ctx.base()
        args = [base if x == "BASE" else x for x in args]
        r = ctx.run(args)
        problems = one_line_error(r, want)
        if os.path.exists(base):
            problems.append(f"{base} was created")
        fails += verdict.case(f"refused: {name}", problems)
    return len(cases), fails


# --- failures part way: nothing left behind -------------------------------

def leftovers(base, jid, cg_dirs=()):
    left = [p for p in [os.path.join(base, "probe", jid)] + list(cg_dirs) if os.path.exists(p)]
    return [f"left behind: {p}" for p in left]


def case_chroot_exists(ctx):
    base = ctx.base()
    root = jail_root(base, "exists")
    os.makedirs(root)
    marker = os.path.join(root, "marker")
    open(marker, "w").close()
    r = ctx.run(ctx.args(base, "exists"))
    problems = one_line_error(r, ["chroot", "already exists", root])
    if sorted(os.listdir(root)) != ["marker"]:
        problems.append(f"the existing root was changed: {os.listdir(root)}")
    return problems


def case_cgroup_file_missing(ctx):
    mnt = v1_mount("pids")
    if not mnt:
        return None
    base, jid = ctx.base(), "cgmissing"
    parent = TAG + "-missing"
    cg = os.path.join(mnt, parent)
    ctx.cgroup_dirs += [cg]
    r = ctx.run(ctx.args(base, jid) + ["--cgroup", "pids.nonexistent=1", "--parent-cgroup",
                                       parent])
    return one_line_error(r, ["cgroups", "--cgroup pids.nonexistent=1",
                              "No such file"]) + leftovers(base, jid, [cg])


def case_cgroup_unmounted(ctx):
    ctl = next(c for c in ("hugetlb", "rdma", "nosuchctl") if not v1_mount(c))
    base, jid = ctx.base(), "cgunmounted"
    r = ctx.run(ctx.args(base, jid) + ["--cgroup", f"{ctl}.max=1"])
    return one_line_error(r, ["cgroups", f"'{ctl}' is not mounted"]) + leftovers(base, jid)


def case_cgroup_v2_not_offered(ctx):
    mnt = v2_mount()
    if not mnt or not v1_mount("pids"):
        return None
    with open(os.path.join(mnt, "cgroup.controllers")) as f:
        if "pids" in f.read().split():
            return None
    base, jid = ctx.base(), "cgv2pids"
    parent = TAG + "-v2pids"
    cg = os.path.join(mnt, parent)
    ctx.cgroup_dirs += [cg]
    r = ctx.run(ctx.args(base, jid) + ["--cgroup-version", "2", "--cgroup", "pids.max=5",
                                       "--parent-cgroup", parent])
    return one_line_error(r, ["cgroups", "'pids' is not offered by cgroup v2"]) + \
        leftovers(base, jid, [cg])


def case_after_join(ctx):
    """A failure once the process is in its new cgroup (no /dev/kvm: a file
    bound over it in a private mount namespace of `unshare -m`): it moves
    back out, so the group and the jail both go."""
    mnt = v1_mount("pids")
    if not mnt or not shutil.which("unshare"):
        return None
    base, jid = ctx.base(), "afterjoin"
    parent = TAG + "-afterjoin"
    cg = os.path.join(mnt, parent)
    ctx.cgroup_dirs += [cg, os.path.join(cg, jid)]
    plain = os.path.join(ctx.tmp, "not-kvm")
    open(plain, "w").close()
    cmd = " ".join(["mount --bind", plain, "/dev/kvm", "&& exec", ctx.jailer] +
                   ctx.args(base, jid) + ["--cgroup", "pids.max=7", "--parent-cgroup", parent])
    r = subprocess.run(["unshare", "-m", "sh", "-c", cmd], capture_output=True, text=True,
                       timeout=30)
    return one_line_error(r, ["devices", "/dev/kvm"]) + leftovers(base, jid, [
        os.path.join(cg, jid)])


def case_rlimit_too_high(ctx):
    base, jid = ctx.base(), "rlhigh"
    with open("/proc/sys/fs/nr_open") as f:
        too_many = int(f.read()) + 1
    r = ctx.run(ctx.args(base, jid) + ["--resource-limit", f"no-file={too_many}"])
    return one_line_error(r, ["rlimits", f"no-file={too_many}"]) + leftovers(base, jid)


# --- inside the jail ------------------------------------------------------

def host_dev(path):
    try:
        st = os.stat(path)
    except OSError:
        return None
    return f"chr:{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}:{UID}:{GID}:600"


def inside_default(ctx):
    """One held run, many checks: returns {case: problems}."""
    out = {}
    r_fd, w_fd = os.pipe()
    jid = "inside"

    def inspect(rep, pid, root, p):
        out["user: uid/gid and no groups"] = (
            [] if rep.get("ids") == f"{UID}:{UID}:{GID}:{GID}" and rep.get("groups") == "0"
            else [f"ids {rep.get('ids')} groups {rep.get('groups')}"])
        out["user: root cannot be regained"] = [
            f"{k} {rep.get(k)}" for k in ("setuid0", "seteuid0", "setgid0")
            if rep.get(k) != "Operation not permitted"]
        with open(f"/proc/{pid}/mountinfo") as f:
            mi = [line.split() for line in f]
        out["mounts: only the jail's root"] = (
            [] if len(mi) == 1 and mi[0][4] == "/" and mi[0][3].endswith(root)
            else [f"mountinfo {mi}"])
        probs = []
        for key, path in (("kvm", "/dev/kvm"), ("tun", "/dev/net/tun"),
                          ("uffd", "/dev/userfaultfd")):
            want = host_dev(path)
            got = rep.get(key, "")
            if want and got != want:
                probs.append(f"{key}: {got}, want {want}")
            if not want and not got.startswith("absent"):
                probs.append(f"{key}: {got}, but the host has none")
        out["devices: kvm, net/tun, userfaultfd with the host's numbers, the user's"] = probs
        out["rlimits: no-file 2048 by default"] = (
            [] if rep.get("nofile") == "2048:2048" else [f"nofile {rep.get('nofile')}"])
        probs = [f"{k}: {rep.get(k)}" for k in ("passwd", "escape", "proc")
                 if rep.get(k) != "No such file or directory"]
        if sorted(rep.get("ls", "").split(",")) != ["dev", "probe", "probe.pid"]:
            probs.append(f"/ holds {rep.get('ls')}")
        if rep.get("cwd_after_up") != "/":
            probs.append(f"cd ../.. reached {rep.get('cwd_after_up')}")
        out["no host files: /etc/passwd, ../.. escapes, /proc"] = probs
        out["fds: only 0, 1, 2 (an inherited one closed)"] = (
            [] if rep.get("fds") == "0,1,2" else [f"fds {rep.get('fds')}"])
        out["environment cleared"] = [] if rep.get("env") == "0" else [f"env {rep.get('env')}"]
        argv = [rep.get(f"argv{i}") for i in range(int(rep.get("argc", "0")))]
        ok = (len(argv) == 10 and argv[:3] == ["probe", "--id", jid] and
              argv[3] == "--start-time-us" and argv[4].isdigit() and
              argv[5] == "--start-time-cpu-us" and argv[6].isdigit() and
              argv[7:] == ["--hold", "--after", "x y"])
        out["exec: --id, --start-time-us, --start-time-cpu-us, then the args after --"] = (
            [] if ok else [f"argv {argv}"])
        probs = []
        st = os.stat(root)
        if (st.st_uid, st.st_gid) != (UID, GID):
            probs.append(f"root owned by {st.st_uid}:{st.st_gid}")
        exe = os.stat(os.path.join(root, "probe"))
        orig = os.stat(ctx.probe)
        if exe.st_ino == orig.st_ino or exe.st_size != orig.st_size or exe.st_uid != 0 or \
                stat.S_IMODE(exe.st_mode) != 0o755:
            probs.append("the exec file is not a root-owned 0755 copy")
        if wait_pid_file(root) != pid:
            probs.append(f"probe.pid {wait_pid_file(root)}, want {pid}")
        out["chroot: owned by the user, a copy of the exec file, the pid file"] = probs
        return []

    env = dict(os.environ, VIREO_JAILER_TEST_SECRET="1")
    problems = held(ctx, jid, [], inspect, after=["--after", "x y"], pass_fds=(w_fd,),
                    env=env)
    os.close(r_fd)
    os.close(w_fd)
    if problems:
        out["the held run"] = problems
    return out


def case_rlimits(ctx):
    base, jid = ctx.base(), "rlimits"
    r = ctx.run(ctx.args(base, jid) + ["--resource-limit", "fsize=1048576",
                                       "--resource-limit", "no-file=100"])
    rep = parse_report(r.stdout)
    probs = [] if r.returncode == 0 else [f"exit {r.returncode}: {r.stderr.strip()}"]
    if rep.get("nofile") != "100:100" or rep.get("fsize") != "1048576:1048576":
        probs.append(f"nofile {rep.get('nofile')} fsize {rep.get('fsize')}")
    return probs


def case_pid_ns(ctx):
    def inspect(rep, pid, root, p):
        probs = [] if rep.get("pid") == "1" else [f"pid in the jail {rep.get('pid')}"]
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            probs.append("the jailer did not exit after the clone")
        if p.returncode != 0:
            probs.append(f"the jailer exited {p.returncode}")
        try:
            with open(f"/proc/{pid}/status") as f:
                nspid = [ln.split()[1:] for ln in f if ln.startswith("NSpid:")]
        except OSError as e:
            return probs + [f"pid file's {pid}: {e}"]
        if nspid != [[str(pid), "1"]]:
            probs.append(f"NSpid {nspid}, want {pid} 1")
        return probs
    return held(ctx, "pidns", ["--new-pid-ns"], inspect)


def cgroup_of(pid):
    with open(f"/proc/{pid}/cgroup") as f:
        return [ln.strip().split(":", 2) for ln in f]


def read_cg(path):
    with open(path) as f:
        return f.read().strip()


def case_cgroup_v1(ctx):
    if not (v1_mount("pids") and v1_mount("cpu")):
        return None
    jid, parent = "cgv1", TAG + "-v1/nested"
    for ctl in ("pids", "cpu"):
        ctx.cgroup_dirs += [os.path.join(v1_mount(ctl), TAG + "-v1"),
                            os.path.join(v1_mount(ctl), parent),
                            os.path.join(v1_mount(ctl), parent, jid)]

    def inspect(rep, pid, root, p):
        probs = []
        groups = {c[1]: c[2] for c in cgroup_of(pid)}
        for ctl, f, val in (("pids", "pids.max", "10"), ("cpu", "cpu.shares", "512")):
            if groups.get(ctl) != f"/{parent}/{jid}":
                probs.append(f"{ctl}: in {groups.get(ctl)}")
            got = read_cg(os.path.join(v1_mount(ctl), parent, jid, f))
            if got != val:
                probs.append(f"{f} {got}, want {val}")
        return probs
    return held(ctx, jid, ["--cgroup", "pids.max=10", "--cgroup", "cpu.shares=512",
                           "--parent-cgroup", parent], inspect)


def case_cgroup_cpuset(ctx):
    mnt = v1_mount("cpuset")
    if not mnt:
        return None
    jid, parent = "cgcpuset", TAG + "-cpuset"
    ctx.cgroup_dirs += [os.path.join(mnt, parent), os.path.join(mnt, parent, jid)]

    def inspect(rep, pid, root, p):
        groups = {c[1]: c[2] for c in cgroup_of(pid)}
        probs = [] if groups.get("cpuset") == f"/{parent}/{jid}" else [
            f"cpuset: in {groups.get('cpuset')}"]
        d = os.path.join(mnt, parent, jid)
        if read_cg(os.path.join(d, "cpuset.cpus")) != "0":
            probs.append(f"cpuset.cpus {read_cg(os.path.join(d, 'cpuset.cpus'))}")
        if read_cg(os.path.join(d, "cpuset.mems")) != read_cg(os.path.join(mnt, "cpuset.mems")):
            probs.append("cpuset.mems not inherited")
        return probs
    return held(ctx, jid, ["--cgroup", "cpuset.cpus=0", "--parent-cgroup", parent], inspect)


def case_cgroup_v2(ctx):
    mnt = v2_mount()
    if not mnt:
        return None
    jid, parent = "cgv2", TAG + "-v2"
    ctx.cgroup_dirs += [os.path.join(mnt, parent), os.path.join(mnt, parent, jid)]

    def inspect(rep, pid, root, p):
        groups = {c[0]: c[2] for c in cgroup_of(pid)}
        probs = [] if groups.get("0") == f"/{parent}/{jid}" else [f"v2: in {groups.get('0')}"]
        got = read_cg(os.path.join(mnt, parent, jid, "cgroup.max.descendants"))
        if got != "3":
            probs.append(f"cgroup.max.descendants {got}")
        return probs
    return held(ctx, jid, ["--cgroup-version", "2", "--cgroup", "cgroup.max.descendants=3",
                           "--parent-cgroup", parent], inspect)


def case_cgroup_v2_parent(ctx):
    mnt = v2_mount()
    if not mnt:
        return None
    parent = TAG + "-v2pre"
    os.mkdir(os.path.join(mnt, parent))
    ctx.cgroup_dirs += [os.path.join(mnt, parent)]

    def inspect(rep, pid, root, p):
        groups = {c[0]: c[2] for c in cgroup_of(pid)}
        return [] if groups.get("0") == f"/{parent}" else [f"v2: in {groups.get('0')}"]
    return held(ctx, "cgv2pre", ["--cgroup-version", "2", "--parent-cgroup", parent], inspect)


def case_netns(ctx):
    name = TAG + "-ns"
    r = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
    if r.returncode:
        return [f"ip netns add: {r.stderr.strip()}"]
    ctx.netns.append(name)
    path = f"/run/netns/{name}"

    def inspect(rep, pid, root, p):
        want = os.stat(path).st_ino
        got = os.stat(f"/proc/{pid}/ns/net").st_ino
        return [] if got == want else [f"netns inode {got}, want {want}"]
    return held(ctx, "netns", ["--netns", path], inspect)


def case_daemonize(ctx):
    base, jid = ctx.base(), "daemon"
    root = jail_root(base, jid)
    # a session of its own, as a shell's job: the jailer must fork to setsid
    p = subprocess.Popen([ctx.jailer] + ctx.args(base, jid) +
                         ["--daemonize", "--", "--hold", "--out", "/report"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    probs = []
    try:
        out, err = p.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        return ["the jailer did not return (not detached)"]
    if p.returncode != 0 or out or err:
        probs.append(f"jailer: exit {p.returncode}, out {out!r}, err {err!r}")
    pid = wait_pid_file(root)
    for _ in range(500):
        if os.path.exists(os.path.join(root, "report")):
            with open(os.path.join(root, "report")) as f:
                text = f.read()
            if "END" in text:
                break
        time.sleep(0.01)
    else:
        return probs + ["no report"]
    rep = parse_report(text)
    if pid <= 0 or pid == p.pid or not os.path.exists(f"/proc/{pid}"):
        probs.append(f"the daemon's pid {pid} (jailer {p.pid})")
    if rep.get("sid") != rep.get("pid") or rep.get("pid") != str(pid):
        probs.append(f"sid {rep.get('sid')} pid {rep.get('pid')} pid file {pid}")
    for fd in range(3):
        if rep.get(f"stdio{fd}") != "1:3":
            probs.append(f"fd {fd} is {rep.get(f'stdio{fd}')}, not /dev/null")
    release(root)
    for _ in range(500):
        if not os.path.exists(f"/proc/{pid}"):
            break
        time.sleep(0.01)
    return probs


def case_vireo_pvguest(ctx, vireo, pvguest):
    base, jid = ctx.base(), "vireo-e2e"
    name = os.path.basename(vireo)
    root = jail_root(base, jid, name)
    vm = fcapi.Instance(ctx.jailer, ["--id", jid, "--exec-file", vireo, "--uid", str(UID),
                                     "--gid", str(GID), "--chroot-base-dir", base,
                                     "--", "--api-sock", "/api.sock"],
                        sock=os.path.join(root, "api.sock"), boot_timeout=60)
    probs = []
    if not vm.ok:
        st, out, err = vm.finish(10)
        return [f"no API socket in the jail: exit {st}, err {err.strip()!r}"]
    # resources go into the jail once it is built (Firecracker's workflow)
    shutil.copy(pvguest, os.path.join(root, "pvguest.elf"))
    for path, body in (("/boot-source", {"kernel_image_path": "/pvguest.elf", "boot_args":
                                         "console=ttyS0 reboot=k panic=1 pvguest.run=boot"}),
                       ("/machine-config", {"vcpu_count": 1, "mem_size_mib": 128}),
                       ("/actions", {"action_type": "InstanceStart"})):
        status, body, _ = vm.api.put(path, body)
        if status != 204:
            probs.append(f"PUT {path}: {status} {body}")
    # the jailer exec'd vireo: this is its process, and the guest ends it
    st, out, err = vm.finish(60)
    if st != 0 or "PVGUEST RESULT boot PASS cpus=1 mem_mib=128" not in out:
        probs.append(f"exit {st}, guest {out[-300:]!r}, err {err.strip()[-300:]!r}")
    return probs


def cleanup(ctx):
    for d in sorted(set(ctx.cgroup_dirs), key=len, reverse=True):
        for _ in range(100):
            try:
                os.rmdir(d)
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.05)
        else:
            print(f"cleanup: could not remove {d}")
    for name in ctx.netns:
        subprocess.run(["ip", "netns", "delete", name], capture_output=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("jailer")
    ap.add_argument("probe_c")
    ap.add_argument("--vireo")
    ap.add_argument("--pvguest")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("SKIPPED (not root: the jailer needs root to mknod, pivot_root and setuid)")
        return SKIP
    tmp = tempfile.mkdtemp(prefix="vireo-jailer-")
    os.chmod(tmp, 0o755)
    probe = os.path.join(tmp, "probe")
    r = subprocess.run(["gcc", "-static", "-O1", "-Wall", "-Wextra", "-Werror", "-o", probe,
                        args.probe_c], capture_output=True, text=True)
    if r.returncode:
        shutil.rmtree(tmp)
        print(f"SKIPPED (gcc -static cannot build the probe: {r.stderr.strip()[-200:]})")
        return SKIP
    ctx = Ctx(os.path.abspath(args.jailer), tmp, probe)
    total = fails = 0
    try:
        n, f = bad_args(ctx)
        total, fails = n, f
        cases = [
            ("fails part way: a chroot that exists is refused and kept", case_chroot_exists),
            ("fails part way: a cgroup file that does not exist (v1)", case_cgroup_file_missing),
            ("fails part way: a controller not mounted (v1)", case_cgroup_unmounted),
            ("fails part way: a controller not offered by cgroup v2",
             case_cgroup_v2_not_offered),
            ("fails part way: no-file above nr_open", case_rlimit_too_high),
            ("fails part way: no /dev/kvm, after joining a cgroup", case_after_join),
        ]
        for name, fn in cases:
            problems = fn(ctx)
            if problems is None:
                print(f"SKIPPED {name} (this host has no such cgroup setup)")
                continue
            total += 1
            fails += verdict.case(name, problems)
        for name, problems in inside_default(ctx).items():
            total += 1
            fails += verdict.case(f"inside: {name}", problems)
        cases = [
            ("inside: --resource-limit fsize and no-file", case_rlimits),
            ("inside: --new-pid-ns: pid 1, the host pid in probe.pid, the jailer gone",
             case_pid_ns),
            ("inside: cgroup v1 pids and cpu under a nested --parent-cgroup", case_cgroup_v1),
            ("inside: cgroup v1 cpuset (CPUs set, memory nodes inherited)", case_cgroup_cpuset),
            ("inside: cgroup v2 with a core file", case_cgroup_v2),
            ("inside: cgroup v2 without --cgroup joins --parent-cgroup", case_cgroup_v2_parent),
            ("inside: --netns joined", case_netns),
            ("inside: --daemonize: the jailer returns, own session, stdio on /dev/null",
             case_daemonize),
        ]
        for name, fn in cases:
            problems = fn(ctx)
            if problems is None:
                print(f"SKIPPED {name} (this host has no such cgroup setup)")
                continue
            total += 1
            fails += verdict.case(name, problems)
        if args.vireo and args.pvguest:
            total += 1
            fails += verdict.case("end to end: static vireo jailed boots pvguest via the API",
                                  case_vireo_pvguest(ctx, os.path.abspath(args.vireo),
                                                     os.path.abspath(args.pvguest)))
        else:
            print("SKIPPED end to end (no static vireo or no pvguest in this build)")
    finally:
        cleanup(ctx)
        shutil.rmtree(tmp, ignore_errors=True)
    return verdict.tally(total, fails, "jailer cases")


if __name__ == "__main__":
    sys.exit(main())
