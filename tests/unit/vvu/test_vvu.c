/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the virtio-vhost-user driver pieces that need no device:
 * rxq/txq framing, BAR translation (a heap buffer plays BAR 0 and BAR 2,
 * vu_dev plays the protocol), and the driver-side message ring facing our
 * own device-side vq over memory mapped at two addresses.  The "device"
 * and "frontend" here are hostile on purpose.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "vq.h"
#include "vu_dev.h"
#include "vvu_msg.h"
#include "vvu_ring.h"
#include "vvu_transport.h"

/* ---------------- framing ---------------- */

static size_t put_msg(uint8_t *buf, uint32_t req, uint32_t flags,
		      uint32_t size, uint8_t fill)
{
	struct vu_msg_hdr h = { req, flags, size };

	memcpy(buf, &h, sizeof(h));
	memset(buf + VVU_HDR_SIZE, fill, size);
	return VVU_HDR_SIZE + size;
}

static void test_parse_good(void **state)
{
	static uint8_t buf[VVU_RXBUF_SIZE];
	struct vu_msg m;
	enum vvu_msg_kind k;
	size_t len = 0, n;

	(void)state;
	n = put_msg(buf, VU_SET_FEATURES, VU_VERSION, 8, 0xab);
	assert_int_equal(vvu_msg_parse(buf, sizeof(buf), n, 4096, &m, &len, &k), 0);
	assert_int_equal(len, 20);
	assert_int_equal(k, VVU_MSG_REQUEST);
	assert_int_equal(m.hdr.request, VU_SET_FEATURES);
	assert_int_equal(m.p.raw[7], 0xab);

	n = put_msg(buf, 2, VU_VERSION | VU_FLAG_REPLY | VVU_F_BACKEND_CHANNEL, 8, 1);
	assert_int_equal(vvu_msg_parse(buf, sizeof(buf), n, 4096, &m, &len, &k), 0);
	assert_int_equal(k, VVU_MSG_BACKEND_REPLY);
	assert_int_equal(m.hdr.flags, VU_VERSION | VU_FLAG_REPLY);

	n = put_msg(buf, VU_GET_FEATURES, VU_VERSION, 0, 0);
	assert_int_equal(vvu_msg_parse(buf, VVU_HDR_SIZE, n, 4096, &m, &len, &k), 0);
	assert_int_equal(len, VVU_HDR_SIZE);
}

static void test_parse_hostile(void **state)
{
	static uint8_t buf[VVU_RXBUF_SIZE];
	struct vu_msg m;
	enum vvu_msg_kind k;
	size_t len = 77, n;

	(void)state;
	memset(&m, 0x5a, sizeof(m));
	n = put_msg(buf, VU_SET_FEATURES, VU_VERSION, 8, 0);
	/* Used length shorter than a header, or beyond the buffer. */
	for (size_t u = 0; u < VVU_HDR_SIZE; u++)
		assert_int_equal(vvu_msg_parse(buf, sizeof(buf), u, 4096, &m, &len, &k), -EPROTO);
	assert_int_equal(vvu_msg_parse(buf, 16, n, 4096, &m, &len, &k), -EPROTO);
	assert_int_equal(vvu_msg_parse(buf, sizeof(buf), sizeof(buf) + 1, 4096, &m, &len, &k), -EPROTO);
	/* Size disagrees with the used length, both ways. */
	assert_int_equal(vvu_msg_parse(buf, sizeof(buf), n - 1, 4096, &m, &len, &k), -EPROTO);
	assert_int_equal(vvu_msg_parse(buf, sizeof(buf), n + 1, 4096, &m, &len, &k), -EPROTO);
	/* Size beyond max_msg_size, and a size that would wrap 32 bits. */
	n = put_msg(buf, VU_SET_FEATURES, VU_VERSION, 100, 0);
	assert_int_equal(vvu_msg_parse(buf, sizeof(buf), n, 64, &m, &len, &k), -EPROTO);
	put_msg(buf, VU_SET_FEATURES, VU_VERSION, 0, 0);
	((struct vu_msg_hdr *)(void *)buf)->size = 0xfffffff8u;
	assert_int_equal(vvu_msg_parse(buf, sizeof(buf), 4, 0xffffffffu, &m, &len, &k), -EPROTO);
	assert_int_equal(vvu_msg_parse(buf, sizeof(buf), sizeof(buf), 0xffffffffu, &m, &len, &k), -EPROTO);
	/* Version 0, 2, 3. */
	for (uint32_t v = 0; v < 4; v++) {
		if (v == VU_VERSION)
			continue;
		n = put_msg(buf, VU_SET_FEATURES, v, 8, 0);
		assert_int_equal(vvu_msg_parse(buf, sizeof(buf), n, 4096, &m, &len, &k), -EPROTO);
	}
	/* Legal for the device, too big for us. */
	n = put_msg(buf, VU_SET_CONFIG, VU_VERSION, VU_MAX_PAYLOAD + 1, 0);
	assert_int_equal(vvu_msg_parse(buf, sizeof(buf), n, 4096, &m, &len, &k), -EMSGSIZE);
	n = put_msg(buf, VU_SET_CONFIG, VU_VERSION, VU_MAX_PAYLOAD, 0);
	assert_int_equal(vvu_msg_parse(buf, sizeof(buf), n, 4096, &m, &len, &k), 0);
	assert_int_equal(len, n);
}

static void test_parse_untouched_on_error(void **state)
{
	static uint8_t buf[VVU_RXBUF_SIZE];
	struct vu_msg m, before;
	enum vvu_msg_kind k = VVU_MSG_REQUEST;
	size_t len = 77;

	(void)state;
	memset(&m, 0x5a, sizeof(m));
	before = m;
	put_msg(buf, VU_SET_FEATURES, 0, 8, 0);
	assert_int_equal(vvu_msg_parse(buf, sizeof(buf), 20, 4096, &m, &len, &k), -EPROTO);
	assert_memory_equal(&m, &before, sizeof(m));
	assert_int_equal(len, 77);
}

/* xorshift64: a fixed-seed generator, so a failure reproduces. */
static uint64_t rnd_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

/*
 * Random headers and used lengths, biased towards the edges: parse must
 * never read past buf_len (the buffer sits against a guard page), and
 * every success must satisfy the framing invariants.
 */
static void test_parse_random(void **state)
{
	long pg = sysconf(_SC_PAGESIZE);
	size_t span = 2 * (size_t)pg;
	uint8_t *map = mmap(NULL, span + (size_t)pg, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	static const uint32_t sizes[] = { 0, 1, 7, 8, 40, 511, 512, 513,
					  4095, 4096, 4097, 0xffffffffu };
	struct vu_msg m;
	enum vvu_msg_kind k;
	size_t len;

	(void)state;
	assert_true(map != MAP_FAILED);
	assert_int_equal(mprotect(map + span, (size_t)pg, PROT_NONE), 0);
	for (int i = 0; i < 200000; i++) {
		uint64_t r = rnd();
		size_t buf_len = (size_t)(r % (VVU_RXBUF_SIZE + 1));
		uint8_t *buf = map + span - buf_len;	/* ends at the guard */
		struct vu_msg_hdr h = { (uint32_t)rnd(), (uint32_t)rnd(),
					(r >> 20) & 1 ? sizes[(r >> 24) % 12]
						      : (uint32_t)rnd() };
		size_t used = (r >> 21) & 1 ? VVU_HDR_SIZE + (size_t)h.size
					    : (size_t)(rnd() % (2 * VVU_RXBUF_SIZE));
		uint32_t max = (r >> 22) & 1 ? 4096 : (uint32_t)rnd();
		int rc;

		if (buf_len >= sizeof(h))
			memcpy(buf, &h, sizeof(h));
		rc = vvu_msg_parse(buf, buf_len, used, max, &m, &len, &k);
		if (rc == 0) {
			assert_true(buf_len >= VVU_HDR_SIZE);
			assert_int_equal(len, used);
			assert_int_equal(len, VVU_HDR_SIZE + m.hdr.size);
			assert_true(m.hdr.size <= max && m.hdr.size <= VU_MAX_PAYLOAD);
			assert_true(used <= buf_len);
			assert_int_equal(m.hdr.flags & VVU_F_BACKEND_CHANNEL, 0);
		} else {
			assert_true(rc == -EPROTO || rc == -EMSGSIZE);
		}
	}
	munmap(map, span + (size_t)pg);
}

static void test_build(void **state)
{
	uint8_t in[64], out[64];
	struct vu_msg_hdr h;
	size_t n;

	(void)state;
	n = put_msg(in, VU_GET_FEATURES, VU_VERSION | VU_FLAG_REPLY, 8, 0x11);
	assert_int_equal(vvu_msg_build(in, n, 4096, false, out, sizeof(out)), (int)n);
	assert_memory_equal(in, out, n);
	assert_int_equal(vvu_msg_build(in, n, 4096, true, out, sizeof(out)), (int)n);
	memcpy(&h, out, sizeof(h));
	assert_int_equal(h.flags, VU_VERSION | VU_FLAG_REPLY | VVU_F_BACKEND_CHANNEL);
	/* Length and header disagree; too short; bad version; bit 31 smuggled. */
	assert_int_equal(vvu_msg_build(in, n - 1, 4096, false, out, sizeof(out)), -EINVAL);
	assert_int_equal(vvu_msg_build(in, 11, 4096, false, out, sizeof(out)), -EINVAL);
	put_msg(in, 1, 2, 8, 0);
	assert_int_equal(vvu_msg_build(in, n, 4096, false, out, sizeof(out)), -EINVAL);
	put_msg(in, 1, VU_VERSION | VVU_F_BACKEND_CHANNEL, 8, 0);
	assert_int_equal(vvu_msg_build(in, n, 4096, false, out, sizeof(out)), -EINVAL);
	/* Over max_msg_size or the txq buffer. */
	put_msg(in, 1, VU_VERSION, 8, 0);
	assert_int_equal(vvu_msg_build(in, n, 4, false, out, sizeof(out)), -EMSGSIZE);
	assert_int_equal(vvu_msg_build(in, n, 4096, false, out, n - 1), -EMSGSIZE);
}

/*
 * The backlog of replies a full txq could not take: in order, framed as
 * vvu_msg_build frames them, bounded by VVU_BACKLOG_MAX, and cleared for
 * the next frontend.
 */
static void test_backlog(void **state)
{
	struct vvu_backlog b = { 0 };
	uint8_t in[64];
	const uint8_t *m;
	struct vu_msg_hdr h;
	size_t n, len;

	(void)state;
	assert_null(vvu_backlog_peek(&b, &len));
	for (unsigned int i = 0; i < VVU_BACKLOG_MAX; i++) {
		n = put_msg(in, VU_GET_FEATURES, VU_VERSION | VU_FLAG_REPLY, 8, (uint8_t)i);
		assert_int_equal(vvu_backlog_push(&b, in, n, 4096, i == 1), 0);
	}
	assert_int_equal(vvu_backlog_push(&b, in, n, 4096, false), -ENOBUFS);
	for (unsigned int i = 0; i < 3; i++) {
		m = vvu_backlog_peek(&b, &len);
		assert_non_null(m);
		assert_int_equal(len, n);
		memcpy(&h, m, sizeof(h));
		assert_int_equal(h.flags, VU_VERSION | VU_FLAG_REPLY |
				 (i == 1 ? VVU_F_BACKEND_CHANNEL : 0));
		assert_int_equal(m[VVU_HDR_SIZE], (uint8_t)i);	/* in order */
		vvu_backlog_pop(&b);
	}
	/* Room again, and the ring wraps. */
	for (unsigned int i = 0; i < 3; i++)
		assert_int_equal(vvu_backlog_push(&b, in, n, 4096, false), 0);
	assert_int_equal(b.count, VVU_BACKLOG_MAX);
	/* A message vvu_msg_build refuses is refused here too. */
	vvu_backlog_clear(&b);
	assert_null(vvu_backlog_peek(&b, &len));
	assert_int_equal(vvu_backlog_push(&b, in, n - 1, 4096, false), -EINVAL);
	assert_int_equal(b.count, 0);
	vvu_backlog_free(&b);
}

/* ---------------- BAR translation through vu_dev ---------------- */

#define SHM_LEN (1u << 20)
#define MAXQ 4u

struct fakedev {
	uint8_t *shm;			/* BAR 2 */
	uint8_t bar0[0x1004];		/* doorbells at 0, notification at 0x1000 */
	struct vvu_hw hw;
	struct vvu_tport t;
	struct vu_dev d;
	uint8_t sent[64][32];
	size_t sent_len[64];
	unsigned int nsent;
	int vfd_calls;
	uint8_t logcfg[24];		/* config log_gen .. log_size (spec 2) */
};

static int fake_send(void *arg, const void *buf, size_t len)
{
	struct fakedev *f = arg;

	assert_true(len <= sizeof(f->sent[0]));
	assert_true(f->nsent < 64);
	memcpy(f->sent[f->nsent], buf, len);
	f->sent_len[f->nsent++] = len;
	return 0;
}

static int fake_vector_fd(void *arg, unsigned int v)
{
	struct fakedev *f = arg;

	f->vfd_calls++;
	return 100 + (int)v;
}

static int fake_setup(void **state)
{
	struct fakedev *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	/* A guard page after the window: touching past it would fault. */
	f->shm = mmap(NULL, SHM_LEN + 4096, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(f->shm != MAP_FAILED);
	assert_int_equal(mprotect(f->shm + SHM_LEN, 4096, PROT_NONE), 0);
	f->hw = (struct vvu_hw){
		.shm = f->shm, .shm_len = SHM_LEN,
		.doorbell = f->bar0, .doorbell_mult = 4,
		.n_doorbells = 2 * MAXQ + 1,
		.notif = f->bar0 + 0x1000,
		.max_vhost_queues = MAXQ, .max_msg_size = 4096,
		.n_vectors = MAXQ + 3, .first_kick_vector = 3,
	};
	assert_int_equal(vvu_tport_init(&f->t, "fake", &f->hw), 0);
	f->t.send = fake_send;
	f->t.send_arg = f;
	f->t.vector_fd = fake_vector_fd;
	f->t.vector_arg = f;
	vu_dev_init(&f->d, "fake", &vvu_transport_ops, &f->t, NULL, NULL,
		    1ull << VU_F_VERSION_1, 1);
	*state = f;
	return 0;
}

static int fake_teardown(void **state)
{
	struct fakedev *f = *state;

	vu_dev_disconnect(&f->d);
	munmap(f->shm, SHM_LEN + 4096);
	free(f);
	return 0;
}

static int handle(struct fakedev *f, struct vu_msg *m)
{
	return vu_dev_handle(&f->d, m, VVU_HDR_SIZE + m->hdr.size, NULL, 0);
}

static void mem_table(struct vu_msg *m, unsigned int n, const uint64_t (*reg)[4])
{
	memset(m, 0, sizeof(*m));
	m->hdr.request = VU_SET_MEM_TABLE;
	m->hdr.flags = VU_VERSION;
	m->hdr.size = 8 + 32 * n;
	m->p.mem.nregions = n;
	for (unsigned int i = 0; i < n; i++) {
		m->p.mem.r[i].gpa = reg[i][0];
		m->p.mem.r[i].size = reg[i][1];
		m->p.mem.r[i].uva = reg[i][2];
		m->p.mem.r[i].mmap_offset = reg[i][3];
	}
}

static void test_shm_ptr(void **state)
{
	struct fakedev *f = *state;
	const struct vvu_hw *hw = &f->t.hw;

	(void)state;
	assert_ptr_equal(vvu_shm_ptr(hw, 0, SHM_LEN), f->shm);
	assert_ptr_equal(vvu_shm_ptr(hw, SHM_LEN - 1, 1), f->shm + SHM_LEN - 1);
	assert_null(vvu_shm_ptr(hw, SHM_LEN - 1, 2));
	assert_null(vvu_shm_ptr(hw, SHM_LEN, 1));
	assert_null(vvu_shm_ptr(hw, 0, SHM_LEN + 1));
	assert_null(vvu_shm_ptr(hw, 0, 0));
	assert_null(vvu_shm_ptr(hw, UINT64_MAX, 1));
	assert_null(vvu_shm_ptr(hw, 4096, UINT64_MAX - 4095));	/* wraps to 0 */
	assert_null(vvu_shm_ptr(hw, UINT64_MAX - 10, 20));
}

static void test_map_regions(void **state)
{
	struct fakedev *f = *state;
	const uint64_t regs[2][4] = {
		{ 0x0, 0xa0000, 0x7f0000000000, 0x0 },
		{ 0x100000, 0x40000, 0x7f0000100000, 0xa0000 + 0x1234 },
	};
	struct vu_msg m;
	uint64_t len = 16;
	uint8_t *p;

	mem_table(&m, 2, regs);
	assert_int_equal(handle(f, &m), 0);
	assert_int_equal(f->d.mem.nregions, 2);
	p = vu_mem_gpa(&f->d.mem, 0x100010, &len);
	assert_ptr_equal(p, f->shm + 0xa1234 + 0x10);
	assert_int_equal(len, 16);
	p = vu_mem_uva(&f->d.mem, 0x7f0000000000 + 0x9ffff, &len);
	assert_ptr_equal(p, f->shm + 0x9ffff);
	assert_int_equal(len, 1);	/* capped to the region */
	/* A region that ends exactly at the end of the BAR is fine. */
	const uint64_t edge[1][4] = { { 0, 0x1000, 0x1000, SHM_LEN - 0x1000 } };

	mem_table(&m, 1, edge);
	assert_int_equal(handle(f, &m), 0);
	assert_int_equal(f->d.mem.nregions, 1);
	p = vu_mem_gpa(&f->d.mem, 0xfff, &len);
	assert_ptr_equal(p, f->shm + SHM_LEN - 1);
	*p = 1;
}

static void test_map_hostile(void **state)
{
	struct fakedev *f = *state;
	/* gpa, size, uva, BAR offset: each must be refused. */
	static const uint64_t bad[][4] = {
		{ 0, 0x1000, 0x1000, SHM_LEN },			/* starts at the end */
		{ 0, 0x1001, 0x1000, SHM_LEN - 0x1000 },	/* one byte over */
		{ 0, SHM_LEN + 1, 0x1000, 0 },			/* larger than BAR */
		{ 0, 0x1000, 0x1000, UINT64_MAX - 0xfff },	/* offset + size wraps */
		{ 0, 0x2000, 0x1000, UINT64_MAX - 0xfff },
		{ 0, UINT64_MAX, 0, 1 },			/* huge */
		{ 0, 0x1000, 0x1000, 1ull << 63 },
	};
	const uint64_t good[1][4] = { { 0x10000, 0x1000, 0x2000, 0 } };
	struct vu_msg m;
	uint64_t len;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		mem_table(&m, 1, &bad[i]);
		f->t.refused = 0;
		/* Refused, connection kept or dropped, never mapped. */
		(void)handle(f, &m);
		assert_int_equal(f->d.mem.nregions, 0);
	}
	/* One bad region among good ones: the whole table is refused. */
	const uint64_t mixed[2][4] = {
		{ 0x0, 0x1000, 0x1000, 0 },
		{ 0x10000, 0x1000, 0x9000, SHM_LEN - 0x800 },
	};
	mem_table(&m, 2, mixed);
	(void)handle(f, &m);
	assert_int_equal(f->d.mem.nregions, 0);
	assert_true(f->t.refused > 0);
	/* A good table after all that works, and the old one stays on failure. */
	mem_table(&m, 1, good);
	assert_int_equal(handle(f, &m), 0);
	assert_int_equal(f->d.mem.nregions, 1);
	mem_table(&m, 1, &bad[1]);
	(void)handle(f, &m);
	assert_int_equal(f->d.mem.nregions, 1);
	len = 1;
	assert_ptr_equal(vu_mem_gpa(&f->d.mem, 0x10000, &len), f->shm);
}

static void test_add_mem_reg_hostile(void **state)
{
	struct fakedev *f = *state;
	struct vu_msg m;

	/* Negotiate CONFIGURE_MEM_SLOTS first. */
	memset(&m, 0, sizeof(m));
	m.hdr = (struct vu_msg_hdr){ VU_SET_PROTOCOL_FEATURES, VU_VERSION, 8 };
	m.p.u64 = 1ull << VU_PF_CONFIGURE_MEM_SLOTS;
	assert_int_equal(handle(f, &m), 0);

	memset(&m, 0, sizeof(m));
	m.hdr = (struct vu_msg_hdr){ VU_ADD_MEM_REG, VU_VERSION, 40 };
	m.p.memreg.r = (struct vu_region_wire){ 0x0, 0x2000, 0x5000, SHM_LEN - 0x1000 };
	(void)handle(f, &m);
	assert_int_equal(f->d.mem.nregions, 0);
	m.p.memreg.r.mmap_offset = SHM_LEN - 0x2000;
	assert_int_equal(handle(f, &m), 0);
	assert_int_equal(f->d.mem.nregions, 1);
	assert_ptr_equal(f->d.mem.r[0].hva, f->shm + SHM_LEN - 0x2000);

	/* REM_MEM_REG with the device's "no match" offset: nothing to unmap. */
	m.hdr.request = VU_REM_MEM_REG;
	m.p.memreg.r = (struct vu_region_wire){ 0x0, 0x2000, 0x5000, UINT64_MAX };
	assert_int_equal(handle(f, &m), 0);
	assert_int_equal(f->d.mem.nregions, 0);
}

static void test_doorbells(void **state)
{
	struct fakedev *f = *state;
	const uint32_t *db = (const uint32_t *)(const void *)f->bar0;

	memset(f->bar0, 0, sizeof(f->bar0));
	vvu_transport_ops.signal(&f->t, VU_FD_CALL, 1);
	assert_int_equal(db[1], 1);
	vvu_transport_ops.signal(&f->t, VU_FD_ERR, 2);
	assert_int_equal(db[MAXQ + 2], 1);
	/* Out of range: no write anywhere. */
	memset(f->bar0, 0, sizeof(f->bar0));
	vvu_transport_ops.signal(&f->t, VU_FD_CALL, MAXQ);
	vvu_transport_ops.signal(&f->t, VU_FD_ERR, MAXQ);
	vvu_transport_ops.signal(&f->t, VU_FD_CALL, 0xffffffffu);
	vvu_transport_ops.signal(&f->t, VU_FD_KICK, 0);
	for (size_t i = 0; i < sizeof(f->bar0); i++)
		assert_int_equal(f->bar0[i], 0);
	/* A device whose window holds fewer doorbells than queues. */
	f->t.hw.n_doorbells = 2;
	vvu_transport_ops.signal(&f->t, VU_FD_CALL, 3);
	vvu_transport_ops.signal(&f->t, VU_FD_ERR, 0);
	for (size_t i = 0; i < sizeof(f->bar0); i++)
		assert_int_equal(f->bar0[i], 0);
	assert_int_equal(f->t.doorbells, 2);
}

static void test_kick_vectors(void **state)
{
	struct fakedev *f = *state;
	volatile uint16_t *sel = (volatile uint16_t *)(void *)(f->bar0 + 0x1000);
	volatile uint16_t *vec = (volatile uint16_t *)(void *)(f->bar0 + 0x1002);

	/* Polling by default: KICK leaves the vector unset, no kick fd. */
	assert_int_equal(vvu_transport_ops.set_vring_fd(&f->t, VU_FD_KICK, 1, -1), 0);
	assert_int_equal(vvu_transport_ops.kick_fd(&f->t, 1), -1);
	f->t.use_kick_vectors = true;
	assert_int_equal(vvu_transport_ops.set_vring_fd(&f->t, VU_FD_KICK, 1, -1), 0);
	assert_int_equal(*sel, 1);
	assert_int_equal(*vec, 4);
	assert_int_equal(vvu_transport_ops.kick_fd(&f->t, 1), 104);
	/* More vrings than kick vectors: they share. */
	f->t.hw.n_vectors = 5;
	assert_int_equal(vvu_transport_ops.set_vring_fd(&f->t, VU_FD_KICK, 3, -1), 0);
	assert_int_equal(*vec, 4);
	/* Index beyond the device. */
	assert_int_equal(vvu_transport_ops.set_vring_fd(&f->t, VU_FD_KICK, MAXQ, -1), -EINVAL);
	assert_int_equal(vvu_transport_ops.kick_fd(&f->t, MAXQ), -1);
	assert_int_equal(vvu_transport_ops.kick_fd(&f->t, 100000), -1);
	/* Vector beyond the table: stored as no vector. */
	assert_int_equal(vvu_set_kick_vector(&f->t, 0, 77), VVU_NO_VECTOR);
	assert_int_equal(*vec, VVU_NO_VECTOR);
	vvu_clear_kick_vectors(&f->t);
	assert_int_equal(vvu_transport_ops.kick_fd(&f->t, 1), -1);
}

static void test_replies_go_out(void **state)
{
	struct fakedev *f = *state;
	struct vu_msg m;
	struct vu_msg_hdr h;

	memset(&m, 0, sizeof(m));
	m.hdr = (struct vu_msg_hdr){ VU_GET_FEATURES, VU_VERSION, 0 };
	assert_int_equal(handle(f, &m), 0);
	assert_int_equal(f->nsent, 1);
	assert_int_equal(f->sent_len[0], 20);
	memcpy(&h, f->sent[0], sizeof(h));
	assert_int_equal(h.request, VU_GET_FEATURES);
	assert_int_equal(h.flags, VU_VERSION | VU_FLAG_REPLY);
}

static void test_tport_init_refuses(void **state)
{
	struct vvu_tport t;
	uint8_t b[64];
	struct vvu_hw hw = { .shm = b, .shm_len = 64, .doorbell = b,
			     .doorbell_mult = 4, .n_doorbells = 3,
			     .max_vhost_queues = 1 };

	(void)state;
	assert_int_equal(vvu_tport_init(&t, "x", &hw), 0);
	hw.shm_len = 0;
	assert_int_equal(vvu_tport_init(&t, "x", &hw), -EINVAL);
	hw.shm_len = 64;
	hw.doorbell_mult = 2;
	assert_int_equal(vvu_tport_init(&t, "x", &hw), -EINVAL);
	hw.doorbell_mult = 4;
	hw.max_vhost_queues = 0;
	assert_int_equal(vvu_tport_init(&t, "x", &hw), -EINVAL);
	hw.max_vhost_queues = 257;
	assert_int_equal(vvu_tport_init(&t, "x", &hw), -EINVAL);
}

/* ---------------- ring: driver side vs our device side ---------------- */

#define RBASE 0x40000000ull	/* the "IOVA" of ring memory */
#define RMEM ((size_t)64 * 4096)

struct rpair {
	int fd;
	uint8_t *drv, *dev;	/* the same pages at two addresses */
	struct vu_mem vm;
	struct vvu_ring r;
	struct vq vq;
};

static void rpair_open(struct rpair *p, uint16_t size)
{
	struct vu_mem_region reg = { .gpa = RBASE, .size = RMEM, .uva = RBASE };

	p->fd = memfd_create("vvu-ring", 0);
	assert_true(p->fd >= 0);
	assert_int_equal(ftruncate(p->fd, (off_t)RMEM), 0);
	p->drv = mmap(NULL, RMEM, PROT_READ | PROT_WRITE, MAP_SHARED, p->fd, 0);
	p->dev = mmap(NULL, RMEM, PROT_READ | PROT_WRITE, MAP_SHARED, p->fd, 0);
	assert_true(p->drv != MAP_FAILED && p->dev != MAP_FAILED);
	reg.hva = p->dev;
	vu_mem_init(&p->vm);
	assert_int_equal(vu_mem_insert(&p->vm, &reg), 0);
	assert_int_equal(vvu_ring_init(&p->r, size, p->drv, RBASE), 0);
	memset(&p->vq, 0, sizeof(p->vq));
	assert_int_equal(vq_setup(&p->vq, &p->vm, size, p->r.desc_iova,
				  p->r.avail_iova, p->r.used_iova, 0, false,
				  false), 0);
}

static void rpair_close(struct rpair *p)
{
	munmap(p->drv, RMEM);
	munmap(p->dev, RMEM);
	close(p->fd);
}

/* Buffers live after the ring: buffer i at RMEM/2 + i * 4 KiB. */
static uint64_t buf_iova(unsigned int i)
{
	return RBASE + RMEM / 2 + (uint64_t)i * 4096;
}

static void test_ring_roundtrip(void **state)
{
	struct rpair p;
	struct vq_chain c;
	void *cookie;
	uint32_t len;

	(void)state;
	assert_true(vvu_ring_mem_size(128) <= RMEM / 2);
	rpair_open(&p, 8);
	/* Fill, device takes and returns each with a length, for several laps. */
	for (unsigned int lap = 0; lap < 5; lap++) {
		for (unsigned int i = 0; i < 8; i++)
			assert_int_equal(vvu_ring_add(&p.r, buf_iova(i), 4096, true,
						      (void *)(uintptr_t)(i + 1)), 0);
		assert_int_equal(vvu_ring_add(&p.r, buf_iova(0), 1, true, NULL), -ENOSPC);
		assert_true(vvu_ring_kick_needed(&p.r));
		assert_int_equal(vvu_ring_get_used(&p.r, &cookie, &len), 0);
		for (unsigned int i = 0; i < 8; i++) {
			assert_int_equal(vq_pop(&p.vq, &c), 1);
			assert_int_equal(c.n_in, 1);
			assert_int_equal(c.in_len, 4096);
			assert_ptr_equal(c.iov[0].base, p.dev + RMEM / 2 + (size_t)i * 4096);
			vq_push(&p.vq, c.head, 100 + i);
		}
		vq_publish(&p.vq);
		for (unsigned int i = 0; i < 8; i++) {
			assert_int_equal(vvu_ring_get_used(&p.r, &cookie, &len), 1);
			assert_ptr_equal(cookie, (void *)(uintptr_t)(i + 1));
			assert_int_equal(len, 100 + i);
		}
		assert_int_equal(vvu_ring_get_used(&p.r, &cookie, &len), 0);
		assert_int_equal(vvu_ring_in_flight(&p.r), 0);
	}
	/* Readable buffers come back with length 0 whatever the device says. */
	assert_int_equal(vvu_ring_add(&p.r, buf_iova(1), 20, false, &p), 0);
	assert_int_equal(vq_pop(&p.vq, &c), 1);
	assert_int_equal(c.n_out, 1);
	assert_int_equal(c.out_len, 20);
	vq_push(&p.vq, c.head, 999);
	vq_publish(&p.vq);
	assert_int_equal(vvu_ring_get_used(&p.r, &cookie, &len), 1);
	assert_ptr_equal(cookie, &p);
	assert_int_equal(len, 0);
	assert_false(p.r.broken);
	rpair_close(&p);
}

/* A hostile device writing the used ring by hand. */
static void used_put(struct rpair *p, uint16_t slot, uint32_t id, uint32_t len,
		     uint16_t idx)
{
	volatile struct vring_used *u = p->r.used;

	u->ring[slot & (p->r.size - 1)].id = id;
	u->ring[slot & (p->r.size - 1)].len = len;
	u->idx = idx;
}

static void test_ring_hostile_device(void **state)
{
	struct rpair p;
	void *cookie;
	uint32_t len;

	(void)state;
	struct { uint32_t id, len; uint16_t idx; } bad[] = {
		{ 8, 10, 1 },		/* id beyond the ring */
		{ 0xffffffffu, 10, 1 },
		{ 3, 10, 1 },		/* id never posted */
		{ 0, 4097, 1 },		/* longer than the buffer */
		{ 0, 10, 3 },		/* more used than in flight */
		{ 0, 10, 0x8000 },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rpair_open(&p, 8);
		/* ids 0 and 1 posted (LIFO free list gives 0 first). */
		assert_int_equal(vvu_ring_add(&p.r, buf_iova(0), 4096, true, &p), 0);
		assert_int_equal(vvu_ring_add(&p.r, buf_iova(1), 4096, true, &p), 0);
		used_put(&p, 0, bad[i].id, bad[i].len, bad[i].idx);
		assert_int_equal(vvu_ring_get_used(&p.r, &cookie, &len), -EIO);
		assert_true(p.r.broken);
		assert_true(p.r.why[0] != '\0');
		/* Broken stays broken; adding is refused too. */
		assert_int_equal(vvu_ring_get_used(&p.r, &cookie, &len), -EIO);
		assert_int_equal(vvu_ring_add(&p.r, buf_iova(2), 1, true, &p), -EIO);
		rpair_close(&p);
	}
	/* The same id twice: the second is refused. */
	rpair_open(&p, 8);
	assert_int_equal(vvu_ring_add(&p.r, buf_iova(0), 4096, true, &p), 0);
	assert_int_equal(vvu_ring_add(&p.r, buf_iova(1), 4096, true, &p), 0);
	used_put(&p, 0, 0, 5, 1);
	assert_int_equal(vvu_ring_get_used(&p.r, &cookie, &len), 1);
	used_put(&p, 1, 0, 5, 2);
	assert_int_equal(vvu_ring_get_used(&p.r, &cookie, &len), -EIO);
	rpair_close(&p);
}

static void test_ring_init_refuses(void **state)
{
	struct vvu_ring r;
	static uint8_t mem[3 * 4096] __attribute__((aligned(4096)));

	(void)state;
	assert_int_equal(vvu_ring_init(&r, 0, mem, 0), -EINVAL);
	assert_int_equal(vvu_ring_init(&r, 3, mem, 0), -EINVAL);
	assert_int_equal(vvu_ring_init(&r, 512, mem, 0), -EINVAL);
	assert_int_equal(vvu_ring_init(&r, 4, mem + 8, 0), -EINVAL);
	assert_int_equal(vvu_ring_init(&r, 4, mem, 0x10), -EINVAL);
	assert_int_equal(vvu_ring_init(&r, 4, mem, 0x1000), 0);
	assert_int_equal(r.used_iova - r.desc_iova, 4096);
}

/* ---------------- the dirty log window (spec 6.4) ---------------- */

static void put_le(uint8_t *b, uint64_t v, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		b[i] = (uint8_t)(v >> (8 * i));
}

/* What the device's config says about its current log. */
static void set_log_cfg(struct fakedev *f, uint32_t gen, uint64_t off, uint64_t size)
{
	put_le(f->logcfg, gen, 4);
	put_le(f->logcfg + 8, off, 8);
	put_le(f->logcfg + 16, size, 8);
}

static int send_u64(struct fakedev *f, uint32_t req, uint64_t v)
{
	struct vu_msg m;

	memset(&m, 0, sizeof(m));
	m.hdr.request = req;
	m.hdr.flags = VU_VERSION;
	m.hdr.size = 8;
	m.p.u64 = v;
	return handle(f, &m);
}

static int send_log_base(struct fakedev *f, uint64_t size, uint64_t off)
{
	struct vu_msg m;

	memset(&m, 0, sizeof(m));
	m.hdr.request = VU_SET_LOG_BASE;
	m.hdr.flags = VU_VERSION;
	m.hdr.size = 16;
	m.p.log.size = size;
	m.p.log.offset = off;
	return handle(f, &m);
}

/* A device with a log window: the transport gets map_log, vu_dev offers logging. */
static void log_window_dev(struct fakedev *f)
{
	vu_dev_disconnect(&f->d);
	f->hw.log_cfg = f->logcfg;
	assert_int_equal(vvu_tport_init(&f->t, "fake", &f->hw), 0);
	f->t.send = fake_send;
	f->t.send_arg = f;
	assert_ptr_equal(vvu_tport_ops(&f->t), &vvu_transport_ops_log);
	vu_dev_init(&f->d, "fake", vvu_tport_ops(&f->t), &f->t, NULL, NULL,
		    1ull << VU_F_VERSION_1, 1);
	assert_int_equal(send_u64(f, VU_SET_FEATURES, (1ull << VU_F_VERSION_1) |
				  (1ull << VU_F_PROTOCOL_FEATURES)), 0);
	assert_int_equal(send_u64(f, VU_SET_PROTOCOL_FEATURES,
				  1ull << VU_PF_LOG_SHMFD), 0);
}

static void test_log_window(void **state)
{
	struct fakedev *f = *state;
	/* 256 KiB of guest memory at BAR offset 0: a log needs 8 bytes. */
	const uint64_t regs[1][4] = { { 0, 0x40000, 0x7f0000000000, 0 } };
	struct vu_msg m;

	/* Without a window there is no map_log and nothing to offer. */
	assert_ptr_equal(vvu_tport_ops(&f->t), &vvu_transport_ops);
	assert_false((f->d.offered >> VHOST_F_LOG_ALL) & 1);
	assert_false((f->d.offered_proto >> VU_PF_LOG_SHMFD) & 1);

	log_window_dev(f);
	assert_true((f->d.offered >> VHOST_F_LOG_ALL) & 1);
	assert_true((f->d.offered_proto >> VU_PF_LOG_SHMFD) & 1);
	mem_table(&m, 1, regs);
	assert_int_equal(handle(f, &m), 0);

	/* The log the device says is current: mapped at its BAR offset. */
	set_log_cfg(f, 1, 0x80000, 12);
	assert_int_equal(send_log_base(f, 12, 0x80000), 0);
	assert_ptr_equal(f->d.log.bits, f->shm + 0x80000);
	assert_int_equal(f->d.log.len, 12);
	assert_int_equal(f->t.log_gen, 1);

	/* Replaced: the new log takes over at once, the old is only forgotten. */
	set_log_cfg(f, 2, 0x90000 + 8, 4096);
	assert_int_equal(send_log_base(f, 4096, 0x90000 + 8), 0);
	assert_ptr_equal(f->d.log.bits, f->shm + 0x90008);
	assert_int_equal(f->t.log_gen, 2);
	assert_int_equal(f->d.log_bases, 2);

	/* A log edge to edge with the window's end is fine. */
	set_log_cfg(f, 3, SHM_LEN - 4096, 4096);
	assert_int_equal(send_log_base(f, 4096, SHM_LEN - 4096), 0);
	f->d.log.bits[4095] |= 1;
}

static void test_log_window_hostile(void **state)
{
	struct fakedev *f = *state;
	const uint64_t regs[1][4] = { { 0, 0x40000, 0x7f0000000000, 0 } };
	static const uint64_t bad[][2] = {	/* size, BAR offset, as delivered */
		{ 4096, SHM_LEN },		/* starts at the end */
		{ 4097, SHM_LEN - 4096 },	/* one byte over */
		{ 8, UINT64_MAX - 3 },		/* wraps */
		{ SHM_LEN + 1, 0 },		/* larger than the window */
	};
	struct vu_msg m;

	log_window_dev(f);
	mem_table(&m, 1, regs);
	assert_int_equal(handle(f, &m), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t refused = f->t.refused;

		/* Even with config agreeing, the window bounds it. */
		set_log_cfg(f, 10 + (uint32_t)i, bad[i][1], bad[i][0]);
		assert_int_not_equal(send_log_base(f, bad[i][0], bad[i][1]), 0);
		assert_null(f->d.log.bits);
		/* vu_dev refuses a wrapping offset itself; the rest reach the transport */
		assert_true(f->t.refused > refused || bad[i][1] > INT64_MAX);
	}
	/* A log the device does not call current (a frontend that sent another behind it). */
	set_log_cfg(f, 20, 0x80000, 4096);
	assert_int_not_equal(send_log_base(f, 4096, 0x81000), 0);
	assert_int_not_equal(send_log_base(f, 8192, 0x80000), 0);
	assert_null(f->d.log.bits);
	assert_non_null(strstr(f->t.last_error, "not the device's current"));
	/* The good one still works afterwards. */
	assert_int_equal(send_log_base(f, 4096, 0x80000), 0);
	assert_ptr_equal(f->d.log.bits, f->shm + 0x80000);
	/* Too small for the memory (vu_dev's own check): refused before the transport. */
	set_log_cfg(f, 21, 0x90000, 4);
	assert_int_not_equal(send_log_base(f, 4, 0x90000), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_hostile),
		cmocka_unit_test(test_parse_untouched_on_error),
		cmocka_unit_test(test_parse_random),
		cmocka_unit_test(test_build),
		cmocka_unit_test(test_backlog),
		cmocka_unit_test_setup_teardown(test_shm_ptr, fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(test_map_regions, fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(test_map_hostile, fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(test_add_mem_reg_hostile, fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(test_doorbells, fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(test_kick_vectors, fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(test_replies_go_out, fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(test_log_window, fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(test_log_window_hostile, fake_setup, fake_teardown),
		cmocka_unit_test(test_tport_init_refuses),
		cmocka_unit_test(test_ring_roundtrip),
		cmocka_unit_test(test_ring_hostile_device),
		cmocka_unit_test(test_ring_init_refuses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
