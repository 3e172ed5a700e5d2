/* SPDX-License-Identifier: MIT */
/*
 * vu_dev: vhost-user message handling for one connection.
 *
 * Security model: the frontend is untrusted.  Every message is checked
 * against one table (vu_rules) for its exact payload size, the number of
 * fds it may carry and the ring index it names before a handler runs;
 * handlers then check the values.  A message that breaks framing (bad
 * version, unknown request, wrong size or fd count) drops the connection;
 * a well-formed request with bad values is refused (a REPLY_ACK error when
 * the frontend asked for one) and the connection stays.  Nothing a
 * frontend sends can stop the process or touch another port.
 */
#include "vu_dev.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vlog.h"

/* Handler results beyond 0 / -errno. */
#define VU_DROP (-EPROTO)	/* framing broken: drop the connection */

enum ring_arg {
	RING_NONE,	/* no ring index */
	RING_STATE,	/* p.state.index */
	RING_ADDR,	/* p.addr.index */
	RING_FD,	/* p.u64 & VU_VRING_IDX_MASK */
};

#define SIZE_VAR 0xffff

/*
 * Bytes of guest memory one connection may have mapped, all regions
 * together.  Mappings are MAP_NORESERVE and a sparse memfd costs the
 * frontend nothing, so without a bound one frontend could fill our 128 TiB
 * of address space and no other port could map its memory.  SW_MAX_PORTS
 * (64) connections at 1 TiB each leave half of it free.
 */
#define VU_MAX_MEM_BYTES (1ull << 40)

/*
 * Largest dirty log we map: 1 GiB has a bit for each page of 32 TiB of
 * guest physical space, far above any guest's; more is address space a
 * frontend would take from everyone else.
 */
#define VU_MAX_LOG_BYTES (1ull << 30)

struct vu_rule {
	const char *name;
	int (*handler)(struct vu_dev *d, struct vu_msg *m, int *fds,
		       unsigned int nfds);
	uint16_t size;		/* exact payload size, or SIZE_VAR */
	uint8_t min_fds, max_fds;
	uint8_t ring;		/* enum ring_arg */
	bool replies;		/* the handler fills m as a reply */
	int need_proto;		/* protocol feature bit required, or -1 */
	bool empty_reply;	/* the reply has no payload (SET_LOG_BASE) */
};

static void set_error(struct vu_dev *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The reason for refusing the message being handled (d->why). */
static void set_error(struct vu_dev *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(d->why, sizeof(d->why), fmt, ap);
	va_end(ap);
}

/* The message was refused: its reason becomes the port's last error. */
static void record_error(struct vu_dev *d, int rc)
{
	struct timespec ts;

	d->msg_errors++;
	snprintf(d->last_error, sizeof(d->last_error), "%s",
		 d->why[0] ? d->why : strerror(-rc));
	clock_gettime(CLOCK_MONOTONIC, &ts);
	d->last_error_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void close_fds(int *fds, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

/* Take fds[i] out of the array so that the dispatcher does not close it. */
static int take_fd(int *fds, unsigned int nfds, unsigned int i)
{
	int fd;

	if (i >= nfds)
		return -1;
	fd = fds[i];
	fds[i] = -1;
	return fd;
}

static void changed(struct vu_dev *d, unsigned int q)
{
	if (d->hooks && d->hooks->vring_changed)
		d->hooks->vring_changed(d->hooks_arg, q);
}

void vu_dev_ring_fault(struct vu_dev *d, unsigned int q, const char *why)
{
	struct vu_vring *r;

	if (q >= d->nvrings)
		return;
	r = &d->vring[q];
	if (!r->started || r->vq.broken)
		return;
	vq_break(&r->vq, "%s", why);
	r->breaks++;
	vlog_rl(&d->rl, VLOG_WARN, "%s: vring %u (break %llu): %s", d->name, q,
		(unsigned long long)r->breaks, r->vq.why);
	changed(d, q);
	if (d->t->signal)
		d->t->signal(d->tctx, VU_FD_ERR, q);
}

bool vu_dev_logging(const struct vu_dev *d)
{
	return vu_has_feature(d, VHOST_F_LOG_ALL);
}

/*
 * Point ring q's logging at the device's log while VHOST_F_LOG_ALL is
 * acked, else turn it off.  Rings are idle between messages (no chain
 * is kept popped across one), so the switch is clean.  A ring that must
 * log and cannot (no memory for its records) breaks: running unlogged
 * would hand the migration stale pages.
 */
static void log_attach(struct vu_dev *d, unsigned int q)
{
	struct vu_vring *r = &d->vring[q];

	if (!r->vq.size)
		return;
	if (!vu_dev_logging(d)) {
		vq_log_attach(&r->vq, NULL, NULL);
		return;
	}
	if (!d->logq[q])
		d->logq[q] = malloc(sizeof(*d->logq[q]));
	if (!d->logq[q]) {
		vq_break(&r->vq, "no memory to log its writes for migration");
		return;
	}
	vq_log_attach(&r->vq, &d->log, d->logq[q]);
}

static void logs_refresh(struct vu_dev *d)
{
	for (unsigned int q = 0; q < d->nvrings; q++)
		log_attach(d, q);
}

/*
 * 0 when logging is off, or the log has a bit for every page of m (or
 * there is no log yet: writes are then counted as misses); else
 * VU_DROP with the reason.  A frontend that logs needs every page we may
 * write covered, or its migration copies stale pages; QEMU grows the log
 * before it grows memory.
 */
static int log_check(struct vu_dev *d, const struct vu_mem *m, bool logging,
		     const char *what)
{
	if (!logging || !d->log.bits || vq_log_covers(d->log.len, m))
		return 0;
	set_error(d, "%s: the dirty log of %llu bytes does not cover guest memory",
		  what, (unsigned long long)d->log.len);
	return VU_DROP;
}

bool vu_vring_live(const struct vu_dev *d, unsigned int q)
{
	const struct vu_vring *r = &d->vring[q];

	return q < d->nvrings && r->started && r->enabled && vq_ready(&r->vq);
}

/*
 * (Re)derive ring pointers from the saved layout and the memory table.
 * base is the vring base as vq_base() encodes it for the ring's layout.
 */
static void vring_setup(struct vu_dev *d, unsigned int q, uint16_t base)
{
	struct vu_vring *r = &d->vring[q];
	int rc;

	if (!r->num || !r->addr_set) {
		vq_reset(&r->vq);
		vq_break(&r->vq, "started before its size and address were set");
	} else if (vu_has_feature(d, VU_F_RING_PACKED)) {
		/* SET_VRING_ADDR's avail and used are the event areas (2.8.10). */
		rc = vq_setup_packed(&r->vq, &d->mem, (uint16_t)r->num,
				     r->addr.desc, r->addr.avail, r->addr.used, base,
				     vu_has_feature(d, VU_F_RING_EVENT_IDX),
				     vu_has_feature(d, VU_F_RING_INDIRECT_DESC));
		if (rc == 0) {
			vq_set_in_order(&r->vq, vu_has_feature(d, VU_F_IN_ORDER));
			log_attach(d, q);
			return;
		}
	} else {
		rc = vq_setup(&r->vq, &d->mem, (uint16_t)r->num, r->addr.desc,
			      r->addr.avail, r->addr.used, base,
			      vu_has_feature(d, VU_F_RING_EVENT_IDX),
			      vu_has_feature(d, VU_F_RING_INDIRECT_DESC));
		if (rc == 0) {
			/*
			 * We never keep a chain popped across messages, so every
			 * chain we took is in the used ring: used->idx is where
			 * we stopped.  A frontend that lost track (DPDK
			 * virtio_user after our restart sends base 0) gets the
			 * ring resumed from there instead of re-reading chains.
			 */
			if (r->vq.last_avail != r->vq.used_idx) {
				vlog_rl(&d->rl, VLOG_INFO,
					"%s: vring %u: base %u, used idx %u: resuming at %u",
					d->name, q, r->vq.last_avail, r->vq.used_idx,
					r->vq.used_idx);
				r->vq.last_avail = r->vq.used_idx;
			}
			vq_set_in_order(&r->vq, vu_has_feature(d, VU_F_IN_ORDER));
			log_attach(d, q);
			return;
		}
	}
	if (r->num && r->addr_set) {
		/* The setup left its reason in vq.why; keep it and mark broken. */
		char why[sizeof(r->vq.why)];

		memcpy(why, r->vq.why, sizeof(why));
		vq_break(&r->vq, "ring layout refused: %s", why);
	}
	r->breaks++;
	/* A frontend can restart a broken ring in a loop: rl bounds the log. */
	vlog_rl(&d->rl, VLOG_WARN, "%s: vring %u (break %llu): %s", d->name, q,
		(unsigned long long)r->breaks, r->vq.why);
	if (d->t->signal)
		d->t->signal(d->tctx, VU_FD_ERR, q);
}

static void vring_start(struct vu_dev *d, unsigned int q)
{
	struct vu_vring *r = &d->vring[q];

	r->started = true;
	/* Without protocol features a ring is enabled as soon as it starts. */
	if (!vu_has_feature(d, VU_F_PROTOCOL_FEATURES))
		r->enabled = true;
	vring_setup(d, q, r->base);
	changed(d, q);
}

static void vring_stop(struct vu_dev *d, unsigned int q)
{
	struct vu_vring *r = &d->vring[q];
	bool was = r->started;

	r->started = false;
	if (r->vq.size)
		r->base = vq_base(&r->vq);
	vq_reset(&r->vq);
	if (was)
		changed(d, q);
}

/* After the table changed, point every set-up ring at the new mapping. */
static void vrings_remap(struct vu_dev *d)
{
	for (unsigned int q = 0; q < d->nvrings; q++) {
		struct vu_vring *r = &d->vring[q];

		if (r->started && r->vq.size) {
			vring_setup(d, q, vq_base(&r->vq));
			changed(d, q);
		}
	}
	if (d->hooks && d->hooks->mem_changed)
		d->hooks->mem_changed(d->hooks_arg);
}

/* Bytes mapped for m; at most VU_MAX_MEM_REGIONS * VU_MAX_MEM_BYTES. */
static uint64_t mem_bytes(const struct vu_mem *m)
{
	uint64_t n = 0;

	for (unsigned int i = 0; i < m->nregions; i++)
		n += m->r[i].size;
	return n;
}

/* 0 if r fits in m's share of address space, else -ENOSPC with the reason. */
static int check_bytes(struct vu_dev *d, const struct vu_mem *m,
		       const struct vu_mem_region *r, const char *what)
{
	uint64_t used = mem_bytes(m);

	if (used <= VU_MAX_MEM_BYTES && r->size <= VU_MAX_MEM_BYTES - used)
		return 0;
	set_error(d, "%s: region of %#llx bytes over the %#llx bytes a frontend may map",
		  what, (unsigned long long)r->size,
		  (unsigned long long)VU_MAX_MEM_BYTES);
	return -ENOSPC;
}

static void unmap_all(struct vu_dev *d, struct vu_mem *m)
{
	for (unsigned int i = 0; i < m->nregions; i++)
		d->t->unmap(d->tctx, &m->r[i]);
	m->nregions = 0;
}

/* ---- handlers, in request order ---- */

static int h_get_features(struct vu_dev *d, struct vu_msg *m, int *fds,
			  unsigned int nfds)
{
	(void)fds; (void)nfds;
	m->p.u64 = d->offered;
	return 0;
}

static int h_set_features(struct vu_dev *d, struct vu_msg *m, int *fds,
			  unsigned int nfds)
{
	uint64_t f = m->p.u64;

	(void)fds; (void)nfds;
	int rc;

	if (f & ~d->offered) {
		set_error(d, "SET_FEATURES acks unoffered bits %#llx",
			  (unsigned long long)(f & ~d->offered));
		return -EINVAL;
	}
	rc = log_check(d, &d->mem, (f >> VHOST_F_LOG_ALL) & 1, "SET_FEATURES");
	if (rc)
		return rc;
	if (((f ^ d->features) >> VHOST_F_LOG_ALL) & 1)
		vlog_rl(&d->rl, VLOG_INFO, "%s: dirty logging %s", d->name,
			(f >> VHOST_F_LOG_ALL) & 1 ? "on" : "off");
	d->features = f;
	logs_refresh(d);
	return 0;
}

static int h_set_owner(struct vu_dev *d, struct vu_msg *m, int *fds,
		       unsigned int nfds)
{
	(void)m; (void)fds; (void)nfds;
	d->owner = true;
	return 0;
}

static int h_reset_owner(struct vu_dev *d, struct vu_msg *m, int *fds,
			 unsigned int nfds)
{
	(void)m; (void)fds; (void)nfds;
	for (unsigned int q = 0; q < d->nvrings; q++) {
		vring_stop(d, q);
		d->vring[q].enabled = false;
		d->vring[q].base = 0;
	}
	d->features = 0;
	d->owner = false;
	logs_refresh(d);
	return 0;
}

static int region_from_wire(struct vu_dev *d, const struct vu_region_wire *w,
			    struct vu_mem_region *r)
{
	memset(r, 0, sizeof(*r));
	r->gpa = w->gpa;
	r->size = w->size;
	r->uva = w->uva;
	r->mmap_offset = w->mmap_offset;
	r->refs = 1;
	/* Exclusive ends must fit in 64 bits: transports compute them. */
	if (r->size == 0 || r->gpa + r->size < r->gpa ||
	    r->uva + r->size < r->uva ||
	    r->mmap_offset + r->size < r->mmap_offset) {
		set_error(d, "region gpa %#llx size %#llx wraps or is empty",
			  (unsigned long long)r->gpa,
			  (unsigned long long)r->size);
		return -EINVAL;
	}
	return 0;
}

static void swap_tables(struct vu_mem *a, struct vu_mem *b)
{
	unsigned int an = a->nregions, bn = b->nregions;
	unsigned int max = an > bn ? an : bn;

	for (unsigned int i = 0; i < max; i++) {
		struct vu_mem_region tmp = a->r[i];

		a->r[i] = b->r[i];
		b->r[i] = tmp;
	}
	a->nregions = bn;
	b->nregions = an;
}

static int h_set_mem_table(struct vu_dev *d, struct vu_msg *m, int *fds,
			   unsigned int nfds)
{
	const struct vu_mem_table_wire *w = &m->p.mem;
	struct vu_mem *nt = &d->scratch;
	uint32_t n = w->nregions;
	int rc;

	if (n == 0 || n > VU_MEM_TABLE_MAX ||
	    m->hdr.size != 8 + n * sizeof(struct vu_region_wire)) {
		set_error(d, "SET_MEM_TABLE: %u regions in %u bytes", n,
			  m->hdr.size);
		return VU_DROP;
	}
	if (d->t->carries_fds && nfds != n) {
		set_error(d, "SET_MEM_TABLE: %u regions but %u fds", n, nfds);
		return VU_DROP;
	}
	vu_mem_init(nt);
	for (uint32_t i = 0; i < n; i++) {
		struct vu_mem_region r;

		rc = region_from_wire(d, &w->r[i], &r);
		if (rc == 0) {
			rc = vu_mem_check(nt, &r);
			if (rc)
				set_error(d, "SET_MEM_TABLE: region %u overlaps another", i);
		}
		if (rc == 0)
			rc = check_bytes(d, nt, &r, "SET_MEM_TABLE");
		if (rc == 0) {
			rc = d->t->map(d->tctx, &r, take_fd(fds, nfds, i));
			if (rc)
				set_error(d, "SET_MEM_TABLE: cannot map region %u: %s",
					  i, strerror(-rc));
		}
		if (rc == 0) {
			rc = vu_mem_insert(nt, &r);
			if (rc)
				d->t->unmap(d->tctx, &r);
		}
		if (rc) {
			unmap_all(d, nt);
			return rc;
		}
	}
	rc = log_check(d, nt, vu_dev_logging(d), "SET_MEM_TABLE");
	if (rc) {
		unmap_all(d, nt);
		return rc;
	}
	/* Swap in the new table, re-derive rings, then drop the old maps. */
	swap_tables(&d->mem, nt);
	vrings_remap(d);
	unmap_all(d, nt);
	return 0;
}

static int h_set_vring_num(struct vu_dev *d, struct vu_msg *m, int *fds,
			   unsigned int nfds)
{
	uint32_t num = m->p.state.num;

	(void)fds; (void)nfds;
	if (num == 0 || num > VQ_MAX_SIZE || (num & (num - 1))) {
		set_error(d, "SET_VRING_NUM: size %u is not a power of two <= %u",
			  num, VQ_MAX_SIZE);
		return -EINVAL;
	}
	d->vring[m->p.state.index].num = num;
	return 0;
}

static int h_set_vring_addr(struct vu_dev *d, struct vu_msg *m, int *fds,
			    unsigned int nfds)
{
	struct vu_vring *r = &d->vring[m->p.addr.index];

	(void)fds; (void)nfds;
	r->addr = m->p.addr;
	r->addr_set = true;
	/* A live ring may be moved (VHOST_VRING_F_LOG toggles, mostly). */
	if (r->started && r->vq.size) {
		vring_setup(d, m->p.addr.index, vq_base(&r->vq));
		changed(d, m->p.addr.index);
	}
	return 0;
}

/*
 * Split: the 16-bit last avail index.  Packed: the position in bits 0-14
 * and the avail wrap counter in bit 15; QEMU adds its used index and wrap
 * counter in bits 16-31 (virtio_queue_get_last_avail_idx()), which we
 * need not read: we keep nothing in flight across a stop, so our used
 * position starts where avail does.  vq_setup_packed() checks the rest.
 */
static int h_set_vring_base(struct vu_dev *d, struct vu_msg *m, int *fds,
			    unsigned int nfds)
{
	(void)fds; (void)nfds;
	if (m->p.state.num > 0xffff && !vu_has_feature(d, VU_F_RING_PACKED)) {
		set_error(d, "SET_VRING_BASE: %u is not a 16-bit index",
			  m->p.state.num);
		return -EINVAL;
	}
	d->vring[m->p.state.index].base = (uint16_t)m->p.state.num;
	return 0;
}

static int h_get_vring_base(struct vu_dev *d, struct vu_msg *m, int *fds,
			    unsigned int nfds)
{
	unsigned int q = m->p.state.index;
	struct vu_vring *r = &d->vring[q];

	(void)fds; (void)nfds;
	vring_stop(d, q);
	/* The frontend will close the kick fd; stop watching it now. */
	d->t->set_vring_fd(d->tctx, VU_FD_KICK, q, -1);
	r->has_kick = false;
	m->p.state.num = r->base;
	/* Packed: the used position and wrap counter (bits 16-31) equal them. */
	if (vu_has_feature(d, VU_F_RING_PACKED))
		m->p.state.num |= (uint32_t)r->base << 16;
	return 0;
}

/* SET_VRING_KICK / CALL / ERR share the payload rules. */
static int vring_fd_msg(struct vu_dev *d, struct vu_msg *m, int *fds,
			unsigned int nfds, enum vu_fd_kind kind)
{
	uint64_t v = m->p.u64;
	unsigned int q = (unsigned int)(v & VU_VRING_IDX_MASK);
	bool nofd = v & VU_VRING_NOFD;
	int fd, rc;

	if (v & ~(uint64_t)(VU_VRING_IDX_MASK | VU_VRING_NOFD)) {
		set_error(d, "vring fd message with reserved bits %#llx",
			  (unsigned long long)v);
		return VU_DROP;
	}
	if (d->t->carries_fds && nfds != (nofd ? 0u : 1u)) {
		set_error(d, "vring %u: %u fds with the no-fd flag %s", q, nfds,
			  nofd ? "set" : "clear");
		return VU_DROP;
	}
	fd = nofd ? -1 : take_fd(fds, nfds, 0);
	rc = d->t->set_vring_fd(d->tctx, kind, q, fd);
	if (rc) {
		set_error(d, "vring %u: cannot install notifier: %s", q,
			  strerror(-rc));
		return rc;
	}
	if (kind == VU_FD_CALL)
		d->vring[q].has_call = !nofd;
	if (kind == VU_FD_KICK) {
		d->vring[q].has_kick = !nofd;
		/* Vhost-user: a ring starts once it has its kick (or none). */
		if (d->vring[q].started)
			vring_stop(d, q);
		vring_start(d, q);
	}
	return 0;
}

static int h_set_vring_kick(struct vu_dev *d, struct vu_msg *m, int *fds,
			    unsigned int nfds)
{
	return vring_fd_msg(d, m, fds, nfds, VU_FD_KICK);
}

static int h_set_vring_call(struct vu_dev *d, struct vu_msg *m, int *fds,
			    unsigned int nfds)
{
	return vring_fd_msg(d, m, fds, nfds, VU_FD_CALL);
}

static int h_set_vring_err(struct vu_dev *d, struct vu_msg *m, int *fds,
			   unsigned int nfds)
{
	return vring_fd_msg(d, m, fds, nfds, VU_FD_ERR);
}

static int h_get_protocol_features(struct vu_dev *d, struct vu_msg *m,
				   int *fds, unsigned int nfds)
{
	(void)fds; (void)nfds;
	m->p.u64 = d->offered_proto;
	return 0;
}

static int h_set_protocol_features(struct vu_dev *d, struct vu_msg *m,
				   int *fds, unsigned int nfds)
{
	uint64_t f = m->p.u64;

	(void)fds; (void)nfds;
	if (f & ~d->offered_proto) {
		set_error(d, "SET_PROTOCOL_FEATURES acks unoffered bits %#llx",
			  (unsigned long long)(f & ~d->offered_proto));
		return -EINVAL;
	}
	d->proto = f;
	return 0;
}

static int h_get_queue_num(struct vu_dev *d, struct vu_msg *m, int *fds,
			   unsigned int nfds)
{
	(void)fds; (void)nfds;
	m->p.u64 = d->max_qp;
	return 0;
}

static int h_set_vring_enable(struct vu_dev *d, struct vu_msg *m, int *fds,
			      unsigned int nfds)
{
	unsigned int q = m->p.state.index;
	uint32_t on = m->p.state.num;

	(void)fds; (void)nfds;
	if (on > 1) {
		set_error(d, "SET_VRING_ENABLE: %u is not 0 or 1", on);
		return -EINVAL;
	}
	if (d->vring[q].enabled != (on == 1)) {
		d->vring[q].enabled = on == 1;
		changed(d, q);
	}
	return 0;
}

static int h_net_set_mtu(struct vu_dev *d, struct vu_msg *m, int *fds,
			 unsigned int nfds)
{
	uint64_t mtu = m->p.u64;

	(void)fds; (void)nfds;
	/* virtio 1.2, 5.1.4.1: at least 68. */
	if (mtu < 68 || mtu > 9000) {
		set_error(d, "NET_SET_MTU: %llu out of 68..9000",
			  (unsigned long long)mtu);
		return -EINVAL;
	}
	d->mtu = (uint16_t)mtu;
	return 0;
}

static int h_get_max_mem_slots(struct vu_dev *d, struct vu_msg *m, int *fds,
			       unsigned int nfds)
{
	(void)d; (void)fds; (void)nfds;
	m->p.u64 = VU_MAX_MEM_REGIONS;
	return 0;
}

static int h_add_mem_reg(struct vu_dev *d, struct vu_msg *m, int *fds,
			 unsigned int nfds)
{
	struct vu_mem_region r, *same;
	int rc = region_from_wire(d, &m->p.memreg.r, &r);

	if (rc)
		return rc;
	/*
	 * QEMU 7.2 with several queue pairs sends every region once per
	 * queue pair on the one connection (a vhost_dev each, each with its
	 * own shadow table), and removes each once per queue pair too.  An
	 * exact repeat of a mapped region, same file included, is counted,
	 * not mapped again; REM_MEM_REG unmaps when the count drops to 0.
	 */
	same = vu_mem_find(&d->mem, r.gpa, r.size, r.uva);
	if (same && same->mmap_offset == r.mmap_offset && same->refs < UINT32_MAX &&
	    (!d->t->same_backing ||
	     (nfds == 1 && d->t->same_backing(d->tctx, same, fds[0])))) {
		same->refs++;
		d->mem_repeats++;
		return 0;
	}
	rc = vu_mem_check(&d->mem, &r);
	if (rc) {
		set_error(d, "ADD_MEM_REG gpa %#llx size %#llx: %s",
			  (unsigned long long)r.gpa, (unsigned long long)r.size,
			  rc == -ENOSPC ? "no free slot" : "overlaps a region");
		return rc;
	}
	rc = check_bytes(d, &d->mem, &r, "ADD_MEM_REG");
	if (rc)
		return rc;
	rc = d->t->map(d->tctx, &r, take_fd(fds, nfds, 0));
	if (rc) {
		set_error(d, "ADD_MEM_REG: cannot map: %s", strerror(-rc));
		return rc;
	}
	rc = vu_mem_insert(&d->mem, &r);
	if (rc) {
		d->t->unmap(d->tctx, &r);
		return rc;
	}
	rc = log_check(d, &d->mem, vu_dev_logging(d), "ADD_MEM_REG");
	if (rc) {
		struct vu_mem_region gone;

		vu_mem_remove(&d->mem, r.gpa, r.size, r.uva, &gone);
		d->t->unmap(d->tctx, &gone);
	}
	return rc;
}

static int h_rem_mem_reg(struct vu_dev *d, struct vu_msg *m, int *fds,
			 unsigned int nfds)
{
	const struct vu_region_wire *w = &m->p.memreg.r;
	struct vu_mem_region gone;

	struct vu_mem_region *same = vu_mem_find(&d->mem, w->gpa, w->size, w->uva);

	(void)fds; (void)nfds;	/* some frontends send the fd again: closed */
	if (same && same->refs > 1) {
		same->refs--;
		return 0;
	}
	if (vu_mem_remove(&d->mem, w->gpa, w->size, w->uva, &gone)) {
		set_error(d, "REM_MEM_REG gpa %#llx size %#llx: no such region",
			  (unsigned long long)w->gpa, (unsigned long long)w->size);
		return -ENOENT;
	}
	/* Rings must stop pointing into it before it is unmapped. */
	vrings_remap(d);
	d->t->unmap(d->tctx, &gone);
	return 0;
}

/*
 * SET_LOG_BASE (vhost-user spec, with LOG_SHMFD): the log is the bytes
 * [offset, offset + size) of the fd.  It must cover all memory mapped so
 * far (memory added later is checked against it then); it replaces any
 * old log only once mapped, so rings never see a log half set up.  The
 * reply has no payload and cannot say no (QEMU 7.2 reads it only to
 * synchronise), so a refusal drops the connection: going on with no log
 * would let the frontend migrate its guest with stale pages.
 */
static int h_set_log_base(struct vu_dev *d, struct vu_msg *m, int *fds,
			  unsigned int nfds)
{
	uint64_t size = m->p.log.size, off = m->p.log.offset;
	struct vu_mem_region r, old = d->log_region;
	bool had = d->log.bits != NULL;
	int rc;

	if (!d->t->map_log) {
		set_error(d, "SET_LOG_BASE: this transport cannot carry a log");
		return VU_DROP;
	}
	if (size == 0 || size > VU_MAX_LOG_BYTES) {
		set_error(d, "SET_LOG_BASE: size %#llx not in 1..%#llx",
			  (unsigned long long)size,
			  (unsigned long long)VU_MAX_LOG_BYTES);
		return VU_DROP;
	}
	if (off > (uint64_t)INT64_MAX - size) {
		set_error(d, "SET_LOG_BASE: offset %#llx + size %#llx overflows",
			  (unsigned long long)off, (unsigned long long)size);
		return VU_DROP;
	}
	if (!vq_log_covers(size, &d->mem)) {
		set_error(d, "SET_LOG_BASE: %llu bytes do not cover guest memory",
			  (unsigned long long)size);
		return VU_DROP;
	}
	memset(&r, 0, sizeof(r));
	r.size = size;
	r.mmap_offset = off;
	r.refs = 1;
	rc = d->t->map_log(d->tctx, &r, take_fd(fds, nfds, 0));
	if (rc) {
		set_error(d, "SET_LOG_BASE: cannot map the log: %s", strerror(-rc));
		return VU_DROP;
	}
	d->log_region = r;
	d->log.bits = r.hva;
	d->log.len = size;
	if (had)
		d->t->unmap(d->tctx, &old);
	d->log_bases++;
	vlog_rl(&d->rl, VLOG_INFO, "%s: dirty log of %llu bytes", d->name,
		(unsigned long long)size);
	return 0;
}

/*
 * SET_LOG_FD: an eventfd the backend may signal after logging.  QEMU
 * never sends it and reads the log on its own schedule, so the fd is
 * taken and closed.
 */
static int h_set_log_fd(struct vu_dev *d, struct vu_msg *m, int *fds,
			unsigned int nfds)
{
	(void)d; (void)m; (void)fds; (void)nfds;
	return 0;
}

/* SEND_RARP: the MAC of a guest that just migrated here, in bytes 0-5. */
static int h_send_rarp(struct vu_dev *d, struct vu_msg *m, int *fds,
		       unsigned int nfds)
{
	const uint8_t *mac = m->p.raw;
	static const uint8_t zero[6];

	(void)fds; (void)nfds;
	if ((mac[0] & 1) || !memcmp(mac, zero, 6)) {
		set_error(d, "SEND_RARP: %02x:%02x:%02x:%02x:%02x:%02x is not a unicast MAC",
			  mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
		return -EINVAL;
	}
	d->rarps++;
	if (d->hooks && d->hooks->send_rarp)
		d->hooks->send_rarp(d->hooks_arg, mac);
	return 0;
}

/*
 * The table.  Sizes are the payload bytes of the request; an index is
 * checked against nvrings before the handler runs.
 */
static const struct vu_rule vu_rules[VU_REQUEST_MAX] = {
	[VU_GET_FEATURES] = { "GET_FEATURES", h_get_features, 0, 0, 0,
			      RING_NONE, true, -1 },
	[VU_SET_FEATURES] = { "SET_FEATURES", h_set_features, 8, 0, 0,
			      RING_NONE, false, -1 },
	[VU_SET_OWNER] = { "SET_OWNER", h_set_owner, 0, 0, 0, RING_NONE,
			   false, -1 },
	[VU_RESET_OWNER] = { "RESET_OWNER", h_reset_owner, 0, 0, 0, RING_NONE,
			     false, -1 },
	[VU_SET_MEM_TABLE] = { "SET_MEM_TABLE", h_set_mem_table, SIZE_VAR, 1,
			       VU_MEM_TABLE_MAX, RING_NONE, false, -1 },
	[VU_SET_LOG_BASE] = { "SET_LOG_BASE", h_set_log_base, 16, 1, 1,
			      RING_NONE, true, VU_PF_LOG_SHMFD, true },
	[VU_SET_LOG_FD] = { "SET_LOG_FD", h_set_log_fd, 0, 1, 1, RING_NONE,
			    false, VU_PF_LOG_SHMFD },
	[VU_SEND_RARP] = { "SEND_RARP", h_send_rarp, 8, 0, 0, RING_NONE,
			   false, VU_PF_RARP },
	[VU_SET_VRING_NUM] = { "SET_VRING_NUM", h_set_vring_num, 8, 0, 0,
			       RING_STATE, false, -1 },
	[VU_SET_VRING_ADDR] = { "SET_VRING_ADDR", h_set_vring_addr, 40, 0, 0,
				RING_ADDR, false, -1 },
	[VU_SET_VRING_BASE] = { "SET_VRING_BASE", h_set_vring_base, 8, 0, 0,
				RING_STATE, false, -1 },
	[VU_GET_VRING_BASE] = { "GET_VRING_BASE", h_get_vring_base, 8, 0, 0,
				RING_STATE, true, -1 },
	[VU_SET_VRING_KICK] = { "SET_VRING_KICK", h_set_vring_kick, 8, 0, 1,
				RING_FD, false, -1 },
	[VU_SET_VRING_CALL] = { "SET_VRING_CALL", h_set_vring_call, 8, 0, 1,
				RING_FD, false, -1 },
	[VU_SET_VRING_ERR] = { "SET_VRING_ERR", h_set_vring_err, 8, 0, 1,
			       RING_FD, false, -1 },
	[VU_GET_PROTOCOL_FEATURES] = { "GET_PROTOCOL_FEATURES",
				       h_get_protocol_features, 0, 0, 0,
				       RING_NONE, true, -1 },
	[VU_SET_PROTOCOL_FEATURES] = { "SET_PROTOCOL_FEATURES",
				       h_set_protocol_features, 8, 0, 0,
				       RING_NONE, false, -1 },
	[VU_GET_QUEUE_NUM] = { "GET_QUEUE_NUM", h_get_queue_num, 0, 0, 0,
			       RING_NONE, true, VU_PF_MQ },
	[VU_SET_VRING_ENABLE] = { "SET_VRING_ENABLE", h_set_vring_enable, 8,
				  0, 0, RING_STATE, false, -1 },
	[VU_NET_SET_MTU] = { "NET_SET_MTU", h_net_set_mtu, 8, 0, 0, RING_NONE,
			     false, VU_PF_MTU },
	[VU_GET_MAX_MEM_SLOTS] = { "GET_MAX_MEM_SLOTS", h_get_max_mem_slots, 0,
				   0, 0, RING_NONE, true,
				   VU_PF_CONFIGURE_MEM_SLOTS },
	[VU_ADD_MEM_REG] = { "ADD_MEM_REG", h_add_mem_reg, 40, 1, 1, RING_NONE,
			     false, VU_PF_CONFIGURE_MEM_SLOTS },
	[VU_REM_MEM_REG] = { "REM_MEM_REG", h_rem_mem_reg, 40, 0, 1, RING_NONE,
			     false, VU_PF_CONFIGURE_MEM_SLOTS },
};

const char *vu_request_name(uint32_t req)
{
	if (req < VU_REQUEST_MAX && vu_rules[req].name)
		return vu_rules[req].name;
	return "UNKNOWN";
}

static unsigned int ring_index(const struct vu_msg *m, uint8_t kind)
{
	switch (kind) {
	case RING_STATE:
		return m->p.state.index;
	case RING_ADDR:
		return m->p.addr.index;
	case RING_FD:
		return (unsigned int)(m->p.u64 & VU_VRING_IDX_MASK);
	default:
		return 0;
	}
}

/* Framing checks from the table.  0 or VU_DROP with last_error set. */
static int check_frame(struct vu_dev *d, const struct vu_msg *m, size_t len,
		       unsigned int nfds, const struct vu_rule **out)
{
	const struct vu_msg_hdr *h = &m->hdr;
	const struct vu_rule *r;

	if (len < sizeof(*h) || len != sizeof(*h) + h->size) {
		set_error(d, "message of %zu bytes, header says %u + %zu", len,
			  h->size, sizeof(*h));
		return VU_DROP;
	}
	if ((h->flags & VU_VERSION_MASK) != VU_VERSION ||
	    (h->flags & VU_FLAG_REPLY)) {
		set_error(d, "request %u: bad flags %#x", h->request, h->flags);
		return VU_DROP;
	}
	r = h->request < VU_REQUEST_MAX ? &vu_rules[h->request] : NULL;
	if (!r || !r->handler) {
		set_error(d, "unsupported request %u", h->request);
		return VU_DROP;
	}
	if (r->need_proto >= 0 && !((d->proto >> r->need_proto) & 1)) {
		set_error(d, "%s without its protocol feature", r->name);
		return VU_DROP;
	}
	if (r->size != SIZE_VAR && h->size != r->size) {
		set_error(d, "%s: payload %u bytes, must be %u", r->name,
			  h->size, r->size);
		return VU_DROP;
	}
	if (d->t->carries_fds && (nfds < r->min_fds || nfds > r->max_fds)) {
		set_error(d, "%s: %u fds, must be %u..%u", r->name, nfds,
			  r->min_fds, r->max_fds);
		return VU_DROP;
	}
	if (r->ring != RING_NONE && ring_index(m, r->ring) >= d->nvrings) {
		set_error(d, "%s: ring %u, we have %u", r->name,
			  ring_index(m, r->ring), d->nvrings);
		return VU_DROP;
	}
	*out = r;
	return 0;
}

static int send_reply(struct vu_dev *d, struct vu_msg *m, uint32_t size)
{
	int rc;

	m->hdr.flags = VU_VERSION | VU_FLAG_REPLY;
	m->hdr.size = size;
	rc = d->t->send(d->tctx, m, sizeof(m->hdr) + size);
	if (rc) {
		set_error(d, "cannot send reply: %s", strerror(-rc));
		record_error(d, rc);
	}
	return rc;
}

int vu_dev_handle(struct vu_dev *d, struct vu_msg *m, size_t len, int *fds,
		  unsigned int nfds)
{
	const struct vu_rule *r = NULL;
	bool ack;
	int rc;

	d->msgs++;
	d->why[0] = '\0';
	rc = check_frame(d, m, len, nfds, &r);
	if (rc == 0) {
		ack = (m->hdr.flags & VU_FLAG_NEED_REPLY) &&
		      ((d->proto >> VU_PF_REPLY_ACK) & 1);
		rc = r->handler(d, m, fds, nfds);
	}
	close_fds(fds, nfds);
	if (rc == VU_DROP || !r) {
		record_error(d, rc);
		vlog_rl(&d->rl, VLOG_WARN, "%s: dropping the connection: %s", d->name,
			d->last_error);
		return VU_DROP;
	}
	if (rc) {
		/* A frontend may repeat a refused request for ever: rl bounds the log. */
		record_error(d, rc);
		vlog_rl(&d->rl, VLOG_WARN, "%s: %s refused (%llu so far): %s", d->name,
			r->name, (unsigned long long)d->msg_errors, d->last_error);
	} else {
		vlog_debug("%s: %s", d->name, r->name);
	}
	if (r->replies)
		return send_reply(d, m, r->empty_reply ? 0 : 8);
	if (ack) {
		m->p.u64 = rc ? 1 : 0;
		return send_reply(d, m, 8);
	}
	return 0;
}

void vu_dev_disconnect(struct vu_dev *d)
{
	for (unsigned int q = 0; q < d->nvrings; q++) {
		vring_stop(d, q);
		d->t->set_vring_fd(d->tctx, VU_FD_KICK, q, -1);
		d->t->set_vring_fd(d->tctx, VU_FD_CALL, q, -1);
		d->t->set_vring_fd(d->tctx, VU_FD_ERR, q, -1);
		memset(&d->vring[q], 0, sizeof(d->vring[q]));
		changed(d, q);
	}
	unmap_all(d, &d->mem);
	if (d->log.bits)
		d->t->unmap(d->tctx, &d->log_region);
	memset(&d->log, 0, sizeof(d->log));
	memset(&d->log_region, 0, sizeof(d->log_region));
	for (unsigned int q = 0; q < VU_MAX_VRINGS; q++) {
		free(d->logq[q]);
		d->logq[q] = NULL;
	}
	d->features = 0;
	d->proto = 0;
	d->owner = false;
	d->mtu = 0;
}

void vu_dev_init(struct vu_dev *d, const char *name,
		 const struct vu_transport_ops *t, void *tctx,
		 const struct vu_dev_hooks *hooks, void *hooks_arg,
		 uint64_t offered, unsigned int max_qp)
{
	memset(d, 0, sizeof(*d));
	d->name = name;
	d->t = t;
	d->tctx = tctx;
	d->hooks = hooks;
	d->hooks_arg = hooks_arg;
	d->offered = offered | (1ull << VU_F_PROTOCOL_FEATURES);
	d->offered_proto = (1ull << VU_PF_REPLY_ACK) |
			   (1ull << VU_PF_CONFIGURE_MEM_SLOTS) |
			   (1ull << VU_PF_MTU) | (1ull << VU_PF_RARP);
	if (t->map_log) {
		d->offered |= 1ull << VHOST_F_LOG_ALL;
		d->offered_proto |= 1ull << VU_PF_LOG_SHMFD;
	}
	if (max_qp < 1)
		max_qp = 1;
	if (max_qp > VU_MAX_QUEUE_PAIRS)
		max_qp = VU_MAX_QUEUE_PAIRS;
	if (max_qp > 1 || (offered >> VU_F_NET_MQ) & 1)
		d->offered_proto |= 1ull << VU_PF_MQ;
	d->max_qp = max_qp;
	d->nvrings = 2 * max_qp;
	vu_mem_init(&d->mem);
}
