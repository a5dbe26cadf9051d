#!/usr/bin/env python3
"""Durability of flushed writes: SIGKILL vireo right after a FLUSH completed,
then check that every flushed write is in the image file.

usage: blk_durability.py VIREO PVGUEST_ELF [--rounds N] [--seed HEX]

For each engine (uring, sync) and cache mode (writeback, none), ROUNDS times
(default 1): a fresh 64 MiB raw image, vireo running pvguest's blk-flush
test. The guest writes a seeded pattern to 48 ranges spread over the disk
(1 to 256 sectors each, about 1.5 MiB, some as two segments, eight requests
in flight, each range first written with junk and then with the pattern),
waits until every write completed OK, issues FLUSH, waits for it to complete
OK, prints

    PVGUEST FLUSHED seed=<hex> sectors=<start>+<count>,... crc=<crc32> bytes=<n>

and then keeps eight unflushed 64 KiB junk writes in flight to other sectors
(the upper half of each 1/48th of the disk; the ranges lie in the lower
half) until it is killed. As soon as that line is read, this script sends
SIGKILL to the vireo process it started (by pid), waits for it, reads the
image and checks every flushed sector byte for byte against the pattern,
recomputed here with the guest's generator (tests_blk_flush.c):

    little-endian 64-bit word i (0..63) of 512-byte sector s is
    splitmix64(seed ^ (s * 64 + i)), where splitmix64(x) takes
    z = x + 0x9e3779b97f4a7c15, z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9,
    z = (z ^ (z >> 27)) * 0x94d049bb133111eb, and returns z ^ (z >> 31),
    all modulo 2^64.

The guest's crc (CRC-32 of the pattern, ranges in the listed order) is
checked against the recomputed pattern first, so that a generator mismatch
is reported as such and not as lost data.

What this proves: SIGKILL ends the process but not the host kernel, so the
host page cache survives it. A pass shows that vireo handed every write the
guest saw completed to the host kernel (pwritev2 / an io_uring write that
had completed) before it reported the FLUSH done, and that the FLUSH path
(fdatasync, or IORING_OP_FSYNC) completes only after that: nothing the
guest was told is stable was still queued inside vireo (an unsubmitted SQE,
a buffer, a worker) when it died. It does not prove that the data reached
the disk platter: that would need a host power cut, which no test here can
make. With cache=none the writes bypass the page cache (O_DIRECT), so there
a pass also shows that they were on the host's block device.

Prints one line per combination and round; exit 0 if all held, 1 if any
failed, 77 (SKIPPED) without a usable /dev/kvm."""
import argparse
import os
import random
import re
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zlib

# The harness shared with the benchmarks is bench/harness: bench/ on sys.path.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
from harness import vmm  # noqa: E402

IMAGE_BYTES = 64 << 20
SECTOR = 512
TIMEOUT = 120  # for FLUSHED; a healthy run takes well under a second
M64 = (1 << 64) - 1
JUNK_SECTOR = b"\x4a" * SECTOR  # what blk-flush's junk writes carry


def splitmix64(x):
    z = (x + 0x9e3779b97f4a7c15) & M64
    z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & M64
    z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & M64
    return z ^ (z >> 31)


def pattern(seed, sector, nsect):
    """The bytes the guest wrote to [sector, sector + nsect)."""
    words = [splitmix64(seed ^ (s * 64 + i))
             for s in range(sector, sector + nsect) for i in range(SECTOR // 8)]
    return struct.pack(f"<{len(words)}Q", *words)


def count_junk(data):
    return sum(data[o:o + SECTOR] == JUNK_SECTOR for o in range(0, len(data), SECTOR))


def parse_flushed(line):
    m = re.match(r"PVGUEST FLUSHED seed=([0-9a-f]+) sectors=([0-9+,]+) crc=([0-9a-f]{8}) "
                 r"bytes=(\d+)$", line)
    if not m:
        return None
    ranges = [tuple(int(x) for x in r.split("+")) for r in m.group(2).split(",")]
    return int(m.group(1), 16), ranges, int(m.group(3), 16), int(m.group(4))


def run_one(vireo, elf, engine, cache, seed, tmp):
    """Returns (ok, message)."""
    img = os.path.join(tmp, f"disk-{engine}-{cache}.img")
    with open(img, "wb") as f:
        f.truncate(IMAGE_BYTES)
    cmd = vmm.vireo_cmd(f"pvguest.run=blk-flush,seed={seed:x}", elf, vireo,
                        devices=["--disk", f"path={img},engine={engine},cache={cache}"])
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    flushed, out, killed_after = None, [], None
    try:
        for raw in p.stdout:
            line = raw.decode(errors="replace").rstrip("\r\n")
            if line.startswith("PVGUEST FLUSHED"):
                t_line = time.monotonic()
                os.kill(p.pid, signal.SIGKILL)   # only the process started here
                killed_after = time.monotonic() - t_line
                flushed = line
                break
            out.append(line)
            if line.startswith("PVGUEST RESULT") or time.monotonic() - t0 > TIMEOUT:
                break
    finally:
        if p.poll() is None and flushed is None:
            p.kill()
        p.wait()
        err = p.stderr.read().decode(errors="replace")
        p.stdout.close()
        p.stderr.close()
    if flushed is None:
        tail = "; ".join(out[-3:] + [e for e in err.splitlines() if "note:" not in e][-2:])
        return False, f"no PVGUEST FLUSHED line (exit status {p.returncode}): {tail}"
    if p.returncode != -signal.SIGKILL:
        return False, f"vireo ended with status {p.returncode} before the kill landed"

    parsed = parse_flushed(flushed)
    if not parsed:
        return False, f"cannot parse: {flushed[:200]}"
    gseed, ranges, crc, nbytes = parsed
    if gseed != seed:
        return False, f"the guest used seed {gseed:x}, asked {seed:x}"
    want = [pattern(seed, s, n) for s, n in ranges]
    if sum(len(w) for w in want) != nbytes or zlib.crc32(b"".join(want)) != crc:
        return False, ("the pattern recomputed here does not match the guest's crc/bytes: "
                       "generator mismatch between blk_durability.py and tests_blk_flush.c")
    bad = []
    with open(img, "rb") as f:
        for (s, n), w in zip(ranges, want):
            f.seek(s * SECTOR)
            got = f.read(n * SECTOR)
            if got != w:
                first = next((i for i in range(len(w)) if i >= len(got) or got[i] != w[i]), 0)
                lost = sum(got[k * SECTOR:(k + 1) * SECTOR] != w[k * SECTOR:(k + 1) * SECTOR]
                           for k in range(n))
                bad.append(f"{s}+{n} ({lost} sectors differ, first at byte {first}: "
                           f"{'zeros' if not any(got[first:first + 8]) else 'other data'})")
        # how many unflushed junk writes (0x4a bytes) had landed: a sign
        # that the kill came while writes were in flight
        f.seek(0)
        data = f.read()
    junk = count_junk(data)
    desc = (f"{len(ranges)} ranges, {nbytes // 1024} KiB flushed, SIGKILL "
            f"{killed_after * 1e3:.2f} ms after the line, {junk} junk sectors written")
    if bad:
        return False, f"{desc}; {len(bad)} ranges not intact: " + ", ".join(bad[:5])
    return True, f"{desc}; every flushed sector intact"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("vireo")
    ap.add_argument("elf")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--seed", help="hex; default: random, printed")
    args = ap.parse_args()
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        print("SKIPPED (no usable /dev/kvm)")
        return 77
    rng = random.Random()
    failed = 0
    with tempfile.TemporaryDirectory(dir=os.environ.get("VIREO_TEST_TMPDIR")) as tmp:
        for rnd in range(args.rounds):
            for engine in ("uring", "sync"):
                for cache in ("writeback", "none"):
                    seed = int(args.seed, 16) if args.seed else rng.getrandbits(64)
                    ok, msg = run_one(args.vireo, args.elf, engine, cache, seed, tmp)
                    failed += not ok
                    print(f"{'PASS' if ok else 'FAIL'}: engine={engine} cache={cache} "
                          f"seed={seed:x}: {msg}", flush=True)
    print(f"blk durability: {4 * args.rounds - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
