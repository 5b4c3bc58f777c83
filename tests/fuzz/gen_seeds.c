// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Writes the generated seeds of fuzz_segment (tests/data/fuzz/segment/gen-*):
 * segments and indexes made by the real recorder from canned frames
 * (tests/frames.h), wrapped in fuzz_segment's 16-byte header. Run by
 * `tools/fuzz --seeds`; the output is deterministic.
 *
 * Usage: gen_seeds OUT_DIR
 */
#include "fuzz_common.h"
#include "frames.h"
#include "agent/recorder.h"

#define T0 (1700000040ULL * 1000000000ULL)

static const char *out_dir;
static char rec_dir[PATH_MAX];

struct frame_spec {
	struct frame_opts o;
	uint64_t dt_ns; /* after T0 */
};

/* Records frames with the real recorder and returns its segment and index files. */
static void record(const struct frame_spec *specs, size_t n, uint8_t **seg, size_t *seg_len,
		   uint8_t **idx, size_t *idx_len)
{
	struct xcap_recorder_opts o = { .dir = rec_dir, .max_rate = 1000000 };
	struct xcap_recorder *r;
	uint8_t buf[2048];
	char path[PATH_MAX + 64];
	size_t i, len;

	fuzz_rm_rf(rec_dir, false);
	r = xcap_recorder_open(&o);
	if (!r)
		abort();
	for (i = 0; i < n; i++) {
		len = frame_build(buf, sizeof(buf), &specs[i].o);
		struct xcap_packet p = {
			.ts_ns = T0 + specs[i].dt_ns,
			.data = buf,
			.cap_len = len,
			.orig_len = len,
			.ifindex = 2,
		};
		if (!len || xcap_recorder_add(r, &p))
			abort();
	}
	xcap_recorder_close(r);
	snprintf(path, sizeof(path), "%s/1700000040-0.seg", rec_dir);
	*seg = fuzz_read_file(path, seg_len);
	snprintf(path, sizeof(path), "%s/1700000040-0.idx", rec_dir);
	*idx = fuzz_read_file(path, idx_len);
	if (!*seg || !*idx)
		abort();
}

/* hdr: flags, filter, limit - 1; the segment without its header when F_SEG_HDR (8). */
static void seed(const char *name, uint8_t flags, uint8_t filter, uint16_t limit,
		 const uint8_t *seg, size_t seg_len, const uint8_t *idx, size_t idx_len,
		 uint64_t from_ns, uint16_t secs)
{
	uint8_t hdr[16] = { flags, filter, (limit - 1) & 0xff, (limit - 1) >> 8 };
	char path[PATH_MAX];
	uint8_t *buf;
	size_t skip = flags & 8 ? 16 : 0, len;

	hdr[4] = (seg_len - skip) & 0xff;
	hdr[5] = (seg_len - skip) >> 8;
	hdr[6] = secs & 0xff;
	hdr[7] = secs >> 8;
	memcpy(hdr + 8, &from_ns, 8);
	len = 16 + seg_len - skip + (flags & 2 ? idx_len : 0);
	buf = malloc(len);
	if (!buf)
		abort();
	memcpy(buf, hdr, 16);
	memcpy(buf + 16, seg + skip, seg_len - skip);
	if (flags & 2)
		memcpy(buf + 16 + seg_len - skip, idx, idx_len);
	snprintf(path, sizeof(path), "%s/gen-%s", out_dir, name);
	fuzz_write_file(path, buf, len);
	free(buf);
}

int main(int argc, char **argv)
{
	static const struct frame_spec mix[] = {
		{ { .family = 4, .proto = IPPROTO_TCP, .sport = 40000, .dport = 80 }, 1000 },
		{ { .family = 4, .proto = IPPROTO_UDP, .sport = 5353, .dport = 53, .len = 90 },
		  2000 },
		{ { .family = 6, .proto = IPPROTO_TCP, .sport = 443, .dport = 50000 }, 3000 },
		{ { .family = 4, .vlans = 1, .proto = IPPROTO_ICMP }, 3000 },
		{ { .family = 6,
		    .vlans = 2,
		    .proto = IPPROTO_UDP,
		    .dport = 53,
		    .hop_by_hop = true },
		  4000 },
		{ { .family = 4, .proto = IPPROTO_UDP, .dport = 53, .frag_off = 10 }, 5000 },
		{ { .family = 6,
		    .proto = IPPROTO_SCTP,
		    .sport = 1,
		    .dport = 5000,
		    .dest_opts = true,
		    .more_frags = true },
		  5000 },
		{ { .family = 0 }, 6000 },
		{ { .family = 4, .proto = IPPROTO_TCP, .ip_opts = 40, .dport = 443, .len = 200 },
		  500 },
		{ { .family = 6, .proto = IPPROTO_ICMPV6, .src = "fe80::1", .dst = "ff02::1" },
		  59000000000ULL },
		{ { .family = 4,
		    .proto = IPPROTO_TCP,
		    .src = "10.1.2.3",
		    .dst = "192.0.2.1",
		    .sport = 22,
		    .dport = 80,
		    .len = 1500 },
		  7000 },
		{ { .family = 4, .proto = IPPROTO_UDP, .len = 20 }, 8000 }, /* a runt */
	};
	uint8_t *seg, *idx, *torn;
	size_t seg_len, idx_len;

	if (argc != 2) {
		fprintf(stderr, "usage: gen_seeds OUT_DIR\n");
		return 2;
	}
	fuzz_quiet();
	out_dir = argv[1];
	snprintf(rec_dir, sizeof(rec_dir), "%s/recorder", fuzz_tmpdir("seeds"));
	record(mix, sizeof(mix) / sizeof(mix[0]), &seg, &seg_len, &idx, &idx_len);

	/* With the recorder's index; filters that use it. */
	seed("idx-dport80", 2, 2 | 0 << 3, 100, seg, seg_len, idx, idx_len, 0, 0);
	seed("idx-proto17", 2, 1 | 1 << 3, 3, seg, seg_len, idx, idx_len, 0, 0);
	seed("idx-src-v4", 6, 4 | 3 << 3, 10000, seg, seg_len, idx, idx_len, 0, 0);
	seed("idx-dst-v6", 2, 5 | 5 << 3, 2, seg, seg_len, idx, idx_len, 0, 0);
	/* Without an index: rebuilt at open, and the answer checked against the reference. */
	seed("noidx-wild", 0, 0, 5, seg, seg_len, NULL, 0, 0, 0);
	seed("noidx-combo", 0, 6 | 1 << 3, 10, seg, seg_len, NULL, 0, 0, 0);
	seed("noidx-tcp-src", 0, 7 | 2 << 3, 1, seg, seg_len, NULL, 0, 0, 0);
	seed("noidx-window", 16, 0, 100, seg, seg_len, NULL, 0, 1700000040ULL * 1000000000ULL, 0);
	/* Samples added after the open, in the same minute and in another one. */
	seed("noidx-add", 32, 2 | 1 << 3, 4, seg, seg_len, NULL, 0, T0 + 3000, 0);
	seed("idx-add-later", 2 | 32, 0, 20, seg, seg_len, idx, idx_len, T0 + 3600000000000ULL, 0);
	/* Records only: the harness writes the segment header and the CRCs. */
	seed("records-fixcrc", 8 | 1, 1 | 0 << 3, 50, seg, seg_len, NULL, 0, 0, 0);
	/* A torn last record, and a corrupt one in the middle. */
	torn = malloc(seg_len);
	if (!torn)
		abort();
	memcpy(torn, seg, seg_len);
	seed("noidx-torn", 0, 0, 100, torn, seg_len - 7, NULL, 0, 0, 0);
	torn[16 + 24 + 3] ^= 0xff;
	seed("noidx-corrupt", 0, 0, 100, torn, seg_len, NULL, 0, 0, 0);
	seed("idx-corrupt-seg", 2, 0, 100, torn, seg_len, idx, idx_len, 0, 0);
	free(torn);
	free(seg);
	free(idx);
	fuzz_rm_rf(rec_dir, false);
	*strrchr(rec_dir, '/') = '\0';
	rmdir(rec_dir);
	return 0;
}
