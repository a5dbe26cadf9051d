/* Unit tests for the PVH ELF loader: crafted ELF64 images with PT_LOAD and
 * PT_NOTE segments, loaded into fake guest RAM, and the segments and the
 * hvm_start_info read back; plus malformed and hostile headers. */
#include <elf.h>
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
#include "arch/x86/pvh.h"
#include "unit_mem.h"

#define MiB (1ull << 20)
#define MAX_PH 72
#define DATA_START 0x1000 /* file offset of the first segment's bytes */

/* An ELF under construction: tests edit eh/ph before elf_finish(). */
struct elf {
	Elf64_Ehdr eh;
	Elf64_Phdr ph[MAX_PH];
	unsigned nph;
	uint8_t *data;  /* file bytes from DATA_START on */
	size_t data_len;
};

static void elf_init(struct elf *b)
{
	memset(b, 0, sizeof(*b));
	memcpy(b->eh.e_ident, ELFMAG, SELFMAG);
	b->eh.e_ident[EI_CLASS] = ELFCLASS64;
	b->eh.e_ident[EI_DATA] = ELFDATA2LSB;
	b->eh.e_ident[EI_VERSION] = EV_CURRENT;
	b->eh.e_type = ET_EXEC;
	b->eh.e_machine = EM_X86_64;
	b->eh.e_version = EV_CURRENT;
	b->eh.e_phoff = sizeof(Elf64_Ehdr);
	b->eh.e_ehsize = sizeof(Elf64_Ehdr);
	b->eh.e_phentsize = sizeof(Elf64_Phdr);
}

static void elf_free(struct elf *b)
{
	free(b->data);
	b->data = NULL;
}

/* Appends bytes (16-byte aligned) and returns their file offset. */
static uint64_t elf_append(struct elf *b, const void *p, size_t len)
{
	size_t at = (b->data_len + 15) & ~(size_t)15;

	b->data = realloc(b->data, at + len + 1);
	assert_non_null(b->data);
	memset(b->data + b->data_len, 0, at - b->data_len);
	memcpy(b->data + at, p, len);
	b->data_len = at + len;
	return DATA_START + at;
}

static Elf64_Phdr *elf_add_load(struct elf *b, uint64_t paddr, const void *p, size_t filesz,
				uint64_t memsz)
{
	Elf64_Phdr *ph = &b->ph[b->nph++];

	assert_true(b->nph <= MAX_PH);
	*ph = (Elf64_Phdr){
		.p_type = PT_LOAD, .p_flags = PF_R | PF_X, .p_offset = elf_append(b, p, filesz),
		.p_vaddr = 0xffffffff80000000ull + paddr, .p_paddr = paddr,
		.p_filesz = filesz, .p_memsz = memsz, .p_align = 16,
	};
	return ph;
}

/* One note's bytes: header, name and desc each padded to 4. */
static size_t note_bytes(uint8_t *out, uint32_t type, const char *name, uint32_t namesz,
			 const void *desc, uint32_t descsz)
{
	Elf64_Nhdr nh = { .n_namesz = namesz, .n_descsz = descsz, .n_type = type };
	size_t n = 0;

	memcpy(out, &nh, sizeof(nh));
	n += sizeof(nh);
	memset(out + n, 0, (namesz + 3) & ~3u);
	memcpy(out + n, name, namesz);
	n += (namesz + 3) & ~3u;
	memset(out + n, 0, (descsz + 3) & ~3u);
	memcpy(out + n, desc, descsz);
	n += (descsz + 3) & ~3u;
	return n;
}

static Elf64_Phdr *elf_add_note_seg(struct elf *b, const void *notes, size_t len)
{
	Elf64_Phdr *ph = &b->ph[b->nph++];

	assert_true(b->nph <= MAX_PH);
	*ph = (Elf64_Phdr){ .p_type = PT_NOTE, .p_offset = elf_append(b, notes, len),
			    .p_filesz = len, .p_align = 4 };
	return ph;
}

static Elf64_Phdr *elf_add_pvh_note(struct elf *b, uint64_t entry, uint32_t descsz)
{
	uint8_t n[64];
	uint32_t e32 = (uint32_t)entry;

	return elf_add_note_seg(b, n, note_bytes(n, PVH_ELFNOTE_PHYS32_ENTRY, "Xen", 4,
						 descsz == 4 ? (const void *)&e32 : &entry, descsz));
}

/* The file, malloc'd at its exact length (ASan sees overreads). */
static uint8_t *elf_finish(struct elf *b, size_t *len)
{
	size_t n = DATA_START + b->data_len;
	uint8_t *k = calloc(1, n);

	assert_non_null(k);
	if (!b->eh.e_phnum)
		b->eh.e_phnum = b->nph;
	memcpy(k, &b->eh, sizeof(b->eh));
	assert_true(sizeof(Elf64_Ehdr) + b->nph * sizeof(Elf64_Phdr) <= DATA_START);
	memcpy(k + sizeof(Elf64_Ehdr), b->ph, b->nph * sizeof(Elf64_Phdr));
	if (b->data_len)
		memcpy(k + DATA_START, b->data, b->data_len);
	*len = n;
	return k;
}

#define SEG1_PADDR 0x100000ull
#define SEG1_FILESZ 0x2345
#define SEG1_MEMSZ 0x5000
#define SEG2_PADDR 0x200000ull
#define SEG2_FILESZ 0x1000
#define SEG2_MEMSZ 0x3000
#define ENTRY 0x100040ull

static uint8_t seg1[SEG1_FILESZ], seg2[SEG2_FILESZ];

/* The usual kernel: code at 1 MiB, data+bss at 2 MiB, one Xen entry note. */
static void elf_default(struct elf *b)
{
	elf_init(b);
	elf_add_load(b, SEG1_PADDR, seg1, SEG1_FILESZ, SEG1_MEMSZ);
	elf_add_pvh_note(b, ENTRY, 4);
	elf_add_load(b, SEG2_PADDR, seg2, SEG2_FILESZ, SEG2_MEMSZ);
}

static int load_elf(struct test_mem *mem, struct elf *b, const char *cmdline,
		    const uint8_t *initrd, size_t initrd_len, struct boot_info *info,
		    struct errbuf *e)
{
	size_t len;
	uint8_t *k = elf_finish(b, &len);
	struct boot_image img = { .kernel = k, .kernel_len = len, .initrd = initrd,
				  .initrd_len = initrd_len, .cmdline = cmdline };
	int ret;

	memset(e, 0, sizeof(*e));
	memset(info, 0xA5, sizeof(*info));
	ret = boot_load(&mem->m, &img, info, e);
	free(k);
	elf_free(b);
	return ret;
}

/* Expects the default image after `edit` to be refused with `err`. */
#define EXPECT_REFUSED(f, b, err, needle)                                              \
	do {                                                                            \
		struct boot_info i_;                                                    \
		struct errbuf e_;                                                       \
		int r_ = load_elf(&(f)->mem, (b), "", NULL, 0, &i_, &e_);               \
		if (r_ != (err) || !strstr(e_.msg, (needle)))                           \
			fail_msg("got %d '%s', wanted %d with '%s'", r_, e_.msg, (err), \
				 (needle));                                             \
	} while (0)

struct fixture {
	struct test_mem mem;
};

static int setup_mem(void **state, uint64_t size)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f || test_mem_init(&f->mem, size))
		return -1;
	for (size_t i = 0; i < sizeof(seg1); i++)
		seg1[i] = (uint8_t)(i * 13 + 1);
	for (size_t i = 0; i < sizeof(seg2); i++)
		seg2[i] = (uint8_t)(i * 29 + 3);
	*state = f;
	return 0;
}

static int setup_64m(void **state) { return setup_mem(state, 64 * MiB); }
static int setup_3g(void **state) { return setup_mem(state, 3ull << 30); }

static int teardown(void **state)
{
	struct fixture *f = *state;

	test_mem_free(&f->mem);
	free(f);
	return 0;
}

static struct pvh_start_info *start_info(struct test_mem *mem)
{
	return TEST_GPA(mem, LAYOUT_PVH_INFO, sizeof(struct pvh_start_info));
}

static void check_memmap(struct test_mem *mem, const struct pvh_start_info *si)
{
	struct boot_memmap_entry map[BOOT_MAX_MEMMAP];
	unsigned n = boot_memmap(&mem->m, map);
	struct pvh_memmap_entry *mm;
	uint64_t ram = 0;

	assert_int_equal(si->memmap_entries, n);
	assert_true(si->memmap_paddr != 0);
	mm = TEST_GPA(mem, si->memmap_paddr, n * sizeof(*mm));
	for (unsigned i = 0; i < n; i++) {
		assert_int_equal(mm[i].addr, map[i].addr);
		assert_int_equal(mm[i].size, map[i].size);
		assert_int_equal(mm[i].type, map[i].type);
		assert_int_equal(mm[i].reserved, 0);
		if (i > 0)
			assert_true(mm[i - 1].addr + mm[i - 1].size <= mm[i].addr);
		if (mm[i].type == E820_RAM) {
			assert_non_null(gmem_ptr(&mem->m, mm[i].addr, mm[i].size));
			ram += mm[i].size;
		}
	}
	assert_int_equal(ram, mem->size - (LAYOUT_HIMEM_START - LAYOUT_EBDA_START));
	/* the memmap must not overlap the start_info or the modlist */
	assert_true(si->memmap_paddr >= LAYOUT_PVH_INFO + sizeof(*si));
	assert_true(si->memmap_paddr >= LAYOUT_PVH_INFO + PVH_MODLIST_OFFSET +
					sizeof(struct pvh_modlist_entry));
}

static void test_load_basic(void **state)
{
	struct fixture *f = *state;
	const char *cmdline = "console=ttyS0 pvguest.run=all";
	struct boot_info info;
	struct errbuf e;
	struct elf b;
	struct pvh_start_info *si;
	uint8_t *p;

	/* dirty RAM, so bss zeroing is visible */
	memset(f->mem.buf + SEG1_PADDR, 0xEE, 2 * MiB);
	elf_default(&b);
	assert_int_equal(load_elf(&f->mem, &b, cmdline, NULL, 0, &info, &e), 0);
	assert_int_equal(info.mode, BOOT_PVH32);
	assert_int_equal(info.entry, ENTRY);
	assert_int_equal(info.handoff, LAYOUT_PVH_INFO);
	assert_int_equal(info.kernel_end, SEG2_PADDR + SEG2_MEMSZ);
	assert_int_equal(info.initrd_addr, 0);
	assert_string_equal(info.format, "PVH ELF");

	p = TEST_GPA(&f->mem, SEG1_PADDR, SEG1_MEMSZ);
	assert_memory_equal(p, seg1, SEG1_FILESZ);
	for (size_t i = SEG1_FILESZ; i < SEG1_MEMSZ; i++)
		if (p[i])
			fail_msg("bss byte %#zx of segment 1 is %#x", i, p[i]);
	assert_int_equal(p[SEG1_MEMSZ], 0xEE); /* nothing past memsz */
	p = TEST_GPA(&f->mem, SEG2_PADDR, SEG2_MEMSZ);
	assert_memory_equal(p, seg2, SEG2_FILESZ);
	for (size_t i = SEG2_FILESZ; i < SEG2_MEMSZ; i++)
		if (p[i])
			fail_msg("bss byte %#zx of segment 2 is %#x", i, p[i]);
	assert_int_equal(p[SEG2_MEMSZ], 0xEE);
	/* the gap between the segments is untouched */
	assert_int_equal(*(uint8_t *)TEST_GPA(&f->mem, SEG1_PADDR + SEG1_MEMSZ + 100, 1), 0xEE);

	si = start_info(&f->mem);
	assert_int_equal(si->magic, 0x336ec578);
	assert_int_equal(si->version, 1);
	assert_int_equal(si->flags, 0);
	assert_int_equal(si->nr_modules, 0);
	assert_int_equal(si->modlist_paddr, 0);
	assert_int_equal(si->rsdp_paddr, 0);
	assert_true(si->cmdline_paddr != 0);
	assert_string_equal((char *)TEST_GPA(&f->mem, si->cmdline_paddr, strlen(cmdline) + 1),
			    cmdline);
	check_memmap(&f->mem, si);

	/* the boot GDT has the flat 32-bit code segment PVH entry needs */
	{
		uint64_t cs = ((uint64_t *)TEST_GPA(&f->mem, LAYOUT_BOOT_GDT, 32))[LAYOUT_SEL_CS32 / 8];
		uint64_t ds = ((uint64_t *)TEST_GPA(&f->mem, LAYOUT_BOOT_GDT, 32))[LAYOUT_SEL_DS / 8];

		assert_int_equal((cs >> 40) & 0x9A, 0x9A);
		assert_true(cs & (1ull << 54));
		assert_false(cs & (1ull << 53));
		assert_int_equal((ds >> 40) & 0x9A, 0x92);
	}
}

static void test_memmap_64m(void **state)
{
	struct fixture *f = *state;
	struct boot_info info;
	struct errbuf e;
	struct elf b;
	struct pvh_memmap_entry *mm;
	struct pvh_start_info *si;

	elf_default(&b);
	assert_int_equal(load_elf(&f->mem, &b, "", NULL, 0, &info, &e), 0);
	si = start_info(&f->mem);
	mm = TEST_GPA(&f->mem, si->memmap_paddr, si->memmap_entries * sizeof(*mm));
	assert_int_equal(si->memmap_entries, 4);
	assert_int_equal(mm[0].addr, 0);
	assert_int_equal(mm[0].size, 0x9FC00);
	assert_int_equal(mm[0].type, E820_RAM);
	assert_int_equal(mm[1].addr, 0x9FC00);
	assert_int_equal(mm[1].type, E820_RESERVED);
	assert_int_equal(mm[2].addr, 1 * MiB);
	assert_int_equal(mm[2].size, 63 * MiB);
	assert_int_equal(mm[2].type, E820_RAM);
	assert_int_equal(*(char *)TEST_GPA(&f->mem, si->cmdline_paddr, 1), '\0');
}

static void check_module(struct test_mem *mem, const struct pvh_start_info *si,
			 const struct boot_info *info, const uint8_t *initrd, size_t len)
{
	const struct pvh_modlist_entry *mod;

	assert_int_equal(si->nr_modules, 1);
	mod = TEST_GPA(mem, si->modlist_paddr, sizeof(*mod));
	assert_int_equal(mod->paddr, info->initrd_addr);
	assert_int_equal(mod->size, len);
	assert_int_equal(mod->paddr & 0xFFF, 0);
	assert_true(mod->paddr >= info->kernel_end);
	assert_true(mod->paddr + len <= gmem_low_size(&mem->m));
	assert_true(mod->paddr + len - 1 <= 0xFFFFFFFFull);
	assert_memory_equal(TEST_GPA(mem, mod->paddr, len), initrd, len);
	/* the module does not overlap the start_info page */
	assert_true(si->modlist_paddr >= LAYOUT_PVH_INFO + sizeof(*si));
}

static void test_initrd_module(void **state)
{
	struct fixture *f = *state;
	size_t len = 5 * MiB + 17;
	uint8_t *initrd = malloc(len);
	struct boot_info info;
	struct errbuf e;
	struct elf b;

	assert_non_null(initrd);
	for (size_t i = 0; i < len; i++)
		initrd[i] = (uint8_t)(i * 7 + (i >> 12));
	elf_default(&b);
	assert_int_equal(load_elf(&f->mem, &b, "rdinit=/init", initrd, len, &info, &e), 0);
	check_module(&f->mem, start_info(&f->mem), &info, initrd, len);
	/* highest place in RAM */
	assert_true(info.initrd_addr + len > 64 * MiB - 4096);
	/* the kernel is intact after the initrd was copied */
	assert_memory_equal(TEST_GPA(&f->mem, SEG1_PADDR, SEG1_FILESZ), seg1, SEG1_FILESZ);
	free(initrd);
}

static void test_initrd_3g(void **state)
{
	struct fixture *f = *state;
	uint8_t initrd[12345];
	struct boot_info info;
	struct errbuf e;
	struct elf b;
	struct pvh_start_info *si;

	for (size_t i = 0; i < sizeof(initrd); i++)
		initrd[i] = (uint8_t)(i ^ 0xA5);
	elf_default(&b);
	assert_int_equal(load_elf(&f->mem, &b, "x", initrd, sizeof(initrd), &info, &e), 0);
	si = start_info(&f->mem);
	check_memmap(&f->mem, si);
	assert_int_equal(si->memmap_entries, 5);
	check_module(&f->mem, si, &info, initrd, sizeof(initrd));
	/* below the PCI hole, at the top of low RAM */
	assert_true(info.initrd_addr + sizeof(initrd) <= LAYOUT_PCI_HOLE_START);
	assert_true(info.initrd_addr + sizeof(initrd) > LAYOUT_PCI_HOLE_START - 4096);
}

static void test_note_8byte_and_neighbours(void **state)
{
	struct fixture *f = *state;
	struct boot_info info;
	struct errbuf e;
	struct elf b;
	uint8_t notes[256];
	size_t n = 0;
	uint64_t entry = SEG2_PADDR + 0x10;
	uint32_t other = 0x1234;

	/* other notes first: a GNU build-id, a Xen note of another type, a
	 * "Xen" look-alike with a different name size */
	elf_init(&b);
	elf_add_load(&b, SEG1_PADDR, seg1, SEG1_FILESZ, SEG1_MEMSZ);
	n += note_bytes(notes + n, 3, "GNU", 4, "0123456789abcdefghij", 20);
	n += note_bytes(notes + n, 1, "Xen", 4, &other, 4);
	n += note_bytes(notes + n, PVH_ELFNOTE_PHYS32_ENTRY, "Xen\0\0", 5, &other, 4);
	n += note_bytes(notes + n, PVH_ELFNOTE_PHYS32_ENTRY, "Xen", 4, &entry, 8);
	elf_add_note_seg(&b, notes, n);
	elf_add_load(&b, SEG2_PADDR, seg2, SEG2_FILESZ, SEG2_MEMSZ);
	assert_int_equal(load_elf(&f->mem, &b, "", NULL, 0, &info, &e), 0);
	assert_int_equal(info.entry, entry);

	/* the note in a second PT_NOTE segment, after one without it */
	elf_init(&b);
	n = note_bytes(notes, 3, "GNU", 4, "abcd", 4);
	elf_add_note_seg(&b, notes, n);
	elf_add_load(&b, SEG1_PADDR, seg1, SEG1_FILESZ, SEG1_MEMSZ);
	elf_add_pvh_note(&b, SEG1_PADDR, 4);
	assert_int_equal(load_elf(&f->mem, &b, "", NULL, 0, &info, &e), 0);
	assert_int_equal(info.entry, SEG1_PADDR);

	/* segment types other than LOAD and NOTE are skipped, whatever they hold */
	elf_default(&b);
	b.ph[b.nph++] = (Elf64_Phdr){ .p_type = PT_GNU_STACK, .p_offset = UINT64_MAX,
				      .p_filesz = UINT64_MAX, .p_paddr = 0, .p_memsz = UINT64_MAX };
	b.ph[b.nph++] = (Elf64_Phdr){ .p_type = PT_DYNAMIC, .p_offset = 1ull << 40 };
	assert_int_equal(load_elf(&f->mem, &b, "", NULL, 0, &info, &e), 0);

	/* a PT_LOAD with memsz 0 loads nothing and is not checked for placement */
	elf_default(&b);
	elf_add_load(&b, 0x1000, seg1, 16, 0);
	assert_int_equal(load_elf(&f->mem, &b, "", NULL, 0, &info, &e), 0);
}

static void test_entry_bounds(void **state)
{
	struct fixture *f = *state;
	struct boot_info info;
	struct errbuf e;
	struct elf b;

	/* first and last byte of the image are fine */
	elf_init(&b);
	elf_add_load(&b, SEG1_PADDR, seg1, SEG1_FILESZ, SEG1_MEMSZ);
	elf_add_pvh_note(&b, SEG1_PADDR, 4);
	assert_int_equal(load_elf(&f->mem, &b, "", NULL, 0, &info, &e), 0);
	elf_init(&b);
	elf_add_load(&b, SEG1_PADDR, seg1, SEG1_FILESZ, SEG1_MEMSZ);
	elf_add_pvh_note(&b, SEG1_PADDR + SEG1_MEMSZ - 1, 4);
	assert_int_equal(load_elf(&f->mem, &b, "", NULL, 0, &info, &e), 0);

	elf_init(&b);
	elf_add_load(&b, SEG1_PADDR, seg1, SEG1_FILESZ, SEG1_MEMSZ);
	elf_add_pvh_note(&b, SEG1_PADDR + SEG1_MEMSZ, 4);
	EXPECT_REFUSED(f, &b, -ENOEXEC, "outside the loaded image");
	elf_init(&b);
	elf_add_load(&b, SEG1_PADDR, seg1, SEG1_FILESZ, SEG1_MEMSZ);
	elf_add_pvh_note(&b, SEG1_PADDR - 1, 4);
	EXPECT_REFUSED(f, &b, -ENOEXEC, "outside the loaded image");
	elf_init(&b);
	elf_add_load(&b, SEG1_PADDR, seg1, SEG1_FILESZ, SEG1_MEMSZ);
	elf_add_pvh_note(&b, 0, 4);
	EXPECT_REFUSED(f, &b, -ENOEXEC, "outside the loaded image");
	elf_init(&b);
	elf_add_load(&b, SEG1_PADDR, seg1, SEG1_FILESZ, SEG1_MEMSZ);
	elf_add_pvh_note(&b, UINT64_MAX, 8);
	EXPECT_REFUSED(f, &b, -ENOEXEC, "outside the loaded image");
	/* the 32-bit truncation of a 64-bit entry must not sneak into the image */
	elf_init(&b);
	elf_add_load(&b, SEG1_PADDR, seg1, SEG1_FILESZ, SEG1_MEMSZ);
	elf_add_pvh_note(&b, (1ull << 32) + SEG1_PADDR, 8);
	EXPECT_REFUSED(f, &b, -ENOEXEC, "outside the loaded image");
}

/* Between two segments nothing was loaded: the entry must be inside one. */
static void test_entry_in_gap(void **state)
{
	struct fixture *f = *state;
	struct elf b;

	elf_init(&b);
	elf_add_load(&b, SEG1_PADDR, seg1, SEG1_FILESZ, SEG1_MEMSZ);
	elf_add_load(&b, SEG2_PADDR, seg2, SEG2_FILESZ, SEG2_MEMSZ);
	elf_add_pvh_note(&b, SEG1_PADDR + SEG1_MEMSZ + 0x1000, 4);
	EXPECT_REFUSED(f, &b, -ENOEXEC, "outside the loaded image");
}

/* With RAM above 4 GiB, a segment there loads but cannot hold the 32-bit entry. */
static void test_entry_above_4g(void **state)
{
	struct fixture *f = *state;
	struct boot_info info;
	struct errbuf e;
	struct elf b;

	elf_init(&b);
	elf_add_load(&b, SEG1_PADDR, seg1, SEG1_FILESZ, SEG1_MEMSZ);
	elf_add_load(&b, 1ull << 32, seg2, SEG2_FILESZ, SEG2_MEMSZ);
	elf_add_pvh_note(&b, (1ull << 32) + 0x10, 8);
	EXPECT_REFUSED(f, &b, -ENOEXEC, "outside the loaded image");

	/* same image, entry in low memory: loads, but no initrd can go above it */
	elf_init(&b);
	elf_add_load(&b, SEG1_PADDR, seg1, SEG1_FILESZ, SEG1_MEMSZ);
	elf_add_load(&b, 1ull << 32, seg2, SEG2_FILESZ, SEG2_MEMSZ);
	elf_add_pvh_note(&b, SEG1_PADDR, 4);
	assert_int_equal(load_elf(&f->mem, &b, "", NULL, 0, &info, &e), 0);
	assert_memory_equal(TEST_GPA(&f->mem, 1ull << 32, SEG2_FILESZ), seg2, SEG2_FILESZ);

	/* a segment in the PCI hole is outside RAM */
	elf_init(&b);
	elf_add_load(&b, SEG1_PADDR, seg1, SEG1_FILESZ, SEG1_MEMSZ);
	elf_add_load(&b, LAYOUT_PCI_HOLE_START - 0x1000, seg2, SEG2_FILESZ, SEG2_MEMSZ);
	elf_add_pvh_note(&b, SEG1_PADDR, 4);
	EXPECT_REFUSED(f, &b, -ENOMEM, "outside guest RAM");
}

static void test_error_no_note(void **state)
{
	struct fixture *f = *state;
	struct elf b;
	uint8_t notes[64];
	uint32_t v = ENTRY;

	elf_init(&b);
	elf_add_load(&b, SEG1_PADDR, seg1, SEG1_FILESZ, SEG1_MEMSZ);
	EXPECT_REFUSED(f, &b, -ENOEXEC, "PVH entry note");

	/* notes that are close but not it */
	elf_init(&b);
	elf_add_load(&b, SEG1_PADDR, seg1, SEG1_FILESZ, SEG1_MEMSZ);
	elf_add_note_seg(&b, notes, note_bytes(notes, PVH_ELFNOTE_PHYS32_ENTRY, "Xe", 3, &v, 4));
	elf_add_note_seg(&b, notes, note_bytes(notes, PVH_ELFNOTE_PHYS32_ENTRY, "XEN", 4, &v, 4));
	elf_add_note_seg(&b, notes, note_bytes(notes, 17, "Xen", 4, &v, 4));
	elf_add_note_seg(&b, notes, note_bytes(notes, PVH_ELFNOTE_PHYS32_ENTRY, "Linux", 6, &v, 4));
	EXPECT_REFUSED(f, &b, -ENOEXEC, "PVH entry note");

	/* a note header cut short by the segment end: no note, no overread */
	elf_init(&b);
	elf_add_load(&b, SEG1_PADDR, seg1, SEG1_FILESZ, SEG1_MEMSZ);
	elf_add_note_seg(&b, notes, note_bytes(notes, PVH_ELFNOTE_PHYS32_ENTRY, "Xen", 4, &v, 4))
		->p_filesz = sizeof(Elf64_Nhdr) - 1;
	EXPECT_REFUSED(f, &b, -ENOEXEC, "PVH entry note");

	/* an empty PT_NOTE */
	elf_init(&b);
	elf_add_load(&b, SEG1_PADDR, seg1, SEG1_FILESZ, SEG1_MEMSZ);
	elf_add_note_seg(&b, notes, 0);
	EXPECT_REFUSED(f, &b, -ENOEXEC, "PVH entry note");

	/* no PT_LOAD at all */
	elf_init(&b);
	elf_add_pvh_note(&b, ENTRY, 4);
	EXPECT_REFUSED(f, &b, -ENOEXEC, "no loadable segment");
}

static void test_error_bad_note(void **state)
{
	struct fixture *f = *state;
	struct elf b;
	uint8_t notes[128];
	uint64_t v = ENTRY;
	static const uint32_t bad_desc[] = { 0, 1, 2, 3, 5, 7, 12, 16 };

	/* the entry note must have a 4- or 8-byte desc */
	for (size_t i = 0; i < sizeof(bad_desc) / sizeof(bad_desc[0]); i++) {
		uint8_t desc[16] = { 0x40, 0, 0x10, 0 };

		elf_init(&b);
		elf_add_load(&b, SEG1_PADDR, seg1, SEG1_FILESZ, SEG1_MEMSZ);
		elf_add_note_seg(&b, notes, note_bytes(notes, PVH_ELFNOTE_PHYS32_ENTRY, "Xen", 4,
						       desc, bad_desc[i]));
		EXPECT_REFUSED(f, &b, -ENOEXEC, "note segment");
	}

	/* desc runs past the segment (and the file) */
	elf_init(&b);
	elf_add_load(&b, SEG1_PADDR, seg1, SEG1_FILESZ, SEG1_MEMSZ);
	elf_add_note_seg(&b, notes, note_bytes(notes, PVH_ELFNOTE_PHYS32_ENTRY, "Xen", 4, &v, 8))
		->p_filesz -= 4;
	EXPECT_REFUSED(f, &b, -ENOEXEC, "note segment");

	/* name runs past the segment */
	elf_init(&b);
	elf_add_load(&b, SEG1_PADDR, seg1, SEG1_FILESZ, SEG1_MEMSZ);
	elf_add_note_seg(&b, notes, note_bytes(notes, PVH_ELFNOTE_PHYS32_ENTRY, "Xen", 4, &v, 4))
		->p_filesz = sizeof(Elf64_Nhdr) + 2;
	EXPECT_REFUSED(f, &b, -ENOEXEC, "note segment");

	/* huge sizes that would wrap a 32-bit sum */
	{
		Elf64_Nhdr nh[2] = { { .n_namesz = 0xFFFFFFFF, .n_descsz = 4,
				       .n_type = PVH_ELFNOTE_PHYS32_ENTRY },
				     { 0, 0, 0 } };

		elf_init(&b);
		elf_add_load(&b, SEG1_PADDR, seg1, SEG1_FILESZ, SEG1_MEMSZ);
		elf_add_note_seg(&b, nh, sizeof(nh));
		EXPECT_REFUSED(f, &b, -ENOEXEC, "note segment");

		nh[0] = (Elf64_Nhdr){ .n_namesz = 4, .n_descsz = 0xFFFFFFFD, .n_type = 1 };
		elf_init(&b);
		elf_add_load(&b, SEG1_PADDR, seg1, SEG1_FILESZ, SEG1_MEMSZ);
		elf_add_note_seg(&b, nh, sizeof(nh));
		EXPECT_REFUSED(f, &b, -ENOEXEC, "note segment");
	}

	/* a malformed note before a good one in the same segment */
	{
		size_t n;

		elf_init(&b);
		elf_add_load(&b, SEG1_PADDR, seg1, SEG1_FILESZ, SEG1_MEMSZ);
		n = note_bytes(notes, 1, "Xen", 4, &v, 4);
		((Elf64_Nhdr *)notes)->n_descsz = 0x1000;
		n += note_bytes(notes + n, PVH_ELFNOTE_PHYS32_ENTRY, "Xen", 4, &v, 8);
		elf_add_note_seg(&b, notes, n);
		EXPECT_REFUSED(f, &b, -ENOEXEC, "note segment");
	}

	/* the note segment itself lies past the end of the file */
	elf_init(&b);
	elf_add_load(&b, SEG1_PADDR, seg1, SEG1_FILESZ, SEG1_MEMSZ);
	elf_add_pvh_note(&b, ENTRY, 4)->p_filesz = 1 << 20;
	EXPECT_REFUSED(f, &b, -ENOEXEC, "past the end");
	elf_init(&b);
	elf_add_load(&b, SEG1_PADDR, seg1, SEG1_FILESZ, SEG1_MEMSZ);
	elf_add_pvh_note(&b, ENTRY, 4)->p_offset = UINT64_MAX - 4;
	EXPECT_REFUSED(f, &b, -ENOEXEC, "past the end");
}

static void test_error_elf_header(void **state)
{
	struct fixture *f = *state;
	struct elf b;

	elf_default(&b);
	b.eh.e_ident[EI_CLASS] = ELFCLASS32;
	EXPECT_REFUSED(f, &b, -ENOEXEC, "ELF64");
	elf_default(&b);
	b.eh.e_ident[EI_CLASS] = ELFCLASSNONE;
	EXPECT_REFUSED(f, &b, -ENOEXEC, "ELF64");
	elf_default(&b);
	b.eh.e_ident[EI_DATA] = ELFDATA2MSB;
	EXPECT_REFUSED(f, &b, -ENOEXEC, "little-endian");
	elf_default(&b);
	b.eh.e_machine = EM_386;
	EXPECT_REFUSED(f, &b, -ENOEXEC, "x86-64");
	elf_default(&b);
	b.eh.e_machine = EM_AARCH64;
	EXPECT_REFUSED(f, &b, -ENOEXEC, "x86-64");
	elf_default(&b);
	b.eh.e_type = ET_DYN;
	EXPECT_REFUSED(f, &b, -ENOEXEC, "not an executable");
	elf_default(&b);
	b.eh.e_type = ET_REL;
	EXPECT_REFUSED(f, &b, -ENOEXEC, "not an executable");
	elf_default(&b);
	b.eh.e_type = ET_CORE;
	EXPECT_REFUSED(f, &b, -ENOEXEC, "not an executable");
}

static void test_error_program_headers(void **state)
{
	struct fixture *f = *state;
	struct elf b;

	elf_default(&b);
	b.eh.e_phentsize = sizeof(Elf64_Phdr) - 1;
	EXPECT_REFUSED(f, &b, -ENOEXEC, "program header");
	elf_default(&b);
	b.eh.e_phentsize = 32; /* an ELF32 phdr size */
	EXPECT_REFUSED(f, &b, -ENOEXEC, "program header");
	elf_default(&b);
	b.eh.e_phnum = 0xFFFF; /* PN_XNUM */
	EXPECT_REFUSED(f, &b, -ENOEXEC, "program header");
	elf_default(&b);
	b.nph = 0;
	b.eh.e_phnum = 0;
	elf_add_pvh_note(&b, ENTRY, 4);
	b.nph = 0; /* e_phnum stays 0 */
	EXPECT_REFUSED(f, &b, -ENOEXEC, "program header");

	/* the table runs past the end of the file */
	elf_default(&b);
	b.eh.e_phoff = 1ull << 32;
	EXPECT_REFUSED(f, &b, -ENOEXEC, "past the end");
	elf_default(&b);
	b.eh.e_phoff = UINT64_MAX - 8;
	EXPECT_REFUSED(f, &b, -ENOEXEC, "past the end");
	elf_default(&b);
	b.eh.e_phoff = UINT64_MAX;
	EXPECT_REFUSED(f, &b, -ENOEXEC, "past the end");
	{
		size_t len;
		uint8_t *k;

		elf_default(&b);
		k = elf_finish(&b, &len);
		free(k);
		elf_free(&b);
		elf_default(&b);
		b.eh.e_phoff = len - 3 * sizeof(Elf64_Phdr) + 1;
		EXPECT_REFUSED(f, &b, -ENOEXEC, "past the end");
		/* more entries than the file holds: phnum 64 from offset 64 */
		elf_default(&b);
		b.eh.e_phoff = len - 63 * sizeof(Elf64_Phdr);
		b.eh.e_phnum = 64;
		EXPECT_REFUSED(f, &b, -ENOEXEC, "past the end");
	}
}

/* The most program headers allowed: 64 segments, all loaded. */
static void test_many_segments(void **state)
{
	struct fixture *f = *state;
	struct boot_info info;
	struct errbuf e;
	struct elf b;
	uint8_t chunk[256];

	elf_init(&b);
	elf_add_pvh_note(&b, SEG1_PADDR, 4);
	for (unsigned i = 0; i < 63; i++) {
		memset(chunk, i + 1, sizeof(chunk));
		elf_add_load(&b, SEG1_PADDR + i * 0x1000ull, chunk, sizeof(chunk), 0x1000);
	}
	assert_int_equal(load_elf(&f->mem, &b, "", NULL, 0, &info, &e), 0);
	for (unsigned i = 0; i < 63; i++) {
		uint8_t *p = TEST_GPA(&f->mem, SEG1_PADDR + i * 0x1000ull, 0x1000);

		assert_int_equal(p[0], i + 1);
		assert_int_equal(p[255], i + 1);
		assert_int_equal(p[256], 0);
	}
	assert_int_equal(info.kernel_end, SEG1_PADDR + 63 * 0x1000ull);

	elf_init(&b);
	elf_add_pvh_note(&b, SEG1_PADDR, 4);
	for (unsigned i = 0; i < 64; i++)
		elf_add_load(&b, SEG1_PADDR + i * 0x1000ull, chunk, 16, 0x1000);
	EXPECT_REFUSED(f, &b, -ENOEXEC, "program header");
}

static void test_error_segment_file_range(void **state)
{
	struct fixture *f = *state;
	struct elf b;
	size_t len;
	uint8_t *k;

	elf_default(&b);
	k = elf_finish(&b, &len);
	free(k);
	elf_free(&b);

	/* offset + filesz one past the end */
	elf_default(&b);
	b.ph[2].p_filesz = len - b.ph[2].p_offset + 1;
	b.ph[2].p_memsz = b.ph[2].p_filesz;
	EXPECT_REFUSED(f, &b, -ENOEXEC, "past the end");
	/* offset past the end */
	elf_default(&b);
	b.ph[0].p_offset = len + 1;
	EXPECT_REFUSED(f, &b, -ENOEXEC, "past the end");
	/* offset + filesz overflows to a small number */
	elf_default(&b);
	b.ph[0].p_offset = 16;
	b.ph[0].p_filesz = UINT64_MAX - 8;
	b.ph[0].p_memsz = UINT64_MAX;
	EXPECT_REFUSED(f, &b, -ENOEXEC, "past the end");
	elf_default(&b);
	b.ph[0].p_offset = UINT64_MAX;
	b.ph[0].p_filesz = 2;
	EXPECT_REFUSED(f, &b, -ENOEXEC, "past the end");
	/* a segment ending exactly at the end of the file is fine */
	{
		struct boot_info info;
		struct errbuf e;

		elf_default(&b);
		b.ph[2].p_filesz = len - b.ph[2].p_offset;
		b.ph[2].p_memsz = b.ph[2].p_filesz + 0x1000;
		assert_int_equal(load_elf(&f->mem, &b, "", NULL, 0, &info, &e), 0);
	}
}

static void test_error_segment_placement(void **state)
{
	struct fixture *f = *state;
	struct elf b;

	/* filesz > memsz */
	elf_default(&b);
	b.ph[0].p_memsz = b.ph[0].p_filesz - 1;
	EXPECT_REFUSED(f, &b, -ENOEXEC, "filesz > memsz");
	/* below 1 MiB: would overwrite the boot structures */
	elf_default(&b);
	b.ph[0].p_paddr = 0xFFFFF;
	EXPECT_REFUSED(f, &b, -ENOEXEC, "below 1 MiB");
	elf_default(&b);
	b.ph[0].p_paddr = LAYOUT_ZERO_PAGE;
	EXPECT_REFUSED(f, &b, -ENOEXEC, "below 1 MiB");
	elf_default(&b);
	b.ph[0].p_paddr = 0;
	EXPECT_REFUSED(f, &b, -ENOEXEC, "below 1 MiB");
	/* outside RAM: past the end, straddling the end, wrapping */
	elf_default(&b);
	b.ph[2].p_paddr = 64 * MiB;
	EXPECT_REFUSED(f, &b, -ENOMEM, "outside guest RAM");
	elf_default(&b);
	b.ph[2].p_paddr = 64 * MiB - 0x1000;
	EXPECT_REFUSED(f, &b, -ENOMEM, "outside guest RAM");
	elf_default(&b);
	b.ph[2].p_paddr = UINT64_MAX - 0x100;
	EXPECT_REFUSED(f, &b, -ENOMEM, "outside guest RAM");
	elf_default(&b);
	b.ph[2].p_memsz = UINT64_MAX;
	EXPECT_REFUSED(f, &b, -ENOMEM, "outside guest RAM");
	elf_default(&b);
	b.ph[2].p_memsz = UINT64_MAX - SEG2_PADDR + 2; /* paddr + memsz wraps to 1 */
	EXPECT_REFUSED(f, &b, -ENOMEM, "outside guest RAM");
	/* a segment filling RAM to the last byte is fine */
	{
		struct boot_info info;
		struct errbuf e;

		elf_default(&b);
		b.ph[2].p_memsz = 64 * MiB - SEG2_PADDR;
		assert_int_equal(load_elf(&f->mem, &b, "", NULL, 0, &info, &e), 0);
		assert_int_equal(info.kernel_end, 64 * MiB);
	}
}

static void test_cmdline_limit(void **state)
{
	struct fixture *f = *state;
	char *cmd = malloc(4096);
	struct boot_info info;
	struct errbuf e;
	struct elf b;

	assert_non_null(cmd);
	memset(cmd, 'c', 4096);
	cmd[2047] = '\0';
	elf_default(&b);
	assert_int_equal(load_elf(&f->mem, &b, cmd, NULL, 0, &info, &e), 0);
	assert_string_equal((char *)TEST_GPA(&f->mem, start_info(&f->mem)->cmdline_paddr, 2048),
			    cmd);
	cmd[2047] = 'c';
	cmd[2048] = '\0';
	elf_default(&b);
	assert_int_equal(load_elf(&f->mem, &b, cmd, NULL, 0, &info, &e), -E2BIG);
	assert_non_null(strstr(e.msg, "2047"));
	cmd[4095] = '\0';
	elf_default(&b);
	assert_int_equal(load_elf(&f->mem, &b, cmd, NULL, 0, &info, &e), -E2BIG);
	free(cmd);
}

static void test_error_initrd_too_big(void **state)
{
	struct fixture *f = *state;
	static const uint8_t small[16];
	struct boot_info info;
	struct errbuf e;
	struct elf b;
	/* kernel ends at 0x203000; RAM at 64 MiB */
	size_t room = 64 * MiB - 0x203000;
	uint8_t *initrd = calloc(1, room + 1);

	assert_non_null(initrd);
	elf_default(&b);
	assert_int_equal(load_elf(&f->mem, &b, "", initrd, room, &info, &e), 0);
	assert_int_equal(info.initrd_addr, 0x203000);
	elf_default(&b);
	assert_int_equal(load_elf(&f->mem, &b, "", initrd, room + 1, &info, &e), -ENOSPC);
	assert_non_null(strstr(e.msg, "initrd"));
	free(initrd);
	/* rejected on length alone: the data is never read */
	elf_default(&b);
	assert_int_equal(load_elf(&f->mem, &b, "", small, 64 * MiB, &info, &e), -ENOSPC);
	elf_default(&b);
	assert_int_equal(load_elf(&f->mem, &b, "", small, SIZE_MAX, &info, &e), -ENOSPC);
}

static void test_error_truncated_header(void **state)
{
	struct fixture *f = *state;
	struct boot_info info;
	struct errbuf e;

	for (size_t len = 4; len < sizeof(Elf64_Ehdr); len++) {
		uint8_t *k = calloc(1, len);
		struct boot_image img = { .kernel = k, .kernel_len = len, .cmdline = "" };

		assert_non_null(k);
		memcpy(k, ELFMAG, SELFMAG);
		if (len > EI_CLASS)
			k[EI_CLASS] = ELFCLASS64;
		if (len > EI_DATA)
			k[EI_DATA] = ELFDATA2LSB;
		assert_int_equal(boot_load(&f->mem.m, &img, &info, &e), -ENOEXEC);
		assert_non_null(strstr(e.msg, "truncated"));
		free(k);
	}
}

/* Random bytes over a good image's headers and notes: accepted or refused,
 * never a read outside the file or a write outside RAM (ASan). */
static void test_hostile_random_mutations(void **state)
{
	struct fixture *f = *state;
	uint64_t seed = 0x5EED5EED5EED5EEDull;
	unsigned ok = 0;

	for (int round = 0; round < 3000; round++) {
		struct elf b;
		struct boot_info info;
		struct errbuf e;
		size_t len;
		uint8_t *k;
		struct boot_image img;
		unsigned flips = 1 + rng_next(&seed) % 4;
		int ret;

		elf_default(&b);
		k = elf_finish(&b, &len);
		elf_free(&b);
		for (unsigned i = 0; i < flips; i++) {
			/* the headers (first 0x140 bytes) and the note (data offset ~0x2350) */
			uint64_t r = rng_next(&seed);
			size_t at = (r & 1) ? (r >> 8) % 0x140 : b.ph[1].p_offset + (r >> 8) % 24;
			uint8_t v = (uint8_t)(r >> 40);

			if (r & 2)
				v = (r & 4) ? 0xFF : 0x00;
			k[at] = v;
		}
		img = (struct boot_image){ .kernel = k, .kernel_len = len,
					   .initrd = (const uint8_t *)"INITRD", .initrd_len = 6,
					   .cmdline = "hostile" };
		ret = boot_load(&f->mem.m, &img, &info, &e);
		if (ret == 0) {
			ok++;
			assert_true(info.entry < 0xFFFFFFFFull);
			assert_true(info.entry >= LAYOUT_HIMEM_START);
			assert_true(info.kernel_end <= f->mem.size);
			assert_memory_equal(TEST_GPA(&f->mem, info.initrd_addr, 6), "INITRD", 6);
		} else {
			assert_true(ret < 0);
		}
		free(k);
	}
	assert_true(ok > 100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_load_basic, setup_64m, teardown),
		cmocka_unit_test_setup_teardown(test_memmap_64m, setup_64m, teardown),
		cmocka_unit_test_setup_teardown(test_initrd_module, setup_64m, teardown),
		cmocka_unit_test_setup_teardown(test_initrd_3g, setup_3g, teardown),
		cmocka_unit_test_setup_teardown(test_note_8byte_and_neighbours, setup_64m, teardown),
		cmocka_unit_test_setup_teardown(test_entry_bounds, setup_64m, teardown),
		cmocka_unit_test_setup_teardown(test_entry_in_gap, setup_64m, teardown),
		cmocka_unit_test_setup_teardown(test_entry_above_4g, setup_3g, teardown),
		cmocka_unit_test_setup_teardown(test_error_no_note, setup_64m, teardown),
		cmocka_unit_test_setup_teardown(test_error_bad_note, setup_64m, teardown),
		cmocka_unit_test_setup_teardown(test_error_elf_header, setup_64m, teardown),
		cmocka_unit_test_setup_teardown(test_error_program_headers, setup_64m, teardown),
		cmocka_unit_test_setup_teardown(test_many_segments, setup_64m, teardown),
		cmocka_unit_test_setup_teardown(test_error_segment_file_range, setup_64m, teardown),
		cmocka_unit_test_setup_teardown(test_error_segment_placement, setup_64m, teardown),
		cmocka_unit_test_setup_teardown(test_cmdline_limit, setup_64m, teardown),
		cmocka_unit_test_setup_teardown(test_error_initrd_too_big, setup_64m, teardown),
		cmocka_unit_test_setup_teardown(test_error_truncated_header, setup_64m, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_random_mutations, setup_64m, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
