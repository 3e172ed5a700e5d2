/* SPDX-License-Identifier: MIT */
/*
 * vxlan: VXLAN (RFC 7348) headers and the forwarding database of remote
 * VTEPs, as pure functions with no I/O: the port kind (appliance/
 * port_vxlan.c) owns the UDP socket.  Decapsulation reads datagrams from
 * the network, so it is the parser of untrusted input here: it reads at
 * most VXLAN_HLEN bytes of header, takes nothing but the flags and VNI,
 * and says why it refuses a datagram.  A libFuzzer target covers it.
 */
#ifndef VXLAN_H
#define VXLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VXLAN_HLEN 8			/* flags(8) reserved(24) VNI(24) reserved(8) */
#define VXLAN_PORT 4789			/* IANA */
#define VXLAN_VNI_MAX 0xffffffu
#define VXLAN_FLAG_I 0x08		/* "the VNI is valid" (RFC 7348 section 5) */
#define VXLAN_ETH_HLEN 14
#define VXLAN_REMOTES_MAX 16
#define VXLAN_FDB_SLOTS 1024		/* MAC -> remote, direct-mapped */

enum vxlan_verdict {
	VXLAN_OK,
	VXLAN_TOO_SHORT,	/* shorter than the header plus an Ethernet header */
	VXLAN_BAD_FLAGS,	/* the I flag is not set */
	VXLAN_BAD_VNI,		/* not our VNI */
	VXLAN_UNKNOWN_VTEP,	/* from an address that is not a remote */
	VXLAN_NVERDICTS
};

/* "too_short", ...: the reason as counters name it. */
extern const char *const vxlan_verdict_names[VXLAN_NVERDICTS];

/*
 * Check one datagram's payload (buf, len) against vni.  VXLAN_OK and the
 * inner frame at buf + VXLAN_HLEN, len - VXLAN_HLEN bytes; else why not.
 * Reserved bits are ignored, as RFC 7348 asks of a receiver.
 */
enum vxlan_verdict vxlan_decap(const uint8_t *buf, size_t len, uint32_t vni);

/*
 * The same checks without the VNI test: VXLAN_OK and the datagram's VNI
 * in *vni, for a port that maps several VNIs (to VLANs); else why not.
 */
enum vxlan_verdict vxlan_decap_vni(const uint8_t *buf, size_t len, uint32_t *vni);

/*
 * A VNI mapped to a VLAN (vxlan-vlans): give the inner frame of a datagram
 * vxlan_decap_vni accepted (buf, len) an 802.1Q tag for vid, in place and
 * without moving its payload: the two MACs move 4 bytes back over the
 * VXLAN header, which is read by then, and the tag goes between them and
 * the EtherType.  The tagged frame starts at buf + VXLAN_HLEN - 4 and is
 * len - VXLAN_HLEN + 4 bytes long.
 */
void vxlan_tag_inner(uint8_t *buf, uint16_t vid);

/* Write the 8-byte header for vni (I flag set) to hdr. */
void vxlan_encap(uint8_t hdr[VXLAN_HLEN], uint32_t vni);

/*
 * The remote MACs, learned from decapsulated frames: inner source MAC ->
 * index of the remote it came from.  Direct-mapped and bounded: a slot
 * holds the last MAC hashed to it, a miss means "flood to every remote",
 * which is always correct, only wasteful.  Entries older than age_ns are
 * misses.
 */
struct vxlan_fdb_entry {
	uint64_t mac;			/* 48 bits, 0: empty */
	uint64_t seen_ns;
	uint8_t remote;
};

struct vxlan_fdb {
	struct vxlan_fdb_entry e[VXLAN_FDB_SLOTS];
	uint64_t age_ns;
};

void vxlan_fdb_init(struct vxlan_fdb *f, uint64_t age_ns);
/* Learn mac (6 bytes) behind remote; a group MAC is never learned. */
void vxlan_fdb_learn(struct vxlan_fdb *f, const uint8_t *mac, unsigned int remote,
		     uint64_t now_ns);
/* The remote behind mac, or -1 (unknown, aged out, or a group MAC). */
int vxlan_fdb_lookup(const struct vxlan_fdb *f, const uint8_t *mac, uint64_t now_ns);
/* Forget every MAC behind remote (or all of them: remote < 0). */
void vxlan_fdb_flush(struct vxlan_fdb *f, int remote);

#endif
