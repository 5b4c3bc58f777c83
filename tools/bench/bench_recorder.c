// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Benchmark of the flight recorder: fills a temporary recorder folder with
 * synthetic samples spread over 24 hours (100k hosts in 10.0.0.0/8 and
 * 2001:db8::/32, Zipf-like hosts and ports, TCP/UDP/ICMP), reports the write
 * cost per sample and the disk size, then times simple-capture queries of a
 * 300 s window. Prints the design goal as met or not; a timing never makes it
 * fail. The folder is removed at the end (--keep keeps it).
 *
 * usage: bench_recorder [--dir DIR] [--samples N] [--keep]
 *        DIR defaults to $BUILD/bench-recorder ($BUILD defaults to build).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "common/filter.h"
#include "frames.h"
#include "common/log.h"
#include "agent/query.h"
#include "agent/recorder.h"

#define NS 1000000000ULL
#define SPAN_NS (24ULL * 3600 * NS)
#define BASE_NS (1767225600ULL * NS) /* 2026-01-01T00:00:00Z */
#define HOSTS 50000 /* per family */
#define BATCH 4096
#define WINDOW_NS (300 * NS)
#define QUERY_RUNS 5
#define GOAL_S 0.5
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

struct gen {
	uint64_t state;
	char v4[HOSTS][INET_ADDRSTRLEN];
	char v6[HOSTS][INET6_ADDRSTRLEN];
};

/* A sample picked while writing, whose host and port the selective queries look for. */
struct target {
	bool set;
	uint64_t ts_ns;
	char host[INET6_ADDRSTRLEN];
	int port;
};

struct batch {
	struct xcap_packet pkt[BATCH];
	uint8_t data[BATCH][XCAP_SAMPLE_BYTES];
};

static uint64_t rnd(struct gen *g)
{
	g->state ^= g->state >> 12;
	g->state ^= g->state << 25;
	g->state ^= g->state >> 27;
	return g->state * 0x2545f4914f6cdd1dULL;
}

/* Log-uniform in [0, n): rank k comes about 1/k as often as rank 1, like Zipf's law. */
static uint32_t zipf(struct gen *g, uint32_t n)
{
	uint64_t r = rnd(g);
	int bits = 64 - __builtin_clzll(n);
	uint64_t lo = 1ULL << (r % bits);

	return (lo + (r >> 8) % lo - 1) % n;
}

static void gen_hosts(struct gen *g)
{
	uint64_t r;
	int i;

	for (i = 0; i < HOSTS; i++) {
		r = rnd(g);
		snprintf(g->v4[i], sizeof(g->v4[i]), "10.%u.%u.%u", (unsigned)(r >> 16 & 0xff),
			 (unsigned)(r >> 8 & 0xff), (unsigned)(r & 0xff));
		snprintf(g->v6[i], sizeof(g->v6[i]), "2001:db8:%x:%x::%x:%x", (unsigned)(r >> 48),
			 (unsigned)(r >> 32 & 0xffff), (unsigned)(r >> 16 & 0xffff),
			 (unsigned)(r & 0xffff));
	}
}

static uint16_t service_port(struct gen *g)
{
	static const uint16_t ports[] = { 443,	80,   53,   22,	 123,  8080, 25,   993,
					  3306, 5432, 6379, 179, 8443, 3478, 5060, 1194 };

	if (rnd(g) % 10 == 0)
		return 1024 + rnd(g) % 64512;
	return ports[zipf(g, ARRAY_SIZE(ports))];
}

/*
 * Builds one sample (first 160 bytes) into buf; returns its length, orig_len
 * in *orig and the popularity rank of its source host in *rank (0: busiest).
 */
static uint32_t gen_sample(struct gen *g, uint8_t *buf, uint32_t *orig, struct frame_opts *o,
			   uint32_t *rank)
{
	uint32_t client_rank = zipf(g, HOSTS), server_rank = zipf(g, HOSTS);
	uint32_t client = client_rank, server = server_rank * 7919 % HOSTS;
	uint16_t service = service_port(g), eph = 32768 + rnd(g) % 28232;
	uint64_t r = rnd(g);
	bool v6 = r % 5 == 0, reply = r >> 8 & 1;
	const char *pair[2];

	*rank = reply ? server_rank : client_rank;
	pair[0] = v6 ? g->v6[client] : g->v4[client];
	pair[1] = v6 ? g->v6[server] : g->v4[server];
	*o = (struct frame_opts){
		.family = v6 ? 6 : 4,
		.src = pair[reply],
		.dst = pair[!reply],
		.sport = reply ? service : eph,
		.dport = reply ? eph : service,
		.vlans = (r >> 16) % 10 == 0,
	};
	r = (r >> 24) % 100;
	o->proto = r < 70 ? IPPROTO_TCP : r < 95 ? IPPROTO_UDP : v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP;
	r = rnd(g) % 10;
	*orig = r < 4 ? 80 + rnd(g) % 48 : r < 7 ? 1400 + rnd(g) % 115 : 128 + rnd(g) % 1300;
	o->len = *orig < XCAP_SAMPLE_BYTES ? *orig : XCAP_SAMPLE_BYTES;
	return frame_build(buf, XCAP_SAMPLE_BYTES, o);
}

static void pick_target(struct target *t, const struct frame_opts *o, uint64_t ts)
{
	if (t->set || (o->proto != IPPROTO_TCP && o->proto != IPPROTO_UDP))
		return;
	t->set = true;
	t->ts_ns = ts;
	snprintf(t->host, sizeof(t->host), "%s", o->src);
	t->port = o->dport;
}

static double clock_s(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double now_s(void)
{
	return clock_s(CLOCK_MONOTONIC);
}

/* CPU time of this thread: unlike wall time, not inflated by other work on a shared machine. */
static double cpu_s(void)
{
	return clock_s(CLOCK_THREAD_CPUTIME_ID);
}

struct write_result {
	uint64_t samples;
	uint64_t bytes; /* record bytes handed to the recorder */
	double seconds; /* in the recorder only: frame generation is not counted */
	double cpu_seconds;
};

/* Adds a batch, flushing once per second of sample time as xcapd does. */
static void add_batch(struct xcap_recorder *r, const struct batch *b, int n, uint64_t *sec)
{
	int i;

	for (i = 0; i < n; i++) {
		if (b->pkt[i].ts_ns / NS != *sec) {
			*sec = b->pkt[i].ts_ns / NS;
			xcap_recorder_flush(r);
		}
		xcap_recorder_add(r, &b->pkt[i]);
	}
}

/*
 * Query targets, the first TCP/UDP samples of the second half of the day: from
 * the busiest IPv4 host, from one outside the busiest 1000, from any IPv6 host.
 */
enum { TARGET_V4_BUSY, TARGET_V4_RARE, TARGET_V6, TARGETS };

static void pick_targets(struct target *t, const struct frame_opts *o, uint32_t rank, uint64_t ts)
{
	if (o->family == 6)
		pick_target(&t[TARGET_V6], o, ts);
	else if (rank == 0)
		pick_target(&t[TARGET_V4_BUSY], o, ts);
	else if (rank >= 1000)
		pick_target(&t[TARGET_V4_RARE], o, ts);
}

static int fill(const char *dir, uint64_t samples, struct gen *g, struct target *targets,
		struct write_result *w)
{
	struct xcap_recorder_opts opts = {
		.dir = dir,
		.max_age_ns = 2 * SPAN_NS,
		.max_bytes = 1ULL << 42,
	};
	static struct batch b;
	struct xcap_recorder *r;
	uint64_t i = 0, sec = 0, ts;
	struct frame_opts o;
	double t0, c0;
	uint32_t rank;
	int n;

	r = xcap_recorder_open(&opts);
	if (!r)
		return -errno;
	memset(w, 0, sizeof(*w));
	while (i < samples) {
		for (n = 0; n < BATCH && i < samples; n++, i++) {
			ts = BASE_NS + i * (SPAN_NS / samples);
			b.pkt[n] = (struct xcap_packet){ .ts_ns = ts,
							 .data = b.data[n],
							 .ifindex = 2 };
			b.pkt[n].cap_len = gen_sample(g, b.data[n], &b.pkt[n].orig_len, &o, &rank);
			w->bytes += 24 + b.pkt[n].cap_len;
			if (i >= samples / 2)
				pick_targets(targets, &o, rank, ts);
		}
		t0 = now_s();
		c0 = cpu_s();
		add_batch(r, &b, n, &sec);
		w->cpu_seconds += cpu_s() - c0;
		w->seconds += now_s() - t0;
	}
	t0 = now_s();
	c0 = cpu_s();
	xcap_recorder_close(r);
	w->cpu_seconds += cpu_s() - c0;
	w->seconds += now_s() - t0;
	w->samples = samples;
	return 0;
}

struct query_case {
	const char *name;
	const char *src; /* NULL: any */
	int dport; /* -1: any */
	const struct target *center; /* the window is centered on it; NULL: ends mid-span */
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void run_query(struct xcap_recorder *r, const char *dir, const struct query_case *c)
{
	uint64_t mid = c->center ? c->center->ts_ns + WINDOW_NS / 2 : BASE_NS + SPAN_NS / 2;
	struct xcap_query q = { .from_ns = mid - WINDOW_NS, .to_ns = mid, .limit = 10000 };
	double t[QUERY_RUNS], t0;
	struct xcap_query_stats st;
	char path[PATH_MAX];
	int i, err = 0;

	xcap_filter_init(&q.filter);
	if (c->src && xcap_filter_set(&q.filter, XCAP_FIELD_SADDR, c->src)) {
		printf("%-28s bad address %s\n", c->name, c->src);
		return;
	}
	if (c->dport >= 0)
		xcap_filter_set_num(&q.filter, XCAP_FIELD_DPORT, c->dport);
	snprintf(path, sizeof(path), "%s/out.pcap", dir);
	for (i = 0; i < QUERY_RUNS && !err; i++) {
		t0 = now_s();
		err = xcap_query_run(r, &q, path, &st);
		t[i] = now_s() - t0;
	}
	unlink(path);
	if (err) {
		printf("%-28s error: %s\n", c->name, strerror(-err));
		return;
	}
	printf("%-28s %8.1f %8.1f  %-7s %5u %5u %5u %8u %8llu %8llu %8llu\n", c->name, t[0] * 1e3,
	       (qsort(t, QUERY_RUNS, sizeof(t[0]), cmp_double), t[QUERY_RUNS / 2] * 1e3),
	       t[QUERY_RUNS / 2] < GOAL_S ? "met" : "NOT MET", st.segments, st.segments_read,
	       st.segments_skipped, st.segments_unneeded, (unsigned long long)st.scanned,
	       (unsigned long long)st.matched, (unsigned long long)st.returned);
}

/* Bytes of the files of the folder whose names end in suffix. */
static uint64_t dir_bytes(const char *dir, const char *suffix)
{
	size_t n = strlen(suffix), len;
	char path[PATH_MAX];
	struct dirent *e;
	struct stat st;
	uint64_t sum = 0;
	DIR *d;

	d = opendir(dir);
	while (d && (e = readdir(d))) {
		len = strlen(e->d_name);
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (len > n && !strcmp(e->d_name + len - n, suffix) && !stat(path, &st))
			sum += st.st_size;
	}
	if (d)
		closedir(d);
	return sum;
}

static void run_queries(const char *dir, const struct target *t)
{
	const struct target *v4 = &t[TARGET_V4_BUSY], *v6 = &t[TARGET_V6],
			    *rare = &t[TARGET_V4_RARE];
	const struct query_case cases[] = {
		{ "v4 rare host + dport", rare->host, rare->port, rare },
		{ "v4 rare host", rare->host, -1, rare },
		{ "v6 host + dport", v6->host, v6->port, v6 },
		{ "v4 busy host + dport", v4->host, v4->port, v4 },
		{ "v4 busy host", v4->host, -1, v4 },
		{ "dport 443 (popular)", NULL, 443, NULL },
		{ "no filter", NULL, -1, NULL },
	};
	struct xcap_recorder_opts opts = { .dir = dir,
					   .max_age_ns = 2 * SPAN_NS,
					   .max_bytes = 1ULL << 42 };
	struct xcap_recorder_stats rs;
	struct xcap_recorder *r;
	double t0 = now_s();
	size_t i;

	r = xcap_recorder_open(&opts);
	if (!r) {
		printf("cannot reopen %s: %s\n", dir, strerror(errno));
		return;
	}
	xcap_recorder_stats(r, &rs);
	printf("reopen: %.1f ms; %u segments, %llu samples, %.2f GB on disk (indexes %.1f MB)\n\n",
	       (now_s() - t0) * 1e3, rs.segments, (unsigned long long)rs.samples, rs.bytes / 1e9,
	       dir_bytes(dir, ".idx") / 1e6);
	printf("queries of a 300 s window, limit 10000; targets: v4 rare %s port %d, ", rare->host,
	       rare->port);
	printf("v6 %s port %d, v4 busy %s port %d\n", v6->host, v6->port, v4->host, v4->port);
	printf("%-28s %8s %8s  %-7s %5s %5s %5s %8s %8s %8s %8s\n", "filter", "1st ms", "med ms",
	       "<0.5 s", "segs", "read", "skip", "unneeded", "scanned", "matched", "returned");
	for (i = 0; i < ARRAY_SIZE(cases); i++)
		run_query(r, dir, &cases[i]);
	xcap_recorder_close(r);
}

/* Removes the recorder's files (and nothing else) and the folder if it is then empty. */
static void clean_dir(const char *dir, bool remove)
{
	char path[PATH_MAX];
	struct dirent *e;
	size_t len;
	DIR *d;

	d = opendir(dir);
	if (!d)
		return;
	while ((e = readdir(d))) {
		len = strlen(e->d_name);
		if (len > 4 &&
		    (!strcmp(e->d_name + len - 4, ".seg") || !strcmp(e->d_name + len - 4, ".idx") ||
		     !strcmp(e->d_name, "out.pcap"))) {
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			unlink(path);
		}
	}
	closedir(d);
	if (remove)
		rmdir(dir);
}

int main(int argc, char **argv)
{
	static struct gen g = { .state = 0x9e3779b97f4a7c15ULL };
	struct target targets[TARGETS] = {};
	char dir[PATH_MAX] = "";
	struct write_result w;
	uint64_t samples = 20000000;
	bool keep = false;
	int i, err;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--dir") && i + 1 < argc)
			snprintf(dir, sizeof(dir), "%s", argv[++i]);
		else if (!strcmp(argv[i], "--samples") && i + 1 < argc)
			samples = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--keep"))
			keep = true;
		else {
			fprintf(stderr, "usage: %s [--dir DIR] [--samples N] [--keep]\n", argv[0]);
			return 2;
		}
	}
	if (!*dir)
		snprintf(dir, sizeof(dir), "%s/bench-recorder", getenv("BUILD") ?: "build");
	if (samples < 1000) {
		fprintf(stderr, "--samples: at least 1000\n");
		return 2;
	}
	gen_hosts(&g);
	clean_dir(dir, false);
	printf("recorder benchmark: %llu samples over 24 h in %s\n", (unsigned long long)samples,
	       dir);
	err = fill(dir, samples, &g, targets, &w);
	if (err) {
		fprintf(stderr, "cannot fill %s: %s\n", dir, strerror(-err));
		return 1;
	}
	printf("write: %.2f s in the recorder (%.2f s CPU): %.0f ns/sample (%.0f ns CPU), ",
	       w.seconds, w.cpu_seconds, w.seconds * 1e9 / w.samples,
	       w.cpu_seconds * 1e9 / w.samples);
	printf("%.0f MB/s of records (%.2f GB)\n", w.bytes / w.seconds / 1e6, w.bytes / 1e9);
	run_queries(dir, targets);
	if (!keep)
		clean_dir(dir, true);
	return 0;
}
