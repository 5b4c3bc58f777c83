// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Unit tier: the flight recorder: segments, restart, torn records, foreign
 * files, retention, rate cap, write errors. No privileges; a temporary folder.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common/frame.h"
#include "frames.h"
#include "common/log.h"
#include "agent/recorder.h"
#include "recorder_test.h"
#include "test.h"

#define NS 1000000000ULL
#define T0 (1700000040ULL * NS) /* the start of a minute */
#define MIN(m) (T0 + (uint64_t)(m)*60 * NS)
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

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
	xcap_frame_parse(pkt->data, pkt->cap_len, &t);
	if (pkt->cap_len != XCAP_SAMPLE_BYTES || pkt->orig_len != 200 || pkt->ifindex != 7 ||
	    !(t.has & (1U << XCAP_FIELD_SPORT)))
		s->intact = false;
	if (s->n < ARRAY_SIZE(s->ts)) {
		s->ts[s->n] = pkt->ts_ns;
		s->id[s->n] = t.v[XCAP_FIELD_SPORT].num;
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
