/* SPDX-License-Identifier: MIT */
/*
 * vvu-switchctl: ask a running switch for its ports, counters and MAC
 * table.  Speaks the control framing of ctl.h over a UNIX socket: the
 * daemon's control socket on a host, or the host end of the appliance's
 * virtio-serial port.  The answer's length is checked before it is read.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#define ANSWER_MAX (16u << 20)

static void usage(FILE *f)
{
	fprintf(f, "usage: vvu-switchctl [-s SOCKET] [-t SECONDS] [--json] "
		   "ports|stats|mac|status|clear-stats\n"
		   "  SOCKET defaults to $VVU_SWITCH_CTL or /run/vvu-switch.sock\n"
		   "  -t: give up when the switch is silent this long (default 10)\n");
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

int main(int argc, char **argv)
{
	const char *path = getenv("VVU_SWITCH_CTL");
	const char *cmd = NULL;
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	char req[128], head[64];
	bool ok = false;
	bool json = false;
	unsigned long len;
	char *body;
	long timeout_s = 10;
	int fd;

	if (!path)
		path = "/run/vvu-switch.sock";
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-s") == 0 && i + 1 < argc)
			path = argv[++i];
		else if (strcmp(argv[i], "-t") == 0 && i + 1 < argc) {
			char *end;

			errno = 0;
			timeout_s = strtol(argv[++i], &end, 10);
			if (errno || *end || timeout_s < 1 || timeout_s > 3600) {
				fprintf(stderr, "vvu-switchctl: -t takes 1..3600 seconds\n");
				return 2;
			}
		} else if (strcmp(argv[i], "--json") == 0)
			json = true;
		else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else if (!cmd && argv[i][0] != '-')
			cmd = argv[i];
		else {
			usage(stderr);
			return 2;
		}
	}
	if (!cmd || strlen(cmd) > 64 || strlen(path) >= sizeof(a.sun_path)) {
		usage(stderr);
		return 2;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	memcpy(a.sun_path, path, strlen(path) + 1);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		fprintf(stderr, "vvu-switchctl: %s: %s\n", path, strerror(errno));
		return 2;
	}
	/* A switch that never answers (a VM paused, a wedged daemon) is an error. */
	struct timeval tv = { .tv_sec = timeout_s };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	snprintf(req, sizeof(req), "%s%s\n", cmd, json ? " json" : "");
	errno = 0;
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req) ||
	    read_line(fd, head, sizeof(head)) || parse_head(head, &ok, &len)) {
		fprintf(stderr, "vvu-switchctl: %s from %s\n",
			errno == EAGAIN ? "no answer" : "bad answer", path);
		return 2;
	}
	body = malloc(len + 1);
	if (!body)
		return 2;
	for (size_t got = 0; got < len;) {
		ssize_t r = read(fd, body + got, len - got);

		if (r <= 0) {
			fprintf(stderr, "vvu-switchctl: answer cut short\n");
			return 2;
		}
		got += (size_t)r;
	}
	close(fd);
	fwrite(body, 1, len, ok ? stdout : stderr);
	free(body);
	return ok ? 0 : 1;
}
