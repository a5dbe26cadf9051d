/* virtio_dma.h: memory that virtio devices may read and write (rings,
 * request headers, data buffers): a bump allocator over a static arena in
 * the image. Identity mapped, so a pointer is its guest-physical address.
 * Not an allocator for anything else; nothing is ever freed singly. */
#ifndef PVGUEST_VIRTIO_DMA_H
#define PVGUEST_VIRTIO_DMA_H

#include <stddef.h>
#include <stdint.h>

#define VIRTIO_DMA_ARENA (8u << 20)    /* bytes; pvguest must end below 16 MiB */

/* Zeroed memory of size bytes aligned to align (a power of two, >= 1), or
 * NULL when the arena is exhausted. BSP, ring 3. */
void *virtio_dma_alloc(size_t size, size_t align);
/* A page-aligned allocation of whole pages. */
static inline void *virtio_dma_pages(size_t size)
{
	return virtio_dma_alloc((size + 4095) & ~(size_t)4095, 4096);
}
/* Bytes still free, and a rollback point: every allocation made after
 * virtio_dma_mark() is released by virtio_dma_release(mark). Only when no
 * device still uses that memory (reset it first). */
size_t virtio_dma_left(void);
size_t virtio_dma_mark(void);
void virtio_dma_release(size_t mark);

static inline uint64_t virtio_dma_pa(const volatile void *p)
{
	return (uint64_t)(uintptr_t)p;
}

#endif
