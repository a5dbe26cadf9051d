/* vireo's command line (shared/DESIGN.md §4): argv -> what to do and, for
 * "vireo run", a struct vm_config. Parsing only: no files are opened, so
 * every error here is a usage error (exit status 2). */
#ifndef VIREO_CONFIG_CLI_H
#define VIREO_CONFIG_CLI_H

#include "base/log.h"
#include "config/config.h"

/* What `vireo run` takes (the config holds more, for Firecracker's API). */
#define CLI_MAX_DISKS 8
#define CLI_MAX_NETS 4

enum cli_action { CLI_RUN, CLI_HELP, CLI_VERSION };

struct cli {
	enum cli_action action;
	struct vm_config vm;     /* CLI_RUN; config_free() it */
};

/* Parses argv. Returns 0, or -EINVAL (-ENOMEM) with e naming the bad
 * input: the flag, and for repeatable ones which ("--disk #2"). cli->vm
 * is valid (to be freed) either way. */
int cli_parse(int argc, char *const argv[], struct cli *cli, struct errbuf *e)
	__attribute__((warn_unused_result));

extern const char cli_usage[];

#endif
