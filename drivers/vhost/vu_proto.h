/* SPDX-License-Identifier: MIT */
/*
 * vu_proto: the vhost-user wire format (QEMU docs/interop/vhost-user.rst).
 *
 * Only layouts and numbers live here; nothing here is trusted or checked.
 * Every field of every message arrives from an untrusted frontend and is
 * validated by vu_dev.c's message table before any handler sees it.
 */
#ifndef VU_PROTO_H
#define VU_PROTO_H

#include <stdint.h>

enum vu_request {
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
	VU_GET_INFLIGHT_FD = 31,
	VU_SET_INFLIGHT_FD = 32,
	VU_RESET_DEVICE = 34,
	VU_GET_MAX_MEM_SLOTS = 36,
	VU_ADD_MEM_REG = 37,
	VU_REM_MEM_REG = 38,
	VU_SET_STATUS = 39,
	VU_GET_STATUS = 40,
	VU_REQUEST_MAX = 41,
};

/* Header flags. */
#define VU_VERSION		0x1u
#define VU_VERSION_MASK		0x3u
#define VU_FLAG_REPLY		(1u << 2)
#define VU_FLAG_NEED_REPLY	(1u << 3)

/* Feature bits (virtio 1.2 section 6 and 5.1.3; vhost-user). */
#define VU_F_NET_MTU		3
#define VU_F_NET_MRG_RXBUF	15
#define VU_F_NET_STATUS		16
#define VU_F_NET_GUEST_ANNOUNCE	21
#define VU_F_NET_MQ		22
#define VHOST_F_LOG_ALL		26	/* vhost: log every write (migration) */
#define VU_F_ANY_LAYOUT		27
#define VU_F_RING_INDIRECT_DESC	28
#define VU_F_RING_EVENT_IDX	29
#define VU_F_PROTOCOL_FEATURES	30
#define VU_F_VERSION_1		32
#define VU_F_RING_PACKED	34
#define VU_F_IN_ORDER		35

/* Protocol feature bits. */
#define VU_PF_MQ		0
#define VU_PF_LOG_SHMFD		1
#define VU_PF_RARP		2
#define VU_PF_REPLY_ACK		3
#define VU_PF_MTU		4
#define VU_PF_BACKEND_REQ	5
#define VU_PF_CONFIGURE_MEM_SLOTS 15

/* SET_VRING_KICK/CALL/ERR payload: ring index and "no fd" flag. */
#define VU_VRING_IDX_MASK	0xffu
#define VU_VRING_NOFD		(1u << 8)

/* SET_MEM_TABLE carries at most this many regions. */
#define VU_MEM_TABLE_MAX	8

/* Upper bound on fds in one message (SET_MEM_TABLE's eight). */
#define VU_MAX_FDS		8

struct vu_msg_hdr {
	uint32_t request;
	uint32_t flags;
	uint32_t size;		/* payload bytes that follow */
} __attribute__((packed));

struct vu_vring_state {
	uint32_t index;
	uint32_t num;
} __attribute__((packed));

struct vu_vring_addr {
	uint32_t index;
	uint32_t flags;
	uint64_t desc;
	uint64_t used;
	uint64_t avail;
	uint64_t log;
} __attribute__((packed));

struct vu_region_wire {
	uint64_t gpa;
	uint64_t size;
	uint64_t uva;
	uint64_t mmap_offset;
} __attribute__((packed));

struct vu_mem_table_wire {
	uint32_t nregions;
	uint32_t padding;
	struct vu_region_wire r[VU_MEM_TABLE_MAX];
} __attribute__((packed));

struct vu_mem_reg_wire {
	uint64_t padding;
	struct vu_region_wire r;
} __attribute__((packed));

/* SET_LOG_BASE with LOG_SHMFD: the log is [offset, offset + size) of the fd. */
struct vu_log_wire {
	uint64_t size;
	uint64_t offset;
} __attribute__((packed));

/* Largest payload we accept; anything larger drops the connection. */
#define VU_MAX_PAYLOAD 512

struct vu_msg {
	struct vu_msg_hdr hdr;
	union {
		uint64_t u64;
		struct vu_vring_state state;
		struct vu_vring_addr addr;
		struct vu_mem_table_wire mem;
		struct vu_mem_reg_wire memreg;
		struct vu_log_wire log;
		uint8_t raw[VU_MAX_PAYLOAD];
	} p;
} __attribute__((packed));

#endif
