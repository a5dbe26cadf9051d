#!/usr/bin/env python3
"""The metadata service (MMDS) from a Linux guest's own TCP stack: vireo's
minimal test kernel (guest/linux/minimal) with its busybox wget and nc,
booted in Firecracker's way (--no-api, --config-file, --metadata) with two
NICs, of which only eth0 allows the MMDS (version V2).

usage: mmds_linux.py VIREO [--kernel K --initrd I] [--timeout S]

The guest's /init (written here, laid over the test kernel's initramfs)
checks, one MMDS-<name> line each: that a GET without a token is refused
(401), that PUT /latest/api/token gives a token, that GETs carrying it
answer IMDS text (a string, an object's keys) and JSON (Accept:
application/json), a 40000-byte value whole (its SHA-256), 100 GETs in a
row, a forged token refused, a port other than 80 refused (a RST from it), Firecracker's
mmds.* counters in the metrics file; and that with the
route through eth1 (a NIC the MMDS is not allowed on) nothing answers at
169.254.169.254: the frames go to eth1's TAP, where nothing answers either.
Passes when every check passes and vireo exits 0 (the guest powered off).

The kernel is built when missing (guest/linux/minimal/build.sh, about 4
minutes). Exit 0 pass, 1 fail, 77 (SKIPPED, with the reason) without
/dev/kvm or without TAP and network namespace support (not root)."""
import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO, "bench"))
sys.path.insert(0, HERE)
from harness import netns  # noqa: E402
import linux_guest  # noqa: E402

BIG = "B" * 40000
METADATA = {"latest": {"meta-data": {"ami-id": "ami-12345678", "reservation-id": "r-1",
                                     "net": {"mac": "x"}}}, "big": BIG}
TAP1 = "vtap1"

INIT = r"""#!/bin/sh
PATH=/bin:/sbin:/usr/bin:/usr/sbin
export PATH
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs tmpfs /tmp
exec </dev/console >/dev/console 2>&1
M=169.254.169.254
ip link set lo up
ip addr add 10.77.0.2/24 dev eth0 && ip link set eth0 up
ip addr add 10.79.0.2/24 dev eth1 && ip link set eth1 up
echo "MMDS-START"
# through eth1, which does not allow the MMDS: no answer
ip route add $M dev eth1
printf 'GET / HTTP/1.1\r\n\r\n' | nc -w 3 $M 80 >/tmp/e1 2>/dev/null
echo "MMDS-ETH1 bytes=$(wc -c </tmp/e1)"
ip route del $M dev eth1
ip neigh flush dev eth1
ip route add $M dev eth0
wget -q -O /tmp/nt http://$M/latest/meta-data/ami-id; echo "MMDS-NOTOKEN rc=$?"
printf 'GET /latest/meta-data/ami-id HTTP/1.1\r\nHost: x\r\n\r\n' | nc -w 5 $M 80 >/tmp/r401
echo "MMDS-401 status=$(head -n 1 /tmp/r401 | tr -d '\r' | cut -d' ' -f2)"
printf 'PUT /latest/api/token HTTP/1.1\r\nHost: x\r\nX-metadata-token-ttl-seconds: 3600\r\n\r\n' | nc -w 5 $M 80 >/tmp/tok
T=$(tail -n 1 /tmp/tok)
echo "MMDS-TOKEN status=$(head -n 1 /tmp/tok | tr -d '\r' | cut -d' ' -f2) len=${#T}"
H="X-metadata-token: $T"
echo "MMDS-STRING $(wget -q -O - --header "$H" http://$M/latest/meta-data/ami-id)"
echo "MMDS-LIST $(wget -q -O - --header "$H" http://$M/latest/meta-data/ | tr '\n' ,)"
echo "MMDS-JSON $(wget -q -O - --header "$H" --header 'Accept: application/json' http://$M/latest/meta-data)"
wget -q -O /tmp/big --header "$H" http://$M/big
echo "MMDS-BIG rc=$? bytes=$(wc -c </tmp/big) sha256=$(sha256sum </tmp/big | cut -d' ' -f1)"
i=0 ok=0
while [ $i -lt 100 ]; do
	wget -q -O /tmp/x --header "$H" http://$M/latest/meta-data/ami-id && [ "$(cat /tmp/x)" = ami-12345678 ] && ok=$((ok + 1))
	i=$((i + 1))
done
echo "MMDS-LOOP ok=$ok"
echo "MMDS-FORGED status=$(printf 'GET / HTTP/1.1\r\nX-metadata-token: AAAA\r\n\r\n' | nc -w 5 $M 80 | head -n 1 | tr -d '\r' | cut -d' ' -f2)"
nc -w 3 $M 81 </dev/null 2>/tmp/e81
if grep -q refused /tmp/e81; then echo "MMDS-PORT81 refused"; else echo "MMDS-PORT81 $(cat /tmp/e81)"; fi
echo "MMDS-END"
poweroff -f
"""

# Counts, on the TAP named, the ARP requests and IPv4 packets for
# 169.254.169.254 (an AF_PACKET socket); prints the count when terminated.
WATCH = r"""
import signal, socket, sys
n = 0
def done(*_):
    print(n, flush=True)
    sys.exit(0)
signal.signal(signal.SIGTERM, done)
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind((sys.argv[1], 0))
mmds = bytes([169, 254, 169, 254])
while True:
    f = s.recv(65536)
    if (f[12:14] == b"\x08\x06" and f[38:42] == mmds) or (f[12:14] == b"\x08\x00" and f[30:34] == mmds):
        n += 1
"""

# the line each check must print (a regular expression's worth of text)
WANT = {
    "ETH1": "bytes=0",
    "NOTOKEN": "rc=1",
    "401": "status=401",
    "TOKEN": "status=200 len=44",
    "STRING": "ami-12345678",
    "LIST": "ami-id,net/,reservation-id",
    "JSON": '{"ami-id":"ami-12345678","net":{"mac":"x"},"reservation-id":"r-1"}',
    "BIG": f"rc=0 bytes=40000 sha256={hashlib.sha256(BIG.encode()).hexdigest()}",
    "LOOP": "ok=100",
    "FORGED": "status=401",
    "PORT81": "refused",
}


def overlay(initrd, tmp):
    """The test kernel's initramfs with our /init laid over it (the kernel
    unpacks concatenated archives in order)."""
    d = os.path.join(tmp, "ov")
    os.makedirs(d)
    with open(os.path.join(d, "init"), "w") as f:
        f.write(INIT)
    os.chmod(os.path.join(d, "init"), 0o755)
    p = subprocess.run(["cpio", "-o", "-H", "newc"], input=b"init\n", cwd=d,
                       capture_output=True)
    if p.returncode:
        raise RuntimeError(f"cpio: {p.stderr.decode(errors='replace')}")
    out = os.path.join(tmp, "initrd.cpio")
    with open(initrd, "rb") as a, open(out, "wb") as o:
        o.write(a.read())
        o.write(p.stdout)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("vireo")
    ap.add_argument("--kernel")
    ap.add_argument("--initrd")
    ap.add_argument("--timeout", type=int, default=900)
    args = ap.parse_args()
    if not os.path.exists("/dev/kvm"):
        print("SKIPPED (no /dev/kvm)")
        return 77
    why = netns.host_support()
    if why:
        print(f"SKIPPED (cannot make a TAP in a network namespace: {why})")
        return 77
    kernel = args.kernel or os.path.join(linux_guest.OUT, "vmlinux")
    initrd = args.initrd or os.path.join(linux_guest.OUT, "initrd.cpio")
    if not args.kernel:
        failed = linux_guest.build_kernel(False)
        if failed:
            print(f"FAIL: {failed}")
            return 1
    with tempfile.TemporaryDirectory() as tmp, netns.TapNs() as ns:
        ns.ip("tuntap", "add", "dev", TAP1, "mode", "tap")
        ns.ip("addr", "add", "10.79.0.1/24", "dev", TAP1)
        ns.ip("link", "set", TAP1, "up")
        md = os.path.join(tmp, "metadata.json")
        with open(md, "w") as f:
            json.dump(METADATA, f)
        cfg = {
            "boot-source": {"kernel_image_path": kernel, "initrd_path": overlay(initrd, tmp),
                            "boot_args": "console=ttyS0 panic=-1 lpj=1000000 tsc=reliable "
                                         "no_timer_check reboot=k"},
            "drives": [],
            "machine-config": {"vcpu_count": 1, "mem_size_mib": 256},
            "network-interfaces": [
                {"iface_id": "eth0", "host_dev_name": netns.TAP,
                 "guest_mac": netns.GUEST_MAC},
                {"iface_id": "eth1", "host_dev_name": TAP1, "guest_mac": "52:54:00:12:34:57"}],
            "mmds-config": {"network_interfaces": ["eth0"], "version": "V2"},
            "metrics": {"metrics_path": os.path.join(tmp, "metrics.json")},
        }
        open(cfg["metrics"]["metrics_path"], "w").close()
        path = os.path.join(tmp, "config.json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        # eth1's TAP: the frames for the MMDS's address that reach it
        cap = subprocess.Popen(ns.cmd([sys.executable, "-c", WATCH, TAP1]),
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        status, lines = linux_guest.run_guest(
            ns.cmd([args.vireo, "--no-api", "--config-file", path, "--metadata", md,
                    "--id", "mmds-linux"]), os.path.join(tmp, "out.txt"), args.timeout)
        cap.terminate()
        seen = cap.communicate()[0].strip()
        with open(cfg["metrics"]["metrics_path"]) as f:
            metrics = [json.loads(x) for x in f.read().splitlines() if x.strip()]
    got = {}
    for _, text in lines:
        if text.startswith("MMDS-"):
            name, _, rest = text[5:].partition(" ")
            got[name] = rest.strip()
    problems = []
    if status != 0:
        problems.append(f"vireo ended with {status}, want 0 (the guest's poweroff)")
    for name, want in WANT.items():
        if got.get(name) != want:
            problems.append(f"MMDS-{name}: {got.get(name)!r}, want {want!r}")
    # Firecracker's mmds.* counters, summed over the run's metrics lines
    mm = {k: sum(m.get("mmds", {}).get(k, 0) for m in metrics)
          for k in ("rx_accepted", "connections_created", "connections_destroyed", "tx_frames")}
    # (a run here: 448 frames taken, 353 sent, 108 connections, all closed)
    if (mm["connections_created"] < 100 or mm["connections_destroyed"] != mm["connections_created"]
            or mm["rx_accepted"] < 300 or mm["tx_frames"] < 300):
        problems.append(f"the metrics file's mmds counters: {mm}")
    if not seen.isdigit() or int(seen) == 0:
        problems.append(f"eth1's TAP saw no frame for 169.254.169.254 ({seen!r}): the guest "
                        "never tried it there")
    for p in problems:
        print("FAIL:", p)
    if problems:
        for _, text in lines[-40:]:
            print("  |", text)
        return 1
    print(f"PASS: the MMDS (V2) from Linux's TCP on eth0, {len(WANT)} checks; "
          "not reachable through eth1")
    return 0


if __name__ == "__main__":
    sys.exit(main())
