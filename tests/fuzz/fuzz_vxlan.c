/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer: VXLAN decapsulation (drivers/vxlan) and the remote-MAC table
 * it feeds, on arbitrary datagrams.  The first 3 input bytes pick the VNI
 * and a remote index; the rest is the datagram.  Checks that an accepted
 * datagram carries at least an Ethernet header behind the VXLAN header
 * with the I flag and our VNI, and that learning its source MAC then
 * finds it (unless it is a group MAC).  Then the VXLAN port's datapath
 * (vxlan_dp) takes the same datagram from its remote, with and without a
 * VLAN-to-VNI map, and sends any frame it made back out: the frame lies
 * inside the datagram, and encapsulation takes it or refuses it by reason.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vxlan.h"
#include "vxlan_dp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct vxlan_fdb fdb;
static struct vxlan_dp dp;

static void dp_push(struct vxlan_dp *d, void *arg)
{
	(void)arg;
	d->ntmsg = d->ntbuf = 0;
}

/* The port's datapath on datagram d (len bytes), mapping VLAN 10 or not. */
static void dp_run(const uint8_t *d, size_t len, uint32_t vni, bool map)
{
	struct sw_frame f[1];
	uint64_t sent;

	if (!dp.push) {
		dp.remote[0].sin_family = AF_INET;
		dp.remote[0].sin_addr.s_addr = htonl(0x0a000002);
		dp.nremote = 1;
		vxlan_fdb_init(&dp.fdb, 1000);
		dp.push = dp_push;
	}
	if (len > VXLAN_DP_BUF_LEN)
		return;
	dp.vni = vni;
	dp.nvmap = map ? 1 : 0;
	dp.vmap[0].vid = 10;
	dp.vmap[0].vni = vni ^ 1;
	vxlan_dp_rx_prep(&dp, 1, 1);
	memcpy(dp.rbuf[0], d, len);
	dp.rmsg[0].msg_len = (unsigned int)len;
	dp.rfrom[0] = dp.remote[0];
	if (vxlan_dp_rx(&dp, 1, f) != 1)
		return;
	if (f[0].len < SW_ETH_HLEN || f[0].seg[0].base < dp.rbuf[0] + VXLAN_HLEN - 4 ||
	    f[0].seg[0].base + f[0].len > dp.rbuf[0] + len)
		abort();
	sent = dp.tx_unmapped + dp.tx_too_big;
	if (vxlan_dp_send(&dp, f) == 0) {
		if (dp.ntbuf != 1 || dp.tiov[0].iov_len > VXLAN_HLEN + f[0].len)
			abort();
	} else if (dp.tx_unmapped + dp.tx_too_big != sent + 1) {
		abort();
	}
	dp_push(&dp, NULL);
}

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
	dp_run(data + 3, len, vni, false);
	dp_run(data + 3, len, vni, true);
	free(copy);
	return 0;
}
