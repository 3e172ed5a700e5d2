/* SPDX-License-Identifier: MIT */
/*
 * vq_packed: the device side of a packed virtqueue (virtio 1.2, 2.8),
 * behind the same API as the split one (vq.h); vq.c sends a packed queue
 * here.
 *
 * Security model: the descriptor ring, the driver event area and every
 * indirect table are written by a peer VM that may be hostile and may
 * change them while we read.  A descriptor's flags are read once with
 * acquire ordering (the head's) or as part of its one 16-byte copy (the
 * rest of a chain); only the copies are checked and used.  Buffer ids,
 * the number of ring descriptors each chain took and where it started are
 * kept in struct vq (tokens), so what we write back into the ring never
 * depends on a second read of peer memory.  The walk is bounded by the
 * ring descriptors not in flight with us, indirect tables by their
 * entries; addresses go through the same checks as the split walk
 * (vq_add_buffer, vq_enter_indirect).  A broken rule breaks the queue.
 */
#include "vq.h"
#include "vq_priv.h"

#include <errno.h>

#include <linux/virtio_ring.h>

#define F_AVAIL VQ_PK_F_AVAIL
#define F_USED VQ_PK_F_USED
#define WRAP_BIT (1u << VRING_PACKED_EVENT_F_WRAP_CTR)

/* A descriptor is available when AVAIL matches the wrap counter and USED does not (2.8.1). */
static bool desc_avail(uint16_t flags, bool wrap)
{
	return ((flags & F_AVAIL) != 0) == wrap && ((flags & F_USED) != 0) != wrap;
}

/* Both bits equal to the wrap counter: a used descriptor of this lap. */
static bool desc_used_now(uint16_t flags, bool wrap)
{
	return ((flags & F_AVAIL) != 0) == wrap && ((flags & F_USED) != 0) == wrap;
}

/*
 * Walk the indirect table of d (2.8.19): its entries one after the
 * other; WRITE is their only meaningful flag (NEXT and id are ignored, as
 * the spec says), and an indirect entry inside is refused.  0 or -EIO.
 */
static int walk_indirect(struct vq *vq, struct vq_walk *w, struct vq_chain *c,
			 const struct vring_packed_desc *d)
{
	struct vring_packed_desc e;
	int rc;

	rc = vq_enter_indirect(vq, w, d->addr, d->len, d->flags & VRING_DESC_F_NEXT);
	if (rc)
		return rc;
	for (unsigned int i = 0; i < w->entries; i++) {
		vq_desc_fetch(w->table + (size_t)i * sizeof(e), &e);
		VQ_TOUCH(vq, w->table + (size_t)i * sizeof(e), sizeof(e), VQ_LINE_DESC);
		if (e.flags & VRING_DESC_F_INDIRECT) {
			vq_break(vq, "indirect descriptor inside an indirect table");
			return -EIO;
		}
		rc = vq_add_buffer(vq, w, c, e.addr, e.len,
				   e.flags & VRING_DESC_F_WRITE);
		if (rc)
			return rc;
	}
	return 0;
}

/*
 * The packed walk (2.8.6, 2.8.7): a chain is the descriptors at
 * last_avail and after, in ring order, while NEXT is set; its buffer id
 * is in the last one.  Every descriptor but the head (whose flags the
 * caller read with acquire ordering) must itself be available for the
 * wrap counter at its position.  A chain may take at most the ring
 * descriptors that are not in flight with us.  Sets *id (unchecked) and
 * *ndesc, the ring descriptors the chain took.  1, -EMSGSIZE or -EIO.
 */
static int walk_chain(struct vq *vq, struct vq_chain *c, uint16_t head_flags,
		      uint16_t *id, uint16_t *ndesc)
{
	struct vq_packed *pk = &vq->pk;
	struct vq_walk w = { 0 };
	uint16_t pos = vq->last_avail, room = (uint16_t)(vq->size - pk->inflight);
	bool wrap = pk->avail_wrap;
	struct vring_packed_desc d;
	uint16_t n = 0;
	int rc;

	c->n_out = c->n_in = 0;
	c->out_len = c->in_len = 0;
	for (;;) {
		if (n == room) {
			vq_break(vq, "descriptor chain at %u longer than the %u free ring entries",
				 vq->last_avail, room);
			return -EIO;
		}
		vq_desc_fetch(&pk->desc[pos], &d);
		VQ_TOUCH(vq, &pk->desc[pos], sizeof(d), VQ_LINE_DESC);
		if (n == 0)
			d.flags = head_flags;	/* the flags we found available */
		else if (!desc_avail(d.flags, wrap)) {
			vq_break(vq, "descriptor %u of a chain not made available (flags %#x, wrap %u)",
				 pos, d.flags, wrap);
			return -EIO;
		}
		n++;
		if (++pos == vq->size) {
			pos = 0;
			wrap = !wrap;
		}
		if (d.flags & VRING_DESC_F_INDIRECT) {
			rc = walk_indirect(vq, &w, c, &d);
			if (rc)
				return rc;
			break;	/* NEXT is refused on it: the chain ends here */
		}
		rc = vq_add_buffer(vq, &w, c, d.addr, d.len,
				   d.flags & VRING_DESC_F_WRITE);
		if (rc)
			return rc;
		if (!(d.flags & VRING_DESC_F_NEXT))
			break;
	}
	*id = d.id;
	*ndesc = n;
	return w.too_big ? -EMSGSIZE : 1;
}

/*
 * walk_chain() for the common chain, one plain descriptor (flags, read
 * with acquire ordering by the caller, have neither NEXT nor INDIRECT)
 * whose buffer lies in one region: the same checks without the walk's
 * state.  Anything else (no free ring entry, a zero length, a buffer
 * across regions or outside memory) is left to walk_chain(), which reads
 * the descriptor again into its own copy.  The caller checks the id, as for a walk.
 */
static int pop_one(struct vq *vq, struct vq_chain *c, uint16_t flags,
		   uint16_t *id, uint16_t *ndesc)
{
	struct vring_packed_desc d;
	uint64_t got;
	uint8_t *p;

	if (vq->pk.inflight == vq->size)
		return walk_chain(vq, c, flags, id, ndesc);	/* no room: it breaks */
	vq_desc_fetch(&vq->pk.desc[vq->last_avail], &d);
	got = d.len;
	p = d.len ? vu_mem_gpa_hint(vq->mem, d.addr, &got, &vq->mem_hint) : NULL;
	if (!p || got != d.len)
		return walk_chain(vq, c, flags, id, ndesc);
	vq_chain_one(c, p, d.len, flags & VRING_DESC_F_WRITE);
	*id = d.id;
	*ndesc = 1;
	return 1;
}

int vqp_pop(struct vq *vq, struct vq_chain *c)
{
	struct vq_packed *pk = &vq->pk;
	uint16_t slot = pk->pop_seq % VQ_PK_TOKENS;
	uint16_t flags, id = 0, ndesc = 0;
	struct vq_pk_token *t = &pk->tok[slot];
	int rc;

	if (!vq_ready(vq))
		return -EIO;
	if (t->ndesc)
		return 0;	/* our caller holds VQ_PK_TOKENS chains already */
	/* The head's flags, then (acquire) the rest of the chain (2.8.21.1). */
	flags = __atomic_load_n(&pk->desc[vq->last_avail].flags, __ATOMIC_ACQUIRE);
	VQ_TOUCH(vq, &pk->desc[vq->last_avail], 16, VQ_LINE_DESC);
	if (!desc_avail(flags, pk->avail_wrap)) {
		/*
		 * We have not written a used descriptor at last_avail in this
		 * lap (used positions trail it), so one marked so is a lie.
		 */
		if (desc_used_now(flags, pk->avail_wrap)) {
			vq_break(vq, "descriptor %u marked used in the current lap (wrap %u)",
				 vq->last_avail, pk->avail_wrap);
			return -EIO;
		}
		return 0;
	}
	if (!(flags & (VRING_DESC_F_NEXT | VRING_DESC_F_INDIRECT)) && !vq->lq)
		rc = pop_one(vq, c, flags, &id, &ndesc);
	else
		rc = walk_chain(vq, c, flags, &id, &ndesc);
	if (rc != -EIO && id >= vq->size) {
		vq_break(vq, "buffer id %u out of ring of %u", id, vq->size);
		rc = -EIO;
	} else if (rc != -EIO && vqp_id_busy(pk, id)) {
		vq_break(vq, "buffer id %u reused while in flight", id);
		rc = -EIO;
	}
	if (vq->lq) {
		if (rc == -EIO)
			vql_abort(vq);
		else
			vql_popped(vq, slot);
	}
	if (rc == -EIO)
		return rc;
	c->head = vqp_took(vq, id, ndesc);
	VQ_POPPED(vq, c);
	return rc;
}

/* Free token t: its id leaves the in-flight set. */
static void token_drop(struct vq_packed *pk, struct vq_pk_token *t)
{
	vqp_id_mark(pk, t->id, false);
	pk->inflight = (uint16_t)(pk->inflight - t->ndesc);
	t->ndesc = 0;
}

/*
 * The last n pops took the ring descriptors just before last_avail, in
 * pop order: stepping back over each token's ndesc, newest first, lands
 * where each began (wrapping back over the ring's start flips the avail
 * wrap counter).  A token pushed already (a caller bug) has lost its
 * ndesc, so where the older ones began is unknown: the queue breaks.
 */
void vqp_unpop(struct vq *vq, uint16_t n)
{
	struct vq_packed *pk = &vq->pk;

	if (vq->lq)
		vql_unpop(vq, n);
	while (n--) {
		struct vq_pk_token *t = &pk->tok[(uint16_t)(pk->pop_seq - 1) % VQ_PK_TOKENS];

		if (!t->ndesc) {
			vq_break(vq, "device bug: unpop of a chain already pushed");
			return;
		}
		pk->pop_seq--;
		if (vq->last_avail < t->ndesc) {
			vq->last_avail = (uint16_t)(vq->last_avail + vq->size);
			pk->avail_wrap = !pk->avail_wrap;
		}
		vq->last_avail = (uint16_t)(vq->last_avail - t->ndesc);
		token_drop(pk, t);
	}
}

uint16_t vqp_avail_count(struct vq *vq)
{
	uint16_t flags;

	if (!vq_ready(vq))
		return 0;
	flags = __atomic_load_n(&vq->pk.desc[vq->last_avail].flags, __ATOMIC_ACQUIRE);
	VQ_TOUCH(vq, &vq->pk.desc[vq->last_avail], 16, VQ_LINE_DESC);
	return desc_avail(flags, vq->pk.avail_wrap) ? 1 : 0;
}

/* One used descriptor per chain at the used position (vqp_used()). */
void vqp_push(struct vq *vq, uint16_t head, uint32_t len)
{
	struct vq_pk_token *t;
	uint16_t pos = vq->used_idx;

	if (!vq_ready(vq) || head >= VQ_PK_TOKENS)
		return;
	t = &vq->pk.tok[head];
	if (!t->ndesc)
		return;
	VQ_TOUCH(vq, &vq->pk.desc[pos], 16, VQ_LINE_USED);
	VQ_PUSHED(vq, head, len);
	vqp_used(vq, t, len);
	if (vq->log) {
		vq_log_range(vq->log, vq->gpa_desc + 16 * (uint64_t)pos, 16);
		vql_pushed(vq, head, len);
	}
}

/*
 * vq_push_read() on a packed ring.  One descriptor stands for the batch
 * when the batch is everything in flight and its tokens are the last n
 * popped, in order: consecutive pops take consecutive ring descriptors
 * (an unpop rewinds both together), so the batch ends at last_avail, and
 * as the used position is always the in-flight count behind last_avail,
 * the batch begins at the used position.  vnet's
 * TX queues are like that: all they popped goes back in one call.
 * The last one's token stands for the batch (it takes all their
 * descriptors): vqp_used() writes the one descriptor and takes them out
 * of the in-flight count; the others' ids and tokens are freed here.
 */
void vqp_push_read(struct vq *vq, const uint16_t *heads, unsigned int n)
{
	struct vq_packed *pk = &vq->pk;
	uint32_t total = 0;
	unsigned int i;

	if (!vq->in_order || !vq->fast_pk || n < 2 || heads[0] >= VQ_PK_TOKENS ||
	    heads[n - 1] != (uint16_t)(pk->pop_seq - 1) % VQ_PK_TOKENS)
		goto one_by_one;
	for (i = 0; i < n; i++) {
		const struct vq_pk_token *t = &pk->tok[(heads[0] + i) % VQ_PK_TOKENS];

		if (heads[i] != (heads[0] + i) % VQ_PK_TOKENS || !t->ndesc)
			goto one_by_one;
		total += t->ndesc;
	}
	if (total != pk->inflight)
		goto one_by_one;	/* others in flight: keep it simple */
	VQ_TOUCH(vq, &pk->desc[vq->used_idx], 16, VQ_LINE_USED);
	for (i = 0; i < n; i++)
		VQ_PUSHED(vq, heads[i], 0);
	for (i = 0; i + 1 < n; i++) {
		struct vq_pk_token *t = &pk->tok[heads[i]];

		vqp_id_mark(pk, t->id, false);
		t->ndesc = 0;
	}
	/* total <= inflight <= size: it fits the token's field */
	pk->tok[heads[n - 1]].ndesc = (uint16_t)total;
	vqp_used(vq, &pk->tok[heads[n - 1]], 0);
	return;
one_by_one:
	for (i = 0; i < n; i++)
		vq_push(vq, heads[i], 0);
}

/*
 * Did the used position pass the driver's event position off_wrap while
 * moving from old to now (both position | wrap << 15)?  (2.8.10: the
 * packed form of vring_need_event, with the event and the old position
 * brought into the lap of now.)
 */
static bool need_event(uint16_t size, uint16_t off_wrap, uint16_t old, uint16_t now)
{
	uint16_t off = off_wrap & 0x7fff, o = old & 0x7fff, n = now & 0x7fff;

	if (n <= o)
		o = (uint16_t)(o - size);	/* old is in the previous lap */
	if ((off_wrap & WRAP_BIT) != (now & WRAP_BIT))
		off = (uint16_t)(off - size);
	return (uint16_t)(n - off - 1) < (uint16_t)(n - o);
}

bool vqp_publish(struct vq *vq)
{
	struct vq_packed *pk = &vq->pk;
	uint16_t old, now, ev_flags, off_wrap;
	bool valid;

	if (!vq_ready(vq) || !pk->head_held)
		return false;
	VQ_BATCH(vq);
	__atomic_store_n(&pk->desc[pk->head_pos].flags, pk->head_flags,
			 __ATOMIC_RELEASE);
	VQ_TOUCH(vq, &pk->desc[pk->head_pos], 16, VQ_LINE_USED);
	pk->head_held = false;
	if (vq->log)
		vq_log_range(vq->log, vq->gpa_desc + 16 * (uint64_t)pk->head_pos, 16);
	now = (uint16_t)(vq->used_idx | pk->used_wrap << 15);
	vq->published = now;
	/* Our flags before our read of the driver's wishes (as split). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);

	old = vq->signalled;
	valid = vq->signalled_valid;
	vq->signalled = now;
	vq->signalled_valid = true;
	ev_flags = pk->drv_ev->flags;
	VQ_TOUCH(vq, pk->drv_ev, 4, VQ_LINE_EVENT);
	if (ev_flags == VRING_PACKED_EVENT_FLAG_DISABLE)
		return false;
	if (ev_flags != VRING_PACKED_EVENT_FLAG_DESC || !vq->event_idx || !valid)
		return true;	/* ENABLE, a reserved value, or we do not know */
	off_wrap = pk->drv_ev->off_wrap;
	return need_event(vq->size, off_wrap, old, now);
}

void vqp_set_kicks(struct vq *vq, bool on)
{
	struct vq_packed *pk = &vq->pk;
	uint16_t flags = on ? VRING_PACKED_EVENT_FLAG_ENABLE :
			      VRING_PACKED_EVENT_FLAG_DISABLE;

	if (!vq_ready(vq))
		return;
	if (on && vq->event_idx) {
		/* Kick when the descriptor at last_avail is made available. */
		pk->dev_ev->off_wrap = (uint16_t)(vq->last_avail | pk->avail_wrap << 15);
		flags = VRING_PACKED_EVENT_FLAG_DESC;
	}
	__atomic_store_n(&pk->dev_ev->flags, flags, __ATOMIC_RELEASE);
	VQ_TOUCH(vq, pk->dev_ev, 4, VQ_LINE_EVENT);
	if (vq->log)
		vq_log_range(vq->log, vq->gpa_dev, 4);
	/* Our write before the caller's next read of the ring. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}
