/* vireo's entry point: the command line -> the VMM. `vireo run` boots
 * from flags; Firecracker's flags (no subcommand) serve its REST API and
 * read its config file. The only place that prints user errors, chooses
 * the exit status and exits. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/routes.h"
#include "api/server.h"
#include "base/log.h"
#include "config/cli.h"
#include "config/firecracker.h"
#include "vmm/vm.h"
#include "vmm/vmm.h"

#define EXIT_RUNTIME 1
#define EXIT_USAGE 2
/* Firecracker's own (its FcExitCode), where its clients may look */
#define FC_EXIT_BAD_CONFIGURATION 152
#define FC_EXIT_ARG_PARSING 153
#define FC_EXIT_SIGHUP 156
#define CONFIG_FILE_MAX (1u << 20)

static int run(const struct vm_config *cfg)
{
	struct host_limits lim;
	struct errbuf e = { "" };
	struct vmm *vmm = NULL;
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
	if (vmm_create(&vmm, &e) || vmm_boot(vmm, cfg, &e)) {
		vmm_destroy(vmm);
		fprintf(stderr, "vireo: %s\n", e.msg);
		return EXIT_RUNTIME;
	}
	ret = vmm_run(vmm);
	vmm_destroy(vmm);
	return ret;
}

/* The whole of a --config-file, at most CONFIG_FILE_MAX bytes; malloc'd. */
static int read_config_file(const char *path, char **text, size_t *len, struct errbuf *e)
{
	struct stat st;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return errf(e, -errno, "%s", strerror(errno));
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size > CONFIG_FILE_MAX) {
		close(fd);
		return errf(e, -EINVAL, "not a regular file of at most %u bytes", CONFIG_FILE_MAX);
	}
	*text = malloc((size_t)st.st_size + 1);
	if (!*text) {
		close(fd);
		return errf(e, -ENOMEM, "out of memory");
	}
	for (*len = 0; *len < (size_t)st.st_size; *len += (size_t)n) {
		n = read(fd, *text + *len, (size_t)st.st_size - *len);
		if (n <= 0)
			break;
	}
	close(fd);
	(*text)[*len] = '\0';
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

/* Firecracker's process: its API on the socket (unless --no-api), its
 * config file booted at once; it ends when the VM does. */
static int run_firecracker(const struct cli_firecracker *f)
{
	struct host_limits lim;
	struct errbuf e = { "" };
	struct api_server *api = NULL;
	struct api_routes routes;
	struct vmm *vmm = NULL;
	int ret;

	if (!f->no_api)
		api_server_prefetch();
	if (vm_probe_host(&lim, &e) || vmm_create(&vmm, &e)) {
		fprintf(stderr, "vireo: %s\n", e.msg);
		return EXIT_RUNTIME;
	}
	api_routes_init(&routes, vmm, &lim, f->id, f->enable_pci);
	ret = f->config_file ? apply_config_file(&routes, f->config_file, &e) : 0;
	if (ret) {
		fprintf(stderr, "vireo: --config-file %s\n", e.msg);
		ret = FC_EXIT_BAD_CONFIGURATION;
		goto out;
	}
	if (!f->no_api && api_server_start(&api, f->api_sock, f->max_payload, vmm_loop(vmm),
					   api_route, &routes, &e)) {
		fprintf(stderr, "vireo: --api-sock %s\n", e.msg);
		ret = EXIT_RUNTIME;
		goto out;
	}
	if (f->config_file && api_instance_start(&routes, &e)) {
		fprintf(stderr, "vireo: --config-file %s: %s\n", f->config_file, e.msg);
		ret = FC_EXIT_BAD_CONFIGURATION;
		goto out;
	}
	ret = vmm_run(vmm);
	if (ret == 128 + SIGHUP)
		ret = FC_EXIT_SIGHUP;
out:
	api_server_stop(api);
	api_routes_destroy(&routes);
	vmm_destroy(vmm);
	return ret;
}

int main(int argc, char **argv)
{
	struct cli cli;
	struct errbuf e = { "" };
	int ret;

	if (cli_parse(argc, argv, &cli, &e)) {
		fprintf(stderr, "vireo: %s\n", e.msg);
		ret = cli.action == CLI_FIRECRACKER ? FC_EXIT_ARG_PARSING : EXIT_USAGE;
		cli_free(&cli);
		return ret;
	}
	switch (cli.action) {
	case CLI_HELP:
		fputs(cli_usage, stdout);
		ret = 0;
		break;
	case CLI_VERSION:
		/* line 1 for Kata (the second word is the semver), line 2 the
		 * API version, as firecracker-go-sdk compares it with GET /version */
		printf("vireo v%s\nFirecracker v%s\n", VIREO_VERSION, API_FIRECRACKER_VERSION);
		ret = 0;
		break;
	case CLI_FIRECRACKER:
		ret = run_firecracker(&cli.fc);
		break;
	default:
		ret = run(&cli.vm);
		break;
	}
	cli_free(&cli);
	return ret;
}
