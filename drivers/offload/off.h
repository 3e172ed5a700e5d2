/* SPDX-License-Identifier: MIT */
/*
 * off: checksum and segmentation offloads, transport-neutral.  A port
 * checks the offload work a sender claims (struct sw_offload) against
 * the frame before the switch sees it, and finishes the work in software
 * for a receiver that cannot take it: completes a partial checksum, or
 * cuts a TCP (IPv4, IPv6) or UDP packet into gso_size segments with their
 * IP lengths, ids and checksums, TCP sequence numbers and flags fixed.
 *
 * Trust: every function here works on private copies of frame bytes
 * (never on memory a peer can change) and re-derives the header layout
 * itself; a sw_offload is only a claim to check.
 */
#ifndef OFF_H
#define OFF_H

#include <stdbool.h>
#include <stdint.h>

#include "sw.h"

/* Bytes of a frame off_check() needs to see: Ethernet, a tag, IP, TCP. */
#define OFF_HDR_COPY 160
/* The longest frame with offload work: a 64 KiB IP packet plus L2. */
#define OFF_MAX_FRAME (65535 + 40 + 18)
/* Segments one frame may ask for (64 KiB at an MSS of 256). */
#define OFF_MAX_SEGS 256
/* The longest segment one GSO frame may ask for (headers included). */
#define OFF_MAX_SEG_FRAME 9216

/* Why a claim was refused: the frame is dropped and counted. */
enum off_err {
	OFF_E_CSUM_RANGE,	/* csum_start + csum_offset + 2 past the end, or
				   csum_start inside the Ethernet header */
	OFF_E_HDR_LEN,		/* hdr_len past the end */
	OFF_E_GSO_TYPE,		/* unknown or not negotiated, or no NEEDS_CSUM */
	OFF_E_GSO_SIZE,		/* 0, larger than a segment may be, or no payload */
	OFF_E_GSO_PROTO,	/* not the TCP/UDP packet the type says */
	OFF_E_GSO_SEGS,		/* more than OFF_MAX_SEGS segments */
	OFF_E_MAX
};

/* "offload_csum_range", ...: as stats, JSON and metrics name them. */
extern const char *const off_err_names[OFF_E_MAX];

/* What a receiver takes unchanged. */
#define OFF_CAP_CSUM 0x01u
#define OFF_CAP_TSO4 0x02u
#define OFF_CAP_TSO6 0x04u
#define OFF_CAP_ECN 0x08u
#define OFF_CAP_USO4 0x10u
#define OFF_CAP_USO6 0x20u
#define OFF_CAP_GSO (OFF_CAP_TSO4 | OFF_CAP_TSO6 | OFF_CAP_USO4 | OFF_CAP_USO6)

struct off_stats {
	uint64_t bad[OFF_E_MAX];	/* ingress claims refused */
	uint64_t in_csum, in_gso;	/* ingress frames with offload work */
	uint64_t out_passed;		/* egress: handed on with the work */
	uint64_t out_sw_csum;		/* egress: checksum completed here */
	uint64_t out_sw_gso;		/* egress: segmented here */
	uint64_t out_segs;		/* segments made */
	uint64_t out_seg_lost;		/* segments lost after the first */
	uint64_t out_changed;		/* frame no longer matched its claim */
};

/*
 * Check the claim o about a frame of len bytes whose first hlen bytes
 * (hlen = min(len, OFF_HDR_COPY)) are at h, a private copy.  o->hdr_len
 * holds the sender's hint on entry.  caps says which kinds of work the
 * sender may ask for (OFF_CAP_*, as negotiated with it).
 * On success returns 0 and rewrites o: hdr_len is the real header length
 * of a GSO frame (0 otherwise), gso_size 0 without GSO.  On a bad claim
 * returns -EINVAL with *why set; o is then meaningless.
 */
int off_check(struct sw_offload *o, unsigned int caps, const uint8_t *h,
	      uint32_t hlen, uint32_t len, enum off_err *why);

/* True when a receiver with caps takes f's work unchanged. */
static inline bool off_takes(const struct sw_offload *o, unsigned int caps)
{
	static const uint8_t need[SW_GSO_MAX] = {
		[SW_GSO_NONE] = 0, [SW_GSO_TCP4] = OFF_CAP_TSO4,
		[SW_GSO_TCP6] = OFF_CAP_TSO6, [SW_GSO_UDP4] = OFF_CAP_USO4,
		[SW_GSO_UDP6] = OFF_CAP_USO6,
	};
	unsigned int n = OFF_CAP_CSUM;

	if (o->gso < SW_GSO_MAX)
		n |= need[o->gso];
	else
		return false;
	if (o->flags & SW_OFF_ECN)
		n |= OFF_CAP_ECN;
	return (caps & n) == n;
}

/* Internet checksum (RFC 1071) helpers: add bytes, fold and invert. */
uint64_t off_sum(uint64_t sum, const uint8_t *p, uint32_t n);
uint16_t off_fold(uint64_t sum);

/* A frame's bytes in one private buffer, for the software fallback. */
struct off_buf {
	uint32_t len;
	uint8_t b[OFF_MAX_FRAME];
	uint8_t hdr[OFF_HDR_COPY];	/* the segment being sent */
};

/*
 * Finish f's offload work and hand the result to send(ctx, frame), which
 * has the sw_port_ops.send contract: f whole with its checksum completed,
 * or one frame per segment.  f's bytes are first copied into b once; the
 * claim is checked again on that copy (the sender may have changed the
 * frame since).  Returns what the first send returned (so -ENOBUFS still
 * means nothing was consumed), -EMSGSIZE when f is too large, or -EINVAL
 * when the copy no longer matches the claim (counted out_changed).  A
 * segment refused after the first is lost and counted (out_seg_lost).
 */
int off_finish(const struct sw_frame *f, struct off_buf *b,
	       int (*send)(void *ctx, const struct sw_frame *f), void *ctx,
	       struct off_stats *st);

/*
 * The steps of off_finish() on a private linear frame: complete the
 * partial checksum in place; and cut into segments, calling emit for
 * each (segment frames point into buf and hdr, which must have room
 * for OFF_HDR_COPY bytes).  off_segment returns the first emit's error,
 * else 0 with *nsegs set; -EINVAL when buf does not match o.
 */
void off_csum_complete(uint8_t *buf, uint32_t len, const struct sw_offload *o);
int off_segment(const uint8_t *buf, uint32_t len, const struct sw_offload *o,
		uint8_t *hdr, int (*emit)(void *ctx, const struct sw_frame *f),
		void *ctx, unsigned int *nsegs, unsigned int *lost);

#endif
