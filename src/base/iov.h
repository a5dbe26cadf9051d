/* Copies between an iovec list (guest buffers, already checked by vq_pop)
 * and a flat buffer, for the few bytes devices must copy: headers, status
 * bytes, bounce buffers. Plain memory, no guest-address handling here. */
#ifndef VIREO_BASE_IOV_H
#define VIREO_BASE_IOV_H

#include <stdint.h>
#include <sys/uio.h>

/* Copies up to len bytes out of iov[0..cnt), starting skip bytes in.
 * Returns the bytes copied (less than len if the iovecs end first). */
uint64_t iov_to_buf(const struct iovec *iov, unsigned cnt, uint64_t skip, void *buf,
		    uint64_t len);
/* Copies up to len bytes of buf into iov[0..cnt), starting skip bytes in.
 * Returns the bytes copied. */
uint64_t iov_from_buf(const struct iovec *iov, unsigned cnt, uint64_t skip, const void *buf,
		      uint64_t len);

#endif
