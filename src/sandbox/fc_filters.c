/* Reading Firecracker's compiled seccomp filters (see fc_filters.h): a
 * decoder for the one bitcode type seccompiler-bin writes, written from
 * the format's description, and Firecracker's checks on the categories.
 *
 * bitcode 0.6's serde mode is columnar: each kind of value in the type
 * gets one buffer, the buffers in the order the encoder first met each
 * kind. For HashMap<String, Vec<u64>> that is: the map's length, the keys
 * (their lengths, then their bytes), the programs' lengths, then every
 * instruction of every program. A buffer whose values are never met (no
 * key, every program empty) is absent. Lengths are bytes, 255 an escape
 * to a u64 list after them; byte lists may be packed several to a byte;
 * u64 lists may be narrowed (to 4, 2 or 1 bytes) and offset by their
 * minimum. Little-endian throughout. */
#include "sandbox/fc_filters.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* bitcode refuses any total of lengths from here on (its allocations
 * could overflow), whatever the input's size. */
#define BC_HUGE_LEN (0x7FFFFFFFFFFFFFFFull / 4096)

struct bc_in {
	const uint8_t *p;
	size_t left;
	size_t size;              /* the whole input: offsets in messages */
};

static int bc_fail(const struct bc_in *in, struct errbuf *e, const char *what)
{
	return errf(e, -EINVAL, "not a seccompiler-bin file (bitcode): %s at byte %zu", what,
		    in->size - in->left);
}

static int bc_take(struct bc_in *in, size_t n, const uint8_t **out, struct errbuf *e)
{
	if (n > in->left)
		return bc_fail(in, e, "the file ends early");
	*out = in->p;
	in->p += n;
	in->left -= n;
	return 0;
}

/* n bytes, packed or not (bitcode's pack_bytes): n <= 2 as they are, else
 * a packing byte: 0 as they are; otherwise (v + 1) / 2 picks how many
 * states a byte has (1: 16, 2: 6, 3: 4, 4: 3, 5: 2), several bytes packed
 * into each as base-states digits, least significant first, and an odd v
 * adds a byte that is added to each (their minimum). *out is malloc'd
 * (n or 1 bytes) only once the input is known to hold them. */
static int bc_bytes(struct bc_in *in, size_t n, uint8_t **out, struct errbuf *e)
{
	static const uint8_t states[] = { 16, 6, 4, 3, 2 }, per_byte[] = { 2, 3, 4, 5, 8 };
	const uint8_t *src = NULL, *hdr = NULL, *minp = NULL;
	uint8_t *b, min = 0;
	unsigned p, f, d;
	size_t need;
	int ret;

	if (n <= 2 || (in->left && in->p[0] == 0)) {
		if (n > 2 && (ret = bc_take(in, 1, &hdr, e)))
			return ret;
		if ((ret = bc_take(in, n, &src, e)))
			return ret;
		b = malloc(n ? n : 1);
		if (!b)
			return errf(e, -ENOMEM, "out of memory");
		memcpy(b, src, n);
		*out = b;
		return 0;
	}
	if ((ret = bc_take(in, 1, &hdr, e)))
		return ret;
	p = (hdr[0] + 1u) / 2;
	if (p < 1 || p > 5)
		return bc_fail(in, e, "an invalid packing");
	if ((hdr[0] & 1) && (ret = bc_take(in, 1, &minp, e)))
		return ret;
	if (hdr[0] & 1)
		min = minp[0];
	f = states[p - 1];
	d = per_byte[p - 1];
	need = n / d + (n % d != 0);
	if ((ret = bc_take(in, need, &src, e)))
		return ret;
	b = malloc(n);
	if (!b)
		return errf(e, -ENOMEM, "out of memory");
	for (size_t i = 0, j = 0; j < need; j++) {
		unsigned v = src[j];

		for (unsigned k = 0; k < d && i < n; k++, i++) {
			b[i] = (uint8_t)(v % f + min);
			v /= f;
		}
	}
	*out = b;
	return 0;
}

static uint64_t bc_le(const uint8_t *p, unsigned w)
{
	uint64_t v = 0;

	for (unsigned i = w; i--;)
		v = v << 8 | p[i];
	return v;
}

/* n u64s (bitcode's pack_ints): none for n == 0; else a packing byte v,
 * (v + 1) / 2 + 1 picking the width (1: 8 bytes, 2: 4, 3: 2, 4: 1 byte,
 * those bytes packed again as bc_bytes), an odd v adding a u64 minimum
 * (8 bytes) added to each, wrapping. */
static int bc_u64s(struct bc_in *in, size_t n, uint64_t **out, struct errbuf *e)
{
	static const unsigned width[] = { 8, 4, 2, 1 };
	const uint8_t *hdr = NULL, *src = NULL;
	uint64_t *v, min = 0;
	uint8_t *bytes = NULL;
	unsigned p, w;
	int ret;

	*out = NULL;
	if (!n)
		return 0;
	if ((ret = bc_take(in, 1, &hdr, e)))
		return ret;
	p = (hdr[0] + 1u) / 2 + 1;
	if (p > 4)
		return bc_fail(in, e, "an invalid packing");
	if (hdr[0] & 1) {
		if ((ret = bc_take(in, 8, &src, e)))
			return ret;
		min = bc_le(src, 8);
	}
	w = width[p - 1];
	if (w == 1) {
		if ((ret = bc_bytes(in, n, &bytes, e)))
			return ret;
	} else {
		if (in->left / w < n)
			return bc_fail(in, e, "the file ends early");
		if ((ret = bc_take(in, n * w, &src, e)))
			return ret;
	}
	v = malloc(n * sizeof(*v));
	if (!v) {
		free(bytes);
		return errf(e, -ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n; i++)
		v[i] = (w == 1 ? bytes[i] : bc_le(src + i * w, w)) + min;
	free(bytes);
	*out = v;
	return 0;
}

/* n lengths (bitcode's LengthDecoder): n bytes as bc_bytes, each 255 an
 * escape to the next of the u64s that follow (read only when the bytes'
 * sum reaches 255). *sum is their total, refused from BC_HUGE_LEN on. */
static int bc_lengths(struct bc_in *in, size_t n, uint64_t **out, uint64_t *sum,
		      struct errbuf *e)
{
	uint8_t *small;
	uint64_t *lens, *large = NULL, s = 0;
	size_t nr_large = 0;
	int ret = bc_bytes(in, n, &small, e);

	if (ret)
		return ret;
	for (size_t i = 0; i < n; i++) {
		s += small[i];
		nr_large += small[i] == 255;
	}
	if (s >= 255 && (ret = bc_u64s(in, nr_large, &large, e))) {
		free(small);
		return ret;
	}
	lens = malloc((n ? n : 1) * sizeof(*lens));
	if (!lens) {
		free(small);
		free(large);
		return errf(e, -ENOMEM, "out of memory");
	}
	s = 0;
	for (size_t i = 0, j = 0; i < n; i++) {
		lens[i] = small[i] < 255 ? small[i] : large[j++];
		if (lens[i] > UINT64_MAX - s) {
			s = UINT64_MAX;
			break;
		}
		s += lens[i];
	}
	free(small);
	free(large);
	if (s >= BC_HUGE_LEN) {
		free(lens);
		return bc_fail(in, e, "a huge length");
	}
	*out = lens;
	*sum = s;
	return 0;
}

/* Rust's str::from_utf8: no overlong forms, no surrogates, nothing past
 * U+10FFFF. */
static bool bc_utf8(const uint8_t *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint8_t c = s[i];
		unsigned more;
		uint8_t lo = 0x80, hi = 0xbf;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			more = 1;
		else if (c >= 0xe0 && c <= 0xef)
			more = 2;
		else if (c >= 0xf0 && c <= 0xf4)
			more = 3;
		else
			return false;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
		else if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
		if (n - i - 1 < more || s[i + 1] < lo || s[i + 1] > hi)
			return false;
		for (unsigned k = 2; k <= more; k++)
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
		i += 1 + more;
	}
	return true;
}

void fc_map_free(struct fc_map *m)
{
	for (size_t i = 0; m->entries && i < m->nr; i++) {
		free(m->entries[i].key);
		free(m->entries[i].vals);
	}
	free(m->entries);
	m->entries = NULL;
	m->nr = 0;
}

int fc_map_decode(const uint8_t *buf, size_t len, struct fc_map *out, struct errbuf *e)
{
	struct bc_in in = { buf, len, len };
	struct fc_map m = { NULL, 0 };
	uint64_t *nr, *key_lens = NULL, *val_lens = NULL, *vals = NULL;
	uint64_t n, key_total, val_total = 0;
	const uint8_t *keys = NULL;
	int ret;

	ret = bc_lengths(&in, 1, &nr, &n, e);
	if (ret)
		return ret;
	free(nr);
	if (n) {
		/* each step sizes what it allocates by what the input holds */
		if ((ret = bc_lengths(&in, n, &key_lens, &key_total, e)) ||
		    (ret = bc_take(&in, key_total, &keys, e)) ||
		    (ret = bc_lengths(&in, n, &val_lens, &val_total, e)) ||
		    (ret = bc_u64s(&in, val_total, &vals, e)))
			goto out;
	}
	if (in.left) {
		ret = bc_fail(&in, e, "bytes after the map");
		goto out;
	}
	m.entries = calloc(n ? n : 1, sizeof(*m.entries));
	if (!m.entries) {
		ret = errf(e, -ENOMEM, "out of memory");
		goto out;
	}
	m.nr = n;
	for (uint64_t i = 0, ko = 0, vo = 0; i < n; i++) {
		struct fc_map_entry *en = &m.entries[i];

		if (!bc_utf8(keys + ko, key_lens[i])) {
			ret = errf(e, -EINVAL, "not a seccompiler-bin file (bitcode): key %llu is "
				   "not UTF-8", (unsigned long long)i);
			goto out;
		}
		en->key = malloc(key_lens[i] + 1);
		en->vals = malloc((val_lens[i] ? val_lens[i] : 1) * sizeof(*vals));
		if (!en->key || !en->vals) {
			ret = errf(e, -ENOMEM, "out of memory");
			goto out;
		}
		memcpy(en->key, keys + ko, key_lens[i]);
		en->key[key_lens[i]] = '\0';
		en->key_len = key_lens[i];
		if (val_lens[i])
			memcpy(en->vals, vals + vo, val_lens[i] * sizeof(*vals));
		en->nr_vals = val_lens[i];
		ko += key_lens[i];
		vo += val_lens[i];
	}
	*out = m;
	m.entries = NULL;
out:
	fc_map_free(&m);
	free(key_lens);
	free(val_lens);
	free(vals);
	return ret;
}

static const char *const fc_names[FC_CAT_NR] = { "vmm", "api", "vcpu" };

/* The category key k names after Rust's to_lowercase, or -1. Only ASCII
 * letters can lowercase into "vmm", "api" or "vcpu" (no other character
 * lowercases to one of v, m, a, p, i, c, u alone), so ASCII folding is
 * exact here. */
static int fc_category(const struct fc_map_entry *k)
{
	for (int c = 0; c < FC_CAT_NR; c++)
		if (k->key_len == strlen(fc_names[c]) && !strncasecmp(k->key, fc_names[c], k->key_len))
			return c;
	return -1;
}

/* name lowercased (ASCII) onto the list in buf, comma-separated; NULs
 * shown as '?' (errf escapes the rest). */
static void fc_append_name(char *buf, size_t size, const struct fc_map_entry *k)
{
	size_t n = strlen(buf);

	if (n && n + 1 < size)
		buf[n++] = ',';
	if (!k->key_len && n + 3 < size) {
		memcpy(buf + n, "\"\"", 3); /* the empty name, shown */
		return;
	}
	for (size_t i = 0; i < k->key_len && n + 1 < size; i++) {
		char c = k->key[i];

		buf[n++] = c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c ? c : '?';
	}
	buf[n] = '\0';
}

int fc_filters_from_map(struct fc_map *m, struct fc_filters *out, struct errbuf *e)
{
	int idx[FC_CAT_NR] = { -1, -1, -1 };
	char bad[256] = "";
	size_t nr_bad = 0;

	for (size_t i = 0; i < m->nr; i++)
		if (fc_category(&m->entries[i]) < 0 && ++nr_bad)
			fc_append_name(bad, sizeof(bad), &m->entries[i]);
	if (nr_bad)
		return errf(e, -EINVAL, "invalid thread categories: %s (Firecracker's are vmm, api, "
			    "vcpu)", bad);
	for (size_t i = 0; i < m->nr; i++) {
		int c = fc_category(&m->entries[i]);

		if (idx[c] >= 0)
			return errf(e, -EINVAL, "thread category %s given twice", fc_names[c]);
		idx[c] = (int)i;
	}
	for (int c = 0; c < FC_CAT_NR; c++)
		if (idx[c] < 0)
			return errf(e, -EINVAL, "missing thread category: %s", fc_names[c]);
	for (int c = 0; c < FC_CAT_NR; c++)
		if (m->entries[idx[c]].nr_vals > FC_FILTERS_MAX_INSNS)
			return errf(e, -EINVAL, "the %s program has %zu instructions, more than the "
				    "kernel's %d", fc_names[c], m->entries[idx[c]].nr_vals,
				    FC_FILTERS_MAX_INSNS);
	for (int c = 0; c < FC_CAT_NR; c++) {
		struct fc_map_entry *en = &m->entries[idx[c]];

		out->len[c] = (uint16_t)en->nr_vals;
		out->prog[c] = en->nr_vals ? en->vals : NULL;
		if (en->nr_vals)
			en->vals = NULL;
	}
	return 0;
}

int fc_filters_decode(const uint8_t *buf, size_t len, struct fc_filters *out, struct errbuf *e)
{
	struct fc_map m;
	int ret = fc_map_decode(buf, len, &m, e);

	if (ret)
		return ret;
	ret = fc_filters_from_map(&m, out, e);
	fc_map_free(&m);
	return ret;
}

int fc_filters_load(const char *path, struct fc_filters *out, struct errbuf *e)
{
	uint8_t *buf = malloc(FC_FILTERS_MAX_BYTES + 1);
	size_t len = 0;
	int fd, ret;

	if (!buf)
		return errf(e, -ENOMEM, "out of memory");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = errf(e, -errno, "%s", strerror(errno));
		free(buf);
		return ret;
	}
	/* one byte past the limit tells a file that is too large */
	while (len < FC_FILTERS_MAX_BYTES + 1) {
		ssize_t r = read(fd, buf + len, FC_FILTERS_MAX_BYTES + 1 - len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ret = errf(e, -errno, "%s", strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	if (len > FC_FILTERS_MAX_BYTES)
		ret = errf(e, -EFBIG, "larger than %d bytes (Firecracker's limit)",
			   FC_FILTERS_MAX_BYTES);
	else
		ret = fc_filters_decode(buf, len, out, e);
out:
	close(fd);
	free(buf);
	return ret;
}

void fc_filters_free(struct fc_filters *f)
{
	for (int c = 0; c < FC_CAT_NR; c++) {
		free(f->prog[c]);
		f->prog[c] = NULL;
		f->len[c] = 0;
	}
}
