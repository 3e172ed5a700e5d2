/* SPDX-License-Identifier: MIT */
/*
 * vu_net: glue between a vhost-user net device and the switch.
 *
 * Security model: the rings are the peer's; vq/vnet validate them.  This
 * file only picks which live rings to use and turns a broken ring into a
 * broken port (logged once, signalled on the ring's err fd), so that one
 * bad peer stops only its own port.
 */
#include "vu_net.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vlog.h"

uint64_t vu_net_features(unsigned int max_qp)
{
	uint64_t f = (1ull << VU_F_VERSION_1) | (1ull << VU_F_NET_MRG_RXBUF) |
		     (1ull << VU_F_RING_EVENT_IDX) |
		     (1ull << VU_F_RING_INDIRECT_DESC) |
		     (1ull << VU_F_NET_MTU) | (1ull << VU_F_NET_STATUS) |
		     (1ull << VU_F_ANY_LAYOUT) | (1ull << VU_F_RING_PACKED) |
		     /* Buffers are used in the order they were made available:
		      * vnet pushes every chain, frame or reject, in pop order. */
		     (1ull << VU_F_IN_ORDER) |
		     (1ull << VU_F_NET_GUEST_ANNOUNCE);

	if (max_qp > 1)
		f |= 1ull << VU_F_NET_MQ;
	return f | VNET_F_OFFLOADS;
}

void vu_net_no_offloads(struct vu_net *n)
{
	n->dev.offered &= ~VNET_F_OFFLOADS;
}

void vu_net_report_drops(struct vu_net *n)
{
	const struct {
		uint64_t count;
		const char *what;
	} k[3] = {
		{ n->st.tx_oversize, "frames over " VNET_STR(VNET_MAX_FRAME)
		  " bytes (is the peer's MTU larger? give it host_mtu)" },
		{ n->st.tx_runt, "frames shorter than an Ethernet header" },
		{ n->st.tx_too_many_segs, "frames in too many segments" },
	};

	for (int i = 0; i < 3; i++) {
		if (k[i].count == n->reported[i])
			continue;
		/* Unprinted lines stay unreported: the next call counts them again. */
		if (vlog_rl(&n->dev.rl, VLOG_WARN, "%s: dropped %llu %s from the peer (%llu in all)",
			    n->name, (unsigned long long)(k[i].count - n->reported[i]),
			    k[i].what, (unsigned long long)k[i].count))
			n->reported[i] = k[i].count;
	}
}

bool vu_net_running(const struct vu_net *n)
{
	return !n->broken && (n->n_live_tx || n->n_live_rx);
}

/* Look at every ring: rebuild the live lists and the broken state. */
static void refresh(struct vu_net *n)
{
	struct vu_dev *d = &n->dev;
	uint16_t hdr = (vu_has_feature(d, VU_F_VERSION_1) ||
			vu_has_feature(d, VU_F_NET_MRG_RXBUF)) ? 12 : 10;
	bool was_running = vu_net_running(n), broken = false;

	n->n_live_tx = n->n_live_rx = 0;
	for (unsigned int qp = 0; qp < d->max_qp; qp++) {
		struct vu_vring *rx = &d->vring[2 * (size_t)qp];
		struct vu_vring *tx = &d->vring[2 * (size_t)qp + 1];

		n->rxq[qp].vq = &rx->vq;
		n->rxq[qp].hdr_len = hdr;
		n->rxq[qp].mrg_rxbuf = vu_has_feature(d, VU_F_NET_MRG_RXBUF);
		n->rxq[qp].off_caps = (uint8_t)vnet_off_caps(d->features, false);
		n->txq[qp].vq = &tx->vq;
		n->txq[qp].hdr_len = hdr;
		n->txq[qp].off_caps = (uint8_t)vnet_off_caps(d->features, true);
		if (vu_vring_live(d, 2 * qp))
			n->live_rx[n->n_live_rx++] = (uint8_t)qp;
		if (vu_vring_live(d, 2 * qp + 1))
			n->live_tx[n->n_live_tx++] = (uint8_t)qp;
		for (int k = 0; k < 2; k++) {
			struct vu_vring *r = k ? tx : rx;

			if (r->started && r->vq.broken && !broken) {
				broken = true;
				if (!n->broken)
					snprintf(n->why, sizeof(n->why),
						 "vring %u: %s", 2 * qp + k,
						 r->vq.why);
			}
		}
	}
	if (broken && !n->broken)
		vlog_rl(&d->rl, VLOG_ERR, "%s: port broken: %s", n->name, n->why);
	if (!broken && n->broken)
		vlog_rl(&d->rl, VLOG_INFO, "%s: port recovered", n->name);
	n->broken = broken;
	if (was_running != vu_net_running(n))
		n->state_dirty = true;
}

static void hook_vring_changed(void *arg, unsigned int q)
{
	(void)q;
	refresh(arg);
}

static void hook_mem_changed(void *arg)
{
	refresh(arg);
}

/*
 * SEND_RARP: the RARP a migrated guest's QEMU would send for mac (as
 * QEMU's announce does): broadcast, ethertype 0x8035, a reverse request
 * with mac as sender and target hardware address, padded to 60 bytes.
 * The switch takes it from this port on its next poll, so the MAC moves
 * here at once and every port hears of it.
 */
static void hook_send_rarp(void *arg, const uint8_t mac[6])
{
	struct vu_net *n = arg;
	uint8_t *b = n->rarp;

	memset(b, 0, sizeof(n->rarp));
	memset(b, 0xff, 6);
	memcpy(b + 6, mac, 6);
	b[12] = 0x80; b[13] = 0x35;		/* RARP */
	b[14] = 0; b[15] = 1;			/* Ethernet */
	b[16] = 0x08; b[17] = 0x00;		/* IPv4 */
	b[18] = 6; b[19] = 4;
	b[20] = 0; b[21] = 3;			/* reverse request */
	memcpy(b + 22, mac, 6);
	memcpy(b + 32, mac, 6);
	n->rarp_pending = true;
}

static const struct vu_dev_hooks net_hooks = {
	.vring_changed = hook_vring_changed,
	.mem_changed = hook_mem_changed,
	.send_rarp = hook_send_rarp,
};

void vu_net_init(struct vu_net *n, const char *name,
		 const struct vu_transport_ops *t, void *tctx,
		 unsigned int max_qp)
{
	memset(n, 0, sizeof(*n));
	snprintf(n->name, sizeof(n->name), "%s", name);
	vu_dev_init(&n->dev, n->name, t, tctx, &net_hooks, n,
		    vu_net_features(max_qp), max_qp);
	refresh(n);
}

/* A ring broke during forwarding: tell the frontend and mark the port. */
static void ring_broke(struct vu_net *n, unsigned int q)
{
	n->dev.vring[q].breaks++;
	if (n->dev.t->signal)
		n->dev.t->signal(n->dev.tctx, VU_FD_ERR, q);
	refresh(n);
}

static void signal_call(struct vu_net *n, unsigned int q)
{
	n->calls++;
	n->dev.t->signal(n->dev.tctx, VU_FD_CALL, q);
}

static unsigned int net_recv(void *ctx, struct sw_frame *f, unsigned int max)
{
	struct vu_net *n = ctx;
	unsigned int got = 0, nq = n->n_live_tx;

	if (n->broken)
		return 0;
	if (n->rarp_pending && max) {
		memset(&f[0], 0, sizeof(f[0]));	/* no stale metadata */
		f[0].len = sizeof(n->rarp);
		f[0].nseg = 1;
		f[0].seg[0].base = n->rarp;
		f[0].seg[0].len = sizeof(n->rarp);
		memcpy(f[0].eth, n->rarp, SW_ETH_HLEN);
		n->rarp_pending = false;
		n->rarps_sent++;
		got = 1;
	}
	for (unsigned int i = 0; i < nq && got < max; i++) {
		unsigned int qp = n->live_tx[(n->next_tx + i) % nq];
		struct vnet_txq *q = &n->txq[qp];

		got += vnet_tx_burst(q, f + got, max - got, &n->st);
		n->tx_taken |= 1u << qp;
		if (q->vq->broken) {
			ring_broke(n, 2 * qp + 1);
			break;
		}
	}
	n->next_tx++;
	return got;
}

static void net_recv_done(void *ctx)
{
	struct vu_net *n = ctx;
	uint32_t m = n->tx_taken;

	n->tx_taken = 0;
	while (m) {
		unsigned int qp = (unsigned int)__builtin_ctz(m);

		m &= m - 1;
		if (vq_ready(n->txq[qp].vq) && vnet_tx_done(&n->txq[qp]))
			signal_call(n, 2 * qp + 1);
	}
}

/*
 * Spread flows over the peer's RX rings; one flow stays on one ring.  The
 * flow hash covers addresses and ports, so the streams between two peers
 * spread too, not only the pairs of MACs; a single-ring peer costs nothing.
 */
static unsigned int pick_rxq(const struct vu_net *n, const struct sw_frame *f)
{
	if (n->n_live_rx == 1)
		return n->live_rx[0];
	return n->live_rx[sw_frame_flow(f) % n->n_live_rx];
}

/* One frame, with only offload work the queue takes, to ring qp. */
static int send_one(struct vu_net *n, unsigned int qp, const struct sw_frame *f)
{
	int rc = vnet_rx_frame(&n->rxq[qp], f, &n->st);

	if (rc == 0)
		n->rx_dirty |= 1u << qp;
	else if (rc == -EIO)
		ring_broke(n, 2 * qp);
	return rc;
}

struct sw_ctx {
	struct vu_net *n;
	unsigned int qp;
};

static int send_sw(void *ctx, const struct sw_frame *f)
{
	struct sw_ctx *c = ctx;

	return send_one(c->n, c->qp, f);
}

/*
 * Offload work the peer did not negotiate, or a GSO frame its buffers
 * cannot hold whole, is finished here, in this port's own buffer: per
 * receiver, so a flooded frame goes whole to peers that take it.
 */
static int send_fallback(struct vu_net *n, unsigned int qp,
			 const struct sw_frame *f)
{
	struct sw_ctx c = { n, qp };
	int rc;

	rc = off_finish(f, &n->obuf, send_sw, &c, &n->st.off);
	return rc == -EINVAL ? -EMSGSIZE : rc;
}

static inline int net_send(void *ctx, const struct sw_frame *f)
{
	struct vu_net *n = ctx;
	unsigned int qp;
	int rc;

	if (n->broken || !n->n_live_rx)
		return -EIO;
	qp = pick_rxq(n, f);
	rc = send_one(n, qp, f);
	if (rc == 0) {
		if (sw_off_any(&f->off))
			n->st.off.out_passed++;
		return 0;
	}
	if (rc == -EOPNOTSUPP || (rc == -EMSGSIZE && f->off.gso != SW_GSO_NONE))
		rc = send_fallback(n, qp, f);
	return rc;
}

/*
 * A run of frames: with one receive queue, every frame goes to it, and
 * vnet takes the run in one call; a frame it stops at (offload work to
 * finish here, or a broken ring) is dealt with as net_send() does, in its
 * place, before the rest go.  With several queues each frame picks its own.
 */
static unsigned int net_send_burst(void *ctx, const struct sw_frame *f,
				   unsigned int n, int *rc)
{
	struct vu_net *vn = ctx;
	unsigned int ok = 0, i = 0;

	while (i < n && vn->n_live_rx == 1 && !vn->broken) {
		unsigned int qp = vn->live_rx[0], sent, passed;
		int *last;

		i += vnet_rx_burst(&vn->rxq[qp], f + i, n - i, &vn->st, rc + i,
				   &sent, &passed);
		if (sent)
			vn->rx_dirty |= 1u << qp;
		ok += sent;
		vn->st.off.out_passed += passed;
		last = &rc[i - 1];
		if (*last == -EIO) {
			ring_broke(vn, 2 * qp);
		} else if (*last == -EOPNOTSUPP ||
			   (*last == -EMSGSIZE && f[i - 1].off.gso != SW_GSO_NONE)) {
			*last = send_fallback(vn, qp, &f[i - 1]);
			ok += *last == 0;
		}
	}
	for (; i < n; i++) {
		rc[i] = net_send(ctx, &f[i]);
		ok += rc[i] == 0;
	}
	return ok;
}

static void net_flush(void *ctx)
{
	struct vu_net *n = ctx;
	uint32_t m = n->rx_dirty;

	n->rx_dirty = 0;
	while (m) {
		unsigned int qp = (unsigned int)__builtin_ctz(m);

		m &= m - 1;
		if (vq_ready(n->rxq[qp].vq) && vnet_rx_flush(&n->rxq[qp]))
			signal_call(n, 2 * qp);
	}
}

const struct sw_port_ops vu_net_port_ops = {
	.recv = net_recv,
	.recv_done = net_recv_done,
	.send = net_send,
	.flush = net_flush,
	.send_burst = net_send_burst,
};

unsigned int vu_net_set_kicks(struct vu_net *n, bool on)
{
	unsigned int waiting = 0;

	for (unsigned int i = 0; i < n->n_live_tx; i++) {
		struct vq *vq = n->txq[n->live_tx[i]].vq;

		if (!vq_ready(vq))
			continue;
		vq_set_kicks(vq, on);
		if (on)
			waiting += vq_avail_count(vq);
	}
	/*
	 * Fresh receive buffers never need to wake us: a frame for a port
	 * without buffers is dropped and counted, not parked.  A peer that
	 * kicks on every refill pays a syscall or an exit for nothing.
	 */
	for (unsigned int i = 0; i < n->n_live_rx; i++) {
		struct vq *vq = n->rxq[n->live_rx[i]].vq;

		if (vq_ready(vq))
			vq_set_kicks(vq, false);
	}
	return waiting;
}
