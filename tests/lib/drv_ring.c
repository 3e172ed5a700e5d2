/* SPDX-License-Identifier: MIT */
/*
 * drv_ring: the driver (guest) side of a split virtqueue, for tests.
 *
 * Written from the virtio 1.2 spec (2.7), independently of the device code
 * it tests, so that a misreading of the spec on one side shows up as a
 * failure instead of cancelling out.  Trusts the device only for the used
 * ids it returns, which it checks against the chains it made available.
 */
#include "drv_ring.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/*
 * Map the memfd with an inaccessible page on each side, so that a device
 * that strays outside the guest's memory faults instead of reading
 * whatever happens to be next to it.
 */
static uint8_t *map_guarded(int fd, size_t size, size_t pg)
{
	uint8_t *res = mmap(NULL, size + 2 * pg, PROT_NONE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	void *p;

	if (res == MAP_FAILED)
		return NULL;
	p = mmap(res + pg, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		 fd, 0);
	if (p == MAP_FAILED) {
		munmap(res, size + 2 * pg);
		return NULL;
	}
	return p;
}

int drv_mem_open(struct drv_mem *m, size_t size, uint64_t gpa, uint64_t uva)
{
	long pg = sysconf(_SC_PAGESIZE);

	memset(m, 0, sizeof(*m));
	m->fd = -1;
	size = (size + (size_t)pg - 1) & ~((size_t)pg - 1);
	m->fd = memfd_create("drv_mem", MFD_CLOEXEC);
	if (m->fd < 0)
		return -errno;
	if (ftruncate(m->fd, (off_t)size) < 0)
		goto fail;
	m->size = size;
	m->pg = (size_t)pg;
	m->drv = map_guarded(m->fd, size, m->pg);
	if (!m->drv)
		goto fail;
	m->dev = map_guarded(m->fd, size, m->pg);
	if (!m->dev)
		goto fail;
	m->gpa = gpa;
	m->uva = uva;
	m->brk = 0;
	return 0;
fail:
	{
		int e = -errno;

		drv_mem_close(m);
		return e;
	}
}

void drv_mem_close(struct drv_mem *m)
{
	if (m->drv)
		munmap(m->drv - m->pg, m->size + 2 * m->pg);
	if (m->dev)
		munmap(m->dev - m->pg, m->size + 2 * m->pg);
	if (m->fd >= 0)
		close(m->fd);
	memset(m, 0, sizeof(*m));
	m->fd = -1;
}

size_t drv_mem_alloc(struct drv_mem *m, size_t len, size_t align)
{
	size_t off = (m->brk + align - 1) & ~(align - 1);

	if (off > m->size || len > m->size - off) {
		fprintf(stderr, "drv_mem_alloc: out of guest memory\n");
		abort();	/* test setup error, not peer input */
	}
	m->brk = off + len;
	memset(m->drv + off, 0, len);
	return off;
}

int drv_ring_init(struct drv_ring *r, struct drv_mem *m, uint16_t size,
		  bool event_idx, bool with_indirect)
{
	size_t n = size;

	memset(r, 0, sizeof(*r));
	if (size == 0 || (size & (size - 1)))
		return -EINVAL;
	r->mem = m;
	r->size = size;
	r->event_idx = event_idx;
	r->desc_off = drv_mem_alloc(m, 16 * n, 16);
	r->avail_off = drv_mem_alloc(m, 6 + 2 * n, 2);
	r->used_off = drv_mem_alloc(m, 6 + 8 * n, 4);
	if (with_indirect)
		r->ind_off = drv_mem_alloc(m, n * DRV_INDIRECT_MAX * 16, 16);
	r->desc = drv_ptr(m, r->desc_off);
	r->avail = drv_ptr(m, r->avail_off);
	r->used = drv_ptr(m, r->used_off);
	r->link = calloc(n, sizeof(*r->link));
	r->ndesc = calloc(n, sizeof(*r->ndesc));
	r->order = calloc(n, sizeof(*r->order));
	if (!r->link || !r->ndesc || !r->order) {
		drv_ring_fini(r);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		r->link[i] = (uint16_t)(i + 1);
	r->num_free = size;
	r->free_head = 0;
	return 0;
}

void drv_ring_fini(struct drv_ring *r)
{
	free(r->link);
	free(r->ndesc);
	free(r->order);
	r->link = r->ndesc = r->order = NULL;
}

static void publish(struct drv_ring *r, uint16_t head)
{
	r->avail->ring[r->avail_idx & (r->size - 1)] = head;
	r->order[r->avail_idx & (r->size - 1)] = head;
	r->avail_idx++;
	/* Ring entry before the index (2.7.13.3). */
	__atomic_store_n(&r->avail->idx, r->avail_idx, __ATOMIC_RELEASE);
}

static void put_desc(volatile struct vring_desc *d, const struct drv_buf *b,
		     uint16_t flags, uint16_t next)
{
	d->addr = b->gpa;
	d->len = b->len;
	d->flags = (uint16_t)(flags | (b->write ? VRING_DESC_F_WRITE : 0));
	d->next = next;
}

int drv_add(struct drv_ring *r, const struct drv_buf *b, unsigned int n,
	    bool indirect)
{
	uint16_t head = r->free_head;

	if (n == 0)
		return -EINVAL;
	if (indirect) {
		volatile struct vring_desc *t;

		if (!r->ind_off || n > DRV_INDIRECT_MAX || r->num_free < 1)
			return -ENOSPC;
		t = drv_ptr(r->mem, r->ind_off + (size_t)head * DRV_INDIRECT_MAX * 16);
		for (unsigned int i = 0; i < n; i++)
			put_desc(&t[i], &b[i],
				 i + 1 < n ? VRING_DESC_F_NEXT : 0,
				 (uint16_t)(i + 1 < n ? i + 1 : 0));
		r->desc[head].addr = drv_gpa(r->mem, r->ind_off +
					     (size_t)head * DRV_INDIRECT_MAX * 16);
		r->desc[head].len = (uint32_t)(n * 16);
		r->desc[head].flags = VRING_DESC_F_INDIRECT;
		r->desc[head].next = 0;
		r->free_head = r->link[head];
		r->num_free--;
		r->ndesc[head] = 1;
	} else {
		uint16_t i = head;

		if (r->num_free < n)
			return -ENOSPC;
		for (unsigned int k = 0; k < n; k++) {
			uint16_t next = r->link[i];

			put_desc(&r->desc[i], &b[k],
				 k + 1 < n ? VRING_DESC_F_NEXT : 0, next);
			if (k + 1 < n)
				i = next;
		}
		r->free_head = r->link[i];
		r->num_free = (uint16_t)(r->num_free - n);
		r->ndesc[head] = (uint16_t)n;
	}
	publish(r, head);
	return head;
}

void drv_post_head(struct drv_ring *r, uint16_t head)
{
	publish(r, head);
}

void drv_set_avail_idx(struct drv_ring *r, uint16_t idx)
{
	r->avail_idx = idx;
	__atomic_store_n(&r->avail->idx, idx, __ATOMIC_RELEASE);
}

bool drv_kick_needed(struct drv_ring *r)
{
	uint16_t old = r->kicked, now = r->avail_idx;

	/* Our avail->idx store before reading the device's wishes. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	r->kicked = now;
	if (r->event_idx)
		return vring_need_event(drv_avail_event(r), now, old);
	return !(r->used->flags & VRING_USED_F_NO_NOTIFY);
}

int drv_get_used(struct drv_ring *r, uint32_t *len)
{
	uint16_t idx = __atomic_load_n(&r->used->idx, __ATOMIC_ACQUIRE);
	volatile struct vring_used_elem *e;
	uint32_t id;
	uint16_t i;

	if (idx == r->last_used)
		return -1;
	if (r->in_order && !r->batch_left) {
		uint16_t n = 1, have = (uint16_t)(idx - r->last_used);

		e = &r->used->ring[r->last_used & (r->size - 1)];
		id = e->id;
		r->batch_len = e->len;
		r->used_read++;
		/* the batch: avail slots from last_used to the one with id */
		while (r->order[(uint16_t)(r->last_used + n - 1) & (r->size - 1)] != id) {
			if (++n > have) {
				fprintf(stderr, "drv_get_used: in-order id %u beyond used->idx\n", id);
				abort();
			}
		}
		r->batch_left = n;
	}
	if (r->in_order) {
		id = r->order[r->last_used & (r->size - 1)];
		*len = --r->batch_left ? 0 : r->batch_len;
		r->last_used++;
	} else {
		e = &r->used->ring[r->last_used & (r->size - 1)];
		id = e->id;
		*len = e->len;
		r->last_used++;
		r->used_read++;
	}
	if (id >= r->size || r->ndesc[id] == 0) {
		fprintf(stderr, "drv_get_used: device returned bad id %u\n", id);
		abort();	/* a device bug: fail the test loudly */
	}
	/* Give the chain's descriptors back to the free list. */
	i = (uint16_t)id;
	for (uint16_t k = 1; k < r->ndesc[id]; k++)
		i = r->link[i];
	r->link[i] = r->free_head;
	r->free_head = (uint16_t)id;
	r->num_free = (uint16_t)(r->num_free + r->ndesc[id]);
	r->ndesc[id] = 0;
	return (int)id;
}

void drv_set_interrupts(struct drv_ring *r, bool on)
{
	if (r->event_idx) {
		if (on)
			drv_set_used_event(r, r->last_used);
	} else {
		r->avail->flags = on ? 0 : VRING_AVAIL_F_NO_INTERRUPT;
	}
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

void drv_set_used_event(struct drv_ring *r, uint16_t v)
{
	r->avail->ring[r->size] = v;
}

uint16_t drv_avail_event(const struct drv_ring *r)
{
	return *(volatile uint16_t *)&r->used->ring[r->size];
}
