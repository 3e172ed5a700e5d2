/* SPDX-License-Identifier: MIT */
/*
 * vq_lines: which cache lines of the peer's memory the device side of a
 * virtqueue touches, for the benchmark's "shared lines per frame".  Every
 * such line is one the driver's CPU also touches, so each costs a
 * cross-core transfer when the two sit on different cores.  Counted only
 * in builds with VQ_LINE_COUNT (meson -Dline_count=true); the forwarding
 * build has the names table and nothing else.  Trusts only struct vq: the
 * addresses are our own mappings, never dereferenced here.
 */
#include "vq_priv.h"

const char *const vq_line_kind_names[VQ_LINE_KINDS] = {
	[VQ_LINE_DESC] = "desc",
	[VQ_LINE_AVAIL] = "avail",
	[VQ_LINE_IDX] = "idx",
	[VQ_LINE_USED] = "used",
	[VQ_LINE_EVENT] = "event",
	[VQ_LINE_BUF] = "buf",
};

#ifdef VQ_LINE_COUNT

#define LINE 64

/* Remember line l for this batch; true when it is new to the batch. */
static bool line_new(struct vq_lines *lc, uintptr_t l)
{
	uint32_t h = (uint32_t)((l * 0x9e3779b97f4a7c15ull) >> 54) & (VQ_LINE_SET - 1);

	for (unsigned int n = 0; n < VQ_LINE_SET; n++, h = (h + 1) & (VQ_LINE_SET - 1)) {
		if (lc->set_gen[h] != lc->gen) {
			lc->set_gen[h] = lc->gen;
			lc->set[h] = l;
			return true;
		}
		if (lc->set[h] == l)
			return false;
	}
	return true;	/* the set is full: count it, a slight overcount */
}

void vq_lines_touch(struct vq *vq, const volatile void *p, uint64_t len,
		    enum vq_line_kind k)
{
	struct vq_lines *lc = &vq->lc;
	uintptr_t a = (uintptr_t)p;

	if (len == 0)
		return;
	if (lc->gen == 0)
		lc->gen = 1;	/* set_gen[] starts zeroed: 0 is never current */
	for (uintptr_t l = a / LINE; l <= (a + len - 1) / LINE; l++)
		if (line_new(lc, l))
			lc->lines[k]++;
}

void vq_lines_batch(struct vq *vq)
{
	if (++vq->lc.gen == 0)
		vq->lc.gen = 1;
}

/*
 * A popped chain: the device reads every readable byte (vnet copies the
 * whole frame out), and remembers where the writable part starts, to
 * count what vq_push() says was written there.
 */
void vq_lines_popped(struct vq *vq, const struct vq_chain *c)
{
	for (unsigned int i = 0; i < c->n_out; i++)
		vq_lines_touch(vq, c->iov[i].base, c->iov[i].len, VQ_LINE_BUF);
	vq->lc.rx_buf[c->head & (VQ_LINE_SET - 1)] =
		c->n_in ? (uintptr_t)c->iov[c->n_out].base : 0;
}

/*
 * Pushed with len bytes written: counted as if they were written from the
 * start of the first writable segment on.  vnet fills segments in order,
 * so this is exact while a frame fits its first buffer, which holds for
 * mergeable buffers and frames up to the buffer size.
 */
void vq_lines_pushed(struct vq *vq, uint16_t head, uint32_t len)
{
	uintptr_t p = vq->lc.rx_buf[head & (VQ_LINE_SET - 1)];

	if (p && len)
		vq_lines_touch(vq, (const volatile void *)p, len, VQ_LINE_BUF);
}

#endif
