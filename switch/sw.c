/* SPDX-License-Identifier: MIT */
/*
 * sw: the L2 learning switch: MAC table, forwarding and port scheduling.
 *
 * Each burst from a port is first classified (learn the source, look up the
 * destination, one verdict per frame) and then acted on (send, flood or
 * drop), with one recv_done and one flush per port per burst.  Only
 * sw_frame.eth and sw_frame.len are read, and the peer controls both: the
 * MAC table is keyed with a random secret and bounded globally and per
 * port, so a peer can neither aim its MACs at one bucket nor evict other
 * ports' MACs (a peer can still claim another port's MAC by sending from
 * it: a MAC moves to where it was last seen).  Port callbacks are our own
 * code and are trusted to keep the sw_port_ops contract; one may take a
 * port down or remove it, even mid-burst, but must not destroy the switch.
 */
#include "sw.h"

#include <errno.h>
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

/* A slot's w: the MAC in bits 0-47 (0: slot empty), the port in 48-63. */
#define SW_MAC_MASK ((1ULL << 48) - 1)
#define SW_PORT_SHIFT 48
/* An empty slot's seen_ns: never old enough to expire, so a sweep tests one field */
#define SW_NEVER UINT64_MAX

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
};

struct sw_mac_slot {
	uint64_t w;
	uint64_t seen_ns;		/* last frame from this MAC; empty: SW_NEVER */
};

struct sw_port {
	struct sw_port_ops ops;
	void *ctx;
	uint32_t nmacs;			/* MACs learned on this port */
	struct sw_port_stats st;
	char name[SW_NAME_MAX];
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
	int cur_in;			/* ingress port of this burst, or -1 */
	unsigned int rr;		/* port id sw_poll starts from */
	uint32_t nmacs;
	uint32_t mask;			/* table slots - 1 */
	struct sw_hash_key key;
	struct sw_mac_slot *tab;
	struct sw_port port[SW_MAX_PORTS];
	uint8_t verdict[SW_BURST];
	uint32_t hsrc[SW_BURST], hdst[SW_BURST];	/* home slots */
	uint64_t ksrc[SW_BURST], kdst[SW_BURST];	/* MACs */
	struct sw_frame burst[SW_BURST];
};

void sw_config_default(struct sw_config *c)
{
	c->mac_max = 8192;
	c->mac_max_per_port = 512;
	c->ageing_s = 300;		/* IEEE 802.1D's default */
	c->port_budget = 8 * SW_BURST;
}

static bool config_ok(const struct sw_config *c)
{
	return c->mac_max >= 1 && c->mac_max <= SW_MAC_MAX_LIMIT &&
	       c->mac_max_per_port >= 1 && c->ageing_s >= 1 &&
	       c->port_budget >= 1;
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
	return (unsigned int)(e->w >> SW_PORT_SHIFT);
}

static inline uint32_t home_slot(const struct sw *s, uint64_t mac)
{
	return (uint32_t)sw_hash_mac(&s->key, mac) & s->mask;
}

/*
 * The slot holding mac, or the empty slot where it would go, searching
 * from i, its home slot.  The table is never more than half full, so there
 * is always an empty slot; the loop bound is only a guard.
 */
static inline uint32_t probe(const struct sw *s, uint64_t mac, uint32_t i)
{
	for (uint32_t n = 0; n <= s->mask; n++) {
		uint64_t m = s->tab[i].w & SW_MAC_MASK;

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
	s->nmacs--;
	for (;;) {
		uint32_t h;

		j = (j + 1) & s->mask;
		if (!t[j].w)
			break;
		looked++;
		h = home_slot(s, t[j].w & SW_MAC_MASK);
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
 * Forget every MAC learned on port p.  Deleting slot i may pull a later
 * entry into i, so i is looked at again; entries never move to slots
 * already passed, so every entry is seen.
 */
static void flush_port(struct sw *s, unsigned int p)
{
	for (uint32_t i = 0; i <= s->mask && s->port[p].nmacs;) {
		if (s->tab[i].w && slot_port(&s->tab[i]) == p)
			slot_delete(s, i);
		else
			i++;
	}
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
 * Learn that mac (a valid source) is on port in, at slot i from probe().
 * A new MAC is refused when the table or the port is full; a known MAC
 * moves to in, unless in is full, in which case it stays where it was.
 */
static inline void learn(struct sw *s, unsigned int in, uint64_t mac,
			 uint32_t i, uint64_t now)
{
	struct sw_mac_slot *e = &s->tab[i];
	struct sw_port *ip = &s->port[in];
	unsigned int old;

	if (e->w) {
		old = slot_port(e);
		if (old == in) {
			e->seen_ns = now;
			return;
		}
		if (ip->nmacs >= s->cfg.mac_max_per_port) {
			ip->st.learn_refused++;
			return;
		}
		s->port[old].nmacs--;
	} else {
		if (s->nmacs >= s->cfg.mac_max ||
		    ip->nmacs >= s->cfg.mac_max_per_port) {
			ip->st.learn_refused++;
			return;
		}
		s->nmacs++;
	}
	ip->nmacs++;
	e->w = mac | (uint64_t)in << SW_PORT_SHIFT;
	e->seen_ns = now;
}

/*
 * First pass over a burst: the MACs of each frame and their home slots,
 * with the slots prefetched.  No table access, no dependency from one
 * frame to the next but the repeat check, so the hashes overlap.  Frames
 * of one burst mostly share their MACs: a repeat is not hashed again.
 */
static void hash_burst(struct sw *s, unsigned int n)
{
	uint64_t ps = UINT64_MAX, pd = UINT64_MAX;
	uint32_t hs = 0, hd = 0;

	for (unsigned int k = 0; k < n; k++) {
		const struct sw_frame *f = &s->burst[k];
		uint64_t dst = sw_mac_key(f->eth);
		uint64_t src = sw_mac_key(f->eth + SW_ETH_ALEN);

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
static void classify(struct sw *s, unsigned int in, unsigned int n,
		     uint64_t now)
{
	uint64_t last_src = UINT64_MAX, last_dst = UINT64_MAX;
	uint32_t src_slot = 0, dst_slot = 0;

	hash_burst(s, n);
	for (unsigned int k = 0; k < n; k++) {
		const struct sw_frame *f = &s->burst[k];
		uint64_t dst = s->kdst[k], src = s->ksrc[k];
		unsigned int p;

		if (f->len < SW_ETH_HLEN) {
			s->verdict[k] = SW_V_DROP + SW_DROP_RUNT;
			continue;
		}
		if ((src & 1) || src == 0) {	/* I/G bit of the first byte */
			s->verdict[k] = SW_V_DROP + SW_DROP_BAD_SRC;
			continue;
		}
		if (src != last_src) {
			src_slot = probe(s, src, s->hsrc[k]);
			last_src = src;
		}
		learn(s, in, src, src_slot, now);
		if (!s->tab[src_slot].w)
			last_src = UINT64_MAX;	/* refused: no slot to keep */

		if (dst & 1) {
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
		/* never a down port: going down forgets the port's MACs */
		p = slot_port(&s->tab[dst_slot]);
		s->verdict[k] = p == in ? SW_V_DROP + SW_DROP_HAIRPIN : (uint8_t)p;
	}
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
 * Act on the verdicts.  Port state is read live, not as it was when the
 * burst was classified: should a callback take a port down mid-burst, it
 * gets nothing more, and unicast still aimed at it is dropped as
 * SW_DROP_PORT_DOWN on the ingress port (as is the rest of the burst if
 * the ingress port itself went down).
 */
static void forward(struct sw *s, unsigned int in, unsigned int n)
{
	struct sw_port *ip = &s->port[in];
	uint64_t inbit = 1ULL << in, bytes = 0;
	unsigned int k;

	for (k = 0; k < n && (s->up & inbit); k++) {
		const struct sw_frame *f = &s->burst[k];
		unsigned int v = s->verdict[k];

		bytes += f->len;
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
	s->present |= 1ULL << id;
	return id;
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
	s->present &= ~(1ULL << port);
	s->dirty &= ~(1ULL << port);
	if (s->cur_in == port)
		s->cur_in = -1;
	memset(&s->port[port], 0, sizeof(s->port[port]));
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
		int r;

		if (!e->w)
			continue;
		for (unsigned int b = 0; b < SW_ETH_ALEN; b++)
			me.mac[b] = (uint8_t)(e->w >> (8 * b));
		me.port = (int)slot_port(e);
		me.age_s = now_ns > e->seen_ns ?
			   (now_ns - e->seen_ns) / NSEC_PER_SEC : 0;
		r = fn(&me, arg);
		if (r)
			return r;
	}
	return 0;
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
		len = ((i - home_slot(s, e->w & SW_MAC_MASK)) & s->mask) + 1;
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
