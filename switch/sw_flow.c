/* SPDX-License-Identifier: MIT */
/*
 * sw_flow: a frame's flow hash, for ports that spread frames over several
 * receive queues as RSS would.  Frame bytes may live in a peer's memory and
 * change under us: the headers are copied once into a private buffer and
 * only the copy is parsed, every offset checked against what was copied.
 * A peer that rewrites its frame meanwhile only moves its own frame to
 * another of the receiver's queues.
 */
#include "sw.h"

#include <stdbool.h>
#include <string.h>

/* Header bytes looked at: Ethernet, one VLAN tag, IPv6, the ports. */
#define FLOW_COPY (SW_ETH_HLEN + 4 + 40 + 4)

static uint32_t fnv1a(uint32_t h, const uint8_t *p, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

/*
 * The frame's flow, for spreading frames over a multiqueue peer's receive
 * rings as RSS would: addresses, protocol and TCP/UDP ports of an IPv4 or
 * IPv6 packet (ports only when unfragmented), behind at most one VLAN tag;
 * else the two MACs.  h is a private copy of the first n bytes.
 */
static uint32_t flow_of_headers(const uint8_t *h, uint32_t n)
{
	uint32_t off = SW_ETH_HLEN, x = 2166136261u;
	uint32_t l4 = 0;
	uint8_t proto = 0;
	unsigned int type;

	if (n < SW_ETH_HLEN)
		return 0;
	type = (unsigned int)h[12] << 8 | h[13];
	if (type == 0x8100 && n >= off + 4) {
		type = (unsigned int)h[16] << 8 | h[17];
		off += 4;
	}
	if (type == 0x0800 && n >= off + 20 && (h[off] >> 4) == 4 &&
	    (h[off] & 15) >= 5) {
		bool frag = (h[off + 6] & 0x3f) || h[off + 7];

		proto = h[off + 9];
		x = fnv1a(x, h + off + 12, 8);
		if (!frag)
			l4 = off + (h[off] & 15) * 4u;
	} else if (type == 0x86dd && n >= off + 40 && (h[off] >> 4) == 6) {
		proto = h[off + 6];
		x = fnv1a(x, h + off + 8, 32);
		l4 = off + 40;
	} else {
		x = fnv1a(x, h, 12);
	}
	x = fnv1a(x, &proto, 1);
	if (l4 && (proto == 6 || proto == 17) && n >= l4 + 4)
		x = fnv1a(x, h + l4, 4);
	/* MurmurHash3's finaliser: every input bit reaches the low bits. */
	x ^= x >> 16;
	x *= 0x85ebca6bu;
	x ^= x >> 13;
	x *= 0xc2b2ae35u;
	x ^= x >> 16;
	return x;
}

uint32_t sw_frame_flow(const struct sw_frame *f)
{
	uint8_t hdr[FLOW_COPY];
	uint32_t got = 0;

	for (unsigned int s = 0; s < f->nseg && got < FLOW_COPY; s++) {
		uint32_t n = f->seg[s].len;

		if (n > FLOW_COPY - got)
			n = FLOW_COPY - got;
		memcpy(hdr + got, f->seg[s].base, n);
		got += n;
	}
	return flow_of_headers(hdr, got);
}
