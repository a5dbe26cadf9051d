/* cpus.c: find the CPUs the VMM describes: the Intel MP table (MP spec 1.4:
 * the "_MP_" floating pointer in the EBDA, the last KiB of base memory or the
 * BIOS ROM area) and the ACPI MADT (via the RSDP). Both are checked when
 * present; the MADT's list wins (see cpus_find). Ring 3, BSP. */
#include "smp.h"
#include "lib.h"
#include "acpi.h"
#include "phys.h"

#define LOW_4G 0x100000000ull

static void add_cpu(struct cpu_table *t, uint32_t apic_id)
{
	if (t->n == PVG_MAX_CPUS) {
		t->dropped++;
		return;
	}
	t->apic_id[t->n++] = apic_id;
}

static int fail(struct cpu_table *t, const char *why)
{
	t->error = why;
	return -1;
}

/* MP spec 1.4 §4.1: the floating pointer search areas. */
static uint64_t mp_find_fp(void)
{
	uint64_t ebda = ebda_base(), p = 0;
	uint64_t basemem = (uint64_t)rd16(0x413) * 1024;

	if (ebda)
		p = phys_scan(ebda, 1024, "_MP_", 4, 0);
	if (!p)
		p = phys_scan(0x9fc00, 1024, "_MP_", 4, 0);
	if (!p && basemem >= 0x80000 && basemem < 0xa0000)
		p = phys_scan(basemem - 1024, 1024, "_MP_", 4, 0);
	if (!p)
		p = phys_scan(0xf0000, 0x10000, "_MP_", 4, 0);
	return p;
}

static int mp_parse(const struct boot_info *bi, uint64_t fp, struct cpu_table *t)
{
	uint64_t ct = rd32(fp + 4);

	t->source = "mptable";
	if (*(uint8_t *)(fp + 11) != 0)
		return fail(t, "mptable-default-config");   /* MP spec §5: not supported */
	if (!readable(bi, ct, 44) || memcmp((void *)ct, "PCMP", 4) != 0)
		return fail(t, "mptable-config-signature");
	uint16_t len = rd16(ct + 4);
	if (len < 44 || !readable(bi, ct, len) || sum8(ct, len) != 0)
		return fail(t, "mptable-config-checksum");
	t->table_paddr = ct;
	t->lapic_paddr = rd32(ct + 36);
	/* Walk by the base table length, as Linux does: qboot leaves the entry
	 * count at 0. A non-zero count must match. */
	uint16_t count = rd16(ct + 34), seen = 0;
	uint64_t e = ct + 44, end = ct + len;
	while (e < end) {
		uint8_t type = *(uint8_t *)e;
		uint64_t elen = type == 0 ? 20 : type <= 4 ? 8 : 0;
		if (!elen || e + elen > end)
			return fail(t, "mptable-bad-entry");
		if (type == 0 && (*(uint8_t *)(e + 3) & 1))   /* processor, CPU_ENABLED */
			add_cpu(t, *(uint8_t *)(e + 1));
		e += elen;
		seen++;
	}
	if (count && count != seen)
		return fail(t, "mptable-entry-count");
	return 0;
}

static int madt_parse(uint64_t madt, struct cpu_table *t)
{
	uint32_t len = rd32(madt + 4);
	uint64_t e = madt + 44, end = madt + len;

	t->table_paddr = madt;
	t->lapic_paddr = rd32(madt + 36);
	while (e + 2 <= end) {
		uint8_t type = *(uint8_t *)e, elen = *(uint8_t *)(e + 1);
		if (elen < 2 || e + elen > end)
			return fail(t, "madt-bad-entry");
		if (type == 0 && elen >= 8 && (rd32(e + 4) & 1))        /* processor local APIC */
			add_cpu(t, *(uint8_t *)(e + 3));
		else if (type == 9 && elen >= 16 && (rd32(e + 8) & 1))  /* processor local x2APIC */
			add_cpu(t, rd32(e + 4));
		else if (type == 5 && elen >= 12)                        /* local APIC address override */
			t->lapic_paddr = rd64(e + 4);
		e += elen;
	}
	return 0;
}

static int madt_find(const struct boot_info *bi, struct cpu_table *t)
{
	const char *err = NULL;
	int have_acpi;
	uint64_t madt = acpi_find_table(bi, "APIC", &err, &have_acpi);

	if (err)
		return fail(t, strcmp(err, "acpi-table-checksum") ? err : "madt-checksum");
	if (!madt) {
		t->source = "none";
		return 0;
	}
	t->source = "madt";
	if (rd32(madt + 4) < 44)
		return fail(t, "madt-checksum");
	return madt_parse(madt, t);
}

static void table_init(struct cpu_table *t)
{
	memset(t, 0, sizeof(*t));
	t->source = "none";
	t->lapic_paddr = 0xfee00000;
}

/* The MADT wins over the MP table when both exist: under QEMU the MADT comes
 * from QEMU, while SeaBIOS lists in its MP table only the CPUs it managed to
 * start itself, which on PVM is just the BSP. vireo provides only an MP table. */
int cpus_find(const struct boot_info *bi, struct cpu_table *t)
{
	static struct cpu_table mp;
	uint64_t fp = mp_find_fp();

	table_init(&mp);
	table_init(t);
	if (fp && mp_parse(bi, fp, &mp)) {
		*t = mp;
		return -1;
	}
	if (madt_find(bi, t))
		return -1;
	int madt_n = strcmp(t->source, "none") ? (int)(t->n + t->dropped) : -1;
	if (madt_n < 0)
		*t = mp;
	t->mptable_n = fp ? (int)(mp.n + mp.dropped) : -1;
	t->madt_n = madt_n;
	return 0;
}
