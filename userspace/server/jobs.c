// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The capture state machine: arm through the runner, end at a limit or on
 * stop, hand the file to the delivery worker, and recover after a restart.
 * Owns the table of captures this process armed and the records the store
 * refused (kept and retried). The runner is called with j->lock held, so one
 * call at a time.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "common/clock.h"
#include "common/file.h"
#include "common/filter.h"
#include "common/log.h"
#include "common/util.h"
#include "server/config.h"
#include "server/deliver.h"
#include "server/jobs.h"
#include "server/runner.h"

#define SPOOL_DIR "spool"
#define SIMPLE_DIR "simple" /* the files that /download serves */
#define SIMPLE_FILE_MAX (4 << 20) /* 10000 samples of 160 bytes at most, and headers */

/* A full capture that this process armed through the runner. */
struct job {
	char id[XCAP_ID_LEN + 1];
	char account[XCAP_ID_LEN + 1];
	bool armed; /* false: free entry */
	/* The record as armed: what finish() stores when the store cannot be read then. */
	struct xcap_capture_rec rec;
};

/* A record the store did not take (a full disk): retried every tick, shown meanwhile. */
struct unsaved {
	struct unsaved *next;
	struct xcap_capture_rec rec;
};

/* The retention thread: deletes ended captures and their files in the background. */
struct expiry {
	pthread_t thread;
	bool started;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stopping;
	int64_t keep_ns; /* how long an ended capture is kept after it was submitted */
};

struct xcap_jobs {
	const struct xcap_config *cfg;
	struct xcap_store *store;
	struct xcap_runner *runner;
	struct xcap_deliver *deliver;
	pthread_mutex_t lock; /* running[] and the runner */
	struct job running[XCAP_MAX_CAPTURES]; /* a runner arms XCAP_MAX_CAPTURES at most */
	pthread_mutex_t unsaved_lock; /* the delivery worker stores too */
	struct unsaved *unsaved;
	/* Deliveries the full queue refused: the store has them, a tick queues them again. */
	bool backlog;
	struct expiry expiry;
};

static void spool_path(const struct xcap_jobs *j, const char *id, char *buf, size_t size)
{
	snprintf(buf, size, "%s/" SPOOL_DIR "/%s.pcap", j->cfg->state_dir, id);
}

static int make_dir(const struct xcap_config *cfg, const char *name)
{
	char dir[PATH_MAX + 16];

	snprintf(dir, sizeof(dir), "%s/%s", cfg->state_dir, name);
	if (mkdir(dir, 0700) && errno != EEXIST) {
		pr_err("cannot create %s: %s\n", dir, strerror(errno));
		return -errno;
	}
	return 0;
}

static void set_error(struct xcap_capture_rec *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void set_error(struct xcap_capture_rec *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->error_message, sizeof(r->error_message), fmt, ap);
	va_end(ap);
	r->status = XCAP_ST_FAILED;
}

/* Keeps the newest unsaved copy of r (replacing an older one). */
static void keep_unsaved(struct xcap_jobs *j, const struct xcap_capture_rec *r)
{
	struct unsaved *u;

	pthread_mutex_lock(&j->unsaved_lock);
	for (u = j->unsaved; u && strcmp(u->rec.id, r->id); u = u->next)
		;
	if (!u && (u = calloc(1, sizeof(*u)))) {
		u->next = j->unsaved;
		j->unsaved = u;
	}
	if (u)
		u->rec = *r;
	pthread_mutex_unlock(&j->unsaved_lock);
}

static void drop_unsaved(struct xcap_jobs *j, const char *id)
{
	struct unsaved **p, *u;

	pthread_mutex_lock(&j->unsaved_lock);
	for (p = &j->unsaved; (u = *p); p = &u->next)
		if (!strcmp(u->rec.id, id)) {
			*p = u->next;
			free(u);
			break;
		}
	pthread_mutex_unlock(&j->unsaved_lock);
}

/* Stores a transition; what the store refuses is kept and retried at each tick. */
static int transition(struct xcap_jobs *j, struct xcap_capture_rec *r, enum xcap_status st)
{
	int err;

	if (st != XCAP_ST_FAILED)
		r->status = st;
	err = xcap_store_capture_put(j->store, r);
	if (err)
		keep_unsaved(j, r);
	else
		drop_unsaved(j, r->id);
	return err;
}

static void retry_unsaved(struct xcap_jobs *j)
{
	struct unsaved **p, *u;

	pthread_mutex_lock(&j->unsaved_lock);
	for (p = &j->unsaved; (u = *p);) {
		if (!xcap_store_capture_put(j->store, &u->rec)) {
			*p = u->next;
			free(u);
		} else {
			p = &u->next;
		}
	}
	pthread_mutex_unlock(&j->unsaved_lock);
}

/* Queues a capture in conversion_pending for the delivery worker, or leaves it to the backlog. */
static void queue_delivery(struct xcap_jobs *j, const struct xcap_capture_rec *r)
{
	char spool[PATH_MAX];
	int err;

	spool_path(j, r->id, spool, sizeof(spool));
	err = xcap_deliver_submit(j->deliver, r, spool);
	if (!err)
		return;
	pr_warn("capture %s: its delivery waits: %s\n", r->id,
		err == -EAGAIN ? "the queue is full" : strerror(-err));
	__atomic_store_n(&j->backlog, true, __ATOMIC_RELAXED);
}

static bool is_unsaved(struct xcap_jobs *j, const char *id)
{
	struct unsaved *u;

	pthread_mutex_lock(&j->unsaved_lock);
	for (u = j->unsaved; u && strcmp(u->rec.id, id); u = u->next)
		;
	pthread_mutex_unlock(&j->unsaved_lock);
	return u;
}

/*
 * Once the worker is idle, every capture the store has in conversion is one
 * the queue refused (or a restart left), unless its newest state is unsaved.
 */
static int requeue_one(void *arg, struct xcap_capture_rec *r)
{
	struct xcap_jobs *j = arg;

	if (!is_unsaved(j, r->id))
		queue_delivery(j, r);
	return __atomic_load_n(&j->backlog, __ATOMIC_RELAXED); /* full again: stop here */
}

static void requeue_backlog(struct xcap_jobs *j)
{
	uint32_t converting = 1U << XCAP_ST_CONVERSION_PENDING | 1U << XCAP_ST_CONVERSION_RUNNING;

	if (!__atomic_load_n(&j->backlog, __ATOMIC_RELAXED) || xcap_deliver_pending(j->deliver))
		return;
	__atomic_store_n(&j->backlog, false, __ATOMIC_RELAXED);
	xcap_store_capture_each(j->store, converting, requeue_one, j);
}

/* On the worker: the upload starts. */
static void delivery_begin(void *arg, struct xcap_capture_rec *r)
{
	transition(arg, r, XCAP_ST_CONVERSION_RUNNING);
}

/* On the worker: the bucket has the file (the spool copy goes), or an honest failure. */
static void delivery_end(void *arg, struct xcap_capture_rec *r, int err, const char *msg)
{
	struct xcap_jobs *j = arg;
	char spool[PATH_MAX], name[160];

	spool_path(j, r->id, spool, sizeof(spool));
	if (err) {
		set_error(r, "delivery to the bucket failed: %s; the file is kept at %s", msg,
			  spool);
		pr_warn("capture %s: %s\n", r->id, r->error_message);
		transition(j, r, XCAP_ST_FAILED);
		return;
	}
	if (transition(j, r, XCAP_ST_COMPLETE))
		return;
	unlink(spool);
	xcap_deliver_object_name(r, name, sizeof(name));
	pr_info("capture %s: complete, %llu packets delivered as %s\n", r->id,
		(unsigned long long)r->packets_captured, name);
}

struct xcap_jobs *xcap_jobs_new(const struct xcap_config *cfg, struct xcap_store *store,
				struct xcap_runner *runner)
{
	struct xcap_jobs *j;

	if (make_dir(cfg, SPOOL_DIR) || make_dir(cfg, SIMPLE_DIR))
		return NULL;
	j = calloc(1, sizeof(*j));
	if (!j)
		return NULL;
	j->cfg = cfg;
	j->store = store;
	j->runner = runner;
	pthread_mutex_init(&j->lock, NULL);
	pthread_mutex_init(&j->unsaved_lock, NULL);
	j->deliver = xcap_deliver_start(cfg, store,
					&(struct xcap_deliver_cb){
						.begin = delivery_begin,
						.end = delivery_end,
						.arg = j,
					});
	if (!j->deliver) {
		xcap_jobs_free(j);
		return NULL;
	}
	return j;
}

static void copy_counters(struct xcap_capture_rec *r, const struct xcap_capture_counters *c)
{
	r->packets_captured = c->delivered;
	r->bytes_captured = c->kernel.bytes;
	r->packets_matched = c->kernel.matched;
	r->packets_lost = c->kernel.ring_full + c->user_dropped + c->write_errors;
}

/* Ends a running capture: final counters, then delivery, or a failure when the file is bad. */
static void finish(struct xcap_jobs *j, struct job *job, int64_t stop_ns)
{
	struct xcap_capture_counters c = {};
	struct xcap_capture_rec r;
	char spool[PATH_MAX];
	int err;

	err = xcap_runner_stop(j->runner, job->id, &c);
	job->armed = false;
	/* A store that cannot be read now (a database restarting) gets the record as armed. */
	if (xcap_store_capture_get(j->store, job->account, job->id, &r))
		r = job->rec;
	copy_counters(&r, &c);
	if (stop_ns)
		r.stop_requested_ns = stop_ns;
	spool_path(j, r.id, spool, sizeof(spool));
	if (err) {
		set_error(&r, "writing the capture file failed (%s); %llu packets are kept at %s",
			  strerror(-err), (unsigned long long)r.packets_captured, spool);
		transition(j, &r, XCAP_ST_FAILED);
		return;
	}
	/*
	 * A capture that matched nothing is delivered too: its file holds the pcap
	 * header only, which is what a tcpdump user expects of an empty capture.
	 * Delivered even when the store is full: the record follows when it can.
	 */
	transition(j, &r, XCAP_ST_CONVERSION_PENDING);
	queue_delivery(j, &r);
}

/* The pcapng section's comment: xcap, the capture and what it takes. */
static void file_comment(const struct xcap_capture_rec *r, char *buf, size_t size)
{
	snprintf(buf, size, "xcap %s capture %s, direction %s, filter_v1 %s",
		 r->type == XCAP_TYPE_FULL ? "full" : "simple", r->id,
		 xcap_filter_dirs_name(r->dirs), r->filter_json);
}

static struct job *find_job(struct xcap_jobs *j, const char *id)
{
	int i;

	for (i = 0; i < XCAP_MAX_CAPTURES; i++)
		if (j->running[i].armed && !strcmp(j->running[i].id, id))
			return &j->running[i];
	return NULL;
}

/*
 * What a full capture may write: its byte_limit, and no more than what is left
 * of the account's account_storage_mib, since its spool file stays in the state
 * folder until it is delivered (or for good after a failure).
 */
static uint64_t byte_budget(struct xcap_jobs *j, const struct xcap_capture_rec *r)
{
	uint64_t max = (uint64_t)j->cfg->account_storage_mib << 20, used = 0, left;

	if (!max || xcap_store_capture_stored_bytes(j->store, r->account, &used))
		return r->byte_limit;
	left = used < max ? max - used : 1;
	return r->byte_limit && r->byte_limit < left ? r->byte_limit : left;
}

static int start_full(struct xcap_jobs *j, struct xcap_capture_rec *r, const struct xcap_filter *f,
		      char *err, size_t err_size)
{
	char spool[PATH_MAX], comment[1024];
	struct xcap_run run = {
		.id = r->id,
		.account = r->account,
		.filter = *f,
		.packet_limit = r->packet_limit,
		.byte_limit = byte_budget(j, r),
		.time_limit_s = r->time_limit,
		.path = spool,
		.format = r->format,
		.comment = comment,
	};
	struct xcap_capture_counters c;
	struct job *job = NULL;
	int i, ret;

	file_comment(r, comment, sizeof(comment));
	if (j->runner->ops->shared) {
		/* The runner stores the record with what its hosts need, in one transaction. */
		r->status = XCAP_ST_RUNNING;
		run.rec = r;
		return xcap_runner_arm(j->runner, &run, err, err_size);
	}
	for (i = 0; i < XCAP_MAX_CAPTURES && !job; i++)
		if (!j->running[i].armed)
			job = &j->running[i];
	if (!job) {
		snprintf(err, err_size, "all %d capture slots are in use", XCAP_MAX_CAPTURES);
		return -EBUSY;
	}
	spool_path(j, r->id, spool, sizeof(spool));
	ret = xcap_runner_arm(j->runner, &run, err, err_size);
	if (ret)
		return ret;
	r->status = XCAP_ST_RUNNING;
	ret = xcap_store_capture_put(j->store, r);
	if (ret) {
		xcap_runner_stop(j->runner, r->id, &c);
		unlink(spool);
		snprintf(err, err_size, "cannot store the capture");
		return ret;
	}
	snprintf(job->id, sizeof(job->id), "%s", r->id);
	snprintf(job->account, sizeof(job->account), "%s", r->account);
	job->rec = *r;
	job->armed = true;
	pr_info("capture %s: running\n", r->id);
	return 0;
}

void xcap_jobs_simple_file(const struct xcap_jobs *j, const char *id, char *buf, size_t size)
{
	snprintf(buf, size, "%s/" SIMPLE_DIR "/%s.pcap", j->cfg->state_dir, id);
}

/* Says what the sampled history holds, for a window it cannot answer. */
static void describe_span(const struct xcap_query_stats *st, char *buf, size_t size)
{
	char from[32], to[32];

	if (!st->oldest_ns) {
		snprintf(buf, size, "the sampled history is empty");
		return;
	}
	xcap_clock_format(st->oldest_ns, from, sizeof(from));
	xcap_clock_format(st->newest_ns, to, sizeof(to));
	snprintf(buf, size, "the sampled history covers %s to %s", from, to);
}

/* Answers a simple capture from the sampled history: success with a file, or failed saying why. */
static void run_simple(struct xcap_jobs *j, struct xcap_capture_rec *r, const struct xcap_filter *f)
{
	char path[PATH_MAX + 64], span[128], from[32], to[32], comment[1024];
	struct xcap_query q = {
		.from_ns = r->offset_time_ns - (int64_t)r->time_limit * NSEC_PER_SEC,
		.to_ns = r->offset_time_ns,
		.filter = *f,
		.limit = r->packet_limit,
		.format = r->format,
		.comment = comment,
	};
	struct xcap_run_result res;
	int err;

	snprintf(q.colo, sizeof(q.colo), "%s", r->colo_name);
	r->status = XCAP_ST_RUNNING;
	file_comment(r, comment, sizeof(comment));
	xcap_jobs_simple_file(j, r->id, path, sizeof(path));
	err = xcap_runner_query(j->runner, &q, path, &res);
	if (err == -EOPNOTSUPP) {
		set_error(r,
			  "this xcapd keeps no sampled history (no interface, or sample_rate 0)");
		return;
	}
	if (err && res.note[0]) {
		set_error(r, "%s", res.note);
		return;
	}
	if (err) {
		set_error(r, "the sampled history could not be queried into a file: %s",
			  strerror(-err));
		return;
	}
	r->packets_matched = res.stats.matched;
	r->packets_captured = res.packets;
	r->bytes_captured = res.bytes;
	if (r->packets_captured) {
		r->status = XCAP_ST_SUCCESS;
		/* A fleet's hosts that did not answer: the capture has what the others sent. */
		snprintf(r->error_message, sizeof(r->error_message), "%s", res.note);
		return;
	}
	unlink(path);
	describe_span(&res.stats, span, sizeof(span));
	xcap_clock_format(q.from_ns, from, sizeof(from));
	xcap_clock_format(q.to_ns, to, sizeof(to));
	set_error(r, "no sampled packet matched the filter between %s and %s; %s%s%s", from, to,
		  span, res.note[0] ? "; " : "", res.note);
}

/* A store shared by several API processes keeps the file for all of them. */
static int share_simple(struct xcap_jobs *j, const struct xcap_capture_rec *r)
{
	char path[PATH_MAX + 64], *data = NULL;
	size_t len = 0;
	int err;

	if (r->status != XCAP_ST_SUCCESS || !j->store->ops->simple_put)
		return 0;
	xcap_jobs_simple_file(j, r->id, path, sizeof(path));
	err = xcap_file_read(path, SIMPLE_FILE_MAX, &data, &len);
	err = err ?: j->store->ops->simple_put(j->store, r->id, data, len);
	free(data);
	return err;
}

int xcap_jobs_simple_read(struct xcap_jobs *j, const char *id, size_t max, char **buf, size_t *len)
{
	char path[PATH_MAX + 64];
	int err;

	xcap_jobs_simple_file(j, id, path, sizeof(path));
	err = xcap_file_read(path, max, buf, len);
	if (err == -ENOENT && j->store->ops->simple_get)
		err = j->store->ops->simple_get(j->store, id, max, buf, len);
	return err;
}

int xcap_jobs_query(struct xcap_jobs *j, const struct xcap_query *q, const char *path,
		    struct xcap_run_result *out)
{
	int err;

	pthread_mutex_lock(&j->lock);
	err = xcap_runner_query(j->runner, q, path, out);
	pthread_mutex_unlock(&j->lock);
	return err;
}

int xcap_jobs_start(struct xcap_jobs *j, struct xcap_capture_rec *r, const struct xcap_filter *f,
		    char *err, size_t err_size)
{
	char path[PATH_MAX + 64];

	int ret;

	if (r->type == XCAP_TYPE_FULL) {
		pthread_mutex_lock(&j->lock);
		ret = start_full(j, r, f, err, err_size);
		pthread_mutex_unlock(&j->lock);
		return ret;
	}
	pthread_mutex_lock(&j->lock);
	run_simple(j, r, f);
	pthread_mutex_unlock(&j->lock);
	/* The file first: a record that says success always has its file. */
	if (share_simple(j, r) || xcap_store_capture_put(j->store, r)) {
		xcap_jobs_simple_file(j, r->id, path, sizeof(path));
		unlink(path);
		snprintf(err, err_size, "cannot store the capture");
		return -EIO;
	}
	return 0;
}

int xcap_jobs_stop(struct xcap_jobs *j, struct xcap_capture_rec *r, int64_t stop_ns)
{
	struct xcap_capture_counters c;
	struct job *job;
	int err = 0;

	/* Its hosts stop it: the runner asks them (from any process) and waits for the end. */
	if (j->runner->ops->shared)
		return xcap_runner_stop(j->runner, r->id, &c) ?:
			       xcap_store_capture_get(j->store, r->account, r->id, r);
	pthread_mutex_lock(&j->lock);
	job = find_job(j, r->id);
	if (job)
		finish(j, job, stop_ns);
	else
		err = -ENOENT;
	pthread_mutex_unlock(&j->lock);
	return err ?: xcap_store_capture_get(j->store, r->account, r->id, r);
}

int xcap_jobs_stream_open(struct xcap_jobs *j, const char *id)
{
	int fd = -ENOENT;

	/* A fleet's API: the file is written by agents, on their hosts. */
	if (j->runner->ops->shared)
		return -EOPNOTSUPP;
	pthread_mutex_lock(&j->lock);
	if (find_job(j, id))
		fd = xcap_runner_stream(j->runner, id);
	pthread_mutex_unlock(&j->lock);
	return fd;
}

bool xcap_jobs_running(struct xcap_jobs *j, const char *id)
{
	bool running;

	/* finish() closes the file before it marks the job ended, both under the lock. */
	pthread_mutex_lock(&j->lock);
	running = find_job(j, id);
	pthread_mutex_unlock(&j->lock);
	return running;
}

void xcap_jobs_live(struct xcap_jobs *j, struct xcap_capture_rec *r)
{
	struct xcap_run_progress p;
	struct unsaved *u;

	pthread_mutex_lock(&j->lock);
	/* Only the counters are read: no time is needed to tell whether it is done. */
	if (find_job(j, r->id) && !xcap_runner_progress(j->runner, r->id, 0, &p))
		copy_counters(r, &p.counters);
	pthread_mutex_unlock(&j->lock);
	pthread_mutex_lock(&j->unsaved_lock);
	for (u = j->unsaved; u; u = u->next)
		if (!strcmp(u->rec.id, r->id))
			*r = u->rec;
	pthread_mutex_unlock(&j->unsaved_lock);
}

void xcap_jobs_stats(struct xcap_jobs *j, struct xcap_jobs_stats *out)
{
	pthread_mutex_lock(&j->lock);
	xcap_runner_stats(j->runner, &out->host);
	pthread_mutex_unlock(&j->lock);
	xcap_deliver_counts(j->deliver, &out->delivered_ok, &out->delivered_failed);
}

void xcap_jobs_tick(struct xcap_jobs *j, int64_t now_ns)
{
	struct xcap_run_progress p;
	int i;

	retry_unsaved(j);
	pthread_mutex_lock(&j->lock);
	/* Under the lock: no capture is queued by finish() while the store is walked. */
	requeue_backlog(j);
	for (i = 0; i < XCAP_MAX_CAPTURES; i++) {
		if (!j->running[i].armed)
			continue;
		if (!xcap_runner_progress(j->runner, j->running[i].id, now_ns, &p) && p.done)
			finish(j, &j->running[i], 0);
	}
	pthread_mutex_unlock(&j->lock);
}

/* What an earlier process left: running captures fail (their file is kept), deliveries resume. */
static int recover_one(void *arg, struct xcap_capture_rec *r)
{
	struct xcap_jobs *j = arg;
	uint64_t packets = 0, bytes = 0;
	char spool[PATH_MAX];

	spool_path(j, r->id, spool, sizeof(spool));
	if (r->status == XCAP_ST_CONVERSION_PENDING || r->status == XCAP_ST_CONVERSION_RUNNING) {
		pr_info("capture %s: resuming delivery\n", r->id);
		queue_delivery(j, r);
		return 0;
	}
	if (r->type == XCAP_TYPE_FULL &&
	    !xcap_runner_leftover(j->runner, spool, &packets, &bytes) && packets) {
		r->packets_captured = packets;
		r->bytes_captured = bytes;
		set_error(r,
			  "xcapd stopped while the capture was running; the partial file "
			  "(%llu packets) is kept at %s",
			  (unsigned long long)packets, spool);
	} else {
		unlink(spool);
		set_error(r, "xcapd stopped while the capture was %s",
			  r->status == XCAP_ST_PENDING ? "pending" : "running");
	}
	pr_warn("capture %s: %s\n", r->id, r->error_message);
	return transition(j, r, XCAP_ST_FAILED);
}

int xcap_jobs_recover(struct xcap_jobs *j)
{
	uint32_t unfinished = 1U << XCAP_ST_PENDING | 1U << XCAP_ST_RUNNING |
			      1U << XCAP_ST_CONVERSION_PENDING | 1U << XCAP_ST_CONVERSION_RUNNING;

	return xcap_store_capture_each(j->store, unfinished, recover_one, j);
}

/* Deletes the files of an ended capture: a simple one's download, a full one's kept spool. */
static void remove_files(const struct xcap_jobs *j, const struct xcap_capture_rec *r)
{
	char path[PATH_MAX + 64];

	if (r->type == XCAP_TYPE_SIMPLE)
		xcap_jobs_simple_file(j, r->id, path, sizeof(path));
	else
		spool_path(j, r->id, path, sizeof(path));
	if (unlink(path) && errno != ENOENT)
		pr_warn("retention: cannot delete %s: %s\n", path, strerror(errno));
}

#define EXPIRE_BATCH 64

int xcap_jobs_expire(struct xcap_jobs *j, int64_t now_ns, int64_t keep_ns)
{
	struct xcap_capture_rec *recs = calloc(EXPIRE_BATCH, sizeof(*recs));
	int i, n = 0, done = 0, err;
	char when[32];

	if (!recs)
		return -ENOMEM;
	/* Oldest first, a batch at a time: memory stays small however much expired. */
	do {
		err = xcap_store_capture_expired(j->store, now_ns - keep_ns, recs, EXPIRE_BATCH,
						 &n);
		for (i = 0; i < n && !err; i++) {
			remove_files(j, &recs[i]);
			err = xcap_store_capture_delete(j->store, recs[i].account, recs[i].id);
			done += !err;
		}
	} while (!err && n == EXPIRE_BATCH);
	free(recs);
	xcap_clock_format(now_ns - keep_ns, when, sizeof(when));
	if (done)
		pr_info("retention: deleted %d ended capture(s) submitted before %s, with their "
			"files\n",
			done, when);
	if (err)
		pr_warn("retention: expiry stopped: %s\n", strerror(-err));
	return err ?: done;
}

/* Wakes a few times per retention period, at least every 100 ms, at most every minute. */
static void *expiry_thread(void *arg)
{
	struct xcap_jobs *j = arg;
	struct expiry *x = &j->expiry;
	int64_t period = x->keep_ns / 8, deadline;
	struct timespec ts;

	if (period < 100 * NSEC_PER_MSEC)
		period = 100 * NSEC_PER_MSEC;
	if (period > 60 * NSEC_PER_SEC)
		period = 60 * NSEC_PER_SEC;
	pthread_mutex_lock(&x->lock);
	while (!x->stopping) {
		pthread_mutex_unlock(&x->lock);
		xcap_jobs_expire(j, xcap_clock_ns(CLOCK_REALTIME), x->keep_ns);
		deadline = xcap_clock_ns(CLOCK_MONOTONIC) + period;
		ts = (struct timespec){ deadline / NSEC_PER_SEC, deadline % NSEC_PER_SEC };
		pthread_mutex_lock(&x->lock);
		while (!x->stopping && pthread_cond_timedwait(&x->wake, &x->lock, &ts) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&x->lock);
	return NULL;
}

int xcap_jobs_expiry_start(struct xcap_jobs *j)
{
	struct expiry *x = &j->expiry;
	const char *knob = getenv("XCAP_RETENTION_SECONDS");
	pthread_condattr_t attr;
	int err;

	x->keep_ns = (int64_t)j->cfg->retention_days * 86400 * NSEC_PER_SEC;
	if (knob && *knob)
		x->keep_ns = strtoll(knob, NULL, 10) * NSEC_PER_SEC;
	if (x->keep_ns <= 0) {
		pr_info("retention: ended captures are kept forever (retention_days 0)\n");
		return 0;
	}
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&x->wake, &attr);
	pthread_condattr_destroy(&attr);
	pthread_mutex_init(&x->lock, NULL);
	err = pthread_create(&x->thread, NULL, expiry_thread, j);
	if (err) {
		pthread_cond_destroy(&x->wake);
		pthread_mutex_destroy(&x->lock);
		pr_err("retention: cannot start its thread: %s\n", strerror(err));
		return -err;
	}
	x->started = true;
	return 0;
}

static void expiry_stop(struct expiry *x)
{
	if (!x->started)
		return;
	pthread_mutex_lock(&x->lock);
	x->stopping = true;
	pthread_cond_signal(&x->wake);
	pthread_mutex_unlock(&x->lock);
	pthread_join(x->thread, NULL);
	pthread_cond_destroy(&x->wake);
	pthread_mutex_destroy(&x->lock);
	x->started = false;
}

void xcap_jobs_free(struct xcap_jobs *j)
{
	int64_t now = xcap_clock_ns(CLOCK_REALTIME);
	int i;

	if (!j)
		return;
	expiry_stop(&j->expiry);
	pthread_mutex_lock(&j->lock);
	for (i = 0; i < XCAP_MAX_CAPTURES; i++)
		if (j->running[i].armed)
			finish(j, &j->running[i], now);
	pthread_mutex_unlock(&j->lock);
	/* The worker delivers what is queued, then ends; a backlog resumes at the next start. */
	xcap_deliver_stop(j->deliver);
	retry_unsaved(j); /* a last try; what stays unsaved is recovered at the next start */
	while (j->unsaved) {
		struct unsaved *u = j->unsaved;

		j->unsaved = u->next;
		free(u);
	}
	pthread_mutex_destroy(&j->unsaved_lock);
	pthread_mutex_destroy(&j->lock);
	free(j);
}
