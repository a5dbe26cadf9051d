#!/usr/bin/env python3
"""virtio-net packet rate, throughput and request/response latency: vireo vs
QEMU (q35 and microvm,pcie=on; virtio-net-pci, vhost=off) vs a container
(bench/harness/container.py) talking to the host over its veth vs a veth pair
between two namespaces vs loopback, side by side, on this host.

The guest is pvguest's bench-net, a polling virtio-net driver in ring 3 with
a minimal UDP/IPv4 stack. Each VMM boots it once per (mode, size) with its
NIC on a TAP (vtap0, 10.77.0.1/24) in a fresh network namespace; the guest
is 10.77.0.2 (bench/harness/netns.py, the same command lines as
tests/e2e/net_run.py). The host end is tools/netpeer:

- tx (guest -> host): the guest sends datagrams of SIZE payload bytes to
  10.77.0.1:7777 for SECS; `netpeer sink` counts what arrives, and its rate
  (first to last datagram) is the figure;
- rx (host -> guest): once the guest says `PVGUEST INFO net ready`,
  `netpeer source` sends to 10.77.0.2:7778 as fast as it can; the guest's
  count is the figure (the source's rate is kept as "offered");
- rr: the guest sends one datagram to `netpeer echo` and waits for it to
  come back, again and again; the guest's p50/p99 is the figure.

veth, container and loopback run the same netpeer programs: source -> sink
and rr -> echo across a veth pair between two fresh namespaces (what two
containers get); between a Container (fresh user, pid, mount and network
namespaces, a cgroup; the guest's end inside) and the host's own network
namespace over the Container's veth (what a container and the host get);
and on lo inside one fresh namespace. The "guest" end (the tx source,
the rx sink, the rr client) plays the guest's part: it runs on the vCPU's CPU and
busy-polls its socket, as the guest polls its rings (the source never
sleeps anyway). The "host" end (sink, echo) sleeps in poll(2) on the other
CPU, as netpeer does in the VMM tests.

Sizes: 18 B of UDP payload (a 64-byte Ethernet frame with its FCS) and
1472 B (a 1500-byte IP packet). Gbit/s is UDP payload: packets/s x size x 8.
Each figure is the median of RUNS runs with min and max; systems take
turns within a run (rotated each run). With pvguest's bench-exits (under
vireo and QEMU) it also reports the cost of a PIO exit, an MMIO exit and a
queue kick, which the latency goal is measured against.

usage: bench/net.py [--runs N] [--secs S] [--systems a,b,... | --report] [--tests t,...]
                    [--out DIR]
                    [--no-pin] [--vireo PATH] [--pvguest PATH] [--netpeer PATH]
--report runs only the comparison report's five columns (loopback,
container, vireo, qemu-microvm, qemu); net.json always carries "report", the
group in bench/report.py's schema.
Run from the repository root after ./scripts/build.sh --no-san, as root
(namespaces, TAP). Needs qemu-system-x86_64 for its column (a missing one
is reported, not fatal). Writes net.md and net.json into DIR (default
bench/results/<UTC timestamp>/). Nothing is asserted: the goals are
reported against the figures."""
import argparse
import os
import re
import select
import shutil
import signal
import statistics
import subprocess
import sys
import time

# bench/harness is the library shared with tests/e2e (bench/, the script's
# own directory, is on sys.path)
from harness import hostinfo, netns, results, vmm
from harness.container import Container, descendants
from harness.hostload import OTHER_MAX, ProcLoad, wait_quiet
from harness.netpeer import NETPEER, Netpeer
from harness.pin import on_cpu, pin_plan, pin_threads, thread_ticks
from harness.stats import median_range, summary

VIREO = vmm.VIREO
PVGUEST = vmm.PVGUEST
QEMU = vmm.QEMU
BOOT_TIMEOUT = 60   # on top of the measurement itself (QEMU's firmware takes ~3 s here)
PEER_PORT = netns.PEER_PORT     # the host peer's UDP port
GUEST_PORT = 7778   # the guest's own UDP port (the rx source's target)
# A test during which processes outside the benchmark used more than
# OTHER_MAX of a CPU is run again (at most RETRIES times; the last one is kept).
RETRIES = 1
QUIET_WAIT_S = 10
# ... and so is a VMM test in which the polling vCPU thread got less than
# this share of its CPU between the guest's "net ready" and its exit (on
# this shared host other processes do land on that CPU).
VCPU_MIN = 0.85
SAMPLE_S = 0.25     # how often the vCPU thread's CPU time is read during a test

SIZES = [18, 1472]
MODES = ["tx", "rx", "rr"]
SYSTEMS = ["vireo", "qemu", "veth", "loopback", "container", "qemu-microvm", "vireo-nopoll"]
LABEL = {"vireo": "vireo", "qemu": "QEMU q35", "veth": "veth (2 netns)", "loopback": "loopback",
         "container": "container <-> host (veth)", "qemu-microvm": "QEMU microvm",
         "vireo-nopoll": "vireo poll=off"}
VMMS = ("vireo", "qemu", "qemu-microvm", "vireo-nopoll")
VCPU_THREAD = {s: vmm.vcpu_thread(s.split("-")[0]) for s in VMMS}
# The comparison report's columns (bench/report.py) and the system behind each.
REPORT_COLUMNS = [("native", "loopback"), ("container", "container"), ("vireo", "vireo"),
                  ("qemu-microvm", "qemu-microvm"), ("qemu-q35", "qemu")]
# The container's cgroup: its one process (the guest's stand-in) spins on
# the vCPU's CPU, so one CPU; netpeer needs little memory.
CONTAINER_CPUS = 1
CONTAINER_MEM = 512 << 20


def test_key(mode, size):
    return f"{mode}-{size}"


def guest_cmdline(test):
    return vmm.net_cmdline(test)


def vmm_cmd(system, test):
    """The VMM command lines of tests/e2e/net_run.py; qemu-microvm is the
    QEMU one on microvm with PCIe and SeaBIOS's microvm build."""
    if system in ("vireo", "vireo-nopoll"):
        devices = vmm.vireo_net()
        if system == "vireo-nopoll":
            devices[-1] += ",poll=off"   # every TX frame waits for its kick
        return vmm.vireo_cmd(guest_cmdline(test), PVGUEST, VIREO, devices=devices)
    machine = "microvm,pcie=on" if system == "qemu-microvm" else "q35"
    return vmm.qemu_cmd(guest_cmdline(test), machine, PVGUEST, QEMU, devices=vmm.qemu_net())


class HostNs:
    """The host's own network namespace, for the host end of the container
    system: commands run as they are."""

    def cmd(self, argv):
        return list(argv)


class ContainerNs:
    """Runs netpeer inside a Container. Its command's process is util-linux
    unshare, which ignores SIGTERM while it waits for its child; so a
    signal meant for netpeer goes to unshare's descendants (targets):
    killing unshare would kill netpeer before it reports."""

    def __init__(self, c):
        self.c = c

    def cmd(self, argv):
        return self.c.cmd(argv)

    @staticmethod
    def targets(pid):
        return descendants(pid)


def peer(ns, argv, cpu):
    """netpeer started here (in ns, on cpu), counted as ours."""
    return Netpeer(ns, argv, cpu, netpeer=NETPEER, started=Ours.started)


def run_guest(system, ns, test, pin, timeout, on_ready=None):
    """Boots the VMM inside ns to its exit; returns its serial output (CRs
    and terminal escapes removed) and the share of a CPU its vCPU thread
    got from the guest's "net ready" to its last sample before the exit
    (None if unknown). The VMM starts on the I/O CPU and its vCPU thread is
    moved to the vCPU CPU; on_ready() is called when the guest says
    `PVGUEST INFO net ready`."""
    cmd = ns.cmd(vmm_cmd(system, test))
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT,
                         preexec_fn=on_cpu(pin[0] if pin else None))
    Ours.started(p)
    buf, lines, status = b"", [], None
    first = last = None     # (time, vCPU ticks) samples
    try:
        t0 = time.monotonic()
        if pin and not pin_threads(p.pid, {VCPU_THREAD[system]: pin[1]},
                                   time.perf_counter() + 10):
            raise RuntimeError(f"no vCPU thread ({VCPU_THREAD[system]}) to pin")
        while True:
            left = t0 + timeout - time.monotonic()
            if left <= 0:
                status = "timeout"
                break
            # a sample every SAMPLE_S: this process shares the I/O CPU, and
            # waking it often (it was 20 times a second) stalls the VMM's
            # I/O thread behind the rx source for a scheduler tick each time
            readable = select.select([p.stdout], [], [], min(left, SAMPLE_S))[0]
            if first is not None:
                tt = thread_ticks(p.pid, VCPU_THREAD[system])
                if tt:
                    last = (time.monotonic(), tt[1])
            if not readable:
                continue
            chunk = os.read(p.stdout.fileno(), 65536)
            if not chunk:
                break
            buf += chunk
            while b"\n" in buf:
                raw, buf = buf.split(b"\n", 1)
                line = vmm.serial_text(raw.decode(errors="replace"))
                lines.append(line)
                if first is None and "PVGUEST INFO net ready" in line:
                    tt = thread_ticks(p.pid, VCPU_THREAD[system])
                    first = (time.monotonic(), tt[1]) if tt else (0, 0)
                    if on_ready:
                        on_ready()
                if "KVM internal error" in line or "KVM: entry failed" in line:
                    status = "internal-error"
            if status:
                break
    finally:
        if p.poll() is None:
            p.kill()        # the VMM this function started
        p.wait()
        p.stdout.close()
    lines.append(buf.decode(errors="replace"))
    out = "\n".join(lines)
    if status is None:
        status = p.returncode
    name = test.split(",")[0]
    if status != 1 or not re.search(rf"^PVGUEST RESULT {name} PASS", out, re.M):
        tail = [l.strip() for l in out.splitlines()
                if "PVGUEST RESULT" in l or "PVGUEST INFO" in l or "vireo:" in l or "rror" in l
                or l.startswith("qemu")][-3:]
        failure = f"{LABEL[system]} status {status}: {' | '.join(tail) or 'no output'}"
        why = None
        if system == "qemu-microvm":
            # pvguest's `pci` test on the same machine tells whether it sees PCI at all
            why = vmm.microvm_skip_reason(failure, ns.cmd(vmm_cmd("qemu-microvm", "pci")),
                                          "virtio-net", BOOT_TIMEOUT)
        if why:
            raise vmm.Skip(why)
        raise RuntimeError(failure)
    share = None
    if first and last and first[0] and last[0] - first[0] > 0.2:
        share = (last[1] - first[1]) / os.sysconf("SC_CLK_TCK") / (last[0] - first[0])
    return out, share


def bench_line(out, name):
    m = re.findall(rf"^PVGUEST BENCH {name} (.*)$", out, re.M)
    if not m:
        raise RuntimeError(f"no PVGUEST BENCH {name} line")
    return vmm.parse_kv(m[-1])


def run_vmm_test(system, ns, mode, size, secs, pin):
    io = pin[0] if pin else None
    test = f"bench-net,mode={mode},size={size},ms={int(secs * 1000)}"
    timeout = BOOT_TIMEOUT + secs * 3
    host = f"{netns.HOST_IP}:{PEER_PORT}"
    if mode == "tx":
        sink = peer(ns, ["sink", "--bind", host, "--secs", secs, "--wait", timeout], io)
        try:
            out, share = run_guest(system, ns, test, pin, timeout)
        except BaseException:
            sink.stop()
            raise
        got = sink.result(timeout=secs + 3)  # it stops 1 s after the last datagram
        g = bench_line(out, "net")
        if int(got["pkts"]) < 2:
            raise RuntimeError(f"the host sink got {got['pkts']} datagrams (the guest says it "
                               f"sent {g.get('pkts')})")
        pps = float(got["pps"])
        return {"pps": pps, "gbps": pps * size * 8 / 1e9, "guest_pkts": int(g["pkts"]),
                "host_pkts": int(got["pkts"]), "vcpu_share": share,
                "delivered": int(got["pkts"]) / int(g["pkts"]) if int(g["pkts"]) else 0.0}
    if mode == "rx":
        src = []

        def start_source():
            src.append(peer(ns, ["source", "--dst", f"{netns.GUEST_IP}:{GUEST_PORT}",
                                 "--size", size, "--secs", timeout], io))
        try:
            out, share = run_guest(system, ns, test, pin, timeout, on_ready=start_source)
        except BaseException:
            for p in src:
                p.stop()
            raise
        if not src:
            raise RuntimeError("the guest never said `PVGUEST INFO net ready`")
        sent = src[0].result(timeout=0)     # SIGTERM: it still reports
        g = bench_line(out, "net")
        pps = float(g["pps"]) if "pps" in g else int(g["pkts"]) / (int(g["ms"]) / 1000)
        return {"pps": pps, "gbps": pps * size * 8 / 1e9, "guest_pkts": int(g["pkts"]),
                "offered_pps": float(sent["pps"]), "vcpu_share": share}
    echo = peer(ns, ["echo", "--bind", host], io)
    try:
        out, share = run_guest(system, ns, test, pin, timeout)
    finally:
        echo.stop()
    g = bench_line(out, "net")
    return {"p50_us": float(g["p50_us"]), "p99_us": float(g["p99_us"]),
            "mean_us": float(g["mean_us"]), "n": int(g["n"]), "vcpu_share": share}


def run_exits(system, ns, pin):
    out, _ = run_guest(system, ns, "bench-exits", pin, BOOT_TIMEOUT)
    g = bench_line(out, "exits")
    return {k: float(g[k]) for k in ("pio_ns", "mmio_ns", "kick_ns") if k in g}


def run_peer_test(env, mode, size, secs, pin):
    """env: (client ns, client addr, server ns, server addr). The client is
    the guest's stand-in (tx source, rx sink, rr client), on the vCPU CPU;
    it busy-polls its socket (--spin) as the guest polls its rings. The
    server end sleeps in poll(2), as the host end of a VMM test does."""
    cns, caddr, sns, saddr = env
    io, vc = (pin[0], pin[1]) if pin else (None, None)
    if mode == "rr":
        echo = peer(sns, ["echo", "--bind", f"{saddr}:{PEER_PORT}"], io)
        try:
            rr = peer(cns, ["rr", "--dst", f"{saddr}:{PEER_PORT}", "--size", size,
                            "--secs", secs, "--spin"], vc).result(timeout=secs + 10)
        finally:
            echo.stop()
        return {"p50_us": float(rr["p50_us"]), "p99_us": float(rr["p99_us"]),
                "mean_us": float(rr["mean_us"]), "n": int(rr["n"]), "lost": int(rr["lost"])}
    spin = []
    if mode == "tx":
        sink_ns, sink_addr, sink_cpu, src_ns, src_cpu = sns, f"{saddr}:{PEER_PORT}", io, cns, vc
    else:
        sink_ns, sink_addr, sink_cpu, src_ns, src_cpu = cns, f"{caddr}:{GUEST_PORT}", vc, sns, io
        spin = ["--spin"]
    sink = peer(sink_ns, ["sink", "--bind", sink_addr, "--secs", secs, "--wait", 10] + spin,
                sink_cpu)
    try:
        sent = peer(src_ns, ["source", "--dst", sink_addr, "--size", size, "--secs", secs],
                    src_cpu).result(timeout=secs + 10)
    finally:
        got = sink.result(timeout=5)
    if int(got["pkts"]) < 2:
        raise RuntimeError(f"the sink got {got['pkts']} datagrams of {sent['pkts']} sent")
    pps = float(got["pps"])
    return {"pps": pps, "gbps": pps * size * 8 / 1e9, "offered_pps": float(sent["pps"]),
            "delivered": int(got["pkts"]) / int(sent["pkts"]) if int(sent["pkts"]) else 0.0}


class Env:
    """The namespaces one system's turn runs in, made fresh for each turn."""

    def __init__(self, system):
        self.system = system
        self.parts = []

    def __enter__(self):
        try:
            if self.system in VMMS:
                # a permanent neighbour entry for the guest: host -> guest
                # traffic does not wait on (or measure) the guest's ARP
                self.tap = netns.TapNs(guest_mac=netns.GUEST_MAC)
                self.parts.append(self.tap)
                self.tap.create()
            elif self.system == "veth":
                v = netns.VethPair()
                self.parts.append(v)
                v.__enter__()
                self.peer_env = (v.a, v.ips[0], v.b, v.ips[1])
            elif self.system == "container":
                c = container_of()
                c.__enter__()
                self.parts.append(c)
                # the guest's stand-in inside, the host end in the host's namespace
                self.peer_env = (ContainerNs(c), c.ip, HostNs(), c.host_ip)
            else:
                n = netns.Netns("lo")
                self.parts.append(n)
                n.create()
                self.peer_env = (n, "127.0.0.1", n, "127.0.0.1")
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc):
        Ours.end_all()      # on an error or ^C a peer or VMM may still be running in there
        for part in reversed(self.parts):
            if isinstance(part, (netns.VethPair, Container)):
                part.__exit__(None, None, None)
            else:
                part.destroy()
        return False


def container_of():
    return Container("net", cpus=CONTAINER_CPUS, mem_bytes=CONTAINER_MEM)


def run_test(env, system, mode, size, secs, pin):
    if system in VMMS:
        return run_vmm_test(system, env.tap, mode, size, secs, pin)
    return run_peer_test(env.peer_env, mode, size, secs, pin)


# --- load outside the benchmark ---------------------------------------------

class Ours:
    """The pids of this benchmark and of every process it started, left
    out of the count of others' load; and those processes, so that an
    interrupted run ends them (by pid) before their namespaces go. load:
    what the others use, counted per process (see ProcLoad)."""
    pids = {os.getpid()}
    procs = []
    load = ProcLoad(pids)

    @classmethod
    def started(cls, p):
        cls.pids.add(p.pid)
        cls.procs.append(p)

    @classmethod
    def end_all(cls):
        for p in cls.procs:
            if p.poll() is None:
                p.kill()
                p.wait()


# --- report -----------------------------------------------------------------

def fmt_pps(s):
    if not s:
        return "-"
    k = lambda v: f"{v / 1000:.0f}k" if v < 1e6 else f"{v / 1e6:.2f}M"
    return f"{k(s['median'])} [{k(s['min'])}-{k(s['max'])}]"


def med(res, system, key, field):
    try:
        return res["systems"][system]["tests"][key][field]["median"]
    except (KeyError, TypeError):
        return None


ROWS = [("tx", "pps", "guest->host packets/s"), ("tx", "gbps", "guest->host Gbit/s"),
        ("rx", "pps", "host->guest packets/s"), ("rx", "gbps", "host->guest Gbit/s"),
        ("rr", "p50_us", "request/response p50 us"), ("rr", "p99_us", "request/response p99 us")]


def table(res, systems):
    rows = ["| size | figure | " + " | ".join(LABEL[s] for s in systems) + " |",
            "|---|---|" + "---|" * len(systems)]
    for size in SIZES:
        for mode, field, label in ROWS:
            key = test_key(mode, size)
            cells = []
            for s in systems:
                r = res["systems"].get(s, {})
                err = r.get("errors", {}).get(key)
                t = r.get("tests", {}).get(key)
                if t:
                    v = t.get(field)
                    d = (3 if v and v["median"] < 0.1 else 2) if field == "gbps" else 1
                    cells.append(fmt_pps(v) if field == "pps" else median_range(v, d))
                elif key in r.get("skipped", []):
                    cells.append("skipped (below)")
                else:
                    cells.append(f"not measured: {err}" if err else "-")
            rows.append(f"| {size} B | {label} | " + " | ".join(cells) + " |")
    why = [f"- {LABEL[s]}: skipped: {r['errors'][r['skipped'][0]]}" for s in systems
           for r in [res["systems"].get(s, {})] if r.get("skipped")]
    return rows + ([""] + why if why else [])


def loss_table(res, systems):
    """What was offered against what arrived: a rate is only meaningful
    next to its drops."""
    rows = ["| size | figure | " + " | ".join(LABEL[s] for s in systems) + " |",
            "|---|---|" + "---|" * len(systems)]
    for size in SIZES:
        for mode, field, label in (("tx", "delivered", "guest->host: share of sent that arrived"),
                                   ("rx", "offered_pps", "host->guest: packets/s offered"),
                                   ("rx", "delivered", "host->guest: share of sent that arrived "
                                    "(veth, loopback)")):
            cells = []
            for s in systems:
                t = res["systems"].get(s, {}).get("tests", {}).get(test_key(mode, size), {})
                v = t.get(field)
                cells.append("-" if not v else fmt_pps(v) if field == "offered_pps" else
                             f"{v['median']:.1%} [{v['min']:.1%}-{v['max']:.1%}]")
            rows.append(f"| {size} B | {label} | " + " | ".join(cells) + " |")
    return rows


def exits_table(res):
    rows = ["| VMM | PIO exit ns | MMIO exit ns | kick ns |", "|---|---|---|---|"]
    for s in VMMS:
        r = res["systems"].get(s)
        if r is None:
            continue
        e = r.get("exits")
        if e:
            rows.append(f"| {LABEL[s]} | " + " | ".join(median_range(e.get(k), 0) for k in
                                                        ("pio_ns", "mmio_ns", "kick_ns")) + " |")
        else:
            why = r.get("errors", {}).get("exits", "not run")
            if "exits" in r.get("skipped", []):
                why = "skipped (see above)"
            rows.append(f"| {LABEL[s]} | not measured: {why} | | |")
    return rows


def goals(res):
    rows = ["| goal | vireo | reference | result |", "|---|---|---|---|"]
    for mode, what in (("tx", "guest->host"), ("rx", "host->guest")):
        for size in SIZES:
            k = test_key(mode, size)
            v, q = med(res, "vireo", k, "pps"), med(res, "qemu", k, "pps")
            vs = f"{v:,.0f} pkt/s" if v is not None else "not measured"
            qs = f"QEMU {q:,.0f} pkt/s" if q is not None else "QEMU not measured"
            result = (f"{v / q:.2f}x QEMU: {'met' if v >= 1.5 * q else 'not met'}"
                      if v is not None and q else "-")
            rows.append(f"| {what} {size} B: packets/s >= 1.5x QEMU | {vs} | {qs} | {result} |")
    kick = res["systems"].get("vireo", {}).get("exits", {}).get("kick_ns")
    kick_us = kick["median"] / 1000 if kick else None
    why_no_kick = res["systems"].get("vireo", {}).get("errors", {}).get(
        "exits", "vireo not run" if "vireo" not in res["systems"] else "no kick_ns reported")
    for size in SIZES:
        k = test_key("rr", size)
        v, e = med(res, "vireo", k, "p50_us"), med(res, "veth", k, "p50_us")
        vs = f"p50 {v:.1f} us" if v is not None else "not measured"
        if e is None:
            ref, result = "veth not measured", "-"
        elif kick_us is None:
            ref = f"veth p50 {e:.1f} us + 2 kicks (kick not measured: {why_no_kick})"
            result = (f"veth {v - e:+.1f} us; kick not measured" if v is not None else "-")
        else:
            lim = e + 2 * kick_us
            ref = f"veth p50 {e:.1f} us + 2 x {kick_us:.2f} us = {lim:.1f} us"
            result = (f"veth {v - e:+.1f} us: {'met' if v <= lim else 'not met'}"
                      if v is not None else "-")
        rows.append(f"| rr {size} B: latency <= veth + 2 kicks | {vs} | {ref} | {result} |")
    return rows


def vcpu_note(res):
    shares = [x["vcpu_share"] for s in VMMS
              for t in res["systems"].get(s, {}).get("tests", {}).values()
              for x in t.get("raw", []) if x.get("vcpu_share") is not None]
    if not shares:
        return ""
    return (f" The vCPU thread's share of its CPU in the tests kept: median "
            f"{statistics.median(shares):.0%}, lowest {min(shares):.0%}.")


# --- the comparison report's group (bench/report.py's schema) ----------------

def report_rows():
    """(row name, test, field, unit, better) for each size."""
    rows = []
    for size in SIZES:
        rows += [(f"guest->host {size} B packet rate", test_key("tx", size), "pps", "pkt/s",
                  "higher"),
                 (f"guest->host {size} B throughput", test_key("tx", size), "gbps", "Gbit/s",
                  "higher"),
                 (f"host->guest {size} B packet rate", test_key("rx", size), "pps", "pkt/s",
                  "higher"),
                 (f"host->guest {size} B throughput", test_key("rx", size), "gbps", "Gbit/s",
                  "higher"),
                 (f"request/response {size} B p50", test_key("rr", size), "p50_us", "us",
                  "lower"),
                 (f"request/response {size} B p99", test_key("rr", size), "p99_us", "us",
                  "lower")]
    return rows


def report_method(args, pin, method):
    return (
        "UDP over IPv4, payloads of 18 B (a 64-byte Ethernet frame) and 1472 B (a "
        "1500-byte IP packet); Gbit/s is UDP payload (packets/s x size x 8). Three tests "
        f"of {args.secs:g} s per size: guest->host (the guest, or its stand-in, sends as "
        "fast as it can; the rate is what the receiving `netpeer sink` counted, first to "
        "last datagram), host->guest (`netpeer source` sends as fast as it can; the rate "
        "is what the guest or its stand-in received), and request/response (one datagram "
        "out, wait for the echo from `netpeer echo`, repeat; round-trip p50 and p99). "
        "vireo and QEMU (virtio-net-pci with disable-legacy=on on a TAP with "
        "vhost=off, this host having no /dev/vhost-net; qemu-q35: -M q35, qemu-microvm: "
        "-M microvm,pcie=on with SeaBIOS's microvm build) boot pvguest once per test: "
        "bench-net, a polling virtio-net driver in ring 3 with a minimal UDP/IPv4 stack, "
        "1 vCPU, 256M; the TAP is in a fresh network namespace with the host end "
        "(tools/netpeer) in it. native is loopback: the same netpeer programs on lo in "
        "one fresh namespace. container: the guest's end is netpeer inside a container "
        f"(bench/harness/container.py) and the host end netpeer on the host, over the container's "
        f"veth. {method['container']} Where the guest's end is netpeer (native, container) "
        "it busy-polls its socket as the guest polls its rings, and the host end sleeps "
        "in poll(2) as in the VMM tests. " + (
            f"Pinned: the vCPU thread (or its stand-in) on CPU {pin[1]}, every other VMM "
            f"thread and the host-side netpeer on CPU {pin[0]}." if pin else
            "Not pinned (--no-pin).") +
        f" {args.runs} round{'s' if args.runs != 1 else ''}: in each, every system runs "
        "every test once, the systems taking turns in an order rotated each round; "
        "runs[i] is round i. A test waits for the host to be about idle and is run again "
        f"once if other processes used more than {OTHER_MAX:.0%} of a CPU or the guest's "
        f"vCPU thread got under {VCPU_MIN:.0%} of its CPU. bench/net.py.")


def report_group(systems, by_round, errors, args, pin, method):
    def figures(s, key, field, unit):
        if key in errors[s]:
            return None, errors[s][key]
        vals = [g.get(field) if g else None for g in by_round[s][key]]
        if all(v is None for v in vals):
            return None, f"no {field} figure for {key}"
        d = 4 if unit == "Gbit/s" else 2
        return [round(v, d) if v is not None else None for v in vals], None

    rows = [results.report_row(name, unit, better, REPORT_COLUMNS, systems,
                               lambda s: figures(s, key, field, unit))
            for name, key, field, unit, better in report_rows()]
    return results.report_group("net", "Network (virtio-net, UDP)",
                                report_method(args, pin, method), rows,
                                [c for c, _ in REPORT_COLUMNS])


def on_sigterm(signum, frame):
    raise KeyboardInterrupt


def main():
    global VIREO, PVGUEST, NETPEER
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--secs", type=float, default=1.0, help="per test and run")
    ap.add_argument("--systems", default=",".join(SYSTEMS))
    ap.add_argument("--report", action="store_true",
                    help="only the comparison report's five columns: "
                         + ",".join(s for _, s in REPORT_COLUMNS))
    ap.add_argument("--tests", help="only these, e.g. tx-18,rx-18 (default: every mode and "
                    "size, and the exit costs under a VMM)")
    ap.add_argument("--out")
    ap.add_argument("--no-pin", action="store_true",
                    help="leave thread placement to the host's scheduler")
    ap.add_argument("--vireo", default=VIREO)
    ap.add_argument("--pvguest", default=PVGUEST)
    ap.add_argument("--netpeer", default=NETPEER)
    args = ap.parse_args()
    # SIGTERM (meson's timeout, kill) unwinds like ^C: the VMM, netpeer and
    # the namespaces started here are removed on the way out
    signal.signal(signal.SIGTERM, on_sigterm)
    VIREO, PVGUEST, NETPEER = args.vireo, args.pvguest, args.netpeer
    systems = [s for s in args.systems.split(",") if s]
    if args.report:
        systems = [s for _, s in REPORT_COLUMNS]
    only = set(t for t in (args.tests or "").split(",") if t)
    known = {test_key(m, z) for z in SIZES for m in MODES} | {"exits"}
    if any(s not in SYSTEMS for s in systems) or args.runs < 1 or args.secs <= 0 or \
            only - known:
        ap.error(f"--systems: {','.join(SYSTEMS)}; --tests: {','.join(sorted(known))}; "
                 "--runs >= 1; --secs > 0")
    for path in (VIREO, PVGUEST, NETPEER):
        if not os.path.exists(path):
            print(f"net: {path} missing: run ./scripts/build.sh --no-san from the repository "
                  "root first", file=sys.stderr)
            return 2
    why = netns.host_support()
    if why:
        print(f"net: cannot run: {why}", file=sys.stderr)
        return 2
    stamp, out = results.out_dir(args.out)

    pin = None if args.no_pin else pin_plan()
    keys = [test_key(m, s) for s in SIZES for m in MODES]
    res = {"host": hostinfo.host_info(VIREO), "runs": args.runs, "secs": args.secs,
           "sizes": SIZES, "disturbed": [],
           "pin": {"io_cpu": pin[0], "vcpu_cpu": pin[1]} if pin else None,
           "method": {"vireo": " ".join(vmm_cmd("vireo", "bench-net,mode=M,size=N,ms=MS")),
                      "qemu": " ".join(vmm_cmd("qemu", "bench-net,mode=M,size=N,ms=MS")),
                      "tap": f"{netns.TAP} {netns.HOST_IP}/{netns.PREFIX}, guest "
                             f"{netns.GUEST_IP} {netns.GUEST_MAC} (permanent neighbour)",
                      "qemu_microvm": " ".join(vmm_cmd("qemu-microvm",
                                                       "bench-net,mode=M,size=N,ms=MS")),
                      "veth": f"{netns.VETH_IPS[0]} <-> {netns.VETH_IPS[1]}",
                      "container": container_of().describe()},
           "systems": {}}
    raw = {s: {k: [] for k in keys + ["exits"]} for s in systems}
    by_round = {s: {k: [None] * args.runs for k in keys} for s in systems}   # for the report
    errors = {s: {} for s in systems}
    skipped = {s: set() for s in systems}
    for s in ("qemu", "qemu-microvm"):
        if s in systems and not shutil.which(QEMU):
            errors[s] = {k: f"{QEMU} not installed" for k in keys + ["exits"]}
    if "qemu-microvm" in systems and not errors["qemu-microvm"] and \
            not os.path.exists(vmm.MICROVM_BIOS):
        errors["qemu-microvm"] = {k: f"{vmm.MICROVM_BIOS} missing (Debian: seabios)"
                                  for k in keys + ["exits"]}
    if "container" in systems and not shutil.which("unshare"):
        errors["container"] = {k: "unshare (util-linux) not installed" for k in keys}
    others = []
    t_start = time.perf_counter()
    waited = 0.0
    for r in range(args.runs):
        order = systems[r % len(systems):] + systems[:r % len(systems)]
        for s in order:
            todo = [(m, z) for z in SIZES for m in MODES if test_key(m, z) not in errors[s]]
            if s in VMMS and "exits" not in errors[s]:
                todo.append(("exits", None))
            if only:
                todo = [(m, z) for m, z in todo if (m if m == "exits" else test_key(m, z)) in only]
            if not todo:
                continue
            try:
                with Env(s) as env:
                    for mode, size in todo:
                        key = "exits" if mode == "exits" else test_key(mode, size)
                        if key in skipped[s]:
                            continue
                        for attempt in range(1 + RETRIES):
                            Ours.procs = [p for p in Ours.procs if p.poll() is None]
                            waited += wait_quiet(QUIET_WAIT_S, Ours.load)
                            a, t0 = Ours.load.snapshot(), time.perf_counter()
                            try:
                                got = (run_exits(s, env.tap, pin) if mode == "exits" else
                                       run_test(env, s, mode, size, args.secs, pin))
                            except vmm.Skip as e:
                                # the machine cannot run the guest's driver at
                                # all: no test of this system can run
                                for k in keys + ["exits"]:
                                    errors[s].setdefault(k, str(e))
                                    skipped[s].add(k)
                                print(f"net: run {r + 1}/{args.runs}: {s} {key}: skipped: {e}",
                                      file=sys.stderr)
                                break
                            except (RuntimeError, subprocess.TimeoutExpired, OSError) as e:
                                errors[s][key] = str(e)
                                print(f"net: run {r + 1}/{args.runs}: {s} {key}: failed: {e}",
                                      file=sys.stderr)
                                break
                            other = Ours.load.others(a) / (time.perf_counter() - t0)
                            vs = got.get("vcpu_share")
                            print(f"net: run {r + 1}/{args.runs}: {s} {key}: done, other "
                                  f"load {other:.0%} of a CPU" +
                                  (f", vCPU thread {vs:.0%}" if vs is not None else ""),
                                  file=sys.stderr)
                            if other <= OTHER_MAX and (vs is None or vs >= VCPU_MIN):
                                break
                            res["disturbed"].append({"run": r + 1, "system": s, "test": key,
                                                     "other_cpu": round(other, 3),
                                                     "vcpu_share": vs,
                                                     "kept": attempt == RETRIES})
                        if key in errors[s]:
                            continue
                        others.append(other)
                        raw[s][key].append(got)
                        if key != "exits":
                            by_round[s][key][r] = got
            except (RuntimeError, OSError) as e:   # the namespaces could not be made
                for mode, size in todo:
                    errors[s].setdefault("exits" if mode == "exits" else test_key(mode, size),
                                         f"set-up: {e}")
                print(f"net: {s}: set-up: {e}", file=sys.stderr)
    res["total_s"] = round(time.perf_counter() - t_start, 1)
    res["waited_for_quiet_s"] = round(waited, 1)
    res["other_cpu"] = summary(others)
    for s in systems:
        tests = {}
        for k in keys:
            runs = raw[s][k]
            if runs:
                tests[k] = {f: summary([x[f] for x in runs]) for f in runs[0]
                            if all(x.get(f) is not None for x in runs)}
                tests[k]["raw"] = runs
        entry = {"tests": tests, "errors": errors[s], "skipped": sorted(skipped[s])}
        if raw[s]["exits"]:
            entry["exits"] = {f: summary([x[f] for x in raw[s]["exits"] if f in x])
                              for f in raw[s]["exits"][0]}
            entry["exits"]["raw"] = raw[s]["exits"]
        res["systems"][s] = entry
    res["report"] = report_group(systems, by_round, errors, args, pin, res["method"])

    h = res["host"]
    oc = res["other_cpu"]
    kept = sum(d["kept"] for d in res["disturbed"])
    lines = [f"# virtio-net: vireo vs QEMU vs veth vs loopback ({stamp})", "",
             f"Host: {h['cpu']}, {h['cores']} cores, {h['mem_gib']} GiB, Linux {h['kernel']}, "
             f"KVM {h['kvm']}; {h['vireo']} ({h['commit']}); {h['qemu']}.",
             "Guest: pvguest bench-net (polling virtio-net driver in ring 3, UDP/IPv4), "
             f"1 vCPU, 256M, NIC on a TAP in a fresh network namespace. {args.runs} run"
             f"{'s' if args.runs != 1 else ''} of "
             f"{args.secs:g} s per test; median [min-max]. Gbit/s is UDP payload "
             "(packets/s x size x 8); 18 B is a 64-byte frame, 1472 B a 1500-byte IP packet.",
             "", (f"CPU used by processes outside the benchmark during a test: median "
                  f"{oc['median']:.0%} of one CPU, max {oc['max']:.0%}. {len(res['disturbed'])} "
                  f"tests were run again because it exceeded {OTHER_MAX:.0%} or the guest's "
                  f"vCPU thread got less than {VCPU_MIN:.0%} of its CPU"
                  + (f" ({kept} kept after {RETRIES} retries)" if kept else "") + "."
                  + vcpu_note(res) if oc else ""), ""]
    lines += table(res, systems)
    lines += ["", "Offered and delivered (tx: the sender's count against the sink's; rx: "
              "the source's rate; under a VMM the source runs until the guest is done, so "
              "compare its rate with the guest's, not its count):", ""]
    lines += loss_table(res, systems)
    if any(s in VMMS for s in systems):
        lines += ["", "Exit costs (pvguest bench-exits: a PIO write that exits to the VMM, an "
                  "MMIO write that exits to the VMM, a queue kick):", ""] + exits_table(res)
    lines += ["", "Goals (reported, not asserted; medians):", ""] + goals(res)
    lines += ["", "Method: bench/net.py. vireo and QEMU (q35, virtio-net-pci, "
              "disable-legacy=on, tap with vhost=off: this host has no /dev/vhost-net) boot "
              "pvguest once per test (`" + guest_cmdline(
                  f"bench-net,mode=M,size=N,ms={int(args.secs * 1000)}") + "`) with the NIC "
              f"on {netns.TAP} ({netns.HOST_IP}/{netns.PREFIX}) in a fresh namespace; the "
              "host end is tools/netpeer in that namespace (tx: sink, its rate from the first "
              "to the last datagram; rx: source, started when the guest says it is ready, the "
              "guest's rate; rr: echo, the guest's latency). veth: netpeer source -> sink and "
              "rr -> echo between two namespaces joined by a veth pair; loopback: the same on "
              "lo in one namespace; there the guest's stand-in (the tx source, the "
              "rx sink, the rr client) busy-polls its socket (netpeer --spin) as the guest "
              "polls its rings, and the host end (sink, echo) sleeps in poll(2) as in the "
              "VMM tests. container: the guest's stand-in is netpeer inside a container "
              "(bench/harness/container.py) and the host end netpeer in the host's own namespace, "
              "over the container's veth: " + res["method"]["container"] + " QEMU microvm: "
              "the QEMU command line on `-M microvm,pcie=on` with SeaBIOS's microvm build "
              "(as bench/start.py). " + (
                  f"Threads pinned: the guest's vCPU thread and its stand-in in veth/loopback "
                  f"on CPU {pin[1]}; "
                  f"every other VMM thread and the host-side netpeer on CPU {pin[0]}."
                  if pin else "Threads not pinned (--no-pin)."), "",
              f"Whole run: {res['total_s']:.0f} s, of which {waited:.0f} s waiting for the "
              "host to be idle."]
    results.write(out, "net", lines, res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
