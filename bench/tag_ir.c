/* SPDX-License-Identifier: MIT */
/*
 * tag_ir: the cost per frame of the switch's datapath for 802.1Q tag push
 * and pop and for VXLAN encapsulation and decapsulation, next to the
 * untagged path, at 64 and 1518 bytes: instructions (callgrind, through
 * bench/tag_ir.sh) and native CPU ns per frame.
 *
 * Port 0 is always a "peer" port: its frames lie in two segments of peer
 * memory (a 14- or 18-byte header, then the rest), and its send copies
 * every segment into a receive buffer, as a virtio port would, so the
 * payload copy and the switch's own header segment are in the figure.
 * Port 1 is another such port (untagged, push, pop) or a VXLAN port: the
 * daemon's own VXLAN datapath (drivers/vxlan/vxlan_dp.c, what
 * appliance/port_vxlan.c runs) with only its two system calls replaced:
 * recvmmsg by writing each slot's length and source address (the
 * datagrams were written into the slots once, before the measurement;
 * with a VLAN-to-VNI map the 20 bytes the in-place tagging overwrites are
 * written back per datagram), and sendmmsg by emptying the queue.  The
 * kernel's UDP work is not in these figures (bench/uplink.sh has the
 * whole path).
 *
 * Cases: untagged (both ports transparent); push (access port 10 to a
 * trunk of 10) and pop (back); encap (peer to VXLAN VNI 42) and decap
 * (back); encap-map and decap-map: a VXLAN port with vxlan-vlans 10:1010
 * and an access port of VLAN 10, so the switch pushes the tag and the
 * VXLAN port strips it and picks the VNI (and the reverse).  Each case
 * learns both MACs first, so the measured frames are unicast.
 *
 * Usage: tag_ir [REPS]: each case REPS times, round robin (median ns
 * printed).  Built
 * with -DTAG_IR_UNTAGGED_ONLY it uses only the API the switch had before
 * VLANs, so the same harness measures an older sw.c for comparison.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sw.h"

#ifndef TAG_IR_UNTAGGED_ONLY
#include <arpa/inet.h>

#include "ev.h"
#include "vxlan_dp.h"
#endif

#include "callgrind_shim.h"

#define FRAMES (64 * 1024)
#define FMAX 1536
#define REPS_MAX 15

static const uint8_t M0[6] = { 2, 0, 0, 0, 0, 1 }, M1[6] = { 2, 0, 0, 0, 0, 2 };

/* ---- a peer port ---- */

struct bport {
	uint8_t frame[FMAX];		/* what this port's peer sends */
	uint32_t len, hlen;
	unsigned int left;		/* frames still to hand out */
	uint8_t rx[FMAX + 64];		/* where send copies to */
	uint32_t rx_len;		/* of the last frame received */
	unsigned long sent;
};

static struct bport P[2];

static unsigned int b_recv(void *ctx, struct sw_frame *f, unsigned int n)
{
	struct bport *p = ctx;
	unsigned int k;

	for (k = 0; k < n && p->left; k++, p->left--) {
		f[k].len = p->len;
		memcpy(f[k].eth, p->frame, SW_ETH_HLEN);
		f[k].nseg = 2;
		f[k].seg[0].base = p->frame;
		f[k].seg[0].len = p->hlen;
		f[k].seg[1].base = p->frame + p->hlen;
		f[k].seg[1].len = p->len - p->hlen;
	}
	return k;
}

static void b_recv_done(void *ctx)
{
	(void)ctx;
}

static int b_send(void *ctx, const struct sw_frame *f)
{
	struct bport *p = ctx;
	uint32_t off = 0;

	for (unsigned int i = 0; i < f->nseg; i++) {
		memcpy(p->rx + off, f->seg[i].base, f->seg[i].len);
		off += f->seg[i].len;
	}
	p->rx_len = off;
	p->sent++;
	return 0;
}

static void b_flush(void *ctx)
{
	(void)ctx;
}

static const struct sw_port_ops b_ops = { b_recv, b_recv_done, b_send, b_flush };

/* An Ethernet frame of len bytes (tagged vid unless vid < 0) at buf. */
static uint32_t frame_at(uint8_t *buf, const uint8_t *dst, const uint8_t *src,
			 int vid, uint32_t len)
{
	uint32_t o = 12;

	memset(buf, 0x5a, len);
	memcpy(buf, dst, 6);
	memcpy(buf + 6, src, 6);
	if (vid >= 0) {
		buf[o++] = 0x81;
		buf[o++] = 0x00;
		buf[o++] = (uint8_t)(vid >> 8);
		buf[o++] = (uint8_t)vid;
	}
	buf[o++] = 0x08;
	buf[o++] = 0x00;
	return o;
}

static void frame(struct bport *p, const uint8_t *dst, const uint8_t *src,
		  int vid, uint32_t len)
{
	p->hlen = frame_at(p->frame, dst, src, vid, len);
	p->len = len;
}

/* ---- a VXLAN port: the daemon's datapath without its socket ---- */

#ifndef TAG_IR_UNTAGGED_ONLY
#define VNI 42u
#define MAP_VID 10u
#define MAP_VNI 1010u

struct bvx {
	struct vxlan_dp d;
	unsigned int left;		/* datagrams still to "receive" */
	uint32_t dlen;			/* each one's length */
	struct sockaddr_in from;	/* the remote VTEP they come from */
	bool restore;			/* in-place tagging overwrote hdr */
	uint8_t hdr[VXLAN_HLEN + 12];
	unsigned long datagrams;	/* "sent" */
};

static struct bvx V;

/* recvmmsg: the slots hold the datagram already; length and source only. */
static unsigned int v_recv(void *ctx, struct sw_frame *f, unsigned int n)
{
	struct bvx *v = ctx;

	n = vxlan_dp_rx_prep(&v->d, n, ev_now_ns());
	if (n > v->left)
		n = v->left;
	for (unsigned int i = 0; i < n; i++) {
		v->d.rmsg[i].msg_len = v->dlen;
		v->d.rfrom[i] = v->from;
		if (v->restore)
			memcpy(v->d.rbuf[i], v->hdr, sizeof(v->hdr));
	}
	v->left -= n;
	return n ? vxlan_dp_rx(&v->d, n, f) : 0;
}

/* sendmmsg taking every message. */
static void v_push(struct vxlan_dp *d, void *arg)
{
	struct bvx *v = arg;

	v->datagrams += d->ntmsg;
	d->ntmsg = d->ntbuf = 0;
}

static int v_send(void *ctx, const struct sw_frame *f)
{
	struct bvx *v = ctx;

	return vxlan_dp_send(&v->d, f);
}

static void v_flush(void *ctx)
{
	struct bvx *v = ctx;

	if (v->d.ntmsg)
		v_push(&v->d, v);
}

static const struct sw_port_ops v_ops = { v_recv, b_recv_done, v_send, v_flush };

/* The port, and a datagram from its remote carrying an inner frame. */
static void vx_setup(struct bvx *v, bool map, uint32_t inner_len)
{
	uint32_t vni = map ? MAP_VNI : VNI;

	memset(v, 0, sizeof(*v));
	v->d.vni = VNI;
	if (map) {
		v->d.nvmap = 1;
		v->d.vmap[0].vid = MAP_VID;
		v->d.vmap[0].vni = MAP_VNI;
	}
	v->from.sin_family = AF_INET;
	v->from.sin_port = htons(VXLAN_PORT);
	v->from.sin_addr.s_addr = htonl(0x7f000002);
	v->d.remote[0] = v->from;
	v->d.nremote = 1;
	vxlan_fdb_init(&v->d.fdb, 300ull * 1000000000ull);
	v->d.push = v_push;
	v->d.push_arg = v;
	for (unsigned int i = 0; i < SW_BURST; i++) {
		vxlan_encap(v->d.rbuf[i], vni);
		frame_at(v->d.rbuf[i] + VXLAN_HLEN, M0, M1, -1, inner_len);
	}
	memcpy(v->hdr, v->d.rbuf[0], sizeof(v->hdr));
	v->dlen = VXLAN_HLEN + inner_len;
	v->restore = map;
}

/* The last datagram built: VNI, and an untagged IPv4 inner frame of len. */
static int vx_check(const struct bvx *v, uint32_t vni, uint32_t inner_len)
{
	uint8_t want[VXLAN_HLEN];
	const uint8_t *b = v->d.tbuf[0];

	vxlan_encap(want, vni);
	if (memcmp(b, want, VXLAN_HLEN) || memcmp(b + VXLAN_HLEN, M1, 6) ||
	    b[VXLAN_HLEN + 12] != 0x08 || b[VXLAN_HLEN + 13] != 0x00 ||
	    v->d.tiov[0].iov_len != VXLAN_HLEN + inner_len)
		return -1;
	return 0;
}
#endif

/* ---- the cases ---- */

enum kind { UNTAGGED, PUSH, POP, ENCAP, DECAP, ENCAP_MAP, DECAP_MAP };

static const char *const kind_name[] = {
	"untagged", "push", "pop", "encap", "decap", "encap-map", "decap-map",
};

static uint64_t now_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/*
 * One case at size bytes (the largest frame it carries: the tagged one
 * for push and pop, the inner one for VXLAN; a map case's access side is
 * size - 4).  The ns per frame, or < 0 on a failure.
 */
static double run(enum kind k, uint32_t size)
{
	bool vlans = k == PUSH || k == POP || k == ENCAP_MAP || k == DECAP_MAP;
	bool vx = k >= ENCAP, map = k == ENCAP_MAP || k == DECAP_MAP;
	bool back = k == POP || k == DECAP || k == DECAP_MAP;	/* from port 1 */
	uint32_t access = vlans ? size - 4 : size;
	unsigned long got;
	struct sw_config c;
	struct sw *s;
	uint64_t t0, t1, frames = 0;
	char name[32];
	int bad = 0;

	sw_config_default(&c);
	s = sw_create(&c);
	if (!s)
		return -1;
	memset(P, 0, sizeof(P));
	if (sw_port_add(s, "access", &b_ops, &P[0]) != 0)
		return -1;
#ifndef TAG_IR_UNTAGGED_ONLY
	if (vx) {
		vx_setup(&V, map, map ? access : size);
		if (sw_port_add(s, "vxlan", &v_ops, &V) != 1)
			return -1;
	} else
#endif
	if (sw_port_add(s, "trunk", &b_ops, &P[1]) != 1)
		return -1;
	sw_port_set_up(s, 0, true);
	sw_port_set_up(s, 1, true);
#ifndef TAG_IR_UNTAGGED_ONLY
	if (vlans) {
		struct sw_port_vlan a = { .aware = true, .pvid = MAP_VID };
		struct sw_port_vlan t = { .aware = true, .pvid = 0 };

		sw_vlan_set(t.trunks, MAP_VID);
		if (sw_port_set_vlan(s, 0, &a) || sw_port_set_vlan(s, 1, &t))
			return -1;
	}
#else
	if (vlans || vx) {
		sw_destroy(s);
		return 0;
	}
#endif
	/* each side says hello once, so the measured frames are unicast */
	frame(&P[0], M1, M0, -1, access);
	frame(&P[1], M0, M1, vlans ? (int)MAP_VID : -1, size);
	P[0].left = 1;
	P[1].left = vx ? 0 : 1;
#ifndef TAG_IR_UNTAGGED_ONLY
	V.left = vx ? 1 : 0;
#endif
	sw_poll(s, 1);
	if (back) {
		P[1].left = FRAMES;
#ifndef TAG_IR_UNTAGGED_ONLY
		V.left = vx ? FRAMES : 0;
#endif
	} else {
		P[0].left = FRAMES;
	}
	t0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
	CALLGRIND_ZERO_STATS;
	CALLGRIND_START_INSTRUMENTATION;
	for (;;) {
		unsigned int n = sw_poll(s, 1);

		if (!n)
			break;
		frames += n;
	}
	CALLGRIND_STOP_INSTRUMENTATION;
	snprintf(name, sizeof(name), "%s-%u", kind_name[k], size);
	CALLGRIND_DUMP_STATS_AT(name);
	t1 = now_ns(CLOCK_THREAD_CPUTIME_ID);
	/* every frame went out exactly once, as the case says */
	if (!back)
		got = vx ? 0 : P[1].sent;
	else
		got = P[0].sent;
#ifndef TAG_IR_UNTAGGED_ONLY
	if (vx && !back) {
		got = V.datagrams;
		bad = vx_check(&V, map ? MAP_VNI : VNI, access);
	}
#endif
	if (back && (P[0].rx_len != access || P[0].rx[12] != 0x08))
		bad = 1;
	if (!back && !vx && (P[1].rx_len != size || P[1].rx[12] != (vlans ? 0x81 : 0x08)))
		bad = 1;
	if (frames != FRAMES || got != frames + 1 || bad) {
		fprintf(stderr, "%s-%u: %lu of %lu frames delivered%s\n", kind_name[k],
			size, got, (unsigned long)frames, bad ? ", wrong bytes" : "");
		return -1;
	}
	sw_destroy(s);
	return (double)(t1 - t0) / (double)frames;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	static const uint32_t sizes[] = { 64, 1518 };
	enum { NSIZES = sizeof(sizes) / sizeof(sizes[0]), NKINDS = DECAP_MAP + 1 };
	static double ns[NSIZES][NKINDS][REPS_MAX];
	int reps = argc > 1 ? atoi(argv[1]) : 1;

	if (reps < 1 || reps > REPS_MAX) {
		fprintf(stderr, "usage: tag_ir [REPS (1-%d)]\n", REPS_MAX);
		return 2;
	}
	/* Round robin over the cases, so that each sees the machine's load alike. */
	for (int r = 0; r < reps; r++)
		for (size_t z = 0; z < NSIZES; z++)
			for (int k = UNTAGGED; k < NKINDS; k++)
				if ((ns[z][k][r] = run((enum kind)k, sizes[z])) < 0)
					return 1;
	for (size_t z = 0; z < NSIZES; z++) {
		for (int k = UNTAGGED; k < NKINDS; k++) {
			if (ns[z][k][0] == 0)
				continue;	/* not in this build */
			qsort(ns[z][k], (size_t)reps, sizeof(ns[z][k][0]), cmp_d);
			printf("case %s %u %d %.1f\n", kind_name[k], sizes[z], FRAMES,
			       ns[z][k][reps / 2]);
		}
	}
	return 0;
}
