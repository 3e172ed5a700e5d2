/* SPDX-License-Identifier: MIT */
/*
 * vut: the vhost-user transport over a UNIX stream socket, as server
 * (listening) or as client (connecting, and reconnecting after a loss).
 * It frames messages without ever blocking, passes their fds to the
 * protocol code, maps memory regions from fds and owns the kick, call and
 * err eventfds of one port.
 */
#ifndef VUT_H
#define VUT_H

#include <stdbool.h>
#include <stdint.h>

#include "ev.h"
#include "vu_dev.h"
#include "vu_proto.h"
#include "vu_transport.h"

enum vut_state {
	VUT_IDLE,		/* not started, or stopped */
	VUT_LISTENING,		/* server: waiting for a frontend */
	VUT_CONNECTING,		/* client: connect() in progress */
	VUT_BACKOFF,		/* client: waiting to retry */
	VUT_CONNECTED,		/* a frontend is attached */
	VUT_NSTATES
};

enum vut_event {
	VUT_EV_START,
	VUT_EV_ACCEPTED,	/* server accepted a frontend */
	VUT_EV_CONNECTED,	/* client's connect() completed */
	VUT_EV_CONNECT_FAILED,
	VUT_EV_CLOSED,		/* EOF, socket error, or protocol violation */
	VUT_EV_TIMER,		/* backoff expired */
	VUT_EV_STOP,
	VUT_NEVENTS
};

struct vut_port {
	char name[32];
	char path[108];
	bool client;
	enum vut_state state;
	struct ev_loop *ev;
	struct vu_dev *dev;
	int listen_fd, conn_fd;
	uint64_t retry_at_ns;
	uint64_t retry_ns;		/* backoff interval */

	/* Framing of the message being received. */
	struct vu_msg msg;
	size_t have;
	int fds[VU_MAX_FDS];
	unsigned int nfds;

	int vfd[3][VU_MAX_VRINGS];	/* kick, call, err per vring */

	uint64_t connects, disconnects;
	char last_error[192];
	bool state_dirty;		/* connection went up or down */

	/* Client: failed connects, logged once then every VUT_RETRY_LOG_NS. */
	uint64_t connect_fails;		/* since the last success */
	uint64_t connect_fail_logs;	/* lines logged about them */
	uint64_t fail_logged_at_ns;
	uint64_t fails_logged;		/* connect_fails at the last line */
	int connect_err;		/* errno of the last failed connect */
};

/* Least time between two "connect failed, retrying" lines of a client port. */
#define VUT_RETRY_LOG_NS (60ull * 1000000000ull)

extern const struct vu_transport_ops vut_ops;

/*
 * Prepare p and start it: a server binds and listens on path at once (and
 * fails with -errno if it cannot); a client starts connecting and keeps
 * retrying every retry_ms.  dev is the protocol state fed by p; it must
 * have been initialised with (&vut_ops, p).
 */
int vut_start(struct vut_port *p, struct ev_loop *ev, const char *name,
	      const char *path, bool client, unsigned int retry_ms,
	      struct vu_dev *dev);

/* Drop any connection, stop listening, remove the socket file (server). */
void vut_stop(struct vut_port *p);

/* Drop the frontend (it broke the rules); a client reconnects later. */
void vut_drop(struct vut_port *p, const char *why);

/* Drive timers (client reconnect).  Cheap; call often. */
void vut_tick(struct vut_port *p, uint64_t now_ns);

const char *vut_state_name(enum vut_state s);

/* Whether a fault in peer memory hit this port since the last call. */
bool vut_take_fault(struct vut_port *p);

/* Install the SIGBUS handler that contains faults in peer memory. */
int vut_guard_init(void);

#endif
