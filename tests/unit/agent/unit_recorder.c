// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Unit tier: the userspace frame parser and matcher (the XDP program's rules),
 * and the flight recorder: segments, restart, torn records, foreign files,
 * retention, rate cap, write errors. No privileges; a temporary folder.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common/filter.h"
#include "frames.h"
#include "common/log.h"
#include "agent/recorder.h"
#include "recorder_test.h"
#include "test.h"

#define NS 1000000000ULL
#define T0 (1700000040ULL * NS) /* the start of a minute */
#define MIN(m) (T0 + (uint64_t)(m)*60 * NS)
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Frame parser. */
struct want {
	int rc;
	int family;
	int proto;
	bool ports;
	int sport, dport;
};

#define WANT_PORTS(fam, pr, s, d) \
	(&(struct want){          \
		.family = (fam), .proto = (pr), .ports = true, .sport = (s), .dport = (d) })
#define WANT_IP(fam, pr) (&(struct want){ .family = (fam), .proto = (pr) })
#define WANT_NON_IP (&(struct want){ .family = 0 })
#define WANT_ERROR (&(struct want){ .rc = -EINVAL })

static void check_parse(const char *what, const uint8_t *buf, size_t len, const struct want *w)
{
	struct xcap_tuple t;
	int rc;

	memset(&t, 0x55, sizeof(t));
	rc = xcap_filter_parse_frame(buf, len, &t);
	CHECK(rc == w->rc, "%s: rc %d, want %d", what, rc, w->rc);
	CHECK(t.family == w->family, "%s: family %d, want %d", what, t.family, w->family);
	if (w->family)
		CHECK(t.proto == w->proto, "%s: proto %d, want %d", what, t.proto, w->proto);
	CHECK(t.has_ports == w->ports, "%s: has_ports %d", what, t.has_ports);
	if (w->ports)
		CHECK(t.sport == w->sport && t.dport == w->dport, "%s: ports %u > %u", what,
		      t.sport, t.dport);
	if (!w->family) {
		static const struct xcap_tuple zero;

		CHECK(!memcmp(&t, &zero, sizeof(t)), "%s: tuple of a non-IP frame is not zero",
		      what);
	}
}

/* Builds o, cut to len bytes when len is not 0, and checks how it parses. */
static void check_frame(const char *what, struct frame_opts o, size_t cut, const struct want *w)
{
	uint8_t buf[512];
	size_t len = frame_build(buf, sizeof(buf), &o);

	CHECK(len, "%s: cannot build", what);
	check_parse(what, buf, cut && cut < len ? cut : len, w);
}

static void parser_reads_ip_frames(void)
{
	const struct want *tcp = WANT_PORTS(4, IPPROTO_TCP, 1234, 80);
	struct frame_opts o = { .family = 4, .proto = IPPROTO_TCP, .sport = 1234, .dport = 80 };
	uint8_t buf[256], saddr[4];
	struct xcap_tuple t;

	check_frame("v4 tcp", o, 0, tcp);
	o.proto = IPPROTO_UDP;
	check_frame("v4 udp", o, 0, WANT_PORTS(4, IPPROTO_UDP, 1234, 80));
	o.proto = IPPROTO_SCTP;
	check_frame("v4 sctp", o, 0, WANT_PORTS(4, IPPROTO_SCTP, 1234, 80));
	o.proto = IPPROTO_ICMP;
	check_frame("v4 icmp", o, 0, WANT_IP(4, IPPROTO_ICMP));
	o = (struct frame_opts){ .family = 6, .proto = IPPROTO_TCP, .sport = 1234, .dport = 80 };
	check_frame("v6 tcp", o, 0, WANT_PORTS(6, IPPROTO_TCP, 1234, 80));
	o.proto = IPPROTO_UDP;
	check_frame("v6 udp", o, 0, WANT_PORTS(6, IPPROTO_UDP, 1234, 80));
	o.proto = IPPROTO_ICMPV6;
	check_frame("v6 icmp6", o, 0, WANT_IP(6, IPPROTO_ICMPV6));
	check_frame("arp", (struct frame_opts){ .family = 0 }, 0, WANT_NON_IP);

	o = (struct frame_opts){ .family = 4, .src = "10.1.2.3", .dst = "10.4.5.6", .proto = 6 };
	xcap_filter_parse_frame(buf, frame_build(buf, sizeof(buf), &o), &t);
	inet_pton(AF_INET, "10.1.2.3", saddr);
	CHECK(!memcmp(t.saddr, saddr, 4), "source address");
	inet_pton(AF_INET, "10.4.5.6", saddr);
	CHECK(!memcmp(t.daddr, saddr, 4), "destination address");
}

static void parser_reads_vlans_and_options(void)
{
	struct frame_opts o = { .family = 4, .proto = IPPROTO_TCP, .sport = 1, .dport = 2 };
	const struct want *tcp4 = WANT_PORTS(4, IPPROTO_TCP, 1, 2);
	uint8_t buf[256];
	size_t len;

	o.vlans = 1;
	check_frame("802.1Q", o, 0, tcp4);
	o.vlans = 2;
	check_frame("QinQ", o, 0, tcp4);
	/* A third tag: the ethertype after two tags is a tag, so the frame is not IP. */
	len = frame_build(buf + 4, sizeof(buf) - 4, &o);
	memmove(buf, buf + 4, 12);
	memcpy(buf + 12, "\x81\x00\x00\x66", 4);
	check_parse("three tags", buf, len + 4, WANT_NON_IP);
	o.vlans = 0;
	o.ip_opts = 40;
	check_frame("v4 40 bytes of options", o, 0, tcp4);
	o = (struct frame_opts){ .family = 6, .proto = IPPROTO_UDP, .sport = 1, .dport = 2 };
	o.hop_by_hop = o.dest_opts = true;
	o.vlans = 2;
	check_frame("v6 hop-by-hop, dstopts, QinQ", o, 0, WANT_PORTS(6, IPPROTO_UDP, 1, 2));
}

static void parser_handles_fragments(void)
{
	struct frame_opts o = { .family = 4, .proto = IPPROTO_TCP, .sport = 1, .dport = 2 };

	o.more_frags = true;
	check_frame("v4 first fragment", o, 0, WANT_PORTS(4, IPPROTO_TCP, 1, 2));
	o.frag_off = 100;
	o.len = 120;
	check_frame("v4 later fragment", o, 0, WANT_IP(4, IPPROTO_TCP));
	o.family = 6;
	o.frag_off = 0;
	o.len = 0;
	check_frame("v6 first fragment", o, 0, WANT_PORTS(6, IPPROTO_TCP, 1, 2));
	o.frag_off = 100;
	o.len = 120;
	check_frame("v6 later fragment", o, 0, WANT_IP(6, IPPROTO_TCP));
}

/* Ethernet + IPv6 + a chain of extension headers + TCP ports 7 > 8. */
static size_t v6_chain(uint8_t *buf, const uint8_t *types, int n)
{
	size_t off = 14 + 40, len;
	uint8_t *next = buf + 14 + 6;
	int i;

	memset(buf, 0, 256);
	buf[12] = 0x86;
	buf[13] = 0xdd;
	buf[14] = 0x60;
	for (i = 0; i < n; i++) {
		*next = types[i];
		next = buf + off;
		/* AH counts 4-byte words minus 2; the others 8-byte units minus 1. */
		len = types[i] == IPPROTO_AH ? 12 : 8;
		buf[off + 1] = types[i] == IPPROTO_AH ? 1 : 0;
		off += len;
	}
	*next = IPPROTO_TCP;
	buf[off + 1] = 7;
	buf[off + 3] = 8;
	return off + 20;
}

static void parser_limits_ipv6_extension_headers(void)
{
	static const uint8_t types[] = { IPPROTO_HOPOPTS,  IPPROTO_ROUTING, IPPROTO_AH,
					 IPPROTO_FRAGMENT, IPPROTO_DSTOPTS, IPPROTO_DSTOPTS };
	const struct want *tcp = WANT_PORTS(6, IPPROTO_TCP, 7, 8);
	uint8_t buf[256];
	size_t len;

	check_parse("v6 no ext", buf, v6_chain(buf, types, 0), tcp);
	check_parse("v6 5 ext (AH, fragment)", buf, v6_chain(buf, types, 5), tcp);
	/* The kernel looks at 6 next-header values: the protocol must be among them. */
	check_parse("v6 6 ext", buf, v6_chain(buf, types, 6), WANT_ERROR);
	/* A header longer than the 160 bytes of a sample. */
	len = v6_chain(buf, types, 1);
	buf[14 + 40 + 1] = 20;
	check_parse("v6 ext cut by the sample", buf, len < 160 ? 160 : len, WANT_ERROR);
}

static void parser_rejects_runts_and_bad_headers(void)
{
	struct frame_opts o = { .family = 4, .proto = IPPROTO_TCP, .sport = 1, .dport = 2 };
	const struct want *bad = WANT_ERROR;
	uint8_t buf[256] = {};
	size_t len;

	check_parse("empty", buf, 0, bad);
	check_frame("13 bytes", o, 13, bad);
	check_frame("v4 cut in the IP header", o, 14 + 19, bad);
	check_frame("v4 cut in the ports", o, 14 + 20 + 3, bad);
	check_frame("v4 ports only", o, 14 + 20 + 4, WANT_PORTS(4, IPPROTO_TCP, 1, 2));
	o.ip_opts = 8;
	check_frame("v4 cut in the options", o, 14 + 24, bad);
	o.vlans = 1;
	check_frame("cut in the tag", o, 16, bad);
	o = (struct frame_opts){ .family = 4, .proto = IPPROTO_ICMP };
	check_frame("v4 icmp, no L4 bytes", o, 14 + 20, WANT_IP(4, IPPROTO_ICMP));
	o.family = 6;
	check_frame("v6 cut in the IP header", o, 14 + 39, bad);
	o = (struct frame_opts){ .family = 6, .proto = IPPROTO_UDP, .hop_by_hop = true };
	check_frame("v6 cut in an ext header", o, 14 + 40 + 7, bad);

	o = (struct frame_opts){ .family = 4, .proto = IPPROTO_TCP };
	len = frame_build(buf, sizeof(buf), &o);
	buf[14] = 0x45 + 0x10; /* version 5 */
	check_parse("v4 version 5", buf, len, bad);
	buf[14] = 0x44; /* ihl 4 */
	check_parse("v4 ihl 4", buf, len, bad);
	o.family = 6;
	len = frame_build(buf, sizeof(buf), &o);
	buf[14] = 0x40;
	check_parse("v6 version 4", buf, len, bad);
}

/* Matcher. */
static struct xcap_tuple tuple_of(struct frame_opts o)
{
	struct xcap_tuple t;
	uint8_t buf[256];

	xcap_filter_parse_frame(buf, frame_build(buf, sizeof(buf), &o), &t);
	return t;
}

static struct xcap_filter filter_of(const char *src, const char *dst, int sport, int dport,
				    int proto)
{
	struct xcap_filter f;

	xcap_filter_init(&f);
	if (src)
		CHECK(!xcap_filter_parse_prefix(src, &f.src), "bad prefix %s", src);
	if (dst)
		CHECK(!xcap_filter_parse_prefix(dst, &f.dst), "bad prefix %s", dst);
	f.sport = sport;
	f.dport = dport;
	f.proto = proto;
	return f;
}

static void matcher_follows_the_kernel_rules(void)
{
	struct xcap_tuple tcp4 = tuple_of((struct frame_opts){ .family = 4,
							       .src = "10.1.2.3",
							       .dst = "192.0.2.9",
							       .proto = 6,
							       .sport = 40000,
							       .dport = 443 });
	struct xcap_tuple tcp6 = tuple_of((struct frame_opts){ .family = 6,
							       .src = "2001:db8:1::5",
							       .dst = "2001:db8:2::5",
							       .proto = 6,
							       .sport = 40000,
							       .dport = 443 });
	struct xcap_tuple icmp = tuple_of(
		(struct frame_opts){ .family = 4, .src = "10.1.2.3", .proto = IPPROTO_ICMP });
	struct xcap_tuple frag = tuple_of((struct frame_opts){
		.family = 4, .src = "10.1.2.3", .proto = 6, .frag_off = 10, .len = 100 });
	struct xcap_tuple arp = tuple_of((struct frame_opts){ .family = 0 });
	struct xcap_tuple bad = {}; /* what an unparsable frame gives */
	struct xcap_filter f;

	f = filter_of(NULL, NULL, -1, -1, -1);
	CHECK(xcap_filter_match(&f, &tcp4) && xcap_filter_match(&f, &arp) &&
		      xcap_filter_match(&f, &bad),
	      "a filter naming nothing takes everything");
	f = filter_of(NULL, NULL, -1, -1, 6);
	CHECK(xcap_filter_match(&f, &tcp4) && xcap_filter_match(&f, &tcp6), "proto 6");
	CHECK(xcap_filter_match(&f, &frag), "proto 6 takes a later fragment");
	CHECK(!xcap_filter_match(&f, &icmp) && !xcap_filter_match(&f, &arp) &&
		      !xcap_filter_match(&f, &bad),
	      "proto 6 takes icmp, arp or an unparsable frame");
	f = filter_of(NULL, NULL, -1, 443, -1);
	CHECK(xcap_filter_match(&f, &tcp4), "dport 443");
	CHECK(!xcap_filter_match(&f, &frag) && !xcap_filter_match(&f, &icmp),
	      "a port rule takes a frame without ports");
	f = filter_of(NULL, NULL, 443, -1, -1);
	CHECK(!xcap_filter_match(&f, &tcp4), "sport is not dport");
	f = filter_of("10.1.2.3", NULL, -1, -1, -1);
	CHECK(xcap_filter_match(&f, &tcp4) && xcap_filter_match(&f, &icmp), "src /32");
	CHECK(!xcap_filter_match(&f, &tcp6) && !xcap_filter_match(&f, &arp) &&
		      !xcap_filter_match(&f, &bad),
	      "src /32 takes another family or a non-IP frame");
	f = filter_of(NULL, "10.1.2.3", -1, -1, -1);
	CHECK(!xcap_filter_match(&f, &tcp4), "dst is not src");
	f = filter_of("10.1.2.0/23", "192.0.2.8/31", -1, -1, -1);
	CHECK(xcap_filter_match(&f, &tcp4), "src /23, dst /31");
	f = filter_of("10.1.4.0/23", NULL, -1, -1, -1);
	CHECK(!xcap_filter_match(&f, &tcp4), "outside the /23");
	f = filter_of("0.0.0.0/0", NULL, -1, -1, -1);
	CHECK(xcap_filter_match(&f, &tcp4) && !xcap_filter_match(&f, &tcp6) &&
		      !xcap_filter_match(&f, &arp),
	      "0.0.0.0/0 takes IPv4 only");
	f = filter_of("2001:db8::/32", "2001:db8:2::/121", 40000, 443, 6);
	CHECK(xcap_filter_match(&f, &tcp6), "v6 prefixes, ports and proto");
	CHECK(!xcap_filter_match(&f, &tcp4), "a v6 rule takes IPv4");
	f = filter_of("2001:db8:1::/48", NULL, 40000, 443, 17);
	CHECK(!xcap_filter_match(&f, &tcp6), "every field must match");
}

static int count_files(const char *dir, const char *suffix)
{
	struct dirent *e;
	DIR *d = opendir(dir);
	size_t n = strlen(suffix);
	int count = 0;

	while (d && (e = readdir(d))) {
		size_t len = strlen(e->d_name);

		count += len > n && !strcmp(e->d_name + len - n, suffix);
	}
	if (d)
		closedir(d);
	return count;
}

static bool file_exists(const char *dir, const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return !access(path, F_OK);
}

/*
 * A UDP sample of 200 bytes (the recorder keeps 160); the source port tells
 * samples apart. Added as the engine's sampler callback would add it.
 */
static int add_sample(struct xcap_recorder *r, uint64_t ts, uint16_t id)
{
	xcap_packet_fn sampler = xcap_recorder_add;
	struct frame_opts o = { .family = 4,
				.src = "10.0.0.1",
				.dst = "10.0.0.2",
				.proto = IPPROTO_UDP,
				.sport = id,
				.dport = 53,
				.len = 200 };
	uint8_t buf[256];
	struct xcap_packet p = { .ts_ns = ts, .data = buf, .ifindex = 7 };

	p.cap_len = p.orig_len = frame_build(buf, sizeof(buf), &o);
	return sampler(r, &p);
}

struct seen {
	uint64_t n;
	uint64_t ts[512];
	uint16_t id[512];
	bool intact; /* every sample is 160 of 200 bytes, as add_sample made it */
};

static void seen_one(void *arg, const struct xcap_packet *pkt, uint64_t seq)
{
	struct seen *s = arg;
	struct xcap_tuple t;

	(void)seq;
	xcap_filter_parse_frame(pkt->data, pkt->cap_len, &t);
	if (pkt->cap_len != XCAP_SAMPLE_BYTES || pkt->orig_len != 200 || pkt->ifindex != 7 ||
	    !t.has_ports)
		s->intact = false;
	if (s->n < ARRAY_SIZE(s->ts)) {
		s->ts[s->n] = pkt->ts_ns;
		s->id[s->n] = t.sport;
	}
	s->n++;
}

/* Every sample in the recorder, newest segment first. */
static void scan_all(struct xcap_recorder *r, struct seen *s)
{
	struct xcap_recorder_scan sc = { .to_ns = UINT64_MAX, .fn = seen_one, .arg = s };

	memset(s, 0, sizeof(*s));
	s->intact = true;
	CHECK_EQ(xcap_recorder_scan(r, &sc), 0);
	CHECK_EQ(sc.corrupt, 0);
}

/* Sends stderr to a file while the test looks at what is logged. */
struct capture {
	int saved;
	char path[PATH_MAX];
};

static void capture_start(struct capture *c)
{
	int fd;

	test_path(c->path, PATH_MAX, "stderr.txt");
	fflush(stderr);
	c->saved = dup(STDERR_FILENO);
	fd = open(c->path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	dup2(fd, STDERR_FILENO);
	close(fd);
}

/* Restores stderr and counts the lines of the capture that contain `needle`. */
static int capture_end(struct capture *c, const char *needle, const char *needle2, int *count2)
{
	char line[1024];
	int count = 0;
	FILE *f;

	fflush(stderr);
	dup2(c->saved, STDERR_FILENO);
	close(c->saved);
	f = fopen(c->path, "r");
	*count2 = 0;
	while (f && fgets(line, sizeof(line), f)) {
		fputs(line, stderr); /* still shown */
		count += !!strstr(line, needle);
		*count2 += needle2 && strstr(line, needle2);
	}
	if (f)
		fclose(f);
	unlink(c->path);
	return count;
}

/* Recorder. */
static void recorder_writes_and_reopens(void)
{
	struct xcap_recorder_stats st;
	struct xcap_recorder *r;
	struct seen s;
	char dir[PATH_MAX];
	int i;

	r = rec_open("reopen", 0, 0, 0);
	if (!r)
		return;
	for (i = 0; i < 90; i++)
		CHECK_EQ(add_sample(r, T0 + i * 2 * NS, i), 0);
	xcap_recorder_stats(r, &st);
	CHECK_EQ(st.samples, 90);
	CHECK_EQ(st.written, 90);
	xcap_recorder_close(r);

	r = rec_open("reopen", 0, 0, 0);
	if (!r)
		return;
	xcap_recorder_stats(r, &st);
	CHECK_EQ(st.segments, 3);
	CHECK_EQ(st.samples, 90);
	CHECK_EQ(st.oldest_ns, T0);
	CHECK_EQ(st.newest_ns, T0 + 89 * 2 * NS);
	CHECK(st.bytes > 90 * 184, "bytes %llu", (unsigned long long)st.bytes);
	scan_all(r, &s);
	CHECK_EQ(s.n, 90);
	CHECK(s.intact, "samples differ from what was added");
	/* Newest segment first, samples in order within one. */
	CHECK_EQ(s.ts[0], MIN(2));
	CHECK_EQ(s.id[0], 60);
	CHECK_EQ(s.ts[89], MIN(1) - 2 * NS);
	/* The same minute again: a new segment, the old one is not touched. */
	for (i = 0; i < 10; i++)
		CHECK_EQ(add_sample(r, MIN(2) + 59 * NS, 100 + i), 0);
	xcap_recorder_close(r);
	test_path(dir, PATH_MAX, "reopen");
	CHECK(file_exists(dir, "1700000160-0.seg") && file_exists(dir, "1700000160-1.seg") &&
		      file_exists(dir, "1700000160-1.idx"),
	      "segment files of the third minute");

	r = rec_open("reopen", 0, 0, 0);
	if (!r)
		return;
	xcap_recorder_stats(r, &st);
	CHECK_EQ(st.segments, 4);
	CHECK_EQ(st.samples, 100);
	scan_all(r, &s);
	CHECK_EQ(s.n, 100);
	CHECK_EQ(s.id[0], 100); /* newest time first: the segment added last */
	xcap_recorder_close(r);
}

static void recorder_rolls_over_by_minute(void)
{
	struct xcap_recorder_stats st;
	struct xcap_recorder *r = rec_open("rollover", 0, 0, 0);
	char dir[PATH_MAX];

	if (!r)
		return;
	test_path(dir, PATH_MAX, "rollover");
	add_sample(r, T0, 1);
	add_sample(r, MIN(1) - 1, 2);
	add_sample(r, MIN(1), 3);
	/* A late sample (another CPU's ring) stays in the open segment. */
	add_sample(r, MIN(1) - 30 * NS, 4);
	xcap_recorder_stats(r, &st);
	CHECK_EQ(st.segments, 2);
	add_sample(r, MIN(5), 5);
	/* A clock stepped back by more than a minute starts a new segment. */
	add_sample(r, MIN(3), 6);
	xcap_recorder_stats(r, &st);
	CHECK_EQ(st.segments, 4);
	CHECK_EQ(st.oldest_ns, T0);
	CHECK_EQ(st.newest_ns, MIN(5));
	CHECK_EQ(count_files(dir, ".idx"), 3); /* closed ones */
	xcap_recorder_close(r);
	CHECK(file_exists(dir, "1700000040-0.seg") && file_exists(dir, "1700000100-0.seg") &&
		      file_exists(dir, "1700000340-0.seg") && file_exists(dir, "1700000220-0.idx"),
	      "one segment per minute of sample time");
	CHECK_EQ(count_files(dir, ".idx"), 4);
}

static void truncate_tail(const char *dir, const char *name, off_t cut)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	CHECK(!stat(path, &st) && !truncate(path, st.st_size - cut), "truncate %s", path);
}

static void recorder_skips_a_torn_last_record(void)
{
	struct xcap_recorder_stats st;
	struct xcap_recorder *r;
	char dir[PATH_MAX], path[PATH_MAX];
	struct capture c;
	struct seen s;
	int i, n2;
	FILE *f;

	test_path(dir, PATH_MAX, "torn");
	r = rec_open("torn", 0, 0, 0);
	if (!r)
		return;
	for (i = 0; i < 10; i++)
		add_sample(r, T0 + i * NS, i);
	xcap_recorder_close(r);
	/* A crash: no index, the last record half written. */
	snprintf(path, sizeof(path), "%s/1700000040-0.idx", dir);
	unlink(path);
	truncate_tail(dir, "1700000040-0.seg", 100);

	capture_start(&c);
	r = rec_open("torn", 0, 0, 0);
	CHECK_EQ(capture_end(&c, "torn or corrupt record", NULL, &n2), 1);
	if (!r)
		return;
	xcap_recorder_stats(r, &st);
	CHECK_EQ(st.samples, 9);
	CHECK_EQ(st.newest_ns, T0 + 8 * NS);
	scan_all(r, &s);
	CHECK_EQ(s.n, 9);
	CHECK(s.intact, "a torn record was returned");
	CHECK(file_exists(dir, "1700000040-0.idx"), "index not rebuilt");
	xcap_recorder_close(r);

	/* A flipped byte in the last record is caught by its checksum. */
	snprintf(path, sizeof(path), "%s/1700000040-0.idx", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/1700000040-0.seg", dir);
	f = fopen(path, "r+");
	CHECK(f && !fseek(f, -150, SEEK_END) && fputc('X', f) != EOF, "cannot edit %s", path);
	if (f)
		fclose(f);
	r = rec_open("torn", 0, 0, 0);
	if (!r)
		return;
	scan_all(r, &s);
	CHECK_EQ(s.n, 8);
	CHECK(s.intact, "a corrupt record was returned");
	xcap_recorder_close(r);
}

static void write_file(const char *dir, const char *name, const char *content)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	CHECK(f && fputs(content, f) >= 0, "cannot write %s", path);
	if (f)
		fclose(f);
}

static void recorder_ignores_foreign_files(void)
{
	struct xcap_recorder_stats st;
	struct xcap_recorder *r;
	char dir[PATH_MAX];
	struct capture c;
	struct seen s;
	int n2;

	test_path(dir, PATH_MAX, "garbage");
	CHECK(!mkdir(dir, 0700), "mkdir");
	write_file(dir, "1700000040-0.seg", "this is not a segment file, just some text\n");
	write_file(dir, "1700000040-1.seg", "");
	write_file(dir, "notes.txt", "keep me\n");
	write_file(dir, "1700000100-0.idx", "an index without its segment");
	capture_start(&c);
	r = rec_open("garbage", 0, 0, 0);
	CHECK_EQ(capture_end(&c, "is not a segment file", NULL, &n2), 2);
	if (!r)
		return;
	xcap_recorder_stats(r, &st);
	CHECK_EQ(st.segments, 0);
	CHECK(!file_exists(dir, "1700000100-0.idx"), "orphan index kept");
	/* Names held by foreign files are skipped. */
	CHECK_EQ(add_sample(r, T0 + NS, 1), 0);
	xcap_recorder_close(r);
	CHECK(file_exists(dir, "1700000040-2.seg"), "new segment name");
	CHECK(file_exists(dir, "1700000040-0.seg") && file_exists(dir, "notes.txt"),
	      "foreign files must be left alone");
	r = rec_open("garbage", 0, 0, 0);
	if (!r)
		return;
	scan_all(r, &s);
	CHECK_EQ(s.n, 1);
	xcap_recorder_close(r);
}

static void recorder_expires_by_age(void)
{
	struct xcap_recorder_stats st;
	struct xcap_recorder *r = rec_open("age", 0, 0, 5 * 60 * NS);
	char dir[PATH_MAX];
	int m;

	if (!r)
		return;
	test_path(dir, PATH_MAX, "age");
	for (m = 0; m < 10; m++)
		add_sample(r, MIN(m) + NS, m);
	xcap_recorder_expire(r, MIN(10));
	xcap_recorder_stats(r, &st);
	CHECK_EQ(st.segments, 5);
	CHECK_EQ(st.expired, 5);
	CHECK_EQ(st.oldest_ns, MIN(5) + NS);
	CHECK_EQ(count_files(dir, ".seg"), 5);
	CHECK_EQ(count_files(dir, ".idx"), 4); /* the open one has none yet */
	/* Two minutes after its minute, the open segment is closed and indexed. */
	xcap_recorder_expire(r, MIN(11));
	xcap_recorder_stats(r, &st);
	CHECK_EQ(st.segments, 4); /* minutes 6 to 9 */
	CHECK_EQ(count_files(dir, ".idx"), 4);
	CHECK(file_exists(dir, "1700000580-0.idx"), "open segment indexed");
	/* Everything expires; a sample after that starts a new segment. */
	xcap_recorder_expire(r, MIN(100));
	xcap_recorder_stats(r, &st);
	CHECK_EQ(st.segments, 0);
	CHECK_EQ(st.samples, 0);
	CHECK(!st.oldest_ns && !st.newest_ns, "span of nothing");
	CHECK_EQ(add_sample(r, MIN(100), 1), 0);
	xcap_recorder_stats(r, &st);
	CHECK_EQ(st.segments, 1);
	xcap_recorder_close(r);
}

static void recorder_expires_by_budget(void)
{
	struct xcap_recorder_stats st;
	struct xcap_recorder *r = rec_open("budget", 0, 0, 0);
	uint64_t budget;
	int m, i;

	if (!r)
		return;
	for (m = 0; m < 10; m++) {
		for (i = 0; i < 20; i++)
			add_sample(r, MIN(m) + i * NS, i);
	}
	xcap_recorder_close(r);
	r = rec_open("budget", 0, 0, 0);
	if (!r)
		return;
	xcap_recorder_stats(r, &st);
	CHECK_EQ(st.segments, 10);
	/* Room for three and a half segments: the oldest seven go. */
	budget = st.bytes / 10 * 35 / 10;
	xcap_recorder_close(r);
	r = rec_open("budget", budget, 0, 0);
	if (!r)
		return;
	xcap_recorder_expire(r, MIN(10));
	xcap_recorder_stats(r, &st);
	CHECK_EQ(st.segments, 3);
	CHECK_EQ(st.expired, 7);
	CHECK(st.bytes <= budget, "%llu bytes over a budget of %llu", (unsigned long long)st.bytes,
	      (unsigned long long)budget);
	CHECK_EQ(st.oldest_ns, MIN(7));
	/* The open segment is never deleted, even alone over the budget. */
	for (i = 0; i < 200; i++)
		add_sample(r, MIN(20) + i * NS / 1000, i);
	xcap_recorder_expire(r, MIN(20));
	xcap_recorder_stats(r, &st);
	CHECK_EQ(st.segments, 1);
	CHECK_EQ(st.samples, 200);
	xcap_recorder_close(r);
}

static void recorder_caps_the_rate(void)
{
	struct xcap_recorder_stats st;
	struct xcap_recorder *r = rec_open("rate", 0, 100, 0);
	int i, ok = 0, capped = 0, rc;

	if (!r)
		return;
	for (i = 0; i < 250; i++) {
		rc = add_sample(r, T0 + 5 * NS + i * 1000, i);
		ok += rc == 0;
		capped += rc == -ENOBUFS;
	}
	CHECK_EQ(ok, 100);
	CHECK_EQ(capped, 150);
	CHECK_EQ(add_sample(r, T0 + 6 * NS, 1), 0);
	/* A late sample of the second before counts in this one. */
	for (i = 0; i < 99; i++)
		CHECK_EQ(add_sample(r, T0 + 6 * NS - 1, i), 0);
	CHECK_EQ(-add_sample(r, T0 + 5 * NS, 1), ENOBUFS);
	/* A clock stepped back starts a new count, or nothing would be kept until it caught up. */
	CHECK_EQ(add_sample(r, T0 + 2 * NS, 1), 0);
	xcap_recorder_stats(r, &st);
	CHECK_EQ(st.written, 201);
	CHECK_EQ(st.dropped_rate, 151);
	CHECK_EQ(st.samples, 201);
	xcap_recorder_close(r);
}

/*
 * A full disk, simulated without privileges: RLIMIT_FSIZE makes writes past a
 * size fail (EFBIG, with SIGXFSZ ignored), as ENOSPC would. Nothing is printed
 * while the limit holds: stdout may be a file too.
 */
static void recorder_survives_a_write_error(void)
{
	struct xcap_recorder_stats st;
	struct xcap_recorder *r = rec_open("full", 0, 0, 0);
	int flush1, flush2, flush3, add1, add2, logged, recovered, i;
	struct rlimit saved, lim;
	struct capture c;
	struct seen s;
	uint64_t dropped1;

	if (!r)
		return;
	for (i = 0; i < 5; i++)
		add_sample(r, T0 + i * NS, i);
	CHECK_EQ(xcap_recorder_flush(r), 0);
	getrlimit(RLIMIT_FSIZE, &saved);
	signal(SIGXFSZ, SIG_IGN);
	fflush(stdout);
	capture_start(&c);
	lim = saved;
	lim.rlim_cur = 16 + 5 * 184 + 300; /* the header, 5 records and then some */
	setrlimit(RLIMIT_FSIZE, &lim);
	for (i = 0; i < 20; i++)
		add_sample(r, T0 + 10 * NS + i, 100 + i);
	flush1 = xcap_recorder_flush(r);
	xcap_recorder_stats(r, &st);
	dropped1 = st.dropped_error;
	for (i = 0; i < 20; i++)
		add_sample(r, T0 + 11 * NS + i, 200 + i);
	flush2 = xcap_recorder_flush(r);
	/* A new segment cannot even get its header. */
	lim.rlim_cur = 8;
	setrlimit(RLIMIT_FSIZE, &lim);
	add1 = add_sample(r, MIN(1), 300);
	add2 = add_sample(r, MIN(1) + 1, 301);
	/* Room again: writing resumes at the next flush. */
	setrlimit(RLIMIT_FSIZE, &saved);
	xcap_recorder_flush(r);
	for (i = 0; i < 5; i++)
		add_sample(r, MIN(1) + 2 * NS + i, 400 + i);
	flush3 = xcap_recorder_flush(r);
	logged = capture_end(&c, "cannot write:", "writing again", &recovered);
	signal(SIGXFSZ, SIG_DFL);

	CHECK_EQ(-flush1, EFBIG);
	CHECK_EQ(dropped1, 20);
	CHECK_EQ(-flush2, EFBIG);
	CHECK_EQ(-add1, EFBIG);
	CHECK_EQ(-add2, EFBIG);
	CHECK_EQ(flush3, 0);
	CHECK_EQ(logged, 1);
	CHECK_EQ(recovered, 1);
	xcap_recorder_stats(r, &st);
	CHECK_EQ(st.dropped_error, 42);
	CHECK_EQ(st.samples, 10);
	xcap_recorder_close(r);
	r = rec_open("full", 0, 0, 0);
	if (!r)
		return;
	scan_all(r, &s);
	CHECK_EQ(s.n, 10);
	CHECK(s.intact, "a torn record was returned");
	xcap_recorder_close(r);
}

/* A segment whose newest sample is exactly max_age old is kept; a nanosecond later it goes. */
static void recorder_expires_at_the_age_exactly(void)
{
	struct xcap_recorder_stats st;
	struct xcap_recorder *r = rec_open("age-edge", 0, 0, 5 * 60 * NS);

	if (!r)
		return;
	add_sample(r, T0 + NS, 1);
	add_sample(r, MIN(1) + NS, 2); /* a new segment: the first is closed */
	xcap_recorder_expire(r, T0 + NS + 5 * 60 * NS);
	xcap_recorder_stats(r, &st);
	CHECK_EQ(st.segments, 2);
	CHECK_EQ(st.expired, 0);
	CHECK_EQ(st.oldest_ns, T0 + NS);
	xcap_recorder_expire(r, T0 + NS + 5 * 60 * NS + 1);
	xcap_recorder_stats(r, &st);
	CHECK_EQ(st.segments, 1);
	CHECK_EQ(st.expired, 1);
	CHECK_EQ(st.oldest_ns, MIN(1) + NS);
	xcap_recorder_close(r);
}

/* A scan takes [from, to): a segment whose newest sample is at from is read, one from to on is not. */
static void recorder_scan_window_edges(void)
{
	struct xcap_recorder *r = rec_open("edges", 0, 0, 0);
	struct seen s = { .intact = true };
	struct xcap_recorder_scan sc = {
		.from_ns = T0 + 2 * NS, .to_ns = MIN(1) + NS, .fn = seen_one, .arg = &s
	};

	if (!r)
		return;
	add_sample(r, T0 + NS, 1);
	add_sample(r, T0 + 2 * NS, 2);
	add_sample(r, MIN(1) + NS, 3); /* the next minute's segment */
	CHECK_EQ(xcap_recorder_scan(r, &sc), 0);
	CHECK_EQ(sc.segments, 1);
	CHECK_EQ(sc.read, 1);
	CHECK_EQ(sc.records, 2);
	CHECK_EQ(s.n, 1);
	CHECK_EQ(s.id[0], 2);
	xcap_recorder_close(r);
}

/*
 * An index that describes more than its segment holds (the segment was cut
 * after the index was written) is not trusted: the segment is read again.
 */
static void recorder_distrusts_an_index_longer_than_its_segment(void)
{
	struct xcap_recorder_stats st;
	struct xcap_recorder *r;
	char dir[PATH_MAX];
	struct capture c;
	struct seen s;
	int i, n2;

	test_path(dir, PATH_MAX, "stale-idx");
	r = rec_open("stale-idx", 0, 0, 0);
	if (!r)
		return;
	for (i = 0; i < 10; i++)
		add_sample(r, T0 + i * NS, i);
	xcap_recorder_close(r);
	CHECK(file_exists(dir, "1700000040-0.idx"), "no index written at close");
	truncate_tail(dir, "1700000040-0.seg", 100);
	capture_start(&c);
	r = rec_open("stale-idx", 0, 0, 0);
	CHECK_EQ(capture_end(&c, "torn or corrupt record", NULL, &n2), 1);
	if (!r)
		return;
	xcap_recorder_stats(r, &st);
	CHECK_EQ(st.samples, 9);
	CHECK_EQ(st.newest_ns, T0 + 8 * NS);
	scan_all(r, &s);
	CHECK_EQ(s.n, 9);
	CHECK(s.intact, "a torn record was returned");
	xcap_recorder_close(r);
}

static void recorder_refuses_a_bad_folder(void)
{
	struct xcap_recorder_opts o = { .dir = "/nonexistent-xcap/a/b" };

	CHECK(!xcap_recorder_open(&o), "opened");
	CHECK_EQ(errno, ENOENT);
	o.dir = "";
	CHECK(!xcap_recorder_open(&o), "opened");
	CHECK_EQ(errno, EINVAL);
}

int main(void)
{
	if (test_tmpdir_init("recorder"))
		return 1;
	RUN_TEST(parser_reads_ip_frames);
	RUN_TEST(parser_reads_vlans_and_options);
	RUN_TEST(parser_handles_fragments);
	RUN_TEST(parser_limits_ipv6_extension_headers);
	RUN_TEST(parser_rejects_runts_and_bad_headers);
	RUN_TEST(matcher_follows_the_kernel_rules);
	RUN_TEST(recorder_writes_and_reopens);
	RUN_TEST(recorder_rolls_over_by_minute);
	RUN_TEST(recorder_skips_a_torn_last_record);
	RUN_TEST(recorder_distrusts_an_index_longer_than_its_segment);
	RUN_TEST(recorder_scan_window_edges);
	RUN_TEST(recorder_ignores_foreign_files);
	RUN_TEST(recorder_expires_by_age);
	RUN_TEST(recorder_expires_at_the_age_exactly);
	RUN_TEST(recorder_expires_by_budget);
	RUN_TEST(recorder_caps_the_rate);
	RUN_TEST(recorder_survives_a_write_error);
	RUN_TEST(recorder_refuses_a_bad_folder);
	return tests_failed_total ? 1 : 0;
}
