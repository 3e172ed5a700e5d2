/* SPDX-License-Identifier: MIT */
/*
 * vnet: virtio-net frames over device-side virtqueues (virtio 1.2, 5.1.6).
 *
 * Security model: chains come from vq_pop(), so every segment already lies
 * inside the peer's memory; what the peer can still do is lie about
 * direction, size and layout, and rewrite frame bytes while we look.  We
 * copy the peer's virtio-net header out once and use only the copy; a
 * header asking for offload work is checked (off_check) against a private
 * copy of the frame's first bytes, which also gives sw_frame.eth, before
 * the switch sees the frame.  Otherwise the Ethernet header is copied out
 * exactly once into sw_frame.eth and payload bytes are only copied.
 */
#include "vnet.h"

#include <errno.h>
#include <string.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Copy the first SW_ETH_HLEN bytes of the frame, which may be split over
 * any number of segments, out of shared memory once.
 */
static void copy_eth(struct sw_frame *f)
{
	unsigned int got = 0;

	/* The common case, one constant-size copy: the header in one segment. */
	if (f->nseg && f->seg[0].len >= SW_ETH_HLEN) {
		memcpy(f->eth, f->seg[0].base, SW_ETH_HLEN);
		return;
	}
	for (unsigned int s = 0; s < f->nseg && got < SW_ETH_HLEN; s++) {
		uint32_t n = f->seg[s].len;

		if (n > SW_ETH_HLEN - got)
			n = SW_ETH_HLEN - got;
		memcpy(f->eth + got, f->seg[s].base, n);
		got += n;
	}
}

/*
 * Turn the readable part of c, minus hdr_len bytes of virtio-net header,
 * into the segments of f.  The caller checked out_len.  Returns false when
 * the frame needs more than SW_FRAME_MAX_SEGS segments.
 */
static bool chain_to_frame(const struct vq_chain *c, uint16_t hdr_len,
			   struct sw_frame *f)
{
	uint32_t skip = hdr_len;

	f->len = c->out_len - hdr_len;
	if (c->n_out == 1) {
		/* The common case: out_len, all of iov[0], holds the header. */
		f->seg[0].base = c->iov[0].base + hdr_len;
		f->seg[0].len = c->iov[0].len - hdr_len;
		f->nseg = 1;
		return true;
	}
	f->nseg = 0;
	for (unsigned int i = 0; i < c->n_out; i++) {
		const uint8_t *base = c->iov[i].base;
		uint32_t len = c->iov[i].len;

		if (skip >= len) {
			skip -= len;
			continue;
		}
		base += skip;
		len -= skip;
		skip = 0;
		if (f->nseg == SW_FRAME_MAX_SEGS)
			return false;
		f->seg[f->nseg].base = base;
		f->seg[f->nseg].len = len;
		f->nseg++;
	}
	return true;
}

unsigned int vnet_off_caps(uint64_t features, bool host)
{
	unsigned int c = 0;

#define HAS(bit) ((features >> (bit)) & 1)
	if (host) {
		if (HAS(VNET_F_CSUM)) {
			c |= OFF_CAP_CSUM;
			if (HAS(VNET_F_HOST_TSO4))
				c |= OFF_CAP_TSO4;
			if (HAS(VNET_F_HOST_TSO6))
				c |= OFF_CAP_TSO6;
			if (HAS(VNET_F_HOST_ECN))
				c |= OFF_CAP_ECN;
			if (HAS(VNET_F_HOST_USO))
				c |= OFF_CAP_USO4 | OFF_CAP_USO6;
		}
	} else if (HAS(VNET_F_GUEST_CSUM)) {
		c |= OFF_CAP_CSUM;
		if (HAS(VNET_F_GUEST_TSO4))
			c |= OFF_CAP_TSO4;
		if (HAS(VNET_F_GUEST_TSO6))
			c |= OFF_CAP_TSO6;
		if (HAS(VNET_F_GUEST_ECN))
			c |= OFF_CAP_ECN;
		if (HAS(VNET_F_GUEST_USO4))
			c |= OFF_CAP_USO4;
		if (HAS(VNET_F_GUEST_USO6))
			c |= OFF_CAP_USO6;
	}
#undef HAS
	return c;
}

/* virtio-net header (5.1.6): gso_type values and flags. */
#define HDR_F_NEEDS_CSUM 1
#define HDR_GSO_NONE 0
#define HDR_GSO_TCPV4 1
#define HDR_GSO_TCPV6 4
#define HDR_GSO_UDP_L4 5
#define HDR_GSO_ECN 0x80

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

/* Copy n bytes from offset off of the chain's readable part. */
static void chain_read(const struct vq_chain *c, uint32_t off, uint8_t *dst,
		       uint32_t n)
{
	for (unsigned int i = 0; i < c->n_out && n; i++) {
		uint32_t len = c->iov[i].len, k;

		if (off >= len) {
			off -= len;
			continue;
		}
		k = len - off < n ? len - off : n;
		memcpy(dst, c->iov[i].base + off, k);
		dst += k;
		n -= k;
		off = 0;
	}
}

/*
 * Turn the header of a frame with offload work (h: its first two bytes,
 * copied; the other eight are copied here) into f->off and check it
 * against the frame's first bytes, copied privately (which also fill
 * f->eth).  Returns false, counted by reason, for a bad claim.
 */
static bool tx_offload(struct vnet_txq *q, const struct vq_chain *c,
		       uint8_t *h, struct sw_frame *f,
		       struct vnet_stats *st)
{
	uint8_t copy[OFF_HDR_COPY] = { 0 };
	uint32_t n = f->len < OFF_HDR_COPY ? f->len : OFF_HDR_COPY;
	struct sw_offload *o = &f->off;
	enum off_err why;
	uint8_t t = h[1] & (uint8_t)~HDR_GSO_ECN;

	chain_read(c, 2, h + 2, 8);
	chain_read(c, q->hdr_len, copy, n);
	memcpy(f->eth, copy, SW_ETH_HLEN);
	o->flags = (h[0] & HDR_F_NEEDS_CSUM) ? SW_OFF_CSUM : 0;
	if (h[1] & HDR_GSO_ECN)
		o->flags |= SW_OFF_ECN;
	o->hdr_len = le16(h + 2);
	o->gso_size = le16(h + 4);
	o->csum_start = le16(h + 6);
	o->csum_offset = le16(h + 8);
	if (t == HDR_GSO_NONE) {
		o->gso = SW_GSO_NONE;
	} else if (t == HDR_GSO_TCPV4) {
		o->gso = SW_GSO_TCP4;
	} else if (t == HDR_GSO_TCPV6) {
		o->gso = SW_GSO_TCP6;
	} else if (t == HDR_GSO_UDP_L4) {
		/* The type does not say which IP: the frame does (checked next). */
		uint16_t et = (uint16_t)(copy[12] << 8 | copy[13]);

		if ((et == 0x8100 || et == 0x88a8) && n >= 18)
			et = (uint16_t)(copy[16] << 8 | copy[17]);
		o->gso = et == 0x86dd ? SW_GSO_UDP6 : SW_GSO_UDP4;
	} else {
		st->off.bad[OFF_E_GSO_TYPE]++;
		return false;
	}
	if (off_check(o, q->off_caps, copy, n, f->len, &why) < 0) {
		st->off.bad[why]++;
		return false;
	}
	return true;
}

/*
 * The header of a peer that negotiated offloads: flags and gso_type are
 * both 0 unless it asks for work.  Returns 0 for a frame without work
 * (the caller fills f->off and f->eth), 1 for one with checked work
 * (f->off and f->eth filled), -1 (counted) when the frame must go back.
 */
static int tx_frame_offload(struct vnet_txq *q, const struct vq_chain *c,
			    struct sw_frame *f, struct vnet_stats *st)
{
	uint8_t h[10] = { 0 };

	chain_read(c, 0, h, 2);
	if (!(h[0] | h[1])) {
		if (f->len <= VNET_MAX_FRAME)
			return 0;
		st->tx_oversize++;	/* only GSO frames may be larger */
		return -1;
	}
	if (!tx_offload(q, c, h, f, st))
		return -1;
	if (f->off.gso != SW_GSO_NONE) {
		st->off.in_gso++;
	} else if (f->len > VNET_MAX_FRAME) {
		st->tx_oversize++;
		return -1;
	} else {
		st->off.in_csum++;
	}
	return 1;
}

/*
 * A chain that is not a frame goes back with the burst's frames, in its
 * place among them: used in the order made available (VIRTIO_F_IN_ORDER,
 * 2.7.9 and 2.8.21.4).  The caller checked there is room in pending.
 */
static void tx_reject(struct vnet_txq *q, uint16_t head)
{
	q->pending[q->npending++] = head;
}

/* Does a header ask for work: flags or gso_type (its first two bytes) not 0? */
static inline bool work_asked(const uint8_t *hdr)
{
	uint16_t w;

	memcpy(&w, hdr, sizeof(w));
	return w != 0;
}

unsigned int vnet_tx_burst(struct vnet_txq *q, struct sw_frame *f,
			   unsigned int n, struct vnet_stats *st)
{
	struct vq_chain *c = &q->chain;
	unsigned int got = 0;
	/* Rejects cost a pop too: bound the work one call may do. */
	unsigned int budget = 2 * ARRAY_LEN(q->pending);
	/* GSO frames may be larger, when the peer may send them. */
	uint32_t max = (q->off_caps & OFF_CAP_GSO) ? VNET_MAX_GSO_FRAME : VNET_MAX_FRAME;
	int k;

	while (got < n && q->npending < ARRAY_LEN(q->pending) && budget--) {
		int rc = vq_pop(q->vq, c);

		/*
		 * The common case first: one readable segment holding header
		 * and frame, asking for no offload work (a peer without
		 * offloads, or flags and gso_type both 0).  Otherwise the
		 * checks below read the header again, into their own copy.
		 */
		if (rc == 1 && c->n_out == 1 && !c->n_in &&
		    c->out_len >= (uint32_t)q->hdr_len + SW_ETH_HLEN &&
		    c->out_len - q->hdr_len <= VNET_MAX_FRAME &&
		    (!q->off_caps || !work_asked(c->iov[0].base))) {
			struct sw_frame *fr = &f[got];

			fr->len = c->out_len - q->hdr_len;
			fr->nseg = 1;
			fr->seg[0].base = c->iov[0].base + q->hdr_len;
			fr->seg[0].len = fr->len;
			memset(&fr->off, 0, sizeof(fr->off));
			memcpy(fr->eth, fr->seg[0].base, SW_ETH_HLEN);
			q->pending[q->npending++] = c->head;
			got++;
			continue;
		}
		if (rc == 0)
			break;
		if (rc == -EIO)
			goto broken;
		if (c->n_in) {
			vq_break(q->vq, "writable descriptor in a TX chain");
			goto broken;
		}
		if (rc == -EMSGSIZE) {
			if (c->n_out + c->n_in >= VQ_MAX_IOV)
				st->tx_too_many_segs++;
			else
				st->tx_oversize++;
			tx_reject(q, c->head);
			continue;
		}
		if (c->out_len < (uint32_t)q->hdr_len + SW_ETH_HLEN) {
			st->tx_runt++;
			tx_reject(q, c->head);
			continue;
		}
		if (c->out_len - q->hdr_len > max) {
			st->tx_oversize++;
			tx_reject(q, c->head);
			continue;
		}
		if (!chain_to_frame(c, q->hdr_len, &f[got])) {
			st->tx_too_many_segs++;
			tx_reject(q, c->head);
			continue;
		}
		/*
		 * A peer that negotiated no offloads asks for none: its
		 * header is not read at all (as DPDK's vhost does).
		 */
		k = q->off_caps ? tx_frame_offload(q, c, &f[got], st) : 0;
		if (k < 0) {
			tx_reject(q, c->head);
			continue;
		}
		if (k == 0) {
			memset(&f[got].off, 0, sizeof(f[got].off));
			copy_eth(&f[got]);
		}
		q->pending[q->npending++] = c->head;
		got++;
	}
	return got;

broken:
	/* A broken queue is not touched again: its chains are not returned. */
	q->npending = 0;
	return 0;
}

bool vnet_tx_done(struct vnet_txq *q)
{
	/* TX buffers are only read: 0 bytes written (2.7.8). */
	vq_push_read(q->vq, q->pending, q->npending);
	q->npending = 0;
	return vq_publish(q->vq);
}

/* A cursor over the writable segments of one or more chains. */
struct rx_dst {
	struct vq_chain *c;	/* chains, in order */
	unsigned int nchains;
	unsigned int ci;	/* current chain */
	unsigned int ii;	/* current iov within chain ci (from n_out) */
	uint32_t off;		/* bytes used in the current iov */
};

/*
 * Copy len bytes from src into the destination, advancing it.  The caller
 * made sure the room is there.  memmove, not memcpy: two ports may be one
 * VM's two NICs, which can make source and destination overlap.
 */
static void rx_put(struct rx_dst *d, const uint8_t *src, uint32_t len)
{
	while (len && d->ci < d->nchains) {
		struct vq_chain *c = &d->c[d->ci];
		struct vq_iov *v;
		uint32_t n;

		if (d->ii >= c->n_in) {
			d->ci++;
			d->ii = 0;
			d->off = 0;
			continue;
		}
		v = &c->iov[c->n_out + d->ii];
		n = v->len - d->off;
		if (n > len)
			n = len;
		memmove(v->base + d->off, src, n);
		d->off += n;
		src += n;
		len -= n;
		if (d->off == v->len) {
			d->ii++;
			d->off = 0;
		}
	}
}

/*
 * Write the virtio-net header and the frame into chains c[0..k) and push
 * each with the bytes it got: all but the last are filled completely
 * (5.1.6.4.1), since chains are filled in order.
 */
static void rx_fill(struct vnet_rxq *q, const struct sw_frame *f,
		    uint32_t need, unsigned int k, bool work)
{
	static const uint8_t gso_type[SW_GSO_MAX] = {
		[SW_GSO_NONE] = HDR_GSO_NONE, [SW_GSO_TCP4] = HDR_GSO_TCPV4,
		[SW_GSO_TCP6] = HDR_GSO_TCPV6, [SW_GSO_UDP4] = HDR_GSO_UDP_L4,
		[SW_GSO_UDP6] = HDR_GSO_UDP_L4,
	};
	struct rx_dst d;
	uint8_t hdr[12] = { 0 };
	uint32_t left = need;
	const struct sw_offload *o = &f->off;

	/* Offload work the queue takes (vnet_rx_frame checked); little-endian. */
	if (work) {
		hdr[0] = (o->flags & SW_OFF_CSUM) ? HDR_F_NEEDS_CSUM : 0;
		hdr[1] = (uint8_t)(gso_type[o->gso] |
				   ((o->flags & SW_OFF_ECN) ? HDR_GSO_ECN : 0));
		hdr[2] = (uint8_t)o->hdr_len;
		hdr[3] = (uint8_t)(o->hdr_len >> 8);
		hdr[4] = (uint8_t)o->gso_size;
		hdr[5] = (uint8_t)(o->gso_size >> 8);
		hdr[6] = (uint8_t)o->csum_start;
		hdr[7] = (uint8_t)(o->csum_start >> 8);
		hdr[8] = (uint8_t)o->csum_offset;
		hdr[9] = (uint8_t)(o->csum_offset >> 8);
	}
	hdr[10] = (uint8_t)k;
	hdr[11] = (uint8_t)(k >> 8);
	/*
	 * The common case: one chain whose first writable segment takes
	 * header and frame.  The header comes from our stack (memcpy); the
	 * frame's segments may overlap the destination (memmove, as rx_put).
	 */
	if (k == 1 && q->chain[0].iov[q->chain[0].n_out].len >= need) {
		uint8_t *dst = q->chain[0].iov[q->chain[0].n_out].base;

		if (q->hdr_len == sizeof(hdr))
			memcpy(dst, hdr, sizeof(hdr));
		else
			memcpy(dst, hdr, q->hdr_len);
		dst += q->hdr_len;
		for (unsigned int s = 0; s < f->nseg; s++) {
			memmove(dst, f->seg[s].base, f->seg[s].len);
			dst += f->seg[s].len;
		}
		vq_push(q->vq, q->chain[0].head, need);
		return;
	}
	d = (struct rx_dst){ .c = q->chain, .nchains = k };
	rx_put(&d, hdr, q->hdr_len);
	for (unsigned int s = 0; s < f->nseg; s++)
		rx_put(&d, f->seg[s].base, f->seg[s].len);
	for (unsigned int i = 0; i < k; i++) {
		uint32_t n = q->chain[i].in_len < left ? q->chain[i].in_len : left;

		vq_push(q->vq, q->chain[i].head, n);
		left -= n;
	}
}

/*
 * Pop up to max chains until they hold need bytes.  Returns the number of
 * chains (>= 1) on success; otherwise every chain popped is given back
 * (or, for an unusable first chain, returned empty) and -errno.
 *
 * Without MRG_RXBUF (max == 1) a chain smaller than header + frame is a
 * legal buffer that cannot take this frame: it is given back untouched
 * and the frame is dropped as too big (-EMSGSIZE), so the buffer is still
 * there for the next, smaller frame.  Linux posts buffers of one size
 * (1518 + header, or 64 KiB "big packets"), so this never starves it.
 */
static int rx_gather(struct vnet_rxq *q, uint32_t need, unsigned int max,
		     struct vnet_stats *st)
{
	uint64_t room = 0;
	unsigned int k = 0;

	while (room < need) {
		struct vq_chain *c = &q->chain[k];
		int rc;

		if (k == max) {
			vq_unpop(q->vq, (uint16_t)k);
			st->rx_too_big++;
			return -EMSGSIZE;
		}
		rc = vq_pop(q->vq, c);
		if (rc == -EIO)
			return -EIO;
		if (rc == 1 && c->n_out) {
			vq_break(q->vq, "readable descriptor in an RX chain");
			return -EIO;
		}
		if (rc == 0) {
			vq_unpop(q->vq, (uint16_t)k);
			st->rx_no_buffer++;
			return -ENOBUFS;
		}
		if (rc == -EMSGSIZE) {
			/*
			 * Over 64 segments or 4 GiB: no Linux guest posts
			 * that.  Alone, hand it back empty; behind others,
			 * roll back so it is first next time.
			 */
			if (k == 0)
				vq_push(q->vq, c->head, 0);
			else
				vq_unpop(q->vq, (uint16_t)(k + 1));
			st->rx_no_buffer++;
			return -ENOBUFS;
		}
		room += c->in_len;
		k++;
	}
	return (int)k;
}

/*
 * The common case, tried first: a frame in one segment, without offload
 * work, into one buffer that takes the 12-byte header and the frame (as
 * Linux's and DPDK's receive buffers do from 64 to 1518 bytes).  Returns
 * 0 (delivered), -EIO (queue broken), or 1: the general path must do it,
 * and any chain popped here was given back for it.
 */
static inline int rx_one(struct vnet_rxq *q, const struct sw_frame *f)
{
	static const uint8_t hdr[12] = { [10] = 1 };	/* num_buffers 1 */
	struct vq_chain *c = &q->chain[0];
	uint32_t need = sizeof(hdr) + f->seg[0].len;
	int rc = vq_pop(q->vq, c);

	if (rc == 1 && c->n_out == 0 && c->n_in && c->iov[0].len >= need) {
		memcpy(c->iov[0].base, hdr, sizeof(hdr));
		/* memmove: see rx_put() */
		memmove(c->iov[0].base + sizeof(hdr), f->seg[0].base, f->seg[0].len);
		vq_push(q->vq, c->head, need);
		return 0;
	}
	if (rc == 1 || rc == -EMSGSIZE)
		vq_unpop(q->vq, 1);
	return rc == -EIO ? -EIO : 1;
}

/*
 * rx_one() for a run of frames: the buffers of the leading frames that
 * rx_one() would take are all popped first, each prefetched for writing
 * as it comes, and only then filled and pushed, in the same order.  The
 * peer's descriptors and buffers are lines its CPU wrote last: taken
 * together their misses overlap, where one frame at a time each copy
 * waited for its own.  Stops at the first frame or buffer rx_one() would
 * not take (that buffer is given back); returns the frames delivered,
 * rc[] 0 for each.
 */
static unsigned int rx_run(struct vnet_rxq *q, const struct sw_frame *f,
			   unsigned int n, int *rc)
{
	static const uint8_t hdr[12] = { [10] = 1 };	/* num_buffers 1 */
	struct vq_chain *c = &q->chain[0];
	uint8_t *dst[SW_BURST];
	uint16_t head[SW_BURST];
	unsigned int k = 0;

	if (q->hdr_len != sizeof(hdr))
		return 0;
	for (; k < n && k < SW_BURST; k++) {
		uint32_t need = sizeof(hdr) + f[k].seg[0].len;
		int r;

		if (sw_off_any(&f[k].off) || f[k].nseg != 1 ||
		    f[k].seg[0].len > VNET_MAX_FRAME)
			break;
		r = vq_pop(q->vq, c);
		if (r != 1 || c->n_out || !c->n_in || c->iov[0].len < need) {
			if (r == 1 || r == -EMSGSIZE)
				vq_unpop(q->vq, 1);
			break;
		}
		dst[k] = c->iov[0].base;
		head[k] = c->head;
		__builtin_prefetch(dst[k], 1);
		__builtin_prefetch(dst[k] + need - 1, 1);
	}
	for (unsigned int j = 0; j < k; j++) {
		uint32_t len = f[j].seg[0].len;

		memcpy(dst[j], hdr, sizeof(hdr));
		/* memmove: see rx_put() */
		memmove(dst[j] + sizeof(hdr), f[j].seg[0].base, len);
		vq_push(q->vq, head[j], (uint32_t)sizeof(hdr) + len);
		rc[j] = 0;
	}
	return k;
}

/* vnet_rx_frame() for any frame and any buffers. */
static __attribute__((noinline)) int rx_frame_any(struct vnet_rxq *q,
						   const struct sw_frame *f,
						   struct vnet_stats *st)
{
	/* Without num_buffers in the header only one chain can be used. */
	unsigned int max = q->mrg_rxbuf && q->hdr_len >= 12 ? VQ_MAX_IOV : 1;
	uint64_t len = 0;
	uint32_t limit = VNET_MAX_FRAME;
	bool work = sw_off_any(&f->off);
	int k;

	if (!vq_ready(q->vq))
		return -EIO;
	if (work) {
		if (!off_takes(&f->off, q->off_caps))
			return -EOPNOTSUPP;
		if (f->off.gso != SW_GSO_NONE)
			limit = VNET_MAX_GSO_FRAME;
	}
	/* The segments, not f->len, say how much rx_fill() will write. */
	if (f->nseg == 1)
		len = f->seg[0].len;
	else
		for (unsigned int s = 0; s < f->nseg && s < SW_FRAME_MAX_SEGS; s++)
			len += f->seg[s].len;
	if (len > limit || f->nseg > SW_FRAME_MAX_SEGS) {
		st->rx_too_big++;
		return -EMSGSIZE;
	}
	k = rx_gather(q, q->hdr_len + (uint32_t)len, max, st);
	if (k < 0)
		return k;
	rx_fill(q, f, q->hdr_len + (uint32_t)len, (unsigned int)k, work);
	return 0;
}

static inline __attribute__((always_inline)) int
rx_frame(struct vnet_rxq *q, const struct sw_frame *f, struct vnet_stats *st)
{
	if (!sw_off_any(&f->off) && q->hdr_len == 12 && f->nseg == 1 &&
	    f->seg[0].len <= VNET_MAX_FRAME) {
		int rc = rx_one(q, f);

		if (rc <= 0)
			return rc;
	}
	return rx_frame_any(q, f, st);
}

int vnet_rx_frame(struct vnet_rxq *q, const struct sw_frame *f,
		  struct vnet_stats *st)
{
	return rx_frame(q, f, st);
}

unsigned int vnet_rx_burst(struct vnet_rxq *q, const struct sw_frame *f,
			   unsigned int n, struct vnet_stats *st, int *rc,
			   unsigned int *sent, unsigned int *passed)
{
	unsigned int i = 0, ok = 0, off = 0;

	while (i < n) {
		unsigned int k = rx_run(q, f + i, n - i, rc + i);
		int r;

		i += k;
		ok += k;
		if (i == n)
			break;
		r = rx_frame(q, &f[i], st);
		rc[i++] = r;
		if (r == 0) {
			ok++;
			off += sw_off_any(&f[i - 1].off);
		} else if (r != -ENOBUFS) {
			break;
		}
	}
	*sent = ok;
	*passed = off;
	return i;
}

bool vnet_rx_flush(struct vnet_rxq *q)
{
	return vq_publish(q->vq);
}
