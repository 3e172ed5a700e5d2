/* SPDX-License-Identifier: MIT */
/*
 * axp: one AF_XDP socket on one queue of a kernel network interface, as
 * a switch port (struct sw_port_ops).  Its UMEM is split in two: receive
 * frames live in the fill and rx rings and go straight back to the fill
 * ring once the switch is done with them; transmit frames come from a
 * free stack and return to it through the completion ring.  Nothing here
 * blocks: the rings are serviced from the switch's poll loop, and the
 * only system calls are non-blocking wake-ups (sendto, recvfrom).
 *
 * Trust: the kernel writes the rx descriptors, but the frames are whatever
 * arrived on the wire; every descriptor is bounded to its UMEM frame
 * before use, and the frame bytes go to the switch, which copies them.
 */
#ifndef AXP_H
#define AXP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sw.h"

#define AXP_FRAME_SIZE 2048u	/* one UMEM frame: holds a 1500-MTU frame */
#define AXP_RX_FRAMES 2048u	/* receive frames (fill + rx rings) */
#define AXP_TX_FRAMES 1024u	/* transmit frames (tx + completion rings) */

struct axp_stats {
	uint64_t tx_no_room;	/* no tx slot or frame: the kernel is behind */
	uint64_t tx_too_big;	/* larger than a UMEM frame */
	uint64_t rx_bad_desc;	/* rx descriptor outside its frame (dropped) */
	uint64_t wakeups;	/* sendto/recvfrom calls to kick the kernel */
	uint64_t wakeup_errors;	/* ... that failed with something but EAGAIN */
	/* The kernel's (XDP_STATISTICS), read by axp_kernel_stats. */
	uint64_t k_rx_dropped, k_rx_invalid, k_tx_invalid;
	uint64_t k_rx_ring_full, k_fill_empty;
};

struct axp;

/* A closed socket; NULL without memory.  Opened by axp_open. */
struct axp *axp_new(void);
void axp_free(struct axp *x);

/*
 * Bind to queue of ifname, loading libxdp's default XDP program (which
 * redirects the queue's frames to the socket).  Zero-copy when the driver
 * has it, else copy mode.  0, or -errno with why (and the socket closed).
 */
int axp_open(struct axp *x, const char *ifname, unsigned int queue, char *why,
	     size_t whylen);
/* Unbind and free the socket and its UMEM; safe when closed. */
void axp_close(struct axp *x);
bool axp_is_open(const struct axp *x);
/* The socket's fd (readable when frames wait), -1 when closed. */
int axp_fd(const struct axp *x);
bool axp_zerocopy(const struct axp *x);
/* -errno of the last failed wake-up that says the device is gone, else 0. */
int axp_take_error(struct axp *x);

const struct axp_stats *axp_stats(struct axp *x);
/* Zero the socket's counters and axp_off_stats (the kernel's are its own). */
void axp_clear_stats(struct axp *x);

/* The offload work of its peers the socket finished before sending (off.h). */
struct off_stats;
const struct off_stats *axp_off_stats(const struct axp *x);

/* The switch port: ctx is the struct axp. */
extern const struct sw_port_ops axp_port_ops;

/*
 * Decode one rx descriptor (addr, len) against a UMEM of umem_len bytes
 * with AXP_FRAME_SIZE frames: 0 and *off, the frame's bytes at umem +
 * *off, when it lies inside one frame; -EINVAL otherwise.  Pure, for
 * tests and the fuzzer.
 */
int axp_desc_check(uint64_t addr, uint32_t len, uint64_t umem_len,
		   uint64_t *off);

#endif
