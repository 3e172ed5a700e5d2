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

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "vq.h"

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

/*
 * Check the indirect descriptor (addr, len, has_next) and switch the walk
 * to its table: w->table and w->entries.  0 or -EIO (queue broken).
 */
int vq_enter_indirect(struct vq *vq, struct vq_walk *w, uint64_t addr,
		      uint32_t len, bool has_next);

/*
 * Add the buffer of one (non-indirect) descriptor to the chain, split at
 * region boundaries; checks direction order and overflow.  0 or -EIO.
 */
int vq_add_buffer(struct vq *vq, struct vq_walk *w, struct vq_chain *c,
		  uint64_t addr, uint32_t len, bool writable);

/* The packed layout (vq_packed.c); vq.c calls these when vq->packed. */
int vqp_pop(struct vq *vq, struct vq_chain *c);
void vqp_unpop(struct vq *vq, uint16_t n);
uint16_t vqp_avail_count(struct vq *vq);
void vqp_push(struct vq *vq, uint16_t head, uint32_t len);
bool vqp_publish(struct vq *vq);
void vqp_set_kicks(struct vq *vq, bool on);

#endif
