/* SPDX-License-Identifier: MIT */
/*
 * vvu_ring: driver-side split virtqueue for the message queues.
 *
 * Security model: the device (QEMU) is semi-trusted and writes the used
 * ring in shared memory.  used->idx and each used element are read once
 * into locals; an id must name a buffer we posted and have not got back,
 * and a length must not exceed that buffer.  Anything else breaks the
 * ring instead of corrupting our free list or reading past a buffer.
 */
#include "vvu_ring.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define RING_ALIGN 4096u

static size_t align_up(size_t v, size_t a)
{
	return (v + a - 1) & ~(a - 1);
}

static size_t used_offset(uint16_t size)
{
	size_t avail_end = sizeof(struct vring_desc) * size +
			   sizeof(uint16_t) * (3u + size);

	return align_up(avail_end, RING_ALIGN);
}

size_t vvu_ring_mem_size(uint16_t size)
{
	return used_offset(size) +
	       align_up(sizeof(uint16_t) * 3u + sizeof(struct vring_used_elem) * size,
			RING_ALIGN);
}

static void ring_break(struct vvu_ring *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void ring_break(struct vvu_ring *r, const char *fmt, ...)
{
	va_list ap;

	if (r->broken)
		return;
	r->broken = true;
	va_start(ap, fmt);
	vsnprintf(r->why, sizeof(r->why), fmt, ap);
	va_end(ap);
}

int vvu_ring_init(struct vvu_ring *r, uint16_t size, void *mem, uint64_t iova)
{
	uint8_t *base = mem;

	memset(r, 0, sizeof(*r));
	if (size == 0 || size > VVU_RING_MAX || (size & (size - 1)) ||
	    ((uintptr_t)mem & (RING_ALIGN - 1)) || (iova & (RING_ALIGN - 1)))
		return -EINVAL;
	memset(mem, 0, vvu_ring_mem_size(size));
	r->size = size;
	r->desc = (volatile struct vring_desc *)(void *)base;
	r->avail = (volatile struct vring_avail *)(void *)
		   (base + sizeof(struct vring_desc) * size);
	r->used = (volatile struct vring_used *)(void *)(base + used_offset(size));
	r->desc_iova = iova;
	r->avail_iova = iova + sizeof(struct vring_desc) * size;
	r->used_iova = iova + used_offset(size);
	r->num_free = size;
	r->free_top = size;
	for (uint16_t i = 0; i < size; i++)
		r->free[i] = (uint16_t)(size - 1 - i);
	return 0;
}

int vvu_ring_add(struct vvu_ring *r, uint64_t iova, uint32_t len,
		 bool writable, void *cookie)
{
	uint16_t id;

	if (r->broken || !r->size)
		return -EIO;
	if (!r->free_top)
		return -ENOSPC;
	id = r->free[--r->free_top];
	r->num_free--;
	r->slot[id].cookie = cookie;
	r->slot[id].len = len;
	r->slot[id].busy = true;
	r->slot[id].writable = writable;
	r->desc[id].addr = iova;
	r->desc[id].len = len;
	r->desc[id].flags = writable ? VRING_DESC_F_WRITE : 0;
	r->desc[id].next = 0;
	r->avail->ring[r->avail_idx & (r->size - 1)] = id;
	/* virtio 1.2, 2.7.13.2: the entry before the index. */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	r->avail_idx++;
	r->avail->idx = r->avail_idx;
	return 0;
}

bool vvu_ring_kick_needed(const struct vvu_ring *r)
{
	/* The index store before the flags load (virtio 1.2, 2.7.13.3). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return !(r->used->flags & VRING_USED_F_NO_NOTIFY);
}

int vvu_ring_get_used(struct vvu_ring *r, void **cookie, uint32_t *len)
{
	uint16_t used_idx, pending;
	uint32_t id, ulen;

	if (r->broken || !r->size)
		return r->broken ? -EIO : 0;
	used_idx = r->used->idx;
	pending = (uint16_t)(used_idx - r->last_used);
	if (!pending)
		return 0;
	if (pending > vvu_ring_in_flight(r)) {
		ring_break(r, "used idx %u is %u ahead with %u in flight",
			   used_idx, pending, vvu_ring_in_flight(r));
		return -EIO;
	}
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	id = r->used->ring[r->last_used & (r->size - 1)].id;
	ulen = r->used->ring[r->last_used & (r->size - 1)].len;
	if (id >= r->size || !r->slot[id].busy) {
		ring_break(r, "used id %u was not posted", id);
		return -EIO;
	}
	if (r->slot[id].writable ? ulen > r->slot[id].len : false) {
		ring_break(r, "used len %u over buffer %u of id %u", ulen,
			   r->slot[id].len, id);
		return -EIO;
	}
	r->last_used++;
	r->slot[id].busy = false;
	r->free[r->free_top++] = (uint16_t)id;
	r->num_free++;
	*cookie = r->slot[id].cookie;
	*len = r->slot[id].writable ? ulen : 0;
	return 1;
}

void vvu_ring_set_interrupts(struct vvu_ring *r, bool on)
{
	if (!r->size)
		return;
	r->avail->flags = on ? 0 : VRING_AVAIL_F_NO_INTERRUPT;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}
