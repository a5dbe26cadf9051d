/* Firecracker's API bodies and config file into struct vm_config; see
 * firecracker.h. Each resource is a field table (what Firecracker's serde
 * structs accept) and an apply function that checks what the table
 * cannot and then commits; the config file calls the same apply functions
 * with its key as the path of every message. Not an HTTP server. */
#include "config/firecracker.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/json_fields.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define OBJ(f) { .fields = (f), .n = ARRAY_SIZE(f) }
#define U32_MAX 0xffffffffull
#define U64_MAX_JSON 0x7fffffffffffffffull  /* the largest integer jansson reads */
#define FC_PARTUUID_MAX 64

/* One resource's apply: v is the parsed body, where its path in messages
 * ("" for a request, "drives[2]" in a config file), id the path's id or
 * NULL (config file: the body's own id is the only one). */
typedef int (*fc_apply_fn)(struct vm_config *cfg, const char *id, const json_t *v,
			   const char *where, struct fc_note *note, struct errbuf *e);

/* --- field tables ------------------------------------------------------- */

static const char *const cache_types[] = { "Unsafe", "Writeback", NULL };
static const char *const io_engines[] = { "Sync", "Async", NULL };
static const char *const cpu_templates[] = { "None", "C3", "T2", "T2S", "T2CL", "T2A", "V1N1",
					      NULL };
static const char *const huge_pages[] = { "None", "Transparent", "2M", NULL };
enum { HUGE_NONE, HUGE_THP, HUGE_2M };
/* Firecracker reads levels in any case and takes "Warning" for "Warn" */
static const char *const log_levels[] = {
	[CONFIG_LOG_OFF] = "Off", [CONFIG_LOG_ERROR] = "Error", [CONFIG_LOG_WARN] = "Warn",
	[CONFIG_LOG_INFO] = "Info", [CONFIG_LOG_DEBUG] = "Debug", [CONFIG_LOG_TRACE] = "Trace",
	"Warning", NULL,
};
static const char *const mmds_versions[] = { "V1", "V2", NULL };
static const char *const snapshot_types[] = { "Full", "Diff", NULL };
static const char *const mem_backends[] = { "File", "Uffd", NULL };
static const char *const load_huge_pages[] = { "Snapshot", "None", "Transparent", "2M", NULL };

#define STR(n, fl) { .name = n, .type = JF_STRING, .flags = (fl) }
#define STRMAX(n, fl, m) { .name = n, .type = JF_STRING, .flags = (fl), .max = (m) }
#define BOOL(n, fl) { .name = n, .type = JF_BOOL, .flags = (fl) }
#define UINT(n, fl, lo, hi) { .name = n, .type = JF_UINT, .flags = (fl), .min = (lo), .max = (hi) }
#define ENUM(n, fl, c) { .name = n, .type = JF_ENUM, .flags = (fl), .choices = (c) }
#define OBJECT(n, fl, o) { .name = n, .type = JF_OBJECT, .flags = (fl), .object = &(o) }
#define ID(n) STRMAX(n, JF_REQUIRED, 0)  /* checked by fc_check_id, which names the rule */
#define PATH(n, fl) STR(n, (fl) | JF_NONEMPTY)
#define REQ JF_REQUIRED
#define OPT JF_NULLABLE

/* A token bucket: not deny_unknown_fields in Firecracker, so open. */
static const struct jf_field bucket_fields[] = {
	UINT("size", REQ, 0, U64_MAX_JSON),
	UINT("one_time_burst", OPT, 0, U64_MAX_JSON),
	UINT("refill_time", REQ, 0, U64_MAX_JSON),
};
static const struct jf_object bucket = { bucket_fields, ARRAY_SIZE(bucket_fields), true };
static const struct jf_field limiter_fields[] = {
	OBJECT("bandwidth", OPT, bucket),
	OBJECT("ops", OPT, bucket),
};
static const struct jf_object limiter = OBJ(limiter_fields);

static const struct jf_field boot_fields[] = {
	PATH("kernel_image_path", REQ),
	PATH("initrd_path", OPT),
	STRMAX("boot_args", OPT, FC_CMDLINE_MAX),
};
static const struct jf_object boot_obj = OBJ(boot_fields);

/* PUT: Firecracker's MachineConfig; PATCH: every field an Option. */
#define MACHINE_FIELDS(req, opt)                                                   \
	UINT("vcpu_count", (req), 1, FC_MAX_VCPUS),                                \
	UINT("mem_size_mib", (req), CONFIG_MIN_MEMORY >> 20, UINT64_MAX >> 20),    \
	BOOL("smt", (opt)),                                                        \
	ENUM("cpu_template", OPT, cpu_templates),                                  \
	BOOL("track_dirty_pages", (opt)),                                          \
	ENUM("huge_pages", (opt), huge_pages)
static const struct jf_field machine_put_fields[] = { MACHINE_FIELDS(REQ, 0) };
static const struct jf_object machine_put = OBJ(machine_put_fields);
static const struct jf_field machine_patch_fields[] = { MACHINE_FIELDS(OPT, OPT) };
static const struct jf_object machine_patch = OBJ(machine_patch_fields);

static const struct jf_field drive_fields[] = {
	ID("drive_id"),
	STRMAX("partuuid", OPT, FC_PARTUUID_MAX),
	BOOL("is_root_device", REQ),
	ENUM("cache_type", 0, cache_types),
	BOOL("is_read_only", OPT),
	PATH("path_on_host", OPT),
	OBJECT("rate_limiter", OPT, limiter),
	ENUM("io_engine", OPT, io_engines),
	PATH("socket", OPT),
};
static const struct jf_object drive_obj = OBJ(drive_fields);
static const struct jf_field drive_patch_fields[] = {
	ID("drive_id"),
	PATH("path_on_host", OPT),
	OBJECT("rate_limiter", OPT, limiter),
};
static const struct jf_object drive_patch = OBJ(drive_patch_fields);

static const struct jf_field net_fields[] = {
	ID("iface_id"),
	STR("host_dev_name", REQ),
	STR("guest_mac", OPT),
	UINT("mtu", OPT, 68, 65535),
	OBJECT("rx_rate_limiter", OPT, limiter),
	OBJECT("tx_rate_limiter", OPT, limiter),
};
static const struct jf_object net_obj = OBJ(net_fields);
static const struct jf_field net_patch_fields[] = {
	ID("iface_id"),
	OBJECT("rx_rate_limiter", OPT, limiter),
	OBJECT("tx_rate_limiter", OPT, limiter),
};
static const struct jf_object net_patch = OBJ(net_patch_fields);

static const struct jf_field logger_fields[] = {
	PATH("log_path", OPT),
	{ .name = "level", .type = JF_ENUM, .flags = OPT | JF_NOCASE, .choices = log_levels },
	BOOL("show_level", OPT),
	BOOL("show_log_origin", OPT),
	STRMAX("module", OPT, 256),
};
static const struct jf_object logger_obj = OBJ(logger_fields);

/* Firecracker's metrics config is not deny_unknown_fields: open */
static const struct jf_field metrics_fields[] = {
	PATH("metrics_path", REQ),
	BOOL("emit_id", 0),
	{ .name = "properties", .type = JF_ANY, .flags = OPT },
};
static const struct jf_object metrics_obj = { metrics_fields, ARRAY_SIZE(metrics_fields), true };

static const struct jf_field serial_fields[] = {
	PATH("serial_out_path", OPT),
	OBJECT("rate_limiter", OPT, bucket),
};
static const struct jf_object serial_obj = OBJ(serial_fields);

static const struct jf_field vsock_fields[] = {
	STRMAX("vsock_id", OPT, CONFIG_API_ID_MAX),
	UINT("guest_cid", REQ, 3, U32_MAX),
	PATH("uds_path", REQ),
	/* vireo's own: Firecracker has no vsock limits */
	OBJECT("rx_rate_limiter", OPT, limiter),
	OBJECT("tx_rate_limiter", OPT, limiter),
};
static const struct jf_object vsock_obj = OBJ(vsock_fields);

static const struct jf_field balloon_fields[] = {
	UINT("amount_mib", REQ, 0, U32_MAX),
	BOOL("deflate_on_oom", REQ),
	UINT("stats_polling_interval_s", 0, 0, CONFIG_BALLOON_MAX_STATS_S),
	BOOL("free_page_hinting", 0),
	BOOL("free_page_reporting", 0),
};
static const struct jf_object balloon_obj = OBJ(balloon_fields);
static const struct jf_field balloon_patch_fields[] = { UINT("amount_mib", REQ, 0, U32_MAX) };
static const struct jf_object balloon_patch = OBJ(balloon_patch_fields);
static const struct jf_field balloon_stats_fields[] = {
	UINT("stats_polling_interval_s", REQ, 0, CONFIG_BALLOON_MAX_STATS_S),
};
static const struct jf_object balloon_stats = OBJ(balloon_stats_fields);
static const struct jf_field balloon_hint_start_fields[] = { BOOL("acknowledge_on_stop", 0) };
static const struct jf_object balloon_hint_start = OBJ(balloon_hint_start_fields);

static const struct jf_field entropy_fields[] = { OBJECT("rate_limiter", OPT, limiter) };
static const struct jf_object entropy_obj = OBJ(entropy_fields);

static const struct jf_field mmds_config_fields[] = {
	ENUM("version", 0, mmds_versions),
	{ .name = "network_interfaces", .type = JF_ARRAY, .flags = REQ, .max = CONFIG_MAX_NETS },
	STRMAX("ipv4_address", OPT, 15),
	BOOL("imds_compat", 0),
};
static const struct jf_object mmds_config_obj = OBJ(mmds_config_fields);

#define ANY_ARRAY(n) { .name = n, .type = JF_ARRAY, .flags = OPT | JF_ANY_ITEMS }
static const struct jf_field cpu_config_fields[] = {
	{ .name = "kvm_capabilities", .type = JF_ARRAY, .flags = OPT },
	ANY_ARRAY("cpuid_modifiers"), ANY_ARRAY("msr_modifiers"), ANY_ARRAY("reg_modifiers"),
	ANY_ARRAY("vcpu_features"),
};
static const struct jf_object cpu_config_obj = OBJ(cpu_config_fields);

static const struct jf_field snapshot_create_fields[] = {
	ENUM("snapshot_type", 0, snapshot_types),
	PATH("snapshot_path", REQ),
	PATH("mem_file_path", REQ),
};
static const struct jf_object snapshot_create_obj = OBJ(snapshot_create_fields);
static const struct jf_field mem_backend_fields[] = {
	PATH("backend_path", REQ),
	ENUM("backend_type", REQ, mem_backends),
};
static const struct jf_object mem_backend_obj = OBJ(mem_backend_fields);
static const struct jf_field net_override_fields[] = {
	STR("iface_id", REQ),
	STR("host_dev_name", REQ),
};
static const struct jf_object net_override_obj = {
	net_override_fields, ARRAY_SIZE(net_override_fields), true };
static const struct jf_field vsock_override_fields[] = { PATH("uds_path", REQ) };
static const struct jf_object vsock_override_obj = {
	vsock_override_fields, ARRAY_SIZE(vsock_override_fields), true };
static const struct jf_field snapshot_load_fields[] = {
	PATH("snapshot_path", REQ),
	PATH("mem_file_path", OPT),
	OBJECT("mem_backend", OPT, mem_backend_obj),
	BOOL("enable_diff_snapshots", 0),
	BOOL("track_dirty_pages", 0),
	BOOL("resume_vm", 0),
	{ .name = "network_overrides", .type = JF_ARRAY, .object = &net_override_obj },
	OBJECT("vsock_override", OPT, vsock_override_obj),
	BOOL("clock_realtime", 0),
	ENUM("huge_pages", 0, load_huge_pages),
};
static const struct jf_object snapshot_load_obj = OBJ(snapshot_load_fields);

static const struct jf_field pmem_fields[] = {
	ID("id"),
	PATH("path_on_host", REQ),
	BOOL("root_device", 0),
	BOOL("read_only", 0),
	OBJECT("rate_limiter", OPT, limiter),
};
static const struct jf_object pmem_obj = OBJ(pmem_fields);

static const struct jf_field hotplug_fields[] = {
	UINT("total_size_mib", REQ, 0, U32_MAX),
	UINT("block_size_mib", 0, 0, U32_MAX),
	UINT("slot_size_mib", 0, 0, U32_MAX),
};
static const struct jf_object hotplug_obj = OBJ(hotplug_fields);

/* --- shared checks ------------------------------------------------------ */

static void fc_note_set(struct fc_note *note, const char *text)
{
	if (note)
		snprintf(note->deprecation, sizeof(note->deprecation), "%s", text);
}

/* Firecracker's id rule (letters, digits, '_'; not empty), in ASCII, and
 * at most CONFIG_API_ID_MAX bytes. */
static int fc_check_id(const char *id, const char *where, const char *name, struct errbuf *e)
{
	char shown[JF_SHOW_MAX];
	size_t n = strlen(id);

	if (!n)
		return jf_fail(e, -EINVAL, where, name, "the id must not be empty");
	if (n > CONFIG_API_ID_MAX)
		return jf_fail(e, -EINVAL, where, name, "the id is longer than %d bytes",
			       CONFIG_API_ID_MAX);
	for (const char *c = id; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == '_'))
			return jf_fail(e, -EINVAL, where, name, "'%s': an id may hold only letters, "
				       "digits and '_'", jf_show(id, shown));
	return 0;
}

/* The body's id: valid, and the path's where there is one. */
static int fc_check_body_id(const json_t *v, const char *field, const char *path_id,
			    const char *where, struct errbuf *e)
{
	const char *id = jf_string(v, field);
	char a[JF_SHOW_MAX], b[JF_SHOW_MAX];
	int ret = fc_check_id(id, where, field, e);

	if (ret)
		return ret;
	if (path_id && strcmp(id, path_id))
		return jf_fail(e, -EINVAL, where, field, "'%s' does not match the id in the path "
			       "('%s')", jf_show(id, a), jf_show(path_id, b));
	return 0;
}

/* A bucket Firecracker would build: one with a size and a refill time
 * (either 0 turns the bucket off). */
static bool fc_bucket_active(const json_t *b)
{
	return b && jf_uint(b, "size", 0) && jf_uint(b, "refill_time", 0);
}

/* A bucket's numbers within what base/rate_limiter.c computes with. */
static int fc_check_bucket(const json_t *b, const char *where, const char *field,
			   const char *name, struct errbuf *e)
{
	if (!b)
		return 0;
	if (jf_uint(b, "size", 0) > RATE_MAX_TOKENS ||
	    jf_uint(b, "one_time_burst", 0) > RATE_MAX_TOKENS)
		return jf_fail(e, -EINVAL, where, field, "%s: size and one_time_burst are at most "
			       "%llu", name, RATE_MAX_TOKENS);
	if (jf_uint(b, "refill_time", 0) > RATE_MAX_REFILL_MS)
		return jf_fail(e, -EINVAL, where, field, "%s: refill_time is at most %llu ms",
			       name, RATE_MAX_REFILL_MS);
	return 0;
}

/* Drives, NICs and the entropy device have rate limiting; for the others
 * (the serial port's bucket) one that would limit is refused, an empty
 * one ({}, as Kata sends, or buckets that are off) accepted. */
static int fc_check_limiter(const json_t *v, const char *field, bool supported,
			    const char *where, struct errbuf *e)
{
	const json_t *rl = jf_get(v, field);
	int ret;

	if (!rl)
		return 0;
	if (!supported && (fc_bucket_active(jf_get(rl, "bandwidth")) ||
			   fc_bucket_active(jf_get(rl, "ops"))))
		return jf_fail(e, -ENOTSUP, where, field, "rate limiting is not supported yet "
			       "here (only an empty {} is accepted)");
	ret = fc_check_bucket(jf_get(rl, "bandwidth"), where, field, "bandwidth", e);
	return ret ? ret : fc_check_bucket(jf_get(rl, "ops"), where, field, "ops", e);
}

/* The limiter in v's field into c: each bucket given replaces c's (so a
 * PATCH changes only what it names); one with size or refill_time 0 is
 * off. Checked by fc_check_limiter first. */
static void fc_limiter_get(const json_t *v, const char *field, struct rate_limiter_config *c)
{
	const json_t *rl = jf_get(v, field);
	static const char *const names[] = { "bandwidth", "ops" };
	struct rate_bucket_config *buckets[] = { &c->bandwidth, &c->ops };

	for (unsigned i = 0; rl && i < 2; i++) {
		const json_t *b = jf_get(rl, names[i]);

		if (b)
			*buckets[i] = (struct rate_bucket_config){
				.size = jf_uint(b, "size", 0),
				.one_time_burst = jf_uint(b, "one_time_burst", 0),
				.refill_ms = jf_uint(b, "refill_time", 0),
			};
		/* one that is off is all zeros, as GET /vm/config gives it back */
		if (!rate_bucket_config_on(buckets[i]))
			*buckets[i] = (struct rate_bucket_config){ 0 };
	}
}

/* Firecracker's RateLimiter for GET /vm/config: null when nothing limits */
static json_t *fc_limiter_json(const struct rate_limiter_config *c)
{
	static const char *const names[] = { "bandwidth", "ops" };
	const struct rate_bucket_config *buckets[] = { &c->bandwidth, &c->ops };
	json_t *o;

	if (!rate_limiter_config_on(c))
		return json_null();
	o = json_object();
	for (unsigned i = 0; o && i < 2; i++) {
		const struct rate_bucket_config *b = buckets[i];

		if (rate_bucket_config_on(b) &&
		    json_object_set_new(o, names[i], json_pack("{s:I, s:I, s:I}",
							       "size", (json_int_t)b->size,
							       "one_time_burst",
							       (json_int_t)b->one_time_burst,
							       "refill_time",
							       (json_int_t)b->refill_ms))) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

/* What every device request checks first: the table, the body's id
 * against the path's, and each rate limiter the table has. */
static int fc_check_device(const json_t *v, const struct jf_object *o, const char *id_field,
			   const char *path_id, const char *where, struct errbuf *e)
{
	int ret = jf_check(v, o, where, e);

	if (!ret)
		ret = fc_check_body_id(v, id_field, path_id, where, e);
	for (unsigned i = 0; !ret && i < o->n; i++)
		if (o->fields[i].object == &limiter)
			ret = fc_check_limiter(v, o->fields[i].name,
					       o == &drive_obj || o == &drive_patch ||
					       o == &net_obj || o == &net_patch, where, e);
	return ret;
}

/* Strings that go on the kernel command line: printable ASCII; spaces
 * only where allow_space (boot_args, not a single parameter's value). */
static int fc_check_cmdline_text(const char *s, bool allow_space, const char *where,
				 const char *field, struct errbuf *e)
{
	for (const char *c = s; *c; c++)
		if (*c < 0x20 || *c > 0x7e || (*c == ' ' && !allow_space))
			return jf_fail(e, -EINVAL, where, field, "byte %zu (0x%02x) is not allowed "
				       "on the kernel command line (printable ASCII%s)",
				       (size_t)(c - s), (unsigned char)*c,
				       allow_space ? "" : ", no spaces");
	return 0;
}

/* *dst = a copy of src, or NULL for NULL; false when out of memory. */
static bool fc_dup(char **dst, const char *src)
{
	*dst = src ? strdup(src) : NULL;
	return !src || *dst;
}

/* --- boot source --------------------------------------------------------- */

static int fc_boot_apply(struct vm_config *cfg, const char *id, const json_t *v,
			 const char *where, struct fc_note *note, struct errbuf *e)
{
	char *kernel = NULL, *initrd = NULL, *cmdline = NULL;
	const char *args;
	int ret;

	(void)id;
	(void)note;
	ret = jf_check(v, &boot_obj, where, e);
	args = jf_string(v, "boot_args");
	if (!ret && args)
		ret = fc_check_cmdline_text(args, true, where, "boot_args", e);
	if (ret)
		return ret;
	if (!fc_dup(&kernel, jf_string(v, "kernel_image_path")) ||
	    !fc_dup(&initrd, jf_string(v, "initrd_path")) ||
	    !fc_dup(&cmdline, args ? args : FC_DEFAULT_CMDLINE)) {
		ret = errf(e, -ENOMEM, "out of memory");
		goto fail;
	}
	free(cfg->kernel);
	free(cfg->initrd);
	free(cfg->cmdline);
	cfg->kernel = kernel;
	cfg->initrd = initrd;
	cfg->cmdline = cmdline;
	return 0;
fail:
	free(kernel);
	free(initrd);
	free(cmdline);
	return ret;
}

/* --- machine config ------------------------------------------------------ */

/* put: fields not given take Firecracker's defaults; else they keep cfg's. */
static int fc_machine_apply(struct vm_config *cfg, const json_t *v, const char *where,
			    bool put, struct fc_note *note, struct errbuf *e)
{
	const char *method = put ? "PUT" : "PATCH";
	uint64_t mib;
	unsigned cpus;
	int huge, ret;

	ret = jf_check(v, put ? &machine_put : &machine_patch, where, e);
	if (ret)
		return ret;
	if (!put && !jf_get(v, "vcpu_count") && !jf_get(v, "mem_size_mib") && !jf_get(v, "smt") &&
	    !jf_get(v, "cpu_template") && !jf_get(v, "track_dirty_pages") &&
	    !jf_get(v, "huge_pages"))
		return jf_fail(e, -EINVAL, where, NULL, "the PATCH body changes nothing");
	if (jf_get(v, "cpu_template")) {
		char text[80];

		snprintf(text, sizeof(text), "%s /machine-config: cpu_template is deprecated",
			 method);
		fc_note_set(note, text);
		if (jf_enum(v, "cpu_template", cpu_templates, 0) != 0)
			return jf_fail(e, -ENOTSUP, where, "cpu_template", "CPU templates are not "
				       "supported yet (only \"None\")");
	}
	if (jf_bool(v, "smt", false))
		return jf_fail(e, -ENOTSUP, where, "smt", "simultaneous multithreading is not "
			       "supported yet");
	huge = jf_enum(v, "huge_pages", huge_pages, put ? HUGE_NONE : cfg->mem_thp ? HUGE_THP
										    : HUGE_NONE);
	if (huge == HUGE_2M)
		return jf_fail(e, -ENOTSUP, where, "huge_pages", "\"2M\" (hugetlbfs) is not "
			       "supported yet; \"Transparent\" is");
	cpus = (unsigned)jf_uint(v, "vcpu_count", cfg->cpus);
	mib = jf_uint(v, "mem_size_mib", cfg->mem_size >> 20);
	/* as Firecracker: transparent huge pages want whole 2 MiB pages */
	if (huge == HUGE_THP && mib % 2)
		return jf_fail(e, -EINVAL, where, "mem_size_mib", "%llu is odd; with huge_pages "
			       "\"Transparent\" it must be a multiple of 2",
			       (unsigned long long)mib);
	cfg->cpus = cpus;
	cfg->mem_size = mib << 20;
	cfg->mem_thp = huge == HUGE_THP;
	cfg->mem_track_dirty = jf_bool(v, "track_dirty_pages", put ? false : cfg->mem_track_dirty);
	return 0;
}

static int fc_machine_put_apply(struct vm_config *cfg, const char *id, const json_t *v,
				const char *where, struct fc_note *note, struct errbuf *e)
{
	(void)id;
	return fc_machine_apply(cfg, v, where, true, note, e);
}

static int fc_machine_patch_apply(struct vm_config *cfg, const char *id, const json_t *v,
				  const char *where, struct fc_note *note, struct errbuf *e)
{
	(void)id;
	return fc_machine_apply(cfg, v, where, false, note, e);
}

static json_t *fc_machine_json(const struct vm_config *cfg)
{
	return json_pack("{s:I, s:I, s:b, s:b, s:s}", "vcpu_count", (json_int_t)cfg->cpus,
			 "mem_size_mib", (json_int_t)(cfg->mem_size >> 20), "smt", 0,
			 "track_dirty_pages", cfg->mem_track_dirty,
			 "huge_pages", huge_pages[cfg->mem_thp ? HUGE_THP : HUGE_NONE]);
}

/* o as compact text, and o released; NULL if either is out of memory. */
static char *fc_dump(json_t *o)
{
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	return s;
}

char *fc_get_machine_config(const struct vm_config *cfg)
{
	return fc_dump(fc_machine_json(cfg));
}

/* --- the whole configuration (GET /vm/config) ---------------------------- */

static json_t *fc_str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

/* Firecracker's vsock, and vireo's limiters only when they limit, so that
 * a Firecracker client reads back what it sent */
static json_t *fc_vsock_json(const struct config_vsock *vs)
{
	json_t *o = json_pack("{s:I, s:s}", "guest_cid", (json_int_t)vs->cid, "uds_path",
			      vs->uds_path);

	if (o && rate_limiter_config_on(&vs->rx_limit) &&
	    json_object_set_new(o, "rx_rate_limiter", fc_limiter_json(&vs->rx_limit)))
		goto fail;
	if (o && rate_limiter_config_on(&vs->tx_limit) &&
	    json_object_set_new(o, "tx_rate_limiter", fc_limiter_json(&vs->tx_limit)))
		goto fail;
	return o;
fail:
	json_decref(o);
	return NULL;
}

static json_t *fc_drives_json(const struct vm_config *cfg)
{
	json_t *a = json_array();

	for (unsigned i = 0; a && i < cfg->nr_disks; i++) {
		const struct config_disk *d = &cfg->disks[i];
		json_t *o = json_pack("{s:o, s:s, s:b, s:o, s:b, s:s, s:s, s:o}",
				      "drive_id", fc_str_or_null(d->api_id ? d->api_id : d->id),
				      "path_on_host", d->path, "is_root_device", d->root,
				      "partuuid", fc_str_or_null(d->partuuid),
				      "is_read_only", d->readonly,
				      "cache_type", cache_types[d->flush ? 1 : 0],
				      "io_engine", io_engines[d->engine == CONFIG_ENGINE_URING],
				      "rate_limiter", fc_limiter_json(&d->limit));

		if (!o || json_array_append_new(a, o)) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static json_t *fc_nets_json(const struct vm_config *cfg)
{
	json_t *a = json_array();

	for (unsigned i = 0; a && i < cfg->nr_nets; i++) {
		const struct config_net *n = &cfg->nets[i];
		char mac[18];
		json_t *o;

		snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", n->mac[0], n->mac[1],
			 n->mac[2], n->mac[3], n->mac[4], n->mac[5]);
		o = json_pack("{s:o, s:s, s:o, s:o, s:o}",
			      "iface_id", fc_str_or_null(n->api_id ? n->api_id : n->tap),
			      "host_dev_name", n->tap,
			      "guest_mac", n->mac_set ? json_string(mac) : json_null(),
			      "rx_rate_limiter", fc_limiter_json(&n->rx_limit),
			      "tx_rate_limiter", fc_limiter_json(&n->tx_limit));
		if (o && n->mtu && json_object_set_new(o, "mtu", json_integer(n->mtu))) {
			json_decref(o);
			o = NULL;
		}
		if (!o || json_array_append_new(a, o)) {
			json_decref(o);
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static json_t *fc_balloon_json(const struct vm_config *cfg)
{
	const struct config_balloon *b = &cfg->balloon;

	if (!b->set)
		return json_null();
	return json_pack("{s:I, s:b, s:I, s:b, s:b}", "amount_mib", (json_int_t)b->amount_mib,
			 "deflate_on_oom", b->deflate_on_oom, "stats_polling_interval_s",
			 (json_int_t)b->stats_polling_interval_s, "free_page_hinting",
			 b->free_page_hinting,
			 "free_page_reporting", b->free_page_reporting);
}

char *fc_get_balloon(const struct vm_config *cfg, long long actual_pages)
{
	json_t *o;

	if (!cfg->balloon.set)
		return NULL;
	o = fc_balloon_json(cfg);
	if (o && actual_pages >= 0 &&
	    (json_object_set_new(o, "actual_pages", json_integer(actual_pages)) ||
	     json_object_set_new(o, "actual_mib", json_integer(actual_pages >> 8)))) {
		json_decref(o);
		o = NULL;
	}
	return fc_dump(o);
}

/* As Firecracker rebuilds it from its NICs: null unless one reaches the
 * MMDS. */
static json_t *fc_mmds_json(const struct vm_config *cfg)
{
	const struct config_mmds *m = &cfg->mmds;
	json_t *ifaces = json_array();
	char ip[16];

	for (unsigned i = 0; ifaces && i < cfg->nr_nets; i++) {
		const struct config_net *n = &cfg->nets[i];

		if (n->mmds && json_array_append_new(ifaces, json_string(n->api_id ? n->api_id
										       : n->tap))) {
			json_decref(ifaces);
			return NULL;
		}
	}
	if (ifaces && !json_array_size(ifaces)) {
		json_decref(ifaces);
		return json_null();
	}
	snprintf(ip, sizeof(ip), "%u.%u.%u.%u", m->ipv4 >> 24, (m->ipv4 >> 16) & 0xff,
		 (m->ipv4 >> 8) & 0xff, m->ipv4 & 0xff);
	return json_pack("{s:s, s:o, s:s, s:b}", "version", m->v2 ? "V2" : "V1",
			 "network_interfaces", ifaces, "ipv4_address", ip, "imds_compat",
			 m->imds_compat);
}

char *fc_get_vm_config(const struct vm_config *cfg)
{
	const struct config_logger *lg = &cfg->logger;
	json_t *logger = !lg->set ? json_null() :
		json_pack("{s:o, s:s, s:b, s:b, s:o}", "log_path", fc_str_or_null(lg->path),
			  "level", log_levels[lg->level], "show_level", lg->show_level,
			  "show_log_origin", lg->show_origin, "module", fc_str_or_null(lg->module));
	json_t *metrics = cfg->metrics.path ?
		json_pack("{s:s}", "metrics_path", cfg->metrics.path) : json_null();
	json_t *boot = cfg->kernel ?
		json_pack("{s:s, s:o, s:o}", "kernel_image_path", cfg->kernel,
			  "initrd_path", fc_str_or_null(cfg->initrd),
			  "boot_args", fc_str_or_null(cfg->cmdline)) : json_null();
	json_t *vsock = !cfg->vsock.set ? json_null() : fc_vsock_json(&cfg->vsock);
	json_t *entropy = cfg->rng.set ? json_pack("{s:o}", "rate_limiter",
						   fc_limiter_json(&cfg->rng.limit))
				       : json_null();
	json_t *balloon = fc_balloon_json(cfg);
	json_t *mmds = fc_mmds_json(cfg);

	if (vsock && cfg->vsock.set && cfg->vsock.api_id &&
	    json_object_set_new(vsock, "vsock_id", json_string(cfg->vsock.api_id))) {
		json_decref(vsock);
		vsock = NULL;
	}
	/* vireo has none of the rest yet: Firecracker's null for each */
	return fc_dump(json_pack("{s:o, s:o, s:o, s:n, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
				 "balloon", balloon, "drives", fc_drives_json(cfg), "boot-source", boot,
				 "cpu-config", "logger", logger, "machine-config",
				 fc_machine_json(cfg), "metrics", metrics, "mmds-config", mmds,
				 "network-interfaces", fc_nets_json(cfg), "vsock", vsock,
				 "entropy", entropy));
}

/* --- drives --------------------------------------------------------------- */

/* A drive by its drive_id: the API's, or for a disk from `vireo run`'s
 * command line its id=, the name GET /vm/config shows it by. */
int fc_drive_index(const struct vm_config *cfg, const char *drive_id)
{
	for (unsigned i = 0; i < cfg->nr_disks; i++) {
		const char *name = cfg->disks[i].api_id ? cfg->disks[i].api_id : cfg->disks[i].id;

		if (name && !strcmp(name, drive_id))
			return (int)i;
	}
	return -1;
}

static int fc_find_disk(const struct vm_config *cfg, const char *api_id)
{
	return fc_drive_index(cfg, api_id);
}

/* Everything about a new drive that the table cannot say. */
static int fc_drive_check(const struct vm_config *cfg, const json_t *v, const char *where,
			  struct errbuf *e)
{
	const char *drive_id = jf_string(v, "drive_id");
	const char *partuuid = jf_string(v, "partuuid");
	int pos = fc_find_disk(cfg, drive_id);
	int ret;

	/* Firecracker: path_on_host makes a virtio-blk drive, socket a
	 * vhost-user one, and a drive is one or the other */
	if (jf_get(v, "socket") && jf_get(v, "path_on_host"))
		return jf_fail(e, -EINVAL, where, "socket", "a drive has path_on_host or socket, "
			       "not both");
	if (jf_get(v, "socket"))
		return jf_fail(e, -ENOTSUP, where, "socket", "vhost-user drives are not supported "
			       "yet");
	if (!jf_get(v, "path_on_host"))
		return jf_fail(e, -EINVAL, where, "path_on_host", "missing (required for a "
			       "virtio-blk drive)");
	if (partuuid && !*partuuid)
		return jf_fail(e, -EINVAL, where, "partuuid", "must not be empty");
	if (partuuid && (ret = fc_check_cmdline_text(partuuid, false, where, "partuuid", e)))
		return ret;
	/* the root drive is disks[0]; only it may be replaced by a root */
	if (jf_bool(v, "is_root_device", false) && cfg->nr_disks && cfg->disks[0].root && pos != 0)
		return jf_fail(e, -EINVAL, where, "is_root_device", "drive '%s' is already the "
			       "root device", cfg->disks[0].api_id ? cfg->disks[0].api_id : "?");
	if (pos < 0 && cfg->nr_disks == CONFIG_MAX_DISKS)
		return jf_fail(e, -EINVAL, where, "drive_id", "at most %d drives",
			       CONFIG_MAX_DISKS);
	return 0;
}

static int fc_drive_apply(struct vm_config *cfg, const char *id, const json_t *v,
			  const char *where, struct fc_note *note, struct errbuf *e)
{
	struct config_disk d;
	int ret, pos;

	(void)note;
	ret = fc_check_device(v, &drive_obj, "drive_id", id, where, e);
	if (!ret)
		ret = fc_drive_check(cfg, v, where, e);
	if (ret)
		return ret;
	config_disk_init(&d);
	snprintf(d.where, sizeof(d.where), "drive %s", jf_string(v, "drive_id"));
	d.readonly = jf_bool(v, "is_read_only", false);
	d.root = jf_bool(v, "is_root_device", false);
	/* Firecracker's caches are both the host's page cache; "Unsafe" only
	 * hides FLUSH from the guest */
	d.cache = CONFIG_CACHE_WRITEBACK;
	d.flush = jf_enum(v, "cache_type", cache_types, 0) == 1;
	d.engine = jf_enum(v, "io_engine", io_engines, 0) == 1 ? CONFIG_ENGINE_URING
							       : CONFIG_ENGINE_SYNC;
	fc_limiter_get(v, "rate_limiter", &d.limit);
	if (!fc_dup(&d.path, jf_string(v, "path_on_host")) ||
	    !fc_dup(&d.api_id, jf_string(v, "drive_id")) ||
	    !fc_dup(&d.partuuid, jf_string(v, "partuuid"))) {
		free(d.path);
		free(d.api_id);
		free(d.partuuid);
		return errf(e, -ENOMEM, "out of memory");
	}
	/* as Firecracker: a new root goes first, a new other drive last, a
	 * replaced drive where it was, swapped to the front if now root */
	pos = fc_find_disk(cfg, d.api_id);
	if (pos >= 0) {
		free(cfg->disks[pos].path);
		free(cfg->disks[pos].id);
		free(cfg->disks[pos].api_id);
		free(cfg->disks[pos].partuuid);
		cfg->disks[pos] = d;
		if (pos && d.root) {
			cfg->disks[pos] = cfg->disks[0];
			cfg->disks[0] = d;
		}
	} else if (d.root) {
		memmove(&cfg->disks[1], &cfg->disks[0], cfg->nr_disks * sizeof(d));
		cfg->disks[0] = d;
		cfg->nr_disks++;
	} else {
		cfg->disks[cfg->nr_disks++] = d;
	}
	return 0;
}

static int fc_drive_patch_apply(struct vm_config *cfg, const char *id, const json_t *v,
				const char *where, struct fc_note *note, struct errbuf *e)
{
	const char *path;
	char *copy, shown[JF_SHOW_MAX];
	int ret, pos;

	(void)note;
	ret = fc_check_device(v, &drive_patch, "drive_id", id, where, e);
	if (ret)
		return ret;
	pos = fc_find_disk(cfg, jf_string(v, "drive_id"));
	if (pos < 0)
		return jf_fail(e, -EINVAL, where, "drive_id", "no drive '%s'",
			       jf_show(jf_string(v, "drive_id"), shown));
	fc_limiter_get(v, "rate_limiter", &cfg->disks[pos].limit);
	path = jf_string(v, "path_on_host");
	cfg->disks[pos].patch_path = path != NULL;
	if (!path)
		return 0;
	if (!fc_dup(&copy, path))
		return errf(e, -ENOMEM, "out of memory");
	free(cfg->disks[pos].path);
	cfg->disks[pos].path = copy;
	return 0;
}

/* --- network interfaces ---------------------------------------------------- */

/* A NIC by its iface_id: the API's, or for one from `vireo run`'s command
 * line its TAP's name, as GET /vm/config shows it. */
int fc_net_index(const struct vm_config *cfg, const char *iface_id)
{
	for (unsigned i = 0; i < cfg->nr_nets; i++) {
		const char *name = cfg->nets[i].api_id ? cfg->nets[i].api_id : cfg->nets[i].tap;

		if (name && !strcmp(name, iface_id))
			return (int)i;
	}
	return -1;
}

static int fc_find_net(const struct vm_config *cfg, const char *api_id)
{
	return fc_net_index(cfg, api_id);
}

/* Everything about a new NIC that the table cannot say; n gets the MAC. */
static int fc_net_check(const struct vm_config *cfg, const json_t *v, const char *where,
			struct config_net *n, struct errbuf *e)
{
	const char *iface = jf_string(v, "iface_id"), *tap = jf_string(v, "host_dev_name");
	const char *mac = jf_string(v, "guest_mac");
	int pos = fc_find_net(cfg, iface);
	char shown[JF_SHOW_MAX], why[128];
	int ret;

	if (config_ifname_problem(tap))
		return jf_fail(e, -EINVAL, where, "host_dev_name", "'%s' is not an interface name: "
			       "%s", jf_show(tap, shown), config_ifname_problem(tap));
	if (mac && (ret = config_parse_mac(mac, n->mac, e))) {
		snprintf(why, sizeof(why), "%.120s", e->msg);
		return jf_fail(e, ret, where, "guest_mac", "'%s': %s", jf_show(mac, shown), why);
	}
	n->mac_set = mac != NULL;
	/* a NIC that this one replaces conflicts with nothing */
	for (unsigned i = 0; i < cfg->nr_nets; i++) {
		const struct config_net *o = &cfg->nets[i];

		if ((int)i == pos)
			continue;
		if (!strcmp(o->tap, tap))
			return jf_fail(e, -EINVAL, where, "host_dev_name", "'%s' is taken by %s",
				       jf_show(tap, shown), o->where);
		if (n->mac_set && o->mac_set && !memcmp(o->mac, n->mac, 6))
			return jf_fail(e, -EINVAL, where, "guest_mac", "%s is taken by %s", mac,
				       o->where);
	}
	if (pos < 0 && cfg->nr_nets == CONFIG_MAX_NETS)
		return jf_fail(e, -EINVAL, where, "iface_id", "at most %d network interfaces",
			       CONFIG_MAX_NETS);
	return 0;
}

static int fc_net_apply(struct vm_config *cfg, const char *id, const json_t *v,
			const char *where, struct fc_note *note, struct errbuf *e)
{
	struct config_net n;
	int ret, pos;

	(void)note;
	config_net_init(&n);
	ret = fc_check_device(v, &net_obj, "iface_id", id, where, e);
	if (!ret)
		ret = fc_net_check(cfg, v, where, &n, e);
	if (ret)
		return ret;
	snprintf(n.where, sizeof(n.where), "network interface %s", jf_string(v, "iface_id"));
	n.mtu = (unsigned)jf_uint(v, "mtu", 0);
	fc_limiter_get(v, "rx_rate_limiter", &n.rx_limit);
	fc_limiter_get(v, "tx_rate_limiter", &n.tx_limit);
	if (!fc_dup(&n.tap, jf_string(v, "host_dev_name")) ||
	    !fc_dup(&n.api_id, jf_string(v, "iface_id"))) {
		free(n.tap);
		free(n.api_id);
		return errf(e, -ENOMEM, "out of memory");
	}
	/* as Firecracker: a replaced NIC leaves its place to the last one,
	 * and the new one goes last */
	pos = fc_find_net(cfg, n.api_id);
	if (pos >= 0) {
		free(cfg->nets[pos].tap);
		free(cfg->nets[pos].api_id);
		cfg->nets[pos] = cfg->nets[--cfg->nr_nets];
	}
	cfg->nets[cfg->nr_nets++] = n;
	return 0;
}

static int fc_net_patch_apply(struct vm_config *cfg, const char *id, const json_t *v,
			      const char *where, struct fc_note *note, struct errbuf *e)
{
	char shown[JF_SHOW_MAX];
	int ret, pos;

	(void)note;
	ret = fc_check_device(v, &net_patch, "iface_id", id, where, e);
	if (ret)
		return ret;
	pos = fc_find_net(cfg, jf_string(v, "iface_id"));
	if (pos < 0)
		return jf_fail(e, -EINVAL, where, "iface_id", "no network interface '%s'",
			       jf_show(jf_string(v, "iface_id"), shown));
	fc_limiter_get(v, "rx_rate_limiter", &cfg->nets[pos].rx_limit);
	fc_limiter_get(v, "tx_rate_limiter", &cfg->nets[pos].tx_limit);
	return 0;
}

/* --- logger, metrics, serial ----------------------------------------------- */

static int fc_logger_apply(struct vm_config *cfg, const char *id, const json_t *v,
			   const char *where, struct fc_note *note, struct errbuf *e)
{
	char *path = NULL, *module = NULL;
	int level, ret;

	(void)id;
	(void)note;
	ret = jf_check(v, &logger_obj, where, e);
	if (ret)
		return ret;
	/* Firecracker's rule (docs/logger.md): once configured, never updated */
	if (cfg->logger.set)
		return jf_fail(e, -EINVAL, where, NULL, "the logger is already configured; it can "
			       "be configured once");
	if (!fc_dup(&path, jf_string(v, "log_path")) ||
	    !fc_dup(&module, jf_string(v, "module"))) {
		free(path);
		return errf(e, -ENOMEM, "out of memory");
	}
	level = jf_enum(v, "level", log_levels, CONFIG_LOG_INFO);
	cfg->logger.level = level > CONFIG_LOG_TRACE ? CONFIG_LOG_WARN : level; /* "Warning" */
	cfg->logger.show_level = jf_bool(v, "show_level", cfg->logger.show_level);
	cfg->logger.show_origin = jf_bool(v, "show_log_origin", cfg->logger.show_origin);
	if (path) {
		free(cfg->logger.path);
		cfg->logger.path = path;
	}
	if (module) {
		free(cfg->logger.module);
		cfg->logger.module = module;
	}
	cfg->logger.set = true;
	return 0;
}

static int fc_metrics_apply(struct vm_config *cfg, const char *id, const json_t *v,
			    const char *where, struct fc_note *note, struct errbuf *e)
{
	const json_t *props;
	char *path;
	int ret;

	(void)id;
	(void)note;
	ret = jf_check(v, &metrics_obj, where, e);
	if (ret)
		return ret;
	props = jf_get(v, "properties");
	if (props && !json_is_object(props))
		return jf_fail(e, -EINVAL, where, "properties", "expected an object of strings");
	if (props && json_object_size(props))
		return jf_fail(e, -ENOTSUP, where, "properties", "not supported yet");
	if (cfg->metrics.path)
		return jf_fail(e, -EINVAL, where, "metrics_path", "metrics are already configured "
			       "(%s); they can be set once", cfg->metrics.path);
	if (!fc_dup(&path, jf_string(v, "metrics_path")))
		return errf(e, -ENOMEM, "out of memory");
	cfg->metrics.path = path;
	cfg->metrics.emit_id = jf_bool(v, "emit_id", false);
	return 0;
}

static int fc_serial_apply(struct vm_config *cfg, const char *id, const json_t *v,
			   const char *where, struct fc_note *note, struct errbuf *e)
{
	char *path;
	int ret;

	(void)id;
	(void)note;
	ret = jf_check(v, &serial_obj, where, e);
	if (ret)
		return ret;
	if (fc_bucket_active(jf_get(v, "rate_limiter")))
		return jf_fail(e, -ENOTSUP, where, "rate_limiter", "rate limiting is not supported "
			       "yet");
	if (!fc_dup(&path, jf_string(v, "serial_out_path")))
		return errf(e, -ENOMEM, "out of memory");
	free(cfg->serial_path);
	cfg->serial_path = path;
	cfg->serial = path ? SERIAL_FILE : SERIAL_STDIO;
	return 0;
}

/* The entropy device: nothing but a rate_limiter, checked as every
 * device's is (an empty one accepted); a second PUT replaces the first. */
static int fc_entropy_apply(struct vm_config *cfg, const char *id, const json_t *v,
			    const char *where, struct fc_note *note, struct errbuf *e)
{
	int ret;

	(void)id;
	(void)note;
	ret = jf_check(v, &entropy_obj, where, e);
	if (!ret)
		ret = fc_check_limiter(v, "rate_limiter", true, where, e);
	if (ret)
		return ret;
	cfg->rng.set = true;
	cfg->rng.limit = (struct rate_limiter_config){ 0 };
	fc_limiter_get(v, "rate_limiter", &cfg->rng.limit);
	snprintf(cfg->rng.where, sizeof(cfg->rng.where), "entropy");
	return 0;
}

/* The balloon (PUT /balloon, the file's "balloon"): a second PUT replaces
 * the first. A target over the guest's RAM is refused by
 * config_check_limits, at boot or PATCH. */
static int fc_balloon_apply(struct vm_config *cfg, const char *id, const json_t *v,
			    const char *where, struct fc_note *note, struct errbuf *e)
{
	struct config_balloon *b = &cfg->balloon;
	uint64_t mib;
	int ret;

	(void)id;
	(void)note;
	ret = jf_check(v, &balloon_obj, where, e);
	if (ret)
		return ret;
	mib = jf_uint(v, "amount_mib", 0);
	if (mib > CONFIG_BALLOON_MAX_MIB)
		return jf_fail(e, -EINVAL, where, "amount_mib", "%llu is more than %u",
			       (unsigned long long)mib, CONFIG_BALLOON_MAX_MIB);
	b->set = true;
	snprintf(b->where, sizeof(b->where), "balloon");
	b->amount_mib = (uint32_t)mib;
	b->deflate_on_oom = jf_bool(v, "deflate_on_oom", false);
	b->free_page_reporting = jf_bool(v, "free_page_reporting", false);
	b->free_page_hinting = jf_bool(v, "free_page_hinting", false);
	b->stats_polling_interval_s = (unsigned)jf_uint(v, "stats_polling_interval_s", 0);
	return 0;
}

/* PATCH /balloon: a new target for the balloon there is. */
static int fc_balloon_patch_apply(struct vm_config *cfg, const char *id, const json_t *v,
				  const char *where, struct fc_note *note, struct errbuf *e)
{
	uint64_t mib;
	int ret;

	(void)id;
	(void)note;
	ret = jf_check(v, &balloon_patch, where, e);
	if (ret)
		return ret;
	if (!cfg->balloon.set)
		return errf(e, -EINVAL, "balloon: there is no balloon device (PUT /balloon first)");
	mib = jf_uint(v, "amount_mib", 0);
	if (mib > CONFIG_BALLOON_MAX_MIB)
		return jf_fail(e, -EINVAL, where, "amount_mib", "%llu is more than %u",
			       (unsigned long long)mib, CONFIG_BALLOON_MAX_MIB);
	cfg->balloon.amount_mib = (uint32_t)mib;
	return 0;
}

/* PATCH /balloon/statistics: a new polling interval. Whether it may change
 * once the VM runs is the caller's to say (it knows the booted one). */
static int fc_balloon_stats_apply(struct vm_config *cfg, const char *id, const json_t *v,
				  const char *where, struct fc_note *note, struct errbuf *e)
{
	int ret;

	(void)id;
	(void)note;
	ret = jf_check(v, &balloon_stats, where, e);
	if (ret)
		return ret;
	if (!cfg->balloon.set)
		return errf(e, -EINVAL, "balloon: there is no balloon device (PUT /balloon first)");
	cfg->balloon.stats_polling_interval_s =
		(unsigned)jf_uint(v, "stats_polling_interval_s", 0);
	return 0;
}

/* --- resources vireo does not have yet -------------------------------------- */

static int fc_unsupported(const json_t *v, const struct jf_object *o, const char *where,
			  const char *resource, struct errbuf *e)
{
	int ret = o ? jf_check(v, o, where, e) : 0;

	if (ret)
		return ret;
	/* in a config file the key says what it is */
	if (*where)
		return jf_fail(e, -ENOTSUP, where, NULL, "not supported yet");
	return errf(e, -ENOTSUP, "%s: not supported yet", resource);
}

static int fc_vsock_apply(struct vm_config *cfg, const char *id, const json_t *v,
			  const char *where, struct fc_note *note, struct errbuf *e)
{
	struct config_vsock *vs = &cfg->vsock;
	char *path, *api_id;
	struct errbuf pe;
	int ret;

	(void)id;
	ret = jf_check(v, &vsock_obj, where, e);
	if (!ret)
		ret = fc_check_limiter(v, "rx_rate_limiter", true, where, e);
	if (!ret)
		ret = fc_check_limiter(v, "tx_rate_limiter", true, where, e);
	if (ret)
		return ret;
	if (config_check_uds_path(jf_string(v, "uds_path"), &pe))
		return jf_fail(e, -EINVAL, where, "uds_path", "%s", pe.msg);
	if (jf_get(v, "vsock_id"))
		fc_note_set(note, "PUT /vsock: vsock_id is deprecated");
	if (!fc_dup(&path, jf_string(v, "uds_path")))
		return errf(e, -ENOMEM, "out of memory");
	if (!fc_dup(&api_id, jf_string(v, "vsock_id"))) {
		free(path);
		return errf(e, -ENOMEM, "out of memory");
	}
	/* a second PUT replaces the first, as in Firecracker */
	free(vs->uds_path);
	free(vs->api_id);
	vs->uds_path = path;
	vs->api_id = api_id;
	vs->cid = jf_uint(v, "guest_cid", CONFIG_VSOCK_MIN_CID);
	vs->rx_limit = vs->tx_limit = (struct rate_limiter_config){ 0 };
	fc_limiter_get(v, "rx_rate_limiter", &vs->rx_limit);
	fc_limiter_get(v, "tx_rate_limiter", &vs->tx_limit);
	vs->set = true;
	snprintf(vs->where, sizeof(vs->where), "vsock");
	return 0;
}

/* "a.b.c.d", four decimal octets without leading zeros (as Rust's
 * Ipv4Addr reads them) into *out, host order. */
static bool fc_parse_ipv4(const char *s, uint32_t *out)
{
	uint32_t ip = 0;

	for (int i = 0; i < 4; i++) {
		unsigned v = 0, digits = 0;

		if (i && *s++ != '.')
			return false;
		while (*s >= '0' && *s <= '9' && digits < 4) {
			v = v * 10 + (unsigned)(*s++ - '0');
			digits++;
		}
		if (!digits || digits > 3 || v > 255 || (digits > 1 && s[-(int)digits] == '0'))
			return false;
		ip = ip << 8 | v;
	}
	if (*s)
		return false;
	*out = ip;
	return true;
}

/* Firecracker's rules (resources.rs set_mmds_network_stack_config): the
 * address link-local but not 169.254.0.x or 169.254.255.x, then at least
 * one NIC, each one configured; in its words. The NICs named get the
 * MMDS, the others lose it. */
static int fc_mmds_config_apply(struct vm_config *cfg, const char *id, const json_t *v,
				const char *where, struct fc_note *note, struct errbuf *e)
{
	const json_t *ifaces, *item;
	const char *addr;
	char shown[JF_SHOW_MAX];
	uint32_t ip = CONFIG_MMDS_DEFAULT_IPV4;
	bool on[CONFIG_MAX_NETS] = { false };
	size_t i;
	int ret;

	(void)id;
	ret = jf_check(v, &mmds_config_obj, where, e);
	if (ret)
		return ret;
	addr = jf_string(v, "ipv4_address");
	if (addr && !fc_parse_ipv4(addr, &ip))
		return jf_fail(e, -EINVAL, where, "ipv4_address", "'%s' is not an IPv4 address",
			       jf_show(addr, shown));
	if ((ip >> 16) != 0xa9fe || ((ip >> 8) & 0xff) == 0 || ((ip >> 8) & 0xff) == 0xff)
		return jf_fail(e, -EINVAL, where, NULL, "MMMDS config error: The MMDS IPv4 address "
			       "is not link local.");
	ifaces = jf_get(v, "network_interfaces");
	if (!json_array_size(ifaces))
		return jf_fail(e, -EINVAL, where, NULL, "MMMDS config error: The list of network "
			       "interface IDs that allow forwarding MMDS requests is empty.");
	json_array_foreach(ifaces, i, item) {
		int pos = fc_find_net(cfg, json_string_value(item));

		if (pos < 0)
			return jf_fail(e, -EINVAL, where, NULL, "MMMDS config error: The list of "
				       "network interface IDs provided contains at least one ID that "
				       "does not correspond to any existing network interface.");
		on[pos] = true;
	}
	if (jf_enum(v, "version", mmds_versions, 0) == 0)
		fc_note_set(note, "PUT /mmds/config: V1 is deprecated. Use V2 instead.");
	for (unsigned n = 0; n < cfg->nr_nets; n++)
		cfg->nets[n].mmds = on[n];
	cfg->mmds = (struct config_mmds){
		.set = true, .v2 = jf_enum(v, "version", mmds_versions, 0) == 1, .ipv4 = ip,
		.imds_compat = jf_bool(v, "imds_compat", false),
	};
	return 0;
}

/* The config file may also name a file that holds the template. */
static int fc_cpu_config_apply(struct vm_config *cfg, const char *id, const json_t *v,
			       const char *where, struct fc_note *note, struct errbuf *e)
{
	(void)cfg;
	(void)id;
	(void)note;
	if (*where && json_is_string(v))
		return fc_unsupported(v, NULL, where, "CPU templates", e);
	return fc_unsupported(v, &cpu_config_obj, where, "CPU templates", e);
}

static int fc_pmem_apply(struct vm_config *cfg, const char *id, const json_t *v,
			 const char *where, struct fc_note *note, struct errbuf *e)
{
	int ret;

	(void)cfg;
	(void)note;
	ret = fc_check_device(v, &pmem_obj, "id", id, where, e);
	return ret ? ret : fc_unsupported(v, NULL, where, "pmem devices", e);
}

/* The body's rules beyond its shape: one memory backend. */
static int fc_snapshot_load_check(const json_t *v, struct fc_note *note, struct errbuf *e)
{
	bool file, backend;
	int ret;

	ret = jf_check(v, &snapshot_load_obj, "", e);
	if (ret)
		return ret;
	file = jf_get(v, "mem_file_path") != NULL;
	backend = jf_get(v, "mem_backend") != NULL;
	if (file == backend)
		return jf_fail(e, -EINVAL, "", "mem_backend", "give either mem_backend or "
			       "mem_file_path (%s)", file ? "not both" : "one is required");
	if (file || jf_bool(v, "enable_diff_snapshots", false))
		fc_note_set(note, "PUT /snapshot/load: mem_file_path and enable_diff_snapshots "
			    "are deprecated");
	return 0;
}

static int fc_dup_e(char **dst, const char *src, struct errbuf *e)
{
	return fc_dup(dst, src) ? 0 : errf(e, -ENOMEM, "out of memory");
}
/* --- requests --------------------------------------------------------------- */

/* What a request is applied by. */
struct fc_resource {
	fc_apply_fn apply;              /* NULL: vireo lacks it: obj is checked, then refused */
	const struct jf_object *obj;
	const char *name;               /* in "<name>: not supported yet" */
};

/* Parses body and applies it; id, where given, is checked first. */
static int fc_request(struct vm_config *cfg, const char *id, bool has_id, const char *body,
		      size_t len, const struct fc_resource *r, struct fc_note *note,
		      struct errbuf *e)
{
	json_t *v = NULL;
	int ret;

	if (note)
		note->deprecation[0] = '\0';
	if (has_id) {
		ret = fc_check_id(id ? id : "", "", "the id in the path", e);
		if (ret)
			return ret;
	}
	ret = jf_parse(body, len, &v, e);
	if (ret)
		return ret;
	if (r->apply)
		ret = r->apply(cfg, id, v, "", note, e);
	else
		ret = fc_unsupported(v, r->obj, "", r->name, e);
	json_decref(v);
	return ret;
}

int fc_balloon_hint_start(const char *body, size_t len, bool *ack_on_stop, struct errbuf *e)
{
	json_t *v = NULL;
	int ret;

	/* Firecracker's default: the run ends itself */
	*ack_on_stop = true;
	if (!len)
		return 0;
	ret = jf_parse(body, len, &v, e);
	if (!ret)
		ret = jf_check(v, &balloon_hint_start, "", e);
	if (!ret)
		*ack_on_stop = jf_bool(v, "acknowledge_on_stop", true);
	json_decref(v);
	return ret;
}

/* The public functions of firecracker.h, each one resource's request. */
#define FC_REQUEST(fn, ...)                                                                \
	int fn(struct vm_config *cfg, const char *body, size_t len, struct fc_note *note,  \
	       struct errbuf *e)                                                           \
	{                                                                                  \
		static const struct fc_resource r = { __VA_ARGS__ };                       \
		return fc_request(cfg, NULL, false, body, len, &r, note, e);               \
	}
#define FC_REQUEST_ID(fn, ...)                                                             \
	int fn(struct vm_config *cfg, const char *id, const char *body, size_t len,        \
	       struct fc_note *note, struct errbuf *e)                                     \
	{                                                                                  \
		static const struct fc_resource r = { __VA_ARGS__ };                       \
		return fc_request(cfg, id, true, body, len, &r, note, e);                  \
	}

FC_REQUEST(fc_put_boot_source, .apply = fc_boot_apply)
FC_REQUEST(fc_put_machine_config, .apply = fc_machine_put_apply)
FC_REQUEST(fc_patch_machine_config, .apply = fc_machine_patch_apply)
FC_REQUEST_ID(fc_put_drive, .apply = fc_drive_apply)
FC_REQUEST_ID(fc_patch_drive, .apply = fc_drive_patch_apply)
FC_REQUEST_ID(fc_put_net, .apply = fc_net_apply)
FC_REQUEST_ID(fc_patch_net, .apply = fc_net_patch_apply)
FC_REQUEST(fc_put_logger, .apply = fc_logger_apply)
FC_REQUEST(fc_put_metrics, .apply = fc_metrics_apply)
FC_REQUEST(fc_put_serial, .apply = fc_serial_apply)
FC_REQUEST(fc_put_vsock, .apply = fc_vsock_apply)
FC_REQUEST(fc_put_balloon, .apply = fc_balloon_apply)
FC_REQUEST(fc_patch_balloon, .apply = fc_balloon_patch_apply)
FC_REQUEST(fc_patch_balloon_stats, .apply = fc_balloon_stats_apply)
FC_REQUEST(fc_put_entropy, .apply = fc_entropy_apply)
FC_REQUEST(fc_put_mmds_config, .apply = fc_mmds_config_apply)
FC_REQUEST(fc_put_cpu_config, .apply = fc_cpu_config_apply)
FC_REQUEST_ID(fc_put_pmem, .apply = fc_pmem_apply)
FC_REQUEST(fc_put_memory_hotplug, .obj = &hotplug_obj, .name = "memory hotplug")

/* --- the config file ----------------------------------------------------------- */

/* Firecracker's keys, in the order it applies them. A key that is an
 * array applies its function to each item. */
static const struct {
	const char *key;
	struct fc_resource res;
	enum jf_type type;           /* JF_OBJECT, JF_ARRAY, or JF_ANY (object or path) */
	unsigned flags;
} fc_file_keys[] = {
	{ "logger", { .apply = fc_logger_apply }, JF_OBJECT, OPT },
	{ "metrics", { .apply = fc_metrics_apply }, JF_OBJECT, OPT },
	{ "machine-config", { .apply = fc_machine_put_apply }, JF_OBJECT, OPT },
	{ "cpu-config", { .apply = fc_cpu_config_apply }, JF_ANY, OPT },
	{ "boot-source", { .apply = fc_boot_apply }, JF_OBJECT, REQ },
	{ "drives", { .apply = fc_drive_apply }, JF_ARRAY, REQ },
	{ "network-interfaces", { .apply = fc_net_apply }, JF_ARRAY, 0 },
	{ "vsock", { .apply = fc_vsock_apply }, JF_OBJECT, OPT },
	{ "balloon", { .apply = fc_balloon_apply }, JF_OBJECT, OPT },
	{ "mmds-config", { .apply = fc_mmds_config_apply }, JF_OBJECT, OPT },
	{ "entropy", { .apply = fc_entropy_apply }, JF_OBJECT, OPT },
	{ "pmem", { .apply = fc_pmem_apply }, JF_ARRAY, 0 },
	{ "memory-hotplug", { .obj = &hotplug_obj }, JF_OBJECT, OPT },
};

/* One value of the file, with its path as where. */
static int fc_file_one(struct vm_config *cfg, const struct fc_resource *r, const json_t *v,
		       const char *where, struct fc_note *note, struct errbuf *e)
{
	if (r->apply)
		return r->apply(cfg, NULL, v, where, note, e);
	return fc_unsupported(v, r->obj, where, r->name, e);
}

/* The top level's shape: each key's type; unknown keys are ignored. */
static int fc_file_check(const json_t *v, struct errbuf *e)
{
	/* only the types: each object and item is checked by its apply, which
	 * knows its path */
	struct jf_field fields[ARRAY_SIZE(fc_file_keys)];
	static const struct jf_object anything = { NULL, 0, true };
	struct jf_object top = { fields, ARRAY_SIZE(fields), true };

	for (size_t i = 0; i < ARRAY_SIZE(fc_file_keys); i++)
		fields[i] = (struct jf_field){
			.name = fc_file_keys[i].key, .type = fc_file_keys[i].type,
			.flags = fc_file_keys[i].flags | JF_ANY_ITEMS,
			.object = fc_file_keys[i].type == JF_OBJECT ? &anything : NULL,
		};
	return jf_check(v, &top, "", e);
}

static int fc_file_apply(struct vm_config *cfg, const json_t *v, struct fc_note *note,
			 struct errbuf *e)
{
	char where[JF_PATH_MAX];
	int ret;

	for (size_t k = 0; k < ARRAY_SIZE(fc_file_keys); k++) {
		const json_t *item, *val = jf_get(v, fc_file_keys[k].key);
		size_t i;

		if (!val)
			continue;
		if (!json_is_array(val) || fc_file_keys[k].type != JF_ARRAY) {
			ret = fc_file_one(cfg, &fc_file_keys[k].res, val, fc_file_keys[k].key, note, e);
			if (ret)
				return ret;
			continue;
		}
		json_array_foreach(val, i, item) {
			snprintf(where, sizeof(where), "%s[%zu]", fc_file_keys[k].key, i);
			ret = fc_file_one(cfg, &fc_file_keys[k].res, item, where, note, e);
			if (ret)
				return ret;
		}
	}
	return 0;
}

int fc_config_file(struct vm_config *cfg, const char *text, size_t len, struct fc_note *note,
		   struct errbuf *e)
{
	struct vm_config tmp;
	json_t *v = NULL;
	int ret;

	if (note)
		note->deprecation[0] = '\0';
	ret = jf_parse(text, len, &v, e);
	if (!ret)
		ret = fc_file_check(v, e);
	if (ret)
		goto out;
	/* all or nothing: the file is applied to a copy */
	ret = config_copy(&tmp, cfg);
	if (ret) {
		errf(e, ret, "out of memory");
		goto out;
	}
	ret = fc_file_apply(&tmp, v, note, e);
	if (ret) {
		config_free(&tmp);
		goto out;
	}
	config_free(cfg);
	*cfg = tmp;
out:
	json_decref(v);
	return ret;
}

/* --- defaults and the command line ------------------------------------------ */

void fc_config_init(struct vm_config *cfg)
{
	config_init(cfg);
	cfg->mem_size = (uint64_t)FC_DEFAULT_MEM_MIB << 20;
	cfg->mem_thp = false;     /* Firecracker's "None": 4 KiB pages */
}

bool fc_boot_configured(const struct vm_config *cfg)
{
	struct vm_config fresh;

	fc_config_init(&fresh);
	return cfg->kernel || cfg->nr_disks || cfg->nr_nets || cfg->vsock.set || cfg->rng.set ||
	       cfg->balloon.set || cfg->mmds.set || cfg->cpus != fresh.cpus || cfg->mem_size != fresh.mem_size ||
	       cfg->mem_thp != fresh.mem_thp || cfg->mem_track_dirty;
}

int fc_boot_cmdline(const struct vm_config *cfg, char **out)
{
	const struct config_disk *root = NULL;
	const char *base = cfg->cmdline ? cfg->cmdline : "";
	int n;

	for (unsigned i = 0; i < cfg->nr_disks && !root; i++)
		if (cfg->disks[i].root)
			root = &cfg->disks[i];
	if (!root)
		n = asprintf(out, "%s", base);
	else if (root->partuuid)
		n = asprintf(out, "%s%sroot=PARTUUID=%s %s", base, *base ? " " : "",
			     root->partuuid, root->readonly ? "ro" : "rw");
	else
		n = asprintf(out, "%s%sroot=/dev/vda %s", base, *base ? " " : "",
			     root->readonly ? "ro" : "rw");
	if (n < 0) {
		*out = NULL;
		return -ENOMEM;
	}
	return 0;
}

/* --- snapshots ------------------------------------------------------------ */

int fc_put_snapshot_create(const char *body, size_t len, struct fc_snapshot_create *out,
			   struct errbuf *e)
{
	json_t *o;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = jf_parse(body, len, &o, e);
	if (ret)
		return ret;
	ret = jf_check(o, &snapshot_create_obj, "", e);
	if (!ret) {
		out->diff = jf_enum(o, "snapshot_type", snapshot_types, 0) == 1;
		out->state_path = strdup(jf_string(o, "snapshot_path"));
		out->mem_path = strdup(jf_string(o, "mem_file_path"));
		if (!out->state_path || !out->mem_path) {
			fc_snapshot_create_free(out);
			ret = errf(e, -ENOMEM, "out of memory");
		}
	}
	json_decref(o);
	return ret;
}

void fc_snapshot_create_free(struct fc_snapshot_create *s)
{
	free(s->state_path);
	free(s->mem_path);
	memset(s, 0, sizeof(*s));
}

int fc_put_snapshot_load(const char *body, size_t len, struct fc_snapshot_load *out,
			 struct fc_note *note, struct errbuf *e)
{
	const json_t *backend, *nets, *vs;
	json_t *o;
	int ret;

	memset(out, 0, sizeof(*out));
	if (note)
		note->deprecation[0] = '\0';
	ret = jf_parse(body, len, &o, e);
	if (ret)
		return ret;
	ret = fc_snapshot_load_check(o, note, e);
	if (ret)
		goto out;
	backend = jf_get(o, "mem_backend");
	out->uffd = backend && !strcmp(jf_string(backend, "backend_type"), "Uffd");
	out->resume = jf_bool(o, "resume_vm", false);
	out->track_dirty = jf_bool(o, "track_dirty_pages", false) ||
			   jf_bool(o, "enable_diff_snapshots", false);
	ret = fc_dup_e(&out->state_path, jf_string(o, "snapshot_path"), e);
	if (!ret)
		ret = fc_dup_e(&out->mem_path, backend ? jf_string(backend, "backend_path") :
				      jf_string(o, "mem_file_path"), e);
	nets = jf_get(o, "network_overrides");
	if (!ret && nets && json_array_size(nets) > CONFIG_MAX_NETS)
		ret = jf_fail(e, -EINVAL, "", "network_overrides", "at most %d", CONFIG_MAX_NETS);
	for (size_t i = 0; !ret && nets && i < json_array_size(nets); i++) {
		const json_t *n = json_array_get(nets, i);

		ret = fc_dup_e(&out->net[i].iface_id, jf_string(n, "iface_id"), e);
		if (!ret)
			ret = fc_dup_e(&out->net[i].host_dev_name, jf_string(n, "host_dev_name"), e);
		out->nr_nets = (unsigned)i + 1;
	}
	vs = jf_get(o, "vsock_override");
	if (!ret && vs)
		ret = fc_dup_e(&out->vsock_uds, jf_string(vs, "uds_path"), e);
out:
	if (ret)
		fc_snapshot_load_free(out);
	json_decref(o);
	return ret;
}

void fc_snapshot_load_free(struct fc_snapshot_load *l)
{
	free(l->state_path);
	free(l->mem_path);
	for (unsigned i = 0; i < l->nr_nets; i++) {
		free(l->net[i].iface_id);
		free(l->net[i].host_dev_name);
	}
	free(l->vsock_uds);
	memset(l, 0, sizeof(*l));
}

int fc_snapshot_load_overrides(struct vm_config *cfg, const struct fc_snapshot_load *l,
			       struct errbuf *e)
{
	for (unsigned i = 0; i < l->nr_nets; i++) {
		int k = fc_net_index(cfg, l->net[i].iface_id);
		char *tap;

		if (k < 0)
			return errf(e, -EINVAL, "network_overrides[%u].iface_id: the snapshot has no "
				    "network interface '%s'", i, l->net[i].iface_id);
		if (config_check_ifname(l->net[i].host_dev_name, e)) {
			char where[64];

			snprintf(where, sizeof(where), "network_overrides[%u].host_dev_name", i);
			errf_prefix(e, where);
			return -EINVAL;
		}
		tap = strdup(l->net[i].host_dev_name);
		if (!tap)
			return errf(e, -ENOMEM, "out of memory");
		free(cfg->nets[k].tap);
		cfg->nets[k].tap = tap;
	}
	if (l->vsock_uds) {
		char *path;

		if (!cfg->vsock.set)
			return errf(e, -EINVAL, "vsock_override: the snapshot has no vsock device");
		if (config_check_uds_path(l->vsock_uds, e)) {
			errf_prefix(e, "vsock_override.uds_path");
			return -EINVAL;
		}
		path = strdup(l->vsock_uds);
		if (!path)
			return errf(e, -ENOMEM, "out of memory");
		free(cfg->vsock.uds_path);
		cfg->vsock.uds_path = path;
	}
	return 0;
}
