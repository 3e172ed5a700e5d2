/* SPDX-License-Identifier: MIT */
/*
 * vnet: virtio-net frames over device-side virtqueues (virtio 1.2, 5.1.6).
 *
 * Transmit (the peer's TX queue, which we drain) turns chains into
 * sw_frames that point into the peer's memory, with the Ethernet header
 * copied out once.  Receive (the peer's RX queue, which we fill) copies a
 * sw_frame into one or, with MRG_RXBUF, several chains and writes the
 * virtio-net header.  The offload part of the header (5.1.6.2: a partial
 * checksum, GSO) is read once, checked against the frame and carried as
 * sw_frame.off; on receive it is written back for a queue that negotiated
 * the matching GUEST_* feature (vnet_rxq.off_caps).  Frames without
 * offload work get a header that is all zero but num_buffers.
 */
#ifndef VNET_H
#define VNET_H

#include <stdbool.h>
#include <stdint.h>

#include "off.h"
#include "sw.h"
#include "vq.h"

/* Bytes of frame (no virtio-net header) we accept or deliver. */
#define VNET_MAX_FRAME 9216
/* ... and with GSO, when negotiated. */
#define VNET_MAX_GSO_FRAME OFF_MAX_FRAME

/* virtio-net offload feature bits (virtio 1.2, 5.1.3; USO: 1.3). */
#define VNET_F_CSUM		0
#define VNET_F_GUEST_CSUM	1
#define VNET_F_GUEST_TSO4	7
#define VNET_F_GUEST_TSO6	8
#define VNET_F_GUEST_ECN	9
#define VNET_F_HOST_TSO4	11
#define VNET_F_HOST_TSO6	12
#define VNET_F_HOST_ECN		13
#define VNET_F_GUEST_USO4	54
#define VNET_F_GUEST_USO6	55
#define VNET_F_HOST_USO		56

/* Every offload bit above. */
#define VNET_F_OFFLOADS                                                       \
	((1ull << VNET_F_CSUM) | (1ull << VNET_F_GUEST_CSUM) |                \
	 (1ull << VNET_F_GUEST_TSO4) | (1ull << VNET_F_GUEST_TSO6) |          \
	 (1ull << VNET_F_GUEST_ECN) | (1ull << VNET_F_HOST_TSO4) |            \
	 (1ull << VNET_F_HOST_TSO6) | (1ull << VNET_F_HOST_ECN) |             \
	 (1ull << VNET_F_GUEST_USO4) | (1ull << VNET_F_GUEST_USO6) |          \
	 (1ull << VNET_F_HOST_USO))

/*
 * OFF_CAP_* from negotiated features: what the driver may send us
 * (host == true: CSUM, HOST_*) or what it takes (GUEST_*).
 */
unsigned int vnet_off_caps(uint64_t features, bool host);
#define VNET_STR_(x) #x
#define VNET_STR(x) VNET_STR_(x)

struct vnet_stats {
	uint64_t tx_runt;	/* peer's frame shorter than hdr + Ethernet */
	uint64_t tx_oversize;	/* peer's frame over VNET_MAX_FRAME */
	uint64_t tx_too_many_segs;
	uint64_t rx_no_buffer;	/* no (or too few) receive buffers posted */
	uint64_t rx_too_big;	/* frame larger than the buffers can take */
	struct off_stats off;	/* offload work: bad claims, fallbacks */
};

struct vnet_txq {
	struct vq *vq;
	uint16_t hdr_len;		/* 10 or 12 */
	uint8_t off_caps;		/* offloads the driver may ask of us */
	uint16_t pending[64];		/* heads popped by the last recv */
	unsigned int npending;
	struct vq_chain chain;		/* scratch */
};

struct vnet_rxq {
	struct vq *vq;
	uint16_t hdr_len;		/* 10 or 12 */
	uint8_t off_caps;		/* offloads the driver takes */
	bool mrg_rxbuf;
	struct vq_chain chain[VQ_MAX_IOV];	/* scratch for merged buffers */
};

/*
 * Take up to n frames from the peer's TX queue into f[].  Chains that are
 * not frames (too short, too long, too many segments, an offload claim
 * that does not match the frame) are returned to the peer at once and
 * counted.  Returns the number of frames, 0 also when the
 * queue broke (vq->broken tells).  The frames stay valid until
 * vnet_tx_done().
 */
unsigned int vnet_tx_burst(struct vnet_txq *q, struct sw_frame *f,
			   unsigned int n, struct vnet_stats *st);

/*
 * Return every chain taken since the last call to the peer, publish the
 * used ring, and return true when the peer wants a notification.
 */
bool vnet_tx_done(struct vnet_txq *q);

/*
 * Copy f into the peer's receive buffers; nothing is published yet.
 * Returns 0, -ENOBUFS (no room: nothing consumed), -EMSGSIZE (the frame is
 * larger than VNET_MAX_FRAME, VNET_MAX_GSO_FRAME with GSO, or than the
 * buffers can ever hold), -EOPNOTSUPP (f has offload work the queue did
 * not negotiate: finish it first, off_finish()), or -EIO (the queue is
 * broken).
 */
int vnet_rx_frame(struct vnet_rxq *q, const struct sw_frame *f,
		  struct vnet_stats *st);

/*
 * vnet_rx_frame() for f[0..n) in order (n >= 1), with each result in rc[],
 * in one call.  It stops after the first frame whose result is
 * -EOPNOTSUPP, -EMSGSIZE or -EIO, so that the caller can finish or drop
 * that one before the next goes out.  Returns how many frames it took:
 * rc[0..k).  *sent is how many of those went out (rc 0), *passed how many
 * of those carried offload work to the peer as it was.
 */
unsigned int vnet_rx_burst(struct vnet_rxq *q, const struct sw_frame *f,
			   unsigned int n, struct vnet_stats *st, int *rc,
			   unsigned int *sent, unsigned int *passed);

/* Publish what vnet_rx_frame() wrote; true when the peer wants a notification. */
bool vnet_rx_flush(struct vnet_rxq *q);

#endif
