// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Simple captures (query.h). The recorder hands over the window's samples
 * segment by segment, newest segments first; a min-heap keeps the newest
 * `limit` matches, so memory is bounded by the limit, and once the heap is
 * full a segment older than all it holds is not read at all.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "common/log.h"
#include "common/frame.h"
#include "agent/link.h"
#include "agent/pcap.h"
#include "agent/query.h"

struct hit {
	uint64_t ts_ns;
	uint64_t seq; /* orders equal time stamps as they were recorded */
	uint32_t cap_len;
	uint32_t orig_len;
	uint32_t ifindex;
	uint32_t flags; /* XCAP_REC_*: the direction */
	uint8_t data[XCAP_SAMPLE_BYTES];
};

struct query_run {
	const struct xcap_query *q;
	struct xcap_query_stats *st;
	struct hit *slots;
	struct hit **heap; /* min-heap: heap[0] is the oldest match kept */
	uint32_t n;
	/* The filter's interfaces that this host has, when it restricts them (n_ifindexes >= 0). */
	int n_ifindexes;
	uint32_t ifindexes[XCAP_MAX_IFACES];
};

/* True when the filter takes samples of interface ifindex. */
static bool query_takes_iface(const struct query_run *qr, uint32_t ifindex)
{
	int i;

	if (qr->n_ifindexes < 0)
		return true;
	for (i = 0; i < qr->n_ifindexes; i++)
		if (qr->ifindexes[i] == ifindex)
			return true;
	return false;
}

static bool hit_before(const struct hit *a, const struct hit *b)
{
	return a->ts_ns != b->ts_ns ? a->ts_ns < b->ts_ns : a->seq < b->seq;
}

static int hit_cmp(const void *a, const void *b)
{
	const struct hit *x = *(struct hit *const *)a, *y = *(struct hit *const *)b;

	return hit_before(x, y) ? -1 : hit_before(y, x);
}

static void heap_swap(struct hit **heap, uint32_t i, uint32_t j)
{
	struct hit *t = heap[i];

	heap[i] = heap[j];
	heap[j] = t;
}

static void heap_up(struct hit **heap, uint32_t i)
{
	while (i && hit_before(heap[i], heap[(i - 1) / 2])) {
		heap_swap(heap, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void heap_down(struct hit **heap, uint32_t n, uint32_t i)
{
	uint32_t least, c;

	for (;;) {
		least = i;
		for (c = 2 * i + 1; c <= 2 * i + 2 && c < n; c++) {
			if (hit_before(heap[c], heap[least]))
				least = c;
		}
		if (least == i)
			return;
		heap_swap(heap, i, least);
		i = least;
	}
}

static void hit_set(struct hit *h, const struct xcap_packet *pkt, uint64_t seq)
{
	h->ts_ns = pkt->ts_ns;
	h->seq = seq;
	h->cap_len = pkt->cap_len;
	h->orig_len = pkt->orig_len;
	h->ifindex = pkt->ifindex;
	h->flags = pkt->flags;
	memcpy(h->data, pkt->data, pkt->cap_len);
}

/* Keeps a match while it is among the newest `limit` seen so far. */
static void query_keep(struct query_run *qr, const struct xcap_packet *pkt, uint64_t seq)
{
	struct hit probe = { .ts_ns = pkt->ts_ns, .seq = seq };

	if (qr->n < qr->q->limit) {
		qr->heap[qr->n] = &qr->slots[qr->n];
		hit_set(qr->heap[qr->n], pkt, seq);
		heap_up(qr->heap, qr->n++);
	} else if (hit_before(qr->heap[0], &probe)) {
		hit_set(qr->heap[0], pkt, seq);
		heap_down(qr->heap, qr->n, 0);
	}
}

static void query_one(void *arg, const struct xcap_packet *pkt, uint64_t seq)
{
	struct query_run *qr = arg;
	struct xcap_frame fr;

	if (!xcap_filter_takes_dir(&qr->q->filter,
				   pkt->flags & XCAP_REC_OUT ? XCAP_DIR_OUT : XCAP_DIR_IN) ||
	    !query_takes_iface(qr, pkt->ifindex))
		return;
	xcap_frame_parse_levels(pkt->data, pkt->cap_len, pkt->flags, &fr);
	if (!xcap_filter_match_frame(&qr->q->filter, &fr))
		return;
	qr->st->matched++;
	query_keep(qr, pkt, seq);
}

/* A segment older than every match kept cannot add one once the heap is full. */
static bool query_want(void *arg, uint64_t newest_ns)
{
	struct query_run *qr = arg;

	return qr->n < qr->q->limit || newest_ns >= qr->heap[0]->ts_ns;
}

static int query_write(const struct query_run *qr, const char *path)
{
	struct xcap_pcap_opts o = {
		.format = qr->q->format,
		.snaplen = XCAP_SAMPLE_BYTES,
		.comment = qr->q->comment,
		/* xcapd's own file, under a fresh id: never written through a link planted there. */
		.create_new = true,
	};
	struct xcap_packet pkt;
	struct xcap_pcap *p;
	const struct hit *h;
	uint32_t i, l3 = 0;
	int err;

	/*
	 * Raw IP when every sample came from an L3 interface; else Ethernet
	 * (pcap.h). pcapng: each interface is described where its first sample
	 * is, with its own link type.
	 */
	for (i = 0; i < qr->n; i++)
		l3 += !!(qr->heap[i]->flags & XCAP_REC_L3);
	xcap_pcap_opts_frames(&o, qr->n, l3);
	p = xcap_pcap_open_opts(path, &o);
	if (!p) {
		err = -errno;
		goto out;
	}
	/* Errors are sticky: close reports the first. */
	for (i = 0; i < qr->n; i++) {
		h = qr->heap[i];
		pkt = (struct xcap_packet){
			.ts_ns = h->ts_ns,
			.data = h->data,
			.cap_len = h->cap_len,
			.orig_len = h->orig_len,
			.ifindex = h->ifindex,
			.flags = h->flags,
		};
		xcap_pcap_write_packet(p, &pkt);
	}
	err = xcap_pcap_close(p);
	if (err)
		unlink(path);
out:
	if (err)
		pr_err("query: cannot write %s: %s\n", path, strerror(-err));
	return err;
}

int xcap_query_run(struct xcap_recorder *r, const struct xcap_query *q, const char *path,
		   struct xcap_query_stats *st)
{
	struct query_run qr = { .q = q, .st = st, .n_ifindexes = -1 };
	struct xcap_recorder_scan scan = {
		.from_ns = q->from_ns,
		.to_ns = q->to_ns,
		.filter = q->filter.set ? &q->filter : NULL,
		.want = query_want,
		.fn = query_one,
		.arg = &qr,
	};
	struct xcap_recorder_stats rs;
	int err;

	memset(st, 0, sizeof(*st));
	xcap_recorder_stats(r, &rs);
	st->oldest_ns = rs.oldest_ns;
	st->newest_ns = rs.newest_ns;
	if (q->from_ns >= q->to_ns || !q->limit || q->limit > XCAP_QUERY_LIMIT_MAX)
		return -EINVAL;
	if (q->filter.n_ifaces)
		qr.n_ifindexes = xcap_filter_ifindexes(&q->filter, qr.ifindexes);
	qr.slots = malloc(q->limit * sizeof(*qr.slots));
	qr.heap = malloc(q->limit * sizeof(*qr.heap));
	if (!qr.slots || !qr.heap) {
		err = -ENOMEM;
		goto out;
	}
	err = xcap_recorder_scan(r, &scan);
	if (err)
		goto out;
	st->segments = scan.segments;
	st->segments_read = scan.read;
	st->segments_skipped = scan.skipped;
	st->segments_unneeded = scan.unneeded;
	st->scanned = scan.records;
	st->corrupt = scan.corrupt;
	st->returned = qr.n;
	qsort(qr.heap, qr.n, sizeof(*qr.heap), hit_cmp);
	err = query_write(&qr, path);
out:
	free(qr.heap);
	free(qr.slots);
	return err;
}
