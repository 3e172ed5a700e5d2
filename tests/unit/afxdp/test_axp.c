/* SPDX-License-Identifier: MIT */
/*
 * drivers/afxdp: the rx descriptor check.  A descriptor must lie inside
 * one UMEM frame of the rx part; anything else is refused before the
 * switch sees a byte.  (The socket itself runs against a real veth in
 * tests/integration/test_uplink_afxdp.py.)
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "axp.h"

static void test_desc_check(void **state)
{
	const uint64_t umem = 4 * AXP_FRAME_SIZE;
	uint64_t off = 0;

	(void)state;
	assert_int_equal(axp_desc_check(0, 60, umem, &off), 0);
	assert_int_equal(off, 0);
	assert_int_equal(axp_desc_check(AXP_FRAME_SIZE + 256, 1514, umem, &off), 0);
	assert_int_equal(off, AXP_FRAME_SIZE + 256);
	/* Exactly to the end of the frame, and one byte over. */
	assert_int_equal(axp_desc_check(256, AXP_FRAME_SIZE - 256, umem, &off), 0);
	assert_int_equal(axp_desc_check(256, AXP_FRAME_SIZE - 255, umem, &off), -EINVAL);
	/* Past the UMEM, and lengths that would wrap. */
	assert_int_equal(axp_desc_check(umem, 1, umem, &off), -EINVAL);
	assert_int_equal(axp_desc_check(umem - 1, 2, umem, &off), -EINVAL);
	assert_int_equal(axp_desc_check(0, UINT32_MAX, umem, &off), -EINVAL);
	assert_int_equal(axp_desc_check(UINT64_MAX, 1, umem, &off), -EINVAL);
	/* The unaligned-mode offset bits count too. */
	assert_int_equal(axp_desc_check((uint64_t)16 << 48 | AXP_FRAME_SIZE, 60, umem, &off), 0);
	assert_int_equal(off, AXP_FRAME_SIZE + 16);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_desc_check),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
