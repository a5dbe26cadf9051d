/* libFuzzer target: the virtio-rng device as a hostile guest drives it.
 * The input is laid into guest memory as the request queue's descriptor
 * table, rings and buffers (avail index included), picks the ring
 * features, the kicks, and when the host source fails. Afterwards the
 * device must not have crashed, hung, or touched memory outside guest RAM
 * (ASan), no request may get more than the per-request cap, the bytes
 * given within the per-wakeup budget, and a reset must leave it serving.
 * Built with -DFUZZ_GEN_SEEDS it writes a few well-formed rings as seeds. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_dev.h"
#include "fake_mem.h"
#include "virtio/dev/rng.h"

#define FZ_MEM (1u << 20)
#define FZ_QSIZE 16
#define FZ_RING 0x1000ull
#define FZ_KICKS 4

#ifndef FUZZ_GEN_SEEDS
struct fz {
	uint8_t *ram;
	struct gmem mem;
	struct evloop loop;
	struct rng *r;
	struct virtio_dev *d;
	struct fake_dev dev;
	uint8_t fail_mask;         /* bit k: the k-th source call fails */
	unsigned calls;
};

static struct fz z;

/* A cheap deterministic source that fails when the input says so. */
static ssize_t fz_source(void *buf, size_t len)
{
	unsigned k = z.calls++;

	if (k < 8 && (z.fail_mask >> k) & 1) {
		errno = k & 1 ? EINTR : EAGAIN;
		return -1;
	}
	memset(buf, 0xa5, len);
	return (ssize_t)len;
}

static void fz_cleanup(void)
{
	rng_destroy(z.r);
}

static struct fz *fz_get(void)
{
	static int ready;
	struct rng_config c = { .name = "rng0", .source = fz_source };
	struct errbuf e;

	if (ready)
		return &z;
	z.ram = aligned_alloc(4096, FZ_MEM);
	if (!z.ram || evloop_init(&z.loop))
		abort();
	fake_gmem_init(&z.mem, z.ram, FZ_MEM);
	if (rng_create(&z.r, &c, &z.mem, &z.loop, &e))
		abort();
	z.d = rng_virtio(z.r);
	fake_dev_attach(&z.dev, z.d, &z.loop);
	atexit(fz_cleanup);
	ready = 1;
	return &z;
}

static void fz_pump(struct fz *f)
{
	for (int round = 0; round < 4; round++)
		fake_dev_pump(&f->dev, 0);
}

static void fz_start(struct fz *f, uint64_t features)
{
	struct vq *vq = &f->d->vq[0];

	(void)fake_dev_negotiate(&f->dev, VIRTIO_BIT(VIRTIO_F_VERSION_1) | features);
	vq->size = FZ_QSIZE;
	vq->desc_gpa = FZ_RING;
	vq->avail_gpa = FZ_RING + 16 * FZ_QSIZE;
	vq->used_gpa = FZ_RING + 0x1000;
	fake_dev_enable_queue(&f->dev, 0);
	(void)fake_dev_driver_ok(&f->dev);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz *f = fz_get();
	struct vring_used *used = (struct vring_used *)(f->ram + FZ_RING + 0x1000);
	uint64_t *st = rng_counters(f->r);
	uint64_t bytes0 = st[RNG_STAT_BYTES], reqs0 = st[RNG_STAT_REQUESTS];
	unsigned kicks = 0;
	size_t off = 16;

	if (size < off)
		return 0;
	memset(f->ram, 0, FZ_MEM);
	for (size_t i = off; i < size; i++)
		f->ram[FZ_RING + (i - off) % (FZ_MEM - FZ_RING)] = data[i];
	/* the used ring is the device's to write: zeroed, as a driver leaves it,
	 * so what is there afterwards is what the device wrote */
	memset(used, 0, 6 + 8 * FZ_QSIZE);
	f->fail_mask = data[1];
	f->calls = 0;

	fz_start(f, (data[0] & 1 ? VIRTIO_BIT(VIRTIO_RING_F_INDIRECT_DESC) : 0) |
		    (data[0] & 2 ? VIRTIO_BIT(VIRTIO_RING_F_EVENT_IDX) : 0));
	for (unsigned k = 0; k < FZ_KICKS; k++) {
		if (data[2 + k] & 1) {
			fake_dev_kick(&f->dev, 0);
			kicks++;
		}
		fz_pump(f);
	}
	/* no request got more than the cap (the used ring itself may lie
	 * under a buffer the device filled: the counters say what it gave) */
	if (st[RNG_STAT_BYTES] - bytes0 > (uint64_t)RNG_MAX_PER_REQ * (st[RNG_STAT_REQUESTS] - reqs0))
		abort();
	/* each wakeup (a kick, or a round the device posted) is within budget */
	if (st[RNG_STAT_BYTES] - bytes0 > (uint64_t)RNG_BUDGET_BYTES * (kicks + 4 * FZ_KICKS))
		abort();
	/* a reset, then a well-formed request: served whatever came before */
	fake_dev_write_status(&f->dev, 0);
	memset(f->ram + FZ_RING, 0, 0x2000);
	f->fail_mask = 0;
	fz_start(f, 0);
	{
		struct vring_desc *desc = (struct vring_desc *)(f->ram + FZ_RING);
		struct vring_avail *avail = (struct vring_avail *)(f->ram + FZ_RING + 16 * FZ_QSIZE);

		desc[0] = (struct vring_desc){ 0x8000, 32, VRING_DESC_F_WRITE, 0 };
		avail->ring[0] = 0;
		avail->idx = 1;
		fake_dev_kick(&f->dev, 0);
		if (used->idx != 1 || used->ring[0].len != 32) {
			fprintf(stderr, "idx %u len %u status 0x%x why %s\n", used->idx,
				used->ring[0].len, f->d->status, f->d->needs_reset_why ? f->d->needs_reset_why : "-");
			abort();
		}
	}
	fake_dev_write_status(&f->dev, 0);
	return 0;
}
#endif

#ifdef FUZZ_GEN_SEEDS
#include "fuzz_seeds.h"

/* Seeds: four writable buffers; a chain of three; an indirect table; with
 * and without the source failing. */
int main(int argc, char **argv)
{
	static uint8_t img[16 + 0x8000];
	uint8_t *ram = img + 16 - FZ_RING; /* img[16] is guest address 0x1000 */
	struct vring_desc *desc = (struct vring_desc *)(ram + FZ_RING);
	struct vring_avail *avail = (struct vring_avail *)(ram + FZ_RING + 16 * FZ_QSIZE);
	struct fuzz_part p = { img, sizeof(img) };
	int err = 0;

	if (argc < 2)
		return 1;
	img[2] = img[3] = 1;  /* two kicks */
	for (unsigned i = 0; i < 4; i++) {
		desc[i] = (struct vring_desc){ 0x6000 + 0x100 * i, 0x100 >> i, VRING_DESC_F_WRITE, 0 };
		avail->ring[i] = (uint16_t)i;
	}
	avail->idx = 4;
	err |= fuzz_write_seed(argv[1], 0, &p, 1);
	img[1] = 0x5;         /* the source fails now and then */
	err |= fuzz_write_seed(argv[1], 1, &p, 1);
	img[1] = 0;
	/* a chain: 0 -> 1 -> 2 */
	for (unsigned i = 0; i < 3; i++)
		desc[i] = (struct vring_desc){ 0x6000 + 0x100 * i, 0x80,
					       VRING_DESC_F_WRITE | (i < 2 ? VRING_DESC_F_NEXT : 0),
					       (uint16_t)(i + 1) };
	avail->idx = 1;
	err |= fuzz_write_seed(argv[1], 2, &p, 1);
	/* an indirect table of two at 0x5000 */
	img[0] = 1;
	desc[0] = (struct vring_desc){ 0x5000, 32, VRING_DESC_F_INDIRECT, 0 };
	desc = (struct vring_desc *)(ram + 0x5000);
	desc[0] = (struct vring_desc){ 0x6000, 0x40, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1 };
	desc[1] = (struct vring_desc){ 0x6100, 0x40, VRING_DESC_F_WRITE, 0 };
	err |= fuzz_write_seed(argv[1], 3, &p, 1);
	return err;
}
#endif
