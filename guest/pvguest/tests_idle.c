/* tests_idle.c: "idle" halts this CPU for good after READY, leaving the VM
 * alive but quiet, so a benchmark can measure the VMM's footprint while a
 * guest runs (bench/start.py). It never reports a result: the harness kills
 * the VM.
 *
 *   pvguest.run=idle[,io=1]
 *
 * With io=1 it first puts the first virtio-net and virtio-blk devices to
 * work, as a guest that did some I/O and then went quiet: the NIC opened
 * (its RX buffers stay posted), the peer resolved and one datagram sent,
 * 64 sectors read; then "PVGUEST INFO idle" and the halt (bench/idle.py:
 * what the VMM costs the host once its queues have gone quiet). */
#include "tests.h"
#include "arch.h"
#include "lib.h"
#include "net_stack.h"
#include "virtio_blk.h"
#include "virtio_dma.h"

#define IDLE_READS 64

static int idle_io(struct test_ctx *c)
{
	static struct vdev nd, bd;
	static struct vnet vn;
	static struct netif ni;
	static struct vblk blk;
	uint8_t *buf;

	if (net_test_open(c, &nd, &vn, &ni, VNET_WANTED, VNET_QSIZE))
		return -1;
	if (net_udp_send(&ni, "idle", 4))
		return test_fail(c, "send-failed", "the datagram to the peer");
	if (vdev_find(VIRTIO_ID_BLOCK, 0, &bd))
		return test_fail(c, bd.why, "no virtio-blk device %s", vdev_where());
	if (vblk_open(&blk, &bd, VIRTIO_BIT(VIRTIO_F_EVENT_IDX), 64, 0))
		return test_fail(c, "open-failed", "the virtio-blk device");
	buf = virtio_dma_pages(4096);
	if (!buf)
		return test_fail(c, "no-memory", "a page");
	for (uint64_t s = 0; s < IDLE_READS; s++)
		if (vblk_read(&blk, s, buf, 512))
			return test_fail(c, "read-failed", "sector %lu", (unsigned long)s);
	test_info(c, "idle");
	return 0;
}

enum test_status test_idle(struct test_ctx *c)
{
	char val[4];

	if (optlist_get(c->opts, "io", val, sizeof(val)) >= 0 && strcmp(val, "1") == 0 &&
	    idle_io(c))
		return TEST_FAIL;
	svc_halt();
}
