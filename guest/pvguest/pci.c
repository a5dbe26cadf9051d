/* pci.c: PCI config access; see pci.h. conf1 is the PC's mechanism #1;
 * ECAM is PCI Express's memory-mapped config space (1 MiB per bus, 4 KiB
 * per function), found through the MCFG of the PCI Firmware Specification. */
#include "pci.h"
#include "acpi.h"
#include "arch.h"
#include "lib.h"
#include "phys.h"
#include "virtio_defs.h"          /* the errno values */

#define CONF1_ADDR 0xcf8
#define CONF1_DATA 0xcfc
#define CONF1_ENABLE 0x80000000u

/* MCFG: the ACPI header, 8 reserved bytes, then 16-byte allocations of
 * base (8), segment (2), start bus (1), end bus (1), reserved (4). */
#define MCFG_ALLOCS 44
#define MCFG_ALLOC_SIZE 16
#define ECAM_BUS_SHIFT 20
#define PHYS_LIMIT (1ull << 52)

static uint32_t conf1_addr(unsigned bus, unsigned slot, unsigned fn, unsigned off)
{
	return CONF1_ENABLE | bus << 16 | slot << 11 | fn << 8 | (off & 0xfc);
}

int pci_conf1_present(void)
{
	uint32_t old = inl(CONF1_ADDR);

	outl(CONF1_ADDR, CONF1_ENABLE);
	int ok = inl(CONF1_ADDR) == CONF1_ENABLE;
	outl(CONF1_ADDR, old);
	return ok;
}

uint32_t pci_conf1_read32(unsigned bus, unsigned slot, unsigned fn, unsigned off)
{
	outl(CONF1_ADDR, conf1_addr(bus, slot, fn, off));
	return inl(CONF1_DATA);
}

void pci_conf1_write32(unsigned bus, unsigned slot, unsigned fn, unsigned off, uint32_t v)
{
	outl(CONF1_ADDR, conf1_addr(bus, slot, fn, off));
	outl(CONF1_DATA, v);
}

/* A base from the tables is used only if the window is 1 MiB-aligned, inside
 * the physical address space and clear of RAM. */
static int ecam_sane(const struct boot_info *bi, uint64_t base, unsigned last)
{
	uint64_t end = base + ((uint64_t)(last + 1) << ECAM_BUS_SHIFT);

	return base && !(base & ((1ull << ECAM_BUS_SHIFT) - 1)) && end > base &&
	       end <= PHYS_LIMIT && !phys_overlaps_ram(bi, base, end);
}

/* The MCFG allocation for segment 0 that starts at bus 0. */
static uint64_t ecam_from_mcfg(const struct boot_info *bi, unsigned *end_bus, const char **err)
{
	uint64_t mcfg = acpi_find_table(bi, "MCFG", err, NULL);

	if (!mcfg)
		return 0;
	/* acpi_find_table checked the checksum and that len bytes are mapped */
	uint32_t len = rd32(mcfg + 4);
	if (len < MCFG_ALLOCS + MCFG_ALLOC_SIZE || (len - MCFG_ALLOCS) % MCFG_ALLOC_SIZE) {
		*err = "mcfg-length";
		return 0;
	}
	for (uint64_t a = mcfg + MCFG_ALLOCS; a < mcfg + len; a += MCFG_ALLOC_SIZE) {
		/* pvguest scans bus 0 only, so it needs the allocation holding it */
		if (rd16(a + 8) != 0 || *(uint8_t *)(a + 10) != 0)
			continue;
		uint64_t base = rd64(a);
		unsigned last = *(uint8_t *)(a + 11);
		if (!ecam_sane(bi, base, last)) {
			*err = "mcfg-base";
			return 0;
		}
		*end_bus = last;
		return base;
	}
	return 0;
}

/* The value of the first _CBA in the AML of [p, end), declared either as
 * Name (_CBA, const) or as Method (_CBA, 0) { Return (const) }, the form
 * QEMU's PCIe host bridge (GPEX, as on microvm,pcie=on) uses. Not an AML
 * interpreter: a pattern match on the encodings (NameOp 0x08; MethodOp
 * 0x14, a 1-4 byte PkgLength whose lead byte counts the bytes after it,
 * flags with ArgCount 0, ReturnOp 0xA4). A false match inside a buffer is
 * possible in principle; the caller checks the result (ecam_sane, and that
 * 00.0 answers through it). */
static int aml_find_cba(const uint8_t *p, const uint8_t *end, uint64_t *v)
{
	for (const uint8_t *q = p + 1; q + 4 <= end; q++) {
		if (memcmp(q, "_CBA", 4) != 0)
			continue;
		if (q[-1] == 0x08 && aml_const(q + 4, end, v))
			return 1;
		for (unsigned k = 1; k <= 4 && q - p > (long)k; k++) {
			if (q[-(long)k] >> 6 != k - 1 || q[-(long)k - 1] != 0x14)
				continue;
			if (q + 6 <= end && (q[4] & 7) == 0 && q[5] == 0xa4 &&
			    aml_const(q + 6, end, v))
				return 1;
		}
	}
	return 0;
}

/* ACPI without an MCFG (QEMU microvm,pcie=on): the host bridge's _CBA in
 * the DSDT gives the ECAM base. Only bus 0 is claimed, since finding the
 * bus range means evaluating _CRS and bus 0 is all pvguest scans. */
static uint64_t ecam_from_dsdt(const struct boot_info *bi, unsigned *end_bus, const char **err)
{
	uint64_t dsdt = acpi_find_dsdt(bi, err), base;

	if (!dsdt)
		return 0;
	const uint8_t *aml = (const uint8_t *)dsdt;
	if (!aml_find_cba(aml + 36, aml + rd32(dsdt + 4), &base))
		return 0;
	if (!ecam_sane(bi, base, 0)) {
		*err = "dsdt-cba-base";
		return 0;
	}
	*end_bus = 0;
	return base;
}

/* A host bridge's memory windows from its _CRS: the address-space
 * descriptors (§6.4.3.5.1-2: Word, DWord, QWord) of resource type 0, with
 * no translation (the window's CPU and PCI addresses agree). */
struct window { uint64_t base, end, next; };
static struct window win32, win64;
static int windows_read;

static void crs_windows(const uint8_t *r, const uint8_t *end)
{
	struct window w32 = { 0 }, w64 = { 0 };
	struct acpi_res res;
	struct acpi_addr_space a;
	int bridge = 0, k;

	while ((k = acpi_res_next(&r, end, &res)) > 0) {
		if (!acpi_res_addr_space(&res, &a))
			continue;
		if (a.type == 2) {
			bridge = 1;     /* a bus-number range: this is a bridge's _CRS */
		} else if (a.type == 0 && a.tra == 0 && a.len && a.max >= a.min) {
			struct window *t = a.max < (1ull << 32) ? &w32 : &w64;
			if (!t->base && a.min) {
				t->base = t->next = a.min;
				t->end = a.max + 1;
			}
		}
	}
	if (k < 0)
		return;                 /* a descriptor ran past the template */
	if (bridge && !win32.base && !win64.base) {
		win32 = w32;
		win64 = w64;
	}
}

/* The buffer after each _CRS in the AML (aml_crs_at); the first one with
 * a bus-number range and a memory window gives the windows. */
static void aml_find_windows(const uint8_t *p, const uint8_t *end)
{
	for (const uint8_t *q = p + 1; q + 4 <= end && !win32.base && !win64.base; q++) {
		const uint8_t *res, *res_end;
		if (memcmp(q, "_CRS", 4) == 0 && aml_crs_at(q, end, &res, &res_end))
			crs_windows(res, res_end);
	}
}

int pci_bar_alloc(uint64_t size, int is64, uint64_t *addr)
{
	if (!windows_read) {
		const char *err = NULL;
		uint64_t dsdt = acpi_find_dsdt(&boot_info, &err);
		windows_read = 1;
		if (dsdt)
			aml_find_windows((const uint8_t *)dsdt + 36,
					 (const uint8_t *)dsdt + rd32(dsdt + 4));
	}
	if (!size || size & (size - 1))
		return -EINVAL;
	/* below 4 GiB first: entry.S maps it already; a 64-bit BAR may go either way */
	struct window *ws[2] = { &win32, is64 ? &win64 : NULL };
	for (unsigned i = 0; i < 2; i++) {
		struct window *w = ws[i];
		if (!w || !w->base)
			continue;
		uint64_t a = (w->next + size - 1) & ~(size - 1);
		if (a < w->next || a + size < a || a + size > w->end)
			continue;
		w->next = a + size;
		*addr = a;
		return 0;
	}
	return -ENOSPC;
}

uint64_t pci_ecam_find(const struct boot_info *bi, unsigned *end_bus, const char **err,
		       const char **source)
{
	uint64_t base = ecam_from_mcfg(bi, end_bus, err);

	*source = "mcfg";
	if (base || *err)
		return base;
	*source = "dsdt-cba";
	return ecam_from_dsdt(bi, end_bus, err);
}

static uint64_t ecam_pa(uint64_t ecam, unsigned bus, unsigned slot, unsigned fn, unsigned off)
{
	return ecam + ((uint64_t)bus << ECAM_BUS_SHIFT | slot << 15 | fn << 12 | (off & 0xffc));
}

uint32_t pci_ecam_read32(uint64_t ecam, unsigned bus, unsigned slot, unsigned fn, unsigned off)
{
	return mmio_read32(ecam_pa(ecam, bus, slot, fn, off));
}

void pci_ecam_write32(uint64_t ecam, unsigned bus, unsigned slot, unsigned fn, unsigned off,
		      uint32_t v)
{
	mmio_write32(ecam_pa(ecam, bus, slot, fn, off), v);
}

/* ---- the mechanism in use ---- */

struct pci_ops {
	const char *name;
	uint32_t (*read32)(unsigned bus, unsigned slot, unsigned fn, unsigned off);
	void (*write32)(unsigned bus, unsigned slot, unsigned fn, unsigned off, uint32_t v);
};

static uint64_t ecam_base;
static unsigned ecam_end_bus;
static const char *ecam_why;
static const struct pci_ops *ops;

/* Buses past the MCFG's last one have no config space: they read as absent. */
static uint32_t ecam_read32(unsigned bus, unsigned slot, unsigned fn, unsigned off)
{
	return bus <= ecam_end_bus ? pci_ecam_read32(ecam_base, bus, slot, fn, off) : 0xffffffff;
}

static void ecam_write32(unsigned bus, unsigned slot, unsigned fn, unsigned off, uint32_t v)
{
	if (bus <= ecam_end_bus)
		pci_ecam_write32(ecam_base, bus, slot, fn, off, v);
}

static uint32_t none_read32(unsigned bus, unsigned slot, unsigned fn, unsigned off)
{
	(void)bus, (void)slot, (void)fn, (void)off;
	return 0xffffffff;
}

static void none_write32(unsigned bus, unsigned slot, unsigned fn, unsigned off, uint32_t v)
{
	(void)bus, (void)slot, (void)fn, (void)off, (void)v;
}

static const struct pci_ops ops_ecam = { "ecam", ecam_read32, ecam_write32 };
static const struct pci_ops ops_conf1 = { "conf1", pci_conf1_read32, pci_conf1_write32 };
static const struct pci_ops ops_none = { "none", none_read32, none_write32 };

static const struct pci_ops *pci_ops(void)
{
	if (ops)
		return ops;
	const char *err = NULL, *source;
	unsigned end_bus = 0;
	uint64_t base = pci_ecam_find(&boot_info, &end_bus, &err, &source);
	if (base && paging_map_mmio(base, (uint64_t)(end_bus + 1) << ECAM_BUS_SHIFT) != 0)
		err = "ecam-unmappable";
	/* every VMM pvguest runs on puts a host bridge at 00.0: if the window
	 * does not show one, the tables pointed somewhere else */
	else if (base && (pci_ecam_read32(base, 0, 0, 0, 0) & 0xffff) == 0xffff)
		err = "ecam-empty";
	else if (base) {
		ecam_base = base;
		ecam_end_bus = end_bus;
		return ops = &ops_ecam;
	}
	ecam_why = err ? err : "no-mcfg-no-cba";
	return ops = pci_conf1_present() ? &ops_conf1 : &ops_none;
}

uint32_t pci_read32(unsigned bus, unsigned slot, unsigned fn, unsigned off)
{
	return pci_ops()->read32(bus, slot, fn, off);
}

void pci_write32(unsigned bus, unsigned slot, unsigned fn, unsigned off, uint32_t v)
{
	pci_ops()->write32(bus, slot, fn, off, v);
}

const char *pci_mechanism(void)
{
	return pci_ops()->name;
}

const char *pci_ecam_why(void)
{
	pci_ops();
	return ecam_why;
}

uint64_t pci_ecam_base(unsigned *end_bus)
{
	if (pci_ops() != &ops_ecam)
		return 0;
	*end_bus = ecam_end_bus;
	return ecam_base;
}
