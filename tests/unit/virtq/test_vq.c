/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the device-side split virtqueue (drivers/virtq/vq.c)
 * against our own driver-side ring, over guest memory mapped twice.  The
 * hostile cases write the descriptors a malicious guest would and check
 * that the queue breaks with a reason and never strays outside the guest's
 * mapping (which has guard pages on both sides).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/mman.h>
#include <time.h>

#include <cmocka.h>

#include "harness.h"

#define MEM (1u << 20)

static struct pair P;

static int pair_std(void **state)
{
	(void)state;
	return pair_open(&P, MEM, 8, false, true);
}

static int pair_ev(void **state)
{
	(void)state;
	return pair_open(&P, MEM, 8, true, true);
}

static int pair_noind(void **state)
{
	(void)state;
	return pair_open(&P, MEM, 8, false, false);
}

static int pair_down(void **state)
{
	(void)state;
	pair_close(&P);
	return 0;
}

/* Pop and expect the queue to break with a reason containing what. */
static void expect_break(const char *what)
{
	struct vq_chain c;

	assert_int_equal(vq_pop(&P.vq, &c), -EIO);
	assert_true(P.vq.broken);
	assert_false(vq_ready(&P.vq));
	assert_non_null(strstr(P.vq.why, what));
	/* Broken stays broken and touches nothing. */
	assert_int_equal(vq_pop(&P.vq, &c), -EIO);
	assert_false(vq_publish(&P.vq));
}

static size_t ind_table(unsigned int n)
{
	return drv_mem_alloc(&P.m, 16 * (size_t)n, 16);
}

static void ind_desc(size_t t, unsigned int i, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	volatile struct vring_desc *d = drv_ptr(&P.m, t + 16 * (size_t)i);

	d->addr = addr;
	d->len = len;
	d->flags = flags;
	d->next = next;
}

/* ---- vq_setup ---- */

static void test_setup_checks(void **state)
{
	struct drv_ring *r = &P.drv;
	struct vq *vq = &P.vq;
	uint64_t d = drv_uva(&P.m, r->desc_off);
	uint64_t a = drv_uva(&P.m, r->avail_off);
	uint64_t u = drv_uva(&P.m, r->used_off);
	uint64_t end = P.m.uva + P.m.size;

	(void)state;
	assert_int_equal(vq_setup(vq, &P.vm, 8, d, a, u, 0, true, true), 0);
	assert_true(vq_ready(vq));

	/* Sizes: 0, not a power of two. */
	assert_int_equal(vq_setup(vq, &P.vm, 0, d, a, u, 0, true, true), -EINVAL);
	assert_false(vq_ready(vq));
	assert_int_equal(vq->size, 0);
	assert_non_null(strstr(vq->why, "power of two"));
	assert_int_equal(vq_setup(vq, &P.vm, 6, d, a, u, 0, true, true), -EINVAL);
	assert_int_equal(vq_setup(vq, &P.vm, 32767, d, a, u, 0, true, true), -EINVAL);

	/* Misaligned rings. */
	assert_int_equal(vq_setup(vq, &P.vm, 8, d + 8, a, u, 0, true, true), -EINVAL);
	assert_non_null(strstr(vq->why, "descriptor table"));
	assert_int_equal(vq_setup(vq, &P.vm, 8, d, a + 1, u, 0, true, true), -EINVAL);
	assert_non_null(strstr(vq->why, "avail"));
	assert_int_equal(vq_setup(vq, &P.vm, 8, d, a, u + 2, 0, true, true), -EINVAL);
	assert_non_null(strstr(vq->why, "used"));

	/* Outside memory, or running off its end by a byte. */
	assert_int_equal(vq_setup(vq, &P.vm, 8, 0x1000, a, u, 0, true, true), -EINVAL);
	assert_int_equal(vq_setup(vq, &P.vm, 8, end - 16 * 8 + 16, a, u, 0, true, true), -EINVAL);
	assert_int_equal(vq_setup(vq, &P.vm, 8, end - 16 * 8, a, u, 0, true, true), 0);
	/* avail is 6 + 2n bytes, used 6 + 8n. */
	assert_int_equal(vq_setup(vq, &P.vm, 8, d, end - (6 + 16) + 2, u, 0, true, true), -EINVAL);
	assert_int_equal(vq_setup(vq, &P.vm, 8, d, end - (6 + 16), u, 0, true, true), 0);
	assert_int_equal(vq_setup(vq, &P.vm, 8, d, a, end - (6 + 64) + 2, 0, true, true), -EINVAL);
	assert_int_equal(vq_setup(vq, &P.vm, 8, d, a, end - (6 + 64) - 2, 0, true, true), 0);
	/* A guest physical address is not a frontend address. */
	assert_int_equal(vq_setup(vq, &P.vm, 8, drv_gpa(&P.m, r->desc_off), a, u,
				  0, true, true), -EINVAL);
}

/* Both the frontend address and our mapping of it must be aligned. */
static void test_setup_alignment_uva_vs_hva(void **state)
{
	struct drv_ring *r = &P.drv;
	struct vu_mem_region reg;

	(void)state;
	/* Frontend addresses 8 bytes off from our mapping's alignment. */
	vu_mem_init(&P.vm);
	pair_region(&P, &reg);
	reg.uva = H_UVA + 8;
	assert_int_equal(vu_mem_insert(&P.vm, &reg), 0);
	/* uva misaligned, hva aligned. */
	assert_int_equal(vq_setup(&P.vq, &P.vm, 8, H_UVA + 8 + r->desc_off,
				  H_UVA + 8 + r->avail_off, H_UVA + 8 + r->used_off,
				  0, false, true), -EINVAL);
	assert_non_null(strstr(P.vq.why, "descriptor table"));
	/* uva aligned, hva misaligned. */
	assert_int_equal(vq_setup(&P.vq, &P.vm, 8, H_UVA + 16 + r->desc_off,
				  H_UVA + 8 + r->avail_off, H_UVA + 8 + r->used_off,
				  0, false, true), -EINVAL);
	assert_non_null(strstr(P.vq.why, "descriptor table"));
	/* Frontend and our addresses differing by a multiple of 16: fine. */
	vu_mem_init(&P.vm);
	reg.uva = H_UVA + 16;
	assert_int_equal(vu_mem_insert(&P.vm, &reg), 0);
	assert_int_equal(vq_setup(&P.vq, &P.vm, 8, H_UVA + 16 + r->desc_off,
				  H_UVA + 16 + r->avail_off, H_UVA + 16 + r->used_off,
				  0, false, true), 0);
}

static void test_setup_reads_used_idx(void **state)
{
	(void)state;
	P.drv.used->idx = 77;
	assert_int_equal(pair_vq_setup(&P, false, true), 0);
	assert_int_equal(P.vq.used_idx, 77);
	assert_int_equal(P.vq.published, 77);
	assert_int_equal(P.vq.signalled, 77);
	assert_false(P.vq.signalled_valid);
	vq_reset(&P.vq);
	assert_false(vq_ready(&P.vq));
}

/* ---- normal operation ---- */

static void test_pop_push_roundtrip(void **state)
{
	size_t o1 = pair_buf(&P, 100), o2 = pair_buf(&P, 50), o3 = pair_buf(&P, 200);
	struct drv_buf b[3] = {
		{ drv_gpa(&P.m, o1), 100, false },
		{ drv_gpa(&P.m, o2), 50, false },
		{ drv_gpa(&P.m, o3), 200, true },
	};
	struct vq_chain c;
	uint32_t len;
	int head;

	(void)state;
	assert_int_equal(vq_pop(&P.vq, &c), 0);
	head = drv_add(&P.drv, b, 3, false);
	assert_true(head >= 0);
	assert_int_equal(vq_avail_count(&P.vq), 1);
	assert_int_equal(vq_pop(&P.vq, &c), 1);
	assert_int_equal(c.head, head);
	assert_int_equal(c.n_out, 2);
	assert_int_equal(c.n_in, 1);
	assert_int_equal(c.out_len, 150);
	assert_int_equal(c.in_len, 200);
	assert_ptr_equal(c.iov[0].base, P.m.dev + o1);
	assert_ptr_equal(c.iov[1].base, P.m.dev + o2);
	assert_ptr_equal(c.iov[2].base, P.m.dev + o3);
	assert_int_equal(c.iov[2].len, 200);
	assert_int_equal(vq_pop(&P.vq, &c), 0);

	/* Bytes move between the two mappings. */
	memcpy(c.iov[2].base, "pong", 4);
	vq_push(&P.vq, c.head, 4);
	assert_int_equal(drv_get_used(&P.drv, &len), -1);	/* not yet published */
	assert_true(vq_publish(&P.vq));
	assert_int_equal(drv_get_used(&P.drv, &len), head);
	assert_int_equal(len, 4);
	assert_memory_equal(drv_ptr(&P.m, o3), "pong", 4);
	assert_int_equal(P.drv.num_free, 8);
}

static void test_indirect_ok(void **state)
{
	size_t o = pair_buf(&P, 4096);
	struct drv_buf b[5];
	struct vq_chain c;
	uint32_t len;
	int head;

	(void)state;
	for (int i = 0; i < 5; i++) {
		b[i].gpa = drv_gpa(&P.m, o + 100 * (size_t)i);
		b[i].len = 10 + (uint32_t)i;
		b[i].write = i >= 3;
	}
	head = drv_add(&P.drv, b, 5, true);
	assert_true(head >= 0);
	assert_int_equal(vq_pop(&P.vq, &c), 1);
	assert_int_equal(c.head, head);
	assert_int_equal(c.n_out, 3);
	assert_int_equal(c.n_in, 2);
	assert_int_equal(c.out_len, 10 + 11 + 12);
	assert_int_equal(c.in_len, 13 + 14);
	for (int i = 0; i < 5; i++)
		assert_ptr_equal(c.iov[i].base, P.m.dev + o + 100 * (size_t)i);
	vq_push(&P.vq, c.head, 27);
	vq_publish(&P.vq);
	assert_int_equal(drv_get_used(&P.drv, &len), head);
	assert_int_equal(len, 27);
}

static void test_zero_length_descs(void **state)
{
	size_t o = pair_buf(&P, 64);
	struct drv_buf b[4] = {
		{ drv_gpa(&P.m, o), 0, false },
		{ drv_gpa(&P.m, o), 10, false },
		{ 0, 0, false },		/* address never looked at */
		{ drv_gpa(&P.m, o + 10), 0, true },
	};
	struct vq_chain c;

	(void)state;
	assert_true(drv_add(&P.drv, b, 4, false) >= 0);
	assert_int_equal(vq_pop(&P.vq, &c), 1);
	assert_int_equal(c.n_out, 1);
	assert_int_equal(c.n_in, 0);
	assert_int_equal(c.out_len, 10);
	assert_false(P.vq.broken);
	/* A zero-length writable still orders: readable after it breaks. */
	pair_desc(&P, 5, drv_gpa(&P.m, o), 0, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 6);
	pair_desc(&P, 6, drv_gpa(&P.m, o), 4, 0, 0);
	drv_post_head(&P.drv, 5);
	expect_break("readable descriptor after a writable");
}

static void test_unpop(void **state)
{
	size_t o = pair_buf(&P, 64);
	struct drv_buf b = { drv_gpa(&P.m, o), 64, true };
	struct vq_chain c;
	int h[3];

	(void)state;
	for (int i = 0; i < 3; i++)
		h[i] = drv_add(&P.drv, &b, 1, false);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(vq_pop(&P.vq, &c), 1);
		assert_int_equal(c.head, h[i]);
	}
	vq_unpop(&P.vq, 2);
	assert_int_equal(vq_avail_count(&P.vq), 2);
	for (int i = 1; i < 3; i++) {
		assert_int_equal(vq_pop(&P.vq, &c), 1);
		assert_int_equal(c.head, h[i]);
	}
	assert_int_equal(vq_pop(&P.vq, &c), 0);
}

/*
 * The owner may move last_avail after vq_setup (vhost-user resuming at
 * the used index): the next pop must re-read avail->idx, not trust a
 * shadow taken for the old value.
 */
static void test_last_avail_moved(void **state)
{
	size_t o = pair_buf(&P, 16);
	struct drv_buf b = { drv_gpa(&P.m, o), 16, false };
	struct vq_chain c;

	(void)state;
	for (int i = 0; i < 3; i++)
		assert_true(drv_add(&P.drv, &b, 1, false) >= 0);
	assert_int_equal(vq_setup(&P.vq, &P.vm, 8, drv_uva(&P.m, P.drv.desc_off),
				  drv_uva(&P.m, P.drv.avail_off),
				  drv_uva(&P.m, P.drv.used_off), 5, false, true), 0);
	P.vq.last_avail = 2;		/* what the owner decided */
	assert_int_equal(vq_pop(&P.vq, &c), 1);
	assert_int_equal(c.head, 2);
	assert_int_equal(vq_pop(&P.vq, &c), 0);	/* avail->idx is 3 */
	/* And the same after popping: moved back by the owner. */
	P.vq.last_avail = 1;
	assert_int_equal(vq_pop(&P.vq, &c), 1);
	assert_int_equal(c.head, 1);
	assert_int_equal(vq_pop(&P.vq, &c), 1);
	assert_int_equal(vq_pop(&P.vq, &c), 0);
	assert_false(P.vq.broken);
}

/* 16-bit indices wrap: > 65536 chains through a ring of 8, data checked. */
static void test_wraparound(void **state)
{
	size_t o = pair_buf(&P, 8 * 64);
	struct vq_chain c;
	uint32_t len;

	(void)state;
	for (uint32_t op = 0; op < 70000; op += 3) {
		int heads[3];

		for (int k = 0; k < 3; k++) {
			uint32_t v = op + (uint32_t)k;
			size_t bo = o + 64 * (size_t)((v % 8));
			struct drv_buf b[2] = {
				{ drv_gpa(&P.m, bo), 4, false },
				{ drv_gpa(&P.m, bo + 4), 4, true },
			};

			memcpy(drv_ptr(&P.m, bo), &v, 4);
			heads[k] = drv_add(&P.drv, b, 2, (v & 1) != 0);
			assert_true(heads[k] >= 0);
		}
		for (int k = 0; k < 3; k++) {
			uint32_t v;

			assert_int_equal(vq_pop(&P.vq, &c), 1);
			assert_int_equal(c.head, heads[k]);
			memcpy(&v, c.iov[0].base, 4);
			assert_int_equal(v, op + (uint32_t)k);
			v = ~v;
			memcpy(c.iov[1].base, &v, 4);
			vq_push(&P.vq, c.head, 4);
		}
		vq_publish(&P.vq);
		for (int k = 0; k < 3; k++) {
			uint32_t v;
			size_t bo = o + 64 * (size_t)((op + (uint32_t)k) % 8);

			assert_int_equal(drv_get_used(&P.drv, &len), heads[k]);
			memcpy(&v, drv_ptr(&P.m, bo + 4), 4);
			assert_int_equal(v, ~(op + (uint32_t)k));
		}
	}
	assert_int_equal(P.drv.avail_idx, (uint16_t)70002);	/* it wrapped */
	assert_int_equal(P.vq.last_avail, P.drv.avail_idx);
	assert_int_equal(P.drv.used->idx, P.drv.avail_idx);
	assert_false(P.vq.broken);
}

/* Push n popped chains one by one, publishing after each. */
static void pop_n(unsigned int n, uint16_t *heads)
{
	size_t o = pair_buf(&P, 16);
	struct drv_buf b = { drv_gpa(&P.m, o), 16, true };
	struct vq_chain c;

	for (unsigned int i = 0; i < n; i++)
		assert_true(drv_add(&P.drv, &b, 1, false) >= 0);
	for (unsigned int i = 0; i < n; i++) {
		assert_int_equal(vq_pop(&P.vq, &c), 1);
		heads[i] = c.head;
	}
}

/*
 * Split IN_ORDER: a TX burst given back with vq_push_read() is one used
 * entry, with the last chain's head, at the used position; used->idx
 * moves past all of it and the driver finds every chain, in order.  Many
 * rounds of chains of 1-3 descriptors in batches of 1-4, across the
 * 16-bit index wrap.
 */
static void test_in_order_batches(void **state)
{
	size_t o = pair_buf(&P, 64);
	struct drv_buf b[3] = { { drv_gpa(&P.m, o), 16, false },
				{ drv_gpa(&P.m, o + 16), 16, false },
				{ drv_gpa(&P.m, o + 32), 16, false } };
	unsigned int batches = 0;
	uint32_t len;

	(void)state;
	vq_set_in_order(&P.vq, true);
	assert_true(P.vq.in_order);
	P.drv.in_order = true;
	for (unsigned int round = 0; round < 3000; round++) {
		unsigned int n = 1 + round % 4;
		uint16_t h[4];
		int want[4];
		struct vq_chain c;

		for (unsigned int i = 0; i < n; i++) {
			want[i] = drv_add(&P.drv, b, 1 + (round + i) % 3, false);
			if (want[i] < 0) {	/* ring full: take fewer */
				n = i;
				break;
			}
		}
		if (!n)
			continue;
		for (unsigned int i = 0; i < n; i++) {
			assert_int_equal(vq_pop(&P.vq, &c), 1);
			h[i] = c.head;
		}
		vq_push_read(&P.vq, h, n);
		vq_publish(&P.vq);
		batches++;
		for (unsigned int i = 0; i < n; i++) {
			assert_int_equal(drv_get_used(&P.drv, &len), want[i]);
			assert_int_equal(len, 0);
		}
		assert_int_equal(drv_get_used(&P.drv, &len), -1);
		assert_int_equal(P.drv.used_read, batches);
	}
	assert_false(P.vq.broken);
	assert_int_equal(P.vq.last_avail, P.vq.used_idx);
}

/*
 * Split: a batch that is not everything in flight, or a ring without
 * in_order (or resumed away from its used position), goes entry by entry.
 */
static void test_in_order_not_a_batch(void **state)
{
	uint16_t h[4];
	uint32_t len;

	(void)state;
	vq_set_in_order(&P.vq, true);
	P.drv.in_order = true;
	pop_n(4, h);
	vq_push_read(&P.vq, h, 2);	/* h[2], h[3] still in flight */
	vq_push_read(&P.vq, h + 2, 2);	/* now all: a batch */
	vq_publish(&P.vq);
	assert_int_equal(P.drv.used->ring[0].id, h[0]);
	assert_int_equal(P.drv.used->ring[1].id, h[1]);
	assert_int_equal(P.drv.used->ring[2].id, h[3]);
	assert_int_equal(P.drv.used->idx, 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(drv_get_used(&P.drv, &len), h[i]);
	assert_int_equal(P.drv.used_read, 3);
	/* without in_order: one entry each */
	vq_set_in_order(&P.vq, false);
	pop_n(3, h);
	vq_push_read(&P.vq, h, 3);
	vq_publish(&P.vq);
	for (int i = 0; i < 3; i++)
		assert_int_equal(P.drv.used->ring[(4 + i) & 7].id, h[i]);
	for (int i = 0; i < 3; i++)
		assert_int_equal(drv_get_used(&P.drv, &len), h[i]);
	assert_int_equal(P.drv.used_read, 6);
	/* a ring whose used position is not last_avail never takes it */
	P.vq.last_avail++;
	vq_set_in_order(&P.vq, true);
	assert_false(P.vq.in_order);
}

static void test_event_idx_notify(void **state)
{
	uint16_t h[8];
	uint32_t len;

	(void)state;
	pop_n(6, h);
	/* Nothing pushed: nothing to say. */
	assert_false(vq_publish(&P.vq));
	/*
	 * First publish: we never checked, so we notify, even though
	 * used_event (far away) would say no.
	 */
	drv_set_used_event(&P.drv, 100);
	vq_push(&P.vq, h[0], 0);
	assert_true(vq_publish(&P.vq));
	/* The driver wants to hear once used idx passes 3 (entry 3 used). */
	drv_set_used_event(&P.drv, 3);
	vq_push(&P.vq, h[1], 0);
	assert_false(vq_publish(&P.vq));	/* idx 2 */
	vq_push(&P.vq, h[2], 0);
	assert_false(vq_publish(&P.vq));	/* idx 3 */
	vq_push(&P.vq, h[3], 0);
	assert_true(vq_publish(&P.vq));	/* idx 4: passed event 3 */
	assert_false(vq_publish(&P.vq));	/* nothing new */
	/* Event stays at 3: no more notifications. */
	vq_push(&P.vq, h[4], 0);
	assert_false(vq_publish(&P.vq));
	/* Several entries in one publish that cross the event: one notify. */
	drv_set_used_event(&P.drv, 5);
	vq_push(&P.vq, h[5], 0);
	assert_true(vq_publish(&P.vq));
	for (int i = 0; i < 6; i++)
		assert_true(drv_get_used(&P.drv, &len) >= 0);

	/* Batch crossing the event in the middle. */
	pop_n(4, h);
	drv_set_used_event(&P.drv, 7);	/* idx now 6; wants 8 */
	vq_push(&P.vq, h[0], 0);
	vq_push(&P.vq, h[1], 0);
	vq_push(&P.vq, h[2], 0);
	assert_true(vq_publish(&P.vq));	/* 6 -> 9 crosses 7 */
	vq_push(&P.vq, h[3], 0);
	assert_false(vq_publish(&P.vq));
}

/* Indices starting just below 2^16 (a reconnect's SET_VRING_BASE). */
static void test_event_idx_wrap(void **state)
{
	size_t o = pair_buf(&P, 16);
	struct drv_buf b = { drv_gpa(&P.m, o), 16, true };
	struct vq_chain c;
	uint16_t h[4];
	uint32_t len;

	(void)state;
	P.drv.used->idx = 65534;
	P.drv.last_used = 65534;
	P.drv.avail_idx = 65534;
	P.drv.kicked = 65534;
	P.drv.avail->idx = 65534;
	assert_int_equal(vq_setup(&P.vq, &P.vm, 8, drv_uva(&P.m, P.drv.desc_off),
				  drv_uva(&P.m, P.drv.avail_off),
				  drv_uva(&P.m, P.drv.used_off), 65534, true, true), 0);
	vq_set_kicks(&P.vq, true);
	assert_int_equal(drv_avail_event(&P.drv), 65534);
	for (int i = 0; i < 4; i++) {
		assert_true(drv_add(&P.drv, &b, 1, false) >= 0);
		assert_int_equal(drv_kick_needed(&P.drv), i == 0);
	}
	assert_int_equal(P.drv.avail_idx, 2);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(vq_pop(&P.vq, &c), 1);
		h[i] = c.head;
	}
	assert_int_equal(P.vq.last_avail, 2);
	vq_set_kicks(&P.vq, true);
	assert_int_equal(drv_avail_event(&P.drv), 2);

	vq_push(&P.vq, h[0], 0);
	drv_set_used_event(&P.drv, 0);
	assert_true(vq_publish(&P.vq));		/* first: 65535 */
	vq_push(&P.vq, h[1], 0);
	assert_false(vq_publish(&P.vq));	/* 0: not past 0 yet */
	vq_push(&P.vq, h[2], 0);
	assert_true(vq_publish(&P.vq));		/* 1: past 0 */
	vq_push(&P.vq, h[3], 0);
	assert_false(vq_publish(&P.vq));
	assert_int_equal(P.drv.used->idx, 2);
	for (int i = 0; i < 4; i++)
		assert_int_equal(drv_get_used(&P.drv, &len), h[i]);
}

static void test_no_interrupt_flag(void **state)
{
	uint16_t h[4];

	(void)state;
	pop_n(4, h);
	drv_set_interrupts(&P.drv, false);
	vq_push(&P.vq, h[0], 0);
	assert_false(vq_publish(&P.vq));
	drv_set_interrupts(&P.drv, true);
	vq_push(&P.vq, h[1], 0);
	vq_push(&P.vq, h[2], 0);
	assert_true(vq_publish(&P.vq));
	assert_false(vq_publish(&P.vq));	/* nothing new */
	vq_push(&P.vq, h[3], 0);
	assert_true(vq_publish(&P.vq));
}

static void test_kicks_flag(void **state)
{
	size_t o = pair_buf(&P, 16);
	struct drv_buf b = { drv_gpa(&P.m, o), 16, true };

	(void)state;
	vq_set_kicks(&P.vq, false);
	assert_int_equal(P.drv.used->flags, VRING_USED_F_NO_NOTIFY);
	drv_add(&P.drv, &b, 1, false);
	assert_false(drv_kick_needed(&P.drv));
	vq_set_kicks(&P.vq, true);
	assert_int_equal(P.drv.used->flags, 0);
	/* The re-check the header asks for sees the buffer added meanwhile. */
	assert_int_equal(vq_avail_count(&P.vq), 1);
	drv_add(&P.drv, &b, 1, false);
	assert_true(drv_kick_needed(&P.drv));
}

static void test_kicks_event_idx(void **state)
{
	size_t o = pair_buf(&P, 16);
	struct drv_buf b = { drv_gpa(&P.m, o), 16, true };
	struct vq_chain c;

	(void)state;
	vq_set_kicks(&P.vq, true);
	assert_int_equal(drv_avail_event(&P.drv), 0);
	drv_add(&P.drv, &b, 1, false);
	assert_true(drv_kick_needed(&P.drv));	/* 0 -> 1 crosses 0 */
	drv_add(&P.drv, &b, 1, false);
	assert_false(drv_kick_needed(&P.drv));	/* device not re-armed */
	assert_int_equal(vq_pop(&P.vq, &c), 1);
	assert_int_equal(vq_pop(&P.vq, &c), 1);
	vq_set_kicks(&P.vq, true);
	assert_int_equal(drv_avail_event(&P.drv), 2);
	drv_add(&P.drv, &b, 1, false);
	assert_true(drv_kick_needed(&P.drv));
	/* Off: avail_event is left behind, so no more kicks. */
	assert_int_equal(vq_pop(&P.vq, &c), 1);
	vq_set_kicks(&P.vq, false);
	drv_add(&P.drv, &b, 1, false);
	assert_false(drv_kick_needed(&P.drv));
}

/* ---- two regions ---- */

static void test_two_regions_span(void **state)
{
	struct vu_mem_region r1, r2;
	struct vu_mem *vm = &P.vm;
	uint64_t half = P.m.size / 4;
	size_t o = pair_buf(&P, 64);
	struct vq_chain c;

	(void)state;
	/*
	 * Guest memory as two regions adjacent in guest physical space but
	 * not in ours: [H_GPA+X, +half) -> dev+X, [H_GPA+X+half, +half) ->
	 * dev+X+2*half.  Rings stay in region 0 at [0, X).
	 */
	uint64_t x = (P.m.brk + 4095) & ~4095ull;

	vu_mem_init(vm);
	pair_region(&P, &r1);
	r1.size = x + half;
	assert_int_equal(vu_mem_insert(vm, &r1), 0);
	r2 = r1;
	r2.gpa = H_GPA + x + half;
	r2.uva = H_UVA + x + half;
	r2.size = half;
	r2.hva = P.m.dev + x + 2 * half;
	r2.mmap_offset = x + 2 * half;
	assert_int_equal(vu_mem_insert(vm, &r2), 0);
	assert_int_equal(pair_vq_setup(&P, false, true), 0);

	/* 100 bytes straddling the seam: 40 in region 1, 60 in region 2. */
	pair_desc(&P, 0, H_GPA + x + half - 40, 100, VRING_DESC_F_NEXT, 1);
	pair_desc(&P, 1, drv_gpa(&P.m, o), 8, 0, 0);
	drv_post_head(&P.drv, 0);
	assert_int_equal(vq_pop(&P.vq, &c), 1);
	assert_int_equal(c.n_out, 3);
	assert_int_equal(c.out_len, 108);
	assert_ptr_equal(c.iov[0].base, P.m.dev + x + half - 40);
	assert_int_equal(c.iov[0].len, 40);
	assert_ptr_equal(c.iov[1].base, P.m.dev + x + 2 * half);
	assert_int_equal(c.iov[1].len, 60);
	assert_ptr_equal(c.iov[2].base, P.m.dev + o);

	/* Running off the end of region 2 into nothing breaks. */
	pair_desc(&P, 2, H_GPA + x + 2 * half - 8, 16, 0, 0);
	drv_post_head(&P.drv, 2);
	expect_break("outside memory");
}

/* ---- too big, but legal ---- */

static void test_too_many_iovs(void **state)
{
	size_t o = pair_buf(&P, 4096), t = ind_table(VQ_MAX_IOV);
	struct drv_buf b = { drv_gpa(&P.m, o), 8, false };
	struct vq_chain c;
	uint32_t len;

	(void)state;
	for (unsigned int i = 0; i < VQ_MAX_IOV; i++)
		ind_desc(t, i, drv_gpa(&P.m, o + 16 * i), 8,
			 i + 1 < VQ_MAX_IOV ? VRING_DESC_F_NEXT : 0,
			 (uint16_t)(i + 1));
	/* 64 segments are fine... */
	pair_desc(&P, 0, drv_gpa(&P.m, t), 16 * VQ_MAX_IOV, VRING_DESC_F_INDIRECT, 0);
	drv_post_head(&P.drv, 0);
	assert_int_equal(vq_pop(&P.vq, &c), 1);
	assert_int_equal(c.n_out, VQ_MAX_IOV);
	assert_int_equal(c.out_len, 8 * VQ_MAX_IOV);
	vq_push(&P.vq, c.head, 0);
	/* ...65 are legal but too many: one in the ring, 64 in the table. */
	pair_desc(&P, 1, drv_gpa(&P.m, o), 8, VRING_DESC_F_NEXT, 2);
	pair_desc(&P, 2, drv_gpa(&P.m, t), 16 * VQ_MAX_IOV, VRING_DESC_F_INDIRECT, 0);
	drv_post_head(&P.drv, 1);
	assert_int_equal(vq_pop(&P.vq, &c), -EMSGSIZE);
	assert_int_equal(c.head, 1);
	assert_false(P.vq.broken);
	assert_true(c.n_out <= VQ_MAX_IOV);
	vq_push(&P.vq, c.head, 0);
	vq_publish(&P.vq);
	assert_int_equal(P.drv.used->ring[0].id, 0);
	assert_int_equal(P.drv.used->ring[1].id, 1);
	assert_int_equal(P.drv.used->idx, 2);
	/* The queue goes on. */
	P.drv.last_used = 2;
	assert_true(drv_add(&P.drv, &b, 1, false) >= 0);
	assert_int_equal(vq_pop(&P.vq, &c), 1);

	/* Past the limit, addresses are no longer looked up... */
	ind_desc(t, VQ_MAX_IOV - 1, 0, 8, 0, 0);
	drv_post_head(&P.drv, 1);
	assert_int_equal(vq_pop(&P.vq, &c), -EMSGSIZE);
	assert_false(P.vq.broken);
	/* ...but the structure still is. */
	ind_desc(t, VQ_MAX_IOV - 2, drv_gpa(&P.m, o), 8,
		 VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, VQ_MAX_IOV - 1);
	drv_post_head(&P.drv, 1);
	expect_break("readable descriptor after a writable");
	(void)len;
}

/*
 * More than 4 GiB in one chain is legal but refused with -EMSGSIZE.  The
 * guest has 128 MiB, described 33 times at consecutive guest physical
 * addresses (regions may alias in our address space), so 33 descriptors
 * of 128 MiB make 4.125 GiB without touching a byte.
 */
static void test_over_4g(void **state)
{
	const uint64_t sz = 128ull << 20;
	struct vq_chain c;

	(void)state;
	for (unsigned int i = 1; i < 33; i++) {
		struct vu_mem_region r;

		pair_region(&P, &r);
		r.gpa = H_GPA + i * sz;
		r.uva = H_UVA + i * sz;
		assert_int_equal(vu_mem_insert(&P.vm, &r), 0);
	}
	for (uint16_t i = 0; i < 33; i++)
		pair_desc(&P, i, H_GPA + i * sz, (uint32_t)sz,
			  i < 32 ? VRING_DESC_F_NEXT : 0, (uint16_t)(i + 1));
	drv_post_head(&P.drv, 0);
	assert_int_equal(vq_pop(&P.vq, &c), -EMSGSIZE);
	assert_int_equal(c.head, 0);
	assert_false(P.vq.broken);
	/* 32 fit; 2^32 does not fit in 32 bits. */
	for (uint16_t i = 0; i < 32; i++)
		pair_desc(&P, i, H_GPA + i * sz, (uint32_t)sz,
			  i < 31 ? VRING_DESC_F_NEXT : 0, (uint16_t)(i + 1));
	drv_post_head(&P.drv, 0);
	assert_int_equal(vq_pop(&P.vq, &c), -EMSGSIZE);
	for (uint16_t i = 0; i < 32; i++)
		pair_desc(&P, i, H_GPA + i * sz, i ? (uint32_t)sz : (uint32_t)sz - 1,
			  i < 31 ? VRING_DESC_F_NEXT : 0, (uint16_t)(i + 1));
	drv_post_head(&P.drv, 0);
	assert_int_equal(vq_pop(&P.vq, &c), 1);
	assert_int_equal(c.out_len, UINT32_MAX);
	assert_int_equal(c.n_out, 32);
}

static int pair_big(void **state)
{
	(void)state;
	return pair_open(&P, 128u << 20, 64, false, true);
}

/* ---- hostile descriptors: each must break the queue ---- */

static void test_head_past_ring(void **state)
{
	(void)state;
	drv_post_head(&P.drv, 8);
	expect_break("head index 8");
}

static void test_head_way_past_ring(void **state)
{
	(void)state;
	drv_post_head(&P.drv, 0xffff);
	expect_break("head index");
}

static void test_next_past_ring(void **state)
{
	size_t o = pair_buf(&P, 16);

	(void)state;
	pair_desc(&P, 0, drv_gpa(&P.m, o), 16, VRING_DESC_F_NEXT, 8);
	drv_post_head(&P.drv, 0);
	expect_break("next index 8");
}

static void test_loop(void **state)
{
	size_t o = pair_buf(&P, 16);

	(void)state;
	pair_desc(&P, 2, drv_gpa(&P.m, o), 16, VRING_DESC_F_NEXT, 3);
	pair_desc(&P, 3, drv_gpa(&P.m, o), 16, VRING_DESC_F_NEXT, 2);
	drv_post_head(&P.drv, 2);
	expect_break("longer than its table");
}

static void test_self_loop(void **state)
{
	size_t o = pair_buf(&P, 16);

	(void)state;
	pair_desc(&P, 7, drv_gpa(&P.m, o), 0, VRING_DESC_F_NEXT, 7);
	drv_post_head(&P.drv, 7);
	expect_break("longer than its table");
}

static void test_chain_as_long_as_ring(void **state)
{
	size_t o = pair_buf(&P, 16);
	struct vq_chain c;

	(void)state;
	/* All 8 descriptors in one chain is legal; 0..7 then back to 0 is not. */
	for (uint16_t i = 0; i < 8; i++)
		pair_desc(&P, i, drv_gpa(&P.m, o), 2,
			  i < 7 ? VRING_DESC_F_NEXT : 0, (uint16_t)(i + 1));
	drv_post_head(&P.drv, 0);
	assert_int_equal(vq_pop(&P.vq, &c), 1);
	assert_int_equal(c.n_out, 8);
	pair_desc(&P, 7, drv_gpa(&P.m, o), 2, VRING_DESC_F_NEXT, 0);
	drv_post_head(&P.drv, 0);
	expect_break("longer than its table");
}

static void test_indirect_loop(void **state)
{
	size_t o = pair_buf(&P, 16), t = ind_table(4);

	(void)state;
	ind_desc(t, 0, drv_gpa(&P.m, o), 4, VRING_DESC_F_NEXT, 1);
	ind_desc(t, 1, drv_gpa(&P.m, o), 4, VRING_DESC_F_NEXT, 2);
	ind_desc(t, 2, drv_gpa(&P.m, o), 4, VRING_DESC_F_NEXT, 0);
	pair_desc(&P, 0, drv_gpa(&P.m, t), 16 * 3, VRING_DESC_F_INDIRECT, 0);
	drv_post_head(&P.drv, 0);
	expect_break("longer than its table");
}

static void test_indirect_next_past_table(void **state)
{
	size_t o = pair_buf(&P, 16), t = ind_table(4);

	(void)state;
	/* Index 3 is inside the ring (size 8) but past the 3-entry table. */
	ind_desc(t, 0, drv_gpa(&P.m, o), 4, VRING_DESC_F_NEXT, 3);
	pair_desc(&P, 0, drv_gpa(&P.m, t), 16 * 3, VRING_DESC_F_INDIRECT, 0);
	drv_post_head(&P.drv, 0);
	expect_break("next index 3 out of table of 3");
}

static void test_nested_indirect(void **state)
{
	size_t o = pair_buf(&P, 16), t = ind_table(2), t2 = ind_table(1);

	(void)state;
	ind_desc(t2, 0, drv_gpa(&P.m, o), 4, 0, 0);
	ind_desc(t, 0, drv_gpa(&P.m, o), 4, VRING_DESC_F_NEXT, 1);
	ind_desc(t, 1, drv_gpa(&P.m, t2), 16, VRING_DESC_F_INDIRECT, 0);
	pair_desc(&P, 0, drv_gpa(&P.m, t), 32, VRING_DESC_F_INDIRECT, 0);
	drv_post_head(&P.drv, 0);
	expect_break("inside an indirect table");
}

static void test_nested_indirect_self(void **state)
{
	size_t t = ind_table(1);

	(void)state;
	/* The table points at itself. */
	ind_desc(t, 0, drv_gpa(&P.m, t), 16, VRING_DESC_F_INDIRECT, 0);
	pair_desc(&P, 0, drv_gpa(&P.m, t), 16, VRING_DESC_F_INDIRECT, 0);
	drv_post_head(&P.drv, 0);
	expect_break("inside an indirect table");
}

static void test_indirect_with_next(void **state)
{
	size_t o = pair_buf(&P, 16), t = ind_table(1);

	(void)state;
	ind_desc(t, 0, drv_gpa(&P.m, o), 4, 0, 0);
	pair_desc(&P, 0, drv_gpa(&P.m, t), 16,
		  VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 1);
	pair_desc(&P, 1, drv_gpa(&P.m, o), 4, 0, 0);
	drv_post_head(&P.drv, 0);
	expect_break("with NEXT");
}

static void test_indirect_len_zero(void **state)
{
	size_t t = ind_table(1);

	(void)state;
	pair_desc(&P, 0, drv_gpa(&P.m, t), 0, VRING_DESC_F_INDIRECT, 0);
	drv_post_head(&P.drv, 0);
	expect_break("indirect table length 0");
}

static void test_indirect_len_odd(void **state)
{
	size_t t = ind_table(2);

	(void)state;
	pair_desc(&P, 0, drv_gpa(&P.m, t), 24, VRING_DESC_F_INDIRECT, 0);
	drv_post_head(&P.drv, 0);
	expect_break("indirect table length 24");
}

static void test_indirect_len_huge(void **state)
{
	size_t t = ind_table(65);

	(void)state;
	/* 65 entries: more than max(ring size 8, 64). */
	pair_desc(&P, 0, drv_gpa(&P.m, t), 16 * 65, VRING_DESC_F_INDIRECT, 0);
	drv_post_head(&P.drv, 0);
	expect_break("indirect table length 1040");
}

static void test_indirect_len_max(void **state)
{
	(void)state;
	pair_desc(&P, 0, drv_gpa(&P.m, 0), 0xfffffff0u, VRING_DESC_F_INDIRECT, 0);
	drv_post_head(&P.drv, 0);
	expect_break("indirect table length");
}

static void test_indirect_outside(void **state)
{
	(void)state;
	pair_desc(&P, 0, 0x1000, 32, VRING_DESC_F_INDIRECT, 0);
	drv_post_head(&P.drv, 0);
	expect_break("not inside one region");
}

static void test_indirect_spans_region_end(void **state)
{
	(void)state;
	/* Two entries, the second past the end of guest memory. */
	pair_desc(&P, 0, P.m.gpa + P.m.size - 16, 32, VRING_DESC_F_INDIRECT, 0);
	drv_post_head(&P.drv, 0);
	expect_break("not inside one region");
}

static void test_indirect_not_negotiated(void **state)
{
	size_t o = pair_buf(&P, 16), t = ind_table(1);

	(void)state;
	ind_desc(t, 0, drv_gpa(&P.m, o), 4, 0, 0);
	pair_desc(&P, 0, drv_gpa(&P.m, t), 16, VRING_DESC_F_INDIRECT, 0);
	drv_post_head(&P.drv, 0);
	expect_break("not negotiated");
}

static void test_readable_after_writable(void **state)
{
	size_t o = pair_buf(&P, 16);

	(void)state;
	pair_desc(&P, 0, drv_gpa(&P.m, o), 4, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	pair_desc(&P, 1, drv_gpa(&P.m, o), 4, 0, 0);
	drv_post_head(&P.drv, 0);
	expect_break("readable descriptor after a writable");
}

static void test_readable_after_writable_indirect(void **state)
{
	size_t o = pair_buf(&P, 16), t = ind_table(2);

	(void)state;
	/* Writable in the ring, readable in the table behind it. */
	ind_desc(t, 0, drv_gpa(&P.m, o), 4, 0, 0);
	pair_desc(&P, 0, drv_gpa(&P.m, o), 4, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	pair_desc(&P, 1, drv_gpa(&P.m, t), 16, VRING_DESC_F_INDIRECT, 0);
	drv_post_head(&P.drv, 0);
	expect_break("readable descriptor after a writable");
}

static void test_addr_outside(void **state)
{
	(void)state;
	pair_desc(&P, 0, 0, 64, 0, 0);
	drv_post_head(&P.drv, 0);
	expect_break("outside memory");
}

static void test_addr_below_region(void **state)
{
	(void)state;
	/* Ends inside guest memory but starts one byte before it. */
	pair_desc(&P, 0, P.m.gpa - 1, 64, 0, 0);
	drv_post_head(&P.drv, 0);
	expect_break("outside memory");
}

static void test_addr_wraps(void **state)
{
	(void)state;
	pair_desc(&P, 0, 0xffffffffffffff00ull, 0x200, 0, 0);
	drv_post_head(&P.drv, 0);
	expect_break("wraps");
}

static void test_len_huge(void **state)
{
	(void)state;
	/* Capped by the region, then the rest is outside: break. */
	pair_desc(&P, 0, P.m.gpa + 16, 0xffffffffu, 0, 0);
	drv_post_head(&P.drv, 0);
	expect_break("outside memory");
}

static void test_desc_spans_region_end(void **state)
{
	(void)state;
	pair_desc(&P, 0, P.m.gpa + P.m.size - 8, 9, VRING_DESC_F_WRITE, 0);
	drv_post_head(&P.drv, 0);
	expect_break("outside memory");
}

static void test_desc_ends_at_region_end(void **state)
{
	struct vq_chain c;

	(void)state;
	pair_desc(&P, 0, P.m.gpa + P.m.size - 8, 8, VRING_DESC_F_WRITE, 0);
	drv_post_head(&P.drv, 0);
	assert_int_equal(vq_pop(&P.vq, &c), 1);
	assert_true(pair_owns(&P, c.iov[0].base, c.iov[0].len));
}

static void test_avail_jump(void **state)
{
	struct vq_chain c;
	size_t o = pair_buf(&P, 16);

	(void)state;
	for (uint16_t i = 0; i < 8; i++)
		pair_desc(&P, i, drv_gpa(&P.m, o), 16, 0, 0);
	/* Exactly size ahead is fine... */
	drv_set_avail_idx(&P.drv, 8);
	assert_int_equal(vq_avail_count(&P.vq), 8);
	assert_int_equal(vq_pop(&P.vq, &c), 1);
	/* ...one past what we consumed + size is not. */
	drv_set_avail_idx(&P.drv, 1 + 8 + 1);
	assert_int_equal(vq_avail_count(&P.vq), 0);
	assert_true(P.vq.broken);
	assert_non_null(strstr(P.vq.why, "ahead"));
}

static void test_avail_jump_pop(void **state)
{
	(void)state;
	drv_set_avail_idx(&P.drv, 9);
	expect_break("ahead");
}

static void test_avail_backwards(void **state)
{
	size_t o = pair_buf(&P, 16);
	struct drv_buf b = { drv_gpa(&P.m, o), 16, false };
	struct vq_chain c;

	(void)state;
	drv_add(&P.drv, &b, 1, false);
	assert_int_equal(vq_pop(&P.vq, &c), 1);
	drv_set_avail_idx(&P.drv, 0);	/* behind last_avail = 1 */
	expect_break("ahead");
}

/* ---- region at the very top of the address space ---- */

static void test_region_at_top_wraps(void **state)
{
	struct vu_mem_region r;
	uint64_t top = 0 - (uint64_t)P.m.size / 2;	/* last half-region */
	struct vq_chain c;

	(void)state;
	/* Rings in region 0 as usual; a second region ends at 2^64. */
	r.gpa = top;
	r.size = P.m.size / 2;
	r.uva = 0x10000000000ull;
	r.mmap_offset = P.m.size / 2;
	r.hva = P.m.dev + P.m.size / 2;
	r.cookie = NULL;
	assert_int_equal(vu_mem_insert(&P.vm, &r), 0);
	pair_desc(&P, 0, 0 - 16ull, 16, 0, 0);		/* last 16 bytes: fine */
	drv_post_head(&P.drv, 0);
	assert_int_equal(vq_pop(&P.vq, &c), 1);
	assert_ptr_equal(c.iov[0].base, P.m.dev + P.m.size - 16);
	pair_desc(&P, 1, 0 - 16ull, 17, 0, 0);		/* one byte past 2^64 */
	drv_post_head(&P.drv, 1);
	expect_break("wraps");
}

/* ---- random garbage: never crash, never stray ---- */

static uint64_t rnd_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

static uint64_t rnd_addr(void)
{
	switch (rnd() % 4) {
	case 0:
		return rnd();
	case 1:
		return P.m.gpa + rnd() % (P.m.size + 64) - 32;
	default:
		return P.m.gpa + rnd() % P.m.size;
	}
}

static void test_random_descriptors(void **state)
{
	size_t t = ind_table(16);
	unsigned int pops = 0, breaks = 0, big = 0;

	(void)state;
	for (int round = 0; round < 20000; round++) {
		struct vq_chain c;
		int rc;

		for (uint16_t i = 0; i < 8; i++) {
			uint64_t v = rnd();
			bool tbl = (v & 7) == 0;
			uint64_t addr = tbl ? drv_gpa(&P.m, t) : rnd_addr();
			uint32_t len = tbl ? 16 * (uint32_t)(rnd() % 17) :
				       (v >> 8) & 1 ? (uint32_t)(rnd() % 256) :
				       (uint32_t)rnd();

			pair_desc(&P, i, addr, len, (uint16_t)(rnd() % 8),
				  (uint16_t)(rnd() % 10));
		}
		for (unsigned int i = 0; i < 16; i++)
			ind_desc(t, i, rnd_addr(), (uint32_t)(rnd() % 512),
				 (uint16_t)(rnd() % 8), (uint16_t)(rnd() % 18));
		P.drv.avail->ring[0] = (uint16_t)(rnd() % 10);
		drv_set_avail_idx(&P.drv, (uint16_t)(P.vq.last_avail + 1));
		for (int k = 1; k < 8; k++)
			P.drv.avail->ring[k] = P.drv.avail->ring[0];
		rc = vq_pop(&P.vq, &c);
		if (rc == 1 || rc == -EMSGSIZE) {
			pops += rc == 1;
			big += rc == -EMSGSIZE;
			assert_true(c.n_out + c.n_in <= VQ_MAX_IOV);
			for (unsigned int i = 0; i < (unsigned int)c.n_out + c.n_in; i++) {
				assert_true(c.iov[i].len > 0);
				assert_true(pair_owns(&P, c.iov[i].base, c.iov[i].len));
				/* Touch it all: a stray pointer would fault. */
				memset(c.iov[i].base, 0x5a, c.iov[i].len);
			}
		} else {
			assert_int_equal(rc, -EIO);
			assert_true(P.vq.broken);
			assert_true(P.vq.why[0] != '\0');
			breaks++;
			assert_int_equal(pair_vq_setup(&P, false, true), 0);
		}
		/* Re-sync the ring header the garbage may have desynced. */
		P.drv.avail_idx = P.vq.last_avail;
	}
	print_message("random: %u chains, %u too big, %u breaks\n", pops, big,
		      breaks);
	assert_true(pops > 100);
	assert_true(breaks > 100);
}

/*
 * A guest that rewrites its descriptors, indirect table and avail ring
 * from another thread while we walk them: whatever we see, every segment
 * we hand out must lie inside its memory, and we must not crash or hang.
 */
struct scribbler {
	pthread_t tid;
	volatile bool stop;
	uint64_t writes;
	size_t table;
	uint64_t seed;
};

static uint64_t xs(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void *scribble(void *arg)
{
	struct scribbler *sc = arg;
	uint64_t s = sc->seed;

	while (!sc->stop) {
		uint64_t v = xs(&s);
		unsigned int i = (unsigned int)(v >> 60) & 7;
		volatile struct vring_desc *d = (v & 1) ? &P.drv.desc[i] :
			(volatile struct vring_desc *)drv_ptr(&P.m, sc->table + 16 * i);

		switch ((v >> 1) & 7) {
		case 0:
			d->addr = P.m.gpa + xs(&s) % (P.m.size + 64) - 32;
			break;
		case 1:
			d->addr = (v & 2) ? drv_gpa(&P.m, sc->table) : xs(&s);
			break;
		case 2:
			d->len = (uint32_t)xs(&s) % 512;
			break;
		case 3:
			d->len = (v & 4) ? 16 * ((uint32_t)xs(&s) % 10) : (uint32_t)xs(&s);
			break;
		case 4:
			d->flags = (uint16_t)(xs(&s) % 8);
			break;
		case 5:
			d->next = (uint16_t)(xs(&s) % 10);
			break;
		default:
			P.drv.avail->ring[i] = (uint16_t)(xs(&s) % 9);
			break;
		}
		__atomic_fetch_add(&sc->writes, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void test_concurrent_rewrite(void **state)
{
	struct scribbler sc = { .stop = false, .seed = 0x1234567887654321ull };
	unsigned int ok = 0, breaks = 0;
	time_t t0 = time(NULL);

	(void)state;
	sc.table = ind_table(8);
	assert_int_equal(pthread_create(&sc.tid, NULL, scribble, &sc), 0);
	/*
	 * On a loaded machine the other thread may hardly run: go on until
	 * both sides did enough, with a time cap.
	 */
	for (unsigned int round = 0;
	     (round < 200000 || __atomic_load_n(&sc.writes, __ATOMIC_RELAXED) < 200000 ||
	      breaks < 100 || ok < 100) &&
	     time(NULL) - t0 < 30; round++) {
		uint16_t k = (uint16_t)(round % 8);
		struct vq_chain c;
		int rc;

		/* Now and then a good chain, which the scribbler may spoil. */
		if (round % 16 == 0) {
			pair_desc(&P, k, drv_gpa(&P.m, sc.table), 64, 0, 0);
			P.drv.avail->ring[P.vq.last_avail % 8] = k;
		}
		drv_set_avail_idx(&P.drv, (uint16_t)(P.vq.last_avail + 1));
		rc = vq_pop(&P.vq, &c);
		if (rc == 1 || rc == -EMSGSIZE) {
			ok++;
			assert_true(c.n_out + c.n_in <= VQ_MAX_IOV);
			for (unsigned int i = 0; i < (unsigned int)c.n_out + c.n_in; i++)
				assert_true(pair_owns(&P, c.iov[i].base, c.iov[i].len));
			vq_push(&P.vq, c.head, 0);
			vq_publish(&P.vq);
		} else {
			assert_int_equal(rc, -EIO);
			breaks++;
			assert_int_equal(pair_vq_setup(&P, false, true), 0);
		}
	}
	sc.stop = true;
	pthread_join(sc.tid, NULL);
	print_message("concurrent: %u chains, %u breaks, %llu guest writes\n",
		      ok, breaks, (unsigned long long)sc.writes);
	assert_true(ok >= 100);
	assert_true(breaks >= 100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_setup_checks, pair_std, pair_down),
		cmocka_unit_test_setup_teardown(test_setup_alignment_uva_vs_hva, pair_std, pair_down),
		cmocka_unit_test_setup_teardown(test_setup_reads_used_idx, pair_std, pair_down),
		cmocka_unit_test_setup_teardown(test_pop_push_roundtrip, pair_std, pair_down),
		cmocka_unit_test_setup_teardown(test_indirect_ok, pair_std, pair_down),
		cmocka_unit_test_setup_teardown(test_zero_length_descs, pair_std, pair_down),
		cmocka_unit_test_setup_teardown(test_unpop, pair_std, pair_down),
		cmocka_unit_test_setup_teardown(test_in_order_batches, pair_std, pair_down),
		cmocka_unit_test_setup_teardown(test_in_order_not_a_batch, pair_std, pair_down),
		cmocka_unit_test_setup_teardown(test_last_avail_moved, pair_std, pair_down),
		cmocka_unit_test_setup_teardown(test_wraparound, pair_std, pair_down),
		cmocka_unit_test_setup_teardown(test_event_idx_notify, pair_ev, pair_down),
		cmocka_unit_test_setup_teardown(test_event_idx_wrap, pair_ev, pair_down),
		cmocka_unit_test_setup_teardown(test_no_interrupt_flag, pair_std, pair_down),
		cmocka_unit_test_setup_teardown(test_kicks_flag, pair_std, pair_down),
		cmocka_unit_test_setup_teardown(test_kicks_event_idx, pair_ev, pair_down),
		cmocka_unit_test_setup_teardown(test_two_regions_span, pair_std, pair_down),
		cmocka_unit_test_setup_teardown(test_too_many_iovs, pair_std, pair_down),
		cmocka_unit_test_setup_teardown(test_over_4g, pair_big, pair_down),
		cmocka_unit_test_setup_teardown(test_head_past_ring, pair_std, pair_down),
		cmocka_unit_test_setup_teardown(test_head_way_past_ring, pair_std, pair_down),
		cmocka_unit_test_setup_teardown(test_next_past_ring, pair_std, pair_down),
		cmocka_unit_test_setup_teardown(test_loop, pair_std, pair_down),
		cmocka_unit_test_setup_teardown(test_self_loop, pair_std, pair_down),
		cmocka_unit_test_setup_teardown(test_chain_as_long_as_ring, pair_std, pair_down),
		cmocka_unit_test_setup_teardown(test_indirect_loop, pair_std, pair_down),
		cmocka_unit_test_setup_teardown(test_indirect_next_past_table, pair_std, pair_down),
		cmocka_unit_test_setup_teardown(test_nested_indirect, pair_std, pair_down),
		cmocka_unit_test_setup_teardown(test_nested_indirect_self, pair_std, pair_down),
		cmocka_unit_test_setup_teardown(test_indirect_with_next, pair_std, pair_down),
		cmocka_unit_test_setup_teardown(test_indirect_len_zero, pair_std, pair_down),
		cmocka_unit_test_setup_teardown(test_indirect_len_odd, pair_std, pair_down),
		cmocka_unit_test_setup_teardown(test_indirect_len_huge, pair_std, pair_down),
		cmocka_unit_test_setup_teardown(test_indirect_len_max, pair_std, pair_down),
		cmocka_unit_test_setup_teardown(test_indirect_outside, pair_std, pair_down),
		cmocka_unit_test_setup_teardown(test_indirect_spans_region_end, pair_std, pair_down),
		cmocka_unit_test_setup_teardown(test_indirect_not_negotiated, pair_noind, pair_down),
		cmocka_unit_test_setup_teardown(test_readable_after_writable, pair_std, pair_down),
		cmocka_unit_test_setup_teardown(test_readable_after_writable_indirect, pair_std, pair_down),
		cmocka_unit_test_setup_teardown(test_addr_outside, pair_std, pair_down),
		cmocka_unit_test_setup_teardown(test_addr_below_region, pair_std, pair_down),
		cmocka_unit_test_setup_teardown(test_addr_wraps, pair_std, pair_down),
		cmocka_unit_test_setup_teardown(test_len_huge, pair_std, pair_down),
		cmocka_unit_test_setup_teardown(test_desc_spans_region_end, pair_std, pair_down),
		cmocka_unit_test_setup_teardown(test_desc_ends_at_region_end, pair_std, pair_down),
		cmocka_unit_test_setup_teardown(test_avail_jump, pair_std, pair_down),
		cmocka_unit_test_setup_teardown(test_avail_jump_pop, pair_std, pair_down),
		cmocka_unit_test_setup_teardown(test_avail_backwards, pair_std, pair_down),
		cmocka_unit_test_setup_teardown(test_region_at_top_wraps, pair_std, pair_down),
		cmocka_unit_test_setup_teardown(test_random_descriptors, pair_std, pair_down),
		cmocka_unit_test_setup_teardown(test_concurrent_rewrite, pair_std, pair_down),
	};

	return cmocka_run_group_tests_name("virtq", tests, NULL, NULL);
}
