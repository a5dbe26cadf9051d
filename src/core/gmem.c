/* Guest RAM mapping and the checked accessor; see gmem.h. */
#include "core/gmem.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <unistd.h>

/* The layout's total size, or 0 if it is not one gmem can map. */
static uint64_t gmem_layout_size(const struct gmem_layout *l)
{
	uint64_t total = 0, end = 0;

	if (!l->nr || l->nr > GMEM_MAX_REGIONS)
		return 0;
	for (unsigned i = 0; i < l->nr; i++) {
		uint64_t gpa = l->region[i].gpa, size = l->region[i].size;

		if (!size || size > GMEM_MAX_BYTES || gpa > UINT64_MAX - size ||
		    (i && gpa < end))
			return 0;
		end = gpa + size;
		total += size;
		if (total > GMEM_MAX_BYTES)
			return 0;
	}
	return total;
}

static void gmem_place(struct gmem *m, uint8_t *base, const struct gmem_layout *l,
		       uint64_t total)
{
	uint64_t off = 0;

	m->ram_size = total;
	m->nr_regions = l->nr;
	for (unsigned i = 0; i < l->nr; i++) {
		m->region[i] = (struct gmem_region){
			.gpa = l->region[i].gpa, .size = l->region[i].size, .hva = base + off,
		};
		off += l->region[i].size;
	}
}

/* Guest RAM at a host address aligned to 2 MiB, as the guest's own
 * addresses are: a huge host page can then back a huge guest page (KVM
 * maps a guest 2 MiB page huge only when its host address has the same
 * offset in 2 MiB), and a balloon can give a whole one back. Linux from
 * 6.7 aligns a large anonymous mapping itself; older hosts (Debian 12's
 * 6.1) place it anywhere 4 KiB-aligned. So: reserve 2 MiB more, map over
 * the aligned part, give back the slack. MAP_FAILED with errno set. */
static void *gmem_mmap_aligned(uint64_t len, int fd)
{
	const uint64_t align = UINT64_C(2) << 20;
	int flags = fd >= 0 ? MAP_PRIVATE | MAP_NORESERVE :
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
	uint8_t *res, *p;
	uintptr_t a;
	int err;

	if (len > SIZE_MAX - align)
		return mmap(NULL, len, PROT_READ | PROT_WRITE, flags, fd, 0);
	res = mmap(NULL, len + align, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		   -1, 0);
	if (res == MAP_FAILED)
		return MAP_FAILED;
	a = ((uintptr_t)res + align - 1) & ~(uintptr_t)(align - 1);
	p = mmap((void *)a, len, PROT_READ | PROT_WRITE, flags | MAP_FIXED, fd, 0);
	if (p == MAP_FAILED) {
		err = errno;
		munmap(res, len + align);
		errno = err;
		return MAP_FAILED;
	}
	if (p > res)
		munmap(res, (size_t)(p - res));
	if (res + len + align > p + len)
		munmap(p + len, (size_t)(res + len + align - (p + len)));
	return p;
}

static int gmem_map(struct gmem *m, const struct gmem_layout *l, bool huge_pages, int fd)
{
	uint64_t ram_size = gmem_layout_size(l);
	struct stat st;
	void *p;

	memset(m, 0, sizeof(*m));
	if (!ram_size)
		return -EINVAL;
	if (fd >= 0) {
		if (fstat(fd, &st) < 0)
			return -errno;
		if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != ram_size)
			return -EINVAL;
	}
	p = gmem_mmap_aligned(ram_size, fd);
	if (p == MAP_FAILED)
		return -errno;
	/* Guest RAM must never end up in a host core dump. */
	madvise(p, ram_size, MADV_DONTDUMP);
	/* Huge pages where the host allows: fewer TLB misses for the guest,
	 * and an O_DIRECT request over guest buffers needs far fewer host
	 * segments (1 MiB in 4 KiB pages is 256 of them, more than many disks
	 * take in one request). Only a hint: without THP nothing changes.
	 * Without them NOHUGEPAGE, so that a host whose THP is "always"
	 * gives 4 KiB pages too: what a benchmark compares. */
	madvise(p, ram_size, huge_pages ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	m->mapping = p;
	m->mapping_len = ram_size;
	m->mapped = true;
	gmem_place(m, p, l, ram_size);
	return 0;
}

int gmem_init(struct gmem *m, const struct gmem_layout *l, bool huge_pages)
{
	return gmem_map(m, l, huge_pages, -1);
}

int gmem_init_file(struct gmem *m, const struct gmem_layout *l, bool huge_pages, int fd)
{
	return gmem_map(m, l, huge_pages, fd);
}

int gmem_init_file_eager(struct gmem *m, const struct gmem_layout *l, bool huge_pages, int fd)
{
	uint64_t size = gmem_layout_size(l);
	struct stat st;
	off_t data = 0, hole;
	int ret;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!size || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != size)
		return -EINVAL;
	ret = gmem_map(m, l, huge_pages, -1);
	if (ret)
		return ret;
	/* only the extents that hold data: a small guest's file is mostly holes */
	while ((data = lseek(fd, data, SEEK_DATA)) >= 0 && (uint64_t)data < size) {
		hole = lseek(fd, data, SEEK_HOLE);
		if (hole < 0 || (uint64_t)hole > size)
			hole = (off_t)size;
		while (data < hole) {
			ssize_t n = pread(fd, (uint8_t *)m->mapping + data, (size_t)(hole - data), data);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				ret = n < 0 ? -errno : -EIO;
				gmem_destroy(m);
				return ret;
			}
			data += n;
		}
	}
	if (data < 0 && errno != ENXIO) {
		ret = -errno;
		gmem_destroy(m);
		return ret;
	}
	return 0;
}

int gmem_register_uffd(struct gmem *m, int *fd)
{
	struct uffdio_api api = { .api = UFFD_API, .features = UFFD_FEATURE_EVENT_REMOVE };
	int uffd, dev, ret = 0;

	/* /dev/userfaultfd where the host has it (access by its permissions,
	 * and faults in the kernel's own accesses too: KVM's), else the call */
	dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
	if (dev >= 0) {
		uffd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
		close(dev);
	} else {
		uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	}
	if (uffd < 0)
		return -errno;
	if (ioctl(uffd, UFFDIO_API, &api) < 0)
		ret = -errno;
	for (unsigned i = 0; i < m->nr_regions && !ret; i++) {
		struct uffdio_register reg = {
			.range = { .start = (uintptr_t)m->region[i].hva, .len = m->region[i].size },
			.mode = UFFDIO_REGISTER_MODE_MISSING,
		};

		if (ioctl(uffd, UFFDIO_REGISTER, &reg) < 0)
			ret = -errno;
	}
	if (ret) {
		close(uffd);
		return ret;
	}
	*fd = uffd;
	return 0;
}

int gmem_init_fake(struct gmem *m, void *backing, const struct gmem_layout *l)
{
	uint64_t ram_size = gmem_layout_size(l);

	memset(m, 0, sizeof(*m));
	if (!ram_size)
		return -EINVAL;
	m->mapping = backing;
	m->mapping_len = ram_size;
	gmem_place(m, backing, l, ram_size);
	return 0;
}

void gmem_destroy(struct gmem *m)
{
	free(m->written);
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

void gmem_untrack_writes(struct gmem *m)
{
	free(m->written);
	m->written = NULL;
}

int gmem_track_writes(struct gmem *m)
{
	if (m->written)
		return 0;
	m->written = calloc((gmem_pages(m) + 63) / 64, sizeof(uint64_t));
	return m->written ? 0 : -ENOMEM;
}

void gmem_mark_written(const struct gmem *m, uint64_t gpa, uint64_t len)
{
	uint64_t *bits = __atomic_load_n(&m->written, __ATOMIC_ACQUIRE);
	uint64_t end = gpa + len < gpa ? UINT64_MAX : gpa + len;

	if (!bits || !len)
		return;
	for (unsigned i = 0; i < m->nr_regions; i++) {
		const struct gmem_region *r = &m->region[i];
		uint64_t base = (uint64_t)(r->hva - (uint8_t *)m->mapping), lo, hi;

		/* the part of [gpa, end) in this region */
		if (end <= r->gpa || gpa >= r->gpa + r->size)
			continue;
		lo = (gpa > r->gpa ? gpa : r->gpa) - r->gpa;
		hi = (end < r->gpa + r->size ? end : r->gpa + r->size) - r->gpa;
		for (uint64_t pg = (base + lo) >> 12; pg <= (base + hi - 1) >> 12; pg++)
			__atomic_fetch_or(&bits[pg / 64], 1ull << (pg % 64), __ATOMIC_RELAXED);
	}
}

void gmem_take_written(struct gmem *m, uint64_t *bitmap)
{
	if (!m->written)
		return;
	for (size_t w = 0; w < (gmem_pages(m) + 63) / 64; w++)
		bitmap[w] |= __atomic_exchange_n(&m->written[w], 0, __ATOMIC_ACQ_REL);
}

uint64_t gmem_offset(const struct gmem *m, uint64_t gpa)
{
	for (unsigned i = 0; i < m->nr_regions; i++) {
		const struct gmem_region *r = &m->region[i];

		if (gpa >= r->gpa && gpa - r->gpa < r->size)
			return (uint64_t)(r->hva - (uint8_t *)m->mapping) + (gpa - r->gpa);
	}
	return 0;
}
