// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The ring consumers (rings.h).
 *
 * One thread per ring, not per CPU: each ring is one BPF ring buffer that
 * every CPU's program writes to, with one consumer position, so a second
 * consumer of a ring could only take turns with the first. Per-CPU rings,
 * and then a thread per ring of them, are the datapath issue's (#15).
 *
 * Two rings, two threads rather than one for both, measured (2-vCPU VM, 2026-12,
 * loaded): draining 15,000 frames and 15,000 samples takes the same time
 * either way, within the noise (5-45 ms for both); but the recorder stalls
 * its thread 1.1 ms at each 256 KiB write and 3.5 ms at each segment close
 * (index fold and write, ext4), a sixth of the default frames ring at 1 Mpps
 * of 1500 B. So the samples' disk work never holds up the frames, the ring
 * that loses captured packets when full.
 *
 * Handoff: a thread that needs the records committed so far (a disarm, a
 * simple capture) bumps the ring's request count and kicks its eventfd; the
 * ring's thread reads the count, consumes everything, then acknowledges that
 * count. Everything committed before the request is in the ring when the
 * thread reads the producer position, which it does after the count.
 *
 * Sinks go away while the frames thread runs: the thread publishes which
 * captures it is dispatching (busy) before it looks at a slot's state, and
 * unbind changes the state before it looks at busy (Dekker, seq_cst), so
 * either the thread sees the slot unbound or unbind sees it busy and waits.
 */
#define _GNU_SOURCE /* pthread_setname_np */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "common/clock.h"
#include "common/log.h"
#include "common/util.h"
#include "agent/rings.h"

#define RING_WAIT_MS 100 /* the program wakes us at a quarter full only: look this often anyway */
#define FLUSH_NS (100 * NSEC_PER_MSEC) /* sinks flush at most this often */

enum slot_state { SLOT_FREE, SLOT_BOUND, SLOT_STALE };

struct rings_slot {
	int state; /* enum slot_state: seq_cst, see the top */
	uint32_t snaplen;
	struct xcap_sink sink;
	uint64_t stale_until; /* STALE: free once the frames thread served this request */
	/* Written by the consuming thread only, read by any (relaxed atomics). */
	uint64_t delivered;
	uint64_t user_dropped;
	uint64_t write_errors;
};

struct ring {
	struct xcap_rings *rs;
	struct ring_buffer *rb;
	int map_fd;
	int efd; /* eventfd: a request, or stop */
	pthread_t thread;
	bool running;
	bool stop;
	/* This ring's own clock offset: nothing shared per record between the threads. */
	int64_t mono_to_real; /* ns to add to CLOCK_MONOTONIC for the epoch */
	int64_t offset_taken; /* monotonic time of the last offset measurement */
	int64_t flushed; /* monotonic time of the last flush of the sinks */
	uint64_t records; /* consumed, ever, counted one by one: the progress a requester watches */
	uint64_t busy; /* frames: the captures of the record being dispatched */
	uint64_t req; /* requests made (atomic) */
	uint64_t done; /* requests served, under lock */
	pthread_mutex_t lock;
	pthread_cond_t served;
};

struct xcap_rings {
	struct ring ring[XCAP_RINGS];
	bool started;
	struct xcap_sink sampler;
	struct rings_slot slots[XCAP_MAX_CAPTURES];
};

/* The realtime clock may be stepped (NTP); the offset is measured again every second. */
static int64_t refresh_clock_offset(struct ring *g)
{
	int64_t m1, r, m2;

	m1 = xcap_clock_ns(CLOCK_MONOTONIC);
	if (g->offset_taken && m1 - g->offset_taken < NSEC_PER_SEC)
		return m1;
	r = xcap_clock_ns(CLOCK_REALTIME);
	m2 = xcap_clock_ns(CLOCK_MONOTONIC);
	g->mono_to_real = r - (m1 + (m2 - m1) / 2);
	g->offset_taken = m2;
	return m2;
}

static void to_packet(const struct ring *g, const struct xcap_rec *r, struct xcap_packet *pkt)
{
	*pkt = (struct xcap_packet){
		.ts_ns = r->ts_ns + g->mono_to_real,
		.data = (const uint8_t *)(r + 1),
		.cap_len = r->cap_len,
		.orig_len = r->orig_len,
		.ifindex = r->ifindex,
		.rx_queue = r->rx_queue,
		.flags = r->flags,
	};
}

/* A counter only the consuming thread changes. */
static void count(uint64_t *c)
{
	__atomic_store_n(c, *c + 1, __ATOMIC_RELAXED);
}

static int on_sample(void *ctx, void *data, size_t size)
{
	struct ring *g = ctx;
	const struct xcap_rec *r = data;
	const struct xcap_sink *s = &g->rs->sampler;
	struct xcap_packet pkt;

	count(&g->records);
	if (size < sizeof(*r) || r->cap_len > size - sizeof(*r) || !s->fn)
		return 0;
	to_packet(g, r, &pkt);
	s->fn(s->arg, &pkt);
	return 0;
}

static int on_frame(void *ctx, void *data, size_t size)
{
	struct ring *g = ctx;
	const struct xcap_rec *r = data;
	bool valid = size >= sizeof(*r) && r->cap_len <= size - sizeof(*r);
	struct xcap_packet pkt;
	struct rings_slot *s;
	uint64_t set;
	int i;

	count(&g->records);
	if (size < sizeof(*r))
		return 0;
	to_packet(g, r, &pkt);
	__atomic_store_n(&g->busy, r->captures, __ATOMIC_SEQ_CST);
	for (set = r->captures; set; set &= set - 1) {
		i = __builtin_ctzll(set);
		s = &g->rs->slots[i];
		if (__atomic_load_n(&s->state, __ATOMIC_SEQ_CST) != SLOT_BOUND)
			continue; /* counted by unbind, or not ours */
		if (!valid) {
			count(&s->user_dropped);
			continue;
		}
		/* One copy serves several captures: each keeps its own snaplen. */
		pkt.cap_len = r->cap_len < s->snaplen ? r->cap_len : s->snaplen;
		count(s->sink.fn(s->sink.arg, &pkt) ? &s->write_errors : &s->delivered);
	}
	__atomic_store_n(&g->busy, 0, __ATOMIC_RELEASE);
	return 0;
}

static void flush_sinks(struct ring *g)
{
	struct xcap_rings *rs = g->rs;
	struct rings_slot *s;
	int i;

	if (g == &rs->ring[XCAP_RING_SAMPLES]) {
		if (rs->sampler.flush)
			rs->sampler.flush(rs->sampler.arg);
		return;
	}
	for (i = 0; i < XCAP_MAX_CAPTURES; i++) {
		s = &rs->slots[i];
		__atomic_store_n(&g->busy, 1ULL << i, __ATOMIC_SEQ_CST);
		if (__atomic_load_n(&s->state, __ATOMIC_SEQ_CST) == SLOT_BOUND && s->sink.flush)
			s->sink.flush(s->sink.arg);
	}
	__atomic_store_n(&g->busy, 0, __ATOMIC_RELEASE);
}

/* Consumes what the ring holds; flushes the sinks when it is time. Records handled or -errno. */
static int ring_pass(struct ring *g)
{
	int64_t now = refresh_clock_offset(g);
	int n;

	n = ring_buffer__consume(g->rb);
	if (now - g->flushed >= FLUSH_NS) {
		flush_sinks(g);
		g->flushed = now;
	}
	return n;
}

static void *ring_thread(void *arg)
{
	struct ring *g = arg;
	struct pollfd p[2] = { { .fd = g->map_fd, .events = POLLIN },
			       { .fd = g->efd, .events = POLLIN } };
	uint64_t req, v;
	bool stop;
	int n;

	do {
		if (poll(p, ARRAY_SIZE(p), RING_WAIT_MS) < 0 && errno != EINTR)
			pr_warn("ring thread: poll: %s\n", strerror(errno));
		if ((p[1].revents & POLLIN) && read(g->efd, &v, sizeof(v)) < 0)
			pr_debug("ring thread: eventfd: %s\n", strerror(errno));
		/* Read before the pass: what was committed before these requests, it consumes. */
		req = __atomic_load_n(&g->req, __ATOMIC_ACQUIRE);
		stop = __atomic_load_n(&g->stop, __ATOMIC_ACQUIRE);
		n = ring_pass(g);
		if (n < 0)
			pr_warn("ring thread: consume: %s\n", strerror(-n));
		pthread_mutex_lock(&g->lock);
		if (g->done != req) {
			g->done = req;
			pthread_cond_broadcast(&g->served);
		}
		pthread_mutex_unlock(&g->lock);
	} while (!stop);
	return NULL;
}

static int ring_init(struct xcap_rings *rs, enum xcap_ring which, int map_fd,
		     ring_buffer_sample_fn fn)
{
	struct ring *g = &rs->ring[which];
	pthread_condattr_t ca;
	int err;

	g->rs = rs;
	g->map_fd = map_fd;
	pthread_mutex_init(&g->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&g->served, &ca);
	pthread_condattr_destroy(&ca);
	g->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (g->efd < 0)
		return -errno;
	g->rb = ring_buffer__new(map_fd, fn, g, NULL);
	if (!g->rb) {
		err = -errno;
		pr_err("cannot map a ring: %s\n", strerror(-err));
		return err;
	}
	return 0;
}

struct xcap_rings *xcap_rings_new(int samples_fd, int frames_fd)
{
	struct xcap_rings *rs;
	int err;

	rs = calloc(1, sizeof(*rs));
	if (!rs)
		return NULL;
	rs->ring[XCAP_RING_SAMPLES].efd = rs->ring[XCAP_RING_FRAMES].efd = -1;
	err = ring_init(rs, XCAP_RING_SAMPLES, samples_fd, on_sample);
	err = err ?: ring_init(rs, XCAP_RING_FRAMES, frames_fd, on_frame);
	if (err) {
		xcap_rings_free(rs);
		errno = -err;
		return NULL;
	}
	return rs;
}

static void ring_stop(struct ring *g)
{
	uint64_t one = 1;

	if (!g->running)
		return;
	__atomic_store_n(&g->stop, true, __ATOMIC_RELEASE);
	if (write(g->efd, &one, sizeof(one)) < 0)
		pr_debug("ring: eventfd: %s\n", strerror(errno));
	pthread_join(g->thread, NULL);
	g->running = false;
}

void xcap_rings_free(struct xcap_rings *rs)
{
	struct ring *g;
	int i;

	if (!rs)
		return;
	for (i = 0; i < XCAP_RINGS; i++) {
		g = &rs->ring[i];
		ring_stop(g);
		ring_buffer__free(g->rb);
		if (g->efd >= 0)
			close(g->efd);
		pthread_cond_destroy(&g->served);
		pthread_mutex_destroy(&g->lock);
	}
	free(rs);
}

int xcap_rings_set_sampler(struct xcap_rings *rs, const struct xcap_sink *sink)
{
	if (rs->started)
		return -EBUSY;
	rs->sampler = *sink;
	return 0;
}

/* Ring threads take no signal: the main thread handles them. */
static int ring_start(struct ring *g, const char *name)
{
	sigset_t all, old;
	int err;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&g->thread, NULL, ring_thread, g);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		pr_err("cannot start the %s thread: %s\n", name, strerror(err));
		return -err;
	}
	pthread_setname_np(g->thread, name);
	g->running = true;
	return 0;
}

int xcap_rings_start(struct xcap_rings *rs)
{
	int err;

	if (rs->started)
		return 0;
	rs->started = true;
	err = ring_start(&rs->ring[XCAP_RING_FRAMES], "xcap-frames");
	if (!err && rs->sampler.fn)
		err = ring_start(&rs->ring[XCAP_RING_SAMPLES], "xcap-samples");
	return err;
}

int xcap_rings_poll(struct xcap_rings *rs, int timeout_ms)
{
	struct pollfd p[XCAP_RINGS];
	int i, n, total = 0;

	if (rs->started)
		return -EBUSY;
	for (i = 0; i < XCAP_RINGS; i++)
		p[i] = (struct pollfd){ .fd = rs->ring[i].map_fd, .events = POLLIN };
	if (poll(p, XCAP_RINGS, timeout_ms) < 0 && errno != EINTR)
		return -errno;
	/* The program wakes us only when a ring fills up: take what came meanwhile anyway. */
	for (i = 0; i < XCAP_RINGS; i++) {
		n = ring_pass(&rs->ring[i]);
		if (n < 0)
			return n;
		total += n;
	}
	return total;
}

/* Waits until the ring served request `req`; gives up after a stall without progress. */
static int ring_wait(struct ring *g, uint64_t req)
{
	uint64_t seen = __atomic_load_n(&g->records, __ATOMIC_RELAXED), now;
	struct timespec dl;
	int err;

	pthread_mutex_lock(&g->lock);
	while (g->done < req) {
		clock_gettime(CLOCK_MONOTONIC, &dl);
		dl.tv_sec += XCAP_RINGS_STALL_MS / 1000;
		err = pthread_cond_timedwait(&g->served, &g->lock, &dl);
		if (err != ETIMEDOUT)
			continue;
		/* A full ring written to a slow disk takes a while: wait while it moves. */
		now = __atomic_load_n(&g->records, __ATOMIC_RELAXED);
		if (now == seen && g->done < req)
			break;
		seen = now;
	}
	err = g->done < req ? -ETIMEDOUT : 0;
	pthread_mutex_unlock(&g->lock);
	return err;
}

int xcap_rings_sync(struct xcap_rings *rs, enum xcap_ring ring)
{
	struct ring *g = &rs->ring[ring];
	uint64_t one = 1, req;

	if (!g->running)
		return rs->started ? 0 : ring_pass(g);
	req = __atomic_add_fetch(&g->req, 1, __ATOMIC_ACQ_REL);
	if (write(g->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return -errno;
	return ring_wait(g, req);
}

static uint64_t ring_done(struct ring *g)
{
	uint64_t done;

	pthread_mutex_lock(&g->lock);
	done = g->done;
	pthread_mutex_unlock(&g->lock);
	return done;
}

bool xcap_rings_slot_free(struct xcap_rings *rs, int slot)
{
	struct rings_slot *s = &rs->slots[slot];
	int state = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);

	if (state == SLOT_STALE && ring_done(&rs->ring[XCAP_RING_FRAMES]) >= s->stale_until)
		__atomic_store_n(&s->state, state = SLOT_FREE, __ATOMIC_SEQ_CST);
	return state == SLOT_FREE;
}

int xcap_rings_bind(struct xcap_rings *rs, int slot, const struct xcap_sink *sink, uint32_t snaplen)
{
	struct rings_slot *s = &rs->slots[slot];

	if (!xcap_rings_slot_free(rs, slot))
		return -EBUSY;
	s->sink = *sink;
	s->snaplen = snaplen;
	s->delivered = s->user_dropped = s->write_errors = 0;
	/* Release: the frames thread that sees BOUND sees the sink too. */
	__atomic_store_n(&s->state, SLOT_BOUND, __ATOMIC_SEQ_CST);
	return 0;
}

static void read_counters(const struct rings_slot *s, struct xcap_capture_counters *out)
{
	out->delivered = __atomic_load_n(&s->delivered, __ATOMIC_RELAXED);
	out->user_dropped = __atomic_load_n(&s->user_dropped, __ATOMIC_RELAXED);
	out->write_errors = __atomic_load_n(&s->write_errors, __ATOMIC_RELAXED);
}

void xcap_rings_unbind(struct xcap_rings *rs, int slot, bool stale,
		       struct xcap_capture_counters *final)
{
	struct ring *g = &rs->ring[XCAP_RING_FRAMES];
	struct rings_slot *s = &rs->slots[slot];

	/*
	 * The caller's request, which timed out, is at most this one: once it is
	 * served, every record of the slot was consumed (skipped).
	 */
	if (stale)
		s->stale_until = __atomic_load_n(&g->req, __ATOMIC_ACQUIRE);
	__atomic_store_n(&s->state, stale ? SLOT_STALE : SLOT_FREE, __ATOMIC_SEQ_CST);
	/* Inside this slot's sink right now: it may not go before the call returns. */
	while (__atomic_load_n(&g->busy, __ATOMIC_SEQ_CST) & (1ULL << slot))
		usleep(1000);
	if (final)
		read_counters(s, final);
}

int xcap_rings_counters(const struct xcap_rings *rs, int slot, struct xcap_capture_counters *out)
{
	const struct rings_slot *s = &rs->slots[slot];

	if (__atomic_load_n(&s->state, __ATOMIC_ACQUIRE) != SLOT_BOUND)
		return -ENOENT;
	read_counters(s, out);
	return 0;
}
