// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Unit tier: pure userspace, no privileges. pcap writer, filter parsing, ABI layout. */
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
#include "common/filter.h"
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
	char path[256], link[256], victim[256], buf[16] = "";
	mode_t old = umask(0);
	struct xcap_pcap *w;
	struct stat st;
	FILE *f;

	test_path(path, sizeof(path), "new.pcap");
	w = xcap_pcap_create(path, 100);
	umask(old);
	CHECK(w, "create: %s", strerror(errno));
	CHECK_EQ(xcap_pcap_close(w), 0);
	CHECK(!stat(path, &st) && (st.st_mode & 0777) == 0600, "mode %o", st.st_mode & 0777);
	CHECK(!xcap_pcap_create(path, 100) && errno == EEXIST, "an existing file was reused");

	test_path(victim, sizeof(victim), "victim");
	f = fopen(victim, "w");
	CHECK(f && fputs("keep\n", f) >= 0 && !fclose(f), "victim");
	test_path(link, sizeof(link), "planted.pcap");
	CHECK(!symlink(victim, link), "symlink");
	CHECK(!xcap_pcap_create(link, 100) && errno == EEXIST, "written through a link");
	f = fopen(victim, "r");
	CHECK(f && fgets(buf, sizeof(buf), f) && !strcmp(buf, "keep\n"), "the victim changed");
	if (f)
		fclose(f);
}

static void prefix(const char *s, int rc, int family, int len, const char *norm)
{
	struct xcap_prefix p = {};
	char buf[64];

	CHECK(xcap_filter_parse_prefix(s, &p) == rc, "'%s' rc", s);
	if (rc)
		return;
	CHECK_EQ(p.family, family);
	CHECK_EQ(p.len, len);
	xcap_filter_format_prefix(&p, buf, sizeof(buf));
	CHECK(!strcmp(buf, norm), "'%s' formats as '%s', want '%s'", s, buf, norm);
}

static void filter_parses_addresses_and_prefixes(void)
{
	prefix("10.1.2.3", 0, 4, 32, "10.1.2.3");
	prefix("10.1.2.3/8", 0, 4, 8, "10.0.0.0/8");
	prefix("10.1.2.3/0", 0, 4, 0, "0.0.0.0/0");
	prefix("192.168.77.200/28", 0, 4, 28, "192.168.77.192/28");
	prefix("2001:db8::1", 0, 6, 128, "2001:db8::1");
	prefix("2001:db8:aa:bb::1/64", 0, 6, 64, "2001:db8:aa:bb::/64");
	prefix("2001:db8::ff/121", 0, 6, 121, "2001:db8::80/121");
}

static void filter_rejects_bad_addresses(void)
{
	static const char *const bad[] = {
		"",	  "1.2.3", "1.2.3.4/33", "1.2.3.4/",  "1.2.3.4/-1",   "1.2.3.4/8x",
		"::/129", "abc",   "1.2.3.4 ",	 "300.1.1.1", "1.2.3.4/08/1", "2001:db8::g",
	};
	struct xcap_prefix p;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++)
		CHECK(xcap_filter_parse_prefix(bad[i], &p) == -EINVAL, "accepted '%s'", bad[i]);
	CHECK(xcap_filter_parse_prefix(NULL, &p) == -EINVAL, "accepted NULL");
}

static void filter_parses_numbers_strictly(void)
{
	static const char *const bad[] = { "",	    "-1",  "+1",
					   " 1",    "1 ",  "0x10",
					   "65536", "1e3", "99999999999999999999999" };
	uint64_t v = 0;
	size_t i;

	CHECK_EQ(xcap_filter_parse_uint("0", 0, 65535, &v), 0);
	CHECK_EQ(v, 0);
	CHECK_EQ(xcap_filter_parse_uint("65535", 0, 65535, &v), 0);
	CHECK_EQ(v, 65535);
	for (i = 0; i < ARRAY_SIZE(bad); i++)
		CHECK(xcap_filter_parse_uint(bad[i], 0, 65535, &v) == -EINVAL, "accepted '%s'",
		      bad[i]);
	CHECK(xcap_filter_parse_uint("0", 1, 10, &v) == -EINVAL, "below min accepted");
}

static void filter_parses_protocols(void)
{
	int32_t p = -1;

	CHECK(!xcap_filter_parse_proto("tcp", &p) && p == 6, "tcp -> %d", p);
	CHECK(!xcap_filter_parse_proto("UDP", &p) && p == 17, "UDP -> %d", p);
	CHECK(!xcap_filter_parse_proto("icmp6", &p) && p == 58, "icmp6 -> %d", p);
	CHECK(!xcap_filter_parse_proto("132", &p) && p == 132, "132 -> %d", p);
	CHECK(xcap_filter_parse_proto("256", &p) == -EINVAL, "256 accepted");
	CHECK(xcap_filter_parse_proto("tcpx", &p) == -EINVAL, "tcpx accepted");
}

static void filter_init_accepts_everything(void)
{
	struct xcap_filter f;

	memset(&f, 0x55, sizeof(f));
	xcap_filter_init(&f);
	CHECK_EQ(f.src.family, 0);
	CHECK_EQ(f.dst.family, 0);
	CHECK(f.sport == -1 && f.dport == -1 && f.proto == -1, "not wildcard");
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
		{ "xcap_lpm4", sizeof(struct xcap_lpm4) },
		{ "xcap_lpm6", sizeof(struct xcap_lpm6) },
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
	RUN_TEST(filter_parses_addresses_and_prefixes);
	RUN_TEST(filter_rejects_bad_addresses);
	RUN_TEST(filter_parses_numbers_strictly);
	RUN_TEST(filter_parses_protocols);
	RUN_TEST(filter_init_accepts_everything);
	RUN_TEST(abi_sizes_match_the_bpf_object);
	return tests_failed_total ? 1 : 0;
}
