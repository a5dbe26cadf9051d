"""What a benchmark report says about the host it ran on: CPU, memory, kernel,
the KVM flavour (PVM, VT-x or AMD-V, read from the loaded modules), the
versions of vireo and its peers, and the commit measured. Not a measurement."""
import os
import platform
import subprocess


def first_line(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True).stdout.splitlines()[0]
    except (OSError, IndexError):
        return "not installed"


def kvm_flavour():
    for module, name in (("kvm_pvm", "PVM (kvm_pvm)"), ("kvm_intel", "VT-x (kvm_intel)"),
                         ("kvm_amd", "AMD-V (kvm_amd)")):
        if os.path.isdir(f"/sys/module/{module}"):
            return name
    return "unknown"


def host_info(vireo, tools=("qemu-system-x86_64",), img_dir=None):
    """tools: peers whose `--version` first line goes in the report."""
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kib = int(f.readline().split()[1])
    info = {"cpu": cpu, "cores": os.cpu_count(), "mem_gib": round(mem_kib / (1 << 20), 1),
            "commit": first_line(["git", "describe", "--always", "--dirty"]),
            "kernel": platform.release(), "kvm": kvm_flavour(),
            "vireo": first_line([vireo, "--version"])}
    for tool in tools:
        info["qemu" if tool.startswith("qemu") else tool] = first_line([tool, "--version"])
    if img_dir:
        info["image_fs"] = " ".join(first_line(["findmnt", "-n", "-o", "FSTYPE,SOURCE",
                                                "--target", img_dir]).split())
    return info
