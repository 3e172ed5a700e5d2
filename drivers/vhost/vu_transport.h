/* SPDX-License-Identifier: MIT */
/*
 * vu_transport: what the vhost-user protocol code needs from whatever
 * carries it.  The UNIX-socket transport (drivers/unix) and the
 * virtio-vhost-user PCI transport (drivers/vvu) both implement these
 * operations; the protocol and ring code never know which one they use.
 */
#ifndef VU_TRANSPORT_H
#define VU_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vu_mem.h"

enum vu_fd_kind { VU_FD_KICK, VU_FD_CALL, VU_FD_ERR };

struct vu_transport_ops {
	/*
	 * true when messages carry file descriptors (UNIX sockets); false
	 * when the transport has already consumed them (virtio-vhost-user),
	 * in which case the protocol code passes -1 wherever an fd would be
	 * and skips fd-count checks.
	 */
	bool carries_fds;

	/* Send one whole message to the frontend.  0 or -errno. */
	int (*send)(void *t, const void *buf, size_t len);

	/*
	 * Make region r addressable here.  fd is the region's fd (ownership
	 * passes to the transport) or -1.  On success set r->hva to the local
	 * address of r->gpa and r->cookie as the transport likes.  0 or -errno.
	 */
	int (*map)(void *t, struct vu_mem_region *r, int fd);
	void (*unmap)(void *t, struct vu_mem_region *r);

	/*
	 * Map the dirty log (SET_LOG_BASE): bytes [r->mmap_offset,
	 * r->mmap_offset + r->size) of fd (taken; -1 when the transport
	 * carries no fds), writable and shared with the frontend, into
	 * r->hva; unmap() undoes it.  NULL when the transport cannot give us
	 * the frontend's log: logging is then not offered.  0 or -errno.
	 */
	int (*map_log)(void *t, struct vu_mem_region *r, int fd);

	/*
	 * Whether fd is the file that mapped region r (same file, not merely
	 * the same numbers).  Does not take fd.  NULL when the transport has
	 * no fds: the region's numbers, its mmap_offset among them, are then
	 * its whole identity.
	 */
	bool (*same_backing)(void *t, const struct vu_mem_region *r, int fd);

	/*
	 * Install the kick, call or error notifier of vring q.  fd passes to
	 * the transport; -1 means none (polling, or no fd in this transport).
	 */
	int (*set_vring_fd)(void *t, enum vu_fd_kind kind, unsigned int q, int fd);

	/* Signal the frontend: used buffers on q (VU_FD_CALL), or q broke (VU_FD_ERR). */
	void (*signal)(void *t, enum vu_fd_kind kind, unsigned int q);

	/* An fd that becomes readable when the frontend kicks q, or -1. */
	int (*kick_fd)(void *t, unsigned int q);
};

#endif
