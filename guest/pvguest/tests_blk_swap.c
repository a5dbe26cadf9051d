/* tests_blk_swap.c: "blk-swap,dev=N" waits for the VMM to put another file
 * behind a running disk (Firecracker's PATCH /drives/{id}, as Kata swaps
 * its placeholder drives): the capacity in the configuration changes, the
 * driver gets a configuration-change interrupt (ISR / InterruptStatus bit
 * 1), and the new file's first sector reads back. It prints
 * "PVGUEST INFO blk-swap waiting" once the device is live, so a harness
 * knows when to swap; the RESULT line carries the old and new capacity,
 * cfgirq=0|1 and the first 8 bytes of the new file as head=<hex>. */
#include "tests.h"
#include "lib.h"
#include "virtio_blk.h"
#include "virtio_defs.h"
#include "virtio_dma.h"
#include "virtio_dev.h"

#define SWAP_QSIZE 16
#define SWAP_WAIT_MS 60000   /* a failure detector only: the harness swaps at once */

enum test_status test_blk_swap(struct test_ctx *c)
{
	static struct vdev dev;
	static struct vblk blk;
	static uint8_t *sector0;
	char val[32];
	uint64_t index = 0, old_cap;
	int cfgirq = 0;

	if (optlist_get(c->opts, "dev", val, sizeof(val)) >= 0 && parse_u64(val, &index, 0))
		return test_fail(c, "bad-option", "dev=%s is not a number", val);
	if (vdev_find(VIRTIO_ID_BLOCK, (unsigned)index, &dev))
		return test_fail(c, dev.why, "dev=%lu: no such virtio-blk device %s",
				 (unsigned long)index, vdev_where());
	if (vblk_open(&blk, &dev, VIRTIO_BIT(VIRTIO_BLK_F_RO), SWAP_QSIZE, 0))
		return test_fail(c, dev.why ? dev.why : "open-failed", "opening dev=%lu",
				 (unsigned long)index);
	if (!sector0)
		sector0 = virtio_dma_alloc(512, 512);
	if (!sector0)
		return test_fail(c, "no-memory", "no DMA memory for a sector");
	old_cap = blk.cfg.capacity;
	test_info(c, "waiting capacity=%lu", (unsigned long)old_cap);
	for (unsigned ms = 0; blk.cfg.capacity == old_cap; ms++) {
		if (ms == SWAP_WAIT_MS)
			return test_fail(c, "no-swap", "capacity still %lu after %u ms",
					 (unsigned long)old_cap, SWAP_WAIT_MS);
		udelay(1000);
		if (vdev_interrupt(&dev) & VIRTIO_PCI_ISR_CONFIG)
			cfgirq = 1;
		vblk_read_config(&blk);
	}
	/* the interrupt may trail the configuration by a moment */
	for (unsigned ms = 0; !cfgirq && ms < 100; ms++) {
		udelay(1000);
		if (vdev_interrupt(&dev) & VIRTIO_PCI_ISR_CONFIG)
			cfgirq = 1;
	}
	test_kv(c, "old_capacity=%lu capacity=%lu cfgirq=%d", (unsigned long)old_cap,
		(unsigned long)blk.cfg.capacity, cfgirq);
	if (blk.cfg.capacity && vblk_read(&blk, 0, sector0, 512))
		return test_fail(c, "read-failed", "reading sector 0 of the new file");
	if (blk.cfg.capacity)
		test_kv(c, "head=%02x%02x%02x%02x%02x%02x%02x%02x", sector0[0], sector0[1],
			sector0[2], sector0[3], sector0[4], sector0[5], sector0[6], sector0[7]);
	if (!cfgirq)
		return test_fail(c, "no-config-irq", "the capacity changed without a "
				 "configuration-change interrupt");
	return TEST_PASS;
}
