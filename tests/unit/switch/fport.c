/* SPDX-License-Identifier: MIT */
/*
 * fport: the test port described in fport.h.  It trusts the switch with
 * nothing: every callback checks the sw_port_ops contract with cmocka
 * assertions, so a switch that breaks it fails the test that drove it.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fport.h"

#define FPORT_MAX 128

static struct fport *all[FPORT_MAX];
int fport_first = -1;

const struct fmac fmac_bcast = { { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } };

struct fmac fmac(uint8_t a, uint16_t n)
{
	struct fmac m = { { a, 0, 0, 0, (uint8_t)(n >> 8), (uint8_t)n } };

	return m;
}

/* No port may hold delivered frames unflushed when a burst starts. */
static void check_all_flushed(void)
{
	for (unsigned int i = 0; i < FPORT_MAX; i++)
		if (all[i])
			assert_int_equal(all[i]->unflushed, 0);
}

static unsigned int fport_recv(void *ctx, struct sw_frame *f, unsigned int n)
{
	struct fport *p = ctx;
	unsigned int k;

	assert_false(p->in_burst);
	assert_true(n >= 1 && n <= SW_BURST);
	check_all_flushed();
	p->recv_calls++;
	p->in_burst = true;
	if (fport_first < 0)
		fport_first = p->id;
	if (n > p->max_want)
		p->max_want = n;
	for (k = 0; k < n && p->qhead != p->qtail; k++, p->qhead++) {
		const struct fent *e = &p->q[p->qhead];
		uint8_t *b = p->buf[k];

		memset(b, 0, sizeof(p->buf[k]));
		memcpy(b, e->eth, SW_ETH_HLEN);
		memcpy(b + SW_ETH_HLEN, &e->seq, sizeof(e->seq));
		memset(&f[k], 0, offsetof(struct sw_frame, seg));
		f[k].len = e->len;
		memcpy(f[k].eth, e->eth, SW_ETH_HLEN);
		/* header and payload in two segments, like a virtio chain */
		if (e->len > SW_ETH_HLEN) {
			f[k].nseg = 2;
			f[k].seg[0].base = b;
			f[k].seg[0].len = SW_ETH_HLEN;
			f[k].seg[1].base = b + SW_ETH_HLEN;
			f[k].seg[1].len = e->len - SW_ETH_HLEN;
		} else {
			f[k].nseg = 1;
			f[k].seg[0].base = b;
			f[k].seg[0].len = e->len;
		}
	}
	p->held = k;
	p->recv_frames += k;
	return k;
}

static void fport_recv_done(void *ctx)
{
	struct fport *p = ctx;

	assert_true(p->in_burst);
	p->in_burst = false;
	p->held = 0;
	p->recv_done_calls++;
}

/* The port whose recv handed out the frame at b, which must still be held. */
static void check_frame_live(const struct sw_frame *f)
{
	const uint8_t *b = f->seg[0].base;

	for (unsigned int i = 0; i < FPORT_MAX; i++) {
		const struct fport *o = all[i];

		if (!o || b < &o->buf[0][0] ||
		    b >= &o->buf[0][0] + sizeof(o->buf))
			continue;
		assert_true(o->in_burst);
		assert_true((size_t)(b - &o->buf[0][0]) / sizeof(o->buf[0]) <
			    o->held);
		return;
	}
	fail_msg("frame not from any fport");
}

static int fport_send(void *ctx, const struct sw_frame *f)
{
	struct fport *p = ctx;
	struct fent *e;

	p->send_calls++;
	check_frame_live(f);
	if (p->on_send)
		p->on_send(p);
	assert_false(p->in_burst);	/* never sent back to its ingress */
	assert_true(f->len >= SW_ETH_HLEN);
	if (p->send_rc)
		return p->send_rc;
	if (p->fail_every && p->send_calls % p->fail_every == 0)
		return -ENOBUFS;
	if (p->ngot == p->gotcap) {
		p->gotcap = p->gotcap ? 2 * p->gotcap : 64;
		p->got = realloc(p->got, p->gotcap * sizeof(*p->got));
		assert_non_null(p->got);
	}
	e = &p->got[p->ngot++];
	memcpy(e->eth, f->seg[0].base, SW_ETH_HLEN);
	assert_memory_equal(e->eth, f->eth, SW_ETH_HLEN);
	e->len = f->len;
	memcpy(&e->seq, f->nseg > 1 ? f->seg[1].base : f->seg[0].base + SW_ETH_HLEN,
	       sizeof(e->seq));
	p->unflushed++;
	return 0;
}

static void fport_flush(void *ctx)
{
	struct fport *p = ctx;

	assert_true(p->unflushed > 0);	/* only ports that got frames */
	p->unflushed = 0;
	p->flushes++;
}

const struct sw_port_ops fport_ops = {
	.recv = fport_recv,
	.recv_done = fport_recv_done,
	.send = fport_send,
	.flush = fport_flush,
};

/* Each frame as fport_send() takes it, in order. */
static unsigned int fport_send_burst(void *ctx, const struct sw_frame *f,
				     unsigned int n, int *rc)
{
	struct fport *p = ctx;
	unsigned int ok = 0;

	assert_true(n >= 1 && n <= SW_BURST);
	p->burst_calls++;
	for (unsigned int i = 0; i < n; i++) {
		rc[i] = fport_send(ctx, &f[i]);
		ok += rc[i] == 0;
	}
	return ok;
}

bool fport_burst;

const struct sw_port_ops fport_burst_ops = {
	.recv = fport_recv,
	.recv_done = fport_recv_done,
	.send = fport_send,
	.flush = fport_flush,
	.send_burst = fport_send_burst,
};

void fport_init(struct fport *p, struct sw *s, const char *name)
{
	memset(p, 0, sizeof(*p));
	p->s = s;
	p->id = -1;
	strncpy(p->name, name, sizeof(p->name) - 1);
	for (unsigned int i = 0; i < FPORT_MAX; i++) {
		if (!all[i]) {
			all[i] = p;
			return;
		}
	}
	fail_msg("too many fports");
}

void fport_fini(struct fport *p)
{
	for (unsigned int i = 0; i < FPORT_MAX; i++)
		if (all[i] == p)
			all[i] = NULL;
	free(p->q);
	free(p->got);
	memset(p, 0, sizeof(*p));
}

int fport_attach(struct fport *p)
{
	p->id = sw_port_add(p->s, p->name, fport_burst ? &fport_burst_ops : &fport_ops, p);
	assert_true(p->id >= 0);
	sw_port_set_up(p->s, p->id, true);
	return p->id;
}

void fport_push(struct fport *p, struct fmac dst, struct fmac src,
		uint32_t len)
{
	struct fent *e;

	if (p->qtail == p->qcap) {
		p->qcap = p->qcap ? 2 * p->qcap : 64;
		p->q = realloc(p->q, p->qcap * sizeof(*p->q));
		assert_non_null(p->q);
	}
	e = &p->q[p->qtail];
	memset(e, 0, sizeof(*e));
	memcpy(e->eth, dst.b, SW_ETH_ALEN);
	memcpy(e->eth + SW_ETH_ALEN, src.b, SW_ETH_ALEN);
	e->eth[12] = 0x08;		/* IPv4, for looks */
	e->len = len;
	e->seq = p->qtail;
	p->qtail++;
}

unsigned int fport_queued(const struct fport *p)
{
	return p->qtail - p->qhead;
}

void fport_clear_got(struct fport *p)
{
	p->ngot = 0;
}

unsigned int fport_got_count(const struct fport *p, const struct fmac *dst,
			     const struct fmac *src)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < p->ngot; i++) {
		if (dst && memcmp(p->got[i].eth, dst->b, SW_ETH_ALEN) != 0)
			continue;
		if (src && memcmp(p->got[i].eth + SW_ETH_ALEN, src->b,
				  SW_ETH_ALEN) != 0)
			continue;
		n++;
	}
	return n;
}
