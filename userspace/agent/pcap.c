// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* pcap file writer (the classic format with nanosecond timestamps). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "agent/link.h"
#include "agent/pcap.h"
#include "xcap_abi.h"

#define PCAP_MAGIC_NS 0xa1b23c4d
#define PCAP_BUF_SIZE (1 << 20)
#define PCAP_ETH_HLEN 14

struct pcap_file_hdr {
	uint32_t magic;
	uint16_t version_major;
	uint16_t version_minor;
	int32_t thiszone;
	uint32_t sigfigs;
	uint32_t snaplen;
	uint32_t linktype;
};

struct pcap_rec_hdr {
	uint32_t ts_sec;
	uint32_t ts_nsec;
	uint32_t incl_len;
	uint32_t orig_len;
};

struct xcap_pcap {
	FILE *f;
	uint32_t linktype;
	int err; /* first write error, sticky */
	size_t buffered; /* bytes in buf not yet handed to the kernel */
	uint64_t pending; /* records among them */
	uint64_t lost; /* records accepted by write() whose flush failed */
	char buf[PCAP_BUF_SIZE];
};

static int put(struct xcap_pcap *p, const void *data, size_t len)
{
	if (!p->err && fwrite(data, 1, len, p->f) != len)
		p->err = errno ? -errno : -EIO;
	return p->err;
}

struct xcap_pcap *xcap_pcap_open(const char *path, uint32_t snaplen)
{
	return xcap_pcap_open_link(path, snaplen, XCAP_LINKTYPE_ETHERNET);
}

struct xcap_pcap *xcap_pcap_open_link(const char *path, uint32_t snaplen, uint32_t linktype)
{
	struct pcap_file_hdr h = {
		.magic = PCAP_MAGIC_NS,
		.version_major = 2,
		.version_minor = 4,
		.snaplen = snaplen,
		.linktype = linktype,
	};
	struct xcap_pcap *p;
	int err;

	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->linktype = linktype;
	p->f = strcmp(path, "-") ? fopen(path, "wb") : fdopen(dup(STDOUT_FILENO), "wb");
	if (!p->f) {
		err = errno;
		free(p);
		errno = err;
		return NULL;
	}
	setvbuf(p->f, p->buf, _IOFBF, sizeof(p->buf));
	err = put(p, &h, sizeof(h));
	if (!err)
		err = xcap_pcap_flush(p);
	if (err) {
		xcap_pcap_close(p);
		errno = -err;
		return NULL;
	}
	return p;
}

int xcap_pcap_write(struct xcap_pcap *p, uint64_t ts_ns, const void *data, uint32_t cap_len,
		    uint32_t orig_len)
{
	struct pcap_rec_hdr r = {
		.ts_sec = ts_ns / 1000000000ULL,
		.ts_nsec = ts_ns % 1000000000ULL,
		.incl_len = cap_len,
		.orig_len = orig_len,
	};

	/* Never let stdio flush implicitly: a failed flush must know which records it lost. */
	if (p->buffered + sizeof(r) + cap_len > sizeof(p->buf))
		xcap_pcap_flush(p);
	put(p, &r, sizeof(r));
	if (put(p, data, cap_len))
		return p->err;
	p->buffered += sizeof(r) + cap_len;
	p->pending++;
	return 0;
}

int xcap_pcap_write_frame(struct xcap_pcap *p, uint64_t ts_ns, const void *data, uint32_t cap_len,
			  uint32_t orig_len, uint32_t flags)
{
	uint8_t frame[PCAP_ETH_HLEN + XCAP_FRAME_MAX];
	const uint8_t *ip = data;

	if (!(flags & XCAP_REC_L3) || p->linktype != XCAP_LINKTYPE_ETHERNET ||
	    cap_len > XCAP_FRAME_MAX)
		return xcap_pcap_write(p, ts_ns, data, cap_len, orig_len);
	/* Addresses zero; the type from the IP version, as the program read it. */
	memset(frame, 0, 12);
	frame[12] = cap_len && ip[0] >> 4 == 6 ? 0x86 : 0x08;
	frame[13] = cap_len && ip[0] >> 4 == 6 ? 0xdd : 0x00;
	memcpy(frame + PCAP_ETH_HLEN, data, cap_len);
	return xcap_pcap_write(p, ts_ns, frame, cap_len + PCAP_ETH_HLEN, orig_len + PCAP_ETH_HLEN);
}

uint64_t xcap_pcap_lost(const struct xcap_pcap *p)
{
	return p ? p->lost : 0;
}

int xcap_pcap_flush(struct xcap_pcap *p)
{
	if (!p->err && fflush(p->f))
		p->err = -errno;
	if (p->err)
		p->lost += p->pending;
	p->pending = 0;
	p->buffered = 0;
	return p->err;
}

int xcap_pcap_close(struct xcap_pcap *p)
{
	int err;

	if (!p)
		return 0;
	err = xcap_pcap_flush(p);
	if (fclose(p->f) && !err)
		err = -errno;
	free(p);
	return err;
}

int xcap_pcap_count(const char *path, uint64_t *packets, uint64_t *bytes)
{
	struct pcap_file_hdr h;
	struct pcap_rec_hdr r;
	long size, pos;
	int err = 0;
	FILE *f;

	*packets = *bytes = 0;
	f = fopen(path, "rb");
	if (!f)
		return -errno;
	if (fseek(f, 0, SEEK_END) || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) ||
	    fread(&h, sizeof(h), 1, f) != 1 || h.magic != PCAP_MAGIC_NS) {
		err = -EINVAL;
		goto out;
	}
	pos = sizeof(h);
	while (fread(&r, sizeof(r), 1, f) == 1) {
		pos += sizeof(r) + r.incl_len;
		if (pos > size || fseek(f, r.incl_len, SEEK_CUR))
			break;
		(*packets)++;
		*bytes += r.incl_len;
	}
out:
	fclose(f);
	return err;
}
