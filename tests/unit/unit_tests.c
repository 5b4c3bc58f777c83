// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Unit tier: pure userspace, no privileges. pcap writer, ABI layout. */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
/* libpcap and linux/bpf.h both define struct bpf_insn. */
#define PCAP_DONT_INCLUDE_PCAP_BPF_H
#include <pcap/pcap.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "common/util.h"
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
	RUN_TEST(abi_sizes_match_the_bpf_object);
	return tests_failed_total ? 1 : 0;
}
