// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The bpf tier: full captures (agent/capture.c) on a loaded engine, fed with
 * canned frames through BPF_PROG_TEST_RUN. A capture needs an engine (its API
 * takes no other sink), hence this tier. Before xcap_engine_start the test's
 * thread consumes the rings (drain), so every step is synchronous. The pcap
 * file is read back by a reader of its own here (libpcap's headers clash with
 * libbpf's) and compared with the frames sent; the counters are pinned to
 * values written out by hand.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "agent/capture.h"
#include "agent/engine.h"
#include "common/filter.h"
#include "common/log.h"
#include "frames.h"
#include "test.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define LO_IFINDEX 1
#define NSEC_PER_SEC 1000000000LL
#define PCAP_HDR_LEN 24 /* the file header xcap writes */
#define FRAME_MAX 16384 /* the snaplen of a capture without one: XCAP_FRAME_MAX */

struct frame {
	uint8_t data[2048];
	uint32_t len;
};

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

static int64_t real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

/* Opens and loads an engine (frames_ring 0 = default size); NULL when the test failed. */
static struct xcap_engine *engine_new(uint32_t frames_ring)
{
	struct xcap_engine_opts opts = { .frames_ring_bytes = frames_ring };
	struct xcap_engine *e = xcap_engine_open(&opts);
	int err = e ? xcap_engine_load(e) : -errno;

	CHECK(!err, "cannot load the engine: %s", strerror(-err));
	if (err) {
		xcap_engine_close(e);
		return NULL;
	}
	return e;
}

/* A TCP frame to port 80 of len bytes; sport tells frames apart. */
static bool frame_make(struct frame *f, uint32_t len, uint16_t sport)
{
	const struct frame_opts o = {
		.family = 4, .proto = IPPROTO_TCP, .sport = sport, .dport = 80, .len = len
	};

	f->len = frame_build(f->data, sizeof(f->data), &o);
	CHECK(f->len == len, "cannot build a frame of %u bytes", len);
	return f->len == len;
}

/* Runs f `repeat` times through the program (always XDP_PASS), then drains the rings. */
static void send_frame(struct xcap_engine *e, const struct frame *f, int repeat)
{
	struct xdp_md ctx = { .data_end = f->len, .ingress_ifindex = LO_IFINDEX };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = f->data, .data_size_in = f->len,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = repeat);
	int err = bpf_prog_test_run_opts(xcap_engine_prog_fd(e), &opts);

	CHECK(!err, "test run: %s", strerror(-err));
	CHECK_EQ(opts.retval, XDP_PASS);
	CHECK(xcap_engine_drain(e) >= 0, "drain");
}

/* Starts a capture of TCP port 80 into the test's file `name`; NULL when the test failed. */
static struct xcap_capture *capture_new(struct xcap_engine *e, const char *name,
					const struct xcap_limits *lim, uint32_t time_limit_s,
					char *path, size_t size)
{
	struct xcap_capture_opts o = { .limits = *lim, .time_limit_s = time_limit_s, .path = path };
	struct xcap_capture *c;

	test_path(path, size, name);
	xcap_filter_init(&o.filter);
	xcap_filter_set_num(&o.filter, XCAP_FIELD_DPORT, 80);
	c = xcap_capture_start(e, &o);
	CHECK(c, "cannot start the capture: %s", strerror(errno));
	return c;
}

static struct xcap_capture_counters counters_of(const struct xcap_capture *c)
{
	struct xcap_capture_counters k = {};

	CHECK(!xcap_capture_counters(c, &k), "cannot read the counters");
	return k;
}

/* Every counter, against values written out by the caller. */
struct want {
	uint64_t matched, written, bytes, over_budget, ring_full;
	uint64_t delivered, user_dropped, write_errors;
};

static void check_counters(const char *when, const struct xcap_capture *c, const struct want *w)
{
	const struct xcap_capture_counters kc = counters_of(c), *k = &kc;
	const uint64_t got[] = { k->kernel.matched,	k->kernel.written,   k->kernel.bytes,
				 k->kernel.over_budget, k->kernel.ring_full, k->delivered,
				 k->user_dropped,	k->write_errors };
	const uint64_t want[] = { w->matched,	w->written,   w->bytes,	       w->over_budget,
				  w->ring_full, w->delivered, w->user_dropped, w->write_errors };
	static const char *const names[] = { "matched",	     "written",	    "bytes",
					     "over_budget",  "ring_full",   "delivered",
					     "user_dropped", "write_errors" };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(names); i++)
		CHECK(got[i] == want[i], "%s: %s %llu, want %llu", when, names[i],
		      (unsigned long long)got[i], (unsigned long long)want[i]);
}

/* The classic pcap format with nanosecond timestamps, as libpcap documents it. */
struct pcap_hdr {
	uint32_t magic;
	uint16_t major, minor;
	int32_t thiszone;
	uint32_t sigfigs, snaplen, linktype;
};

struct pcap_rec {
	uint32_t ts_sec, ts_nsec, incl_len, orig_len;
};

/*
 * Reads the pcap file: magic 0xa1b23c4d (nanoseconds), version 2.4, Ethernet,
 * the snaplen `snap`; each record must be frames[i % n_frames] cut to snap
 * bytes, stamped within 5 s of now. Returns the records, or -1 when unreadable.
 */
static int check_pcap(const char *path, uint32_t snap, const struct frame *frames, int n_frames)
{
	uint8_t data[sizeof(frames[0].data)];
	int64_t now = real_ns(), ts;
	const struct frame *f;
	struct pcap_hdr h;
	struct pcap_rec r;
	FILE *in = fopen(path, "rb");
	int n = 0;

	CHECK(in, "cannot read %s: %s", path, strerror(errno));
	if (!in)
		return -1;
	if (fread(&h, sizeof(h), 1, in) != 1) {
		CHECK(0, "%s: no file header", path);
		fclose(in);
		return -1;
	}
	CHECK_EQ(h.magic, 0xa1b23c4d);
	CHECK(h.major == 2 && h.minor == 4, "version %u.%u", h.major, h.minor);
	CHECK_EQ(h.snaplen, snap);
	CHECK_EQ(h.linktype, 1);
	while (fread(&r, sizeof(r), 1, in) == 1) {
		f = &frames[n % n_frames];
		ts = r.ts_sec * NSEC_PER_SEC + r.ts_nsec;
		CHECK(r.incl_len == (f->len < snap ? f->len : snap), "record %d: incl_len %u", n,
		      r.incl_len);
		CHECK(r.orig_len == f->len, "record %d: orig_len %u, want %u", n, r.orig_len,
		      f->len);
		CHECK(r.ts_nsec < NSEC_PER_SEC, "record %d: %u ns", n, r.ts_nsec);
		CHECK(llabs(ts - now) < 5 * NSEC_PER_SEC, "record %d: stamped %lld ns from now", n,
		      (long long)(ts - now));
		if (r.incl_len > sizeof(data) || fread(data, r.incl_len, 1, in) != 1) {
			CHECK(0, "record %d: cut short", n);
			break;
		}
		CHECK(r.incl_len > f->len || !memcmp(data, f->data, r.incl_len),
		      "record %d: not the frame sent", n);
		n++;
	}
	CHECK(feof(in), "%s: bytes after record %d", path, n);
	fclose(in);
	return n;
}

static off_t file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) ? -1 : st.st_size;
}

/* 3 packets: the third ends it, a fourth is not even matched. */
static void the_packet_limit_ends_the_capture_at_the_limit(void)
{
	const struct xcap_limits lim = { .packets = 3 };
	struct xcap_engine *e = engine_new(0);
	struct xcap_capture *c = NULL;
	char path[PATH_MAX];
	struct frame f;

	if (!e || !frame_make(&f, 100, 40000) ||
	    !(c = capture_new(e, "plimit.pcap", &lim, 0, path, sizeof(path))))
		goto out;
	send_frame(e, &f, 2);
	CHECK(!xcap_capture_done(c, mono_ns()), "done after 2 of 3 packets");
	send_frame(e, &f, 1);
	CHECK(xcap_capture_done(c, mono_ns()), "not done after 3 of 3 packets");
	send_frame(e, &f, 1);
	check_counters("before the stop", c,
		       &(struct want){ .matched = 3, .written = 3, .bytes = 300, .delivered = 3 });
	CHECK_EQ(xcap_capture_stop(c), 0);
	check_counters("after the stop", c,
		       &(struct want){ .matched = 3, .written = 3, .bytes = 300, .delivered = 3 });
	CHECK_EQ(check_pcap(path, FRAME_MAX, &f, 1), 3);
out:
	xcap_capture_free(c);
	xcap_engine_close(e);
}

/* 1000 bytes of 300-byte frames: 3 fit, the 4th is over budget and ends it. */
static void the_byte_limit_ends_the_capture_at_the_first_frame_over_it(void)
{
	const struct xcap_limits lim = { .bytes = 1000 };
	struct xcap_engine *e = engine_new(0);
	struct xcap_capture *c = NULL;
	char path[PATH_MAX];
	struct frame f;

	if (!e || !frame_make(&f, 300, 40000) ||
	    !(c = capture_new(e, "blimit.pcap", &lim, 0, path, sizeof(path))))
		goto out;
	send_frame(e, &f, 3);
	CHECK(!xcap_capture_done(c, mono_ns()), "done with 900 of 1000 bytes");
	send_frame(e, &f, 1);
	CHECK(xcap_capture_done(c, mono_ns()), "not done after a frame over the limit");
	send_frame(e, &f, 1);
	CHECK_EQ(xcap_capture_stop(c), 0);
	check_counters("after the stop", c,
		       &(struct want){ .matched = 4,
				       .written = 3,
				       .bytes = 900,
				       .over_budget = 1,
				       .delivered = 3 });
	CHECK_EQ(check_pcap(path, FRAME_MAX, &f, 1), 3);
out:
	xcap_capture_free(c);
	xcap_engine_close(e);
}

/* The deadline is time_limit_s after the start on CLOCK_MONOTONIC, whatever comes. */
static void the_time_limit_ends_the_capture_at_its_deadline(void)
{
	const struct xcap_limits none = {};
	struct xcap_engine *e = engine_new(0);
	struct xcap_capture *c = NULL, *unlimited = NULL;
	int64_t before, after;
	char path[PATH_MAX];

	if (!e)
		goto out;
	before = mono_ns();
	c = capture_new(e, "tlimit.pcap", &none, 10, path, sizeof(path));
	after = mono_ns();
	unlimited = capture_new(e, "unlimited.pcap", &none, 0, path, sizeof(path));
	if (!c || !unlimited)
		goto out;
	CHECK(!xcap_capture_done(c, before + 10 * NSEC_PER_SEC - 1), "done before its deadline");
	CHECK(xcap_capture_done(c, after + 10 * NSEC_PER_SEC), "not done at its deadline");
	CHECK(!xcap_capture_done(unlimited, after + 86400 * NSEC_PER_SEC),
	      "done without a time limit");
out:
	xcap_capture_free(c);
	xcap_capture_free(unlimited);
	xcap_engine_close(e);
}

/* Three different 300-byte frames cut to 128: the file holds each, as sent, in order. */
static void the_pcap_holds_what_the_sink_got_cut_to_the_snaplen(void)
{
	const struct xcap_limits lim = { .snaplen = 128 };
	struct xcap_engine *e = engine_new(0);
	struct xcap_capture *c = NULL;
	struct frame f[3];
	char path[PATH_MAX];
	int i;

	if (!e || !(c = capture_new(e, "snap.pcap", &lim, 0, path, sizeof(path))))
		goto out;
	for (i = 0; i < 3; i++)
		if (!frame_make(&f[i], 300, 40000 + i))
			goto out;
	for (i = 0; i < 6; i++)
		send_frame(e, &f[i % 3], 1);
	CHECK_EQ(xcap_capture_stop(c), 0);
	check_counters("after the stop", c,
		       &(struct want){ .matched = 6, .written = 6, .bytes = 768, .delivered = 6 });
	CHECK_EQ(check_pcap(path, 128, f, 3), 6);
	CHECK_EQ(file_size(path), PCAP_HDR_LEN + 6 * (16 + 128));
out:
	xcap_capture_free(c);
	xcap_engine_close(e);
}

/*
 * A one-page frames ring and 50 frames of 1500 bytes in one run: most find
 * the ring full. Every match is written or lost in exactly one counter, every
 * record written is delivered, and the file holds exactly those delivered.
 */
static void every_packet_is_counted_in_exactly_one_place(void)
{
	const struct xcap_limits none = {};
	struct xcap_engine *e = engine_new(sysconf(_SC_PAGESIZE));
	struct xcap_capture_counters k;
	struct xcap_capture *c = NULL;
	char path[PATH_MAX];
	struct frame f;

	if (!e || !frame_make(&f, 1500, 40000) ||
	    !(c = capture_new(e, "full.pcap", &none, 0, path, sizeof(path))))
		goto out;
	send_frame(e, &f, 50);
	CHECK_EQ(xcap_capture_stop(c), 0);
	k = counters_of(c);
	CHECK_EQ(k.kernel.matched, 50);
	CHECK(k.kernel.ring_full > 0, "a one-page ring took all 50 frames of 1500 bytes");
	CHECK(k.kernel.written > 0, "a one-page ring took no frame");
	CHECK_EQ(k.kernel.written + k.kernel.over_budget + k.kernel.ring_full, 50);
	CHECK_EQ(k.kernel.bytes, k.kernel.written * 1500);
	CHECK_EQ(k.delivered + k.user_dropped + k.write_errors, k.kernel.written);
	CHECK_EQ(k.user_dropped + k.write_errors, 0);
	CHECK_EQ(check_pcap(path, FRAME_MAX, &f, 1), k.delivered);
out:
	xcap_capture_free(c);
	xcap_engine_close(e);
}

/*
 * The file may grow by its header only (RLIMIT_FSIZE): records are accepted
 * into the buffer (delivered so far), and the flush at the stop fails. Each
 * becomes a write error, the stop says so, and the file keeps no record.
 */
static void records_a_failed_flush_lost_are_write_errors(void)
{
	const struct xcap_limits none = {};
	struct rlimit old, header_only = { .rlim_cur = PCAP_HDR_LEN };
	struct xcap_engine *e = engine_new(0);
	struct xcap_capture *c = NULL;
	char path[PATH_MAX];
	struct frame f;
	bool limited = false;

	if (!e || !frame_make(&f, 100, 40000) || getrlimit(RLIMIT_FSIZE, &old))
		goto out;
	header_only.rlim_max = old.rlim_max;
	signal(SIGXFSZ, SIG_IGN); /* a write past the limit fails with EFBIG */
	limited = !setrlimit(RLIMIT_FSIZE, &header_only);
	CHECK(limited, "setrlimit: %s", strerror(errno));
	if (!limited || !(c = capture_new(e, "werr.pcap", &none, 0, path, sizeof(path))))
		goto out;
	send_frame(e, &f, 3);
	check_counters("before the flush", c,
		       &(struct want){ .matched = 3, .written = 3, .bytes = 300, .delivered = 3 });
	CHECK_EQ(-xcap_capture_stop(c), EFBIG);
	check_counters(
		"after the stop", c,
		&(struct want){ .matched = 3, .written = 3, .bytes = 300, .write_errors = 3 });
	CHECK_EQ(file_size(path), PCAP_HDR_LEN);
out:
	if (limited)
		setrlimit(RLIMIT_FSIZE, &old);
	signal(SIGXFSZ, SIG_DFL);
	xcap_capture_free(c);
	xcap_engine_close(e);
}

/* Once stopped: done at any time, the final counters stay, a second stop is a no-op. */
static void a_stopped_capture_is_done_and_keeps_its_counters(void)
{
	const struct xcap_limits none = {};
	struct xcap_engine *e = engine_new(0);
	struct xcap_capture *c = NULL;
	char path[PATH_MAX];
	struct frame f;

	if (!e || !frame_make(&f, 100, 40000) ||
	    !(c = capture_new(e, "stopped.pcap", &none, 3600, path, sizeof(path))))
		goto out;
	send_frame(e, &f, 2);
	CHECK(!xcap_capture_done(c, mono_ns()), "done while armed");
	CHECK_EQ(xcap_capture_stop(c), 0);
	CHECK(xcap_capture_done(c, 0), "not done once stopped");
	send_frame(e, &f, 2);
	CHECK_EQ(xcap_capture_stop(c), 0);
	check_counters("after two stops", c,
		       &(struct want){ .matched = 2, .written = 2, .bytes = 200, .delivered = 2 });
	CHECK_EQ(check_pcap(path, FRAME_MAX, &f, 1), 2);
out:
	xcap_capture_free(c);
	xcap_engine_close(e);
}

/* A file that cannot be created: no capture, and the errno says why. */
static void an_unwritable_file_starts_no_capture(void)
{
	struct xcap_capture_opts o = { .path = "/nonexistent-dir/x.pcap" };
	struct xcap_engine *e = engine_new(0);
	struct xcap_capture *c;

	if (!e)
		goto out;
	xcap_filter_init(&o.filter);
	c = xcap_capture_start(e, &o);
	CHECK(!c, "a capture into %s", o.path);
	CHECK_EQ(errno, ENOENT);
	xcap_capture_free(c);
out:
	xcap_engine_close(e);
}

#define TESTS(X)                                                      \
	X(the_packet_limit_ends_the_capture_at_the_limit)             \
	X(the_byte_limit_ends_the_capture_at_the_first_frame_over_it) \
	X(the_time_limit_ends_the_capture_at_its_deadline)            \
	X(the_pcap_holds_what_the_sink_got_cut_to_the_snaplen)        \
	X(every_packet_is_counted_in_exactly_one_place)               \
	X(records_a_failed_flush_lost_are_write_errors)               \
	X(a_stopped_capture_is_done_and_keeps_its_counters)           \
	X(an_unwritable_file_starts_no_capture)
#define RUN(fn) RUN_TEST(fn);
#define FAIL(fn) printf("not ok - %s: %s\n", #fn, why);

int main(void)
{
	struct xcap_engine *e;
	char why[160];

	xcap_log_set_level(XCAP_LOG_WARN);
	if (test_tmpdir_init("capture"))
		return 1;
	/* Not root is a failed setup (tests/README.md), never a skip. */
	if (geteuid()) {
		snprintf(why, sizeof(why), "setup: the bpf tier needs root");
		TESTS(FAIL)
		return 1;
	}
	/* An engine that cannot open fails every test with the reason. */
	e = xcap_engine_open(NULL);
	if (!e) {
		snprintf(why, sizeof(why), "xcap_engine_open: %s (errno %d)", strerror(errno),
			 errno);
		TESTS(FAIL)
		return 1;
	}
	xcap_engine_close(e);
	TESTS(RUN)
	return tests_failed_total ? 1 : 0;
}
