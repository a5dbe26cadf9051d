/* trap.c (ring 0): the service dispatch table behind int3 and the report
 * for any CPU exception, which is always fatal: print it, fail the run through
 * debug-exit, then reset, then halt. Output here polls the UART directly. */
#include "cpu.h"

#define COM1 0x3f8

struct trap_frame {
	uint64_t vec, err, rip, cs, rflags, rsp, ss;
};

const char *volatile current_test;

static void r0_putc(char c)
{
	while (!(inb(COM1 + 5) & 0x20))
		;
	outb(COM1, c);
}

void r0_puts(const char *s)
{
	while (*s)
		r0_putc(*s++);
}

static void r0_putnum(uint64_t v, unsigned base)
{
	char buf[24];
	int i = sizeof(buf);

	buf[--i] = 0;
	do {
		buf[--i] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	if (base == 16)
		r0_puts("0x");
	r0_puts(&buf[i]);
}

static void r0_field(const char *name, uint64_t v)
{
	r0_puts(name);
	r0_putnum(v, 16);
}

__noreturn void trap_fatal(const struct trap_frame *f);
__noreturn void trap_fatal(const struct trap_frame *f)
{
	uint64_t cr2;
	uint32_t r[4];

	__asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
	cpuid(1, 0, r);
	/* Bounded: the holder may be this CPU, or garbage before .bss is cleared. */
	for (int i = 0; i < 100000 && atomic_xchg32(&serial_lock, 1); i++)
		cpu_relax();
	r0_puts("PVGUEST FATAL ");
	r0_putnum(f->vec, 10);
	r0_field(" rip=", f->rip);
	r0_field(" err=", f->err);
	r0_field(" cr2=", cr2);
	r0_field(" rsp=", f->rsp);
	r0_field(" cs=", f->cs);
	r0_field(" rflags=", f->rflags);
	r0_field(" apic=", r[1] >> 24);
	r0_puts("\nPVGUEST RESULT ");
	r0_puts(current_test ? current_test : "boot");
	r0_puts(" FAIL reason=exception\n");
	atomic_xchg32(&serial_lock, 0);
	outb(0x501, 1);
	outb(0x64, 0xfe);
	for (;;)
		__asm__ volatile("cli; hlt");
}

static __noreturn uint64_t svc_halt_cpu(uint64_t a0, uint64_t a1, uint64_t a2)
{
	(void)a0, (void)a1, (void)a2;
	for (;;)
		__asm__ volatile("cli; hlt");
}

typedef uint64_t (*svc_fn)(uint64_t, uint64_t, uint64_t);

static const svc_fn svc_table[SVC_COUNT] = {
	[SVC_HALT] = svc_halt_cpu,
};

uint64_t svc_dispatch(uint64_t a0, uint64_t a1, uint64_t a2, uint64_t nr);
uint64_t svc_dispatch(uint64_t a0, uint64_t a1, uint64_t a2, uint64_t nr)
{
	if (nr >= SVC_COUNT)
		return (uint64_t)-1;
	return svc_table[nr](a0, a1, a2);
}
