/* SPDX-License-Identifier: MIT */
/*
 * drivers/vxlan: the header both ways (RFC 7348 section 5), every reason a
 * datagram is refused, and the remote-MAC table (learning, ageing, group
 * MACs never learned, flush).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vxlan.h"

static void test_encap_decap(void **state)
{
	uint8_t d[VXLAN_HLEN + 64];

	(void)state;
	memset(d, 0xee, sizeof(d));
	vxlan_encap(d, 0xabcdef);
	assert_int_equal(d[0], 0x08);
	assert_int_equal(d[1] | d[2] | d[3] | d[7], 0);
	assert_int_equal(d[4], 0xab);
	assert_int_equal(d[5], 0xcd);
	assert_int_equal(d[6], 0xef);
	assert_int_equal(vxlan_decap(d, sizeof(d), 0xabcdef), VXLAN_OK);
	assert_int_equal(vxlan_decap(d, sizeof(d), 0xabcdee), VXLAN_BAD_VNI);
	assert_int_equal(vxlan_decap(d, VXLAN_HLEN + 14, 0xabcdef), VXLAN_OK);
	assert_int_equal(vxlan_decap(d, VXLAN_HLEN + 13, 0xabcdef), VXLAN_TOO_SHORT);
	assert_int_equal(vxlan_decap(d, 0, 0xabcdef), VXLAN_TOO_SHORT);
	/* Reserved bits are ignored; the I flag is not. */
	d[1] = d[7] = 0xff;
	d[0] = 0xf7 | 0x08;
	assert_int_equal(vxlan_decap(d, sizeof(d), 0xabcdef), VXLAN_OK);
	d[0] = 0xf7;
	assert_int_equal(vxlan_decap(d, sizeof(d), 0xabcdef), VXLAN_BAD_FLAGS);
	assert_string_equal(vxlan_verdict_names[VXLAN_UNKNOWN_VTEP], "vxlan_unknown_vtep");
}

/* vxlan-vlans: the VNI read out, and the inner frame tagged in place. */
static void test_decap_vni_and_tag(void **state)
{
	uint8_t d[VXLAN_HLEN + 60];
	uint32_t vni = 0;

	(void)state;
	vxlan_encap(d, 1010);
	for (unsigned int i = 0; i < 60; i++)
		d[VXLAN_HLEN + i] = (uint8_t)i;		/* MACs 0..11, type 0x0c0d */
	assert_int_equal(vxlan_decap_vni(d, sizeof(d), &vni), VXLAN_OK);
	assert_int_equal(vni, 1010);
	assert_int_equal(vxlan_decap_vni(d, VXLAN_HLEN + 13, &vni), VXLAN_TOO_SHORT);
	d[0] = 0;
	assert_int_equal(vxlan_decap_vni(d, sizeof(d), &vni), VXLAN_BAD_FLAGS);
	vxlan_tag_inner(d, 4094);
	for (unsigned int i = 0; i < 12; i++)
		assert_int_equal(d[VXLAN_HLEN - 4 + i], i);
	assert_int_equal(d[VXLAN_HLEN + 8], 0x81);
	assert_int_equal(d[VXLAN_HLEN + 9], 0x00);
	assert_int_equal(d[VXLAN_HLEN + 10], 0x0f);	/* PCP 0, VID 4094 */
	assert_int_equal(d[VXLAN_HLEN + 11], 0xfe);
	for (unsigned int i = 12; i < 60; i++)		/* type and payload untouched */
		assert_int_equal(d[VXLAN_HLEN + i], i);
}

static void test_fdb(void **state)
{
	static struct vxlan_fdb f;
	const uint8_t a[6] = { 0x52, 0x54, 0, 0, 0, 1 }, b[6] = { 0x52, 0x54, 0, 0, 0, 2 };
	const uint8_t bc[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	const uint8_t mc[6] = { 0x01, 0x00, 0x5e, 0, 0, 1 }, zero[6] = { 0 };

	(void)state;
	vxlan_fdb_init(&f, 1000);
	assert_int_equal(vxlan_fdb_lookup(&f, a, 0), -1);
	vxlan_fdb_learn(&f, a, 3, 100);
	vxlan_fdb_learn(&f, b, 5, 100);
	assert_int_equal(vxlan_fdb_lookup(&f, a, 500), 3);
	assert_int_equal(vxlan_fdb_lookup(&f, b, 1100), 5);
	assert_int_equal(vxlan_fdb_lookup(&f, b, 1101), -1);	/* aged */
	vxlan_fdb_learn(&f, a, 4, 200);				/* moved */
	assert_int_equal(vxlan_fdb_lookup(&f, a, 300), 4);
	vxlan_fdb_learn(&f, bc, 1, 100);
	vxlan_fdb_learn(&f, mc, 1, 100);
	vxlan_fdb_learn(&f, zero, 1, 100);
	vxlan_fdb_learn(&f, b, VXLAN_REMOTES_MAX, 100);		/* no such remote */
	assert_int_equal(vxlan_fdb_lookup(&f, bc, 100), -1);
	assert_int_equal(vxlan_fdb_lookup(&f, mc, 100), -1);
	assert_int_equal(vxlan_fdb_lookup(&f, zero, 100), -1);
	assert_int_equal(vxlan_fdb_lookup(&f, b, 150), 5);
	vxlan_fdb_flush(&f, 5);
	assert_int_equal(vxlan_fdb_lookup(&f, b, 150), -1);
	assert_int_equal(vxlan_fdb_lookup(&f, a, 300), 4);
	vxlan_fdb_flush(&f, -1);
	assert_int_equal(vxlan_fdb_lookup(&f, a, 300), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encap_decap),
		cmocka_unit_test(test_decap_vni_and_tag),
		cmocka_unit_test(test_fdb),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
