/* libFuzzer target: the virtio-balloon device as a hostile guest drives it.
 * The input is laid into guest memory as the five queues' descriptor
 * tables, rings, PFN arrays, statistics buffers, hints and reported ranges
 * (avail indexes included), picks the features, the kicks on each queue,
 * config-space writes, statistics polls and hinting runs started and
 * stopped.
 * Afterwards the device must not have crashed, hung, or touched memory
 * outside guest RAM (ASan; guest RAM is an anonymous mapping, so every
 * MADV_DONTNEED is real), no chain may have acted on more PFNs than the
 * per-request cap, and a reset must leave it serving. Built with
 * -DFUZZ_GEN_SEEDS it writes a few well-formed rings as seeds. */
#include <errno.h>
#include <linux/virtio_balloon.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "fake_dev.h"
#include "fake_mem.h"
#include "virtio/dev/balloon.h"

#define FZ_MEM (1u << 20)
#define FZ_QSIZE 16
/* queues 3 and 4 above the seeds' buffers (0x6000 to 0xbfff) */
#define FZ_RING(q) ((q) < 3 ? 0x1000ull + 0x2000ull * (q) : 0xc000ull + 0x2000ull * ((q) - 3))
#define FZ_KICKS 4
#define FZ_HDR 16
#define FZ_NQ 5                 /* inflateq, deflateq, statsq, free_page_vq, reporting_vq */

#ifndef FUZZ_GEN_SEEDS
struct fz {
	uint8_t *ram;
	struct gmem mem;
	struct evloop loop;
	struct balloon *b;
	struct virtio_dev *d;
	struct fake_dev dev;
};

static struct fz z;

static void fz_cleanup(void)
{
	balloon_destroy(z.b);
}

static struct fz *fz_get(void)
{
	static int ready;
	struct balloon_config c = { .name = "balloon0", .target_pages = 16,
				    .deflate_on_oom = true, .free_page_reporting = true,
				    .stats_interval_s = 3600, .free_page_hinting = true };
	struct errbuf e;

	if (ready)
		return &z;
	z.ram = mmap(NULL, FZ_MEM, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (z.ram == MAP_FAILED || evloop_init(&z.loop))
		abort();
	fake_gmem_init(&z.mem, z.ram, FZ_MEM);
	if (balloon_create(&z.b, &c, &z.mem, &z.loop, &e))
		abort();
	z.d = balloon_virtio(z.b);
	fake_dev_attach(&z.dev, z.d, &z.loop);
	atexit(fz_cleanup);
	ready = 1;
	return &z;
}

static void fz_start(struct fz *f, uint64_t features)
{
	(void)fake_dev_negotiate(&f->dev, VIRTIO_BIT(VIRTIO_F_VERSION_1) | features);
	for (unsigned q = 0; q < FZ_NQ; q++) {
		struct vq *vq = &f->d->vq[q];

		vq->size = FZ_QSIZE;
		vq->desc_gpa = FZ_RING(q);
		vq->avail_gpa = FZ_RING(q) + 16 * FZ_QSIZE;
		vq->used_gpa = FZ_RING(q) + 0x1000;
		fake_dev_enable_queue(&f->dev, q);
	}
	(void)fake_dev_driver_ok(&f->dev);
}

static uint64_t fz_acted(const uint64_t *st)
{
	return st[BALLOON_STAT_INFLATED] + st[BALLOON_STAT_DEFLATED] + st[BALLOON_STAT_BAD_PFNS];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz *f = fz_get();
	uint64_t *st = balloon_counters(f->b);
	uint64_t acted0 = fz_acted(st);
	struct vring_used *used[FZ_NQ];

	if (size < FZ_HDR)
		return 0;
	memset(f->ram, 0, FZ_MEM);
	for (size_t i = FZ_HDR; i < size; i++)
		f->ram[FZ_RING(0) + (i - FZ_HDR) % (FZ_MEM - FZ_RING(0))] = data[i];
	for (unsigned q = 0; q < FZ_NQ; q++) {
		used[q] = (struct vring_used *)(f->ram + FZ_RING(q) + 0x1000);
		memset(used[q], 0, 6 + 8 * FZ_QSIZE);
	}
	fz_start(f, (data[0] & 1 ? VIRTIO_BIT(VIRTIO_RING_F_INDIRECT_DESC) : 0) |
		    (data[0] & 2 ? VIRTIO_BIT(VIRTIO_RING_F_EVENT_IDX) : 0) |
		    (data[0] & 4 ? VIRTIO_BIT(VIRTIO_BALLOON_F_REPORTING) : 0) |
		    (data[0] & 8 ? VIRTIO_BIT(VIRTIO_BALLOON_F_DEFLATE_ON_OOM) : 0) |
		    (data[0] & 16 ? VIRTIO_BIT(VIRTIO_BALLOON_F_STATS_VQ) : 0) |
		    (data[0] & 32 ? VIRTIO_BIT(VIRTIO_BALLOON_F_FREE_PAGE_HINT) : 0));
	/* config space: a write anywhere, of any width the transports allow */
	{
		static const uint32_t widths[4] = { 1, 2, 4, 8 };
		uint8_t buf[8];

		memcpy(buf, data + 8, 8);
		f->d->ops->config_write(f->d, data[1] % 20, buf, widths[data[2] & 3]);
		f->d->ops->config_read(f->d, data[3] % 20, buf, widths[(data[2] >> 2) & 3]);
	}
	for (unsigned k = 0; k < FZ_KICKS; k++) {
		/* bits 0-2: kicks on queues 0-2, 3: a new target, 4-5: kicks
		 * on queues 3-4, 6: a hinting run (7: acknowledged), 7 alone:
		 * a statistics poll at once */
		static const uint8_t kick_bit[FZ_NQ] = { 1, 2, 4, 16, 32 };
		uint8_t m = data[4 + k];
		struct balloon_guest_stats gs;
		struct balloon_hint_status hs;

		if (m & 64)
			(void)balloon_hint_start(f->b, m & 128);
		else if (m & 128)
			(void)balloon_set_stats_interval(f->b, 3600);
		for (unsigned q = 0; q < FZ_NQ; q++)
			if (m & kick_bit[q])
				virtio_kick(f->d, q, 1);
		for (int round = 0; round < 4; round++)
			fake_dev_pump(&f->dev, 0);
		if (m & 8)
			balloon_set_target(f->b, m);
		if ((m & 0xc0) == 0xc0)
			(void)balloon_hint_stop(f->b);
		if (balloon_stats(f->b, &gs) || balloon_hint_status(f->b, &hs))
			abort();
	}
	/* each chain acts on at most the cap: no more than the queue's
	 * chains a wakeup, kicks and rescheduled rounds together */
	if (fz_acted(st) - acted0 > (uint64_t)BALLOON_MAX_PFNS_PER_REQ * FZ_QSIZE * 2 * FZ_KICKS * 5)
		abort();
	/* a reset, then a well-formed inflate: served whatever came before */
	fake_dev_write_status(&f->dev, 0);
	memset(f->ram, 0, FZ_MEM);
	fz_start(f, 0);
	{
		struct vring_desc *desc = (struct vring_desc *)(f->ram + FZ_RING(0));
		struct vring_avail *avail = (struct vring_avail *)(f->ram + FZ_RING(0) + 16 * FZ_QSIZE);
		uint32_t pfn = 0x80;
		uint64_t inflated = st[BALLOON_STAT_INFLATED];

		memcpy(f->ram + 0x8000, &pfn, 4);
		f->ram[0x80000] = 1;
		desc[0] = (struct vring_desc){ 0x8000, 4, 0, 0 };
		avail->ring[0] = 0;
		avail->idx = 1;
		virtio_kick(f->d, 0, 1);
		if (used[0]->idx != 1 || st[BALLOON_STAT_INFLATED] != inflated + 1 ||
		    f->ram[0x80000] != 0) {
			fprintf(stderr, "idx %u status 0x%x why %s\n", used[0]->idx, f->d->status,
				f->d->needs_reset_why ? f->d->needs_reset_why : "-");
			abort();
		}
	}
	fake_dev_write_status(&f->dev, 0);
	return 0;
}
#endif

#ifdef FUZZ_GEN_SEEDS
#include "fuzz_seeds.h"

/* Seeds: an inflate of four PFNs, good and bad; a deflate chain split over
 * two buffers; a free page report of three ranges; an indirect table; a
 * statistics buffer; a hinting run's id and a hint. */
int main(int argc, char **argv)
{
	static uint8_t img[FZ_HDR + 0xf000];
	uint8_t *ram = img + FZ_HDR - FZ_RING(0); /* img[FZ_HDR] is guest address 0x1000 */
	struct vring_desc *desc[FZ_NQ];
	struct vring_avail *avail[FZ_NQ];
	struct fuzz_part p = { img, sizeof(img) };
	uint32_t pfns[4] = { 0x9, 0xa, 0xfffff, 0x100 };
	int err = 0;

	if (argc < 2)
		return 1;
	for (unsigned q = 0; q < FZ_NQ; q++) {
		desc[q] = (struct vring_desc *)(ram + FZ_RING(q));
		avail[q] = (struct vring_avail *)(ram + FZ_RING(q) + 16 * FZ_QSIZE);
	}
	img[0] = 4;
	img[4] = img[5] = 7;   /* two rounds of kicks on all three queues */
	memcpy(ram + 0x7000, pfns, sizeof(pfns));
	desc[0][0] = (struct vring_desc){ 0x7000, 16, 0, 0 };
	avail[0]->ring[0] = 0;
	avail[0]->idx = 1;
	err |= fuzz_write_seed(argv[1], 0, &p, 1);
	desc[1][0] = (struct vring_desc){ 0x7000, 6, VRING_DESC_F_NEXT, 1 };
	desc[1][1] = (struct vring_desc){ 0x7006, 10, 0, 0 };
	avail[1]->ring[0] = 0;
	avail[1]->idx = 1;
	err |= fuzz_write_seed(argv[1], 1, &p, 1);
	for (unsigned i = 0; i < 3; i++)
		desc[2][i] = (struct vring_desc){ 0x9000 + 0x1000 * i, 0x1000 - 0x100 * i,
						  VRING_DESC_F_WRITE | (i < 2 ? VRING_DESC_F_NEXT : 0),
						  (uint16_t)(i + 1) };
	avail[2]->ring[0] = 0;
	avail[2]->idx = 1;
	err |= fuzz_write_seed(argv[1], 2, &p, 1);
	img[0] = 5;
	desc[0][0] = (struct vring_desc){ 0x6000, 32, VRING_DESC_F_INDIRECT, 0 };
	desc[0][1] = (struct vring_desc){ 0, 0, 0, 0 };
	{
		struct vring_desc *t = (struct vring_desc *)(ram + 0x6000);

		t[0] = (struct vring_desc){ 0x7000, 8, VRING_DESC_F_NEXT, 1 };
		t[1] = (struct vring_desc){ 0x7008, 8, 0, 0 };
	}
	err |= fuzz_write_seed(argv[1], 3, &p, 1);
	img[0] = 16 | 32;
	img[4] = 16 | 128;      /* the stats buffer, then a poll */
	img[5] = 32 | 64 | 128; /* a run, acknowledged, and the driver's hints */
	{
		uint8_t *s = ram + 0xb000;
		uint32_t run = 2;

		for (uint16_t t = 0; t < 12; t++) {
			uint64_t v = 1000u * t;

			memcpy(s + 10 * t, &t, 2);
			memcpy(s + 10 * t + 2, &v, 8);
		}
		desc[2][0] = (struct vring_desc){ 0xb000, 120, 0, 0 };
		avail[2]->ring[0] = 0;
		avail[2]->idx = 1;
		memcpy(ram + 0xb800, &run, 4);
		desc[3][0] = (struct vring_desc){ 0xb800, 4, 0, 0 };
		desc[3][1] = (struct vring_desc){ 0xa000, 0x1000, VRING_DESC_F_WRITE, 0 };
		avail[3]->ring[0] = 0;
		avail[3]->ring[1] = 1;
		avail[3]->idx = 2;
	}
	err |= fuzz_write_seed(argv[1], 4, &p, 1);
	return err;
}
#endif
