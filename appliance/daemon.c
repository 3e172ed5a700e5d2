/* SPDX-License-Identifier: MIT */
/*
 * daemon: the switch's main loop in host mode.  It owns the event loop,
 * the switch and one vhost-user port per configured socket, answers
 * control requests, and decides when to busy-poll and when to sleep on
 * the peers' kicks.  Peer input never reaches this file unvalidated: it
 * sees only port states and counters.
 */
#include "daemon.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "ctl.h"
#include "vlog.h"
#include "vu_net.h"
#include "vut.h"

#define SLEEP_MS 100		/* longest sleep: reconnect and ageing timers */
#define EVENTS_EVERY 64		/* busy rounds between event-loop checks */

struct port {
	struct vvu_port_cfg cfg;
	struct vu_net net;
	struct vut_port vut;
	int id;			/* switch port id */
	bool up;
};

struct daemon {
	struct vvu_config cfg;
	struct ev_loop *ev;
	struct sw *sw;
	struct ctl_server *ctl;
	struct port *ports[SW_MAX_PORTS];
	unsigned int nports;
	int sig_fd;
	bool stop;
	bool busy;
	uint64_t started_ns;
	uint64_t sleeps, wakeups;
	char config_error[256];
};

static void sync_port(struct daemon *d, struct port *p)
{
	bool up;

	if (vut_take_fault(&p->vut))
		vut_drop(&p->vut, "peer memory vanished under us (SIGBUS)");
	if (!p->vut.state_dirty && !p->net.state_dirty)
		return;
	p->vut.state_dirty = p->net.state_dirty = false;
	up = p->vut.state == VUT_CONNECTED && vu_net_running(&p->net);
	if (up != p->up) {
		p->up = up;
		sw_port_set_up(d->sw, p->id, up);
		vlog_info("%s: link %s", p->cfg.name, up ? "up" : "down");
		/* New rings start with kicks on; while we poll, keep them off. */
		if (up)
			vu_net_set_kicks(&p->net, !d->busy);
	}
}

static void sync_ports(struct daemon *d, uint64_t now)
{
	for (unsigned int i = 0; i < d->nports; i++) {
		vut_tick(&d->ports[i]->vut, now);
		sync_port(d, d->ports[i]);
	}
}

/* ---- control requests ---- */

static const char *port_state(const struct port *p)
{
	if (p->vut.state != VUT_CONNECTED)
		return vut_state_name(p->vut.state);
	if (p->net.broken)
		return "broken";
	return p->up ? "up" : "negotiating";
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
		sb_printf(o, "%-10s %-11s %-6s %-5s %-9s %s\n", "PORT", "STATE",
			  "MODE", "RXQ", "MTU", "SOCKET");
	else
		sb_printf(o, "{\"ports\":[");
	for (unsigned int i = 0; i < d->nports; i++) {
		struct port *p = d->ports[i];
		struct vu_dev *dev = &p->net.dev;
		char feat[160];

		features_str(feat, sizeof(feat), dev);
		if (!json) {
			char mtu[12] = "-";

			if (dev->mtu)
				snprintf(mtu, sizeof(mtu), "%u", dev->mtu);
			sb_printf(o, "%-10s %-11s %-6s %u/%-3u %-9s %s\n",
				  p->cfg.name, port_state(p),
				  p->cfg.client ? "client" : "server",
				  p->net.n_live_rx, p->cfg.queues, mtu,
				  p->cfg.socket);
			if (p->net.broken)
				sb_printf(o, "  broken: %s\n", p->net.why);
			if (p->vut.last_error[0])
				sb_printf(o, "  last error: %s\n", p->vut.last_error);
			if (feat[0])
				sb_printf(o, "  features: %s\n", feat);
			continue;
		}
		sb_printf(o, "%s{\"name\":", i ? "," : "");
		sb_json_str(o, p->cfg.name);
		sb_printf(o, ",\"state\":\"%s\",\"mode\":\"%s\",\"socket\":",
			  port_state(p), p->cfg.client ? "client" : "server");
		sb_json_str(o, p->cfg.socket);
		sb_printf(o, ",\"connection\":\"%s\",\"up\":%s,\"broken\":%s,"
			  "\"queues\":%u,\"live_rx_queues\":%u,"
			  "\"live_tx_queues\":%u,\"mtu\":%u,\"features\":",
			  vut_state_name(p->vut.state), p->up ? "true" : "false",
			  p->net.broken ? "true" : "false", p->cfg.queues,
			  p->net.n_live_rx, p->net.n_live_tx, dev->mtu);
		sb_json_str(o, feat);
		sb_printf(o, ",\"reason\":");
		sb_json_str(o, p->net.broken ? p->net.why : "");
		sb_printf(o, ",\"last_error\":");
		sb_json_str(o, p->vut.last_error);
		sb_printf(o, ",\"connects\":%llu,\"disconnects\":%llu}",
			  (unsigned long long)p->vut.connects,
			  (unsigned long long)p->vut.disconnects);
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
		const struct sw_port_stats *s = sw_port_stats(d->sw, p->id);
		const struct vnet_stats *v = &p->net.st;
		uint64_t drops = 0;

		for (int k = 0; k < SW_DROP_MAX; k++)
			drops += s->drops[k];
		if (!json) {
			sb_printf(o, "%-10s %12llu %14llu %12llu %14llu %10llu\n",
				  p->cfg.name, (unsigned long long)s->rx_packets,
				  (unsigned long long)s->rx_bytes,
				  (unsigned long long)s->tx_packets,
				  (unsigned long long)s->tx_bytes,
				  (unsigned long long)drops);
			for (int k = 0; k < SW_DROP_MAX; k++)
				if (s->drops[k])
					sb_printf(o, "  drop %s: %llu\n", sw_drop_names[k],
						  (unsigned long long)s->drops[k]);
			continue;
		}
		sb_printf(o, "%s{\"name\":", i ? "," : "");
		sb_json_str(o, p->cfg.name);
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
		sb_printf(o, "},\"virtio\":{\"tx_bad_len\":%llu,"
			  "\"tx_too_many_segs\":%llu,\"rx_no_buffer\":%llu,"
			  "\"rx_too_big\":%llu,\"calls\":%llu},"
			  "\"messages\":%llu,\"message_errors\":%llu}",
			  (unsigned long long)v->tx_bad_len,
			  (unsigned long long)v->tx_too_many_segs,
			  (unsigned long long)v->rx_no_buffer,
			  (unsigned long long)v->rx_too_big,
			  (unsigned long long)p->net.calls,
			  (unsigned long long)p->net.dev.msgs,
			  (unsigned long long)p->net.dev.msg_errors);
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
			  "\"sleeps\":%llu,\"config_error\":",
			  VVU_VERSION,
			  (unsigned long long)((ev_now_ns() - d->started_ns) / 1000000000ull),
			  d->nports, up, sw_mac_count(d->sw), d->cfg.sw.mac_max,
			  d->cfg.sw.mac_max_per_port, d->cfg.sw.ageing_s,
			  (unsigned long long)d->sleeps);
		sb_json_str(o, d->config_error);
		sb_printf(o, "}\n");
		return;
	}
	sb_printf(o, "vvu-switch %s, up %llus, %u ports (%u up), %u MACs "
		  "(max %u, %u per port, ageing %us)\n", VVU_VERSION,
		  (unsigned long long)((ev_now_ns() - d->started_ns) / 1000000000ull),
		  d->nports, up, sw_mac_count(d->sw), d->cfg.sw.mac_max,
		  d->cfg.sw.mac_max_per_port, d->cfg.sw.ageing_s);
	if (d->config_error[0])
		sb_printf(o, "config error: %s\n", d->config_error);
}

static int ctl_request(void *arg, const char *req, struct sbuf *o)
{
	struct daemon *d = arg;
	char cmd[32] = "", fmt[16] = "", extra[8] = "";
	bool json;
	int n = sscanf(req, "%31s %15s %7s", cmd, fmt, extra);

	if (n < 1) {
		sb_printf(o, "empty request\n");
		return 1;
	}
	if (n == 3 || (n == 2 && strcmp(fmt, "json") != 0)) {
		sb_printf(o, "usage: COMMAND [json]\n");
		return 1;
	}
	json = n == 2;
	if (strcmp(cmd, "ports") == 0)
		cmd_ports(d, o, json);
	else if (strcmp(cmd, "stats") == 0)
		cmd_stats(d, o, json);
	else if (strcmp(cmd, "mac") == 0)
		cmd_mac(d, o, json);
	else if (strcmp(cmd, "status") == 0)
		cmd_status(d, o, json);
	else if (strcmp(cmd, "clear-stats") == 0) {
		for (unsigned int i = 0; i < d->nports; i++) {
			sw_port_stats_clear(d->sw, d->ports[i]->id);
			memset(&d->ports[i]->net.st, 0, sizeof(d->ports[i]->net.st));
		}
		sb_printf(o, json ? "{}\n" : "cleared\n");
	} else {
		sb_printf(o, "unknown command '%s' (ports, stats, mac, status, "
			  "clear-stats)\n", cmd);
		return 1;
	}
	return 0;
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
		struct port *p = calloc(1, sizeof(*p));

		if (!p)
			return -ENOMEM;
		d->ports[d->nports++] = p;
		p->cfg = d->cfg.ports[i];
		vu_net_init(&p->net, p->cfg.name, &vut_ops, &p->vut, p->cfg.queues);
		p->id = sw_port_add(d->sw, p->cfg.name, &vu_net_port_ops, &p->net);
		if (p->id < 0)
			return p->id;
		rc = vut_start(&p->vut, d->ev, p->cfg.name, p->cfg.socket,
			       p->cfg.client, p->cfg.reconnect_ms, &p->net.dev);
		if (rc) {
			vlog_err("%s: %s", p->cfg.name, p->vut.last_error);
			return rc;
		}
		vlog_info("%s: %s on %s, %u queue pair(s)", p->cfg.name,
			  p->cfg.client ? "connecting" : "listening",
			  p->cfg.socket, p->cfg.queues);
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
	return 0;
}

static void teardown(struct daemon *d)
{
	for (unsigned int i = 0; i < d->nports; i++) {
		vut_stop(&d->ports[i]->vut);
		sw_port_remove(d->sw, d->ports[i]->id);
		free(d->ports[i]);
	}
	ctl_close(d->ctl);
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
			waiting += vu_net_set_kicks(&d->ports[i]->net, on);
	return waiting != 0;
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
			d->sleeps++;
			ev_run(d->ev, SLEEP_MS);
			now = ev_now_ns();
			sync_ports(d, now);
		} else if (++round % EVENTS_EVERY == 0) {
			ev_run(d->ev, 0);
			sync_ports(d, now);
		}
		unsigned int n = sw_poll(d->sw, now);

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
		} else if (d->busy && now - last_work >= idle_ns) {
			/* Ask for kicks, then look once more before sleeping. */
			if (arm_kicks(d, true)) {
				arm_kicks(d, false);
				last_work = now;
			} else {
				d->busy = false;
			}
		}
		if (round % EVENTS_EVERY == 0)
			sync_ports(d, now);
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
