/* Guest RAM mapping and the checked accessor; see gmem.h. */
#include "core/gmem.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

static void gmem_layout(struct gmem *m, uint8_t *base, uint64_t ram_size)
{
	uint64_t low = ram_size < GMEM_HOLE_START ? ram_size : GMEM_HOLE_START;

	m->ram_size = ram_size;
	m->nr_regions = 1;
	m->region[0] = (struct gmem_region){ .gpa = 0, .size = low, .hva = base };
	if (ram_size > low) {
		m->region[1] = (struct gmem_region){
			.gpa = GMEM_HIGH_START, .size = ram_size - low, .hva = base + low,
		};
		m->nr_regions = 2;
	}
}

int gmem_init(struct gmem *m, uint64_t ram_size, bool huge_pages)
{
	void *p;

	memset(m, 0, sizeof(*m));
	if (ram_size == 0 || ram_size > (1ull << 46))
		return -EINVAL;
	p = mmap(NULL, ram_size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	/* Guest RAM must never end up in a host core dump. */
	madvise(p, ram_size, MADV_DONTDUMP);
	/* Huge pages where the host allows: fewer TLB misses for the guest,
	 * and an O_DIRECT request over guest buffers needs far fewer host
	 * segments (1 MiB in 4 KiB pages is 256 of them, more than many disks
	 * take in one request). Only a hint: without THP nothing changes.
	 * Without them (thp=off) NOHUGEPAGE, so that a host whose THP is
	 * "always" gives 4 KiB pages too: what a benchmark compares. */
	madvise(p, ram_size, huge_pages ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	m->mapping = p;
	m->mapping_len = ram_size;
	m->mapped = true;
	gmem_layout(m, p, ram_size);
	return 0;
}

void gmem_init_fake(struct gmem *m, void *backing, uint64_t ram_size)
{
	memset(m, 0, sizeof(*m));
	m->mapping = backing;
	m->mapping_len = ram_size;
	gmem_layout(m, backing, ram_size);
}

void gmem_destroy(struct gmem *m)
{
	if (m->mapped && m->mapping)
		munmap(m->mapping, m->mapping_len);
	memset(m, 0, sizeof(*m));
}

void *gmem_ptr(const struct gmem *m, uint64_t gpa, uint64_t len)
{
	if (len == 0)
		len = 1;
	for (unsigned i = 0; i < m->nr_regions; i++) {
		const struct gmem_region *r = &m->region[i];

		/* written so that no sum can overflow */
		if (gpa >= r->gpa && gpa - r->gpa < r->size && len <= r->size - (gpa - r->gpa))
			return r->hva + (gpa - r->gpa);
	}
	return NULL;
}

uint64_t gmem_end(const struct gmem *m)
{
	const struct gmem_region *r = &m->region[m->nr_regions - 1];

	return r->gpa + r->size;
}

uint64_t gmem_low_size(const struct gmem *m)
{
	return m->region[0].size;
}
