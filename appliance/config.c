/* SPDX-License-Identifier: MIT */
/*
 * config: parse the daemon's settings.  The format is INI-like:
 *
 *   [switch]            mac-max, mac-max-per-port, ageing-s, port-budget,
 *                       idle-poll-us, log-level, control, control-stream,
 *                       vvu (auto|none|BDF list), huge-dir, eal-args
 *   [port NAME]         socket, mode (server|client), queues, reconnect-ms;
 *                       or pci (a virtio-vhost-user device), queues
 *
 * '#' starts a comment.  The text is untrusted: lines are bounded, numbers
 * are range-checked, unknown sections and keys are errors, and all work is
 * done on a copy that replaces the caller's config only on success.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vu_dev.h"

#define LINE_MAX_LEN 512

void vvu_config_default(struct vvu_config *c)
{
	memset(c, 0, sizeof(*c));
	sw_config_default(&c->sw);
	c->log_level = VLOG_INFO;
	c->idle_poll_us = 200;
	memcpy(c->huge_dir, "/mnt/huge", sizeof("/mnt/huge"));
}

static void port_default(struct vvu_port_cfg *p)
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
		if (c->ports[i].pci[0])
			return true;
	return false;
}

/* One key of a [port] section or a port spec.  Returns a message or NULL. */
static const char *port_key(struct vvu_port_cfg *p, const char *k,
			    const char *v)
{
	long n;

	if (strcmp(k, "socket") == 0)
		return set_path(p->socket, v) ? "socket path empty or too long" : NULL;
	if (strcmp(k, "pci") == 0)
		return vvu_bdf_parse(v, p->pci) ?
		       "pci must be a PCI address like 00:03.0 or 0000:00:03.0" : NULL;
	if (strcmp(k, "mode") == 0) {
		if (strcmp(v, "server") == 0)
			p->client = false;
		else if (strcmp(v, "client") == 0)
			p->client = true;
		else
			return "mode must be server or client";
		return NULL;
	}
	if (strcmp(k, "queues") == 0) {
		if (parse_num(v, 1, VU_MAX_QUEUE_PAIRS, &n))
			return "queues must be 1..8";
		p->queues = (unsigned int)n;
		return NULL;
	}
	if (strcmp(k, "reconnect-ms") == 0) {
		if (parse_num(v, 10, 600000, &n))
			return "reconnect-ms must be 10..600000";
		p->reconnect_ms = (unsigned int)n;
		return NULL;
	}
	return "unknown port key";
}

static const char *switch_key(struct vvu_config *c, const char *k,
			      const char *v)
{
	long n;

	if (strcmp(k, "mac-max") == 0) {
		if (parse_num(v, 16, 1 << 22, &n))	/* sw_create's limit */
			return "mac-max must be 16..4194304";
		c->sw.mac_max = (uint32_t)n;
	} else if (strcmp(k, "mac-max-per-port") == 0) {
		if (parse_num(v, 1, 1 << 24, &n))
			return "mac-max-per-port must be 1..16777216";
		c->sw.mac_max_per_port = (uint32_t)n;
	} else if (strcmp(k, "ageing-s") == 0) {
		if (parse_num(v, 1, 1000000, &n))
			return "ageing-s must be 1..1000000";
		c->sw.ageing_s = (uint32_t)n;
	} else if (strcmp(k, "port-budget") == 0) {
		if (parse_num(v, 1, 65536, &n))
			return "port-budget must be 1..65536";
		c->sw.port_budget = (uint32_t)n;
	} else if (strcmp(k, "idle-poll-us") == 0) {
		if (parse_num(v, -1, 10000000, &n))
			return "idle-poll-us must be -1..10000000";
		c->idle_poll_us = (int)n;
	} else if (strcmp(k, "log-level") == 0) {
		if (vlog_parse_level(v, &c->log_level))
			return "log-level must be err, warn, info or debug";
	} else if (strcmp(k, "control") == 0) {
		if (set_path(c->control, v))
			return "control path empty or too long";
	} else if (strcmp(k, "control-stream") == 0) {
		if (set_path(c->control_stream, v))
			return "control-stream path empty or too long";
	} else if (strcmp(k, "vvu") == 0) {
		if (set_vvu(c, v))
			return "vvu must be auto, none or a comma list of PCI "
			       "addresses (00:03.0)";
	} else if (strcmp(k, "huge-dir") == 0) {
		if (set_path(c->huge_dir, v))
			return "huge-dir path empty or too long";
	} else if (strcmp(k, "eal-args") == 0) {
		if (strlen(v) >= sizeof(c->eal_args))
			return "eal-args longer than 255 bytes";
		for (const char *q = v; *q; q++)
			if (!isprint((unsigned char)*q))
				return "eal-args has a control character";
		memcpy(c->eal_args, v, strlen(v) + 1);
	} else {
		return "unknown switch key";
	}
	return NULL;
}

static int find_port(const struct vvu_config *c, const char *name)
{
	for (unsigned int i = 0; i < c->nports; i++)
		if (strcmp(c->ports[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* Checks that span sections.  Returns a message or NULL. */
static const char *check_whole(const struct vvu_config *c, unsigned int *bad)
{
	for (unsigned int i = 0; i < c->nports; i++) {
		*bad = i;
		if (!c->ports[i].socket[0] && !c->ports[i].pci[0])
			return "has no socket (or pci)";
		if (c->ports[i].socket[0] && c->ports[i].pci[0])
			return "has both a socket and a pci device";
		if (c->ports[i].pci[0] && c->ports[i].client)
			return "is a pci device: mode does not apply";
		for (unsigned int j = 0; j < i; j++) {
			if (c->ports[i].socket[0] &&
			    strcmp(c->ports[i].socket, c->ports[j].socket) == 0)
				return "uses the socket of another port";
			if (c->ports[i].pci[0] &&
			    strcmp(c->ports[i].pci, c->ports[j].pci) == 0)
				return "uses the pci device of another port";
		}
	}
	if (c->sw.mac_max_per_port > c->sw.mac_max) {
		*bad = c->nports;
		return "mac-max-per-port is larger than mac-max";
	}
	return NULL;
}

int vvu_config_parse(struct vvu_config *c, const char *text,
		     const char *origin, char *err, size_t errlen)
{
	struct vvu_config *n = malloc(sizeof(*n));
	unsigned int port_line[SW_MAX_PORTS] = { 0 };
	enum { SEC_NONE, SEC_SWITCH, SEC_PORT } sec = SEC_NONE;
	struct vvu_port_cfg *port = NULL;
	unsigned int lineno = 0, mac_line = 0;
	const char *p = text;
	int rc = 0;

	if (!n)
		return fail(err, errlen, "%s: out of memory", origin);
	*n = *c;
	while (*p && rc == 0) {
		char line[LINE_MAX_LEN + 1];
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		char *s, *eq, *hash;

		lineno++;
		if (len > LINE_MAX_LEN) {
			rc = fail(err, errlen, "%s:%u: line longer than %d bytes",
				  origin, lineno, LINE_MAX_LEN);
			break;
		}
		memcpy(line, p, len);
		line[len] = '\0';
		p = eol ? eol + 1 : p + len;
		if (memchr(line, '\0', len) != NULL && strlen(line) != len) {
			rc = fail(err, errlen, "%s:%u: NUL byte", origin, lineno);
			break;
		}
		hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		s = trim(line);
		if (!*s)
			continue;
		if (*s == '[') {
			char *close = strchr(s, ']');
			char *name;

			if (!close || trim(close + 1)[0]) {
				rc = fail(err, errlen, "%s:%u: malformed section header",
					  origin, lineno);
				break;
			}
			*close = '\0';
			name = trim(s + 1);
			if (strcmp(name, "switch") == 0) {
				sec = SEC_SWITCH;
				continue;
			}
			if (strncmp(name, "port", 4) != 0 ||
			    !isspace((unsigned char)name[4])) {
				rc = fail(err, errlen, "%s:%u: unknown section [%s]",
					  origin, lineno, name);
				break;
			}
			name = trim(name + 5);
			if (!valid_name(name)) {
				rc = fail(err, errlen,
					  "%s:%u: port name must be 1-31 of [A-Za-z0-9._-]",
					  origin, lineno);
				break;
			}
			if (find_port(n, name) >= 0) {
				rc = fail(err, errlen, "%s:%u: port %s defined twice",
					  origin, lineno, name);
				break;
			}
			if (n->nports >= SW_MAX_PORTS) {
				rc = fail(err, errlen, "%s:%u: more than %d ports",
					  origin, lineno, SW_MAX_PORTS);
				break;
			}
			port = &n->ports[n->nports];
			port_line[n->nports] = lineno;
			n->nports++;
			port_default(port);
			memcpy(port->name, name, strlen(name) + 1);
			sec = SEC_PORT;
			continue;
		}
		eq = strchr(s, '=');
		if (!eq) {
			rc = fail(err, errlen, "%s:%u: expected key = value", origin,
				  lineno);
			break;
		}
		*eq = '\0';
		char *k = trim(s), *v = trim(eq + 1);
		const char *why;

		if (sec == SEC_NONE)
			why = "key outside any section";
		else if (sec == SEC_SWITCH)
			why = switch_key(n, k, v);
		else
			why = port_key(port, k, v);
		if (why)
			rc = fail(err, errlen, "%s:%u: %s: %s", origin, lineno, k, why);
		else if (sec == SEC_SWITCH && strncmp(k, "mac-max", 7) == 0)
			mac_line = lineno;	/* where a MAC limit clash is reported */
	}
	if (rc == 0) {
		unsigned int bad = 0;
		const char *why = check_whole(n, &bad);

		if (why && bad < n->nports)
			rc = fail(err, errlen, "%s:%u: port %s %s", origin,
				  port_line[bad], n->ports[bad].name, why);
		else if (why && mac_line)
			rc = fail(err, errlen, "%s:%u: %s", origin, mac_line, why);
		else if (why)
			rc = fail(err, errlen, "%s: %s", origin, why);
	}
	if (rc == 0)
		*c = *n;
	free(n);
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

int vvu_config_add_port_spec(struct vvu_config *c, const char *spec,
			     char *err, size_t errlen)
{
	struct vvu_port_cfg p;
	char buf[LINE_MAX_LEN + 1];
	char *save = NULL, *tok;

	if (strlen(spec) > LINE_MAX_LEN)
		return fail(err, errlen, "--port: spec too long");
	if (c->nports >= SW_MAX_PORTS)
		return fail(err, errlen, "--port: more than %d ports", SW_MAX_PORTS);
	memcpy(buf, spec, strlen(spec) + 1);
	port_default(&p);
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		const char *why;

		if (!eq)
			return fail(err, errlen, "--port %s: '%s' is not key=value",
				    spec, tok);
		*eq = '\0';
		if (strcmp(tok, "name") == 0) {
			if (!valid_name(eq + 1))
				return fail(err, errlen,
					    "--port %s: name must be 1-31 of [A-Za-z0-9._-]",
					    spec);
			memcpy(p.name, eq + 1, strlen(eq + 1) + 1);
			continue;
		}
		why = port_key(&p, tok, eq + 1);
		if (why)
			return fail(err, errlen, "--port %s: %s: %s", spec, tok, why);
	}
	if (!p.name[0])
		snprintf(p.name, sizeof(p.name), "p%u", c->nports);
	if (!p.socket[0] && !p.pci[0])
		return fail(err, errlen, "--port %s: no socket (or pci)", spec);
	if (p.socket[0] && p.pci[0])
		return fail(err, errlen, "--port %s: socket and pci both given", spec);
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
