// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libFuzzer harness: the flight recorder's segment reader (recorder.c: open,
 * index load or rebuild, scan) and the simple-capture query over it
 * (query.c). Each input becomes a recorder folder holding one segment file
 * (and optionally its index); the recorder is opened on it and one query run.
 *
 * Input: a 16-byte harness header, then the file bytes.
 *   [0]     flags: 1 fix the CRC of every record (so random records get read),
 *                  2 an index file follows the segment ([4..5] is the segment's length),
 *                  4 fix the index's header and Bloom CRCs,
 *                  8 write a valid segment header first (the file bytes are records),
 *                  16 window from [8..15] (ns) for [6..7]+1 seconds; else everything,
 *                  32 after the open, add 3 samples (times [8..15] + 0, 1, 2 ns) through
 *                     xcap_recorder_add (a second segment, next to the fuzzed one),
 *                  64, 128: the filter's tunnel mode outer, inner (neither or both: any)
 *   [1]     the query's filter: one of the presets below
 *   [2..3]  packet limit - 1 (little endian; 1..10000)
 * The segment format is recorder.c's (header comment): host byte order.
 *
 * Invariants: no crash or sanitizer report; the query answers 0 and its pcap
 * file reads back (xcap_pcap_count) with as many records as it returned, at
 * most the limit. Without an index file the recorder rebuilds the index from
 * the records, so the answer is also compared with a reference computed here
 * (the intact records, the window and the filter by brute force): same
 * samples, same order; a Bloom index may only cost reads, never a match.
 */
#include "fuzz_common.h"
#include "common/filter.h"
#include "common/frame.h"
#include "agent/pcap.h"
#include "agent/query.h"
#include "agent/recorder.h"

#define HDR 16
#define SEG_HDR 16
#define REC_HDR 24
#define IDX_HDR 88
#define SEG_NAME "1700000040-0"
#define NS 1000000000ULL
#define LIMIT_MAX 10000

enum {
	F_FIX_CRC = 1,
	F_IDX = 2,
	F_FIX_IDX = 4,
	F_SEG_HDR = 8,
	F_WINDOW = 16,
	F_ADD = 32,
};

#define ADDED 3

/* The samples F_ADD adds: IPv4 UDP 192.0.2.1:5353 -> 192.0.2.2:53. */
static const uint8_t added_frame[42] = {
	0x02, 0,    0, 0,  0, 2, 0x02, 0, 0,  0,  0, 1, 0x08, 0x00, /* Ethernet */
	0x45, 0,    0, 28, 0, 0, 0,    0, 64, 17, 0, 0, 192,  0,    2, 1, 192, 0, 2, 2, /* IPv4 */
	0x14, 0xe9, 0, 53, 0, 8, 0,    0, /* UDP */
};

static char dir[PATH_MAX], seg_path[PATH_MAX + 32], idx_path[PATH_MAX + 32], out_path[PATH_MAX];
static uint8_t *file; /* the segment as written */

static uint32_t crc_table[256];

static uint32_t crc32c(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint32_t c = ~0U;

	while (len--)
		c = crc_table[(c ^ *p++) & 0xff] ^ (c >> 8);
	return ~c;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *top;
	uint32_t c;
	int i, k;

	(void)argc;
	(void)argv;
	fuzz_quiet();
	for (i = 0; i < 256; i++) {
		c = i;
		for (k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82f63b78 : c >> 1;
		crc_table[i] = c;
	}
	top = fuzz_tmpdir("segment");
	snprintf(dir, sizeof(dir), "%s/recorder", top);
	snprintf(seg_path, sizeof(seg_path), "%s/" SEG_NAME ".seg", dir);
	snprintf(idx_path, sizeof(idx_path), "%s/" SEG_NAME ".idx", dir);
	snprintf(out_path, sizeof(out_path), "%s/out.pcap", top);
	file = malloc(SEG_HDR + (1 << 20));
	if (!file)
		abort();
	return 0;
}

static uint16_t le16(const uint8_t *p)
{
	return p[0] | p[1] << 8;
}

static uint64_t le64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

/* The filter presets: what the API can ask, including prefixes the index cannot use. */
static void make_filter(uint8_t sel, struct xcap_filter *f)
{
	static const char *const prefixes[] = {
		"192.0.2.0/24",	 "192.0.2.1",	"198.51.100.0/24", "10.0.0.0/8", "0.0.0.0/4",
		"2001:db8::/32", "2001:db8::1", "2001:db8::/20",   "fe80::/10",	 "::/0",
	};
	static const uint16_t ports[] = { 80, 53, 443, 5000, 0, 65535, 1, 5353 };
	static const uint8_t protos[] = { 6, 17, 1, 58, 132, 0, 255, 41 };

	xcap_filter_init(f);
	switch (sel & 7) {
	case 0:
		break;
	case 1:
		xcap_filter_set_num(f, XCAP_FIELD_PROTO, protos[sel >> 3 & 7]);
		break;
	case 2:
		xcap_filter_set_num(f, XCAP_FIELD_DPORT, ports[sel >> 3 & 7]);
		break;
	case 3:
		xcap_filter_set_num(f, XCAP_FIELD_SPORT, ports[sel >> 3 & 7]);
		break;
	case 4:
		xcap_filter_set(f, XCAP_FIELD_SADDR, prefixes[(sel >> 3) % 10]);
		break;
	case 5:
		xcap_filter_set(f, XCAP_FIELD_DADDR, prefixes[(sel >> 3) % 10]);
		break;
	case 6:
		xcap_filter_set_num(f, XCAP_FIELD_PROTO, 17);
		xcap_filter_set_num(f, XCAP_FIELD_DPORT, ports[sel >> 3 & 7]);
		xcap_filter_set(f, XCAP_FIELD_DADDR, prefixes[(sel >> 6) + 5]);
		break;
	default:
		xcap_filter_set_num(f, XCAP_FIELD_PROTO, 6);
		xcap_filter_set_num(f, XCAP_FIELD_SPORT, ports[sel >> 3 & 7]);
		xcap_filter_set(f, XCAP_FIELD_SADDR, prefixes[sel >> 6]);
		break;
	}
}

/* Recomputes the CRC of every record the reader would reach; stops where it would stop. */
static void fix_crcs(uint8_t *p, size_t size)
{
	size_t off = SEG_HDR;
	uint16_t cap;

	while (size - off >= REC_HDR) {
		cap = le16(p + off + 4);
		if (cap > XCAP_SAMPLE_BYTES || size - off - REC_HDR < cap)
			break;
		uint32_t crc = crc32c(p + off + 4, REC_HDR - 4 + cap);

		memcpy(p + off, &crc, 4);
		off += REC_HDR + cap;
	}
}

static void fix_idx(uint8_t *p, size_t size)
{
	uint32_t crc, log2;

	if (size < IDX_HDR)
		return;
	memcpy(&log2, p + 40, 4);
	if (log2 >= 13 && log2 <= 23 && size - IDX_HDR >= ((size_t)1 << log2 >> 3)) {
		crc = crc32c(p + IDX_HDR, (size_t)1 << log2 >> 3);
		memcpy(p + 44, &crc, 4);
	}
	memset(p + 12, 0, 4);
	crc = crc32c(p, IDX_HDR);
	memcpy(p + 12, &crc, 4);
}

struct ref {
	uint64_t ts;
	uint64_t ord;
	const uint8_t *data;
	uint16_t cap;
	uint16_t flags; /* XCAP_REC_*: XCAP_REC_L3, a raw IP frame */
	uint32_t orig;
};

static int ref_cmp(const void *a, const void *b)
{
	const struct ref *x = a, *y = b;

	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	return x->ord < y->ord ? -1 : x->ord > y->ord;
}

/* The intact records of the segment (as the reader defines them); returns how many. */
static size_t walk(const uint8_t *p, size_t size, struct ref *out, size_t max)
{
	size_t off = SEG_HDR, n = 0;
	uint32_t crc;
	uint16_t cap;

	if (size < SEG_HDR || memcmp(p, "XCAPSEG", 8) || le16(p + 8) != 1 || p[10] || p[11])
		return 0;
	while (size - off >= REC_HDR && n < max) {
		cap = le16(p + off + 4);
		memcpy(&crc, p + off, 4);
		if (cap > XCAP_SAMPLE_BYTES || size - off - REC_HDR < cap ||
		    crc32c(p + off + 4, REC_HDR - 4 + cap) != crc)
			break;
		out[n] = (struct ref){ .ts = le64(p + off + 8),
				       .ord = n,
				       .data = p + off + REC_HDR,
				       .cap = cap,
				       .flags = le16(p + off + 6) };
		memcpy(&out[n].orig, p + off + 20, 4);
		n++;
		off += REC_HDR + cap;
	}
	return n;
}

/* Reads the query's pcap back and compares it with the expected samples, oldest first. */
static void check_pcap(const struct ref *want, size_t n, bool exact, uint64_t returned)
{
	uint64_t packets, bytes;
	uint8_t *p;
	size_t len, off = 24, i, l3 = 0;
	uint32_t sec, nsec, incl, orig, link, eth;

	FUZZ_CHECK(!exact || n == returned, "%zu expected, %llu returned", n,
		   (unsigned long long)returned);
	FUZZ_CHECK(!xcap_pcap_count(out_path, &packets, &bytes), "the answer does not read back");
	FUZZ_CHECK(packets == returned, "%llu records read back, %llu returned",
		   (unsigned long long)packets, (unsigned long long)returned);
	p = fuzz_read_file(out_path, &len);
	FUZZ_CHECK(p, "cannot read %s", out_path);
	FUZZ_CHECK(len == 24 + 16 * packets + bytes, "%zu bytes: trailing garbage", len);
	/* Raw IP when every sample is one; else Ethernet, raw IP samples with 14 bytes more. */
	for (i = 0; i < n; i++)
		l3 += !!(want[i].flags & XCAP_REC_L3);
	memcpy(&link, p + 20, 4);
	FUZZ_CHECK(!exact || link == (l3 && l3 == n ? 101u : 1u), "link type %u, %zu of %zu raw",
		   link, l3, n);
	for (i = 0; i < packets; i++, off += 16 + incl) {
		memcpy(&sec, p + off, 4);
		memcpy(&nsec, p + off + 4, 4);
		memcpy(&incl, p + off + 8, 4);
		memcpy(&orig, p + off + 12, 4);
		FUZZ_CHECK(incl <= XCAP_SAMPLE_BYTES + 14 && nsec < NS,
			   "record %zu: incl %u nsec %u", i, incl, nsec);
		if (!exact)
			continue;
		eth = link == 1 && want[i].flags & XCAP_REC_L3 ? 14 : 0;
		/* Seconds are 32 bits in the pcap format. */
		FUZZ_CHECK(sec == (uint32_t)(want[i].ts / NS) && nsec == want[i].ts % NS &&
				   incl == want[i].cap + eth && orig == want[i].orig + eth &&
				   !memcmp(p + off + 16 + eth, want[i].data, incl - eth),
			   "record %zu differs from the reference (ts %llu)", i,
			   (unsigned long long)want[i].ts);
	}
	free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ref refs[(1 << 20) / REC_HDR + 1];
	struct xcap_recorder_opts o = { .dir = dir };
	struct xcap_recorder_stats rs;
	struct xcap_query_stats st;
	struct xcap_query q = { .from_ns = 0, .to_ns = UINT64_MAX };
	struct xcap_recorder *r;
	struct xcap_frame fr;
	size_t seg_len, idx_len = 0, len, n, i, m;
	const uint8_t *body;
	uint8_t flags;
	int ret;

	if (size < HDR || size - HDR > (1 << 20))
		return 0;
	flags = data[0];
	make_filter(data[1], &q.filter);
	if ((flags >> 6) == 1 || (flags >> 6) == 2)
		q.filter.tunnel = flags >> 6 == 1 ? XCAP_TUNNEL_OUTER : XCAP_TUNNEL_INNER;
	q.limit = le16(data + 2) % LIMIT_MAX + 1;
	if (flags & F_WINDOW) {
		q.from_ns = le64(data + 8);
		q.to_ns = q.from_ns + (le16(data + 6) + 1ULL) * NS;
		if (q.to_ns <= q.from_ns) { /* a window is never empty: that is -EINVAL */
			q.to_ns = UINT64_MAX;
			q.from_ns = q.from_ns < q.to_ns ? q.from_ns : q.to_ns - 1;
		}
	}
	body = data + HDR;
	len = size - HDR;
	seg_len = flags & F_IDX ? le16(data + 4) : len;
	if (seg_len > len)
		seg_len = len;
	if (flags & F_IDX)
		idx_len = len - seg_len;

	/* The segment file. */
	n = 0;
	if (flags & F_SEG_HDR) {
		memcpy(file, "XCAPSEG\0\1\0\0\0\0\0\0\0", SEG_HDR);
		n = SEG_HDR;
	}
	memcpy(file + n, body, seg_len);
	n += seg_len;
	if (flags & F_FIX_CRC && n >= SEG_HDR)
		fix_crcs(file, n);
	fuzz_rm_rf(dir, false);
	if (mkdir(dir, 0700))
		abort();
	fuzz_write_file(seg_path, file, n);
	if (idx_len) {
		uint8_t *idx = malloc(idx_len);

		if (!idx)
			abort();
		memcpy(idx, body + seg_len, idx_len);
		if (flags & F_FIX_IDX)
			fix_idx(idx, idx_len);
		fuzz_write_file(idx_path, idx, idx_len);
		free(idx);
	}

	r = xcap_recorder_open(&o);
	FUZZ_CHECK(r, "open: %s", strerror(errno));
	if (flags & F_ADD) {
		for (i = 0; i < ADDED; i++) {
			struct xcap_packet p = {
				.ts_ns = le64(data + 8) + i,
				.data = added_frame,
				.cap_len = sizeof(added_frame),
				.orig_len = sizeof(added_frame),
			};

			FUZZ_CHECK(!xcap_recorder_add(r, &p), "add failed");
		}
	}
	ret = xcap_query_run(r, &q, out_path, &st);
	FUZZ_CHECK(!ret, "query: %s", strerror(-ret));
	FUZZ_CHECK(st.returned <= q.limit && st.returned <= st.matched, "returned %llu",
		   (unsigned long long)st.returned);
	FUZZ_CHECK(st.segments <= 1 + ADDED &&
			   st.segments_read + st.segments_skipped + st.segments_unneeded ==
				   st.segments,
		   "segments %u read %u skipped %u unneeded %u", st.segments, st.segments_read,
		   st.segments_skipped, st.segments_unneeded);
	xcap_recorder_stats(r, &rs);

	if (idx_len) {
		/* An index can say anything (its CRCs may be right): only the format is checked. */
		check_pcap(NULL, 0, false, st.returned);
	} else {
		/* The reference: intact records in the window that the filter accepts. */
		n = walk(file, n, refs, sizeof(refs) / sizeof(refs[0]) - ADDED);
		FUZZ_CHECK(rs.samples == n + (flags & F_ADD ? ADDED : 0),
			   "the recorder holds %llu samples, the file %zu",
			   (unsigned long long)rs.samples, n);
		/* Added samples are in a newer segment: after the file's at equal times. */
		for (i = 0; flags & F_ADD && i < ADDED; i++)
			refs[n++] = (struct ref){ .ts = le64(data + 8) + i,
						  .ord = (1ULL << 32) + i,
						  .data = added_frame,
						  .cap = sizeof(added_frame),
						  .orig = sizeof(added_frame) };
		for (i = m = 0; i < n; i++) {
			if (refs[i].ts < q.from_ns || refs[i].ts >= q.to_ns)
				continue;
			xcap_frame_parse_levels(refs[i].data, refs[i].cap, refs[i].flags, &fr);
			if (xcap_filter_match_frame(&q.filter, &fr))
				refs[m++] = refs[i];
		}
		/* Segments older than `limit` newer matches are not read (query.h): fewer counted. */
		FUZZ_CHECK(st.segments_unneeded ? st.matched <= m : st.matched == m,
			   "%llu matched, the reference %zu (skipped %u, unneeded %u)",
			   (unsigned long long)st.matched, m, st.segments_skipped,
			   st.segments_unneeded);
		qsort(refs, m, sizeof(refs[0]), ref_cmp);
		i = m > q.limit ? m - q.limit : 0;
		FUZZ_CHECK(st.returned == m - i, "returned %llu, the reference %zu",
			   (unsigned long long)st.returned, m - i);
		check_pcap(refs + i, m - i, true, st.returned);
	}
	/* Retention over what was read: never more segments or samples than before. */
	xcap_recorder_expire(r, le64(data + 8) + 2 * 60 * NS);
	{
		struct xcap_recorder_stats after;

		xcap_recorder_stats(r, &after);
		FUZZ_CHECK(after.segments <= rs.segments && after.samples <= rs.samples,
			   "expire grew the history");
	}
	xcap_recorder_close(r);
	unlink(out_path);
	return 0;
}
