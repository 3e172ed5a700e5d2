/* SPDX-License-Identifier: MIT */
/*
 * vvu_msg: framing of vhost-user messages in virtio-vhost-user queue
 * buffers.
 *
 * Security model: the used length comes from the device, the header from
 * the frontend; neither is trusted.  The header is copied out of the
 * shared buffer once and only the copy is checked and used, so a device
 * rewriting the buffer meanwhile cannot make us read past it.
 */
#include "vvu_msg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int vvu_msg_parse(const void *buf, size_t buf_len, size_t used_len,
		  uint32_t max_msg_size, struct vu_msg *m, size_t *len,
		  enum vvu_msg_kind *kind)
{
	struct vu_msg_hdr h;
	size_t total;

	if (used_len < VVU_HDR_SIZE || used_len > buf_len)
		return -EPROTO;
	memcpy(&h, buf, sizeof(h));
	if (h.size > max_msg_size)
		return -EPROTO;
	total = VVU_HDR_SIZE + (size_t)h.size;
	if (total != used_len)
		return -EPROTO;
	if ((h.flags & VU_VERSION_MASK) != VU_VERSION)
		return -EPROTO;
	if (h.size > sizeof(m->p))
		return -EMSGSIZE;
	*kind = (h.flags & VVU_F_BACKEND_CHANNEL) ? VVU_MSG_BACKEND_REPLY
						  : VVU_MSG_REQUEST;
	h.flags &= ~VVU_F_BACKEND_CHANNEL;
	m->hdr = h;
	memcpy(m->p.raw, (const uint8_t *)buf + VVU_HDR_SIZE, h.size);
	*len = total;
	return 0;
}

int vvu_msg_build(const void *msg, size_t len, uint32_t max_msg_size,
		  bool backend_channel, void *out, size_t out_cap)
{
	struct vu_msg_hdr h;

	if (len < VVU_HDR_SIZE)
		return -EINVAL;
	memcpy(&h, msg, sizeof(h));
	if (len != VVU_HDR_SIZE + (size_t)h.size ||
	    (h.flags & VU_VERSION_MASK) != VU_VERSION ||
	    (h.flags & VVU_F_BACKEND_CHANNEL))
		return -EINVAL;
	if (h.size > max_msg_size || len > out_cap || len > INT32_MAX)
		return -EMSGSIZE;
	if (backend_channel)
		h.flags |= VVU_F_BACKEND_CHANNEL;
	memcpy(out, &h, sizeof(h));
	memcpy((uint8_t *)out + VVU_HDR_SIZE, (const uint8_t *)msg + VVU_HDR_SIZE,
	       h.size);
	return (int)len;
}

int vvu_backlog_push(struct vvu_backlog *b, const void *msg, size_t len,
		     uint32_t max_msg_size, bool backend_channel)
{
	unsigned int slot;
	int n;

	if (b->count >= VVU_BACKLOG_MAX)
		return -ENOBUFS;
	if (!b->buf) {
		b->buf = calloc(VVU_BACKLOG_MAX, sizeof(*b->buf));
		if (!b->buf)
			return -ENOMEM;
	}
	slot = (b->head + b->count) % VVU_BACKLOG_MAX;
	n = vvu_msg_build(msg, len, max_msg_size, backend_channel, b->buf[slot],
			  sizeof(b->buf[slot]));
	if (n < 0)
		return n;
	b->len[slot] = (uint32_t)n;
	b->count++;
	b->queued++;
	return 0;
}

const uint8_t *vvu_backlog_peek(const struct vvu_backlog *b, size_t *len)
{
	if (!b->count)
		return NULL;
	*len = b->len[b->head];
	return b->buf[b->head];
}

void vvu_backlog_pop(struct vvu_backlog *b)
{
	if (!b->count)
		return;
	b->head = (b->head + 1) % VVU_BACKLOG_MAX;
	b->count--;
}

void vvu_backlog_clear(struct vvu_backlog *b)
{
	b->head = b->count = 0;
}

void vvu_backlog_free(struct vvu_backlog *b)
{
	free(b->buf);
	b->buf = NULL;
	b->head = b->count = 0;
}
