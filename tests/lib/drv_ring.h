/* SPDX-License-Identifier: MIT */
/*
 * drv_ring: the driver (guest) side of a split virtqueue, for tests.
 *
 * It plays the guest: it owns "guest memory" (a memfd mapped twice, once
 * for the driver and once for the device under test, as two VMs would see
 * it) and writes descriptors, the avail ring and its event fields in
 * guest physical addresses.  It is test code and trusts the device's used
 * ring only as far as the checks below, which fail the test on nonsense.
 */
#ifndef DRV_RING_H
#define DRV_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/virtio_ring.h>

/*
 * Guest memory: one memfd, a driver mapping and a device mapping, each
 * with an inaccessible guard page before and after it.
 */
struct drv_mem {
	int fd;
	size_t size;
	size_t pg;		/* guard page size around each mapping */
	uint8_t *drv;		/* the guest's view */
	uint8_t *dev;		/* the device's view (a different address) */
	uint64_t gpa;		/* guest physical address of byte 0 */
	uint64_t uva;		/* the "frontend" virtual address of byte 0 */
	size_t brk;		/* bump allocator */
};

/* 0 or -errno.  size is rounded up to pages. */
int drv_mem_open(struct drv_mem *m, size_t size, uint64_t gpa, uint64_t uva);
void drv_mem_close(struct drv_mem *m);
/* Offset of a fresh zeroed block; aborts the test process when full. */
size_t drv_mem_alloc(struct drv_mem *m, size_t len, size_t align);

static inline void *drv_ptr(const struct drv_mem *m, size_t off)
{
	return m->drv + off;
}

static inline uint64_t drv_gpa(const struct drv_mem *m, size_t off)
{
	return m->gpa + off;
}

static inline uint64_t drv_uva(const struct drv_mem *m, size_t off)
{
	return m->uva + off;
}

/* One buffer of a chain, in guest physical addresses. */
struct drv_buf {
	uint64_t gpa;
	uint32_t len;
	bool write;		/* device-writable */
};

#define DRV_INDIRECT_MAX 64	/* entries in each head's indirect table */

struct drv_ring {
	struct drv_mem *mem;
	uint16_t size;
	bool event_idx;
	volatile struct vring_desc *desc;
	volatile struct vring_avail *avail;
	volatile struct vring_used *used;
	size_t desc_off, avail_off, used_off;
	size_t ind_off;		/* size tables of DRV_INDIRECT_MAX, or 0 */

	uint16_t avail_idx;	/* our copy of avail->idx */
	uint16_t kicked;	/* avail_idx at the last kick decision */
	uint16_t last_used;	/* next used entry to read */
	uint16_t num_free;
	uint16_t free_head;
	uint16_t *link;		/* our own next pointers (free list, chains) */
	uint16_t *ndesc;	/* descriptors of the chain at each head */

	/*
	 * VIRTIO_F_IN_ORDER (2.7.9): the device may write one used entry for
	 * a batch, with the last chain's head, and move used->idx past all
	 * of it.  drv_get_used() then reads that entry and returns every
	 * chain of the batch in avail order, the last with the entry's len,
	 * the others with 0.
	 */
	bool in_order;
	uint16_t *order;	/* head made available at each avail slot */
	uint16_t batch_left;	/* chains of the current batch not returned */
	uint32_t batch_len;	/* its entry's len */
	unsigned int used_read;	/* used entries read */
};

/*
 * Lay out a ring of size entries in m (with indirect tables when
 * with_indirect) and zero it.  0 or -errno.
 */
int drv_ring_init(struct drv_ring *r, struct drv_mem *m, uint16_t size,
		  bool event_idx, bool with_indirect);
void drv_ring_fini(struct drv_ring *r);

/*
 * Add one chain of n buffers (readable first is the caller's business) and
 * make it available.  With indirect, the chain goes in the head's
 * indirect table.  Returns the head or -ENOSPC.
 */
int drv_add(struct drv_ring *r, const struct drv_buf *b, unsigned int n,
	    bool indirect);

/* Make head available as is (no descriptor written): for hostile tests. */
void drv_post_head(struct drv_ring *r, uint16_t head);

/* Write avail->idx to any value (hostile tests). */
void drv_set_avail_idx(struct drv_ring *r, uint16_t idx);

/* After adding: does the device want a kick (avail_event or NO_NOTIFY)? */
bool drv_kick_needed(struct drv_ring *r);

/*
 * Take the next used entry.  Returns its id (>= 0) with *len, or -1 when
 * none; frees the chain's descriptors.
 */
int drv_get_used(struct drv_ring *r, uint32_t *len);

/* Ask for interrupts (or not): NO_INTERRUPT, or used_event = last_used. */
void drv_set_interrupts(struct drv_ring *r, bool on);

/* Set used_event to any value (EVENT_IDX tests). */
void drv_set_used_event(struct drv_ring *r, uint16_t v);

/* Read the device's avail_event. */
uint16_t drv_avail_event(const struct drv_ring *r);

#endif
