/* The key=value tokenizer; see kv.h. */
#include "base/kv.h"

#include <string.h>

bool kv_next(const char **s, struct kv_item *it)
{
	const char *p = *s, *end, *eq;

	if (!p)
		return false;
	end = strchr(p, ',');
	if (!end)
		end = p + strlen(p);
	eq = memchr(p, '=', (size_t)(end - p));
	it->key = p;
	it->has_value = eq != NULL;
	if (eq) {
		it->key_len = (size_t)(eq - p);
		it->val = eq + 1;
		it->val_len = (size_t)(end - eq - 1);
	} else {
		it->key_len = (size_t)(end - p);
		it->val = end;
		it->val_len = 0;
	}
	*s = *end ? end + 1 : NULL;
	return true;
}

bool kv_key_is(const struct kv_item *it, const char *name)
{
	return strlen(name) == it->key_len && !memcmp(it->key, name, it->key_len);
}
