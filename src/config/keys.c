/* Table-driven key=value options; see keys.h. */
#include "config/keys.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/kv.h"

#define KEY_VALUE_MAX 4096

bool config_parse_bool(const char *s, bool *out)
{
	if (!strcmp(s, "on") || !strcmp(s, "true") || !strcmp(s, "1"))
		*out = true;
	else if (!strcmp(s, "off") || !strcmp(s, "false") || !strcmp(s, "0"))
		*out = false;
	else
		return false;
	return true;
}

static int key_parse_uint(const struct config_key *k, const char *v, unsigned *out,
			  struct errbuf *e)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(v, &end, 10);
	if (*v < '0' || *v > '9' || *end || errno || n < k->min || n > k->max)
		return errf(e, -EINVAL, "%s=%s: expected %u to %u", k->name, v, k->min, k->max);
	*out = (unsigned)n;
	return 0;
}

static int key_parse_enum(const struct config_key *k, const char *v, int *out, struct errbuf *e)
{
	char list[256] = "";
	size_t n = 0;

	for (int i = 0; k->choices[i]; i++) {
		if (!strcmp(v, k->choices[i])) {
			*out = i;
			return 0;
		}
	}
	for (int i = 0; k->choices[i] && n < sizeof(list); i++)
		n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s",
				      i ? (k->choices[i + 1] ? ", " : " or ") : "", k->choices[i]);
	return errf(e, -EINVAL, "%s=%s: expected %s", k->name, v, list);
}

static const char *key_name(const struct config_key *k)
{
	return k->name ? k->name : k->label ? k->label : "value";
}

/* One value into its field. */
static int key_apply(const struct config_key *k, void *obj, const char *v, struct errbuf *e)
{
	void *field = (char *)obj + k->offset;
	const char *name = key_name(k);
	char **str = field;
	int ret;

	switch (k->type) {
	case KEY_STRING:
		if (!*v)
			return errf(e, -EINVAL, "%s: empty", name);
		if (k->max && strlen(v) > k->max)
			return errf(e, -EINVAL, "%s=%s: longer than %u bytes", name, v, k->max);
		free(*str);
		*str = strdup(v);
		return *str ? 0 : errf(e, -ENOMEM, "out of memory");
	case KEY_BOOL:
		if (!config_parse_bool(v, field))
			return errf(e, -EINVAL, "%s=%s: expected on or off", name, v);
		return 0;
	case KEY_UINT:
		return key_parse_uint(k, v, field, e);
	case KEY_ENUM:
		return key_parse_enum(k, v, field, e);
	case KEY_CUSTOM:
		ret = k->parse(v, field, e);
		if (ret && k->name)
			errf_prefix(e, k->name);
		return ret;
	}
	return errf(e, -EINVAL, "%s: unknown key type", name);
}

/* The key an item names: the positional one for a first item without
 * '=' where the table has one, else the one of that name, else NULL. */
static int key_find(const struct config_key *keys, unsigned n, const struct kv_item *it,
		    bool first)
{
	for (unsigned i = 0; i < n; i++) {
		if (!keys[i].name ? first && !it->has_value
				  : it->has_value && kv_key_is(it, keys[i].name))
			return (int)i;
	}
	return -1;
}

int config_apply_keys(const struct config_key *keys, unsigned n, void *obj, const char *spec,
		      struct errbuf *e)
{
	const char *s = spec;
	struct kv_item it;
	uint32_t seen = 0;
	bool first = true;
	char val[KEY_VALUE_MAX];
	int ret, i;

	if (n > CONFIG_KEYS_MAX)
		return errf(e, -EINVAL, "too many keys");
	while (kv_next(&s, &it)) {
		const struct config_key *k;

		i = key_find(keys, n, &it, first);
		first = false;
		if (i < 0 && !it.has_value)
			return errf(e, -EINVAL, "'%.*s' is not key=value", (int)it.key_len, it.key);
		if (i < 0)
			return errf(e, -EINVAL, "unknown key '%.*s'", (int)it.key_len, it.key);
		k = &keys[i];
		/* twice, or through an alias ("ro" and "readonly"): an error */
		for (unsigned j = 0; j < n; j++)
			if ((seen & (1u << j)) && keys[j].offset == k->offset)
				return errf(e, -EINVAL, "%s given twice", key_name(k));
		if (!k->name) {
			it.val = it.key;
			it.val_len = it.key_len;
		}
		if (it.val_len >= sizeof(val))
			return errf(e, -EINVAL, "%s: the value is too long", key_name(k));
		memcpy(val, it.val, it.val_len);
		val[it.val_len] = '\0';
		ret = key_apply(k, obj, val, e);
		if (ret)
			return ret;
		seen |= 1u << i;
		if (k->seen_offset)
			*(bool *)((char *)obj + k->seen_offset) = true;
	}
	for (i = 0; i < (int)n; i++)
		if (keys[i].required && !(seen & (1u << i)))
			return errf(e, -EINVAL, "%s is required", key_name(&keys[i]));
	return 0;
}
