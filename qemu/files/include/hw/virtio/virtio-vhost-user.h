/*
 * SPDX-License-Identifier: MIT
 * The virtio-vhost-user device (docs/virtio-vhost-user.md in vvu-switch): state shared by the
 * device model and its PCI proxy. The frontend on the chardev is untrusted; the guest driver
 * is trusted only to break its own device.
 */

#ifndef HW_VIRTIO_VIRTIO_VHOST_USER_H
#define HW_VIRTIO_VIRTIO_VHOST_USER_H

#include "hw/virtio/virtio.h"
#include "chardev/char-fe.h"
#include "qemu/event_notifier.h"
#include "qemu/uuid.h"
#include "exec/memory.h"

#define TYPE_VIRTIO_VHOST_USER "virtio-vhost-user-device"
OBJECT_DECLARE_SIMPLE_TYPE(VirtIOVhostUser, VIRTIO_VHOST_USER)

/* Unassigned by the virtio spec and by Linux; see the spec's section 1. */
#define VIRTIO_ID_VHOST_USER_VVU 58

/* Config space (section 2), little-endian. */
#define VVU_STATUS_BACKEND_UP   (1u << 0)
#define VVU_STATUS_FRONTEND_UP  (1u << 1)
#define VVU_MAX_MSG_SIZE        4096u
#define VVU_HDR_SIZE            12u

#define VVU_REASON_LEN 128

/* Device-specific feature bits (section 1). */
#define VVU_F_LOG_WINDOW 0      /* dirty logs are mapped in BAR 2 (section 6.4) */

typedef struct VvuConfig {
    uint32_t status;
    uint32_t max_vhost_queues;
    uint8_t uuid[16];
    uint32_t max_mem_slots;
    uint32_t max_msg_size;
    uint32_t frontend_gen;      /* frontends that came up since reset */
    uint32_t refusals;          /* frontends the device disconnected for cause */
    char reason[VVU_REASON_LEN]; /* why, for the last of them; NUL-terminated */
    /* The dirty log window (section 6.4); appended, earlier offsets unchanged. */
    uint32_t log_gen;           /* logs mapped since reset (wraps) */
    uint32_t log_reserved;      /* reads 0 */
    uint64_t log_offset;        /* BAR 2 offset of the current log's first byte */
    uint64_t log_size;          /* its size in bytes; 0 while no log is mapped */
} QEMU_PACKED VvuConfig;

/* PCI capability types (section 4). */
#define VVU_PCI_CAP_DOORBELL_CFG      6
#define VVU_PCI_CAP_NOTIFICATION_CFG  7
#define VVU_PCI_CAP_SHARED_MEMORY_CFG 8

/* BAR 0 layout (section 4). */
#define VVU_BAR0_SIZE            0x2000
#define VVU_DOORBELL_OFFSET      0x0
#define VVU_DOORBELL_MULTIPLIER  4
#define VVU_NOTIFICATION_OFFSET  0x1000
#define VVU_NOTIFICATION_SIZE    4

#define VVU_MAX_VRINGS_LIMIT     256
#define VVU_MAX_SLOTS_LIMIT      509

/* One message being read from a socket, with the fds that came with it. */
#define VVU_MAX_FDS 16
typedef struct VvuInMsg {
    uint8_t buf[VVU_HDR_SIZE + VVU_MAX_MSG_SIZE];
    uint32_t have;      /* bytes in buf */
    int fds[VVU_MAX_FDS];
    int nfds;
    bool complete;      /* parsed and waiting for an rxq buffer */
} VvuInMsg;

/*
 * The memory of one mapped frontend region: a QOM object of its own that owns the
 * MemoryRegion (and through it the RAMBlock, fd and mmap). FlatViews reference a
 * MemoryRegion by referencing its owner, so this object, and the MemoryRegion inside it,
 * live until the last FlatView that maps it is destroyed, whenever that is.
 */
#define TYPE_VVU_REGION_MEM "virtio-vhost-user-region"
OBJECT_DECLARE_SIMPLE_TYPE(VvuRegionMem, VVU_REGION_MEM)

struct VvuRegionMem {
    Object parent_obj;
    MemoryRegion mr;
    /*
     * A log is mapped by the device itself (its file need not be a whole number of pages,
     * which memory_region_init_ram_from_fd refuses): the object owns that mapping too and
     * releases it one RCU grace period after it is finalized.
     */
    void *map;
    size_t map_len;
};

/* A window of BAR 2 holding part of one frontend file. */
typedef struct VvuRegion {
    bool used;
    uint32_t refs;                            /* identical ADD_MEM_REGs not yet removed */
    uint64_t gpa, size, uaddr, mmap_offset;   /* as the frontend sent them */
    uint64_t bar_base, bar_len;               /* the mapping in BAR 2 */
    uint64_t bar_off;                         /* R: where gpa appears */
    uint64_t dev, ino;                        /* file identity */
    VvuRegionMem *mem;                        /* our one reference */
} VvuRegion;

typedef struct VvuVring {
    struct VirtIOVhostUser *s;
    unsigned index;
    EventNotifier kick, call, err;
    bool has_kick, has_call, has_err;
    bool kick_watched;
    uint16_t vector;
} VvuVring;

struct VirtIOVhostUser {
    VirtIODevice parent_obj;

    /* properties */
    CharBackend chr;
    QemuUUID uuid;
    uint32_t max_vhost_queues;
    uint32_t max_mem_slots;
    uint64_t shm_size;
    bool allow_unsealed;     /* map memory the frontend could still shrink */
    bool log_window;         /* offer VVU_F_LOG_WINDOW (dirty logs in BAR 2) */

    VirtQueue *rxq, *txq;
    MemoryRegion bar0;       /* doorbells + notification registers */
    MemoryRegion shm;        /* BAR 2 container */

    uint32_t status;         /* config status field */
    bool connected, armed, reading;
    bool disconnect_pending;
    QEMUBH *disconnect_bh;
    char *disconnect_reason;

    VvuInMsg main_in;        /* from the chardev */
    VvuInMsg bchan_in;       /* from the backend channel */
    int bchan_fd;            /* backend request channel, or -1 */

    VvuVring *vrings;        /* max_vhost_queues entries */
    EventNotifier log_call;
    bool has_log_call;
    uint16_t notification_select;

    VvuRegion *regions;      /* max_mem_slots entries */
    VvuRegion log;           /* the current dirty log (section 6.4) */
    VvuRegion log_prev;      /* the one before: the driver may log there until it switches */
    uint32_t log_gen;
    uint64_t map_generation;

    /* What the driver reads in config space about frontends (spec section 2). */
    uint32_t frontend_gen;
    uint32_t refusals;
    char reason[VVU_REASON_LEN];

    /* error_report budget: a frontend in a reconnect loop must not flood stderr */
    int64_t log_window_ms;
    uint32_t log_in_window;
    uint64_t log_suppressed;
};

#endif
