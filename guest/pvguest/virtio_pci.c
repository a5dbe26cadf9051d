/* virtio_pci.c: the modern virtio-pci transport of virtio_pci.h. Config
 * space goes through ECAM or conf1 (pci.h); the virtio structures are MMIO in the
 * device's BARs, which the firmware or VMM assigned. Each access is an exit
 * on a VMM, so probing reads every register once and keeps what it learnt. */
#include "virtio_pci.h"
#include "boot.h"
#include "lib.h"
#include "pci.h"

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
#define RESET_TIMEOUT_US  (1000 * 1000)

static uint32_t cfg32(const struct vpci_dev *d, unsigned off)
{
	return pci_read32(d->bus, d->slot, d->fn, off);
}

static uint8_t cfg8(const struct vpci_dev *d, unsigned off)
{
	return (uint8_t)(cfg32(d, off & ~3u) >> (8 * (off & 3)));
}

uint32_t vpci_cfg_read32(const struct vpci_dev *d, unsigned off)
{
	return cfg32(d, off);
}

void vpci_cfg_write32(const struct vpci_dev *d, unsigned off, uint32_t v)
{
	pci_write32(d->bus, d->slot, d->fn, off, v);
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
	struct vpci_dev *d;
};

static int vpci_find_one(unsigned bus, unsigned slot, unsigned fn, void *p)
{
	struct vpci_find_arg *a = p;

	if (a->seen++ != a->index)
		return 0;
	memset(a->d, 0, sizeof(*a->d));
	a->d->bus = bus;
	a->d->slot = slot;
	a->d->fn = fn;
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

int vpci_find(unsigned type, unsigned index, struct vpci_dev *d)
{
	struct vpci_find_arg a = { .index = index, .d = d };

	if (!vpci_scan(type, vpci_find_one, &a))
		return -ENODEV;
	uint32_t id = cfg32(d, PCI_ID);
	d->device_id = (uint16_t)(id >> 16);
	d->type = d->device_id - VIRTIO_PCI_DEVICE_MODERN;
	d->revision = (uint8_t)cfg32(d, PCI_CLASS_REV);
	return 0;
}

/* ---- mapping ---- */

/* Kept for the callers that map a BAR by hand; paging.c owns the tables. */
int vpci_map_mmio(uint64_t pa, uint64_t len)
{
	return paging_map_mmio(pa, len);
}

/* ---- probe ---- */

static int vpci_fail_why(struct vpci_dev *d, const char *why, int err)
{
	d->why = why;
	return err;
}

static void vpci_read_bars(struct vpci_dev *d)
{
	uint32_t cmd = cfg32(d, PCI_COMMAND) & 0xffff;

	/* sizing writes all ones: keep the device from decoding meanwhile */
	vpci_cfg_write32(d, PCI_COMMAND, cmd & ~(PCI_CMD_MEM | 1u));
	for (unsigned i = 0; i < 6; i++) {
		unsigned off = PCI_BAR0 + 4 * i;
		uint32_t lo = cfg32(d, off);
		if (lo & 1)                     /* an I/O BAR: not used by this driver */
			continue;
		int is64 = ((lo >> 1) & 3) == 2 && i < 5;
		uint32_t hi = is64 ? cfg32(d, off + 4) : 0;
		vpci_cfg_write32(d, off, 0xffffffff);
		if (is64)
			vpci_cfg_write32(d, off + 4, 0xffffffff);
		uint64_t mask = cfg32(d, off) & ~0xfull;
		mask |= is64 ? (uint64_t)cfg32(d, off + 4) << 32 : 0xffffffff00000000ull;
		vpci_cfg_write32(d, off, lo);
		if (is64)
			vpci_cfg_write32(d, off + 4, hi);
		d->bar[i] = (lo & ~0xfull) | (uint64_t)hi << 32;
		d->bar_size[i] = mask & ~0xfull ? ~(mask & ~0xfull) + 1 : 0;
		d->bar_is64[i] = (uint8_t)is64;
		/* an implemented BAR at 0 was left for the OS (QEMU microvm's
		 * firmware assigns none): place it in a host-bridge window */
		uint64_t a;
		if (!d->bar[i] && d->bar_size[i] && pci_bar_alloc(d->bar_size[i], is64, &a) == 0 &&
		    (is64 || a + d->bar_size[i] <= (1ull << 32))) {
			vpci_cfg_write32(d, off, (uint32_t)a | (lo & 0xf));
			if (is64)
				vpci_cfg_write32(d, off + 4, (uint32_t)(a >> 32));
			d->bar[i] = (cfg32(d, off) & ~0xfull) |
				    (is64 ? (uint64_t)cfg32(d, off + 4) << 32 : 0);
		}
		if (is64)
			i++;
	}
	vpci_cfg_write32(d, PCI_COMMAND, cmd);
}

/* GUEST: a capability is used only if its BAR is an assigned memory BAR and
 * offset + length lies inside it (§4.1.4.1). */
static int vpci_region_set(struct vpci_dev *d, struct vpci_region *r, unsigned cap)
{
	unsigned bar = cfg8(d, cap + VIRTIO_PCI_CAP_BAR);
	uint32_t off = cfg32(d, cap + VIRTIO_PCI_CAP_OFFSET);
	uint32_t len = cfg32(d, cap + VIRTIO_PCI_CAP_LENGTH);

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

int vpci_probe(struct vpci_dev *d)
{
	uint32_t cmd = cfg32(d, PCI_COMMAND);

	if (!((cmd >> 16) & PCI_STATUS_CAPS))
		return vpci_fail_why(d, "no-capabilities", -ENODEV);
	vpci_read_bars(d);

	unsigned cap = cfg8(d, PCI_CAP_PTR) & ~3u;
	for (unsigned n = 0; cap >= 0x40 && n < PCI_CAP_MAX; n++) {
		unsigned id = cfg8(d, cap), next = cfg8(d, cap + 1) & ~3u;
		if (id == PCI_CAP_ID_MSIX && !d->cap_msix)
			d->cap_msix = (uint8_t)cap;
		if (id == PCI_CAP_ID_VNDR && cfg8(d, cap + 2) >= VIRTIO_PCI_CAP_MIN_LEN) {
			switch (cfg8(d, cap + VIRTIO_PCI_CAP_CFG_TYPE)) {
			case VIRTIO_PCI_CAP_COMMON_CFG:
				vpci_region_set(d, &d->common, cap);
				break;
			case VIRTIO_PCI_CAP_NOTIFY_CFG:
				if (cfg8(d, cap + 2) >= VIRTIO_PCI_NOTIFY_CAP_MULT + 4 &&
				    vpci_region_set(d, &d->notify, cap))
					d->notify_mult = cfg32(d, cap + VIRTIO_PCI_NOTIFY_CAP_MULT);
				break;
			case VIRTIO_PCI_CAP_ISR_CFG:
				vpci_region_set(d, &d->isr, cap);
				break;
			case VIRTIO_PCI_CAP_DEVICE_CFG:
				vpci_region_set(d, &d->device, cap);
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
		return vpci_fail_why(d, "no-common-cfg", -ENODEV);
	if (!d->notify.addr || d->notify.len < 2)
		return vpci_fail_why(d, "no-notify-cfg", -ENODEV);
	if (!d->isr.addr || !d->isr.len)
		return vpci_fail_why(d, "no-isr-cfg", -ENODEV);

	for (unsigned i = 0; i < 6; i++)
		if (d->bar[i] && d->bar_size[i] && vpci_map_mmio(d->bar[i], d->bar_size[i]))
			return vpci_fail_why(d, "bar-unmappable", -ENOMEM);
	vpci_cfg_write32(d, PCI_COMMAND, (cmd & 0xffff) | PCI_CMD_MEM | PCI_CMD_MASTER);
	return 0;
}

/* ---- common configuration ---- */

uint64_t vpci_raw_read(const struct vpci_region *r, uint32_t off, unsigned width)
{
	uint64_t a = r->addr + off;

	switch (width) {
	case 1: return mmio_read8(a);
	case 2: return mmio_read16(a);
	case 4: return mmio_read32(a);
	default: return mmio_read64(a);
	}
}

void vpci_raw_write(const struct vpci_region *r, uint32_t off, unsigned width, uint64_t v)
{
	uint64_t a = r->addr + off;

	switch (width) {
	case 1: mmio_write8(a, (uint8_t)v); break;
	case 2: mmio_write16(a, (uint16_t)v); break;
	case 4: mmio_write32(a, (uint32_t)v); break;
	default: mmio_write64(a, v); break;
	}
}

static uint8_t common_r8(const struct vpci_dev *d, uint32_t off) { return mmio_read8(d->common.addr + off); }
static uint16_t common_r16(const struct vpci_dev *d, uint32_t off) { return mmio_read16(d->common.addr + off); }
static uint32_t common_r32(const struct vpci_dev *d, uint32_t off) { return mmio_read32(d->common.addr + off); }
static void common_w8(const struct vpci_dev *d, uint32_t off, uint8_t v) { mmio_write8(d->common.addr + off, v); }
static void common_w16(const struct vpci_dev *d, uint32_t off, uint16_t v) { mmio_write16(d->common.addr + off, v); }
static void common_w32(const struct vpci_dev *d, uint32_t off, uint32_t v) { mmio_write32(d->common.addr + off, v); }

/* §4.1.3.1: 64-bit fields are written as two 32-bit halves. */
static void common_w64(const struct vpci_dev *d, uint32_t off, uint64_t v)
{
	common_w32(d, off, (uint32_t)v);
	common_w32(d, off + 4, (uint32_t)(v >> 32));
}

uint8_t vpci_status(const struct vpci_dev *d)
{
	return common_r8(d, VIRTIO_PCI_COMMON_STATUS);
}

static void vpci_status_set(const struct vpci_dev *d, uint8_t bits)
{
	common_w8(d, VIRTIO_PCI_COMMON_STATUS, (uint8_t)(vpci_status(d) | bits));
}

void vpci_fail(struct vpci_dev *d)
{
	vpci_status_set(d, VIRTIO_STATUS_FAILED);
}

int vpci_reset(struct vpci_dev *d, uint64_t timeout_us)
{
	uint64_t start = rdtsc(), limit = ns_to_tsc(timeout_us * 1000);

	common_w8(d, VIRTIO_PCI_COMMON_STATUS, 0);
	/* §4.1.4.3.2: the reset is done when device_status reads 0 */
	while (vpci_status(d) != 0) {
		if (rdtsc() - start > limit)
			return vpci_fail_why(d, "reset-timeout", -ETIMEDOUT);
		cpu_relax();
	}
	return 0;
}

uint8_t vpci_isr(const struct vpci_dev *d)
{
	return mmio_read8(d->isr.addr);
}

int vpci_negotiate(struct vpci_dev *d, uint64_t wanted, uint64_t required)
{
	int r = vpci_reset(d, RESET_TIMEOUT_US);
	if (r)
		return r;
	vpci_status_set(d, VIRTIO_STATUS_ACKNOWLEDGE);
	vpci_status_set(d, VIRTIO_STATUS_DRIVER);

	common_w32(d, VIRTIO_PCI_COMMON_DFSELECT, 0);
	uint64_t f = common_r32(d, VIRTIO_PCI_COMMON_DF);
	common_w32(d, VIRTIO_PCI_COMMON_DFSELECT, 1);
	f |= (uint64_t)common_r32(d, VIRTIO_PCI_COMMON_DF) << 32;
	d->dev_features = f;

	required |= VIRTIO_BIT(VIRTIO_F_VERSION_1);
	if ((f & required) != required) {
		vpci_fail(d);
		return vpci_fail_why(d, (f & VIRTIO_BIT(VIRTIO_F_VERSION_1)) ? "feature-missing"
									    : "no-version-1", -ENOTSUP);
	}
	uint64_t accept = f & (wanted | required);
	common_w32(d, VIRTIO_PCI_COMMON_GFSELECT, 0);
	common_w32(d, VIRTIO_PCI_COMMON_GF, (uint32_t)accept);
	common_w32(d, VIRTIO_PCI_COMMON_GFSELECT, 1);
	common_w32(d, VIRTIO_PCI_COMMON_GF, (uint32_t)(accept >> 32));
	vpci_status_set(d, VIRTIO_STATUS_FEATURES_OK);
	/* §3.1.1 step 6: the device may refuse the subset */
	if (!(vpci_status(d) & VIRTIO_STATUS_FEATURES_OK)) {
		vpci_fail(d);
		return vpci_fail_why(d, "features-not-ok", -EIO);
	}
	d->drv_features = accept;
	d->num_queues = common_r16(d, VIRTIO_PCI_COMMON_NUMQ);
	return 0;
}

uint64_t vpci_notify_addr(struct vpci_dev *d, uint16_t q)
{
	common_w16(d, VIRTIO_PCI_COMMON_Q_SELECT, q);
	uint64_t off = (uint64_t)common_r16(d, VIRTIO_PCI_COMMON_Q_NOFF) * d->notify_mult;

	/* GUEST: §4.1.4.4: the 2-byte notify register must lie in the structure */
	if (off + 2 > d->notify.len)
		return 0;
	return d->notify.addr + off;
}

int vpci_queue_setup(struct vpci_dev *d, uint16_t q, struct vring *vr, uint16_t size,
		     uint16_t indirect_max)
{
	common_w16(d, VIRTIO_PCI_COMMON_Q_SELECT, q);
	uint16_t max = common_r16(d, VIRTIO_PCI_COMMON_Q_SIZE);
	if (max == 0)
		return vpci_fail_why(d, "no-such-queue", -ENODEV);
	if (common_r16(d, VIRTIO_PCI_COMMON_Q_ENABLE))
		return vpci_fail_why(d, "queue-enabled-after-reset", -EBUSY);
	uint16_t n = size && size < max ? size : max;
	if (n > VRING_DRIVER_MAX)
		n = VRING_DRIVER_MAX;
	while (n & (n - 1))             /* §2.7: a split ring's size is a power of two */
		n &= (uint16_t)(n - 1);

	int event_idx = !!(d->drv_features & VIRTIO_BIT(VIRTIO_F_EVENT_IDX));
	if (!(d->drv_features & VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC)))
		indirect_max = 0;
	int r = vring_init(vr, n, q, event_idx, indirect_max);
	if (r)
		return vpci_fail_why(d, "ring-alloc", r);

	common_w16(d, VIRTIO_PCI_COMMON_Q_SIZE, n);
	common_w64(d, VIRTIO_PCI_COMMON_Q_DESCLO, vring_desc_pa(vr));
	common_w64(d, VIRTIO_PCI_COMMON_Q_AVAILLO, vring_avail_pa(vr));
	common_w64(d, VIRTIO_PCI_COMMON_Q_USEDLO, vring_used_pa(vr));
	common_w16(d, VIRTIO_PCI_COMMON_Q_MSIX, VIRTIO_MSI_NO_VECTOR);
	vr->notify_addr = vpci_notify_addr(d, q);
	if (!vr->notify_addr)
		return vpci_fail_why(d, "notify-outside-cap", -ERANGE);
	common_w16(d, VIRTIO_PCI_COMMON_Q_ENABLE, 1);
	return n;
}

int vpci_driver_ok(struct vpci_dev *d)
{
	vpci_status_set(d, VIRTIO_STATUS_DRIVER_OK);
	uint8_t s = vpci_status(d);
	if (s & VIRTIO_STATUS_NEEDS_RESET)
		return vpci_fail_why(d, "needs-reset", -EIO);
	if (!(s & VIRTIO_STATUS_DRIVER_OK))
		return vpci_fail_why(d, "driver-ok-lost", -EIO);
	return 0;
}

/* ---- device configuration ---- */

static int devcfg_ok(const struct vpci_dev *d, uint32_t off, unsigned width)
{
	return d->device.addr && off <= d->device.len && width <= d->device.len - off;
}

uint8_t vpci_devcfg_read8(const struct vpci_dev *d, uint32_t off)
{
	return devcfg_ok(d, off, 1) ? mmio_read8(d->device.addr + off) : 0xff;
}

uint16_t vpci_devcfg_read16(const struct vpci_dev *d, uint32_t off)
{
	return devcfg_ok(d, off, 2) ? mmio_read16(d->device.addr + off) : 0xffff;
}

uint32_t vpci_devcfg_read32(const struct vpci_dev *d, uint32_t off)
{
	return devcfg_ok(d, off, 4) ? mmio_read32(d->device.addr + off) : 0xffffffff;
}

uint64_t vpci_devcfg_read64(const struct vpci_dev *d, uint32_t off)
{
	return vpci_devcfg_read32(d, off) | (uint64_t)vpci_devcfg_read32(d, off + 4) << 32;
}

void vpci_devcfg_write8(const struct vpci_dev *d, uint32_t off, uint8_t v)
{
	if (devcfg_ok(d, off, 1))
		mmio_write8(d->device.addr + off, v);
}

uint8_t vpci_config_generation(const struct vpci_dev *d)
{
	return common_r8(d, VIRTIO_PCI_COMMON_CFGGEN);
}
