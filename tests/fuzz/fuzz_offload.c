/* SPDX-License-Identifier: MIT */
/*
 * fuzz_offload: the offload claim checker and the software fallback
 * (drivers/offload) on frames and claims the fuzzer makes.  Input: 10
 * bytes of claim (flags, gso, hdr_len, gso_size, csum_start, csum_offset,
 * as in virtio-net's header), one byte of sender caps, one of receiver
 * caps, then the frame.  The frame sits in a heap buffer of exactly its
 * size so ASan sees any read past it; an accepted claim is finished in
 * software (from a frame cut into pieces) and every segment made must
 * lie in the fallback's buffers and be well formed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "off.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct off_buf ob;

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

static int sink(void *ctx, const struct sw_frame *f)
{
	uint32_t sum = 0;
	volatile uint8_t x = 0;

	(void)ctx;
	if (f->nseg > SW_FRAME_MAX_SEGS || f->off.flags || f->off.gso)
		abort();
	for (unsigned int s = 0; s < f->nseg; s++) {
		const uint8_t *b = f->seg[s].base;
		bool in_b = b >= ob.b && b + f->seg[s].len <= ob.b + sizeof(ob.b);
		bool in_h = b >= ob.hdr && b + f->seg[s].len <= ob.hdr + sizeof(ob.hdr);

		if (!in_b && !in_h)
			abort();
		for (uint32_t i = 0; i < f->seg[s].len; i++)
			x ^= b[i];
		sum += f->seg[s].len;
	}
	if (sum != f->len || sum > OFF_MAX_FRAME || memcmp(f->eth, f->seg[0].base,
			f->seg[0].len < SW_ETH_HLEN ? f->seg[0].len : SW_ETH_HLEN))
		abort();
	return (x & 7) == 7 ? -1 : 0;	/* a receiver that sometimes fills up */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sw_offload o;
	struct off_stats st = { 0 };
	struct sw_frame f;
	enum off_err why = OFF_E_MAX;
	uint32_t len, hl, cut;
	uint8_t *frame;

	if (size < 12 || size - 12 > OFF_MAX_FRAME)
		return 0;
	memset(&o, 0, sizeof(o));
	o.flags = data[0] & (SW_OFF_CSUM | SW_OFF_ECN);
	o.gso = data[1] % (SW_GSO_MAX + 1);
	o.hdr_len = rd16(data + 2);
	o.gso_size = rd16(data + 4);
	o.csum_start = rd16(data + 6);
	o.csum_offset = rd16(data + 8);
	len = (uint32_t)(size - 12);
	frame = malloc(len ? len : 1);
	if (!frame)
		return 0;
	memcpy(frame, data + 12, len);
	hl = len < OFF_HDR_COPY ? len : OFF_HDR_COPY;

	if (off_check(&o, data[10], frame, hl, len, &why) < 0) {
		if (why >= OFF_E_MAX)
			abort();
		free(frame);
		return 0;
	}
	if (o.gso != SW_GSO_NONE && (o.hdr_len == 0 || o.hdr_len > len || o.gso_size == 0))
		abort();
	if (len < SW_ETH_HLEN) {
		free(frame);
		return 0;
	}
	if (!off_takes(&o, data[11])) {
		/* two pieces, as a peer's chain may cut it */
		memset(&f, 0, sizeof(f));
		cut = data[0] >> 2;
		if (cut > len)
			cut = len;
		f.off = o;
		memcpy(f.eth, frame, SW_ETH_HLEN);
		f.nseg = 2;
		f.seg[0] = (struct sw_seg){ frame, cut };
		f.seg[1] = (struct sw_seg){ frame + cut, len - cut };
		f.len = len;
		(void)off_finish(&f, &ob, sink, NULL, &st);
		if (st.out_segs > OFF_MAX_SEGS)
			abort();
	}
	free(frame);
	return 0;
}
