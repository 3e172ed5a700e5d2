/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer: VXLAN decapsulation (drivers/vxlan) and the remote-MAC table
 * it feeds, on arbitrary datagrams.  The first 3 input bytes pick the VNI
 * and a remote index; the rest is the datagram.  Checks that an accepted
 * datagram carries at least an Ethernet header behind the VXLAN header
 * with the I flag and our VNI, and that learning its source MAC then
 * finds it (unless it is a group MAC).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vxlan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct vxlan_fdb fdb;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t vni;
	unsigned int remote;
	const uint8_t *d;
	size_t len;
	uint8_t *copy;

	if (size < 3)
		return 0;
	vni = ((uint32_t)data[0] << 16 | (uint32_t)data[1] << 8 | data[2]) & VXLAN_VNI_MAX;
	remote = data[0] % VXLAN_REMOTES_MAX;
	len = size - 3;
	/* An exact-size heap copy: ASan sees any read past the datagram. */
	copy = malloc(len ? len : 1);
	if (!copy)
		return 0;
	memcpy(copy, data + 3, len);
	d = copy;
	if (fdb.age_ns == 0)
		vxlan_fdb_init(&fdb, 1000);
	if (vxlan_decap(d, len, vni) == VXLAN_OK) {
		const uint8_t *src = d + VXLAN_HLEN + 6;

		if (len < VXLAN_HLEN + 14 || !(d[0] & VXLAN_FLAG_I))
			abort();
		vxlan_fdb_learn(&fdb, src, remote, 1);
		if (!(src[0] & 1) && (src[0] | src[1] | src[2] | src[3] | src[4] | src[5]) &&
		    vxlan_fdb_lookup(&fdb, src, 2) != (int)remote)
			abort();
	}
	/* vxlan-vlans: any VNI, and the inner frame tagged in place */
	if (vxlan_decap_vni(copy, len, &vni) == VXLAN_OK) {
		if (len < VXLAN_HLEN + 14)
			abort();
		vxlan_tag_inner(copy, (uint16_t)(vni & 0xfff));
		if (copy[VXLAN_HLEN + 8] != 0x81 || copy[VXLAN_HLEN + 9] != 0)
			abort();
	}
	free(copy);
	return 0;
}
