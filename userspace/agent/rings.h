/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The ring consumers: drain the program's rings ("samples", and "frames": one per CPU),
 * turn each record's monotonic time stamp into epoch time, and hand it to the
 * sampler's sink or to the sinks of the captures it serves, with the per
 * capture counters of what userspace did with it.
 *
 * Two modes. Until xcap_rings_start, whoever calls xcap_rings_poll or
 * xcap_rings_sync consumes, on its own thread (tests, benchmarks). After it,
 * each ring has its own thread that alone consumes it and runs its sinks;
 * other threads ask it for a pass and wait for the acknowledgement
 * (xcap_rings_sync), so a ring is never consumed by two threads at once.
 */
#ifndef XCAP_RINGS_H
#define XCAP_RINGS_H

#include <stdbool.h>
#include <stdint.h>
#include "agent/engine.h"

struct xcap_rings;

/*
 * Consumers of the samples ring and of the n_frames frames rings (fds of
 * BPF_MAP_TYPE_RINGBUF maps, kept open by the caller). NULL + errno on error.
 */
struct xcap_rings *xcap_rings_new(int samples_fd, const int *frames_fds, int n_frames);
/* Stops the threads, after a last pass over each ring, and frees everything. */
void xcap_rings_free(struct xcap_rings *rs);

/* The sampler's sink (fn NULL: samples are consumed and dropped). Not once started: -EBUSY. */
int xcap_rings_set_sampler(struct xcap_rings *rs, const struct xcap_sink *sink);
/* Starts the frames thread, and the samples thread when a sampler is set. */
int xcap_rings_start(struct xcap_rings *rs);

/* Unthreaded only: waits up to timeout_ms for records, then consumes both rings. */
int xcap_rings_poll(struct xcap_rings *rs, int timeout_ms);
/*
 * Consumes every record committed to `ring` before the call. Unthreaded:
 * here, returning the records handled. Threaded: asks the ring's thread and
 * waits while it makes progress, giving up (-ETIMEDOUT) after XCAP_RINGS_STALL_MS
 * without any; 0 once done.
 */
int xcap_rings_sync(struct xcap_rings *rs, enum xcap_ring ring);
#define XCAP_RINGS_STALL_MS 2000

/* True when `slot` can take a capture (free, and no record of an earlier one can come). */
bool xcap_rings_slot_free(struct xcap_rings *rs, int slot);
/* Frames of `slot` go to sink from now on, cut to snaplen. */
int xcap_rings_bind(struct xcap_rings *rs, int slot, const struct xcap_sink *sink,
		    uint32_t snaplen);
/*
 * No frame of `slot` goes to its sink once this returns (the sink may be
 * freed); *final (if not NULL) gets what userspace did with its frames. The
 * caller drains first (xcap_rings_sync); when that failed, pass stale: the
 * records of the slot still in the ring are then skipped, and the slot is not
 * reused before the frames thread has served a pass past them. If the thread
 * is inside this slot's sink, waits for it to return.
 */
void xcap_rings_unbind(struct xcap_rings *rs, int slot, bool stale,
		       struct xcap_capture_counters *final);
/* What userspace did with the frames of a bound slot; -ENOENT when it is not bound. */
int xcap_rings_counters(const struct xcap_rings *rs, int slot, struct xcap_capture_counters *out);

#endif /* XCAP_RINGS_H */
