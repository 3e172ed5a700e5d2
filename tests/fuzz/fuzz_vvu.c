/* SPDX-License-Identifier: MIT */
/*
 * fuzz_vvu: the virtio-vhost-user driver pieces that need no PCI device.
 * The first bytes describe the device (shared-memory BAR length, doorbell
 * window, vector count, max_msg_size, queues); the rest is a stream of
 * operations: rxq buffers framed by vvu_msg_parse() and handed to the real
 * protocol code (vu_net over vvu_transport_ops, so memory tables become
 * pointers into the BAR), memory tables whose BAR offsets are chosen near
 * the window's end or to wrap, direct vvu_shm_ptr() probes, doorbells and
 * kick vectors with any index, frontend writes into the BAR (so rings the
 * fuzzer lays out there are walked by the real datapath), and a
 * driver-side vvu_ring whose used ring the fuzzer writes as a hostile
 * device.  With bit 7 of the doorbell byte the device has a log window
 * (spec 6.4) whose config (log_gen, log_offset, log_size) the next 24
 * bytes give, so SET_LOG_BASE reaches vvu_transport's map_log.  Every window is a heap block of
 * exactly its size, so ASan sees any touch past a BAR; the framing and
 * ring invariants are checked here and abort() on violation.
 * It trusts nothing in the input.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sw.h"
#include "vlog.h"
#include "vu_net.h"
#include "vvu_msg.h"
#include "vvu_ring.h"
#include "vvu_transport.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define DEV_HDR 8

/* A cursor over the input; reads past the end give zeroes. */
struct in {
	const uint8_t *p;
	size_t n, off;
};

static uint8_t get8(struct in *in)
{
	return in->off < in->n ? in->p[in->off++] : 0;
}

static uint16_t get16(struct in *in)
{
	return (uint16_t)(get8(in) | get8(in) << 8);
}

static uint32_t get32(struct in *in)
{
	return (uint32_t)get16(in) | (uint32_t)get16(in) << 16;
}

static uint64_t get64(struct in *in)
{
	return (uint64_t)get32(in) | (uint64_t)get32(in) << 32;
}

static size_t left(const struct in *in)
{
	return in->n - in->off;
}

/* ---- the device ---- */

struct fdev {
	struct vvu_tport t;
	struct vu_net n;
	uint8_t *shm;
	uint8_t *doorbell;
	size_t doorbell_len;
	uint8_t notif[4];
	uint8_t logcfg[24];		/* config from log_gen (spec 2) */
	uint8_t txbuf[VVU_RXBUF_SIZE];
};

/*
 * The txq: what the protocol code sends is framed as vvu_pci_send() would
 * and must parse back to the same message (bit 31 and all).
 */
static int f_send(void *arg, const void *buf, size_t len)
{
	struct fdev *f = arg;
	struct vu_msg m;
	enum vvu_msg_kind k;
	size_t got = 0;
	int n = vvu_msg_build(buf, len, f->t.hw.max_msg_size, false, f->txbuf,
			      sizeof(f->txbuf));

	if (n < 0)
		return n;
	if ((size_t)n != len)
		abort();
	if (vvu_msg_parse(f->txbuf, sizeof(f->txbuf), (size_t)n,
			  f->t.hw.max_msg_size, &m, &got, &k) == 0) {
		if (got != len || k != VVU_MSG_REQUEST ||
		    memcmp(&m, buf, len) != 0)
			abort();
	}
	return 0;
}

static int f_vector_fd(void *arg, unsigned int v)
{
	(void)arg;
	if (v == VVU_NO_VECTOR)
		abort();	/* the transport must never ask for that */
	return -1;
}

/* BAR lengths near interesting edges: tiny, page-ish, odd. */
static uint64_t pick_shm_len(uint8_t sel, uint16_t raw)
{
	static const uint64_t lens[] = { 1, 64, 4095, 4096, 4097, 0x10000,
					 0x20000, 0x3ffff };

	return sel & 8 ? (uint64_t)raw + 1 : lens[sel & 7];
}

static int fdev_open(struct fdev *f, struct in *in)
{
	uint8_t a = get8(in), b = get8(in), c = get8(in), d = get8(in);
	uint16_t raw = get16(in);
	uint16_t mm = get16(in);
	struct vvu_hw hw;

	memset(&hw, 0, sizeof(hw));
	hw.shm_len = pick_shm_len(a, raw);
	hw.max_vhost_queues = (uint32_t)(b % 9);	/* 0 is refused */
	hw.n_doorbells = (uint32_t)(c % 20);
	hw.doorbell_mult = (a & 0x10) ? 8 : 4;
	hw.n_vectors = (uint16_t)(d % 12);
	hw.first_kick_vector = (uint16_t)((d >> 4) % 5);
	hw.max_msg_size = (a & 0x20) ? mm : VVU_SPEC_MAX_MSG;
	f->shm = malloc(hw.shm_len);
	f->doorbell_len = (size_t)hw.n_doorbells * hw.doorbell_mult;
	f->doorbell = malloc(f->doorbell_len ? f->doorbell_len : 1);
	if (!f->shm || !f->doorbell)
		return -ENOMEM;
	memset(f->shm, 0, hw.shm_len);
	hw.shm = f->shm;
	hw.doorbell = f->doorbell;
	hw.notif = (a & 0x40) ? f->notif : NULL;
	if (c & 0x80) {
		for (size_t i = 0; i < sizeof(f->logcfg); i++)
			f->logcfg[i] = get8(in);
		hw.log_cfg = f->logcfg;
	}
	if (vvu_tport_init(&f->t, "fuzz", &hw) != 0)
		return -EINVAL;
	f->t.send = f_send;
	f->t.send_arg = f;
	f->t.vector_fd = f_vector_fd;
	f->t.vector_arg = f;
	f->t.use_kick_vectors = (a & 0x80) != 0;
	vu_net_init(&f->n, "fuzz", vvu_tport_ops(&f->t), &f->t, 2);
	return 0;
}

static void fdev_close(struct fdev *f)
{
	free(f->shm);
	free(f->doorbell);
	f->shm = NULL;
	f->doorbell = NULL;
}

/* Every mapped region must lie wholly inside the BAR: touch both ends. */
static void check_regions(struct fdev *f)
{
	const struct vu_mem *m = &f->n.dev.mem;

	for (unsigned int i = 0; i < m->nregions; i++) {
		const struct vu_mem_region *r = &m->r[i];
		volatile uint8_t *p = r->hva;

		if (!p || r->size == 0 || r->size > f->t.hw.shm_len ||
		    r->hva < f->shm || (uint64_t)(r->hva - f->shm) > f->t.hw.shm_len - r->size)
			abort();
		p[0] ^= 0;
		p[r->size - 1] ^= 0;
	}
	/* So must the dirty log, and it must be the config's current one. */
	if (f->n.dev.log.bits) {
		const struct vq_dirty_log *l = &f->n.dev.log;
		volatile uint8_t *p = l->bits;
		uint64_t off = (uint64_t)(l->bits - f->shm);

		uint64_t cfg_off = 0, cfg_len = 0;

		for (int i = 7; i >= 0; i--) {
			cfg_off = cfg_off << 8 | f->logcfg[8 + i];
			cfg_len = cfg_len << 8 | f->logcfg[16 + i];
		}
		if (!f->t.hw.log_cfg || l->len == 0 || l->bits < f->shm ||
		    off > f->t.hw.shm_len || l->len > f->t.hw.shm_len - off ||
		    off != cfg_off || l->len != cfg_len)
			abort();
		p[0] ^= 0;
		p[l->len - 1] ^= 0;
	}
}

/* The datapath over whatever rings are live: the port to itself. */
static void poll_port(struct fdev *f)
{
	struct sw_frame fr[SW_BURST];
	unsigned int got = vu_net_port_ops.recv(&f->n, fr, SW_BURST);

	for (unsigned int i = 0; i < got; i++)
		vu_net_port_ops.send(&f->n, &fr[i]);
	vu_net_port_ops.recv_done(&f->n);
	vu_net_port_ops.flush(&f->n);
}

/* Returns false when the connection would be dropped. */
static bool deliver(struct fdev *f, struct vu_msg *m, size_t len)
{
	if (vu_dev_handle(&f->n.dev, m, len, NULL, 0) < 0)
		return false;
	check_regions(f);
	poll_port(f);
	return true;
}

/*
 * op: one used rxq buffer.  [buf_len:2][used delta:2][bytes...]: the
 * buffer is exactly buf_len bytes on the heap, the used length is
 * buf_len - delta or, with the top bit of delta, 12 + the header's size.
 */
static bool op_rx(struct fdev *f, struct in *in)
{
	size_t buf_len = get16(in) % (VVU_RXBUF_SIZE + 1);
	uint16_t delta = get16(in);
	size_t n = left(in) < buf_len ? left(in) : buf_len;
	uint8_t *buf = malloc(buf_len ? buf_len : 1);
	struct vu_msg m;
	enum vvu_msg_kind k = VVU_MSG_REQUEST;
	size_t used, len = 0;
	bool ok = true;
	int rc;

	if (!buf)
		return false;
	memset(buf, 0, buf_len);
	memcpy(buf, in->p + in->off, n);
	in->off += n;
	if (delta & 0x8000) {
		struct vu_msg_hdr h;

		memset(&h, 0, sizeof(h));
		memcpy(&h, buf, buf_len < sizeof(h) ? buf_len : sizeof(h));
		used = VVU_HDR_SIZE + (size_t)h.size + (delta & 0x7fff) % 3 - 1;
	} else {
		used = buf_len - (delta % (buf_len + 2)) + 1;
	}
	rc = vvu_msg_parse(buf, buf_len, used, f->t.hw.max_msg_size, &m, &len, &k);
	free(buf);
	if (rc == 0) {
		if (len != used || len != VVU_HDR_SIZE + m.hdr.size ||
		    m.hdr.size > f->t.hw.max_msg_size ||
		    m.hdr.size > VU_MAX_PAYLOAD ||
		    (m.hdr.flags & VVU_F_BACKEND_CHANNEL))
			abort();
		/* Replies on the backend channel go to nobody here. */
		if (k == VVU_MSG_REQUEST)
			ok = deliver(f, &m, len);
	} else if (rc != -EPROTO && rc != -EMSGSIZE) {
		abort();
	}
	return ok;
}

/*
 * op: a memory table (or ADD_MEM_REG) whose BAR offsets are picked to sit
 * at, near or past the window's end, or to wrap.
 * [n:1] then per region [mode:1][gpa:8][size:4][uva:8][off:8].
 */
static bool op_mem(struct fdev *f, struct in *in, bool add)
{
	struct vu_msg m;
	unsigned int n = add ? 1 : get8(in) % 16;
	uint64_t L = f->t.hw.shm_len;
	struct vu_region_wire *w;

	memset(&m, 0, sizeof(m));
	m.hdr.flags = VU_VERSION;
	if (add) {
		m.hdr.request = VU_ADD_MEM_REG;
		m.hdr.size = 8 + 32;
		w = &m.p.memreg.r;
	} else {
		m.hdr.request = VU_SET_MEM_TABLE;
		m.hdr.size = 8 + 32 * n;
		m.p.mem.nregions = n;
		w = m.p.mem.r;
	}
	for (unsigned int i = 0; i < n; i++) {
		uint8_t mode = get8(in);
		uint64_t gpa = get64(in), sz = get32(in), uva = get64(in);
		uint64_t off = get64(in);

		switch (mode & 7) {
		case 0:		/* raw */
			break;
		case 1:		/* ends exactly at the BAR's end, or near it */
			sz = sz % (L + 1);
			off = L - sz + (off % 5) - 2;
			break;
		case 2:		/* wraps */
			off = UINT64_MAX - (off & 0xffff);
			break;
		case 3:		/* size near the BAR */
			sz = L + (sz % 5) - 2;
			off &= 3;
			break;
		case 4:		/* huge size */
			sz = UINT64_MAX - (sz & 0xffff);
			break;
		default:	/* plausible */
			sz = 1 + sz % L;
			off = off % L;
			break;
		}
		w[i].gpa = gpa;
		w[i].size = sz;
		w[i].uva = uva;
		w[i].mmap_offset = off;
	}
	return deliver(f, &m, VVU_HDR_SIZE + m.hdr.size);
}

/*
 * op: the frontend writes its memory, which the device shows in the BAR:
 * [off:4][len:2][bytes...], clipped to the window.
 */
static void op_poke(struct fdev *f, struct in *in)
{
	uint64_t off = get32(in), L = f->t.hw.shm_len;
	size_t len = get16(in);

	if (len > left(in))
		len = left(in);
	if (off < L) {
		size_t n = len < L - off ? len : (size_t)(L - off);

		memcpy(f->shm + off, in->p + in->off, n);
	}
	in->off += len;
}

/* op: [off:8][size:8] straight into vvu_shm_ptr(). */
static void op_shm(struct fdev *f, struct in *in)
{
	uint64_t off = get64(in), sz = get64(in);
	uint64_t L = f->t.hw.shm_len;
	uint8_t sel = get8(in);
	volatile uint8_t *p;

	if (sel & 1)
		off = L - (off & 0xff);
	if (sel & 2)
		sz = L - off + (sz & 3) - 1;
	p = vvu_shm_ptr(&f->t.hw, off, sz);
	if (!p)
		return;
	if (sz == 0 || off >= L || sz > L - off || p != f->shm + off)
		abort();
	p[0] ^= 0;
	p[sz - 1] ^= 0;
}

/* op: doorbells, kick vectors and fds with any index. */
static void op_notify(struct fdev *f, struct in *in)
{
	uint8_t kind = get8(in);
	uint32_t q = get32(in);
	uint16_t v = get16(in);

	switch (kind % 5) {
	case 0:
		vvu_transport_ops.signal(&f->t, (enum vu_fd_kind)(kind / 5 % 3), q);
		break;
	case 1:
		(void)vvu_transport_ops.set_vring_fd(&f->t, (enum vu_fd_kind)(kind / 5 % 3), q, -1);
		break;
	case 2:
		(void)vvu_transport_ops.kick_fd(&f->t, q);
		break;
	case 3:
		if (vvu_set_kick_vector(&f->t, q, v) != VVU_NO_VECTOR &&
		    (q >= f->t.hw.max_vhost_queues || !f->t.hw.notif))
			abort();
		break;
	default:
		vvu_clear_kick_vectors(&f->t);
		break;
	}
	for (unsigned int i = 0; i < VU_MAX_VRINGS; i++)
		if (f->t.kick_vector[i] != VVU_NO_VECTOR &&
		    f->t.kick_vector[i] >= f->t.hw.n_vectors)
			abort();
}

/* ---- driver-side ring against a hostile device ---- */

#define RSIZE_MAX 16
static uint8_t ringmem[3 * 4096 * 2] __attribute__((aligned(4096)));

/*
 * [size sel:1] then ops: add [len:4][w:1], device writes a used element
 * [slot:1][id:4][len:4], device moves used->idx [delta:1], take used.
 * Cookies are the posted length tagged with the id bookkeeping here, so a
 * buffer the ring hands back must be one still posted, with len <= its
 * size.
 */
static void op_ring(struct in *in)
{
	static struct vvu_ring r;
	uint16_t size = (uint16_t)(1u << (get8(in) % 5));	/* 1..16 */
	struct { bool busy; uint32_t len; bool w; } mine[RSIZE_MAX];
	unsigned int steps = get8(in) % 64;

	if (vvu_ring_mem_size(size) > sizeof(ringmem) ||
	    vvu_ring_init(&r, size, ringmem, 0x100000) != 0)
		abort();
	memset(mine, 0, sizeof(mine));
	for (unsigned int s = 0; s < steps && left(in); s++) {
		uint8_t op = get8(in);

		switch (op & 7) {
		case 0: case 1: {
			uint32_t len = get32(in);
			bool w = get8(in) & 1;
			unsigned int idx = r.free_top ? r.free[r.free_top - 1] : 0;
			int rc = vvu_ring_add(&r, 0x200000, len, w,
					      &mine[idx % RSIZE_MAX]);

			if (rc == 0) {
				if (idx >= size || mine[idx].busy)
					abort();
				mine[idx].busy = true;
				mine[idx].len = len;
				mine[idx].w = w;
			} else if (rc != -ENOSPC && rc != -EIO) {
				abort();
			}
			break;
		}
		case 2: {
			uint8_t slot = get8(in);
			uint32_t id = get32(in), len = get32(in);

			r.used->ring[slot % size].id = (op & 8) ? id : id % size;
			r.used->ring[slot % size].len = len;
			break;
		}
		case 3:
			r.used->idx = (uint16_t)(r.used->idx + (get8(in) % 4));
			break;
		case 4:
			r.used->idx = get16(in);
			break;
		case 5:
			vvu_ring_set_interrupts(&r, op & 8);
			r.used->flags = get8(in) & 1;
			(void)vvu_ring_kick_needed(&r);
			break;
		default: {
			void *cookie = NULL;
			uint32_t len = 0;
			int rc = vvu_ring_get_used(&r, &cookie, &len);

			if (rc == 1) {
				unsigned int id = (unsigned int)((uint8_t *)cookie -
						  (uint8_t *)mine) / sizeof(mine[0]);

				if (id >= size || !mine[id].busy)
					abort();
				if (mine[id].w ? len > mine[id].len : len != 0)
					abort();
				mine[id].busy = false;
			} else if (rc != 0 && rc != -EIO) {
				abort();
			}
			break;
		}
		}
		if (vvu_ring_in_flight(&r) > size)
			abort();
	}
	/* Our bookkeeping and the ring's agree on what is in flight. */
	if (!r.broken) {
		unsigned int busy = 0;

		for (unsigned int i = 0; i < size; i++)
			busy += mine[i].busy;
		if (busy != vvu_ring_in_flight(&r))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fdev f;
	struct in in = { data, size, 0 };

	vlog_set_level(VLOG_ERR);
	if (size < DEV_HDR)
		return 0;
	memset(&f.t, 0, sizeof(f.t));
	if (fdev_open(&f, &in) != 0) {
		fdev_close(&f);
		return 0;
	}
	for (unsigned int ops = 0; ops < 64 && left(&in); ops++) {
		uint8_t op = get8(&in);
		bool ok = true;

		switch (op % 9) {
		case 0: case 1: case 2:
			ok = op_rx(&f, &in);
			break;
		case 3:
			ok = op_mem(&f, &in, false);
			break;
		case 4:
			ok = op_mem(&f, &in, true);
			break;
		case 5:
			op_shm(&f, &in);
			break;
		case 6:
			op_notify(&f, &in);
			break;
		case 7:
			op_ring(&in);
			break;
		default:
			op_poke(&f, &in);
			break;
		}
		if (!ok)
			break;
	}
	vu_dev_disconnect(&f.n.dev);
	fdev_close(&f);
	return 0;
}
