/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the EAL arguments the daemon builds for its
 * virtio-vhost-user devices (appliance/daemon_vvu.c, built here without
 * DPDK): the fixed words, -a per device, huge-dir or --in-memory, the
 * eal-args words, the size limits, and the "not built" answers.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "daemon_vvu.h"

static struct vvu_config C;
static char buf[1024], *argv[64];
static char devs[2][VVU_BDF_LEN] = { "0000:00:03.0", "0000:01:00.0" };

static void join(int argc, char *out, size_t n)
{
	size_t len = 0;

	out[0] = '\0';
	for (int i = 0; i < argc; i++)
		len += (size_t)snprintf(out + len, n - len, "%s%s", i ? " " : "",
					argv[i]);
}

static void test_default_args(void **state)
{
	char line[512];
	int argc;

	(void)state;
	vvu_config_default(&C);
	argc = dvvu_eal_args(&C, devs, 2, buf, sizeof(buf), argv, 64);
	assert_int_equal(argc, 12);
	assert_null(argv[argc]);
	join(argc, line, sizeof(line));
	assert_string_equal(line, "vvu-switchd -l 0 --iova-mode=pa --no-telemetry "
			    "--file-prefix=vvu-switchd --huge-dir /mnt/huge "
			    "-a 0000:00:03.0 -a 0000:01:00.0");
}

static void test_in_memory_and_extra(void **state)
{
	char line[512], err[128];
	int argc;

	(void)state;
	vvu_config_default(&C);
	assert_int_equal(vvu_config_parse(&C, "[switch]\nhuge-dir = none\n"
					  "eal-args =   --log-level=7   -n 2 \n",
					  "t", err, sizeof(err)), 0);
	argc = dvvu_eal_args(&C, devs, 0, buf, sizeof(buf), argv, 64);
	join(argc, line, sizeof(line));
	assert_string_equal(line, "vvu-switchd -l 0 --iova-mode=pa --no-telemetry "
			    "--file-prefix=vvu-switchd --in-memory --log-level=7 -n 2");
}

static void test_limits(void **state)
{
	static char many[SW_MAX_PORTS][VVU_BDF_LEN];

	(void)state;
	vvu_config_default(&C);
	for (unsigned int i = 0; i < SW_MAX_PORTS; i++)
		snprintf(many[i], VVU_BDF_LEN, "0000:00:%02x.%x", i / 8, i % 8);
	/* 64 devices need 128 more words than argv has room for. */
	assert_int_equal(dvvu_eal_args(&C, many, SW_MAX_PORTS, buf, sizeof(buf),
				       argv, 64), -E2BIG);
	/* A buffer too small for the words. */
	assert_int_equal(dvvu_eal_args(&C, devs, 2, buf, 40, argv, 64), -E2BIG);
	/* Exactly enough argv for the words and the NULL. */
	assert_int_equal(dvvu_eal_args(&C, devs, 2, buf, sizeof(buf), argv, 13), 12);
	assert_int_equal(dvvu_eal_args(&C, devs, 2, buf, sizeof(buf), argv, 12),
			 -E2BIG);
}

static void test_not_built(void **state)
{
	struct dvvu_hooks hooks = { 0 };
	char err[256] = "";

	(void)state;
	vvu_config_default(&C);
	assert_non_null(dvvu_unavailable());
	assert_int_equal(dvvu_start(&C, devs, 2, &hooks, err, sizeof(err)), -ENOTSUP);
	assert_non_null(strstr(err, "without virtio-vhost-user support"));
	assert_int_equal(dvvu_probe("0000:00:03.0"), -ENOTSUP);
	assert_int_equal(dvvu_event_fd(), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_args),
		cmocka_unit_test(test_in_memory_and_extra),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_not_built),
	};

	return cmocka_run_group_tests_name("daemon_vvu", tests, NULL, NULL);
}
