/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the MAC table at scale (switch/sw.c): ageing in bounded
 * slices, forwarding that never stalls while a million MACs age out, and
 * probe lengths that stay short after churn.  The ports here are bare
 * generators and counters, not fport: fport records every frame, and
 * these tests pass millions.  Time is a test clock, except the gaps
 * between forwarded bursts, which are this thread's CPU time, so a
 * descheduled test cannot fail for it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "sw.h"

#define SEC 1000000000ULL
#define NPORT 3

#define STALL_MACS 1000000U
#define STALL_RUNS 3
#define GAP_MAX (1U << 20)		/* bursts recorded per run */

enum gmode { G_IDLE, G_LEARN, G_PING };

struct gport {
	enum gmode mode;
	uint32_t next, end;		/* G_LEARN: hosts next..end-1 */
	uint8_t eth[SW_ETH_HLEN];	/* G_PING: every frame's header */
	uint64_t sent, flushes;
	uint8_t payload[64];
};

static struct gport gp[NPORT];

/*
 * Gaps between forwarded bursts, in this thread's CPU time: the longest,
 * and for each burst of a run the shortest gap before it in any run.
 */
static struct {
	bool on;
	uint64_t last_ns, max_gap_ns, bursts;
	uint64_t *min_gap;		/* GAP_MAX, kept across runs */
} gap;

static uint64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * SEC + (uint64_t)ts.tv_nsec;
}

/* Host h's MAC: 02:00:hh:hh:hh:hh; hosts 0 and 1 are A and B. */
static void host_mac(uint8_t *m, uint32_t h)
{
	m[0] = 0x02;
	m[1] = 0x00;
	m[2] = (uint8_t)(h >> 24);
	m[3] = (uint8_t)(h >> 16);
	m[4] = (uint8_t)(h >> 8);
	m[5] = (uint8_t)h;
}

static unsigned int g_recv(void *ctx, struct sw_frame *f, unsigned int n)
{
	struct gport *p = ctx;
	unsigned int k;

	for (k = 0; k < n; k++) {
		if (p->mode == G_LEARN && p->next < p->end) {
			host_mac(f[k].eth, 0);
			host_mac(f[k].eth + SW_ETH_ALEN, p->next++);
		} else if (p->mode == G_PING) {
			memcpy(f[k].eth, p->eth, 2 * (size_t)SW_ETH_ALEN);
		} else {
			break;
		}
		f[k].eth[12] = 0x08;
		f[k].eth[13] = 0x00;
		f[k].len = 60;
		f[k].nseg = 1;
		f[k].seg[0].base = p->payload;
		f[k].seg[0].len = 60;
	}
	return k;
}

static void g_recv_done(void *ctx)
{
	(void)ctx;
}

static int g_send(void *ctx, const struct sw_frame *f)
{
	struct gport *p = ctx;

	(void)f;
	p->sent++;
	return 0;
}

static void g_flush(void *ctx)
{
	struct gport *p = ctx;

	p->flushes++;
	if (gap.on && gap.bursts < GAP_MAX) {
		uint64_t t = cpu_ns(), g = t - gap.last_ns;

		if (g > gap.max_gap_ns)
			gap.max_gap_ns = g;
		if (g < gap.min_gap[gap.bursts])
			gap.min_gap[gap.bursts] = g;
		gap.last_ns = t;
		gap.bursts++;
	}
}

static const struct sw_port_ops g_ops = {
	.recv = g_recv, .recv_done = g_recv_done, .send = g_send,
	.flush = g_flush,
};

static struct sw *g_switch(uint32_t mac_max, uint32_t ageing_s)
{
	struct sw_config c;
	struct sw *s;

	memset(gp, 0, sizeof(gp));
	sw_config_default(&c);
	c.mac_max = mac_max;
	c.mac_max_per_port = mac_max;
	c.ageing_s = ageing_s;
	c.port_budget = 2 * SW_BURST;
	s = sw_create(&c);
	assert_non_null(s);
	for (int i = 0; i < NPORT; i++) {
		assert_int_equal(sw_port_add(s, "g", &g_ops, &gp[i]), i);
		sw_port_set_up(s, i, true);
	}
	return s;
}

/* Port 2 sends from hosts [first, end), to A; polls until done. */
static void learn(struct sw *s, uint32_t first, uint32_t end, uint64_t now)
{
	gp[2].mode = G_LEARN;
	gp[2].next = first;
	gp[2].end = end;
	while (gp[2].next < gp[2].end)
		sw_poll(s, now);
	gp[2].mode = G_IDLE;
}

/* Finish any sweep under way, at now. */
static void settle(struct sw *s, uint64_t now)
{
	while (sw_age_due_ns(s) == 0)
		sw_poll(s, now);
}

/* A on port 0 and B on port 1 send to each other. */
static void ping_on(void)
{
	host_mac(gp[0].eth, 1);
	host_mac(gp[0].eth + SW_ETH_ALEN, 0);
	host_mac(gp[1].eth, 0);
	host_mac(gp[1].eth + SW_ETH_ALEN, 1);
	gp[0].mode = gp[1].mode = G_PING;
}

/* Most work one slice may do: it starts below the budget and its last
 * deletion rehashes at most the rest of one run of full slots. */
static uint64_t slice_bound(const struct sw_mac_stats *st)
{
	return st->age_budget + (uint64_t)st->age_hash_cost * (st->miss_max - 1);
}

/*
 * A sweep of a table larger than one slice is spread over several
 * sw_poll calls, each within its budget; it removes every expired entry
 * and none that is not.
 */
static void test_sweep_in_slices(void **state)
{
	struct sw *s = g_switch(16384, 10);	/* 32768 slots */
	struct sw_mac_stats st, before;
	uint64_t now = 12 * SEC, polls = 0;

	(void)state;
	learn(s, 100, 10100, 1 * SEC);
	learn(s, 20000, 20100, 2 * SEC);	/* idle exactly 10 s at 12 s */
	settle(s, 2 * SEC);
	assert_int_equal(sw_mac_count(s), 10100);
	sw_mac_stats(s, &before);
	assert_true(before.slots / before.age_budget >= 8);
	assert_int_equal(sw_age_due_ns(s), 3 * SEC);	/* last began at 2 s */

	sw_poll(s, now);
	polls++;
	assert_int_equal(sw_age_due_ns(s), 0);		/* under way */
	assert_true(sw_mac_count(s) > 100);		/* a slice, not all */
	while (sw_age_due_ns(s) == 0) {
		sw_poll(s, now);
		polls++;
	}
	assert_int_equal(sw_mac_count(s), 100);
	assert_int_equal(sw_mac_count_port(s, 2), 100);
	assert_int_equal(sw_age_due_ns(s), now + SEC);
	assert_true(polls >= before.slots / before.age_budget);
	sw_mac_stats(s, &st);
	assert_true(st.age_work_max <= slice_bound(&before));
	print_message("sweep of %u slots removing 10000 MACs: %llu polls, "
		      "most work in one %llu (bound %llu)\n", st.slots,
		      (unsigned long long)polls,
		      (unsigned long long)st.age_work_max,
		      (unsigned long long)slice_bound(&before));

	/* the rest go a second later; then nothing is due */
	now = 13 * SEC;
	while (sw_mac_count(s))
		sw_poll(s, now);
	assert_int_equal(sw_age_due_ns(s), UINT64_MAX);
	sw_destroy(s);
}

/*
 * One run of the stall test from test clock t, on an empty table: learn
 * STALL_MACS MACs on port 2 and A and B on ports 0 and 1; 11 s later,
 * with A and B sending to each other, poll until the sweep that expires
 * the rest ends.  Checks, without any clock, that A and B were forwarded
 * to in every poll, that no poll did more ageing work than a slice's
 * bound, and that the one sweep removed every expired MAC.  Records the
 * gaps between forwarded bursts; returns the number of polls.
 */
static uint64_t stall_run(struct sw *s, uint64_t t)
{
	struct sw_mac_stats before, after;
	uint64_t now = t + 11 * SEC, polls = 0, t0, t1;

	assert_int_equal(sw_mac_count(s), 0);
	learn(s, 2, 2 + STALL_MACS, t);
	ping_on();
	sw_poll(s, t);
	settle(s, t);
	assert_int_equal(sw_mac_count(s), STALL_MACS + 2);
	sw_mac_stats(s, &before);

	gap.bursts = 0;
	gap.max_gap_ns = 0;
	gap.on = true;
	t0 = gap.last_ns = cpu_ns();	/* the first poll's ageing counts too */
	do {
		uint64_t a = gp[0].sent, b = gp[1].sent;

		sw_poll(s, now);
		assert_int_equal(gp[0].sent - a, 2 * SW_BURST);	/* B to A */
		assert_int_equal(gp[1].sent - b, 2 * SW_BURST);	/* A to B */
		polls++;
		now += 10000;		/* 10 us of test clock a poll */
	} while (sw_age_due_ns(s) == 0 && polls < GAP_MAX / 4);
	t1 = cpu_ns();
	gap.on = false;
	gp[0].mode = gp[1].mode = G_IDLE;
	sw_mac_stats(s, &after);
	print_message("%u MACs aged out in %llu polls, %.1f ms CPU; longest gap "
		      "between bursts %.1f us; most ageing work in one poll %llu "
		      "(bound %llu)\n", STALL_MACS, (unsigned long long)polls,
		      (double)(t1 - t0) / 1e6, (double)gap.max_gap_ns / 1e3,
		      (unsigned long long)after.age_work_max,
		      (unsigned long long)slice_bound(&before));
	assert_true(gap.bursts < GAP_MAX);
	assert_int_equal(sw_mac_count(s), 2);
	assert_true(after.age_work_max <= slice_bound(&before));
	/* all gone within the one sweep that started at t + 11 s */
	assert_int_equal(after.age_sweeps, before.age_sweeps + 1);
	assert_int_equal(sw_age_due_ns(s), t + 12 * SEC);
	/* empty the table for the next run: A and B go with their ports */
	for (int i = 0; i < 2; i++) {
		sw_port_set_up(s, i, false);
		sw_port_set_up(s, i, true);
	}
	return polls;
}

/*
 * Issue 13: with STALL_MACS MACs learned and frames flowing between two
 * ports, no gap between consecutive forwarded bursts exceeds 1 ms while
 * the MACs age out.  Ageing all at once (the old sw_mac_age in sw_poll)
 * makes one gap of tens of milliseconds.  Thread CPU time does not count
 * time the thread waits for a CPU, but on a loaded virtual machine it
 * still grows by a few hundred microseconds, now and then milliseconds,
 * across an involuntary context switch or stolen time.  So the same
 * workload runs three times on the same table (same key, same MACs in the
 * same order, so the same slots, slices and bursts, which the test
 * checks), and each burst's gap is the shortest of its three: noise does
 * not strike the same burst thrice, a stall does.
 */
static void test_no_stall_while_ageing(void **state)
{
	struct sw *s = g_switch(1U << 20, 10);
	uint64_t polls = 0, bursts = 0, worst = 0, raw = 0;

	(void)state;
	gap.min_gap = malloc(GAP_MAX * sizeof(*gap.min_gap));
	assert_non_null(gap.min_gap);
	for (uint32_t k = 0; k < GAP_MAX; k++)
		gap.min_gap[k] = UINT64_MAX;
	for (int run = 0; run < STALL_RUNS; run++) {
		uint64_t n = stall_run(s, (uint64_t)(1 + 100 * run) * SEC);

		if (run)
			assert_int_equal(n, polls);
		if (run)
			assert_int_equal(gap.bursts, bursts);
		polls = n;
		bursts = gap.bursts;
		if (gap.max_gap_ns > raw)
			raw = gap.max_gap_ns;
	}
	for (uint64_t k = 0; k < bursts; k++)
		if (gap.min_gap[k] > worst)
			worst = gap.min_gap[k];
	print_message("longest gap between bursts, the shortest of %d runs: "
		      "%.1f us (longest in any run %.1f us)\n", STALL_RUNS,
		      (double)worst / 1e3, (double)raw / 1e3);
	assert_true(worst < 1000000);
	free(gap.min_gap);
	gap.min_gap = NULL;
	sw_destroy(s);
}

/*
 * Deletions close their gaps (backward shift), so after the table has been
 * filled, aged and refilled many times over, lookups still read as few
 * slots as in a fresh table at the same load; tombstones would not.
 * Linear probing at load 1/2 reads 1.5 slots on average for a hit and 2.5
 * for a miss.
 */
static void test_probes_after_churn(void **state)
{
	const uint32_t max = 1U << 16, fifth = max / 5;
	struct sw *s = g_switch(max, 9);	/* batches 2 s apart: 5 live */
	struct sw_mac_stats st;
	uint64_t now = 1 * SEC;
	uint32_t base = 2;

	(void)state;
	for (int r = 0; r < 5; r++, base += fifth, now += 2 * SEC)
		learn(s, base, base + fifth, now);
	sw_mac_stats(s, &st);
	print_message("fresh, load %.3f: hit mean %.3f max %u, miss mean %.3f max %u\n",
		      (double)st.entries / st.slots,
		      (double)st.probe_sum / st.entries, st.probe_max,
		      (double)st.miss_sum / st.slots, st.miss_max);
	/* 50 rounds: the oldest fifth ages out, a new fifth comes */
	for (int r = 0; r < 50; r++, base += fifth, now += 2 * SEC) {
		sw_mac_age(s, now);
		learn(s, base, base + fifth, now);
		assert_int_equal(sw_mac_count(s), 5 * fifth);
	}
	sw_mac_stats(s, &st);
	print_message("after %u MACs came and went: hit mean %.3f max %u, "
		      "miss mean %.3f max %u\n", base - 2 - 5 * fifth,
		      (double)st.probe_sum / st.entries, st.probe_max,
		      (double)st.miss_sum / st.slots, st.miss_max);
	assert_int_equal(st.entries, 5 * fifth);
	assert_true(st.probe_sum < 2 * (uint64_t)st.entries);	/* mean < 2 */
	assert_true(st.miss_sum < 4 * (uint64_t)st.slots);	/* mean < 4 */
	assert_true(st.miss_max < 100);
	sw_destroy(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sweep_in_slices),
		cmocka_unit_test(test_no_stall_while_ageing),
		cmocka_unit_test(test_probes_after_churn),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
