/* JSON objects against field tables; see json_fields.h. Mirrors what serde
 * does with Firecracker's structs (types, Option, deny_unknown_fields), in
 * our own words; the meaning of each field is firecracker.c's. */
#include "config/json_fields.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

int jf_load(const char *text, size_t len, size_t flags, json_t **out, struct errbuf *e)
{
	json_error_t je;

	*out = json_loadb(text, len, flags, &je);
	if (*out)
		return 0;
	for (char *c = je.text; *c; c++)
		if (*c < 0x20 || *c > 0x7e)
			*c = '?';
	return errf(e, -EINVAL, "malformed JSON at line %d, column %d: %s", je.line, je.column,
		    je.text);
}

int jf_parse(const char *text, size_t len, json_t **out, struct errbuf *e)
{
	/* Duplicate keys are refused as serde refuses a field given twice;
	 * jansson refuses "\u0000" in strings, so every string is a C string. */
	return jf_load(text, len, JSON_REJECT_DUPLICATES, out, e);
}

const char *jf_show(const char *s, char buf[JF_SHOW_MAX])
{
	size_t n = 0;

	for (; *s && n < 40; s++)
		buf[n++] = *s >= 0x20 && *s <= 0x7e ? *s : '?';
	if (*s) {
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n] = '\0';
	return buf;
}

void jf_path(char *buf, size_t size, const char *where, const char *name)
{
	char shown[JF_SHOW_MAX];

	/* a name from the input (an unknown key) is shown, not trusted */
	name = name ? jf_show(name, shown) : "";
	if (*where && *name)
		snprintf(buf, size, "%s.%s", where, name);
	else
		snprintf(buf, size, "%s", *where ? where : name);
}

int jf_fail(struct errbuf *e, int code, const char *where, const char *name, const char *fmt, ...)
{
	char path[JF_PATH_MAX];
	va_list ap;

	if (!e)
		return code;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	jf_path(path, sizeof(path), where, name);
	errf_prefix(e, path);
	return code;
}

/* "a string", "null", ...: what v is, for "expected X, got Y". */
static const char *jf_kind(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a number with a fraction or exponent";
	case JSON_TRUE: return "true";
	case JSON_FALSE: return "false";
	case JSON_NULL: return "null";
	}
	return "something else";
}

static int jf_check_uint(const json_t *v, const struct jf_field *f, const char *path,
			 struct errbuf *e)
{
	json_int_t n;

	if (!json_is_integer(v))
		return jf_fail(e, -EINVAL, path, NULL, "expected an integer from %" PRIu64
			       " to %" PRIu64 ", got %s", f->min, f->max, jf_kind(v));
	n = json_integer_value(v);
	if (n < 0)
		return jf_fail(e, -EINVAL, path, NULL, "%" JSON_INTEGER_FORMAT " is negative "
			       "(expected %" PRIu64 " to %" PRIu64 ")", n, f->min, f->max);
	if ((uint64_t)n < f->min || (uint64_t)n > f->max)
		return jf_fail(e, -EINVAL, path, NULL, "%" JSON_INTEGER_FORMAT " is out of range "
			       "(expected %" PRIu64 " to %" PRIu64 ")", n, f->min, f->max);
	return 0;
}

static int jf_check_enum(const json_t *v, const struct jf_field *f, const char *path,
			 struct errbuf *e)
{
	char list[160] = "", shown[JF_SHOW_MAX];
	size_t n = 0;

	if (json_is_string(v)) {
		const char *s = json_string_value(v);

		for (int i = 0; f->choices[i]; i++)
			if (f->flags & JF_NOCASE ? !strcasecmp(s, f->choices[i])
						 : !strcmp(s, f->choices[i]))
				return 0;
	}
	for (int i = 0; f->choices[i] && n < sizeof(list); i++)
		n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s", i ? ", " : "",
				      f->choices[i]);
	if (!json_is_string(v))
		return jf_fail(e, -EINVAL, path, NULL, "expected one of %s, got %s", list,
			       jf_kind(v));
	return jf_fail(e, -EINVAL, path, NULL, "'%s' is not one of %s",
		       jf_show(json_string_value(v), shown), list);
}

static int jf_check_string(const json_t *v, const struct jf_field *f, const char *path,
			   struct errbuf *e)
{
	size_t max = f->max ? f->max : JF_STRING_MAX;

	if (!json_is_string(v))
		return jf_fail(e, -EINVAL, path, NULL, "expected a string, got %s", jf_kind(v));
	if ((f->flags & JF_NONEMPTY) && !json_string_length(v))
		return jf_fail(e, -EINVAL, path, NULL, "must not be empty");
	if (json_string_length(v) > max)
		return jf_fail(e, -EINVAL, path, NULL, "longer than %zu bytes", max);
	return 0;
}

static int jf_check_array(const json_t *v, const struct jf_field *f, const char *path,
			  struct errbuf *e)
{
	char item[JF_PATH_MAX];
	const json_t *it;
	size_t i;
	int ret;

	if (!json_is_array(v))
		return jf_fail(e, -EINVAL, path, NULL, "expected an array, got %s", jf_kind(v));
	if (f->max && json_array_size(v) > f->max)
		return jf_fail(e, -EINVAL, path, NULL, "more than %" PRIu64 " items", f->max);
	json_array_foreach(v, i, it) {
		if (snprintf(item, sizeof(item), "%s[%zu]", path, i) >= (int)sizeof(item))
			return jf_fail(e, -EINVAL, path, NULL, "nested too deep");
		if (f->object)
			ret = jf_check(it, f->object, item, e);
		else if (f->flags & JF_ANY_ITEMS)
			ret = 0;
		else
			ret = jf_check_string(it, &(struct jf_field){ .flags = f->flags }, item, e);
		if (ret)
			return ret;
	}
	return 0;
}

/* One present field's value. */
static int jf_check_value(const json_t *v, const struct jf_field *f, const char *path,
			  struct errbuf *e)
{
	if (json_is_null(v) && (f->flags & JF_NULLABLE))
		return 0;
	switch (f->type) {
	case JF_STRING:
		return jf_check_string(v, f, path, e);
	case JF_BOOL:
		if (!json_is_boolean(v))
			return jf_fail(e, -EINVAL, path, NULL, "expected true or false, got %s",
				       jf_kind(v));
		return 0;
	case JF_UINT:
		return jf_check_uint(v, f, path, e);
	case JF_ENUM:
		return jf_check_enum(v, f, path, e);
	case JF_OBJECT:
		return jf_check(v, f->object, path, e);
	case JF_ARRAY:
		return jf_check_array(v, f, path, e);
	case JF_ANY:
		return 0;
	}
	return jf_fail(e, -EINVAL, path, NULL, "unknown field type");
}

static const struct jf_field *jf_find(const struct jf_object *o, const char *key)
{
	for (unsigned i = 0; i < o->n; i++)
		if (!strcmp(o->fields[i].name, key))
			return &o->fields[i];
	return NULL;
}

/* "unknown field (expected one of: a, b, c)" */
static int jf_unknown(const struct jf_object *o, const char *where, const char *key,
		      struct errbuf *e)
{
	char list[320] = "";
	size_t n = 0;

	for (unsigned i = 0; i < o->n && n < sizeof(list); i++)
		n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s", i ? ", " : "",
				      o->fields[i].name);
	if (!o->n)
		return jf_fail(e, -EINVAL, where, key, "unknown field (expected none)");
	return jf_fail(e, -EINVAL, where, key, "unknown field (expected one of: %s)", list);
}

int jf_check(const json_t *v, const struct jf_object *o, const char *where, struct errbuf *e)
{
	char path[JF_PATH_MAX];
	const char *key;
	const json_t *val;
	int ret;

	if (!json_is_object(v))
		return jf_fail(e, -EINVAL, where, NULL, "expected %s, got %s",
			       *where ? "an object" : "a JSON object", jf_kind(v));
	json_object_foreach((json_t *)v, key, val) {
		const struct jf_field *f = jf_find(o, key);

		if (!f) {
			if (o->open)
				continue;
			return jf_unknown(o, where, key, e);
		}
		jf_path(path, sizeof(path), where, key);
		ret = jf_check_value(val, f, path, e);
		if (ret)
			return ret;
	}
	for (unsigned i = 0; i < o->n; i++)
		if ((o->fields[i].flags & JF_REQUIRED) && !json_object_get(v, o->fields[i].name))
			return jf_fail(e, -EINVAL, where, o->fields[i].name, "missing (required)");
	return 0;
}

const json_t *jf_get(const json_t *obj, const char *name)
{
	const json_t *v = json_object_get(obj, name);

	return v && !json_is_null(v) ? v : NULL;
}

const char *jf_string(const json_t *obj, const char *name)
{
	return json_string_value(jf_get(obj, name));
}

bool jf_bool(const json_t *obj, const char *name, bool def)
{
	const json_t *v = jf_get(obj, name);

	return v ? json_is_true(v) : def;
}

uint64_t jf_uint(const json_t *obj, const char *name, uint64_t def)
{
	const json_t *v = jf_get(obj, name);

	return json_is_integer(v) ? (uint64_t)json_integer_value(v) : def;
}

int jf_enum(const json_t *obj, const char *name, const char *const *choices, int def)
{
	const char *s = jf_string(obj, name);

	for (int i = 0; s && choices[i]; i++)
		if (!strcasecmp(s, choices[i]))
			return i;
	return def;
}
