/* SPDX-License-Identifier: MIT */
/*
 * l2: apply the config's VLANs, port security, static MACs and mirrors to
 * the switch, and answer the FDB requests.  Request words are untrusted:
 * MACs, VLANs and port names are parsed and checked here, and the switch
 * checks again.
 */
#include "l2.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vlog.h"

/* A port's VLAN for frames without a tag; 0: it takes none. */
static unsigned int untagged_vid(const struct vvu_port_cfg *pc)
{
	if (pc->has_trunks)
		return pc->native_vlan;
	return pc->vlan ? pc->vlan : 1;
}

int l2_port_apply(struct sw *sw, const struct vvu_port_cfg *pc, int id)
{
	struct sw_port_vlan v = { .pvid = 1 };
	struct sw_port_security sec = { .lock_first = pc->lock_first };
	int rc = 0, r;

	if (pc->has_trunks || pc->vlan) {
		v.aware = true;
		v.pvid = (uint16_t)untagged_vid(pc);
		if (pc->has_trunks)
			memcpy(v.trunks, pc->trunks, sizeof(v.trunks));
	}
	r = sw_port_set_vlan(sw, id, &v);
	if (r)
		rc = r;
	sec.nmacs = pc->nallowed;
	memcpy(sec.mac, pc->allowed, sizeof(sec.mac));
	r = sw_port_set_security(sw, id, &sec);
	if (r)
		rc = r;
	for (unsigned int i = 0; i < pc->nstatic; i++) {
		unsigned int vid = pc->statics[i].vlan ? pc->statics[i].vlan :
				   untagged_vid(pc);

		r = sw_mac_add(sw, pc->statics[i].mac, (uint16_t)vid, id);
		if (r)
			rc = r;
	}
	return rc;
}

/* The switch port id named name, or -1. */
static int port_id(const struct sw *sw, const char *name)
{
	for (int id = 0; id < SW_MAX_PORTS; id++) {
		const char *n = sw_port_name(sw, id);

		if (n && strcmp(n, name) == 0)
			return id;
	}
	return -1;
}

void l2_mirrors_apply(struct sw *sw, const struct vvu_config *cfg)
{
	for (unsigned int i = 0; i < SW_MIRRORS_MAX; i++) {
		const struct vvu_mirror_cfg *m = &cfg->mirrors[i];
		uint64_t from = 0;
		int to = i < cfg->nmirrors ? port_id(sw, m->to) : -1;

		for (unsigned int j = 0; to >= 0 && j < m->nfrom; j++) {
			int f = port_id(sw, m->from[j]);

			if (f >= 0)
				from |= 1ULL << f;
		}
		if (sw_mirror_set(sw, i, from, to))
			vlog_warn("mirror %s: refused by the switch", m->name);
	}
}

void l2_port_attached(struct sw *sw, const struct vvu_config *cfg,
		      const char *name, int id)
{
	const struct vvu_port_cfg *pc = vvu_config_port(cfg, name);

	if (pc && l2_port_apply(sw, pc, id))
		vlog_warn("%s: some VLAN, security or static MAC setting refused",
			  name);
	l2_mirrors_apply(sw, cfg);
}

void l2_report_pins(const struct sw *sw)
{
	static uint64_t seen[SW_MAX_PORTS];

	for (int id = 0; id < SW_MAX_PORTS; id++) {
		const struct sw_port_stats *st = sw_port_stats(sw, id);
		uint64_t pins = st ? st->mac_pins : 0;

		if (pins > seen[id])
			vlog_warn("%s: %llu MAC(s) flapped to it too often: pinned where "
				  "they were (vvu-switchctl mac shows them)",
				  sw_port_name(sw, id), (unsigned long long)(pins - seen[id]));
		seen[id] = pins;	/* a new port, or cleared counters: from 0 */
	}
}

void l2_vlan_str(const struct sw *sw, int id, char *buf, size_t n)
{
	struct sw_port_vlan v;
	size_t len;

	if (id < 0 || sw_port_get_vlan(sw, id, &v) || !v.aware) {
		snprintf(buf, n, "-");
		return;
	}
	len = (size_t)snprintf(buf, n, "%s", "");
	for (unsigned int vid = 1; vid <= SW_VLAN_MAX && len < n; vid++) {
		unsigned int end = vid;

		if (!sw_vlan_test(v.trunks, vid))
			continue;
		while (end < SW_VLAN_MAX && sw_vlan_test(v.trunks, end + 1))
			end++;
		len += (size_t)snprintf(buf + len, n - len, "%s%u", len ? "," : "trunk ",
					vid);
		if (end > vid && len < n)
			len += (size_t)snprintf(buf + len, n - len, "-%u", end);
		vid = end;
	}
	if (len == 0)
		snprintf(buf, n, "access %u", v.pvid);
	else if (v.pvid && len < n)
		snprintf(buf + len, n - len, " native %u", v.pvid);
}

/* ---- mac flush | add | del ---- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* "02:00:00:00:00:01", exactly. */
static int parse_mac(const char *s, uint8_t *mac)
{
	if (strlen(s) != 17)
		return -EINVAL;
	for (size_t i = 0; i < SW_ETH_ALEN; i++) {
		int hi = hexval(s[3 * i]), lo = hexval(s[3 * i + 1]);

		if (hi < 0 || lo < 0 || (i < SW_ETH_ALEN - 1 && s[3 * i + 2] != ':'))
			return -EINVAL;
		mac[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

static int parse_vid(const char *s, uint16_t *vid)
{
	char *end;
	long v;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	v = strtol(s, &end, 10);
	if (*end || v < 1 || v > SW_VLAN_MAX)
		return -EINVAL;
	*vid = (uint16_t)v;
	return 0;
}

static const char usage[] =
	"usage: mac [json] | mac flush [PORT | vlan N] | mac add MAC PORT [vlan N] | "
	"mac del MAC [vlan N]\n";

/* The words from i on are "vlan N" or nothing: *vid (default 1). */
static int opt_vlan(const struct ctl_req *r, unsigned int i, uint16_t *vid)
{
	*vid = 1;
	if (i == r->narg)
		return 0;
	if (i + 2 != r->narg || strcmp(r->arg[i], "vlan") != 0)
		return -EINVAL;
	return parse_vid(r->arg[i + 1], vid);
}

static void say_entry(struct sbuf *o, bool json, const char *what,
		      const uint8_t *m, unsigned int vid, const char *port)
{
	char mac[18];

	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1],
		 m[2], m[3], m[4], m[5]);
	if (json) {
		sb_printf(o, "{\"%s\":{\"mac\":\"%s\",\"vlan\":%u", what, mac, vid);
		if (port) {
			sb_printf(o, ",\"port\":");
			sb_json_str(o, port);
		}
		sb_printf(o, "}}\n");
	} else {
		sb_printf(o, "%s %s vlan %u%s%s\n", what, mac, vid, port ? " on " : "",
			  port ? port : "");
	}
}

int l2_mac_cmd(struct sw *sw, const struct ctl_req *r, struct sbuf *o)
{
	uint8_t mac[SW_ETH_ALEN];
	uint16_t vid = 0;
	int port = -1, rc;

	if (r->cmd == CTL_CMD_MAC_FLUSH) {
		uint32_t n;

		if (r->narg == 2 && strcmp(r->arg[0], "vlan") == 0) {
			if (parse_vid(r->arg[1], &vid)) {
				sb_printf(o, "bad VLAN '%.16s' (1..%d)\n", r->arg[1],
					  SW_VLAN_MAX);
				return 1;
			}
		} else if (r->narg == 1) {
			port = port_id(sw, r->arg[0]);
			if (port < 0) {
				sb_printf(o, "no port %.32s in the switch\n", r->arg[0]);
				return 1;
			}
		} else if (r->narg) {
			sb_printf(o, "%s", usage);
			return 1;
		}
		n = sw_mac_flush(sw, port, vid);
		sb_printf(o, r->json ? "{\"flushed\":%u}\n" : "flushed %u entries\n", n);
		return 0;
	}
	if (r->narg < 1 || parse_mac(r->arg[0], mac)) {
		sb_printf(o, "%s", r->narg ? "bad MAC (like 02:00:00:00:00:01)\n" : usage);
		return 1;
	}
	if (r->cmd == CTL_CMD_MAC_ADD) {
		if (r->narg < 2 || opt_vlan(r, 2, &vid)) {
			sb_printf(o, "%s", usage);
			return 1;
		}
		port = port_id(sw, r->arg[1]);
		if (port < 0) {
			sb_printf(o, "no port %.32s in the switch\n", r->arg[1]);
			return 1;
		}
		rc = sw_mac_add(sw, mac, vid, port);
		if (rc) {
			sb_printf(o, "%s\n", rc == -ENOSPC ? "MAC table full" :
				  "refused: a multicast or zero MAC, or a mirror's output port");
			return 1;
		}
		say_entry(o, r->json, "added", mac, vid, r->arg[1]);
		return 0;
	}
	if (opt_vlan(r, 1, &vid)) {
		sb_printf(o, "%s", usage);
		return 1;
	}
	if (sw_mac_del(sw, mac, vid)) {
		sb_printf(o, "no entry for %s in VLAN %u\n", r->arg[0], vid);
		return 1;
	}
	say_entry(o, r->json, "deleted", mac, vid, NULL);
	return 0;
}
