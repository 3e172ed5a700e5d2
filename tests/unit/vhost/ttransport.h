/* SPDX-License-Identifier: MIT */
/*
 * ttransport: an in-memory vu_transport for driving the real vu_dev code
 * directly.  It records every reply, maps regions from memfds for real
 * (refusing a region larger than its file, as the UNIX transport does),
 * and owns the vring fds it is handed.  Test code: it trusts vu_dev only
 * as far as the tests' assertions check it.
 */
#ifndef TTRANSPORT_H
#define TTRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vu_dev.h"

#define TT_MAX_REPLIES 64

struct tt {
	struct vu_msg reply[TT_MAX_REPLIES];
	size_t reply_len[TT_MAX_REPLIES];
	unsigned int nreplies;		/* replies not yet taken */
	int vfd[3][VU_MAX_VRINGS];	/* kick, call, err; -1 if none */
	unsigned int maps;		/* live mappings */
	unsigned int signals[3];
	int send_rc;			/* what send returns (0 normally) */
	int backing_fd;			/* tt_ops_nofds: what map() maps, or -1 */
};

extern const struct vu_transport_ops tt_ops;
/*
 * The same without fds in messages (as the virtio-vhost-user transport):
 * map() gets -1 and maps region gpa..gpa+size of backing_fd instead.
 */
extern const struct vu_transport_ops tt_ops_nofds;

void tt_init(struct tt *t);
/* Close any vring fds still held (the device should have cleared them). */
void tt_fini(struct tt *t);

/* Pop the oldest reply; false if there is none. */
bool tt_take(struct tt *t, struct vu_msg *out);

/* Open fds of this process, counted in /proc/self/fd. */
int tt_count_fds(void);

/* A memfd of size bytes (a region's backing file); aborts the test on failure. */
int tt_memfd(size_t size);
/* An eventfd (a kick or call notifier). */
int tt_eventfd(void);

/*
 * Send one request to d: header with req/flags and size, payload copied
 * from p (size bytes, may be NULL for zeroes), fds handed over (the
 * caller's copies are given away).  Returns vu_dev_handle()'s result.
 */
int tt_send(struct vu_dev *d, uint32_t req, uint32_t flags, const void *p,
	    uint32_t size, const int *fds, unsigned int nfds);

/* tt_send with an 8-byte payload. */
int tt_send_u64(struct vu_dev *d, uint32_t req, uint32_t flags, uint64_t v,
		const int *fds, unsigned int nfds);
int tt_send_state(struct vu_dev *d, uint32_t req, uint32_t flags,
		  uint32_t index, uint32_t num);

#endif
