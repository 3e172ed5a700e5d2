/* SPDX-License-Identifier: MIT */
/*
 * vlog: timestamped, levelled messages on stderr.  Trusts its callers to
 * pass printable strings; peer-supplied text is never passed as a format.
 */
#include "vlog.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static enum vlog_level cur = VLOG_INFO;
static const char *const names[] = { "err", "warn", "info", "debug" };

void vlog_set_level(enum vlog_level l) { cur = l; }
enum vlog_level vlog_get_level(void) { return cur; }

const char *vlog_level_name(enum vlog_level l)
{
	return (unsigned int)l < 4 ? names[l] : "?";
}

int vlog_parse_level(const char *s, enum vlog_level *out)
{
	for (int i = 0; i < 4; i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = (enum vlog_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

static void vlog_emit(enum vlog_level l, const struct timespec *ts,
		      const char *line, unsigned long long suppressed)
{
	if (suppressed)
		fprintf(stderr, "[%5ld.%03ld] vvu-switch %s: %s (%llu similar lines suppressed)\n",
			(long)ts->tv_sec, ts->tv_nsec / 1000000, names[l], line,
			suppressed);
	else
		fprintf(stderr, "[%5ld.%03ld] vvu-switch %s: %s\n", (long)ts->tv_sec,
			ts->tv_nsec / 1000000, names[l], line);
}

void vlog(enum vlog_level l, const char *fmt, ...)
{
	struct timespec ts;
	char line[512];
	va_list ap;

	if (l > cur)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	vlog_emit(l, &ts, line, 0);
}

bool vlog_rl(struct vlog_rl *rl, enum vlog_level l, const char *fmt, ...)
{
	const unsigned long long window = VLOG_RL_WINDOW_S * 1000000000ull;
	unsigned long long now;
	struct timespec ts;
	char line[512];
	va_list ap;

	if (l > cur)
		return false;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec;
	if (rl->window_start_ns == 0 || now - rl->window_start_ns >= window) {
		rl->window_start_ns = now;
		rl->in_window = 0;
	}
	if (rl->in_window >= VLOG_RL_BURST) {
		rl->suppressed++;
		rl->suppressed_total++;
		return false;
	}
	rl->in_window++;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	vlog_emit(l, &ts, line, rl->suppressed);
	rl->suppressed = 0;
	return true;
}
