/* The virtio core and the virtio-mmio transport, driven through the
 * register window exactly as a driver would (no KVM: vm_fd -1, so kicks go
 * through the bus handler and interrupts show on the irq eventfd): the
 * identity registers, the init sequence and its illegal steps, feature
 * selection, queue registers frozen after DRIVER_OK, InterruptStatus and
 * InterruptACK, reset, config space bounds, odd widths, hostile values. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>

#include "base/evloop.h"
#include "core/bus.h"
#include "dummy_dev.h"
#include "fake_mem.h"
#include "virtio/virtio_mmio.h"

#define MEM_SIZE (16u << 20)
#define BASE 0xFE000000ull
#define GSI 5
#define S_ACK VIRTIO_CONFIG_S_ACKNOWLEDGE
#define S_DRV VIRTIO_CONFIG_S_DRIVER
#define S_FOK VIRTIO_CONFIG_S_FEATURES_OK
#define S_DOK VIRTIO_CONFIG_S_DRIVER_OK
#define S_NR VIRTIO_CONFIG_S_NEEDS_RESET

struct mreg_case;

struct fixture {
	uint8_t *ram;
	struct gmem mem;
	struct bus mmio;
	struct evloop loop;
	struct dummy dev;
	struct virtio_mmio *m;
	const struct mreg_case *reg; /* test_reset_restores_register's */
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct errbuf e;

	assert_non_null(f);
	f->ram = calloc(1, MEM_SIZE);
	assert_non_null(f->ram);
	fake_gmem_init(&f->mem, f->ram, MEM_SIZE);
	bus_init(&f->mmio, "mmio");
	assert_int_equal(evloop_init(&f->loop), 0);
	dummy_init(&f->dev, &f->mem, 2);
	assert_int_equal(virtio_mmio_create(&f->m, &f->dev.vdev, &f->mmio, BASE, GSI, &f->loop, -1,
					    &e), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	virtio_dev_destroy(&f->dev.vdev);
	virtio_mmio_destroy(f->m);
	evloop_destroy(&f->loop);
	bus_destroy(&f->mmio);
	free(f->ram);
	free(f);
	return 0;
}

static uint64_t rdn(struct fixture *f, uint64_t off, uint32_t len)
{
	uint64_t v = 0x5a5a5a5a5a5a5a5aull;

	assert_true(bus_dispatch(&f->mmio, BASE + off, (uint8_t *)&v, len, false));
	return len == 8 ? v : v & ((1ull << (8 * len)) - 1);
}

static uint32_t rd(struct fixture *f, uint64_t off)
{
	return (uint32_t)rdn(f, off, 4);
}

static void wrn(struct fixture *f, uint64_t off, uint64_t v, uint32_t len)
{
	assert_true(bus_dispatch(&f->mmio, BASE + off, (uint8_t *)&v, len, true));
}

static void wr(struct fixture *f, uint64_t off, uint32_t v)
{
	wrn(f, off, v, 4);
}

/* Interrupts raised since the last call (the irq eventfd's counter). */
static uint64_t interrupts(struct fixture *f)
{
	uint64_t n = 0;

	if (read(f->m->irq_fd, &n, sizeof(n)) < 0)
		return 0;
	return n;
}

static void setup_queue(struct fixture *f, unsigned q, uint32_t size)
{
	uint64_t base = 0x100000 + q * 0x10000;

	wr(f, VIRTIO_MMIO_QUEUE_SEL, q);
	wr(f, VIRTIO_MMIO_QUEUE_NUM, size);
	wr(f, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)base);
	wr(f, VIRTIO_MMIO_QUEUE_DESC_HIGH, 0);
	wr(f, VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)base + 0x4000);
	wr(f, VIRTIO_MMIO_QUEUE_AVAIL_HIGH, 0);
	wr(f, VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)base + 0x8000);
	wr(f, VIRTIO_MMIO_QUEUE_USED_HIGH, 0);
	wr(f, VIRTIO_MMIO_QUEUE_READY, 1);
}

static void negotiate(struct fixture *f)
{
	wr(f, VIRTIO_MMIO_STATUS, 0);
	wr(f, VIRTIO_MMIO_STATUS, S_ACK);
	wr(f, VIRTIO_MMIO_STATUS, S_ACK | S_DRV);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES, 1u << (VIRTIO_F_VERSION_1 - 32));
	wr(f, VIRTIO_MMIO_STATUS, S_ACK | S_DRV | S_FOK);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), S_ACK | S_DRV | S_FOK);
}

static void bring_up(struct fixture *f)
{
	negotiate(f);
	setup_queue(f, 0, 64);
	wr(f, VIRTIO_MMIO_STATUS, S_ACK | S_DRV | S_FOK | S_DOK);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), S_ACK | S_DRV | S_FOK | S_DOK);
}

/* §4.2.2: magic, version 2 (modern), device and vendor IDs, no shared
 * memory, the window on the bus and nothing past it. */
static void test_identity(void **state)
{
	struct fixture *f = *state;
	uint32_t v = 0;

	assert_int_equal(rd(f, VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	assert_int_equal(rd(f, VIRTIO_MMIO_VERSION), 2);
	assert_int_equal(rd(f, VIRTIO_MMIO_DEVICE_ID), 4);
	assert_int_equal(rd(f, VIRTIO_MMIO_VENDOR_ID), 0x1AF4);
	wr(f, VIRTIO_MMIO_SHM_SEL, 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_SHM_LEN_LOW), 0xffffffffu);
	assert_int_equal(rd(f, VIRTIO_MMIO_SHM_LEN_HIGH), 0xffffffffu);
	/* the legacy registers are not there */
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_PFN), 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_GUEST_PAGE_SIZE), 0);
	assert_false(bus_dispatch(&f->mmio, BASE + VIRTIO_MMIO_SIZE, (uint8_t *)&v, 4, false));
	assert_true(bus_dispatch(&f->mmio, BASE + VIRTIO_MMIO_SIZE - 4, (uint8_t *)&v, 4, false));
}

/* DeviceFeaturesSel picks the word; VERSION_1 is offered in word 1. */
static void test_features(void **state)
{
	struct fixture *f = *state;

	wr(f, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_DEVICE_FEATURES),
			 (1u << VIRTIO_RING_F_EVENT_IDX) | (1u << 5));
	wr(f, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	assert_int_equal(rd(f, VIRTIO_MMIO_DEVICE_FEATURES), 1u << (VIRTIO_F_VERSION_1 - 32));
	wr(f, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 2);
	assert_int_equal(rd(f, VIRTIO_MMIO_DEVICE_FEATURES), 0);
	wr(f, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0xffffffff);
	assert_int_equal(rd(f, VIRTIO_MMIO_DEVICE_FEATURES), 0);
	/* DriverFeatures is write-only */
	wr(f, VIRTIO_MMIO_STATUS, S_ACK);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES, 0xffffffff);
	assert_int_equal(rd(f, VIRTIO_MMIO_DRIVER_FEATURES), 0);
}

/* The status machine is the core's: steps in order, FEATURES_OK refused
 * without VERSION_1 or with features not offered, 0 resets. */
static void test_status_machine(void **state)
{
	struct fixture *f = *state;

	wr(f, VIRTIO_MMIO_STATUS, S_ACK | S_DRV | S_FOK | S_DOK); /* all at once */
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), 0);
	wr(f, VIRTIO_MMIO_STATUS, S_ACK);
	wr(f, VIRTIO_MMIO_STATUS, S_ACK | S_DRV);
	wr(f, VIRTIO_MMIO_STATUS, S_ACK | S_DRV | S_FOK); /* no VERSION_1 */
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), S_ACK | S_DRV);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES, 1u << 6); /* not offered */
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES, 1u << (VIRTIO_F_VERSION_1 - 32));
	wr(f, VIRTIO_MMIO_STATUS, S_ACK | S_DRV | S_FOK);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), S_ACK | S_DRV);
	negotiate(f);
	wr(f, VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), 0);
	assert_true(f->dev.resets >= 1);
}

/* QueueNumMax says how big a queue may be, or 0 where there is none. */
static void test_queue_num_max(void **state)
{
	struct fixture *f = *state;

	wr(f, VIRTIO_MMIO_QUEUE_SEL, 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_NUM_MAX), 64);
	wr(f, VIRTIO_MMIO_QUEUE_SEL, 1);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_NUM_MAX), 64);
	wr(f, VIRTIO_MMIO_QUEUE_SEL, 2);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_READY), 0);
	wr(f, VIRTIO_MMIO_QUEUE_READY, 1); /* no such queue: nothing to enable */
	wr(f, VIRTIO_MMIO_QUEUE_SEL, 0xffffffff);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
	wr(f, VIRTIO_MMIO_QUEUE_NUM, 8);
}

/* DRIVER_OK starts the ready queues on the addresses written, in two
 * halves each, then the device. */
static void test_driver_ok_starts_queues(void **state)
{
	struct fixture *f = *state;
	struct vq *vq = &f->dev.vdev.vq[0];

	negotiate(f);
	setup_queue(f, 0, 64);
	wr(f, VIRTIO_MMIO_QUEUE_DESC_HIGH, 0); /* a 64-bit address, split */
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_READY), 1);
	wr(f, VIRTIO_MMIO_STATUS, S_ACK | S_DRV | S_FOK | S_DOK);
	assert_int_equal(f->dev.activated, 1);
	assert_true(vq->started);
	assert_int_equal(vq->size, 64);
	assert_int_equal(vq->desc_gpa, 0x100000);
	assert_int_equal(vq->avail_gpa, 0x104000);
	assert_int_equal(vq->used_gpa, 0x108000);
	assert_false(f->dev.vdev.vq[1].started); /* never made ready */
}

/* After DRIVER_OK the queue registers are frozen: a driver (or an attacker)
 * cannot move rings the device is using. */
static void test_queue_frozen_after_driver_ok(void **state)
{
	struct fixture *f = *state;
	struct vq *vq = &f->dev.vdev.vq[0];

	bring_up(f);
	wr(f, VIRTIO_MMIO_QUEUE_SEL, 0);
	wr(f, VIRTIO_MMIO_QUEUE_NUM, 8);
	wr(f, VIRTIO_MMIO_QUEUE_DESC_LOW, 0xdead000);
	wr(f, VIRTIO_MMIO_QUEUE_USED_HIGH, 0xffffffff);
	wr(f, VIRTIO_MMIO_QUEUE_READY, 2);
	assert_int_equal(vq->size, 64);
	assert_int_equal(vq->desc_gpa, 0x100000);
	assert_int_equal(vq->used_gpa, 0x108000);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_READY), 1);
	/* after a reset the driver owns them again, ready bits cleared */
	wr(f, VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_READY), 0);
	wr(f, VIRTIO_MMIO_QUEUE_READY, 1);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_READY), 1);
	wr(f, VIRTIO_MMIO_QUEUE_READY, 0); /* §4.2.3.2: a driver may take it back */
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_READY), 0);
}

/* QueueReady 0 on a running device stops the queue as §4.2.2.1 asks: it
 * reads back 0 and the device stops, NEEDS_RESET with a config interrupt
 * (vireo cannot stop one queue under a running device); a reset recovers. */
static void test_queue_ready_0_stops_device(void **state)
{
	struct fixture *f = *state;

	bring_up(f);
	(void)interrupts(f);
	wr(f, VIRTIO_MMIO_QUEUE_SEL, 0);
	wr(f, VIRTIO_MMIO_QUEUE_READY, 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_READY), 0);
	assert_true(rd(f, VIRTIO_MMIO_STATUS) & S_NR);
	assert_int_equal(interrupts(f), 1);
	assert_true(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_CONFIG);
	/* once more: already stopped, nothing new */
	wr(f, VIRTIO_MMIO_QUEUE_READY, 0);
	assert_int_equal(interrupts(f), 0);
	bring_up(f);
	assert_false(rd(f, VIRTIO_MMIO_STATUS) & S_NR);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_READY), 1);
}

/* Rings the device cannot use (not a power of two, above the maximum, an
 * absurd size, outside RAM): DRIVER_OK leaves NEEDS_RESET and a config
 * interrupt, the device is not started; a reset recovers. */
static void test_bad_queue_needs_reset(void **state)
{
	static const uint32_t bad_sizes[] = { 0, 3, 100, 128, 65536, 0xffffffff };
	struct fixture *f = *state;

	for (size_t i = 0; i < sizeof(bad_sizes) / sizeof(bad_sizes[0]); i++) {
		negotiate(f);
		setup_queue(f, 0, bad_sizes[i]);
		(void)interrupts(f);
		wr(f, VIRTIO_MMIO_STATUS, S_ACK | S_DRV | S_FOK | S_DOK);
		assert_true(rd(f, VIRTIO_MMIO_STATUS) & S_NR);
		assert_int_equal(f->dev.activated, 0);
		assert_int_equal(interrupts(f), 1);
		assert_true(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_CONFIG);
	}
	negotiate(f);
	setup_queue(f, 0, 64);
	wr(f, VIRTIO_MMIO_QUEUE_DESC_HIGH, 0x100); /* 1 TiB up: no RAM there */
	wr(f, VIRTIO_MMIO_STATUS, S_ACK | S_DRV | S_FOK | S_DOK);
	assert_true(rd(f, VIRTIO_MMIO_STATUS) & S_NR);
	/* recovery: reset, then a proper bring-up */
	bring_up(f);
	assert_int_equal(f->dev.activated, 1);
	assert_int_equal(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS), 0); /* the reset cleared it */
}

/* A used-buffer interrupt sets bit 0 and fires the irq; a config change bit
 * 1; InterruptACK clears what it names, and only that. */
static void test_interrupt_status_and_ack(void **state)
{
	struct fixture *f = *state;
	struct virtio_dev *d = &f->dev.vdev;

	bring_up(f);
	(void)interrupts(f);
	d->transport->signal_queue(d, 0);
	assert_int_equal(interrupts(f), 1);
	assert_int_equal(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_VRING);
	virtio_config_changed(d);
	assert_int_equal(interrupts(f), 1);
	assert_int_equal(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS),
			 VIRTIO_MMIO_INT_VRING | VIRTIO_MMIO_INT_CONFIG);
	assert_int_equal(rd(f, VIRTIO_MMIO_CONFIG_GENERATION), 1);
	wr(f, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
	assert_int_equal(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_CONFIG);
	wr(f, VIRTIO_MMIO_INTERRUPT_ACK, 0xfffffffc); /* bits that mean nothing */
	assert_int_equal(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_CONFIG);
	wr(f, VIRTIO_MMIO_INTERRUPT_ACK, 0xffffffff);
	assert_int_equal(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	/* InterruptStatus is read-only */
	wr(f, VIRTIO_MMIO_INTERRUPT_STATUS, 3);
	assert_int_equal(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	assert_int_equal(interrupts(f), 0);
}

/* A device that breaks (NEEDS_RESET from its queue work) raises a config
 * interrupt with InterruptStatus bit 1. */
static void test_needs_reset_from_device(void **state)
{
	struct fixture *f = *state;
	struct virtio_dev *d = &f->dev.vdev;

	bring_up(f);
	(void)interrupts(f);
	virtio_set_needs_reset(d, "test");
	assert_true(rd(f, VIRTIO_MMIO_STATUS) & S_NR);
	assert_int_equal(interrupts(f), 1);
	assert_true(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_CONFIG);
	bring_up(f);
	assert_false(rd(f, VIRTIO_MMIO_STATUS) & S_NR);
}

/* QueueNotify: the queue's index kicks it (the bus path, as when KVM has
 * no ioeventfd for the value); other values kick nothing. */
static void test_kick_through_bus(void **state)
{
	struct fixture *f = *state;
	uint64_t n = 0;

	bring_up(f);
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 7);
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 0xffffffff);
	assert_int_equal(read(f->m->kick[0].fd, &n, sizeof(n)), sizeof(n));
	assert_int_equal(n, 1);
	assert_true(read(f->m->kick[1].fd, &n, sizeof(n)) < 0);
	/* the kick reaches the device from the event loop */
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_true(evloop_run_once(&f->loop, 0) >= 1);
	assert_int_equal(f->dev.notified, 1);
	/* before DRIVER_OK a kick is ignored */
	wr(f, VIRTIO_MMIO_STATUS, 0);
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	(void)evloop_run_once(&f->loop, 0);
	assert_int_equal(f->dev.notified, 1);
}

/* A queue in vcpu_kicks: its kick is served on the writer's thread (no
 * eventfd, no event loop), other queues' still go to their eventfd; a
 * kick before DRIVER_OK is ignored either way. */
static void test_kick_on_vcpu(void **state)
{
	struct fixture *f = *state;
	uint64_t n = 0;

	f->dev.vdev.vcpu_kicks = 1u << 0;
	bring_up(f);
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_int_equal(f->dev.notified, 1);
	assert_true(read(f->m->kick[0].fd, &n, sizeof(n)) < 0);
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 1);
	assert_int_equal(f->dev.notified, 1);
	assert_int_equal(read(f->m->kick[1].fd, &n, sizeof(n)), sizeof(n));
	wr(f, VIRTIO_MMIO_STATUS, 0);
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_int_equal(f->dev.notified, 1);
}

/* Config space from 0x100: 1, 2, 4 and 8-byte accesses inside it; past its
 * end reads are zero and writes are dropped. */
static void test_config_space(void **state)
{
	struct fixture *f = *state;

	memcpy(f->dev.config, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
	assert_int_equal(rdn(f, VIRTIO_MMIO_CONFIG, 1), 0x01);
	assert_int_equal(rdn(f, VIRTIO_MMIO_CONFIG + 2, 2), 0x0403);
	assert_int_equal(rdn(f, VIRTIO_MMIO_CONFIG + 4, 4), 0x08070605);
	assert_int_equal(rdn(f, VIRTIO_MMIO_CONFIG, 8), 0x0807060504030201ull);
	assert_int_equal(rdn(f, VIRTIO_MMIO_CONFIG + 6, 4), 0); /* straddles the end */
	assert_int_equal(rdn(f, VIRTIO_MMIO_CONFIG + 8, 4), 0);
	assert_int_equal(rdn(f, VIRTIO_MMIO_CONFIG + 0xefc, 4), 0);
	assert_int_equal(rdn(f, VIRTIO_MMIO_CONFIG, 3), 0);
	wrn(f, VIRTIO_MMIO_CONFIG + 1, 0xaa, 1);
	assert_int_equal(f->dev.config[1], 0xaa);
	wrn(f, VIRTIO_MMIO_CONFIG + 7, 0xbbbb, 2);
	assert_int_equal(f->dev.config[7], 0x08);
}

/* §4.2.2.2: registers take aligned 32-bit accesses only; others read zero
 * and change nothing. */
static void test_odd_widths_ignored(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(rdn(f, VIRTIO_MMIO_MAGIC_VALUE, 1), 0);
	assert_int_equal(rdn(f, VIRTIO_MMIO_MAGIC_VALUE, 2), 0);
	assert_int_equal(rdn(f, VIRTIO_MMIO_MAGIC_VALUE, 8), 0);
	assert_int_equal(rdn(f, VIRTIO_MMIO_MAGIC_VALUE + 1, 4), 0);
	wrn(f, VIRTIO_MMIO_STATUS, S_ACK, 1);
	wrn(f, VIRTIO_MMIO_STATUS, S_ACK, 2);
	wrn(f, VIRTIO_MMIO_STATUS, S_ACK, 8);
	wrn(f, VIRTIO_MMIO_STATUS + 2, S_ACK, 4);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), 0);
	wrn(f, VIRTIO_MMIO_QUEUE_NOTIFY, 0, 2);
	assert_int_equal(f->dev.notified, 0);
}

/* A reset puts the selectors back to 0 (so reads show queue 0 and feature
 * word 0), and every queue to not ready with no addresses. */
static void test_reset_restores_registers(void **state)
{
	struct fixture *f = *state;
	uint32_t word0;

	word0 = rd(f, VIRTIO_MMIO_DEVICE_FEATURES);
	bring_up(f);
	wr(f, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	wr(f, VIRTIO_MMIO_QUEUE_SEL, 7);       /* no such queue */
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
	wr(f, VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_DEVICE_FEATURES), word0);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_NUM_MAX), f->dev.vdev.queue_max);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_READY), 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	for (unsigned q = 0; q < f->dev.vdev.nr_queues; q++) {
		assert_int_equal(f->dev.vdev.vq[q].desc_gpa, 0);
		assert_int_equal(f->dev.vdev.vq[q].avail_gpa, 0);
		assert_int_equal(f->dev.vdev.vq[q].used_gpa, 0);
	}
}

/* One test per register (mreg_cases): its power-on value (the spec's
 * where it names one), a driver's write that must show (a read-only
 * register's must not), then Status 0 must bring the power-on value back.
 * Write-only registers are read where the device keeps them; the
 * selectors also through what they select. */
struct mreg_case {
	const char *name;
	uint32_t off;        /* the register written */
	uint32_t val;        /* what the driver writes (to each queue, for a queue register) */
	bool per_queue;      /* queues 0 and 1, through QueueSel */
	bool ro;             /* read-only: the write must change nothing */
	bool has_spec;
	uint64_t spec;       /* the spec's power-on value, when has_spec */
	/* how to read it: NULL reads off itself */
	uint64_t (*get)(struct fixture *f, unsigned q);
	uint32_t rd_off;     /* or another register, when not 0 */
};

static uint64_t get_dfsel(struct fixture *f, unsigned q)
{
	(void)q;
	return f->m->device_features_sel;
}

static uint64_t get_drfsel(struct fixture *f, unsigned q)
{
	(void)q;
	return f->m->driver_features_sel;
}

static uint64_t get_qsel(struct fixture *f, unsigned q)
{
	(void)q;
	return f->m->queue_sel;
}

static uint64_t get_drf(struct fixture *f, unsigned q)
{
	(void)q;
	return f->dev.vdev.guest_features;
}

static uint64_t get_qnum(struct fixture *f, unsigned q)
{
	return f->dev.vdev.vq[q].size;
}

static uint64_t get_desc(struct fixture *f, unsigned q)
{
	return f->dev.vdev.vq[q].desc_gpa;
}

static uint64_t get_avail(struct fixture *f, unsigned q)
{
	return f->dev.vdev.vq[q].avail_gpa;
}

static uint64_t get_used(struct fixture *f, unsigned q)
{
	return f->dev.vdev.vq[q].used_gpa;
}

#define MREG(n, ...) { .name = "reset restores " #n, .off = VIRTIO_MMIO_##n, __VA_ARGS__ }
#define MQREG(n, ...) MREG(n, .per_queue = true, __VA_ARGS__)
static const struct mreg_case mreg_cases[] = {
	MREG(DEVICE_FEATURES_SEL, .val = 1, .get = get_dfsel, .has_spec = true, .spec = 0),
	/* DeviceFeaturesSel as the driver sees it: word 0 of the features again */
	{ .name = "reset restores DEVICE_FEATURES (selected word)",
	  .off = VIRTIO_MMIO_DEVICE_FEATURES_SEL, .val = 1, .rd_off = VIRTIO_MMIO_DEVICE_FEATURES },
	MREG(DRIVER_FEATURES_SEL, .val = 1, .get = get_drfsel, .has_spec = true, .spec = 0),
	MREG(DRIVER_FEATURES, .val = 1u << 5, .get = get_drf, .has_spec = true, .spec = 0),
	MREG(QUEUE_SEL, .val = 1, .get = get_qsel, .has_spec = true, .spec = 0),
	/* QueueSel as the driver sees it: a queue that does not exist reads
	 * QueueNumMax 0, queue 0 again after the reset */
	{ .name = "reset restores QUEUE_SEL (QUEUE_NUM_MAX of the selected queue)",
	  .off = VIRTIO_MMIO_QUEUE_SEL, .val = 7, .rd_off = VIRTIO_MMIO_QUEUE_NUM_MAX },
	MQREG(QUEUE_NUM_MAX, .val = 8, .ro = true),
	MQREG(QUEUE_NUM, .val = 16, .get = get_qnum),     /* power-on: QueueNumMax */
	MQREG(QUEUE_READY, .val = 1, .has_spec = true, .spec = 0),
	MQREG(QUEUE_DESC_LOW, .val = 0x10000, .get = get_desc, .has_spec = true, .spec = 0),
	MQREG(QUEUE_DESC_HIGH, .val = 1, .get = get_desc, .has_spec = true, .spec = 0),
	MQREG(QUEUE_AVAIL_LOW, .val = 0x20000, .get = get_avail, .has_spec = true, .spec = 0),
	MQREG(QUEUE_AVAIL_HIGH, .val = 1, .get = get_avail, .has_spec = true, .spec = 0),
	MQREG(QUEUE_USED_LOW, .val = 0x30000, .get = get_used, .has_spec = true, .spec = 0),
	MQREG(QUEUE_USED_HIGH, .val = 1, .get = get_used, .has_spec = true, .spec = 0),
	MREG(STATUS, .val = S_ACK | S_DRV, .has_spec = true, .spec = 0),
	MREG(MAGIC_VALUE, .val = 0, .ro = true, .has_spec = true, .spec = 0x74726976),
	MREG(VERSION, .val = 1, .ro = true, .has_spec = true, .spec = 2),
	MREG(DEVICE_ID, .val = 1, .ro = true),
	MREG(VENDOR_ID, .val = 1, .ro = true, .has_spec = true, .spec = 0x1AF4),
};
#undef MQREG
#undef MREG

static uint64_t mreg_read(struct fixture *f, const struct mreg_case *c, unsigned q)
{
	if (c->per_queue)
		wr(f, VIRTIO_MMIO_QUEUE_SEL, q);
	if (c->get)
		return c->get(f, q);
	return rd(f, c->rd_off ? c->rd_off : c->off);
}

static int setup_mreg(void **state)
{
	const struct mreg_case *c = *state;

	setup(state);
	((struct fixture *)*state)->reg = c;
	return 0;
}

static void test_reset_restores_register(void **state)
{
	struct fixture *f = *state;
	const struct mreg_case *c = f->reg;
	unsigned nq = c->per_queue ? 2 : 1;
	uint64_t pon[2];

	assert_int_equal(f->dev.vdev.nr_queues, 2);
	for (unsigned q = 0; q < nq; q++) {
		pon[q] = mreg_read(f, c, q);
		if (c->has_spec)
			assert_int_equal(pon[q], c->spec);
	}
	if (c->get == get_qnum)
		assert_int_equal(pon[0], f->dev.vdev.queue_max);
	/* what a driver sets before DRIVER_OK */
	wr(f, VIRTIO_MMIO_STATUS, S_ACK);
	wr(f, VIRTIO_MMIO_STATUS, S_ACK | S_DRV);
	for (unsigned q = 0; q < nq; q++) {
		if (c->per_queue)
			wr(f, VIRTIO_MMIO_QUEUE_SEL, q);
		wr(f, c->off, c->val);
	}
	for (unsigned q = 0; q < nq; q++) {
		if (c->ro)
			assert_int_equal(mreg_read(f, c, q), pon[q]);
		else
			assert_int_not_equal(mreg_read(f, c, q), pon[q]);
	}

	wr(f, VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), 0);
	for (unsigned q = 0; q < nq; q++)
		assert_int_equal(mreg_read(f, c, q), pon[q]);
}

/* InterruptStatus (§4.2.2.1): a reset clears it, whatever was raised. */
static void test_reset_clears_interrupt_status(void **state)
{
	struct fixture *f = *state;

	bring_up(f);
	__atomic_store_n(&f->m->interrupt_status, VIRTIO_MMIO_INT_VRING | VIRTIO_MMIO_INT_CONFIG,
			 __ATOMIC_RELEASE);
	assert_int_equal(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS), 3);
	wr(f, VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
}

/* ConfigGeneration is read-only and a reset leaves it alone: it only ever
 * moves forward. */
static void test_reset_keeps_config_generation(void **state)
{
	struct fixture *f = *state;
	uint32_t g;

	virtio_config_changed(&f->dev.vdev);
	g = rd(f, VIRTIO_MMIO_CONFIG_GENERATION);
	assert_int_equal(g, 1);
	wr(f, VIRTIO_MMIO_CONFIG_GENERATION, 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_CONFIG_GENERATION), g);
	wr(f, VIRTIO_MMIO_STATUS, S_ACK);
	wr(f, VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_CONFIG_GENERATION), g);
}

/* QueueNum takes 0 or a power of two up to QueueNumMax; after another
 * value the queue cannot start until a good one is written. */
static void test_queue_num_values(void **state)
{
	struct fixture *f = *state;

	negotiate(f);
	setup_queue(f, 0, 64);
	wr(f, VIRTIO_MMIO_QUEUE_NUM, 48);
	assert_int_equal(f->dev.vdev.vq[0].size, 64);
	wr(f, VIRTIO_MMIO_STATUS, S_ACK | S_DRV | S_FOK | S_DOK);
	assert_true(rd(f, VIRTIO_MMIO_STATUS) & S_NR);
	negotiate(f);
	setup_queue(f, 0, 48);
	wr(f, VIRTIO_MMIO_QUEUE_NUM, 32);
	wr(f, VIRTIO_MMIO_STATUS, S_ACK | S_DRV | S_FOK | S_DOK);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), S_ACK | S_DRV | S_FOK | S_DOK);
	assert_int_equal(f->dev.vdev.vq[0].size, 32);
}

/* Every register offset with garbage, in every width: the device never
 * breaks the process, and comes back with a reset. */
static void test_register_garbage(void **state)
{
	static const uint64_t vals[] = { 0, 1, 0xff, 0x7fffffff, 0xffffffff, ~0ull };
	static const uint32_t widths[] = { 1, 2, 4, 8 };
	struct fixture *f = *state;

	for (uint32_t off = 0; off < VIRTIO_MMIO_CONFIG; off++)
		for (size_t w = 0; w < 4; w++)
			for (size_t v = 0; v < sizeof(vals) / sizeof(vals[0]); v++) {
				wrn(f, off, vals[v], widths[w]);
				(void)rdn(f, off, widths[w]);
			}
	(void)evloop_run_once(&f->loop, 0);
	bring_up(f);
	assert_true(f->dev.vdev.vq[0].started);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	static const struct CMUnitTest tests[] = {
		T(test_identity),
		T(test_reset_restores_registers),
		T(test_reset_clears_interrupt_status),
		T(test_reset_keeps_config_generation),
		T(test_queue_num_values),
		T(test_features),
		T(test_status_machine),
		T(test_queue_num_max),
		T(test_driver_ok_starts_queues),
		T(test_queue_frozen_after_driver_ok),
		T(test_queue_ready_0_stops_device),
		T(test_bad_queue_needs_reset),
		T(test_interrupt_status_and_ack),
		T(test_needs_reset_from_device),
		T(test_kick_through_bus),
		T(test_kick_on_vcpu),
		T(test_config_space),
		T(test_odd_widths_ignored),
		T(test_register_garbage),
	};
#undef T
	enum { NT = sizeof(tests) / sizeof(tests[0]), NR = sizeof(mreg_cases) / sizeof(mreg_cases[0]) };
	struct CMUnitTest all[NT + NR];

	memcpy(all, tests, sizeof(tests));
	for (unsigned i = 0; i < NR; i++)
		all[NT + i] = (struct CMUnitTest){
			.name = mreg_cases[i].name, .test_func = test_reset_restores_register,
			.setup_func = setup_mreg, .teardown_func = teardown,
			.initial_state = (void *)&mreg_cases[i],
		};
	return _cmocka_run_group_tests("virtio_mmio", all, NT + NR, NULL, NULL);
}
