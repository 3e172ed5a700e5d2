/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the L2 switch (switch/sw.c) over fake ports (fport.c):
 * learning, flooding, hairpin, MAC moves, ageing on a test clock, MAC
 * limits under a flood, port state, egress errors, budget fairness, and a
 * randomized comparison of the MAC table with a simple model.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fport.h"
#include "sw.h"
#include "sw_hash.h"

#define SEC 1000000000ULL
#define NPORT 4

struct env {
	struct sw *s;
	struct fport p[NPORT];
	struct sw_config cfg;
};

static struct env *env_new(const struct sw_config *c)
{
	struct env *e = calloc(1, sizeof(*e));
	static const char *const names[NPORT] = { "A", "B", "C", "D" };

	assert_non_null(e);
	if (c) {
		e->cfg = *c;
	} else {
		sw_config_default(&e->cfg);
		e->cfg.mac_max = 64;
		e->cfg.mac_max_per_port = 16;
		e->cfg.ageing_s = 10;
		e->cfg.port_budget = 256;
	}
	e->s = sw_create(&e->cfg);
	assert_non_null(e->s);
	for (int i = 0; i < NPORT; i++) {
		fport_init(&e->p[i], e->s, names[i]);
		assert_int_equal(fport_attach(&e->p[i]), i);
	}
	return e;
}

static void env_free(struct env *e)
{
	for (int i = 0; i < NPORT; i++)
		fport_fini(&e->p[i]);
	sw_destroy(e->s);
	free(e);
}

static int setup(void **state)
{
	*state = env_new(NULL);
	return 0;
}

static int teardown(void **state)
{
	env_free(*state);
	return 0;
}

static const struct sw_port_stats *st(struct env *e, int i)
{
	const struct sw_port_stats *s = sw_port_stats(e->s, i);

	assert_non_null(s);
	return s;
}

/* Mark where each port's record of deliveries starts. */
static void clear_got(struct env *e)
{
	for (int i = 0; i < NPORT; i++)
		fport_clear_got(&e->p[i]);
}

struct find_arg {
	struct fmac mac;
	struct sw_mac_entry e;
	int found;
};

static int find_cb(const struct sw_mac_entry *me, void *arg)
{
	struct find_arg *a = arg;

	if (memcmp(me->mac, a->mac.b, SW_ETH_ALEN) != 0)
		return 0;
	a->e = *me;
	a->found++;
	return 0;
}

/* The port mac is learned on, or -1; checks it is in the table once. */
static int mac_port(struct env *e, struct fmac mac, uint64_t now)
{
	struct find_arg a = { .mac = mac };

	assert_int_equal(sw_mac_foreach(e->s, now, find_cb, &a), 0);
	assert_true(a.found <= 1);
	return a.found ? a.e.port : -1;
}

/* ---- tests ---- */

static void test_learn_then_unicast(void **state)
{
	struct env *e = *state;
	struct fmac a = fmac(2, 0xa), b = fmac(2, 0xb);

	/* a -> b: b unknown, so flooded to B, C, D */
	fport_push(&e->p[0], b, a, 60);
	assert_int_equal(sw_poll(e->s, SEC), 1);
	for (int i = 1; i < NPORT; i++) {
		assert_int_equal(e->p[i].ngot, 1);
		assert_int_equal(st(e, i)->tx_packets, 1);
		assert_int_equal(st(e, i)->tx_bytes, 60);
	}
	assert_int_equal(st(e, 0)->rx_flooded, 1);
	assert_int_equal(mac_port(e, a, SEC), 0);
	assert_int_equal(sw_mac_count(e->s), 1);

	/* b -> a: a learned on A, so only A gets it */
	fport_push(&e->p[1], a, b, 70);
	assert_int_equal(sw_poll(e->s, SEC), 1);
	assert_int_equal(e->p[0].ngot, 1);
	assert_int_equal(fport_got_count(&e->p[0], &a, &b), 1);
	assert_int_equal(st(e, 2)->tx_packets, 1);
	assert_int_equal(st(e, 3)->tx_packets, 1);
	assert_int_equal(st(e, 1)->rx_flooded, 0);
	assert_int_equal(mac_port(e, b, SEC), 1);

	/* a -> b, five times: only B, no more flooding */
	for (int i = 0; i < 5; i++)
		fport_push(&e->p[0], b, a, 100);
	assert_int_equal(sw_poll(e->s, 2 * SEC), 5);
	assert_int_equal(fport_got_count(&e->p[1], &b, &a), 6);
	assert_int_equal(st(e, 1)->tx_packets, 6);
	assert_int_equal(st(e, 1)->tx_bytes, 60 + 500);
	assert_int_equal(st(e, 2)->tx_packets, 1);
	assert_int_equal(st(e, 3)->tx_packets, 1);
	assert_int_equal(st(e, 0)->rx_flooded, 1);
	assert_int_equal(st(e, 0)->rx_packets, 6);
	assert_int_equal(st(e, 0)->rx_bytes, 60 + 500);
	assert_int_equal(st(e, 0)->tx_packets, 1);
	assert_int_equal(st(e, 0)->tx_bytes, 70);
	/* one flush per burst that delivered, one recv_done per recv */
	assert_int_equal(e->p[1].flushes, 2);
	for (int i = 0; i < NPORT; i++)
		assert_int_equal(e->p[i].recv_calls, e->p[i].recv_done_calls);
	for (int d = 0; d < SW_DROP_MAX; d++)
		for (int i = 0; i < NPORT; i++)
			assert_int_equal(st(e, i)->drops[d], 0);
}

static void test_flood_bcast_mcast_unknown(void **state)
{
	struct env *e = *state;
	struct fmac a = fmac(2, 0xa), b = fmac(2, 0xb);
	struct fmac mc = { { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 } };
	struct fmac v6mc = { { 0x33, 0x33, 0x00, 0x00, 0x00, 0x01 } };

	/* b learned on B; multicast and broadcast still go everywhere */
	fport_push(&e->p[1], a, b, 60);
	sw_poll(e->s, SEC);
	clear_got(e);
	fport_push(&e->p[0], fmac_bcast, a, 60);
	fport_push(&e->p[0], mc, a, 60);
	fport_push(&e->p[0], v6mc, a, 60);
	fport_push(&e->p[0], fmac(2, 0x77), a, 60);	/* unknown */
	assert_int_equal(sw_poll(e->s, SEC), 4);
	for (int i = 1; i < NPORT; i++) {
		assert_int_equal(e->p[i].ngot, 4);
		assert_int_equal(fport_got_count(&e->p[i], &fmac_bcast, &a), 1);
		assert_int_equal(fport_got_count(&e->p[i], &mc, &a), 1);
		assert_int_equal(fport_got_count(&e->p[i], &v6mc, &a), 1);
		assert_int_equal(e->p[i].flushes, i == 1 ? 1 : 2);
	}
	assert_int_equal(e->p[0].ngot, 0);
	assert_int_equal(st(e, 0)->rx_flooded, 4);
	/* multicast destinations are never learned */
	assert_int_equal(sw_mac_count(e->s), 2);

	/* a down port gets no flood */
	sw_port_set_up(e->s, 3, false);
	clear_got(e);
	fport_push(&e->p[0], fmac_bcast, a, 60);
	sw_poll(e->s, SEC);
	assert_int_equal(e->p[1].ngot, 1);
	assert_int_equal(e->p[2].ngot, 1);
	assert_int_equal(e->p[3].ngot, 0);
}

static void test_hairpin(void **state)
{
	struct env *e = *state;
	struct fmac a1 = fmac(2, 0xa1), a2 = fmac(2, 0xa2);

	/* one burst: a1 learned by the first frame, hairpin on the second */
	fport_push(&e->p[0], fmac_bcast, a1, 60);
	fport_push(&e->p[0], a1, a2, 60);
	assert_int_equal(sw_poll(e->s, SEC), 2);
	assert_int_equal(st(e, 0)->drops[SW_DROP_HAIRPIN], 1);
	assert_int_equal(st(e, 0)->rx_packets, 2);
	assert_int_equal(st(e, 0)->rx_flooded, 1);
	for (int i = 1; i < NPORT; i++)
		assert_int_equal(e->p[i].ngot, 1);
	assert_int_equal(mac_port(e, a2, SEC), 0);

	/* a frame to its own source is a hairpin too */
	fport_push(&e->p[0], a2, a2, 60);
	sw_poll(e->s, SEC);
	assert_int_equal(st(e, 0)->drops[SW_DROP_HAIRPIN], 2);
	for (int i = 1; i < NPORT; i++)
		assert_int_equal(e->p[i].ngot, 1);
}

static void test_mac_move(void **state)
{
	struct env *e = *state;
	struct fmac m = fmac(2, 0x42), c = fmac(2, 0xc);

	fport_push(&e->p[0], fmac_bcast, m, 60);
	sw_poll(e->s, SEC);
	assert_int_equal(mac_port(e, m, SEC), 0);
	assert_int_equal(sw_mac_count_port(e->s, 0), 1);

	/* m shows up behind B: it moves */
	fport_push(&e->p[1], fmac_bcast, m, 60);
	sw_poll(e->s, SEC);
	assert_int_equal(mac_port(e, m, SEC), 1);
	assert_int_equal(sw_mac_count_port(e->s, 0), 0);
	assert_int_equal(sw_mac_count_port(e->s, 1), 1);
	assert_int_equal(sw_mac_count(e->s), 1);

	clear_got(e);
	fport_push(&e->p[2], m, c, 60);
	sw_poll(e->s, SEC);
	assert_int_equal(e->p[1].ngot, 1);
	assert_int_equal(e->p[0].ngot, 0);
	assert_int_equal(e->p[3].ngot, 0);

	/* and back, within one burst with traffic to it */
	clear_got(e);
	fport_push(&e->p[0], c, m, 60);
	fport_push(&e->p[2], m, c, 60);
	sw_poll(e->s, SEC);
	assert_int_equal(mac_port(e, m, SEC), 0);
	assert_int_equal(fport_got_count(&e->p[0], &m, &c), 1);
	assert_int_equal(e->p[1].ngot, 0);
}

static void test_ageing(void **state)
{
	struct env *e = *state;	/* ageing_s = 10 */
	struct fmac a = fmac(2, 0xa), b = fmac(2, 0xb);

	fport_push(&e->p[0], fmac_bcast, a, 60);
	sw_poll(e->s, 1 * SEC);
	assert_int_equal(sw_mac_count(e->s), 1);
	{
		struct find_arg f = { .mac = a };

		sw_mac_foreach(e->s, 5 * SEC + SEC / 2, find_cb, &f);
		assert_int_equal(f.found, 1);
		assert_int_equal(f.e.age_s, 4);
		sw_mac_foreach(e->s, SEC / 2, find_cb, &f);	/* clock behind */
		assert_int_equal(f.e.age_s, 0);
	}

	/* traffic to a does not refresh it; only frames from it do */
	fport_push(&e->p[1], a, b, 60);
	sw_poll(e->s, 8 * SEC);
	assert_int_equal(e->p[0].ngot, 1);

	/* idle exactly ageing_s: stays */
	sw_poll(e->s, 11 * SEC);
	assert_int_equal(mac_port(e, a, 11 * SEC), 0);
	/* idle longer, but sw_poll aged less than a second ago */
	sw_poll(e->s, 11 * SEC + SEC / 2);
	assert_int_equal(mac_port(e, a, 11 * SEC), 0);
	/* a second later sw_poll ages */
	sw_poll(e->s, 12 * SEC);
	assert_int_equal(mac_port(e, a, 12 * SEC), -1);
	assert_int_equal(sw_mac_count_port(e->s, 0), 0);
	/* b (seen at 8 s) is still there */
	assert_int_equal(mac_port(e, b, 12 * SEC), 1);

	/* now a is unknown again: flooded */
	clear_got(e);
	fport_push(&e->p[1], a, b, 60);
	sw_poll(e->s, 12 * SEC);
	assert_int_equal(e->p[0].ngot, 1);
	assert_int_equal(e->p[2].ngot, 1);

	/* refreshed by its own frames, a lives on */
	for (uint64_t t = 20; t <= 30; t += 5) {
		fport_push(&e->p[0], b, a, 60);
		sw_poll(e->s, t * SEC);
	}
	sw_mac_age(e->s, 40 * SEC);
	assert_int_equal(mac_port(e, a, 40 * SEC), 0);
	assert_int_equal(mac_port(e, b, 40 * SEC), -1);
	sw_mac_age(e->s, 40 * SEC + 1);
	assert_int_equal(sw_mac_count(e->s), 0);
}

/* A floods n frames from distinct source MACs 0x66:... */
static void mac_flood(struct env *e, int port, uint8_t tag, unsigned int n,
		      uint64_t now)
{
	for (unsigned int i = 0; i < n; i++)
		fport_push(&e->p[port], fmac_bcast, fmac(tag, (uint16_t)i), 60);
	while (fport_queued(&e->p[port]))
		sw_poll(e->s, now);
}

static void test_limit_per_port(void **state)
{
	struct sw_config c;
	struct env *e;
	struct fmac b = fmac(2, 0xb), a = fmac(2, 0xa);

	sw_config_default(&c);
	c.mac_max = 64;
	c.mac_max_per_port = 8;
	e = env_new(&c);
	*state = e;

	fport_push(&e->p[1], fmac_bcast, b, 60);
	sw_poll(e->s, SEC);
	clear_got(e);

	mac_flood(e, 0, 0x66, 1000, SEC);
	assert_int_equal(sw_mac_count_port(e->s, 0), 8);
	assert_int_equal(st(e, 0)->learn_refused, 992);
	assert_int_equal(st(e, 0)->rx_packets, 1000);
	assert_int_equal(st(e, 0)->rx_flooded, 1000);
	/* refused MACs are still forwarded */
	for (int i = 1; i < NPORT; i++)
		assert_int_equal(e->p[i].ngot, 1000);
	/* B's MAC was not evicted */
	assert_int_equal(mac_port(e, b, SEC), 1);
	assert_int_equal(sw_mac_count(e->s), 9);
	clear_got(e);
	fport_push(&e->p[2], b, fmac(2, 0xc), 60);
	sw_poll(e->s, SEC);
	assert_int_equal(e->p[1].ngot, 1);
	assert_int_equal(e->p[0].ngot, 0);

	/* a full port cannot take B's MAC either: the move is refused */
	fport_push(&e->p[0], a, b, 60);
	sw_poll(e->s, SEC);
	assert_int_equal(mac_port(e, b, SEC), 1);
	assert_int_equal(st(e, 0)->learn_refused, 993);
	assert_int_equal(sw_mac_count_port(e->s, 0), 8);

	/* other ports still learn */
	mac_flood(e, 2, 0x6a, 5, SEC);
	assert_int_equal(sw_mac_count_port(e->s, 2), 6);
	assert_int_equal(st(e, 2)->learn_refused, 0);
}

static void test_limit_global(void **state)
{
	struct sw_config c;
	struct env *e;
	struct fmac b = fmac(2, 0xb), b2 = fmac(2, 0xb2);

	sw_config_default(&c);
	c.mac_max = 20;
	c.mac_max_per_port = 8;
	c.ageing_s = 10;
	e = env_new(&c);
	*state = e;

	fport_push(&e->p[1], fmac_bcast, b, 60);
	sw_poll(e->s, SEC);
	mac_flood(e, 0, 0x66, 100, 2 * SEC);
	mac_flood(e, 2, 0x6a, 100, 2 * SEC);
	assert_int_equal(sw_mac_count(e->s), 17);
	mac_flood(e, 3, 0x6e, 100, 2 * SEC);
	assert_int_equal(sw_mac_count(e->s), 20);
	assert_int_equal(sw_mac_count_port(e->s, 3), 3);
	assert_int_equal(st(e, 3)->learn_refused, 97);
	assert_int_equal(e->p[1].ngot, 300);	/* all still flooded */

	/* table full: B's new MAC is refused, its frame still forwarded */
	clear_got(e);
	fport_push(&e->p[1], fmac_bcast, b2, 60);
	sw_poll(e->s, 3 * SEC);
	assert_int_equal(st(e, 1)->learn_refused, 1);
	assert_int_equal(e->p[0].ngot, 1);
	assert_int_equal(mac_port(e, b2, 3 * SEC), -1);
	assert_int_equal(mac_port(e, b, 3 * SEC), 1);

	/* once the flood ages out B learns again */
	fport_push(&e->p[1], fmac_bcast, b, 60);
	sw_poll(e->s, 12 * SEC);	/* flood MACs idle 10 s stay; b re-learned */
	assert_int_equal(sw_mac_count(e->s), 20);
	fport_push(&e->p[1], fmac_bcast, b2, 60);
	sw_poll(e->s, 13 * SEC);	/* now aged, then b2 learned */
	assert_int_equal(mac_port(e, b2, 13 * SEC), 1);
	assert_int_equal(mac_port(e, b, 13 * SEC), 1);
	assert_int_equal(sw_mac_count(e->s), 2);
}

static void test_port_down(void **state)
{
	struct env *e = *state;
	struct fmac a = fmac(2, 0xa), c1 = fmac(2, 0xc1), c2 = fmac(2, 0xc2);

	fport_push(&e->p[2], fmac_bcast, c1, 60);
	fport_push(&e->p[2], fmac_bcast, c2, 60);
	fport_push(&e->p[0], fmac_bcast, a, 60);
	sw_poll(e->s, SEC);
	assert_int_equal(sw_mac_count_port(e->s, 2), 2);
	assert_int_equal(sw_mac_count(e->s), 3);

	sw_port_set_up(e->s, 2, false);
	assert_false(sw_port_is_up(e->s, 2));
	assert_int_equal(sw_mac_count_port(e->s, 2), 0);
	assert_int_equal(sw_mac_count(e->s), 1);
	assert_int_equal(mac_port(e, c1, SEC), -1);

	/* not polled, gets nothing; its MACs are unknown: flooded elsewhere */
	clear_got(e);
	fport_push(&e->p[2], fmac_bcast, c1, 60);
	fport_push(&e->p[0], c1, a, 60);
	fport_push(&e->p[0], fmac_bcast, a, 60);
	unsigned long rc = e->p[2].recv_calls, sc = e->p[2].send_calls;

	assert_int_equal(sw_poll(e->s, SEC), 2);
	assert_int_equal(e->p[2].recv_calls, rc);
	assert_int_equal(e->p[2].send_calls, sc);
	assert_int_equal(fport_queued(&e->p[2]), 1);
	assert_int_equal(e->p[1].ngot, 2);
	assert_int_equal(e->p[3].ngot, 2);

	/* up again: polled and learned */
	sw_port_set_up(e->s, 2, true);
	assert_true(sw_port_is_up(e->s, 2));
	assert_int_equal(sw_poll(e->s, SEC), 1);
	assert_int_equal(mac_port(e, c1, SEC), 2);
	assert_int_equal(e->p[2].ngot, 0);
	assert_int_equal(st(e, 2)->drops[SW_DROP_PORT_DOWN], 0);
}

static void test_egress_errors(void **state)
{
	struct env *e = *state;
	struct fmac a = fmac(2, 0xa), m[NPORT];

	for (int i = 1; i < NPORT; i++) {
		m[i] = fmac(2, (uint16_t)(0xb0 + i));
		fport_push(&e->p[i], a, m[i], 60);
		sw_poll(e->s, SEC);
	}
	sw_port_stats_clear(e->s, 0);
	for (int i = 1; i < NPORT; i++)
		sw_port_stats_clear(e->s, i);
	clear_got(e);
	for (int i = 0; i < NPORT; i++)
		e->p[i].flushes = 0;
	e->p[1].send_rc = -ENOBUFS;
	e->p[2].send_rc = -EMSGSIZE;
	e->p[3].send_rc = -EIO;

	for (int i = 1; i < NPORT; i++)
		fport_push(&e->p[0], m[i], a, 60);
	fport_push(&e->p[0], fmac_bcast, a, 60);
	assert_int_equal(sw_poll(e->s, SEC), 4);
	assert_int_equal(st(e, 1)->drops[SW_DROP_NO_BUFFER], 2);
	assert_int_equal(st(e, 2)->drops[SW_DROP_TOO_BIG], 2);
	assert_int_equal(st(e, 3)->drops[SW_DROP_PORT_ERROR], 2);
	for (int i = 1; i < NPORT; i++) {
		assert_int_equal(st(e, i)->tx_packets, 0);
		assert_int_equal(st(e, i)->tx_bytes, 0);
		assert_int_equal(e->p[i].flushes, 0);	/* got nothing */
	}
	/* the ingress port saw no drop of its own */
	for (int d = 0; d < SW_DROP_MAX; d++)
		assert_int_equal(st(e, 0)->drops[d], 0);
	assert_int_equal(st(e, 0)->rx_packets, 4);

	/* one failing receiver does not stop the flood to the others */
	e->p[2].send_rc = 0;
	e->p[3].send_rc = -EAGAIN;	/* unexpected: port error */
	fport_push(&e->p[0], fmac_bcast, a, 60);
	sw_poll(e->s, SEC);
	assert_int_equal(st(e, 2)->tx_packets, 1);
	assert_int_equal(e->p[2].flushes, 1);
	assert_int_equal(st(e, 3)->drops[SW_DROP_PORT_ERROR], 3);
	assert_int_equal(st(e, 1)->drops[SW_DROP_NO_BUFFER], 3);
}

static void test_budget_fairness(void **state)
{
	struct env *e = *state;	/* port_budget = 256 */
	struct fmac a = fmac(2, 0xa), b = fmac(2, 0xb);
	struct fmac c = fmac(2, 0xc), d = fmac(2, 0xd);

	fport_push(&e->p[1], fmac_bcast, b, 60);
	fport_push(&e->p[2], fmac_bcast, c, 60);
	sw_poll(e->s, SEC);
	clear_got(e);

	for (int i = 0; i < 10000; i++)
		fport_push(&e->p[0], b, a, 60);
	for (int i = 0; i < 10; i++)
		fport_push(&e->p[3], c, d, 60);
	assert_int_equal(sw_poll(e->s, SEC), 256 + 10);
	assert_int_equal(fport_queued(&e->p[3]), 0);
	assert_int_equal(e->p[2].ngot, 10);
	assert_int_equal(e->p[1].ngot, 256);
	assert_int_equal(fport_queued(&e->p[0]), 10000 - 256);
	assert_int_equal(e->p[0].max_want, SW_BURST);
	/* delivered in order */
	for (unsigned int i = 1; i < e->p[1].ngot; i++)
		assert_true(e->p[1].got[i].seq == e->p[1].got[i - 1].seq + 1);

	/* the rest drains at 256 per call */
	unsigned int calls = 1;

	while (fport_queued(&e->p[0])) {
		unsigned int n = fport_queued(&e->p[0]);

		assert_int_equal(sw_poll(e->s, SEC), n < 256 ? n : 256);
		calls++;
	}
	assert_int_equal(calls, (10000 + 255) / 256);
	assert_int_equal(e->p[1].ngot, 10000);
	assert_int_equal(st(e, 0)->rx_packets, 10000);
}

static void test_budget_not_burst_multiple(void **state)
{
	struct sw_config c;
	struct env *e;

	sw_config_default(&c);
	c.port_budget = 40;
	e = env_new(&c);
	*state = e;
	for (int i = 0; i < 100; i++)
		fport_push(&e->p[0], fmac_bcast, fmac(2, 0xa), 60);
	for (int i = 0; i < 100; i++)
		fport_push(&e->p[1], fmac_bcast, fmac(2, 0xb), 60);
	assert_int_equal(sw_poll(e->s, SEC), 80);
	assert_int_equal(e->p[0].recv_frames, 40);
	assert_int_equal(e->p[1].recv_frames, 40);
	assert_int_equal(e->p[0].max_want, SW_BURST);
	assert_int_equal(sw_poll(e->s, SEC), 80);
	assert_int_equal(sw_poll(e->s, SEC), 40);
	assert_int_equal(sw_poll(e->s, SEC), 0);
}

static void test_rotation(void **state)
{
	struct env *e = *state;
	int first[2 * NPORT];

	for (int i = 0; i < 2 * NPORT; i++) {
		fport_first = -1;
		sw_poll(e->s, SEC);
		first[i] = fport_first;
	}
	for (int i = 0; i < 2 * NPORT; i++)
		assert_int_equal(first[i], (first[0] + i) % NPORT);

	/* with a port down, the others still take turns */
	sw_port_set_up(e->s, 1, false);
	int seen[NPORT] = { 0 };

	for (int i = 0; i < 3 * (NPORT - 1); i++) {
		fport_first = -1;
		sw_poll(e->s, SEC);
		assert_int_not_equal(fport_first, 1);
		seen[fport_first]++;
	}
	assert_int_equal(seen[0], 3);
	assert_int_equal(seen[2], 3);
	assert_int_equal(seen[3], 3);
}

static void test_remove_readd(void **state)
{
	struct env *e = *state;
	struct fmac a = fmac(2, 0xa), b = fmac(2, 0xb);
	struct fport extra[SW_MAX_PORTS];
	char name[16];

	fport_push(&e->p[1], fmac_bcast, b, 60);
	sw_poll(e->s, SEC);
	assert_int_equal(mac_port(e, b, SEC), 1);

	sw_port_remove(e->s, 1);
	assert_null(sw_port_name(e->s, 1));
	assert_null(sw_port_stats(e->s, 1));
	assert_false(sw_port_is_up(e->s, 1));
	assert_int_equal(sw_mac_count_port(e->s, 1), 0);
	assert_int_equal(sw_mac_count(e->s), 0);
	unsigned long rc = e->p[1].recv_calls, sc = e->p[1].send_calls;

	clear_got(e);
	fport_push(&e->p[0], b, a, 60);
	sw_poll(e->s, SEC);
	assert_int_equal(e->p[1].recv_calls, rc);
	assert_int_equal(e->p[1].send_calls, sc);
	assert_int_equal(e->p[2].ngot, 1);
	assert_int_equal(e->p[3].ngot, 1);

	/* re-added: the free id again, down, clean counters */
	e->p[1].id = sw_port_add(e->s, "B2", &fport_ops, &e->p[1]);
	assert_int_equal(e->p[1].id, 1);
	assert_string_equal(sw_port_name(e->s, 1), "B2");
	assert_false(sw_port_is_up(e->s, 1));
	assert_int_equal(st(e, 1)->tx_packets, 0);
	assert_int_equal(st(e, 1)->rx_packets, 0);
	fport_push(&e->p[0], b, a, 60);
	sw_poll(e->s, SEC);
	assert_int_equal(e->p[1].send_calls, sc);	/* down: nothing */
	sw_port_set_up(e->s, 1, true);
	fport_push(&e->p[1], fmac_bcast, b, 60);
	sw_poll(e->s, SEC);
	assert_int_equal(mac_port(e, b, SEC), 1);
	fport_push(&e->p[0], b, a, 60);
	clear_got(e);
	sw_poll(e->s, SEC);
	assert_int_equal(e->p[1].ngot, 1);
	assert_int_equal(e->p[2].ngot, 0);

	/* fill every id */
	for (int i = NPORT; i < SW_MAX_PORTS; i++) {
		snprintf(name, sizeof(name), "x%d", i);
		fport_init(&extra[i], e->s, name);
		assert_int_equal(fport_attach(&extra[i]), i);
	}
	assert_int_equal(sw_port_add(e->s, "one-too-many", &fport_ops, e),
			 -ENOSPC);
	sw_poll(e->s, SEC);
	for (int i = NPORT; i < SW_MAX_PORTS; i++)
		assert_int_equal(extra[i].recv_calls, 1);
	/* a broadcast reaches all 63 others */
	fport_push(&e->p[0], fmac_bcast, a, 60);
	sw_poll(e->s, SEC);
	for (int i = NPORT; i < SW_MAX_PORTS; i++)
		assert_int_equal(extra[i].ngot, 1);
	sw_port_remove(e->s, 40);
	assert_int_equal(sw_port_add(e->s, "again", &fport_ops, &extra[40]),
			 40);
	for (int i = NPORT; i < SW_MAX_PORTS; i++)
		fport_fini(&extra[i]);
}

static void test_bad_args(void **state)
{
	struct env *e = *state;
	struct sw_port_ops bad = fport_ops;
	char longname[100];

	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	assert_int_equal(sw_port_add(e->s, NULL, &fport_ops, e), -EINVAL);
	assert_int_equal(sw_port_add(e->s, "", &fport_ops, e), -EINVAL);
	assert_int_equal(sw_port_add(e->s, longname, &fport_ops, e), -EINVAL);
	assert_int_equal(sw_port_add(e->s, "x", NULL, e), -EINVAL);
	bad.flush = NULL;
	assert_int_equal(sw_port_add(e->s, "x", &bad, e), -EINVAL);
	bad = fport_ops;
	bad.recv = NULL;
	assert_int_equal(sw_port_add(e->s, "x", &bad, e), -EINVAL);

	for (int p = -2; p < SW_MAX_PORTS + 2; p++) {
		if (p >= 0 && p < NPORT)
			continue;
		sw_port_remove(e->s, p);
		sw_port_set_up(e->s, p, true);
		sw_port_stats_clear(e->s, p);
		assert_false(sw_port_is_up(e->s, p));
		assert_null(sw_port_name(e->s, p));
		assert_null(sw_port_stats(e->s, p));
		assert_int_equal(sw_mac_count_port(e->s, p), 0);
	}
	/* nothing happened to the real ports */
	assert_int_equal(sw_poll(e->s, SEC), 0);
	for (int i = 0; i < NPORT; i++)
		assert_int_equal(e->p[i].recv_calls, 1);
}

struct collect {
	struct sw_mac_entry e[16];
	int n, stop_at;
};

static int collect_cb(const struct sw_mac_entry *me, void *arg)
{
	struct collect *c = arg;

	c->e[c->n++] = *me;
	return c->n == c->stop_at ? 77 : 0;
}

static void test_foreach(void **state)
{
	struct env *e = *state;
	struct fmac m[3] = { fmac(2, 1), fmac(0x0a, 0x0102), fmac(0xfe, 0xffff) };
	struct collect c = { .n = 0 };

	assert_int_equal(sw_mac_foreach(e->s, SEC, collect_cb, &c), 0);
	assert_int_equal(c.n, 0);

	fport_push(&e->p[0], fmac_bcast, m[0], 60);
	sw_poll(e->s, 1 * SEC);
	fport_push(&e->p[1], fmac_bcast, m[1], 60);
	sw_poll(e->s, 3 * SEC);
	fport_push(&e->p[3], fmac_bcast, m[2], 60);
	sw_poll(e->s, 6 * SEC);

	assert_int_equal(sw_mac_foreach(e->s, 7 * SEC, collect_cb, &c), 0);
	assert_int_equal(c.n, 3);
	for (int i = 0; i < 3; i++) {
		int j;

		for (j = 0; j < c.n; j++)
			if (memcmp(c.e[j].mac, m[i].b, SW_ETH_ALEN) == 0)
				break;
		assert_true(j < c.n);
		assert_int_equal(c.e[j].port, i == 2 ? 3 : i);
		assert_int_equal(c.e[j].age_s, i == 0 ? 6 : i == 1 ? 4 : 1);
	}

	c.n = 0;
	c.stop_at = 2;
	assert_int_equal(sw_mac_foreach(e->s, 7 * SEC, collect_cb, &c), 77);
	assert_int_equal(c.n, 2);
}

static void test_bad_frames(void **state)
{
	struct env *e = *state;
	struct fmac a = fmac(2, 0xa), zero = { { 0 } };
	struct fmac mcsrc = fmac(3, 0xa);	/* I/G bit set */

	fport_push(&e->p[0], fmac_bcast, a, 13);
	fport_push(&e->p[0], fmac_bcast, a, 0);
	fport_push(&e->p[0], fmac_bcast, mcsrc, 60);
	fport_push(&e->p[0], fmac_bcast, zero, 60);
	fport_push(&e->p[0], fmac(2, 0xb), fmac_bcast, 60);
	fport_push(&e->p[0], fmac_bcast, a, 14);	/* header only: fine */
	assert_int_equal(sw_poll(e->s, SEC), 6);
	assert_int_equal(st(e, 0)->drops[SW_DROP_RUNT], 2);
	assert_int_equal(st(e, 0)->drops[SW_DROP_BAD_SRC], 3);
	assert_int_equal(st(e, 0)->rx_packets, 6);
	assert_int_equal(st(e, 0)->rx_bytes, 13 + 0 + 3 * 60 + 14);
	assert_int_equal(st(e, 0)->rx_flooded, 1);
	assert_int_equal(st(e, 0)->learn_refused, 0);
	for (int i = 1; i < NPORT; i++) {
		assert_int_equal(e->p[i].ngot, 1);
		assert_int_equal(e->p[i].got[0].len, 14);
	}
	/* only the good source was learned (the runt's was not) */
	assert_int_equal(sw_mac_count(e->s), 1);
	assert_int_equal(mac_port(e, a, SEC), 0);
}

static void test_one_flush_per_burst(void **state)
{
	struct env *e = *state;
	struct fmac a = fmac(2, 0xa), b = fmac(2, 0xb);

	fport_push(&e->p[1], fmac_bcast, b, 60);
	sw_poll(e->s, SEC);
	for (int i = 0; i < NPORT; i++)
		e->p[i].flushes = 0;
	for (int i = 0; i < SW_BURST; i++)
		fport_push(&e->p[0], i & 1 ? fmac_bcast : b, a, 60);
	unsigned long rd = e->p[0].recv_done_calls;

	sw_poll(e->s, SEC);
	assert_int_equal(e->p[0].recv_done_calls, rd + 2);	/* full, then empty */
	assert_int_equal(e->p[1].flushes, 1);
	assert_int_equal(e->p[2].flushes, 1);
	assert_int_equal(e->p[3].flushes, 1);
	assert_int_equal(e->p[1].ngot, SW_BURST);
	assert_int_equal(e->p[2].ngot, 1 + SW_BURST / 2);
	/* nothing sent: no flush at all */
	sw_poll(e->s, SEC);
	assert_int_equal(e->p[1].flushes, 1);
}

/* From inside a send, take port D down. */
static void take_d_down(struct fport *p)
{
	struct env *e = p->arg;

	sw_port_set_up(e->s, 3, false);
	p->on_send = NULL;
}

static void test_port_down_mid_burst(void **state)
{
	struct env *e = *state;
	struct fmac a = fmac(2, 0xa), d = fmac(2, 0xd);

	fport_push(&e->p[3], fmac_bcast, d, 60);
	sw_poll(e->s, SEC);
	clear_got(e);
	e->p[1].on_send = take_d_down;
	e->p[1].arg = e;
	fport_push(&e->p[0], fmac_bcast, a, 60);	/* B first, then not D */
	fport_push(&e->p[0], d, a, 60);			/* classified for D */
	fport_push(&e->p[0], fmac_bcast, a, 60);
	assert_int_equal(sw_poll(e->s, SEC), 3);
	assert_int_equal(e->p[3].ngot, 0);
	assert_int_equal(e->p[1].ngot, 2);
	assert_int_equal(e->p[2].ngot, 2);
	assert_int_equal(st(e, 0)->drops[SW_DROP_PORT_DOWN], 1);
	assert_int_equal(st(e, 0)->rx_packets, 3);
}

/* From inside a send, take port A (the ingress) down. */
static void take_a_down(struct fport *p)
{
	struct env *e = p->arg;

	sw_port_set_up(e->s, 0, false);
	p->on_send = NULL;
}

static void test_ingress_down_mid_burst(void **state)
{
	struct env *e = *state;

	e->p[2].on_send = take_a_down;
	e->p[2].arg = e;
	for (int i = 0; i < 3; i++)
		fport_push(&e->p[0], fmac_bcast, fmac(2, 0xa), 60 + i);
	assert_int_equal(sw_poll(e->s, SEC), 3);
	/* the first frame is flooded on (the flood is under way) ... */
	assert_int_equal(e->p[1].ngot, 1);
	assert_int_equal(e->p[2].ngot, 1);
	assert_int_equal(e->p[3].ngot, 1);
	/* ... the rest are dropped, and the port gets its buffers back */
	assert_int_equal(st(e, 0)->drops[SW_DROP_PORT_DOWN], 2);
	assert_int_equal(st(e, 0)->rx_packets, 3);
	assert_int_equal(st(e, 0)->rx_bytes, 60 + 61 + 62);
	assert_int_equal(e->p[0].recv_done_calls, 1);
	assert_int_equal(sw_mac_count(e->s), 0);
}

/* Remove the ingress port from inside a send: no recv_done to a ghost. */
static void remove_a(struct fport *p)
{
	struct env *e = p->arg;

	sw_port_remove(e->s, 0);
	p->on_send = NULL;
}

static void test_ingress_removed_mid_burst(void **state)
{
	struct env *e = *state;

	e->p[1].on_send = remove_a;
	e->p[1].arg = e;
	fport_push(&e->p[0], fmac_bcast, fmac(2, 0xa), 60);
	fport_push(&e->p[0], fmac_bcast, fmac(2, 0xa), 60);
	assert_int_equal(sw_poll(e->s, SEC), 2);
	assert_int_equal(e->p[1].ngot, 1);	/* the rest: port gone */
	assert_int_equal(e->p[0].recv_done_calls, 0);
	assert_null(sw_port_stats(e->s, 0));
	e->p[0].in_burst = false;		/* the port's owner cleans up */
	assert_int_equal(sw_mac_count(e->s), 0);
}

static void test_stats_clear(void **state)
{
	struct env *e = *state;

	fport_push(&e->p[0], fmac_bcast, fmac(2, 0xa), 60);
	fport_push(&e->p[0], fmac_bcast, fmac(2, 0xa), 3);
	sw_poll(e->s, SEC);
	assert_int_equal(st(e, 0)->rx_packets, 2);
	sw_port_stats_clear(e->s, 0);
	const struct sw_port_stats *s = st(e, 0);
	static const struct sw_port_stats zero;

	assert_memory_equal(s, &zero, sizeof(zero));
	assert_int_equal(st(e, 1)->tx_packets, 1);
	assert_int_equal(sw_mac_count(e->s), 1);	/* table untouched */
}

static void test_config(void **state)
{
	struct sw_config c, d;
	struct sw *s;

	(void)state;
	sw_config_default(&d);
	assert_true(d.mac_max >= d.mac_max_per_port);
	assert_true(d.ageing_s > 0 && d.port_budget >= SW_BURST);
	s = sw_create(&d);
	assert_non_null(s);
	sw_destroy(s);
	sw_destroy(NULL);
	assert_null(sw_create(NULL));
	c = d; c.mac_max = 0;
	assert_null(sw_create(&c));
	c = d; c.mac_max = UINT32_MAX;
	assert_null(sw_create(&c));
	c = d; c.mac_max_per_port = 0;
	assert_null(sw_create(&c));
	c = d; c.ageing_s = 0;
	assert_null(sw_create(&c));
	c = d; c.port_budget = 0;
	assert_null(sw_create(&c));
	c = d; c.mac_max = 1; c.mac_max_per_port = 1000;
	s = sw_create(&c);
	assert_non_null(s);
	sw_destroy(s);

	for (int i = 0; i < SW_DROP_MAX; i++) {
		const char *n = sw_drop_names[i];

		assert_non_null(n);
		assert_true(strlen(n) > 0 && strlen(n) < 16);
		for (const char *p = n; *p; p++)
			assert_true((*p >= 'a' && *p <= 'z') || *p == '_');
		for (int j = 0; j < i; j++)
			assert_string_not_equal(n, sw_drop_names[j]);
	}
	assert_string_equal(sw_drop_names[SW_DROP_NO_BUFFER], "no_buffer");
}

/*
 * SipHash-1-3 with the zero key against CPython 3.11's bytes hash, which
 * is SipHash-1-3 and uses the zero key under PYTHONHASHSEED=0:
 *   PYTHONHASHSEED=0 python3 -c 'print(hex(hash(bytes.fromhex(M)) % 2**64))'
 */
static void test_hash_vectors(void **state)
{
	static const struct {
		uint8_t m[6];
		uint64_t h;
	} v[] = {
		{ { 0x00, 0x01, 0x02, 0x03, 0x04, 0x05 }, 0xe3c25f87624f1cdbULL },
		{ { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 }, 0xa5abe70802e6ec88ULL },
		{ { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, 0x4a9cf01eb04a747aULL },
	};
	struct sw_hash_key k, k2;

	(void)state;
	sw_hash_init(&k, 0, 0);
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		assert_int_equal(sw_hash_mac(&k, sw_mac_key(v[i].m)), v[i].h);
	/* the key matters */
	sw_hash_init(&k2, 1, 0);
	assert_int_not_equal(sw_hash_mac(&k2, sw_mac_key(v[0].m)), v[0].h);
	assert_int_equal(sw_mac_key(v[1].m), 0x563412005452ULL);
}

/* ---- randomized comparison with a model of the MAC table ---- */

#define MPOOL 24

struct model {
	bool valid[MPOOL];
	int port[MPOOL];
	uint64_t seen[MPOOL];
	uint32_t count, pcount[NPORT];
	bool up[NPORT];
	uint64_t next_age;
};

static uint64_t rng;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)((rng >> 11) % n);
}

static void model_age(struct model *m, const struct sw_config *c, uint64_t now)
{
	m->next_age = now + SEC;
	for (int i = 0; i < MPOOL; i++) {
		if (m->valid[i] && now > m->seen[i] &&
		    now - m->seen[i] > (uint64_t)c->ageing_s * SEC) {
			m->valid[i] = false;
			m->count--;
			m->pcount[m->port[i]]--;
		}
	}
}

static void model_flush(struct model *m, int p)
{
	for (int i = 0; i < MPOOL; i++) {
		if (m->valid[i] && m->port[i] == p) {
			m->valid[i] = false;
			m->count--;
			m->pcount[p]--;
		}
	}
}

static void model_learn(struct model *m, const struct sw_config *c, int in,
			int i, uint64_t now)
{
	if (m->valid[i] && m->port[i] == in) {
		m->seen[i] = now;
		return;
	}
	if (m->pcount[in] >= c->mac_max_per_port ||
	    (!m->valid[i] && m->count >= c->mac_max))
		return;
	if (m->valid[i]) {
		m->pcount[m->port[i]]--;
	} else {
		m->count++;
		m->valid[i] = true;
	}
	m->pcount[in]++;
	m->port[i] = in;
	m->seen[i] = now;
}

/* Ports that should get a frame from in to pool index d (-1: bcast). */
static unsigned int model_dest(const struct model *m, int in, int d)
{
	unsigned int all = 0;

	for (int p = 0; p < NPORT; p++)
		if (m->up[p] && p != in)
			all |= 1U << p;
	if (d < 0 || !m->valid[d] || !m->up[m->port[d]])
		return all;
	return m->port[d] == in ? 0 : 1U << m->port[d];
}

static void model_check(struct env *e, const struct model *m,
			const struct fmac *pool, uint64_t now)
{
	assert_int_equal(sw_mac_count(e->s), m->count);
	for (int p = 0; p < NPORT; p++)
		assert_int_equal(sw_mac_count_port(e->s, p), m->pcount[p]);
	for (int i = 0; i < MPOOL; i++) {
		struct find_arg a = { .mac = pool[i] };

		sw_mac_foreach(e->s, now, find_cb, &a);
		assert_int_equal(a.found, m->valid[i] ? 1 : 0);
		if (a.found) {
			assert_int_equal(a.e.port, m->port[i]);
			assert_int_equal(a.e.age_s, (now - m->seen[i]) / SEC);
		}
	}
}

static void run_model(uint64_t seed, unsigned int steps)
{
	struct sw_config c = {
		.mac_max = 7, .mac_max_per_port = 4, .ageing_s = 5,
		.port_budget = 256,
	};
	struct env *e = env_new(&c);
	struct model m = { .next_age = 0 };
	struct fmac pool[MPOOL];
	uint64_t now = SEC;

	rng = seed;
	for (int i = 0; i < MPOOL; i++) {
		for (int b = 0; b < SW_ETH_ALEN; b++)
			pool[i].b[b] = (uint8_t)rnd(256);
		pool[i].b[0] = (uint8_t)((pool[i].b[0] & 0xfe) | 0x02);
		pool[i].b[5] = (uint8_t)i;	/* distinct */
	}
	for (int p = 0; p < NPORT; p++)
		m.up[p] = true;

	for (unsigned int step = 0; step < steps; step++) {
		uint32_t op = rnd(100);
		int p = (int)rnd(NPORT);

		now += rnd(1500) * (SEC / 1000);
		if (op < 80) {
			unsigned int n = 1 + rnd(6), want[8];
			int src[8], dst[8];

			if (!m.up[p])
				continue;
			clear_got(e);
			e->p[p].qhead = e->p[p].qtail = 0;
			for (unsigned int k = 0; k < n; k++) {
				src[k] = (int)rnd(MPOOL);
				dst[k] = rnd(8) ? (int)rnd(MPOOL) : -1;
				fport_push(&e->p[p],
					   dst[k] < 0 ? fmac_bcast : pool[dst[k]],
					   pool[src[k]], 60);
			}
			if (now >= m.next_age)
				model_age(&m, &c, now);
			for (unsigned int k = 0; k < n; k++) {
				model_learn(&m, &c, p, src[k], now);
				want[k] = model_dest(&m, p, dst[k]);
			}
			assert_int_equal(sw_poll(e->s, now), n);
			for (unsigned int k = 0; k < n; k++) {
				unsigned int got = 0;

				for (int q = 0; q < NPORT; q++)
					for (unsigned int g = 0; g < e->p[q].ngot; g++)
						if (e->p[q].got[g].seq == k)
							got |= 1U << q;
				if (got != want[k])
					fail_msg("seed %llu step %u frame %u: got %#x want %#x",
						 (unsigned long long)seed, step, k,
						 got, want[k]);
			}
		} else if (op < 90) {
			m.up[p] = !m.up[p];
			sw_port_set_up(e->s, p, m.up[p]);
			if (!m.up[p])
				model_flush(&m, p);
		} else if (op < 94) {
			sw_port_remove(e->s, p);
			model_flush(&m, p);
			assert_int_equal(sw_port_add(e->s, e->p[p].name, &fport_ops,
						     &e->p[p]), p);
			m.up[p] = rnd(2);
			sw_port_set_up(e->s, p, m.up[p]);
		} else {
			sw_mac_age(e->s, now);
			model_age(&m, &c, now);
		}
		model_check(e, &m, pool, now);
	}
	env_free(e);
}

static void test_model(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= 8; seed++)
		run_model(seed * 0x9e3779b97f4a7c15ULL, 5000);
}

/*
 * With send_burst: runs of unicast frames to one port go in one call, in
 * order, and a frame that fails in the middle of a run is counted as a
 * drop on its own while the rest are delivered.
 */
static void test_send_burst_runs(void **state)
{
	struct env *e = *state;
	struct fmac a = fmac(2, 0xa), b = fmac(2, 0xb), c = fmac(2, 0xc);

	if (!fport_burst)
		skip();
	fport_push(&e->p[1], a, b, 60);
	fport_push(&e->p[2], a, c, 60);
	sw_poll(e->s, SEC);
	clear_got(e);
	for (int i = 1; i < NPORT; i++)
		sw_port_stats_clear(e->s, i);
	sw_port_stats_clear(e->s, 0);
	/* B B B C C B B B: three runs */
	for (int i = 0; i < 8; i++)
		fport_push(&e->p[0], (i == 3 || i == 4) ? c : b, a, (uint32_t)(60 + i));
	e->p[1].burst_calls = e->p[2].burst_calls = 0;
	assert_int_equal(sw_poll(e->s, SEC), 8);
	assert_int_equal(e->p[1].burst_calls, 2);
	assert_int_equal(e->p[2].burst_calls, 1);
	assert_int_equal(e->p[1].ngot, 6);
	assert_int_equal(e->p[2].ngot, 2);
	for (unsigned int i = 1; i < 6; i++)
		assert_true(e->p[1].got[i].seq > e->p[1].got[i - 1].seq);
	assert_int_equal(st(e, 1)->tx_packets, 6);
	assert_int_equal(st(e, 1)->tx_bytes, 60 + 61 + 62 + 65 + 66 + 67);
	assert_int_equal(st(e, 0)->rx_bytes, 8 * 60 + 28);

	/* every second send to B fails: half delivered, half counted */
	clear_got(e);
	sw_port_stats_clear(e->s, 1);
	sw_port_stats_clear(e->s, 0);
	e->p[1].send_calls = 0;
	e->p[1].fail_every = 2;
	for (int i = 0; i < SW_BURST; i++)
		fport_push(&e->p[0], b, a, 60);
	assert_int_equal(sw_poll(e->s, SEC), SW_BURST);
	assert_int_equal(st(e, 1)->tx_packets, SW_BURST / 2);
	assert_int_equal(st(e, 1)->tx_bytes, SW_BURST / 2 * 60);
	assert_int_equal(st(e, 1)->drops[SW_DROP_NO_BUFFER], SW_BURST / 2);
	assert_int_equal(e->p[1].ngot, SW_BURST / 2);
	assert_int_equal(st(e, 0)->rx_packets, SW_BURST);
	assert_int_equal(st(e, 0)->rx_bytes, SW_BURST * 60);
}

static int burst_on(void **state)
{
	(void)state;
	fport_burst = true;
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_learn_then_unicast, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flood_bcast_mcast_unknown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hairpin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mac_move, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ageing, setup, teardown),
		cmocka_unit_test_teardown(test_limit_per_port, teardown),
		cmocka_unit_test_teardown(test_limit_global, teardown),
		cmocka_unit_test_setup_teardown(test_port_down, setup, teardown),
		cmocka_unit_test_setup_teardown(test_egress_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_budget_fairness, setup, teardown),
		cmocka_unit_test_teardown(test_budget_not_burst_multiple, teardown),
		cmocka_unit_test_setup_teardown(test_rotation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove_readd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_args, setup, teardown),
		cmocka_unit_test_setup_teardown(test_foreach, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_frames, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_flush_per_burst, setup, teardown),
		cmocka_unit_test_setup_teardown(test_port_down_mid_burst, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ingress_down_mid_burst, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ingress_removed_mid_burst, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stats_clear, setup, teardown),
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_hash_vectors),
		cmocka_unit_test(test_model),
		cmocka_unit_test_setup_teardown(test_send_burst_runs, setup, teardown),
	};
	int rc;

	/* Once with send() only, once with ports that take send_burst too. */
	rc = cmocka_run_group_tests_name("send", tests, NULL, NULL);
	rc |= cmocka_run_group_tests_name("send_burst", tests, burst_on, NULL);
	return rc;
}
