// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The ring threads (agent/rings.c) with the real program and BPF_PROG_TEST_RUN:
 * once started, they alone consume; disarm and drain hand over to them and
 * return with every record delivered, or, when the frames thread is stuck in
 * another capture's sink, give up after a stall and count what is left.
 * The frames rings are per CPU: frames of two CPUs at once all arrive, merged
 * in time order, and a budget holds exactly across the CPUs. The program wakes
 * a blocked consumer once per quarter of a ring, not per record.
 */
#define _GNU_SOURCE /* CPU affinity */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "agent/engine.h"
#include "agent/rings.h"
#include "common/log.h"
#include "common/util.h"
#include "frames.h"
#include "test.h"

/* What a sink saw, written on the ring thread and read on the test's. */
struct tally {
	uint64_t frames;
	uint64_t flushes;
	pthread_t writer; /* the thread of the last call */
	int slow_us; /* each frame takes this long */
	bool block; /* the first frame waits until cleared */
};

static const pthread_t *main_thread;

static int tally_frame(void *arg, const struct xcap_packet *pkt)
{
	struct tally *t = arg;
	int i;

	(void)pkt;
	t->writer = pthread_self();
	/* At most 10 s stuck, whatever the test does. */
	for (i = 0; i < 1000 && __atomic_load_n(&t->block, __ATOMIC_ACQUIRE); i++)
		usleep(10000);
	if (t->slow_us)
		usleep(t->slow_us);
	__atomic_add_fetch(&t->frames, 1, __ATOMIC_RELEASE);
	return 0;
}

static void tally_flush(void *arg)
{
	struct tally *t = arg;

	t->writer = pthread_self();
	__atomic_add_fetch(&t->flushes, 1, __ATOMIC_RELEASE);
}

static uint64_t frames_of(struct tally *t)
{
	return __atomic_load_n(&t->frames, __ATOMIC_ACQUIRE);
}

/* Loads an engine and, with a sampler sink, sets it; threads started when `start`. */
static struct xcap_engine *engine_up(const struct xcap_sink *sampler, bool start)
{
	struct xcap_engine *e = xcap_engine_open(NULL);
	int err = e ? xcap_engine_load(e) : -errno;

	if (!err && sampler)
		err = xcap_engine_set_sampler_sink(e, 1, sampler);
	if (!err && start)
		err = xcap_engine_start(e);
	CHECK(!err, "engine: %s", strerror(-err));
	if (err) {
		xcap_engine_close(e);
		return NULL;
	}
	return e;
}

/* A UDP frame from sport to dport, run `repeat` times through the program. */
static void send_udp_from(struct xcap_engine *e, uint16_t sport, uint16_t dport, int repeat)
{
	struct frame_opts o = { .family = 4, .proto = IPPROTO_UDP, .sport = sport, .dport = dport };
	uint8_t data[256];
	uint32_t len = frame_build(data, sizeof(data), &o);
	struct xdp_md ctx = { .data_end = len, .ingress_ifindex = 1 };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = data, .data_size_in = len, .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .repeat = repeat);

	CHECK(len && !bpf_prog_test_run_opts(xcap_engine_prog_fd(e), &opts), "test run: %s",
	      strerror(errno));
}

static void send_udp(struct xcap_engine *e, uint16_t dport, int repeat)
{
	send_udp_from(e, 40000, dport, repeat);
}

static int arm_port(struct xcap_engine *e, uint16_t dport, struct tally *t)
{
	struct xcap_sink sink = { .fn = tally_frame, .flush = tally_flush, .arg = t };
	struct xcap_limits none = {};
	struct xcap_filter f;
	int slot;

	xcap_filter_init(&f);
	xcap_filter_set_num(&f, XCAP_FIELD_DPORT, dport);
	slot = xcap_engine_arm_sink(e, &f, &none, &sink);
	CHECK(slot >= 0, "arm: %s", strerror(-slot));
	return slot;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void disarm_returns_with_every_frame_delivered(void)
{
	struct xcap_engine *e = engine_up(NULL, true);
	struct xcap_capture_counters c = {};
	struct tally t = {};
	int slot;

	if (!e || (slot = arm_port(e, 53, &t)) < 0)
		goto out;
	send_udp(e, 53, 5000);
	/* The sink flushes on the frames thread about every 100 ms, records or not. */
	usleep(500 * 1000);
	CHECK(!xcap_engine_disarm(e, slot, &c), "disarm");
	CHECK_EQ(frames_of(&t), 5000);
	CHECK_EQ(c.kernel.written, 5000);
	CHECK_EQ(c.delivered, 5000);
	CHECK_EQ(c.user_dropped + c.write_errors, 0);
	CHECK(__atomic_load_n(&t.flushes, __ATOMIC_ACQUIRE) >= 2, "flushes: %llu",
	      (unsigned long long)t.flushes);
	CHECK(!pthread_equal(t.writer, *main_thread), "the sink ran on the test's thread");
	/* Disarmed: the sink is never called again. */
	send_udp(e, 53, 10);
	CHECK_EQ(xcap_engine_drain(e), 0);
	CHECK_EQ(frames_of(&t), 5000);
	CHECK_EQ(xcap_engine_capture_counters(e, slot, &c), -ENOENT);
out:
	xcap_engine_close(e);
}

static void disarm_waits_for_a_slow_sink(void)
{
	struct xcap_engine *e = engine_up(NULL, true);
	struct xcap_capture_counters c = {};
	struct tally t = { .slow_us = 1000 };
	int64_t t0;
	int slot;

	if (!e || (slot = arm_port(e, 53, &t)) < 0)
		goto out;
	send_udp(e, 53, 2500);
	/* 2.5 s of sink time: more than a stall, but the thread makes progress. */
	t0 = now_ms();
	CHECK(!xcap_engine_disarm(e, slot, &c), "disarm");
	CHECK(now_ms() - t0 >= 1000, "disarm took %lld ms", (long long)(now_ms() - t0));
	CHECK_EQ(c.delivered, 2500);
	CHECK_EQ(c.user_dropped, 0);
	CHECK_EQ(frames_of(&t), 2500);
out:
	xcap_engine_close(e);
}

static void disarm_gives_up_on_a_frames_thread_stuck_elsewhere(void)
{
	struct xcap_engine *e = engine_up(NULL, true);
	struct xcap_capture_counters ca = {}, cb = {};
	struct tally a = { .block = true }, b = {}, c = {}, d = {};
	int sa, sb, sc, sd;
	int64_t t0, took;

	if (!e || (sa = arm_port(e, 53, &a)) < 0 || (sb = arm_port(e, 80, &b)) < 0)
		goto out;
	send_udp(e, 53, 1); /* the frames thread stays in a's sink */
	send_udp(e, 80, 10); /* ... with b's frames behind it */
	t0 = now_ms();
	CHECK(!xcap_engine_disarm(e, sb, &cb), "disarm b");
	took = now_ms() - t0;
	CHECK(took >= XCAP_RINGS_STALL_MS && took < 3 * XCAP_RINGS_STALL_MS, "disarm took %lld ms",
	      (long long)took);
	/* Every matched packet in exactly one place: the ten left in the ring are lost, said so. */
	CHECK_EQ(cb.kernel.matched, 10);
	CHECK_EQ(cb.kernel.written, 10);
	CHECK_EQ(cb.delivered, 0);
	CHECK_EQ(cb.user_dropped, 10);
	/* Not reused while its records may still come. */
	sc = arm_port(e, 443, &c);
	CHECK(sc != sb, "slot %d reused while stale", sb);
	__atomic_store_n(&a.block, false, __ATOMIC_RELEASE);
	CHECK_EQ(xcap_engine_drain(e), 0);
	CHECK_EQ(frames_of(&b), 0);
	CHECK(!xcap_engine_disarm(e, sa, &ca), "disarm a");
	CHECK_EQ(ca.delivered, 1);
	if (sc >= 0)
		xcap_engine_disarm(e, sc, NULL);
	/* Caught up: both slots are free again. */
	sc = arm_port(e, 443, &c);
	sd = arm_port(e, 8080, &d);
	CHECK(sc == sa && sd == sb, "slots %d and %d, want %d and %d", sc, sd, sa, sb);
out:
	__atomic_store_n(&a.block, false, __ATOMIC_RELEASE);
	xcap_engine_close(e);
}

static void drain_waits_for_the_samples_thread(void)
{
	struct tally t = {};
	struct xcap_sink s = { .fn = tally_frame, .flush = tally_flush, .arg = &t };
	struct xcap_engine *e = engine_up(&s, true);

	if (!e)
		return;
	send_udp(e, 53, 1000);
	CHECK_EQ(xcap_engine_drain_samples(e), 0);
	CHECK_EQ(frames_of(&t), 1000);
	CHECK(!pthread_equal(t.writer, *main_thread), "the sampler ran on the test's thread");
	xcap_engine_close(e);
}

/* Frames from two source ports (one per CPU), and whether they came in time order. */
struct two_cpus_sink {
	uint64_t from[2]; /* by source port - TWO_CPUS_SPORT */
	uint64_t others;
	uint64_t last_ts;
	uint64_t backwards; /* frames older than the one before */
};

#define TWO_CPUS_SPORT 40000
#define TWO_CPUS_FRAMES 20000 /* per CPU; a default ring of each CPU holds them all */

static int two_cpus_frame(void *arg, const struct xcap_packet *pkt)
{
	struct two_cpus_sink *t = arg;
	/* Ethernet 14 + IPv4 20 (no options): the UDP source port. */
	unsigned int sport = pkt->cap_len >= 36 ? pkt->data[34] << 8 | pkt->data[35] : 0;

	if (sport - TWO_CPUS_SPORT < 2)
		t->from[sport - TWO_CPUS_SPORT]++;
	else
		t->others++;
	t->backwards += pkt->ts_ns < t->last_ts;
	t->last_ts = pkt->ts_ns;
	return 0;
}

struct cpu_sender {
	pthread_t thread;
	struct xcap_engine *e;
	int cpu;
	uint16_t sport;
	pthread_barrier_t *go;
};

static void *send_on_cpu(void *arg)
{
	struct cpu_sender *s = arg;
	cpu_set_t one;

	CPU_ZERO(&one);
	CPU_SET(s->cpu, &one);
	CHECK(!pthread_setaffinity_np(pthread_self(), sizeof(one), &one), "pin to CPU %d", s->cpu);
	pthread_barrier_wait(s->go);
	send_udp_from(s->e, s->sport, 53, TWO_CPUS_FRAMES);
	return NULL;
}

/* The first two CPUs this process may run on (the same one twice on a single CPU). */
static void two_cpus(int cpus[2])
{
	cpu_set_t allowed;
	int cpu, n = 0;

	sched_getaffinity(0, sizeof(allowed), &allowed);
	for (cpu = 0; cpu < CPU_SETSIZE && n < 2; cpu++)
		if (CPU_ISSET(cpu, &allowed))
			cpus[n++] = cpu;
	if (n < 2) {
		printf("# one CPU only: both senders share it\n");
		cpus[1] = cpus[0];
	}
}

/* Two CPUs send at once into rings of their own (frames_rings 0) or a shared one (1). */
static void two_cpus_send(uint32_t frames_rings)
{
	const uint64_t limit = TWO_CPUS_FRAMES + TWO_CPUS_FRAMES / 2;
	struct xcap_engine_opts opts = { .frames_rings = frames_rings };
	struct xcap_engine *e = xcap_engine_open(&opts);
	struct two_cpus_sink all = {}, some = {};
	struct xcap_sink sink_all = { .fn = two_cpus_frame, .arg = &all },
			 sink_some = { .fn = two_cpus_frame, .arg = &some };
	struct xcap_limits none = {}, budget = { .packets = limit };
	struct xcap_capture_counters ca = {}, cs = {};
	struct cpu_sender s[2];
	pthread_barrier_t go;
	struct xcap_filter f;
	int i, cpus[2], sa, ss, err = e ? xcap_engine_load(e) : -errno;

	CHECK(!err, "engine: %s", strerror(-err));
	if (err)
		goto out;
	xcap_filter_init(&f);
	xcap_filter_set_num(&f, XCAP_FIELD_DPORT, 53);
	sa = xcap_engine_arm_sink(e, &f, &none, &sink_all);
	ss = xcap_engine_arm_sink(e, &f, &budget, &sink_some);
	CHECK(sa >= 0 && ss >= 0, "arm: %s", strerror(-(sa < 0 ? sa : ss)));
	if (sa < 0 || ss < 0)
		goto out;
	two_cpus(cpus);
	pthread_barrier_init(&go, NULL, 2);
	for (i = 0; i < 2; i++) {
		s[i] = (struct cpu_sender){
			.e = e, .cpu = cpus[i], .sport = TWO_CPUS_SPORT + i, .go = &go
		};
		pthread_create(&s[i].thread, NULL, send_on_cpu, &s[i]);
	}
	for (i = 0; i < 2; i++)
		pthread_join(s[i].thread, NULL);
	pthread_barrier_destroy(&go);
	/* Both rings hold everything now: one pass merges them. */
	CHECK(xcap_engine_drain(e) >= 0, "drain");
	CHECK(!xcap_engine_capture_counters(e, sa, &ca), "counters");
	CHECK(!xcap_engine_capture_counters(e, ss, &cs), "counters");
	CHECK_EQ(ca.kernel.matched, 2 * TWO_CPUS_FRAMES);
	CHECK_EQ(ca.kernel.written, 2 * TWO_CPUS_FRAMES);
	CHECK_EQ(ca.delivered, 2 * TWO_CPUS_FRAMES);
	CHECK_EQ(all.from[0], TWO_CPUS_FRAMES);
	CHECK_EQ(all.from[1], TWO_CPUS_FRAMES);
	CHECK_EQ(all.others, 0);
	/* The budget, taken by both CPUs: exactly the limit, the rest over it. */
	CHECK_EQ(cs.kernel.written, limit);
	CHECK_EQ(cs.delivered, limit);
	CHECK_EQ(some.from[0] + some.from[1], limit);
	CHECK_EQ(cs.kernel.matched, cs.kernel.written + cs.kernel.over_budget);
	CHECK_EQ(cs.kernel.ring_full + cs.user_dropped + cs.write_errors, 0);
	/* A shared ring is in the order of reservation, stamped a little later: not merged. */
	if (!frames_rings)
		CHECK_EQ(all.backwards + some.backwards, 0);
out:
	xcap_engine_close(e);
}

static void frames_of_two_cpus_arrive_in_order_within_budget(void)
{
	two_cpus_send(0);
}

static void frames_of_two_cpus_sharing_a_ring_arrive_within_budget(void)
{
	two_cpus_send(1);
}

/* A consumer blocked in xcap_engine_poll, until the program wakes it (or 10 s pass). */
struct waiter {
	struct xcap_engine *e;
	pthread_t thread;
	pid_t tid;
	int consumed;
	int64_t waited_ms;
	bool done;
};

static void *wait_in_poll(void *arg)
{
	struct waiter *w = arg;
	int64_t t0 = now_ms();

	__atomic_store_n(&w->tid, gettid(), __ATOMIC_RELEASE);
	w->consumed = xcap_engine_poll(w->e, 10000);
	w->waited_ms = now_ms() - t0;
	__atomic_store_n(&w->done, true, __ATOMIC_RELEASE);
	return NULL;
}

/* Whether thread tid sleeps (state S in /proc): the waiter is inside poll() then. */
static bool sleeping(pid_t tid)
{
	char path[64], stat[256], *end;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	f = fopen(path, "r");
	if (!f)
		return false;
	n = fread(stat, 1, sizeof(stat) - 1, f);
	fclose(f);
	stat[n] = '\0';
	end = strrchr(stat, ')');
	return end && end[1] == ' ' && end[2] == 'S';
}

/*
 * Wake-ups cost an interrupt each: the program wakes a blocked consumer only
 * once a CPU has written a quarter of the ring (its share of it) since the
 * last one, not for a record below that; and then it does, long before the
 * consumer's own 100 ms look would matter (here it waits up to 10 s).
 */
static void a_quarter_of_the_ring_wakes_the_consumer(void)
{
	/* The smallest record: ring buffer header, xcap's, the smallest class of frame. */
	const uint32_t ring = 64 * 1024, record = 8 + sizeof(struct xcap_rec) + 64;
	struct xcap_engine_opts opts = { .frames_ring_bytes = ring, .frames_rings = 1 };
	struct xcap_engine *e = xcap_engine_open(&opts);
	int err = e ? xcap_engine_load(e) : -errno, cpus[2], i, total;
	struct waiter w = { .e = e };
	cpu_set_t one, allowed;
	struct tally t = {};

	CHECK(!err, "engine: %s", strerror(-err));
	if (err || arm_port(e, 53, &t) < 0)
		goto out;
	/* One CPU sends: its count of bytes alone decides. */
	sched_getaffinity(0, sizeof(allowed), &allowed);
	two_cpus(cpus);
	CPU_ZERO(&one);
	CPU_SET(cpus[0], &one);
	sched_setaffinity(0, sizeof(one), &one);
	pthread_create(&w.thread, NULL, wait_in_poll, &w);
	for (i = 0; i < 500 && !(__atomic_load_n(&w.tid, __ATOMIC_ACQUIRE) && sleeping(w.tid)); i++)
		usleep(10000);
	CHECK(sleeping(w.tid), "the waiter never blocked in poll");
	send_udp(e, 53, 1);
	usleep(300 * 1000);
	CHECK(!__atomic_load_n(&w.done, __ATOMIC_ACQUIRE),
	      "one record woke the consumer (after %lld ms)", (long long)w.waited_ms);
	send_udp(e, 53, ring / 4 / record + 1);
	pthread_join(w.thread, NULL);
	sched_setaffinity(0, sizeof(allowed), &allowed);
	CHECK(w.waited_ms < 5000, "a quarter of the ring did not wake the consumer: %lld ms",
	      (long long)w.waited_ms);
	CHECK(w.consumed >= 2, "consumed %d records once woken", w.consumed);
	total = w.consumed > 0 ? w.consumed : 0;
	while ((i = xcap_engine_poll(e, 0)) > 0)
		total += i;
	CHECK_EQ(total, ring / 4 / record + 2);
	CHECK_EQ(frames_of(&t), ring / 4 / record + 2);
out:
	xcap_engine_close(e);
}

static void started_engine_refuses_poll_and_a_new_sampler(void)
{
	struct tally t = {};
	struct xcap_sink s = { .fn = tally_frame, .arg = &t };
	struct xcap_engine *e = engine_up(NULL, true);

	if (!e)
		return;
	CHECK_EQ(-xcap_engine_poll(e, 0), EBUSY);
	CHECK_EQ(-xcap_engine_set_sampler_sink(e, 1, &s), EBUSY);
	xcap_engine_close(e);
}

#define TESTS(X)                                                  \
	X(disarm_returns_with_every_frame_delivered)              \
	X(disarm_waits_for_a_slow_sink)                           \
	X(disarm_gives_up_on_a_frames_thread_stuck_elsewhere)     \
	X(drain_waits_for_the_samples_thread)                     \
	X(frames_of_two_cpus_arrive_in_order_within_budget)       \
	X(frames_of_two_cpus_sharing_a_ring_arrive_within_budget) \
	X(a_quarter_of_the_ring_wakes_the_consumer)               \
	X(started_engine_refuses_poll_and_a_new_sampler)

#define RUN(fn) RUN_TEST(fn);
#define SKIP(fn) SKIP_TEST(fn, strerror(err));

int main(void)
{
	pthread_t self = pthread_self();
	struct xcap_engine *e;
	int err = 0;

	main_thread = &self;
	xcap_log_set_level(XCAP_LOG_ERR);
	e = xcap_engine_open(NULL);
	err = e ? xcap_engine_load(e) : -errno;
	xcap_engine_close(e);
	if (err) {
		err = -err;
		TESTS(SKIP)
		return 0;
	}
	TESTS(RUN)
	return tests_failed_total ? 1 : 0;
}
