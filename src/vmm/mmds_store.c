/* The MMDS data store; see mmds_store.h. The value is a jansson tree; a
 * PUT or PATCH builds the next tree beside the current one and swaps it in
 * only once its size is known to fit, so a refused request changes
 * nothing. Sizes are of the compact serialization, as Firecracker's
 * (serde_json::to_vec). */
#include "vmm/mmds_store.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "config/json_fields.h"

struct mmds_store {
	pthread_mutex_t lock;
	json_t *data;           /* never NULL: json_null() until the first PUT */
	bool initialized;       /* a PUT happened */
	size_t limit;
};

#define MMDS_DUMP_FLAGS (JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY)

int mmds_store_create(struct mmds_store **out, size_t limit)
{
	struct mmds_store *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->lock, NULL);
	s->data = json_null();
	s->limit = limit;
	*out = s;
	return 0;
}

void mmds_store_destroy(struct mmds_store *s)
{
	if (!s)
		return;
	json_decref(s->data);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

void mmds_store_set_limit(struct mmds_store *s, size_t limit)
{
	pthread_mutex_lock(&s->lock);
	s->limit = limit;
	pthread_mutex_unlock(&s->lock);
}

/* Any JSON value, duplicate keys taking the last (as serde_json's Value). */
static int mmds_parse(const char *text, size_t len, json_t **out, struct errbuf *e)
{
	return jf_load(text, len, JSON_DECODE_ANY, out, e);
}

static bool mmds_fits(const json_t *v, size_t limit)
{
	return json_dumpb(v, NULL, 0, MMDS_DUMP_FLAGS) <= limit;
}

/* RFC 7396 §2: target merged with patch; returns the new target (a
 * reference the caller owns) or NULL when out of memory. target is
 * consumed. */
static json_t *mmds_merge(json_t *target, const json_t *patch)
{
	const char *key;
	json_t *pv;

	if (!json_is_object(patch)) {
		json_decref(target);
		return json_deep_copy(patch);
	}
	if (!json_is_object(target)) {
		json_decref(target);
		target = json_object();
		if (!target)
			return NULL;
	}
	json_object_foreach((json_t *)patch, key, pv) {
		json_t *cur, *next;

		if (json_is_null(pv)) {
			json_object_del(target, key);
			continue;
		}
		cur = json_object_get(target, key);
		next = mmds_merge(cur ? json_incref(cur) : json_null(), pv);
		if (!next || json_object_set_new(target, key, next)) {
			json_decref(target);
			return NULL;
		}
	}
	return target;
}

static int mmds_too_big(struct errbuf *e)
{
	return errf(e, -EFBIG, "MMDS limit exceeded error: The MMDS patch request doesn't fit.");
}

int mmds_store_put(struct mmds_store *s, const char *text, size_t len, struct errbuf *e)
{
	json_t *v;
	int ret = mmds_parse(text, len, &v, e);

	if (ret)
		return ret;
	pthread_mutex_lock(&s->lock);
	if (!mmds_fits(v, s->limit)) {
		ret = mmds_too_big(e);
	} else {
		json_decref(s->data);
		s->data = v;
		v = NULL;
		s->initialized = true;
	}
	pthread_mutex_unlock(&s->lock);
	json_decref(v);
	return ret;
}

int mmds_store_patch(struct mmds_store *s, const char *text, size_t len, struct errbuf *e)
{
	json_t *patch, *next = NULL;
	int ret = mmds_parse(text, len, &patch, e);

	if (ret)
		return ret;
	pthread_mutex_lock(&s->lock);
	if (!s->initialized) {
		ret = errf(e, -ENODATA, "MMDS error: The MMDS data store is not initialized.");
		goto out;
	}
	/* the merge works on a copy: the store changes only if it fits */
	next = mmds_merge(json_deep_copy(s->data), patch);
	if (!next)
		ret = errf(e, -ENOMEM, "out of memory");
	else if (!mmds_fits(next, s->limit))
		ret = mmds_too_big(e);
	if (!ret) {
		json_decref(s->data);
		s->data = next;
		next = NULL;
	}
out:
	pthread_mutex_unlock(&s->lock);
	json_decref(next);
	json_decref(patch);
	return ret;
}

char *mmds_store_dump(struct mmds_store *s)
{
	char *out;

	pthread_mutex_lock(&s->lock);
	out = json_is_null(s->data) ? strdup("{}") : json_dumps(s->data, MMDS_DUMP_FLAGS);
	pthread_mutex_unlock(&s->lock);
	return out;
}

/* One RFC 6901 reference token (len bytes, "~1" for '/', "~0" for '~')
 * applied to v: NULL when it names nothing. An array index is decimal
 * without a sign or leading zeros, as serde_json reads it. */
static json_t *mmds_step(json_t *v, const char *tok, size_t len)
{
	char key[256];
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		char c = tok[i];

		if (c == '~') {
			if (i + 1 >= len || (tok[i + 1] != '0' && tok[i + 1] != '1'))
				return NULL;
			c = tok[++i] == '0' ? '~' : '/';
		}
		if (n + 1 >= sizeof(key))
			return NULL;
		key[n++] = c;
	}
	key[n] = '\0';
	if (json_is_object(v))
		return strlen(key) == n ? json_object_get(v, key) : NULL;
	if (json_is_array(v)) {
		size_t idx = 0;

		if (!n || (key[0] == '0' && n > 1) || n > 9)
			return NULL;
		for (size_t i = 0; i < n; i++) {
			if (key[i] < '0' || key[i] > '9')
				return NULL;
			idx = idx * 10 + (size_t)(key[i] - '0');
		}
		return json_array_get(v, idx);
	}
	return NULL;
}

static int mmds_cmp_key(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* EC2 IMDS's text for v: 0 with *out malloc'd, 501, or -ENOMEM. */
static int mmds_imds(const json_t *v, char **out)
{
	const char **keys;
	size_t n = 0, total = 0, i = 0;
	const char *key;
	json_t *val;
	char *p;

	if (json_is_string(v)) {
		*out = strdup(json_string_value(v));
		return *out ? 0 : -ENOMEM;
	}
	if (!json_is_object(v))
		return 501;
	n = json_object_size(v);
	keys = calloc(n ? n : 1, sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	json_object_foreach((json_t *)v, key, val) {
		keys[i++] = key;
		total += strlen(key) + 2;
	}
	/* Firecracker's keys come sorted (a BTreeMap) */
	qsort(keys, n, sizeof(*keys), mmds_cmp_key);
	p = *out = malloc(total + 1);
	if (!p) {
		free(keys);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		size_t l = strlen(keys[i]);

		if (i)
			*p++ = '\n';
		memcpy(p, keys[i], l);
		p += l;
		if (json_is_object(json_object_get(v, keys[i])))
			*p++ = '/';
	}
	*p = '\0';
	free(keys);
	return 0;
}

int mmds_store_lookup(struct mmds_store *s, const char *path, enum mmds_format fmt,
		      char **body, size_t *len)
{
	size_t plen = strlen(path);
	json_t *v;
	int ret;

	/* one trailing '/' names the object itself (Firecracker's rule) */
	if (plen && path[plen - 1] == '/')
		plen--;
	pthread_mutex_lock(&s->lock);
	v = s->data;
	if (plen && path[0] != '/')
		v = NULL;
	for (size_t i = 0; v && i < plen;) {
		size_t j = i + 1;

		while (j < plen && path[j] != '/')
			j++;
		v = mmds_step(v, path + i + 1, j - i - 1);
		i = j;
	}
	if (!v) {
		ret = 404;
	} else if (fmt == MMDS_FORMAT_JSON) {
		*body = json_dumps(v, MMDS_DUMP_FLAGS);
		ret = *body ? 200 : -ENOMEM;
	} else {
		ret = mmds_imds(v, body);
		if (!ret)
			ret = 200;
	}
	pthread_mutex_unlock(&s->lock);
	if (ret == 200)
		*len = strlen(*body);
	return ret;
}
