/* SPDX-License-Identifier: MIT */
/*
 * daemon_vvu: DPDK glue for the daemon's virtio-vhost-user ports.  It
 * owns EAL's life, the table of probed devices and the queue of release
 * requests the kernel makes through vfio-pci.  The only input it takes
 * from outside the process is DPDK's device event (a device name), which
 * is matched against the table; device and peer data are drivers/vvu's.
 */
#include "daemon_vvu.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vlog.h"

/* Split cfg->eal_args on blanks into buf/argv after the fixed words. */
int dvvu_eal_args(const struct vvu_config *cfg, char (*bdfs)[VVU_BDF_LEN],
		  unsigned int n, char *buf, size_t buflen, char **argv, int max)
{
	size_t used = 0;
	int argc = 0;
	const char *w;

#define PUT(s)								\
	do {								\
		size_t l_ = strlen(s);					\
		if (argc + 1 >= max || used + l_ + 1 > buflen)		\
			return -E2BIG;					\
		memcpy(buf + used, (s), l_ + 1);			\
		argv[argc++] = buf + used;				\
		used += l_ + 1;						\
	} while (0)

	PUT("vvu-switchd");
	PUT("-l");
	PUT("0");
	PUT("--iova-mode=pa");
	PUT("--no-telemetry");
	PUT("--file-prefix=vvu-switchd");
	if (!cfg->huge_dir[0] || strcmp(cfg->huge_dir, "none") == 0) {
		PUT("--in-memory");
	} else {
		PUT("--huge-dir");
		PUT(cfg->huge_dir);
	}
	for (unsigned int i = 0; i < n; i++) {
		PUT("-a");
		PUT(bdfs[i]);
	}
	w = cfg->eal_args;
	for (;;) {
		size_t l;

		while (isspace((unsigned char)*w))
			w++;
		if (!*w)
			break;
		for (l = 0; w[l] && !isspace((unsigned char)w[l]); l++)
			;
		if (argc + 1 >= max || used + l + 1 > buflen)
			return -E2BIG;
		memcpy(buf + used, w, l);
		buf[used + l] = '\0';
		argv[argc++] = buf + used;
		used += l + 1;
		w += l;
	}
#undef PUT
	argv[argc] = NULL;
	return argc;
}

#ifdef VVU_HAVE_DPDK

#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <rte_bus_pci.h>
#include <rte_dev.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <bus_pci_driver.h>

#include "ev.h"
#include "vvu_port.h"
#include "vvu_probe.h"

#define REMOVE_DELAY_NS 100000000ull	/* let DPDK's request handler return */

struct dev_slot {
	char bdf[VVU_BDF_LEN];
	struct rte_pci_device *pdev;	/* NULL: slot free */
};

static struct {
	struct dvvu_hooks hooks;
	bool started;
	int event_fd;
	struct dev_slot devs[SW_MAX_PORTS];
	/* Release requests, written by DPDK's interrupt thread. */
	pthread_mutex_t lock;
	struct { char bdf[VVU_BDF_LEN]; uint64_t at; } req[SW_MAX_PORTS];
	unsigned int nreq;
} g = { .event_fd = -1, .lock = PTHREAD_MUTEX_INITIALIZER };

const char *dvvu_unavailable(void)
{
	return NULL;
}

static struct dev_slot *slot_of(const char *bdf)
{
	for (unsigned int i = 0; i < SW_MAX_PORTS; i++)
		if (g.devs[i].pdev && strcmp(g.devs[i].bdf, bdf) == 0)
			return &g.devs[i];
	return NULL;
}

static int probe_hook(void *arg, struct rte_pci_device *pdev)
{
	struct dev_slot *s = NULL;
	char bdf[VVU_BDF_LEN];
	int rc;

	(void)arg;
	if (vvu_bdf_parse(pdev->name, bdf))
		return -EINVAL;
	for (unsigned int i = 0; i < SW_MAX_PORTS && !s; i++)
		if (!g.devs[i].pdev)
			s = &g.devs[i];
	if (!s)
		return -ENOSPC;
	rc = g.hooks.add(g.hooks.arg, bdf, pdev);
	if (rc == 0) {
		memcpy(s->bdf, bdf, sizeof(bdf));
		s->pdev = pdev;
	}
	return rc;
}

static void remove_hook(void *arg, struct rte_pci_device *pdev)
{
	char bdf[VVU_BDF_LEN];
	struct dev_slot *s;

	(void)arg;
	if (vvu_bdf_parse(pdev->name, bdf))
		return;
	s = slot_of(bdf);
	if (s)
		s->pdev = NULL;
	g.hooks.remove(g.hooks.arg, bdf);
}

/* DPDK's interrupt thread: the kernel wants the device back. */
static void event_cb(const char *name, enum rte_dev_event_type type, void *arg)
{
	char bdf[VVU_BDF_LEN];
	uint64_t one = 1;
	bool queued = false;

	(void)arg;
	if (type != RTE_DEV_EVENT_REMOVE || !name || vvu_bdf_parse(name, bdf))
		return;
	pthread_mutex_lock(&g.lock);
	for (unsigned int i = 0; i < g.nreq; i++)
		queued |= strcmp(g.req[i].bdf, bdf) == 0;
	if (!queued && g.nreq < SW_MAX_PORTS) {
		memcpy(g.req[g.nreq].bdf, bdf, sizeof(bdf));
		g.req[g.nreq].at = ev_now_ns();
		g.nreq++;
	}
	pthread_mutex_unlock(&g.lock);
	if (write(g.event_fd, &one, sizeof(one)) < 0)
		return;	/* the loop's 10 ms tick sees the queue anyway */
}

int dvvu_start(const struct vvu_config *cfg, char (*bdfs)[VVU_BDF_LEN],
	       unsigned int n, const struct dvvu_hooks *hooks, char *err,
	       size_t errlen)
{
	static const struct vvu_probe_hooks ph = {
		.probe = probe_hook, .remove = remove_hook,
	};
	char buf[1024], *argv[96];
	int argc, rc;

	argc = dvvu_eal_args(cfg, bdfs, n, buf, sizeof(buf), argv, 96);
	if (argc < 0) {
		snprintf(err, errlen, "too many EAL arguments");
		return argc;
	}
	g.hooks = *hooks;
	g.event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (g.event_fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		return rc;
	}
	rc = vvu_probe_register(&ph);
	if (rc) {
		snprintf(err, errlen, "cannot register the vvu driver: %s",
			 strerror(-rc));
		return rc;
	}
	{
		char line[512];
		size_t len = 0;

		line[0] = '\0';
		for (int i = 1; i < argc && len < sizeof(line); i++)
			len += (size_t)snprintf(line + len, sizeof(line) - len, " %s",
						argv[i]);
		vlog_info("vvu: EAL arguments:%s", line);
	}
	if (rte_eal_init(argc, argv) < 0) {
		rc = rte_errno ? -rte_errno : -EIO;
		snprintf(err, errlen, "rte_eal_init failed: %s",
			 rte_strerror(rte_errno));
		return rc;
	}
	g.started = true;
	rc = rte_dev_event_callback_register(NULL, event_cb, NULL);
	if (rc)
		vlog_warn("vvu: no device events (%d): hot-removal will hang", rc);
	return 0;
}

bool dvvu_started(void)
{
	return g.started;
}

int dvvu_probe(const char *bdf)
{
	int rc;

	if (!g.started)
		return -ENODEV;
	rc = rte_dev_probe(bdf);
	return rc < 0 ? rc : (rc > 0 ? -rc : 0);
}

int dvvu_event_fd(void)
{
	return g.event_fd;
}

bool dvvu_removal_pending(void)
{
	bool any;

	pthread_mutex_lock(&g.lock);
	any = g.nreq != 0;
	pthread_mutex_unlock(&g.lock);
	return any;
}

unsigned int dvvu_handle_removals(uint64_t now_ns)
{
	char due[SW_MAX_PORTS][VVU_BDF_LEN];
	unsigned int ndue = 0, done = 0;
	uint64_t v;

	if (g.event_fd >= 0 && read(g.event_fd, &v, sizeof(v)) < 0 &&
	    errno != EAGAIN)
		vlog_warn("vvu: event fd: %s", strerror(errno));
	pthread_mutex_lock(&g.lock);
	for (unsigned int i = 0; i < g.nreq;) {
		if (now_ns - g.req[i].at < REMOVE_DELAY_NS) {
			i++;
			continue;
		}
		memcpy(due[ndue++], g.req[i].bdf, VVU_BDF_LEN);
		g.req[i] = g.req[--g.nreq];
	}
	pthread_mutex_unlock(&g.lock);
	for (unsigned int i = 0; i < ndue; i++) {
		struct dev_slot *s = slot_of(due[i]);
		int rc;

		if (!s)
			continue;
		vlog_info("vvu: %s: the kernel asks for it back: detaching", due[i]);
		rc = rte_dev_remove(&s->pdev->device);
		if (rc)
			vlog_err("vvu: %s: detach failed: %s", due[i],
				 rte_strerror(-rc));
		else
			done++;
	}
	return done;
}

void dvvu_stop(void)
{
	if (!g.started)
		return;
	rte_dev_event_callback_unregister(NULL, event_cb, NULL);
	for (unsigned int i = 0; i < SW_MAX_PORTS; i++) {
		if (!g.devs[i].pdev)
			continue;
		if (rte_dev_remove(&g.devs[i].pdev->device)) {
			/* Close the port at least; EAL cleanup does the rest. */
			char bdf[VVU_BDF_LEN];

			memcpy(bdf, g.devs[i].bdf, sizeof(bdf));
			g.devs[i].pdev = NULL;
			g.hooks.remove(g.hooks.arg, bdf);
		}
	}
	rte_eal_cleanup();
	g.started = false;
	close(g.event_fd);
	g.event_fd = -1;
}

int dvvu_port_open(struct vvu_port *p, struct rte_pci_device *pdev,
		   const char *name, unsigned int max_qp)
{
	/* Kick vectors: the daemon sleeps on its peers' kicks. */
	return vvu_port_open(p, pdev, name, max_qp, true);
}

void dvvu_port_close(struct vvu_port *p)
{
	vvu_port_close(p);
}

unsigned int dvvu_port_service(struct vvu_port *p, unsigned int budget)
{
	return vvu_port_service(p, budget);
}

unsigned int dvvu_port_fds(const struct vvu_port *p, int *fds,
			   unsigned int max)
{
	return vvu_port_fds(p, fds, max);
}

const char *dvvu_state_name(int state)
{
	return vvu_state_name((enum vvu_state)state);
}

#else /* !VVU_HAVE_DPDK */

#ifndef VVU_NO_DPDK_REASON
#define VVU_NO_DPDK_REASON "the vvu PMD was not built"
#endif

const char *dvvu_unavailable(void)
{
	return "built without virtio-vhost-user support: " VVU_NO_DPDK_REASON;
}

int dvvu_start(const struct vvu_config *cfg, char (*bdfs)[VVU_BDF_LEN],
	       unsigned int n, const struct dvvu_hooks *hooks, char *err,
	       size_t errlen)
{
	(void)cfg; (void)bdfs; (void)n; (void)hooks;
	snprintf(err, errlen, "%s", dvvu_unavailable());
	return -ENOTSUP;
}

bool dvvu_started(void)
{
	return false;
}

int dvvu_probe(const char *bdf)
{
	(void)bdf;
	return -ENOTSUP;
}

int dvvu_event_fd(void)
{
	return -1;
}

bool dvvu_removal_pending(void)
{
	return false;
}

unsigned int dvvu_handle_removals(uint64_t now_ns)
{
	(void)now_ns;
	return 0;
}

void dvvu_stop(void)
{
}

int dvvu_port_open(struct vvu_port *p, struct rte_pci_device *pdev,
		   const char *name, unsigned int max_qp)
{
	(void)p; (void)pdev; (void)name; (void)max_qp;
	return -ENOTSUP;
}

void dvvu_port_close(struct vvu_port *p)
{
	(void)p;
}

unsigned int dvvu_port_service(struct vvu_port *p, unsigned int budget)
{
	(void)p; (void)budget;
	return 0;
}

unsigned int dvvu_port_fds(const struct vvu_port *p, int *fds,
			   unsigned int max)
{
	(void)p; (void)fds; (void)max;
	return 0;
}

const char *dvvu_state_name(int state)
{
	(void)state;
	return "unsupported";
}

#endif
