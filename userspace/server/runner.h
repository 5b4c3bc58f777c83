/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The runner: what the jobs state machine asks of the host that captures,
 * for one capture at a time (arm, progress, stop, query the sampled history)
 * and the host's counters for /metrics, behind one table of functions.
 * Implementations, one file each: runner_local.c (the agent in this process);
 * runner_remote.c (the API of a fleet: a full capture is one part per agent,
 * in PostgreSQL, and a simple capture asks every agent's internal endpoint).
 * Captures are named by their id; jobs never sees the agent's objects.
 */
#ifndef XCAP_RUNNER_H
#define XCAP_RUNNER_H

#include <errno.h>
#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "agent/engine.h"
#include "agent/pcap.h"
#include "agent/query.h"
#include "agent/recorder.h"
#include "server/store.h"

struct xcap_runner;

/* A full capture to arm. */
struct xcap_run {
	const char *id;
	const char *account;
	struct xcap_filter filter;
	uint64_t packet_limit; /* 0 = none */
	uint64_t byte_limit; /* 0 = none */
	uint32_t time_limit_s;
	const char *path; /* the file the host writes */
	enum xcap_pcap_format format;
	const char *comment; /* pcapng: the section's comment */
	const struct xcap_capture_rec *rec; /* the record (a shared runner stores it) */
};

/* What one capture has counted so far. */
struct xcap_run_progress {
	struct xcap_capture_counters counters;
	bool done; /* a limit ended it: stop it to get the final counters */
};

/* What a simple capture wrote. */
struct xcap_run_result {
	struct xcap_query_stats stats; /* the window, and what matched in it */
	uint64_t packets; /* in the file */
	uint64_t bytes;
	char note
		[256]; /* "": nothing to say; else the hosts that did not answer, or why none did */
};

/* The host's counters, for /metrics. */
struct xcap_host_stats {
	bool has_engine; /* engine below is set */
	struct xcap_counters engine;
	bool has_ifaces; /* the interfaces' counters could be read (ifaces may still be empty) */
	int n_ifaces;
	struct {
		char name[IF_NAMESIZE];
		uint32_t rx_packets, rx_bytes, rx_dropped; /* the kernel's own counters */
	} ifaces[XCAP_MAX_IFACES];
	bool has_history; /* history below is set */
	struct xcap_recorder_stats history;
	int n_runs; /* the captures armed, in no particular order */
	struct {
		char id[XCAP_ID_LEN + 1];
		char account[XCAP_ID_LEN + 1];
		struct xcap_capture_counters counters;
	} runs[XCAP_MAX_CAPTURES];
	bool has_fleet; /* fleet below is set (the API of a fleet) */
	struct {
		uint32_t agents_live, agents_lost, agents_stopped;
		uint64_t parts[XCAP_ST_FAILED + 1]; /* by status */
		bool db_up; /* the last look at the database succeeded */
	} fleet;
};

/* 0 or a negative errno; ids of captures not armed here are -ENOENT. */
struct xcap_runner_ops {
	const char *name; /* for logs */
	/*
	 * The captures live in the shared store, not in this process: arm stores
	 * the record (and what the hosts need) itself, stop works from any
	 * process, and the hosts deliver. jobs keeps no table of them.
	 */
	bool shared;
	void (*free)(struct xcap_runner *r);
	/*
	 * Arms a full capture. -ENODEV: the host captures on no interface;
	 * -EBUSY: every capture slot is in use; err says why.
	 */
	int (*arm)(struct xcap_runner *r, const struct xcap_run *run, char *err, size_t err_size);
	/*
	 * Counters so far, and whether a limit ended the capture (now_ns is
	 * CLOCK_MONOTONIC); what was captured up to here is in the file.
	 */
	int (*progress)(struct xcap_runner *r, const char *id, int64_t now_ns,
			struct xcap_run_progress *out);
	/*
	 * Disarms, writes what is left and closes the file: the final counters,
	 * then the capture is forgotten. A non-zero return is a write error; the
	 * counters are set anyway.
	 */
	int (*stop)(struct xcap_runner *r, const char *id, struct xcap_capture_counters *out);
	/*
	 * A simple capture: the newest q->limit samples of the window that match,
	 * as a pcap file at path. -EOPNOTSUPP: the host keeps no sampled history.
	 */
	int (*query)(struct xcap_runner *r, const struct xcap_query *q, const char *path,
		     struct xcap_run_result *out);
	/*
	 * What a capture that was running when the last process died left in its
	 * file at path: packets and bytes (0 when nothing or no file).
	 */
	int (*leftover)(struct xcap_runner *r, const char *path, uint64_t *packets,
			uint64_t *bytes);
	void (*stats)(struct xcap_runner *r, struct xcap_host_stats *out);
	/*
	 * An fd (O_RDONLY) to read an armed capture's file from its start while
	 * it is written: the live stream. NULL, or -EOPNOTSUPP: the file is on
	 * another host.
	 */
	int (*stream)(struct xcap_runner *r, const char *id);
};

/* An implementation's state starts with this. */
struct xcap_runner {
	const struct xcap_runner_ops *ops;
};

/*
 * The agent in this process. engine may be NULL when no interface is
 * configured, recorder when no sampled history is kept; ifaces (n of them)
 * are the interfaces whose kernel counters /metrics shows. NULL + errno.
 */
struct xcap_runner *xcap_runner_local_new(struct xcap_engine *engine,
					  struct xcap_recorder *recorder,
					  const char (*ifaces)[IF_NAMESIZE], int n_ifaces);

struct xcap_pg;
/*
 * The API of a fleet: captures are parts of agents in the database on pg
 * (not owned; used from the API's threads and a monitor thread that finds
 * lost agents every second), simple captures ask the live agents' internal
 * endpoints, signed with secret. NULL + errno.
 */
struct xcap_runner *xcap_runner_remote_new(struct xcap_pg *pg, const char *secret);

static inline void xcap_runner_free(struct xcap_runner *r)
{
	if (r)
		r->ops->free(r);
}

static inline int xcap_runner_arm(struct xcap_runner *r, const struct xcap_run *run, char *err,
				  size_t err_size)
{
	return r->ops->arm(r, run, err, err_size);
}

static inline int xcap_runner_progress(struct xcap_runner *r, const char *id, int64_t now_ns,
				       struct xcap_run_progress *out)
{
	return r->ops->progress(r, id, now_ns, out);
}

static inline int xcap_runner_stop(struct xcap_runner *r, const char *id,
				   struct xcap_capture_counters *out)
{
	return r->ops->stop(r, id, out);
}

static inline int xcap_runner_query(struct xcap_runner *r, const struct xcap_query *q,
				    const char *path, struct xcap_run_result *out)
{
	return r->ops->query(r, q, path, out);
}

static inline int xcap_runner_leftover(struct xcap_runner *r, const char *path, uint64_t *packets,
				       uint64_t *bytes)
{
	return r->ops->leftover(r, path, packets, bytes);
}

static inline void xcap_runner_stats(struct xcap_runner *r, struct xcap_host_stats *out)
{
	r->ops->stats(r, out);
}

static inline int xcap_runner_stream(struct xcap_runner *r, const char *id)
{
	return r->ops->stream ? r->ops->stream(r, id) : -EOPNOTSUPP;
}

#endif /* XCAP_RUNNER_H */
