// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Full captures: one armed rule, one pcap file, the limits that end it. */
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
	int slot; /* -1 once stopped */
	int64_t deadline_ns; /* CLOCK_MONOTONIC; 0 = none */
	uint64_t lost; /* xcap_pcap_lost as of the last write or flush, for other threads */
	struct xcap_capture_counters final;
};

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

	err = xcap_pcap_write_frame(c->pcap, pkt->ts_ns, pkt->data, pkt->cap_len, pkt->orig_len,
				    pkt->flags);
	publish_lost(c);
	return err;
}

static void flush_frames(void *arg)
{
	struct xcap_capture *c = arg;

	xcap_pcap_flush(c->pcap);
	publish_lost(c);
}

struct xcap_capture *xcap_capture_start(struct xcap_engine *e, const struct xcap_capture_opts *o)
{
	struct xcap_sink sink = { .fn = write_frame,
				  .flush = o->flush_each_batch ? flush_frames : NULL };
	uint32_t snap = o->limits.snaplen && o->limits.snaplen < XCAP_FRAME_MAX ?
				o->limits.snaplen :
				XCAP_FRAME_MAX;
	struct xcap_capture *c;
	int err;

	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->engine = e;
	c->slot = -1;
	sink.arg = c;
	/*
	 * Raw IP when every interface is an L3 one; else Ethernet, where frames
	 * of L3 interfaces get a made-up Ethernet header (pcap.h), 14 bytes more.
	 */
	if (xcap_engine_l3_only(e))
		c->pcap = xcap_pcap_open_link(o->path, snap, XCAP_LINKTYPE_RAW);
	else
		c->pcap = xcap_pcap_open(o->path, snap + (xcap_engine_has_l3(e) ? 14 : 0));
	if (!c->pcap) {
		err = -errno;
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
	if (c->slot < 0)
		return true;
	if (c->deadline_ns && now_ns >= c->deadline_ns)
		return true;
	return !xcap_engine_armed(c->engine, c->slot);
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
	int err, cerr;

	if (c->slot < 0)
		return 0;
	/* From here on, the file is this thread's. */
	err = xcap_engine_disarm(c->engine, c->slot, &c->final);
	c->slot = -1;
	xcap_pcap_flush(c->pcap);
	publish_lost(c);
	count_flush_losses(c, &c->final);
	cerr = xcap_pcap_close(c->pcap);
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
