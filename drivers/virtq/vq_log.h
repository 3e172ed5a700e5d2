/* SPDX-License-Identifier: MIT */
/*
 * vq_log: dirty page logging for live migration of a peer (vhost-user
 * VHOST_F_LOG_ALL with a SET_LOG_BASE shared log).  The log is a bitmap,
 * one bit per 4 KiB page of guest physical memory, bit (gpa / 4096) % 8 of
 * byte gpa / 4096 / 8, set with an atomic OR after we wrote the page.
 *
 * The log mapping is the frontend's and is trusted for nothing: its length
 * bounds every bit we set (a write beyond it is counted as a miss, never
 * made).  Guest addresses come from our own copies of the peer's
 * descriptors, already checked against the memory table by the walk.
 */
#ifndef VQ_LOG_H
#define VQ_LOG_H

#include <stdbool.h>
#include <stdint.h>

#include "vu_mem.h"

#define VQ_LOG_PAGE_SHIFT 12

/* One shared log, owned by the vhost-user device, used by its rings. */
struct vq_dirty_log {
	uint8_t *bits;		/* the mapping; NULL when there is none */
	uint64_t len;		/* bytes of it we may touch */
	uint64_t marks;		/* ranges logged */
	uint64_t misses;	/* pages beyond the log: not logged */
	uint64_t fallbacks;	/* chains logged as "all memory" */
};

/* Writable ranges of chains popped and not pushed, kept while logging. */
#define VQ_LOG_RANGES 1024	/* power of two */
#define VQ_LOG_CHAINS 256	/* power of two, >= VQ_PK_TOKENS */

struct vq_lrange {
	uint64_t gpa;
	uint64_t len;
};

struct vq_lchain {
	uint32_t first;		/* index (free running) of its first range */
	uint16_t n;		/* ranges it has */
	uint16_t head;		/* what vq_push() will name it by */
	bool over;		/* ranges did not fit: log all memory for it */
	bool done;		/* pushed, waiting for older ones to go */
};

struct vq_logq {
	struct vq_lrange r[VQ_LOG_RANGES];
	struct vq_lchain c[VQ_LOG_CHAINS];
	uint32_t r_head, r_tail;	/* free running; tail - head <= RANGES */
	uint32_t c_head, c_tail;
	uint32_t cur_first;		/* the chain being walked */
	uint16_t cur_n;
	bool cur_over;
};

/* The pages of guest physical [gpa, gpa + len) are dirty.  len may be 0. */
void vq_log_range(struct vq_dirty_log *l, uint64_t gpa, uint64_t len);

/* Every page of every region of mem is dirty (the fallback). */
void vq_log_all(struct vq_dirty_log *l, const struct vu_mem *mem);

/* Whether a log of len bytes has a bit for every page of mem. */
bool vq_log_covers(uint64_t len, const struct vu_mem *mem);

#endif
