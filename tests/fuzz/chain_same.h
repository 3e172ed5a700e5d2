/* SPDX-License-Identifier: MIT */
/*
 * chain_same: for the ring fuzzers' differential checks, whether two
 * popped chains say the same: head, segment counts, lengths and every
 * segment.
 */
#ifndef CHAIN_SAME_H
#define CHAIN_SAME_H

#include <stdbool.h>
#include <string.h>

#include "vq.h"

static inline bool chain_same(const struct vq_chain *a, const struct vq_chain *b)
{
	return a->head == b->head && a->n_out == b->n_out &&
	       a->n_in == b->n_in && a->out_len == b->out_len &&
	       a->in_len == b->in_len &&
	       !memcmp(a->iov, b->iov, (a->n_out + a->n_in) * sizeof(a->iov[0]));
}

#endif
