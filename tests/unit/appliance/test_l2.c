/* SPDX-License-Identifier: MIT */
/*
 * appliance/l2.c: a config's VLANs, security, static MACs and mirrors
 * given to a real switch, and the FDB requests (mac flush, add, del) parsed
 * by ctl and answered in text and JSON, bad words refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "ctl.h"
#include "l2.h"
#include "sw.h"

static unsigned int n_recv(void *ctx, struct sw_frame *f, unsigned int n)
{
	(void)ctx;
	(void)f;
	(void)n;
	return 0;
}

static void n_done(void *ctx)
{
	(void)ctx;
}

static int n_send(void *ctx, const struct sw_frame *f)
{
	(void)ctx;
	(void)f;
	return 0;
}

static const struct sw_port_ops nops = { n_recv, n_done, n_send, n_done };

static struct vvu_config C;

/* Answer a request line; returns the handler's code, the answer in *out. */
static int ask(struct sw *s, const char *line, char *out, size_t n)
{
	struct sbuf o = { 0 }, err = { 0 };
	struct ctl_req req;
	int rc;

	if (ctl_parse_request(line, &req, &err)) {
		snprintf(out, n, "%s", err.s ? err.s : "");
		sb_free(&err);
		return -1;
	}
	rc = l2_mac_cmd(s, &req, &o);
	snprintf(out, n, "%s", o.s ? o.s : "");
	sb_free(&o);
	return rc;
}

static void test_apply_and_fdb(void **state)
{
	static const char text[] =
		"[port a]\nsocket=/a\nvlan = 10\nlock-mac = first\n"
		"[port t]\nsocket=/t\ntrunks = 10,20\nnative-vlan = 5\n"
		"static-macs = 02:00:00:00:00:0a@20, 02:00:00:00:00:0b\n"
		"[port m]\nsocket=/m\n"
		"[mirror w]\nfrom = a, t, gone\nto = m\n";
	struct sw_config swc;
	struct sw_port_vlan v;
	struct sw_port_security sec;
	char err[256], out[512], vs[96];
	struct sw *s;

	(void)state;
	vvu_config_default(&C);
	assert_int_equal(vvu_config_parse(&C, text, "t", err, sizeof(err)), 0);
	sw_config_default(&swc);
	s = sw_create(&swc);
	assert_non_null(s);
	for (int i = 0; i < 3; i++) {
		const char *name = C.ports[i].name;
		int id = sw_port_add(s, name, &nops, NULL);

		assert_int_equal(id, i);
		l2_port_attached(s, &C, name, id);
	}
	assert_int_equal(sw_port_get_vlan(s, 0, &v), 0);
	assert_true(v.aware);
	assert_int_equal(v.pvid, 10);
	assert_int_equal(sw_port_get_security(s, 0, &sec), 0);
	assert_true(sec.lock_first);
	assert_int_equal(sw_port_get_vlan(s, 1, &v), 0);
	assert_int_equal(v.pvid, 5);
	assert_true(sw_vlan_test(v.trunks, 20));
	l2_vlan_str(s, 1, vs, sizeof(vs));
	assert_string_equal(vs, "trunk 10,20 native 5");
	l2_vlan_str(s, 0, vs, sizeof(vs));
	assert_string_equal(vs, "access 10");
	l2_vlan_str(s, 2, vs, sizeof(vs));
	assert_string_equal(vs, "-");
	/* static MACs: the second in the native VLAN */
	assert_int_equal(sw_mac_count_port(s, 1), 2);
	assert_int_equal(ask(s, "mac del 02:00:00:00:00:0b vlan 5 json", out, sizeof(out)), 0);
	assert_string_equal(out, "{\"deleted\":{\"mac\":\"02:00:00:00:00:0b\",\"vlan\":5}}\n");
	/* the mirror's output is no place for a static MAC */
	assert_int_equal(ask(s, "mac add 02:00:00:00:00:0c m", out, sizeof(out)), 1);
	assert_int_equal(ask(s, "mac add 02:00:00:00:00:0C a vlan 10 json", out, sizeof(out)), 0);
	assert_string_equal(out, "{\"added\":{\"mac\":\"02:00:00:00:00:0c\",\"vlan\":10,"
			    "\"port\":\"a\"}}\n");
	assert_int_equal(ask(s, "mac add 02:00:00:00:00:0d a", out, sizeof(out)), 0);
	assert_string_equal(out, "added 02:00:00:00:00:0d vlan 1 on a\n");
	assert_int_equal(sw_mac_count(s), 3);
	/* static entries do not flush */
	assert_int_equal(ask(s, "mac flush json", out, sizeof(out)), 0);
	assert_string_equal(out, "{\"flushed\":0}\n");
	assert_int_equal(ask(s, "mac flush t", out, sizeof(out)), 0);
	assert_int_equal(ask(s, "mac flush vlan 20", out, sizeof(out)), 0);
	/* bad words */
	assert_int_equal(ask(s, "mac flush nosuch", out, sizeof(out)), 1);
	assert_int_equal(ask(s, "mac flush vlan 4095", out, sizeof(out)), 1);
	assert_int_equal(ask(s, "mac flush vlan x", out, sizeof(out)), 1);
	assert_int_equal(ask(s, "mac add 02:00:00:00:00:0g a", out, sizeof(out)), 1);
	assert_int_equal(ask(s, "mac add 02-00-00-00-00-01 a", out, sizeof(out)), 1);
	assert_int_equal(ask(s, "mac add 01:00:00:00:00:01 a", out, sizeof(out)), 1);
	assert_int_equal(ask(s, "mac add 02:00:00:00:00:01 a vlan", out, sizeof(out)), 1);
	assert_int_equal(ask(s, "mac add 02:00:00:00:00:01 a vlan 0", out, sizeof(out)), 1);
	assert_int_equal(ask(s, "mac add 02:00:00:00:00:01 a vlam 3", out, sizeof(out)), 1);
	assert_int_equal(ask(s, "mac del 02:00:00:00:00:01", out, sizeof(out)), 1);
	assert_string_equal(out, "no entry for 02:00:00:00:00:01 in VLAN 1\n");
	assert_int_equal(sw_mac_count(s), 3);
	/* a port that goes takes its mirror role and entries with it */
	sw_port_remove(s, 2);
	l2_mirrors_apply(s, &C);
	sw_destroy(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_apply_and_fdb),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
