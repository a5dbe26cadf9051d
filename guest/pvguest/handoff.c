/* handoff.c (ring 3, BSP, first thing): turn the PVH hvm_start_info (Xen's
 * public arch-x86/hvm/start_info.h) or the boot protocol's boot_params (Linux
 * Documentation/arch/x86/zero-page.rst) into struct boot_info. Entries are
 * copied as given, unsorted and unchecked: tests_boot.c judges them. */
#include "boot.h"
#include "arch.h"

#define HVM_START_MAGIC 0x336ec578
#define LOW_4G          0x100000000ull

/* struct hvm_start_info */
#define SI_MAGIC        0
#define SI_VERSION      4
#define SI_NR_MODULES   12
#define SI_MODLIST      16
#define SI_CMDLINE      24
#define SI_RSDP         32
#define SI_MEMMAP       40
#define SI_MEMMAP_N     48
#define SI_SIZE_V1      56
#define MOD_ENTRY_SIZE  32             /* paddr, size, cmdline_paddr, reserved */
#define HVM_MEMMAP_SIZE 24             /* addr, size, type, reserved */

/* struct boot_params */
#define BP_ACPI_RSDP    0x070
#define BP_EXT_RD_IMAGE 0x0c0
#define BP_EXT_RD_SIZE  0x0c4
#define BP_EXT_CMDLINE  0x0c8
#define BP_E820_ENTRIES 0x1e8
#define BP_BOOT_FLAG    0x1fe
#define BP_HDR_MAGIC    0x202
#define BP_RD_IMAGE     0x218
#define BP_RD_SIZE      0x21c
#define BP_CMDLINE      0x228
#define BP_E820_TABLE   0x2d0
#define BP_E820_MAX     128
#define BP_SIZE         0x1000
#define E820_ENTRY_SIZE 20

struct boot_info boot_info;

static uint64_t rd64(uint64_t pa) { uint64_t v; __builtin_memcpy(&v, (void *)pa, 8); return v; }
static uint32_t rd32(uint64_t pa) { uint32_t v; __builtin_memcpy(&v, (void *)pa, 4); return v; }

/* GUEST: the loader's pointers are only followed inside the low 4 GiB, which
 * are all mapped; paging_map_high() runs after this, from its result. */
static int low(uint64_t pa, uint64_t len)
{
	return pa < LOW_4G && len <= LOW_4G - pa;
}

static void add_mem(struct boot_info *bi, uint64_t addr, uint64_t size, uint32_t type)
{
	bi->mem_given++;
	if (bi->nr_mem == BOOT_MAX_MEM) {
		bi->errors |= BOOT_ERR_MEM_TRUNC;
		return;
	}
	bi->mem[bi->nr_mem].addr = addr;
	bi->mem[bi->nr_mem].size = size;
	bi->mem[bi->nr_mem].type = type;
	bi->nr_mem++;
}

static void parse_pvh(uint64_t si, struct boot_info *bi)
{
	if (!low(si, SI_SIZE_V1) || rd32(si + SI_MAGIC) != HVM_START_MAGIC) {
		bi->errors |= BOOT_ERR_BAD_MAGIC;
		return;
	}
	bi->pvh_version = rd32(si + SI_VERSION);
	bi->cmdline_paddr = rd64(si + SI_CMDLINE);
	bi->rsdp_paddr = rd64(si + SI_RSDP);
	bi->nr_modules = rd32(si + SI_NR_MODULES);
	if (bi->nr_modules) {
		uint64_t mod = rd64(si + SI_MODLIST);
		if (low(mod, MOD_ENTRY_SIZE)) {
			bi->initrd_paddr = rd64(mod);
			bi->initrd_size = rd64(mod + 8);
		} else {
			bi->errors |= BOOT_ERR_PTR_HIGH;
		}
	}
	if (bi->pvh_version < 1) {
		bi->errors |= BOOT_ERR_NO_MEMMAP;
		return;
	}
	uint64_t map = rd64(si + SI_MEMMAP);
	uint32_t n = rd32(si + SI_MEMMAP_N);
	if (!low(map, (uint64_t)n * HVM_MEMMAP_SIZE)) {
		bi->errors |= BOOT_ERR_PTR_HIGH;
		return;
	}
	for (uint32_t i = 0; i < n; i++) {
		uint64_t e = map + (uint64_t)i * HVM_MEMMAP_SIZE;
		add_mem(bi, rd64(e), rd64(e + 8), rd32(e + 16));
	}
}

static void parse_boot_params(uint64_t bp, struct boot_info *bi)
{
	if (!low(bp, BP_SIZE) || rd32(bp + BP_HDR_MAGIC) != 0x53726448 ||
	    (rd32(bp + BP_BOOT_FLAG) & 0xffff) != 0xaa55) {
		bi->errors |= BOOT_ERR_BAD_MAGIC;
		return;
	}
	bi->cmdline_paddr = rd32(bp + BP_CMDLINE) | (uint64_t)rd32(bp + BP_EXT_CMDLINE) << 32;
	bi->initrd_paddr = rd32(bp + BP_RD_IMAGE) | (uint64_t)rd32(bp + BP_EXT_RD_IMAGE) << 32;
	bi->initrd_size = rd32(bp + BP_RD_SIZE) | (uint64_t)rd32(bp + BP_EXT_RD_SIZE) << 32;
	bi->rsdp_paddr = rd64(bp + BP_ACPI_RSDP);
	uint32_t n = rd32(bp + BP_E820_ENTRIES) & 0xff;
	if (n > BP_E820_MAX) {
		bi->errors |= BOOT_ERR_MEM_TRUNC;
		n = BP_E820_MAX;
	}
	for (uint32_t i = 0; i < n; i++) {
		uint64_t e = bp + BP_E820_TABLE + (uint64_t)i * E820_ENTRY_SIZE;
		add_mem(bi, rd64(e), rd64(e + 8), rd32(e + 16));
	}
}

void handoff_parse(uint32_t kind, uint64_t ptr, struct boot_info *bi)
{
	bi->kind = kind;
	bi->handoff_paddr = ptr;
	if (kind == BOOT_KIND_PVH)
		parse_pvh(ptr, bi);
	else
		parse_boot_params(ptr, bi);
	if (!bi->nr_mem)
		bi->errors |= BOOT_ERR_NO_MEMMAP;
}
