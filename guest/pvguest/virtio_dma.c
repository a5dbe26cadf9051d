/* virtio_dma.c: the arena behind virtio_dma.h. It lives in .noinit, so it
 * costs no image bytes and is not cleared at boot; each allocation is
 * zeroed instead. */
#include "virtio_dma.h"
#include "lib.h"

static uint8_t arena[VIRTIO_DMA_ARENA] __attribute__((aligned(4096), section(".noinit")));
static size_t used;

void *virtio_dma_alloc(size_t size, size_t align)
{
	if (!align || (align & (align - 1)))
		return NULL;
	size_t start = (used + align - 1) & ~(align - 1);
	if (start < used || start > sizeof(arena) || size > sizeof(arena) - start)
		return NULL;
	used = start + size;
	memset(arena + start, 0, size);
	return arena + start;
}

size_t virtio_dma_left(void)
{
	return sizeof(arena) - used;
}

size_t virtio_dma_mark(void)
{
	return used;
}

void virtio_dma_release(size_t mark)
{
	if (mark <= used)
		used = mark;
}
