/* The tables of metric_names.h. Prometheus names follow its conventions
 * (snake_case, counters end in _total, bytes in _bytes_total); a counter
 * family spans groups (every vCPU's exits are vireo_vcpu_exits_total, told
 * apart by the vcpu label). Firecracker's fields are its metrics.rs names,
 * those of its version 1.12 schema (vmm/fc_metrics.c). */
#include "vmm/metric_names.h"

#define EXITS "VM exits of a vCPU to vireo, by reason"

const struct metric_desc metric_names_vcpu[VCPU_STAT_NR] = {
	[VCPU_EXIT_IO_IN] = { "vcpu_exits_total", "reason=\"io_in\"", EXITS, "vcpu.exit_io_in" },
	[VCPU_EXIT_IO_OUT] = { "vcpu_exits_total", "reason=\"io_out\"", EXITS, "vcpu.exit_io_out" },
	[VCPU_EXIT_MMIO_READ] = { "vcpu_exits_total", "reason=\"mmio_read\"", EXITS,
				  "vcpu.exit_mmio_read" },
	[VCPU_EXIT_MMIO_WRITE] = { "vcpu_exits_total", "reason=\"mmio_write\"", EXITS,
				   "vcpu.exit_mmio_write" },
	[VCPU_EXIT_HLT] = { "vcpu_exits_total", "reason=\"hlt\"", EXITS, NULL },
	[VCPU_EXIT_SHUTDOWN] = { "vcpu_exits_total", "reason=\"shutdown\"", EXITS, NULL },
	[VCPU_EXIT_SYSTEM_EVENT] = { "vcpu_exits_total", "reason=\"system_event\"", EXITS, NULL },
	[VCPU_EXIT_INTERRUPTED] = { "vcpu_exits_total", "reason=\"interrupted\"", EXITS, NULL },
	[VCPU_EXIT_FAILURE] = { "vcpu_exits_total", "reason=\"failure\"", EXITS, "vcpu.failures" },
	[VCPU_EXIT_RETRIED] = { "vcpu_exits_total", "reason=\"vmm_emulated\"", EXITS, NULL },
};

#define ACTIONS "Lifecycle actions the VMM carried out"
#define SIGNALS "Termination signals received"

const struct metric_desc metric_names_vmm[VMM_STAT_NR] = {
	[VMM_STAT_BOOTS] = { "vmm_actions_total", "action=\"boot\"", ACTIONS, NULL },
	[VMM_STAT_PAUSES] = { "vmm_actions_total", "action=\"pause\"", ACTIONS, NULL },
	[VMM_STAT_RESUMES] = { "vmm_actions_total", "action=\"resume\"", ACTIONS, NULL },
	[VMM_STAT_UPDATES] = { "vmm_actions_total", "action=\"update_device\"", ACTIONS, NULL },
	[VMM_STAT_CTRL_ALT_DELS] = { "vmm_actions_total", "action=\"ctrl_alt_del\"", ACTIONS,
				     NULL },
	[VMM_STAT_SIGTERM] = { "vmm_signals_total", "signal=\"SIGTERM\"", SIGNALS, NULL },
	[VMM_STAT_SIGINT] = { "vmm_signals_total", "signal=\"SIGINT\"", SIGNALS, NULL },
	[VMM_STAT_SIGHUP] = { "vmm_signals_total", "signal=\"SIGHUP\"", SIGNALS, "signals.sighup" },
	[VMM_STAT_METRICS_FLUSHES] = { "vmm_metrics_flushes_total", NULL,
				       "Metrics flushes (every 60 s, FlushMetrics, exit)", NULL },
	[VMM_STAT_METRICS_FAILS] = { "vmm_metrics_write_failures_total", NULL,
				     "Metrics lines or textfiles that could not be written",
				     "logger.missed_metrics_count,logger.metrics_fails" },
};

const struct metric_desc metric_names_loop[1] = {
	{ "vmm_loop_events_total", NULL, "Events the VMM's event loop dispatched (kicks, "
	  "completions, timers, API calls)", "vmm.device_events" },
};

#define MMDS_RX "Frames for the metadata service taken from the guest, by what became of them"
#define MMDS_TOKEN "The metadata service's GETs whose token was missing or not valid"
#define MMDS_CONN "The metadata service's TCP connections, by event"

const struct metric_desc metric_names_mmds[MMDS_STAT_NR] = {
	[MMDS_STAT_RX_ACCEPTED] = { "mmds_rx_frames_total", "result=\"taken\"", MMDS_RX,
				    "mmds.rx_accepted,mmds.rx_count" },
	[MMDS_STAT_RX_ACCEPTED_ERR] = { "mmds_rx_frames_total", "result=\"malformed\"", MMDS_RX,
					"mmds.rx_accepted_err" },
	[MMDS_STAT_RX_ACCEPTED_UNUSUAL] = { "mmds_rx_frames_total", "result=\"unusual\"", MMDS_RX,
					    "mmds.rx_accepted_unusual" },
	[MMDS_STAT_REQUESTS] = { "mmds_requests_total", NULL,
				 "HTTP requests the metadata service answered", NULL },
	[MMDS_STAT_RX_NO_TOKEN] = { "mmds_token_refusals_total", "token=\"missing\"", MMDS_TOKEN,
				    NULL },
	[MMDS_STAT_RX_INVALID_TOKEN] = { "mmds_token_refusals_total", "token=\"invalid\"",
					 MMDS_TOKEN, NULL },
	[MMDS_STAT_TX_FRAMES] = { "mmds_tx_frames_total", NULL,
				  "Frames the metadata service queued for the guest",
				  "mmds.tx_frames,mmds.tx_count" },
	[MMDS_STAT_TX_BYTES] = { "mmds_tx_bytes_total", NULL,
				 "Bytes of the frames the metadata service queued for the guest",
				 "mmds.tx_bytes" },
	[MMDS_STAT_TX_ERRORS] = { "mmds_tx_dropped_total", NULL,
				  "Frames of the metadata service dropped: its queue was full",
				  "mmds.tx_errors" },
	[MMDS_STAT_CONN_CREATED] = { "mmds_connections_total", "event=\"created\"", MMDS_CONN,
				     "mmds.connections_created" },
	[MMDS_STAT_CONN_DESTROYED] = { "mmds_connections_total", "event=\"destroyed\"", MMDS_CONN,
				       "mmds.connections_destroyed" },
	[MMDS_STAT_CONN_EVICTED] = { "mmds_connections_total", "event=\"evicted\"", MMDS_CONN,
				     NULL },
	[MMDS_STAT_RST_SENT] = { "mmds_resets_total", NULL,
				 "TCP resets the metadata service sent", NULL },
};

const struct metric_desc metric_names_log[LOG_STAT_NR] = {
	[LOG_STAT_LINES] = { "log_lines_total", NULL, "Log lines written", NULL },
	[LOG_STAT_SUPPRESSED] = { "log_suppressed_total", NULL,
				  "Log lines dropped by the per-site rate limit", NULL },
	[LOG_STAT_WRITE_FAILS] = { "log_write_failures_total", NULL,
				   "Log lines lost because the write failed",
				   "logger.missed_log_count,logger.log_fails" },
};

/* --- devices ------------------------------------------------------------- */

#define NOTIFIES "Driver notifications (kicks) that reached a virtqueue"
#define IRQS "Used-buffer interrupts raised for a virtqueue"

#define CORE(fc) {                                                                           \
	[VIRTIO_STAT_CONFIG_IRQS] = { "virtio_config_interrupts_total", NULL,                  \
				      "Configuration-change interrupts raised", NULL },          \
	[VIRTIO_STAT_RESETS] = { "virtio_driver_resets_total", NULL,                           \
				 "Device resets by the driver", NULL },                         \
	[VIRTIO_STAT_NEEDS_RESET] = { "virtio_needs_reset_total", NULL,                        \
				      "Times the driver broke a rule and the device set "        \
				      "DEVICE_NEEDS_RESET", NULL },                              \
	[VIRTIO_STAT_ACTIVATE_FAILS] = { "virtio_activate_failures_total", NULL,               \
					 "DRIVER_OK refused (bad queue setup)",                  \
					 fc ".activate_fails" },                                 \
}

#define QUEUE(fc) {                                                                          \
	[VIRTIO_QSTAT_NOTIFIES] = { "virtio_queue_notifications_total", NULL, NOTIFIES, fc },   \
	[VIRTIO_QSTAT_IRQS] = { "virtio_queue_interrupts_total", NULL, IRQS, NULL },           \
}

#define BLK_REQS "virtio-blk requests completed successfully, by type"

static const struct metric_desc blk_own[BLK_STAT_NR] = {
	[BLK_STAT_READS] = { "blk_requests_total", "op=\"read\"", BLK_REQS, "block.read_count" },
	[BLK_STAT_WRITES] = { "blk_requests_total", "op=\"write\"", BLK_REQS, "block.write_count" },
	[BLK_STAT_FLUSHES] = { "blk_requests_total", "op=\"flush\"", BLK_REQS, "block.flush_count" },
	[BLK_STAT_DISCARDS] = { "blk_requests_total", "op=\"discard\"", BLK_REQS, NULL },
	[BLK_STAT_WRITE_ZEROES] = { "blk_requests_total", "op=\"write_zeroes\"", BLK_REQS, NULL },
	[BLK_STAT_GET_IDS] = { "blk_requests_total", "op=\"get_id\"", BLK_REQS, NULL },
	[BLK_STAT_READ_BYTES] = { "blk_read_bytes_total", NULL, "Bytes read by the guest",
				  "block.read_bytes" },
	[BLK_STAT_WRITE_BYTES] = { "blk_written_bytes_total", NULL, "Bytes written by the guest",
				   "block.write_bytes" },
	[BLK_STAT_INVALID] = { "blk_invalid_requests_total", NULL,
			       "Requests refused: malformed, past the end, or writes to a "
			       "read-only disk", "block.invalid_reqs_count" },
	[BLK_STAT_IO_ERRORS] = { "blk_io_errors_total", NULL,
				 "Requests the host's I/O failed", "block.execute_fails" },
	[BLK_STAT_SWAPS] = { "blk_backing_swaps_total", NULL,
			     "Backing files swapped under the running VM (PATCH /drives)",
			     "block.update_count" },
	[BLK_STAT_SWAP_FAILS] = { "blk_backing_swap_failures_total", NULL,
				  "Backing-file swaps refused (the new file could not be opened)",
				  "block.update_fails" },
	[BLK_STAT_THROTTLED] = { "blk_throttled_requests_total", NULL,
				 "Requests the rate limiter made wait",
				 "block.rate_limiter_throttled_events" },
};
static const struct metric_desc blk_core[VIRTIO_STAT_NR] = CORE("block");
static const struct metric_desc blk_queue_desc[VIRTIO_QSTAT_NR] = QUEUE("block.queue_event_count");

static const struct metric_desc *blk_queue(unsigned q, unsigned nq)
{
	(void)q;
	(void)nq;
	return blk_queue_desc;
}

const struct metric_names_device metric_names_blk = {
	"block", blk_own, BLK_STAT_NR, blk_core, blk_queue,
};

#define NET_PACKETS "Frames moved between the guest and its TAP"
#define NET_BYTES "Bytes of frames moved between the guest and its TAP (no virtio header)"
#define NET_DROPPED "Frames dropped for the guest's mistakes (a TX header that lies, a runt, " \
	"an RX frame larger than its buffers)"
#define NET_ERRORS "Frames lost to host failures (TAP reads and writes)"

static const struct metric_desc net_own[NET_STAT_NR] = {
	[NET_STAT_TX_PACKETS] = { "net_packets_total", "direction=\"tx\"", NET_PACKETS,
				  "net.tx_packets_count,net.tx_count" },
	[NET_STAT_TX_BYTES] = { "net_bytes_total", "direction=\"tx\"", NET_BYTES,
				"net.tx_bytes_count" },
	[NET_STAT_TX_DROPPED] = { "net_dropped_total", "direction=\"tx\"", NET_DROPPED,
				  "net.tx_malformed_frames" },
	[NET_STAT_TX_ERRORS] = { "net_errors_total", "direction=\"tx\"", NET_ERRORS,
				 "net.tx_fails,net.tap_write_fails" },
	[NET_STAT_RX_PACKETS] = { "net_packets_total", "direction=\"rx\"", NET_PACKETS,
				  "net.rx_packets_count,net.rx_count" },
	[NET_STAT_RX_BYTES] = { "net_bytes_total", "direction=\"rx\"", NET_BYTES,
				"net.rx_bytes_count" },
	[NET_STAT_RX_DROPPED] = { "net_dropped_total", "direction=\"rx\"", NET_DROPPED,
				  "net.rx_fails" },
	[NET_STAT_RX_ERRORS] = { "net_errors_total", "direction=\"rx\"", NET_ERRORS,
				 "net.rx_fails,net.tap_read_fails" },
	[NET_STAT_CTRL_ERRORS] = { "net_ctrl_errors_total", NULL,
				   "Control-queue commands refused", "net.cfg_fails" },
	[NET_STAT_TAP_LOST] = { "net_tap_lost_total", NULL,
				"Times a TAP queue went away (the link went down)", NULL },
	[NET_STAT_TAP_RESTORED] = { "net_tap_restored_total", NULL,
				    "Times a lost TAP queue came back", NULL },
	[NET_STAT_RX_THROTTLED] = { "net_throttled_total", "dir=\"rx\"",
				    "Times the rate limiter made a queue wait",
				    "net.rx_rate_limiter_throttled" },
	[NET_STAT_TX_THROTTLED] = { "net_throttled_total", "dir=\"tx\"",
				    "Times the rate limiter made a queue wait",
				    "net.tx_rate_limiter_throttled" },
};
static const struct metric_desc net_core[VIRTIO_STAT_NR] = CORE("net");
static const struct metric_desc net_rxq[VIRTIO_QSTAT_NR] = QUEUE("net.rx_queue_event_count");
static const struct metric_desc net_txq[VIRTIO_QSTAT_NR] = QUEUE("net.tx_queue_event_count");
static const struct metric_desc net_ctrlq[VIRTIO_QSTAT_NR] = QUEUE(NULL);

/* RX and TX pairs, then the control queue (as offered: without MQ a
 * driver's third queue is the control queue, which the index cannot tell) */
static const struct metric_desc *net_queue(unsigned q, unsigned nq)
{
	if (q + 1 == nq)
		return net_ctrlq;
	return q % 2 ? net_txq : net_rxq;
}

const struct metric_names_device metric_names_net = {
	"net", net_own, NET_STAT_NR, net_core, net_queue,
};

#define VSOCK_PACKETS "vsock packets moved between the guest and host sockets"
#define VSOCK_BYTES "vsock stream bytes moved between the guest and host sockets"

static const struct metric_desc vsock_own[VSOCK_STAT_NR] = {
	[VSOCK_STAT_TX_PACKETS] = { "vsock_packets_total", "direction=\"tx\"", VSOCK_PACKETS,
				    "vsock.tx_packets_count" },
	[VSOCK_STAT_TX_BYTES] = { "vsock_bytes_total", "direction=\"tx\"", VSOCK_BYTES,
				  "vsock.tx_bytes_count" },
	[VSOCK_STAT_RX_PACKETS] = { "vsock_packets_total", "direction=\"rx\"", VSOCK_PACKETS,
				    "vsock.rx_packets_count" },
	[VSOCK_STAT_RX_BYTES] = { "vsock_bytes_total", "direction=\"rx\"", VSOCK_BYTES,
				  "vsock.rx_bytes_count" },
	[VSOCK_STAT_CONNS_ADDED] = { "vsock_connections_added_total", NULL,
				     "vsock streams opened (by the guest or a host program)",
				     "vsock.conns_added" },
	[VSOCK_STAT_CONNS_REMOVED] = { "vsock_connections_removed_total", NULL,
				       "vsock streams closed", "vsock.conns_removed" },
	[VSOCK_STAT_CONNS_REFUSED] = { "vsock_connections_refused_total", NULL,
				       "vsock streams refused: nobody listening, or the limit "
				       "reached", NULL },
	[VSOCK_STAT_MALFORMED] = { "vsock_malformed_packets_total", NULL,
				   "Guest packets refused (bad header, no stream, credit "
				   "overrun)", "vsock.tx_queue_event_fails" },
	[VSOCK_STAT_RST_SENT] = { "vsock_resets_sent_total", NULL,
				  "RST packets sent to the guest", "vsock.conns_killed" },
	[VSOCK_STAT_RST_DROPPED] = { "vsock_resets_dropped_total", NULL,
				     "RSTs lost because too many waited for RX buffers", NULL },
	[VSOCK_STAT_HOST_ERRORS] = { "vsock_host_errors_total", NULL,
				     "Host socket reads and writes that failed",
				     "vsock.tx_write_fails" },
	[VSOCK_STAT_RX_THROTTLED] = { "vsock_throttled_total", "dir=\"rx\"",
				      "Times the rate limiter made a queue wait", NULL },
	[VSOCK_STAT_TX_THROTTLED] = { "vsock_throttled_total", "dir=\"tx\"",
				      "Times the rate limiter made a queue wait", NULL },
};
static const struct metric_desc vsock_core[VIRTIO_STAT_NR] = CORE("vsock");
static const struct metric_desc vsock_rxq[VIRTIO_QSTAT_NR] = QUEUE("vsock.rx_queue_event_count");
static const struct metric_desc vsock_txq[VIRTIO_QSTAT_NR] = QUEUE("vsock.tx_queue_event_count");
static const struct metric_desc vsock_evq[VIRTIO_QSTAT_NR] = QUEUE(NULL);

static const struct metric_desc *vsock_queue(unsigned q, unsigned nq)
{
	(void)nq;
	return q == VSOCK_RXQ ? vsock_rxq : q == VSOCK_TXQ ? vsock_txq : vsock_evq;
}

const struct metric_names_device metric_names_vsock = {
	"vsock", vsock_own, VSOCK_STAT_NR, vsock_core, vsock_queue,
};

static const struct metric_desc rng_own[RNG_STAT_NR] = {
	[RNG_STAT_REQUESTS] = { "rng_requests_total", NULL, "virtio-rng requests completed",
				NULL },
	[RNG_STAT_BYTES] = { "rng_bytes_total", NULL, "Random bytes given to the guest",
			     "entropy.entropy_bytes" },
	[RNG_STAT_HOST_FAILS] = { "rng_host_failures_total", NULL,
				  "getrandom() failures (the request got fewer bytes)",
				  "entropy.host_rng_fails" },
	[RNG_STAT_MALFORMED] = { "rng_malformed_requests_total", NULL,
				 "Requests with device-readable buffers or no writable byte",
				 "entropy.entropy_event_fails" },
	[RNG_STAT_THROTTLED] = { "rng_throttled_requests_total", NULL,
				 "Requests the rate limiter made wait",
				 "entropy.entropy_rate_limiter_throttled" },
};
static const struct metric_desc rng_core[VIRTIO_STAT_NR] = CORE("entropy");
static const struct metric_desc rng_reqq[VIRTIO_QSTAT_NR] = QUEUE("entropy.entropy_event_count");

static const struct metric_desc *rng_queue(unsigned q, unsigned nq)
{
	(void)q;
	(void)nq;
	return rng_reqq;
}

const struct metric_names_device metric_names_rng = {
	"entropy", rng_own, RNG_STAT_NR, rng_core, rng_queue,
};

/* Firecracker has no console device: no fields of its schema */
static const struct metric_desc console_own[CONSOLE_STAT_NR] = {
	[CONSOLE_STAT_TX_BYTES] = { "console_tx_bytes_total", NULL,
				    "hvc0 bytes from the guest written to the host side", NULL },
	[CONSOLE_STAT_TX_DROPPED] = { "console_tx_dropped_bytes_total", NULL,
				      "hvc0 bytes from the guest the host side could not take",
				      NULL },
	[CONSOLE_STAT_RX_BYTES] = { "console_rx_bytes_total", NULL,
				    "Host bytes put into hvc0's receive buffers", NULL },
	[CONSOLE_STAT_MALFORMED] = { "console_malformed_chains_total", NULL,
				     "Chains with buffers of the wrong direction, or none writable",
				     NULL },
};
static const struct metric_desc console_core[VIRTIO_STAT_NR] = {
	[VIRTIO_STAT_CONFIG_IRQS] = { "virtio_config_interrupts_total", NULL,
				      "Configuration-change interrupts raised", NULL },
	[VIRTIO_STAT_RESETS] = { "virtio_driver_resets_total", NULL, "Device resets by the driver",
				 NULL },
	[VIRTIO_STAT_NEEDS_RESET] = { "virtio_needs_reset_total", NULL,
				      "Times the driver broke a rule and the device set "
				      "DEVICE_NEEDS_RESET", NULL },
	[VIRTIO_STAT_ACTIVATE_FAILS] = { "virtio_activate_failures_total", NULL,
					 "DRIVER_OK refused (bad queue setup)", NULL },
};
static const struct metric_desc console_q[VIRTIO_QSTAT_NR] = QUEUE(NULL);

static const struct metric_desc *console_queue(unsigned q, unsigned nq)
{
	(void)q;
	(void)nq;
	return console_q;
}

const struct metric_names_device metric_names_console = {
	"console", console_own, CONSOLE_STAT_NR, console_core, console_queue,
};

static const struct metric_desc balloon_own[BALLOON_STAT_NR] = {
	[BALLOON_STAT_INFLATED] = { "balloon_inflated_pages_total", NULL,
				    "4 KiB pages the guest gave back on inflate", NULL },
	[BALLOON_STAT_DEFLATED] = { "balloon_deflated_pages_total", NULL,
				    "4 KiB pages the guest took back on deflate", NULL },
	[BALLOON_STAT_BAD_PFNS] = { "balloon_bad_pfns_total", NULL,
				    "PFNs outside guest RAM, skipped", NULL },
	[BALLOON_STAT_MALFORMED] = { "balloon_malformed_requests_total", NULL,
				     "Chains with writable arrays, odd lengths or too many PFNs",
				     "balloon.event_fails" },
	[BALLOON_STAT_REPORTED] = { "balloon_reported_bytes_total", NULL,
				    "Bytes of free page reports given back to the host", NULL },
	[BALLOON_STAT_REPORTS] = { "balloon_reports_total", NULL,
				   "Free page reports completed", NULL },
	[BALLOON_STAT_HOST_FAILS] = { "balloon_host_failures_total", NULL,
				      "Pages madvise() did not give back", NULL },
	[BALLOON_STAT_STATS_UPDATES] = { "balloon_stats_updates_total", NULL,
					 "Statistics buffers the guest sent",
					 "balloon.stats_updates_count" },
	[BALLOON_STAT_STATS_FAILS] = { "balloon_stats_failures_total", NULL,
				       "Statistics buffers malformed or posted out of turn",
				       "balloon.stats_update_fails" },
	[BALLOON_STAT_HINTED] = { "balloon_hinted_bytes_total", NULL,
				  "Bytes of free page hints given back to the host", NULL },
	[BALLOON_STAT_HINTS_SKIPPED] = { "balloon_hints_skipped_total", NULL,
					 "Free page hints outside the host's current run", NULL },
	[BALLOON_STAT_REGIONS] = { "balloon_huge_regions_total", NULL,
				   "Whole 2 MiB regions of inflated pages given back again, "
				   "so the host can back them with a huge page", NULL },
};
static const struct metric_desc balloon_core[VIRTIO_STAT_NR] = CORE("balloon");
static const struct metric_desc balloon_infq[VIRTIO_QSTAT_NR] = QUEUE("balloon.inflate_count");
static const struct metric_desc balloon_defq[VIRTIO_QSTAT_NR] = QUEUE("balloon.deflate_count");
static const struct metric_desc balloon_repq[VIRTIO_QSTAT_NR] = QUEUE(NULL);

static const struct metric_desc *balloon_queue(unsigned q, unsigned nq)
{
	(void)nq;
	return q == 0 ? balloon_infq : q == 1 ? balloon_defq : balloon_repq;
}

const struct metric_names_device metric_names_balloon = {
	"balloon", balloon_own, BALLOON_STAT_NR, balloon_core, balloon_queue,
};
