/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the UNIX-socket vhost-user transport (drivers/unix/vut.c)
 * with a real vu_net on top, driven by tests/lib/fake_frontend over real
 * sockets and an event loop run by the test.  The frontend hangs up
 * mid-message, stalls, sends too many fds or oversized headers; the port
 * must go back to listening with nothing leaked, and a stalled frontend
 * must not hold up another port in the same loop.  A client-mode port must
 * reconnect within its retry interval.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "ev.h"
#include "fake_frontend.h"
#include "ttransport.h"
#include "vlog.h"
#include "vq.h"
#include "vu_net.h"
#include "vut.h"

#define V	VU_VERSION
#define TMO	2000
#define UVA_BASE 0x7f0000000000ull
#define MEM_SIZE 0x10000

#define PROTO_ALL ((1ull << VU_PF_REPLY_ACK) | (1ull << VU_PF_CONFIGURE_MEM_SLOTS) | \
		   (1ull << VU_PF_MQ) | (1ull << VU_PF_MTU))

struct port {
	struct vu_net net;
	struct vut_port vut;
	char path[108];
	bool started;
};

static struct ev_loop *loop;
static char dir[64];
static struct port ports[2];
static int fds_before;

static void pump(void *arg)
{
	(void)arg;
	ev_run(loop, 1);
	for (int i = 0; i < 2; i++)
		if (ports[i].started)
			vut_tick(&ports[i].vut, ev_now_ns());
}

static uint64_t now_ms(void)
{
	return ev_now_ns() / 1000000;
}

static bool wait_state(struct port *p, enum vut_state s, int ms)
{
	uint64_t end = now_ms() + (uint64_t)ms;

	while (p->vut.state != s && now_ms() < end)
		pump(NULL);
	return p->vut.state == s;
}

static int port_start(struct port *p, const char *name, bool client,
		      unsigned int retry_ms)
{
	snprintf(p->path, sizeof(p->path), "%s/%s.sock", dir, name);
	vu_net_init(&p->net, name, &vut_ops, &p->vut, 2);
	p->started = true;
	return vut_start(&p->vut, loop, name, p->path, client, retry_ms,
			 &p->net.dev);
}

static int setup(void **state)
{
	(void)state;
	fds_before = tt_count_fds();
	snprintf(dir, sizeof(dir), "/tmp/vut-test-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	loop = ev_new();
	memset(ports, 0, sizeof(ports));
	return loop ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	for (int i = 0; i < 2; i++) {
		if (ports[i].started) {
			vut_stop(&ports[i].vut);
			ports[i].started = false;
		}
	}
	ev_free(loop);
	loop = NULL;
	/* vut_stop removed its socket files: the directory is empty. */
	if (rmdir(dir) != 0) {
		fprintf(stderr, "files left in %s\n", dir);
		return -1;
	}
	if (tt_count_fds() != fds_before) {
		fprintf(stderr, "fd leak: %d before, %d after\n", fds_before,
			tt_count_fds());
		return -1;
	}
	return 0;
}

static void ff_open(struct ff *f, struct port *p)
{
	memset(f, 0, sizeof(*f));
	f->pump = pump;
	assert_int_equal(ff_connect(f, p->path), 0);
	assert_true(wait_state(p, VUT_CONNECTED, TMO));
}

/* The frontend's side of guest memory: a memfd it also maps. */
struct guest {
	int fd;
	uint8_t *mem;
};

static void guest_open(struct guest *g)
{
	g->fd = tt_memfd(MEM_SIZE);
	g->mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, g->fd, 0);
	assert_true(g->mem != MAP_FAILED);
}

static void guest_close(struct guest *g)
{
	munmap(g->mem, MEM_SIZE);
	close(g->fd);
}

/* QEMU's bring-up over the socket: features, memory, every ring live. */
static void bringup(struct ff *f, struct port *p, struct guest *g)
{
	struct vu_mem_table_wire mt;
	uint64_t feat, pf, v;

	assert_int_equal(ff_get_u64(f, VU_GET_FEATURES, &feat, TMO), 0);
	feat &= ~(1ull << VU_F_RING_PACKED);	/* our guest lays out split rings */
	assert_int_equal(ff_get_u64(f, VU_GET_PROTOCOL_FEATURES, &pf, TMO), 0);
	assert_int_equal(pf & PROTO_ALL, PROTO_ALL);
	v = PROTO_ALL;
	assert_int_equal(ff_send(f, VU_SET_PROTOCOL_FEATURES, V, &v, 8, NULL, 0, 0), 0);
	assert_int_equal(ff_get_u64(f, VU_GET_QUEUE_NUM, &v, TMO), 0);
	assert_int_equal(v, 2);
	assert_int_equal(ff_request_ack(f, VU_SET_OWNER, NULL, 0, NULL, 0, TMO), 0);
	assert_int_equal(ff_request_ack(f, VU_SET_FEATURES, &feat, 8, NULL, 0, TMO), 0);
	memset(&mt, 0, sizeof(mt));
	mt.nregions = 1;
	mt.r[0].gpa = 0;
	mt.r[0].size = MEM_SIZE;
	mt.r[0].uva = UVA_BASE;
	assert_int_equal(ff_request_ack(f, VU_SET_MEM_TABLE, &mt, 40, &g->fd, 1, TMO), 0);
	for (unsigned int q = 0; q < 4; q++) {
		struct vu_vring_state s = { q, 256 };
		struct vu_vring_addr a = {
			.index = q,
			.desc = UVA_BASE + q * 0x4000ull,
			.avail = UVA_BASE + q * 0x4000ull + 0x1000,
			.used = UVA_BASE + q * 0x4000ull + 0x2000,
		};
		int ev = tt_eventfd();

		assert_int_equal(ff_request_ack(f, VU_SET_VRING_NUM, &s, 8, NULL, 0, TMO), 0);
		s.num = 0;
		assert_int_equal(ff_request_ack(f, VU_SET_VRING_BASE, &s, 8, NULL, 0, TMO), 0);
		assert_int_equal(ff_request_ack(f, VU_SET_VRING_ADDR, &a, 40, NULL, 0, TMO), 0);
		v = q;
		assert_int_equal(ff_request_ack(f, VU_SET_VRING_KICK, &v, 8, &ev, 1, TMO), 0);
		close(ev);
		ev = tt_eventfd();
		assert_int_equal(ff_request_ack(f, VU_SET_VRING_CALL, &v, 8, &ev, 1, TMO), 0);
		close(ev);
		s.num = 1;
		assert_int_equal(ff_request_ack(f, VU_SET_VRING_ENABLE, &s, 8, NULL, 0, TMO), 0);
		assert_true(vu_vring_live(&p->net.dev, q));
	}
	assert_true(vu_net_running(&p->net));
	assert_true(p->vut.vfd[VU_FD_KICK][0] >= 0);
}

/* The fds a connected port holds go away with the connection. */
static void assert_port_clean(struct port *p)
{
	assert_int_equal(p->vut.conn_fd, -1);
	assert_int_equal(p->vut.nfds, 0);
	assert_int_equal(p->vut.have, 0);
	for (int k = 0; k < 3; k++)
		for (int q = 0; q < VU_MAX_VRINGS; q++)
			assert_int_equal(p->vut.vfd[k][q], -1);
	assert_int_equal(p->net.dev.mem.nregions, 0);
	assert_false(vu_net_running(&p->net));
}

static void test_server_handshake_and_hangup(void **state)
{
	struct ff f;
	struct guest g;
	int listening_fds;

	(void)state;
	assert_int_equal(port_start(&ports[0], "a", false, 0), 0);
	assert_int_equal(ports[0].vut.state, VUT_LISTENING);
	listening_fds = tt_count_fds();
	guest_open(&g);
	ff_open(&f, &ports[0]);
	bringup(&f, &ports[0], &g);
	ff_close(&f);
	assert_true(wait_state(&ports[0], VUT_LISTENING, TMO));
	assert_port_clean(&ports[0]);
	assert_int_equal(ports[0].vut.connects, 1);
	assert_int_equal(ports[0].vut.disconnects, 1);
	guest_close(&g);
	assert_int_equal(tt_count_fds(), listening_fds);
	/* A new frontend gets a fresh device. */
	guest_open(&g);
	ff_open(&f, &ports[0]);
	bringup(&f, &ports[0], &g);
	ff_close(&f);
	guest_close(&g);
	assert_true(wait_state(&ports[0], VUT_LISTENING, TMO));
	assert_int_equal(tt_count_fds(), listening_fds);
}

/* Header (with its fd) and then EOF: back to listening, the fd freed. */
static void test_hangup_mid_message(void **state)
{
	struct ff f;
	int listening_fds, fd;
	uint32_t faults[] = { FF_HDR_ONLY_CLOSE, FF_HALF_PAYLOAD };

	(void)state;
	assert_int_equal(port_start(&ports[0], "a", false, 0), 0);
	listening_fds = tt_count_fds();
	for (size_t i = 0; i < 2; i++) {
		struct vu_mem_table_wire mt = { .nregions = 1 };

		mt.r[0].size = MEM_SIZE;
		fd = tt_memfd(MEM_SIZE);
		ff_open(&f, &ports[0]);
		assert_int_equal(ff_send(&f, VU_SET_MEM_TABLE, V, &mt, 40, &fd, 1,
					 faults[i]), 0);
		close(fd);
		for (int k = 0; k < 20; k++)
			pump(NULL);
		if (faults[i] == FF_HALF_PAYLOAD) {
			/* Still waiting for the rest, holding the fd. */
			assert_int_equal(ports[0].vut.state, VUT_CONNECTED);
			assert_int_equal(ports[0].vut.nfds, 1);
			ff_close(&f);
		}
		assert_true(wait_state(&ports[0], VUT_LISTENING, TMO));
		assert_non_null(strstr(ports[0].vut.last_error, "mid-message"));
		assert_port_clean(&ports[0]);
		assert_int_equal(tt_count_fds(), listening_fds);
	}
}

/* One port's frontend stalls mid-message; the other port carries on. */
static void test_stall_does_not_block_other_port(void **state)
{
	struct ff fa, fb;
	struct guest g;
	struct vu_msg m;
	struct vu_vring_state st = { 1, 0 };

	(void)state;
	assert_int_equal(port_start(&ports[0], "a", false, 0), 0);
	assert_int_equal(port_start(&ports[1], "b", false, 0), 0);
	ff_open(&fa, &ports[0]);
	assert_int_equal(ff_send(&fa, VU_GET_VRING_BASE, V, &st, 8, NULL, 0,
				 FF_HALF_PAYLOAD), 0);
	guest_open(&g);
	ff_open(&fb, &ports[1]);
	bringup(&fb, &ports[1], &g);
	assert_int_equal(ports[0].vut.state, VUT_CONNECTED);
	assert_int_equal(ports[0].vut.have, sizeof(struct vu_msg_hdr) + 4);
	/* No reply yet: the message is not whole. */
	assert_int_equal(ff_recv(&fa, &m, 50), -ETIMEDOUT);
	/* The rest arrives: handled as one message. */
	assert_int_equal(ff_finish(&fa), 0);
	assert_int_equal(ff_recv(&fa, &m, TMO), 0);
	assert_int_equal(m.hdr.request, VU_GET_VRING_BASE);
	assert_int_equal(m.hdr.size, 8);
	assert_int_equal(m.p.state.index, 1);
	ff_close(&fa);
	ff_close(&fb);
	guest_close(&g);
	assert_true(wait_state(&ports[0], VUT_LISTENING, TMO));
	assert_true(wait_state(&ports[1], VUT_LISTENING, TMO));
}

static void test_too_many_fds_and_oversize(void **state)
{
	struct ff f;
	int fds[FF_MAX_FDS], listening_fds;
	struct vu_mem_table_wire mt = { .nregions = 8 };

	(void)state;
	assert_int_equal(port_start(&ports[0], "a", false, 0), 0);
	listening_fds = tt_count_fds();
	for (unsigned int n = 9; n <= FF_MAX_FDS; n += 7) {
		for (unsigned int i = 0; i < n; i++)
			fds[i] = tt_eventfd();
		ff_open(&f, &ports[0]);
		assert_int_equal(ff_send(&f, VU_SET_MEM_TABLE, V, &mt, 8 + 8 * 32, fds,
					 n, 0), 0);
		for (unsigned int i = 0; i < n; i++)
			close(fds[i]);
		assert_true(ff_hung_up(&f, TMO));
		ff_close(&f);
		assert_true(wait_state(&ports[0], VUT_LISTENING, TMO));
		assert_port_clean(&ports[0]);
		assert_int_equal(tt_count_fds(), listening_fds);
	}
	/* A header claiming more than VU_MAX_PAYLOAD: dropped before reading it. */
	fds[0] = tt_eventfd();
	ff_open(&f, &ports[0]);
	assert_int_equal(ff_send(&f, VU_SET_FEATURES, V, NULL, 8, fds, 1,
				 FF_SIZE_OVER_MAX), 0);
	close(fds[0]);
	assert_true(ff_hung_up(&f, TMO));
	ff_close(&f);
	assert_true(wait_state(&ports[0], VUT_LISTENING, TMO));
	assert_non_null(strstr(ports[0].vut.last_error, "payload bytes"));
	assert_port_clean(&ports[0]);
	assert_int_equal(tt_count_fds(), listening_fds);
}

/* A protocol violation drops only that frontend; a second one is refused while connected. */
static void test_violation_and_second_frontend(void **state)
{
	struct ff f, f2;
	uint64_t v;

	(void)state;
	assert_int_equal(port_start(&ports[0], "a", false, 0), 0);
	ff_open(&f, &ports[0]);
	memset(&f2, 0, sizeof(f2));
	f2.pump = pump;
	assert_int_equal(ff_connect(&f2, ports[0].path), 0);
	assert_true(ff_hung_up(&f2, TMO));
	ff_close(&f2);
	assert_int_equal(ports[0].vut.state, VUT_CONNECTED);
	assert_int_equal(ff_get_u64(&f, VU_GET_FEATURES, &v, TMO), 0);
	/* SET_FEATURES with 7 bytes: the connection goes. */
	assert_int_equal(ff_send(&f, VU_SET_FEATURES, V, &v, 7, NULL, 0, 0), 0);
	assert_true(ff_hung_up(&f, TMO));
	ff_close(&f);
	assert_true(wait_state(&ports[0], VUT_LISTENING, TMO));
	assert_non_null(strstr(ports[0].vut.last_error, "SET_FEATURES"));
}

/* Listen at path now (as a frontend in server mode would). */
static int listen_at(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	assert_true(s >= 0);
	memcpy(a.sun_path, path, strlen(path) + 1);
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s, 4), 0);
	return s;
}

/* Accept within ms while pumping the backend's loop; the fd or -1. */
static int accept_within(int ls, int ms, uint64_t *took_ms)
{
	uint64_t start = now_ms();

	while (now_ms() - start < (uint64_t)ms) {
		int c = accept4(ls, NULL, NULL, SOCK_CLOEXEC);

		if (c >= 0) {
			*took_ms = now_ms() - start;
			return c;
		}
		pump(NULL);
	}
	return -1;
}

static void test_client_reconnects(void **state)
{
	struct port *p = &ports[0];
	struct ff f;
	uint64_t took, v;
	int ls, c;

	(void)state;
	assert_int_equal(port_start(p, "c", true, 100), 0);
	/* Nobody listens yet: it backs off and keeps trying. */
	assert_true(wait_state(p, VUT_BACKOFF, TMO));
	for (int i = 0; i < 30; i++)
		pump(NULL);
	assert_int_not_equal(p->vut.state, VUT_CONNECTED);
	ls = listen_at(p->path);
	c = accept_within(ls, 1000, &took);
	assert_true(c >= 0);
	print_message("client connected %llu ms after the listener appeared\n",
		      (unsigned long long)took);
	assert_true(took <= 100 + 250);	/* the interval, plus a loaded CI machine */
	assert_true(wait_state(p, VUT_CONNECTED, TMO));
	memset(&f, 0, sizeof(f));
	f.pump = pump;
	ff_attach(&f, c);
	assert_int_equal(ff_get_u64(&f, VU_GET_FEATURES, &v, TMO), 0);
	assert_true(v & (1ull << VU_F_VERSION_1));
	/* The frontend goes away: back off, then reconnect by itself. */
	ff_close(&f);
	assert_true(wait_state(p, VUT_BACKOFF, TMO));
	c = accept_within(ls, 1000, &took);
	assert_true(c >= 0);
	print_message("client reconnected %llu ms after the hangup\n",
		      (unsigned long long)took);
	assert_true(took <= 100 + 250);	/* the interval, plus a loaded CI machine */
	assert_true(wait_state(p, VUT_CONNECTED, TMO));
	assert_int_equal(p->vut.connects, 2);
	assert_int_equal(p->vut.disconnects, 1);
	ff_attach(&f, c);
	assert_int_equal(ff_get_u64(&f, VU_GET_PROTOCOL_FEATURES, &v, TMO), 0);
	/* A protocol violation in client mode also ends in a reconnect. */
	assert_int_equal(ff_send(&f, 99, V, NULL, 0, NULL, 0, 0), 0);
	assert_true(ff_hung_up(&f, TMO));
	ff_close(&f);
	c = accept_within(ls, 1000, &took);
	assert_true(c >= 0);
	close(c);
	close(ls);
	unlink(p->path);
	vut_stop(&p->vut);
	p->started = false;
	assert_int_equal(p->vut.state, VUT_IDLE);
	assert_int_equal(p->vut.conn_fd, -1);
}

/*
 * fds split over the parts of one message: more than one message may
 * carry in total must drop the connection, as nine in one part do.
 */
static void test_fds_split_over_parts(void **state)
{
	struct ff f;
	int fds[8], listening_fds;
	struct vu_mem_table_wire mt = { .nregions = 8 };
	uint8_t buf[sizeof(struct vu_msg_hdr) + 8 + 8 * 32];
	struct vu_msg_hdr h = { VU_SET_MEM_TABLE, V, 8 + 8 * 32 };

	(void)state;
	assert_int_equal(port_start(&ports[0], "a", false, 0), 0);
	listening_fds = tt_count_fds();
	for (int i = 0; i < 8; i++) {
		mt.r[i].gpa = (uint64_t)i << 20;
		mt.r[i].size = 0x1000;
		mt.r[i].uva = UVA_BASE + ((uint64_t)i << 20);
		fds[i] = tt_memfd(0x1000);
	}
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), &mt, 8 + 8 * 32);
	ff_open(&f, &ports[0]);
	/* The header with eight fds, then the payload with one more. */
	assert_int_equal(ff_send_raw(&f, buf, sizeof(h), fds, 8), 0);
	for (int k = 0; k < 10; k++)
		pump(NULL);
	assert_int_equal(ff_send_raw(&f, buf + sizeof(h), sizeof(buf) - sizeof(h),
				     fds, 1), 0);
	for (int i = 0; i < 8; i++)
		close(fds[i]);
	assert_true(ff_hung_up(&f, TMO));
	ff_close(&f);
	assert_true(wait_state(&ports[0], VUT_LISTENING, TMO));
	assert_int_equal(ports[0].net.dev.mem.nregions, 0);
	assert_port_clean(&ports[0]);
	assert_int_equal(tt_count_fds(), listening_fds);
}

/*
 * A frontend whose listen backlog is full: a non-blocking AF_UNIX
 * connect() fails with EAGAIN and nothing is in progress.  The port must
 * back off and retry, never claim to be connected.
 */
static void test_client_backlog_full(void **state)
{
	struct port *p = &ports[0];
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	uint64_t took;
	int ls, filler, c;

	(void)state;
	snprintf(p->path, sizeof(p->path), "%s/full.sock", dir);
	ls = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	memcpy(a.sun_path, p->path, strlen(p->path) + 1);
	assert_int_equal(bind(ls, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(ls, 0), 0);
	filler = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(filler, (struct sockaddr *)&a, sizeof(a)), 0);

	vu_net_init(&p->net, "full", &vut_ops, &p->vut, 1);
	p->started = true;
	assert_int_equal(vut_start(&p->vut, loop, "full", p->path, true, 50,
				   &p->net.dev), 0);
	for (int i = 0; i < 200; i++)
		pump(NULL);
	assert_int_equal(p->vut.connects, 0);
	assert_int_not_equal(p->vut.state, VUT_CONNECTED);
	/* Room in the backlog again: it connects on a retry. */
	c = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
	assert_true(c >= 0);
	close(c);
	close(filler);
	c = accept_within(ls, 1000, &took);
	assert_true(c >= 0);
	assert_true(wait_state(p, VUT_CONNECTED, TMO));
	assert_int_equal(p->vut.connects, 1);
	close(c);
	close(ls);
	unlink(p->path);
}

/*
 * The frontend shrinks its memory file under a live ring: the access
 * faults (SIGBUS), the guard swaps in zero pages, and only that port is
 * told.  The other port's memory is untouched.
 */
static void test_sigbus_guard(void **state)
{
	struct ff fa, fb;
	struct guest ga, gb;
	struct vq *vq;

	(void)state;
	assert_int_equal(vut_guard_init(), 0);
	assert_int_equal(port_start(&ports[0], "a", false, 0), 0);
	assert_int_equal(port_start(&ports[1], "b", false, 0), 0);
	guest_open(&ga);
	guest_open(&gb);
	ff_open(&fa, &ports[0]);
	bringup(&fa, &ports[0], &ga);
	ff_open(&fb, &ports[1]);
	bringup(&fb, &ports[1], &gb);
	/* The guest publishes two buffers on port b's ring 1. */
	gb.mem[0x4000 + 0x1000 + 2] = 2;
	assert_int_equal(vq_avail_count(&ports[1].net.dev.vring[1].vq), 2);

	munmap(ga.mem, MEM_SIZE);
	assert_int_equal(ftruncate(ga.fd, 0), 0);
	vq = &ports[0].net.dev.vring[1].vq;
	assert_int_equal(vq_avail_count(vq), 0);	/* faulted, zero page */
	assert_true(vut_take_fault(&ports[0].vut));
	assert_false(vut_take_fault(&ports[0].vut));
	assert_false(vut_take_fault(&ports[1].vut));
	assert_int_equal(vq_avail_count(&ports[1].net.dev.vring[1].vq), 2);
	/* What the daemon does with it: drop that frontend. */
	vut_drop(&ports[0].vut, "peer memory vanished");
	assert_int_equal(ports[0].vut.state, VUT_LISTENING);
	assert_port_clean(&ports[0]);
	assert_true(ff_hung_up(&fa, TMO));
	ff_close(&fa);
	close(ga.fd);
	ff_close(&fb);
	guest_close(&gb);
	assert_true(wait_state(&ports[1], VUT_LISTENING, TMO));
}

static uint64_t rng = 0x2545f4914f6cdd1dull;

static uint32_t rnd_below(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

/*
 * Random byte streams, cut at random points, with random fds on random
 * parts, from 300 frontends in turn: the framing must never crash, leak
 * an fd or stay connected to a frontend that hung up.
 */
static void test_random_streams(void **state)
{
	int listening_fds;
	unsigned int drops = 0;

	(void)state;
	assert_int_equal(port_start(&ports[0], "r", false, 0), 0);
	listening_fds = tt_count_fds();
	for (int conn = 0; conn < 300; conn++) {
		uint8_t buf[4096];
		size_t len = 0;
		struct ff f;

		/* Mostly headers of known requests with sizes near the truth. */
		while (len < sizeof(buf) - sizeof(struct vu_msg)) {
			struct vu_msg_hdr h = {
				.request = rnd_below(8) ? 1 + rnd_below(40) : (uint32_t)rng,
				.flags = rnd_below(8) ? V : (uint32_t)rng,
				.size = rnd_below(4) ? 8 * rnd_below(6) : rnd_below(1200),
			};
			size_t body = h.size > VU_MAX_PAYLOAD ? rnd_below(64) : h.size;

			memcpy(buf + len, &h, sizeof(h));
			len += sizeof(h);
			for (size_t i = 0; i < body; i++)
				buf[len + i] = (uint8_t)rnd_below(256);
			len += body;
			if (rnd_below(4) == 0)
				break;
		}
		ff_open(&f, &ports[0]);
		for (size_t off = 0; off < len && f.fd >= 0;) {
			size_t part = 1 + rnd_below(64);
			int fds[12];
			unsigned int nfds = rnd_below(3) ? 0 : rnd_below(12);

			if (part > len - off)
				part = len - off;
			for (unsigned int i = 0; i < nfds; i++)
				fds[i] = rnd_below(2) ? tt_eventfd() : tt_memfd(0x1000);
			if (ff_send_raw(&f, buf + off, part, fds, nfds) != 0)
				off = len;	/* the backend hung up on us */
			for (unsigned int i = 0; i < nfds; i++)
				close(fds[i]);
			off += part;
			pump(NULL);
		}
		if (ports[0].vut.state != VUT_CONNECTED || ff_hung_up(&f, 0))
			drops++;
		ff_close(&f);
		assert_true(wait_state(&ports[0], VUT_LISTENING, TMO));
		assert_port_clean(&ports[0]);
		assert_int_equal(tt_count_fds(), listening_fds);
	}
	print_message("random streams: %u of 300 dropped by the backend\n", drops);
	assert_true(drops > 30);
}

/*
 * A socket path that names an existing file that is not a socket (a typo
 * in a config, run as root): refuse to start, never delete the file.
 * A stale socket from an earlier run is replaced.
 */
static void test_path_not_a_socket(void **state)
{
	char file[128];
	int fd, s;
	struct sockaddr_un a = { .sun_family = AF_UNIX };

	(void)state;
	snprintf(file, sizeof(file), "%s/precious", dir);
	fd = open(file, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "data", 4), 4);
	close(fd);
	vu_net_init(&ports[0].net, "p", &vut_ops, &ports[0].vut, 1);
	assert_true(vut_start(&ports[0].vut, loop, "p", file, false, 0,
			      &ports[0].net.dev) < 0);
	assert_int_equal(access(file, F_OK), 0);
	unlink(file);

	/* A stale socket (its server gone) is fine to replace. */
	snprintf(ports[0].path, sizeof(ports[0].path), "%s/stale.sock", dir);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	memcpy(a.sun_path, ports[0].path, strlen(ports[0].path) + 1);
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	close(s);
	assert_int_equal(vut_start(&ports[0].vut, loop, "p", ports[0].path, false, 0,
				   &ports[0].net.dev), 0);
	ports[0].started = true;
	assert_int_equal(ports[0].vut.state, VUT_LISTENING);
}

/*
 * QEMU sends one backing fd for several regions (RAM below and above
 * 4 GiB) with different mmap offsets; an offset need not be page
 * aligned.  Each region must map its own slice of the file.
 */
static void test_regions_share_a_memfd(void **state)
{
	struct ff f;
	int fd = tt_memfd(0x40000), fds[3] = { fd, fd, fd };
	uint8_t *g = mmap(NULL, 0x40000, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	struct vu_mem_table_wire mt = { .nregions = 3 };
	const struct vu_mem *mem = &ports[0].net.dev.mem;
	uint64_t v, len;
	uint8_t *p;

	(void)state;
	assert_true(g != MAP_FAILED);
	for (int i = 0; i < 0x40000; i++)
		g[i] = (uint8_t)(i * 7 + (i >> 12));
	mt.r[0] = (struct vu_region_wire){ 0x0, 0x10000, UVA_BASE, 0 };
	mt.r[1] = (struct vu_region_wire){ 0x100000000ull, 0x10000, UVA_BASE + 0x10000, 0x10000 };
	mt.r[2] = (struct vu_region_wire){ 0x200000000ull, 0x800, UVA_BASE + 0x20000, 0x20800 };
	assert_int_equal(port_start(&ports[0], "a", false, 0), 0);
	ff_open(&f, &ports[0]);
	v = PROTO_ALL;
	assert_int_equal(ff_send(&f, VU_SET_PROTOCOL_FEATURES, V, &v, 8, NULL, 0, 0), 0);
	assert_int_equal(ff_request_ack(&f, VU_SET_MEM_TABLE, &mt, 8 + 3 * 32, fds, 3, TMO), 0);
	assert_int_equal(mem->nregions, 3);
	for (int r = 0; r < 3; r++) {
		uint64_t probe[] = { 0, 0x123, mt.r[r].size - 1 };

		for (int k = 0; k < 3; k++) {
			len = 1;
			p = vu_mem_gpa(mem, mt.r[r].gpa + probe[k], &len);
			assert_non_null(p);
			assert_int_equal(*p, g[mt.r[r].mmap_offset + probe[k]]);
		}
	}
	/* Not past a region's end, even where the file goes on. */
	len = 0x100;
	p = vu_mem_gpa(mem, 0x200000000ull + 0x7f0, &len);
	assert_non_null(p);
	assert_int_equal(len, 0x10);
	len = 1;
	assert_null(vu_mem_gpa(mem, 0x200000000ull + 0x800, &len));
	ff_close(&f);
	assert_true(wait_state(&ports[0], VUT_LISTENING, TMO));
	munmap(g, 0x40000);
	close(fd);
}

/*
 * Every mapping of peer memory must be guarded: 64 ports with 256
 * regions each is more mappings than the guard table had.  A mapping
 * the guard does not cover must be refused, never made; a peer that
 * shrinks a covered one is contained.  The touch runs in a child so an
 * unguarded fault fails the test instead of killing it.
 */
/* Every port at its region limit, and some more. */
#define MANY (SW_MAX_PORTS * VU_MAX_MEM_REGIONS + 64)

static void test_every_mapping_guarded(void **state)
{
	static struct vu_mem_region r[MANY];
	static struct vu_dev dev;	/* a port always has one (vut.h) */
	struct vut_port vp;
	int prev_fd = -1, cur_fd = -1, n, rc = 0, status;
	pid_t child;

	(void)state;
	assert_int_equal(vut_guard_init(), 0);
	memset(&vp, 0, sizeof(vp));
	vp.dev = &dev;
	snprintf(vp.name, sizeof(vp.name), "many");
	for (n = 0; n < MANY; n++) {
		int fd = tt_memfd(0x1000);

		r[n] = (struct vu_mem_region){ .gpa = (uint64_t)n << 12, .size = 0x1000,
					       .uva = UVA_BASE + ((uint64_t)n << 12) };
		if (prev_fd >= 0)
			close(prev_fd);
		prev_fd = cur_fd;
		cur_fd = dup(fd);
		rc = vut_ops.map(&vp, &r[n], fd);
		if (rc)
			break;
	}
	print_message("%d mappings made, then %d\n", n, rc);
	/* Every port can have all its regions; past that, refused. */
	assert_true(n >= SW_MAX_PORTS * VU_MAX_MEM_REGIONS);
	if (rc) {
		assert_int_equal(rc, -ENOSPC);
		close(cur_fd);
		cur_fd = prev_fd;	/* the last mapping made */
		prev_fd = -1;
	}
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		volatile uint8_t *p = r[n - 1].hva;

		if (ftruncate(cur_fd, 0) < 0)
			_exit(2);
		(void)p[0];
		_exit(vut_take_fault(&vp) ? 0 : 3);
	}
	assert_int_equal(waitpid(child, &status, 0), child);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("touching a shrunk mapping: %s %d",
			 WIFSIGNALED(status) ? "killed by signal" : "exit",
			 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
	close(cur_fd);
	if (prev_fd >= 0)
		close(prev_fd);
	for (int i = 0; i < n; i++)
		vut_ops.unmap(&vp, &r[i]);
}

/*
 * A call or err "notifier" that is a regular file (a memfd) would grow by
 * 8 bytes per notification, in memory charged to the switch, for as long
 * as the peer likes.  It must be refused; eventfds and pipes are fine.
 */
static void test_notifier_must_not_grow(void **state)
{
	struct ff f;
	struct guest g;
	struct stat st;
	int mfd, pfd[2], dup_fd;
	uint64_t v;

	(void)state;
	assert_int_equal(port_start(&ports[0], "a", false, 0), 0);
	guest_open(&g);
	ff_open(&f, &ports[0]);
	bringup(&f, &ports[0], &g);
	mfd = tt_memfd(0);
	dup_fd = dup(mfd);
	v = 0;
	assert_int_not_equal(ff_request_ack(&f, VU_SET_VRING_CALL, &v, 8, &mfd, 1, TMO), 0);
	v = 1;
	assert_int_not_equal(ff_request_ack(&f, VU_SET_VRING_ERR, &v, 8, &mfd, 1, TMO), 0);
	close(mfd);
	for (int i = 0; i < 100; i++) {
		vut_ops.signal(&ports[0].vut, VU_FD_CALL, 0);
		vut_ops.signal(&ports[0].vut, VU_FD_ERR, 1);
	}
	assert_int_equal(fstat(dup_fd, &st), 0);
	assert_int_equal(st.st_size, 0);
	close(dup_fd);
	/* A pipe is a legal (if odd) notifier: bounded, never blocks us. */
	assert_int_equal(pipe(pfd), 0);
	v = 2;
	assert_int_equal(ff_request_ack(&f, VU_SET_VRING_CALL, &v, 8, &pfd[1], 1, TMO), 0);
	close(pfd[1]);
	for (int i = 0; i < 20000; i++)
		vut_ops.signal(&ports[0].vut, VU_FD_CALL, 2);
	close(pfd[0]);
	ff_close(&f);
	guest_close(&g);
	assert_true(wait_state(&ports[0], VUT_LISTENING, TMO));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_server_handshake_and_hangup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hangup_mid_message, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stall_does_not_block_other_port, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_many_fds_and_oversize, setup, teardown),
		cmocka_unit_test_setup_teardown(test_violation_and_second_frontend, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_reconnects, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fds_split_over_parts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_backlog_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sigbus_guard, setup, teardown),
		cmocka_unit_test_setup_teardown(test_random_streams, setup, teardown),
		cmocka_unit_test_setup_teardown(test_path_not_a_socket, setup, teardown),
		cmocka_unit_test_setup_teardown(test_regions_share_a_memfd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_mapping_guarded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_notifier_must_not_grow, setup, teardown),
	};

	if (!getenv("VU_TEST_VERBOSE"))
		vlog_set_level(VLOG_ERR);
	return cmocka_run_group_tests_name("vut", tests, NULL, NULL);
}
