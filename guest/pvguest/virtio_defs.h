/* virtio_defs.h: the virtio 1.2 constants and layouts pvguest's drivers use,
 * restated from the spec (and the same values as Linux's uapi
 * linux/virtio_{config,pci,mmio,ring,blk,net}.h) so that the freestanding build needs
 * no system headers. Facts only: no code, no state. */
#ifndef PVGUEST_VIRTIO_DEFS_H
#define PVGUEST_VIRTIO_DEFS_H

#include <stdint.h>

/* Error codes (Linux's errno values); the drivers return 0 or -E*. */
#ifndef EIO
#define EIO 5
#endif
#ifndef ENOMEM
#define ENOMEM 12
#endif
#ifndef EBUSY
#define EBUSY 16
#endif
#ifndef ENODEV
#define ENODEV 19
#endif
#ifndef EINVAL
#define EINVAL 22
#endif
#ifndef ENOSPC
#define ENOSPC 28
#endif
#ifndef EAGAIN
#define EAGAIN 11
#endif
#ifndef ERANGE
#define ERANGE 34
#endif
#ifndef ENOTSUP
#define ENOTSUP 95
#endif
#ifndef ETIMEDOUT
#define ETIMEDOUT 110
/* the TCP client's (tcp_client.h) */
#define EPROTO 71
#define EBADMSG 74
#define ENOBUFS 105
#define ECONNRESET 104
#define ECONNREFUSED 111
#endif

/* PCI IDs (virtio 1.2 §4.1.2): modern devices are 0x1040 + device type. */
#define VIRTIO_PCI_VENDOR        0x1af4
#define VIRTIO_PCI_DEVICE_MODERN 0x1040
#define VIRTIO_PCI_DEVICE_LAST   0x107f
#define VIRTIO_ID_NET            1
#define VIRTIO_ID_BLOCK          2

/* Device status (§2.1) */
#define VIRTIO_STATUS_ACKNOWLEDGE 0x01
#define VIRTIO_STATUS_DRIVER      0x02
#define VIRTIO_STATUS_DRIVER_OK   0x04
#define VIRTIO_STATUS_FEATURES_OK 0x08
#define VIRTIO_STATUS_NEEDS_RESET 0x40
#define VIRTIO_STATUS_FAILED      0x80

/* Reserved feature bits (§6) */
#define VIRTIO_F_INDIRECT_DESC    28
#define VIRTIO_F_EVENT_IDX        29
#define VIRTIO_F_VERSION_1        32
#define VIRTIO_F_ACCESS_PLATFORM  33
#define VIRTIO_F_RING_PACKED      34
#define VIRTIO_F_IN_ORDER         35
#define VIRTIO_F_NOTIFICATION_DATA 38
#define VIRTIO_BIT(b)             (1ull << (b))

/* PCI capability for virtio structures (§4.1.4) */
#define PCI_CAP_ID_VNDR           0x09
#define PCI_CAP_ID_MSIX           0x11
#define VIRTIO_PCI_CAP_COMMON_CFG 1
#define VIRTIO_PCI_CAP_NOTIFY_CFG 2
#define VIRTIO_PCI_CAP_ISR_CFG    3
#define VIRTIO_PCI_CAP_DEVICE_CFG 4
#define VIRTIO_PCI_CAP_PCI_CFG    5
/* struct virtio_pci_cap field offsets */
#define VIRTIO_PCI_CAP_CFG_TYPE   3
#define VIRTIO_PCI_CAP_BAR        4
#define VIRTIO_PCI_CAP_ID         5
#define VIRTIO_PCI_CAP_OFFSET     8
#define VIRTIO_PCI_CAP_LENGTH     12
#define VIRTIO_PCI_NOTIFY_CAP_MULT 16
#define VIRTIO_PCI_CAP_MIN_LEN    16

/* struct virtio_pci_common_cfg field offsets (§4.1.4.3) */
#define VIRTIO_PCI_COMMON_DFSELECT   0   /* le32 device_feature_select */
#define VIRTIO_PCI_COMMON_DF         4   /* le32 device_feature (ro) */
#define VIRTIO_PCI_COMMON_GFSELECT   8   /* le32 driver_feature_select */
#define VIRTIO_PCI_COMMON_GF         12  /* le32 driver_feature */
#define VIRTIO_PCI_COMMON_MSIX       16  /* le16 config_msix_vector */
#define VIRTIO_PCI_COMMON_NUMQ       18  /* le16 num_queues (ro) */
#define VIRTIO_PCI_COMMON_STATUS     20  /* u8 device_status */
#define VIRTIO_PCI_COMMON_CFGGEN     21  /* u8 config_generation (ro) */
#define VIRTIO_PCI_COMMON_Q_SELECT   22  /* le16 */
#define VIRTIO_PCI_COMMON_Q_SIZE     24  /* le16 */
#define VIRTIO_PCI_COMMON_Q_MSIX     26  /* le16 */
#define VIRTIO_PCI_COMMON_Q_ENABLE   28  /* le16 */
#define VIRTIO_PCI_COMMON_Q_NOFF     30  /* le16 queue_notify_off (ro) */
#define VIRTIO_PCI_COMMON_Q_DESCLO   32  /* le64 as two le32 */
#define VIRTIO_PCI_COMMON_Q_DESCHI   36
#define VIRTIO_PCI_COMMON_Q_AVAILLO  40
#define VIRTIO_PCI_COMMON_Q_AVAILHI  44
#define VIRTIO_PCI_COMMON_Q_USEDLO   48
#define VIRTIO_PCI_COMMON_Q_USEDHI   52
#define VIRTIO_PCI_COMMON_MIN_LEN    56  /* through queue_used_hi */
#define VIRTIO_MSI_NO_VECTOR         0xffff
#define VIRTIO_PCI_ISR_QUEUE         0x1
#define VIRTIO_PCI_ISR_CONFIG        0x2

/* virtio-mmio registers (§4.2.2, Table 4.1): offsets in the device's
 * window; every one 32 bits wide, accessed 32 bits wide (§4.2.2.2) */
#define VIRTIO_MMIO_MAGIC_VALUE         0x000   /* R: 0x74726976, "virt" */
#define VIRTIO_MMIO_VERSION             0x004   /* R: 2 (1: legacy) */
#define VIRTIO_MMIO_DEVICE_ID           0x008   /* R: 0 = no device */
#define VIRTIO_MMIO_VENDOR_ID           0x00c
#define VIRTIO_MMIO_DEVICE_FEATURES     0x010
#define VIRTIO_MMIO_DEVICE_FEATURES_SEL 0x014
#define VIRTIO_MMIO_DRIVER_FEATURES     0x020
#define VIRTIO_MMIO_DRIVER_FEATURES_SEL 0x024
#define VIRTIO_MMIO_QUEUE_SEL           0x030
#define VIRTIO_MMIO_QUEUE_NUM_MAX       0x034
#define VIRTIO_MMIO_QUEUE_NUM           0x038
#define VIRTIO_MMIO_QUEUE_READY         0x044
#define VIRTIO_MMIO_QUEUE_NOTIFY        0x050
#define VIRTIO_MMIO_INTERRUPT_STATUS    0x060
#define VIRTIO_MMIO_INTERRUPT_ACK       0x064
#define VIRTIO_MMIO_STATUS              0x070
#define VIRTIO_MMIO_QUEUE_DESC_LOW      0x080
#define VIRTIO_MMIO_QUEUE_DESC_HIGH     0x084
#define VIRTIO_MMIO_QUEUE_DRIVER_LOW    0x090   /* the avail ring */
#define VIRTIO_MMIO_QUEUE_DRIVER_HIGH   0x094
#define VIRTIO_MMIO_QUEUE_DEVICE_LOW    0x0a0   /* the used ring */
#define VIRTIO_MMIO_QUEUE_DEVICE_HIGH   0x0a4
#define VIRTIO_MMIO_SHM_SEL             0x0ac
#define VIRTIO_MMIO_SHM_LEN_LOW         0x0b0
#define VIRTIO_MMIO_SHM_BASE_HIGH       0x0bc
#define VIRTIO_MMIO_QUEUE_RESET         0x0c0
#define VIRTIO_MMIO_CONFIG_GENERATION   0x0fc
#define VIRTIO_MMIO_CONFIG              0x100   /* device-specific configuration */
#define VIRTIO_MMIO_MAGIC               0x74726976u
#define VIRTIO_MMIO_VERSION_LEGACY      1
#define VIRTIO_MMIO_VERSION_MODERN      2
/* InterruptStatus bits: the same as the PCI ISR's (VIRTIO_PCI_ISR_*) */
#define VIRTIO_MMIO_INT_VRING           0x1
#define VIRTIO_MMIO_INT_CONFIG          0x2

/* Split virtqueue (§2.7) */
#define VRING_DESC_F_NEXT         1
#define VRING_DESC_F_WRITE        2
#define VRING_DESC_F_INDIRECT     4
#define VRING_AVAIL_F_NO_INTERRUPT 1
#define VRING_USED_F_NO_NOTIFY    1
#define VRING_MAX_SIZE            32768

struct vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct vring_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[];                 /* then le16 used_event (EVENT_IDX) */
};

struct vring_used_elem {
	uint32_t id;
	uint32_t len;
};

struct vring_used {
	uint16_t flags;
	uint16_t idx;
	struct vring_used_elem ring[];   /* then le16 avail_event (EVENT_IDX) */
};

/* §2.7.10: has the other side asked to hear about an index in (old, new]? */
static inline int vring_need_event(uint16_t event, uint16_t new_idx, uint16_t old)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old);
}

/* Block device (§5.2) */
#define VIRTIO_BLK_F_SIZE_MAX     1
#define VIRTIO_BLK_F_SEG_MAX      2
#define VIRTIO_BLK_F_GEOMETRY     4
#define VIRTIO_BLK_F_RO           5
#define VIRTIO_BLK_F_BLK_SIZE     6
#define VIRTIO_BLK_F_FLUSH        9
#define VIRTIO_BLK_F_TOPOLOGY     10
#define VIRTIO_BLK_F_CONFIG_WCE   11
#define VIRTIO_BLK_F_MQ           12
#define VIRTIO_BLK_F_DISCARD      13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

/* struct virtio_blk_config field offsets (§5.2.4) */
#define VIRTIO_BLK_CFG_CAPACITY        0   /* le64 */
#define VIRTIO_BLK_CFG_SIZE_MAX        8   /* le32 */
#define VIRTIO_BLK_CFG_SEG_MAX         12  /* le32 */
#define VIRTIO_BLK_CFG_BLK_SIZE        20  /* le32 */
#define VIRTIO_BLK_CFG_PHYS_BLOCK_EXP  24  /* u8 */
#define VIRTIO_BLK_CFG_WCE             32  /* u8 writeback */
#define VIRTIO_BLK_CFG_NUM_QUEUES      34  /* le16 */
#define VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS 36
#define VIRTIO_BLK_CFG_MAX_DISCARD_SEG 40
#define VIRTIO_BLK_CFG_DISCARD_ALIGN   44
#define VIRTIO_BLK_CFG_MAX_WZ_SECTORS  48
#define VIRTIO_BLK_CFG_MAX_WZ_SEG      52
#define VIRTIO_BLK_CFG_WZ_MAY_UNMAP    56  /* u8 */

/* Request types and status (§5.2.6) */
#define VIRTIO_BLK_T_IN           0
#define VIRTIO_BLK_T_OUT          1
#define VIRTIO_BLK_T_FLUSH        4
#define VIRTIO_BLK_T_GET_ID       8
#define VIRTIO_BLK_T_DISCARD      11
#define VIRTIO_BLK_T_WRITE_ZEROES 13
#define VIRTIO_BLK_S_OK           0
#define VIRTIO_BLK_S_IOERR        1
#define VIRTIO_BLK_S_UNSUPP       2
#define VIRTIO_BLK_ID_BYTES       20
#define VIRTIO_BLK_SECTOR_SIZE    512
#define VIRTIO_BLK_WZ_FLAG_UNMAP  1

struct virtio_blk_outhdr {
	uint32_t type;
	uint32_t reserved;               /* "ioprio" in legacy terms; 0 */
	uint64_t sector;                 /* in 512-byte units, whatever blk_size */
};

struct virtio_blk_dwz {                  /* discard / write zeroes segment */
	uint64_t sector;
	uint32_t num_sectors;
	uint32_t flags;
};

/* Network device (§5.1) */
#define VIRTIO_NET_F_CSUM         0
#define VIRTIO_NET_F_GUEST_CSUM   1
#define VIRTIO_NET_F_MTU          3
#define VIRTIO_NET_F_MAC          5
#define VIRTIO_NET_F_GUEST_TSO4   7
#define VIRTIO_NET_F_GUEST_TSO6   8
#define VIRTIO_NET_F_HOST_TSO4    11
#define VIRTIO_NET_F_HOST_TSO6    12
#define VIRTIO_NET_F_HOST_ECN     13
#define VIRTIO_NET_F_HOST_UFO     14
#define VIRTIO_NET_F_MRG_RXBUF    15
#define VIRTIO_NET_F_STATUS       16
#define VIRTIO_NET_F_CTRL_VQ      17
#define VIRTIO_NET_F_CTRL_RX      18
#define VIRTIO_NET_F_MQ           22

/* struct virtio_net_config field offsets (§5.1.4) */
#define VIRTIO_NET_CFG_MAC        0   /* u8[6] */
#define VIRTIO_NET_CFG_STATUS     6   /* le16 */
#define VIRTIO_NET_CFG_MAX_PAIRS  8   /* le16 max_virtqueue_pairs */
#define VIRTIO_NET_CFG_MTU        10  /* le16 */
#define VIRTIO_NET_S_LINK_UP      1

/* §5.1.6: every packet starts with this header (VERSION_1: 12 bytes). */
struct virtio_net_hdr_v1 {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t num_buffers;
};
#define VIRTIO_NET_HDR_LEN          12
#define VIRTIO_NET_HDR_F_NEEDS_CSUM 1
#define VIRTIO_NET_HDR_F_DATA_VALID 2
#define VIRTIO_NET_HDR_GSO_NONE     0
#define VIRTIO_NET_HDR_GSO_TCPV4    1
#define VIRTIO_NET_HDR_GSO_UDP      3
#define VIRTIO_NET_HDR_GSO_TCPV6    4
#define VIRTIO_NET_HDR_GSO_ECN      0x80

/* Control virtqueue (§5.1.6.5): class, command, data, then one ack byte. */
#define VIRTIO_NET_OK               0
#define VIRTIO_NET_ERR              1
#define VIRTIO_NET_CTRL_RX          0
#define VIRTIO_NET_CTRL_RX_PROMISC  0
#define VIRTIO_NET_CTRL_MQ          4
#define VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET 0
#define VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MIN 1
#define VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MAX 0x8000

#endif
