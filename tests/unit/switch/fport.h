/* SPDX-License-Identifier: MIT */
/*
 * fport: a switch port for tests, backed by test-owned queues.  recv hands
 * out frames queued with fport_push(); send records what it got (or fails
 * with a chosen error).  It checks the sw_port_ops contract as it goes:
 * bursts of at most SW_BURST, no recv before recv_done, no frame used
 * after its recv_done, every delivered frame flushed before the next burst.
 */
#ifndef FPORT_H
#define FPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "sw.h"

struct fmac {
	uint8_t b[SW_ETH_ALEN];
};

struct fent {
	uint8_t eth[SW_ETH_HLEN];
	uint32_t len;
	uint32_t seq;			/* set by fport_push, carried in the payload */
};

struct fport {
	struct sw *s;
	int id;
	char name[16];

	/* ingress: frames the peer "sent" */
	struct fent *q;
	unsigned int qcap, qhead, qtail;
	uint8_t buf[SW_BURST][64];	/* frames handed out, until recv_done */
	unsigned int held;		/* frames of the last recv */
	bool in_burst;			/* recv called, recv_done not yet */
	unsigned long recv_calls, recv_done_calls, recv_frames;
	unsigned int max_want;

	/* egress: what the switch delivered */
	int send_rc;			/* what send returns; 0 delivers */
	unsigned int fail_every;	/* if n: every n-th send fails, -ENOBUFS */
	unsigned long burst_calls;	/* send_burst calls (fport_burst) */
	unsigned long send_calls, flushes, unflushed;
	struct fent *got;
	unsigned int ngot, gotcap;

	/* called at the start of each send, to act on the switch from inside */
	void (*on_send)(struct fport *p);
	void *arg;
};

/* Id of the first port whose recv ran since it was last set to -1. */
extern int fport_first;

extern const struct sw_port_ops fport_ops;
/* fport_attach() gives ports send_burst too (fport_burst_ops) when set. */
extern bool fport_burst;
extern const struct sw_port_ops fport_burst_ops;

struct fmac fmac(uint8_t a, uint16_t n);	/* a:00:00:00:nn:nn */
extern const struct fmac fmac_bcast;

void fport_init(struct fport *p, struct sw *s, const char *name);
void fport_fini(struct fport *p);
/* Add to the switch and set up; returns the id. */
int fport_attach(struct fport *p);
void fport_push(struct fport *p, struct fmac dst, struct fmac src,
		uint32_t len);
unsigned int fport_queued(const struct fport *p);
void fport_clear_got(struct fport *p);
/* How many delivered frames have this destination / source. */
unsigned int fport_got_count(const struct fport *p, const struct fmac *dst,
			     const struct fmac *src);

#endif
