/* A virtual machine: the KVM fds, guest RAM, buses, vCPUs and the platform
 * devices, with its whole lifecycle. main.c calls vm_create, vm_run and
 * vm_destroy, in that order, from the main thread. */
#ifndef VIREO_VM_H
#define VIREO_VM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "backend/chardev.h"
#include "config.h"
#include "core/bus.h"
#include "core/evloop.h"
#include "core/gmem.h"
#include "core/irq.h"
#include "core/log.h"
#include "hw/acpi_pm.h"
#include "hw/debug_exit.h"
#include "hw/i8042.h"
#include "hw/pci.h"
#include "hw/serial_8250.h"

struct net;

struct vcpu;
struct kvm_cpuid2;
struct blk;
struct virtio_pci;

struct vm {
	int kvm_fd, vm_fd;
	int run_size;             /* KVM_GET_VCPU_MMAP_SIZE */
	bool pvm;                 /* the host's KVM is kvm_pvm */
	struct gmem mem;
	struct bus pio, mmio;
	struct evloop loop;
	struct kvm_cpuid2 *cpuid; /* KVM_GET_SUPPORTED_CPUID, unpatched */
	unsigned nr_vcpus;
	struct vcpu *vcpus;

	struct chardev console;
	struct serial_8250 serial;
	struct i8042 i8042;
	struct debug_exit debug_exit;
	struct acpi_pm acpi_pm;
	struct pci pci;
	struct irq_router irq;
	unsigned nr_disks;
	struct blk *disk[CONFIG_MAX_DISKS];
	struct virtio_pci *disk_pci[CONFIG_MAX_DISKS];
	unsigned nr_nets;
	struct net *net[CONFIG_MAX_NETS];
	struct virtio_pci *net_pci[CONFIG_MAX_NETS];

	int exit_status;          /* valid once exiting is set */
	int exiting;              /* atomic: first vm_request_exit wins */
	struct ev_handler signals;
	int signal_fd;
};

/* Opens /dev/kvm, checks the API version and capabilities, and reports the
 * host's limits for config_check_limits(). Returns 0 or -errno with e set. */
int vm_probe_host(struct host_limits *lim, struct errbuf *e) __attribute__((warn_unused_result));

/* Builds the whole VM from a validated config: KVM checks, RAM, irqchip,
 * devices, the kernel loaded and the vCPUs ready. On error everything is
 * undone and e says why. Returns 0 or -errno. cfg must have passed
 * config_check_limits(). */
int vm_create(struct vm **out, const struct vm_config *cfg, struct errbuf *e)
	__attribute__((warn_unused_result));

/* Runs until the guest powers off, resets or writes debug-exit, a vCPU
 * fails, or a termination signal arrives. Returns the process exit status. */
int vm_run(struct vm *vm);

void vm_destroy(struct vm *vm);

/* Ends the VM with this exit status; any thread, first caller wins. */
void vm_request_exit(struct vm *vm, int status);

/* Prints the one-line notice about a PVM host, once per process. */
void vm_note_pvm(void);

#endif
