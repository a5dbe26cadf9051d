/* The key=value tokenizer: "path=a.img,readonly=on" one item at a time,
 * without copying or changing the input. Grammar only; what keys mean and
 * which values are valid is config/'s business. */
#ifndef VIREO_BASE_KV_H
#define VIREO_BASE_KV_H

#include <stdbool.h>
#include <stddef.h>

struct kv_item {
	const char *key;   /* the whole item when it has no '=' */
	size_t key_len;
	const char *val;   /* after the first '='; "" without one */
	size_t val_len;
	bool has_value;    /* the item had an '=' */
};

/* Takes the next comma-separated item of *s and moves *s past it (NULL
 * after the last). Items may be empty ("a,,b", "a,"); "" is one empty
 * item. Returns false when *s is NULL: no items left. */
bool kv_next(const char **s, struct kv_item *it);

/* Does the item's key equal name? */
bool kv_key_is(const struct kv_item *it, const char *name);

#endif
