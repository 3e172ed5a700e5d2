/* SPDX-License-Identifier: MIT */
/*
 * vu_net: a vhost-user virtio-net device as a switch port.  It owns the
 * vu_dev of one connection and turns its live rings into the four
 * sw_port_ops callbacks.  A ring that breaks marks the port broken, with
 * the reason, until the frontend sets the ring up again.
 */
#ifndef VU_NET_H
#define VU_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "sw.h"
#include "vnet.h"
#include "vu_dev.h"

struct vu_net {
	struct vu_dev dev;
	char name[32];
	struct vnet_txq txq[VU_MAX_QUEUE_PAIRS];	/* the peer's TX rings */
	struct vnet_rxq rxq[VU_MAX_QUEUE_PAIRS];	/* the peer's RX rings */
	uint8_t live_tx[VU_MAX_QUEUE_PAIRS];
	uint8_t live_rx[VU_MAX_QUEUE_PAIRS];
	unsigned int n_live_tx, n_live_rx;
	unsigned int next_tx;
	uint32_t tx_taken;			/* queue pairs drained this burst */
	uint32_t rx_dirty;			/* queue pairs filled this burst */
	struct vnet_stats st;
	struct off_buf obuf;			/* software offload fallback */
	uint64_t calls;				/* notifications sent */
	uint64_t reported[3];			/* ingress drops already logged */
	/*
	 * A RARP to send into the switch from this port (SEND_RARP after a
	 * migration), as if the peer had sent it: the next recv returns it.
	 */
	uint8_t rarp[60];
	bool rarp_pending;
	uint64_t rarps_sent;
	bool broken;
	char why[192];
	bool state_dirty;	/* running/broken changed: the owner should look */
};

extern const struct sw_port_ops vu_net_port_ops;

/* Features a vu_net offers (MQ is added when max_qp > 1; offloads too). */
uint64_t vu_net_features(unsigned int max_qp);

void vu_net_init(struct vu_net *n, const char *name,
		 const struct vu_transport_ops *t, void *tctx,
		 unsigned int max_qp);

/* Offer no checksum/GSO offloads (call before the frontend connects). */
void vu_net_no_offloads(struct vu_net *n);

/*
 * Log frames the peer sent that were dropped before the switch saw them
 * (runts, oversize, too many segments) since the last call: the first one
 * of each kind at once, later ones as counts, within the port's log
 * budget.  Cheap; call from a timer, never per frame.
 */
void vu_net_report_drops(struct vu_net *n);

/* At least one ring is live and none is broken. */
bool vu_net_running(const struct vu_net *n);

/*
 * Turn kicks on the peer's TX rings on (before sleeping) or off (when
 * polling); kicks on its RX rings are always turned off.  Returns the number of buffers already waiting after turning
 * them on: non-zero means do not sleep.
 */
unsigned int vu_net_set_kicks(struct vu_net *n, bool on);

#endif
