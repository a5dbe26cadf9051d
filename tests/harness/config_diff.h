/* config_diff: the first difference between two struct vm_config, field
 * by field and string by string, for the tests and fuzz targets that
 * check a refused request left the config as it was. Test code only. */
#ifndef VIREO_TESTS_CONFIG_DIFF_H
#define VIREO_TESTS_CONFIG_DIFF_H

#include <stdbool.h>
#include <string.h>

#include "config/config.h"

static inline bool config_same_str(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

/* What differs ("a drive", "logger", ...), or NULL when nothing does. */
static inline const char *config_diff(const struct vm_config *a, const struct vm_config *b)
{
	if (!config_same_str(a->kernel, b->kernel) || !config_same_str(a->initrd, b->initrd) ||
	    !config_same_str(a->cmdline, b->cmdline))
		return "boot source";
	if (a->cpus != b->cpus || a->mem_size != b->mem_size || a->mem_thp != b->mem_thp ||
	    a->mem_track_dirty != b->mem_track_dirty)
		return "machine config";
	if (a->serial != b->serial || !config_same_str(a->serial_path, b->serial_path) ||
	    a->debug_exit != b->debug_exit)
		return "serial";
	if (a->nr_disks != b->nr_disks || a->nr_nets != b->nr_nets)
		return "device count";
	for (unsigned i = 0; i < a->nr_disks; i++) {
		const struct config_disk *x = &a->disks[i], *y = &b->disks[i];

		if (!config_same_str(x->path, y->path) || !config_same_str(x->id, y->id) ||
		    !config_same_str(x->api_id, y->api_id) ||
		    !config_same_str(x->partuuid, y->partuuid) || x->readonly != y->readonly ||
		    x->cache != y->cache || x->engine != y->engine || x->queues != y->queues ||
		    x->flush != y->flush || x->root != y->root || strcmp(x->where, y->where) ||
		    memcmp(&x->limit, &y->limit, sizeof(x->limit)))
			return "a drive";
	}
	for (unsigned i = 0; i < a->nr_nets; i++) {
		const struct config_net *x = &a->nets[i], *y = &b->nets[i];

		if (!config_same_str(x->tap, y->tap) || !config_same_str(x->api_id, y->api_id) ||
		    memcmp(x->mac, y->mac, 6) || x->mac_set != y->mac_set ||
		    x->queues != y->queues || x->mtu != y->mtu || strcmp(x->where, y->where) ||
		    memcmp(&x->rx_limit, &y->rx_limit, sizeof(x->rx_limit)) ||
		    memcmp(&x->tx_limit, &y->tx_limit, sizeof(x->tx_limit)))
			return "a NIC";
	}
	if (a->vsock.set != b->vsock.set || (a->vsock.set &&
	    (a->vsock.cid != b->vsock.cid || !config_same_str(a->vsock.uds_path, b->vsock.uds_path) ||
	     !config_same_str(a->vsock.api_id, b->vsock.api_id) ||
	     memcmp(&a->vsock.rx_limit, &b->vsock.rx_limit, sizeof(a->vsock.rx_limit)) ||
	     memcmp(&a->vsock.tx_limit, &b->vsock.tx_limit, sizeof(a->vsock.tx_limit)))))
		return "vsock";
	if (a->rng.set != b->rng.set || memcmp(&a->rng.limit, &b->rng.limit, sizeof(a->rng.limit)))
		return "entropy";
	if (a->balloon.set != b->balloon.set || (a->balloon.set &&
	    (a->balloon.amount_mib != b->balloon.amount_mib ||
	     a->balloon.deflate_on_oom != b->balloon.deflate_on_oom ||
	     a->balloon.free_page_reporting != b->balloon.free_page_reporting ||
	     a->balloon.free_page_hinting != b->balloon.free_page_hinting ||
	     a->balloon.stats_polling_interval_s != b->balloon.stats_polling_interval_s)))
		return "balloon";
	if (a->logger.set != b->logger.set || !config_same_str(a->logger.path, b->logger.path) ||
	    a->logger.level != b->logger.level || a->logger.show_level != b->logger.show_level ||
	    a->logger.show_origin != b->logger.show_origin ||
	    !config_same_str(a->logger.module, b->logger.module))
		return "logger";
	if (!config_same_str(a->metrics.path, b->metrics.path) ||
	    a->metrics.emit_id != b->metrics.emit_id)
		return "metrics";
	if (!config_same_str(a->restore.state, b->restore.state) ||
	    !config_same_str(a->restore.mem, b->restore.mem) ||
	    a->restore.paused != b->restore.paused || a->restore.eager != b->restore.eager)
		return "restore";
	return NULL;
}

#endif
