/* SPDX-License-Identifier: MIT */
/*
 * sw: the L2 learning switch: MAC table, forwarding and port scheduling.
 *
 * Each burst from a port is first classified (learn the source, look up the
 * destination, one verdict per frame) and then acted on (send, flood or
 * drop), with one recv_done and one flush per port per burst.  Only
 * sw_frame.eth and sw_frame.len are read, and on a VLAN-aware port the
 * four bytes of an 802.1Q tag (copied out of the frame once); the peer
 * controls all of them.  The MAC table is keyed by (VLAN, MAC) with a
 * random secret and bounded globally and per port, so a peer can neither
 * aim its MACs at one bucket nor evict other ports' MACs.  A peer can
 * claim another port's MAC by sending from it (a MAC moves to where it
 * was last seen) unless port security, a static entry or MAC-move
 * dampening stops it.  Tags are pushed and popped without copying
 * payload: the frame handed to send gets a header segment of ours.  Port
 * callbacks are our own code and are trusted to keep the sw_port_ops
 * contract; one may take a port down or remove it, even mid-burst, but
 * must not destroy the switch.
 */
#include "sw.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>

#include "sw_hash.h"

#define NSEC_PER_SEC 1000000000ULL
#define SW_NAME_MAX 64			/* with the terminating NUL */
#define SW_TABLE_MIN 16
#define SW_HUGE_PAGE (2U << 20)

/*
 * Ageing is a sweep over the table's slots, started at most once every
 * SW_AGE_PERIOD_NS and carried on by sw_poll one bounded slice per call:
 * a slice spends at most SW_AGE_BUDGET units of work, where looking at a
 * slot is one unit and each entry a deletion looks at (and hashes) while
 * closing the gap is SW_AGE_HASH_COST more.  A slice may overrun by the
 * gap-closing of its last deletion, one cluster.
 */
#define SW_AGE_PERIOD_NS NSEC_PER_SEC
#ifndef SW_AGE_BUDGET			/* a test builds sw.c with tiny slices */
#define SW_AGE_BUDGET 4096
#endif
#define SW_AGE_HASH_COST 24

/*
 * A slot's w: the key, MAC in bits 0-47 and VLAN in 48-59 (0: slot
 * empty), and flags in 60-63.  Its seen_ns: the time last seen with the
 * low 6 bits replaced by the port (a 64 ns error in ageing).
 */
#define SW_MAC_MASK ((1ULL << 48) - 1)
#define SW_VID_SHIFT 48
#define SW_KEY_MASK ((1ULL << 60) - 1)
#define SW_F_STATIC (1ULL << 60)	/* added by hand: never ages or moves */
#define SW_F_PINNED (1ULL << 61)	/* flapped: held where it is */
#define SW_PORT_BITS 0x3fULL
/* An empty slot's seen_ns: never old enough to expire, so a sweep tests one field */
#define SW_NEVER UINT64_MAX
/* A static entry's: never expires either */
#define SW_STATIC_SEEN (UINT64_MAX & ~SW_PORT_BITS)

/* 01:80:c2:00:00:0x as a key (any VLAN): the MAC bits but x's */
#define SW_RES_MASK 0xf0ffffffffffULL
#define SW_RES_VAL 0x000000c28001ULL

/* How a frame arrived, against the VLAN it is in (fform) */
#define SW_FORM_UNTAGGED 0		/* no tag (or a transparent port's) */
#define SW_FORM_TAGGED 1		/* tagged with its VLAN */
#define SW_FORM_PRIO 2			/* priority-tagged, VID 0 */
#define SW_FORM_OPAQUE 3		/* a transparent port's, typed as a tag */

#define SW_FLAP_SLOTS 256		/* MAC-move trackers, direct-mapped */
#define SW_FRAME_SEG_END (offsetof(struct sw_frame, seg) + \
			  sizeof(((struct sw_frame *)0)->seg))

/* Per-frame verdicts of a classified burst. */
#define SW_V_FLOOD SW_MAX_PORTS		/* below: unicast to that port */
#define SW_V_DROP 128			/* plus an enum sw_drop */

const char *const sw_drop_names[SW_DROP_MAX] = {
	[SW_DROP_NO_BUFFER] = "no_buffer",
	[SW_DROP_TOO_BIG] = "too_big",
	[SW_DROP_PORT_ERROR] = "port_error",
	[SW_DROP_RUNT] = "runt",
	[SW_DROP_BAD_SRC] = "bad_src",
	[SW_DROP_HAIRPIN] = "hairpin",
	[SW_DROP_PORT_DOWN] = "port_down",
	[SW_DROP_VLAN] = "vlan",
	[SW_DROP_VLAN_TAG] = "vlan_tag",
	[SW_DROP_RESERVED] = "reserved_mcast",
	[SW_DROP_SRC_LOCKED] = "src_locked",
	[SW_DROP_MAC_MOVE] = "mac_move",
	[SW_DROP_MIRROR_PORT] = "mirror_port",
};

struct sw_mac_slot {
	uint64_t w;
	uint64_t seen_ns;		/* last frame from this MAC; empty: SW_NEVER */
};

struct sw_port {
	struct sw_port_ops ops;
	void *ctx;
	uint32_t nmacs;			/* MACs on this port, static ones too */
	uint32_t nstatic;		/* of which static */
	bool secure;			/* allowed[] is enforced */
	bool lock_first;		/* the first source fills allowed[] */
	uint8_t nallowed;
	uint64_t allowed[SW_SEC_MACS_MAX];	/* MACs as sw_mac_key() has them */
	uint64_t mir_in, mir_out;	/* mirror outputs of frames in, out */
	struct sw_port_stats st;
	struct sw_port_vlan vlan;
	char name[SW_NAME_MAX];
};

/* A MAC that moved lately: how often in the current second. */
struct sw_flap {
	uint64_t key;
	uint64_t win_ns;		/* the second counted from here */
	uint64_t until_ns;		/* pinned until */
	uint32_t moves;
};

struct sw {
	struct sw_config cfg;
	uint64_t ageing_ns;
	uint64_t next_age_ns;		/* the next sweep starts at or after this */
	bool age_on;			/* a sweep is under way */
	uint32_t age_cur;		/* the next slot the sweep looks at */
	uint64_t age_sweeps;		/* sweeps finished */
	uint64_t age_ticks;		/* sw_poll calls that did ageing work */
	uint64_t age_work_max;		/* most work one sw_poll spent ageing */
	uint64_t present;		/* bit per port id in use */
	uint64_t up;			/* bit per port that is up */
	uint64_t dirty;			/* egress ports sent to, this burst */
	uint64_t aware;			/* VLAN-aware ports */
	uint64_t sink;			/* mirror outputs */
	bool l2;			/* aware or sink: the VLAN/mirror path */
	int cur_in;			/* ingress port of this burst, or -1 */
	unsigned int rr;		/* port id sw_poll starts from */
	uint32_t nmacs;
	uint32_t mask;			/* table slots - 1 */
	struct sw_hash_key key;
	struct sw_mac_slot *tab;
	struct sw_port port[SW_MAX_PORTS];
	uint8_t verdict[SW_BURST];
	uint32_t hsrc[SW_BURST], hdst[SW_BURST];	/* home slots */
	uint64_t ksrc[SW_BURST], kdst[SW_BURST];	/* keys: MAC, VLAN */
	uint8_t fdrop[SW_BURST];	/* VLAN verdict: 0, or 1 + enum sw_drop */
	uint8_t fform[SW_BURST];	/* SW_FORM_* */
	uint8_t fhlen[SW_BURST];	/* header bytes as received: 14, 18 */
	uint16_t fvid[SW_BURST], ftci[SW_BURST], ftype[SW_BURST];
	/* Each frame's other egress form (untagged, tagged), made on demand. */
	unsigned int alt_k[2];		/* made for frame alt_k - 1; 0: none */
	bool alt_ok[2];
	uint8_t alt_hdr[2][SW_ETH_HLEN + 4];
	struct sw_frame alt[2];
	struct { uint64_t from; int to; } mirror[SW_MIRRORS_MAX];
	struct sw_flap flap[SW_FLAP_SLOTS];
	/* bit per port: a member of the VLAN, and tagged on egress there */
	uint64_t vmember[4096], vtagged[4096];
	struct sw_frame burst[SW_BURST];
};

void sw_config_default(struct sw_config *c)
{
	c->mac_max = 8192;
	c->mac_max_per_port = 512;
	c->ageing_s = 300;		/* IEEE 802.1D's default */
	c->port_budget = 8 * SW_BURST;
	c->forward_reserved = 0;
	c->mac_move_max = 0;
	c->mac_pin_s = 10;
}

static bool config_ok(const struct sw_config *c)
{
	return c->mac_max >= 1 && c->mac_max <= SW_MAC_MAX_LIMIT &&
	       c->mac_max_per_port >= 1 && c->ageing_s >= 1 &&
	       c->port_budget >= 1 && c->forward_reserved <= 0xffff &&
	       !(c->forward_reserved & SW_RESERVED_RESTRICTED) &&
	       (!c->mac_move_max || c->mac_pin_s >= 1) &&
	       c->mac_pin_s <= 86400;
}

static int random_key(uint64_t k[2])
{
	uint8_t *p = (uint8_t *)k;
	size_t got = 0;

	while (got < 2 * sizeof(uint64_t)) {
		ssize_t r = getrandom(p + got, 2 * sizeof(uint64_t) - got, 0);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		got += (size_t)r;
	}
	return 0;
}

/*
 * The table.  From 2 MiB up it is aligned to and asked to live in huge
 * pages: lookups land anywhere in it, and with 4 KiB pages each one would
 * also miss the TLB (at 4M MACs, 128 MiB).  Not a hard requirement: a
 * kernel without transparent huge pages just ignores the advice.
 */
static struct sw_mac_slot *table_alloc(uint32_t slots)
{
	size_t bytes = (size_t)slots * sizeof(struct sw_mac_slot);
	void *t;

	if (bytes < SW_HUGE_PAGE)
		return aligned_alloc(64, bytes);
	t = aligned_alloc(SW_HUGE_PAGE, bytes);	/* bytes: a multiple of it */
	if (t)
		(void)madvise(t, bytes, MADV_HUGEPAGE);
	return t;
}

struct sw *sw_create(const struct sw_config *c)
{
	struct sw *s;
	uint64_t k[2];
	uint32_t slots = SW_TABLE_MIN;

	if (!c || !config_ok(c)) {
		errno = EINVAL;
		return NULL;
	}
	if (random_key(k) < 0)
		return NULL;
	/* At most half full: probe sequences stay short and end. */
	while (slots < 2 * c->mac_max)
		slots <<= 1;

	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->tab = table_alloc(slots);
	if (!s->tab) {
		free(s);
		return NULL;
	}
	for (uint32_t i = 0; i < slots; i++) {
		s->tab[i].w = 0;
		s->tab[i].seen_ns = SW_NEVER;
	}
	s->mask = slots - 1;
	s->cfg = *c;
	s->ageing_ns = (uint64_t)c->ageing_s * NSEC_PER_SEC;
	s->cur_in = -1;
	for (unsigned int i = 0; i < SW_MIRRORS_MAX; i++)
		s->mirror[i].to = -1;
	sw_hash_init(&s->key, k[0], k[1]);
	return s;
}

void sw_destroy(struct sw *s)
{
	if (!s)
		return;
	free(s->tab);
	free(s);
}

/* ---- MAC table: linear probing, backward-shift deletion ---- */

static inline unsigned int slot_port(const struct sw_mac_slot *e)
{
	return (unsigned int)(e->seen_ns & SW_PORT_BITS);
}

static inline uint16_t slot_vid(const struct sw_mac_slot *e)
{
	return (uint16_t)((e->w & SW_KEY_MASK) >> SW_VID_SHIFT);
}

/* key: a MAC and its VLAN, (mac | vid << SW_VID_SHIFT) */
static inline uint32_t home_slot(const struct sw *s, uint64_t key)
{
	return (uint32_t)sw_hash_u64(&s->key, key) & s->mask;
}

/*
 * The slot holding key, or the empty slot where it would go, searching
 * from i, its home slot.  The table is never more than half full, so there
 * is always an empty slot; the loop bound is only a guard.
 */
static inline uint32_t probe(const struct sw *s, uint64_t mac, uint32_t i)
{
	for (uint32_t n = 0; n <= s->mask; n++) {
		uint64_t m = s->tab[i].w & SW_KEY_MASK;

		if (m == mac || m == 0)
			break;
		i = (i + 1) & s->mask;
	}
	return i;
}

/*
 * Empty slot i and close the gap: later entries of the same cluster move
 * back unless that would put them before their home slot.  Entries only
 * ever move to slots cyclically between i and where they were.  An entry
 * that moves from the part of the table an ageing sweep has still to look
 * at to the part it has passed pulls the sweep back to it, so a sweep
 * misses no entry.  Returns the entries looked at (each hashed) after i.
 */
static uint32_t slot_delete(struct sw *s, uint32_t i)
{
	struct sw_mac_slot *t = s->tab;
	uint32_t j = i, looked = 0;

	s->port[slot_port(&t[i])].nmacs--;
	if (t[i].w & SW_F_STATIC)
		s->port[slot_port(&t[i])].nstatic--;
	s->nmacs--;
	for (;;) {
		uint32_t h;

		j = (j + 1) & s->mask;
		if (!t[j].w)
			break;
		looked++;
		h = home_slot(s, t[j].w & SW_KEY_MASK);
		/* Stays if its home is cyclically in (i, j]. */
		if (i <= j ? (i < h && h <= j) : (i < h || h <= j))
			continue;
		t[i] = t[j];
		if (s->age_on && i < s->age_cur && s->age_cur <= j)
			s->age_cur = i;
		i = j;
	}
	t[i].w = 0;
	t[i].seen_ns = SW_NEVER;
	return looked;
}

/*
 * Forget the entries on port p (-1: any) in VLAN vid (0: any), static
 * ones too when statics.  Deleting slot i may pull a later entry into i,
 * so i is looked at again; entries never move to slots already passed,
 * so every entry is seen.  Returns how many went.
 */
static uint32_t flush_where(struct sw *s, int p, uint16_t vid, bool statics)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i <= s->mask; ) {
		const struct sw_mac_slot *e = &s->tab[i];

		if (p >= 0 && s->port[p].nmacs ==
			      (statics ? 0 : s->port[p].nstatic))
			break;		/* nothing left to find */
		if (e->w && (p < 0 || slot_port(e) == (unsigned int)p) &&
		    (!vid || slot_vid(e) == vid) &&
		    (statics || !(e->w & SW_F_STATIC))) {
			slot_delete(s, i);
			n++;
		} else {
			i++;
		}
	}
	return n;
}

/* Forget every MAC learned on port p; static entries stay. */
static void flush_port(struct sw *s, unsigned int p)
{
	flush_where(s, (int)p, 0, false);
}

/*
 * Entries idle longer than ageing_ns at now are those seen before this;
 * 0 (none) while now is within ageing_ns of the clock's origin.
 */
static inline uint64_t expiry_limit(const struct sw *s, uint64_t now)
{
	return now > s->ageing_ns ? now - s->ageing_ns : 0;
}

/*
 * Carry the sweep on from s->age_cur, deleting entries idle longer than
 * ageing_ns, until budget units are spent (see SW_AGE_BUDGET) or the end of
 * the table; the sweep ends there, or as soon as the table is empty.
 * Deleting the entry at the cursor may pull a later entry into it, so the
 * cursor looks at that slot again; such a deletion never moves an entry
 * behind the cursor (slot_delete).  Returns the work spent.
 */
static uint64_t age_slice(struct sw *s, uint64_t now, uint64_t budget)
{
	const struct sw_mac_slot *t = s->tab;
	uint32_t i = s->age_cur, last = s->mask;
	uint64_t work = 0, limit = expiry_limit(s, now);

	while (work < budget && i <= last) {
		if (t[i].seen_ns < limit) {	/* never an empty slot */
			s->age_cur = i;
			work += 1 + (uint64_t)SW_AGE_HASH_COST * slot_delete(s, i);
			if (!s->nmacs)
				break;
		} else {
			work++;
			i++;
		}
	}
	s->age_cur = i;
	if (i > last || !s->nmacs) {
		s->age_on = false;
		s->age_sweeps++;
	}
	return work;
}

static void age_start(struct sw *s, uint64_t now)
{
	s->age_on = true;
	s->age_cur = 0;
	s->next_age_ns = now + SW_AGE_PERIOD_NS;
}

/* sw_poll's share of ageing: one slice of the sweep, if one is due. */
static void age_tick(struct sw *s, uint64_t now)
{
	uint64_t work;

	if (!s->age_on) {
		if (now < s->next_age_ns)
			return;
		age_start(s, now);
	}
	work = age_slice(s, now, SW_AGE_BUDGET);
	s->age_ticks++;
	if (work > s->age_work_max)
		s->age_work_max = work;
}

void sw_mac_age(struct sw *s, uint64_t now_ns)
{
	age_start(s, now_ns);
	age_slice(s, now_ns, UINT64_MAX);
}

uint64_t sw_age_due_ns(const struct sw *s)
{
	if (!s->nmacs)
		return UINT64_MAX;
	return s->age_on ? 0 : s->next_age_ns;
}

/*
 * MAC-move dampening: count a move of the entry e (key) to port in.  True
 * when it is one too many within a second: e is pinned where it is.  The
 * trackers are direct-mapped by the keyed hash, so a MAC that loses its
 * tracker to another one just starts counting again.
 */
static bool flap(struct sw *s, unsigned int in, struct sw_mac_slot *e,
		 uint64_t key, uint64_t now)
{
	struct sw_flap *f = &s->flap[home_slot(s, key) & (SW_FLAP_SLOTS - 1)];

	if (f->key != key || now - f->win_ns >= NSEC_PER_SEC) {
		f->key = key;
		f->win_ns = now;
		f->moves = 0;
	}
	if (++f->moves <= s->cfg.mac_move_max)
		return false;
	f->until_ns = now + (uint64_t)s->cfg.mac_pin_s * NSEC_PER_SEC;
	e->w |= SW_F_PINNED;
	s->port[in].st.mac_pins++;
	return true;
}

/* A static or pinned entry e (key) seen on another port: still held? */
static bool held(struct sw *s, struct sw_mac_slot *e, uint64_t key,
		 uint64_t now)
{
	const struct sw_flap *f;

	if (e->w & SW_F_STATIC)
		return true;
	f = &s->flap[home_slot(s, key) & (SW_FLAP_SLOTS - 1)];
	if (f->key == key && now < f->until_ns)
		return true;
	e->w &= ~SW_F_PINNED;
	return false;
}

/*
 * Learn that key (a valid source MAC in its VLAN) is on port in, at slot
 * i from probe().  A new MAC is refused when the table or the port is
 * full; a known MAC moves to in, unless in is full, in which case it
 * stays where it was.  A static or pinned MAC does not move, and a move
 * that is one too many pins it: the frame is dropped then.  nowp is
 * now with its low bits replaced by in, the entry's seen_ns.  Returns 0
 * (forward the frame) or SW_V_DROP + SW_DROP_MAC_MOVE.
 */
static inline unsigned int learn(struct sw *s, unsigned int in, uint64_t key,
				 uint32_t i, uint64_t now, uint64_t nowp)
{
	struct sw_mac_slot *e = &s->tab[i];
	struct sw_port *ip = &s->port[in];
	unsigned int old;

	if (e->w) {
		old = slot_port(e);
		if (old == in) {
			/* a static entry's time is the largest: it stays */
			if (e->seen_ns < nowp)
				e->seen_ns = nowp;
			return 0;
		}
		if ((e->w & (SW_F_STATIC | SW_F_PINNED)) && held(s, e, key, now))
			return SW_V_DROP + SW_DROP_MAC_MOVE;
		if (ip->nmacs >= s->cfg.mac_max_per_port) {
			ip->st.learn_refused++;
			return 0;
		}
		if (s->cfg.mac_move_max && flap(s, in, e, key, now))
			return SW_V_DROP + SW_DROP_MAC_MOVE;
		s->port[old].nmacs--;
		ip->st.mac_moves++;
	} else {
		if (s->nmacs >= s->cfg.mac_max ||
		    ip->nmacs >= s->cfg.mac_max_per_port) {
			ip->st.learn_refused++;
			return 0;
		}
		s->nmacs++;
	}
	ip->nmacs++;
	e->w = key;
	e->seen_ns = nowp;
	return 0;
}

static inline bool is_tpid(uint16_t type)
{
	return type == 0x8100 || type == 0x88a8 || type == 0x9100;
}

/* Copy n bytes from offset off of f's segments; returns how many there were. */
static uint32_t frame_read(const struct sw_frame *f, uint32_t off, uint8_t *buf,
			   uint32_t n)
{
	uint32_t got = 0;

	if (f->nseg && f->seg[0].len >= off + n) {	/* the usual case */
		memcpy(buf, f->seg[0].base + off, n);
		return n;
	}
	for (unsigned int i = 0; i < f->nseg && i < SW_FRAME_MAX_SEGS && got < n;
	     i++) {
		uint32_t len = f->seg[i].len, k;

		if (off >= len) {
			off -= len;
			continue;
		}
		k = len - off < n - got ? len - off : n - got;
		memcpy(buf + got, f->seg[i].base + off, k);
		got += k;
		off = 0;
	}
	return got;
}

unsigned int sw_vlan_classify(const struct sw_port_vlan *v,
			      const struct sw_frame *f, struct sw_vlan_info *o)
{
	uint16_t type = (uint16_t)(f->eth[12] << 8 | f->eth[13]);
	uint8_t t[4];

	o->tci = 0;
	o->type = type;
	o->hlen = SW_ETH_HLEN;
	o->tagged = 0;
	o->vid = 0;
	if (f->len < SW_ETH_HLEN)
		return SW_DROP_RUNT;
	if (type == 0x8100) {
		unsigned int vid;

		/* one copy of the tag out of shared memory, then only that */
		if (f->len < SW_ETH_HLEN + 4 ||
		    frame_read(f, SW_ETH_HLEN, t, 4) < 4)
			return SW_DROP_RUNT;
		o->tci = (uint16_t)(t[0] << 8 | t[1]);
		o->type = (uint16_t)(t[2] << 8 | t[3]);
		o->hlen = SW_ETH_HLEN + 4;
		vid = o->tci & 0xfff;
		if (vid == 0xfff || is_tpid(o->type))
			return SW_DROP_VLAN_TAG;
		if (vid) {
			if (vid != v->pvid && !sw_vlan_test(v->trunks, vid))
				return SW_DROP_VLAN;
			o->vid = (uint16_t)vid;
			o->tagged = 1;
			return 0;
		}
		o->tagged = 2;		/* priority-tagged: the port's VLAN */
	} else if (is_tpid(type)) {
		return SW_DROP_VLAN_TAG;	/* an S-tag outside: not for us */
	}
	if (!v->pvid)
		return SW_DROP_VLAN;
	o->vid = v->pvid;
	return 0;
}

/* Is src (a MAC key) allowed on port ip?  lock_first takes the first. */
static bool src_allowed(struct sw_port *ip, uint64_t mac)
{
	for (unsigned int i = 0; i < ip->nallowed; i++)
		if (ip->allowed[i] == mac)
			return true;
	if (ip->lock_first && ip->nallowed == 0) {
		ip->allowed[0] = mac;
		ip->nallowed = 1;
		return true;
	}
	return false;
}

/*
 * Each frame's VLAN on port in: a transparent port's frames are all in
 * its VLAN (1) as they are; a VLAN-aware port's are classified, and a
 * frame it does not take gets its drop reason in fdrop.
 */
static inline uint64_t frame_vlan(struct sw *s, const struct sw_port *ip,
				  unsigned int k, struct sw_frame *f)
{
	struct sw_vlan_info vi;
	unsigned int r;

	if (!ip->vlan.aware) {
		uint16_t type = (uint16_t)(f->eth[12] << 8 | f->eth[13]);

		s->fform[k] = s->aware && is_tpid(type) ? SW_FORM_OPAQUE :
			      SW_FORM_UNTAGGED;
		s->fvid[k] = ip->vlan.pvid;
		s->fhlen[k] = SW_ETH_HLEN;
		s->ftci[k] = 0;
		s->ftype[k] = type;
		return (uint64_t)ip->vlan.pvid << SW_VID_SHIFT;
	}
	r = sw_vlan_classify(&ip->vlan, f, &vi);
	s->fdrop[k] = r ? (uint8_t)(r + 1) : 0;
	s->fvid[k] = vi.vid;
	s->fform[k] = vi.tagged;
	s->fhlen[k] = vi.hlen;
	s->ftci[k] = vi.tci;
	s->ftype[k] = vi.type;
	return (uint64_t)vi.vid << SW_VID_SHIFT;
}

/*
 * First pass over a burst from port in: the keys (MAC and VLAN) of each
 * frame and their home slots, with the slots prefetched.  No table
 * access, no dependency from one frame to the next but the repeat check,
 * so the hashes overlap.  Frames of one burst mostly share their keys: a
 * repeat is not hashed again.
 */
static inline void hash_burst(struct sw *s, unsigned int in, unsigned int n,
			      const bool l2)
{
	const struct sw_port *ip = &s->port[in];
	uint64_t ps = UINT64_MAX, pd = UINT64_MAX;
	uint64_t vbits = (uint64_t)ip->vlan.pvid << SW_VID_SHIFT;
	uint32_t hs = 0, hd = 0;

	for (unsigned int k = 0; k < n; k++) {
		struct sw_frame *f = &s->burst[k];
		uint64_t v = l2 ? frame_vlan(s, ip, k, f) : vbits;
		uint64_t dst = sw_mac_key(f->eth) | v;
		uint64_t src = sw_mac_key(f->eth + SW_ETH_ALEN) | v;

		f->l2_shift = 0;

		if (src != ps) {
			ps = src;
			hs = home_slot(s, src);
			__builtin_prefetch(&s->tab[hs]);
		}
		if (dst != pd && !(dst & 1)) {
			pd = dst;
			hd = home_slot(s, dst);
			__builtin_prefetch(&s->tab[hd]);
		}
		s->ksrc[k] = src;
		s->kdst[k] = dst;
		s->hsrc[k] = hs;
		s->hdst[k] = hd;
	}
}

/*
 * Give each of the n frames in s->burst, received on port in, a verdict in
 * s->verdict, learning source MACs on the way (so a frame can be sent to a
 * MAC learned from an earlier frame of the same burst).  The last slot of
 * each of source and destination is remembered: within this loop entries
 * are only added or updated in place, never moved, so a remembered slot
 * stays valid.
 */
static inline void classify_burst(struct sw *s, unsigned int in,
				  unsigned int n, uint64_t now, const bool l2)
{
	uint64_t last_src = UINT64_MAX, last_dst = UINT64_MAX;
	uint32_t src_slot = 0, dst_slot = 0;
	struct sw_port *ip = &s->port[in];
	const bool secure = ip->secure;
	const uint64_t nowp = (now & ~SW_PORT_BITS) | in;	/* a new seen_ns */

	if (s->sink >> in & 1) {	/* a mirror output: nothing goes in */
		memset(s->verdict, SW_V_DROP + SW_DROP_MIRROR_PORT, n);
		return;
	}
	if (l2)
		memset(s->fdrop, 0, n);
	hash_burst(s, in, n, l2);
	for (unsigned int k = 0; k < n; k++) {
		const struct sw_frame *f = &s->burst[k];
		uint64_t dst = s->kdst[k], src = s->ksrc[k];
		unsigned int p, r;

		if (f->len < SW_ETH_HLEN) {
			s->verdict[k] = SW_V_DROP + SW_DROP_RUNT;
			continue;
		}
		if (l2 && s->fdrop[k]) {
			s->verdict[k] = (uint8_t)(SW_V_DROP + s->fdrop[k] - 1);
			continue;
		}
		/* I/G bit of the first byte, or no MAC at all */
		if ((src & 1) || !(src & SW_MAC_MASK)) {
			s->verdict[k] = SW_V_DROP + SW_DROP_BAD_SRC;
			continue;
		}
		if (secure && !src_allowed(ip, src & SW_MAC_MASK)) {
			s->verdict[k] = SW_V_DROP + SW_DROP_SRC_LOCKED;
			continue;
		}
		if (src != last_src) {
			src_slot = probe(s, src, s->hsrc[k]);
			last_src = src;
		}
		r = learn(s, in, src, src_slot, now, nowp);
		if (!s->tab[src_slot].w)
			last_src = UINT64_MAX;	/* refused: no slot to keep */
		if (r) {
			s->verdict[k] = (uint8_t)r;
			continue;
		}

		if (dst & 1) {
			/* IEEE 802.1D reserved: bridges do not forward these */
			if ((dst & SW_RES_MASK) == SW_RES_VAL &&
			    !(s->cfg.forward_reserved >> (dst >> 40 & 0xf) & 1))
				s->verdict[k] = SW_V_DROP + SW_DROP_RESERVED;
			else
				s->verdict[k] = SW_V_FLOOD;
			continue;
		}
		if (dst != last_dst) {
			dst_slot = probe(s, dst, s->hdst[k]);
			last_dst = dst;
		}
		if (!s->tab[dst_slot].w) {
			/* unknown: a later frame may teach it, look again */
			last_dst = UINT64_MAX;
			s->verdict[k] = SW_V_FLOOD;
			continue;
		}
		/* a down port only by a static entry: forward() drops it then */
		p = slot_port(&s->tab[dst_slot]);
		s->verdict[k] = p == in ? SW_V_DROP + SW_DROP_HAIRPIN : (uint8_t)p;
	}
}

/*
 * classify_burst specialised: the plain switch (every port transparent,
 * no mirror) does not pay for the VLAN path's tests.
 */
static void classify(struct sw *s, unsigned int in, unsigned int n,
		     uint64_t now)
{
	if (s->l2)
		classify_burst(s, in, n, now, true);
	else
		classify_burst(s, in, n, now, false);
}

static inline unsigned int send_drop(int rc)
{
	switch (rc) {
	case -ENOBUFS:
		return SW_DROP_NO_BUFFER;
	case -EMSGSIZE:
		return SW_DROP_TOO_BIG;
	default:
		return SW_DROP_PORT_ERROR;	/* -EIO and anything unexpected */
	}
}

static inline void send_one(struct sw *s, unsigned int q,
			    const struct sw_frame *f)
{
	struct sw_port *op = &s->port[q];
	int rc = op->ops.send(op->ctx, f);

	if (rc == 0) {
		s->dirty |= 1ULL << q;
		op->st.tx_packets++;
		op->st.tx_bytes += f->len;
	} else {
		op->st.drops[send_drop(rc)]++;
	}
}

/*
 * Unicast frames f[0..r) to port q, which is up, in one send_burst call.
 * Returns their bytes (the ingress port's count too).
 */
static uint64_t send_run(struct sw *s, unsigned int q, const struct sw_frame *f,
			 unsigned int r)
{
	struct sw_port *op = &s->port[q];
	int rc[SW_BURST];
	uint64_t bytes = 0;
	unsigned int ok;

	ok = op->ops.send_burst(op->ctx, f, r, rc);
	for (unsigned int i = 0; i < r; i++)
		bytes += f[i].len;
	if (ok)
		s->dirty |= 1ULL << q;
	op->st.tx_packets += ok;
	if (ok == r) {
		op->st.tx_bytes += bytes;
		return bytes;
	}
	for (unsigned int i = 0; i < r; i++) {
		if (rc[i] == 0)
			op->st.tx_bytes += f[i].len;
		else
			op->st.drops[send_drop(rc[i])]++;
	}
	return bytes;
}

/*
 * Frame k (f) as it must leave in its VLAN: untagged (want 0) or tagged
 * (1).  No payload is copied: the new frame's first segment is a header
 * of ours (the MACs from f->eth, the tag, the type behind the old
 * header) and its other segments are f's past the old header.  Made once
 * per frame and form.  NULL when that needs more than SW_FRAME_MAX_SEGS
 * segments.
 */
static const struct sw_frame *alt_form(struct sw *s, unsigned int k,
				       const struct sw_frame *f, unsigned int want)
{
	struct sw_frame *a = &s->alt[want];
	uint8_t *h = s->alt_hdr[want];
	uint32_t hl, off = s->fhlen[k];
	uint16_t type = s->ftype[k];
	unsigned int ns = 1;

	if (s->alt_k[want] == k + 1)
		return s->alt_ok[want] ? a : NULL;
	s->alt_k[want] = k + 1;
	s->alt_ok[want] = false;
	/* whatever metadata f carries, but not the segments: those are ours */
	memcpy(a, f, offsetof(struct sw_frame, seg));
	memcpy((char *)a + SW_FRAME_SEG_END, (const char *)f + SW_FRAME_SEG_END,
	       sizeof(*a) - SW_FRAME_SEG_END);
	memcpy(h, f->eth, (size_t)2 * SW_ETH_ALEN);
	if (want) {
		uint16_t tci = (uint16_t)((s->ftci[k] & 0xf000) | s->fvid[k]);

		h[12] = 0x81;
		h[13] = 0x00;
		h[14] = (uint8_t)(tci >> 8);
		h[15] = (uint8_t)tci;
		h[16] = (uint8_t)(type >> 8);
		h[17] = (uint8_t)type;
		hl = SW_ETH_HLEN + 4;
	} else {
		h[12] = (uint8_t)(type >> 8);
		h[13] = (uint8_t)type;
		hl = SW_ETH_HLEN;
	}
	a->seg[0].base = h;
	a->seg[0].len = hl;
	for (unsigned int i = 0; i < f->nseg && i < SW_FRAME_MAX_SEGS; i++) {
		uint32_t len = f->seg[i].len;

		if (off >= len) {
			off -= len;
			continue;
		}
		if (ns == SW_FRAME_MAX_SEGS)
			return NULL;
		a->seg[ns].base = f->seg[i].base + off;
		a->seg[ns].len = len - off;
		ns++;
		off = 0;
	}
	a->nseg = (uint16_t)ns;
	a->len = f->len - s->fhlen[k] + hl;
	a->l2_shift = (int8_t)((int)hl - (int)s->fhlen[k]);
	/*
	 * Offload offsets count from the frame's start and lie past the MACs
	 * (a checked claim starts its checksum past the Ethernet header):
	 * they move with the tag, so the receiver's port needs no l2_shift.
	 */
	if (sw_off_any(&a->off)) {
		if (a->off.csum_start)
			a->off.csum_start = (uint16_t)(a->off.csum_start + a->l2_shift);
		if (a->off.hdr_len)
			a->off.hdr_len = (uint16_t)(a->off.hdr_len + a->l2_shift);
	}
	memcpy(a->eth, h, SW_ETH_HLEN);
	s->alt_ok[want] = true;
	return a;
}

/*
 * Send frame k to port q in the frame's VLAN, in the form q wants there;
 * *mto collects the mirrors of what q is sent.
 */
static void send_vlan(struct sw *s, unsigned int k, unsigned int q,
		      const struct sw_frame *f, uint64_t *mto)
{
	unsigned int vid = s->fvid[k], form = s->fform[k];
	unsigned int want = (unsigned int)(s->vtagged[vid] >> q & 1);
	struct sw_port *op = &s->port[q];

	if (!(s->vmember[vid] >> q & 1)) {	/* a static entry elsewhere */
		op->st.drops[SW_DROP_VLAN]++;
		return;
	}
	if (form == SW_FORM_OPAQUE) {
		if (s->aware >> q & 1) {
			op->st.drops[SW_DROP_VLAN_TAG]++;
			return;
		}
	} else if (form != want) {
		f = alt_form(s, k, f, want);
		if (!f) {
			op->st.drops[SW_DROP_TOO_BIG]++;
			return;
		}
	}
	*mto |= op->mir_out;
	send_one(s, q, f);
}

/* The mirror copies of frame f: to each output in mto, as received. */
static void mirror_copies(struct sw *s, const struct sw_frame *f, uint64_t mto)
{
	for (mto &= s->up; mto; mto &= mto - 1) {
		unsigned int q = (unsigned int)__builtin_ctzll(mto);
		uint64_t tx = s->port[q].st.tx_packets;

		if (!(s->up >> q & 1))
			continue;
		send_one(s, q, f);
		s->port[q].st.mirrored += s->port[q].st.tx_packets - tx;
	}
}

/* Frame k's verdict v acted on when every port is transparent and unmirrored. */
static inline void act_plain(struct sw *s, struct sw_port *ip, uint64_t inbit,
			     const struct sw_frame *f, unsigned int v)
{
	if (v < SW_V_FLOOD) {
		if (s->up >> v & 1)
			send_one(s, v, f);
		else
			ip->st.drops[SW_DROP_PORT_DOWN]++;
	} else if (v == SW_V_FLOOD) {
		uint64_t m = s->up & ~inbit;

		ip->st.rx_flooded++;
		while (m) {
			send_one(s, (unsigned int)__builtin_ctzll(m), f);
			m &= m - 1;
			m &= s->up;
		}
	} else {
		ip->st.drops[v - SW_V_DROP]++;
	}
}

/* The same with VLANs and mirrors: floods stay in the frame's VLAN. */
static void act_l2(struct sw *s, struct sw_port *ip, uint64_t inbit,
		   unsigned int k, const struct sw_frame *f, unsigned int v)
{
	uint64_t mto = ip->mir_in;

	if (v < SW_V_FLOOD) {
		if (s->up >> v & 1)
			send_vlan(s, k, v, f, &mto);
		else
			ip->st.drops[SW_DROP_PORT_DOWN]++;
	} else if (v == SW_V_FLOOD) {
		uint64_t m = s->up & ~inbit & s->vmember[s->fvid[k]] & ~s->sink;

		ip->st.rx_flooded++;
		while (m) {
			send_vlan(s, k, (unsigned int)__builtin_ctzll(m), f, &mto);
			m &= m - 1;
			m &= s->up;
		}
	} else {
		ip->st.drops[v - SW_V_DROP]++;
		return;
	}
	if (mto)
		mirror_copies(s, f, mto);
}

/*
 * Act on the verdicts.  Port state is read live, not as it was when the
 * burst was classified: should a callback take a port down mid-burst, it
 * gets nothing more, and unicast still aimed at it is dropped as
 * SW_DROP_PORT_DOWN on the ingress port (as is the rest of the burst if
 * the ingress port itself went down).  With VLANs or mirrors about
 * (s->l2) frames go by send_vlan; otherwise by the plain path, which is
 * the switch as it was before VLANs.
 */
static void forward(struct sw *s, unsigned int in, unsigned int n)
{
	struct sw_port *ip = &s->port[in];
	uint64_t inbit = 1ULL << in, bytes = 0;
	unsigned int k;

	if (!s->l2) {
		for (k = 0; k < n && (s->up & inbit);) {
			unsigned int v = s->verdict[k], r = 1;

			if (v < SW_V_FLOOD && (s->up >> v & 1) &&
			    s->port[v].ops.send_burst) {
				while (k + r < n && s->verdict[k + r] == v)
					r++;
				bytes += send_run(s, v, &s->burst[k], r);
				k += r;
				continue;
			}
			bytes += s->burst[k].len;
			act_plain(s, ip, inbit, &s->burst[k], v);
			k++;
		}
	} else {
		s->alt_k[0] = s->alt_k[1] = 0;
		for (k = 0; k < n && (s->up & inbit); k++) {
			bytes += s->burst[k].len;
			act_l2(s, ip, inbit, k, &s->burst[k], s->verdict[k]);
		}
	}
	if (s->cur_in != (int)in)
		return;		/* the port was removed: no counters left */
	ip->st.drops[SW_DROP_PORT_DOWN] += n - k;
	for (; k < n; k++)
		bytes += s->burst[k].len;
	ip->st.rx_packets += n;
	ip->st.rx_bytes += bytes;
}

/* Notify every port that got frames, then give the ingress buffers back. */
static void burst_done(struct sw *s, unsigned int in)
{
	uint64_t d = s->dirty;

	s->dirty = 0;
	while ((d &= s->present) != 0) {
		unsigned int q = (unsigned int)__builtin_ctzll(d);

		d &= d - 1;
		s->port[q].ops.flush(s->port[q].ctx);
	}
	if (s->cur_in == (int)in)
		s->port[in].ops.recv_done(s->port[in].ctx);
	s->cur_in = -1;
}

/*
 * Take one burst of at most want frames from port p and forward it.
 * recv_done is called even for an empty burst: a port may have taken
 * chains that were not frames and give them back then.
 */
static unsigned int poll_port(struct sw *s, unsigned int p, unsigned int want,
			      uint64_t now)
{
	struct sw_port *pp = &s->port[p];
	unsigned int got;

	s->cur_in = (int)p;
	got = pp->ops.recv(pp->ctx, s->burst, want);
	if (got > want)
		got = want;
	if (got) {
		classify(s, p, got, now);
		forward(s, p, got);
	}
	burst_done(s, p);
	return got;
}

/*
 * Rounds of one burst per port, starting at s->rr and wrapping, until every
 * port is empty or has used its budget: a busy port gets at most
 * port_budget frames and cannot delay a quiet one by more than a burst.
 */
unsigned int sw_poll(struct sw *s, uint64_t now_ns)
{
	uint32_t left[SW_MAX_PORTS];
	uint64_t active = s->up;
	unsigned int start = s->rr, total = 0;

	age_tick(s, now_ns);
	if (!active)
		return 0;
	for (uint64_t m = active; m; m &= m - 1)
		left[__builtin_ctzll(m)] = s->cfg.port_budget;
	/* next call starts after the first port served by this one */
	{
		uint64_t hi = active & (~0ULL << start);
		unsigned int first = (unsigned int)__builtin_ctzll(hi ? hi : active);

		s->rr = (first + 1) % SW_MAX_PORTS;
	}

	while ((active &= s->up) != 0) {
		uint64_t lo = active & ((1ULL << start) - 1);
		uint64_t hi = active & ~((1ULL << start) - 1);

		for (uint64_t m = hi;; m &= m - 1) {
			unsigned int p, want, got;

			if (!m) {
				if (!lo)
					break;
				m = lo;
				lo = 0;
			}
			p = (unsigned int)__builtin_ctzll(m);
			if (!(s->up >> p & 1)) {
				active &= ~(1ULL << p);
				continue;
			}
			want = left[p] < SW_BURST ? left[p] : SW_BURST;
			got = poll_port(s, p, want, now_ns);
			left[p] -= got;
			total += got;
			if (got < want || left[p] == 0)
				active &= ~(1ULL << p);
		}
	}
	return total;
}

/* ---- ports ---- */

static struct sw_port *port_get(const struct sw *s, int port)
{
	if (!s || port < 0 || port >= SW_MAX_PORTS ||
	    !(s->present >> port & 1))
		return NULL;
	return (struct sw_port *)&s->port[port];
}

int sw_port_add(struct sw *s, const char *name, const struct sw_port_ops *ops,
		void *ctx)
{
	struct sw_port *pp;
	size_t len;
	int id;

	if (!s || !name || !ops || !ops->recv || !ops->recv_done ||
	    !ops->send || !ops->flush)
		return -EINVAL;
	len = strnlen(name, SW_NAME_MAX);
	if (len == 0 || len == SW_NAME_MAX)
		return -EINVAL;
	if (s->present == ~0ULL)
		return -ENOSPC;
	id = __builtin_ctzll(~s->present);
	pp = &s->port[id];
	memset(pp, 0, sizeof(*pp));
	pp->ops = *ops;
	pp->ctx = ctx;
	memcpy(pp->name, name, len + 1);
	pp->vlan.pvid = 1;		/* transparent, in VLAN 1 */
	s->vmember[1] |= 1ULL << id;
	s->present |= 1ULL << id;
	return id;
}

/* ---- VLANs, port security, mirrors ---- */

static void l2_update(struct sw *s)
{
	s->l2 = s->aware || s->sink;
}

/* Port p's bits in the VLAN masks, from p->vlan (0 when gone). */
static void vlan_masks(struct sw *s, unsigned int p, bool present)
{
	const struct sw_port_vlan *v = &s->port[p].vlan;
	uint64_t bit = 1ULL << p;

	for (unsigned int vid = 0; vid < 4096; vid++) {
		s->vmember[vid] &= ~bit;
		s->vtagged[vid] &= ~bit;
	}
	s->aware &= ~bit;
	if (present) {
		if (v->aware) {
			s->aware |= bit;
			for (unsigned int vid = 1; vid <= SW_VLAN_MAX; vid++) {
				if (!sw_vlan_test(v->trunks, vid))
					continue;
				s->vmember[vid] |= bit;
				s->vtagged[vid] |= bit;
			}
		}
		if (v->pvid) {
			s->vmember[v->pvid] |= bit;
			s->vtagged[v->pvid] &= ~bit;
		}
	}
	l2_update(s);
}

int sw_port_set_vlan(struct sw *s, int port, const struct sw_port_vlan *v)
{
	struct sw_port *pp = port_get(s, port);
	bool any = false;

	if (!pp || !v || v->pvid > SW_VLAN_MAX || sw_vlan_test(v->trunks, 0) ||
	    sw_vlan_test(v->trunks, 4095))
		return -EINVAL;
	for (unsigned int i = 0; i < SW_VLAN_WORDS; i++)
		any |= v->trunks[i] != 0;
	if (!v->aware && (any || v->pvid != 1))
		return -EINVAL;
	pp->vlan = *v;
	flush_port(s, (unsigned int)port);
	vlan_masks(s, (unsigned int)port, true);
	return 0;
}

int sw_port_get_vlan(const struct sw *s, int port, struct sw_port_vlan *v)
{
	const struct sw_port *pp = port_get(s, port);

	if (!pp)
		return -EINVAL;
	*v = pp->vlan;
	return 0;
}

int sw_port_set_security(struct sw *s, int port,
			 const struct sw_port_security *sec)
{
	struct sw_port *pp = port_get(s, port);

	if (!pp || !sec || sec->nmacs > SW_SEC_MACS_MAX ||
	    (sec->lock_first && sec->nmacs))
		return -EINVAL;
	for (unsigned int i = 0; i < sec->nmacs; i++) {
		uint64_t m = sw_mac_key(sec->mac[i]);

		if ((m & 1) || !m)
			return -EINVAL;
	}
	for (unsigned int i = 0; i < sec->nmacs; i++)
		pp->allowed[i] = sw_mac_key(sec->mac[i]);
	pp->nallowed = (uint8_t)sec->nmacs;
	pp->lock_first = sec->lock_first;
	pp->secure = sec->lock_first || sec->nmacs;
	return 0;
}

int sw_port_get_security(const struct sw *s, int port,
			 struct sw_port_security *sec)
{
	const struct sw_port *pp = port_get(s, port);

	if (!pp)
		return -EINVAL;
	memset(sec, 0, sizeof(*sec));
	sec->lock_first = pp->lock_first;
	sec->nmacs = pp->nallowed;
	for (unsigned int i = 0; i < pp->nallowed; i++)
		for (unsigned int b = 0; b < SW_ETH_ALEN; b++)
			sec->mac[i][b] = (uint8_t)(pp->allowed[i] >> (8 * b));
	return 0;
}

/* The ports' mirror masks and the sinks, from s->mirror[]. */
static void mirror_masks(struct sw *s)
{
	uint64_t sink = 0;

	for (unsigned int p = 0; p < SW_MAX_PORTS; p++)
		s->port[p].mir_in = s->port[p].mir_out = 0;
	for (unsigned int i = 0; i < SW_MIRRORS_MAX; i++)
		if (s->mirror[i].to >= 0)
			sink |= 1ULL << s->mirror[i].to;
	for (unsigned int i = 0; i < SW_MIRRORS_MAX; i++) {
		uint64_t from = s->mirror[i].from & s->present & ~sink;

		if (s->mirror[i].to < 0)
			continue;
		for (; from; from &= from - 1) {
			struct sw_port *pp = &s->port[__builtin_ctzll(from)];

			pp->mir_in |= 1ULL << s->mirror[i].to;
			pp->mir_out |= 1ULL << s->mirror[i].to;
		}
	}
	/* a new sink forgets what it learned: nothing may be sent to it */
	for (uint64_t m = sink & ~s->sink; m; m &= m - 1)
		flush_where(s, __builtin_ctzll(m), 0, true);
	s->sink = sink;
	l2_update(s);
}

int sw_mirror_set(struct sw *s, unsigned int idx, uint64_t from, int to)
{
	if (!s || idx >= SW_MIRRORS_MAX)
		return -EINVAL;
	if (to >= 0 && (!port_get(s, to) || (from >> to & 1)))
		return -EINVAL;
	s->mirror[idx].from = to >= 0 ? from : 0;
	s->mirror[idx].to = to >= 0 ? to : -1;
	mirror_masks(s);
	return 0;
}

void sw_port_set_up(struct sw *s, int port, bool up)
{
	if (!port_get(s, port))
		return;
	if (up) {
		s->up |= 1ULL << port;
	} else {
		s->up &= ~(1ULL << port);
		flush_port(s, (unsigned int)port);
	}
}

void sw_port_remove(struct sw *s, int port)
{
	if (!port_get(s, port))
		return;
	sw_port_set_up(s, port, false);
	flush_where(s, port, 0, true);
	vlan_masks(s, (unsigned int)port, false);
	for (unsigned int i = 0; i < SW_MIRRORS_MAX; i++) {
		s->mirror[i].from &= ~(1ULL << port);
		if (s->mirror[i].to == port)
			s->mirror[i].to = -1;
	}
	s->present &= ~(1ULL << port);
	s->dirty &= ~(1ULL << port);
	if (s->cur_in == port)
		s->cur_in = -1;
	memset(&s->port[port], 0, sizeof(s->port[port]));
	mirror_masks(s);
}

bool sw_port_is_up(const struct sw *s, int port)
{
	return port_get(s, port) && (s->up >> port & 1);
}

const char *sw_port_name(const struct sw *s, int port)
{
	const struct sw_port *pp = port_get(s, port);

	return pp ? pp->name : NULL;
}

const struct sw_port_stats *sw_port_stats(const struct sw *s, int port)
{
	const struct sw_port *pp = port_get(s, port);

	return pp ? &pp->st : NULL;
}

void sw_port_stats_clear(struct sw *s, int port)
{
	struct sw_port *pp = port_get(s, port);

	if (pp)
		memset(&pp->st, 0, sizeof(pp->st));
}

/* ---- MAC table queries ---- */

int sw_mac_foreach(const struct sw *s, uint64_t now_ns,
		   int (*fn)(const struct sw_mac_entry *e, void *arg), void *arg)
{
	for (uint32_t i = 0; i <= s->mask; i++) {
		const struct sw_mac_slot *e = &s->tab[i];
		struct sw_mac_entry me;
		uint64_t seen;
		int r;

		if (!e->w)
			continue;
		for (unsigned int b = 0; b < SW_ETH_ALEN; b++)
			me.mac[b] = (uint8_t)(e->w >> (8 * b));
		me.vlan = slot_vid(e);
		me.is_static = (e->w & SW_F_STATIC) != 0;
		me.pinned = (e->w & SW_F_PINNED) != 0;
		me.port = (int)slot_port(e);
		seen = e->seen_ns & ~SW_PORT_BITS;
		me.age_s = !me.is_static && now_ns > seen ?
			   (now_ns - seen) / NSEC_PER_SEC : 0;
		r = fn(&me, arg);
		if (r)
			return r;
	}
	return 0;
}

static bool key_of(const uint8_t mac[SW_ETH_ALEN], uint16_t vlan,
		   uint64_t *key)
{
	uint64_t m = sw_mac_key(mac);

	if ((m & 1) || !m || vlan < 1 || vlan > SW_VLAN_MAX)
		return false;
	*key = m | (uint64_t)vlan << SW_VID_SHIFT;
	return true;
}

int sw_mac_add(struct sw *s, const uint8_t mac[SW_ETH_ALEN], uint16_t vlan,
	       int port)
{
	struct sw_port *pp = port_get(s, port);
	struct sw_mac_slot *e;
	uint64_t key;

	if (!pp || !mac || !key_of(mac, vlan, &key) || (s->sink >> port & 1))
		return -EINVAL;
	e = &s->tab[probe(s, key, home_slot(s, key))];
	if (e->w) {			/* replaced: uncount the old one */
		s->port[slot_port(e)].nmacs--;
		if (e->w & SW_F_STATIC)
			s->port[slot_port(e)].nstatic--;
	} else if (s->nmacs >= s->cfg.mac_max) {
		return -ENOSPC;
	} else {
		s->nmacs++;
	}
	pp->nmacs++;
	pp->nstatic++;
	e->w = key | SW_F_STATIC;
	e->seen_ns = SW_STATIC_SEEN | (unsigned int)port;
	return 0;
}

int sw_mac_del(struct sw *s, const uint8_t mac[SW_ETH_ALEN], uint16_t vlan)
{
	uint64_t key;
	uint32_t i;

	if (!s || !mac || !key_of(mac, vlan, &key))
		return -ENOENT;
	i = probe(s, key, home_slot(s, key));
	if (!s->tab[i].w)
		return -ENOENT;
	slot_delete(s, i);
	return 0;
}

uint32_t sw_mac_flush(struct sw *s, int port, uint16_t vlan)
{
	if (!s || (port >= 0 && !port_get(s, port)) || vlan > SW_VLAN_MAX)
		return 0;
	return flush_where(s, port < 0 ? -1 : port, vlan, false);
}

uint32_t sw_mac_count(const struct sw *s)
{
	return s->nmacs;
}

uint32_t sw_mac_count_port(const struct sw *s, int port)
{
	const struct sw_port *pp = port_get(s, port);

	return pp ? pp->nmacs : 0;
}

void sw_mac_stats(const struct sw *s, struct sw_mac_stats *st)
{
	uint32_t run = 0;

	memset(st, 0, sizeof(*st));
	st->bytes = sizeof(*s) + (uint64_t)(s->mask + 1) * sizeof(*s->tab);
	st->slots = s->mask + 1;
	st->entries = s->nmacs;
	for (uint32_t i = 0; i <= s->mask; i++) {
		const struct sw_mac_slot *e = &s->tab[i];
		uint32_t len;

		if (!e->w)
			continue;
		len = ((i - home_slot(s, e->w & SW_KEY_MASK)) & s->mask) + 1;
		st->probe_sum += len;
		if (len > st->probe_max)
			st->probe_max = len;
	}
	/*
	 * A miss from home slot i reads to the next empty slot: 1 from an
	 * empty slot, k + 1 from a full one k slots before the end of its run.
	 * Walk backwards from an empty slot so each run is counted whole.
	 */
	if (s->nmacs <= s->mask) {
		uint32_t start = 0;

		while (s->tab[start].w)
			start++;
		for (uint32_t n = 0, i = start; n <= s->mask; n++) {
			run = s->tab[i].w ? run + 1 : 0;
			st->miss_sum += run + 1;
			if (run + 1 > st->miss_max)
				st->miss_max = run + 1;
			i = (i - 1) & s->mask;
		}
	}
	st->age_sweeps = s->age_sweeps;
	st->age_ticks = s->age_ticks;
	st->age_work_max = s->age_work_max;
	st->age_budget = SW_AGE_BUDGET;
	st->age_hash_cost = SW_AGE_HASH_COST;
}
