/* vireo's entry point: argv -> struct vm_config -> vm_create / vm_run.
 * The only place that prints user errors and chooses the exit status. */
#include <errno.h>
#include <stdio.h>

#include "config.h"
#include "core/log.h"
#include "core/vm.h"

#define EXIT_RUNTIME 1
#define EXIT_USAGE 2

int main(int argc, char **argv)
{
	struct vm_config cfg;
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
	/* Limits that only the host can judge (CPU count, memory size) are
	 * still the user's input: those are usage errors. */
	ret = vm_create(&vm, &cfg, &e);
	if (ret) {
		fprintf(stderr, "vireo: %s\n", e.msg);
		return ret == -E2BIG && (e.msg[0] == '-') ? EXIT_USAGE : EXIT_RUNTIME;
	}
	ret = vm_run(vm);
	vm_destroy(vm);
	return ret;
}
