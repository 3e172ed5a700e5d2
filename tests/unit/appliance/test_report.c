/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the renderers (appliance/report.c) on a snapshot built
 * here: the text columns are as wide as the longest name, every JSON key
 * the tests and tools read is there, drop reasons show in text once each,
 * and the Prometheus text has HELP and TYPE before each family's samples,
 * escaped label values and the snapshot's numbers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "report.h"

static struct snapshot *snap(void)
{
	struct snapshot *s = calloc(1, sizeof(*s));
	struct port_snap *p;

	assert_non_null(s);
	s->st.version = "9.9.9";
	s->st.macs = 5;
	s->st.mac_max = 8192;
	s->st.polls = 1000;
	s->st.flag[0].key = "vvu";
	s->st.flag[0].on = true;
	s->st.nflags = 1;
	p = &s->port[s->nports++];
	snprintf(p->name, sizeof(p->name), "p0");
	p->kind = "unix";
	p->where_key = "socket";
	snprintf(p->where, sizeof(p->where), "/run/p0.sock");
	snprintf(p->state, sizeof(p->state), "up");
	snprintf(p->mode, sizeof(p->mode), "server");
	p->up = true;
	p->queues = 1;
	p->mtu = 1500;
	p->sw.rx_packets = 42;
	p->sw.rx_bytes = 4200;
	p->sw.drops[SW_DROP_NO_BUFFER] = 2;
	p->vdrop[SNAP_VDROP_OVERSIZE] = 3;
	p = &s->port[s->nports++];
	snprintf(p->name, sizeof(p->name), "vvu-0001:02:00.0");
	p->kind = "vvu";
	p->where_key = "pci";
	snprintf(p->where, sizeof(p->where), "0001:02:00.0");
	snprintf(p->uuid, sizeof(p->uuid), "12345678-9abc-def0-1234-56789abcdef0");
	snprintf(p->state, sizeof(p->state), "armed");
	snprintf(p->mode, sizeof(p->mode), "device");
	p->extra[0].key = "attaches";
	p->extra[0].v = 1;
	p->nextra = 1;
	return s;
}

static char *render(void (*fn)(const struct snapshot *, struct sbuf *, bool),
		    const struct snapshot *s, bool json)
{
	struct sbuf b = { 0 };

	fn(s, &b, json);
	assert_false(b.oom);
	assert_non_null(b.s);
	return b.s;
}

/* The column where word starts in line (first match), or -1. */
static int col(const char *text, const char *line_start, const char *word)
{
	const char *l = strstr(text, line_start);
	const char *w, *eol;

	if (!l)
		return -1;
	eol = strchr(l, '\n');
	w = strstr(l, word);
	return w && (!eol || w < eol) ? (int)(w - l) : -1;
}

static void test_text_columns_fit_names(void **state)
{
	struct snapshot *s = snap();
	char *t;

	(void)state;
	t = render(report_ports, s, false);
	/* The default name was longer than the old 14-wide column. */
	assert_int_equal(col(t, "PORT", "KIND"), col(t, "vvu-0001", "vvu "));
	assert_int_equal(col(t, "PORT", "KIND"), col(t, "p0 ", "unix"));
	assert_non_null(strstr(t, "  uuid: 12345678-9abc-def0-1234-56789abcdef0\n"));
	free(t);
	t = render(report_stats, s, false);
	assert_int_equal(col(t, "PORT", "RX-PKTS") + 7, col(t, "p0 ", "42") + 2);
	assert_non_null(strstr(t, "\n  drop no_buffer: 2\n  drop virtio_oversize: 3\n"));
	assert_null(strstr(t, "drop runt"));	/* zero: not shown */
	free(t);
	free(s);
}

static void test_json_keys(void **state)
{
	static const char *const port_keys[] = {
		"\"name\":\"p0\"", "\"kind\":\"unix\"", "\"state\":\"up\"",
		"\"mode\":\"server\"", "\"socket\":\"/run/p0.sock\"", "\"connection\":",
		"\"up\":true", "\"broken\":false", "\"queues\":1", "\"live_rx_queues\":0",
		"\"live_tx_queues\":0", "\"mtu\":1500", "\"features\":", "\"reason\":",
		"\"last_error\":", "\"protocol_error\":", "\"connects\":0",
		"\"disconnects\":0", "\"pci\":\"0001:02:00.0\"",
		"\"uuid\":\"12345678-9abc-def0-1234-56789abcdef0\"", "\"attaches\":1",
	};
	static const char *const stats_keys[] = {
		"\"rx_packets\":42", "\"rx_bytes\":4200", "\"tx_packets\":0",
		"\"tx_bytes\":0", "\"rx_flooded\":0", "\"learn_refused\":0",
		"\"drops\":{\"no_buffer\":2,", "\"tx_bad_len\":3", "\"tx_oversize\":3",
		"\"tx_runt\":0", "\"tx_too_many_segs\":0", "\"rx_no_buffer\":0",
		"\"rx_too_big\":0", "\"calls\":0", "\"messages\":0",
		"\"message_errors\":0",
	};
	struct snapshot *s = snap();
	char *t;

	(void)state;
	t = render(report_ports, s, true);
	for (size_t i = 0; i < sizeof(port_keys) / sizeof(port_keys[0]); i++)
		assert_non_null(strstr(t, port_keys[i]));
	free(t);
	t = render(report_stats, s, true);
	for (size_t i = 0; i < sizeof(stats_keys) / sizeof(stats_keys[0]); i++)
		assert_non_null(strstr(t, stats_keys[i]));
	free(t);
	t = render(report_status, s, true);
	assert_non_null(strstr(t, "\"version\":\"9.9.9\""));
	assert_non_null(strstr(t, "\"ports\":2,\"ports_up\":1,\"macs\":5"));
	assert_non_null(strstr(t, "\"vvu\":true"));
	assert_non_null(strstr(t, "\"config_error\":\"\"}"));
	free(t);
	t = render(report_status, s, false);
	assert_non_null(strstr(t, "2 ports (1 up), 5 MACs"));
	assert_non_null(strstr(t, ", vvu devices"));
	free(t);
	free(s);
}

/*
 * Every line is a comment or "name{labels} value"; a family's HELP and
 * TYPE come before its samples, once; values are integers.
 */
static void check_exposition(const char *t)
{
	char seen[64][64];
	unsigned int nseen = 0;
	char family[64] = "";

	for (const char *l = t; *l;) {
		const char *eol = strchr(l, '\n');
		char line[512], name[64];

		assert_non_null(eol);
		assert_true((size_t)(eol - l) < sizeof(line));
		memcpy(line, l, (size_t)(eol - l));
		line[eol - l] = '\0';
		l = eol + 1;
		if (strncmp(line, "# HELP ", 7) == 0) {
			assert_int_equal(sscanf(line + 7, "%63s", family), 1);
			for (unsigned int i = 0; i < nseen; i++)
				assert_string_not_equal(seen[i], family);
			assert_true(nseen < 64);
			snprintf(seen[nseen++], sizeof(seen[0]), "%s", family);
			continue;
		}
		if (strncmp(line, "# TYPE ", 7) == 0) {
			char type[16];

			assert_int_equal(sscanf(line + 7, "%63s %15s", name, type), 2);
			assert_string_equal(name, family);
			assert_true(strcmp(type, "counter") == 0 || strcmp(type, "gauge") == 0);
			continue;
		}
		size_t n = strcspn(line, "{ ");

		assert_true(n < sizeof(name));
		memcpy(name, line, n);
		name[n] = '\0';
		assert_string_equal(name, family);
		assert_int_equal(strncmp(name, "vvu_switch_", 11), 0);
		const char *v = strrchr(line, ' ');

		assert_non_null(v);
		assert_true(strspn(v + 1, "0123456789") == strlen(v + 1));
	}
}

static void test_metrics(void **state)
{
	struct snapshot *s = snap();
	struct sbuf b = { 0 };
	unsigned int drops = 0;

	(void)state;
	snprintf(s->port[1].name, sizeof(s->port[1].name), "q\"\\x");
	report_metrics(s, &b);
	assert_false(b.oom);
	check_exposition(b.s);
	assert_non_null(strstr(b.s, "\nvvu_switch_port_rx_packets_total{port=\"p0\"} 42\n"));
	assert_non_null(strstr(b.s, "\nvvu_switch_port_drops_total{port=\"p0\",reason=\"virtio_oversize\"} 3\n"));
	assert_non_null(strstr(b.s, "\nvvu_switch_port_up{port=\"p0\",kind=\"unix\"} 1\n"));
	assert_non_null(strstr(b.s, "{port=\"q\\\"\\\\x\"}"));
	assert_non_null(strstr(b.s, "\nvvu_switch_mac_entries 5\n"));
	assert_non_null(strstr(b.s, "\nvvu_switch_polls_total 1000\n"));
	for (const char *p = b.s; (p = strstr(p, "\nvvu_switch_port_drops_total{")); p++)
		drops++;
	assert_int_equal(drops, 2 * (SW_DROP_MAX + SNAP_VDROP_MAX + OFF_E_MAX));
	sb_free(&b);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text_columns_fit_names),
		cmocka_unit_test(test_json_keys),
		cmocka_unit_test(test_metrics),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
