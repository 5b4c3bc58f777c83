/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A full capture: arms a rule in the engine, writes the frames it receives to
 * a pcap or pcapng file (an interface description for each of the engine's
 * interfaces, and what each lost at the end), and ends at its time limit,
 * when the kernel has spent its packet or byte budget, or when stopped.
 *
 * Threads: the file is written by the engine's frames thread while the
 * capture runs, and by the thread that stops it after; done and counters may
 * be called from any thread until xcap_capture_free.
 */
#ifndef XCAP_CAPTURE_H
#define XCAP_CAPTURE_H

#include <stdbool.h>
#include <stdint.h>
#include "agent/engine.h"
#include "agent/pcap.h"

struct xcap_capture;

struct xcap_capture_opts {
	struct xcap_filter filter;
	struct xcap_limits limits;
	uint32_t time_limit_s; /* 0 = none */
	const char *path; /* pcap file, "-" = stdout */
	enum xcap_pcap_format format;
	const char
		*comment; /* pcapng: the section's comment (the capture, its filter); NULL: none */
	bool flush_each_batch; /* about every 100 ms: for a live reader, or for a crash */
	/* path must not exist: created 0600 without following a link (xcapd's spool files) */
	bool create_new;
};

struct xcap_capture *xcap_capture_start(struct xcap_engine *e, const struct xcap_capture_opts *o);
/* True once a limit is reached or the reader went away; `now_ns` is CLOCK_MONOTONIC. */
bool xcap_capture_done(const struct xcap_capture *c, int64_t now_ns);
/*
 * True once writing found a pipe without a reader (EPIPE): the capture is
 * done, and xcap_capture_stop returns -EPIPE, which a one-shot whose reader
 * (tcpdump -c, head) had enough takes for a normal end.
 */
bool xcap_capture_reader_gone(const struct xcap_capture *c);
/* Counters so far (final ones after stop). */
int xcap_capture_counters(const struct xcap_capture *c, struct xcap_capture_counters *out);
/* Disarms, writes what is left in the ring and closes the file; the first error. */
int xcap_capture_stop(struct xcap_capture *c);
void xcap_capture_free(struct xcap_capture *c);

#endif /* XCAP_CAPTURE_H */
