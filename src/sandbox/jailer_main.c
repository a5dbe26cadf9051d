/* vireo-jailer: Firecracker's jailer for vireo. main() runs the steps of
 * sandbox/jail.h in the order of Firecracker's docs/jailer.md and is the
 * only place that exits; each failure is one line naming the step and the
 * argument, and what was built on the host is taken back. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox/jail.h"

static int jail_fail(struct jail_state *s, const struct errbuf *e)
{
	jail_undo(s);
	fprintf(stderr, "vireo-jailer: %s\n", e->msg);
	return 1;
}

int main(int argc, char **argv)
{
	struct jail_opts o;
	struct jail_state s;
	struct errbuf e = { { 0 } };
	pid_t child;

	jail_state_init(&s);
	if (jail_parse(&o, argc, argv, &e)) {
		fprintf(stderr, "vireo-jailer: %s (--help: usage)\n", e.msg);
		return 2;
	}
	if (o.help) {
		fputs(jail_usage, stdout);
		return 0;
	}
	if (jail_close_fds(&e))
		return jail_fail(&s, &e);
	if (clearenv()) {
		errf(&e, -ENOMEM, "environment: clearenv failed");
		return jail_fail(&s, &e);
	}
	umask(022);
	if (jail_make_chroot(&o, &s, &e) || jail_set_rlimits(&o, &e) ||
	    jail_join_cgroups(&o, &s, &e) || jail_open_host(&o, &s, &e) || jail_pivot(&s, &e) ||
	    jail_make_devices(&o, &s, &e) || jail_join_netns(&s, &e) || jail_daemonize(&s, &e))
		return jail_fail(&s, &e);
	child = jail_new_pid_ns(&o, &e);
	if (child < 0)
		return jail_fail(&s, &e);
	if (child > 0) {
		/* the parent's work ends with the pid file; the child is the VMM */
		if (jail_write_pid(&o, child, &e))
			return jail_fail(&s, &e);
		jail_undo(&s);
		/* _exit: nothing is buffered, and a sanitizer's exit-time
		 * checks could neither fork a tracer (the parent's next child
		 * would land in the new PID namespace) nor read /proc here */
		_exit(0);
	}
	if ((!o.new_pid_ns && jail_write_pid(&o, getpid(), &e)) || jail_drop_privileges(&o, &e))
		return jail_fail(&s, &e);
	jail_exec(&o, &s, &e);
	return jail_fail(&s, &e);
}
