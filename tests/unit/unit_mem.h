/* Fake guest RAM for unit tests: an anonymous MAP_NORESERVE mapping (zeroed,
 * and untouched pages cost nothing, so 3 GiB layouts are cheap) wrapped by
 * fake_gmem_init(). Header-only so each test stays one file. */
#ifndef VIREO_TEST_UNIT_MEM_H
#define VIREO_TEST_UNIT_MEM_H

#include <stdint.h>
#include <sys/mman.h>

#include "core/gmem.h"
#include "fake_mem.h"

struct test_mem {
	struct gmem m;
	uint8_t *buf;             /* 2 MiB-aligned, as vireo maps guest RAM */
	uint64_t size;
	uint8_t *raw;             /* the mapping, 2 MiB more */
};

#define TEST_MEM_ALIGN (UINT64_C(2) << 20)

static inline int test_mem_init(struct test_mem *t, uint64_t size)
{
	void *p = mmap(NULL, size + TEST_MEM_ALIGN, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED)
		return -1;
	t->raw = p;
	t->buf = (uint8_t *)(((uintptr_t)p + TEST_MEM_ALIGN - 1) & ~(uintptr_t)(TEST_MEM_ALIGN - 1));
	t->size = size;
	fake_gmem_init(&t->m, t->buf, size);
	return 0;
}

static inline void test_mem_free(struct test_mem *t)
{
	munmap(t->raw, t->size + TEST_MEM_ALIGN);
	t->buf = t->raw = NULL;
}

/* The host address of guest-physical gpa; the test fails if it is not RAM. */
#define TEST_GPA(t, gpa, len) test_gpa_or_fail(&(t)->m, (gpa), (len), __FILE__, __LINE__)

static inline void *test_gpa_or_fail(struct gmem *m, uint64_t gpa, uint64_t len,
				     const char *file, int line)
{
	void *p = gmem_ptr(m, gpa, len);

	if (!p)
		_fail(file, line);
	return p;
}

#endif
