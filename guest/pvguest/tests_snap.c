/* tests_snap.c: "snap,rounds=N,ms=M" keeps a disk and the CPU busy while
 * the VMM pauses, snapshots and restores the VM underneath it. Each round
 * i writes sector i of virtio-blk 0 with a pattern of i, reads sectors
 * 0..i back and checks every one, bumps a counter kept in memory and in a
 * register-heavy loop, then prints "PVGUEST INFO snap round=i" and waits
 * M ms. A harness snapshots after some round and restores in a new
 * process: the rounds must go on from the next one, every sector written
 * before the snapshot must read back after it, and the RESULT line says
 * rounds=N once all ran. */
#include "tests.h"
#include "lib.h"
#include "virtio_blk.h"
#include "virtio_defs.h"
#include "virtio_dma.h"
#include "virtio_dev.h"

#define SNAP_QSIZE 16

static void snap_fill(uint8_t *s, uint64_t round)
{
	for (unsigned k = 0; k < 512; k++)
		s[k] = (uint8_t)(round * 31 + k * 7 + 1);
}

enum test_status test_snap(struct test_ctx *c)
{
	static struct vdev dev;
	static struct vblk blk;
	static uint8_t *want, *got;
	char val[32];
	uint64_t rounds = 40, ms = 50, counter = 0;

	if (optlist_get(c->opts, "rounds", val, sizeof(val)) >= 0 && parse_u64(val, &rounds, 0))
		return test_fail(c, "bad-option", "rounds=%s is not a number", val);
	if (optlist_get(c->opts, "ms", val, sizeof(val)) >= 0 && parse_u64(val, &ms, 0))
		return test_fail(c, "bad-option", "ms=%s is not a number", val);
	if (vdev_find(VIRTIO_ID_BLOCK, 0, &dev))
		return test_fail(c, dev.why, "no virtio-blk device %s", vdev_where());
	if (vblk_open(&blk, &dev, 0, SNAP_QSIZE, 0))
		return test_fail(c, dev.why ? dev.why : "open-failed", "opening the disk");
	if (blk.cfg.capacity < rounds)
		return test_fail(c, "small-disk", "%lu sectors for %lu rounds",
				 (unsigned long)blk.cfg.capacity, (unsigned long)rounds);
	want = virtio_dma_alloc(512, 512);
	got = virtio_dma_alloc(512, 512);
	if (!want || !got)
		return test_fail(c, "no-memory", "no DMA memory for two sectors");
	for (uint64_t i = 0; i < rounds; i++) {
		snap_fill(want, i);
		if (vblk_write(&blk, i, want, 512))
			return test_fail(c, "write-failed", "round %lu: writing sector %lu",
					 (unsigned long)i, (unsigned long)i);
		for (uint64_t j = 0; j <= i; j++) {
			snap_fill(want, j);
			if (vblk_read(&blk, j, got, 512))
				return test_fail(c, "read-failed", "round %lu: reading sector %lu",
						 (unsigned long)i, (unsigned long)j);
			if (memcmp(want, got, 512))
				return test_fail(c, "data-lost", "round %lu: sector %lu is not what "
						 "round %lu wrote", (unsigned long)i,
						 (unsigned long)j, (unsigned long)j);
		}
		counter++;
		if (counter != i + 1)
			return test_fail(c, "counter", "round %lu: counter %lu", (unsigned long)i,
					 (unsigned long)counter);
		test_info(c, "round=%lu", (unsigned long)i);
		udelay(ms * 1000);
	}
	test_kv(c, "rounds=%lu counter=%lu", (unsigned long)rounds, (unsigned long)counter);
	return TEST_PASS;
}
