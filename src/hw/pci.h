/* PCI: a host bridge on bus 0 reached through conf1 (0xCF8/0xCFC) and ECAM,
 * type-0 config space for devices, and BAR allocation with live remapping
 * when the guest moves a BAR or toggles decoding. Devices fill a struct
 * pci_dev (IDs, BARs, capabilities) and call pci_register(). */
#ifndef VIREO_HW_PCI_H
#define VIREO_HW_PCI_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/bus.h"

#define PCI_CFG_SIZE 4096
#define PCI_MAX_SLOTS 32
#define PCI_NR_BARS 6

#define PCI_CONF1_ADDR_PORT 0xCF8
#define PCI_CONF1_DATA_PORT 0xCFC

#define PCI_VENDOR_ID 0x00
#define PCI_DEVICE_ID 0x02
#define PCI_COMMAND 0x04
#define PCI_STATUS 0x06
#define PCI_REVISION 0x08
#define PCI_CLASS_PROG 0x09
#define PCI_HEADER_TYPE 0x0E
#define PCI_BAR0 0x10
#define PCI_SUBSYS_VENDOR 0x2C
#define PCI_SUBSYS_ID 0x2E
#define PCI_CAP_PTR 0x34
#define PCI_INTERRUPT_LINE 0x3C
#define PCI_INTERRUPT_PIN 0x3D

#define PCI_COMMAND_IO 0x1
#define PCI_COMMAND_MEM 0x2
#define PCI_COMMAND_MASTER 0x4
#define PCI_COMMAND_INTX_DISABLE 0x400
#define PCI_STATUS_CAP_LIST 0x10

#define PCI_BAR_IO 0x1
#define PCI_BAR_MEM64 0x4
#define PCI_BAR_PREFETCH 0x8

struct pci_bar {
	uint64_t size;       /* power of two; 0: BAR unused */
	unsigned flags;      /* PCI_BAR_IO, PCI_BAR_MEM64, PCI_BAR_PREFETCH */
	uint64_t addr;       /* where it is mapped when mapped */
	bool mapped;
	bus_io_fn fn;
	void *opaque;
};

struct pci;

struct pci_dev {
	uint8_t cfg[PCI_CFG_SIZE];
	uint8_t wmask[PCI_CFG_SIZE]; /* bits the guest may change */
	struct pci_bar bar[PCI_NR_BARS];
	unsigned next_cap;           /* where pci_cap_add puts the next capability */
	/* Called after a guest config write has been applied (with the PCI lock
	 * held), for registers the device cares about (e.g. MSI-X control). */
	void (*cfg_written)(struct pci_dev *d, uint32_t off, uint32_t len);
	/* Called (PCI lock held) before a guest config read, so the device can
	 * refresh registers whose value is computed (e.g. a data window). */
	void (*cfg_read)(struct pci_dev *d, uint32_t off, uint32_t len);
	/* Called (PCI lock held) when BAR idx stops or starts decoding at addr,
	 * e.g. to move ioeventfds along with the BAR. */
	void (*bar_moved)(struct pci_dev *d, unsigned idx, uint64_t addr, bool mapped);
	void *opaque;
	struct pci *pci;
	unsigned slot;
};

struct pci {
	pthread_mutex_t lock;        /* config space and BAR mapping */
	struct bus *pio, *mmio;
	uint32_t conf1_addr;
	struct pci_dev *slot[PCI_MAX_SLOTS];
	struct pci_dev host_bridge;
	uint64_t mmio32_next, mmio32_end;
	uint64_t mmio64_next, mmio64_end;
	uint64_t io_next, io_end;
};

/* Registers conf1 on pio, ECAM on mmio, and the host bridge at 00:00.0.
 * mmio64_base is where 64-bit BARs go (above RAM). */
int pci_init(struct pci *pci, struct bus *pio, struct bus *mmio, uint64_t ecam_base,
	     uint64_t ecam_size, uint64_t mmio32_base, uint64_t mmio32_size,
	     uint64_t mmio64_base, uint64_t mmio64_size) __attribute__((warn_unused_result));
void pci_destroy(struct pci *pci);

/* Fills the type-0 header. class_code is 24 bits: class, subclass, prog-if. */
void pci_dev_init(struct pci_dev *d, uint16_t vendor, uint16_t device, uint32_t class_code,
		  uint16_t subsys_vendor, uint16_t subsys_id);
/* Declares BAR idx (a 64-bit BAR also takes idx+1). Call before pci_register. */
int pci_dev_set_bar(struct pci_dev *d, unsigned idx, uint64_t size, unsigned flags,
		    bus_io_fn fn, void *opaque) __attribute__((warn_unused_result));
/* Appends a capability of len bytes (id and next pointer included) and
 * returns its config-space offset, or 0 if there is no room. */
unsigned pci_cap_add(struct pci_dev *d, uint8_t id, unsigned len);

/* Puts d in the first free slot, assigns its BARs from the windows, maps
 * them and enables decoding, as firmware would. Returns the slot or -errno. */
int pci_register(struct pci *pci, struct pci_dev *d) __attribute__((warn_unused_result));

/* Config space access by (slot, offset); for conf1, ECAM and tests.
 * GUEST: off and len are checked here; bad accesses read all ones. */
uint32_t pci_cfg_read(struct pci *pci, unsigned bus, unsigned slot, unsigned fn, uint32_t off,
		      uint32_t len);
void pci_cfg_write(struct pci *pci, unsigned bus, unsigned slot, unsigned fn, uint32_t off,
		   uint32_t val, uint32_t len);

/* Bus handlers. */
void pci_conf1_addr_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write);
void pci_conf1_data_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write);
void pci_ecam_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write);

/* Snapshots: d's configuration space ("<name>/pci"). Restore puts the
 * saved bytes back where the guest may write (wmask) and maps the BARs
 * where they then say, as a guest's writes would, without the device's
 * cfg_written hook (the caller brings its own registers in line). 0 or
 * -errno with e set. */
struct snap_writer;
struct snap_reader;
struct errbuf;
void pci_dev_save(struct pci_dev *d, const char *name, struct snap_writer *w);
int pci_dev_restore(struct pci_dev *d, const char *name, const struct snap_reader *r,
		    struct errbuf *e) __attribute__((warn_unused_result));
/* The bus's own: CONFIG_ADDRESS and the host bridge ("pci/..."). */
void pci_save(struct pci *pci, struct snap_writer *w);
int pci_restore(struct pci *pci, const struct snap_reader *r, struct errbuf *e)
	__attribute__((warn_unused_result));

#endif
