/* Where vireo puts things in guest-physical memory on x86. One place, so the
 * loaders, the e820 map and the MP table can never disagree. */
#ifndef VIREO_X86_LAYOUT_H
#define VIREO_X86_LAYOUT_H

#include <stdint.h>

#include "core/gmem.h"

/* Low memory, all below 1 MiB and above the real-mode IVT/BDA. */
#define LAYOUT_BOOT_GDT        0x0500ull  /* flat GDT for both entry modes */
#define LAYOUT_PVH_INFO        0x6000ull  /* hvm_start_info, modlist, memmap */
#define LAYOUT_ZERO_PAGE       0x7000ull  /* Linux struct boot_params */
#define LAYOUT_PML4            0x9000ull  /* identity page tables for 64-bit entry */
#define LAYOUT_PDPT            0xA000ull
#define LAYOUT_PD              0xB000ull  /* 4 pages: 4 GiB of 2 MiB pages */
#define LAYOUT_CMDLINE         0x20000ull
#define LAYOUT_CMDLINE_MAX     0x10000ull /* room reserved for the cmdline */
#define LAYOUT_EBDA_START      0x9FC00ull /* MP table; reserved up to 1 MiB */
#define LAYOUT_ACPI_BASE       0xE0000ull /* RSDP first: where legacy scans look */
#define LAYOUT_ACPI_SIZE       0x10000ull
#define LAYOUT_HIMEM_START     0x100000ull /* kernels load here */

/* RAM runs from 0 up to the 32-bit PCI hole, [LAYOUT_PCI_HOLE_START,
 * 4 GiB), and what does not fit continues at 4 GiB. */
#define LAYOUT_PCI_HOLE_START  0xB0000000ull
#define LAYOUT_HIGH_RAM_START  0x100000000ull
#define LAYOUT_ECAM_BASE       0xB0000000ull
#define LAYOUT_ECAM_SIZE       0x10000000ull /* 256 buses */
#define LAYOUT_MMIO32_BASE     0xC0000000ull
#define LAYOUT_MMIO32_SIZE     0x3E000000ull /* up to the virtio-mmio windows */
/* With --boot-timer its page is the MMIO32 space's first, where Firecracker
 * puts it, and the PCI window starts after it. */
#define LAYOUT_BOOT_TIMER_BASE LAYOUT_MMIO32_BASE
#define LAYOUT_VIRTIO_MMIO_BASE 0xFE000000ull /* one window per device, up to the IOAPIC */
#define LAYOUT_VIRTIO_MMIO_SIZE 0x00C00000ull
#define LAYOUT_IOAPIC_BASE     0xFEC00000ull
#define LAYOUT_LAPIC_BASE      0xFEE00000ull
#define LAYOUT_IDENTITY_MAP    0xFFFBC000ull /* KVM_SET_IDENTITY_MAP_ADDR, 1 page */
#define LAYOUT_TSS             0xFFFBD000ull /* KVM_SET_TSS_ADDR, 3 pages */

/* GDT selectors as both boot protocols expect (__BOOT_CS/__BOOT_DS). */
#define LAYOUT_SEL_CS32        0x08
#define LAYOUT_SEL_CS          0x10
#define LAYOUT_SEL_DS          0x18
#define LAYOUT_SEL_TSS         0x20

/* Where ram_size bytes of guest RAM go. */
static inline void layout_ram(uint64_t ram_size, struct gmem_layout *l)
{
	uint64_t low = ram_size < LAYOUT_PCI_HOLE_START ? ram_size : LAYOUT_PCI_HOLE_START;

	l->nr = 1;
	l->region[0].gpa = 0;
	l->region[0].size = low;
	if (ram_size > low) {
		l->region[1].gpa = LAYOUT_HIGH_RAM_START;
		l->region[1].size = ram_size - low;
		l->nr = 2;
	}
}

/* The IOAPIC pin (GSI) of virtio-mmio device i, or 0 when none is left:
 * 5 onward, past the UART's 4 and skipping 8 (the RTC's, where a guest
 * may look for one). Edge-triggered, active high. */
static inline unsigned layout_virtio_mmio_gsi(unsigned i)
{
	unsigned gsi = 5 + i + (i >= 3);

	return gsi <= 23 ? gsi : 0;
}

/* Linux's x86 COMMAND_LINE_SIZE, which bounds a PVH cmdline (incl. NUL). */
#define LAYOUT_PVH_CMDLINE_SIZE 2048

#endif
