// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Unit tier: simple-capture queries over the flight recorder. Each query's
 * pcap file is read back with libpcap and compared with a reference: the
 * samples added, filtered by brute force. No privileges; a temporary folder.
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
/* libpcap and linux/bpf.h both define struct bpf_insn. */
#define PCAP_DONT_INCLUDE_PCAP_BPF_H
#include <pcap/pcap.h>
#include "common/filter.h"
#include "common/frame.h"
#include "frames.h"
#include "agent/query.h"
#include "agent/recorder.h"
#include "recorder_test.h"
#include "test.h"

#define NS 1000000000ULL
#define T0 (1700000040ULL * NS) /* the start of a minute */
#define MIN(m) (T0 + (uint64_t)(m)*60 * NS)
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define REFS_MAX 1024

/* What was added, in order: the reference the queries are checked against. */
struct ref {
	uint64_t ts_ns;
	uint32_t cap_len;
	uint32_t orig_len;
	uint8_t data[XCAP_SAMPLE_BYTES];
};

static struct ref refs[REFS_MAX];
static size_t nrefs;

/* Opens a new recorder and forgets the reference of the last one. */
static struct xcap_recorder *rec_new(const char *name)
{
	nrefs = 0;
	return rec_open(name, 0, 0, 0);
}

/* Adds a frame to the recorder and to the reference. */
static void add_frame(struct xcap_recorder *r, uint64_t ts, const struct frame_opts *o)
{
	uint8_t buf[512];
	struct xcap_packet p = { .ts_ns = ts, .data = buf, .ifindex = 2 };
	struct ref *ref = &refs[nrefs];

	p.cap_len = p.orig_len = frame_build(buf, sizeof(buf), o);
	CHECK(p.cap_len, "cannot build a frame");
	CHECK(nrefs < REFS_MAX, "too many samples");
	if (!p.cap_len || nrefs >= REFS_MAX)
		return;
	CHECK_EQ(xcap_recorder_add(r, &p), 0);
	ref->ts_ns = ts;
	ref->orig_len = p.orig_len;
	ref->cap_len = p.cap_len < XCAP_SAMPLE_BYTES ? p.cap_len : XCAP_SAMPLE_BYTES;
	memcpy(ref->data, buf, ref->cap_len);
	nrefs++;
}

static void add_udp(struct xcap_recorder *r, uint64_t ts, uint16_t sport)
{
	struct frame_opts o = {
		.family = 4, .proto = IPPROTO_UDP, .sport = sport, .dport = 53, .len = 200
	};

	add_frame(r, ts, &o);
}

static int ref_cmp(const void *a, const void *b)
{
	const struct ref *x = *(struct ref *const *)a, *y = *(struct ref *const *)b;

	if (x->ts_ns != y->ts_ns)
		return x->ts_ns < y->ts_ns ? -1 : 1;
	return x < y ? -1 : x > y; /* equal times: in the order they were added */
}

/* The newest q->limit matches of the window, in time order, by brute force. */
static size_t expect(const struct xcap_query *q, const struct ref **out)
{
	struct xcap_tuple t;
	size_t i, n = 0;

	for (i = 0; i < nrefs; i++) {
		xcap_frame_parse(refs[i].data, refs[i].cap_len, &t);
		if (refs[i].ts_ns >= q->from_ns && refs[i].ts_ns < q->to_ns &&
		    xcap_filter_match(&q->filter, &t))
			out[n++] = &refs[i];
	}
	qsort(out, n, sizeof(*out), ref_cmp);
	if (n > q->limit) {
		memmove(out, out + n - q->limit, q->limit * sizeof(*out));
		n = q->limit;
	}
	return n;
}

/* Reads a query's pcap file back with libpcap and compares it with the reference. */
static void check_pcap(const char *what, const char *path, const struct ref **want, size_t n)
{
	char err[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *bytes;
	size_t i;
	pcap_t *p;

	p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, err);
	CHECK(p, "%s: libpcap: %s", what, err);
	if (!p)
		return;
	CHECK_EQ(pcap_datalink(p), 1);
	CHECK_EQ(pcap_snapshot(p), XCAP_SAMPLE_BYTES);
	CHECK_EQ(pcap_get_tstamp_precision(p), PCAP_TSTAMP_PRECISION_NANO);
	for (i = 0; i < n && pcap_next_ex(p, &h, &bytes) == 1; i++) {
		CHECK(h->ts.tv_sec == (time_t)(want[i]->ts_ns / NS) &&
			      h->ts.tv_usec == (suseconds_t)(want[i]->ts_ns % NS),
		      "%s: record %zu time", what, i);
		CHECK(h->caplen == want[i]->cap_len && h->len == want[i]->orig_len &&
			      !memcmp(bytes, want[i]->data, h->caplen),
		      "%s: record %zu differs", what, i);
	}
	CHECK(i == n, "%s: %zu records, want %zu", what, i, n);
	CHECK(pcap_next_ex(p, &h, &bytes) == PCAP_ERROR_BREAK, "%s: more records than %zu", what,
	      n);
	pcap_close(p);
}

/* Runs a query and checks its file and counts against the reference. */
static void check_query(const char *what, struct xcap_recorder *r, const struct xcap_query *q,
			struct xcap_query_stats *st)
{
	static const struct ref *want[REFS_MAX];
	char path[PATH_MAX];
	size_t n = expect(q, want);
	int err;

	test_path(path, PATH_MAX, "out.pcap");
	err = xcap_query_run(r, q, path, st);
	CHECK(!err, "%s: %s", what, strerror(-err));
	if (err)
		return;
	CHECK(st->returned == n, "%s: returned %llu, want %zu", what,
	      (unsigned long long)st->returned, n);
	CHECK(st->matched >= st->returned, "%s: matched < returned", what);
	CHECK(st->segments == st->segments_read + st->segments_skipped + st->segments_unneeded,
	      "%s: segment counts do not add up", what);
	check_pcap(what, path, want, n);
	unlink(path);
}

static struct xcap_query query_of(uint64_t from, uint64_t to, uint32_t limit)
{
	struct xcap_query q = { .from_ns = from, .to_ns = to, .limit = limit };

	xcap_filter_init(&q.filter);
	return q;
}

static void query_window_includes_from_excludes_to(void)
{
	struct xcap_recorder *r = rec_new("window");
	struct xcap_query q = query_of(T0 + 10 * NS, T0 + 20 * NS, 100);
	struct xcap_query_stats st;
	const uint64_t ts[] = { q.from_ns - 1, q.from_ns, q.from_ns + 1,
				q.to_ns - 1,   q.to_ns,	  q.to_ns + 1 };
	size_t i;

	if (!r)
		return;
	for (i = 0; i < ARRAY_SIZE(ts); i++)
		add_udp(r, ts[i], i);
	check_query("window", r, &q, &st);
	CHECK_EQ(st.returned, 3);
	CHECK_EQ(st.segments, 1);
	CHECK_EQ(st.scanned, 6);
	CHECK_EQ(st.oldest_ns, ts[0]);
	CHECK_EQ(st.newest_ns, ts[5]);
	xcap_recorder_close(r);
}

static void query_keeps_the_newest_in_time_order(void)
{
	struct xcap_recorder *r = rec_new("limit");
	struct xcap_query q = query_of(T0, MIN(3), 20);
	struct xcap_query_stats st;
	int m, i;

	if (!r)
		return;
	for (m = 0; m < 3; m++) {
		for (i = 0; i < 50; i++)
			add_udp(r, MIN(m) + i * NS, m * 100 + i);
	}
	/* Late samples, from other CPUs' rings, land in the newest segment. */
	add_udp(r, MIN(2) - 5 * NS, 999);
	/* Samples of the same time as another: kept in the order they were added. */
	for (i = 0; i < 6; i++)
		add_udp(r, MIN(2) + 5 * NS, 900 + i);
	check_query("limit 20", r, &q, &st);
	CHECK_EQ(st.segments_read, 1);
	CHECK_EQ(st.segments_unneeded, 2);
	q.limit = 70;
	check_query("limit 70", r, &q, &st);
	CHECK_EQ(st.segments_read, 2);
	CHECK_EQ(st.segments_unneeded, 1);
	q.limit = XCAP_QUERY_LIMIT_MAX;
	check_query("limit 10000", r, &q, &st);
	CHECK_EQ(st.returned, 157);
	CHECK_EQ(st.segments_read, 3);
	xcap_recorder_close(r);
}

/* An ICMP echo in minute 7; an ARP request and an unparsable frame in minute 2. */
static void add_odd_frames(struct xcap_recorder *r, int m)
{
	struct frame_opts o = { .family = 4, .src = "10.0.7.1", .proto = IPPROTO_ICMP };

	if (m == 7)
		add_frame(r, MIN(7) + 45 * NS, &o);
	if (m != 2)
		return;
	o = (struct frame_opts){ .family = 0 };
	add_frame(r, MIN(2) + 45 * NS, &o);
	/* An IPv4 header cut short. */
	o = (struct frame_opts){ .family = 4, .src = "10.0.2.1", .proto = 6, .len = 20 };
	add_frame(r, MIN(2) + 46 * NS, &o);
}

/*
 * Ten minutes of traffic, each minute its own hosts and ports, so that a
 * selective filter can skip the segments of the others by their index.
 */
static void fill_minutes(struct xcap_recorder *r)
{
	char src[64], dst[64], src6[64];
	struct frame_opts o;
	int m, i;

	for (m = 0; m < 10; m++) {
		snprintf(src, sizeof(src), "10.0.%d.1", m);
		snprintf(dst, sizeof(dst), "192.0.2.%d", m + 1);
		snprintf(src6, sizeof(src6), "2001:db8:%d::1", m);
		for (i = 0; i < 30; i++) {
			o = (struct frame_opts){
				.family = i % 3 ? 4 : 6,
				.src = i % 3 ? src : src6,
				.dst = i % 3 ? dst : NULL,
				.proto = m % 2 ? IPPROTO_UDP : IPPROTO_TCP,
				.sport = 40000 + i,
				.dport = 1000 + m,
				.vlans = m == 4 ? 2 : 0,
				.len = 60 + 10 * i,
			};
			add_frame(r, MIN(m) + i * NS, &o);
		}
		add_odd_frames(r, m);
	}
}

struct filter_case {
	const char *name;
	const char *src, *dst;
	int sport, dport, proto;
	int read; /* segments read; -1: not checked */
};

static const struct filter_case filter_cases[] = {
	{ "src host", "10.0.3.1", NULL, -1, -1, -1, 1 },
	{ "src /24", "10.0.3.0/24", NULL, -1, -1, -1, 1 },
	{ "src /23 (the /16 summary)", "10.0.2.0/23", NULL, -1, -1, -1, 10 },
	{ "src /4 (no summary)", "10.0.0.0/4", NULL, -1, -1, -1, 10 },
	{ "src v6 host", "2001:db8:5::1", NULL, -1, -1, -1, 1 },
	{ "src v6 /48", "2001:db8:6::/48", NULL, -1, -1, -1, 1 },
	{ "src v6 /40 (the /32 summary)", "2001:db8::/40", NULL, -1, -1, -1, 10 },
	{ "dst host", NULL, "192.0.2.9", -1, -1, -1, 1 },
	{ "dport", NULL, NULL, -1, 1005, -1, 1 },
	{ "sport", NULL, NULL, 40029, -1, -1, 10 },
	{ "sport nowhere", NULL, NULL, 39999, -1, -1, 0 },
	{ "icmp", NULL, NULL, -1, -1, IPPROTO_ICMP, 1 },
	{ "udp", NULL, NULL, -1, -1, IPPROTO_UDP, 5 },
	{ "host and port", "10.0.3.1", "192.0.2.4", -1, 1003, IPPROTO_UDP, 1 },
	{ "host and another minute's port", "10.0.3.1", NULL, -1, 1004, -1, 0 },
	{ "QinQ host", "10.0.4.1", NULL, -1, -1, -1, 1 },
	{ "no filter", NULL, NULL, -1, -1, -1, 10 },
};

static void check_filter_cases(struct xcap_recorder *r, const char *when)
{
	struct xcap_query q = query_of(T0, MIN(10), 1000);
	const struct filter_case *c;
	struct xcap_query_stats st;
	char what[128];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(filter_cases); i++) {
		c = &filter_cases[i];
		snprintf(what, sizeof(what), "%s, %s", c->name, when);
		xcap_filter_init(&q.filter);
		if (c->src)
			CHECK_EQ(xcap_filter_set(&q.filter, XCAP_FIELD_SADDR, c->src), 0);
		if (c->dst)
			CHECK_EQ(xcap_filter_set(&q.filter, XCAP_FIELD_DADDR, c->dst), 0);
		if (c->sport >= 0)
			xcap_filter_set_num(&q.filter, XCAP_FIELD_SPORT, c->sport);
		if (c->dport >= 0)
			xcap_filter_set_num(&q.filter, XCAP_FIELD_DPORT, c->dport);
		if (c->proto >= 0)
			xcap_filter_set_num(&q.filter, XCAP_FIELD_PROTO, c->proto);
		check_query(what, r, &q, &st);
		CHECK_EQ(st.segments, 10);
		CHECK(st.segments_read == (uint32_t)c->read, "%s: %u segments read, want %d", what,
		      st.segments_read, c->read);
	}
}

static void query_skips_segments_by_their_index(void)
{
	struct xcap_recorder *r = rec_new("index");

	if (!r)
		return;
	fill_minutes(r);
	/* The newest segment is open: its summary is in memory, not folded yet. */
	check_filter_cases(r, "open");
	xcap_recorder_close(r);
	/* Every index read from its file. */
	r = rec_open("index", 0, 0, 0);
	if (!r)
		return;
	check_filter_cases(r, "reopened");
	xcap_recorder_close(r);
}

static void query_returns_an_empty_pcap(void)
{
	struct xcap_recorder *r = rec_new("empty");
	struct xcap_query q = query_of(T0, MIN(1), 10);
	struct xcap_query_stats st;

	if (!r)
		return;
	/* An empty recorder: no span. */
	check_query("nothing recorded", r, &q, &st);
	CHECK(!st.oldest_ns && !st.newest_ns, "span of an empty recorder");
	add_udp(r, MIN(5), 1);
	add_udp(r, MIN(6), 2);
	/* A window before the span: the span tells the caller what there is. */
	check_query("before the span", r, &q, &st);
	CHECK_EQ(st.returned, 0);
	CHECK_EQ(st.segments, 0);
	CHECK_EQ(st.oldest_ns, MIN(5));
	CHECK_EQ(st.newest_ns, MIN(6));
	/* In the span, no match. */
	q = query_of(MIN(5), MIN(7), 10);
	xcap_filter_set_num(&q.filter, XCAP_FIELD_DPORT, 54);
	check_query("no match", r, &q, &st);
	CHECK_EQ(st.returned, 0);
	CHECK_EQ(st.segments, 2);
	/* Unflushed samples are part of the answer. */
	add_udp(r, MIN(6) + NS, 3);
	xcap_filter_set_num(&q.filter, XCAP_FIELD_DPORT, 53);
	check_query("unflushed", r, &q, &st);
	CHECK_EQ(st.returned, 3);
	xcap_recorder_close(r);
}

static void query_rejects_bad_arguments(void)
{
	struct xcap_recorder *r = rec_new("args");
	struct xcap_query q = query_of(T0, MIN(1), 0);
	struct xcap_query_stats st;
	char path[PATH_MAX];

	if (!r)
		return;
	test_path(path, PATH_MAX, "bad.pcap");
	add_udp(r, T0, 1);
	CHECK_EQ(-xcap_query_run(r, &q, path, &st), EINVAL);
	q.limit = XCAP_QUERY_LIMIT_MAX + 1;
	CHECK_EQ(-xcap_query_run(r, &q, path, &st), EINVAL);
	q = query_of(T0, T0, 1);
	CHECK_EQ(-xcap_query_run(r, &q, path, &st), EINVAL);
	CHECK_EQ(st.oldest_ns, T0); /* the span even so */
	CHECK(access(path, F_OK), "a file for a bad query");
	q = query_of(T0, MIN(1), 1);
	CHECK_EQ(-xcap_query_run(r, &q, "/nonexistent-xcap/out.pcap", &st), ENOENT);
	xcap_recorder_close(r);
}

int main(void)
{
	if (test_tmpdir_init("query"))
		return 1;
	RUN_TEST(query_window_includes_from_excludes_to);
	RUN_TEST(query_keeps_the_newest_in_time_order);
	RUN_TEST(query_skips_segments_by_their_index);
	RUN_TEST(query_returns_an_empty_pcap);
	RUN_TEST(query_rejects_bad_arguments);
	return tests_failed_total ? 1 : 0;
}
