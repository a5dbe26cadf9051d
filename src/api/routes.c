/* Firecracker's API paths; see routes.h. One table lists every path and
 * method with its phase rule; a request that matches none, or breaks its
 * rule, is answered 400 with Firecracker's words, and changes nothing. */
#include "api/routes.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/firecracker.h"
#include "config/json_fields.h"

#define API_PATH_SEGMENTS 3

enum api_phase { API_ANY, API_PRE_BOOT, API_POST_BOOT };

/* A request taken apart: its path's segments and its body. */
struct api_call {
	struct api_routes *r;
	const struct api_request *req;
	struct api_response *resp;
	const char *id;                      /* the path's {id}, or NULL */
	int route;                           /* the path it matched (its counters); -1: none */
	struct fc_note note;
	struct errbuf e;
};

typedef int (*api_config_fn)(struct vm_config *cfg, const char *body, size_t len,
			     struct fc_note *note, struct errbuf *e);
typedef int (*api_config_id_fn)(struct vm_config *cfg, const char *id, const char *body,
				size_t len, struct fc_note *note, struct errbuf *e);
typedef int (*api_action_fn)(struct api_call *c);

struct api_route_entry {
	const char *method;
	const char *path;                    /* "drives" of /drives/{id}; "" is / */
	const char *sub;                     /* "config" of /vm/config; NULL: none */
	bool has_id;                         /* /<path>/{id} */
	enum api_phase phase;
	/* exactly one of these */
	api_config_fn config;                /* applies the body to the configuration */
	api_config_id_fn config_id;
	api_action_fn action;                /* anything else */
	/* its name in Firecracker's <method>_api_requests metrics ("drive" of
	 * drive_count and drive_fails); NULL: it has none */
	const char *fc;
	bool body_optional;                  /* a PUT or PATCH without a body is fine */
};

/* --- answers ------------------------------------------------------------ */

/* {"fault_message": msg}; jansson escapes what needs it. A message that
 * quotes the client's bytes (a path, a field name) may not be UTF-8, which
 * JSON cannot carry: those bytes become '?'. */
static void api_fault(struct api_response *resp, const char *msg)
{
	json_t *o = json_pack("{s:s}", "fault_message", msg);
	char ascii[sizeof(((struct errbuf *)0)->msg)];

	if (!o) {
		size_t i;

		for (i = 0; msg[i] && i + 1 < sizeof(ascii); i++)
			ascii[i] = (unsigned char)msg[i] < 0x80 ? msg[i] : '?';
		ascii[i] = '\0';
		o = json_pack("{s:s}", "fault_message", ascii);
	}

	resp->status = 400;
	resp->body = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
}

static void api_json(struct api_response *resp, json_t *o)
{
	resp->status = o ? 200 : 500;
	resp->body = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
}

static bool api_phase_ok(const struct api_routes *r, enum api_phase phase, struct errbuf *e)
{
	bool booted = vmm_state(r->vmm) != VMM_NOT_STARTED;

	if (phase == API_PRE_BOOT && booted)
		return !errf(e, -EINVAL, "The requested operation is not supported after starting "
			     "the microVM.");
	if (phase == API_POST_BOOT && !booted)
		return !errf(e, -EINVAL, "The requested operation is not supported before starting "
			     "the microVM.");
	return true;
}

/* --- instance-level actions --------------------------------------------- */

static int api_get_instance(struct api_call *c)
{
	api_json(c->resp, json_pack("{s:s,s:s,s:s,s:s}", "id", c->r->id,
				    "state", vmm_state_name(vmm_state(c->r->vmm)),
				    "vmm_version", VIREO_VERSION, "app_name", "vireo"));
	return 0;
}

static int api_get_version(struct api_call *c)
{
	api_json(c->resp, json_pack("{s:s}", "firecracker_version", API_FIRECRACKER_VERSION));
	return 0;
}

/* 200 with the JSON text s (NULL: out of memory). */
static int api_text(struct api_call *c, char *s)
{
	if (!s)
		return errf(&c->e, -ENOMEM, "out of memory");
	c->resp->status = 200;
	c->resp->body = s;
	return 0;
}

static int api_get_machine_config(struct api_call *c)
{
	return api_text(c, fc_get_machine_config(&c->r->cfg));
}

static int api_get_vm_config(struct api_call *c)
{
	return api_text(c, fc_get_vm_config(&c->r->cfg));
}

/* The GETs and PATCHes of resources that later issues build (pmem,
 * memory hotplug): their PUTs say "not supported yet", and so
 * do these. */
static int api_unsupported(struct api_call *c)
{
	return errf(&c->e, -ENOTSUP, "%s: not supported yet", c->req->path);
}

int api_instance_start(struct api_routes *r, struct errbuf *e)
{
	struct vm_config boot;
	char *cmdline;
	int ret;

	ret = vmm_allowed(r->vmm, VMM_BOOT, e);
	if (ret)
		return ret;
	if (!r->cfg.kernel)
		return errf(e, -EINVAL, "Cannot start microvm without kernel configuration.");
	ret = config_copy(&boot, &r->cfg);
	if (ret)
		return errf(e, ret, "out of memory");
	/* what Firecracker boots with: root= for the root drive, ro or rw */
	ret = fc_boot_cmdline(&r->cfg, &cmdline);
	if (ret) {
		config_free(&boot);
		return errf(e, ret, "out of memory");
	}
	free(boot.cmdline);
	boot.cmdline = cmdline;
	boot.transport = r->enable_pci ? CONFIG_TRANSPORT_PCI : CONFIG_TRANSPORT_MMIO;
	boot.boot_timer = r->boot_timer;
	ret = config_check_limits(&boot, &r->limits, CONFIG_FROM_FIRECRACKER, e);
	if (!ret)
		ret = vmm_boot(r->vmm, &boot, e);
	config_free(&boot);
	return ret;
}

static const struct jf_field api_action_fields[] = {
	{ "action_type", JF_ENUM, JF_REQUIRED, 0, 0,
	  (const char *const[]){ "FlushMetrics", "InstanceStart", "SendCtrlAltDel", NULL }, NULL },
};
static const struct jf_object api_action = { api_action_fields, 1, false };

static int api_put_actions(struct api_call *c)
{
	static const char *const kinds[] = { "FlushMetrics", "InstanceStart", "SendCtrlAltDel",
					     NULL };
	json_t *o;
	int ret, kind;

	ret = jf_parse(c->req->body, c->req->body_len, &o, &c->e);
	if (ret)
		return ret;
	ret = jf_check(o, &api_action, "", &c->e);
	kind = ret ? -1 : jf_enum(o, "action_type", kinds, -1);
	json_decref(o);
	if (ret)
		return ret;
	switch (kind) {
	case 1:
		return api_instance_start(c->r, &c->e);
	case 0:
		/* Firecracker's rule: after boot; without metrics, nothing to do */
		if (!api_phase_ok(c->r, API_POST_BOOT, &c->e))
			return -EINVAL;
		return vmm_flush_metrics(c->r->vmm, &c->e);
	default:
		if (!api_phase_ok(c->r, API_POST_BOOT, &c->e))
			return -EINVAL;
		return vmm_ctrl_alt_del(c->r->vmm, &c->e);
	}
}

static const struct jf_field api_vm_fields[] = {
	{ "state", JF_ENUM, JF_REQUIRED, 0, 0,
	  (const char *const[]){ "Paused", "Resumed", NULL }, NULL },
};
static const struct jf_object api_vm = { api_vm_fields, 1, false };

static int api_patch_vm(struct api_call *c)
{
	static const char *const states[] = { "Paused", "Resumed", NULL };
	json_t *o;
	int ret, state;

	ret = jf_parse(c->req->body, c->req->body_len, &o, &c->e);
	if (ret)
		return ret;
	ret = jf_check(o, &api_vm, "", &c->e);
	state = ret ? -1 : jf_enum(o, "state", states, -1);
	json_decref(o);
	if (ret)
		return ret;
	return state == 0 ? vmm_pause(c->r->vmm, &c->e) : vmm_resume(c->r->vmm, &c->e);
}

/* Firecracker's rule: the VM paused first; the VM goes on paused. */
static int api_put_snapshot_create(struct api_call *c)
{
	struct fc_snapshot_create sc;
	int ret = fc_put_snapshot_create(c->req->body, c->req->body_len, &sc, &c->e);
	char *config;

	if (ret)
		return ret;
	/* the configuration goes with it: a /snapshot/load has no other */
	config = fc_get_vm_config(&c->r->cfg);
	if (!config)
		ret = errf(&c->e, -ENOMEM, "out of memory");
	else
		ret = vmm_snapshot(c->r->vmm, sc.state_path, sc.mem_path, config, sc.diff, &c->e);
	free(config);
	fc_snapshot_create_free(&sc);
	return ret;
}

static const struct jf_field api_migrate_fields[] = {
	{ "destination", JF_STRING, JF_REQUIRED | JF_NONEMPTY, 0, 107, NULL, NULL },
};
static const struct jf_object api_migrate = { api_migrate_fields, 1, false };

/* vireo's own: the VM to another vireo listening with --incoming (a Unix
 * socket's path); it goes on there, and this one ends once it has. */
static int api_put_vm_migrate(struct api_call *c)
{
	char *config, *dest;
	json_t *o;
	int ret;

	ret = jf_parse(c->req->body, c->req->body_len, &o, &c->e);
	if (ret)
		return ret;
	ret = jf_check(o, &api_migrate, "", &c->e);
	dest = ret ? NULL : strdup(jf_string(o, "destination"));
	json_decref(o);
	if (ret)
		return ret;
	config = fc_get_vm_config(&c->r->cfg);
	if (!dest || !config)
		ret = errf(&c->e, -ENOMEM, "out of memory");
	else
		ret = vmm_migrate(c->r->vmm, dest, config, &c->e);
	free(config);
	free(dest);
	return ret;
}

/* The configuration the snapshot carries, with the request's overrides,
 * the process's own logger and metrics (configured here, before the
 * load), and the files to restore from, into next. */
static int api_load_config(struct api_call *c, const struct fc_snapshot_load *l,
			   struct vm_config *next)
{
	char where[sizeof(c->e.msg)];
	char *json = NULL;
	int ret;

	snprintf(where, sizeof(where), "snapshot_path %s", l->state_path);
	config_init(next);
	ret = vm_snapshot_config(l->state_path, &json, &c->e);
	if (!ret && (ret = fc_config_file(next, json, strlen(json), NULL, &c->e)))
		errf_prefix(&c->e, "its configuration");
	free(json);
	if (ret) {
		errf_prefix(&c->e, where);
		return ret;
	}
	ret = fc_snapshot_load_overrides(next, l, &c->e);
	if (ret)
		return ret;
	free(next->logger.path);
	free(next->logger.module);
	free(next->metrics.path);
	next->logger = c->r->cfg.logger;
	next->metrics = c->r->cfg.metrics;
	c->r->cfg.logger = (struct config_logger){ 0 };
	c->r->cfg.metrics = (struct config_metrics){ 0 };
	next->restore.state = strdup(l->state_path);
	next->restore.mem = strdup(l->mem_path);
	next->restore.paused = !l->resume;
	next->restore.uffd = l->uffd;
	next->mem_track_dirty = next->mem_track_dirty || l->track_dirty;
	if (!next->restore.state || !next->restore.mem)
		return errf(&c->e, -ENOMEM, "out of memory");
	return config_check_limits(next, &c->r->limits, CONFIG_FROM_FIRECRACKER, &c->e);
}

/* Firecracker's load: a fresh VMM (nothing booted, nothing a boot needs
 * configured: Firecracker's rule) builds the VM the snapshot describes,
 * Paused unless resume_vm. A refused load leaves the configuration as it
 * was. */
static int api_put_snapshot_load(struct api_call *c)
{
	struct vm_config next, old;
	struct fc_snapshot_load l;
	int ret = fc_put_snapshot_load(c->req->body, c->req->body_len, &l, &c->note, &c->e);

	if (ret)
		return ret;
	if (fc_boot_configured(&c->r->cfg)) {
		fc_snapshot_load_free(&l);
		return errf(&c->e, -EINVAL, "Loading a microVM snapshot not allowed after "
			    "configuring boot-specific resources.");
	}
	old = c->r->cfg;
	ret = api_load_config(c, &l, &next);
	fc_snapshot_load_free(&l);
	if (!ret) {
		c->r->cfg = next;
		ret = api_instance_start(c->r, &c->e);
	}
	if (ret) {
		/* the logger and metrics go back where they were */
		old.logger = next.logger;
		old.metrics = next.metrics;
		next.logger = (struct config_logger){ 0 };
		next.metrics = (struct config_metrics){ 0 };
		config_free(&next);
		c->r->cfg = old;
		return ret;
	}
	config_free(&old);
	return 0;
}

/* A request that changes the configuration works on a copy (api_begin),
 * which api_commit makes the configuration when ret is 0, and drops
 * otherwise: a refused request changes nothing. Both return ret. */
static int api_begin(struct api_call *c, struct vm_config *next)
{
	int ret = config_copy(next, &c->r->cfg);

	return ret ? errf(&c->e, ret, "out of memory") : 0;
}

static int api_commit(struct api_call *c, struct vm_config *next, int ret)
{
	if (ret) {
		config_free(next);
		return ret;
	}
	config_free(&c->r->cfg);
	c->r->cfg = *next;
	return 0;
}

/* A PATCH on a running VM's device: the body goes to a copy of the
 * configuration (patch), which replaces it only once the device took the
 * change (type, the index that index_of finds for the path's id, what
 * the user calls it); a change refused changes nothing. why_field: the
 * field a refusal is about (NULL: the device's own message). */
static int api_patch_device(struct api_call *c, const char *type,
			    int (*patch)(struct vm_config *, const char *, const char *, size_t,
					 struct fc_note *, struct errbuf *),
			    int (*index_of)(const struct vm_config *, const char *),
			    const char *id_field, const char *what, const char *why_field)
{
	struct vm_config next;
	int ret, i;

	ret = api_begin(c, &next);
	if (ret)
		return ret;
	ret = patch(&next, c->id, c->req->body, c->req->body_len, &c->note, &c->e);
	i = ret ? 0 : index_of(&next, c->id);
	if (!ret && i < 0)
		ret = errf(&c->e, -EINVAL, "%s: no %s %s", id_field, what, c->id);
	if (!ret && (ret = vmm_update_device(c->r->vmm, type, (unsigned)i, &next, &c->e)) &&
	    why_field) {
		char why[sizeof(c->e.msg)];

		memcpy(why, c->e.msg, sizeof(why));
		errf(&c->e, ret, "%s: %s", why_field, why);
	}
	return api_commit(c, &next, ret);
}

/* PATCH /drives/{id}: a new backing file and/or rate limiter for a running
 * VM's drive: a file that cannot be opened (the body's path_on_host)
 * changes nothing. */
static int api_patch_drive(struct api_call *c)
{
	return api_patch_device(c, "blk", fc_patch_drive, fc_drive_index, "drive_id", "drive",
				"path_on_host");
}

/* PATCH /network-interfaces/{id}: new rate limiters, in force at once. */
static int api_patch_net(struct api_call *c)
{
	return api_patch_device(c, "net", fc_patch_net, fc_net_index, "iface_id",
				"network interface", NULL);
}

/* A file the VM will read: there, readable, and a regular file (a
 * directory opens too, and would fail only at InstanceStart). */
static int api_check_file(const char *field, const char *path, struct errbuf *e)
{
	struct stat st;

	if (stat(path, &st) || access(path, R_OK))
		return errf(e, -EINVAL, "%s: %s: %s", field, path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return errf(e, -EINVAL, "%s: %s is not a regular file", field, path);
	return 0;
}

/* GET /metrics (beyond Firecracker): every counter, cumulative, in
 * Prometheus's text format. */
static int api_get_metrics(struct api_call *c)
{
	size_t len;
	int ret = vmm_prometheus(c->r->vmm, &c->resp->body, &len);

	if (ret)
		return errf(&c->e, ret, "out of memory");
	c->resp->status = 200;
	c->resp->content_type = "text/plain; version=0.0.4";
	return 0;
}

/* PUT /logger and /metrics: the configuration changes only once the VMM
 * has opened the file: a path that cannot be opened changes nothing. */
static int api_put_telemetry(struct api_call *c, api_config_fn parse,
			     int (*apply)(struct vmm *v, const struct vm_config *cfg,
					  struct errbuf *e))
{
	struct vm_config next;
	int ret;

	ret = api_begin(c, &next);
	if (ret)
		return ret;
	ret = parse(&next, c->req->body, c->req->body_len, &c->note, &c->e);
	if (!ret) {
		ret = apply(c->r->vmm, &next, &c->e);
		/* a file that cannot be opened is the client's mistake (no warning) */
		if (ret && ret != -ENOMEM)
			ret = -EINVAL;
	}
	return api_commit(c, &next, ret);
}

static int api_apply_logger(struct vmm *v, const struct vm_config *cfg, struct errbuf *e)
{
	return vmm_set_logger(v, &cfg->logger, e);
}

static int api_apply_metrics(struct vmm *v, const struct vm_config *cfg, struct errbuf *e)
{
	return vmm_set_metrics(v, &cfg->metrics, e);
}

static int api_put_logger(struct api_call *c)
{
	return api_put_telemetry(c, fc_put_logger, api_apply_logger);
}

static int api_put_metrics(struct api_call *c)
{
	return api_put_telemetry(c, fc_put_metrics, api_apply_metrics);
}

int api_apply_telemetry(struct api_routes *r, bool logger, bool metrics, struct errbuf *e)
{
	int ret = 0;

	if (logger && r->cfg.logger.set)
		ret = api_apply_logger(r->vmm, &r->cfg, e);
	if (!ret && metrics && r->cfg.metrics.path)
		ret = api_apply_metrics(r->vmm, &r->cfg, e);
	return ret;
}

/* Firecracker refuses a boot source whose files it cannot read at once,
 * not only when it boots. */
static int api_put_boot_source(struct api_call *c)
{
	struct vm_config next;
	int ret = api_begin(c, &next);

	if (ret)
		return ret;
	ret = fc_put_boot_source(&next, c->req->body, c->req->body_len, &c->note, &c->e);
	if (!ret)
		ret = api_check_file("kernel_image_path", next.kernel, &c->e);
	if (!ret && next.initrd)
		ret = api_check_file("initrd_path", next.initrd, &c->e);
	return api_commit(c, &next, ret);
}

/* GET /balloon: the balloon's settings, and once the VM runs, what the
 * guest says it holds (actual_pages, actual_mib: beyond Firecracker,
 * which has them in /balloon/statistics). */
static int api_get_balloon(struct api_call *c)
{
	uint32_t actual;
	long long pages = vmm_balloon_actual(c->r->vmm, &actual) ? -1 : (long long)actual;

	if (!c->r->cfg.balloon.set)
		return errf(&c->e, -EINVAL, "balloon: there is no balloon device");
	return api_text(c, fc_get_balloon(&c->r->cfg, pages));
}

/* PATCH /balloon: a new target; once the VM runs, the device takes it
 * and interrupts the driver (a configuration change). */
static int api_patch_balloon(struct api_call *c)
{
	struct vm_config next;
	int ret = api_begin(c, &next);

	if (ret)
		return ret;
	ret = fc_patch_balloon(&next, c->req->body, c->req->body_len, &c->note, &c->e);
	if (!ret)
		ret = config_check_limits(&next, &c->r->limits, CONFIG_FROM_FIRECRACKER, &c->e);
	if (!ret && vmm_state(c->r->vmm) != VMM_NOT_STARTED)
		ret = vmm_update_device(c->r->vmm, "balloon", 0, &next, &c->e);
	return api_commit(c, &next, ret);
}

/* PATCH /balloon/statistics: before boot any interval; after it,
 * Firecracker's rule: statistics enabled before boot stay on (no 0), and
 * a balloon built without them never gets them. */
static int api_patch_balloon_stats(struct api_call *c)
{
	bool booted = vmm_state(c->r->vmm) != VMM_NOT_STARTED;
	struct vm_config next;
	int ret = api_begin(c, &next);

	if (ret)
		return ret;
	ret = fc_patch_balloon_stats(&next, c->req->body, c->req->body_len, &c->note, &c->e);
	if (!ret && booted && !c->r->cfg.balloon.stats_polling_interval_s)
		ret = errf(&c->e, -EINVAL, "balloon: statistics were not enabled pre-boot");
	if (!ret && booted && !next.balloon.stats_polling_interval_s)
		ret = errf(&c->e, -EINVAL, "balloon: statistics cannot be turned off after boot");
	if (!ret && booted)
		ret = vmm_update_device(c->r->vmm, "balloon", 0, &next, &c->e);
	return api_commit(c, &next, ret);
}

/* Why a balloon request of a running VM failed, in Firecracker's words
 * where it has them. */
static int api_balloon_err(struct api_call *c, int ret, const char *what)
{
	if (ret == -ENODEV)
		return errf(&c->e, -EINVAL, "balloon: there is no balloon device");
	if (ret == -ENOTSUP)
		return errf(&c->e, -EINVAL, "balloon: %s %s not enabled when the device was "
			    "configured", what, strcmp(what, "statistics") ? "was" : "were");
	return errf(&c->e, ret, "balloon: %s", strerror(-ret));
}

/* GET /balloon/statistics: the target and actual of the device, and the
 * guest's statistics that it has sent at least once (Firecracker's names) */
static int api_get_balloon_stats(struct api_call *c)
{
	static const char *const names[VM_BALLOON_NSTATS] = {
		"swap_in", "swap_out", "major_faults", "minor_faults", "free_memory",
		"total_memory", "available_memory", "disk_caches", "hugetlb_allocations",
		"hugetlb_failures", "oom_kill", "alloc_stall", "async_scan", "direct_scan",
		"async_reclaim", "direct_reclaim",
	};
	struct vm_balloon_stats st;
	int ret = vmm_balloon_stats(c->r->vmm, &st);
	json_t *o;

	if (ret)
		return api_balloon_err(c, ret, "statistics");
	o = json_pack("{s:I, s:I, s:I, s:I}", "target_pages", (json_int_t)st.target_pages,
		      "actual_pages", (json_int_t)st.actual_pages,
		      "target_mib", (json_int_t)(st.target_pages >> 8),
		      "actual_mib", (json_int_t)(st.actual_pages >> 8));
	for (unsigned t = 0; o && t < VM_BALLOON_NSTATS; t++) {
		/* JSON integers are signed 64-bit: the guest's u64 is clamped */
		json_int_t v = st.val[t] > INT64_MAX ? INT64_MAX : (json_int_t)st.val[t];

		if ((st.present & (1u << t)) && json_object_set_new(o, names[t], json_integer(v))) {
			json_decref(o);
			o = NULL;
		}
	}
	api_json(c->resp, o);
	return 0;
}

/* PATCH /balloon/hinting/start, with an optional body */
static int api_balloon_hint_start(struct api_call *c)
{
	bool ack;
	int ret = fc_balloon_hint_start(c->req->body, c->req->body_len, &ack, &c->e);

	if (ret)
		return ret;
	ret = vmm_balloon_hint(c->r->vmm, VM_HINT_START, ack, NULL);
	return ret ? api_balloon_err(c, ret, "free page hinting") : 0;
}

/* PATCH /balloon/hinting/stop: DONE, so the guest takes its hinted pages
 * back; the body, if any, is not read (Firecracker's has none) */
static int api_balloon_hint_stop(struct api_call *c)
{
	int ret = vmm_balloon_hint(c->r->vmm, VM_HINT_STOP, false, NULL);

	return ret ? api_balloon_err(c, ret, "free page hinting") : 0;
}

/* GET /balloon/hinting/status: guest_cmd only once the driver sent one */
static int api_balloon_hint_status(struct api_call *c)
{
	struct vm_balloon_hint st;
	int ret = vmm_balloon_hint(c->r->vmm, VM_HINT_STATUS, false, &st);
	json_t *o;

	if (ret)
		return api_balloon_err(c, ret, "free page hinting");
	o = json_pack("{s:I}", "host_cmd", (json_int_t)st.host_cmd);
	if (o && st.has_guest_cmd &&
	    json_object_set_new(o, "guest_cmd", json_integer((json_int_t)st.guest_cmd))) {
		json_decref(o);
		o = NULL;
	}
	api_json(c->resp, o);
	return 0;
}

/* Firecracker binds uds_path at PUT /vsock: a path it could never bind
 * (a file that is not a socket, a missing directory) is refused at once.
 * A socket there is left for InstanceStart, which replaces a stale one. */
static int api_put_vsock(struct api_call *c)
{
	struct vm_config next;
	char dir[CONFIG_UDS_PATH_MAX + 1];
	struct stat st;
	char *slash;
	int ret = api_begin(c, &next);

	if (ret)
		return ret;
	ret = fc_put_vsock(&next, c->req->body, c->req->body_len, &c->note, &c->e);
	if (!ret && !lstat(next.vsock.uds_path, &st) && !S_ISSOCK(st.st_mode))
		ret = errf(&c->e, -EINVAL, "uds_path: %s exists and is not a socket",
			   next.vsock.uds_path);
	if (!ret) {
		snprintf(dir, sizeof(dir), "%s", next.vsock.uds_path);
		slash = strrchr(dir, '/');
		if (slash && slash != dir) {
			*slash = '\0';
			if (stat(dir, &st) || !S_ISDIR(st.st_mode))
				ret = errf(&c->e, -EINVAL, "uds_path: %s: no such directory", dir);
		}
	}
	return api_commit(c, &next, ret);
}

/* The metadata service's data (vmm_mmds_*): before or after boot, as in
 * Firecracker; a store over its limit is answered 413 (api_route). */
static int api_put_mmds(struct api_call *c)
{
	return vmm_mmds_put(c->r->vmm, c->req->body, c->req->body_len, &c->e);
}

static int api_patch_mmds(struct api_call *c)
{
	return vmm_mmds_patch(c->r->vmm, c->req->body, c->req->body_len, &c->e);
}

static int api_get_mmds(struct api_call *c)
{
	return api_text(c, vmm_mmds_get(c->r->vmm));
}

/* Machine config: Firecracker takes any size here and fails at boot;
 * vireo checks this host's limits (vCPUs, memory) at once. */
static int api_machine_config(struct api_call *c, api_config_fn apply)
{
	struct vm_config next;
	int ret = api_begin(c, &next);

	if (ret)
		return ret;
	ret = apply(&next, c->req->body, c->req->body_len, &c->note, &c->e);
	if (!ret)
		ret = config_check_limits(&next, &c->r->limits, CONFIG_FROM_FIRECRACKER, &c->e);
	return api_commit(c, &next, ret);
}

static int api_put_machine_config(struct api_call *c)
{
	return api_machine_config(c, fc_put_machine_config);
}

static int api_patch_machine_config(struct api_call *c)
{
	return api_machine_config(c, fc_patch_machine_config);
}

/* --- the table ---------------------------------------------------------- */

#define ROUTE_ACTION(m, p, s, ph, fn, fc) { m, p, s, false, ph, NULL, NULL, fn, fc, false }
#define ROUTE_ACTION_ID(m, p, ph, fn, fc) { m, p, NULL, true, ph, NULL, NULL, fn, fc, false }
#define ROUTE_CONFIG(m, p, s, ph, fn, fc) { m, p, s, false, ph, fn, NULL, NULL, fc, false }
/* Firecracker's hinting PATCHes may come with no body at all */
#define ROUTE_ACTION_NB(m, p, s, ph, fn) { m, p, s, false, ph, NULL, NULL, fn, NULL, true }
#define ROUTE_CONFIG_ID(m, p, ph, fn, fc) { m, p, NULL, true, ph, NULL, fn, NULL, fc, false }
#define PRE API_PRE_BOOT
#define POST API_POST_BOOT

static const struct api_route_entry api_routes_table[] = {
	ROUTE_ACTION("GET", "", NULL, API_ANY, api_get_instance, "instance_info"),
	ROUTE_ACTION("GET", "version", NULL, API_ANY, api_get_version, "vmm_version"),
	ROUTE_ACTION("GET", "machine-config", NULL, API_ANY, api_get_machine_config, "machine_cfg"),
	ROUTE_ACTION("GET", "vm", "config", API_ANY, api_get_vm_config, NULL),
	ROUTE_ACTION("GET", "metrics", NULL, API_ANY, api_get_metrics, NULL),
	ROUTE_ACTION("PUT", "actions", NULL, API_ANY, api_put_actions, "actions"),
	ROUTE_ACTION("PATCH", "vm", NULL, POST, api_patch_vm, NULL),
	ROUTE_ACTION("PUT", "boot-source", NULL, PRE, api_put_boot_source, "boot_source"),
	ROUTE_ACTION("PUT", "machine-config", NULL, PRE, api_put_machine_config, "machine_cfg"),
	ROUTE_ACTION("PATCH", "machine-config", NULL, PRE, api_patch_machine_config,
		     "machine_cfg"),
	ROUTE_CONFIG_ID("PUT", "drives", PRE, fc_put_drive, "drive"),
	ROUTE_ACTION_ID("PATCH", "drives", POST, api_patch_drive, "drive"),
	ROUTE_CONFIG_ID("PUT", "network-interfaces", PRE, fc_put_net, "network"),
	ROUTE_ACTION_ID("PATCH", "network-interfaces", POST, api_patch_net, "network"),
	ROUTE_ACTION("PUT", "logger", NULL, PRE, api_put_logger, "logger"),
	ROUTE_ACTION("PUT", "metrics", NULL, PRE, api_put_metrics, "metrics"),
	ROUTE_CONFIG("PUT", "serial", NULL, PRE, fc_put_serial, NULL),
	ROUTE_ACTION("PUT", "vsock", NULL, PRE, api_put_vsock, "vsock"),
	ROUTE_CONFIG("PUT", "entropy", NULL, PRE, fc_put_entropy, NULL),
	ROUTE_CONFIG("PUT", "balloon", NULL, PRE, fc_put_balloon, NULL),
	ROUTE_ACTION("PATCH", "balloon", NULL, API_ANY, api_patch_balloon, NULL),
	ROUTE_ACTION("GET", "balloon", NULL, API_ANY, api_get_balloon, NULL),
	ROUTE_ACTION("PATCH", "balloon", "statistics", API_ANY, api_patch_balloon_stats, NULL),
	ROUTE_ACTION("GET", "balloon", "statistics", POST, api_get_balloon_stats, NULL),
	ROUTE_ACTION_NB("PATCH", "balloon", "hinting/start", POST, api_balloon_hint_start),
	ROUTE_ACTION_NB("PATCH", "balloon", "hinting/stop", POST, api_balloon_hint_stop),
	ROUTE_ACTION("GET", "balloon", "hinting/status", POST, api_balloon_hint_status, NULL),
	ROUTE_ACTION("PUT", "mmds", NULL, API_ANY, api_put_mmds, "mmds"),
	ROUTE_CONFIG("PUT", "mmds", "config", PRE, fc_put_mmds_config, NULL),
	ROUTE_ACTION("GET", "mmds", NULL, API_ANY, api_get_mmds, "mmds"),
	ROUTE_ACTION("PATCH", "mmds", NULL, API_ANY, api_patch_mmds, "mmds"),
	/* resources of later issues: bodies checked, then "not supported yet" */
	ROUTE_CONFIG("PUT", "cpu-config", NULL, PRE, fc_put_cpu_config, "cpu_cfg"),
	ROUTE_CONFIG_ID("PUT", "pmem", PRE, fc_put_pmem, NULL),
	ROUTE_ACTION_ID("PATCH", "pmem", POST, api_unsupported, NULL),
	ROUTE_ACTION("PUT", "snapshot", "create", POST, api_put_snapshot_create, NULL),
	ROUTE_ACTION("PUT", "vm", "migrate", POST, api_put_vm_migrate, NULL),
	ROUTE_ACTION("PUT", "snapshot", "load", PRE, api_put_snapshot_load, NULL),
	ROUTE_CONFIG("PUT", "hotplug", "memory", API_ANY, fc_put_memory_hotplug, NULL),
	ROUTE_ACTION("GET", "hotplug", "memory", API_ANY, api_unsupported, NULL),
	ROUTE_ACTION("PATCH", "hotplug", "memory", API_ANY, api_unsupported, NULL),
};

/* Splits "/a/b/c" into at most API_PATH_SEGMENTS segments (copied into
 * buf). Returns how many, or -1 for a path too long or too deep. */
static int api_split(const char *path, char buf[256], const char *seg[API_PATH_SEGMENTS])
{
	size_t len = strlen(path);
	int n = 0;
	char *p;

	if (len >= 256)
		return -1;
	memcpy(buf, path, len + 1);
	p = buf;
	while (*p == '/')
		p++;
	while (*p) {
		char *slash = strchr(p, '/');

		if (n == API_PATH_SEGMENTS)
			return -1;
		seg[n++] = p;
		if (!slash)
			break;
		*slash = '\0';
		p = slash + 1;
	}
	if (!n)
		seg[n++] = "";
	return n;
}

/* Firecracker's rule for path ids: not empty, letters, digits and '_'. */
static int api_check_id(const char *id, struct errbuf *e)
{
	if (!id || !*id)
		return errf(e, -EINVAL, "The ID cannot be empty.");
	for (const char *p = id; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_'))
			return errf(e, -EINVAL, "API Resource IDs can only contain alphanumeric "
				    "characters and underscores.");
	return 0;
}

#define API_NR_ROUTES (sizeof(api_routes_table) / sizeof(api_routes_table[0]))
_Static_assert(API_NR_ROUTES <= API_ROUTES_MAX, "API_ROUTES_MAX is too small");

static int api_dispatch(struct api_call *c)
{
	const struct api_request *req = c->req;
	const char *seg[API_PATH_SEGMENTS];
	bool has_body = req->body_len > 0;
	bool empty = (!strcmp(req->method, "PUT") || !strcmp(req->method, "PATCH")) && !has_body;
	char buf[256], tail[256] = "";
	int n = api_split(req->path, buf, seg);

	if (!strcmp(req->method, "GET") && has_body)
		return errf(&c->e, -EINVAL, "GET request cannot have a body.");
	/* a sub-path may be two segments deep (/balloon/hinting/start) */
	if (n == 2)
		snprintf(tail, sizeof(tail), "%s", seg[1]);
	else if (n == 3)
		snprintf(tail, sizeof(tail), "%s/%s", seg[1], seg[2]);
	for (size_t i = 0; n > 0 && i < API_NR_ROUTES; i++) {
		const struct api_route_entry *t = &api_routes_table[i];
		int ret;

		if (strcmp(t->method, req->method) || strcmp(t->path, seg[0]))
			continue;
		if (t->sub) {
			if (n < 2 || strcmp(t->sub, tail))
				continue;
		} else if (n != (t->has_id ? 2 : 1)) {
			if (t->has_id && n == 1 && !empty)
				return api_check_id(NULL, &c->e);
			continue;
		}
		if (empty && !t->body_optional)
			break;
		c->route = (int)i;
		/* counted before it runs, as Firecracker does: a FlushMetrics is
		 * in its own line */
		metrics_inc(&c->r->st[2 * i]);
		if (t->has_id && (ret = api_check_id(seg[1], &c->e)))
			return ret;
		if (!api_phase_ok(c->r, t->phase, &c->e))
			return -EINVAL;
		c->id = t->has_id ? seg[1] : NULL;
		if (t->action)
			return t->action(c);
		if (t->config)
			return t->config(&c->r->cfg, req->body, req->body_len, &c->note, &c->e);
		return t->config_id(&c->r->cfg, seg[1], req->body, req->body_len, &c->note, &c->e);
	}
	if (empty)
		return errf(&c->e, -EINVAL, "Empty %s request.", req->method);
	return errf(&c->e, -EINVAL, "Invalid request method and/or path: %s %s.", req->method,
		    req->path);
}

/* After the request: failures, requests that matched no path (api_dispatch
 * counted the others), deprecated fields. */
static void api_count(struct api_routes *r, const struct api_call *c, bool failed)
{
	if (c->route < 0)
		metrics_inc(&r->st[2 * API_NR_ROUTES]);
	else if (failed)
		metrics_inc(&r->st[2 * c->route + 1]);
	if (c->resp->deprecated)
		metrics_inc(&r->st[2 * API_NR_ROUTES + 1]);
}

void api_route(void *routes, const struct api_request *req, struct api_response *resp)
{
	struct api_call c = { .r = routes, .req = req, .resp = resp, .route = -1 };
	int ret = api_dispatch(&c);

	resp->deprecated = c.note.deprecation[0] != '\0';
	api_count(c.r, &c, ret != 0);
	if (ret) {
		free(resp->body);
		resp->body = NULL;
		resp->content_type = NULL;
		api_fault(resp, c.e.msg[0] ? c.e.msg : strerror(-ret));
		/* Firecracker's one answer that is not 400: the MMDS's limit */
		if (ret == -EFBIG)
			resp->status = 413;
		if (ret != -EINVAL && ret != -ENOTSUP && ret != -EFBIG && ret != -ENODATA)
			log_ratelimited(NULL, "api: %s %s: %s", req->method, req->path, c.e.msg);
		else
			log_debug("api: %s %s: 400: %s", req->method, req->path, c.e.msg);
		return;
	}
	if (!resp->body)
		resp->status = 204;
	log_debug("api: %s %s: %u", req->method, req->path, resp->status);
}

/* The counters' names: per path, requests and failures, labelled with the
 * method and the path as the table has it ("/drives/{id}"), and the fields
 * of Firecracker's <method>_api_requests they feed (GETs have no _fails). */
static void api_name_route(struct api_routes *r, unsigned k, const char *method,
			   const char *path, const char *sub, bool has_id, const char *fc)
{
	char lower[8];
	size_t i;

	for (i = 0; method[i] && i + 1 < sizeof(lower); i++)
		lower[i] = (char)(method[i] - 'A' + 'a');
	lower[i] = '\0';
	snprintf(r->labels[k], sizeof(r->labels[k]), "method=\"%s\",path=\"/%s%s%s%s\"", method,
		 path, sub ? "/" : "", sub ? sub : "", has_id ? "/{id}" : "");
	if (fc) {
		snprintf(r->fc[k][0], sizeof(r->fc[k][0]), "%s_api_requests.%s_count", lower, fc);
		snprintf(r->fc[k][1], sizeof(r->fc[k][1]), "%s_api_requests.%s_fails", lower, fc);
	}
	r->desc[2 * k] = (struct metric_desc){
		"api_requests_total", r->labels[k], "API requests, by method and path",
		fc ? r->fc[k][0] : NULL,
	};
	r->desc[2 * k + 1] = (struct metric_desc){
		"api_request_failures_total", r->labels[k],
		"API requests refused (answered 400), by method and path",
		fc && strcmp(method, "GET") ? r->fc[k][1] : NULL,
	};
}

static void api_register(struct api_routes *r)
{
	unsigned k;

	for (k = 0; k < API_NR_ROUTES; k++)
		api_name_route(r, k, api_routes_table[k].method, api_routes_table[k].path,
			       api_routes_table[k].sub, api_routes_table[k].has_id,
			       api_routes_table[k].fc);
	r->desc[2 * k] = (struct metric_desc){
		"api_unknown_requests_total", NULL, "API requests that matched no path", NULL,
	};
	r->desc[2 * k + 1] = (struct metric_desc){
		"api_deprecated_requests_total", NULL, "API requests that used a deprecated field",
		"deprecated_api.deprecated_http_api_calls",
	};
	metrics_register(vmm_metrics(r->vmm), &r->group, r->desc, 2 * k + 2, r->st, NULL, NULL);
}

void api_routes_init(struct api_routes *r, struct vmm *vmm, const struct host_limits *limits,
		     const char *id, bool enable_pci)
{
	memset(r, 0, sizeof(*r));
	r->vmm = vmm;
	r->limits = *limits;
	r->id = id;
	r->enable_pci = enable_pci;
	fc_config_init(&r->cfg);
	api_register(r);
}

void api_routes_destroy(struct api_routes *r)
{
	metrics_unregister(vmm_metrics(r->vmm), &r->group);
	config_free(&r->cfg);
}
