// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libFuzzer harness: xcap_pcap_count() (pcap.c), the pcap and pcapng reader
 * that xcapd uses on spool files after a crash and on simple-capture files.
 * The input is the file. Invariants: 0 or -EINVAL, and on 0 the counts agree
 * with an independent reading of the format (complete records only, records
 * of at most 1 MiB).
 */
#include "fuzz_common.h"
#include "agent/pcap.h"

static char path[PATH_MAX];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet();
	snprintf(path, sizeof(path), "%s/in.pcap", fuzz_tmpdir("pcap"));
	return 0;
}

static uint32_t le32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

#define RECORD_MAX (1U << 20)

/*
 * pcapng: a section header block first, then blocks of a length (>= 12, a
 * multiple of 4) that fits; an Enhanced Packet Block (type 6) holds its
 * 28-byte header, the captured length given at 20 and a 4-byte trailer.
 */
static int reference_ng(const uint8_t *data, size_t size, uint64_t *packets, uint64_t *bytes)
{
	size_t off = 0;
	uint32_t len, cap;

	while (size - off >= 8) {
		len = le32(data + off + 4);
		if (len < 12 || len % 4 || len > RECORD_MAX || len > size - off)
			break;
		if (!off && le32(data) != 0x0A0D0D0A)
			break;
		if (le32(data + off) == 6) {
			if (len < 32)
				break;
			cap = le32(data + off + 20);
			if (cap > len - 32)
				break;
			(*packets)++;
			*bytes += cap;
		}
		off += len;
	}
	return off ? 0 : -EINVAL;
}

/* The reference: the header is ours, then 16-byte record headers and incl_len bytes each. */
static int reference(const uint8_t *data, size_t size, uint64_t *packets, uint64_t *bytes)
{
	size_t off = 24;
	uint32_t incl;

	*packets = *bytes = 0;
	if (size >= 12 && le32(data) == 0x0A0D0D0A)
		return reference_ng(data, size, packets, bytes);
	if (size < 24 || le32(data) != 0xa1b23c4d)
		return -EINVAL;
	while (size - off >= 16) {
		incl = le32(data + off + 8);
		if (incl > RECORD_MAX || incl > size - off - 16)
			break;
		off += 16 + (size_t)incl;
		(*packets)++;
		*bytes += incl;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t packets = ~0ULL, bytes = ~0ULL, ref_packets, ref_bytes;
	int ret, ref;

	fuzz_write_file(path, data, size);
	ret = xcap_pcap_count(path, &packets, &bytes);
	ref = reference(data, size, &ref_packets, &ref_bytes);
	FUZZ_CHECK(ret == 0 || ret == -EINVAL, "ret %d", ret);
	FUZZ_CHECK(ret == ref, "ret %d, reference %d", ret, ref);
	if (!ret) {
		FUZZ_CHECK(packets == ref_packets, "%llu packets, reference %llu",
			   (unsigned long long)packets, (unsigned long long)ref_packets);
		FUZZ_CHECK(bytes == ref_bytes, "%llu bytes, reference %llu",
			   (unsigned long long)bytes, (unsigned long long)ref_bytes);
		FUZZ_CHECK(bytes + 16 * packets <= size, "counts beyond the file");
	} else {
		FUZZ_CHECK(!packets && !bytes, "counts set on error");
	}
	return 0;
}
