/* SPDX-License-Identifier: MIT */
/*
 * daemon: the switch's main loop.  It owns the event loop, the switch, one
 * port per vhost-user UNIX socket (host mode) and one per virtio-vhost-user
 * PCI device (inside a switch VM, through daemon_vvu and DPDK), answers
 * control requests on a socket and/or a character device, and decides when
 * to busy-poll and when to sleep on the peers' kicks.  Peer input never
 * reaches this file unvalidated: it sees only port states and counters.
 */
#include "daemon.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ctl.h"
#include "daemon_vvu.h"
#include "vlog.h"
#include "vu_net.h"
#include "vut.h"
#include "vvu_port.h"

#define SLEEP_MS 100		/* longest sleep: reconnect timers */
#define VVU_TICK_MS 10		/* vvu ports: service at least this often */
#define EVENTS_EVERY 64		/* busy rounds between event-loop checks */
#define RESCAN_NS 1000000000ull	/* look for new PCI devices this often */
#define STREAM_RETRY_NS 1000000000ull
#define STREAM_OUT_MAX (4u << 20)	/* answers buffered for the device */
#define STREAM_STALL_NS 2000000000ull	/* host not reading: drop answers */
#define GONE_NS 5000000000ull	/* do not re-probe a detached device this soon */
#define REPORT_NS 1000000000ull	/* log new ingress drops this often */
#define VVU_SERVICE_BUDGET 32
#define VVU_MAX_FDS 12
#define SYSFS_PCI "/sys/bus/pci"

enum port_kind { PORT_UNIX, PORT_VVU };

struct port {
	enum port_kind kind;
	char name[VVU_NAME_MAX];
	struct vu_net *net;	/* the datapath: &unet, or &vp->net */
	int id;			/* switch port id, -1 while a device is absent */
	unsigned int queues;	/* queue pairs offered */
	bool up;
	/* PORT_UNIX */
	struct vvu_port_cfg cfg;
	struct vu_net unet;
	struct vut_port vut;
	/* PORT_VVU */
	char bdf[VVU_BDF_LEN];
	struct vvu_port *vp;	/* NULL while the device is absent */
	bool discovered;	/* found by vvu=auto: forgotten when removed */
	bool failed;		/* could not be opened: not retried */
	char error[192];	/* why it is absent or failed */
	int fds[VVU_MAX_FDS];
	unsigned int nfds;
	uint64_t attaches, detaches;
	uint64_t connects0, disconnects0; /* counts of earlier devices */
};

struct daemon {
	struct vvu_config cfg;
	struct ev_loop *ev;
	struct sw *sw;
	struct ctl_server *ctl, *ctl_stream;
	struct port *ports[SW_MAX_PORTS];
	unsigned int nports;
	int sig_fd;
	int stream_fd;		/* the character device */
	int pair_fd;		/* our end of the socketpair ctl serves */
	int stream_pair_ctl;	/* ctl's end */
	bool stream_logged, stream_used;
	bool stream_host_up;	/* an EAGAIN read showed the host connected */
	uint64_t stream_retry_at;
	char *out;		/* answers waiting for the device */
	size_t out_len, out_off;
	uint64_t out_since;	/* when the device last took bytes */
	bool stop;
	bool busy;
	bool vvu;		/* EAL is up: vvu ports possible */
	bool vvu_kicked;	/* a vvu fd fired: service the ports now */
	uint64_t next_vvu_ns, next_scan_ns, next_report_ns;
	/* Devices detached lately: the kernel is still removing them. */
	struct { char bdf[VVU_BDF_LEN]; uint64_t at; } gone[8];
	unsigned int next_gone;
	uint64_t started_ns;
	uint64_t sleeps, wakeups, polls, empty_polls;
	char config_error[256];
};

static void set_up(struct daemon *d, struct port *p, bool up)
{
	if (up == p->up)
		return;
	p->up = up;
	if (p->id >= 0)
		sw_port_set_up(d->sw, p->id, up);
	vlog_rl(&p->net->dev.rl, VLOG_INFO, "%s: link %s", p->name, up ? "up" : "down");
	/* New rings start with kicks on; while we poll, keep them off. */
	if (up)
		vu_net_set_kicks(p->net, !d->busy);
}

static void sync_port(struct daemon *d, struct port *p)
{
	if (p->kind == PORT_VVU) {
		if (!p->vp)
			return;
		if (!p->vp->state_dirty && !p->net->state_dirty)
			return;
		p->vp->state_dirty = p->net->state_dirty = false;
		set_up(d, p, p->vp->state == VVU_ST_SERVING &&
		       vu_net_running(p->net));
		return;
	}
	if (vut_take_fault(&p->vut))
		vut_drop(&p->vut, "peer memory vanished under us (SIGBUS)");
	if (!p->vut.state_dirty && !p->net->state_dirty)
		return;
	p->vut.state_dirty = p->net->state_dirty = false;
	set_up(d, p, p->vut.state == VUT_CONNECTED && vu_net_running(p->net));
}

static void service_vvu(struct daemon *d)
{
	for (unsigned int i = 0; i < d->nports; i++) {
		struct port *p = d->ports[i];

		/*
		 * One budget per port per pass: a frontend that never stops
		 * sending must not hold the loop.  Its backlog waits for the
		 * next pass, after a datapath round.
		 */
		if (p->kind == PORT_VVU && p->vp &&
		    dvvu_port_service(p->vp, VVU_SERVICE_BUDGET) == VVU_SERVICE_BUDGET)
			d->vvu_kicked = true;
	}
}

static void vvu_housekeeping(struct daemon *d, uint64_t now);

static void stream_flush(struct daemon *d, uint64_t now);

static void sync_ports(struct daemon *d, uint64_t now)
{
	if (d->out_len > d->out_off)
		stream_flush(d, now);	/* control answers the device refused */
	if (d->vvu && (d->vvu_kicked || now >= d->next_vvu_ns)) {
		d->vvu_kicked = false;
		d->next_vvu_ns = now + VVU_TICK_MS * 1000000ull;
		service_vvu(d);
		vvu_housekeeping(d, now);
	}
	for (unsigned int i = 0; i < d->nports; i++) {
		if (d->ports[i]->kind == PORT_UNIX)
			vut_tick(&d->ports[i]->vut, now);
		sync_port(d, d->ports[i]);
	}
	if (now >= d->next_report_ns) {
		d->next_report_ns = now + REPORT_NS;
		for (unsigned int i = 0; i < d->nports; i++)
			if (d->ports[i]->kind == PORT_UNIX || d->ports[i]->vp)
				vu_net_report_drops(d->ports[i]->net);
	}
}

/* ---- control requests ---- */

static const char *port_state(const struct port *p)
{
	if (p->kind == PORT_VVU) {
		if (p->failed)
			return "failed";
		if (!p->vp)
			return "absent";
		if (p->vp->state != VVU_ST_SERVING)
			return dvvu_state_name(p->vp->state);
	} else if (p->vut.state != VUT_CONNECTED) {
		return vut_state_name(p->vut.state);
	}
	if (p->net->broken)
		return "broken";
	return p->up ? "up" : "negotiating";
}

/* The transport's last error (vut / vvu_port), else the protocol's. */
static const char *port_error(const struct port *p)
{
	if (p->kind == PORT_VVU) {
		if (!p->vp || p->failed)
			return p->error;
		if (p->vp->last_error[0])
			return p->vp->last_error;
	} else if (p->vut.last_error[0]) {
		return p->vut.last_error;
	}
	return p->net->dev.last_error;
}

static uint64_t port_connects(const struct port *p)
{
	if (p->kind == PORT_UNIX)
		return p->vut.connects;
	return p->connects0 + (p->vp ? p->vp->connects : 0);
}

static uint64_t port_disconnects(const struct port *p)
{
	if (p->kind == PORT_UNIX)
		return p->vut.disconnects;
	return p->disconnects0 + (p->vp ? p->vp->disconnects : 0);
}

static void features_str(char *buf, size_t n, const struct vu_dev *dev)
{
	static const struct { int bit; const char *name; } names[] = {
		{ VU_F_VERSION_1, "version_1" }, { VU_F_NET_MRG_RXBUF, "mrg_rxbuf" },
		{ VU_F_RING_EVENT_IDX, "event_idx" },
		{ VU_F_RING_INDIRECT_DESC, "indirect_desc" },
		{ VU_F_NET_MQ, "mq" }, { VU_F_NET_MTU, "mtu" },
		{ VU_F_NET_STATUS, "status" },
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

static void cmd_ports(struct daemon *d, struct sbuf *o, bool json)
{
	if (!json)
		sb_printf(o, "%-14s %-4s %-11s %-6s %-5s %-9s %s\n", "PORT", "KIND",
			  "STATE", "MODE", "RXQ", "MTU", "SOCKET/PCI");
	else
		sb_printf(o, "{\"ports\":[");
	for (unsigned int i = 0; i < d->nports; i++) {
		struct port *p = d->ports[i];
		struct vu_dev *dev = &p->net->dev;
		bool vvu = p->kind == PORT_VVU;
		const char *mode = vvu ? "device" : p->cfg.client ? "client" : "server";
		const char *where = vvu ? p->bdf : p->cfg.socket;
		const char *err = port_error(p);
		char feat[160];

		feat[0] = '\0';
		if (!vvu || p->vp)
			features_str(feat, sizeof(feat), dev);
		if (!json) {
			char mtu[12] = "-";

			if ((!vvu || p->vp) && dev->mtu)
				snprintf(mtu, sizeof(mtu), "%u", dev->mtu);
			sb_printf(o, "%-14s %-4s %-11s %-6s %u/%-3u %-9s %s\n",
				  p->name, vvu ? "vvu" : "unix", port_state(p), mode,
				  p->net->n_live_rx, p->queues, mtu, where);
			if (p->net->broken)
				sb_printf(o, "  broken: %s\n", p->net->why);
			if (err[0])
				sb_printf(o, "  last error: %s\n", err);
			sb_printf(o, "  connects %llu, disconnects %llu\n",
				  (unsigned long long)port_connects(p),
				  (unsigned long long)port_disconnects(p));
			if (feat[0])
				sb_printf(o, "  features: %s\n", feat);
			continue;
		}
		sb_printf(o, "%s{\"name\":", i ? "," : "");
		sb_json_str(o, p->name);
		sb_printf(o, ",\"kind\":\"%s\",\"state\":\"%s\",\"mode\":\"%s\",",
			  vvu ? "vvu" : "unix", port_state(p), mode);
		sb_printf(o, vvu ? "\"pci\":" : "\"socket\":");
		sb_json_str(o, where);
		sb_printf(o, ",\"connection\":\"%s\",\"up\":%s,\"broken\":%s,"
			  "\"queues\":%u,\"live_rx_queues\":%u,"
			  "\"live_tx_queues\":%u,\"mtu\":%u,\"features\":",
			  vvu ? (p->vp ? dvvu_state_name(p->vp->state) : port_state(p)) :
				vut_state_name(p->vut.state),
			  p->up ? "true" : "false",
			  p->net->broken ? "true" : "false", p->queues,
			  p->net->n_live_rx, p->net->n_live_tx, dev->mtu);
		sb_json_str(o, feat);
		sb_printf(o, ",\"reason\":");
		sb_json_str(o, p->net->broken ? p->net->why : "");
		sb_printf(o, ",\"last_error\":");
		sb_json_str(o, err);
		sb_printf(o, ",\"protocol_error\":");
		sb_json_str(o, dev->last_error);
		sb_printf(o, ",\"connects\":%llu,\"disconnects\":%llu",
			  (unsigned long long)port_connects(p),
			  (unsigned long long)port_disconnects(p));
		if (vvu)
			sb_printf(o, ",\"bad_messages\":%llu,\"attaches\":%llu,"
				  "\"detaches\":%llu",
				  (unsigned long long)(p->vp ? p->vp->bad_messages : 0),
				  (unsigned long long)p->attaches,
				  (unsigned long long)p->detaches);
		sb_printf(o, "}");
	}
	if (json)
		sb_printf(o, "]}\n");
}

static void cmd_stats(struct daemon *d, struct sbuf *o, bool json)
{
	if (json)
		sb_printf(o, "{\"ports\":[");
	else
		sb_printf(o, "%-10s %12s %14s %12s %14s %10s\n", "PORT", "RX-PKTS",
			  "RX-BYTES", "TX-PKTS", "TX-BYTES", "DROPS");
	for (unsigned int i = 0; i < d->nports; i++) {
		struct port *p = d->ports[i];
		static const struct sw_port_stats none;
		const struct sw_port_stats *s =
			p->id >= 0 ? sw_port_stats(d->sw, p->id) : &none;
		const struct vnet_stats *v = &p->net->st;
		/* Frames the peer sent that never reached the switch. */
		const struct { const char *name; uint64_t n; } vd[] = {
			{ "virtio_oversize", v->tx_oversize },
			{ "virtio_runt", v->tx_runt },
			{ "virtio_too_many_segs", v->tx_too_many_segs },
		};
		uint64_t drops = 0;

		for (int k = 0; k < SW_DROP_MAX; k++)
			drops += s->drops[k];
		for (size_t k = 0; k < sizeof(vd) / sizeof(vd[0]); k++)
			drops += vd[k].n;
		if (!json) {
			sb_printf(o, "%-10s %12llu %14llu %12llu %14llu %10llu\n",
				  p->name, (unsigned long long)s->rx_packets,
				  (unsigned long long)s->rx_bytes,
				  (unsigned long long)s->tx_packets,
				  (unsigned long long)s->tx_bytes,
				  (unsigned long long)drops);
			for (int k = 0; k < SW_DROP_MAX; k++)
				if (s->drops[k])
					sb_printf(o, "  drop %s: %llu\n", sw_drop_names[k],
						  (unsigned long long)s->drops[k]);
			for (size_t k = 0; k < sizeof(vd) / sizeof(vd[0]); k++)
				if (vd[k].n)
					sb_printf(o, "  drop %s: %llu\n", vd[k].name,
						  (unsigned long long)vd[k].n);
			continue;
		}
		sb_printf(o, "%s{\"name\":", i ? "," : "");
		sb_json_str(o, p->name);
		sb_printf(o, ",\"rx_packets\":%llu,\"rx_bytes\":%llu,"
			  "\"tx_packets\":%llu,\"tx_bytes\":%llu,"
			  "\"rx_flooded\":%llu,\"learn_refused\":%llu,\"drops\":{",
			  (unsigned long long)s->rx_packets,
			  (unsigned long long)s->rx_bytes,
			  (unsigned long long)s->tx_packets,
			  (unsigned long long)s->tx_bytes,
			  (unsigned long long)s->rx_flooded,
			  (unsigned long long)s->learn_refused);
		for (int k = 0; k < SW_DROP_MAX; k++)
			sb_printf(o, "%s\"%s\":%llu", k ? "," : "", sw_drop_names[k],
				  (unsigned long long)s->drops[k]);
		sb_printf(o, "},\"virtio\":{\"tx_bad_len\":%llu,\"tx_runt\":%llu,"
			  "\"tx_oversize\":%llu,"
			  "\"tx_too_many_segs\":%llu,\"rx_no_buffer\":%llu,"
			  "\"rx_too_big\":%llu,\"calls\":%llu},"
			  "\"messages\":%llu,\"message_errors\":%llu}",
			  (unsigned long long)v->tx_runt + v->tx_oversize,
			  (unsigned long long)v->tx_runt,
			  (unsigned long long)v->tx_oversize,
			  (unsigned long long)v->tx_too_many_segs,
			  (unsigned long long)v->rx_no_buffer,
			  (unsigned long long)v->rx_too_big,
			  (unsigned long long)p->net->calls,
			  (unsigned long long)p->net->dev.msgs,
			  (unsigned long long)p->net->dev.msg_errors);
	}
	if (json)
		sb_printf(o, "]}\n");
}

struct mac_ctx {
	struct daemon *d;
	struct sbuf *o;
	bool json;
	unsigned int n;
};

static int mac_one(const struct sw_mac_entry *e, void *arg)
{
	struct mac_ctx *m = arg;
	const char *port = sw_port_name(m->d->sw, e->port);
	char mac[18];

	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", e->mac[0],
		 e->mac[1], e->mac[2], e->mac[3], e->mac[4], e->mac[5]);
	if (m->json) {
		sb_printf(m->o, "%s{\"mac\":\"%s\",\"port\":", m->n ? "," : "", mac);
		sb_json_str(m->o, port ? port : "?");
		sb_printf(m->o, ",\"age_s\":%llu}", (unsigned long long)e->age_s);
	} else {
		sb_printf(m->o, "%-17s  %-10s %6llu\n", mac, port ? port : "?",
			  (unsigned long long)e->age_s);
	}
	m->n++;
	return 0;
}

static void cmd_mac(struct daemon *d, struct sbuf *o, bool json)
{
	struct mac_ctx m = { d, o, json, 0 };

	if (json)
		sb_printf(o, "{\"macs\":[");
	else
		sb_printf(o, "%-17s  %-10s %6s\n", "MAC", "PORT", "AGE");
	sw_mac_foreach(d->sw, ev_now_ns(), mac_one, &m);
	if (json)
		sb_printf(o, "],\"count\":%u}\n", m.n);
	else
		sb_printf(o, "%u entries\n", m.n);
}

static void cmd_status(struct daemon *d, struct sbuf *o, bool json)
{
	unsigned int up = 0;

	for (unsigned int i = 0; i < d->nports; i++)
		up += d->ports[i]->up;
	if (json) {
		sb_printf(o, "{\"version\":\"%s\",\"uptime_s\":%llu,\"ports\":%u,"
			  "\"ports_up\":%u,\"macs\":%u,\"mac_max\":%u,"
			  "\"mac_max_per_port\":%u,\"ageing_s\":%u,"
			  "\"sleeps\":%llu,\"wakeups\":%llu,\"polls\":%llu,"
			  "\"empty_polls\":%llu,\"vvu\":%s,\"config_error\":",
			  VVU_VERSION,
			  (unsigned long long)((ev_now_ns() - d->started_ns) / 1000000000ull),
			  d->nports, up, sw_mac_count(d->sw), d->cfg.sw.mac_max,
			  d->cfg.sw.mac_max_per_port, d->cfg.sw.ageing_s,
			  (unsigned long long)d->sleeps, (unsigned long long)d->wakeups,
			  (unsigned long long)d->polls,
			  (unsigned long long)d->empty_polls,
			  d->vvu ? "true" : "false");
		sb_json_str(o, d->config_error);
		sb_printf(o, "}\n");
		return;
	}
	sb_printf(o, "vvu-switch %s, up %llus, %u ports (%u up), %u MACs "
		  "(max %u, %u per port, ageing %us)\n", VVU_VERSION,
		  (unsigned long long)((ev_now_ns() - d->started_ns) / 1000000000ull),
		  d->nports, up, sw_mac_count(d->sw), d->cfg.sw.mac_max,
		  d->cfg.sw.mac_max_per_port, d->cfg.sw.ageing_s);
	sb_printf(o, "polls %llu (%llu empty), sleeps %llu, wakeups %llu%s\n",
		  (unsigned long long)d->polls, (unsigned long long)d->empty_polls,
		  (unsigned long long)d->sleeps, (unsigned long long)d->wakeups,
		  d->vvu ? ", vvu devices" : "");
	if (d->config_error[0])
		sb_printf(o, "config error: %s\n", d->config_error);
}

static int ctl_request(void *arg, const char *line, struct sbuf *o)
{
	struct daemon *d = arg;
	struct ctl_req req;

	if (ctl_parse_request(line, &req, o))
		return 1;
	switch (req.cmd) {
	case CTL_CMD_PORTS:
		cmd_ports(d, o, req.json);
		break;
	case CTL_CMD_STATS:
		cmd_stats(d, o, req.json);
		break;
	case CTL_CMD_MAC:
		cmd_mac(d, o, req.json);
		break;
	case CTL_CMD_STATUS:
		cmd_status(d, o, req.json);
		break;
	case CTL_CMD_CLEAR_STATS:
		for (unsigned int i = 0; i < d->nports; i++) {
			if (d->ports[i]->id >= 0)
				sw_port_stats_clear(d->sw, d->ports[i]->id);
			memset(&d->ports[i]->net->st, 0, sizeof(d->ports[i]->net->st));
		}
		sb_printf(o, req.json ? "{}\n" : "cleared\n");
		break;
	case CTL_CMD_COUNT:	/* never parsed */
		break;
	}
	return 0;
}

/* ---- virtio-vhost-user devices ---- */

static void vvu_fd_cb(void *arg, int fd, uint32_t events)
{
	struct daemon *d = arg;

	(void)fd;
	(void)events;
	d->vvu_kicked = true;
}

static struct port *find_vvu(struct daemon *d, const char *bdf)
{
	for (unsigned int i = 0; i < d->nports; i++)
		if (d->ports[i]->kind == PORT_VVU &&
		    strcmp(d->ports[i]->bdf, bdf) == 0)
			return d->ports[i];
	return NULL;
}

/* A port record for device bdf, absent until probed.  NULL if full. */
static struct port *new_vvu(struct daemon *d, const char *bdf, bool discovered)
{
	struct port *p;

	if (d->nports >= SW_MAX_PORTS)
		return NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->kind = PORT_VVU;
	p->id = -1;
	/*
	 * Without a [port] section a device offers all the queue pairs it
	 * has (max-vhost-queues / 2, at most 8), as OVS does for vhost-user
	 * ports: a multiqueue peer on a port that offers fewer than it asks
	 * for is refused, and QEMU retries for ever.
	 */
	p->queues = VU_MAX_QUEUE_PAIRS;
	p->discovered = discovered;
	memcpy(p->bdf, bdf, VVU_BDF_LEN);
	vvu_config_vvu_name(&d->cfg, bdf, p->name, sizeof(p->name));
	for (unsigned int i = 0; i < d->cfg.nports; i++)
		if (strcmp(d->cfg.ports[i].pci, bdf) == 0)
			p->queues = d->cfg.ports[i].queues;
	p->net = &p->unet;
	snprintf(p->error, sizeof(p->error), "device not present");
	d->ports[d->nports++] = p;
	return p;
}

static void forget_port(struct daemon *d, struct port *p)
{
	for (unsigned int i = 0; i < d->nports; i++) {
		if (d->ports[i] == p) {
			/* Keep the listing in creation order. */
			d->nports--;
			memmove(&d->ports[i], &d->ports[i + 1],
				(d->nports - i) * sizeof(struct port *));
			break;
		}
	}
	free(p);
}

/* dvvu hook: device bdf was probed by DPDK. */
static int vvu_add(void *arg, const char *bdf, struct rte_pci_device *pdev)
{
	struct daemon *d = arg;
	struct port *p = find_vvu(d, bdf);
	int rc;

	if (!p)
		p = new_vvu(d, bdf, d->cfg.vvu_mode == VVU_MODE_AUTO);
	if (!p) {
		vlog_err("vvu %s: more than %d ports", bdf, SW_MAX_PORTS);
		return -ENOSPC;
	}
	if (p->vp)
		return -EEXIST;
	p->vp = calloc(1, sizeof(*p->vp));
	if (!p->vp)
		return -ENOMEM;
	rc = dvvu_port_open(p->vp, pdev, p->name, p->queues);
	if (rc) {
		snprintf(p->error, sizeof(p->error), "cannot open %s: %.160s", bdf,
			 p->vp->last_error[0] ? p->vp->last_error : strerror(-rc));
		vlog_err("%s: %s", p->name, p->error);
		free(p->vp);
		p->vp = NULL;
		p->failed = true;
		return rc;
	}
	p->net = &p->vp->net;
	p->queues = p->net->dev.max_qp;		/* capped by the device */
	p->id = sw_port_add(d->sw, p->name, &vu_net_port_ops, p->net);
	if (p->id < 0) {
		rc = p->id;
		snprintf(p->error, sizeof(p->error), "switch refused the port: %s",
			 strerror(-rc));
		dvvu_port_close(p->vp);
		free(p->vp);
		p->vp = NULL;
		p->net = &p->unet;
		p->failed = true;
		return rc;
	}
	p->error[0] = '\0';
	p->failed = false;
	p->attaches++;
	p->nfds = dvvu_port_fds(p->vp, p->fds, VVU_MAX_FDS);
	for (unsigned int i = 0; i < p->nfds; i++)
		if (ev_add_et(d->ev, p->fds[i], vvu_fd_cb, d) < 0)
			vlog_warn("%s: cannot watch fd %d: polling", p->name, p->fds[i]);
	vlog_info("%s: virtio-vhost-user device %s, %u queue pair(s), %u fds",
		  p->name, bdf, p->queues, p->nfds);
	d->vvu_kicked = true;
	return 0;
}

/* dvvu hook: device bdf is being detached (hot-removed or shutdown). */
static void vvu_remove(void *arg, const char *bdf)
{
	struct daemon *d = arg;
	struct port *p = find_vvu(d, bdf);

	if (!p || !p->vp)
		return;
	set_up(d, p, false);
	for (unsigned int i = 0; i < p->nfds; i++)
		ev_del(d->ev, p->fds[i]);
	p->nfds = 0;
	if (p->id >= 0)
		sw_port_remove(d->sw, p->id);
	p->id = -1;
	p->connects0 += p->vp->connects;
	p->disconnects0 += p->vp->disconnects;
	dvvu_port_close(p->vp);
	free(p->vp);
	p->vp = NULL;
	p->net = &p->unet;
	memset(&p->unet, 0, sizeof(p->unet));
	p->detaches++;
	memcpy(d->gone[d->next_gone].bdf, bdf, VVU_BDF_LEN);
	d->gone[d->next_gone].at = ev_now_ns();
	d->next_gone = (d->next_gone + 1) % 8;
	snprintf(p->error, sizeof(p->error), "device removed");
	vlog_info("%s: device %s detached", p->name, bdf);
	if (p->discovered && !d->stop)
		forget_port(d, p);
}

/* A sysfs attribute as a trimmed string.  0 or -errno. */
static int read_attr(const char *bdf, const char *attr, char *buf, size_t n)
{
	char path[128];
	FILE *f;
	size_t got;

	snprintf(path, sizeof(path), SYSFS_PCI "/devices/%s/%s", bdf, attr);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	got = fread(buf, 1, n - 1, f);
	fclose(f);
	buf[got] = '\0';
	while (got && (buf[got - 1] == '\n' || buf[got - 1] == ' '))
		buf[--got] = '\0';
	return 0;
}

static int write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;
	int rc = 0;

	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	if (n != (ssize_t)strlen(val))
		rc = n < 0 ? -errno : -EIO;
	close(fd);
	return rc;
}

/* The kernel driver bound to bdf ("" for none). */
static void bound_driver(const char *bdf, char *drv, size_t n)
{
	char path[128], target[256];
	ssize_t l;
	const char *slash;

	snprintf(path, sizeof(path), SYSFS_PCI "/devices/%s/driver", bdf);
	l = readlink(path, target, sizeof(target) - 1);
	drv[0] = '\0';
	if (l <= 0)
		return;
	target[l] = '\0';
	slash = strrchr(target, '/');
	snprintf(drv, n, "%.*s", (int)(n - 1), slash ? slash + 1 : target);
}

/*
 * Give device bdf to vfio-pci, as the switch VM's /init does: set
 * driver_override, unbind the current driver, ask the kernel to probe.
 * 0 when it is bound to vfio-pci; -errno with err otherwise.
 */
static int bind_vfio(const char *bdf, char *err, size_t errlen)
{
	char drv[64], path[128];
	int rc;

	bound_driver(bdf, drv, sizeof(drv));
	if (strcmp(drv, "vfio-pci") == 0)
		return 0;
	snprintf(path, sizeof(path), SYSFS_PCI "/devices/%s/driver_override", bdf);
	rc = write_file(path, "vfio-pci");
	if (rc == 0 && drv[0]) {
		snprintf(path, sizeof(path), SYSFS_PCI "/devices/%s/driver/unbind", bdf);
		rc = write_file(path, bdf);
	}
	if (rc == 0)
		rc = write_file(SYSFS_PCI "/drivers_probe", bdf);
	bound_driver(bdf, drv, sizeof(drv));
	if (rc == 0 && strcmp(drv, "vfio-pci") != 0)
		rc = -ENODEV;
	if (rc)
		snprintf(err, errlen, "cannot bind %s to vfio-pci (%s%s): %s", bdf,
			 drv[0] ? "bound to " : "no driver", drv, strerror(-rc));
	return rc;
}

/*
 * Virtio-vhost-user devices present that the config wants and that have
 * no open port yet, bound to vfio-pci.  Returns how many are in out.
 */
static bool recently_gone(const struct daemon *d, const char *bdf, uint64_t now)
{
	for (unsigned int i = 0; i < 8; i++)
		if (d->gone[i].at && now - d->gone[i].at < GONE_NS &&
		    strcmp(d->gone[i].bdf, bdf) == 0)
			return true;
	return false;
}

static unsigned int scan_devices(struct daemon *d, char (*out)[VVU_BDF_LEN],
				 unsigned int max)
{
	uint64_t now = ev_now_ns();
	DIR *dir = opendir(SYSFS_PCI "/devices");
	struct dirent *e;
	unsigned int n = 0;

	if (!dir)
		return 0;
	while ((e = readdir(dir)) != NULL && n < max) {
		char bdf[VVU_BDF_LEN], v[16], dev[16], err[192];
		struct port *p;

		if (vvu_bdf_parse(e->d_name, bdf) ||
		    read_attr(bdf, "vendor", v, sizeof(v)) ||
		    read_attr(bdf, "device", dev, sizeof(dev)) ||
		    strcmp(v, "0x1af4") != 0 || strcmp(dev, "0x107a") != 0 ||
		    !vvu_config_wants(&d->cfg, bdf) || recently_gone(d, bdf, now))
			continue;
		p = find_vvu(d, bdf);
		if (p && (p->vp || p->failed))
			continue;
		if (bind_vfio(bdf, err, sizeof(err))) {
			if (!p)
				p = new_vvu(d, bdf, d->cfg.vvu_mode == VVU_MODE_AUTO);
			if (p && strcmp(p->error, err) != 0) {
				vlog_warn("%s: %s", p->name, err);
				snprintf(p->error, sizeof(p->error), "%s", err);
			}
			continue;
		}
		memcpy(out[n++], bdf, VVU_BDF_LEN);
	}
	closedir(dir);
	return n;
}

/* Every 10 ms: release requests; every second: new devices. */
static void vvu_housekeeping(struct daemon *d, uint64_t now)
{
	char found[SW_MAX_PORTS][VVU_BDF_LEN];
	unsigned int n;

	if (dvvu_removal_pending())
		dvvu_handle_removals(now);
	if (now < d->next_scan_ns)
		return;
	d->next_scan_ns = now + RESCAN_NS;
	n = scan_devices(d, found, SW_MAX_PORTS);
	for (unsigned int i = 0; i < n; i++) {
		int rc;

		vlog_info("vvu: %s appeared: probing", found[i]);
		rc = dvvu_probe(found[i]);
		if (rc) {
			struct port *p = find_vvu(d, found[i]);

			if (!p)
				p = new_vvu(d, found[i], d->cfg.vvu_mode == VVU_MODE_AUTO);
			if (p && !p->failed) {
				p->failed = true;
				if (!p->error[0] || !strcmp(p->error, "device not present"))
					snprintf(p->error, sizeof(p->error),
						 "DPDK probe failed: %s", strerror(-rc));
				vlog_err("%s: %s", p->name, p->error);
			}
		}
	}
}

static int start_vvu(struct daemon *d)
{
	static const char none[] = "device not present";
	char found[SW_MAX_PORTS][VVU_BDF_LEN], err[256];
	struct dvvu_hooks hooks = { vvu_add, vvu_remove, d };
	unsigned int n;
	int rc;

	if (dvvu_unavailable()) {
		vlog_err("vvu: %s", dvvu_unavailable());
		return -ENOTSUP;
	}
	/* Named and listed devices show as ports even while absent. */
	for (unsigned int i = 0; i < d->cfg.nports; i++)
		if (d->cfg.ports[i].pci[0] && !find_vvu(d, d->cfg.ports[i].pci))
			new_vvu(d, d->cfg.ports[i].pci, false);
	for (unsigned int i = 0; d->cfg.vvu_mode == VVU_MODE_LIST && i < d->cfg.nvvu; i++)
		if (!find_vvu(d, d->cfg.vvu[i]))
			new_vvu(d, d->cfg.vvu[i], false);
	n = scan_devices(d, found, SW_MAX_PORTS);
	rc = dvvu_start(&d->cfg, found, n, &hooks, err, sizeof(err));
	if (rc) {
		vlog_err("vvu: %s", err);
		return rc;
	}
	d->vvu = true;
	if (dvvu_event_fd() >= 0)
		ev_add(d->ev, dvvu_event_fd(), vvu_fd_cb, d);
	/* A device EAL saw but did not give us failed its probe. */
	for (unsigned int i = 0; i < n; i++) {
		struct port *p = find_vvu(d, found[i]);

		if (p && !p->vp && !p->failed) {
			p->failed = true;
			if (!strcmp(p->error, none))
				snprintf(p->error, sizeof(p->error), "DPDK did not probe it");
		}
	}
	d->next_scan_ns = ev_now_ns() + RESCAN_NS;
	vlog_info("vvu: %u device(s) at start, mode %s", n,
		  d->cfg.vvu_mode == VVU_MODE_AUTO ? "auto" : "list");
	return 0;
}

/* ---- control over a character device ---- */

/*
 * Open the control stream.  A /dev/virtio-ports/NAME link needs udev; a
 * bare initramfs has only /dev/vportNpM, so look its name up in sysfs.
 */
static int open_stream(const char *path)
{
	static const char prefix[] = "/dev/virtio-ports/";
	int fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	DIR *dir;
	struct dirent *e;
	int err = errno;

	if (fd >= 0 || err != ENOENT ||
	    strncmp(path, prefix, sizeof(prefix) - 1) != 0)
		return fd >= 0 ? fd : -err;
	dir = opendir("/sys/class/virtio-ports");
	if (!dir)
		return -ENOENT;
	while ((e = readdir(dir)) != NULL) {
		char p[300], name[128] = "";
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "/sys/class/virtio-ports/%s/name", e->d_name);
		f = fopen(p, "r");
		if (!f)
			continue;
		if (!fgets(name, sizeof(name), f))
			name[0] = '\0';
		fclose(f);
		name[strcspn(name, "\n")] = '\0';
		if (strcmp(name, path + sizeof(prefix) - 1) != 0)
			continue;
		snprintf(p, sizeof(p), "/dev/%s", e->d_name);
		fd = open(p, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
		err = errno;
		break;
	}
	closedir(dir);
	return fd >= 0 ? fd : -err;
}

/*
 * The device is relayed through a socketpair that ctl serves: ctl's
 * writes land in a socket buffer at once, and this file moves them to the
 * device without ever blocking (what the device does not take now is
 * retried on the next loop turn, and dropped when the host stops reading
 * or goes away).  Each host connection gets a fresh session, so a request
 * line a previous host left half-written is never prefixed to the next.
 */
static void stream_end_session(struct daemon *d)
{
	if (d->ctl_stream) {
		ev_del(d->ev, d->pair_fd);
		ctl_close(d->ctl_stream);	/* ctl never closes a stream's fd */
		d->ctl_stream = NULL;
	}
	if (d->pair_fd >= 0)
		close(d->pair_fd);
	if (d->stream_pair_ctl >= 0)
		close(d->stream_pair_ctl);
	d->pair_fd = d->stream_pair_ctl = -1;
	d->out_len = d->out_off = 0;
	d->stream_used = false;
}

static void stream_flush(struct daemon *d, uint64_t now)
{
	while (d->out_off < d->out_len) {
		ssize_t n = write(d->stream_fd, d->out + d->out_off,
				  d->out_len - d->out_off);

		if (n > 0) {
			d->out_off += (size_t)n;
			d->out_since = now;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN && now - d->out_since < STREAM_STALL_NS)
			return;		/* full, or the host is away: later */
		vlog_warn("control stream: host not reading, %zu bytes dropped",
			  d->out_len - d->out_off);
		break;
	}
	d->out_len = d->out_off = 0;
}

/* ctl answered: take its bytes off the socketpair. */
static void stream_pair_cb(void *arg, int fd, uint32_t events)
{
	struct daemon *d = arg;
	uint64_t now = ev_now_ns();

	(void)events;
	for (;;) {
		char buf[16384];
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n <= 0)
			break;
		if (d->out_len == d->out_off)
			d->out_since = now;
		if (d->out_len + (size_t)n > STREAM_OUT_MAX) {
			vlog_warn("control stream: answer over %u bytes dropped",
				  STREAM_OUT_MAX);
			continue;
		}
		memcpy(d->out + d->out_len, buf, (size_t)n);
		d->out_len += (size_t)n;
	}
	stream_flush(d, now);
}

static int stream_new_session(struct daemon *d)
{
	int sv[2];
	int big = (int)STREAM_OUT_MAX;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv))
		return -errno;
	/* Room for a whole answer, so ctl's write never waits (best effort). */
	if (setsockopt(sv[0], SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big)))
		setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	d->ctl_stream = ctl_serve_stream(d->ev, sv[0], ctl_request, d);
	if (!d->ctl_stream || ev_add(d->ev, sv[1], stream_pair_cb, d) < 0) {
		int rc = errno ? -errno : -ENOMEM;

		if (d->ctl_stream)
			ctl_close(d->ctl_stream);
		d->ctl_stream = NULL;
		close(sv[0]);
		close(sv[1]);
		return rc;
	}
	d->pair_fd = sv[1];
	/* ctl owns nothing of sv[0] but the watch: keep it for closing. */
	d->stream_pair_ctl = sv[0];
	return 0;
}

/* The device: requests in (read dry: it is watched edge-triggered). */
static void stream_dev_cb(void *arg, int fd, uint32_t events)
{
	struct daemon *d = arg;

	(void)events;
	for (;;) {
		char buf[4096];
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			/* EAGAIN: the port knows the host is connected. */
			if (errno == EAGAIN)
				d->stream_host_up = true;
			return;
		}
		if (n == 0) {
			/*
			 * virtio-serial: no data and the port thinks the host
			 * side is closed.  The host's open and its first bytes
			 * travel on different queues, so a request can be read
			 * before the port learns the host is there: only a
			 * host seen connected and now gone ends the session
			 * (a new host must not get the old one's half line).
			 */
			if (d->stream_host_up && d->stream_used) {
				stream_end_session(d);
				if (stream_new_session(d))
					vlog_err("control stream: cannot start a session");
			}
			d->stream_host_up = false;
			return;
		}
		d->stream_used = true;
		if (!d->ctl_stream && stream_new_session(d))
			return;
		if (write(d->pair_fd, buf, (size_t)n) != n)
			vlog_warn("control stream: request dropped");
	}
}

static void try_stream(struct daemon *d, uint64_t now)
{
	int fd, rc;

	if (!d->cfg.control_stream[0] || d->stream_fd >= 0 ||
	    now < d->stream_retry_at)
		return;
	d->stream_retry_at = now + STREAM_RETRY_NS;
	fd = open_stream(d->cfg.control_stream);
	if (fd < 0) {
		if (!d->stream_logged)
			vlog_warn("control stream %s: %s (retrying every second)",
				  d->cfg.control_stream, strerror(-fd));
		d->stream_logged = true;
		return;
	}
	if (!d->out)
		d->out = malloc(STREAM_OUT_MAX);
	rc = d->out ? stream_new_session(d) : -ENOMEM;
	/*
	 * Edge-triggered and read dry, so that a host side that is not
	 * connected (virtio-serial: read 0, POLLHUP) costs nothing until the
	 * host opens it again.
	 */
	if (rc == 0 && ev_add_et(d->ev, fd, stream_dev_cb, d) < 0)
		rc = -errno;
	if (rc) {
		vlog_err("control stream %s: %s", d->cfg.control_stream,
			 strerror(-rc));
		stream_end_session(d);
		close(fd);
		return;
	}
	d->stream_fd = fd;
	vlog_info("control stream on %s", d->cfg.control_stream);
	stream_dev_cb(d, fd, 0);
}

/* ---- main loop ---- */

static void sig_cb(void *arg, int fd, uint32_t events)
{
	struct daemon *d = arg;
	struct signalfd_siginfo si;

	(void)events;
	while (read(fd, &si, sizeof(si)) == sizeof(si)) {
		vlog_info("signal %u: shutting down", si.ssi_signo);
		d->stop = true;
	}
}

static int add_unix_port(struct daemon *d, const struct vvu_port_cfg *c)
{
	struct port *p = calloc(1, sizeof(*p));
	int rc;

	if (!p)
		return -ENOMEM;
	d->ports[d->nports++] = p;
	p->kind = PORT_UNIX;
	p->cfg = *c;
	p->queues = c->queues;
	memcpy(p->name, c->name, sizeof(p->name));
	p->net = &p->unet;
	vu_net_init(p->net, p->name, &vut_ops, &p->vut, p->queues);
	p->id = sw_port_add(d->sw, p->name, &vu_net_port_ops, p->net);
	if (p->id < 0)
		return p->id;
	rc = vut_start(&p->vut, d->ev, p->name, p->cfg.socket, p->cfg.client,
		       p->cfg.reconnect_ms, &p->net->dev);
	if (rc) {
		vlog_err("%s: %s", p->name, p->vut.last_error);
		return rc;
	}
	vlog_info("%s: %s on %s, %u queue pair(s)", p->name,
		  p->cfg.client ? "connecting" : "listening", p->cfg.socket,
		  p->queues);
	return 0;
}

static int setup(struct daemon *d)
{
	sigset_t set;
	int rc;

	d->ev = ev_new();
	d->sw = sw_create(&d->cfg.sw);
	if (!d->ev || !d->sw) {
		vlog_err("out of memory, or a switch setting is out of range");
		return -ENOMEM;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	d->sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (d->sig_fd < 0 || ev_add(d->ev, d->sig_fd, sig_cb, d) < 0)
		return -errno;
	rc = vut_guard_init();
	if (rc)
		return rc;
	for (unsigned int i = 0; i < d->cfg.nports; i++) {
		if (d->cfg.ports[i].pci[0])
			continue;	/* start_vvu's */
		rc = add_unix_port(d, &d->cfg.ports[i]);
		if (rc)
			return rc;
	}
	if (vvu_config_has_vvu(&d->cfg)) {
		rc = start_vvu(d);
		if (rc)
			return rc;
	}
	if (d->cfg.control[0]) {
		d->ctl = ctl_listen(d->ev, d->cfg.control, ctl_request, d);
		if (!d->ctl) {
			rc = -errno;
			vlog_err("control socket %s: %s", d->cfg.control,
				 strerror(errno));
			return rc;
		}
	}
	try_stream(d, ev_now_ns());
	return 0;
}

static void teardown(struct daemon *d)
{
	d->stop = true;
	dvvu_stop();	/* closes every vvu port through vvu_remove */
	for (unsigned int i = 0; i < d->nports; i++) {
		struct port *p = d->ports[i];

		if (p->kind == PORT_UNIX)
			vut_stop(&p->vut);
		if (p->id >= 0)
			sw_port_remove(d->sw, p->id);
		free(p);
	}
	ctl_close(d->ctl);
	stream_end_session(d);
	if (d->stream_fd >= 0) {
		ev_del(d->ev, d->stream_fd);
		close(d->stream_fd);
	}
	free(d->out);
	if (d->sig_fd >= 0)
		close(d->sig_fd);
	sw_destroy(d->sw);
	ev_free(d->ev);
}

/* Arm kicks on every port; true when something is already waiting. */
static bool arm_kicks(struct daemon *d, bool on)
{
	unsigned int waiting = 0;

	for (unsigned int i = 0; i < d->nports; i++)
		if (d->ports[i]->up)
			waiting += vu_net_set_kicks(d->ports[i]->net, on);
	return waiting != 0;
}

/*
 * The switch ages its MAC table a slice per sw_poll: while a sweep is
 * under way, do not sleep; otherwise wake for the next sweep.
 */
static uint64_t age_wait_ms(const struct daemon *d, uint64_t now,
			    uint64_t wait_ms)
{
	uint64_t due = sw_age_due_ns(d->sw), ms;

	if (due <= now)
		return 0;
	ms = (due - now + 999999) / 1000000;
	return ms < wait_ms ? ms : wait_ms;
}

static void run(struct daemon *d)
{
	uint64_t now = ev_now_ns(), last_work = now;
	uint64_t idle_ns = d->cfg.idle_poll_us < 0 ? UINT64_MAX :
			   (uint64_t)d->cfg.idle_poll_us * 1000;
	unsigned int round = 0;

	d->busy = true;
	while (!d->stop) {
		if (!d->busy) {
			/* vvu ports have no fd for every event: tick them. */
			uint64_t wait_ms = d->vvu ? VVU_TICK_MS : SLEEP_MS;

			if (d->cfg.control_stream[0] && d->stream_fd < 0 && wait_ms > 1000)
				wait_ms = 1000;
			if (d->out_len > d->out_off)
				wait_ms = VVU_TICK_MS;	/* answers to push */
			if (d->vvu_kicked)
				wait_ms = 0;		/* messages left over */
			wait_ms = age_wait_ms(d, now, wait_ms);
			d->sleeps++;
			ev_run(d->ev, (int)wait_ms);
			now = ev_now_ns();
			try_stream(d, now);
			sync_ports(d, now);
		} else if (++round % EVENTS_EVERY == 0) {
			ev_run(d->ev, 0);
			sync_ports(d, now);
		}
		unsigned int n = sw_poll(d->sw, now);

		d->polls++;
		/* A busy round needs no clock but every EVENTS_EVERY-th. */
		if (n == 0 || round % EVENTS_EVERY == 0)
			now = ev_now_ns();
		if (n) {
			last_work = now;
			if (!d->busy) {
				d->busy = true;
				d->wakeups++;
				arm_kicks(d, false);
			}
		} else {
			d->empty_polls++;
			if (d->busy && now - last_work >= idle_ns) {
				/* Ask for kicks, then look once more before sleeping. */
				if (arm_kicks(d, true)) {
					arm_kicks(d, false);
					last_work = now;
				} else {
					d->busy = false;
				}
			}
		}
	}
}

int vvu_daemon_run(const struct vvu_config *cfg, const char *config_error)
{
	struct daemon *d = calloc(1, sizeof(*d));
	int rc;

	if (!d)
		return -ENOMEM;
	d->cfg = *cfg;
	d->sig_fd = -1;
	d->stream_fd = -1;
	d->pair_fd = -1;
	d->stream_pair_ctl = -1;
	d->started_ns = ev_now_ns();
	if (config_error)
		snprintf(d->config_error, sizeof(d->config_error), "%s", config_error);
	vlog_set_level(cfg->log_level);
	rc = setup(d);
	if (rc == 0) {
		vlog_info("vvu-switch %s: %u ports, forwarding", VVU_VERSION,
			  d->nports);
		run(d);
	}
	teardown(d);
	free(d);
	vlog_info("stopped");
	return rc;
}
