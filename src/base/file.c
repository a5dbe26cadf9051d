/* Reading a whole file the user named; see file.h. */
#include "base/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int file_read_all(const char *path, uint64_t max, uint8_t **buf, size_t *len, struct errbuf *e)
{
	struct stat st;
	size_t off = 0;
	ssize_t n;
	int fd, ret;

	*buf = NULL;
	fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return errf(e, -errno, "%s", strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		ret = errf(e, -EINVAL, "not a regular file");
		goto out;
	}
	if (st.st_size == 0) {
		ret = errf(e, -EINVAL, "file is empty");
		goto out;
	}
	if ((uint64_t)st.st_size > max || (uint64_t)st.st_size > SIZE_MAX) {
		*len = (uint64_t)st.st_size > SIZE_MAX ? SIZE_MAX : (size_t)st.st_size;
		ret = errf(e, -EFBIG, "%llu bytes, more than the %llu allowed",
			   (unsigned long long)st.st_size, (unsigned long long)max);
		goto out;
	}
	*buf = malloc((size_t)st.st_size);
	if (!*buf) {
		ret = errf(e, -ENOMEM, "out of memory (%lld bytes)", (long long)st.st_size);
		goto out;
	}
	/* the size may change under us: read what was there at fstat */
	while (off < (size_t)st.st_size) {
		n = read(fd, *buf + off, (size_t)st.st_size - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ret = errf(e, n < 0 ? -errno : -EIO, "read failed: %s",
				   n < 0 ? strerror(errno) : "the file got shorter");
			free(*buf);
			*buf = NULL;
			goto out;
		}
		off += (size_t)n;
	}
	*len = off;
	ret = 0;
out:
	close(fd);
	return ret;
}
