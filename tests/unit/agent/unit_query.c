// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Unit tier: simple-capture queries over the flight recorder. Each query's
 * pcap file is read back with libpcap and compared, byte for byte, with the
 * frames the test says by hand it must hold, and its counts with numbers
 * written in the test: the parser and matcher under test compute no
 * expectation. No privileges; a temporary folder.
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
/* libpcap and linux/bpf.h both define struct bpf_insn. */
#define PCAP_DONT_INCLUDE_PCAP_BPF_H
#include <pcap/pcap.h>
#include <pcap/dlt.h>
#include "common/filter.h"
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

/*
 * What was added, in order, with the test's own name for each frame. The
 * expected answer of a query is written by hand in these terms (which frames,
 * how many), never computed with the parser or the matcher under test.
 */
struct ref {
	uint64_t ts_ns;
	uint32_t cap_len;
	uint32_t orig_len;
	uint8_t data[XCAP_SAMPLE_BYTES];
	int tag; /* a number the test names the frame by (its source port, say) */
	int minute, idx; /* fill_minutes: the minute and the index in it */
	unsigned int kind; /* K_* */
};

enum {
	K_V4 = 1, /* fill_minutes: an IPv4 TCP or UDP frame */
	K_V6 = 2, /* an IPv6 TCP or UDP frame */
	K_ICMP = 4, /* the ICMP echo of minute 7 */
	K_ARP = 8, /* the ARP request of minute 2 */
	K_CUT = 16, /* the IPv4 header cut short of minute 2 */
	K_ALL = 31,
};

static struct ref refs[REFS_MAX];
static size_t nrefs;

/* The expected records of a query, in the order the pcap file must hold them. */
struct want {
	const struct ref *r[REFS_MAX];
	size_t n;
};

/* Opens a new recorder and forgets the reference of the last one. */
static struct xcap_recorder *rec_new(const char *name)
{
	nrefs = 0;
	return rec_open(name, 0, 0, 0);
}

/* Adds a frame of len bytes to the recorder and to the reference; returns the reference. */
static struct ref *add_bytes(struct xcap_recorder *r, uint64_t ts, const uint8_t *buf, uint32_t len,
			     int tag)
{
	struct xcap_packet p = { .ts_ns = ts, .data = buf, .ifindex = 2 };
	struct ref *ref = &refs[nrefs];

	p.cap_len = p.orig_len = len;
	CHECK(len, "cannot build a frame");
	CHECK(nrefs < REFS_MAX, "too many samples");
	if (!len || nrefs >= REFS_MAX)
		return NULL;
	CHECK_EQ(xcap_recorder_add(r, &p), 0);
	*ref = (struct ref){ .ts_ns = ts, .orig_len = len, .tag = tag, .minute = -1, .idx = -1 };
	ref->cap_len = len < XCAP_SAMPLE_BYTES ? len : XCAP_SAMPLE_BYTES;
	memcpy(ref->data, buf, ref->cap_len);
	nrefs++;
	return ref;
}

/* Builds a frame with tests/frames.h and adds it. */
static struct ref *add_frame(struct xcap_recorder *r, uint64_t ts, const struct frame_opts *o,
			     int tag)
{
	uint8_t buf[512];

	return add_bytes(r, ts, buf, frame_build(buf, sizeof(buf), o), tag);
}

/* An IPv4 UDP frame from port sport to 53; the test names it by sport. */
static void add_udp(struct xcap_recorder *r, uint64_t ts, uint16_t sport)
{
	struct frame_opts o = {
		.family = 4, .proto = IPPROTO_UDP, .sport = sport, .dport = 53, .len = 200
	};

	add_frame(r, ts, &o, sport);
}

/* Appends the frames tagged first..last, each of which must have been added once. */
static void want_tags(struct want *w, int first, int last)
{
	size_t i, found;
	int tag;

	for (tag = first; tag <= last; tag++) {
		for (i = 0, found = 0; i < nrefs; i++) {
			if (refs[i].tag != tag)
				continue;
			if (!found++ && w->n < REFS_MAX)
				w->r[w->n++] = &refs[i];
		}
		CHECK(found == 1, "oracle: %zu frames tagged %d", found, tag);
	}
}

/* Reads a query's pcap file back with libpcap and compares it with the expected records. */
static void check_pcap(const char *what, const char *path, const struct want *w)
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
	for (i = 0; i < w->n && pcap_next_ex(p, &h, &bytes) == 1; i++) {
		CHECK(h->ts.tv_sec == (time_t)(w->r[i]->ts_ns / NS) &&
			      h->ts.tv_usec == (suseconds_t)(w->r[i]->ts_ns % NS),
		      "%s: record %zu time", what, i);
		CHECK(h->caplen == w->r[i]->cap_len && h->len == w->r[i]->orig_len &&
			      !memcmp(bytes, w->r[i]->data, h->caplen),
		      "%s: record %zu is not frame %d", what, i, w->r[i]->tag);
	}
	CHECK(i == w->n, "%s: %zu records, want %zu", what, i, w->n);
	CHECK(pcap_next_ex(p, &h, &bytes) == PCAP_ERROR_BREAK, "%s: more records than %zu", what,
	      w->n);
	pcap_close(p);
}

/*
 * Runs a query and checks its file against the records w names, and its
 * counts: `count`, written as a number by the caller, is what w must hold
 * (the oracle checks itself) and what the query must return.
 */
static void check_query(const char *what, struct xcap_recorder *r, const struct xcap_query *q,
			struct xcap_query_stats *st, const struct want *w, size_t count)
{
	char path[PATH_MAX];
	size_t i;
	int err;

	CHECK(w->n == count, "%s: oracle: %zu frames expected, the count says %zu", what, w->n,
	      count);
	for (i = 1; i < w->n; i++)
		CHECK(w->r[i - 1]->ts_ns <= w->r[i]->ts_ns, "%s: oracle: not in time order", what);
	test_path(path, PATH_MAX, "out.pcap");
	err = xcap_query_run(r, q, path, st);
	CHECK(!err, "%s: %s", what, strerror(-err));
	if (err)
		return;
	CHECK(st->returned == count, "%s: returned %llu, want %zu", what,
	      (unsigned long long)st->returned, count);
	CHECK(st->matched >= st->returned, "%s: matched < returned", what);
	CHECK(st->segments == st->segments_read + st->segments_skipped + st->segments_unneeded,
	      "%s: segment counts do not add up", what);
	check_pcap(what, path, w);
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
	static struct want w;
	const uint64_t ts[] = { q.from_ns - 1, q.from_ns, q.from_ns + 1,
				q.to_ns - 1,   q.to_ns,	  q.to_ns + 1 };
	size_t i;

	if (!r)
		return;
	for (i = 0; i < ARRAY_SIZE(ts); i++)
		add_udp(r, ts[i], i);
	/* from, from + 1 ns and to - 1 ns: the frames tagged 1, 2 and 3. */
	w.n = 0;
	want_tags(&w, 1, 3);
	check_query("window", r, &q, &st, &w, 3);
	CHECK_EQ(st.returned, 3);
	CHECK_EQ(st.matched, 3);
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
	static struct want w;
	int m, i;

	if (!r)
		return;
	/* Minute m, second i: the frame tagged m * 100 + i. */
	for (m = 0; m < 3; m++) {
		for (i = 0; i < 50; i++)
			add_udp(r, MIN(m) + i * NS, m * 100 + i);
	}
	/* Late samples, from other CPUs' rings, land in the newest segment. */
	add_udp(r, MIN(2) - 5 * NS, 999);
	/* Samples of the same time as 205: kept in the order they were added, after it. */
	for (i = 0; i < 6; i++)
		add_udp(r, MIN(2) + 5 * NS, 900 + i);
	/* The newest 20: minute 2, seconds 30 to 49. */
	w.n = 0;
	want_tags(&w, 230, 249);
	check_query("limit 20", r, &q, &st, &w, 20);
	CHECK_EQ(st.segments_read, 1);
	CHECK_EQ(st.segments_unneeded, 2);
	CHECK_EQ(st.matched, 57); /* the newest segment: 50 + 6 + the late one */
	/* The newest 70: minute 1 from second 37, the late one, all of minute 2. */
	q.limit = 70;
	w.n = 0;
	want_tags(&w, 137, 149);
	want_tags(&w, 999, 999);
	want_tags(&w, 200, 205);
	want_tags(&w, 900, 905);
	want_tags(&w, 206, 249);
	check_query("limit 70", r, &q, &st, &w, 70);
	CHECK_EQ(st.segments_read, 2);
	CHECK_EQ(st.segments_unneeded, 1);
	CHECK_EQ(st.matched, 107);
	/* Everything, in time order. */
	q.limit = XCAP_QUERY_LIMIT_MAX;
	w.n = 0;
	want_tags(&w, 0, 49);
	want_tags(&w, 100, 149);
	want_tags(&w, 999, 999);
	want_tags(&w, 200, 205);
	want_tags(&w, 900, 905);
	want_tags(&w, 206, 249);
	check_query("limit 10000", r, &q, &st, &w, 157);
	CHECK_EQ(st.returned, 157);
	CHECK_EQ(st.matched, 157);
	CHECK_EQ(st.segments_read, 3);
	xcap_recorder_close(r);
}

/*
 * Equal times in two segments of one minute (xcapd restarted): the sample
 * recorded later is the newer one, so the segment made after the restart is
 * read although its newest sample is only as new as the oldest one kept.
 */
static void query_reads_a_segment_tied_with_the_oldest_kept(void)
{
	struct xcap_recorder *r = rec_new("tie");
	struct xcap_query q = query_of(T0, MIN(1), 2);
	struct xcap_query_stats st;
	static struct want w;

	if (!r)
		return;
	add_udp(r, T0 + 10 * NS, 1);
	add_udp(r, T0 + 30 * NS, 2);
	xcap_recorder_close(r);
	r = rec_open("tie", 0, 0, 0);
	if (!r)
		return;
	add_udp(r, T0 + 10 * NS, 3);
	w.n = 0;
	want_tags(&w, 3, 3);
	want_tags(&w, 2, 2);
	check_query("tie", r, &q, &st, &w, 2);
	CHECK_EQ(st.segments_read, 2);
	xcap_recorder_close(r);
}

/* An ICMP echo in minute 7; an ARP request and an unparsable frame in minute 2. */
static void add_odd_frames(struct xcap_recorder *r, int m)
{
	struct frame_opts o = { .family = 4, .src = "10.0.7.1", .proto = IPPROTO_ICMP };
	struct ref *ref;

	if (m == 7 && (ref = add_frame(r, MIN(7) + 45 * NS, &o, 7045))) {
		ref->minute = 7;
		ref->kind = K_ICMP;
	}
	if (m != 2)
		return;
	o = (struct frame_opts){ .family = 0 };
	if ((ref = add_frame(r, MIN(2) + 45 * NS, &o, 2045))) {
		ref->minute = 2;
		ref->kind = K_ARP;
	}
	/* An IPv4 TCP header cut short: matches no filter naming anything. */
	o = (struct frame_opts){ .family = 4, .src = "10.0.2.1", .proto = 6, .len = 20 };
	if ((ref = add_frame(r, MIN(2) + 46 * NS, &o, 2046))) {
		ref->minute = 2;
		ref->kind = K_CUT;
	}
}

/*
 * Ten minutes of traffic, each minute its own hosts and ports, so that a
 * selective filter can skip the segments of the others by their index.
 * Minute m (0-9), second i (0-29): IPv6 when i % 3 == 0 (10 a minute) from
 * 2001:db8:m::1 to 2001:db8::2, else IPv4 (20 a minute) from 10.0.m.1 to
 * 192.0.2.(m + 1); UDP in odd minutes, TCP in even ones; from port 40000 + i
 * to port 1000 + m; 60 + 10 * i bytes long; minute 4 in two VLAN tags (QinQ),
 * which cuts its first frame (IPv6, 60 bytes) short. Then the odd frames.
 */
static void fill_minutes(struct xcap_recorder *r)
{
	char src[64], dst[64], src6[64];
	struct frame_opts o;
	struct ref *ref;
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
			ref = add_frame(r, MIN(m) + i * NS, &o, m * 1000 + i);
			if (ref) {
				ref->minute = m;
				ref->idx = i;
				ref->kind = i % 3 ? K_V4 : K_V6;
				/* 60 bytes cannot hold two tags and an IPv6 header. */
				if (m == 4 && i == 0)
					ref->kind = K_CUT;
			}
		}
		add_odd_frames(r, m);
	}
}

#define M(m) (1u << (m))
#define M_ALL 0x3ffu
#define M_ODD (M(1) | M(3) | M(5) | M(7) | M(9))
#define M_EVEN (M(0) | M(2) | M(4) | M(6) | M(8))

struct filter_case {
	const char *name;
	const char *src, *dst;
	int sport, dport, proto;
	/* The answer, by hand: the frames of these minutes and kinds (and index, unless -1). */
	unsigned int minutes, kinds;
	int idx;
	size_t count; /* how many that is */
	int read; /* segments read */
};

static const struct filter_case filter_cases[] = {
	{ "src host", "10.0.3.1", NULL, -1, -1, -1, M(3), K_V4, -1, 20, 1 },
	{ "src /24", "10.0.3.0/24", NULL, -1, -1, -1, M(3), K_V4, -1, 20, 1 },
	{ "src /23 (the /16 summary)", "10.0.2.0/23", NULL, -1, -1, -1, M(2) | M(3), K_V4, -1, 40,
	  10 },
	{ "src /23 written with host bits", "10.0.3.77/23", NULL, -1, -1, -1, M(2) | M(3), K_V4, -1,
	  40, 10 },
	{ "src /4 (no summary)", "10.0.0.0/4", NULL, -1, -1, -1, M_ALL, K_V4 | K_ICMP, -1, 201,
	  10 },
	{ "src v6 host", "2001:db8:5::1", NULL, -1, -1, -1, M(5), K_V6, -1, 10, 1 },
	{ "src v6 /48", "2001:db8:6::/48", NULL, -1, -1, -1, M(6), K_V6, -1, 10, 1 },
	{ "src v6 /47 (the /32 summary)", "2001:db8:4::/47", NULL, -1, -1, -1, M(4) | M(5), K_V6,
	  -1, 19, 10 },
	{ "src v6 /40 (the /32 summary)", "2001:db8::/40", NULL, -1, -1, -1, M_ALL, K_V6, -1, 99,
	  10 },
	{ "dst host", NULL, "192.0.2.9", -1, -1, -1, M(8), K_V4, -1, 20, 1 },
	{ "dst /30 (the /24 summary)", NULL, "192.0.2.8/30", -1, -1, -1, M(7) | M(8) | M(9), K_V4,
	  -1, 60, 10 },
	{ "dport", NULL, NULL, -1, 1005, -1, M(5), K_V4 | K_V6, -1, 30, 1 },
	{ "sport", NULL, NULL, 40029, -1, -1, M_ALL, K_V4, 29, 10, 10 },
	{ "sport nowhere", NULL, NULL, 39999, -1, -1, 0, 0, -1, 0, 0 },
	{ "icmp", NULL, NULL, -1, -1, IPPROTO_ICMP, M(7), K_ICMP, -1, 1, 1 },
	{ "udp", NULL, NULL, -1, -1, IPPROTO_UDP, M_ODD, K_V4 | K_V6, -1, 150, 5 },
	{ "tcp (not the header cut short)", NULL, NULL, -1, -1, IPPROTO_TCP, M_EVEN, K_V4 | K_V6,
	  -1, 149, 5 },
	{ "host and port", "10.0.3.1", "192.0.2.4", -1, 1003, IPPROTO_UDP, M(3), K_V4, -1, 20, 1 },
	{ "host and another minute's port", "10.0.3.1", NULL, -1, 1004, -1, 0, 0, -1, 0, 0 },
	{ "QinQ host", "10.0.4.1", NULL, -1, -1, -1, M(4), K_V4, -1, 20, 1 },
	{ "no filter", NULL, NULL, -1, -1, -1, M_ALL, K_ALL, -1, 303, 10 },
};

/* The frames a case names, in the order added (time order in fill_minutes). */
static void want_case(struct want *w, const struct filter_case *c)
{
	size_t i;

	w->n = 0;
	for (i = 0; i < nrefs; i++) {
		if (refs[i].minute >= 0 && c->minutes & M(refs[i].minute) &&
		    refs[i].kind & c->kinds && (c->idx < 0 || refs[i].idx == c->idx))
			w->r[w->n++] = &refs[i];
	}
}

static void check_filter_cases(struct xcap_recorder *r, const char *when)
{
	struct xcap_query q = query_of(T0, MIN(10), 1000);
	const struct filter_case *c;
	struct xcap_query_stats st;
	static struct want w;
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
		want_case(&w, c);
		check_query(what, r, &q, &st, &w, c->count);
		CHECK(st.matched == c->count, "%s: matched %llu, want %zu", what,
		      (unsigned long long)st.matched, c->count);
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
	CHECK_EQ(nrefs, 303);
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

/*
 * host and port (either direction): the frames with the value on either side.
 * The index does not summarize them, so every segment is read.
 */
static void query_takes_either_direction(void)
{
	static const struct {
		const char *host;
		int port;
		struct filter_case want;
	} cases[] = {
		{ "10.0.3.1",
		  -1,
		  { "host: the source", .minutes = M(3), .kinds = K_V4, .idx = -1, .count = 20 } },
		{ "192.0.2.9",
		  -1,
		  { "host: the destination", .minutes = M(8), .kinds = K_V4, .idx = -1,
		    .count = 20 } },
		{ "2001:db8:6::/48",
		  -1,
		  { "host: a v6 source prefix", .minutes = M(6), .kinds = K_V6, .idx = -1,
		    .count = 10 } },
		{ NULL,
		  1003,
		  { "port: the destination", .minutes = M(3), .kinds = K_V4 | K_V6, .idx = -1,
		    .count = 30 } },
		{ NULL,
		  40029,
		  { "port: the source", .minutes = M_ALL, .kinds = K_V4, .idx = 29, .count = 10 } },
		{ "192.0.2.4",
		  40001,
		  { "host and port, each on its side", .minutes = M(3), .kinds = K_V4, .idx = 1,
		    .count = 1 } },
	};
	struct xcap_recorder *r = rec_new("either");
	struct xcap_query q = query_of(T0, MIN(10), 1000);
	struct xcap_query_stats st;
	static struct want w;
	size_t i;

	if (!r)
		return;
	fill_minutes(r);
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		xcap_filter_init(&q.filter);
		if (cases[i].host)
			CHECK_EQ(xcap_filter_set(&q.filter, XCAP_FIELD_ADDR, cases[i].host), 0);
		if (cases[i].port >= 0)
			xcap_filter_set_num(&q.filter, XCAP_FIELD_PORT, cases[i].port);
		want_case(&w, &cases[i].want);
		check_query(cases[i].want.name, r, &q, &st, &w, cases[i].want.count);
		CHECK(st.segments_read == 10, "%s: %u segments read, want all 10",
		      cases[i].want.name, st.segments_read);
	}
	xcap_recorder_close(r);
}

/*
 * Frames written out byte by byte: Ethernet (02:00:00:00:00:01 to :02), IPv4
 * without options (DF, TTL 64), UDP 12345 -> 53, from 198.51.100.0 to
 * 203.0.113.0 (the last bytes are set per frame). The parser checks no
 * checksum: it is left zero.
 */
static const uint8_t udp4_frame[42] = {
	0x02, 0x00, 0x00, 0x00, 0x00, 0x02, /* Ethernet: destination */
	0x02, 0x00, 0x00, 0x00, 0x00, 0x01, /* source */
	0x08, 0x00, /* type: IPv4 */
	0x45, 0x00, 0x00, 0x1c, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, /* IPv4, UDP */
	198,  51,   100,  0, /* source */
	203,  0,    113,  0, /* destination */
	0x30, 0x39, 0x00, 0x35, 0x00, 0x08, 0x00, 0x00, /* UDP */
};
#define UDP4_SRC 26
#define UDP4_DST 30

/* Ethernet, IPv6 (hop limit 64), TCP 443 -> 40000 SYN, from 2001:db8::1 to 2001:db8:ffff::2. */
static const uint8_t tcp6_frame[74] = {
	0x02, 0x00, 0x00, 0x00, 0x00, 0x02, /* Ethernet: destination */
	0x02, 0x00, 0x00, 0x00, 0x00, 0x01, /* source */
	0x86, 0xdd, /* type: IPv6 */
	0x60, 0x00, 0x00, 0x00, 0x00, 0x14, 0x06, 0x40, /* IPv6: 20 bytes of TCP follow */
	0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, /* source */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, /* */
	0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff, 0x00, 0x00, /* destination */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, /* */
	0x01, 0xbb, 0x9c, 0x40, 0x00, 0x00, 0x00, 0x00, /* TCP: ports, sequence */
	0x00, 0x00, 0x00, 0x00, 0x50, 0x02, 0xff, 0xff, /* ack, offset, SYN, window */
	0x00, 0x00, 0x00, 0x00, /* checksum, urgent */
};
#define TCP6_SRC 22

/*
 * Frames 0-4: IPv4 198.51.100.X -> 203.0.113.X for X = 0x7f, 0x80, 0xbf,
 * 0xc0, 0xff, on either side of the prefix bits below; frame 5:
 * 198.51.101.128 -> 203.0.112.128. Frames 6-10: IPv6 2001:db8:0:X::1 for the
 * same X (byte 7 of the address); frame 11: 2001:db8:0:280::1.
 */
static void add_bit_frames(struct xcap_recorder *r)
{
	static const uint8_t x[5] = { 0x7f, 0x80, 0xbf, 0xc0, 0xff };
	uint8_t f[sizeof(tcp6_frame)];
	int i;

	for (i = 0; i < 6; i++) {
		memcpy(f, udp4_frame, sizeof(udp4_frame));
		f[UDP4_SRC + 3] = f[UDP4_DST + 3] = i < 5 ? x[i] : 0x80;
		if (i == 5) {
			f[UDP4_SRC + 2] = 101;
			f[UDP4_DST + 2] = 112;
		}
		add_bytes(r, T0 + i * NS, f, sizeof(udp4_frame), i);
	}
	for (i = 6; i < 12; i++) {
		memcpy(f, tcp6_frame, sizeof(tcp6_frame));
		f[TCP6_SRC + 7] = i < 11 ? x[i - 6] : 0x80;
		if (i == 11)
			f[TCP6_SRC + 6] = 0x02;
		add_bytes(r, T0 + i * NS, f, sizeof(tcp6_frame), i);
	}
}

#define F(n) (1u << (n))
#define F_V4 0x03fu /* frames 0-5 */
#define F_V6 0xfc0u /* frames 6-11 */

static const struct bit_case {
	const char *src, *dst;
	int sport, dport, proto;
	unsigned int frames; /* the frames that match, by hand */
	size_t count;
} bit_cases[] = {
	{ "198.51.100.128/25", NULL, -1, -1, -1, F(1) | F(2) | F(3) | F(4), 4 },
	{ "198.51.100.128/26", NULL, -1, -1, -1, F(1) | F(2), 2 },
	{ "198.51.100.192/26", NULL, -1, -1, -1, F(3) | F(4), 2 },
	{ "198.51.100.128/31", NULL, -1, -1, -1, F(1), 1 },
	{ "198.51.100.191", NULL, -1, -1, -1, F(2), 1 },
	{ "198.51.100.0/24", NULL, -1, -1, -1, F(0) | F(1) | F(2) | F(3) | F(4), 5 },
	{ "198.51.100.0/23", NULL, -1, -1, -1, F_V4, 6 },
	{ "198.51.101.200/23", NULL, -1, -1, -1, F_V4, 6 },
	{ "128.0.0.0/1", NULL, -1, -1, -1, F_V4, 6 },
	{ "0.0.0.0/1", NULL, -1, -1, -1, 0, 0 },
	{ "0.0.0.0/0", NULL, -1, -1, -1, F_V4, 6 },
	{ NULL, "203.0.113.128/25", -1, -1, -1, F(1) | F(2) | F(3) | F(4), 4 },
	{ NULL, "203.0.112.0/24", -1, -1, -1, F(5), 1 },
	{ "198.51.100.128/25", "203.0.113.192/26", -1, -1, -1, F(3) | F(4), 2 },
	{ "2001:db8:0:80::/57", NULL, -1, -1, -1, F(7) | F(8) | F(9) | F(10), 4 },
	{ "2001:db8:0:80::/58", NULL, -1, -1, -1, F(7) | F(8), 2 },
	{ "2001:db8:0:c0::/58", NULL, -1, -1, -1, F(9) | F(10), 2 },
	{ "2001:db8:0:80::/64", NULL, -1, -1, -1, F(7), 1 },
	{ "2001:db8:0:ff::1", NULL, -1, -1, -1, F(10), 1 },
	{ "2001:db8::/48", NULL, -1, -1, -1, F_V6, 6 },
	{ "2001:db8::/55", NULL, -1, -1, -1, F(6) | F(7) | F(8) | F(9) | F(10), 5 },
	{ "2001:db8:0:200::/55", NULL, -1, -1, -1, F(11), 1 },
	{ "::/0", NULL, -1, -1, -1, F_V6, 6 },
	{ NULL, "2001:db8:fffe::/47", -1, -1, -1, F_V6, 6 },
	{ NULL, "2001:db8:fffe::/48", -1, -1, -1, 0, 0 },
	{ NULL, NULL, 12345, -1, -1, F_V4, 6 },
	{ NULL, NULL, -1, 53, -1, F_V4, 6 },
	{ NULL, NULL, 443, -1, -1, F_V6, 6 },
	{ NULL, NULL, -1, 40000, -1, F_V6, 6 },
	{ NULL, NULL, 53, -1, -1, 0, 0 },
	{ NULL, NULL, -1, -1, IPPROTO_UDP, F_V4, 6 },
	{ NULL, NULL, -1, -1, IPPROTO_TCP, F_V6, 6 },
};

/* Every bit of a prefix counts, and none past it: frames written byte by byte. */
static void query_matches_prefixes_to_the_bit(void)
{
	struct xcap_recorder *r = rec_new("bits");
	struct xcap_query q = query_of(T0, MIN(1), 100);
	const struct bit_case *c;
	struct xcap_query_stats st;
	static struct want w;
	char what[128];
	size_t i;
	int f;

	if (!r)
		return;
	add_bit_frames(r);
	CHECK_EQ(nrefs, 12);
	for (i = 0; i < ARRAY_SIZE(bit_cases); i++) {
		c = &bit_cases[i];
		snprintf(what, sizeof(what), "src %s dst %s sport %d dport %d proto %d",
			 c->src ?: "any", c->dst ?: "any", c->sport, c->dport, c->proto);
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
		w.n = 0;
		for (f = 0; f < 12; f++) {
			if (c->frames & F(f))
				want_tags(&w, f, f);
		}
		check_query(what, r, &q, &st, &w, c->count);
		CHECK(st.matched == c->count, "%s: matched %llu, want %zu", what,
		      (unsigned long long)st.matched, c->count);
	}
	xcap_recorder_close(r);
}

static void query_returns_an_empty_pcap(void)
{
	struct xcap_recorder *r = rec_new("empty");
	struct xcap_query q = query_of(T0, MIN(1), 10);
	struct xcap_query_stats st;
	static struct want w;

	if (!r)
		return;
	/* An empty recorder: no span. */
	w.n = 0;
	check_query("nothing recorded", r, &q, &st, &w, 0);
	CHECK(!st.oldest_ns && !st.newest_ns, "span of an empty recorder");
	add_udp(r, MIN(5), 1);
	add_udp(r, MIN(6), 2);
	/* A window before the span: the span tells the caller what there is. */
	check_query("before the span", r, &q, &st, &w, 0);
	CHECK_EQ(st.returned, 0);
	CHECK_EQ(st.segments, 0);
	CHECK_EQ(st.oldest_ns, MIN(5));
	CHECK_EQ(st.newest_ns, MIN(6));
	/* In the span, no match: the frames go to port 53. */
	q = query_of(MIN(5), MIN(7), 10);
	xcap_filter_set_num(&q.filter, XCAP_FIELD_DPORT, 54);
	check_query("no match", r, &q, &st, &w, 0);
	CHECK_EQ(st.returned, 0);
	CHECK_EQ(st.matched, 0);
	CHECK_EQ(st.segments, 2);
	/* Unflushed samples are part of the answer. */
	add_udp(r, MIN(6) + NS, 3);
	xcap_filter_set_num(&q.filter, XCAP_FIELD_DPORT, 53);
	want_tags(&w, 1, 3);
	check_query("unflushed", r, &q, &st, &w, 3);
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

/* --- tunnels and L3 interfaces --- */

/* A tunnel frame of tests/frames.h, added with its tag. */
static void add_tunnel(struct xcap_recorder *r, uint64_t ts, const struct tunnel_opts *t, int tag)
{
	uint8_t buf[512];

	add_bytes(r, ts, buf, frame_build_tunnel(buf, sizeof(buf), t), tag);
}

#define FLOW(d) .family = 4, .dst = d, .proto = IPPROTO_TCP, .sport = 40000, .dport = 443
#define OUTER4 .family = 4, .src = "192.0.2.10", .dst = "198.51.100.20"

static void query_looks_inside_tunnels(void)
{
	struct xcap_recorder *r = rec_new("tunnels");
	const struct tunnel_opts vxlan = { .encap = FRAME_VXLAN,
					   .outer = { OUTER4 },
					   .inner = { FLOW("10.9.0.2") } };
	const struct tunnel_opts gre = { .encap = FRAME_GRE,
					 .outer = { OUTER4 },
					 .inner = { FLOW("10.9.0.3") },
					 .gre_key = true };
	const struct frame_opts plain = { FLOW("10.9.0.2") };
	struct xcap_query q = query_of(MIN(2), MIN(5), 100);
	struct xcap_query_stats st;
	static struct want w;
	int pass;

	if (!r)
		return;
	/* Minute 2: the flow in VXLAN (1) and outside a tunnel (2); 3: another in GRE; 4: udp. */
	add_tunnel(r, MIN(2), &vxlan, 1);
	add_frame(r, MIN(2) + NS, &plain, 2);
	add_tunnel(r, MIN(3), &gre, 3);
	add_udp(r, MIN(4), 4);
	for (pass = 0; pass < 2; pass++) {
		q.filter.set = 0;
		xcap_filter_set(&q.filter, XCAP_FIELD_DADDR, "10.9.0.2");
		xcap_filter_set_num(&q.filter, XCAP_FIELD_DPORT, 443);
		q.filter.tunnel = XCAP_TUNNEL_ANY;
		w.n = 0;
		want_tags(&w, 1, 2);
		check_query("the flow at any level", r, &q, &st, &w, 2);
		q.filter.tunnel = XCAP_TUNNEL_INNER;
		w.n = 0;
		want_tags(&w, 1, 1);
		check_query("the flow inside tunnels", r, &q, &st, &w, 1);
		q.filter.tunnel = XCAP_TUNNEL_OUTER;
		w.n = 0;
		want_tags(&w, 2, 2);
		check_query("the flow outside tunnels", r, &q, &st, &w, 1);
		/* The index holds the inner addresses: the two other minutes are skipped. */
		q.filter.set = 0;
		q.filter.tunnel = XCAP_TUNNEL_ANY;
		xcap_filter_set(&q.filter, XCAP_FIELD_DADDR, "10.9.0.3");
		w.n = 0;
		want_tags(&w, 3, 3);
		check_query("inner address by the index", r, &q, &st, &w, 1);
		CHECK_EQ(st.segments_read, 1);
		CHECK_EQ(st.segments_skipped, 2);
		/* Every tunnelled sample: no field, the inner level. */
		q.filter.set = 0;
		q.filter.tunnel = XCAP_TUNNEL_INNER;
		w.n = 0;
		want_tags(&w, 1, 1);
		want_tags(&w, 3, 3);
		check_query("every tunnelled sample", r, &q, &st, &w, 2);
		/* Again from the index files. */
		xcap_recorder_close(r);
		r = rec_open("tunnels", 0, 0, 0);
		if (!r)
			return;
	}
	xcap_recorder_close(r);
}

/* Reads a one-record pcap file: its link type (LINKTYPE_RAW 101 reads as DLT_RAW), snaplen. */
static void check_one_record(const char *what, const char *path, int linktype, int snaplen,
			     const uint8_t *want, uint32_t len, uint32_t orig_len)
{
	char err[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *bytes;
	pcap_t *p;

	p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, err);
	CHECK(p, "%s: libpcap: %s", what, err);
	if (!p)
		return;
	CHECK(pcap_datalink(p) == linktype, "%s: link type %d", what, pcap_datalink(p));
	CHECK(pcap_snapshot(p) == snaplen, "%s: snaplen %d", what, pcap_snapshot(p));
	CHECK(pcap_next_ex(p, &h, &bytes) == 1 && h->caplen == len && h->len == orig_len &&
		      !memcmp(bytes, want, len),
	      "%s: the record", what);
	pcap_close(p);
}

static void query_writes_raw_ip_for_l3_interfaces(void)
{
	struct xcap_recorder *r = rec_new("l3");
	const struct frame_opts raw = { FLOW("10.9.0.2"), .l3 = true };
	struct xcap_packet pkt = { .ts_ns = MIN(2), .ifindex = 7, .flags = XCAP_REC_L3 };
	uint8_t buf[128], eth[128] = { [12] = 0x08 };
	struct xcap_query q = query_of(MIN(2), MIN(3), 10);
	struct xcap_query_stats st;
	char path[PATH_MAX];
	uint32_t len;

	if (!r)
		return;
	len = frame_build(buf, sizeof(buf), &raw);
	pkt.data = buf;
	pkt.cap_len = len;
	pkt.orig_len = len + 100;
	CHECK_EQ(xcap_recorder_add(r, &pkt), 0);
	test_path(path, PATH_MAX, "l3.pcap");
	xcap_filter_set(&q.filter, XCAP_FIELD_DADDR, "10.9.0.2");
	CHECK_EQ(xcap_query_run(r, &q, path, &st), 0);
	check_one_record("raw ip samples only", path, DLT_RAW, XCAP_SAMPLE_BYTES, buf, len,
			 len + 100);
	/* With an Ethernet sample, the raw one gets a made-up Ethernet header. */
	add_udp(r, MIN(2) + NS, 1);
	q.filter.set = 0;
	unlink(path);
	CHECK_EQ(xcap_query_run(r, &q, path, &st), 0);
	CHECK_EQ(st.returned, 2);
	memcpy(eth + 14, buf, len);
	check_one_record("raw ip and ethernet", path, 1, XCAP_SAMPLE_BYTES + 14, eth, len + 14,
			 len + 114);
	unlink(path);
	xcap_recorder_close(r);
}

int main(void)
{
	if (test_tmpdir_init("query"))
		return 1;
	RUN_TEST(query_window_includes_from_excludes_to);
	RUN_TEST(query_keeps_the_newest_in_time_order);
	RUN_TEST(query_reads_a_segment_tied_with_the_oldest_kept);
	RUN_TEST(query_skips_segments_by_their_index);
	RUN_TEST(query_takes_either_direction);
	RUN_TEST(query_matches_prefixes_to_the_bit);
	RUN_TEST(query_returns_an_empty_pcap);
	RUN_TEST(query_rejects_bad_arguments);
	RUN_TEST(query_looks_inside_tunnels);
	RUN_TEST(query_writes_raw_ip_for_l3_interfaces);
	return tests_failed_total ? 1 : 0;
}
