/* Snapshot records: the state file's format, and nothing of what goes in
 * it. A state file is a header (magic, format version, the vireo version
 * that wrote it, the body's length and CRC-32) and a body of records, each
 * a name ("vcpu0/regs", "blk0/queue1"), a version of its own and a length,
 * so that a newer vireo loads an older file: it finds the records it
 * knows by name, reads each by its version, and skips those it does not
 * know. Everything read from a file is untrusted: the reader checks every
 * length against what is there before a byte is used. */
#ifndef VIREO_BASE_SNAP_H
#define VIREO_BASE_SNAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/log.h"

#define SNAP_MAGIC "VIREOSNP"
#define SNAP_FORMAT 1            /* the header's and the body's layout */
#define SNAP_NAME_MAX 48
#define SNAP_MAX_RECORDS 4096
#define SNAP_MAX_BODY (64u << 20)

/* Records built in memory, then written out whole (snap_write_file). */
struct snap_writer {
	uint8_t *buf;
	size_t len, cap;
	int error;                   /* the first -errno; later puts do nothing */
};

void snap_writer_init(struct snap_writer *w);
void snap_writer_free(struct snap_writer *w);
/* Appends a record; name at most SNAP_NAME_MAX bytes. Errors stick in
 * w->error (checked once, at snap_write_file). */
void snap_put(struct snap_writer *w, const char *name, uint32_t version, const void *data,
	      size_t len);
void snap_putf(struct snap_writer *w, uint32_t version, const void *data, size_t len,
	       const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Writes the header and the records to path through a temporary file in
 * the same directory renamed over it, so that a failure never leaves half
 * a file under path. 0, or -errno with e set. */
int snap_write_file(struct snap_writer *w, const char *path, const char *vireo_version,
		    struct errbuf *e) __attribute__((warn_unused_result));

/* The same bytes in memory (a state sent over a socket): *buf (malloc'd)
 * and *len. 0, or -errno (w->error, -ENOMEM). */
int snap_image(struct snap_writer *w, const char *vireo_version, uint8_t **buf, size_t *len)
	__attribute__((warn_unused_result));

struct snap_record {
	char name[SNAP_NAME_MAX + 1];
	uint32_t version;
	const uint8_t *data;
	size_t len;
};

/* A state file read and checked: magic, format, length, CRC, and every
 * record's bounds; no name twice. */
struct snap_reader {
	uint8_t *file;
	size_t file_len;
	char vireo_version[33];
	unsigned nr;
	struct snap_record *rec;
};

/* Parses buf (len bytes, taken over: freed by snap_reader_free). 0, or
 * -EINVAL with e saying what is wrong (not where: the caller names the
 * file). */
int snap_reader_parse(struct snap_reader *r, uint8_t *buf, size_t len, struct errbuf *e)
	__attribute__((warn_unused_result));
void snap_reader_free(struct snap_reader *r);
/* The record called name, or NULL. */
const struct snap_record *snap_find(const struct snap_reader *r, const char *name);
const struct snap_record *snap_findf(const struct snap_reader *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The record name, of this version and exactly len bytes, into out: 0,
 * -ENOENT (e set) when there is none, -EINVAL (e set) when it has another
 * version or size. A reader of a record whose layout changed looks at
 * snap_find's version itself. */
int snap_get(const struct snap_reader *r, const char *name, uint32_t version, void *out,
	     size_t len, struct errbuf *e) __attribute__((warn_unused_result));

uint32_t snap_crc32(const void *data, size_t len);
/* A snapshot's file written whole beside path and renamed over it, so
 * that a failure never leaves half a file under path: begin makes the
 * temporary file (tmp: its name, size bytes) and returns its fd or
 * -errno; end takes the writing's result, closes, and renames (0) or
 * removes the temporary file, returning 0 or the first -errno. */
int snap_file_begin(const char *path, char *tmp, size_t size);
int snap_file_end(int fd, const char *tmp, const char *path, int ret)
	__attribute__((warn_unused_result));
/* All of buf written to fd at off (a state or memory file): 0 or -errno. */
int snap_pwrite_all(int fd, const void *buf, size_t len, off_t off)
	__attribute__((warn_unused_result));

#endif
