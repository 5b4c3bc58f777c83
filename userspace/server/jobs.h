/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The capture state machine. A simple capture is answered at once from the
 * sampled history (pending -> running -> success, or failed). A full capture
 * is armed through the runner (running), ends at a limit, at its time limit or
 * on stop, then the delivery worker copies its spool file to the bucket
 * (conversion_pending -> conversion_running -> complete, or failed with a
 * reason). Every transition is stored before it is visible. At start, what a
 * dead xcapd left is finished or failed. The functions may be called from
 * several threads.
 */
#ifndef XCAP_JOBS_H
#define XCAP_JOBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "server/runner.h"
#include "server/store.h"

struct xcap_config;
struct xcap_filter;
struct xcap_jobs;

/*
 * Records go to store, captures run through runner; spool files (full
 * captures, until delivered) and simple captures' files live under
 * cfg->state_dir.
 */
struct xcap_jobs *xcap_jobs_new(const struct xcap_config *cfg, struct xcap_store *store,
				struct xcap_runner *runner);
/* Finishes running captures (delivered as if stopped) and frees everything. */
void xcap_jobs_free(struct xcap_jobs *j);
/* Ends or resumes what an earlier process left in the store. */
int xcap_jobs_recover(struct xcap_jobs *j);
/*
 * Starts a validated capture record and stores it. On error nothing is stored
 * and err says why (-ENODEV no interface, -EBUSY no free slot, -EIO store).
 */
int xcap_jobs_start(struct xcap_jobs *j, struct xcap_capture_rec *r, const struct xcap_filter *f,
		    char *err, size_t err_size);
/* Stops a pending or running full capture and delivers its file; r is updated. */
int xcap_jobs_stop(struct xcap_jobs *j, struct xcap_capture_rec *r, int64_t now_ns);
/* The pcap file that /download serves for a successful simple capture. */
void xcap_jobs_simple_file(const struct xcap_jobs *j, const char *id, char *buf, size_t size);
/*
 * A successful simple capture's pcap (malloc'd, at most max bytes): the file
 * of this process, else the store's copy (a fleet's other API processes).
 */
int xcap_jobs_simple_read(struct xcap_jobs *j, const char *id, size_t max, char **buf, size_t *len);
/* One query of the sampled history into a pcap file at path (an agent's internal endpoint). */
int xcap_jobs_query(struct xcap_jobs *j, const struct xcap_query *q, const char *path,
		    struct xcap_run_result *out);
/*
 * An fd to read the file of a full capture that runs in this process, from
 * its start (the live stream): -ENOENT when it does not run here (any more),
 * -EOPNOTSUPP when the runner's file is on another host (a fleet's API).
 */
int xcap_jobs_stream_open(struct xcap_jobs *j, const char *id);
/* True while the full capture runs in this process; once false its file is complete. */
bool xcap_jobs_running(struct xcap_jobs *j, const char *id);
/* Fills the live counters of a running capture into r. */
void xcap_jobs_live(struct xcap_jobs *j, struct xcap_capture_rec *r);
/* The counters /metrics shows: the host's (from the runner) and the deliveries'. */
struct xcap_jobs_stats {
	struct xcap_host_stats host;
	uint64_t delivered_ok; /* confirmed by the bucket, since the start */
	uint64_t delivered_failed;
};

void xcap_jobs_stats(struct xcap_jobs *j, struct xcap_jobs_stats *out);
/*
 * Ends the captures whose limits are reached (now_ns: CLOCK_MONOTONIC) and
 * retries the records the store refused. xcapd calls it at each wake-up of its
 * loop, at least every 100 ms; a tick writes to the store only when a capture
 * ends or a refused record is retried.
 */
void xcap_jobs_tick(struct xcap_jobs *j, int64_t now_ns);
/*
 * Retention: deletes the ended captures (success, complete, failed) of every
 * account submitted more than keep_ns before now_ns (CLOCK_REALTIME), with
 * their files in the state folder, and logs how many. The number deleted or
 * -errno.
 */
int xcap_jobs_expire(struct xcap_jobs *j, int64_t now_ns, int64_t keep_ns);
/*
 * Runs xcap_jobs_expire on a thread of its own, keeping cfg->retention_days
 * (none when 0), until xcap_jobs_free. XCAP_RETENTION_SECONDS in the
 * environment overrides the days (a test knob).
 */
int xcap_jobs_expiry_start(struct xcap_jobs *j);

#endif /* XCAP_JOBS_H */
