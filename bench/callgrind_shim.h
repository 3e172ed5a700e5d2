/* SPDX-License-Identifier: MIT */
/*
 * callgrind's client requests where valgrind's header is installed, and
 * no-ops where it is not: the benches still build and print native
 * figures, only without instruction counts.
 */
#ifndef VVU_BENCH_CALLGRIND_SHIM_H
#define VVU_BENCH_CALLGRIND_SHIM_H

#ifdef HAVE_CALLGRIND_H
#include <valgrind/callgrind.h>
#else
#define CALLGRIND_START_INSTRUMENTATION do { } while (0)
#define CALLGRIND_STOP_INSTRUMENTATION do { } while (0)
#define CALLGRIND_ZERO_STATS do { } while (0)
#define CALLGRIND_DUMP_STATS_AT(s) do { (void)(s); } while (0)
#endif

#endif
