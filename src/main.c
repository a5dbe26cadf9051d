/* vireo's entry point: the command line -> struct vm_config -> the VMM
 * (vmm_boot, vmm_run). The only place that prints user errors, chooses the
 * exit status and exits. */
#include <stdio.h>

#include "base/log.h"
#include "config/cli.h"
#include "vmm/vm.h"
#include "vmm/vmm.h"

#define EXIT_RUNTIME 1
#define EXIT_USAGE 2

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
	if (config_check_limits(cfg, &lim, &e)) {
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

int main(int argc, char **argv)
{
	struct cli cli;
	struct errbuf e = { "" };
	int ret;

	if (cli_parse(argc, argv, &cli, &e)) {
		fprintf(stderr, "vireo: %s\n", e.msg);
		config_free(&cli.vm);
		return EXIT_USAGE;
	}
	switch (cli.action) {
	case CLI_HELP:
		fputs(cli_usage, stdout);
		ret = 0;
		break;
	case CLI_VERSION:
		printf("vireo v%s\n", VIREO_VERSION);
		ret = 0;
		break;
	default:
		ret = run(&cli.vm);
		break;
	}
	config_free(&cli.vm);
	return ret;
}
