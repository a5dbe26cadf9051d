/* The virtio core and the PCI transport, driven through the BAR exactly as
 * a driver would (no KVM: vm_fd -1, so kicks go through the bus fallback):
 * capabilities, the init sequence and its illegal steps, feature
 * negotiation, queue registers frozen after DRIVER_OK, NEEDS_RESET and
 * recovery by reset, MSI-X vectors, ISR, device config bounds. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>

#include "base/evloop.h"
#include "core/bus.h"
#include "core/irq.h"
#include "dummy_dev.h"
#include "fake_mem.h"
#include "hw/pci.h"
#include "virtio/virtio_pci.h"

#define MEM_SIZE (16u << 20)
#define CC(f) offsetof(struct virtio_pci_common_cfg, f)
#define S_ACK VIRTIO_CONFIG_S_ACKNOWLEDGE
#define S_DRV VIRTIO_CONFIG_S_DRIVER
#define S_FOK VIRTIO_CONFIG_S_FEATURES_OK
#define S_DOK VIRTIO_CONFIG_S_DRIVER_OK
#define S_NR VIRTIO_CONFIG_S_NEEDS_RESET

struct reg_case;

struct fixture {
	uint8_t *ram;
	struct gmem mem;
	struct bus pio, mmio;
	struct pci pci;
	struct irq_router router;
	struct evloop loop;
	struct dummy dev;
	struct virtio_pci *vp;
	uint64_t bar;
	const struct reg_case *reg; /* test_reset_restores_register's */
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct errbuf e;

	assert_non_null(f);
	f->ram = calloc(1, MEM_SIZE);
	assert_non_null(f->ram);
	fake_gmem_init(&f->mem, f->ram, MEM_SIZE);
	bus_init(&f->pio, "pio");
	bus_init(&f->mmio, "mmio");
	assert_int_equal(pci_init(&f->pci, &f->pio, &f->mmio, 0xB0000000, 0x10000000, 0xC0000000,
				  0x3EC00000, 0x400000000ull, 1ull << 30), 0);
	assert_int_equal(irq_router_init(&f->router, -1), 0);
	assert_int_equal(evloop_init(&f->loop), 0);
	dummy_init(&f->dev, &f->mem, 2);
	assert_int_equal(virtio_pci_create(&f->vp, &f->dev.vdev, &f->pci, &f->router, &f->loop, -1,
					   &e), 0);
	f->bar = f->vp->pci.bar[0].addr;
	assert_true(f->vp->pci.bar[0].mapped);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	virtio_dev_destroy(&f->dev.vdev);
	virtio_pci_destroy(f->vp);
	evloop_destroy(&f->loop);
	irq_router_destroy(&f->router);
	pci_destroy(&f->pci);
	bus_destroy(&f->mmio);
	bus_destroy(&f->pio);
	free(f->ram);
	free(f);
	return 0;
}

static uint64_t rd(struct fixture *f, uint64_t off, uint32_t len)
{
	uint64_t v = 0;

	assert_true(bus_dispatch(&f->mmio, f->bar + off, (uint8_t *)&v, len, false));
	return v;
}

static void wr(struct fixture *f, uint64_t off, uint64_t v, uint32_t len)
{
	assert_true(bus_dispatch(&f->mmio, f->bar + off, (uint8_t *)&v, len, true));
}

static uint8_t status(struct fixture *f)
{
	return rd(f, CC(device_status), 1);
}

/* Rings for queue q in fake RAM, then enable it. */
static void setup_queue(struct fixture *f, unsigned q, uint16_t size)
{
	uint64_t base = 0x100000 + q * 0x10000;

	wr(f, CC(queue_select), q, 2);
	wr(f, CC(queue_size), size, 2);
	wr(f, CC(queue_desc_lo), base, 4);
	wr(f, CC(queue_desc_hi), 0, 4);
	wr(f, CC(queue_avail_lo), base + 0x4000, 4);
	wr(f, CC(queue_used_lo), base + 0x8000, 4);
	wr(f, CC(queue_enable), 1, 2);
}

static void bring_up(struct fixture *f)
{
	wr(f, CC(device_status), 0, 1);
	wr(f, CC(device_status), S_ACK, 1);
	wr(f, CC(device_status), S_ACK | S_DRV, 1);
	wr(f, CC(guest_feature_select), 1, 4);
	wr(f, CC(guest_feature), 1u << (VIRTIO_F_VERSION_1 - 32), 4);
	wr(f, CC(device_status), S_ACK | S_DRV | S_FOK, 1);
	assert_int_equal(status(f), S_ACK | S_DRV | S_FOK);
	setup_queue(f, 0, 64);
	wr(f, CC(device_status), S_ACK | S_DRV | S_FOK | S_DOK, 1);
}

/* The vendor capabilities point into the BAR at the right places. */
static void test_capabilities(void **state)
{
	struct fixture *f = *state;
	struct pci_dev *d = &f->vp->pci;
	unsigned seen = 0, msix = 0;

	assert_int_equal(d->cfg[0] | d->cfg[1] << 8, 0x1AF4);
	assert_int_equal(d->cfg[2] | d->cfg[3] << 8, 0x1040 + 4);
	assert_true(d->cfg[PCI_REVISION] >= 1);
	for (unsigned at = d->cfg[PCI_CAP_PTR]; at; at = d->cfg[at + 1]) {
		if (d->cfg[at] == 0x11) {
			msix++;
			assert_int_equal((d->cfg[at + 2] | d->cfg[at + 3] << 8) & 0x7ff, 2); /* 3 vectors */
			continue;
		}
		assert_int_equal(d->cfg[at], 0x09);
		assert_int_equal(d->cfg[at + 4], 0);   /* BAR 0 */
		seen |= 1u << d->cfg[at + 3];
		if (d->cfg[at + 3] == VIRTIO_PCI_CAP_NOTIFY_CFG)
			assert_int_equal(d->cfg[at + 2], 20);
	}
	assert_int_equal(seen, (1u << VIRTIO_PCI_CAP_COMMON_CFG) | (1u << VIRTIO_PCI_CAP_NOTIFY_CFG) |
			       (1u << VIRTIO_PCI_CAP_ISR_CFG) | (1u << VIRTIO_PCI_CAP_DEVICE_CFG) |
			       (1u << VIRTIO_PCI_CAP_PCI_CFG));
	assert_int_equal(msix, 1);
}

static void test_features(void **state)
{
	struct fixture *f = *state;

	wr(f, CC(device_feature_select), 0, 4);
	assert_int_equal(rd(f, CC(device_feature), 4), (1u << VIRTIO_RING_F_EVENT_IDX) | (1u << 5));
	wr(f, CC(device_feature_select), 1, 4);
	assert_int_equal(rd(f, CC(device_feature), 4), 1u << (VIRTIO_F_VERSION_1 - 32));
	wr(f, CC(device_feature_select), 7, 4);
	assert_int_equal(rd(f, CC(device_feature), 4), 0);
	assert_int_equal(rd(f, CC(num_queues), 2), 2);
}

/* Steps out of order are refused: the status reads back unchanged. */
static void test_status_machine(void **state)
{
	struct fixture *f = *state;

	wr(f, CC(device_status), S_ACK | S_DRV, 1);        /* skips ACKNOWLEDGE */
	assert_int_equal(status(f), 0);
	wr(f, CC(device_status), S_ACK, 1);
	wr(f, CC(device_status), S_ACK | S_DRV | S_FOK | S_DOK, 1); /* skips FEATURES_OK */
	assert_int_equal(status(f), S_ACK);
	wr(f, CC(device_status), S_ACK | S_DRV, 1);
	/* FEATURES_OK without VERSION_1 */
	wr(f, CC(device_status), S_ACK | S_DRV | S_FOK, 1);
	assert_int_equal(status(f), S_ACK | S_DRV);
	/* a feature the device did not offer */
	wr(f, CC(guest_feature_select), 0, 4);
	wr(f, CC(guest_feature), 1u << 3, 4);
	wr(f, CC(guest_feature_select), 1, 4);
	wr(f, CC(guest_feature), 1u << (VIRTIO_F_VERSION_1 - 32), 4);
	wr(f, CC(device_status), S_ACK | S_DRV | S_FOK, 1);
	assert_int_equal(status(f), S_ACK | S_DRV);
	wr(f, CC(guest_feature_select), 0, 4);
	wr(f, CC(guest_feature), 1u << 5, 4);
	wr(f, CC(device_status), S_ACK | S_DRV | S_FOK, 1);
	assert_int_equal(status(f), S_ACK | S_DRV | S_FOK);
	/* features are frozen once accepted */
	wr(f, CC(guest_feature), 0, 4);
	wr(f, CC(guest_feature_select), 0, 4);
	assert_int_equal(rd(f, CC(guest_feature), 4), 1u << 5);
	/* FAILED may be set from anywhere */
	wr(f, CC(device_status), S_ACK | S_DRV | S_FOK | VIRTIO_CONFIG_S_FAILED, 1);
	assert_int_equal(status(f), S_ACK | S_DRV | S_FOK | VIRTIO_CONFIG_S_FAILED);
	wr(f, CC(device_status), 0, 1);
	assert_int_equal(status(f), 0);
}

static void test_driver_ok_starts_queues(void **state)
{
	struct fixture *f = *state;

	bring_up(f);
	assert_int_equal(status(f), S_ACK | S_DRV | S_FOK | S_DOK);
	assert_int_equal(f->dev.activated, 1);
	assert_true(f->dev.vdev.vq[0].started);
	assert_false(f->dev.vdev.vq[1].started);     /* never enabled */
	assert_true(virtio_is_live(&f->dev.vdev));
}

/* The CVE pattern: moving a queue after DRIVER_OK must not reach the device. */
static void test_queue_frozen_after_driver_ok(void **state)
{
	struct fixture *f = *state;
	struct vq *vq = &f->dev.vdev.vq[0];
	uint64_t desc;

	bring_up(f);
	desc = vq->desc_gpa;
	assert_int_equal(desc, 0x100000);
	wr(f, CC(queue_select), 0, 2);
	wr(f, CC(queue_desc_lo), 0xdead000, 4);
	wr(f, CC(queue_size), 8, 2);
	wr(f, CC(queue_msix_vector), 1, 2);
	assert_int_equal(vq->desc_gpa, desc);
	assert_int_equal(vq->size, 64);
	assert_int_equal(rd(f, CC(queue_desc_lo), 4), (uint32_t)desc);
	assert_int_equal(rd(f, CC(queue_msix_vector), 2), VIRTIO_MSI_NO_VECTOR);
}

static void test_bad_queue_needs_reset(void **state)
{
	struct fixture *f = *state;

	wr(f, CC(device_status), S_ACK, 1);
	wr(f, CC(device_status), S_ACK | S_DRV, 1);
	wr(f, CC(guest_feature_select), 1, 4);
	wr(f, CC(guest_feature), 1u << (VIRTIO_F_VERSION_1 - 32), 4);
	wr(f, CC(device_status), S_ACK | S_DRV | S_FOK, 1);
	setup_queue(f, 0, 3);                           /* not a power of two */
	wr(f, CC(device_status), S_ACK | S_DRV | S_FOK | S_DOK, 1);
	assert_true(status(f) & S_NR);
	assert_false(virtio_is_live(&f->dev.vdev));
	assert_int_equal(rd(f, 0x1000, 1) & 2, 2);       /* ISR: config change */
	/* a reset brings it back */
	bring_up(f);
	assert_int_equal(status(f), S_ACK | S_DRV | S_FOK | S_DOK);
	assert_true(virtio_is_live(&f->dev.vdev));
}

static void test_device_refuses(void **state)
{
	struct fixture *f = *state;

	f->dev.refuse = 1;
	bring_up(f);
	assert_true(status(f) & S_NR);
	f->dev.refuse = 0;
	bring_up(f);
	assert_false(status(f) & S_NR);
}

static void test_needs_reset_from_device(void **state)
{
	struct fixture *f = *state;

	bring_up(f);
	virtio_set_needs_reset(&f->dev.vdev, "test");
	assert_true(status(f) & S_NR);
	assert_false(virtio_is_live(&f->dev.vdev));
	/* the driver's next write keeps the device's bit */
	wr(f, CC(device_status), status(f) & ~S_NR, 1);
	assert_true(status(f) & S_NR);
	wr(f, CC(device_status), 0, 1);
	assert_int_equal(status(f), 0);
	assert_true(f->dev.resets >= 1);
}

static void test_vectors(void **state)
{
	struct fixture *f = *state;

	wr(f, CC(queue_select), 1, 2);
	wr(f, CC(queue_msix_vector), 2, 2);
	assert_int_equal(rd(f, CC(queue_msix_vector), 2), 2);
	wr(f, CC(queue_msix_vector), 3, 2);             /* only 3 vectors: 0..2 */
	assert_int_equal(rd(f, CC(queue_msix_vector), 2), VIRTIO_MSI_NO_VECTOR);
	wr(f, CC(msix_config), 40, 2);
	assert_int_equal(rd(f, CC(msix_config), 2), VIRTIO_MSI_NO_VECTOR);
	/* a queue that does not exist */
	wr(f, CC(queue_select), 9, 2);
	assert_int_equal(rd(f, CC(queue_size), 2), 0);
	wr(f, CC(queue_enable), 1, 2);
	assert_int_equal(rd(f, CC(queue_enable), 2), 0);
}

/* A reset puts every common-configuration register back to its power-on
 * value, the vectors included: one the last driver set must not route the
 * next one's interrupts. One test per register (reg_cases): on a fresh
 * device its power-on value is read (and checked against the spec's where
 * there is one), a driver writes it (each queue's, for a queue register),
 * the write must show (a read-only one must not), then device_status 0
 * must bring the power-on value back. */
struct reg_case {
	const char *name;
	uint32_t off, len;
	uint64_t val;        /* what the driver writes (to each queue, for a queue register) */
	bool per_queue;      /* queues 0 and 1, through queue_select */
	bool word1;          /* guest_feature_select 1 around each access */
	bool ro;             /* read-only: the write must change nothing */
	bool wr_select;      /* the write goes to device_feature_select instead */
	bool has_spec;
	uint64_t spec;       /* the spec's power-on value, when has_spec */
};

#define REG(n, ...) { .name = "reset restores " #n, .off = CC(n), __VA_ARGS__ }
#define QREG(n, ...) REG(n, .per_queue = true, __VA_ARGS__)
static const struct reg_case reg_cases[] = {
	REG(device_feature_select, .len = 4, .val = 1, .has_spec = true, .spec = 0),
	/* the select back at 0: word 0 of the features again */
	REG(device_feature, .len = 4, .val = 1, .wr_select = true),
	REG(guest_feature_select, .len = 4, .val = 1, .has_spec = true, .spec = 0),
	REG(guest_feature, .len = 4, .val = 1u << (VIRTIO_F_VERSION_1 - 32), .word1 = true,
	    .has_spec = true, .spec = 0),
	REG(msix_config, .len = 2, .val = 0, .has_spec = true, .spec = VIRTIO_MSI_NO_VECTOR),
	REG(num_queues, .len = 2, .val = 7, .ro = true, .has_spec = true, .spec = 2),
	REG(device_status, .len = 1, .val = S_ACK | S_DRV, .has_spec = true, .spec = 0),
	REG(queue_select, .len = 2, .val = 1, .has_spec = true, .spec = 0),
	QREG(queue_size, .len = 2, .val = 16),    /* power-on: the maximum */
	QREG(queue_msix_vector, .len = 2, .val = 1, .has_spec = true, .spec = VIRTIO_MSI_NO_VECTOR),
	QREG(queue_enable, .len = 2, .val = 1, .has_spec = true, .spec = 0),
	QREG(queue_notify_off, .len = 2, .val = 9, .ro = true),
	QREG(queue_desc_lo, .len = 4, .val = 0x10000, .has_spec = true, .spec = 0),
	QREG(queue_desc_hi, .len = 4, .val = 1, .has_spec = true, .spec = 0),
	QREG(queue_avail_lo, .len = 4, .val = 0x20000, .has_spec = true, .spec = 0),
	QREG(queue_avail_hi, .len = 4, .val = 1, .has_spec = true, .spec = 0),
	QREG(queue_used_lo, .len = 4, .val = 0x30000, .has_spec = true, .spec = 0),
	QREG(queue_used_hi, .len = 4, .val = 1, .has_spec = true, .spec = 0),
};
#undef QREG
#undef REG

static uint64_t reg_read(struct fixture *f, const struct reg_case *c, unsigned q)
{
	if (c->per_queue)
		wr(f, CC(queue_select), q, 2);
	if (c->word1)
		wr(f, CC(guest_feature_select), 1, 4);
	return rd(f, c->off, c->len);
}

static int setup_reg(void **state)
{
	const struct reg_case *c = *state;

	setup(state);
	((struct fixture *)*state)->reg = c;
	return 0;
}

static void test_reset_restores_register(void **state)
{
	struct fixture *f = *state;
	const struct reg_case *c = f->reg;
	unsigned nq = c->per_queue ? 2 : 1;
	uint64_t pon[2];

	assert_int_equal(f->dev.vdev.nr_queues, 2);
	for (unsigned q = 0; q < nq; q++) {
		pon[q] = reg_read(f, c, q);
		if (c->has_spec)
			assert_int_equal(pon[q], c->spec);
	}
	if (!strcmp(c->name, "reset restores queue_size"))
		assert_int_equal(pon[0], f->dev.vdev.queue_max);
	/* what a driver sets before DRIVER_OK */
	wr(f, CC(device_status), S_ACK, 1);
	wr(f, CC(device_status), S_ACK | S_DRV, 1);
	for (unsigned q = 0; q < nq; q++) {
		if (c->per_queue)
			wr(f, CC(queue_select), q, 2);
		if (c->word1)
			wr(f, CC(guest_feature_select), 1, 4);
		wr(f, c->wr_select ? CC(device_feature_select) : c->off, c->val, c->len);
	}
	for (unsigned q = 0; q < nq; q++) {
		if (c->ro)
			assert_int_equal(reg_read(f, c, q), pon[q]);
		else
			assert_int_not_equal(reg_read(f, c, q), pon[q]);
	}

	wr(f, CC(device_status), 0, 1);
	assert_int_equal(status(f), 0);
	for (unsigned q = 0; q < nq; q++)
		assert_int_equal(reg_read(f, c, q), pon[q]);
}

/* The ISR (§4.1.4.5) is cleared by a reset, as MMIO's InterruptStatus is:
 * a bit the last driver never read must not reach the next one. */
static void test_reset_clears_isr(void **state)
{
	struct fixture *f = *state;

	bring_up(f);
	__atomic_store_n(&f->vp->isr, 3, __ATOMIC_RELEASE); /* a queue and a config interrupt */
	wr(f, CC(device_status), 0, 1);
	assert_int_equal(rd(f, 0x1000, 1), 0);
}

/* config_generation is read-only and a reset leaves it alone: it only
 * ever moves forward, so a driver's before/after reads around a config
 * read that straddles a reset still see any change. */
static void test_reset_keeps_config_generation(void **state)
{
	struct fixture *f = *state;
	uint8_t g;

	virtio_config_changed(&f->dev.vdev);
	g = rd(f, CC(config_generation), 1);
	assert_int_equal(g, 1);
	wr(f, CC(config_generation), 0, 1);
	assert_int_equal(rd(f, CC(config_generation), 1), g);
	wr(f, CC(device_status), S_ACK, 1);
	wr(f, CC(device_status), 0, 1);
	assert_int_equal(rd(f, CC(config_generation), 1), g);
}

/* queue_size takes 0 or a power of two up to the maximum; anything else
 * is not read back, and the queue cannot start until a good size comes. */
static void test_queue_size_values(void **state)
{
	struct fixture *f = *state;
	uint16_t max = f->dev.vdev.queue_max;

	wr(f, CC(device_status), S_ACK, 1);
	wr(f, CC(queue_select), 0, 2);
	wr(f, CC(queue_size), 16, 2);
	assert_int_equal(rd(f, CC(queue_size), 2), 16);
	wr(f, CC(queue_size), 100, 2);
	assert_int_equal(rd(f, CC(queue_size), 2), 16);
	wr(f, CC(queue_size), max * 2, 2);
	assert_int_equal(rd(f, CC(queue_size), 2), 16);
	wr(f, CC(queue_size), 0, 2);
	assert_int_equal(rd(f, CC(queue_size), 2), 0);

	/* a refused size, then the rest of the bring-up: NEEDS_RESET */
	wr(f, CC(device_status), 0, 1);
	wr(f, CC(device_status), S_ACK, 1);
	wr(f, CC(device_status), S_ACK | S_DRV, 1);
	wr(f, CC(guest_feature_select), 1, 4);
	wr(f, CC(guest_feature), 1u << (VIRTIO_F_VERSION_1 - 32), 4);
	wr(f, CC(device_status), S_ACK | S_DRV | S_FOK, 1);
	setup_queue(f, 0, 64);
	wr(f, CC(queue_size), 48, 2);
	wr(f, CC(device_status), S_ACK | S_DRV | S_FOK | S_DOK, 1);
	assert_true(status(f) & S_NR);
	/* and with a good size after the bad one, it starts */
	bring_up(f);
	assert_int_equal(status(f), S_ACK | S_DRV | S_FOK | S_DOK);
}

static void test_config_space(void **state)
{
	struct fixture *f = *state;

	wr(f, 0x2000, 0x11223344, 4);
	assert_int_equal(rd(f, 0x2000, 4), 0x11223344);
	wr(f, 0x2004, 0xaabbccdd, 4);
	assert_int_equal(rd(f, 0x2000, 8), 0xaabbccdd11223344ull);
	/* past the end, or straddling it: ignored, reads 0 */
	assert_int_equal(rd(f, 0x2006, 4), 0);
	wr(f, 0x2008, 0x55, 1);
	assert_int_equal(rd(f, 0x2008, 1), 0);
	assert_int_equal(rd(f, 0x2003, 3), 0);
}

static void test_odd_widths_ignored(void **state)
{
	struct fixture *f = *state;

	wr(f, CC(device_status), S_ACK | (S_ACK << 8), 2);   /* status is one byte */
	assert_int_equal(status(f), 0);
	wr(f, CC(queue_select) + 1, 1, 1);
	assert_int_equal(rd(f, CC(queue_select), 2), 0);
	assert_int_equal(rd(f, 0x0FFF, 1), 0);
	assert_int_equal(rd(f, 0x7FFF, 1), 0);
}

static void test_msix_table(void **state)
{
	struct fixture *f = *state;

	/* vectors start masked; the table takes dword writes */
	assert_int_equal(rd(f, 0x4000 + 12, 4) & 1, 1);
	wr(f, 0x4000, 0xfee00000, 4);
	wr(f, 0x4008, 0x4021, 4);
	wr(f, 0x400c, 0, 4);
	assert_int_equal(rd(f, 0x4000, 4), 0xfee00000);
	assert_int_equal(rd(f, 0x4008, 4), 0x4021);
	/* not enabled yet: a notification stays pending in the PBA */
	msix_notify(&f->vp->msix, 0);
	assert_int_equal(rd(f, 0x5000, 8) & 1, 1);
	/* past the table, odd sizes */
	assert_int_equal(rd(f, 0x4000 + 3 * 16, 4), 0);
	wr(f, 0x4001, 0x12345678, 4);
	assert_int_equal(rd(f, 0x4000, 4), 0xfee00000);
}

static void test_kick_through_bus(void **state)
{
	struct fixture *f = *state;

	bring_up(f);
	wr(f, 0x3000, 0, 2);                            /* queue 0 */
	wr(f, 0x3000 + 4 * 7, 0, 2);                    /* no such queue: ignored */
	assert_int_equal(f->vp->kick[0].fd >= 0, 1);
	{
		uint64_t n = 0;

		assert_int_equal(read(f->vp->kick[0].fd, &n, sizeof(n)), sizeof(n));
		assert_int_equal(n, 1);
	}
}

/* A queue in vcpu_kicks: its kick is served on the writer's thread once
 * bus mastering is on; before that it goes to the eventfd, to be held.
 * Other queues always go to their eventfd. */
static void test_kick_on_vcpu(void **state)
{
	struct fixture *f = *state;
	unsigned slot = f->vp->pci.slot;
	uint64_t n = 0;

	f->dev.vdev.vcpu_kicks = 1u << 0;
	bring_up(f);
	wr(f, 0x3000, 0, 2);                            /* bus mastering off */
	assert_int_equal(f->dev.notified, 0);
	assert_int_equal(read(f->vp->kick[0].fd, &n, sizeof(n)), sizeof(n));
	pci_cfg_write(&f->pci, 0, slot, 0, PCI_COMMAND, PCI_COMMAND_MEM | PCI_COMMAND_MASTER, 2);
	wr(f, 0x3000, 0, 2);
	assert_int_equal(f->dev.notified, 1);
	assert_true(read(f->vp->kick[0].fd, &n, sizeof(n)) < 0);
	wr(f, 0x3000 + 4, 1, 2);                        /* queue 1: the eventfd's way */
	assert_int_equal(f->dev.notified, 1);
	assert_int_equal(read(f->vp->kick[1].fd, &n, sizeof(n)), sizeof(n));
	wr(f, 0x3000 + 4 * 7, 0, 2);                    /* no such queue: nothing */
	assert_int_equal(f->dev.notified, 1);
}

/* VIRTIO_PCI_CAP_PCI_CFG: the BAR reached through config space only. */
static void test_pci_cfg_window(void **state)
{
	struct fixture *f = *state;
	struct pci_dev *d = &f->vp->pci;
	unsigned slot = d->slot, cap = 0;

	for (unsigned at = d->cfg[PCI_CAP_PTR]; at; at = d->cfg[at + 1])
		if (d->cfg[at] == 0x09 && d->cfg[at + 3] == VIRTIO_PCI_CAP_PCI_CFG)
			cap = at;
	assert_true(cap);
	/* read num_queues (2 bytes at common + 0x12) */
	pci_cfg_write(&f->pci, 0, slot, 0, cap + 4, 0, 1);
	pci_cfg_write(&f->pci, 0, slot, 0, cap + 8, CC(num_queues), 4);
	pci_cfg_write(&f->pci, 0, slot, 0, cap + 12, 2, 4);
	assert_int_equal(pci_cfg_read(&f->pci, 0, slot, 0, cap + 16, 4) & 0xffff, 2);
	/* write device_status = ACKNOWLEDGE through the window */
	pci_cfg_write(&f->pci, 0, slot, 0, cap + 8, CC(device_status), 4);
	pci_cfg_write(&f->pci, 0, slot, 0, cap + 12, 1, 4);
	pci_cfg_write(&f->pci, 0, slot, 0, cap + 16, S_ACK, 4);
	assert_int_equal(status(f), S_ACK);
	/* a bad window (BAR 3, length 3, misaligned, past the BAR) does nothing */
	pci_cfg_write(&f->pci, 0, slot, 0, cap + 4, 3, 1);
	pci_cfg_write(&f->pci, 0, slot, 0, cap + 16, 0, 4);
	assert_int_equal(status(f), S_ACK);
	pci_cfg_write(&f->pci, 0, slot, 0, cap + 4, 0, 1);
	pci_cfg_write(&f->pci, 0, slot, 0, cap + 12, 3, 4);
	pci_cfg_write(&f->pci, 0, slot, 0, cap + 16, 0, 4);
	assert_int_equal(status(f), S_ACK);
	pci_cfg_write(&f->pci, 0, slot, 0, cap + 12, 4, 4);
	pci_cfg_write(&f->pci, 0, slot, 0, cap + 8, 0x7FFFFFFF, 4);
	assert_int_equal(pci_cfg_read(&f->pci, 0, slot, 0, cap + 16, 4), 0);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	static const struct CMUnitTest tests[] = {
		T(test_capabilities), T(test_features), T(test_status_machine),
		T(test_driver_ok_starts_queues), T(test_queue_frozen_after_driver_ok),
		T(test_bad_queue_needs_reset), T(test_device_refuses), T(test_needs_reset_from_device),
		T(test_vectors), T(test_reset_clears_isr), T(test_reset_keeps_config_generation),
		T(test_queue_size_values),
		T(test_config_space), T(test_odd_widths_ignored), T(test_msix_table),
		T(test_kick_through_bus), T(test_kick_on_vcpu), T(test_pci_cfg_window),
	};
	enum { NT = sizeof(tests) / sizeof(tests[0]), NR = sizeof(reg_cases) / sizeof(reg_cases[0]) };
	struct CMUnitTest all[NT + NR];

	memcpy(all, tests, sizeof(tests));
	for (unsigned i = 0; i < NR; i++)
		all[NT + i] = (struct CMUnitTest){
			.name = reg_cases[i].name, .test_func = test_reset_restores_register,
			.setup_func = setup_reg, .teardown_func = teardown,
			.initial_state = (void *)&reg_cases[i],
		};
	return _cmocka_run_group_tests("virtio_pci", all, NT + NR, NULL, NULL);
}
