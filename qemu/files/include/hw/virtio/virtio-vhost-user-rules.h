/*
 * SPDX-License-Identifier: MIT
 * The virtio-vhost-user device's rules for what a vhost-user frontend sends
 * (docs/virtio-vhost-user.md in vvu-switch, section 6.1): one table with each request's
 * payload size, fd count and vring index, and the checks that apply it to a header, a whole
 * message and a memory region description. Plain C without QEMU types, so that the device
 * (hw/virtio/virtio-vhost-user.c) and a libFuzzer target (tests/fuzz/fuzz_vvu_dev.c in
 * vvu-switch) run the same code. Everything checked here comes from an untrusted frontend;
 * the checks read only the bytes they are given.
 */

#ifndef HW_VIRTIO_VIRTIO_VHOST_USER_RULES_H
#define HW_VIRTIO_VIRTIO_VHOST_USER_RULES_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* vhost-user request codes (front-end to back-end), docs/interop/vhost-user.rst. */
enum {
    VU_GET_FEATURES = 1,
    VU_SET_FEATURES = 2,
    VU_SET_OWNER = 3,
    VU_RESET_OWNER = 4,
    VU_SET_MEM_TABLE = 5,
    VU_SET_LOG_BASE = 6,
    VU_SET_LOG_FD = 7,
    VU_SET_VRING_NUM = 8,
    VU_SET_VRING_ADDR = 9,
    VU_SET_VRING_BASE = 10,
    VU_GET_VRING_BASE = 11,
    VU_SET_VRING_KICK = 12,
    VU_SET_VRING_CALL = 13,
    VU_SET_VRING_ERR = 14,
    VU_GET_PROTOCOL_FEATURES = 15,
    VU_SET_PROTOCOL_FEATURES = 16,
    VU_GET_QUEUE_NUM = 17,
    VU_SET_VRING_ENABLE = 18,
    VU_SEND_RARP = 19,
    VU_NET_SET_MTU = 20,
    VU_SET_BACKEND_REQ_FD = 21,
    VU_IOTLB_MSG = 22,
    VU_SET_VRING_ENDIAN = 23,
    VU_GET_CONFIG = 24,
    VU_SET_CONFIG = 25,
    VU_RESET_DEVICE = 34,
    VU_GET_MAX_MEM_SLOTS = 36,
    VU_ADD_MEM_REG = 37,
    VU_REM_MEM_REG = 38,
    VU_SET_STATUS = 39,
    VU_GET_STATUS = 40,
    VU_REQ_MAX = 41,
};

#define VU_FLAG_VERSION_MASK  0x3u
#define VU_FLAG_VERSION       0x1u
#define VU_FLAG_REPLY         (1u << 2)
#define VU_FLAG_NEED_REPLY    (1u << 3)
#define VU_FLAG_KNOWN         (VU_FLAG_VERSION_MASK | VU_FLAG_REPLY | VU_FLAG_NEED_REPLY)
#define VU_VRING_IDX_MASK     0xffull
#define VU_VRING_NOFD         (1ull << 8)

#define VU_MEM_BASELINE_NREGIONS 8
#define VU_REGION_SIZE        32u

/* How a request is checked before it is translated and delivered. */
enum vvu_size_rule { SZ_EXACT, SZ_MEM_TABLE, SZ_CONFIG };
enum vvu_fd_rule { FD_NONE, FD_ONE, FD_PER_REGION, FD_VRING, FD_ZERO_OR_ONE };
enum vvu_idx_rule { IDX_NONE, IDX_U32, IDX_U64 };

typedef struct VvuReqRule {
    const char *name;
    uint8_t size_rule;
    uint8_t fd_rule;
    uint8_t idx_rule;
    uint32_t size;
} VvuReqRule;

static const VvuReqRule vvu_rules[VU_REQ_MAX] = {
    [VU_GET_FEATURES] = { "GET_FEATURES", SZ_EXACT, FD_NONE, IDX_NONE, 0 },
    [VU_SET_FEATURES] = { "SET_FEATURES", SZ_EXACT, FD_NONE, IDX_NONE, 8 },
    [VU_SET_OWNER] = { "SET_OWNER", SZ_EXACT, FD_NONE, IDX_NONE, 0 },
    [VU_RESET_OWNER] = { "RESET_OWNER", SZ_EXACT, FD_NONE, IDX_NONE, 0 },
    [VU_SET_MEM_TABLE] = { "SET_MEM_TABLE", SZ_MEM_TABLE, FD_PER_REGION,
                           IDX_NONE, 0 },
    [VU_SET_LOG_BASE] = { "SET_LOG_BASE", SZ_EXACT, FD_ONE, IDX_NONE, 16 },
    [VU_SET_LOG_FD] = { "SET_LOG_FD", SZ_EXACT, FD_ONE, IDX_NONE, 0 },
    [VU_SET_VRING_NUM] = { "SET_VRING_NUM", SZ_EXACT, FD_NONE, IDX_U32, 8 },
    [VU_SET_VRING_ADDR] = { "SET_VRING_ADDR", SZ_EXACT, FD_NONE, IDX_U32, 40 },
    [VU_SET_VRING_BASE] = { "SET_VRING_BASE", SZ_EXACT, FD_NONE, IDX_U32, 8 },
    [VU_GET_VRING_BASE] = { "GET_VRING_BASE", SZ_EXACT, FD_NONE, IDX_U32, 8 },
    [VU_SET_VRING_KICK] = { "SET_VRING_KICK", SZ_EXACT, FD_VRING, IDX_U64, 8 },
    [VU_SET_VRING_CALL] = { "SET_VRING_CALL", SZ_EXACT, FD_VRING, IDX_U64, 8 },
    [VU_SET_VRING_ERR] = { "SET_VRING_ERR", SZ_EXACT, FD_VRING, IDX_U64, 8 },
    [VU_GET_PROTOCOL_FEATURES] = { "GET_PROTOCOL_FEATURES", SZ_EXACT, FD_NONE,
                                   IDX_NONE, 0 },
    [VU_SET_PROTOCOL_FEATURES] = { "SET_PROTOCOL_FEATURES", SZ_EXACT, FD_NONE,
                                   IDX_NONE, 8 },
    [VU_GET_QUEUE_NUM] = { "GET_QUEUE_NUM", SZ_EXACT, FD_NONE, IDX_NONE, 0 },
    [VU_SET_VRING_ENABLE] = { "SET_VRING_ENABLE", SZ_EXACT, FD_NONE, IDX_U32, 8 },
    [VU_SEND_RARP] = { "SEND_RARP", SZ_EXACT, FD_NONE, IDX_NONE, 8 },
    [VU_NET_SET_MTU] = { "NET_SET_MTU", SZ_EXACT, FD_NONE, IDX_NONE, 8 },
    [VU_SET_BACKEND_REQ_FD] = { "SET_BACKEND_REQ_FD", SZ_EXACT, FD_ONE,
                                IDX_NONE, 0 },
    [VU_IOTLB_MSG] = { "IOTLB_MSG", SZ_EXACT, FD_NONE, IDX_NONE, 32 },
    [VU_SET_VRING_ENDIAN] = { "SET_VRING_ENDIAN", SZ_EXACT, FD_NONE, IDX_U32, 8 },
    [VU_GET_CONFIG] = { "GET_CONFIG", SZ_CONFIG, FD_NONE, IDX_NONE, 0 },
    [VU_SET_CONFIG] = { "SET_CONFIG", SZ_CONFIG, FD_NONE, IDX_NONE, 0 },
    [VU_RESET_DEVICE] = { "RESET_DEVICE", SZ_EXACT, FD_NONE, IDX_NONE, 0 },
    [VU_GET_MAX_MEM_SLOTS] = { "GET_MAX_MEM_SLOTS", SZ_EXACT, FD_NONE,
                               IDX_NONE, 0 },
    [VU_ADD_MEM_REG] = { "ADD_MEM_REG", SZ_EXACT, FD_ONE, IDX_NONE, 40 },
    [VU_REM_MEM_REG] = { "REM_MEM_REG", SZ_EXACT, FD_ZERO_OR_ONE, IDX_NONE, 40 },
    [VU_SET_STATUS] = { "SET_STATUS", SZ_EXACT, FD_NONE, IDX_NONE, 8 },
    [VU_GET_STATUS] = { "GET_STATUS", SZ_EXACT, FD_NONE, IDX_NONE, 0 },
};

static inline uint32_t vvu_rule_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t vvu_rule_le64(const uint8_t *p)
{
    return (uint64_t)vvu_rule_le32(p) | (uint64_t)vvu_rule_le32(p + 4) << 32;
}

/*
 * The 12-byte header of a frontend request: version 1, no unknown flag, a payload of at
 * most max_size bytes. false with the reason in why[n] otherwise.
 */
static inline bool vvu_rule_header_ok(uint32_t req, uint32_t flags, uint32_t size,
                                      uint32_t max_size, char *why, size_t n)
{
    if ((flags & VU_FLAG_VERSION_MASK) != VU_FLAG_VERSION || (flags & ~VU_FLAG_KNOWN)) {
        snprintf(why, n, "bad header: request %u flags 0x%x", req, flags);
        return false;
    }
    if (size > max_size) {
        snprintf(why, n, "request %u: payload of %u bytes exceeds %u", req, size, max_size);
        return false;
    }
    return true;
}

/*
 * A complete request: p[0..size) is its payload and nfds fds came with it. Returns its rule,
 * or NULL with the reason in why[n]. Reads no byte of p at or past size.
 */
static inline const VvuReqRule *vvu_rule_check(uint32_t req, const uint8_t *p, uint32_t size,
                                               int nfds, uint32_t max_mem_slots,
                                               uint32_t max_vhost_queues, char *why,
                                               size_t n)
{
    const VvuReqRule *rule;
    int want_fds = 0;
    bool fds_ok;

    if (req >= VU_REQ_MAX || !vvu_rules[req].name) {
        snprintf(why, n, "unknown request %u", req);
        return NULL;
    }
    rule = &vvu_rules[req];

    switch (rule->size_rule) {
    case SZ_EXACT:
        if (size != rule->size) {
            snprintf(why, n, "%s: payload %u bytes, expected %u", rule->name, size, rule->size);
            return NULL;
        }
        break;
    case SZ_MEM_TABLE: {
        uint32_t nr = size >= 8 ? vvu_rule_le32(p) : 0;
        uint32_t most = max_mem_slots < VU_MEM_BASELINE_NREGIONS ? max_mem_slots :
                        VU_MEM_BASELINE_NREGIONS;

        if (nr < 1 || nr > most || size != 8 + nr * VU_REGION_SIZE) {
            snprintf(why, n, "%s: %u regions in a %u-byte payload (1..%u allowed)",
                     rule->name, nr, size, most);
            return NULL;
        }
        want_fds = (int)nr;
        break;
    }
    case SZ_CONFIG: {
        uint32_t cs = size >= 12 ? vvu_rule_le32(p + 4) : UINT32_MAX;

        if (cs > 256 || size != 12 + cs) {
            snprintf(why, n, "%s: payload %u bytes with config size %u", rule->name, size,
                     cs);
            return NULL;
        }
        break;
    }
    }

    switch (rule->fd_rule) {
    case FD_NONE:
        fds_ok = nfds == 0;
        break;
    case FD_ONE:
        want_fds = 1;
        fds_ok = nfds == 1;
        break;
    case FD_PER_REGION:
        fds_ok = nfds == want_fds;
        break;
    case FD_VRING:
        want_fds = (vvu_rule_le64(p) & VU_VRING_NOFD) ? 0 : 1;
        fds_ok = nfds == want_fds;
        break;
    case FD_ZERO_OR_ONE:
    default:
        fds_ok = nfds <= 1;
        break;
    }
    if (!fds_ok) {
        snprintf(why, n, "%s: carries %d fds, expected %d", rule->name, nfds, want_fds);
        return NULL;
    }

    if (rule->idx_rule == IDX_U32 && vvu_rule_le32(p) >= max_vhost_queues) {
        snprintf(why, n, "%s: vring %u out of range (max_vhost_queues %u)", rule->name,
                 vvu_rule_le32(p), max_vhost_queues);
        return NULL;
    }
    if (rule->idx_rule == IDX_U64) {
        uint64_t v = vvu_rule_le64(p);

        if (v & ~(VU_VRING_IDX_MASK | VU_VRING_NOFD)) {
            snprintf(why, n, "%s: reserved bits set in 0x%llx", rule->name,
                     (unsigned long long)v);
            return NULL;
        }
        if ((v & VU_VRING_IDX_MASK) >= max_vhost_queues) {
            snprintf(why, n, "%s: vring %u out of range (max_vhost_queues %u)", rule->name,
                     (unsigned)(v & VU_VRING_IDX_MASK), max_vhost_queues);
            return NULL;
        }
    }
    return rule;
}

/* A memory region as the frontend describes it (32 bytes on the wire). */
typedef struct VvuRegionDesc {
    uint64_t gpa, size, uaddr, mmap_offset;
} VvuRegionDesc;

static inline void vvu_region_desc_read(const uint8_t *p, VvuRegionDesc *d)
{
    d->gpa = vvu_rule_le64(p);
    d->size = vvu_rule_le64(p + 8);
    d->uaddr = vvu_rule_le64(p + 16);
    d->mmap_offset = vvu_rule_le64(p + 24);
}

/* Not empty, and no exclusive end wraps 64 bits. false with the reason otherwise. */
static inline bool vvu_region_desc_ok(const VvuRegionDesc *d, char *why, size_t n)
{
    if (d->size == 0 || d->gpa + d->size < d->gpa || d->uaddr + d->size < d->uaddr ||
        d->mmap_offset + d->size < d->mmap_offset) {
        snprintf(why, n, "empty or wrapping region: gpa 0x%llx size 0x%llx uaddr 0x%llx "
                 "offset 0x%llx", (unsigned long long)d->gpa, (unsigned long long)d->size,
                 (unsigned long long)d->uaddr, (unsigned long long)d->mmap_offset);
        return false;
    }
    return true;
}

/*
 * The largest dirty log the device maps: 1 GiB has a bit for each 4 KiB page of 32 TiB of
 * guest physical memory (the same bound as vvu-switch's vu_dev).
 */
#define VVU_LOG_MAX_SIZE (1ull << 30)

/*
 * SET_LOG_BASE's payload (le64 mmap_size, le64 mmap_offset): size 1..VVU_LOG_MAX_SIZE and
 * offset + size within a signed 64-bit file offset. false with the reason otherwise.
 */
static inline bool vvu_rule_log_ok(uint64_t size, uint64_t offset, char *why, size_t n)
{
    if (size == 0 || size > VVU_LOG_MAX_SIZE) {
        snprintf(why, n, "SET_LOG_BASE: log size 0x%llx not in 1..0x%llx",
                 (unsigned long long)size, (unsigned long long)VVU_LOG_MAX_SIZE);
        return false;
    }
    if (offset > (uint64_t)INT64_MAX - size) {
        snprintf(why, n, "SET_LOG_BASE: offset 0x%llx + size 0x%llx overflows",
                 (unsigned long long)offset, (unsigned long long)size);
        return false;
    }
    return true;
}

static inline bool vvu_ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
    return a < b + blen && b < a + alen;
}

#endif
