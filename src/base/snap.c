/* The state file's records; see snap.h. Layout (little-endian, x86):
 *   header: "VIREOSNP", u32 format, u32 crc32(body), u64 body length,
 *           char vireo_version[32] (NUL-padded)
 *   body:   records, each u32 name length, the name, u32 version,
 *           u64 data length, the data */
#include "base/snap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

struct snap_header {
	char magic[8];
	uint32_t format;
	uint32_t crc;
	uint64_t body_len;
	char version[32];
};

uint32_t snap_crc32(const void *data, size_t len)
{
	static uint32_t table[256];
	static int ready;
	const uint8_t *p = data;
	uint32_t c = 0xffffffffu;

	if (!__atomic_load_n(&ready, __ATOMIC_ACQUIRE)) {
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t v = i;

			for (int k = 0; k < 8; k++)
				v = v & 1 ? 0xedb88320u ^ (v >> 1) : v >> 1;
			table[i] = v;
		}
		__atomic_store_n(&ready, 1, __ATOMIC_RELEASE);
	}
	while (len--)
		c = table[(c ^ *p++) & 0xff] ^ (c >> 8);
	return c ^ 0xffffffffu;
}

void snap_writer_init(struct snap_writer *w)
{
	memset(w, 0, sizeof(*w));
}

void snap_writer_free(struct snap_writer *w)
{
	free(w->buf);
	memset(w, 0, sizeof(*w));
}

static void snap_append(struct snap_writer *w, const void *data, size_t len)
{
	if (w->error)
		return;
	if (len > SNAP_MAX_BODY - w->len) {
		w->error = -EFBIG;
		return;
	}
	if (w->len + len > w->cap) {
		size_t cap = w->cap ? w->cap : 4096;
		uint8_t *nb;

		while (cap < w->len + len)
			cap *= 2;
		nb = realloc(w->buf, cap);
		if (!nb) {
			w->error = -ENOMEM;
			return;
		}
		w->buf = nb;
		w->cap = cap;
	}
	if (len)
		memcpy(w->buf + w->len, data, len);
	w->len += len;
}

void snap_put(struct snap_writer *w, const char *name, uint32_t version, const void *data,
	      size_t len)
{
	uint32_t name_len = (uint32_t)strlen(name);
	uint64_t data_len = len;

	if (!name_len || name_len > SNAP_NAME_MAX) {
		if (!w->error)
			w->error = -ENAMETOOLONG;
		return;
	}
	snap_append(w, &name_len, sizeof(name_len));
	snap_append(w, name, name_len);
	snap_append(w, &version, sizeof(version));
	snap_append(w, &data_len, sizeof(data_len));
	snap_append(w, data, len);
}

/* A record's name from fmt into name (SNAP_NAME_MAX + 2 bytes); false
 * when it is too long. */
static bool snap_vname(char *name, const char *fmt, va_list ap)
{
	int n = vsnprintf(name, SNAP_NAME_MAX + 2, fmt, ap);

	return n >= 0 && n <= SNAP_NAME_MAX;
}

void snap_putf(struct snap_writer *w, uint32_t version, const void *data, size_t len,
	       const char *fmt, ...)
{
	char name[SNAP_NAME_MAX + 2];
	va_list ap;
	bool ok;

	va_start(ap, fmt);
	ok = snap_vname(name, fmt, ap);
	va_end(ap);
	if (!ok) {
		if (!w->error)
			w->error = -ENAMETOOLONG;
		return;
	}
	snap_put(w, name, version, data, len);
}

int snap_pwrite_all(int fd, const void *buf, size_t len, off_t off)
{
	const uint8_t *p = buf;

	while (len) {
		/* pwritev2: the VMM thread's one vectored write (its seccomp list) */
		struct iovec iov = { (void *)p, len };
		ssize_t n = pwritev2(fd, &iov, 1, off, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		off += n;
		len -= (size_t)n;
	}
	return 0;
}

static void snap_header(struct snap_header *h, const struct snap_writer *w,
			const char *vireo_version)
{
	memset(h, 0, sizeof(*h));
	memcpy(h->magic, SNAP_MAGIC, sizeof(h->magic));
	h->format = SNAP_FORMAT;
	h->body_len = w->len;
	snprintf(h->version, sizeof(h->version), "%s", vireo_version);
	h->crc = snap_crc32(w->buf, w->len);
}

int snap_image(struct snap_writer *w, const char *vireo_version, uint8_t **buf, size_t *len)
{
	struct snap_header h;

	if (w->error)
		return w->error;
	snap_header(&h, w, vireo_version);
	*buf = malloc(sizeof(h) + w->len);
	if (!*buf)
		return -ENOMEM;
	memcpy(*buf, &h, sizeof(h));
	if (w->len)
		memcpy(*buf + sizeof(h), w->buf, w->len);
	*len = sizeof(h) + w->len;
	return 0;
}

int snap_file_begin(const char *path, char *tmp, size_t size)
{
	int fd;

	if ((size_t)snprintf(tmp, size, "%s.tmp.%d", path, (int)getpid()) >= size)
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	return fd < 0 ? -errno : fd;
}

int snap_file_end(int fd, const char *tmp, const char *path, int ret)
{
	if (close(fd) < 0 && !ret)
		ret = -errno;
	if (!ret && rename(tmp, path) < 0)
		ret = -errno;
	if (ret)
		unlink(tmp);
	return ret;
}

int snap_write_file(struct snap_writer *w, const char *path, const char *vireo_version,
		    struct errbuf *e)
{
	struct snap_header h;
	char tmp[4096];
	int fd, ret;

	if (w->error)
		return errf(e, w->error, "building the state: %s", strerror(-w->error));
	snap_header(&h, w, vireo_version);
	fd = snap_file_begin(path, tmp, sizeof(tmp));
	if (fd < 0)
		return errf(e, fd, "%s", strerror(-fd));
	ret = snap_pwrite_all(fd, &h, sizeof(h), 0);
	if (!ret)
		ret = snap_pwrite_all(fd, w->buf, w->len, sizeof(h));
	if (!ret && fdatasync(fd) < 0)
		ret = -errno;
	ret = snap_file_end(fd, tmp, path, ret);
	return ret ? errf(e, ret, "%s", strerror(-ret)) : 0;
}

/* Reads n bytes at *off of body (len bytes) into out: false if they are
 * not all there. */
static bool snap_take(const uint8_t *body, size_t len, size_t *off, void *out, size_t n)
{
	if (n > len - *off)
		return false;
	memcpy(out, body + *off, n);
	*off += n;
	return true;
}

int snap_reader_parse(struct snap_reader *r, uint8_t *buf, size_t len, struct errbuf *e)
{
	struct snap_header h;
	const uint8_t *body;
	size_t off = 0, body_len;
	int ret = -EINVAL;

	memset(r, 0, sizeof(*r));
	r->file = buf;
	r->file_len = len;
	if (len < sizeof(h) || memcmp(buf, SNAP_MAGIC, 8))
		return errf(e, -EINVAL, "not a vireo state file (no %s header)", SNAP_MAGIC);
	memcpy(&h, buf, sizeof(h));
	memcpy(r->vireo_version, h.version, sizeof(h.version));
	r->vireo_version[sizeof(h.version)] = '\0';
	log_one_line(r->vireo_version, sizeof(r->vireo_version), r->vireo_version);
	if (h.format != SNAP_FORMAT)
		return errf(e, -EINVAL, "state format %u (from vireo %s); this vireo reads "
			    "format %u", h.format, r->vireo_version, SNAP_FORMAT);
	body = buf + sizeof(h);
	body_len = len - sizeof(h);
	if (h.body_len != body_len)
		return errf(e, -EINVAL, "truncated or padded: the header says %llu bytes of "
			    "records, the file has %zu", (unsigned long long)h.body_len, body_len);
	if (snap_crc32(body, body_len) != h.crc)
		return errf(e, -EINVAL, "corrupt: the records' checksum does not match");
	r->rec = calloc(SNAP_MAX_RECORDS, sizeof(*r->rec));
	if (!r->rec)
		return errf(e, -ENOMEM, "out of memory");
	while (off < body_len) {
		struct snap_record *rec = &r->rec[r->nr];
		uint32_t name_len;
		uint64_t data_len;

		if (r->nr == SNAP_MAX_RECORDS)
			return errf(e, ret, "more than %u records", SNAP_MAX_RECORDS);
		if (!snap_take(body, body_len, &off, &name_len, sizeof(name_len)) ||
		    !name_len || name_len > SNAP_NAME_MAX ||
		    !snap_take(body, body_len, &off, rec->name, name_len) ||
		    !snap_take(body, body_len, &off, &rec->version, sizeof(rec->version)) ||
		    !snap_take(body, body_len, &off, &data_len, sizeof(data_len)) ||
		    data_len > body_len - off)
			return errf(e, ret, "record %u runs past the end", r->nr);
		rec->name[name_len] = '\0';
		if (strlen(rec->name) != name_len)
			return errf(e, ret, "record %u: a NUL in its name", r->nr);
		rec->data = body + off;
		rec->len = (size_t)data_len;
		off += (size_t)data_len;
		if (snap_find(r, rec->name))
			return errf(e, ret, "record '%s' twice", rec->name);
		r->nr++;
	}
	return 0;
}

void snap_reader_free(struct snap_reader *r)
{
	free(r->file);
	free(r->rec);
	memset(r, 0, sizeof(*r));
}

const struct snap_record *snap_find(const struct snap_reader *r, const char *name)
{
	for (unsigned i = 0; i < r->nr; i++)
		if (!strcmp(r->rec[i].name, name))
			return &r->rec[i];
	return NULL;
}

const struct snap_record *snap_findf(const struct snap_reader *r, const char *fmt, ...)
{
	char name[SNAP_NAME_MAX + 2];
	va_list ap;
	bool ok;

	va_start(ap, fmt);
	ok = snap_vname(name, fmt, ap);
	va_end(ap);
	return ok ? snap_find(r, name) : NULL;
}

int snap_get(const struct snap_reader *r, const char *name, uint32_t version, void *out,
	     size_t len, struct errbuf *e)
{
	const struct snap_record *rec = snap_find(r, name);

	if (!rec)
		return errf(e, -ENOENT, "no record '%s'", name);
	if (rec->version != version || rec->len != len)
		return errf(e, -EINVAL, "record '%s': version %u of %zu bytes; this vireo reads "
			    "version %u of %zu", name, rec->version, rec->len, version, len);
	memcpy(out, rec->data, len);
	return 0;
}
