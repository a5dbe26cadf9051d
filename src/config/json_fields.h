/* JSON objects checked against a table of their fields (jansson): each
 * field's type, range, choices, whether it is required or may be null,
 * and whether unknown fields are refused, with one-line messages that
 * name the field by its path ("drives[2].rate_limiter.bandwidth.size").
 * Validation only: what the values mean is the caller's (firecracker.c).
 * No state; every function is safe from any thread. */
#ifndef VIREO_CONFIG_JSON_FIELDS_H
#define VIREO_CONFIG_JSON_FIELDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/log.h"

#define JF_PATH_MAX 160              /* a field's path in messages */
#define JF_STRING_MAX 4095           /* a string field's default length limit (PATH_MAX - 1) */

/* flags of a field; without JF_REQUIRED a missing field takes its default */
#define JF_REQUIRED 1u               /* must be present (serde: not an Option, no default) */
#define JF_NULLABLE 2u               /* null is as if absent (serde: an Option) */
#define JF_NOCASE 4u                 /* JF_ENUM: the choices match in any case */
#define JF_NONEMPTY 8u               /* JF_STRING: "" is refused */
#define JF_ANY_ITEMS 16u             /* JF_ARRAY: items of any type (else strings, or .object) */

enum jf_type {
	JF_STRING,   /* at most .max bytes (0: JF_STRING_MAX) */
	JF_BOOL,
	JF_UINT,     /* an integer from .min to .max; no fraction, no sign */
	JF_ENUM,     /* one of .choices */
	JF_OBJECT,   /* checked against .object */
	JF_ARRAY,    /* each item checked against .object, or see JF_ANY_ITEMS */
	JF_ANY,      /* anything: the caller looks */
};

struct jf_object;

struct jf_field {
	const char *name;
	enum jf_type type;
	unsigned flags;
	uint64_t min, max;
	const char *const *choices;  /* JF_ENUM, NULL-terminated */
	const struct jf_object *object;
};

struct jf_object {
	const struct jf_field *fields;
	unsigned n;
	bool open;                   /* unknown fields are ignored, not refused */
};

/* Parses text (not NUL-terminated) with jansson's decoding flags. Returns
 * 0 with *out owned by the caller (json_decref), or -EINVAL with e saying
 * where the JSON breaks (its text made printable). */
int jf_load(const char *text, size_t len, size_t flags, json_t **out, struct errbuf *e)
	__attribute__((warn_unused_result));
/* jf_load with duplicate keys refused: an API body or config file. */
int jf_parse(const char *text, size_t len, json_t **out, struct errbuf *e)
	__attribute__((warn_unused_result));

/* Checks that v is an object as o describes, recursively. where is the
 * path of v itself ("" for a request body, "drives[2]" in a config file).
 * Returns 0, or -EINVAL with e naming the first bad field. */
int jf_check(const json_t *v, const struct jf_object *o, const char *where, struct errbuf *e)
	__attribute__((warn_unused_result));

/* Readers for a checked object. A field that is absent or null reads as
 * NULL or the default. */
const json_t *jf_get(const json_t *obj, const char *name);
const char *jf_string(const json_t *obj, const char *name);
bool jf_bool(const json_t *obj, const char *name, bool def);
uint64_t jf_uint(const json_t *obj, const char *name, uint64_t def);
/* The index of the value in choices (any case), or def. */
int jf_enum(const json_t *obj, const char *name, const char *const *choices, int def);

/* "<where>.<name>" (or the one that is not empty) into buf. */
void jf_path(char *buf, size_t size, const char *where, const char *name);
/* Formats "<where>.<name>: <message>" into e and returns code. */
int jf_fail(struct errbuf *e, int code, const char *where, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
/* s as it may stand in a one-line message: at most 40 bytes, anything
 * but printable ASCII as '?', "..." where it was cut. Returns buf. */
#define JF_SHOW_MAX 48
const char *jf_show(const char *s, char buf[JF_SHOW_MAX]);

#endif
