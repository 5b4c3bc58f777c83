// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The capture engine owns the XDP program and its maps: it loads the object
 * (after the probes in probe.c), attaches it (attach.c), arms and disarms
 * captures (slots, budgets and the rule tables of rules.c), reads counters,
 * and runs the ring consumers with the clock offset that turns the program's
 * monotonic timestamps into epoch time.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>
#include "common/util.h"
#include "common/clock.h"
#include "agent/engine.h"
#include "common/log.h"
#include "agent/attach.h"
#include "agent/probe.h"
#include "agent/rules.h"
#include "xcap.skel.h"

#define DEFAULT_FRAMES_RING (32U << 20) /* about 21000 frames of 1500 bytes */
#define DEFAULT_SAMPLES_RING (4U << 20)

struct engine_slot {
	bool used;
	uint32_t snaplen;
	xcap_packet_fn fn;
	void *arg;
	uint64_t delivered;
	uint64_t user_dropped;
	uint64_t write_errors;
};

struct xcap_engine {
	struct xcap_bpf *skel;
	struct xdp_program *xdp; /* created on the first attach */
	bool loaded;
	bool skb_mode;
	int ncpus;
	struct xcap_cfg *cfg; /* mmap of the xcap_cfg map */
	struct ring_buffer *rb;
	struct xcap_attachment ifaces[XCAP_MAX_IFACES];
	int n_ifaces;
	struct xcap_rules rules;
	struct engine_slot slots[XCAP_MAX_CAPTURES];
	xcap_packet_fn sample_fn;
	void *sample_arg;
	int64_t mono_to_real; /* ns to add to CLOCK_MONOTONIC for the epoch */
	int64_t offset_taken; /* monotonic time of the last offset measurement */
};

/* The realtime clock may be stepped (NTP); the offset is measured again every second. */
static void refresh_clock_offset(struct xcap_engine *e)
{
	int64_t m1, r, m2;

	m1 = xcap_clock_ns(CLOCK_MONOTONIC);
	if (e->offset_taken && m1 - e->offset_taken < NSEC_PER_SEC)
		return;
	r = xcap_clock_ns(CLOCK_REALTIME);
	m2 = xcap_clock_ns(CLOCK_MONOTONIC);
	e->mono_to_real = r - (m1 + (m2 - m1) / 2);
	e->offset_taken = m2;
}

static int set_ring_size(struct bpf_map *map, uint32_t bytes, uint32_t dflt)
{
	long page = sysconf(_SC_PAGESIZE);

	if (!bytes)
		bytes = dflt;
	if (bytes < page || (bytes & (bytes - 1))) {
		pr_err("ring size %u is not a power of 2 of at least one page\n", bytes);
		return -EINVAL;
	}
	return bpf_map__set_max_entries(map, bytes);
}

struct xcap_engine *xcap_engine_open(const struct xcap_engine_opts *opts)
{
	struct xcap_engine_opts none = {};
	struct xcap_features features;
	struct xcap_engine *e;
	int err;

	if (!opts)
		opts = &none;
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->skb_mode = opts->skb_mode;
	err = xcap_probe_features(&features);
	if (err)
		goto err;
	e->skel = xcap_bpf__open();
	if (!e->skel) {
		err = -errno;
		pr_err("cannot open the BPF object: %s\n", strerror(-err));
		goto err;
	}
	err = set_ring_size(e->skel->maps.xcap_frames, opts->frames_ring_bytes,
			    DEFAULT_FRAMES_RING);
	if (!err)
		err = set_ring_size(e->skel->maps.xcap_samples, opts->samples_ring_bytes,
				    DEFAULT_SAMPLES_RING);
	if (!err && features.frags)
		err = bpf_program__set_flags(e->skel->progs.xcap_xdp,
					     bpf_program__flags(e->skel->progs.xcap_xdp) |
						     BPF_F_XDP_HAS_FRAGS);
	if (err)
		goto err;
	e->ncpus = libbpf_num_possible_cpus();
	if (e->ncpus < 0) {
		err = e->ncpus;
		goto err;
	}
	return e;
err:
	xcap_engine_close(e);
	errno = -err;
	return NULL;
}

static int on_sample(void *ctx, void *data, size_t size);
static int on_frame(void *ctx, void *data, size_t size);

/* Maps the configuration and starts the ring consumers once the object is loaded. */
static int after_load(struct xcap_engine *e)
{
	int cfg_fd = bpf_map__fd(e->skel->maps.xcap_cfg);
	void *cfg;
	int err;

	cfg = mmap(NULL, sysconf(_SC_PAGESIZE), PROT_READ | PROT_WRITE, MAP_SHARED, cfg_fd, 0);
	if (cfg == MAP_FAILED) {
		err = -errno;
		pr_err("cannot map the configuration: %s\n", strerror(-err));
		return err;
	}
	e->cfg = cfg;
	e->rules = (struct xcap_rules){ .obj = e->skel->obj, .cfg = cfg };
	e->rb = ring_buffer__new(bpf_map__fd(e->skel->maps.xcap_samples), on_sample, e, NULL);
	if (!e->rb)
		return -errno;
	err = ring_buffer__add(e->rb, bpf_map__fd(e->skel->maps.xcap_frames), on_frame, e);
	if (err)
		return err;
	e->loaded = true;
	refresh_clock_offset(e);
	return 0;
}

int xcap_engine_load(struct xcap_engine *e)
{
	int err;

	if (e->loaded)
		return 0;
	err = xcap_bpf__load(e->skel);
	if (err) {
		pr_err("cannot load the XDP program: %s\n", strerror(-err));
		return err;
	}
	return after_load(e);
}

int xcap_engine_attach(struct xcap_engine *e, const char *ifname)
{
	struct xdp_program_opts opts = {
		.sz = sizeof(opts),
		.obj = e->skel->obj,
		.prog_name = XCAP_PROG_NAME,
	};
	struct xcap_attachment *a = &e->ifaces[e->n_ifaces];
	int err;

	if (e->n_ifaces == XCAP_MAX_IFACES)
		return -E2BIG;
	if (!e->loaded && e->skel->obj && !e->xdp) {
		e->xdp = xdp_program__create(&opts);
		err = libxdp_get_error(e->xdp);
		if (err) {
			e->xdp = NULL;
			pr_err("cannot prepare the XDP program: %s\n", strerror(-err));
			return err;
		}
	} else if (!e->xdp) {
		return -EINVAL; /* loaded for test runs only */
	}
	err = xcap_attach_xdp(e->xdp, ifname, e->skb_mode, a);
	if (err)
		return err;
	/* libxdp loads the object on the first attach: the maps exist from now on. */
	err = e->loaded ? 0 : after_load(e);
	if (err) {
		xcap_attach_detach(e->xdp, a);
		return err;
	}
	e->n_ifaces++;
	return 0;
}

void xcap_engine_close(struct xcap_engine *e)
{
	int i;

	if (!e)
		return;
	for (i = e->n_ifaces - 1; i >= 0; i--)
		xcap_attach_detach(e->xdp, &e->ifaces[i]);
	ring_buffer__free(e->rb);
	if (e->cfg)
		munmap(e->cfg, sysconf(_SC_PAGESIZE));
	xdp_program__close(e->xdp);
	xcap_bpf__destroy(e->skel);
	free(e);
}

int xcap_engine_prog_fd(const struct xcap_engine *e)
{
	return bpf_program__fd(e->skel->progs.xcap_xdp);
}

int xcap_engine_map_fd(const struct xcap_engine *e, const char *name)
{
	struct bpf_map *map = bpf_object__find_map_by_name(e->skel->obj, name);

	return map ? bpf_map__fd(map) : -ENOENT;
}

int xcap_engine_epoll_fd(const struct xcap_engine *e)
{
	return ring_buffer__epoll_fd(e->rb);
}

int xcap_engine_set_sampler(struct xcap_engine *e, uint32_t every, xcap_packet_fn fn, void *arg)
{
	if (!e->loaded)
		return -EINVAL;
	e->sample_fn = fn;
	e->sample_arg = arg;
	__atomic_store_n(&e->cfg->sample_every, fn ? every : 0, __ATOMIC_RELEASE);
	return 0;
}

static int reset_counters(struct xcap_engine *e, uint32_t slot)
{
	size_t size = (size_t)e->ncpus * sizeof(struct xcap_cap_counters);
	void *zeros = calloc(1, size);
	int err;

	if (!zeros)
		return -ENOMEM;
	err = bpf_map_update_elem(bpf_map__fd(e->skel->maps.xcap_cnt), &slot, zeros, BPF_ANY);
	free(zeros);
	return err;
}

int xcap_engine_arm(struct xcap_engine *e, const struct xcap_filter *f,
		    const struct xcap_limits *lim, xcap_packet_fn fn, void *arg)
{
	struct xcap_slot slot = {
		.pkt_limit = lim->packets,
		.byte_limit = lim->bytes,
		.snaplen = lim->snaplen && lim->snaplen < XCAP_FRAME_MAX ? lim->snaplen :
									   XCAP_FRAME_MAX,
	};
	struct engine_slot *s;
	uint32_t i;
	int err;

	if (!e->loaded)
		return -EINVAL;
	for (i = 0; i < XCAP_MAX_CAPTURES && e->slots[i].used; i++)
		;
	if (i == XCAP_MAX_CAPTURES)
		return -ENOSPC;
	err = bpf_map_update_elem(bpf_map__fd(e->skel->maps.xcap_slots), &i, &slot, BPF_ANY);
	err = err ?: reset_counters(e, i);
	if (err)
		return err;
	err = xcap_rules_add(&e->rules, i, f);
	if (err)
		return err;
	s = &e->slots[i];
	*s = (struct engine_slot){ .used = true, .snaplen = slot.snaplen, .fn = fn, .arg = arg };
	__atomic_fetch_or(&e->cfg->active, 1ULL << i, __ATOMIC_SEQ_CST);
	return i;
}

bool xcap_engine_armed(const struct xcap_engine *e, int slot)
{
	return __atomic_load_n(&e->cfg->active, __ATOMIC_ACQUIRE) & (1ULL << slot);
}

static int read_percpu(int fd, uint32_t key, void *sum, size_t size, int ncpus)
{
	uint64_t *vals, *out = sum;
	size_t words = size / sizeof(uint64_t), i;
	int cpu, err;

	vals = calloc(ncpus, size);
	if (!vals)
		return -ENOMEM;
	err = bpf_map_lookup_elem(fd, &key, vals);
	memset(sum, 0, size);
	for (cpu = 0; !err && cpu < ncpus; cpu++)
		for (i = 0; i < words; i++)
			out[i] += vals[cpu * words + i];
	free(vals);
	return err;
}

int xcap_engine_counters(const struct xcap_engine *e, struct xcap_counters *out)
{
	return read_percpu(bpf_map__fd(e->skel->maps.xcap_gcnt), 0, out, sizeof(*out), e->ncpus);
}

int xcap_engine_capture_counters(const struct xcap_engine *e, int slot,
				 struct xcap_capture_counters *out)
{
	const struct engine_slot *s;

	if (slot < 0 || slot >= XCAP_MAX_CAPTURES || !e->slots[slot].used)
		return -ENOENT;
	s = &e->slots[slot];
	out->delivered = s->delivered;
	out->user_dropped = s->user_dropped;
	out->write_errors = s->write_errors;
	return read_percpu(bpf_map__fd(e->skel->maps.xcap_cnt), slot, &out->kernel,
			   sizeof(out->kernel), e->ncpus);
}

int xcap_engine_disarm(struct xcap_engine *e, int slot, struct xcap_capture_counters *final)
{
	struct xcap_capture_counters c;
	int err;

	if (slot < 0 || slot >= XCAP_MAX_CAPTURES || !e->slots[slot].used)
		return -ENOENT;
	__atomic_fetch_and(&e->cfg->active, ~(1ULL << slot), __ATOMIC_SEQ_CST);
	xcap_engine_drain(e);
	err = xcap_engine_capture_counters(e, slot, &c);
	if (!err && final)
		*final = c;
	e->slots[slot].used = false;
	return xcap_rules_remove(&e->rules, slot) ?: err;
}

/* --- ring consumers --- */

static void to_packet(const struct xcap_engine *e, const struct xcap_rec *r,
		      struct xcap_packet *pkt)
{
	*pkt = (struct xcap_packet){
		.ts_ns = r->ts_ns + e->mono_to_real,
		.data = (const uint8_t *)(r + 1),
		.cap_len = r->cap_len,
		.orig_len = r->orig_len,
		.ifindex = r->ifindex,
		.rx_queue = r->rx_queue,
		.flags = r->flags,
	};
}

static int on_sample(void *ctx, void *data, size_t size)
{
	struct xcap_engine *e = ctx;
	const struct xcap_rec *r = data;
	struct xcap_packet pkt;

	if (size < sizeof(*r) || r->cap_len > size - sizeof(*r) || !e->sample_fn)
		return 0;
	to_packet(e, r, &pkt);
	e->sample_fn(e->sample_arg, &pkt);
	return 0;
}

static int on_frame(void *ctx, void *data, size_t size)
{
	struct xcap_engine *e = ctx;
	const struct xcap_rec *r = data;
	bool valid = size >= sizeof(*r) && r->cap_len <= size - sizeof(*r);
	struct xcap_packet pkt;
	struct engine_slot *s;
	uint64_t set;
	int i;

	if (size < sizeof(*r))
		return 0;
	to_packet(e, r, &pkt);
	for (set = r->captures; set; set &= set - 1) {
		i = __builtin_ctzll(set);
		s = &e->slots[i];
		if (!s->used)
			continue;
		if (!valid) {
			s->user_dropped++;
			continue;
		}
		/* One copy serves several captures: each keeps its own snaplen. */
		pkt.cap_len = r->cap_len < s->snaplen ? r->cap_len : s->snaplen;
		if (s->fn(s->arg, &pkt))
			s->write_errors++;
		else
			s->delivered++;
	}
	return 0;
}

int xcap_engine_poll(struct xcap_engine *e, int timeout_ms)
{
	int n;

	refresh_clock_offset(e);
	n = ring_buffer__poll(e->rb, timeout_ms);
	/* The program wakes us only when a ring fills up: take what came meanwhile. */
	return n ?: ring_buffer__consume(e->rb);
}

int xcap_engine_drain(struct xcap_engine *e)
{
	refresh_clock_offset(e);
	return ring_buffer__consume(e->rb);
}
