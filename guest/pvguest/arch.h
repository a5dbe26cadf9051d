/* arch.h: x86 instructions as inline functions: port and MMIO access, TSC,
 * CPUID, the few atomics pvguest allows itself (lock xadd/inc, xchg; never
 * cmpxchg16b, which PVM cannot interpret) and the ring-3 service call. */
#ifndef PVGUEST_ARCH_H
#define PVGUEST_ARCH_H

#include <stdint.h>
#include <stddef.h>
#include "layout.h"

#define barrier() __asm__ volatile("" ::: "memory")
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define __noreturn __attribute__((noreturn))

static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" :: "a"(v), "Nd"(port)); }
static inline void outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" :: "a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" :: "a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port) { uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint16_t inw(uint16_t port) { uint16_t v; __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint32_t inl(uint16_t port) { uint32_t v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }

/* MMIO: every page is identity-mapped, so a physical address is a pointer. */
static inline uint32_t mmio_read32(uint64_t pa) { return *(volatile uint32_t *)pa; }
static inline void mmio_write32(uint64_t pa, uint32_t v) { *(volatile uint32_t *)pa = v; }
static inline uint64_t mmio_read64(uint64_t pa) { return *(volatile uint64_t *)pa; }
static inline void mmio_write64(uint64_t pa, uint64_t v) { *(volatile uint64_t *)pa = v; }
static inline uint16_t mmio_read16(uint64_t pa) { return *(volatile uint16_t *)pa; }
static inline void mmio_write16(uint64_t pa, uint16_t v) { *(volatile uint16_t *)pa = v; }
static inline uint8_t mmio_read8(uint64_t pa) { return *(volatile uint8_t *)pa; }
static inline void mmio_write8(uint64_t pa, uint8_t v) { *(volatile uint8_t *)pa = v; }

/* One access of width 1, 2, 4 or 8 bytes (anything else: 8), for code that
 * chooses the width at run time (hostile register cases). */
static inline uint64_t mmio_read_width(uint64_t pa, unsigned width)
{
	switch (width) {
	case 1: return mmio_read8(pa);
	case 2: return mmio_read16(pa);
	case 4: return mmio_read32(pa);
	default: return mmio_read64(pa);
	}
}

static inline void mmio_write_width(uint64_t pa, unsigned width, uint64_t v)
{
	switch (width) {
	case 1: mmio_write8(pa, (uint8_t)v); break;
	case 2: mmio_write16(pa, (uint16_t)v); break;
	case 4: mmio_write32(pa, (uint32_t)v); break;
	default: mmio_write64(pa, v); break;
	}
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	__asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}

static inline void cpu_relax(void) { __asm__ volatile("pause" ::: "memory"); }

static inline uint32_t atomic_fetch_add32(volatile uint32_t *p, uint32_t v)
{
	__asm__ volatile("lock xaddl %0, %1" : "+r"(v), "+m"(*p) :: "memory");
	return v;
}

static inline void atomic_inc32(volatile uint32_t *p) { __asm__ volatile("lock incl %0" : "+m"(*p) :: "memory"); }

static inline uint32_t atomic_xchg32(volatile uint32_t *p, uint32_t v)
{
	__asm__ volatile("xchgl %0, %1" : "+r"(v), "+m"(*p) :: "memory");
	return v;
}

/* Ring 3 -> ring 0 service call (layout.h, isr.S svc_entry); preserves all
 * registers but %rax. About 100 interpreted instructions on PVM. */
static inline uint64_t svc_call(uint32_t nr, uint64_t a0, uint64_t a1, uint64_t a2)
{
	uint64_t ret = nr;
	__asm__ volatile("int3" : "+a"(ret) : "D"(a0), "S"(a1), "d"(a2) : "memory");
	return ret;
}

static inline __noreturn void svc_halt(void)
{
	for (;;)
		svc_call(SVC_HALT, 0, 0, 0);
}

#endif
