/* SPDX-License-Identifier: MIT */
/*
 * port_vvu: the port kind "vvu", a virtio-vhost-user PCI device inside a
 * switch VM, driven through DPDK (daemon_vvu) and drivers/vvu.  A port
 * named by the config exists while its device is absent; one found by
 * `vvu = auto` comes and goes with its device.  Devices are looked for
 * once a second (pci_scan lists candidates, this file picks), hot-removal
 * requests are served from the loop.  Device and peer data stay in
 * drivers/vvu; this file sees states, counters and addresses.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon_vvu.h"
#include "pci_scan.h"
#include "port_kinds.h"
#include "vlog.h"
#include "vu_net.h"
#include "vvu_port.h"

#define VVU_TICK_MS 10		/* service the message queues at least this often */
#define RESCAN_NS 1000000000ull	/* look for new PCI devices this often */
#define GONE_NS 5000000000ull	/* do not re-probe a detached device this soon */
#define NGONE 8

struct port_vvu {
	struct port base;	/* first: a struct port * is a struct port_vvu * */
	char bdf[VVU_BDF_LEN];	/* "" for a uuid port while its device is absent */
	char uuid[VVU_UUID_LEN];	/* [port] uuid =: the device it takes, else "" */
	struct vvu_port *vp;	/* NULL while the device is absent */
	bool discovered;	/* found by vvu=auto: forgotten when removed */
	bool failed;		/* could not be opened: not retried */
	char error[192];	/* why it is absent or failed */
	uint64_t attaches, detaches;
	uint64_t connects0, disconnects0; /* counts of earlier devices */
};

/* The kind's state: EAL is one per process, and so is this. */
static struct {
	struct port_env *env;
	bool started;		/* EAL is up */
	uint64_t next_scan_ns;
	/* Devices detached lately: the kernel is still removing them. */
	struct { char bdf[VVU_BDF_LEN]; uint64_t at; } gone[NGONE];
	unsigned int next_gone;
	/* Devices opened for their uuid that no port wants: not probed again. */
	char ignored[SW_MAX_PORTS][VVU_BDF_LEN];
	unsigned int nignored;
} g;

static const char not_present[] = "device not present";

static struct port_vvu *pv(const struct port *p)
{
	return (struct port_vvu *)(uintptr_t)p;
}

static struct port_vvu *find(const char *bdf)
{
	const struct port_registry *r = g.env->reg;

	for (unsigned int i = 0; bdf[0] && i < r->n; i++)
		if (r->p[i]->cls == &port_vvu_class &&
		    strcmp(pv(r->p[i])->bdf, bdf) == 0)
			return pv(r->p[i]);
	return NULL;
}

/* The uuid port waiting for the device with this uuid, or NULL. */
static struct port_vvu *find_uuid(const char *uuid)
{
	const struct port_registry *r = g.env->reg;

	for (unsigned int i = 0; uuid[0] && i < r->n; i++)
		if (r->p[i]->cls == &port_vvu_class && !pv(r->p[i])->vp &&
		    strcmp(pv(r->p[i])->uuid, uuid) == 0)
			return pv(r->p[i]);
	return NULL;
}

/* bdf is named by a [port] pci =, listed in vvu =, or vvu = auto. */
static bool wanted_by_address(const char *bdf)
{
	const struct vvu_config *c = g.env->cfg;

	if (c->vvu_mode == VVU_MODE_AUTO)
		return true;
	for (unsigned int i = 0; i < c->nports; i++)
		if (strcmp(c->ports[i].pci, bdf) == 0)
			return true;
	for (unsigned int i = 0; c->vvu_mode == VVU_MODE_LIST && i < c->nvvu; i++)
		if (strcmp(c->vvu[i], bdf) == 0)
			return true;
	return false;
}

static bool has_uuid_ports(void)
{
	for (unsigned int i = 0; i < g.env->cfg->nports; i++)
		if (g.env->cfg->ports[i].uuid[0])
			return true;
	return false;
}

static bool ignored(const char *bdf)
{
	for (unsigned int i = 0; i < g.nignored; i++)
		if (strcmp(g.ignored[i], bdf) == 0)
			return true;
	return false;
}

static void uuid_str(const uint8_t *u, char *buf, size_t n);

/* A port record for device bdf, absent until probed.  NULL if full. */
static struct port_vvu *new_port(const char *bdf, bool discovered)
{
	const struct vvu_config *cfg = g.env->cfg;
	struct port_vvu *v = calloc(1, sizeof(*v));
	char name[VVU_NAME_MAX];
	/*
	 * Without a [port] section a device offers all the queue pairs it
	 * has (max-vhost-queues / 2, at most 8), as OVS does for vhost-user
	 * ports: a multiqueue peer on a port that offers fewer than it asks
	 * for is refused, and QEMU retries for ever.
	 */
	unsigned int queues = VU_MAX_QUEUE_PAIRS;

	if (!v)
		return NULL;
	vvu_config_vvu_name(cfg, bdf, name, sizeof(name));
	for (unsigned int i = 0; i < cfg->nports; i++)
		if (strcmp(cfg->ports[i].pci, bdf) == 0)
			queues = cfg->ports[i].queues;
	port_init(&v->base, &port_vvu_class, g.env, name, queues);
	v->discovered = discovered;
	memcpy(v->bdf, bdf, VVU_BDF_LEN);
	snprintf(v->error, sizeof(v->error), "%s", not_present);
	if (port_reg_add(g.env->reg, &v->base)) {
		vlog_err("vvu %s: port %s exists, or more than %d ports", bdf, name,
			 SW_MAX_PORTS);
		free(v);
		return NULL;
	}
	return v;
}

/* The record of a [port] with uuid =, absent until its device comes. */
static struct port_vvu *new_uuid_port(const struct vvu_port_cfg *c)
{
	struct port_vvu *v = calloc(1, sizeof(*v));

	if (!v)
		return NULL;
	port_init(&v->base, &port_vvu_class, g.env, c->name, c->queues);
	memcpy(v->uuid, c->uuid, sizeof(v->uuid));
	snprintf(v->error, sizeof(v->error), "%s", not_present);
	if (port_reg_add(g.env->reg, &v->base)) {
		vlog_err("vvu: port %s exists, or more than %d ports", c->name,
			 SW_MAX_PORTS);
		free(v);
		return NULL;
	}
	return v;
}

/*
 * A device no port names by address, while some port names its device
 * by uuid: open it to read its uuid.  Returns the uuid port that takes
 * it (its bdf set), NULL when the device is another's to decide (a new
 * port if it is wanted by address), or sets *skip when nobody wants it.
 */
static struct port_vvu *claim_by_uuid(const char *bdf, struct rte_pci_device *pdev,
				      bool *skip)
{
	struct vvu_port *vp = calloc(1, sizeof(*vp));
	struct port_vvu *v = NULL;
	char uuid[VVU_UUID_LEN] = "";

	*skip = false;
	if (!vp)
		return NULL;
	if (dvvu_port_open(vp, pdev, bdf, 1) == 0) {
		uuid_str(vp->pci.uuid, uuid, sizeof(uuid));
		dvvu_port_close(vp);
	}
	free(vp);
	v = find_uuid(uuid);
	if (v) {
		memcpy(v->bdf, bdf, VVU_BDF_LEN);
		vlog_info("%s: device %s has uuid %s", v->base.name, bdf, uuid);
	} else if (!wanted_by_address(bdf)) {
		*skip = true;
		if (g.nignored < SW_MAX_PORTS)
			memcpy(g.ignored[g.nignored++], bdf, VVU_BDF_LEN);
		vlog_info("vvu: %s (uuid %s) is no port's: left alone", bdf,
			  uuid[0] ? uuid : "none");
	}
	return v;
}

static struct port_vvu *find_or_new(const char *bdf)
{
	struct port_vvu *v = find(bdf);

	return v ? v : new_port(bdf, g.env->cfg->vvu_mode == VVU_MODE_AUTO);
}

static void set_failed(struct port_vvu *v, const char *what, const char *detail)
{
	v->failed = true;
	snprintf(v->error, sizeof(v->error), "%.40s%.150s", what, detail);
	vlog_err("%s: %s", v->base.name, v->error);
}

/* dvvu hook: device bdf was probed by DPDK. */
static int vvu_add(void *arg, const char *bdf, struct rte_pci_device *pdev)
{
	struct port_vvu *v = find(bdf);
	bool skip = false;
	int rc;

	(void)arg;
	if (!v && has_uuid_ports())
		v = claim_by_uuid(bdf, pdev, &skip);
	if (skip)
		return -ENODEV;
	if (!v)
		v = find_or_new(bdf);
	if (!v)
		return -ENOSPC;
	if (v->vp)
		return -EEXIST;
	v->vp = calloc(1, sizeof(*v->vp));
	if (!v->vp)
		return -ENOMEM;
	rc = dvvu_port_open(v->vp, pdev, v->base.name, v->base.queues);
	if (rc) {
		char why[192], pre[40];

		snprintf(pre, sizeof(pre), "cannot open %s: ", bdf);
		snprintf(why, sizeof(why), "%s", v->vp->last_error[0] ?
			 v->vp->last_error : strerror(-rc));
		free(v->vp);
		v->vp = NULL;
		set_failed(v, pre, why);
		return rc;
	}
	v->base.queues = v->vp->net.dev.max_qp;	/* capped by the device */
	rc = port_attach(&v->base, &v->vp->net);
	if (rc) {
		dvvu_port_close(v->vp);
		free(v->vp);
		v->vp = NULL;
		set_failed(v, "switch refused the port: ", strerror(-rc));
		return rc;
	}
	v->error[0] = '\0';
	v->failed = false;
	v->attaches++;
	vlog_info("%s: virtio-vhost-user device %s, %u queue pair(s), %u fds",
		  v->base.name, bdf, v->base.queues, v->base.nfds);
	g.env->kicked = true;
	return 0;
}

/* dvvu hook: device bdf is being detached (hot-removed or shutdown). */
static void vvu_remove(void *arg, const char *bdf)
{
	struct port_vvu *v = find(bdf);

	(void)arg;
	if (!v || !v->vp)
		return;
	port_detach(&v->base);
	v->connects0 += v->vp->connects;
	v->disconnects0 += v->vp->disconnects;
	dvvu_port_close(v->vp);
	free(v->vp);
	v->vp = NULL;
	v->detaches++;
	memcpy(g.gone[g.next_gone].bdf, bdf, VVU_BDF_LEN);
	g.gone[g.next_gone].at = ev_now_ns();
	g.next_gone = (g.next_gone + 1) % NGONE;
	snprintf(v->error, sizeof(v->error), "device removed");
	vlog_info("%s: device %s detached", v->base.name, bdf);
	if (v->uuid[0])
		v->bdf[0] = '\0';	/* its device may come back anywhere */
	if (v->discovered && !g.env->stopping)
		port_destroy(&v->base);
}

static bool recently_gone(const char *bdf, uint64_t now)
{
	for (unsigned int i = 0; i < NGONE; i++)
		if (g.gone[i].at && now - g.gone[i].at < GONE_NS &&
		    strcmp(g.gone[i].bdf, bdf) == 0)
			return true;
	return false;
}

/*
 * Of the candidates pci_scan lists, the devices the config wants that
 * have no open port yet, bound to vfio-pci.  Returns how many are in out.
 */
static unsigned int wanted(char (*out)[VVU_BDF_LEN], unsigned int max)
{
	char found[SW_MAX_PORTS][VVU_BDF_LEN];
	unsigned int n = pci_scan(PCI_SYSFS, found, SW_MAX_PORTS), k = 0;
	uint64_t now = ev_now_ns();

	for (unsigned int i = 0; i < n && k < max; i++) {
		struct port_vvu *v;
		char err[192];

		if (!vvu_config_wants(g.env->cfg, found[i]) ||
		    recently_gone(found[i], now) || ignored(found[i]))
			continue;
		v = find(found[i]);
		if (v && (v->vp || v->failed))
			continue;
		if (pci_bind_vfio(PCI_SYSFS, found[i], err, sizeof(err))) {
			if (!v && wanted_by_address(found[i]))
				v = find_or_new(found[i]);
			if (v && strcmp(v->error, err) != 0) {
				vlog_warn("%s: %s", v->base.name, err);
				snprintf(v->error, sizeof(v->error), "%s", err);
			}
			continue;
		}
		memcpy(out[k++], found[i], VVU_BDF_LEN);
	}
	return k;
}

static void eal_event_cb(void *arg, int fd, uint32_t events)
{
	(void)arg;
	(void)fd;
	(void)events;
	g.env->kicked = true;
}

static int vvu_start(struct port_env *env)
{
	const struct vvu_config *cfg = env->cfg;
	char found[SW_MAX_PORTS][VVU_BDF_LEN], err[256];
	struct dvvu_hooks hooks = { vvu_add, vvu_remove, NULL };
	unsigned int n;
	int rc;

	g.env = env;
	if (!vvu_config_has_vvu(cfg))
		return 0;
	if (dvvu_unavailable()) {
		vlog_err("vvu: %s", dvvu_unavailable());
		return -ENOTSUP;
	}
	/* Named and listed devices show as ports even while absent. */
	for (unsigned int i = 0; i < cfg->nports; i++)
		if (cfg->ports[i].pci[0] && !find(cfg->ports[i].pci))
			new_port(cfg->ports[i].pci, false);
	for (unsigned int i = 0; cfg->vvu_mode == VVU_MODE_LIST && i < cfg->nvvu; i++)
		if (!find(cfg->vvu[i]))
			new_port(cfg->vvu[i], false);
	for (unsigned int i = 0; i < cfg->nports; i++)
		if (cfg->ports[i].uuid[0])
			new_uuid_port(&cfg->ports[i]);
	n = wanted(found, SW_MAX_PORTS);
	rc = dvvu_start(cfg, found, n, &hooks, err, sizeof(err));
	if (rc) {
		vlog_err("vvu: %s", err);
		return rc;
	}
	g.started = true;
	env->tick_ms = VVU_TICK_MS;	/* message queues have no fd for every event */
	if (dvvu_event_fd() >= 0)
		ev_add(env->ev, dvvu_event_fd(), eal_event_cb, NULL);
	/* A device EAL saw but did not give us failed its probe. */
	for (unsigned int i = 0; i < n; i++) {
		struct port_vvu *v = find(found[i]);

		if (v && !v->vp && !v->failed) {
			v->failed = true;
			if (!strcmp(v->error, not_present))
				snprintf(v->error, sizeof(v->error), "DPDK did not probe it");
		}
	}
	g.next_scan_ns = ev_now_ns() + RESCAN_NS;
	vlog_info("vvu: %u device(s) at start, mode %s", n,
		  cfg->vvu_mode == VVU_MODE_AUTO ? "auto" : "list");
	return 0;
}

/* Every service pass: release requests; every second: new devices. */
static void vvu_run(struct port_env *env, uint64_t now)
{
	char found[SW_MAX_PORTS][VVU_BDF_LEN];
	unsigned int n;

	(void)env;
	if (!g.started)
		return;
	if (dvvu_removal_pending())
		dvvu_handle_removals(now);
	if (now < g.next_scan_ns)
		return;
	g.next_scan_ns = now + RESCAN_NS;
	n = wanted(found, SW_MAX_PORTS);
	for (unsigned int i = 0; i < n; i++) {
		int rc;

		vlog_info("vvu: %s appeared: probing", found[i]);
		rc = dvvu_probe(found[i]);
		if (rc && !ignored(found[i])) {
			struct port_vvu *v = wanted_by_address(found[i]) ?
					     find_or_new(found[i]) : find(found[i]);

			if (v && !v->failed) {
				v->failed = true;
				if (!v->error[0] || !strcmp(v->error, not_present))
					snprintf(v->error, sizeof(v->error),
						 "DPDK probe failed: %s", strerror(-rc));
				vlog_err("%s: %s", v->base.name, v->error);
			}
		}
	}
}

static void vvu_stop(struct port_env *env)
{
	(void)env;
	if (g.started)
		dvvu_stop();	/* closes every open port through vvu_remove */
	g.started = false;
}

static bool vvu_running(void)
{
	return g.started;
}

static bool vvu_takes(const struct vvu_port_cfg *c)
{
	return c->pci[0] != '\0' || c->uuid[0] != '\0';
}

static int vvu_create(struct port_env *env, const struct vvu_port_cfg *c,
		      struct port **out, char *err, size_t errlen)
{
	(void)env;
	(void)c;
	(void)out;
	snprintf(err, errlen, "a virtio-vhost-user port comes from the config "
		 "(pci =) or from vvu = auto, not at run time");
	return -ENOTSUP;
}

static bool vvu_deletable(const struct port *p, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s is a virtio-vhost-user device: it goes when "
		 "the device is removed", p->name);
	return false;
}

static const char *vvu_state(const struct port *p)
{
	const struct port_vvu *v = pv(p);

	if (v->failed)
		return "failed";
	if (!v->vp)
		return "absent";
	if (v->vp->state != VVU_ST_SERVING)
		return dvvu_state_name(v->vp->state);
	return NULL;
}

/* RFC 4122 text of the device's uuid; "" when it has none (all zero). */
static void uuid_str(const uint8_t *u, char *buf, size_t n)
{
	uint8_t any = 0;

	for (int i = 0; i < 16; i++)
		any |= u[i];
	if (!any) {
		buf[0] = '\0';
		return;
	}
	snprintf(buf, n, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		 "%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2], u[3], u[4], u[5],
		 u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
}

static void vvu_describe(const struct port *p, struct port_snap *s)
{
	const struct port_vvu *v = pv(p);

	snprintf(s->mode, sizeof(s->mode), "device");
	s->where_key = "pci";
	snprintf(s->where, sizeof(s->where), "%s", v->bdf);
	snprintf(s->uuid, sizeof(s->uuid), "%s", v->uuid);
	if (v->vp) {
		snprintf(s->connection, sizeof(s->connection), "%s",
			 dvvu_state_name(v->vp->state));
		uuid_str(v->vp->pci.uuid, s->uuid, sizeof(s->uuid));
	}
	snprintf(s->last_error, sizeof(s->last_error), "%s",
		 !v->vp || v->failed ? v->error : v->vp->last_error);
	s->connects = v->connects0 + (v->vp ? v->vp->connects : 0);
	s->disconnects = v->disconnects0 + (v->vp ? v->vp->disconnects : 0);
	s->extra[0].key = "bad_messages";
	s->extra[0].v = v->vp ? v->vp->bad_messages : 0;
	s->extra[1].key = "attaches";
	s->extra[1].v = v->attaches;
	s->extra[2].key = "detaches";
	s->extra[2].v = v->detaches;
	/* Frontends that came and went before the driver looked (spec 5). */
	s->extra[3].key = "missed_frontends";
	s->extra[3].v = v->vp ? v->vp->missed : 0;
	/* Frontends the device itself refused, its reason in last_error. */
	s->extra[4].key = "device_refusals";
	s->extra[4].v = v->vp ? v->vp->device_refusals : 0;
	s->nextra = 5;
}

static unsigned int vvu_service(struct port *p, unsigned int budget)
{
	struct port_vvu *v = pv(p);

	return v->vp ? dvvu_port_service(v->vp, budget) : 0;
}

static bool vvu_sync(struct port *p, bool *up)
{
	struct port_vvu *v = pv(p);

	if (!v->vp || (!v->vp->state_dirty && !v->vp->net.state_dirty))
		return false;
	v->vp->state_dirty = v->vp->net.state_dirty = false;
	*up = v->vp->state == VVU_ST_SERVING && vu_net_running(&v->vp->net);
	return true;
}

static unsigned int vvu_fds(const struct port *p, int *fds, unsigned int max)
{
	const struct port_vvu *v = pv(p);

	return v->vp ? dvvu_port_fds(v->vp, fds, max) : 0;
}

static void vvu_close(struct port *p)
{
	struct port_vvu *v = pv(p);

	if (v->vp) {
		dvvu_port_close(v->vp);
		free(v->vp);
	}
	free(v);
}

const struct port_class port_vvu_class = {
	.kind = "vvu",
	.start = vvu_start,
	.run = vvu_run,
	.stop = vvu_stop,
	.status_key = "vvu",
	.running = vvu_running,
	.takes = vvu_takes,
	.create = vvu_create,
	.deletable = vvu_deletable,
	.state = vvu_state,
	.describe = vvu_describe,
	.service = vvu_service,
	.sync = vvu_sync,
	.fds = vvu_fds,
	.close = vvu_close,
};
