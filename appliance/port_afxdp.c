/* SPDX-License-Identifier: MIT */
/*
 * port_afxdp: the port kind "afxdp", an uplink to a kernel network
 * interface (a NIC, veth or TAP) through an AF_XDP socket on one of its
 * queues (drivers/afxdp), in host mode, without EAL or hugepages.  The
 * port stays in the switch while the interface comes and goes: it is
 * "down" with a reason while the interface is missing, down or cannot be
 * bound, and is bound again when the interface (maybe a new one of the
 * same name) returns.  Link state is looked at every CHECK_MS from the
 * loop's tick, one ioctl, never blocking.  Wire frames are the
 * switch's business (axp checks the descriptors); this file sees names,
 * flags and counters.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "port_kinds.h"
#include "vlog.h"
#ifdef VVU_HAVE_AFXDP
#include "axp.h"
#endif

#define CHECK_NS 200000000ull		/* link and interface: every 200 ms */
#define REOPEN_NS 1000000000ull	/* a failed bind is retried every second */

#ifdef VVU_HAVE_AFXDP

struct port_afxdp {
	struct port base;	/* first: a struct port * is a struct port_afxdp * */
	struct vvu_port_cfg cfg;
	struct axp *x;
	int ioc;		/* a socket for the interface ioctls */
	int watched;		/* the socket fd watched in the loop, or -1 */
	unsigned int ifindex;	/* of the interface bound, 0 when not bound */
	unsigned int mtu;
	bool link;		/* bound, and the interface is up and running */
	bool dirty;		/* link changed since the last sync */
	uint64_t next_check_ns, next_open_ns;
	uint64_t binds, unbinds;
	char why[192];		/* why the port is down, "" when it is up */
};

static struct port_afxdp *pa(const struct port *p)
{
	return (struct port_afxdp *)(uintptr_t)p;
}

static bool afxdp_takes(const struct vvu_port_cfg *c)
{
	return c->afxdp[0] != '\0';
}

static void rx_cb(void *arg, int fd, uint32_t events)
{
	struct port_afxdp *a = arg;

	(void)fd;
	(void)events;
	a->base.env->kicked = true;
}

/* Set why (logged when it changes) and the link state. */
static void set_down(struct port_afxdp *a, const char *why)
{
	if (strcmp(a->why, why) != 0)
		vlog_warn("%s: down: %s", a->base.name, why);
	snprintf(a->why, sizeof(a->why), "%s", why);
	if (a->link)
		a->dirty = true;
	a->link = false;
}

static void unbind(struct port_afxdp *a, const char *why)
{
	if (a->watched >= 0)
		ev_del(a->base.env->ev, a->watched);
	a->watched = -1;
	if (axp_is_open(a->x)) {
		a->unbinds++;
		axp_close(a->x);
	}
	a->ifindex = 0;
	set_down(a, why);
}

static void bind_now(struct port_afxdp *a, unsigned int ifindex, uint64_t now)
{
	char why[128], msg[192];

	a->next_open_ns = now + REOPEN_NS;
	if (axp_open(a->x, a->cfg.afxdp, a->cfg.queue, why, sizeof(why))) {
		snprintf(msg, sizeof(msg), "cannot bind %s queue %u: %s",
			 a->cfg.afxdp, a->cfg.queue, why);
		set_down(a, msg);
		return;
	}
	a->ifindex = ifindex;
	a->binds++;
	a->watched = axp_fd(a->x);
	if (ev_add_et(a->base.env->ev, a->watched, rx_cb, a) < 0) {
		vlog_warn("%s: cannot watch the AF_XDP socket: polling", a->base.name);
		a->watched = -1;
	}
	vlog_info("%s: bound to %s queue %u (%s)", a->base.name, a->cfg.afxdp,
		  a->cfg.queue, axp_zerocopy(a->x) ? "zero-copy" : "copy mode");
}

/*
 * Look at the interface: gone (unbind), new (bind), up or down.  Cheap
 * system calls only; runs every CHECK_NS.
 */
static void check(struct port_afxdp *a, uint64_t now)
{
	unsigned int idx = if_nametoindex(a->cfg.afxdp);
	struct ifreq ifr;
	bool up;
	char msg[96];

	if (idx == 0) {
		if (a->ifindex) {
			snprintf(msg, sizeof(msg), "%s vanished", a->cfg.afxdp);
			unbind(a, msg);
		} else if (!strstr(a->why, "vanished")) {
			snprintf(msg, sizeof(msg), "%s does not exist", a->cfg.afxdp);
			set_down(a, msg);
		}
		return;
	}
	if (a->ifindex && a->ifindex != idx)
		unbind(a, "the interface was replaced");
	if (!a->ifindex) {
		if (now < a->next_open_ns)
			return;
		bind_now(a, idx, now);
		if (!a->ifindex)
			return;
	}
	if (axp_take_error(a->x)) {
		unbind(a, "the AF_XDP socket lost its device");
		return;
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", a->cfg.afxdp);
	if (ioctl(a->ioc, SIOCGIFFLAGS, &ifr) < 0) {
		set_down(a, "cannot read the interface's flags");
		return;
	}
	up = (ifr.ifr_flags & IFF_UP) && (ifr.ifr_flags & IFF_RUNNING);
	if (ioctl(a->ioc, SIOCGIFMTU, &ifr) == 0 && ifr.ifr_mtu > 0)
		a->mtu = (unsigned int)ifr.ifr_mtu;
	if (!up) {
		snprintf(msg, sizeof(msg), "%s is %s", a->cfg.afxdp,
			 (ifr.ifr_flags & IFF_UP) ? "up without carrier" :
			 "administratively down");
		set_down(a, msg);
		return;
	}
	if (!a->link) {
		a->link = true;
		a->dirty = true;
		a->why[0] = '\0';
	}
}

static void afxdp_tick(struct port *p, uint64_t now_ns)
{
	struct port_afxdp *a = pa(p);

	if (now_ns < a->next_check_ns)
		return;
	a->next_check_ns = now_ns + CHECK_NS;
	check(a, now_ns);
}

static bool afxdp_sync(struct port *p, bool *up)
{
	struct port_afxdp *a = pa(p);

	if (!a->dirty)
		return false;
	a->dirty = false;
	*up = a->link;
	return true;
}

static int afxdp_create(struct port_env *env, const struct vvu_port_cfg *c,
			struct port **out, char *err, size_t errlen)
{
	struct port_afxdp *a;
	int rc;

	for (unsigned int i = 0; i < env->reg->n; i++) {
		const struct port *o = env->reg->p[i];

		if (o->cls == &port_afxdp_class &&
		    strcmp(pa(o)->cfg.afxdp, c->afxdp) == 0 &&
		    pa(o)->cfg.queue == c->queue) {
			snprintf(err, errlen, "%s queue %u is in use by port %s",
				 c->afxdp, c->queue, o->name);
			return -EADDRINUSE;
		}
	}
	a = calloc(1, sizeof(*a));
	if (!a || !(a->x = axp_new())) {
		free(a);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	port_init(&a->base, &port_afxdp_class, env, c->name, 1);
	a->cfg = *c;
	a->watched = -1;
	a->ioc = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	snprintf(a->why, sizeof(a->why), "not bound yet");
	rc = a->ioc < 0 ? -errno : port_reg_add(env->reg, &a->base);
	if (rc) {
		snprintf(err, errlen, rc == -EEXIST ? "port %s exists" :
			 "port %s: %s", c->name, strerror(-rc));
		if (a->ioc >= 0)
			close(a->ioc);
		axp_free(a->x);
		free(a);
		return rc;
	}
	rc = port_attach_ops(&a->base, &axp_port_ops, a->x);
	if (rc) {
		snprintf(err, errlen, "%s: %s", c->name, strerror(-rc));
		port_destroy(&a->base);
		return rc;
	}
	check(a, ev_now_ns());
	a->next_check_ns = ev_now_ns() + CHECK_NS;
	vlog_info("%s: AF_XDP uplink on %s queue %u%s%s", a->base.name, c->afxdp,
		  c->queue, a->link ? "" : ", down: ", a->link ? "" : a->why);
	*out = &a->base;
	return 0;
}

static void afxdp_describe(const struct port *p, struct port_snap *s)
{
	struct port_afxdp *a = pa(p);
	const struct axp_stats *st = axp_stats(a->x);

	snprintf(s->mode, sizeof(s->mode), "%s", !axp_is_open(a->x) ? "-" :
		 axp_zerocopy(a->x) ? "zerocopy" : "copy");
	s->where_key = "interface";
	snprintf(s->where, sizeof(s->where), "%s,queue=%u", a->cfg.afxdp,
		 a->cfg.queue);
	snprintf(s->connection, sizeof(s->connection), "%s",
		 axp_is_open(a->x) ? "bound" : "unbound");
	snprintf(s->last_error, sizeof(s->last_error), "%s", a->why);
	s->connects = a->binds;
	s->disconnects = a->unbinds;
	s->mtu = a->mtu;
	s->live_rx = s->live_tx = axp_is_open(a->x) ? 1 : 0;
	s->rx_too_big = st->tx_too_big;
	s->rx_no_buffer = st->tx_no_room;
	s->extra[s->nextra].key = "xdp_rx_dropped";
	s->extra[s->nextra++].v = st->k_rx_dropped;
	s->extra[s->nextra].key = "xdp_rx_ring_full";
	s->extra[s->nextra++].v = st->k_rx_ring_full;
	s->extra[s->nextra].key = "xdp_fill_empty";
	s->extra[s->nextra++].v = st->k_fill_empty;
	s->extra[s->nextra].key = "xdp_invalid_descs";
	s->extra[s->nextra++].v = st->k_rx_invalid + st->k_tx_invalid + st->rx_bad_desc;
	s->extra[s->nextra].key = "xdp_wakeups";
	s->extra[s->nextra++].v = st->wakeups;
	s->extra[s->nextra].key = "xdp_wakeup_errors";
	s->extra[s->nextra++].v = st->wakeup_errors;
	port_snap_offload(s, axp_off_stats(a->x));
}

static void afxdp_clear_stats(struct port *p)
{
	axp_clear_stats(pa(p)->x);
}

static void afxdp_close(struct port *p)
{
	struct port_afxdp *a = pa(p);

	if (a->watched >= 0)
		ev_del(a->base.env->ev, a->watched);
	axp_free(a->x);
	if (a->ioc >= 0)
		close(a->ioc);
	free(a);
}

#else /* !VVU_HAVE_AFXDP */

static bool afxdp_takes(const struct vvu_port_cfg *c)
{
	return c->afxdp[0] != '\0';
}

static int afxdp_create(struct port_env *env, const struct vvu_port_cfg *c,
			struct port **out, char *err, size_t errlen)
{
	(void)env;
	(void)out;
	snprintf(err, errlen, "%s: afxdp ports: %s", c->name, VVU_NO_AFXDP_REASON);
	return -ENOTSUP;
}

static void afxdp_describe(const struct port *p, struct port_snap *s)
{
	(void)p;
	(void)s;
}

static void afxdp_close(struct port *p)
{
	(void)p;
}

#define afxdp_clear_stats NULL

static void afxdp_tick(struct port *p, uint64_t now_ns)
{
	(void)p;
	(void)now_ns;
}

static bool afxdp_sync(struct port *p, bool *up)
{
	(void)p;
	(void)up;
	return false;
}

#endif

static int afxdp_start(struct port_env *env)
{
	for (unsigned int i = 0; i < env->cfg->nports; i++) {
		struct port *p;
		char err[256];
		int rc;

		if (!afxdp_takes(&env->cfg->ports[i]))
			continue;
		rc = afxdp_create(env, &env->cfg->ports[i], &p, err, sizeof(err));
		if (rc) {
			vlog_err("%s", err);
			return rc;
		}
	}
	return 0;
}

static bool afxdp_deletable(const struct port *p, char *err, size_t errlen)
{
	(void)p;
	(void)err;
	(void)errlen;
	return true;
}

/* Up, or "down" (the reason is the port's last error). */
static const char *afxdp_state(const struct port *p)
{
	return p->up ? NULL : "down";
}

const struct port_class port_afxdp_class = {
	.kind = "afxdp",
	.start = afxdp_start,
	.takes = afxdp_takes,
	.create = afxdp_create,
	.deletable = afxdp_deletable,
	.state = afxdp_state,
	.describe = afxdp_describe,
	.clear_stats = afxdp_clear_stats,
	.tick = afxdp_tick,
	.sync = afxdp_sync,
	.close = afxdp_close,
};
