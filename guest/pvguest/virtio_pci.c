/* virtio_pci.c: the modern virtio-pci transport of virtio_pci.h and its
 * vdev_ops. Config space goes through ECAM or conf1 (pci.h); the virtio
 * structures are MMIO in the device's BARs, which the firmware or VMM
 * assigned. Each access is an exit on a VMM, so probing reads every
 * register once and keeps what it learnt. */
#include "virtio_pci.h"
#include "boot.h"
#include "lib.h"
#include "pci.h"
#include "virtio_dev.h"

#define PCI_ID            0x00
#define PCI_COMMAND       0x04
#define PCI_CLASS_REV     0x08
#define PCI_HEADER        0x0c
#define PCI_BAR0          0x10
#define PCI_CAP_PTR       0x34
#define PCI_CMD_MEM       0x0002
#define PCI_CMD_MASTER    0x0004
#define PCI_STATUS_CAPS   0x0010        /* in the status half of PCI_COMMAND */
#define PCI_CAP_MAX       48            /* a walk longer than this loops */

static const struct vdev_ops vpci_ops;

static uint32_t cfg32(const struct vdev *d, unsigned off)
{
	return pci_read32(d->pci.bus, d->pci.slot, d->pci.fn, off);
}

static uint8_t cfg8(const struct vdev *d, unsigned off)
{
	return (uint8_t)(cfg32(d, off & ~3u) >> (8 * (off & 3)));
}

uint32_t vpci_cfg_read32(const struct vdev *d, unsigned off)
{
	return cfg32(d, off);
}

void vpci_cfg_write32(const struct vdev *d, unsigned off, uint32_t v)
{
	pci_write32(d->pci.bus, d->pci.slot, d->pci.fn, off, v);
}

/* ---- discovery ---- */

static int vpci_match(unsigned bus, unsigned slot, unsigned fn, unsigned type, uint32_t *id)
{
	*id = pci_read32(bus, slot, fn, PCI_ID);
	unsigned vendor = *id & 0xffff, device = *id >> 16;

	return vendor == VIRTIO_PCI_VENDOR && device >= VIRTIO_PCI_DEVICE_MODERN &&
	       device <= VIRTIO_PCI_DEVICE_LAST && device - VIRTIO_PCI_DEVICE_MODERN == type;
}

/* Calls fn for each modern virtio device of the type; stops when it returns nonzero. */
static int vpci_scan(unsigned type, int (*fn)(unsigned, unsigned, unsigned, void *), void *arg)
{
	for (unsigned slot = 0; slot < PCI_SLOTS; slot++) {
		uint32_t id0 = pci_read32(0, slot, 0, PCI_ID);
		if ((id0 & 0xffff) == 0xffff)
			continue;
		unsigned fns = (pci_read32(0, slot, 0, PCI_HEADER) >> 16) & 0x80 ? 8 : 1;
		for (unsigned f = 0; f < fns; f++) {
			uint32_t id;
			if (vpci_match(0, slot, f, type, &id)) {
				int r = fn(0, slot, f, arg);
				if (r)
					return r;
			}
		}
	}
	return 0;
}

struct vpci_find_arg {
	unsigned index, seen;
	struct vdev *d;
};

static int vpci_find_one(unsigned bus, unsigned slot, unsigned fn, void *p)
{
	struct vpci_find_arg *a = p;

	if (a->seen++ != a->index)
		return 0;
	memset(a->d, 0, sizeof(*a->d));
	a->d->ops = &vpci_ops;
	a->d->pci.bus = bus;
	a->d->pci.slot = slot;
	a->d->pci.fn = fn;
	return 1;
}

static int vpci_count_one(unsigned bus, unsigned slot, unsigned fn, void *p)
{
	(void)bus, (void)slot, (void)fn;
	(*(unsigned *)p)++;
	return 0;
}

unsigned vpci_count(unsigned type)
{
	unsigned n = 0;

	vpci_scan(type, vpci_count_one, &n);
	return n;
}

int vpci_find(unsigned type, unsigned index, struct vdev *d)
{
	struct vpci_find_arg a = { .index = index, .d = d };

	if (!vpci_scan(type, vpci_find_one, &a))
		return -ENODEV;
	uint32_t id = cfg32(d, PCI_ID);
	d->pci.device_id = (uint16_t)(id >> 16);
	d->type = d->pci.device_id - VIRTIO_PCI_DEVICE_MODERN;
	d->pci.revision = (uint8_t)cfg32(d, PCI_CLASS_REV);
	return 0;
}

/* ---- mapping ---- */

/* Kept for the callers that map a BAR by hand; paging.c owns the tables. */
int vpci_map_mmio(uint64_t pa, uint64_t len)
{
	return paging_map_mmio(pa, len);
}

/* ---- probe ---- */

static int vpci_fail_why(struct vdev *d, const char *why, int err)
{
	d->why = why;
	return err;
}

static void vpci_read_bars(struct vdev *vd)
{
	struct vpci_dev *d = &vd->pci;

	uint32_t cmd = cfg32(vd, PCI_COMMAND) & 0xffff;

	/* sizing writes all ones: keep the device from decoding meanwhile */
	vpci_cfg_write32(vd, PCI_COMMAND, cmd & ~(PCI_CMD_MEM | 1u));
	for (unsigned i = 0; i < 6; i++) {
		unsigned off = PCI_BAR0 + 4 * i;
		uint32_t lo = cfg32(vd, off);
		if (lo & 1)                     /* an I/O BAR: not used by this driver */
			continue;
		int is64 = ((lo >> 1) & 3) == 2 && i < 5;
		uint32_t hi = is64 ? cfg32(vd, off + 4) : 0;
		vpci_cfg_write32(vd, off, 0xffffffff);
		if (is64)
			vpci_cfg_write32(vd, off + 4, 0xffffffff);
		uint64_t mask = cfg32(vd, off) & ~0xfull;
		mask |= is64 ? (uint64_t)cfg32(vd, off + 4) << 32 : 0xffffffff00000000ull;
		vpci_cfg_write32(vd, off, lo);
		if (is64)
			vpci_cfg_write32(vd, off + 4, hi);
		d->bar[i] = (lo & ~0xfull) | (uint64_t)hi << 32;
		d->bar_size[i] = mask & ~0xfull ? ~(mask & ~0xfull) + 1 : 0;
		d->bar_is64[i] = (uint8_t)is64;
		/* an implemented BAR at 0 was left for the OS (QEMU microvm's
		 * firmware assigns none): place it in a host-bridge window */
		uint64_t a;
		if (!d->bar[i] && d->bar_size[i] && pci_bar_alloc(d->bar_size[i], is64, &a) == 0 &&
		    (is64 || a + d->bar_size[i] <= (1ull << 32))) {
			vpci_cfg_write32(vd, off, (uint32_t)a | (lo & 0xf));
			if (is64)
				vpci_cfg_write32(vd, off + 4, (uint32_t)(a >> 32));
			d->bar[i] = (cfg32(vd, off) & ~0xfull) |
				    (is64 ? (uint64_t)cfg32(vd, off + 4) << 32 : 0);
		}
		if (is64)
			i++;
	}
	vpci_cfg_write32(vd, PCI_COMMAND, cmd);
}

/* GUEST: a capability is used only if its BAR is an assigned memory BAR and
 * offset + length lies inside it (§4.1.4.1). */
static int vpci_region_set(struct vdev *vd, struct vpci_region *r, unsigned cap)
{
	struct vpci_dev *d = &vd->pci;
	unsigned bar = cfg8(vd, cap + VIRTIO_PCI_CAP_BAR);
	uint32_t off = cfg32(vd, cap + VIRTIO_PCI_CAP_OFFSET);
	uint32_t len = cfg32(vd, cap + VIRTIO_PCI_CAP_LENGTH);

	if (r->addr || bar > 5 || !d->bar[bar] || !d->bar_size[bar])
		return 0;                       /* §4.1.4: use the first usable one */
	if ((uint64_t)off + len > d->bar_size[bar])
		return 0;
	r->bar = (uint8_t)bar;
	r->offset = off;
	r->len = len;
	r->cap = (uint8_t)cap;
	r->addr = d->bar[bar] + off;
	return 1;
}

static int vpci_probe(struct vdev *vd)
{
	struct vpci_dev *d = &vd->pci;
	uint32_t cmd = cfg32(vd, PCI_COMMAND);

	if (!((cmd >> 16) & PCI_STATUS_CAPS))
		return vpci_fail_why(vd, "no-capabilities", -ENODEV);
	vpci_read_bars(vd);

	unsigned cap = cfg8(vd, PCI_CAP_PTR) & ~3u;
	for (unsigned n = 0; cap >= 0x40 && n < PCI_CAP_MAX; n++) {
		unsigned id = cfg8(vd, cap), next = cfg8(vd, cap + 1) & ~3u;
		if (id == PCI_CAP_ID_MSIX && !d->cap_msix)
			d->cap_msix = (uint8_t)cap;
		if (id == PCI_CAP_ID_VNDR && cfg8(vd, cap + 2) >= VIRTIO_PCI_CAP_MIN_LEN) {
			switch (cfg8(vd, cap + VIRTIO_PCI_CAP_CFG_TYPE)) {
			case VIRTIO_PCI_CAP_COMMON_CFG:
				vpci_region_set(vd, &d->common, cap);
				break;
			case VIRTIO_PCI_CAP_NOTIFY_CFG:
				if (cfg8(vd, cap + 2) >= VIRTIO_PCI_NOTIFY_CAP_MULT + 4 &&
				    vpci_region_set(vd, &d->notify, cap))
					d->notify_mult = cfg32(vd, cap + VIRTIO_PCI_NOTIFY_CAP_MULT);
				break;
			case VIRTIO_PCI_CAP_ISR_CFG:
				vpci_region_set(vd, &d->isr, cap);
				break;
			case VIRTIO_PCI_CAP_DEVICE_CFG:
				vpci_region_set(vd, &d->device, cap);
				break;
			case VIRTIO_PCI_CAP_PCI_CFG:
				if (!d->cap_pci_cfg)
					d->cap_pci_cfg = (uint8_t)cap;
				break;
			}
		}
		cap = next;
	}
	if (!d->common.addr || d->common.len < VIRTIO_PCI_COMMON_MIN_LEN)
		return vpci_fail_why(vd, "no-common-cfg", -ENODEV);
	if (!d->notify.addr || d->notify.len < 2)
		return vpci_fail_why(vd, "no-notify-cfg", -ENODEV);
	if (!d->isr.addr || !d->isr.len)
		return vpci_fail_why(vd, "no-isr-cfg", -ENODEV);

	for (unsigned i = 0; i < 6; i++)
		if (d->bar[i] && d->bar_size[i] && vpci_map_mmio(d->bar[i], d->bar_size[i]))
			return vpci_fail_why(vd, "bar-unmappable", -ENOMEM);
	vpci_cfg_write32(vd, PCI_COMMAND, (cmd & 0xffff) | PCI_CMD_MEM | PCI_CMD_MASTER);
	vd->cfg_len = d->device.addr ? d->device.len : 0;
	vd->inner_addr = d->isr.addr;           /* read-only: writes there do nothing */
	vd->regs_addr = d->common.addr;
	return 0;
}

/* ---- raw access ---- */

uint64_t vpci_raw_read(const struct vpci_region *r, uint32_t off, unsigned width)
{
	return mmio_read_width(r->addr + off, width);
}

void vpci_raw_write(const struct vpci_region *r, uint32_t off, unsigned width, uint64_t v)
{
	mmio_write_width(r->addr + off, width, v);
}

/* ---- common configuration (§4.1.4.3) ---- */

static uint8_t common_r8(const struct vdev *d, uint32_t off) { return mmio_read8(d->pci.common.addr + off); }
static uint16_t common_r16(const struct vdev *d, uint32_t off) { return mmio_read16(d->pci.common.addr + off); }
static uint32_t common_r32(const struct vdev *d, uint32_t off) { return mmio_read32(d->pci.common.addr + off); }
static void common_w8(const struct vdev *d, uint32_t off, uint8_t v) { mmio_write8(d->pci.common.addr + off, v); }
static void common_w16(const struct vdev *d, uint32_t off, uint16_t v) { mmio_write16(d->pci.common.addr + off, v); }
static void common_w32(const struct vdev *d, uint32_t off, uint32_t v) { mmio_write32(d->pci.common.addr + off, v); }

/* §4.1.3.1: 64-bit fields are written as two 32-bit halves. */
static void common_w64(const struct vdev *d, uint32_t off, uint64_t v)
{
	common_w32(d, off, (uint32_t)v);
	common_w32(d, off + 4, (uint32_t)(v >> 32));
}

static uint8_t vpci_status(const struct vdev *d)
{
	return common_r8(d, VIRTIO_PCI_COMMON_STATUS);
}

static void vpci_status_write(struct vdev *d, uint8_t v)
{
	common_w8(d, VIRTIO_PCI_COMMON_STATUS, v);
}

static uint64_t vpci_features_read(struct vdev *d)
{
	common_w32(d, VIRTIO_PCI_COMMON_DFSELECT, 0);
	uint64_t f = common_r32(d, VIRTIO_PCI_COMMON_DF);
	common_w32(d, VIRTIO_PCI_COMMON_DFSELECT, 1);
	return f | (uint64_t)common_r32(d, VIRTIO_PCI_COMMON_DF) << 32;
}

static void vpci_features_write(struct vdev *d, uint64_t f)
{
	common_w32(d, VIRTIO_PCI_COMMON_GFSELECT, 0);
	common_w32(d, VIRTIO_PCI_COMMON_GF, (uint32_t)f);
	common_w32(d, VIRTIO_PCI_COMMON_GFSELECT, 1);
	common_w32(d, VIRTIO_PCI_COMMON_GF, (uint32_t)(f >> 32));
}

static uint16_t vpci_num_queues(struct vdev *d)
{
	return common_r16(d, VIRTIO_PCI_COMMON_NUMQ);
}

static uint32_t vpci_queue_max(struct vdev *d, uint16_t q)
{
	common_w16(d, VIRTIO_PCI_COMMON_Q_SELECT, q);
	return common_r16(d, VIRTIO_PCI_COMMON_Q_SIZE);
}

static uint32_t vpci_queue_enabled(struct vdev *d)
{
	return common_r16(d, VIRTIO_PCI_COMMON_Q_ENABLE);
}

static void vpci_queue_program(struct vdev *d, uint16_t size, uint64_t desc, uint64_t avail,
			       uint64_t used)
{
	common_w16(d, VIRTIO_PCI_COMMON_Q_SIZE, size);
	common_w64(d, VIRTIO_PCI_COMMON_Q_DESCLO, desc);
	common_w64(d, VIRTIO_PCI_COMMON_Q_AVAILLO, avail);
	common_w64(d, VIRTIO_PCI_COMMON_Q_USEDLO, used);
	common_w16(d, VIRTIO_PCI_COMMON_Q_MSIX, VIRTIO_MSI_NO_VECTOR);
}

static void vpci_queue_enable(struct vdev *d)
{
	common_w16(d, VIRTIO_PCI_COMMON_Q_ENABLE, 1);
}

/* The notify address of queue q (common cfg queue_notify_off * multiplier),
 * or 0 if it falls outside the notify structure. Selects q. */
static uint64_t vpci_notify_addr(struct vdev *d, uint16_t q)
{
	common_w16(d, VIRTIO_PCI_COMMON_Q_SELECT, q);
	uint64_t off = (uint64_t)common_r16(d, VIRTIO_PCI_COMMON_Q_NOFF) * d->pci.notify_mult;

	/* GUEST: §4.1.4.4: the 2-byte notify register must lie in the structure */
	if (off + 2 > d->pci.notify.len)
		return 0;
	return d->pci.notify.addr + off;
}

/* Reading the ISR status byte clears it (§4.1.4.5): the read is the ack. */
static uint8_t vpci_interrupt(struct vdev *d)
{
	return mmio_read8(d->pci.isr.addr);
}

static uint32_t vpci_cfg_generation(const struct vdev *d)
{
	return common_r8(d, VIRTIO_PCI_COMMON_CFGGEN);
}

static uint64_t vpci_cfg_read(const struct vdev *d, uint32_t off, unsigned width)
{
	return vpci_raw_read(&d->pci.device, off, width);
}

static void vpci_cfg_write(const struct vdev *d, uint32_t off, unsigned width, uint64_t v)
{
	vpci_raw_write(&d->pci.device, off, width, v);
}

static uint64_t vpci_reg_read(const struct vdev *d, uint32_t off, unsigned width)
{
	return vpci_raw_read(&d->pci.common, off, width);
}

static void vpci_reg_write(const struct vdev *d, uint32_t off, unsigned width, uint64_t v)
{
	vpci_raw_write(&d->pci.common, off, width, v);
}

static uint64_t vpci_timing_reg(const struct vdev *d, unsigned *width)
{
	*width = 2;
	return d->pci.common.addr + VIRTIO_PCI_COMMON_NUMQ;
}

static void vpci_describe(const struct vdev *vd, char *buf, size_t size)
{
	const struct vpci_dev *d = &vd->pci;

	snprintf(buf, size, "pci 00:%02x.%x rev %u: common bar%u+%#x notify bar%u+%#x x%u isr "
		 "bar%u+%#x device bar%u+%#x; bar%u=%#lx", d->slot, d->fn, d->revision,
		 d->common.bar, d->common.offset, d->notify.bar, d->notify.offset, d->notify_mult,
		 d->isr.bar, d->isr.offset, d->device.bar, d->device.offset, d->common.bar,
		 (unsigned long)d->bar[d->common.bar]);
}

static const struct vdev_regs vpci_regs = {
	.dfselect = VIRTIO_PCI_COMMON_DFSELECT, .df = VIRTIO_PCI_COMMON_DF,
	.gfselect = VIRTIO_PCI_COMMON_GFSELECT, .gf = VIRTIO_PCI_COMMON_GF,
	.select = VIRTIO_PCI_COMMON_Q_SELECT, .size = VIRTIO_PCI_COMMON_Q_SIZE,
	.enable = VIRTIO_PCI_COMMON_Q_ENABLE, .desc = VIRTIO_PCI_COMMON_Q_DESCLO,
	.avail = VIRTIO_PCI_COMMON_Q_AVAILLO, .used = VIRTIO_PCI_COMMON_Q_USEDLO,
	.vector = VIRTIO_PCI_COMMON_Q_MSIX,
	.select_width = 2, .size_width = 2, .enable_width = 2, .readback = 1,
};

static const struct vdev_ops vpci_ops = {
	.name = "pci",
	.transport = VDEV_PCI,
	.notify_width = 2,                      /* §4.1.5.2: the 16-bit queue index */
	.regs = &vpci_regs,
	.probe = vpci_probe,
	.status = vpci_status,
	.status_write = vpci_status_write,
	.features_read = vpci_features_read,
	.features_write = vpci_features_write,
	.num_queues = vpci_num_queues,
	.queue_max = vpci_queue_max,
	.queue_enabled = vpci_queue_enabled,
	.queue_program = vpci_queue_program,
	.queue_enable = vpci_queue_enable,
	.notify_addr = vpci_notify_addr,
	.interrupt = vpci_interrupt,
	.cfg_generation = vpci_cfg_generation,
	.cfg_read = vpci_cfg_read,
	.cfg_write = vpci_cfg_write,
	.reg_read = vpci_reg_read,
	.reg_write = vpci_reg_write,
	.timing_reg = vpci_timing_reg,
	.describe = vpci_describe,
};
