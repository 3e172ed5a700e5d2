/* SPDX-License-Identifier: MIT */
/*
 * fuzz_sw_vlan: 802.1Q tag parsing and the tag push/pop of the switch, on
 * frames the fuzzer writes.  A fixed switch (a transparent port, an access
 * port, two trunks, one with a native VLAN, and a mirror) takes each
 * frame on the port the input names, split into segments where the input
 * says (inside the tag too); every frame a port is sent is checked: its
 * segments add up to len, the header copy is its first bytes, the shift
 * is 0 or +-4, and a VLAN-aware port gets only its own VLANs, tagged or
 * not as it should.  sw_vlan_classify is also run alone against a port
 * setting from the input.  Input: records of [port, split, len] + bytes.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sw.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NPORT 5
#define FMAX 2048

static struct sw *S;
static struct sw_port_vlan V[NPORT];
static uint8_t in[SW_BURST][FMAX];
static uint32_t inlen[SW_BURST], insplit[SW_BURST];
static unsigned int nin, cur;
static uint64_t now;

static unsigned int f_recv(void *ctx, struct sw_frame *f, unsigned int n)
{
	unsigned int k = 0;

	if ((int)(intptr_t)ctx != (int)cur)
		return 0;
	for (; k < n && k < nin; k++) {
		uint32_t len = inlen[k], a = insplit[k] < len ? insplit[k] : len;

		memset(&f[k], 0, offsetof(struct sw_frame, seg));
		f[k].len = len;
		memcpy(f[k].eth, in[k], len < SW_ETH_HLEN ? len : SW_ETH_HLEN);
		f[k].nseg = 0;
		if (a) {
			f[k].seg[f[k].nseg].base = in[k];
			f[k].seg[f[k].nseg++].len = a;
		}
		if (len > a) {
			f[k].seg[f[k].nseg].base = in[k] + a;
			f[k].seg[f[k].nseg++].len = len - a;
		}
	}
	nin = 0;
	return k;
}

static void f_recv_done(void *ctx)
{
	(void)ctx;
}

static int f_send(void *ctx, const struct sw_frame *f)
{
	unsigned int p = (unsigned int)(uintptr_t)ctx;
	static uint8_t b[FMAX + 8];
	uint32_t len = 0;

	if (f->nseg > SW_FRAME_MAX_SEGS)
		abort();
	for (unsigned int i = 0; i < f->nseg; i++) {
		if (len + f->seg[i].len > sizeof(b))
			abort();
		memcpy(b + len, f->seg[i].base, f->seg[i].len);
		len += f->seg[i].len;
	}
	if (len != f->len || len < SW_ETH_HLEN ||
	    memcmp(b, f->eth, SW_ETH_HLEN) != 0)
		abort();
	if (f->l2_shift != 0 && f->l2_shift != 4 && f->l2_shift != -4)
		abort();
	if (p == 4)
		return 0;		/* the mirror: copies as received */
	if (V[p].aware) {
		bool tagged = b[12] == 0x81 && b[13] == 0x00;
		unsigned int vid;

		if (tagged && len < SW_ETH_HLEN + 4)
			abort();
		vid = tagged ? ((unsigned int)(b[14] << 8 | b[15]) & 0xfff) : V[p].pvid;
		if (!tagged && !V[p].pvid)
			abort();	/* untagged to a trunk with no native VLAN */
		if (tagged && (vid == V[p].pvid || !sw_vlan_test(V[p].trunks, vid)))
			abort();	/* tagged in a VLAN it does not carry tagged */
		/* a nested tag never goes out of a VLAN-aware port */
		if (tagged && len >= 18 &&
		    ((b[16] == 0x81 && b[17] == 0x00) || (b[16] == 0x88 && b[17] == 0xa8)))
			abort();
	}
	return 0;
}

static void f_flush(void *ctx)
{
	(void)ctx;
}

static const struct sw_port_ops ops = { f_recv, f_recv_done, f_send, f_flush };

static void init(void)
{
	struct sw_config c;

	sw_config_default(&c);
	c.mac_max = 64;
	c.mac_max_per_port = 16;
	c.mac_move_max = 2;
	S = sw_create(&c);
	if (!S)
		abort();
	for (unsigned int p = 0; p < NPORT; p++) {
		char name[4] = { 'p', (char)('0' + p), 0, 0 };

		if (sw_port_add(S, name, &ops, (void *)(uintptr_t)p) != (int)p)
			abort();
		sw_port_set_up(S, (int)p, true);
		V[p].pvid = 1;
	}
	V[1] = (struct sw_port_vlan){ .aware = true, .pvid = 10 };
	V[2] = (struct sw_port_vlan){ .aware = true, .pvid = 1 };
	sw_vlan_set(V[2].trunks, 10);
	sw_vlan_set(V[2].trunks, 20);
	V[3] = (struct sw_port_vlan){ .aware = true, .pvid = 0 };
	sw_vlan_set(V[3].trunks, 20);
	sw_vlan_set(V[3].trunks, 30);
	for (unsigned int p = 1; p < 4; p++)
		if (sw_port_set_vlan(S, (int)p, &V[p]))
			abort();
	if (sw_mirror_set(S, 0, 0x6, 4))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sw_port_vlan v = { .aware = true };
	struct sw_vlan_info vi;
	struct sw_frame f;

	if (!S)
		init();
	/* alone: a port setting from the first bytes, the rest as a frame */
	if (size >= 4) {
		v.pvid = (uint16_t)((data[0] << 8 | data[1]) % 4095);
		sw_vlan_set(v.trunks, (unsigned int)(data[2] << 4 | data[3] >> 4));
		memset(&f, 0, sizeof(f));
		f.len = (uint32_t)(size - 4);
		memcpy(f.eth, data + 4, f.len < SW_ETH_HLEN ? f.len : SW_ETH_HLEN);
		if (f.len) {
			f.nseg = 1;
			f.seg[0].base = data + 4;
			f.seg[0].len = f.len;
		}
		if (sw_vlan_classify(&v, &f, &vi) == 0 &&
		    (vi.vid == 0 || vi.vid > SW_VLAN_MAX ||
		     (vi.hlen != 14 && vi.hlen != 18) || vi.hlen > f.len))
			abort();
	}
	/* records: port, split, len (2 bytes), then the frame */
	while (size >= 4) {
		unsigned int p = data[0] % 4;
		uint32_t len = (uint32_t)(data[2] << 8 | data[3]) % FMAX;

		if (len > size - 4)
			len = (uint32_t)(size - 4);
		memcpy(in[0], data + 4, len);
		inlen[0] = len;
		insplit[0] = data[1];
		nin = 1;
		cur = p;
		now += 100000000ULL;
		sw_poll(S, now);
		data += 4 + len;
		size -= 4 + len;
	}
	return 0;
}
