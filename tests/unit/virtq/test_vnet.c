/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of virtio-net framing (drivers/virtq/vnet.c): a guest posts
 * TX chains laid out the ways real drivers (and hostile ones) do, the
 * device turns them into sw_frames; the device copies frames into the
 * guest's RX buffers, merged or not, and the guest checks every byte.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "harness.h"
#include "vnet.h"

#define MEM (4u << 20)

static struct pair A, B;
static struct vnet_txq TQ;
static struct vnet_rxq RQ;
static struct vnet_stats ST;

static void reset_globals(void)
{
	memset(&TQ, 0, sizeof(TQ));
	memset(&RQ, 0, sizeof(RQ));
	memset(&ST, 0, sizeof(ST));
}

static int up(uint16_t size, uint16_t hdr_len, bool mrg)
{
	int rc;

	reset_globals();
	rc = pair_open(&A, MEM, size, true, true);
	if (rc)
		return rc;
	rc = pair_open(&B, MEM, size, true, true);
	if (rc)
		return rc;
	TQ.vq = &A.vq;
	TQ.hdr_len = hdr_len;
	RQ.vq = &B.vq;
	RQ.hdr_len = hdr_len;
	RQ.mrg_rxbuf = mrg;
	return 0;
}

static int up12(void **state) { (void)state; return up(256, 12, false); }
static int up10(void **state) { (void)state; return up(256, 10, false); }
static int up12m(void **state) { (void)state; return up(256, 12, true); }
static int up10m(void **state) { (void)state; return up(256, 10, true); }

static int down(void **state)
{
	(void)state;
	pair_close(&A);
	pair_close(&B);
	return 0;
}

static uint8_t pat(size_t i, unsigned int seed)
{
	return (uint8_t)(i * 7 + seed * 13 + (i >> 8));
}

/*
 * Post a TX chain carrying hdr_len bytes of (garbage) header then a frame
 * of len pattern bytes, cut into descriptors at the given offsets into
 * header + frame.  Returns the head.
 */
static int tx_post(struct pair *p, size_t len, unsigned int seed,
		   const size_t *cuts, unsigned int ncuts, bool indirect)
{
	size_t total = TQ.hdr_len + len;
	size_t o = pair_buf(p, total ? total : 1);
	uint8_t *b = drv_ptr(&p->m, o);
	struct drv_buf d[DRV_INDIRECT_MAX];
	size_t at = 0;
	unsigned int n = 0;

	memset(b, 0xee, TQ.hdr_len);	/* we must never look at it */
	for (size_t i = 0; i < len; i++)
		b[TQ.hdr_len + i] = pat(i, seed);
	for (unsigned int k = 0; k <= ncuts; k++) {
		size_t end = cuts && k < ncuts ? cuts[k] : total;

		d[n].gpa = drv_gpa(&p->m, o + at);
		d[n].len = (uint32_t)(end - at);
		d[n].write = false;
		n++;
		at = end;
	}
	return drv_add(&p->drv, d, n, indirect);
}

/* Check that f holds frame (len, seed) and its Ethernet header copy. */
static void check_frame(const struct sw_frame *f, size_t len, unsigned int seed)
{
	size_t at = 0;

	assert_int_equal(f->len, len);
	for (unsigned int i = 0; i < SW_ETH_HLEN; i++)
		assert_int_equal(f->eth[i], pat(i, seed));
	for (unsigned int s = 0; s < f->nseg; s++) {
		assert_true(f->seg[s].len > 0);
		for (uint32_t i = 0; i < f->seg[s].len; i++, at++)
			assert_int_equal(f->seg[s].base[i], pat(at, seed));
	}
	assert_int_equal(at, len);
}

/* After tx_done, the guest gets head back with 0 bytes written. */
static void expect_used(struct pair *p, int head, uint32_t want_len)
{
	uint32_t len;

	assert_int_equal(drv_get_used(&p->drv, &len), head);
	assert_int_equal(len, want_len);
}

/* ---- transmit ---- */

static void tx_layouts(void)
{
	unsigned int h = TQ.hdr_len;
	const size_t one[1] = { 0 };
	const size_t sep[1] = { h };
	const size_t inhdr[3] = { 3, 7, h + 100 };
	const size_t shared[2] = { h + 5, h + 6 };	/* hdr + 5 bytes of eth */
	const size_t eth[6] = { h, h + 1, h + 2, h + 6, h + 13, h + 14 };
	struct {
		const size_t *cuts;
		unsigned int n;
		bool ind;
	} L[] = {
		{ one, 0, false },	/* header + frame in one descriptor */
		{ sep, 1, false },	/* header in its own descriptor */
		{ inhdr, 3, false },	/* header itself split */
		{ shared, 2, false },
		{ eth, 6, false },	/* Ethernet header in 1-byte bits */
		{ sep, 1, true },
		{ eth, 6, true },
		{ inhdr, 3, true },
	};
	struct sw_frame f[4];

	(void)one;
	for (unsigned int i = 0; i < sizeof(L) / sizeof(L[0]); i++) {
		size_t len = 60 + 97 * i;
		int head = tx_post(&A, len, i, L[i].cuts, L[i].n, L[i].ind);

		assert_true(head >= 0);
		assert_int_equal(vnet_tx_burst(&TQ, f, 4, &ST), 1);
		check_frame(&f[0], len, i);
		assert_int_equal(TQ.npending, 1);
		vnet_tx_done(&TQ);
		expect_used(&A, head, 0);
	}
	assert_int_equal(ST.tx_runt + ST.tx_oversize + ST.tx_too_many_segs, 0);
	assert_false(A.vq.broken);
}

static void test_tx_layouts12(void **state) { (void)state; tx_layouts(); }
static void test_tx_layouts10(void **state) { (void)state; tx_layouts(); }

static void test_tx_burst(void **state)
{
	struct sw_frame f[4];
	int head[6];

	(void)state;
	for (unsigned int i = 0; i < 6; i++)
		head[i] = tx_post(&A, 100 + i, i, NULL, 0, false);
	assert_int_equal(vnet_tx_burst(&TQ, f, 4, &ST), 4);
	for (unsigned int i = 0; i < 4; i++)
		check_frame(&f[i], 100 + i, i);
	/* Nothing returned before done; done returns all, notifies once. */
	assert_int_equal(A.drv.used->idx, 0);
	assert_true(vnet_tx_done(&TQ));
	for (unsigned int i = 0; i < 4; i++)
		expect_used(&A, head[i], 0);
	assert_int_equal(vnet_tx_burst(&TQ, f, 4, &ST), 2);
	check_frame(&f[0], 104, 4);
	check_frame(&f[1], 105, 5);
	vnet_tx_done(&TQ);
	expect_used(&A, head[4], 0);
	expect_used(&A, head[5], 0);
	assert_int_equal(vnet_tx_burst(&TQ, f, 4, &ST), 0);
	assert_false(vnet_tx_done(&TQ));	/* nothing to say */
}

static void test_tx_eth_is_a_copy(void **state)
{
	struct sw_frame f;
	const size_t cut[1] = { 12 + 3 };

	(void)state;
	tx_post(&A, 64, 1, cut, 1, false);
	assert_int_equal(vnet_tx_burst(&TQ, &f, 1, &ST), 1);
	/* The guest rewrites its frame after we looked: our copy holds. */
	memset((uint8_t *)f.seg[0].base - 3, 0xab, 3);
	memset((uint8_t *)f.seg[1].base, 0xab, 20);
	for (unsigned int i = 0; i < SW_ETH_HLEN; i++)
		assert_int_equal(f.eth[i], pat(i, 1));
	vnet_tx_done(&TQ);
}

/* Post one TX chain of header + data, the frame cut once at cut (0: no cut). */
static void tx_post_bytes(struct pair *p, const uint8_t *data, size_t len, size_t cut)
{
	size_t total = TQ.hdr_len + len;
	size_t o = pair_buf(p, total);
	struct drv_buf d[2];
	unsigned int n = 0;

	memset(drv_ptr(&p->m, o), 0xee, TQ.hdr_len);
	memcpy(drv_ptr(&p->m, o + TQ.hdr_len), data, len);
	if (cut) {
		d[n++] = (struct drv_buf){ drv_gpa(&p->m, o), (uint32_t)(TQ.hdr_len + cut), false };
		o += TQ.hdr_len + cut;
		total -= TQ.hdr_len + cut;
	}
	d[n++] = (struct drv_buf){ drv_gpa(&p->m, o), (uint32_t)total, false };
	assert_true(drv_add(&p->drv, d, n, false) >= 0);
}

/* An Ethernet + IPv4 (or IPv6) + TCP frame between two fixed hosts. */
static size_t tcp_frame(uint8_t *b, bool v6, bool vlan, uint16_t sport, bool frag)
{
	static const uint8_t macs[12] = { 2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1 };
	size_t o = 12;

	memset(b, 0, 128);
	memcpy(b, macs, 12);
	if (vlan) {
		b[o] = 0x81; b[o + 1] = 0x00; b[o + 3] = 5;
		o += 4;
	}
	b[o] = v6 ? 0x86 : 0x08; b[o + 1] = v6 ? 0xdd : 0x00;
	o += 2;
	if (v6) {
		b[o] = 0x60; b[o + 6] = 6;
		b[o + 23] = 1; b[o + 39] = 2;	/* ::1 -> ::2 */
		o += 40;
	} else {
		b[o] = 0x45; b[o + 9] = 6;
		if (frag)
			b[o + 6] = 0x20;	/* more fragments */
		b[o + 12] = 10; b[o + 15] = 1; b[o + 16] = 10; b[o + 19] = 2;
		o += 20;
	}
	b[o] = (uint8_t)(sport >> 8); b[o + 1] = (uint8_t)sport;
	b[o + 2] = 0x14; b[o + 3] = 0x51;	/* 5201 */
	return 128;
}

/*
 * The flow hash: TCP streams between the same two hosts (so the same
 * MACs) spread over two rings, whatever their framing; the same stream
 * keeps its hash however the chain is cut; fragments and non-IP frames
 * hash their addresses only.
 */
static void test_tx_flow_hash(void **state)
{
	uint8_t b[128];
	struct sw_frame f;
	unsigned int odd[4] = { 0 };

	(void)state;
	for (unsigned int kind = 0; kind < 4; kind++) {
		for (uint16_t port = 40000; port < 40032; port += 2) {
			size_t len = tcp_frame(b, kind & 1, kind & 2, port, false);
			uint32_t whole;

			tx_post_bytes(&A, b, len, 0);
			assert_int_equal(vnet_tx_burst(&TQ, &f, 1, &ST), 1);
			whole = sw_frame_flow(&f);
			vnet_tx_done(&TQ);
			tx_post_bytes(&A, b, len, 15);	/* header split mid-way */
			assert_int_equal(vnet_tx_burst(&TQ, &f, 1, &ST), 1);
			assert_int_equal(sw_frame_flow(&f), whole);
			vnet_tx_done(&TQ);
			odd[kind] += whole & 1;
		}
		/* 16 streams, even ports: both rings of two get some. */
		assert_true(odd[kind] > 0 && odd[kind] < 16);
	}
	for (unsigned int kind = 0; kind < 2; kind++) {
		uint32_t first = 0;

		for (uint16_t port = 1; port < 5; port++) {
			size_t len = tcp_frame(b, false, false, port, true);

			if (kind)
				b[12] = 0x88, b[13] = 0xb5;	/* not IP: the MACs */
			tx_post_bytes(&A, b, len, 0);
			assert_int_equal(vnet_tx_burst(&TQ, &f, 1, &ST), 1);
			if (port == 1)
				first = sw_frame_flow(&f);
			assert_int_equal(sw_frame_flow(&f), first);
			vnet_tx_done(&TQ);
		}
	}
}

static void test_tx_bad_len(void **state)
{
	struct sw_frame f[8];
	const size_t hdr_only[1] = { 12 };
	int h[7];

	(void)state;
	h[0] = tx_post(&A, 13, 0, NULL, 0, false);	/* runt */
	h[1] = tx_post(&A, 0, 0, hdr_only, 0, false);	/* header only */
	h[2] = tx_post(&A, 14, 2, NULL, 0, false);	/* smallest frame */
	h[3] = tx_post(&A, VNET_MAX_FRAME, 3, NULL, 0, false);
	h[4] = tx_post(&A, VNET_MAX_FRAME + 1, 4, NULL, 0, false);
	/* Shorter than the virtio-net header itself. */
	{
		size_t o = pair_buf(&A, 8);
		struct drv_buf b = { drv_gpa(&A.m, o), 8, false };

		h[5] = drv_add(&A.drv, &b, 1, false);
	}
	h[6] = tx_post(&A, 200, 6, NULL, 0, false);
	assert_int_equal(vnet_tx_burst(&TQ, f, 8, &ST), 3);
	check_frame(&f[0], 14, 2);
	check_frame(&f[1], VNET_MAX_FRAME, 3);
	check_frame(&f[2], 200, 6);
	assert_int_equal(ST.tx_runt, 3);
	assert_int_equal(ST.tx_oversize, 1);
	/* Rejected chains go back with the frames, all in pop order (IN_ORDER). */
	assert_int_equal(TQ.npending, 7);
	vnet_tx_done(&TQ);
	for (int i = 0; i < 7; i++)
		expect_used(&A, h[i], 0);
	assert_false(A.vq.broken);
}

/* A flood of rejects cannot keep one call busy for the whole ring. */
static void test_tx_reject_budget(void **state)
{
	struct sw_frame f[4];

	(void)state;
	for (int i = 0; i < 200; i++)
		tx_post(&A, 5, 0, NULL, 0, false);
	tx_post(&A, 100, 7, NULL, 0, false);
	/* Each call stops when its pending list (rejects too) is full. */
	for (int call = 0; call < 3; call++) {
		assert_int_equal(vnet_tx_burst(&TQ, f, 4, &ST), 0);
		assert_int_equal(ST.tx_runt, 64 * (call + 1));
		vnet_tx_done(&TQ);
	}
	assert_int_equal(vnet_tx_burst(&TQ, f, 4, &ST), 1);
	assert_int_equal(ST.tx_runt, 200);
	check_frame(&f[0], 100, 7);
	vnet_tx_done(&TQ);
	assert_int_equal(A.drv.used->idx, 201);
}

static void test_tx_too_many_segs(void **state)
{
	size_t cuts[DRV_INDIRECT_MAX];
	struct sw_frame f[4];
	int h[3];

	(void)state;
	/* Header + 32 frame segments: fine.  Header + 33: too many. */
	for (unsigned int i = 0; i < 33; i++)
		cuts[i] = 12 + 2 * i;
	h[0] = tx_post(&A, 2 * 31 + 50, 0, cuts, 32, true);
	h[1] = tx_post(&A, 2 * 32 + 50, 1, cuts, 33, true);
	/* 65 descriptors (ring chain + indirect): vq_pop's -EMSGSIZE. */
	{
		size_t o = pair_buf(&A, 4096);
		size_t t = drv_mem_alloc(&A.m, 16 * 64, 16);

		for (unsigned int i = 0; i < 64; i++) {
			volatile struct vring_desc *d = drv_ptr(&A.m, t + 16 * i);

			d->addr = drv_gpa(&A.m, o + 16 * i);
			d->len = 16;
			d->flags = i < 63 ? VRING_DESC_F_NEXT : 0;
			d->next = (uint16_t)(i + 1);
		}
		/* Descriptors 200, 201 are not used by drv_add this early. */
		pair_desc(&A, 200, drv_gpa(&A.m, o), 12, VRING_DESC_F_NEXT, 201);
		pair_desc(&A, 201, drv_gpa(&A.m, t), 16 * 64, VRING_DESC_F_INDIRECT, 0);
		drv_post_head(&A.drv, 200);
		h[2] = 200;
	}
	assert_int_equal(vnet_tx_burst(&TQ, f, 4, &ST), 1);
	check_frame(&f[0], 2 * 31 + 50, 0);
	assert_int_equal(f[0].nseg, 32);
	assert_int_equal(ST.tx_too_many_segs, 2);
	assert_int_equal(ST.tx_runt + ST.tx_oversize, 0);
	assert_false(A.vq.broken);
	vnet_tx_done(&TQ);
	/* In pop order (IN_ORDER): the frame, then the two rejects. */
	assert_int_equal(A.drv.used->ring[0].id, h[0]);
	assert_int_equal(A.drv.used->ring[1].id, h[1]);
	assert_int_equal(A.drv.used->ring[2].id, 200);
	assert_int_equal(A.drv.used->idx, 3);
}

static void test_tx_writable(void **state)
{
	size_t o = pair_buf(&A, 256);
	struct drv_buf b[2] = {
		{ drv_gpa(&A.m, o), 100, false },
		{ drv_gpa(&A.m, o + 100), 100, true },
	};
	struct sw_frame f[4];

	(void)state;
	tx_post(&A, 100, 0, NULL, 0, false);
	drv_add(&A.drv, b, 2, false);
	assert_int_equal(vnet_tx_burst(&TQ, f, 4, &ST), 0);
	assert_true(A.vq.broken);
	assert_non_null(strstr(A.vq.why, "writable descriptor in a TX chain"));
	/* A broken queue is left alone. */
	assert_false(vnet_tx_done(&TQ));
	assert_int_equal(A.drv.used->idx, 0);
	assert_int_equal(vnet_tx_burst(&TQ, f, 4, &ST), 0);
}

static void test_tx_not_set_up(void **state)
{
	struct sw_frame f[1];

	(void)state;
	vq_reset(&A.vq);
	assert_int_equal(vnet_tx_burst(&TQ, f, 1, &ST), 0);
	assert_false(vnet_tx_done(&TQ));
}

/* ---- receive ---- */

/* A frame of len pattern bytes in local memory, cut into nseg segments. */
static uint8_t src_buf[VNET_MAX_FRAME + 64];

/* The same in src, a buffer of the caller's (frames that coexist). */
static void make_frame_in(struct sw_frame *f, uint8_t *src, size_t len,
			  unsigned int seed, unsigned int nseg)
{
	size_t at = 0;

	for (size_t i = 0; i < len; i++)
		src[i] = pat(i, seed);
	memset(f, 0, sizeof(*f));
	f->len = (uint32_t)len;
	memcpy(f->eth, src, SW_ETH_HLEN);
	for (unsigned int s = 0; s < nseg; s++) {
		size_t end = s + 1 < nseg ? len * (s + 1) / nseg : len;

		f->seg[s].base = src + at;
		f->seg[s].len = (uint32_t)(end - at);
		at = end;
	}
	f->nseg = (uint16_t)nseg;
}

static void make_frame(struct sw_frame *f, size_t len, unsigned int seed,
		       unsigned int nseg)
{
	make_frame_in(f, src_buf, len, seed, nseg);
}

/* Post an RX chain of n writable descriptors of each bytes; its head. */
static int rx_post(struct pair *p, unsigned int n, uint32_t each, size_t *off)
{
	size_t o = pair_buf(p, (size_t)n * each);
	struct drv_buf d[DRV_INDIRECT_MAX];

	for (unsigned int i = 0; i < n; i++) {
		d[i].gpa = drv_gpa(&p->m, o + (size_t)i * each);
		d[i].len = each;
		d[i].write = true;
	}
	memset(drv_ptr(&p->m, o), 0xcc, (size_t)n * each);
	if (off)
		*off = o;
	return drv_add(&p->drv, d, n, n > 1);
}

/* The virtio-net header at b: all zero but num_buffers. */
static void check_hdr(const uint8_t *b, uint16_t hdr_len, uint16_t nbufs)
{
	for (unsigned int i = 0; i < 10; i++)
		assert_int_equal(b[i], 0);
	if (hdr_len == 12) {
		assert_int_equal(b[10], nbufs & 0xff);
		assert_int_equal(b[11], nbufs >> 8);
	}
}

static void check_pattern(const uint8_t *b, size_t from, size_t n,
			  unsigned int seed)
{
	for (size_t i = 0; i < n; i++)
		assert_int_equal(b[i], pat(from + i, seed));
}

static void rx_simple(void)
{
	uint16_t h = RQ.hdr_len;
	struct sw_frame f;
	size_t o;
	int head;

	head = rx_post(&B, 1, 1518 + h, &o);
	make_frame(&f, 1000, 3, 3);
	assert_int_equal(vnet_rx_frame(&RQ, &f, &ST), 0);
	assert_int_equal(B.drv.used->idx, 0);		/* not before flush */
	assert_true(vnet_rx_flush(&RQ));
	expect_used(&B, head, h + 1000);
	check_hdr(drv_ptr(&B.m, o), h, 1);
	check_pattern(drv_ptr(&B.m, o + h), 0, 1000, 3);
	assert_int_equal(*(uint8_t *)drv_ptr(&B.m, o + h + 1000), 0xcc);
}

static void test_rx_simple12(void **state) { (void)state; rx_simple(); }
static void test_rx_simple10(void **state) { (void)state; rx_simple(); }

static void test_rx_too_small_nomrg(void **state)
{
	struct sw_frame f;
	size_t o;
	int head;

	(void)state;
	head = rx_post(&B, 1, 100, &o);
	make_frame(&f, 200, 1, 1);
	assert_int_equal(vnet_rx_frame(&RQ, &f, &ST), -EMSGSIZE);
	assert_int_equal(ST.rx_too_big, 1);
	/* Untouched and still there for a frame that fits. */
	assert_int_equal(vq_avail_count(&B.vq), 1);
	assert_int_equal(*(uint8_t *)drv_ptr(&B.m, o), 0xcc);
	make_frame(&f, 88, 2, 1);
	assert_int_equal(vnet_rx_frame(&RQ, &f, &ST), 0);
	vnet_rx_flush(&RQ);
	expect_used(&B, head, 100);
	check_pattern(drv_ptr(&B.m, o + 12), 0, 88, 2);
}

/*
 * vnet_rx_burst(): frames in order; no buffer is a result and the run
 * goes on; too big or offload work the queue does not take ends the call
 * after that frame, so the caller deals with it before the rest.
 */
static void test_rx_burst(void **state)
{
	struct sw_frame f[4];
	unsigned int sent = 9, passed = 9;
	int rc[4], head[3];

	(void)state;
	for (int i = 0; i < 3; i++)
		head[i] = rx_post(&B, 1, 1518 + 12, NULL);
	make_frame(&f[0], 100, 1, 1);
	f[1] = f[0];
	f[1].len = f[1].seg[0].len = 200;
	f[1].off = (struct sw_offload){ .flags = SW_OFF_CSUM, .csum_start = 34,
					.csum_offset = 16 };
	f[2] = f[0];
	f[2].len = f[2].seg[0].len = 1600;		/* no buffer holds it */
	f[3] = f[0];
	RQ.off_caps = OFF_CAP_CSUM;
	assert_int_equal(vnet_rx_burst(&RQ, f, 4, &ST, rc, &sent, &passed), 3);
	assert_int_equal(rc[0], 0);
	assert_int_equal(rc[1], 0);
	assert_int_equal(rc[2], -EMSGSIZE);
	assert_int_equal(sent, 2);
	assert_int_equal(passed, 1);
	/* the rest: one buffer left for two frames */
	assert_int_equal(vnet_rx_burst(&RQ, f + 3, 1, &ST, rc, &sent, &passed), 1);
	assert_int_equal(rc[0], 0);
	assert_int_equal(vnet_rx_burst(&RQ, f, 2, &ST, rc, &sent, &passed), 2);
	assert_int_equal(rc[0], -ENOBUFS);
	assert_int_equal(rc[1], -ENOBUFS);
	assert_int_equal(sent, 0);
	assert_int_equal(ST.rx_no_buffer, 2);
	assert_true(vnet_rx_flush(&RQ));
	expect_used(&B, head[0], 12 + 100);
	expect_used(&B, head[1], 12 + 200);
	expect_used(&B, head[2], 12 + 100);
	/* offload work the queue does not take: it stops there */
	rx_post(&B, 1, 1518 + 12, NULL);
	RQ.off_caps = 0;
	assert_int_equal(vnet_rx_burst(&RQ, f + 1, 3, &ST, rc, &sent, &passed), 1);
	assert_int_equal(rc[0], -EOPNOTSUPP);
	assert_int_equal(sent, 0);
	assert_int_equal(vq_avail_count(&B.vq), 1);
}

/*
 * vnet_rx_burst() takes the buffers of a run of plain frames before it
 * fills any (rx_run): a buffer too small for the next frame goes back
 * and that frame takes it with the next one, merged; the run then goes
 * on, and the frame with no buffer left gets -ENOBUFS.  Every frame
 * lands whole, in order, where it should.
 */
static void test_rx_run(void **state)
{
	static uint8_t src[4][128];
	static const uint32_t bl[4] = { 1530, 50, 1530, 1530 };
	static const size_t fl[4] = { 100, 100, 60, 70 };
	struct sw_frame f[4];
	unsigned int sent = 9, passed = 9;
	int rc[4], head[5];
	size_t o[5];

	(void)state;
	for (int i = 0; i < 4; i++) {
		head[i] = rx_post(&B, 1, bl[i], &o[i]);
		make_frame_in(&f[i], src[i], fl[i], (unsigned int)i + 1, 1);
	}
	/* 0 into buffer 0; 1 into 1 and 2, merged; 2 into 3; 3 finds none */
	assert_int_equal(vnet_rx_burst(&RQ, f, 4, &ST, rc, &sent, &passed), 4);
	assert_int_equal(rc[0], 0);
	assert_int_equal(rc[1], 0);
	assert_int_equal(rc[2], 0);
	assert_int_equal(rc[3], -ENOBUFS);
	assert_int_equal(sent, 3);
	assert_int_equal(passed, 0);
	assert_true(vnet_rx_flush(&RQ));
	expect_used(&B, head[0], 12 + 100);
	expect_used(&B, head[1], 50);
	expect_used(&B, head[2], 12 + 100 - 50);
	expect_used(&B, head[3], 12 + 60);
	check_hdr(drv_ptr(&B.m, o[0]), 12, 1);
	check_pattern(drv_ptr(&B.m, o[0] + 12), 0, 100, 1);
	check_hdr(drv_ptr(&B.m, o[1]), 12, 2);
	check_pattern(drv_ptr(&B.m, o[1] + 12), 0, 50 - 12, 2);
	check_pattern(drv_ptr(&B.m, o[2]), 50 - 12, 100 - 50 + 12, 2);
	check_hdr(drv_ptr(&B.m, o[3]), 12, 1);
	check_pattern(drv_ptr(&B.m, o[3] + 12), 0, 60, 3);
	assert_int_equal(*(uint8_t *)drv_ptr(&B.m, o[3] + 12 + 60), 0xcc);
	/* frame 3 again, with a buffer this time */
	head[4] = rx_post(&B, 1, 1530, &o[4]);
	assert_int_equal(vnet_rx_burst(&RQ, f + 3, 1, &ST, rc, &sent, &passed), 1);
	assert_int_equal(rc[0], 0);
	vnet_rx_flush(&RQ);
	expect_used(&B, head[4], 12 + 70);
	check_hdr(drv_ptr(&B.m, o[4]), 12, 1);
	check_pattern(drv_ptr(&B.m, o[4] + 12), 0, 70, 4);
}

static void test_rx_no_buffer(void **state)
{
	struct sw_frame f;

	(void)state;
	make_frame(&f, 60, 0, 1);
	assert_int_equal(vnet_rx_frame(&RQ, &f, &ST), -ENOBUFS);
	assert_int_equal(ST.rx_no_buffer, 1);
	assert_false(vnet_rx_flush(&RQ));
}

static void test_rx_too_big(void **state)
{
	struct sw_frame f;

	(void)state;
	rx_post(&B, 1, 65536, NULL);
	make_frame(&f, VNET_MAX_FRAME + 1, 0, 2);
	assert_int_equal(vnet_rx_frame(&RQ, &f, &ST), -EMSGSIZE);
	assert_int_equal(ST.rx_too_big, 1);
	make_frame(&f, VNET_MAX_FRAME, 0, 2);
	assert_int_equal(vnet_rx_frame(&RQ, &f, &ST), 0);
}

static void test_rx_scattered_chain(void **state)
{
	struct sw_frame f;
	size_t o;
	int head;

	(void)state;
	/* 40 descriptors of 37 bytes: header split over descriptors. */
	head = rx_post(&B, 40, 37, &o);
	make_frame(&f, 1300, 5, 7);
	assert_int_equal(vnet_rx_frame(&RQ, &f, &ST), 0);
	vnet_rx_flush(&RQ);
	expect_used(&B, head, 12 + 1300);
	check_hdr(drv_ptr(&B.m, o), 12, 1);
	check_pattern(drv_ptr(&B.m, o + 12), 0, 1300, 5);
}

static void test_rx_mrg(void **state)
{
	struct sw_frame f;
	size_t o[4];
	int h[4];

	(void)state;
	for (int i = 0; i < 4; i++)
		h[i] = rx_post(&B, 1, 512, &o[i]);
	make_frame(&f, 1500, 9, 4);
	assert_int_equal(vnet_rx_frame(&RQ, &f, &ST), 0);
	assert_true(vnet_rx_flush(&RQ));
	/* 12 + 1500 = 512 + 512 + 488. */
	expect_used(&B, h[0], 512);
	expect_used(&B, h[1], 512);
	expect_used(&B, h[2], 488);
	check_hdr(drv_ptr(&B.m, o[0]), 12, 3);
	check_pattern(drv_ptr(&B.m, o[0] + 12), 0, 500, 9);
	check_pattern(drv_ptr(&B.m, o[1]), 500, 512, 9);
	check_pattern(drv_ptr(&B.m, o[2]), 1012, 488, 9);
	assert_int_equal(vq_avail_count(&B.vq), 1);
	/* A small one fits in the last buffer alone. */
	make_frame(&f, 60, 1, 1);
	assert_int_equal(vnet_rx_frame(&RQ, &f, &ST), 0);
	vnet_rx_flush(&RQ);
	expect_used(&B, h[3], 72);
	check_hdr(drv_ptr(&B.m, o[3]), 12, 1);
}

static void test_rx_mrg_multi_desc(void **state)
{
	struct sw_frame f;
	size_t o[3];
	int h[3];

	(void)state;
	for (int i = 0; i < 3; i++)
		h[i] = rx_post(&B, 3, 100, &o[i]);
	make_frame(&f, 500, 2, 2);
	assert_int_equal(vnet_rx_frame(&RQ, &f, &ST), 0);
	vnet_rx_flush(&RQ);
	expect_used(&B, h[0], 300);
	expect_used(&B, h[1], 212);
	check_hdr(drv_ptr(&B.m, o[0]), 12, 2);
	check_pattern(drv_ptr(&B.m, o[0] + 12), 0, 288, 2);
	check_pattern(drv_ptr(&B.m, o[1]), 288, 212, 2);
	(void)h[2];
}

static void test_rx_mrg_rollback(void **state)
{
	struct sw_frame f;
	size_t o[3];
	int h[3];

	uint16_t base;

	(void)state;
	base = vq_base(&B.vq);
	h[0] = rx_post(&B, 1, 512, &o[0]);
	h[1] = rx_post(&B, 1, 512, &o[1]);
	make_frame(&f, 1500, 4, 1);
	assert_int_equal(vnet_rx_frame(&RQ, &f, &ST), -ENOBUFS);
	assert_int_equal(ST.rx_no_buffer, 1);
	assert_int_equal(vq_avail_count(&B.vq), 2);
	/*
	 * A ring stopped now (GET_VRING_BASE, a migration's hand-over)
	 * reports neither half-taken buffer as used: the destination gets
	 * both again and the frame is not delivered twice.
	 */
	assert_int_equal(vq_base(&B.vq), base);
	assert_int_equal(B.drv.used->idx, 0);
	assert_false(vnet_rx_flush(&RQ));
	assert_int_equal(*(uint8_t *)drv_ptr(&B.m, o[0]), 0xcc);
	h[2] = rx_post(&B, 1, 512, &o[2]);
	assert_int_equal(vnet_rx_frame(&RQ, &f, &ST), 0);
	vnet_rx_flush(&RQ);
	expect_used(&B, h[0], 512);
	expect_used(&B, h[1], 512);
	expect_used(&B, h[2], 488);
	check_hdr(drv_ptr(&B.m, o[0]), 12, 3);
	assert_int_equal(vq_base(&B.vq), (uint16_t)(base + 3));
}

static void test_rx_mrg_too_many_buffers(void **state)
{
	struct sw_frame f;

	(void)state;
	/* 64 buffers of 16 bytes cannot hold 12 + 1100. */
	for (int i = 0; i < 70; i++)
		rx_post(&B, 1, 16, NULL);
	make_frame(&f, 1100, 0, 1);
	assert_int_equal(vnet_rx_frame(&RQ, &f, &ST), -EMSGSIZE);
	assert_int_equal(ST.rx_too_big, 1);
	assert_int_equal(vq_avail_count(&B.vq), 70);
	/* 64 * 16 - 12 = 1012 just fits. */
	make_frame(&f, 1012, 0, 1);
	assert_int_equal(vnet_rx_frame(&RQ, &f, &ST), 0);
	assert_int_equal(vq_avail_count(&B.vq), 6);
}

static void test_rx_mrg_hdr10(void **state)
{
	struct sw_frame f;

	(void)state;
	/* No num_buffers field: merging is impossible, one chain only. */
	rx_post(&B, 1, 512, NULL);
	rx_post(&B, 1, 512, NULL);
	make_frame(&f, 600, 0, 1);
	assert_int_equal(vnet_rx_frame(&RQ, &f, &ST), -EMSGSIZE);
	assert_int_equal(vq_avail_count(&B.vq), 2);
}

static void test_rx_readable(void **state)
{
	size_t o = pair_buf(&B, 256);
	struct drv_buf b[2] = {
		{ drv_gpa(&B.m, o), 100, false },
		{ drv_gpa(&B.m, o + 100), 100, true },
	};
	struct sw_frame f;

	(void)state;
	drv_add(&B.drv, b, 2, false);
	make_frame(&f, 60, 0, 1);
	assert_int_equal(vnet_rx_frame(&RQ, &f, &ST), -EIO);
	assert_true(B.vq.broken);
	assert_non_null(strstr(B.vq.why, "readable descriptor in an RX chain"));
	assert_int_equal(vnet_rx_frame(&RQ, &f, &ST), -EIO);
	assert_false(vnet_rx_flush(&RQ));
}

static void test_rx_msgsize_chain(void **state)
{
	size_t o = pair_buf(&B, 65 * 16);
	struct drv_buf d[DRV_INDIRECT_MAX];
	struct sw_frame f;
	int head;

	(void)state;
	/* 65 writable segments: 1 in the ring, 64 in an indirect table. */
	for (unsigned int i = 0; i < 64; i++) {
		d[i].gpa = drv_gpa(&B.m, o + 16 + 16 * i);
		d[i].len = 16;
		d[i].write = true;
	}
	head = drv_add(&B.drv, d, 64, true);
	B.drv.avail_idx--;	/* unpublish: we re-post it behind a desc */
	pair_desc(&B, 255, drv_gpa(&B.m, o), 16,
		  VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, (uint16_t)head);
	drv_post_head(&B.drv, 255);
	make_frame(&f, 60, 0, 1);
	assert_int_equal(vnet_rx_frame(&RQ, &f, &ST), -ENOBUFS);
	assert_false(B.vq.broken);
	vnet_rx_flush(&RQ);
	assert_int_equal(B.drv.used->ring[0].id, 255);
	assert_int_equal(B.drv.used->ring[0].len, 0);
}

/* ---- both ways: guest A's frames into guest B ---- */

static void test_roundtrip(void **state)
{
	const size_t cuts[3] = { 5, 12 + 7, 12 + 300 };
	struct sw_frame f[8];
	size_t o[16];
	unsigned int n;

	(void)state;
	for (int i = 0; i < 16; i++)
		rx_post(&B, 1, 1024, &o[i]);
	tx_post(&A, 1514, 0, cuts, 3, true);
	tx_post(&A, 60, 1, NULL, 0, false);
	tx_post(&A, 9000, 2, cuts, 3, false);
	n = vnet_tx_burst(&TQ, f, 8, &ST);
	assert_int_equal(n, 3);
	for (unsigned int i = 0; i < n; i++)
		assert_int_equal(vnet_rx_frame(&RQ, &f[i], &ST), 0);
	assert_true(vnet_tx_done(&TQ));
	assert_true(vnet_rx_flush(&RQ));
	/* Frame 0 takes buffers 0-1, frame 1 buffer 2, frame 2 buffers 3-11. */
	check_hdr(drv_ptr(&B.m, o[0]), 12, 2);
	check_pattern(drv_ptr(&B.m, o[0] + 12), 0, 1012, 0);
	check_pattern(drv_ptr(&B.m, o[1]), 1012, 502, 0);
	check_hdr(drv_ptr(&B.m, o[2]), 12, 1);
	check_pattern(drv_ptr(&B.m, o[2] + 12), 0, 60, 1);
	check_hdr(drv_ptr(&B.m, o[3]), 12, 9);
	for (int i = 0; i < 9; i++)
		check_pattern(drv_ptr(&B.m, o[3 + i] + (i ? 0 : 12)),
			      i ? 1012 + 1024 * (size_t)(i - 1) : 0,
			      i == 0 ? 1012 : i < 8 ? 1024 : 9000 - 1012 - 7 * 1024, 2);
	assert_int_equal(ST.rx_no_buffer + ST.rx_too_big + ST.tx_runt + ST.tx_oversize, 0);
}

/*
 * Not a pass/fail check: how fast frames go guest A -> guest B, guest
 * work included (posting, reaping), to spot a regression by eye.
 */
static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void rate(size_t len, unsigned int frames)
{
	size_t to = pair_buf(&A, 32 * (12 + len)), ro = pair_buf(&B, 32 * 2048);
	struct sw_frame f[32];
	unsigned int moved = 0;
	double t0 = now_s(), dt;
	uint32_t l;

	while (moved < frames) {
		unsigned int n;

		for (unsigned int i = 0; i < 32; i++) {
			struct drv_buf tb = { drv_gpa(&A.m, to + i * (12 + len)),
					      (uint32_t)(12 + len), false };
			struct drv_buf rb = { drv_gpa(&B.m, ro + i * 2048), 2048, true };

			assert_true(drv_add(&A.drv, &tb, 1, false) >= 0);
			assert_true(drv_add(&B.drv, &rb, 1, false) >= 0);
		}
		n = vnet_tx_burst(&TQ, f, 32, &ST);
		assert_int_equal(n, 32);
		for (unsigned int i = 0; i < n; i++)
			assert_int_equal(vnet_rx_frame(&RQ, &f[i], &ST), 0);
		vnet_tx_done(&TQ);
		vnet_rx_flush(&RQ);
		while (drv_get_used(&A.drv, &l) >= 0)
			;
		while (drv_get_used(&B.drv, &l) >= 0)
			;
		moved += n;
	}
	dt = now_s() - t0;
	print_message("%zu-byte frames: %.2f Mframes/s, %.2f Gbit/s (guest side included)\n",
		      len, moved / dt / 1e6, moved * len * 8 / dt / 1e9);
}

static void test_rate(void **state)
{
	(void)state;
	rate(60, 1u << 16);	/* warm-up: first touch of the rings */
	rate(60, 1u << 20);
	rate(1514, 1u << 18);
}

/* ---- offloads: the header read, checked, carried and written back ---- */

#define ALL_CAPS 0x3f

/* An IPv4/TCP frame of plen payload bytes at b; its length. */
static size_t tcp4(uint8_t *b, size_t plen)
{
	size_t len = 54 + plen;

	memset(b, 0, 54);
	memcpy(b, "\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00", 14);
	b[14] = 0x45;
	b[16] = (uint8_t)((len - 14) >> 8);
	b[17] = (uint8_t)(len - 14);
	b[23] = 6;
	b[46] = 5 << 4;
	for (size_t i = 0; i < plen; i++)
		b[54 + i] = pat(i, 9);
	return len;
}

static void put_hdr(uint8_t *h, uint8_t flags, uint8_t gso, uint16_t hdr_len,
		    uint16_t gso_size, uint16_t start, uint16_t off)
{
	const uint16_t v[4] = { hdr_len, gso_size, start, off };

	memset(h, 0, 12);
	h[0] = flags;
	h[1] = gso;
	for (int i = 0; i < 4; i++) {
		h[2 + 2 * i] = (uint8_t)v[i];
		h[3 + 2 * i] = (uint8_t)(v[i] >> 8);
	}
}

/* Post header + a TCP frame of plen payload bytes, cut at cut (0: none). */
static int tx_post_off(const uint8_t *h, size_t plen, size_t cut)
{
	size_t total = 12 + 54 + plen, o = pair_buf(&A, total);
	uint8_t *b = drv_ptr(&A.m, o);
	struct drv_buf d[2];
	unsigned int n = 1;

	memcpy(b, h, 12);
	tcp4(b + 12, plen);
	d[0] = (struct drv_buf){ drv_gpa(&A.m, o), (uint32_t)(cut ? cut : total), false };
	if (cut) {
		d[1] = (struct drv_buf){ drv_gpa(&A.m, o + cut), (uint32_t)(total - cut), false };
		n = 2;
	}
	return drv_add(&A.drv, d, n, false);
}

static void test_tx_offload(void **state)
{
	struct sw_frame f[8];
	uint8_t h[12];
	uint32_t l;

	(void)state;
	TQ.off_caps = ALL_CAPS;
	/* TSO, the header split over two descriptors */
	put_hdr(h, 1, 1, 0, 1448, 34, 16);
	tx_post_off(h, 30000, 5);
	/* a partial checksum only */
	put_hdr(h, 1, 0, 0, 0, 34, 16);
	tx_post_off(h, 100, 0);
	/* bad: csum_start past the end; TSO of 1-byte segments; TSOv6 on IPv4 */
	put_hdr(h, 1, 0, 0, 0, 200, 16);
	tx_post_off(h, 100, 0);
	put_hdr(h, 1, 1, 0, 1, 34, 16);
	tx_post_off(h, 3000, 0);
	put_hdr(h, 1, 4, 0, 1000, 34, 16);
	tx_post_off(h, 3000, 0);
	/* too large without GSO */
	put_hdr(h, 1, 0, 0, 0, 34, 16);
	tx_post_off(h, 10000, 0);
	assert_int_equal(vnet_tx_burst(&TQ, f, 8, &ST), 2);
	assert_int_equal(f[0].len, 54 + 30000);
	assert_int_equal(f[0].off.gso, SW_GSO_TCP4);
	assert_int_equal(f[0].off.flags, SW_OFF_CSUM);
	assert_int_equal(f[0].off.gso_size, 1448);
	assert_int_equal(f[0].off.hdr_len, 54);
	assert_int_equal(f[0].eth[13], 0);
	assert_int_equal(f[0].eth[12], 8);
	assert_int_equal(f[1].off.gso, SW_GSO_NONE);
	assert_int_equal(f[1].off.csum_start, 34);
	assert_int_equal(ST.off.in_gso, 1);
	assert_int_equal(ST.off.in_csum, 1);
	assert_int_equal(ST.off.bad[OFF_E_CSUM_RANGE], 1);
	assert_int_equal(ST.off.bad[OFF_E_GSO_SEGS], 1);
	assert_int_equal(ST.off.bad[OFF_E_GSO_PROTO], 1);
	assert_int_equal(ST.tx_oversize, 1);
	vnet_tx_done(&TQ);
	for (int i = 0; i < 6; i++)
		assert_true(drv_get_used(&A.drv, &l) >= 0);

	/* only CSUM negotiated: TSO is a bad claim, the header is read */
	TQ.off_caps = OFF_CAP_CSUM;
	put_hdr(h, 1, 1, 0, 1448, 34, 16);
	tx_post_off(h, 3000, 0);
	assert_int_equal(vnet_tx_burst(&TQ, f, 8, &ST), 0);
	assert_int_equal(ST.off.bad[OFF_E_GSO_TYPE], 1);
	vnet_tx_done(&TQ);
}

static void test_rx_offload(void **state)
{
	static uint8_t buf[40000];
	struct sw_frame f;
	const uint8_t *b;
	size_t o, o2;
	int head;
	uint32_t l;

	(void)state;
	memset(&f, 0, sizeof(f));
	f.len = (uint32_t)tcp4(buf, 30000);
	f.nseg = 1;
	f.seg[0] = (struct sw_seg){ buf, f.len };
	memcpy(f.eth, buf, SW_ETH_HLEN);
	f.off = (struct sw_offload){ .flags = SW_OFF_CSUM | SW_OFF_ECN,
				     .gso = SW_GSO_TCP4, .csum_start = 34,
				     .csum_offset = 16, .gso_size = 1448, .hdr_len = 54 };
	head = rx_post(&B, 1, 2048, &o);
	for (int i = 1; i < 20; i++)
		rx_post(&B, 1, 2048, i == 1 ? &o2 : NULL);
	/* a queue without the features: refused, nothing taken */
	RQ.off_caps = OFF_CAP_CSUM | OFF_CAP_TSO4;	/* no ECN */
	assert_int_equal(vnet_rx_frame(&RQ, &f, &ST), -EOPNOTSUPP);
	RQ.off_caps = ALL_CAPS;
	assert_int_equal(vnet_rx_frame(&RQ, &f, &ST), 0);
	vnet_rx_flush(&RQ);
	assert_int_equal(drv_get_used(&B.drv, &l), head);
	assert_int_equal(l, 2048);
	b = drv_ptr(&B.m, o);
	assert_int_equal(b[0], 1);			/* NEEDS_CSUM */
	assert_int_equal(b[1], 0x81);			/* TCPV4 | ECN */
	assert_int_equal(b[2] | b[3] << 8, 54);
	assert_int_equal(b[4] | b[5] << 8, 1448);
	assert_int_equal(b[6] | b[7] << 8, 34);
	assert_int_equal(b[8] | b[9] << 8, 16);
	assert_int_equal(b[10] | b[11] << 8, (30054 + 12 + 2047) / 2048);
	assert_memory_equal(b + 12, buf, 2048 - 12);
	assert_memory_equal(drv_ptr(&B.m, o2), buf + 2036, 2048);
	/* a plain frame still gets an all-zero header */
	memset(&f.off, 0, sizeof(f.off));
	f.len = f.seg[0].len = 60;
	assert_int_equal(vnet_rx_frame(&RQ, &f, &ST), 0);
	vnet_rx_flush(&RQ);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_tx_layouts12, up12, down),
		cmocka_unit_test_setup_teardown(test_tx_layouts10, up10, down),
		cmocka_unit_test_setup_teardown(test_tx_burst, up12, down),
		cmocka_unit_test_setup_teardown(test_tx_eth_is_a_copy, up12, down),
		cmocka_unit_test_setup_teardown(test_tx_flow_hash, up12, down),
		cmocka_unit_test_setup_teardown(test_tx_bad_len, up12, down),
		cmocka_unit_test_setup_teardown(test_tx_reject_budget, up12, down),
		cmocka_unit_test_setup_teardown(test_tx_too_many_segs, up12, down),
		cmocka_unit_test_setup_teardown(test_tx_writable, up12, down),
		cmocka_unit_test_setup_teardown(test_tx_not_set_up, up12, down),
		cmocka_unit_test_setup_teardown(test_rx_simple12, up12, down),
		cmocka_unit_test_setup_teardown(test_rx_simple10, up10, down),
		cmocka_unit_test_setup_teardown(test_rx_too_small_nomrg, up12, down),
		cmocka_unit_test_setup_teardown(test_rx_no_buffer, up12, down),
		cmocka_unit_test_setup_teardown(test_rx_burst, up12, down),
		cmocka_unit_test_setup_teardown(test_rx_run, up12m, down),
		cmocka_unit_test_setup_teardown(test_rx_too_big, up12m, down),
		cmocka_unit_test_setup_teardown(test_rx_scattered_chain, up12, down),
		cmocka_unit_test_setup_teardown(test_rx_mrg, up12m, down),
		cmocka_unit_test_setup_teardown(test_rx_mrg_multi_desc, up12m, down),
		cmocka_unit_test_setup_teardown(test_rx_mrg_rollback, up12m, down),
		cmocka_unit_test_setup_teardown(test_rx_mrg_too_many_buffers, up12m, down),
		cmocka_unit_test_setup_teardown(test_rx_mrg_hdr10, up10m, down),
		cmocka_unit_test_setup_teardown(test_rx_readable, up12m, down),
		cmocka_unit_test_setup_teardown(test_rx_msgsize_chain, up12, down),
		cmocka_unit_test_setup_teardown(test_roundtrip, up12m, down),
		cmocka_unit_test_setup_teardown(test_tx_offload, up12m, down),
		cmocka_unit_test_setup_teardown(test_rx_offload, up12m, down),
		cmocka_unit_test_setup_teardown(test_rate, up12m, down),
	};

	return cmocka_run_group_tests_name("virtq-vnet", tests, NULL, NULL);
}
