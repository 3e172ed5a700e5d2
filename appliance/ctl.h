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
