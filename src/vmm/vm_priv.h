/* struct vm, for the files that make up the VM's code: vm.c (building,
 * running) and snapshot.c (saving and restoring it). Nothing else sees
 * inside a VM. */
#ifndef VIREO_VMM_VM_PRIV_H
#define VIREO_VMM_VM_PRIV_H

#include "arch/x86/kvm_state.h"
#include "backend/chardev.h"
#include "core/bus.h"
#include "core/gmem.h"
#include "core/irq.h"
#include "core/kvm.h"
#include "core/vcpu.h"
#include "hw/acpi_pm.h"
#include "hw/boot_timer.h"
#include "hw/debug_exit.h"
#include "hw/i8042.h"
#include "hw/pci.h"
#include "hw/serial_8250.h"
#include "vmm/devices.h"
#include "vmm/vm.h"

#define VM_MMIO64_SIZE (64ull << 30)

struct vm {
	struct kvm kvm;
	int vm_fd;
	struct gmem mem;
	struct bus pio, mmio;
	struct evloop *loop;
	struct kvm_cpuid2 *cpuid; /* KVM_GET_SUPPORTED_CPUID, unpatched */
	struct vcpu_env vcpu_env;
	unsigned nr_vcpus;
	struct vcpu *vcpus;
	struct metrics *metrics;
	struct metrics_group *vcpu_mg; /* nr_vcpus, registered with metrics */

	struct chardev console;
	struct chardev hvc;       /* the virtio-console's host side (cfg->console) */
	struct serial_8250 serial;
	struct i8042 i8042;
	struct boot_timer boot_timer;
	uint64_t mmio32_base, mmio32_size; /* the PCI window: after the boot timer's page */
	struct debug_exit debug_exit;
	struct acpi_pm acpi_pm;
	struct pci pci;
	struct irq_router irq;
	struct devices devices;

	bool pvm_compat;          /* arch/x86/pvm_compat.h is in force */
	struct exit_hook end;     /* the guest or a vCPU ended the VM: vm_on_end */
	struct exit_hook owner_end; /* what vm_create was given, told after */
	int stopping;             /* atomic: the vCPUs leave their run loops */
	bool started, paused;
	struct kvm_state_msrs msrs; /* what a snapshot saves of each vCPU */
	uint64_t mem_size;        /* as configured: a snapshot's layout */
	bool start_paused;        /* vm_start leaves the vCPUs parked (a restore's) */
	bool track_dirty;         /* KVM's dirty log and gmem's written pages are on */
	bool dirty_taken;         /* a migration read the log: no Diff before a Full */
	struct vm_migration *migration; /* a migration away under way, or done */
	bool migrating_paused;    /* the migration paused the VM (not the user) */
	int uffd;                 /* a lazy restore's userfaultfd, or -1 */
	enum config_transport transport;
	const struct mmds_service *mmds; /* the metadata service, for the NICs that allow it */
};

/* Restores what cfg->restore names into vm, built from the same config
 * (its RAM already the memory file's): KVM's state, the platform's
 * devices, the virtio devices. Before the vCPUs first run. */
struct snap_reader;
int vm_restore_state(struct vm *vm, const struct snap_reader *r, struct errbuf *e)
	__attribute__((warn_unused_result));
/* Dirty page tracking (diff snapshots, migration): KVM's dirty log on
 * every memslot, and gmem's record of what the devices write. 0 or -errno
 * with e set. */
int vm_track_dirty(struct vm *vm, bool on, struct errbuf *e) __attribute__((warn_unused_result));
/* The pages written since the last call (or since tracking began), ORed
 * into bitmap (gmem_pages(&vm->mem) bits, by offset in the memory file),
 * and forgotten. The VM paused, or its pages may move on. */
int vm_take_dirty(struct vm *vm, uint64_t *bitmap, struct errbuf *e)
	__attribute__((warn_unused_result));

/* A lazy restore: vm->mem (anonymous, as yet empty) registered with a
 * userfaultfd, which goes with the regions' layout to the page fault
 * handler listening at path (Firecracker's handshake); the connection is
 * then left open for the rest of the process's life, as Firecracker leaves
 * it. 0 or -errno with e set. */
int vm_uffd_handshake(struct vm *vm, const char *path, struct errbuf *e)
	__attribute__((warn_unused_result));

/* Closes a migration's socket, after the devices are gone (vm_destroy). */
void vm_migration_free(struct vm *vm);

/* The paused VM's state as records into w (a snapshot's state file, a
 * migration's last message), with config_json (NULL: none). */
struct snap_writer;
int vm_save_state(struct vm *vm, const char *config_json, struct snap_writer *w,
		  struct errbuf *e) __attribute__((warn_unused_result));

/* Reads and checks cfg->restore.state: a state file this vireo reads,
 * saved from a VM built like cfg. 0, or -errno with e naming the file. */
int vm_restore_open(struct snap_reader *r, const struct vm_config *cfg, struct errbuf *e)
	__attribute__((warn_unused_result));
/* The state's layout against cfg (memory, vCPUs, transport). */
int vm_restore_check(const struct snap_reader *r, const struct vm_config *cfg, struct errbuf *e)
	__attribute__((warn_unused_result));

#endif
