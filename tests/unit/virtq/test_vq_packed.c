/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the device-side packed virtqueue (drivers/virtq/
 * vq_packed.c) against our own driver-side packed ring
 * (tests/lib/drv_ring_packed.c), over guest memory mapped twice, and of
 * vnet framing over packed rings.  The hostile cases write what a
 * malicious driver would (bad ids, ids reused, descriptors never made
 * available, wrap counter lies, endless chains, bad indirect tables) and
 * check that the queue breaks with a reason and touches nothing after.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"
#include "vnet.h"

#define MEM (2u << 20)
#define AV(w) drvp_avail_flags(w)

static struct ppair P, Q;
static bool q_open;

static int up8(void **state) { (void)state; return ppair_open(&P, MEM, 8, false, true); }
static int up8ev(void **state) { (void)state; return ppair_open(&P, MEM, 8, true, true); }
static int up8noind(void **state) { (void)state; return ppair_open(&P, MEM, 8, false, false); }
static int up7(void **state) { (void)state; return ppair_open(&P, MEM, 7, true, true); }
static int up512(void **state) { (void)state; return ppair_open(&P, 8u << 20, 512, false, false); }

static int down(void **state)
{
	(void)state;
	ppair_close(&P);
	if (q_open)
		ppair_close(&Q);
	q_open = false;
	return 0;
}

static size_t buf(struct ppair *p, size_t len)
{
	return drv_mem_alloc(&p->m, len, 64);
}

static struct drv_buf mk(struct ppair *p, size_t off, uint32_t len, bool w)
{
	struct drv_buf b = { drv_gpa(&p->m, off), len, w };

	return b;
}

/* Pop and expect the queue to break with a reason containing what. */
static void expect_break(const char *what)
{
	struct vq_chain c;

	assert_int_equal(vq_pop(&P.vq, &c), -EIO);
	assert_true(P.vq.broken);
	assert_false(vq_ready(&P.vq));
	if (!strstr(P.vq.why, what))
		fail_msg("why: \"%s\", expected \"%s\"", P.vq.why, what);
	/* Broken stays broken and touches nothing. */
	assert_int_equal(vq_pop(&P.vq, &c), -EIO);
	vq_push(&P.vq, 0, 1);
	assert_false(vq_publish(&P.vq));
	assert_int_equal(vq_avail_count(&P.vq), 0);
}

/* ---- setup ---- */

static void test_setup_checks(void **state)
{
	struct drvp_ring *r = &P.drv;
	uint64_t d = drv_uva(&P.m, r->desc_off);
	uint64_t a = drv_uva(&P.m, r->drv_ev_off);
	uint64_t u = drv_uva(&P.m, r->dev_ev_off);
	uint64_t end = P.m.uva + P.m.size;
	struct vq *vq = &P.vq;

	(void)state;
	assert_int_equal(vq_setup_packed(vq, &P.vm, 8, d, a, u, 0x8000, true, true), 0);
	assert_true(vq_ready(vq));
	assert_true(vq->packed);
	assert_int_equal(vq_base(vq), 0x8000);
	/* Any size up to 32768, not only powers of two; never 0. */
	assert_int_equal(vq_setup_packed(vq, &P.vm, 0, d, a, u, 0x8000, true, true), -EINVAL);
	assert_false(vq_ready(vq));
	assert_false(vq->packed);
	assert_int_equal(vq_setup_packed(vq, &P.vm, 6, d, a, u, 0x8000, true, true), 0);
	/* The base's position must be inside the ring. */
	assert_int_equal(vq_setup_packed(vq, &P.vm, 8, d, a, u, 0x8008, true, true), -EINVAL);
	assert_non_null(strstr(vq->why, "base"));
	assert_int_equal(vq_setup_packed(vq, &P.vm, 8, d, a, u, 0x0007, true, true), 0);
	assert_int_equal(vq_base(vq), 7);
	/* Alignment: ring 16, event areas 4. */
	assert_int_equal(vq_setup_packed(vq, &P.vm, 8, d + 8, a, u, 0x8000, true, true), -EINVAL);
	assert_non_null(strstr(vq->why, "descriptor ring"));
	assert_int_equal(vq_setup_packed(vq, &P.vm, 8, d, a + 2, u, 0x8000, true, true), -EINVAL);
	assert_non_null(strstr(vq->why, "driver event"));
	assert_int_equal(vq_setup_packed(vq, &P.vm, 8, d, a, u + 2, 0x8000, true, true), -EINVAL);
	assert_non_null(strstr(vq->why, "device event"));
	/* Outside memory, or off its end by one entry. */
	assert_int_equal(vq_setup_packed(vq, &P.vm, 8, 0x1000, a, u, 0x8000, true, true), -EINVAL);
	assert_int_equal(vq_setup_packed(vq, &P.vm, 8, end - 16 * 7, a, u, 0x8000, true, true), -EINVAL);
	assert_int_equal(vq_setup_packed(vq, &P.vm, 8, end - 16 * 8, a, u, 0x8000, true, true), 0);
	assert_int_equal(vq_setup_packed(vq, &P.vm, 8, d, end, u, 0x8000, true, true), -EINVAL);
	assert_int_equal(vq_setup_packed(vq, &P.vm, 8, d, a, end - 4, 0x8000, true, true), 0);
	/* Reset forgets the layout. */
	vq_reset(vq);
	assert_false(vq_ready(vq));
	assert_false(vq->packed);
}

/* ---- normal operation ---- */

static void test_single(void **state)
{
	size_t o = buf(&P, 64);
	struct drv_buf b = mk(&P, o, 64, true);
	struct vq_chain c;
	uint32_t len;
	int id;

	(void)state;
	assert_int_equal(vq_avail_count(&P.vq), 0);
	assert_int_equal(vq_pop(&P.vq, &c), 0);
	id = drvp_add(&P.drv, &b, 1, false);
	assert_true(id >= 0);
	assert_int_equal(vq_avail_count(&P.vq), 1);
	assert_int_equal(vq_pop(&P.vq, &c), 1);
	assert_int_equal(c.n_out, 0);
	assert_int_equal(c.n_in, 1);
	assert_int_equal(c.in_len, 64);
	assert_ptr_equal(c.iov[0].base, P.m.dev + o);
	assert_int_equal(vq_pop(&P.vq, &c), 0);
	memcpy(c.iov[0].base, "pong", 4);
	vq_push(&P.vq, c.head, 4);
	assert_int_equal(drvp_get_used(&P.drv, &len), -1);	/* not published */
	assert_true(vq_publish(&P.vq));
	assert_int_equal(drvp_get_used(&P.drv, &len), id);
	assert_int_equal(len, 4);
	assert_memory_equal(drv_ptr(&P.m, o), "pong", 4);
	assert_false(vq_publish(&P.vq));	/* nothing new */
	assert_int_equal(P.drv.num_free, 8);
	assert_int_equal(vq_base(&P.vq), 1 | 0x8000);
}

static void test_chained(void **state)
{
	size_t o1 = buf(&P, 100), o2 = buf(&P, 50), o3 = buf(&P, 200);
	struct drv_buf b[3] = { mk(&P, o1, 100, false), mk(&P, o2, 50, false),
				mk(&P, o3, 200, true) };
	struct vq_chain c;
	uint32_t len;
	int id;

	(void)state;
	id = drvp_add(&P.drv, b, 3, false);
	assert_int_equal(vq_pop(&P.vq, &c), 1);
	assert_int_equal(c.n_out, 2);
	assert_int_equal(c.n_in, 1);
	assert_int_equal(c.out_len, 150);
	assert_int_equal(c.in_len, 200);
	assert_ptr_equal(c.iov[0].base, P.m.dev + o1);
	assert_ptr_equal(c.iov[1].base, P.m.dev + o2);
	assert_ptr_equal(c.iov[2].base, P.m.dev + o3);
	assert_int_equal(P.vq.last_avail, 3);
	assert_int_equal(P.vq.pk.inflight, 3);
	vq_push(&P.vq, c.head, 7);
	assert_int_equal(P.vq.pk.inflight, 0);
	assert_int_equal(P.vq.used_idx, 3);	/* skipped the whole chain */
	vq_publish(&P.vq);
	assert_int_equal(drvp_get_used(&P.drv, &len), id);
	assert_int_equal(len, 7);
}

static void test_indirect(void **state)
{
	size_t o = buf(&P, 4096);
	struct drv_buf b[5];
	struct vq_chain c;
	uint32_t len;
	int id;

	(void)state;
	for (int i = 0; i < 5; i++)
		b[i] = mk(&P, o + 100 * (size_t)i, 10 + (uint32_t)i, i >= 3);
	id = drvp_add(&P.drv, b, 5, true);
	assert_true(id >= 0);
	assert_int_equal(vq_pop(&P.vq, &c), 1);
	assert_int_equal(c.n_out, 3);
	assert_int_equal(c.n_in, 2);
	assert_int_equal(c.out_len, 10 + 11 + 12);
	assert_int_equal(c.in_len, 13 + 14);
	for (int i = 0; i < 5; i++)
		assert_ptr_equal(c.iov[i].base, P.m.dev + o + 100 * (size_t)i);
	assert_int_equal(P.vq.last_avail, 1);	/* one ring descriptor */
	vq_push(&P.vq, c.head, 27);
	vq_publish(&P.vq);
	assert_int_equal(drvp_get_used(&P.drv, &len), id);
	assert_int_equal(len, 27);
}

/* A chain that runs over the end of the ring: the wrap counter flips inside. */
static void test_chain_across_wrap(void **state)
{
	size_t o = buf(&P, 64);
	struct drv_buf one = mk(&P, o, 8, true);
	struct drv_buf three[3] = { mk(&P, o, 8, false), mk(&P, o + 8, 8, false),
				    mk(&P, o + 16, 8, true) };
	struct vq_chain c;
	uint32_t len;
	int id;

	(void)state;
	for (int i = 0; i < 6; i++) {
		id = drvp_add(&P.drv, &one, 1, false);
		assert_int_equal(vq_pop(&P.vq, &c), 1);
		vq_push(&P.vq, c.head, 0);
		vq_publish(&P.vq);
		assert_int_equal(drvp_get_used(&P.drv, &len), id);
	}
	id = drvp_add(&P.drv, three, 3, false);	/* positions 6, 7, 0 */
	assert_int_equal(vq_pop(&P.vq, &c), 1);
	assert_int_equal(c.n_out, 2);
	assert_int_equal(c.n_in, 1);
	assert_int_equal(P.vq.last_avail, 1);
	assert_false(P.vq.pk.avail_wrap);
	vq_push(&P.vq, c.head, 8);
	assert_int_equal(P.vq.used_idx, 1);
	assert_false(P.vq.pk.used_wrap);
	vq_publish(&P.vq);
	assert_int_equal(drvp_get_used(&P.drv, &len), id);
	assert_int_equal(vq_base(&P.vq), 1);	/* wrap counter 0 */
}

/*
 * Many laps with chains of 2 or 3 descriptors, some indirect, pushed in
 * reverse order, data checked both ways; on a ring whose size is not a
 * power of two.
 */
static void test_wraparound(void **state)
{
	size_t o = buf(&P, 8 * 64);
	struct vq_chain c;
	uint32_t len;

	(void)state;
	for (uint32_t op = 0; op < 30000; op += 2) {
		uint16_t tok[2];
		int ids[2];

		for (int k = 0; k < 2; k++) {
			uint32_t v = op + (uint32_t)k;
			size_t bo = o + 64 * (size_t)(v % 8);
			unsigned int n = 2 + v % 2;
			struct drv_buf b[3] = { mk(&P, bo, 4, false),
						mk(&P, bo + 4, 4, n == 2),
						mk(&P, bo + 8, 4, true) };

			memcpy(drv_ptr(&P.m, bo), &v, 4);
			ids[k] = drvp_add(&P.drv, b, n, (v & 4) != 0);
			assert_true(ids[k] >= 0);
		}
		for (int k = 0; k < 2; k++) {
			uint32_t v;

			assert_int_equal(vq_pop(&P.vq, &c), 1);
			memcpy(&v, c.iov[0].base, 4);
			assert_int_equal(v, op + (uint32_t)k);
			v = ~v;
			memcpy(c.iov[c.n_out].base, &v, 4);
			tok[k] = c.head;
		}
		/* Out of order: the second one first. */
		vq_push(&P.vq, tok[1], 4);
		vq_push(&P.vq, tok[0], 4);
		vq_publish(&P.vq);
		for (int k = 1; k >= 0; k--) {
			uint32_t v, want = op + (uint32_t)k;
			size_t bo = o + 64 * (size_t)(want % 8);
			unsigned int n = 2 + want % 2;

			assert_int_equal(drvp_get_used(&P.drv, &len), ids[k]);
			assert_int_equal(len, 4);
			memcpy(&v, drv_ptr(&P.m, bo + (n == 2 ? 4 : 8)), 4);
			assert_int_equal(v, ~want);
		}
		assert_int_equal(drvp_get_used(&P.drv, &len), -1);
	}
	assert_false(P.vq.broken);
	assert_int_equal(P.vq.pk.inflight, 0);
	assert_int_equal(P.vq.last_avail, P.drv.next_avail);
	assert_int_equal(P.vq.pk.avail_wrap, P.drv.avail_wrap);
	assert_int_equal(P.vq.used_idx, P.drv.last_used);
	assert_int_equal(P.drv.num_free, 7);
}

static void test_unpop(void **state)
{
	size_t o = buf(&P, 64);
	struct drv_buf b[2] = { mk(&P, o, 32, true), mk(&P, o + 32, 32, true) };
	struct vq_chain c;
	uint16_t pos, tok;
	bool wrap;

	(void)state;
	for (int i = 0; i < 3; i++)
		assert_true(drvp_add(&P.drv, b, 2, false) >= 0);	/* 0..5 */
	assert_int_equal(vq_pop(&P.vq, &c), 1);
	tok = c.head;
	pos = P.vq.last_avail;
	wrap = P.vq.pk.avail_wrap;
	assert_int_equal(vq_pop(&P.vq, &c), 1);
	assert_int_equal(vq_pop(&P.vq, &c), 1);
	assert_int_equal(P.vq.pk.inflight, 6);
	vq_unpop(&P.vq, 2);
	assert_int_equal(P.vq.last_avail, pos);
	assert_int_equal(P.vq.pk.avail_wrap, wrap);
	assert_int_equal(P.vq.pk.inflight, 2);
	assert_int_equal(vq_avail_count(&P.vq), 1);
	/* Popped again: the same ids are not "reused while in flight". */
	assert_int_equal(vq_pop(&P.vq, &c), 1);
	assert_int_equal(vq_pop(&P.vq, &c), 1);
	assert_int_equal(vq_pop(&P.vq, &c), 0);
	vq_push(&P.vq, tok, 0);
	assert_false(P.vq.broken);
}

/* A caller that holds VQ_PK_TOKENS chains gets no more, and nothing breaks. */
static void test_token_limit(void **state)
{
	size_t o = buf(&P, 64);
	struct drv_buf b = mk(&P, o, 64, true);
	struct vq_chain c;
	uint16_t first = 0;

	(void)state;
	for (int i = 0; i < VQ_PK_TOKENS + 2; i++)
		assert_true(drvp_add(&P.drv, &b, 1, false) >= 0);
	for (int i = 0; i < VQ_PK_TOKENS; i++) {
		assert_int_equal(vq_pop(&P.vq, &c), 1);
		if (i == 0)
			first = c.head;
	}
	assert_int_equal(vq_pop(&P.vq, &c), 0);
	vq_push(&P.vq, first, 0);
	assert_int_equal(vq_pop(&P.vq, &c), 1);
	assert_int_equal(c.head, first);
	assert_false(P.vq.broken);
}

/* Several pushes appear at once, at publish; the first entry's flags go last. */
static void test_batch_hidden_until_publish(void **state)
{
	size_t o = buf(&P, 64);
	struct drv_buf b = mk(&P, o, 64, true);
	struct vq_chain c;
	uint32_t len;
	int ids[3];

	(void)state;
	for (int i = 0; i < 3; i++)
		ids[i] = drvp_add(&P.drv, &b, 1, false);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(vq_pop(&P.vq, &c), 1);
		vq_push(&P.vq, c.head, (uint32_t)i);
		assert_int_equal(drvp_get_used(&P.drv, &len), -1);
	}
	/* Entries 1 and 2 carry their flags already; entry 0 does not. */
	assert_int_equal(P.drv.desc[0].flags & 0x8080, 0x0080);
	assert_int_equal(P.drv.desc[1].flags & 0x8080, 0x8080);
	vq_publish(&P.vq);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(drvp_get_used(&P.drv, &len), ids[i]);
		assert_int_equal(len, (uint32_t)i);
	}
}

/* ---- in-order batches (vq_push_read) ---- */

/* Make n one-buffer chains available and pop them: tokens in tok, ids in ids (or NULL). */
static void pop_n_ids(unsigned int n, uint16_t *tok, int *ids)
{
	size_t o = buf(&P, 16);
	struct drv_buf b = mk(&P, o, 16, true);
	struct vq_chain c;

	for (unsigned int i = 0; i < n; i++) {
		int id = drvp_add(&P.drv, &b, 1, false);

		assert_true(id >= 0);
		if (ids)
			ids[i] = id;
	}
	for (unsigned int i = 0; i < n; i++) {
		assert_int_equal(vq_pop(&P.vq, &c), 1);
		tok[i] = c.head;
	}
}

static void pop_n(unsigned int n, uint16_t *tok)
{
	pop_n_ids(n, tok, NULL);
}


/*
 * With VIRTIO_F_IN_ORDER, over many laps of a ring of 7 (chains of 1 to 3
 * descriptors, some crossing the end): each batch of chains pushed in pop
 * order is one used descriptor, which an in-order driver reads as the
 * whole batch, in order.
 */
static void test_in_order_batches(void **state)
{
	size_t o = buf(&P, 64);
	struct drv_buf b[3] = { mk(&P, o, 8, false), mk(&P, o + 8, 8, false),
				mk(&P, o + 16, 8, false) };
	unsigned int batches = 0;
	struct vq_chain c;
	uint32_t len;

	(void)state;
	P.vq.in_order = true;
	P.drv.in_order = true;
	for (unsigned int round = 0; round < 3000; round++) {
		uint16_t heads[8];
		int ids[8];
		unsigned int n = 0;

		/* as many chains as fit, up to 1 + round % 4 */
		while (n < 1 + round % 4) {
			int id = drvp_add(&P.drv, b, 1 + (round + n) % 3, false);

			if (id < 0)
				break;
			ids[n++] = id;
		}
		assert_true(n >= 1);
		for (unsigned int i = 0; i < n; i++) {
			assert_int_equal(vq_pop(&P.vq, &c), 1);
			heads[i] = c.head;
		}
		vq_push_read(&P.vq, heads, n);
		assert_int_equal(P.vq.pk.inflight, 0);
		vq_publish(&P.vq);
		batches++;
		for (unsigned int i = 0; i < n; i++) {
			assert_int_equal(drvp_get_used(&P.drv, &len), ids[i]);
			assert_int_equal(len, 0);
		}
		assert_int_equal(drvp_get_used(&P.drv, &len), -1);
	}
	assert_false(P.vq.broken);
	assert_int_equal(P.drv.used_read, batches);
	assert_int_equal(P.vq.used_idx, P.drv.last_used);
	assert_int_equal(P.vq.pk.used_wrap, P.drv.used_wrap);
	for (size_t i = 0; i < sizeof(P.vq.pk.busy) / sizeof(P.vq.pk.busy[0]); i++)
		assert_int_equal(P.vq.pk.busy[i], 0);
}

/*
 * A batch that is not everything in flight, or given out of pop order,
 * or on a queue without in_order, is pushed chain by chain.
 */
static void test_in_order_not_a_batch(void **state)
{
	uint16_t h[4];
	uint32_t len;
	int ids[4];

	(void)state;
	P.vq.in_order = true;
	pop_n_ids(4, h, ids);
	/* h[0] and h[3] still in flight */
	vq_push_read(&P.vq, h + 1, 2);
	/* out of order */
	{
		uint16_t rev[2] = { h[3], h[0] };

		vq_push_read(&P.vq, rev, 2);
	}
	vq_publish(&P.vq);
	assert_int_equal(P.vq.pk.inflight, 0);
	/* four used descriptors, in the order pushed (a driver that is not in order) */
	assert_int_equal(drvp_get_used(&P.drv, &len), ids[1]);
	assert_int_equal(drvp_get_used(&P.drv, &len), ids[2]);
	assert_int_equal(drvp_get_used(&P.drv, &len), ids[3]);
	assert_int_equal(drvp_get_used(&P.drv, &len), ids[0]);
	assert_int_equal(P.drv.used_read, 4);
	/* the oldest two, but h[2] still in flight */
	pop_n_ids(3, h, ids);
	vq_push_read(&P.vq, h, 2);
	vq_push_read(&P.vq, h + 2, 1);
	vq_publish(&P.vq);
	for (int i = 0; i < 3; i++)
		assert_int_equal(drvp_get_used(&P.drv, &len), ids[i]);
	assert_int_equal(P.drv.used_read, 7);
	/*
	 * All that is in flight and consecutive, but not the newest pops:
	 * h[2] went back first, so the used position is past h[0]'s start.
	 */
	pop_n_ids(3, h, ids);
	vq_push_read(&P.vq, h + 2, 1);
	vq_push_read(&P.vq, h, 2);
	vq_publish(&P.vq);
	assert_int_equal(drvp_get_used(&P.drv, &len), ids[2]);
	assert_int_equal(drvp_get_used(&P.drv, &len), ids[0]);
	assert_int_equal(drvp_get_used(&P.drv, &len), ids[1]);
	assert_int_equal(P.drv.used_read, 10);
	/* without in_order: one each */
	P.vq.in_order = false;
	pop_n_ids(3, h, ids);
	vq_push_read(&P.vq, h, 3);
	vq_publish(&P.vq);
	for (int i = 0; i < 3; i++)
		assert_int_equal(drvp_get_used(&P.drv, &len), ids[i]);
	assert_int_equal(P.drv.used_read, 13);
}

/* ---- event suppression (2.8.10) ---- */

static void drain(void)
{
	uint32_t len;

	while (drvp_get_used(&P.drv, &len) >= 0)
		;
}

static void test_driver_flags(void **state)
{
	uint16_t t[4];

	(void)state;
	pop_n(4, t);
	drvp_set_interrupts(&P.drv, false);
	vq_push(&P.vq, t[0], 0);
	assert_false(vq_publish(&P.vq));
	drvp_set_interrupts(&P.drv, true);
	vq_push(&P.vq, t[1], 0);
	assert_true(vq_publish(&P.vq));
	/* DESC without EVENT_IDX negotiated, and reserved 3: notify. */
	drvp_set_used_event(&P.drv, 0x8000);
	vq_push(&P.vq, t[2], 0);
	assert_true(vq_publish(&P.vq));
	P.drv.drv_ev->flags = 3;
	vq_push(&P.vq, t[3], 0);
	assert_true(vq_publish(&P.vq));
	drain();
}

static void test_event_desc(void **state)
{
	uint16_t t[8];

	(void)state;
	pop_n(6, t);
	assert_false(vq_publish(&P.vq));	/* nothing pushed */
	/* First publish: we never checked, so we notify. */
	drvp_set_used_event(&P.drv, 0x8000 | 5);
	vq_push(&P.vq, t[0], 0);
	assert_true(vq_publish(&P.vq));		/* used position 1 */
	drvp_set_used_event(&P.drv, 0x8000 | 3);
	vq_push(&P.vq, t[1], 0);
	assert_false(vq_publish(&P.vq));	/* 2 */
	vq_push(&P.vq, t[2], 0);
	assert_false(vq_publish(&P.vq));	/* 3 */
	vq_push(&P.vq, t[3], 0);
	assert_true(vq_publish(&P.vq));		/* 4: entry 3 is used */
	vq_push(&P.vq, t[4], 0);
	assert_false(vq_publish(&P.vq));
	/* An event for the next lap is not due in this one. */
	drvp_set_used_event(&P.drv, 5);
	vq_push(&P.vq, t[5], 0);
	assert_false(vq_publish(&P.vq));	/* 6 */
	drain();
	/* Cross the end of the ring: 6, 7 | 0, 1: entry 0 of lap 2 is used. */
	pop_n(4, t);
	drvp_set_used_event(&P.drv, 0);
	vq_push(&P.vq, t[0], 0);
	vq_push(&P.vq, t[1], 0);
	assert_false(vq_publish(&P.vq));	/* 0 (wrap 0): not yet */
	vq_push(&P.vq, t[2], 0);
	vq_push(&P.vq, t[3], 0);
	assert_true(vq_publish(&P.vq));		/* 2 (wrap 0): passed 0 */
	drain();
	/* An event in the previous lap inside a batch that wrapped. */
	pop_n(8, t);
	drvp_set_used_event(&P.drv, 7);		/* wrap 0, position 7 */
	for (int i = 0; i < 8; i++)
		vq_push(&P.vq, t[i], 0);
	assert_true(vq_publish(&P.vq));		/* 2 -> 2 of the next lap */
	drain();
}

static void test_kicks(void **state)
{
	size_t o = buf(&P, 16);
	struct drv_buf b = mk(&P, o, 16, true);
	struct vq_chain c;

	(void)state;
	vq_set_kicks(&P.vq, false);
	assert_int_equal(P.drv.dev_ev->flags, VRING_PACKED_EVENT_FLAG_DISABLE);
	assert_true(drvp_add(&P.drv, &b, 1, false) >= 0);
	assert_false(drvp_kick_needed(&P.drv));
	vq_set_kicks(&P.vq, true);
	assert_int_equal(P.drv.dev_ev->flags, VRING_PACKED_EVENT_FLAG_ENABLE);
	assert_true(drvp_add(&P.drv, &b, 1, false) >= 0);
	assert_true(drvp_kick_needed(&P.drv));
	assert_int_equal(vq_pop(&P.vq, &c), 1);
}

static void test_kicks_event_idx(void **state)
{
	size_t o = buf(&P, 16);
	struct drv_buf b = mk(&P, o, 16, true);
	struct vq_chain c;

	(void)state;
	for (int i = 0; i < 5; i++) {
		assert_true(drvp_add(&P.drv, &b, 1, false) >= 0);
		assert_int_equal(vq_pop(&P.vq, &c), 1);
		vq_push(&P.vq, c.head, 0);
		vq_publish(&P.vq);
		drain();
	}
	(void)drvp_kick_needed(&P.drv);
	vq_set_kicks(&P.vq, true);
	assert_int_equal(P.drv.dev_ev->flags, VRING_PACKED_EVENT_FLAG_DESC);
	assert_int_equal(P.drv.dev_ev->off_wrap, 0x8000 | 5);
	assert_true(drvp_add(&P.drv, &b, 1, false) >= 0);	/* 5 */
	assert_true(drvp_kick_needed(&P.drv));
	assert_true(drvp_add(&P.drv, &b, 1, false) >= 0);	/* 6 */
	assert_false(drvp_kick_needed(&P.drv));	/* we have not caught up */
	/* Caught up past the end of the ring: off_wrap carries the new lap. */
	for (int i = 0; i < 2; i++) {
		assert_int_equal(vq_pop(&P.vq, &c), 1);
		vq_push(&P.vq, c.head, 0);
	}
	vq_publish(&P.vq);
	drain();
	assert_true(drvp_add(&P.drv, &b, 1, false) >= 0);	/* 7 */
	assert_int_equal(vq_pop(&P.vq, &c), 1);
	vq_push(&P.vq, c.head, 0);
	vq_publish(&P.vq);
	drain();
	vq_set_kicks(&P.vq, true);
	assert_int_equal(P.drv.dev_ev->off_wrap, 0);	/* position 0, wrap 0 */
	(void)drvp_kick_needed(&P.drv);
	assert_true(drvp_add(&P.drv, &b, 1, false) >= 0);
	assert_true(drvp_kick_needed(&P.drv));
}

/* ---- a hostile driver ---- */

static void test_id_out_of_range(void **state)
{
	size_t o = buf(&P, 16);

	(void)state;
	drvp_desc(&P.drv, 0, drv_gpa(&P.m, o), 16, 8, 0, true, true);
	expect_break("buffer id 8 out of ring");
}

static void test_id_huge(void **state)
{
	size_t o = buf(&P, 16);

	(void)state;
	drvp_desc(&P.drv, 1, drv_gpa(&P.m, o), 16, 0xffff, 0, false, true);
	drvp_desc(&P.drv, 0, drv_gpa(&P.m, o), 16, 0, VRING_DESC_F_NEXT, true, true);
	P.drv.desc[1].flags = AV(true);
	expect_break("buffer id 65535 out of ring");
}

static void test_id_reused(void **state)
{
	size_t o = buf(&P, 16);
	struct vq_chain c;

	(void)state;
	drvp_desc(&P.drv, 0, drv_gpa(&P.m, o), 16, 3, 0, true, true);
	drvp_desc(&P.drv, 1, drv_gpa(&P.m, o), 16, 3, 0, true, true);
	assert_int_equal(vq_pop(&P.vq, &c), 1);
	expect_break("buffer id 3 reused while in flight");
}

/* The same id again once it came back is fine. */
static void test_id_reused_after_push(void **state)
{
	size_t o = buf(&P, 16);
	struct vq_chain c;

	(void)state;
	drvp_desc(&P.drv, 0, drv_gpa(&P.m, o), 16, 3, 0, true, true);
	drvp_desc(&P.drv, 1, drv_gpa(&P.m, o), 16, 3, 0, true, true);
	assert_int_equal(vq_pop(&P.vq, &c), 1);
	vq_push(&P.vq, c.head, 0);
	assert_int_equal(vq_pop(&P.vq, &c), 1);
	assert_false(P.vq.broken);
}

static void test_chain_desc_not_available(void **state)
{
	size_t o = buf(&P, 32);

	(void)state;
	/* Descriptor 1 never made available: its flags say nothing. */
	drvp_desc(&P.drv, 1, drv_gpa(&P.m, o), 16, 0, 0, false, true);
	drvp_desc(&P.drv, 0, drv_gpa(&P.m, o), 16, 0, VRING_DESC_F_NEXT, true, true);
	expect_break("descriptor 1 of a chain not made available");
}

static void test_chain_desc_wrong_wrap(void **state)
{
	size_t o = buf(&P, 32);

	(void)state;
	/* Marked available for the next lap, not this one. */
	drvp_desc(&P.drv, 1, drv_gpa(&P.m, o), 16, 0, 0, true, false);
	drvp_desc(&P.drv, 0, drv_gpa(&P.m, o), 16, 0, VRING_DESC_F_NEXT, true, true);
	expect_break("not made available");
}

/* A chain crossing the ring's end must flip the wrap counter there. */
static void test_chain_across_wrap_lie(void **state)
{
	size_t o = buf(&P, 32);
	struct drv_buf one = mk(&P, o, 8, true);
	struct vq_chain c;
	uint32_t len;

	(void)state;
	for (int i = 0; i < 7; i++) {
		assert_true(drvp_add(&P.drv, &one, 1, false) >= 0);
		assert_int_equal(vq_pop(&P.vq, &c), 1);
		vq_push(&P.vq, c.head, 0);
		vq_publish(&P.vq);
		assert_true(drvp_get_used(&P.drv, &len) >= 0);
	}
	/* Position 7 (wrap 1) chains into 0, marked for wrap 1 again. */
	drvp_desc(&P.drv, 0, drv_gpa(&P.m, o), 8, 2, 0, true, true);
	drvp_desc(&P.drv, 7, drv_gpa(&P.m, o), 8, 2, VRING_DESC_F_NEXT, true, true);
	expect_break("descriptor 0 of a chain not made available");
}

static void test_head_used_this_lap(void **state)
{
	size_t o = buf(&P, 16);

	(void)state;
	drvp_desc(&P.drv, 0, drv_gpa(&P.m, o), 16, 0, 0x8080, false, true);
	expect_break("marked used in the current lap");
}

/* The head not available for our wrap counter is just "nothing yet". */
static void test_head_next_lap_is_nothing(void **state)
{
	size_t o = buf(&P, 16);
	struct vq_chain c;

	(void)state;
	drvp_desc(&P.drv, 0, drv_gpa(&P.m, o), 16, 0, 0, true, false);
	assert_int_equal(vq_pop(&P.vq, &c), 0);
	assert_int_equal(vq_avail_count(&P.vq), 0);
	assert_false(P.vq.broken);
}

/* Every descriptor available, every one with NEXT: a chain without end. */
static void test_endless_chain(void **state)
{
	size_t o = buf(&P, 16);

	(void)state;
	for (uint16_t i = 7; i < 8; i--)
		drvp_desc(&P.drv, i, drv_gpa(&P.m, o), 16, 0, VRING_DESC_F_NEXT,
			  true, true);
	expect_break("longer than the 8 free ring entries");
}

/* A chain may not run into descriptors still in flight with us. */
static void test_chain_into_inflight(void **state)
{
	size_t o = buf(&P, 16);
	struct drv_buf b[3] = { mk(&P, o, 4, true), mk(&P, o, 4, true), mk(&P, o, 4, true) };
	struct vq_chain c;

	(void)state;
	assert_true(drvp_add(&P.drv, b, 3, false) >= 0);	/* 0..2 */
	assert_int_equal(vq_pop(&P.vq, &c), 1);
	/* 3..7 then 0 (wrap 0) and on: NEXT all the way. */
	for (uint16_t i = 3; i < 8; i++)
		drvp_desc(&P.drv, i, drv_gpa(&P.m, o), 4, 5, VRING_DESC_F_NEXT, true, true);
	for (uint16_t i = 0; i < 3; i++)
		drvp_desc(&P.drv, i, drv_gpa(&P.m, o), 4, 5, VRING_DESC_F_NEXT, true, false);
	expect_break("longer than the 5 free ring entries");
}

static void test_chain_as_long_as_ring(void **state)
{
	size_t o = buf(&P, 16);
	struct vq_chain c;

	(void)state;
	for (uint16_t i = 7; i < 8; i--)
		drvp_desc(&P.drv, i, drv_gpa(&P.m, o), 2, 1,
			  i < 7 ? VRING_DESC_F_NEXT : 0, true, true);
	assert_int_equal(vq_pop(&P.vq, &c), 1);
	assert_int_equal(c.out_len, 16);
	assert_int_equal(P.vq.last_avail, 0);
	assert_false(P.vq.pk.avail_wrap);
	vq_push(&P.vq, c.head, 0);
	assert_int_equal(P.vq.used_idx, 0);
	assert_false(P.vq.pk.used_wrap);
}

static void test_readable_after_writable(void **state)
{
	size_t o = buf(&P, 16);

	(void)state;
	drvp_desc(&P.drv, 1, drv_gpa(&P.m, o), 4, 0, 0, true, true);
	drvp_desc(&P.drv, 0, drv_gpa(&P.m, o), 4, 0,
		  VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, true, true);
	expect_break("readable descriptor after a writable");
}

static void test_addr_outside(void **state)
{
	(void)state;
	drvp_desc(&P.drv, 0, 0x1000, 16, 0, 0, true, true);
	expect_break("outside memory");
}

static void test_addr_wraps(void **state)
{
	(void)state;
	drvp_desc(&P.drv, 0, UINT64_MAX - 8, 16, 0, 0, true, true);
	expect_break("wraps");
}

static void test_len_past_region(void **state)
{
	(void)state;
	drvp_desc(&P.drv, 0, P.m.gpa + P.m.size - 8, 16, 0, 0, true, true);
	expect_break("outside memory");
}

/* Indirect tables: the packed layout of entries, the shared checks. */
static size_t ind_table(unsigned int n)
{
	return drv_mem_alloc(&P.m, 16 * (size_t)n, 16);
}

static void ind_entry(size_t t, unsigned int i, uint64_t addr, uint32_t len,
		      uint16_t flags)
{
	volatile struct vring_packed_desc *d = drv_ptr(&P.m, t + 16 * (size_t)i);

	d->addr = addr;
	d->len = len;
	d->id = 0x5555;		/* reserved, ignored */
	d->flags = flags;
}

static void post_indirect(size_t t, uint32_t len, uint16_t extra)
{
	drvp_desc(&P.drv, 0, drv_gpa(&P.m, t), len, 1,
		  (uint16_t)(VRING_DESC_F_INDIRECT | extra), true, true);
}

static void test_indirect_ignores_next(void **state)
{
	size_t o = buf(&P, 16), t = ind_table(2);
	struct vq_chain c;

	(void)state;
	ind_entry(t, 0, drv_gpa(&P.m, o), 4, VRING_DESC_F_NEXT);
	ind_entry(t, 1, drv_gpa(&P.m, o), 8, VRING_DESC_F_WRITE);
	post_indirect(t, 32, 0);
	assert_int_equal(vq_pop(&P.vq, &c), 1);
	assert_int_equal(c.out_len, 4);
	assert_int_equal(c.in_len, 8);
}

static void test_indirect_nested(void **state)
{
	size_t o = buf(&P, 16), t = ind_table(2);

	(void)state;
	ind_entry(t, 0, drv_gpa(&P.m, o), 4, 0);
	ind_entry(t, 1, drv_gpa(&P.m, t), 32, VRING_DESC_F_INDIRECT);
	post_indirect(t, 32, 0);
	expect_break("indirect descriptor inside an indirect table");
}

static void test_indirect_with_next(void **state)
{
	size_t o = buf(&P, 16), t = ind_table(1);

	(void)state;
	ind_entry(t, 0, drv_gpa(&P.m, o), 4, 0);
	drvp_desc(&P.drv, 1, drv_gpa(&P.m, o), 4, 1, 0, true, true);
	post_indirect(t, 16, VRING_DESC_F_NEXT);
	expect_break("indirect descriptor with NEXT");
}

static void test_indirect_len_bad(void **state)
{
	size_t t = ind_table(1);

	(void)state;
	post_indirect(t, 24, 0);
	expect_break("indirect table length 24");
}

static void test_indirect_len_huge(void **state)
{
	size_t t = ind_table(1);

	(void)state;
	post_indirect(t, 16 * 65, 0);	/* more than VQ_MAX_IOV on a ring of 8 */
	expect_break("indirect table length");
}

static void test_indirect_outside(void **state)
{
	(void)state;
	drvp_desc(&P.drv, 0, P.m.gpa + P.m.size - 16, 32, 1, VRING_DESC_F_INDIRECT,
		  true, true);
	expect_break("not inside one region");
}

static void test_indirect_not_negotiated(void **state)
{
	size_t o = buf(&P, 16), t = ind_table(1);

	(void)state;
	ind_entry(t, 0, drv_gpa(&P.m, o), 4, 0);
	post_indirect(t, 16, 0);
	expect_break("INDIRECT_DESC not negotiated");
}

/* The longest table a small ring may have: VQ_MAX_IOV entries. */
static void test_indirect_64_entries(void **state)
{
	size_t o = buf(&P, 4096), t = ind_table(VQ_MAX_IOV);
	struct vq_chain c;

	(void)state;
	for (unsigned int i = 0; i < VQ_MAX_IOV; i++)
		ind_entry(t, i, drv_gpa(&P.m, o + i), 1, 0);
	post_indirect(t, 16 * VQ_MAX_IOV, 0);
	assert_int_equal(vq_pop(&P.vq, &c), 1);
	assert_int_equal(c.n_out, VQ_MAX_IOV);
	vq_push(&P.vq, c.head, 0);
	vq_publish(&P.vq);
	/* Posted raw: read the used descriptor raw. */
	assert_int_equal(P.drv.desc[0].id, 1);
	assert_int_equal(P.drv.desc[0].flags & 0x8080, 0x8080);
}

/* A descriptor the guest rewrites while we walk is read once. */
static void test_flags_read_once(void **state)
{
	size_t o = buf(&P, 16);
	struct vq_chain c;

	(void)state;
	drvp_desc(&P.drv, 0, drv_gpa(&P.m, o), 16, 2, 0, true, true);
	assert_int_equal(vq_pop(&P.vq, &c), 1);
	/* The guest now claims more: what we push comes from our token. */
	P.drv.desc[0].id = 7;
	vq_push(&P.vq, c.head, 1);
	vq_publish(&P.vq);
	assert_int_equal(P.drv.desc[0].id, 2);
}

/* ---- vnet over packed rings ---- */

static uint8_t pat(size_t i, unsigned int seed)
{
	return (uint8_t)(i * 7 + seed * 13 + (i >> 8));
}

static int upnet(void **state)
{
	int rc;

	(void)state;
	rc = ppair_open(&P, MEM, 256, true, true);
	if (rc)
		return rc;
	rc = ppair_open(&Q, MEM, 256, true, true);
	q_open = rc == 0;
	return rc;
}

/* TX on P (chained or indirect), RX into Q (merged small buffers). */
static void test_vnet_tx_rx(void **state)
{
	struct vnet_txq tq = { .vq = &P.vq, .hdr_len = 12 };
	struct vnet_rxq rq = { .vq = &Q.vq, .hdr_len = 12, .mrg_rxbuf = true };
	struct vnet_stats st = { 0 };
	size_t rxo = buf(&Q, 64 * 256), where[256];
	struct sw_frame f[8];
	uint32_t len;

	(void)state;
	/* The guest on Q posts 128-byte receive buffers. */
	for (int i = 0; i < 64; i++) {
		struct drv_buf b = mk(&Q, rxo + 256 * (size_t)i, 128, true);
		int id = drvp_add(&Q.drv, &b, 1, false);

		assert_true(id >= 0);
		where[id] = rxo + 256 * (size_t)i;
	}
	for (unsigned int round = 0; round < 40; round++) {
		size_t flen = 60 + 37 * round % 300, o = buf(&P, 12 + flen);
		uint8_t *p = drv_ptr(&P.m, o);
		struct drv_buf b[2] = { mk(&P, o, 12, false),
					mk(&P, o + 12, (uint32_t)flen, false) };
		unsigned int n, k = 0;
		uint16_t hdr_nb = 0;
		size_t at = 0;
		int id;

		for (size_t i = 0; i < flen; i++)
			p[12 + i] = pat(i, round);
		id = drvp_add(&P.drv, b, 2, round & 1);
		assert_true(id >= 0);
		n = vnet_tx_burst(&tq, f, 8, &st);
		assert_int_equal(n, 1);
		assert_int_equal(f[0].len, flen);
		assert_int_equal(vnet_rx_frame(&rq, &f[0], &st), 0);
		vnet_rx_flush(&rq);
		vnet_tx_done(&tq);
		assert_int_equal(drvp_get_used(&P.drv, &len), id);
		/* Read the merged frame back on Q and re-post its buffers. */
		for (;;) {
			int rid = drvp_get_used(&Q.drv, &len);
			const uint8_t *d;
			struct drv_buf rb;
			uint32_t skip;
			size_t at_q;
			int nid;

			if (rid < 0)
				break;
			at_q = where[rid];
			d = drv_ptr(&Q.m, at_q);
			skip = k == 0 ? 12 : 0;
			if (k == 0)
				hdr_nb = (uint16_t)(d[10] | d[11] << 8);
			for (uint32_t i = skip; i < len; i++, at++)
				assert_int_equal(d[i], pat(at, round));
			k++;
			rb = mk(&Q, at_q, 128, true);
			nid = drvp_add(&Q.drv, &rb, 1, false);
			assert_true(nid >= 0);
			where[nid] = at_q;
		}
		assert_int_equal(at, flen);
		assert_int_equal(k, hdr_nb);
	}
	assert_false(P.vq.broken);
	assert_false(Q.vq.broken);
	assert_int_equal(st.rx_no_buffer + st.rx_too_big + st.tx_runt, 0);
}

/*
 * Unpop steps back over the chains' descriptors, across the ring's start
 * too (flipping the avail wrap counter back), and lands where each began;
 * unpopping a chain that was pushed is a device bug and breaks the queue.
 */
static void test_unpop_wrap(void **state)
{
	size_t o = buf(&P, 64);
	struct drv_buf b[3] = { mk(&P, o, 16, true), mk(&P, o + 16, 16, true),
				mk(&P, o + 32, 16, true) };
	struct vq_chain c;
	uint16_t pos, tok;
	uint32_t len;
	bool wrap;

	(void)state;
	/* Move both sides to position 6 of the 8, then wrap with 3 + 3. */
	for (int i = 0; i < 3; i++) {
		assert_true(drvp_add(&P.drv, b, 2, false) >= 0);
		assert_int_equal(vq_pop(&P.vq, &c), 1);
		vq_push(&P.vq, c.head, 0);
		vq_publish(&P.vq);
		assert_true(drvp_get_used(&P.drv, &len) >= 0);
	}
	assert_int_equal(P.vq.last_avail, 6);
	assert_true(drvp_add(&P.drv, b, 3, false) >= 0);	/* 6, 7, 0 */
	assert_true(drvp_add(&P.drv, b, 3, false) >= 0);	/* 1, 2, 3 */
	pos = P.vq.last_avail;
	wrap = P.vq.pk.avail_wrap;
	assert_int_equal(vq_pop(&P.vq, &c), 1);
	tok = c.head;
	assert_int_equal(P.vq.last_avail, 1);
	assert_int_not_equal(P.vq.pk.avail_wrap, wrap);
	assert_int_equal(vq_pop(&P.vq, &c), 1);
	vq_unpop(&P.vq, 2);
	assert_int_equal(P.vq.last_avail, pos);
	assert_int_equal(P.vq.pk.avail_wrap, wrap);
	assert_int_equal(P.vq.pk.inflight, 0);
	/* The same two chains again, then one pushed and unpopped: broken. */
	assert_int_equal(vq_pop(&P.vq, &c), 1);
	assert_int_equal(c.head, tok);
	assert_int_equal(c.n_in, 3);
	assert_int_equal(vq_pop(&P.vq, &c), 1);
	assert_int_equal(P.vq.last_avail, 4);
	vq_push(&P.vq, c.head, 0);
	assert_false(P.vq.broken);
	vq_unpop(&P.vq, 1);
	assert_true(P.vq.broken);
}

/* Not enough merged buffers: the popped ones go back (unpop) intact. */
static void test_vnet_rx_unpop(void **state)
{
	struct vnet_rxq rq = { .vq = &Q.vq, .hdr_len = 12, .mrg_rxbuf = true };
	struct vnet_stats st = { 0 };
	size_t o = buf(&Q, 1024), fo = buf(&Q, 1000);
	struct sw_frame f = { .len = 1000, .nseg = 1 };
	uint16_t pos;
	bool wrap;

	(void)state;
	f.seg[0].base = drv_ptr(&Q.m, fo);
	f.seg[0].len = 1000;
	for (int i = 0; i < 3; i++) {
		struct drv_buf b = mk(&Q, o + 128 * (size_t)i, 128, true);

		assert_true(drvp_add(&Q.drv, &b, 1, false) >= 0);
	}
	pos = Q.vq.last_avail;
	wrap = Q.vq.pk.avail_wrap;
	assert_int_equal(vnet_rx_frame(&rq, &f, &st), -ENOBUFS);
	assert_int_equal(st.rx_no_buffer, 1);
	assert_int_equal(Q.vq.last_avail, pos);
	assert_int_equal(Q.vq.pk.avail_wrap, wrap);
	assert_int_equal(Q.vq.pk.inflight, 0);
	f.len = 300;
	f.seg[0].len = 300;
	assert_int_equal(vnet_rx_frame(&rq, &f, &st), 0);
	assert_false(Q.vq.broken);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_setup_checks, up8, down),
		cmocka_unit_test_setup_teardown(test_single, up8, down),
		cmocka_unit_test_setup_teardown(test_chained, up8, down),
		cmocka_unit_test_setup_teardown(test_indirect, up8, down),
		cmocka_unit_test_setup_teardown(test_chain_across_wrap, up8, down),
		cmocka_unit_test_setup_teardown(test_wraparound, up7, down),
		cmocka_unit_test_setup_teardown(test_unpop, up8, down),
		cmocka_unit_test_setup_teardown(test_unpop_wrap, up8, down),
		cmocka_unit_test_setup_teardown(test_token_limit, up512, down),
		cmocka_unit_test_setup_teardown(test_batch_hidden_until_publish, up8, down),
		cmocka_unit_test_setup_teardown(test_in_order_batches, up7, down),
		cmocka_unit_test_setup_teardown(test_in_order_not_a_batch, up8, down),
		cmocka_unit_test_setup_teardown(test_driver_flags, up8, down),
		cmocka_unit_test_setup_teardown(test_event_desc, up8ev, down),
		cmocka_unit_test_setup_teardown(test_kicks, up8, down),
		cmocka_unit_test_setup_teardown(test_kicks_event_idx, up8ev, down),
		cmocka_unit_test_setup_teardown(test_id_out_of_range, up8, down),
		cmocka_unit_test_setup_teardown(test_id_huge, up8, down),
		cmocka_unit_test_setup_teardown(test_id_reused, up8, down),
		cmocka_unit_test_setup_teardown(test_id_reused_after_push, up8, down),
		cmocka_unit_test_setup_teardown(test_chain_desc_not_available, up8, down),
		cmocka_unit_test_setup_teardown(test_chain_desc_wrong_wrap, up8, down),
		cmocka_unit_test_setup_teardown(test_chain_across_wrap_lie, up8, down),
		cmocka_unit_test_setup_teardown(test_head_used_this_lap, up8, down),
		cmocka_unit_test_setup_teardown(test_head_next_lap_is_nothing, up8, down),
		cmocka_unit_test_setup_teardown(test_endless_chain, up8, down),
		cmocka_unit_test_setup_teardown(test_chain_into_inflight, up8, down),
		cmocka_unit_test_setup_teardown(test_chain_as_long_as_ring, up8, down),
		cmocka_unit_test_setup_teardown(test_readable_after_writable, up8, down),
		cmocka_unit_test_setup_teardown(test_addr_outside, up8, down),
		cmocka_unit_test_setup_teardown(test_addr_wraps, up8, down),
		cmocka_unit_test_setup_teardown(test_len_past_region, up8, down),
		cmocka_unit_test_setup_teardown(test_indirect_ignores_next, up8, down),
		cmocka_unit_test_setup_teardown(test_indirect_nested, up8, down),
		cmocka_unit_test_setup_teardown(test_indirect_with_next, up8, down),
		cmocka_unit_test_setup_teardown(test_indirect_len_bad, up8, down),
		cmocka_unit_test_setup_teardown(test_indirect_len_huge, up8, down),
		cmocka_unit_test_setup_teardown(test_indirect_outside, up8, down),
		cmocka_unit_test_setup_teardown(test_indirect_not_negotiated, up8noind, down),
		cmocka_unit_test_setup_teardown(test_indirect_64_entries, up8, down),
		cmocka_unit_test_setup_teardown(test_flags_read_once, up8, down),
		cmocka_unit_test_setup_teardown(test_vnet_tx_rx, upnet, down),
		cmocka_unit_test_setup_teardown(test_vnet_rx_unpop, upnet, down),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
