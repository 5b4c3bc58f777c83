// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Micro-benchmark of the programs: the kernel's time per BPF_PROG_TEST_RUN run
 * of xcap in several configurations, as a ratio to a bare program of the same
 * type measured in the same run: XDP (received frames) against XDP_PASS, TC
 * egress (sent frames) against TC_ACT_UNSPEC. Prints the design goals as met
 * or not met; a timing never makes it fail. Floors: programs that do only what
 * any one-copy capture must (reserve a ring record, load the frame into it,
 * submit it), to tell whether a goal in ns is reachable with a BPF ring buffer.
 * BENCH_XDP_CASE=TEXT runs only the baseline and the cases whose name holds
 * TEXT, under a profiler say: BENCH_XDP_CASE="64 B frame" perf record -a ...
 */
#define _GNU_SOURCE /* CPU affinity */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "agent/engine.h"
#include "xcap_abi.h"
#include "common/filter.h"
#include "frames.h"
#include "common/log.h"

#define REPEAT 1000000 /* runs per test run; the kernel reports their mean */
#define ROUNDS 5 /* test runs per case, each next to one of the baseline; medians are kept */
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define TC_ACT_UNSPEC (-1)
#define FLOOR_RING (64U << 20) /* about 43000 records of 1500 B: many ms of them */

enum rules {
	RULES_NONE,
	RULES_DPORT_MISS, /* each capture on a destination port the frame does not carry */
	RULES_SADDR_MISS, /* each capture on a /32 source address the frame does not carry */
	RULES_MATCH, /* one capture on the frame's destination port */
};

/* The least a one-copy capture does for a frame: a ring record of its length plus xcap's header. */
enum floor {
	FLOOR_NONE,
	FLOOR_QUIET, /* bpf_ringbuf_reserve, bpf_xdp_load_bytes, submit with BPF_RB_NO_WAKEUP */
	FLOOR_WAKEUP, /* the same, submit with the default wake-up */
	FLOOR_TIMED, /* FLOOR_QUIET, plus bpf_ktime_get_ns into the record */
};

struct bench_case {
	const char *name;
	bool tc; /* the TC egress programs (xcap's and the baseline) instead of XDP */
	bool bare; /* the baseline program instead of xcap */
	uint32_t sample_every;
	enum rules rules;
	bool by_iface; /* each capture restricted to the interface of the test runs (lo) */
	int armed;
	uint32_t frame_len;
	double goal; /* the most this case may cost as a ratio to the baseline; 0 = none */
	double goal_ns; /* the most this case may cost over the baseline, in ns; 0 = none */
	int encap; /* the frame in a tunnel: FRAME_* + 1 (tests/frames.h); 0 = none */
	enum floor floor; /* not xcap: a floor program, on a ring of its own */
	int vs; /* > 0: cases[vs], measured in the same run: as a ratio, or the floor of a goal in ns */
};

#define MISS8 4 /* cases[MISS8]: the untunnelled miss that tunnelled ones compare with */
#define FLOOR64 10 /* cases[FLOOR64], cases[FLOOR1500]: the floors under the matching frames */
#define FLOOR1500 13

static const struct bench_case cases[] = {
	{ "bare XDP_PASS (baseline)", .bare = true, .frame_len = 64 },
	{ "xcap, sampler off, none armed", .frame_len = 64 },
	{ "xcap, sampler 1/100, none armed", .sample_every = 100, .frame_len = 64, .goal = 1.3 },
	{ "xcap, 1 armed, dport misses", .rules = RULES_DPORT_MISS, .armed = 1, .frame_len = 64 },
	{ "xcap, 8 armed, dport misses", .rules = RULES_DPORT_MISS, .armed = 8, .frame_len = 64 },
	{ "xcap, 64 armed, dport misses", .rules = RULES_DPORT_MISS, .armed = 64, .frame_len = 64,
	  .goal = 2 },
	{ "xcap, 1 armed, /32 saddr misses", .rules = RULES_SADDR_MISS, .armed = 1,
	  .frame_len = 64 },
	{ "xcap, 8 armed, /32 saddr misses", .rules = RULES_SADDR_MISS, .armed = 8,
	  .frame_len = 64 },
	{ "xcap, 64 armed, /32 saddr misses", .rules = RULES_SADDR_MISS, .armed = 64,
	  .frame_len = 64, .goal = 2 },
	{ "xcap, 64 armed by iface, dport misses", .rules = RULES_DPORT_MISS, .by_iface = true,
	  .armed = 64, .frame_len = 64, .goal = 2 },
	{ "floor 64 B: reserve, load, submit", .floor = FLOOR_QUIET, .frame_len = 64 },
	{ "floor 64 B: ... submit with wake-up", .floor = FLOOR_WAKEUP, .frame_len = 64 },
	{ "floor 64 B: ... + bpf_ktime_get_ns", .floor = FLOOR_TIMED, .frame_len = 64 },
	{ "floor 1500 B: reserve, load, submit", .floor = FLOOR_QUIET, .frame_len = 1500 },
	{ "floor 1500 B: ... submit with wake-up", .floor = FLOOR_WAKEUP, .frame_len = 1500 },
	{ "floor 1500 B: ... + bpf_ktime_get_ns", .floor = FLOOR_TIMED, .frame_len = 1500 },
	{ "xcap, 64 B frame matches, copied", .rules = RULES_MATCH, .armed = 1, .frame_len = 64,
	  .goal_ns = 60, .vs = FLOOR64 },
	{ "xcap, 64 B matches by iface, copied", .rules = RULES_MATCH, .by_iface = true, .armed = 1,
	  .frame_len = 64 },
	{ "xcap, 1500 B frame matches, copied", .rules = RULES_MATCH, .armed = 1, .frame_len = 1500,
	  .goal_ns = 120, .vs = FLOOR1500 },
	/* Tunnels: the frame of cases[MISS8] inside one, the same 8 captures missing at both levels. */
	{ "xcap, 8 armed, dport misses, in GRE", .rules = RULES_DPORT_MISS, .armed = 8,
	  .encap = FRAME_GRE + 1, .vs = MISS8 },
	{ "xcap, 8 armed, dport misses, in VXLAN", .rules = RULES_DPORT_MISS, .armed = 8,
	  .encap = FRAME_VXLAN + 1, .vs = MISS8 },
	{ "xcap, 8 armed, dport misses, v6 in v6", .rules = RULES_DPORT_MISS, .armed = 8,
	  .encap = FRAME_IPIP + 1, .vs = MISS8 },
	{ "bare TC_ACT_UNSPEC (TC baseline)", .tc = true, .bare = true, .frame_len = 64 },
	{ "xcap TC, sampler off, none armed", .tc = true, .frame_len = 64 },
	{ "xcap TC, sampler 1/100, none armed", .tc = true, .sample_every = 100, .frame_len = 64,
	  .goal = 1.3 },
	{ "xcap TC, 64 armed, dport misses", .tc = true, .rules = RULES_DPORT_MISS, .armed = 64,
	  .frame_len = 64, .goal = 2 },
	{ "xcap TC, 1500 B frame matches, copied", .tc = true, .rules = RULES_MATCH, .armed = 1,
	  .frame_len = 1500 },
};

struct bench {
	struct xcap_engine *e;
	int bare_fd;
	int bare_tc_fd;
	int slots[XCAP_MAX_CAPTURES];
	int armed;
	cpu_set_t consumer_cpus; /* empty: anywhere */
	pthread_t consumer;
	struct ring_buffer *rb; /* while a floor case runs: its ring, which the consumer drains */
	bool stop; /* tells the consumer to finish; atomic */
};

struct result {
	double ns; /* median time per run */
	double over; /* median time per run over the baseline's run next to it */
	double ratio; /* median ratio to the baseline run next to it */
	uint64_t records; /* records the program tried to write to a ring */
	uint64_t lost; /* of those, the ones a full ring refused */
};

/* The engine needs a callback; the consumer only has to free ring space. */
static int discard(void *arg, const struct xcap_packet *pkt)
{
	(void)arg;
	(void)pkt;
	return 0;
}

/* A floor's ring: counts the records, to tell those a full ring refused. */
static int count(void *ctx, void *data, size_t size)
{
	(void)data;
	(void)size;
	(*(uint64_t *)ctx)++;
	return 0;
}

/*
 * The engine is not thread-safe: while this thread runs, only it touches the
 * engine. A floor's ring: it waits for a wake-up at most 1 ms, then drains the
 * ring whether woken or not (BPF_RB_NO_WAKEUP never wakes it).
 */
static void *consume(void *arg)
{
	struct bench *b = arg;

	if (CPU_COUNT(&b->consumer_cpus))
		pthread_setaffinity_np(pthread_self(), sizeof(b->consumer_cpus), &b->consumer_cpus);
	while (!__atomic_load_n(&b->stop, __ATOMIC_ACQUIRE)) {
		if (!b->rb) {
			xcap_engine_poll(b->e, 10);
			continue;
		}
		ring_buffer__poll(b->rb, 1);
		ring_buffer__consume(b->rb);
	}
	if (b->rb)
		ring_buffer__consume(b->rb);
	else
		xcap_engine_drain(b->e);
	return NULL;
}

/* A program of that type that returns verdict and does nothing else. */
static int load_bare(enum bpf_prog_type type, int verdict)
{
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = verdict },
		{ .code = BPF_JMP | BPF_EXIT },
	};

	return bpf_prog_load(type, "bench_pass", "GPL", insns, ARRAY_SIZE(insns), NULL);
}

#define INSN(...) (insns[n++] = (struct bpf_insn){ __VA_ARGS__ })
#define MOV_K(dst, k) INSN(.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = (dst), .imm = (k))
#define MOV_X(dst, src) \
	INSN(.code = BPF_ALU64 | BPF_MOV | BPF_X, .dst_reg = (dst), .src_reg = (src))
#define CALL(fn) INSN(.code = BPF_JMP | BPF_CALL, .imm = (fn))

/*
 * An XDP program that copies the whole frame (len bytes, a constant) into a
 * record of the ring, after a header of xcap's size, and passes it.
 */
static int load_floor(enum floor floor, int ring_fd, uint32_t len)
{
	const uint32_t hdr = sizeof(struct xcap_rec);
	struct bpf_insn insns[24];
	int n = 0, skip;

	MOV_X(BPF_REG_6, BPF_REG_1);
	INSN(.code = BPF_LD | BPF_DW | BPF_IMM, .dst_reg = BPF_REG_1, .src_reg = BPF_PSEUDO_MAP_FD,
	     .imm = ring_fd);
	INSN(.code = 0);
	MOV_K(BPF_REG_2, hdr + len);
	MOV_K(BPF_REG_3, 0);
	CALL(BPF_FUNC_ringbuf_reserve);
	skip = n;
	INSN(.code = BPF_JMP | BPF_JEQ | BPF_K, .dst_reg = BPF_REG_0); /* NULL: to the exit */
	MOV_X(BPF_REG_7, BPF_REG_0);
	if (floor == FLOOR_TIMED) {
		CALL(BPF_FUNC_ktime_get_ns);
		INSN(.code = BPF_STX | BPF_MEM | BPF_DW, .dst_reg = BPF_REG_7,
		     .src_reg = BPF_REG_0);
	}
	MOV_X(BPF_REG_1, BPF_REG_6);
	MOV_K(BPF_REG_2, 0);
	MOV_X(BPF_REG_3, BPF_REG_7);
	INSN(.code = BPF_ALU64 | BPF_ADD | BPF_K, .dst_reg = BPF_REG_3, .imm = hdr);
	MOV_K(BPF_REG_4, len);
	CALL(BPF_FUNC_xdp_load_bytes);
	MOV_X(BPF_REG_1, BPF_REG_7);
	MOV_K(BPF_REG_2, floor == FLOOR_WAKEUP ? 0 : BPF_RB_NO_WAKEUP);
	CALL(BPF_FUNC_ringbuf_submit);
	insns[skip].off = n - skip - 1;
	MOV_K(BPF_REG_0, XDP_PASS);
	INSN(.code = BPF_JMP | BPF_EXIT);
	return bpf_prog_load(BPF_PROG_TYPE_XDP, "bench_floor", "GPL", insns, n, NULL);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(v[0]), cmp_double);
	return v[n / 2];
}

/* One test run of REPEAT runs: the kernel's mean time per run; the verdict is the type's pass. */
static int time_run(int prog_fd, bool tc, const void *frame, uint32_t len, double *ns)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame, .data_size_in = len,
		    .repeat = REPEAT);
	int err = bpf_prog_test_run_opts(prog_fd, &opts);

	if (err)
		return err;
	*ns = opts.duration;
	return opts.retval == (tc ? (uint32_t)TC_ACT_UNSPEC : XDP_PASS) ? 0 : -EPROTO;
}

/* Alternates test runs of the baseline and of the program, so both see the same load. */
static int measure(const struct bench *b, bool tc, int prog_fd, const void *frame, uint32_t len,
		   struct result *r)
{
	int i, err, base_fd = tc ? b->bare_tc_fd : b->bare_fd;
	double ns[ROUNDS], base, ratio[ROUNDS], over[ROUNDS];

	for (i = 0; i < ROUNDS; i++) {
		err = time_run(base_fd, tc, frame, len, &base);
		err = err ?: time_run(prog_fd, tc, frame, len, &ns[i]);
		if (err)
			return err;
		ratio[i] = base ? ns[i] / base : 0;
		over[i] = ns[i] - base;
	}
	r->ns = median(ns, ROUNDS);
	r->ratio = median(ratio, ROUNDS);
	r->over = median(over, ROUNDS);
	return 0;
}

static void disarm_all(struct bench *b)
{
	while (b->armed)
		xcap_engine_disarm(b->e, b->slots[--b->armed], NULL);
}

static void case_filter(const struct bench_case *c, int i, struct xcap_filter *f)
{
	struct xcap_value src = { .prefix = { .family = 4, .len = 32, .addr = { 10, 0, 0, i } } };

	xcap_filter_init(f);
	if (c->rules == RULES_DPORT_MISS)
		xcap_filter_set_num(f, XCAP_FIELD_DPORT, 1000 + i);
	else if (c->rules == RULES_SADDR_MISS)
		xcap_filter_set_value(f, XCAP_FIELD_SADDR, &src);
	else
		xcap_filter_set_num(f, XCAP_FIELD_DPORT, 80);
	if (c->by_iface)
		xcap_filter_add_iface(f, "lo");
}

/* Arms what the case needs, after disarming what the previous one armed. */
static int configure(struct bench *b, const struct bench_case *c)
{
	const struct xcap_limits none = {};
	struct xcap_filter f;
	int slot, err;

	disarm_all(b);
	err = xcap_engine_set_sampler(b->e, c->sample_every, discard, NULL);
	while (!err && b->armed < c->armed) {
		case_filter(c, b->armed, &f);
		slot = xcap_engine_arm(b->e, &f, &none, discard, NULL);
		if (slot < 0)
			err = slot;
		else
			b->slots[b->armed++] = slot;
	}
	return err;
}

/* Ring records the program tried to write so far, and those a full ring refused. */
static void tally(const struct bench *b, uint64_t *records, uint64_t *lost)
{
	struct xcap_capture_counters cc;
	struct xcap_counters gc = {};
	int i;

	xcap_engine_counters(b->e, &gc);
	*records = gc.sampled + gc.sample_ring_full;
	*lost = gc.sample_ring_full;
	for (i = 0; i < b->armed; i++) {
		if (xcap_engine_capture_counters(b->e, b->slots[i], &cc))
			continue;
		*records += cc.kernel.written + cc.kernel.ring_full;
		*lost += cc.kernel.ring_full;
	}
}

/* measure() while a consumer thread drains the rings: b->rb, else the engine's. */
static int measure_drained(struct bench *b, bool tc, int prog_fd, const void *frame, uint32_t len,
			   struct result *r)
{
	int err;

	b->stop = false;
	err = pthread_create(&b->consumer, NULL, consume, b);
	if (err)
		return -err;
	err = measure(b, tc, prog_fd, frame, len, r);
	__atomic_store_n(&b->stop, true, __ATOMIC_RELEASE);
	pthread_join(b->consumer, NULL);
	return err;
}

static int run_xcap(struct bench *b, const struct bench_case *c, const void *frame, uint32_t len,
		    struct result *r)
{
	uint64_t records0, lost0;
	int err;

	err = configure(b, c);
	if (err)
		return err;
	tally(b, &records0, &lost0);
	err = measure_drained(b, c->tc,
			      c->tc ? xcap_engine_tc_prog_fd(b->e, XCAP_DIR_OUT) : xcap_engine_prog_fd(b->e),
			      frame, len, r);
	tally(b, &r->records, &r->lost);
	r->records -= records0;
	r->lost -= lost0;
	return err;
}

/* A floor program on a fresh ring; every run tries one record, the consumer counts those it got. */
static int run_floor(struct bench *b, const struct bench_case *c, const void *frame, uint32_t len,
		     struct result *r)
{
	int ring_fd, prog_fd, err;
	uint64_t got = 0;

	ring_fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "bench_floor", 0, 0, FLOOR_RING, NULL);
	if (ring_fd < 0)
		return ring_fd;
	b->rb = ring_buffer__new(ring_fd, count, &got, NULL);
	prog_fd = !b->rb ? -errno : load_floor(c->floor, ring_fd, len);
	err = prog_fd < 0 ? prog_fd : measure_drained(b, false, prog_fd, frame, len, r);
	r->records = (uint64_t)ROUNDS * REPEAT;
	r->lost = r->records - got;
	if (prog_fd >= 0)
		close(prog_fd);
	ring_buffer__free(b->rb);
	b->rb = NULL;
	close(ring_fd);
	return err;
}

static int run_case(struct bench *b, const struct bench_case *c, struct result *r)
{
	const struct frame_opts opts = {
		.family = 4, .proto = IPPROTO_TCP, .sport = 40000, .dport = 80, .len = c->frame_len
	};
	struct tunnel_opts t = { .encap = c->encap - 1, .outer = { .family = 4 }, .inner = opts };
	uint8_t frame[2048];
	uint32_t len;

	if (c->encap == FRAME_IPIP + 1)
		t.outer.family = t.inner.family = 6;
	len = c->encap ? frame_build_tunnel(frame, sizeof(frame), &t) :
			 frame_build(frame, sizeof(frame), &opts);

	*r = (struct result){};
	if (!len)
		return -EINVAL;
	if (c->bare)
		return measure(b, c->tc, c->tc ? b->bare_tc_fd : b->bare_fd, frame, len, r);
	if (c->floor)
		return run_floor(b, c, frame, len, r);
	return run_xcap(b, c, frame, len, r);
}

static void print_machine(void)
{
	char line[256], *cpu = NULL;
	struct utsname u;
	FILE *f;

	uname(&u);
	f = fopen("/proc/cpuinfo", "r");
	while (f && !cpu && fgets(line, sizeof(line), f))
		if (!strncmp(line, "model name", 10) && (cpu = strchr(line, ':')))
			cpu[strcspn(cpu, "\n")] = '\0';
	if (f)
		fclose(f);
	printf("machine: %s %s %s,%s, %ld CPUs\n", u.sysname, u.release, u.machine,
	       cpu ? cpu + 1 : " unknown CPU", sysconf(_SC_NPROCESSORS_ONLN));
	printf("ns/pkt: the kernel's time per run, median of %d test runs of %d repeats;\n"
	       "x base: median ratio to a baseline test run made just before each of them;\n"
	       "lost: ring records refused by a full ring while a thread drained it\n",
	       ROUNDS, REPEAT);
}

static void print_row(const struct bench_case *c, const struct result *r, const struct result *vs)
{
	char lost[16] = "-", goal[64] = ""; /* the goal column is last: no trailing blanks */

	if (r->records)
		snprintf(lost, sizeof(lost), "%.1f%%", 100.0 * r->lost / r->records);
	if (c->goal)
		snprintf(goal, sizeof(goal), "  <= %.1fx: %s", c->goal,
			 r->ratio <= c->goal ? "met" : "not met");
	else if (c->goal_ns)
		snprintf(goal, sizeof(goal), "  +%.0f ns, <= +%.0f: %s", r->over, c->goal_ns,
			 r->over <= c->goal_ns ? "met" : "not met");
	else if (c->vs && vs->ratio)
		snprintf(goal, sizeof(goal), "  %.2fx the untunnelled miss", r->ratio / vs->ratio);
	printf("%-38s %8.0f %8.2f %7s%s\n", c->name, r->ns, r->ratio, lost, goal);
}

/*
 * Whether a goal in ns is reachable with a BPF ring buffer at all: the floor
 * under it (its cases[vs]) over the baseline, and what xcap adds on the floor.
 */
static void print_floors(const struct result *r)
{
	const struct bench_case *c;
	size_t i;

	printf("\nfloor of a one-copy capture (reserve, load, submit without wake-up), over bare:\n");
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		c = &cases[i];
		if (!c->goal_ns || !c->vs)
			continue;
		printf("%4u B: floor +%.0f ns, the goal +%.0f is %s it; \"%s\" +%.0f ns over it\n",
		       c->frame_len, r[c->vs].over, c->goal_ns,
		       c->goal_ns < r[c->vs].over ? "below" : "above", c->name,
		       r[i].over - r[c->vs].over);
	}
}

/*
 * Two CPUs at once: does the copy of matching frames scale? Each CPU's thread
 * does batches of test runs of SCALE_REPEAT runs, all CPUs in step; between
 * batches, with the program idle, this thread drains the rings, which hold a
 * whole batch (no frame refused: a full ring would measure the cheaper
 * refusal). Packets per second: the sum over the CPUs of 1 / the kernel's
 * time per run, as a ratio to one CPU alone measured in the same round.
 */
#define SCALE_REPEAT 10000
#define SCALE_BATCHES 20
#define SCALE_RING (64U << 20) /* all rings: each holds a batch of 1500 B frames */

struct scale_case {
	const char *name;
	uint32_t frames_rings; /* as xcap_engine_opts: 0 = one per CPU */
	uint32_t frame_len;
	uint64_t pkt_limit; /* 0 = none; else a budget that every CPU takes from */
	double goal; /* the least ratio of two CPUs to one; 0 = none */
};

static const struct scale_case scale_cases[] = {
	{ "64 B matches, per-CPU rings", .frame_len = 64, .goal = 1.8 },
	{ "1500 B matches, per-CPU rings", .frame_len = 1500, .goal = 1.8 },
	{ "64 B matches, per-CPU rings, pkt budget", .frame_len = 64, .pkt_limit = 1ULL << 62 },
	{ "64 B matches, one shared ring", .frames_rings = 1, .frame_len = 64 },
	{ "1500 B matches, one shared ring", .frames_rings = 1, .frame_len = 1500 },
};

struct scale_thread {
	pthread_t thread;
	int cpu;
	int prog_fd;
	const void *frame;
	uint32_t len;
	pthread_barrier_t *step;
	double ns; /* sum over the batches of the kernel's time per run */
	int err;
};

static void *scale_run(void *arg)
{
	struct scale_thread *t = arg;
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = t->frame, .data_size_in = t->len,
		    .repeat = SCALE_REPEAT);
	cpu_set_t one;
	int i;

	CPU_ZERO(&one);
	CPU_SET(t->cpu, &one);
	t->err = pthread_setaffinity_np(pthread_self(), sizeof(one), &one);
	for (i = 0; i < SCALE_BATCHES; i++) {
		pthread_barrier_wait(t->step);
		if (!t->err && bpf_prog_test_run_opts(t->prog_fd, &opts))
			t->err = -errno;
		t->ns += opts.duration;
		pthread_barrier_wait(t->step);
	}
	return NULL;
}

/* Packets per second of the program on n CPUs at once (the first n of cpus). */
static int scale_pps(struct xcap_engine *e, const int *cpus, int n, const void *frame, uint32_t len,
		     double *pps)
{
	struct scale_thread t[2];
	pthread_barrier_t step;
	int i, k, err = 0;

	pthread_barrier_init(&step, NULL, n + 1);
	for (i = 0; i < n; i++) {
		t[i] = (struct scale_thread){ .cpu = cpus[i],
					      .prog_fd = xcap_engine_prog_fd(e),
					      .frame = frame,
					      .len = len,
					      .step = &step };
		pthread_create(&t[i].thread, NULL, scale_run, &t[i]);
	}
	for (k = 0; k < SCALE_BATCHES; k++) {
		pthread_barrier_wait(&step); /* go */
		pthread_barrier_wait(&step); /* all done */
		xcap_engine_drain(e);
	}
	*pps = 0;
	for (i = 0; i < n; i++) {
		pthread_join(t[i].thread, NULL);
		err = err ?: t[i].err;
		*pps += t[i].ns ? 1e9 * SCALE_BATCHES / t[i].ns : 0;
	}
	pthread_barrier_destroy(&step);
	return err;
}

/* Rounds of one CPU, then two: the medians of one CPU's rate and of the ratio. */
static int scale_case(const struct scale_case *c, const int *cpus)
{
	const struct frame_opts fo = {
		.family = 4, .proto = IPPROTO_TCP, .sport = 40000, .dport = 80, .len = c->frame_len
	};
	struct xcap_engine_opts opts = { .frames_ring_bytes = SCALE_RING,
					 .frames_rings = c->frames_rings };
	const struct xcap_limits limits = { .packets = c->pkt_limit };
	double one[ROUNDS], ratio[ROUNDS], two;
	struct xcap_capture_counters cc = {};
	struct xcap_engine *e;
	struct xcap_filter f;
	uint8_t frame[2048];
	uint32_t len = frame_build(frame, sizeof(frame), &fo);
	int i, slot, err;

	e = xcap_engine_open(&opts);
	err = !e ? -errno : xcap_engine_load(e);
	xcap_filter_init(&f);
	xcap_filter_set_num(&f, XCAP_FIELD_DPORT, 80);
	slot = err ? err : xcap_engine_arm(e, &f, &limits, discard, NULL);
	err = slot < 0 ? slot : 0;
	for (i = 0; i < ROUNDS && !err; i++) {
		err = scale_pps(e, cpus, 1, frame, len, &one[i]);
		err = err ?: scale_pps(e, cpus, 2, frame, len, &two);
		ratio[i] = one[i] ? two / one[i] : 0;
	}
	if (!err)
		err = xcap_engine_capture_counters(e, slot, &cc);
	xcap_engine_close(e);
	if (err)
		return err;
	printf("%-40s %8.2f %8.2f %7.1f%%%s", c->name, median(one, ROUNDS) / 1e6,
	       median(ratio, ROUNDS),
	       cc.kernel.matched ? 100.0 * cc.kernel.ring_full / cc.kernel.matched : 0.0,
	       c->goal ? "" : "\n");
	if (c->goal)
		printf("  >= %.1fx: %s\n", c->goal,
		       median(ratio, ROUNDS) >= c->goal ? "met" : "not met");
	return 0;
}

static int scale_cases_run(const int *cpus)
{
	size_t i;
	int err;

	printf("\ntwo CPUs at once (CPUs %d and %d), %d batches of %d runs each, rings drained\n"
	       "between batches; Mpps: one CPU alone; x 1 CPU: median ratio of both CPUs' packets\n"
	       "per second to one CPU's in the same round; lost: refused by a full ring\n",
	       cpus[0], cpus[1], SCALE_BATCHES, SCALE_REPEAT);
	printf("\n%-40s %8s %8s %8s  %s\n", "case", "Mpps", "x 1 CPU", "lost", "goal");
	for (i = 0; i < ARRAY_SIZE(scale_cases); i++) {
		err = scale_case(&scale_cases[i], cpus);
		if (err) {
			fprintf(stderr, "bench_xdp: %s: %s\n", scale_cases[i].name, strerror(-err));
			return err;
		}
	}
	return 0;
}

/*
 * Runs the program on one CPU and the consumer on another, as a NIC's softirq
 * and xcapd would: on a shared CPU the consumer only runs when a test run
 * yields, and the frames ring overflows.
 */
static int place_threads(struct bench *b, int *cpus)
{
	cpu_set_t allowed, one;
	int cpu, n = 0;

	CPU_ZERO(&b->consumer_cpus);
	if (sched_getaffinity(0, sizeof(allowed), &allowed))
		return 0;
	for (cpu = 0; cpu < CPU_SETSIZE && n < 2; cpu++)
		if (CPU_ISSET(cpu, &allowed))
			cpus[n++] = cpu;
	if (n < 2)
		return n;
	CPU_ZERO(&one);
	CPU_SET(cpus[0], &one);
	if (sched_setaffinity(0, sizeof(one), &one))
		return 0;
	CPU_SET(cpus[1], &b->consumer_cpus);
	printf("program on CPU %d, ring consumer on CPU %d\n", cpus[0], cpus[1]);
	return n;
}

int main(void)
{
	struct bench b = { .bare_fd = -1, .bare_tc_fd = -1 };
	int err, cpus[2], ncpus;
	/* For a profile: only the baseline and the cases whose name holds this. */
	const char *only = getenv("BENCH_XDP_CASE");
	struct result r[ARRAY_SIZE(cases)] = {};
	cpu_set_t allowed;
	size_t i;

	if (geteuid()) {
		printf("bench_xdp: skipped: needs root for BPF_PROG_TEST_RUN\n");
		return 0;
	}
	xcap_log_set_level(XCAP_LOG_WARN);
	b.bare_fd = load_bare(BPF_PROG_TYPE_XDP, XDP_PASS);
	b.bare_tc_fd = load_bare(BPF_PROG_TYPE_SCHED_CLS, TC_ACT_UNSPEC);
	b.e = xcap_engine_open(NULL);
	err = b.bare_fd < 0    ? b.bare_fd :
	      b.bare_tc_fd < 0 ? b.bare_tc_fd :
	      !b.e	       ? -errno :
				 xcap_engine_load(b.e);
	if (err) {
		fprintf(stderr, "bench_xdp: cannot load the programs: %s\n", strerror(-err));
		goto out;
	}
	/* Test runs take place on lo: its interface slot, as an attach would give it one. */
	err = bpf_map_update_elem(xcap_engine_map_fd(b.e, "xcap_ifslot"),
				  &(uint32_t){ if_nametoindex("lo") }, &(uint32_t){ 0 }, BPF_ANY);
	if (err) {
		fprintf(stderr, "bench_xdp: cannot give lo a slot: %s\n", strerror(errno));
		goto out;
	}
	print_machine();
	sched_getaffinity(0, sizeof(allowed), &allowed);
	ncpus = place_threads(&b, cpus);
	printf("\n%-38s %8s %8s %7s  %s\n", "case", "ns/pkt", "x base", "lost", "goal");
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		if (only && i && !strstr(cases[i].name, only))
			continue;
		err = run_case(&b, &cases[i], &r[i]);
		if (err) {
			fprintf(stderr, "bench_xdp: %s: %s\n", cases[i].name, strerror(-err));
			break;
		}
		print_row(&cases[i], &r[i], &r[cases[i].vs]);
	}
	if (err || only)
		goto out;
	print_floors(r);
	/* The scaling threads pin themselves; this one drains anywhere. */
	sched_setaffinity(0, sizeof(allowed), &allowed);
	if (ncpus == 2)
		err = scale_cases_run(cpus);
	else
		printf("\ntwo CPUs at once: skipped, this process may run on one CPU only\n");
out:
	xcap_engine_close(b.e);
	if (b.bare_fd >= 0)
		close(b.bare_fd);
	if (b.bare_tc_fd >= 0)
		close(b.bare_tc_fd);
	return err ? 1 : 0;
}
