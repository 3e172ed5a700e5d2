/* SPDX-License-Identifier: MIT */
/*
 * vxlan: RFC 7348 section 5 headers and the remote-MAC table.  Untrusted
 * input: datagrams from the network, checked by vxlan_decap before any
 * byte of the inner frame is looked at (see vxlan.h).
 */
#include "vxlan.h"

#include <string.h>

const char *const vxlan_verdict_names[VXLAN_NVERDICTS] = {
	[VXLAN_OK] = "ok",
	[VXLAN_TOO_SHORT] = "vxlan_too_short",
	[VXLAN_BAD_FLAGS] = "vxlan_bad_flags",
	[VXLAN_BAD_VNI] = "vxlan_bad_vni",
	[VXLAN_UNKNOWN_VTEP] = "vxlan_unknown_vtep",
};

enum vxlan_verdict vxlan_decap_vni(const uint8_t *buf, size_t len, uint32_t *vni)
{
	if (len < VXLAN_HLEN + VXLAN_ETH_HLEN)
		return VXLAN_TOO_SHORT;
	if (!(buf[0] & VXLAN_FLAG_I))
		return VXLAN_BAD_FLAGS;
	*vni = (uint32_t)buf[4] << 16 | (uint32_t)buf[5] << 8 | buf[6];
	return VXLAN_OK;
}

enum vxlan_verdict vxlan_decap(const uint8_t *buf, size_t len, uint32_t vni)
{
	uint32_t got = 0;
	enum vxlan_verdict v = vxlan_decap_vni(buf, len, &got);

	if (v != VXLAN_OK)
		return v;
	return got == vni ? VXLAN_OK : VXLAN_BAD_VNI;
}

void vxlan_tag_inner(uint8_t *buf, uint16_t vid)
{
	uint8_t *f = buf + VXLAN_HLEN - 4;

	memmove(f, buf + VXLAN_HLEN, 12);
	f[12] = 0x81;
	f[13] = 0x00;
	f[14] = (uint8_t)(vid >> 8 & 0x0f);
	f[15] = (uint8_t)vid;
}

void vxlan_encap(uint8_t hdr[VXLAN_HLEN], uint32_t vni)
{
	memset(hdr, 0, VXLAN_HLEN);
	hdr[0] = VXLAN_FLAG_I;
	hdr[4] = (uint8_t)(vni >> 16);
	hdr[5] = (uint8_t)(vni >> 8);
	hdr[6] = (uint8_t)vni;
}

static uint64_t mac_key(const uint8_t *m)
{
	return (uint64_t)m[0] << 40 | (uint64_t)m[1] << 32 | (uint64_t)m[2] << 24 |
	       (uint64_t)m[3] << 16 | (uint64_t)m[4] << 8 | m[5];
}

static unsigned int slot(uint64_t key)
{
	return (unsigned int)((key * 0x9e3779b97f4a7c15ull) >> 54) & (VXLAN_FDB_SLOTS - 1);
}

void vxlan_fdb_init(struct vxlan_fdb *f, uint64_t age_ns)
{
	memset(f, 0, sizeof(*f));
	f->age_ns = age_ns;
}

void vxlan_fdb_learn(struct vxlan_fdb *f, const uint8_t *mac, unsigned int remote,
		     uint64_t now_ns)
{
	uint64_t k = mac_key(mac);
	struct vxlan_fdb_entry *e;

	if ((mac[0] & 1) || k == 0 || remote >= VXLAN_REMOTES_MAX)
		return;
	e = &f->e[slot(k)];
	e->mac = k;
	e->remote = (uint8_t)remote;
	e->seen_ns = now_ns;
}

int vxlan_fdb_lookup(const struct vxlan_fdb *f, const uint8_t *mac, uint64_t now_ns)
{
	uint64_t k = mac_key(mac);
	const struct vxlan_fdb_entry *e;

	if ((mac[0] & 1) || k == 0)
		return -1;
	e = &f->e[slot(k)];
	if (e->mac != k || now_ns - e->seen_ns > f->age_ns)
		return -1;
	return e->remote;
}

void vxlan_fdb_flush(struct vxlan_fdb *f, int remote)
{
	for (unsigned int i = 0; i < VXLAN_FDB_SLOTS; i++)
		if (remote < 0 || f->e[i].remote == (unsigned int)remote)
			f->e[i].mac = 0;
}
