/* vireo's entry point: argv -> struct vm_config -> vm_create / vm_run.
 * The only place that prints user errors and chooses the exit status. */
#include <stdio.h>

#include "config.h"
#include "core/log.h"
#include "core/vm.h"

#define EXIT_RUNTIME 1
#define EXIT_USAGE 2

int main(int argc, char **argv)
{
	struct vm_config cfg;
	struct host_limits lim;
	struct errbuf e = { "" };
	struct vm *vm;
	int ret;

	if (config_parse(argc, argv, &cfg, &e)) {
		fprintf(stderr, "vireo: %s\n", e.msg);
		return EXIT_USAGE;
	}
	if (cfg.action == ACTION_HELP) {
		fputs(config_usage, stdout);
		return 0;
	}
	if (cfg.action == ACTION_VERSION) {
		printf("vireo v%s\n", VIREO_VERSION);
		return 0;
	}
	if (vm_probe_host(&lim, &e)) {
		fprintf(stderr, "vireo: %s\n", e.msg);
		return EXIT_RUNTIME;
	}
	/* Beyond what the host allows is still the user's input: a usage error. */
	if (config_check_limits(&cfg, &lim, &e)) {
		fprintf(stderr, "vireo: %s\n", e.msg);
		return EXIT_USAGE;
	}
	if (vm_create(&vm, &cfg, &e)) {
		fprintf(stderr, "vireo: %s\n", e.msg);
		return EXIT_RUNTIME;
	}
	ret = vm_run(vm);
	vm_destroy(vm);
	return ret;
}
