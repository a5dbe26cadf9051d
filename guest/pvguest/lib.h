/* lib.h: pvguest's small ring-3 "libc": strings, formatting to the serial
 * port, command-line parsing, time and CRC-32. Drivers and tests build on
 * this; none of it touches ring-0 state. Single-threaded unless noted. */
#ifndef PVGUEST_LIB_H
#define PVGUEST_LIB_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include "arch.h"

/* string.c (also safe in ring 0: general registers only) */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
size_t strnlen(const char *s, size_t max);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strchr(const char *s, int c);

/* serial.c: polled 16550 at COM1. serial_write is serialized across CPUs. */
void serial_init(void);
void serial_write(const char *s, size_t len);

/* fmt.c: %[-0#][width][.prec][hh|h|l|ll|z]{d,i,u,x,X,c,s,p,%}. Returns the
 * length the full output would have had (like C's snprintf). */
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Formats into a 512-byte buffer and writes it with one serial_write. */
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void puts_raw(const char *s);          /* no formatting, no length limit, no newline */

/* cmdline.c. A "token list" is the kernel command line (space separated
 * key=value tokens); an "option list" is a test's comma-separated key=value
 * arguments. Both getters copy the value (NUL-terminated, truncated to
 * size-1) and return its full length, or -1 when the key is absent. */
int cmdline_get(const char *cmdline, const char *key, char *val, size_t size);
/* The same for the nth (0 = first) token with that key: a key that may
 * repeat, as virtio_mmio.device= does. */
int cmdline_get_nth(const char *cmdline, const char *key, unsigned nth, char *val, size_t size);
int optlist_get(const char *opts, const char *key, char *val, size_t size);
/* Decimal, or hex with 0x; an optional K/M/G suffix when suffix != 0.
 * Returns 0 and sets *out, or -1 if s is not entirely a number. */
int parse_u64(const char *s, uint64_t *out, int suffix);
int parse_hex_u64(const char *s, uint64_t *out);   /* hex with or without 0x */
/* The number at the start of s in base (2-16; 0: C notation, 0x hex, a
 * leading 0 octal, else decimal): 0 with *out and *end just past it, or -1
 * when no digit is there or it overflows. */
int parse_u64_prefix(const char *s, unsigned base, uint64_t *out, const char **end);

/* time.c: TSC-based time, scaled by the BSP's kvmclock (pvclock mul/shift),
 * else by CPUID frequency leaves. Any CPU may call these. */
void time_init(void);                  /* BSP, ring 3, before any other call */
uint64_t tsc_to_ns(uint64_t delta);
uint64_t ns_to_tsc(uint64_t ns);
uint64_t time_since_entry_ns(void);    /* since the entry code's first rdtsc */
void udelay(uint64_t us);
const char *time_source(void);         /* "kvmclock", "cpuid" or "guess" */

/* crc32.c: CRC-32/IEEE (reflected, poly 0xedb88320), crc32(0, p, n) to start. */
uint32_t crc32(uint32_t crc, const void *p, size_t n);

#endif
