/* SPDX-License-Identifier: MIT */
/*
 * The switch's L2 features over byte-exact test ports: 802.1Q access and
 * trunk ports (tags pushed and popped, learning per VLAN, floods kept in
 * their VLAN, bad tags dropped and counted), reserved multicast, the
 * static FDB, port security, MAC-move dampening and mirrors.  A port here
 * hands the switch frames split over segments at an awkward place (inside
 * the tag) and records what send gives it as the wire bytes, checking that
 * the segments, len and the private header copy agree.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sw.h"

#define SEC 1000000000ULL
#define NP 5
#define FMAX 1600
#define QMAX 64

struct rec {
	uint8_t b[FMAX];
	uint32_t len;
	int shift;
	struct sw_offload off;
};

struct lport {
	struct sw *s;
	int id;
	/* ingress */
	uint8_t q[QMAX][FMAX];
	uint32_t qlen[QMAX];
	unsigned int qn, qh;
	unsigned int split;		/* first segment's length */
	struct sw_offload off;		/* the claim its frames carry */
	/* egress */
	struct rec got[QMAX];
	unsigned int ngot;
	int send_rc;
};

static struct lport P[NP];
static struct sw *S;
static uint64_t now = SEC;

static unsigned int l_recv(void *ctx, struct sw_frame *f, unsigned int n)
{
	struct lport *p = ctx;
	unsigned int k;

	for (k = 0; k < n && p->qh < p->qn; k++, p->qh++) {
		uint8_t *b = p->q[p->qh];
		uint32_t len = p->qlen[p->qh], a = p->split < len ? p->split : len;

		memset(&f[k], 0, offsetof(struct sw_frame, seg));
		f[k].off = p->off;
		f[k].len = len;
		memcpy(f[k].eth, b, len < SW_ETH_HLEN ? len : SW_ETH_HLEN);
		f[k].seg[0].base = b;
		f[k].seg[0].len = a;
		f[k].nseg = 1;
		if (len > a) {
			f[k].seg[1].base = b + a;
			f[k].seg[1].len = len - a;
			f[k].nseg = 2;
		}
	}
	return k;
}

static void l_recv_done(void *ctx)
{
	(void)ctx;
}

static int l_send(void *ctx, const struct sw_frame *f)
{
	struct lport *p = ctx;
	struct rec *r;
	uint32_t len = 0;

	if (p->send_rc)
		return p->send_rc;
	assert_true(p->ngot < QMAX);
	r = &p->got[p->ngot++];
	for (unsigned int i = 0; i < f->nseg; i++) {
		assert_true(len + f->seg[i].len <= FMAX);
		memcpy(r->b + len, f->seg[i].base, f->seg[i].len);
		len += f->seg[i].len;
	}
	assert_int_equal(len, f->len);
	assert_memory_equal(r->b, f->eth, SW_ETH_HLEN);
	r->len = len;
	r->shift = f->l2_shift;
	r->off = f->off;
	return 0;
}

static void l_flush(void *ctx)
{
	(void)ctx;
}

static const struct sw_port_ops l_ops = { l_recv, l_recv_done, l_send, l_flush };

static int setup_cfg(const struct sw_config *c)
{
	struct sw_config d;

	if (!c) {
		sw_config_default(&d);
		c = &d;
	}
	S = sw_create(c);
	assert_non_null(S);
	memset(P, 0, sizeof(P));
	for (int i = 0; i < NP; i++) {
		char name[8] = { 'p', (char)('0' + i), 0 };

		P[i].s = S;
		P[i].split = 15;		/* inside the tag */
		P[i].id = sw_port_add(S, name, &l_ops, &P[i]);
		assert_int_equal(P[i].id, i);
		sw_port_set_up(S, i, true);
	}
	now = SEC;
	return 0;
}

static int setup(void **state)
{
	(void)state;
	return setup_cfg(NULL);
}

static int teardown(void **state)
{
	(void)state;
	sw_destroy(S);
	S = NULL;
	return 0;
}

static const uint8_t BC[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static void mac(uint8_t *m, uint8_t n)
{
	static const uint8_t base[6] = { 0x02, 0, 0, 0, 0, 0 };

	memcpy(m, base, 6);
	m[5] = n;
}

/*
 * Queue a frame on port p: dst, src (02::n), tag (tpid 0: none), then
 * inner tags (nested) and the type 0x0800, padded to len with a marker.
 */
static void push(int p, const uint8_t *dst, uint8_t src, uint16_t tpid,
		 uint16_t tci, uint16_t tpid2, uint32_t len)
{
	struct lport *l = &P[p];
	uint8_t *b = l->q[l->qn];
	uint32_t o = 12;

	assert_true(l->qn < QMAX && len <= FMAX);
	memset(b, 0xa5, FMAX);
	memcpy(b, dst, 6);
	mac(b + 6, src);
	if (tpid) {
		b[o++] = (uint8_t)(tpid >> 8);
		b[o++] = (uint8_t)tpid;
		b[o++] = (uint8_t)(tci >> 8);
		b[o++] = (uint8_t)tci;
	}
	if (tpid2) {
		b[o++] = (uint8_t)(tpid2 >> 8);
		b[o++] = (uint8_t)tpid2;
		b[o++] = 0;
		b[o++] = 5;
	}
	b[o++] = 0x08;
	b[o++] = 0x00;
	b[o] = (uint8_t)l->qn;		/* marks the payload */
	l->qlen[l->qn++] = len;
}

static void run(void)
{
	sw_poll(S, now);
}

static void clear_got(void)
{
	for (int i = 0; i < NP; i++)
		P[i].ngot = 0;
}

static uint64_t drops(int p, enum sw_drop r)
{
	return sw_port_stats(S, p)->drops[r];
}

static void set_access(int p, uint16_t vid)
{
	struct sw_port_vlan v = { .aware = true, .pvid = vid };

	assert_int_equal(sw_port_set_vlan(S, p, &v), 0);
}

static void set_trunk(int p, uint16_t native, uint16_t a, uint16_t b)
{
	struct sw_port_vlan v = { .aware = true, .pvid = native };

	sw_vlan_set(v.trunks, a);
	sw_vlan_set(v.trunks, b);
	assert_int_equal(sw_port_set_vlan(S, p, &v), 0);
}

/* The received frame r is the sent one (untagged, from pushed b) with tag vid. */
static void check_tagged(const struct rec *r, const uint8_t *sent, uint32_t slen,
			 uint16_t vid)
{
	assert_int_equal(r->len, slen + 4);
	assert_memory_equal(r->b, sent, 12);
	assert_int_equal(r->b[12], 0x81);
	assert_int_equal(r->b[13], 0x00);
	assert_int_equal((r->b[14] << 8 | r->b[15]) & 0xfff, vid);
	assert_memory_equal(r->b + 16, sent + 12, slen - 12);
	assert_int_equal(r->shift, 4);
}

static void check_untagged(const struct rec *r, const uint8_t *sent, uint32_t slen)
{
	assert_int_equal(r->len, slen - 4);
	assert_memory_equal(r->b, sent, 12);
	assert_memory_equal(r->b + 12, sent + 16, slen - 16);
	assert_int_equal(r->shift, -4);
}

/* Defaults: every port transparent in VLAN 1; tagged frames pass as they are. */
static void test_default_transparent(void **state)
{
	(void)state;
	push(0, BC, 1, 0x8100, 10, 0, 64);
	run();
	for (int i = 1; i < NP; i++) {
		assert_int_equal(P[i].ngot, 1);
		assert_int_equal(P[i].got[0].len, 64);
		assert_memory_equal(P[i].got[0].b, P[0].q[0], 64);
		assert_int_equal(P[i].got[0].shift, 0);
	}
}

/* Access 10, access 20, trunk 10+20: tags pushed and popped, floods stay. */
static void test_access_trunk(void **state)
{
	uint8_t m1[6], m3[6];

	(void)state;
	set_access(0, 10);
	set_access(1, 20);
	set_trunk(2, 0, 10, 20);
	set_access(3, 10);
	/* p4 stays transparent: VLAN 1 */

	push(0, BC, 1, 0, 0, 0, 100);		/* VLAN 10 broadcast */
	run();
	assert_int_equal(P[1].ngot, 0);
	assert_int_equal(P[4].ngot, 0);
	assert_int_equal(P[3].ngot, 1);
	assert_memory_equal(P[3].got[0].b, P[0].q[0], 100);
	assert_int_equal(P[2].ngot, 1);
	check_tagged(&P[2].got[0], P[0].q[0], 100, 10);

	/* the trunk answers in VLAN 20 to p1's MAC: unknown, flooded in 20 */
	clear_got();
	mac(m1, 1);
	push(2, m1, 3, 0x8100, 0x6000 | 20, 0, 120);
	run();
	assert_int_equal(P[0].ngot, 0);
	assert_int_equal(P[3].ngot, 0);
	assert_int_equal(P[1].ngot, 1);
	check_untagged(&P[1].got[0], P[2].q[0], 120);

	/* learned per VLAN: 02::3 in VLAN 20 on p2; to it from p1 goes tagged */
	clear_got();
	mac(m3, 3);
	push(1, m3, 1, 0, 0, 0, 1518);
	run();
	assert_int_equal(P[2].ngot, 1);
	check_tagged(&P[2].got[0], P[1].q[0], 1518, 20);
	assert_int_equal(P[0].ngot + P[3].ngot + P[4].ngot, 0);
	/* 02::1 is known in VLAN 10 (p0) and in VLAN 20 (p1): two entries */
	assert_int_equal(sw_mac_count(S), 3);
	/* but 02::3 is unknown in VLAN 10: flooded there */
	clear_got();
	push(0, m3, 1, 0, 0, 0, 64);
	run();
	assert_int_equal(P[3].ngot, 1);
	assert_int_equal(P[2].ngot, 1);
	check_tagged(&P[2].got[0], P[0].q[1], 64, 10);
	assert_int_equal(P[1].ngot, 0);
}

/* What a VLAN-aware port refuses, each counted. */
static void test_bad_tags(void **state)
{
	(void)state;
	set_access(0, 10);
	set_trunk(1, 0, 10, 20);
	set_access(2, 20);
	push(1, BC, 1, 0x8100, 30, 0, 64);	/* not carried */
	push(1, BC, 1, 0, 0, 0, 64);		/* untagged, no native */
	push(1, BC, 1, 0x8100, 10, 0x8100, 64);	/* nested */
	push(1, BC, 1, 0x8100, 10, 0x88a8, 64);	/* nested S-tag */
	push(1, BC, 1, 0x88a8, 10, 0, 64);	/* S-tag outside */
	push(1, BC, 1, 0x8100, 0xfff, 0, 64);	/* VID 4095 */
	push(1, BC, 1, 0x8100, 10, 0, 16);	/* tag cut short */
	push(0, BC, 2, 0x8100, 20, 0, 64);	/* tagged for another VLAN on access */
	run();
	for (int i = 0; i < NP; i++)
		assert_int_equal(P[i].ngot, 0);
	assert_int_equal(drops(1, SW_DROP_VLAN), 2);
	assert_int_equal(drops(1, SW_DROP_VLAN_TAG), 4);
	assert_int_equal(drops(1, SW_DROP_RUNT), 1);
	assert_int_equal(drops(0, SW_DROP_VLAN), 1);
	assert_int_equal(sw_mac_count(S), 0);	/* nothing learned from them */

	/* a tagged frame for its own VLAN, and priority-tagged: taken, popped */
	push(0, BC, 2, 0x8100, 10, 0, 64);
	push(0, BC, 2, 0x8100, 0xa000, 0, 64);
	run();
	assert_int_equal(P[1].ngot, 2);
	assert_memory_equal(P[1].got[0].b, P[0].q[1], 64);
	assert_int_equal(P[1].got[1].b[14] >> 4, 0xa);	/* priority kept */
	assert_int_equal((P[1].got[1].b[14] << 8 | P[1].got[1].b[15]) & 0xfff, 10);
	assert_int_equal(P[1].got[1].shift, 0);
}

/* A trunk's native VLAN, and a transparent port's tagged frame (VLAN hop). */
static void test_native_and_hop(void **state)
{
	(void)state;
	set_trunk(0, 1, 10, 20);		/* native 1: with p1..p4 */
	push(0, BC, 1, 0, 0, 0, 64);		/* untagged: VLAN 1 */
	push(0, BC, 1, 0x8100, 1, 0, 64);	/* tagged native: popped */
	run();
	for (int i = 1; i < NP; i++) {
		assert_int_equal(P[i].ngot, 2);
		assert_memory_equal(P[i].got[0].b, P[0].q[0], 64);
		check_untagged(&P[i].got[1], P[0].q[1], 64);
	}
	/* p1 (transparent) sends a frame tagged 20: others see it, not the trunk */
	clear_got();
	push(1, BC, 2, 0x8100, 20, 0, 64);
	run();
	assert_int_equal(P[0].ngot, 0);
	assert_int_equal(drops(0, SW_DROP_VLAN_TAG), 1);
	assert_int_equal(P[2].ngot, 1);
	/* untagged from p1 reaches the trunk untagged (native) */
	clear_got();
	push(1, BC, 2, 0, 0, 0, 64);
	run();
	assert_int_equal(P[0].ngot, 1);
	assert_memory_equal(P[0].got[0].b, P[1].q[1], 64);
}

static void test_vlan_config_checks(void **state)
{
	struct sw_port_vlan v = { .aware = true, .pvid = 4095 };

	(void)state;
	assert_int_equal(sw_port_set_vlan(S, 0, &v), -EINVAL);
	v.pvid = 1;
	sw_vlan_set(v.trunks, 4095);
	assert_int_equal(sw_port_set_vlan(S, 0, &v), -EINVAL);
	memset(&v, 0, sizeof(v));
	v.pvid = 5;			/* transparent is VLAN 1 only */
	assert_int_equal(sw_port_set_vlan(S, 0, &v), -EINVAL);
	assert_int_equal(sw_port_set_vlan(S, 9, &v), -EINVAL);
	/* setting VLANs forgets the port's MACs */
	push(0, BC, 1, 0, 0, 0, 64);
	run();
	assert_int_equal(sw_mac_count(S), 1);
	set_access(0, 7);
	assert_int_equal(sw_mac_count(S), 0);
	assert_int_equal(sw_port_get_vlan(S, 0, &v), 0);
	assert_int_equal(v.pvid, 7);
	assert_true(v.aware);
}

static void test_reserved(void **state)
{
	static const uint8_t stp[6] = { 0x01, 0x80, 0xc2, 0, 0, 0 };
	static const uint8_t lldp[6] = { 0x01, 0x80, 0xc2, 0, 0, 0x0e };
	static const uint8_t other[6] = { 0x01, 0x80, 0xc2, 0, 0, 0x10 };
	struct sw_config c;

	(void)state;
	push(0, stp, 1, 0, 0, 0, 64);
	push(0, lldp, 1, 0, 0, 0, 64);
	push(0, other, 1, 0, 0, 0, 64);
	run();
	for (int i = 1; i < NP; i++) {
		assert_int_equal(P[i].ngot, 1);
		assert_memory_equal(P[i].got[0].b, other, 6);
	}
	assert_int_equal(drops(0, SW_DROP_RESERVED), 2);
	teardown(NULL);

	/* forward-reserved: bit 0 lets STP through, LLDP still stays */
	sw_config_default(&c);
	c.forward_reserved = 1;
	setup_cfg(&c);
	push(0, stp, 1, 0, 0, 0, 64);
	push(0, lldp, 1, 0, 0, 0, 64);
	run();
	assert_int_equal(P[1].ngot, 1);
	assert_memory_equal(P[1].got[0].b, stp, 6);
	assert_int_equal(drops(0, SW_DROP_RESERVED), 1);
	/* PAUSE and LACP may not be forwarded: refused like Linux does */
	c.forward_reserved = 4;
	assert_null(sw_create(&c));
}

struct coll {
	struct sw_mac_entry e[16];
	int n;
};

static int coll_cb(const struct sw_mac_entry *e, void *arg)
{
	struct coll *c = arg;

	if (c->n < 16)
		c->e[c->n++] = *e;
	return 0;
}

static void test_fdb(void **state)
{
	uint8_t m1[6], m2[6], m9[6];
	struct coll c = { .n = 0 };

	(void)state;
	mac(m1, 1);
	mac(m2, 2);
	mac(m9, 9);
	assert_int_equal(sw_mac_add(S, m9, 1, 3), 0);
	assert_int_equal(sw_mac_add(S, BC, 1, 3), -EINVAL);
	assert_int_equal(sw_mac_add(S, m9, 0, 3), -EINVAL);
	assert_int_equal(sw_mac_add(S, m9, 4095, 3), -EINVAL);
	assert_int_equal(sw_mac_add(S, m9, 1, 17), -EINVAL);
	push(0, BC, 1, 0, 0, 0, 64);
	push(1, m9, 2, 0, 0, 0, 64);		/* to the static MAC: p3 only */
	run();
	assert_int_equal(P[3].ngot, 2);
	assert_int_equal(P[2].ngot, 1);
	assert_int_equal(sw_mac_count(S), 3);
	sw_mac_foreach(S, now, coll_cb, &c);
	assert_int_equal(c.n, 3);
	for (int i = 0; i < c.n; i++) {
		assert_int_equal(c.e[i].vlan, 1);
		assert_int_equal(c.e[i].is_static, c.e[i].mac[5] == 9);
	}
	/* never moves: a frame from it elsewhere is dropped */
	push(0, BC, 9, 0, 0, 0, 64);
	run();
	assert_int_equal(drops(0, SW_DROP_MAC_MOVE), 1);
	/* never ages, and stays while its port is down */
	sw_mac_age(S, 1000 * SEC);
	assert_int_equal(sw_mac_count(S), 1);
	sw_port_set_up(S, 3, false);
	sw_port_set_up(S, 3, true);
	assert_int_equal(sw_mac_count(S), 1);
	/* flush: learned entries only, by port or VLAN */
	push(0, BC, 1, 0, 0, 0, 64);
	push(1, BC, 2, 0, 0, 0, 64);
	run();
	assert_int_equal(sw_mac_count(S), 3);
	assert_int_equal(sw_mac_flush(S, 0, 0), 1);
	assert_int_equal(sw_mac_count(S), 2);
	assert_int_equal(sw_mac_flush(S, -1, 5), 0);
	assert_int_equal(sw_mac_flush(S, -1, 1), 1);
	assert_int_equal(sw_mac_count(S), 1);
	assert_int_equal(sw_mac_flush(S, -1, 0), 0);
	/* del; the same MAC may be static in another VLAN */
	assert_int_equal(sw_mac_add(S, m9, 10, 2), 0);
	assert_int_equal(sw_mac_count(S), 2);
	assert_int_equal(sw_mac_del(S, m9, 1), 0);
	assert_int_equal(sw_mac_del(S, m9, 1), -ENOENT);
	assert_int_equal(sw_mac_count(S), 1);
	assert_int_equal(sw_mac_count_port(S, 2), 1);
	/* add over a learned entry replaces it; the port goes: so does it */
	push(1, BC, 2, 0, 0, 0, 64);
	run();
	assert_int_equal(sw_mac_add(S, m2, 1, 4), 0);
	assert_int_equal(sw_mac_count_port(S, 1), 0);
	assert_int_equal(sw_mac_count_port(S, 4), 1);
	sw_port_remove(S, 4);
	sw_port_remove(S, 2);
	assert_int_equal(sw_mac_count(S), 0);
	(void)m1;
}

static void test_port_security(void **state)
{
	struct sw_port_security sec = { .nmacs = 1 };
	uint8_t victim[6];

	(void)state;
	mac(victim, 1);
	mac(sec.mac[0], 2);
	assert_int_equal(sw_port_set_security(S, 1, &sec), 0);	/* p1: 02::2 only */
	sec.nmacs = 0;
	sec.lock_first = true;
	assert_int_equal(sw_port_set_security(S, 2, &sec), 0);	/* p2: first */
	memcpy(sec.mac[0], BC, 6);
	sec.lock_first = false;
	sec.nmacs = 1;
	assert_int_equal(sw_port_set_security(S, 3, &sec), -EINVAL);

	push(0, BC, 1, 0, 0, 0, 64);		/* the victim, p0 */
	push(1, BC, 2, 0, 0, 0, 64);		/* p1 as itself */
	push(1, BC, 1, 0, 0, 0, 64);		/* p1 spoofs the victim */
	push(2, BC, 3, 0, 0, 0, 64);		/* p2 locks 02::3 */
	push(2, BC, 1, 0, 0, 0, 64);		/* and then spoofs */
	push(2, BC, 4, 0, 0, 0, 64);
	run();
	assert_int_equal(drops(1, SW_DROP_SRC_LOCKED), 1);
	assert_int_equal(drops(2, SW_DROP_SRC_LOCKED), 2);
	/* the victim keeps its traffic */
	clear_got();
	push(3, victim, 5, 0, 0, 0, 64);
	run();
	assert_int_equal(P[0].ngot, 1);
	assert_int_equal(P[1].ngot + P[2].ngot + P[4].ngot, 0);
	assert_int_equal(sw_port_get_security(S, 2, &sec), 0);
	assert_int_equal(sec.nmacs, 1);
	assert_int_equal(sec.mac[0][5], 3);
}

static void test_move_dampening(void **state)
{
	struct sw_config c;
	struct coll col = { .n = 0 };
	uint8_t m1[6];

	(void)state;
	teardown(NULL);
	sw_config_default(&c);
	c.mac_move_max = 2;
	c.mac_pin_s = 5;
	setup_cfg(&c);
	mac(m1, 1);
	/* 02::1 flaps p0 -> p1 -> p0 -> p1: the third move pins it on p0 */
	for (int i = 0; i < 4; i++) {
		push(i & 1, BC, 1, 0, 0, 0, 64);
		run();
	}
	assert_int_equal(drops(1, SW_DROP_MAC_MOVE), 1);
	assert_int_equal(sw_port_stats(S, 1)->mac_pins, 1);
	assert_int_equal(sw_port_stats(S, 1)->mac_moves, 1);
	sw_mac_foreach(S, now, coll_cb, &col);
	assert_int_equal(col.n, 1);
	assert_true(col.e[0].pinned);
	assert_int_equal(col.e[0].port, 0);
	/* held while pinned, frames from p1 dropped; traffic to it goes to p0 */
	now += 2 * SEC;
	push(1, BC, 1, 0, 0, 0, 64);
	push(2, m1, 3, 0, 0, 0, 64);
	run();
	assert_int_equal(drops(1, SW_DROP_MAC_MOVE), 2);
	assert_int_equal(P[0].ngot, 2);
	/* after the pin, it moves again */
	now += 6 * SEC;
	push(1, BC, 1, 0, 0, 0, 64);
	run();
	assert_int_equal(drops(1, SW_DROP_MAC_MOVE), 2);
	col.n = 0;
	sw_mac_foreach(S, now, coll_cb, &col);
	assert_int_equal(col.n, 2);		/* 02::1 and 02::3 */
	for (int i = 0; i < col.n; i++) {
		if (col.e[i].mac[5] != 1)
			continue;
		assert_int_equal(col.e[i].port, 1);
		assert_false(col.e[i].pinned);
	}
}

static void test_mirror(void **state)
{
	uint8_t m1[6], m2[6];

	(void)state;
	mac(m1, 1);
	mac(m2, 2);
	assert_int_equal(sw_mirror_set(S, 0, 1ULL << 0, 4), 0);
	assert_int_equal(sw_mirror_set(S, 1, 1ULL << 4, 4), -EINVAL);
	assert_int_equal(sw_mirror_set(S, SW_MIRRORS_MAX, 1, 4), -EINVAL);
	/* a ping p0 <-> p1: the mirror sees both directions */
	push(0, BC, 1, 0, 0, 0, 64);
	run();
	push(1, m1, 2, 0, 0, 0, 64);
	run();
	push(0, m2, 1, 0, 0, 0, 64);
	run();
	assert_int_equal(P[4].ngot, 3);
	assert_memory_equal(P[4].got[0].b, P[0].q[0], 64);
	assert_memory_equal(P[4].got[1].b, P[1].q[0], 64);
	assert_memory_equal(P[4].got[2].b, P[0].q[1], 64);
	assert_int_equal(sw_port_stats(S, 4)->mirrored, 3);
	/* p3's broadcast reaches p0, so it is copied once; p4 is no flood target */
	push(3, BC, 4, 0, 0, 0, 64);
	run();
	assert_int_equal(P[4].ngot, 4);
	assert_int_equal(sw_port_stats(S, 4)->mirrored, 4);
	/* not mirrored: p2 -> p3 */
	mac(m1, 4);
	push(2, m1, 3, 0, 0, 0, 64);
	run();
	assert_int_equal(P[4].ngot, 4);
	assert_int_equal(P[3].ngot, 2);
	/* what the mirror port sends goes nowhere: no loop */
	push(4, BC, 7, 0, 0, 0, 64);
	run();
	assert_int_equal(drops(4, SW_DROP_MIRROR_PORT), 1);
	assert_int_equal(P[3].ngot, 2);
	/* a mirror peer with no room drops only its copies */
	P[4].send_rc = -ENOBUFS;
	clear_got();
	push(0, m2, 1, 0, 0, 0, 64);
	run();
	assert_int_equal(P[1].ngot, 1);
	assert_int_equal(drops(4, SW_DROP_NO_BUFFER), 1);
	assert_int_equal(drops(0, SW_DROP_NO_BUFFER) + drops(1, SW_DROP_NO_BUFFER), 0);
	/* removed: p4 is a port again */
	assert_int_equal(sw_mirror_set(S, 0, 0, -1), 0);
	P[4].send_rc = 0;
	clear_got();
	push(2, BC, 3, 0, 0, 0, 64);
	run();
	assert_int_equal(P[4].ngot, 1);
}

/* A frame in one segment: the pushed header and the rest of that segment. */
static void test_push_one_segment(void **state)
{
	(void)state;
	set_access(0, 10);
	set_trunk(1, 0, 10, 20);
	P[0].split = 64;			/* one segment */
	push(0, BC, 1, 0, 0, 0, 64);
	run();
	assert_int_equal(P[1].ngot, 1);
	assert_int_equal(P[1].got[0].len, 68);
}

/*
 * An offload claim counts bytes from the frame's start: a tag pushed moves
 * it 4 bytes on, a tag popped 4 bytes back, a transparent port not at all.
 */
static void test_offload_offsets_follow_the_tag(void **state)
{
	const struct sw_offload tcp4 = {
		.flags = SW_OFF_CSUM, .gso = SW_GSO_TCP4, .csum_start = 34,
		.csum_offset = 16, .gso_size = 1448, .hdr_len = 54,
	};
	struct sw_offload tagged = tcp4;

	(void)state;
	set_access(0, 10);
	set_trunk(1, 0, 10, 20);
	set_access(2, 10);
	P[0].off = tcp4;
	push(0, BC, 1, 0, 0, 0, 1518);
	run();
	assert_int_equal(P[1].ngot, 1);
	assert_int_equal(P[1].got[0].off.csum_start, 38);
	assert_int_equal(P[1].got[0].off.hdr_len, 58);
	assert_int_equal(P[1].got[0].off.csum_offset, 16);
	assert_int_equal(P[1].got[0].off.gso_size, 1448);
	assert_int_equal(P[2].ngot, 1);		/* access to access: as it came */
	assert_memory_equal(&P[2].got[0].off, &tcp4, sizeof(tcp4));

	clear_got();
	tagged.csum_start = 38;
	tagged.hdr_len = 58;
	P[1].off = tagged;
	push(1, BC, 3, 0x8100, 10, 0, 1518);
	run();
	assert_int_equal(P[0].ngot, 1);
	assert_int_equal(P[0].got[0].off.csum_start, 34);
	assert_int_equal(P[0].got[0].off.hdr_len, 54);

	/* A claim without GSO has no header length to move. */
	clear_got();
	P[0].off = (struct sw_offload){ .flags = SW_OFF_CSUM, .csum_start = 34,
					.csum_offset = 6 };
	push(0, BC, 4, 0, 0, 0, 200);
	run();
	assert_int_equal(P[1].ngot, 1);
	assert_int_equal(P[1].got[0].off.csum_start, 38);
	assert_int_equal(P[1].got[0].off.hdr_len, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_default_transparent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_access_trunk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_tags, setup, teardown),
		cmocka_unit_test_setup_teardown(test_native_and_hop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vlan_config_checks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reserved, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fdb, setup, teardown),
		cmocka_unit_test_setup_teardown(test_port_security, setup, teardown),
		cmocka_unit_test_setup_teardown(test_move_dampening, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mirror, setup, teardown),
		cmocka_unit_test_setup_teardown(test_push_one_segment, setup, teardown),
		cmocka_unit_test_setup_teardown(test_offload_offsets_follow_the_tag, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
