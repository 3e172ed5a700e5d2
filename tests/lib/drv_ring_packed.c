/* SPDX-License-Identifier: MIT */
/*
 * drv_ring_packed: the driver (guest) side of a packed virtqueue, for
 * tests.  Written from the virtio 1.2 spec (2.8.21, "Driver Notes"),
 * independently of the device code it tests.  Trusts the device only for
 * the used ids it returns, which it checks against the buffers it made
 * available.
 */
#include "drv_ring_packed.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define F_AVAIL (1u << VRING_PACKED_DESC_F_AVAIL)
#define F_USED (1u << VRING_PACKED_DESC_F_USED)

uint16_t drvp_avail_flags(bool w)
{
	return (uint16_t)(w ? F_AVAIL : F_USED);
}

int drvp_init(struct drvp_ring *r, struct drv_mem *m, uint16_t size,
	      bool event_idx, bool with_indirect)
{
	memset(r, 0, sizeof(*r));
	if (size == 0 || size > 32768)
		return -EINVAL;
	r->mem = m;
	r->size = size;
	r->event_idx = event_idx;
	r->desc_off = drv_mem_alloc(m, 16 * (size_t)size, 16);
	r->drv_ev_off = drv_mem_alloc(m, 4, 4);
	r->dev_ev_off = drv_mem_alloc(m, 4, 4);
	if (with_indirect)
		r->ind_off = drv_mem_alloc(m, (size_t)size * DRV_INDIRECT_MAX * 16, 16);
	r->desc = drv_ptr(m, r->desc_off);
	r->drv_ev = drv_ptr(m, r->drv_ev_off);
	r->dev_ev = drv_ptr(m, r->dev_ev_off);
	r->ndesc = calloc(size, sizeof(*r->ndesc));
	r->head_id = calloc(size, sizeof(*r->head_id));
	if (!r->ndesc || !r->head_id) {
		drvp_fini(r);
		return -ENOMEM;
	}
	r->batch_end = -1;
	r->avail_wrap = true;	/* 2.8.1: both counters start at 1 */
	r->used_wrap = true;
	r->kicked = 1u << 15;
	r->num_free = size;
	return 0;
}

void drvp_fini(struct drvp_ring *r)
{
	free(r->ndesc);
	free(r->head_id);
	r->ndesc = NULL;
	r->head_id = NULL;
}

/* A free id, or -1. */
static int get_id(struct drvp_ring *r)
{
	for (unsigned int k = 0; k < r->size; k++) {
		uint16_t id = (uint16_t)((r->next_id + k) % r->size);

		if (!r->ndesc[id]) {
			r->next_id = (uint16_t)((id + 1) % r->size);
			return id;
		}
	}
	return -1;
}

int drvp_add(struct drvp_ring *r, const struct drv_buf *b, unsigned int n,
	     bool indirect)
{
	uint16_t head = r->next_avail, pos = head, head_flags = 0;
	unsigned int used = indirect ? 1 : n;
	bool wrap = r->avail_wrap;
	int id;

	if (n == 0 || used > r->num_free || (indirect && (!r->ind_off || n > DRV_INDIRECT_MAX)))
		return -ENOSPC;
	id = get_id(r);
	if (id < 0)
		return -ENOSPC;
	if (indirect) {
		size_t t = r->ind_off + (size_t)id * DRV_INDIRECT_MAX * 16;
		volatile struct vring_packed_desc *e = drv_ptr(r->mem, t);

		for (unsigned int i = 0; i < n; i++) {
			e[i].addr = b[i].gpa;
			e[i].len = b[i].len;
			e[i].id = 0;
			e[i].flags = b[i].write ? VRING_DESC_F_WRITE : 0;
		}
		r->desc[pos].addr = drv_gpa(r->mem, t);
		r->desc[pos].len = (uint32_t)(n * 16);
		r->desc[pos].id = (uint16_t)id;
		head_flags = (uint16_t)(VRING_DESC_F_INDIRECT | drvp_avail_flags(wrap));
		pos++;
	} else {
		for (unsigned int i = 0; i < n; i++) {
			uint16_t f = (uint16_t)((b[i].write ? VRING_DESC_F_WRITE : 0) |
						(i + 1 < n ? VRING_DESC_F_NEXT : 0) |
						drvp_avail_flags(wrap));

			r->desc[pos].addr = b[i].gpa;
			r->desc[pos].len = b[i].len;
			r->desc[pos].id = (uint16_t)id;
			if (i == 0)
				head_flags = f;
			else
				r->desc[pos].flags = f;
			if (++pos == r->size) {
				pos = 0;
				wrap = !wrap;
			}
		}
	}
	if (pos == r->size) {
		pos = 0;
		wrap = !wrap;
	}
	r->ndesc[id] = (uint16_t)used;
	r->head_id[head] = (uint16_t)id;
	r->num_free = (uint16_t)(r->num_free - used);
	r->next_avail = pos;
	r->avail_wrap = wrap;
	/* Everything else before the head's flags (2.8.21.1). */
	__atomic_store_n(&r->desc[head].flags, head_flags, __ATOMIC_RELEASE);
	return id;
}

void drvp_desc(struct drvp_ring *r, uint16_t pos, uint64_t addr, uint32_t len,
	       uint16_t id, uint16_t flags, bool mark, bool wrap)
{
	r->desc[pos].addr = addr;
	r->desc[pos].len = len;
	r->desc[pos].id = id;
	if (mark)
		flags = (uint16_t)(flags | drvp_avail_flags(wrap));
	__atomic_store_n(&r->desc[pos].flags, flags, __ATOMIC_RELEASE);
}

bool drvp_kick_needed(struct drvp_ring *r)
{
	uint16_t old = r->kicked;
	uint16_t now = (uint16_t)(r->next_avail | r->avail_wrap << 15);
	uint16_t flags, off_wrap, off, o, n;

	/* Our flag stores before reading the device's wishes. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	r->kicked = now;
	flags = r->dev_ev->flags;
	if (flags == VRING_PACKED_EVENT_FLAG_DISABLE)
		return false;
	if (flags != VRING_PACKED_EVENT_FLAG_DESC)
		return true;
	off_wrap = r->dev_ev->off_wrap;
	/* Bring event and old position into the lap of now (2.8.10). */
	off = off_wrap & 0x7fff;
	o = old & 0x7fff;
	n = now & 0x7fff;
	if ((old >> 15) != (now >> 15))
		o = (uint16_t)(o - r->size);
	if ((off_wrap >> 15) != (now >> 15))
		off = (uint16_t)(off - r->size);
	return (uint16_t)(n - off - 1) < (uint16_t)(n - o);
}

int drvp_get_used(struct drvp_ring *r, uint32_t *len)
{
	volatile struct vring_packed_desc *d = &r->desc[r->last_used];
	uint16_t flags = __atomic_load_n(&d->flags, __ATOMIC_ACQUIRE);
	bool a = flags & F_AVAIL, u = flags & F_USED;
	uint16_t id = 0, n;

	if (r->batch_end < 0) {
		if (a != r->used_wrap || u != r->used_wrap)
			return -1;
		id = d->id;
		*len = d->len;
		r->used_read++;
		if (id >= r->size || r->ndesc[id] == 0) {
			fprintf(stderr, "drvp_get_used: device returned bad id %u\n", id);
			abort();	/* a device bug: fail the test loudly */
		}
		if (r->in_order) {
			r->batch_end = id;
			r->batch_len = *len;
		}
	}
	if (r->batch_end >= 0) {
		/* in order: the chain at last_used, up to the batch's last */
		id = r->head_id[r->last_used];
		if (r->ndesc[id] == 0) {
			fprintf(stderr, "drvp_get_used: batch up to id %d passes a free one\n",
				r->batch_end);
			abort();
		}
		*len = id == r->batch_end ? r->batch_len : 0;
		if (id == r->batch_end)
			r->batch_end = -1;
	}
	n = r->ndesc[id];
	r->ndesc[id] = 0;
	r->num_free = (uint16_t)(r->num_free + n);
	r->last_used = (uint16_t)(r->last_used + n);
	if (r->last_used >= r->size) {
		r->last_used = (uint16_t)(r->last_used - r->size);
		r->used_wrap = !r->used_wrap;
	}
	return id;
}

void drvp_set_interrupts(struct drvp_ring *r, bool on)
{
	r->drv_ev->flags = on ? VRING_PACKED_EVENT_FLAG_ENABLE :
				VRING_PACKED_EVENT_FLAG_DISABLE;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

void drvp_set_used_event(struct drvp_ring *r, uint16_t off_wrap)
{
	r->drv_ev->off_wrap = off_wrap;
	__atomic_store_n(&r->drv_ev->flags, VRING_PACKED_EVENT_FLAG_DESC,
			 __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}
