/* SPDX-License-Identifier: MIT */
/*
 * off: checking offload claims, completing checksums and segmenting
 * TCP/UDP in software (RFC 1071 checksums, RFC 791 / 8200 lengths,
 * RFC 9293 sequence numbers, RFC 3168 CWR on the first segment only).
 *
 * Security model: a claim (struct sw_offload) comes from a peer and is
 * checked here against a private copy of the frame's headers before any
 * offset in it is used; the segmenter checks it again against its own
 * private copy of the whole frame, so bytes the peer changes in between
 * can make a wrong checksum, never a read or write outside the frame.
 */
#include "off.h"

#include <errno.h>
#include <string.h>

const char *const off_err_names[OFF_E_MAX] = {
	[OFF_E_CSUM_RANGE] = "offload_csum_range",
	[OFF_E_HDR_LEN] = "offload_hdr_len",
	[OFF_E_GSO_TYPE] = "offload_gso_type",
	[OFF_E_GSO_SIZE] = "offload_gso_size",
	[OFF_E_GSO_PROTO] = "offload_gso_proto",
	[OFF_E_GSO_SEGS] = "offload_gso_segs",
};

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86dd
#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88a8
#define IPPROTO_TCP_ 6
#define IPPROTO_UDP_ 17
#define TCP_FIN 0x01
#define TCP_PSH 0x08
#define TCP_CWR 0x80

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/*
 * Sum in memory order: 16-bit words loaded natively add up to the right
 * checksum bytes on either byte order (RFC 1071, 2(B)); 32-bit halves of
 * 64-bit loads fold to the same sum since 2^16 = 1 mod 0xffff.  Callers
 * keep every part but the last of an even length.
 */
uint64_t off_sum(uint64_t sum, const uint8_t *p, uint32_t n)
{
	while (n >= 8) {
		uint64_t w;

		memcpy(&w, p, 8);
		sum += (w & 0xffffffffu) + (w >> 32);
		p += 8;
		n -= 8;
	}
	while (n >= 2) {
		uint16_t w;

		memcpy(&w, p, 2);
		sum += w;
		p += 2;
		n -= 2;
	}
	if (n) {
		uint16_t w = 0;

		memcpy(&w, p, 1);
		sum += w;
	}
	return sum;
}

/* Folded and inverted, ready to store with memcpy. */
uint16_t off_fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

struct layout {
	uint32_t l3, l4, hdr_len;
	uint8_t proto;
	bool v6;
};

/*
 * Find IPv4/IPv6 and TCP/UDP headers (behind at most one VLAN tag) in the
 * first hlen bytes of a len-byte frame; the IP length must cover exactly
 * the rest of the frame.  No IPv4 fragments, no IPv6 extension headers.
 */
static bool parse(const uint8_t *h, uint32_t hlen, uint32_t len,
		  struct layout *l)
{
	uint32_t l3 = SW_ETH_HLEN, l4;
	uint16_t type;

	if (hlen < SW_ETH_HLEN || hlen > len)
		return false;
	type = rd16(h + 12);
	if (type == ETH_P_8021Q || type == ETH_P_8021AD) {
		if (hlen < 18)
			return false;
		type = rd16(h + 16);
		l3 = 18;
	}
	if (type == ETH_P_IP) {
		uint32_t ihl;

		if (hlen < l3 + 20 || h[l3] >> 4 != 4)
			return false;
		ihl = (uint32_t)(h[l3] & 15) * 4;
		if (ihl < 20 || rd16(h + l3 + 2) != len - l3 ||
		    (rd16(h + l3 + 6) & 0x3fff))	/* MF or an offset */
			return false;
		l->proto = h[l3 + 9];
		l->v6 = false;
		l4 = l3 + ihl;
	} else if (type == ETH_P_IPV6) {
		if (hlen < l3 + 40 || h[l3] >> 4 != 6 ||
		    rd16(h + l3 + 4) != len - l3 - 40)
			return false;
		l->proto = h[l3 + 6];
		l->v6 = true;
		l4 = l3 + 40;
	} else {
		return false;
	}
	if (l->proto == IPPROTO_TCP_) {
		uint32_t doff;

		if (hlen < l4 + 20)
			return false;
		doff = (uint32_t)(h[l4 + 12] >> 4) * 4;
		if (doff < 20 || hlen < l4 + doff)
			return false;
		l->hdr_len = l4 + doff;
	} else if (l->proto == IPPROTO_UDP_) {
		if (hlen < l4 + 8)
			return false;
		l->hdr_len = l4 + 8;
	} else {
		return false;
	}
	l->l3 = l3;
	l->l4 = l4;
	return true;
}

static int refuse(enum off_err *why, enum off_err e)
{
	*why = e;
	return -EINVAL;
}

/* Check a GSO claim; fills l. */
static int check_gso(struct sw_offload *o, unsigned int caps, const uint8_t *h,
		     uint32_t hlen, uint32_t len, struct layout *l,
		     enum off_err *why)
{
	static const unsigned int need[SW_GSO_MAX] = {
		[SW_GSO_TCP4] = OFF_CAP_TSO4, [SW_GSO_TCP6] = OFF_CAP_TSO6,
		[SW_GSO_UDP4] = OFF_CAP_USO4, [SW_GSO_UDP6] = OFF_CAP_USO6,
	};
	bool tcp = o->gso == SW_GSO_TCP4 || o->gso == SW_GSO_TCP6;
	bool v6 = o->gso == SW_GSO_TCP6 || o->gso == SW_GSO_UDP6;
	uint32_t payload, segs;

	if (o->gso >= SW_GSO_MAX || !(caps & need[o->gso]) ||
	    !(o->flags & SW_OFF_CSUM) ||
	    ((o->flags & SW_OFF_ECN) && (!tcp || !(caps & OFF_CAP_ECN))))
		return refuse(why, OFF_E_GSO_TYPE);
	if (o->gso_size == 0)
		return refuse(why, OFF_E_GSO_SIZE);
	if (!parse(h, hlen, len, l) || l->v6 != v6 ||
	    l->proto != (tcp ? IPPROTO_TCP_ : IPPROTO_UDP_) ||
	    o->csum_start != l->l4 || o->csum_offset != (tcp ? 16 : 6))
		return refuse(why, OFF_E_GSO_PROTO);
	payload = len - l->hdr_len;
	if (payload == 0 || (uint32_t)o->gso_size + l->hdr_len > OFF_MAX_SEG_FRAME)
		return refuse(why, OFF_E_GSO_SIZE);
	segs = (payload + o->gso_size - 1) / o->gso_size;
	if (segs > OFF_MAX_SEGS)
		return refuse(why, OFF_E_GSO_SEGS);
	return 0;
}

int off_check(struct sw_offload *o, unsigned int caps, const uint8_t *h,
	      uint32_t hlen, uint32_t len, enum off_err *why)
{
	struct layout l;

	if (o->hdr_len > len)
		return refuse(why, OFF_E_HDR_LEN);
	if (o->flags & SW_OFF_CSUM) {
		if (!(caps & OFF_CAP_CSUM))
			return refuse(why, OFF_E_GSO_TYPE);
		/* Never into the Ethernet header: the switch forwarded on it. */
		if (o->csum_start < SW_ETH_HLEN ||
		    (uint32_t)o->csum_start + o->csum_offset + 2 > len)
			return refuse(why, OFF_E_CSUM_RANGE);
	}
	if (o->gso == SW_GSO_NONE) {
		if (o->flags & SW_OFF_ECN)
			return refuse(why, OFF_E_GSO_TYPE);
		o->gso_size = 0;
		o->hdr_len = 0;
		if (!(o->flags & SW_OFF_CSUM))
			o->csum_start = o->csum_offset = 0;
		return 0;
	}
	if (check_gso(o, caps, h, hlen, len, &l, why) < 0)
		return -EINVAL;
	o->hdr_len = (uint16_t)l.hdr_len;
	return 0;
}

void off_csum_complete(uint8_t *buf, uint32_t len, const struct sw_offload *o)
{
	uint32_t at = (uint32_t)o->csum_start + o->csum_offset;
	uint16_t c;

	if (!(o->flags & SW_OFF_CSUM) || o->csum_start < SW_ETH_HLEN || at + 2 > len)
		return;
	/* The field holds the pseudo-header's sum (5.1.6.2): part of the sum. */
	c = off_fold(off_sum(0, buf + o->csum_start, len - o->csum_start));
	if (c == 0)
		c = 0xffff;	/* 0 means "no checksum" to UDP; the same to TCP */
	memcpy(buf + at, &c, 2);
}

/* The L4 checksum of one segment: pseudo-header, L4 header, payload. */
static uint16_t seg_csum(const uint8_t *hdr, const struct layout *l,
			 const uint8_t *pay, uint32_t plen)
{
	uint32_t l4len = l->hdr_len - l->l4 + plen;
	uint8_t ph[8] = { 0 };
	uint64_t sum;
	uint16_t c;

	if (l->v6)
		sum = off_sum(0, hdr + l->l3 + 8, 32);
	else
		sum = off_sum(0, hdr + l->l3 + 12, 8);
	wr32(ph, l4len);
	ph[7] = l->proto;
	sum = off_sum(sum, ph, 8);
	sum = off_sum(sum, hdr + l->l4, l->hdr_len - l->l4);
	sum = off_sum(sum, pay, plen);
	c = off_fold(sum);
	if (c == 0 && l->proto == IPPROTO_UDP_)
		c = 0xffff;
	return c;
}

int off_segment(const uint8_t *buf, uint32_t len, const struct sw_offload *o,
		uint8_t *hdr, int (*emit)(void *ctx, const struct sw_frame *f),
		void *ctx, unsigned int *nsegs, unsigned int *lost)
{
	static const unsigned int all = OFF_CAP_CSUM | OFF_CAP_TSO4 |
		OFF_CAP_TSO6 | OFF_CAP_ECN | OFF_CAP_USO4 | OFF_CAP_USO6;
	struct sw_offload c = *o;
	struct layout l;
	enum off_err why;
	uint32_t hlen = len < OFF_HDR_COPY ? len : OFF_HDR_COPY;
	uint32_t payload, n, seq = 0;
	uint16_t id = 0;
	uint8_t flags = 0;
	bool tcp;

	*nsegs = *lost = 0;
	if (c.gso == SW_GSO_NONE ||
	    check_gso(&c, all, buf, hlen, len, &l, &why) < 0)
		return -EINVAL;
	tcp = l.proto == IPPROTO_TCP_;
	payload = len - l.hdr_len;
	n = (payload + c.gso_size - 1) / c.gso_size;
	if (!l.v6)
		id = rd16(buf + l.l3 + 4);
	if (tcp) {
		seq = rd32(buf + l.l4 + 4);
		flags = buf[l.l4 + 13];
	}
	for (uint32_t i = 0; i < n; i++) {
		uint32_t off = l.hdr_len + i * c.gso_size;
		uint32_t plen = len - off < c.gso_size ? len - off : c.gso_size;
		struct sw_frame f;
		uint16_t sum;
		int rc;

		memcpy(hdr, buf, l.hdr_len);
		if (l.v6) {
			wr16(hdr + l.l3 + 4, (uint16_t)(l.hdr_len - l.l3 - 40 + plen));
		} else {
			wr16(hdr + l.l3 + 2, (uint16_t)(l.hdr_len - l.l3 + plen));
			wr16(hdr + l.l3 + 4, (uint16_t)(id + i));
			wr16(hdr + l.l3 + 10, 0);
			sum = off_fold(off_sum(0, hdr + l.l3, l.l4 - l.l3));
			memcpy(hdr + l.l3 + 10, &sum, 2);
		}
		if (tcp) {
			uint8_t fl = flags;

			wr32(hdr + l.l4 + 4, seq + i * c.gso_size);
			if (i + 1 < n)
				fl &= (uint8_t)~(TCP_FIN | TCP_PSH);
			if (i > 0)
				fl &= (uint8_t)~TCP_CWR;
			hdr[l.l4 + 13] = fl;
			wr16(hdr + l.l4 + 16, 0);
		} else {
			wr16(hdr + l.l4 + 4, (uint16_t)(8 + plen));
			wr16(hdr + l.l4 + 6, 0);
		}
		sum = seg_csum(hdr, &l, buf + off, plen);
		memcpy(hdr + l.l4 + (tcp ? 16 : 6), &sum, 2);

		memset(&f, 0, sizeof(f));
		memcpy(f.eth, hdr, SW_ETH_HLEN);
		f.nseg = 2;
		f.seg[0].base = hdr;
		f.seg[0].len = l.hdr_len;
		f.seg[1].base = buf + off;
		f.seg[1].len = plen;
		f.len = l.hdr_len + plen;
		rc = emit(ctx, &f);
		if (rc < 0) {
			if (i == 0)
				return rc;
			*lost = n - i;
			break;
		}
		(*nsegs)++;
	}
	return 0;
}

int off_finish(const struct sw_frame *f, struct off_buf *b,
	       int (*send)(void *ctx, const struct sw_frame *f), void *ctx,
	       struct off_stats *st)
{
	uint32_t len = 0;
	unsigned int nsegs, lost;
	int rc;

	for (unsigned int s = 0; s < f->nseg && s < SW_FRAME_MAX_SEGS; s++) {
		if (f->seg[s].len > OFF_MAX_FRAME - len)
			return -EMSGSIZE;
		memcpy(b->b + len, f->seg[s].base, f->seg[s].len);
		len += f->seg[s].len;
	}
	if (f->nseg > SW_FRAME_MAX_SEGS || len < SW_ETH_HLEN)
		return -EMSGSIZE;
	b->len = len;
	if (f->off.gso == SW_GSO_NONE) {
		struct sw_frame g;

		if (f->off.csum_start < SW_ETH_HLEN ||
		    (uint32_t)f->off.csum_start + f->off.csum_offset + 2 > len) {
			st->out_changed++;
			return -EINVAL;
		}
		off_csum_complete(b->b, len, &f->off);
		g.len = len;
		g.nseg = 1;
		memcpy(g.eth, f->eth, SW_ETH_HLEN);
		memset(&g.off, 0, sizeof(g.off));
		g.seg[0].base = b->b;
		g.seg[0].len = len;
		rc = send(ctx, &g);
		if (rc == 0)
			st->out_sw_csum++;
		return rc;
	}
	rc = off_segment(b->b, len, &f->off, b->hdr, send, ctx, &nsegs, &lost);
	if (rc == -EINVAL && nsegs == 0)
		st->out_changed++;
	if (rc < 0)
		return rc;
	st->out_sw_gso++;
	st->out_segs += nsegs;
	st->out_seg_lost += lost;
	return 0;
}
