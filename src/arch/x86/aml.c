/* AML emitter; see aml.h. Encodings from ACPI 6.4 §20 (AML grammar) and
 * §6.4 (resource descriptors). */
#include "arch/x86/aml.h"

#include <string.h>

#define AML_NAME_OP 0x08
#define AML_BYTE_PREFIX 0x0A
#define AML_WORD_PREFIX 0x0B
#define AML_DWORD_PREFIX 0x0C
#define AML_QWORD_PREFIX 0x0E
#define AML_STRING_PREFIX 0x0D
#define AML_ZERO_OP 0x00
#define AML_ONE_OP 0x01
#define AML_BUFFER_OP 0x11
#define AML_PACKAGE_OP 0x12
#define AML_EXT_PREFIX 0x5B
#define AML_DEVICE_OP 0x82

void aml_bytes(struct aml *a, const void *p, size_t len)
{
	if (a->overflow || len > AML_MAX - a->n) {
		a->overflow = true;
		return;
	}
	memcpy(a->b + a->n, p, len);
	a->n += len;
}

static void aml_byte(struct aml *a, uint8_t v)
{
	aml_bytes(a, &v, 1);
}

static void aml_le(struct aml *a, uint64_t v, unsigned size)
{
	for (unsigned i = 0; i < size; i++)
		aml_byte(a, v >> (8 * i));
}

/* PkgLength counts its own bytes plus what follows (§20.2.4). */
static void aml_pkglen(struct aml *a, size_t body)
{
	size_t len = body + 1;

	if (len <= 0x3F) {
		aml_byte(a, len);
		return;
	}
	len = body + 2;
	if (len <= 0xFFF) {
		aml_byte(a, 0x40 | (len & 0xF));
		aml_byte(a, len >> 4);
		return;
	}
	len = body + 3;
	aml_byte(a, 0x80 | (len & 0xF));
	aml_byte(a, len >> 4);
	aml_byte(a, len >> 12);
}

static void aml_seg(struct aml *a, const char *seg)
{
	aml_bytes(a, seg, 4);
}

void aml_int(struct aml *a, uint64_t v)
{
	if (v == 0) {
		aml_byte(a, AML_ZERO_OP);
	} else if (v == 1) {
		aml_byte(a, AML_ONE_OP);
	} else if (v <= 0xFF) {
		aml_byte(a, AML_BYTE_PREFIX);
		aml_byte(a, v);
	} else if (v <= 0xFFFF) {
		aml_byte(a, AML_WORD_PREFIX);
		aml_le(a, v, 2);
	} else if (v <= 0xFFFFFFFF) {
		aml_byte(a, AML_DWORD_PREFIX);
		aml_le(a, v, 4);
	} else {
		aml_byte(a, AML_QWORD_PREFIX);
		aml_le(a, v, 8);
	}
}

void aml_name_int(struct aml *a, const char *seg, uint64_t v)
{
	aml_byte(a, AML_NAME_OP);
	aml_seg(a, seg);
	aml_int(a, v);
}

void aml_name_string(struct aml *a, const char *seg, const char *s)
{
	aml_byte(a, AML_NAME_OP);
	aml_seg(a, seg);
	aml_byte(a, AML_STRING_PREFIX);
	aml_bytes(a, s, strlen(s) + 1);
}

void aml_name_eisaid(struct aml *a, const char *seg, const char *id)
{
	/* three letters of 5 bits each, then four hex digits, big-endian */
	static const char hex[] = "0123456789ABCDEF";
	uint32_t v = ((id[0] - '@') & 0x1F) << 26 | ((id[1] - '@') & 0x1F) << 21 |
		     ((id[2] - '@') & 0x1F) << 16;

	for (int i = 3; i < 7; i++)
		v |= (uint32_t)(strchr(hex, id[i]) - hex) << (4 * (6 - i));
	aml_byte(a, AML_NAME_OP);
	aml_seg(a, seg);
	aml_byte(a, AML_DWORD_PREFIX);
	aml_le(a, __builtin_bswap32(v), 4);
}

/* How many bytes aml_int(v) writes: no scratch buffer needed to measure a
 * length (each struct aml is 4 KiB, and vireo must run on a small stack). */
static size_t aml_int_len(uint64_t v)
{
	return v <= 1 ? 1 : v <= 0xFF ? 2 : v <= 0xFFFF ? 3 : v <= 0xFFFFFFFF ? 5 : 9;
}

void aml_name_buffer(struct aml *a, const char *seg, const struct aml *bytes)
{
	aml_byte(a, AML_NAME_OP);
	aml_seg(a, seg);
	aml_byte(a, AML_BUFFER_OP);
	aml_pkglen(a, aml_int_len(bytes->n) + bytes->n);
	aml_int(a, bytes->n);
	aml_bytes(a, bytes->b, bytes->n);
	a->overflow |= bytes->overflow;
}

void aml_name_package(struct aml *a, const char *seg, const uint64_t *v, unsigned n)
{
	size_t body = 1;

	for (unsigned i = 0; i < n; i++)
		body += aml_int_len(v[i]);
	aml_byte(a, AML_NAME_OP);
	aml_seg(a, seg);
	aml_byte(a, AML_PACKAGE_OP);
	aml_pkglen(a, body);
	aml_byte(a, n);
	for (unsigned i = 0; i < n; i++)
		aml_int(a, v[i]);
}

void aml_device(struct aml *a, const char *seg, const struct aml *body)
{
	aml_byte(a, AML_EXT_PREFIX);
	aml_byte(a, AML_DEVICE_OP);
	aml_pkglen(a, 4 + body->n);
	aml_seg(a, seg);
	aml_bytes(a, body->b, body->n);
	a->overflow |= body->overflow;
}

void aml_res_io(struct aml *a, uint16_t base, uint8_t len)
{
	/* small I/O port descriptor: 16-bit decode, fixed base */
	aml_byte(a, 0x47);
	aml_byte(a, 0x01);
	aml_le(a, base, 2);
	aml_le(a, base, 2);
	aml_byte(a, 0x01);
	aml_byte(a, len);
}

void aml_res_irq(struct aml *a, unsigned irq)
{
	aml_byte(a, 0x22);
	aml_le(a, 1u << irq, 2);
}

/* Word address space descriptor (large item 0x88), min and max fixed. */
static void aml_res_word(struct aml *a, uint8_t type, uint8_t type_flags, uint16_t min,
			 uint16_t max)
{
	aml_byte(a, 0x88);
	aml_le(a, 13, 2);
	aml_byte(a, type);
	aml_byte(a, 0x0C);
	aml_byte(a, type_flags);
	aml_le(a, 0, 2);             /* granularity */
	aml_le(a, min, 2);
	aml_le(a, max, 2);
	aml_le(a, 0, 2);             /* translation */
	aml_le(a, (uint16_t)(max - min + 1), 2);
}

void aml_res_word_bus(struct aml *a, uint16_t min, uint16_t max)
{
	aml_res_word(a, 2, 0, min, max);
}

void aml_res_word_io(struct aml *a, uint16_t min, uint16_t max)
{
	aml_res_word(a, 1, 0x03, min, max); /* ISA and non-ISA ranges */
}

void aml_res_dword_mem(struct aml *a, uint32_t min, uint32_t max)
{
	aml_byte(a, 0x87);
	aml_le(a, 23, 2);
	aml_byte(a, 0);              /* memory */
	aml_byte(a, 0x0C);
	aml_byte(a, 0x01);           /* read-write, non-cacheable */
	aml_le(a, 0, 4);
	aml_le(a, min, 4);
	aml_le(a, max, 4);
	aml_le(a, 0, 4);
	aml_le(a, max - min + 1, 4);
}

void aml_res_qword_mem(struct aml *a, uint64_t min, uint64_t max)
{
	aml_byte(a, 0x8A);
	aml_le(a, 43, 2);
	aml_byte(a, 0);
	aml_byte(a, 0x0C);
	aml_byte(a, 0x01);
	aml_le(a, 0, 8);
	aml_le(a, min, 8);
	aml_le(a, max, 8);
	aml_le(a, 0, 8);
	aml_le(a, max - min + 1, 8);
}

void aml_res_mem32_fixed(struct aml *a, uint32_t base, uint32_t len)
{
	aml_byte(a, 0x86);
	aml_le(a, 9, 2);
	aml_byte(a, 0x01);           /* read-write */
	aml_le(a, base, 4);
	aml_le(a, len, 4);
}

void aml_res_ext_irq(struct aml *a, uint32_t gsi)
{
	aml_byte(a, 0x89);
	aml_le(a, 6, 2);
	aml_byte(a, 0x03);           /* consumer, edge, active high, exclusive */
	aml_byte(a, 1);              /* one interrupt */
	aml_le(a, gsi, 4);
}

void aml_res_end(struct aml *a)
{
	aml_byte(a, 0x79);
	aml_byte(a, 0x00); /* checksum 0: "treat as valid" */
}
