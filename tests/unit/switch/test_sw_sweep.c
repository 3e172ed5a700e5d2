/* SPDX-License-Identifier: MIT */
/*
 * The ageing sweep against a model, with slices so small (sw.c included
 * with SW_AGE_BUDGET 4) that a sweep of a 64-slot table spans many polls while
 * frames are learned, ports flush their MACs and go down, and the clock
 * jumps.  The model does not guess when the sweep removes an entry; it
 * holds the switch to what the sweep promises: an entry idle at most
 * ageing_s is there, one idle longer may be gone, and one already idle
 * longer when a sweep started is gone when that sweep ends.  Flushes
 * during a sweep move entries back across its cursor; this catches a
 * sweep that would then miss them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fport.h"
#include "sw.c"	/* NOLINT(bugprone-suspicious-include): white box */

#define SEC 1000000000ULL
#define NPORT 4
#define POOL 28			/* below mac_max: learning is never refused */

static uint64_t rng;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)((rng >> 11) % n);
}

struct model {
	bool valid[POOL], up[NPORT];
	int port[POOL];
	uint64_t seen[POOL];
	/* the sweep under way: when it started, and its number once done */
	bool sweeping;
	uint64_t sweep_start, sweep_done_at;
};

/* The table as sw_mac_foreach shows it. */
struct seen_tab {
	struct sw_mac_entry e[64];
	unsigned int n;
};

static int collect_cb(const struct sw_mac_entry *me, void *arg)
{
	struct seen_tab *t = arg;

	assert_true(t->n < 64);
	t->e[t->n++] = *me;
	return 0;
}

/* The port mac is on in t, or -1; fails if it is there twice. */
static int find(const struct seen_tab *t, const struct fmac *mac)
{
	int port = -1;

	for (unsigned int k = 0; k < t->n; k++) {
		if (memcmp(t->e[k].mac, mac->b, SW_ETH_ALEN) != 0)
			continue;
		assert_int_equal(port, -1);
		port = t->e[k].port;
	}
	return port;
}

static bool idle_longer(uint64_t seen, uint64_t t)
{
	return t > seen && t - seen > 5 * SEC;	/* ageing_s = 5 */
}

/* Poll once at now, noting a sweep that starts in this poll. */
static void poll_once(struct sw *s, struct model *m, uint64_t now)
{
	uint64_t due = sw_age_due_ns(s);
	struct sw_mac_stats st;

	if (!m->sweeping && due != 0 && due <= now) {
		sw_mac_stats(s, &st);
		m->sweeping = true;
		m->sweep_start = now;
		m->sweep_done_at = st.age_sweeps + 1;
	}
	sw_poll(s, now);
}

/*
 * Hold the switch to the model at now, and take into the model the
 * entries the sweep removed.
 */
static void check(struct sw *s, struct model *m, const struct fmac *pool,
		  uint64_t now, uint64_t seed, unsigned int step)
{
	struct sw_mac_stats st;
	struct seen_tab t = { .n = 0 };
	unsigned int valid = 0;
	bool done;

	sw_mac_stats(s, &st);
	done = m->sweeping && st.age_sweeps >= m->sweep_done_at;
	sw_mac_foreach(s, now, collect_cb, &t);
	for (int i = 0; i < POOL; i++) {
		int port;

		if (!m->valid[i])
			continue;
		port = find(&t, &pool[i]);
		if (port < 0) {
			if (!idle_longer(m->seen[i], now))
				fail_msg("seed %llu step %u: MAC %d gone, idle %llu ms",
					 (unsigned long long)seed, step, i,
					 (unsigned long long)(now - m->seen[i]) / 1000000);
			m->valid[i] = false;
			continue;
		}
		assert_int_equal(port, m->port[i]);
		if (done && idle_longer(m->seen[i], m->sweep_start))
			fail_msg("seed %llu step %u: MAC %d outlived the sweep "
				 "that began at %llu ms, idle %llu ms then",
				 (unsigned long long)seed, step, i,
				 (unsigned long long)m->sweep_start / 1000000,
				 (unsigned long long)(m->sweep_start - m->seen[i]) / 1000000);
		valid++;
	}
	if (done)
		m->sweeping = false;
	assert_int_equal(t.n, valid);		/* nothing the model lacks */
	assert_int_equal(sw_mac_count(s), valid);
	assert_true(st.age_work_max <=
		    st.age_budget + (uint64_t)st.age_hash_cost * st.slots);
}

static void run(uint64_t seed, unsigned int steps)
{
	static const char *const names[NPORT] = { "A", "B", "C", "D" };
	struct sw_config c = {
		.mac_max = 32, .mac_max_per_port = 32, .ageing_s = 5,
		.port_budget = 256,
	};
	struct fport p[NPORT];
	struct fmac pool[POOL];
	struct model m = { .sweeping = false };
	struct sw *s = sw_create(&c);
	uint64_t now = SEC;

	assert_non_null(s);
	rng = seed;
	for (int i = 0; i < NPORT; i++) {
		fport_init(&p[i], s, names[i]);
		assert_int_equal(fport_attach(&p[i]), i);
		m.up[i] = true;
	}
	for (int i = 0; i < POOL; i++) {
		for (int b = 0; b < SW_ETH_ALEN; b++)
			pool[i].b[b] = (uint8_t)rnd(256);
		pool[i].b[0] = (uint8_t)((pool[i].b[0] & 0xfe) | 0x02);
		pool[i].b[5] = (uint8_t)i;	/* distinct */
	}
	for (unsigned int step = 0; step < steps; step++) {
		uint32_t op = rnd(100);
		int q = (int)rnd(NPORT);

		now += rnd(700) * (SEC / 1000);
		if (op < 60 && m.up[q]) {
			unsigned int n = 1 + rnd(6);

			for (unsigned int k = 0; k < n; k++) {
				int src = (int)rnd(POOL);

				fport_push(&p[q], rnd(4) ? pool[rnd(POOL)] : fmac_bcast,
					   pool[src], 60);
				m.valid[src] = true;	/* learned or moved */
				m.port[src] = q;
				m.seen[src] = now;
			}
			poll_once(s, &m, now);
			assert_int_equal(fport_queued(&p[q]), 0);
			for (int i = 0; i < NPORT; i++)
				fport_clear_got(&p[i]);
		} else if (op < 80) {
			m.up[q] = !m.up[q];
			sw_port_set_up(s, q, m.up[q]);
			for (int i = 0; !m.up[q] && i < POOL; i++)
				if (m.valid[i] && m.port[i] == q)
					m.valid[i] = false;
		} else if (op < 82) {
			sw_mac_age(s, now);
		} else {
			for (unsigned int k = 1 + rnd(4); k; k--)
				poll_once(s, &m, now);
		}
		check(s, &m, pool, now, seed, step);
	}
	for (int i = 0; i < NPORT; i++)
		fport_fini(&p[i]);
	sw_destroy(s);
}

static void test_sweep_model(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= 16; seed++)
		run(seed * 0x9e3779b97f4a7c15ULL, 10000);
}

/*
 * The case the model test meets only now and then, set up by hand: L and
 * E share a home slot h, so L sits at h and E at h + 1.  L (port 0) is
 * live, E (port 1) expired, and a sweep has passed h and stands at h + 1.
 * Port 0 goes down: deleting L moves E back to h, behind the cursor.  The
 * cursor must follow it there, or this sweep misses E.
 */
static void test_sweep_pullback(void **state)
{
	struct sw_config c = {
		.mac_max = 64, .mac_max_per_port = 64, .ageing_s = 10,
		.port_budget = 256,
	};
	struct sw *s = sw_create(&c);
	struct fport p[2];
	struct fmac l = fmac(2, 1), e;
	uint32_t h;
	uint16_t k;

	(void)state;
	assert_non_null(s);
	for (int i = 0; i < 2; i++) {
		fport_init(&p[i], s, i ? "B" : "A");
		assert_int_equal(fport_attach(&p[i]), i);
	}
	h = home_slot(s, sw_mac_key(l.b) | 1ULL << SW_VID_SHIFT);
	if (h >= s->mask) {			/* keep clear of the wrap */
		l = fmac(2, 2);
		h = home_slot(s, sw_mac_key(l.b) | 1ULL << SW_VID_SHIFT);
	}
	assert_true(h < s->mask);
	for (k = 0;; k++) {
		e = fmac(4, k);
		if (home_slot(s, sw_mac_key(e.b) | 1ULL << SW_VID_SHIFT) == h)
			break;
	}
	fport_push(&p[0], fmac_bcast, l, 60);
	sw_poll(s, 1 * SEC);
	fport_push(&p[1], fmac_bcast, e, 60);
	sw_poll(s, 1 * SEC);
	fport_push(&p[0], fmac_bcast, l, 60);	/* L seen again at 6 s */
	sw_poll(s, 6 * SEC);
	assert_int_equal(s->tab[h].w & SW_MAC_MASK, sw_mac_key(l.b));
	assert_int_equal(s->tab[h + 1].w & SW_MAC_MASK, sw_mac_key(e.b));

	age_start(s, 12 * SEC);			/* E idle 11 s, L 6 s */
	s->age_cur = h + 1;			/* the sweep has passed L */
	sw_port_set_up(s, 0, false);
	assert_int_equal(s->tab[h].w & SW_MAC_MASK, sw_mac_key(e.b));
	assert_int_equal(s->age_cur, h);	/* pulled back to E */
	while (sw_age_due_ns(s) == 0)
		sw_poll(s, 12 * SEC);
	assert_int_equal(sw_mac_count(s), 0);	/* E expired in this sweep */
	for (int i = 0; i < 2; i++)
		fport_fini(&p[i]);
	sw_destroy(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sweep_pullback),
		cmocka_unit_test(test_sweep_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
