/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Simple captures: the newest matching samples of a time window, read from
 * the flight recorder and written as a pcap file (nanosecond magic, snaplen
 * 160, time order), or as pcapng with each sample's interface and direction.
 * Memory is bounded by the limit, not by the window.
 */
#ifndef XCAP_QUERY_H
#define XCAP_QUERY_H

#include <stdint.h>
#include "common/filter.h"
#include "agent/pcap.h"
#include "agent/recorder.h"

#define XCAP_QUERY_LIMIT_MAX 10000 /* the API's packet_limit range is 1..10000 */

struct xcap_query {
	uint64_t from_ns; /* window [from_ns, to_ns): from inclusive, to exclusive */
	uint64_t to_ns;
	struct xcap_filter filter; /* its dirs too: samples of the other direction do not match */
	uint32_t limit; /* the newest `limit` matches are kept: 1..XCAP_QUERY_LIMIT_MAX */
	char colo[64]; /* a fleet's API asks the agents of this site or metro ("": all of them) */
	enum xcap_pcap_format format;
	const char *comment; /* pcapng: the section's comment; NULL: none */
};

struct xcap_query_stats {
	uint64_t oldest_ns; /* the recorder's span at the time of the query; 0 when empty */
	uint64_t newest_ns;
	uint32_t segments; /* segments overlapping the window */
	uint32_t segments_read;
	uint32_t segments_skipped; /* by their index: no sample can match */
	uint32_t segments_unneeded; /* older than `limit` newer matches already found */
	uint64_t scanned; /* samples read */
	/*
	 * In the window and accepted by the filter, in the segments read: when
	 * segments_unneeded > 0 there are more, older ones that could not make
	 * the newest `limit`.
	 */
	uint64_t matched;
	uint64_t returned; /* written to the pcap file: min(matched, limit) */
	uint64_t corrupt; /* segments with a corrupt record (logged, the rest not read) */
};

/*
 * Writes the newest q->limit samples of the window that match q->filter to a
 * file of q->format at path, in time order (an empty window gives a file with no
 * record). The file includes what the recorder held at the call, the samples
 * it has not written yet too. Returns 0, -EINVAL for a bad window or limit, or another
 * -errno (the file is then removed). The recorder's span is in *st either way,
 * so that a caller can tell a window outside it from one without matches.
 */
int xcap_query_run(struct xcap_recorder *r, const struct xcap_query *q, const char *path,
		   struct xcap_query_stats *st);

#endif /* XCAP_QUERY_H */
