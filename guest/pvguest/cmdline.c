/* cmdline.c: key=value lookup in the kernel command line (tokens separated
 * by blanks) and in a test's option list (separated by commas), and number
 * parsing. The command line is guest input from the VMM: bounded reads only. */
#include "lib.h"

static int is_sep(char c, char sep)
{
	return sep == ' ' ? (c == ' ' || c == '\t' || c == '\n') : c == sep;
}

/* The nth (0 = first) token of s whose key is key. */
static int list_get(const char *s, char sep, const char *key, unsigned nth, char *val,
		    size_t size)
{
	size_t klen = strlen(key);

	while (s && *s) {
		while (*s && is_sep(*s, sep))
			s++;
		const char *tok = s;
		while (*s && !is_sep(*s, sep))
			s++;
		size_t tlen = s - tok;
		if (tlen < klen || strncmp(tok, key, klen) != 0)
			continue;
		if (tlen != klen && tok[klen] != '=')
			continue;
		if (nth--)
			continue;
		const char *v = tlen == klen ? tok + tlen : tok + klen + 1;
		size_t vlen = s - v;
		if (size) {
			size_t n = vlen < size - 1 ? vlen : size - 1;
			memcpy(val, v, n);
			val[n] = 0;
		}
		return (int)vlen;
	}
	return -1;
}

int cmdline_get(const char *cmdline, const char *key, char *val, size_t size)
{
	return list_get(cmdline, ' ', key, 0, val, size);
}

int cmdline_get_nth(const char *cmdline, const char *key, unsigned nth, char *val, size_t size)
{
	return list_get(cmdline, ' ', key, nth, val, size);
}

int optlist_get(const char *opts, const char *key, char *val, size_t size)
{
	return list_get(opts, ',', key, 0, val, size);
}

static int digit(char c, unsigned base)
{
	int d = c >= '0' && c <= '9' ? c - '0' :
		c >= 'a' && c <= 'f' ? c - 'a' + 10 :
		c >= 'A' && c <= 'F' ? c - 'A' + 10 : 99;
	return d < (int)base ? d : -1;
}

static int parse_base(const char *s, unsigned base, uint64_t *out, const char **end)
{
	uint64_t v = 0;
	const char *p = s;

	for (; digit(*p, base) >= 0; p++) {
		uint64_t d = digit(*p, base);
		if (v > (UINT64_MAX - d) / base)
			return -1;
		v = v * base + d;
	}
	if (p == s)
		return -1;
	*out = v;
	*end = p;
	return 0;
}

int parse_u64_prefix(const char *s, unsigned base, uint64_t *out, const char **end)
{
	if (!base) {
		/* C notation, as the kernel's simple_strtoull(s, &end, 0) reads it */
		if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X') && digit(s[2], 16) >= 0)
			base = 16, s += 2;
		else
			base = s[0] == '0' ? 8 : 10;
	}
	return parse_base(s, base, out, end);
}

int parse_u64(const char *s, uint64_t *out, int suffix)
{
	const char *end;
	uint64_t v;
	int hex = s[0] == '0' && (s[1] == 'x' || s[1] == 'X');

	if (parse_base(hex ? s + 2 : s, hex ? 16 : 10, &v, &end))
		return -1;
	if (suffix && *end) {
		unsigned shift = *end == 'K' || *end == 'k' ? 10 :
				 *end == 'M' || *end == 'm' ? 20 :
				 *end == 'G' || *end == 'g' ? 30 : 0;
		if (!shift || v > (UINT64_MAX >> shift))
			return -1;
		v <<= shift;
		end++;
	}
	if (*end)
		return -1;
	*out = v;
	return 0;
}

int parse_hex_u64(const char *s, uint64_t *out)
{
	const char *end;
	uint64_t v;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	if (parse_base(s, 16, &v, &end) || *end)
		return -1;
	*out = v;
	return 0;
}
