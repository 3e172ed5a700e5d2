/* SPDX-License-Identifier: MIT */
/*
 * vu_dev: the backend side of one vhost-user connection.  It validates and
 * answers the frontend's messages, keeps the memory table and the vrings,
 * and tells its owner (the net port) when a ring starts, stops or breaks.
 * It never knows whether messages come over a UNIX socket or through the
 * virtio-vhost-user device: that is the transport's business.
 */
#ifndef VU_DEV_H
#define VU_DEV_H

#include <stdbool.h>
#include <stdint.h>

#include "vlog.h"
#include "vq.h"
#include "vu_mem.h"
#include "vu_proto.h"
#include "vu_transport.h"

#define VU_MAX_QUEUE_PAIRS 8
#define VU_MAX_VRINGS (2 * VU_MAX_QUEUE_PAIRS)

struct vu_vring {
	struct vq vq;
	uint32_t num;			/* SET_VRING_NUM, 0 until set */
	struct vu_vring_addr addr;	/* SET_VRING_ADDR */
	bool addr_set;
	uint16_t base;			/* SET_VRING_BASE */
	bool started;			/* kick received, not stopped since */
	bool enabled;			/* SET_VRING_ENABLE (or implied) */
	bool has_kick, has_call;
	uint64_t breaks;		/* times this ring broke */
};

struct vu_dev;

/* Hooks of the device type (net) that owns a vu_dev. */
struct vu_dev_hooks {
	/* A ring started, stopped, was enabled or disabled, or broke. */
	void (*vring_changed)(void *arg, unsigned int q);
	/* Memory changed: ring pointers have been re-derived. */
	void (*mem_changed)(void *arg);
	/*
	 * SEND_RARP: announce mac from this port, as if the peer had sent a
	 * RARP for it (after a migration).  mac is unicast.  May be NULL.
	 */
	void (*send_rarp)(void *arg, const uint8_t mac[6]);
};

struct vu_dev {
	const struct vu_transport_ops *t;
	void *tctx;
	const struct vu_dev_hooks *hooks;
	void *hooks_arg;
	const char *name;		/* for log lines */

	uint64_t offered;		/* features we offer */
	uint64_t features;		/* acked by SET_FEATURES */
	uint64_t offered_proto;
	uint64_t proto;			/* acked protocol features */
	unsigned int max_qp;
	unsigned int nvrings;		/* 2 * max_qp */
	uint16_t mtu;			/* from NET_SET_MTU, 0 if none */
	bool owner;

	struct vu_mem mem;
	struct vu_mem scratch;		/* SET_MEM_TABLE builds the new table here */
	struct vu_vring vring[VU_MAX_VRINGS];

	/*
	 * Dirty logging for the peer's live migration: the log from
	 * SET_LOG_BASE (log.bits NULL when none) and each ring's record of
	 * chains in flight (allocated when logging first starts on it).
	 * Rings log while VHOST_F_LOG_ALL is acked.
	 */
	struct vq_dirty_log log;
	struct vu_mem_region log_region;	/* the mapping, for unmap */
	struct vq_logq *logq[VU_MAX_VRINGS];
	uint64_t log_bases;		/* SET_LOG_BASEs taken */
	uint64_t rarps;			/* SEND_RARPs taken */

	uint64_t msgs;			/* messages handled */
	uint64_t msg_errors;		/* messages refused */
	uint64_t mem_repeats;		/* identical ADD_MEM_REG repeats taken */
	/*
	 * Why the last refused message was refused.  It stays until the next
	 * refusal, across messages and connections, so an operator sees it;
	 * last_error_ns (CLOCK_MONOTONIC) says when.
	 */
	char last_error[160];
	uint64_t last_error_ns;
	char why[160];			/* the reason being built for this message */
	struct vlog_rl rl;		/* this port's budget of log lines */
};

/*
 * Prepare d for a connection.  offered is the virtio feature set offered
 * (VU_F_PROTOCOL_FEATURES is added); max_qp queue pairs, 1..VU_MAX_QUEUE_PAIRS.
 */
void vu_dev_init(struct vu_dev *d, const char *name,
		 const struct vu_transport_ops *t, void *tctx,
		 const struct vu_dev_hooks *hooks, void *hooks_arg,
		 uint64_t offered, unsigned int max_qp);

/*
 * Handle one whole message of len bytes (header included).  fds[0..nfds)
 * came with it; they are consumed or closed here, in every case.
 * Returns 0 to keep the connection, or -errno when the connection must be
 * dropped (the reason is in d->last_error).  Every refusal, kept connection
 * or not, sets d->last_error.
 */
int vu_dev_handle(struct vu_dev *d, struct vu_msg *m, size_t len,
		  int *fds, unsigned int nfds);

/* The connection is gone: stop every ring, unmap memory, forget state. */
void vu_dev_disconnect(struct vu_dev *d);

/*
 * The transport found ring q unusable (its kick cannot be watched, ...):
 * a running ring is broken with why, the owner is told and the frontend
 * signalled on the ring's error fd; a ring not running is left as it is
 * (it will not start without the transport's say).  The connection stays.
 */
void vu_dev_ring_fault(struct vu_dev *d, unsigned int q, const char *why);

/* Ring q is set up, started, enabled and not broken. */
bool vu_vring_live(const struct vu_dev *d, unsigned int q);

/* Writes into the peer's memory are being logged (VHOST_F_LOG_ALL). */
bool vu_dev_logging(const struct vu_dev *d);

static inline bool vu_has_feature(const struct vu_dev *d, unsigned int bit)
{
	return (d->features >> bit) & 1;
}

const char *vu_request_name(uint32_t req);

#endif
