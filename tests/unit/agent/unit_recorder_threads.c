// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The recorder with one writer thread (as xcapd's samples thread: add, flush,
 * expire) and readers on another (scan, stats) at the same time: every scan
 * returns intact samples, each at most once, while segments open, close and
 * go by retention under it; at the end a scan returns what stats counts.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>
#include "agent/recorder.h"
#include "common/filter.h"
#include "common/frame.h"
#include "common/log.h"
#include "frames.h"
#include "recorder_test.h"
#include "test.h"

#define NS 1000000000ULL
#define T0 (1700000040ULL * NS) /* the start of a minute */
#define STEP (5 * 1000000ULL) /* sample time between two samples: 200 a second */
#define SAMPLES 60000 /* five minutes of sample time, five segments */

struct run {
	struct xcap_recorder *r;
	bool done;
	int add_errors;
};

/* Sample i: time T0 + i * STEP, UDP from port i & 0xffff to port 53. */
static int add_one(struct xcap_recorder *r, uint32_t i)
{
	struct frame_opts o = {
		.family = 4, .proto = IPPROTO_UDP, .sport = i & 0xffff, .dport = 53, .len = 200
	};
	uint8_t buf[256];
	struct xcap_packet p = { .ts_ns = T0 + i * STEP, .data = buf, .ifindex = 7 };

	p.cap_len = p.orig_len = frame_build(buf, sizeof(buf), &o);
	return xcap_recorder_add(r, &p);
}

static void *writer(void *arg)
{
	struct run *w = arg;
	uint32_t i;

	for (i = 0; i < SAMPLES; i++) {
		if (add_one(w->r, i))
			w->add_errors++;
		if (i % 500 == 499)
			xcap_recorder_flush(w->r);
		/* Sample time is "now": the budget deletes the oldest segments as new ones come. */
		if (i % 3000 == 2999) {
			xcap_recorder_expire(w->r, T0 + i * STEP);
			usleep(2000);
		}
	}
	__atomic_store_n(&w->done, true, __ATOMIC_RELEASE);
	return NULL;
}

struct seen {
	uint8_t *hit; /* one byte per sample id */
	uint64_t n;
	uint64_t bad; /* not a sample as add_one made it, or one seen twice */
};

static void seen_one(void *arg, const struct xcap_packet *pkt, uint64_t seq)
{
	struct seen *s = arg;
	uint64_t i = (pkt->ts_ns - T0) / STEP;
	struct xcap_tuple t;

	(void)seq;
	xcap_frame_parse(pkt->data, pkt->cap_len, &t);
	if (pkt->ts_ns < T0 || (pkt->ts_ns - T0) % STEP || i >= SAMPLES || s->hit[i]++ ||
	    !(t.has & (1U << XCAP_FIELD_SPORT)) || t.v[XCAP_FIELD_SPORT].num != (i & 0xffff) ||
	    t.v[XCAP_FIELD_DPORT].num != 53 || pkt->orig_len != 200)
		s->bad++;
	s->n++;
}

/* One scan of everything, with or without a filter (the index paths). */
static uint64_t scan_once(struct xcap_recorder *r, bool filtered, uint64_t *bad)
{
	struct xcap_filter f;
	struct seen s = { .hit = calloc(SAMPLES, 1) };
	struct xcap_recorder_scan sc = { .to_ns = UINT64_MAX, .fn = seen_one, .arg = &s };
	int err;

	xcap_filter_init(&f);
	xcap_filter_set_num(&f, XCAP_FIELD_DPORT, 53);
	sc.filter = filtered ? &f : NULL;
	if (!s.hit)
		return 0;
	err = xcap_recorder_scan(r, &sc);
	CHECK(!err, "scan: %s", strerror(-err));
	CHECK_EQ(sc.corrupt, 0);
	*bad += s.bad;
	free(s.hit);
	return s.n;
}

static void scans_run_while_the_writer_writes(void)
{
	struct xcap_recorder *r = rec_open("threads", 5ULL << 20, 0, 0);
	struct run w = { .r = r };
	struct xcap_recorder_stats st;
	uint64_t bad = 0, n, most = 0;
	pthread_t t;
	int scans = 0;

	if (!r)
		return;
	CHECK(!pthread_create(&t, NULL, writer, &w), "pthread_create");
	while (!__atomic_load_n(&w.done, __ATOMIC_ACQUIRE)) {
		n = scan_once(r, scans & 1, &bad);
		most = n > most ? n : most;
		xcap_recorder_stats(r, &st);
		scans++;
	}
	pthread_join(t, NULL);
	printf("# %d scans, most %llu\n", scans, (unsigned long long)most);
	CHECK_EQ(w.add_errors, 0);
	CHECK_EQ(bad, 0);
	CHECK(scans >= 2 && most > 0, "%d scans, at most %llu samples", scans,
	      (unsigned long long)most);
	xcap_recorder_stats(r, &st);
	CHECK(st.expired > 0, "no segment expired: the budget was not exercised");
	CHECK_EQ(scan_once(r, false, &bad), st.samples);
	CHECK_EQ(scan_once(r, true, &bad), st.samples);
	CHECK_EQ(bad, 0);
	xcap_recorder_close(r);
}

int main(void)
{
	if (test_tmpdir_init("recorder-threads"))
		return 1;
	xcap_log_set_level(XCAP_LOG_ERR);
	RUN_TEST(scans_run_while_the_writer_writes);
	return tests_failed_total ? 1 : 0;
}
