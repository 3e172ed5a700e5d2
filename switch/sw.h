/* SPDX-License-Identifier: MIT */
/*
 * sw: an L2 learning switch over abstract ports.
 *
 * The switch knows nothing of virtio: a port is four callbacks that hand it
 * frames as scatter lists and take frames to deliver.  Frame bytes may live
 * in a peer's shared memory and change under us, so every decision is made
 * on sw_frame.eth, a private copy of the Ethernet header taken once by the
 * port, and the payload is only ever copied, never interpreted.
 * Single-threaded: one thread owns a struct sw and all its ports.
 */
#ifndef SW_H
#define SW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define SW_ETH_ALEN 6
#define SW_ETH_HLEN 14
#define SW_BURST 32			/* frames per recv call */
#define SW_FRAME_MAX_SEGS 32		/* segments per frame */
#define SW_MAX_PORTS 64
#define SW_MAC_MAX_LIMIT (1U << 22)	/* largest mac_max sw_create() takes */

struct sw_seg {
	const uint8_t *base;
	uint32_t len;
};

/*
 * Work a sender left to the receiving side: a checksum to complete and/or
 * a large TCP or UDP packet to cut into gso_size pieces.  All zero (the
 * usual case): none, and a port that knows no offloads leaves it zero.
 * Transport-neutral (virtio-net's header is one way to carry it); ports
 * fill it only after checking it against the frame (drivers/offload), and
 * the switch forwards it untouched.
 */
#define SW_OFF_CSUM 0x01		/* the L4 checksum is partial */
#define SW_OFF_ECN 0x02			/* GSO: the TCP segment has CWR set */
enum sw_gso {
	SW_GSO_NONE,
	SW_GSO_TCP4,
	SW_GSO_TCP6,
	SW_GSO_UDP4,			/* UDP segmentation (USO) */
	SW_GSO_UDP6,
	SW_GSO_MAX
};

struct sw_offload {
	uint8_t flags;			/* SW_OFF_* */
	uint8_t gso;			/* enum sw_gso */
	uint16_t csum_start;		/* SW_OFF_CSUM: sum from here to the end */
	uint16_t csum_offset;		/* ... into csum_start + csum_offset */
	uint16_t gso_size;		/* payload bytes per segment */
	uint16_t hdr_len;		/* GSO: Ethernet, IP and L4 headers */
};

_Static_assert(offsetof(struct sw_offload, gso) == 1, "flags, gso: the first two bytes");

/* True when o asks for any work (flags and gso read as one). */
static inline bool sw_off_any(const struct sw_offload *o)
{
	uint16_t w;

	memcpy(&w, o, sizeof(w));	/* flags, gso */
	return w != 0;
}

struct sw_frame {
	uint32_t len;			/* sum of seg[].len */
	uint16_t nseg;
	uint8_t eth[SW_ETH_HLEN];	/* dst, src, type: a copy, trusted */
	struct sw_offload off;		/* checked offload work, usually none */
	struct sw_seg seg[SW_FRAME_MAX_SEGS];
};

/*
 * f's flow hash: addresses, protocol and TCP/UDP ports of an IPv4 or IPv6
 * packet (ports only when unfragmented) behind at most one VLAN tag, else
 * the two MACs.  One TCP or UDP stream always hashes the same, however its
 * frames are cut into segments.  For a port that spreads frames over its
 * receive queues; it reads up to 62 bytes of the frame, so call it only
 * when there is more than one queue to choose from.
 */
uint32_t sw_frame_flow(const struct sw_frame *f);

/*
 * A port.  All callbacks get the ctx given to sw_port_add().
 *  recv:      take up to n (<= SW_BURST) frames from the peer.  They stay
 *             valid until recv_done().  Returns the count.
 *  recv_done: the frames of the last recv are finished with; give their
 *             buffers back to the peer (and notify it once).
 *  send:      copy f into the peer's receive buffers.  0, -ENOBUFS when the
 *             peer has no room (frame dropped), -EMSGSIZE when it can never
 *             fit, -EIO when the port is broken or not running.
 *  flush:     notify the peer once for everything sent since the last flush.
 */
struct sw_port_ops {
	unsigned int (*recv)(void *ctx, struct sw_frame *f, unsigned int n);
	void (*recv_done)(void *ctx);
	int (*send)(void *ctx, const struct sw_frame *f);
	void (*flush)(void *ctx);
};

enum sw_drop {
	SW_DROP_NO_BUFFER,	/* egress: the receiver had no room */
	SW_DROP_TOO_BIG,	/* egress: larger than the receiver accepts */
	SW_DROP_PORT_ERROR,	/* egress: the receiver's port is broken */
	SW_DROP_RUNT,		/* ingress: shorter than an Ethernet header */
	SW_DROP_BAD_SRC,	/* ingress: multicast or zero source MAC */
	SW_DROP_HAIRPIN,	/* ingress: destination learned on the same port */
	SW_DROP_PORT_DOWN,	/* ingress on, or unicast to, a port that is down */
	SW_DROP_MAX
};

extern const char *const sw_drop_names[SW_DROP_MAX];

struct sw_port_stats {
	uint64_t rx_packets, rx_bytes;	/* received from the peer */
	uint64_t tx_packets, tx_bytes;	/* delivered to the peer */
	uint64_t rx_flooded;		/* ingress frames that were flooded */
	uint64_t learn_refused;		/* MACs not learned: a limit was hit */
	uint64_t drops[SW_DROP_MAX];
};

struct sw_config {
	uint32_t mac_max;		/* global MAC table capacity */
	uint32_t mac_max_per_port;	/* a port may hold at most this many */
	uint32_t ageing_s;		/* idle entries expire after this */
	uint32_t port_budget;		/* max frames taken from one port per sw_poll */
};

void sw_config_default(struct sw_config *c);

struct sw;

/* NULL on bad config or no memory. */
struct sw *sw_create(const struct sw_config *c);
void sw_destroy(struct sw *s);

/* Returns the port id (>= 0) or -ENOSPC / -EINVAL. The port starts down. */
int sw_port_add(struct sw *s, const char *name, const struct sw_port_ops *ops,
		void *ctx);
/* Forget the port and every MAC learned on it. */
void sw_port_remove(struct sw *s, int port);
/* A down port is not polled and gets nothing; going down flushes its MACs. */
void sw_port_set_up(struct sw *s, int port, bool up);
bool sw_port_is_up(const struct sw *s, int port);
const char *sw_port_name(const struct sw *s, int port);
const struct sw_port_stats *sw_port_stats(const struct sw *s, int port);
void sw_port_stats_clear(struct sw *s, int port);

/*
 * One round: each up port, in turn, gives at most port_budget frames, which
 * are learned from and forwarded.  now_ns is a monotonic clock, used for
 * ageing.  Returns the number of frames taken in.
 */
unsigned int sw_poll(struct sw *s, uint64_t now_ns);

/*
 * Ageing.  sw_poll ages incrementally: at most once a second it starts a
 * sweep of the MAC table, and each sw_poll call carries the sweep on by one
 * bounded slice (4096 slots looked at, fewer when it deletes; a few
 * microseconds), so forwarding never waits long for ageing whatever the
 * table size.  An entry idle longer than ageing_s is removed by the first
 * sweep to reach its slot after that.  With D the time one sweep takes
 * (about slots / 4096 sw_poll calls, more while it deletes) and sweeps
 * starting every P = max(1 s, D), an entry is removed at most ageing_s +
 * P + D after it was last seen, and about ageing_s + P when sw_poll is
 * called at a steady rate.  So sw_poll must be called often while a sweep
 * is under way; sw_age_due_ns says when.
 */

/*
 * When sw_poll next has ageing work: 0 while a sweep is under way (call
 * it again as soon as possible), UINT64_MAX while the table is empty,
 * else the time the next sweep starts.
 */
uint64_t sw_age_due_ns(const struct sw *s);

/*
 * Expire every entry idle longer than ageing_s, in one go: a whole sweep,
 * O(table size).  For tests and tools; the forwarding thread never needs it.
 */
void sw_mac_age(struct sw *s, uint64_t now_ns);

/* The MAC table's shape and ageing figures, for tests and benchmarks. */
struct sw_mac_stats {
	uint64_t bytes;			/* memory held: table and switch */
	uint32_t slots;			/* table size, a power of two */
	uint32_t entries;
	/* a lookup reads probe slots: for each entry, and for an absent MAC */
	uint64_t probe_sum;		/* summed over entries */
	uint32_t probe_max;
	uint64_t miss_sum;		/* summed over every possible home slot */
	uint32_t miss_max;		/* longest run of full slots, plus one */
	uint64_t age_sweeps;		/* sweeps finished */
	uint64_t age_ticks;		/* sw_poll calls that did ageing work */
	/*
	 * Ageing work: a slot looked at is 1, an entry a deletion rehashes
	 * while closing its gap is age_hash_cost more.  A slice starts work
	 * while below age_budget, so one poll spends at most age_budget +
	 * age_hash_cost * (miss_max - 1).
	 */
	uint64_t age_work_max;		/* most work one sw_poll spent ageing */
	uint32_t age_budget;
	uint32_t age_hash_cost;
};

/* Fills st.  Walks the whole table: O(slots), not for the forwarding thread. */
void sw_mac_stats(const struct sw *s, struct sw_mac_stats *st);

struct sw_mac_entry {
	uint8_t mac[SW_ETH_ALEN];
	int port;
	uint64_t age_s;			/* seconds since last seen */
};

/* Call fn for each learned MAC; stops early if fn returns non-zero. */
int sw_mac_foreach(const struct sw *s, uint64_t now_ns,
		   int (*fn)(const struct sw_mac_entry *e, void *arg), void *arg);
uint32_t sw_mac_count(const struct sw *s);
uint32_t sw_mac_count_port(const struct sw *s, int port);

#endif
