/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The flight recorder: an always-on history of sampled packets (the first 160
 * bytes of each) in a folder of segment files, one per minute of sample time,
 * each with an index that lets a read skip segments that cannot match a
 * filter. It owns the on-disk format, the rate cap, and retention by age and
 * by disk budget. Records check themselves, so a crash costs at most the torn
 * last record, which is never returned.
 *
 * Threads: one thread writes (add, flush, expire: xcapd's samples ring thread);
 * any other thread may read at the same time (stats, scan). A reader holds the
 * recorder's lock only to copy what it needs (the segment list, the samples
 * not written yet), never across a file read, and the writer takes it only
 * for changes in memory, never across a file write: neither waits on the
 * other's disk. open and close: no other thread may use the recorder.
 */
#ifndef XCAP_RECORDER_H
#define XCAP_RECORDER_H

#include <stdbool.h>
#include <stdint.h>
#include "agent/engine.h"
#include "common/filter.h"

#define XCAP_RECORDER_MAX_AGE_NS (24LL * 3600 * 1000000000) /* default retention by age */
#define XCAP_RECORDER_MAX_BYTES (4ULL << 30) /* default disk budget */
#define XCAP_RECORDER_MAX_RATE 5000 /* default cap in samples per second (~1 MB/s) */

struct xcap_recorder;

struct xcap_recorder_opts {
	const char *dir; /* the recorder's folder; created if missing (its parent must exist) */
	int64_t max_age_ns; /* 0 = XCAP_RECORDER_MAX_AGE_NS */
	uint64_t max_bytes; /* 0 = XCAP_RECORDER_MAX_BYTES; segment and index files */
	uint32_t max_rate; /* samples per second of sample time; 0 = XCAP_RECORDER_MAX_RATE */
};

struct xcap_recorder_stats {
	uint64_t oldest_ns; /* span of the samples held; both 0 when there are none */
	uint64_t newest_ns;
	uint64_t bytes; /* on disk: segment and index files */
	uint32_t segments;
	uint64_t samples; /* held (written or buffered) */
	uint64_t written; /* accepted since open */
	uint64_t dropped_rate; /* over the rate cap */
	uint64_t dropped_error; /* lost to a write error (full disk), or no segment could be made */
	uint64_t expired; /* segments deleted by retention since open */
};

/*
 * Opens the folder, indexes the segments a previous run left (rebuilding the
 * index of one that was not closed cleanly, without its torn tail) and ignores,
 * with a warning, files that are not segments. New samples always go to new
 * segment files. NULL with errno set on error.
 */
struct xcap_recorder *xcap_recorder_open(const struct xcap_recorder_opts *opts);
/*
 * Records one sample (first XCAP_SAMPLE_BYTES bytes). Takes a struct
 * xcap_recorder *; typed void * so that it is an xcap_packet_fn for
 * xcap_engine_set_sampler(). Returns 0 (buffered), -ENOBUFS (over the rate cap)
 * or the error that keeps samples from the disk; every drop is counted.
 */
int xcap_recorder_add(void *recorder, const struct xcap_packet *pkt);
/*
 * Writes the buffered samples (the writer thread). Call about once a second: after a write error,
 * it is also when writing is tried again. 0 or the write's -errno.
 */
int xcap_recorder_flush(struct xcap_recorder *r);
/*
 * Retention: deletes segments whose newest sample is older than now_ns minus
 * the maximum age, then the oldest segments while the disk budget is exceeded
 * (the segment being written is never deleted, so the budget may be exceeded
 * by at most that one). Also closes the segment being written once its minute
 * is over by a minute, so that its index is written. Call about once a second.
 */
void xcap_recorder_expire(struct xcap_recorder *r, uint64_t now_ns);
/*
 * Flushes and expires once a second (earlier calls return at once). Takes a
 * struct xcap_recorder *; typed void * so that it is the flush of the sink
 * that xcap_recorder_add feeds.
 */
void xcap_recorder_tick(void *recorder);
void xcap_recorder_stats(const struct xcap_recorder *r, struct xcap_recorder_stats *st);
/* Flushes, writes the index of the open segment, frees everything. */
void xcap_recorder_close(struct xcap_recorder *r);

/* A read of the history: the query module's access to the segments. */
struct xcap_recorder_scan {
	uint64_t from_ns; /* window [from_ns, to_ns) */
	uint64_t to_ns;
	const struct xcap_filter *filter; /* lets indexes skip segments; NULL reads every one */
	/*
	 * Asked before each segment, with the newest time it holds; false skips
	 * it (the caller has enough newer samples already). NULL: always read.
	 */
	bool (*want)(void *arg, uint64_t newest_ns);
	/*
	 * Called for each intact sample of the window in a segment that was read;
	 * pkt->data is valid during the call only. Segments come newest first and
	 * their samples in file order; seq orders samples of equal time stamps.
	 */
	void (*fn)(void *arg, const struct xcap_packet *pkt, uint64_t seq);
	void *arg;
	/* Filled by the scan. */
	uint32_t segments; /* segments overlapping the window */
	uint32_t read; /* ... read */
	uint32_t skipped; /* ... whose index showed no sample can match the filter */
	uint32_t unneeded; /* ... that want() declined */
	uint64_t records; /* samples read from the segments read */
	uint64_t corrupt; /* segments with a record failing its checksum (the rest not read) */
};

/*
 * Reads the segments that may hold matches, the samples not written yet
 * included, without waiting for the writer's disk I/O (any thread). A segment
 * that retention deletes during the scan is left out. 0 or -errno.
 */
int xcap_recorder_scan(struct xcap_recorder *r, struct xcap_recorder_scan *s);

#endif /* XCAP_RECORDER_H */
