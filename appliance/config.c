/* SPDX-License-Identifier: MIT */
/*
 * config: parse the daemon's settings.  The format is INI-like:
 *
 *   [switch]            mac-max, mac-max-per-port, ageing-s, port-budget,
 *                       idle-poll-us, log-level, control, control-stream,
 *                       vvu (auto|none|BDF list), huge-dir, eal-args
 *   [port NAME]         socket, mode (server|client), queues, reconnect-ms;
 *                       or pci or uuid (a virtio-vhost-user device), queues;
 *                       or afxdp (IFNAME[,queue=N]: an AF_XDP uplink), queue;
 *                       or ethdev (DPDK devargs: an uplink in the switch VM);
 *                       or vxlan (VNI), vxlan-local, vxlan-remotes
 *                       and for any port: vlan, trunks, native-vlan,
 *                       allowed-macs, lock-mac, static-macs
 *   [mirror NAME]       from (port names), to (a port name)
 *
 * Every key is one row of keys[] below (its range, its default as text);
 * docs/config.md lists the same rows and test_config_doc holds them equal.
 * '#' starts a comment.  The text is untrusted: lines are bounded, numbers
 * are range-checked, unknown sections and keys are errors, a section or a
 * key given twice is an error naming both lines, and all work is done on a
 * copy that replaces the caller's config only on success.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "vu_dev.h"
#include "vlog.h"

#define LINE_MAX_LEN 512

void vvu_config_default(struct vvu_config *c)
{
	memset(c, 0, sizeof(*c));
	sw_config_default(&c->sw);
	c->log_level = VLOG_INFO;
	c->idle_poll_us = 200;
	memcpy(c->huge_dir, "/mnt/huge", sizeof("/mnt/huge"));
}

void vvu_port_cfg_default(struct vvu_port_cfg *p)
{
	memset(p, 0, sizeof(*p));
	p->queues = 1;
	p->reconnect_ms = 1000;
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* A decimal in [lo, hi].  0 or -EINVAL. */
static int parse_num(const char *v, long lo, long hi, long *out)
{
	char *end;
	long n;

	if (!*v || (!isdigit((unsigned char)*v) && *v != '-'))
		return -EINVAL;
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || *end || n < lo || n > hi)
		return -EINVAL;
	*out = n;
	return 0;
}

static int valid_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= VVU_NAME_MAX)
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' &&
		    *s != '.')
			return 0;
	return 1;
}

static int set_path(char *dst, const char *v)
{
	size_t n = strlen(v);

	if (n == 0 || n >= VVU_PATH_MAX)
		return -EINVAL;
	memcpy(dst, v, n + 1);
	return 0;
}

/* n hex digits at s as a number, or -1. */
static long hex_field(const char *s, unsigned int n)
{
	long v = 0;

	for (unsigned int i = 0; i < n; i++) {
		int c = tolower((unsigned char)s[i]);

		if (!isxdigit(c))
			return -1;
		v = v * 16 + (isdigit(c) ? c - '0' : c - 'a' + 10);
	}
	return v;
}

int vvu_bdf_parse(const char *s, char *out)
{
	size_t len = strlen(s);
	long dom = 0, bus, dev, fn;
	char buf[VVU_BDF_LEN + 8];

	/* dddd:bb:dd.f or bb:dd.f, exact widths, nothing after. */
	if (len == 12) {
		dom = hex_field(s, 4);
		if (s[4] != ':')
			return -EINVAL;
		s += 5;
	} else if (len != 7) {
		return -EINVAL;
	}
	bus = hex_field(s, 2);
	dev = hex_field(s + 3, 2);
	fn = hex_field(s + 6, 1);
	if (dom < 0 || bus < 0 || dev < 0 || fn < 0 || s[2] != ':' || s[5] != '.' ||
	    dev > 0x1f || fn > 7)
		return -EINVAL;
	snprintf(buf, sizeof(buf), "%04lx:%02lx:%02lx.%lx", dom, bus, dev, fn);
	memcpy(out, buf, VVU_BDF_LEN);
	return 0;
}

/* "auto", "none" or "BDF[,BDF...]" (spaces around commas allowed). */
static int set_vvu(struct vvu_config *c, const char *v)
{
	char buf[LINE_MAX_LEN + 1], *rest, *tok;
	char list[SW_MAX_PORTS][VVU_BDF_LEN];
	unsigned int n = 0;

	if (strcmp(v, "auto") == 0 || strcmp(v, "none") == 0) {
		c->vvu_mode = v[0] == 'a' ? VVU_MODE_AUTO : VVU_MODE_NONE;
		c->nvvu = 0;
		return 0;
	}
	if (!*v || strlen(v) > LINE_MAX_LEN)
		return -EINVAL;
	memcpy(buf, v, strlen(v) + 1);
	rest = buf;
	/* strsep, not strtok: an empty item ("a,,b", "a,") is an error. */
	while ((tok = strsep(&rest, ",")) != NULL) {
		if (n == SW_MAX_PORTS || vvu_bdf_parse(trim(tok), list[n]))
			return -EINVAL;
		for (unsigned int i = 0; i < n; i++)
			if (strcmp(list[i], list[n]) == 0)
				return -EINVAL;
		n++;
	}
	c->vvu_mode = VVU_MODE_LIST;
	c->nvvu = n;
	memcpy(c->vvu, list, sizeof(list[0]) * n);
	return 0;
}

int vvu_config_set_vvu(struct vvu_config *c, const char *spec, char *err,
		       size_t errlen)
{
	if (set_vvu(c, spec))
		return fail(err, errlen, "--vvu %.64s: must be auto, none or a comma "
			    "list of PCI addresses (00:03.0)", spec);
	return 0;
}

void vvu_config_vvu_name(const struct vvu_config *c, const char *bdf,
			 char *name, size_t n)
{
	for (unsigned int i = 0; i < c->nports; i++) {
		if (strcmp(c->ports[i].pci, bdf) == 0) {
			snprintf(name, n, "%s", c->ports[i].name);
			return;
		}
	}
	snprintf(name, n, "vvu-%s", strncmp(bdf, "0000:", 5) == 0 ? bdf + 5 : bdf);
}

bool vvu_config_wants(const struct vvu_config *c, const char *bdf)
{
	if (c->vvu_mode == VVU_MODE_AUTO)
		return true;
	for (unsigned int i = 0; i < c->nports; i++)
		if (c->ports[i].uuid[0])
			return true;
	for (unsigned int i = 0; i < c->nports; i++)
		if (strcmp(c->ports[i].pci, bdf) == 0)
			return true;
	for (unsigned int i = 0; c->vvu_mode == VVU_MODE_LIST && i < c->nvvu; i++)
		if (strcmp(c->vvu[i], bdf) == 0)
			return true;
	return false;
}

bool vvu_config_has_vvu(const struct vvu_config *c)
{
	if (c->vvu_mode != VVU_MODE_NONE)
		return true;
	for (unsigned int i = 0; i < c->nports; i++)
		if (c->ports[i].pci[0] || c->ports[i].uuid[0] || c->ports[i].ethdev[0])
			return true;
	return false;
}

const struct vvu_port_cfg *vvu_config_uuid_port(const struct vvu_config *c,
						const char *uuid)
{
	for (unsigned int i = 0; uuid[0] && i < c->nports; i++)
		if (strcmp(c->ports[i].uuid, uuid) == 0)
			return &c->ports[i];
	return NULL;
}

int vvu_uuid_parse(const char *s, char *out)
{
	char buf[VVU_UUID_LEN];

	if (strlen(s) != VVU_UUID_LEN - 1)
		return -EINVAL;
	for (size_t i = 0; i < VVU_UUID_LEN - 1; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
			return -EINVAL;
		buf[i] = (char)tolower((unsigned char)s[i]);
	}
	buf[VVU_UUID_LEN - 1] = '\0';
	memcpy(out, buf, sizeof(buf));
	return 0;
}

static int find_port(const struct vvu_config *c, const char *name)
{
	for (unsigned int i = 0; i < c->nports; i++)
		if (strcmp(c->ports[i].name, name) == 0)
			return (int)i;
	return -1;
}

const struct vvu_port_cfg *vvu_config_port(const struct vvu_config *c,
					   const char *name)
{
	int i = find_port(c, name);

	return i >= 0 ? &c->ports[i] : NULL;
}

/* Does port p carry VLAN vid (its untagged VLAN, or a trunk VLAN)? */
static bool port_carries(const struct vvu_port_cfg *p, unsigned int vid)
{
	if (p->has_trunks)
		return vid == p->native_vlan || sw_vlan_test(p->trunks, vid);
	return vid == (p->vlan ? p->vlan : 1);
}

static const char *check_vxlan_vlans(const struct vvu_port_cfg *p);

/* Checks that span sections.  Returns a message or NULL. */
static const char *check_whole(const struct vvu_config *c, unsigned int *bad)
{
	for (unsigned int i = 0; i < c->nports; i++) {
		*bad = i;
		const struct vvu_port_cfg *p = &c->ports[i];

		if (!p->socket[0] && !p->pci[0] && !p->uuid[0] && !p->afxdp[0] &&
		    !p->ethdev[0] && !p->vxlan)
			return "has no socket (or pci, uuid, afxdp, ethdev or vxlan)";
		if (p->ethdev[0] && (p->socket[0] || p->pci[0] || p->uuid[0] ||
				     p->afxdp[0]))
			return "has ethdev and another kind's key: one of them";
		if (p->ethdev[0] && p->client)
			return "is an uplink: mode does not apply";
		if (p->vxlan && (p->socket[0] || p->pci[0] || p->uuid[0] ||
				 p->afxdp[0] || p->ethdev[0]))
			return "has vxlan and another kind's key: one of them";
		if (p->vxlan && (!p->vxlan_local[0] || !p->vxlan_remotes[0]))
			return "is a vxlan port without vxlan-local or vxlan-remotes";
		if (p->vxlan && p->client)
			return "is an uplink: mode does not apply";
		if (check_vxlan_vlans(p))
			return check_vxlan_vlans(p);
		if (p->afxdp[0] && (p->socket[0] || p->pci[0] || p->uuid[0]))
			return "has afxdp and a socket or device: one of them";
		if (p->afxdp[0] && p->client)
			return "is an uplink: mode does not apply";
		if (p->socket[0] && p->pci[0])
			return "has both a socket and a pci device";
		if (p->uuid[0] && (p->socket[0] || p->pci[0]))
			return "has a uuid and a socket or pci device: one of them";
		if ((p->pci[0] || p->uuid[0]) && p->client)
			return "is a device: mode does not apply";
		if (p->vlan && p->has_trunks)
			return "has both vlan and trunks: one of them";
		if (p->native_vlan && !p->has_trunks)
			return "has a native-vlan but no trunks";
		for (unsigned int j = 0; j < p->nstatic; j++)
			if (p->statics[j].vlan &&
			    !port_carries(p, p->statics[j].vlan))
				return "has a static MAC in a VLAN it does not carry";
		for (unsigned int j = 0; j < i; j++) {
			if (c->ports[i].socket[0] &&
			    strcmp(c->ports[i].socket, c->ports[j].socket) == 0)
				return "uses the socket of another port";
			if (c->ports[i].pci[0] &&
			    strcmp(c->ports[i].pci, c->ports[j].pci) == 0)
				return "uses the pci device of another port";
			if (c->ports[i].uuid[0] &&
			    strcmp(c->ports[i].uuid, c->ports[j].uuid) == 0)
				return "uses the uuid of another port";
			if (c->ports[i].afxdp[0] &&
			    strcmp(c->ports[i].afxdp, c->ports[j].afxdp) == 0 &&
			    c->ports[i].queue == c->ports[j].queue)
				return "uses the interface queue of another port";
			if (c->ports[i].ethdev[0] &&
			    strcmp(c->ports[i].ethdev, c->ports[j].ethdev) == 0)
				return "uses the ethdev of another port";
		}
	}
	if (c->sw.mac_max_per_port > c->sw.mac_max) {
		*bad = c->nports;
		return "mac-max-per-port is larger than mac-max";
	}
	return NULL;
}

/*
 * The keys.  Every key the parser accepts is one row here: its section,
 * where its value goes, what it takes and how it is written back (for
 * the defaults in docs/config.md, which a unit test checks against this
 * table).  A number's range is the row's lo..hi and nothing else.
 */
enum key_sec { SEC_SWITCH, SEC_PORT, SEC_MIRROR };

struct key {
	enum key_sec sec;
	const char *name;
	/* Parse v into the field at obj + off.  0, or -EINVAL with why. */
	int (*set)(const struct key *k, void *obj, const char *v, char *why,
		   size_t n);
	/* Write the field back as the config would say it. */
	void (*get)(const struct key *k, const void *obj, char *buf, size_t n);
	size_t off;		/* in struct vvu_config or struct vvu_port_cfg */
	long lo, hi;		/* set_num: the range */
	const char *values;	/* what it takes, in words (not for numbers) */
};

static int why_fail(char *why, size_t n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int why_fail(char *why, size_t n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Numbers are stored in 32-bit fields: int when the range has negatives. */
static int set_num(const struct key *k, void *obj, const char *v, char *why,
		   size_t n)
{
	char *f = (char *)obj + k->off;
	long x;

	if (parse_num(v, k->lo, k->hi, &x))
		return why_fail(why, n, "%s must be %ld..%ld", k->name, k->lo, k->hi);
	if (k->lo < 0) {
		int i = (int)x;

		memcpy(f, &i, sizeof(i));
	} else {
		uint32_t u = (uint32_t)x;

		memcpy(f, &u, sizeof(u));
	}
	return 0;
}

static void get_num(const struct key *k, const void *obj, char *buf, size_t n)
{
	const char *f = (const char *)obj + k->off;

	if (k->lo < 0) {
		int i;

		memcpy(&i, f, sizeof(i));
		snprintf(buf, n, "%d", i);
	} else {
		uint32_t u;

		memcpy(&u, f, sizeof(u));
		snprintf(buf, n, "%u", u);
	}
}

/* Paths live in char[VVU_PATH_MAX] fields. */
static int set_str_path(const struct key *k, void *obj, const char *v,
			char *why, size_t n)
{
	if (set_path((char *)obj + k->off, v))
		return why_fail(why, n, "%s path empty or too long", k->name);
	return 0;
}

static void get_str(const struct key *k, const void *obj, char *buf, size_t n)
{
	snprintf(buf, n, "%s", (const char *)obj + k->off);
}

static int set_level(const struct key *k, void *obj, const char *v, char *why,
		     size_t n)
{
	enum vlog_level l;

	if (vlog_parse_level(v, &l))
		return why_fail(why, n, "%s must be err, warn, info or debug", k->name);
	memcpy((char *)obj + k->off, &l, sizeof(l));
	return 0;
}

static void get_level(const struct key *k, const void *obj, char *buf, size_t n)
{
	enum vlog_level l;

	memcpy(&l, (const char *)obj + k->off, sizeof(l));
	snprintf(buf, n, "%s", vlog_level_name(l));
}

static int set_vvu_key(const struct key *k, void *obj, const char *v,
		       char *why, size_t n)
{
	if (set_vvu(obj, v))
		return why_fail(why, n, "%s must be auto, none or a comma list of PCI "
				"addresses (00:03.0)", k->name);
	return 0;
}

static void get_vvu(const struct key *k, const void *obj, char *buf, size_t n)
{
	const struct vvu_config *c = obj;
	size_t used = 0;

	(void)k;
	if (c->vvu_mode != VVU_MODE_LIST) {
		snprintf(buf, n, "%s", c->vvu_mode == VVU_MODE_AUTO ? "auto" : "none");
		return;
	}
	buf[0] = '\0';
	for (unsigned int i = 0; i < c->nvvu && used < n; i++) {
		int w = snprintf(buf + used, n - used, "%s%s", i ? "," : "", c->vvu[i]);

		if (w < 0)
			break;
		used += (size_t)w;
	}
}

static int set_eal_args(const struct key *k, void *obj, const char *v,
			char *why, size_t n)
{
	struct vvu_config *c = obj;

	if (strlen(v) >= sizeof(c->eal_args))
		return why_fail(why, n, "%s longer than %zu bytes", k->name,
				sizeof(c->eal_args) - 1);
	for (const char *q = v; *q; q++)
		if (!isprint((unsigned char)*q))
			return why_fail(why, n, "%s has a control character", k->name);
	memcpy(c->eal_args, v, strlen(v) + 1);
	return 0;
}

static int set_pci(const struct key *k, void *obj, const char *v, char *why,
		   size_t n)
{
	if (vvu_bdf_parse(v, (char *)obj + k->off))
		return why_fail(why, n, "%s must be a PCI address like 00:03.0 or "
				"0000:00:03.0", k->name);
	return 0;
}

static int set_uuid(const struct key *k, void *obj, const char *v, char *why,
		    size_t n)
{
	if (vvu_uuid_parse(v, (char *)obj + k->off))
		return why_fail(why, n, "%s must be a UUID like "
				"12345678-9abc-def0-1234-56789abcdef0", k->name);
	return 0;
}

static int set_mode(const struct key *k, void *obj, const char *v, char *why,
		    size_t n)
{
	struct vvu_port_cfg *p = obj;

	if (strcmp(v, "server") != 0 && strcmp(v, "client") != 0)
		return why_fail(why, n, "%s must be server or client", k->name);
	p->client = v[0] == 'c';
	return 0;
}

static void get_mode(const struct key *k, const void *obj, char *buf, size_t n)
{
	const struct vvu_port_cfg *p = obj;

	(void)k;
	snprintf(buf, n, "%s", p->client ? "client" : "server");
}

/* afxdp = IFNAME[,queue=N]: the interface, and optionally its queue. */
static int set_afxdp(const struct key *k, void *obj, const char *v, char *why,
		     size_t n)
{
	struct vvu_port_cfg *p = obj;
	const char *comma = strchr(v, ',');
	size_t len = comma ? (size_t)(comma - v) : strlen(v);
	long q = p->queue;

	if (len == 0 || len >= sizeof(p->afxdp))
		return why_fail(why, n, "%s must be an interface name of 1-15 bytes",
				k->name);
	for (size_t i = 0; i < len; i++)
		if (!isgraph((unsigned char)v[i]) || v[i] == '/' || v[i] == ':')
			return why_fail(why, n, "%s: '%.*s' is not an interface name",
					k->name, (int)len, v);
	if (comma && (strncmp(comma + 1, "queue=", 6) != 0 ||
		      parse_num(comma + 7, 0, 255, &q)))
		return why_fail(why, n, "%s takes IFNAME or IFNAME,queue=N (N 0..255)",
				k->name);
	memcpy(p->afxdp, v, len);
	p->afxdp[len] = '\0';
	p->queue = (unsigned int)q;
	return 0;
}

/* vxlan = VNI: 0..16777215 (24 bits). */
static int set_vxlan(const struct key *k, void *obj, const char *v, char *why,
		     size_t n)
{
	struct vvu_port_cfg *p = obj;
	long vni;

	if (parse_num(v, 0, 0xffffff, &vni))
		return why_fail(why, n, "%s must be a VNI, 0..16777215", k->name);
	p->vxlan = true;
	p->vni = (unsigned int)vni;
	return 0;
}

static void get_vxlan(const struct key *k, const void *obj, char *buf, size_t n)
{
	const struct vvu_port_cfg *p = obj;

	(void)k;
	if (p->vxlan)
		snprintf(buf, n, "%u", p->vni);
	else
		buf[0] = '\0';
}

/* A list item separator: ',' (';' too, for --port specs) or a blank */
static bool list_sep(char ch)
{
	return ch == ',' || ch == ';' || isspace((unsigned char)ch);
}

/*
 * The next item of a list at *p into item (at most n - 1 bytes): 1, 0 at
 * the end, -1 when too long.  Empty items are skipped.
 */
static int list_next(const char **p, char *item, size_t n)
{
	const char *a = *p, *b;

	while (*a && list_sep(*a))
		a++;
	if (!*a)
		return 0;
	for (b = a; *b && !list_sep(*b); b++)
		;
	*p = b;
	if ((size_t)(b - a) >= n)
		return -1;
	memcpy(item, a, (size_t)(b - a));
	item[b - a] = '\0';
	return 1;
}

/* "02:00:00:00:00:01" (or with '-'), a unicast, non-zero MAC.  0 or -EINVAL. */
static int parse_mac(const char *v, uint8_t *mac)
{
	uint64_t m = 0;

	if (strlen(v) != 17)
		return -EINVAL;
	for (unsigned int i = 0; i < SW_ETH_ALEN; i++) {
		size_t at = (size_t)3 * i;
		long x = hex_field(v + at, 2);

		if (x < 0 || (i < 5 && v[at + 2] != ':' && v[at + 2] != '-'))
			return -EINVAL;
		mac[i] = (uint8_t)x;
		m |= (uint64_t)x << (8 * i);
	}
	return (mac[0] & 1) || !m ? -EINVAL : 0;
}

static void fmt_mac(char *buf, size_t n, const uint8_t *m)
{
	snprintf(buf, n, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3],
		 m[4], m[5]);
}

/* Append to buf (n bytes, NUL-terminated), a separator first unless empty. */
static void cat_item(char *buf, size_t n, const char *item)
{
	size_t len = strlen(buf);

	snprintf(buf + len, len < n ? n - len : 0, "%s%s", len ? "," : "", item);
}

/* forward-reserved: a 16-bit mask, hex (0x...) or decimal */
static int set_fwd_mask(const struct key *k, void *obj, const char *v,
			char *why, size_t n)
{
	struct vvu_config *c = obj;
	unsigned long x;
	char *end;

	errno = 0;
	x = strtoul(v, &end, 0);
	if (!*v || *v == '-' || errno || *end || x > 0xffff)
		return why_fail(why, n, "%s must be a mask 0..0xffff", k->name);
	if (x & SW_RESERVED_RESTRICTED)
		return why_fail(why, n, "%s: bits 1 and 2 (PAUSE, LACP) are never "
				"forwarded", k->name);
	c->sw.forward_reserved = (uint32_t)x;
	return 0;
}

static void get_fwd_mask(const struct key *k, const void *obj, char *buf,
			 size_t n)
{
	(void)k;
	snprintf(buf, n, "0x%04x", ((const struct vvu_config *)obj)->sw.forward_reserved);
}

/* A VLAN, 1..4094, in an unsigned int; unset (0) says nothing. */
static int set_vid(const struct key *k, void *obj, const char *v, char *why,
		   size_t n)
{
	long x;

	if (parse_num(v, 1, SW_VLAN_MAX, &x))
		return why_fail(why, n, "%s must be 1..%d", k->name, SW_VLAN_MAX);
	*(unsigned int *)(void *)((char *)obj + k->off) = (unsigned int)x;
	return 0;
}

static void get_vid(const struct key *k, const void *obj, char *buf, size_t n)
{
	unsigned int x = *(const unsigned int *)(const void *)((const char *)obj + k->off);

	if (x)
		snprintf(buf, n, "%u", x);
	else
		buf[0] = '\0';
}

/* One IPv4 address of len bytes at s, with an optional ":port" if port_ok. */
static bool ipv4_ok(const char *s, size_t len, bool port_ok)
{
	char a[VVU_VXLAN_ADDR_LEN];
	struct in_addr in;
	char *colon;
	long port;

	if (len == 0 || len >= sizeof(a))
		return false;
	memcpy(a, s, len);
	a[len] = '\0';
	colon = strchr(a, ':');
	if (colon) {
		if (!port_ok || parse_num(colon + 1, 1, 65535, &port))
			return false;
		*colon = '\0';
	}
	return inet_pton(AF_INET, a, &in) == 1;
}

/* vxlan-local = IPv4[:PORT] */
static int set_vxlan_local(const struct key *k, void *obj, const char *v,
			   char *why, size_t n)
{
	struct vvu_port_cfg *p = obj;

	if (!ipv4_ok(v, strlen(v), true))
		return why_fail(why, n, "%s must be an IPv4 address, optionally "
				":UDP port", k->name);
	memcpy(p->vxlan_local, v, strlen(v) + 1);
	return 0;
}

/* vxlan-remotes = IPv4 list, separated by ',' or '+' (in a --port spec). */
static int set_vxlan_remotes(const struct key *k, void *obj, const char *v,
			     char *why, size_t n)
{
	struct vvu_port_cfg *p = obj;
	unsigned int count = 0;
	const char *s = v;

	if (strlen(v) >= sizeof(p->vxlan_remotes))
		return why_fail(why, n, "%s is too long", k->name);
	for (;;) {
		size_t len = strcspn(s, ",+");

		while (len && s[len - 1] == ' ')
			len--;
		if (!ipv4_ok(s, len, false) || ++count > 16)
			return why_fail(why, n, "%s must be 1-16 IPv4 addresses, "
					"comma separated", k->name);
		s += strcspn(s, ",+");
		if (!*s)
			break;
		s++;
		while (*s == ' ')
			s++;
	}
	memcpy(p->vxlan_remotes, v, strlen(v) + 1);
	return 0;
}

/*
 * vxlan-vlans = VID:VNI list, "10:1010,20:1020" ('+' in a --port spec):
 * each VLAN travels
 * untagged in its own VNI, like a Linux bridge's "vlan tunnel" mapping.
 * The VLANs become the port's trunks (a trunks key must list the same).
 */
static int set_vxlan_vlans(const struct key *k, void *obj, const char *v,
			   char *why, size_t n)
{
	struct vvu_port_cfg *p = obj;
	struct vvu_vxlan_vlan m[VVU_VXLAN_VLANS_MAX];
	unsigned int cnt = 0;
	char item[24], list[VVU_VXLAN_VLANS_MAX * 16];
	const char *l = list;
	int r;

	if (strlen(v) >= sizeof(list))
		return why_fail(why, n, "%s is too long", k->name);
	/* '+' separates them in a --port spec, where ',' separates keys */
	for (size_t i = 0; i <= strlen(v); i++)
		list[i] = v[i] == '+' ? ',' : v[i];
	while ((r = list_next(&l, item, sizeof(item))) > 0) {
		char *colon = strchr(item, ':');
		long vid, vni;

		if (!colon || cnt == VVU_VXLAN_VLANS_MAX)
			break;
		*colon = '\0';
		if (parse_num(item, 1, SW_VLAN_MAX, &vid) ||
		    parse_num(colon + 1, 0, 0xffffff, &vni))
			break;
		for (unsigned int i = 0; i < cnt; i++)
			if (m[i].vid == vid || m[i].vni == vni)
				return why_fail(why, n, "%s maps VLAN %ld or VNI %ld twice",
						k->name, vid, vni);
		m[cnt].vid = (uint16_t)vid;
		m[cnt++].vni = (uint32_t)vni;
	}
	if (r != 0 || cnt == 0)
		return why_fail(why, n, "%s must be 1-%d of VLAN:VNI (10:1010,20:1020)",
				k->name, VVU_VXLAN_VLANS_MAX);
	memcpy(p->vxlan_vlans, m, sizeof(m[0]) * cnt);
	p->nvxlan_vlans = cnt;
	for (unsigned int i = 0; i < cnt; i++)
		sw_vlan_set(p->trunks, m[i].vid);
	p->has_trunks = true;
	return 0;
}

static void get_vxlan_vlans(const struct key *k, const void *obj, char *buf,
			    size_t n)
{
	const struct vvu_port_cfg *p = obj;

	(void)k;
	buf[0] = '\0';
	for (unsigned int i = 0; i < p->nvxlan_vlans; i++) {
		char item[24];

		snprintf(item, sizeof(item), "%u:%u", p->vxlan_vlans[i].vid,
			 p->vxlan_vlans[i].vni);
		cat_item(buf, n, item);
	}
}

/* What is wrong with p's vxlan-vlans, or NULL. */
static const char *check_vxlan_vlans(const struct vvu_port_cfg *p)
{
	uint64_t mapped[SW_VLAN_WORDS] = { 0 };

	if (!p->nvxlan_vlans)
		return NULL;
	if (!p->vxlan)
		return "has vxlan-vlans but is not a vxlan port";
	for (unsigned int i = 0; i < p->nvxlan_vlans; i++) {
		if (p->vxlan_vlans[i].vni == p->vni)
			return "maps a VLAN to its own vxlan VNI (that one is the "
			       "untagged frames')";
		sw_vlan_set(mapped, p->vxlan_vlans[i].vid);
	}
	for (unsigned int w = 0; w < SW_VLAN_WORDS; w++)
		if (mapped[w] != p->trunks[w])
			return "has trunks that differ from its vxlan-vlans' VLANs";
	return NULL;
}

/* ethdev = DEVARGS: printable, no blanks, bounded. */
static int set_ethdev(const struct key *k, void *obj, const char *v, char *why,
		      size_t n)
{
	struct vvu_port_cfg *p = obj;

	if (!*v || strlen(v) >= sizeof(p->ethdev))
		return why_fail(why, n, "%s must be DPDK devargs of 1-%zu bytes",
				k->name, sizeof(p->ethdev) - 1);
	for (const char *q = v; *q; q++)
		if (!isgraph((unsigned char)*q))
			return why_fail(why, n, "%s has a blank or control character",
					k->name);
	memcpy(p->ethdev, v, strlen(v) + 1);
	return 0;
}

/* trunks: VLANs and ranges, "10,20-30" */
static int set_trunks(const struct key *k, void *obj, const char *v, char *why,
		      size_t n)
{
	struct vvu_port_cfg *p = obj;
	uint64_t bits[SW_VLAN_WORDS] = { 0 };
	char item[16];
	int r;

	while ((r = list_next(&v, item, sizeof(item))) > 0) {
		char *dash = strchr(item, '-');
		long lo, hi;

		if (dash)
			*dash = '\0';
		if (parse_num(item, 1, SW_VLAN_MAX, &lo) ||
		    parse_num(dash ? dash + 1 : item, 1, SW_VLAN_MAX, &hi) || hi < lo)
			break;
		for (long vid = lo; vid <= hi; vid++)
			sw_vlan_set(bits, (unsigned int)vid);
	}
	if (r != 0 || !memcmp(bits, (uint64_t[SW_VLAN_WORDS]){ 0 }, sizeof(bits)))
		return why_fail(why, n, "%s must be a list of VLANs 1..%d and ranges "
				"(10,20-30)", k->name, SW_VLAN_MAX);
	memcpy(p->trunks, bits, sizeof(bits));
	p->has_trunks = true;
	return 0;
}

static void get_trunks(const struct key *k, const void *obj, char *buf, size_t n)
{
	const struct vvu_port_cfg *p = obj;

	(void)k;
	buf[0] = '\0';
	for (unsigned int vid = 1; p->has_trunks && vid <= SW_VLAN_MAX; vid++) {
		unsigned int end = vid;
		char item[16];

		if (!sw_vlan_test(p->trunks, vid))
			continue;
		while (end < SW_VLAN_MAX && sw_vlan_test(p->trunks, end + 1))
			end++;
		if (end > vid)
			snprintf(item, sizeof(item), "%u-%u", vid, end);
		else
			snprintf(item, sizeof(item), "%u", vid);
		cat_item(buf, n, item);
		vid = end;
	}
}

static int set_allowed(const struct key *k, void *obj, const char *v, char *why,
		       size_t n)
{
	struct vvu_port_cfg *p = obj;
	uint8_t macs[SW_SEC_MACS_MAX][SW_ETH_ALEN];
	unsigned int cnt = 0;
	char item[24];
	int r;

	if (p->nallowed || p->lock_first)
		return why_fail(why, n, "allowed-macs and lock-mac: one of them");
	while ((r = list_next(&v, item, sizeof(item))) > 0)
		if (cnt == SW_SEC_MACS_MAX || parse_mac(item, macs[cnt++]))
			break;
	if (r != 0 || cnt == 0)
		return why_fail(why, n, "%s must be 1..%d unicast MACs", k->name,
				SW_SEC_MACS_MAX);
	memcpy(p->allowed, macs, sizeof(macs[0]) * cnt);
	p->nallowed = cnt;
	return 0;
}

static void get_allowed(const struct key *k, const void *obj, char *buf, size_t n)
{
	const struct vvu_port_cfg *p = obj;
	char m[24];

	(void)k;
	buf[0] = '\0';
	for (unsigned int i = 0; !p->lock_first && i < p->nallowed; i++) {
		fmt_mac(m, sizeof(m), p->allowed[i]);
		cat_item(buf, n, m);
	}
}

static int set_lock_mac(const struct key *k, void *obj, const char *v, char *why,
			size_t n)
{
	struct vvu_port_cfg *p = obj;

	if (p->nallowed)
		return why_fail(why, n, "allowed-macs and lock-mac: one of them");
	if (strcmp(v, "first") == 0) {
		p->lock_first = true;
		return 0;
	}
	if (parse_mac(v, p->allowed[0]))
		return why_fail(why, n, "%s must be first or a unicast MAC", k->name);
	p->nallowed = 1;
	return 0;
}

static void get_lock_mac(const struct key *k, const void *obj, char *buf,
			 size_t n)
{
	const struct vvu_port_cfg *p = obj;

	(void)k;
	if (p->lock_first)
		snprintf(buf, n, "first");
	else
		buf[0] = '\0';
}

/* static-macs: MAC[@VLAN], ... */
static int set_statics(const struct key *k, void *obj, const char *v, char *why,
		       size_t n)
{
	struct vvu_port_cfg *p = obj;
	struct vvu_static_mac st[VVU_STATIC_MACS_MAX];
	unsigned int cnt = 0;
	char item[32];
	int r;

	while ((r = list_next(&v, item, sizeof(item))) > 0) {
		char *at = strchr(item, '@');
		long vid = 0;

		if (at)
			*at = '\0';
		if (cnt == VVU_STATIC_MACS_MAX || parse_mac(item, st[cnt].mac) ||
		    (at && parse_num(at + 1, 1, SW_VLAN_MAX, &vid)))
			break;
		st[cnt++].vlan = (uint16_t)vid;
	}
	if (r != 0 || cnt == 0)
		return why_fail(why, n, "%s must be 1..%d of MAC or MAC@VLAN",
				k->name, VVU_STATIC_MACS_MAX);
	memcpy(p->statics, st, sizeof(st[0]) * cnt);
	p->nstatic = cnt;
	return 0;
}

static void get_statics(const struct key *k, const void *obj, char *buf,
			size_t n)
{
	const struct vvu_port_cfg *p = obj;

	(void)k;
	buf[0] = '\0';
	for (unsigned int i = 0; i < p->nstatic; i++) {
		char m[32];

		fmt_mac(m, sizeof(m), p->statics[i].mac);
		if (p->statics[i].vlan)
			snprintf(m + 17, sizeof(m) - 17, "@%u", p->statics[i].vlan);
		cat_item(buf, n, m);
	}
}

static int set_mirror_from(const struct key *k, void *obj, const char *v,
			   char *why, size_t n)
{
	struct vvu_mirror_cfg *m = obj;
	char item[VVU_NAME_MAX];
	unsigned int cnt = 0;
	int r;

	while ((r = list_next(&v, item, sizeof(item))) > 0) {
		if (cnt == SW_MAX_PORTS || !valid_name(item))
			break;
		for (unsigned int i = 0; i < cnt; i++)
			if (strcmp(m->from[i], item) == 0)
				r = -1;
		if (r < 0)
			break;
		memcpy(m->from[cnt++], item, strlen(item) + 1);
	}
	if (r != 0 || cnt == 0)
		return why_fail(why, n, "%s must be a list of port names", k->name);
	m->nfrom = cnt;
	return 0;
}

static void get_mirror_from(const struct key *k, const void *obj, char *buf,
			    size_t n)
{
	const struct vvu_mirror_cfg *m = obj;

	(void)k;
	buf[0] = '\0';
	for (unsigned int i = 0; i < m->nfrom; i++)
		cat_item(buf, n, m->from[i]);
}

static int set_port_name(const struct key *k, void *obj, const char *v,
			 char *why, size_t n)
{
	if (!valid_name(v))
		return why_fail(why, n, "%s must be a port name", k->name);
	memcpy((char *)obj + k->off, v, strlen(v) + 1);
	return 0;
}

#define SW_OFF(f) offsetof(struct vvu_config, f)
#define MIR_OFF(f) offsetof(struct vvu_mirror_cfg, f)
#define PORT_OFF(f) offsetof(struct vvu_port_cfg, f)
#define NUM(s, n, o, l, h) { s, n, set_num, get_num, o, l, h, NULL }
#define PATH(s, n, o) { s, n, set_str_path, get_str, o, 0, 0, \
			"path, at most 107 bytes" }

/* The numbers are 32-bit fields (set_num and get_num copy 4 bytes). */
_Static_assert(sizeof(((struct vvu_config *)0)->sw.mac_move_max) == 4 &&
	       sizeof(((struct vvu_config *)0)->sw.mac_pin_s) == 4 &&
	       sizeof(((struct vvu_port_cfg *)0)->vlan) == 4,
	       "number fields are 32 bits");
_Static_assert(sizeof(((struct vvu_config *)0)->sw.mac_max) == 4 &&
	       sizeof(((struct vvu_config *)0)->idle_poll_us) == 4 &&
	       sizeof(((struct vvu_port_cfg *)0)->queues) == 4 &&
	       sizeof(((struct vvu_port_cfg *)0)->reconnect_ms) == 4 &&
	       sizeof(((struct vvu_port_cfg *)0)->queue) == 4,
	       "number fields are 32 bits");
_Static_assert(sizeof(((struct vvu_config *)0)->control) == VVU_PATH_MAX &&
	       sizeof(((struct vvu_config *)0)->control_stream) == VVU_PATH_MAX &&
	       sizeof(((struct vvu_config *)0)->huge_dir) == VVU_PATH_MAX &&
	       sizeof(((struct vvu_port_cfg *)0)->socket) == VVU_PATH_MAX,
	       "path fields are VVU_PATH_MAX bytes");

static const struct key keys[] = {
	NUM(SEC_SWITCH, "mac-max", SW_OFF(sw.mac_max), 16, SW_MAC_MAX_LIMIT),
	/* At most mac-max (check_whole), so never above mac-max's own limit. */
	NUM(SEC_SWITCH, "mac-max-per-port", SW_OFF(sw.mac_max_per_port), 1,
	    SW_MAC_MAX_LIMIT),
	NUM(SEC_SWITCH, "ageing-s", SW_OFF(sw.ageing_s), 1, 1000000),
	NUM(SEC_SWITCH, "port-budget", SW_OFF(sw.port_budget), 1, 65536),
	NUM(SEC_SWITCH, "idle-poll-us", SW_OFF(idle_poll_us), -1, 10000000),
	{ SEC_SWITCH, "log-level", set_level, get_level, SW_OFF(log_level), 0, 0,
	  "err, warn, info, debug" },
	PATH(SEC_SWITCH, "control", SW_OFF(control)),
	PATH(SEC_SWITCH, "control-stream", SW_OFF(control_stream)),
	{ SEC_SWITCH, "vvu", set_vvu_key, get_vvu, 0, 0, 0,
	  "auto, none, or a comma list of PCI addresses" },
	PATH(SEC_SWITCH, "huge-dir", SW_OFF(huge_dir)),
	{ SEC_SWITCH, "eal-args", set_eal_args, get_str, SW_OFF(eal_args), 0, 0,
	  "words, at most 255 bytes" },
	PATH(SEC_PORT, "socket", PORT_OFF(socket)),
	{ SEC_PORT, "pci", set_pci, get_str, PORT_OFF(pci), 0, 0,
	  "a PCI address, 00:03.0 or 0000:00:03.0" },
	{ SEC_PORT, "uuid", set_uuid, get_str, PORT_OFF(uuid), 0, 0,
	  "a UUID, 8-4-4-4-12 hex digits" },
	{ SEC_PORT, "mode", set_mode, get_mode, 0, 0, 0, "server, client" },
	NUM(SEC_PORT, "queues", PORT_OFF(queues), 1, VU_MAX_QUEUE_PAIRS),
	NUM(SEC_PORT, "reconnect-ms", PORT_OFF(reconnect_ms), 10, 600000),
	{ SEC_PORT, "afxdp", set_afxdp, get_str, PORT_OFF(afxdp), 0, 0,
	  "IFNAME or IFNAME,queue=N" },
	NUM(SEC_PORT, "queue", PORT_OFF(queue), 0, 255),
	{ SEC_PORT, "ethdev", set_ethdev, get_str, PORT_OFF(ethdev), 0, 0,
	  "DPDK devargs, at most 127 bytes" },
	{ SEC_PORT, "vxlan", set_vxlan, get_vxlan, 0, 0, 0, "a VNI, 0..16777215" },
	{ SEC_PORT, "vxlan-local", set_vxlan_local, get_str, PORT_OFF(vxlan_local), 0, 0,
	  "IPv4 address[:UDP port]" },
	{ SEC_PORT, "vxlan-remotes", set_vxlan_remotes, get_str,
	  PORT_OFF(vxlan_remotes), 0, 0, "1-16 IPv4 addresses" },
	{ SEC_PORT, "vxlan-vlans", set_vxlan_vlans, get_vxlan_vlans, 0, 0, 0,
	  "1-32 of VLAN:VNI" },
	{ SEC_SWITCH, "forward-reserved", set_fwd_mask, get_fwd_mask, 0, 0, 0,
	  "mask 0..0xffff, not bits 1, 2" },
	NUM(SEC_SWITCH, "mac-move-max", SW_OFF(sw.mac_move_max), 0, 1000000),
	NUM(SEC_SWITCH, "mac-pin-s", SW_OFF(sw.mac_pin_s), 1, 86400),
	{ SEC_PORT, "vlan", set_vid, get_vid, PORT_OFF(vlan), 0, 0, "1..4094" },
	{ SEC_PORT, "trunks", set_trunks, get_trunks, 0, 0, 0,
	  "VLANs and ranges: 10,20-30" },
	{ SEC_PORT, "native-vlan", set_vid, get_vid, PORT_OFF(native_vlan), 0, 0,
	  "1..4094" },
	{ SEC_PORT, "allowed-macs", set_allowed, get_allowed, 0, 0, 0,
	  "1 to 8 unicast MACs" },
	{ SEC_PORT, "lock-mac", set_lock_mac, get_lock_mac, 0, 0, 0,
	  "first, or a unicast MAC" },
	{ SEC_PORT, "static-macs", set_statics, get_statics, 0, 0, 0,
	  "1 to 16 of MAC or MAC@VLAN" },
	{ SEC_MIRROR, "from", set_mirror_from, get_mirror_from, 0, 0, 0,
	  "port names" },
	{ SEC_MIRROR, "to", set_port_name, get_str, MIR_OFF(to), 0, 0,
	  "a port name" },
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

static const char *sec_name(enum key_sec sec)
{
	return sec == SEC_SWITCH ? "switch" : sec == SEC_PORT ? "port" : "mirror";
}

static const struct key *find_key(enum key_sec sec, const char *name)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (keys[i].sec == sec && strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

int vvu_config_key_info(unsigned int i, struct vvu_config_key_info *out)
{
	static struct vvu_config c;	/* large: not on the stack */
	struct vvu_port_cfg p;
	struct vvu_mirror_cfg m;
	const struct key *k;
	const void *obj;

	if (i >= NKEYS)
		return -ENOENT;
	k = &keys[i];
	vvu_config_default(&c);
	vvu_port_cfg_default(&p);
	memset(&m, 0, sizeof(m));
	memset(out, 0, sizeof(*out));
	out->section = sec_name(k->sec);
	obj = k->sec == SEC_SWITCH ? (const void *)&c :
	      k->sec == SEC_PORT ? (const void *)&p : (const void *)&m;
	out->name = k->name;
	if (k->values)
		snprintf(out->values, sizeof(out->values), "%s", k->values);
	else
		snprintf(out->values, sizeof(out->values), "%ld..%ld", k->lo, k->hi);
	k->get(k, obj, out->def, sizeof(out->def));
	return 0;
}

/*
 * Set key k of a section (obj: the config or the port) to v.  0, or
 * -EINVAL with err saying what is wrong, the key named in it.
 */
static int set_key(enum key_sec sec, void *obj, const char *k, const char *v,
		   char *err, size_t errlen)
{
	const struct key *key = find_key(sec, k);

	if (!key)
		return fail(err, errlen, "unknown %s key '%.64s'", sec_name(sec), k);
	return key->set(key, obj, v, err, errlen);
}

/* A parse in progress: where it is and which lines set what. */
struct parse {
	struct vvu_config *n;	/* the copy being filled in */
	const char *origin;
	char *err;
	size_t errlen;
	unsigned int lineno;
	enum { IN_NONE, IN_SWITCH, IN_PORT, IN_MIRROR } sec;
	struct vvu_port_cfg *port;
	struct vvu_mirror_cfg *mirror;
	unsigned int mirror_line[SW_MIRRORS_MAX];
	unsigned int switch_line;	/* the [switch] header, 0 before it */
	unsigned int mac_line;		/* where a MAC limit clash is reported */
	unsigned int port_line[SW_MAX_PORTS];
	unsigned int key_line[NKEYS];	/* in the current section */
};

static int perr(struct parse *ps, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* "origin:line: " and the message, into ps->err.  Returns -EINVAL. */
static int perr(struct parse *ps, const char *fmt, ...)
{
	char what[384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return fail(ps->err, ps->errlen, "%s:%u: %s", ps->origin, ps->lineno, what);
}

/* [mirror NAME]: at most SW_MIRRORS_MAX, names unique. */
static int parse_mirror_header(struct parse *ps, const char *name)
{
	struct vvu_config *n = ps->n;

	if (!valid_name(name))
		return perr(ps, "mirror name must be 1-31 of [A-Za-z0-9._-]");
	for (unsigned int i = 0; i < n->nmirrors; i++)
		if (strcmp(n->mirrors[i].name, name) == 0)
			return perr(ps, "section [mirror %s] repeats line %u", name,
				    ps->mirror_line[i]);
	if (n->nmirrors >= SW_MIRRORS_MAX)
		return perr(ps, "more than %d mirrors", SW_MIRRORS_MAX);
	ps->mirror = &n->mirrors[n->nmirrors];
	ps->mirror_line[n->nmirrors] = ps->lineno;
	n->nmirrors++;
	memset(ps->mirror, 0, sizeof(*ps->mirror));
	memcpy(ps->mirror->name, name, strlen(name) + 1);
	ps->sec = IN_MIRROR;
	return 0;
}

/* A "[...]" line, s trimmed.  A section may appear once per text. */
static int parse_header(struct parse *ps, char *s)
{
	struct vvu_config *n = ps->n;
	char *close = strchr(s, ']');
	char *name;
	int i;

	if (!close || trim(close + 1)[0])
		return perr(ps, "malformed section header");
	*close = '\0';
	name = trim(s + 1);
	memset(ps->key_line, 0, sizeof(ps->key_line));
	if (strcmp(name, "switch") == 0) {
		if (ps->switch_line)
			return perr(ps, "section [switch] repeats line %u",
				    ps->switch_line);
		ps->switch_line = ps->lineno;
		ps->sec = IN_SWITCH;
		return 0;
	}
	if (strncmp(name, "mirror", 6) == 0 && isspace((unsigned char)name[6]))
		return parse_mirror_header(ps, trim(name + 7));
	if (strncmp(name, "port", 4) != 0 || !isspace((unsigned char)name[4]))
		return perr(ps, "unknown section [%s]", name);
	name = trim(name + 5);
	if (!valid_name(name))
		return perr(ps, "port name must be 1-31 of [A-Za-z0-9._-]");
	i = find_port(n, name);
	if (i >= 0 && ps->port_line[i])
		return perr(ps, "section [port %s] repeats line %u", name,
			    ps->port_line[i]);
	if (i >= 0)
		return perr(ps, "port %s defined twice", name);
	if (n->nports >= SW_MAX_PORTS)
		return perr(ps, "more than %d ports", SW_MAX_PORTS);
	ps->port = &n->ports[n->nports];
	ps->port_line[n->nports] = ps->lineno;
	n->nports++;
	vvu_port_cfg_default(ps->port);
	memcpy(ps->port->name, name, strlen(name) + 1);
	ps->sec = IN_PORT;
	return 0;
}

/* A "key = value" line, s trimmed.  A key may appear once per section. */
static int parse_key(struct parse *ps, char *s)
{
	char *eq = strchr(s, '=');
	enum key_sec sec = ps->sec == IN_SWITCH ? SEC_SWITCH :
			   ps->sec == IN_MIRROR ? SEC_MIRROR : SEC_PORT;
	void *obj = sec == SEC_SWITCH ? (void *)ps->n :
		    sec == SEC_MIRROR ? (void *)ps->mirror : (void *)ps->port;
	const struct key *key;
	char why[256];
	char *k, *v;

	if (!eq)
		return perr(ps, "expected key = value");
	*eq = '\0';
	k = trim(s);
	v = trim(eq + 1);
	if (ps->sec == IN_NONE)
		return perr(ps, "key '%.64s' outside any section", k);
	key = find_key(sec, k);
	if (key && ps->key_line[key - keys])
		return perr(ps, "key '%s' repeats line %u", k, ps->key_line[key - keys]);
	if (set_key(sec, obj, k, v, why, sizeof(why)))
		return perr(ps, "%s", why);
	ps->key_line[key - keys] = ps->lineno;
	if (sec == SEC_SWITCH && strncmp(k, "mac-max", 7) == 0)
		ps->mac_line = ps->lineno;
	return 0;
}

/* One line (no newline, at most LINE_MAX_LEN bytes). */
static int parse_line(struct parse *ps, const char *p, size_t len)
{
	char line[LINE_MAX_LEN + 1];
	char *s, *hash;

	memcpy(line, p, len);
	line[len] = '\0';
	if (strlen(line) != len)
		return perr(ps, "NUL byte");
	hash = strchr(line, '#');
	if (hash)
		*hash = '\0';
	s = trim(line);
	if (!*s)
		return 0;
	return *s == '[' ? parse_header(ps, s) : parse_key(ps, s);
}

/* A mirror's own rules.  Returns a message or NULL. */
static const char *check_mirror(const struct vvu_mirror_cfg *m)
{
	if (!m->nfrom || !m->to[0])
		return "needs from and to";
	for (unsigned int i = 0; i < m->nfrom; i++)
		if (strcmp(m->from[i], m->to) == 0)
			return "mirrors its own output port";
	return NULL;
}

/* The checks that span sections, once every line is in. */
static int parse_end(struct parse *ps)
{
	unsigned int bad = 0;
	const char *why = check_whole(ps->n, &bad);

	for (unsigned int i = 0; !why && i < ps->n->nmirrors; i++) {
		const char *w = check_mirror(&ps->n->mirrors[i]);

		if (w)
			return fail(ps->err, ps->errlen, "%s:%u: mirror %s %s",
				    ps->origin, ps->mirror_line[i],
				    ps->n->mirrors[i].name, w);
	}
	if (!why)
		return 0;
	if (bad < ps->n->nports)
		return fail(ps->err, ps->errlen, "%s:%u: port %s %s", ps->origin,
			    ps->port_line[bad], ps->n->ports[bad].name, why);
	if (ps->mac_line)
		return fail(ps->err, ps->errlen, "%s:%u: %s", ps->origin,
			    ps->mac_line, why);
	return fail(ps->err, ps->errlen, "%s: %s", ps->origin, why);
}

int vvu_config_parse(struct vvu_config *c, const char *text,
		     const char *origin, char *err, size_t errlen)
{
	struct parse *ps = calloc(1, sizeof(*ps));
	const char *p = text;
	int rc = 0;

	if (ps)
		ps->n = malloc(sizeof(*ps->n));
	if (!ps || !ps->n) {
		free(ps);
		return fail(err, errlen, "%s: out of memory", origin);
	}
	*ps->n = *c;
	ps->origin = origin;
	ps->err = err;
	ps->errlen = errlen;
	while (*p && rc == 0) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);

		ps->lineno++;
		if (len > LINE_MAX_LEN)
			rc = perr(ps, "line longer than %d bytes", LINE_MAX_LEN);
		else
			rc = parse_line(ps, p, len);
		p = eol ? eol + 1 : p + len;
	}
	if (rc == 0)
		rc = parse_end(ps);
	if (rc == 0)
		*c = *ps->n;
	free(ps->n);
	free(ps);
	return rc;
}

int vvu_config_load(struct vvu_config *c, const char *path, char *err,
		    size_t errlen)
{
	FILE *f = fopen(path, "r");
	char *buf;
	size_t n;
	bool more;
	int rc;

	if (!f) {
		rc = -errno;
		fail(err, errlen, "%s: %s", path, strerror(errno));
		return rc;
	}
	buf = malloc(1 << 20);
	if (!buf) {
		fclose(f);
		return fail(err, errlen, "%s: out of memory", path);
	}
	n = fread(buf, 1, (1 << 20) - 1, f);
	/* A file of exactly the limit ends without feof() set: peek. */
	more = !feof(f) && !ferror(f) && fgetc(f) != EOF;
	if (ferror(f)) {	/* a directory, an I/O error: say which */
		rc = errno ? -errno : -EIO;
		fclose(f);
		free(buf);
		fail(err, errlen, "%s: %s", path, strerror(-rc));
		return rc;
	}
	if (more) {
		fclose(f);
		free(buf);
		return fail(err, errlen, "%s: larger than 1 MiB", path);
	}
	fclose(f);
	buf[n] = '\0';
	if (strlen(buf) != n) {
		unsigned int line = 1;

		for (const char *q = buf; *q; q++)
			line += *q == '\n';
		free(buf);
		return fail(err, errlen, "%s:%u: NUL byte", path, line);
	}
	rc = vvu_config_parse(c, buf, path, err, errlen);
	free(buf);
	return rc;
}

/*
 * The next key=value of a port spec, up to the next lone ','; a doubled
 * ",," stands for one ',' in a value (as in QEMU's options), so DPDK
 * devargs fit: "ethdev=net_af_xdp0,,iface=eth1".  Unescapes in place;
 * empty items are skipped; NULL at the end.
 */
static char *spec_next(char **cursor)
{
	for (;;) {
		char *item = *cursor, *r, *w;

		if (!*item)
			return NULL;
		for (r = w = item; *r && !(*r == ',' && r[1] != ','); r++, w++) {
			if (*r == ',')
				r++;	/* ",,": keep one */
			*w = *r;
		}
		*cursor = *r ? r + 1 : r;
		*w = '\0';
		if (*item)
			return item;
	}
}

int vvu_port_spec_parse(struct vvu_port_cfg *p, const char *spec, char *err,
			size_t errlen)
{
	char buf[LINE_MAX_LEN + 1];
	char *cursor = buf, *tok;
	bool seen[NKEYS] = { false }, name_seen = false;

	if (strlen(spec) > LINE_MAX_LEN)
		return fail(err, errlen, "spec too long");
	memcpy(buf, spec, strlen(spec) + 1);
	vvu_port_cfg_default(p);
	while ((tok = spec_next(&cursor)) != NULL) {
		char *eq = strchr(tok, '=');
		const struct key *key;
		char why[256];

		if (!eq)
			return fail(err, errlen, "'%s' is not key=value", tok);
		*eq = '\0';
		key = find_key(SEC_PORT, tok);
		if ((key && seen[key - keys]) ||
		    (strcmp(tok, "name") == 0 && name_seen))
			return fail(err, errlen, "key '%s' given twice", tok);
		if (strcmp(tok, "name") == 0) {
			if (!valid_name(eq + 1))
				return fail(err, errlen,
					    "name must be 1-31 of [A-Za-z0-9._-]");
			memcpy(p->name, eq + 1, strlen(eq + 1) + 1);
			name_seen = true;
			continue;
		}
		if (set_key(SEC_PORT, p, tok, eq + 1, why, sizeof(why)))
			return fail(err, errlen, "%s", why);
		seen[key - keys] = true;
	}
	if (!p->socket[0] && !p->pci[0] && !p->uuid[0] && !p->afxdp[0] &&
	    !p->ethdev[0] && !p->vxlan)
		return fail(err, errlen, "no socket (or pci, uuid, afxdp, ethdev or vxlan)");
	if (p->vxlan && (!p->vxlan_local[0] || !p->vxlan_remotes[0]))
		return fail(err, errlen, "vxlan needs vxlan-local and vxlan-remotes");
	if (check_vxlan_vlans(p))
		return fail(err, errlen, "%s", check_vxlan_vlans(p));
	if (p->ethdev[0] && (p->socket[0] || p->pci[0] || p->uuid[0] || p->afxdp[0]))
		return fail(err, errlen, "ethdev and another kind's key both given");
	if (p->socket[0] && p->pci[0])
		return fail(err, errlen, "socket and pci both given");
	if (p->afxdp[0] && (p->socket[0] || p->pci[0] || p->uuid[0]))
		return fail(err, errlen, "afxdp and a socket or device both given");
	return 0;
}

int vvu_config_add_port_spec(struct vvu_config *c, const char *spec,
			     char *err, size_t errlen)
{
	struct vvu_port_cfg p;
	char why[384];

	if (strlen(spec) > LINE_MAX_LEN)
		return fail(err, errlen, "--port: spec too long");
	if (c->nports >= SW_MAX_PORTS)
		return fail(err, errlen, "--port: more than %d ports", SW_MAX_PORTS);
	if (vvu_port_spec_parse(&p, spec, why, sizeof(why)))
		return fail(err, errlen, "--port %s: %s", spec, why);
	if (!p.name[0])
		snprintf(p.name, sizeof(p.name), "p%u", c->nports);
	if (find_port(c, p.name) >= 0)
		return fail(err, errlen, "--port %s: port %s exists", spec, p.name);
	for (unsigned int i = 0; i < c->nports; i++) {
		if (p.socket[0] && strcmp(c->ports[i].socket, p.socket) == 0)
			return fail(err, errlen, "--port %s: socket in use by %s",
				    spec, c->ports[i].name);
		if (p.pci[0] && strcmp(c->ports[i].pci, p.pci) == 0)
			return fail(err, errlen, "--port %s: pci device in use by %s",
				    spec, c->ports[i].name);
	}
	c->ports[c->nports++] = p;
	return 0;
}
