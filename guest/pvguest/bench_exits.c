/* bench_exits.c: "bench-exits": what a guest pays, from ring 3, for the
 * three kinds of exit its drivers make: a port read the VMM answers in
 * userspace (the 8250 scratch register, COM1 + 7), an MMIO read it answers
 * in userspace (a read-only transport register: virtio-pci's num_queues,
 * virtio-mmio's MagicValue) and a queue kick that KVM absorbs through an
 * ioeventfd (a write to a virtio-net TX queue's notify address with
 * nothing new in its avail ring). Medians of n=<count> each.
 *
 *   pvguest.run=bench-exits[,n=COUNT][,dev=N]
 * Without a virtio-net device it kicks a virtio-blk device's queue 0; with
 * neither, it prints the port exit alone and fails with no-device. */
#include "tests.h"
#include "lib.h"
#include "pci.h"
#include "virtio_blk.h"
#include "virtio_dma.h"
#include "virtio_net.h"

#define PIO_PORT   0x3ff                /* COM1 scratch register */
#define DEFAULT_N  2000u
#define MAX_N      20000u

static uint64_t samples[MAX_N];

static inline uint64_t tsc_start(void)
{
	__asm__ volatile("lfence" ::: "memory");
	return rdtsc();
}

static inline uint64_t tsc_end(void)
{
	__asm__ volatile("lfence" ::: "memory");
	uint64_t t = rdtsc();
	__asm__ volatile("lfence" ::: "memory");
	return t;
}

/* Shell sort: n is small and this runs once per kind. */
static void sort(uint64_t *a, unsigned n)
{
	for (unsigned gap = n / 2; gap; gap /= 2)
		for (unsigned i = gap; i < n; i++)
			for (unsigned j = i; j >= gap && a[j - gap] > a[j]; j -= gap) {
				uint64_t t = a[j];
				a[j] = a[j - gap];
				a[j - gap] = t;
			}
}

enum kind { PIO, MMIO, KICK };

/* width: of the MMIO read or the kick's write (2 or 4 bytes) */
static uint64_t measure(enum kind k, unsigned n, uint64_t addr, uint16_t qidx, unsigned width,
			uint64_t *p90)
{
	volatile uint32_t sink = 0;

	for (unsigned i = 0; i < n; i++) {
		uint64_t t0 = tsc_start();
		switch (k) {
		case PIO: sink += inb(PIO_PORT); break;
		case MMIO: sink += width == 4 ? mmio_read32(addr) : mmio_read16(addr); break;
		case KICK:
			if (width == 4)
				mmio_write32(addr, qidx);
			else
				mmio_write16(addr, qidx);
			break;
		}
		samples[i] = tsc_end() - t0;
	}
	(void)sink;
	sort(samples, n);
	*p90 = tsc_to_ns(samples[n * 9 / 10]);
	return tsc_to_ns(samples[n / 2]);
}

enum test_status test_bench_exits(struct test_ctx *c)
{
	static struct vdev dev;
	static struct vnet vn;
	static struct vblk blk;
	char val[16];
	uint64_t n = DEFAULT_N, index = 0;
	uint64_t kick_addr;
	uint16_t kick_q;
	const char *kind;

	if (optlist_get(c->opts, "n", val, sizeof(val)) >= 0 &&
	    (parse_u64(val, &n, 0) || n < 10 || n > MAX_N))
		return test_fail(c, "bad-option", "n=%s: 10 to %u", val, MAX_N);
	if (optlist_get(c->opts, "dev", val, sizeof(val)) >= 0 && parse_u64(val, &index, 0))
		return test_fail(c, "bad-option", "dev=%s", val);
	/* the port exit needs no device: measured first, so that a machine
	 * where no virtio device is found still reports it */
	uint64_t p90_pio, p90_mmio, p90_kick;
	measure(PIO, 10, 0, 0, 0, &p90_pio);    /* warm up each path once, then measure */
	uint64_t pio = measure(PIO, (unsigned)n, 0, 0, 0, &p90_pio);
	unsigned kick_width;

	if (!vdev_find(VIRTIO_ID_NET, (unsigned)index, &dev)) {
		/* no RX buffers: nothing arrives while the kicks go on */
		int r = vnet_open(&vn, &dev, VIRTIO_BIT(VIRTIO_F_EVENT_IDX), 64, 0);
		if (r)
			return test_fail(c, dev.why ? dev.why : "open-failed", "virtio-net: %d", r);
		kick_addr = vn.tx.notify_addr;
		kick_q = vn.tx.qidx;
		kick_width = vn.tx.notify_width;
		kind = "net-tx";
	} else if (!vdev_find(VIRTIO_ID_BLOCK, (unsigned)index, &dev)) {
		int r = vblk_open(&blk, &dev, VIRTIO_BIT(VIRTIO_F_EVENT_IDX), 64, 0);
		if (r)
			return test_fail(c, dev.why ? dev.why : "open-failed", "virtio-blk: %d", r);
		kick_addr = blk.vq.notify_addr;
		kick_q = blk.vq.qidx;
		kick_width = blk.vq.notify_width;
		kind = "blk";
	} else {
		uint64_t t0 = tsc_start(), t1 = tsc_end();
		printf("PVGUEST BENCH exits pio_ns=%lu pio_p90_ns=%lu n=%lu kick_queue=none "
		       "rdtsc_ns=%lu\n", (unsigned long)pio, (unsigned long)p90_pio,
		       (unsigned long)n, (unsigned long)tsc_to_ns(t1 - t0));
		return test_fail(c, "no-device", "no virtio-net or virtio-blk device %s (pci: %s)",
				 vdev_where(), pci_mechanism());
	}

	unsigned mmio_width;
	uint64_t mmio_addr = vdev_timing_reg(&dev, &mmio_width);
	measure(MMIO, 10, mmio_addr, 0, mmio_width, &p90_mmio);
	uint64_t mmio = measure(MMIO, (unsigned)n, mmio_addr, 0, mmio_width, &p90_mmio);
	measure(KICK, 10, kick_addr, kick_q, kick_width, &p90_kick);
	uint64_t kick = measure(KICK, (unsigned)n, kick_addr, kick_q, kick_width, &p90_kick);
	uint64_t t0 = tsc_start(), t1 = tsc_end();
	printf("PVGUEST BENCH exits pio_ns=%lu mmio_ns=%lu kick_ns=%lu pio_p90_ns=%lu mmio_p90_ns=%lu "
	       "kick_p90_ns=%lu n=%lu kick_queue=%s rdtsc_ns=%lu\n", (unsigned long)pio,
	       (unsigned long)mmio, (unsigned long)kick, (unsigned long)p90_pio,
	       (unsigned long)p90_mmio, (unsigned long)p90_kick, (unsigned long)n, kind,
	       (unsigned long)tsc_to_ns(t1 - t0));
	test_kv(c, "kick_queue=%s", kind);
	vdev_reset(&dev, 1000 * 1000);
	return TEST_PASS;
}
