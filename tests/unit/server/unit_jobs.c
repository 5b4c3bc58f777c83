// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Unit tier: the capture state machine (jobs.c) on the store and runner
 * seams, with an in-memory store, a fake runner and a clock the test moves.
 * Deliveries are real: the worker copies spool files to a file:// bucket.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "common/filter.h"
#include "common/log.h"
#include "runner_fake.h"
#include "server/jobs.h"
#include "store_mem.h"
#include "test.h"

#define ACC "acc1"
#define SEC NSEC_PER_SEC
#define T0 (1000 * SEC)

/* One state machine on its seams. */
struct env {
	struct xcap_config cfg;
	struct store_mem *store;
	struct runner_fake *runner;
	struct xcap_jobs *jobs;
	int64_t now; /* the test's CLOCK_MONOTONIC */
	char bucket[PATH_MAX];
};

static struct env *env_new(const char *name)
{
	struct env *e = calloc(1, sizeof(*e));
	char dir[PATH_MAX];

	if (!e)
		return NULL;
	xcap_config_init(&e->cfg);
	e->cfg.n_accounts = 1;
	snprintf(e->cfg.accounts[0].id, sizeof(e->cfg.accounts[0].id), ACC);
	test_path(dir, sizeof(dir), name);
	mkdir(dir, 0700);
	snprintf(e->cfg.state_dir, sizeof(e->cfg.state_dir), "%s/state", dir);
	mkdir(e->cfg.state_dir, 0700);
	snprintf(e->bucket, sizeof(e->bucket), "%s/bucket", dir);
	mkdir(e->bucket, 0700);
	/* The bucket's folder is in the one bucket root (what xcap_config_make_state finds). */
	snprintf(e->cfg.file_bucket_roots[0], PATH_MAX, "%s", e->bucket);
	CHECK(realpath(e->bucket, e->cfg.file_bucket_real[0]), "realpath %s", e->bucket);
	e->cfg.n_roots = 1;
	e->now = T0;
	e->store = store_mem_new(&e->cfg);
	e->runner = runner_fake_new(&e->now);
	if (e->store && e->runner)
		e->jobs = xcap_jobs_new(&e->cfg, &e->store->base, &e->runner->base);
	CHECK(e->jobs, "cannot set up %s", name);
	return e;
}

/* Ends the jobs (the worker delivers what is queued first); the store stays readable. */
static void env_stop_jobs(struct env *e)
{
	xcap_jobs_free(e->jobs);
	e->jobs = NULL;
}

static void env_free(struct env *e)
{
	if (!e)
		return;
	env_stop_jobs(e);
	xcap_runner_free(e->runner ? &e->runner->base : NULL);
	xcap_store_close(e->store ? &e->store->base : NULL);
	free(e);
}

static void full_rec(struct env *e, struct xcap_capture_rec *r, const char *id, uint32_t time_limit)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->id, sizeof(r->id), "%s", id);
	snprintf(r->account, sizeof(r->account), ACC);
	r->type = XCAP_TYPE_FULL;
	r->status = XCAP_ST_PENDING;
	r->submitted_ns = 1700000000LL * SEC;
	r->time_limit = time_limit;
	snprintf(r->filter_json, sizeof(r->filter_json), "{}");
	snprintf(r->colo_name, sizeof(r->colo_name), "local");
	snprintf(r->destination_conf, sizeof(r->destination_conf), "file://%s", e->bucket);
}

static int start(struct env *e, struct xcap_capture_rec *r)
{
	struct xcap_filter f;
	char err[256];

	xcap_filter_init(&f);
	return xcap_jobs_start(e->jobs, r, &f, err, sizeof(err));
}

static enum xcap_status status_of(struct env *e, const char *id)
{
	struct xcap_capture_rec r;

	return xcap_store_capture_get(&e->store->base, ACC, id, &r) ? XCAP_ST_UNKNOWN : r.status;
}

/* The delivery worker is a real thread: waits (5 s at most) for the record to reach st. */
static bool wait_status(struct env *e, const char *id, enum xcap_status st)
{
	int i;

	for (i = 0; i < 1000 && status_of(e, id) != st; i++)
		usleep(5000);
	return status_of(e, id) == st;
}

/* Polls cond every millisecond, 5 s at most. */
#define wait_until(cond)                                 \
	({                                               \
		int i_;                                  \
                                                         \
		for (i_ = 0; i_ < 5000 && !(cond); i_++) \
			usleep(1000);                    \
		(cond);                                  \
	})

#define CHECK_STR(got, want) CHECK(!strcmp(got, want), "got '%s', want '%s'", got, want)

static bool exists(const char *fmt, const char *a, const char *b)
{
	char path[PATH_MAX + 128];

	snprintf(path, sizeof(path), fmt, a, b);
	return !access(path, F_OK);
}

static void full_capture_ends_at_its_time_limit_and_is_delivered(void)
{
	struct env *e = env_new("limit");
	struct xcap_capture_rec r, got;

	if (!e || !e->jobs)
		goto out;
	full_rec(e, &r, "c1", 10);
	CHECK_EQ(start(e, &r), 0);
	CHECK_EQ(status_of(e, "c1"), XCAP_ST_RUNNING);
	runner_fake_packets(e->runner, "c1", 5);
	xcap_jobs_tick(e->jobs, T0 + 10 * SEC - 1);
	CHECK_EQ(e->runner->stopped, 0);
	CHECK_EQ(status_of(e, "c1"), XCAP_ST_RUNNING);
	xcap_jobs_tick(e->jobs, T0 + 10 * SEC);
	CHECK_EQ(e->runner->stopped, 1);
	CHECK(wait_status(e, "c1", XCAP_ST_COMPLETE), "status %d", status_of(e, "c1"));
	CHECK_EQ(xcap_store_capture_get(&e->store->base, ACC, "c1", &got), 0);
	CHECK_EQ(got.packets_captured, 5);
	CHECK_EQ(got.bytes_captured, 500);
	CHECK(exists("%s/pcap_%s.pcap", e->bucket, "c1"), "no object in the bucket");
	CHECK(!exists("%s/spool/%s.pcap", e->cfg.state_dir, "c1"), "the spool file is left");
out:
	env_free(e);
}

static void a_tick_writes_nothing_while_nothing_changes(void)
{
	struct env *e = env_new("quiet");
	struct xcap_capture_rec r;
	int i, puts;

	if (!e || !e->jobs)
		goto out;
	full_rec(e, &r, "c1", 60);
	CHECK_EQ(start(e, &r), 0);
	runner_fake_packets(e->runner, "c1", 7);
	puts = e->store->capture_puts;
	for (i = 1; i <= 100; i++)
		xcap_jobs_tick(e->jobs, T0 + i * 100 * NSEC_PER_MSEC);
	CHECK_EQ(e->store->capture_puts, puts);
	CHECK_EQ(status_of(e, "c1"), XCAP_ST_RUNNING);
out:
	env_free(e);
}

/* Nothing matched before the stop: an empty capture is delivered and complete, not failed. */
static void a_stop_without_packets_delivers_an_empty_capture(void)
{
	struct env *e = env_new("stop");
	struct xcap_capture_rec r, got;

	if (!e || !e->jobs)
		goto out;
	full_rec(e, &r, "c1", 60);
	CHECK_EQ(start(e, &r), 0);
	CHECK_EQ(xcap_jobs_stop(e->jobs, &r, 1234), 0);
	CHECK(r.status != XCAP_ST_FAILED, "failed: %s", r.error_message);
	CHECK_EQ(r.stop_requested_ns, 1234);
	CHECK(wait_status(e, "c1", XCAP_ST_COMPLETE), "status %d", status_of(e, "c1"));
	CHECK_EQ(xcap_store_capture_get(&e->store->base, ACC, "c1", &got), 0);
	CHECK_EQ(got.packets_captured, 0);
	CHECK_EQ(got.packets_matched, 0);
	CHECK(!got.error_message[0], "error_message: %s", got.error_message);
	CHECK(exists("%s/pcap_%s.pcap", e->bucket, "c1"), "no object in the bucket");
	CHECK(!exists("%s/spool/%s.pcap", e->cfg.state_dir, "c1"), "the spool file is left");
	CHECK_EQ(-xcap_jobs_stop(e->jobs, &r, 1235), ENOENT);
out:
	env_free(e);
}

static void start_is_refused_without_interface_or_free_slot(void)
{
	struct env *e = env_new("refused");
	struct xcap_capture_rec r;

	if (!e || !e->jobs)
		goto out;
	e->runner->no_interface = true;
	full_rec(e, &r, "c1", 60);
	CHECK_EQ(-start(e, &r), ENODEV);
	e->runner->no_interface = false;
	e->runner->slots = 1;
	CHECK_EQ(start(e, &r), 0);
	full_rec(e, &r, "c2", 60);
	CHECK_EQ(-start(e, &r), EBUSY);
	CHECK_EQ(e->store->n_caps, 1);
	CHECK_EQ(status_of(e, "c2"), XCAP_ST_UNKNOWN);
out:
	env_free(e);
}

static void a_refused_record_is_shown_then_stored_at_the_next_tick(void)
{
	struct env *e = env_new("unsaved");
	struct xcap_capture_rec r, live;

	if (!e || !e->jobs)
		goto out;
	full_rec(e, &r, "c1", 10);
	CHECK_EQ(start(e, &r), 0);
	/* A failure, which no worker stores meanwhile; and the disk is full when it ends. */
	e->runner->stop_err = -EIO;
	e->store->fail_puts = 1;
	xcap_jobs_tick(e->jobs, T0 + 10 * SEC);
	CHECK_EQ(status_of(e, "c1"), XCAP_ST_RUNNING);
	live = r;
	xcap_jobs_live(e->jobs, &live);
	CHECK_EQ(live.status, XCAP_ST_FAILED);
	xcap_jobs_tick(e->jobs, T0 + 11 * SEC);
	CHECK_EQ(status_of(e, "c1"), XCAP_ST_FAILED);
out:
	env_free(e);
}

static void recovery_fails_what_ran_and_resumes_deliveries(void)
{
	struct env *e = env_new("recover");
	struct xcap_capture_rec r;
	char spool[PATH_MAX + 64];
	FILE *f;

	if (!e || !e->jobs)
		goto out;
	full_rec(e, &r, "ran", 10);
	r.status = XCAP_ST_RUNNING;
	CHECK_EQ(xcap_store_capture_put(&e->store->base, &r), 0);
	full_rec(e, &r, "ended", 10);
	r.status = XCAP_ST_CONVERSION_PENDING;
	r.packets_captured = 1;
	CHECK_EQ(xcap_store_capture_put(&e->store->base, &r), 0);
	snprintf(spool, sizeof(spool), "%s/spool/ended.pcap", e->cfg.state_dir);
	f = fopen(spool, "w");
	CHECK(f && fputs("left by the last run\n", f) >= 0 && !fclose(f), "cannot write %s", spool);
	CHECK_EQ(xcap_jobs_recover(e->jobs), 0);
	CHECK_EQ(status_of(e, "ran"), XCAP_ST_FAILED);
	CHECK(wait_status(e, "ended", XCAP_ST_COMPLETE), "status %d", status_of(e, "ended"));
	CHECK(exists("%s/pcap_%s.pcap", e->bucket, "ended"), "not delivered");
	CHECK_EQ(xcap_store_capture_get(&e->store->base, ACC, "ran", &r), 0);
	CHECK(strstr(r.error_message, "xcapd stopped while the capture was running"), "%s",
	      r.error_message);
out:
	env_free(e);
}

static void simple_capture_is_answered_from_the_history(void)
{
	struct env *e = env_new("simple");
	struct xcap_capture_rec r;
	char path[PATH_MAX + 64];

	if (!e || !e->jobs)
		goto out;
	full_rec(e, &r, "s1", 60);
	r.type = XCAP_TYPE_SIMPLE;
	r.packet_limit = 10;
	r.offset_time_ns = 1700000000LL * SEC;
	e->runner->query_packets = 3;
	CHECK_EQ(start(e, &r), 0);
	CHECK_EQ(r.status, XCAP_ST_SUCCESS);
	CHECK_EQ(r.packets_captured, 3);
	xcap_jobs_simple_file(e->jobs, "s1", path, sizeof(path));
	CHECK(!access(path, F_OK), "no file at %s", path);

	snprintf(r.id, sizeof(r.id), "s2");
	e->runner->query_packets = 0;
	CHECK_EQ(start(e, &r), 0);
	CHECK_EQ(r.status, XCAP_ST_FAILED);
	CHECK(strstr(r.error_message, "no sampled packet matched the filter"), "%s",
	      r.error_message);
	xcap_jobs_simple_file(e->jobs, "s2", path, sizeof(path));
	CHECK(access(path, F_OK), "an empty file is left at %s", path);

	snprintf(r.id, sizeof(r.id), "s3");
	e->runner->no_history = true;
	CHECK_EQ(start(e, &r), 0);
	CHECK_EQ(status_of(e, "s3"), XCAP_ST_FAILED);
	CHECK(strstr(r.error_message, "keeps no sampled history"), "%s", r.error_message);
out:
	env_free(e);
}

/* The statuses stored for id are exactly want[0..n). */
static void check_statuses(struct env *e, const char *id, const enum xcap_status *want, int n)
{
	enum xcap_status got[16];
	int i, k = store_mem_statuses(e->store, id, got, ARRAY_SIZE(got));

	CHECK(k == n, "%s: %d statuses stored, want %d", id, k, n);
	for (i = 0; i < k && i < n; i++)
		CHECK(got[i] == want[i], "%s: status %d is %d, want %d", id, i, got[i], want[i]);
}

static const enum xcap_status delivered_path[] = {
	XCAP_ST_RUNNING,
	XCAP_ST_CONVERSION_PENDING,
	XCAP_ST_CONVERSION_RUNNING,
	XCAP_ST_COMPLETE,
};

static struct xcap_capture_rec record_of(struct env *e, const char *id)
{
	struct xcap_capture_rec r = {};

	CHECK_EQ(xcap_store_capture_get(&e->store->base, ACC, id, &r), 0);
	return r;
}

/* Every state a delivered capture goes through is stored, in order, once. */
static void a_delivered_capture_stores_each_state_in_order(void)
{
	struct env *e = env_new("order");
	struct xcap_capture_rec r;

	if (!e || !e->jobs)
		goto out;
	full_rec(e, &r, "c1", 10);
	CHECK_EQ(start(e, &r), 0);
	runner_fake_packets(e->runner, "c1", 5);
	xcap_jobs_tick(e->jobs, T0 + 10 * SEC);
	CHECK(wait_status(e, "c1", XCAP_ST_COMPLETE), "status %d", status_of(e, "c1"));
	check_statuses(e, "c1", delivered_path, ARRAY_SIZE(delivered_path));
out:
	env_free(e);
}

/* The packet limit ends a capture at the tick that sees it, long before its time limit. */
static void the_packet_limit_ends_a_capture_before_its_time_limit(void)
{
	struct env *e = env_new("plimit");
	struct xcap_capture_rec r;

	if (!e || !e->jobs)
		goto out;
	full_rec(e, &r, "c1", 3600);
	r.packet_limit = 10;
	CHECK_EQ(start(e, &r), 0);
	runner_fake_packets(e->runner, "c1", 9);
	xcap_jobs_tick(e->jobs, T0 + SEC);
	CHECK_EQ(e->runner->stopped, 0);
	runner_fake_packets(e->runner, "c1", 10);
	xcap_jobs_tick(e->jobs, T0 + 2 * SEC);
	CHECK_EQ(e->runner->stopped, 1);
	CHECK(wait_status(e, "c1", XCAP_ST_COMPLETE), "status %d", status_of(e, "c1"));
	CHECK_EQ(record_of(e, "c1").packets_captured, 10);
out:
	env_free(e);
}

/* A stop with packets: the time of the stop is kept, and the file is delivered. */
static void a_stop_with_packets_is_delivered(void)
{
	struct env *e = env_new("stopped");
	struct xcap_capture_rec r, got;

	if (!e || !e->jobs)
		goto out;
	full_rec(e, &r, "c1", 60);
	CHECK_EQ(start(e, &r), 0);
	runner_fake_packets(e->runner, "c1", 3);
	CHECK_EQ(xcap_jobs_stop(e->jobs, &r, 1234), 0);
	CHECK_EQ(r.stop_requested_ns, 1234);
	CHECK(wait_status(e, "c1", XCAP_ST_COMPLETE), "status %d", status_of(e, "c1"));
	got = record_of(e, "c1");
	CHECK_EQ(got.stop_requested_ns, 1234);
	CHECK_EQ(got.packets_captured, 3);
	CHECK_STR(got.error_message, "");
	check_statuses(e, "c1", delivered_path, ARRAY_SIZE(delivered_path));
	CHECK(exists("%s/pcap_%s.pcap", e->bucket, "c1"), "no object in the bucket");
	/* Once ended it is no longer the runner's: a second stop finds nothing. */
	CHECK_EQ(-xcap_jobs_stop(e->jobs, &r, 1235), ENOENT);
	CHECK_EQ(e->runner->stopped, 1);
out:
	env_free(e);
}

/* Nothing matched within the time limit: an empty capture is delivered, complete. */
static void a_time_limit_without_packets_delivers_an_empty_capture(void)
{
	struct env *e = env_new("empty");
	struct xcap_capture_rec r;

	if (!e || !e->jobs)
		goto out;
	full_rec(e, &r, "c1", 10);
	CHECK_EQ(start(e, &r), 0);
	xcap_jobs_tick(e->jobs, T0 + 10 * SEC);
	CHECK(wait_status(e, "c1", XCAP_ST_COMPLETE), "status %d", status_of(e, "c1"));
	CHECK_STR(record_of(e, "c1").error_message, "");
	CHECK_EQ(record_of(e, "c1").packets_captured, 0);
	check_statuses(e, "c1", delivered_path, ARRAY_SIZE(delivered_path));
	CHECK(!exists("%s/spool/%s.pcap", e->cfg.state_dir, "c1"), "the spool file is left");
	CHECK(exists("%s/pcap_%s.pcap", e->bucket, "c1"), "the empty capture was not delivered");
out:
	env_free(e);
}

/* The runner's stop says the file could not be written: failed, and the file is kept. */
static void a_write_error_fails_the_capture_and_keeps_its_file(void)
{
	static const enum xcap_status path[] = { XCAP_ST_RUNNING, XCAP_ST_FAILED };
	struct env *e = env_new("werr");
	struct xcap_capture_rec r, got;
	char want[PATH_MAX + 128];

	if (!e || !e->jobs)
		goto out;
	full_rec(e, &r, "c1", 10);
	CHECK_EQ(start(e, &r), 0);
	runner_fake_packets(e->runner, "c1", 4);
	e->runner->stop_err = -EIO;
	xcap_jobs_tick(e->jobs, T0 + 10 * SEC);
	got = record_of(e, "c1");
	CHECK_EQ(got.status, XCAP_ST_FAILED);
	snprintf(want, sizeof(want),
		 "writing the capture file failed (Input/output error); 4 packets are kept at "
		 "%s/spool/c1.pcap",
		 e->cfg.state_dir);
	CHECK_STR(got.error_message, want);
	CHECK_EQ(got.packets_captured, 4);
	check_statuses(e, "c1", path, ARRAY_SIZE(path));
	CHECK(exists("%s/spool/%s.pcap", e->cfg.state_dir, "c1"), "the spool file is gone");
out:
	env_free(e);
}

/* The bucket is gone when the capture ends: failed with the reason, and the file is kept. */
static void a_failed_delivery_fails_the_capture_and_keeps_its_file(void)
{
	static const enum xcap_status path[] = {
		XCAP_ST_RUNNING,
		XCAP_ST_CONVERSION_PENDING,
		XCAP_ST_CONVERSION_RUNNING,
		XCAP_ST_FAILED,
	};
	struct env *e = env_new("derr");
	struct xcap_capture_rec r, got;
	char want[2 * PATH_MAX + 128];

	if (!e || !e->jobs)
		goto out;
	full_rec(e, &r, "c1", 10);
	CHECK_EQ(start(e, &r), 0);
	runner_fake_packets(e->runner, "c1", 2);
	CHECK_EQ(rmdir(e->bucket), 0);
	xcap_jobs_tick(e->jobs, T0 + 10 * SEC);
	CHECK(wait_status(e, "c1", XCAP_ST_FAILED), "status %d", status_of(e, "c1"));
	got = record_of(e, "c1");
	snprintf(want, sizeof(want),
		 "delivery to the bucket failed: bucket directory %s does not exist; the file is "
		 "kept at %s/spool/c1.pcap",
		 e->bucket, e->cfg.state_dir);
	CHECK_STR(got.error_message, want);
	check_statuses(e, "c1", path, ARRAY_SIZE(path));
	CHECK(exists("%s/spool/%s.pcap", e->cfg.state_dir, "c1"), "the spool file is gone");
out:
	env_free(e);
}

/* The record holds the runner's final counters; every loss is counted in packets_lost. */
static void the_final_counters_are_stored_with_every_loss(void)
{
	struct env *e = env_new("counters");
	struct xcap_capture_rec r, got;

	if (!e || !e->jobs)
		goto out;
	e->runner->extra.kernel.matched = 3; /* matched, never written: over budget, ring full */
	e->runner->extra.kernel.ring_full = 1;
	e->runner->extra.user_dropped = 2;
	e->runner->extra.write_errors = 4;
	full_rec(e, &r, "c1", 10);
	CHECK_EQ(start(e, &r), 0);
	runner_fake_packets(e->runner, "c1", 5);
	xcap_jobs_tick(e->jobs, T0 + 10 * SEC);
	CHECK(wait_status(e, "c1", XCAP_ST_COMPLETE), "status %d", status_of(e, "c1"));
	got = record_of(e, "c1");
	CHECK_EQ(got.packets_captured, 5);
	CHECK_EQ(got.bytes_captured, 500);
	CHECK_EQ(got.packets_matched, 8);
	CHECK_EQ(got.packets_lost, 7);
out:
	env_free(e);
}

/* A running capture shows live counters; reading them stores nothing. */
static void live_counters_are_shown_without_a_store_write(void)
{
	struct env *e = env_new("live");
	struct xcap_capture_rec r, live;
	int puts;

	if (!e || !e->jobs)
		goto out;
	full_rec(e, &r, "c1", 60);
	CHECK_EQ(start(e, &r), 0);
	runner_fake_packets(e->runner, "c1", 3);
	puts = e->store->capture_puts;
	live = record_of(e, "c1");
	xcap_jobs_live(e->jobs, &live);
	CHECK_EQ(live.status, XCAP_ST_RUNNING);
	CHECK_EQ(live.packets_captured, 3);
	CHECK_EQ(live.bytes_captured, 300);
	CHECK_EQ(record_of(e, "c1").packets_captured, 0);
	CHECK_EQ(e->store->capture_puts, puts);
out:
	env_free(e);
}

/* Once a capture ended, and with nothing running at all, ticks write nothing. */
static void ticks_after_the_end_write_nothing(void)
{
	struct env *e = env_new("after");
	struct xcap_capture_rec r;
	int i, puts;

	if (!e || !e->jobs)
		goto out;
	for (i = 1; i <= 10; i++)
		xcap_jobs_tick(e->jobs, T0 + i * SEC);
	CHECK_EQ(e->store->capture_puts, 0);
	full_rec(e, &r, "c1", 10);
	CHECK_EQ(start(e, &r), 0);
	runner_fake_packets(e->runner, "c1", 1);
	xcap_jobs_tick(e->jobs, T0 + 10 * SEC);
	CHECK(wait_status(e, "c1", XCAP_ST_COMPLETE), "status %d", status_of(e, "c1"));
	puts = e->store->capture_puts;
	for (i = 11; i <= 100; i++)
		xcap_jobs_tick(e->jobs, T0 + i * SEC);
	CHECK_EQ(e->store->capture_puts, puts);
	CHECK_EQ(e->runner->stopped, 1);
out:
	env_free(e);
}

/* What a dead xcapd left, one record per state; ended ones are not touched. */
static void recovery_ends_each_unfinished_state(void)
{
	struct env *e = env_new("recover2");
	struct xcap_capture_rec r, got;
	char want[PATH_MAX + 128], spool[PATH_MAX + 64];
	int i, puts;
	FILE *f;

	if (!e || !e->jobs)
		goto out;
	full_rec(e, &r, "pend", 10);
	CHECK_EQ(xcap_store_capture_put(&e->store->base, &r), 0);
	full_rec(e, &r, "part", 10);
	r.status = XCAP_ST_RUNNING;
	CHECK_EQ(xcap_store_capture_put(&e->store->base, &r), 0);
	full_rec(e, &r, "conv", 10);
	r.status = XCAP_ST_CONVERSION_RUNNING;
	r.packets_captured = 2;
	CHECK_EQ(xcap_store_capture_put(&e->store->base, &r), 0);
	full_rec(e, &r, "done", 10);
	r.status = XCAP_ST_COMPLETE;
	CHECK_EQ(xcap_store_capture_put(&e->store->base, &r), 0);
	full_rec(e, &r, "bad", 10);
	r.status = XCAP_ST_FAILED;
	CHECK_EQ(xcap_store_capture_put(&e->store->base, &r), 0);
	for (i = 0; i < 2; i++) {
		snprintf(spool, sizeof(spool), "%s/spool/%s.pcap", e->cfg.state_dir,
			 i ? "conv" : "part");
		f = fopen(spool, "w");
		CHECK(f && fputs("left by the last run\n", f) >= 0 && !fclose(f), "cannot write %s",
		      spool);
	}
	e->runner->leftover_packets = 7; /* what the spool file of the running one holds */
	e->runner->leftover_bytes = 700;
	puts = e->store->capture_puts;

	CHECK_EQ(xcap_jobs_recover(e->jobs), 0);
	CHECK_EQ(status_of(e, "pend"), XCAP_ST_FAILED);
	CHECK_STR(record_of(e, "pend").error_message,
		  "xcapd stopped while the capture was pending");
	got = record_of(e, "part");
	CHECK_EQ(got.status, XCAP_ST_FAILED);
	CHECK_EQ(got.packets_captured, 7);
	CHECK_EQ(got.bytes_captured, 700);
	snprintf(want, sizeof(want),
		 "xcapd stopped while the capture was running; the partial file (7 packets) is "
		 "kept at %s/spool/part.pcap",
		 e->cfg.state_dir);
	CHECK_STR(got.error_message, want);
	CHECK(wait_status(e, "conv", XCAP_ST_COMPLETE), "status %d", status_of(e, "conv"));
	CHECK(exists("%s/pcap_%s.pcap", e->bucket, "conv"), "not delivered");
	CHECK_EQ(status_of(e, "done"), XCAP_ST_COMPLETE);
	CHECK_EQ(status_of(e, "bad"), XCAP_ST_FAILED);
	/* pend, part: failed; conv: conversion_running again, complete */
	CHECK_EQ(e->store->capture_puts, puts + 4);
	CHECK_EQ(e->runner->armed, 0);
out:
	env_free(e);
}

/* Freeing the jobs ends what runs as a stop would, and delivers it before it returns. */
static void freeing_the_jobs_stops_and_delivers_running_captures(void)
{
	struct env *e = env_new("free");
	struct xcap_capture_rec r, got;

	if (!e || !e->jobs)
		goto out;
	full_rec(e, &r, "c1", 60);
	CHECK_EQ(start(e, &r), 0);
	runner_fake_packets(e->runner, "c1", 2);
	env_stop_jobs(e);
	CHECK_EQ(e->runner->stopped, 1);
	got = record_of(e, "c1");
	CHECK_EQ(got.status, XCAP_ST_COMPLETE);
	CHECK(got.stop_requested_ns > 0, "no stop time");
	CHECK(exists("%s/pcap_%s.pcap", e->bucket, "c1"), "not delivered");
out:
	env_free(e);
}

/* A full start the store refuses: the runner's capture is stopped, its file removed. */
static void a_full_start_the_store_refuses_leaves_nothing(void)
{
	struct env *e = env_new("nostore");
	struct xcap_capture_rec r;
	struct xcap_filter f;
	char err[256] = "";

	if (!e || !e->jobs)
		goto out;
	full_rec(e, &r, "c1", 60);
	e->store->fail_puts = 1;
	xcap_filter_init(&f);
	CHECK_EQ(-xcap_jobs_start(e->jobs, &r, &f, err, sizeof(err)), ENOSPC);
	CHECK_STR(err, "cannot store the capture");
	CHECK_EQ(e->runner->armed, 1);
	CHECK_EQ(e->runner->stopped, 1);
	CHECK_EQ(e->store->n_caps, 0);
	CHECK(!exists("%s/spool/%s.pcap", e->cfg.state_dir, "c1"), "the spool file is left");
	/* Its slot is free again: the next start runs. */
	full_rec(e, &r, "c2", 60);
	e->runner->slots = 1;
	CHECK_EQ(start(e, &r), 0);
out:
	env_free(e);
}

static void a_simple_capture_fails_with_the_query_error_or_the_store_error(void)
{
	struct env *e = env_new("simple2");
	struct xcap_capture_rec r;
	struct xcap_filter f;
	char err[256] = "", path[PATH_MAX + 64];

	if (!e || !e->jobs)
		goto out;
	full_rec(e, &r, "s1", 60);
	r.type = XCAP_TYPE_SIMPLE;
	r.packet_limit = 10;
	r.offset_time_ns = 1700000000LL * SEC;
	e->runner->query_err = -EIO;
	CHECK_EQ(start(e, &r), 0);
	CHECK_EQ(status_of(e, "s1"), XCAP_ST_FAILED);
	CHECK_STR(r.error_message,
		  "the sampled history could not be queried into a file: Input/output error");
	e->runner->query_err = 0;
	e->runner->query_packets = 2;
	snprintf(r.id, sizeof(r.id), "s2");
	r.status = XCAP_ST_PENDING;
	r.error_message[0] = '\0';
	e->store->fail_puts = 1;
	xcap_filter_init(&f);
	CHECK_EQ(-xcap_jobs_start(e->jobs, &r, &f, err, sizeof(err)), EIO);
	CHECK_STR(err, "cannot store the capture");
	CHECK_EQ(status_of(e, "s2"), XCAP_ST_UNKNOWN);
	xcap_jobs_simple_file(e->jobs, "s2", path, sizeof(path));
	CHECK(access(path, F_OK), "the file of an unstored capture is left at %s", path);
out:
	env_free(e);
}

/*
 * 66 captures end while the delivery worker waits (its first conversion_running
 * put is held): it holds one, its queue takes 64, and the 66th waits in the
 * store as conversion_pending. Only a tick, once the worker is idle, queues it.
 */
static void a_delivery_the_full_queue_refused_is_queued_by_a_later_tick(void)
{
	struct env *e = env_new("backlog");
	struct xcap_capture_rec r;
	char id[16];
	int i, done;

	if (!e || !e->jobs)
		goto out;
	store_mem_hold_capture_puts(e->store, XCAP_ST_CONVERSION_RUNNING);
	for (i = 0; i < 66; i++) {
		if (i == 64) {
			/* the first 64 end first, which frees slots for two more */
			xcap_jobs_tick(e->jobs, T0 + 10 * SEC);
			CHECK(wait_until(store_mem_puts_held(e->store) == 1),
			      "the worker never began");
			e->now = T0 + 10 * SEC;
		}
		snprintf(id, sizeof(id), "c%02d", i);
		full_rec(e, &r, id, 10);
		CHECK_EQ(start(e, &r), 0);
		runner_fake_packets(e->runner, id, 1);
	}
	xcap_jobs_tick(e->jobs, T0 + 20 * SEC);
	CHECK_EQ(e->runner->stopped, 66);
	CHECK_EQ(status_of(e, "c65"), XCAP_ST_CONVERSION_PENDING);
	store_mem_release_puts(e->store);
	for (i = done = 0; i < 65; i++) {
		snprintf(id, sizeof(id), "c%02d", i);
		done += wait_status(e, id, XCAP_ST_COMPLETE);
	}
	CHECK_EQ(done, 65);
	CHECK_EQ(status_of(e, "c65"), XCAP_ST_CONVERSION_PENDING);
	/* As xcapd's loop does: a tick now and then, the first may still find the worker busy. */
	for (i = 0; i < 5000 && status_of(e, "c65") != XCAP_ST_COMPLETE; i++) {
		xcap_jobs_tick(e->jobs, T0 + 21 * SEC);
		usleep(1000);
	}
	CHECK_EQ(status_of(e, "c65"), XCAP_ST_COMPLETE);
	CHECK(exists("%s/pcap_%s.pcap", e->bucket, "c65"), "not delivered");
out:
	if (e)
		store_mem_release_puts(e->store);
	env_free(e);
}

/*
 * Issue 14, finding 2: a link planted in a bucket is never written through.
 * One at the temporary name of old (pcap_<id>.pcap.part) is ignored, one at
 * the object's name fails the delivery; the file it points at is unchanged.
 */
static void delivery_never_writes_through_a_planted_link(void)
{
	struct env *e = env_new("planted");
	char victim[PATH_MAX], link[PATH_MAX + 64], buf[64] = "";
	struct xcap_capture_rec r;
	struct stat st;
	FILE *f;

	if (!e || !e->jobs)
		goto out;
	snprintf(victim, sizeof(victim), "%s/../victim", e->bucket);
	f = fopen(victim, "w");
	CHECK(f && fputs("root:secret\n", f) >= 0 && !fclose(f), "cannot write %s", victim);
	chmod(victim, 0600);
	snprintf(link, sizeof(link), "%s/pcap_c1.pcap.part", e->bucket);
	CHECK(!symlink(victim, link), "symlink %s", link);
	snprintf(link, sizeof(link), "%s/pcap_c2.pcap", e->bucket);
	CHECK(!symlink(victim, link), "symlink %s", link);

	full_rec(e, &r, "c1", 10);
	CHECK_EQ(start(e, &r), 0);
	runner_fake_packets(e->runner, "c1", 2);
	full_rec(e, &r, "c2", 10);
	CHECK_EQ(start(e, &r), 0);
	runner_fake_packets(e->runner, "c2", 2);
	xcap_jobs_tick(e->jobs, T0 + 10 * SEC);
	CHECK(wait_status(e, "c1", XCAP_ST_COMPLETE), "c1: status %d", status_of(e, "c1"));
	CHECK(wait_status(e, "c2", XCAP_ST_FAILED), "c2: status %d", status_of(e, "c2"));
	CHECK_EQ(xcap_store_capture_get(&e->store->base, ACC, "c2", &r), 0);
	CHECK(strstr(r.error_message, "exists already"), "%s", r.error_message);
	f = fopen(victim, "r");
	CHECK(f && fgets(buf, sizeof(buf), f) && !strcmp(buf, "root:secret\n"),
	      "the victim changed: %s", buf);
	if (f)
		fclose(f);
	/* The object itself is a new file of xcapd's, private. */
	snprintf(link, sizeof(link), "%s/pcap_c1.pcap", e->bucket);
	CHECK(!lstat(link, &st) && S_ISREG(st.st_mode) && (st.st_mode & 0777) == 0600,
	      "pcap_c1.pcap: mode %o", st.st_mode & 0777);
out:
	env_free(e);
}

/* Finding 6: ended captures older than the retention go, with their files; the rest stays. */
static void ended_captures_expire_with_their_files(void)
{
	struct env *e = env_new("expire");
	struct xcap_capture_rec r;
	char path[PATH_MAX + 64];
	int64_t now = 1700000000LL * SEC, week = 7 * 86400 * SEC;
	FILE *f;

	if (!e || !e->jobs)
		goto out;
	/* A simple capture of 8 days ago and one of yesterday, both with files. */
	full_rec(e, &r, "old", 60);
	r.type = XCAP_TYPE_SIMPLE;
	r.packet_limit = 10;
	r.submitted_ns = r.offset_time_ns = now - 8 * 86400 * SEC;
	e->runner->query_packets = 3;
	CHECK_EQ(start(e, &r), 0);
	snprintf(r.id, sizeof(r.id), "new");
	r.submitted_ns = now - 86400 * SEC;
	CHECK_EQ(start(e, &r), 0);
	/* A full capture that failed 8 days ago, its spool file kept; one running since then. */
	full_rec(e, &r, "failed", 60);
	r.status = XCAP_ST_FAILED;
	r.submitted_ns = now - 8 * 86400 * SEC;
	CHECK_EQ(xcap_store_capture_put(&e->store->base, &r), 0);
	snprintf(path, sizeof(path), "%s/spool/failed.pcap", e->cfg.state_dir);
	f = fopen(path, "w");
	CHECK(f && !fclose(f), "cannot write %s", path);
	full_rec(e, &r, "running", 60);
	r.submitted_ns = now - 8 * 86400 * SEC;
	CHECK_EQ(start(e, &r), 0);

	CHECK_EQ(xcap_jobs_expire(e->jobs, now, week), 2);
	CHECK_EQ(status_of(e, "old"), XCAP_ST_UNKNOWN);
	CHECK_EQ(status_of(e, "failed"), XCAP_ST_UNKNOWN);
	CHECK_EQ(status_of(e, "new"), XCAP_ST_SUCCESS);
	CHECK_EQ(status_of(e, "running"), XCAP_ST_RUNNING);
	xcap_jobs_simple_file(e->jobs, "old", path, sizeof(path));
	CHECK(access(path, F_OK), "%s is left", path);
	CHECK(!exists("%s/spool/%s.pcap", e->cfg.state_dir, "failed"), "the kept spool is left");
	xcap_jobs_simple_file(e->jobs, "new", path, sizeof(path));
	CHECK(!access(path, F_OK), "%s went too early", path);
	CHECK_EQ(xcap_jobs_expire(e->jobs, now, week), 0);
out:
	env_free(e);
}

int main(void)
{
	if (test_tmpdir_init("jobs"))
		return 1;
	xcap_log_set_level(XCAP_LOG_ERR);
	RUN_TEST(full_capture_ends_at_its_time_limit_and_is_delivered);
	RUN_TEST(a_tick_writes_nothing_while_nothing_changes);
	RUN_TEST(a_stop_without_packets_delivers_an_empty_capture);
	RUN_TEST(start_is_refused_without_interface_or_free_slot);
	RUN_TEST(a_refused_record_is_shown_then_stored_at_the_next_tick);
	RUN_TEST(recovery_fails_what_ran_and_resumes_deliveries);
	RUN_TEST(simple_capture_is_answered_from_the_history);
	RUN_TEST(a_delivered_capture_stores_each_state_in_order);
	RUN_TEST(the_packet_limit_ends_a_capture_before_its_time_limit);
	RUN_TEST(a_stop_with_packets_is_delivered);
	RUN_TEST(a_time_limit_without_packets_delivers_an_empty_capture);
	RUN_TEST(a_write_error_fails_the_capture_and_keeps_its_file);
	RUN_TEST(a_failed_delivery_fails_the_capture_and_keeps_its_file);
	RUN_TEST(the_final_counters_are_stored_with_every_loss);
	RUN_TEST(live_counters_are_shown_without_a_store_write);
	RUN_TEST(ticks_after_the_end_write_nothing);
	RUN_TEST(recovery_ends_each_unfinished_state);
	RUN_TEST(freeing_the_jobs_stops_and_delivers_running_captures);
	RUN_TEST(a_full_start_the_store_refuses_leaves_nothing);
	RUN_TEST(a_simple_capture_fails_with_the_query_error_or_the_store_error);
	RUN_TEST(a_delivery_the_full_queue_refused_is_queued_by_a_later_tick);
	RUN_TEST(delivery_never_writes_through_a_planted_link);
	RUN_TEST(ended_captures_expire_with_their_files);
	return tests_failed_total ? 1 : 0;
}
