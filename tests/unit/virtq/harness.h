/* SPDX-License-Identifier: MIT */
/*
 * harness: one guest (drv_ring over a memfd mapped twice) facing one
 * device-side vq, for the virtq unit tests.  The device side sees the
 * guest's memory only through a vu_mem table, as it would in production.
 */
#ifndef VQ_HARNESS_H
#define VQ_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drv_ring.h"
#include "drv_ring_packed.h"
#include "vq.h"
#include "vu_mem.h"

#define H_GPA 0x100000000ull		/* guest physical base */
#define H_UVA 0x7f1200000000ull		/* fake frontend address of it */

struct pair {
	struct drv_mem m;
	struct vu_mem vm;
	struct drv_ring drv;
	struct vq vq;
};

/* Guest memory of memsize bytes, one region, a ring of size; 0 or -errno. */
int pair_open(struct pair *p, size_t memsize, uint16_t size, bool event_idx,
	      bool indirect);
void pair_close(struct pair *p);

/* The region describing all of p's guest memory to the device. */
void pair_region(const struct pair *p, struct vu_mem_region *r);

/* vq_setup() over p's ring with p's vu_mem. */
int pair_vq_setup(struct pair *p, bool event_idx, bool indirect);

/* True when [base, base+len) lies in the device's view of p's memory. */
bool pair_owns(const struct pair *p, const uint8_t *base, size_t len);

/* A buffer of len bytes in guest memory: its offset (driver view). */
size_t pair_buf(struct pair *p, size_t len);

/* Write raw descriptor i (hostile tests). */
void pair_desc(struct pair *p, uint16_t i, uint64_t addr, uint32_t len,
	       uint16_t flags, uint16_t next);

/* The same with a packed ring. */
struct ppair {
	struct drv_mem m;
	struct vu_mem vm;
	struct drvp_ring drv;
	struct vq vq;
};

int ppair_open(struct ppair *p, size_t memsize, uint16_t size, bool event_idx,
	       bool indirect);
void ppair_close(struct ppair *p);

/* vq_setup_packed() over p's ring with base (position | wrap << 15). */
int ppair_vq_setup(struct ppair *p, uint16_t base, bool event_idx, bool indirect);

#endif
