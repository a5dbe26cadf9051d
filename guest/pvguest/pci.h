/* pci.h: PCI configuration space from ring 3, through the conf1 ports
 * (0xCF8/0xCFC; the TSS I/O bitmap grants them) or ECAM (MMIO, mapped
 * user-accessible). The base for ECAM comes from the ACPI MCFG.
 * BSP, ring 3; nothing here is thread-safe. */
#ifndef PVGUEST_PCI_H
#define PVGUEST_PCI_H

#include <stdint.h>
#include "boot.h"

#define PCI_SLOTS 32

/* The config-space mechanism drivers use, chosen on first use: ECAM when
 * the ACPI tables name a valid one for bus 0 (pci_ecam_find) and 00.0
 * answers through it (one exit per access
 * instead of conf1's two, and the only way on a machine without the conf1
 * ports, such as QEMU microvm,pcie=on), else conf1 if its latch answers,
 * else none (reads return all ones, writes are dropped). */
uint32_t pci_read32(unsigned bus, unsigned slot, unsigned fn, unsigned off);
void pci_write32(unsigned bus, unsigned slot, unsigned fn, unsigned off, uint32_t v);
/* "ecam", "conf1" or "none". */
const char *pci_mechanism(void);
/* Why ECAM is not in use ("no-mcfg-no-cba", a validation failure such as
 * "mcfg-length", "ecam-unmappable", "ecam-empty"), or NULL when it is. */
const char *pci_ecam_why(void);
/* The ECAM base in use and its last bus; 0 when the mechanism is not ECAM. */
uint64_t pci_ecam_base(unsigned *end_bus);

/* An address for a memory BAR of the given size (a power of two) that the
 * firmware left unassigned (SeaBIOS's microvm build assigns none), from the
 * host bridge's memory windows in the DSDT's _CRS: below 4 GiB first, the
 * window above 4 GiB for a 64-bit BAR that does not fit there. A bump
 * allocator, naturally aligned; it assumes the firmware placed nothing in
 * those windows. Returns 0, -EINVAL, or -ENOSPC (no window, or full). */
int pci_bar_alloc(uint64_t size, int is64, uint64_t *addr) __attribute__((warn_unused_result));

/* The mechanisms themselves, for the test that checks they agree. */
/* True if a conf1 host bridge answers: its address latch reads back. */
int pci_conf1_present(void);
uint32_t pci_conf1_read32(unsigned bus, unsigned slot, unsigned fn, unsigned off);
void pci_conf1_write32(unsigned bus, unsigned slot, unsigned fn, unsigned off, uint32_t v);

/* The ECAM of segment 0: its base (for bus 0) and last bus; 0 if none.
 * From the MCFG allocation for segment 0 starting at bus 0; without an MCFG
 * (QEMU microvm,pcie=on has none), from the host bridge's _CBA in the DSDT,
 * bus 0 only. *source says which ("mcfg", "dsdt-cba"). The tables are VMM
 * input: a table or entry that fails the checks (checksums, lengths, a
 * 1 MiB-aligned base, the window inside the physical address space and
 * clear of RAM) returns 0 with *err naming the problem; *err is left alone
 * when there is simply no ECAM described. Does not map the window. */
uint64_t pci_ecam_find(const struct boot_info *bi, unsigned *end_bus, const char **err,
		       const char **source);
/* Raw ECAM access at base ecam; the window must be mapped (pci_read32's
 * first use maps the one it picks). */
uint32_t pci_ecam_read32(uint64_t ecam, unsigned bus, unsigned slot, unsigned fn, unsigned off);
void pci_ecam_write32(uint64_t ecam, unsigned bus, unsigned slot, unsigned fn, unsigned off,
		      uint32_t v);

#endif
