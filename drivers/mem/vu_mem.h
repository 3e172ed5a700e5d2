/* SPDX-License-Identifier: MIT */
/*
 * vu_mem: the table of a peer's memory regions and address translation into it.
 *
 * Every region and every address comes from an untrusted frontend.  Insertion
 * refuses empty, wrapping and overlapping regions; translation is overflow
 * checked and caps the returned length to what is contiguous in one region,
 * so a caller can never be handed a pointer past the end of a mapping.
 */
#ifndef VU_MEM_H
#define VU_MEM_H

#include <stdint.h>

/* Slots we offer with VHOST_USER_GET_MAX_MEM_SLOTS. */
#define VU_MAX_MEM_REGIONS 256

struct vu_mem_region {
	uint64_t gpa;		/* guest physical address of the first byte */
	uint64_t size;		/* bytes, > 0 */
	uint64_t uva;		/* the frontend's virtual address of gpa */
	uint64_t mmap_offset;	/* offset of gpa in the region's fd */
	uint8_t *hva;		/* where gpa is mapped in this process */
	void *cookie;		/* the transport's handle for the mapping */
	uint32_t refs;		/* ADD_MEM_REGs of this very region not yet removed */
};

/* Regions sorted by gpa; no two overlap in guest physical space. */
struct vu_mem {
	unsigned int nregions;
	struct vu_mem_region r[VU_MAX_MEM_REGIONS];
};

static inline void vu_mem_init(struct vu_mem *m) { m->nregions = 0; }

/*
 * Check that r could join m: size > 0, none of gpa+size, uva+size,
 * mmap_offset+size wraps, no overlap in guest physical space, a free slot.
 * Returns 0 or -EINVAL / -ENOSPC / -EEXIST.
 */
int vu_mem_check(const struct vu_mem *m, const struct vu_mem_region *r);

/* vu_mem_check() then insert, keeping the order.  0 or -errno. */
int vu_mem_insert(struct vu_mem *m, const struct vu_mem_region *r);

/*
 * Remove the region that matches gpa, size and uva exactly and copy it to
 * *out so the caller can unmap it.  0, or -ENOENT when none matches.
 */
int vu_mem_remove(struct vu_mem *m, uint64_t gpa, uint64_t size, uint64_t uva,
		  struct vu_mem_region *out);

/* The region that matches gpa, size and uva exactly, or NULL. */
struct vu_mem_region *vu_mem_find(struct vu_mem *m, uint64_t gpa, uint64_t size,
				  uint64_t uva);

/*
 * Translate a guest physical address.  On entry *len is the length wanted;
 * on return it is capped to the bytes left in the region holding gpa.
 * Returns the local address, or NULL (and *len = 0) if gpa is in no region.
 */
void *vu_mem_gpa(const struct vu_mem *m, uint64_t gpa, uint64_t *len);

/* vu_mem_gpa_hint()'s search, setting *hint to the region found. */
void *vu_mem_gpa_slow(const struct vu_mem *m, uint64_t gpa, uint64_t *len,
		      unsigned int *hint);

/*
 * vu_mem_gpa() for a caller that keeps *hint between calls (start it at
 * 0): the region that held the last address is tried first, checked
 * against the current table like any other, so a stale hint costs only
 * the search.  Descriptors of one ring nearly always hit one region.
 */
static inline void *vu_mem_gpa_hint(const struct vu_mem *m, uint64_t gpa,
				    uint64_t *len, unsigned int *hint)
{
	unsigned int h = *hint;

	if (h < m->nregions) {
		const struct vu_mem_region *r = &m->r[h];
		/* Wraps to more than size when gpa < r->gpa (no region wraps). */
		uint64_t off = gpa - r->gpa;

		if (off < r->size) {
			if (*len > r->size - off)
				*len = r->size - off;
			return r->hva + off;
		}
	}
	return vu_mem_gpa_slow(m, gpa, len, hint);
}

/* The same for a frontend virtual address (vring addresses use these). */
void *vu_mem_uva(const struct vu_mem *m, uint64_t uva, uint64_t *len);

/*
 * Translate [gpa, gpa+len) that must lie in one region in full.
 * Returns the local address or NULL.
 */
void *vu_mem_gpa_full(const struct vu_mem *m, uint64_t gpa, uint64_t len);
void *vu_mem_uva_full(const struct vu_mem *m, uint64_t uva, uint64_t len);

/*
 * The guest physical address of frontend virtual address uva (dirty
 * logging is indexed by gpa, rings are given by uva).  0 or -ENOENT.
 */
int vu_mem_uva_to_gpa(const struct vu_mem *m, uint64_t uva, uint64_t *gpa);

#endif
