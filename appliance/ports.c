/* SPDX-License-Identifier: MIT */
/*
 * ports: the registry and what every port kind shares: a port's switch
 * attachment, its link state, the fds watched for its kind, and its
 * snapshot.  Kind-specific work is behind struct port_class; nothing
 * here asks which kind a port is.  It trusts the kinds; the datapath's
 * fields it reads (vu_net, vu_dev) were validated below it.
 */
#include "ports.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "l2.h"
#include "vlog.h"
#include "vu_net.h"

void port_init(struct port *p, const struct port_class *cls,
	       struct port_env *env, const char *name, unsigned int queues)
{
	p->cls = cls;
	p->env = env;
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->net = NULL;
	p->id = -1;
	p->queues = queues;
	p->up = false;
	p->nfds = 0;
}

/* ---- registry ---- */

struct port *port_reg_find(const struct port_registry *r, const char *name)
{
	for (unsigned int i = 0; i < r->n; i++)
		if (strcmp(r->p[i]->name, name) == 0)
			return r->p[i];
	return NULL;
}

int port_reg_add(struct port_registry *r, struct port *p)
{
	if (port_reg_find(r, p->name))
		return -EEXIST;
	if (r->n >= SW_MAX_PORTS)
		return -ENOSPC;
	r->p[r->n++] = p;
	return 0;
}

void port_reg_remove(struct port_registry *r, struct port *p)
{
	for (unsigned int i = 0; i < r->n; i++) {
		if (r->p[i] == p) {
			r->n--;
			memmove(&r->p[i], &r->p[i + 1],
				(r->n - i) * sizeof(struct port *));
			return;
		}
	}
}

/* ---- attachment and link ---- */

static void fd_cb(void *arg, int fd, uint32_t events)
{
	struct port *p = arg;

	(void)fd;
	(void)events;
	p->env->kicked = true;
}

int port_attach(struct port *p, struct vu_net *net)
{
	int rc = port_attach_ops(p, &vu_net_port_ops, net);

	if (rc == 0)
		p->net = net;
	return rc;
}

int port_attach_ops(struct port *p, const struct sw_port_ops *ops, void *ctx)
{
	int id = sw_port_add(p->env->sw, p->name, ops, ctx);

	if (id < 0)
		return id;
	p->id = id;
	l2_port_attached(p->env->sw, p->env->cfg, p->name, id);
	p->nfds = p->cls->fds ? p->cls->fds(p, p->fds, PORT_FDS_MAX) : 0;
	for (unsigned int i = 0; i < p->nfds; i++)
		if (ev_add_et(p->env->ev, p->fds[i], fd_cb, p) < 0)
			vlog_warn("%s: cannot watch fd %d: polling", p->name,
				  p->fds[i]);
	return 0;
}

void port_detach(struct port *p)
{
	port_set_up(p, false);
	for (unsigned int i = 0; i < p->nfds; i++)
		ev_del(p->env->ev, p->fds[i]);
	p->nfds = 0;
	if (p->id >= 0)
		sw_port_remove(p->env->sw, p->id);
	p->id = -1;
	p->net = NULL;
}

void port_destroy(struct port *p)
{
	port_detach(p);
	port_reg_remove(p->env->reg, p);
	p->cls->close(p);
}

void port_set_up(struct port *p, bool up)
{
	if (up == p->up)
		return;
	p->up = up;
	if (p->id >= 0)
		sw_port_set_up(p->env->sw, p->id, up);
	if (p->net) {
		vlog_rl(&p->net->dev.rl, VLOG_INFO, "%s: link %s", p->name,
			up ? "up" : "down");
		/* New rings start with kicks on; while we poll, keep them off. */
		if (up)
			vu_net_set_kicks(p->net, !p->env->busy);
	} else {
		vlog_info("%s: link %s", p->name, up ? "up" : "down");
	}
}

void port_sync(struct port *p)
{
	bool up = false;

	if (p->cls->sync(p, &up))
		port_set_up(p, up && p->id >= 0);
}

unsigned int port_arm_kicks(struct port *p, bool on)
{
	return p->up && p->net ? vu_net_set_kicks(p->net, on) : 0;
}

void port_clear_stats(struct port *p)
{
	if (p->id >= 0)
		sw_port_stats_clear(p->env->sw, p->id);
	if (p->net)
		memset(&p->net->st, 0, sizeof(p->net->st));
	if (p->cls->clear_stats)
		p->cls->clear_stats(p);
}

/* ---- snapshot ---- */

static void features_str(char *buf, size_t n, const struct vu_dev *dev)
{
	static const struct { int bit; const char *name; } names[] = {
		{ VU_F_VERSION_1, "version_1" }, { VU_F_NET_MRG_RXBUF, "mrg_rxbuf" },
		{ VU_F_RING_EVENT_IDX, "event_idx" },
		{ VU_F_RING_INDIRECT_DESC, "indirect_desc" },
		{ VU_F_NET_MQ, "mq" }, { VU_F_NET_MTU, "mtu" },
		{ VU_F_NET_STATUS, "status" }, { VU_F_RING_PACKED, "ring_packed" },
		{ VU_F_NET_GUEST_ANNOUNCE, "guest_announce" },
		{ VU_F_IN_ORDER, "in_order" },
		{ VHOST_F_LOG_ALL, "log_all" },	/* dirty logging: a migration runs */
	};
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!vu_has_feature(dev, (unsigned int)names[i].bit))
			continue;
		len += (size_t)snprintf(buf + len, len < n ? n - len : 0, "%s%s",
					len ? "," : "", names[i].name);
	}
}

static void offloads_str(char *buf, size_t n, const struct vu_dev *dev)
{
	static const struct { int bit; const char *name; } names[] = {
		{ VNET_F_CSUM, "csum" }, { VNET_F_GUEST_CSUM, "guest_csum" },
		{ VNET_F_HOST_TSO4, "host_tso4" }, { VNET_F_HOST_TSO6, "host_tso6" },
		{ VNET_F_HOST_ECN, "host_ecn" }, { VNET_F_HOST_USO, "host_uso" },
		{ VNET_F_GUEST_TSO4, "guest_tso4" }, { VNET_F_GUEST_TSO6, "guest_tso6" },
		{ VNET_F_GUEST_ECN, "guest_ecn" }, { VNET_F_GUEST_USO4, "guest_uso4" },
		{ VNET_F_GUEST_USO6, "guest_uso6" },
	};
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!vu_has_feature(dev, (unsigned int)names[i].bit))
			continue;
		len += (size_t)snprintf(buf + len, len < n ? n - len : 0, "%s%s",
					len ? "," : "", names[i].name);
	}
}

void port_snap_offload(struct port_snap *s, const struct off_stats *o)
{
	memcpy(s->off_bad, o->bad, sizeof(s->off_bad));
	s->off_in_csum = o->in_csum;
	s->off_in_gso = o->in_gso;
	s->off_passed = o->out_passed;
	s->off_sw_csum = o->out_sw_csum;
	s->off_sw_gso = o->out_sw_gso;
	s->off_segs = o->out_segs;
	s->off_seg_lost = o->out_seg_lost;
	s->off_changed = o->out_changed;
}

static void snap_offload(const struct vu_net *net, struct port_snap *s)
{
	offloads_str(s->offloads, sizeof(s->offloads), &net->dev);
	port_snap_offload(s, &net->st.off);
}

static void snap_net(const struct vu_net *net, struct port_snap *s)
{
	const struct vu_dev *dev = &net->dev;

	s->broken = net->broken;
	snprintf(s->reason, sizeof(s->reason), "%s", net->broken ? net->why : "");
	s->live_rx = net->n_live_rx;
	s->live_tx = net->n_live_tx;
	s->mtu = dev->mtu;
	features_str(s->features, sizeof(s->features), dev);
	snprintf(s->protocol_error, sizeof(s->protocol_error), "%s", dev->last_error);
	s->vdrop[SNAP_VDROP_OVERSIZE] = net->st.tx_oversize;
	s->vdrop[SNAP_VDROP_RUNT] = net->st.tx_runt;
	s->vdrop[SNAP_VDROP_TOO_MANY_SEGS] = net->st.tx_too_many_segs;
	s->rx_no_buffer = net->st.rx_no_buffer;
	s->rx_too_big = net->st.rx_too_big;
	s->calls = net->calls;
	s->messages = dev->msgs;
	s->message_errors = dev->msg_errors;
	snap_offload(net, s);
}

#ifdef VQ_LINE_COUNT
/* The peer's cache lines its rings touched, by kind (vq_lines.c). */
static void snap_lines(const struct vu_net *net, struct port_snap *s)
{
	static const char *const key[VQ_LINE_KINDS] = {
		[VQ_LINE_DESC] = "lines_desc", [VQ_LINE_AVAIL] = "lines_avail",
		[VQ_LINE_IDX] = "lines_idx", [VQ_LINE_USED] = "lines_used",
		[VQ_LINE_EVENT] = "lines_event", [VQ_LINE_BUF] = "lines_buf",
	};

	for (unsigned int k = 0; k < VQ_LINE_KINDS && s->nextra < SNAP_EXTRA_MAX; k++) {
		uint64_t v = 0;

		for (unsigned int q = 0; q < 2 * (unsigned int)net->dev.max_qp; q++)
			v += net->dev.vring[q].vq.lc.lines[k];
		s->extra[s->nextra].key = key[k];
		s->extra[s->nextra++].v = v;
	}
}
#endif

void port_snapshot(const struct port *p, struct port_snap *s)
{
	const char *st;

	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", p->name);
	s->kind = p->cls->kind;
	s->where_key = "socket";
	s->up = p->up;
	s->runtime = p->runtime;
	s->queues = p->queues;
	if (p->net)
		snap_net(p->net, s);
	p->cls->describe(p, s);
#ifdef VQ_LINE_COUNT
	if (p->net)
		snap_lines(p->net, s);
#endif
	if (!s->last_error[0])
		snprintf(s->last_error, sizeof(s->last_error), "%s",
			 s->protocol_error);
	st = p->cls->state(p);
	if (!st)
		st = s->broken ? "broken" : p->up ? "up" : "negotiating";
	snprintf(s->state, sizeof(s->state), "%s", st);
	if (!s->connection[0])
		snprintf(s->connection, sizeof(s->connection), "%s", s->state);
	if (p->id >= 0) {
		s->sw = *sw_port_stats(p->env->sw, p->id);
		s->macs = sw_mac_count_port(p->env->sw, p->id);
	}
	l2_vlan_str(p->env->sw, p->id, s->vlan, sizeof(s->vlan));
}
