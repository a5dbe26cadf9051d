/* A one-shot HTTP client on a Unix socket; see client.h. The answer is
 * read until the connection would block for long, or its body is all
 * there (Content-Length), as vireo's server frames every answer. */
#include "api/client.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define CLIENT_TIMEOUT_MS 600000    /* a migration of much memory answers at once; a snapshot later */
#define CLIENT_MAX 65536

int api_client_request(const char *sock, const char *method, const char *path,
		       const char *body, int *status, char *reply, size_t size, struct errbuf *e)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char head[512], *buf = NULL, *p;
	size_t len = 0, want = 0;
	int fd, n, ret = 0;

	if (strlen(sock) >= sizeof(sa.sun_path))
		return errf(e, -ENAMETOOLONG, "--api-sock %s: longer than a socket's path", sock);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = errf(e, -errno, "--api-sock %s: %s", sock, strerror(errno));
		goto out;
	}
	n = snprintf(head, sizeof(head), "%s %s HTTP/1.1\r\nHost: localhost\r\n"
		     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n", method, path,
		     body ? strlen(body) : 0);
	if (n < 0 || (size_t)n >= sizeof(head) ||
	    send(fd, head, (size_t)n, MSG_NOSIGNAL) != n ||
	    (body && send(fd, body, strlen(body), MSG_NOSIGNAL) != (ssize_t)strlen(body))) {
		ret = errf(e, -EIO, "--api-sock %s: the request could not be sent", sock);
		goto out;
	}
	buf = malloc(CLIENT_MAX + 1);
	if (!buf) {
		ret = errf(e, -ENOMEM, "out of memory");
		goto out;
	}
	buf[0] = '\0';
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t got;
		char *end;

		if (poll(&pfd, 1, CLIENT_TIMEOUT_MS) <= 0) {
			ret = errf(e, -ETIMEDOUT, "--api-sock %s: no answer", sock);
			goto out;
		}
		got = read(fd, buf + len, CLIENT_MAX - len);
		if (got <= 0)
			break;
		len += (size_t)got;
		buf[len] = '\0';
		end = strstr(buf, "\r\n\r\n");
		if (end && !want) {
			p = strcasestr(buf, "\r\nContent-Length:");
			want = (size_t)(end + 4 - buf) + (p && p < end ? strtoul(p + 17, NULL, 10) : 0);
		}
		if ((want && len >= want) || len == CLIENT_MAX)
			break;
	}
	if (!buf[0] || sscanf(buf, "HTTP/1.%*d %d", status) != 1) {
		ret = errf(e, -EPROTO, "--api-sock %s: not an HTTP answer", sock);
		goto out;
	}
	p = strstr(buf, "\r\n\r\n");
	snprintf(reply, size, "%s", p ? p + 4 : "");
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	return ret;
}
