/* SPDX-License-Identifier: MIT */
/*
 * vq_log: the dirty log writer, and the bookkeeping that lets a ring log
 * a chain's buffers when it is pushed (the data is written by then).
 *
 * Security model: the log mapping's length is ours (checked when it was
 * mapped); every bit index is checked against it, so a log too small for
 * what the peer's rings name costs misses, never a write outside the
 * mapping.  Ranges come from our copies of descriptors the walk checked;
 * a chain whose ranges we could not keep is logged as all of memory, so a
 * hostile or huge chain makes logging slower, never wrong.
 */
#include "vq.h"
#include "vq_log.h"
#include "vq_priv.h"

#include <errno.h>
#include <string.h>

#define PAGE_SHIFT VQ_LOG_PAGE_SHIFT

void vq_log_range(struct vq_dirty_log *l, uint64_t gpa, uint64_t len)
{
	uint64_t page, last;

	if (!len || !l->bits)
		return;
	/* The data and ring writes before the bits that announce them. */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	page = gpa >> PAGE_SHIFT;
	/* Callers' ranges do not wrap; saturate anyway. */
	last = (gpa + len - 1 < gpa ? UINT64_MAX : gpa + len - 1) >> PAGE_SHIFT;
	l->marks++;
	for (;; page++) {
		uint64_t byte = page >> 3;
		uint8_t bit = (uint8_t)(1u << (page & 7));

		if (byte >= l->len) {
			l->misses += last - page + 1;
			return;
		}
		/* QEMU clears bits with an atomic exchange: OR, never store. */
		if (!(__atomic_load_n(&l->bits[byte], __ATOMIC_RELAXED) & bit))
			__atomic_fetch_or(&l->bits[byte], bit, __ATOMIC_RELAXED);
		if (page == last)
			return;
	}
}

void vq_log_all(struct vq_dirty_log *l, const struct vu_mem *mem)
{
	l->fallbacks++;
	for (unsigned int i = 0; i < mem->nregions; i++)
		vq_log_range(l, mem->r[i].gpa, mem->r[i].size);
}

bool vq_log_covers(uint64_t len, const struct vu_mem *mem)
{
	for (unsigned int i = 0; i < mem->nregions; i++) {
		const struct vu_mem_region *r = &mem->r[i];
		uint64_t last_page = (r->gpa + (r->size - 1)) >> PAGE_SHIFT;

		if ((last_page >> 3) >= len)
			return false;
	}
	return true;
}

void vq_log_attach(struct vq *vq, struct vq_dirty_log *log, struct vq_logq *lq)
{
	if (!log || !lq) {
		vq->log = NULL;
		vq->lq = NULL;
		vq->fast = !vq->packed && vq->size && !vq->broken;
		vq->fast_pk = vq->packed && vq->size && !vq->broken;
		return;
	}
	memset(lq, 0, sizeof(*lq));
	vq->lq = lq;
	vq->log = log;
	vq->fast = false;
	vq->fast_pk = false;
}

void vql_note(struct vq *vq, uint64_t gpa, uint64_t len)
{
	struct vq_logq *q = vq->lq;

	if (q->cur_over)
		return;
	if (q->r_tail + q->cur_n - q->r_head >= VQ_LOG_RANGES ||
	    q->cur_n == UINT16_MAX) {
		q->cur_over = true;
		return;
	}
	q->r[(q->r_tail + q->cur_n) & (VQ_LOG_RANGES - 1)] =
		(struct vq_lrange){ .gpa = gpa, .len = len };
	q->cur_n++;
}

void vql_abort(struct vq *vq)
{
	vq->lq->cur_n = 0;
	vq->lq->cur_over = false;
}

void vql_popped(struct vq *vq, uint16_t head)
{
	struct vq_logq *q = vq->lq;

	if (q->c_tail - q->c_head < VQ_LOG_CHAINS) {
		/* Else no record: its push finds none and logs everything. */
		q->c[q->c_tail & (VQ_LOG_CHAINS - 1)] = (struct vq_lchain){
			.first = q->r_tail, .n = q->cur_n, .head = head,
			.over = q->cur_over,
		};
		q->c_tail++;
		q->r_tail += q->cur_n;
	}
	vql_abort(vq);
}

void vql_unpop(struct vq *vq, uint16_t n)
{
	struct vq_logq *q = vq->lq;

	while (n-- && q->c_tail != q->c_head) {
		q->c_tail--;
		q->r_tail = q->c[q->c_tail & (VQ_LOG_CHAINS - 1)].first;
	}
}

void vql_pushed(struct vq *vq, uint16_t head, uint32_t len)
{
	struct vq_logq *q = vq->lq;
	struct vq_lchain *c = NULL;
	uint64_t left = len;

	for (uint32_t i = q->c_head; i != q->c_tail; i++) {
		struct vq_lchain *e = &q->c[i & (VQ_LOG_CHAINS - 1)];

		if (!e->done && e->head == head) {
			c = e;
			break;
		}
	}
	if (!c || c->over) {
		if (left)
			vq_log_all(vq->log, vq->mem);
	} else {
		for (uint16_t i = 0; i < c->n && left; i++) {
			const struct vq_lrange *r =
				&q->r[(c->first + i) & (VQ_LOG_RANGES - 1)];
			uint64_t n = r->len < left ? r->len : left;

			vq_log_range(vq->log, r->gpa, n);
			left -= n;
		}
	}
	if (!c)
		return;
	c->done = true;
	while (q->c_head != q->c_tail) {
		struct vq_lchain *e = &q->c[q->c_head & (VQ_LOG_CHAINS - 1)];

		if (!e->done)
			break;
		q->r_head = e->first + e->n;
		q->c_head++;
	}
	if (q->c_head == q->c_tail)
		q->r_head = q->r_tail;
}

int vql_pop_done(struct vq *vq, uint16_t head, int rc)
{
	if (rc == -EIO)
		vql_abort(vq);
	else if (rc != 0)
		vql_popped(vq, head);
	return rc;
}

void vql_push_split(struct vq *vq, uint16_t head, uint32_t len)
{
	uint16_t slot = (uint16_t)(vq->used_idx - 1) & (vq->size - 1);

	vq_log_range(vq->log, vq->gpa_dev + 4 + 8 * (uint64_t)slot, 8);
	vql_pushed(vq, head, len);
}
