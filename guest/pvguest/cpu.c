/* cpu.c (ring 0): the GDT and one TSS per CPU (isr.S builds the IDT); each
 * CPU writes its own TSS descriptor and loads TR and IDTR. All TSSs share one
 * all-zero I/O bitmap: PVM drops RFLAGS.IOPL on the way to guest ring 3 but
 * honours the bitmap, so in/out work from ring 3 there as on any x86. */
#include "cpu.h"

struct tss64 {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
} __attribute__((packed));

#define TSS_AVAIL  0x89                /* P | 64-bit TSS (available) */
#define TSS_STRIDE 128

uint64_t gdt[GDT_BYTES / 8] __attribute__((aligned(16))) = {
	[SEL_KCODE64 / 8] = 0x00af9a000000ffff,
	[SEL_KDATA / 8] = 0x00cf92000000ffff,
	[SEL_UDATA / 8] = 0x00cff2000000ffff,
	[SEL_UCODE64 / 8] = 0x00affa000000ffff,
	[SEL_KCODE32 / 8] = 0x00cf9a000000ffff,
};

/* The bitmap is addressed from each TSS's own base, so it follows the array.
 * SDM vol. 1 §19.5.2: a byte of all ones must follow the bitmap. */
static struct {
	struct {
		struct tss64 t;
		uint8_t pad[TSS_STRIDE - sizeof(struct tss64)];
	} cpu[PVG_MAX_CPUS];
	uint8_t iomap[65536 / 8];
	uint8_t iomap_end;
} tss_area __attribute__((aligned(16))) = { .iomap_end = 0xff };

uint32_t cpu_apic_id[PVG_MAX_CPUS];

extern char ap_kstacks[], bsp_kstack[];
extern const struct { uint16_t limit; uint64_t base; } __attribute__((packed)) idt_ptr;

void cpu_load_tables(uint32_t slot)
{
	struct tss64 *t = &tss_area.cpu[slot].t;
	uint64_t base = (uint64_t)t;
	uint64_t limit = __builtin_offsetof(__typeof__(tss_area), iomap_end) - slot * TSS_STRIDE;
	unsigned sel = SEL_TSS0 + 16 * slot;
	uint32_t r[4];

	/* Traps from ring 3 land on this CPU's ring-0 stack (isr.S layout). */
	t->rsp[0] = slot ? (uint64_t)ap_kstacks + slot * PVG_KSTACK_SIZE
			 : (uint64_t)bsp_kstack + PVG_KSTACK_SIZE;
	t->iomap_base = __builtin_offsetof(__typeof__(tss_area), iomap) - slot * TSS_STRIDE;
	gdt[sel / 8] = (limit & 0xffff) | (base & 0xffffff) << 16 | (uint64_t)TSS_AVAIL << 40 |
		       ((limit >> 16) & 0xf) << 48 | ((base >> 24) & 0xff) << 56;
	gdt[sel / 8 + 1] = base >> 32;
	__asm__ volatile("ltr %w0" :: "r"(sel));
	__asm__ volatile("lidt %0" :: "m"(idt_ptr));
	cpuid(1, 0, r);
	cpu_apic_id[slot] = r[1] >> 24;
}
