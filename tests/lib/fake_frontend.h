/* SPDX-License-Identifier: MIT */
/*
 * fake_frontend: the frontend (QEMU's) side of a vhost-user UNIX socket,
 * for tests.  It connects, sends messages with fds by SCM_RIGHTS, reads
 * replies, and misbehaves on request (fault flags): hang up after the
 * header, stall half-way through a payload, send more fds than any
 * message may carry, or claim a payload larger than the backend accepts.
 * It trusts nothing it reads back beyond the checks a test makes.
 */
#ifndef FAKE_FRONTEND_H
#define FAKE_FRONTEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vu_proto.h"

/* Fault flags for ff_send(). */
#define FF_HDR_ONLY_CLOSE	(1u << 0)	/* send the header, then close */
#define FF_HALF_PAYLOAD		(1u << 1)	/* send header + half the payload; ff_finish() sends the rest */
#define FF_SIZE_OVER_MAX	(1u << 2)	/* header claims VU_MAX_PAYLOAD + 1 bytes */

/* Most fds ff_send() passes in one message (enough to exceed VU_MAX_FDS). */
#define FF_MAX_FDS 16

struct ff {
	int fd;			/* the socket, -1 when closed */
	uint8_t pending[sizeof(struct vu_msg)];	/* rest of a stalled message */
	size_t npending;
	/* Called while waiting for a reply, so the backend under test can run. */
	void (*pump)(void *arg);
	void *pump_arg;
};

/* Connect to a listening backend at path.  0 or -errno. */
int ff_connect(struct ff *f, const char *path);
/* Use an already connected socket (a socketpair end, an accepted fd). */
void ff_attach(struct ff *f, int fd);
void ff_close(struct ff *f);

/*
 * Send one message: header (request, flags, size) and size payload bytes
 * from p (zeroes if p is NULL), with fds[0..nfds) attached to the first
 * byte.  fds stay owned by the caller.  faults as above.  0 or -errno.
 */
int ff_send(struct ff *f, uint32_t req, uint32_t flags, const void *p,
	    uint32_t size, const int *fds, unsigned int nfds, unsigned int faults);
/* Send raw bytes with fds attached to the first one (split messages).  0 or -errno. */
int ff_send_raw(struct ff *f, const void *buf, size_t len, const int *fds,
		unsigned int nfds);
/* Send what FF_HALF_PAYLOAD held back.  0 or -errno. */
int ff_finish(struct ff *f);

/*
 * Read one whole reply within timeout_ms, calling pump between tries.
 * 0, -ETIMEDOUT, -ECONNRESET on EOF, -EPROTO on a reply whose size is
 * larger than a vu_msg.
 */
int ff_recv(struct ff *f, struct vu_msg *m, int timeout_ms);

/* Whether the backend hung up on us (EOF readable within timeout_ms). */
bool ff_hung_up(struct ff *f, int timeout_ms);

/* Send req with no payload and read its u64 reply.  0 or -errno. */
int ff_get_u64(struct ff *f, uint32_t req, uint64_t *out, int timeout_ms);
/* Send req (NEED_REPLY) with payload and fds; return the ack (0 ok) or -errno. */
int ff_request_ack(struct ff *f, uint32_t req, const void *p, uint32_t size,
		   const int *fds, unsigned int nfds, int timeout_ms);

#endif
