/* SPDX-License-Identifier: MIT */
/*
 * daemon_vvu: the daemon's DPDK side for virtio-vhost-user devices: EAL
 * start-up with arguments built from the config, our PCI driver's probe
 * and remove hooks, hot-add (rte_dev_probe) and hot-remove (the kernel's
 * vfio-pci release request, which DPDK reports as a device event).  It
 * trusts the config it is given; device and peer data stay in drivers/vvu.
 * Built without the DPDK PMD, every entry point says so (-ENOTSUP).
 */
#ifndef VVU_DAEMON_VVU_H
#define VVU_DAEMON_VVU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct rte_pci_device;
struct vvu_port;

struct dvvu_hooks {
	/* Device bdf was probed: open a port on it.  0 or -errno. */
	int (*add)(void *arg, const char *bdf, struct rte_pci_device *pdev);
	/* Device bdf is being detached: close its port now. */
	void (*remove)(void *arg, const char *bdf);
	void *arg;
};

/* NULL when the vvu driver is built in, else why it is not. */
const char *dvvu_unavailable(void);

/*
 * Register our driver and run rte_eal_init with: -l 0 --iova-mode=pa
 * --no-telemetry --file-prefix vvu-switchd, --huge-dir cfg->huge_dir (or
 * --in-memory when it is "" or "none"), -a per device in bdfs, then the
 * words of cfg->eal_args.  Devices present are probed (hooks->add) before
 * this returns.  0 or -errno with err set.
 */
int dvvu_start(const struct vvu_config *cfg, char (*bdfs)[VVU_BDF_LEN],
	       unsigned int n, const struct dvvu_hooks *hooks, char *err,
	       size_t errlen);

/* Build the EAL argument vector (exposed for unit tests).  Returns argc
 * or -E2BIG; argv entries point into buf. */
int dvvu_eal_args(const struct vvu_config *cfg, char (*bdfs)[VVU_BDF_LEN],
		  unsigned int n, char *buf, size_t buflen, char **argv,
		  int max);

/* True once dvvu_start has started EAL (ethdev ports need it). */
bool dvvu_started(void);

/* Probe one more device (hot-added): hooks->add runs.  0 or -errno. */
int dvvu_probe(const char *bdf);

/*
 * An eventfd that becomes readable when the kernel asked for a device
 * back; -1 before dvvu_start.  dvvu_handle_removals() then detaches the
 * devices asked for at least 100 ms ago (DPDK's request handler must have
 * returned first), calling hooks->remove.  Returns how many it detached.
 */
int dvvu_event_fd(void);
unsigned int dvvu_handle_removals(uint64_t now_ns);
/* True while a release request waits for dvvu_handle_removals(). */
bool dvvu_removal_pending(void);

/* Detach every device (hooks->remove for each) and clean up EAL. */
void dvvu_stop(void);

/* vvu_port, through the DPDK library (see drivers/vvu/vvu_port.h). */
int dvvu_port_open(struct vvu_port *p, struct rte_pci_device *pdev,
		   const char *name, unsigned int max_qp);
void dvvu_port_close(struct vvu_port *p);
unsigned int dvvu_port_service(struct vvu_port *p, unsigned int budget);
unsigned int dvvu_port_fds(const struct vvu_port *p, int *fds,
			   unsigned int max);
const char *dvvu_state_name(int state);

#endif
