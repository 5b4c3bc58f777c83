// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The capture engine owns the programs (XDP for received frames, TC for sent
 * ones) and their maps: it loads the object (after the probes in probe.c),
 * attaches both to each interface (attach.c), arms and disarms captures
 * (slots, budgets and the rule tables of rules.c) and reads counters. The ring
 * consumers and their threads are rings.c's.
 */
#include <errno.h>
#include <linux/membarrier.h>
#include <net/if.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>
#include "common/util.h"
#include "agent/engine.h"
#include "common/log.h"
#include "agent/attach.h"
#include "agent/link.h"
#include "common/frame.h"
#include "agent/probe.h"
#include "agent/rings.h"
#include "agent/rules.h"
#include "xcap.skel.h"

#define DEFAULT_FRAMES_RING (32U << 20) /* all CPUs': about 21000 frames of 1500 bytes */
#define DEFAULT_SAMPLES_RING (4U << 20)
#define FRAMES_RINGS_MAX 256 /* frames rings at most: more CPUs share them */

_Static_assert(XCAP_MAX_IFACES <= XCAP_IFACE_SLOTS, "every interface has its slot of losses");

struct xcap_engine {
	struct xcap_bpf *skel;
	struct xdp_program *xdp; /* created on the first attach */
	bool loaded;
	bool skb_mode;
	bool tcx; /* the TC programs go on tcx links, else on clsact filters (probe.c) */
	bool no_xdp; /* received frames at TC ingress on every interface (probe.c) */
	bool loaded_for_tc; /* loaded when XDP failed: libxdp cannot attach this object */
	int ncpus;
	int frames_fds[FRAMES_RINGS_MAX]; /* the frames rings; CPU c writes to c % n_frames */
	int n_frames;
	struct xcap_cfg *cfg; /* mmap of the xcap_cfg map */
	struct xcap_rings *rings;
	struct xcap_attachment ifaces[XCAP_MAX_IFACES];
	int n_ifaces;
	/* Arming and disarming, from any thread; the ring threads never take it. */
	pthread_mutex_t ctl;
	struct xcap_rules rules;
	bool used[XCAP_MAX_CAPTURES];
	/* Tunnels and L3 interfaces: what the program's cfg gets at load. */
	uint32_t l3_ifindex[XCAP_L3_IFACES]; /* interfaces whose frames begin with IP */
	int n_l3;
	uint16_t vxlan_port, geneve_port;
};

_Static_assert(XCAP_L3_IFACES >= XCAP_MAX_IFACES, "every attached interface may be L3");

static int check_ring_size(uint32_t bytes)
{
	if (bytes < sysconf(_SC_PAGESIZE) || (bytes & (bytes - 1))) {
		pr_err("ring size %u is not a power of 2 of at least one page\n", bytes);
		return -EINVAL;
	}
	return 0;
}

/*
 * The frames rings share `bytes`: one per CPU, each a power of 2 of at least a
 * page; fewer (CPUs share them) when the share of each would be smaller, or
 * when `most` asks so. Made before load: the first is the template of the
 * program's map of rings (libbpf 1.1 cannot size its own template).
 */
static int make_frames_rings(struct xcap_engine *e, uint32_t bytes, uint32_t most)
{
	struct bpf_map *outer = e->skel->maps.xcap_frames;
	uint32_t page = sysconf(_SC_PAGESIZE), each;
	int i, fd, n = e->ncpus, err;

	if (most && (int)most < n)
		n = most;
	if (n > FRAMES_RINGS_MAX)
		n = FRAMES_RINGS_MAX;
	if (bytes / n < page)
		n = bytes / page ?: 1;
	for (each = page; each <= bytes / n / 2; each *= 2)
		;
	for (i = 0; i < n; i++, e->n_frames++) {
		fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "xcap_frames", 0, 0, each, NULL);
		if (fd < 0) {
			err = -errno;
			pr_err("cannot make the frames rings: %s\n", strerror(-err));
			return err;
		}
		e->frames_fds[i] = fd;
	}
	/* A quarter of each ring between wake-ups, shared by the CPUs that share it. */
	e->skel->rodata->xcap_wake_every[XCAP_RING_FRAMES] = each / 4 / ((e->ncpus + n - 1) / n);
	err = bpf_map__set_max_entries(outer, e->ncpus);
	err = err ?: bpf_map__set_inner_map_fd(outer, e->frames_fds[0]);
	if (!err)
		pr_info("frames: %d ring%s of %u KiB for %d CPUs\n", n, n > 1 ? "s" : "",
			each >> 10, e->ncpus);
	return err;
}

struct xcap_engine *xcap_engine_open(const struct xcap_engine_opts *opts)
{
	struct xcap_engine_opts none = {};
	struct xcap_features features;
	uint32_t samples, frames;
	struct xcap_engine *e;
	int i, err;

	if (!opts)
		opts = &none;
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	pthread_mutex_init(&e->ctl, NULL);
	for (i = 0; i < FRAMES_RINGS_MAX; i++)
		e->frames_fds[i] = -1;
	e->skb_mode = opts->skb_mode;
	e->vxlan_port = XCAP_VXLAN_PORT;
	e->geneve_port = XCAP_GENEVE_PORT;
	xcap_frame_set_udp_ports(e->vxlan_port, e->geneve_port);
	err = xcap_probe_features(&features);
	if (err)
		goto err;
	e->tcx = features.tcx;
	e->no_xdp = !features.xdp;
	e->skel = xcap_bpf__open();
	if (!e->skel) {
		err = -errno;
		pr_err("cannot open the BPF object: %s\n", strerror(-err));
		goto err;
	}
	e->ncpus = libbpf_num_possible_cpus();
	if (e->ncpus < 0) {
		err = e->ncpus;
		goto err;
	}
	samples = opts->samples_ring_bytes ?: DEFAULT_SAMPLES_RING;
	frames = opts->frames_ring_bytes ?: DEFAULT_FRAMES_RING;
	err = check_ring_size(samples) ?: check_ring_size(frames);
	err = err ?: bpf_map__set_max_entries(e->skel->maps.xcap_samples, samples);
	/* Every CPU writes samples to the one ring: a quarter of it between wake-ups in all. */
	e->skel->rodata->xcap_wake_every[XCAP_RING_SAMPLES] = samples / 4 / e->ncpus;
	err = err ?: make_frames_rings(e, frames, opts->frames_rings);
	if (!err && features.frags)
		err = bpf_program__set_flags(e->skel->progs.xcap_xdp,
					     bpf_program__flags(e->skel->progs.xcap_xdp) |
						     BPF_F_XDP_HAS_FRAGS);
	if (err)
		goto err;
	return e;
err:
	xcap_engine_close(e);
	errno = -err;
	return NULL;
}

/* Gives each CPU its frames ring (or its share of one). */
static int fill_frames_rings(struct xcap_engine *e)
{
	int i, outer = bpf_map__fd(e->skel->maps.xcap_frames);

	for (i = 0; i < e->ncpus; i++)
		if (bpf_map_update_elem(outer, &i, &e->frames_fds[i % e->n_frames], BPF_ANY))
			return -errno;
	return 0;
}

/* Maps the configuration and starts the ring consumers once the object is loaded. */
static int after_load(struct xcap_engine *e)
{
	int cfg_fd = bpf_map__fd(e->skel->maps.xcap_cfg);
	void *cfg;
	int err;

	err = fill_frames_rings(e);
	if (err) {
		pr_err("cannot give the CPUs their frames rings: %s\n", strerror(-err));
		return err;
	}

	cfg = mmap(NULL, sysconf(_SC_PAGESIZE), PROT_READ | PROT_WRITE, MAP_SHARED, cfg_fd, 0);
	if (cfg == MAP_FAILED) {
		err = -errno;
		pr_err("cannot map the configuration: %s\n", strerror(-err));
		return err;
	}
	e->cfg = cfg;
	e->cfg->vxlan_port = e->vxlan_port;
	e->cfg->geneve_port = e->geneve_port;
	memcpy(e->cfg->l3_ifindex, e->l3_ifindex, sizeof(e->l3_ifindex));
	e->rules = (struct xcap_rules){ .obj = e->skel->obj, .cfg = cfg };
	e->rings =
		xcap_rings_new(bpf_map__fd(e->skel->maps.xcap_samples), e->frames_fds, e->n_frames);
	if (!e->rings)
		return -errno;
	e->loaded = true;
	return 0;
}

int xcap_engine_load(struct xcap_engine *e)
{
	int err;

	if (e->loaded)
		return 0;
	err = xcap_bpf__load(e->skel);
	if (err) {
		pr_err("cannot load the programs: %s\n", strerror(-err));
		return err;
	}
	return after_load(e);
}

static bool is_l3(const struct xcap_engine *e, uint32_t ifindex)
{
	int i;

	for (i = 0; i < e->n_l3; i++)
		if (e->l3_ifindex[i] == ifindex)
			return true;
	return false;
}

/* Adds an interface to the program's list of L3 ones (its frames begin with IP). */
static int add_l3(struct xcap_engine *e, uint32_t ifindex)
{
	if (is_l3(e, ifindex))
		return 0;
	if (e->n_l3 == XCAP_L3_IFACES)
		return -E2BIG;
	e->l3_ifindex[e->n_l3++] = ifindex;
	/* Atomic for the program: an entry is whole before the list ends after it. */
	if (e->cfg)
		__atomic_store_n(&e->cfg->l3_ifindex[e->n_l3 - 1], ifindex, __ATOMIC_RELEASE);
	return 0;
}

int xcap_engine_set_l3(struct xcap_engine *e, uint32_t ifindex)
{
	return ifindex ? add_l3(e, ifindex) : -EINVAL;
}

uint32_t xcap_engine_linktype(const struct xcap_engine *e, uint32_t ifindex)
{
	return xcap_link_pcap_type(is_l3(e, ifindex) ? XCAP_LINK_L3 : XCAP_LINK_ETHER);
}

int xcap_engine_set_udp_ports(struct xcap_engine *e, uint16_t vxlan, uint16_t geneve)
{
	e->vxlan_port = vxlan;
	e->geneve_port = geneve;
	xcap_frame_set_udp_ports(vxlan, geneve);
	if (e->cfg) {
		__atomic_store_n(&e->cfg->vxlan_port, vxlan, __ATOMIC_RELAXED);
		__atomic_store_n(&e->cfg->geneve_port, geneve, __ATOMIC_RELAXED);
	}
	return 0;
}

/*
 * An interface without Ethernet header goes into the program's list before
 * its frames do (after_load copies the list on the first attach).
 */
static int prepare_link(struct xcap_engine *e, const char *ifname)
{
	enum xcap_link link = XCAP_LINK_ETHER;
	uint16_t type = 0;
	int ifindex = if_nametoindex(ifname);

	/* A missing interface is the attach's to report. */
	if (!ifindex || xcap_link_of(ifname, &link, &type) || link != XCAP_LINK_L3)
		return 0;
	pr_info("%s: no Ethernet header (device type %u): frames are parsed from their IP "
		"header; pcap link type %u\n",
		ifname, type, xcap_link_pcap_type(link));
	return add_l3(e, ifindex);
}

/*
 * Attaches the XDP program for received frames: 0, 1 with *why set when XDP
 * cannot take the interface (the caller receives at TC ingress instead), or a
 * negative errno (-EBUSY: a live xcap captures there).
 */
static int attach_xdp(struct xcap_engine *e, const char *ifname, struct xcap_attachment *a,
		      const char **why)
{
	int err;

	if (e->no_xdp) {
		*why = "off (XCAP_PROBE_NO_XDP)";
		return 1;
	}
	if (e->loaded_for_tc) {
		*why = "the programs were loaded for TC ingress on an earlier interface";
		return 1;
	}
	err = xcap_attach_xdp(e->xdp, ifname, e->skb_mode, a);
	if (err >= 0 || err == -EBUSY)
		return err;
	*why = err == -EEXIST ? "another program is attached" : strerror(-err);
	return 1;
}

int xcap_engine_attach(struct xcap_engine *e, const char *ifname)
{
	struct xdp_program_opts opts = {
		.sz = sizeof(opts),
		.obj = e->skel->obj,
		.prog_name = XCAP_PROG_NAME,
	};
	struct xcap_attachment *a = &e->ifaces[e->n_ifaces];
	const char *path = e->tcx ? "tcx" : "clsact filter", *why = NULL;
	bool tc_in;
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
	err = prepare_link(e, ifname);
	err = err ?: xcap_attach_init(a, ifname);
	err = err ?: attach_xdp(e, ifname, a, &why);
	if (err < 0)
		return err;
	tc_in = err;
	/*
	 * libxdp loads the object, the TC programs too, on the first attach, even
	 * one that fails then; xcapd loads it when XDP was not tried.
	 */
	err = 0;
	if (!e->loaded) {
		err = bpf_program__fd(e->skel->progs.xcap_tc) >= 0 ? after_load(e) :
								     xcap_engine_load(e);
		e->loaded_for_tc = tc_in;
	}
	/* Its losses are counted apart from the other interfaces' before it sends anything. */
	if (!err)
		err = bpf_map_update_elem(bpf_map__fd(e->skel->maps.xcap_ifslot), &a->ifindex,
					  &(uint32_t){ e->n_ifaces }, BPF_ANY);
	if (!err) {
		err = xcap_attach_tc(xcap_engine_tc_prog_fd(e, XCAP_DIR_OUT), e->tcx, XCAP_DIR_OUT,
				     a);
		if (!err)
			pr_info("%s: sent frames too (%s)\n", ifname, path);
	}
	if (!err && tc_in) {
		err = xcap_attach_tc(xcap_engine_tc_prog_fd(e, XCAP_DIR_IN), e->tcx, XCAP_DIR_IN,
				     a);
		if (!err)
			pr_warn("%s: received frames at TC ingress (%s; XDP: %s)\n", ifname, path,
				why);
	}
	if (err) {
		bpf_map_delete_elem(bpf_map__fd(e->skel->maps.xcap_ifslot), &a->ifindex);
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
	/* Detached first: the threads' last pass takes all there will be. */
	xcap_rings_free(e->rings);
	for (i = 0; i < FRAMES_RINGS_MAX; i++)
		if (e->frames_fds[i] >= 0)
			close(e->frames_fds[i]);
	if (e->cfg)
		munmap(e->cfg, sysconf(_SC_PAGESIZE));
	xdp_program__close(e->xdp);
	xcap_bpf__destroy(e->skel);
	pthread_mutex_destroy(&e->ctl);
	free(e);
}

int xcap_engine_prog_fd(const struct xcap_engine *e)
{
	return bpf_program__fd(e->skel->progs.xcap_xdp);
}

int xcap_engine_tc_prog_fd(const struct xcap_engine *e, enum xcap_dir dir)
{
	return bpf_program__fd(dir == XCAP_DIR_OUT ? e->skel->progs.xcap_tc :
						     e->skel->progs.xcap_tc_in);
}

int xcap_engine_ifaces(const struct xcap_engine *e, uint32_t *ifindexes, int max)
{
	int i;

	for (i = 0; i < e->n_ifaces && i < max; i++)
		ifindexes[i] = e->ifaces[i].ifindex;
	return e->n_ifaces;
}

int xcap_engine_map_fd(const struct xcap_engine *e, const char *name)
{
	struct bpf_map *map = bpf_object__find_map_by_name(e->skel->obj, name);

	return map ? bpf_map__fd(map) : -ENOENT;
}

int xcap_engine_set_sampler_sink(struct xcap_engine *e, uint32_t every,
				 const struct xcap_sink *sink)
{
	int err;

	if (!e->loaded)
		return -EINVAL;
	err = xcap_rings_set_sampler(e->rings, sink);
	if (err)
		return err;
	__atomic_store_n(&e->cfg->sample_every, sink->fn ? every : 0, __ATOMIC_RELEASE);
	return 0;
}

int xcap_engine_set_sampler(struct xcap_engine *e, uint32_t every, xcap_packet_fn fn, void *arg)
{
	return xcap_engine_set_sampler_sink(e, every, &(struct xcap_sink){ .fn = fn, .arg = arg });
}

int xcap_engine_start(struct xcap_engine *e)
{
	return e->loaded ? xcap_rings_start(e->rings) : -EINVAL;
}

/* Zeroes the slot's counters, those of its losses by interface too. */
static int reset_counters(struct xcap_engine *e, uint32_t slot)
{
	size_t size = (size_t)e->ncpus * sizeof(struct xcap_cap_counters);
	int lost_fd = bpf_map__fd(e->skel->maps.xcap_iflost), err, i;
	void *zeros = calloc(1, size);
	uint32_t key;

	if (!zeros)
		return -ENOMEM;
	err = bpf_map_update_elem(bpf_map__fd(e->skel->maps.xcap_cnt), &slot, zeros, BPF_ANY);
	/* A per-CPU __u64 is smaller than the counters: the same zeros do. */
	for (i = 0; !err && i < XCAP_IFACE_SLOTS; i++) {
		key = slot * XCAP_IFACE_SLOTS + i;
		err = bpf_map_update_elem(lost_fd, &key, zeros, BPF_ANY);
	}
	free(zeros);
	return err;
}

int xcap_engine_arm_sink(struct xcap_engine *e, const struct xcap_filter *f,
			 const struct xcap_limits *lim, const struct xcap_sink *sink)
{
	struct xcap_slot slot = {
		.pkt_limit = lim->packets,
		.byte_limit = lim->bytes,
		.snaplen = lim->snaplen && lim->snaplen < XCAP_FRAME_MAX ? lim->snaplen :
									   XCAP_FRAME_MAX,
	};
	uint32_t i;
	int err;

	if (!e->loaded)
		return -EINVAL;
	pthread_mutex_lock(&e->ctl);
	for (i = 0; i < XCAP_MAX_CAPTURES && (e->used[i] || !xcap_rings_slot_free(e->rings, i));
	     i++)
		;
	if (i == XCAP_MAX_CAPTURES) {
		err = -ENOSPC;
		goto out;
	}
	err = bpf_map_update_elem(bpf_map__fd(e->skel->maps.xcap_slots), &i, &slot, BPF_ANY);
	err = err ?: reset_counters(e, i);
	err = err ?: xcap_rules_add(&e->rules, i, f);
	if (err)
		goto out;
	err = xcap_rings_bind(e->rings, i, sink, slot.snaplen);
	if (err) {
		xcap_rules_remove(&e->rules, i);
		goto out;
	}
	e->used[i] = true;
	/* The sink is in place before the kernel takes a packet for it. */
	__atomic_fetch_or(&e->cfg->active, 1ULL << i, __ATOMIC_SEQ_CST);
out:
	pthread_mutex_unlock(&e->ctl);
	return err ?: (int)i;
}

int xcap_engine_arm(struct xcap_engine *e, const struct xcap_filter *f,
		    const struct xcap_limits *lim, xcap_packet_fn fn, void *arg)
{
	return xcap_engine_arm_sink(e, f, lim, &(struct xcap_sink){ .fn = fn, .arg = arg });
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

static int kernel_counters(const struct xcap_engine *e, int slot, struct xcap_cap_counters *out)
{
	return read_percpu(bpf_map__fd(e->skel->maps.xcap_cnt), slot, out, sizeof(*out), e->ncpus);
}

/* The kernel's losses of the slot by interface, in attach order. */
static int iface_lost(const struct xcap_engine *e, int slot, uint64_t *lost)
{
	int fd = bpf_map__fd(e->skel->maps.xcap_iflost), i, err = 0;

	for (i = 0; i < XCAP_IFACE_SLOTS; i++)
		err = err   ?:
			      read_percpu(fd, slot * XCAP_IFACE_SLOTS + i, &lost[i], sizeof(*lost),
					  e->ncpus);
	return err;
}

int xcap_engine_capture_counters(const struct xcap_engine *e, int slot,
				 struct xcap_capture_counters *out)
{
	int err;

	if (slot < 0 || slot >= XCAP_MAX_CAPTURES || !e->loaded)
		return -ENOENT;
	err = xcap_rings_counters(e->rings, slot, out);
	err = err ?: kernel_counters(e, slot, &out->kernel);
	return err ?: iface_lost(e, slot, out->iface_lost);
}

/*
 * Waits until no program that may have seen a capture's bit is still running,
 * so that every record it wrote is in the ring: XDP programs run inside RCU
 * read sections, and MEMBARRIER_CMD_GLOBAL waits for an RCU grace period.
 * Without it (nohz_full, seccomp), a short sleep: a program runs for
 * microseconds, and what still comes late is counted by disarm.
 */
static void wait_programs(const struct xcap_engine *e)
{
	static bool warned;

	if (!e->n_ifaces) /* test runs are synchronous */
		return;
	if (!syscall(__NR_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0))
		return;
	if (!warned) {
		pr_info("membarrier: %s; disarm sleeps 1 ms for programs in flight\n",
			strerror(errno));
		warned = true;
	}
	usleep(1000);
}

static uint64_t handled(const struct xcap_capture_counters *c)
{
	return c->delivered + c->user_dropped + c->write_errors;
}

int xcap_engine_disarm(struct xcap_engine *e, int slot, struct xcap_capture_counters *final)
{
	struct xcap_capture_counters c = {}, seen = {};
	int err, synced;
	bool stale;

	if (slot < 0 || slot >= XCAP_MAX_CAPTURES || !e->loaded)
		return -ENOENT;
	pthread_mutex_lock(&e->ctl);
	if (!e->used[slot]) {
		err = -ENOENT;
		goto out;
	}
	__atomic_fetch_and(&e->cfg->active, ~(1ULL << slot), __ATOMIC_SEQ_CST);
	wait_programs(e);
	synced = xcap_rings_sync(e->rings, XCAP_RING_FRAMES);
	err = kernel_counters(e, slot, &c.kernel) ?: iface_lost(e, slot, c.iface_lost);
	xcap_rings_counters(e->rings, slot, &seen);
	/* Records the frames thread has not handled: skipped from now on, and counted below. */
	stale = synced < 0 || c.kernel.written > handled(&seen);
	xcap_rings_unbind(e->rings, slot, stale, &c);
	if (c.kernel.written > handled(&c)) {
		pr_warn("capture slot %d: %llu frames left in the ring (%s): lost in userspace\n",
			slot, (unsigned long long)(c.kernel.written - handled(&c)),
			synced < 0 ? "the frames thread is stalled" : "written after the disarm");
		c.user_dropped += c.kernel.written - handled(&c);
	}
	if (final)
		*final = c;
	e->used[slot] = false;
	err = xcap_rules_remove(&e->rules, slot) ?: err;
out:
	pthread_mutex_unlock(&e->ctl);
	return err;
}

int xcap_engine_poll(struct xcap_engine *e, int timeout_ms)
{
	return e->loaded ? xcap_rings_poll(e->rings, timeout_ms) : -EINVAL;
}

int xcap_engine_drain(struct xcap_engine *e)
{
	int n, m;

	if (!e->loaded)
		return -EINVAL;
	n = xcap_rings_sync(e->rings, XCAP_RING_SAMPLES);
	m = xcap_rings_sync(e->rings, XCAP_RING_FRAMES);
	return n < 0 ? n : m < 0 ? m : n + m;
}

int xcap_engine_drain_samples(struct xcap_engine *e)
{
	return e->loaded ? xcap_rings_sync(e->rings, XCAP_RING_SAMPLES) : -EINVAL;
}
