/* SPDX-License-Identifier: MIT */
/*
 * fake_frontend: a misbehaving-on-request vhost-user frontend for tests
 * (see fake_frontend.h).  The socket is non-blocking on our side so a
 * test never hangs on a backend that stopped answering: every wait is
 * bounded and pumps the backend's event loop while it waits.
 */
#include "fake_frontend.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void pump(struct ff *f)
{
	if (f->pump)
		f->pump(f->pump_arg);
}

void ff_attach(struct ff *f, int fd)
{
	int fl = fcntl(fd, F_GETFL);

	f->fd = fd;
	f->npending = 0;
	if (fl >= 0)
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

int ff_connect(struct ff *f, const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int s;

	if (strlen(path) >= sizeof(a.sun_path))
		return -ENAMETOOLONG;
	memcpy(a.sun_path, path, strlen(path) + 1);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	if (connect(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
		int e = -errno;

		close(s);
		return e;
	}
	ff_attach(f, s);
	return 0;
}

void ff_close(struct ff *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	f->npending = 0;
}

/* Write all of buf (fds with the first byte), pumping while the socket is full. */
static int send_all(struct ff *f, const uint8_t *buf, size_t len,
		    const int *fds, unsigned int nfds)
{
	union {
		char b[CMSG_SPACE(sizeof(int) * FF_MAX_FDS)];
		struct cmsghdr align;
	} ctl;
	uint64_t deadline = now_ms() + 5000;

	if (nfds > FF_MAX_FDS)
		return -E2BIG;
	while (len) {
		struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t n;

		if (nfds) {
			struct cmsghdr *c;

			memset(&ctl, 0, sizeof(ctl));
			mh.msg_control = ctl.b;
			mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
			c = CMSG_FIRSTHDR(&mh);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
			memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
		}
		n = sendmsg(f->fd, &mh, MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (now_ms() > deadline)
				return -ETIMEDOUT;
			pump(f);
			continue;
		}
		if (n < 0)
			return -errno;
		nfds = 0;	/* the fds went with the first byte */
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int ff_send(struct ff *f, uint32_t req, uint32_t flags, const void *p,
	    uint32_t size, const int *fds, unsigned int nfds, unsigned int faults)
{
	uint8_t buf[sizeof(struct vu_msg_hdr) + VU_MAX_PAYLOAD + 64];
	struct vu_msg_hdr h = { .request = req, .flags = flags, .size = size };
	size_t len, cut;
	int rc;

	if (f->fd < 0)
		return -ENOTCONN;
	if (faults & FF_SIZE_OVER_MAX)
		h.size = VU_MAX_PAYLOAD + 1;
	if (size > sizeof(buf) - sizeof(h))
		return -E2BIG;
	memcpy(buf, &h, sizeof(h));
	if (p)
		memcpy(buf + sizeof(h), p, size);
	else
		memset(buf + sizeof(h), 0, size);
	len = sizeof(h) + size;
	if (faults & FF_HDR_ONLY_CLOSE) {
		rc = send_all(f, buf, sizeof(h), fds, nfds);
		ff_close(f);
		return rc;
	}
	if (faults & FF_HALF_PAYLOAD) {
		cut = sizeof(h) + size / 2;
		rc = send_all(f, buf, cut, fds, nfds);
		if (rc)
			return rc;
		memcpy(f->pending, buf + cut, len - cut);
		f->npending = len - cut;
		return 0;
	}
	return send_all(f, buf, len, fds, nfds);
}

int ff_send_raw(struct ff *f, const void *buf, size_t len, const int *fds,
		unsigned int nfds)
{
	if (f->fd < 0)
		return -ENOTCONN;
	return send_all(f, buf, len, fds, nfds);
}

int ff_finish(struct ff *f)
{
	size_t n = f->npending;

	f->npending = 0;
	return send_all(f, f->pending, n, NULL, 0);
}

/* Read exactly len bytes by the deadline, pumping between tries. */
static int read_all(struct ff *f, void *buf, size_t len, uint64_t deadline)
{
	uint8_t *b = buf;

	while (len) {
		ssize_t n = recv(f->fd, b, len, MSG_DONTWAIT);

		if (n == 0)
			return -ECONNRESET;
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		if (n > 0) {
			b += n;
			len -= (size_t)n;
			continue;
		}
		if (now_ms() >= deadline)
			return -ETIMEDOUT;
		pump(f);
		if (!f->pump) {
			struct pollfd pfd = { .fd = f->fd, .events = POLLIN };

			poll(&pfd, 1, 10);
		}
	}
	return 0;
}

int ff_recv(struct ff *f, struct vu_msg *m, int timeout_ms)
{
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
	int rc;

	if (f->fd < 0)
		return -ENOTCONN;
	memset(m, 0, sizeof(*m));
	rc = read_all(f, &m->hdr, sizeof(m->hdr), deadline);
	if (rc)
		return rc;
	if (m->hdr.size > sizeof(m->p))
		return -EPROTO;
	return read_all(f, &m->p, m->hdr.size, deadline);
}

bool ff_hung_up(struct ff *f, int timeout_ms)
{
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
	uint8_t b[256];

	if (f->fd < 0)
		return true;
	for (;;) {
		ssize_t n = recv(f->fd, b, sizeof(b), MSG_DONTWAIT);

		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return true;
		if (now_ms() >= deadline)
			return false;
		pump(f);
		if (!f->pump) {
			struct pollfd pfd = { .fd = f->fd, .events = POLLIN };

			poll(&pfd, 1, 10);
		}
	}
}

int ff_get_u64(struct ff *f, uint32_t req, uint64_t *out, int timeout_ms)
{
	struct vu_msg m;
	int rc = ff_send(f, req, VU_VERSION, NULL, 0, NULL, 0, 0);

	if (rc)
		return rc;
	rc = ff_recv(f, &m, timeout_ms);
	if (rc)
		return rc;
	if (m.hdr.request != req || m.hdr.flags != (VU_VERSION | VU_FLAG_REPLY) ||
	    m.hdr.size != 8)
		return -EPROTO;
	*out = m.p.u64;
	return 0;
}

int ff_request_ack(struct ff *f, uint32_t req, const void *p, uint32_t size,
		   const int *fds, unsigned int nfds, int timeout_ms)
{
	struct vu_msg m;
	int rc = ff_send(f, req, VU_VERSION | VU_FLAG_NEED_REPLY, p, size, fds,
			 nfds, 0);

	if (rc)
		return rc;
	rc = ff_recv(f, &m, timeout_ms);
	if (rc)
		return rc;
	if (m.hdr.request != req || m.hdr.size != 8)
		return -EPROTO;
	return m.p.u64 ? 1 : 0;
}
