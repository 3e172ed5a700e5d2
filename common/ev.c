/* SPDX-License-Identifier: MIT */
/*
 * ev: epoll with one callback per fd.  Callbacks may add or delete fds,
 * including their own, while the loop dispatches: a deleted entry is only
 * freed once the current batch has been dispatched.
 */
#include "ev.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#define EV_BATCH 64

struct ev_watch {
	int fd;
	uint32_t events;
	ev_cb cb;
	void *arg;
	struct ev_watch *next_dead;
};

struct ev_loop {
	int ep;
	struct ev_watch **by_fd;	/* indexed by fd */
	int cap;
	struct ev_watch *dead;		/* freed after dispatch */
	int dispatching;
	uint64_t longest_ns;		/* longest batch of callbacks */
};

uint64_t ev_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct ev_loop *ev_new(void)
{
	struct ev_loop *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->ep = epoll_create1(EPOLL_CLOEXEC);
	if (l->ep < 0) {
		free(l);
		return NULL;
	}
	return l;
}

static void reap(struct ev_loop *l)
{
	while (l->dead) {
		struct ev_watch *w = l->dead;

		l->dead = w->next_dead;
		free(w);
	}
}

void ev_free(struct ev_loop *l)
{
	if (!l)
		return;
	for (int i = 0; i < l->cap; i++)
		free(l->by_fd[i]);
	reap(l);
	free(l->by_fd);
	close(l->ep);
	free(l);
}

static int grow(struct ev_loop *l, int fd)
{
	int cap = l->cap ? l->cap : 64;
	struct ev_watch **n;

	while (cap <= fd)
		cap *= 2;
	if (cap == l->cap)
		return 0;
	n = realloc(l->by_fd, (size_t)cap * sizeof(*n));
	if (!n)
		return -ENOMEM;
	for (int i = l->cap; i < cap; i++)
		n[i] = NULL;
	l->by_fd = n;
	l->cap = cap;
	return 0;
}

static int add(struct ev_loop *l, int fd, uint32_t events, ev_cb cb, void *arg)
{
	struct epoll_event e = { .events = events };
	struct ev_watch *w;
	int rc;

	if (fd < 0)
		return -EBADF;
	rc = grow(l, fd);
	if (rc)
		return rc;
	if (l->by_fd[fd])
		ev_del(l, fd);
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->fd = fd;
	w->events = events;
	w->cb = cb;
	w->arg = arg;
	e.data.ptr = w;
	if (epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &e) < 0) {
		rc = -errno;
		free(w);
		return rc;
	}
	l->by_fd[fd] = w;
	return 0;
}

int ev_add(struct ev_loop *l, int fd, ev_cb cb, void *arg)
{
	return add(l, fd, EPOLLIN, cb, arg);
}

int ev_add_out(struct ev_loop *l, int fd, ev_cb cb, void *arg)
{
	return add(l, fd, EPOLLIN | EPOLLOUT, cb, arg);
}

int ev_add_et(struct ev_loop *l, int fd, ev_cb cb, void *arg)
{
	return add(l, fd, EPOLLIN | EPOLLET, cb, arg);
}

void ev_del(struct ev_loop *l, int fd)
{
	struct ev_watch *w;

	if (fd < 0 || fd >= l->cap || !(w = l->by_fd[fd]))
		return;
	epoll_ctl(l->ep, EPOLL_CTL_DEL, fd, NULL);
	l->by_fd[fd] = NULL;
	w->cb = NULL;
	w->next_dead = l->dead;
	l->dead = w;
	if (!l->dispatching)
		reap(l);
}

int ev_modify(struct ev_loop *l, int fd, bool in, bool out)
{
	struct ev_watch *w;
	struct epoll_event e;

	if (fd < 0 || fd >= l->cap || !(w = l->by_fd[fd]))
		return -EBADF;
	e.events = (w->events & EPOLLET) | (in ? EPOLLIN : 0) | (out ? EPOLLOUT : 0);
	e.data.ptr = w;
	if (epoll_ctl(l->ep, EPOLL_CTL_MOD, fd, &e) < 0)
		return -errno;
	w->events = e.events;
	return 0;
}

_Static_assert(EV_OUT == EPOLLOUT, "EV_OUT is EPOLLOUT");

int ev_run(struct ev_loop *l, int timeout_ms)
{
	struct epoll_event evs[EV_BATCH];
	int n = epoll_wait(l->ep, evs, EV_BATCH, timeout_ms);

	if (n <= 0)
		return 0;
	uint64_t t0 = ev_now_ns(), took;

	l->dispatching = 1;
	for (int i = 0; i < n; i++) {
		struct ev_watch *w = evs[i].data.ptr;

		if (w->cb)
			w->cb(w->arg, w->fd, evs[i].events);
	}
	l->dispatching = 0;
	took = ev_now_ns() - t0;
	if (took > l->longest_ns)
		l->longest_ns = took;
	reap(l);
	return n;
}

uint64_t ev_longest_dispatch_ns(const struct ev_loop *l)
{
	return l->longest_ns;
}
