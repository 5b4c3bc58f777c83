// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The capture engine owns the XDP program and its maps: feature probes,
 * attach/detach through libxdp, the rule tables, the ring consumers and the
 * clock offset that turns the program's monotonic timestamps into epoch time.
 */
#include <dirent.h>
#include <limits.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>
#include "common/clock.h"
#include "agent/engine.h"
#include "common/log.h"
#include "xcap.skel.h"

#define XCAP_PROG_NAME "xcap_xdp"
#define XCAP_MAX_IFACES 16
#define DEFAULT_FRAMES_RING (32U << 20) /* about 21000 frames of 1500 bytes */
#define DEFAULT_SAMPLES_RING (4U << 20)
#define NSEC_PER_SEC 1000000000LL

struct engine_slot {
	bool used;
	struct xcap_filter filter;
	uint32_t snaplen;
	xcap_packet_fn fn;
	void *arg;
	uint64_t delivered;
	uint64_t user_dropped;
	uint64_t write_errors;
};

struct engine_iface {
	int ifindex;
	enum xdp_attach_mode mode;
};

struct xcap_engine {
	struct xcap_bpf *skel;
	struct xdp_program *xdp; /* created on the first attach */
	bool loaded;
	bool skb_mode;
	int ncpus;
	struct xcap_cfg *cfg; /* mmap of the xcap_cfg map */
	struct ring_buffer *rb;
	struct engine_iface ifaces[XCAP_MAX_IFACES];
	int n_ifaces;
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

static bool probe_frags(void)
{
	struct bpf_insn insns[] = {
		{ .code = 0xb7, .dst_reg = 0, .imm = XDP_PASS }, /* r0 = XDP_PASS */
		{ .code = 0x95 }, /* exit */
	};
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .prog_flags = BPF_F_XDP_HAS_FRAGS);
	int fd;

	fd = bpf_prog_load(BPF_PROG_TYPE_XDP, NULL, "GPL", insns, 2, &opts);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* The program needs ring buffers (5.8), bpf_loop (5.17) and bpf_xdp_load_bytes (5.18). */
static int probe_features(bool *frags)
{
	static const struct {
		enum bpf_func_id id;
		const char *name;
	} helpers[] = {
		{ BPF_FUNC_loop, "bpf_loop (Linux 5.17)" },
		{ BPF_FUNC_xdp_load_bytes, "bpf_xdp_load_bytes (Linux 5.18)" },
		{ BPF_FUNC_xdp_get_buff_len, "bpf_xdp_get_buff_len (Linux 5.18)" },
	};
	size_t i;

	if (libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL) != 1) {
		pr_err("the kernel has no BPF ring buffer (Linux 5.8)\n");
		return -EOPNOTSUPP;
	}
	for (i = 0; i < sizeof(helpers) / sizeof(helpers[0]); i++) {
		if (libbpf_probe_bpf_helper(BPF_PROG_TYPE_XDP, helpers[i].id, NULL) != 1) {
			pr_err("the kernel lacks the BPF helper %s\n", helpers[i].name);
			return -EOPNOTSUPP;
		}
	}
	*frags = probe_frags();
	pr_debug("features: ring buffer, bpf_loop, bpf_xdp_load_bytes; multi-buffer frames: %s\n",
		 *frags ? "yes" : "no (frames larger than a page are not seen)");
	return 0;
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
	struct xcap_engine *e;
	bool frags = false;
	int err;

	if (!opts)
		opts = &none;
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->skb_mode = opts->skb_mode;
	err = probe_features(&frags);
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
	if (!err && frags)
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

/* True when some other process holds an fd of the program (a live xcap owns it). */
static bool prog_has_owner(uint32_t prog_id)
{
	char path[PATH_MAX], line[128], want[32];
	struct dirent *p, *f;
	DIR *proc, *fds;
	bool found = false;
	FILE *fi;

	snprintf(want, sizeof(want), "prog_id:\t%u\n", prog_id);
	proc = opendir("/proc");
	if (!proc)
		return true; /* cannot tell: never remove what may be in use */
	while (!found && (p = readdir(proc))) {
		if (p->d_name[0] < '1' || p->d_name[0] > '9' || atoi(p->d_name) == getpid())
			continue;
		snprintf(path, sizeof(path), "/proc/%s/fdinfo", p->d_name);
		fds = opendir(path);
		if (!fds)
			continue;
		while (!found && (f = readdir(fds))) {
			snprintf(path, sizeof(path), "/proc/%s/fdinfo/%s", p->d_name, f->d_name);
			fi = fopen(path, "r");
			if (!fi)
				continue;
			while (!found && fgets(line, sizeof(line), fi))
				found = !strcmp(line, want);
			fclose(fi);
		}
		closedir(fds);
	}
	closedir(proc);
	return found;
}

/*
 * Looks at what is attached to the interface: removes an xcap program that an
 * earlier process left behind when it died, refuses a live xcap and any other
 * program that cannot share the interface. Returns 0 when attaching may go on.
 */
static int clear_interface(int ifindex, const char *ifname)
{
	struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(ifindex);
	struct xdp_program *p;
	bool legacy;
	int err = 0;

	if (libxdp_get_error(mp) || !mp)
		return 0;
	legacy = xdp_multiprog__is_legacy(mp);
	p = legacy ? xdp_multiprog__main_prog(mp) : xdp_multiprog__next_prog(NULL, mp);
	for (; p && !err; p = legacy ? NULL : xdp_multiprog__next_prog(p, mp)) {
		const char *name = xdp_program__name(p);
		uint32_t id = xdp_program__id(p);

		if (strcmp(name, XCAP_PROG_NAME)) {
			if (!legacy)
				continue; /* the dispatcher lets us run beside it */
			pr_err("%s: XDP program '%s' (id %u) is attached and xcap did not load it; "
			       "refusing to replace it\n",
			       ifname, name, id);
			err = -EEXIST;
		} else if (prog_has_owner(id)) {
			pr_err("%s: another xcap process is capturing here (program id %u)\n",
			       ifname, id);
			err = -EBUSY;
		} else {
			pr_warn("%s: removing xcap program id %u left by a process that died\n",
				ifname, id);
			err = legacy ? xdp_multiprog__detach(mp) :
				       xdp_program__detach(p, ifindex,
							   xdp_multiprog__attach_mode(mp), 0);
			if (err)
				pr_err("%s: cannot remove it: %s\n", ifname, strerror(-err));
		}
	}
	xdp_multiprog__close(mp);
	return err;
}

static int attach_mode(struct xcap_engine *e, int ifindex, enum xdp_attach_mode mode)
{
	int err = xdp_program__attach(e->xdp, ifindex, mode, 0);

	if (!err && !e->loaded)
		err = after_load(e);
	return err;
}

int xcap_engine_attach(struct xcap_engine *e, const char *ifname)
{
	struct xdp_program_opts opts = {
		.sz = sizeof(opts),
		.obj = e->skel->obj,
		.prog_name = XCAP_PROG_NAME,
	};
	int ifindex = if_nametoindex(ifname);
	enum xdp_attach_mode mode;
	int err;

	if (!ifindex) {
		pr_err("%s: no such interface\n", ifname);
		return -ENODEV;
	}
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
	err = clear_interface(ifindex, ifname);
	if (err)
		return err;
	mode = e->skb_mode ? XDP_MODE_SKB : XDP_MODE_NATIVE;
	err = attach_mode(e, ifindex, mode);
	if (err && mode == XDP_MODE_NATIVE) {
		pr_warn("%s: native XDP failed (%s); using generic (skb) mode, which is slower\n",
			ifname, strerror(-err));
		mode = XDP_MODE_SKB;
		err = attach_mode(e, ifindex, mode);
	}
	if (err) {
		pr_err("%s: cannot attach the XDP program: %s\n", ifname, strerror(-err));
		return err;
	}
	e->ifaces[e->n_ifaces++] = (struct engine_iface){ ifindex, mode };
	pr_info("%s: attached (%s mode)\n", ifname, mode == XDP_MODE_SKB ? "generic" : "native");
	return 0;
}

void xcap_engine_close(struct xcap_engine *e)
{
	char name[IF_NAMESIZE];
	int i, err;

	if (!e)
		return;
	for (i = e->n_ifaces - 1; i >= 0; i--) {
		err = xdp_program__detach(e->xdp, e->ifaces[i].ifindex, e->ifaces[i].mode, 0);
		if (err)
			pr_err("%s: cannot detach: %s\n",
			       if_indextoname(e->ifaces[i].ifindex, name) ?: "?", strerror(-err));
	}
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

/* --- rule tables --- */

static uint64_t field_mask(const struct xcap_engine *e, int which, int32_t value)
{
	uint64_t mask = 0;
	int i;

	for (i = 0; i < XCAP_MAX_CAPTURES; i++) {
		const struct xcap_filter *f = &e->slots[i].filter;
		int32_t v = which == 0 ? f->sport : which == 1 ? f->dport : f->proto;

		if (e->slots[i].used && v == value)
			mask |= 1ULL << i;
	}
	return mask;
}

/* Recomputes the accept set of one port or protocol value. */
static int sync_value(struct xcap_engine *e, int which, int32_t value)
{
	static const char *const maps[] = { "xcap_sport", "xcap_dport", "xcap_proto" };
	uint64_t mask;
	uint32_t key;

	if (value < 0)
		return 0;
	key = value;
	mask = field_mask(e, which, value);
	return bpf_map_update_elem(xcap_engine_map_fd(e, maps[which]), &key, &mask, BPF_ANY);
}

static bool prefix_covers(const struct xcap_prefix *outer, const struct xcap_prefix *inner)
{
	int full = outer->len / 8, rest = outer->len % 8;

	if (outer->family != inner->family || outer->len > inner->len)
		return false;
	if (memcmp(outer->addr, inner->addr, full))
		return false;
	return !rest || !((outer->addr[full] ^ inner->addr[full]) & (0xff << (8 - rest)));
}

static const struct xcap_prefix *slot_prefix(const struct xcap_engine *e, int i, bool src)
{
	return src ? &e->slots[i].filter.src : &e->slots[i].filter.dst;
}

/* Sets the key of the LPM trie for a prefix; returns the key size. */
static size_t lpm_key(const struct xcap_prefix *p, void *key)
{
	struct xcap_lpm4 *k4 = key;
	struct xcap_lpm6 *k6 = key;

	if (p->family == 4) {
		k4->prefixlen = p->len;
		memcpy(k4->addr, p->addr, 4);
		return sizeof(*k4);
	}
	k6->prefixlen = p->len;
	memcpy(k6->addr, p->addr, 16);
	return sizeof(*k6);
}

/*
 * Rewrites one address trie: each armed prefix maps to every capture whose
 * prefix covers it, since an LPM lookup returns only the longest match. New
 * entries go in before stale ones leave, so no armed capture misses a packet.
 */
static int sync_trie(struct xcap_engine *e, bool src, int family)
{
	char name[16];
	struct xcap_lpm6 key, next, want;
	uint64_t mask;
	int fd, i, j, err = 0;
	bool wanted;

	snprintf(name, sizeof(name), "xcap_%caddr%d", src ? 's' : 'd', family);
	fd = xcap_engine_map_fd(e, name);
	for (i = 0; i < XCAP_MAX_CAPTURES && !err; i++) {
		const struct xcap_prefix *p = slot_prefix(e, i, src);

		if (!e->slots[i].used || p->family != family)
			continue;
		mask = 0;
		for (j = 0; j < XCAP_MAX_CAPTURES; j++)
			if (e->slots[j].used && prefix_covers(slot_prefix(e, j, src), p))
				mask |= 1ULL << j;
		lpm_key(p, &key);
		err = bpf_map_update_elem(fd, &key, &mask, BPF_ANY);
	}
	/* Deleting the current key would end the walk, so restart after each removal. */
	for (err = err ?: bpf_map_get_next_key(fd, NULL, &key); !err;) {
		wanted = false;
		for (i = 0; i < XCAP_MAX_CAPTURES && !wanted; i++) {
			const struct xcap_prefix *p = slot_prefix(e, i, src);

			wanted = e->slots[i].used && p->family == family &&
				 !memcmp(&key, &want, lpm_key(p, &want));
		}
		if (!wanted) {
			err = bpf_map_delete_elem(fd, &key);
			if (!err)
				err = bpf_map_get_next_key(fd, NULL, &key);
			continue;
		}
		err = bpf_map_get_next_key(fd, &key, &next);
		key = next;
	}
	return err == -ENOENT ? 0 : err;
}

static uint64_t wild_mask(const struct xcap_engine *e, int field)
{
	uint64_t mask = 0;
	int i;

	for (i = 0; i < XCAP_MAX_CAPTURES; i++) {
		const struct xcap_filter *f = &e->slots[i].filter;
		bool wild = field == 0 ? !f->src.family :
			    field == 1 ? !f->dst.family :
			    field == 2 ? f->sport < 0 :
			    field == 3 ? f->dport < 0 :
					 f->proto < 0;

		if (e->slots[i].used && wild)
			mask |= 1ULL << i;
	}
	return mask;
}

/* Brings every table in line with the used slots; `f` is the filter that changed. */
static int sync_rules(struct xcap_engine *e, const struct xcap_filter *f)
{
	int err;

	err = sync_value(e, 0, f->sport);
	err = err ?: sync_value(e, 1, f->dport);
	err = err ?: sync_value(e, 2, f->proto);
	if (!err && f->src.family)
		err = sync_trie(e, true, f->src.family);
	if (!err && f->dst.family)
		err = sync_trie(e, false, f->dst.family);
	if (err)
		return err;
	e->cfg->wild_saddr = wild_mask(e, 0);
	e->cfg->wild_daddr = wild_mask(e, 1);
	e->cfg->wild_sport = wild_mask(e, 2);
	e->cfg->wild_dport = wild_mask(e, 3);
	e->cfg->wild_proto = wild_mask(e, 4);
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
	s = &e->slots[i];
	*s = (struct engine_slot){
		.used = true, .filter = *f, .snaplen = slot.snaplen, .fn = fn, .arg = arg
	};
	err = sync_rules(e, f);
	if (err) {
		s->used = false;
		sync_rules(e, f);
		return err;
	}
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
	return sync_rules(e, &e->slots[slot].filter) ?: err;
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
