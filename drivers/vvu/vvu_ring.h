/* SPDX-License-Identifier: MIT */
/*
 * vvu_ring: the driver side of a split virtqueue (virtio 1.2, 2.7) for the
 * virtio-vhost-user device's two message queues.  Every buffer is one
 * descriptor, so a descriptor index is a buffer id.  The device writes the
 * used ring and is only semi-trusted: ids and lengths it returns are
 * checked against what we posted, and a rule break marks the ring broken.
 */
#ifndef VVU_RING_H
#define VVU_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/virtio_ring.h>

/* Largest queue we drive (the device offers up to 128). */
#define VVU_RING_MAX 256

struct vvu_ring {
	uint16_t size;			/* power of two, 0 = not set up */
	volatile struct vring_desc *desc;
	volatile struct vring_avail *avail;
	volatile struct vring_used *used;
	uint64_t desc_iova, avail_iova, used_iova;

	uint16_t avail_idx;		/* our copy of avail->idx */
	uint16_t last_used;		/* next used entry to read */
	uint16_t num_free;
	uint16_t free_top;		/* free ids are free[0 .. free_top) */
	uint16_t free[VVU_RING_MAX];
	struct {
		void *cookie;
		uint32_t len;		/* buffer length we posted */
		bool busy;
		bool writable;
	} slot[VVU_RING_MAX];

	uint64_t kicks;
	bool broken;
	char why[96];
};

/* Bytes of ring memory for size entries (desc, avail, then used at 4 KiB). */
size_t vvu_ring_mem_size(uint16_t size);

/*
 * Lay a ring of size entries (power of two, 1..VVU_RING_MAX) over mem,
 * which is vvu_ring_mem_size(size) bytes at device address iova, aligned
 * to 4 KiB, and zero it.  0 or -EINVAL.
 */
int vvu_ring_init(struct vvu_ring *r, uint16_t size, void *mem, uint64_t iova);

/*
 * Post one buffer [iova, iova + len) (device-writable when writable) with
 * a cookie handed back by vvu_ring_get_used().  Visible to the device at
 * once.  0, -ENOSPC (ring full) or -EIO (ring broken).
 */
int vvu_ring_add(struct vvu_ring *r, uint64_t iova, uint32_t len,
		 bool writable, void *cookie);

/* Does the device want a notification (VRING_USED_F_NO_NOTIFY clear)? */
bool vvu_ring_kick_needed(const struct vvu_ring *r);

/*
 * Take the next used buffer.  Returns 1 with *cookie and *len (for a
 * writable buffer the bytes the device wrote, at most what was posted; 0
 * for a readable one); 0 when none; -EIO when the device returned an id we
 * did not post, a length over the buffer, or more entries than in flight
 * (the ring is then broken and stays so until vvu_ring_init()).
 */
int vvu_ring_get_used(struct vvu_ring *r, void **cookie, uint32_t *len);

/* Ask for used-buffer interrupts (on) or not (VRING_AVAIL_F_NO_INTERRUPT). */
void vvu_ring_set_interrupts(struct vvu_ring *r, bool on);

/* Buffers posted and not yet returned. */
static inline uint16_t vvu_ring_in_flight(const struct vvu_ring *r)
{
	return (uint16_t)(r->size - r->num_free);
}

#endif
