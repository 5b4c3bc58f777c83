/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The live stream of a running full capture (GET .../pcaps/{id}/stream): its
 * file from the start, then what the capture appends, in whole records, until
 * the capture has ended and the file is complete. A stream reads the file the
 * capture writes, never its ring or buffers, so a reader can neither slow the
 * capture nor change the file. A reader that falls more than lag_max bytes
 * behind what was written since it came is skipped ahead, to the newest half
 * of that, and told: a comment on the next packet (pcapng), and the count
 * (xcap_stream_missed) for the end.
 *
 * Threads: a stream is read by one thread at a time; `live` runs on it.
 */
#ifndef XCAP_STREAM_H
#define XCAP_STREAM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define XCAP_STREAM_LAG_MAX (8ULL << 20) /* about 5500 packets of 1500 bytes */

struct xcap_stream;

struct xcap_stream_opts {
	int fd; /* the capture's file, read from its start; the stream closes it */
	/* True while the capture may still write; once false, the file is complete. */
	bool (*live)(void *arg, const char *id);
	void *arg;
	const char *id; /* the capture, for live (copied) */
	uint64_t lag_max; /* 0: XCAP_STREAM_LAG_MAX */
};

/* NULL + errno; the fd is closed either way. */
struct xcap_stream *xcap_stream_new(const struct xcap_stream_opts *o);
/*
 * Copies up to max bytes of the stream into buf. Returns the bytes copied,
 * 0 when nothing is ready yet (ask again later), -ENODATA once everything has
 * been sent and the capture has ended, or another -errno (-EIO: the file is
 * not one xcap wrote).
 */
ssize_t xcap_stream_read(struct xcap_stream *s, void *buf, size_t max);
/* Packets skipped so far because the reader was too slow. */
uint64_t xcap_stream_missed(const struct xcap_stream *s);
void xcap_stream_free(struct xcap_stream *s);

#endif /* XCAP_STREAM_H */
