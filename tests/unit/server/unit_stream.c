// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Unit tier: the live stream (server/stream.c) over a capture file that a
 * pcap writer grows as a capture would: what it sends is the file, whole
 * records only, until the capture ends; a reader too slow is skipped ahead,
 * counted, and (pcapng) told on the next packet.
 */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#define PCAP_DONT_INCLUDE_PCAP_BPF_H
#include <pcap/pcap.h>
#include "agent/pcap.h"
#include "server/stream.h"
#include "test.h"

static bool capture_live;

static bool is_live(void *arg, const char *id)
{
	(void)arg;
	(void)id;
	return capture_live;
}

/* A writer of a file like a capture's, and a stream over it. */
struct setup {
	char path[256];
	struct xcap_pcap *w;
	struct xcap_stream *s;
	uint8_t data[1500];
	uint64_t ts;
};

static bool setup(struct setup *t, const char *name, enum xcap_pcap_format f, uint64_t lag)
{
	struct xcap_pcap_opts o = { .format = f, .snaplen = 1500, .comment = "test" };
	size_t i;

	memset(t, 0, sizeof(*t));
	for (i = 0; i < sizeof(t->data); i++)
		t->data[i] = i;
	test_path(t->path, sizeof(t->path), name);
	t->w = xcap_pcap_open_opts(t->path, &o);
	CHECK(t->w, "open %s: %s", t->path, strerror(errno));
	if (!t->w)
		return false;
	t->s = xcap_stream_new(&(struct xcap_stream_opts){
		.fd = open(t->path, O_RDONLY), .live = is_live, .id = "test", .lag_max = lag });
	CHECK(t->s, "stream: %s", strerror(errno));
	capture_live = true;
	return t->s;
}

static void teardown(struct setup *t)
{
	xcap_pcap_close(t->w);
	xcap_stream_free(t->s);
}

/* Writes n packets of len bytes, alternately received and sent, and flushes them. */
static void grow(struct setup *t, int n, uint32_t len)
{
	struct xcap_packet p = { .data = t->data, .cap_len = len, .orig_len = len, .ifindex = 1 };
	int i;

	for (i = 0; i < n; i++) {
		p.ts_ns = 1700000000000000000ULL + t->ts++;
		p.flags = i % 2 ? XCAP_REC_OUT : 0;
		CHECK_EQ(xcap_pcap_write_packet(t->w, &p), 0);
	}
	CHECK_EQ(xcap_pcap_flush(t->w), 0);
}

/* Reads the stream in pieces of `piece` bytes into out until it waits or ends. */
static ssize_t drain(struct setup *t, uint8_t *out, size_t *len, size_t size, size_t piece)
{
	ssize_t n;

	while ((n = xcap_stream_read(t->s, out + *len, piece < size - *len ? piece : size - *len)) >
	       0)
		*len += n;
	return n;
}

/* The file's bytes, to compare with what the stream sent. */
static size_t file_bytes(const char *path, uint8_t *buf, size_t size)
{
	FILE *f = fopen(path, "rb");
	size_t n = f ? fread(buf, 1, size, f) : 0;

	if (f)
		fclose(f);
	return n;
}

/* Packets in a stream's bytes, as libpcap reads them; -1 when it cannot. */
static int packets_in(const char *name, const uint8_t *bytes, size_t len)
{
	char path[256], err[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *data;
	pcap_t *r;
	FILE *f;
	int n = 0, ret;

	test_path(path, sizeof(path), name);
	f = fopen(path, "wb");
	if (!f || fwrite(bytes, 1, len, f) != len) {
		if (f)
			fclose(f);
		return -1;
	}
	fclose(f);
	r = pcap_open_offline(path, err);
	if (!r)
		return -1;
	while ((ret = pcap_next_ex(r, &h, &data)) == 1)
		n++;
	pcap_close(r);
	return ret == PCAP_ERROR_BREAK ? n : -1;
}

static void stream_sends_the_file_so_far_then_what_is_appended(void)
{
	static uint8_t got[1 << 20], want[1 << 20];
	enum xcap_pcap_format f;
	struct setup t;
	size_t len;
	int i;

	for (i = 0; i < 2; i++) {
		f = i ? XCAP_PCAPNG : XCAP_PCAP;
		len = 0;
		if (!setup(&t, i ? "grow.pcapng" : "grow.pcap", f, 0))
			goto next;
		grow(&t, 10, 100);
		CHECK_EQ(drain(&t, got, &len, sizeof(got), 77), 0);
		grow(&t, 20, 1500);
		CHECK_EQ(drain(&t, got, &len, sizeof(got), 4096), 0);
		CHECK_EQ(len, file_bytes(t.path, want, sizeof(want)));
		CHECK(!memcmp(got, want, len), "%s: the stream differs from the file",
		      xcap_pcap_format_name(f));
		/* The capture ends: its file is complete (pcapng: the statistics), then the end. */
		xcap_pcap_close(t.w);
		t.w = NULL;
		capture_live = false;
		CHECK_EQ(drain(&t, got, &len, sizeof(got), 4096), -ENODATA);
		CHECK_EQ(len, file_bytes(t.path, want, sizeof(want)));
		CHECK(!memcmp(got, want, len), "%s: the end differs from the file",
		      xcap_pcap_format_name(f));
		CHECK_EQ(packets_in("grow.out", got, len), 30);
		CHECK_EQ(xcap_stream_missed(t.s), 0);
next:
		teardown(&t);
	}
}

/* The writer's next flush may not have happened: half a record is not sent until it is whole. */
static void stream_sends_whole_records_only(void)
{
	static uint8_t got[1 << 16], want[1 << 16];
	size_t len = 0, whole;
	struct setup t;
	int fd;

	if (!setup(&t, "half.pcap", XCAP_PCAP, 0))
		goto out;
	grow(&t, 3, 200);
	whole = file_bytes(t.path, want, sizeof(want));
	/* What a cut write leaves: the header and 100 bytes of a record of 200. */
	fd = open(t.path, O_WRONLY | O_APPEND);
	CHECK(fd >= 0 && write(fd, want + 24, 116) == 116, "append");
	close(fd);
	CHECK_EQ(drain(&t, got, &len, sizeof(got), 4096), 0);
	CHECK_EQ(len, whole);
	/* A capture that ended with a torn record (a crash): the stream ends before it. */
	capture_live = false;
	CHECK_EQ(drain(&t, got, &len, sizeof(got), 4096), -ENODATA);
	CHECK_EQ(len, whole);
out:
	teardown(&t);
}

/*
 * A reader that took nothing while 100 packets of 1000 bytes were written,
 * with a lag of 20000 bytes: skipped ahead to the newest 10000 bytes or
 * so, the skipped ones counted; what it gets is still a valid file.
 */
static void slow_reader_is_skipped_ahead_and_counted(void)
{
	static uint8_t got[1 << 20];
	struct setup t;
	size_t len = 0;
	int n;

	if (!setup(&t, "slow.pcap", XCAP_PCAP, 20000))
		goto out;
	grow(&t, 100, 1000);
	CHECK_EQ(drain(&t, got, &len, sizeof(got), 4096), 0);
	CHECK(xcap_stream_missed(t.s) >= 85 && xcap_stream_missed(t.s) <= 95,
	      "%llu packets skipped", (unsigned long long)xcap_stream_missed(t.s));
	n = packets_in("slow.out", got, len);
	CHECK_EQ(n + xcap_stream_missed(t.s), 100);
	/* A reader that keeps up is not skipped. */
	grow(&t, 10, 1000);
	CHECK_EQ(drain(&t, got, &len, sizeof(got), 4096), 0);
	CHECK_EQ(packets_in("slow.out", got, len) + xcap_stream_missed(t.s), 110);
out:
	teardown(&t);
}

/* The file so far is the reader's however large; only what comes after it counts as lag. */
static void the_capture_so_far_is_never_skipped(void)
{
	static uint8_t got[1 << 20];
	struct setup t;
	size_t len = 0;

	if (!setup(&t, "history.pcap", XCAP_PCAP, 20000))
		goto out;
	grow(&t, 100, 1000);
	xcap_stream_free(t.s);
	t.s = xcap_stream_new(&(struct xcap_stream_opts){
		.fd = open(t.path, O_RDONLY), .live = is_live, .id = "test", .lag_max = 20000 });
	CHECK_EQ(drain(&t, got, &len, sizeof(got), 4096), 0);
	CHECK_EQ(xcap_stream_missed(t.s), 0);
	CHECK_EQ(packets_in("history.out", got, len), 100);
out:
	teardown(&t);
}

/* pcapng: the first packet after the gap carries a comment with the count. */
static void pcapng_gap_is_told_on_the_next_packet(void)
{
	static uint8_t got[1 << 20];
	struct setup t;
	size_t len = 0;
	char want[64];
	int n;

	if (!setup(&t, "slow.pcapng", XCAP_PCAPNG, 20000))
		goto out;
	grow(&t, 100, 1000);
	CHECK_EQ(drain(&t, got, &len, sizeof(got), 1000), 0);
	n = packets_in("slow-ng.out", got, len);
	CHECK(xcap_stream_missed(t.s) > 0 && n + xcap_stream_missed(t.s) == 100,
	      "%d packets sent, %llu skipped", n, (unsigned long long)xcap_stream_missed(t.s));
	snprintf(want, sizeof(want), "xcap: %llu packets before this one were skipped",
		 (unsigned long long)xcap_stream_missed(t.s));
	/* libpcap read it (n): the comment is an option like any other. */
	CHECK(memmem(got, len, want, strlen(want)), "no comment '%s' in the stream", want);
out:
	teardown(&t);
}

static void a_file_xcap_did_not_write_is_refused(void)
{
	char path[256], buf[64];
	struct xcap_stream *s;
	FILE *f;

	test_path(path, sizeof(path), "junk");
	f = fopen(path, "wb");
	CHECK(f && fputs("this is not a capture file at all, not at all", f) >= 0, "write");
	if (f)
		fclose(f);
	s = xcap_stream_new(&(struct xcap_stream_opts){
		.fd = open(path, O_RDONLY), .live = is_live, .id = "junk" });
	CHECK(s, "stream: %s", strerror(errno));
	if (s)
		CHECK_EQ(xcap_stream_read(s, buf, sizeof(buf)), -EIO);
	xcap_stream_free(s);
}

int main(void)
{
	if (test_tmpdir_init("stream"))
		return 1;
	RUN_TEST(stream_sends_the_file_so_far_then_what_is_appended);
	RUN_TEST(stream_sends_whole_records_only);
	RUN_TEST(slow_reader_is_skipped_ahead_and_counted);
	RUN_TEST(the_capture_so_far_is_never_skipped);
	RUN_TEST(pcapng_gap_is_told_on_the_next_packet);
	RUN_TEST(a_file_xcap_did_not_write_is_refused);
	return tests_failed_total ? 1 : 0;
}
