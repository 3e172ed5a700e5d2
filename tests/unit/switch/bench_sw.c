/* SPDX-License-Identifier: MIT */
/*
 * bench_sw: switch datapath cost per frame, over ports that do nothing but
 * hand out prepared headers and count what they get, so the figure is the
 * switch's own (classify, table, forward, scheduling), in thread CPU time.
 * Prints one line per case; `meson test --benchmark` runs it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sw.h"

#define NPORTS 8
#define NHDR 4096			/* prepared headers per port */

struct bport {
	uint8_t (*hdr)[SW_ETH_HLEN];
	unsigned int next;
	unsigned int port, learn, hosts;	/* learning pass: hosts learn.. */
	unsigned long sent;
	uint8_t payload[64];
};

static void set_mac(uint8_t *m, unsigned int port, unsigned int host);

static unsigned int b_recv(void *ctx, struct sw_frame *f, unsigned int n)
{
	struct bport *p = ctx;

	for (unsigned int k = 0; k < n; k++) {
		if (p->learn < p->hosts) {	/* each host says hello once */
			memset(f[k].eth, 0xff, SW_ETH_ALEN);
			set_mac(f[k].eth + SW_ETH_ALEN, p->port, p->learn++);
			f[k].eth[12] = 0x08;
			f[k].eth[13] = 0x00;
		} else {
			memcpy(f[k].eth, p->hdr[p->next], SW_ETH_HLEN);
			p->next = (p->next + 1) % NHDR;
		}
		f[k].len = 64;
		f[k].nseg = 1;
		f[k].seg[0].base = p->payload;
		f[k].seg[0].len = 64;
	}
	return n;
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

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void set_mac(uint8_t *m, unsigned int port, unsigned int host)
{
	m[0] = 0x02;
	m[1] = 0;
	m[2] = (uint8_t)port;
	m[3] = (uint8_t)(host >> 16);
	m[4] = (uint8_t)(host >> 8);
	m[5] = (uint8_t)host;
}

/*
 * hosts: MACs behind each port; frames go from a random host of their port
 * to a random host of another port (or to broadcast when bcast).  With
 * learn_all every host first sends one broadcast, so that all are known
 * and unicast is looked up, not flooded: the 4096 prepared headers of a
 * port name only some of its hosts as sources.
 */
static int run(const char *label, unsigned int hosts, int bcast,
	       unsigned int nports, uint32_t per_port, int learn_all)
{
	static struct bport ports[NPORTS];
	struct sw_config c;
	struct sw *s;
	uint64_t t0, t1, frames = 0, sent = 0, now, flooded = 0;
	unsigned int seed = 12345;

	sw_config_default(&c);
	c.mac_max = 65536;
	c.mac_max_per_port = per_port;
	s = sw_create(&c);
	if (!s)
		return 1;
	for (unsigned int i = 0; i < nports; i++) {
		struct bport *p = &ports[i];

		free(p->hdr);
		memset(p, 0, sizeof(*p));
		p->port = i;
		p->hosts = learn_all ? hosts : 0;
		p->hdr = calloc(NHDR, sizeof(*p->hdr));
		if (!p->hdr)
			return 1;
		for (unsigned int k = 0; k < NHDR; k++) {
			unsigned int dp = (i + 1 + (unsigned int)rand_r(&seed) %
					   (nports - 1)) % nports;

			if (bcast)
				memset(p->hdr[k], 0xff, SW_ETH_ALEN);
			else
				set_mac(p->hdr[k], dp,
					(unsigned int)rand_r(&seed) % hosts);
			set_mac(p->hdr[k] + SW_ETH_ALEN, i,
				(unsigned int)rand_r(&seed) % hosts);
			p->hdr[k][12] = 0x08;
		}
		if (sw_port_add(s, "b", &b_ops, p) != (int)i)
			return 1;
		sw_port_set_up(s, (int)i, true);
	}
	/* warm up: learn every host */
	now = clock_ns(CLOCK_MONOTONIC);
	for (int i = 0; i < 200; i++)
		sw_poll(s, now);
	for (unsigned int i = 0; i < nports; i++) {
		while (ports[i].learn < ports[i].hosts)
			sw_poll(s, now);
		ports[i].sent = 0;
		flooded += sw_port_stats(s, (int)i)->rx_flooded;
	}
	/* CPU time of this thread: the machine may be shared */
	t0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
	do {
		for (int i = 0; i < 100; i++)
			frames += sw_poll(s, now);
		t1 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
	} while (t1 - t0 < 500000000ULL);
	for (unsigned int i = 0; i < nports; i++) {
		sent += ports[i].sent;
		flooded -= sw_port_stats(s, (int)i)->rx_flooded;
	}
	flooded = 0 - flooded;		/* flooded while measuring */
	printf("%-34s %7.1f ns/frame in  %7.1f ns/frame out  %6.2f Mframes/s in  (%u MACs, %.0f%% flooded)\n",
	       label, (double)(t1 - t0) / (double)frames,
	       (double)(t1 - t0) / (double)sent,
	       (double)frames * 1e3 / (double)(t1 - t0), sw_mac_count(s),
	       100.0 * (double)flooded / (double)frames);
	sw_destroy(s);
	return 0;
}

int main(void)
{
	int r = 0;

	r |= run("unicast, 2 ports, 1 MAC each", 1, 0, 2, 16384, 1);
	r |= run("unicast, 8 ports, 1 MAC each", 1, 0, 8, 16384, 1);
	r |= run("unicast, 8 ports, 1000 MACs each", 1000, 0, 8, 16384, 1);
	r |= run("unicast, 8 ports, 8000 MACs each", 8000, 0, 8, 16384, 1);
	r |= run("broadcast, 8 ports", 1, 1, 8, 16384, 1);
	/* a MAC flood: 4096 sources per port, 1024 learned, the rest refused */
	r |= run("MAC flood, 8 ports, limit 1024", 1U << 24, 0, 8, 1024, 0);
	return r;
}
