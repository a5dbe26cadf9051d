/* Guest RAM: the host mapping of guest-physical memory and the ONE checked
 * guest-physical -> host-virtual accessor, gmem_ptr(). Knows nothing about
 * KVM (vm.c registers the regions as memslots), so unit tests build a gmem
 * from plain malloc'd memory with gmem_init_fake(). */
#ifndef VIREO_GMEM_H
#define VIREO_GMEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GMEM_MAX_REGIONS 2

struct gmem_region {
	uint64_t gpa;
	uint64_t size;
	uint8_t *hva;
};

struct gmem {
	struct gmem_region region[GMEM_MAX_REGIONS];
	unsigned nr_regions;
	uint64_t ram_size;  /* total bytes of RAM, all regions */
	void *mapping;      /* the single host mapping behind all regions */
	size_t mapping_len;
	bool mapped;        /* mapping came from mmap (else caller-owned) */
};

/* Guest-physical layout: RAM runs from 0 up to the 32-bit PCI hole, and what
 * does not fit continues at 4 GiB. */
#define GMEM_HOLE_START 0xB0000000ull
#define GMEM_HIGH_START 0x100000000ull

/* Maps ram_size bytes of anonymous memory (MAP_NORESERVE, so untouched pages
 * cost the host nothing) and lays it out around the PCI hole. huge_pages:
 * madvise it for transparent huge pages, else refuse them (4 KiB pages).
 * Returns 0 or -errno. Call once, before any vCPU runs. */
int gmem_init(struct gmem *m, uint64_t ram_size, bool huge_pages)
	__attribute__((warn_unused_result));

/* Same layout over caller-owned memory of ram_size bytes; for unit tests. */
void gmem_init_fake(struct gmem *m, void *backing, uint64_t ram_size);

void gmem_destroy(struct gmem *m);

/* The only way from a guest-physical address to host memory. Returns a
 * pointer to len bytes at gpa, or NULL unless [gpa, gpa+len) lies wholly in
 * one RAM region (overflow checked). len 0 is treated as 1. Thread-safe. */
void *gmem_ptr(const struct gmem *m, uint64_t gpa, uint64_t len);

/* Highest guest-physical address + 1 that is RAM. */
uint64_t gmem_end(const struct gmem *m);

/* Bytes of RAM below the PCI hole. */
uint64_t gmem_low_size(const struct gmem *m);

#endif
