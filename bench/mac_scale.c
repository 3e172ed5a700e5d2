/* SPDX-License-Identifier: MIT */
/*
 * mac_scale: the switch library's MAC table at scale, driven directly over
 * do-nothing ports (as tests/unit/switch/bench_sw.c does) on a test clock.
 * For each table size it learns that many MACs, checks they are all known
 * (so traffic is looked up, never flooded), then reports: ns per frame for
 * traffic between 2 MACs and among all of them, the longest single ageing
 * pause of sw_poll (p100, in thread CPU time) over a sweep that expires
 * nothing and over one that expires every MAC, the table's memory, and
 * probe lengths on a fresh table and after churn.  With --ir it instead
 * marks the traffic loops for callgrind (bench/mac_scale.sh computes the
 * instructions per frame).  `mac_scale --help` lists the options.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sw.h"

#include "callgrind_shim.h"

#define NSEC 1000000000ULL
#define NPORTS 4			/* host h sits behind port h % NPORTS */
#define NHDR (1U << 18)			/* prepared headers per port, "all" */
#define AGEING_S 300
#define T0 (10 * NSEC)			/* the test clock when MACs are learned */

enum bmode { B_IDLE, B_LEARN, B_HDRS };

struct bport {
	enum bmode mode;
	uint32_t next, end;		/* B_LEARN: hosts next, next+NPORTS, .. < end */
	uint8_t (*hdr)[SW_ETH_HLEN];	/* B_HDRS: cycled through */
	uint32_t nhdr, hnext;
	uint64_t sent;
	uint8_t payload[64];
};

static struct bport ports[NPORTS];

static void host_mac(uint8_t *m, uint32_t host)
{
	m[0] = 0x02;
	m[1] = 0x00;
	m[2] = (uint8_t)(host >> 24);
	m[3] = (uint8_t)(host >> 16);
	m[4] = (uint8_t)(host >> 8);
	m[5] = (uint8_t)host;
}

static unsigned int b_recv(void *ctx, struct sw_frame *f, unsigned int n)
{
	struct bport *p = ctx;
	unsigned int k;

	for (k = 0; k < n; k++) {
		if (p->mode == B_LEARN) {
			if (p->next >= p->end)
				break;
			memset(f[k].eth, 0xff, SW_ETH_ALEN);
			host_mac(f[k].eth + SW_ETH_ALEN, p->next);
			p->next += NPORTS;
		} else if (p->mode == B_HDRS) {
			memcpy(f[k].eth, p->hdr[p->hnext], SW_ETH_HLEN);
			if (++p->hnext == p->nhdr)
				p->hnext = 0;
		} else {
			break;
		}
		f[k].eth[12] = 0x08;
		f[k].eth[13] = 0x00;
		f[k].len = 64;
		f[k].nseg = 1;
		f[k].seg[0].base = p->payload;
		f[k].seg[0].len = 64;
	}
	return k;
}

static void b_recv_done(void *ctx)
{
	(void)ctx;
}

static int b_send(void *ctx, const struct sw_frame *f)
{
	struct bport *p = ctx;

	(void)f;
	p->sent++;
	return 0;
}

static void b_flush(void *ctx)
{
	(void)ctx;
}

static const struct sw_port_ops b_ops = {
	.recv = b_recv, .recv_done = b_recv_done, .send = b_send,
	.flush = b_flush,
};

static uint64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * NSEC + (uint64_t)ts.tv_nsec;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC + (uint64_t)ts.tv_nsec;
}

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)((rng >> 11) % n);
}

static void set_mode(enum bmode m)
{
	for (unsigned int i = 0; i < NPORTS; i++)
		ports[i].mode = m;
}

static uint64_t sent_total(void)
{
	uint64_t n = 0;

	for (unsigned int i = 0; i < NPORTS; i++)
		n += ports[i].sent;
	return n;
}

static uint64_t flooded_total(const struct sw *s)
{
	uint64_t n = 0;

	for (int i = 0; i < NPORTS; i++)
		n += sw_port_stats(s, i)->rx_flooded;
	return n;
}

/* Learn hosts [first, end), each from its own port, broadcasting. */
static void learn_range(struct sw *s, uint32_t first, uint32_t end, uint64_t now)
{
	for (unsigned int i = 0; i < NPORTS; i++) {
		uint32_t h = first + (i + NPORTS - first % NPORTS) % NPORTS;

		ports[i].mode = B_LEARN;
		ports[i].next = h;
		ports[i].end = end;
	}
	while (sw_poll(s, now))
		;
	set_mode(B_IDLE);
	while (sw_age_due_ns(s) == 0)	/* no sweep left under way */
		sw_poll(s, now);
}

static struct sw *make(uint32_t macs)
{
	struct sw_config c;
	struct sw *s;

	sw_config_default(&c);
	c.mac_max = macs < 16 ? 16 : macs;
	c.mac_max_per_port = c.mac_max;
	c.ageing_s = AGEING_S;
	s = sw_create(&c);
	if (!s) {
		perror("sw_create");
		exit(1);
	}
	for (unsigned int i = 0; i < NPORTS; i++) {
		if (sw_port_add(s, "b", &b_ops, &ports[i]) != (int)i) {
			fprintf(stderr, "sw_port_add failed\n");
			exit(1);
		}
		sw_port_set_up(s, (int)i, true);
	}
	return s;
}

/* Traffic between hosts 0 and 1 (ports 0 and 1). */
static void hdrs_two(void)
{
	for (unsigned int i = 0; i < NPORTS; i++) {
		ports[i].hnext = 0;
		ports[i].nhdr = 1;
		ports[i].mode = i < 2 ? B_HDRS : B_IDLE;
	}
	host_mac(ports[0].hdr[0], 1);
	host_mac(ports[0].hdr[0] + SW_ETH_ALEN, 0);
	host_mac(ports[1].hdr[0], 0);
	host_mac(ports[1].hdr[0] + SW_ETH_ALEN, 1);
}

/* Each port: from a random host behind it to a random host behind another. */
static void hdrs_all(uint32_t macs)
{
	for (unsigned int i = 0; i < NPORTS; i++) {
		struct bport *p = &ports[i];
		uint32_t mine = macs / NPORTS + (i < macs % NPORTS);

		p->hnext = 0;
		p->nhdr = NHDR;
		p->mode = mine ? B_HDRS : B_IDLE;
		for (uint32_t k = 0; mine && k < NHDR; k++) {
			uint32_t src = i + NPORTS * rnd(mine);
			uint32_t dst = rnd(macs);

			while (dst % NPORTS == i)
				dst = rnd(macs);
			host_mac(p->hdr[k], dst);
			host_mac(p->hdr[k] + SW_ETH_ALEN, src);
		}
	}
}

/*
 * Forward for about min_ns of CPU time; returns ns per frame taken in.
 * Every frame must go out exactly once: no flooding, no drops.
 */
static double run_traffic(struct sw *s, uint64_t min_ns, uint64_t *frames)
{
	uint64_t t0 = cpu_ns(), t1, n = 0, out = sent_total();

	do {
		for (int i = 0; i < 64; i++)
			n += sw_poll(s, T0);
		t1 = cpu_ns();
	} while (t1 - t0 < min_ns);
	out = sent_total() - out;
	if (out != n) {
		fprintf(stderr, "%llu frames in, %llu out\n",
			(unsigned long long)n, (unsigned long long)out);
		exit(1);
	}
	*frames = n;
	return (double)(t1 - t0) / (double)n;
}

/* Forward a fixed number of polls for callgrind, dumping its counts. */
static uint64_t ir_traffic(struct sw *s, const char *label, unsigned int polls)
{
	uint64_t n = 0;

	for (int i = 0; i < 16; i++)	/* warm */
		sw_poll(s, T0);
	CALLGRIND_START_INSTRUMENTATION;
	CALLGRIND_ZERO_STATS;
	for (unsigned int i = 0; i < polls; i++)
		n += sw_poll(s, T0);
	CALLGRIND_DUMP_STATS_AT(label);
	CALLGRIND_STOP_INSTRUMENTATION;
	return n;
}

#define TICKS_MAX (1U << 20)

struct sweep {
	uint64_t ticks, total_ns, max_ns;
	uint64_t *tick_ns;		/* TICKS_MAX: each poll's time */
};

/*
 * Idle ports, clock at now: poll until the sweep that starts ends, timing
 * each poll on the monotonic clock (a vDSO read; the thread CPU clock is
 * a system call of about 2 us on this kind of virtual machine).
 */
static void run_sweep(struct sw *s, uint64_t now, struct sweep *r)
{
	r->ticks = r->total_ns = r->max_ns = 0;
	set_mode(B_IDLE);
	do {
		uint64_t t0 = mono_ns(), dt;

		sw_poll(s, now);
		dt = mono_ns() - t0;
		if (r->tick_ns && r->ticks < TICKS_MAX)
			r->tick_ns[r->ticks] = dt;
		r->ticks++;
		r->total_ns += dt;
		if (dt > r->max_ns)
			r->max_ns = dt;
		now += 1000;		/* 1 us a tick; sweeps do not care */
	} while (sw_age_due_ns(s) == 0);
}

/*
 * The longest pause of the same sweep run reps times over the same table:
 * for each poll the shortest of its reps, then the longest of those, so a
 * preemption in one rep does not count and a slow slice does.  0 if the
 * reps did not poll the same number of times (they should).
 */
static uint64_t p100_of_reps(struct sweep *r, int reps)
{
	uint64_t worst = 0;

	for (int k = 1; k < reps; k++)
		if (r[k].ticks != r[0].ticks || r[0].ticks > TICKS_MAX)
			return 0;
	for (uint64_t t = 0; t < r[0].ticks; t++) {
		uint64_t best = UINT64_MAX;

		for (int k = 0; k < reps; k++)
			if (r[k].tick_ns[t] < best)
				best = r[k].tick_ns[t];
		if (best > worst)
			worst = best;
	}
	return worst;
}

static void probe_line(const char *what, const struct sw_mac_stats *st)
{
	printf("    probes %-14s load %.3f  hit mean %.3f max %u  miss mean %.3f max %u\n",
	       what, (double)st->entries / st->slots,
	       st->entries ? (double)st->probe_sum / st->entries : 0.0,
	       st->probe_max, (double)st->miss_sum / st->slots, st->miss_max);
}

/*
 * Churn: the table full of macs hosts, a fifth of it learned anew every
 * 74 s while the fifth learned 370 s ago ages out (ageing 300 s), rounds
 * times.
 */
static void churn(uint32_t macs, unsigned int rounds)
{
	struct sw *s = make(macs);
	struct sw_mac_stats st;
	struct sweep sw = { 0 };
	uint32_t batch = macs / 5, base = 0;
	uint64_t now = T0, refused = 0;

	for (unsigned int r = 0; r < rounds; r++) {
		now += 74 * NSEC;
		run_sweep(s, now, &sw);
		learn_range(s, base, base + batch, now);
		base += batch;
	}
	for (int i = 0; i < NPORTS; i++)
		refused += sw_port_stats(s, i)->learn_refused;
	sw_mac_stats(s, &st);
	printf("    churn: %u MACs learned in all, %u resident, %llu refused\n",
	       base, st.entries, (unsigned long long)refused);
	probe_line("after churn", &st);
	sw_destroy(s);
}

#define REPS 3

static int one_size(uint32_t macs, bool ir, unsigned int churn_rounds)
{
	struct sw *s = make(macs);
	struct sw_mac_stats st;
	struct sweep keep[REPS], drop[REPS];
	uint64_t f2, fa, fl, keep_max = 0, drop_max = 0;
	double ns2, nsa;
	char label[64];

	learn_range(s, 0, macs, T0);
	if (sw_mac_count(s) != macs) {
		fprintf(stderr, "%u MACs: only %u learned\n", macs, sw_mac_count(s));
		return 1;
	}
	fl = flooded_total(s);
	if (ir) {
		hdrs_two();
		snprintf(label, sizeof(label), "two-%u", macs);
		f2 = ir_traffic(s, label, 200);
		hdrs_all(macs);
		snprintf(label, sizeof(label), "all-%u", macs);
		fa = ir_traffic(s, label, 200);
		printf("ir %u %llu %llu\n", macs, (unsigned long long)f2,
		       (unsigned long long)fa);
		sw_destroy(s);
		return 0;
	}
	hdrs_two();
	run_traffic(s, 50000000ULL, &f2);		/* warm */
	ns2 = run_traffic(s, 300000000ULL, &f2);
	hdrs_all(macs);
	run_traffic(s, 50000000ULL, &fa);
	nsa = run_traffic(s, 300000000ULL, &fa);
	if (flooded_total(s) != fl) {
		fprintf(stderr, "%u MACs: %llu frames flooded\n", macs,
			(unsigned long long)(flooded_total(s) - fl));
		return 1;
	}
	sw_mac_stats(s, &st);
	/* the same table REPS times: learn, a sweep keeping all, one expiring all */
	for (int r = 0; r < REPS; r++) {
		uint64_t t = T0 + (uint64_t)r * 1000 * NSEC;

		keep[r].tick_ns = calloc(TICKS_MAX, sizeof(uint64_t));
		drop[r].tick_ns = calloc(TICKS_MAX, sizeof(uint64_t));
		if (!keep[r].tick_ns || !drop[r].tick_ns) {
			perror("calloc");
			exit(1);
		}
		if (r)
			learn_range(s, 0, macs, t);
		run_sweep(s, t + 2 * NSEC, &keep[r]);
		run_sweep(s, t + (AGEING_S + 3) * NSEC, &drop[r]);
		if (sw_mac_count(s) != 0) {
			fprintf(stderr, "%u MACs: %u left after ageing\n", macs,
				sw_mac_count(s));
			exit(1);
		}
		if (keep[r].max_ns > keep_max)
			keep_max = keep[r].max_ns;
		if (drop[r].max_ns > drop_max)
			drop_max = drop[r].max_ns;
	}
	printf("%8u MACs  2-MAC %6.1f ns/frame  all-MAC %6.1f ns/frame  "
	       "ageing p100 %5.1f us (keep) %5.1f us (expire all)  mem %.2f MiB\n",
	       macs, ns2, nsa, p100_of_reps(keep, REPS) / 1e3,
	       p100_of_reps(drop, REPS) / 1e3, (double)st.bytes / (1 << 20));
	printf("    sweep keeping all: %llu polls, %.2f ms; expiring all: %llu polls, "
	       "%.2f ms; raw longest poll in any rep %.1f / %.1f us\n",
	       (unsigned long long)keep[0].ticks, keep[0].total_ns / 1e6,
	       (unsigned long long)drop[0].ticks, drop[0].total_ns / 1e6,
	       keep_max / 1e3, drop_max / 1e3);
	probe_line("fresh", &st);
	printf("data %u %.1f %.1f %.1f %.1f %.2f\n", macs, ns2, nsa,
	       p100_of_reps(keep, REPS) / 1e3, p100_of_reps(drop, REPS) / 1e3,
	       (double)st.bytes / (1 << 20));
	for (int r = 0; r < REPS; r++) {
		free(keep[r].tick_ns);
		free(drop[r].tick_ns);
	}
	sw_destroy(s);
	if (churn_rounds && macs >= 100)
		churn(macs, churn_rounds);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: mac_scale [--macs N,N,...] [--churn ROUNDS] [--ir]\n"
		"  --macs    table sizes (MACs learned; mac-max is the same, at least 16)\n"
		"            default 2,10000,100000,1000000,4194304\n"
		"  --churn   rounds of churn before the probe figures (default 20;\n"
		"            each learns a fifth of the table while a fifth ages out)\n"
		"  --ir      mark the traffic loops for callgrind instead of timing;\n"
		"            run it through bench/mac_scale.sh --ir\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "macs", required_argument, NULL, 'm' },
		{ "churn", required_argument, NULL, 'c' },
		{ "ir", no_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sizes = "2,10000,100000,1000000,4194304";
	unsigned int churn_rounds = 20;
	bool ir = false;
	int o, rc = 0;

	while ((o = getopt_long(argc, argv, "m:c:ih", opts, NULL)) != -1) {
		switch (o) {
		case 'm':
			sizes = optarg;
			break;
		case 'c':
			churn_rounds = (unsigned int)strtoul(optarg, NULL, 10);
			break;
		case 'i':
			ir = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	for (unsigned int i = 0; i < NPORTS; i++) {
		ports[i].hdr = calloc(NHDR, sizeof(*ports[i].hdr));
		if (!ports[i].hdr)
			return 1;
	}
	for (const char *p = sizes; *p;) {
		char *end;
		unsigned long n = strtoul(p, &end, 10);

		if (end == p || n < 2 || n > (1UL << 22)) {
			fprintf(stderr, "bad size in --macs: %s\n", p);
			return 2;
		}
		rc |= one_size((uint32_t)n, ir, churn_rounds);
		fflush(stdout);
		p = *end == ',' ? end + 1 : end;
	}
	for (unsigned int i = 0; i < NPORTS; i++)
		free(ports[i].hdr);
	return rc;
}
