/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the software offloads (drivers/offload/off.c): claims
 * checked against frames, checksums completed and TCP/UDP frames over
 * IPv4 and IPv6 segmented.  Every checksum is verified with a separate,
 * deliberately plain big-endian implementation written here, and the
 * segments' payloads must add up to the original byte for byte.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "off.h"

#define ALL_CAPS (OFF_CAP_CSUM | OFF_CAP_TSO4 | OFF_CAP_TSO6 | OFF_CAP_ECN | \
		  OFF_CAP_USO4 | OFF_CAP_USO6)

/* ---- an independent checksum: 16-bit big-endian words, 32-bit sum ---- */

static uint32_t ref_add(uint32_t sum, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)p[i] * 256 + p[i + 1];
	if (n & 1)
		sum += (uint32_t)p[n - 1] * 256;
	return sum;
}

static uint16_t ref_fold(uint32_t sum)
{
	while (sum > 0xffff)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static uint32_t ref_pseudo(const uint8_t *ip, bool v6, uint8_t proto,
			   uint32_t l4len)
{
	uint32_t sum = v6 ? ref_add(0, ip + 8, 32) : ref_add(0, ip + 12, 8);

	return sum + proto + (l4len >> 16) + (l4len & 0xffff);
}

/* The L4 checksum over pseudo-header and segment verifies (sums to ~0). */
static void check_l4(const uint8_t *ip, bool v6, uint8_t proto,
		     const uint8_t *l4, uint32_t l4len)
{
	uint32_t sum = ref_pseudo(ip, v6, proto, l4len) + ref_add(0, l4, l4len);

	assert_int_equal(ref_fold(sum), 0xffff);
}

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* ---- frames as a Linux sender hands them over ---- */

struct pkt {
	uint8_t b[OFF_MAX_FRAME];
	uint32_t len, l3, l4, hdr;
	bool v6, tcp;
	struct sw_offload o;
};

static uint8_t pay(uint32_t i)
{
	return (uint8_t)(i * 31 + (i >> 9) + 5);
}

/*
 * Ethernet (tagged when vlan), IPv4 (with 4 bytes of options) or IPv6,
 * TCP (12 bytes of options) or UDP, plen payload bytes; the L4 checksum
 * field holds the pseudo-header sum as for CHECKSUM_PARTIAL.
 */
static void build(struct pkt *p, bool v6, bool tcp, bool vlan, uint32_t plen,
		  uint8_t tcp_flags, uint16_t mss)
{
	uint32_t l3 = vlan ? 18 : 14, l4, hdr, l4len;
	uint8_t *b = p->b;

	memset(p, 0, sizeof(*p));
	memcpy(b, "\x52\x54\x00\x00\x00\x02\x52\x54\x00\x00\x00\x01", 12);
	if (vlan) {
		put16(b + 12, 0x8100);
		put16(b + 14, 42);
	}
	put16(b + l3 - 2, v6 ? 0x86dd : 0x0800);
	if (v6) {
		b[l3] = 0x60;
		b[l3 + 1] = 0x02;		/* ECT(0) in traffic class */
		b[l3 + 6] = tcp ? 6 : 17;
		b[l3 + 7] = 64;
		for (int i = 0; i < 32; i++)
			b[l3 + 8 + i] = (uint8_t)(0x20 + i * 3);
		l4 = l3 + 40;
	} else {
		b[l3] = 0x46;			/* 24-byte header */
		b[l3 + 1] = 0x02;
		put16(b + l3 + 4, 0xfff0);	/* the id wraps while segmenting */
		put16(b + l3 + 6, 0x4000);	/* DF */
		b[l3 + 8] = 64;
		b[l3 + 9] = tcp ? 6 : 17;
		memcpy(b + l3 + 12, "\x0a\x00\x00\x01\x0a\x00\x00\x02", 8);
		memcpy(b + l3 + 20, "\x01\x01\x01\x00", 4);	/* NOP NOP NOP EOL */
		l4 = l3 + 24;
	}
	if (tcp) {
		put16(b + l4, 40000);
		put16(b + l4 + 2, 5201);
		b[l4 + 4] = 0xff;		/* the sequence number wraps too */
		b[l4 + 5] = 0xff;
		b[l4 + 6] = 0xf0;
		b[l4 + 12] = 8 << 4;		/* 32 bytes: timestamps */
		b[l4 + 13] = tcp_flags;
		put16(b + l4 + 14, 502);
		memcpy(b + l4 + 20, "\x01\x01\x08\x0a\x00\x00\x00\x01\x00\x00\x00\x02", 12);
		hdr = l4 + 32;
	} else {
		put16(b + l4, 40000);
		put16(b + l4 + 2, 5201);
		hdr = l4 + 8;
	}
	for (uint32_t i = 0; i < plen; i++)
		b[hdr + i] = pay(i);
	p->len = hdr + plen;
	l4len = p->len - l4;
	if (v6) {
		put16(b + l3 + 4, p->len - l3 - 40);
	} else {
		uint16_t c;

		put16(b + l3 + 2, p->len - l3);
		c = (uint16_t)~ref_fold(ref_add(0, b + l3, 24));
		put16(b + l3 + 10, c);
	}
	if (!tcp)
		put16(b + l4 + 4, l4len);
	put16(b + l4 + (tcp ? 16 : 6),
	      ref_fold(ref_pseudo(b + l3, v6, tcp ? 6 : 17, l4len)));
	p->l3 = l3;
	p->l4 = l4;
	p->hdr = hdr;
	p->v6 = v6;
	p->tcp = tcp;
	p->o.flags = SW_OFF_CSUM;
	p->o.csum_start = (uint16_t)l4;
	p->o.csum_offset = tcp ? 16 : 6;
	p->o.hdr_len = (uint16_t)hdr;
	if (mss) {
		p->o.gso = tcp ? (v6 ? SW_GSO_TCP6 : SW_GSO_TCP4) :
				 (v6 ? SW_GSO_UDP6 : SW_GSO_UDP4);
		p->o.gso_size = mss;
	}
}

static int check(struct pkt *p, enum off_err *why)
{
	uint32_t hl = p->len < OFF_HDR_COPY ? p->len : OFF_HDR_COPY;

	return off_check(&p->o, ALL_CAPS, p->b, hl, p->len, why);
}

/* ---- segmentation ---- */

struct seen {
	const struct pkt *p;
	unsigned int n;
	uint32_t payload_at;		/* payload bytes seen so far */
	int fail_at;			/* emit returns -ENOBUFS from here on */
};

static int emit(void *ctx, const struct sw_frame *f)
{
	struct seen *s = ctx;
	const struct pkt *p = s->p;
	uint8_t b[OFF_MAX_SEG_FRAME];
	uint32_t len = 0, plen, l4len;
	const uint8_t *ip, *l4;

	if (s->fail_at >= 0 && (int)s->n >= s->fail_at)
		return -ENOBUFS;
	for (unsigned int i = 0; i < f->nseg; i++) {
		assert_true(len + f->seg[i].len <= sizeof(b));
		memcpy(b + len, f->seg[i].base, f->seg[i].len);
		len += f->seg[i].len;
	}
	assert_int_equal(f->len, len);
	assert_memory_equal(f->eth, b, SW_ETH_HLEN);
	assert_int_equal(f->off.flags, 0);
	assert_int_equal(f->off.gso, SW_GSO_NONE);
	/* headers before L3 and the L3 addresses are the original's */
	assert_memory_equal(b, p->b, p->l3);
	plen = len - p->hdr;
	assert_true(plen > 0 && plen <= p->o.gso_size);
	assert_memory_equal(b + p->hdr, p->b + p->hdr + s->payload_at, plen);
	ip = b + p->l3;
	l4 = b + p->l4;
	l4len = len - p->l4;
	if (p->v6) {
		assert_int_equal(be16(ip + 4), len - p->l3 - 40);
		assert_memory_equal(ip + 8, p->b + p->l3 + 8, 32);
		assert_int_equal(ip[1], p->b[p->l3 + 1]);	/* ECN bits kept */
	} else {
		assert_int_equal(be16(ip + 2), len - p->l3);
		assert_int_equal(be16(ip + 4), (uint16_t)(0xfff0 + s->n));
		assert_int_equal(ref_fold(ref_add(0, ip, 24)), 0xffff);
		assert_int_equal(ip[1], p->b[p->l3 + 1]);
	}
	check_l4(ip, p->v6, p->tcp ? 6 : 17, l4, l4len);
	if (p->tcp) {
		uint8_t fl = p->b[p->l4 + 13];
		bool last = s->payload_at + plen == p->len - p->hdr;

		assert_int_equal(be32(l4 + 4), be32(p->b + p->l4 + 4) + s->payload_at);
		assert_int_equal(be32(l4 + 8), be32(p->b + p->l4 + 8));
		if (!last)
			fl &= (uint8_t)~0x09;	/* FIN, PSH: last only */
		if (s->n)
			fl &= (uint8_t)~0x80;	/* CWR: first only */
		assert_int_equal(l4[13], fl);
		assert_memory_equal(l4 + 20, p->b + p->l4 + 20, 12);
	} else {
		assert_int_equal(be16(l4 + 4), l4len);
	}
	s->payload_at += plen;
	s->n++;
	return 0;
}

static void segment_case(bool v6, bool tcp, bool vlan, uint32_t plen,
			 uint16_t mss)
{
	static struct pkt p;
	uint8_t hdr[OFF_HDR_COPY];
	struct seen s = { .p = &p, .fail_at = -1 };
	unsigned int nsegs, lost;
	enum off_err why;

	build(&p, v6, tcp, vlan, plen, 0x80 | 0x10 | 0x08 | 0x01, mss);
	assert_int_equal(check(&p, &why), 0);
	assert_int_equal(p.o.hdr_len, p.hdr);
	assert_int_equal(off_segment(p.b, p.len, &p.o, hdr, emit, &s, &nsegs, &lost), 0);
	assert_int_equal(nsegs, (plen + mss - 1) / mss);
	assert_int_equal(s.n, nsegs);
	assert_int_equal(lost, 0);
	assert_int_equal(s.payload_at, plen);
}

static void test_segment_tcp4(void **state)
{
	(void)state;
	segment_case(false, true, false, 65535 - 24 - 32, 1448);
	segment_case(false, true, false, 1448 * 10, 1448);	/* exact */
	segment_case(false, true, true, 3001, 1000);		/* tagged */
	segment_case(false, true, false, 1, 1448);		/* one short segment */
	segment_case(false, true, false, 9000, 8000);
}

static void test_segment_tcp6(void **state)
{
	(void)state;
	segment_case(true, true, false, 65535 - 32, 1428);
	segment_case(true, true, true, 2857, 1428);
	segment_case(true, true, false, 777, 100);
}

static void test_segment_udp(void **state)
{
	(void)state;
	segment_case(false, false, false, 60000, 1472);
	segment_case(true, false, true, 3001, 1452);
	segment_case(true, false, false, 8, 3);	/* odd sizes */
}

/* A receiver full at the first segment: nothing consumed, its error back. */
static void test_segment_nobufs(void **state)
{
	static struct pkt p;
	uint8_t hdr[OFF_HDR_COPY];
	struct seen s = { .p = &p, .fail_at = 0 };
	unsigned int nsegs, lost;
	enum off_err why;

	(void)state;
	build(&p, false, true, false, 10000, 0x18, 1448);
	assert_int_equal(check(&p, &why), 0);
	assert_int_equal(off_segment(p.b, p.len, &p.o, hdr, emit, &s, &nsegs, &lost),
			 -ENOBUFS);
	assert_int_equal(nsegs, 0);
	s = (struct seen){ .p = &p, .fail_at = 3 };
	assert_int_equal(off_segment(p.b, p.len, &p.o, hdr, emit, &s, &nsegs, &lost), 0);
	assert_int_equal(nsegs, 3);
	assert_int_equal(lost, 7 - 3);
}

/* off_finish: copies, completes, segments, counts. */
struct fin {
	unsigned int n;
	uint32_t bytes;
	int rc;
};

static int fin_send(void *ctx, const struct sw_frame *f)
{
	struct fin *c = ctx;

	if (c->rc)
		return c->rc;
	c->n++;
	c->bytes += f->len;
	return 0;
}

static void test_finish(void **state)
{
	static struct pkt p;
	static struct off_buf ob;
	struct off_stats st = { 0 };
	struct fin c = { 0 };
	struct sw_frame f;
	enum off_err why;

	(void)state;
	build(&p, true, true, false, 20000, 0x18, 1428);
	assert_int_equal(check(&p, &why), 0);
	memset(&f, 0, sizeof(f));
	f.off = p.o;
	memcpy(f.eth, p.b, SW_ETH_HLEN);
	/* the frame in three uneven pieces, as a peer's chain may be */
	f.nseg = 3;
	f.seg[0] = (struct sw_seg){ p.b, 7 };
	f.seg[1] = (struct sw_seg){ p.b + 7, 100 };
	f.seg[2] = (struct sw_seg){ p.b + 107, p.len - 107 };
	f.len = p.len;
	assert_int_equal(off_finish(&f, &ob, fin_send, &c, &st), 0);
	assert_int_equal(c.n, 15);
	assert_int_equal(st.out_sw_gso, 1);
	assert_int_equal(st.out_segs, 15);
	assert_int_equal(c.bytes, 20000 + 15 * p.hdr);

	/* -ENOBUFS on the first: returned, nothing counted */
	c = (struct fin){ .rc = -ENOBUFS };
	memset(&st, 0, sizeof(st));
	assert_int_equal(off_finish(&f, &ob, fin_send, &c, &st), -ENOBUFS);
	assert_int_equal(st.out_sw_gso + st.out_segs, 0);

	/* the bytes changed since the check: refused, counted */
	p.b[p.l3 + 6] = 17;		/* now claims UDP */
	c = (struct fin){ 0 };
	assert_int_equal(off_finish(&f, &ob, fin_send, &c, &st), -EINVAL);
	assert_int_equal(st.out_changed, 1);
	assert_int_equal(c.n, 0);

	/* checksum only */
	build(&p, false, false, false, 333, 0, 0);
	assert_int_equal(check(&p, &why), 0);
	f.off = p.o;
	f.nseg = 1;
	f.seg[0] = (struct sw_seg){ p.b, p.len };
	f.len = p.len;
	c = (struct fin){ 0 };
	assert_int_equal(off_finish(&f, &ob, fin_send, &c, &st), 0);
	assert_int_equal(st.out_sw_csum, 1);
	check_l4(ob.b + p.l3, false, 17, ob.b + p.l4, p.len - p.l4);
}

/* ---- checksum completion ---- */

static void test_csum_complete(void **state)
{
	static struct pkt p;
	enum off_err why;

	(void)state;
	for (uint32_t plen = 0; plen < 70; plen += 7) {
		for (int k = 0; k < 4; k++) {
			bool v6 = k & 1, tcp = k & 2;

			build(&p, v6, tcp, plen & 1, plen, 0x18, 0);
			assert_int_equal(check(&p, &why), 0);
			off_csum_complete(p.b, p.len, &p.o);
			check_l4(p.b + p.l3, v6, tcp ? 6 : 17, p.b + p.l4,
				 p.len - p.l4);
		}
	}
}

/* off_sum against the reference at every length and alignment. */
static void test_sum(void **state)
{
	uint8_t b[300];

	(void)state;
	for (size_t i = 0; i < sizeof(b); i++)
		b[i] = (uint8_t)(i * 151 + 7);
	for (uint32_t at = 0; at < 9; at++) {
		for (uint32_t n = 0; n + at <= sizeof(b); n++) {
			uint16_t mine = off_fold(off_sum(0, b + at, n));
			uint8_t m[2];

			memcpy(m, &mine, 2);	/* stored in memory order */
			assert_int_equal(be16(m), (uint16_t)~ref_fold(ref_add(0, b + at, n)));
		}
	}
}

/* ---- bad claims ---- */

static void expect_bad(struct pkt *p, enum off_err want)
{
	enum off_err why = OFF_E_MAX;

	assert_int_equal(check(p, &why), -EINVAL);
	assert_int_equal(why, want);
}

static void test_bad_claims(void **state)
{
	static struct pkt p;
	enum off_err why;

	(void)state;
	/* csum_start past the end; csum_offset running over it */
	build(&p, false, true, false, 100, 0x18, 0);
	p.o.csum_start = (uint16_t)p.len;
	expect_bad(&p, OFF_E_CSUM_RANGE);
	build(&p, false, true, false, 100, 0x18, 0);
	p.o.csum_offset = (uint16_t)(p.len - p.l4 - 1);
	expect_bad(&p, OFF_E_CSUM_RANGE);
	build(&p, false, true, false, 100, 0x18, 0);
	p.o.csum_start = 0xffff;
	p.o.csum_offset = 0xffff;
	expect_bad(&p, OFF_E_CSUM_RANGE);
	/* into the Ethernet header */
	build(&p, false, true, false, 100, 0x18, 0);
	p.o.csum_start = 13;
	p.o.csum_offset = 0;
	expect_bad(&p, OFF_E_CSUM_RANGE);
	/* the last legal position */
	build(&p, false, true, false, 100, 0x18, 0);
	p.o.csum_start = (uint16_t)(p.len - 2);
	p.o.csum_offset = 0;
	assert_int_equal(check(&p, &why), 0);

	/* hdr_len past the end */
	build(&p, false, true, false, 100, 0x18, 1000);
	p.o.hdr_len = (uint16_t)(p.len + 1);
	expect_bad(&p, OFF_E_HDR_LEN);

	/* gso_size 0; too large a segment */
	build(&p, false, true, false, 10000, 0x18, 1448);
	p.o.gso_size = 0;
	expect_bad(&p, OFF_E_GSO_SIZE);
	build(&p, false, true, false, 10000, 0x18, 9200);
	expect_bad(&p, OFF_E_GSO_SIZE);
	/* no payload at all */
	build(&p, false, true, false, 0, 0x18, 1448);
	expect_bad(&p, OFF_E_GSO_SIZE);

	/* huge segment counts */
	build(&p, false, true, false, 60000, 0x18, 1);
	expect_bad(&p, OFF_E_GSO_SEGS);
	build(&p, true, true, false, 60000, 0x18, 200);
	expect_bad(&p, OFF_E_GSO_SEGS);
	build(&p, true, true, false, 256 * 200, 0x18, 200);
	assert_int_equal(check(&p, &why), 0);	/* exactly OFF_MAX_SEGS */

	/* GSO on frames that are not what the type says */
	build(&p, false, false, false, 3000, 0, 1448);
	p.o.gso = SW_GSO_TCP4;			/* it is UDP */
	p.o.csum_offset = 16;
	expect_bad(&p, OFF_E_GSO_PROTO);
	build(&p, true, true, false, 3000, 0x18, 1448);
	p.o.gso = SW_GSO_TCP4;			/* it is IPv6 */
	expect_bad(&p, OFF_E_GSO_PROTO);
	build(&p, false, true, false, 3000, 0x18, 1448);
	p.b[p.l3 + 9] = 1;			/* ICMP */
	expect_bad(&p, OFF_E_GSO_PROTO);
	build(&p, false, true, false, 3000, 0x18, 1448);
	p.b[12] = 0x08;				/* ARP */
	p.b[13] = 0x06;
	expect_bad(&p, OFF_E_GSO_PROTO);
	build(&p, false, true, false, 3000, 0x18, 1448);
	put16(p.b + p.l3 + 2, p.len - p.l3 - 1);	/* IP length short */
	expect_bad(&p, OFF_E_GSO_PROTO);
	build(&p, true, true, false, 3000, 0x18, 1448);
	put16(p.b + p.l3 + 4, 0xffff);		/* IPv6 length long */
	expect_bad(&p, OFF_E_GSO_PROTO);
	build(&p, false, true, false, 3000, 0x18, 1448);
	p.b[p.l3 + 6] |= 0x20;			/* a fragment */
	expect_bad(&p, OFF_E_GSO_PROTO);
	build(&p, false, true, false, 3000, 0x18, 1448);
	p.b[p.l4 + 12] = 4 << 4;		/* TCP data offset < 5 */
	expect_bad(&p, OFF_E_GSO_PROTO);
	build(&p, false, true, false, 3000, 0x18, 1448);
	p.b[p.l4 + 12] = 15 << 4;		/* 60-byte TCP header: not there */
	p.b[p.l3] = 0x4f;			/* nor a 60-byte IP header */
	expect_bad(&p, OFF_E_GSO_PROTO);
	build(&p, false, true, false, 3000, 0x18, 1448);
	p.o.csum_start = (uint16_t)(p.l4 + 4);	/* not at the TCP header */
	expect_bad(&p, OFF_E_GSO_PROTO);
	/* a tiny frame claiming GSO */
	build(&p, false, true, false, 3000, 0x18, 1448);
	p.len = 20;
	p.o.csum_start = 14;
	p.o.csum_offset = 0;
	p.o.hdr_len = 0;
	expect_bad(&p, OFF_E_GSO_PROTO);

	/* types: unknown, without NEEDS_CSUM, ECN on UDP or without GSO */
	build(&p, false, true, false, 3000, 0x18, 1448);
	p.o.gso = SW_GSO_MAX;
	expect_bad(&p, OFF_E_GSO_TYPE);
	build(&p, false, true, false, 3000, 0x18, 1448);
	p.o.flags = 0;
	expect_bad(&p, OFF_E_GSO_TYPE);
	build(&p, false, false, false, 3000, 0, 1448);
	p.o.flags |= SW_OFF_ECN;
	expect_bad(&p, OFF_E_GSO_TYPE);
	build(&p, false, true, false, 300, 0x18, 0);
	p.o.flags |= SW_OFF_ECN;
	expect_bad(&p, OFF_E_GSO_TYPE);
	/* not negotiated */
	build(&p, false, true, false, 3000, 0x18, 1448);
	assert_int_equal(off_check(&p.o, OFF_CAP_CSUM | OFF_CAP_TSO6, p.b,
				   OFF_HDR_COPY, p.len, &why), -EINVAL);
	assert_int_equal(why, OFF_E_GSO_TYPE);
	build(&p, false, true, false, 300, 0x18, 0);
	assert_int_equal(off_check(&p.o, 0, p.b, OFF_HDR_COPY, p.len, &why), -EINVAL);
	assert_int_equal(why, OFF_E_GSO_TYPE);
	build(&p, false, true, false, 3000, 0x98, 1448);
	p.o.flags |= SW_OFF_ECN;
	assert_int_equal(off_check(&p.o, ALL_CAPS & ~OFF_CAP_ECN, p.b,
				   OFF_HDR_COPY, p.len, &why), -EINVAL);
	assert_int_equal(check(&p, &why), 0);
}

/* off_takes: what goes unchanged to whom. */
static void test_takes(void **state)
{
	struct sw_offload o = { 0 };

	(void)state;
	o.flags = SW_OFF_CSUM;
	assert_true(off_takes(&o, OFF_CAP_CSUM));
	assert_false(off_takes(&o, 0));
	o.gso = SW_GSO_TCP4;
	assert_false(off_takes(&o, OFF_CAP_CSUM | OFF_CAP_TSO6));
	assert_true(off_takes(&o, OFF_CAP_CSUM | OFF_CAP_TSO4));
	o.flags |= SW_OFF_ECN;
	assert_false(off_takes(&o, OFF_CAP_CSUM | OFF_CAP_TSO4));
	assert_true(off_takes(&o, OFF_CAP_CSUM | OFF_CAP_TSO4 | OFF_CAP_ECN));
	o.flags = SW_OFF_CSUM;
	o.gso = SW_GSO_UDP6;
	assert_false(off_takes(&o, OFF_CAP_CSUM | OFF_CAP_USO4));
	assert_true(off_takes(&o, OFF_CAP_CSUM | OFF_CAP_USO6));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sum),
		cmocka_unit_test(test_csum_complete),
		cmocka_unit_test(test_segment_tcp4),
		cmocka_unit_test(test_segment_tcp6),
		cmocka_unit_test(test_segment_udp),
		cmocka_unit_test(test_segment_nobufs),
		cmocka_unit_test(test_finish),
		cmocka_unit_test(test_bad_claims),
		cmocka_unit_test(test_takes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
