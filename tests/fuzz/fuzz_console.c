/* libFuzzer target: the virtio-console device as a hostile guest drives it.
 * The input is laid into guest memory as both queues' descriptor tables,
 * rings and buffers (avail indexes included), and picks the ring features,
 * the kicks, the host bytes offered to receiveq, and whether the host side
 * is full. Afterwards the device must not have crashed, hung, or touched
 * memory outside guest RAM (ASan), no more host bytes may have gone in than
 * were offered, nor more guest bytes out than the per-wakeup budget, and a
 * reset must leave both queues serving.
 * Built with -DFUZZ_GEN_SEEDS it writes a few well-formed rings as seeds. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fake_dev.h"
#include "fake_mem.h"
#include "virtio/dev/console.h"

#define FZ_MEM (1u << 20)
#define FZ_QSIZE 16
#define FZ_RING 0x1000ull                  /* receiveq: desc, avail; used at +0x1000 */
#define FZ_RING_TX 0x3000ull               /* transmitq, the same shape */
#define FZ_KICKS 4
#define FZ_HDR 16

#ifndef FUZZ_GEN_SEEDS
struct fz {
	uint8_t *ram;
	struct gmem mem;
	struct evloop loop;
	struct console *c;
	struct virtio_dev *d;
	struct fake_dev dev;
	int pipe[2];
	unsigned rx_ready;
};

static struct fz z;

static void fz_rx_ready(void *opaque)
{
	(void)opaque;
	z.rx_ready++;
}

static void fz_cleanup(void)
{
	console_destroy(z.c);
}

static struct fz *fz_get(void)
{
	static int ready;
	struct console_config c = { .name = "console0", .rx_ready = fz_rx_ready };
	struct errbuf e;

	if (ready)
		return &z;
	z.ram = aligned_alloc(4096, FZ_MEM);
	if (!z.ram || evloop_init(&z.loop) || pipe2(z.pipe, O_CLOEXEC | O_NONBLOCK))
		abort();
	fake_gmem_init(&z.mem, z.ram, FZ_MEM);
	c.out_fd = z.pipe[1];
	if (console_create(&z.c, &c, &z.mem, &z.loop, &e))
		abort();
	z.d = console_virtio(z.c);
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
	static const uint64_t base[2] = { FZ_RING, FZ_RING_TX };

	(void)fake_dev_negotiate(&f->dev, VIRTIO_BIT(VIRTIO_F_VERSION_1) | features);
	for (unsigned q = 0; q < 2; q++) {
		struct vq *vq = &f->d->vq[q];

		vq->size = FZ_QSIZE;
		vq->desc_gpa = base[q];
		vq->avail_gpa = base[q] + 16 * FZ_QSIZE;
		vq->used_gpa = base[q] + 0x1000;
		fake_dev_enable_queue(&f->dev, q);
	}
	(void)fake_dev_driver_ok(&f->dev);
}

static void fz_drain(struct fz *f)
{
	static char buf[65536];

	while (read(f->pipe[0], buf, sizeof(buf)) > 0)
		;
}

static void fz_fill(struct fz *f)
{
	static char buf[65536];

	while (write(f->pipe[1], buf, sizeof(buf)) > 0)
		;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz *f = fz_get();
	struct vring_used *used_rx = (struct vring_used *)(f->ram + FZ_RING + 0x1000);
	struct vring_used *used_tx = (struct vring_used *)(f->ram + FZ_RING_TX + 0x1000);
	uint64_t *st = console_counters(f->c);
	uint64_t tx0 = st[CONSOLE_STAT_TX_BYTES], rx0 = st[CONSOLE_STAT_RX_BYTES];
	uint64_t offered = 0;
	unsigned kicks = 0;

	if (size < FZ_HDR)
		return 0;
	memset(f->ram, 0, FZ_MEM);
	for (size_t i = FZ_HDR; i < size; i++)
		f->ram[FZ_RING + (i - FZ_HDR) % (FZ_MEM - FZ_RING)] = data[i];
	/* the used rings are the device's to write: zeroed, as a driver leaves them */
	memset(used_rx, 0, 6 + 8 * FZ_QSIZE);
	memset(used_tx, 0, 6 + 8 * FZ_QSIZE);
	fz_drain(f);
	if (data[1] & 1)
		fz_fill(f);   /* the host side cannot take a byte: drops, never a wait */

	fz_start(f, (data[0] & 1 ? VIRTIO_BIT(VIRTIO_RING_F_INDIRECT_DESC) : 0) |
		    (data[0] & 2 ? VIRTIO_BIT(VIRTIO_RING_F_EVENT_IDX) : 0));
	for (unsigned k = 0; k < FZ_KICKS; k++) {
		uint8_t op = data[2 + k];

		if (op & 1) {
			fake_dev_kick(&f->dev, CONSOLE_TXQ);
			kicks++;
		}
		if (op & 2)
			fake_dev_kick(&f->dev, CONSOLE_RXQ);
		if (op & 4) {
			static const uint8_t text[64] = "the host types into hvc0, 64 bytes at most";
			size_t n = data[6 + k] % sizeof(text) + 1;

			offered += n;
			(void)console_receive(f->c, text, n);
		}
		fz_pump(f);
	}
	if (st[CONSOLE_STAT_RX_BYTES] - rx0 > offered)
		abort();
	if (st[CONSOLE_STAT_TX_BYTES] - tx0 > (uint64_t)CONSOLE_TX_BUDGET_BYTES * (kicks + 4 * FZ_KICKS))
		abort();
	/* a reset, then a well-formed chain on each queue: served whatever came before */
	fake_dev_write_status(&f->dev, 0);
	memset(f->ram + FZ_RING, 0, 0x4000);
	fz_drain(f);
	fz_start(f, 0);
	{
		struct vring_desc *drx = (struct vring_desc *)(f->ram + FZ_RING);
		struct vring_avail *arx = (struct vring_avail *)(f->ram + FZ_RING + 16 * FZ_QSIZE);
		struct vring_desc *dtx = (struct vring_desc *)(f->ram + FZ_RING_TX);
		struct vring_avail *atx = (struct vring_avail *)(f->ram + FZ_RING_TX + 16 * FZ_QSIZE);
		char out[64];

		drx[0] = (struct vring_desc){ 0x8000, 32, VRING_DESC_F_WRITE, 0 };
		arx->ring[0] = 0;
		arx->idx = 1;
		dtx[0] = (struct vring_desc){ 0x9000, 5, 0, 0 };
		atx->ring[0] = 0;
		atx->idx = 1;
		fake_dev_kick(&f->dev, CONSOLE_TXQ);
		if (console_receive(f->c, (const uint8_t *)"abc", 3) != 3 || used_rx->idx != 1 ||
		    used_rx->ring[0].len != 3 || used_tx->idx != 1 ||
		    read(f->pipe[0], out, sizeof(out)) != 5) {
			fprintf(stderr, "rx %u tx %u status 0x%x why %s\n", used_rx->idx, used_tx->idx,
				f->d->status, f->d->needs_reset_why ? f->d->needs_reset_why : "-");
			abort();
		}
	}
	fake_dev_write_status(&f->dev, 0);
	fz_pump(f);
	return 0;
}
#endif

#ifdef FUZZ_GEN_SEEDS
#include "fuzz_seeds.h"

/* Seeds: text on transmitq and buffers on receiveq; a transmit chain of
 * three; an indirect table; the host side full. */
int main(int argc, char **argv)
{
	static uint8_t img[FZ_HDR + 0x8000];
	uint8_t *ram = img + FZ_HDR - FZ_RING; /* img[16] is guest address 0x1000 */
	struct vring_desc *drx = (struct vring_desc *)(ram + FZ_RING);
	struct vring_avail *arx = (struct vring_avail *)(ram + FZ_RING + 16 * FZ_QSIZE);
	struct vring_desc *dtx = (struct vring_desc *)(ram + FZ_RING_TX);
	struct vring_avail *atx = (struct vring_avail *)(ram + FZ_RING_TX + 16 * FZ_QSIZE);
	struct fuzz_part p = { img, sizeof(img) };
	int err = 0;

	if (argc < 2)
		return 1;
	img[2] = 7;           /* kick both, offer host bytes */
	img[3] = 5;
	img[6] = 20;
	memcpy(img + 10, "hello!", 6);
	for (unsigned i = 0; i < 4; i++) {
		drx[i] = (struct vring_desc){ 0x6000 + 0x100 * i, 0x100 >> i, VRING_DESC_F_WRITE, 0 };
		arx->ring[i] = (uint16_t)i;
		dtx[i] = (struct vring_desc){ 0x7000 + 0x100 * i, 0x10, 0, 0 };
		atx->ring[i] = (uint16_t)i;
	}
	memcpy(ram + 0x7000, "guest says hi", 13);
	arx->idx = 4;
	atx->idx = 4;
	err |= fuzz_write_seed(argv[1], 0, &p, 1);
	img[1] = 1;           /* the host side is full */
	err |= fuzz_write_seed(argv[1], 1, &p, 1);
	img[1] = 0;
	for (unsigned i = 0; i < 3; i++)
		dtx[i] = (struct vring_desc){ 0x7000 + 0x100 * i, 0x80,
					      i < 2 ? VRING_DESC_F_NEXT : 0, (uint16_t)(i + 1) };
	atx->idx = 1;
	err |= fuzz_write_seed(argv[1], 2, &p, 1);
	img[0] = 1;           /* an indirect table of two at 0x5000 */
	dtx[0] = (struct vring_desc){ 0x5000, 32, VRING_DESC_F_INDIRECT, 0 };
	dtx = (struct vring_desc *)(ram + 0x5000);
	dtx[0] = (struct vring_desc){ 0x7000, 0x40, VRING_DESC_F_NEXT, 1 };
	dtx[1] = (struct vring_desc){ 0x7100, 0x40, 0, 0 };
	err |= fuzz_write_seed(argv[1], 3, &p, 1);
	return err;
}
#endif
