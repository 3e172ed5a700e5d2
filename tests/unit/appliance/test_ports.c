/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the port registry and the code every port kind shares
 * (appliance/ports.c), through a fake kind: unique names in creation
 * order, a full registry, the switch attachment and the watched fds, link
 * changes, and a port's snapshot (state by the transport, else by the
 * datapath; the transport's error, else the protocol's).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cmocka.h>

#include "ports.h"
#include "vu_net.h"

struct fake {
	struct port base;
	struct vu_net net;
	const char *state;	/* what the transport says, or NULL */
	bool dirty, up;
	int efd;
	char error[64];
	unsigned int closed;
};

static unsigned int closes;

static struct fake *fk(const struct port *p)
{
	return (struct fake *)(uintptr_t)p;
}

static const char *f_state(const struct port *p)
{
	return fk(p)->state;
}

static void f_describe(const struct port *p, struct port_snap *s)
{
	snprintf(s->mode, sizeof(s->mode), "fake");
	snprintf(s->where, sizeof(s->where), "/fake/%s", p->name);
	snprintf(s->last_error, sizeof(s->last_error), "%s", fk(p)->error);
	s->extra[0].key = "widgets";
	s->extra[0].v = 7;
	s->nextra = 1;
}

static bool f_sync(struct port *p, bool *up)
{
	struct fake *f = fk(p);

	if (!f->dirty)
		return false;
	f->dirty = false;
	*up = f->up;
	return true;
}

static unsigned int f_fds(const struct port *p, int *fds, unsigned int max)
{
	if (fk(p)->efd < 0 || max < 1)
		return 0;
	fds[0] = fk(p)->efd;
	return 1;
}

static void f_close(struct port *p)
{
	struct fake *f = fk(p);

	closes++;
	if (f->efd >= 0)
		close(f->efd);
	free(f);
}

static const struct port_class fake_class = {
	.kind = "fake",
	.state = f_state,
	.describe = f_describe,
	.sync = f_sync,
	.fds = f_fds,
	.close = f_close,
};

static const struct vu_transport_ops no_transport;

struct world {
	struct ev_loop *ev;
	struct sw *sw;
	struct vvu_config cfg;
	struct port_registry reg;
	struct port_env env;
};

static int setup(void **state)
{
	struct world *w = calloc(1, sizeof(*w));

	assert_non_null(w);
	vvu_config_default(&w->cfg);
	w->ev = ev_new();
	w->sw = sw_create(&w->cfg.sw);
	assert_non_null(w->ev);
	assert_non_null(w->sw);
	w->env = (struct port_env){ .ev = w->ev, .sw = w->sw, .cfg = &w->cfg,
				    .reg = &w->reg, .busy = true };
	closes = 0;
	*state = w;
	return 0;
}

static int teardown(void **state)
{
	struct world *w = *state;

	while (w->reg.n)
		port_destroy(w->reg.p[w->reg.n - 1]);
	sw_destroy(w->sw);
	ev_free(w->ev);
	free(w);
	return 0;
}

static struct fake *fake_new(struct world *w, const char *name, bool with_fd)
{
	struct fake *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	port_init(&f->base, &fake_class, &w->env, name, 2);
	vu_net_init(&f->net, name, &no_transport, f, 2);
	f->efd = with_fd ? eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC) : -1;
	return f;
}

static void test_registry_order_and_names(void **state)
{
	struct world *w = *state;
	const char *names[] = { "a", "b", "c" };
	struct fake *dup;

	for (int i = 0; i < 3; i++)
		assert_int_equal(port_reg_add(&w->reg, &fake_new(w, names[i], false)->base), 0);
	dup = fake_new(w, "b", false);
	assert_int_equal(port_reg_add(&w->reg, &dup->base), -EEXIST);
	f_close(&dup->base);
	assert_ptr_equal(port_reg_find(&w->reg, "b"), w->reg.p[1]);
	assert_null(port_reg_find(&w->reg, "nope"));
	port_destroy(w->reg.p[1]);
	assert_int_equal(w->reg.n, 2);
	assert_string_equal(w->reg.p[0]->name, "a");
	assert_string_equal(w->reg.p[1]->name, "c");
	assert_null(port_reg_find(&w->reg, "b"));
	assert_int_equal(closes, 2);	/* the duplicate and b */
}

static void test_registry_full(void **state)
{
	struct world *w = *state;
	struct fake *extra;
	char name[16];

	for (int i = 0; i < SW_MAX_PORTS; i++) {
		snprintf(name, sizeof(name), "p%d", i);
		assert_int_equal(port_reg_add(&w->reg, &fake_new(w, name, false)->base), 0);
	}
	extra = fake_new(w, "one-too-many", false);
	assert_int_equal(port_reg_add(&w->reg, &extra->base), -ENOSPC);
	f_close(&extra->base);
	assert_int_equal(w->reg.n, SW_MAX_PORTS);
}

static void test_attach_watch_detach(void **state)
{
	struct world *w = *state;
	struct fake *f = fake_new(w, "p0", true);
	uint64_t one = 1;

	assert_int_equal(port_reg_add(&w->reg, &f->base), 0);
	assert_int_equal(port_attach(&f->base, &f->net), 0);
	assert_true(f->base.id >= 0);
	assert_string_equal(sw_port_name(w->sw, f->base.id), "p0");
	assert_int_equal(f->base.nfds, 1);
	/* An event on the kind's fd asks the loop to service the ports. */
	assert_false(w->env.kicked);
	assert_int_equal(write(f->efd, &one, sizeof(one)), (ssize_t)sizeof(one));
	ev_run(w->ev, 100);
	assert_true(w->env.kicked);

	/* Link changes come from the kind's sync and reach the switch. */
	f->dirty = f->up = true;
	port_sync(&f->base);
	assert_true(f->base.up);
	assert_true(sw_port_is_up(w->sw, f->base.id));
	port_sync(&f->base);		/* nothing new: stays */
	assert_true(f->base.up);
	f->dirty = true;
	f->up = false;
	port_sync(&f->base);
	assert_false(f->base.up);

	f->dirty = f->up = true;
	port_sync(&f->base);
	int id = f->base.id;

	port_detach(&f->base);
	assert_false(f->base.up);
	assert_int_equal(f->base.id, -1);
	assert_null(f->base.net);
	assert_int_equal(f->base.nfds, 0);
	assert_null(sw_port_name(w->sw, id));
	port_detach(&f->base);		/* twice is harmless */
}

static void test_snapshot(void **state)
{
	struct world *w = *state;
	struct fake *f = fake_new(w, "p0", false);
	struct port_snap s;

	assert_int_equal(port_reg_add(&w->reg, &f->base), 0);

	/* Detached: the transport's state, no datapath fields. */
	f->state = "listening";
	port_snapshot(&f->base, &s);
	assert_string_equal(s.name, "p0");
	assert_string_equal(s.kind, "fake");
	assert_string_equal(s.state, "listening");
	assert_string_equal(s.connection, "listening");
	assert_string_equal(s.mode, "fake");
	assert_string_equal(s.where, "/fake/p0");
	assert_int_equal(s.queues, 2);
	assert_int_equal(s.nextra, 1);
	assert_string_equal(s.extra[0].key, "widgets");

	/* Served: the datapath decides. */
	assert_int_equal(port_attach(&f->base, &f->net), 0);
	f->state = NULL;
	port_snapshot(&f->base, &s);
	assert_string_equal(s.state, "negotiating");
	f->dirty = f->up = true;
	port_sync(&f->base);
	port_snapshot(&f->base, &s);
	assert_string_equal(s.state, "up");
	assert_true(s.up);
	f->net.broken = true;
	snprintf(f->net.why, sizeof(f->net.why), "ring 0 loops");
	f->net.st.tx_oversize = 3;
	f->net.dev.msgs = 11;
	port_snapshot(&f->base, &s);
	assert_string_equal(s.state, "broken");
	assert_string_equal(s.reason, "ring 0 loops");
	assert_int_equal(s.vdrop[SNAP_VDROP_OVERSIZE], 3);
	assert_int_equal(s.messages, 11);
	assert_int_equal(snap_drops(&s), 3);

	/* The transport's error, else the protocol's. */
	snprintf(f->net.dev.last_error, sizeof(f->net.dev.last_error), "bad size");
	port_snapshot(&f->base, &s);
	assert_string_equal(s.last_error, "bad size");
	assert_string_equal(s.protocol_error, "bad size");
	snprintf(f->error, sizeof(f->error), "socket gone");
	port_snapshot(&f->base, &s);
	assert_string_equal(s.last_error, "socket gone");

	port_clear_stats(&f->base);
	port_snapshot(&f->base, &s);
	assert_int_equal(s.vdrop[SNAP_VDROP_OVERSIZE], 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_registry_order_and_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_registry_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_attach_watch_detach, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
