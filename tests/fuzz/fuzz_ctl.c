/* SPDX-License-Identifier: MIT */
/*
 * fuzz_ctl: the control channel's request handling on arbitrary bytes,
 * as anyone who can reach the control socket may send them.  The first
 * input byte picks the size of the reads (1..64 bytes, 0: as much as fits);
 * the rest is the byte stream, framed by ctl_frame_line() into a buffer of
 * CTL_REQ_MAX bytes exactly as conn_read() does, and every line goes
 * through ctl_parse_request().  Checks the framer's contract (a line has
 * no newline, fits the buffer, and consumes what it says) and compares the
 * parser with a word splitter of our own: "COMMAND [json]", "port del NAME
 * [json]", "port add NAME KEY=VALUE... [json]" or "mac flush|add|del
 * WORDS... [json]" in at most CTL_REQ_WORDS words, nothing else.  Trusts nothing of the input.
 */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FINDING() abort()	/* a finding, not input handling */

#define MAXW (CTL_REQ_WORDS + 1)

/* The words of line (split where isspace() says); the first MAXW kept. */
static unsigned int words(const char *line, const char *w[MAXW], size_t wl[MAXW])
{
	unsigned int n = 0;

	for (const char *p = line; *p;) {
		while (*p && isspace((unsigned char)*p))
			p++;
		if (!*p)
			break;
		const char *s = p;

		while (*p && !isspace((unsigned char)*p))
			p++;
		if (n < MAXW) {
			w[n] = s;
			wl[n] = (size_t)(p - s);
		}
		n++;
	}
	return n;
}

static bool word_is(const char *w, size_t len, const char *s)
{
	return len == strlen(s) && memcmp(w, s, len) == 0;
}

static void check_line(const char *line, size_t used)
{
	const char *w[MAXW];
	size_t wl[MAXW];
	struct ctl_req req = { .cmd = CTL_CMD_COUNT };
	struct sbuf err = { 0 };
	unsigned int n = words(line, w, wl), m;
	int rc = ctl_parse_request(line, &req, &err);
	bool json = n > 1 && n <= CTL_REQ_WORDS && word_is(w[n - 1], wl[n - 1], "json");
	int want_cmd = -1;

	if (strlen(line) >= used || memchr(line, '\n', strlen(line)))
		FINDING();
	m = json ? n - 1 : n;
	if (n >= 1 && n <= CTL_REQ_WORDS && word_is(w[0], wl[0], "port")) {
		if (m == 3 && word_is(w[1], wl[1], "del"))
			want_cmd = CTL_CMD_PORT_DEL;
		else if (m >= 4 && word_is(w[1], wl[1], "add"))
			want_cmd = CTL_CMD_PORT_ADD;
	} else if (n >= 1 && n <= CTL_REQ_WORDS && m > 1 && word_is(w[0], wl[0], "mac")) {
		if (m <= 4 && word_is(w[1], wl[1], "flush"))
			want_cmd = CTL_CMD_MAC_FLUSH;
		else if (m >= 4 && m <= 6 && word_is(w[1], wl[1], "add"))
			want_cmd = CTL_CMD_MAC_ADD;
		else if (m >= 3 && m <= 5 && word_is(w[1], wl[1], "del"))
			want_cmd = CTL_CMD_MAC_DEL;
	} else if (m == 1) {
		for (int c = 0; c < CTL_CMD_PORT_ADD; c++)
			if (word_is(w[0], wl[0], ctl_cmd_name((enum ctl_cmd)c)))
				want_cmd = c;
	}
	if (rc == 0) {
		if (want_cmd < 0 || req.cmd != (enum ctl_cmd)want_cmd || req.json != json ||
		    err.len != 0)
			FINDING();
		if (want_cmd >= CTL_CMD_PORT_ADD) {
			if (req.narg != m - 2)
				FINDING();
			for (unsigned int i = 0; i < req.narg; i++)
				if (!word_is(w[i + 2], wl[i + 2], req.arg[i]))
					FINDING();
		}
	} else {
		if (rc != -EINVAL || want_cmd >= 0 || err.oom || err.len == 0 ||
		    err.s[err.len - 1] != '\n' || memchr(err.s, '\n', err.len) != err.s + err.len - 1)
			FINDING();
	}
	sb_free(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char buf[CTL_REQ_MAX + 1];
	size_t have = 0, off = 1, chunk;

	if (size < 1)
		return 0;
	chunk = data[0] % 65 ? data[0] % 65 : CTL_REQ_MAX;
	while (off < size) {
		size_t n = CTL_REQ_MAX - have;

		if (n > chunk)
			n = chunk;
		if (n > size - off)
			n = size - off;
		memcpy(buf + have, data + off, n);
		have += n;
		off += n;
		for (;;) {
			size_t used = 0, before = have, killed, line;
			enum ctl_frame f;
			char *nl;

			killed = ctl_frame_kill(buf, &have);
			if (have != before - killed)
				FINDING();
			/* What is left of the first line holds no kill byte. */
			nl = memchr(buf, '\n', have);
			line = nl ? (size_t)(nl - buf) : have;
			if (memchr(buf, CTL_KILL, line))
				FINDING();
			before = have;
			f = ctl_frame_line(buf, have, &used);

			if (f == CTL_FRAME_MORE) {
				if (have >= CTL_REQ_MAX)
					FINDING();
				break;
			}
			if (f == CTL_FRAME_TOO_LONG) {
				if (have != CTL_REQ_MAX || memchr(buf, '\n', have))
					FINDING();
				have = 0;	/* the stream's way: answer ERR, go on */
				break;
			}
			if (f != CTL_FRAME_LINE || used == 0 || used > have)
				FINDING();
			check_line(buf, used);
			ctl_frame_consume(buf, &have, used);
			if (have != before - used)
				FINDING();
		}
	}
	return 0;
}
