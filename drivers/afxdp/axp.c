/* SPDX-License-Identifier: MIT */
/*
 * axp: an AF_XDP socket as a switch port, on libxdp's xsk API (libxdp
 * loads the XDP program that redirects the queue to the socket, through
 * its dispatcher when bpffs is mounted, else on its own).  See axp.h for
 * the UMEM layout.  No EAL, no hugepages: the UMEM is anonymous memory.
 *
 * Trust: rx descriptors come from the kernel and are still checked
 * against their frame (axp_desc_check) before the switch sees a byte;
 * the bytes themselves are wire input, handed on as one segment whose
 * Ethernet header is copied once into sw_frame.eth.
 */
#include "axp.h"
#include "off.h"

#include <errno.h>
#include <linux/if_xdp.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/libbpf.h>
#include <xdp/libxdp.h>
#include <xdp/xsk.h>

#define UMEM_FRAMES (AXP_RX_FRAMES + AXP_TX_FRAMES)
#define UMEM_LEN ((uint64_t)UMEM_FRAMES * AXP_FRAME_SIZE)
#define FILL_SIZE (2 * AXP_RX_FRAMES)	/* room for every rx frame, always */

struct axp {
	struct xsk_umem *umem;
	struct xsk_socket *xsk;
	uint8_t *area;
	struct xsk_ring_prod fq, tx;
	struct xsk_ring_cons cq, rx;
	int fd;
	bool zerocopy;
	int error;			/* a wake-up said the device is gone */
	unsigned int rx_held;		/* rx descriptors taken by the last recv */
	uint64_t rx_base[SW_BURST];	/* their frames, back to the fill ring */
	unsigned int tx_pending;	/* reserved and written, not yet submitted */
	unsigned int nfree;
	uint64_t free_tx[AXP_TX_FRAMES];
	struct axp_stats st;
	struct off_stats ost;		/* offload work finished here */
	struct off_buf obuf;		/* its scratch frame */
};

int axp_desc_check(uint64_t addr, uint32_t len, uint64_t umem_len,
		   uint64_t *off)
{
	uint64_t a = xsk_umem__extract_addr(addr) + xsk_umem__extract_offset(addr);
	uint64_t in_frame = a % AXP_FRAME_SIZE;

	if (a >= umem_len || len > AXP_FRAME_SIZE - in_frame)
		return -EINVAL;
	*off = a;
	return 0;
}

struct axp *axp_new(void)
{
	struct axp *x = calloc(1, sizeof(*x));

	if (x)
		x->fd = -1;
	return x;
}

void axp_free(struct axp *x)
{
	if (!x)
		return;
	axp_close(x);
	free(x);
}

bool axp_is_open(const struct axp *x)
{
	return x->xsk != NULL;
}

int axp_fd(const struct axp *x)
{
	return x->fd;
}

bool axp_zerocopy(const struct axp *x)
{
	return x->zerocopy;
}

int axp_take_error(struct axp *x)
{
	int e = x->error;

	x->error = 0;
	return e;
}

void axp_close(struct axp *x)
{
	if (x->xsk)
		xsk_socket__delete(x->xsk);
	if (x->umem)
		xsk_umem__delete(x->umem);
	if (x->area)
		munmap(x->area, UMEM_LEN);
	x->xsk = NULL;
	x->umem = NULL;
	x->area = NULL;
	x->fd = -1;
	x->zerocopy = false;
	/* libxdp sets up a ring assuming zeroed cached indices: start clean. */
	memset(&x->fq, 0, sizeof(x->fq));
	memset(&x->tx, 0, sizeof(x->tx));
	memset(&x->cq, 0, sizeof(x->cq));
	memset(&x->rx, 0, sizeof(x->rx));
	x->rx_held = x->tx_pending = x->nfree = 0;
}

/* libxdp's and libbpf's own messages: ours say what failed, once. */
static int quiet(enum libxdp_print_level l, const char *fmt, va_list ap)
{
	(void)l;
	(void)fmt;
	(void)ap;
	return 0;
}

static int quiet_bpf(enum libbpf_print_level l, const char *fmt, va_list ap)
{
	(void)l;
	(void)fmt;
	(void)ap;
	return 0;
}

static int open_fail(struct axp *x, int rc, char *why, size_t whylen,
		     const char *what)
{
	snprintf(why, whylen, "%s: %s", what, strerror(rc < 0 ? -rc : rc));
	axp_close(x);
	return rc < 0 ? rc : -rc;
}

int axp_open(struct axp *x, const char *ifname, unsigned int queue, char *why,
	     size_t whylen)
{
	struct xsk_umem_config uc = {
		.fill_size = FILL_SIZE, .comp_size = AXP_TX_FRAMES,
		.frame_size = AXP_FRAME_SIZE, .frame_headroom = 0, .flags = 0,
	};
	struct xsk_socket_config sc = {
		.rx_size = AXP_RX_FRAMES, .tx_size = AXP_TX_FRAMES,
		.libxdp_flags = 0, .xdp_flags = 0,
		.bind_flags = XDP_USE_NEED_WAKEUP,
	};
	struct xdp_options opts = { 0 };
	socklen_t optlen = sizeof(opts);
	uint32_t idx = 0;
	int rc;

	axp_close(x);
	libxdp_set_print(quiet);
	libbpf_set_print(quiet_bpf);
	x->area = mmap(NULL, UMEM_LEN, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (x->area == MAP_FAILED) {
		x->area = NULL;
		return open_fail(x, -errno, why, whylen, "UMEM");
	}
	rc = xsk_umem__create(&x->umem, x->area, UMEM_LEN, &x->fq, &x->cq, &uc);
	if (rc)
		return open_fail(x, rc, why, whylen, "UMEM registration");
	rc = xsk_socket__create(&x->xsk, ifname, queue, x->umem, &x->rx, &x->tx,
				&sc);
	if (rc) {
		x->xsk = NULL;
		return open_fail(x, rc, why, whylen, "AF_XDP socket");
	}
	x->fd = xsk_socket__fd(x->xsk);
	if (getsockopt(x->fd, SOL_XDP, XDP_OPTIONS, &opts, &optlen) == 0)
		x->zerocopy = (opts.flags & XDP_OPTIONS_ZEROCOPY) != 0;
	if (xsk_ring_prod__reserve(&x->fq, AXP_RX_FRAMES, &idx) != AXP_RX_FRAMES)
		return open_fail(x, -ENOBUFS, why, whylen, "fill ring");
	for (uint32_t i = 0; i < AXP_RX_FRAMES; i++)
		*xsk_ring_prod__fill_addr(&x->fq, idx + i) =
			(uint64_t)i * AXP_FRAME_SIZE;
	xsk_ring_prod__submit(&x->fq, AXP_RX_FRAMES);
	for (uint32_t i = 0; i < AXP_TX_FRAMES; i++)
		x->free_tx[i] = (uint64_t)(AXP_RX_FRAMES + i) * AXP_FRAME_SIZE;
	x->nfree = AXP_TX_FRAMES;
	return 0;
}

const struct axp_stats *axp_stats(struct axp *x)
{
	struct xdp_statistics k;
	socklen_t len = sizeof(k);

	if (x->fd >= 0 && getsockopt(x->fd, SOL_XDP, XDP_STATISTICS, &k, &len) == 0) {
		x->st.k_rx_dropped = k.rx_dropped;
		x->st.k_rx_invalid = k.rx_invalid_descs;
		x->st.k_tx_invalid = k.tx_invalid_descs;
		x->st.k_rx_ring_full = k.rx_ring_full;
		x->st.k_fill_empty = k.rx_fill_ring_empty_descs;
	}
	return &x->st;
}

void axp_clear_stats(struct axp *x)
{
	memset(&x->st, 0, sizeof(x->st));
	memset(&x->ost, 0, sizeof(x->ost));
}

const struct off_stats *axp_off_stats(const struct axp *x)
{
	return &x->ost;
}

/* A wake-up failed: EAGAIN, EBUSY and ENOBUFS only mean "later". */
static void wake_result(struct axp *x, ssize_t r)
{
	x->st.wakeups++;
	if (r >= 0 || errno == EAGAIN || errno == EBUSY || errno == ENOBUFS ||
	    errno == EINTR)
		return;
	x->st.wakeup_errors++;
	if (errno == ENETDOWN || errno == ENXIO || errno == ENODEV)
		x->error = -errno;
}

/* Give transmitted frames back to the free stack. */
static void reap(struct axp *x)
{
	uint32_t idx = 0;
	unsigned int n = xsk_ring_cons__peek(&x->cq, AXP_TX_FRAMES, &idx);

	for (unsigned int i = 0; i < n; i++) {
		uint64_t a = *xsk_ring_cons__comp_addr(&x->cq, idx + i);

		a -= a % AXP_FRAME_SIZE;
		/* Only our own tx frames go back; the stack cannot overflow. */
		if (a >= (uint64_t)AXP_RX_FRAMES * AXP_FRAME_SIZE && a < UMEM_LEN &&
		    x->nfree < AXP_TX_FRAMES)
			x->free_tx[x->nfree++] = a;
	}
	if (n)
		xsk_ring_cons__release(&x->cq, n);
}

static unsigned int axp_recv(void *ctx, struct sw_frame *f, unsigned int n)
{
	struct axp *x = ctx;
	unsigned int got, out = 0;
	uint32_t idx = 0;

	x->rx_held = 0;
	if (!x->xsk)
		return 0;
	if (n > SW_BURST)
		n = SW_BURST;
	got = xsk_ring_cons__peek(&x->rx, n, &idx);
	if (!got) {
		if (xsk_ring_prod__needs_wakeup(&x->fq))
			wake_result(x, recvfrom(x->fd, NULL, 0, MSG_DONTWAIT, NULL, NULL));
		return 0;
	}
	for (unsigned int i = 0; i < got; i++) {
		const struct xdp_desc *d = xsk_ring_cons__rx_desc(&x->rx, idx + i);
		uint64_t addr = d->addr, off = 0;
		uint32_t len = d->len;
		struct sw_frame *fr = &f[out];

		if (axp_desc_check(addr, len, (uint64_t)AXP_RX_FRAMES * AXP_FRAME_SIZE,
				   &off)) {
			x->st.rx_bad_desc++;
			x->rx_base[i] = UINT64_MAX;	/* not ours: never refilled */
			continue;
		}
		x->rx_base[i] = off - off % AXP_FRAME_SIZE;
		fr->len = len;
		fr->nseg = 1;
		fr->seg[0].base = x->area + off;
		fr->seg[0].len = len;
		memset(&fr->off, 0, sizeof(fr->off));	/* the kernel's frames: finished */
		memset(fr->eth, 0, sizeof(fr->eth));
		memcpy(fr->eth, x->area + off, len < SW_ETH_HLEN ? len : SW_ETH_HLEN);
		out++;
	}
	x->rx_held = got;
	return out;
}

/* The last burst's frames go back to the fill ring (FILL_SIZE > frames: room). */
static void axp_recv_done(void *ctx)
{
	struct axp *x = ctx;
	unsigned int n = 0;
	uint32_t idx = 0;

	if (!x->xsk || !x->rx_held)
		return;
	xsk_ring_cons__release(&x->rx, x->rx_held);
	for (unsigned int i = 0; i < x->rx_held; i++)
		n += x->rx_base[i] != UINT64_MAX;
	if (n && xsk_ring_prod__reserve(&x->fq, n, &idx) == n) {
		for (unsigned int i = 0, k = 0; i < x->rx_held; i++)
			if (x->rx_base[i] != UINT64_MAX)
				*xsk_ring_prod__fill_addr(&x->fq, idx + k++) =
					x->rx_base[i];
		xsk_ring_prod__submit(&x->fq, n);
	}
	x->rx_held = 0;
}

static int axp_send_one(void *ctx, const struct sw_frame *f)
{
	struct axp *x = ctx;
	struct xdp_desc *d;
	uint32_t idx = 0;
	uint64_t a;
	uint8_t *p;

	if (!x->xsk)
		return -EIO;
	if (f->len > AXP_FRAME_SIZE) {
		x->st.tx_too_big++;
		return -EMSGSIZE;
	}
	if (!x->nfree)
		reap(x);
	if (!x->nfree || xsk_ring_prod__reserve(&x->tx, 1, &idx) != 1) {
		x->st.tx_no_room++;
		return -ENOBUFS;
	}
	a = x->free_tx[--x->nfree];
	p = x->area + a;
	for (unsigned int s = 0; s < f->nseg; s++) {
		memcpy(p, f->seg[s].base, f->seg[s].len);
		p += f->seg[s].len;
	}
	d = xsk_ring_prod__tx_desc(&x->tx, idx);
	d->addr = a;
	d->len = f->len;
	x->tx_pending++;
	return 0;
}

/*
 * A peer's checksum or segmentation work (a Linux guest's TSO frame, say)
 * is finished here: the interface's stack gets complete frames.
 */
static int axp_send(void *ctx, const struct sw_frame *f)
{
	struct axp *x = ctx;

	if (sw_off_any(&f->off))
		return off_finish(f, &x->obuf, axp_send_one, x, &x->ost);
	return axp_send_one(ctx, f);
}

/* Publish the burst and kick the kernel once (copy mode sends on sendto). */
static void axp_flush(void *ctx)
{
	struct axp *x = ctx;

	if (!x->xsk)
		return;
	if (x->tx_pending) {
		xsk_ring_prod__submit(&x->tx, x->tx_pending);
		x->tx_pending = 0;
	}
	if (xsk_ring_prod__needs_wakeup(&x->tx))
		wake_result(x, sendto(x->fd, NULL, 0, MSG_DONTWAIT, NULL, 0));
	reap(x);
}

const struct sw_port_ops axp_port_ops = {
	.recv = axp_recv,
	.recv_done = axp_recv_done,
	.send = axp_send,
	.flush = axp_flush,
};
