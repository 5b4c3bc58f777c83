// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The capture state machine: arm, end at a limit, deliver, and recover after a restart. */
#include <errno.h>
#include <ifaddrs.h>
#include <linux/if_link.h>
#include <netpacket/packet.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "common/util.h"
#include "agent/capture.h"
#include "server/config.h"
#include "server/jobs.h"
#include "common/log.h"
#include "agent/pcap.h"
#include "agent/query.h"
#include "agent/recorder.h"
#include "common/clock.h"
#include "server/storage.h"

#define SPOOL_DIR "spool"
#define SIMPLE_DIR "simple" /* the files that /download serves */

/* A full capture that is running in this process. */
struct job {
	char id[XCAP_ID_LEN + 1];
	char account[XCAP_ID_LEN + 1];
	struct xcap_capture *cap; /* NULL: free entry */
};

/* A finished capture waiting for the delivery worker. */
struct delivery {
	struct delivery *next;
	struct xcap_capture_rec rec;
};

/*
 * Uploads can take minutes (retries, large files), so one worker thread
 * delivers while the main loop keeps serving. The store serializes access.
 */
struct delivery_queue {
	pthread_t worker;
	bool started;
	bool stopping;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct delivery *head;
	struct delivery **tail;
};

/* A record the store did not take (a full disk): retried every tick, shown meanwhile. */
struct unsaved {
	struct unsaved *next;
	struct xcap_capture_rec rec;
};

struct xcap_jobs {
	pthread_mutex_t unsaved_lock; /* the worker stores too */
	struct unsaved *unsaved;
	const struct xcap_config *cfg;
	struct xcap_store *store;
	struct xcap_engine *engine;
	struct xcap_recorder *recorder;
	struct job running[XCAP_MAX_CAPTURES];
	struct delivery_queue q;
	uint64_t delivered_ok; /* updated by the worker: atomics */
	uint64_t delivered_failed;
};

static void spool_path(const struct xcap_jobs *j, const char *id, char *buf, size_t size)
{
	snprintf(buf, size, "%s/" SPOOL_DIR "/%s.pcap", j->cfg->state_dir, id);
}

static void *delivery_worker(void *arg);

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

struct xcap_jobs *xcap_jobs_new(const struct xcap_config *cfg, struct xcap_store *store,
				struct xcap_engine *engine, struct xcap_recorder *recorder)
{
	struct xcap_jobs *j;

	if (make_dir(cfg, SPOOL_DIR) || make_dir(cfg, SIMPLE_DIR))
		return NULL;
	j = calloc(1, sizeof(*j));
	if (!j)
		return NULL;
	j->cfg = cfg;
	j->store = store;
	j->engine = engine;
	j->recorder = recorder;
	pthread_mutex_init(&j->q.lock, NULL);
	pthread_mutex_init(&j->unsaved_lock, NULL);
	pthread_cond_init(&j->q.wake, NULL);
	j->q.tail = &j->q.head;
	errno = pthread_create(&j->q.worker, NULL, delivery_worker, j);
	if (errno) {
		pr_err("cannot start the delivery worker: %s\n", strerror(errno));
		xcap_jobs_free(j);
		return NULL;
	}
	j->q.started = true;
	return j;
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

/* Delivers the spool file as pcap_<id>.pcap; the spool copy goes once the bucket has it. */
static void deliver_now(struct xcap_jobs *j, struct xcap_capture_rec *r)
{
	char spool[PATH_MAX], name[64], err[512];
	struct xcap_dest d;
	int acc;

	spool_path(j, r->id, spool, sizeof(spool));
	transition(j, r, XCAP_ST_CONVERSION_RUNNING);
	snprintf(name, sizeof(name), "pcap_%s.pcap", r->id);
	acc = xcap_config_account(j->cfg, r->account);
	if (xcap_storage_parse(r->destination_conf, acc >= 0 ? &j->cfg->accounts[acc] : NULL, &d,
			       err, sizeof(err)) ||
	    xcap_storage_deliver(&d, spool, name, err, sizeof(err))) {
		set_error(r, "delivery to the bucket failed: %s; the file is kept at %s", err,
			  spool);
		pr_warn("capture %s: %s\n", r->id, r->error_message);
		__atomic_add_fetch(&j->delivered_failed, 1, __ATOMIC_RELAXED);
		transition(j, r, XCAP_ST_FAILED);
		return;
	}
	__atomic_add_fetch(&j->delivered_ok, 1, __ATOMIC_RELAXED);
	if (transition(j, r, XCAP_ST_COMPLETE))
		return;
	unlink(spool);
	pr_info("capture %s: complete, %llu packets delivered as %s\n", r->id,
		(unsigned long long)r->packets_captured, name);
}

static void *delivery_worker(void *arg)
{
	struct xcap_jobs *j = arg;
	struct delivery *d;

	for (;;) {
		pthread_mutex_lock(&j->q.lock);
		while (!j->q.head && !j->q.stopping)
			pthread_cond_wait(&j->q.wake, &j->q.lock);
		d = j->q.head;
		if (d) {
			j->q.head = d->next;
			if (!j->q.head)
				j->q.tail = &j->q.head;
		}
		pthread_mutex_unlock(&j->q.lock);
		if (!d)
			return NULL; /* stopping, and the queue is empty */
		deliver_now(j, &d->rec);
		free(d);
	}
}

/* Queues a capture in conversion_pending for the worker; without memory it stays pending. */
static void deliver(struct xcap_jobs *j, const struct xcap_capture_rec *r)
{
	struct delivery *d = calloc(1, sizeof(*d));

	if (!d) {
		pr_err("capture %s: no memory to queue its delivery; it resumes at restart\n",
		       r->id);
		return;
	}
	d->rec = *r;
	pthread_mutex_lock(&j->q.lock);
	*j->q.tail = d;
	j->q.tail = &d->next;
	pthread_cond_signal(&j->q.wake);
	pthread_mutex_unlock(&j->q.lock);
}

static void copy_counters(struct xcap_capture_rec *r, const struct xcap_capture_counters *c)
{
	r->packets_captured = c->delivered;
	r->bytes_captured = c->kernel.bytes;
	r->packets_matched = c->kernel.matched;
	r->packets_lost = c->kernel.ring_full + c->user_dropped + c->write_errors;
}

/* Ends a running capture: final counters, then delivery or an honest failure. */
static void finish(struct xcap_jobs *j, struct job *job, int64_t stop_ns)
{
	struct xcap_capture_counters c = {};
	struct xcap_capture_rec r;
	char spool[PATH_MAX];
	int err;

	err = xcap_capture_stop(job->cap);
	xcap_capture_counters(job->cap, &c);
	xcap_capture_free(job->cap);
	job->cap = NULL;
	if (xcap_store_capture_get(j->store, job->account, job->id, &r))
		return;
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
	if (!r.packets_captured) {
		unlink(spool);
		set_error(&r, "no packet matched the filter %s",
			  stop_ns ? "before the stop" : "within the time limit");
		transition(j, &r, XCAP_ST_FAILED);
		return;
	}
	/* Delivered even when the store is full: the record follows when it can. */
	transition(j, &r, XCAP_ST_CONVERSION_PENDING);
	deliver(j, &r);
}

static struct job *find_job(struct xcap_jobs *j, const char *id)
{
	int i;

	for (i = 0; i < XCAP_MAX_CAPTURES; i++)
		if (j->running[i].cap && !strcmp(j->running[i].id, id))
			return &j->running[i];
	return NULL;
}

static int start_full(struct xcap_jobs *j, struct xcap_capture_rec *r, const struct xcap_filter *f,
		      char *err, size_t err_size)
{
	struct xcap_capture_opts o = {
		.filter = *f,
		.limits = { .packets = r->packet_limit, .bytes = r->byte_limit },
		.time_limit_s = r->time_limit,
		/* A crash must leave on disk what was captured up to the last tick. */
		.flush_each_batch = true,
	};
	struct job *job = NULL;
	char spool[PATH_MAX];
	int i, ret;

	if (!j->engine) {
		snprintf(err, err_size,
			 "this xcapd captures on no interface (configure interfaces)");
		return -ENODEV;
	}
	for (i = 0; i < XCAP_MAX_CAPTURES && !job; i++)
		if (!j->running[i].cap)
			job = &j->running[i];
	if (!job) {
		snprintf(err, err_size, "all %d capture slots are in use", XCAP_MAX_CAPTURES);
		return -EBUSY;
	}
	spool_path(j, r->id, spool, sizeof(spool));
	o.path = spool;
	job->cap = xcap_capture_start(j->engine, &o);
	if (!job->cap) {
		ret = -errno;
		snprintf(err, err_size, "cannot start the capture: %s", strerror(-ret));
		return ret;
	}
	r->status = XCAP_ST_RUNNING;
	ret = xcap_store_capture_put(j->store, r);
	if (ret) {
		xcap_capture_free(job->cap);
		job->cap = NULL;
		unlink(spool);
		snprintf(err, err_size, "cannot store the capture");
		return ret;
	}
	snprintf(job->id, sizeof(job->id), "%s", r->id);
	snprintf(job->account, sizeof(job->account), "%s", r->account);
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
	struct xcap_query q = {
		.from_ns = r->offset_time_ns - (int64_t)r->time_limit * NSEC_PER_SEC,
		.to_ns = r->offset_time_ns,
		.filter = *f,
		.limit = r->packet_limit,
	};
	struct xcap_query_stats st = {};
	char path[PATH_MAX + 64], span[128], from[32], to[32];
	int err;

	if (!j->recorder) {
		set_error(r,
			  "this xcapd keeps no sampled history (no interface, or sample_rate 0)");
		return;
	}
	/* Samples still in the ring belong to the window too. */
	xcap_engine_drain_samples(j->engine);
	r->status = XCAP_ST_RUNNING;
	xcap_jobs_simple_file(j, r->id, path, sizeof(path));
	err = xcap_query_run(j->recorder, &q, path, &st);
	if (err) {
		set_error(r, "the sampled history could not be queried into a file: %s",
			  strerror(-err));
		return;
	}
	r->packets_matched = st.matched;
	xcap_pcap_count(path, &r->packets_captured, &r->bytes_captured);
	if (r->packets_captured) {
		r->status = XCAP_ST_SUCCESS;
		return;
	}
	unlink(path);
	describe_span(&st, span, sizeof(span));
	xcap_clock_format(q.from_ns, from, sizeof(from));
	xcap_clock_format(q.to_ns, to, sizeof(to));
	set_error(r, "no sampled packet matched the filter between %s and %s; %s", from, to, span);
}

int xcap_jobs_start(struct xcap_jobs *j, struct xcap_capture_rec *r, const struct xcap_filter *f,
		    char *err, size_t err_size)
{
	char path[PATH_MAX + 64];

	if (r->type == XCAP_TYPE_FULL)
		return start_full(j, r, f, err, err_size);
	run_simple(j, r, f);
	if (xcap_store_capture_put(j->store, r)) {
		xcap_jobs_simple_file(j, r->id, path, sizeof(path));
		unlink(path);
		snprintf(err, err_size, "cannot store the capture");
		return -EIO;
	}
	return 0;
}

int xcap_jobs_stop(struct xcap_jobs *j, struct xcap_capture_rec *r, int64_t stop_ns)
{
	struct job *job = find_job(j, r->id);
	int err;

	if (!job)
		return -ENOENT;
	finish(j, job, stop_ns);
	err = xcap_store_capture_get(j->store, r->account, r->id, r);
	return err;
}

void xcap_jobs_live(struct xcap_jobs *j, struct xcap_capture_rec *r)
{
	struct xcap_capture_counters c;
	struct job *job = find_job(j, r->id);
	struct unsaved *u;

	if (job && !xcap_capture_counters(job->cap, &c))
		copy_counters(r, &c);
	pthread_mutex_lock(&j->unsaved_lock);
	for (u = j->unsaved; u; u = u->next)
		if (!strcmp(u->rec.id, r->id))
			*r = u->rec;
	pthread_mutex_unlock(&j->unsaved_lock);
}

static void metric(FILE *out, const char *name, const char *help, const char *labels, uint64_t v)
{
	fprintf(out, "# HELP xcap_%s %s\n# TYPE xcap_%s counter\nxcap_%s%s %llu\n", name, help,
		name, name, labels, (unsigned long long)v);
}

static void capture_metrics(FILE *out, const struct job *job)
{
	static const struct {
		const char *name;
		size_t off;
	} fields[] = {
		{ "matched", offsetof(struct xcap_capture_counters, kernel.matched) },
		{ "written", offsetof(struct xcap_capture_counters, delivered) },
		{ "bytes", offsetof(struct xcap_capture_counters, kernel.bytes) },
		{ "over_limit", offsetof(struct xcap_capture_counters, kernel.over_budget) },
		{ "lost_ring_full", offsetof(struct xcap_capture_counters, kernel.ring_full) },
		{ "lost_userspace", offsetof(struct xcap_capture_counters, user_dropped) },
		{ "lost_write_error", offsetof(struct xcap_capture_counters, write_errors) },
	};
	struct xcap_capture_counters c;
	size_t i;

	if (xcap_capture_counters(job->cap, &c))
		return;
	for (i = 0; i < ARRAY_SIZE(fields); i++)
		fprintf(out,
			"xcap_capture_packets_total{id=\"%s\",account=\"%s\",counter=\"%s\"} %llu\n",
			job->id, job->account, fields[i].name,
			*(unsigned long long *)((char *)&c + fields[i].off));
}

static void gauge(FILE *out, const char *name, const char *help, uint64_t v)
{
	fprintf(out, "# HELP xcap_%s %s\n# TYPE xcap_%s gauge\nxcap_%s %llu\n", name, help, name,
		name, (unsigned long long)v);
}

static void recorder_metrics(FILE *out, struct xcap_recorder *rec)
{
	struct xcap_recorder_stats st;

	xcap_recorder_stats(rec, &st);
	gauge(out, "history_oldest_seconds", "Oldest sample kept (epoch seconds).",
	      st.oldest_ns / NSEC_PER_SEC);
	gauge(out, "history_newest_seconds", "Newest sample kept (epoch seconds).",
	      st.newest_ns / NSEC_PER_SEC);
	gauge(out, "history_bytes", "Disk used by the sampled history.", st.bytes);
	gauge(out, "history_samples", "Samples kept.", st.samples);
	metric(out, "history_dropped_total", "Samples not kept, by cause.", "{cause=\"rate_cap\"}",
	       st.dropped_rate);
	fprintf(out, "xcap_history_dropped_total{cause=\"write_error\"} %llu\n",
		(unsigned long long)st.dropped_error);
}

/*
 * What each configured interface received and dropped, from the kernel's own
 * counters (netlink, so in xcapd's network namespace): beside xcap's, they say
 * what the interface itself lost before XDP.
 */
static void interface_metrics(const struct xcap_jobs *j, FILE *out)
{
	struct ifaddrs *ifs, *i;
	struct rtnl_link_stats *st;
	int k;

	if (!j->cfg->n_ifaces || getifaddrs(&ifs))
		return;
	fprintf(out, "# HELP xcap_interface_rx_total Received by the interface (kernel counters).\n"
		     "# TYPE xcap_interface_rx_total counter\n");
	for (i = ifs; i; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_PACKET || !i->ifa_data)
			continue;
		for (k = 0; k < j->cfg->n_ifaces && strcmp(j->cfg->ifaces[k], i->ifa_name); k++)
			;
		if (k == j->cfg->n_ifaces)
			continue;
		st = i->ifa_data;
		fprintf(out,
			"xcap_interface_rx_total{interface=\"%s\",counter=\"packets\"} %u\n"
			"xcap_interface_rx_total{interface=\"%s\",counter=\"bytes\"} %u\n"
			"xcap_interface_rx_total{interface=\"%s\",counter=\"dropped\"} %u\n",
			i->ifa_name, st->rx_packets, i->ifa_name, st->rx_bytes, i->ifa_name,
			st->rx_dropped);
	}
	freeifaddrs(ifs);
}

void xcap_jobs_metrics(struct xcap_jobs *j, FILE *out)
{
	struct xcap_counters g;
	int i;

	if (j->engine && !xcap_engine_counters(j->engine, &g)) {
		metric(out, "packets_seen_total", "Packets seen by the XDP program.", "", g.seen);
		metric(out, "packets_sampled_total", "Packets copied to the sampled history.", "",
		       g.sampled);
		metric(out, "samples_lost_ring_full_total", "Samples lost: the ring was full.", "",
		       g.sample_ring_full);
		metric(out, "parse_errors_total", "Frames whose headers could not be parsed.", "",
		       g.parse_errors);
	}
	interface_metrics(j, out);
	if (j->recorder)
		recorder_metrics(out, j->recorder);
	fprintf(out, "# HELP xcap_capture_packets_total Running captures: packets (bytes) by "
		     "outcome.\n# TYPE xcap_capture_packets_total counter\n");
	for (i = 0; i < XCAP_MAX_CAPTURES; i++)
		if (j->running[i].cap)
			capture_metrics(out, &j->running[i]);
	metric(out, "deliveries_total", "Capture files delivered to buckets, by result.",
	       "{result=\"ok\"}", __atomic_load_n(&j->delivered_ok, __ATOMIC_RELAXED));
	fprintf(out, "xcap_deliveries_total{result=\"failed\"} %llu\n",
		(unsigned long long)__atomic_load_n(&j->delivered_failed, __ATOMIC_RELAXED));
}

void xcap_jobs_tick(struct xcap_jobs *j)
{
	int64_t now = xcap_clock_ns(CLOCK_MONOTONIC);
	int i;

	retry_unsaved(j);
	for (i = 0; i < XCAP_MAX_CAPTURES; i++) {
		if (!j->running[i].cap)
			continue;
		if (xcap_capture_done(j->running[i].cap, now))
			finish(j, &j->running[i], 0);
	}
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
		deliver(j, r);
		return 0;
	}
	if (r->type == XCAP_TYPE_FULL && !xcap_pcap_count(spool, &packets, &bytes) && packets) {
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

void xcap_jobs_free(struct xcap_jobs *j)
{
	int64_t now = xcap_clock_ns(CLOCK_REALTIME);
	int i;

	if (!j)
		return;
	for (i = 0; i < XCAP_MAX_CAPTURES; i++)
		if (j->running[i].cap)
			finish(j, &j->running[i], now);
	/* The worker delivers what is queued, then ends. */
	pthread_mutex_lock(&j->q.lock);
	j->q.stopping = true;
	pthread_cond_signal(&j->q.wake);
	pthread_mutex_unlock(&j->q.lock);
	if (j->q.started)
		pthread_join(j->q.worker, NULL);
	retry_unsaved(j); /* a last try; what stays unsaved is recovered at the next start */
	while (j->unsaved) {
		struct unsaved *u = j->unsaved;

		j->unsaved = u->next;
		free(u);
	}
	pthread_mutex_destroy(&j->unsaved_lock);
	pthread_mutex_destroy(&j->q.lock);
	pthread_cond_destroy(&j->q.wake);
	free(j);
}
