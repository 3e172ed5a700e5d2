/* SPDX-License-Identifier: MIT */
/*
 * vxlan_dp: the datapath of a VXLAN port (appliance/port_vxlan.c) without
 * its socket.  Receive: the caller lets recvmmsg fill the datagram slots
 * vxlan_dp_rx_prep set up, then vxlan_dp_rx checks each one (remote VTEP,
 * header, VNI; vxlan-vlans tagging) and makes switch frames of them,
 * learning the inner source MACs against their VTEP.  Transmit:
 * vxlan_dp_send finishes a frame's offload work (off_finish), picks its
 * VNI (vxlan-vlans: strips its tag), encapsulates it into a datagram slot
 * and queues one message per destination VTEP (head-end replication for
 * an unknown MAC); the caller sends the queue with sendmmsg (the push
 * hook, also called when the queue is full) and then empties it.
 *
 * So the port kind does only the system calls and the set-up, and
 * bench/tag_ir.c measures these very functions with the system calls left
 * out.  Trust: as vxlan.h; every refusal is counted by reason.
 */
#ifndef VXLAN_DP_H
#define VXLAN_DP_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "off.h"
#include "sw.h"
#include "vxlan.h"

#define VXLAN_DP_BUF_LEN 2048u		/* one datagram: header + 1500-MTU frame */
#define VXLAN_DP_TX_BUFS 32u		/* frames waiting for sendmmsg */
#define VXLAN_DP_TX_MSGS 128u		/* datagrams waiting (replicas included) */
#define VXLAN_DP_VMAP_MAX 32		/* vxlan-vlans pairs */

struct vxlan_dp {
	uint32_t vni;			/* untagged frames travel in it */
	unsigned int nvmap;		/* vxlan-vlans: VLAN vid travels in VNI vni */
	struct vxlan_vmap {
		uint16_t vid;
		uint32_t vni;
	} vmap[VXLAN_DP_VMAP_MAX];
	struct sockaddr_in remote[VXLAN_REMOTES_MAX];
	unsigned int nremote;
	struct vxlan_fdb fdb;
	/* Send the queued messages and empty the queue (ntmsg = ntbuf = 0). */
	void (*push)(struct vxlan_dp *d, void *arg);
	void *push_arg;
	/* receive: recvmmsg's vector */
	struct mmsghdr rmsg[SW_BURST];
	struct iovec riov[SW_BURST];
	struct sockaddr_in rfrom[SW_BURST];
	uint8_t rbuf[SW_BURST][VXLAN_DP_BUF_LEN];
	/* transmit: sendmmsg's vector */
	struct mmsghdr tmsg[VXLAN_DP_TX_MSGS];
	struct iovec tiov[VXLAN_DP_TX_BUFS];
	uint8_t tbuf[VXLAN_DP_TX_BUFS][VXLAN_DP_BUF_LEN];
	unsigned int ntbuf, ntmsg;
	uint64_t now_ns;		/* of the poll round (vxlan_dp_rx_prep) */
	/* counters */
	uint64_t drops[VXLAN_NVERDICTS];
	uint64_t rx_truncated, tx_too_big, tx_dropped, tx_replicas;
	uint64_t tx_unmapped;		/* tagged with a VLAN vxlan-vlans does not map */
	struct off_stats ost;		/* offload work finished here */
	struct off_buf obuf;		/* its scratch frame */
};

/*
 * Slots for up to n datagrams (at most SW_BURST): how many, for recvmmsg.
 * now_ns is the time of this poll round: the remote-MAC table's learning
 * and lookups use it until the next call (the switch polls every port in
 * every round, so the clock is read once a round, not once a frame).
 */
unsigned int vxlan_dp_rx_prep(struct vxlan_dp *d, unsigned int n, uint64_t now_ns);
/*
 * The got datagrams recvmmsg put in the slots, as switch frames in f (at
 * most got); refused ones are counted and left out.
 */
unsigned int vxlan_dp_rx(struct vxlan_dp *d, unsigned int got, struct sw_frame *f);
/*
 * Queue f (sw_port_ops.send contract): 0, or -EIO (a VLAN without a VNI),
 * -EMSGSIZE, or off_finish's refusals.
 */
int vxlan_dp_send(struct vxlan_dp *d, const struct sw_frame *f);
/* Zero the counters (clear-stats). */
void vxlan_dp_clear_stats(struct vxlan_dp *d);

#endif
