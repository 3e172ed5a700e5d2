/* SPDX-License-Identifier: MIT */
/*
 * vq: the device side of a split virtqueue (virtio 1.2, section 2.7), the
 * per-descriptor checks both layouts share, and the one branch that sends
 * a packed queue to vq_packed.c.
 *
 * Security model: the descriptor table, the available ring and every
 * indirect table are written by a peer VM that may be hostile and may
 * change them while we read.  Each descriptor is copied to a local once and
 * only the copy is checked and used; avail->idx and each avail ring entry
 * are read once.  Every address is translated through vu_mem with
 * overflow-checked arithmetic, so nothing here can reach outside the
 * peer's regions.  We trust only our own state in struct vq.
 */
#include "vq.h"
#include "vq_priv.h"

#include <errno.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <linux/virtio_ring.h>

/* vq.h's inline vq_push() writes these; they must be the spec's. */
_Static_assert(sizeof(struct vq_used_elem) == sizeof(struct vring_used_elem) &&
	       offsetof(struct vq_used_elem, len) == offsetof(struct vring_used_elem, len),
	       "vq_used_elem is not the split used ring entry");
_Static_assert(sizeof(struct vq_desc) == sizeof(struct vring_desc) &&
	       offsetof(struct vq_desc, len) == offsetof(struct vring_desc, len) &&
	       offsetof(struct vq_desc, flags) == offsetof(struct vring_desc, flags),
	       "vq_desc is not the split descriptor");
_Static_assert(sizeof(struct vq_pdesc) == sizeof(struct vring_packed_desc) &&
	       offsetof(struct vq_pdesc, len) == offsetof(struct vring_packed_desc, len) &&
	       offsetof(struct vq_pdesc, id) == offsetof(struct vring_packed_desc, id) &&
	       offsetof(struct vq_pdesc, flags) == offsetof(struct vring_packed_desc, flags),
	       "vq_pdesc is not the packed descriptor");
_Static_assert(VQ_PK_F_AVAIL == 1u << VRING_PACKED_DESC_F_AVAIL &&
	       VQ_PK_F_USED == 1u << VRING_PACKED_DESC_F_USED,
	       "packed descriptor flags");

/*
 * The longest indirect table we walk.  The spec bounds a chain by the
 * queue size (2.7.13.1); Linux guests stay within it except on tiny rings,
 * where a virtio-net TX chain may still take MAX_SKB_FRAGS + 2 (< 64)
 * entries, so small rings get VQ_MAX_IOV.
 */
static unsigned int indirect_max(const struct vq *vq)
{
	return vq->size > VQ_MAX_IOV ? vq->size : VQ_MAX_IOV;
}

void vq_break(struct vq *vq, const char *fmt, ...)
{
	va_list ap;

	if (vq->broken)
		return;		/* the first reason is the one that matters */
	vq->broken = true;
	vq->fast = false;
	vq->fast_pk = false;
	va_start(ap, fmt);
	vsnprintf(vq->why, sizeof(vq->why), fmt, ap);
	va_end(ap);
}

static int setup_fail(struct vq *vq, const char *what)
{
	memset(vq, 0, sizeof(*vq));
	snprintf(vq->why, sizeof(vq->why), "%s", what);
	return -EINVAL;
}

/* Translate one ring: all of [uva, uva+len) in one region, aligned. */
static volatile void *ring_map(const struct vu_mem *mem, uint64_t uva,
			       uint64_t len, uint64_t align)
{
	uint8_t *p;

	if (uva & (align - 1))
		return NULL;
	p = vu_mem_uva_full(mem, uva, len);
	if (!p || ((uintptr_t)p & (align - 1)))
		return NULL;
	return p;
}

int vq_setup(struct vq *vq, const struct vu_mem *mem, uint16_t size,
	     uint64_t desc_uva, uint64_t avail_uva, uint64_t used_uva,
	     uint16_t last_avail, bool event_idx, bool indirect)
{
	uint64_t n = size;
	volatile void *d, *a, *u;

	memset(vq, 0, sizeof(*vq));
	if (size == 0 || (size & (size - 1)) || size > VQ_MAX_SIZE)
		return setup_fail(vq, "queue size not a power of two <= 32768");
	/* Sizes and alignments of 2.7 table "Virtqueue Part Alignment". */
	d = ring_map(mem, desc_uva, 16 * n, 16);
	if (!d)
		return setup_fail(vq, "descriptor table outside memory or misaligned");
	a = ring_map(mem, avail_uva, 4 + 2 * n + 2, 2);
	if (!a)
		return setup_fail(vq, "avail ring outside memory or misaligned");
	u = ring_map(mem, used_uva, 4 + 8 * n + 2, 4);
	if (!u)
		return setup_fail(vq, "used ring outside memory or misaligned");

	vq->desc = d;
	vq->avail = a;
	vq->used = u;
	/* Each lies in one region: the translations cannot fail. */
	vu_mem_uva_to_gpa(mem, desc_uva, &vq->gpa_desc);
	vu_mem_uva_to_gpa(mem, avail_uva, &vq->gpa_drv);
	vu_mem_uva_to_gpa(mem, used_uva, &vq->gpa_dev);
	vq->mem = mem;
	vq->event_idx = event_idx;
	vq->indirect = indirect;
	vq->last_avail = last_avail;
	vq->avail_shadow = last_avail;
	vq->avail_mine = last_avail;
	vq->used_idx = vq->used->idx;
	vq->published = vq->used_idx;
	vq->signalled = vq->used_idx;
	vq->signalled_valid = false;
	vq->avail_ring = vq->avail->ring;
	vq->used_ring = (volatile struct vq_used_elem *)vq->used->ring;
	vq->size = size;
	vq->fast = true;
	return 0;
}

int vq_setup_packed(struct vq *vq, const struct vu_mem *mem, uint16_t size,
		    uint64_t desc_uva, uint64_t driver_uva, uint64_t device_uva,
		    uint16_t base, bool event_idx, bool indirect)
{
	uint16_t pos = base & 0x7fff;
	volatile void *d, *a, *u;

	memset(vq, 0, sizeof(*vq));
	if (size == 0 || size > VQ_MAX_SIZE)
		return setup_fail(vq, "queue size not in 1..32768");
	if (pos >= size)
		return setup_fail(vq, "vring base past the end of the ring");
	/* 2.8.10.1 "Structure Size and Alignment". */
	d = ring_map(mem, desc_uva, 16 * (uint64_t)size, 16);
	if (!d)
		return setup_fail(vq, "descriptor ring outside memory or misaligned");
	a = ring_map(mem, driver_uva, 4, 4);
	if (!a)
		return setup_fail(vq, "driver event area outside memory or misaligned");
	u = ring_map(mem, device_uva, 4, 4);
	if (!u)
		return setup_fail(vq, "device event area outside memory or misaligned");

	vq->pk.desc = d;
	vq->pk.drv_ev = a;
	vq->pk.dev_ev = u;
	vu_mem_uva_to_gpa(mem, desc_uva, &vq->gpa_desc);
	vu_mem_uva_to_gpa(mem, driver_uva, &vq->gpa_drv);
	vu_mem_uva_to_gpa(mem, device_uva, &vq->gpa_dev);
	vq->mem = mem;
	vq->packed = true;
	vq->event_idx = event_idx;
	vq->indirect = indirect;
	vq->last_avail = pos;
	vq->used_idx = pos;
	vq->pk.avail_wrap = base >> 15;
	vq->pk.used_wrap = base >> 15;
	vq->published = base;
	vq->signalled = base;
	vq->signalled_valid = false;
	vq->size = size;
	vq->fast_pk = true;
	return 0;
}

uint16_t vq_base(const struct vq *vq)
{
	if (vq->packed)
		return (uint16_t)(vq->last_avail | vq->pk.avail_wrap << 15);
	return vq->last_avail;
}

void vq_reset(struct vq *vq)
{
	memset(vq, 0, sizeof(*vq));
}

/*
 * Read avail->idx once, with acquire ordering so that ring entries and
 * descriptors read afterwards are at least as new.  The driver may only
 * move it forward by at most size past what we consumed (2.7.6).
 * Returns false when it broke that rule (the queue is now broken).
 */
static bool avail_refresh(struct vq *vq)
{
	uint16_t idx = __atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE);

	/* Re-reading an index the driver has not moved costs no transfer. */
	if (idx != vq->avail_shadow)
		VQ_TOUCH(vq, &vq->avail->idx, 2, VQ_LINE_IDX);

	if ((uint16_t)(idx - vq->last_avail) > vq->size) {
		vq_break(vq, "avail idx %u is more than %u ahead of %u",
			 idx, vq->size, vq->last_avail);
		return false;
	}
	vq->avail_shadow = idx;
	vq->avail_mine = vq->last_avail;
	return true;
}

uint16_t vq_avail_count(struct vq *vq)
{
	if (vq->packed)
		return vqp_avail_count(vq);
	if (!vq_ready(vq) || !avail_refresh(vq))
		return 0;
	return (uint16_t)(vq->avail_shadow - vq->last_avail);
}

/*
 * Switch the walk to the indirect table of the descriptor (addr, len,
 * has_next).  Both layouts' tables hold 16-byte entries.  0 or -EIO.
 */
int vq_enter_indirect(struct vq *vq, struct vq_walk *w, uint64_t addr,
		      uint32_t len, bool has_next)
{
	const uint8_t *t;

	if (!vq->indirect) {
		vq_break(vq, "indirect descriptor but INDIRECT_DESC not negotiated");
		return -EIO;
	}
	if (w->in_indirect) {
		vq_break(vq, "indirect descriptor inside an indirect table");
		return -EIO;
	}
	if (has_next) {
		vq_break(vq, "indirect descriptor with NEXT set");
		return -EIO;
	}
	if (len == 0 || len % 16 || len / 16 > indirect_max(vq)) {
		vq_break(vq, "indirect table length %u invalid", len);
		return -EIO;
	}
	t = vu_mem_gpa_full(vq->mem, addr, len);
	if (!t) {
		vq_break(vq, "indirect table 0x%llx+%u not inside one region",
			 (unsigned long long)addr, len);
		return -EIO;
	}
	w->table = t;
	w->entries = len / 16;
	w->seen = 0;
	w->in_indirect = true;
	return 0;
}

/*
 * The one walker of descriptor chains (2.7.5, 2.7.5.3).  Every step reads
 * a descriptor once into d; the loop is bounded by the number of entries
 * of the table being walked, which also catches loops.
 */
static int walk_chain(struct vq *vq, struct vq_chain *c, uint16_t head)
{
	struct vq_walk w = {
		.table = (const volatile uint8_t *)vq->desc,
		.entries = vq->size,
	};
	unsigned int i = head;
	struct vring_desc d;
	int rc;

	c->head = head;
	c->n_out = c->n_in = 0;
	c->out_len = c->in_len = 0;
	if (i >= vq->size) {
		vq_break(vq, "head index %u out of ring of %u", i, vq->size);
		return -EIO;
	}
	for (;;) {
		if (++w.seen > w.entries) {
			vq_break(vq, "descriptor chain longer than its table (%u)",
				 w.entries);
			return -EIO;
		}
		vq_desc_fetch(w.table + (size_t)i * sizeof(d), &d);
		VQ_TOUCH(vq, w.table + (size_t)i * sizeof(d), sizeof(d), VQ_LINE_DESC);
		if (d.flags & VRING_DESC_F_INDIRECT) {
			rc = vq_enter_indirect(vq, &w, d.addr, d.len,
					       d.flags & VRING_DESC_F_NEXT);
			if (rc)
				return rc;
			i = 0;
			continue;
		}
		rc = vq_add_buffer(vq, &w, c, d.addr, d.len,
				   d.flags & VRING_DESC_F_WRITE);
		if (rc)
			return rc;
		if (!(d.flags & VRING_DESC_F_NEXT))
			break;
		i = d.next;
		if (i >= w.entries) {
			vq_break(vq, "next index %u out of table of %u",
				 i, w.entries);
			return -EIO;
		}
	}
	return w.too_big ? -EMSGSIZE : 1;
}

int vq_pop_walk(struct vq *vq, struct vq_chain *c)
{
	uint16_t head;
	int rc;

	if (vq->packed)
		return vqp_pop(vq, c);
	if (!vq_ready(vq))
		return -EIO;
	/* Re-read when used up, or when our owner moved last_avail. */
	if (vq->last_avail == vq->avail_shadow ||
	    vq->last_avail != vq->avail_mine) {
		if (!avail_refresh(vq))
			return -EIO;
		if (vq->last_avail == vq->avail_shadow)
			return 0;
	}
	head = vq->avail->ring[vq->last_avail & (vq->size - 1)];
	VQ_TOUCH(vq, &vq->avail->ring[vq->last_avail & (vq->size - 1)], 2, VQ_LINE_AVAIL);
	rc = walk_chain(vq, c, head);
	if (rc != -EIO) {
		vq->last_avail++;
		vq->avail_mine = vq->last_avail;
		VQ_POPPED(vq, c);
	}
	if (vq->lq)	/* last, a tail call: free when logging is off */
		return vql_pop_done(vq, c->head, rc);
	return rc;
}

void vq_unpop(struct vq *vq, uint16_t n)
{
	if (vq->packed) {
		vqp_unpop(vq, n);
		return;
	}
	if (vq->lq)
		vql_unpop(vq, n);
	vq->last_avail -= n;
	vq->avail_mine = vq->last_avail;
}

void vq_push_any(struct vq *vq, uint16_t head, uint32_t len)
{
	volatile struct vring_used_elem *e;

	if (vq->packed) {
		vqp_push(vq, head, len);
		return;
	}
	if (!vq_ready(vq))
		return;
	e = &vq->used->ring[vq->used_idx & (vq->size - 1)];
	e->id = head;
	e->len = len;
	VQ_TOUCH(vq, e, sizeof(*e), VQ_LINE_USED);
	VQ_PUSHED(vq, head, len);
	vq->used_idx++;
	if (vq->log)	/* last, a tail call: free when logging is off */
		vql_push_split(vq, head, len);
}

void vq_set_in_order(struct vq *vq, bool on)
{
	vq->in_order = on && (vq->packed || vq->last_avail == vq->used_idx);
}

/*
 * Split, with in_order: when the n chains are everything in flight, they
 * took the avail slots from the used position on, in the order given.
 * One used entry at the used position, with the last one's head and len
 * 0, stands for them all, and the used position moves past the batch
 * (in-order use of descriptors, 2.7.9).  The entries it skips keep what
 * they had: the driver reads none of them.
 */
static bool push_read_batch(struct vq *vq, const uint16_t *heads, unsigned int n)
{
	volatile struct vring_used_elem *e;

	if (!vq->in_order || vq->log || !vq_ready(vq) || n < 2 ||
	    (uint16_t)(vq->last_avail - vq->used_idx) != n)
		return false;
	e = &vq->used->ring[vq->used_idx & (vq->size - 1)];
	e->id = heads[n - 1];
	e->len = 0;
	VQ_TOUCH(vq, e, sizeof(*e), VQ_LINE_USED);
	for (unsigned int i = 0; i < n; i++)
		VQ_PUSHED(vq, heads[i], 0);
	vq->used_idx = (uint16_t)(vq->used_idx + n);
	return true;
}

void vq_push_read(struct vq *vq, const uint16_t *heads, unsigned int n)
{
	if (vq->packed) {
		vqp_push_read(vq, heads, n);
		return;
	}
	if (push_read_batch(vq, heads, n))
		return;
	for (unsigned int i = 0; i < n; i++)
		vq_push(vq, heads[i], 0);
}

bool vq_publish(struct vq *vq)
{
	uint16_t old, now = vq->used_idx;
	bool valid;

	if (vq->packed)
		return vqp_publish(vq);
	if (!vq_ready(vq) || now == vq->published)
		return false;
	VQ_BATCH(vq);
	/* Entries before the index (2.7.8): one release store. */
	__atomic_store_n(&vq->used->idx, now, __ATOMIC_RELEASE);
	VQ_TOUCH(vq, &vq->used->idx, 2, VQ_LINE_IDX);
	vq->published = now;
	if (vq->log)
		vq_log_range(vq->log, vq->gpa_dev + 2, 2);
	/*
	 * The driver writes its event/flags, then reads used->idx; we wrote
	 * used->idx and now read its event/flags.  A full barrier keeps
	 * either side from missing the other.
	 */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);

	old = vq->signalled;
	valid = vq->signalled_valid;
	vq->signalled = now;
	vq->signalled_valid = true;
	if (!vq->event_idx) {
		VQ_TOUCH(vq, &vq->avail->flags, 2, VQ_LINE_EVENT);
		return !(vq->avail->flags & VRING_AVAIL_F_NO_INTERRUPT);
	}
	if (!valid)
		return true;	/* we do not know what the driver saw */
	/* used_event sits just after the avail ring (2.7.10). */
	VQ_TOUCH(vq, &vq->avail->ring[vq->size], 2, VQ_LINE_EVENT);
	return vring_need_event(vq->avail->ring[vq->size], now, old);
}

void vq_set_kicks(struct vq *vq, bool on)
{
	if (vq->packed) {
		vqp_set_kicks(vq, on);
		return;
	}
	if (!vq_ready(vq))
		return;
	vq->used->flags = on ? 0 : VRING_USED_F_NO_NOTIFY;
	VQ_TOUCH(vq, &vq->used->flags, 2, VQ_LINE_EVENT);
	if (vq->event_idx && on) {
		/* avail_event sits just after the used ring (2.7.10). */
		volatile uint16_t *ev =
			(volatile uint16_t *)&vq->used->ring[vq->size];

		*ev = vq->last_avail;
		VQ_TOUCH(vq, ev, 2, VQ_LINE_EVENT);
	}
	if (vq->log) {
		vq_log_range(vq->log, vq->gpa_dev, 2);
		if (vq->event_idx && on)
			vq_log_range(vq->log, vq->gpa_dev + 4 + 8 * (uint64_t)vq->size, 2);
	}
	/* Our write before the caller's next read of avail->idx. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}
