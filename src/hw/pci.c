/* PCI host bridge, config space and BAR mapping; see pci.h.
 * Everything the guest writes into config space goes through wmask, so a
 * guest can only change the bits real hardware lets it change. */
#include "hw/pci.h"

#include <errno.h>
#include <string.h>

#include "base/log.h"
#include "base/snap.h"

#define PCI_HOST_VENDOR 0x1b36 /* Red Hat: generic PCIe host bridge ID */
#define PCI_HOST_DEVICE 0x0008
#define PCI_CLASS_HOST_BRIDGE 0x060000


static void pci_put16(uint8_t *p, uint16_t v) { p[0] = v; p[1] = v >> 8; }

static void pci_put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = v >> (8 * i);
}

static uint32_t pci_get32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

void pci_dev_init(struct pci_dev *d, uint16_t vendor, uint16_t device, uint32_t class_code,
		  uint16_t subsys_vendor, uint16_t subsys_id)
{
	memset(d, 0, sizeof(*d));
	pci_put16(d->cfg + PCI_VENDOR_ID, vendor);
	pci_put16(d->cfg + PCI_DEVICE_ID, device);
	d->cfg[PCI_REVISION] = 1;
	d->cfg[PCI_CLASS_PROG] = class_code & 0xff;
	d->cfg[PCI_CLASS_PROG + 1] = (class_code >> 8) & 0xff;
	d->cfg[PCI_CLASS_PROG + 2] = (class_code >> 16) & 0xff;
	pci_put16(d->cfg + PCI_SUBSYS_VENDOR, subsys_vendor);
	pci_put16(d->cfg + PCI_SUBSYS_ID, subsys_id);
	pci_put16(d->wmask + PCI_COMMAND, PCI_COMMAND_IO | PCI_COMMAND_MEM | PCI_COMMAND_MASTER |
					  PCI_COMMAND_INTX_DISABLE);
	d->wmask[PCI_INTERRUPT_LINE] = 0xff;
	d->next_cap = 0x40;
}

int pci_dev_set_bar(struct pci_dev *d, unsigned idx, uint64_t size, unsigned flags,
		    bus_io_fn fn, void *opaque)
{
	bool is64 = flags & PCI_BAR_MEM64;
	uint64_t mask;
	unsigned off = PCI_BAR0 + 4 * idx;

	if (idx >= PCI_NR_BARS || (is64 && idx + 1 >= PCI_NR_BARS) || !fn)
		return -EINVAL;
	if (size < ((flags & PCI_BAR_IO) ? 4 : 16) || (size & (size - 1)) ||
	    ((flags & PCI_BAR_IO) && (is64 || size > 256)))
		return -EINVAL;
	d->bar[idx] = (struct pci_bar){ .size = size, .flags = flags, .fn = fn, .opaque = opaque };
	mask = ~(size - 1);
	pci_put32(d->cfg + off, (flags & PCI_BAR_IO) ? 1 : (flags & (PCI_BAR_MEM64 | PCI_BAR_PREFETCH)));
	pci_put32(d->wmask + off, (uint32_t)mask & ((flags & PCI_BAR_IO) ? ~3u : ~15u));
	if (is64)
		pci_put32(d->wmask + off + 4, mask >> 32);
	return 0;
}

unsigned pci_cap_add(struct pci_dev *d, uint8_t id, unsigned len)
{
	unsigned off = d->next_cap;
	uint8_t *link = d->cfg + PCI_CAP_PTR;

	if (len < 2 || off >= 0x100 || len > 0x100 - off)
		return 0;
	/* append to the end of the list */
	while (*link)
		link = d->cfg + *link + 1;
	*link = off;
	d->cfg[off] = id;
	d->cfg[off + 1] = 0;
	d->cfg[PCI_STATUS] |= PCI_STATUS_CAP_LIST;
	d->next_cap = (off + len + 3) & ~3u;
	return off;
}

static uint64_t pci_bar_addr_from_cfg(const struct pci_dev *d, unsigned idx)
{
	const struct pci_bar *b = &d->bar[idx];
	uint64_t lo = pci_get32(d->cfg + PCI_BAR0 + 4 * idx);

	if (b->flags & PCI_BAR_IO)
		return lo & ~3ull;
	lo &= ~15ull;
	if (b->flags & PCI_BAR_MEM64)
		lo |= (uint64_t)pci_get32(d->cfg + PCI_BAR0 + 4 * (idx + 1)) << 32;
	return lo;
}

static bool pci_bar_decoding(const struct pci_dev *d, unsigned idx)
{
	uint16_t cmd = d->cfg[PCI_COMMAND] | d->cfg[PCI_COMMAND + 1] << 8;

	return cmd & ((d->bar[idx].flags & PCI_BAR_IO) ? PCI_COMMAND_IO : PCI_COMMAND_MEM);
}

/* Brings the bus mapping of BAR idx in line with config space.
 * Called with pci->lock held. */
static void pci_bar_sync(struct pci *pci, struct pci_dev *d, unsigned idx)
{
	struct pci_bar *b = &d->bar[idx];
	struct bus *bus = (b->flags & PCI_BAR_IO) ? pci->pio : pci->mmio;
	uint64_t addr = pci_bar_addr_from_cfg(d, idx);
	bool want = pci_bar_decoding(d, idx) && addr != 0;

	if (b->mapped && (!want || addr != b->addr)) {
		bus_remove(bus, b->addr, b->opaque);
		b->mapped = false;
		if (d->bar_moved)
			d->bar_moved(d, idx, b->addr, false);
	}
	if (want && !b->mapped) {
		/* GUEST: the address is guest-chosen; the bus rejects overlaps
		 * and wrap-around, and the BAR then simply does not decode */
		if (bus_insert(bus, addr, b->size, b->fn, b->opaque) == 0) {
			b->addr = addr;
			b->mapped = true;
			if (d->bar_moved)
				d->bar_moved(d, idx, addr, true);
		} else {
			log_ratelimited(d, "pci: %02x.0 BAR%u at %#llx overlaps or is invalid; "
					"not mapped", d->slot, idx, (unsigned long long)addr);
		}
	}
}

static void pci_sync_all_bars(struct pci *pci, struct pci_dev *d)
{
	for (unsigned i = 0; i < PCI_NR_BARS; i++)
		if (d->bar[i].size)
			pci_bar_sync(pci, d, i);
}

static struct pci_dev *pci_find(struct pci *pci, unsigned bus, unsigned slot, unsigned fn)
{
	if (bus != 0 || fn != 0 || slot >= PCI_MAX_SLOTS)
		return NULL;
	return pci->slot[slot];
}

static bool pci_access_ok(uint32_t off, uint32_t len)
{
	return (len == 1 || len == 2 || len == 4) && off < PCI_CFG_SIZE &&
	       (off & (len - 1)) == 0;
}

uint32_t pci_cfg_read(struct pci *pci, unsigned bus, unsigned slot, unsigned fn, uint32_t off,
		      uint32_t len)
{
	struct pci_dev *d;
	uint32_t v = 0;

	if (!pci_access_ok(off, len))
		return 0xffffffff;
	pthread_mutex_lock(&pci->lock);
	d = pci_find(pci, bus, slot, fn);
	if (d) {
		if (d->cfg_read)
			d->cfg_read(d, off, len);
		for (uint32_t i = 0; i < len; i++)
			v |= (uint32_t)d->cfg[off + i] << (8 * i);
	} else {
		v = 0xffffffff;
	}
	pthread_mutex_unlock(&pci->lock);
	return len == 4 ? v : v & ((1u << (8 * len)) - 1);
}

void pci_cfg_write(struct pci *pci, unsigned bus, unsigned slot, unsigned fn, uint32_t off,
		   uint32_t val, uint32_t len)
{
	struct pci_dev *d;

	if (!pci_access_ok(off, len))
		return;
	pthread_mutex_lock(&pci->lock);
	d = pci_find(pci, bus, slot, fn);
	if (!d)
		goto out;
	for (uint32_t i = 0; i < len; i++) {
		uint8_t m = d->wmask[off + i], b = val >> (8 * i);

		d->cfg[off + i] = (d->cfg[off + i] & ~m) | (b & m);
	}
	if (off < PCI_COMMAND + 2 && off + len > PCI_COMMAND) {
		pci_sync_all_bars(pci, d);
	} else if (off >= PCI_BAR0 && off < PCI_BAR0 + 4 * PCI_NR_BARS) {
		unsigned idx = (off - PCI_BAR0) / 4;

		/* the upper half of a 64-bit BAR belongs to the BAR below it */
		if (!d->bar[idx].size && idx > 0 && (d->bar[idx - 1].flags & PCI_BAR_MEM64))
			idx--;
		if (d->bar[idx].size)
			pci_bar_sync(pci, d, idx);
	}
	if (d->cfg_written)
		d->cfg_written(d, off, len);
out:
	pthread_mutex_unlock(&pci->lock);
}

static int pci_alloc(uint64_t *next, uint64_t end, uint64_t size, uint64_t *addr)
{
	uint64_t a = (*next + size - 1) & ~(size - 1);

	if (a < *next || a > end || size > end - a)
		return -ENOSPC;
	*addr = a;
	*next = a + size;
	return 0;
}

int pci_register(struct pci *pci, struct pci_dev *d)
{
	unsigned slot;
	int ret = -ENOSPC;
	uint16_t cmd = PCI_COMMAND_MEM;

	pthread_mutex_lock(&pci->lock);
	for (slot = 0; slot < PCI_MAX_SLOTS && pci->slot[slot]; slot++)
		;
	if (slot == PCI_MAX_SLOTS)
		goto out;
	for (unsigned i = 0; i < PCI_NR_BARS; i++) {
		struct pci_bar *b = &d->bar[i];
		uint64_t addr;
		unsigned off = PCI_BAR0 + 4 * i;

		if (!b->size)
			continue;
		if (b->flags & PCI_BAR_IO) {
			ret = pci_alloc(&pci->io_next, pci->io_end, b->size, &addr);
			cmd |= PCI_COMMAND_IO;
		} else if (b->flags & PCI_BAR_MEM64) {
			ret = pci_alloc(&pci->mmio64_next, pci->mmio64_end, b->size, &addr);
		} else {
			ret = pci_alloc(&pci->mmio32_next, pci->mmio32_end, b->size, &addr);
		}
		if (ret)
			goto out;
		pci_put32(d->cfg + off, (pci_get32(d->cfg + off) & 0xF) | (uint32_t)addr);
		if (b->flags & PCI_BAR_MEM64)
			pci_put32(d->cfg + off + 4, addr >> 32);
	}
	d->pci = pci;
	d->slot = slot;
	pci->slot[slot] = d;
	pci_put16(d->cfg + PCI_COMMAND, cmd);
	pci_sync_all_bars(pci, d);
	ret = slot;
out:
	pthread_mutex_unlock(&pci->lock);
	return ret;
}

void pci_conf1_addr_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct pci *pci = opaque;

	/* only whole-dword accesses reach the address latch, as on a PC */
	if (off != 0 || len != 4) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	if (is_write)
		__atomic_store_n(&pci->conf1_addr, pci_get32(data) & 0x80FFFFFC, __ATOMIC_RELAXED);
	else
		pci_put32(data, __atomic_load_n(&pci->conf1_addr, __ATOMIC_RELAXED));
}

/* One guest config access, already decoded from conf1 or ECAM. */
static void pci_cfg_access(struct pci *pci, unsigned bus, unsigned slot, unsigned fn,
			   uint32_t reg, uint8_t *data, uint32_t len, bool is_write)
{
	uint32_t v = 0;

	if (len > 4) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	if (is_write) {
		memcpy(&v, data, len);
		pci_cfg_write(pci, bus, slot, fn, reg, v, len);
	} else {
		v = pci_cfg_read(pci, bus, slot, fn, reg, len);
		memcpy(data, &v, len);
	}
}

void pci_conf1_data_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct pci *pci = opaque;
	uint32_t a = __atomic_load_n(&pci->conf1_addr, __ATOMIC_RELAXED);

	if (!(a & 0x80000000u)) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	pci_cfg_access(pci, (a >> 16) & 0xff, (a >> 11) & 0x1f, (a >> 8) & 7,
		       (a & 0xfc) + (uint32_t)off, data, len, is_write);
}

void pci_ecam_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	pci_cfg_access(opaque, (off >> 20) & 0xff, (off >> 15) & 0x1f, (off >> 12) & 7,
		       off & 0xfff, data, len, is_write);
}

int pci_init(struct pci *pci, struct bus *pio, struct bus *mmio, uint64_t ecam_base,
	     uint64_t ecam_size, uint64_t mmio32_base, uint64_t mmio32_size,
	     uint64_t mmio64_base, uint64_t mmio64_size)
{
	int ret;

	memset(pci, 0, sizeof(*pci));
	pthread_mutex_init(&pci->lock, NULL);
	pci->pio = pio;
	pci->mmio = mmio;
	pci->mmio32_next = mmio32_base;
	pci->mmio32_end = mmio32_base + mmio32_size;
	pci->mmio64_next = mmio64_base;
	pci->mmio64_end = mmio64_base + mmio64_size;
	pci->io_next = 0xC000;
	pci->io_end = 0x10000;

	ret = bus_insert(pio, PCI_CONF1_ADDR_PORT, 4, pci_conf1_addr_io, pci);
	if (ret)
		goto err_lock;
	ret = bus_insert(pio, PCI_CONF1_DATA_PORT, 4, pci_conf1_data_io, pci);
	if (ret)
		goto err_addr;
	ret = bus_insert(mmio, ecam_base, ecam_size, pci_ecam_io, pci);
	if (ret)
		goto err_data;
	pci_dev_init(&pci->host_bridge, PCI_HOST_VENDOR, PCI_HOST_DEVICE, PCI_CLASS_HOST_BRIDGE,
		     0, 0);
	ret = pci_register(pci, &pci->host_bridge);
	if (ret < 0)
		goto err_ecam;
	return 0;
err_ecam:
	bus_remove(mmio, ecam_base, pci);
err_data:
	bus_remove(pio, PCI_CONF1_DATA_PORT, pci);
err_addr:
	bus_remove(pio, PCI_CONF1_ADDR_PORT, pci);
err_lock:
	pthread_mutex_destroy(&pci->lock);
	return ret;
}

void pci_destroy(struct pci *pci)
{
	pthread_mutex_destroy(&pci->lock);
}

/* --- snapshots ------------------------------------------------------------ */

void pci_dev_save(struct pci_dev *d, const char *name, struct snap_writer *w)
{
	pthread_mutex_lock(&d->pci->lock);
	snap_putf(w, 1, d->cfg, sizeof(d->cfg), "%s/pci", name);
	pthread_mutex_unlock(&d->pci->lock);
}

int pci_dev_restore(struct pci_dev *d, const char *name, const struct snap_reader *r,
		    struct errbuf *e)
{
	const struct snap_record *rec = snap_findf(r, "%s/pci", name);

	if (!rec || rec->version != 1 || rec->len != sizeof(d->cfg))
		return errf(e, -EINVAL, "%s: no valid PCI configuration record", name);
	pthread_mutex_lock(&d->pci->lock);
	/* what the device fixed (IDs, capabilities' layout) stays the device's */
	for (size_t i = 0; i < sizeof(d->cfg); i++)
		d->cfg[i] = (uint8_t)((d->cfg[i] & ~d->wmask[i]) | (rec->data[i] & d->wmask[i]));
	pci_sync_all_bars(d->pci, d);
	pthread_mutex_unlock(&d->pci->lock);
	return 0;
}

void pci_save(struct pci *pci, struct snap_writer *w)
{
	uint32_t addr;

	pthread_mutex_lock(&pci->lock);
	addr = pci->conf1_addr;
	pthread_mutex_unlock(&pci->lock);
	snap_put(w, "pci/conf1", 1, &addr, sizeof(addr));
	pci_dev_save(&pci->host_bridge, "pci/host", w);
}

int pci_restore(struct pci *pci, const struct snap_reader *r, struct errbuf *e)
{
	uint32_t addr;
	int ret;

	/* a snapshot from before these records (the first vireo to save
	 * snapshots): the bus as it is built, as that vireo left it */
	if (!snap_find(r, "pci/conf1"))
		return 0;
	ret = snap_get(r, "pci/conf1", 1, &addr, sizeof(addr), e);
	if (ret)
		return ret;
	pthread_mutex_lock(&pci->lock);
	pci->conf1_addr = addr;
	pthread_mutex_unlock(&pci->lock);
	return pci_dev_restore(&pci->host_bridge, "pci/host", r, e);
}
