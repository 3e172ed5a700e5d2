/* SPDX-License-Identifier: MIT */
/*
 * vvu_transport: vhost-user transport through the virtio-vhost-user device.
 *
 * Security model: the frontend chooses region sizes and, through the
 * device's placement, the BAR offsets we get; the device may be buggy.
 * A region is usable only when it lies wholly inside the shared-memory
 * window, checked with overflow-safe arithmetic; doorbell and vector
 * indices are checked against what the device's capabilities describe,
 * so no message can make us touch anything past a BAR.
 */
#include "vvu_transport.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vlog.h"

/* Notification registers, spec 4.2. */
#define NOTIF_SELECT 0x0
#define NOTIF_VECTOR 0x2

uint8_t *vvu_shm_ptr(const struct vvu_hw *hw, uint64_t off, uint64_t size)
{
	if (!hw->shm || size == 0 || off >= hw->shm_len ||
	    size > hw->shm_len - off)
		return NULL;
	return hw->shm + off;
}

static void refuse(struct vvu_tport *t, const char *what)
{
	t->refused++;
	snprintf(t->last_error, sizeof(t->last_error), "%s", what);
}

static int tp_send(void *ctx, const void *buf, size_t len)
{
	struct vvu_tport *t = ctx;

	if (!t->send)
		return -ENOTCONN;
	return t->send(t->send_arg, buf, len);
}

static int tp_map(void *ctx, struct vu_mem_region *r, int fd)
{
	struct vvu_tport *t = ctx;
	uint8_t *p;

	/* The device consumed the fds; one here is a caller bug, not a peer's. */
	if (fd >= 0)
		close(fd);
	p = vvu_shm_ptr(&t->hw, r->mmap_offset, r->size);
	if (!p) {
		char why[160];

		snprintf(why, sizeof(why),
			 "region gpa %#llx: BAR offset %#llx size %#llx outside the %#llx-byte window",
			 (unsigned long long)r->gpa,
			 (unsigned long long)r->mmap_offset,
			 (unsigned long long)r->size,
			 (unsigned long long)t->hw.shm_len);
		refuse(t, why);
		vlog_warn("%s: %s", t->name, why);
		return -ERANGE;
	}
	r->hva = p;
	r->cookie = NULL;
	return 0;
}

static uint32_t cfg32(volatile uint8_t *b, size_t o)
{
	return (uint32_t)b[o] | (uint32_t)b[o + 1] << 8 |
	       (uint32_t)b[o + 2] << 16 | (uint32_t)b[o + 3] << 24;
}

/* Config space takes 32-bit reads at most: a 64-bit field is two. */
static uint64_t cfg64(volatile uint8_t *b, size_t o)
{
	return (uint64_t)cfg32(b, o) | (uint64_t)cfg32(b, o + 4) << 32;
}

/*
 * SET_LOG_BASE, delivered with mmap_offset rewritten to the log's BAR
 * offset (spec 6.4).  The log must be the one the device says is current
 * (log_gen read around log_offset and log_size, so the three belong
 * together) and lie wholly inside the window; anything else means the
 * frontend sent another log behind this one, or the device is wrong, and
 * the connection goes.
 */
static int tp_map_log(void *ctx, struct vu_mem_region *r, int fd)
{
	struct vvu_tport *t = ctx;
	volatile uint8_t *c = t->hw.log_cfg;
	uint64_t off = 0, size = 0;
	uint32_t g0 = 0, g1 = 1;
	char why[160];
	uint8_t *p;

	if (fd >= 0)
		close(fd);
	if (!c) {
		refuse(t, "SET_LOG_BASE: the device has no log window");
		return -ENOTSUP;
	}
	for (int tries = 0; tries < 4 && g0 != g1; tries++) {
		g0 = cfg32(c, 0);
		off = cfg64(c, 8);
		size = cfg64(c, 16);
		g1 = cfg32(c, 0);
	}
	if (g0 != g1 || off != r->mmap_offset || size != r->size) {
		snprintf(why, sizeof(why),
			 "log at BAR offset %#llx size %#llx is not the device's current one (gen %u: %#llx size %#llx)",
			 (unsigned long long)r->mmap_offset,
			 (unsigned long long)r->size, g1,
			 (unsigned long long)off, (unsigned long long)size);
		refuse(t, why);
		vlog_warn("%s: %s", t->name, why);
		return -ESTALE;
	}
	p = vvu_shm_ptr(&t->hw, r->mmap_offset, r->size);
	if (!p) {
		snprintf(why, sizeof(why),
			 "log at BAR offset %#llx size %#llx outside the %#llx-byte window",
			 (unsigned long long)r->mmap_offset,
			 (unsigned long long)r->size,
			 (unsigned long long)t->hw.shm_len);
		refuse(t, why);
		vlog_warn("%s: %s", t->name, why);
		return -ERANGE;
	}
	r->hva = p;
	r->cookie = NULL;
	t->log_gen = g0;
	return 0;
}

static void tp_unmap(void *ctx, struct vu_mem_region *r)
{
	(void)ctx;
	/* The device unmaps the BAR side (spec 6.2); we only forget it. */
	r->hva = NULL;
}

uint16_t vvu_set_kick_vector(struct vvu_tport *t, unsigned int q, uint16_t v)
{
	volatile uint16_t *sel, *vec;
	uint16_t got;

	if (q >= VU_MAX_VRINGS || q >= t->hw.max_vhost_queues || !t->hw.notif)
		return VVU_NO_VECTOR;
	if (v != VVU_NO_VECTOR && v >= t->hw.n_vectors)
		v = VVU_NO_VECTOR;
	sel = (volatile uint16_t *)(volatile void *)(t->hw.notif + NOTIF_SELECT);
	vec = (volatile uint16_t *)(volatile void *)(t->hw.notif + NOTIF_VECTOR);
	*sel = (uint16_t)q;
	*vec = v;
	got = *vec;
	if (got != VVU_NO_VECTOR && got >= t->hw.n_vectors)
		got = VVU_NO_VECTOR;	/* a device answer we cannot use */
	t->kick_vector[q] = got;
	return got;
}

void vvu_clear_kick_vectors(struct vvu_tport *t)
{
	for (unsigned int q = 0; q < VU_MAX_VRINGS; q++)
		if (t->kick_vector[q] != VVU_NO_VECTOR)
			vvu_set_kick_vector(t, q, VVU_NO_VECTOR);
}

/* The vector vring q should use: one per vring while they last, then shared. */
static uint16_t pick_vector(const struct vvu_tport *t, unsigned int q)
{
	unsigned int first = t->hw.first_kick_vector, n;

	if (!t->use_kick_vectors || t->hw.n_vectors <= first)
		return VVU_NO_VECTOR;
	n = t->hw.n_vectors - first;
	return (uint16_t)(first + q % n);
}

static int tp_set_vring_fd(void *ctx, enum vu_fd_kind kind, unsigned int q,
			   int fd)
{
	struct vvu_tport *t = ctx;

	if (fd >= 0)
		close(fd);
	if (q >= VU_MAX_VRINGS || q >= t->hw.max_vhost_queues) {
		refuse(t, "vring index beyond the device's queues");
		return -EINVAL;
	}
	/* Calls and errors need nothing: the device owns their eventfds. */
	if (kind == VU_FD_KICK)
		vvu_set_kick_vector(t, q, pick_vector(t, q));
	return 0;
}

static void ring_doorbell(struct vvu_tport *t, uint32_t d)
{
	volatile uint32_t *reg;

	if (d >= t->hw.n_doorbells || !t->hw.doorbell)
		return;
	reg = (volatile uint32_t *)(volatile void *)
	      (t->hw.doorbell + (size_t)d * t->hw.doorbell_mult);
	*reg = 1;
	t->doorbells++;
}

static void tp_signal(void *ctx, enum vu_fd_kind kind, unsigned int q)
{
	struct vvu_tport *t = ctx;
	uint32_t m = t->hw.max_vhost_queues;

	if (q >= m)
		return;
	if (kind == VU_FD_CALL)
		ring_doorbell(t, q);
	else if (kind == VU_FD_ERR)
		ring_doorbell(t, m + q);
}

static int tp_kick_fd(void *ctx, unsigned int q)
{
	struct vvu_tport *t = ctx;

	if (q >= VU_MAX_VRINGS || t->kick_vector[q] == VVU_NO_VECTOR ||
	    !t->vector_fd)
		return -1;
	return t->vector_fd(t->vector_arg, t->kick_vector[q]);
}

const struct vu_transport_ops vvu_transport_ops = {
	.carries_fds = false,
	.send = tp_send,
	.map = tp_map,
	.unmap = tp_unmap,
	.set_vring_fd = tp_set_vring_fd,
	.signal = tp_signal,
	.kick_fd = tp_kick_fd,
};

const struct vu_transport_ops vvu_transport_ops_log = {
	.carries_fds = false,
	.send = tp_send,
	.map = tp_map,
	.unmap = tp_unmap,
	.map_log = tp_map_log,
	.set_vring_fd = tp_set_vring_fd,
	.signal = tp_signal,
	.kick_fd = tp_kick_fd,
};

const struct vu_transport_ops *vvu_tport_ops(const struct vvu_tport *t)
{
	return t->hw.log_cfg ? &vvu_transport_ops_log : &vvu_transport_ops;
}

int vvu_tport_init(struct vvu_tport *t, const char *name,
		   const struct vvu_hw *hw)
{
	memset(t, 0, sizeof(*t));
	t->name = name;
	t->hw = *hw;
	for (unsigned int q = 0; q < VU_MAX_VRINGS; q++)
		t->kick_vector[q] = VVU_NO_VECTOR;
	if (!hw->shm || !hw->shm_len) {
		refuse(t, "no shared-memory window");
		return -EINVAL;
	}
	if (!hw->doorbell || hw->doorbell_mult < 4 || !hw->n_doorbells) {
		refuse(t, "no usable doorbell window");
		return -EINVAL;
	}
	if (hw->max_vhost_queues == 0 || hw->max_vhost_queues > 256) {
		refuse(t, "max_vhost_queues out of 1..256");
		return -EINVAL;
	}
	if (hw->n_doorbells < hw->max_vhost_queues)
		vlog_warn("%s: %u doorbells for %u queues: some calls are lost",
			  name, hw->n_doorbells, hw->max_vhost_queues);
	return 0;
}
