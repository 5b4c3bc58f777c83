// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Unit tier: pure userspace, no privileges. pcap writer, clock, ids, ABI layout. */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
/* libpcap and linux/bpf.h both define struct bpf_insn. */
#define PCAP_DONT_INCLUDE_PCAP_BPF_H
#include <pcap/pcap.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "common/util.h"
#include "common/clock.h"
#include "common/ids.h"
#include "agent/pcap.h"
#include "test.h"
#include "xcap_abi.h"

struct rec {
	uint64_t ts_ns;
	uint32_t cap_len;
	uint32_t orig_len;
};

static const struct rec recs[] = {
	{ 1700000000123456789ULL, 60, 60 },
	{ 1700000001000000001ULL, 100, 1514 },
	{ 1700000002999999999ULL, 14, 14 },
};

static void pcap_writer_reads_back_with_libpcap(void)
{
	char path[256], err[PCAP_ERRBUF_SIZE];
	uint8_t data[100];
	struct pcap_pkthdr *h;
	const u_char *bytes;
	struct xcap_pcap *w;
	size_t i;
	pcap_t *r;

	test_path(path, sizeof(path), "ns.pcap");
	for (i = 0; i < sizeof(data); i++)
		data[i] = i;
	w = xcap_pcap_open(path, 100);
	CHECK(w, "open: %s", strerror(errno));
	if (!w)
		return;
	for (i = 0; i < ARRAY_SIZE(recs); i++)
		CHECK_EQ(xcap_pcap_write(w, recs[i].ts_ns, data, recs[i].cap_len, recs[i].orig_len),
			 0);
	CHECK_EQ(xcap_pcap_close(w), 0);

	r = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, err);
	CHECK(r, "libpcap: %s", err);
	if (!r)
		return;
	CHECK_EQ(pcap_datalink(r), 1); /* DLT_EN10MB */
	CHECK_EQ(pcap_snapshot(r), 100);
	CHECK_EQ(pcap_get_tstamp_precision(r), PCAP_TSTAMP_PRECISION_NANO);
	for (i = 0; i < ARRAY_SIZE(recs); i++) {
		CHECK_EQ(pcap_next_ex(r, &h, &bytes), 1);
		CHECK_EQ(h->ts.tv_sec, recs[i].ts_ns / 1000000000ULL);
		CHECK_EQ(h->ts.tv_usec, recs[i].ts_ns % 1000000000ULL); /* ns in this precision */
		CHECK_EQ(h->caplen, recs[i].cap_len);
		CHECK_EQ(h->len, recs[i].orig_len);
		CHECK(!memcmp(bytes, data, h->caplen), "record %zu bytes differ", i);
	}
	CHECK_EQ(pcap_next_ex(r, &h, &bytes), PCAP_ERROR_BREAK);
	pcap_close(r);
}

static void pcap_writer_uses_nanosecond_magic(void)
{
	uint8_t magic[4], want[4] = { 0x4d, 0x3c, 0xb2, 0xa1 };
	char path[256];
	FILE *f;

	test_path(path, sizeof(path), "magic.pcap");
	CHECK_EQ(xcap_pcap_close(xcap_pcap_open(path, 65535)), 0);
	f = fopen(path, "rb");
	CHECK(f && fread(magic, 1, 4, f) == 4, "cannot read %s", path);
	if (f)
		fclose(f);
	CHECK(!memcmp(magic, want, 4), "magic %02x%02x%02x%02x", magic[0], magic[1], magic[2],
	      magic[3]);
}

static void pcap_writer_reports_a_full_disk(void)
{
	uint8_t data[1500] = {};
	struct xcap_pcap *w = xcap_pcap_open("/dev/full", 1500);
	int i, err = 0;

	/* The header may sit in the buffer; enough records overflow it. */
	if (!w) {
		CHECK_EQ(errno, ENOSPC);
		return;
	}
	for (i = 0; i < 2000 && !err; i++)
		err = xcap_pcap_write(w, 0, data, sizeof(data), sizeof(data));
	CHECK_EQ(-err, ENOSPC);
	CHECK_EQ(-xcap_pcap_close(w), ENOSPC);
}

static void pcap_writer_refuses_an_unwritable_path(void)
{
	CHECK(!xcap_pcap_open("/nonexistent-dir/x.pcap", 100), "opened");
	CHECK_EQ(errno, ENOENT);
}

/*
 * Issue 14, finding 2: xcapd's own files (spool, simple captures) are new
 * files, 0600 whatever the umask, never written through a link or over a
 * file standing at the name.
 */
static void pcap_create_makes_a_new_private_file(void)
{
	struct xcap_pcap_opts o = { .format = XCAP_PCAP, .snaplen = 100, .create_new = true };
	char path[256], link[256], victim[256], buf[16] = "";
	mode_t old = umask(0);
	struct xcap_pcap *w;
	struct stat st;
	FILE *f;

	test_path(path, sizeof(path), "new.pcap");
	w = xcap_pcap_open_opts(path, &o);
	umask(old);
	CHECK(w, "create: %s", strerror(errno));
	CHECK_EQ(xcap_pcap_close(w), 0);
	CHECK(!stat(path, &st) && (st.st_mode & 0777) == 0600, "mode %o", st.st_mode & 0777);
	CHECK(!xcap_pcap_open_opts(path, &o) && errno == EEXIST, "an existing file was reused");

	test_path(victim, sizeof(victim), "victim");
	f = fopen(victim, "w");
	CHECK(f && fputs("keep\n", f) >= 0 && !fclose(f), "victim");
	test_path(link, sizeof(link), "planted.pcap");
	CHECK(!symlink(victim, link), "symlink");
	CHECK(!xcap_pcap_open_opts(link, &o) && errno == EEXIST, "written through a link");
	f = fopen(victim, "r");
	CHECK(f && fgets(buf, sizeof(buf), f) && !strcmp(buf, "keep\n"), "the victim changed");
	if (f)
		fclose(f);
}

/* xcap_pcap_count, the packets and bytes a job reports, counts whole records only. */
static void pcap_count_reads_back_whole_records(void)
{
	static const char not_pcap[] = "not a pcap file, but longer than its header would be";
	uint64_t packets = 99, bytes = 99;
	uint8_t data[100] = {};
	struct xcap_pcap *w;
	char path[256];
	size_t i;
	FILE *f;

	test_path(path, sizeof(path), "count.pcap");
	w = xcap_pcap_open(path, 100);
	CHECK(w, "open: %s", strerror(errno));
	if (!w)
		return;
	for (i = 0; i < ARRAY_SIZE(recs); i++)
		xcap_pcap_write(w, recs[i].ts_ns, data, recs[i].cap_len, recs[i].orig_len);
	CHECK_EQ(xcap_pcap_close(w), 0);
	/* 24 bytes of file header, 16 per record header, then 60, 100 and 14 bytes. */
	CHECK_EQ(xcap_pcap_count(path, &packets, &bytes), 0);
	CHECK_EQ(packets, 3);
	CHECK_EQ(bytes, 174);
	/* A writer killed mid-record: the torn last record is not counted. */
	CHECK(!truncate(path, 24 + 3 * 16 + 174 - 1), "truncate %s", path);
	CHECK_EQ(xcap_pcap_count(path, &packets, &bytes), 0);
	CHECK_EQ(packets, 2);
	CHECK_EQ(bytes, 160);
	f = fopen(path, "w");
	CHECK(f && fputs(not_pcap, f) >= 0, "cannot write %s", path);
	if (f)
		fclose(f);
	CHECK_EQ(-xcap_pcap_count(path, &packets, &bytes), EINVAL);
	CHECK(!packets && !bytes, "counted %llu packets in a file that is not pcap",
	      (unsigned long long)packets);
}

/* RFC 3339 times, the API's offset_time: expectations are epoch seconds written by hand. */
static void clock_parses_rfc3339(void)
{
	static const struct {
		const char *s;
		int64_t ns;
	} good[] = {
		{ "2026-01-01T00:00:00Z", 1767225600 * NSEC_PER_SEC },
		{ "2026-01-01T00:00:00z", 1767225600 * NSEC_PER_SEC },
		{ "1970-01-01T00:00:00Z", 0 },
		{ "2024-02-29T12:00:00Z", 1709208000 * NSEC_PER_SEC },
		/* The offset is the local time's lead over UTC: subtract it. */
		{ "2026-01-01T01:30:00+01:30", 1767225600 * NSEC_PER_SEC },
		{ "2025-12-31T22:00:00-02:00", 1767225600 * NSEC_PER_SEC },
		{ "2026-01-01T00:00:00.5Z", 1767225600 * NSEC_PER_SEC + 500000000 },
		{ "2026-01-01T00:00:00.000000001Z", 1767225600 * NSEC_PER_SEC + 1 },
		{ "2026-01-01T00:00:00.123456789+00:00", 1767225600 * NSEC_PER_SEC + 123456789 },
		/* Digits past the nanosecond are dropped, not a reason to lose the others. */
		{ "2026-01-01T00:00:00.1234567891Z", 1767225600 * NSEC_PER_SEC + 123456789 },
	};
	static const char *const bad[] = {
		"2026-02-30T00:00:00Z",	    "2025-02-29T00:00:00Z",
		"2026-04-31T00:00:00Z",	    "2026-13-01T00:00:00Z",
		"2026-01-01T24:00:00Z",	    "2026-01-01T00:60:00Z",
		"2026-01-01T00:00:00",	    "2026-01-01 00:00:00Z",
		"2026-01-01T00:00:00.Z",    "2026-01-01T00:00:00+24:00",
		"2026-01-01T00:00:00+0100", "+2026-01-01T00:00:00Z",
		"2026-01-01T00:00:00Zx",    "",
	};
	char buf[64];
	int64_t ns;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(good); i++) {
		ns = -1;
		CHECK(!xcap_clock_parse(good[i].s, &ns) && ns == good[i].ns, "%s: %lld, want %lld",
		      good[i].s, (long long)ns, (long long)good[i].ns);
	}
	for (i = 0; i < ARRAY_SIZE(bad); i++)
		CHECK(xcap_clock_parse(bad[i], &ns) == -EINVAL, "accepted '%s'", bad[i]);
	xcap_clock_format(1767225600 * NSEC_PER_SEC + 999999999, buf, sizeof(buf));
	CHECK(!strcmp(buf, "2026-01-01T00:00:00Z"), "%s", buf);
}

static void ids_are_lowercase_hex(void)
{
	char out[2 * 64 + 1], first[33];

	CHECK_EQ(xcap_ids_random_hex(out, 16), 0);
	CHECK(strlen(out) == 32 && strspn(out, "0123456789abcdef") == 32, "%s", out);
	memcpy(first, out, sizeof(first));
	CHECK_EQ(xcap_ids_random_hex(out, 16), 0);
	CHECK(strcmp(out, first), "the same id twice: %s", out);
	/* 64 bytes is the most; more is refused. */
	CHECK_EQ(xcap_ids_random_hex(out, 64), 0);
	CHECK(strlen(out) == 128 && strspn(out, "0123456789abcdef") == 128, "%s", out);
	CHECK_EQ(-xcap_ids_random_hex(out, 65), EINVAL);
}

/* Both sides of the ABI must agree: compare with the BTF of the compiled BPF object. */
static void abi_sizes_match_the_bpf_object(void)
{
	static const struct {
		const char *name;
		size_t size;
	} types[] = {
		{ "xcap_rec", sizeof(struct xcap_rec) },
		{ "xcap_cfg", sizeof(struct xcap_cfg) },
		{ "xcap_slot", sizeof(struct xcap_slot) },
		{ "xcap_cap_counters", sizeof(struct xcap_cap_counters) },
		{ "xcap_counters", sizeof(struct xcap_counters) },
		{ "xcap_lpm", sizeof(struct xcap_lpm) },
	};
	struct btf *btf = btf__parse(XCAP_BPF_OBJ, NULL);
	size_t i;
	int id;

	CHECK(btf, "cannot read BTF of %s", XCAP_BPF_OBJ);
	if (!btf)
		return;
	for (i = 0; i < ARRAY_SIZE(types); i++) {
		id = btf__find_by_name_kind(btf, types[i].name, BTF_KIND_STRUCT);
		CHECK(id > 0, "struct %s not in the BPF object", types[i].name);
		if (id > 0)
			CHECK(btf__resolve_size(btf, id) == (long)types[i].size,
			      "struct %s: %lld != %zu", types[i].name,
			      (long long)btf__resolve_size(btf, id), types[i].size);
	}
	btf__free(btf);
}

int main(void)
{
	if (test_tmpdir_init("unit"))
		return 1;
	RUN_TEST(pcap_writer_reads_back_with_libpcap);
	RUN_TEST(pcap_writer_uses_nanosecond_magic);
	RUN_TEST(pcap_writer_reports_a_full_disk);
	RUN_TEST(pcap_writer_refuses_an_unwritable_path);
	RUN_TEST(pcap_create_makes_a_new_private_file);
	RUN_TEST(pcap_count_reads_back_whole_records);
	RUN_TEST(clock_parses_rfc3339);
	RUN_TEST(ids_are_lowercase_hex);
	RUN_TEST(abi_sizes_match_the_bpf_object);
	return tests_failed_total ? 1 : 0;
}
