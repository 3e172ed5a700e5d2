/* SPDX-License-Identifier: MIT */
/*
 * vut: vhost-user over a UNIX stream socket.
 *
 * Security model: the peer on the socket is untrusted.  Reads are
 * non-blocking and framed by the header's size, which is bounded before
 * any payload is read, so a peer that stops mid-message stalls only its
 * own connection.  fds beyond what one message may carry, or a truncated
 * control message, drop the connection.  Memory fds are checked against
 * their file size before mapping, and a SIGBUS inside a peer's mapping
 * (the peer shrank its file) replaces that mapping with zero pages and
 * breaks only that port.  Kick fds are watched edge-triggered and never
 * read, so a peer sharing or draining them cannot block us; one that
 * cannot be watched breaks its ring rather than leave it running unseen.
 */
#include "vut.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "vlog.h"

/* ---- SIGBUS containment ---- */

/* Room for every region of every port: 64 ports (SW_MAX_PORTS) x 256. */
#define GUARD_SLOTS (64 * VU_MAX_MEM_REGIONS)

struct guard_slot {
	uintptr_t base;
	size_t len;
	struct vut_port *port;
};

static struct guard_slot guard[GUARD_SLOTS];
static volatile sig_atomic_t guard_faults;

/* 0, or -ENOSPC when the table is full: the caller must not keep the mapping. */
static int guard_add(void *base, size_t len, struct vut_port *p)
{
	for (int i = 0; i < GUARD_SLOTS; i++) {
		if (!guard[i].base) {
			guard[i].len = len;
			guard[i].port = p;
			__atomic_store_n(&guard[i].base, (uintptr_t)base,
					 __ATOMIC_RELEASE);
			return 0;
		}
	}
	vlog_rl(&p->dev->rl, VLOG_WARN, "%s: more than %d mappings of peer memory",
		p->name, GUARD_SLOTS);
	return -ENOSPC;
}

static void guard_del(void *base)
{
	for (int i = 0; i < GUARD_SLOTS; i++)
		if (guard[i].base == (uintptr_t)base)
			__atomic_store_n(&guard[i].base, 0, __ATOMIC_RELEASE);
}

static struct vut_port *fault_port[GUARD_SLOTS];

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	uintptr_t a = (uintptr_t)si->si_addr;

	(void)uc;
	for (int i = 0; i < GUARD_SLOTS; i++) {
		uintptr_t b = __atomic_load_n(&guard[i].base, __ATOMIC_ACQUIRE);

		if (b && a >= b && a - b < guard[i].len) {
			/* Zero pages over the whole mapping; the access retries. */
			if (mmap((void *)b, guard[i].len, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1,
				 0) != MAP_FAILED) {
				fault_port[i] = guard[i].port;
				guard_faults = 1;
				return;
			}
		}
	}
	/* Not peer memory: a real bug.  Die as the default action would. */
	signal(sig, SIG_DFL);
	raise(sig);
}

int vut_guard_init(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	return sigaction(SIGBUS, &sa, NULL) ? -errno : 0;
}

bool vut_take_fault(struct vut_port *p)
{
	bool hit = false, more = false;

	if (!guard_faults)
		return false;
	for (int i = 0; i < GUARD_SLOTS; i++) {
		if (fault_port[i] == p) {
			fault_port[i] = NULL;
			hit = true;
		} else if (fault_port[i]) {
			more = true;
		}
	}
	if (!more)
		guard_faults = 0;
	return hit;
}

/* ---- transport ops ---- */

struct vut_map {
	void *base;
	size_t len;
	dev_t dev;		/* the file mapped, for same_backing */
	ino_t ino;
};

static void port_error(struct vut_port *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void port_error(struct vut_port *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->last_error, sizeof(p->last_error), fmt, ap);
	va_end(ap);
	vlog_rl(&p->dev->rl, VLOG_WARN, "%s: %s", p->name, p->last_error);
}

static int t_send(void *t, const void *buf, size_t len)
{
	struct vut_port *p = t;
	ssize_t n;

	if (p->conn_fd < 0)
		return -ENOTCONN;
	n = send(p->conn_fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n < 0)
		return -errno;
	/* A reply is tiny; a peer whose socket cannot take it is not reading. */
	return (size_t)n == len ? 0 : -EAGAIN;
}

static int t_map(void *t, struct vu_mem_region *r, int fd)
{
	struct vut_port *p = t;
	long pg = sysconf(_SC_PAGESIZE);
	uint64_t align, off, delta, len, end;
	struct vut_map *m;
	struct stat st;
	void *base;

	if (fd < 0)
		return -EBADF;
	if (fstat(fd, &st) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	align = (uint64_t)st.st_blksize;
	if (align < (uint64_t)pg || (align & (align - 1)))
		align = (uint64_t)pg;
	/*
	 * The peer chose mmap_offset and size: the end must neither wrap
	 * nor leave off_t, and the page-rounded length must not wrap, or
	 * the file-size check below and mmap() would see other numbers
	 * than the region we record.  The protocol code checked only that
	 * offset + size - 1 does not wrap; an end of exactly 2^64 passes it.
	 */
	if (r->size == 0 || r->mmap_offset > (uint64_t)INT64_MAX ||
	    r->size > (uint64_t)INT64_MAX - r->mmap_offset) {
		close(fd);
		return -EINVAL;
	}
	end = r->mmap_offset + r->size;
	off = r->mmap_offset & ~(align - 1);
	delta = r->mmap_offset - off;
	len = r->size + delta;
	if (S_ISREG(st.st_mode) && end > (uint64_t)st.st_size) {
		close(fd);
		return -EINVAL;
	}
	len = (len + align - 1) & ~(align - 1);
	if (len < r->size || len > SIZE_MAX) {
		close(fd);
		return -EINVAL;
	}
	m = malloc(sizeof(*m));
	if (!m) {
		close(fd);
		return -ENOMEM;
	}
	base = mmap(NULL, len, PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_NORESERVE, fd, (off_t)off);
	close(fd);
	if (base == MAP_FAILED) {
		int e = -errno;

		free(m);
		return e;
	}
	/* An unguarded mapping would let the peer kill us with a SIGBUS. */
	if (guard_add(base, len, p)) {
		munmap(base, len);
		free(m);
		return -ENOSPC;
	}
	m->base = base;
	m->len = len;
	m->dev = st.st_dev;
	m->ino = st.st_ino;
	r->hva = (uint8_t *)base + delta;
	r->cookie = m;
	return 0;
}

static void t_unmap(void *t, struct vu_mem_region *r)
{
	struct vut_map *m = r->cookie;

	(void)t;
	if (!m)
		return;
	guard_del(m->base);
	munmap(m->base, m->len);
	free(m);
	r->cookie = NULL;
	r->hva = NULL;
}

static bool t_same_backing(void *t, const struct vu_mem_region *r, int fd)
{
	const struct vut_map *m = r->cookie;
	struct stat st;

	(void)t;
	return m && fd >= 0 && fstat(fd, &st) == 0 && st.st_dev == m->dev &&
	       st.st_ino == m->ino;
}

static void kick_cb(void *arg, int fd, uint32_t events)
{
	/* Edge-triggered: the wakeup itself is the message.  Nothing to read. */
	(void)arg; (void)fd; (void)events;
}

/*
 * A new kick fd for vring q could not be watched (epoll refuses regular
 * files; a watch can fail for lack of memory).  The old kick is closed
 * already, so a ring left running would stall unseen.  The protocol code
 * refuses the message and does not start a stopped ring; a ring that is
 * running is broken here, which breaks the port with this reason until
 * the frontend sets the ring up again.  The connection stays.
 */
static void kick_unwatched(struct vut_port *p, unsigned int q)
{
	if (p->dev)
		vu_dev_ring_fault(p->dev, q, "its kick fd cannot be watched");
}

static int t_set_vring_fd(void *t, enum vu_fd_kind kind, unsigned int q,
			  int fd)
{
	struct vut_port *p = t;
	int *slot;

	if (q >= VU_MAX_VRINGS || (unsigned int)kind > VU_FD_ERR) {
		if (fd >= 0)
			close(fd);
		return -EINVAL;
	}
	slot = &p->vfd[kind][q];
	if (*slot >= 0) {
		if (kind == VU_FD_KICK)
			ev_del(p->ev, *slot);
		close(*slot);
	}
	*slot = fd;
	if (fd < 0)
		return 0;
	if (kind == VU_FD_KICK) {
		int rc = ev_add_et(p->ev, fd, kick_cb, p);

		if (rc) {
			close(fd);
			*slot = -1;
			port_error(p, "vring %u: cannot watch its kick fd: %s", q,
				   strerror(-rc));
			kick_unwatched(p, q);
			return rc;
		}
	} else {
		struct stat st;
		int fl;

		/*
		 * We write 8 bytes per signal: never into a file (a memfd)
		 * that would grow in our memory for as long as the peer likes.
		 */
		if (fstat(fd, &st) < 0 || S_ISREG(st.st_mode) ||
		    S_ISDIR(st.st_mode) || S_ISBLK(st.st_mode)) {
			close(fd);
			*slot = -1;
			return -EINVAL;
		}
		/* Our writes must never block on a peer's full counter. */
		fl = fcntl(fd, F_GETFL);
		if (fl >= 0)
			fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	}
	return 0;
}

static void t_signal(void *t, enum vu_fd_kind kind, unsigned int q)
{
	struct vut_port *p = t;
	uint64_t one = 1;
	int fd;

	if (q >= VU_MAX_VRINGS || kind == VU_FD_KICK)
		return;
	fd = p->vfd[kind][q];
	if (fd >= 0 && write(fd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is saturated, the peer is signalled anyway. */
	}
}

static int t_kick_fd(void *t, unsigned int q)
{
	struct vut_port *p = t;

	return q < VU_MAX_VRINGS ? p->vfd[VU_FD_KICK][q] : -1;
}

const struct vu_transport_ops vut_ops = {
	.carries_fds = true,
	.send = t_send,
	.map = t_map,
	.unmap = t_unmap,
	.map_log = t_map,	/* a log is a file region like memory */
	.same_backing = t_same_backing,
	.set_vring_fd = t_set_vring_fd,
	.signal = t_signal,
	.kick_fd = t_kick_fd,
};

/* ---- connection life cycle ---- */

static const char *const state_names[VUT_NSTATES] = {
	"idle", "listening", "connecting", "backoff", "connected",
};

static const char *const event_names[VUT_NEVENTS] = {
	"start", "accepted", "connected", "connect-failed", "closed", "timer",
	"stop",
};

const char *vut_state_name(enum vut_state s)
{
	return (unsigned int)s < VUT_NSTATES ? state_names[s] : "?";
}

static void transition(struct vut_port *p, enum vut_event e);

static void drop_fds(struct vut_port *p)
{
	for (unsigned int i = 0; i < p->nfds; i++)
		close(p->fds[i]);
	p->nfds = 0;
	p->have = 0;
}

static void close_conn(struct vut_port *p)
{
	if (p->conn_fd < 0)
		return;
	ev_del(p->ev, p->conn_fd);
	close(p->conn_fd);
	p->conn_fd = -1;
	drop_fds(p);
}

/* Read what is there; dispatch each whole message.  Never blocks. */
static void conn_readable(struct vut_port *p)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * VU_MAX_FDS)];
		struct cmsghdr align;
	} ctl;

	for (int budget = 64; budget > 0; budget--) {
		size_t want;
		struct iovec iov;
		struct msghdr mh;
		ssize_t n;

		if (p->have < sizeof(p->msg.hdr)) {
			want = sizeof(p->msg.hdr) - p->have;
		} else {
			if (p->msg.hdr.size > VU_MAX_PAYLOAD) {
				port_error(p, "message %u claims %u payload bytes (max %u)",
					   p->msg.hdr.request, p->msg.hdr.size,
					   VU_MAX_PAYLOAD);
				transition(p, VUT_EV_CLOSED);
				return;
			}
			want = sizeof(p->msg.hdr) + p->msg.hdr.size - p->have;
		}
		if (want) {
			iov.iov_base = (uint8_t *)&p->msg + p->have;
			iov.iov_len = want;
			memset(&mh, 0, sizeof(mh));
			mh.msg_iov = &iov;
			mh.msg_iovlen = 1;
			mh.msg_control = ctl.buf;
			mh.msg_controllen = sizeof(ctl.buf);
			n = recvmsg(p->conn_fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				return;
			if (n <= 0) {
				if (n < 0)
					port_error(p, "socket: %s", strerror(errno));
				else if (p->have)
					port_error(p, "frontend hung up mid-message");
				transition(p, VUT_EV_CLOSED);
				return;
			}
			for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c;
			     c = CMSG_NXTHDR(&mh, c)) {
				if (c->cmsg_level != SOL_SOCKET ||
				    c->cmsg_type != SCM_RIGHTS)
					continue;
				unsigned int k = (unsigned int)((c->cmsg_len - CMSG_LEN(0)) /
								sizeof(int));
				int got[VU_MAX_FDS];

				if (k > VU_MAX_FDS)
					k = VU_MAX_FDS;
				memcpy(got, CMSG_DATA(c), k * sizeof(int));
				for (unsigned int i = 0; i < k; i++) {
					if (p->nfds < VU_MAX_FDS) {
						p->fds[p->nfds++] = got[i];
					} else {
						close(got[i]);
						/* One message, split over reads: still too many. */
						mh.msg_flags |= MSG_CTRUNC;
					}
				}
			}
			if (mh.msg_flags & MSG_CTRUNC) {
				port_error(p, "more fds than a message may carry");
				transition(p, VUT_EV_CLOSED);
				return;
			}
			p->have += (size_t)n;
			if ((size_t)n < want)
				return;	/* the rest is not there yet */
			if (p->have == sizeof(p->msg.hdr) && p->msg.hdr.size)
				continue;	/* now read the payload */
		}
		/* A whole message. */
		size_t len = p->have;
		unsigned int nfds = p->nfds;

		p->have = 0;
		p->nfds = 0;
		if (vu_dev_handle(p->dev, &p->msg, len, p->fds, nfds) < 0) {
			snprintf(p->last_error, sizeof(p->last_error), "%s",
				 p->dev->last_error);
			transition(p, VUT_EV_CLOSED);
			return;
		}
	}
}

static void conn_cb(void *arg, int fd, uint32_t events)
{
	struct vut_port *p = arg;

	(void)fd; (void)events;
	if (p->state == VUT_CONNECTING) {
		int err = 0;
		socklen_t l = sizeof(err);

		if (getsockopt(p->conn_fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0)
			err = errno;
		p->connect_err = err;
		transition(p, err ? VUT_EV_CONNECT_FAILED : VUT_EV_CONNECTED);
		return;
	}
	if (p->state == VUT_CONNECTED)
		conn_readable(p);
}

static void listen_cb(void *arg, int fd, uint32_t events)
{
	struct vut_port *p = arg;
	int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	(void)events;
	if (c < 0)
		return;
	if (p->state == VUT_CONNECTED) {
		vlog_rl(&p->dev->rl, VLOG_WARN, "%s: refused a second frontend (one per port)",
			p->name);
		close(c);
		return;
	}
	p->conn_fd = c;
	transition(p, VUT_EV_ACCEPTED);
}

static int do_listen(struct vut_port *p)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct stat st;
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (s < 0)
		return -errno;
	memcpy(a.sun_path, p->path, sizeof(p->path));
	/* Replace a stale socket, but never delete anything else. */
	if (lstat(p->path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
		close(s);
		return -EEXIST;
	}
	unlink(p->path);
	if (bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s, 4) < 0) {
		int e = -errno;

		close(s);
		return e;
	}
	p->listen_fd = s;
	return ev_add(p->ev, s, listen_cb, p);
}

/* Start a connect(); the outcome arrives as an event. */
static void do_connect(struct vut_port *p)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (s < 0) {
		p->connect_err = errno;
		transition(p, VUT_EV_CONNECT_FAILED);
		return;
	}
	memcpy(a.sun_path, p->path, sizeof(p->path));
	p->conn_fd = s;
	/*
	 * AF_UNIX connects at once or not at all: EAGAIN means the listener's
	 * backlog is full and nothing is in progress, so it is a failure to
	 * retry later, not a connect to wait for.
	 */
	if (connect(s, (struct sockaddr *)&a, sizeof(a)) == 0) {
		transition(p, VUT_EV_CONNECTED);
	} else if (errno == EINPROGRESS) {
		int rc = ev_add_out(p->ev, s, conn_cb, p);

		if (rc < 0) {
			p->connect_err = -rc;
			transition(p, VUT_EV_CONNECT_FAILED);
		}
	} else {
		p->connect_err = errno;
		transition(p, VUT_EV_CONNECT_FAILED);
	}
}

/*
 * A client retries for as long as its switch runs, often against a path
 * nobody listens on: say so the first time, then at most once every
 * VUT_RETRY_LOG_NS with the count since, and once more on success.
 */
static void connect_failed(struct vut_port *p)
{
	uint64_t now = ev_now_ns();

	p->connect_fails++;
	if (p->connect_fail_logs &&
	    now - p->fail_logged_at_ns < VUT_RETRY_LOG_NS)
		return;
	if (p->connect_fails == 1)
		vlog_warn("%s: connect to %s failed: %s; retrying every %llu ms",
			  p->name, p->path, strerror(p->connect_err),
			  (unsigned long long)(p->retry_ns / 1000000));
	else
		vlog_warn("%s: connect to %s still failing: %s (%llu attempts in the last %llu s)",
			  p->name, p->path, strerror(p->connect_err),
			  (unsigned long long)(p->connect_fails - p->fails_logged),
			  (unsigned long long)((now - p->fail_logged_at_ns) / 1000000000ull));
	p->connect_fail_logs++;
	p->fail_logged_at_ns = now;
	p->fails_logged = p->connect_fails;
}

static void enter(struct vut_port *p, enum vut_state to)
{
	switch (to) {
	case VUT_CONNECTED:
		ev_del(p->ev, p->conn_fd);
		if (ev_add(p->ev, p->conn_fd, conn_cb, p) < 0)
			vlog_err("%s: cannot watch the connection", p->name);
		p->connects++;
		p->have = 0;
		p->nfds = 0;
		p->state_dirty = true;
		p->last_error[0] = '\0';
		if (p->connect_fails)
			vlog_info("%s: connected to %s after %llu failed attempts",
				  p->name, p->path,
				  (unsigned long long)p->connect_fails);
		p->connect_fails = 0;
		p->connect_fail_logs = 0;
		p->fails_logged = 0;
		break;
	case VUT_BACKOFF:
		close_conn(p);
		p->retry_at_ns = ev_now_ns() + p->retry_ns;
		break;
	default:
		break;
	}
}

/*
 * The life cycle as one table: for each (state, event), the next state.
 * VUT_NSTATES means the event is ignored in that state.  Leaving
 * CONNECTED always tears the vhost-user device down first.
 */
static const uint8_t next_state[VUT_NSTATES][VUT_NEVENTS] = {
	/*                start      accepted      connected     conn-failed  closed       timer           stop */
	[VUT_IDLE]       = { VUT_NSTATES, VUT_NSTATES, VUT_NSTATES, VUT_NSTATES, VUT_NSTATES, VUT_NSTATES, VUT_IDLE },
	[VUT_LISTENING]  = { VUT_NSTATES, VUT_CONNECTED, VUT_NSTATES, VUT_NSTATES, VUT_NSTATES, VUT_NSTATES, VUT_IDLE },
	[VUT_CONNECTING] = { VUT_NSTATES, VUT_NSTATES, VUT_CONNECTED, VUT_BACKOFF, VUT_BACKOFF, VUT_NSTATES, VUT_IDLE },
	[VUT_BACKOFF]    = { VUT_NSTATES, VUT_NSTATES, VUT_NSTATES, VUT_NSTATES, VUT_NSTATES, VUT_CONNECTING, VUT_IDLE },
	[VUT_CONNECTED]  = { VUT_NSTATES, VUT_NSTATES, VUT_NSTATES, VUT_NSTATES, VUT_LISTENING, VUT_NSTATES, VUT_IDLE },
};

static void transition(struct vut_port *p, enum vut_event e)
{
	enum vut_state from = p->state;
	enum vut_state to;

	if (from == VUT_IDLE && e == VUT_EV_START)
		to = p->client ? VUT_CONNECTING : VUT_LISTENING;
	else
		to = (enum vut_state)next_state[from][e];
	if (to == VUT_NSTATES)
		return;
	/* A client goes back to backoff, not to listening. */
	if (to == VUT_LISTENING && p->client)
		to = VUT_BACKOFF;
	if (from == VUT_CONNECTED && to != VUT_CONNECTED) {
		vu_dev_disconnect(p->dev);
		close_conn(p);
		p->disconnects++;
		p->state_dirty = true;
	}
	if (from == VUT_CONNECTING && to != VUT_CONNECTED && e != VUT_EV_CONNECTED)
		close_conn(p);
	if (e == VUT_EV_CONNECT_FAILED && to == VUT_BACKOFF)
		connect_failed(p);
	if (e != VUT_EV_TIMER && !(from == VUT_BACKOFF && to == VUT_CONNECTING) &&
	    !(from == VUT_CONNECTING && to == VUT_BACKOFF))
		vlog_rl(&p->dev->rl, VLOG_INFO, "%s: %s --%s--> %s%s%s", p->name,
			state_names[from], event_names[e], state_names[to],
			p->last_error[0] && e == VUT_EV_CLOSED ? ": " : "",
			e == VUT_EV_CLOSED ? p->last_error : "");
	p->state = to;
	enter(p, to);
	if (to == VUT_CONNECTING && from != VUT_CONNECTING)
		do_connect(p);
	if (to == VUT_IDLE) {
		close_conn(p);
		if (p->listen_fd >= 0) {
			ev_del(p->ev, p->listen_fd);
			close(p->listen_fd);
			p->listen_fd = -1;
			unlink(p->path);
		}
	}
}

int vut_start(struct vut_port *p, struct ev_loop *ev, const char *name,
	      const char *path, bool client, unsigned int retry_ms,
	      struct vu_dev *dev)
{
	int rc;

	memset(p, 0, sizeof(*p));
	if (strlen(path) >= sizeof(p->path))
		return -ENAMETOOLONG;
	snprintf(p->name, sizeof(p->name), "%s", name);
	memcpy(p->path, path, strlen(path) + 1);
	p->client = client;
	p->ev = ev;
	p->dev = dev;
	p->listen_fd = p->conn_fd = -1;
	p->retry_ns = (uint64_t)(retry_ms ? retry_ms : 1000) * 1000000ull;
	for (int k = 0; k < 3; k++)
		for (int q = 0; q < VU_MAX_VRINGS; q++)
			p->vfd[k][q] = -1;
	p->state = VUT_IDLE;
	if (!client) {
		rc = do_listen(p);
		if (rc) {
			port_error(p, "cannot listen on %s: %s", path, strerror(-rc));
			return rc;
		}
	}
	transition(p, VUT_EV_START);
	return 0;
}

void vut_stop(struct vut_port *p)
{
	transition(p, VUT_EV_STOP);
}

void vut_drop(struct vut_port *p, const char *why)
{
	if (p->state != VUT_CONNECTED)
		return;
	port_error(p, "%s", why);
	transition(p, VUT_EV_CLOSED);
}

void vut_tick(struct vut_port *p, uint64_t now_ns)
{
	if (p->state == VUT_BACKOFF && now_ns >= p->retry_at_ns)
		transition(p, VUT_EV_TIMER);
}
