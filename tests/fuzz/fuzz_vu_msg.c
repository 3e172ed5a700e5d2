/* SPDX-License-Identifier: MIT */
/*
 * fuzz_vu_msg: sequences of vhost-user messages, with fds, into the real
 * protocol code (vu_dev through vu_net).  The input is a stream of
 * records: [nfds:1][len:2][bytes:len]; each record is one message and
 * nfds memfds of 64 KiB come with it.  Regions are mapped for real (the
 * test transport mmaps the memfds), so rings the fuzzer lays out are
 * walked by the real datapath after every message.  SET_LOG_BASE maps
 * a memfd as the dirty log, so with VHOST_F_LOG_ALL acked every write of
 * the datapath is logged for real.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sw.h"
#include "vlog.h"
#include "vu_net.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ARENA (64 * 1024)

static int t_send(void *t, const void *buf, size_t len)
{
	(void)t; (void)buf; (void)len;
	return 0;
}

struct map { void *base; size_t len; };

static int t_map(void *t, struct vu_mem_region *r, int fd)
{
	void *p;

	(void)t;
	if (fd < 0)
		return -EBADF;
	/* Every memfd is ARENA bytes; refuse what would run past it. */
	if (r->mmap_offset >= ARENA || r->size > ARENA - r->mmap_offset) {
		close(fd);
		return -EINVAL;
	}
	p = mmap(NULL, ARENA, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return -errno;
	r->hva = (uint8_t *)p + r->mmap_offset;
	r->cookie = p;
	return 0;
}

static void t_unmap(void *t, struct vu_mem_region *r)
{
	(void)t;
	if (r->cookie)
		munmap(r->cookie, ARENA);
	r->cookie = NULL;
}

static int t_set_vring_fd(void *t, enum vu_fd_kind k, unsigned int q, int fd)
{
	(void)t; (void)k; (void)q;
	if (fd >= 0)
		close(fd);
	return 0;
}

static void t_signal(void *t, enum vu_fd_kind k, unsigned int q)
{
	(void)t; (void)k; (void)q;
}

static int t_kick_fd(void *t, unsigned int q)
{
	(void)t; (void)q;
	return -1;
}

static const struct vu_transport_ops fuzz_ops = {
	.carries_fds = true,
	.send = t_send,
	.map = t_map,
	.unmap = t_unmap,
	.map_log = t_map,	/* SET_LOG_BASE: the log is a memfd like memory */
	.set_vring_fd = t_set_vring_fd,
	.signal = t_signal,
	.kick_fd = t_kick_fd,
};

static int new_memfd(uint8_t fill)
{
	int fd = memfd_create("fuzz", MFD_CLOEXEC);
	uint8_t *p;

	if (fd < 0 || ftruncate(fd, ARENA) < 0)
		return -1;
	p = mmap(NULL, ARENA, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p != MAP_FAILED) {
		memset(p, fill, ARENA);
		munmap(p, ARENA);
	}
	return fd;
}

/* Drive the datapath over whatever rings are live: the port to itself. */
static void poll_port(struct vu_net *n)
{
	struct sw_frame f[SW_BURST];
	unsigned int got = vu_net_port_ops.recv(n, f, SW_BURST);

	for (unsigned int i = 0; i < got; i++)
		vu_net_port_ops.send(n, &f[i]);
	vu_net_port_ops.recv_done(n);
	vu_net_port_ops.flush(n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vu_net n;
	size_t off = 0;

	vlog_set_level(VLOG_ERR);
	vu_net_init(&n, "fuzz", &fuzz_ops, NULL, 2);
	while (off + 3 <= size) {
		unsigned int nfds = data[off] % (VU_MAX_FDS + 2);
		size_t len = (size_t)data[off + 1] | (size_t)data[off + 2] << 8;
		struct vu_msg m;
		int fds[VU_MAX_FDS + 2];

		off += 3;
		if (len > size - off)
			len = size - off;
		if (len > sizeof(m))
			len = sizeof(m);
		memset(&m, 0, sizeof(m));
		memcpy(&m, data + off, len);
		off += len;
		for (unsigned int i = 0; i < nfds; i++)
			fds[i] = new_memfd((uint8_t)(off + i));
		if (nfds > VU_MAX_FDS) {
			/* The transport never passes more; close the extra. */
			for (unsigned int i = VU_MAX_FDS; i < nfds; i++)
				if (fds[i] >= 0)
					close(fds[i]);
			nfds = VU_MAX_FDS;
		}
		if (vu_dev_handle(&n.dev, &m, len, fds, nfds) < 0)
			break;
		poll_port(&n);
	}
	vu_dev_disconnect(&n.dev);
	return 0;
}
