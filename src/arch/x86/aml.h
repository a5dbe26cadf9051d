/* A tiny AML (ACPI Machine Language) emitter: just the terms vireo's DSDT
 * needs (Name, Device, Package, Buffer, integers, strings, EISA IDs). Output goes into
 * a fixed buffer; overflow is remembered and reported once at the end. */
#ifndef VIREO_X86_AML_H
#define VIREO_X86_AML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AML_MAX 4096

struct aml {
	uint8_t b[AML_MAX];
	size_t n;
	bool overflow;
};

void aml_bytes(struct aml *a, const void *p, size_t len);
/* Integer with the shortest encoding (ZeroOp, OneOp, Byte/Word/DWord/QWord). */
void aml_int(struct aml *a, uint64_t v);
/* Name(seg, <integer>) ; seg is a 4-character NameSeg such as "_UID". */
void aml_name_int(struct aml *a, const char *seg, uint64_t v);
/* Name(seg, "string") */
void aml_name_string(struct aml *a, const char *seg, const char *s);
/* Name(seg, EisaId("PNP0A08")) */
void aml_name_eisaid(struct aml *a, const char *seg, const char *id);
/* Name(seg, Buffer(){ bytes }) */
void aml_name_buffer(struct aml *a, const char *seg, const struct aml *bytes);
/* Name(seg, Package(){ ints... }) */
void aml_name_package(struct aml *a, const char *seg, const uint64_t *v, unsigned n);
/* Device(seg) { body } */
void aml_device(struct aml *a, const char *seg, const struct aml *body);

/* Resource descriptors (ACPI 6.x §6.4), appended to a resource template. */
void aml_res_io(struct aml *a, uint16_t base, uint8_t len);
/* IRQNoFlags(): edge-triggered, active high, exclusive */
void aml_res_irq(struct aml *a, unsigned irq);
void aml_res_word_bus(struct aml *a, uint16_t min, uint16_t max);
void aml_res_word_io(struct aml *a, uint16_t min, uint16_t max);
void aml_res_dword_mem(struct aml *a, uint32_t min, uint32_t max);
void aml_res_qword_mem(struct aml *a, uint64_t min, uint64_t max);
/* Memory32Fixed(ReadWrite, base, len) */
void aml_res_mem32_fixed(struct aml *a, uint32_t base, uint32_t len);
/* Interrupt(ResourceConsumer, Edge, ActiveHigh, Exclusive) { gsi }: the
 * extended descriptor, which also reaches GSIs above 15 */
void aml_res_ext_irq(struct aml *a, uint32_t gsi);
void aml_res_end(struct aml *a);

#endif
