#!/usr/bin/env python3
"""Bad user input: each case must end vireo at once with a single
"vireo: <what>: <why>" line on stderr, the right exit status (2 usage,
1 runtime), nothing on stdout, no signal (no core dump), and no leftovers.

usage: bad_input.py VIREO PVGUEST_ELF PVGUEST_BZIMAGE"""
import os
import shutil
import struct
import subprocess
import sys
import tempfile

# The harness shared with the benchmarks is bench/harness: bench/ on sys.path.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
from harness import verdict  # noqa: E402

USAGE, RUNTIME = 2, 1


def main():
    tmp = tempfile.mkdtemp(prefix="vireo-bad-")
    try:
        return check(*sys.argv[1:4], tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def check(vireo, elf, bz, tmp):
    elf_data = open(elf, "rb").read()
    bz_data = open(bz, "rb").read()

    def write(name, data):
        path = os.path.join(tmp, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def patched(data, off, fmt, value):
        b = bytearray(data)
        struct.pack_into(fmt, b, off, value)
        return bytes(b)

    setup_sects = bz_data[0x1F1] or 4
    ph_off = struct.unpack_from("<Q", elf_data, 0x20)[0]
    big_initrd = write("big-initrd", b"\0" * (20 << 20))
    random_blob = write("random", os.urandom(8192))
    disk = write("disk.img", b"\0" * 65536)
    fifo = os.path.join(tmp, "fifo")
    os.mkfifo(fifo)

    def sparse(name, size):
        path = os.path.join(tmp, name)
        with open(path, "wb") as f:
            f.truncate(size)
        return path
    sparse_2g, sparse_1t = sparse("sparse-2g", 2 << 30), sparse("sparse-1t", 1 << 40)
    cases = [
        # (name, args, expected status, a word the message must contain)
        ("no arguments", [], USAGE, "command"),
        ("unknown command", ["fly"], USAGE, "unknown command"),
        ("unknown flag", ["run", "--kernel", elf, "--frobnicate"], USAGE, "unknown option"),
        ("missing --kernel", ["run"], USAGE, "--kernel"),
        ("flag without value", ["run", "--kernel"], USAGE, "missing value"),
        ("missing kernel file", ["run", "--kernel", os.path.join(tmp, "nope")], RUNTIME,
         "No such file"),
        ("kernel is a directory", ["run", "--kernel", tmp], RUNTIME, "regular file"),
        ("empty kernel", ["run", "--kernel", write("empty", b"")], RUNTIME, "empty"),
        ("missing initrd", ["run", "--kernel", elf, "--initrd", os.path.join(tmp, "x")],
         RUNTIME, "initrd"),
        ("neither ELF nor bzImage", ["run", "--kernel", random_blob], RUNTIME,
         "neither an ELF"),
        ("text file as kernel", ["run", "--kernel", "/etc/hostname"], RUNTIME, "neither"),
        ("truncated bzImage (setup only)",
         ["run", "--kernel", write("bz-trunc1", bz_data[:(setup_sects + 1) * 512])],
         RUNTIME, "truncated"),
        ("truncated bzImage (half payload)",
         ["run", "--kernel", write("bz-trunc2", bz_data[:len(bz_data) // 2])],
         RUNTIME, "truncated"),
        ("bzImage header length past the end",
         ["run", "--kernel", write("bz-hdr", patched(bz_data[:0x280], 0x201, "<B", 0xFF))],
         RUNTIME, "header"),
        ("bzImage boot protocol too old",
         ["run", "--kernel", write("bz-old", patched(bz_data, 0x206, "<H", 0x0201))],
         RUNTIME, "too old"),
        ("bzImage without 64-bit entry",
         ["run", "--kernel", write("bz-32", patched(bz_data, 0x236, "<H", 0))],
         RUNTIME, "64-bit"),
        ("truncated ELF header", ["run", "--kernel", write("elf-trunc", elf_data[:40])],
         RUNTIME, "ELF"),
        ("ELF program headers past the end",
         ["run", "--kernel", write("elf-phoff", patched(elf_data, 0x20, "<Q", 1 << 40))],
         RUNTIME, "past the end"),
        ("ELF segment past the end",
         ["run", "--kernel", write("elf-seg", patched(elf_data, ph_off + 8, "<Q", 1 << 40))],
         RUNTIME, "past the end"),
        ("ELF32 file", ["run", "--kernel", write("elf32", patched(elf_data, 4, "<B", 1))],
         RUNTIME, "ELF64"),
        ("initrd too large for memory",
         ["run", "--kernel", elf, "--memory", "16M", "--initrd", big_initrd], RUNTIME,
         "initrd"),
        # a FIFO nobody writes must not hang the start; sizes are checked first
        ("FIFO as kernel", ["run", "--kernel", fifo], RUNTIME, "kernel " + fifo +
         ": not a regular file"),
        ("FIFO as initrd", ["run", "--kernel", elf, "--initrd", fifo], RUNTIME,
         "initrd " + fifo + ": not a regular file"),
        ("FIFO as a read-only disk", ["run", "--kernel", elf, "--disk",
                                      f"path={fifo},readonly=on"], RUNTIME,
         "not a regular file or block device"),
        ("FIFO as --config-file", ["--no-api", "--config-file", fifo], 152,
         "not a regular file"),
        ("sparse 2 GiB kernel, 256 MiB guest", ["run", "--kernel", sparse_2g], RUNTIME,
         "2147483648 bytes do not fit in 256 MiB"),
        ("sparse 1 TiB kernel", ["run", "--kernel", sparse_1t], RUNTIME,
         "1099511627776 bytes do not fit"),
        ("sparse 1 TiB initrd", ["run", "--kernel", elf, "--initrd", sparse_1t], RUNTIME,
         "initrd " + sparse_1t + ": 1099511627776 bytes do not fit"),
        # what the user typed is escaped, never split, and the reason never cut off
        ("newline in a path", ["run", "--kernel", os.path.join(tmp, "a\nb")], RUNTIME,
         "a\\nb: No such file or directory"),
        ("escape sequence in a path", ["run", "--kernel", os.path.join(tmp, "\x1b[31mred")],
         RUNTIME, "\\x1b[31mred: No such file or directory"),
        ("escape sequence in a flag", ["run", "--kernel", elf, "--\x1b[2Jx"], USAGE,
         "unknown option '--\\x1b[2Jx'"),
        ("800-byte path", ["run", "--kernel", os.path.join(tmp, "k" * 200, *["p" * 200] * 4)],
         RUNTIME, "ppp: No such file or directory"),
        ("800-byte disk path", ["run", "--kernel", elf, "--disk",
                                   "path=" + os.path.join(tmp, *["d" * 200] * 4)], RUNTIME,
         "ddd: No such file or directory"),
        ("800-byte --memory", ["run", "--kernel", elf, "--memory", "1" * 800], USAGE,
         "is too large"),
        # given twice is an error, not "the last one wins" (only --disk and --net repeat)
        ("--kernel twice", ["run", "--kernel", elf, "--kernel", elf], USAGE,
         "--kernel: given twice"),
        ("--memory twice", ["run", "--kernel", elf, "--memory", "1G", "--memory=2G"], USAGE,
         "--memory: given twice"),
        ("--disk key twice", ["run", "--kernel", elf, "--disk", f"path={disk},path={disk}"],
         USAGE, "--disk #1: path given twice"),
        ("--disk readonly and ro", ["run", "--kernel", elf, "--disk",
                                    f"path={disk},readonly=on,ro=off"], USAGE,
         "--disk #1: ro given twice"),
        ("Firecracker flag twice", ["--api-sock", os.path.join(tmp, "a.sock"), "--api-sock",
                                    os.path.join(tmp, "b.sock")], 153, "--api-sock: given twice"),
        ("--memory 0", ["run", "--kernel", elf, "--memory", "0"], USAGE, "--memory"),
        ("--memory overflow", ["run", "--kernel", elf, "--memory", "99999999999999G"],
         USAGE, "too large"),
        ("--memory not whole pages", ["run", "--kernel", elf, "--memory", "10000000"], USAGE,
         "--memory: '10000000' is not a whole number of 4 KiB pages"),
        ("--memory 9999K", ["run", "--kernel", elf, "--memory", "9999K"], USAGE,
         "--memory: '9999K' is not a whole number"),
        ("--memory not a size", ["run", "--kernel", elf, "--memory", "lots"], USAGE,
         "--memory"),
        ("--memory above the host", ["run", "--kernel", elf, "--memory", "64T"], USAGE,
         "host"),
        ("--memory thp bogus", ["run", "--kernel", elf, "--memory", "2G,thp=maybe"], USAGE,
         "thp=maybe: expected on or off"),
        ("--memory unknown option", ["run", "--kernel", elf, "--memory=1G,huge=on"], USAGE,
         "--memory: unknown key 'huge'"),
        ("--cpus 0", ["run", "--kernel", elf, "--cpus", "0"], USAGE, "--cpus"),
        ("--cpus not a number", ["run", "--kernel", elf, "--cpus", "two"], USAGE, "--cpus"),
        ("--cpus above KVM's limit", ["run", "--kernel", elf, "--cpus", "100000"], USAGE,
         "--cpus"),
        ("--serial bogus", ["run", "--kernel", elf, "--serial", "tty9"], USAGE, "--serial"),
        # the flag and which of them, then what is wrong
        ("--disk missing path", ["run", "--kernel", elf, "--disk", "readonly=on"], USAGE,
         "--disk #1: path is required"),
        ("--disk bad queues", ["run", "--kernel", elf, "--disk", f"path={disk}",
                               "--disk", "path=x,queues=99"], USAGE,
         "--disk #2: queues=99: expected 1 to 16"),
        # rate limits: SIZE/MS, within what the buckets compute with
        ("--disk bw without a refill time", ["run", "--kernel", elf, "--disk",
                                             f"path={disk},bw=1M"], USAGE,
         "--disk #1: bw: '1M': expected SIZE/MS"),
        ("--disk bw not a size", ["run", "--kernel", elf, "--disk", f"path={disk},bw=fast/100"],
         USAGE, "--disk #1: bw: 'fast/100': size: 0 to 1099511627776 tokens"),
        ("--disk ops refill with a unit", ["run", "--kernel", elf, "--disk",
                                           f"path={disk},ops=100/1k"], USAGE,
         "--disk #1: ops: '100/1k': refill time: 0 to 4294967296 ms"),
        ("--disk bw above 2^40", ["run", "--kernel", elf, "--disk", f"path={disk},bw=2T/100"],
         USAGE, "--disk #1: bw: '2T/100': size"),
        ("--disk ops_burst negative", ["run", "--kernel", elf, "--disk",
                                       f"path={disk},ops=1/1,ops_burst=-1"], USAGE,
         "--disk #1: ops_burst: '-1': 0 to"),
        ("--vsock tx_bw without a refill time", ["run", "--kernel", elf, "--vsock",
                                                 "cid=3,uds=/tmp/x.sock,tx_bw=1M"], USAGE,
         "--vsock: tx_bw: '1M': expected SIZE/MS"),
        ("vireo run --api-sock empty", ["run", "--kernel", elf, "--api-sock", ""], USAGE,
         "--api-sock: an empty path"),
        ("--net tx_bw without a refill time", ["run", "--kernel", elf, "--net",
                                               "tap=vtap9,tx_bw=1M"], USAGE,
         "--net #1: tx_bw: '1M': expected SIZE/MS"),
        ("--net rx_ops not a number", ["run", "--kernel", elf, "--net", "tap=vtap9,rx_ops=x/1"],
         USAGE, "--net #1: rx_ops: 'x/1': size"),
        ("--disk missing file", ["run", "--kernel", elf, "--disk", f"path={disk},readonly=on",
                                 "--disk", "path=" + os.path.join(tmp, "nope.img")], RUNTIME,
         f"--disk #2: {os.path.join(tmp, 'nope.img')}: No such file or directory"),
        ("--disk directory", ["run", "--kernel", elf, "--disk", "path=" + tmp], RUNTIME,
         "--disk #1: " + tmp + ": Is a directory"),
        ("--net missing tap", ["run", "--kernel", elf, "--net", "mac=52:54:00:00:00:01"],
         USAGE, "--net #1: tap is required"),
        ("--net same TAP twice", ["run", "--kernel", elf, "--net", "tap=vbad0",
                                  "--net", "tap=vbad0"], USAGE,
         "--net #2: tap=vbad0 is taken by --net #1"),
        ("--net multicast MAC", ["run", "--kernel", elf, "--net", "tap=vbad0,mac=01:00:5e:00:00:01"],
         USAGE, "--net #1: mac: expected a unicast address"),
        ("--vsock CID 2", ["run", "--kernel", elf, "--vsock", "cid=2,uds=" + tmp + "/v"],
         USAGE, "--vsock: cid: '2': expected 3 to 4294967295"),
        ("--vsock without uds", ["run", "--kernel", elf, "--vsock", "cid=3"], USAGE,
         "--vsock: uds is required"),
        ("--vsock twice", ["run", "--kernel", elf, "--vsock", "cid=3,uds=" + tmp + "/v",
                           "--vsock", "cid=4,uds=" + tmp + "/w"], USAGE, "--vsock: given twice"),
        ("--vsock on a regular file", ["run", "--kernel", elf, "--vsock", "cid=3,uds=" + disk],
         RUNTIME, "--vsock: " + disk + ": exists and is not a socket"),
        ("--vsock in a missing directory",
         ["run", "--kernel", elf, "--vsock", "cid=3,uds=" + tmp + "/nope/v.sock"], RUNTIME,
         "--vsock: " + tmp + "/nope/v.sock: No such file or directory"),
        ("--net all-zero MAC", ["run", "--kernel", elf, "--net", "tap=vbad0,mac=00:00:00:00:00:00"],
         USAGE, "--net #1: mac: 00:00:00:00:00:00 is no address"),
        ("--net MAC with a sign", ["run", "--kernel", elf, "--net", "tap=vbad0,mac=52:54:00:12:34:-1"],
         USAGE, "--net #1: mac: expected a unicast address"),
        ("--net MAC with a space", ["run", "--kernel", elf, "--net", "tap=vbad0,mac= 2:54:00:12:34:56"],
         USAGE, "--net #1: mac: expected a unicast address"),
        # names the kernel refuses, or takes as a template ('%d'), are usage errors
        ("--net tap=NAME%d", ["run", "--kernel", elf, "--net", "tap=vbad%d"], USAGE,
         "--net #1: tap: 'vbad%d': not an interface name"),
        ("--net tap name too long", ["run", "--kernel", elf, "--net", "tap=" + "t" * 16], USAGE,
         "longer than 15 bytes"),
        ("--net tap name with ':'", ["run", "--kernel", elf, "--net", "tap=vbad:0"], USAGE,
         "not an interface name"),
        ("--net tap name '..'", ["run", "--kernel", elf, "--net", "tap=.."], USAGE,
         "not an interface name"),
        ("--pvm-compat bad value", ["run", "--kernel", elf, "--pvm-compat", "maybe"], USAGE,
         "--pvm-compat: 'maybe': expected auto, on or off"),
        ("--pvm-compat twice", ["run", "--kernel", elf, "--pvm-compat", "on",
                                "--pvm-compat=off"], USAGE, "--pvm-compat: given twice"),
        ("--rng twice", ["run", "--kernel", elf, "--rng", "--rng"], USAGE,
         "--rng: given twice"),
        ("--rng with a value", ["run", "--kernel", elf, "--rng=on"], USAGE, "--rng"),
        ("--console bogus", ["run", "--kernel", elf, "--console", "tty9"], USAGE,
         "--console: 'tty9': expected stdio, none, file=PATH or socket=PATH"),
        ("--console file= without a path", ["run", "--kernel", elf, "--console", "file="],
         USAGE, "--console: 'file=': expected stdio, none, file=PATH or socket=PATH"),
        ("--console socket= without a path", ["run", "--kernel", elf, "--console", "socket="],
         USAGE, "--console: 'socket=': expected stdio, none, file=PATH or socket=PATH"),
        ("--console socket= too long", ["run", "--kernel", elf, "--console",
                                        "socket=/tmp/" + "s" * 103], USAGE,
         "--console: socket=/tmp/sss"),
        ("--console socket= on an existing file",
         ["run", "--kernel", elf, "--console", "socket=" + disk], RUNTIME,
         "--console: " + disk + ": already exists"),
        ("--console socket= in a missing directory",
         ["run", "--kernel", elf, "--console", "socket=" + tmp + "/nope/hvc.sock"], RUNTIME,
         "--console: " + tmp + "/nope/hvc.sock: No such file or directory"),
        ("--serial socket=", ["run", "--kernel", elf, "--serial", "socket=" + tmp + "/s.sock"],
         USAGE, "expected stdio, none or file=PATH"),
        ("--console twice", ["run", "--kernel", elf, "--console", "none", "--console=none"],
         USAGE, "--console: given twice"),
        # one of the two may read stdin: the serial port is there by default
        ("--console stdio beside --serial stdio", ["run", "--kernel", elf, "--console", "stdio"],
         USAGE, "--console stdio: the serial port is on stdio too"),
        ("--console in a missing directory",
         ["run", "--kernel", elf, "--serial", "none", "--console",
          "file=" + tmp + "/nope/hvc.log"], RUNTIME,
         "--console: " + tmp + "/nope/hvc.log: No such file or directory"),
        ("--disk poll bogus", ["run", "--kernel", elf, "--disk", f"path={disk},poll=maybe"],
         USAGE, "poll=maybe: expected on or off"),
        ("--net poll bogus", ["run", "--kernel", elf, "--net", "tap=vtapx,poll=2"],
         USAGE, "poll=2: expected on or off"),
        ("--balloon without amount_mib", ["run", "--kernel", elf, "--balloon",
                                          "deflate_on_oom=on"], USAGE,
         "--balloon: amount_mib is required"),
        ("--balloon amount_mib negative", ["run", "--kernel", elf, "--balloon", "amount_mib=-1"],
         USAGE, "--balloon: amount_mib=-1: expected 0 to 1048576"),
        ("--balloon over the guest's RAM", ["run", "--kernel", elf, "--memory", "64M",
                                            "--balloon", "amount_mib=65"], USAGE,
         "--balloon: amount_mib 65 is more than the guest's 64 MiB"),
        ("--balloon unknown key", ["run", "--kernel", elf, "--balloon",
                                   "amount_mib=1,free_page_hints=on"], USAGE,
         "--balloon: unknown key 'free_page_hints'"),
        ("--balloon stats interval too long", ["run", "--kernel", elf, "--balloon",
                                               "amount_mib=1,stats_polling_interval_s=65536"],
         USAGE, "--balloon: stats_polling_interval_s=65536: expected 0 to 65535"),
        ("--balloon hinting bad bool", ["run", "--kernel", elf, "--balloon",
                                        "amount_mib=1,free_page_hinting=2"], USAGE,
         "--balloon: free_page_hinting"),
        ("--balloon bad bool", ["run", "--kernel", elf, "--balloon",
                                "amount_mib=1,free_page_reporting=yes please"], USAGE,
         "--balloon: free_page_reporting"),
        ("--balloon twice", ["run", "--kernel", elf, "--balloon", "amount_mib=1",
                             "--balloon", "amount_mib=2"], USAGE, "--balloon: given twice"),
        ("cmdline over the PVH limit", ["run", "--kernel", elf, "--cmdline", "x" * 2048],
         RUNTIME, "cmdline"),
        ("cmdline over the bzImage limit", ["run", "--kernel", bz, "--cmdline", "x" * 4096],
         RUNTIME, "cmdline"),
    ]

    failures = 0
    for name, args, want, word in cases:
        p = subprocess.run([vireo] + args, stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=60)
        err = p.stderr.decode(errors="replace").splitlines()
        # the PVM notice is only printed once a VM runs, so one line is all
        problems = []
        if p.returncode != want:
            problems.append(f"status {p.returncode}, want {want}")
        if any(c < 0x20 and c != 0x0a for c in p.stderr):
            problems.append(f"control characters on stderr: {p.stderr[:200]!r}")
        if len(err) != 1 or not err[0].startswith("vireo: "):
            problems.append(f"stderr is not one 'vireo: ' line: {err!r}")
        elif word.lower() not in err[0].lower():
            problems.append(f"message lacks {word!r}: {err[0]!r}")
        if p.stdout:
            problems.append(f"stdout not empty: {p.stdout[:80]!r}")
        failures += verdict.case(f"{name}: {err[0] if err else ''}", problems)
    leftovers = [f for f in os.listdir(".") if f.startswith("core")]
    if leftovers:
        print("FAIL: core files left behind:", leftovers)
        failures += 1
    return verdict.tally(len(cases), failures, "bad-input cases")


if __name__ == "__main__":
    sys.exit(main())
