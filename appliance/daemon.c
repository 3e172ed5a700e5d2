/* SPDX-License-Identifier: MIT */
/*
 * daemon: the switch's main loop.  It owns the event loop, the switch and
 * the port registry, starts each port kind (port_kinds.h), answers control
 * requests on a socket and/or a character device, and decides when to
 * busy-poll and when to sleep on the peers' kicks.  Ports are reached only
 * through struct port_class; answers are rendered from one snapshot
 * (report.h).  Peer input never reaches this file: it sees only port
 * states and counters.  Control requests are untrusted text, bounded by
 * ctl and parsed here into words.
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
#include "ctl_stream.h"
#include "l2.h"
#include "port_kinds.h"
#include "ports.h"
#include "report.h"
#include "vlog.h"
#include "vu_net.h"
#include "vut.h"

#define SLEEP_MS 100		/* longest sleep: reconnect timers */
#define EVENTS_EVERY 64		/* busy rounds between event-loop checks */
#define REPORT_NS 1000000000ull	/* log new ingress drops this often */
#define SERVICE_BUDGET 32	/* control messages per port per pass */

/* Every port kind, in the order they start. */
static const struct port_class *const port_kinds[] = {
	&port_unix_class,
	&port_vvu_class,
	&port_afxdp_class,
	&port_ethdev_class,	/* after vvu: needs the EAL it starts */
	&port_vxlan_class,
};
#define NKINDS (sizeof(port_kinds) / sizeof(port_kinds[0]))

struct daemon {
	struct vvu_config cfg;
	struct port_env env;
	struct port_registry reg;
	struct ev_loop *ev;
	struct sw *sw;
	struct ctl_server *ctl;
	struct ctl_stream *stream;
	int sig_fd;
	bool stop;
	uint64_t next_service_ns, next_report_ns;
	uint64_t started_ns;
	uint64_t sleeps, wakeups, polls, empty_polls;
	uint64_t max_gap_ns;	/* longest port service pass (the loop's work) */
	char config_error[256];
};

/*
 * Service the ports' control paths when a port fd fired or the kinds'
 * tick is due, then the kinds' housekeeping, then every port's timers and
 * link state.  Each port gets one budget per pass: a frontend that never
 * stops sending must not hold the loop; its backlog waits for the next
 * pass, after a datapath round.
 */
static void service_ports(struct daemon *d, uint64_t now)
{
	struct port_env *e = &d->env;
	struct port_registry *r = &d->reg;

	ctl_stream_run(d->stream, now);
	ctl_tick(d->ctl, now);
	if (e->kicked || (e->tick_ms && now >= d->next_service_ns)) {
		e->kicked = false;
		d->next_service_ns = now + e->tick_ms * 1000000ull;
		for (unsigned int i = 0; i < r->n; i++) {
			struct port *p = r->p[i];

			if (p->cls->service &&
			    p->cls->service(p, SERVICE_BUDGET) == SERVICE_BUDGET)
				e->kicked = true;
		}
		for (size_t k = 0; k < NKINDS; k++)
			if (port_kinds[k]->run)
				port_kinds[k]->run(e, now);
	}
	for (unsigned int i = 0; i < r->n; i++) {
		struct port *p = r->p[i];

		if (p->cls->tick)
			p->cls->tick(p, now);
		port_sync(p);
	}
	if (now >= d->next_report_ns) {
		d->next_report_ns = now + REPORT_NS;
		for (unsigned int i = 0; i < r->n; i++)
			if (r->p[i]->net)
				vu_net_report_drops(r->p[i]->net);
		l2_report_pins(d->sw);
	}
}

/* ---- control requests ---- */

static struct snapshot *take_snapshot(struct daemon *d)
{
	struct snapshot *s = calloc(1, sizeof(*s));
	struct status_snap *t;

	if (!s)
		return NULL;
	t = &s->st;
	t->version = VVU_VERSION;
	t->uptime_s = (ev_now_ns() - d->started_ns) / 1000000000ull;
	t->macs = sw_mac_count(d->sw);
	t->mac_max = d->cfg.sw.mac_max;
	t->mac_max_per_port = d->cfg.sw.mac_max_per_port;
	t->ageing_s = d->cfg.sw.ageing_s;
	t->sleeps = d->sleeps;
	t->wakeups = d->wakeups;
	t->polls = d->polls;
	t->empty_polls = d->empty_polls;
	t->max_gap_us = d->max_gap_ns;
	if (ev_longest_dispatch_ns(d->ev) > t->max_gap_us)
		t->max_gap_us = ev_longest_dispatch_ns(d->ev);
	t->max_gap_us /= 1000;
	ctl_counts(d->ctl, &t->ctl_conns, &t->ctl_evicted, &t->ctl_timeouts);
	for (size_t k = 0; k < NKINDS && t->nflags < SNAP_FLAGS_MAX; k++) {
		if (!port_kinds[k]->status_key)
			continue;
		t->flag[t->nflags].key = port_kinds[k]->status_key;
		t->flag[t->nflags].on = port_kinds[k]->running &&
					port_kinds[k]->running();
		t->nflags++;
	}
	snprintf(t->config_error, sizeof(t->config_error), "%s", d->config_error);
	for (unsigned int i = 0; i < d->reg.n; i++)
		port_snapshot(d->reg.p[i], &s->port[s->nports++]);
	return s;
}

/* port del NAME */
static int cmd_port_del(struct daemon *d, const char *name, bool json, struct sbuf *o)
{
	struct port *p = port_reg_find(&d->reg, name);
	char err[384];

	if (!p) {
		sb_printf(o, "no port %s\n", name);
		return 1;
	}
	if (!p->cls->deletable || !p->cls->deletable(p, err, sizeof(err))) {
		sb_printf(o, "%s\n", p->cls->deletable ? err : "cannot be deleted");
		return 1;
	}
	vlog_info("%s: deleted by request", p->name);
	port_destroy(p);
	sb_printf(o, json ? "{\"deleted\":\"%s\"}\n" : "deleted %s\n", name);
	return 0;
}

/* port add NAME key=value...: the words as a --port spec, to the kind that takes it */
static int cmd_port_add(struct daemon *d, char **w, unsigned int n, bool json,
			struct sbuf *o)
{
	char spec[CTL_REQ_MAX + 16], err[384];
	struct vvu_port_cfg pc;
	struct port *p = NULL;
	size_t len;
	int rc = -ENOTSUP;

	len = (size_t)snprintf(spec, sizeof(spec), "name=%s", w[0]);
	for (unsigned int i = 1; i < n && len < sizeof(spec); i++)
		len += (size_t)snprintf(spec + len, sizeof(spec) - len, ",%s", w[i]);
	if (vvu_port_spec_parse(&pc, spec, err, sizeof(err))) {
		sb_printf(o, "port %s: %s\n", w[0], err);
		return 1;
	}
	snprintf(err, sizeof(err), "port %s: no port kind takes it", w[0]);
	for (size_t k = 0; k < NKINDS && rc == -ENOTSUP; k++)
		if (port_kinds[k]->takes && port_kinds[k]->takes(&pc))
			rc = port_kinds[k]->create ?
			     port_kinds[k]->create(&d->env, &pc, &p, err, sizeof(err)) :
			     -ENOTSUP;
	if (rc) {
		sb_printf(o, "%s\n", err);
		return 1;
	}
	p->runtime = true;
	if (p->id >= 0 && l2_port_apply(d->sw, &pc, p->id))
		vlog_warn("%s: some VLAN, security or static MAC setting refused",
			  p->name);
	sb_printf(o, json ? "{\"added\":\"%s\"}\n" : "added %s\n", p->name);
	return 0;
}

/* What the port of a MAC table entry knows of where it is (a VXLAN VTEP). */
static bool mac_note(void *arg, int port, const uint8_t *mac, char *buf, size_t n)
{
	struct daemon *d = arg;

	for (unsigned int i = 0; i < d->reg.n; i++) {
		const struct port *p = d->reg.p[i];

		if (p->id == port)
			return p->cls->mac_note && p->cls->mac_note(p, mac, buf, n);
	}
	return false;
}

static int ctl_request(void *arg, const char *line, struct sbuf *o)
{
	struct daemon *d = arg;
	struct snapshot *s;
	struct ctl_req req;

	if (ctl_parse_request(line, &req, o))
		return 1;
	switch (req.cmd) {
	case CTL_CMD_PORT_ADD:
		return cmd_port_add(d, req.arg, req.narg, req.json, o);
	case CTL_CMD_PORT_DEL:
		return cmd_port_del(d, req.arg[0], req.json, o);
	case CTL_CMD_MAC:
		report_mac_notes(d->sw, ev_now_ns(), o, req.json, mac_note, d);
		return 0;
	case CTL_CMD_MAC_FLUSH:
	case CTL_CMD_MAC_ADD:
	case CTL_CMD_MAC_DEL:
		return l2_mac_cmd(d->sw, &req, o);
	case CTL_CMD_CLEAR_STATS:
		for (unsigned int i = 0; i < d->reg.n; i++)
			port_clear_stats(d->reg.p[i]);
		sb_printf(o, req.json ? "{}\n" : "cleared\n");
		return 0;
	default:
		break;
	}
	s = take_snapshot(d);
	if (!s) {
		sb_printf(o, "out of memory\n");
		return 1;
	}
	if (req.cmd == CTL_CMD_PORTS)
		report_ports(s, o, req.json);
	else if (req.cmd == CTL_CMD_STATS)
		report_stats(s, o, req.json);
	else if (req.cmd == CTL_CMD_STATUS)
		report_status(s, o, req.json);
	else
		report_metrics(s, o);
	free(s);
	return 0;
}

/* ---- set-up and teardown ---- */

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
	d->env = (struct port_env){ .ev = d->ev, .sw = d->sw, .cfg = &d->cfg,
				    .reg = &d->reg, .busy = true };
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
	for (size_t k = 0; k < NKINDS; k++) {
		rc = port_kinds[k]->start ? port_kinds[k]->start(&d->env) : 0;
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
	if (d->cfg.control_stream[0]) {
		d->stream = ctl_stream_new(d->ev, d->cfg.control_stream,
					   ctl_request, d);
		if (!d->stream)
			return -ENOMEM;
		ctl_stream_run(d->stream, ev_now_ns());
	}
	return 0;
}

static void teardown(struct daemon *d)
{
	d->stop = true;
	d->env.stopping = true;
	for (size_t k = 0; k < NKINDS; k++)
		if (port_kinds[k]->stop)
			port_kinds[k]->stop(&d->env);
	while (d->reg.n)
		port_destroy(d->reg.p[d->reg.n - 1]);
	ctl_close(d->ctl);
	ctl_stream_free(d->stream);
	if (d->sig_fd >= 0)
		close(d->sig_fd);
	sw_destroy(d->sw);
	ev_free(d->ev);
}

/* ---- the loop ---- */

/* Arm kicks on every port; true when something is already waiting. */
static bool arm_kicks(struct daemon *d, bool on)
{
	unsigned int waiting = 0;

	for (unsigned int i = 0; i < d->reg.n; i++)
		waiting += port_arm_kicks(d->reg.p[i], on);
	return waiting != 0;
}

static int sleep_ms(const struct daemon *d, uint64_t now)
{
	int ms = d->env.tick_ms ? (int)d->env.tick_ms : SLEEP_MS;
	uint64_t due = sw_age_due_ns(d->sw), age_ms;

	ms = ctl_stream_wait_ms(d->stream, ms);
	/*
	 * The switch ages its MAC table a slice per sw_poll: no sleep while a
	 * sweep is under way, and a wake-up for the next one.
	 */
	if (due <= now)
		return 0;
	age_ms = (due - now + 999999) / 1000000;
	if (age_ms < (uint64_t)ms)
		ms = (int)age_ms;
	return d->env.kicked ? 0 : ms;	/* messages left over: no sleep */
}

/* service_ports, and how long the loop went without polling for it. */
static void timed_service(struct daemon *d, uint64_t now)
{
	uint64_t took;

	service_ports(d, now);
	took = ev_now_ns() - now;
	if (took > d->max_gap_ns)
		d->max_gap_ns = took;
}

static void run(struct daemon *d)
{
	uint64_t now = ev_now_ns(), last_work = now;
	uint64_t idle_ns = d->cfg.idle_poll_us < 0 ? UINT64_MAX :
			   (uint64_t)d->cfg.idle_poll_us * 1000;
	unsigned int round = 0;

	d->env.busy = true;
	while (!d->stop) {
		if (!d->env.busy) {
			d->sleeps++;
			ev_run(d->ev, sleep_ms(d, now));
			now = ev_now_ns();
			timed_service(d, now);
		} else if (++round % EVENTS_EVERY == 0) {
			now = ev_now_ns();
			ev_run(d->ev, 0);
			timed_service(d, now);
		}
		unsigned int n = sw_poll(d->sw, now);

		d->polls++;
		/* A busy round needs no clock but every EVENTS_EVERY-th. */
		if (n == 0 || round % EVENTS_EVERY == 0)
			now = ev_now_ns();
		if (n) {
			last_work = now;
			if (!d->env.busy) {
				d->env.busy = true;
				d->wakeups++;
				arm_kicks(d, false);
			}
		} else {
			d->empty_polls++;
			if (d->env.busy && now - last_work >= idle_ns) {
				/* Ask for kicks, then look once more before sleeping. */
				if (arm_kicks(d, true)) {
					arm_kicks(d, false);
					last_work = now;
				} else {
					d->env.busy = false;
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
	d->started_ns = ev_now_ns();
	if (config_error)
		snprintf(d->config_error, sizeof(d->config_error), "%s", config_error);
	vlog_set_level(cfg->log_level);
	rc = setup(d);
	if (rc == 0) {
		vlog_info("vvu-switch %s: %u ports, forwarding", VVU_VERSION,
			  d->reg.n);
		run(d);
	}
	teardown(d);
	free(d);
	vlog_info("stopped");
	return rc;
}
