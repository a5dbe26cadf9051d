/* iov.c: see iov.h. */
#include "base/iov.h"

#include <string.h>

/* Walks [skip, skip + len) of the iovecs, calling copy on each piece. */
static uint64_t iov_walk(const struct iovec *iov, unsigned cnt, uint64_t skip, uint8_t *buf,
			 uint64_t len, int to_buf)
{
	uint64_t done = 0;

	for (unsigned i = 0; i < cnt && done < len; i++) {
		uint64_t l = iov[i].iov_len;
		uint8_t *p = iov[i].iov_base;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		l -= skip;
		if (l > len - done)
			l = len - done;
		if (to_buf)
			memcpy(buf + done, p + skip, l);
		else
			memcpy(p + skip, buf + done, l);
		done += l;
		skip = 0;
	}
	return done;
}

uint64_t iov_to_buf(const struct iovec *iov, unsigned cnt, uint64_t skip, void *buf,
		    uint64_t len)
{
	return iov_walk(iov, cnt, skip, buf, len, 1);
}

uint64_t iov_from_buf(const struct iovec *iov, unsigned cnt, uint64_t skip, const void *buf,
		      uint64_t len)
{
	return iov_walk(iov, cnt, skip, (uint8_t *)buf, len, 0);
}
