/* seccomp filters per kind of thread: the allowlists (sandbox/lists.c),
 * compiled once with libseccomp into BPF, and installed by each thread on
 * itself before it touches guest input. A call outside a thread's list
 * never runs: the SIGSYS handler writes one line naming the thread and the
 * call, and the process ends at once. Firecracker's compiled programs
 * (--seccomp-filter) can take the lists' place. Not the jailer, nor
 * io_uring's own restrictions. */
#ifndef VIREO_SANDBOX_SECCOMP_H
#define VIREO_SANDBOX_SECCOMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/log.h"

/* The kinds of thread, each with its list. The VMM thread runs the event
 * loop (devices, the API's requests, signals, timers); it takes its filter
 * once the VM is built and its vCPUs started (Firecracker's order: the
 * filter is the last step before the guest's input is read). When the
 * loop runs before there is a VM (Firecracker's API mode), that thread
 * first takes the boot list (acting on requests and building a VM), and
 * the VMM's is stacked on it at InstanceStart; vCPU threads started then
 * inherit the boot list under their own, so each list must lie within the
 * boot list (tests/unit/test_sandbox.c checks it). The API thread (the
 * HTTP side of the API socket) takes its own before it reads a client. */
enum sandbox_kind { SANDBOX_VMM, SANDBOX_VCPU, SANDBOX_BOOT, SANDBOX_API, SANDBOX_NR };

/* How an argument is compared (libseccomp's, without its header). */
enum sandbox_op { SB_EQ, SB_MASKED_EQ };

struct sandbox_arg {
	uint8_t arg;              /* 0..5 */
	uint8_t op;               /* enum sandbox_op */
	uint64_t mask;            /* SB_MASKED_EQ: (arg & mask) == value */
	uint64_t value;
};

/* One rule: the call is allowed when every arg matches (none: always).
 * Several rules for one call are alternatives. */
struct sandbox_rule {
	const char *syscall;      /* the name libseccomp knows it by */
	unsigned nargs;
	struct sandbox_arg args[2];
};

struct sandbox_list {
	const char *name;         /* "vmm", "vcpu", "boot": in messages and counts */
	const struct sandbox_rule *rules;
	size_t nr_rules;
};

/* The lists, indexed by enum sandbox_kind (sandbox/lists.c). */
extern const struct sandbox_list sandbox_lists[SANDBOX_NR];

/* Rules added to every list in the sanitizer build only (what ASan's and
 * LSan's runtimes call); empty in the build that ships. Not counted. */
extern const struct sandbox_list sandbox_runtime;

/* How many distinct system calls list k allows (what Firecracker's counts
 * count), leaving out `deny` (NULL: none). */
unsigned sandbox_count(enum sandbox_kind k, const char *deny);

/* Compiles every list into BPF (with `deny` left out of each, for the
 * test that proves a denial ends vireo; NULL: none) and installs the
 * SIGSYS handler that reports a denied call and ends the process with
 * deny_status. Main thread, once, before any thread calls sandbox_enter.
 * 0 or -errno with e set (an unknown name in a list or in deny: -EINVAL). */
/* Where a denial is counted (Firecracker's metrics file, opened for
 * appending): the handler adds a line {"utc_timestamp_ms": N, "seccomp":
 * {"num_faults": 1}} before the process ends, so that a client reading
 * the file's last line (flintlock) sees why. -1: nowhere. Any thread. */
void sandbox_set_metrics_fd(int fd);

int sandbox_prepare(const char *deny, int deny_status, struct errbuf *e)
	__attribute__((warn_unused_result));
/* Instead of sandbox_prepare (either, once): Firecracker's compiled
 * programs (--seccomp-filter, sandbox/fc_filters.h), one per kind, copied;
 * len 0 installs nothing on that kind of thread (Firecracker's empty
 * program). Each instruction a struct sock_filter in a u64 (code, jt, jf,
 * k, little-endian). The SIGSYS handler reports and counts a trapped call
 * as for the lists. Main thread, before any thread calls sandbox_enter.
 * 0 or -errno with e set. */
int sandbox_prepare_programs(const uint64_t *const insns[SANDBOX_NR],
			     const uint16_t len[SANDBOX_NR], int deny_status, struct errbuf *e)
	__attribute__((warn_unused_result));

/* Whether the kernel takes the program (its BPF checker), tried in a
 * child process so that nothing here is filtered: 0 (also for len 0), or
 * the -errno seccomp(2) gave (-EINVAL: a bad program). Before any filter
 * is on in this process. */
int sandbox_try_program(const uint64_t *insns, uint16_t len) __attribute__((warn_unused_result));

/* True once sandbox_prepare succeeded: the filters are on. */
bool sandbox_enabled(void);

/* Installs list k's filter on the calling thread (named `thread` in the
 * report of a denied call, at most 15 characters kept), for good: no
 * later call can lift it. SIGSYS is unblocked on the thread. A no-op
 * returning 0 when sandbox_prepare was not called (seccomp off).
 * 0 or -errno. Async-signal-safe enough for a new thread: no malloc. */
int sandbox_enter(enum sandbox_kind k, const char *thread) __attribute__((warn_unused_result));

/* Builds list k (leaving out deny) with libseccomp and discards it: for
 * tests. 0 or -errno with e naming the bad rule. */
int sandbox_check_list(enum sandbox_kind k, const char *deny, struct errbuf *e)
	__attribute__((warn_unused_result));

#endif
