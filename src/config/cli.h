/* vireo's command line (shared/DESIGN.md §4): argv -> what to do and, for
 * "vireo run", a struct vm_config; for Firecracker's flags (no subcommand,
 * or the program named "firecracker"), struct cli_firecracker. Parsing
 * only: no files are opened, so every error here is a usage error. */
#ifndef VIREO_CONFIG_CLI_H
#define VIREO_CONFIG_CLI_H

#include "base/log.h"
#include "config/config.h"

/* What `vireo run` takes (the config holds more, for Firecracker's API). */
#define CLI_MAX_DISKS 8
#define CLI_MAX_NETS 4

enum cli_action {
	CLI_RUN, CLI_FIRECRACKER, CLI_HELP, CLI_VERSION, CLI_REBASE, CLI_SNAPSHOT, CLI_MIGRATE
};

#define CLI_FC_API_SOCK "/run/firecracker.socket"
#define CLI_FC_ID "anonymous-instance"
#define CLI_FC_ID_MAX 64
#define CLI_FC_MAX_PAYLOAD 51200

/* Firecracker's command line, as its clients (Kata, firecracker-go-sdk,
 * flintlock) start it. Strings are owned. */
struct cli_firecracker {
	char *api_sock;
	char *id;                /* letters, digits and '-', at most CLI_FC_ID_MAX */
	char *config_file;       /* NULL: none; the VM boots from it at once */
	bool no_api;
	char *log_path, *module;
	bool level_set;          /* --level given */
	enum config_log_level level;
	bool show_level, show_log_origin;
	char *metrics_path;
	char *prometheus_textfile; /* beyond Firecracker: node-exporter's textfile; NULL: none */
	bool boot_timer;
	char *metadata;          /* MMDS contents file */
	size_t max_payload;      /* --http-api-max-payload-size */
	bool mmds_size_limit_set; /* --mmds-size-limit given: else max_payload's */
	size_t mmds_size_limit;  /* the MMDS store's bytes of JSON */
	bool no_seccomp;
	char *seccomp_filter;
	bool enable_pci;         /* virtio over PCI; default virtio-mmio */
	char *seccomp_test_deny; /* for tests only, as vireo run's flag */
};

struct cli {
	enum cli_action action;
	struct vm_config vm;     /* CLI_RUN */
	char *api_sock;          /* CLI_RUN: --api-sock, the running VM's API; NULL: none */
	char *incoming;          /* CLI_RUN: --incoming, a migration's socket; NULL: none */
	bool seccomp_set;        /* CLI_RUN: --seccomp given, */
	bool no_seccomp;         /* and it said off */
	/* CLI_RUN, for tests only: --seccomp-test-deny NAME leaves the call
	 * NAME out of every seccomp list, so that a test can prove that a
	 * denied call ends vireo; NULL: none */
	char *seccomp_test_deny;
	struct cli_firecracker fc; /* CLI_FIRECRACKER */
	/* CLI_REBASE: `vireo rebase --memory-path BASE --diff-path DIFF`, a
	 * diff snapshot's memory file written onto its base's */
	char *rebase_base, *rebase_diff;
	/* CLI_SNAPSHOT and CLI_MIGRATE: clients of a running VM's API */
	struct cli_client {
		char *api_sock;
		char *state, *mem;   /* snapshot: --state-path, --mem-path */
		bool diff;           /* snapshot --diff */
		bool stay_paused;    /* snapshot --stay-paused */
		char *to;            /* migrate --to */
	} client;
};

/* Parses argv. Returns 0, or -EINVAL (-ENOMEM) with e naming the bad
 * input: the flag, and for repeatable ones which ("--disk #2"). cli is
 * valid (for cli_free) either way, and cli->action says which grammar
 * failed. */
int cli_parse(int argc, char *const argv[], struct cli *cli, struct errbuf *e)
	__attribute__((warn_unused_result));
void cli_free(struct cli *cli);

extern const char cli_usage[];

#endif
