/* MSI-X for a PCI device (PCI Local Bus 3.0 §6.8.2): the capability, the
 * vector table and the pending-bit array in a BAR, and delivery through
 * KVM: one GSI with an MSI route and one irqfd per vector, so raising a
 * vector is one eventfd write from any thread, with no exit. Masked vectors
 * (or a masked function) collect a pending bit and fire on unmask. */
#ifndef VIREO_HW_MSIX_H
#define VIREO_HW_MSIX_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/irq.h"
#include "hw/pci.h"

#define MSIX_MAX_VECTORS 64
#define MSIX_ENTRY_SIZE 16

struct msix_entry {
	uint32_t addr_lo, addr_hi, data, ctrl;
};

struct msix {
	pthread_mutex_t lock;
	struct pci_dev *pci;
	struct irq_router *router;
	unsigned nr;
	unsigned cap;                  /* capability offset in config space */
	bool enabled, func_masked;     /* Message Control, mirrored */
	bool bus_master;               /* PCI COMMAND.MASTER: an MSI is a DMA write */
	struct msix_entry table[MSIX_MAX_VECTORS];
	uint64_t pending;              /* PBA, one bit per vector */
	unsigned gsi[MSIX_MAX_VECTORS];
	int irqfd[MSIX_MAX_VECTORS];
	bool routed[MSIX_MAX_VECTORS]; /* route committed for the current message */
};

/* Adds the capability to d (table at table_off and PBA at pba_off, both in
 * BAR bar) and allocates a GSI and an irqfd per vector. The caller maps
 * the table and PBA ranges to msix_table_io / msix_pba_io, and forwards
 * config writes to msix_cfg_written. */
int msix_init(struct msix *m, struct pci_dev *d, unsigned nr, unsigned bar, uint32_t table_off,
	      uint32_t pba_off, struct irq_router *router) __attribute__((warn_unused_result));
void msix_destroy(struct msix *m);

/* MMIO on the table / PBA, offset relative to their start.
 * GUEST: any offset and length; the table checks both. */
void msix_table_io(struct msix *m, uint64_t off, uint8_t *data, uint32_t len, bool is_write);
void msix_pba_io(struct msix *m, uint64_t off, uint8_t *data, uint32_t len, bool is_write);
/* A config-space write landed (PCI lock held); picks up Message Control. */
void msix_cfg_written(struct msix *m, uint32_t off, uint32_t len);

/* The function's Bus Master Enable changed: while off, vectors collect
 * pending bits; turning it on delivers them. */
void msix_set_bus_master(struct msix *m, bool on);

/* Raises vector v; any thread. Out-of-range vectors are ignored. */
void msix_notify(struct msix *m, unsigned v);

/* Snapshots ("<name>/msix"): the table and the pending bits; Message
 * Control and bus mastering come back with the PCI configuration (call
 * msix_cfg_written and msix_set_bus_master after it). Routes are made
 * again on the next delivery. 0 or -errno with e set. */
struct snap_writer;
struct snap_reader;
struct errbuf;
void msix_save(struct msix *m, const char *name, struct snap_writer *w);
int msix_restore(struct msix *m, const char *name, const struct snap_reader *r,
		 struct errbuf *e) __attribute__((warn_unused_result));

#endif
