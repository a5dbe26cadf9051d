"""Network namespaces for the network tests and bench/net.py: one with a TAP
(vtap0, 10.77.0.1/24) for a VMM, a veth pair between two, one with only
loopback, all made with iproute2 and removed on the way out (context managers).
Not the VMM's command line (vmm.py) nor what runs inside (the scripts)."""
import ctypes
import os
import socket
import subprocess
import threading

TAP = "vtap0"
HOST_IP = "10.77.0.1"
GUEST_IP = "10.77.0.2"
PREFIX = 24
GUEST_MAC = "52:54:00:12:34:56"
VETH_IPS = ("10.78.0.1", "10.78.0.2")   # ends A and B of a veth pair
PEER_PORT = 7777    # the host end's UDP port (netpeer echo or sink at HOST_IP)

CLONE_NEWNET = 0x40000000
_seq = 0


def _ip(*args, check=True):
    p = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and p.returncode:
        raise RuntimeError(f"ip {' '.join(args)}: {p.stderr.strip() or p.returncode}")
    return p


def _name(tag):
    global _seq
    _seq += 1
    return f"vireo-{tag}-{os.getpid()}-{_seq}"


# Everything is made inside namespaces this module creates, never in the
# caller's own; deleting a namespace deletes the links in it. Use them as
# context managers, so that they go away on every path, failures included:
#
#     with netns.TapNs() as ns:
#         p = subprocess.Popen(ns.cmd(["vireo", "run", ...]))
#
# Needs root. host_support() says why a host cannot run these at all.


def host_support():
    """None if this host can create namespaces and TAP devices, else a
    short reason. It looks only at the host (the device node, the kernel's
    netns support, iproute2, root), never at vireo."""
    if not os.path.exists("/dev/net/tun"):
        return "no /dev/net/tun"
    try:
        os.close(os.open("/dev/net/tun", os.O_RDWR))
    except OSError as e:
        return f"/dev/net/tun: {e.strerror}"
    if not os.path.exists("/proc/self/ns/net"):
        return "the kernel has no network namespaces"
    if subprocess.run(["sh", "-c", "command -v ip"], capture_output=True).returncode:
        return "no ip (iproute2)"
    if os.geteuid() != 0:
        return "not root"
    try:
        p = subprocess.run(["unshare", "--net", "true"], capture_output=True, text=True)
    except FileNotFoundError:
        return None     # no util-linux unshare: let `ip netns add` be the test
    if p.returncode:
        return f"cannot create a network namespace: {p.stderr.strip()}"
    return None


class Netns:
    """A fresh network namespace with loopback up and IPv6 off (no router
    solicitations or neighbour discovery on its links: the guest and the
    measurements see only the test's own traffic)."""

    def __init__(self, tag="net"):
        self.name = _name(tag)
        self._made = False

    def create(self):
        _ip("netns", "add", self.name)
        self._made = True
        self.run(["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
                  "net.ipv6.conf.default.disable_ipv6=1"], check=False)
        _ip("-n", self.name, "link", "set", "lo", "up")
        return self

    def destroy(self):
        if self._made:
            _ip("netns", "del", self.name, check=False)
            self._made = False

    def cmd(self, argv):
        """argv, to be run inside this namespace (exec'ed by ip: the
        process started is the command itself, same pid)."""
        return ["ip", "netns", "exec", self.name, *argv]

    def run(self, argv, check=True, **kw):
        p = subprocess.run(self.cmd(argv), capture_output=True, text=True, **kw)
        if check and p.returncode:
            raise RuntimeError(f"in {self.name}: {' '.join(argv)}: "
                               f"{(p.stderr or p.stdout).strip() or p.returncode}")
        return p

    def ip(self, *args, check=True):
        return _ip("-n", self.name, *args, check=check)

    def __enter__(self):
        try:
            return self.create()
        except BaseException:
            self.destroy()
            raise

    def __exit__(self, *exc):
        self.destroy()
        return False


class TapNs(Netns):
    """A namespace with a persistent TAP (vtap0, no process attached yet)
    at 10.77.0.1/24, up. multi_queue: made with IFF_MULTI_QUEUE, as a VMM
    that opens it with queues > 1 needs. guest_mac: also a permanent
    neighbour entry for the guest (10.77.0.2), so that host -> guest
    traffic does not depend on the guest answering ARP (benchmarks only;
    the tests leave ARP to the guest)."""

    def __init__(self, multi_queue=False, guest_mac=None, tag="tap"):
        super().__init__(tag)
        self.multi_queue = multi_queue
        self.guest_mac = guest_mac
        self.tap = TAP

    def create(self):
        super().create()
        self.ip("tuntap", "add", "dev", TAP, "mode", "tap",
                *(["multi_queue"] if self.multi_queue else []))
        self.ip("addr", "add", f"{HOST_IP}/{PREFIX}", "dev", TAP)
        self.ip("link", "set", TAP, "up")
        if self.guest_mac:
            self.ip("neigh", "replace", GUEST_IP, "lladdr", self.guest_mac, "dev", TAP,
                    "nud", "permanent")
        return self

    def destroy(self):
        if self._made:
            self.ip("link", "del", TAP, check=False)
        super().destroy()

    def packet_socket(self, listen=False):
        """A raw packet socket on this namespace's TAP, made from a thread
        that enters the namespace (a socket stays in the namespace it was
        made in; the caller's own threads stay where they are). It sends;
        with listen it also receives every frame on the TAP, both ways
        (ETH_P_ALL)."""
        made = []

        def enter_and_make():
            libc = ctypes.CDLL(None, use_errno=True)
            fd = os.open(f"/run/netns/{self.name}", os.O_RDONLY)
            try:
                if libc.setns(fd, CLONE_NEWNET):
                    raise OSError(ctypes.get_errno(), "setns")
            finally:
                os.close(fd)
            # ETH_P_ALL: socket() takes it in network order, bind() in
            # host order (Python swaps it there)
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW,
                              socket.htons(0x0003) if listen else 0)
            s.bind((TAP, 0x0003 if listen else 0))
            made.append(s)
        t = threading.Thread(target=enter_and_make)
        t.start()
        t.join()
        if not made:
            raise RuntimeError(f"in {self.name}: no packet socket on {TAP}")
        return made[0]

    @staticmethod
    def send_junk_frame(sock):
        """One broadcast frame of a local experimental EtherType towards the
        guest: traffic no stack answers, that a NIC must still take or drop."""
        try:
            sock.send(b"\xff" * 6 + b"\x02\x00\x00\x00\x00\x01" + b"\x88\xb5" + bytes(46))
        except OSError:
            pass

    def tap_stats(self):
        """The TAP's counters as the host sees them (rx = from the guest)."""
        base = f"/sys/class/net/{TAP}/statistics/"
        names = ("rx_packets", "tx_packets", "rx_dropped", "tx_dropped")
        p = self.run(["cat"] + [base + n for n in names], check=False)
        vals = p.stdout.split()
        return dict(zip(names, map(int, vals))) if len(vals) == len(names) else {}


class VethPair:
    """Two fresh namespaces, a and b, joined by a veth pair: a's end at
    10.78.0.1/24, b's at 10.78.0.2/24. The baseline that containers get."""

    def __init__(self):
        self.a = Netns("veth-a")
        self.b = Netns("veth-b")
        self.ips = VETH_IPS

    def __enter__(self):
        try:
            self.a.create()
            self.b.create()
            self.a.ip("link", "add", "veth0", "type", "veth", "peer", "name", "veth0",
                      "netns", self.b.name)
            for ns, addr in ((self.a, self.ips[0]), (self.b, self.ips[1])):
                ns.ip("addr", "add", f"{addr}/24", "dev", "veth0")
                ns.ip("link", "set", "veth0", "up")
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc):
        if self.a._made:
            self.a.ip("link", "del", "veth0", check=False)
        self.a.destroy()
        self.b.destroy()
        return False
