#!/usr/bin/env python3
"""Platform behaviour with tiny hand-assembled PVH guests (32-bit code, built
here as ELF bytes so no toolchain is needed): serial output, debug-exit
values, i8042 reset, triple fault, and a vCPU that KVM cannot run.

usage: platform.py VIREO"""
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import time

# The harness shared with the benchmarks is bench/harness: bench/ on sys.path.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
from harness import verdict, vmm  # noqa: E402

LOAD = 0x100000


def pvh_elf(code):
    """ELF64 with one PT_LOAD at 1 MiB holding code, and a PT_NOTE with the
    Xen PHYS32_ENTRY note pointing at its first byte."""
    note = struct.pack("<III4sI", 4, 4, 18, b"Xen\0", LOAD)
    ehdr_size, phdr_size = 64, 56
    note_off = ehdr_size + 2 * phdr_size
    code_off = note_off + len(note)
    ehdr = struct.pack("<4sBBBBB7xHHIQQQIHHHHHH", b"\x7fELF", 2, 1, 1, 0, 0, 2, 62, 1,
                       LOAD, ehdr_size, 0, 0, ehdr_size, phdr_size, 2, 64, 0, 0)
    load = struct.pack("<IIQQQQQQ", 1, 5, code_off, LOAD, LOAD, len(code), len(code), 4096)
    pnote = struct.pack("<IIQQQQQQ", 4, 4, note_off, 0, 0, len(note), len(note), 4)
    return ehdr + load + pnote + note + code


def out_byte(port, value):
    # mov dx, port; mov al, value; out dx, al
    return b"\x66\xba" + struct.pack("<H", port) + b"\xb0" + bytes([value]) + b"\xee"


def serial(text):
    return b"".join(out_byte(0x3F8, c) for c in text.encode())


HALT = b"\xfa\xf4\xeb\xfd"  # cli; hlt; jmp back to hlt

def if_mmio_reads(addr, value, text):
    """mov eax, [addr]; cmp eax, value; jne over; print text."""
    out = serial(text)
    return (b"\xa1" + struct.pack("<I", addr) + b"\x3d" + struct.pack("<I", value) +
            b"\x75" + bytes([len(out)]) + out)


# A virtio-mmio window as a guest without a driver sees it: magic, version 2
# (modern), the device ID (2: block); a kick before DRIVER_OK and garbage
# in a register change nothing; the second window is the second disk.
VIRTIO_MMIO = (if_mmio_reads(0xFE000000, 0x74726976, "M") +
               if_mmio_reads(0xFE000004, 2, "2") +
               if_mmio_reads(0xFE000008, 2, "b") +
               b"\xc7\x05\x50\x00\x00\xfe\x00\x00\x00\x00" +    # QueueNotify = 0
               b"\xc7\x05\x70\x00\x00\xfe\xff\xff\xff\xff" +    # Status = garbage
               if_mmio_reads(0xFE000070, 0, "0") +
               if_mmio_reads(0xFE001008, 2, "b") +
               if_mmio_reads(0xFE002000, 0x74726976, "!") +            # no third device
               out_byte(0x64, 0xFE) + HALT)

# Polls the UART's LSR for data, echoes each byte until 'q', then debug-exit 0.
ECHO = (b"\x66\xba\xfd\x03" b"\xec" b"\xa8\x01" b"\x74\xf7"    # wait for LSR.DR
        b"\x66\xba\xf8\x03" b"\xec" b"\x3c\x71" b"\x74\x03"    # read RBR; 'q'?
        b"\xee" b"\xeb\xeb" + out_byte(0x501, 0) + HALT)            # echo; loop

CASES = [
    # name, code, extra flags, want status, want stdout, a word stderr must hold
    ("serial and debug-exit 0", serial("hello\n") + out_byte(0x501, 0) + HALT,
     ["--debug-exit"], 1, "hello\n", None),
    ("debug-exit 5", out_byte(0x501, 5) + HALT, ["--debug-exit"], 11, "", None),
    ("no debug-exit without the flag", out_byte(0x501, 5) + out_byte(0x64, 0xFE) + HALT,
     [], 0, "", None),
    ("i8042 reset", serial("r") + out_byte(0x64, 0xFE) + HALT, [], 0, "r", None),
    ("unclaimed ports are harmless",
     out_byte(0x80, 1) + out_byte(0x2F8, 1) + out_byte(0x3E8, 1) + out_byte(0x64, 0xFE) + HALT,
     [], 0, "", None),
    # a stack, lidt of an empty IDT, then int3: no handler -> double -> triple
    # fault (on PVM too: the interpreter rejects the int3, vireo's PVM
    # compatibility raises the #BP, and KVM escalates it)
    ("triple fault resets",
     b"\xbc\x00\x80\x00\x00" + b"\x6a\x00\x6a\x00\x0f\x01\x1c\x24" + b"\xcc" + HALT, [],
     0, "", "triple fault"),
    # ACPI sleep control: SLP_EN with another type is ignored, S5 powers off
    ("ACPI S5 powers off", out_byte(0x600, 0x24) + serial("n") + out_byte(0x600, 0x34) +
     serial("X") + HALT, [], 0, "n", None),
    ("serial input reaches the guest", ECHO, ["--debug-exit"], 1, "hello vm", None,
     b"hello vmq"),
    ("virtio-mmio windows answer", VIRTIO_MMIO,
     ["--transport", "mmio", "--disk", "path={disk}", "--disk", "path={disk2},readonly=on"],
     0, "M2b0b", None),
    # jump into the unbacked PCI hole: KVM cannot fetch the instruction
    ("internal error is reported", b"\xb8\x00\x00\x00\xc0\xff\xe0", [], 1, "", "rip="),
]


def tiny_vm(vireo, path):
    """vireo running one of these guests: 16 MiB, no other flag."""
    return vmm.vireo_cmd(None, path, vireo, "16M", cpus=None, debug_exit=False)


def signal_case(vireo, tmp):
    """SIGTERM ends a VM whose guest sleeps forever, with status 128+15."""
    path = os.path.join(tmp, "halt.elf")
    with open(path, "wb") as f:
        f.write(pvh_elf(serial("z") + HALT))
    p = subprocess.Popen(tiny_vm(vireo, path), stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = p.stdout.read(1)  # the guest is running
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        print("FAIL SIGTERM ends the VM: still running 30 s later")
        return 1
    ok = first == b"z" and p.returncode == 128 + signal.SIGTERM
    print(f"{'ok  ' if ok else 'FAIL'} SIGTERM ends the VM (status {p.returncode})")
    return 0 if ok else 1


def tty_case(vireo, tmp):
    """On a terminal: raw mode (Ctrl-C reaches the guest, vireo lives on),
    Ctrl-A x quits with status 0, and the terminal is restored afterwards."""
    path = os.path.join(tmp, "tty.elf")
    with open(path, "wb") as f:
        f.write(pvh_elf(serial("z") + HALT))
    master, slave = pty.openpty()
    before = termios.tcgetattr(slave)
    p = subprocess.Popen(tiny_vm(vireo, path), stdin=slave, stdout=slave,
                         stderr=subprocess.PIPE)
    problems = []
    try:
        seen = b""
        deadline = time.monotonic() + 30
        while b"z" not in seen and time.monotonic() < deadline:
            if select.select([master], [], [], 0.5)[0]:
                seen += os.read(master, 100)
        if b"z" not in seen:
            problems.append(f"no guest output on the terminal: {seen!r}")
        raw = termios.tcgetattr(slave)
        if raw[3] & (termios.ICANON | termios.ECHO | termios.ISIG):
            problems.append("terminal not in raw mode while the guest runs")
        os.write(master, b"\x03")  # Ctrl-C goes to the guest, not to vireo
        time.sleep(0.3)
        if p.poll() is not None:
            problems.append(f"Ctrl-C ended vireo (status {p.returncode})")
        os.write(master, b"\x01x")
        p.wait(timeout=30)
        if p.returncode != 0:
            problems.append(f"Ctrl-A x: status {p.returncode}, want 0")
        if termios.tcgetattr(slave) != before:
            problems.append("terminal settings not restored")
    except subprocess.TimeoutExpired:
        problems.append("Ctrl-A x did not end vireo")
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        os.close(master)
        os.close(slave)
    return int(verdict.case("terminal: raw mode, Ctrl-A x, restored", problems))


def main():
    vireo = sys.argv[1]
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        # two images: one image twice in a VM is refused (its lock)
        disk, disk2 = os.path.join(tmp, "disk.img"), os.path.join(tmp, "disk2.img")
        for path in (disk, disk2):
            with open(path, "wb") as f:
                f.truncate(1 << 20)
        for case in CASES:
            name, code, flags, want, want_out, word = case[:6]
            flags = [a.replace("{disk}", disk).replace("{disk2}", disk2) for a in flags]
            stdin = case[6] if len(case) > 6 else None
            path = os.path.join(tmp, "guest.elf")
            with open(path, "wb") as f:
                f.write(pvh_elf(code))
            try:
                p = subprocess.run(tiny_vm(vireo, path) + flags,
                                   input=stdin, stdin=None if stdin else subprocess.DEVNULL,
                                   capture_output=True, timeout=120)
            except subprocess.TimeoutExpired:
                print(f"FAIL {name}: vireo still running after 120 s")
                failures += 1
                continue
            out = p.stdout.decode(errors="replace")
            err = p.stderr.decode(errors="replace")
            problems = []
            if p.returncode != want:
                problems.append(f"status {p.returncode}, want {want}")
            if out != want_out:
                problems.append(f"stdout {out!r}, want {want_out!r}")
            if word and word not in err:
                problems.append(f"stderr lacks {word!r}")
            bad = [l for l in err.splitlines() if not l.startswith("vireo:")]
            if bad:
                problems.append(f"stray stderr: {bad!r}")
            if verdict.case(name, problems):
                print("       stderr:", err.strip().replace("\n", "\n               "))
                failures += 1
        failures += signal_case(vireo, tmp)
        failures += tty_case(vireo, tmp)
    return verdict.tally(len(CASES) + 2, failures, "platform cases")


if __name__ == "__main__":
    sys.exit(main())
