/* Firecracker's command line (its main.rs flags), so that a client that
 * starts `firecracker --api-sock S --id ID ...` starts vireo unchanged,
 * and one flag of vireo's own: --prometheus-textfile.
 * Values are checked here as Firecracker checks them; what they do is
 * main.c's. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/cli.h"
#include "config/cli_priv.h"

enum fc_flag {
	FC_API_SOCK, FC_ID, FC_CONFIG_FILE, FC_NO_API, FC_LEVEL, FC_LOG_PATH, FC_MODULE,
	FC_SHOW_LEVEL, FC_SHOW_LOG_ORIGIN, FC_METRICS_PATH, FC_BOOT_TIMER, FC_METADATA,
	FC_MAX_PAYLOAD, FC_NO_SECCOMP, FC_SECCOMP_FILTER, FC_ENABLE_PCI, FC_VERSION,
	FC_PROM_TEXTFILE, FC_SECCOMP_TEST_DENY, FC_MMDS_LIMIT,
	FC_ACCEPTED,         /* taken and not used: the jailer's timing flags */
};

static const struct cli_flag fc_flags[] = {
	{ "--api-sock", FC_API_SOCK, true }, { "--id", FC_ID, true },
	{ "--config-file", FC_CONFIG_FILE, true }, { "--no-api", FC_NO_API, false },
	{ "--level", FC_LEVEL, true }, { "--log-path", FC_LOG_PATH, true },
	{ "--module", FC_MODULE, true }, { "--show-level", FC_SHOW_LEVEL, false },
	{ "--show-log-origin", FC_SHOW_LOG_ORIGIN, false },
	{ "--metrics-path", FC_METRICS_PATH, true }, { "--boot-timer", FC_BOOT_TIMER, false },
	{ "--metadata", FC_METADATA, true },
	{ "--http-api-max-payload-size", FC_MAX_PAYLOAD, true },
	{ "--no-seccomp", FC_NO_SECCOMP, false }, { "--seccomp-filter", FC_SECCOMP_FILTER, true },
	{ "--enable-pci", FC_ENABLE_PCI, false }, { "--version", FC_VERSION, false },
	{ "--prometheus-textfile", FC_PROM_TEXTFILE, true },
	{ "--seccomp-test-deny", FC_SECCOMP_TEST_DENY, true },
	{ "--start-time-us", FC_ACCEPTED, true }, { "--start-time-cpu-us", FC_ACCEPTED, true },
	{ "--parent-cpu-time-us", FC_ACCEPTED, true },
	{ "--mmds-size-limit", FC_MMDS_LIMIT, true },
};

static int fc_string(char **field, const char *flag, const char *val, struct errbuf *e)
{
	char *copy;

	if (!*val)
		return errf(e, -EINVAL, "%s: empty", flag);
	copy = strdup(val);
	if (!copy)
		return errf(e, -ENOMEM, "out of memory");
	free(*field);
	*field = copy;
	return 0;
}

/* Firecracker's instance id: 1 to 64 of letters, digits and '-'. */
static int fc_id(struct cli_firecracker *f, const char *val, struct errbuf *e)
{
	size_t n = strlen(val);

	if (!n || n > CLI_FC_ID_MAX)
		return errf(e, -EINVAL, "--id: '%s': 1 to %d characters", val, CLI_FC_ID_MAX);
	for (const char *p = val; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-'))
			return errf(e, -EINVAL, "--id: '%s': only letters, digits and '-'", val);
	return fc_string(&f->id, "--id", val, e);
}

static int fc_level(struct cli_firecracker *f, const char *val, struct errbuf *e)
{
	static const struct { const char *name; enum config_log_level level; } levels[] = {
		{ "off", CONFIG_LOG_OFF }, { "error", CONFIG_LOG_ERROR },
		{ "warning", CONFIG_LOG_WARN }, { "warn", CONFIG_LOG_WARN },
		{ "info", CONFIG_LOG_INFO }, { "debug", CONFIG_LOG_DEBUG },
		{ "trace", CONFIG_LOG_TRACE },
	};

	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		if (!strcasecmp(val, levels[i].name)) {
			f->level = levels[i].level;
			f->level_set = true;
			return 0;
		}
	}
	return errf(e, -EINVAL, "--level: '%s': expected Off, Error, Warning, Info, Debug or "
		    "Trace", val);
}

static int fc_payload(struct cli_firecracker *f, const char *val, struct errbuf *e)
{
	char *end;
	unsigned long long n;

	errno = 0;
	n = strtoull(val, &end, 10);
	if (*val < '0' || *val > '9' || *end || errno || n == 0 || n > (64ull << 20))
		return errf(e, -EINVAL, "--http-api-max-payload-size: '%s': expected 1 to %llu "
			    "bytes", val, 64ull << 20);
	f->max_payload = (size_t)n;
	return 0;
}

/* Firecracker's usize; vireo caps it where a store could still be
 * answered to the guest (1 GiB). */
static int fc_mmds_limit(struct cli_firecracker *f, const char *val, struct errbuf *e)
{
	char *end;
	unsigned long long n;

	errno = 0;
	n = strtoull(val, &end, 10);
	if (*val < '0' || *val > '9' || *end || errno || n > (1ull << 30))
		return errf(e, -EINVAL, "--mmds-size-limit: '%s': expected 0 to %llu bytes", val,
			    1ull << 30);
	f->mmds_size_limit = (size_t)n;
	f->mmds_size_limit_set = true;
	return 0;
}

/* One flag into cli->fc; 1 after --version (stop there). */
static int fc_apply(void *ctx, int flag, const char *val, struct errbuf *e)
{
	struct cli *cli = ctx;
	struct cli_firecracker *f = &cli->fc;

	switch ((enum fc_flag)flag) {
	case FC_API_SOCK: return fc_string(&f->api_sock, "--api-sock", val, e);
	case FC_ID: return fc_id(f, val, e);
	case FC_CONFIG_FILE: return fc_string(&f->config_file, "--config-file", val, e);
	case FC_NO_API: f->no_api = true; return 0;
	case FC_LEVEL: return fc_level(f, val, e);
	case FC_LOG_PATH: return fc_string(&f->log_path, "--log-path", val, e);
	case FC_MODULE: return fc_string(&f->module, "--module", val, e);
	case FC_SHOW_LEVEL: f->show_level = true; return 0;
	case FC_SHOW_LOG_ORIGIN: f->show_log_origin = true; return 0;
	case FC_METRICS_PATH: return fc_string(&f->metrics_path, "--metrics-path", val, e);
	case FC_BOOT_TIMER: f->boot_timer = true; return 0;
	case FC_METADATA: return fc_string(&f->metadata, "--metadata", val, e);
	case FC_MAX_PAYLOAD: return fc_payload(f, val, e);
	case FC_MMDS_LIMIT: return fc_mmds_limit(f, val, e);
	case FC_NO_SECCOMP: f->no_seccomp = true; return 0;
	case FC_SECCOMP_FILTER: return fc_string(&f->seccomp_filter, "--seccomp-filter", val, e);
	case FC_ENABLE_PCI: f->enable_pci = true; return 0;
	case FC_PROM_TEXTFILE:
		return fc_string(&f->prometheus_textfile, "--prometheus-textfile", val, e);
	case FC_SECCOMP_TEST_DENY:
		return fc_string(&f->seccomp_test_deny, "--seccomp-test-deny", val, e);
	case FC_VERSION: cli->action = CLI_VERSION; return 1;
	case FC_ACCEPTED: return 0;
	}
	return 0;
}

int cli_parse_firecracker(int argc, char *const argv[], struct cli *cli, struct errbuf *e)
{
	struct cli_firecracker *f = &cli->fc;
	int ret;

	cli->action = CLI_FIRECRACKER;
	f->max_payload = CLI_FC_MAX_PAYLOAD;
	f->level = CONFIG_LOG_WARN;
	ret = cli_walk(argc, argv, fc_flags, sizeof(fc_flags) / sizeof(fc_flags[0]), fc_apply, cli,
		       e);
	if (ret || cli->action != CLI_FIRECRACKER)
		return ret;
	if (f->no_api && !f->config_file)
		return errf(e, -EINVAL, "--no-api: needs --config-file (nothing else could "
			    "configure the VM)");
	if (f->no_seccomp && f->seccomp_filter)
		return errf(e, -EINVAL, "--no-seccomp and --seccomp-filter: one or the other");
	if (!f->api_sock && (ret = fc_string(&f->api_sock, "--api-sock", CLI_FC_API_SOCK, e)))
		return ret;
	if (!f->id && (ret = fc_string(&f->id, "--id", CLI_FC_ID, e)))
		return ret;
	return 0;
}
