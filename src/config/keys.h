/* Options of the form "key=value,key=value" (a disk, a NIC, memory), each
 * described by one table of its keys: their types, ranges and choices.
 * One parser for every such option, whatever the input's source; the
 * caller names the source in messages ("--disk #2: queues=0: ..."). */
#ifndef VIREO_CONFIG_KEYS_H
#define VIREO_CONFIG_KEYS_H

#include <stdbool.h>
#include <stddef.h>

#include "base/log.h"

enum config_key_type {
	KEY_STRING,   /* char *, owned (strdup), non-empty, at most max bytes (0: any) */
	KEY_BOOL,     /* bool: on/off, true/false, 1/0 */
	KEY_UINT,     /* unsigned, decimal, min..max */
	KEY_ENUM,     /* int: the index of the value in choices */
	KEY_CUSTOM,   /* parse() reads the value into the field */
};

struct config_key {
	const char *name;             /* NULL: the value before the first comma
				       * when it has no '=' ("2G" of "2G,thp=on") */
	const char *label;            /* for messages when name is NULL: "size" */
	enum config_key_type type;
	size_t offset;                /* of the field in the option's struct */
	unsigned min, max;
	const char *const *choices;   /* KEY_ENUM, NULL-terminated */
	/* KEY_CUSTOM: parse value into field; 0, or -EINVAL with e saying why
	 * (without the key: the caller adds it). */
	int (*parse)(const char *value, void *field, struct errbuf *e);
	bool required;
	size_t seen_offset;           /* if nonzero: a bool set when the key is given */
};

#define CONFIG_KEYS_MAX 32

/* Applies spec to obj through the table keys[0..n). A key given twice (or
 * with an alias of the same field) is an error. Returns 0, or -EINVAL with e naming the key and the
 * problem; -ENOMEM. obj keeps what was applied either way (config_free
 * releases its strings). */
int config_apply_keys(const struct config_key *keys, unsigned n, void *obj, const char *spec,
		      struct errbuf *e) __attribute__((warn_unused_result));

/* "on", "true", "1" / "off", "false", "0". */
bool config_parse_bool(const char *s, bool *out);

#endif
