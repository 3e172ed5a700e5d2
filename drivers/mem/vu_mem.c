/* SPDX-License-Identifier: MIT */
/*
 * vu_mem: the region table of one peer and translation of its addresses.
 *
 * Security model: gpa, uva, size and offsets all come from the frontend.
 * Nothing here trusts them; every sum is checked for wrap before use and a
 * translation never yields a length that runs past its region.
 */
#include "vu_mem.h"

#include <errno.h>
#include <string.h>

static int add_wraps(uint64_t a, uint64_t b)
{
	return a + b < a;
}

int vu_mem_check(const struct vu_mem *m, const struct vu_mem_region *r)
{
	if (r->size == 0)
		return -EINVAL;
	/* The last byte is at base + size - 1; that must not wrap. */
	if (add_wraps(r->gpa, r->size - 1) || add_wraps(r->uva, r->size - 1) ||
	    add_wraps(r->mmap_offset, r->size - 1))
		return -EINVAL;
	if (m->nregions >= VU_MAX_MEM_REGIONS)
		return -ENOSPC;
	for (unsigned int i = 0; i < m->nregions; i++) {
		const struct vu_mem_region *o = &m->r[i];

		if (r->gpa <= o->gpa + (o->size - 1) &&
		    o->gpa <= r->gpa + (r->size - 1))
			return -EEXIST;
	}
	return 0;
}

int vu_mem_insert(struct vu_mem *m, const struct vu_mem_region *r)
{
	unsigned int i;
	int rc = vu_mem_check(m, r);

	if (rc)
		return rc;
	for (i = m->nregions; i > 0 && m->r[i - 1].gpa > r->gpa; i--)
		m->r[i] = m->r[i - 1];
	m->r[i] = *r;
	m->nregions++;
	return 0;
}

struct vu_mem_region *vu_mem_find(struct vu_mem *m, uint64_t gpa, uint64_t size,
				  uint64_t uva)
{
	for (unsigned int i = 0; i < m->nregions; i++) {
		if (m->r[i].gpa == gpa && m->r[i].size == size && m->r[i].uva == uva)
			return &m->r[i];
	}
	return NULL;
}

int vu_mem_remove(struct vu_mem *m, uint64_t gpa, uint64_t size, uint64_t uva,
		  struct vu_mem_region *out)
{
	for (unsigned int i = 0; i < m->nregions; i++) {
		if (m->r[i].gpa != gpa || m->r[i].size != size ||
		    m->r[i].uva != uva)
			continue;
		*out = m->r[i];
		memmove(&m->r[i], &m->r[i + 1],
			(m->nregions - i - 1) * sizeof(m->r[0]));
		m->nregions--;
		return 0;
	}
	return -ENOENT;
}

/* Binary search for the region whose gpa range holds addr. */
static const struct vu_mem_region *find_gpa(const struct vu_mem *m,
					    uint64_t addr)
{
	unsigned int lo = 0, hi = m->nregions;

	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;
		const struct vu_mem_region *r = &m->r[mid];

		if (addr < r->gpa)
			hi = mid;
		else if (addr - r->gpa >= r->size)
			lo = mid + 1;
		else
			return r;
	}
	return NULL;
}

static void *in_region(const struct vu_mem_region *r, uint64_t base,
		       uint64_t addr, uint64_t *len)
{
	uint64_t off = addr - base;
	uint64_t left = r->size - off;

	if (*len > left)
		*len = left;
	return r->hva + off;
}

void *vu_mem_gpa(const struct vu_mem *m, uint64_t gpa, uint64_t *len)
{
	const struct vu_mem_region *r = find_gpa(m, gpa);

	if (!r) {
		*len = 0;
		return NULL;
	}
	return in_region(r, r->gpa, gpa, len);
}

void *vu_mem_gpa_slow(const struct vu_mem *m, uint64_t gpa, uint64_t *len,
		      unsigned int *hint)
{
	const struct vu_mem_region *r = find_gpa(m, gpa);

	if (!r) {
		*len = 0;
		return NULL;
	}
	*hint = (unsigned int)(r - m->r);
	return in_region(r, r->gpa, gpa, len);
}

void *vu_mem_uva(const struct vu_mem *m, uint64_t uva, uint64_t *len)
{
	for (unsigned int i = 0; i < m->nregions; i++) {
		const struct vu_mem_region *r = &m->r[i];

		if (uva >= r->uva && uva - r->uva < r->size)
			return in_region(r, r->uva, uva, len);
	}
	*len = 0;
	return NULL;
}

void *vu_mem_gpa_full(const struct vu_mem *m, uint64_t gpa, uint64_t len)
{
	uint64_t got = len;
	void *p = vu_mem_gpa(m, gpa, &got);

	return p && got == len ? p : NULL;
}

void *vu_mem_uva_full(const struct vu_mem *m, uint64_t uva, uint64_t len)
{
	uint64_t got = len;
	void *p = vu_mem_uva(m, uva, &got);

	return p && got == len ? p : NULL;
}

int vu_mem_uva_to_gpa(const struct vu_mem *m, uint64_t uva, uint64_t *gpa)
{
	for (unsigned int i = 0; i < m->nregions; i++) {
		const struct vu_mem_region *r = &m->r[i];

		if (uva >= r->uva && uva - r->uva < r->size) {
			*gpa = r->gpa + (uva - r->uva);
			return 0;
		}
	}
	return -ENOENT;
}
