/* Firecracker's metrics line; see fc_metrics.h. The schema below is its
 * groups and fields in the order it writes them (facts of its interface);
 * a field that is an aggregate of latencies ("*_agg") is an object of
 * min_us, max_us and sum_us, which vireo does not measure. */
#include "vmm/fc_metrics.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIELDS(...) ((const char *const[]){ __VA_ARGS__, NULL })

struct fc_group {
	const char *name;
	const char *const *fields;
	bool per_device;          /* also one object per device: "<name>_<id>" */
};

static const struct fc_group fc_schema[] = {
	{ "api_server", FIELDS("process_startup_time_us", "process_startup_time_cpu_us",
			       "sync_response_fails", "sync_vmm_send_timeout_count"), false },
	{ "balloon", FIELDS("activate_fails", "inflate_count", "stats_updates_count",
			    "stats_update_fails", "deflate_count", "event_fails"), false },
	{ "block", FIELDS("activate_fails", "cfg_fails", "no_avail_buffer", "event_fails",
			  "execute_fails", "invalid_reqs_count", "flush_count", "queue_event_count",
			  "rate_limiter_event_count", "update_count", "update_fails", "read_bytes",
			  "write_bytes", "read_count", "write_count", "read_agg", "write_agg",
			  "rate_limiter_throttled_events", "io_engine_throttled_events",
			  "remaining_reqs_count"), true },
	{ "deprecated_api", FIELDS("deprecated_http_api_calls", "deprecated_cmd_line_api_calls"), false },
	{ "get_api_requests", FIELDS("instance_info_count", "machine_cfg_count", "mmds_count",
				     "vmm_version_count"), false },
	{ "i8042", FIELDS("error_count", "missed_read_count", "missed_write_count", "read_count",
			  "reset_count", "write_count"), false },
	{ "uart", FIELDS("error_count", "flush_count", "missed_read_count", "missed_write_count",
			 "read_count", "write_count"), false },
	{ "latencies_us", FIELDS("full_create_snapshot", "diff_create_snapshot", "load_snapshot",
				 "pause_vm", "resume_vm", "vmm_full_create_snapshot",
				 "vmm_diff_create_snapshot", "vmm_load_snapshot", "vmm_pause_vm",
				 "vmm_resume_vm"), false },
	{ "logger", FIELDS("missed_metrics_count", "metrics_fails", "missed_log_count",
			   "log_fails"), false },
	{ "mmds", FIELDS("rx_accepted", "rx_accepted_err", "rx_accepted_unusual", "rx_bad_eth",
			 "rx_count", "tx_bytes", "tx_count", "tx_errors", "tx_frames",
			 "connections_created", "connections_destroyed"), false },
	{ "net", FIELDS("activate_fails", "cfg_fails", "mac_address_updates", "no_rx_avail_buffer",
			"no_tx_avail_buffer", "event_fails", "rx_queue_event_count",
			"rx_event_rate_limiter_count", "rx_partial_writes", "rx_rate_limiter_throttled",
			"rx_tap_event_count", "rx_bytes_count", "rx_packets_count", "rx_fails",
			"rx_count", "tap_read_fails", "tap_write_fails", "tap_write_agg",
			"tx_bytes_count", "tx_malformed_frames", "tx_fails", "tx_count",
			"tx_packets_count", "tx_partial_reads", "tx_queue_event_count",
			"tx_rate_limiter_event_count", "tx_rate_limiter_throttled",
			"tx_spoofed_mac_count", "tx_remaining_reqs_count"), true },
	{ "patch_api_requests", FIELDS("drive_count", "drive_fails", "network_count",
				       "network_fails", "machine_cfg_count", "machine_cfg_fails",
				       "mmds_count", "mmds_fails"), false },
	{ "put_api_requests", FIELDS("actions_count", "actions_fails", "boot_source_count",
				     "boot_source_fails", "drive_count", "drive_fails",
				     "logger_count", "logger_fails", "machine_cfg_count",
				     "machine_cfg_fails", "cpu_cfg_count", "cpu_cfg_fails",
				     "metrics_count", "metrics_fails", "network_count",
				     "network_fails", "mmds_count", "mmds_fails", "vsock_count",
				     "vsock_fails"), false },
	{ "seccomp", FIELDS("num_faults"), false },
	{ "vcpu", FIELDS("exit_io_in", "exit_io_out", "exit_mmio_read", "exit_mmio_write",
			 "failures", "kvmclock_ctrl_fails", "exit_io_in_agg", "exit_io_out_agg",
			 "exit_mmio_read_agg", "exit_mmio_write_agg"), false },
	{ "vmm", FIELDS("device_events", "panic_count"), false },
	{ "signals", FIELDS("sigbus", "sigsegv", "sigxfsz", "sigxcpu", "sigpipe", "sighup",
			    "sigill"), false },
	{ "vsock", FIELDS("activate_fails", "cfg_fails", "rx_queue_event_fails",
			  "tx_queue_event_fails", "ev_queue_event_fails", "muxer_event_fails",
			  "conn_event_fails", "rx_queue_event_count", "tx_queue_event_count",
			  "rx_bytes_count", "tx_bytes_count", "rx_packets_count", "tx_packets_count",
			  "conns_added", "conns_killed", "conns_removed", "killq_resync",
			  "tx_flush_fails", "tx_write_fails", "rx_read_fails"), false },
	{ "entropy", FIELDS("activate_fails", "entropy_event_fails", "entropy_event_count",
			    "entropy_bytes", "host_rng_fails", "entropy_rate_limiter_throttled",
			    "rate_limiter_event_count"), false },
};

#define FC_MAX_DEVICES 32

static bool fc_is_agg(const char *field)
{
	size_t n = strlen(field);

	return n > 4 && !strcmp(field + n - 4, "_agg");
}

/* ,"<key>":{...}: group g's fields, summed over the groups with fc_key key
 * (NULL: all of them). */
static void fc_object(FILE *f, struct metrics *m, const struct fc_group *g, const char *key)
{
	char field[96];

	fprintf(f, ",\"%s\":{", key ? key : g->name);
	for (const char *const *p = g->fields; *p; p++) {
		fprintf(f, "%s\"%s\":", p == g->fields ? "" : ",", *p);
		if (fc_is_agg(*p)) {
			fputs("{\"min_us\":0,\"max_us\":0,\"sum_us\":0}", f);
			continue;
		}
		snprintf(field, sizeof(field), "%s.%s", g->name, *p);
		fprintf(f, "%llu", (unsigned long long)metrics_fc_delta(m, field, key));
	}
	fputc('}', f);
}

bool fc_metrics_known(const char *field)
{
	const char *dot = strchr(field, '.');

	for (size_t i = 0; dot && i < sizeof(fc_schema) / sizeof(fc_schema[0]); i++) {
		if (strlen(fc_schema[i].name) != (size_t)(dot - field) ||
		    strncmp(fc_schema[i].name, field, (size_t)(dot - field)))
			continue;
		for (const char *const *p = fc_schema[i].fields; *p; p++)
			if (!strcmp(*p, dot + 1) && !fc_is_agg(*p))
				return true;
	}
	return false;
}

int fc_metrics_line(struct metrics *m, uint64_t utc_ms, const char *id, char **line, size_t *len)
{
	char keys[FC_MAX_DEVICES][METRICS_FC_KEY_MAX], prefix[40];
	FILE *f;
	int ret;

	*line = NULL;
	*len = 0;
	ret = metrics_take_deltas(m);
	if (ret)
		return ret;
	f = open_memstream(line, len);
	if (!f)
		return -ENOMEM;
	fprintf(f, "{\"utc_timestamp_ms\":%llu", (unsigned long long)utc_ms);
	/* ids are letters, digits, '_' and '-' (config/ checked them): no escapes */
	if (id)
		fprintf(f, ",\"id\":\"%s\"", id);
	for (size_t i = 0; i < sizeof(fc_schema) / sizeof(fc_schema[0]); i++) {
		const struct fc_group *g = &fc_schema[i];

		if (g->per_device) {
			unsigned n;

			snprintf(prefix, sizeof(prefix), "%s_", g->name);
			n = metrics_fc_keys(m, prefix, keys, FC_MAX_DEVICES);
			for (unsigned k = 0; k < n && k < FC_MAX_DEVICES; k++)
				fc_object(f, m, g, keys[k]);
		}
		fc_object(f, m, g, NULL);
	}
	fputs("}\n", f);
	ret = ferror(f) ? -ENOMEM : 0;
	if (fclose(f) && !ret)
		ret = -ENOMEM;
	if (ret) {
		free(*line);
		*line = NULL;
		*len = 0;
	}
	return ret;
}
