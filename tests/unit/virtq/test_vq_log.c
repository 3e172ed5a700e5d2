/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of dirty logging (drivers/virtq/vq_log.c and its hooks in
 * vq.c / vq_packed.c): a guest posts RX buffers, vnet fills them through
 * a split or packed ring with a log attached, and a model of QEMU's
 * migration (copy all pages, then copy again only the pages whose bit is
 * set) must end with a copy equal to guest memory.  The same model with
 * logging off must find the difference: the check can fail.
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

#define MEM (1u << 20)
#define PG 4096u
/* Bytes of log for guest physical [0, H_GPA + MEM), plus a canary tail. */
#define LOG_LEN ((H_GPA + MEM) / PG / 8)
#define CANARY 64

static struct pair B;
static struct ppair P;
static struct vnet_rxq RQ;
static struct vnet_stats ST;
static struct vq_dirty_log LOG;
static struct vq_logq LQ;
static uint8_t *logbuf;
static uint8_t *copy;		/* the "destination": guest memory as migrated */

static uint8_t *mem_dev(bool packed) { return packed ? P.m.dev : B.m.dev; }

static void log_open(uint64_t len)
{
	logbuf = calloc(1, len + CANARY);
	assert_non_null(logbuf);
	memset(logbuf + len, 0x5a, CANARY);
	memset(&LOG, 0, sizeof(LOG));
	LOG.bits = logbuf;
	LOG.len = len;
	copy = malloc(MEM);
	assert_non_null(copy);
}

static int up(void **state)
{
	(void)state;
	memset(&RQ, 0, sizeof(RQ));
	memset(&ST, 0, sizeof(ST));
	if (pair_open(&B, MEM, 64, true, true) || ppair_open(&P, MEM, 64, true, true))
		return -1;
	log_open(LOG_LEN);
	return 0;
}

static int down(void **state)
{
	(void)state;
	pair_close(&B);
	ppair_close(&P);
	free(logbuf);
	free(copy);
	return 0;
}

static bool bit(uint64_t gpa)
{
	uint64_t pg = gpa / PG;

	return (logbuf[pg / 8] >> (pg % 8)) & 1;
}

/* Migration round 1: copy everything, clear the log (as QEMU's first pass). */
static void migrate_begin(bool packed)
{
	memcpy(copy, mem_dev(packed), MEM);
	memset(logbuf, 0, LOG.len);
}

/*
 * Final round: copy the pages whose bit is set; return the pages that
 * still differ (written without being logged).
 */
static unsigned int migrate_end(bool packed)
{
	const uint8_t *m = mem_dev(packed);
	unsigned int bad = 0;

	for (size_t o = 0; o < MEM; o += PG)
		if (bit(H_GPA + o))
			memcpy(copy + o, m + o, PG);
	for (size_t o = 0; o < MEM; o += PG)
		if (memcmp(copy + o, m + o, PG))
			bad++;
	for (unsigned int i = 0; i < CANARY; i++)
		assert_int_equal(logbuf[LOG.len + i], 0x5a);
	return bad;
}

static unsigned int bits_set(void)
{
	unsigned int n = 0;

	for (uint64_t i = 0; i < LOG.len; i++)
		n += (unsigned int)__builtin_popcount(logbuf[i]);
	return n;
}

static uint8_t src[VNET_MAX_FRAME];

static void make_frame(struct sw_frame *f, size_t len, unsigned int seed)
{
	for (size_t i = 0; i < len; i++)
		src[i] = (uint8_t)(i * 7 + seed);
	memset(f, 0, sizeof(*f));
	f->len = (uint32_t)len;
	memcpy(f->eth, src, SW_ETH_HLEN);
	f->seg[0].base = src;
	f->seg[0].len = (uint32_t)len;
	f->nseg = 1;
}

/*
 * Post an RX chain of n descriptors of each bytes, every one on its own
 * page (a page apart), starting at a fresh page; returns its offset.
 */
static size_t rx_post(bool packed, unsigned int n, uint32_t each)
{
	struct drv_mem *m = packed ? &P.m : &B.m;
	size_t o = drv_mem_alloc(m, (size_t)n * PG, PG);
	struct drv_buf d[DRV_INDIRECT_MAX];

	for (unsigned int i = 0; i < n; i++) {
		d[i].gpa = drv_gpa(m, o + (size_t)i * PG);
		d[i].len = each;
		d[i].write = true;
	}
	if (packed)
		assert_true(drvp_add(&P.drv, d, n, n > 1) >= 0);
	else
		assert_true(drv_add(&B.drv, d, n, n > 1) >= 0);
	return o;
}

static struct vq *ring(bool packed) { return packed ? &P.vq : &B.vq; }

static void rx_setup(bool packed, bool mrg)
{
	RQ.vq = ring(packed);
	RQ.hdr_len = 12;
	RQ.mrg_rxbuf = mrg;
}

/* Frames into buffers and rings, logged: nothing is missed, little extra. */
static void rx_logged(bool packed)
{
	struct sw_frame f;
	size_t o1, o2;

	rx_setup(packed, true);
	vq_log_attach(ring(packed), &LOG, &LQ);
	o1 = rx_post(packed, 4, 1000);		/* 4 pages, 1000 bytes each */
	o2 = rx_post(packed, 2, 4096);
	migrate_begin(packed);
	/* 2500 bytes: pages 1-3 of the first chain; 4th untouched. */
	make_frame(&f, 2500 - 12, 1);
	assert_int_equal(vnet_rx_frame(&RQ, &f, &ST), 0);
	/* 4012 bytes: the first page of the second chain only. */
	make_frame(&f, 4000, 3);
	assert_int_equal(vnet_rx_frame(&RQ, &f, &ST), 0);
	make_frame(&f, 60, 2);
	assert_int_equal(vnet_rx_frame(&RQ, &f, &ST), -ENOBUFS);	/* none left */
	vnet_rx_flush(&RQ);
	vq_set_kicks(ring(packed), true);
	assert_int_equal(migrate_end(packed), 0);
	assert_true(bit(H_GPA + o1) && bit(H_GPA + o1 + PG) && bit(H_GPA + o1 + 2 * PG));
	assert_false(bit(H_GPA + o1 + 3 * PG));		/* not written: not logged */
	assert_true(bit(H_GPA + o2));
	assert_false(bit(H_GPA + o2 + PG));
	/* The buffers' pages plus the ring's: no more than a few extra. */
	assert_true(bits_set() <= 4 + 3);
	assert_int_equal(LOG.misses, 0);
	assert_int_equal(LOG.fallbacks, 0);
}

static void test_split_logged(void **state) { (void)state; rx_logged(false); }
static void test_packed_logged(void **state) { (void)state; rx_logged(true); }

/* The same traffic unlogged: the migration model sees stale pages. */
static void rx_unlogged(bool packed)
{
	struct sw_frame f;

	rx_setup(packed, true);
	vq_log_attach(ring(packed), NULL, NULL);
	rx_post(packed, 2, 2048);
	migrate_begin(packed);
	make_frame(&f, 3000, 4);
	assert_int_equal(vnet_rx_frame(&RQ, &f, &ST), 0);
	vnet_rx_flush(&RQ);
	assert_true(migrate_end(packed) >= 2);	/* buffer and used ring */
	assert_int_equal(bits_set(), 0);
}

static void test_split_unlogged_caught(void **state) { (void)state; rx_unlogged(false); }
static void test_packed_unlogged_caught(void **state) { (void)state; rx_unlogged(true); }

/* A chain given back (too small without MRG_RXBUF) is not logged. */
static void test_unpop_not_logged(void **state)
{
	struct sw_frame f;
	size_t o;

	(void)state;
	rx_setup(false, false);
	vq_log_attach(&B.vq, &LOG, &LQ);
	o = rx_post(false, 1, 100);
	migrate_begin(false);
	make_frame(&f, 200, 5);
	assert_int_equal(vnet_rx_frame(&RQ, &f, &ST), -EMSGSIZE);
	assert_int_equal(bits_set(), 0);
	make_frame(&f, 80, 6);
	assert_int_equal(vnet_rx_frame(&RQ, &f, &ST), 0);
	vnet_rx_flush(&RQ);
	assert_true(bit(H_GPA + o));
	assert_int_equal(migrate_end(false), 0);
	assert_int_equal(LQ.c_head, LQ.c_tail);	/* nothing left in flight */
}

/* A log shorter than memory: misses counted, no byte written past it. */
static void test_log_too_small(void **state)
{
	struct sw_frame f;

	(void)state;
	rx_setup(false, true);
	LOG.len = LOG_LEN - 8;		/* the last 64 pages have no bit */
	memset(logbuf + LOG.len, 0x5a, 8);
	vq_log_attach(&B.vq, &LOG, &LQ);
	/* Fill memory until a buffer lands in the last 64 pages. */
	while (B.m.brk < MEM - 64 * PG)
		drv_mem_alloc(&B.m, PG, PG);
	rx_post(false, 1, 2048);
	make_frame(&f, 1000, 7);
	assert_int_equal(vnet_rx_frame(&RQ, &f, &ST), 0);
	vnet_rx_flush(&RQ);
	assert_true(LOG.misses >= 1);
	for (unsigned int i = 0; i < 8; i++)
		assert_int_equal(logbuf[LOG.len + i], 0x5a);
	LOG.len = LOG_LEN;
	assert_false(vq_log_covers(LOG_LEN - 8, &B.vm));
	assert_true(vq_log_covers(LOG_LEN, &B.vm));
}

/*
 * More writable ranges in flight than the ring keeps: the chains it
 * could not keep are logged as all of memory, never missed.
 */
static void test_overflow_logs_all(void **state)
{
	struct vq_chain *c = malloc(20 * sizeof(*c));
	unsigned int n = 0;

	(void)state;
	assert_non_null(c);
	vq_log_attach(&B.vq, &LOG, &LQ);
	for (unsigned int i = 0; i < 20; i++) {
		/* 20 x 60 ranges > VQ_LOG_RANGES, 64 bytes apart. */
		size_t o = drv_mem_alloc(&B.m, 60 * 128, 64);
		struct drv_buf d[60];

		for (unsigned int k = 0; k < 60; k++)
			d[k] = (struct drv_buf){ drv_gpa(&B.m, o + 128 * k), 64, true };
		assert_true(drv_add(&B.drv, d, 60, true) >= 0);
	}
	migrate_begin(false);
	while (n < 20 && vq_pop(&B.vq, &c[n]) == 1)
		n++;
	assert_int_equal(n, 20);
	for (unsigned int i = 0; i < n; i++) {
		for (unsigned int k = 0; k < c[i].n_in; k++)
			memset(c[i].iov[k].base, (int)i, c[i].iov[k].len);
		vq_push(&B.vq, c[i].head, c[i].in_len);
	}
	vq_publish(&B.vq);
	assert_true(LOG.fallbacks >= 1);
	assert_int_equal(migrate_end(false), 0);
	assert_int_equal(bits_set(), MEM / PG);
	free(c);
}

/* Logging turned on, off and onto another log while the ring runs. */
static void test_log_switch_while_running(void **state)
{
	struct vq_dirty_log other = { 0 };
	uint8_t *ob = calloc(1, LOG_LEN);
	struct sw_frame f;
	size_t o;

	(void)state;
	assert_non_null(ob);
	rx_setup(false, true);
	other.bits = ob;
	other.len = LOG_LEN;
	vq_log_attach(&B.vq, &LOG, &LQ);
	o = rx_post(false, 1, 2048);
	make_frame(&f, 100, 8);
	assert_int_equal(vnet_rx_frame(&RQ, &f, &ST), 0);
	vnet_rx_flush(&RQ);
	assert_true(bit(H_GPA + o));
	memset(logbuf, 0, LOG.len);
	vq_log_attach(&B.vq, &other, &LQ);	/* a new SET_LOG_BASE */
	o = rx_post(false, 1, 2048);
	assert_int_equal(vnet_rx_frame(&RQ, &f, &ST), 0);
	vnet_rx_flush(&RQ);
	assert_int_equal(bits_set(), 0);
	assert_true((ob[(H_GPA + o) / PG / 8] >> ((H_GPA + o) / PG % 8)) & 1);
	vq_log_attach(&B.vq, NULL, NULL);	/* LOG_ALL cleared */
	memset(ob, 0, LOG_LEN);
	rx_post(false, 1, 2048);
	assert_int_equal(vnet_rx_frame(&RQ, &f, &ST), 0);
	vnet_rx_flush(&RQ);
	for (uint64_t i = 0; i < LOG_LEN; i++)
		assert_int_equal(ob[i], 0);
	free(ob);
}

/* The writer alone: bit order, page spans, and the bound. */
static void test_log_range_bits(void **state)
{
	(void)state;
	memset(logbuf, 0, LOG.len);
	vq_log_range(&LOG, 0, 1);
	assert_int_equal(logbuf[0], 1);
	vq_log_range(&LOG, 9 * PG + 4095, 2);	/* pages 9 and 10 */
	assert_int_equal(logbuf[1], 0x06);
	vq_log_range(&LOG, 7 * PG, 0);		/* nothing */
	assert_int_equal(logbuf[0], 1);
	vq_log_range(&LOG, (LOG.len * 8 - 1) * PG, 3 * PG);	/* 1 in, 2 out */
	assert_int_equal(logbuf[LOG.len - 1], 0x80);
	assert_int_equal(LOG.misses, 2);
	vq_log_range(&LOG, UINT64_MAX - 10, 100);	/* wraps: saturates */
	assert_int_equal(logbuf[LOG.len], 0x5a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_split_logged, up, down),
		cmocka_unit_test_setup_teardown(test_packed_logged, up, down),
		cmocka_unit_test_setup_teardown(test_split_unlogged_caught, up, down),
		cmocka_unit_test_setup_teardown(test_packed_unlogged_caught, up, down),
		cmocka_unit_test_setup_teardown(test_unpop_not_logged, up, down),
		cmocka_unit_test_setup_teardown(test_log_too_small, up, down),
		cmocka_unit_test_setup_teardown(test_overflow_logs_all, up, down),
		cmocka_unit_test_setup_teardown(test_log_switch_while_running, up, down),
		cmocka_unit_test_setup_teardown(test_log_range_bits, up, down),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
