/* SPDX-License-Identifier: MIT */
/*
 * port_unix: the port kind "unix", a vhost-user UNIX socket (host mode),
 * server or client, from the config or added at run time.  The socket,
 * the framing and the frontend's memory are vut's (drivers/unix), which
 * trusts no peer; this file only maps vut's states and counters onto the
 * port interface.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "port_kinds.h"
#include "vlog.h"
#include "vu_net.h"
#include "vut.h"

struct port_unix {
	struct port base;	/* first: a struct port * is a struct port_unix * */
	struct vvu_port_cfg cfg;
	struct vu_net net;
	struct vut_port vut;
	bool started;		/* vut_start ran: vut_stop may run */
};

static struct port_unix *pu(const struct port *p)
{
	return (struct port_unix *)(uintptr_t)p;
}

static bool unix_takes(const struct vvu_port_cfg *c)
{
	return c->socket[0] != '\0';
}

static int unix_create(struct port_env *env, const struct vvu_port_cfg *c,
		       struct port **out, char *err, size_t errlen)
{
	struct port_unix *u;
	int rc;

	for (unsigned int i = 0; i < env->reg->n; i++) {
		const struct port *o = env->reg->p[i];

		if (o->cls == &port_unix_class && strcmp(pu(o)->cfg.socket, c->socket) == 0) {
			snprintf(err, errlen, "socket %s is in use by port %s",
				 c->socket, o->name);
			return -EADDRINUSE;
		}
	}
	u = calloc(1, sizeof(*u));
	if (!u) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	port_init(&u->base, &port_unix_class, env, c->name, c->queues);
	u->cfg = *c;
	vu_net_init(&u->net, u->base.name, &vut_ops, &u->vut, c->queues);
	rc = port_reg_add(env->reg, &u->base);
	if (rc) {
		snprintf(err, errlen, rc == -EEXIST ? "port %s exists" :
			 "port %s: no room for another port", c->name);
		free(u);
		return rc;
	}
	rc = port_attach(&u->base, &u->net);
	if (rc == 0) {
		u->started = true;
		rc = vut_start(&u->vut, env->ev, u->base.name, c->socket, c->client,
			       c->reconnect_ms, &u->net.dev);
	}
	if (rc) {
		snprintf(err, errlen, "%s: %s", c->name, u->vut.last_error[0] ?
			 u->vut.last_error : strerror(-rc));
		port_destroy(&u->base);
		return rc;
	}
	vlog_info("%s: %s on %s, %u queue pair(s)", u->base.name,
		  c->client ? "connecting" : "listening", c->socket, c->queues);
	*out = &u->base;
	return 0;
}

static int unix_start(struct port_env *env)
{
	for (unsigned int i = 0; i < env->cfg->nports; i++) {
		struct port *p;
		char err[256];
		int rc;

		if (!unix_takes(&env->cfg->ports[i]))
			continue;
		rc = unix_create(env, &env->cfg->ports[i], &p, err, sizeof(err));
		if (rc) {
			vlog_err("%s", err);
			return rc;
		}
	}
	return 0;
}

static bool unix_deletable(const struct port *p, char *err, size_t errlen)
{
	(void)p;
	(void)err;
	(void)errlen;
	return true;
}

static const char *unix_state(const struct port *p)
{
	const struct port_unix *u = pu(p);

	return u->vut.state == VUT_CONNECTED ? NULL : vut_state_name(u->vut.state);
}

static void unix_describe(const struct port *p, struct port_snap *s)
{
	const struct port_unix *u = pu(p);

	snprintf(s->mode, sizeof(s->mode), "%s", u->cfg.client ? "client" : "server");
	s->where_key = "socket";
	snprintf(s->where, sizeof(s->where), "%s", u->cfg.socket);
	snprintf(s->connection, sizeof(s->connection), "%s",
		 vut_state_name(u->vut.state));
	snprintf(s->last_error, sizeof(s->last_error), "%s", u->vut.last_error);
	s->connects = u->vut.connects;
	s->disconnects = u->vut.disconnects;
}

static void unix_tick(struct port *p, uint64_t now_ns)
{
	vut_tick(&pu(p)->vut, now_ns);
}

static bool unix_sync(struct port *p, bool *up)
{
	struct port_unix *u = pu(p);

	if (vut_take_fault(&u->vut))
		vut_drop(&u->vut, "peer memory vanished under us (SIGBUS)");
	if (!u->vut.state_dirty && !u->net.state_dirty)
		return false;
	u->vut.state_dirty = u->net.state_dirty = false;
	*up = u->vut.state == VUT_CONNECTED && vu_net_running(&u->net);
	return true;
}

static void unix_close(struct port *p)
{
	struct port_unix *u = pu(p);

	if (u->started)
		vut_stop(&u->vut);
	free(u);
}

const struct port_class port_unix_class = {
	.kind = "unix",
	.start = unix_start,
	.takes = unix_takes,
	.create = unix_create,
	.deletable = unix_deletable,
	.state = unix_state,
	.describe = unix_describe,
	.tick = unix_tick,
	.sync = unix_sync,
	.close = unix_close,
};
