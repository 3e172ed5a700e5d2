/* SPDX-License-Identifier: MIT */
/*
 * vvu_port: one virtio-vhost-user device as one vhost-user net port.  It
 * owns the PCI device, the transport and the vu_net, and runs the
 * connection life cycle of spec section 5 as a state x event table.  The
 * owner (the ethdev PMD, or a daemon) calls vvu_port_service() from one
 * thread at a time and uses port->net through vu_net_port_ops.
 *
 * A daemon without ethdev: vvu_probe_register() before rte_eal_init()
 * (EAL arguments: -a <bdf> per device, --iova-mode=pa unless the device
 * has iommu_platform=on); in the probe hook vvu_port_open() and
 * sw_port_add(sw, name, &vu_net_port_ops, &port->net); in the event loop
 * watch vvu_port_fds() and call vvu_port_service() when one fires or
 * every 10 ms; report the port up when state is VVU_ST_SERVING and
 * vu_net_running(&port->net), checking state_dirty / net.state_dirty as
 * for vut.  All from the loop's thread: no lock is needed then.
 */
#ifndef VVU_PORT_H
#define VVU_PORT_H

#include <stdbool.h>
#include <stdint.h>

#include "vu_net.h"
#include "vvu_pci.h"
#include "vvu_transport.h"

enum vvu_state {
	VVU_ST_ARMED,		/* BACKEND_UP written, waiting for FRONTEND_UP */
	VVU_ST_SERVING,		/* FRONTEND_UP: messages belong to this frontend */
	VVU_ST_DROPPING,	/* we cleared BACKEND_UP, waiting for FRONTEND_UP = 0 */
	VVU_ST_BROKEN,		/* the device broke a rule: reset needed */
	VVU_NSTATES
};

enum vvu_event {
	VVU_EV_FRONTEND_UP,
	VVU_EV_FRONTEND_DOWN,
	VVU_EV_BAD_MESSAGE,	/* frontend broke the protocol */
	VVU_EV_DEVICE_FAULT,	/* device broke a ring or status rule */
	VVU_EV_FRONTEND_MISSED,	/* a frontend came and went while we were armed */
	VVU_NEVENTS
};

struct vvu_port {
	char name[32];
	struct vvu_pci pci;
	struct vvu_tport tp;
	struct vu_net net;
	enum vvu_state state;
	uint64_t next_status_check;	/* timer cycles */
	uint64_t status_period;
	uint64_t connects, disconnects, bad_messages;
	uint64_t missed;		/* frontends that came and went unseen */
	uint32_t armed_gen;		/* frontend generation when we last armed */
	uint32_t device_refusals;	/* the device's refusal count we have shown */
	char last_error[192];
	bool state_dirty;		/* state changed: the owner should look */
};

/*
 * Bring the device at pdev up and arm it.  max_qp queue pairs are offered
 * (capped by the device's max_vhost_queues / 2).  kick_vectors: program
 * MSI-X vectors for kicks so vvu_port_fds() can be slept on; otherwise
 * the datapath polls.  0 or -errno with last_error set.
 */
int vvu_port_open(struct vvu_port *p, struct rte_pci_device *pdev,
		  const char *name, unsigned int max_qp, bool kick_vectors);

/* Disconnect, reset the device, free everything. */
void vvu_port_close(struct vvu_port *p);

/*
 * Handle config changes and up to budget messages.  Never waits: replies
 * the txq has no room for wait in a bounded backlog and go out on a later
 * call; a device that takes none back for VVU_BACKLOG_MAX replies breaks
 * the port.  Returns the messages handled.
 */
unsigned int vvu_port_service(struct vvu_port *p, unsigned int budget);

/*
 * The eventfds to sleep on before calling vvu_port_service() again:
 * config change and rxq (and, with kick_vectors, the kick vectors).
 * Returns how many were put in fds (up to max); 0 means poll.
 */
unsigned int vvu_port_fds(const struct vvu_port *p, int *fds,
			  unsigned int max);

const char *vvu_state_name(enum vvu_state s);

#endif
