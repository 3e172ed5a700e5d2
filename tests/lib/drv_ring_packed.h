/* SPDX-License-Identifier: MIT */
/*
 * drv_ring_packed: the driver (guest) side of a packed virtqueue, for
 * tests, over the same twice-mapped guest memory as drv_ring (drv_mem).
 * It writes descriptors, the avail/used flags with its wrap counter and
 * the driver event area, and reads used descriptors back.  Test code: it
 * trusts the device only as far as the checks in drvp_get_used(), which
 * fail the test on nonsense.
 */
#ifndef DRV_RING_PACKED_H
#define DRV_RING_PACKED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/virtio_ring.h>

#include "drv_ring.h"

struct drvp_ring {
	struct drv_mem *mem;
	uint16_t size;
	bool event_idx;
	volatile struct vring_packed_desc *desc;
	volatile struct vring_packed_desc_event *drv_ev;	/* we write */
	volatile struct vring_packed_desc_event *dev_ev;	/* device writes */
	size_t desc_off, drv_ev_off, dev_ev_off;
	size_t ind_off;		/* size tables of DRV_INDIRECT_MAX, or 0 */

	uint16_t next_avail;	/* ring position of the next chain */
	bool avail_wrap;
	uint16_t kicked;	/* next_avail | wrap << 15 at the last kick */
	uint16_t last_used;	/* ring position of the next used entry */
	bool used_wrap;
	uint16_t num_free;	/* ring descriptors we may still use */
	uint16_t *ndesc;	/* per id: ring descriptors of its chain, 0 free */
	uint16_t next_id;	/* ids are handed out round robin */

	/*
	 * VIRTIO_F_IN_ORDER: a used descriptor may stand for every chain from
	 * last_used up to the one with its id (2.8.20).  drvp_get_used() then
	 * returns those chains one by one, the skipped ones with len 0.
	 */
	bool in_order;
	uint16_t *head_id;	/* per ring position: id of the chain that starts there */
	int batch_end;		/* id ending the batch being returned, or -1 */
	uint32_t batch_len;	/* its used length */
	unsigned int used_read;	/* used descriptors read (not skipped) */
};

/* Lay out a packed ring of size (any 1..32768) in m; 0 or -errno. */
int drvp_init(struct drvp_ring *r, struct drv_mem *m, uint16_t size,
	      bool event_idx, bool with_indirect);
void drvp_fini(struct drvp_ring *r);

/*
 * Make one chain of n buffers available, in n ring descriptors (or one,
 * pointing at an indirect table).  The head's flags are written last.
 * Returns the buffer id or -ENOSPC.
 */
int drvp_add(struct drvp_ring *r, const struct drv_buf *b, unsigned int n,
	     bool indirect);

/*
 * Write ring descriptor pos raw (hostile tests); flags as given, plus
 * the avail/used bits for wrap when mark is set.
 */
void drvp_desc(struct drvp_ring *r, uint16_t pos, uint64_t addr, uint32_t len,
	       uint16_t id, uint16_t flags, bool mark, bool wrap);

/* The flags that make a descriptor available for wrap counter w. */
uint16_t drvp_avail_flags(bool w);

/* After adding: does the device want a kick (its event suppression)? */
bool drvp_kick_needed(struct drvp_ring *r);

/* Next used buffer: its id (>= 0) with *len, or -1 when none. */
int drvp_get_used(struct drvp_ring *r, uint32_t *len);

/* Ask for used-buffer notifications: ENABLE / DISABLE. */
void drvp_set_interrupts(struct drvp_ring *r, bool on);

/* Ask for one at a given position (EVENT_IDX): flags DESC, off_wrap. */
void drvp_set_used_event(struct drvp_ring *r, uint16_t off_wrap);

#endif
