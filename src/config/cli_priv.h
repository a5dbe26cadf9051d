/* What cli.c and cli_firecracker.c share: one walk over argv for both
 * grammars of flags ("--flag value" and "--flag=value"). Others use cli.h. */
#ifndef VIREO_CONFIG_CLI_PRIV_H
#define VIREO_CONFIG_CLI_PRIV_H

#include <stdbool.h>
#include <stddef.h>

#include "base/log.h"
#include "config/cli.h"

struct cli_flag {
	const char *name;       /* "--kernel" */
	int id;
	unsigned takes_value;   /* true (CLI_VALUE), perhaps | CLI_REPEATABLE */
};

#define CLI_VALUE 1u
/* may be given again (--disk, --net); any other flag given twice is an error */
#define CLI_REPEATABLE 2u

/* Called for each flag: 0 to go on, 1 to stop without error (--help), or
 * -errno with e set. */
typedef int (*cli_flag_fn)(void *ctx, int id, const char *val, struct errbuf *e);

/* Walks argv[0..argc) against flags[0..n) (n <= 64). Returns 0 or the
 * first error: an unknown flag, a stray argument, a value missing or not
 * allowed, a flag given twice that is not repeatable, or what fn said. */
int cli_walk(int argc, char *const argv[], const struct cli_flag *flags, size_t n,
	     cli_flag_fn fn, void *ctx, struct errbuf *e) __attribute__((warn_unused_result));

/* Firecracker's flags (cli_firecracker.c): argv[0..argc) after the program. */
int cli_parse_firecracker(int argc, char *const argv[], struct cli *cli, struct errbuf *e)
	__attribute__((warn_unused_result));

#endif
