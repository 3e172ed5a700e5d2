/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the vhost-user protocol code (drivers/vhost/vu_dev.c),
 * driven directly through an in-memory transport (ttransport.c) that maps
 * the frontend's memfds for real.  The frontend here is hostile on
 * purpose: wrong sizes, wrong fd counts, bad indices, bad regions, and
 * 10000 seeded random messages; every case checks the connection is
 * dropped or the request refused as the vhost-user spec and our table say,
 * and that no fd or mapping is left behind.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "ttransport.h"
#include "vlog.h"
#include "vq.h"
#include "vu_dev.h"

#define V	VU_VERSION
#define NR	(VU_VERSION | VU_FLAG_NEED_REPLY)

#define PROTO_ALL ((1ull << VU_PF_REPLY_ACK) | (1ull << VU_PF_CONFIGURE_MEM_SLOTS) | \
		   (1ull << VU_PF_MQ) | (1ull << VU_PF_MTU))

#define UVA_BASE 0x7f0000000000ull
#define GPA_BASE 0x100000ull
#define RING_NUM 256

static const uint64_t offered_features =
	(1ull << VU_F_VERSION_1) | (1ull << VU_F_NET_MRG_RXBUF) |
	(1ull << VU_F_RING_EVENT_IDX) | (1ull << VU_F_RING_INDIRECT_DESC) |
	(1ull << VU_F_NET_MQ);

struct fixture {
	struct tt t;
	struct vu_dev d;
	int fds_before;
	unsigned int changes;
	uint8_t *guest0;	/* the test's own view of region 0 */
	size_t guest0_len;
};

static struct fixture F;

static void on_vring_changed(void *arg, unsigned int q)
{
	(void)q;
	((struct fixture *)arg)->changes++;
}

static uint8_t rarp_mac[6];
static unsigned int rarp_calls;

static void on_rarp(void *arg, const uint8_t mac[6])
{
	(void)arg;
	memcpy(rarp_mac, mac, 6);
	rarp_calls++;
}

static const struct vu_dev_hooks hooks = { .vring_changed = on_vring_changed,
					   .send_rarp = on_rarp };

static int setup(void **state)
{
	(void)state;
	memset(&F, 0, sizeof(F));
	F.fds_before = tt_count_fds();
	tt_init(&F.t);
	vu_dev_init(&F.d, "test", &tt_ops, &F.t, &hooks, &F, offered_features, 2);
	return 0;
}

/* The connection goes away: nothing may be left open or mapped. */
static int teardown(void **state)
{
	(void)state;
	vu_dev_disconnect(&F.d);
	if (F.guest0)
		munmap(F.guest0, F.guest0_len);
	for (int k = 0; k < 3; k++)
		for (int q = 0; q < VU_MAX_VRINGS; q++)
			if (F.t.vfd[k][q] >= 0) {
				fprintf(stderr, "vring fd %d/%d left after disconnect\n", k, q);
				return -1;
			}
	if (F.t.maps) {
		fprintf(stderr, "%u mappings left after disconnect\n", F.t.maps);
		return -1;
	}
	if (tt_count_fds() != F.fds_before) {
		fprintf(stderr, "fd leak: %d before, %d after\n", F.fds_before,
			tt_count_fds());
		return -1;
	}
	return 0;
}

/* Take the one reply there must be; check its framing. */
static uint64_t reply_u64(uint32_t req)
{
	struct vu_msg m;

	assert_true(tt_take(&F.t, &m));
	assert_int_equal(m.hdr.request, req);
	assert_int_equal(m.hdr.flags, VU_VERSION | VU_FLAG_REPLY);
	assert_int_equal(m.hdr.size, 8);
	return m.p.u64;
}

static void no_reply(void)
{
	assert_int_equal(F.t.nreplies, 0);
}

/* A request with NEED_REPLY that must succeed (ack 0). */
static void ok_ack(uint32_t req, const void *p, uint32_t size, const int *fds,
		   unsigned int nfds)
{
	assert_int_equal(tt_send(&F.d, req, NR, p, size, fds, nfds), 0);
	assert_int_equal(reply_u64(req), 0);
	no_reply();
}

static void ok_ack_u64(uint32_t req, uint64_t v)
{
	ok_ack(req, &v, 8, NULL, 0);
}

static void ok_ack_state(uint32_t req, uint32_t index, uint32_t num)
{
	struct vu_vring_state s = { index, num };

	ok_ack(req, &s, 8, NULL, 0);
}

/* A well-formed request with NEED_REPLY that must be refused (ack != 0). */
static void refused_ack(uint32_t req, const void *p, uint32_t size,
			const int *fds, unsigned int nfds)
{
	uint64_t errs = F.d.msg_errors;

	assert_int_equal(tt_send(&F.d, req, NR, p, size, fds, nfds), 0);
	assert_int_not_equal(reply_u64(req), 0);
	no_reply();
	assert_int_equal(F.d.msg_errors, errs + 1);
	assert_true(F.d.last_error[0] != '\0');
}

static void dropped(uint32_t req, uint32_t flags, const void *p, uint32_t size,
		    const int *fds, unsigned int nfds)
{
	assert_true(tt_send(&F.d, req, flags, p, size, fds, nfds) < 0);
	assert_true(F.d.last_error[0] != '\0');
	no_reply();
}

/* GET_FEATURES .. SET_FEATURES as QEMU does it, REPLY_ACK on. */
static void negotiate(uint64_t proto)
{
	uint64_t f;

	assert_int_equal(tt_send(&F.d, VU_GET_FEATURES, V, NULL, 0, NULL, 0), 0);
	f = reply_u64(VU_GET_FEATURES);
	assert_true(f & (1ull << VU_F_PROTOCOL_FEATURES));
	/* Dirty logging starts only when a migration does (LOG_ALL later). */
	f &= ~(1ull << VHOST_F_LOG_ALL);
	assert_int_equal(f & offered_features, offered_features);
	assert_int_equal(tt_send(&F.d, VU_GET_PROTOCOL_FEATURES, V, NULL, 0, NULL, 0), 0);
	assert_int_equal(reply_u64(VU_GET_PROTOCOL_FEATURES) & PROTO_ALL, PROTO_ALL);
	assert_int_equal(tt_send_u64(&F.d, VU_SET_PROTOCOL_FEATURES, V, proto, NULL, 0), 0);
	no_reply();
	if (proto & (1ull << VU_PF_MQ)) {
		assert_int_equal(tt_send(&F.d, VU_GET_QUEUE_NUM, V, NULL, 0, NULL, 0), 0);
		assert_int_equal(reply_u64(VU_GET_QUEUE_NUM), 2);
	}
	if (proto & (1ull << VU_PF_CONFIGURE_MEM_SLOTS)) {
		assert_int_equal(tt_send(&F.d, VU_GET_MAX_MEM_SLOTS, V, NULL, 0, NULL, 0), 0);
		assert_true(reply_u64(VU_GET_MAX_MEM_SLOTS) >= 40);
	}
	if (proto & (1ull << VU_PF_REPLY_ACK)) {
		ok_ack(VU_SET_OWNER, NULL, 0, NULL, 0);
		ok_ack_u64(VU_SET_FEATURES, f & ~(1ull << VU_F_NET_MQ));
	} else {
		assert_int_equal(tt_send(&F.d, VU_SET_OWNER, V, NULL, 0, NULL, 0), 0);
		assert_int_equal(tt_send_u64(&F.d, VU_SET_FEATURES, V, f, NULL, 0), 0);
		no_reply();
	}
}

static struct vu_region_wire region(unsigned int i, uint64_t size)
{
	struct vu_region_wire w = {
		.gpa = GPA_BASE + i * size,
		.size = size,
		.uva = UVA_BASE + i * size,
		.mmap_offset = 0,
	};
	return w;
}

/* Keep a view of region 0's memfd, as the guest would have it. */
static void keep_guest0(int fd, size_t size)
{
	if (F.guest0)
		munmap(F.guest0, F.guest0_len);
	F.guest0 = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(F.guest0 != MAP_FAILED);
	F.guest0_len = size;
}

/* SET_MEM_TABLE with n memfd regions of size bytes each. */
static int mem_table(uint32_t flags, unsigned int n, uint64_t size)
{
	struct vu_mem_table_wire w;
	int fds[VU_MEM_TABLE_MAX];

	memset(&w, 0, sizeof(w));
	w.nregions = n;
	for (unsigned int i = 0; i < n; i++) {
		w.r[i] = region(i, size);
		fds[i] = tt_memfd(size);
		if (i == 0)
			keep_guest0(fds[0], size);
	}
	return tt_send(&F.d, VU_SET_MEM_TABLE, flags, &w,
		       (uint32_t)(8 + n * sizeof(w.r[0])), fds, n);
}

static int add_mem_reg(uint32_t flags, struct vu_region_wire r, size_t fdsize)
{
	struct vu_mem_reg_wire w = { .r = r };
	int fd = tt_memfd(fdsize);

	if (r.gpa == GPA_BASE && r.size <= fdsize)
		keep_guest0(fd, fdsize);
	return tt_send(&F.d, VU_ADD_MEM_REG, flags, &w, sizeof(w), &fd, 1);
}

static int rem_mem_reg(uint32_t flags, struct vu_region_wire r)
{
	struct vu_mem_reg_wire w = { .r = r };

	return tt_send(&F.d, VU_REM_MEM_REG, flags, &w, sizeof(w), NULL, 0);
}

/* Ring q's layout: 16 KiB per ring from the start of region 0. */
static void ring_addr(struct vu_vring_addr *a, unsigned int q)
{
	uint64_t base = UVA_BASE + q * 0x4000ull;

	memset(a, 0, sizeof(*a));
	a->index = q;
	a->desc = base;
	a->avail = base + 0x1000;
	a->used = base + 0x2000;
}

/* NUM, BASE, ADDR, KICK, CALL, ENABLE for ring q (REPLY_ACK on). */
static void ring_up(unsigned int q, uint16_t base)
{
	struct vu_vring_addr a;
	uint64_t v = q;
	int fd;

	ok_ack_state(VU_SET_VRING_NUM, q, RING_NUM);
	ok_ack_state(VU_SET_VRING_BASE, q, base);
	ring_addr(&a, q);
	/* No chain in flight: the used index is where the base says. */
	assert_non_null(F.guest0);
	memcpy(F.guest0 + (a.used - UVA_BASE) + 2, &base, 2);
	ok_ack(VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0);
	fd = tt_eventfd();
	ok_ack(VU_SET_VRING_KICK, &v, 8, &fd, 1);
	assert_int_equal(F.t.vfd[VU_FD_KICK][q], fd);
	fd = tt_eventfd();
	ok_ack(VU_SET_VRING_CALL, &v, 8, &fd, 1);
	assert_int_equal(F.t.vfd[VU_FD_CALL][q], fd);
	/* Protocol features negotiated: started but not enabled yet. */
	assert_false(vu_vring_live(&F.d, q));
	ok_ack_state(VU_SET_VRING_ENABLE, q, 1);
	assert_true(vu_vring_live(&F.d, q));
}

/* ---- the happy paths ---- */

static void test_happy_mem_table(void **state)
{
	struct vu_msg m;

	(void)state;
	negotiate(PROTO_ALL);
	assert_true(F.d.owner);
	ok_ack_u64(VU_NET_SET_MTU, 1500);
	assert_int_equal(F.d.mtu, 1500);
	assert_int_equal(mem_table(NR, 2, 1 << 20), 0);
	assert_int_equal(reply_u64(VU_SET_MEM_TABLE), 0);
	assert_int_equal(F.d.mem.nregions, 2);
	assert_int_equal(F.t.maps, 2);
	for (unsigned int q = 0; q < 4; q++)
		ring_up(q, (uint16_t)(10 + q));
	for (unsigned int q = 0; q < 4; q++)
		assert_true(vu_vring_live(&F.d, q));

	/* GET_VRING_BASE: the base back, the ring stopped, the kick gone. */
	assert_int_equal(tt_send_state(&F.d, VU_GET_VRING_BASE, V, 1, 0), 0);
	assert_true(tt_take(&F.t, &m));
	assert_int_equal(m.hdr.request, VU_GET_VRING_BASE);
	assert_int_equal(m.hdr.flags, VU_VERSION | VU_FLAG_REPLY);
	assert_int_equal(m.hdr.size, 8);
	assert_int_equal(m.p.state.index, 1);
	assert_int_equal(m.p.state.num, 11);
	assert_false(vu_vring_live(&F.d, 1));
	assert_int_equal(F.t.vfd[VU_FD_KICK][1], -1);
	assert_true(vu_vring_live(&F.d, 0));

	/* A second SET_MEM_TABLE replaces the first; live rings follow it. */
	assert_int_equal(mem_table(V, 1, 1 << 20), 0);
	assert_int_equal(F.d.mem.nregions, 1);
	assert_int_equal(F.t.maps, 1);
	assert_true(vu_vring_live(&F.d, 0));
	assert_true(F.d.vring[0].vq.desc != NULL);
}

/*
 * Packed rings: the vring base carries the avail wrap counter in bit 15,
 * QEMU sends its used index and wrap counter in bits 16-31 (accepted,
 * split refuses them), and GET_VRING_BASE answers in the same form.
 */
static void test_packed_vring_base(void **state)
{
	struct vu_vring_addr a;
	struct vu_msg m;
	uint64_t v = 0;
	int fd;

	(void)state;
	vu_dev_init(&F.d, "test", &tt_ops, &F.t, &hooks, &F,
		    offered_features | (1ull << VU_F_RING_PACKED), 2);
	negotiate(PROTO_ALL);
	assert_true(vu_has_feature(&F.d, VU_F_RING_PACKED));
	assert_int_equal(mem_table(NR, 1, 1 << 20), 0);
	assert_int_equal(reply_u64(VU_SET_MEM_TABLE), 0);
	ok_ack_state(VU_SET_VRING_NUM, 0, RING_NUM);
	ok_ack_state(VU_SET_VRING_BASE, 0, 0x80058005u);	/* 5, wrap 1 */
	ring_addr(&a, 0);
	ok_ack(VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0);
	fd = tt_eventfd();
	ok_ack(VU_SET_VRING_KICK, &v, 8, &fd, 1);
	fd = tt_eventfd();
	ok_ack(VU_SET_VRING_CALL, &v, 8, &fd, 1);
	ok_ack_state(VU_SET_VRING_ENABLE, 0, 1);
	assert_true(vu_vring_live(&F.d, 0));
	assert_true(F.d.vring[0].vq.packed);
	assert_int_equal(F.d.vring[0].vq.last_avail, 5);
	assert_true(F.d.vring[0].vq.pk.avail_wrap);

	assert_int_equal(tt_send_state(&F.d, VU_GET_VRING_BASE, V, 0, 0), 0);
	assert_true(tt_take(&F.t, &m));
	assert_int_equal(m.p.state.num, 0x80058005u);
	assert_false(vu_vring_live(&F.d, 0));

	/* Wrap counter 0, DPDK style (16 bits only). */
	ok_ack_state(VU_SET_VRING_BASE, 0, 7);
	fd = tt_eventfd();
	ok_ack(VU_SET_VRING_KICK, &v, 8, &fd, 1);
	assert_true(vu_vring_live(&F.d, 0));
	assert_false(F.d.vring[0].vq.pk.avail_wrap);
	assert_int_equal(tt_send_state(&F.d, VU_GET_VRING_BASE, V, 0, 0), 0);
	assert_true(tt_take(&F.t, &m));
	assert_int_equal(m.p.state.num, 0x00070007u);

	/* A position past the end of the ring: the ring breaks at start. */
	ok_ack_state(VU_SET_VRING_BASE, 0, RING_NUM | 0x8000);
	fd = tt_eventfd();
	ok_ack(VU_SET_VRING_KICK, &v, 8, &fd, 1);
	assert_false(vu_vring_live(&F.d, 0));
	assert_non_null(strstr(F.d.vring[0].vq.why, "base"));
}

/* The hinted translation agrees with the plain one, whatever the hint. */
static uint8_t *hinted(uint64_t gpa, unsigned int *hint)
{
	uint64_t len = 16, len2 = 16;
	uint8_t *p = vu_mem_gpa_hint(&F.d.mem, gpa, &len, hint);

	assert_ptr_equal(p, vu_mem_gpa(&F.d.mem, gpa, &len2));
	assert_int_equal(len, len2);
	if (p)
		assert_ptr_equal(p, F.d.mem.r[*hint].hva + (gpa - F.d.mem.r[*hint].gpa));
	return p;
}

/*
 * 40 regions, region 20 removed (p: region 39's byte at 8): stale hints,
 * one past the table, one on the region that slid into a removed one's
 * slot, still translate right or not at all.
 */
static void hinted_after_remove(uint8_t *p39)
{
	unsigned int hint = 39;

	assert_ptr_equal(hinted(GPA_BASE + 39 * 0x10000ull + 8, &hint), p39);
	assert_int_equal(hint, 38);
	assert_ptr_equal(hinted(GPA_BASE + 39 * 0x10000ull + 8, &hint), p39);
	hint = 20;
	assert_null(hinted(GPA_BASE + 20 * 0x10000ull + 8, &hint));
	assert_int_equal(hint, 20);
	assert_non_null(hinted(GPA_BASE + 21 * 0x10000ull, &hint));
	assert_int_equal(hint, 20);
	assert_non_null(hinted(GPA_BASE + 19 * 0x10000ull + 0xfff8, &hint));
	assert_int_equal(hint, 19);
	/* Below the first region and past the last, from either end. */
	hint = 0;
	assert_null(hinted(GPA_BASE - 1, &hint));
	hint = 38;
	assert_null(hinted(GPA_BASE + 40 * 0x10000ull, &hint));
}

static void test_happy_add_mem_reg_40(void **state)
{
	(void)state;
	negotiate(PROTO_ALL);
	for (unsigned int i = 0; i < 40; i++) {
		assert_int_equal(add_mem_reg(NR, region(i, 0x10000), 0x10000), 0);
		assert_int_equal(reply_u64(VU_ADD_MEM_REG), 0);
	}
	assert_int_equal(F.d.mem.nregions, 40);
	assert_int_equal(F.t.maps, 40);
	for (unsigned int q = 0; q < 4; q++)
		ring_up(q, 0);
	/* An address in region 39 translates into its own mapping. */
	uint64_t len = 16;
	uint8_t *p = vu_mem_gpa(&F.d.mem, GPA_BASE + 39 * 0x10000ull + 8, &len);

	assert_non_null(p);
	assert_int_equal(len, 16);
	p[0] = 0x5a;
	/* Remove a region no ring uses: rings stay live. */
	assert_int_equal(rem_mem_reg(NR, region(20, 0x10000)), 0);
	assert_int_equal(reply_u64(VU_REM_MEM_REG), 0);
	assert_int_equal(F.d.mem.nregions, 39);
	assert_int_equal(F.t.maps, 39);
	for (unsigned int q = 0; q < 4; q++)
		assert_true(vu_vring_live(&F.d, q));
	hinted_after_remove(p);
}

/* Without protocol features a ring is enabled when it starts. */
static void test_legacy_no_protocol_features(void **state)
{
	struct vu_vring_addr a;
	uint64_t v = 0;
	int fd;

	(void)state;
	assert_int_equal(tt_send_u64(&F.d, VU_SET_FEATURES, V,
				     1ull << VU_F_VERSION_1, NULL, 0), 0);
	assert_int_equal(mem_table(V, 1, 1 << 20), 0);
	assert_int_equal(tt_send_state(&F.d, VU_SET_VRING_NUM, V, 0, 64), 0);
	ring_addr(&a, 0);
	assert_int_equal(tt_send(&F.d, VU_SET_VRING_ADDR, V, &a, sizeof(a), NULL, 0), 0);
	fd = tt_eventfd();
	assert_int_equal(tt_send_u64(&F.d, VU_SET_VRING_KICK, V, v, &fd, 1), 0);
	assert_true(vu_vring_live(&F.d, 0));
	/* NEED_REPLY without REPLY_ACK negotiated: no reply at all. */
	assert_int_equal(tt_send_state(&F.d, VU_SET_VRING_NUM, NR, 1, 64), 0);
	no_reply();
	assert_int_equal(tt_send_state(&F.d, VU_SET_VRING_NUM, NR, 1, 3), 0);
	no_reply();
	assert_int_equal(F.d.msg_errors, 1);
}

/* A kick before size and address: the ring starts broken, ERR signalled. */
static void test_kick_before_layout(void **state)
{
	uint64_t v = 1 | VU_VRING_NOFD;

	(void)state;
	negotiate(PROTO_ALL);
	ok_ack(VU_SET_VRING_KICK, &v, 8, NULL, 0);
	assert_true(F.d.vring[1].started);
	assert_true(F.d.vring[1].vq.broken);
	assert_int_equal(F.t.signals[VU_FD_ERR], 1);
	ok_ack_state(VU_SET_VRING_ENABLE, 1, 1);
	assert_false(vu_vring_live(&F.d, 1));
}

/* ---- REPLY_ACK ---- */

static void test_reply_ack(void **state)
{
	(void)state;
	negotiate(PROTO_ALL);
	ok_ack_state(VU_SET_VRING_NUM, 0, 128);
	refused_ack(VU_SET_VRING_NUM, &(struct vu_vring_state){ 0, 100 }, 8, NULL, 0);
	assert_int_equal(F.d.vring[0].num, 128);
	/* No NEED_REPLY: no ack, either way. */
	assert_int_equal(tt_send_state(&F.d, VU_SET_VRING_NUM, V, 0, 64), 0);
	no_reply();
	assert_int_equal(tt_send_state(&F.d, VU_SET_VRING_NUM, V, 0, 65), 0);
	no_reply();
	/* A request that replies anyway answers once, not twice. */
	assert_int_equal(tt_send(&F.d, VU_GET_FEATURES, NR, NULL, 0, NULL, 0), 0);
	assert_true(reply_u64(VU_GET_FEATURES) & (1ull << VU_F_VERSION_1));
	no_reply();
	/* A reply that cannot be sent drops the connection. */
	F.t.send_rc = -EPIPE;
	assert_true(tt_send_state(&F.d, VU_SET_VRING_NUM, NR, 0, 64) < 0);
	F.t.send_rc = 0;
}

/* ---- framing: sizes ---- */

struct req_size {
	uint32_t req;
	uint32_t size;
	int nfds;	/* fds the request takes: 1 = a memfd/eventfd */
	bool memfd;
};

static const struct req_size sizes[] = {
	{ VU_GET_FEATURES, 0, 0, false },
	{ VU_SET_FEATURES, 8, 0, false },
	{ VU_SET_OWNER, 0, 0, false },
	{ VU_RESET_OWNER, 0, 0, false },
	{ VU_SET_MEM_TABLE, 8 + 32, 1, true },
	{ VU_SET_VRING_NUM, 8, 0, false },
	{ VU_SET_VRING_ADDR, 40, 0, false },
	{ VU_SET_VRING_BASE, 8, 0, false },
	{ VU_GET_VRING_BASE, 8, 0, false },
	{ VU_SET_VRING_KICK, 8, 1, false },
	{ VU_SET_VRING_CALL, 8, 1, false },
	{ VU_SET_VRING_ERR, 8, 1, false },
	{ VU_GET_PROTOCOL_FEATURES, 0, 0, false },
	{ VU_SET_PROTOCOL_FEATURES, 8, 0, false },
	{ VU_GET_QUEUE_NUM, 0, 0, false },
	{ VU_SET_VRING_ENABLE, 8, 0, false },
	{ VU_NET_SET_MTU, 8, 0, false },
	{ VU_GET_MAX_MEM_SLOTS, 0, 0, false },
	{ VU_ADD_MEM_REG, 40, 1, true },
	{ VU_REM_MEM_REG, 40, 0, false },
};

/* A payload that would be valid at the right size. */
static void good_payload(const struct req_size *s, uint8_t *buf)
{
	struct vu_mem_table_wire mt = { .nregions = 1 };
	struct vu_mem_reg_wire mr = { .r = region(0, 0x10000) };
	struct vu_vring_state st = { 0, 64 };
	uint64_t mtu = 1500;

	memset(buf, 0, VU_MAX_PAYLOAD);
	mt.r[0] = region(0, 0x10000);
	switch (s->req) {
	case VU_SET_MEM_TABLE:
		memcpy(buf, &mt, 8 + 32);
		break;
	case VU_ADD_MEM_REG:
	case VU_REM_MEM_REG:
		memcpy(buf, &mr, sizeof(mr));
		break;
	case VU_SET_VRING_NUM:
		memcpy(buf, &st, sizeof(st));
		break;
	case VU_NET_SET_MTU:
		memcpy(buf, &mtu, 8);
		break;
	default:
		break;
	}
}

static void test_bad_sizes(void **state)
{
	uint8_t buf[VU_MAX_PAYLOAD];

	(void)state;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		const struct req_size *s = &sizes[i];

		for (int delta = -1; delta <= 1; delta++) {
			int fd = -1, rc, before;

			if (delta < 0 && s->size == 0)
				continue;
			before = tt_count_fds();
			/* A fresh connection, every protocol feature on. */
			vu_dev_disconnect(&F.d);
			assert_int_equal(tt_send_u64(&F.d, VU_SET_PROTOCOL_FEATURES, V,
						     PROTO_ALL, NULL, 0), 0);
			good_payload(s, buf);
			if (s->nfds)
				fd = s->memfd ? tt_memfd(0x10000) : tt_eventfd();
			rc = tt_send(&F.d, s->req, NR, buf, s->size + (uint32_t)delta,
				     &fd, (unsigned int)s->nfds);
			if (delta == 0) {
				if (rc != 0)
					fail_msg("%s at its size refused: %s",
						 vu_request_name(s->req), F.d.last_error);
				while (F.t.nreplies) {
					struct vu_msg m;

					tt_take(&F.t, &m);
				}
			} else if (rc >= 0) {
				fail_msg("%s with %u bytes accepted",
					 vu_request_name(s->req), s->size + (uint32_t)delta);
			} else {
				no_reply();
			}
			vu_dev_disconnect(&F.d);
			assert_int_equal(F.t.maps, 0);
			assert_int_equal(tt_count_fds(), before);
		}
	}
}

/* The header's size must match the bytes the transport delivered. */
static void test_len_mismatch(void **state)
{
	struct vu_msg m;

	(void)state;
	memset(&m, 0, sizeof(m));
	m.hdr.request = VU_SET_FEATURES;
	m.hdr.flags = V;
	m.hdr.size = 8;
	assert_true(vu_dev_handle(&F.d, &m, sizeof(m.hdr) + 7, NULL, 0) < 0);
	assert_true(vu_dev_handle(&F.d, &m, sizeof(m.hdr) + 9, NULL, 0) < 0);
	assert_true(vu_dev_handle(&F.d, &m, 4, NULL, 0) < 0);
	assert_true(vu_dev_handle(&F.d, &m, 0, NULL, 0) < 0);
}

/* ---- framing: fds, indices, requests, flags ---- */

static void test_fd_counts(void **state)
{
	uint64_t v;
	int fds[VU_MAX_FDS + 1];
	struct vu_mem_reg_wire mr = { .r = region(0, 0x10000) };
	struct vu_mem_table_wire mt;

	(void)state;
	assert_int_equal(tt_send_u64(&F.d, VU_SET_PROTOCOL_FEATURES, V, PROTO_ALL, NULL, 0), 0);

	/* Missing fds. */
	v = 0;
	dropped(VU_SET_VRING_KICK, V, &v, 8, NULL, 0);
	dropped(VU_SET_VRING_CALL, V, &v, 8, NULL, 0);
	dropped(VU_ADD_MEM_REG, V, &mr, sizeof(mr), NULL, 0);
	memset(&mt, 0, sizeof(mt));
	mt.nregions = 2;
	mt.r[0] = region(0, 0x10000);
	mt.r[1] = region(1, 0x10000);
	fds[0] = tt_memfd(0x10000);
	dropped(VU_SET_MEM_TABLE, V, &mt, 8 + 2 * 32, fds, 1);
	dropped(VU_SET_MEM_TABLE, V, &mt, 8 + 2 * 32, NULL, 0);

	/* Extra fds. */
	fds[0] = tt_eventfd();
	fds[1] = tt_eventfd();
	dropped(VU_SET_VRING_KICK, V, &v, 8, fds, 2);
	for (int i = 0; i < 3; i++)
		fds[i] = tt_memfd(0x10000);
	dropped(VU_SET_MEM_TABLE, V, &mt, 8 + 2 * 32, fds, 3);
	fds[0] = tt_memfd(0x10000);
	fds[1] = tt_memfd(0x10000);
	dropped(VU_ADD_MEM_REG, V, &mr, sizeof(mr), fds, 2);
	/* Nine fds: more than any message may carry. */
	mt.nregions = 8;
	for (int i = 0; i < 8; i++)
		mt.r[i] = region((unsigned int)i, 0x10000);
	for (int i = 0; i < 9; i++)
		fds[i] = tt_memfd(0x10000);
	dropped(VU_SET_MEM_TABLE, V, &mt, 8 + 8 * 32, fds, 9);

	/* fds on messages that take none. */
	fds[0] = tt_eventfd();
	dropped(VU_GET_FEATURES, V, NULL, 0, fds, 1);
	fds[0] = tt_eventfd();
	dropped(VU_SET_OWNER, V, NULL, 0, fds, 1);
	fds[0] = tt_eventfd();
	dropped(VU_SET_VRING_NUM, V, &(struct vu_vring_state){ 0, 64 }, 8, fds, 1);

	/* NOFD with an fd, and no NOFD without one. */
	v = 0 | VU_VRING_NOFD;
	fds[0] = tt_eventfd();
	dropped(VU_SET_VRING_KICK, V, &v, 8, fds, 1);
	fds[0] = tt_eventfd();
	dropped(VU_SET_VRING_CALL, V, &v, 8, fds, 1);
	fds[0] = tt_eventfd();
	dropped(VU_SET_VRING_ERR, V, &v, 8, fds, 1);
	v = 0;
	dropped(VU_SET_VRING_ERR, V, &v, 8, NULL, 0);

	/* Reserved bits in the vring fd payload. */
	uint64_t reserved[] = { 1u << 9, 1ull << 32, 1ull << 63, 0xfffffe00u };

	for (size_t i = 0; i < 4; i++) {
		v = reserved[i];
		fds[0] = tt_eventfd();
		dropped(VU_SET_VRING_KICK, V, &v, 8, fds, 1);
		v = reserved[i] | VU_VRING_NOFD;
		dropped(VU_SET_VRING_CALL, V, &v, 8, NULL, 0);
	}
	/* After all that, nothing is installed. */
	for (int k = 0; k < 3; k++)
		for (int q = 0; q < VU_MAX_VRINGS; q++)
			assert_int_equal(F.t.vfd[k][q], -1);
}

static void test_ring_index(void **state)
{
	struct vu_vring_addr a;
	uint32_t bad[] = { 4, 5, 15, 16, 255, 256, 0xffffffffu };
	uint64_t v;
	int fd;

	(void)state;
	assert_int_equal(tt_send_u64(&F.d, VU_SET_PROTOCOL_FEATURES, V, PROTO_ALL, NULL, 0), 0);
	assert_int_equal(F.d.nvrings, 4);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint32_t q = bad[i];

		dropped(VU_SET_VRING_NUM, V, &(struct vu_vring_state){ q, 64 }, 8, NULL, 0);
		dropped(VU_SET_VRING_BASE, V, &(struct vu_vring_state){ q, 0 }, 8, NULL, 0);
		dropped(VU_GET_VRING_BASE, V, &(struct vu_vring_state){ q, 0 }, 8, NULL, 0);
		dropped(VU_SET_VRING_ENABLE, V, &(struct vu_vring_state){ q, 1 }, 8, NULL, 0);
		ring_addr(&a, 0);
		a.index = q;
		dropped(VU_SET_VRING_ADDR, V, &a, sizeof(a), NULL, 0);
		if (q <= VU_VRING_IDX_MASK) {
			v = q;
			fd = tt_eventfd();
			dropped(VU_SET_VRING_KICK, V, &v, 8, &fd, 1);
			v = q | VU_VRING_NOFD;
			dropped(VU_SET_VRING_CALL, V, &v, 8, NULL, 0);
			dropped(VU_SET_VRING_ERR, V, &v, 8, NULL, 0);
		}
	}
	/* The last legal index works. */
	ok_ack_state(VU_SET_VRING_NUM, 3, 64);
}

static void test_requests_and_flags(void **state)
{
	uint32_t unknown[] = { 0, 6, 7, 19, 21, 22, 23, 24, 25, 31, 32, 34, 39,
			       40, 41, 99, 0xffffffffu };
	uint32_t badflags[] = { 0, 2, 3, V | VU_FLAG_REPLY,
				NR | VU_FLAG_REPLY, 0x8 };
	int fd;

	(void)state;
	assert_int_equal(tt_send_u64(&F.d, VU_SET_PROTOCOL_FEATURES, V, PROTO_ALL, NULL, 0), 0);
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		dropped(unknown[i], V, NULL, 0, NULL, 0);
		dropped(unknown[i], NR, &(uint64_t){ 0 }, 8, NULL, 0);
		fd = tt_eventfd();
		dropped(unknown[i], V, &(uint64_t){ 0 }, 8, &fd, 1);
	}
	for (size_t i = 0; i < sizeof(badflags) / sizeof(badflags[0]); i++) {
		dropped(VU_GET_FEATURES, badflags[i], NULL, 0, NULL, 0);
		dropped(VU_SET_OWNER, badflags[i], NULL, 0, NULL, 0);
	}
	/* Unknown high flag bits are tolerated (the spec reserves them). */
	assert_int_equal(tt_send(&F.d, VU_SET_OWNER, V | 0x100, NULL, 0, NULL, 0), 0);
}

/* Requests gated on a protocol feature the frontend did not ack. */
static void test_needs_protocol_feature(void **state)
{
	struct vu_mem_reg_wire mr = { .r = region(0, 0x10000) };
	int fd;

	(void)state;
	/* Only REPLY_ACK. */
	assert_int_equal(tt_send_u64(&F.d, VU_SET_PROTOCOL_FEATURES, V,
				     1ull << VU_PF_REPLY_ACK, NULL, 0), 0);
	dropped(VU_GET_QUEUE_NUM, V, NULL, 0, NULL, 0);
	dropped(VU_NET_SET_MTU, NR, &(uint64_t){ 1500 }, 8, NULL, 0);
	dropped(VU_GET_MAX_MEM_SLOTS, V, NULL, 0, NULL, 0);
	fd = tt_memfd(0x10000);
	dropped(VU_ADD_MEM_REG, NR, &mr, sizeof(mr), &fd, 1);
	dropped(VU_REM_MEM_REG, NR, &mr, sizeof(mr), NULL, 0);
	assert_int_equal(F.d.mem.nregions, 0);
	/* Acking an unoffered protocol feature is refused, not taken. */
	refused_ack(VU_SET_PROTOCOL_FEATURES, &(uint64_t){ PROTO_ALL | (1ull << VU_PF_BACKEND_REQ) },
		    8, NULL, 0);
	assert_int_equal(F.d.proto, 1ull << VU_PF_REPLY_ACK);
}

/* ---- values ---- */

static void test_vring_values(void **state)
{
	uint32_t bad_num[] = { 0, 3, 100, 65535, 65536, 1u << 31, 0xffffffffu };

	(void)state;
	negotiate(PROTO_ALL);
	for (size_t i = 0; i < sizeof(bad_num) / sizeof(bad_num[0]); i++)
		refused_ack(VU_SET_VRING_NUM, &(struct vu_vring_state){ 0, bad_num[i] },
			    8, NULL, 0);
	assert_int_equal(F.d.vring[0].num, 0);
	ok_ack_state(VU_SET_VRING_NUM, 0, 1);
	ok_ack_state(VU_SET_VRING_NUM, 0, 32768);
	ok_ack_state(VU_SET_VRING_BASE, 0, 65535);
	refused_ack(VU_SET_VRING_BASE, &(struct vu_vring_state){ 0, 65536 }, 8, NULL, 0);
	refused_ack(VU_SET_VRING_BASE, &(struct vu_vring_state){ 0, 0xffffffffu }, 8, NULL, 0);
	assert_int_equal(F.d.vring[0].base, 65535);
	refused_ack(VU_SET_VRING_ENABLE, &(struct vu_vring_state){ 0, 2 }, 8, NULL, 0);
	refused_ack(VU_NET_SET_MTU, &(uint64_t){ 67 }, 8, NULL, 0);
	refused_ack(VU_NET_SET_MTU, &(uint64_t){ 9001 }, 8, NULL, 0);
	refused_ack(VU_NET_SET_MTU, &(uint64_t){ 1ull << 32 | 1500 }, 8, NULL, 0);
	ok_ack_u64(VU_NET_SET_MTU, 68);
	ok_ack_u64(VU_NET_SET_MTU, 9000);
}

static void test_set_features_unoffered(void **state)
{
	uint64_t f = offered_features | (1ull << VU_F_PROTOCOL_FEATURES);

	(void)state;
	assert_int_equal(tt_send_u64(&F.d, VU_SET_PROTOCOL_FEATURES, V, PROTO_ALL, NULL, 0), 0);
	ok_ack_u64(VU_SET_FEATURES, f);
	assert_int_equal(F.d.features, f);
	refused_ack(VU_SET_FEATURES, &(uint64_t){ f | (1ull << VU_F_NET_MTU) }, 8, NULL, 0);
	refused_ack(VU_SET_FEATURES, &(uint64_t){ 1ull << 63 }, 8, NULL, 0);
	assert_int_equal(F.d.features, f);
}

/* ---- memory table ---- */

static void test_mem_table_bad(void **state)
{
	struct vu_mem_table_wire w;
	int fds[VU_MAX_FDS];

	(void)state;
	negotiate(PROTO_ALL);
	assert_int_equal(mem_table(NR, 1, 0x10000), 0);
	assert_int_equal(reply_u64(VU_SET_MEM_TABLE), 0);

	/* 0 regions, 9 regions, a size that does not match nregions. */
	memset(&w, 0, sizeof(w));
	fds[0] = tt_memfd(0x10000);
	dropped(VU_SET_MEM_TABLE, NR, &w, 8, fds, 1);
	dropped(VU_SET_MEM_TABLE, NR, &w, 8, NULL, 0);
	w.nregions = 9;
	for (int i = 0; i < 8; i++)
		fds[i] = tt_memfd(0x1000);
	dropped(VU_SET_MEM_TABLE, NR, &w, 8 + 8 * 32, fds, 8);
	w.nregions = 2;
	for (int i = 0; i < 2; i++) {
		w.r[i] = region((unsigned int)i, 0x10000);
		fds[i] = tt_memfd(0x10000);
	}
	dropped(VU_SET_MEM_TABLE, NR, &w, 8 + 1 * 32, fds, 2);
	for (int i = 0; i < 2; i++)
		fds[i] = tt_memfd(0x10000);
	dropped(VU_SET_MEM_TABLE, NR, &w, 8 + 3 * 32, fds, 2);
	w.nregions = 0xffffffffu;
	fds[0] = tt_memfd(0x10000);
	dropped(VU_SET_MEM_TABLE, NR, &w, 8 + 1 * 32, fds, 1);

	/* Well-formed but refused; the old table stays in place. */
	struct {
		const char *what;
		struct vu_region_wire r[2];
		size_t fdsize[2];
	} cases[] = {
		{ "overlap", { { 0x100000, 0x10000, 0x1000000, 0 },
			       { 0x10f000, 0x10000, 0x2000000, 0 } }, { 0x10000, 0x10000 } },
		{ "same gpa", { { 0x100000, 0x10000, 0x1000000, 0 },
				{ 0x100000, 0x10000, 0x2000000, 0 } }, { 0x10000, 0x10000 } },
		{ "gpa wraps", { { 0xfffffffffff00000ull, 0x200000, 0x1000000, 0 },
				 { 0x100000, 0x1000, 0x3000000, 0 } }, { 0x200000, 0x1000 } },
		{ "uva wraps", { { 0x100000, 0x1000, 0xfffffffffffff800ull, 0 },
				 { 0x200000, 0x1000, 0x3000000, 0 } }, { 0x1000, 0x1000 } },
		{ "offset wraps", { { 0x100000, 0x1000, 0x1000000, 0xfffffffffffff000ull },
				    { 0x200000, 0x1000, 0x3000000, 0 } }, { 0x1000, 0x1000 } },
		{ "empty", { { 0x100000, 0, 0x1000000, 0 },
			     { 0x200000, 0x1000, 0x3000000, 0 } }, { 0x1000, 0x1000 } },
		{ "larger than memfd", { { 0x100000, 0x1000, 0x1000000, 0 },
					 { 0x200000, 0x20000, 0x3000000, 0 } }, { 0x1000, 0x10000 } },
		{ "offset past memfd", { { 0x100000, 0x1000, 0x1000000, 0 },
					 { 0x200000, 0x1000, 0x3000000, 0x10000 } }, { 0x1000, 0x10000 } },
	};
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		memset(&w, 0, sizeof(w));
		w.nregions = 2;
		for (int i = 0; i < 2; i++) {
			w.r[i] = cases[c].r[i];
			fds[i] = tt_memfd(cases[c].fdsize[i]);
		}
		assert_int_equal(tt_send(&F.d, VU_SET_MEM_TABLE, NR, &w, 8 + 2 * 32, fds, 2), 0);
		if (reply_u64(VU_SET_MEM_TABLE) == 0)
			fail_msg("SET_MEM_TABLE case '%s' accepted", cases[c].what);
		assert_int_equal(F.d.mem.nregions, 1);
		assert_int_equal(F.d.mem.r[0].gpa, GPA_BASE);
		assert_int_equal(F.t.maps, 1);
	}
}

static void test_add_rem_mem_reg_bad(void **state)
{
	(void)state;
	negotiate(PROTO_ALL);
	assert_int_equal(add_mem_reg(NR, region(0, 0x10000), 0x10000), 0);
	assert_int_equal(reply_u64(VU_ADD_MEM_REG), 0);

	struct vu_region_wire r = region(0, 0x10000);

	r.gpa += 0x8000;
	r.uva += 0x100000;
	assert_int_equal(add_mem_reg(NR, r, 0x10000), 0);
	assert_int_not_equal(reply_u64(VU_ADD_MEM_REG), 0);
	r = region(1, 0x10000);
	assert_int_equal(add_mem_reg(NR, r, 0x8000), 0);		/* memfd too small */
	assert_int_not_equal(reply_u64(VU_ADD_MEM_REG), 0);
	r.size = 0;
	assert_int_equal(add_mem_reg(NR, r, 0x8000), 0);
	assert_int_not_equal(reply_u64(VU_ADD_MEM_REG), 0);
	assert_int_equal(F.d.mem.nregions, 1);
	assert_int_equal(F.t.maps, 1);

	/* REM_MEM_REG of regions that are not there. */
	r = region(1, 0x10000);
	assert_int_equal(rem_mem_reg(NR, r), 0);
	assert_int_not_equal(reply_u64(VU_REM_MEM_REG), 0);
	r = region(0, 0x10000);
	r.size = 0x8000;
	assert_int_equal(rem_mem_reg(NR, r), 0);
	assert_int_not_equal(reply_u64(VU_REM_MEM_REG), 0);
	r = region(0, 0x10000);
	r.uva ^= 0x1000;
	assert_int_equal(rem_mem_reg(NR, r), 0);
	assert_int_not_equal(reply_u64(VU_REM_MEM_REG), 0);
	assert_int_equal(F.d.mem.nregions, 1);
	/* The real one, with its fd sent again (QEMU may): fd closed. */
	struct vu_mem_reg_wire w = { .r = region(0, 0x10000) };
	int fd = tt_memfd(0x10000);

	assert_int_equal(tt_send(&F.d, VU_REM_MEM_REG, NR, &w, sizeof(w), &fd, 1), 0);
	assert_int_equal(reply_u64(VU_REM_MEM_REG), 0);
	assert_int_equal(F.d.mem.nregions, 0);
	assert_int_equal(F.t.maps, 0);
}

/*
 * QEMU 7.2 with queues=N sends each region N times on one connection (one
 * vhost_dev per queue pair) and removes it N times.  An exact repeat of the
 * same file is counted, not refused; anything else that overlaps is still
 * refused, and every refusal stays in last_error.
 */
static void test_add_mem_reg_repeat(void **state)
{
	struct vu_mem_reg_wire w = { .r = region(0, 0x10000) };
	struct vu_region_wire r;
	int fd = tt_memfd(0x10000), fd2 = dup(fd), other = tt_memfd(0x10000);

	(void)state;
	negotiate(PROTO_ALL);
	keep_guest0(fd, 0x10000);
	assert_int_equal(tt_send(&F.d, VU_ADD_MEM_REG, NR, &w, sizeof(w), &fd, 1), 0);
	assert_int_equal(reply_u64(VU_ADD_MEM_REG), 0);
	/* The identical repeat (QEMU's second queue pair): accepted, not mapped twice. */
	assert_int_equal(tt_send(&F.d, VU_ADD_MEM_REG, NR, &w, sizeof(w), &fd2, 1), 0);
	assert_int_equal(reply_u64(VU_ADD_MEM_REG), 0);
	assert_int_equal(F.d.mem.nregions, 1);
	assert_int_equal(F.d.mem.r[0].refs, 2);
	assert_int_equal(F.t.maps, 1);
	assert_int_equal(F.d.mem_repeats, 1);
	assert_string_equal(F.d.last_error, "");
	/* Rings work on it. */
	ring_up(0, 0);

	/* The same numbers over another file: a real overlap, refused. */
	assert_int_equal(tt_send(&F.d, VU_ADD_MEM_REG, NR, &w, sizeof(w), &other, 1), 0);
	assert_int_not_equal(reply_u64(VU_ADD_MEM_REG), 0);
	assert_non_null(strstr(F.d.last_error, "overlaps"));
	/* A different region that overlaps: refused too. */
	r = region(0, 0x10000);
	r.gpa += 0x8000;
	r.uva += 0x100000;
	assert_int_equal(add_mem_reg(NR, r, 0x10000), 0);
	assert_int_not_equal(reply_u64(VU_ADD_MEM_REG), 0);
	assert_non_null(strstr(F.d.last_error, "ADD_MEM_REG"));
	assert_int_equal(F.d.mem.nregions, 1);
	assert_int_equal(F.d.mem.r[0].refs, 2);
	/* Same file, other offset: not the same region. */
	w.r.mmap_offset = 0x1000;
	fd2 = dup(fd);
	assert_int_equal(tt_send(&F.d, VU_ADD_MEM_REG, NR, &w, sizeof(w), &fd2, 1), 0);
	assert_int_not_equal(reply_u64(VU_ADD_MEM_REG), 0);
	w.r.mmap_offset = 0;

	/* The refusal stays visible after requests that succeed. */
	assert_int_equal(tt_send(&F.d, VU_GET_FEATURES, V, NULL, 0, NULL, 0), 0);
	assert_true(tt_take(&F.t, &(struct vu_msg){ 0 }));
	assert_non_null(strstr(F.d.last_error, "ADD_MEM_REG"));
	assert_true(F.d.last_error_ns > 0);

	/* Removed once per add: the first removal keeps the mapping. */
	assert_int_equal(rem_mem_reg(NR, region(0, 0x10000)), 0);
	assert_int_equal(reply_u64(VU_REM_MEM_REG), 0);
	assert_int_equal(F.d.mem.nregions, 1);
	assert_int_equal(F.t.maps, 1);
	assert_true(vu_vring_live(&F.d, 0));
	assert_int_equal(rem_mem_reg(NR, region(0, 0x10000)), 0);
	assert_int_equal(reply_u64(VU_REM_MEM_REG), 0);
	assert_int_equal(F.d.mem.nregions, 0);
	assert_int_equal(F.t.maps, 0);
	assert_false(vu_vring_live(&F.d, 0));
	assert_int_equal(rem_mem_reg(NR, region(0, 0x10000)), 0);
	assert_int_not_equal(reply_u64(VU_REM_MEM_REG), 0);
	assert_non_null(strstr(F.d.last_error, "REM_MEM_REG"));
}

/* On a transport without fds the numbers are the identity. */
static void test_add_mem_reg_repeat_nofds(void **state)
{
	struct vu_mem_reg_wire w = { .r = { 0, 0x100000, UVA_BASE, 0 } };

	(void)state;
	vu_dev_init(&F.d, "nofds", &tt_ops_nofds, &F.t, &hooks, &F, offered_features, 2);
	F.t.backing_fd = tt_memfd(0x200000);
	negotiate(PROTO_ALL);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(tt_send(&F.d, VU_ADD_MEM_REG, NR, &w, sizeof(w), NULL, 0), 0);
		assert_int_equal(reply_u64(VU_ADD_MEM_REG), 0);
	}
	assert_int_equal(F.d.mem.nregions, 1);
	assert_int_equal(F.t.maps, 1);
	vu_dev_disconnect(&F.d);
	assert_int_equal(F.t.maps, 0);
	close(F.t.backing_fd);
	F.t.backing_fd = -1;
}

/* Removing the region under a live ring breaks the ring, never leaves it pointing there. */
static void test_rem_mem_reg_live_ring(void **state)
{
	(void)state;
	negotiate(PROTO_ALL);
	assert_int_equal(add_mem_reg(V, region(0, 0x10000), 0x10000), 0);
	assert_int_equal(add_mem_reg(V, region(1, 0x10000), 0x10000), 0);
	for (unsigned int q = 0; q < 4; q++)
		ring_up(q, 0);
	assert_int_equal(rem_mem_reg(NR, region(0, 0x10000)), 0);
	assert_int_equal(reply_u64(VU_REM_MEM_REG), 0);
	assert_int_equal(F.t.maps, 1);
	for (unsigned int q = 0; q < 4; q++) {
		struct vq *vq = &F.d.vring[q].vq;

		assert_false(vu_vring_live(&F.d, q));
		assert_true(vq->broken);
		assert_null((const void *)vq->desc);
		assert_null((const void *)vq->avail);
		assert_null((const void *)vq->used);
		/* Using it now touches nothing (ASan would see the unmapped ring). */
		assert_int_equal(vq_avail_count(vq), 0);
	}
	assert_true(F.t.signals[VU_FD_ERR] >= 4);
	/* The frontend adds the region back and re-kicks: rings come back. */
	assert_int_equal(add_mem_reg(V, region(0, 0x10000), 0x10000), 0);
	for (unsigned int q = 0; q < 4; q++) {
		uint64_t v = q | VU_VRING_NOFD;

		ok_ack(VU_SET_VRING_KICK, &v, 8, NULL, 0);
		assert_true(vu_vring_live(&F.d, q));
	}
}

/* SET_MEM_TABLE that drops the region a ring lives in: same rule. */
static void test_mem_table_moves_live_ring(void **state)
{
	struct vu_mem_table_wire w;
	int fd;

	(void)state;
	negotiate(PROTO_ALL);
	assert_int_equal(mem_table(V, 1, 0x10000), 0);
	ring_up(0, 0);
	memset(&w, 0, sizeof(w));
	w.nregions = 1;
	w.r[0] = region(4, 0x10000);
	fd = tt_memfd(0x10000);
	assert_int_equal(tt_send(&F.d, VU_SET_MEM_TABLE, V, &w, 40, &fd, 1), 0);
	assert_false(vu_vring_live(&F.d, 0));
	assert_null((const void *)F.d.vring[0].vq.desc);
	assert_int_equal(F.t.maps, 1);
}

static void test_reset_owner_and_disconnect(void **state)
{
	(void)state;
	negotiate(PROTO_ALL);
	assert_int_equal(mem_table(V, 1, 0x10000), 0);
	ring_up(0, 7);
	ok_ack(VU_RESET_OWNER, NULL, 0, NULL, 0);
	assert_false(vu_vring_live(&F.d, 0));
	assert_false(F.d.owner);
	assert_int_equal(F.d.features, 0);
	vu_dev_disconnect(&F.d);
	assert_int_equal(F.t.maps, 0);
	assert_int_equal(F.d.proto, 0);
	/* A new frontend starts from scratch on the same device. */
	negotiate(PROTO_ALL);
	assert_int_equal(mem_table(V, 1, 0x10000), 0);
	ring_up(0, 0);
}

/*
 * A transport without fds (virtio-vhost-user): messages carry none, the
 * fd-count rules do not apply, -1 is passed where an fd would be, and
 * fds a confused transport passes anyway are still closed.
 */
static void test_transport_without_fds(void **state)
{
	struct vu_mem_table_wire w;
	struct vu_vring_addr a;
	uint64_t v;
	int fd, before;

	(void)state;
	vu_dev_init(&F.d, "nofds", &tt_ops_nofds, &F.t, &hooks, &F, offered_features, 2);
	F.t.backing_fd = tt_memfd(0x200000);
	before = tt_count_fds();
	negotiate(PROTO_ALL);
	memset(&w, 0, sizeof(w));
	w.nregions = 2;
	w.r[0] = (struct vu_region_wire){ 0, 0x100000, UVA_BASE, 0 };
	w.r[1] = (struct vu_region_wire){ 0x100000, 0x100000, UVA_BASE + 0x100000, 0 };
	ok_ack(VU_SET_MEM_TABLE, &w, 8 + 2 * 32, NULL, 0);
	assert_int_equal(F.t.maps, 2);
	ok_ack_state(VU_SET_VRING_NUM, 0, 256);
	ring_addr(&a, 0);
	ok_ack(VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0);
	v = 0;		/* no NOFD flag, and no fd: fine here */
	ok_ack(VU_SET_VRING_KICK, &v, 8, NULL, 0);
	ok_ack(VU_SET_VRING_CALL, &v, 8, NULL, 0);
	ok_ack_state(VU_SET_VRING_ENABLE, 0, 1);
	assert_true(vu_vring_live(&F.d, 0));
	assert_int_equal(F.t.vfd[VU_FD_KICK][0], -1);
	/* An fd on a message that takes none: ignored and closed. */
	fd = tt_eventfd();
	ok_ack(VU_SET_OWNER, NULL, 0, &fd, 1);
	/* Framing rules other than fds still apply. */
	dropped(VU_SET_VRING_NUM, V, &(struct vu_vring_state){ 4, 64 }, 8, NULL, 0);
	vu_dev_disconnect(&F.d);
	assert_int_equal(F.t.maps, 0);
	assert_int_equal(tt_count_fds(), before);
	close(F.t.backing_fd);
	F.t.backing_fd = -1;
}

/*
 * A frontend that sends refused requests in a loop keeps its connection;
 * it must not flood the log (stderr is the serial console in the
 * appliance, and a blocked console write stalls every port).
 */
static void test_refusals_do_not_flood_the_log(void **state)
{
	FILE *tmp = tmpfile();
	int saved = dup(2), lines = 0;
	char line[512];

	(void)state;
	assert_non_null(tmp);
	fflush(stderr);
	assert_true(dup2(fileno(tmp), 2) >= 0);
	for (int i = 0; i < 10000; i++)
		tt_send_state(&F.d, VU_SET_VRING_NUM, V, 0, 3);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	assert_int_equal(F.d.msg_errors, 10000);
	rewind(tmp);
	while (fgets(line, sizeof(line), tmp))
		lines++;
	fclose(tmp);
	print_message("10000 refusals, %d log lines\n", lines);
	assert_true(lines >= 1);
	assert_true(lines <= 40);
}

/* The same for a ring the frontend restarts broken, over and over. */
static void test_ring_breaks_do_not_flood_the_log(void **state)
{
	FILE *tmp = tmpfile();
	int saved = dup(2), lines = 0;
	char line[512];
	uint64_t v = 1 | VU_VRING_NOFD;

	(void)state;
	assert_non_null(tmp);
	fflush(stderr);
	assert_true(dup2(fileno(tmp), 2) >= 0);
	for (int i = 0; i < 10000; i++)
		tt_send_u64(&F.d, VU_SET_VRING_KICK, V, v, NULL, 0);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	assert_int_equal(F.d.vring[1].breaks, 10000);
	assert_int_equal(F.t.signals[VU_FD_ERR], 10000);
	rewind(tmp);
	while (fgets(line, sizeof(line), tmp))
		lines++;
	fclose(tmp);
	print_message("10000 broken starts, %d log lines\n", lines);
	assert_true(lines >= 1);
	assert_true(lines <= 40);
}

/* ---- random garbage ---- */

static uint64_t rng;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static uint32_t rnd_below(uint32_t n)
{
	return (uint32_t)(rnd() % n);
}

static const uint32_t known_reqs[] = {
	VU_GET_FEATURES, VU_SET_FEATURES, VU_SET_OWNER, VU_RESET_OWNER,
	VU_SET_MEM_TABLE, VU_SET_VRING_NUM, VU_SET_VRING_ADDR,
	VU_SET_VRING_BASE, VU_GET_VRING_BASE, VU_SET_VRING_KICK,
	VU_SET_VRING_CALL, VU_SET_VRING_ERR, VU_GET_PROTOCOL_FEATURES,
	VU_SET_PROTOCOL_FEATURES, VU_GET_QUEUE_NUM, VU_SET_VRING_ENABLE,
	VU_NET_SET_MTU, VU_GET_MAX_MEM_SLOTS, VU_ADD_MEM_REG, VU_REM_MEM_REG,
};

/* A region from a small set of plausible ones, sometimes mangled. */
static struct vu_region_wire rnd_region(void)
{
	struct vu_region_wire r = region(rnd_below(2) ? 0 : rnd_below(6), 0x10000);

	switch (rnd_below(16)) {
	case 0: r.size = rnd(); break;
	case 1: r.gpa = rnd(); break;
	case 2: r.uva = rnd(); break;
	case 3: r.mmap_offset = rnd_below(3) * 0x1000; break;
	case 4: r.size = 0x1000 * (1 + rnd_below(32)); break;
	default: break;
	}
	return r;
}

static void rnd_payload(uint32_t req, uint8_t *p)
{
	uint64_t f;

	for (unsigned int i = 0; i < VU_MAX_PAYLOAD; i++)
		p[i] = (uint8_t)rnd();
	if (rnd_below(8) == 0)
		return;		/* pure garbage */
	switch (req) {
	case VU_SET_FEATURES:
		f = F.d.offered & rnd();
		memcpy(p, &f, 8);
		break;
	case VU_SET_PROTOCOL_FEATURES:
		f = F.d.offered_proto & (rnd() | (1ull << VU_PF_CONFIGURE_MEM_SLOTS));
		memcpy(p, &f, 8);
		break;
	case VU_SET_VRING_NUM:
	case VU_SET_VRING_BASE:
	case VU_GET_VRING_BASE:
	case VU_SET_VRING_ENABLE: {
		struct vu_vring_state s = { rnd_below(16) ? rnd_below(4) : rnd_below(300),
			rnd_below(4) ? 1u << rnd_below(9) : 1u << rnd_below(17) };

		if (req == VU_SET_VRING_ENABLE && rnd_below(8))
			s.num = rnd_below(2);
		memcpy(p, &s, sizeof(s));
		break;
	}
	case VU_SET_VRING_ADDR: {
		struct vu_vring_addr a;

		ring_addr(&a, rnd_below(16) ? rnd_below(4) : rnd_below(300));
		if (rnd_below(3) == 0)
			a.desc += rnd_below(0x20000);
		if (rnd_below(3) == 0)
			a.used = rnd();
		memcpy(p, &a, sizeof(a));
		break;
	}
	case VU_SET_VRING_KICK:
	case VU_SET_VRING_CALL:
	case VU_SET_VRING_ERR:
		f = (rnd_below(16) ? rnd_below(4) : rnd_below(256)) |
		    (rnd_below(3) == 0 ? VU_VRING_NOFD : 0);
		if (rnd_below(10) == 0)
			f |= 1ull << (9 + rnd_below(55));
		memcpy(p, &f, 8);
		break;
	case VU_SET_MEM_TABLE: {
		struct vu_mem_table_wire *w = (void *)p;

		w->nregions = rnd_below(8) ? 1 + rnd_below(3) : rnd_below(10);
		for (unsigned int i = 0; i < VU_MEM_TABLE_MAX; i++) {
			struct vu_region_wire r = rnd_region();

			memcpy(&w->r[i], &r, sizeof(r));
		}
		break;
	}
	case VU_ADD_MEM_REG:
	case VU_REM_MEM_REG: {
		struct vu_region_wire r = rnd_region();

		memcpy(p + 8, &r, sizeof(r));
		break;
	}
	case VU_NET_SET_MTU:
		f = rnd_below(10000);
		memcpy(p, &f, 8);
		break;
	default:
		break;
	}
}

static uint32_t table_size(uint32_t req, const uint8_t *p)
{
	uint32_t n;

	if (req == VU_SET_MEM_TABLE) {
		memcpy(&n, p, 4);
		return n <= 9 ? 8 + n * 32 : 8;
	}
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		if (sizes[i].req == req)
			return sizes[i].size;
	return 8;
}

/* A well-formed bring-up of every ring, for the garbage to land on. */
static void rnd_bringup(void)
{
	struct vu_mem_table_wire w;
	struct vu_vring_addr a;
	int fd = tt_memfd(0x10000);

	tt_send_u64(&F.d, VU_SET_PROTOCOL_FEATURES, V, PROTO_ALL, NULL, 0);
	tt_send_u64(&F.d, VU_SET_FEATURES, V, F.d.offered & rnd(), NULL, 0);
	memset(&w, 0, sizeof(w));
	w.nregions = 1;
	w.r[0] = region(0, 0x10000);
	tt_send(&F.d, VU_SET_MEM_TABLE, V, &w, 40, &fd, 1);
	for (unsigned int q = 0; q < F.d.nvrings; q++) {
		uint64_t v = q | VU_VRING_NOFD;

		tt_send_state(&F.d, VU_SET_VRING_NUM, V, q, 1u << rnd_below(9));
		ring_addr(&a, q);
		tt_send(&F.d, VU_SET_VRING_ADDR, V, &a, sizeof(a), NULL, 0);
		tt_send_u64(&F.d, VU_SET_VRING_KICK, V, v, NULL, 0);
		tt_send_state(&F.d, VU_SET_VRING_ENABLE, V, q, 1);
	}
}

static void test_random_garbage(void **state)
{
	uint8_t p[VU_MAX_PAYLOAD];
	unsigned int drops = 0, live_seen = 0;
	enum vlog_level lvl = vlog_get_level();

	(void)state;
	/* VU_FUZZ_SEED / VU_FUZZ_ITERS explore further; the defaults are the test. */
	const char *seed = getenv("VU_FUZZ_SEED"), *iters = getenv("VU_FUZZ_ITERS");
	int n = iters ? atoi(iters) : 10000;

	rng = seed ? strtoull(seed, NULL, 0) : 0x9e3779b97f4a7c15ull;
	if (!rng)
		rng = 1;
	if (!getenv("VU_TEST_VERBOSE"))
		vlog_set_level(VLOG_ERR);
	for (int i = 0; i < n; i++) {
		uint32_t req, flags, size;
		int fds[12];
		unsigned int nfds;
		int rc;

		switch (rnd_below(40)) {
		case 0: req = rnd_below(50); break;
		case 1: req = (uint32_t)rnd(); break;
		default: req = known_reqs[rnd_below(sizeof(known_reqs) / sizeof(known_reqs[0]))];
		}
		if (rnd_below(100) == 0)
			rnd_bringup();
		rnd_payload(req, p);
		flags = rnd_below(40) == 0 ? (uint32_t)rnd() :
			(rnd_below(2) ? V : NR);
		size = rnd_below(20) == 0 ? rnd_below(VU_MAX_PAYLOAD + 1) : table_size(req, p);
		switch (rnd_below(20)) {
		case 0: nfds = rnd_below(11); break;
		case 1: nfds = 0; break;
		default:
			nfds = req == VU_SET_MEM_TABLE ? (unsigned int)(size - 8) / 32 :
			       (req == VU_ADD_MEM_REG || req == VU_SET_VRING_KICK ||
				req == VU_SET_VRING_CALL || req == VU_SET_VRING_ERR);
			if (req >= VU_SET_VRING_KICK && req <= VU_SET_VRING_ERR &&
			    (p[1] & 1))
				nfds = 0;
			if (nfds > 10)
				nfds = 10;
		}
		for (unsigned int k = 0; k < nfds; k++)
			fds[k] = rnd_below(8) == 0 ? tt_eventfd() :
				 tt_memfd(rnd_below(4) ? 0x10000 : 0x1000 * (1 + rnd_below(16)));
		rc = tt_send(&F.d, req, flags, p, size, fds, nfds);
		while (F.t.nreplies) {
			struct vu_msg m;

			tt_take(&F.t, &m);
			assert_int_equal(m.hdr.flags, VU_VERSION | VU_FLAG_REPLY);
			assert_int_equal(m.hdr.request, req);
		}
		if (rc < 0) {
			/* What the transport does on a drop. */
			drops++;
			vu_dev_disconnect(&F.d);
			assert_int_equal(F.t.maps, 0);
			/* The next frontend negotiates (mostly) everything. */
			if (rnd_below(8))
				tt_send_u64(&F.d, VU_SET_PROTOCOL_FEATURES, V,
					    rnd_below(2) ? PROTO_ALL : PROTO_ALL & rnd(),
					    NULL, 0);
		}
		/* Touch every live ring: stale pointers would fault here. */
		for (unsigned int q = 0; q < F.d.nvrings; q++) {
			if (vu_vring_live(&F.d, q)) {
				live_seen++;
				vq_avail_count(&F.d.vring[q].vq);
				vq_set_kicks(&F.d.vring[q].vq, true);
			}
		}
	}
	vlog_set_level(lvl);
	print_message("random: %u drops, %u live-ring observations\n", drops, live_seen);
	assert_true(drops > (unsigned int)n / 100);
	assert_true(drops < (unsigned int)n * 99 / 100);
}


/* ---- dirty logging (migration) ---- */

#define PROTO_LOG (PROTO_ALL | (1ull << VU_PF_LOG_SHMFD) | (1ull << VU_PF_RARP))
/* Bytes of log for region 0 of 1 MiB at GPA_BASE: (2 MiB - 1) / 4 KiB / 8 + 1. */
#define LOG_NEED 64

/* SET_LOG_BASE of [off, off + size) of a memfd of fdsize bytes. */
static int log_base(uint64_t size, uint64_t off, size_t fdsize, uint8_t **view)
{
	struct vu_log_wire w = { .size = size, .offset = off };
	int fd = tt_memfd(fdsize);

	if (view) {
		*view = mmap(NULL, fdsize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		assert_true(*view != MAP_FAILED);
	}
	return tt_send(&F.d, VU_SET_LOG_BASE, V, &w, sizeof(w), &fd, 1);
}

/* The reply QEMU 7.2 waits for: request SET_LOG_BASE, no payload. */
static void log_reply(void)
{
	struct vu_msg m;

	assert_true(tt_take(&F.t, &m));
	assert_int_equal(m.hdr.request, VU_SET_LOG_BASE);
	assert_int_equal(m.hdr.flags, VU_VERSION | VU_FLAG_REPLY);
	assert_int_equal(m.hdr.size, 0);
	no_reply();
}

static bool log_bit(const uint8_t *log, uint64_t gpa)
{
	return (log[gpa / 4096 / 8] >> (gpa / 4096 % 8)) & 1;
}

static uint64_t acked(void)
{
	return F.d.features;
}

static void test_log_offered(void **state)
{
	(void)state;
	assert_int_equal(tt_send(&F.d, VU_GET_FEATURES, V, NULL, 0, NULL, 0), 0);
	assert_true(reply_u64(VU_GET_FEATURES) & (1ull << VHOST_F_LOG_ALL));
	assert_int_equal(tt_send(&F.d, VU_GET_PROTOCOL_FEATURES, V, NULL, 0, NULL, 0), 0);
	assert_int_equal(reply_u64(VU_GET_PROTOCOL_FEATURES) & PROTO_LOG, PROTO_LOG);
}

/*
 * As QEMU migrates: log base, LOG_ALL on with rings running, writes land
 * in the log; a second, bigger log replaces the first while rings run;
 * LOG_ALL off stops logging.
 */
static void test_log_base_live(void **state)
{
	uint8_t *l1, *l2;
	uint64_t used_gpa = GPA_BASE + 0x2000;	/* ring 0's used ring */
	struct vq *vq = &F.d.vring[0].vq;

	(void)state;
	negotiate(PROTO_LOG);
	assert_int_equal(mem_table(V, 1, 1 << 20), 0);
	ring_up(0, 0);
	ring_up(1, 0);
	assert_int_equal(log_base(LOG_NEED, 4096, 8192, &l1), 0);
	log_reply();
	assert_int_equal(F.t.maps, 2);
	assert_null(vq->log);			/* LOG_ALL not yet */
	ok_ack_u64(VU_SET_FEATURES, acked() | (1ull << VHOST_F_LOG_ALL));
	assert_true(vu_dev_logging(&F.d));
	assert_ptr_equal(vq->log, &F.d.log);
	vq_set_kicks(vq, false);		/* writes used->flags */
	assert_true(log_bit(l1 + 4096, used_gpa));
	assert_false(log_bit(l1 + 4096, GPA_BASE));

	/* A new log while running: mapped first, then the old one goes. */
	assert_int_equal(log_base(2 * LOG_NEED, 0, 4096, &l2), 0);
	log_reply();
	assert_int_equal(F.t.maps, 2);
	assert_int_equal(F.d.log.len, 2 * LOG_NEED);
	vq_set_kicks(vq, true);
	assert_true(log_bit(l2, used_gpa));
	/* A ring re-laid out (VHOST_VRING_F_LOG set) keeps logging. */
	{
		struct vu_vring_addr a;

		ring_addr(&a, 0);
		a.flags = 1;
		ok_ack(VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0);
		assert_ptr_equal(vq->log, &F.d.log);
	}
	ok_ack_u64(VU_SET_FEATURES, acked() & ~(1ull << VHOST_F_LOG_ALL));
	assert_null(vq->log);
	memset(l2, 0, 4096);
	vq_set_kicks(vq, false);
	assert_false(log_bit(l2, used_gpa));
	/* A memory table the log does not cover is fine while not logging. */
	assert_int_equal(mem_table(V, 2, 1 << 20), 0);
	munmap(l1, 8192);
	munmap(l2, 4096);
}

/* Hostile or broken log messages: the connection drops, nothing mapped. */
static void test_log_base_bad(void **state)
{
	uint64_t big = 1ull << 40;
	int efd;
	struct vu_log_wire w = { .size = LOG_NEED, .offset = 0 };

	(void)state;
	negotiate(PROTO_LOG);
	assert_int_equal(mem_table(V, 1, 1 << 20), 0);
	/* Too small for memory. */
	assert_true(log_base(LOG_NEED - 1, 0, 4096, NULL) < 0);
	assert_non_null(strstr(F.d.last_error, "cover"));
	/* Huge. */
	assert_true(log_base(big, 0, 4096, NULL) < 0);
	/* Size 0. */
	assert_true(log_base(0, 0, 4096, NULL) < 0);
	/* Offset past the end of the file. */
	assert_true(log_base(LOG_NEED, 8192, 4096, NULL) < 0);
	assert_non_null(strstr(F.d.last_error, "map"));
	/* Offset + size overflows. */
	assert_true(log_base(LOG_NEED, UINT64_MAX - 10, 4096, NULL) < 0);
	/* Not mappable: an eventfd. */
	efd = tt_eventfd();
	assert_true(tt_send(&F.d, VU_SET_LOG_BASE, V, &w, sizeof(w), &efd, 1) < 0);
	/* No fd at all; two fds. */
	dropped(VU_SET_LOG_BASE, V, &w, sizeof(w), NULL, 0);
	assert_null(F.d.log.bits);
	assert_int_equal(F.t.maps, 1);
	/* Wrong size. */
	efd = tt_memfd(4096);
	dropped(VU_SET_LOG_BASE, V, &w, 8, &efd, 1);
	assert_null(F.d.log.bits);
}

/* Without LOG_SHMFD acked the log messages are not part of the protocol. */
static void test_log_needs_shmfd(void **state)
{
	(void)state;
	negotiate(PROTO_ALL);
	assert_true(log_base(LOG_NEED, 0, 4096, NULL) < 0);
	assert_null(F.d.log.bits);
}

/*
 * SET_LOG_BASE before SET_MEM_TABLE (nothing to cover yet); memory the
 * log cannot cover while logging is refused by dropping: the frontend
 * grows the log first.  A good log then lets the same table in.
 */
static void test_log_before_mem_table(void **state)
{
	(void)state;
	negotiate(PROTO_LOG);
	assert_int_equal(log_base(16, 0, 4096, NULL), 0);
	log_reply();
	ok_ack_u64(VU_SET_FEATURES, acked() | (1ull << VHOST_F_LOG_ALL));
	assert_true(mem_table(V, 1, 1 << 20) < 0);
	assert_int_equal(F.d.mem.nregions, 0);
	assert_int_equal(F.t.maps, 1);
	assert_true(add_mem_reg(V, region(0, 1 << 20), 1 << 20) < 0);
	assert_int_equal(F.d.mem.nregions, 0);
	assert_int_equal(log_base(LOG_NEED, 0, 4096, NULL), 0);
	log_reply();
	assert_int_equal(mem_table(V, 1, 1 << 20), 0);
	assert_int_equal(F.d.mem.nregions, 1);
	/* A second region past what the log covers: dropped as well. */
	assert_true(mem_table(V, 2, 1 << 20) < 0);
	assert_int_equal(F.d.mem.nregions, 1);
}

/* SET_LOG_FD takes and closes its fd (teardown checks for leaks). */
static void test_log_fd(void **state)
{
	int fd;

	(void)state;
	negotiate(PROTO_LOG);
	fd = tt_eventfd();
	assert_int_equal(tt_send(&F.d, VU_SET_LOG_FD, V, NULL, 0, &fd, 1), 0);
	dropped(VU_SET_LOG_FD, V, NULL, 0, NULL, 0);
}

static void test_send_rarp(void **state)
{
	static const uint8_t mac[8] = { 0x52, 0x54, 0, 0x12, 0x34, 0x56 };
	static const uint8_t mcast[8] = { 0x01, 0, 0x5e, 0, 0, 1 };

	(void)state;
	rarp_calls = 0;
	negotiate(PROTO_ALL);
	dropped(VU_SEND_RARP, V, mac, 8, NULL, 0);	/* RARP not acked */
	negotiate(PROTO_LOG);
	ok_ack(VU_SEND_RARP, mac, 8, NULL, 0);
	assert_int_equal(rarp_calls, 1);
	assert_memory_equal(rarp_mac, mac, 6);
	refused_ack(VU_SEND_RARP, mcast, 8, NULL, 0);
	assert_int_equal(rarp_calls, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_happy_mem_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_packed_vring_base, setup, teardown),
		cmocka_unit_test_setup_teardown(test_happy_add_mem_reg_40, setup, teardown),
		cmocka_unit_test_setup_teardown(test_legacy_no_protocol_features, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kick_before_layout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reply_ack, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_sizes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_len_mismatch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fd_counts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ring_index, setup, teardown),
		cmocka_unit_test_setup_teardown(test_requests_and_flags, setup, teardown),
		cmocka_unit_test_setup_teardown(test_needs_protocol_feature, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vring_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_features_unoffered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mem_table_bad, setup, teardown),
		cmocka_unit_test_setup_teardown(test_add_rem_mem_reg_bad, setup, teardown),
		cmocka_unit_test_setup_teardown(test_add_mem_reg_repeat, setup, teardown),
		cmocka_unit_test_setup_teardown(test_add_mem_reg_repeat_nofds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rem_mem_reg_live_ring, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mem_table_moves_live_ring, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_owner_and_disconnect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transport_without_fds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusals_do_not_flood_the_log, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ring_breaks_do_not_flood_the_log, setup, teardown),
		cmocka_unit_test_setup_teardown(test_random_garbage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_offered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_base_live, setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_base_bad, setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_needs_shmfd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_before_mem_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_fd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_send_rarp, setup, teardown),
	};

	return cmocka_run_group_tests_name("vhost", tests, NULL, NULL);
}
