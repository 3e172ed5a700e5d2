/* SPDX-License-Identifier: MIT */
/*
 * ctl_stream: the control protocol on a character device (a virtio-serial
 * port, docs/daemon.md "The control stream").  The device is relayed
 * through a socketpair that ctl serves, so neither side ever blocks the
 * loop; a device that is not there yet is retried every second.
 */
#ifndef VVU_CTL_STREAM_H
#define VVU_CTL_STREAM_H

#include <stdint.h>

#include "ctl.h"
#include "ev.h"

struct ctl_stream;

/* Serve path (opened by ctl_stream_run).  NULL when out of memory. */
struct ctl_stream *ctl_stream_new(struct ev_loop *ev, const char *path,
				  ctl_handler h, void *arg);
/* Open the device when it is due; push answers the device refused. */
void ctl_stream_run(struct ctl_stream *s, uint64_t now_ns);
/* The longest the loop may sleep for s: at most wait_ms. */
int ctl_stream_wait_ms(const struct ctl_stream *s, int wait_ms);
void ctl_stream_free(struct ctl_stream *s);

#endif
