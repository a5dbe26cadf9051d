/* The host side of virtio-vsock: Unix stream sockets in Firecracker's
 * hybrid scheme. vireo listens on uds_path for host programs (which then
 * say "CONNECT <port>\n") and connects to "<uds_path>_<port>" for the
 * guest's connections to the host. Every socket is non-blocking and
 * close-on-exec; nothing here blocks or knows of virtio (vsock.c decides
 * what moves). */
#ifndef VIREO_BACKEND_UDS_H
#define VIREO_BACKEND_UDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "base/log.h"

#define UDS_PATH_MAX 107          /* sizeof(sun_path) - 1 */
#define UDS_CONNECT_LINE_MAX 32   /* "CONNECT 4294967295\n" and slack */

/* Checks that path can name a Unix socket (1..UDS_PATH_MAX bytes) and
 * that, with the "_<port>" suffix of guest connections, it still fits.
 * 0 or -EINVAL with e saying why. No file-system access. */
int uds_check_path(const char *path, struct errbuf *e) __attribute__((warn_unused_result));

/* Binds and listens on path. A path that exists is refused unless it is a
 * socket nobody listens on (a stale one a killed VMM left), which is
 * replaced; a live socket or any other kind of file is never touched.
 * Returns the listening fd, or -errno with e saying why. */
int uds_listen(const char *path, struct errbuf *e) __attribute__((warn_unused_result));

/* Accepts one connection on a listening fd: the new fd, -EAGAIN when none
 * waits, or -errno. */
int uds_accept(int lfd);

/* Connects to "<base>_<port>" without blocking (a Unix stream connect
 * completes at once or fails; a full backlog is -EAGAIN). Returns the fd
 * or -errno (-ENOENT, -ECONNREFUSED: nobody listens). */
int uds_connect_port(const char *base, uint32_t port);

/* Parses a host program's request line, "CONNECT <port>\n" (len bytes,
 * the newline included): a decimal u32 without sign, spaces or leading
 * zeros beyond "0". 0 with *port set, or -EINVAL. */
int uds_parse_connect(const char *line, size_t len, uint32_t *port)
	__attribute__((warn_unused_result));

/* Reads the next part of the request line into line (*len bytes so far,
 * at most UDS_CONNECT_LINE_MAX), never past its newline, so bytes the
 * program sent after it stay in the socket for the stream. Returns 1 when
 * the line is complete, 0 when more must come (EAGAIN), -EINVAL for a
 * line too long, -EPIPE on EOF, or -errno. */
int uds_read_line(int fd, char *line, size_t *len);

/* Stream I/O: bytes moved (> 0), 0 on EOF (readv only), or -errno
 * (-EAGAIN: try again on the next readiness edge). Writes never raise
 * SIGPIPE. */
ssize_t uds_readv(int fd, const struct iovec *iov, unsigned cnt);
ssize_t uds_writev(int fd, const struct iovec *iov, unsigned cnt);
ssize_t uds_write(int fd, const void *buf, size_t len);
/* No more bytes will be written: the program reads EOF. */
void uds_shutdown_write(int fd);

#endif
