/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the control channel's framing (appliance/ctl.c) over a
 * real UNIX socket and a real stream (socketpair), and of its framing
 * and request grammar alone: every answer is
 * "OK <n>\n" or "ERR <n>\n" followed by exactly n bytes, a request line
 * longer than CTL_REQ_MAX gets ERR, and the server loop is the test's
 * own while a client thread talks to it with blocking I/O.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "ctl.h"
#include "ev.h"

#define BIG 100000
#define HUGE (8 << 20)	/* more than any socket buffer */

static uint64_t huge_ns;	/* how long the last "huge" answer took to build */

static int handler(void *arg, const char *req, struct sbuf *out)
{
	(void)arg;
	if (strcmp(req, "ports") == 0) {
		sb_printf(out, "p0 up\np1 down\n");
		return 0;
	}
	if (strcmp(req, "empty") == 0)
		return 0;
	if (strcmp(req, "big") == 0) {
		for (int i = 0; i < BIG / 10; i++)
			sb_printf(out, "%09d\n", i);
		return 0;
	}
	if (strcmp(req, "json") == 0) {
		sb_json_str(out, "a\"b\\c\n\x01\x7f");
		return 0;
	}
	if (strcmp(req, "huge") == 0) {
		uint64_t t0 = ev_now_ns();

		for (int i = 0; i < HUGE / 10; i++)
			sb_printf(out, "%09d\n", i);
		huge_ns = ev_now_ns() - t0;
		return 0;
	}
	if (strncmp(req, "echo ", 5) == 0) {
		sb_printf(out, "%s", req + 5);
		return 0;
	}
	sb_printf(out, "unknown request '%s'\n", req);
	return 1;
}

/* One answer as the CLI reads it. */
struct answer {
	char kind[8];
	size_t len;
	char *body;
	bool eof_after;		/* the server closed after the body */
	int rc;
};

static ssize_t read_full(int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, (char *)buf + got, len - got);

		if (n <= 0)
			return n < 0 ? -1 : (ssize_t)got;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/* Read "KIND <n>\n" and exactly n bytes. */
static int read_answer(int fd, struct answer *a, bool check_eof)
{
	char head[48];
	size_t i = 0;

	memset(a, 0, sizeof(*a));
	while (i < sizeof(head) - 1) {
		if (read(fd, &head[i], 1) != 1)
			return -EPIPE;
		if (head[i++] == '\n')
			break;
	}
	head[i] = '\0';
	if (sscanf(head, "%7s %zu\n", a->kind, &a->len) != 2)
		return -EPROTO;
	a->body = malloc(a->len + 1);
	if (read_full(fd, a->body, a->len) != (ssize_t)a->len)
		return -EMSGSIZE;
	a->body[a->len] = '\0';
	if (check_eof) {
		char c;
		ssize_t n = read(fd, &c, 1);

		/* EOF, or ECONNRESET when it closed with our bytes unread. */
		a->eof_after = n == 0 || (n < 0 && errno == ECONNRESET);
	}
	return 0;
}

struct client {
	char path[108];
	const char *req;	/* sent as is */
	size_t reqlen;
	struct answer a;
	volatile int done;
};

static void *client_thread(void *arg)
{
	struct client *c = arg;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memcpy(sa.sun_path, c->path, strlen(c->path) + 1);
	if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		c->a.rc = -errno;
	} else {
		size_t off = 0;

		while (off < c->reqlen) {
			ssize_t n = write(s, c->req + off, c->reqlen - off);

			if (n <= 0)
				break;
			off += (size_t)n;
		}
		c->a.rc = read_answer(s, &c->a, true);
	}
	if (s >= 0)
		close(s);
	__atomic_store_n(&c->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static struct ev_loop *loop;
static struct ctl_server *srv;
static char path[108];

static int setup(void **state)
{
	(void)state;
	snprintf(path, sizeof(path), "/tmp/vvu-ctl-test-%d.sock", (int)getpid());
	loop = ev_new();
	srv = ctl_listen(loop, path, handler, NULL);
	return srv ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	ctl_close(srv);
	ev_free(loop);
	unlink(path);
	return 0;
}

/* Run one client request to completion while serving it. */
static void ask(struct client *c, const char *req, size_t len)
{
	pthread_t th;

	memset(c, 0, sizeof(*c));
	memcpy(c->path, path, strlen(path) + 1);
	c->req = req;
	c->reqlen = len;
	assert_int_equal(pthread_create(&th, NULL, client_thread, c), 0);
	for (int i = 0; i < 5000 && !__atomic_load_n(&c->done, __ATOMIC_ACQUIRE); i++)
		ev_run(loop, 1);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(c->a.rc, 0);
}

static void test_ok_framing(void **state)
{
	struct client c;

	(void)state;
	ask(&c, "ports\n", 6);
	assert_string_equal(c.a.kind, "OK");
	assert_int_equal(c.a.len, 14);
	assert_string_equal(c.a.body, "p0 up\np1 down\n");
	assert_true(c.a.eof_after);	/* one request per connection */
	free(c.a.body);

	ask(&c, "empty\r\n", 7);
	assert_string_equal(c.a.kind, "OK");
	assert_int_equal(c.a.len, 0);
	assert_true(c.a.eof_after);
	free(c.a.body);

	ask(&c, "big\n", 4);
	assert_string_equal(c.a.kind, "OK");
	assert_int_equal(c.a.len, BIG);
	assert_int_equal(strncmp(c.a.body + BIG - 10, "000009999\n", 10), 0);
	assert_true(c.a.eof_after);
	free(c.a.body);

	ask(&c, "json\n", 5);
	assert_string_equal(c.a.body, "\"a\\\"b\\\\c\\u000a\\u0001\\u007f\"");
	free(c.a.body);

	ask(&c, "nonsense\n", 9);
	assert_string_equal(c.a.kind, "ERR");
	assert_int_equal(c.a.len, strlen(c.a.body));
	assert_non_null(strstr(c.a.body, "nonsense"));
	free(c.a.body);
}

static void test_long_request(void **state)
{
	struct client c;
	char req[CTL_REQ_MAX + 64];

	(void)state;
	/* The longest line that fits: CTL_REQ_MAX - 1 bytes and its newline. */
	memcpy(req, "echo ", 5);
	memset(req + 5, 'x', CTL_REQ_MAX - 1 - 5);
	req[CTL_REQ_MAX - 1] = '\n';
	ask(&c, req, CTL_REQ_MAX);
	assert_string_equal(c.a.kind, "OK");
	assert_int_equal(c.a.len, CTL_REQ_MAX - 1 - 5);
	free(c.a.body);

	/* One byte more: ERR, with exactly the bytes it announces. */
	memset(req + 5, 'x', CTL_REQ_MAX - 5);
	req[CTL_REQ_MAX] = '\n';
	ask(&c, req, CTL_REQ_MAX + 1);
	assert_string_equal(c.a.kind, "ERR");
	assert_int_equal(c.a.len, strlen(c.a.body));
	assert_non_null(strstr(c.a.body, "too long"));
	assert_true(c.a.eof_after);
	free(c.a.body);

	/* Much longer, no newline at all. */
	memset(req, 'y', sizeof(req));
	ask(&c, req, sizeof(req));
	assert_string_equal(c.a.kind, "ERR");
	assert_int_equal(c.a.len, strlen(c.a.body));
	free(c.a.body);
}

/* A stream (virtio-serial port): many requests, pipelined, never closed. */
static void test_stream(void **state)
{
	int sv[2];
	struct ctl_server *s;
	struct answer a;
	char longline[CTL_REQ_MAX + 10];
	const char *reqs = "ports\necho one\r\nnonsense\necho two\n";

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	s = ctl_serve_stream(loop, sv[0], handler, NULL);
	assert_non_null(s);
	assert_int_equal(write(sv[1], reqs, strlen(reqs)), (ssize_t)strlen(reqs));
	for (int i = 0; i < 20; i++)
		ev_run(loop, 1);
	assert_int_equal(read_answer(sv[1], &a, false), 0);
	assert_string_equal(a.body, "p0 up\np1 down\n");
	free(a.body);
	assert_int_equal(read_answer(sv[1], &a, false), 0);
	assert_string_equal(a.kind, "OK");
	assert_string_equal(a.body, "one");
	free(a.body);
	assert_int_equal(read_answer(sv[1], &a, false), 0);
	assert_string_equal(a.kind, "ERR");
	free(a.body);
	assert_int_equal(read_answer(sv[1], &a, false), 0);
	assert_string_equal(a.body, "two");
	free(a.body);
	/* A line too long gets ERR and the stream goes on. */
	memset(longline, 'z', sizeof(longline));
	longline[sizeof(longline) - 1] = '\n';
	assert_int_equal(write(sv[1], longline, sizeof(longline)), (ssize_t)sizeof(longline));
	for (int i = 0; i < 20; i++)
		ev_run(loop, 1);
	assert_int_equal(read_answer(sv[1], &a, false), 0);
	assert_string_equal(a.kind, "ERR");
	assert_int_equal(a.len, strlen(a.body));
	free(a.body);
	/* The tail of the long line ("zzzz...\n") is a request of its own. */
	assert_int_equal(read_answer(sv[1], &a, false), 0);
	assert_string_equal(a.kind, "ERR");
	free(a.body);
	assert_int_equal(write(sv[1], "echo three\n", 11), 11);
	for (int i = 0; i < 20; i++)
		ev_run(loop, 1);
	assert_int_equal(read_answer(sv[1], &a, false), 0);
	assert_string_equal(a.body, "three");
	free(a.body);
	ctl_close(s);
	close(sv[0]);
	close(sv[1]);
}

/*
 * A client asks for an answer larger than the socket buffer and then
 * stops reading.  The loop must not wait for it at all: every turn comes
 * back at once.  When the client reads again it gets the whole answer,
 * sent as the socket drained.
 */
static void *stalled_client(void *arg)
{
	struct client *c = arg;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	char b[65536];
	size_t got = 0;
	ssize_t n;

	memcpy(sa.sun_path, c->path, strlen(c->path) + 1);
	if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    write(s, "huge\n", 5) != 5) {
		c->a.rc = -1;
		__atomic_store_n(&c->done, 1, __ATOMIC_RELEASE);
		return NULL;
	}
	while (!__atomic_load_n(&c->done, __ATOMIC_ACQUIRE))
		usleep(1000);
	/* Released: read it all, to EOF. */
	while ((n = read(s, b, sizeof(b))) > 0)
		got += (size_t)n;
	c->a.len = got;
	close(s);
	__atomic_store_n(&c->done, 2, __ATOMIC_RELEASE);
	return NULL;
}

static void test_stalled_reader(void **state)
{
	struct client c;
	pthread_t th;
	uint64_t t0, longest = 0;

	(void)state;
	memset(&c, 0, sizeof(c));
	memcpy(c.path, path, strlen(path) + 1);
	assert_int_equal(pthread_create(&th, NULL, stalled_client, &c), 0);
	alarm(30);	/* without a bound the loops below never return */
	t0 = ev_now_ns();
	while (ev_now_ns() - t0 < 500000000ull) {
		uint64_t t = ev_now_ns();

		ev_run(loop, 1);
		if (ev_now_ns() - t > longest)
			longest = ev_now_ns() - t;
	}
	print_message("longest loop turn with a stalled reader: %llu us "
		      "(%llu us building the answer)\n",
		      (unsigned long long)(longest / 1000),
		      (unsigned long long)(huge_ns / 1000));
	/* Building the answer takes what it takes; waiting for the client nothing. */
	assert_true(longest < huge_ns + 50000000ull);
	/* The answer waits; the client reads it all while the loop turns. */
	__atomic_store_n(&c.done, 1, __ATOMIC_RELEASE);
	while (__atomic_load_n(&c.done, __ATOMIC_ACQUIRE) != 2)
		ev_run(loop, 1);
	alarm(0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(c.a.rc, 0);
	assert_int_equal(c.a.len, strlen("OK 8388600\n") + HUGE / 10 * 10);
	/* And the loop still serves the next client. */
	ask(&c, "ports\n", 6);
	assert_string_equal(c.a.kind, "OK");
	free(c.a.body);
}

static int connect_to(const char *p)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memcpy(sa.sun_path, p, strlen(p) + 1);
	if (s >= 0 && connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(s);
		return -1;
	}
	return s;
}

/*
 * Clients that connect and say nothing: at most CTL_MAX_CONNS are held,
 * a new one closes the idlest and is served, and idle ones are closed
 * after CTL_IDLE_NS.
 */
static void test_held_connections(void **state)
{
	int held[CTL_MAX_CONNS];
	unsigned int open;
	uint64_t evicted, timeouts;
	char b[64] = "";
	struct client c;

	(void)state;
	for (int i = 0; i < CTL_MAX_CONNS; i++) {
		held[i] = connect_to(path);
		assert_true(held[i] >= 0);
		for (int k = 0; k < 5; k++)
			ev_run(loop, 1);
	}
	ctl_counts(srv, &open, &evicted, &timeouts);
	assert_int_equal(open, CTL_MAX_CONNS);
	/* One more: the first (idlest) goes, the new one is answered. */
	ask(&c, "ports\n", 6);
	assert_string_equal(c.a.kind, "OK");
	free(c.a.body);
	assert_int_equal(read(held[0], b, sizeof(b)), 0);	/* EOF */
	ctl_counts(srv, &open, &evicted, &timeouts);
	assert_int_equal(open, CTL_MAX_CONNS - 1);
	assert_int_equal(evicted, 1);
	/* Idle: the clock says CTL_IDLE_NS went by. */
	ctl_tick(srv, ev_now_ns() + CTL_IDLE_NS + 1);
	ctl_counts(srv, &open, &evicted, &timeouts);
	assert_int_equal(open, 0);
	assert_int_equal(timeouts, CTL_MAX_CONNS - 1);
	for (int i = 0; i < CTL_MAX_CONNS; i++) {
		assert_int_equal(read(held[i], b, sizeof(b)), 0);	/* EOF */
		close(held[i]);
	}
	ask(&c, "ports\n", 6);
	assert_string_equal(c.a.kind, "OK");
	free(c.a.body);
}

/* A stream client that pipelines requests and reads late gets every answer, in order. */
static void test_stream_slow_reader(void **state)
{
	int sv[2];
	struct ctl_server *s;
	struct answer a;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	s = ctl_serve_stream(loop, sv[0], handler, NULL);
	assert_non_null(s);
	assert_int_equal(write(sv[1], "huge\necho after\n", 16), 16);
	for (int i = 0; i < 50; i++)
		ev_run(loop, 0);
	/* Read while the loop turns in another thread's stead: alternate. */
	{
		size_t got = 0, want = strlen("OK 8388600\n") + HUGE / 10 * 10;
		char *buf = malloc(want + 64);
		int fl = fcntl(sv[1], F_GETFL);

		assert_non_null(buf);
		fcntl(sv[1], F_SETFL, fl | O_NONBLOCK);
		while (got < want) {
			ssize_t n = read(sv[1], buf + got, want - got);

			if (n > 0)
				got += (size_t)n;
			ev_run(loop, 0);
		}
		fcntl(sv[1], F_SETFL, fl);
		assert_memory_equal(buf, "OK 8388600\n", 11);
		free(buf);
	}
	for (int i = 0; i < 20; i++)
		ev_run(loop, 1);
	assert_int_equal(read_answer(sv[1], &a, false), 0);
	assert_string_equal(a.body, "after");
	free(a.body);
	ctl_close(s);
	close(sv[0]);
	close(sv[1]);
}

/* The control path names a file that is not a socket: keep it, fail. */
static void test_path_not_a_socket(void **state)
{
	char file[128];
	struct ctl_server *s2;
	int fd;

	(void)state;
	snprintf(file, sizeof(file), "/tmp/vvu-ctl-test-%d.file", (int)getpid());
	fd = open(file, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
	s2 = ctl_listen(loop, file, handler, NULL);
	assert_null(s2);
	assert_int_equal(access(file, F_OK), 0);
	unlink(file);
	/* Our own (stale) socket path is replaced. */
	ctl_close(srv);
	srv = NULL;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	{
		struct sockaddr_un sa = { .sun_family = AF_UNIX };

		memcpy(sa.sun_path, path, strlen(path) + 1);
		assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	}
	close(fd);
	srv = ctl_listen(loop, path, handler, NULL);
	assert_non_null(srv);
}

/*
 * The far end of a stream goes away (the host closed its side of the
 * virtio-serial port): the loop must not spin on the EOF, and the stream
 * still answers whatever arrives on it later.
 */
static void test_stream_eof_no_spin(void **state)
{
	int sv[2];
	struct ctl_server *s;
	struct answer a;
	unsigned int busy = 0;
	uint64_t t0;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	s = ctl_serve_stream(loop, sv[0], handler, NULL);
	assert_non_null(s);
	/* Two requests in one write, then the writer shuts its side. */
	assert_int_equal(write(sv[1], "echo a\necho b\n", 14), 14);
	assert_int_equal(shutdown(sv[1], SHUT_WR), 0);
	t0 = ev_now_ns();
	while (ev_now_ns() - t0 < 200000000ull)
		if (ev_run(loop, 20) > 0)
			busy++;
	print_message("ev_run woke %u times in 200 ms after EOF\n", busy);
	assert_true(busy <= 5);
	assert_int_equal(read_answer(sv[1], &a, false), 0);
	assert_string_equal(a.body, "a");
	free(a.body);
	assert_int_equal(read_answer(sv[1], &a, false), 0);
	assert_string_equal(a.body, "b");
	free(a.body);
	ctl_close(s);
	close(sv[0]);
	close(sv[1]);
}

/* The request grammar, without a socket: "COMMAND" or "COMMAND json". */
static void test_parse_request(void **state)
{
	static const struct {
		const char *line;
		int ok;
		enum ctl_cmd cmd;
		bool json;
		const char *err;
	} cases[] = {
		{ "ports", 1, CTL_CMD_PORTS, false, NULL },
		{ "  stats\tjson ", 1, CTL_CMD_STATS, true, NULL },
		{ "clear-stats", 1, CTL_CMD_CLEAR_STATS, false, NULL },
		{ "mac json", 1, CTL_CMD_MAC, true, NULL },
		{ "status", 1, CTL_CMD_STATUS, false, NULL },
		{ "", 0, 0, false, "empty request\n" },
		{ " \t", 0, 0, false, "empty request\n" },
		{ "ports xml", 0, 0, false, "usage: COMMAND [json]\n" },
		{ "ports json now", 0, 0, false, "usage: COMMAND [json]\n" },
		{ "metrics", 1, CTL_CMD_METRICS, false, NULL },
		{ "port add p9 socket=/tmp/x.sock mode=client json", 1, CTL_CMD_PORT_ADD, true,
		  NULL },
		{ "port del p9", 1, CTL_CMD_PORT_DEL, false, NULL },
		{ "Ports", 0, 0, false,
		  "unknown command 'Ports' (ports, stats, mac, status, metrics, clear-stats, "
		  "port add|del, mac flush|add|del)\n" },
		{ "portsportsportsportsportsportsports", 0, 0, false,
		  "unknown command 'portsportsportsportsportsportsports' (ports, stats, mac, "
		  "status, metrics, clear-stats, port add|del, mac flush|add|del)\n" },
		{ "port add p9", 0, 0, false, "usage: port add NAME socket=PATH [mode=client] "
		  "[queues=N] [reconnect-ms=N] | port del NAME\n" },
		{ "port del", 0, 0, false, "usage: port add NAME socket=PATH [mode=client] "
		  "[queues=N] [reconnect-ms=N] | port del NAME\n" },
		{ "port del a b c d e f g h", 0, 0, false, "too many words\n" },
		{ "mac flush", 1, CTL_CMD_MAC_FLUSH, false, NULL },
		{ "mac flush vlan 10 json", 1, CTL_CMD_MAC_FLUSH, true, NULL },
		{ "mac add 02:00:00:00:00:01 p0 vlan 10", 1, CTL_CMD_MAC_ADD, false, NULL },
		{ "mac del 02:00:00:00:00:01 json", 1, CTL_CMD_MAC_DEL, true, NULL },
		{ "mac move", 0, 0, false, "usage: mac [json] | mac flush [PORT | vlan N] | "
		  "mac add MAC PORT [vlan N] | mac del MAC [vlan N]\n" },
		{ "mac add 02:00:00:00:00:01", 0, 0, false, "usage: mac [json] | mac flush "
		  "[PORT | vlan N] | mac add MAC PORT [vlan N] | mac del MAC [vlan N]\n" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ctl_req req = { .cmd = CTL_CMD_COUNT };
		struct sbuf err = { 0 };
		int rc = ctl_parse_request(cases[i].line, &req, &err);

		if (cases[i].ok) {
			assert_int_equal(rc, 0);
			assert_int_equal(req.cmd, cases[i].cmd);
			assert_int_equal(req.json, cases[i].json);
			assert_int_equal(err.len, 0);
			if (req.cmd == CTL_CMD_PORT_ADD) {
				assert_int_equal(req.narg, 3);
				assert_string_equal(req.arg[0], "p9");
				assert_string_equal(req.arg[2], "mode=client");
			}
			if (req.cmd == CTL_CMD_PORT_DEL) {
				assert_int_equal(req.narg, 1);
				assert_string_equal(req.arg[0], "p9");
			}
		} else {
			assert_int_equal(rc, -EINVAL);
			assert_string_equal(err.s, cases[i].err);
		}
		sb_free(&err);
	}
	assert_string_equal(ctl_cmd_name(CTL_CMD_CLEAR_STATS), "clear-stats");
	assert_string_equal(ctl_cmd_name(CTL_CMD_COUNT), "?");
}

/* Line framing, without a socket: lines, CRLF, partial and long input. */
static void test_frame_line(void **state)
{
	char buf[CTL_REQ_MAX + 1];
	size_t have, used = 0;

	(void)state;
	memcpy(buf, "ports\r\nstats json\nma", 20);
	have = 20;
	assert_int_equal(ctl_frame_line(buf, have, &used), CTL_FRAME_LINE);
	assert_string_equal(buf, "ports");
	assert_int_equal(used, 7);
	ctl_frame_consume(buf, &have, used);
	assert_int_equal(ctl_frame_line(buf, have, &used), CTL_FRAME_LINE);
	assert_string_equal(buf, "stats json");
	ctl_frame_consume(buf, &have, used);
	assert_int_equal(have, 2);
	assert_int_equal(ctl_frame_line(buf, have, &used), CTL_FRAME_MORE);
	assert_memory_equal(buf, "ma", 2);
	memset(buf, 'x', CTL_REQ_MAX);
	assert_int_equal(ctl_frame_line(buf, CTL_REQ_MAX - 1, &used), CTL_FRAME_MORE);
	assert_int_equal(ctl_frame_line(buf, CTL_REQ_MAX, &used), CTL_FRAME_TOO_LONG);
	buf[CTL_REQ_MAX - 1] = '\n';
	assert_int_equal(ctl_frame_line(buf, CTL_REQ_MAX, &used), CTL_FRAME_LINE);
	assert_int_equal(used, CTL_REQ_MAX);
	have = CTL_REQ_MAX;
	ctl_frame_consume(buf, &have, used);
	assert_int_equal(have, 0);
}

/* ^U drops what came before it on its line, and nothing on other lines. */
static void test_frame_kill(void **state)
{
	char buf[CTL_REQ_MAX + 1];
	size_t have, used = 0;

	(void)state;
	/* A half line a previous host left, then a whole request. */
	memcpy(buf, "sta\025ports\n\025stats\nmac", 20);
	have = 20;
	assert_int_equal(ctl_frame_kill(buf, &have), 4);
	assert_int_equal(have, 16);
	assert_int_equal(ctl_frame_line(buf, have, &used), CTL_FRAME_LINE);
	assert_string_equal(buf, "ports");
	ctl_frame_consume(buf, &have, used);
	/* The kill byte of the next line did not reach back over a newline. */
	assert_int_equal(ctl_frame_kill(buf, &have), 1);
	assert_int_equal(ctl_frame_line(buf, have, &used), CTL_FRAME_LINE);
	assert_string_equal(buf, "stats");
	ctl_frame_consume(buf, &have, used);
	assert_int_equal(ctl_frame_kill(buf, &have), 0);
	assert_int_equal(have, 3);
	/* Without a newline: the partial line is dropped and makes room. */
	memset(buf, 'x', CTL_REQ_MAX);
	buf[CTL_REQ_MAX - 2] = CTL_KILL;
	have = CTL_REQ_MAX;
	assert_int_equal(ctl_frame_kill(buf, &have), CTL_REQ_MAX - 1);
	assert_int_equal(have, 1);
	assert_int_equal(ctl_frame_line(buf, have, &used), CTL_FRAME_MORE);
	/* Two kills: the last one counts; an empty request remains empty. */
	memcpy(buf, "a\025b\025\n", 5);
	have = 5;
	assert_int_equal(ctl_frame_kill(buf, &have), 4);
	assert_int_equal(ctl_frame_line(buf, have, &used), CTL_FRAME_LINE);
	assert_string_equal(buf, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ok_framing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stalled_reader, setup, teardown),
		cmocka_unit_test_setup_teardown(test_held_connections, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_slow_reader, setup, teardown),
		cmocka_unit_test_setup_teardown(test_path_not_a_socket, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_eof_no_spin, setup, teardown),
		cmocka_unit_test(test_parse_request),
		cmocka_unit_test(test_frame_line),
		cmocka_unit_test(test_frame_kill),
	};

	return cmocka_run_group_tests_name("ctl", tests, NULL, NULL);
}
