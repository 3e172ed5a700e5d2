/* SPDX-License-Identifier: MIT */
/*
 * vvu_pci: the virtio-vhost-user PCI device (docs/virtio-vhost-user.md)
 * through DPDK's PCI bus with vfio-pci: modern virtio-pci capabilities,
 * feature negotiation, the rxq/txq message queues, MSI-X vectors as
 * eventfds, the device configuration.  The device is semi-trusted: every
 * capability is bounds-checked against its BAR before use, and what it
 * returns in the queues is checked by vvu_ring and vvu_msg.
 */
#ifndef VVU_PCI_H
#define VVU_PCI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vu_proto.h"
#include "vvu_msg.h"
#include "vvu_ring.h"
#include "vvu_transport.h"

#define VVU_PCI_VENDOR 0x1af4
#define VVU_PCI_DEVICE 0x107a

#define VVU_QSIZE 32			/* entries in rxq and txq */

/* Device configuration, spec section 2. */
#define VVU_CFG_STATUS 0x00
#define VVU_CFG_MAX_VHOST_QUEUES 0x04
#define VVU_CFG_UUID 0x08
#define VVU_CFG_MAX_MEM_SLOTS 0x18
#define VVU_CFG_MAX_MSG_SIZE 0x1c
#define VVU_CFG_SIZE 0x20
/* Extended configuration: frontend generation and the device's refusals. */
#define VVU_CFG_FRONTEND_GEN 0x20
#define VVU_CFG_REFUSALS 0x24
#define VVU_CFG_REASON 0x28
#define VVU_CFG_REASON_LEN 128
#define VVU_CFG_EXT_SIZE 0xa8
/* The dirty log window (spec 6.4), with VVU_F_LOG_WINDOW. */
#define VVU_CFG_LOG_GEN 0xa8
#define VVU_CFG_LOG_OFFSET 0xb0
#define VVU_CFG_LOG_SIZE 0xb8
#define VVU_CFG_LOG_END 0xc0
#define VVU_F_LOG_WINDOW 0		/* device feature bit: logs in BAR 2 */
#define VVU_STATUS_BACKEND_UP (1u << 0)
#define VVU_STATUS_FRONTEND_UP (1u << 1)

/* MSI-X vectors we use (spec 4.2 lets any vector be shared). */
#define VVU_VEC_CONFIG 0
#define VVU_VEC_RXQ 1
#define VVU_VEC_TXQ 2
#define VVU_VEC_FIRST_KICK 3

struct rte_pci_device;
struct rte_memzone;

struct vvu_pci {
	struct rte_pci_device *pdev;
	char name[32];

	volatile uint8_t *common;	/* virtio common configuration */
	volatile uint8_t *isr;
	volatile uint8_t *devcfg;
	volatile uint8_t *notify;
	uint32_t notify_len, notify_mult;
	uint32_t devcfg_len;

	struct vvu_hw hw;		/* what the transport needs */
	uint8_t uuid[16];
	uint32_t max_mem_slots;
	uint64_t features;		/* negotiated */
	bool msix;			/* vectors are live eventfds */

	struct vvu_ring rxq, txq;
	volatile uint16_t *rxq_notify, *txq_notify;
	const struct rte_memzone *mz;
	uint8_t *rxbuf, *txbuf;		/* VVU_QSIZE slots of VVU_BUF_STRIDE */
	uint64_t rxbuf_iova, txbuf_iova;
	uint8_t tx_busy[VVU_QSIZE];
	struct vvu_backlog backlog;	/* replies waiting for a txq buffer */
	bool tx_overflow;		/* the backlog overflowed: the device is stuck */

	uint64_t rx_msgs, tx_msgs, rx_bad;
	char last_error[160];
};

/*
 * Bring the device up to DRIVER_OK with rxq buffers posted (spec 8, steps
 * 1-2).  BACKEND_UP is left to the caller.  0 or -errno with
 * p->last_error set; on failure nothing is left allocated.
 */
int vvu_pci_init(struct vvu_pci *p, struct rte_pci_device *pdev);

/* Reset the device (spec 5 step 1), free queues and vectors. */
void vvu_pci_fini(struct vvu_pci *p);

/* The status field of the device configuration. */
uint32_t vvu_pci_status(const struct vvu_pci *p);
void vvu_pci_set_status(struct vvu_pci *p, uint32_t v);

/*
 * The count of frontends that came up (spec section 2).  false when the
 * device has no extended configuration.
 */
bool vvu_pci_frontend_gen(const struct vvu_pci *p, uint32_t *gen);

/*
 * How many frontends the device itself disconnected for cause, and why it
 * disconnected the last (NUL-terminated, at most n - 1 bytes, printable
 * ASCII only).  Returns the count, 0 without extended configuration.
 */
uint32_t vvu_pci_refusals(const struct vvu_pci *p, char *why, size_t n);

/* The device set NEEDS_RESET (virtio 1.2, 2.1.2), or reads back garbage. */
bool vvu_pci_needs_reset(const struct vvu_pci *p);

/*
 * Take the next message from the rxq and re-post its buffer.  Returns 1
 * with *m, *len and *kind filled; 0 when none is waiting; -EPROTO or
 * -EMSGSIZE for a message that broke framing (the buffer is re-posted and
 * the message dropped); -EIO when the device broke the ring.
 */
int vvu_pci_recv(struct vvu_pci *p, struct vu_msg *m, size_t *len,
		 enum vvu_msg_kind *kind);

/* Discard every used rxq buffer and re-post it (spec 5 step 5). */
void vvu_pci_rx_drain(struct vvu_pci *p);

/*
 * Put one message on the txq and notify the device; backend_channel sets
 * bit 31.  Never waits: with no free txq buffer (or replies waiting) the
 * message joins the backlog, which vvu_pci_tx_flush() empties later.
 * 0, -ENOBUFS when the backlog is full (tx_overflow is then set: the
 * device takes nothing back), -EIO when the txq is broken, or the
 * framing errors of vvu_msg_build().
 */
int vvu_pci_send(struct vvu_pci *p, const void *buf, size_t len,
		 bool backend_channel);

/* Move waiting replies to free txq buffers.  Returns how many still wait. */
unsigned int vvu_pci_tx_flush(struct vvu_pci *p);

/* Forget waiting replies and the overflow (the frontend is gone). */
void vvu_pci_tx_reset(struct vvu_pci *p);

/* The eventfd MSI-X vector v signals, or -1 (polling). */
int vvu_pci_vector_fd(const struct vvu_pci *p, unsigned int v);

/* Clear an eventfd's count without blocking; true when it was signalled. */
bool vvu_pci_fd_take(int fd);

#endif
