/* SPDX-License-Identifier: MIT */
/*
 * vq_priv: what the split (vq.c) and packed (vq_packed.c) layouts share
 * inside the virtq component: the per-descriptor checks of the walk, the
 * copy-once fetch, and the packed entry points vq.c dispatches to.  Not
 * for use outside drivers/virtq.  Everything here handles peer input and
 * trusts only struct vq.
 */
#ifndef VQ_PRIV_H
#define VQ_PRIV_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "vq.h"
#include "vu_mem.h"

/*
 * Dirty-log bookkeeping (vq_log.c), called only while vq->lq is set:
 * note a writable range of the chain being walked; the pop of that chain
 * succeeded (head is what vq_push() will get) or failed; the last n pops
 * were given back; head was pushed with len bytes written (logs them).
 */
void vql_note(struct vq *vq, uint64_t gpa, uint64_t len);
void vql_popped(struct vq *vq, uint16_t head);
void vql_abort(struct vq *vq);
void vql_unpop(struct vq *vq, uint16_t n);
void vql_pushed(struct vq *vq, uint16_t head, uint32_t len);
/* vql_popped() or vql_abort() by rc (vq_pop()'s result); returns rc. */
int vql_pop_done(struct vq *vq, uint16_t head, int rc);
/* Split: the used entry just written (before used_idx) and the chain. */
void vql_push_split(struct vq *vq, uint16_t head, uint32_t len);

/*
 * Shared-line accounting (vq_lines.c), compiled in with VQ_LINE_COUNT:
 * the device touched len bytes at p, of kind k; a batch ended (publish).
 */
#ifdef VQ_LINE_COUNT
void vq_lines_touch(struct vq *vq, const volatile void *p, uint64_t len,
		    enum vq_line_kind k);
void vq_lines_batch(struct vq *vq);
void vq_lines_popped(struct vq *vq, const struct vq_chain *c);
void vq_lines_pushed(struct vq *vq, uint16_t head, uint32_t len);
#define VQ_TOUCH(vq, p, len, k) vq_lines_touch(vq, p, len, k)
#define VQ_BATCH(vq) vq_lines_batch(vq)
#define VQ_POPPED(vq, c) vq_lines_popped(vq, c)
#define VQ_PUSHED(vq, head, len) vq_lines_pushed(vq, head, len)
#else
#define VQ_TOUCH(vq, p, len, k) ((void)0)
#define VQ_BATCH(vq) ((void)0)
#define VQ_POPPED(vq, c) ((void)0)
#define VQ_PUSHED(vq, head, len) ((void)0)
#endif

/* Where a walk is: the ring's table or one indirect table. */
struct vq_walk {
	const volatile uint8_t *table;
	unsigned int entries;	/* valid indices are [0, entries) */
	unsigned int seen;	/* descriptors taken from this table */
	bool in_indirect;
	bool in_seen;		/* a writable descriptor came already */
	bool too_big;		/* legal but over our limits: -EMSGSIZE */
	uint64_t total;		/* readable + writable bytes */
};

/*
 * Check the indirect descriptor (addr, len, has_next) and switch the walk
 * to its table: w->table and w->entries.  0 or -EIO (queue broken).
 */
int vq_enter_indirect(struct vq *vq, struct vq_walk *w, uint64_t addr,
		      uint32_t len, bool has_next);

/*
 * Add the buffer of one (non-indirect) descriptor to the chain, split at
 * region boundaries.  Over VQ_MAX_IOV segments or 4 GiB only marks the
 * walk too big: the rest of the chain is still checked for structure and
 * direction, but no longer translated, since it will be returned unread
 * (this keeps a chain from costing a region lookup per region per
 * descriptor).  0 or -EIO.  Inline: each walk has it in its loop.
 */
static inline int vq_add_buffer(struct vq *vq, struct vq_walk *w,
				struct vq_chain *c, uint64_t addr, uint32_t len,
				bool writable)
{
	uint64_t left = len;

	if (writable) {
		w->in_seen = true;
		if (vq->lq && left)
			vql_note(vq, addr, left);
	} else if (w->in_seen) {
		vq_break(vq, "readable descriptor after a writable one");
		return -EIO;
	}
	if (left == 0)
		return 0;	/* legal, and nothing to map */
	if (addr + (left - 1) < addr) {
		vq_break(vq, "descriptor 0x%llx+%llu wraps",
			 (unsigned long long)addr, (unsigned long long)left);
		return -EIO;
	}
	w->total += left;
	if (w->total > UINT32_MAX)
		w->too_big = true;

	while (left && !w->too_big) {
		uint64_t got = left;
		unsigned int i = c->n_out + c->n_in;
		uint8_t *p;

		if (i >= VQ_MAX_IOV) {
			w->too_big = true;
			break;
		}
		p = vu_mem_gpa_hint(vq->mem, addr, &got, &vq->mem_hint);
		if (!p) {
			vq_break(vq, "descriptor address 0x%llx outside memory",
				 (unsigned long long)addr);
			return -EIO;
		}
		/* got <= left <= len, which is 32 bits. */
		c->iov[i].base = p;
		c->iov[i].len = (uint32_t)got;
		if (writable) {
			c->n_in++;
			c->in_len += (uint32_t)got;
		} else {
			c->n_out++;
			c->out_len += (uint32_t)got;
		}
		addr += got;
		left -= got;
	}
	return 0;
}

/* The packed layout (vq_packed.c); vq.c calls these when vq->packed. */
void vqp_unpop(struct vq *vq, uint16_t n);
uint16_t vqp_avail_count(struct vq *vq);
void vqp_push_read(struct vq *vq, const uint16_t *heads, unsigned int n);
bool vqp_publish(struct vq *vq);
void vqp_set_kicks(struct vq *vq, bool on);

#endif
