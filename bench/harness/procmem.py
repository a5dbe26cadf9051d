"""A process's resident memory from /proc/PID/smaps: the total, the part
that is one mapping of a given size (a VM's guest RAM), and the private
part. Not what a figure means for a system (each script says that)."""
import re


def smaps(pid, guest_bytes):
    """(rss, guest, private) in KiB; guest = the Rss of mappings of exactly
    guest_bytes (the VMM's mapping of guest RAM)."""
    rss = guest = private = 0
    size = 0
    cur_rss = cur_priv = 0

    def flush():
        nonlocal rss, guest, private
        rss += cur_rss
        private += cur_priv
        if size == guest_bytes // 1024:
            guest += cur_rss

    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                flush()
                lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
                size, cur_rss, cur_priv = (hi - lo) // 1024, 0, 0
            elif line.startswith("Rss:"):
                cur_rss = int(line.split()[1])
            elif line.startswith(("Private_Clean:", "Private_Dirty:")):
                cur_priv += int(line.split()[1])
    flush()
    return rss, guest, private
