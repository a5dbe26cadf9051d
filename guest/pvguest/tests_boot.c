/* tests_boot.c: the "boot" test. Judges what the VMM handed over: the memory
 * map, the command line, the initrd (pvguest.initrd=<len>:<crc32>) and the
 * CPUs (every CPU in the MP table/MADT must reach ring 3; pvguest.cpus=<N>).
 * PASS line: "cpus=<N> mem_mib=<ceil(RAM/MiB)> [initrd=<bytes>]". */
#include "boot.h"
#include "lib.h"
#include "smp.h"
#include "tests.h"

#define MIB            (1ul << 20)
#define SMP_TIMEOUT_US (60ull * 1000 * 1000)
#define CMDLINE_MAX_PVH 4096           /* PVH sets no limit; ours */
#define CMDLINE_MAX_BP  2048           /* cmdline_size 2047 + NUL */

/* Is [pa, pa+len) covered by RAM entries (adjacent entries may join)? */
static int covered_by_ram(const struct boot_info *bi, uint64_t pa, uint64_t len)
{
	uint64_t end = pa + len;

	if (end < pa)
		return 0;
	while (pa < end || len == 0) {
		uint32_t i;
		for (i = 0; i < bi->nr_mem; i++) {
			const struct mem_entry *m = &bi->mem[i];
			if (m->type == MEM_TYPE_RAM && pa >= m->addr && pa - m->addr < m->size)
				break;
		}
		if (i == bi->nr_mem)
			return 0;
		if (len == 0)
			return 1;
		pa = bi->mem[i].addr + bi->mem[i].size;
	}
	return 1;
}

static int overlaps_image(uint64_t pa, uint64_t len)
{
	return pa < (uint64_t)_end && pa + len > (uint64_t)_start;
}

static void check_memmap(struct test_ctx *c, const struct boot_info *bi, uint64_t *ram)
{
	*ram = 0;
	if (bi->errors & BOOT_ERR_BAD_MAGIC) {
		test_fail(c, "handoff", "bad %s at %#lx", bi->kind == BOOT_KIND_PVH ?
			  "hvm_start_info magic" : "boot_params header", bi->handoff_paddr);
		return;
	}
	if (bi->errors & BOOT_ERR_PTR_HIGH)
		test_fail(c, "handoff", "a hand-off structure lies above 4 GiB");
	if (bi->errors & BOOT_ERR_NO_MEMMAP) {
		test_fail(c, "memmap", "no memory map (start_info version %u, %u entries)",
			  bi->pvh_version, bi->mem_given);
		return;
	}
	if (bi->errors & BOOT_ERR_MEM_TRUNC)
		test_fail(c, "memmap", "%u entries, more than %u", bi->mem_given, BOOT_MAX_MEM);
	if (bi->errors & BOOT_ERR_HIGH_TRUNC)
		test_info(c, "RAM above %lu GiB is not mapped", bi->mapped_end >> 30);

	for (uint32_t i = 0; i < bi->nr_mem; i++) {
		const struct mem_entry *m = &bi->mem[i], *p = i ? &bi->mem[i - 1] : NULL;
		if (!m->size || m->addr + m->size < m->addr || !m->type)
			test_fail(c, "memmap", "entry %u malformed: addr=%#lx size=%#lx type=%u",
				  i, m->addr, m->size, m->type);
		else if (p && m->addr < p->addr + p->size)
			test_fail(c, "memmap", "entry %u [%#lx,+%#lx) not after entry %u [%#lx,+%#lx)",
				  i, m->addr, m->size, i - 1, p->addr, p->size);
		if (m->type == MEM_TYPE_RAM)
			*ram += m->size;
	}
	if (c->reason)
		for (uint32_t i = 0; i < bi->nr_mem; i++)
			test_info(c, "memmap[%u] addr=%#lx size=%#lx type=%u", i,
				  bi->mem[i].addr, bi->mem[i].size, bi->mem[i].type);
	if (!covered_by_ram(bi, 0, 0))
		test_fail(c, "memmap", "no RAM at address 0");
	if (!covered_by_ram(bi, 0x100000, 0))
		test_fail(c, "memmap", "no RAM at 1 MiB");
	if (!covered_by_ram(bi, (uint64_t)_start, _end - _start))
		test_fail(c, "memmap", "the image [%#lx,%#lx) is not in RAM", (uint64_t)_start, (uint64_t)_end);
	if (overlaps_image(bi->handoff_paddr, 64))
		test_fail(c, "handoff", "the hand-off at %#lx overlaps the image", bi->handoff_paddr);
}

/* RAM above 4 GiB is reachable only through paging.c's tables: touch the
 * first and last word of each such region (a #PF there is fatal). */
static void check_high_ram(struct test_ctx *c, const struct boot_info *bi)
{
	for (uint32_t i = 0; i < bi->nr_mem; i++) {
		const struct mem_entry *m = &bi->mem[i];
		uint64_t end = m->addr + m->size;
		if (m->type != MEM_TYPE_RAM || end <= (4ull << 30) || end > bi->mapped_end ||
		    m->size < 16)
			continue;
		volatile uint64_t *w[2] = {
			(uint64_t *)((m->addr + 7) & ~7ull), (uint64_t *)((end & ~7ull) - 8),
		};
		for (int k = 0; k < 2; k++) {
			uint64_t old = *w[k], pat = 0x5a5a5a5a00000000ull | (uint64_t)w[k] >> 3;
			*w[k] = pat;
			uint64_t got = *w[k];
			*w[k] = old;
			if (got != pat)
				test_fail(c, "high-ram", "%p reads back %#lx, wrote %#lx", (void *)w[k], got, pat);
		}
	}
}

static void check_cmdline(struct test_ctx *c, const struct boot_info *bi)
{
	uint64_t pa = bi->cmdline_paddr;
	uint64_t max = bi->kind == BOOT_KIND_PVH ? CMDLINE_MAX_PVH : CMDLINE_MAX_BP;

	if (!pa) {
		test_info(c, "no command line was given");
		return;
	}
	if (pa >= bi->mapped_end || max > bi->mapped_end - pa) {
		test_fail(c, "cmdline", "at %#lx, not in mapped memory", pa);
		return;
	}
	const char *s = (const char *)pa;
	uint64_t n = 0;
	for (; n < max && s[n]; n++) {
		if (s[n] < 0x20 || s[n] > 0x7e) {
			test_fail(c, "cmdline", "byte %#x at offset %lu is not printable",
				  (unsigned char)s[n], n);
			return;
		}
	}
	if (n == max) {
		test_fail(c, "cmdline", "no NUL within %lu bytes of %#lx", n, pa);
		return;
	}
	if (overlaps_image(pa, n + 1))
		test_fail(c, "cmdline", "[%#lx,+%lu) overlaps the image", pa, n + 1);
	/* Not fatal: qboot keeps the command line in memory it does not call RAM. */
	if (!covered_by_ram(bi, pa, n + 1))
		test_info(c, "note: the command line at %#lx is not in RAM", pa);
}

/* Returns the initrd's size, 0 if there is none. */
static uint64_t check_initrd(struct test_ctx *c, const struct boot_info *bi)
{
	char want[64];
	uint64_t want_len = 0, want_crc = 0;
	int given = cmdline_get(c->cmdline, "pvguest.initrd", want, sizeof(want)) >= 0;

	if (given) {
		char *colon = strchr(want, ':');
		if (colon)
			*colon = 0;
		if (!colon || parse_u64(want, &want_len, 0) || parse_hex_u64(colon + 1, &want_crc) ||
		    want_crc > 0xffffffff) {
			test_fail(c, "bad-param", "pvguest.initrd wants <len>:<crc32 hex>");
			return bi->initrd_size;
		}
	}
	uint64_t pa = bi->initrd_paddr, len = bi->initrd_size;
	if (!len) {
		if (given)
			test_fail(c, "initrd", "none was loaded, %lu bytes expected", want_len);
		return 0;
	}
	if (!pa || pa + len < pa || pa + len > bi->mapped_end) {
		test_fail(c, "initrd", "[%#lx,+%#lx) is not in mapped memory", pa, len);
		return len;
	}
	/* Not fatal: QEMU's microvm with SeaBIOS puts the initrd's last bytes in
	 * a page its memory map calls reserved; the data is intact. */
	if (!covered_by_ram(bi, pa, len))
		test_info(c, "note: the initrd [%#lx,+%#lx) is not all RAM in the memory map", pa, len);
	if (overlaps_image(pa, len)) {
		test_fail(c, "initrd", "[%#lx,+%#lx) overlaps the image", pa, len);
		return len;
	}
	if (!given)
		return len;
	if (len != want_len) {
		test_fail(c, "initrd", "size %lu, expected %lu", len, want_len);
		return len;
	}
	uint32_t crc = crc32(0, (const void *)pa, len);
	if (crc != want_crc)
		test_fail(c, "initrd", "crc32 %08x, expected %08lx", crc, want_crc);
	return len;
}

static uint32_t check_cpus(struct test_ctx *c, const struct boot_info *bi)
{
	static struct cpu_table t;
	static struct smp_result r;
	char want[16];
	uint64_t want_n = 0;

	if (cmdline_get(c->cmdline, "pvguest.cpus", want, sizeof(want)) >= 0 &&
	    (parse_u64(want, &want_n, 0) || !want_n)) {
		test_fail(c, "bad-param", "pvguest.cpus wants a positive number");
		want_n = 0;
	}
	if (cpus_find(bi, &t)) {
		test_fail(c, "cpu-table", "%s table at %#lx: %s", t.source, t.table_paddr, t.error);
		return 1;
	}
	if (t.dropped)
		test_fail(c, "too-many-cpus", "%u enabled CPUs, at most %u supported",
			  t.n + t.dropped, PVG_MAX_CPUS);
	int ok = smp_start_aps(bi, &t, SMP_TIMEOUT_US, &r) == 0;
	if (!ok)
		test_fail(c, "smp", "%s: %u of %u CPUs reached ring 3 after %lu us",
			  r.error, r.checked_in, t.n ? t.n : 1, r.elapsed_us);

	/* Every table CPU ran exactly once, and nothing else ran. */
	uint32_t expect = t.n ? t.n : 1;
	for (uint32_t i = 0; ok && i < r.checked_in; i++) {
		uint32_t in_table = !t.n && i == 0, dup = 0;
		for (uint32_t j = 0; j < t.n; j++)
			in_table += t.apic_id[j] == r.apic_id[i];
		for (uint32_t j = 0; j < i; j++)
			dup += r.apic_id[j] == r.apic_id[i];
		if (in_table != 1 || dup) {
			test_fail(c, "apic-id", "APIC ID %u reported by a CPU is %s", r.apic_id[i],
				  dup ? "not unique" : in_table ? "listed twice" : "not in the table");
			ok = 0;
		} else if (r.cpuid_apic_id[i] != r.apic_id[i]) {
			test_fail(c, "apic-id", "a CPU's LAPIC ID is %u but its CPUID says %u",
				  r.apic_id[i], r.cpuid_apic_id[i]);
			ok = 0;
		}
	}
	if (ok && r.checked_in != expect)
		test_fail(c, "smp", "%u CPUs ran, %u expected", r.checked_in, expect);
	if (want_n && r.checked_in != want_n)
		test_fail(c, "cpus", "%u CPUs ran, pvguest.cpus=%lu", r.checked_in, want_n);
	char ids[256];
	size_t o = 0;
	for (uint32_t i = 0; i < t.n && o < sizeof(ids); i++)
		o += snprintf(ids + o, sizeof(ids) - o, "%s%u", i ? "," : "", t.apic_id[i]);
	ids[o < sizeof(ids) ? o : sizeof(ids) - 1] = 0;
	test_info(c, "cpus: mptable=%d madt=%d (-1: none), using %s at %#lx: lapic=%#lx "
		  "apic_ids=%s ran=%u smp_us=%lu", t.mptable_n, t.madt_n, t.source, t.table_paddr,
		  t.lapic_paddr, t.n ? ids : "-", r.checked_in, r.elapsed_us);
	return r.checked_in;
}

enum test_status test_boot(struct test_ctx *c)
{
	const struct boot_info *bi = &boot_info;
	uint64_t ram;

	test_info(c, "%s hand-off at %#lx: %u memory map entries, time from %s",
		  bi->kind == BOOT_KIND_PVH ? "pvh" : "boot_params", bi->handoff_paddr,
		  bi->mem_given, time_source());
	check_memmap(c, bi, &ram);
	check_high_ram(c, bi);
	check_cmdline(c, bi);
	uint32_t cpus = check_cpus(c, bi);
	uint64_t initrd = check_initrd(c, bi);
	test_kv(c, "cpus=%u", cpus);
	test_kv(c, "mem_mib=%lu", (ram + MIB - 1) / MIB);
	if (initrd)
		test_kv(c, "initrd=%lu", initrd);
	return c->reason ? TEST_FAIL : TEST_PASS;
}
