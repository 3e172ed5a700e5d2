/* SPDX-License-Identifier: MIT */
/*
 * port_vxlan: the port kind "vxlan", a VXLAN tunnel (RFC 7348) to a list
 * of remote VTEPs over the host's UDP/IP stack, flood-and-learn like
 * Linux's vxlan device: a frame for a MAC learned behind one remote goes
 * to that remote, anything else (broadcast, multicast, unknown unicast)
 * is replicated to every remote (head-end replication).  One non-blocking
 * UDP socket bound to vxlan-local, read with recvmmsg and written with
 * sendmmsg from the poll loop; the kernel routes the datagrams over
 * whatever interface leads to the remotes.
 *
 * vxlan-vlans maps VLANs to VNIs, like a Linux bridge's per-VLAN tunnel
 * mapping (bridge vlan ... tunnel_info id VNI): the port is a trunk of
 * those VLANs to the switch, a frame of VLAN v leaves untagged in v's
 * VNI, a datagram in that VNI comes in tagged v (the tag written in
 * place, vxlan_tag_inner), and the port's own `vxlan` VNI carries its
 * untagged (native VLAN) frames.  The remote-MAC table is one for all
 * the port's VNIs: a MAC is expected behind one VTEP.
 *
 * Trust: datagrams are network input.  Only the remotes' addresses are
 * accepted (others are counted as vxlan_unknown_vtep), and vxlan_decap
 * (drivers/vxlan) checks the header and VNI before the inner frame goes
 * to the switch; every refusal is counted by reason.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "port_kinds.h"
#include "vlog.h"
#include "vxlan_dp.h"

#define RETRY_NS 1000000000ull		/* a failed bind: again every second */

_Static_assert(VXLAN_DP_VMAP_MAX == VVU_VXLAN_VLANS_MAX, "vxlan-vlans bound");

struct port_vxlan {
	struct port base;	/* first: a struct port * is a struct port_vxlan * */
	struct vvu_port_cfg cfg;
	int fd;
	bool bound;
	bool dirty;
	uint64_t next_try_ns;
	struct sockaddr_in local;
	char why[160];
	struct vxlan_dp dp;	/* the datapath: everything but the socket */
};

static struct port_vxlan *px(const struct port *p)
{
	return (struct port_vxlan *)(uintptr_t)p;
}

/* ---- the datapath: struct sw_port_ops over vxlan_dp ---- */

static unsigned int vx_recv(void *ctx, struct sw_frame *f, unsigned int n)
{
	struct port_vxlan *x = ctx;
	int got;

	if (!x->bound)
		return 0;
	n = vxlan_dp_rx_prep(&x->dp, n, ev_now_ns());
	got = recvmmsg(x->fd, x->dp.rmsg, n, MSG_DONTWAIT, NULL);
	if (got <= 0)
		return 0;
	return vxlan_dp_rx(&x->dp, (unsigned int)got, f);
}

static void vx_recv_done(void *ctx)
{
	(void)ctx;
}

/* Send what waits; what the socket refuses now is dropped and counted. */
static void tx_push(struct vxlan_dp *d, void *arg)
{
	struct port_vxlan *x = arg;
	unsigned int done = 0;

	while (done < d->ntmsg) {
		int r = sendmmsg(x->fd, d->tmsg + done, d->ntmsg - done, MSG_DONTWAIT);

		if (r <= 0) {
			d->tx_dropped += d->ntmsg - done;
			break;
		}
		done += (unsigned int)r;
	}
	d->ntmsg = d->ntbuf = 0;
}

static int vx_send(void *ctx, const struct sw_frame *f)
{
	struct port_vxlan *x = ctx;

	if (!x->bound)
		return -EIO;
	return vxlan_dp_send(&x->dp, f);
}

static void vx_flush(void *ctx)
{
	struct port_vxlan *x = ctx;

	if (x->bound && x->dp.ntmsg)
		tx_push(&x->dp, x);
}

static const struct sw_port_ops vxlan_port_ops = {
	.recv = vx_recv,
	.recv_done = vx_recv_done,
	.send = vx_send,
	.flush = vx_flush,
};

/* ---- set-up ---- */

static void rx_cb(void *arg, int fd, uint32_t events)
{
	struct port_vxlan *x = arg;

	(void)fd;
	(void)events;
	x->base.env->kicked = true;
}

/* Parse "IPv4[:port]" (checked by the config already) into a. */
static int parse_addr(const char *s, size_t len, struct sockaddr_in *a)
{
	char buf[VVU_VXLAN_ADDR_LEN];
	char *colon;

	if (len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_port = htons(VXLAN_PORT);
	colon = strchr(buf, ':');
	if (colon) {
		char *end;
		long port;

		*colon = '\0';
		port = strtol(colon + 1, &end, 10);
		if (*end || port < 1 || port > 65535)
			return -EINVAL;
		a->sin_port = htons((uint16_t)port);
	}
	return inet_pton(AF_INET, buf, &a->sin_addr) == 1 ? 0 : -EINVAL;
}

static int parse_remotes(struct port_vxlan *x)
{
	const char *s = x->cfg.vxlan_remotes;

	x->dp.nremote = 0;
	while (*s && x->dp.nremote < VXLAN_REMOTES_MAX) {
		size_t len = strcspn(s, ",+");
		size_t l = len;

		while (*s == ' ' && l) {
			s++;
			l--;
			len--;
		}
		while (l && s[l - 1] == ' ')
			l--;
		if (parse_addr(s, l, &x->dp.remote[x->dp.nremote]))
			return -EINVAL;
		/* Remotes listen where we do. */
		x->dp.remote[x->dp.nremote++].sin_port = x->local.sin_port;
		s += len;
		if (*s)
			s++;
	}
	return x->dp.nremote ? 0 : -EINVAL;
}

static void try_bind(struct port_vxlan *x, uint64_t now)
{
	int fd, one = 1, rcv = 4 << 20;
	char why[160];

	x->next_try_ns = now + RETRY_NS;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(why, sizeof(why), "socket: %s", strerror(errno));
		goto fail;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	if (bind(fd, (const struct sockaddr *)&x->local, sizeof(x->local)) < 0) {
		snprintf(why, sizeof(why), "cannot bind %s: %s", x->cfg.vxlan_local,
			 strerror(errno));
		close(fd);
		goto fail;
	}
	x->fd = fd;
	x->bound = true;
	x->dirty = true;
	x->why[0] = '\0';
	if (ev_add_et(x->base.env->ev, fd, rx_cb, x) < 0)
		vlog_warn("%s: cannot watch the UDP socket: polling", x->base.name);
	vlog_info("%s: VXLAN VNI %u on %s, %u remote VTEP(s), %u VLAN(s) mapped to "
		  "VNIs", x->base.name, x->cfg.vni, x->cfg.vxlan_local, x->dp.nremote,
		  x->cfg.nvxlan_vlans);
	return;
fail:
	if (strcmp(x->why, why) != 0)
		vlog_warn("%s: down: %s", x->base.name, why);
	snprintf(x->why, sizeof(x->why), "%s", why);
}

static bool vxlan_takes(const struct vvu_port_cfg *c)
{
	return c->vxlan;
}

static int vxlan_create(struct port_env *env, const struct vvu_port_cfg *c,
			struct port **out, char *err, size_t errlen)
{
	struct port_vxlan *x = calloc(1, sizeof(*x));
	int rc;

	if (!x) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	port_init(&x->base, &port_vxlan_class, env, c->name, 1);
	x->cfg = *c;
	x->fd = -1;
	snprintf(x->why, sizeof(x->why), "not bound yet");
	vxlan_fdb_init(&x->dp.fdb, (uint64_t)env->cfg->sw.ageing_s * 1000000000ull);
	x->dp.vni = c->vni;
	x->dp.nvmap = c->nvxlan_vlans;
	for (unsigned int i = 0; i < c->nvxlan_vlans; i++) {
		x->dp.vmap[i].vid = c->vxlan_vlans[i].vid;
		x->dp.vmap[i].vni = c->vxlan_vlans[i].vni;
	}
	x->dp.push = tx_push;
	x->dp.push_arg = x;
	if (parse_addr(c->vxlan_local, strlen(c->vxlan_local), &x->local) ||
	    parse_remotes(x)) {
		snprintf(err, errlen, "%s: bad vxlan-local or vxlan-remotes", c->name);
		free(x);
		return -EINVAL;
	}
	rc = port_reg_add(env->reg, &x->base);
	if (rc) {
		snprintf(err, errlen, rc == -EEXIST ? "port %s exists" :
			 "port %s: no room for another port", c->name);
		free(x);
		return rc;
	}
	rc = port_attach_ops(&x->base, &vxlan_port_ops, x);
	if (rc) {
		snprintf(err, errlen, "%s: %s", c->name, strerror(-rc));
		port_destroy(&x->base);
		return rc;
	}
	try_bind(x, ev_now_ns());
	*out = &x->base;
	return 0;
}

static int vxlan_start(struct port_env *env)
{
	for (unsigned int i = 0; i < env->cfg->nports; i++) {
		struct port *p;
		char err[256];
		int rc;

		if (!vxlan_takes(&env->cfg->ports[i]))
			continue;
		rc = vxlan_create(env, &env->cfg->ports[i], &p, err, sizeof(err));
		if (rc) {
			vlog_err("%s", err);
			return rc;
		}
	}
	return 0;
}

static void vxlan_tick(struct port *p, uint64_t now_ns)
{
	struct port_vxlan *x = px(p);

	if (!x->bound && now_ns >= x->next_try_ns)
		try_bind(x, now_ns);
}

static bool vxlan_sync(struct port *p, bool *up)
{
	struct port_vxlan *x = px(p);

	if (!x->dirty)
		return false;
	x->dirty = false;
	*up = x->bound;
	return true;
}

static const char *vxlan_state(const struct port *p)
{
	return p->up ? NULL : "down";
}

static bool vxlan_deletable(const struct port *p, char *err, size_t errlen)
{
	(void)p;
	(void)err;
	(void)errlen;
	return true;
}

static void vxlan_describe(const struct port *p, struct port_snap *s)
{
	const struct port_vxlan *x = px(p);
	static const enum vxlan_verdict shown[] = {
		VXLAN_TOO_SHORT, VXLAN_BAD_FLAGS, VXLAN_BAD_VNI, VXLAN_UNKNOWN_VTEP,
	};

	snprintf(s->mode, sizeof(s->mode), "vni %u", x->cfg.vni);
	s->where_key = "vxlan";
	snprintf(s->where, sizeof(s->where), "%.23s -> %.80s", x->cfg.vxlan_local,
		 x->cfg.vxlan_remotes);
	snprintf(s->connection, sizeof(s->connection), "%s",
		 x->bound ? "bound" : "unbound");
	snprintf(s->last_error, sizeof(s->last_error), "%s", x->why);
	s->live_rx = s->live_tx = x->bound ? 1 : 0;
	s->rx_no_buffer = x->dp.tx_dropped;
	s->rx_too_big = x->dp.tx_too_big;
	for (size_t i = 0; i < sizeof(shown) / sizeof(shown[0]); i++) {
		s->extra[s->nextra].key = vxlan_verdict_names[shown[i]];
		s->extra[s->nextra++].v = x->dp.drops[shown[i]];
	}
	s->extra[s->nextra].key = "vxlan_truncated";
	s->extra[s->nextra++].v = x->dp.rx_truncated;
	s->extra[s->nextra].key = "vxlan_replicas";
	s->extra[s->nextra++].v = x->dp.tx_replicas;
	if (x->cfg.nvxlan_vlans) {
		size_t len = (size_t)snprintf(s->features, sizeof(s->features),
					      "vlan:vni");

		for (unsigned int i = 0; i < x->cfg.nvxlan_vlans &&
		     len < sizeof(s->features); i++)
			len += (size_t)snprintf(s->features + len,
						sizeof(s->features) - len, "%s%u:%u",
						i ? "," : " ", x->cfg.vxlan_vlans[i].vid,
						x->cfg.vxlan_vlans[i].vni);
		s->extra[s->nextra].key = "vxlan_tx_unmapped";
		s->extra[s->nextra++].v = x->dp.tx_unmapped;
	}
	port_snap_offload(s, &x->dp.ost);
}

/* "the VTEP mac is behind", for `mac`. */
static bool vxlan_mac_note(const struct port *p, const uint8_t *mac, char *buf,
			   size_t n)
{
	const struct port_vxlan *x = px(p);
	int r = vxlan_fdb_lookup(&x->dp.fdb, mac, ev_now_ns());

	if (r < 0 || !inet_ntop(AF_INET, &x->dp.remote[r].sin_addr, buf, (socklen_t)n))
		return false;
	return true;
}

static void vxlan_clear_stats(struct port *p)
{
	vxlan_dp_clear_stats(&px(p)->dp);
}

static void vxlan_close(struct port *p)
{
	struct port_vxlan *x = px(p);

	if (x->fd >= 0) {
		ev_del(x->base.env->ev, x->fd);
		close(x->fd);
	}
	free(x);
}

const struct port_class port_vxlan_class = {
	.kind = "vxlan",
	.start = vxlan_start,
	.takes = vxlan_takes,
	.create = vxlan_create,
	.deletable = vxlan_deletable,
	.state = vxlan_state,
	.describe = vxlan_describe,
	.clear_stats = vxlan_clear_stats,
	.tick = vxlan_tick,
	.sync = vxlan_sync,
	.mac_note = vxlan_mac_note,
	.close = vxlan_close,
};
