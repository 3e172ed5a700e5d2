// SPDX-License-Identifier: MIT
/*
 * xcore: the round trip of one cache line between two CPUs, in ns.
 *
 * Two threads, pinned to CPU A and CPU B, pass a counter back and forth
 * through one shared 64-byte line: A writes an odd value and waits for B's
 * even answer.  Each round trip moves the line to B and back, so its time
 * is what every frame pays per line a producer and a consumer on those two
 * CPUs share.  The bench runs it before and after each window to tell in
 * which placement (near or far) the host had the two vCPUs.
 *
 * Usage: xcore CPU_A CPU_B [ROUNDS]   prints "median_ns=N p10_ns=N p90_ns=N"
 * Exit 2 on bad usage, 1 when a CPU cannot be used.
 */

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SAMPLES 64

struct line {
	_Alignas(64) _Atomic uint64_t v;
	char pad[56];
};

static struct line shared;
static _Atomic int ready;		/* B: 1 pinned, 2 cannot run on its CPU */
static unsigned long rounds = 2000;

static int pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* B: answer every odd value v with v + 1, until told to stop (0). */
static void *answer(void *arg)
{
	int cpu = *(int *)arg;
	uint64_t seen = 0;

	if (pin(cpu) != 0) {
		atomic_store(&ready, 2);
		return NULL;
	}
	atomic_store(&ready, 1);
	for (;;) {
		uint64_t v = atomic_load_explicit(&shared.v, memory_order_acquire);

		if (v == UINT64_MAX)
			return NULL;
		if (v != seen && (v & 1)) {
			seen = v + 1;
			atomic_store_explicit(&shared.v, seen, memory_order_release);
		}
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int parse_cpu(const char *s, int *cpu)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 0 || v >= CPU_SETSIZE)
		return -1;
	*cpu = (int)v;
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t sample[SAMPLES], v = 0;
	pthread_t t;
	int a, b, st;

	if (argc < 3 || argc > 4 || parse_cpu(argv[1], &a) || parse_cpu(argv[2], &b)) {
		fprintf(stderr, "usage: xcore CPU_A CPU_B [ROUNDS]\n");
		return 2;
	}
	if (argc == 4) {
		rounds = strtoul(argv[3], NULL, 10);
		if (rounds == 0 || rounds > 10000000) {
			fprintf(stderr, "xcore: ROUNDS must be 1..10000000\n");
			return 2;
		}
	}
	if (pin(a) != 0) {
		fprintf(stderr, "xcore: cannot run on CPU %d\n", a);
		return 1;
	}
	if (pthread_create(&t, NULL, answer, &b) != 0) {
		fprintf(stderr, "xcore: cannot start the second thread\n");
		return 1;
	}
	while ((st = atomic_load(&ready)) == 0)
		sched_yield();
	if (st == 2) {
		pthread_join(t, NULL);
		fprintf(stderr, "xcore: cannot run on CPU %d\n", b);
		return 1;
	}
	/* Each sample is the mean of `rounds` round trips; the spread of the
	 * samples shows preemption and placement changes. */
	for (int s = 0; s < SAMPLES; s++) {
		uint64_t t0 = now_ns();

		for (unsigned long r = 0; r < rounds; r++) {
			atomic_store_explicit(&shared.v, ++v, memory_order_release);
			while (atomic_load_explicit(&shared.v, memory_order_acquire) != v + 1)
				;
			v++;
		}
		sample[s] = (now_ns() - t0) / rounds;
	}
	atomic_store_explicit(&shared.v, UINT64_MAX, memory_order_release);
	pthread_join(t, NULL);
	qsort(sample, SAMPLES, sizeof(sample[0]), cmp_u64);
	printf("median_ns=%llu p10_ns=%llu p90_ns=%llu\n",
	       (unsigned long long)sample[SAMPLES / 2],
	       (unsigned long long)sample[SAMPLES / 10],
	       (unsigned long long)sample[SAMPLES * 9 / 10]);
	return 0;
}
