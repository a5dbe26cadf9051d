/* pci.h: PCI configuration space from ring 3, through the conf1 ports
 * (0xCF8/0xCFC; the TSS I/O bitmap grants them) or ECAM (MMIO, mapped
 * user-accessible). The base for ECAM comes from the ACPI MCFG. */
#ifndef PVGUEST_PCI_H
#define PVGUEST_PCI_H

#include <stdint.h>
#include "boot.h"

#define PCI_SLOTS 32

/* True if a conf1 host bridge answers: its address latch reads back. */
int pci_conf1_present(void);
uint32_t pci_conf1_read32(unsigned bus, unsigned slot, unsigned fn, unsigned off);
void pci_conf1_write32(unsigned bus, unsigned slot, unsigned fn, unsigned off, uint32_t v);

/* ECAM of segment 0 from the MCFG: base and bus range; 0 if none. */
uint64_t pci_ecam_find(const struct boot_info *bi, unsigned *end_bus, const char **err);
uint32_t pci_ecam_read32(uint64_t ecam, unsigned bus, unsigned slot, unsigned fn, unsigned off);
void pci_ecam_write32(uint64_t ecam, unsigned bus, unsigned slot, unsigned fn, unsigned off,
		      uint32_t v);

#endif
