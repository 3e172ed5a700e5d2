/* SPDX-License-Identifier: MIT */
/*
 * ctl: control requests over a socket or a stream.  Requests are
 * untrusted text from whoever can reach the socket: they are bounded to
 * CTL_REQ_MAX bytes, a longer line gets an error and the connection is
 * closed, and a client that stops mid-line holds only its own connection.
 */
#include "ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "vlog.h"

void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->oom)
		return;
	for (;;) {
		size_t room = b->cap - b->len;

		va_start(ap, fmt);
		n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? room : 0, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if ((size_t)n < room) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = b->cap ? b->cap * 2 : 4096;

		while (cap < b->len + (size_t)n + 1)
			cap *= 2;
		char *s = realloc(b->s, cap);

		if (!s) {
			b->oom = true;
			return;
		}
		b->s = s;
		b->cap = cap;
	}
}

/*
 * The length (1..4) of the well-formed UTF-8 sequence at s (RFC 3629:
 * no overlong forms, no surrogates, nothing past U+10FFFF), or 0 when
 * the bytes at s do not start one; *bad is then the length of the
 * ill-formed part, Unicode's "maximal subpart" (a lead byte and the
 * continuation bytes that could still have completed it), so a broken
 * sequence never swallows the good character after it.  s is
 * NUL-terminated and a NUL is never a continuation byte: nothing past it
 * is read.
 */
static size_t utf8_seq(const unsigned char *s, size_t *bad)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		if (s[0] == 0xe0)
			lo = 0xa0;	/* below: overlong */
		else if (s[0] == 0xed)
			hi = 0x9f;	/* above: UTF-16 surrogates */
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		if (s[0] == 0xf0)
			lo = 0x90;	/* below: overlong */
		else if (s[0] == 0xf4)
			hi = 0x8f;	/* above: past U+10FFFF */
	} else {
		*bad = 1;	/* a continuation byte, C0, C1 or F5..FF */
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if (s[i] < lo || s[i] > hi) {
			*bad = i;
			return 0;
		}
		lo = 0x80;
		hi = 0xbf;
	}
	return n;
}

static void sb_put(struct sbuf *b, const char *s, size_t n)
{
	while (n) {
		int k = n > 4096 ? 4096 : (int)n;

		sb_printf(b, "%.*s", k, s);
		s += k;
		n -= (size_t)k;
	}
}

/*
 * Well-formed UTF-8 goes out as it is (JSON text is UTF-8, RFC 8259);
 * '"', '\\', the C0 controls and DEL are escaped; each ill-formed part is
 * replaced by one U+FFFD, so the answer is valid JSON whatever bytes a
 * name or path holds.
 */
void sb_json_str(struct sbuf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	const unsigned char *run = p;	/* bytes not yet written, all good */

	sb_printf(b, "\"");
	while (*p) {
		size_t bad = 0, n = utf8_seq(p, &bad);

		if (n > 1 || (n == 1 && *p >= 0x20 && *p != 0x7f && *p != '"' &&
			      *p != '\\')) {
			p += n;
			continue;
		}
		sb_put(b, (const char *)run, (size_t)(p - run));
		if (n == 0)
			sb_printf(b, "\\ufffd");
		else if (*p == '"' || *p == '\\')
			sb_printf(b, "\\%c", *p);
		else
			sb_printf(b, "\\u%04x", *p);
		p += n ? n : bad;
		run = p;
	}
	sb_put(b, (const char *)run, (size_t)(p - run));
	sb_printf(b, "\"");
}

void sb_free(struct sbuf *b)
{
	free(b->s);
	memset(b, 0, sizeof(*b));
}

struct ctl_conn {
	struct ctl_server *srv;
	int fd;
	char buf[CTL_REQ_MAX + 1];
	size_t have;
	struct ctl_conn *next;
};

struct ctl_server {
	struct ev_loop *ev;
	int listen_fd;
	bool stream;			/* one long-lived fd, never closed by us */
	char path[108];
	ctl_handler h;
	void *arg;
	struct ctl_conn *conns;
};

static void conn_release(struct ctl_conn *c)
{
	ev_del(c->srv->ev, c->fd);
	if (!c->srv->stream)
		close(c->fd);
	free(c);
}

static void conn_free(struct ctl_conn *c)
{
	for (struct ctl_conn **pp = &c->srv->conns; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	conn_release(c);
}

/* A reader that takes nothing for this long loses its answer. */
#define CTL_STALL_MS 500

/*
 * Write all of buf.  The client is waiting and normally reads at once;
 * one that stops reading must not hold the daemon's loop, so after
 * CTL_STALL_MS without progress this gives up (-1).
 */
static int write_all(int fd, const char *buf, size_t len)
{
	unsigned int stalled_ms = 0;

	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == ENOTSOCK)
			n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			if (++stalled_ms > CTL_STALL_MS) {
				vlog_warn("ctl: client stopped reading, answer dropped");
				return -1;
			}
			usleep(1000);
			continue;
		}
		stalled_ms = 0;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int answer(struct ctl_conn *c, const char *req)
{
	struct sbuf out = { 0 };
	char head[48];
	int rc = c->srv->h(c->srv->arg, req, &out);

	if (out.oom) {
		sb_free(&out);
		rc = 1;
		sb_printf(&out, "out of memory\n");
	}
	snprintf(head, sizeof(head), "%s %zu\n", rc ? "ERR" : "OK", out.len);
	rc = write_all(c->fd, head, strlen(head));
	if (rc == 0 && out.len)
		rc = write_all(c->fd, out.s, out.len);
	sb_free(&out);
	return rc;
}

/*
 * Read once and answer every whole line.  Returns 1 when a stream may
 * have more to read, 0 when there is nothing more (or c is gone).
 */
static int conn_read(struct ctl_conn *c, int fd)
{
	ssize_t n;

	n = read(fd, c->buf + c->have, CTL_REQ_MAX - c->have);
	if (n < 0 && errno == EINTR)
		return 1;
	if (n < 0 && errno == EAGAIN)
		return 0;
	if (n <= 0) {
		if (!c->srv->stream)
			conn_free(c);
		return 0;
	}
	c->have += (size_t)n;
	for (;;) {
		char *nl = memchr(c->buf, '\n', c->have);

		if (!nl) {
			if (c->have == CTL_REQ_MAX) {
				static const char body[] = "request line too long\n";
				char m[64];

				snprintf(m, sizeof(m), "ERR %zu\n%s", sizeof(body) - 1,
					 body);
				write_all(c->fd, m, strlen(m));
				c->have = 0;
				if (!c->srv->stream) {
					conn_free(c);
					return 0;
				}
			}
			return 1;
		}
		*nl = '\0';
		if (nl > c->buf && nl[-1] == '\r')
			nl[-1] = '\0';
		int rc = answer(c, c->buf);
		size_t used = (size_t)(nl - c->buf) + 1;

		memmove(c->buf, nl + 1, c->have - used);
		c->have -= used;
		if (!c->srv->stream || rc) {
			if (!c->srv->stream)
				conn_free(c);
			return 0;
		}
	}
}

static void conn_cb(void *arg, int fd, uint32_t events)
{
	struct ctl_conn *c = arg;

	(void)events;
	/*
	 * A stream is watched edge-triggered, so that its far end going away
	 * (EOF, HUP until the host reopens it) does not wake the loop for
	 * ever: read it until there is nothing left.
	 */
	while (conn_read(c, fd) && c->srv->stream)
		;
}

static struct ctl_conn *conn_new(struct ctl_server *s, int fd)
{
	struct ctl_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->srv = s;
	c->fd = fd;
	if ((s->stream ? ev_add_et : ev_add)(s->ev, fd, conn_cb, c) < 0) {
		free(c);
		return NULL;
	}
	c->next = s->conns;
	s->conns = c;
	return c;
}

static void listen_cb(void *arg, int fd, uint32_t events)
{
	struct ctl_server *s = arg;
	int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	(void)events;
	if (c < 0)
		return;
	if (!conn_new(s, c))
		close(c);
}

struct ctl_server *ctl_listen(struct ev_loop *ev, const char *path,
			      ctl_handler h, void *arg)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct ctl_server *s;
	struct stat st;

	if (strlen(path) >= sizeof(a.sun_path)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->ev = ev;
	s->h = h;
	s->arg = arg;
	memcpy(s->path, path, strlen(path) + 1);
	memcpy(a.sun_path, path, strlen(path) + 1);
	s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->listen_fd < 0)
		goto fail;
	/* Replace a stale socket, but never delete anything else. */
	if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
		errno = EEXIST;
		goto fail;
	}
	unlink(path);
	if (bind(s->listen_fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(s->listen_fd, 8) < 0 ||
	    ev_add(ev, s->listen_fd, listen_cb, s) < 0)
		goto fail;
	return s;
fail:
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	free(s);
	return NULL;
}

struct ctl_server *ctl_serve_stream(struct ev_loop *ev, int fd,
				    ctl_handler h, void *arg)
{
	struct ctl_server *s = calloc(1, sizeof(*s));
	int fl = fcntl(fd, F_GETFL);

	if (!s)
		return NULL;
	/* Drained until EAGAIN (see conn_cb): never block the loop on it. */
	if (fl >= 0)
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	s->ev = ev;
	s->h = h;
	s->arg = arg;
	s->stream = true;
	s->listen_fd = -1;
	if (!conn_new(s, fd)) {
		free(s);
		return NULL;
	}
	return s;
}

void ctl_close(struct ctl_server *s)
{
	if (!s)
		return;
	while (s->conns) {
		struct ctl_conn *c = s->conns;

		s->conns = c->next;
		conn_release(c);
	}
	if (s->listen_fd >= 0) {
		ev_del(s->ev, s->listen_fd);
		close(s->listen_fd);
		unlink(s->path);
	}
	free(s);
}

void ctl_tick(struct ctl_server *s, uint64_t now_ns)
{
	(void)s;
	(void)now_ns;
}

void ctl_counts(const struct ctl_server *s, unsigned int *open,
		uint64_t *refused, uint64_t *timeouts)
{
	*open = 0;
	*refused = *timeouts = 0;
	for (const struct ctl_conn *c = s ? s->conns : NULL; c; c = c->next)
		(*open)++;
}
