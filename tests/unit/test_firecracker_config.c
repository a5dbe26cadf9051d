/* Unit tests for config/firecracker.c: every API resource's good bodies
 * and what they do to struct vm_config (drive order with a root device,
 * NIC replacement, the logger configured once, GET /machine-config's shape,
 * the root= command line), the config file in Firecracker's and Kata's
 * shapes, and a table of bad inputs, each of which must be refused with a
 * one-line message naming the problem and leave the config as it was.
 * Bodies are written with ' for " to keep them readable. No KVM, no files. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"
#include "config/firecracker.h"
#include "config_diff.h"
#include "fc_call.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))


/* body with every ' turned into " (and, where pad, its one %s filled
 * with pad letters); the caller frees it */
static char *json(const char *body, int pad)
{
	char *s, *fill = NULL;

	if (pad) {
		fill = malloc((size_t)pad + 1);
		assert_non_null(fill);
		memset(fill, 'a', (size_t)pad);
		fill[pad] = '\0';
		assert_true(asprintf(&s, body, fill) >= 0);
		free(fill);
	} else {
		s = strdup(body);
		assert_non_null(s);
	}
	for (char *c = s; *c; c++)
		if (*c == '\'')
			*c = '"';
	return s;
}

static int call(struct vm_config *cfg, enum fc_res r, const char *id, const char *b,
		struct fc_note *n, struct errbuf *e)
{
	return fc_call(cfg, r, id, b, strlen(b), n, e);
}

/* Applies a good body; fails the test with the message otherwise. */
static void ok(struct vm_config *cfg, enum fc_res r, const char *id, const char *body)
{
	struct fc_note n;
	struct errbuf e = { "" };
	char *b = json(body, 0);
	int ret = call(cfg, r, id, b, &n, &e);

	if (ret)
		fail_msg("%s: returned %d: %s", b, ret, e.msg);
	free(b);
}

/* The config every bad input is tried on: a little of everything. */
static void baseline(struct vm_config *cfg)
{
	fc_config_init(cfg);
	ok(cfg, R_BOOT, NULL, "{'kernel_image_path':'/k','boot_args':'console=ttyS0'}");
	ok(cfg, R_MACHINE, NULL, "{'vcpu_count':2,'mem_size_mib':256}");
	ok(cfg, R_DRIVE, "rootfs", "{'drive_id':'rootfs','path_on_host':'/r','is_root_device':true,"
	   "'is_read_only':true}");
	ok(cfg, R_DRIVE, "data1", "{'drive_id':'data1','path_on_host':'/d','is_root_device':false}");
	ok(cfg, R_NET, "eth0", "{'iface_id':'eth0','host_dev_name':'tap0',"
	   "'guest_mac':'06:00:ac:10:00:02'}");
	ok(cfg, R_LOGGER, NULL, "{'log_path':'/log','level':'Debug','module':'vmm'}");
}

struct bad {
	enum fc_res r;
	const char *id;
	const char *body;
	int pad;            /* body has a %s of this many letters */
	int ret;
	const char *needle;
};

#define E (-EINVAL)
#define NS (-ENOTSUP)
/* the smallest config file, to add one key to */
#define FB "'boot-source':{'kernel_image_path':'/k'},'drives':[]"
/* a good body with more fields: x is ",'field':value" */
#define DRV(x) "{'drive_id':'d2','is_root_device':false,'path_on_host':'/p'" x "}"
#define NET(x) "{'iface_id':'eth1','host_dev_name':'tap1'" x "}"
#define MC(x) "{'vcpu_count':1,'mem_size_mib':128" x "}"
#define RL(x) DRV(",'rate_limiter':" x)

static const struct bad bad_inputs[] = {
	/* malformed JSON, anywhere */
	{ R_BOOT, NULL, "", 0, E, "malformed JSON" },
	{ R_BOOT, NULL, "{", 0, E, "malformed JSON" },
	{ R_BOOT, NULL, "{'kernel_image_path':'/k'", 0, E, "malformed JSON" },
	{ R_BOOT, NULL, "{'kernel_image_path':'/k',}", 0, E, "malformed JSON" },
	{ R_BOOT, NULL, "{'kernel_image_path':/k}", 0, E, "malformed JSON" },
	{ R_BOOT, NULL, "nul", 0, E, "malformed JSON" },
	{ R_BOOT, NULL, "{'kernel_image_path':'/k'} x", 0, E, "malformed JSON" },
	{ R_BOOT, NULL, "{'kernel_image_path':'/k','kernel_image_path':'/j'}", 0, E, "duplicate" },
	{ R_BOOT, NULL, "{'kernel_image_path':'a\\u0000b'}", 0, E, "malformed JSON" },
	{ R_BOOT, NULL, "{'kernel_image_path':'\xff'}", 0, E, "malformed JSON" },
	{ R_BOOT, NULL, "'just a string'", 0, E, "malformed JSON" },
	{ R_BOOT, NULL, "123", 0, E, "malformed JSON" },
	{ R_BOOT, NULL, "{'kernel_image_path':'/k' 'x':1}", 0, E, "malformed JSON" },
	{ R_BOOT, NULL, "{'kernel_image_path':tru}", 0, E, "malformed JSON" },
	{ R_MACHINE, NULL, "{'vcpu_count':99999999999999999999,'mem_size_mib':128}", 0, E,
	  "malformed JSON" },
	{ R_DRIVE, "d2", "{'drive_id':'d2'", 0, E, "malformed JSON" },
	{ R_NET, "eth1", "{'iface_id':'eth1',,}", 0, E, "malformed JSON" },
	{ R_FILE, NULL, "{" FB, 0, E, "malformed JSON" },
	{ R_BOOT, NULL, "[]", 0, E, "expected a JSON object, got an array" },
	{ R_MACHINE, NULL, "[1,2]", 0, E, "expected a JSON object, got an array" },
	/* PUT /boot-source */
	{ R_BOOT, NULL, "{}", 0, E, "kernel_image_path: missing (required)" },
	{ R_BOOT, NULL, "{'kernel_image_path':1}", 0, E, "kernel_image_path: expected a string, got an integer" },
	{ R_BOOT, NULL, "{'kernel_image_path':null}", 0, E, "kernel_image_path: expected a string, got null" },
	{ R_BOOT, NULL, "{'kernel_image_path':''}", 0, E, "kernel_image_path: must not be empty" },
	{ R_BOOT, NULL, "{'kernel_image_path':[]}", 0, E, "kernel_image_path: expected a string, got an array" },
	{ R_BOOT, NULL, "{'kernel_image_path':{}}", 0, E, "kernel_image_path: expected a string, got an object" },
	{ R_BOOT, NULL, "{'kernel_image_path':'/k','initrd_path':true}", 0, E, "initrd_path: expected a string, got true" },
	{ R_BOOT, NULL, "{'kernel_image_path':'/k','initrd_path':''}", 0, E, "initrd_path: must not be empty" },
	{ R_BOOT, NULL, "{'kernel_image_path':'/k','boot_args':7}", 0, E, "boot_args: expected a string" },
	{ R_BOOT, NULL, "{'kernel_image_path':'/k','boot_args':1.5}", 0, E, "boot_args: expected a string" },
	{ R_BOOT, NULL, "{'kernel_image_path':'/k','boot_args':'a\\nb'}", 0, E, "boot_args: byte 1 (0x0a)" },
	{ R_BOOT, NULL, "{'kernel_image_path':'/k','boot_args':'a\\tb'}", 0, E, "boot_args: byte 1 (0x09)" },
	{ R_BOOT, NULL, "{'kernel_image_path':'/k','boot_args':'\\u00e9'}", 0, E, "boot_args: byte 0 (0xc3)" },
	{ R_BOOT, NULL, "{'kernel_image_path':'/k','foo':1}", 0, E, "foo: unknown field (expected one of: kernel_image_path, initrd_path, boot_args)" },
	{ R_BOOT, NULL, "{'kernel_image':'/k'}", 0, E, "kernel_image: unknown field" },
	{ R_BOOT, NULL, "{'Kernel_image_path':'/k'}", 0, E, "Kernel_image_path: unknown field" },
	{ R_BOOT, NULL, "{'kernel_image_path':'/k','a\\nb':1}", 0, E, "a?b: unknown field" },
	{ R_BOOT, NULL, "{'kernel_image_path':'/%s'}", 4095, E, "kernel_image_path: longer than 4095 bytes" },
	{ R_BOOT, NULL, "{'kernel_image_path':'/k','initrd_path':'/%s'}", 4095, E, "initrd_path: longer than 4095 bytes" },
	{ R_BOOT, NULL, "{'kernel_image_path':'/k','boot_args':'%s'}", 2048, E, "boot_args: longer than 2047 bytes" },
	/* PUT /machine-config */
	{ R_MACHINE, NULL, "{}", 0, E, "vcpu_count: missing (required)" },
	{ R_MACHINE, NULL, "{'vcpu_count':1}", 0, E, "mem_size_mib: missing (required)" },
	{ R_MACHINE, NULL, "{'mem_size_mib':128}", 0, E, "vcpu_count: missing (required)" },
	{ R_MACHINE, NULL, "{'vcpu_count':0,'mem_size_mib':128}", 0, E, "vcpu_count: 0 is out of range (expected 1 to 32)" },
	{ R_MACHINE, NULL, "{'vcpu_count':33,'mem_size_mib':128}", 0, E, "vcpu_count: 33 is out of range" },
	{ R_MACHINE, NULL, "{'vcpu_count':256,'mem_size_mib':128}", 0, E, "vcpu_count: 256 is out of range" },
	{ R_MACHINE, NULL, "{'vcpu_count':-1,'mem_size_mib':128}", 0, E, "vcpu_count: -1 is negative" },
	{ R_MACHINE, NULL, "{'vcpu_count':2.0,'mem_size_mib':128}", 0, E, "vcpu_count: expected an integer from 1 to 32, got a number with a fraction" },
	{ R_MACHINE, NULL, "{'vcpu_count':1e1,'mem_size_mib':128}", 0, E, "vcpu_count: expected an integer" },
	{ R_MACHINE, NULL, "{'vcpu_count':'2','mem_size_mib':128}", 0, E, "vcpu_count: expected an integer from 1 to 32, got a string" },
	{ R_MACHINE, NULL, "{'vcpu_count':true,'mem_size_mib':128}", 0, E, "vcpu_count: expected an integer from 1 to 32, got true" },
	{ R_MACHINE, NULL, "{'vcpu_count':null,'mem_size_mib':128}", 0, E, "vcpu_count: expected an integer from 1 to 32, got null" },
	{ R_MACHINE, NULL, "{'vcpu_count':1,'mem_size_mib':0}", 0, E, "mem_size_mib: 0 is out of range (expected 8 to " },
	{ R_MACHINE, NULL, "{'vcpu_count':1,'mem_size_mib':7}", 0, E, "mem_size_mib: 7 is out of range" },
	{ R_MACHINE, NULL, "{'vcpu_count':1,'mem_size_mib':-128}", 0, E, "mem_size_mib: -128 is negative" },
	{ R_MACHINE, NULL, "{'vcpu_count':1,'mem_size_mib':17592186044416}", 0, E, "mem_size_mib: 17592186044416 is out of range" },
	{ R_MACHINE, NULL, "{'vcpu_count':1,'mem_size_mib':9223372036854775807}", 0, E, "mem_size_mib: 9223372036854775807 is out of range" },
	{ R_MACHINE, NULL, "{'vcpu_count':1,'mem_size_mib':'128'}", 0, E, "mem_size_mib: expected an integer" },
	{ R_MACHINE, NULL, "{'vcpu_count':1,'mem_size_mib':128.5}", 0, E, "mem_size_mib: expected an integer" },
	{ R_MACHINE, NULL, MC(",'smt':true"), 0, NS, "smt: simultaneous multithreading is not supported yet" },
	{ R_MACHINE, NULL, MC(",'smt':'false'"), 0, E, "smt: expected true or false, got a string" },
	{ R_MACHINE, NULL, MC(",'smt':null"), 0, E, "smt: expected true or false, got null" },
	{ R_MACHINE, NULL, MC(",'smt':0"), 0, E, "smt: expected true or false, got an integer" },
	{ R_MACHINE, NULL, MC(",'track_dirty_pages':1"), 0, E, "track_dirty_pages: expected true or false" },
	{ R_MACHINE, NULL, MC(",'huge_pages':'2M'"), 0, NS, "huge_pages: \"2M\" (hugetlbfs) is not supported yet" },
	{ R_MACHINE, NULL, MC(",'huge_pages':'none'"), 0, E, "huge_pages: 'none' is not one of None, Transparent, 2M" },
	{ R_MACHINE, NULL, MC(",'huge_pages':'THP'"), 0, E, "huge_pages: 'THP' is not one of" },
	{ R_MACHINE, NULL, MC(",'huge_pages':2"), 0, E, "huge_pages: expected one of None, Transparent, 2M, got an integer" },
	{ R_MACHINE, NULL, MC(",'huge_pages':null"), 0, E, "huge_pages: expected one of None, Transparent, 2M, got null" },
	{ R_MACHINE, NULL, "{'vcpu_count':1,'mem_size_mib':129,'huge_pages':'Transparent'}", 0, E, "mem_size_mib: 129 is odd" },
	{ R_MACHINE, NULL, MC(",'cpu_template':'T2'"), 0, NS, "cpu_template: CPU templates are not supported yet" },
	{ R_MACHINE, NULL, MC(",'cpu_template':'C3'"), 0, NS, "cpu_template: CPU templates are not supported yet" },
	{ R_MACHINE, NULL, MC(",'cpu_template':'X'"), 0, E, "cpu_template: 'X' is not one of None, C3" },
	{ R_MACHINE, NULL, MC(",'cpu_template':1"), 0, E, "cpu_template: expected one of" },
	{ R_MACHINE, NULL, MC(",'ht_enabled':false"), 0, E, "ht_enabled: unknown field (expected one of: vcpu_count, mem_size_mib" },
	{ R_MACHINE, NULL, MC(",'gdb_socket_path':'/g'"), 0, E, "gdb_socket_path: unknown field" },
	{ R_MACHINE, NULL, "{'vcpus':1,'mem_size_mib':128}", 0, E, "vcpus: unknown field" },
	/* PATCH /machine-config */
	{ R_MACHINE_PATCH, NULL, "{}", 0, E, "the PATCH body changes nothing" },
	{ R_MACHINE_PATCH, NULL, "{'vcpu_count':null}", 0, E, "the PATCH body changes nothing" },
	{ R_MACHINE_PATCH, NULL, "{'vcpu_count':0}", 0, E, "vcpu_count: 0 is out of range" },
	{ R_MACHINE_PATCH, NULL, "{'vcpu_count':64}", 0, E, "vcpu_count: 64 is out of range" },
	{ R_MACHINE_PATCH, NULL, "{'mem_size_mib':-1}", 0, E, "mem_size_mib: -1 is negative" },
	{ R_MACHINE_PATCH, NULL, "{'smt':true}", 0, NS, "smt: simultaneous multithreading" },
	{ R_MACHINE_PATCH, NULL, "{'huge_pages':'2M'}", 0, NS, "huge_pages: \"2M\"" },
	{ R_MACHINE_PATCH, NULL, "{'foo':1}", 0, E, "foo: unknown field" },
	{ R_MACHINE_PATCH, NULL, "{'huge_pages':'Transparent','mem_size_mib':255}", 0, E, "mem_size_mib: 255 is odd" },
	{ R_MACHINE_PATCH, NULL, "{'vcpu_count':'4'}", 0, E, "vcpu_count: expected an integer" },
	/* PUT /drives/{id}: the id */
	{ R_DRIVE, "", DRV(""), 0, E, "the id in the path: the id must not be empty" },
	{ R_DRIVE, NULL, DRV(""), 0, E, "the id in the path: the id must not be empty" },
	{ R_DRIVE, "a-b", DRV(""), 0, E, "the id in the path: 'a-b': an id may hold only letters, digits and '_'" },
	{ R_DRIVE, "a b", DRV(""), 0, E, "the id in the path: 'a b': an id may hold only" },
	{ R_DRIVE, "a/b", DRV(""), 0, E, "the id in the path: 'a/b': an id may hold only" },
	{ R_DRIVE, "a\nb", DRV(""), 0, E, "the id in the path: 'a?b': an id may hold only" },
	{ R_DRIVE, "d\xc3\xa9", DRV(""), 0, E, "the id in the path: 'd?" "?': an id may hold only" },
	{ R_DRIVE, "d3", DRV(""), 0, E, "drive_id: 'd2' does not match the id in the path ('d3')" },
	{ R_DRIVE, "D2", DRV(""), 0, E, "drive_id: 'd2' does not match the id in the path ('D2')" },
	{ R_DRIVE, "d2", "{'drive_id':5,'is_root_device':false,'path_on_host':'/p'}", 0, E, "drive_id: expected a string, got an integer" },
	{ R_DRIVE, "d2", "{'drive_id':null,'is_root_device':false,'path_on_host':'/p'}", 0, E, "drive_id: expected a string, got null" },
	{ R_DRIVE, "d2", "{'drive_id':'','is_root_device':false,'path_on_host':'/p'}", 0, E, "drive_id: the id must not be empty" },
	{ R_DRIVE, "d2", "{'is_root_device':false,'path_on_host':'/p'}", 0, E, "drive_id: missing (required)" },
	{ R_DRIVE, "%s", "{'drive_id':'%s','is_root_device':false,'path_on_host':'/p'}", 65, E, "the id is longer than 64 bytes" },
	/* PUT /drives/{id}: the fields */
	{ R_DRIVE, "d2", "{'drive_id':'d2','path_on_host':'/p'}", 0, E, "is_root_device: missing (required)" },
	{ R_DRIVE, "d2", "{'drive_id':'d2','is_root_device':null,'path_on_host':'/p'}", 0, E, "is_root_device: expected true or false, got null" },
	{ R_DRIVE, "d2", "{'drive_id':'d2','is_root_device':'true','path_on_host':'/p'}", 0, E, "is_root_device: expected true or false, got a string" },
	{ R_DRIVE, "d2", "{'drive_id':'d2','is_root_device':false}", 0, E, "path_on_host: missing (required for a virtio-blk drive)" },
	{ R_DRIVE, "d2", "{'drive_id':'d2','is_root_device':false,'path_on_host':null}", 0, E, "path_on_host: missing (required for a virtio-blk drive)" },
	{ R_DRIVE, "d2", "{'drive_id':'d2','is_root_device':false,'path_on_host':''}", 0, E, "path_on_host: must not be empty" },
	{ R_DRIVE, "d2", "{'drive_id':'d2','is_root_device':false,'path_on_host':7}", 0, E, "path_on_host: expected a string, got an integer" },
	{ R_DRIVE, "d2", "{'drive_id':'d2','is_root_device':false,'path_on_host':'/%s'}", 4095, E, "path_on_host: longer than 4095 bytes" },
	{ R_DRIVE, "d2", DRV(",'is_read_only':'yes'"), 0, E, "is_read_only: expected true or false, got a string" },
	{ R_DRIVE, "d2", DRV(",'is_read_only':1"), 0, E, "is_read_only: expected true or false, got an integer" },
	{ R_DRIVE, "d2", DRV(",'cache_type':'unsafe'"), 0, E, "cache_type: 'unsafe' is not one of Unsafe, Writeback" },
	{ R_DRIVE, "d2", DRV(",'cache_type':'None'"), 0, E, "cache_type: 'None' is not one of" },
	{ R_DRIVE, "d2", DRV(",'cache_type':null"), 0, E, "cache_type: expected one of Unsafe, Writeback, got null" },
	{ R_DRIVE, "d2", DRV(",'cache_type':0"), 0, E, "cache_type: expected one of" },
	{ R_DRIVE, "d2", DRV(",'io_engine':'async'"), 0, E, "io_engine: 'async' is not one of Sync, Async" },
	{ R_DRIVE, "d2", DRV(",'io_engine':'Uring'"), 0, E, "io_engine: 'Uring' is not one of" },
	{ R_DRIVE, "d2", DRV(",'io_engine':true"), 0, E, "io_engine: expected one of Sync, Async, got true" },
	{ R_DRIVE, "d2", DRV(",'partuuid':'a b'"), 0, E, "partuuid: byte 1 (0x20) is not allowed on the kernel command line" },
	{ R_DRIVE, "d2", DRV(",'partuuid':'a\\nb'"), 0, E, "partuuid: byte 1 (0x0a)" },
	{ R_DRIVE, "d2", DRV(",'partuuid':''"), 0, E, "partuuid: must not be empty" },
	{ R_DRIVE, "d2", DRV(",'partuuid':5"), 0, E, "partuuid: expected a string" },
	{ R_DRIVE, "d2", DRV(",'partuuid':'%s'"), 65, E, "partuuid: longer than 64 bytes" },
	{ R_DRIVE, "d2", "{'drive_id':'d2','is_root_device':false,'socket':'/s'}", 0, NS, "socket: vhost-user drives are not supported yet" },
	{ R_DRIVE, "d2", DRV(",'socket':'/s'"), 0, E, "socket: a drive has path_on_host or socket, not both" },
	{ R_DRIVE, "d2", DRV(",'socket':3"), 0, E, "socket: expected a string" },
	{ R_DRIVE, "d2", DRV(",'is_root_device':true"), 0, E, "duplicate" },
	{ R_DRIVE, "d2", "{'drive_id':'d2','is_root_device':true,'path_on_host':'/p'}", 0, E, "is_root_device: drive 'rootfs' is already the root device" },
	{ R_DRIVE, "d2", DRV(",'readonly':true"), 0, E, "readonly: unknown field (expected one of: drive_id, partuuid, is_root_device" },
	{ R_DRIVE, "d2", DRV(",'is_root':true"), 0, E, "is_root: unknown field" },
	{ R_DRIVE, "d2", DRV(",'drive_path':'/x'"), 0, E, "drive_path: unknown field" },
	{ R_DRIVE, "d2", "[]", 0, E, "expected a JSON object, got an array" },
	/* rate limiters */
	{ R_DRIVE, "d2", RL("{'bandwidth':{'size':1099511627777,'refill_time':100}}"), 0, E, "rate_limiter: bandwidth: size and one_time_burst are at most 1099511627776" },
	{ R_DRIVE, "d2", RL("{'ops':{'size':10,'refill_time':1000,'one_time_burst':1099511627777}}"), 0, E, "rate_limiter: ops: size and one_time_burst are at most" },
	{ R_DRIVE, "d2", RL("{'ops':{'size':10,'refill_time':4294967297}}"), 0, E, "rate_limiter: ops: refill_time is at most 4294967296 ms" },
	{ R_DRIVE, "d2", RL("'x'"), 0, E, "rate_limiter: expected an object, got a string" },
	{ R_DRIVE, "d2", RL("[]"), 0, E, "rate_limiter: expected an object, got an array" },
	{ R_DRIVE, "d2", RL("{'foo':1}"), 0, E, "rate_limiter.foo: unknown field (expected one of: bandwidth, ops)" },
	{ R_DRIVE, "d2", RL("{'bandwidth':{'size':-1,'refill_time':1}}"), 0, E, "rate_limiter.bandwidth.size: -1 is negative" },
	{ R_DRIVE, "d2", RL("{'bandwidth':{'refill_time':1}}"), 0, E, "rate_limiter.bandwidth.size: missing (required)" },
	{ R_DRIVE, "d2", RL("{'bandwidth':{'size':1}}"), 0, E, "rate_limiter.bandwidth.refill_time: missing (required)" },
	{ R_DRIVE, "d2", RL("{'bandwidth':{'size':'1','refill_time':1}}"), 0, E, "rate_limiter.bandwidth.size: expected an integer" },
	{ R_DRIVE, "d2", RL("{'bandwidth':5}"), 0, E, "rate_limiter.bandwidth: expected an object, got an integer" },
	{ R_DRIVE, "d2", RL("{'ops':{'size':1,'refill_time':1,'one_time_burst':-5}}"), 0, E, "rate_limiter.ops.one_time_burst: -5 is negative" },
	{ R_DRIVE, "d2", RL("{'bandwidth':{'size':1.5,'refill_time':1}}"), 0, E, "rate_limiter.bandwidth.size: expected an integer" },
	{ R_DRIVE, "d2", RL("{'ops':{'size':1,'refill_time':true}}"), 0, E, "rate_limiter.ops.refill_time: expected an integer" },
	/* PATCH /drives/{id} */
	{ R_DRIVE_PATCH, "nope", "{'drive_id':'nope','path_on_host':'/x'}", 0, E, "drive_id: no drive 'nope'" },
	{ R_DRIVE_PATCH, "data1", "{'drive_id':'rootfs','path_on_host':'/x'}", 0, E, "drive_id: 'rootfs' does not match the id in the path ('data1')" },
	{ R_DRIVE_PATCH, "data1", "{'path_on_host':'/x'}", 0, E, "drive_id: missing (required)" },
	{ R_DRIVE_PATCH, "data1", "{'drive_id':'data1','path_on_host':''}", 0, E, "path_on_host: must not be empty" },
	{ R_DRIVE_PATCH, "data1", "{'drive_id':'data1','path_on_host':5}", 0, E, "path_on_host: expected a string" },
	{ R_DRIVE_PATCH, "data1", "{'drive_id':'data1','rate_limiter':{'bandwidth':{'size':1,'refill_time':9223372036854775807}}}", 0, E, "rate_limiter: bandwidth: refill_time is at most" },
	{ R_DRIVE_PATCH, "data1", "{'drive_id':'data1','is_read_only':true}", 0, E, "is_read_only: unknown field (expected one of: drive_id, path_on_host, rate_limiter)" },
	{ R_DRIVE_PATCH, "data1", "{'drive_id':'data1','is_root_device':true}", 0, E, "is_root_device: unknown field" },
	{ R_DRIVE_PATCH, "data-1", "{'drive_id':'data1'}", 0, E, "the id in the path: 'data-1'" },
	/* PUT /network-interfaces/{id} */
	{ R_NET, "eth1", "{'iface_id':'eth1'}", 0, E, "host_dev_name: missing (required)" },
	{ R_NET, "eth1", "{'host_dev_name':'tap1'}", 0, E, "iface_id: missing (required)" },
	{ R_NET, "eth1", "{'iface_id':null,'host_dev_name':'tap1'}", 0, E, "iface_id: expected a string, got null" },
	{ R_NET, "eth1", "{'iface_id':'eth1','host_dev_name':''}", 0, E, "host_dev_name: '' is not an interface name: empty" },
	{ R_NET, "eth1", "{'iface_id':'eth1','host_dev_name':'tap%d'}", 0, E, "host_dev_name: 'tap%d' is not an interface name: '/', ':', '%', spaces" },
	{ R_NET, "eth1", "{'iface_id':'eth1','host_dev_name':'..'}", 0, E, "host_dev_name: '..' is not an interface name" },
	{ R_NET, "eth1", "{'iface_id':'eth1','host_dev_name':'%s'}", 16, E, "host_dev_name: 'aaaaaaaaaaaaaaaa' is not an interface name" },
	{ R_NET, "eth1", "{'iface_id':'eth1','host_dev_name':'a/b'}", 0, E, "host_dev_name: 'a/b' is not an interface name" },
	{ R_NET, "eth1", "{'iface_id':'eth1','host_dev_name':5}", 0, E, "host_dev_name: expected a string, got an integer" },
	{ R_NET, "eth1", "{'iface_id':'eth1','host_dev_name':'tap0'}", 0, E, "host_dev_name: 'tap0' is taken by network interface eth0" },
	{ R_NET, "eth1", NET(",'guest_mac':'06:00:ac:10:00:02'"), 0, E, "guest_mac: 06:00:ac:10:00:02 is taken by network interface eth0" },
	{ R_NET, "eth1", NET(",'guest_mac':'06:00:AC:10:00:02'"), 0, E, "guest_mac: 06:00:AC:10:00:02 is taken by network interface eth0" },
	{ R_NET, "eth1", NET(",'guest_mac':'zz:00:00:00:00:00'"), 0, E, "guest_mac: 'zz:00:00:00:00:00': expected a unicast address" },
	{ R_NET, "eth1", NET(",'guest_mac':'01:00:5e:00:00:01'"), 0, E, "guest_mac: '01:00:5e:00:00:01': expected a unicast address" },
	{ R_NET, "eth1", NET(",'guest_mac':'00:00:00:00:00:00'"), 0, E, "guest_mac: '00:00:00:00:00:00': 00:00:00:00:00:00 is no address" },
	{ R_NET, "eth1", NET(",'guest_mac':'52:54:00:12:34:-1'"), 0, E, "guest_mac: '52:54:00:12:34:-1': expected a unicast address" },
	{ R_NET, "eth1", NET(",'guest_mac':'06:00:ac:10:00'"), 0, E, "guest_mac: '06:00:ac:10:00': expected" },
	{ R_NET, "eth1", NET(",'guest_mac':'06:00:ac:10:00:02:03'"), 0, E, "guest_mac: '06:00:ac:10:00:02:03': expected" },
	{ R_NET, "eth1", NET(",'guest_mac':'06-00-ac-10-00-02'"), 0, E, "guest_mac: '06-00-ac-10-00-02': expected" },
	{ R_NET, "eth1", NET(",'guest_mac':'0600ac100002'"), 0, E, "guest_mac: '0600ac100002': expected" },
	{ R_NET, "eth1", NET(",'guest_mac':'+6:00:ac:10:00:02'"), 0, E, "guest_mac: '+6:00:ac:10:00:02': expected" },
	{ R_NET, "eth1", NET(",'guest_mac':' 6:00:ac:10:00:02'"), 0, E, "guest_mac: ' 6:00:ac:10:00:02': expected" },
	{ R_NET, "eth1", NET(",'guest_mac':''"), 0, E, "guest_mac: '': expected" },
	{ R_NET, "eth1", NET(",'guest_mac':6"), 0, E, "guest_mac: expected a string, got an integer" },
	{ R_NET, "eth1", NET(",'mtu':67"), 0, E, "mtu: 67 is out of range (expected 68 to 65535)" },
	{ R_NET, "eth1", NET(",'mtu':65536"), 0, E, "mtu: 65536 is out of range" },
	{ R_NET, "eth1", NET(",'mtu':-1"), 0, E, "mtu: -1 is negative" },
	{ R_NET, "eth1", NET(",'mtu':'1500'"), 0, E, "mtu: expected an integer" },
	{ R_NET, "eth1", NET(",'rx_rate_limiter':{'bandwidth':{'size':1099511627777,'refill_time':1}}"), 0, E, "rx_rate_limiter: bandwidth: size and one_time_burst are at most" },
	{ R_NET, "eth1", NET(",'tx_rate_limiter':{'ops':{'size':1,'refill_time':4294967297}}"), 0, E, "tx_rate_limiter: ops: refill_time is at most" },
	{ R_NET, "eth1", NET(",'rx_rate_limiter':{'foo':{}}"), 0, E, "rx_rate_limiter.foo: unknown field" },
	{ R_NET, "eth1", NET(",'tx_rate_limiter':1"), 0, E, "tx_rate_limiter: expected an object" },
	{ R_NET, "eth2", NET(""), 0, E, "iface_id: 'eth1' does not match the id in the path ('eth2')" },
	{ R_NET, "eth-1", NET(""), 0, E, "the id in the path: 'eth-1'" },
	{ R_NET, "eth1", NET(",'allow_mmds_requests':false"), 0, E, "allow_mmds_requests: unknown field (expected one of: iface_id, host_dev_name, guest_mac, mtu" },
	{ R_NET, "eth1", NET(",'mac':'06:00:ac:10:00:09'"), 0, E, "mac: unknown field" },
	{ R_NET, "eth1", NET(",'host_dev_name':'tap2'"), 0, E, "duplicate" },
	/* PATCH /network-interfaces/{id} */
	{ R_NET_PATCH, "eth9", "{'iface_id':'eth9'}", 0, E, "iface_id: no network interface 'eth9'" },
	{ R_NET_PATCH, "eth0", "{'iface_id':'eth1'}", 0, E, "iface_id: 'eth1' does not match" },
	{ R_NET_PATCH, "eth0", "{'iface_id':'eth0','rx_rate_limiter':{'bandwidth':{'size':9,'refill_time':4294967297}}}", 0, E, "rx_rate_limiter: bandwidth: refill_time is at most" },
	{ R_NET_PATCH, "eth0", "{'iface_id':'eth0','host_dev_name':'tap9'}", 0, E, "host_dev_name: unknown field (expected one of: iface_id, rx_rate_limiter, tx_rate_limiter)" },
	{ R_NET_PATCH, "eth0", "{}", 0, E, "iface_id: missing (required)" },
	/* PUT /logger */
	{ R_LOGGER, NULL, "{'level':'Verbose'}", 0, E, "level: 'Verbose' is not one of Off, Error, Warn, Info, Debug, Trace, Warning" },
	{ R_LOGGER, NULL, "{'level':3}", 0, E, "level: expected one of" },
	{ R_LOGGER, NULL, "{'log_path':''}", 0, E, "log_path: must not be empty" },
	{ R_LOGGER, NULL, "{'log_path':5}", 0, E, "log_path: expected a string" },
	{ R_LOGGER, NULL, "{'show_level':'yes'}", 0, E, "show_level: expected true or false" },
	{ R_LOGGER, NULL, "{'show_log_origin':1}", 0, E, "show_log_origin: expected true or false" },
	{ R_LOGGER, NULL, "{'module':5}", 0, E, "module: expected a string" },
	{ R_LOGGER, NULL, "{'module':'%s'}", 257, E, "module: longer than 256 bytes" },
	{ R_LOGGER, NULL, "{'path':'/l'}", 0, E, "path: unknown field (expected one of: log_path, level, show_level, show_log_origin, module)" },
	{ R_LOGGER, NULL, "{'options':[]}", 0, E, "options: unknown field" },
	/* PUT /metrics */
	{ R_METRICS, NULL, "{}", 0, E, "metrics_path: missing (required)" },
	{ R_METRICS, NULL, "{'metrics_path':''}", 0, E, "metrics_path: must not be empty" },
	{ R_METRICS, NULL, "{'metrics_path':3}", 0, E, "metrics_path: expected a string" },
	{ R_METRICS, NULL, "{'metrics_path':'/m','emit_id':'true'}", 0, E, "emit_id: expected true or false" },
	{ R_METRICS, NULL, "{'metrics_path':'/m','properties':{'a':'b'}}", 0, NS, "properties: not supported yet" },
	{ R_METRICS, NULL, "{'metrics_path':'/m','properties':5}", 0, E, "properties: expected an object of strings" },
	{ R_METRICS, NULL, "{'metrics_path':'/m','properties':[]}", 0, E, "properties: expected an object of strings" },
	/* PUT /serial */
	{ R_SERIAL, NULL, "{'serial_out_path':5}", 0, E, "serial_out_path: expected a string" },
	{ R_SERIAL, NULL, "{'rate_limiter':{'size':100,'refill_time':100}}", 0, NS, "rate_limiter: rate limiting is not supported yet" },
	{ R_SERIAL, NULL, "{'rate_limiter':{'size':'x','refill_time':1}}", 0, E, "rate_limiter.size: expected an integer" },
	{ R_SERIAL, NULL, "{'path':'/s'}", 0, E, "path: unknown field (expected one of: serial_out_path, rate_limiter)" },
	/* PUT /vsock */
	{ R_VSOCK, NULL, "{'uds_path':'/v'}", 0, E, "guest_cid: missing (required)" },
	{ R_VSOCK, NULL, "{'guest_cid':2,'uds_path':'/v'}", 0, E, "guest_cid: 2 is out of range (expected 3 to 4294967295)" },
	{ R_VSOCK, NULL, "{'guest_cid':4294967296,'uds_path':'/v'}", 0, E, "guest_cid: 4294967296 is out of range" },
	{ R_VSOCK, NULL, "{'guest_cid':-3,'uds_path':'/v'}", 0, E, "guest_cid: -3 is negative" },
	{ R_VSOCK, NULL, "{'guest_cid':3}", 0, E, "uds_path: missing (required)" },
	{ R_VSOCK, NULL, "{'guest_cid':3,'uds_path':''}", 0, E, "uds_path: must not be empty" },
	{ R_VSOCK, NULL, "{'guest_cid':3,'uds_path':'/v','vsock_id':5}", 0, E, "vsock_id: expected a string" },
	{ R_VSOCK, NULL, "{'guest_cid':3,'uds_path':'/v','cid':3}", 0, E, "cid: unknown field" },
	{ R_VSOCK, NULL, "{'guest_cid':3,'uds_path':'" "/0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456" "'}", 0, E, "uds_path: longer than 96 bytes" },
	{ R_VSOCK, NULL, "{'guest_cid':3,'uds_path':null}", 0, E, "uds_path: expected a string" },
	{ R_VSOCK, NULL, "{'guest_cid':'3','uds_path':'/v'}", 0, E, "guest_cid: expected an integer" },
	/* balloon */
	{ R_BALLOON, NULL, "{'deflate_on_oom':true}", 0, E, "amount_mib: missing (required)" },
	{ R_BALLOON, NULL, "{'amount_mib':1}", 0, E, "deflate_on_oom: missing (required)" },
	{ R_BALLOON, NULL, "{'amount_mib':-1,'deflate_on_oom':true}", 0, E, "amount_mib: -1 is negative" },
	{ R_BALLOON, NULL, "{'amount_mib':1,'deflate_on_oom':true,'stats_polling_interval_s':65536}", 0, E, "stats_polling_interval_s: 65536 is out of range" },
	{ R_BALLOON, NULL, "{'amount_mib':1,'deflate_on_oom':true,'target':1}", 0, E, "target: unknown field" },
	{ R_BALLOON, NULL, "{'amount_mib':1048577,'deflate_on_oom':true}", 0, E, "amount_mib: 1048577 is more than 1048576" },
	{ R_BALLOON, NULL, "{'amount_mib':1,'deflate_on_oom':true,'free_page_hinting':1}", 0, E, "free_page_hinting: expected true or false" },
	{ R_BALLOON, NULL, "{'amount_mib':1,'deflate_on_oom':'yes'}", 0, E, "deflate_on_oom: expected true or false" },
	{ R_BALLOON, NULL, "{'amount_mib':1,'deflate_on_oom':true,'free_page_reporting':1}", 0, E, "free_page_reporting: expected true or false" },
	{ R_BALLOON_PATCH, NULL, "{}", 0, E, "amount_mib: missing (required)" },
	{ R_BALLOON_PATCH, NULL, "{'amount_mib':1,'deflate_on_oom':true}", 0, E, "deflate_on_oom: unknown field" },
	{ R_BALLOON_PATCH, NULL, "{'amount_mib':1}", 0, E, "balloon: there is no balloon device" },
	{ R_BALLOON_STATS, NULL, "{}", 0, E, "stats_polling_interval_s: missing (required)" },
	{ R_BALLOON_STATS, NULL, "{'stats_polling_interval_s':'x'}", 0, E, "stats_polling_interval_s: expected an integer" },
	{ R_BALLOON_STATS, NULL, "{'stats_polling_interval_s':1}", 0, E, "balloon: there is no balloon device" },
	{ R_BALLOON_STATS, NULL, "{'stats_polling_interval_s':65536}", 0, E, "stats_polling_interval_s: 65536 is out of range" },
	{ R_BALLOON_STATS, NULL, "{'stats_polling_interval_s':1,'x':1}", 0, E, "x: unknown field" },
	/* entropy, MMDS, CPU templates, snapshots, pmem, memory hotplug */
	{ R_ENTROPY, NULL, "{'rate_limiter':5}", 0, E, "rate_limiter: expected an object" },
	{ R_ENTROPY, NULL, "{'foo':1}", 0, E, "foo: unknown field (expected one of: rate_limiter)" },
	{ R_ENTROPY, NULL, "{'rate_limiter':{'bandwidth':{'size':1099511627777,'one_time_burst':0,'refill_time':100}}}", 0, E, "rate_limiter: bandwidth: size and one_time_burst are at most" },
	{ R_ENTROPY, NULL, "{'rate_limiter':{'ops':{'size':1,'refill_time':4294967297}}}", 0, E, "rate_limiter: ops: refill_time is at most" },
	{ R_ENTROPY, NULL, "{'rate_limiter':{'bandwidth':{'size':'x','refill_time':1}}}", 0, E, "rate_limiter.bandwidth.size: expected an integer" },
	{ R_ENTROPY, NULL, "{'rate_limiter':{'bandwidth':{'size':1}}}", 0, E, "rate_limiter.bandwidth.refill_time: missing (required)" },
	{ R_ENTROPY, NULL, "{'rate_limiter':{'burst':{}}}", 0, E, "rate_limiter.burst: unknown field" },
	{ R_ENTROPY, NULL, "[]", 0, E, "expected a JSON object, got an array" },
	{ R_MMDS_CONFIG, NULL, "{}", 0, E, "network_interfaces: missing (required)" },
	{ R_MMDS_CONFIG, NULL, "{'network_interfaces':'eth0'}", 0, E, "network_interfaces: expected an array, got a string" },
	{ R_MMDS_CONFIG, NULL, "{'network_interfaces':[1]}", 0, E, "network_interfaces[0]: expected a string, got an integer" },
	{ R_MMDS_CONFIG, NULL, "{'network_interfaces':['eth0'],'version':'V3'}", 0, E, "version: 'V3' is not one of V1, V2" },
	{ R_MMDS_CONFIG, NULL, "{'network_interfaces':['eth0'],'ipv4_address':5}", 0, E, "ipv4_address: expected a string" },
	{ R_MMDS_CONFIG, NULL, "{'network_interfaces':['eth0'],'port':80}", 0, E, "port: unknown field" },
	{ R_MMDS_CONFIG, NULL, "{'network_interfaces':['eth9'],'version':'V2'}", 0, E, "MMMDS config error: The list of network interface IDs provided contains at least one ID that does not correspond to any existing network interface." },
	{ R_MMDS_CONFIG, NULL, "{'network_interfaces':['eth0','eth9']}", 0, E, "does not correspond to any existing network interface" },
	{ R_MMDS_CONFIG, NULL, "{'network_interfaces':[]}", 0, E, "MMMDS config error: The list of network interface IDs that allow forwarding MMDS requests is empty." },
	{ R_MMDS_CONFIG, NULL, "{'network_interfaces':['eth0'],'ipv4_address':'169.254.0.1'}", 0, E, "MMMDS config error: The MMDS IPv4 address is not link local." },
	{ R_MMDS_CONFIG, NULL, "{'network_interfaces':['eth0'],'ipv4_address':'169.254.255.9'}", 0, E, "not link local" },
	{ R_MMDS_CONFIG, NULL, "{'network_interfaces':['eth0'],'ipv4_address':'10.0.0.1'}", 0, E, "not link local" },
	{ R_MMDS_CONFIG, NULL, "{'network_interfaces':[],'ipv4_address':'192.168.0.1'}", 0, E, "not link local" },
	{ R_MMDS_CONFIG, NULL, "{'network_interfaces':['eth0'],'ipv4_address':'169.254.1'}", 0, E, "ipv4_address: '169.254.1' is not an IPv4 address" },
	{ R_MMDS_CONFIG, NULL, "{'network_interfaces':['eth0'],'ipv4_address':'169.254.01.1'}", 0, E, "is not an IPv4 address" },
	{ R_MMDS_CONFIG, NULL, "{'network_interfaces':['eth0'],'ipv4_address':'169.254.256.1'}", 0, E, "is not an IPv4 address" },
	{ R_MMDS_CONFIG, NULL, "{'network_interfaces':['eth0'],'ipv4_address':'169.254.1.1.'}", 0, E, "is not an IPv4 address" },
	{ R_MMDS_CONFIG, NULL, "{'network_interfaces':['eth0'],'ipv4_address':' 169.254.1.1'}", 0, E, "is not an IPv4 address" },
	{ R_MMDS_CONFIG, NULL, "{'network_interfaces':['eth0'],'ipv4_address':''}", 0, E, "is not an IPv4 address" },
	{ R_MMDS_CONFIG, NULL, "{'network_interfaces':['eth0'],'imds_compat':1}", 0, E, "imds_compat: expected true or false" },
	{ R_CPU_CONFIG, NULL, "{'foo':[]}", 0, E, "foo: unknown field" },
	{ R_CPU_CONFIG, NULL, "{'cpuid_modifiers':5}", 0, E, "cpuid_modifiers: expected an array" },
	{ R_CPU_CONFIG, NULL, "{'kvm_capabilities':[1]}", 0, E, "kvm_capabilities[0]: expected a string" },
	{ R_CPU_CONFIG, NULL, "{'kvm_capabilities':['!121']}", 0, NS, "CPU templates: not supported yet" },
	{ R_SNAP_CREATE, NULL, "{'mem_file_path':'/m'}", 0, E, "snapshot_path: missing (required)" },
	{ R_SNAP_CREATE, NULL, "{'snapshot_path':'/s','mem_file_path':'/m','snapshot_type':'Incremental'}", 0, E, "snapshot_type: 'Incremental' is not one of Full, Diff" },
	{ R_SNAP_CREATE, NULL, "{'snapshot_path':'','mem_file_path':'/m'}", 0, E, "snapshot_path: must not be empty" },
	{ R_SNAP_LOAD, NULL, "{'snapshot_path':'/s'}", 0, E, "mem_backend: give either mem_backend or mem_file_path (one is required)" },
	{ R_SNAP_LOAD, NULL, "{'snapshot_path':'/s','mem_file_path':'/m','mem_backend':{'backend_path':'/m','backend_type':'File'}}", 0, E, "not both" },
	{ R_SNAP_LOAD, NULL, "{'snapshot_path':'/s','mem_backend':{'backend_path':'/m','backend_type':'Disk'}}", 0, E, "mem_backend.backend_type: 'Disk' is not one of File, Uffd" },
	{ R_SNAP_LOAD, NULL, "{'snapshot_path':'/s','mem_file_path':'/m','network_overrides':[5]}", 0, E, "network_overrides[0]: expected an object, got an integer" },
	{ R_SNAP_LOAD, NULL, "{'snapshot_path':'/s','mem_backend':{'backend_path':'/m','backend_type':'File'},'network_overrides':[{'iface_id':'a'}]}", 0, E, "network_overrides[0].host_dev_name: missing (required)" },
	{ R_PMEM, "pm0", "{'id':'pm1','path_on_host':'/p'}", 0, E, "id: 'pm1' does not match the id in the path ('pm0')" },
	{ R_PMEM, "pm0", "{'id':'pm0'}", 0, E, "path_on_host: missing (required)" },
	{ R_PMEM, "pm0", "{'id':'pm0','path_on_host':'/p'}", 0, NS, "pmem devices: not supported yet" },
	{ R_HOTPLUG, NULL, "{}", 0, E, "total_size_mib: missing (required)" },
	{ R_HOTPLUG, NULL, "{'total_size_mib':-1}", 0, E, "total_size_mib: -1 is negative" },
	{ R_HOTPLUG, NULL, "{'total_size_mib':1024}", 0, NS, "memory hotplug: not supported yet" },
	/* --config-file */
	{ R_FILE, NULL, "{}", 0, E, "boot-source: missing (required)" },
	{ R_FILE, NULL, "{'boot-source':{'kernel_image_path':'/k'}}", 0, E, "drives: missing (required)" },
	{ R_FILE, NULL, "{'boot-source':{'kernel_image_path':'/k'},'drives':null}", 0, E, "drives: expected an array, got null" },
	{ R_FILE, NULL, "{'boot-source':null,'drives':[]}", 0, E, "boot-source: expected an object, got null" },
	{ R_FILE, NULL, "{'boot-source':5,'drives':[]}", 0, E, "boot-source: expected an object, got an integer" },
	{ R_FILE, NULL, "{'boot-source':{'kernel_image_path':'/k'},'drives':{}}", 0, E, "drives: expected an array, got an object" },
	{ R_FILE, NULL, "{'boot-source':{},'drives':[]}", 0, E, "boot-source.kernel_image_path: missing (required)" },
	{ R_FILE, NULL, "{'boot-source':{'kernel_image_path':'/k'},'drives':[5]}", 0, E, "drives[0]: expected an object, got an integer" },
	{ R_FILE, NULL, "{'boot-source':{'kernel_image_path':'/k'},'drives':[{'drive_id':'a','is_root_device':false,'path_on_host':'/a'},{'drive_id':'b','is_root_device':false,'path_on_host':5}]}", 0, E, "drives[1].path_on_host: expected a string, got an integer" },
	{ R_FILE, NULL, "{'boot-source':{'kernel_image_path':'/k'},'drives':[{'drive_id':'a','is_root_device':false,'path_on_host':'/a'},{'drive_id':'b','is_root_device':false,'path_on_host':'/b'},{'drive_id':'c','is_root_device':true,'path_on_host':'/c'}]}", 0, E, "drives[2].is_root_device: drive 'rootfs' is already the root device" },
	{ R_FILE, NULL, "{'boot-source':{'kernel_image_path':'/k'},'drives':[{'drive_id':'a-1','is_root_device':false,'path_on_host':'/a'}]}", 0, E, "drives[0].drive_id: 'a-1': an id may hold only" },
	{ R_FILE, NULL, "{'boot-source':{'kernel_image_path':'/k'},'drives':[{'drive_id':'a','is_root_device':false,'path_on_host':'/a','foo':1}]}", 0, E, "drives[0].foo: unknown field" },
	{ R_FILE, NULL, "{'boot-source':{'kernel_image_path':'/k'},'drives':[{'drive_id':'a','is_root_device':false,'path_on_host':'/a','rate_limiter':{'bandwidth':{'size':5,'refill_time':4294967297}}}]}", 0, E, "drives[0].rate_limiter: bandwidth: refill_time is at most" },
	{ R_FILE, NULL, "{'boot-source':{'kernel_image_path':'/k'},'drives':[],'network-interfaces':[{'iface_id':'a','host_dev_name':'t','rx_rate_limiter':{'ops':{'size':5,'refill_time':4294967297}}}]}", 0, E, "network-interfaces[0].rx_rate_limiter: ops: refill_time is at most" },
	{ R_FILE, NULL, "{" FB ",'machine-config':{'vcpu_count':0,'mem_size_mib':128}}", 0, E, "machine-config.vcpu_count: 0 is out of range" },
	{ R_FILE, NULL, "{" FB ",'machine-config':{'vcpu_count':1}}", 0, E, "machine-config.mem_size_mib: missing (required)" },
	{ R_FILE, NULL, "{" FB ",'machine-config':{'vcpu_count':1,'mem_size_mib':128,'smt':true}}", 0, NS, "machine-config.smt: simultaneous multithreading is not supported yet" },
	{ R_FILE, NULL, "{" FB ",'machine-config':[]}", 0, E, "machine-config: expected an object, got an array" },
	{ R_FILE, NULL, "{" FB ",'network-interfaces':[{'iface_id':'eth5','host_dev_name':'tap5'},{'iface_id':'eth6','host_dev_name':'tap5'}]}", 0, E, "network-interfaces[1].host_dev_name: 'tap5' is taken by network interface eth5" },
	{ R_FILE, NULL, "{" FB ",'network-interfaces':[{'iface_id':'eth5','host_dev_name':'tap5','guest_mac':'xx'}]}", 0, E, "network-interfaces[0].guest_mac: 'xx': expected a unicast" },
	{ R_FILE, NULL, "{" FB ",'network-interfaces':null}", 0, E, "network-interfaces: expected an array, got null" },
	{ R_FILE, NULL, "{" FB ",'logger':{'level':'x'}}", 0, E, "logger.level: 'x' is not one of" },
	{ R_FILE, NULL, "{" FB ",'metrics':{}}", 0, E, "metrics.metrics_path: missing (required)" },
	{ R_FILE, NULL, "{" FB ",'vsock':{'guest_cid':3,'uds_path':''}}", 0, E, "vsock.uds_path: must not be empty" },
	{ R_FILE, NULL, "{" FB ",'vsock':[]}", 0, E, "vsock: expected an object, got an array" },
	{ R_FILE, NULL, "{" FB ",'vsock':{'guest_cid':1,'uds_path':'/v'}}", 0, E, "vsock.guest_cid: 1 is out of range" },
	{ R_FILE, NULL, "{" FB ",'balloon':{'amount_mib':1,'deflate_on_oom':false,'free_page_hinting':'on'}}", 0, E, "balloon.free_page_hinting: expected true or false" },
	{ R_FILE, NULL, "{" FB ",'balloon':{'amount_mib':1}}", 0, E, "balloon.deflate_on_oom: missing (required)" },
	{ R_FILE, NULL, "{" FB ",'entropy':{'rate_limiter':{'bandwidth':{'size':1099511627777,'refill_time':10}}}}", 0, E, "entropy.rate_limiter: bandwidth: size and one_time_burst are at most" },
	{ R_FILE, NULL, "{" FB ",'entropy':{'foo':1}}", 0, E, "entropy.foo: unknown field (expected one of: rate_limiter)" },
	{ R_FILE, NULL, "{" FB ",'entropy':[]}", 0, E, "entropy: expected an object, got an array" },
	{ R_FILE, NULL, "{" FB ",'mmds-config':{'network_interfaces':['eth9']}}", 0, E, "mmds-config: MMMDS config error: The list of network interface IDs provided contains" },
	{ R_FILE, NULL, "{" FB ",'network-interfaces':[{'iface_id':'eth5','host_dev_name':'tap5'}],'mmds-config':{'network_interfaces':['eth5'],'ipv4_address':'1.2.3.4'}}", 0, E, "mmds-config: MMMDS config error: The MMDS IPv4 address is not link local." },
	{ R_FILE, NULL, "{" FB ",'mmds-config':{}}", 0, E, "mmds-config.network_interfaces: missing (required)" },
	{ R_FILE, NULL, "{" FB ",'cpu-config':'/etc/template.json'}", 0, NS, "cpu-config: not supported yet" },
	{ R_FILE, NULL, "{" FB ",'cpu-config':{'x':1}}", 0, E, "cpu-config.x: unknown field" },
	{ R_FILE, NULL, "{" FB ",'pmem':[{'id':'p','path_on_host':'/p'}]}", 0, NS, "pmem[0]: not supported yet" },
	{ R_FILE, NULL, "{" FB ",'pmem':null}", 0, E, "pmem: expected an array, got null" },
	{ R_FILE, NULL, "{" FB ",'memory-hotplug':{'total_size_mib':1024}}", 0, NS, "memory-hotplug: not supported yet" },
	{ R_FILE, NULL, "{" FB ",'drives':[]}", 0, E, "duplicate" },
	{ R_FILE, NULL, "[]", 0, E, "expected a JSON object, got an array" },
};

/* Each bad input: refused with its code, a one-line message holding the
 * needle, and the config exactly as it was. */
static void test_bad_inputs(void **state)
{
	struct vm_config cfg, before;
	unsigned n = 0;

	(void)state;
	baseline(&cfg);
	for (size_t i = 0; i < ARRAY_SIZE(bad_inputs); i++) {
		const struct bad *b = &bad_inputs[i];
		char *body = json(b->body, b->pad), *id = NULL;
		struct fc_note note;
		struct errbuf e = { "" };
		const char *diff;
		int ret;

		if (b->id)
			id = b->pad && strstr(b->id, "%s") ? json(b->id, b->pad) : strdup(b->id);
		assert_int_equal(config_copy(&before, &cfg), 0);
		ret = call(&cfg, b->r, id, body, &note, &e);
		if (ret != b->ret || !strstr(e.msg, b->needle) || strchr(e.msg, '\n'))
			fail_msg("bad input #%zu %.200s: returned %d, message '%s' (wanted %d and '%s')",
				 i, body, ret, e.msg, b->ret, b->needle);
		if (getenv("FC_SHOW_MESSAGES")) /* to read them all */
			print_message("%s\n", e.msg);
		diff = config_diff(&cfg, &before);
		if (diff)
			fail_msg("bad input #%zu %.200s changed %s", i, body, diff);
		config_free(&before);
		free(body);
		free(id);
		n++;
	}
	print_message("%u bad inputs refused, config unchanged\n", n);
	config_free(&cfg);
}

static void test_boot_source(void **state)
{
	struct vm_config cfg;

	(void)state;
	fc_config_init(&cfg);
	ok(&cfg, R_BOOT, NULL, "{'kernel_image_path':'/vmlinux','boot_args':'console=ttyS0 reboot=k',"
	   "'initrd_path':'/initrd'}");
	assert_string_equal(cfg.kernel, "/vmlinux");
	assert_string_equal(cfg.initrd, "/initrd");
	assert_string_equal(cfg.cmdline, "console=ttyS0 reboot=k");
	/* without boot_args: Firecracker's line; initrd null is none */
	ok(&cfg, R_BOOT, NULL, "{'kernel_image_path':'/k2','initrd_path':null}");
	assert_string_equal(cfg.kernel, "/k2");
	assert_null(cfg.initrd);
	assert_string_equal(cfg.cmdline, FC_DEFAULT_CMDLINE);
	ok(&cfg, R_BOOT, NULL, "{'kernel_image_path':'/k3','boot_args':''}");
	assert_string_equal(cfg.cmdline, "");
	ok(&cfg, R_BOOT, NULL, "{'kernel_image_path':'/k3','boot_args':null}");
	assert_string_equal(cfg.cmdline, FC_DEFAULT_CMDLINE);
	config_free(&cfg);
}

static void test_machine_config(void **state)
{
	struct vm_config cfg;
	struct fc_note note;
	struct errbuf e;
	char *s, *b;

	(void)state;
	fc_config_init(&cfg);
	assert_int_equal(cfg.cpus, 1);
	assert_int_equal(cfg.mem_size, 128ull << 20);
	assert_false(cfg.mem_thp);
	s = fc_get_machine_config(&cfg);
	assert_string_equal(s, "{\"vcpu_count\":1,\"mem_size_mib\":128,\"smt\":false,"
			    "\"track_dirty_pages\":false,\"huge_pages\":\"None\"}");
	free(s);
	ok(&cfg, R_MACHINE, NULL, "{'vcpu_count':2,'mem_size_mib':1024,'smt':false,"
	   "'track_dirty_pages':false,'huge_pages':'Transparent'}");
	assert_int_equal(cfg.cpus, 2);
	assert_int_equal(cfg.mem_size, 1024ull << 20);
	assert_true(cfg.mem_thp);
	s = fc_get_machine_config(&cfg);
	assert_string_equal(s, "{\"vcpu_count\":2,\"mem_size_mib\":1024,\"smt\":false,"
			    "\"track_dirty_pages\":false,\"huge_pages\":\"Transparent\"}");
	free(s);
	/* PUT resets what it does not give; PATCH keeps it */
	ok(&cfg, R_MACHINE, NULL, "{'vcpu_count':32,'mem_size_mib':8}");
	assert_int_equal(cfg.cpus, 32);
	assert_int_equal(cfg.mem_size, 8ull << 20);
	assert_false(cfg.mem_thp);
	ok(&cfg, R_MACHINE_PATCH, NULL, "{'mem_size_mib':2048,'huge_pages':'Transparent'}");
	ok(&cfg, R_MACHINE_PATCH, NULL, "{'vcpu_count':3}");
	assert_int_equal(cfg.cpus, 3);
	assert_int_equal(cfg.mem_size, 2048ull << 20);
	assert_true(cfg.mem_thp);
	ok(&cfg, R_MACHINE_PATCH, NULL, "{'vcpu_count':null,'huge_pages':'None'}");
	assert_false(cfg.mem_thp);
	/* dirty page tracking (Diff snapshots): PATCH keeps it, PUT resets it */
	ok(&cfg, R_MACHINE_PATCH, NULL, "{'track_dirty_pages':true}");
	assert_true(cfg.mem_track_dirty);
	s = fc_get_machine_config(&cfg);
	assert_non_null(strstr(s, "\"track_dirty_pages\":true"));
	free(s);
	ok(&cfg, R_MACHINE_PATCH, NULL, "{'vcpu_count':3}");
	assert_true(cfg.mem_track_dirty);
	ok(&cfg, R_MACHINE, NULL, "{'vcpu_count':3,'mem_size_mib':2048}");
	assert_false(cfg.mem_track_dirty);
	/* cpu_template "None" is accepted, with a deprecation */
	b = json("{'vcpu_count':1,'mem_size_mib':128,'cpu_template':'None'}", 0);
	assert_int_equal(fc_put_machine_config(&cfg, b, strlen(b), &note, &e), 0);
	assert_non_null(strstr(note.deprecation, "PUT /machine-config: cpu_template"));
	free(b);
	b = json("{'vcpu_count':1,'mem_size_mib':128,'cpu_template':null}", 0);
	assert_int_equal(fc_put_machine_config(&cfg, b, strlen(b), &note, &e), 0);
	assert_string_equal(note.deprecation, "");
	free(b);
	b = json("{'cpu_template':'None'}", 0);
	assert_int_equal(fc_patch_machine_config(&cfg, b, strlen(b), &note, &e), 0);
	assert_non_null(strstr(note.deprecation, "PATCH /machine-config"));
	free(b);
	config_free(&cfg);
}

static void test_drives(void **state)
{
	struct vm_config cfg;
	char *line;

	(void)state;
	fc_config_init(&cfg);
	ok(&cfg, R_DRIVE, "data1", "{'drive_id':'data1','path_on_host':'/d1','is_root_device':false,"
	   "'cache_type':'Writeback','io_engine':'Async','is_read_only':false,'rate_limiter':{}}");
	ok(&cfg, R_DRIVE, "rootfs", "{'drive_id':'rootfs','path_on_host':'/r','is_root_device':true,"
	   "'is_read_only':true,'partuuid':null,'socket':null,'io_engine':null}");
	ok(&cfg, R_DRIVE, "data2", "{'drive_id':'data2','path_on_host':'/d2','is_root_device':false,"
	   "'rate_limiter':{'bandwidth':{'size':0,'refill_time':100},'ops':null}}");
	/* the root first, the rest in order */
	assert_int_equal(cfg.nr_disks, 3);
	assert_string_equal(cfg.disks[0].api_id, "rootfs");
	assert_string_equal(cfg.disks[1].api_id, "data1");
	assert_string_equal(cfg.disks[2].api_id, "data2");
	assert_true(cfg.disks[0].root);
	assert_true(cfg.disks[0].readonly);
	assert_false(cfg.disks[0].flush);        /* Unsafe, the default */
	assert_int_equal(cfg.disks[0].engine, CONFIG_ENGINE_SYNC);
	assert_true(cfg.disks[1].flush);
	assert_int_equal(cfg.disks[1].engine, CONFIG_ENGINE_URING);
	assert_int_equal(cfg.disks[1].cache, CONFIG_CACHE_WRITEBACK);
	assert_null(cfg.disks[1].id);            /* the serial: the VMM derives it */
	assert_string_equal(cfg.disks[1].where, "drive data1");
	assert_string_equal(cfg.disks[2].path, "/d2");
	ok(&cfg, R_BOOT, NULL, "{'kernel_image_path':'/k','boot_args':'console=ttyS0'}");
	assert_int_equal(fc_boot_cmdline(&cfg, &line), 0);
	assert_string_equal(line, "console=ttyS0 root=/dev/vda ro");
	free(line);
	/* replacing keeps the place; the root may be replaced by a root */
	ok(&cfg, R_DRIVE, "data1", "{'drive_id':'data1','path_on_host':'/d1b','is_root_device':false}");
	assert_string_equal(cfg.disks[1].path, "/d1b");
	assert_false(cfg.disks[1].flush);
	ok(&cfg, R_DRIVE, "rootfs", "{'drive_id':'rootfs','path_on_host':'/r2','is_root_device':true,"
	   "'partuuid':'0eaa91a0-01'}");
	assert_int_equal(fc_boot_cmdline(&cfg, &line), 0);
	assert_string_equal(line, "console=ttyS0 root=PARTUUID=0eaa91a0-01 rw");
	free(line);
	/* the root replaced by a plain drive stays first; a later root is
	 * swapped to the front, as Firecracker does */
	ok(&cfg, R_DRIVE, "rootfs", "{'drive_id':'rootfs','path_on_host':'/r3','is_root_device':false}");
	assert_int_equal(fc_boot_cmdline(&cfg, &line), 0);
	assert_string_equal(line, "console=ttyS0");
	free(line);
	ok(&cfg, R_DRIVE, "data2", "{'drive_id':'data2','path_on_host':'/d2','is_root_device':true}");
	assert_string_equal(cfg.disks[0].api_id, "data2");
	assert_string_equal(cfg.disks[1].api_id, "data1");
	assert_string_equal(cfg.disks[2].api_id, "rootfs");
	/* PATCH: a new backing file */
	ok(&cfg, R_DRIVE_PATCH, "data1", "{'drive_id':'data1','path_on_host':'/new'}");
	assert_string_equal(cfg.disks[1].path, "/new");
	ok(&cfg, R_DRIVE_PATCH, "data1", "{'drive_id':'data1','rate_limiter':{},'path_on_host':null}");
	assert_string_equal(cfg.disks[1].path, "/new");
	config_free(&cfg);
	/* no boot_args, a root drive: the root goes after the default line */
	fc_config_init(&cfg);
	assert_int_equal(fc_boot_cmdline(&cfg, &line), 0);
	assert_string_equal(line, "");
	free(line);
	ok(&cfg, R_DRIVE, "r", "{'drive_id':'r','path_on_host':'/r','is_root_device':true}");
	assert_int_equal(fc_boot_cmdline(&cfg, &line), 0);
	assert_string_equal(line, "root=/dev/vda rw");
	free(line);
	config_free(&cfg);
}

static void test_drive_limit(void **state)
{
	struct vm_config cfg, before;
	struct errbuf e;
	char body[160], id[16];

	(void)state;
	fc_config_init(&cfg);
	for (int i = 0; i < CONFIG_MAX_DISKS; i++) {
		snprintf(id, sizeof(id), "d%d", i);
		snprintf(body, sizeof(body), "{\"drive_id\":\"d%d\",\"path_on_host\":\"/p\","
			 "\"is_root_device\":false}", i);
		assert_int_equal(fc_put_drive(&cfg, id, body, strlen(body), NULL, &e), 0);
	}
	/* a replacement still fits, a new one does not */
	assert_int_equal(fc_put_drive(&cfg, id, body, strlen(body), NULL, &e), 0);
	assert_int_equal(config_copy(&before, &cfg), 0);
	snprintf(body, sizeof(body), "{\"drive_id\":\"dx\",\"path_on_host\":\"/p\","
		 "\"is_root_device\":true}");
	assert_int_equal(fc_put_drive(&cfg, "dx", body, strlen(body), NULL, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "drive_id: at most 16 drives"));
	assert_null(config_diff(&cfg, &before));
	config_free(&before);
	config_free(&cfg);
}

/* Rate limiters on drives and the entropy device: taken as given, a
 * bucket that is off is no bucket, PATCH replaces only the buckets it
 * names, and GET /vm/config gives them back. */
static void test_rate_limiters(void **state)
{
	struct vm_config cfg, back;
	struct fc_note note;
	struct errbuf e;
	char *dump;

	(void)state;
	fc_config_init(&cfg);
	ok(&cfg, R_DRIVE, "d1", "{'drive_id':'d1','path_on_host':'/d1','is_root_device':false,"
	   "'rate_limiter':{'bandwidth':{'size':1048576,'one_time_burst':4096,'refill_time':1000},"
	   "'ops':{'size':0,'refill_time':100}}}");
	assert_int_equal(cfg.disks[0].limit.bandwidth.size, 1048576);
	assert_int_equal(cfg.disks[0].limit.bandwidth.one_time_burst, 4096);
	assert_int_equal(cfg.disks[0].limit.bandwidth.refill_ms, 1000);
	assert_int_equal(cfg.disks[0].limit.ops.size, 0);
	assert_int_equal(cfg.disks[0].limit.ops.refill_ms, 0);
	ok(&cfg, R_DRIVE_PATCH, "d1", "{'drive_id':'d1','rate_limiter':{'ops':{'size':100,"
	   "'refill_time':1000}}}");
	assert_int_equal(cfg.disks[0].limit.bandwidth.size, 1048576);   /* kept */
	assert_int_equal(cfg.disks[0].limit.ops.size, 100);
	assert_false(cfg.disks[0].patch_path);
	ok(&cfg, R_DRIVE_PATCH, "d1", "{'drive_id':'d1','path_on_host':'/d1b'}");
	assert_true(cfg.disks[0].patch_path);
	assert_int_equal(cfg.disks[0].limit.ops.size, 100);
	ok(&cfg, R_ENTROPY, NULL, "{'rate_limiter':{'ops':{'size':10,'refill_time':1000}}}");
	assert_int_equal(cfg.rng.limit.ops.size, 10);
	ok(&cfg, R_NET, "eth0", "{'iface_id':'eth0','host_dev_name':'tap0','rx_rate_limiter':"
	   "{'bandwidth':{'size':1000,'refill_time':10}},'tx_rate_limiter':{}}");
	assert_int_equal(cfg.nets[0].rx_limit.bandwidth.size, 1000);
	assert_false(rate_limiter_config_on(&cfg.nets[0].tx_limit));
	ok(&cfg, R_NET_PATCH, "eth0", "{'iface_id':'eth0','tx_rate_limiter':{'ops':{'size':5,"
	   "'one_time_burst':7,'refill_time':10}}}");
	assert_int_equal(cfg.nets[0].rx_limit.bandwidth.size, 1000);      /* kept */
	assert_int_equal(cfg.nets[0].tx_limit.ops.one_time_burst, 7);
	ok(&cfg, R_VSOCK, NULL, "{'guest_cid':3,'uds_path':'/tmp/v.sock','tx_rate_limiter':"
	   "{'bandwidth':{'size':65536,'refill_time':100}}}");
	assert_int_equal(cfg.vsock.tx_limit.bandwidth.size, 65536);
	assert_false(rate_limiter_config_on(&cfg.vsock.rx_limit));
	ok(&cfg, R_BOOT, NULL, "{'kernel_image_path':'/k'}");
	dump = fc_get_vm_config(&cfg);
	/* vsock: only the limiter that limits, so a Firecracker client reads
	 * back exactly what it sent */
	assert_non_null(strstr(dump, "\"uds_path\":\"/tmp/v.sock\",\"tx_rate_limiter\""));
	assert_null(strstr(dump, "\"rx_rate_limiter\":null"));
	assert_non_null(strstr(dump, "\"rate_limiter\":{\"bandwidth\":{\"size\":1048576,"
			       "\"one_time_burst\":4096,\"refill_time\":1000},\"ops\":{\"size\":100,"
			       "\"one_time_burst\":0,\"refill_time\":1000}}"));
	assert_non_null(strstr(dump, "\"entropy\":{\"rate_limiter\":{\"ops\":{\"size\":10,"));
	assert_non_null(strstr(dump, "\"tx_rate_limiter\":{\"ops\":{\"size\":5,"));
	fc_config_init(&back);
	assert_int_equal(fc_config_file(&back, dump, strlen(dump), &note, &e), 0);
	/* patch_path is the last PATCH's, not part of the configuration */
	back.disks[0].patch_path = cfg.disks[0].patch_path;
	assert_null(config_diff(&cfg, &back));
	free(dump);
	config_free(&back);
	config_free(&cfg);
}

static void test_nets(void **state)
{
	struct vm_config cfg, before;
	struct errbuf e;
	char body[160], id[16];

	(void)state;
	fc_config_init(&cfg);
	ok(&cfg, R_NET, "eth0", "{'iface_id':'eth0','host_dev_name':'tap0','guest_mac':'06:00:AC:10:00:02',"
	   "'rx_rate_limiter':{},'tx_rate_limiter':{}}");
	ok(&cfg, R_NET, "eth1", "{'iface_id':'eth1','host_dev_name':'tap1','mtu':9000,"
	   "'rx_rate_limiter':null,'guest_mac':null}");
	assert_int_equal(cfg.nr_nets, 2);
	assert_string_equal(cfg.nets[0].tap, "tap0");
	assert_true(cfg.nets[0].mac_set);
	assert_memory_equal(cfg.nets[0].mac, "\x06\x00\xac\x10\x00\x02", 6);
	assert_int_equal(cfg.nets[0].queues, 1);
	assert_false(cfg.nets[1].mac_set);
	assert_int_equal(cfg.nets[1].mtu, 9000);
	assert_string_equal(cfg.nets[1].where, "network interface eth1");
	/* a replaced NIC may keep its TAP and MAC; it goes last */
	ok(&cfg, R_NET, "eth0", "{'iface_id':'eth0','host_dev_name':'tap0','guest_mac':'06:00:ac:10:00:02'}");
	assert_string_equal(cfg.nets[0].api_id, "eth1");
	assert_string_equal(cfg.nets[1].api_id, "eth0");
	ok(&cfg, R_NET_PATCH, "eth0", "{'iface_id':'eth0','rx_rate_limiter':{},'tx_rate_limiter':"
	   "{'bandwidth':{'size':100,'refill_time':0}}}");
	for (int i = 2; i < CONFIG_MAX_NETS; i++) {
		snprintf(id, sizeof(id), "eth%d", i);
		snprintf(body, sizeof(body), "{\"iface_id\":\"eth%d\",\"host_dev_name\":\"tap%d\"}", i, i);
		assert_int_equal(fc_put_net(&cfg, id, body, strlen(body), NULL, &e), 0);
	}
	assert_int_equal(config_copy(&before, &cfg), 0);
	snprintf(body, sizeof(body), "{\"iface_id\":\"ethx\",\"host_dev_name\":\"tapx\"}");
	assert_int_equal(fc_put_net(&cfg, "ethx", body, strlen(body), NULL, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "iface_id: at most 8 network interfaces"));
	assert_null(config_diff(&cfg, &before));
	config_free(&before);
	config_free(&cfg);
	/* the longest id, whole in messages */
	fc_config_init(&cfg);
	{
		char long_id[CONFIG_API_ID_MAX + 1], where[CONFIG_WHERE_MAX];

		memset(long_id, 'n', CONFIG_API_ID_MAX);
		long_id[CONFIG_API_ID_MAX] = '\0';
		snprintf(body, sizeof(body), "{\"iface_id\":\"%s\",\"host_dev_name\":\"t\"}",
			 long_id);
		assert_int_equal(fc_put_net(&cfg, long_id, body, strlen(body), NULL, &e), 0);
		snprintf(where, sizeof(where), "network interface %s", long_id);
		assert_string_equal(cfg.nets[0].where, where);
	}
	config_free(&cfg);
}

static void test_logger_metrics_serial(void **state)
{
	struct vm_config cfg;
	struct errbuf e;
	const char *again = "{\"metrics_path\":\"/m2\"}";
	const char *again_log = "{\"show_level\":false}";

	(void)state;
	fc_config_init(&cfg);
	assert_int_equal(cfg.logger.level, CONFIG_LOG_INFO);
	ok(&cfg, R_LOGGER, NULL, "{'log_path':'/log','level':'warning','show_level':true,"
	   "'show_log_origin':true,'module':'api_server'}");
	assert_string_equal(cfg.logger.path, "/log");
	assert_int_equal(cfg.logger.level, CONFIG_LOG_WARN);
	assert_true(cfg.logger.show_level);
	assert_true(cfg.logger.show_origin);
	assert_string_equal(cfg.logger.module, "api_server");
	assert_true(cfg.logger.set);
	/* as Firecracker's docs say: configured once, then never changed */
	assert_int_equal(fc_put_logger(&cfg, again_log, strlen(again_log), NULL, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "the logger is already configured"));
	assert_true(cfg.logger.show_level);
	assert_string_equal(cfg.logger.path, "/log");
	config_free(&cfg);
	/* what a body leaves out keeps its default; the level's is Info */
	fc_config_init(&cfg);
	assert_false(cfg.logger.set);
	ok(&cfg, R_LOGGER, NULL, "{'show_level':true}");
	assert_null(cfg.logger.path);
	assert_int_equal(cfg.logger.level, CONFIG_LOG_INFO);
	assert_true(cfg.logger.show_level);
	assert_false(cfg.logger.show_origin);
	config_free(&cfg);
	fc_config_init(&cfg);
	ok(&cfg, R_LOGGER, NULL, "{'level':'TRACE'}");
	assert_int_equal(cfg.logger.level, CONFIG_LOG_TRACE);
	config_free(&cfg);
	fc_config_init(&cfg);
	ok(&cfg, R_LOGGER, NULL, "{'level':'Off','log_path':null}");
	assert_int_equal(cfg.logger.level, CONFIG_LOG_OFF);
	/* metrics: unknown fields ignored (Firecracker does), then only once */
	ok(&cfg, R_METRICS, NULL, "{'metrics_path':'/m','emit_id':true,'properties':{},'future':1}");
	assert_string_equal(cfg.metrics.path, "/m");
	assert_true(cfg.metrics.emit_id);
	assert_int_equal(fc_put_metrics(&cfg, again, strlen(again), NULL, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "metrics_path: metrics are already configured (/m)"));
	assert_string_equal(cfg.metrics.path, "/m");
	/* serial */
	ok(&cfg, R_SERIAL, NULL, "{'serial_out_path':'/serial.log'}");
	assert_int_equal(cfg.serial, SERIAL_FILE);
	assert_string_equal(cfg.serial_path, "/serial.log");
	ok(&cfg, R_SERIAL, NULL, "{'rate_limiter':{'size':0,'refill_time':5}}");
	assert_int_equal(cfg.serial, SERIAL_STDIO);
	assert_null(cfg.serial_path);
	config_free(&cfg);
}

/* PUT /vsock and the file's vsock: the device's config, with the
 * deprecation note for vsock_id; a second PUT replaces the first. */
static void test_vsock(void **state)
{
	struct vm_config cfg;
	struct fc_note note;
	struct errbuf e;
	char *b, *dump;

	(void)state;
	fc_config_init(&cfg);
	b = json("{'vsock_id':'root','guest_cid':3,'uds_path':'/v.sock'}", 0);
	assert_int_equal(fc_put_vsock(&cfg, b, strlen(b), &note, &e), 0);
	assert_non_null(strstr(note.deprecation, "vsock_id"));
	assert_true(cfg.vsock.set);
	assert_int_equal(cfg.vsock.cid, 3);
	assert_string_equal(cfg.vsock.uds_path, "/v.sock");
	assert_string_equal(cfg.vsock.api_id, "root");
	free(b);
	b = json("{'guest_cid':4294967295,'uds_path':'/w.sock'}", 0);
	assert_int_equal(fc_put_vsock(&cfg, b, strlen(b), &note, &e), 0);
	assert_string_equal(note.deprecation, "");
	assert_int_equal(cfg.vsock.cid, 4294967295u);
	assert_string_equal(cfg.vsock.uds_path, "/w.sock");
	assert_null(cfg.vsock.api_id);
	free(b);
	/* GET /vm/config gives it back */
	dump = fc_get_vm_config(&cfg);
	assert_non_null(strstr(dump, "\"vsock\":{\"guest_cid\":4294967295,\"uds_path\":\"/w.sock\"}"));
	free(dump);
	config_free(&cfg);
}

/* PUT /entropy and the file's entropy: the device is on with no
 * limiter, an empty one, or buckets that are off; GET /vm/config gives it
 * back as Firecracker does ({"rate_limiter": null}) and the file reads
 * that back. */
static void test_entropy(void **state)
{
	static const char *const bodies[] = {
		"{}", "{'rate_limiter':null}", "{'rate_limiter':{}}",
		"{'rate_limiter':{'bandwidth':{'size':0,'refill_time':100}}}",
		"{'rate_limiter':{'ops':null,'bandwidth':{'size':5,'refill_time':0}}}",
	};
	struct vm_config cfg, back;
	struct fc_note note;
	struct errbuf e;
	char *dump;

	(void)state;
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		fc_config_init(&cfg);
		ok(&cfg, R_ENTROPY, NULL, bodies[i]);
		assert_true(cfg.rng.set);
		assert_string_equal(cfg.rng.where, "entropy");
		/* a second PUT: still one device */
		ok(&cfg, R_ENTROPY, NULL, bodies[i]);
		assert_true(cfg.rng.set);
		config_free(&cfg);
	}
	fc_config_init(&cfg);
	dump = fc_get_vm_config(&cfg);
	assert_non_null(strstr(dump, "\"entropy\":null"));
	free(dump);
	ok(&cfg, R_FILE, NULL, "{" FB ",'entropy':{'rate_limiter':{}}}");
	assert_true(cfg.rng.set);
	dump = fc_get_vm_config(&cfg);
	assert_non_null(strstr(dump, "\"entropy\":{\"rate_limiter\":null}"));
	fc_config_init(&back);
	assert_int_equal(fc_config_file(&back, dump, strlen(dump), &note, &e), 0);
	assert_true(back.rng.set);
	assert_null(config_diff(&cfg, &back));
	free(dump);
	config_free(&back);
	config_free(&cfg);
}

/* PUT /balloon and the file's key: every field kept, a second PUT replaces
 * the first, PATCH moves only the target; GET /vm/config reads back. */
static void test_balloon(void **state)
{
	struct vm_config cfg, back;
	struct fc_note note;
	struct errbuf e;
	char *dump;

	(void)state;
	fc_config_init(&cfg);
	assert_null(fc_get_balloon(&cfg, -1));
	ok(&cfg, R_BALLOON, NULL, "{'amount_mib':64,'deflate_on_oom':true,"
	   "'stats_polling_interval_s':5,'free_page_hinting':false,'free_page_reporting':true}");
	assert_true(cfg.balloon.set);
	assert_int_equal(cfg.balloon.amount_mib, 64);
	assert_true(cfg.balloon.deflate_on_oom);
	assert_true(cfg.balloon.free_page_reporting);
	assert_int_equal(cfg.balloon.stats_polling_interval_s, 5);
	assert_false(cfg.balloon.free_page_hinting);
	ok(&cfg, R_BALLOON_STATS, NULL, "{'stats_polling_interval_s':9}");
	assert_int_equal(cfg.balloon.stats_polling_interval_s, 9);
	ok(&cfg, R_BALLOON, NULL, "{'amount_mib':3,'deflate_on_oom':false,'free_page_hinting':true,"
	   "'stats_polling_interval_s':2}");
	assert_true(cfg.balloon.free_page_hinting);
	dump = fc_get_balloon(&cfg, -1);
	assert_string_equal(dump, "{\"amount_mib\":3,\"deflate_on_oom\":false,"
			    "\"stats_polling_interval_s\":2,\"free_page_hinting\":true,"
			    "\"free_page_reporting\":false}");
	free(dump);
	ok(&cfg, R_BALLOON, NULL, "{'amount_mib':0,'deflate_on_oom':false}");
	assert_false(cfg.balloon.free_page_hinting);
	assert_int_equal(cfg.balloon.amount_mib, 0);
	assert_false(cfg.balloon.deflate_on_oom);
	assert_false(cfg.balloon.free_page_reporting);
	assert_int_equal(cfg.balloon.stats_polling_interval_s, 0);
	ok(&cfg, R_BALLOON_PATCH, NULL, "{'amount_mib':1048576}");
	assert_int_equal(cfg.balloon.amount_mib, 1048576);
	dump = fc_get_balloon(&cfg, 512);
	assert_string_equal(dump, "{\"amount_mib\":1048576,\"deflate_on_oom\":false,"
			    "\"stats_polling_interval_s\":0,\"free_page_hinting\":false,"
			    "\"free_page_reporting\":false,\"actual_pages\":512,\"actual_mib\":2}");
	free(dump);
	config_free(&cfg);

	fc_config_init(&cfg);
	ok(&cfg, R_FILE, NULL, "{" FB ",'balloon':{'amount_mib':16,'deflate_on_oom':true,"
	   "'free_page_reporting':true,'free_page_hinting':true,'stats_polling_interval_s':3}}");
	assert_true(cfg.balloon.set);
	assert_true(cfg.balloon.free_page_hinting);
	assert_int_equal(cfg.balloon.stats_polling_interval_s, 3);
	assert_string_equal(cfg.balloon.where, "balloon");
	dump = fc_get_vm_config(&cfg);
	assert_non_null(strstr(dump, "\"balloon\":{\"amount_mib\":16,"));
	assert_non_null(strstr(dump, "\"stats_polling_interval_s\":3,\"free_page_hinting\":true"));
	fc_config_init(&back);
	assert_int_equal(fc_config_file(&back, dump, strlen(dump), &note, &e), 0);
	assert_null(config_diff(&cfg, &back));
	free(dump);
	config_free(&back);
	config_free(&cfg);
}

/* PUT /mmds/config: the NICs named get the MMDS and the others lose it,
 * the address and version, Firecracker's deprecation of V1 (also when no
 * version is given), a replaced NIC that loses it, and GET /vm/config's
 * mmds-config read back by the config file to the same configuration. */
static void test_mmds_config(void **state)
{
	struct vm_config cfg, back;
	struct fc_note note;
	struct errbuf e;
	char *b, *out;

	(void)state;
	fc_config_init(&cfg);
	assert_false(fc_boot_configured(&cfg));
	cfg.mmds.set = true;
	assert_true(fc_boot_configured(&cfg));
	cfg.mmds.set = false;
	ok(&cfg, R_BOOT, NULL, "{'kernel_image_path':'/k'}");
	ok(&cfg, R_NET, "eth0", "{'iface_id':'eth0','host_dev_name':'tap0'}");
	ok(&cfg, R_NET, "eth1", "{'iface_id':'eth1','host_dev_name':'tap1'}");
	out = fc_get_vm_config(&cfg);
	assert_non_null(strstr(out, "\"mmds-config\":null"));
	free(out);
	b = json("{'network_interfaces':['eth1']}", 0);
	assert_int_equal(fc_put_mmds_config(&cfg, b, strlen(b), &note, &e), 0);
	assert_string_equal(note.deprecation, "PUT /mmds/config: V1 is deprecated. Use V2 instead.");
	free(b);
	assert_true(cfg.mmds.set);
	assert_false(cfg.mmds.v2);
	assert_false(cfg.mmds.imds_compat);
	assert_int_equal(cfg.mmds.ipv4, 0xa9fea9fe);
	assert_false(cfg.nets[0].mmds);
	assert_true(cfg.nets[1].mmds);
	b = json("{'network_interfaces':['eth0'],'version':'V2','ipv4_address':'169.254.170.2',"
		 "'imds_compat':true}", 0);
	assert_int_equal(fc_put_mmds_config(&cfg, b, strlen(b), &note, &e), 0);
	assert_string_equal(note.deprecation, "");
	free(b);
	assert_true(cfg.mmds.v2);
	assert_true(cfg.mmds.imds_compat);
	assert_int_equal(cfg.mmds.ipv4, 0xa9feaa02);
	assert_true(cfg.nets[0].mmds);
	assert_false(cfg.nets[1].mmds);
	b = json("{'network_interfaces':['eth0'],'version':'V1'}", 0);
	assert_int_equal(fc_put_mmds_config(&cfg, b, strlen(b), &note, &e), 0);
	assert_non_null(strstr(note.deprecation, "V1 is deprecated"));
	free(b);
	ok(&cfg, R_MMDS_CONFIG, NULL, "{'network_interfaces':['eth0','eth1','eth0'],"
	   "'version':'V2','ipv4_address':'169.254.1.255'}");
	assert_true(cfg.nets[0].mmds && cfg.nets[1].mmds);

	out = fc_get_vm_config(&cfg);
	assert_non_null(strstr(out, "\"mmds-config\":{\"version\":\"V2\",\"network_interfaces\":"
			       "[\"eth0\",\"eth1\"],\"ipv4_address\":\"169.254.1.255\","
			       "\"imds_compat\":false}"));
	fc_config_init(&back);
	if (fc_config_file(&back, out, strlen(out), NULL, &e))
		fail_msg("%s: %s", out, e.msg);
	assert_int_equal(back.nr_nets, 2);
	assert_true(back.nets[0].mmds && back.nets[1].mmds);
	assert_true(back.mmds.v2);
	assert_int_equal(back.mmds.ipv4, 0xa9fe01ff);
	free(out);
	config_free(&back);

	/* as Firecracker: a NIC PUT again is a new device, without the MMDS */
	ok(&cfg, R_NET, "eth0", "{'iface_id':'eth0','host_dev_name':'tap0'}");
	assert_string_equal(cfg.nets[1].api_id, "eth0");
	assert_false(cfg.nets[1].mmds);
	assert_true(cfg.nets[0].mmds);
	config_free(&cfg);
}

/* Valid bodies of resources vireo lacks: -ENOTSUP, and the deprecation
 * notes Firecracker would give. */
static void test_unsupported_notes(void **state)
{
	struct fc_note note;
	struct errbuf e;
	char *b;

	(void)state;
	b = json("{'snapshot_path':'/s','mem_file_path':'/m'}", 0);
	{
		struct fc_snapshot_load l;

		assert_int_equal(fc_put_snapshot_load(b, strlen(b), &l, &note, &e), 0);
		assert_string_equal(l.mem_path, "/m");
		assert_false(l.resume);
		fc_snapshot_load_free(&l);
	}
	assert_non_null(strstr(note.deprecation, "mem_file_path"));
	free(b);
}

/* Firecracker's own example file (tests/framework/vm_config.json shape). */
static void test_file_firecracker(void **state)
{
	struct vm_config cfg;

	(void)state;
	fc_config_init(&cfg);
	ok(&cfg, R_FILE, NULL, "{'boot-source':{'kernel_image_path':'vmlinux.bin',"
	   "'boot_args':'console=ttyS0 reboot=k panic=1','initrd_path':null},"
	   "'drives':[{'drive_id':'rootfs','partuuid':null,'is_root_device':true,"
	   "'cache_type':'Unsafe','is_read_only':false,'path_on_host':'bionic.rootfs.ext4',"
	   "'io_engine':'Sync','rate_limiter':null,'socket':null}],"
	   "'machine-config':{'vcpu_count':2,'mem_size_mib':1024,'smt':false,"
	   "'track_dirty_pages':false,'huge_pages':'None'},"
	   "'cpu-config':null,'balloon':null,'network-interfaces':[],'vsock':null,'logger':null,"
	   "'metrics':null,'mmds-config':null,'entropy':null,'pmem':[],'memory-hotplug':null,"
	   "'serial':{'whatever':1}}");
	assert_string_equal(cfg.kernel, "vmlinux.bin");
	assert_null(cfg.initrd);
	assert_string_equal(cfg.cmdline, "console=ttyS0 reboot=k panic=1");
	assert_int_equal(cfg.nr_disks, 1);
	assert_true(cfg.disks[0].root);
	assert_false(cfg.disks[0].readonly);
	assert_int_equal(cfg.cpus, 2);
	assert_int_equal(cfg.mem_size, 1024ull << 20);
	assert_int_equal(cfg.nr_nets, 0);
	config_free(&cfg);
	/* the getting-started sequence, as one file */
	fc_config_init(&cfg);
	ok(&cfg, R_FILE, NULL, "{'logger':{'log_path':'./firecracker.log','level':'Debug',"
	   "'show_level':true,'show_log_origin':true},"
	   "'boot-source':{'kernel_image_path':'./vmlinux','boot_args':'console=ttyS0 reboot=k panic=1'},"
	   "'drives':[{'drive_id':'rootfs','path_on_host':'./ubuntu.ext4','is_root_device':true,"
	   "'is_read_only':false}],"
	   "'network-interfaces':[{'iface_id':'net1','guest_mac':'06:00:AC:10:00:02',"
	   "'host_dev_name':'tap0'}]}");
	assert_int_equal(cfg.logger.level, CONFIG_LOG_DEBUG);
	assert_int_equal(cfg.nr_nets, 1);
	assert_string_equal(cfg.nets[0].api_id, "net1");
	assert_int_equal(cfg.mem_size, 128ull << 20);
	config_free(&cfg);
}

/* Kata's file: a read-only root (as a plain drive), eight placeholders on
 * empty files, NICs with empty limiters, logger and metrics FIFOs, and a
 * vsock with the deprecated vsock_id. */
#define KATA_DRIVE(n) "{'drive_id':'drive_" #n "','path_on_host':'/run/kata/drive_" #n "'," \
	"'is_root_device':false,'is_read_only':false}"
#define KATA_BODY(vsock) "{'boot-source':{'kernel_image_path':'/vmlinux','boot_args':" \
	"'console=hvc0 pci=off acpi=off agent.log_vport=1025'}," \
	"'drives':[{'drive_id':'rootfs','path_on_host':'/rootfs','is_root_device':false," \
	"'is_read_only':true}," KATA_DRIVE(0) "," KATA_DRIVE(1) "," KATA_DRIVE(2) "," \
	KATA_DRIVE(3) "," KATA_DRIVE(4) "," KATA_DRIVE(5) "," KATA_DRIVE(6) "," \
	KATA_DRIVE(7) "]," \
	"'machine-config':{'vcpu_count':1,'mem_size_mib':2048,'smt':false}," \
	"'logger':{'log_path':'/run/kata/logs.fifo','level':'Error'}," \
	"'metrics':{'metrics_path':'/run/kata/metrics.fifo'}," \
	"'network-interfaces':[{'iface_id':'eth0','host_dev_name':'tap0_kata'," \
	"'guest_mac':'02:42:ac:11:00:02','rx_rate_limiter':{},'tx_rate_limiter':{}}]" vsock "}"

static void test_file_kata(void **state)
{
	struct vm_config cfg;
	struct fc_note note;
	struct errbuf e;
	char *b;

	(void)state;
	fc_config_init(&cfg);
	ok(&cfg, R_FILE, NULL, KATA_BODY(""));
	assert_int_equal(cfg.nr_disks, 9);
	assert_string_equal(cfg.disks[0].api_id, "rootfs");
	assert_true(cfg.disks[0].readonly);
	assert_false(cfg.disks[0].root);
	assert_string_equal(cfg.disks[8].api_id, "drive_7");
	assert_int_equal(cfg.nr_nets, 1);
	assert_string_equal(cfg.nets[0].tap, "tap0_kata");
	assert_int_equal(cfg.mem_size, 2048ull << 20);
	assert_string_equal(cfg.metrics.path, "/run/kata/metrics.fifo");
	assert_int_equal(cfg.logger.level, CONFIG_LOG_ERROR);
	/* the swap after boot */
	ok(&cfg, R_DRIVE_PATCH, "drive_3", "{'drive_id':'drive_3','path_on_host':'/run/kata/c1.img'}");
	assert_string_equal(cfg.disks[4].path, "/run/kata/c1.img");
	config_free(&cfg);
	/* with its vsock */
	fc_config_init(&cfg);
	b = json(KATA_BODY(",'vsock':{'vsock_id':'root','guest_cid':3,'uds_path':'kata.hvsock'}"), 0);
	assert_int_equal(fc_config_file(&cfg, b, strlen(b), &note, &e), 0);
	assert_true(cfg.vsock.set);
	assert_string_equal(cfg.vsock.uds_path, "kata.hvsock");
	assert_string_equal(cfg.vsock.api_id, "root");
	assert_int_equal(cfg.nr_disks, 9);
	free(b);
	config_free(&cfg);
}

static void test_config_copy(void **state)
{
	struct vm_config cfg, copy;

	(void)state;
	baseline(&cfg);
	ok(&cfg, R_METRICS, NULL, "{'metrics_path':'/m'}");
	assert_int_equal(config_copy(&copy, &cfg), 0);
	assert_null(config_diff(&copy, &cfg));
	assert_ptr_not_equal(copy.kernel, cfg.kernel);
	assert_ptr_not_equal(copy.disks[0].api_id, cfg.disks[0].api_id);
	assert_ptr_not_equal(copy.logger.module, cfg.logger.module);
	config_free(&cfg);
	assert_string_equal(copy.disks[1].path, "/d");
	config_free(&copy);
}

/* PUT /snapshot/load's overrides on the configuration a snapshot carries
 * (a copy: the route drops it on error): a NIC's TAP and the vsock's
 * socket replaced; an unknown NIC, a bad TAP name (the TAP kept) and a
 * vsock the snapshot lacks refused. */
static void test_snapshot_overrides(void **state)
{
	struct fc_snapshot_load l;
	struct vm_config cfg;
	struct fc_note n;
	struct errbuf e;
	char *b;

	(void)state;
	baseline(&cfg);
	b = json("{'snapshot_path':'/s','mem_backend':{'backend_path':'/h.sock',"
		 "'backend_type':'Uffd'},'resume_vm':true,'track_dirty_pages':true,"
		 "'network_overrides':[{'iface_id':'eth0','host_dev_name':'tap9'}],"
		 "'vsock_override':{'uds_path':'/v2'}}", 0);
	assert_int_equal(fc_put_snapshot_load(b, strlen(b), &l, &n, &e), 0);
	free(b);
	assert_true(l.uffd && l.resume && l.track_dirty);
	assert_string_equal(l.mem_path, "/h.sock");
	/* no vsock in the snapshot's configuration: refused */
	assert_int_equal(fc_snapshot_load_overrides(&cfg, &l, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "vsock_override: the snapshot has no vsock device"));
	ok(&cfg, R_VSOCK, NULL, "{'guest_cid':3,'uds_path':'/v'}");
	assert_int_equal(fc_snapshot_load_overrides(&cfg, &l, &e), 0);
	assert_string_equal(cfg.nets[0].tap, "tap9");
	assert_string_equal(cfg.vsock.uds_path, "/v2");
	fc_snapshot_load_free(&l);
	/* an unknown NIC, and a TAP name the kernel would not take */
	b = json("{'snapshot_path':'/s','mem_file_path':'/m',"
		 "'network_overrides':[{'iface_id':'eth7','host_dev_name':'tap1'}]}", 0);
	assert_int_equal(fc_put_snapshot_load(b, strlen(b), &l, &n, &e), 0);
	free(b);
	assert_int_equal(fc_snapshot_load_overrides(&cfg, &l, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "no network interface 'eth7'"));
	fc_snapshot_load_free(&l);
	b = json("{'snapshot_path':'/s','mem_file_path':'/m',"
		 "'network_overrides':[{'iface_id':'eth0','host_dev_name':'a/b'}]}", 0);
	assert_int_equal(fc_put_snapshot_load(b, strlen(b), &l, &n, &e), 0);
	free(b);
	assert_int_equal(fc_snapshot_load_overrides(&cfg, &l, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "network_overrides[0].host_dev_name"));
	assert_string_equal(cfg.nets[0].tap, "tap9");
	fc_snapshot_load_free(&l);
	config_free(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_boot_source),
		cmocka_unit_test(test_machine_config),
		cmocka_unit_test(test_drives),
		cmocka_unit_test(test_drive_limit),
		cmocka_unit_test(test_rate_limiters),
		cmocka_unit_test(test_nets),
		cmocka_unit_test(test_logger_metrics_serial),
		cmocka_unit_test(test_vsock),
		cmocka_unit_test(test_entropy),
		cmocka_unit_test(test_balloon),
		cmocka_unit_test(test_mmds_config),
		cmocka_unit_test(test_unsupported_notes),
		cmocka_unit_test(test_file_firecracker),
		cmocka_unit_test(test_file_kata),
		cmocka_unit_test(test_config_copy),
		cmocka_unit_test(test_bad_inputs),
		cmocka_unit_test(test_snapshot_overrides),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
