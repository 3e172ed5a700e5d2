/* SPDX-License-Identifier: MIT */
/*
 * report: text, JSON and Prometheus renderers of one snapshot, and the
 * MAC table.  Each renderer reads only the snapshot it is given, so the
 * three formats say the same thing.  Strings are escaped for their
 * format: JSON through sb_json_str, Prometheus label values here.
 */
#include "report.h"

#include <stdio.h>
#include <string.h>

const char *const snap_vdrop_names[SNAP_VDROP_MAX] = {
	[SNAP_VDROP_OVERSIZE] = "virtio_oversize",
	[SNAP_VDROP_RUNT] = "virtio_runt",
	[SNAP_VDROP_TOO_MANY_SEGS] = "virtio_too_many_segs",
};

typedef unsigned long long ull;

uint64_t snap_drops(const struct port_snap *p)
{
	uint64_t n = 0;

	for (int k = 0; k < SW_DROP_MAX; k++)
		n += p->sw.drops[k];
	for (int k = 0; k < SNAP_VDROP_MAX; k++)
		n += p->vdrop[k];
	for (int k = 0; k < OFF_E_MAX; k++)
		n += p->off_bad[k];
	return n;
}

/* The PORT column: at least min wide, and as wide as the longest name. */
static int name_width(const struct snapshot *s, int min)
{
	int w = min;

	for (unsigned int i = 0; i < s->nports; i++) {
		int l = (int)strlen(s->port[i].name);

		if (l > w)
			w = l;
	}
	return w;
}

static const char *tf(bool b)
{
	return b ? "true" : "false";
}

/* ---- ports ---- */

static void ports_text(const struct snapshot *s, struct sbuf *o)
{
	int w = name_width(s, 14);

	sb_printf(o, "%-*s %-4s %-11s %-6s %-5s %-9s %s\n", w, "PORT", "KIND",
		  "STATE", "MODE", "RXQ", "MTU", "SOCKET/PCI");
	for (unsigned int i = 0; i < s->nports; i++) {
		const struct port_snap *p = &s->port[i];
		char mtu[12] = "-";

		if (p->mtu)
			snprintf(mtu, sizeof(mtu), "%u", p->mtu);
		sb_printf(o, "%-*s %-4s %-11s %-6s %u/%-3u %-9s %s\n", w, p->name,
			  p->kind, p->state, p->mode, p->live_rx, p->queues, mtu,
			  p->where);
		if (p->uuid[0])
			sb_printf(o, "  uuid: %s\n", p->uuid);
		if (p->broken)
			sb_printf(o, "  broken: %s\n", p->reason);
		if (p->last_error[0])
			sb_printf(o, "  last error: %s\n", p->last_error);
		sb_printf(o, "  connects %llu, disconnects %llu\n", (ull)p->connects,
			  (ull)p->disconnects);
		if (p->features[0])
			sb_printf(o, "  features: %s\n", p->features);
		if (p->vlan[0] && strcmp(p->vlan, "-") != 0)
			sb_printf(o, "  vlan: %s\n", p->vlan);
		if (p->offloads[0])
			sb_printf(o, "  offloads: %s\n", p->offloads);
	}
}

static void ports_json(const struct snapshot *s, struct sbuf *o)
{
	sb_printf(o, "{\"ports\":[");
	for (unsigned int i = 0; i < s->nports; i++) {
		const struct port_snap *p = &s->port[i];

		sb_printf(o, "%s{\"name\":", i ? "," : "");
		sb_json_str(o, p->name);
		sb_printf(o, ",\"kind\":\"%s\",\"state\":", p->kind);
		sb_json_str(o, p->state);
		sb_printf(o, ",\"mode\":");
		sb_json_str(o, p->mode);
		sb_printf(o, ",\"%s\":", p->where_key);
		sb_json_str(o, p->where);
		sb_printf(o, ",\"uuid\":");
		sb_json_str(o, p->uuid);
		sb_printf(o, ",\"connection\":");
		sb_json_str(o, p->connection);
		sb_printf(o, ",\"up\":%s,\"broken\":%s,\"runtime\":%s,\"queues\":%u,"
			  "\"live_rx_queues\":%u,\"live_tx_queues\":%u,\"mtu\":%u,"
			  "\"features\":", tf(p->up), tf(p->broken), tf(p->runtime),
			  p->queues, p->live_rx, p->live_tx, p->mtu);
		sb_json_str(o, p->features);
		sb_printf(o, ",\"offloads\":");
		sb_json_str(o, p->offloads);
		sb_printf(o, ",\"reason\":");
		sb_json_str(o, p->broken ? p->reason : "");
		sb_printf(o, ",\"last_error\":");
		sb_json_str(o, p->last_error);
		sb_printf(o, ",\"protocol_error\":");
		sb_json_str(o, p->protocol_error);
		sb_printf(o, ",\"connects\":%llu,\"disconnects\":%llu", (ull)p->connects,
			  (ull)p->disconnects);
		sb_printf(o, ",\"vlan\":");
		sb_json_str(o, p->vlan[0] ? p->vlan : "-");
		for (unsigned int k = 0; k < p->nextra; k++)
			sb_printf(o, ",\"%s\":%llu", p->extra[k].key, (ull)p->extra[k].v);
		sb_printf(o, "}");
	}
	sb_printf(o, "]}\n");
}

void report_ports(const struct snapshot *s, struct sbuf *o, bool json)
{
	if (json)
		ports_json(s, o);
	else
		ports_text(s, o);
}

/* ---- stats ---- */

static void stats_text(const struct snapshot *s, struct sbuf *o)
{
	int w = name_width(s, 10);

	sb_printf(o, "%-*s %12s %14s %12s %14s %10s\n", w, "PORT", "RX-PKTS",
		  "RX-BYTES", "TX-PKTS", "TX-BYTES", "DROPS");
	for (unsigned int i = 0; i < s->nports; i++) {
		const struct port_snap *p = &s->port[i];

		sb_printf(o, "%-*s %12llu %14llu %12llu %14llu %10llu\n", w, p->name,
			  (ull)p->sw.rx_packets, (ull)p->sw.rx_bytes,
			  (ull)p->sw.tx_packets, (ull)p->sw.tx_bytes,
			  (ull)snap_drops(p));
		for (int k = 0; k < SW_DROP_MAX; k++)
			if (p->sw.drops[k])
				sb_printf(o, "  drop %s: %llu\n", sw_drop_names[k],
					  (ull)p->sw.drops[k]);
		for (int k = 0; k < SNAP_VDROP_MAX; k++)
			if (p->vdrop[k])
				sb_printf(o, "  drop %s: %llu\n", snap_vdrop_names[k],
					  (ull)p->vdrop[k]);
		for (int k = 0; k < OFF_E_MAX; k++)
			if (p->off_bad[k])
				sb_printf(o, "  drop %s: %llu\n", off_err_names[k],
					  (ull)p->off_bad[k]);
		if (p->off_in_csum | p->off_in_gso | p->off_passed |
		    p->off_sw_csum | p->off_sw_gso)
			sb_printf(o, "  offload: in csum %llu gso %llu; out passed %llu,"
				  " software csum %llu gso %llu (%llu segments,"
				  " %llu lost)\n", (ull)p->off_in_csum,
				  (ull)p->off_in_gso, (ull)p->off_passed,
				  (ull)p->off_sw_csum, (ull)p->off_sw_gso,
				  (ull)p->off_segs, (ull)p->off_seg_lost);
	}
}

static void stats_json(const struct snapshot *s, struct sbuf *o)
{
	sb_printf(o, "{\"ports\":[");
	for (unsigned int i = 0; i < s->nports; i++) {
		const struct port_snap *p = &s->port[i];
		const uint64_t *v = p->vdrop;

		sb_printf(o, "%s{\"name\":", i ? "," : "");
		sb_json_str(o, p->name);
		sb_printf(o, ",\"rx_packets\":%llu,\"rx_bytes\":%llu,"
			  "\"tx_packets\":%llu,\"tx_bytes\":%llu,"
			  "\"rx_flooded\":%llu,\"learn_refused\":%llu,"
			  "\"mac_moves\":%llu,\"mac_pins\":%llu,\"mirrored\":%llu,"
			  "\"drops\":{",
			  (ull)p->sw.rx_packets, (ull)p->sw.rx_bytes,
			  (ull)p->sw.tx_packets, (ull)p->sw.tx_bytes,
			  (ull)p->sw.rx_flooded, (ull)p->sw.learn_refused,
			  (ull)p->sw.mac_moves, (ull)p->sw.mac_pins,
			  (ull)p->sw.mirrored);
		for (int k = 0; k < SW_DROP_MAX; k++)
			sb_printf(o, "%s\"%s\":%llu", k ? "," : "", sw_drop_names[k],
				  (ull)p->sw.drops[k]);
		sb_printf(o, "},\"virtio\":{\"tx_bad_len\":%llu,\"tx_runt\":%llu,"
			  "\"tx_oversize\":%llu,\"tx_too_many_segs\":%llu,"
			  "\"rx_no_buffer\":%llu,\"rx_too_big\":%llu,\"calls\":%llu},"
			  "\"messages\":%llu,\"message_errors\":%llu,\"macs\":%u",
			  (ull)v[SNAP_VDROP_RUNT] + (ull)v[SNAP_VDROP_OVERSIZE],
			  (ull)v[SNAP_VDROP_RUNT], (ull)v[SNAP_VDROP_OVERSIZE],
			  (ull)v[SNAP_VDROP_TOO_MANY_SEGS], (ull)p->rx_no_buffer,
			  (ull)p->rx_too_big, (ull)p->calls, (ull)p->messages,
			  (ull)p->message_errors, p->macs);
		sb_printf(o, ",\"offload\":{\"rx_csum\":%llu,\"rx_gso\":%llu,"
			  "\"tx_passed\":%llu,\"tx_sw_csum\":%llu,\"tx_sw_gso\":%llu,"
			  "\"tx_segments\":%llu,\"tx_segments_lost\":%llu,"
			  "\"tx_changed\":%llu,\"drops\":{", (ull)p->off_in_csum,
			  (ull)p->off_in_gso, (ull)p->off_passed, (ull)p->off_sw_csum,
			  (ull)p->off_sw_gso, (ull)p->off_segs, (ull)p->off_seg_lost,
			  (ull)p->off_changed);
		for (int k = 0; k < OFF_E_MAX; k++)
			sb_printf(o, "%s\"%s\":%llu", k ? "," : "", off_err_names[k],
				  (ull)p->off_bad[k]);
		sb_printf(o, "}}}");
	}
	sb_printf(o, "]}\n");
}

void report_stats(const struct snapshot *s, struct sbuf *o, bool json)
{
	if (json)
		stats_json(s, o);
	else
		stats_text(s, o);
}

/* ---- status ---- */

static unsigned int ports_up(const struct snapshot *s)
{
	unsigned int up = 0;

	for (unsigned int i = 0; i < s->nports; i++)
		up += s->port[i].up;
	return up;
}

void report_status(const struct snapshot *s, struct sbuf *o, bool json)
{
	const struct status_snap *t = &s->st;

	if (json) {
		sb_printf(o, "{\"version\":");
		sb_json_str(o, t->version);
		sb_printf(o, ",\"uptime_s\":%llu,\"ports\":%u,\"ports_up\":%u,"
			  "\"macs\":%u,\"mac_max\":%u,\"mac_max_per_port\":%u,"
			  "\"ageing_s\":%u,\"sleeps\":%llu,\"wakeups\":%llu,"
			  "\"polls\":%llu,\"empty_polls\":%llu,\"max_poll_gap_us\":%llu,"
			  "\"ctl_connections\":%u,\"ctl_evicted\":%llu,"
			  "\"ctl_timeouts\":%llu",
			  (ull)t->uptime_s, s->nports, ports_up(s), t->macs, t->mac_max,
			  t->mac_max_per_port, t->ageing_s, (ull)t->sleeps,
			  (ull)t->wakeups, (ull)t->polls, (ull)t->empty_polls,
			  (ull)t->max_gap_us, t->ctl_conns, (ull)t->ctl_evicted,
			  (ull)t->ctl_timeouts);
		for (unsigned int k = 0; k < t->nflags; k++)
			sb_printf(o, ",\"%s\":%s", t->flag[k].key, tf(t->flag[k].on));
		sb_printf(o, ",\"config_error\":");
		sb_json_str(o, t->config_error);
		sb_printf(o, "}\n");
		return;
	}
	sb_printf(o, "vvu-switch %s, up %llus, %u ports (%u up), %u MACs "
		  "(max %u, %u per port, ageing %us)\n", t->version,
		  (ull)t->uptime_s, s->nports, ports_up(s), t->macs, t->mac_max,
		  t->mac_max_per_port, t->ageing_s);
	sb_printf(o, "polls %llu (%llu empty), sleeps %llu, wakeups %llu",
		  (ull)t->polls, (ull)t->empty_polls, (ull)t->sleeps,
		  (ull)t->wakeups);
	for (unsigned int k = 0; k < t->nflags; k++)
		if (t->flag[k].on)
			sb_printf(o, ", %s devices", t->flag[k].key);
	sb_printf(o, "\nlongest poll gap %llu us, %u control connections\n",
		  (ull)t->max_gap_us, t->ctl_conns);
	if (t->config_error[0])
		sb_printf(o, "config error: %s\n", t->config_error);
}

/* ---- Prometheus ---- */

/* A label value: backslash, double quote and newline escaped (0.0.4). */
static void prom_str(struct sbuf *o, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '\\' || c == '"')
			sb_printf(o, "\\%c", c);
		else if (c == '\n')
			sb_printf(o, "\\n");
		else if (c < 0x20 || c >= 0x7f)
			sb_printf(o, "?");	/* names are ASCII; keep it so */
		else
			sb_printf(o, "%c", c);
	}
}

static void family(struct sbuf *o, const char *name, const char *type,
		   const char *help)
{
	sb_printf(o, "# HELP vvu_switch_%s %s\n# TYPE vvu_switch_%s %s\n", name,
		  help, name, type);
}

static void sample(struct sbuf *o, const char *name, uint64_t v)
{
	sb_printf(o, "vvu_switch_%s %llu\n", name, (ull)v);
}

/* name{port="P"[,extra_key="extra_val"]} v */
static void port_sample(struct sbuf *o, const char *name,
			const struct port_snap *p, const char *key,
			const char *val, uint64_t v)
{
	sb_printf(o, "vvu_switch_%s{port=\"", name);
	prom_str(o, p->name);
	if (key && val) {
		sb_printf(o, "\",%s=\"", key);
		prom_str(o, val);
	}
	sb_printf(o, "\"} %llu\n", (ull)v);
}

/* One per-port family: help text and where the value is. */
struct port_metric {
	const char *name, *type, *help;
	size_t off;		/* uint64_t in struct port_snap */
};

#define PM(n, t, h, f) { n, t, h, offsetof(struct port_snap, f) }

static const struct port_metric port_metrics[] = {
	PM("port_rx_packets_total", "counter", "Frames received from the port's peer.", sw.rx_packets),
	PM("port_rx_bytes_total", "counter", "Bytes received from the port's peer.", sw.rx_bytes),
	PM("port_tx_packets_total", "counter", "Frames delivered to the port's peer.", sw.tx_packets),
	PM("port_tx_bytes_total", "counter", "Bytes delivered to the port's peer.", sw.tx_bytes),
	PM("port_rx_flooded_total", "counter", "Received frames flooded to every other port.", sw.rx_flooded),
	PM("port_learn_refused_total", "counter", "Source MACs not learned: a table limit was hit.", sw.learn_refused),
	PM("port_mac_moves_total", "counter", "MACs that moved to the port.", sw.mac_moves),
	PM("port_mac_pins_total", "counter", "MACs pinned: they flapped to the port too often.", sw.mac_pins),
	PM("port_mirrored_total", "counter", "Mirror copies delivered to the port (a mirror output).", sw.mirrored),
	PM("port_connects_total", "counter", "Frontends that connected.", connects),
	PM("port_disconnects_total", "counter", "Frontends that went away.", disconnects),
	PM("port_messages_total", "counter", "vhost-user messages handled.", messages),
	PM("port_message_errors_total", "counter", "vhost-user messages refused.", message_errors),
	PM("port_offload_rx_csum_total", "counter", "Received frames with a partial checksum.", off_in_csum),
	PM("port_offload_rx_gso_total", "counter", "Received frames to segment (TSO/USO).", off_in_gso),
	PM("port_offload_tx_passed_total", "counter", "Delivered with their offload work, as negotiated.", off_passed),
	PM("port_offload_tx_sw_csum_total", "counter", "Delivered after completing the checksum in software.", off_sw_csum),
	PM("port_offload_tx_sw_gso_total", "counter", "Delivered after segmenting in software.", off_sw_gso),
	PM("port_offload_tx_segments_total", "counter", "Segments made in software.", off_segs),
};

void report_metrics(const struct snapshot *s, struct sbuf *o)
{
	const struct status_snap *t = &s->st;

	family(o, "info", "gauge", "The switch's version (always 1).");
	sb_printf(o, "vvu_switch_info{version=\"");
	prom_str(o, t->version);
	sb_printf(o, "\"} 1\n");
	family(o, "uptime_seconds", "gauge", "Seconds since the switch started.");
	sample(o, "uptime_seconds", t->uptime_s);
	family(o, "polls_total", "counter", "Datapath poll rounds.");
	sample(o, "polls_total", t->polls);
	family(o, "empty_polls_total", "counter", "Poll rounds that moved no frame.");
	sample(o, "empty_polls_total", t->empty_polls);
	family(o, "sleeps_total", "counter", "Times the loop slept on the peers' kicks.");
	sample(o, "sleeps_total", t->sleeps);
	family(o, "wakeups_total", "counter", "Times work woke a sleeping loop.");
	sample(o, "wakeups_total", t->wakeups);
	family(o, "poll_gap_max_microseconds", "gauge",
	       "Longest time the busy loop went without polling the datapath.");
	sample(o, "poll_gap_max_microseconds", t->max_gap_us);
	family(o, "mac_entries", "gauge", "Entries in the MAC table.");
	sample(o, "mac_entries", t->macs);
	family(o, "mac_max", "gauge", "Size of the MAC table.");
	sample(o, "mac_max", t->mac_max);
	family(o, "control_connections", "gauge", "Control connections open.");
	sample(o, "control_connections", t->ctl_conns);
	family(o, "ports", "gauge", "Ports configured.");
	sample(o, "ports", s->nports);

	family(o, "port_up", "gauge", "1 when the port forwards (link up).");
	for (unsigned int i = 0; i < s->nports; i++)
		port_sample(o, "port_up", &s->port[i], "kind", s->port[i].kind,
			    s->port[i].up);
	family(o, "port_broken", "gauge", "1 when the peer broke the port's rings.");
	for (unsigned int i = 0; i < s->nports; i++)
		port_sample(o, "port_broken", &s->port[i], NULL, NULL,
			    s->port[i].broken);
	family(o, "port_mac_entries", "gauge", "MAC table entries learned on the port.");
	for (unsigned int i = 0; i < s->nports; i++)
		port_sample(o, "port_mac_entries", &s->port[i], NULL, NULL,
			    s->port[i].macs);
	for (size_t m = 0; m < sizeof(port_metrics) / sizeof(port_metrics[0]); m++) {
		const struct port_metric *pm = &port_metrics[m];

		family(o, pm->name, pm->type, pm->help);
		for (unsigned int i = 0; i < s->nports; i++) {
			uint64_t v;

			memcpy(&v, (const char *)&s->port[i] + pm->off, sizeof(v));
			port_sample(o, pm->name, &s->port[i], NULL, NULL, v);
		}
	}
	family(o, "port_drops_total", "counter",
	       "Frames dropped, by reason (the switch's and the virtio framing's).");
	for (unsigned int i = 0; i < s->nports; i++) {
		const struct port_snap *p = &s->port[i];

		for (int k = 0; k < SW_DROP_MAX; k++)
			port_sample(o, "port_drops_total", p, "reason",
				    sw_drop_names[k], p->sw.drops[k]);
		for (int k = 0; k < SNAP_VDROP_MAX; k++)
			port_sample(o, "port_drops_total", p, "reason",
				    snap_vdrop_names[k], p->vdrop[k]);
		for (int k = 0; k < OFF_E_MAX; k++)
			port_sample(o, "port_drops_total", p, "reason",
				    off_err_names[k], p->off_bad[k]);
	}
}

/* ---- MAC table ---- */

struct mac_ctx {
	const struct sw *sw;
	struct sbuf *o;
	bool json;
	unsigned int n;
	report_mac_note_fn note;
	void *note_arg;
};

static int mac_one(const struct sw_mac_entry *e, void *arg)
{
	struct mac_ctx *m = arg;
	const char *port = sw_port_name(m->sw, e->port);
	char mac[18], note[64];
	bool noted;

	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", e->mac[0],
		 e->mac[1], e->mac[2], e->mac[3], e->mac[4], e->mac[5]);
	noted = m->note && m->note(m->note_arg, e->port, e->mac, note, sizeof(note));
	if (m->json) {
		sb_printf(m->o, "%s{\"mac\":\"%s\",\"vlan\":%u,\"port\":",
			  m->n ? "," : "", mac, e->vlan);
		sb_json_str(m->o, port ? port : "?");
		sb_printf(m->o, ",\"age_s\":%llu,\"static\":%s,\"pinned\":%s",
			  (ull)e->age_s, tf(e->is_static), tf(e->pinned));
		if (noted) {
			sb_printf(m->o, ",\"vtep\":");
			sb_json_str(m->o, note);
		}
		sb_printf(m->o, "}");
	} else {
		sb_printf(m->o, "%-17s  %4u  %-10s %6llu%s%s%s%s\n", mac, e->vlan,
			  port ? port : "?", (ull)e->age_s,
			  e->is_static ? "  static" : "", e->pinned ? "  pinned" : "",
			  noted ? "  vtep " : "", noted ? note : "");
	}
	m->n++;
	return 0;
}

void report_mac(const struct sw *sw, uint64_t now_ns, struct sbuf *o, bool json)
{
	report_mac_notes(sw, now_ns, o, json, NULL, NULL);
}

void report_mac_notes(const struct sw *sw, uint64_t now_ns, struct sbuf *o,
		      bool json, report_mac_note_fn note, void *arg)
{
	struct mac_ctx m = { sw, o, json, 0, note, arg };

	if (json)
		sb_printf(o, "{\"macs\":[");
	else
		sb_printf(o, "%-17s  %4s  %-10s %6s  %s\n", "MAC", "VLAN", "PORT", "AGE",
			  "FLAGS");
	sw_mac_foreach(sw, now_ns, mac_one, &m);
	if (json)
		sb_printf(o, "],\"count\":%u}\n", m.n);
	else
		sb_printf(o, "%u entries\n", m.n);
}
