/* Guest RAM: the host mapping of guest-physical memory and the ONE checked
 * guest-physical -> host-virtual accessor, gmem_ptr(). Knows neither KVM
 * (vmm/ registers the regions as memslots) nor where an architecture puts
 * RAM (arch code gives the layout), so unit tests build a gmem from plain
 * memory with gmem_init_fake(). */
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
	/* A bit per 4 KiB page of the mapping that the VMM (a device) wrote
	 * since the last gmem_take_written; NULL: not tracked. KVM's dirty
	 * log sees only the guest's own writes. */
	uint64_t *written;
};

/* Where RAM goes in guest-physical space (from arch code): nr regions in
 * ascending, non-overlapping order, back to back in one host mapping. */
struct gmem_layout {
	unsigned nr;
	struct {
		uint64_t gpa, size;
	} region[GMEM_MAX_REGIONS];
};

#define GMEM_MAX_BYTES (1ull << 46)

/* Maps the layout's bytes of anonymous memory (MAP_NORESERVE, so untouched
 * pages cost the host nothing). huge_pages: madvise it for transparent
 * huge pages, else refuse them (4 KiB pages). Returns 0, -EINVAL for a
 * layout that is empty, unordered or over GMEM_MAX_BYTES, or -errno.
 * Call once, before any vCPU runs. */
int gmem_init(struct gmem *m, const struct gmem_layout *l, bool huge_pages)
	__attribute__((warn_unused_result));

/* The same, with the RAM's bytes those of the file fd (a snapshot's
 * memory file, of exactly the layout's size): mapped private, so pages are
 * read from the file (shared with the host's page cache, and with other
 * VMs restored from it) until the guest writes them. -EINVAL when the
 * file's size is not the layout's. */
int gmem_init_file(struct gmem *m, const struct gmem_layout *l, bool huge_pages, int fd)
	__attribute__((warn_unused_result));
/* Anonymous RAM (gmem_init) with the file's bytes read into it now, its
 * holes skipped (they are zero, as untouched RAM is). Same checks. */
int gmem_init_file_eager(struct gmem *m, const struct gmem_layout *l, bool huge_pages, int fd)
	__attribute__((warn_unused_result));

/* Lazy restore (Firecracker's Uffd backend): a userfaultfd with every
 * region registered for missing-page faults (and told of pages the
 * balloon gives back), for another process to fill. *fd: the uffd
 * (close-on-exec, non-blocking). 0 or -errno. */
int gmem_register_uffd(struct gmem *m, int *fd) __attribute__((warn_unused_result));

/* The same over caller-owned memory of the layout's size; for unit tests.
 * Returns like gmem_init. */
int gmem_init_fake(struct gmem *m, void *backing, const struct gmem_layout *l);

void gmem_destroy(struct gmem *m);

/* The only way from a guest-physical address to host memory. Returns a
 * pointer to len bytes at gpa, or NULL unless [gpa, gpa+len) lies wholly in
 * one RAM region (overflow checked). len 0 is treated as 1. Thread-safe. */
void *gmem_ptr(const struct gmem *m, uint64_t gpa, uint64_t len);

/* Tracking of the VMM's writes into guest RAM (for diff snapshots and
 * migration): the bitmap allocated (all clear), 0 or -ENOMEM; and freed.
 * Before the devices run, or with them paused. */
int gmem_track_writes(struct gmem *m) __attribute__((warn_unused_result));
void gmem_untrack_writes(struct gmem *m);
/* [gpa, gpa + len) was written by the VMM: its pages' bits set (the part
 * in RAM; nothing when not tracking). Any thread. */
void gmem_mark_written(const struct gmem *m, uint64_t gpa, uint64_t len);
/* ORs the bits set since the last call into bitmap (gmem_pages bits, by
 * offset in the mapping) and clears them. */
void gmem_take_written(struct gmem *m, uint64_t *bitmap);
/* 4 KiB pages in the mapping (a memory file's pages, in order). */
static inline size_t gmem_pages(const struct gmem *m)
{
	return m->mapping_len >> 12;
}
/* The offset in the mapping (and the memory file) of gpa, which must be RAM. */
uint64_t gmem_offset(const struct gmem *m, uint64_t gpa);

/* Highest guest-physical address + 1 that is RAM. */
uint64_t gmem_end(const struct gmem *m);

/* Bytes of the first RAM region (on x86: below the PCI hole). */
uint64_t gmem_low_size(const struct gmem *m);

#endif
