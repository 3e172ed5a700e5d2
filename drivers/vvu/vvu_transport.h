/* SPDX-License-Identifier: MIT */
/*
 * vvu_transport: the vu_transport_ops of a virtio-vhost-user device.
 * Memory regions become pointers into the shared-memory BAR (spec 6.2),
 * calls and errors become doorbell writes (4.1), kicks become MSI-X
 * vectors programmed through the notification registers (4.2) or polling.
 * It knows registers only through struct vvu_hw, so tests can give it a
 * plain memory buffer as BAR.  Offsets and sizes in regions come from an
 * untrusted frontend through a semi-trusted device: all are bounds-checked.
 */
#ifndef VVU_TRANSPORT_H
#define VVU_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vu_dev.h"
#include "vu_transport.h"

#define VVU_NO_VECTOR 0xffffu

/* The device as the transport sees it; filled by vvu_pci or by a test. */
struct vvu_hw {
	uint8_t *shm;			/* SHARED_MEMORY window (BAR 2) */
	uint64_t shm_len;		/* its length: nothing past it is touched */
	volatile uint8_t *doorbell;	/* DOORBELL window */
	uint32_t doorbell_mult;		/* doorbell_off_multiplier */
	uint32_t n_doorbells;		/* doorbells the window holds */
	volatile uint8_t *notif;	/* NOTIFICATION registers, or NULL */
	uint32_t max_vhost_queues;	/* from the device config */
	uint32_t max_msg_size;		/* from the device config */
	uint16_t n_vectors;		/* MSI-X vectors we enabled, 0 = none */
	uint16_t first_kick_vector;	/* vectors from here on serve kicks */
	/*
	 * Device config at log_gen (spec 2: le32 log_gen, le32 reserved,
	 * le64 log_offset, le64 log_size), or NULL when the device has no
	 * log window (VVU_F_LOG_WINDOW not negotiated): then no map_log.
	 */
	volatile uint8_t *log_cfg;
};

struct vvu_tport {
	struct vvu_hw hw;
	const char *name;

	/* Write one whole message to the txq: 0 or -errno. */
	int (*send)(void *arg, const void *buf, size_t len);
	void *send_arg;
	/* The eventfd that MSI-X vector v signals, or -1. */
	int (*vector_fd)(void *arg, unsigned int v);
	void *vector_arg;

	bool use_kick_vectors;		/* program vectors, else poll */
	uint16_t kick_vector[VU_MAX_VRINGS];	/* as read back, or NO_VECTOR */

	uint32_t log_gen;		/* log_gen of the log we map */
	uint64_t doorbells;		/* doorbell writes */
	uint64_t refused;		/* map/notify requests refused */
	char last_error[160];
};

extern const struct vu_transport_ops vvu_transport_ops;
/* The same with map_log (spec 6.4): for a device with a log window. */
extern const struct vu_transport_ops vvu_transport_ops_log;

/* The ops for t's device: with map_log only when it has a log window. */
const struct vu_transport_ops *vvu_tport_ops(const struct vvu_tport *t);

/*
 * Check hw for sanity (non-NULL windows, doorbell count covering
 * 2 * max_vhost_queues + 1 when possible) and prepare t.  Returns 0 or
 * -EINVAL with t->last_error set.
 */
int vvu_tport_init(struct vvu_tport *t, const char *name,
		   const struct vvu_hw *hw);

/*
 * Translate the BAR offset R of a delivered region (spec 6.2: the
 * rewritten mmap_offset) of size bytes into a pointer, or NULL when
 * [R, R + size) is empty or not wholly inside the shared-memory window.
 */
uint8_t *vvu_shm_ptr(const struct vvu_hw *hw, uint64_t off, uint64_t size);

/*
 * Program the kick vector of vring q: NO_VECTOR to poll.  Reads the
 * register back (spec 4.2); returns the vector now in effect.
 */
uint16_t vvu_set_kick_vector(struct vvu_tport *t, unsigned int q, uint16_t v);

/* Reset every vring's kick vector to NO_VECTOR (polling). */
void vvu_clear_kick_vectors(struct vvu_tport *t);

#endif
