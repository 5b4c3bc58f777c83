// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Full captures: one armed rule, one pcap or pcapng file, the limits that end it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "agent/capture.h"
#include "common/clock.h"
#include "common/log.h"
#include "agent/link.h"
#include "agent/pcap.h"

struct xcap_capture {
	struct xcap_engine *engine;
	struct xcap_pcap *pcap; /* the frames thread's while armed */
	uint32_t ifindexes[XCAP_IFACE_SLOTS]; /* the engine's, in its order (iface_lost) */
	int n_ifaces;
	int slot; /* -1 once stopped */
	int64_t deadline_ns; /* CLOCK_MONOTONIC; 0 = none */
	uint64_t lost; /* xcap_pcap_lost as of the last write or flush, for other threads */
	bool reader_gone; /* the reader of a pipe went away (EPIPE): the capture is done */
	struct xcap_capture_counters final;
};

/* A write or flush found the pipe without a reader: that ends the capture, as a limit would. */
static int note_epipe(struct xcap_capture *c, int err)
{
	if (err == -EPIPE)
		__atomic_store_n(&c->reader_gone, true, __ATOMIC_RELAXED);
	return err;
}

/* The pcap writer is the frames thread's alone: other threads read the copy of its losses. */
static void publish_lost(struct xcap_capture *c)
{
	uint64_t lost = xcap_pcap_lost(c->pcap);

	if (lost != c->lost)
		__atomic_store_n(&c->lost, lost, __ATOMIC_RELAXED);
}

/* The sink: both run on the engine's frames thread. */
static int write_frame(void *arg, const struct xcap_packet *pkt)
{
	struct xcap_capture *c = arg;
	int err;

	err = xcap_pcap_write_packet(c->pcap, pkt);
	publish_lost(c);
	return note_epipe(c, err);
}

static void flush_frames(void *arg)
{
	struct xcap_capture *c = arg;

	note_epipe(c, xcap_pcap_flush(c->pcap));
	publish_lost(c);
}

/*
 * The interfaces the file describes, with their link types and how many of
 * them are L3 ones: the engine's, or those of them the filter restricts the
 * capture to (a pcapng file lists no interface its packets cannot be from).
 */
static int file_ifaces(struct xcap_engine *e, const struct xcap_capture *c,
		       const struct xcap_filter *f, uint32_t *ifindexes, uint32_t *linktypes,
		       int *l3)
{
	uint32_t named[XCAP_MAX_IFACES];
	int i, j, n = 0, n_named = f->n_ifaces ? xcap_filter_ifindexes(f, named) : 0;

	*l3 = 0;
	for (i = 0; i < c->n_ifaces; i++) {
		for (j = 0; j < n_named && named[j] != c->ifindexes[i]; j++)
			;
		if (f->n_ifaces && j == n_named)
			continue;
		ifindexes[n] = c->ifindexes[i];
		linktypes[n] = xcap_engine_linktype(e, c->ifindexes[i]);
		*l3 += linktypes[n] == XCAP_LINKTYPE_RAW;
		n++;
	}
	return n;
}

struct xcap_capture *xcap_capture_start(struct xcap_engine *e, const struct xcap_capture_opts *o)
{
	struct xcap_sink sink = { .fn = write_frame,
				  .flush = o->flush_each_batch ? flush_frames : NULL };
	struct xcap_pcap_opts po = {
		.format = o->format,
		.snaplen = o->limits.snaplen && o->limits.snaplen < XCAP_FRAME_MAX ?
				   o->limits.snaplen :
				   XCAP_FRAME_MAX,
		.comment = o->comment,
		.create_new = o->create_new,
	};
	uint32_t linktypes[XCAP_IFACE_SLOTS], described[XCAP_IFACE_SLOTS];
	struct xcap_capture *c;
	int err, n, l3;

	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->engine = e;
	c->slot = -1;
	sink.arg = c;
	n = xcap_engine_ifaces(e, c->ifindexes, XCAP_IFACE_SLOTS);
	c->n_ifaces = n < XCAP_IFACE_SLOTS ? n : XCAP_IFACE_SLOTS;
	po.n_ifaces = file_ifaces(e, c, &o->filter, described, linktypes, &l3);
	po.ifindexes = described;
	po.linktypes = linktypes;
	/* pcap, one link type: raw IP when every interface is an L3 one (pcap.h). */
	xcap_pcap_opts_frames(&po, po.n_ifaces, l3);
	c->pcap = xcap_pcap_open_opts(o->path, &po);
	if (!c->pcap) {
		err = -errno;
		/* A reader gone before the header (EPIPE) is the caller's to tell. */
		if (err != -EPIPE)
			pr_err("cannot write %s: %s\n", o->path, strerror(-err));
		goto err;
	}
	if (o->time_limit_s)
		c->deadline_ns = xcap_clock_ns(CLOCK_MONOTONIC) + o->time_limit_s * 1000000000LL;
	c->slot = xcap_engine_arm_sink(e, &o->filter, &o->limits, &sink);
	if (c->slot < 0) {
		err = c->slot;
		pr_err("cannot arm the capture: %s\n", strerror(-err));
		goto err;
	}
	return c;
err:
	xcap_capture_free(c);
	errno = -err;
	return NULL;
}

bool xcap_capture_done(const struct xcap_capture *c, int64_t now_ns)
{
	if (c->slot < 0 || xcap_capture_reader_gone(c))
		return true;
	if (c->deadline_ns && now_ns >= c->deadline_ns)
		return true;
	return !xcap_engine_armed(c->engine, c->slot);
}

bool xcap_capture_reader_gone(const struct xcap_capture *c)
{
	return __atomic_load_n(&c->reader_gone, __ATOMIC_RELAXED);
}

/* A packet the callback took counts as a write error once a flush of it failed. */
static void count_flush_losses(const struct xcap_capture *c, struct xcap_capture_counters *out)
{
	uint64_t lost = __atomic_load_n(&c->lost, __ATOMIC_RELAXED);

	out->delivered -= lost;
	out->write_errors += lost;
}

int xcap_capture_counters(const struct xcap_capture *c, struct xcap_capture_counters *out)
{
	int err;

	if (c->slot < 0) {
		*out = c->final;
		return 0;
	}
	err = xcap_engine_capture_counters(c->engine, c->slot, out);
	count_flush_losses(c, out);
	return err;
}

int xcap_capture_stop(struct xcap_capture *c)
{
	int err, cerr, i;

	if (c->slot < 0)
		return 0;
	/* From here on, the file is this thread's. */
	err = xcap_engine_disarm(c->engine, c->slot, &c->final);
	c->slot = -1;
	/* What never reached the file, by interface where the kernel could tell (pcapng). */
	for (i = 0; i < c->n_ifaces; i++)
		xcap_pcap_add_dropped(c->pcap, c->ifindexes[i], c->final.iface_lost[i]);
	xcap_pcap_add_dropped(c->pcap, 0, c->final.user_dropped);
	note_epipe(c, xcap_pcap_flush(c->pcap));
	publish_lost(c);
	count_flush_losses(c, &c->final);
	cerr = note_epipe(c, xcap_pcap_close(c->pcap));
	if (cerr || c->final.write_errors)
		err = err ?: cerr ?: -EIO;
	c->pcap = NULL;
	return err;
}

void xcap_capture_free(struct xcap_capture *c)
{
	if (!c)
		return;
	xcap_capture_stop(c);
	xcap_pcap_close(c->pcap);
	free(c);
}
