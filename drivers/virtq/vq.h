/* SPDX-License-Identifier: MIT */
/*
 * vq: the device side of a virtqueue, split (virtio 1.2, section 2.7) or
 * packed (2.8).  Both layouts share this API: vq_setup() or
 * vq_setup_packed() picks the layout once, and vq_pop(), vq_push(),
 * vq_publish(), vq_set_kicks(), vq_avail_count() and vq_unpop() work the
 * same on either, so vnet never knows which one it drives.
 *
 * The rings live in memory the peer shares with us and may rewrite at any
 * moment.  Every field read from them is copied to a local once and only
 * the copy is validated and used.  vq_pop() is the one and only walker of
 * descriptor chains in this program (vq_packed.c's walk is its packed
 * counterpart, sharing the per-descriptor checks): it bounds every loop
 * by the ring or table size, refuses nested indirect tables, misordered readable/writable
 * descriptors, and any address that is not inside one of the peer's
 * regions.  A rule break marks the queue broken with a reason; the caller
 * then stops using it and reports the port as broken.
 */
#ifndef VQ_H
#define VQ_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "vq_log.h"
#include "vu_mem.h"

#define VQ_MAX_SIZE 32768	/* virtio's upper bound on queue size */
#define VQ_MAX_IOV 64		/* segments in one chain we accept */

struct vq_iov {
	uint8_t *base;
	uint32_t len;
};

/*
 * Chains popped and not pushed on a packed queue, at most.  vnet holds
 * up to 64 TX chains and up to VQ_MAX_IOV RX chains, never more.
 */
#define VQ_PK_TOKENS 256

/* A descriptor chain as popped: readable segments first, then writable. */
struct vq_chain {
	/*
	 * What to give back with vq_push(): the head index (split), or a
	 * token naming the popped chain (packed: the buffer id and the
	 * descriptors it took stay inside struct vq, out of the peer's reach).
	 */
	uint16_t head;
	uint16_t n_out;		/* iov[0 .. n_out) are device-readable */
	uint16_t n_in;		/* iov[n_out .. n_out+n_in) device-writable */
	uint32_t out_len;	/* bytes in the readable part */
	uint32_t in_len;	/* bytes in the writable part */
	struct vq_iov iov[VQ_MAX_IOV];
};

struct vring_desc;
struct vring_avail;
struct vring_used;
struct vring_packed_desc;
struct vring_packed_desc_event;

/* One chain popped from a packed ring and not pushed yet. */
struct vq_pk_token {
	uint16_t id;		/* the driver's buffer id (< size, not in flight) */
	uint16_t ndesc;		/* ring descriptors it took; 0: slot free */
};

/* State of a packed queue (2.8); unused on a split one. */
struct vq_packed {
	volatile struct vring_packed_desc *desc;	/* the ring */
	volatile struct vring_packed_desc_event *drv_ev;	/* driver area: read */
	volatile struct vring_packed_desc_event *dev_ev;	/* device area: written */
	bool avail_wrap;	/* wrap counter at last_avail */
	bool used_wrap;		/* wrap counter at used_idx */
	bool head_held;		/* a pushed entry's flags not written yet */
	uint16_t head_pos;	/* where, and which flags: the first entry */
	uint16_t head_flags;	/* pushed since the last publish */
	uint16_t inflight;	/* ring descriptors popped and not pushed */
	uint16_t pop_seq;	/* pops so far: picks the next token slot */
	struct vq_pk_token tok[VQ_PK_TOKENS];
	uint64_t busy[VQ_MAX_SIZE / 64];	/* ids in flight */
};

/*
 * Cache lines of the peer's memory the device touches, by kind, counted in
 * builds with -Dline_count=true (VQ_LINE_COUNT) for the benchmark's shared
 * lines per frame; other builds carry only the totals, always zero.  A
 * line counts once per batch: from one vq_publish() to the next, which is
 * as often as the driver can have taken it back.
 */
enum vq_line_kind {
	VQ_LINE_DESC,		/* descriptors read (ring or indirect table) */
	VQ_LINE_AVAIL,		/* split avail ring entries read */
	VQ_LINE_IDX,		/* avail idx read, used idx written */
	VQ_LINE_USED,		/* used entries written (packed: descriptors) */
	VQ_LINE_EVENT,		/* flags and event indexes, read or written */
	VQ_LINE_BUF,		/* frame bytes: readable read, writable written */
	VQ_LINE_KINDS
};

extern const char *const vq_line_kind_names[VQ_LINE_KINDS];

#define VQ_LINE_SET 1024	/* lines of one batch remembered, power of two */

struct vq_lines {
	uint64_t lines[VQ_LINE_KINDS];	/* totals since vq_setup() */
#ifdef VQ_LINE_COUNT
	uint32_t gen;			/* batch number: set[] entries of older ones are stale */
	uint32_t set_gen[VQ_LINE_SET];
	uintptr_t set[VQ_LINE_SET];
	uintptr_t rx_buf[VQ_LINE_SET];	/* first writable byte of a popped chain, by head */
#endif
};

/*
 * Copy one 16-byte descriptor (either layout) out of shared memory.  The
 * compiler barrier keeps the compiler from re-reading the shared copy
 * instead of the local one: after it, memory may have changed, so the
 * local is all it has.
 */
static inline void vq_desc_fetch(const volatile void *src, void *d)
{
	memcpy(d, (const void *)src, 16);
	__asm__ volatile("" ::: "memory");
}

/* A split descriptor (2.7.5), as the inline vq_pop() reads it. */
struct vq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

/* A split used ring entry (2.7.8), as vq_push() writes it. */
struct vq_used_elem {
	uint32_t id;
	uint32_t len;
};

/*
 * A packed descriptor (2.8.13), as the inline vq_pop() reads it and
 * vq_push() writes it, with its two flags of 2.8.1.
 */
struct vq_pdesc {
	uint64_t addr;
	uint32_t len;
	uint16_t id;
	uint16_t flags;
};

#define VQ_PK_F_AVAIL 0x0080u	/* 1 << VRING_PACKED_DESC_F_AVAIL */
#define VQ_PK_F_USED 0x8000u	/* 1 << VRING_PACKED_DESC_F_USED */

struct vq {
	/* Layout, set by vq_setup(). size == 0 means not set up. */
	uint16_t size;
	bool packed;		/* VIRTIO_F_RING_PACKED layout (2.8) */
	/*
	 * vq_pop() and vq_push() may take their inline common case: a split
	 * ring, set up, not broken, no dirty log.  Kept by vq_setup(),
	 * vq_setup_packed(), vq_break() and vq_log_attach().
	 */
	bool fast;
	bool fast_pk;		/* the same for a packed ring: no dirty log either */
	bool event_idx;		/* VIRTIO_RING_F_EVENT_IDX negotiated */
	/*
	 * VIRTIO_F_IN_ORDER negotiated: vq_push_read() may write one used
	 * entry (split) or descriptor (packed) for a batch.  Set with
	 * vq_set_in_order() after vq_setup() or vq_setup_packed(), which
	 * clear it.
	 */
	bool in_order;
	bool indirect;		/* VIRTIO_RING_F_INDIRECT_DESC negotiated */
	volatile struct vring_desc *desc;
	volatile struct vring_avail *avail;
	volatile struct vring_used *used;
	volatile uint16_t *avail_ring;		/* split: avail->ring[] */
	volatile struct vq_used_elem *used_ring;	/* split: used->ring[] */
	const struct vu_mem *mem;
	unsigned int mem_hint;	/* vu_mem_gpa_hint()'s: region of the last buffer */

	/*
	 * Device state.  On a packed queue last_avail and used_idx are ring
	 * positions (< size) with their wrap counters in pk, and published /
	 * signalled hold position | wrap << 15.
	 */
	uint16_t last_avail;	/* next avail slot to consume */
	uint16_t avail_shadow;	/* avail->idx as last read and checked */
	uint16_t avail_mine;	/* last_avail as vq left it: if the owner
				 * moved last_avail, the shadow is re-read */
	uint16_t used_idx;	/* next used slot to fill (not yet published) */
	uint16_t published;	/* used_idx last written to used->idx */
	uint16_t signalled;	/* used idx at the last notification */
	bool signalled_valid;

	bool broken;
	char why[128];		/* reason, when broken */

	/*
	 * Dirty logging (vq_log_attach()): log is NULL when it is off, and
	 * then costs one test per writable descriptor and per push.  The
	 * rings' guest physical addresses: split desc, avail, used; packed
	 * descriptor ring, driver area, device area.
	 */
	struct vq_dirty_log *log;
	struct vq_logq *lq;
	uint64_t gpa_desc, gpa_drv, gpa_dev;

	struct vq_packed pk;
	struct vq_lines lc;
};

/*
 * Lay the queue over the peer's memory.  size must be a power of two in
 * [1, VQ_MAX_SIZE]; the three ring addresses are frontend virtual addresses
 * (vhost-user SET_VRING_ADDR) and each ring must lie wholly inside one
 * region with its natural alignment.  last_avail comes from SET_VRING_BASE;
 * the used index is read from the ring.  Returns 0 or -EINVAL (and vq is
 * left not set up, with vq->why saying which check failed).
 */
int vq_setup(struct vq *vq, const struct vu_mem *mem, uint16_t size,
	     uint64_t desc_uva, uint64_t avail_uva, uint64_t used_uva,
	     uint16_t last_avail, bool event_idx, bool indirect);

/*
 * The same for a packed ring (2.8): desc_uva is the descriptor ring,
 * driver_uva the driver event suppression area and device_uva the device
 * one (what vhost-user SET_VRING_ADDR calls desc, avail and used).  Any
 * size in [1, VQ_MAX_SIZE].  base is the vhost-user vring base: the next
 * ring position to read in bits 0-14, the avail wrap counter in bit 15;
 * nothing is in flight then, so the used position and wrap counter start
 * there too.  Returns 0 or -EINVAL (with vq->why).
 */
int vq_setup_packed(struct vq *vq, const struct vu_mem *mem, uint16_t size,
		    uint64_t desc_uva, uint64_t driver_uva, uint64_t device_uva,
		    uint16_t base, bool event_idx, bool indirect);

/*
 * Where the device stands, as vhost-user GET_VRING_BASE reports it: the
 * 16-bit last avail index (split), or the position with the avail wrap
 * counter in bit 15 (packed).
 */
uint16_t vq_base(const struct vq *vq);

/*
 * Log every byte we write into the peer's memory from now on into log
 * (its used entries, used index, event fields, RX buffers up to the
 * length pushed), keeping popped chains' writable ranges in lq until they
 * are pushed.  log NULL turns logging off.  Call between bursts, with no
 * chain popped and not pushed; vq_setup() turns logging off.
 */
void vq_log_attach(struct vq *vq, struct vq_dirty_log *log, struct vq_logq *lq);

/* Forget the layout; the queue is not set up any more. */
void vq_reset(struct vq *vq);

static inline bool vq_ready(const struct vq *vq)
{
	return vq->size != 0 && !vq->broken;
}

/*
 * Take the next available chain into *c.
 * Returns 1 with *c filled; 0 when nothing is available;
 * -EMSGSIZE when the chain is legal but has more than VQ_MAX_IOV segments
 * or more than 4 GiB (c->head is valid: the caller must vq_push() it;
 * the iovs describe only a part of the chain, and n_out + n_in ==
 * VQ_MAX_IOV tells that the segment limit was the one hit);
 * -EIO when the peer broke a rule (the queue is now broken, see vq->why).
 */
static inline int vq_pop(struct vq *vq, struct vq_chain *c);

/* vq_pop() in full: any layout, any chain, dirty logging. */
int vq_pop_walk(struct vq *vq, struct vq_chain *c);
/* The packed layout's (vq_packed.c), called straight from vq_pop(). */
int vqp_pop(struct vq *vq, struct vq_chain *c);

/*
 * Give back the last n chains popped and not pushed, to pop again later.
 * They must be the last n popped, and none of them pushed.
 */
void vq_unpop(struct vq *vq, uint16_t n);

/*
 * Number of chains the driver has made available and we have not popped.
 * A packed ring cannot tell without walking them: it says 1 when at least
 * one is there, else 0.
 */
uint16_t vq_avail_count(struct vq *vq);

/*
 * Record head (c->head of a chain popped) as used with len bytes
 * written.  Not visible until publish.  A head that is not in flight (a
 * caller bug) is ignored on a packed queue.
 */
static inline void vq_push(struct vq *vq, uint16_t head, uint32_t len);

/*
 * Push heads[0..n), chains the device only read (0 bytes written each),
 * given in the order they were popped, as n vq_push() calls would.  On a
 * packed ring with in_order set, when they are all the chains in flight,
 * one used descriptor with the last one's buffer id stands for them all
 * and the used position skips the whole batch (in-order use of
 * descriptors, 2.8.20): the driver reads one descriptor instead of n.
 */
void vq_push_read(struct vq *vq, const uint16_t *heads, unsigned int n);

/*
 * VIRTIO_F_IN_ORDER was negotiated (on) or not.  A split ring takes it
 * only when its used position is last_avail, as after a fresh setup or a
 * resume: from then on last_avail - used_idx counts the chains in flight,
 * which is what vq_push_read() relies on to know a batch's place.
 */
void vq_set_in_order(struct vq *vq, bool on);

/* vq_push() in full: any layout, dirty logging. */
void vq_push_any(struct vq *vq, uint16_t head, uint32_t len);
/* The packed layout's (vq_packed.c), called straight from vq_push(). */
void vqp_push(struct vq *vq, uint16_t head, uint32_t len);

/*
 * Make every pushed entry visible to the driver.  Returns true when the
 * driver asked to be notified of them (EVENT_IDX's used_event, or the
 * absence of VRING_AVAIL_F_NO_INTERRUPT; packed: the driver event
 * suppression flags, and with EVENT_IDX its off_wrap): the caller then
 * signals the call fd once.
 */
bool vq_publish(struct vq *vq);

/*
 * Ask the driver for (on) or not for (off) kicks on new buffers, with
 * VRING_USED_F_NO_NOTIFY or, under EVENT_IDX, the avail_event field
 * (packed: the device event suppression flags and off_wrap).
 * After turning kicks on, check vq_avail_count() again before sleeping.
 */
void vq_set_kicks(struct vq *vq, bool on);

/*
 * On a queue that is broken or not set up, vq_pop() returns -EIO and
 * vq_push(), vq_publish() and vq_set_kicks() touch nothing: the peer's
 * rings are not written again until the queue is set up anew.
 */

/* Mark broken with a printf-style reason (kept in vq->why); first wins. */
void vq_break(struct vq *vq, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Packed: is buffer id (< size) in flight with us; mark it so or not. */
static inline bool vqp_id_busy(const struct vq_packed *pk, uint16_t id)
{
	return (pk->busy[id / 64] >> (id % 64)) & 1;
}

static inline void vqp_id_mark(struct vq_packed *pk, uint16_t id, bool on)
{
	uint64_t bit = 1ull << (id % 64);

	if (on)
		pk->busy[id / 64] |= bit;
	else
		pk->busy[id / 64] &= ~bit;
}

/*
 * Packed (vq_packed.c and the inline vq_pop()): a chain of ndesc ring
 * descriptors starting at last_avail, with buffer id id (< size, not in
 * flight: the caller checked), is taken.  It gets a token, its id joins
 * the in-flight set and last_avail moves past it.  Returns the token slot,
 * the chain's head for vq_push().
 */
static inline uint16_t vqp_took(struct vq *vq, uint16_t id, uint16_t ndesc)
{
	struct vq_packed *pk = &vq->pk;
	uint16_t slot = pk->pop_seq % VQ_PK_TOKENS;
	struct vq_pk_token *t = &pk->tok[slot];

	t->id = id;
	t->ndesc = ndesc;
	vqp_id_mark(pk, id, true);
	pk->inflight = (uint16_t)(pk->inflight + ndesc);
	pk->pop_seq++;
	vq->last_avail = (uint16_t)(vq->last_avail + ndesc);
	if (vq->last_avail >= vq->size) {
		vq->last_avail = (uint16_t)(vq->last_avail - vq->size);
		pk->avail_wrap = !pk->avail_wrap;
	}
	return slot;
}

/*
 * Packed: write the used descriptor of token t (in flight) with len bytes
 * written: id and len, then flags with AVAIL and USED both set to the
 * used wrap counter (2.8.8).  The flags of the first entry since the last
 * publish are held back, so the driver, which reads used entries in ring
 * order, sees none of them until vqp_publish() writes those last.  The
 * used position moves by the descriptors the chain took, and t is freed.
 */
static inline void vqp_used(struct vq *vq, struct vq_pk_token *t, uint32_t len)
{
	struct vq_packed *pk = &vq->pk;
	uint16_t pos = vq->used_idx, id = t->id, ndesc = t->ndesc;
	volatile struct vq_pdesc *e = (volatile struct vq_pdesc *)pk->desc + pos;
	uint16_t flags = pk->used_wrap ? (uint16_t)(VQ_PK_F_AVAIL | VQ_PK_F_USED) : 0;

	t->ndesc = 0;
	vqp_id_mark(pk, id, false);
	pk->inflight = (uint16_t)(pk->inflight - ndesc);
	e->id = id;
	e->len = len;
	if (!pk->head_held) {
		pk->head_held = true;
		pk->head_pos = pos;
		pk->head_flags = flags;
	} else {
		__atomic_store_n(&e->flags, flags, __ATOMIC_RELEASE);
	}
	pos = (uint16_t)(pos + ndesc);
	if (pos >= vq->size) {
		pos = (uint16_t)(pos - vq->size);
		pk->used_wrap = !pk->used_wrap;
	}
	vq->used_idx = pos;
}

/* Make c the chain of one buffer, [p, p + len), device-writable or not. */
static inline void vq_chain_one(struct vq_chain *c, uint8_t *p, uint32_t len,
				bool writable)
{
	c->iov[0].base = p;
	c->iov[0].len = len;
	c->n_out = writable ? 0 : 1;
	c->n_in = writable ? 1 : 0;
	c->out_len = writable ? 0 : len;
	c->in_len = writable ? len : 0;
}

/*
 * The common case of vq_pop() and vq_push(), inline in the callers'
 * burst loops, where a call and the general walk's setup cost more than
 * the work: a split ring (vq->fast), an avail entry already counted by
 * the last read of avail->idx, and a head naming one plain descriptor
 * (neither NEXT nor INDIRECT, length > 0) whose whole buffer lies in one
 * region; or the same one plain descriptor at the head of a packed ring
 * (vq->fast_pk).  The head and the descriptor are read once and only the
 * copies are checked and used, as in the walk.  Anything else goes to
 * vq_pop_walk() or vqp_pop(), which read everything again into their own
 * copies and use nothing of ours.  The line-counting build always takes
 * the walk, which counts the same lines.
 */
static inline __attribute__((always_inline)) int
vq_pop(struct vq *vq, struct vq_chain *c)
{
#ifndef VQ_LINE_COUNT
	if (vq->fast && vq->last_avail != vq->avail_shadow &&
	    vq->last_avail == vq->avail_mine) {
		const volatile struct vq_desc *dp;
		uint16_t head = vq->avail_ring[vq->last_avail & (vq->size - 1)];
		uint64_t addr, got;
		uint32_t len;
		uint16_t flags;
		uint8_t *p;

		if (head >= vq->size)
			return vq_pop_walk(vq, c);
		/* Volatile: each field is read exactly once, into a local. */
		dp = (const volatile struct vq_desc *)vq->desc + head;
		addr = dp->addr;
		len = dp->len;
		flags = dp->flags;
		/* 1: NEXT, 4: INDIRECT (2.7.5) */
		if ((flags & (1 | 4)) || len == 0)
			return vq_pop_walk(vq, c);
		got = len;
		p = vu_mem_gpa_hint(vq->mem, addr, &got, &vq->mem_hint);
		if (!p || got != len)
			return vq_pop_walk(vq, c);
		c->head = head;
		vq_chain_one(c, p, len, flags & 2);	/* 2: WRITE */
		vq->last_avail++;
		vq->avail_mine = vq->last_avail;
		return 1;
	}
	/*
	 * Packed (vq->fast_pk): the head's flags say available in this lap
	 * and neither NEXT nor INDIRECT; a token is free and the ring has a
	 * descriptor not in flight with us; the id is in the ring and not in
	 * flight; the buffer lies in one region.  The flags are read first
	 * with acquire ordering and the descriptor after them, once.
	 */
	if (vq->fast_pk) {
		struct vq_packed *pk = &vq->pk;
		const volatile struct vq_pdesc *dp =
			(const volatile struct vq_pdesc *)pk->desc + vq->last_avail;
		uint16_t flags = __atomic_load_n(&dp->flags, __ATOMIC_ACQUIRE);
		uint16_t want = pk->avail_wrap ? VQ_PK_F_AVAIL : VQ_PK_F_USED;
		uint64_t addr, got;
		uint32_t len;
		uint16_t id;
		uint8_t *p;

		/* 1: NEXT, 4: INDIRECT (2.8.13) */
		if ((flags & (VQ_PK_F_AVAIL | VQ_PK_F_USED | 1 | 4)) != want ||
		    pk->tok[pk->pop_seq % VQ_PK_TOKENS].ndesc ||
		    pk->inflight == vq->size)
			return vqp_pop(vq, c);
		/* Volatile: each field is read exactly once, into a local. */
		addr = dp->addr;
		len = dp->len;
		id = dp->id;
		if (id >= vq->size || vqp_id_busy(pk, id) || len == 0)
			return vqp_pop(vq, c);
		got = len;
		p = vu_mem_gpa_hint(vq->mem, addr, &got, &vq->mem_hint);
		if (!p || got != len)
			return vqp_pop(vq, c);
		c->head = vqp_took(vq, id, 1);
		vq_chain_one(c, p, len, flags & 2);	/* 2: WRITE */
		return 1;
	}
#endif
	if (vq->packed)
		return vqp_pop(vq, c);
	return vq_pop_walk(vq, c);
}

static inline __attribute__((always_inline)) void
vq_push(struct vq *vq, uint16_t head, uint32_t len)
{
#ifndef VQ_LINE_COUNT
	if (vq->fast) {
		volatile struct vq_used_elem *e =
			&vq->used_ring[vq->used_idx & (vq->size - 1)];

		e->id = head;
		e->len = len;
		vq->used_idx++;
		return;
	}
	if (vq->fast_pk) {
		/* A head not in flight (a caller bug) is ignored, as there. */
		if (head < VQ_PK_TOKENS && vq->pk.tok[head].ndesc)
			vqp_used(vq, &vq->pk.tok[head], len);
		return;
	}
#endif
	if (vq->packed)
		vqp_push(vq, head, len);
	else
		vq_push_any(vq, head, len);
}

#endif
