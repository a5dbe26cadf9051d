#!/usr/bin/env python3
"""The layer rules of shared/DESIGN.md §2, checked on every #include in src/:
each layer includes only the layers below it, device models see neither
the hardware nor KVM, and the ground knows nothing of what stands on it.

usage: check_layers.py SRC_DIR            check the tree; exit 1 on a violation
       check_layers.py --self-test SRC_DIR   also prove that injected
                                         violations are caught (on a copy)
Prints one line per violation: file:line: what may not be included, and why."""
import os
import re
import shutil
import sys
import tempfile

# layer -> the layers (or single headers) it may include besides its own
ALLOWED = {
    "base": [],
    "core": ["base"],
    "backend": ["base"],
    "arch": ["base", "core"],
    "hw": ["base", "core"],
    "virtio": ["base", "core/gmem.h"],
    "virtio-transport": ["base", "core/gmem.h", "core/irq.h", "core/bus.h", "hw/pci.h",
                         "hw/msix.h", "virtio"],
    "virtio-dev": ["base", "backend", "core/gmem.h", "virtio/virtio.h", "virtio/virtqueue.h"],
    "config": ["base"],
    "vmm": ["base", "core", "arch", "hw", "backend", "virtio", "virtio-transport",
            "virtio-dev", "config"],
    "api": ["base", "config", "vmm/vm.h", "vmm/vmm.h"],
    "sandbox": ["base"],
    "main": None,  # the top: anything
}
# system headers a layer must never include
FORBIDDEN_SYSTEM = {
    "base": ["linux/kvm.h"],
    "config": ["linux/kvm.h"],
    "virtio-dev": ["linux/kvm.h", "sys/ioctl.h"],
    "api": ["linux/kvm.h"],
}
TRANSPORTS = re.compile(r"^virtio/virtio_(pci|mmio)\.[ch]$")
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')


def layer_of(rel):
    """The layer of a path relative to src/ (a file or an included header)."""
    if rel == "main.c":
        return "main"
    if TRANSPORTS.match(rel):
        return "virtio-transport"
    if rel.startswith("virtio/dev/"):
        return "virtio-dev"
    top = rel.split("/", 1)[0]
    if top == "arch":
        return "arch"
    return top if top in ALLOWED else None


def allowed(layer, header):
    rules = ALLOWED[layer]
    if rules is None:
        return True
    target = layer_of(header)
    if target == layer:
        return True
    return target in rules or header in rules


def check(src):
    problems = []
    for root, _, files in os.walk(src):
        for name in sorted(files):
            if not name.endswith((".c", ".h")):
                continue
            path = os.path.join(root, name)
            rel = os.path.relpath(path, src)
            layer = layer_of(rel)
            if layer is None:
                problems.append(f"{rel}: in no layer (shared/DESIGN.md §2 lists them)")
                continue
            with open(path, encoding="utf-8", errors="replace") as f:
                for n, line in enumerate(f, 1):
                    m = INCLUDE.match(line)
                    if not m:
                        continue
                    kind, header = m.groups()
                    if kind == "<":
                        if header in FORBIDDEN_SYSTEM.get(layer, []):
                            problems.append(f"{rel}:{n}: {layer} may not include <{header}>")
                        continue
                    if layer_of(header) is None:
                        problems.append(f"{rel}:{n}: \"{header}\" is in no layer")
                    elif not allowed(layer, header):
                        may = ", ".join(ALLOWED[layer]) or "only itself"
                        problems.append(f"{rel}:{n}: {layer} may not include {header} "
                                        f"(it may include: {may})")
    return problems


def self_test(src):
    """Copies src, breaks one rule at a time, and expects each to be caught."""
    cases = [
        ("virtio/dev/blk.c", '#include "hw/pci.h"'),
        ("virtio/dev/net.c", "#include <linux/kvm.h>"),
        ("virtio/dev/net.c", '#include "virtio/virtio_pci.h"'),
        ("core/vcpu.c", '#include "vmm/vm.h"'),
        ("base/log.c", '#include "core/gmem.h"'),
        ("backend/tap.c", '#include "virtio/virtio.h"'),
        ("config/cli.c", '#include "backend/disk.h"'),
        ("virtio/virtio.c", '#include "virtio/dev/blk.h"'),
    ]
    failures = 0
    for rel, line in cases:
        tmp = tempfile.mkdtemp(prefix="vireo-layers-")
        try:
            copy = os.path.join(tmp, "src")
            shutil.copytree(src, copy)
            with open(os.path.join(copy, rel), "a", encoding="utf-8") as f:
                f.write(line + "\n")
            caught = [p for p in check(copy) if p.startswith(rel + ":")]
            print(f"{'ok  ' if caught else 'FAIL'} self-test: {line} in {rel}: "
                  f"{caught[0] if caught else 'not caught'}")
            failures += not caught
        finally:
            shutil.rmtree(tmp)
    return failures


def main():
    args = sys.argv[1:]
    selftest = "--self-test" in args
    args = [a for a in args if a != "--self-test"]
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    src = args[0]
    problems = check(src)
    for p in problems:
        print(p)
    print(f"layers: {len(problems)} violation(s) in {src}")
    failures = len(problems)
    if selftest:
        failures += self_test(src)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
