/* SPDX-License-Identifier: MIT */
/*
 * vlog: one logging call for the whole program.  Messages go to stderr
 * (the serial console in the appliance) with a monotonic timestamp.  Never
 * called per frame: the datapath keeps counters instead.
 */
#ifndef VLOG_H
#define VLOG_H

#include <stdbool.h>

enum vlog_level { VLOG_ERR, VLOG_WARN, VLOG_INFO, VLOG_DEBUG };

void vlog_set_level(enum vlog_level l);
enum vlog_level vlog_get_level(void);
/* Parse "err", "warn", "info", "debug".  0 or -EINVAL. */
int vlog_parse_level(const char *s, enum vlog_level *out);
const char *vlog_level_name(enum vlog_level l);

void vlog(enum vlog_level l, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * A budget of log lines for one source (a port): VLOG_RL_BURST lines per
 * VLOG_RL_WINDOW_S seconds.  Lines over the budget are counted, not
 * printed, and the first line of the next window says how many were
 * dropped.  A peer that reconnects or is refused in a tight loop thus
 * costs a bounded log, whatever its rate.  Zero-initialise before use.
 */
#define VLOG_RL_BURST 10
#define VLOG_RL_WINDOW_S 5

struct vlog_rl {
	unsigned long long window_start_ns;
	unsigned int in_window;		/* lines printed in this window */
	unsigned long long suppressed;	/* lines dropped since the last printed one */
	unsigned long long suppressed_total;
};

/* vlog() through rl's budget.  Returns true when the line was printed. */
bool vlog_rl(struct vlog_rl *rl, enum vlog_level l, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define vlog_err(...)	vlog(VLOG_ERR, __VA_ARGS__)
#define vlog_warn(...)	vlog(VLOG_WARN, __VA_ARGS__)
#define vlog_info(...)	vlog(VLOG_INFO, __VA_ARGS__)
#define vlog_debug(...)	vlog(VLOG_DEBUG, __VA_ARGS__)

#endif
