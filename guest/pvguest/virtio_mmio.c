/* virtio_mmio.c: the virtio-mmio transport of virtio_mmio.h and its
 * vdev_ops. Windows come from the command line and the DSDT (acpi.c);
 * only the first 4 KiB of a window are ever mapped or touched (registers
 * 0x000-0x0ff, configuration from 0x100). Every register is 32 bits and
 * accessed 32 bits wide (virtio 1.2 §4.2.2.2); each access is an exit. */
#include "virtio_mmio.h"
#include "acpi.h"
#include "boot.h"
#include "lib.h"
#include "phys.h"
#include "virtio_dev.h"

#define WINDOW_USED   0x1000u           /* bytes of a window pvguest uses */
#define QUEUES_MAX    1024u             /* QEMU's VIRTIO_QUEUE_MAX; more is nonsense */
#define DEVICE_ARG    96                /* bytes of one virtio_mmio.device= value */
#define LNRO_HID      "LNRO0005"        /* the ACPI ID Linux's virtio_mmio binds to */

/* ---- discovery ---- */

int vmmio_parse_device(const char *s, uint64_t *size, uint64_t *base, uint32_t *irq)
{
	static const char suffix[] = "KMGTPE";
	const char *p;
	uint64_t sz, b, i, id;

	/* memparse: a number, then an optional binary suffix */
	if (parse_u64_prefix(s, 0, &sz, &p))
		return -EINVAL;
	for (unsigned k = 0; k < sizeof(suffix) - 1; k++) {
		if ((*p | 0x20) != (suffix[k] | 0x20))
			continue;
		unsigned shift = 10 * (k + 1);
		if (sz > UINT64_MAX >> shift)
			return -EINVAL;
		sz <<= shift;
		p++;
		break;
	}
	/* sscanf("@%lli:%u%n:%d%n"), then nothing may follow */
	if (*p != '@' || parse_u64_prefix(p + 1, 0, &b, &p) || *p != ':' ||
	    parse_u64_prefix(p + 1, 10, &i, &p))
		return -EINVAL;
	if (*p == ':') {
		p += p[1] == '-' ? 2 : 1;
		if (parse_u64_prefix(p, 10, &id, &p))
			return -EINVAL;
	}
	if (*p || !i || i > UINT32_MAX)
		return -EINVAL;
	*size = sz;
	*base = b;
	*irq = (uint32_t)i;
	return 0;
}

/* GUEST: the window is VMM input: used only if it holds the registers,
 * lies outside RAM and can be mapped for ring 3. */
static const char *window_bad(uint64_t base, uint64_t size)
{
	uint64_t used = size < WINDOW_USED ? size : WINDOW_USED;

	if (size < VIRTIO_MMIO_CONFIG)
		return "size-below-0x100";
	if (base & 3)
		return "base-misaligned";
	if (base + size < base)
		return "wraps";
	if (phys_overlaps_ram(&boot_info, base, base + size))
		return "overlaps-ram";
	if (paging_map_mmio(base, used))
		return "unmappable";
	return NULL;
}

static struct vmmio_scan scan;
static int scanned;

static void add_window(uint64_t base, uint64_t size, uint32_t irq, uint8_t from)
{
	for (unsigned i = 0; i < scan.n; i++) {
		struct vmmio_window *w = &scan.w[i];
		if (w->base != base)
			continue;
		/* one device, announced twice: the smaller size is the safe one */
		scan.dups++;
		w->from |= from;
		if (!w->irq)
			w->irq = irq;
		if (size < w->size) {
			w->size = size;
			w->bad = window_bad(base, size);
		}
		return;
	}
	if (scan.n == VMMIO_MAX_WINDOWS) {
		scan.dropped++;
		return;
	}
	struct vmmio_window *w = &scan.w[scan.n++];
	*w = (struct vmmio_window){ base, size, irq, from, window_bad(base, size) };
}

const struct vmmio_scan *vmmio_scan(const char *cmdline)
{
	static struct acpi_dev_res res[VMMIO_MAX_WINDOWS];
	char val[DEVICE_ARG];
	uint64_t size, base;
	uint32_t irq;
	int len;

	if (scanned)
		return &scan;
	scanned = 1;
	for (unsigned k = 0; (len = cmdline_get_nth(cmdline, "virtio_mmio.device", k, val,
						       sizeof(val))) >= 0; k++) {
		scan.cmdline++;
		if (len >= (int)sizeof(val) || vmmio_parse_device(val, &size, &base, &irq))
			scan.cmdline_bad++;
		else
			add_window(base, size, irq, VMMIO_FROM_CMDLINE);
	}
	unsigned n = acpi_find_hid(&boot_info, LNRO_HID, res, VMMIO_MAX_WINDOWS,
				   &scan.dsdt_no_mem, &scan.acpi_err);
	scan.dsdt = n;
	for (unsigned i = 0; i < n && i < VMMIO_MAX_WINDOWS; i++)
		add_window(res[i].base, res[i].len, res[i].irq, VMMIO_FROM_DSDT);
	if (n > VMMIO_MAX_WINDOWS)
		scan.dropped += n - VMMIO_MAX_WINDOWS;
	return &scan;
}

static const char *const kind_word[] = {
	"bad-magic", "legacy", "bad-version", "empty", "device",
};

const char *vmmio_kind_word(enum vmmio_kind k)
{
	return kind_word[k];
}

/* §4.2.3.1: MagicValue and Version first; DeviceID only if both are valid
 * (a legacy window's too, to say which device was refused). */
enum vmmio_kind vmmio_identify(const struct vmmio_window *w, uint32_t *version,
			       uint32_t *device_id)
{
	*version = *device_id = 0;
	if (mmio_read32(w->base + VIRTIO_MMIO_MAGIC_VALUE) != VIRTIO_MMIO_MAGIC)
		return VMMIO_BAD_MAGIC;
	*version = mmio_read32(w->base + VIRTIO_MMIO_VERSION);
	if (*version != VIRTIO_MMIO_VERSION_MODERN && *version != VIRTIO_MMIO_VERSION_LEGACY)
		return VMMIO_BAD_VERSION;
	*device_id = mmio_read32(w->base + VIRTIO_MMIO_DEVICE_ID);
	if (*version == VIRTIO_MMIO_VERSION_LEGACY)
		return VMMIO_LEGACY;
	/* §4.2.2.2: DeviceID 0 is an empty slot, ignored without a word */
	return *device_id ? VMMIO_DEVICE : VMMIO_EMPTY;
}

static const struct vdev_ops vmmio_ops;

/* Calls fn for each modern device of the type until it returns nonzero;
 * returns that, or 0. *legacy counts the legacy ones passed over. */
static int vmmio_each(const char *cmdline, unsigned type, unsigned *legacy,
		      int (*fn)(const struct vmmio_window *, uint32_t, void *), void *arg)
{
	const struct vmmio_scan *s = vmmio_scan(cmdline);

	*legacy = 0;
	for (unsigned i = 0; i < s->n; i++) {
		uint32_t version, id;
		if (s->w[i].bad)
			continue;
		enum vmmio_kind k = vmmio_identify(&s->w[i], &version, &id);
		if (id != type)
			continue;
		if (k == VMMIO_LEGACY)
			(*legacy)++;
		int r = k == VMMIO_DEVICE ? fn(&s->w[i], version, arg) : 0;
		if (r)
			return r;
	}
	return 0;
}

struct find_arg {
	unsigned index, seen, type;
	struct vdev *d;
};

static int find_one(const struct vmmio_window *w, uint32_t version, void *p)
{
	struct find_arg *a = p;
	struct vdev *d = a->d;

	if (a->seen++ != a->index)
		return 0;
	memset(d, 0, sizeof(*d));
	d->ops = &vmmio_ops;
	d->type = a->type;
	d->mmio.base = w->base;
	d->mmio.size = w->size;
	d->mmio.irq = w->irq;
	d->mmio.from = w->from;
	d->mmio.version = version;
	d->mmio.vendor = mmio_read32(w->base + VIRTIO_MMIO_VENDOR_ID);
	return 1;
}

int vmmio_find(const char *cmdline, unsigned type, unsigned index, struct vdev *d)
{
	struct find_arg a = { .index = index, .type = type, .d = d };
	unsigned legacy;

	if (vmmio_each(cmdline, type, &legacy, find_one, &a))
		return 0;
	d->why = legacy ? "mmio-legacy" : "no-device";
	return legacy ? -ENOTSUP : -ENODEV;
}

static int count_one(const struct vmmio_window *w, uint32_t version, void *p)
{
	(void)w, (void)version;
	(*(unsigned *)p)++;
	return 0;
}

unsigned vmmio_count(const char *cmdline, unsigned type)
{
	unsigned n = 0, legacy;

	vmmio_each(cmdline, type, &legacy, count_one, &n);
	return n;
}

/* ---- registers ---- */

static uint32_t r32(const struct vdev *d, uint32_t off)
{
	return mmio_read32(d->mmio.base + off);
}

static void w32(const struct vdev *d, uint32_t off, uint32_t v)
{
	mmio_write32(d->mmio.base + off, v);
}

/* §4.2.2.2: 64-bit values as two 32-bit halves, low first. */
static void w64(const struct vdev *d, uint32_t off, uint64_t v)
{
	w32(d, off, (uint32_t)v);
	w32(d, off + 4, (uint32_t)(v >> 32));
}

static int vmmio_probe(struct vdev *d)
{
	uint32_t version = r32(d, VIRTIO_MMIO_VERSION);

	if (r32(d, VIRTIO_MMIO_MAGIC_VALUE) != VIRTIO_MMIO_MAGIC) {
		d->why = "mmio-bad-magic";
		return -ENODEV;
	}
	if (version != VIRTIO_MMIO_VERSION_MODERN) {
		d->why = version == VIRTIO_MMIO_VERSION_LEGACY ? "mmio-legacy" : "mmio-bad-version";
		return -ENOTSUP;
	}
	if (!r32(d, VIRTIO_MMIO_DEVICE_ID)) {
		d->why = "mmio-empty";
		return -ENODEV;
	}
	uint64_t used = d->mmio.size < WINDOW_USED ? d->mmio.size : WINDOW_USED;
	d->cfg_len = (uint32_t)(used - VIRTIO_MMIO_CONFIG);
	/* the configuration: the least harmful place for DMA into the window
	 * (a 512-byte DMA there runs past a 512-byte window, as QEMU
	 * microvm's, into the next window's registers) */
	d->inner_addr = d->mmio.base + VIRTIO_MMIO_CONFIG;
	d->regs_addr = d->mmio.base;
	return 0;
}

static uint8_t vmmio_status(const struct vdev *d)
{
	return (uint8_t)r32(d, VIRTIO_MMIO_STATUS);
}

static void vmmio_status_write(struct vdev *d, uint8_t v)
{
	w32(d, VIRTIO_MMIO_STATUS, v);
}

/* §4.2.2.2: select before reading DeviceFeatures or writing DriverFeatures */
static uint64_t vmmio_features_read(struct vdev *d)
{
	w32(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	uint64_t f = r32(d, VIRTIO_MMIO_DEVICE_FEATURES);
	w32(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	return f | (uint64_t)r32(d, VIRTIO_MMIO_DEVICE_FEATURES) << 32;
}

static void vmmio_features_write(struct vdev *d, uint64_t f)
{
	w32(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	w32(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)f);
	w32(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	w32(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(f >> 32));
}

/* No register says how many queues there are: the queues up to the first
 * with QueueNumMax 0 (§4.2.3.2 step 3: "not available"). */
static uint16_t vmmio_num_queues(struct vdev *d)
{
	uint16_t n = 0;

	while (n < QUEUES_MAX) {
		w32(d, VIRTIO_MMIO_QUEUE_SEL, n);
		if (!r32(d, VIRTIO_MMIO_QUEUE_NUM_MAX))
			break;
		n++;
	}
	return n;
}

static uint32_t vmmio_queue_max(struct vdev *d, uint16_t q)
{
	w32(d, VIRTIO_MMIO_QUEUE_SEL, q);
	return r32(d, VIRTIO_MMIO_QUEUE_NUM_MAX);
}

static uint32_t vmmio_queue_enabled(struct vdev *d)
{
	return r32(d, VIRTIO_MMIO_QUEUE_READY);
}

static void vmmio_queue_program(struct vdev *d, uint16_t size, uint64_t desc, uint64_t avail,
				uint64_t used)
{
	w32(d, VIRTIO_MMIO_QUEUE_NUM, size);
	w64(d, VIRTIO_MMIO_QUEUE_DESC_LOW, desc);
	w64(d, VIRTIO_MMIO_QUEUE_DRIVER_LOW, avail);
	w64(d, VIRTIO_MMIO_QUEUE_DEVICE_LOW, used);
}

static void vmmio_queue_enable(struct vdev *d)
{
	w32(d, VIRTIO_MMIO_QUEUE_READY, 1);
}

/* §4.2.3.3: one register for every queue; the queue index is the value */
static uint64_t vmmio_notify_addr(struct vdev *d, uint16_t q)
{
	(void)q;
	return d->mmio.base + VIRTIO_MMIO_QUEUE_NOTIFY;
}

/* §4.2.2.2: acknowledge what was handled, and no undefined bit */
static uint8_t vmmio_interrupt(struct vdev *d)
{
	uint32_t s = r32(d, VIRTIO_MMIO_INTERRUPT_STATUS);
	uint32_t ack = s & (VIRTIO_MMIO_INT_VRING | VIRTIO_MMIO_INT_CONFIG);

	if (ack)
		w32(d, VIRTIO_MMIO_INTERRUPT_ACK, ack);
	return (uint8_t)s;
}

static uint32_t vmmio_cfg_generation(const struct vdev *d)
{
	return r32(d, VIRTIO_MMIO_CONFIG_GENERATION);
}

static uint64_t vmmio_cfg_read(const struct vdev *d, uint32_t off, unsigned width)
{
	return mmio_read_width(d->mmio.base + VIRTIO_MMIO_CONFIG + off, width);
}

static void vmmio_cfg_write(const struct vdev *d, uint32_t off, unsigned width, uint64_t v)
{
	mmio_write_width(d->mmio.base + VIRTIO_MMIO_CONFIG + off, width, v);
}

static uint64_t vmmio_reg_read(const struct vdev *d, uint32_t off, unsigned width)
{
	return mmio_read_width(d->mmio.base + off, width);
}

static void vmmio_reg_write(const struct vdev *d, uint32_t off, unsigned width, uint64_t v)
{
	mmio_write_width(d->mmio.base + off, width, v);
}

static uint64_t vmmio_timing_reg(const struct vdev *d, unsigned *width)
{
	*width = 4;
	return d->mmio.base + VIRTIO_MMIO_MAGIC_VALUE;
}

static void vmmio_describe(const struct vdev *d, char *buf, size_t size)
{
	const struct vmmio_dev *m = &d->mmio;
	unsigned both = VMMIO_FROM_CMDLINE | VMMIO_FROM_DSDT;

	snprintf(buf, size, "mmio %#lx+%#lx irq %u version %u vendor %#x from %s",
		 (unsigned long)m->base, (unsigned long)m->size, m->irq, m->version, m->vendor,
		 (m->from & both) == both ? "cmdline+dsdt" :
		 m->from & VMMIO_FROM_CMDLINE ? "cmdline" : "dsdt");
}

static const struct vdev_regs vmmio_regs = {
	.dfselect = VIRTIO_MMIO_DEVICE_FEATURES_SEL, .df = VIRTIO_MMIO_DEVICE_FEATURES,
	.gfselect = VIRTIO_MMIO_DRIVER_FEATURES_SEL, .gf = VIRTIO_MMIO_DRIVER_FEATURES,
	.select = VIRTIO_MMIO_QUEUE_SEL, .size = VIRTIO_MMIO_QUEUE_NUM,
	.enable = VIRTIO_MMIO_QUEUE_READY, .desc = VIRTIO_MMIO_QUEUE_DESC_LOW,
	.avail = VIRTIO_MMIO_QUEUE_DRIVER_LOW, .used = VIRTIO_MMIO_QUEUE_DEVICE_LOW,
	.select_width = 4, .size_width = 4, .enable_width = 4, .disable_ok = 1,
};

static const struct vdev_ops vmmio_ops = {
	.name = "mmio",
	.transport = VDEV_MMIO,
	.notify_width = 4,                      /* §4.2.2.2: 32-bit accesses only */
	.regs = &vmmio_regs,
	.probe = vmmio_probe,
	.status = vmmio_status,
	.status_write = vmmio_status_write,
	.features_read = vmmio_features_read,
	.features_write = vmmio_features_write,
	.num_queues = vmmio_num_queues,
	.queue_max = vmmio_queue_max,
	.queue_enabled = vmmio_queue_enabled,
	.queue_program = vmmio_queue_program,
	.queue_enable = vmmio_queue_enable,
	.notify_addr = vmmio_notify_addr,
	.interrupt = vmmio_interrupt,
	.cfg_generation = vmmio_cfg_generation,
	.cfg_read = vmmio_cfg_read,
	.cfg_write = vmmio_cfg_write,
	.reg_read = vmmio_reg_read,
	.reg_write = vmmio_reg_write,
	.timing_reg = vmmio_timing_reg,
	.describe = vmmio_describe,
};
