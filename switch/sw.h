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
	/*
	 * 802.1Q, set by the switch on the frames it hands to send (a port's
	 * recv need not set it): the bytes the switch inserted (+4, a tag
	 * pushed) or removed (-4, a tag popped) right after the two MACs,
	 * against the frame as its ingress port received it.  A tag push or
	 * pop never copies payload: the switch hands send a frame whose
	 * seg[0] is its own new header (MACs from eth, the tag, the type)
	 * and whose other segments are the received ones past the old
	 * header.  The switch moves off.csum_start and off.hdr_len by it on
	 * such frames, so they hold for the frame as send gets it.
	 */
	int8_t l2_shift;
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
 *  send_burst: optional: send f[0..n) (1 <= n <= SW_BURST) in order, each
 *             as send() would, with its result in rc[i].  Returns how many
 *             were sent (rc 0).  The switch gives a port a run of
 *             consecutive unicast frames this way, saving a call per frame;
 *             a port taken down or removed from inside the call still gets
 *             the rest of its run.
 */
struct sw_port_ops {
	unsigned int (*recv)(void *ctx, struct sw_frame *f, unsigned int n);
	void (*recv_done)(void *ctx);
	int (*send)(void *ctx, const struct sw_frame *f);
	void (*flush)(void *ctx);
	unsigned int (*send_burst)(void *ctx, const struct sw_frame *f,
				   unsigned int n, int *rc);
};

enum sw_drop {
	SW_DROP_NO_BUFFER,	/* egress: the receiver had no room */
	SW_DROP_TOO_BIG,	/* egress: larger than the receiver accepts */
	SW_DROP_PORT_ERROR,	/* egress: the receiver's port is broken */
	SW_DROP_RUNT,		/* ingress: shorter than an Ethernet header */
	SW_DROP_BAD_SRC,	/* ingress: multicast or zero source MAC */
	SW_DROP_HAIRPIN,	/* ingress: destination learned on the same port */
	SW_DROP_PORT_DOWN,	/* ingress on, or unicast to, a port that is down */
	SW_DROP_VLAN,		/* ingress: a VLAN the port does not carry */
	SW_DROP_VLAN_TAG,	/* nested or S-tag, VID 4095; egress: a transparent
				   port's tagged frame to a VLAN port */
	SW_DROP_RESERVED,	/* ingress: to 01:80:c2:00:00:0x, not forwarded */
	SW_DROP_SRC_LOCKED,	/* ingress: source not allowed on the port */
	SW_DROP_MAC_MOVE,	/* ingress: source static or pinned elsewhere */
	SW_DROP_MIRROR_PORT,	/* ingress on a mirror's output port */
	SW_DROP_MAX
};

extern const char *const sw_drop_names[SW_DROP_MAX];

struct sw_port_stats {
	uint64_t rx_packets, rx_bytes;	/* received from the peer */
	uint64_t tx_packets, tx_bytes;	/* delivered to the peer */
	uint64_t rx_flooded;		/* ingress frames that were flooded */
	uint64_t learn_refused;		/* MACs not learned: a limit was hit */
	uint64_t mac_moves;		/* MACs that moved to this port */
	uint64_t mac_pins;		/* MACs pinned: they flapped to this port */
	uint64_t mirrored;		/* copies this port got as a mirror output */
	uint64_t drops[SW_DROP_MAX];
};

struct sw_config {
	uint32_t mac_max;		/* global MAC table capacity */
	uint32_t mac_max_per_port;	/* a port may hold at most this many */
	uint32_t ageing_s;		/* idle entries expire after this */
	uint32_t port_budget;		/* max frames taken from one port per sw_poll */
	/* bit n: forward frames to 01:80:c2:00:00:0n (Linux's group_fwd_mask) */
	uint32_t forward_reserved;
	/*
	 * MAC-move dampening: a MAC that moves between ports more than
	 * mac_move_max times within a second is pinned where it is for
	 * mac_pin_s seconds, and frames from it elsewhere are dropped.
	 * mac_move_max 0: off (a MAC moves freely).
	 */
	uint32_t mac_move_max;
	uint32_t mac_pin_s;
};

void sw_config_default(struct sw_config *c);

struct sw;

/* forward_reserved bits Linux never forwards either: PAUSE, LACP/slow */
#define SW_RESERVED_RESTRICTED 0x0006u

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
 * 802.1Q, per port.  A port is transparent (the default, today's switch):
 * in VLAN 1, its frames forwarded as they are, tags and all.  Or it is
 * VLAN-aware: untagged (and priority-tagged, VID 0) frames belong to
 * pvid (dropped when pvid is 0), a tagged frame is taken only for a VLAN
 * the port carries (pvid or a bit of trunks), nested tags, S-tags and VID
 * 4095 are dropped; on egress a frame goes untagged in pvid and tagged in
 * the trunk VLANs.  An access port is pvid N and no trunks.  A tagged
 * frame from a transparent port never reaches a VLAN-aware port (it could
 * hop VLANs there).
 */
#define SW_VLAN_MAX 4094
#define SW_VLAN_WORDS (4096 / 64)

struct sw_port_vlan {
	bool aware;
	uint16_t pvid;			/* 0..4094; 0: untagged frames dropped */
	uint64_t trunks[SW_VLAN_WORDS];	/* bit per VID carried tagged */
};

static inline bool sw_vlan_test(const uint64_t *bits, unsigned int vid)
{
	return vid < 4096 && (bits[vid / 64] >> (vid % 64) & 1);
}

static inline void sw_vlan_set(uint64_t *bits, unsigned int vid)
{
	if (vid < 4096)
		bits[vid / 64] |= 1ULL << (vid % 64);
}

/*
 * Set a port's VLANs; the MACs it learned are forgotten.  0, or -EINVAL
 * (no such port, pvid > 4094, VID 0 or 4095 in trunks, transparent with
 * trunks).
 */
int sw_port_set_vlan(struct sw *s, int port, const struct sw_port_vlan *v);
int sw_port_get_vlan(const struct sw *s, int port, struct sw_port_vlan *v);

/*
 * What a VLAN-aware port makes of a frame (sw_vlan_classify): its VLAN
 * and how it arrived.  The tag is read from the frame's segments once.
 */
struct sw_vlan_info {
	uint16_t vid;			/* the frame's VLAN */
	uint16_t tci;			/* the tag as received, if tagged */
	uint16_t type;			/* the type behind the tag, or eth's */
	uint8_t hlen;			/* 14, or 18 with the tag */
	uint8_t tagged;			/* 1: tagged with vid, 2: VID 0 (priority) */
};

/*
 * Classify f on a VLAN-aware port v.  0 with *out, or SW_DROP_RUNT,
 * SW_DROP_VLAN or SW_DROP_VLAN_TAG (the frame is dropped for it).
 */
unsigned int sw_vlan_classify(const struct sw_port_vlan *v,
			      const struct sw_frame *f, struct sw_vlan_info *out);

/*
 * Port security: a port with allowed MACs drops frames from any other
 * source (SW_DROP_SRC_LOCKED).  lock_first: the first valid source the
 * port sends from becomes its one allowed MAC.  nmacs 0 and no
 * lock_first: off (the default).
 */
#define SW_SEC_MACS_MAX 8
struct sw_port_security {
	bool lock_first;
	unsigned int nmacs;
	uint8_t mac[SW_SEC_MACS_MAX][SW_ETH_ALEN];
};

/* 0, or -EINVAL (no such port, too many or invalid MACs). */
int sw_port_set_security(struct sw *s, int port,
			 const struct sw_port_security *sec);
int sw_port_get_security(const struct sw *s, int port,
			 struct sw_port_security *sec);

/*
 * Mirrors, like OVS's: every frame received on or sent to a port in from
 * is copied, as received, to port to.  The output port is a sink: it is
 * never flooded to, learns nothing, and what its peer sends is dropped
 * (SW_DROP_MIRROR_PORT), so a copy never comes back; a copy it has no
 * room for is dropped on it alone.  to < 0 removes mirror idx.
 * 0, or -EINVAL (idx >= SW_MIRRORS_MAX, to not a port, to in from).
 */
#define SW_MIRRORS_MAX 8
int sw_mirror_set(struct sw *s, unsigned int idx, uint64_t from, int to);

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
	uint16_t vlan;
	bool is_static;			/* added, never ages or moves */
	bool pinned;			/* flapped: held on its port for now */
	int port;
	uint64_t age_s;			/* seconds since last seen (static: 0) */
};

/* Call fn for each learned MAC; stops early if fn returns non-zero. */
int sw_mac_foreach(const struct sw *s, uint64_t now_ns,
		   int (*fn)(const struct sw_mac_entry *e, void *arg), void *arg);
uint32_t sw_mac_count(const struct sw *s);
uint32_t sw_mac_count_port(const struct sw *s, int port);

/*
 * The FDB by hand.  sw_mac_add: a static entry for mac in vlan (1..4094)
 * on port, replacing any entry for it; it never ages and never moves
 * (frames from mac elsewhere are dropped, SW_DROP_MAC_MOVE), and stays
 * while the port is down; it goes with the port or sw_mac_del.  0, or
 * -EINVAL (bad MAC, VLAN or port; a mirror output), -ENOSPC (table full).
 * sw_mac_del: 0 or -ENOENT.  sw_mac_flush: forget learned entries (not
 * static ones) on port (-1: any) in vlan (0: any); returns how many.
 */
int sw_mac_add(struct sw *s, const uint8_t mac[SW_ETH_ALEN], uint16_t vlan,
	       int port);
int sw_mac_del(struct sw *s, const uint8_t mac[SW_ETH_ALEN], uint16_t vlan);
uint32_t sw_mac_flush(struct sw *s, int port, uint16_t vlan);

#endif
