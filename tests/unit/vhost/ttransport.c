/* SPDX-License-Identifier: MIT */
/*
 * ttransport: the in-memory test transport (see ttransport.h).  Mappings
 * are real MAP_SHARED mappings of the frontend's memfds so that ring
 * set-up and any use after unmap are visible to ASan and the kernel.
 */
#include "ttransport.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct tt_map {
	void *base;
	size_t len;
	dev_t dev;
	ino_t ino;
};

static int tt_tsend(void *tp, const void *buf, size_t len)
{
	struct tt *t = tp;

	if (t->send_rc)
		return t->send_rc;
	if (t->nreplies >= TT_MAX_REPLIES || len > sizeof(struct vu_msg)) {
		fprintf(stderr, "ttransport: reply overflow\n");
		abort();
	}
	memcpy(&t->reply[t->nreplies], buf, len);
	t->reply_len[t->nreplies] = len;
	t->nreplies++;
	return 0;
}

static int tt_map(void *tp, struct vu_mem_region *r, int fd)
{
	struct tt *t = tp;
	long pg = sysconf(_SC_PAGESIZE);
	uint64_t off, delta, len;
	struct tt_map *m;
	struct stat st;
	void *base;

	if (fd < 0 && t->backing_fd >= 0) {
		/* No fd in this transport: the region is at gpa in one file. */
		fd = dup(t->backing_fd);
		r->mmap_offset = r->gpa;
	}
	if (fd < 0)
		return -EBADF;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	off = r->mmap_offset & ~(uint64_t)(pg - 1);
	delta = r->mmap_offset - off;
	len = r->size + delta;
	if (len < r->size || r->mmap_offset > (uint64_t)st.st_size ||
	    r->size > (uint64_t)st.st_size - r->mmap_offset) {
		close(fd);
		return -EINVAL;
	}
	m = malloc(sizeof(*m));
	if (!m) {
		close(fd);
		return -ENOMEM;
	}
	base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		    (off_t)off);
	close(fd);
	if (base == MAP_FAILED) {
		free(m);
		return -ENOMEM;
	}
	m->base = base;
	m->len = len;
	m->dev = st.st_dev;
	m->ino = st.st_ino;
	r->hva = (uint8_t *)base + delta;
	r->cookie = m;
	t->maps++;
	return 0;
}

static void tt_unmap(void *tp, struct vu_mem_region *r)
{
	struct tt *t = tp;
	struct tt_map *m = r->cookie;

	if (!m)
		return;
	munmap(m->base, m->len);
	free(m);
	r->cookie = NULL;
	r->hva = NULL;
	t->maps--;
}

static bool tt_same_backing(void *tp, const struct vu_mem_region *r, int fd)
{
	const struct tt_map *m = r->cookie;
	struct stat st;

	(void)tp;
	return m && fstat(fd, &st) == 0 && st.st_dev == m->dev && st.st_ino == m->ino;
}

static int tt_set_vring_fd(void *tp, enum vu_fd_kind kind, unsigned int q,
			   int fd)
{
	struct tt *t = tp;

	if (q >= VU_MAX_VRINGS || (unsigned int)kind > VU_FD_ERR) {
		if (fd >= 0)
			close(fd);
		return -EINVAL;
	}
	if (t->vfd[kind][q] >= 0)
		close(t->vfd[kind][q]);
	t->vfd[kind][q] = fd;
	return 0;
}

static void tt_signal(void *tp, enum vu_fd_kind kind, unsigned int q)
{
	struct tt *t = tp;

	(void)q;
	if ((unsigned int)kind <= VU_FD_ERR)
		t->signals[kind]++;
}

static int tt_kick_fd(void *tp, unsigned int q)
{
	struct tt *t = tp;

	return q < VU_MAX_VRINGS ? t->vfd[VU_FD_KICK][q] : -1;
}

const struct vu_transport_ops tt_ops = {
	.carries_fds = true,
	.send = tt_tsend,
	.map = tt_map,
	.unmap = tt_unmap,
	.map_log = tt_map,
	.same_backing = tt_same_backing,
	.set_vring_fd = tt_set_vring_fd,
	.signal = tt_signal,
	.kick_fd = tt_kick_fd,
};

const struct vu_transport_ops tt_ops_nofds = {
	.carries_fds = false,
	.send = tt_tsend,
	.map = tt_map,
	.unmap = tt_unmap,
	.set_vring_fd = tt_set_vring_fd,
	.signal = tt_signal,
	.kick_fd = tt_kick_fd,
};

void tt_init(struct tt *t)
{
	memset(t, 0, sizeof(*t));
	t->backing_fd = -1;
	for (int k = 0; k < 3; k++)
		for (int q = 0; q < VU_MAX_VRINGS; q++)
			t->vfd[k][q] = -1;
}

void tt_fini(struct tt *t)
{
	for (int k = 0; k < 3; k++)
		for (int q = 0; q < VU_MAX_VRINGS; q++)
			if (t->vfd[k][q] >= 0) {
				close(t->vfd[k][q]);
				t->vfd[k][q] = -1;
			}
}

bool tt_take(struct tt *t, struct vu_msg *out)
{
	if (!t->nreplies)
		return false;
	memcpy(out, &t->reply[0], sizeof(*out));
	memmove(&t->reply[0], &t->reply[1],
		(t->nreplies - 1) * sizeof(t->reply[0]));
	memmove(&t->reply_len[0], &t->reply_len[1],
		(t->nreplies - 1) * sizeof(t->reply_len[0]));
	t->nreplies--;
	return true;
}

int tt_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;	/* the directory's own fd */
}

int tt_memfd(size_t size)
{
	int fd = memfd_create("tt-region", MFD_CLOEXEC);

	if (fd < 0 || ftruncate(fd, (off_t)size) < 0) {
		perror("memfd");
		abort();
	}
	return fd;
}

int tt_eventfd(void)
{
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	if (fd < 0) {
		perror("eventfd");
		abort();
	}
	return fd;
}

int tt_send(struct vu_dev *d, uint32_t req, uint32_t flags, const void *p,
	    uint32_t size, const int *fds, unsigned int nfds)
{
	struct vu_msg m;
	int copy[16];

	memset(&m, 0, sizeof(m));
	m.hdr.request = req;
	m.hdr.flags = flags;
	m.hdr.size = size;
	if (p && size)
		memcpy(m.p.raw, p, size > VU_MAX_PAYLOAD ? VU_MAX_PAYLOAD : size);
	if (nfds > 16)
		abort();
	for (unsigned int i = 0; i < nfds; i++)
		copy[i] = fds[i];
	return vu_dev_handle(d, &m, sizeof(m.hdr) + size, copy, nfds);
}

int tt_send_u64(struct vu_dev *d, uint32_t req, uint32_t flags, uint64_t v,
		const int *fds, unsigned int nfds)
{
	return tt_send(d, req, flags, &v, 8, fds, nfds);
}

int tt_send_state(struct vu_dev *d, uint32_t req, uint32_t flags,
		  uint32_t index, uint32_t num)
{
	struct vu_vring_state s = { .index = index, .num = num };

	return tt_send(d, req, flags, &s, sizeof(s), NULL, 0);
}
