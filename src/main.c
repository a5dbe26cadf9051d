/* vireo's entry point: the command line -> the VMM. `vireo run` boots
 * from flags; Firecracker's flags (no subcommand) serve its REST API and
 * read its config file. The only place that prints user errors, chooses
 * the exit status and exits. */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/client.h"
#include "api/routes.h"
#include "api/thread.h"
#include "base/file.h"
#include "base/log.h"
#include "config/cli.h"
#include "config/firecracker.h"
#include "sandbox/fc_filters.h"
#include "sandbox/seccomp.h"
#include "vmm/vm.h"
#include "vmm/vmm.h"

#define EXIT_RUNTIME 1
#define EXIT_USAGE 2
/* Firecracker's own (its FcExitCode), where its clients may look */
#define FC_EXIT_BAD_CONFIGURATION 152
#define FC_EXIT_ARG_PARSING 153
#define FC_EXIT_SIGHUP 156
#define FC_EXIT_BAD_SYSCALL 148
/* `vireo run`: as if killed by SIGSYS */
#define EXIT_BAD_SYSCALL (128 + 31)
#define CONFIG_FILE_MAX (1u << 20)

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The filters are on in both builds. In the sanitizer build, LSan's leak
 * check at exit stops the world from a tracer (a clone of the thread that
 * exits, which ptraces every thread): cloned from the VMM thread it would
 * run under that thread's filter and die there unreported. So there the
 * process ends from a thread made before any filter, which does nothing
 * else: the reaper. The build that ships has no such thread. */
#define SECCOMP_DEFAULT_OFF false

#if defined(__SANITIZE_ADDRESS__)
static pthread_mutex_t reaper_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t reaper_cond = PTHREAD_COND_INITIALIZER;
static int reaper_status = -1;

static void *reaper_run(void *arg)
{
	int status;

	(void)arg;
	pthread_mutex_lock(&reaper_lock);
	while (reaper_status < 0)
		pthread_cond_wait(&reaper_cond, &reaper_lock);
	status = reaper_status;
	pthread_mutex_unlock(&reaper_lock);
	exit(status);
}

/* Before anything else: every signal blocked in it, so that none meant for
 * the VMM's signalfd lands there. */
static void reaper_start(void)
{
	sigset_t all, old;
	pthread_t t;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	if (pthread_create(&t, NULL, reaper_run, NULL) == 0)
		pthread_detach(t);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* The process's end, from the reaper. This thread waits for it (a futex
 * wait, which its filter allows) rather than ending first: with the
 * thread group's leader a zombie, LSan's tracer could not stop the world,
 * and the reaper spun in exit() for good (e2e/migrate-pci, about one run
 * in four). */
static void reaper_exit(int status)
{
	pthread_mutex_lock(&reaper_lock);
	reaper_status = status;
	pthread_cond_signal(&reaper_cond);
	for (;;)
		pthread_cond_wait(&reaper_cond, &reaper_lock);
}
#endif

/* The seccomp hooks the VMM calls (vmm_set_sandbox): the thread's name is
 * what a denied call's report names. */
static int sandbox_boot(void)
{
	return sandbox_enter(SANDBOX_BOOT, "vmm");
}

static int sandbox_vmm(void)
{
	return sandbox_enter(SANDBOX_VMM, "vmm");
}

static int sandbox_vcpu(unsigned id)
{
	char name[16];

	snprintf(name, sizeof(name), "vcpu%u", id);
	return sandbox_enter(SANDBOX_VCPU, name);
}

/* The API thread's, on itself (api/thread.h); a no-op with seccomp off. */
static int sandbox_api(void)
{
	return sandbox_enter(SANDBOX_API, "api");
}

static const struct vmm_sandbox sandbox_hooks = {
	sandbox_boot, sandbox_vmm, sandbox_vcpu, sandbox_set_metrics_fd,
};

/* The filters compiled (or Firecracker's programs taken, custom non-NULL),
 * unless off; then each thread installs its own. */
static int sandbox_setup(struct vmm *vmm, bool off, const char *deny,
			 const struct fc_filters *custom, int status, struct errbuf *e)
{
	int ret;

	if (off)
		return 0;
	if (custom) {
		/* As Firecracker: its VMM thread runs unfiltered until the VM
		 * is built, so the boot phase (and the thread that builds the
		 * next VM ahead of time, part of that phase) gets nothing; the
		 * VMM thread's own helpers are that prewarm thread and, in the
		 * sanitizer build, the reaper (made before any filter, it only
		 * exits): neither reads guest input. io_uring's workers are the
		 * kernel's, restricted per ring (backend/uring_ring.c). */
		const uint64_t *insns[SANDBOX_NR] = {
			[SANDBOX_VMM] = custom->prog[FC_CAT_VMM],
			[SANDBOX_VCPU] = custom->prog[FC_CAT_VCPU],
			[SANDBOX_API] = custom->prog[FC_CAT_API],
		};
		const uint16_t len[SANDBOX_NR] = {
			[SANDBOX_VMM] = custom->len[FC_CAT_VMM],
			[SANDBOX_VCPU] = custom->len[FC_CAT_VCPU],
			[SANDBOX_API] = custom->len[FC_CAT_API],
		};

		ret = sandbox_prepare_programs(insns, len, status, e);
	} else {
		ret = sandbox_prepare(deny, status, e);
	}
	if (!ret)
		vmm_set_sandbox(vmm, &sandbox_hooks);
	return ret;
}

/* Firecracker's --seccomp-filter FILE, read and checked before anything
 * else starts: the file as Firecracker reads it (sandbox/fc_filters.h),
 * then each program through the kernel's checker in a child, so that a
 * program the kernel refuses is a bad file now, not a failed boot. */
static int load_seccomp_filter(const char *path, struct fc_filters *out, struct errbuf *e)
{
	static const char *const names[FC_CAT_NR] = { "vmm", "api", "vcpu" };
	int ret = fc_filters_load(path, out, e);

	for (int c = 0; !ret && c < FC_CAT_NR; c++) {
		ret = sandbox_try_program(out->prog[c], out->len[c]);
		if (ret)
			errf(e, ret, "the kernel refuses the %s program (%s)", names[c],
			     strerror(-ret));
	}
	if (ret)
		fc_filters_free(out);
	return ret;
}

/* A fatal error: the one "vireo: " line on stderr, and in Firecracker's log
 * too when it goes to a file (its clients read that). */
static void fail(const char *fmt, ...)
{
	char text[4096], msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	/* the flag's value (a --config-file path) is the user's: one line */
	log_one_line(msg, sizeof(msg), text);
	fprintf(stderr, "vireo: %s\n", msg);
	if (log_has_file())
		log_error("%s", msg);
}

/* `vireo run --api-sock`: Firecracker's API for a VM that is already
 * running, its configuration the command line's (so the routes' phase
 * rules leave it only what a booted VM takes). */
static int run_api_start(struct api_thread **api, struct api_routes *routes, struct vmm *vmm,
			 const struct host_limits *lim, const struct vm_config *cfg,
			 const char *path, struct errbuf *e)
{
	api_routes_init(routes, vmm, lim, "vireo-run", cfg->transport == CONFIG_TRANSPORT_PCI);
	config_free(&routes->cfg);
	if (config_copy(&routes->cfg, cfg))
		return errf(e, -ENOMEM, "out of memory");
	return api_thread_start(api, path, CLI_FC_MAX_PAYLOAD, vmm_loop(vmm), api_route,
				routes, sandbox_api, e);
}

static int run(const struct vm_config *cfg, const char *api_sock, const char *incoming,
	       bool no_seccomp, const char *deny)
{
	struct host_limits lim;
	struct errbuf e = { "" };
	struct vmm *vmm = NULL;
	struct api_thread *api = NULL;
	/* on the heap: 16 KiB that `ulimit -s 32` could not spare */
	struct api_routes *routes = NULL;
	int ret;

	if (vm_probe_host(&lim, &e)) {
		fprintf(stderr, "vireo: %s\n", e.msg);
		return EXIT_RUNTIME;
	}
	/* Beyond what the host allows is still the user's input: a usage error. */
	if (config_check_limits(cfg, &lim, CONFIG_FROM_CLI, &e)) {
		fprintf(stderr, "vireo: %s\n", e.msg);
		return EXIT_USAGE;
	}
	if (vmm_create(&vmm, &e) ||
	    sandbox_setup(vmm, no_seccomp, deny, NULL, EXIT_BAD_SYSCALL, &e) ||
	    (incoming ? vmm_boot_incoming(vmm, cfg, incoming, &e) : vmm_boot(vmm, cfg, &e))) {
		vmm_destroy(vmm);
		fprintf(stderr, "vireo: %s\n", e.msg);
		return EXIT_RUNTIME;
	}
	if (api_sock && (!(routes = calloc(1, sizeof(*routes))) ||
			 run_api_start(&api, routes, vmm, &lim, cfg, api_sock, &e))) {
		fprintf(stderr, "vireo: --api-sock %s\n", routes ? e.msg : "out of memory");
		if (routes)
			api_routes_destroy(routes);
		free(routes);
		vmm_destroy(vmm);
		return EXIT_RUNTIME;
	}
	ret = vmm_run(vmm);
	if (routes) {
		api_thread_stop(api);
		api_routes_destroy(routes);
		free(routes);
	}
	vmm_destroy(vmm);
	return ret;
}

/* The whole of a --config-file, at most CONFIG_FILE_MAX bytes; malloc'd
 * and NUL-terminated. */
static int read_config_file(const char *path, char **text, size_t *len, struct errbuf *e)
{
	uint8_t *buf;
	char *t;
	int ret = file_read_all(path, CONFIG_FILE_MAX, &buf, len, e);

	if (ret)
		return ret;
	t = realloc(buf, *len + 1);
	if (!t) {
		free(buf);
		return errf(e, -ENOMEM, "out of memory");
	}
	t[*len] = '\0';
	*text = t;
	return 0;
}

static int apply_config_file(struct api_routes *r, const char *path, struct errbuf *e)
{
	char *text = NULL;
	size_t len = 0;
	int ret = read_config_file(path, &text, &len, e);

	if (!ret)
		ret = fc_config_file(&r->cfg, text, len, NULL, e);
	free(text);
	if (ret)
		errf_prefix(e, path);
	return ret;
}

/* --metadata: the file's JSON into the MMDS's store, under its limit (an
 * empty file is no JSON either). Firecracker reads it before the config
 * file's mmds-config. */
static int load_metadata(struct vmm *vmm, const char *path, struct errbuf *e)
{
	char *text = NULL;
	size_t len = 0;
	int ret = read_config_file(path, &text, &len, e);

	if (!ret)
		ret = vmm_mmds_put(vmm, text, len, e);
	free(text);
	if (ret)
		errf_prefix(e, path);
	return ret;
}

static char *dup_or_null(const char *s, bool *ok)
{
	char *d = s ? strdup(s) : NULL;

	*ok &= !s || d;
	return d;
}

/* Firecracker's logger and metrics flags, and the Prometheus textfile:
 * their files opened now; the logger and metrics also kept in r->cfg, so
 * that neither the config file nor the API sets them again. *logger and
 * *metrics say which the flags set. 0 or -errno with e naming the flag. */
static int apply_telemetry_flags(const struct cli_firecracker *f, struct api_routes *r,
				 bool *logger, bool *metrics, struct errbuf *e)
{
	struct config_logger *l = &r->cfg.logger;
	bool ok = true;
	int ret = 0;

	*logger = f->log_path || f->level_set || f->show_level || f->show_log_origin || f->module;
	*metrics = f->metrics_path != NULL;
	if (*logger) {
		*l = (struct config_logger){
			.set = true, .path = dup_or_null(f->log_path, &ok), .level = f->level,
			.show_level = f->show_level, .show_origin = f->show_log_origin,
			.module = dup_or_null(f->module, &ok),
		};
		ret = ok ? vmm_set_logger(r->vmm, l, e) : errf(e, -ENOMEM, "out of memory");
		if (ret) {
			errf_prefix(e, "--log-path");
			return ret;
		}
	}
	if (*metrics) {
		r->cfg.metrics.path = dup_or_null(f->metrics_path, &ok);
		ret = ok ? vmm_set_metrics(r->vmm, &r->cfg.metrics, e)
			 : errf(e, -ENOMEM, "out of memory");
		if (ret) {
			errf_prefix(e, "--metrics-path");
			return ret;
		}
	}
	if (f->prometheus_textfile) {
		ret = vmm_set_textfile(r->vmm, f->prometheus_textfile, e);
		if (ret)
			errf_prefix(e, "--prometheus-textfile");
	}
	return ret;
}

/* Firecracker's process: its API on the socket (unless --no-api), its
 * config file booted at once; it ends when the VM does. */
static int run_firecracker(const struct cli_firecracker *f)
{
	struct host_limits lim;
	struct errbuf e = { "" };
	struct api_thread *api = NULL;
	static struct api_routes routes; /* as in run() */
	struct vmm *vmm = NULL;
	struct fc_filters custom = { { NULL }, { 0 } };
	bool flag_logger, flag_metrics;
	int ret;

	/* Firecracker's compiled filters (its seccompiler's output, one BPF
	 * program per thread category) instead of vireo's lists */
	if (f->seccomp_filter && f->seccomp_test_deny) {
		fail("--seccomp-filter and --seccomp-test-deny: one or the other");
		return FC_EXIT_BAD_CONFIGURATION;
	}
	if (f->seccomp_filter && load_seccomp_filter(f->seccomp_filter, &custom, &e)) {
		fail("--seccomp-filter %s: %s", f->seccomp_filter, e.msg);
		return FC_EXIT_BAD_CONFIGURATION;
	}
	if (vm_probe_host(&lim, &e) || vmm_create(&vmm, &e)) {
		fail("%s", e.msg);
		fc_filters_free(&custom);
		return EXIT_RUNTIME;
	}
	ret = sandbox_setup(vmm, f->no_seccomp || (SECCOMP_DEFAULT_OFF && !f->seccomp_test_deny &&
						   !f->seccomp_filter),
			    f->seccomp_test_deny, f->seccomp_filter ? &custom : NULL,
			    FC_EXIT_BAD_SYSCALL, &e);
	/* sandbox_prepare_programs took its own copy */
	fc_filters_free(&custom);
	if (ret) {
		fail("%s", e.msg);
		vmm_destroy(vmm);
		return EXIT_RUNTIME;
	}
	/* the VM a request or the config file will ask for: KVM's slow first
	 * steps now, on their own thread, while the API waits */
	vmm_prewarm(vmm);
	vmm_set_id(vmm, f->id);
	vmm_set_sighup_status(FC_EXIT_SIGHUP);
	api_routes_init(&routes, vmm, &lim, f->id, f->enable_pci);
	routes.boot_timer = f->boot_timer;
	if (apply_telemetry_flags(f, &routes, &flag_logger, &flag_metrics, &e)) {
		fail("%s", e.msg);
		ret = EXIT_RUNTIME;
		goto out;
	}
	vmm_mmds_set_limit(vmm, f->mmds_size_limit_set ? f->mmds_size_limit : f->max_payload);
	if (f->metadata && load_metadata(vmm, f->metadata, &e)) {
		fail("--metadata %s", e.msg);
		ret = FC_EXIT_BAD_CONFIGURATION;
		goto out;
	}
	ret = f->config_file ? apply_config_file(&routes, f->config_file, &e) : 0;
	if (!ret && f->config_file) {
		ret = api_apply_telemetry(&routes, !flag_logger, !flag_metrics, &e);
		if (ret)
			errf_prefix(&e, f->config_file);
	}
	if (ret) {
		fail("--config-file %s", e.msg);
		ret = FC_EXIT_BAD_CONFIGURATION;
		goto out;
	}
	if (!f->no_api && api_thread_start(&api, f->api_sock, f->max_payload, vmm_loop(vmm),
					   api_route, &routes, sandbox_api, &e)) {
		fail("--api-sock %s", e.msg);
		ret = EXIT_RUNTIME;
		goto out;
	}
	if (f->config_file && api_instance_start(&routes, &e)) {
		fail("--config-file %s: %s", f->config_file, e.msg);
		ret = FC_EXIT_BAD_CONFIGURATION;
		goto out;
	}
	ret = vmm_run(vmm);
	log_info("exiting with status %d", ret);
out:
	api_thread_stop(api);
	api_routes_destroy(&routes);
	vmm_destroy(vmm);
	return ret;
}

/* What --help and --version printed must have reached stdout (a full disk,
 * a closed pipe): 0, or EXIT_RUNTIME with the one line saying why. */
static int report_stdout(const char *flag)
{
	if (fflush(stdout) == 0 && !ferror(stdout))
		return 0;
	fprintf(stderr, "vireo: %s: cannot write to stdout: %s\n", flag, strerror(errno));
	return EXIT_RUNTIME;
}

/* One request of `vireo snapshot` / `vireo migrate`; 0, or 1 with the
 * reason on stderr (the API's fault_message as it came). */
static int client_call(const char *sock, const char *method, const char *path,
		       const char *body, const char *what)
{
	char reply[1024];
	struct errbuf e;
	int status = 0;

	if (api_client_request(sock, method, path, body, &status, reply, sizeof(reply), &e)) {
		fprintf(stderr, "vireo: %s: %s\n", what, e.msg);
		return 1;
	}
	if (status / 100 != 2) {
		char line[sizeof(reply)];

		log_one_line(line, sizeof(line), reply);
		fprintf(stderr, "vireo: %s: %d %s\n", what, status, line);
		return 1;
	}
	return 0;
}

/* vireo snapshot: pause, snapshot, resume (unless --stay-paused); a VM
 * paused by someone else stays paused. */
static int run_snapshot(const struct cli_client *c)
{
	char body[2 * 4096 + 128], inst[256];
	struct errbuf e;
	int status = 0, ret;
	bool was_paused;

	if (api_client_request(c->api_sock, "GET", "/", NULL, &status, inst, sizeof(inst), &e)) {
		fprintf(stderr, "vireo: snapshot: %s\n", e.msg);
		return EXIT_RUNTIME;
	}
	was_paused = strstr(inst, "\"Paused\"") != NULL;
	if ((size_t)snprintf(body, sizeof(body), "{\"snapshot_type\":\"%s\",\"snapshot_path\":"
			     "\"%s\",\"mem_file_path\":\"%s\"}", c->diff ? "Diff" : "Full",
			     c->state, c->mem) >= sizeof(body) ||
	    strpbrk(c->state, "\"\\") || strpbrk(c->mem, "\"\\")) {
		fprintf(stderr, "vireo: snapshot: a path with a quote or a backslash\n");
		return EXIT_USAGE;
	}
	if (!was_paused && client_call(c->api_sock, "PATCH", "/vm", "{\"state\":\"Paused\"}",
				       "snapshot: pausing"))
		return EXIT_RUNTIME;
	ret = client_call(c->api_sock, "PUT", "/snapshot/create", body, "snapshot");
	if (!was_paused && !c->stay_paused &&
	    client_call(c->api_sock, "PATCH", "/vm", "{\"state\":\"Resumed\"}",
			"snapshot: resuming"))
		ret = 1;
	return ret ? EXIT_RUNTIME : 0;
}

static int run_migrate(const struct cli_client *c)
{
	char body[4096 + 64];

	if ((size_t)snprintf(body, sizeof(body), "{\"destination\":\"%s\"}", c->to) >= sizeof(body) ||
	    strpbrk(c->to, "\"\\")) {
		fprintf(stderr, "vireo: migrate: --to: a path with a quote or a backslash\n");
		return EXIT_USAGE;
	}
	return client_call(c->api_sock, "PUT", "/vm/migrate", body, "migrate") ? EXIT_RUNTIME : 0;
}

int main(int argc, char **argv)
{
	/* static: some 20 KiB, too much for a small stack (ulimit -s 32) */
	static struct cli cli;
	struct errbuf e = { "" };
	int ret;

	/* One malloc arena for every thread: vireo's threads allocate little
	 * and seldom, and an arena of its own would reserve 64 MiB for each
	 * and keep its touched pages (the API thread: 124 KiB of private
	 * memory against 56, bench/api.py). */
	mallopt(M_ARENA_MAX, 1);
#if defined(__SANITIZE_ADDRESS__)
	reaper_start();
#endif
	if (cli_parse(argc, argv, &cli, &e)) {
		fprintf(stderr, "vireo: %s\n", e.msg);
		ret = cli.action == CLI_FIRECRACKER ? FC_EXIT_ARG_PARSING : EXIT_USAGE;
		cli_free(&cli);
		return ret;
	}
	switch (cli.action) {
	case CLI_HELP:
		fputs(cli_usage, stdout);
		ret = report_stdout("--help");
		break;
	case CLI_VERSION:
		/* line 1 for Kata (the second word is the semver), line 2 the
		 * API version, as firecracker-go-sdk compares it with GET /version */
		printf("vireo v%s\nFirecracker v%s\n", VIREO_VERSION, API_FIRECRACKER_VERSION);
		ret = report_stdout("--version");
		break;
	case CLI_FIRECRACKER:
		ret = run_firecracker(&cli.fc);
		break;
	case CLI_SNAPSHOT:
		ret = run_snapshot(&cli.client);
		break;
	case CLI_MIGRATE:
		ret = run_migrate(&cli.client);
		break;
	case CLI_REBASE:
		ret = vm_snapshot_rebase(cli.rebase_base, cli.rebase_diff, &e) ? EXIT_RUNTIME : 0;
		if (ret)
			fprintf(stderr, "vireo: rebase: %s\n", e.msg);
		break;
	default:
		ret = run(&cli.vm, cli.api_sock, cli.incoming,
			  cli.seccomp_set ? cli.no_seccomp : SECCOMP_DEFAULT_OFF,
			  cli.seccomp_test_deny);
		break;
	}
	cli_free(&cli);
#if defined(__SANITIZE_ADDRESS__)
	reaper_exit(ret);
#endif
	return ret;
}
