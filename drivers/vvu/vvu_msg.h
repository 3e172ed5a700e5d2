/* SPDX-License-Identifier: MIT */
/*
 * vvu_msg: vhost-user message framing over the virtio-vhost-user device's
 * rxq and txq (docs/virtio-vhost-user.md, section 3).  One used rxq buffer
 * holds exactly one message; the device is only semi-trusted and the
 * frontend behind it not at all, so every length is checked here before a
 * message reaches the protocol code.
 */
#ifndef VVU_MSG_H
#define VVU_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vu_proto.h"

#define VVU_HDR_SIZE 12u
/* Section 2: max_msg_size is 4096 in this version of the device. */
#define VVU_SPEC_MAX_MSG 4096u
/* Section 3: each rxq buffer holds at least 12 + max_msg_size bytes. */
#define VVU_RXBUF_SIZE (VVU_HDR_SIZE + VVU_SPEC_MAX_MSG)
/* Section 3: flags bit 31 says "backend request channel". */
#define VVU_F_BACKEND_CHANNEL (1u << 31)

enum vvu_msg_kind {
	VVU_MSG_REQUEST,	/* a frontend request on the main socket */
	VVU_MSG_BACKEND_REPLY,	/* a frontend reply on the backend channel */
};

/*
 * Frame one used rxq buffer.  buf holds buf_len bytes of which the device
 * says it wrote used_len; max_msg_size is from the device config.  On
 * success copy the message into *m (bit 31 removed), set *len to
 * 12 + size and *kind, and return 0.  Returns -EPROTO when the device broke
 * the framing rules (used_len beyond the buffer or not 12 + size, size over
 * max_msg_size, version not 1), or -EMSGSIZE when the message is legal but
 * larger than struct vu_msg holds.  *m is untouched on error.
 */
int vvu_msg_parse(const void *buf, size_t buf_len, size_t used_len,
		  uint32_t max_msg_size, struct vu_msg *m, size_t *len,
		  enum vvu_msg_kind *kind);

/*
 * Copy one outgoing message of len bytes into a txq buffer out of out_cap
 * bytes, with bit 31 set when it goes to the backend channel.  Returns the
 * bytes written, or -EINVAL (len is not 12 + size, bad version, bit 31
 * already set) or -EMSGSIZE (size over max_msg_size or over out_cap).
 */
int vvu_msg_build(const void *msg, size_t len, uint32_t max_msg_size,
		  bool backend_channel, void *out, size_t out_cap);

/*
 * Replies the txq had no room for, framed and waiting in order.  The
 * device takes txq buffers back when it likes (QEMU: in the notify), so
 * a reply that finds the txq full waits here and goes out on a later
 * pass; a device that takes nothing for VVU_BACKLOG_MAX replies has
 * broken its port (the owner decides; vvu_pci says so).
 */
#define VVU_BACKLOG_MAX 64u

struct vvu_backlog {
	uint8_t (*buf)[VVU_RXBUF_SIZE];	/* VVU_BACKLOG_MAX slots, on first use */
	uint32_t len[VVU_BACKLOG_MAX];
	unsigned int head, count;
	uint64_t queued;		/* replies that had to wait */
};

/*
 * Frame msg as vvu_msg_build() does into the next slot.  0, -ENOBUFS when
 * VVU_BACKLOG_MAX wait already, -ENOMEM, or vvu_msg_build()'s errors.
 */
int vvu_backlog_push(struct vvu_backlog *b, const void *msg, size_t len,
		     uint32_t max_msg_size, bool backend_channel);
/* The oldest waiting message, framed, and its length; NULL when none. */
const uint8_t *vvu_backlog_peek(const struct vvu_backlog *b, size_t *len);
void vvu_backlog_pop(struct vvu_backlog *b);
/* Forget every waiting message (a new frontend must not get them). */
void vvu_backlog_clear(struct vvu_backlog *b);
void vvu_backlog_free(struct vvu_backlog *b);

#endif
