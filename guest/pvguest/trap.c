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

/* Armed by svc_r0_probe, disarmed by svc_entry's ring-0 path (isr.S). */
volatile uint32_t r0_bp_armed;
volatile uint64_t r0_bp_rip;

/* Instructions a PVM host's ring-0 interpreter rejects and a kernel cannot
 * avoid, run in ring 0 (test "r0-insns"): bit 0 set when int3 raised #BP
 * with the return address just past it, bit 1 when fwait went on. */
static uint64_t svc_r0_probe(uint64_t a0, uint64_t a1, uint64_t a2)
{
	uint64_t want, result = 0;

	(void)a0, (void)a1, (void)a2;
	r0_bp_armed = 1;
	r0_bp_rip = 0;
	__asm__ volatile("leaq 1f(%%rip), %0\n\tint3\n1:" : "=r"(want) : : "memory");
	if (!r0_bp_armed && r0_bp_rip == want)
		result |= 1;
	r0_bp_armed = 0;
	__asm__ volatile("fwait" : : : "memory");
	result |= 2;
	return result;
}

/* What the kernel sees: ring-0 CPUID may differ from ring 3's on PVM.
 * Returns ECX in bits 0-31 and EBX in bits 32-63. */
static uint64_t svc_r0_cpuid(uint64_t leaf, uint64_t subleaf, uint64_t a2)
{
	uint32_t r[4];

	(void)a2;
	cpuid((uint32_t)leaf, (uint32_t)subleaf, r);
	return r[2] | (uint64_t)r[1] << 32;
}

static void r0_wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

static uint64_t r0_rdmsr(uint32_t msr)
{
	uint32_t lo, hi;

	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return lo | (uint64_t)hi << 32;
}

void syscall_probe_entry(void);

/* Lets ring 3 try SYSCALL: EFER.SCE on, LSTAR at syscall_probe_entry. */
static uint64_t svc_r0_syscall(uint64_t a0, uint64_t a1, uint64_t a2)
{
	(void)a0, (void)a1, (void)a2;
	r0_wrmsr(0xc0000081, (uint64_t)SEL_KCODE64 << 32 | (uint64_t)SEL_KDATA << 48);
	r0_wrmsr(0xc0000082, (uint64_t)(uintptr_t)syscall_probe_entry);
	r0_wrmsr(0xc0000084, 0);
	r0_wrmsr(MSR_EFER, r0_rdmsr(MSR_EFER) | 1);
	return 0;
}

typedef uint64_t (*svc_fn)(uint64_t, uint64_t, uint64_t);

static const svc_fn svc_table[SVC_COUNT] = {
	[SVC_HALT] = svc_halt_cpu,
	[SVC_R0_PROBE] = svc_r0_probe,
	[SVC_R0_CPUID] = svc_r0_cpuid,
	[SVC_R0_SYSCALL] = svc_r0_syscall,
};

uint64_t svc_dispatch(uint64_t a0, uint64_t a1, uint64_t a2, uint64_t nr);
uint64_t svc_dispatch(uint64_t a0, uint64_t a1, uint64_t a2, uint64_t nr)
{
	if (nr >= SVC_COUNT)
		return (uint64_t)-1;
	return svc_table[nr](a0, a1, a2);
}
