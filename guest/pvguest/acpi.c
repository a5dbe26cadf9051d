/* acpi.c: ACPI table discovery and the DSDT pattern matching of acpi.h.
 * ACPI 6.4 §5.2.5 (RSDP search: the first KiB of the EBDA, then
 * 0xE0000-0xFFFFF), §5.2.7-8, §6.4 (resource descriptors) and §20 (AML
 * encodings). The tables are VMM input: every read is bounded. */
#include "acpi.h"
#include "phys.h"

static uint64_t acpi_find_rsdp(const struct boot_info *bi)
{
	uint64_t ebda = ebda_base(), p = 0;

	if (bi->rsdp_paddr && readable(bi, bi->rsdp_paddr, 20) &&
	    memcmp((void *)bi->rsdp_paddr, "RSD PTR ", 8) == 0 && sum8(bi->rsdp_paddr, 20) == 0)
		return bi->rsdp_paddr;
	if (ebda)
		p = phys_scan(ebda, 1024, "RSD PTR ", 8, 20);
	if (!p)
		p = phys_scan(0xe0000, 0x20000, "RSD PTR ", 8, 20);
	return p;
}

static int acpi_table_ok(const struct boot_info *bi, uint64_t pa)
{
	if (!readable(bi, pa, 36))
		return 0;
	uint32_t len = rd32(pa + 4);
	return len >= 36 && len < (1u << 20) && readable(bi, pa, len) && sum8(pa, len) == 0;
}

uint64_t acpi_find_table(const struct boot_info *bi, const char *sig, const char **err,
			 int *have_acpi)
{
	uint64_t rsdp = acpi_find_rsdp(bi);

	if (have_acpi)
		*have_acpi = rsdp != 0;
	if (!rsdp)
		return 0;
	int xsdt = *(uint8_t *)(rsdp + 15) >= 2 && rd64(rsdp + 24);
	uint64_t sdt = xsdt ? rd64(rsdp + 24) : rd32(rsdp + 16);
	if (xsdt && (rd32(rsdp + 20) < 36 || rd32(rsdp + 20) > 4096 || sum8(rsdp, rd32(rsdp + 20)) != 0)) {
		*err = "acpi-rsdp-checksum";
		return 0;
	}
	if (!acpi_table_ok(bi, sdt)) {
		*err = "acpi-sdt-checksum";
		return 0;
	}
	unsigned esize = xsdt ? 8 : 4;
	uint32_t n = (rd32(sdt + 4) - 36) / esize;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t e = sdt + 36 + (uint64_t)i * esize;
		uint64_t tbl = xsdt ? rd64(e) : rd32(e);
		if (!readable(bi, tbl, 36) || memcmp((void *)tbl, sig, 4) != 0)
			continue;
		if (!acpi_table_ok(bi, tbl)) {
			*err = "acpi-table-checksum";
			return 0;
		}
		return tbl;
	}
	return 0;
}

/* FADT fields (ACPI 6.4 §5.2.9, Table 5.9): the 32-bit DSDT address, and
 * X_DSDT, which only a FADT long enough to hold it has. */
#define FADT_DSDT   40
#define FADT_X_DSDT 140

uint64_t acpi_find_dsdt(const struct boot_info *bi, const char **err)
{
	uint64_t fadt = acpi_find_table(bi, "FACP", err, NULL);

	if (!fadt || rd32(fadt + 4) < FADT_DSDT + 4)
		return 0;
	uint64_t dsdt = rd32(fadt + 4) >= FADT_X_DSDT + 8 ? rd64(fadt + FADT_X_DSDT) : 0;
	if (!dsdt)
		dsdt = rd32(fadt + FADT_DSDT);
	if (!dsdt)
		return 0;
	if (!acpi_table_ok(bi, dsdt) || memcmp((void *)dsdt, "DSDT", 4) != 0) {
		*err = "acpi-dsdt-checksum";
		return 0;
	}
	return dsdt;
}

/* ---- AML ---- */

#define AML_NAME_OP    0x08
#define AML_STRING     0x0d
#define AML_BUFFER_OP  0x11
#define AML_METHOD_OP  0x14
#define AML_RETURN_OP  0xa4
#define AML_EXT_PREFIX 0x5b
#define AML_DEVICE_OP  0x82             /* after AML_EXT_PREFIX */

int aml_const(const uint8_t *p, const uint8_t *end, uint64_t *v)
{
	unsigned n;

	if (p >= end)
		return 0;
	switch (*p) {
	case 0x00: *v = 0; return 1;
	case 0x01: *v = 1; return 1;
	case 0xff: *v = ~0ull; return 1;
	case 0x0a: n = 1; break;
	case 0x0b: n = 2; break;
	case 0x0c: n = 4; break;
	case 0x0e: n = 8; break;
	default: return 0;
	}
	if (end - p - 1 < (long)n)
		return 0;
	*v = 0;
	for (unsigned i = n; i > 0; i--)
		*v = *v << 8 | p[i];
	return (int)n + 1;
}

unsigned aml_pkglen(const uint8_t *p, const uint8_t *end, uint32_t *len)
{
	if (p >= end)
		return 0;
	unsigned n = (unsigned)(p[0] >> 6) + 1;

	if (end - p < (long)n)
		return 0;
	if (n == 1) {
		*len = p[0] & 0x3f;
		return 1;
	}
	*len = p[0] & 0x0f;
	for (unsigned i = 1; i < n; i++)
		*len |= (uint32_t)p[i] << (4 + 8 * (i - 1));
	return n;
}

int aml_crs_at(const uint8_t *q, const uint8_t *end, const uint8_t **res,
	       const uint8_t **res_end)
{
	const uint8_t *b = q + 4;
	uint32_t plen;
	uint64_t n;

	/* Name: NameOp right before; Method: flags with ArgCount 0, then
	 * ReturnOp (the MethodOp and PkgLength lie before the name) */
	if (q[-1] != AML_NAME_OP) {
		if (q + 6 > end || (q[4] & 7) != 0 || q[5] != AML_RETURN_OP)
			return 0;
		b = q + 6;
	}
	if (b + 2 > end || b[0] != AML_BUFFER_OP)
		return 0;
	unsigned k = aml_pkglen(b + 1, end, &plen);
	if (!k || plen > (uint64_t)(end - b - 1))
		return 0;
	const uint8_t *bend = b + 1 + plen, *data = b + 1 + k;
	int c = aml_const(data, bend, &n);      /* BufferSize: its encoding's length varies */
	if (!c)
		return 0;
	*res = data + c;
	*res_end = *res + (n < (uint64_t)(bend - *res) ? n : (uint64_t)(bend - *res));
	return 1;
}

int acpi_res_next(const uint8_t **r, const uint8_t *end, struct acpi_res *out)
{
	const uint8_t *p = *r;
	unsigned hdr, len;

	if (p >= end)
		return 0;
	if (!(p[0] & 0x80)) {
		if ((p[0] & 0x78) == ACPI_RES_END)
			return 0;
		hdr = 1, len = p[0] & 7;
		out->tag = p[0] & 0x78;
	} else {
		if (end - p < 3)
			return -1;
		hdr = 3, len = (unsigned)p[1] | (unsigned)p[2] << 8;
		out->tag = p[0];
	}
	if (end - p < (long)(hdr + len))
		return -1;
	out->body = p + hdr;
	out->len = len;
	*r = p + hdr + len;
	return 1;
}

static uint64_t le_field(const uint8_t *p, unsigned width)
{
	uint64_t v = 0;

	for (unsigned b = width; b > 0; b--)
		v = v << 8 | p[b - 1];
	return v;
}

int acpi_res_addr_space(const struct acpi_res *res, struct acpi_addr_space *a)
{
	unsigned w = res->tag == ACPI_RES_DWORD ? 4 : res->tag == ACPI_RES_QWORD ? 8 :
		     res->tag == ACPI_RES_WORD ? 2 : 0;

	/* type, 2 flag bytes, then granularity, min, max, translation, length */
	if (!w || res->len < 3 + 5 * w)
		return 0;
	a->type = res->body[0];
	a->gran = le_field(res->body + 3, w);
	a->min = le_field(res->body + 3 + w, w);
	a->max = le_field(res->body + 3 + 2 * w, w);
	a->tra = le_field(res->body + 3 + 3 * w, w);
	a->len = le_field(res->body + 3 + 4 * w, w);
	return 1;
}

/* The first memory range and interrupt of a resource template. */
static void hid_resources(const uint8_t *r, const uint8_t *end, struct acpi_dev_res *d)
{
	struct acpi_res res;
	struct acpi_addr_space a;

	while (acpi_res_next(&r, end, &res) > 0) {
		const uint8_t *b = res.body;
		if (!d->len && res.tag == ACPI_RES_MEM32_FIXED && res.len >= 9) {
			d->base = le_field(b + 1, 4);
			d->len = le_field(b + 5, 4);
		} else if (!d->len && res.tag == ACPI_RES_MEM32 && res.len >= 17) {
			d->base = le_field(b + 1, 4);
			d->len = le_field(b + 13, 4);
		} else if (!d->len && acpi_res_addr_space(&res, &a) && a.type == 0) {
			d->base = a.min;
			d->len = a.len;
		} else if (!d->irq && res.tag == ACPI_RES_EXT_IRQ && res.len >= 6 && b[1]) {
			d->irq = (uint32_t)le_field(b + 2, 4);
		} else if (!d->irq && res.tag == ACPI_RES_IRQ && res.len >= 2) {
			uint16_t mask = (uint16_t)le_field(b, 2);
			for (unsigned i = 0; i < 16 && !d->irq; i++)
				if (mask & (1u << i))
					d->irq = i;
		}
	}
}

/* A DeviceOp at q: 1 and the device's extent [q, *dev_end), or 0. */
static int aml_device_at(const uint8_t *q, const uint8_t *end, const uint8_t **dev_end)
{
	uint32_t plen;

	if (end - q < 3 || q[0] != AML_EXT_PREFIX || q[1] != AML_DEVICE_OP)
		return 0;
	unsigned k = aml_pkglen(q + 2, end, &plen);
	if (!k || plen < k || plen > (uint64_t)(end - q - 2))
		return 0;
	*dev_end = q + 2 + plen;
	return 1;
}

/* The next 4-character name at or after from (> the AML's start) in a
 * device's own scope ending at end, nested devices skipped (their objects
 * are theirs), preceded by NameOp unless any_decl (a Method's name is
 * preceded by its PkgLength). */
static const uint8_t *aml_scope_find(const uint8_t *from, const uint8_t *end, const char *name,
				     int any_decl)
{
	const uint8_t *nested;

	for (const uint8_t *q = from; q + 4 <= end; q++) {
		if (aml_device_at(q, end, &nested)) {
			q = nested - 1;
			continue;
		}
		if (memcmp(q, name, 4) == 0 && (any_decl || q[-1] == AML_NAME_OP))
			return q;
	}
	return NULL;
}

unsigned acpi_find_hid(const struct boot_info *bi, const char *hid, struct acpi_dev_res *out,
		       unsigned max, unsigned *no_mem, const char **err)
{
	uint64_t dsdt = acpi_find_dsdt(bi, err);
	size_t hlen = strlen(hid);
	unsigned n = 0;

	*no_mem = 0;
	if (!dsdt)
		return 0;
	const uint8_t *p = (const uint8_t *)dsdt + 36, *end = (const uint8_t *)dsdt + rd32(dsdt + 4);
	for (const uint8_t *q = p; q < end; q++) {
		const uint8_t *dev_end, *h, *crs, *res, *res_end;
		if (!aml_device_at(q, end, &dev_end))
			continue;
		/* Name (_HID, "hid"): NameOp, the name, StringPrefix, the
		 * characters and their NUL */
		h = aml_scope_find(q + 3, dev_end, "_HID", 0);
		if (!h || dev_end - h < (long)(6 + hlen) || h[4] != AML_STRING ||
		    memcmp(h + 5, hid, hlen) != 0 || h[5 + hlen] != 0)
			continue;
		struct acpi_dev_res d = { 0 };
		/* the first _CRS that declares a buffer: a mere reference to
		 * the name (Return (_CRS)) is passed over */
		for (crs = q + 3; (crs = aml_scope_find(crs, dev_end, "_CRS", 1)); crs++) {
			if (aml_crs_at(crs, dev_end, &res, &res_end)) {
				hid_resources(res, res_end, &d);
				break;
			}
		}
		if (!d.len) {
			(*no_mem)++;
			continue;
		}
		if (n < max)
			out[n] = d;
		n++;
	}
	return n;
}
