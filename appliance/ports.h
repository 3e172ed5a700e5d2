/* SPDX-License-Identifier: MIT */
/*
 * ports: the daemon's port interface and its registry.  A port kind
 * (port_unix.c: a vhost-user UNIX socket; port_vvu.c: a virtio-vhost-user
 * PCI device) fills in one struct port_class, as OVS's netdev providers
 * fill in struct netdev_class; the daemon's loop and the control channel
 * use ports only through it and never ask which kind a port is.  The
 * registry keeps the ports in creation order under unique names.  Peer
 * input never reaches this file: it sees states, names and counters.
 */
#ifndef VVU_PORTS_H
#define VVU_PORTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "ev.h"
#include "report.h"
#include "sw.h"

struct port;
struct vu_net;
struct port_registry;

#define PORT_FDS_MAX 12

/* What every port kind gets from the daemon. */
struct port_env {
	struct ev_loop *ev;
	struct sw *sw;
	const struct vvu_config *cfg;
	struct port_registry *reg;
	bool busy;		/* the loop polls: peers' kicks stay off */
	bool kicked;		/* a port fd fired or work is left: service now */
	bool stopping;		/* shutting down: ports go, none are forgotten */
	unsigned int tick_ms;	/* service every port this often; 0: on kicks only */
};

struct port_class {
	const char *kind;	/* "unix", "vvu": the KIND column */

	/* ---- the kind as a whole (all optional) ---- */
	/* Make the config's ports of this kind.  0 or -errno (logged). */
	int (*start)(struct port_env *env);
	/* Housekeeping on every service pass: discovery, removals. */
	void (*run)(struct port_env *env, uint64_t now_ns);
	/* Before shutdown closes the ports. */
	void (*stop)(struct port_env *env);
	/* The kind's flag in `status` ("vvu": true when its devices can be driven). */
	const char *status_key;
	bool (*running)(void);

	/*
	 * Runtime ports: whether c (already checked by the config's rules)
	 * is a port of this kind, and make one.  0, or -errno with err.
	 */
	bool (*takes)(const struct vvu_port_cfg *c);
	int (*create)(struct port_env *env, const struct vvu_port_cfg *c,
		      struct port **out, char *err, size_t errlen);
	/* Whether `port del` may remove p (NULL: never).  Else err says why. */
	bool (*deletable)(const struct port *p, char *err, size_t errlen);

	/* ---- one port ---- */
	/*
	 * The transport's state while no frontend is being served
	 * ("listening", "armed", "absent", ...), or NULL when one is: the
	 * port is then "broken", "up" or "negotiating" by its datapath.
	 */
	const char *(*state)(const struct port *p);
	/* The kind's fields of the port's snapshot: mode, where, uuid, errors. */
	void (*describe)(const struct port *p, struct port_snap *s);
	/* Optional: zero the kind's own counters (clear-stats; an uplink's). */
	void (*clear_stats)(struct port *p);
	/* Handle up to budget control messages; returns how many (== budget: more). */
	unsigned int (*service)(struct port *p, unsigned int budget);
	/* Timers (reconnects).  Cheap; runs on every loop pass that looks at ports. */
	void (*tick)(struct port *p, uint64_t now_ns);
	/* True when the link may have changed since the last call; *up is it. */
	bool (*sync)(struct port *p, bool *up);
	/* Fds whose events mean "service me" (watched while attached). */
	unsigned int (*fds)(const struct port *p, int *fds, unsigned int max);
	/*
	 * Optional: where behind the port mac lives (a VXLAN port: the remote
	 * VTEP), for `mac`.  True with buf filled, false when it has nothing.
	 */
	bool (*mac_note)(const struct port *p, const uint8_t *mac, char *buf,
			 size_t n);
	/* Detach nothing (port_destroy did), free the port and all it holds. */
	void (*close)(struct port *p);
};

struct port {
	const struct port_class *cls;
	struct port_env *env;
	char name[VVU_NAME_MAX];
	struct vu_net *net;	/* the datapath; NULL while detached */
	int id;			/* switch port id; -1 while detached */
	unsigned int queues;	/* queue pairs offered */
	bool up;
	bool runtime;		/* added by `port add` */
	int fds[PORT_FDS_MAX];	/* watched for the kind while attached */
	unsigned int nfds;
};

struct port_registry {
	struct port *p[SW_MAX_PORTS];
	unsigned int n;
};

/* Name, kind and environment; the port is detached. */
void port_init(struct port *p, const struct port_class *cls,
	       struct port_env *env, const char *name, unsigned int queues);

/*
 * Put p in the registry, after the others.  0, -EEXIST when a port has
 * its name, -ENOSPC when the registry is full.
 */
int port_reg_add(struct port_registry *r, struct port *p);
/* Take p out, keeping the order of the others.  Does not free it. */
void port_reg_remove(struct port_registry *r, struct port *p);
struct port *port_reg_find(const struct port_registry *r, const char *name);

/*
 * Give p its datapath: a switch port on net, and the kind's fds watched
 * (each event sets env->kicked).  0 or -errno (p stays detached).
 */
int port_attach(struct port *p, struct vu_net *net);
/*
 * The same for a port whose datapath is not a vu_net (an uplink): the
 * switch calls ops with ctx.  p->net stays NULL.
 */
int port_attach_ops(struct port *p, const struct sw_port_ops *ops, void *ctx);
/* Link down, fds unwatched, out of the switch.  Safe when detached. */
void port_detach(struct port *p);
/* Detach, take out of the registry, and close. */
void port_destroy(struct port *p);

void port_set_up(struct port *p, bool up);
/* Ask the kind for link changes and apply them. */
void port_sync(struct port *p);
/* Turn kicks on or off; returns the buffers already waiting. */
unsigned int port_arm_kicks(struct port *p, bool on);
void port_clear_stats(struct port *p);

/*
 * The offload counters of s from o: a kind whose datapath is no vu_net
 * (an uplink that finishes its peers' offload work, off_finish) calls it
 * from its describe.
 */
void port_snap_offload(struct port_snap *s, const struct off_stats *o);

/* Fill s from p: the kind's fields, the datapath's and the switch's. */
void port_snapshot(const struct port *p, struct port_snap *s);

#endif
