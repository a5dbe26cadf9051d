#!/usr/bin/env python3
"""`vireo run --api-sock`: Firecracker's API on a VM started from the
command line, and pause and resume with the guest in the middle of its
disk work (and a disk's rate limit changed by its id= meanwhile) (pvguest's bench-blk, 8 requests in flight on a polling driver).

Checks: GET / says Running, then Paused, then Running; while paused the
disk completes no request (vireo_blk_requests_total stays put) and the
vCPU thread is off the CPU; after the resume the count moves again and the
guest finishes its run with PASS, nothing lost; GET /vm/config gives the
command line's disk back; a configuration PUT is refused (the VM runs);
the socket is gone after exit. A path that exists is refused at start.
On a host that can make a TAP in a network namespace: frames keep coming
to the guest's TAP while it is paused, and none reaches it
(vireo_net_packets_total{direction="rx"} stays put) until the resume.

usage: run_api.py VIREO PVGUEST_ELF"""
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
from harness import fcapi, netns, vmm  # noqa: E402

READS = re.compile(r'^vireo_blk_requests_total\{[^}]*op="read"[^}]*\} (\d+)', re.M)
RX = re.compile(r'^vireo_net_packets_total\{[^}]*direction="rx"[^}]*\} (\d+)', re.M)


def counter(api, pattern):
    _, body, _ = api.request("GET", "/metrics")
    text = (body or {}).get("raw", "") if isinstance(body, dict) else ""
    m = pattern.search(text)
    return int(m.group(1)) if m else None


def reads(api):
    return counter(api, READS)


def net_paused(vireo, elf, problems):
    """Frames come to the guest's TAP while the VM is paused: none arrive.
    A frame every 5 ms, so that the guest's RX ring has room all along and
    only the pause keeps them out."""
    why = netns.host_support()
    if why:
        print(f"net while paused: SKIPPED ({why})")
        return
    with netns.TapNs(guest_mac=netns.GUEST_MAC) as ns, tempfile.TemporaryDirectory() as tmp:
        sock = os.path.join(tmp, "api.sock")
        cmd = vmm.vireo_cmd(vmm.net_cmdline("bench-net,mode=rx,size=64,ms=1000"), elf, vireo,
                            devices=["--net", f"tap={netns.TAP},mac={netns.GUEST_MAC}",
                                     "--api-sock", sock])
        p = subprocess.Popen(ns.cmd(cmd), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        try:
            if not fcapi.wait_socket(sock, p):
                problems.append("net: the API socket never answered")
                return
            api = fcapi.Client(sock)
            tap = ns.packet_socket()

            def frames(secs):
                end = time.monotonic() + secs
                while time.monotonic() < end:
                    ns.send_junk_frame(tap)
                    time.sleep(0.005)
            frames(1)
            status, _, _ = api.patch("/vm", {"state": "Paused"})
            a = counter(api, RX)
            frames(1.5)
            b = counter(api, RX)
            api.patch("/vm", {"state": "Resumed"})
            frames(0.5)
            c = counter(api, RX)
            api.close()
        finally:
            p.kill()
            p.wait()
        print(f"net rx frames: {a} at the pause, {b} after 1.5 s paused, {c} after the resume")
        if status != 204 or None in (a, b, c) or not a:
            problems.append(f"net: PATCH /vm {status}, counters {a} {b} {c}")
        elif b != a:
            problems.append(f"net: {b - a} frames reached the guest while it was paused")
        elif c <= b:
            problems.append("net: no frame after the resume")


def vcpu_ns(pid):
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                if not f.read().startswith("vcpu"):
                    continue
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except OSError:
            pass
    return total


def state(api):
    _, body, _ = api.get("/")
    return (body or {}).get("state")


def main():
    vireo, elf = sys.argv[1], sys.argv[2]
    problems = []
    net_paused(vireo, elf, problems)
    with tempfile.TemporaryDirectory() as tmp:
        img = os.path.join(tmp, "disk.img")
        with open(img, "wb") as f:
            f.truncate(64 << 20)
        sock = os.path.join(tmp, "api.sock")
        cmd = [vireo, "run", "--kernel", elf, "--memory", "256M", "--disk", f"path={img},id=d0",
               "--api-sock", sock, "--cmdline",
               "pvguest.run=bench-blk,mode=randread,bs=4K,qd=8,secs=5"]
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        if not fcapi.wait_socket(sock, p):
            p.kill()
            print("FAIL: the API socket never answered:", p.communicate()[1].decode()[-300:])
            return 1
        api = fcapi.Client(sock)
        if state(api) != "Running":
            problems.append(f"GET / before the pause: {state(api)}")
        time.sleep(1.5)
        before = reads(api)
        status, answer, _ = api.patch("/vm", {"state": "Paused"})
        if status != 204:
            problems.append(f"PATCH /vm Paused: {status} {answer}")
        if state(api) != "Paused":
            problems.append(f"GET / while paused: {state(api)}")
        paused_at, cpu0 = reads(api), vcpu_ns(p.pid)
        time.sleep(1.5)
        paused_end, cpu1 = reads(api), vcpu_ns(p.pid)
        if None in (before, paused_at, paused_end):
            problems.append("no vireo_blk_requests_total{op=\"read\"} in GET /metrics")
        else:
            if not before:
                problems.append("no reads before the pause")
            if paused_end != paused_at:
                problems.append(f"reads went on while paused: {paused_at} -> {paused_end}")
        if cpu1 - cpu0 > 0.05 * 1.5e9:
            problems.append(f"the vCPU ran {(cpu1 - cpu0) / 1e6:.0f} ms while paused")
        status, answer, _ = api.put("/machine-config", {"vcpu_count": 2, "mem_size_mib": 256})
        if status != 400:
            problems.append(f"PUT /machine-config on a running VM: {status}")
        _, conf, _ = api.get("/vm/config")
        drives = (conf or {}).get("drives") or [{}]
        if drives[0].get("path_on_host") != img:
            problems.append(f"GET /vm/config drives: {drives}")
        # a command-line disk answers to its id=
        status, answer, _ = api.patch("/drives/d0", {"drive_id": "d0", "rate_limiter": {
            "ops": {"size": 100000, "refill_time": 100}}})
        if status != 204:
            problems.append(f"PATCH /drives/d0 rate_limiter: {status} {answer}")
        status, answer, _ = api.patch("/drives/nope", {"drive_id": "nope", "rate_limiter": {}})
        if status != 400:
            problems.append(f"PATCH /drives/nope: {status}")
        status, answer, _ = api.patch("/vm", {"state": "Resumed"})
        if status != 204 or state(api) != "Running":
            problems.append(f"PATCH /vm Resumed: {status} {answer}, then {state(api)}")
        time.sleep(0.5)
        after = reads(api)
        if after is not None and paused_end is not None and after <= paused_end:
            problems.append(f"no reads after the resume: {paused_end} -> {after}")
        api.close()
        try:
            out, err = p.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
        out = out.decode(errors="replace")
        if not re.search(r"^PVGUEST RESULT bench-blk PASS", out, re.M):
            problems.append(f"the guest's run: no PASS (status {p.returncode}): {out[-300:]!r}")
        if os.path.lexists(sock):
            problems.append("the API socket outlived vireo")
        print(f"reads: {before} before, {paused_at}..{paused_end} paused, {after} after; "
              f"vCPU while paused {(cpu1 - cpu0) / 1e6:.1f} ms")

        # a path that exists: refused, untouched
        with open(sock, "w") as f:
            f.write("keep")
        r = subprocess.run(cmd, capture_output=True, timeout=60)
        err = r.stderr.decode(errors="replace")
        if r.returncode != 1 or "--api-sock" not in err or "already exists" not in err:
            problems.append(f"--api-sock on an existing file: status {r.returncode}: {err[-200:]!r}")
        with open(sock) as f:
            if f.read() != "keep":
                problems.append("--api-sock changed an existing file")
    for pr in problems:
        print("FAIL:", pr)
    print("PASS" if not problems else "FAIL")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
