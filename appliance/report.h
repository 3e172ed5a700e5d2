/* SPDX-License-Identifier: MIT */
/*
 * report: the control channel's answers, data first.  One snapshot (the
 * switch's status and every port with its counters) is taken in one walk
 * of the registry; the text, JSON and Prometheus renderers read only the
 * snapshot, so they can never disagree.  Every string in a snapshot goes
 * out escaped for its format (names and errors can hold any bytes).
 */
#ifndef VVU_REPORT_H
#define VVU_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "off.h"
#include "ctl.h"
#include "sw.h"

#define SNAP_EXTRA_MAX 16
#define SNAP_FLAGS_MAX 4

/* Frames the peer sent that never reached the switch (virtio framing). */
enum snap_vdrop {
	SNAP_VDROP_OVERSIZE,
	SNAP_VDROP_RUNT,
	SNAP_VDROP_TOO_MANY_SEGS,
	SNAP_VDROP_MAX
};

/* "virtio_oversize", ...: the reason as the text, JSON and metrics say it. */
extern const char *const snap_vdrop_names[SNAP_VDROP_MAX];

struct port_snap {
	char name[VVU_NAME_MAX];
	const char *kind;		/* "unix", "vvu" */
	char state[24];
	char connection[24];		/* the transport's own state */
	char mode[12];			/* "server", "client", "device" */
	const char *where_key;		/* "socket", "pci" */
	char where[VVU_PATH_MAX];
	char uuid[40];			/* the device's, "" when it has none */
	bool up, broken, runtime;
	unsigned int queues, live_rx, live_tx, mtu;
	char features[160];
	char reason[192];		/* why the datapath is broken */
	char last_error[192];		/* the transport's, else the protocol's */
	char protocol_error[160];
	uint64_t connects, disconnects;
	/* Counters only one kind has (vvu: bad_messages, attaches, ...). */
	struct { const char *key; uint64_t v; } extra[SNAP_EXTRA_MAX];
	unsigned int nextra;

	/* Counters. */
	struct sw_port_stats sw;
	uint64_t vdrop[SNAP_VDROP_MAX];
	uint64_t rx_no_buffer, rx_too_big, calls;
	uint64_t messages, message_errors;
	uint32_t macs;			/* MAC table entries on this port */
	char vlan[96];			/* "access 10", "trunk 10,20 native 1", "-" */

	/* Offloads: negotiated, refused claims, and work done (off.h). */
	char offloads[160];
	uint64_t off_bad[OFF_E_MAX];	/* ingress drops: bad offload claims */
	uint64_t off_in_csum, off_in_gso;	/* ingress frames with work */
	uint64_t off_passed;		/* egress: handed on with the work */
	uint64_t off_sw_csum, off_sw_gso;	/* egress: done here instead */
	uint64_t off_segs, off_seg_lost, off_changed;
};

struct status_snap {
	const char *version;
	uint64_t uptime_s;
	uint32_t macs, mac_max, mac_max_per_port, ageing_s;
	uint64_t sleeps, wakeups, polls, empty_polls;
	uint64_t max_gap_us;		/* longest time the loop did not poll */
	unsigned int ctl_conns;		/* control connections open */
	uint64_t ctl_evicted, ctl_timeouts;
	/* One flag per port kind that has one ("vvu"). */
	struct { const char *key; bool on; } flag[SNAP_FLAGS_MAX];
	unsigned int nflags;
	char config_error[256];
};

struct snapshot {
	struct status_snap st;
	unsigned int nports;
	struct port_snap port[SW_MAX_PORTS];
};

/* Total drops of a port: the switch's and the virtio framing's. */
uint64_t snap_drops(const struct port_snap *p);

void report_ports(const struct snapshot *s, struct sbuf *o, bool json);
void report_stats(const struct snapshot *s, struct sbuf *o, bool json);
void report_status(const struct snapshot *s, struct sbuf *o, bool json);
/* Prometheus text exposition format 0.0.4 (docs/metrics.md). */
void report_metrics(const struct snapshot *s, struct sbuf *o);

/* The MAC table, walked once (it can be far larger than a snapshot). */
void report_mac(const struct sw *sw, uint64_t now_ns, struct sbuf *o, bool json);
/*
 * The same, with note(arg, port, mac, buf, n) asked for each entry: when
 * it returns true, buf goes out as the entry's "vtep" (the remote VTEP a
 * VXLAN port learned the MAC behind).
 */
typedef bool (*report_mac_note_fn)(void *arg, int port, const uint8_t *mac,
				   char *buf, size_t n);
void report_mac_notes(const struct sw *sw, uint64_t now_ns, struct sbuf *o,
		      bool json, report_mac_note_fn note, void *arg);

#endif
