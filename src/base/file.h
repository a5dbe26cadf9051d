/* Reading a whole file the user named (a kernel, an initrd, a config
 * file): the one place such files are opened, so that none of them can
 * block the start or cost more memory than it may use. Not for disks
 * (backend/disk.c) nor for files vireo writes. */
#ifndef VIREO_BASE_FILE_H
#define VIREO_BASE_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "base/log.h"

/* Opens path without blocking (O_NONBLOCK: a FIFO never waits for a
 * writer), and refuses, before reading a byte, what is not a regular file,
 * an empty file and one of more than max bytes (-EFBIG, *len then its
 * size). Otherwise *buf (malloc'd) holds its *len bytes. 0, or -errno
 * with e saying why (without the path: the caller names the file). */
int file_read_all(const char *path, uint64_t max, uint8_t **buf, size_t *len, struct errbuf *e)
	__attribute__((warn_unused_result));

#endif
