/* Fake guest RAM for tests and fuzz targets: caller memory laid out as the
 * x86 VMM lays out guest RAM (below the PCI hole, the rest at 4 GiB).
 * Header-only and free of cmocka. */
#ifndef VIREO_TEST_FAKE_MEM_H
#define VIREO_TEST_FAKE_MEM_H

#include <stdint.h>

#include "arch/x86/layout.h"
#include "core/gmem.h"

static inline int fake_gmem_init(struct gmem *m, void *backing, uint64_t size)
{
	struct gmem_layout l;

	layout_ram(size, &l);
	return gmem_init_fake(m, backing, &l);
}

#endif
