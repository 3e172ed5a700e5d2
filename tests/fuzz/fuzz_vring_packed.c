/* SPDX-License-Identifier: MIT */
/*
 * fuzz_vring_packed: the device side of packed rings (vq_packed.c) and
 * vnet over them, on rings laid out in memory the fuzzer fills.  The first
 * 18 bytes choose the layout (size 1..256, any, not only powers of two;
 * ring and event area offsets; features; header length; mergeable
 * buffers; both vring bases with their wrap counters); the rest is guest
 * memory, two regions with a gap as in fuzz_vring.  TX frames go into
 * the RX ring of the same memory, and the fuzzer's bytes may also rewrite
 * memory between rounds, so used entries we wrote are read back as a
 * hostile driver's next descriptors.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chain_same.h"
#include "vnet.h"
#include "vq.h"
#include "vu_mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MEM (128 * 1024)
#define HDR 18

static uint8_t guest[MEM] __attribute__((aligned(4096)));

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

/* Every segment of f inside guest memory, and its lengths adding up. */
static void check_frame(const struct sw_frame *f)
{
	uint32_t sum = 0;

	for (unsigned int s = 0; s < f->nseg; s++) {
		const uint8_t *b = f->seg[s].base;

		if (b < guest || b + f->seg[s].len > guest + MEM)
			abort();
		sum += f->seg[s].len;
	}
	if (sum != f->len)
		abort();
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
	const uint8_t *more;
	size_t nmore;

	if (size < HDR)
		return 0;
	/*
	 * With flag 0x10 the input's second half is not memory but a script
	 * of rewrites a hostile driver makes between rounds.
	 */
	nmore = data[1] & 0x10 ? (size - HDR) / 2 : 0;
	more = nmore ? data + size - nmore : NULL;
	memset(guest, 0, sizeof(guest));
	memcpy(guest, data + HDR, size - HDR - nmore < MEM ? size - HDR - nmore : MEM);

	vu_mem_init(&mem);
	memset(&r, 0, sizeof(r));
	r.gpa = 0; r.size = 64 * 1024; r.uva = 0x7f0000000000ull; r.hva = guest;
	vu_mem_insert(&mem, &r);
	r.gpa = 68 * 1024; r.size = 60 * 1024; r.uva = 0x7f0000011000ull;
	r.hva = guest + 68 * 1024;
	vu_mem_insert(&mem, &r);

	uint16_t qsize = (uint16_t)(data[0] + 1u);	/* 1..256 */
	bool evidx = data[1] & 1, indirect = data[1] & 2, mrg = data[1] & 4;
	uint16_t hdr = (data[1] & 8) ? 12 : 10;
	uint64_t base = 0x7f0000000000ull;

	if (vq_setup_packed(&txv, &mem, qsize, base + rd16(data + 2) * 16ull,
			    base + rd16(data + 4) * 4ull, base + rd16(data + 6) * 4ull,
			    rd16(data + 8), evidx, indirect) != 0)
		return 0;
	if (vq_setup_packed(&rxv, &mem, qsize, base + rd16(data + 10) * 16ull,
			    base + rd16(data + 12) * 4ull, base + rd16(data + 14) * 4ull,
			    rd16(data + 16), evidx, indirect) != 0)
		vq_reset(&rxv);
	/* 0x20: VIRTIO_F_IN_ORDER, so TX chains go back in batches */
	txv.in_order = rxv.in_order = (data[1] & 0x20) != 0;
	memset(&tx, 0, sizeof(tx));
	memset(&rx, 0, sizeof(rx));
	tx.vq = &txv;
	tx.hdr_len = hdr;
	rx.vq = &rxv;
	rx.hdr_len = hdr;
	rx.mrg_rxbuf = mrg;

	/*
	 * The one-descriptor pop against the full walk, on two copies of the
	 * queue: with dirty logging on (an empty log), the copy b always
	 * walks.  In memory nobody changes they must agree on every chain.
	 */
	{
		static struct vq a, b;
		static struct vq_chain ca, cb;
		static struct vq_dirty_log dl;
		static struct vq_logq lq;

		uint16_t heads[8];
		int n = 0;

		a = txv;
		b = txv;
		memset(&dl, 0, sizeof(dl));
		vq_log_attach(&b, &dl, &lq);
		for (int i = 0; i < 8; i++) {
			int ra = vq_pop(&a, &ca), rb = vq_pop(&b, &cb);

			if (ra != rb || a.last_avail != b.last_avail ||
			    a.pk.avail_wrap != b.pk.avail_wrap ||
			    a.pk.inflight != b.pk.inflight || a.broken != b.broken)
				abort();
			if (ra <= 0)
				break;
			if (!chain_same(&ca, &cb) || ca.head != cb.head ||
			    a.pk.tok[ca.head].id != b.pk.tok[cb.head].id)
				abort();
			heads[n++] = ca.head;
		}
		/*
		 * And the inline push against vqp_push(), last popped first:
		 * the same used positions, held head, ids in flight.  Both
		 * write the same bytes into the ring.
		 */
		while (n-- > 0 && !a.broken) {
			uint32_t len = (uint32_t)n * 60u;

			vq_push(&a, heads[n], len);
			vq_push(&b, heads[n], len);
			if (a.used_idx != b.used_idx || a.pk.used_wrap != b.pk.used_wrap ||
			    a.pk.head_held != b.pk.head_held ||
			    a.pk.head_pos != b.pk.head_pos ||
			    a.pk.head_flags != b.pk.head_flags ||
			    a.pk.inflight != b.pk.inflight ||
			    memcmp(a.pk.busy, b.pk.busy, sizeof(a.pk.busy)))
				abort();
		}
	}

	for (int round = 0; round < 6 && vq_ready(&txv); round++) {
		unsigned int n = vnet_tx_burst(&tx, f, SW_BURST, &st);

		for (unsigned int i = 0; i < n; i++) {
			check_frame(&f[i]);
			if (vq_ready(&rxv) && !(round & 1))
				vnet_rx_frame(&rx, &f[i], &st);
		}
		/* Odd rounds: the burst path, which pops a run's buffers first. */
		for (unsigned int i = 0; (round & 1) && i < n && vq_ready(&rxv);) {
			int rc[SW_BURST];
			unsigned int sent, passed;

			i += vnet_rx_burst(&rx, f + i, n - i, &st, rc, &sent, &passed);
		}
		vnet_tx_done(&tx);
		if (vq_ready(&rxv))
			vnet_rx_flush(&rx);
		vq_set_kicks(&txv, round & 1);
		(void)vq_avail_count(&txv);
		/* A hostile driver rewrites memory: up to 512 bytes at an offset. */
		if (nmore >= 4) {
			size_t off = (size_t)rd16(more) * 2 % MEM;
			size_t len = more[2] * 2u + 1;

			more += 3;
			nmore -= 3;
			if (len > nmore)
				len = nmore;
			if (len > MEM - off)
				len = MEM - off;
			memcpy(guest + off, more, len);
			more += len;
			nmore -= len;
		}
		/* Every chain taken went back: nothing left in flight. */
		if ((vq_ready(&txv) && txv.pk.inflight) ||
		    (vq_ready(&rxv) && rxv.pk.inflight))
			abort();
	}
	return 0;
}
