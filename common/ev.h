/* SPDX-License-Identifier: MIT */
/*
 * ev: a minimal epoll event loop.  A watched fd has one callback; the
 * daemon's poll loop calls ev_run() with a zero timeout while busy and a
 * real one when it sleeps.
 */
#ifndef EV_H
#define EV_H

#include <stdbool.h>
#include <stdint.h>

struct ev_loop;
typedef void (*ev_cb)(void *arg, int fd, uint32_t events);

struct ev_loop *ev_new(void);
void ev_free(struct ev_loop *l);
/* Watch fd for EPOLLIN (and hangups).  0 or -errno. */
int ev_add(struct ev_loop *l, int fd, ev_cb cb, void *arg);
/* Watch for writability too (a non-blocking connect). */
int ev_add_out(struct ev_loop *l, int fd, ev_cb cb, void *arg);
/*
 * Edge-triggered: the callback runs once per new event and the fd is never
 * expected to be read (kick eventfds: each write is an edge).
 */
int ev_add_et(struct ev_loop *l, int fd, ev_cb cb, void *arg);
void ev_del(struct ev_loop *l, int fd);
/*
 * Change what a watched fd reports: readable (in), writable (out); an
 * edge-triggered watch stays so.  The callback sees EV_OUT in its events
 * when the fd has room.  0 or -errno.
 */
int ev_modify(struct ev_loop *l, int fd, bool in, bool out);
#define EV_OUT 0x004u	/* EPOLLOUT */
/* Dispatch ready fds, waiting at most timeout_ms.  Returns how many. */
int ev_run(struct ev_loop *l, int timeout_ms);

/*
 * The longest one batch of callbacks took in ev_run (a handler that
 * blocks shows here: the loop could not poll meanwhile).
 */
uint64_t ev_longest_dispatch_ns(const struct ev_loop *l);

uint64_t ev_now_ns(void);

#endif
