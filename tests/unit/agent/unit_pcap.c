// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Unit tier: the pcapng side of agent/pcap.c. Files are read back block by
 * block here (what each block must hold), and by libpcap (that a reader takes
 * them); the record walk and the packet comment that the live stream uses.
 * The writer's buffer, in both formats: records reach the file at a flush,
 * and a write error counts every record it lost; the file space it allocates
 * ahead goes back at close.
 */
#define _GNU_SOURCE /* fallocate */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#define PCAP_DONT_INCLUDE_PCAP_BPF_H
#include <pcap/pcap.h>
#include "common/util.h"
#include "agent/link.h"
#include "agent/pcap.h"
#include "test.h"

#define IF_A 1 /* lo: it has a name */
#define IF_B 999999 /* no such interface */
#define IF_C 888888 /* not declared: described when its first packet comes */

/* One block of a pcapng file read back, with the options the tests look at. */
struct block {
	uint32_t type;
	uint32_t len;
	const uint8_t *body; /* after type and length */
	char comment[256];
	char name[64]; /* IDB if_name */
	uint32_t epb_flags;
	uint64_t osdrop, usrdeliv; /* ISB */
};

static uint32_t u32_at(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static uint64_t u64_at(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

/* Where a block's options start, after its fixed part. */
static size_t options_at(uint32_t type, const uint8_t *b)
{
	switch (type) {
	case 0x0A0D0D0A:
		return 24; /* type, length, magic, version, section length */
	case 1:
		return 16; /* link type, reserved, snaplen */
	case 5:
		return 20; /* interface, time */
	case 6:
		return 28 + ((u32_at(b + 20) + 3) & ~3U);
	}
	return 0;
}

/* Reads the blocks of path into out (at most max); returns how many, or -1. */
static int read_blocks(const char *path, uint8_t *buf, size_t size, struct block *out, int max)
{
	size_t len, off = 0, o, end, opts;
	uint16_t code, olen;
	FILE *f = fopen(path, "rb");
	int n = 0;

	if (!f)
		return -1;
	len = fread(buf, 1, size, f);
	fclose(f);
	while (off + 12 <= len && n < max) {
		struct block *k = &out[n++];

		memset(k, 0, sizeof(*k));
		k->type = u32_at(buf + off);
		k->len = u32_at(buf + off + 4);
		k->body = buf + off + 8;
		if (k->len < 12 || off + k->len > len || u32_at(buf + off + k->len - 4) != k->len)
			return -1;
		end = off + k->len - 4;
		opts = options_at(k->type, buf + off);
		for (o = off + opts; opts && o + 4 <= end;) {
			memcpy(&code, buf + o, 2);
			memcpy(&olen, buf + o + 2, 2);
			if (!code)
				break;
			if (code == 1)
				snprintf(k->comment, sizeof(k->comment), "%.*s", olen, buf + o + 4);
			if (k->type == 1 && code == 2)
				snprintf(k->name, sizeof(k->name), "%.*s", olen, buf + o + 4);
			if (k->type == 6 && code == 2)
				k->epb_flags = u32_at(buf + o + 4);
			if (k->type == 5 && code == 7)
				k->osdrop = u64_at(buf + o + 4);
			if (k->type == 5 && code == 8)
				k->usrdeliv = u64_at(buf + o + 4);
			o += 4 + ((olen + 3) & ~3U);
		}
		off += k->len;
	}
	return off == len ? n : -1;
}

static struct xcap_packet packet(uint32_t ifindex, bool out, uint64_t ts, const uint8_t *data,
				 uint32_t len)
{
	return (struct xcap_packet){ .ts_ns = ts,
				     .data = data,
				     .cap_len = len,
				     .orig_len = len + 10,
				     .ifindex = ifindex,
				     .flags = out ? XCAP_REC_OUT : 0 };
}

/* The file of the tests: interfaces A and B described, packets of A, B and C. */
static int write_sample(const char *path)
{
	static const uint32_t ifs[] = { IF_A, IF_B };
	struct xcap_pcap_opts o = {
		.format = XCAP_PCAPNG,
		.snaplen = 16384,
		.comment = "xcap full capture 1234, filter_v1 {}",
		.ifindexes = ifs,
		.n_ifaces = 2,
	};
	struct xcap_packet p[4];
	uint8_t data[61];
	struct xcap_pcap *w;
	int i;

	for (i = 0; i < (int)sizeof(data); i++)
		data[i] = i;
	p[0] = packet(IF_A, false, 1700000000123456789ULL, data, 61);
	p[1] = packet(IF_A, true, 1700000000223456789ULL, data, 60);
	p[2] = packet(IF_B, true, 1700000000323456789ULL, data, 14);
	p[3] = packet(IF_C, false, 1700000000423456789ULL, data, 1);
	w = xcap_pcap_open_opts(path, &o);
	CHECK(w, "open: %s", strerror(errno));
	if (!w)
		return -1;
	for (i = 0; i < 4; i++)
		CHECK_EQ(xcap_pcap_write_packet(w, &p[i]), 0);
	xcap_pcap_add_dropped(w, IF_B, 7);
	xcap_pcap_add_dropped(w, 0, 3);
	return xcap_pcap_close(w);
}

static void pcapng_has_section_interfaces_packets_and_statistics(void)
{
	static uint8_t buf[1 << 16];
	struct block b[16];
	char path[256];
	int n;

	test_path(path, sizeof(path), "sample.pcapng");
	CHECK_EQ(write_sample(path), 0);
	n = read_blocks(path, buf, sizeof(buf), b, 16);
	/* SHB, IDB A, IDB B, EPB, EPB, EPB, IDB C, EPB, ISB A, ISB B, ISB C */
	CHECK_EQ(n, 11);
	if (n != 11)
		return;
	CHECK_EQ(b[0].type, 0x0A0D0D0A);
	CHECK(!strcmp(b[0].comment, "xcap full capture 1234, filter_v1 {}"), "comment '%s'",
	      b[0].comment);
	CHECK(b[1].type == 1 && !strcmp(b[1].name, "lo"), "IDB A: type %u name '%s'", b[1].type,
	      b[1].name);
	CHECK(b[2].type == 1 && !b[2].name[0], "IDB B: type %u name '%s'", b[2].type, b[2].name);
	CHECK_EQ(u32_at(b[1].body + 4), 16384); /* snaplen */
	CHECK(b[3].type == 6 && u32_at(b[3].body) == 0 && b[3].epb_flags == 1, "EPB 1");
	CHECK(b[4].type == 6 && u32_at(b[4].body) == 0 && b[4].epb_flags == 2, "EPB 2");
	CHECK(b[5].type == 6 && u32_at(b[5].body) == 1 && b[5].epb_flags == 2, "EPB 3");
	CHECK_EQ(b[6].type, 1); /* C, before its packet */
	CHECK(b[7].type == 6 && u32_at(b[7].body) == 2 && b[7].epb_flags == 1, "EPB 4");
	/* time in ns, high word first; lengths */
	CHECK_EQ(((uint64_t)u32_at(b[3].body + 4) << 32) | u32_at(b[3].body + 8),
		 1700000000123456789ULL);
	CHECK(u32_at(b[3].body + 12) == 61 && u32_at(b[3].body + 16) == 71, "EPB 1 lengths");
	CHECK(b[8].type == 5 && b[8].usrdeliv == 2 && b[8].osdrop == 0, "ISB A: %llu %llu",
	      (unsigned long long)b[8].usrdeliv, (unsigned long long)b[8].osdrop);
	CHECK(strstr(b[8].comment, "3 more matching packets"), "ISB A comment '%s'", b[8].comment);
	CHECK(b[9].type == 5 && b[9].usrdeliv == 1 && b[9].osdrop == 7, "ISB B: %llu %llu",
	      (unsigned long long)b[9].usrdeliv, (unsigned long long)b[9].osdrop);
	CHECK(b[10].type == 5 && b[10].usrdeliv == 1 && u32_at(b[10].body) == 2, "ISB C");
}

/*
 * Link types per interface: A declared raw IP, B Ethernet; C, not declared,
 * takes the one of its first packet. A raw IP packet of an Ethernet interface
 * (B) gets a made-up Ethernet header, the type of its IP version.
 */
static void pcapng_describes_each_interface_with_its_link_type(void)
{
	static const uint32_t ifs[] = { IF_A, IF_B },
			      types[] = { XCAP_LINKTYPE_RAW, XCAP_LINKTYPE_ETHERNET };
	struct xcap_pcap_opts o = {
		.format = XCAP_PCAPNG,
		.snaplen = 16384,
		.ifindexes = ifs,
		.n_ifaces = 2,
		.linktypes = types,
	};
	static uint8_t buf[1 << 16];
	uint8_t ip6[40] = { 0x60 };
	struct xcap_packet p[3];
	struct block b[16];
	struct xcap_pcap *w;
	char path[256];
	int i, n;

	p[0] = packet(IF_A, false, 1, ip6, sizeof(ip6));
	p[1] = packet(IF_B, false, 2, ip6, sizeof(ip6));
	p[2] = packet(IF_C, true, 3, ip6, sizeof(ip6));
	for (i = 0; i < 3; i++)
		p[i].flags |= XCAP_REC_L3;
	test_path(path, sizeof(path), "links.pcapng");
	w = xcap_pcap_open_opts(path, &o);
	CHECK(w, "open: %s", strerror(errno));
	if (!w)
		return;
	for (i = 0; i < 3; i++)
		CHECK_EQ(xcap_pcap_write_packet(w, &p[i]), 0);
	CHECK_EQ(xcap_pcap_close(w), 0);
	n = read_blocks(path, buf, sizeof(buf), b, 16);
	/* SHB, IDB A, IDB B, EPB, EPB, IDB C, EPB, 3 ISB */
	CHECK_EQ(n, 10);
	if (n != 10)
		return;
	CHECK_EQ(u32_at(b[1].body) & 0xffff, XCAP_LINKTYPE_RAW);
	CHECK_EQ(u32_at(b[2].body) & 0xffff, XCAP_LINKTYPE_ETHERNET);
	CHECK_EQ(u32_at(b[5].body) & 0xffff, XCAP_LINKTYPE_RAW);
	/* Lengths and data: A and C as written, B behind 14 bytes ending 0x86dd. */
	CHECK(u32_at(b[3].body + 12) == 40 && u32_at(b[3].body + 16) == 50 && b[3].body[20] == 0x60,
	      "EPB A");
	CHECK(u32_at(b[4].body + 12) == 54 && u32_at(b[4].body + 16) == 64 &&
		      b[4].body[20 + 12] == 0x86 && b[4].body[20 + 13] == 0xdd &&
		      b[4].body[20 + 14] == 0x60,
	      "EPB B");
	CHECK(u32_at(b[6].body + 12) == 40 && b[6].body[20] == 0x60, "EPB C");
}

/* A pcap file has one link type: raw IP when all frames are, else Ethernet 14 bytes longer. */
static void pcap_link_type_follows_the_frames(void)
{
	struct xcap_pcap_opts o = { .format = XCAP_PCAP, .snaplen = 100 };

	xcap_pcap_opts_frames(&o, 3, 3);
	CHECK(o.linktype == XCAP_LINKTYPE_RAW && o.snaplen == 100, "all raw: %u %u", o.linktype,
	      o.snaplen);
	o = (struct xcap_pcap_opts){ .format = XCAP_PCAP, .snaplen = 100 };
	xcap_pcap_opts_frames(&o, 3, 1);
	CHECK(!o.linktype && o.snaplen == 114, "some raw: %u %u", o.linktype, o.snaplen);
	o = (struct xcap_pcap_opts){ .format = XCAP_PCAPNG, .snaplen = 100 };
	xcap_pcap_opts_frames(&o, 3, 1);
	CHECK(!o.linktype && o.snaplen == 100, "pcapng, some raw: %u %u", o.linktype, o.snaplen);
	o = (struct xcap_pcap_opts){ .format = XCAP_PCAP, .snaplen = 100 };
	xcap_pcap_opts_frames(&o, 0, 0);
	CHECK(!o.linktype && o.snaplen == 100, "none: %u %u", o.linktype, o.snaplen);
}

static void pcapng_reads_back_with_libpcap(void)
{
	char path[256], err[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *bytes;
	uint64_t packets, octets;
	pcap_t *r;
	int n = 0;

	test_path(path, sizeof(path), "libpcap.pcapng");
	CHECK_EQ(write_sample(path), 0);
	r = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, err);
	CHECK(r, "libpcap: %s", err);
	if (!r)
		return;
	CHECK_EQ(pcap_datalink(r), 1);
	while (pcap_next_ex(r, &h, &bytes) == 1) {
		if (!n++)
			CHECK(h->ts.tv_sec == 1700000000 && h->ts.tv_usec == 123456789,
			      "first packet at %ld.%09ld", (long)h->ts.tv_sec, (long)h->ts.tv_usec);
	}
	pcap_close(r);
	CHECK_EQ(n, 4);
	CHECK_EQ(xcap_pcap_count(path, &packets, &octets), 0);
	CHECK_EQ(packets, 4);
	CHECK_EQ(octets, 61 + 60 + 14 + 1);
}

/* Where block k starts in buf. */
static size_t block_off(const struct block *k, const uint8_t *buf)
{
	return k->body - 8 - buf;
}

/* A crash leaves a block cut short: the count stops before it. */
static void pcap_count_stops_at_a_torn_block(void)
{
	static uint8_t buf[1 << 16];
	uint64_t packets, octets;
	struct block b[16];
	char path[256];

	test_path(path, sizeof(path), "torn.pcapng");
	CHECK_EQ(write_sample(path), 0);
	if (read_blocks(path, buf, sizeof(buf), b, 16) != 11)
		return;
	/* The last packet less 5 bytes, without the statistics after it. */
	CHECK(!truncate(path, block_off(&b[7], buf) + b[7].len - 5), "truncate");
	CHECK_EQ(xcap_pcap_count(path, &packets, &octets), 0);
	CHECK_EQ(packets, 3);
	CHECK_EQ(octets, 61 + 60 + 14);
}

static void record_walk_tells_packets_and_wants_whole_headers(void)
{
	static uint8_t buf[1 << 16];
	uint8_t pcap_hdr[24 + 16];
	struct block b[16];
	char path[256];
	uint32_t len;
	bool packet;
	size_t off;
	int n, i;

	test_path(path, sizeof(path), "walk.pcapng");
	CHECK_EQ(write_sample(path), 0);
	n = read_blocks(path, buf, sizeof(buf), b, 16);
	for (i = 0, off = 0; i < n; i++) {
		CHECK_EQ(xcap_pcap_record(XCAP_PCAPNG, off, buf + off, 8 + !off * 4, &len, &packet),
			 0);
		CHECK_EQ(len, b[i].len);
		CHECK_EQ(packet, b[i].type == 6);
		off += len;
	}
	CHECK_EQ(xcap_pcap_record(XCAP_PCAPNG, 100, buf, 7, &len, &packet), -EAGAIN);
	CHECK_EQ(xcap_pcap_record(XCAP_PCAP, 0, buf, 12, &len, &packet), -EINVAL);
	/* pcap: the file header, then records of 16 + incl_len bytes */
	memset(pcap_hdr, 0, sizeof(pcap_hdr));
	memcpy(pcap_hdr, &(uint32_t){ 0xa1b23c4d }, 4);
	memcpy(pcap_hdr + 24 + 8, &(uint32_t){ 100 }, 4);
	CHECK(!xcap_pcap_record(XCAP_PCAP, 0, pcap_hdr, 24, &len, &packet) && len == 24 && !packet,
	      "pcap header");
	CHECK(!xcap_pcap_record(XCAP_PCAP, 24, pcap_hdr + 24, 16, &len, &packet) && len == 116 &&
		      packet,
	      "pcap record");
	CHECK_EQ(xcap_pcap_record(XCAP_PCAP, 24, pcap_hdr + 24, 15, &len, &packet), -EAGAIN);
}

/* The stream's note on the packet after a gap: the same block, one option more. */
static void comment_packet_keeps_the_block_and_adds_the_comment(void)
{
	static uint8_t buf[1 << 16], out[4096];
	struct block b[16], c;
	char path[256], copy[256];
	size_t len, end;
	uint8_t *epb;
	FILE *f;
	int n;

	test_path(path, sizeof(path), "comment.pcapng");
	CHECK_EQ(write_sample(path), 0);
	n = read_blocks(path, buf, sizeof(buf), b, 16);
	if (n != 11)
		return;
	epb = buf + block_off(&b[4], buf);
	end = block_off(&b[10], buf) + b[10].len;
	len = xcap_pcapng_comment_packet(epb, b[4].len, "12 packets skipped", out, sizeof(out));
	CHECK_EQ(len, b[4].len + 4 + 20);
	CHECK_EQ(xcap_pcapng_comment_packet(epb, b[4].len, "x", out, b[4].len), 0);
	CHECK_EQ(xcap_pcapng_comment_packet(buf, b[0].len, "x", out, sizeof(out)), 0);
	/* The file with that block in place reads as the same packets, the comment on it. */
	test_path(copy, sizeof(copy), "commented.pcapng");
	len = xcap_pcapng_comment_packet(epb, b[4].len, "12 packets skipped", out, sizeof(out));
	f = fopen(copy, "wb");
	CHECK(f, "open %s", copy);
	if (!f)
		return;
	fwrite(buf, 1, epb - buf, f);
	fwrite(out, 1, len, f);
	fwrite(epb + b[4].len, 1, buf + end - (epb + b[4].len), f);
	fclose(f);
	n = read_blocks(copy, buf, sizeof(buf), b, 16);
	CHECK_EQ(n, 11);
	c = b[4];
	CHECK(!strcmp(c.comment, "12 packets skipped") && c.epb_flags == 2,
	      "comment '%s', flags %u", c.comment, c.epb_flags);
}

static long file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) ? -1 : (long)st.st_size;
}

static struct xcap_pcap *open_format(const char *path, enum xcap_pcap_format format)
{
	struct xcap_pcap_opts o = { .format = format, .snaplen = 16384 };
	struct xcap_pcap *w = xcap_pcap_open_opts(path, &o);

	CHECK(w, "open %s: %s", path, strerror(errno));
	return w;
}

/* Fifty records stay in the buffer until the flush, which hands over all of them. */
static void check_records_wait_for_a_flush(enum xcap_pcap_format format)
{
	static const uint8_t data[1000];
	struct xcap_packet pkt = packet(IF_A, false, 1700000000000000000ULL, data, sizeof(data));
	uint64_t packets, bytes;
	struct xcap_pcap *w;
	char path[256];
	long head;
	int i;

	test_path(path, sizeof(path), format == XCAP_PCAP ? "buffered.pcap" : "buffered.pcapng");
	w = open_format(path, format);
	if (!w)
		return;
	head = file_size(path);
	CHECK(head > 0, "the header is on disk at open: %ld bytes", head);
	for (i = 0; i < 50; i++)
		CHECK_EQ(xcap_pcap_write_packet(w, &pkt), 0);
	CHECK_EQ(file_size(path), head);
	CHECK_EQ(xcap_pcap_flush(w), 0);
	CHECK_EQ(xcap_pcap_count(path, &packets, &bytes), 0);
	CHECK_EQ(packets, 50);
	CHECK_EQ(bytes, 50 * sizeof(data));
	CHECK_EQ(xcap_pcap_lost(w), 0);
	CHECK_EQ(xcap_pcap_close(w), 0);
}

static void pcap_records_wait_for_a_flush(void)
{
	check_records_wait_for_a_flush(XCAP_PCAP);
}

static void pcapng_records_wait_for_a_flush(void)
{
	check_records_wait_for_a_flush(XCAP_PCAPNG);
}

/*
 * A file that may not grow past 8 KiB (RLIMIT_FSIZE: write() fails with
 * EFBIG, as with ENOSPC): the flush of 100 records fails, says so, and counts
 * all of them lost; the writer refuses more.
 */
static void check_write_error_counts_the_lost(enum xcap_pcap_format format)
{
	static const uint8_t data[1000];
	struct xcap_packet pkt = packet(IF_A, true, 1700000000000000000ULL, data, sizeof(data));
	struct rlimit old, small = { .rlim_cur = 8192 };
	void (*was)(int) = signal(SIGXFSZ, SIG_IGN);
	struct xcap_pcap *w;
	char path[256];
	int i;

	test_path(path, sizeof(path), format == XCAP_PCAP ? "full.pcap" : "full.pcapng");
	w = open_format(path, format);
	getrlimit(RLIMIT_FSIZE, &old);
	small.rlim_max = old.rlim_max;
	CHECK(!setrlimit(RLIMIT_FSIZE, &small), "setrlimit: %s", strerror(errno));
	if (!w)
		goto out;
	for (i = 0; i < 100; i++)
		CHECK_EQ(xcap_pcap_write_packet(w, &pkt), 0);
	CHECK_EQ(-xcap_pcap_flush(w), EFBIG);
	CHECK_EQ(xcap_pcap_lost(w), 100);
	CHECK_EQ(-xcap_pcap_write_packet(w, &pkt), EFBIG);
	CHECK_EQ(-xcap_pcap_close(w), EFBIG);
out:
	setrlimit(RLIMIT_FSIZE, &old);
	signal(SIGXFSZ, was);
}

static void pcap_write_error_counts_the_lost(void)
{
	check_write_error_counts_the_lost(XCAP_PCAP);
}

static void pcapng_write_error_counts_the_lost(void)
{
	check_write_error_counts_the_lost(XCAP_PCAPNG);
}

/* Whether the test folder's file system allocates space ahead (fallocate, FALLOC_FL_KEEP_SIZE). */
static bool can_reserve(void)
{
	char path[256];
	int fd, ok;

	test_path(path, sizeof(path), "probe");
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ok = fd >= 0 && !fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 1 << 20);
	if (fd >= 0)
		close(fd);
	unlink(path);
	return ok;
}

/*
 * The writer allocates file space ahead of its writes (16 MiB at a time), so
 * that each write skips the file system's allocation; the file's size is
 * always that of its records, and the space past them goes back at close.
 */
static void space_reserved_ahead_goes_back_at_close(void)
{
	static const uint8_t data[1000];
	struct xcap_packet pkt = packet(IF_A, true, 1700000000000000000ULL, data, sizeof(data));
	bool reserves = can_reserve();
	uint64_t packets = 0, bytes;
	struct xcap_pcap *w;
	struct stat st;
	char path[256];
	int i;

	if (!reserves)
		printf("# this file system cannot allocate ahead: only the sizes are checked\n");
	test_path(path, sizeof(path), "reserved.pcap");
	w = open_format(path, XCAP_PCAP);
	if (!w)
		return;
	for (i = 0; i < 100; i++)
		CHECK_EQ(xcap_pcap_write_packet(w, &pkt), 0);
	CHECK_EQ(xcap_pcap_flush(w), 0);
	CHECK(!stat(path, &st), "stat: %s", strerror(errno));
	CHECK_EQ(st.st_size, 24 + 100 * (16 + sizeof(data)));
	if (reserves)
		CHECK((uint64_t)st.st_blocks * 512 >= 16 << 20, "%llu bytes allocated, not 16 MiB",
		      (unsigned long long)st.st_blocks * 512);
	CHECK_EQ(xcap_pcap_close(w), 0);
	CHECK(!stat(path, &st), "stat: %s", strerror(errno));
	CHECK_EQ(st.st_size, 24 + 100 * (16 + sizeof(data)));
	CHECK((uint64_t)st.st_blocks * 512 <= (uint64_t)st.st_size + 65536,
	      "%llu bytes still allocated for %lld of data", (unsigned long long)st.st_blocks * 512,
	      (long long)st.st_size);
	CHECK(!xcap_pcap_count(path, &packets, &bytes), "count");
	CHECK_EQ(packets, 100);
}

int main(void)
{
	if (test_tmpdir_init("pcap"))
		return 1;
	RUN_TEST(pcapng_has_section_interfaces_packets_and_statistics);
	RUN_TEST(pcapng_reads_back_with_libpcap);
	RUN_TEST(pcapng_describes_each_interface_with_its_link_type);
	RUN_TEST(pcap_link_type_follows_the_frames);
	RUN_TEST(pcap_count_stops_at_a_torn_block);
	RUN_TEST(record_walk_tells_packets_and_wants_whole_headers);
	RUN_TEST(comment_packet_keeps_the_block_and_adds_the_comment);
	RUN_TEST(pcap_records_wait_for_a_flush);
	RUN_TEST(pcapng_records_wait_for_a_flush);
	RUN_TEST(pcap_write_error_counts_the_lost);
	RUN_TEST(pcapng_write_error_counts_the_lost);
	RUN_TEST(space_reserved_ahead_goes_back_at_close);
	return tests_failed_total ? 1 : 0;
}
