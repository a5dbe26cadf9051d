#!/usr/bin/env python3
"""Firecracker's --seccomp-filter FILE in vireo's Firecracker mode.

usage: seccomp_filter.py VIREO PVGUEST_ELF VECTORS

The filter files are made here by a bitcode encoder for the one type
Firecracker's seccompiler-bin writes (HashMap<String, Vec<u64>>, bitcode
0.6's serde mode), the mirror of src/sandbox/fc_filters.c's decoder. It is
first proven byte for byte against VECTORS (tests/unit/fc_filters_vectors.txt,
bytes the real bitcode crate serialized). Then:
  - programs that allow everything (one `ret ALLOW`): pvguest boots through
    --no-api --config-file and blk-verify passes (status 0);
  - empty programs (Firecracker's "no filter"): the same;
  - a vcpu program that traps ioctl: status 148 and the one report line
    naming the vcpu0 thread and its KVM_RUN;
  - a vmm program that traps getrandom under the guest's entropy
    requests: status 148, the report naming the vmm thread, and the
    metrics file's last line counting it (seccomp.num_faults 1);
  - an api program that traps accept4: the first client ends vireo, the
    report naming the api thread;
  - bad files (garbage, missing, 100,001 bytes, 4097 instructions, a
    category missing or unknown, a program the kernel refuses, bytes after
    the map): status 152 and exactly one line `vireo: --seccomp-filter
    FILE: <why>`, before anything starts."""
import json
import os
import re
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
from harness import fcapi  # noqa: E402

TIMEOUT = 120
BAD_CONFIG = 152
BAD_SYSCALL = 148
REPORT = re.compile(r"^vireo: seccomp: the (\w+) thread called (\w+) \((\d+)(?:, request "
                    r"(0x[0-9a-f]+))?\), which its --seccomp-filter program does not allow: "
                    r"the VM ends$")

# bitcode 0.6 -------------------------------------------------------------
# byte packings: index = the crate's order (_256, _16, _6, _4, _3, _2)
STATES = [256, 16, 6, 4, 3, 2]
PER_BYTE = {16: 2, 6: 3, 4: 4, 3: 5, 2: 8}


def byte_packing(mx):
    if mx <= 1:
        return 5
    if mx == 2:
        return 4
    if mx == 3:
        return 3
    if mx <= 5:
        return 2
    if mx <= 15:
        return 1
    return 0


def pack_bytes(b):
    """n bytes: as they are when n <= 2, else a packing byte (2 * packing,
    minus 1 when offset by the minimum, which follows) and the bytes packed
    several to a byte, as base-states digits, least significant first."""
    b = list(b)
    if len(b) <= 2:
        return bytes(b)
    lo, hi = min(b), max(b)
    basic = byte_packing(hi)
    offset = byte_packing(hi - lo)
    out = bytearray()
    if offset > basic and len(b) > 5:
        b = [x - lo for x in b]
        p = offset
        out += bytes([p * 2 - 1, lo])
    else:
        p = basic
        out.append(p * 2)
    if p == 0:
        return bytes(out + bytes(b))
    f = STATES[p]
    d = PER_BYTE[f]
    for i in range(0, len(b), d):
        acc = 0
        for k, x in enumerate(b[i:i + d]):
            acc += x * f ** k
        out.append(acc)
    return bytes(out)


def int_packing(v):
    """u64 widths: index 1 = 8 bytes, 2 = 4, 3 = 2, 4 = 1."""
    if v <= 0xff:
        return 4
    if v <= 0xffff:
        return 3
    if v <= 0xffffffff:
        return 2
    return 1


def pack_u64s(v):
    """n u64s: nothing when n is 0; a packing byte (2 * (width - 1), minus 1
    when offset by the minimum: then 8 bytes of it), the values in that
    width, little-endian (one byte: packed again as pack_bytes)."""
    if not v:
        return b""
    out = bytearray()
    sample = v[:16]
    if int_packing(max(sample) - min(sample)) == 1:
        p = 1
        out.append(0)
    else:
        lo, hi = min(v), max(v)
        basic = int_packing(hi)
        offset = int_packing(hi - lo)
        if offset > basic and len(v) > 5:
            v = [x - lo for x in v]
            p = offset
            out.append((p - 1) * 2 - 1)
            out += struct.pack("<Q", lo)
        else:
            p = basic
            out.append((p - 1) * 2)
    if p == 4:
        return bytes(out + pack_bytes(v))
    fmt = {1: "<Q", 2: "<I", 3: "<H"}[p]
    for x in v:
        out += struct.pack(fmt, x)
    return bytes(out)


def lengths(ns):
    """Each length a byte, 255 an escape to a u64 list that follows."""
    return pack_bytes([n if n < 255 else 255 for n in ns]) + pack_u64s([n for n in ns
                                                                        if n >= 255])


def encode(entries):
    """[(key str, [u64])] as bitcode::serialize writes HashMap<String,
    Vec<u64>> iterating in this order: the map's length, the keys' lengths
    and bytes, the programs' lengths, then every instruction."""
    keys = [k.encode() for k, _ in entries]
    out = lengths([len(entries)])
    if entries:
        out += lengths([len(k) for k in keys]) + b"".join(keys)
        out += lengths([len(v) for _, v in entries])
        out += pack_u64s([x for _, v in entries for x in v])
    return out


def read_vectors(path):
    vecs, cur = [], None
    with open(path) as f:
        for line in f:
            w = line.split()
            if not w or w[0].startswith("#"):
                continue
            if w[0] == "vector":
                cur = {"name": w[1], "entries": []}
                vecs.append(cur)
            elif w[0] == "bytes":
                cur["bytes"] = bytes.fromhex(w[1]) if len(w) > 1 else b""
            elif w[0] == "entry":
                vals = [int(x, 16) for x in w[3:]]
                assert len(vals) == int(w[2])
                cur["entries"].append((bytes.fromhex(w[1]).decode(), vals))
    return vecs


# BPF ---------------------------------------------------------------------
def insn(code, jt, jf, k):
    return code | jt << 16 | jf << 24 | k << 32


RET_ALLOW = insn(0x06, 0, 0, 0x7fff0000)
RET_TRAP = insn(0x06, 0, 0, 0x00030000)
LD_NR = insn(0x20, 0, 0, 0)  # ld [0]: seccomp_data.nr
NR = {"ioctl": 16, "getrandom": 318, "accept4": 288}


def trap(name):
    return [LD_NR, insn(0x15, 0, 1, NR[name]), RET_TRAP, RET_ALLOW]


def filters(vmm=(RET_ALLOW,), api=(RET_ALLOW,), vcpu=(RET_ALLOW,)):
    return encode([("vmm", list(vmm)), ("api", list(api)), ("vcpu", list(vcpu))])


# runs --------------------------------------------------------------------
def env():
    """For a run that ends in the SIGSYS handler, where no leak check can
    run; the others keep the sanitizer build's (e2e_env: leaks checked)."""
    return dict(os.environ, ASAN_OPTIONS="detect_leaks=0:abort_on_error=0")


def run(vireo, args, trapped=False):
    p = subprocess.run([vireo] + args, stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=TIMEOUT, env=env() if trapped else None)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def write(tmp, name, data):
    path = os.path.join(tmp, name)
    with open(path, "wb") as f:
        f.write(data)
    return path


def config(tmp, kernel, test, extra=None, disk=None):
    conf = {"boot-source": {"kernel_image_path": kernel,
                            "boot_args": f"console=ttyS0 pvguest.run={test} "
                                         "pvguest.transport=mmio"},
            "drives": [], "machine-config": {"vcpu_count": 1, "mem_size_mib": 128}}
    if disk:
        conf["boot-source"]["boot_args"] += " pvguest.blk_id=" + os.path.basename(disk)
        conf["drives"].append({"drive_id": "data", "path_on_host": disk,
                               "is_root_device": False, "is_read_only": False})
    conf.update(extra or {})
    return write(tmp, "vm.json", json.dumps(conf).encode())


def check_report(what, status, err, thread, call, problems):
    lines = [ln for ln in err.splitlines() if ln.startswith("vireo: seccomp:")]
    m = REPORT.match(lines[0]) if len(lines) == 1 else None
    if status != BAD_SYSCALL or not m or m.group(1) != thread or m.group(2) != call:
        problems.append(f"{what}: status {status} (want {BAD_SYSCALL}), stderr "
                        f"{err[-400:]!r} (want one report: the {thread} thread, {call})")
    return m


def main():
    vireo, kernel, vectors = sys.argv[1], sys.argv[2], sys.argv[3]
    problems = []

    # the encoder writes what the real crate wrote, byte for byte
    vecs = read_vectors(vectors)
    for v in vecs:
        if encode(v["entries"]) != v["bytes"]:
            problems.append(f"encoder: vector {v['name']}: {encode(v['entries']).hex()[:80]} "
                            f"!= {v['bytes'].hex()[:80]}")
    if len(vecs) < 20:
        problems.append(f"encoder: only {len(vecs)} vectors in {vectors}")

    with tempfile.TemporaryDirectory(dir=os.environ.get("VIREO_TEST_TMPDIR")) as tmp:
        img = os.path.join(tmp, "disk.img")
        with open(img, "wb") as f:
            f.truncate(64 << 20)
        conf = config(tmp, kernel, "blk-verify", disk=img)

        # allow everything; then no filter at all (empty programs)
        for name, data in (("allow-all", filters()), ("empty", filters((), (), ()))):
            path = write(tmp, name + ".bpf", data)
            status, out, err = run(vireo, ["--no-api", "--config-file", conf,
                                           "--seccomp-filter", path])
            if status != 0 or "PVGUEST RESULT blk-verify PASS" not in out:
                problems.append(f"{name}: status {status}, out {out[-300:]!r}, "
                                f"err {err[-300:]!r}")

        # the vcpu program traps ioctl: KVM_RUN is the vCPU's first
        path = write(tmp, "vcpu-trap.bpf", filters(vcpu=trap("ioctl")))
        status, out, err = run(vireo, ["--no-api", "--config-file", conf,
                                       "--seccomp-filter", path], trapped=True)
        m = check_report("vcpu traps ioctl", status, err, "vcpu0", "ioctl", problems)
        if m and m.group(4) != "0xae80":
            problems.append(f"vcpu traps ioctl: request {m.group(4)} (want KVM_RUN 0xae80)")

        # the vmm program traps getrandom: the guest's entropy requests
        # reach it only once the VM runs (the build before is unfiltered)
        rng = config(tmp, kernel, "rng", extra={"entropy": {}})
        metrics = os.path.join(tmp, "metrics")
        path = write(tmp, "vmm-trap.bpf", filters(vmm=trap("getrandom")))
        status, out, err = run(vireo, ["--no-api", "--config-file", rng, "--metrics-path",
                                       metrics, "--seccomp-filter", path], trapped=True)
        check_report("vmm traps getrandom", status, err, "vmm", "getrandom", problems)
        last = (open(metrics).read().strip().splitlines() or [""])[-1] \
            if os.path.exists(metrics) else ""
        try:
            faults = json.loads(last).get("seccomp", {}).get("num_faults")
        except ValueError:
            faults = None
        if faults != 1:
            problems.append(f"vmm traps getrandom: the metrics' last line {last[:200]!r} "
                            "(want seccomp.num_faults 1)")

        # the api program traps accept4: the first client ends vireo
        path = write(tmp, "api-trap.bpf", filters(api=trap("accept4")))
        sock = os.path.join(tmp, "api.sock")
        r = fcapi.first_client([vireo, "--api-sock", sock, "--seccomp-filter", path], sock,
                               env(), TIMEOUT)
        check_report("api traps accept4", r.returncode, r.stderr.decode(errors="replace"), "api",
                     "accept4", problems)

        # bad files: one line, status 152, nothing started
        big = [RET_ALLOW] * 4097
        bad = {
            "garbage": (b"adassafvc", "not a seccompiler-bin file"),
            "too-large": (b"\0" * 100001, "larger than 100000 bytes"),
            "4097": (filters(vcpu=big), "the vcpu program has 4097 instructions"),
            "missing": (encode([("vmm", []), ("vcpu", [])]), "missing thread category: api"),
            "unknown": (encode([("vmm", []), ("api", []), ("vcpu", []), ("Thread1", [])]),
                        "invalid thread categories: thread1"),
            "kernel": (filters(vmm=[0xffff]), "the kernel refuses the vmm program"),
            "trailing": (filters() + b"\0", "bytes after the map"),
            "empty-file": (b"", "the file ends early"),
        }
        for name, (data, why) in bad.items():
            path = write(tmp, name + ".bpf", data)
            status, out, err = run(vireo, ["--no-api", "--config-file", conf,
                                           "--seccomp-filter", path])
            want = f"vireo: --seccomp-filter {path}: "
            if status != BAD_CONFIG or len(err.splitlines()) != 1 or \
                    not err.startswith(want) or why not in err:
                problems.append(f"bad file {name}: status {status}, stderr {err[-300:]!r} "
                                f"(want {BAD_CONFIG} and one line with {why!r})")
        path = os.path.join(tmp, "no-such-file")
        status, out, err = run(vireo, ["--no-api", "--config-file", conf,
                                       "--seccomp-filter", path])
        if status != BAD_CONFIG or err.strip() != \
                f"vireo: --seccomp-filter {path}: No such file or directory":
            problems.append(f"missing file: status {status}, stderr {err[-300:]!r}")
        status, out, err = run(vireo, ["--no-api", "--config-file", conf, "--no-seccomp",
                                       "--seccomp-filter", path])
        if status == 0 or "one or the other" not in err:
            problems.append(f"--no-seccomp with it: status {status}, stderr {err[-300:]!r}")

    for line in problems:
        print("FAIL:", line)
    print("seccomp-filter:", "FAIL" if problems else "PASS")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
