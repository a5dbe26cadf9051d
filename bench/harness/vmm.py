"""pvguest under a VMM: the one place that builds vireo's and QEMU's (q35,
microvm) command lines, the devices callers add to them, the vCPU threads'
names, why microvm cannot run a pvguest, and reading pvguest's serial output.
Not how a run is timed, pinned or judged: that stays with each script."""
import re
import subprocess

from harness import netns

VIREO = "build/vireo"
PVGUEST = "build/guest/pvguest/pvguest.elf"
QEMU = "qemu-system-x86_64"
MEM = "256M"
# microvm's own firmware (qboot) hands PVH guests an unsorted memory map, so
# pvguest boots there through SeaBIOS's microvm build (as
# tests/e2e/qemu_pvguest.sh).
MICROVM_BIOS = "/usr/share/seabios/bios-microvm.bin"


def vireo_cmd(cmdline, kernel=PVGUEST, vireo=VIREO, memory=MEM, cpus=1, devices=(),
              debug_exit=True):
    """`vireo run` with the kernel, --memory, --cpus, --debug-exit, then
    devices (--disk, --net, --initrd, ... as given), then --cmdline. cpus or
    cmdline None, or debug_exit False, leaves that flag out."""
    cmd = [vireo, "run", "--kernel", kernel, "--memory", memory]
    if cpus is not None:
        cmd += ["--cpus", str(cpus)]
    if debug_exit:
        cmd.append("--debug-exit")
    cmd += list(devices)
    if cmdline is not None:
        cmd += ["--cmdline", cmdline]
    return cmd


def qemu_cmd(cmdline, machine="q35", kernel=PVGUEST, qemu=QEMU, memory=MEM, cpus=1,
             devices=(), thread_names=True):
    """QEMU booting kernel the way vireo does: KVM, PVH (-kernel), the serial
    port on stdio and debug-exit at 0x501, then devices, then -append.
    machine: "q35", "microvm" or with options ("microvm,pcie=on": pvguest
    drives virtio over PCI only), microvm with MICROVM_BIOS. thread_names:
    -name debug-threads=on, so that the vCPU threads can be found to pin."""
    # this host's KVM refuses MSR 0x10a (arch-capabilities)
    fw = ["-bios", MICROVM_BIOS] if machine.split(",")[0] == "microvm" else []
    names = ["-name", "pvguest,debug-threads=on"] if thread_names else []
    return ([qemu, "-accel", "kvm", "-cpu", "host,-arch-capabilities", "-M", machine] + fw +
            ["-m", memory] + names + ["-smp", str(cpus), "-nodefaults", "-nographic",
             "-no-reboot", "-serial", "stdio", "-device", "isa-debug-exit,iobase=0x501,iosize=2"] +
            list(devices) + ["-kernel", kernel, "-append", cmdline])


def qemu_disk(img, opts=""):
    """One raw image as QEMU's modern (non-transitional) virtio-blk-pci, the
    device pvguest drives; opts: more -drive options (",cache=none,...")."""
    return ["-drive", f"file={img},if=none,format=raw,id=d0{opts}",
            "-device", "virtio-blk-pci,drive=d0,disable-legacy=on"]


def net_cmdline(test, extra=""):
    """pvguest's command line for a network test on netns.TapNs's network."""
    c = (f"pvguest.run={test} pvguest.net_ip={netns.GUEST_IP} "
         f"pvguest.net_peer={netns.HOST_IP} pvguest.net_port={netns.PEER_PORT} console=ttyS0")
    return c + (" " + extra if extra else "")


def vireo_net(queues=1):
    """vireo's NIC on netns.TAP, with the guest's MAC."""
    return ["--net", f"tap={netns.TAP},mac={netns.GUEST_MAC}" +
            (f",queues={queues}" if queues > 1 else "")]


def qemu_net(queues=1):
    """QEMU's NIC on netns.TAP: the modern virtio-net-pci, vhost=off (no
    /dev/vhost-net here, and the reference is QEMU's own userspace device),
    romfile= (no iPXE option ROM: not installed here, and not what is tested)."""
    netdev = f"tap,id=n0,ifname={netns.TAP},script=no,downscript=no,vhost=off"
    dev = f"virtio-net-pci,netdev=n0,disable-legacy=on,mac={netns.GUEST_MAC},romfile="
    if queues > 1:
        netdev += f",queues={queues}"
        dev += f",mq=on,vectors={2 * queues + 2}"
    return ["-netdev", netdev, "-device", dev]


def vcpu_thread(vmm, i=0):
    """The name of vCPU i's thread: vireo's own, QEMU's with thread_names."""
    return f"vcpu{i}" if vmm == "vireo" else f"CPU {i}/KVM"


# --- microvm ---------------------------------------------------------------
# Why an older pvguest cannot run on microvm (checked by hand with QEMU 7.2
# and SeaBIOS 1.16.2): the machine has no PCI port 0xcf8 and no MCFG (the
# ECAM base is only in the host bridge's _CBA in the DSDT), and SeaBIOS's
# microvm build does not set PCI up ("Detected non-PCI system"), so BARs
# stay unassigned. pvguest reads _CBA and places BARs itself since commit
# fbd0f87.
MICROVM_NO_PCI = (
    "this pvguest finds no PCI under -M microvm,pcie=on, which has no port 0xcf8 and "
    "no MCFG (its ECAM is only in the DSDT's _CBA); pvguest from commit fbd0f87 on "
    "reads the _CBA: rebuild it")
MICROVM_NO_BARS = (
    "this pvguest finds the device under -M microvm,pcie=on but not its BARs, which "
    "SeaBIOS's microvm build leaves unassigned; pvguest from commit fbd0f87 on places "
    "them itself: rebuild it")


class Skip(RuntimeError):
    """A system that cannot be measured on this host or with this guest
    (reported with the reason, not as a failure)."""


def microvm_skip_reason(failure, pci_cmd, what, timeout):
    """Why pvguest found no usable `what` device under microvm, or None when
    the failure is something else. pci_cmd: the same machine booting
    pvguest's `pci` test, run to tell whether the guest sees PCI at all."""
    if not re.search(r"no-device|no-common-cfg|no-notify-cfg|no-isr-cfg", failure):
        return None
    p = subprocess.run(pci_cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    m = re.search(r"^PVGUEST RESULT pci .*$", p.stdout.decode(errors="replace"), re.M)
    pci = m.group(0).strip() if m else f"no pci result (status {p.returncode})"
    if "why=no-conf1" in pci:
        why = MICROVM_NO_PCI
    elif re.search(r"no-common-cfg|no-notify-cfg|no-isr-cfg", failure):
        why = MICROVM_NO_BARS
    else:
        why = f"pvguest cannot open the {what} device under -M microvm,pcie=on"
    return f"{why} (guest: `{failure}`; pci test: `{pci}`)"


# --- pvguest's output ------------------------------------------------------

ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1bc|\r")


def serial_text(text):
    """The serial stream without CRs and SeaBIOS's terminal escapes."""
    return ESCAPES.sub("", text)


def parse_kv(s):
    """The key=value words of a line (PVGUEST BENCH ..., NETPEER ...)."""
    return {k: v for k, _, v in (t.partition("=") for t in s.split()) if _}
