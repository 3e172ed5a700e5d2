/* SPDX-License-Identifier: MIT */
/*
 * ctl: control requests over a socket or a stream.  Requests are
 * untrusted text from whoever can reach the socket: they are bounded to
 * CTL_REQ_MAX bytes, a longer line gets an error and the connection is
 * closed, and a client that stops mid-line holds only its own connection.
 * Framing (ctl_frame_line) and parsing (ctl_parse_request) do no I/O;
 * tests/fuzz/fuzz_ctl feeds them arbitrary bytes.
 * Nothing here waits for a client: answers go out as the socket takes
 * them (the loop watches for room), a client that does not read gets no
 * further answers, and connections are bounded in number (the idlest
 * makes room for a new one) and closed after CTL_IDLE_NS without
 * progress, so held ones can neither use up fds nor lock the CLI out.
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

static const char *const cmd_names[CTL_CMD_COUNT] = {
	[CTL_CMD_PORTS] = "ports",
	[CTL_CMD_STATS] = "stats",
	[CTL_CMD_MAC] = "mac",
	[CTL_CMD_STATUS] = "status",
	[CTL_CMD_METRICS] = "metrics",
	[CTL_CMD_CLEAR_STATS] = "clear-stats",
	[CTL_CMD_PORT_ADD] = "port add",
	[CTL_CMD_PORT_DEL] = "port del",
	[CTL_CMD_MAC_FLUSH] = "mac flush",
	[CTL_CMD_MAC_ADD] = "mac add",
	[CTL_CMD_MAC_DEL] = "mac del",
};

const char *ctl_cmd_name(enum ctl_cmd c)
{
	return (unsigned int)c < CTL_CMD_COUNT ? cmd_names[c] : "?";
}

static const char port_usage[] = "usage: port add NAME socket=PATH [mode=client] "
				 "[queues=N] [reconnect-ms=N] | port del NAME\n";

int ctl_parse_request(const char *line, struct ctl_req *req, struct sbuf *err)
{
	char *save = NULL, *w[CTL_REQ_WORDS], *t;
	unsigned int n = 0;

	req->json = false;
	req->narg = 0;
	snprintf(req->buf, sizeof(req->buf), "%s", line);
	/* Words split where isspace() would, in the C locale (no newline here). */
	for (t = strtok_r(req->buf, " \t\v\f\r", &save); t;
	     t = strtok_r(NULL, " \t\v\f\r", &save)) {
		if (n == CTL_REQ_WORDS) {
			sb_printf(err, "too many words\n");
			return -EINVAL;
		}
		w[n++] = t;
	}
	if (n == 0) {
		sb_printf(err, "empty request\n");
		return -EINVAL;
	}
	if (n > 1 && strcmp(w[n - 1], "json") == 0) {
		req->json = true;
		n--;
	}
	if (strcmp(w[0], "port") == 0) {
		if (n == 3 && strcmp(w[1], "del") == 0)
			req->cmd = CTL_CMD_PORT_DEL;
		else if (n >= 4 && strcmp(w[1], "add") == 0)
			req->cmd = CTL_CMD_PORT_ADD;
		else {
			sb_printf(err, "%s", port_usage);
			return -EINVAL;
		}
		for (unsigned int i = 2; i < n; i++)
			req->arg[req->narg++] = w[i];
		return 0;
	}
	if (strcmp(w[0], "mac") == 0 && n > 1) {
		if (strcmp(w[1], "flush") == 0 && n <= 4)
			req->cmd = CTL_CMD_MAC_FLUSH;
		else if (strcmp(w[1], "add") == 0 && n >= 4 && n <= 6)
			req->cmd = CTL_CMD_MAC_ADD;
		else if (strcmp(w[1], "del") == 0 && n >= 3 && n <= 5)
			req->cmd = CTL_CMD_MAC_DEL;
		else {
			sb_printf(err, "usage: mac [json] | mac flush [PORT | vlan N] | "
				  "mac add MAC PORT [vlan N] | mac del MAC [vlan N]\n");
			return -EINVAL;
		}
		for (unsigned int i = 2; i < n; i++)
			req->arg[req->narg++] = w[i];
		return 0;
	}
	for (unsigned int c = 0; c < CTL_CMD_PORT_ADD; c++) {
		if (strcmp(w[0], cmd_names[c]) != 0)
			continue;
		if (n != 1) {
			sb_printf(err, "usage: COMMAND [json]\n");
			return -EINVAL;
		}
		req->cmd = (enum ctl_cmd)c;
		return 0;
	}
	sb_printf(err, "unknown command '%.64s' (ports, stats, mac, status, metrics, "
		  "clear-stats, port add|del, mac flush|add|del)\n", w[0]);
	return -EINVAL;
}

enum ctl_frame ctl_frame_line(char *buf, size_t have, size_t *used)
{
	char *nl = memchr(buf, '\n', have);

	if (!nl)
		return have >= CTL_REQ_MAX ? CTL_FRAME_TOO_LONG : CTL_FRAME_MORE;
	*nl = '\0';
	if (nl > buf && nl[-1] == '\r')
		nl[-1] = '\0';
	*used = (size_t)(nl - buf) + 1;
	return CTL_FRAME_LINE;
}

size_t ctl_frame_kill(char *buf, size_t *have)
{
	char *nl = memchr(buf, '\n', *have);
	size_t end = nl ? (size_t)(nl - buf) : *have;
	size_t k = end;

	while (k > 0 && buf[k - 1] != CTL_KILL)
		k--;
	ctl_frame_consume(buf, have, k);
	return k;
}

void ctl_frame_consume(char *buf, size_t *have, size_t used)
{
	if (used > *have)
		used = *have;
	memmove(buf, buf + used, *have - used);
	*have -= used;
}

struct ctl_conn {
	struct ctl_server *srv;
	int fd;
	char buf[CTL_REQ_MAX + 1];
	size_t have;
	/* The answer not yet taken by the client: its head, then its body. */
	char head[32];
	size_t head_len;
	struct sbuf out;		/* head and body, sent from out_off */
	size_t out_off;
	bool closing;			/* socket: close once out is sent */
	bool want_out;			/* watching for writability */
	uint64_t last_ns;		/* last progress either way */
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
	unsigned int nconns;
	uint64_t evicted, timeouts;
};

static void conn_release(struct ctl_conn *c)
{
	ev_del(c->srv->ev, c->fd);
	if (!c->srv->stream)
		close(c->fd);
	sb_free(&c->out);
	free(c);
}

static void conn_free(struct ctl_conn *c)
{
	for (struct ctl_conn **pp = &c->srv->conns; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			c->srv->nconns--;
			break;
		}
	}
	conn_release(c);
}

static void conn_cb(void *arg, int fd, uint32_t events);

/* An answer waits to go out. */
static bool conn_pending(const struct ctl_conn *c)
{
	return c->out_off < c->head_len + c->out.len;
}

/* The answer is out (or nobody will read it): forget it. */
static void conn_done(struct ctl_conn *c)
{
	sb_free(&c->out);
	c->head_len = c->out_off = 0;
}

/* Watch for input (unless closing) and, while answers wait, for room. */
static void conn_watch(struct ctl_conn *c, bool want_out)
{
	if (want_out == c->want_out)
		return;
	c->want_out = want_out;
	if (ev_modify(c->srv->ev, c->fd, !c->closing, want_out) < 0)
		vlog_warn("ctl: cannot change a connection's watch");
}

/*
 * Send what the socket takes now, never waiting.  Returns 1 when all is
 * sent, 0 when some waits for room (watched), -1 when c was freed (the
 * client went away, or a socket connection is done).
 */
static int conn_flush(struct ctl_conn *c)
{
	size_t total = c->head_len + c->out.len;

	while (c->out_off < total) {
		bool in_head = c->out_off < c->head_len;
		const char *p = in_head ? c->head + c->out_off :
				c->out.s + (c->out_off - c->head_len);
		size_t len = in_head ? c->head_len - c->out_off : total - c->out_off;
		ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == ENOTSOCK)
			n = write(c->fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			conn_watch(c, true);
			return 0;
		}
		if (n <= 0) {
			if (c->srv->stream) {
				conn_done(c);	/* nobody to read it */
				return 1;
			}
			conn_free(c);
			return -1;
		}
		c->out_off += (size_t)n;
		c->last_ns = ev_now_ns();
	}
	conn_done(c);
	conn_watch(c, false);
	if (c->closing) {
		conn_free(c);
		return -1;
	}
	return 1;
}

/* Make the answer to req the one waiting to go out (none waits). */
static void answer(struct ctl_conn *c, const char *req)
{
	int rc = c->srv->h(c->srv->arg, req, &c->out);

	if (c->out.oom) {
		sb_free(&c->out);
		rc = 1;
		sb_printf(&c->out, "out of memory\n");
	}
	c->head_len = (size_t)snprintf(c->head, sizeof(c->head), "%s %zu\n",
				       rc ? "ERR" : "OK", c->out.len);
	c->out_off = 0;
}

/*
 * Answer every whole line in c->buf while nothing waits to go out
 * (a client that does not read gets no more answers queued).  Returns
 * 0, or -1 when c was freed.
 */
static int conn_lines(struct ctl_conn *c)
{
	while (!c->closing && !conn_pending(c)) {
		size_t used = 0;
		enum ctl_frame f;

		ctl_frame_kill(c->buf, &c->have);
		f = ctl_frame_line(c->buf, c->have, &used);

		if (f == CTL_FRAME_MORE)
			return 0;
		if (f == CTL_FRAME_TOO_LONG) {
			static const char body[] = "request line too long\n";

			sb_printf(&c->out, "%s", body);
			c->head_len = (size_t)snprintf(c->head, sizeof(c->head),
						       "ERR %zu\n", c->out.len);
			c->out_off = 0;
			c->have = 0;
			c->closing = !c->srv->stream;
		} else {
			answer(c, c->buf);
			ctl_frame_consume(c->buf, &c->have, used);
			/* A socket connection carries one request. */
			c->closing |= !c->srv->stream;
		}
		if (c->closing)
			conn_watch(c, true);	/* stop reading */
		if (conn_flush(c) < 0)
			return -1;
	}
	return 0;
}

/*
 * Read once and answer every whole line.  Returns 1 when a stream may
 * have more to read, 0 when there is nothing more (or c is gone).
 */
static int conn_read(struct ctl_conn *c, int fd)
{
	ssize_t n;

	if (c->closing || conn_pending(c))
		return 0;	/* answers first: the client reads, or times out */
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
	c->last_ns = ev_now_ns();
	return conn_lines(c) < 0 ? 0 : 1;
}

static void conn_cb(void *arg, int fd, uint32_t events)
{
	struct ctl_conn *c = arg;

	/* Room, or a hangup that the next send reports: push the answer. */
	(void)events;
	if (conn_pending(c)) {
		if (conn_flush(c) < 0)
			return;
		/* Room again: lines that waited behind the answer. */
		if (conn_lines(c) < 0)
			return;
	}
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
	c->last_ns = ev_now_ns();
	if ((s->stream ? ev_add_et : ev_add)(s->ev, fd, conn_cb, c) < 0) {
		free(c);
		return NULL;
	}
	c->next = s->conns;
	s->conns = c;
	s->nconns++;
	return c;
}

/* The connection that made no progress for longest. */
static struct ctl_conn *most_idle(const struct ctl_server *s)
{
	struct ctl_conn *best = s->conns;

	for (struct ctl_conn *c = s->conns; c; c = c->next)
		if (c->last_ns < best->last_ns)
			best = c;
	return best;
}

static void listen_cb(void *arg, int fd, uint32_t events)
{
	struct ctl_server *s = arg;
	int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	(void)events;
	if (c < 0)
		return;
	/*
	 * Held connections must not take every fd, nor lock the operator
	 * out: at the limit the one idle longest makes room for the new.
	 */
	if (s->nconns >= CTL_MAX_CONNS && s->conns) {
		if (s->evicted++ == 0)
			vlog_warn("ctl: %u clients connected: closing the idlest "
				  "for each new one", s->nconns);
		conn_free(most_idle(s));
	}
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
		s->nconns--;
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
	struct ctl_conn *c, *next;

	if (!s || s->stream)
		return;		/* a stream's host may be quiet for ever */
	for (c = s->conns; c; c = next) {
		next = c->next;
		/* now_ns may predate the connection: the loop's clock is lazy. */
		if (now_ns <= c->last_ns || now_ns - c->last_ns < CTL_IDLE_NS)
			continue;
		s->timeouts++;
		vlog_warn("ctl: client idle for %llu s%s: closed",
			  (unsigned long long)(CTL_IDLE_NS / 1000000000ull),
			  conn_pending(c) ? " with an answer unread" : "");
		conn_free(c);
	}
}

void ctl_counts(const struct ctl_server *s, unsigned int *open,
		uint64_t *evicted, uint64_t *timeouts)
{
	*open = s ? s->nconns : 0;
	*evicted = s ? s->evicted : 0;
	*timeouts = s ? s->timeouts : 0;
}
