/* SPDX-License-Identifier: MIT */
/*
 * ctl: the control channel.  A client sends one request line ("ports",
 * "stats json", ...); the answer is "OK <bytes>\n" or "ERR <bytes>\n"
 * followed by exactly that many bytes.  The same framing runs over a
 * UNIX socket (one request per connection) and over a virtio-serial port
 * (many requests on one stream), so the CLI works with both.
 */
#ifndef VVU_CTL_H
#define VVU_CTL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ev.h"

#define CTL_REQ_MAX 256
#define CTL_MAX_CONNS 16		/* socket clients at once; the idlest makes room */
#define CTL_IDLE_NS (10ull * 1000000000ull) /* no progress this long: closed */

/* A growable string.  On allocation failure it stops growing and says so. */
struct sbuf {
	char *s;
	size_t len, cap;
	bool oom;
};

void sb_printf(struct sbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/*
 * Append s as a JSON string literal, quotes included.  Well-formed UTF-8
 * is kept, controls are escaped, and each ill-formed byte sequence
 * becomes one \ufffd: the result is valid JSON for any bytes.
 */
void sb_json_str(struct sbuf *b, const char *s);
void sb_free(struct sbuf *b);

/*
 * The framing of requests, apart from the I/O so that it can be tested and
 * fuzzed alone.  ctl_frame_line() looks for the next request line in
 * buf[0..have), have <= CTL_REQ_MAX:
 *   CTL_FRAME_LINE: the line is NUL-terminated in place at buf (a CR
 *     before the newline dropped); *used is its length with the newline.
 *     Answer it, then ctl_frame_consume(buf, &have, *used).
 *   CTL_FRAME_TOO_LONG: CTL_REQ_MAX bytes and no newline.
 *   CTL_FRAME_MORE: no whole line yet; read more.
 */
enum ctl_frame { CTL_FRAME_MORE, CTL_FRAME_LINE, CTL_FRAME_TOO_LONG };

enum ctl_frame ctl_frame_line(char *buf, size_t have, size_t *used);
/*
 * CTL_KILL (^U, the terminal's kill-line) in a request line discards what
 * came before it on that line.  A virtio-serial port cannot always tell one
 * host connection from the next (the open and the first bytes travel on
 * different queues), so a client starts each request with CTL_KILL and never
 * gets a half line a previous client left prefixed to its own.
 * ctl_frame_kill() drops, from the first line in buf[0..*have) (up to its
 * newline, or all of buf without one), everything up to and including its
 * last CTL_KILL; call it before each ctl_frame_line().  Returns the bytes
 * dropped.
 */
#define CTL_KILL '\025'
size_t ctl_frame_kill(char *buf, size_t *have);
/* Drop the first used (<= *have) bytes of buf. */
void ctl_frame_consume(char *buf, size_t *have, size_t used);

/*
 * A request: "COMMAND [json]", or "port add NAME KEY=VALUE... [json]" or
 * "port del NAME [json]", or "mac flush|add|del WORDS... [json]".
 */
enum ctl_cmd {
	CTL_CMD_PORTS,
	CTL_CMD_STATS,
	CTL_CMD_MAC,
	CTL_CMD_STATUS,
	CTL_CMD_METRICS,
	CTL_CMD_CLEAR_STATS,
	CTL_CMD_PORT_ADD,
	CTL_CMD_PORT_DEL,
	CTL_CMD_MAC_FLUSH,
	CTL_CMD_MAC_ADD,
	CTL_CMD_MAC_DEL,
	CTL_CMD_COUNT
};

#define CTL_REQ_WORDS 8

struct ctl_req {
	enum ctl_cmd cmd;
	bool json;
	/* port add/del: the port's name, then (add) its KEY=VALUE words;
	 * mac flush/add/del: the words after the subcommand. */
	unsigned int narg;
	char *arg[CTL_REQ_WORDS];
	char buf[CTL_REQ_MAX + 1];	/* the words point in here */
};

const char *ctl_cmd_name(enum ctl_cmd c);

/*
 * Parse one request line (no newline; any bytes).  Returns 0 with *req
 * set, or -EINVAL with the answer for the client (one line) in err.
 */
int ctl_parse_request(const char *line, struct ctl_req *req, struct sbuf *err);

/*
 * Answer one request line (no newline) into out.  Return 0 for OK,
 * non-zero for ERR (out holds the message).
 */
typedef int (*ctl_handler)(void *arg, const char *req, struct sbuf *out);

struct ctl_server;

/* Listen on a UNIX socket path.  NULL with errno set on failure. */
struct ctl_server *ctl_listen(struct ev_loop *ev, const char *path,
			      ctl_handler h, void *arg);
/* Serve a stream that stays open (a virtio-serial port). */
struct ctl_server *ctl_serve_stream(struct ev_loop *ev, int fd,
				    ctl_handler h, void *arg);
void ctl_close(struct ctl_server *s);

/* Timers: close socket connections idle CTL_IDLE_NS.  s may be NULL. */
void ctl_tick(struct ctl_server *s, uint64_t now_ns);
/* Connections open, closed to make room, and timed out; s may be NULL. */
void ctl_counts(const struct ctl_server *s, unsigned int *open,
		uint64_t *evicted, uint64_t *timeouts);

#endif
