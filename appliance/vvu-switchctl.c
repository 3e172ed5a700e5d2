/* SPDX-License-Identifier: MIT */
/*
 * vvu-switchctl: ask a running switch for its ports, counters and MAC
 * table.  Speaks the control framing of ctl.h over a UNIX socket: the
 * daemon's control socket on a host, or the host end of the appliance's
 * virtio-serial port.  The answer's length is checked before it is read.
 * The exit codes are the table in usage() and docs/daemon.md.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl.h"

#define ANSWER_MAX (16u << 20)

/* Exit codes (docs/daemon.md). */
enum {
	EXIT_OK = 0,		/* the answer is on stdout */
	EXIT_REFUSED = 1,	/* the switch answered with an error (stderr) */
	EXIT_USAGE = 2,		/* bad command line */
	EXIT_NO_ANSWER = 4,	/* no switch: cannot connect, silent, bad answer */
};

static void usage(void)
{
	printf(
		"usage: vvu-switchctl [-s SOCKET] [-t SECONDS] [--json] COMMAND\n"
		"       vvu-switchctl --help | --version\n"
		"Ask a running vvu-switchd for its state.\n"
		"Commands: ports, stats, mac, status, metrics, clear-stats,\n"
		"  port add NAME socket=PATH [mode=client] [queues=N] [reconnect-ms=N],\n"
		"  port del NAME,\n"
		"  mac flush [PORT | vlan N], mac add MAC PORT [vlan N], mac del MAC [vlan N]\n"
		"  -s, --socket SOCKET   the switch's control socket (its --control), or the\n"
		"                        host end of a switch VM's virtio-serial port;\n"
		"                        default $VVU_SWITCH_CTL, else /run/vvu-switch.sock\n"
		"  -t, --timeout SECONDS give up when the switch is silent this long\n"
		"                        (1..3600, default 10)\n"
		"  -j, --json            answer in JSON\n"
		"  -h, --help            this text\n"
		"      --version         the version\n"
		"Exit status:\n"
		"  0  the answer is on stdout\n"
		"  1  the switch refused the request (its message is on stderr)\n"
		"  2  usage: a bad option, option value or argument\n"
		"  4  no answer: cannot connect, silent for SECONDS, or a malformed answer\n");
}

static int read_line(int fd, char *buf, size_t n)
{
	size_t i = 0;

	while (i + 1 < n) {
		ssize_t r = read(fd, buf + i, 1);

		if (r <= 0)
			return -1;
		if (buf[i] == '\n') {
			buf[i] = '\0';
			return 0;
		}
		i++;
	}
	return -1;
}

/* "OK <n>" or "ERR <n>", n <= ANSWER_MAX.  0 or -1. */
static int parse_head(const char *head, bool *ok, unsigned long *len)
{
	const char *num;
	char *end;

	if (strncmp(head, "OK ", 3) == 0) {
		*ok = true;
		num = head + 3;
	} else if (strncmp(head, "ERR ", 4) == 0) {
		*ok = false;
		num = head + 4;
	} else {
		return -1;
	}
	if (*num < '0' || *num > '9')
		return -1;
	errno = 0;
	*len = strtoul(num, &end, 10);
	return errno || *end || *len > ANSWER_MAX ? -1 : 0;
}

static int bad_usage(void)
{
	fprintf(stderr, "usage: vvu-switchctl [-s SOCKET] [-t SECONDS] [--json] COMMAND\n"
		"Try 'vvu-switchctl --help'.\n");
	return EXIT_USAGE;
}

struct opts {
	const char *path;
	char cmd[240];
	long timeout_s;
	bool json;
};

/* Fill o from argv.  -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, struct opts *o)
{
	enum { OPT_VERSION = 256 };
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "timeout", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	struct sockaddr_un a;
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "s:t:jh", opts, NULL)) != -1) {
		switch (c) {
		case 's': o->path = optarg; break;
		case 't':
			errno = 0;
			o->timeout_s = strtol(optarg, &end, 10);
			if (errno || !*optarg || *end || o->timeout_s < 1 ||
			    o->timeout_s > 3600) {
				fprintf(stderr, "vvu-switchctl: -t takes 1..3600 seconds\n");
				return EXIT_USAGE;
			}
			break;
		case 'j': o->json = true; break;
		case 'h': usage(); return EXIT_OK;
		case OPT_VERSION: printf("vvu-switchctl %s\n", VVU_VERSION); return EXIT_OK;
		default: return bad_usage();
		}
	}
	/* One word, but "port" and "mac" take arguments (port add NAME key=value...). */
	if (optind == argc ||
	    (optind + 1 != argc && strcmp(argv[optind], "port") != 0 &&
	     strcmp(argv[optind], "mac") != 0)) {
		fprintf(stderr, "vvu-switchctl: %s\n", optind == argc ?
			"which command?" : "one command at a time");
		return bad_usage();
	}
	for (int i = optind, len = 0; i < argc; i++) {
		const char *w = argv[i];

		/* One request line: a newline in it would be a second request. */
		if (!*w || strlen(w) > 120 || strpbrk(w, "\r\n") ||
		    len + strlen(w) + 2 > sizeof(o->cmd)) {
			fprintf(stderr, "vvu-switchctl: '%.64s' is not a command%s\n",
				w, i > optind ? " argument" : "");
			return EXIT_USAGE;
		}
		len += snprintf(o->cmd + len, sizeof(o->cmd) - (size_t)len, "%s%s",
				i > optind ? " " : "", w);
	}
	if (!*o->path || strlen(o->path) >= sizeof(a.sun_path)) {
		fprintf(stderr, "vvu-switchctl: socket path empty or longer than %zu bytes\n",
			sizeof(a.sun_path) - 1);
		return EXIT_USAGE;
	}
	return -1;
}

/*
 * Send the request and copy the answer out.  An exit code.  kill: start
 * with CTL_KILL (ctl.h), which drops a half line a previous client of a
 * virtio-serial stream left.
 */
static int ask(const struct opts *o, bool kill)
{
	/* How a daemon older than CTL_KILL refuses it: ask again without. */
	static const char old[] = "unknown command '\025";
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = o->timeout_s };
	char req[256], head[64];
	bool ok = false;
	unsigned long len;
	char *body;
	int fd;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	memcpy(a.sun_path, o->path, strlen(o->path) + 1);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		fprintf(stderr, "vvu-switchctl: %s: %s\n", o->path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return EXIT_NO_ANSWER;
	}
	/* A switch that never answers (a VM paused, a wedged daemon) is an error. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	snprintf(req, sizeof(req), "%s%s%s\n", kill ? (const char[]){ CTL_KILL, 0 } : "",
		 o->cmd, o->json ? " json" : "");
	errno = 0;
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req) ||
	    read_line(fd, head, sizeof(head)) || parse_head(head, &ok, &len)) {
		fprintf(stderr, "vvu-switchctl: %s from %s\n",
			errno == EAGAIN ? "no answer" : "bad answer", o->path);
		close(fd);
		return EXIT_NO_ANSWER;
	}
	body = malloc(len + 1);
	if (!body) {
		fprintf(stderr, "vvu-switchctl: out of memory\n");
		close(fd);
		return EXIT_NO_ANSWER;
	}
	for (size_t got = 0; got < len;) {
		ssize_t r = read(fd, body + got, len - got);

		if (r <= 0) {
			fprintf(stderr, "vvu-switchctl: answer cut short\n");
			free(body);
			close(fd);
			return EXIT_NO_ANSWER;
		}
		got += (size_t)r;
	}
	close(fd);
	if (!ok && kill && len >= sizeof(old) - 1 && !memcmp(body, old, sizeof(old) - 1)) {
		free(body);
		return ask(o, false);
	}
	fwrite(body, 1, len, ok ? stdout : stderr);
	free(body);
	return ok ? EXIT_OK : EXIT_REFUSED;
}

int main(int argc, char **argv)
{
	struct opts o = { .path = getenv("VVU_SWITCH_CTL"), .timeout_s = 10 };
	int rc;

	if (!o.path)
		o.path = "/run/vvu-switch.sock";
	rc = parse_args(argc, argv, &o);
	return rc >= 0 ? rc : ask(&o, true);
}
