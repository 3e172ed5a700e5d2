/* SPDX-License-Identifier: MIT */
/*
 * sw_hash: the keyed hash of the MAC table, SipHash-1-3 (Aumasson and
 * Bernstein, "SipHash: a fast short-input PRF") on a 6-byte MAC.
 * The key is a random secret chosen when the switch is created, so a peer
 * that picks source MACs cannot aim them at one bucket.  Internal to switch/;
 * the unit test checks it against a published implementation's output.
 */
#ifndef SW_HASH_H
#define SW_HASH_H

#include <stdint.h>

/* The MAC as a 48-bit little-endian number: byte 0 in bits 0-7. */
static inline uint64_t sw_mac_key(const uint8_t *m)
{
	return (uint64_t)m[0] | (uint64_t)m[1] << 8 | (uint64_t)m[2] << 16 |
	       (uint64_t)m[3] << 24 | (uint64_t)m[4] << 32 |
	       (uint64_t)m[5] << 40;
}

static inline uint64_t sw_rotl64(uint64_t x, unsigned int b)
{
	return (x << b) | (x >> (64 - b));
}

/* The SipHash state after keying; computed once per switch. */
struct sw_hash_key {
	uint64_t v[4];
};

static inline void sw_hash_init(struct sw_hash_key *k, uint64_t k0,
				uint64_t k1)
{
	k->v[0] = k0 ^ 0x736f6d6570736575ULL;	/* "somepseu" */
	k->v[1] = k1 ^ 0x646f72616e646f6dULL;	/* "dorandom" */
	k->v[2] = k0 ^ 0x6c7967656e657261ULL;	/* "lygenera" */
	k->v[3] = k1 ^ 0x7465646279746573ULL;	/* "tedbytes" */
}

#define SW_SIPROUND(v0, v1, v2, v3) do {				\
	v0 += v1; v1 = sw_rotl64(v1, 13); v1 ^= v0; v0 = sw_rotl64(v0, 32); \
	v2 += v3; v3 = sw_rotl64(v3, 16); v3 ^= v2;			\
	v0 += v3; v3 = sw_rotl64(v3, 21); v3 ^= v0;			\
	v2 += v1; v1 = sw_rotl64(v1, 17); v1 ^= v2; v2 = sw_rotl64(v2, 32); \
} while (0)

/*
 * SipHash-1-3 of the 6 bytes of a MAC given as sw_mac_key() returns it.
 * A message shorter than 8 bytes is a single final block: its bytes, and
 * the length in the top byte.
 */
static inline uint64_t sw_hash_mac(const struct sw_hash_key *k, uint64_t mac)
{
	uint64_t v0 = k->v[0], v1 = k->v[1], v2 = k->v[2], v3 = k->v[3];
	uint64_t b = mac | (uint64_t)6 << 56;

	v3 ^= b;
	SW_SIPROUND(v0, v1, v2, v3);
	v0 ^= b;
	v2 ^= 0xff;
	SW_SIPROUND(v0, v1, v2, v3);
	SW_SIPROUND(v0, v1, v2, v3);
	SW_SIPROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

/*
 * SipHash-1-3 of an 8-byte message given as a little-endian number: the
 * MAC table's key, a MAC and its VLAN (sw.c).  One block, then the final
 * block holding only the length.
 */
static inline uint64_t sw_hash_u64(const struct sw_hash_key *k, uint64_t m)
{
	uint64_t v0 = k->v[0], v1 = k->v[1], v2 = k->v[2], v3 = k->v[3];
	uint64_t b = (uint64_t)8 << 56;

	v3 ^= m;
	SW_SIPROUND(v0, v1, v2, v3);
	v0 ^= m;
	v3 ^= b;
	SW_SIPROUND(v0, v1, v2, v3);
	v0 ^= b;
	v2 ^= 0xff;
	SW_SIPROUND(v0, v1, v2, v3);
	SW_SIPROUND(v0, v1, v2, v3);
	SW_SIPROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

#endif
