/* SPDX-License-Identifier: MIT */
/*
 * vlog: one logging call for the whole program.  Messages go to stderr
 * (the serial console in the appliance) with a monotonic timestamp.  Never
 * called per frame: the datapath keeps counters instead.
 */
#ifndef VLOG_H
#define VLOG_H

enum vlog_level { VLOG_ERR, VLOG_WARN, VLOG_INFO, VLOG_DEBUG };

void vlog_set_level(enum vlog_level l);
enum vlog_level vlog_get_level(void);
/* Parse "err", "warn", "info", "debug".  0 or -EINVAL. */
int vlog_parse_level(const char *s, enum vlog_level *out);
const char *vlog_level_name(enum vlog_level l);

void vlog(enum vlog_level l, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define vlog_err(...)	vlog(VLOG_ERR, __VA_ARGS__)
#define vlog_warn(...)	vlog(VLOG_WARN, __VA_ARGS__)
#define vlog_info(...)	vlog(VLOG_INFO, __VA_ARGS__)
#define vlog_debug(...)	vlog(VLOG_DEBUG, __VA_ARGS__)

#endif
