/* SPDX-License-Identifier: MIT */
/*
 * drivers/vxlan/vxlan_dp: a VXLAN port's datapath without its socket.
 * Receive: a datagram from a remote becomes its inner frame and teaches
 * the remote-MAC table; one from elsewhere, truncated, or in a VNI the
 * port does not carry is dropped by reason; vxlan-vlans tags a mapped
 * VNI's frame.  Transmit: the datagram built, one message per remote for
 * an unknown MAC and one for a learned one, a mapped VLAN's tag stripped
 * and its VNI taken, an unmapped VLAN and an oversize frame refused, the
 * push hook called when the queue is full, and a peer's checksum
 * finished and counted.  clear-stats zeroes the counters only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vxlan_dp.h"

static const uint8_t MA[6] = { 2, 0, 0, 0, 0, 0xa }, MB[6] = { 2, 0, 0, 0, 0, 0xb };

static unsigned int pushes;

static void push(struct vxlan_dp *d, void *arg)
{
	(void)arg;
	pushes++;
	d->ntmsg = d->ntbuf = 0;
}

static struct sockaddr_in addr(uint32_t a)
{
	struct sockaddr_in s = { .sin_family = AF_INET, .sin_port = htons(VXLAN_PORT) };

	s.sin_addr.s_addr = htonl(a);
	return s;
}

/* Two remotes; with map, VLAN 10 travels in VNI 1010. */
static struct vxlan_dp *dp_new(bool map)
{
	struct vxlan_dp *d = calloc(1, sizeof(*d));

	assert_non_null(d);
	d->vni = 42;
	if (map) {
		d->nvmap = 1;
		d->vmap[0].vid = 10;
		d->vmap[0].vni = 1010;
	}
	d->remote[0] = addr(0x0a000002);
	d->remote[1] = addr(0x0a000003);
	d->nremote = 2;
	vxlan_fdb_init(&d->fdb, 1000);
	d->push = push;
	vxlan_dp_rx_prep(d, 0, 1);		/* the time: 1 */
	pushes = 0;
	return d;
}

/* Datagram slot i: VNI vni, an inner frame MB -> MA of len bytes, from a. */
static void datagram(struct vxlan_dp *d, unsigned int i, uint32_t vni, uint32_t len,
		     uint32_t a)
{
	uint8_t *b = d->rbuf[i];

	vxlan_encap(b, vni);
	memset(b + VXLAN_HLEN, 0x5a, len);
	memcpy(b + VXLAN_HLEN, MA, 6);
	memcpy(b + VXLAN_HLEN + 6, MB, 6);
	b[VXLAN_HLEN + 12] = 0x08;
	b[VXLAN_HLEN + 13] = 0x00;
	d->rmsg[i].msg_len = VXLAN_HLEN + len;
	d->rfrom[i] = addr(a);
}

static void test_rx(void **state)
{
	struct vxlan_dp *d = dp_new(false);
	struct sw_frame f[SW_BURST];

	(void)state;
	assert_int_equal(vxlan_dp_rx_prep(d, 100, 1), SW_BURST);
	datagram(d, 0, 42, 60, 0x0a000003);	/* good, from the second remote */
	datagram(d, 1, 42, 60, 0x0a000009);	/* from no remote */
	datagram(d, 2, 43, 60, 0x0a000002);	/* another VNI */
	datagram(d, 3, 42, 60, 0x0a000002);
	d->rmsg[3].msg_hdr.msg_flags = MSG_TRUNC;
	datagram(d, 4, 42, 13, 0x0a000002);	/* no room for an Ethernet header */
	assert_int_equal(vxlan_dp_rx(d, 5, f), 1);
	assert_int_equal(f[0].len, 60);
	assert_int_equal(f[0].nseg, 1);
	assert_ptr_equal(f[0].seg[0].base, d->rbuf[0] + VXLAN_HLEN);
	assert_memory_equal(f[0].eth + 6, MB, 6);
	assert_false(sw_off_any(&f[0].off));
	assert_int_equal(vxlan_fdb_lookup(&d->fdb, MB, 2), 1);
	assert_int_equal(d->drops[VXLAN_UNKNOWN_VTEP], 1);
	assert_int_equal(d->drops[VXLAN_BAD_VNI], 1);
	assert_int_equal(d->drops[VXLAN_TOO_SHORT], 1);
	assert_int_equal(d->rx_truncated, 1);
	vxlan_dp_clear_stats(d);
	assert_int_equal(d->drops[VXLAN_UNKNOWN_VTEP] + d->rx_truncated, 0);
	assert_int_equal(vxlan_fdb_lookup(&d->fdb, MB, 2), 1);	/* not a counter */
	free(d);
}

static void test_rx_map(void **state)
{
	struct vxlan_dp *d = dp_new(true);
	struct sw_frame f[SW_BURST];

	(void)state;
	vxlan_dp_rx_prep(d, 3, 1);
	datagram(d, 0, 1010, 60, 0x0a000002);	/* VLAN 10 */
	datagram(d, 1, 42, 60, 0x0a000002);	/* the port's own VNI: untagged */
	datagram(d, 2, 1020, 60, 0x0a000002);	/* not mapped */
	assert_int_equal(vxlan_dp_rx(d, 3, f), 2);
	assert_int_equal(f[0].len, 64);
	assert_memory_equal(f[0].seg[0].base, MA, 6);
	assert_memory_equal(f[0].seg[0].base + 12, "\x81\x00\x00\x0a\x08\x00", 6);
	assert_int_equal(f[1].len, 60);
	assert_memory_equal(f[1].seg[0].base + 12, "\x08\x00", 2);
	assert_int_equal(d->drops[VXLAN_BAD_VNI], 1);
	free(d);
}

/* A frame src -> dst of len bytes in two segments, tagged vid unless < 0. */
static uint8_t fbuf[2048];

static void tx_frame(struct sw_frame *f, const uint8_t *dst, int vid, uint32_t len)
{
	uint32_t o = 12;

	memset(f, 0, sizeof(*f));
	memset(fbuf, 0x5a, len);
	memcpy(fbuf, dst, 6);
	memcpy(fbuf + 6, MA, 6);
	if (vid >= 0) {
		memcpy(fbuf + 12, "\x81\x00", 2);
		fbuf[14] = (uint8_t)(vid >> 8);
		fbuf[15] = (uint8_t)vid;
		o = 16;
	}
	fbuf[o] = 0x08;
	fbuf[o + 1] = 0x00;
	f->len = len;
	memcpy(f->eth, fbuf, SW_ETH_HLEN);
	f->nseg = 2;
	f->seg[0].base = fbuf;
	f->seg[0].len = 14;
	f->seg[1].base = fbuf + 14;
	f->seg[1].len = len - 14;
}

static uint32_t vni_of(const uint8_t *h)
{
	return (uint32_t)h[4] << 16 | (uint32_t)h[5] << 8 | h[6];
}

static void test_tx(void **state)
{
	struct vxlan_dp *d = dp_new(false);
	struct sw_frame f;

	(void)state;
	/* unknown MAC: one datagram, one message per remote */
	tx_frame(&f, MB, -1, 60);
	assert_int_equal(vxlan_dp_send(d, &f), 0);
	assert_int_equal(d->ntbuf, 1);
	assert_int_equal(d->ntmsg, 2);
	assert_int_equal(d->tx_replicas, 1);
	assert_int_equal(d->tiov[0].iov_len, VXLAN_HLEN + 60);
	assert_int_equal(vni_of(d->tbuf[0]), 42);
	assert_memory_equal(d->tbuf[0] + VXLAN_HLEN, fbuf, 60);
	assert_ptr_equal(d->tmsg[0].msg_hdr.msg_name, &d->remote[0]);
	assert_ptr_equal(d->tmsg[1].msg_hdr.msg_name, &d->remote[1]);
	/* learned behind the second remote: only there */
	vxlan_fdb_learn(&d->fdb, MB, 1, 1);
	assert_int_equal(vxlan_dp_send(d, &f), 0);
	assert_int_equal(d->ntmsg, 3);
	assert_ptr_equal(d->tmsg[2].msg_hdr.msg_name, &d->remote[1]);
	assert_ptr_equal(d->tmsg[2].msg_hdr.msg_iov, &d->tiov[1]);
	/* too big for a datagram slot */
	tx_frame(&f, MB, -1, VXLAN_DP_BUF_LEN - VXLAN_HLEN + 1);
	assert_int_equal(vxlan_dp_send(d, &f), -EMSGSIZE);
	assert_int_equal(d->tx_too_big, 1);
	/* the queue full: pushed first */
	tx_frame(&f, MB, -1, 60);
	for (unsigned int i = 2; i < VXLAN_DP_TX_BUFS; i++)
		assert_int_equal(vxlan_dp_send(d, &f), 0);
	assert_int_equal(pushes, 0);
	assert_int_equal(vxlan_dp_send(d, &f), 0);
	assert_int_equal(pushes, 1);
	assert_int_equal(d->ntbuf, 1);
	free(d);
}

static void test_tx_map(void **state)
{
	struct vxlan_dp *d = dp_new(true);
	struct sw_frame f;

	(void)state;
	tx_frame(&f, MB, 10, 64);
	assert_int_equal(vxlan_dp_send(d, &f), 0);
	assert_int_equal(vni_of(d->tbuf[0]), 1010);
	assert_int_equal(d->tiov[0].iov_len, VXLAN_HLEN + 60);
	assert_memory_equal(d->tbuf[0] + VXLAN_HLEN, fbuf, 12);
	assert_memory_equal(d->tbuf[0] + VXLAN_HLEN + 12, fbuf + 16, 48);
	tx_frame(&f, MB, -1, 60);		/* untagged: the port's VNI */
	assert_int_equal(vxlan_dp_send(d, &f), 0);
	assert_int_equal(vni_of(d->tbuf[1]), 42);
	assert_int_equal(d->tiov[1].iov_len, VXLAN_HLEN + 60);
	tx_frame(&f, MB, 30, 64);		/* no VNI for VLAN 30 */
	assert_int_equal(vxlan_dp_send(d, &f), -EIO);
	assert_int_equal(d->tx_unmapped, 1);
	assert_int_equal(d->ntbuf, 2);
	free(d);
}

/* A UDP/IPv4 frame with a partial checksum: completed, then sent. */
static void test_tx_offload(void **state)
{
	struct vxlan_dp *d = dp_new(false);
	struct sw_frame f;
	uint8_t *ip = fbuf + 14, *udp = ip + 20;

	(void)state;
	tx_frame(&f, MB, -1, 14 + 20 + 8 + 18);
	memset(ip, 0, 28);
	ip[0] = 0x45;
	ip[3] = 46;
	ip[8] = 64;
	ip[9] = 17;
	memcpy(ip + 12, "\x0a\x00\x00\x01\x0a\x00\x00\x02", 8);
	udp[1] = 7;
	udp[3] = 9;
	udp[5] = 26;
	f.off.flags = SW_OFF_CSUM;
	f.off.csum_start = 34;
	f.off.csum_offset = 6;
	assert_int_equal(vxlan_dp_send(d, &f), 0);
	assert_int_equal(d->ost.out_sw_csum, 1);
	assert_int_equal(d->ntbuf, 1);
	/* the checksum was written into the datagram, not into the frame */
	assert_true(d->tbuf[0][VXLAN_HLEN + 40] | d->tbuf[0][VXLAN_HLEN + 41]);
	assert_int_equal(udp[6] | udp[7], 0);
	free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rx),
		cmocka_unit_test(test_rx_map),
		cmocka_unit_test(test_tx),
		cmocka_unit_test(test_tx_map),
		cmocka_unit_test(test_tx_offload),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
