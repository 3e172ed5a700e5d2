/* SPDX-License-Identifier: MIT */
/*
 * fuzz_vvu_dev: the virtio-vhost-user QEMU device's checks of what a
 * frontend sends, compiled from the device's own header
 * (qemu/files/include/hw/virtio/virtio-vhost-user-rules.h), the code the
 * device runs on every header, message and memory region description
 * before it maps or delivers anything.  The first bytes choose the
 * device's max_mem_slots and max_vhost_queues; the rest is a stream of
 * messages, each a 12-byte header, an fd count and the payload, which is
 * copied into a heap block of exactly its size so that ASan sees any read
 * past it.  What a check accepts is checked again here against the table
 * and the spec's rules (docs/virtio-vhost-user.md 6.1-6.4); a violation
 * aborts.  It trusts nothing in the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hw/virtio/virtio-vhost-user-rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_MSG 4096u		/* the device's VVU_MAX_MSG_SIZE */

static void check_regions(const uint8_t *p, uint32_t nr)
{
	VvuRegionDesc d[VU_MEM_BASELINE_NREGIONS];
	char why[160];

	for (uint32_t i = 0; i < nr; i++) {
		vvu_region_desc_read(p + 8 + i * VU_REGION_SIZE, &d[i]);
		if (!vvu_region_desc_ok(&d[i], why, sizeof(why))) {
			if (!why[0])
				abort();
			continue;
		}
		/* Accepted: no end wraps, so the overlap test is exact. */
		if (d[i].size == 0 || d[i].gpa + d[i].size < d[i].gpa ||
		    d[i].uaddr + d[i].size < d[i].uaddr ||
		    d[i].mmap_offset + d[i].size < d[i].mmap_offset)
			abort();
		for (uint32_t j = 0; j < i; j++)
			if (vvu_ranges_overlap(d[i].gpa, d[i].size, d[j].gpa, d[j].size) !=
			    vvu_ranges_overlap(d[j].gpa, d[j].size, d[i].gpa, d[i].size))
				abort();
	}
}

static void one_message(const uint8_t *hdr, int nfds, const uint8_t *payload,
			uint32_t len, uint32_t slots, uint32_t queues)
{
	uint32_t req = vvu_rule_le32(hdr), flags = vvu_rule_le32(hdr + 4);
	uint32_t size = vvu_rule_le32(hdr + 8);
	const VvuReqRule *rule;
	uint8_t *p;
	char why[160];

	why[0] = '\0';
	if (!vvu_rule_header_ok(req, flags, size, MAX_MSG, why, sizeof(why))) {
		if (!why[0])
			abort();
		return;
	}
	if (size > MAX_MSG || (flags & VU_FLAG_VERSION_MASK) != VU_FLAG_VERSION)
		abort();
	if (size > len)
		return;		/* never complete: the device checks whole messages only */
	p = malloc(size ? size : 1);
	if (!p)
		return;
	memcpy(p, payload, size);
	rule = vvu_rule_check(req, p, size, nfds, slots, queues, why, sizeof(why));
	if (!rule) {
		if (!why[0])
			abort();
		free(p);
		return;
	}
	/* Accepted: it is what the table says. */
	if (req >= VU_REQ_MAX || rule != &vvu_rules[req] || !rule->name)
		abort();
	if (rule->size_rule == SZ_EXACT && size != rule->size)
		abort();
	if (rule->size_rule == SZ_MEM_TABLE) {
		uint32_t nr = vvu_rule_le32(p);

		if (nr < 1 || nr > VU_MEM_BASELINE_NREGIONS || nr > slots ||
		    size != 8 + nr * VU_REGION_SIZE || (uint32_t)nfds != nr)
			abort();
		check_regions(p, nr);
	}
	if (rule->size_rule == SZ_CONFIG && (size < 12 || vvu_rule_le32(p + 4) > 256))
		abort();
	if (rule->idx_rule == IDX_U32 && vvu_rule_le32(p) >= queues)
		abort();
	if (rule->idx_rule == IDX_U64 &&
	    ((vvu_rule_le64(p) & VU_VRING_IDX_MASK) >= queues ||
	     (vvu_rule_le64(p) & ~(VU_VRING_IDX_MASK | VU_VRING_NOFD))))
		abort();
	if ((req == VU_ADD_MEM_REG || req == VU_REM_MEM_REG) && size == 40) {
		VvuRegionDesc d;

		vvu_region_desc_read(p + 8, &d);
		(void)vvu_region_desc_ok(&d, why, sizeof(why));
	}
	if (req == VU_SET_LOG_BASE) {
		/* The log window's bounds (spec 6.4): what passes can be mapped. */
		uint64_t lsize = vvu_rule_le64(p), loff = vvu_rule_le64(p + 8);

		if (size != 16 || nfds != 1)
			abort();
		why[0] = '\0';
		if (vvu_rule_log_ok(lsize, loff, why, sizeof(why))) {
			if (lsize == 0 || lsize > VVU_LOG_MAX_SIZE ||
			    loff + lsize < loff || loff + lsize > (uint64_t)INT64_MAX)
				abort();
		} else if (!why[0]) {
			abort();
		}
	}
	free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t slots, queues;
	size_t off = 4;

	if (size < 4)
		return 0;
	/* The device's properties: max-mem-slots 1..509, max-vhost-queues 1..256. */
	slots = 1 + (uint32_t)(data[0] | data[1] << 8) % 509;
	queues = 1 + (uint32_t)(data[2] | data[3] << 8) % 256;
	while (size - off >= 13) {
		const uint8_t *hdr = data + off;
		int nfds = data[off + 12] % 18;		/* SCM_RIGHTS up to 16, and past */
		uint32_t want = vvu_rule_le32(hdr + 8);
		size_t rest;

		off += 13;
		rest = size - off;
		if (want > rest)
			want = (uint32_t)rest;
		one_message(hdr, nfds, data + off, want, slots, queues);
		off += want;
	}
	return 0;
}
