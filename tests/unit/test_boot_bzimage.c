/* Unit tests for the bzImage loader (Linux x86 boot protocol, 64-bit entry):
 * crafted setup headers in memory, loaded into fake guest RAM, and the zero
 * page, e820 map, cmdline, initrd, page tables and GDT read back. */
#include <asm/bootparam.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "unit_rng.h"

#include "arch/x86/boot.h"
#include "arch/x86/layout.h"
#include "unit_mem.h"

#define MiB (1ull << 20)

/* A relocatable kernel runs from max(load address aligned up to
 * kernel_alignment, pref_address) (boot.rst, init_size): with this fixture's
 * 2 MiB alignment and no pref_address, from 2 MiB. */
#define RUN_START (2 * MiB)


/* What goes into a crafted image; bz_defaults() gives a modern kernel. */
struct bz_opts {
	uint16_t version;
	uint8_t setup_sects;   /* 0 means 4, as in the protocol */
	uint8_t hdr_len;       /* byte at 0x201: header ends at 0x202 + this */
	uint8_t loadflags;
	uint16_t xloadflags;
	uint32_t cmdline_size;
	uint32_t initrd_addr_max;
	uint32_t init_size;
	uint64_t pref_address;
	size_t payload_len;
	int64_t syssize;       /* -1: payload_len / 16 */
	size_t trim;           /* bytes cut off the end of the file */
};

static struct bz_opts bz_defaults(void)
{
	return (struct bz_opts){
		.version = 0x020F,
		.setup_sects = 4,
		.hdr_len = 0x6A,
		.loadflags = LOADED_HIGH,
		.xloadflags = XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G,
		.cmdline_size = 2047,
		.initrd_addr_max = 0x7FFFFFFF,
		.init_size = 4 * MiB,
		.payload_len = 64 * 1024,
		.syssize = -1,
	};
}

static void put16(uint8_t *p, uint16_t v) { p[0] = v; p[1] = v >> 8; }

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = v >> (8 * i);
}

static uint8_t payload_byte(size_t i)
{
	return (uint8_t)(i * 7 + (i >> 8) + 1);
}

/* A malloc'd image of exactly the right length (after o->trim), so ASan
 * sees any read past the end of the file. */
static uint8_t *bz_build(const struct bz_opts *o, size_t *len)
{
	size_t setup = ((size_t)(o->setup_sects ? o->setup_sects : 4) + 1) * 512;
	size_t full_len = setup + o->payload_len;
	size_t n = o->trim < full_len ? full_len - o->trim : 0;
	uint8_t *full = calloc(1, full_len), *k = malloc(n ? n : 1);

	assert_non_null(full);
	assert_non_null(k);
	full[0x1F1] = o->setup_sects;
	put32(full + 0x1F4, o->syssize < 0 ? (uint32_t)(o->payload_len / 16) : (uint32_t)o->syssize);
	full[0x1FE] = 0x55;
	full[0x1FF] = 0xAA;
	full[0x200] = 0xEB;
	full[0x201] = o->hdr_len;
	memcpy(full + 0x202, "HdrS", 4);
	put16(full + 0x206, o->version);
	full[0x211] = o->loadflags | QUIET_FLAG;
	put32(full + 0x22C, o->initrd_addr_max);
	put32(full + 0x230, 0x200000);  /* kernel_alignment */
	full[0x234] = 1;                /* relocatable_kernel */
	put16(full + 0x236, o->xloadflags);
	put32(full + 0x238, o->cmdline_size);
	put32(full + 0x260, o->init_size);
	put32(full + 0x258, (uint32_t)o->pref_address);
	put32(full + 0x25C, (uint32_t)(o->pref_address >> 32));
	put32(full + 0x264, 0x190);     /* handover_offset, only to see it copied */
	for (size_t i = setup; i < full_len; i++)
		full[i] = payload_byte(i - setup);
	memcpy(k, full, n);
	free(full);
	*len = n;
	return k;
}

struct bz_fixture {
	struct test_mem mem;
};

static int setup_256m(void **state)
{
	struct bz_fixture *f = calloc(1, sizeof(*f));

	if (!f || test_mem_init(&f->mem, 256 * MiB))
		return -1;
	*state = f;
	return 0;
}

static int setup_64m(void **state)
{
	struct bz_fixture *f = calloc(1, sizeof(*f));

	if (!f || test_mem_init(&f->mem, 64 * MiB))
		return -1;
	*state = f;
	return 0;
}

static int setup_3g(void **state)
{
	struct bz_fixture *f = calloc(1, sizeof(*f));

	if (!f || test_mem_init(&f->mem, 3ull << 30))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct bz_fixture *f = *state;

	test_mem_free(&f->mem);
	free(f);
	return 0;
}

/* Loads the image described by o; returns boot_load's result. */
static int bz_load(struct test_mem *mem, const struct bz_opts *o, const char *cmdline,
		   const uint8_t *initrd, size_t initrd_len, struct boot_info *info,
		   struct errbuf *e)
{
	size_t len;
	uint8_t *k = bz_build(o, &len);
	struct boot_image img = {
		.kernel = k, .kernel_len = len, .initrd = initrd, .initrd_len = initrd_len,
		.cmdline = cmdline,
	};
	int ret;

	memset(e, 0, sizeof(*e));
	ret = boot_load(&mem->m, &img, info, e);
	free(k);
	return ret;
}

static struct boot_params *zero_page(struct test_mem *mem)
{
	return TEST_GPA(mem, LAYOUT_ZERO_PAGE, sizeof(struct boot_params));
}

/* The e820 table equals boot_memmap(), is sorted, does not overlap, and its
 * RAM entries are exactly the guest's RAM less the reserved 0x9FC00-1M. */
static void check_e820(struct test_mem *mem, const struct boot_params *zp)
{
	struct boot_memmap_entry map[BOOT_MAX_MEMMAP];
	unsigned n = boot_memmap(&mem->m, map);
	uint64_t ram = 0;

	assert_int_equal(zp->e820_entries, n);
	for (unsigned i = 0; i < n; i++) {
		const struct boot_e820_entry *en = &zp->e820_table[i];

		assert_int_equal(en->addr, map[i].addr);
		assert_int_equal(en->size, map[i].size);
		assert_int_equal(en->type, map[i].type);
		assert_true(en->size > 0);
		if (i > 0)
			assert_true(zp->e820_table[i - 1].addr + zp->e820_table[i - 1].size <= en->addr);
		if (en->type == E820_RAM) {
			assert_non_null(gmem_ptr(&mem->m, en->addr, en->size));
			ram += en->size;
		} else {
			assert_int_equal(en->type, E820_RESERVED);
		}
	}
	for (unsigned i = n; i < E820_MAX_ENTRIES_ZEROPAGE; i++)
		assert_int_equal(zp->e820_table[i].size, 0);
	assert_int_equal(ram, mem->size - (LAYOUT_HIMEM_START - LAYOUT_EBDA_START));
}

static void check_page_tables(struct test_mem *mem)
{
	uint64_t *pml4 = TEST_GPA(mem, LAYOUT_PML4, 4096);
	uint64_t *pdpt = TEST_GPA(mem, LAYOUT_PDPT, 4096);
	static const uint64_t probes[] = { 0, 0x1FFFFF, 0x200000, 0x100200, LAYOUT_ZERO_PAGE,
					   0xB0000000, 0xFEC00000, 0xFFFFFFFF };

	assert_int_equal(pml4[0] & ~0xFFFull, LAYOUT_PDPT);
	assert_int_equal(pml4[0] & 3, 3);
	for (unsigned i = 1; i < 512; i++)
		assert_int_equal(pml4[i], 0);
	for (unsigned i = 4; i < 512; i++)
		assert_int_equal(pdpt[i], 0);
	/* walk the tables for a few addresses: each must map to itself */
	for (size_t p = 0; p < sizeof(probes) / sizeof(probes[0]); p++) {
		uint64_t va = probes[p];
		uint64_t e4 = pml4[(va >> 39) & 511], e3, e2, *pd;

		assert_true(e4 & 1);
		e3 = ((uint64_t *)TEST_GPA(mem, e4 & ~0xFFFull, 4096))[(va >> 30) & 511];
		assert_true(e3 & 1);
		assert_false(e3 & 0x80);
		pd = TEST_GPA(mem, e3 & 0x000FFFFFFFFFF000ull, 4096);
		e2 = pd[(va >> 21) & 511];
		assert_int_equal(e2 & 0x83, 0x83); /* present, writable, 2 MiB */
		assert_int_equal((e2 & 0x000FFFFFFFE00000ull) | (va & 0x1FFFFF), va);
	}
}

static void check_gdt(struct test_mem *mem)
{
	uint64_t *gdt = TEST_GPA(mem, LAYOUT_BOOT_GDT, 5 * 8);
	uint64_t cs64 = gdt[LAYOUT_SEL_CS / 8], cs32 = gdt[LAYOUT_SEL_CS32 / 8];
	uint64_t ds = gdt[LAYOUT_SEL_DS / 8];

	assert_int_equal(gdt[0], 0);
	/* present, DPL 0, code, readable; L=1, D=0 for 64-bit */
	assert_int_equal((cs64 >> 40) & 0x9A, 0x9A);
	assert_true(cs64 & (1ull << 53));
	assert_false(cs64 & (1ull << 54));
	/* 32-bit code: D=1, L=0, 4 GiB limit */
	assert_int_equal((cs32 >> 40) & 0x9A, 0x9A);
	assert_false(cs32 & (1ull << 53));
	assert_true(cs32 & (1ull << 54));
	assert_true(cs32 & (1ull << 55));
	/* flat writable data */
	assert_int_equal((ds >> 40) & 0x9A, 0x92);
	assert_int_equal(ds & 0xFFFF, 0xFFFF);
	assert_int_equal((ds >> 48) & 0xF, 0xF);
}

static void test_load_basic(void **state)
{
	struct bz_fixture *f = *state;
	struct bz_opts o = bz_defaults();
	const char *cmdline = "console=ttyS0 root=/dev/vda rw";
	struct boot_info info;
	struct boot_params *zp;
	struct errbuf e;
	uint8_t *p;

	assert_int_equal(bz_load(&f->mem, &o, cmdline, NULL, 0, &info, &e), 0);
	assert_int_equal(info.mode, BOOT_LINUX64);
	assert_int_equal(info.entry, 0x100200);
	assert_int_equal(info.handoff, LAYOUT_ZERO_PAGE);
	assert_int_equal(info.kernel_end, RUN_START + o.init_size);
	assert_int_equal(info.initrd_addr, 0);
	assert_string_equal(info.format, "bzImage");

	/* the protected-mode payload at 1 MiB, byte for byte */
	p = TEST_GPA(&f->mem, LAYOUT_HIMEM_START, o.payload_len);
	for (size_t i = 0; i < o.payload_len; i++)
		if (p[i] != payload_byte(i))
			fail_msg("payload byte %zu differs", i);

	zp = zero_page(&f->mem);
	assert_int_equal(zp->hdr.boot_flag, 0xAA55);
	assert_int_equal(zp->hdr.header, 0x53726448);
	assert_int_equal(zp->hdr.version, 0x020F);
	assert_int_equal(zp->hdr.setup_sects, 4);
	assert_int_equal(zp->hdr.syssize, o.payload_len / 16);
	assert_int_equal(zp->hdr.handover_offset, 0x190);
	assert_int_equal(zp->hdr.type_of_loader, 0xFF);
	assert_true(zp->hdr.loadflags & LOADED_HIGH);
	assert_true(zp->hdr.loadflags & KEEP_SEGMENTS);
	assert_false(zp->hdr.loadflags & QUIET_FLAG);
	assert_int_equal(zp->hdr.code32_start, LAYOUT_HIMEM_START);
	assert_int_equal(zp->hdr.ramdisk_image, 0);
	assert_int_equal(zp->hdr.ramdisk_size, 0);
	assert_int_equal(zp->ext_ramdisk_image, 0);
	assert_int_equal(zp->ext_cmd_line_ptr, 0);
	/* nothing outside the setup header is carried over from the file */
	for (size_t i = 0; i < 0x1F1; i++)
		if (((uint8_t *)zp)[i] != 0 && i != offsetof(struct boot_params, e820_entries))
			fail_msg("zero page byte %#zx is %#x", i, ((uint8_t *)zp)[i]);

	/* cmdline */
	assert_int_equal(zp->hdr.cmd_line_ptr, LAYOUT_CMDLINE);
	assert_string_equal((char *)TEST_GPA(&f->mem, zp->hdr.cmd_line_ptr, strlen(cmdline) + 1),
			    cmdline);

	check_e820(&f->mem, zp);
	check_page_tables(&f->mem);
	check_gdt(&f->mem);
}

static void test_e820_256m(void **state)
{
	struct bz_fixture *f = *state;
	struct bz_opts o = bz_defaults();
	struct boot_info info;
	struct boot_params *zp;
	struct errbuf e;

	assert_int_equal(bz_load(&f->mem, &o, "", NULL, 0, &info, &e), 0);
	zp = zero_page(&f->mem);
	assert_int_equal(zp->e820_entries, 4);
	assert_int_equal(zp->e820_table[0].addr, 0);
	assert_int_equal(zp->e820_table[0].size, 0x9FC00);
	assert_int_equal(zp->e820_table[0].type, E820_RAM);
	assert_int_equal(zp->e820_table[1].addr, 0x9FC00);
	assert_int_equal(zp->e820_table[1].size, 0x100000 - 0x9FC00);
	assert_int_equal(zp->e820_table[1].type, E820_RESERVED);
	assert_int_equal(zp->e820_table[2].addr, 0x100000);
	assert_int_equal(zp->e820_table[2].size, 255 * MiB);
	assert_int_equal(zp->e820_table[2].type, E820_RAM);
	assert_int_equal(zp->e820_table[3].addr, LAYOUT_ECAM_BASE);
	assert_int_equal(zp->e820_table[3].type, E820_RESERVED);
	check_e820(&f->mem, zp);
	/* an empty cmdline is still a valid pointer to "" */
	assert_int_equal(*(char *)TEST_GPA(&f->mem, zp->hdr.cmd_line_ptr, 1), '\0');
}

static void test_e820_3g(void **state)
{
	struct bz_fixture *f = *state;
	struct bz_opts o = bz_defaults();
	uint8_t initrd[8192];
	struct boot_info info;
	struct boot_params *zp;
	struct errbuf e;
	unsigned n;
	uint64_t addr;

	for (size_t i = 0; i < sizeof(initrd); i++)
		initrd[i] = (uint8_t)(i ^ 0x5A);
	assert_int_equal(bz_load(&f->mem, &o, "x", initrd, sizeof(initrd), &info, &e), 0);
	zp = zero_page(&f->mem);
	check_e820(&f->mem, zp);
	n = zp->e820_entries;
	assert_int_equal(n, 5);
	assert_int_equal(zp->e820_table[2].addr, LAYOUT_HIMEM_START);
	assert_int_equal(zp->e820_table[2].size, LAYOUT_PCI_HOLE_START - LAYOUT_HIMEM_START);
	assert_int_equal(zp->e820_table[n - 1].addr, 1ull << 32);
	assert_int_equal(zp->e820_table[n - 1].size, (3ull << 30) - LAYOUT_PCI_HOLE_START);
	assert_int_equal(zp->e820_table[n - 1].type, E820_RAM);
	/* nothing claims RAM inside the PCI hole */
	for (unsigned i = 0; i < n; i++)
		if (zp->e820_table[i].type == E820_RAM)
			assert_true(zp->e820_table[i].addr + zp->e820_table[i].size <= LAYOUT_PCI_HOLE_START ||
				    zp->e820_table[i].addr >= (1ull << 32));

	/* the initrd stays below initrd_addr_max (2 GiB here), not at the top of RAM */
	addr = (uint64_t)zp->hdr.ramdisk_image | (uint64_t)zp->ext_ramdisk_image << 32;
	assert_int_equal(addr, info.initrd_addr);
	assert_int_equal(addr & 0xFFF, 0);
	assert_true(addr + sizeof(initrd) - 1 <= o.initrd_addr_max);
	assert_true(addr >= 0x7FFFFFFF - sizeof(initrd) - 4096);
	assert_memory_equal(TEST_GPA(&f->mem, addr, sizeof(initrd)), initrd, sizeof(initrd));
	check_page_tables(&f->mem);
}

/* Checks the placement rules for an initrd that was loaded. */
static void check_initrd(struct test_mem *mem, const struct boot_params *zp,
			 const struct boot_info *info, const uint8_t *initrd, size_t len,
			 uint32_t init_size, uint64_t max_addr)
{
	uint64_t addr = (uint64_t)zp->hdr.ramdisk_image | (uint64_t)zp->ext_ramdisk_image << 32;
	uint64_t size = (uint64_t)zp->hdr.ramdisk_size | (uint64_t)zp->ext_ramdisk_size << 32;

	assert_int_equal(addr, info->initrd_addr);
	assert_int_equal(size, len);
	assert_int_equal(addr & 0xFFF, 0);
	assert_true(addr >= RUN_START + init_size);
	assert_true(addr >= info->kernel_end);
	assert_true(addr + len - 1 <= max_addr);
	assert_true(addr + len <= gmem_low_size(&mem->m));
	assert_memory_equal(TEST_GPA(mem, addr, len), initrd, len);
}

static void test_initrd_placement(void **state)
{
	struct bz_fixture *f = *state;
	struct bz_opts o = bz_defaults();
	size_t len = 3 * MiB + 123;
	uint8_t *initrd = malloc(len);
	struct boot_info info;
	struct boot_params *zp;
	struct errbuf e;

	assert_non_null(initrd);
	for (size_t i = 0; i < len; i++)
		initrd[i] = (uint8_t)(i * 31 + 7);

	/* limited by RAM (256M < initrd_addr_max): ends at the top of RAM */
	assert_int_equal(bz_load(&f->mem, &o, "", initrd, len, &info, &e), 0);
	zp = zero_page(&f->mem);
	check_initrd(&f->mem, zp, &info, initrd, len, o.init_size, o.initrd_addr_max);
	assert_true(info.initrd_addr + len > 256 * MiB - 4096);

	/* limited by initrd_addr_max, which is not page aligned */
	o.initrd_addr_max = 0x0800FFFF;
	assert_int_equal(bz_load(&f->mem, &o, "", initrd, len, &info, &e), 0);
	zp = zero_page(&f->mem);
	check_initrd(&f->mem, zp, &info, initrd, len, o.init_size, o.initrd_addr_max);
	assert_true(info.initrd_addr + len > 0x08010000 - 4096);

	/* 0 means the protocol's default, 0x37FFFFFF; RAM is below that */
	o.initrd_addr_max = 0;
	assert_int_equal(bz_load(&f->mem, &o, "", initrd, len, &info, &e), 0);
	zp = zero_page(&f->mem);
	check_initrd(&f->mem, zp, &info, initrd, len, o.init_size, 0x37FFFFFF);

	/* a large init_size pushes the lower bound up; still fits */
	o = bz_defaults();
	o.init_size = 200 * MiB;
	assert_int_equal(bz_load(&f->mem, &o, "", initrd, len, &info, &e), 0);
	zp = zero_page(&f->mem);
	assert_int_equal(info.kernel_end, RUN_START + 200 * MiB);
	check_initrd(&f->mem, zp, &info, initrd, len, o.init_size, o.initrd_addr_max);
	free(initrd);
}

/* 64 MiB of RAM, kernel needs [2M, 18M): an initrd of exactly 46 MiB fits,
 * one byte more does not. */
static void test_initrd_exact_fit(void **state)
{
	struct bz_fixture *f = *state;
	struct bz_opts o = bz_defaults();
	size_t len = 46 * MiB;
	uint8_t *initrd = malloc(len + 1);
	struct boot_info info;
	struct errbuf e;

	assert_non_null(initrd);
	memset(initrd, 0xC3, len + 1);
	o.init_size = 16 * MiB;
	assert_int_equal(bz_load(&f->mem, &o, "", initrd, len, &info, &e), 0);
	assert_int_equal(info.initrd_addr, 18 * MiB);
	check_initrd(&f->mem, zero_page(&f->mem), &info, initrd, len, o.init_size, o.initrd_addr_max);

	assert_int_equal(bz_load(&f->mem, &o, "", initrd, len + 1, &info, &e), -ENOSPC);
	assert_non_null(strstr(e.msg, "initrd"));

	/* an initrd_addr_max below the kernel's end can never work */
	o.initrd_addr_max = 16 * MiB;
	assert_int_equal(bz_load(&f->mem, &o, "", initrd, 4096, &info, &e), -ENOSPC);
	free(initrd);
}

static void test_error_initrd_too_big(void **state)
{
	struct bz_fixture *f = *state;
	struct bz_opts o = bz_defaults();
	static uint8_t small[16];
	struct boot_info info;
	struct errbuf e;

	/* the loader must reject these lengths before it reads the data */
	assert_int_equal(bz_load(&f->mem, &o, "", small, 64 * MiB, &info, &e), -ENOSPC);
	assert_non_null(strstr(e.msg, "initrd"));
	assert_int_equal(bz_load(&f->mem, &o, "", small, 64 * MiB + 1, &info, &e), -ENOSPC);
	assert_int_equal(bz_load(&f->mem, &o, "", small, 1ull << 40, &info, &e), -ENOSPC);
	assert_int_equal(bz_load(&f->mem, &o, "", small, SIZE_MAX, &info, &e), -ENOSPC);
}

static void test_cmdline_limits(void **state)
{
	struct bz_fixture *f = *state;
	struct bz_opts o = bz_defaults();
	size_t big = LAYOUT_CMDLINE_MAX + 16;
	char *cmd = malloc(big + 1);
	struct boot_info info;
	struct errbuf e;

	assert_non_null(cmd);
	memset(cmd, 'a', big);

	/* cmdline_size excludes the NUL: exactly cmdline_size characters is fine */
	o.cmdline_size = 10;
	cmd[10] = '\0';
	assert_int_equal(bz_load(&f->mem, &o, cmd, NULL, 0, &info, &e), 0);
	assert_string_equal((char *)TEST_GPA(&f->mem, LAYOUT_CMDLINE, 11), cmd);
	cmd[10] = 'a';
	cmd[11] = '\0';
	assert_int_equal(bz_load(&f->mem, &o, cmd, NULL, 0, &info, &e), -E2BIG);
	assert_non_null(strstr(e.msg, "cmdline"));

	o.cmdline_size = 0;
	assert_int_equal(bz_load(&f->mem, &o, "", NULL, 0, &info, &e), 0);
	assert_int_equal(bz_load(&f->mem, &o, "x", NULL, 0, &info, &e), -E2BIG);

	/* the kernel accepts anything: vireo's own room is the limit */
	o.cmdline_size = 0xFFFFFFFF;
	memset(cmd, 'b', big);
	cmd[LAYOUT_CMDLINE_MAX - 1] = '\0';
	assert_int_equal(bz_load(&f->mem, &o, cmd, NULL, 0, &info, &e), 0);
	assert_int_equal(strlen((char *)TEST_GPA(&f->mem, LAYOUT_CMDLINE, LAYOUT_CMDLINE_MAX)),
			 LAYOUT_CMDLINE_MAX - 1);
	cmd[LAYOUT_CMDLINE_MAX - 1] = 'b';
	cmd[LAYOUT_CMDLINE_MAX] = '\0';
	assert_int_equal(bz_load(&f->mem, &o, cmd, NULL, 0, &info, &e), -E2BIG);
	cmd[big] = '\0';
	assert_int_equal(bz_load(&f->mem, &o, cmd, NULL, 0, &info, &e), -E2BIG);
	free(cmd);
}

static void test_old_protocols(void **state)
{
	struct bz_fixture *f = *state;
	struct bz_opts o = bz_defaults();
	struct boot_info info;
	struct errbuf e;

	/* 2.06: no init_size (whatever the bytes at 0x260 say), header ends at 0x23C */
	o.version = 0x0206;
	o.hdr_len = 0x3A;
	o.init_size = 0xFFFFFFFF;
	o.xloadflags = 0;
	assert_int_equal(bz_load(&f->mem, &o, "", NULL, 0, &info, &e), 0);
	assert_int_equal(info.kernel_end, LAYOUT_HIMEM_START + o.payload_len);
	assert_int_equal(zero_page(&f->mem)->hdr.version, 0x0206);
	/* the copied header stops where the file says it ends */
	assert_int_equal(zero_page(&f->mem)->hdr.init_size, 0);

	/* 2.11 predates xloadflags: it need not say XLF_KERNEL_64 */
	o = bz_defaults();
	o.version = 0x020B;
	o.xloadflags = 0;
	assert_int_equal(bz_load(&f->mem, &o, "", NULL, 0, &info, &e), 0);

	/* setup_sects 0 means 4 */
	o = bz_defaults();
	o.setup_sects = 0;
	assert_int_equal(bz_load(&f->mem, &o, "", NULL, 0, &info, &e), 0);
	assert_int_equal(*(uint8_t *)TEST_GPA(&f->mem, LAYOUT_HIMEM_START, 1), payload_byte(0));

	/* the largest setup (255 sectors) */
	o = bz_defaults();
	o.setup_sects = 255;
	assert_int_equal(bz_load(&f->mem, &o, "", NULL, 0, &info, &e), 0);
	assert_int_equal(*(uint8_t *)TEST_GPA(&f->mem, LAYOUT_HIMEM_START + 100, 1),
			 payload_byte(100));
}

static void test_error_truncated(void **state)
{
	struct bz_fixture *f = *state;
	struct bz_opts o = bz_defaults();
	struct boot_info info;
	struct errbuf e;

	/* no payload at all: the file ends where the setup ends */
	o.trim = o.payload_len;
	assert_int_equal(bz_load(&f->mem, &o, "", NULL, 0, &info, &e), -ENOEXEC);
	assert_non_null(strstr(e.msg, "truncated"));
	/* the file ends inside the setup sectors */
	o.trim = o.payload_len + 1;
	assert_int_equal(bz_load(&f->mem, &o, "", NULL, 0, &info, &e), -ENOEXEC);
	o.setup_sects = 60;
	o.trim = o.payload_len + 20 * 512;
	assert_int_equal(bz_load(&f->mem, &o, "", NULL, 0, &info, &e), -ENOEXEC);

	/* syssize says more than the file holds */
	o = bz_defaults();
	o.trim = 16;
	assert_int_equal(bz_load(&f->mem, &o, "", NULL, 0, &info, &e), -ENOEXEC);
	assert_non_null(strstr(e.msg, "syssize"));
	o = bz_defaults();
	o.syssize = o.payload_len / 16 + 1;
	assert_int_equal(bz_load(&f->mem, &o, "", NULL, 0, &info, &e), -ENOEXEC);
	o.syssize = 0xFFFFFFFF;  /* * 16 would overflow 32 bits */
	assert_int_equal(bz_load(&f->mem, &o, "", NULL, 0, &info, &e), -ENOEXEC);
	o.syssize = 0x10000000;  /* * 16 == 2^32: wraps to 0 in 32 bits */
	assert_int_equal(bz_load(&f->mem, &o, "", NULL, 0, &info, &e), -ENOEXEC);
	/* syssize exactly the payload is fine, and smaller too */
	o.syssize = o.payload_len / 16;
	assert_int_equal(bz_load(&f->mem, &o, "", NULL, 0, &info, &e), 0);
	o.syssize = 0;
	assert_int_equal(bz_load(&f->mem, &o, "", NULL, 0, &info, &e), 0);
}

/* Files that barely pass the magic check: every header field read must be
 * inside the file. Allocated to the exact length so ASan sees overreads. */
static void test_error_tiny_files(void **state)
{
	struct bz_fixture *f = *state;
	struct boot_info info;
	struct errbuf e;

	for (size_t len = 0x1FF; len <= 0x240; len++) {
		uint8_t *k = calloc(1, len);
		struct boot_image img = { .kernel = k, .kernel_len = len, .cmdline = "" };

		assert_non_null(k);
		if (len > 0x1FF) {
			k[0x1FE] = 0x55;
			k[0x1FF] = 0xAA;
		}
		if (len >= 0x206)
			memcpy(k + 0x202, "HdrS", 4);
		if (len >= 0x208) {
			k[0x206] = 0x0F;
			k[0x207] = 0x02;
		}
		if (len > 0x201)
			k[0x201] = 0x6A;
		if (len > 0x211)
			k[0x211] = LOADED_HIGH;
		assert_int_equal(boot_load(&f->mem.m, &img, &info, &e), -ENOEXEC);
		free(k);
	}
}

static void test_error_header_length(void **state)
{
	struct bz_fixture *f = *state;
	struct bz_opts o = bz_defaults();
	struct boot_info info;
	struct errbuf e;

	/* header claimed longer than the whole (short) file */
	{
		size_t len = 0x250;
		uint8_t *k = calloc(1, len);
		struct boot_image img = { .kernel = k, .kernel_len = len, .cmdline = "" };

		assert_non_null(k);
		k[0x1FE] = 0x55;
		k[0x1FF] = 0xAA;
		k[0x201] = 0xFF;
		memcpy(k + 0x202, "HdrS", 4);
		put16(k + 0x206, 0x020F);
		k[0x211] = LOADED_HIGH;
		assert_int_equal(boot_load(&f->mem.m, &img, &info, &e), -ENOEXEC);
		assert_non_null(strstr(e.msg, "header"));
		free(k);
	}
	/* header too short to hold cmdline_size (needed from 2.06) */
	o.hdr_len = 0x39;
	assert_int_equal(bz_load(&f->mem, &o, "", NULL, 0, &info, &e), -ENOEXEC);
	o.hdr_len = 0;
	assert_int_equal(bz_load(&f->mem, &o, "", NULL, 0, &info, &e), -ENOEXEC);
	/* the largest the byte can say is fine */
	o.hdr_len = 0xFF;
	assert_int_equal(bz_load(&f->mem, &o, "", NULL, 0, &info, &e), 0);
}

/* A 2.10+ header must be long enough to hold init_size (0x260..0x263); one
 * that ends before it is malformed, and the bytes after it are setup code. */
static void test_error_header_short_for_version(void **state)
{
	struct bz_fixture *f = *state;
	struct bz_opts o = bz_defaults();
	struct boot_info info;
	struct errbuf e;
	int ret;

	o.hdr_len = 0x3A;           /* header ends at 0x23C */
	o.init_size = 0xFFFFFFFF;   /* what the setup code happens to hold there */
	ret = bz_load(&f->mem, &o, "", NULL, 0, &info, &e);
	if (ret != -ENOEXEC && ret != 0)
		fail_msg("got %d (%s): want the header rejected or the stray init_size ignored",
			 ret, e.msg);
}

static void test_error_version_flags(void **state)
{
	struct bz_fixture *f = *state;
	struct bz_opts o;
	struct boot_info info;
	struct errbuf e;

	o = bz_defaults();
	o.version = 0x0205;
	assert_int_equal(bz_load(&f->mem, &o, "", NULL, 0, &info, &e), -ENOEXEC);
	assert_non_null(strstr(e.msg, "2.05"));
	o.version = 0x0100;
	assert_int_equal(bz_load(&f->mem, &o, "", NULL, 0, &info, &e), -ENOEXEC);
	o.version = 0;
	assert_int_equal(bz_load(&f->mem, &o, "", NULL, 0, &info, &e), -ENOEXEC);

	o = bz_defaults();
	o.loadflags = 0;
	assert_int_equal(bz_load(&f->mem, &o, "", NULL, 0, &info, &e), -ENOEXEC);
	assert_non_null(strstr(e.msg, "zImage"));

	o = bz_defaults();
	o.version = 0x020C;
	o.xloadflags = XLF_CAN_BE_LOADED_ABOVE_4G;
	assert_int_equal(bz_load(&f->mem, &o, "", NULL, 0, &info, &e), -ENOEXEC);
	assert_non_null(strstr(e.msg, "64-bit"));
	o.version = 0xFFFF;
	assert_int_equal(bz_load(&f->mem, &o, "", NULL, 0, &info, &e), -ENOEXEC);
	o.xloadflags = XLF_KERNEL_64;
	assert_int_equal(bz_load(&f->mem, &o, "", NULL, 0, &info, &e), 0);
}

static void test_error_init_size(void **state)
{
	struct bz_fixture *f = *state;
	struct bz_opts o = bz_defaults();
	struct boot_info info;
	struct errbuf e;

	/* 64 MiB of RAM: the kernel may need up to 62 MiB above 2 MiB */
	o.init_size = 62 * MiB;
	assert_int_equal(bz_load(&f->mem, &o, "", NULL, 0, &info, &e), 0);
	o.init_size = 62 * MiB + 1;
	assert_int_equal(bz_load(&f->mem, &o, "", NULL, 0, &info, &e), -ENOMEM);
	assert_non_null(strstr(e.msg, "memory"));
	o.init_size = 0xFFFFFFFF;
	assert_int_equal(bz_load(&f->mem, &o, "", NULL, 0, &info, &e), -ENOMEM);
	/* no room for an initrd above a kernel that fills RAM */
	o.init_size = 62 * MiB;
	assert_int_equal(bz_load(&f->mem, &o, "", (const uint8_t *)"x", 1, &info, &e), -ENOSPC);
}

/* pref_address above the aligned load address moves the runtime start up */
static void test_pref_address(void **state)
{
	struct bz_fixture *f = *state;
	struct bz_opts o = bz_defaults();
	struct boot_info info;
	struct errbuf e;

	o.pref_address = 16 * MiB;
	o.init_size = 8 * MiB;
	assert_int_equal(bz_load(&f->mem, &o, "", (const uint8_t *)"initrd", 6, &info, &e), 0);
	assert_int_equal(info.kernel_end, 24 * MiB);
	assert_true(info.initrd_addr >= 24 * MiB);
	/* a kernel that must run from 60 MiB with 8 MiB does not fit in 64 */
	o.pref_address = 60 * MiB;
	assert_int_equal(bz_load(&f->mem, &o, "", NULL, 0, &info, &e), -ENOMEM);
}

static void test_error_payload_bigger_than_ram(void **state)
{
	struct bz_fixture *f = *state;
	struct bz_opts o = bz_defaults();
	struct boot_info info;
	struct errbuf e;

	o.init_size = 0;
	o.payload_len = 64 * MiB;
	assert_int_equal(bz_load(&f->mem, &o, "", NULL, 0, &info, &e), -ENOMEM);
	o.payload_len = 63 * MiB;
	assert_int_equal(bz_load(&f->mem, &o, "", NULL, 0, &info, &e), 0);
	assert_int_equal(info.kernel_end, 64 * MiB);
}

static void test_error_garbage(void **state)
{
	struct bz_fixture *f = *state;
	uint64_t seed = 0xC0FFEE1234567ull;
	struct boot_info info;
	struct errbuf e;

	/* plain random bytes are neither format */
	for (int round = 0; round < 200; round++) {
		size_t len = rng_next(&seed) % 0x3000;
		uint8_t *k = malloc(len ? len : 1);
		struct boot_image img = { .kernel = k, .kernel_len = len, .cmdline = "" };

		assert_non_null(k);
		for (size_t i = 0; i < len; i++)
			k[i] = (uint8_t)rng_next(&seed);
		if (len > 0)
			k[0] = 0; /* not "\x7fELF" */
		if (len > 0x1FF)
			k[0x1FF] = 0; /* not the boot flag */
		assert_int_equal(boot_load(&f->mem.m, &img, &info, &e), -ENOEXEC);
		assert_non_null(strstr(e.msg, "neither"));
		free(k);
	}
	{
		struct boot_image img = { .kernel = (const uint8_t *)"", .kernel_len = 0, .cmdline = "" };

		assert_int_equal(boot_load(&f->mem.m, &img, &info, &e), -ENOEXEC);
	}
}

/* Random header fields behind valid magic: the loader may accept or reject,
 * but must never read outside the file or write outside RAM (ASan). */
static void test_hostile_random_headers(void **state)
{
	struct bz_fixture *f = *state;
	uint64_t seed = 0x0123456789ABCDEFull;
	struct boot_info info;
	struct errbuf e;
	unsigned ok = 0;

	for (int round = 0; round < 2000; round++) {
		struct bz_opts o = bz_defaults();
		size_t len;
		uint8_t *k;
		struct boot_image img;
		uint64_t r = rng_next(&seed);
		int ret;

		/* start from a good image and break a few fields */
		if (r & 1)
			o.version = (uint16_t)rng_next(&seed);
		if (r & 2)
			o.setup_sects = (uint8_t)rng_next(&seed);
		if (r & 4)
			o.hdr_len = (uint8_t)rng_next(&seed);
		if (r & 8)
			o.loadflags = (uint8_t)rng_next(&seed);
		if (r & 16)
			o.xloadflags = (uint16_t)rng_next(&seed);
		if (r & 32)
			o.cmdline_size = (uint32_t)rng_next(&seed) % 64;
		if (r & 64)
			o.initrd_addr_max = (uint32_t)rng_next(&seed);
		if (r & 128)
			o.init_size = (uint32_t)rng_next(&seed) >> (rng_next(&seed) % 32);
		if (r & 256)
			o.syssize = (uint32_t)rng_next(&seed) >> (rng_next(&seed) % 32);
		if (r & 512)
			o.payload_len = rng_next(&seed) % 0x40000;
		if (r & 1024)
			o.trim = rng_next(&seed) % (((size_t)o.setup_sects + 1) * 512 + o.payload_len + 1);
		k = bz_build(&o, &len);
		img = (struct boot_image){ .kernel = k, .kernel_len = len,
					   .initrd = (const uint8_t *)"initrd-bytes",
					   .initrd_len = 12, .cmdline = "console=ttyS0" };
		ret = boot_load(&f->mem.m, &img, &info, &e);
		if (ret == 0) {
			ok++;
			assert_int_equal(info.entry, 0x100200);
			assert_true(info.kernel_end <= f->mem.size);
			assert_true(info.initrd_addr >= info.kernel_end);
			assert_true(info.initrd_addr + 12 <= f->mem.size);
			assert_memory_equal(TEST_GPA(&f->mem, info.initrd_addr, 12), "initrd-bytes", 12);
		} else {
			assert_true(ret < 0);
			assert_true(strlen(e.msg) > 0);
		}
		free(k);
	}
	/* the mutations leave a good share of images loadable */
	assert_true(ok > 50);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_load_basic, setup_256m, teardown),
		cmocka_unit_test_setup_teardown(test_e820_256m, setup_256m, teardown),
		cmocka_unit_test_setup_teardown(test_e820_3g, setup_3g, teardown),
		cmocka_unit_test_setup_teardown(test_initrd_placement, setup_256m, teardown),
		cmocka_unit_test_setup_teardown(test_initrd_exact_fit, setup_64m, teardown),
		cmocka_unit_test_setup_teardown(test_error_initrd_too_big, setup_64m, teardown),
		cmocka_unit_test_setup_teardown(test_cmdline_limits, setup_64m, teardown),
		cmocka_unit_test_setup_teardown(test_old_protocols, setup_64m, teardown),
		cmocka_unit_test_setup_teardown(test_error_truncated, setup_64m, teardown),
		cmocka_unit_test_setup_teardown(test_error_header_length, setup_64m, teardown),
		cmocka_unit_test_setup_teardown(test_error_header_short_for_version, setup_64m,
						teardown),
		cmocka_unit_test_setup_teardown(test_error_version_flags, setup_64m, teardown),
		cmocka_unit_test_setup_teardown(test_error_init_size, setup_64m, teardown),
		cmocka_unit_test_setup_teardown(test_pref_address, setup_64m, teardown),
		cmocka_unit_test_setup_teardown(test_error_payload_bigger_than_ram, setup_64m,
						teardown),
		cmocka_unit_test_setup_teardown(test_error_garbage, setup_64m, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_random_headers, setup_64m, teardown),
		/* last: under ASan an overread here aborts the whole run */
		cmocka_unit_test_setup_teardown(test_error_tiny_files, setup_64m, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
