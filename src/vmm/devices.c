/* The device table and the instances; see devices.h. Each entry's
 * functions translate the user's config into the model's own config and
 * nothing more: what a device does lives in virtio/dev/. */
#include "vmm/devices.h"

#include <errno.h>
#include <linux/virtio_ids.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arch/x86/layout.h"
#include "virtio/dev/balloon.h"
#include "virtio/dev/blk.h"
#include "virtio/dev/console.h"
#include "virtio/dev/net.h"
#include "virtio/dev/rng.h"
#include "virtio/dev/vsock.h"
#include "virtio/virtio_mmio.h"
#include "virtio/virtio_pci.h"
#include "vmm/mmds_net.h"

/* --- virtio-blk ---------------------------------------------------------- */

static unsigned blk_type_count(const struct vm_config *cfg)
{
	return cfg->nr_disks;
}

static const char *blk_type_origin(const struct vm_config *cfg, unsigned i)
{
	return cfg->disks[i].where;
}

static int blk_type_create(void **dev, const struct vm_config *cfg, unsigned i, const char *name,
		   const struct device_env *env, struct errbuf *e)
{
	const struct config_disk *a = &cfg->disks[i];
	struct blk_config bc = {
		.name = name,
		.disk = {
			.path = a->path,
			.readonly = a->readonly,
			.cache = a->cache == CONFIG_CACHE_NONE ? DISK_CACHE_NONE : DISK_CACHE_WRITEBACK,
			.engine = a->engine == CONFIG_ENGINE_SYNC ? DISK_ENGINE_SYNC : DISK_ENGINE_URING,
		},
		.id = a->id,
		.queues = a->queues,
		.no_flush = !a->flush,
		.poll = a->poll,
		.limit = a->limit,
	};

	return blk_create((struct blk **)dev, &bc, env->mem, env->loop, e);
}

static int blk_type_update(void *dev, const struct vm_config *cfg, unsigned i,
			   struct errbuf *e)
{
	const struct config_disk *a = &cfg->disks[i];
	struct disk_config dc = {
		.path = a->path,
		.readonly = a->readonly,
		.cache = a->cache == CONFIG_CACHE_NONE ? DISK_CACHE_NONE : DISK_CACHE_WRITEBACK,
		.engine = a->engine == CONFIG_ENGINE_SYNC ? DISK_ENGINE_SYNC : DISK_ENGINE_URING,
	};

	/* the file first: if it will not open, the limits stay as they were
	 * too, as the configuration does */
	if (a->patch_path) {
		int ret = blk_set_backing(dev, &dc, e);

		if (ret)
			return ret;
	}
	blk_set_rate_limit(dev, &a->limit);
	return 0;
}

static struct virtio_dev *blk_type_virtio(void *dev)
{
	return blk_virtio(dev);
}

static void blk_type_pause(void *dev, bool paused)
{
	blk_set_paused(dev, paused);
}

static void blk_type_destroy(void *dev)
{
	blk_destroy(dev);
}

static uint64_t *blk_type_counters(void *dev)
{
	return blk_counters(dev);
}

static const char *blk_type_api_id(const struct vm_config *cfg, unsigned i)
{
	return cfg->disks[i].api_id;
}

/* --- virtio-net ---------------------------------------------------------- */

static unsigned net_type_count(const struct vm_config *cfg)
{
	return cfg->nr_nets;
}

static const char *net_type_origin(const struct vm_config *cfg, unsigned i)
{
	return cfg->nets[i].where;
}

/* The metadata service on a NIC that allows it: its stack (mmds_net.h) as
 * the device's TX hook, the clock read here so that the stack stays pure. */
static uint64_t net_mmds_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A NIC's stack and its counters, registered while it lives. */
struct net_mmds {
	struct mmds_net *m;
	struct metrics *metrics;     /* NULL: not registered */
	struct metrics_group mg;
};

static bool net_mmds_wants(void *opaque, const uint8_t *head, size_t len)
{
	return mmds_net_wants(((struct net_mmds *)opaque)->m, head, len);
}

static void net_mmds_input(void *opaque, const uint8_t *frame, size_t len, unsigned flags)
{
	mmds_net_input(((struct net_mmds *)opaque)->m, frame, len,
		       ((flags & NET_HOOK_CSUM_PARTIAL) ? MMDS_IN_CSUM_PARTIAL : 0) |
		       ((flags & NET_HOOK_GSO) ? MMDS_IN_GSO : 0), net_mmds_now());
}

static const uint8_t *net_mmds_peek(void *opaque, size_t *len)
{
	return mmds_net_peek(((struct net_mmds *)opaque)->m, len);
}

static void net_mmds_pop(void *opaque)
{
	mmds_net_pop(((struct net_mmds *)opaque)->m);
}

static void net_mmds_release(void *opaque)
{
	struct net_mmds *w = opaque;

	if (!w)
		return;
	if (w->metrics)
		metrics_unregister(w->metrics, &w->mg);
	mmds_net_destroy(w->m);
	free(w);
}

static int net_type_create(void **dev, const struct vm_config *cfg, unsigned i, const char *name,
		   const struct device_env *env, struct errbuf *e)
{
	const struct config_net *a = &cfg->nets[i];
	struct net_mmds *mmds = NULL;
	struct net_tx_hook hook;
	int ret;
	struct net_config nc = {
		.name = name,
		.tap = a->tap,
		.mac_set = a->mac_set,
		.queues = a->queues,
		.mtu = a->mtu,
		.rx_limit = a->rx_limit,
		.tx_limit = a->tx_limit,
		.poll = a->poll,
	};

	memcpy(nc.mac, a->mac, sizeof(nc.mac));
	if (a->mmds && env->mmds) {
		mmds = calloc(1, sizeof(*mmds));
		if (!mmds)
			return errf(e, -ENOMEM, "out of memory");
		ret = mmds_net_create(&mmds->m, env->mmds_ipv4, env->mmds);
		if (ret) {
			free(mmds);
			return errf(e, ret, "the metadata service: %s", strerror(-ret));
		}
		hook = (struct net_tx_hook){ mmds, net_mmds_wants, net_mmds_input, net_mmds_peek,
					     net_mmds_pop, net_mmds_release };
		nc.tx_hook = &hook;
	}
	ret = net_create((struct net **)dev, &nc, env->mem, env->loop, e);
	if (ret) {
		net_mmds_release(mmds);
		return ret;
	}
	if (mmds && env->metrics) {
		mmds->metrics = env->metrics;
		metrics_register(env->metrics, &mmds->mg, metric_names_mmds, MMDS_STAT_NR,
				 mmds_net_counters(mmds->m), NULL, "device", name, NULL);
	}
	return 0;
}

/* PATCH /network-interfaces: the rate limiters, the only thing it changes */
static int net_type_update(void *dev, const struct vm_config *cfg, unsigned i,
			   struct errbuf *e)
{
	(void)e;
	net_set_rate_limits(dev, &cfg->nets[i].rx_limit, &cfg->nets[i].tx_limit);
	return 0;
}

static struct virtio_dev *net_type_virtio(void *dev)
{
	return net_virtio(dev);
}

static void net_type_pause(void *dev, bool paused)
{
	net_set_paused(dev, paused);
}

static void net_type_destroy(void *dev)
{
	net_destroy(dev);
}

static uint64_t *net_type_counters(void *dev)
{
	return net_counters(dev);
}

static const char *net_type_api_id(const struct vm_config *cfg, unsigned i)
{
	return cfg->nets[i].api_id;
}

/* --- virtio-vsock -------------------------------------------------------- */

static unsigned vsock_type_count(const struct vm_config *cfg)
{
	return cfg->vsock.set ? 1 : 0;
}

static const char *vsock_type_origin(const struct vm_config *cfg, unsigned i)
{
	(void)i;
	return cfg->vsock.where;
}

static int vsock_type_create(void **dev, const struct vm_config *cfg, unsigned i,
			     const char *name, const struct device_env *env, struct errbuf *e)
{
	struct vsock_config vc = {
		.name = name,
		.guest_cid = cfg->vsock.cid,
		.uds_path = cfg->vsock.uds_path,
		.rx_limit = cfg->vsock.rx_limit,
		.tx_limit = cfg->vsock.tx_limit,
	};

	(void)i;
	return vsock_create((struct vsock **)dev, &vc, env->mem, env->loop, e);
}

static struct virtio_dev *vsock_type_virtio(void *dev)
{
	return vsock_virtio(dev);
}

static void vsock_type_pause(void *dev, bool paused)
{
	vsock_set_paused(dev, paused);
}

/* The host's sockets were the saving process's: the streams are gone */
static int vsock_type_restore(void *dev, const struct snap_reader *r, struct errbuf *e)
{
	(void)r;
	(void)e;
	vsock_transport_reset(dev);
	return 0;
}

static void vsock_type_destroy(void *dev)
{
	vsock_destroy(dev);
}

static uint64_t *vsock_type_counters(void *dev)
{
	return vsock_counters(dev);
}

static const char *vsock_type_api_id(const struct vm_config *cfg, unsigned i)
{
	(void)i;
	return cfg->vsock.api_id;
}

/* --- virtio-rng ------------------------------------------------------------ */

static unsigned rng_type_count(const struct vm_config *cfg)
{
	return cfg->rng.set ? 1 : 0;
}

static const char *rng_type_origin(const struct vm_config *cfg, unsigned i)
{
	(void)i;
	return cfg->rng.where;
}

static int rng_type_create(void **dev, const struct vm_config *cfg, unsigned i,
			   const char *name, const struct device_env *env, struct errbuf *e)
{
	struct rng_config rc = { .name = name, .limit = cfg->rng.limit };

	(void)i;
	return rng_create((struct rng **)dev, &rc, env->mem, env->loop, e);
}

static struct virtio_dev *rng_type_virtio(void *dev)
{
	return rng_virtio(dev);
}

static void rng_type_pause(void *dev, bool paused)
{
	rng_set_paused(dev, paused);
}

static void rng_type_destroy(void *dev)
{
	rng_destroy(dev);
}

static uint64_t *rng_type_counters(void *dev)
{
	return rng_counters(dev);
}

/* Firecracker's entropy device has no id: its metrics are "entropy" alone */
static const char *rng_type_api_id(const struct vm_config *cfg, unsigned i)
{
	(void)cfg;
	(void)i;
	return NULL;
}

/* --- virtio-console -------------------------------------------------------- */

static unsigned console_type_count(const struct vm_config *cfg)
{
	return cfg->console != SERIAL_NONE ? 1 : 0;
}

static const char *console_type_origin(const struct vm_config *cfg, unsigned i)
{
	(void)cfg;
	(void)i;
	return "--console";
}

static size_t console_type_sink(void *opaque, const uint8_t *buf, size_t len)
{
	return console_receive(opaque, buf, len);
}

static int console_type_create(void **dev, const struct vm_config *cfg, unsigned i,
			       const char *name, const struct device_env *env, struct errbuf *e)
{
	struct console_config cc = {
		.name = name, .out_fd = env->console->out_fd,
		.rx_ready = chardev_resume, .rx_ready_opaque = env->console,
	};
	int ret;

	/* a socket's client comes and goes: the chardev writes to it */
	if (env->console->kind == CHARDEV_SOCKET) {
		cc.write = chardev_write;
		cc.write_opaque = env->console;
	}

	(void)cfg;
	(void)i;
	ret = console_create((struct console **)dev, &cc, env->mem, env->loop, e);
	if (ret)
		return ret;
	ret = chardev_attach(env->console, env->loop, console_type_sink, *dev, env->end);
	if (ret)
		return errf(e, ret, "%s", strerror(-ret));
	return 0;
}

static struct virtio_dev *console_type_virtio(void *dev)
{
	return console_virtio(dev);
}

static void console_type_pause(void *dev, bool paused)
{
	console_set_paused(dev, paused);
}

static void console_type_destroy(void *dev)
{
	console_destroy(dev);
}

static uint64_t *console_type_counters(void *dev)
{
	return console_counters(dev);
}

static const char *console_type_api_id(const struct vm_config *cfg, unsigned i)
{
	(void)cfg;
	(void)i;
	return NULL;
}

/* --- virtio-balloon -------------------------------------------------------- */

static unsigned balloon_type_count(const struct vm_config *cfg)
{
	return cfg->balloon.set ? 1 : 0;
}

static const char *balloon_type_origin(const struct vm_config *cfg, unsigned i)
{
	(void)i;
	return cfg->balloon.where;
}

/* MiB to 4 KiB pages: amount_mib is at most CONFIG_BALLOON_MAX_MIB */
static uint32_t balloon_type_pages(const struct vm_config *cfg)
{
	return cfg->balloon.amount_mib << (20 - BALLOON_PFN_SHIFT);
}

static int balloon_type_create(void **dev, const struct vm_config *cfg, unsigned i,
			       const char *name, const struct device_env *env, struct errbuf *e)
{
	struct balloon_config bc = {
		.name = name,
		.target_pages = balloon_type_pages(cfg),
		.deflate_on_oom = cfg->balloon.deflate_on_oom,
		.free_page_reporting = cfg->balloon.free_page_reporting,
		.free_page_hinting = cfg->balloon.free_page_hinting,
		.stats_interval_s = cfg->balloon.stats_polling_interval_s,
	};

	(void)i;
	return balloon_create((struct balloon **)dev, &bc, env->mem, env->loop, e);
}

/* PATCH /balloon: a new target, and a config interrupt for the driver;
 * PATCH /balloon/statistics: a new polling interval, the next poll now */
static int balloon_type_update(void *dev, const struct vm_config *cfg, unsigned i,
			       struct errbuf *e)
{
	unsigned s = cfg->balloon.stats_polling_interval_s;
	int ret;

	(void)i;
	if (s != balloon_stats_interval(dev)) {
		ret = balloon_set_stats_interval(dev, s);
		if (ret)
			return errf(e, ret, "balloon: statistics were not enabled pre-boot, or "
				    "stats_polling_interval_s 0 turns them off");
	}
	balloon_set_target(dev, balloon_type_pages(cfg));
	return 0;
}

static struct virtio_dev *balloon_type_virtio(void *dev)
{
	return balloon_virtio(dev);
}

static void balloon_type_pause(void *dev, bool paused)
{
	balloon_set_paused(dev, paused);
}

static void balloon_type_save(void *dev, struct snap_writer *w)
{
	balloon_save(dev, w);
}

static int balloon_type_restore(void *dev, const struct snap_reader *r, struct errbuf *e)
{
	return balloon_restore(dev, r, e);
}

static void balloon_type_destroy(void *dev)
{
	balloon_destroy(dev);
}

static uint64_t *balloon_type_counters(void *dev)
{
	return balloon_counters(dev);
}

/* Firecracker's balloon has no id: its metrics are "balloon" alone */
static const char *balloon_type_api_id(const struct vm_config *cfg, unsigned i)
{
	(void)cfg;
	(void)i;
	return NULL;
}

/* --- the table ----------------------------------------------------------- */

/* In this order on the PCI bus: the disks first, as the guests' tests
 * and users' root= lines expect. */
static const struct device_type device_types[] = {
	{
		.name = "blk", .virtio_id = VIRTIO_ID_BLOCK,
		.count = blk_type_count, .origin = blk_type_origin,
		.create = blk_type_create, .virtio = blk_type_virtio, .destroy = blk_type_destroy,
		.update = blk_type_update,
		.counters = blk_type_counters, .names = &metric_names_blk,
		.api_id = blk_type_api_id,
		.pause = blk_type_pause,
	},
	{
		.name = "net", .virtio_id = VIRTIO_ID_NET,
		.count = net_type_count, .origin = net_type_origin,
		.create = net_type_create, .virtio = net_type_virtio, .destroy = net_type_destroy,
		.update = net_type_update,
		.counters = net_type_counters, .names = &metric_names_net,
		.api_id = net_type_api_id,
		.pause = net_type_pause,
	},
	{
		.name = "vsock", .virtio_id = VIRTIO_ID_VSOCK,
		.count = vsock_type_count, .origin = vsock_type_origin,
		.create = vsock_type_create, .virtio = vsock_type_virtio,
		.destroy = vsock_type_destroy,
		.counters = vsock_type_counters, .names = &metric_names_vsock,
		.api_id = vsock_type_api_id,
		.pause = vsock_type_pause, .restore = vsock_type_restore,
	},
	{
		.name = "rng", .virtio_id = VIRTIO_ID_RNG,
		.count = rng_type_count, .origin = rng_type_origin,
		.create = rng_type_create, .virtio = rng_type_virtio, .destroy = rng_type_destroy,
		.counters = rng_type_counters, .names = &metric_names_rng,
		.api_id = rng_type_api_id,
		.pause = rng_type_pause,
	},
	{
		.name = "console", .virtio_id = VIRTIO_ID_CONSOLE,
		.count = console_type_count, .origin = console_type_origin,
		.create = console_type_create, .virtio = console_type_virtio,
		.destroy = console_type_destroy,
		.counters = console_type_counters, .names = &metric_names_console,
		.api_id = console_type_api_id,
		.pause = console_type_pause,
	},
	{
		.name = "balloon", .virtio_id = VIRTIO_ID_BALLOON,
		.count = balloon_type_count, .origin = balloon_type_origin,
		.create = balloon_type_create, .virtio = balloon_type_virtio,
		.destroy = balloon_type_destroy, .update = balloon_type_update,
		.counters = balloon_type_counters, .names = &metric_names_balloon,
		.api_id = balloon_type_api_id,
		.pause = balloon_type_pause,
		.save = balloon_type_save, .restore = balloon_type_restore,
	},
};

/* Device n's virtio-mmio window and pin. */
static int devices_add_mmio(struct device *d, unsigned n, const struct device_env *env,
			    struct errbuf *e)
{
	uint64_t base = LAYOUT_VIRTIO_MMIO_BASE + (uint64_t)n * VIRTIO_MMIO_SIZE;
	unsigned gsi = layout_virtio_mmio_gsi(n);

	if (!gsi || base + VIRTIO_MMIO_SIZE > LAYOUT_VIRTIO_MMIO_BASE + LAYOUT_VIRTIO_MMIO_SIZE)
		return errf(e, -ENOSPC, "no interrupt left for another virtio-mmio device");
	return virtio_mmio_create(&d->mmio, d->type->virtio(d->dev), env->mmio, base, gsi,
				  env->loop, env->vm_fd, e);
}

/* The device's counters, the virtio core's for it and each queue's, with
 * Firecracker's per-device key "<group>_<API id>" ("block_rootfs"). */
static void devices_register(struct device *d, const struct vm_config *cfg,
			     struct metrics *metrics)
{
	const struct metric_names_device *names = d->type->names;
	const char *api_id = d->type->api_id(cfg, d->index);
	struct virtio_dev *vd = d->type->virtio(d->dev);
	char key[METRICS_FC_KEY_MAX], q[12];

	snprintf(key, sizeof(key), "%s_%s", names->fc_group, api_id ? api_id : d->name);
	d->metrics = metrics;
	metrics_register(metrics, &d->mg[d->nr_mg++], names->own, names->nr_own,
			 d->type->counters(d->dev), key, "device", d->name, NULL);
	metrics_register(metrics, &d->mg[d->nr_mg++], names->core, VIRTIO_STAT_NR, vd->stats, key,
			 "device", d->name, NULL);
	for (unsigned i = 0; i < vd->nr_queues; i++) {
		snprintf(q, sizeof(q), "%u", i);
		metrics_register(metrics, &d->mg[d->nr_mg++], names->queue(i, vd->nr_queues),
				 VIRTIO_QSTAT_NR, vd->qstats[i], key, "device", d->name, "queue", q,
				 NULL);
	}
}

static int devices_add(struct devices *ds, const struct device_type *t, const struct vm_config *cfg,
		       unsigned i, const struct device_env *env, struct errbuf *e)
{
	struct device *d = &ds->dev[ds->nr];
	int ret;

	if (ds->nr == DEVICES_MAX)
		return errf(e, -ENOSPC, "more than %d devices", DEVICES_MAX);
	memset(d, 0, sizeof(*d));
	d->type = t;
	d->index = i;
	snprintf(d->name, sizeof(d->name), "%s%u", t->name, i);
	ret = t->create(&d->dev, cfg, i, d->name, env, e);
	if (ret)
		return ret;
	ds->nr++;
	if (env->metrics)
		devices_register(d, cfg, env->metrics);
	if (env->transport == CONFIG_TRANSPORT_MMIO)
		return devices_add_mmio(d, ds->nr - 1, env, e);
	return virtio_pci_create(&d->pci, t->virtio(d->dev), env->pci, env->irq, env->loop,
				 env->vm_fd, e);
}

int devices_create(struct devices *ds, const struct vm_config *cfg, const struct device_env *env,
		   struct errbuf *e)
{
	for (size_t t = 0; t < sizeof(device_types) / sizeof(device_types[0]); t++) {
		const struct device_type *type = &device_types[t];
		unsigned n = type->count(cfg);

		for (unsigned i = 0; i < n; i++) {
			int ret = devices_add(ds, type, cfg, i, env, e);

			if (ret) {
				errf_prefix(e, type->origin(cfg, i));
				return ret;
			}
		}
	}
	return 0;
}

int devices_update(struct devices *ds, const char *type, unsigned i, const struct vm_config *cfg,
		   struct errbuf *e)
{
	for (unsigned k = 0; k < ds->nr; k++) {
		struct device *d = &ds->dev[k];

		if (strcmp(d->type->name, type) || d->index != i)
			continue;
		if (!d->type->update)
			return errf(e, -ENOTSUP, "%s: nothing of it changes while the VM runs",
				    d->name);
		return d->type->update(d->dev, cfg, i, e);
	}
	return errf(e, -ENOENT, "no %s%u", type, i);
}

void *devices_model(struct devices *ds, const char *type, unsigned i)
{
	for (unsigned k = 0; k < ds->nr; k++)
		if (!strcmp(ds->dev[k].type->name, type) && ds->dev[k].index == i)
			return ds->dev[k].dev;
	return NULL;
}

void devices_pause(struct devices *ds, bool paused)
{
	for (unsigned k = 0; k < ds->nr; k++)
		if (ds->dev[k].type->pause)
			ds->dev[k].type->pause(ds->dev[k].dev, paused);
}

void devices_save(struct devices *ds, struct snap_writer *w)
{
	for (unsigned k = 0; k < ds->nr; k++)
		if (ds->dev[k].type->save)
			ds->dev[k].type->save(ds->dev[k].dev, w);
}

int devices_restore(struct devices *ds, const struct snap_reader *r, struct errbuf *e)
{
	for (unsigned k = 0; k < ds->nr; k++) {
		int ret = ds->dev[k].type->restore ?
			  ds->dev[k].type->restore(ds->dev[k].dev, r, e) : 0;

		if (ret)
			return ret;
	}
	return 0;
}

void devices_destroy(struct devices *ds)
{
	while (ds->nr) {
		struct device *d = &ds->dev[--ds->nr];

		while (d->nr_mg)
			metrics_unregister(d->metrics, &d->mg[--d->nr_mg]);
		virtio_pci_destroy(d->pci);
		virtio_mmio_destroy(d->mmio);
		d->type->destroy(d->dev);
	}
}
