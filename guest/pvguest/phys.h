/* phys.h: reading firmware tables the VMM left in guest memory (identity
 * mapped, so a physical address is a pointer): unaligned little-endian
 * loads, byte checksums, bounds against what paging.c mapped, and the
 * 16-byte-aligned signature scans that MP and ACPI discovery use. Ring 3. */
#ifndef PVGUEST_PHYS_H
#define PVGUEST_PHYS_H

#include <stdint.h>
#include "boot.h"
#include "lib.h"

static inline uint8_t sum8(uint64_t pa, uint64_t len)
{
	const uint8_t *p = (const uint8_t *)pa;
	uint8_t s = 0;

	while (len--)
		s += *p++;
	return s;
}

static inline uint16_t rd16(uint64_t pa) { uint16_t v; memcpy(&v, (void *)pa, 2); return v; }
static inline uint32_t rd32(uint64_t pa) { uint32_t v; memcpy(&v, (void *)pa, 4); return v; }
static inline uint64_t rd64(uint64_t pa) { uint64_t v; memcpy(&v, (void *)pa, 8); return v; }

/* A table may only be read if it lies in mapped memory. */
static inline int readable(const struct boot_info *bi, uint64_t pa, uint64_t len)
{
	return pa && pa < bi->mapped_end && len <= bi->mapped_end - pa;
}

/* Whether [pa, end) overlaps RAM in the memory map: a device window (an
 * ECAM, a virtio-mmio window) there would alias guest memory, which no
 * sane VMM does. */
static inline int phys_overlaps_ram(const struct boot_info *bi, uint64_t pa, uint64_t end)
{
	for (uint32_t i = 0; i < bi->nr_mem; i++) {
		const struct mem_entry *m = &bi->mem[i];
		if (m->type == MEM_TYPE_RAM && m->addr < end && pa < m->addr + m->size)
			return 1;
	}
	return 0;
}

/* Scan [start, start+len) below 1 MiB on 16-byte boundaries for a signature
 * whose structure of sum_len bytes (0: the byte at offset 8 gives 16-byte
 * units) checksums to zero. */
static inline uint64_t phys_scan(uint64_t start, uint64_t len, const char *sig, size_t siglen,
				 uint64_t sum_len)
{
	for (uint64_t p = start; p + 16 <= start + len; p += 16) {
		if (memcmp((void *)p, sig, siglen) != 0)
			continue;
		uint64_t n = sum_len ? sum_len : 16ull * *(uint8_t *)(p + 8);
		if (n && p + n <= 0x100000 && sum8(p, n) == 0)
			return p;
	}
	return 0;
}

/* The EBDA segment from the BIOS data area, if it is plausible. */
static inline uint64_t ebda_base(void)
{
	uint64_t ebda = (uint64_t)rd16(0x40e) << 4;
	return ebda >= 0x80000 && ebda < 0xa0000 ? ebda : 0;
}

#endif
