/* SPDX-License-Identifier: MIT */
/*
 * vxlan_dp: a VXLAN port's datapath without its socket (vxlan_dp.h).
 */
#include "vxlan_dp.h"

#include <errno.h>
#include <string.h>

/* ---- receive ---- */

static int remote_of(const struct vxlan_dp *d, const struct sockaddr_in *a)
{
	for (unsigned int i = 0; i < d->nremote; i++)
		if (d->remote[i].sin_addr.s_addr == a->sin_addr.s_addr)
			return (int)i;
	return -1;
}

/*
 * Check datagram buf (*len bytes) and find its inner frame: at *off, *len
 * bytes.  The port's own VNI: the frame as sent.  A VNI of vxlan-vlans:
 * the frame tagged with its VLAN, in place.
 */
static enum vxlan_verdict decap(const struct vxlan_dp *d, uint8_t *buf,
				size_t *len, size_t *off)
{
	enum vxlan_verdict v;
	uint32_t vni = 0;

	if (!d->nvmap)
		v = vxlan_decap(buf, *len, d->vni);
	else
		v = vxlan_decap_vni(buf, *len, &vni);
	if (v != VXLAN_OK)
		return v;
	*off = VXLAN_HLEN;
	*len -= VXLAN_HLEN;
	if (!d->nvmap || vni == d->vni)
		return VXLAN_OK;
	for (unsigned int i = 0; i < d->nvmap; i++) {
		if (d->vmap[i].vni == vni) {
			vxlan_tag_inner(buf, d->vmap[i].vid);
			*off -= 4;
			*len += 4;
			return VXLAN_OK;
		}
	}
	return VXLAN_BAD_VNI;
}

unsigned int vxlan_dp_rx_prep(struct vxlan_dp *d, unsigned int n, uint64_t now_ns)
{
	d->now_ns = now_ns;
	if (n > SW_BURST)
		n = SW_BURST;
	for (unsigned int i = 0; i < n; i++) {
		d->riov[i] = (struct iovec){ d->rbuf[i], VXLAN_DP_BUF_LEN };
		d->rmsg[i].msg_hdr = (struct msghdr){
			.msg_name = &d->rfrom[i], .msg_namelen = sizeof(d->rfrom[i]),
			.msg_iov = &d->riov[i], .msg_iovlen = 1,
		};
	}
	return n;
}

unsigned int vxlan_dp_rx(struct vxlan_dp *d, unsigned int got, struct sw_frame *f)
{
	unsigned int out = 0;

	if (got > SW_BURST)
		got = SW_BURST;
	for (unsigned int i = 0; i < got; i++) {
		const uint8_t *b = d->rbuf[i];
		size_t len = d->rmsg[i].msg_len, off = 0;
		struct sw_frame *fr = &f[out];
		enum vxlan_verdict v;
		int r = -1;

		if (d->rmsg[i].msg_hdr.msg_flags & MSG_TRUNC) {
			d->rx_truncated++;
			continue;
		}
		if (d->rmsg[i].msg_hdr.msg_namelen != sizeof(struct sockaddr_in) ||
		    (r = remote_of(d, &d->rfrom[i])) < 0)
			v = VXLAN_UNKNOWN_VTEP;
		else
			v = decap(d, d->rbuf[i], &len, &off);
		if (v != VXLAN_OK) {
			d->drops[v]++;
			continue;
		}
		b += off;
		fr->len = (uint32_t)len;
		fr->nseg = 1;
		fr->seg[0].base = b;
		fr->seg[0].len = fr->len;
		memcpy(fr->eth, b, SW_ETH_HLEN);
		memset(&fr->off, 0, sizeof(fr->off));
		vxlan_fdb_learn(&d->fdb, fr->eth + SW_ETH_ALEN, (unsigned int)r, d->now_ns);
		out++;
	}
	return out;
}

/* ---- transmit ---- */

/* Up to n bytes of f from byte off on, to buf; the count copied. */
static size_t frame_copy(const struct sw_frame *f, size_t off, uint8_t *buf, size_t n)
{
	size_t done = 0;

	for (unsigned int s = 0; s < f->nseg && done < n; s++) {
		size_t l = f->seg[s].len;

		if (off >= l) {
			off -= l;
			continue;
		}
		l -= off;
		if (l > n - done)
			l = n - done;
		memcpy(buf + done, f->seg[s].base + off, l);
		done += l;
		off = 0;
	}
	return done;
}

/*
 * vxlan-vlans: the VNI f travels in, and the 4 tag bytes to leave out
 * (*strip); -1: a VLAN without one.  Untagged frames take the port's VNI.
 */
static int64_t tx_vni(const struct vxlan_dp *d, const struct sw_frame *f,
		      bool *strip)
{
	uint8_t t[4];
	unsigned int vid;

	*strip = false;
	if (!d->nvmap || f->len < SW_ETH_HLEN + 4 ||
	    frame_copy(f, 12, t, 4) < 4 || t[0] != 0x81 || t[1] != 0x00)
		return d->vni;
	vid = (unsigned int)(t[2] & 0x0f) << 8 | t[3];
	for (unsigned int i = 0; i < d->nvmap; i++) {
		if (d->vmap[i].vid == vid) {
			*strip = true;
			return d->vmap[i].vni;
		}
	}
	return -1;
}

/* One frame without offload work: encapsulate and queue it. */
static int send_one(void *ctx, const struct sw_frame *f)
{
	struct vxlan_dp *d = ctx;
	unsigned int ndst, first;
	size_t flen = f->len;
	int64_t vni;
	bool strip;
	uint8_t *p;
	int r;

	vni = tx_vni(d, f, &strip);
	if (vni < 0) {
		d->tx_unmapped++;
		return -EIO;
	}
	flen -= strip ? 4 : 0;
	if (flen + VXLAN_HLEN > VXLAN_DP_BUF_LEN) {
		d->tx_too_big++;
		return -EMSGSIZE;
	}
	r = vxlan_fdb_lookup(&d->fdb, f->eth, d->now_ns);
	ndst = r >= 0 ? 1 : d->nremote;
	if (d->ntbuf == VXLAN_DP_TX_BUFS || d->ntmsg + ndst > VXLAN_DP_TX_MSGS)
		d->push(d, d->push_arg);
	p = d->tbuf[d->ntbuf];
	vxlan_encap(p, (uint32_t)vni);
	p += VXLAN_HLEN;
	if (strip) {
		frame_copy(f, 0, p, 12);
		frame_copy(f, 16, p + 12, flen - 12);
	} else {
		for (unsigned int s = 0; s < f->nseg; s++) {
			memcpy(p, f->seg[s].base, f->seg[s].len);
			p += f->seg[s].len;
		}
	}
	d->tiov[d->ntbuf] = (struct iovec){ d->tbuf[d->ntbuf], flen + VXLAN_HLEN };
	first = r >= 0 ? (unsigned int)r : 0;
	for (unsigned int i = 0; i < ndst; i++) {
		d->tmsg[d->ntmsg++].msg_hdr = (struct msghdr){
			.msg_name = &d->remote[first + i],
			.msg_namelen = sizeof(d->remote[0]),
			.msg_iov = &d->tiov[d->ntbuf], .msg_iovlen = 1,
		};
	}
	if (ndst > 1)
		d->tx_replicas += ndst - 1;
	d->ntbuf++;
	return 0;
}

/* A peer's checksum or segmentation work is finished before it leaves. */
int vxlan_dp_send(struct vxlan_dp *d, const struct sw_frame *f)
{
	if (sw_off_any(&f->off))
		return off_finish(f, &d->obuf, send_one, d, &d->ost);
	return send_one(d, f);
}

void vxlan_dp_clear_stats(struct vxlan_dp *d)
{
	memset(d->drops, 0, sizeof(d->drops));
	d->rx_truncated = d->tx_too_big = d->tx_dropped = d->tx_replicas = 0;
	d->tx_unmapped = 0;
	memset(&d->ost, 0, sizeof(d->ost));
}
