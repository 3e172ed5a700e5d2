/* SPDX-License-Identifier: MIT */
/*
 * ctl_stream: relay between a virtio-serial port and a ctl session.
 * Whoever has the host end of the port may send anything: requests go
 * to ctl, which bounds and parses them; this file only moves bytes, with
 * a bounded buffer for answers and never a blocking call.
 */
#include "ctl_stream.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vlog.h"

#define RETRY_NS 1000000000ull
#define OUT_MAX (4u << 20)		/* answers buffered for the device */
#define STALL_NS 2000000000ull		/* host not reading: drop answers */
#define PUSH_MS 10			/* retry pushing answers this often */

struct ctl_stream {
	struct ev_loop *ev;
	char path[108];
	ctl_handler h;
	void *arg;
	struct ctl_server *ctl;
	int fd;			/* the character device */
	int pair_fd;		/* our end of the socketpair ctl serves */
	int pair_ctl;		/* ctl's end */
	bool logged, used;
	bool host_up;		/* an EAGAIN read showed the host connected */
	uint64_t retry_at;
	char *out;		/* answers waiting for the device */
	size_t out_len, out_off;
	uint64_t out_since;	/* when the device last took bytes */
};

/*
 * Open the device.  A /dev/virtio-ports/NAME link needs udev; a bare
 * initramfs has only /dev/vportNpM, so look its name up in sysfs.
 */
static int open_stream(const char *path)
{
	static const char prefix[] = "/dev/virtio-ports/";
	int fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	DIR *dir;
	struct dirent *e;
	int err = errno;

	if (fd >= 0 || err != ENOENT ||
	    strncmp(path, prefix, sizeof(prefix) - 1) != 0)
		return fd >= 0 ? fd : -err;
	dir = opendir("/sys/class/virtio-ports");
	if (!dir)
		return -ENOENT;
	while ((e = readdir(dir)) != NULL) {
		char p[300], name[128] = "";
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "/sys/class/virtio-ports/%s/name", e->d_name);
		f = fopen(p, "r");
		if (!f)
			continue;
		if (!fgets(name, sizeof(name), f))
			name[0] = '\0';
		fclose(f);
		name[strcspn(name, "\n")] = '\0';
		if (strcmp(name, path + sizeof(prefix) - 1) != 0)
			continue;
		snprintf(p, sizeof(p), "/dev/%s", e->d_name);
		fd = open(p, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
		err = errno;
		break;
	}
	closedir(dir);
	return fd >= 0 ? fd : -err;
}

/*
 * Each host connection gets a fresh session, so a request line a
 * previous host left half-written is never prefixed to the next.
 */
static void end_session(struct ctl_stream *s)
{
	if (s->ctl) {
		ev_del(s->ev, s->pair_fd);
		ctl_close(s->ctl);	/* ctl never closes a stream's fd */
		s->ctl = NULL;
	}
	if (s->pair_fd >= 0)
		close(s->pair_fd);
	if (s->pair_ctl >= 0)
		close(s->pair_ctl);
	s->pair_fd = s->pair_ctl = -1;
	s->out_len = s->out_off = 0;
	s->used = false;
}

/* Move answers to the device; what it does not take now waits, bounded. */
static void flush(struct ctl_stream *s, uint64_t now)
{
	while (s->out_off < s->out_len) {
		ssize_t n = write(s->fd, s->out + s->out_off, s->out_len - s->out_off);

		if (n > 0) {
			s->out_off += (size_t)n;
			s->out_since = now;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN && now - s->out_since < STALL_NS)
			return;		/* full, or the host is away: later */
		vlog_warn("control stream: host not reading, %zu bytes dropped",
			  s->out_len - s->out_off);
		break;
	}
	s->out_len = s->out_off = 0;
}

/* ctl answered: take its bytes off the socketpair. */
static void pair_cb(void *arg, int fd, uint32_t events)
{
	struct ctl_stream *s = arg;
	uint64_t now = ev_now_ns();

	(void)events;
	for (;;) {
		char buf[16384];
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n <= 0)
			break;
		if (s->out_len == s->out_off)
			s->out_since = now;
		if (s->out_len + (size_t)n > OUT_MAX) {
			vlog_warn("control stream: answer over %u bytes dropped", OUT_MAX);
			continue;
		}
		memcpy(s->out + s->out_len, buf, (size_t)n);
		s->out_len += (size_t)n;
	}
	flush(s, now);
}

static int new_session(struct ctl_stream *s)
{
	int sv[2];
	int big = (int)OUT_MAX;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv))
		return -errno;
	/* Room for a whole answer: fewer trips through ctl's buffer (best effort). */
	if (setsockopt(sv[0], SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big)))
		setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	s->ctl = ctl_serve_stream(s->ev, sv[0], s->h, s->arg);
	if (!s->ctl || ev_add(s->ev, sv[1], pair_cb, s) < 0) {
		int rc = errno ? -errno : -ENOMEM;

		if (s->ctl)
			ctl_close(s->ctl);
		s->ctl = NULL;
		close(sv[0]);
		close(sv[1]);
		return rc;
	}
	s->pair_fd = sv[1];
	/* ctl owns nothing of sv[0] but the watch: keep it for closing. */
	s->pair_ctl = sv[0];
	return 0;
}

/* The device: requests in (read dry: it is watched edge-triggered). */
static void dev_cb(void *arg, int fd, uint32_t events)
{
	struct ctl_stream *s = arg;

	(void)events;
	for (;;) {
		char buf[4096];
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			/* EAGAIN: the port knows the host is connected. */
			if (errno == EAGAIN)
				s->host_up = true;
			return;
		}
		if (n == 0) {
			/*
			 * virtio-serial: no data and the port thinks the host
			 * side is closed.  The host's open and its first bytes
			 * travel on different queues, so a request can be read
			 * before the port learns the host is there: only a
			 * host seen connected and now gone ends the session
			 * (a new host must not get the old one's half line).
			 */
			if (s->host_up && s->used) {
				end_session(s);
				if (new_session(s))
					vlog_err("control stream: cannot start a session");
			}
			s->host_up = false;
			return;
		}
		s->used = true;
		if (!s->ctl && new_session(s))
			return;
		if (write(s->pair_fd, buf, (size_t)n) != n)
			vlog_warn("control stream: request dropped");
	}
}

struct ctl_stream *ctl_stream_new(struct ev_loop *ev, const char *path,
				  ctl_handler h, void *arg)
{
	struct ctl_stream *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->out = malloc(OUT_MAX);
	if (!s->out) {
		free(s);
		return NULL;
	}
	s->ev = ev;
	snprintf(s->path, sizeof(s->path), "%s", path);
	s->h = h;
	s->arg = arg;
	s->fd = s->pair_fd = s->pair_ctl = -1;
	return s;
}

static void try_open(struct ctl_stream *s, uint64_t now)
{
	int fd, rc;

	if (s->fd >= 0 || now < s->retry_at)
		return;
	s->retry_at = now + RETRY_NS;
	fd = open_stream(s->path);
	if (fd < 0) {
		if (!s->logged)
			vlog_warn("control stream %s: %s (retrying every second)",
				  s->path, strerror(-fd));
		s->logged = true;
		return;
	}
	rc = new_session(s);
	/*
	 * Edge-triggered and read dry, so that a host side that is not
	 * connected (virtio-serial: read 0, POLLHUP) costs nothing until the
	 * host opens it again.
	 */
	if (rc == 0 && ev_add_et(s->ev, fd, dev_cb, s) < 0)
		rc = -errno;
	if (rc) {
		vlog_err("control stream %s: %s", s->path, strerror(-rc));
		end_session(s);
		close(fd);
		return;
	}
	s->fd = fd;
	vlog_info("control stream on %s", s->path);
	dev_cb(s, fd, 0);
}

void ctl_stream_run(struct ctl_stream *s, uint64_t now_ns)
{
	if (!s)
		return;
	try_open(s, now_ns);
	if (s->out_len > s->out_off)
		flush(s, now_ns);
}

int ctl_stream_wait_ms(const struct ctl_stream *s, int wait_ms)
{
	if (!s)
		return wait_ms;
	if (s->out_len > s->out_off && wait_ms > PUSH_MS)
		return PUSH_MS;		/* answers to push */
	if (s->fd < 0 && wait_ms > 1000)
		return 1000;		/* the device may appear */
	return wait_ms;
}

void ctl_stream_free(struct ctl_stream *s)
{
	if (!s)
		return;
	end_session(s);
	if (s->fd >= 0) {
		ev_del(s->ev, s->fd);
		close(s->fd);
	}
	free(s->out);
	free(s);
}
