/* SPDX-License-Identifier: MIT */
/*
 * vvu_port: the virtio-vhost-user connection life cycle (spec section 5).
 *
 * Security model: the frontend is untrusted and reaches us only as rxq
 * messages, which vu_dev validates; a message that breaks framing makes
 * us drop that frontend (BACKEND_UP = 0) and re-arm, nothing more.  The
 * device is semi-trusted: a ring or status rule it breaks marks only this
 * port broken, logged once.  Every state change goes through one table.
 */
#include "vvu_port.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_cycles.h>

#include "vlog.h"

static const char *const state_names[VVU_NSTATES] = {
	"armed", "serving", "dropping", "broken",
};

static const char *const event_names[VVU_NEVENTS] = {
	"frontend-up", "frontend-down", "bad-message", "device-fault",
	"frontend-missed",
};

const char *vvu_state_name(enum vvu_state s)
{
	return s < VVU_NSTATES ? state_names[s] : "?";
}

static int port_send(void *arg, const void *buf, size_t len)
{
	struct vvu_port *p = arg;

	return vvu_pci_send(&p->pci, buf, len, false);
}

static int port_vector_fd(void *arg, unsigned int v)
{
	struct vvu_port *p = arg;

	return vvu_pci_vector_fd(&p->pci, v);
}

/*
 * Spec 5 step 5: forget the old frontend and ask for the next.  The
 * generation is read while BACKEND_UP is 0, so no frontend can come up
 * between the read and the arming: the next one makes it armed_gen + 1.
 */
static void arm(struct vvu_port *p)
{
	vvu_pci_set_status(&p->pci, 0);
	(void)vvu_pci_frontend_gen(&p->pci, &p->armed_gen);
	vvu_pci_set_status(&p->pci, VVU_STATUS_BACKEND_UP);
}

static void rearm(struct vvu_port *p)
{
	vu_dev_disconnect(&p->net.dev);
	vvu_pci_rx_drain(&p->pci);
	vvu_pci_tx_reset(&p->pci);	/* the old frontend's replies */
	arm(p);
}

/* Actions, one per (state, event) that does something. */
enum action { A_NONE, A_SERVE, A_REARM, A_DROP, A_BREAK };

static const uint8_t table[VVU_NSTATES][VVU_NEVENTS] = {
	/*                  up       down     bad-msg  fault    missed */
	[VVU_ST_ARMED] = { A_SERVE, A_NONE, A_DROP, A_BREAK, A_REARM },
	[VVU_ST_SERVING] = { A_NONE, A_REARM, A_DROP, A_BREAK, A_NONE },
	[VVU_ST_DROPPING] = { A_NONE, A_REARM, A_NONE, A_BREAK, A_NONE },
	[VVU_ST_BROKEN] = { A_NONE, A_NONE, A_NONE, A_NONE, A_NONE },
};

static void event(struct vvu_port *p, enum vvu_event ev, const char *why)
{
	enum vvu_state from = p->state;

	switch (table[from][ev]) {
	case A_SERVE:
		p->state = VVU_ST_SERVING;
		p->connects++;
		break;
	case A_REARM:
		if (from == VVU_ST_SERVING)
			p->disconnects++;
		if (ev == VVU_EV_FRONTEND_MISSED)
			p->missed++;
		rearm(p);
		p->state = VVU_ST_ARMED;
		break;
	case A_DROP:
		snprintf(p->last_error, sizeof(p->last_error), "%s", why);
		p->bad_messages++;
		vu_dev_disconnect(&p->net.dev);
		vvu_pci_set_status(&p->pci, 0);
		p->state = VVU_ST_DROPPING;
		break;
	case A_BREAK:
		snprintf(p->last_error, sizeof(p->last_error), "%s", why);
		vu_dev_disconnect(&p->net.dev);
		/* Let the frontend go rather than hang on replies. */
		vvu_pci_set_status(&p->pci, 0);
		p->state = VVU_ST_BROKEN;
		break;
	default:
		return;
	}
	p->state_dirty = true;
	if (p->state == VVU_ST_BROKEN || table[from][ev] == A_DROP)
		vlog_rl(&p->net.dev.rl, VLOG_ERR, "%s: %s -> %s on %s: %s", p->name,
			state_names[from], state_names[p->state], event_names[ev], why);
	else
		vlog_rl(&p->net.dev.rl, VLOG_INFO, "%s: %s -> %s on %s", p->name,
			state_names[from], state_names[p->state], event_names[ev]);
}

/* A frontend the device refused shows as this port's last error. */
static void check_refusals(struct vvu_port *p)
{
	char why[VVU_CFG_REASON_LEN + 1];
	uint32_t n = vvu_pci_refusals(&p->pci, why, sizeof(why));

	if (n == p->device_refusals)
		return;
	p->device_refusals = n;
	snprintf(p->last_error, sizeof(p->last_error), "device refused the frontend: %s",
		 why);
	p->bad_messages++;
}

static void check_status(struct vvu_port *p)
{
	uint32_t st, gen;
	bool has_gen;

	if (vvu_pci_needs_reset(&p->pci)) {
		event(p, VVU_EV_DEVICE_FAULT, "device needs reset");
		return;
	}
	check_refusals(p);
	/*
	 * The generation first, then the status: a frontend that comes up
	 * between the two reads is seen up, never taken for one that came and
	 * went (which would drop it).
	 */
	has_gen = vvu_pci_frontend_gen(&p->pci, &gen);
	st = vvu_pci_status(&p->pci);
	if (st & VVU_STATUS_FRONTEND_UP)
		event(p, VVU_EV_FRONTEND_UP, "");
	else if (p->state == VVU_ST_ARMED && has_gen && gen != p->armed_gen)
		/* It came and went between two looks: re-arm for the next (spec 5). */
		event(p, VVU_EV_FRONTEND_MISSED, "");
	else
		event(p, VVU_EV_FRONTEND_DOWN, "");
}

static void handle_msg(struct vvu_port *p, struct vu_msg *m, size_t len,
		       enum vvu_msg_kind kind)
{
	char why[200];

	if (p->state != VVU_ST_SERVING)
		return;		/* dropping: the old frontend's leftovers */
	if (kind == VVU_MSG_BACKEND_REPLY) {
		/* We send no backend requests, so nobody waits for this. */
		vlog_rl(&p->net.dev.rl, VLOG_WARN,
			"%s: unexpected backend-channel message %u: ignored",
			p->name, m->hdr.request);
		return;
	}
	/* A reply the device had no room for is the device's fault, below. */
	if (vu_dev_handle(&p->net.dev, m, len, NULL, 0) && !p->pci.tx_overflow) {
		snprintf(why, sizeof(why), "%s", p->net.dev.last_error);
		event(p, VVU_EV_BAD_MESSAGE, why);
	}
}

unsigned int vvu_port_service(struct vvu_port *p, unsigned int budget)
{
	uint64_t now = rte_get_timer_cycles();
	int cfd = vvu_pci_vector_fd(&p->pci, VVU_VEC_CONFIG);
	unsigned int done = 0;
	struct vu_msg m;
	enum vvu_msg_kind kind;
	size_t len;
	int rc;

	if (p->state == VVU_ST_BROKEN)
		return 0;
	vvu_pci_tx_flush(&p->pci);	/* replies that waited for txq room */
	/* Config interrupts when we have them, and a slow poll regardless. */
	if (vvu_pci_fd_take(cfd) || now >= p->next_status_check) {
		p->next_status_check = now + p->status_period;
		check_status(p);
	}
	while (done < budget && p->state != VVU_ST_BROKEN && !p->pci.tx_overflow) {
		rc = vvu_pci_recv(&p->pci, &m, &len, &kind);
		if (rc == 0)
			break;
		done++;
		/*
		 * Re-arming drained the old connection's messages, so anything
		 * that arrives while armed, good or bad, is the new frontend's:
		 * FRONTEND_UP is set by now.
		 */
		if (p->state == VVU_ST_ARMED && rc != -EIO)
			check_status(p);
		if (rc == 1) {
			handle_msg(p, &m, len, kind);
		} else if (rc == -EIO) {
			event(p, VVU_EV_DEVICE_FAULT, p->pci.rxq.why);
		} else if (p->state == VVU_ST_SERVING) {
			event(p, VVU_EV_BAD_MESSAGE, rc == -EMSGSIZE ?
			      "message larger than we accept" :
			      "rxq buffer breaks the framing rules");
		}
	}
	if (p->pci.txq.broken)
		event(p, VVU_EV_DEVICE_FAULT, p->pci.txq.why);
	else if (p->pci.tx_overflow)
		event(p, VVU_EV_DEVICE_FAULT, p->pci.last_error);
	/* A frontend going down is seen after its last message was handled. */
	if (p->state == VVU_ST_DROPPING)
		check_status(p);
	return done;
}

unsigned int vvu_port_fds(const struct vvu_port *p, int *fds, unsigned int max)
{
	unsigned int n = 0;
	int fd;

	for (unsigned int v = 0; v < p->pci.hw.n_vectors && n < max; v++) {
		if (v == VVU_VEC_TXQ)
			continue;
		if (v >= VVU_VEC_FIRST_KICK && !p->tp.use_kick_vectors)
			break;
		fd = vvu_pci_vector_fd(&p->pci, v);
		if (fd >= 0)
			fds[n++] = fd;
	}
	return n;
}

int vvu_port_open(struct vvu_port *p, struct rte_pci_device *pdev,
		  const char *name, unsigned int max_qp, bool kick_vectors)
{
	int rc;

	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s", name);
	rc = vvu_pci_init(&p->pci, pdev);
	if (rc) {
		snprintf(p->last_error, sizeof(p->last_error), "%s",
			 p->pci.last_error);
		return rc;
	}
	rc = vvu_tport_init(&p->tp, p->name, &p->pci.hw);
	if (rc) {
		snprintf(p->last_error, sizeof(p->last_error), "%s",
			 p->tp.last_error);
		vvu_pci_fini(&p->pci);
		return rc;
	}
	p->tp.send = port_send;
	p->tp.send_arg = p;
	p->tp.vector_fd = port_vector_fd;
	p->tp.vector_arg = p;
	p->tp.use_kick_vectors = kick_vectors && p->pci.msix;
	if (max_qp > p->pci.hw.max_vhost_queues / 2)
		max_qp = p->pci.hw.max_vhost_queues / 2;
	if (max_qp < 1) {
		snprintf(p->last_error, sizeof(p->last_error),
			 "device has %u vhost queues: not a queue pair",
			 p->pci.hw.max_vhost_queues);
		vvu_pci_fini(&p->pci);
		return -ENODEV;
	}
	vu_net_init(&p->net, p->name, vvu_tport_ops(&p->tp), &p->tp, max_qp);
	p->status_period = rte_get_timer_hz() / 100;	/* 10 ms */
	p->state = VVU_ST_ARMED;
	{
		char old[VVU_CFG_REASON_LEN + 1];

		/* Refusals before we came are not ours to report. */
		p->device_refusals = vvu_pci_refusals(&p->pci, old, sizeof(old));
	}
	arm(p);
	vlog_info("%s: armed on %s", p->name, p->pci.name);
	return 0;
}

void vvu_port_close(struct vvu_port *p)
{
	if (!p->pci.mz)
		return;
	vvu_pci_set_status(&p->pci, 0);
	vu_dev_disconnect(&p->net.dev);
	vvu_pci_fini(&p->pci);
}
