/* libFuzzer target: config/firecracker.c on hostile bodies. The input's
 * first byte picks the resource (or the config file), the next the length
 * of the path's id, then the id and the body. Each input starts from the
 * same configured VM. A refused body must leave the config exactly as it
 * was and say why in one line; an accepted one must keep the config's
 * invariants (at most one root, and it first; ids unique; ranges kept),
 * and GET /machine-config must read back through PUT unchanged. ASan and
 * UBSan watch the rest. Built with -DFUZZ_GEN_SEEDS it writes a good
 * body for every resource as seeds. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/firecracker.h"
#include "config_diff.h"
#include "fc_call.h"
#include "fuzz_seeds.h"

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "fuzz check failed: %s (line %d)\n", #c, \
					   __LINE__); abort(); } } while (0)

/* The VM every input starts from: a root drive, another, a NIC. */
static const struct vm_config *fz_base(void)
{
	static const char *const bodies[][2] = {
		{ NULL, "{\"kernel_image_path\":\"/k\",\"boot_args\":\"console=ttyS0\"}" },
		{ "rootfs", "{\"drive_id\":\"rootfs\",\"path_on_host\":\"/r\",\"is_root_device\":true}" },
		{ "data", "{\"drive_id\":\"data\",\"path_on_host\":\"/d\",\"is_root_device\":false}" },
		{ "eth0", "{\"iface_id\":\"eth0\",\"host_dev_name\":\"tap0\","
			  "\"guest_mac\":\"06:00:ac:10:00:02\"}" },
	};
	static const enum fc_res res[] = { R_BOOT, R_DRIVE, R_DRIVE, R_NET };
	static struct vm_config base;
	static int ready;
	struct errbuf e;

	if (ready)
		return &base;
	fc_config_init(&base);
	for (unsigned i = 0; i < 4; i++)
		if (fc_call(&base, res[i], bodies[i][0], bodies[i][1], strlen(bodies[i][1]), NULL, &e))
			abort();
	ready = 1;
	return &base;
}

static void fz_invariants(const struct vm_config *cfg)
{
	char *line;

	CHECK(cfg->cpus >= 1 && cfg->cpus <= FC_MAX_VCPUS);
	CHECK(cfg->mem_size >= CONFIG_MIN_MEMORY);
	CHECK(cfg->nr_disks <= CONFIG_MAX_DISKS && cfg->nr_nets <= CONFIG_MAX_NETS);
	for (unsigned i = 0; i < cfg->nr_disks; i++) {
		CHECK(cfg->disks[i].path && cfg->disks[i].api_id);
		CHECK(!cfg->disks[i].root || i == 0);
		for (unsigned j = 0; j < i; j++)
			CHECK(strcmp(cfg->disks[i].api_id, cfg->disks[j].api_id));
	}
	for (unsigned i = 0; i < cfg->nr_nets; i++) {
		CHECK(cfg->nets[i].tap && cfg->nets[i].api_id);
		CHECK(strlen(cfg->nets[i].tap) <= CONFIG_IFNAME_MAX);
		for (unsigned j = 0; j < i; j++)
			CHECK(strcmp(cfg->nets[i].tap, cfg->nets[j].tap) &&
			      strcmp(cfg->nets[i].api_id, cfg->nets[j].api_id));
	}
	CHECK(fc_boot_cmdline(cfg, &line) == 0);
	free(line);
}

/* GET /machine-config, PUT back: the same machine. */
static void fz_round_trip(const struct vm_config *cfg)
{
	struct vm_config again;
	struct errbuf e;
	char *s = fc_get_machine_config(cfg);

	CHECK(s);
	CHECK(config_copy(&again, cfg) == 0);
	CHECK(fc_put_machine_config(&again, s, strlen(s), NULL, &e) == 0);
	CHECK(again.cpus == cfg->cpus && again.mem_size == (cfg->mem_size & ~((1ull << 20) - 1)) &&
	      again.mem_thp == cfg->mem_thp);
	config_free(&again);
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vm_config cfg, before;
	struct fc_note note;
	struct errbuf e = { "" };
	char id[256];
	size_t idlen;
	int ret;

	if (size < 2)
		return 0;
	idlen = data[1];
	if (size < 2 + idlen)
		return 0;
	memcpy(id, data + 2, idlen);
	id[idlen] = '\0';     /* an id with a NUL in it is just shorter */
	CHECK(config_copy(&cfg, fz_base()) == 0);
	CHECK(config_copy(&before, &cfg) == 0);
	ret = fc_call(&cfg, (enum fc_res)(data[0] % R_NR), data[0] & 0x80 ? NULL : id,
		      (const char *)data + 2 + idlen, size - 2 - idlen, &note, &e);
	CHECK(ret == 0 || ret == -EINVAL || ret == -ENOTSUP);
	CHECK(memchr(note.deprecation, '\0', sizeof(note.deprecation)));
	if (ret) {
		CHECK(e.msg[0] && !strchr(e.msg, '\n'));
		CHECK(config_diff(&cfg, &before) == NULL);
	}
	fz_invariants(&cfg);
	fz_round_trip(&cfg);
	config_free(&before);
	config_free(&cfg);
	return 0;
}

#ifdef FUZZ_GEN_SEEDS
/* One good body per resource, and a config file, in the input format. */
int main(int argc, char **argv)
{
	static const struct { enum fc_res r; const char *id, *body; } seeds[] = {
		{ R_BOOT, "", "{\"kernel_image_path\":\"/vmlinux\",\"boot_args\":\"console=ttyS0\","
			      "\"initrd_path\":\"/initrd\"}" },
		{ R_MACHINE, "", "{\"vcpu_count\":2,\"mem_size_mib\":1024,\"smt\":false,"
				 "\"huge_pages\":\"Transparent\",\"cpu_template\":\"None\"}" },
		{ R_MACHINE_PATCH, "", "{\"vcpu_count\":4}" },
		{ R_DRIVE, "d1", "{\"drive_id\":\"d1\",\"path_on_host\":\"/d1\",\"is_root_device\":false,"
				 "\"cache_type\":\"Writeback\",\"io_engine\":\"Async\",\"is_read_only\":true,"
				 "\"rate_limiter\":{\"bandwidth\":{\"size\":0,\"refill_time\":10}}}" },
		{ R_DRIVE, "rootfs", "{\"drive_id\":\"rootfs\",\"path_on_host\":\"/r2\","
				     "\"is_root_device\":true,\"partuuid\":\"0eaa91a0-01\"}" },
		{ R_DRIVE_PATCH, "data", "{\"drive_id\":\"data\",\"path_on_host\":\"/new\"}" },
		{ R_NET, "eth1", "{\"iface_id\":\"eth1\",\"host_dev_name\":\"tap1\",\"guest_mac\":"
				 "\"06:00:ac:10:00:03\",\"mtu\":1500,\"rx_rate_limiter\":{},"
				 "\"tx_rate_limiter\":{}}" },
		{ R_NET_PATCH, "eth0", "{\"iface_id\":\"eth0\",\"rx_rate_limiter\":{}}" },
		{ R_LOGGER, "", "{\"log_path\":\"/l\",\"level\":\"Debug\",\"show_level\":true,"
				"\"show_log_origin\":false,\"module\":\"vmm\"}" },
		{ R_METRICS, "", "{\"metrics_path\":\"/m\",\"emit_id\":true}" },
		{ R_SERIAL, "", "{\"serial_out_path\":\"/s\"}" },
		{ R_VSOCK, "", "{\"vsock_id\":\"root\",\"guest_cid\":3,\"uds_path\":\"/v\"}" },
		{ R_BALLOON, "", "{\"amount_mib\":64,\"deflate_on_oom\":true}" },
		{ R_ENTROPY, "", "{\"rate_limiter\":{}}" },
		{ R_MMDS_CONFIG, "", "{\"network_interfaces\":[\"eth0\"],\"version\":\"V2\"}" },
		{ R_CPU_CONFIG, "", "{\"kvm_capabilities\":[\"!121\"],\"cpuid_modifiers\":[]}" },
		{ R_SNAP_LOAD, "", "{\"snapshot_path\":\"/s\",\"mem_backend\":{\"backend_path\":\"/m\","
				   "\"backend_type\":\"File\"},\"network_overrides\":[]}" },
		{ R_PMEM, "p0", "{\"id\":\"p0\",\"path_on_host\":\"/p\"}" },
		{ R_FILE, "", "{\"boot-source\":{\"kernel_image_path\":\"/k\"},\"drives\":[{\"drive_id\":"
			      "\"a\",\"path_on_host\":\"/a\",\"is_root_device\":false}],"
			      "\"machine-config\":{\"vcpu_count\":1,\"mem_size_mib\":256},"
			      "\"network-interfaces\":[{\"iface_id\":\"e5\",\"host_dev_name\":\"tap5\"}],"
			      "\"logger\":{\"level\":\"Info\"},\"vsock\":null,\"pmem\":[]}" },
	};
	int err = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		size_t idlen = strlen(seeds[i].id);
		uint8_t hdr[2] = { (uint8_t)seeds[i].r, (uint8_t)idlen };
		const struct fuzz_part parts[] = {
			{ hdr, 2 }, { seeds[i].id, idlen }, { seeds[i].body, strlen(seeds[i].body) },
		};

		err |= fuzz_write_seed(argv[1], i, parts, 3);
	}
	return err;
}
#endif
