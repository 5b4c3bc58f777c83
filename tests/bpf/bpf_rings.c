// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The ring threads (agent/rings.c) with the real program and BPF_PROG_TEST_RUN:
 * once started, they alone consume; disarm and drain hand over to them and
 * return with every record delivered, or, when the frames thread is stuck in
 * another capture's sink, give up after a stall and count what is left.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
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

/* A UDP frame to dport, run `repeat` times through the program. */
static void send_udp(struct xcap_engine *e, uint16_t dport, int repeat)
{
	struct frame_opts o = { .family = 4, .proto = IPPROTO_UDP, .sport = 40000, .dport = dport };
	uint8_t data[256];
	uint32_t len = frame_build(data, sizeof(data), &o);
	struct xdp_md ctx = { .data_end = len, .ingress_ifindex = 1 };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = data, .data_size_in = len, .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .repeat = repeat);

	CHECK(len && !bpf_prog_test_run_opts(xcap_engine_prog_fd(e), &opts), "test run: %s",
	      strerror(errno));
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

#define TESTS(X)                                              \
	X(disarm_returns_with_every_frame_delivered)          \
	X(disarm_waits_for_a_slow_sink)                       \
	X(disarm_gives_up_on_a_frames_thread_stuck_elsewhere) \
	X(drain_waits_for_the_samples_thread)                 \
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
