/* Unit tests for hw/pci: the host bridge through pci_cfg_read, conf1 and
 * ECAM (driven through real buses), BAR assignment, sizing, moving and
 * decode toggling as a guest OS does them, write masks, and capabilities. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "arch/x86/layout.h"
#include "hw/pci.h"

#define MMIO64_BASE 0x8000000000ull
#define MMIO64_SIZE 0x1000000000ull

#define BAR0_SIZE 0x1000ull  /* 32-bit MMIO */
#define BAR2_SIZE 0x4000ull  /* 64-bit prefetchable MMIO, BARs 2-3 */
#define BAR4_SIZE 0x20ull    /* I/O */

struct probe {
	unsigned calls;
	uint64_t offset;
	uint32_t len;
	bool is_write;
	uint64_t wval;
};

struct test_dev {
	struct pci_dev pdev;
	struct probe bar[PCI_NR_BARS];
	unsigned cfg_writes;
	uint32_t last_off, last_len;
};

struct fixture {
	struct bus pio, mmio;
	struct pci pci;
	struct test_dev dev, dev2;
};

static void probe_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct probe *p = opaque;

	p->calls++;
	p->offset = offset;
	p->len = len;
	p->is_write = is_write;
	if (is_write) {
		p->wval = 0;
		memcpy(&p->wval, data, len);
	} else {
		memset(data, 0x3C, len);
	}
}

static void cfg_written(struct pci_dev *d, uint32_t off, uint32_t len)
{
	struct test_dev *t = d->opaque;

	t->cfg_writes++;
	t->last_off = off;
	t->last_len = len;
}

static void test_dev_init(struct test_dev *t)
{
	memset(t, 0, sizeof(*t));
	pci_dev_init(&t->pdev, 0x1AF4, 0x1042, 0x010000, 0x1AF4, 0x0002);
	t->pdev.opaque = t;
	t->pdev.cfg_written = cfg_written;
	assert_int_equal(pci_dev_set_bar(&t->pdev, 0, BAR0_SIZE, 0, probe_io, &t->bar[0]), 0);
	assert_int_equal(pci_dev_set_bar(&t->pdev, 2, BAR2_SIZE, PCI_BAR_MEM64 | PCI_BAR_PREFETCH,
					 probe_io, &t->bar[2]), 0);
	assert_int_equal(pci_dev_set_bar(&t->pdev, 4, BAR4_SIZE, PCI_BAR_IO, probe_io,
					 &t->bar[4]), 0);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	bus_init(&f->pio, "pio");
	bus_init(&f->mmio, "mmio");
	if (pci_init(&f->pci, &f->pio, &f->mmio, LAYOUT_ECAM_BASE, LAYOUT_ECAM_SIZE,
		     LAYOUT_MMIO32_BASE, LAYOUT_MMIO32_SIZE, MMIO64_BASE, MMIO64_SIZE))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	pci_destroy(&f->pci);
	bus_destroy(&f->pio);
	bus_destroy(&f->mmio);
	free(f);
	return 0;
}

/* Config access helpers, as the guest does them. */
static uint32_t cfg_rd(struct fixture *f, unsigned slot, uint32_t off, uint32_t len)
{
	return pci_cfg_read(&f->pci, 0, slot, 0, off, len);
}

static void cfg_wr(struct fixture *f, unsigned slot, uint32_t off, uint32_t val, uint32_t len)
{
	pci_cfg_write(&f->pci, 0, slot, 0, off, val, len);
}

static uint32_t conf1_addr(unsigned bus, unsigned slot, unsigned fn, unsigned reg)
{
	return 0x80000000u | bus << 16 | slot << 11 | fn << 8 | (reg & 0xFC);
}

static void pio_wr32(struct fixture *f, uint64_t port, uint32_t v)
{
	uint8_t d[4];

	memcpy(d, &v, 4);
	assert_true(bus_dispatch(&f->pio, port, d, 4, true));
}

static uint32_t pio_rd(struct fixture *f, uint64_t port, uint32_t len)
{
	uint8_t d[4] = { 0, 0, 0, 0 };
	uint32_t v = 0;

	bus_dispatch(&f->pio, port, d, len, false);
	memcpy(&v, d, len);
	return v;
}

static uint32_t conf1_rd(struct fixture *f, unsigned bus, unsigned slot, unsigned fn,
			 unsigned reg, uint32_t len)
{
	pio_wr32(f, PCI_CONF1_ADDR_PORT, conf1_addr(bus, slot, fn, reg));
	return pio_rd(f, PCI_CONF1_DATA_PORT + (reg & 3), len);
}

static void conf1_wr(struct fixture *f, unsigned slot, unsigned reg, uint32_t v, uint32_t len)
{
	uint8_t d[4];

	pio_wr32(f, PCI_CONF1_ADDR_PORT, conf1_addr(0, slot, 0, reg));
	memcpy(d, &v, 4);
	bus_dispatch(&f->pio, PCI_CONF1_DATA_PORT + (reg & 3), d, len, true);
}

static uint64_t ecam_off(unsigned bus, unsigned slot, unsigned fn, unsigned reg)
{
	return (uint64_t)bus << 20 | slot << 15 | fn << 12 | reg;
}

static uint64_t ecam_rd(struct fixture *f, unsigned bus, unsigned slot, unsigned fn,
			unsigned reg, uint32_t len)
{
	uint8_t d[8] = { 0 };
	uint64_t v = 0;

	assert_true(bus_dispatch(&f->mmio, LAYOUT_ECAM_BASE + ecam_off(bus, slot, fn, reg), d, len,
				 false));
	memcpy(&v, d, len);
	return v;
}

static void ecam_wr(struct fixture *f, unsigned slot, unsigned reg, uint64_t v, uint32_t len)
{
	uint8_t d[8];

	memcpy(d, &v, 8);
	assert_true(bus_dispatch(&f->mmio, LAYOUT_ECAM_BASE + ecam_off(0, slot, 0, reg), d, len,
				 true));
}

/* True if an access at addr reaches probe p (and only then). */
static bool mmio_hits(struct fixture *f, uint64_t addr, struct probe *p)
{
	unsigned before = p->calls;
	uint8_t d[4] = { 0 };

	return bus_dispatch(&f->mmio, addr, d, 4, false) && p->calls == before + 1;
}

static bool pio_hits(struct fixture *f, uint64_t port, struct probe *p)
{
	unsigned before = p->calls;
	uint8_t d = 0;

	return bus_dispatch(&f->pio, port, &d, 1, false) && p->calls == before + 1;
}

static uint64_t bar_addr(struct fixture *f, unsigned slot, unsigned idx)
{
	uint32_t lo = cfg_rd(f, slot, PCI_BAR0 + 4 * idx, 4);

	if (lo & PCI_BAR_IO)
		return lo & ~3u;
	if (lo & PCI_BAR_MEM64)
		return (lo & ~15ull) | (uint64_t)cfg_rd(f, slot, PCI_BAR0 + 4 * idx + 4, 4) << 32;
	return lo & ~15u;
}

static int register_dev(struct fixture *f)
{
	test_dev_init(&f->dev);
	return pci_register(&f->pci, &f->dev.pdev);
}

static void test_host_bridge(void **state)
{
	struct fixture *f = *state;

	assert_ptr_equal(f->pci.slot[0], &f->pci.host_bridge);
	/* direct */
	assert_int_equal(cfg_rd(f, 0, PCI_VENDOR_ID, 2), 0x1b36);
	assert_int_equal(cfg_rd(f, 0, PCI_DEVICE_ID, 2), 0x0008);
	assert_int_equal(cfg_rd(f, 0, PCI_VENDOR_ID, 4), 0x00081b36);
	assert_int_equal(cfg_rd(f, 0, PCI_REVISION, 4) >> 8, 0x060000);
	assert_int_equal(cfg_rd(f, 0, PCI_CLASS_PROG + 2, 1), 0x06);
	assert_int_equal(cfg_rd(f, 0, PCI_HEADER_TYPE, 1), 0);
	/* conf1, dword and narrower */
	assert_int_equal(conf1_rd(f, 0, 0, 0, PCI_VENDOR_ID, 4), 0x00081b36);
	assert_int_equal(conf1_rd(f, 0, 0, 0, PCI_DEVICE_ID, 2), 0x0008);
	assert_int_equal(conf1_rd(f, 0, 0, 0, 1, 1), 0x1b);
	assert_int_equal(conf1_rd(f, 0, 0, 0, 3, 1), 0x00);
	assert_int_equal(conf1_rd(f, 0, 0, 0, PCI_REVISION, 4) >> 8, 0x060000);
	/* ECAM */
	assert_int_equal(ecam_rd(f, 0, 0, 0, PCI_VENDOR_ID, 4), 0x00081b36);
	assert_int_equal(ecam_rd(f, 0, 0, 0, PCI_DEVICE_ID, 2), 0x0008);
	assert_int_equal(ecam_rd(f, 0, 0, 0, PCI_REVISION + 3, 1), 0x06);
	/* extended config space exists (and is empty) through ECAM */
	assert_int_equal(ecam_rd(f, 0, 0, 0, 0xFFC, 4), 0);
	assert_int_equal(ecam_rd(f, 0, 0, 0, 0x100, 4), 0);
	/* the conf1 address latch reads back, reserved bits dropped */
	pio_wr32(f, PCI_CONF1_ADDR_PORT, 0xFFFFFFFF);
	assert_int_equal(pio_rd(f, PCI_CONF1_ADDR_PORT, 4), 0x80FFFFFC);
	pio_wr32(f, PCI_CONF1_ADDR_PORT, 0x80000000);
	assert_int_equal(pio_rd(f, PCI_CONF1_ADDR_PORT, 4), 0x80000000);
}

static void test_absent_reads_all_ones(void **state)
{
	struct fixture *f = *state;
	static const uint32_t lens[] = { 1, 2, 4 };
	uint8_t host_cfg[PCI_CFG_SIZE];

	for (size_t i = 0; i < 3; i++) {
		uint32_t ones = lens[i] == 4 ? 0xFFFFFFFF : (1u << (8 * lens[i])) - 1;

		assert_int_equal(cfg_rd(f, 1, 0, lens[i]), ones);
		assert_int_equal(cfg_rd(f, 31, 0, lens[i]), ones);
		assert_int_equal(pci_cfg_read(&f->pci, 0, 0, 1, 0, lens[i]), ones);   /* function 1 */
		assert_int_equal(pci_cfg_read(&f->pci, 0, 0, 7, 0, lens[i]), ones);
		assert_int_equal(pci_cfg_read(&f->pci, 1, 0, 0, 0, lens[i]), ones);   /* bus 1 */
		assert_int_equal(pci_cfg_read(&f->pci, 255, 0, 0, 0, lens[i]), ones);
		assert_int_equal(pci_cfg_read(&f->pci, 0, 32, 0, 0, lens[i]), ones);  /* no slot 32 */
		assert_int_equal(pci_cfg_read(&f->pci, 0, UINT32_MAX, 0, 0, lens[i]), ones);
		assert_int_equal(conf1_rd(f, 0, 5, 0, 0, lens[i]), ones);
		assert_int_equal(conf1_rd(f, 0, 0, 3, 0, lens[i]), ones);
		assert_int_equal(conf1_rd(f, 7, 0, 0, 0, lens[i]), ones);
		assert_int_equal(ecam_rd(f, 0, 5, 0, 0, lens[i]), ones);
		assert_int_equal(ecam_rd(f, 0, 0, 2, 0, lens[i]), ones);
		assert_int_equal(ecam_rd(f, 200, 0, 0, 0, lens[i]), ones);
		assert_int_equal(ecam_rd(f, 255, 31, 7, 0xFFC, lens[i]), ones);
	}
	/* writes to absent functions go nowhere (not to the host bridge either) */
	memcpy(host_cfg, f->pci.host_bridge.cfg, sizeof(host_cfg));
	pci_cfg_write(&f->pci, 0, 0, 1, PCI_COMMAND, 0x7, 2);
	pci_cfg_write(&f->pci, 1, 0, 0, PCI_COMMAND, 0x7, 2);
	pci_cfg_write(&f->pci, 0, 99, 0, PCI_COMMAND, 0x7, 2);
	pci_cfg_write(&f->pci, 0, 32, 0, PCI_INTERRUPT_LINE, 0x7, 1);
	assert_memory_equal(f->pci.host_bridge.cfg, host_cfg, sizeof(host_cfg));
}

static void test_conf1_disabled(void **state)
{
	struct fixture *f = *state;
	uint16_t cmd = cfg_rd(f, 0, PCI_COMMAND, 2);

	/* enable bit clear: reads all ones, writes ignored */
	pio_wr32(f, PCI_CONF1_ADDR_PORT, 0x00000000);
	assert_int_equal(pio_rd(f, PCI_CONF1_DATA_PORT, 4), 0xFFFFFFFF);
	assert_int_equal(pio_rd(f, PCI_CONF1_DATA_PORT, 2), 0xFFFF);
	assert_int_equal(pio_rd(f, PCI_CONF1_DATA_PORT + 3, 1), 0xFF);
	pio_wr32(f, PCI_CONF1_ADDR_PORT, 0x00000004);
	pio_wr32(f, PCI_CONF1_DATA_PORT, 0x0007 ^ cmd);
	assert_int_equal(cfg_rd(f, 0, PCI_COMMAND, 2), cmd);
}

static void test_conf1_latch_only_dwords(void **state)
{
	struct fixture *f = *state;
	uint8_t d[4] = { 0x01, 0, 0, 0 };

	pio_wr32(f, PCI_CONF1_ADDR_PORT, 0x80000000);
	/* the classic "outb 0xCFB" probe and other narrow accesses leave it alone */
	assert_true(bus_dispatch(&f->pio, PCI_CONF1_ADDR_PORT + 3, d, 1, true));
	assert_true(bus_dispatch(&f->pio, PCI_CONF1_ADDR_PORT, d, 2, true));
	assert_true(bus_dispatch(&f->pio, PCI_CONF1_ADDR_PORT, d, 1, true));
	assert_int_equal(pio_rd(f, PCI_CONF1_ADDR_PORT, 4), 0x80000000);
	assert_int_equal(pio_rd(f, PCI_CONF1_ADDR_PORT, 2), 0xFFFF);
	assert_int_equal(pio_rd(f, PCI_CONF1_ADDR_PORT + 2, 1), 0xFF);
	/* a dword spanning 0xCFA..0xCFD is not the latch and not data */
	assert_false(bus_dispatch(&f->pio, PCI_CONF1_ADDR_PORT + 2, d, 4, true));
	assert_int_equal(pio_rd(f, PCI_CONF1_ADDR_PORT, 4), 0x80000000);
}

static void test_register_and_map(void **state)
{
	struct fixture *f = *state;
	uint64_t a0, a2, a4;
	uint16_t cmd;

	assert_int_equal(register_dev(f), 1);
	assert_ptr_equal(f->pci.slot[1], &f->dev.pdev);
	assert_int_equal(f->dev.pdev.slot, 1);
	assert_int_equal(cfg_rd(f, 1, PCI_VENDOR_ID, 4), 0x10421AF4);
	assert_int_equal(cfg_rd(f, 1, PCI_REVISION, 4) >> 8, 0x010000);
	assert_int_equal(cfg_rd(f, 1, PCI_SUBSYS_VENDOR, 4), 0x00021AF4);
	assert_int_equal(conf1_rd(f, 0, 1, 0, PCI_VENDOR_ID, 4), 0x10421AF4);
	assert_int_equal(ecam_rd(f, 0, 1, 0, PCI_VENDOR_ID, 4), 0x10421AF4);

	cmd = cfg_rd(f, 1, PCI_COMMAND, 2);
	assert_true(cmd & PCI_COMMAND_MEM);
	assert_true(cmd & PCI_COMMAND_IO);

	/* BAR flags as the guest sees them */
	assert_int_equal(cfg_rd(f, 1, PCI_BAR0, 4) & 0xF, 0x0);
	assert_int_equal(cfg_rd(f, 1, PCI_BAR0 + 8, 4) & 0xF, PCI_BAR_MEM64 | PCI_BAR_PREFETCH);
	assert_int_equal(cfg_rd(f, 1, PCI_BAR0 + 16, 4) & 0x3, PCI_BAR_IO);
	/* unused BARs read 0 */
	assert_int_equal(cfg_rd(f, 1, PCI_BAR0 + 4, 4), 0);
	assert_int_equal(cfg_rd(f, 1, PCI_BAR0 + 20, 4), 0);

	a0 = bar_addr(f, 1, 0);
	a2 = bar_addr(f, 1, 2);
	a4 = bar_addr(f, 1, 4);
	assert_true(a0 >= LAYOUT_MMIO32_BASE && a0 + BAR0_SIZE <= LAYOUT_MMIO32_BASE + LAYOUT_MMIO32_SIZE);
	assert_int_equal(a0 % BAR0_SIZE, 0);
	assert_true(a2 >= MMIO64_BASE && a2 + BAR2_SIZE <= MMIO64_BASE + MMIO64_SIZE);
	assert_int_equal(a2 % BAR2_SIZE, 0);
	assert_true(a4 >= 0xC000 && a4 + BAR4_SIZE <= 0x10000);
	assert_int_equal(a4 % BAR4_SIZE, 0);

	/* mapped: accesses reach the device's handler with BAR-relative offsets */
	{
		uint8_t d[4] = { 0x11, 0x22, 0x33, 0x44 };

		assert_true(bus_dispatch(&f->mmio, a0 + 0x10, d, 4, true));
		assert_int_equal(f->dev.bar[0].calls, 1);
		assert_int_equal(f->dev.bar[0].offset, 0x10);
		assert_int_equal(f->dev.bar[0].wval, 0x44332211);
	}
	assert_true(mmio_hits(f, a0, &f->dev.bar[0]));
	assert_true(mmio_hits(f, a0 + BAR0_SIZE - 4, &f->dev.bar[0]));
	assert_false(mmio_hits(f, a0 + BAR0_SIZE, &f->dev.bar[0]));
	assert_true(mmio_hits(f, a2 + BAR2_SIZE - 4, &f->dev.bar[2]));
	assert_int_equal(f->dev.bar[2].offset, BAR2_SIZE - 4);
	assert_true(pio_hits(f, a4 + 5, &f->dev.bar[4]));
	assert_int_equal(f->dev.bar[4].offset, 5);

	/* a second device gets its own, non-overlapping BARs */
	test_dev_init(&f->dev2);
	assert_int_equal(pci_register(&f->pci, &f->dev2.pdev), 2);
	assert_true(bar_addr(f, 2, 0) >= a0 + BAR0_SIZE || bar_addr(f, 2, 0) + BAR0_SIZE <= a0);
	assert_true(bar_addr(f, 2, 2) >= a2 + BAR2_SIZE || bar_addr(f, 2, 2) + BAR2_SIZE <= a2);
	assert_true(bar_addr(f, 2, 4) >= a4 + BAR4_SIZE || bar_addr(f, 2, 4) + BAR4_SIZE <= a4);
	assert_true(mmio_hits(f, bar_addr(f, 2, 0), &f->dev2.bar[0]));
	assert_true(mmio_hits(f, bar_addr(f, 2, 2), &f->dev2.bar[2]));
	assert_true(pio_hits(f, bar_addr(f, 2, 4), &f->dev2.bar[4]));
}

/* The OS's BAR sizing dance: write all ones, read the mask, restore. */
static void size_bar(struct fixture *f, unsigned slot, unsigned reg, uint32_t expect)
{
	uint32_t orig = cfg_rd(f, slot, reg, 4);

	cfg_wr(f, slot, reg, 0xFFFFFFFF, 4);
	assert_int_equal(cfg_rd(f, slot, reg, 4), expect);
	cfg_wr(f, slot, reg, orig, 4);
	assert_int_equal(cfg_rd(f, slot, reg, 4), orig);
}

static void test_bar_sizing(void **state)
{
	struct fixture *f = *state;
	uint64_t a0, a2, a4;
	uint16_t cmd;

	assert_int_equal(register_dev(f), 1);
	a0 = bar_addr(f, 1, 0);
	a2 = bar_addr(f, 1, 2);
	a4 = bar_addr(f, 1, 4);
	cmd = cfg_rd(f, 1, PCI_COMMAND, 2);

	/* as Linux does it: decoding off while sizing */
	cfg_wr(f, 1, PCI_COMMAND, cmd & ~(PCI_COMMAND_MEM | PCI_COMMAND_IO), 2);
	size_bar(f, 1, PCI_BAR0, (uint32_t)~(BAR0_SIZE - 1));
	size_bar(f, 1, PCI_BAR0 + 8, (uint32_t)~(BAR2_SIZE - 1) | 0xC);
	size_bar(f, 1, PCI_BAR0 + 12, 0xFFFFFFFF);
	size_bar(f, 1, PCI_BAR0 + 16, (uint32_t)~(BAR4_SIZE - 1) | 1);
	/* unused BARs size to 0 */
	size_bar(f, 1, PCI_BAR0 + 4, 0);
	size_bar(f, 1, PCI_BAR0 + 20, 0);
	cfg_wr(f, 1, PCI_COMMAND, cmd, 2);
	assert_true(mmio_hits(f, a0, &f->dev.bar[0]));
	assert_true(mmio_hits(f, a2, &f->dev.bar[2]));
	assert_true(pio_hits(f, a4, &f->dev.bar[4]));

	/* and with decoding left on: the BAR comes back where it was */
	size_bar(f, 1, PCI_BAR0, (uint32_t)~(BAR0_SIZE - 1));
	size_bar(f, 1, PCI_BAR0 + 8, (uint32_t)~(BAR2_SIZE - 1) | 0xC);
	size_bar(f, 1, PCI_BAR0 + 12, 0xFFFFFFFF);
	size_bar(f, 1, PCI_BAR0 + 16, (uint32_t)~(BAR4_SIZE - 1) | 1);
	assert_true(mmio_hits(f, a0, &f->dev.bar[0]));
	assert_true(mmio_hits(f, a2, &f->dev.bar[2]));
	assert_true(pio_hits(f, a4, &f->dev.bar[4]));
	assert_false(mmio_hits(f, 0xFFFFF000, &f->dev.bar[0]));

	/* the same through conf1 */
	conf1_wr(f, 1, PCI_BAR0, 0xFFFFFFFF, 4);
	assert_int_equal(conf1_rd(f, 0, 1, 0, PCI_BAR0, 4), (uint32_t)~(BAR0_SIZE - 1));
	conf1_wr(f, 1, PCI_BAR0, (uint32_t)a0, 4);
	assert_int_equal(conf1_rd(f, 0, 1, 0, PCI_BAR0, 4), (uint32_t)a0);
	assert_true(mmio_hits(f, a0, &f->dev.bar[0]));
}

static void test_bar_move(void **state)
{
	struct fixture *f = *state;
	uint64_t a0, a2, a4, n0 = 0xD0000000, n2 = 0x90E0000000ull, n4 = 0xE000;

	assert_int_equal(register_dev(f), 1);
	a0 = bar_addr(f, 1, 0);
	a2 = bar_addr(f, 1, 2);
	a4 = bar_addr(f, 1, 4);

	cfg_wr(f, 1, PCI_BAR0, (uint32_t)n0, 4);
	assert_int_equal(bar_addr(f, 1, 0), n0);
	assert_false(mmio_hits(f, a0, &f->dev.bar[0]));
	assert_true(mmio_hits(f, n0, &f->dev.bar[0]));
	assert_true(mmio_hits(f, n0 + BAR0_SIZE - 4, &f->dev.bar[0]));

	/* a 64-bit BAR moves in two halves, as the guest writes them */
	cfg_wr(f, 1, PCI_BAR0 + 8, (uint32_t)n2, 4);
	cfg_wr(f, 1, PCI_BAR0 + 12, (uint32_t)(n2 >> 32), 4);
	assert_int_equal(bar_addr(f, 1, 2), n2);
	assert_false(mmio_hits(f, a2, &f->dev.bar[2]));
	assert_true(mmio_hits(f, n2 + 8, &f->dev.bar[2]));
	assert_int_equal(f->dev.bar[2].offset, 8);
	/* ... or only the upper half, through ECAM */
	ecam_wr(f, 1, PCI_BAR0 + 12, 0x00000042, 4);
	assert_false(mmio_hits(f, n2, &f->dev.bar[2]));
	assert_true(mmio_hits(f, 0x4200000000ull | (uint32_t)n2, &f->dev.bar[2]));
	/* below 4 GiB is fine for a 64-bit BAR too */
	cfg_wr(f, 1, PCI_BAR0 + 12, 0, 4);
	assert_true(mmio_hits(f, (uint32_t)n2, &f->dev.bar[2]));

	cfg_wr(f, 1, PCI_BAR0 + 16, (uint32_t)n4, 4);
	assert_false(pio_hits(f, a4, &f->dev.bar[4]));
	assert_true(pio_hits(f, n4 + 0x1F, &f->dev.bar[4]));

	/* low flag bits and sub-size address bits are not writable */
	cfg_wr(f, 1, PCI_BAR0, (uint32_t)n0 | 0xFFF, 4);
	assert_int_equal(cfg_rd(f, 1, PCI_BAR0, 4), (uint32_t)n0);
	cfg_wr(f, 1, PCI_BAR0 + 16, (uint32_t)n4 | 0x1F, 4);
	assert_int_equal(cfg_rd(f, 1, PCI_BAR0 + 16, 4), (uint32_t)n4 | 1);

	/* byte-wise writes move the BAR too (each step is synced) */
	cfg_wr(f, 1, PCI_BAR0 + 3, 0xD1, 1);
	assert_true(mmio_hits(f, 0xD1000000, &f->dev.bar[0]));
	assert_false(mmio_hits(f, n0, &f->dev.bar[0]));
}

/* Hostile moves: onto another BAR, onto ECAM/conf1, to address 0, to the
 * top of the address space. The bus refuses; the BAR just does not decode,
 * and decodes again once moved somewhere sane. */
static void test_bar_move_hostile(void **state)
{
	struct fixture *f = *state;
	uint64_t a0, b0, a4;

	assert_int_equal(register_dev(f), 1);
	test_dev_init(&f->dev2);
	assert_int_equal(pci_register(&f->pci, &f->dev2.pdev), 2);
	a0 = bar_addr(f, 1, 0);
	b0 = bar_addr(f, 2, 0);
	a4 = bar_addr(f, 1, 4);

	/* onto the other device's BAR: the owner keeps it */
	cfg_wr(f, 1, PCI_BAR0, (uint32_t)b0, 4);
	assert_true(mmio_hits(f, b0, &f->dev2.bar[0]));
	assert_false(mmio_hits(f, b0, &f->dev.bar[0]));
	/* onto ECAM: config space keeps working */
	cfg_wr(f, 1, PCI_BAR0, (uint32_t)LAYOUT_ECAM_BASE, 4);
	assert_int_equal(ecam_rd(f, 0, 0, 0, 0, 4), 0x00081b36);
	/* the IO BAR onto conf1 */
	cfg_wr(f, 1, PCI_BAR0 + 16, 0xCE0, 4);
	assert_int_equal(conf1_rd(f, 0, 0, 0, 0, 4), 0x00081b36);
	/* address 0 means "not assigned" */
	cfg_wr(f, 1, PCI_BAR0, 0, 4);
	assert_false(mmio_hits(f, 0, &f->dev.bar[0]));
	/* the 64-bit BAR at the very top: it fits, no wrap */
	cfg_wr(f, 1, PCI_BAR0 + 8, 0xFFFFC000, 4);
	cfg_wr(f, 1, PCI_BAR0 + 12, 0xFFFFFFFF, 4);
	assert_true(mmio_hits(f, UINT64_MAX - 3, &f->dev.bar[2]));
	/* back to sane places: decoding resumes */
	cfg_wr(f, 1, PCI_BAR0, (uint32_t)a0, 4);
	assert_true(mmio_hits(f, a0, &f->dev.bar[0]));
	cfg_wr(f, 1, PCI_BAR0 + 16, (uint32_t)a4, 4);
	assert_true(pio_hits(f, a4, &f->dev.bar[4]));
	/* the other device was never disturbed */
	assert_true(mmio_hits(f, b0, &f->dev2.bar[0]));
}

static void test_command_decode(void **state)
{
	struct fixture *f = *state;
	uint64_t a0, a2, a4;
	uint16_t cmd;

	assert_int_equal(register_dev(f), 1);
	a0 = bar_addr(f, 1, 0);
	a2 = bar_addr(f, 1, 2);
	a4 = bar_addr(f, 1, 4);
	cmd = cfg_rd(f, 1, PCI_COMMAND, 2);

	/* MEM off: both memory BARs unmapped, IO untouched */
	cfg_wr(f, 1, PCI_COMMAND, cmd & ~PCI_COMMAND_MEM, 2);
	assert_false(mmio_hits(f, a0, &f->dev.bar[0]));
	assert_false(mmio_hits(f, a2, &f->dev.bar[2]));
	assert_true(pio_hits(f, a4, &f->dev.bar[4]));
	/* a BAR moved while decoding is off appears at the new place when on */
	cfg_wr(f, 1, PCI_BAR0, 0xD0000000, 4);
	assert_false(mmio_hits(f, 0xD0000000, &f->dev.bar[0]));
	cfg_wr(f, 1, PCI_COMMAND, cmd, 2);
	assert_true(mmio_hits(f, 0xD0000000, &f->dev.bar[0]));
	assert_false(mmio_hits(f, a0, &f->dev.bar[0]));
	assert_true(mmio_hits(f, a2, &f->dev.bar[2]));

	/* IO off */
	cfg_wr(f, 1, PCI_COMMAND, cmd & ~PCI_COMMAND_IO, 2);
	assert_false(pio_hits(f, a4, &f->dev.bar[4]));
	assert_true(mmio_hits(f, a2, &f->dev.bar[2]));
	/* through a 1-byte write, and a dword write covering COMMAND+STATUS */
	cfg_wr(f, 1, PCI_COMMAND, cmd & 0xFF, 1);
	assert_true(pio_hits(f, a4, &f->dev.bar[4]));
	cfg_wr(f, 1, PCI_COMMAND, 0, 4);
	assert_false(pio_hits(f, a4, &f->dev.bar[4]));
	assert_false(mmio_hits(f, a2, &f->dev.bar[2]));
	conf1_wr(f, 1, PCI_COMMAND, cmd, 2);
	assert_true(pio_hits(f, a4, &f->dev.bar[4]));
	assert_true(mmio_hits(f, a2, &f->dev.bar[2]));
	/* toggling again and again leaves exactly one mapping */
	for (int i = 0; i < 10; i++) {
		cfg_wr(f, 1, PCI_COMMAND, 0, 2);
		cfg_wr(f, 1, PCI_COMMAND, cmd, 2);
	}
	assert_int_equal(f->mmio.nr, 3); /* ECAM and the two memory BARs */
	assert_int_equal(f->pio.nr, 3);  /* conf1 address, conf1 data, the IO BAR */
}

static void test_read_only_registers(void **state)
{
	struct fixture *f = *state;
	uint8_t before[256], after[256];

	assert_int_equal(register_dev(f), 1);
	for (unsigned i = 0; i < 256; i++)
		before[i] = cfg_rd(f, 1, i, 1);

	cfg_wr(f, 1, PCI_VENDOR_ID, 0xFFFFFFFF, 4);
	cfg_wr(f, 1, PCI_VENDOR_ID, 0x0000, 2);
	cfg_wr(f, 1, PCI_REVISION, 0x12345678, 4);
	cfg_wr(f, 1, PCI_CLASS_PROG + 2, 0x02, 1);
	cfg_wr(f, 1, PCI_HEADER_TYPE, 0x80, 1);
	cfg_wr(f, 1, PCI_STATUS, 0xFFFF, 2);
	cfg_wr(f, 1, PCI_SUBSYS_VENDOR, 0xDEADBEEF, 4);
	cfg_wr(f, 1, PCI_CAP_PTR, 0x80, 1);
	cfg_wr(f, 1, PCI_INTERRUPT_PIN, 0x04, 1);
	cfg_wr(f, 1, 0x30, 0xFFFFFFFF, 4); /* expansion ROM: none */
	cfg_wr(f, 1, PCI_BAR0 + 4, 0xFFFFFFFF, 4);  /* unused BAR */
	cfg_wr(f, 1, PCI_BAR0 + 20, 0xFFFFFFFF, 4);
	for (unsigned i = 0x40; i < 0x100; i += 4)
		cfg_wr(f, 1, i, 0xA5A5A5A5, 4);
	ecam_wr(f, 1, 0x100, 0xFFFFFFFF, 4);
	conf1_wr(f, 1, PCI_VENDOR_ID, 0, 4);

	for (unsigned i = 0; i < 256; i++)
		after[i] = cfg_rd(f, 1, i, 1);
	assert_memory_equal(before, after, 256);
	assert_int_equal(ecam_rd(f, 0, 1, 0, 0x100, 4), 0);

	/* the interrupt line is the guest's scratch byte */
	cfg_wr(f, 1, PCI_INTERRUPT_LINE, 0x0B, 1);
	assert_int_equal(cfg_rd(f, 1, PCI_INTERRUPT_LINE, 1), 0x0B);
	/* COMMAND keeps only the bits the device implements */
	cfg_wr(f, 1, PCI_COMMAND, 0xFFFF, 2);
	assert_int_equal(cfg_rd(f, 1, PCI_COMMAND, 2),
			 PCI_COMMAND_IO | PCI_COMMAND_MEM | PCI_COMMAND_MASTER |
			 PCI_COMMAND_INTX_DISABLE);
}

static void test_bad_accesses_ignored(void **state)
{
	struct fixture *f = *state;
	uint8_t before[PCI_CFG_SIZE];
	static const struct {
		uint32_t off, len;
	} bad[] = {
		{ 1, 2 }, { 3, 2 }, { 2, 4 }, { 1, 4 }, { 6, 4 }, { 0, 3 }, { 0, 8 }, { 0, 0 },
		{ 4, 0 }, { PCI_CFG_SIZE, 1 }, { PCI_CFG_SIZE, 4 }, { 0xFFFFFFFF, 1 },
		{ 0xFFFFFFFC, 4 }, { PCI_COMMAND + 1, 2 }, { PCI_BAR0 + 2, 4 }, { 0, UINT32_MAX },
	};

	assert_int_equal(register_dev(f), 1);
	memcpy(before, f->dev.pdev.cfg, sizeof(before));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint32_t v = cfg_rd(f, 1, bad[i].off, bad[i].len);

		if (v != 0xFFFFFFFF && !(bad[i].len < 4 && bad[i].len > 0 &&
					  v == (1u << (8 * bad[i].len)) - 1))
			fail_msg("read off %#x len %u gave %#x", bad[i].off, bad[i].len, v);
		cfg_wr(f, 1, bad[i].off, 0, bad[i].len);
	}
	assert_memory_equal(f->dev.pdev.cfg, before, sizeof(before));
	assert_int_equal(f->dev.cfg_writes, 0);

	/* the last dword of config space is a valid access */
	assert_int_equal(cfg_rd(f, 1, PCI_CFG_SIZE - 4, 4), 0);
	assert_int_equal(cfg_rd(f, 1, PCI_CFG_SIZE - 2, 2), 0);
	assert_int_equal(cfg_rd(f, 1, PCI_CFG_SIZE - 1, 1), 0);

	/* ECAM: 8-byte accesses and unaligned ones */
	assert_int_equal(ecam_rd(f, 0, 1, 0, 0, 8), UINT64_MAX);
	ecam_wr(f, 1, PCI_COMMAND, 0, 8);
	assert_int_equal(ecam_rd(f, 0, 1, 0, PCI_VENDOR_ID + 1, 2), 0xFFFF);
	ecam_wr(f, 1, PCI_COMMAND + 1, 0, 2);
	/* conf1: a word straddling two registers */
	conf1_wr(f, 1, PCI_COMMAND + 1, 0, 2);
	conf1_wr(f, 1, PCI_COMMAND + 3, 0, 1);
	assert_memory_equal(f->dev.pdev.cfg, before, sizeof(before));
}

static void test_cfg_written_hook(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(register_dev(f), 1);
	cfg_wr(f, 1, PCI_INTERRUPT_LINE, 5, 1);
	assert_int_equal(f->dev.cfg_writes, 1);
	assert_int_equal(f->dev.last_off, PCI_INTERRUPT_LINE);
	assert_int_equal(f->dev.last_len, 1);
	ecam_wr(f, 1, 0x44, 0, 4);
	assert_int_equal(f->dev.cfg_writes, 2);
	assert_int_equal(f->dev.last_off, 0x44);
	assert_int_equal(f->dev.last_len, 4);
	conf1_wr(f, 1, 0x46, 0, 2);
	assert_int_equal(f->dev.last_off, 0x46);
	assert_int_equal(f->dev.last_len, 2);
}

static void test_cap_list(void **state)
{
	struct fixture *f = *state;
	struct pci_dev *d = &f->dev.pdev;
	unsigned c1, c2, c3, off, n = 0;
	static const uint8_t ids[] = { 0x09, 0x11, 0x05 };

	test_dev_init(&f->dev);
	assert_int_equal(d->cfg[PCI_CAP_PTR], 0);
	assert_int_equal(d->cfg[PCI_STATUS] & PCI_STATUS_CAP_LIST, 0);
	c1 = pci_cap_add(d, 0x09, 16);
	c2 = pci_cap_add(d, 0x11, 12);
	c3 = pci_cap_add(d, 0x05, 14);
	assert_int_equal(c1, 0x40);
	assert_true(c2 >= c1 + 16);
	assert_true(c3 >= c2 + 12);
	assert_int_equal(c2 % 4, 0);
	assert_int_equal(c3 % 4, 0);
	assert_int_equal(pci_register(&f->pci, d), 1);

	/* walk the list the way a guest does */
	assert_true(cfg_rd(f, 1, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
	off = cfg_rd(f, 1, PCI_CAP_PTR, 1);
	while (off) {
		assert_true(n < 3);
		assert_true(off >= 0x40 && off < 0x100);
		assert_int_equal(off % 4, 0);
		assert_int_equal(cfg_rd(f, 1, off, 1), ids[n]);
		off = cfg_rd(f, 1, off + 1, 1);
		n++;
	}
	assert_int_equal(n, 3);
	/* the guest cannot relink it */
	cfg_wr(f, 1, c1 + 1, 0x00, 1);
	assert_int_equal(cfg_rd(f, 1, c1 + 1, 1), c2);
}

static void test_cap_limits(void **state)
{
	struct fixture *f = *state;
	struct pci_dev *d = &f->dev.pdev;

	pci_dev_init(d, 0x1AF4, 0x1000, 0x020000, 0, 0);
	assert_int_equal(pci_cap_add(d, 0x09, 0), 0);
	assert_int_equal(pci_cap_add(d, 0x09, 1), 0);
	assert_int_equal(pci_cap_add(d, 0x09, 0xC1), 0); /* 0x40 + 0xC1 > 0x100 */
	assert_int_equal(d->cfg[PCI_CAP_PTR], 0);
	assert_int_equal(d->cfg[PCI_STATUS] & PCI_STATUS_CAP_LIST, 0);
}

/* off + len must not wrap around to look small. */
static void test_cap_len_overflow(void **state)
{
	struct fixture *f = *state;
	struct pci_dev *d = &f->dev.pdev;

	pci_dev_init(d, 0x1AF4, 0x1000, 0x020000, 0, 0);
	assert_int_equal(pci_cap_add(d, 0x09, UINT32_MAX), 0);
	assert_int_equal(pci_cap_add(d, 0x09, UINT32_MAX - 0x3F), 0);
	assert_int_equal(d->cfg[PCI_CAP_PTR], 0);
	assert_int_equal(d->cfg[PCI_STATUS] & PCI_STATUS_CAP_LIST, 0);
}

static void test_cap_full(void **state)
{
	struct fixture *f = *state;
	struct pci_dev *d = &f->dev.pdev;

	pci_dev_init(d, 0x1AF4, 0x1000, 0x020000, 0, 0);
	/* one capability filling the rest of the legacy space exactly */
	assert_int_equal(pci_cap_add(d, 0x09, 0xC0), 0x40);
	/* nothing more fits; in particular nothing lands on the header */
	assert_int_equal(pci_cap_add(d, 0x05, 4), 0);
	assert_int_equal(d->cfg[PCI_VENDOR_ID], 0xF4);
	assert_int_equal(d->cfg[PCI_VENDOR_ID + 1], 0x1A);
	assert_int_equal(d->cfg[0x41], 0);
}

static void test_cap_limits_unaligned_end(void **state)
{
	struct fixture *f = *state;
	struct pci_dev *d = &f->dev.pdev;

	pci_dev_init(d, 0x1AF4, 0x1000, 0x020000, 0, 0);
	/* ends at 0xFE: the next slot would be 0x100 */
	assert_int_equal(pci_cap_add(d, 0x09, 0xBE), 0x40);
	assert_int_equal(pci_cap_add(d, 0x05, 2), 0);
	assert_int_equal(d->cfg[PCI_VENDOR_ID], 0xF4);
	/* the last byte of a full list stays the end marker */
	assert_int_equal(d->cfg[0x41], 0);
}

static void test_set_bar_errors(void **state)
{
	struct fixture *f = *state;
	struct pci_dev *d = &f->dev.pdev;
	struct probe p;

	pci_dev_init(d, 1, 2, 3, 4, 5);
	assert_int_equal(pci_dev_set_bar(d, 6, 0x1000, 0, probe_io, &p), -EINVAL);
	assert_int_equal(pci_dev_set_bar(d, UINT32_MAX, 0x1000, 0, probe_io, &p), -EINVAL);
	assert_int_equal(pci_dev_set_bar(d, 5, 0x1000, PCI_BAR_MEM64, probe_io, &p), -EINVAL);
	assert_int_equal(pci_dev_set_bar(d, 0, 0, 0, probe_io, &p), -EINVAL);
	assert_int_equal(pci_dev_set_bar(d, 0, 8, 0, probe_io, &p), -EINVAL);
	assert_int_equal(pci_dev_set_bar(d, 0, 0x1800, 0, probe_io, &p), -EINVAL);
	assert_int_equal(pci_dev_set_bar(d, 0, 0x1000, 0, NULL, &p), -EINVAL);
	assert_int_equal(pci_dev_set_bar(d, 0, 2, PCI_BAR_IO, probe_io, &p), -EINVAL);
	assert_int_equal(pci_dev_set_bar(d, 0, 512, PCI_BAR_IO, probe_io, &p), -EINVAL);
	assert_int_equal(pci_dev_set_bar(d, 0, 16, PCI_BAR_IO | PCI_BAR_MEM64, probe_io, &p),
			 -EINVAL);
	assert_int_equal(pci_dev_set_bar(d, 0, 1ull << 63 | 1, 0, probe_io, &p), -EINVAL);
	for (unsigned i = 0; i < PCI_NR_BARS; i++)
		assert_int_equal(d->bar[i].size, 0);
	/* limits that are fine */
	assert_int_equal(pci_dev_set_bar(d, 0, 16, 0, probe_io, &p), 0);
	assert_int_equal(pci_dev_set_bar(d, 1, 4, PCI_BAR_IO, probe_io, &p), 0);
	assert_int_equal(pci_dev_set_bar(d, 2, 256, PCI_BAR_IO, probe_io, &p), 0);
	assert_int_equal(pci_dev_set_bar(d, 4, 1ull << 40, PCI_BAR_MEM64, probe_io, &p), 0);
	/* a 64-bit BAR of 1 TiB sizes with its upper half */
	assert_int_equal(d->wmask[PCI_BAR0 + 16], 0);
	assert_int_equal(d->wmask[PCI_BAR0 + 20], 0);
	assert_int_equal(d->wmask[PCI_BAR0 + 21], 0xFF);
	assert_int_equal(d->wmask[PCI_BAR0 + 20] | d->wmask[PCI_BAR0 + 19], 0);
}

static void test_window_exhaustion(void **state)
{
	struct fixture *f = *state;
	struct pci_dev *devs = calloc(12, sizeof(*devs));
	struct probe p;
	int slot;

	assert_non_null(devs);
	/* a BAR larger than the whole 32-bit window */
	pci_dev_init(&devs[0], 1, 2, 3, 0, 0);
	assert_int_equal(pci_dev_set_bar(&devs[0], 0, 1ull << 31, 0, probe_io, &p), 0);
	assert_int_equal(pci_register(&f->pci, &devs[0]), -ENOSPC);
	/* a 64-bit BAR larger than the 64-bit window */
	pci_dev_init(&devs[0], 1, 2, 3, 0, 0);
	assert_int_equal(pci_dev_set_bar(&devs[0], 0, MMIO64_SIZE * 2, PCI_BAR_MEM64, probe_io,
					 &p), 0);
	assert_int_equal(pci_register(&f->pci, &devs[0]), -ENOSPC);
	assert_null(f->pci.slot[1]);

	/* the I/O window [0xC000, 0x10000) holds 64 BARs of 256 bytes: ten
	 * devices with six each fit, the eleventh does not */
	for (unsigned i = 0; i < 11; i++) {
		pci_dev_init(&devs[i], 1, 2, 3, 0, 0);
		for (unsigned b = 0; b < PCI_NR_BARS; b++)
			assert_int_equal(pci_dev_set_bar(&devs[i], b, 256, PCI_BAR_IO, probe_io, &p), 0);
		slot = pci_register(&f->pci, &devs[i]);
		if (i < 10)
			assert_int_equal(slot, i + 1);
		else
			assert_int_equal(slot, -ENOSPC);
	}
	for (unsigned i = 0; i < 10; i++)
		for (unsigned b = 0; b < PCI_NR_BARS; b++) {
			uint64_t a = bar_addr(f, i + 1, b);

			assert_true(a >= 0xC000 && a + 256 <= 0x10000);
			assert_int_equal(a % 256, 0);
		}
	/* a failed registration takes no slot */
	assert_null(f->pci.slot[11]);
	pci_dev_init(&devs[11], 1, 2, 3, 0, 0);
	assert_int_equal(pci_register(&f->pci, &devs[11]), 11);
	free(devs);
}

static void test_slots_full(void **state)
{
	struct fixture *f = *state;
	struct pci_dev *devs = calloc(PCI_MAX_SLOTS, sizeof(*devs));

	assert_non_null(devs);
	for (unsigned i = 1; i < PCI_MAX_SLOTS; i++) {
		pci_dev_init(&devs[i], 0x1AF4, 0x1000 + i, 0x020000, 0, 0);
		assert_int_equal(pci_register(&f->pci, &devs[i]), i);
	}
	pci_dev_init(&devs[0], 0x1AF4, 0x1000, 0x020000, 0, 0);
	assert_int_equal(pci_register(&f->pci, &devs[0]), -ENOSPC);
	for (unsigned i = 1; i < PCI_MAX_SLOTS; i++)
		assert_int_equal(conf1_rd(f, 0, i, 0, PCI_DEVICE_ID, 2), 0x1000 + i);
	free(devs);
}

static void test_init_conflict(void **state)
{
	struct bus pio, mmio;
	struct pci pci;
	struct probe p;
	unsigned pio_nr, mmio_nr;
	int ret;

	(void)state;
	bus_init(&pio, "pio");
	bus_init(&mmio, "mmio");
	assert_int_equal(bus_insert(&pio, 0xCFC, 1, probe_io, &p), 0);
	ret = pci_init(&pci, &pio, &mmio, LAYOUT_ECAM_BASE, LAYOUT_ECAM_SIZE, LAYOUT_MMIO32_BASE,
		       LAYOUT_MMIO32_SIZE, MMIO64_BASE, MMIO64_SIZE);
	pio_nr = pio.nr;
	mmio_nr = mmio.nr;
	pci_destroy(&pci);
	bus_destroy(&pio);
	bus_destroy(&mmio);
	assert_int_equal(ret, -EEXIST);
	/* a failed pci_init leaves nothing of itself on the buses */
	assert_int_equal(pio_nr, 1);
	assert_int_equal(mmio_nr, 0);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_host_bridge),
		T(test_absent_reads_all_ones),
		T(test_conf1_disabled),
		T(test_conf1_latch_only_dwords),
		T(test_register_and_map),
		T(test_bar_sizing),
		T(test_bar_move),
		T(test_bar_move_hostile),
		T(test_command_decode),
		T(test_read_only_registers),
		T(test_bad_accesses_ignored),
		T(test_cfg_written_hook),
		T(test_cap_list),
		T(test_cap_limits),
		T(test_cap_len_overflow),
		T(test_cap_full),
		T(test_cap_limits_unaligned_end),
		T(test_set_bar_errors),
		T(test_window_exhaustion),
		T(test_slots_full),
		cmocka_unit_test(test_init_conflict),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
