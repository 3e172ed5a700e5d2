/* SPDX-License-Identifier: MIT */
/*
 * vlan_ir: instructions per frame of the switch's datapath for 802.1Q tag
 * push and pop next to the untagged path, at 64 and 1518 bytes, driven
 * directly over two ports: each frame lies in two segments of "peer"
 * memory (a 14- or 18-byte header, then the rest), and a port's send
 * copies every segment into a receive buffer, as a virtio port would, so
 * the cost of the payload copy and of the switch's own header segment is
 * in the figure.  Cases: untagged (both ports transparent), push (access
 * port 10 to a trunk of 10), pop (the trunk to the access port).  Under
 * callgrind (bench/vlan_ir.sh) the measured loops are bracketed with
 * client requests; natively it prints ns per frame.  Built with
 * -DVLAN_IR_UNTAGGED_ONLY it uses only the API the switch had before VLANs,
 * so the same harness measures an older sw.c for comparison.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sw.h"

#ifdef HAVE_CALLGRIND_H
#include <valgrind/callgrind.h>
#else
#define CALLGRIND_START_INSTRUMENTATION do { } while (0)
#define CALLGRIND_STOP_INSTRUMENTATION do { } while (0)
#define CALLGRIND_ZERO_STATS do { } while (0)
#define CALLGRIND_DUMP_STATS_AT(s) do { (void)(s); } while (0)
#endif

#define FRAMES (64 * 1024)
#define FMAX 1536

struct bport {
	uint8_t frame[FMAX];		/* what this port's peer sends */
	uint32_t len, hlen;
	unsigned int left;		/* frames still to hand out */
	uint8_t rx[FMAX + 64];		/* where send copies to */
	unsigned long sent;
};

static struct bport P[2];

static unsigned int b_recv(void *ctx, struct sw_frame *f, unsigned int n)
{
	struct bport *p = ctx;
	unsigned int k;

	for (k = 0; k < n && p->left; k++, p->left--) {
		f[k].len = p->len;
		memcpy(f[k].eth, p->frame, SW_ETH_HLEN);
		f[k].nseg = 2;
		f[k].seg[0].base = p->frame;
		f[k].seg[0].len = p->hlen;
		f[k].seg[1].base = p->frame + p->hlen;
		f[k].seg[1].len = p->len - p->hlen;
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
	uint32_t off = 0;

	for (unsigned int i = 0; i < f->nseg; i++) {
		memcpy(p->rx + off, f->seg[i].base, f->seg[i].len);
		off += f->seg[i].len;
	}
	p->sent++;
	return 0;
}

static void b_flush(void *ctx)
{
	(void)ctx;
}

static const struct sw_port_ops ops = { b_recv, b_recv_done, b_send, b_flush };

static void frame(struct bport *p, const uint8_t *dst, const uint8_t *src,
		  int vid, uint32_t len)
{
	uint32_t o = 12;

	memset(p->frame, 0x5a, sizeof(p->frame));
	memcpy(p->frame, dst, 6);
	memcpy(p->frame + 6, src, 6);
	if (vid >= 0) {
		p->frame[o++] = 0x81;
		p->frame[o++] = 0x00;
		p->frame[o++] = (uint8_t)(vid >> 8);
		p->frame[o++] = (uint8_t)vid;
	}
	p->frame[o++] = 0x08;
	p->frame[o++] = 0x00;
	p->hlen = o;
	p->len = len;
}

static uint64_t now_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* One case: from port 0 to port 1 (learned both ways first). */
static int run(const char *name, int vlans, int pop, uint32_t size)
{
	static const uint8_t m0[6] = { 2, 0, 0, 0, 0, 1 }, m1[6] = { 2, 0, 0, 0, 0, 2 };
	unsigned int from = pop ? 1 : 0, to = 1 - from;
	struct sw_config c;
	struct sw *s;
	uint64_t t0, t1, frames = 0;

	sw_config_default(&c);
	s = sw_create(&c);
	if (!s)
		return 1;
	memset(P, 0, sizeof(P));
	for (int i = 0; i < 2; i++) {
		if (sw_port_add(s, i ? "trunk" : "access", &ops, &P[i]) != i)
			return 1;
		sw_port_set_up(s, i, true);
	}
#ifndef VLAN_IR_UNTAGGED_ONLY
	if (vlans) {
		struct sw_port_vlan a = { .aware = true, .pvid = 10 };
		struct sw_port_vlan t = { .aware = true, .pvid = 0 };

		sw_vlan_set(t.trunks, 10);
		if (sw_port_set_vlan(s, 0, &a) || sw_port_set_vlan(s, 1, &t))
			return 1;
	}
#else
	if (vlans)
		return 0;
#endif
	/* each side says hello once, so the measured frames are unicast */
	frame(&P[0], m1, m0, -1, size);
	frame(&P[1], m0, m1, vlans ? 10 : -1, size + (vlans ? 4 : 0));
	P[0].left = P[1].left = 1;
	sw_poll(s, 1);
	P[from].left = FRAMES;
	P[to].left = 0;
	t0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
	CALLGRIND_ZERO_STATS;
	CALLGRIND_START_INSTRUMENTATION;
	while (P[from].left)
		frames += sw_poll(s, 1);
	CALLGRIND_STOP_INSTRUMENTATION;
	CALLGRIND_DUMP_STATS_AT(name);
	t1 = now_ns(CLOCK_THREAD_CPUTIME_ID);
	if (P[to].sent != frames + 1) {
		fprintf(stderr, "%s: %lu of %lu frames delivered\n", name, P[to].sent,
			(unsigned long)frames);
		return 1;
	}
	printf("case %s %lu %.1f\n", name, (unsigned long)frames,
	       (double)(t1 - t0) / (double)frames);
	sw_destroy(s);
	return 0;
}

int main(void)
{
	int r = 0;

	r |= run("untagged-64", 0, 0, 64);
	r |= run("push-64", 1, 0, 64);
	r |= run("pop-64", 1, 1, 64);
	r |= run("untagged-1518", 0, 0, 1518);
	r |= run("push-1518", 1, 0, 1514);
	r |= run("pop-1518", 1, 1, 1514);
	return r;
}
