/* SPDX-License-Identifier: MIT */
/*
 * harness: one guest (drv_ring over a memfd mapped twice) facing one
 * device-side vq, for the virtq unit tests.  Test code: it trusts both
 * sides, which are ours.
 */
#include "harness.h"

#include <string.h>

void pair_region(const struct pair *p, struct vu_mem_region *r)
{
	memset(r, 0, sizeof(*r));
	r->gpa = p->m.gpa;
	r->size = p->m.size;
	r->uva = p->m.uva;
	r->mmap_offset = 0;
	r->hva = p->m.dev;
}

int pair_vq_setup(struct pair *p, bool event_idx, bool indirect)
{
	return vq_setup(&p->vq, &p->vm, p->drv.size,
			drv_uva(&p->m, p->drv.desc_off),
			drv_uva(&p->m, p->drv.avail_off),
			drv_uva(&p->m, p->drv.used_off), 0, event_idx,
			indirect);
}

int pair_open(struct pair *p, size_t memsize, uint16_t size, bool event_idx,
	      bool indirect)
{
	struct vu_mem_region r;
	int rc;

	memset(p, 0, sizeof(*p));
	rc = drv_mem_open(&p->m, memsize, H_GPA, H_UVA);
	if (rc)
		return rc;
	rc = drv_ring_init(&p->drv, &p->m, size, event_idx, indirect);
	if (rc)
		goto fail;
	vu_mem_init(&p->vm);
	pair_region(p, &r);
	rc = vu_mem_insert(&p->vm, &r);
	if (rc)
		goto fail;
	rc = pair_vq_setup(p, event_idx, indirect);
	if (rc)
		goto fail;
	return 0;
fail:
	pair_close(p);
	return rc;
}

void pair_close(struct pair *p)
{
	drv_ring_fini(&p->drv);
	drv_mem_close(&p->m);
}

bool pair_owns(const struct pair *p, const uint8_t *base, size_t len)
{
	return base >= p->m.dev && len <= p->m.size &&
	       (size_t)(base - p->m.dev) <= p->m.size - len;
}

size_t pair_buf(struct pair *p, size_t len)
{
	return drv_mem_alloc(&p->m, len, 64);
}

void pair_desc(struct pair *p, uint16_t i, uint64_t addr, uint32_t len,
	       uint16_t flags, uint16_t next)
{
	p->drv.desc[i].addr = addr;
	p->drv.desc[i].len = len;
	p->drv.desc[i].flags = flags;
	p->drv.desc[i].next = next;
}

int ppair_vq_setup(struct ppair *p, uint16_t base, bool event_idx, bool indirect)
{
	return vq_setup_packed(&p->vq, &p->vm, p->drv.size,
			       drv_uva(&p->m, p->drv.desc_off),
			       drv_uva(&p->m, p->drv.drv_ev_off),
			       drv_uva(&p->m, p->drv.dev_ev_off), base, event_idx,
			       indirect);
}

int ppair_open(struct ppair *p, size_t memsize, uint16_t size, bool event_idx,
	       bool indirect)
{
	struct vu_mem_region r;
	int rc;

	memset(p, 0, sizeof(*p));
	rc = drv_mem_open(&p->m, memsize, H_GPA, H_UVA);
	if (rc)
		return rc;
	rc = drvp_init(&p->drv, &p->m, size, event_idx, indirect);
	if (rc)
		goto fail;
	vu_mem_init(&p->vm);
	memset(&r, 0, sizeof(r));
	r.gpa = p->m.gpa;
	r.size = p->m.size;
	r.uva = p->m.uva;
	r.hva = p->m.dev;
	rc = vu_mem_insert(&p->vm, &r);
	if (rc)
		goto fail;
	rc = ppair_vq_setup(p, 1u << 15, event_idx, indirect);
	if (rc)
		goto fail;
	return 0;
fail:
	ppair_close(p);
	return rc;
}

void ppair_close(struct ppair *p)
{
	drvp_fini(&p->drv);
	drv_mem_close(&p->m);
}
