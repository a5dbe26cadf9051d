/* Moving a running VM to another vireo on this host, over a Unix socket;
 * see vm.h. Pre-copy on the source's event loop: every nonzero page
 * first, then round after round the pages written meanwhile (KVM's dirty
 * log and the devices' writes), each wakeup sending at most
 * MIGRATE_BUDGET bytes so that the devices keep their turn; once a round
 * is small (or after MIGRATE_MAX_ROUNDS), stop-and-copy: the VM paused,
 * the last pages and the state (the records of a snapshot) sent, the
 * destination's acknowledgement awaited, and the source ends, releasing
 * its TAPs and disks, which the destination opens once the socket closes.
 *
 * The stream: a header ("VIREOMIG", version, RAM size), then messages of
 * struct migrate_msg: PAGES (npages pages at offset in the memory file's
 * order), then one STATE (a state file's image); the destination answers
 * one byte, MIGRATE_ACK. Everything the destination reads is checked
 * against the RAM it built. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "base/snap.h"
#include "vmm/vm_priv.h"

#define MIGRATE_MAGIC "VIREOMIG"
#define MIGRATE_VERSION 1
#define MIGRATE_PAGE 4096u
#define MIGRATE_RUN_PAGES 256u              /* pages in one PAGES message */
#define MIGRATE_BUDGET (8u << 20)           /* bytes sent per loop wakeup */
#define MIGRATE_SCAN_PAGES 65536u           /* pages looked at per wakeup, at most */
#define MIGRATE_STOP_PAGES 256u             /* a round this small: stop and copy */
#define MIGRATE_MAX_ROUNDS 30u
#define MIGRATE_ACK 'K'
#define MIGRATE_ACK_MS 30000                /* a failure detector only */

enum { MIGRATE_PAGES = 1, MIGRATE_STATE = 2 };

struct migrate_header {
	char magic[8];
	uint32_t version, pad;
	uint64_t ram_size;
};

struct migrate_msg {
	uint32_t type, npages;
	uint64_t arg;                 /* PAGES: the offset; STATE: its length */
};

struct vm_migration {
	struct vm *vm;
	struct evloop *loop;
	int fd;
	struct ev_handler h;
	char *config_json;
	char dest[sizeof(((struct sockaddr_un *)0)->sun_path)];
	uint64_t *todo;               /* the pages this round still sends */
	size_t pages, next;
	unsigned round;
	bool was_tracking;            /* the user's own tracking: left on after */
	/* the message being sent: its header, then pages of guest RAM */
	struct migrate_msg msg;
	size_t msg_len, msg_sent;
	uint64_t sent_bytes, start_ns;
};

static uint64_t migrate_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static bool migrate_page_zero(const uint8_t *p)
{
	static const uint8_t zero[MIGRATE_PAGE];

	return !memcmp(p, zero, MIGRATE_PAGE);
}

static bool migrate_bit(const uint64_t *b, size_t pg)
{
	return b[pg / 64] >> (pg % 64) & 1;
}

/* The next run of pages to send from m->todo (round 0: nonzero ones),
 * as m->msg: 1; 0 when the round is done; -EAGAIN when MIGRATE_SCAN_PAGES
 * were looked at without finding one (round 0's zero pages cost a look
 * each: the loop gets its turn in between). */
static int migrate_next_run(struct vm_migration *m)
{
	const uint8_t *ram = m->vm->mem.mapping;
	size_t pg = m->next, n = 0, scan = MIGRATE_SCAN_PAGES;

	while (pg < m->pages && (!migrate_bit(m->todo, pg) ||
				 (m->round == 0 && migrate_page_zero(ram + pg * MIGRATE_PAGE)))) {
		pg++;
		if (!--scan) {
			m->next = pg;
			return -EAGAIN;
		}
	}
	while (pg + n < m->pages && n < MIGRATE_RUN_PAGES && migrate_bit(m->todo, pg + n) &&
	       !(m->round == 0 && migrate_page_zero(ram + (pg + n) * MIGRATE_PAGE)))
		n++;
	m->next = pg + n;
	if (!n)
		return 0;
	m->msg = (struct migrate_msg){ .type = MIGRATE_PAGES, .npages = (uint32_t)n,
				       .arg = (uint64_t)pg * MIGRATE_PAGE };
	m->msg_len = sizeof(m->msg) + n * MIGRATE_PAGE;
	m->msg_sent = 0;
	return 1;
}

static size_t migrate_count(const struct vm_migration *m)
{
	size_t n = 0;

	for (size_t i = 0; i < (m->pages + 63) / 64; i++)
		n += (size_t)__builtin_popcountll(m->todo[i]);
	return n;
}

/* Sends what is left of m->msg; 0 once all of it went, -EAGAIN when the
 * socket is full (non-blocking), or -errno. */
static int migrate_send_msg(struct vm_migration *m)
{
	const uint8_t *data = (const uint8_t *)m->vm->mem.mapping + m->msg.arg;

	const size_t hdr = sizeof(m->msg);

	while (m->msg_sent < m->msg_len) {
		struct iovec iov[2];
		int n = 0;
		ssize_t got;

		if (m->msg_sent < hdr) {
			iov[n++] = (struct iovec){ (uint8_t *)&m->msg + m->msg_sent, hdr - m->msg_sent };
			iov[n++] = (struct iovec){ (void *)data, m->msg_len - hdr };
		} else {
			iov[n++] = (struct iovec){ (void *)(data + (m->msg_sent - hdr)),
						   m->msg_len - m->msg_sent };
		}
		/* MSG_NOSIGNAL: a destination gone is an error here, not SIGPIPE */
		got = sendmsg(m->fd, &(struct msghdr){ .msg_iov = iov, .msg_iovlen = (size_t)n },
			      MSG_NOSIGNAL);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return -errno;
		m->msg_sent += (size_t)got;
		m->sent_bytes += (uint64_t)got;
	}
	return 0;
}

static int migrate_write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		struct iovec iov = { (void *)p, len };
		/* sendmsg: the VMM thread's one socket write (its seccomp list) */
		ssize_t n = sendmsg(fd, &(struct msghdr){ .msg_iov = &iov, .msg_iovlen = 1 },
				    MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void migrate_free(struct vm_migration *m)
{
	if (!m)
		return;
	if (m->fd >= 0)
		close(m->fd);
	free(m->todo);
	free(m->config_json);
	free(m);
}

/* The migration failed: the VM runs on here, as if it had never begun. */
static void migrate_abort(struct vm_migration *m, const char *what, int err)
{
	struct vm *vm = m->vm;
	struct errbuf e;

	log_error("migration to %s: %s: %s; the VM goes on running here", m->dest, what,
		  strerror(-err));
	evloop_del(m->loop, &m->h);
	if (!m->was_tracking && vm_track_dirty(vm, false, &e))
		log_warn("%s", e.msg);
	vm->migration = NULL;
	if (vm->paused && vm->migrating_paused)
		vm_resume(vm);
	vm->migrating_paused = false;
	migrate_free(m);
}

/* Stop-and-copy: the VM still, what it wrote last, its state, the
 * destination's word. Then the source's VM ends (status 0). */
static void migrate_finish(struct vm_migration *m)
{
	struct vm *vm = m->vm;
	uint64_t pause_ns = migrate_now_ns(), pages = 0;
	struct snap_writer w;
	struct errbuf e;
	struct migrate_msg msg;
	uint8_t *image = NULL, ack = 0;
	size_t len = 0;
	struct pollfd pfd;
	int ret;

	evloop_del(m->loop, &m->h);
	if (!vm->paused) {
		vm_pause(vm);
		vm->migrating_paused = true;
	}
	ret = vm_take_dirty(vm, m->todo, &e);
	if (ret) {
		migrate_abort(m, e.msg, ret);
		return;
	}
	/* blocking from here: the guest waits anyway */
	fcntl(m->fd, F_SETFL, fcntl(m->fd, F_GETFL) & ~O_NONBLOCK);
	m->next = 0;
	m->round++;
	while (!ret && (ret = migrate_next_run(m)) != 0) {
		if (ret == -EAGAIN) {
			ret = 0;
			continue;
		}
		pages += m->msg.npages;
		ret = migrate_send_msg(m);
	}
	if (ret) {
		migrate_abort(m, "sending the last pages", ret);
		return;
	}
	snap_writer_init(&w);
	ret = vm_save_state(vm, m->config_json, &w, &e);
	if (!ret && (ret = snap_image(&w, VIREO_VERSION, &image, &len)))
		snprintf(e.msg, sizeof(e.msg), "the state: %s", strerror(-ret));
	snap_writer_free(&w);
	if (ret) {
		free(image);
		migrate_abort(m, e.msg, ret);
		return;
	}
	msg = (struct migrate_msg){ .type = MIGRATE_STATE, .arg = len };
	ret = migrate_write_all(m->fd, &msg, sizeof(msg));
	if (!ret)
		ret = migrate_write_all(m->fd, image, len);
	free(image);
	if (ret) {
		migrate_abort(m, "sending the state", ret);
		return;
	}
	pfd = (struct pollfd){ .fd = m->fd, .events = POLLIN };
	ret = poll(&pfd, 1, MIGRATE_ACK_MS);
	if (ret <= 0 || read(m->fd, &ack, 1) != 1 || ack != MIGRATE_ACK) {
		migrate_abort(m, "the destination did not take the VM", ret < 0 ? -errno : -EIO);
		return;
	}
	log_info("migrated to %s: %u rounds, %llu MiB sent, the last %llu pages and the state "
		 "in %llu us", m->dest, m->round, (unsigned long long)(m->sent_bytes >> 20),
		 (unsigned long long)pages,
		 (unsigned long long)((migrate_now_ns() - pause_ns) / 1000));
	/* the socket stays open until the VM is gone (vm_destroy): the
	 * destination opens the TAPs and disks once it closes */
	vm->end.fn(vm->end.opaque, 0);
}

static void migrate_on_writable(void *opaque, uint32_t events)
{
	struct vm_migration *m = opaque;
	size_t budget = MIGRATE_BUDGET;
	struct errbuf e;
	int ret;

	if (events & (EPOLLERR | EPOLLHUP)) {
		migrate_abort(m, "the destination went away", -EPIPE);
		return;
	}
	while (budget) {
		if (m->msg_sent < m->msg_len) {
			size_t before = m->msg_sent;

			ret = migrate_send_msg(m);
			budget -= m->msg_sent - before < budget ? m->msg_sent - before : budget;
			if (ret == -EAGAIN || ret == -EWOULDBLOCK)
				return;
			if (ret) {
				migrate_abort(m, "sending pages", ret);
				return;
			}
			continue;
		}
		ret = migrate_next_run(m);
		if (ret == -EAGAIN)
			return;   /* the socket is still writable: back at once */
		if (ret)
			continue;
		/* the round is done: what was written meanwhile is the next one */
		memset(m->todo, 0, (m->pages + 63) / 64 * sizeof(uint64_t));
		ret = vm_take_dirty(m->vm, m->todo, &e);
		if (ret) {
			migrate_abort(m, e.msg, ret);
			return;
		}
		m->round++;
		m->next = 0;
		if (migrate_count(m) <= MIGRATE_STOP_PAGES || m->round >= MIGRATE_MAX_ROUNDS) {
			migrate_finish(m);
			return;
		}
	}
}

int vm_migrate_start(struct vm *vm, struct evloop *loop, const char *dest,
		     const char *config_json, struct errbuf *e)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct migrate_header h = { .version = MIGRATE_VERSION };
	struct vm_migration *m;
	int ret;

	if (vm->migration)
		return errf(e, -EBUSY, "a migration is already under way");
	if (!vm->started)
		return errf(e, -EINVAL, "the VM has not started");
	if (strlen(dest) >= sizeof(sa.sun_path))
		return errf(e, -ENAMETOOLONG, "destination: longer than a socket's path");
	m = calloc(1, sizeof(*m));
	if (!m)
		return errf(e, -ENOMEM, "out of memory");
	m->vm = vm;
	m->loop = loop;
	m->fd = -1;
	snprintf(m->dest, sizeof(m->dest), "%s", dest);
	m->pages = gmem_pages(&vm->mem);
	m->todo = malloc((m->pages + 63) / 64 * sizeof(uint64_t));
	m->config_json = config_json ? strdup(config_json) : NULL;
	if (!m->todo || (config_json && !m->config_json)) {
		migrate_free(m);
		return errf(e, -ENOMEM, "out of memory");
	}
	/* round 0: every page (the zero ones skipped as they go) */
	memset(m->todo, 0xff, (m->pages + 63) / 64 * sizeof(uint64_t));
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", dest);
	m->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (m->fd < 0 || connect(m->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = errf(e, -errno, "destination %s: %s", dest, strerror(errno));
		migrate_free(m);
		return ret;
	}
	memcpy(h.magic, MIGRATE_MAGIC, sizeof(h.magic));
	h.ram_size = vm->mem.mapping_len;
	ret = migrate_write_all(m->fd, &h, sizeof(h));
	if (ret) {
		migrate_free(m);
		return errf(e, ret, "destination %s: %s", dest, strerror(-ret));
	}
	m->was_tracking = vm->track_dirty;
	/* the user's Diff snapshots count from their last snapshot: from now
	 * on the log is this migration's */
	if (m->was_tracking)
		vm->dirty_taken = true;
	ret = vm_track_dirty(vm, true, e);
	if (ret) {
		migrate_free(m);
		return ret;
	}
	/* what was written before round 0 goes with it */
	memset(m->todo, 0, (m->pages + 63) / 64 * sizeof(uint64_t));
	ret = vm_take_dirty(vm, m->todo, e);
	memset(m->todo, 0xff, (m->pages + 63) / 64 * sizeof(uint64_t));
	if (!ret) {
		fcntl(m->fd, F_SETFL, fcntl(m->fd, F_GETFL) | O_NONBLOCK);
		ret = evloop_add(loop, &m->h, m->fd, EPOLLOUT, migrate_on_writable, m);
		if (ret)
			errf(e, ret, "the event loop: %s", strerror(-ret));
	}
	if (ret) {
		if (!m->was_tracking) {
			struct errbuf ignored;

			(void)!vm_track_dirty(vm, false, &ignored);
		}
		migrate_free(m);
		return ret;
	}
	m->start_ns = migrate_now_ns();
	vm->migration = m;
	log_info("migrating to %s", dest);
	return 0;
}

void vm_migration_free(struct vm *vm)
{
	migrate_free(vm->migration);
	vm->migration = NULL;
}

/* --- the destination ----------------------------------------------------- */

static int migrate_read_all(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = read(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EPIPE;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int vm_receive(struct vm *vm, const struct vm_config *cfg, const char *path,
	       struct snap_reader *state, struct errbuf *e)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	uint8_t *ram = vm->mem.mapping, ack = MIGRATE_ACK, *buf = NULL;
	size_t ram_size = vm->mem.mapping_len;
	struct migrate_header h;
	struct migrate_msg msg;
	int lfd, fd = -1, ret;
	bool got_state = false;

	memset(state, 0, sizeof(*state));
	if (strlen(path) >= sizeof(sa.sun_path))
		return errf(e, -ENAMETOOLONG, "--incoming %s: longer than a socket's path", path);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		return errf(e, -errno, "--incoming: %s", strerror(errno));
	/* a path that exists is refused, never replaced (bind says so) */
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 1) < 0) {
		ret = errf(e, -errno, "--incoming %s: %s", path, strerror(errno));
		close(lfd);
		return ret;
	}
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	ret = fd < 0 ? -errno : 0;
	close(lfd);
	unlink(path);
	if (ret)
		return errf(e, ret, "--incoming %s: %s", path, strerror(-ret));
	ret = migrate_read_all(fd, &h, sizeof(h));
	if (!ret && (memcmp(h.magic, MIGRATE_MAGIC, sizeof(h.magic)) ||
		     h.version != MIGRATE_VERSION))
		ret = errf(e, -EINVAL, "--incoming: not a vireo migration of version %u",
			   MIGRATE_VERSION);
	else if (!ret && h.ram_size != ram_size)
		ret = errf(e, -EINVAL, "--incoming: the VM has %llu MiB of RAM, this one %llu "
			   "(give the flags the VM was built with)",
			   (unsigned long long)(h.ram_size >> 20),
			   (unsigned long long)(ram_size >> 20));
	else if (ret)
		errf(e, ret, "--incoming: %s", strerror(-ret));
	while (!ret && !got_state) {
		ret = migrate_read_all(fd, &msg, sizeof(msg));
		if (ret) {
			errf(e, ret, "--incoming: the stream ended early: %s", strerror(-ret));
			break;
		}
		if (msg.type == MIGRATE_PAGES) {
			uint64_t bytes = (uint64_t)msg.npages * MIGRATE_PAGE;

			/* the stream is input: every page lands inside RAM */
			if (!msg.npages || msg.npages > MIGRATE_RUN_PAGES || msg.arg % MIGRATE_PAGE ||
			    msg.arg > ram_size || bytes > ram_size - msg.arg) {
				ret = errf(e, -EINVAL, "--incoming: pages outside RAM");
				break;
			}
			ret = migrate_read_all(fd, ram + msg.arg, bytes);
			if (ret)
				errf(e, ret, "--incoming: %s", strerror(-ret));
		} else if (msg.type == MIGRATE_STATE) {
			if (msg.arg < sizeof(struct migrate_header) || msg.arg > SNAP_MAX_BODY + 4096 ||
			    !(buf = malloc(msg.arg))) {
				ret = errf(e, -EINVAL, "--incoming: a state of %llu bytes",
					   (unsigned long long)msg.arg);
				break;
			}
			ret = migrate_read_all(fd, buf, msg.arg);
			if (!ret) {
				ret = snap_reader_parse(state, buf, msg.arg, e);
				buf = NULL; /* the reader's now */
				if (!ret)
					ret = vm_restore_check(state, cfg, e);
				if (ret)
					errf_prefix(e, "--incoming: the state");
			} else {
				errf(e, ret, "--incoming: %s", strerror(-ret));
			}
			got_state = !ret;
		} else {
			ret = errf(e, -EINVAL, "--incoming: a message of type %u", msg.type);
		}
	}
	free(buf);
	if (!ret)
		ret = migrate_write_all(fd, &ack, 1);
	/* the source ends once it has the word, closing its TAPs, disks and
	 * then this socket: only then can they be opened here */
	if (!ret) {
		uint8_t byte;
		struct pollfd pfd = { .fd = fd, .events = POLLIN };

		ret = poll(&pfd, 1, MIGRATE_ACK_MS) == 1 && read(fd, &byte, 1) == 0 ? 0 : -ETIMEDOUT;
		if (ret)
			errf(e, ret, "--incoming: the source did not let go of the VM");
	}
	close(fd);
	if (ret)
		snap_reader_free(state);
	return ret;
}
