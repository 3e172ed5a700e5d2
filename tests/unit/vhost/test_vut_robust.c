/* SPDX-License-Identifier: MIT */
/*
 * Robustness tests of the UNIX-socket transport (drivers/unix/vut.c)
 * against a hostile frontend (tests/lib/fake_frontend over real sockets):
 * memory regions whose offset + size leaves off_t or wraps, a kick fd the
 * event loop cannot watch (the ring must not stay running), and a client
 * port whose connects keep failing (one log line, not one per retry).
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
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "ev.h"
#include "fake_frontend.h"
#include "ttransport.h"
#include "vlog.h"
#include "vu_net.h"
#include "vut.h"

#define V	VU_VERSION
#define TMO	2000
#define UVA_BASE 0x7f0000000000ull
#define MEM_SIZE 0x10000

struct port {
	struct vu_net net;
	struct vut_port vut;
	char path[108];
	bool started;
};

static struct ev_loop *loop;
static char dir[64];
static struct port port;
static int fds_before;

static void pump(void *arg)
{
	(void)arg;
	ev_run(loop, 1);
	if (port.started)
		vut_tick(&port.vut, ev_now_ns());
}

static uint64_t now_ms(void)
{
	return ev_now_ns() / 1000000;
}

static bool wait_state(enum vut_state s, int ms)
{
	uint64_t end = now_ms() + (uint64_t)ms;

	while (port.vut.state != s && now_ms() < end)
		pump(NULL);
	return port.vut.state == s;
}

static int port_start(bool client, unsigned int retry_ms)
{
	snprintf(port.path, sizeof(port.path), "%s/p.sock", dir);
	vu_net_init(&port.net, "p", &vut_ops, &port.vut, 1);
	port.started = true;
	return vut_start(&port.vut, loop, "p", port.path, client, retry_ms,
			 &port.net.dev);
}

static int setup(void **state)
{
	(void)state;
	fds_before = tt_count_fds();
	snprintf(dir, sizeof(dir), "/tmp/vut-robust-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	loop = ev_new();
	memset(&port, 0, sizeof(port));
	return loop ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	if (port.started) {
		vut_stop(&port.vut);
		port.started = false;
	}
	ev_free(loop);
	loop = NULL;
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

static void ff_open(struct ff *f)
{
	memset(f, 0, sizeof(*f));
	f->pump = pump;
	assert_int_equal(ff_connect(f, port.path), 0);
	assert_true(wait_state(VUT_CONNECTED, TMO));
}

static void hello(struct ff *f)
{
	uint64_t feat, v = 1ull << VU_PF_REPLY_ACK;

	assert_int_equal(ff_get_u64(f, VU_GET_FEATURES, &feat, TMO), 0);
	assert_int_equal(ff_send(f, VU_SET_PROTOCOL_FEATURES, V, &v, 8, NULL, 0, 0), 0);
	assert_int_equal(ff_request_ack(f, VU_SET_OWNER, NULL, 0, NULL, 0, TMO), 0);
	assert_int_equal(ff_request_ack(f, VU_SET_FEATURES, &feat, 8, NULL, 0, TMO), 0);
}

/* SET_MEM_TABLE with one region backed by fd; returns the ack (0 = taken). */
static int mem_table(struct ff *f, int fd, uint64_t size, uint64_t off)
{
	struct vu_mem_table_wire mt;

	memset(&mt, 0, sizeof(mt));
	mt.nregions = 1;
	mt.r[0].gpa = 0;
	mt.r[0].size = size;
	mt.r[0].uva = UVA_BASE;
	mt.r[0].mmap_offset = off;
	return ff_request_ack(f, VU_SET_MEM_TABLE, &mt, 40, &fd, 1, TMO);
}

/*
 * offset + size past off_t, or exactly 2^64 (the protocol code checks
 * only that offset + size - 1 does not wrap), must be refused before
 * mmap().  /dev/zero has no file size to check against, so without the
 * transport's own check the first one would be mapped.
 */
static void test_map_offset_wrap(void **state)
{
	struct ff f;
	int zero = open("/dev/zero", O_RDWR | O_CLOEXEC);
	int mfd = tt_memfd(MEM_SIZE);

	(void)state;
	assert_true(zero >= 0 && mfd >= 0);
	assert_int_equal(port_start(false, 0), 0);
	ff_open(&f);
	hello(&f);
	/* The same fd, a sane offset: mapped, so refusals below are the offset's. */
	assert_int_equal(mem_table(&f, zero, MEM_SIZE, 0), 0);
	assert_int_equal(port.net.dev.mem.nregions, 1);
	assert_int_equal(mem_table(&f, zero, 0x2000, 0x7ffffffffffff000ull), 1);
	assert_int_equal(mem_table(&f, zero, 0x1000, 0xfffffffffffff000ull), 1);
	assert_int_equal(mem_table(&f, mfd, 0x1000, 0xfffffffffffff000ull), 1);
	assert_int_equal(mem_table(&f, mfd, 0x1000, 1ull << 63), 1);
	/* A refused table leaves the previous one in place. */
	assert_int_equal(port.net.dev.mem.nregions, 1);
	assert_int_equal(mem_table(&f, mfd, MEM_SIZE, 0), 0);
	assert_int_equal(port.vut.state, VUT_CONNECTED);
	ff_close(&f);
	assert_true(wait_state(VUT_LISTENING, TMO));
	close(zero);
	close(mfd);
}

/*
 * A ring started with a good kick, then re-kicked with a regular file,
 * which epoll refuses: the old kick is closed and the new one cannot wake
 * the switch, so the ring must not stay running.  The request is refused,
 * the connection stays, the port is broken with a reason naming the ring,
 * and a good kick afterwards brings it back.  A first kick that cannot be
 * watched leaves its ring stopped.
 */
static void test_unwatchable_kick(void **state)
{
	struct ff f;
	int mfd = tt_memfd(MEM_SIZE), ev = tt_eventfd(), bad = tt_memfd(4096);
	struct vu_vring_state s = { 0, 256 };
	struct vu_vring_addr a = {
		.index = 0, .desc = UVA_BASE, .avail = UVA_BASE + 0x1000,
		.used = UVA_BASE + 0x2000,
	};
	uint64_t q = 0;

	(void)state;
	assert_int_equal(port_start(false, 0), 0);
	ff_open(&f);
	hello(&f);
	assert_int_equal(mem_table(&f, mfd, MEM_SIZE, 0), 0);
	assert_int_equal(ff_request_ack(&f, VU_SET_VRING_NUM, &s, 8, NULL, 0, TMO), 0);
	s.num = 0;
	assert_int_equal(ff_request_ack(&f, VU_SET_VRING_BASE, &s, 8, NULL, 0, TMO), 0);
	assert_int_equal(ff_request_ack(&f, VU_SET_VRING_ADDR, &a, 40, NULL, 0, TMO), 0);
	/* First kick unwatchable: refused, ring not started. */
	assert_int_equal(ff_request_ack(&f, VU_SET_VRING_KICK, &q, 8, &bad, 1, TMO), 1);
	assert_false(port.net.dev.vring[0].started);
	assert_false(port.net.broken);
	/* A good kick starts it. */
	assert_int_equal(ff_request_ack(&f, VU_SET_VRING_KICK, &q, 8, &ev, 1, TMO), 0);
	s.num = 1;
	assert_int_equal(ff_request_ack(&f, VU_SET_VRING_ENABLE, &s, 8, NULL, 0, TMO), 0);
	assert_true(vu_vring_live(&port.net.dev, 0));
	assert_true(vu_net_running(&port.net));

	/* Re-kick with a file: refused, ring no longer live, port broken. */
	assert_int_equal(ff_request_ack(&f, VU_SET_VRING_KICK, &q, 8, &bad, 1, TMO), 1);
	assert_int_equal(port.vut.state, VUT_CONNECTED);
	assert_false(vu_vring_live(&port.net.dev, 0));
	assert_int_equal(port.vut.vfd[VU_FD_KICK][0], -1);
	assert_true(port.net.broken);
	assert_false(vu_net_running(&port.net));
	assert_non_null(strstr(port.net.why, "vring 0"));
	assert_non_null(strstr(port.net.why, "kick"));
	assert_non_null(strstr(port.vut.last_error, "kick"));

	/* The frontend sets the ring up again: running, not broken. */
	assert_int_equal(ff_request_ack(&f, VU_SET_VRING_KICK, &q, 8, &ev, 1, TMO), 0);
	assert_true(vu_vring_live(&port.net.dev, 0));
	assert_false(port.net.broken);
	assert_true(vu_net_running(&port.net));
	assert_int_equal(port.vut.disconnects, 0);

	ff_close(&f);
	assert_true(wait_state(VUT_LISTENING, TMO));
	close(mfd);
	close(ev);
	close(bad);
}

/* Count lines of path that contain needle. */
static int count_lines(const char *path, const char *needle)
{
	FILE *fp = fopen(path, "r");
	char line[512];
	int n = 0;

	if (!fp)
		return -1;
	while (fgets(line, sizeof(line), fp))
		n += strstr(line, needle) != NULL;
	fclose(fp);
	return n;
}

/*
 * A client retrying every 5 ms against nobody logs the failure once, then
 * once per VUT_RETRY_LOG_NS (the clock is moved for that), and says how
 * many attempts it took when it finally connects.
 */
static void test_connect_fail_log_rate(void **state)
{
	char logpath[96];
	int saved = dup(STDERR_FILENO), lf, ls;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	uint64_t end;

	(void)state;
	snprintf(logpath, sizeof(logpath), "%s/log", dir);
	lf = open(logpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(saved >= 0 && lf >= 0);
	vlog_set_level(VLOG_INFO);
	fflush(stderr);
	assert_int_equal(dup2(lf, STDERR_FILENO), STDERR_FILENO);

	assert_int_equal(port_start(true, 5), 0);
	end = now_ms() + 300;
	while (now_ms() < end)
		pump(NULL);
	assert_true(port.vut.connect_fails >= 10);
	assert_int_equal(port.vut.connect_fail_logs, 1);
	assert_int_equal(port.vut.connect_err, ENOENT);
	/* A minute later (as far as the port knows): one more line. */
	port.vut.fail_logged_at_ns -= VUT_RETRY_LOG_NS;
	end = now_ms() + 100;
	while (now_ms() < end)
		pump(NULL);
	assert_int_equal(port.vut.connect_fail_logs, 2);

	ls = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	memcpy(sa.sun_path, port.path, strlen(port.path) + 1);
	assert_int_equal(bind(ls, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(ls, 4), 0);
	assert_true(wait_state(VUT_CONNECTED, TMO));
	assert_int_equal(port.vut.connect_fails, 0);

	fflush(stderr);
	assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	close(saved);
	close(lf);
	assert_int_equal(count_lines(logpath, "connect to"), 2);
	assert_int_equal(count_lines(logpath, "failed attempts"), 1);
	unlink(logpath);

	vut_stop(&port.vut);
	port.started = false;
	close(ls);
	unlink(port.path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_map_offset_wrap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unwatchable_kick, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connect_fail_log_rate, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
