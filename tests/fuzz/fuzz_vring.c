/* SPDX-License-Identifier: MIT */
/*
 * fuzz_vring: the device-side ring code on rings laid out in memory the
 * fuzzer fills.  The first bytes choose the queue layout (size, ring
 * offsets, features, header length, mergeable buffers); the rest is the
 * guest memory, split into two regions with a gap so that descriptors can
 * span regions or fall between them.  Frames taken from the TX ring are
 * delivered into the RX ring of the same memory, which exercises the
 * header handling and mergeable receive buffers; with offloads on (a
 * bit of the layout byte), headers are checked, passed on or finished
 * in software.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chain_same.h"
#include "vnet.h"
#include "vq.h"
#include "vu_mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MEM (128 * 1024)
#define HDR 16

static uint8_t guest[MEM] __attribute__((aligned(4096)));

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

static struct off_buf ob;
static struct vnet_stats rst;

static int rx_one(void *ctx, const struct sw_frame *f)
{
	return vnet_rx_frame(ctx, f, &rst);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vq txv, rxv;
	static struct vnet_txq tx;
	static struct vnet_rxq rx;
	static struct vu_mem mem;
	struct sw_frame f[SW_BURST];
	struct vnet_stats st = { 0 };
	struct vu_mem_region r;

	if (size < HDR)
		return 0;
	memset(guest, 0, sizeof(guest));
	memcpy(guest, data + HDR, size - HDR < MEM ? size - HDR : MEM);

	/* Two regions: [0, 64K) at gpa 0 and [64K+4K, 128K) at gpa 68K. */
	vu_mem_init(&mem);
	memset(&r, 0, sizeof(r));
	r.gpa = 0; r.size = 64 * 1024; r.uva = 0x7f0000000000ull; r.hva = guest;
	vu_mem_insert(&mem, &r);
	r.gpa = 68 * 1024; r.size = 60 * 1024; r.uva = 0x7f0000011000ull;
	r.hva = guest + 68 * 1024;
	vu_mem_insert(&mem, &r);

	uint16_t qsize = (uint16_t)(1u << (data[0] % 9));	/* 1..256 */
	bool evidx = data[1] & 1, indirect = data[1] & 2, mrg = data[1] & 4;
	uint16_t hdr = (data[1] & 8) ? 12 : 10;
	uint64_t base = 0x7f0000000000ull;

	if (vq_setup(&txv, &mem, qsize, base + rd16(data + 2) * 16ull,
		     base + rd16(data + 4) * 2ull, base + rd16(data + 6) * 4ull,
		     rd16(data + 8), evidx, indirect) != 0)
		return 0;
	if (vq_setup(&rxv, &mem, qsize, base + rd16(data + 10) * 16ull,
		     base + rd16(data + 12) * 2ull, base + rd16(data + 14) * 4ull,
		     0, evidx, indirect) != 0)
		vq_reset(&rxv);
	memset(&tx, 0, sizeof(tx));
	memset(&rx, 0, sizeof(rx));
	tx.vq = &txv;
	tx.hdr_len = hdr;
	rx.vq = &rxv;
	rx.hdr_len = hdr;
	rx.mrg_rxbuf = mrg;
	/* Offloads: the peer's headers are read and checked, then passed or finished. */
	tx.off_caps = (data[1] & 16) ? 0x3f : 0;
	rx.off_caps = (data[1] & 32) ? 0x3f : 0;
	/* IN_ORDER: TX bursts go back as one used entry (vq_push_read). */
	vq_set_in_order(&txv, data[1] & 64);
	vq_set_in_order(&rxv, data[1] & 64);

	/*
	 * vq_pop()'s inline common case against the full walk, on two
	 * copies of the queue: in memory nobody changes, they must agree on
	 * every chain, and on where they leave the queue.
	 */
	{
		static struct vq a, b;
		static struct vq_chain ca, cb;

		a = txv;
		b = txv;
		for (int i = 0; i < 8; i++) {
			int ra = vq_pop(&a, &ca), rb = vq_pop_walk(&b, &cb);

			if (ra != rb || a.last_avail != b.last_avail ||
			    a.broken != b.broken)
				abort();
			if (ra <= 0)
				break;
			if (!chain_same(&ca, &cb))
				abort();
		}
	}

	for (int round = 0; round < 4 && vq_ready(&txv); round++) {
		unsigned int n = vnet_tx_burst(&tx, f, SW_BURST, &st);

		for (unsigned int i = 0; i < n; i++) {
			/* The frame must lie inside guest memory, byte for byte. */
			uint32_t sum = 0;

			for (unsigned int s = 0; s < f[i].nseg; s++) {
				const uint8_t *b = f[i].seg[s].base;

				if (b < guest || b + f[i].seg[s].len > guest + MEM)
					abort();
				sum += f[i].seg[s].len;
			}
			if (sum != f[i].len)
				abort();
			if (vq_ready(&rxv) && !(round & 1) &&
			    vnet_rx_frame(&rx, &f[i], &st) == -EOPNOTSUPP)
				(void)off_finish(&f[i], &ob, rx_one, &rx, &st.off);
		}
		/* Odd rounds: the burst path, which pops a run's buffers first. */
		for (unsigned int i = 0; (round & 1) && i < n && vq_ready(&rxv);) {
			int rc[SW_BURST];
			unsigned int sent, passed;

			i += vnet_rx_burst(&rx, f + i, n - i, &st, rc, &sent, &passed);
		}
		vnet_tx_done(&tx);
		/* Every chain taken went back, batched or not. */
		if (txv.in_order && vq_ready(&txv) && txv.used_idx != txv.last_avail)
			abort();
		if (vq_ready(&rxv))
			vnet_rx_flush(&rx);
		vq_set_kicks(&txv, round & 1);
		(void)vq_avail_count(&txv);
	}
	return 0;
}
