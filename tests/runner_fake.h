/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A runner without an engine, for unit tests of the jobs and the API: a test
 * says how many packets each armed capture has (fake_runner_packets) and what
 * a simple capture's query finds. A full capture is done once its time limit
 * has passed on the clock the caller gives (the jobs tick's now_ns, from the
 * test's clock *now_ns at arm time) or its packet limit is reached. Files are
 * written as a real runner would, with placeholder bytes.
 */
#ifndef XCAP_RUNNER_FAKE_H
#define XCAP_RUNNER_FAKE_H

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "common/util.h"
#include "server/runner.h"

struct fake_run {
	char id[XCAP_ID_LEN + 1];
	char account[XCAP_ID_LEN + 1];
	int64_t armed_ns;
	uint32_t time_limit_s;
	uint64_t packet_limit;
	uint64_t byte_limit; /* what the jobs allowed it */
	uint64_t packets;
	bool used;
};

struct runner_fake {
	struct xcap_runner base;
	const int64_t *now_ns; /* the test's CLOCK_MONOTONIC */
	bool no_interface; /* arm answers -ENODEV */
	bool no_history; /* query answers -EOPNOTSUPP */
	uint64_t query_packets; /* what a query finds */
	int query_err; /* a query answers this (-errno), 0 = none */
	int stop_err; /* stop answers this (-errno) after the counters, as a failed write */
	/* Added to every run's counters: losses of each kind, matches that were not kept. */
	struct xcap_capture_counters extra;
	/* What a spool file that a dead run left holds (a missing file: -ENOENT). */
	uint64_t leftover_packets, leftover_bytes;
	int slots; /* captures armed at once; 0 = XCAP_MAX_CAPTURES */
	struct fake_run runs[XCAP_MAX_CAPTURES];
	int armed, stopped; /* calls that succeeded */
};

static inline struct runner_fake *runner_fake_of(struct xcap_runner *base)
{
	return (struct runner_fake *)base;
}

static struct fake_run *fake_find(struct runner_fake *f, const char *id)
{
	int i;

	for (i = 0; i < XCAP_MAX_CAPTURES; i++)
		if (f->runs[i].used && !strcmp(f->runs[i].id, id))
			return &f->runs[i];
	return NULL;
}

static int fake_write(const char *path, const char *what)
{
	FILE *out = fopen(path, "w");

	if (!out)
		return -errno;
	fputs(what, out);
	return fclose(out) ? -EIO : 0;
}

/* packets delivered of 100 bytes each, and the runner's extra counters. */
static void fake_counters(const struct runner_fake *f, const struct fake_run *run,
			  struct xcap_capture_counters *c)
{
	*c = f->extra;
	c->delivered += run->packets;
	c->kernel.matched += run->packets;
	c->kernel.written += run->packets;
	c->kernel.bytes += run->packets * 100;
}

static int fake_arm(struct xcap_runner *base, const struct xcap_run *run, char *err,
		    size_t err_size)
{
	struct runner_fake *f = runner_fake_of(base);
	int i, used = 0, slots = f->slots ?: XCAP_MAX_CAPTURES;
	struct fake_run *slot = NULL;

	if (f->no_interface) {
		snprintf(err, err_size, "fake: no interface");
		return -ENODEV;
	}
	for (i = 0; i < XCAP_MAX_CAPTURES; i++) {
		used += f->runs[i].used;
		if (!f->runs[i].used && !slot)
			slot = &f->runs[i];
	}
	if (used >= slots || !slot) {
		snprintf(err, err_size, "fake: all %d slots are in use", slots);
		return -EBUSY;
	}
	if (fake_write(run->path, "fake pcap\n")) {
		snprintf(err, err_size, "fake: cannot write %s", run->path);
		return -EIO;
	}
	*slot = (struct fake_run){ .armed_ns = *f->now_ns,
				   .time_limit_s = run->time_limit_s,
				   .packet_limit = run->packet_limit,
				   .byte_limit = run->byte_limit,
				   .used = true };
	snprintf(slot->id, sizeof(slot->id), "%s", run->id);
	snprintf(slot->account, sizeof(slot->account), "%s", run->account);
	f->armed++;
	return 0;
}

static int fake_progress(struct xcap_runner *base, const char *id, int64_t now_ns,
			 struct xcap_run_progress *out)
{
	struct runner_fake *f = runner_fake_of(base);
	struct fake_run *run = fake_find(f, id);

	if (!run)
		return -ENOENT;
	fake_counters(f, run, &out->counters);
	out->done = now_ns >= run->armed_ns + (int64_t)run->time_limit_s * NSEC_PER_SEC ||
		    (run->packet_limit && run->packets >= run->packet_limit);
	return 0;
}

static int fake_stop(struct xcap_runner *base, const char *id, struct xcap_capture_counters *out)
{
	struct runner_fake *f = runner_fake_of(base);
	struct fake_run *run = fake_find(f, id);

	if (!run)
		return -ENOENT;
	fake_counters(f, run, out);
	run->used = false;
	f->stopped++;
	return f->stop_err;
}

static int fake_query(struct xcap_runner *base, const struct xcap_query *q, const char *path,
		      struct xcap_run_result *out)
{
	struct runner_fake *f = runner_fake_of(base);

	(void)q;
	memset(out, 0, sizeof(*out));
	if (f->no_history)
		return -EOPNOTSUPP;
	if (f->query_err)
		return f->query_err;
	out->packets = f->query_packets;
	out->bytes = f->query_packets * 60;
	out->stats.matched = f->query_packets;
	return fake_write(path, "fake simple pcap\n");
}

static int fake_leftover(struct xcap_runner *base, const char *path, uint64_t *packets,
			 uint64_t *bytes)
{
	struct runner_fake *f = runner_fake_of(base);

	*packets = 0;
	*bytes = 0;
	if (access(path, F_OK))
		return -errno;
	*packets = f->leftover_packets;
	*bytes = f->leftover_bytes;
	return 0;
}

static void fake_stats(struct xcap_runner *base, struct xcap_host_stats *out)
{
	struct runner_fake *f = runner_fake_of(base);
	int i;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < XCAP_MAX_CAPTURES; i++) {
		if (!f->runs[i].used)
			continue;
		snprintf(out->runs[out->n_runs].id, sizeof(out->runs[0].id), "%s", f->runs[i].id);
		snprintf(out->runs[out->n_runs].account, sizeof(out->runs[0].account), "%s",
			 f->runs[i].account);
		fake_counters(f, &f->runs[i], &out->runs[out->n_runs].counters);
		out->n_runs++;
	}
}

static void fake_free(struct xcap_runner *base)
{
	free(runner_fake_of(base));
}

static const struct xcap_runner_ops runner_fake_ops = {
	.name = "fake",
	.free = fake_free,
	.arm = fake_arm,
	.progress = fake_progress,
	.stop = fake_stop,
	.query = fake_query,
	.leftover = fake_leftover,
	.stats = fake_stats,
};

static inline struct runner_fake *runner_fake_new(const int64_t *now_ns)
{
	struct runner_fake *f = calloc(1, sizeof(*f));

	if (f) {
		f->base.ops = &runner_fake_ops;
		f->now_ns = now_ns;
	}
	return f;
}

/* Sets how many packets the armed capture `id` has captured so far. */
static inline void runner_fake_packets(struct runner_fake *f, const char *id, uint64_t packets)
{
	struct fake_run *run = fake_find(f, id);

	if (run)
		run->packets = packets;
}

#endif /* XCAP_RUNNER_FAKE_H */
