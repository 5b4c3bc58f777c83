// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The ring consumers (rings.h).
 *
 * The frames are on one BPF ring buffer per CPU (or CPUs sharing one, see
 * engine.c), so that the CPUs that copy frames share no cache line; samples
 * are on one ring for all. One thread consumes all the frames rings: the
 * sinks (a capture's pcap writer) then need no lock, and the thread merges
 * the rings by time stamp, so a capture file stays in time order whichever
 * CPUs received its frames. It reads the rings itself (mmap, as libbpf's
 * ring_buffer does) because libbpf cannot look at a record without
 * consuming it.
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
 * Busy stays published while the records serve the same captures, until the
 * end of the pass: unbind may wait for a pass, the thread saves a locked
 * store per record.
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
#include <sys/mman.h>
#include <bpf/bpf.h>
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

/*
 * One BPF ring buffer, mapped, and its first record not consumed yet. The
 * program writes producer_pos on every record and reads consumer_pos on every
 * reserve: each access from this side moves the cache line between the CPUs,
 * so the positions are kept here and exchanged once per batch.
 */
struct rb {
	uint64_t *consumer_pos;
	const uint64_t *producer_pos;
	const uint8_t *data;
	uint64_t mask;
	size_t data_len;
	uint64_t cons; /* consumed up to here; published to consumer_pos by rb_publish */
	uint64_t prod; /* producer_pos as last read */
	const struct xcap_rec *head; /* NULL: none committed when last looked at */
	uint32_t head_size;
};

struct ring {
	struct xcap_rings *rs;
	struct rb *rbs;
	int n_rbs;
	struct pollfd *pfds; /* the ring maps', then efd's */
	int efd; /* eventfd: a request, or stop */
	void (*handle)(struct ring *g, const void *data, uint32_t size);
	pthread_t thread;
	bool running;
	bool stop;
	/* This ring's own clock offset: nothing shared per record between the threads. */
	int64_t mono_to_real; /* ns to add to CLOCK_MONOTONIC for the epoch */
	int64_t offset_taken; /* monotonic time of the last offset measurement */
	int64_t flushed; /* monotonic time of the last flush of the sinks */
	uint64_t records; /* consumed, ever, counted one by one: the progress a requester watches */
	uint64_t busy; /* frames: the captures of the records being dispatched */
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

static void on_sample(struct ring *g, const void *data, uint32_t size)
{
	const struct xcap_rec *r = data;
	const struct xcap_sink *s = &g->rs->sampler;
	struct xcap_packet pkt;

	count(&g->records);
	if (size < sizeof(*r) || r->cap_len > size - sizeof(*r) || !s->fn)
		return;
	to_packet(g, r, &pkt);
	s->fn(s->arg, &pkt);
}

static void on_frame(struct ring *g, const void *data, uint32_t size)
{
	const struct xcap_rec *r = data;
	bool valid = size >= sizeof(*r) && r->cap_len <= size - sizeof(*r);
	struct xcap_packet pkt;
	struct rings_slot *s;
	uint64_t set;
	int i;

	count(&g->records);
	if (size < sizeof(*r))
		return;
	to_packet(g, r, &pkt);
	/* A locked store: skipped while the records serve the same captures (ring_consume clears it). */
	if (g->busy != r->captures)
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

/* What a record of `len` (header word) takes in the ring: its header, rounded up to 8 bytes. */
static uint64_t rb_span(uint32_t len)
{
	len &= ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);
	return (len + BPF_RINGBUF_HDR_SZ + 7) & ~7ULL;
}

/* Gives the program back the space consumed. */
static void rb_publish(struct rb *r)
{
	if (*r->consumer_pos != r->cons)
		__atomic_store_n(r->consumer_pos, r->cons, __ATOMIC_RELEASE);
}

/* Consumes len bytes (a record's header word); the program sees the space every 1/16 ring. */
static void rb_advance(struct rb *r, uint32_t len)
{
	r->cons += rb_span(len);
	if (r->cons - *r->consumer_pos >= (r->mask + 1) / 16)
		rb_publish(r);
}

/*
 * Looks for the ring's first committed record, consuming discarded ones on
 * the way. The producer position is read again only once the records known
 * are consumed.
 */
static void rb_peek(struct rb *r)
{
	const uint32_t *hdr;
	uint32_t len;

	r->head = NULL;
	for (;;) {
		if (r->cons >= r->prod) {
			r->prod = __atomic_load_n(r->producer_pos, __ATOMIC_ACQUIRE);
			if (r->cons >= r->prod)
				return;
		}
		hdr = (const uint32_t *)(r->data + (r->cons & r->mask));
		len = __atomic_load_n(hdr, __ATOMIC_ACQUIRE);
		if (len & BPF_RINGBUF_BUSY_BIT)
			return;
		if (!(len & BPF_RINGBUF_DISCARD_BIT)) {
			r->head = (const void *)(hdr + 2);
			r->head_size = len;
			return;
		}
		rb_advance(r, len);
	}
}

/* The ring whose first record is the oldest; NULL when no ring has one. */
static struct rb *rb_oldest(struct ring *g)
{
	struct rb *r, *best = NULL;
	uint64_t ts, best_ts = 0;

	for (r = g->rbs; r < g->rbs + g->n_rbs; r++) {
		if (!r->head)
			continue;
		ts = r->head_size >= sizeof(*r->head) ? r->head->ts_ns : 0;
		if (!best || ts < best_ts) {
			best = r;
			best_ts = ts;
		}
	}
	return best;
}

static void rb_peek_all(struct ring *g)
{
	int i;

	for (i = 0; i < g->n_rbs; i++)
		rb_peek(&g->rbs[i]);
}

/*
 * Consumes every record committed to the rings before the call, oldest first
 * among the rings' first records; the rings found empty are looked at again
 * once the others are. Returns the records handled.
 */
static int ring_consume(struct ring *g)
{
	struct rb *r;
	int n = 0;

	rb_peek_all(g);
	for (;;) {
		r = rb_oldest(g);
		if (!r) {
			rb_peek_all(g);
			r = rb_oldest(g);
			if (!r)
				break;
		}
		g->handle(g, r->head, r->head_size);
		rb_advance(r, r->head_size);
		rb_peek(r);
		n++;
	}
	for (r = g->rbs; r < g->rbs + g->n_rbs; r++)
		rb_publish(r);
	/* Set by on_frame for as long as the records serve the same captures. */
	if (g->busy)
		__atomic_store_n(&g->busy, 0, __ATOMIC_RELEASE);
	return n;
}

/* Consumes what the rings hold; flushes the sinks when it is time. Records handled. */
static int ring_pass(struct ring *g)
{
	int64_t now = refresh_clock_offset(g);
	int n;

	n = ring_consume(g);
	if (now - g->flushed >= FLUSH_NS) {
		flush_sinks(g);
		g->flushed = now;
	}
	return n;
}

static void *ring_thread(void *arg)
{
	struct ring *g = arg;
	struct pollfd *efd = &g->pfds[g->n_rbs];
	uint64_t req, v;
	bool stop;

	do {
		if (poll(g->pfds, g->n_rbs + 1, RING_WAIT_MS) < 0 && errno != EINTR)
			pr_warn("ring thread: poll: %s\n", strerror(errno));
		if ((efd->revents & POLLIN) && read(g->efd, &v, sizeof(v)) < 0)
			pr_debug("ring thread: eventfd: %s\n", strerror(errno));
		/* Read before the pass: what was committed before these requests, it consumes. */
		req = __atomic_load_n(&g->req, __ATOMIC_ACQUIRE);
		stop = __atomic_load_n(&g->stop, __ATOMIC_ACQUIRE);
		ring_pass(g);
		pthread_mutex_lock(&g->lock);
		if (g->done != req) {
			g->done = req;
			pthread_cond_broadcast(&g->served);
		}
		pthread_mutex_unlock(&g->lock);
	} while (!stop);
	return NULL;
}

/* Maps a BPF ring buffer: its consumer page, then its producer page and data (twice). */
static int rb_map(struct rb *r, int fd)
{
	long page = sysconf(_SC_PAGESIZE);
	struct bpf_map_info info = {};
	uint32_t len = sizeof(info);
	void *p;

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	p = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	r->consumer_pos = p;
	r->data_len = page + 2 * (size_t)info.max_entries;
	p = mmap(NULL, r->data_len, PROT_READ, MAP_SHARED, fd, page);
	if (p == MAP_FAILED) {
		r->data_len = 0;
		return -errno;
	}
	r->producer_pos = p;
	r->data = (const uint8_t *)p + page;
	r->mask = info.max_entries - 1;
	r->cons = r->prod = *r->consumer_pos;
	return 0;
}

static void rb_unmap(struct rb *r)
{
	if (r->consumer_pos)
		munmap(r->consumer_pos, sysconf(_SC_PAGESIZE));
	if (r->data_len)
		munmap((void *)r->producer_pos, r->data_len);
}

static int ring_init(struct xcap_rings *rs, enum xcap_ring which, const int *fds, int n,
		     void (*handle)(struct ring *, const void *, uint32_t))
{
	struct ring *g = &rs->ring[which];
	pthread_condattr_t ca;
	int i, err;

	g->rs = rs;
	g->handle = handle;
	pthread_mutex_init(&g->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&g->served, &ca);
	pthread_condattr_destroy(&ca);
	g->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (g->efd < 0)
		return -errno;
	g->rbs = calloc(n, sizeof(*g->rbs));
	g->pfds = calloc(n + 1, sizeof(*g->pfds));
	if (!g->rbs || !g->pfds)
		return -ENOMEM;
	for (i = 0; i < n; i++, g->n_rbs++) {
		err = rb_map(&g->rbs[i], fds[i]);
		if (err) {
			pr_err("cannot map a ring: %s\n", strerror(-err));
			return err;
		}
		g->pfds[i] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
	}
	g->pfds[n] = (struct pollfd){ .fd = g->efd, .events = POLLIN };
	return 0;
}

struct xcap_rings *xcap_rings_new(int samples_fd, const int *frames_fds, int n_frames)
{
	struct xcap_rings *rs;
	int err;

	rs = calloc(1, sizeof(*rs));
	if (!rs)
		return NULL;
	rs->ring[XCAP_RING_SAMPLES].efd = rs->ring[XCAP_RING_FRAMES].efd = -1;
	err = ring_init(rs, XCAP_RING_SAMPLES, &samples_fd, 1, on_sample);
	err = err ?: ring_init(rs, XCAP_RING_FRAMES, frames_fds, n_frames, on_frame);
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
		while (g->n_rbs)
			rb_unmap(&g->rbs[--g->n_rbs]);
		free(g->rbs);
		free(g->pfds);
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
	struct ring *frames = &rs->ring[XCAP_RING_FRAMES];
	int total = 0;

	if (rs->started)
		return -EBUSY;
	/* Waits for the frames rings (those of the benchmarks and tests); then both rings. */
	if (poll(frames->pfds, frames->n_rbs, timeout_ms) < 0 && errno != EINTR)
		return -errno;
	/* The program wakes us only when a ring fills up: take what came meanwhile anyway. */
	total += ring_pass(&rs->ring[XCAP_RING_SAMPLES]);
	total += ring_pass(frames);
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
