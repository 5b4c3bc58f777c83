// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Capture files (pcap.h): the classic pcap format with nanosecond timestamps,
 * and pcapng (https://www.ietf.org/archive/id/draft-ietf-opsawg-pcapng-02.html)
 * with the blocks xdp-tools' xpcapng writes: section, interfaces, enhanced
 * packets with flags, interface statistics. Integers in host byte order, as
 * both formats allow (readers look at the magic).
 *
 * Records are built in the writer's buffer (one memcpy of the packet's
 * bytes) and handed to the kernel with one write() per flush: no stdio call
 * per packet. A flush always ends at a record boundary, so that a failed flush
 * knows which records it lost, and a reader of the growing file (the live
 * stream) sees only whole records, unless the disk itself cuts a write short.
 * File space is allocated ahead of the writes (reserve_ahead).
 */
#define _GNU_SOURCE /* fallocate */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include "common/clock.h"
#include "common/log.h"
#include "agent/link.h"
#include "agent/pcap.h"
#include "common/file.h"

#define PCAP_MAGIC_NS 0xa1b23c4d
#define PCAP_BUF_SIZE (1 << 20)
#define PCAP_RESERVE (16 << 20) /* file space allocated ahead of the writes at a time */
#define PCAP_ETH_HLEN 14
#define PCAP_RECORD_MAX (1 << 20) /* larger records are not ours */

/* pcapng block types and option codes. */
#define NG_SHB 0x0A0D0D0A
#define NG_IDB 1
#define NG_ISB 5
#define NG_EPB 6
#define NG_BYTE_ORDER 0x1A2B3C4D
#define NG_OPT_END 0
#define NG_OPT_COMMENT 1
#define NG_SHB_OS 3
#define NG_SHB_USERAPPL 4
#define NG_IF_NAME 2
#define NG_IF_DESCRIPTION 3
#define NG_IF_TSRESOL 9
#define NG_EPB_FLAGS 2
#define NG_EPB_INBOUND 1
#define NG_EPB_OUTBOUND 2
#define NG_ISB_STARTTIME 2
#define NG_ISB_ENDTIME 3
#define NG_ISB_OSDROP 7
#define NG_ISB_USRDELIV 8
#define NG_EPB_HDR 28 /* type, length, interface, time (2), lengths (2) */
#define NG_COMMENT_MAX 1024 /* longer comments are cut */
#define NG_IFACES_MAX 64 /* interfaces of one file; packets of more are write errors */
#define NG_BLOCK_MAX (XCAP_FRAME_MAX + 2 * NG_COMMENT_MAX + 256)

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

/* A pcapng interface: its id is its index. */
struct ng_iface {
	uint32_t ifindex;
	uint32_t linktype;
	uint64_t written; /* handed to the kernel */
	uint64_t pending; /* in the buffer */
	uint64_t lost; /* a flush of them failed */
	uint64_t dropped; /* lost before the file (xcap_pcap_add_dropped) */
};

struct xcap_pcap {
	int fd;
	enum xcap_pcap_format format;
	uint32_t linktype; /* pcap */
	int err; /* first write error, sticky */
	bool reserve; /* our own file, where fallocate has not failed yet */
	off_t size; /* bytes written to the file */
	off_t reserved; /* file space allocated so far */
	size_t buffered; /* bytes in buf not yet handed to the kernel */
	uint64_t pending; /* records among them */
	uint64_t lost; /* records accepted by write() whose flush failed */
	/* pcapng */
	uint32_t snaplen;
	uint64_t start_ns;
	uint64_t dropped_elsewhere; /* of no known interface */
	int n_ifaces;
	struct ng_iface ifaces[NG_IFACES_MAX];
	uint8_t *blk; /* the block being built, at the end of buf */
	size_t blk_len;
	char buf[PCAP_BUF_SIZE];
};

static const char *const format_names[] = {
	[XCAP_PCAP] = "pcap",
	[XCAP_PCAPNG] = "pcapng",
};

void xcap_pcap_opts_frames(struct xcap_pcap_opts *o, size_t n, size_t l3)
{
	if (l3 && l3 == n)
		o->linktype = XCAP_LINKTYPE_RAW;
	else if (l3 && o->format == XCAP_PCAP)
		o->snaplen += PCAP_ETH_HLEN;
}

int xcap_pcap_format_parse(const char *s, enum xcap_pcap_format *f)
{
	if (!strcmp(s, format_names[XCAP_PCAP]))
		*f = XCAP_PCAP;
	else if (!strcmp(s, format_names[XCAP_PCAPNG]))
		*f = XCAP_PCAPNG;
	else
		return -EINVAL;
	return 0;
}

const char *xcap_pcap_format_name(enum xcap_pcap_format f)
{
	return format_names[f == XCAP_PCAPNG];
}

const char *xcap_pcap_media_type(enum xcap_pcap_format f)
{
	/* pcapng has no registered type; Wireshark's is this one. */
	return f == XCAP_PCAPNG ? "application/x-pcapng" : "application/vnd.tcpdump.pcap";
}

/* Appends to the buffer; the caller made room (xcap_pcap_write_packet, or an empty buffer). */
static void put(struct xcap_pcap *p, const void *data, size_t len)
{
	memcpy(p->buf + p->buffered, data, len);
	p->buffered += len;
}

/* --- pcapng blocks, built in p->blk --- */

static void blk_bytes(struct xcap_pcap *p, const void *data, size_t len)
{
	static const uint8_t zeros[4];
	size_t pad = (4 - len % 4) % 4;

	/* NG_BLOCK_MAX holds the largest block this file makes. */
	memcpy(p->blk + p->blk_len, data, len);
	memcpy(p->blk + p->blk_len + len, zeros, pad);
	p->blk_len += len + pad;
}

static void blk_u32(struct xcap_pcap *p, uint32_t v)
{
	blk_bytes(p, &v, sizeof(v));
}

/* A block is built where it goes, in buf: NG_BLOCK_MAX bytes are free there. */
static void blk_begin(struct xcap_pcap *p, uint32_t type)
{
	if (p->buffered + NG_BLOCK_MAX > sizeof(p->buf))
		xcap_pcap_flush(p);
	p->blk = (uint8_t *)p->buf + p->buffered;
	p->blk_len = 0;
	blk_u32(p, type);
	blk_u32(p, 0); /* the length, once known */
}

static void blk_opt(struct xcap_pcap *p, uint16_t code, const void *data, size_t len)
{
	uint16_t hdr[2] = { code, len };

	blk_bytes(p, hdr, sizeof(hdr));
	blk_bytes(p, data, len);
}

static void blk_opt_str(struct xcap_pcap *p, uint16_t code, const char *s)
{
	size_t len = strlen(s);

	blk_opt(p, code, s, len < NG_COMMENT_MAX ? len : NG_COMMENT_MAX);
}

/* A time in if_tsresol 9 units (ns): high and low 32 bits, as EPBs and ISBs hold them. */
static void blk_opt_time(struct xcap_pcap *p, uint16_t code, uint64_t ns)
{
	uint32_t t[2] = { ns >> 32, (uint32_t)ns };

	blk_opt(p, code, t, sizeof(t));
}

/* Ends the options and the block, which joins the buffer's records. */
static int blk_put(struct xcap_pcap *p, bool options)
{
	uint32_t total;

	if (options)
		blk_opt(p, NG_OPT_END, NULL, 0);
	total = p->blk_len + 4;
	memcpy(p->blk + 4, &total, 4);
	blk_u32(p, total);
	p->buffered += p->blk_len;
	return p->err;
}

static int put_shb(struct xcap_pcap *p, const char *comment)
{
	uint16_t version[2] = { 1, 0 };
	int64_t section_len = -1; /* not given */
	struct utsname u;
	char os[2 * sizeof(u.release)];

	blk_begin(p, NG_SHB);
	blk_u32(p, NG_BYTE_ORDER);
	blk_bytes(p, version, sizeof(version));
	blk_bytes(p, &section_len, sizeof(section_len));
	if (comment && *comment)
		blk_opt_str(p, NG_OPT_COMMENT, comment);
	if (!uname(&u)) {
		snprintf(os, sizeof(os), "%s %s", u.sysname, u.release);
		blk_opt_str(p, NG_SHB_OS, os);
	}
	blk_opt_str(p, NG_SHB_USERAPPL, "xcap");
	return blk_put(p, true);
}

/* Describes the next interface of the file; returns its id, or -ENOSPC. */
static int put_idb(struct xcap_pcap *p, uint32_t ifindex, uint32_t linktype)
{
	uint16_t link[2] = { linktype, 0 };
	uint8_t tsresol = 9; /* 10^-9 s */
	char name[IF_NAMESIZE], desc[32];
	int id = p->n_ifaces;

	if (id == NG_IFACES_MAX)
		return -ENOSPC;
	p->ifaces[p->n_ifaces++] = (struct ng_iface){ .ifindex = ifindex, .linktype = linktype };
	blk_begin(p, NG_IDB);
	blk_bytes(p, link, sizeof(link));
	blk_u32(p, p->snaplen);
	/* The name as this host knows it when the file is written; the index stays. */
	if (ifindex && if_indextoname(ifindex, name))
		blk_opt_str(p, NG_IF_NAME, name);
	snprintf(desc, sizeof(desc), ifindex ? "ifindex %u" : "unknown interface", ifindex);
	blk_opt_str(p, NG_IF_DESCRIPTION, desc);
	blk_opt(p, NG_IF_TSRESOL, &tsresol, 1);
	return blk_put(p, true) ?: id;
}

/* The link type of a packet's frame (its XCAP_REC_L3 flag). */
static uint32_t packet_linktype(const struct xcap_packet *pkt)
{
	return pkt->flags & XCAP_REC_L3 ? XCAP_LINKTYPE_RAW : XCAP_LINKTYPE_ETHERNET;
}

/* The id of the packet's interface, described first if it is new. */
static int iface_id(struct xcap_pcap *p, const struct xcap_packet *pkt)
{
	int i;

	for (i = 0; i < p->n_ifaces; i++)
		if (p->ifaces[i].ifindex == pkt->ifindex)
			return i;
	return put_idb(p, pkt->ifindex, packet_linktype(pkt));
}

static int put_epb(struct xcap_pcap *p, int id, const struct xcap_packet *pkt)
{
	uint32_t flags = pkt->flags & XCAP_REC_OUT ? NG_EPB_OUTBOUND : NG_EPB_INBOUND;

	blk_begin(p, NG_EPB);
	blk_u32(p, id);
	blk_u32(p, pkt->ts_ns >> 32);
	blk_u32(p, (uint32_t)pkt->ts_ns);
	blk_u32(p, pkt->cap_len);
	blk_u32(p, pkt->orig_len);
	blk_bytes(p, pkt->data, pkt->cap_len);
	blk_opt(p, NG_EPB_FLAGS, &flags, sizeof(flags));
	return blk_put(p, true);
}

/* What each interface delivered and lost, as the file ends. */
static void put_isbs(struct xcap_pcap *p)
{
	uint64_t now = xcap_clock_ns(CLOCK_REALTIME), lost;
	char comment[160];
	int i;

	for (i = 0; i < p->n_ifaces; i++) {
		blk_begin(p, NG_ISB);
		blk_u32(p, i);
		blk_u32(p, now >> 32);
		blk_u32(p, (uint32_t)now);
		blk_opt_time(p, NG_ISB_STARTTIME, p->start_ns);
		blk_opt_time(p, NG_ISB_ENDTIME, now);
		lost = p->ifaces[i].dropped + p->ifaces[i].lost;
		blk_opt(p, NG_ISB_OSDROP, &lost, sizeof(lost));
		blk_opt(p, NG_ISB_USRDELIV, &p->ifaces[i].written, sizeof(uint64_t));
		if (!i && p->dropped_elsewhere) {
			snprintf(comment, sizeof(comment),
				 "xcap lost %llu more matching packets in userspace, of no known "
				 "interface",
				 (unsigned long long)p->dropped_elsewhere);
			blk_opt_str(p, NG_OPT_COMMENT, comment);
		}
		blk_put(p, true);
	}
}

/* --- writing --- */

/* The file to write: "-" is stdout; see xcap_pcap_opts.create_new. A descriptor or -errno. */
static int open_file(const char *path, bool new)
{
	int fd;

	if (new)
		return xcap_file_create_at(AT_FDCWD, path, 0600);
	fd = strcmp(path, "-") ? open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666) :
				 fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 0);
	return fd < 0 ? -errno : fd;
}

struct xcap_pcap *xcap_pcap_open_opts(const char *path, const struct xcap_pcap_opts *o)
{
	struct pcap_file_hdr h = {
		.magic = PCAP_MAGIC_NS,
		.version_major = 2,
		.version_minor = 4,
		.snaplen = o->snaplen,
		.linktype = o->linktype ?: XCAP_LINKTYPE_ETHERNET,
	};
	struct xcap_pcap *p;
	int err, i;

	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->format = o->format;
	p->linktype = h.linktype;
	p->snaplen = o->snaplen;
	p->start_ns = xcap_clock_ns(CLOCK_REALTIME);
	p->fd = open_file(path, o->create_new);
	/* Not standard output: its file may hold more than ours. */
	p->reserve = strcmp(path, "-");
	if (p->fd < 0) {
		err = -p->fd;
		free(p);
		errno = err;
		return NULL;
	}
	err = 0;
	if (p->format == XCAP_PCAPNG) {
		err = put_shb(p, o->comment);
		for (i = 0; !err && i < o->n_ifaces && i < NG_IFACES_MAX; i++)
			err = put_idb(p, o->ifindexes[i],
				      o->linktypes ? o->linktypes[i] : XCAP_LINKTYPE_ETHERNET) < 0 ?
				      p->err ?: -ENOSPC :
				      0;
	} else {
		put(p, &h, sizeof(h));
	}
	if (!err)
		err = xcap_pcap_flush(p);
	if (err) {
		xcap_pcap_close(p);
		errno = -err;
		return NULL;
	}
	return p;
}

struct xcap_pcap *xcap_pcap_open(const char *path, uint32_t snaplen)
{
	return xcap_pcap_open_opts(path, &(struct xcap_pcap_opts){ .snaplen = snaplen });
}

/* Puts one packet into the buffer, as a record of interface id (pcapng). */
static int put_packet(struct xcap_pcap *p, int id, const struct xcap_packet *pkt)
{
	struct pcap_rec_hdr r = {
		.ts_sec = pkt->ts_ns / 1000000000ULL,
		.ts_nsec = pkt->ts_ns % 1000000000ULL,
		.incl_len = pkt->cap_len,
		.orig_len = pkt->orig_len,
	};

	if (p->format == XCAP_PCAPNG) {
		put_epb(p, id, pkt);
		p->ifaces[id].pending++;
	} else {
		put(p, &r, sizeof(r));
		put(p, pkt->data, pkt->cap_len);
	}
	p->pending++;
	return 0;
}

/* A raw IP frame where the link type is Ethernet: behind a made-up Ethernet header. */
static int put_packet_eth(struct xcap_pcap *p, int id, const struct xcap_packet *pkt)
{
	uint8_t frame[PCAP_ETH_HLEN + XCAP_FRAME_MAX];
	struct xcap_packet copy = *pkt;
	bool v6 = pkt->cap_len && pkt->data[0] >> 4 == 6;

	/* Addresses zero; the type from the IP version, as the program read it. */
	memset(frame, 0, 12);
	frame[12] = v6 ? 0x86 : 0x08;
	frame[13] = v6 ? 0xdd : 0x00;
	memcpy(frame + PCAP_ETH_HLEN, pkt->data, pkt->cap_len);
	copy.data = frame;
	copy.cap_len += PCAP_ETH_HLEN;
	copy.orig_len += PCAP_ETH_HLEN;
	return put_packet(p, id, &copy);
}

int xcap_pcap_write_packet(struct xcap_pcap *p, const struct xcap_packet *pkt)
{
	/* A record and, pcapng, a new interface's description: both stay in one flush. */
	size_t need = p->format == XCAP_PCAPNG ?
			      2 * NG_BLOCK_MAX :
			      sizeof(struct pcap_rec_hdr) + PCAP_ETH_HLEN + pkt->cap_len;
	uint32_t linktype = p->linktype;
	int id = 0;

	if (p->buffered + need > sizeof(p->buf))
		xcap_pcap_flush(p);
	if (p->err)
		return p->err;
	if (pkt->cap_len > XCAP_FRAME_MAX)
		return -EINVAL;
	if (p->format == XCAP_PCAPNG) {
		id = iface_id(p, pkt);
		if (id < 0)
			return id;
		linktype = p->ifaces[id].linktype;
	}
	if ((pkt->flags & XCAP_REC_L3) && linktype == XCAP_LINKTYPE_ETHERNET)
		return put_packet_eth(p, id, pkt);
	return put_packet(p, id, pkt);
}

int xcap_pcap_write(struct xcap_pcap *p, uint64_t ts_ns, const void *data, uint32_t cap_len,
		    uint32_t orig_len)
{
	struct xcap_packet pkt = {
		.ts_ns = ts_ns,
		.data = data,
		.cap_len = cap_len,
		.orig_len = orig_len,
	};

	return xcap_pcap_write_packet(p, &pkt);
}

uint64_t xcap_pcap_lost(const struct xcap_pcap *p)
{
	return p ? p->lost : 0;
}

/*
 * Allocates file space ahead of the writes, PCAP_RESERVE at a time: a write
 * into allocated space skips the file system's per-page delayed allocation,
 * a third of the CPU time of writing 1500 B packets to ext4. The file's size
 * stays that of the data. Where it fails (a file system without it, a full
 * disk) the writes go on without.
 */
static void reserve_ahead(struct xcap_pcap *p, size_t len)
{
	if (!p->reserve || p->size + (off_t)len <= p->reserved)
		return;
	if (fallocate(p->fd, FALLOC_FL_KEEP_SIZE, p->reserved, PCAP_RESERVE)) {
		p->reserve = false;
		return;
	}
	p->reserved += PCAP_RESERVE;
}

int xcap_pcap_flush(struct xcap_pcap *p)
{
	int i;

	if (!p->err && p->buffered) {
		reserve_ahead(p, p->buffered);
		p->err = xcap_file_write_all(p->fd, p->buf, p->buffered);
		if (!p->err)
			p->size += p->buffered;
	}
	if (p->err)
		p->lost += p->pending;
	for (i = 0; i < p->n_ifaces; i++) {
		if (p->err)
			p->ifaces[i].lost += p->ifaces[i].pending;
		else
			p->ifaces[i].written += p->ifaces[i].pending;
		p->ifaces[i].pending = 0;
	}
	p->pending = 0;
	p->buffered = 0;
	return p->err;
}

void xcap_pcap_add_dropped(struct xcap_pcap *p, uint32_t ifindex, uint64_t n)
{
	int i;

	for (i = 0; ifindex && i < p->n_ifaces; i++) {
		if (p->ifaces[i].ifindex == ifindex) {
			p->ifaces[i].dropped += n;
			return;
		}
	}
	p->dropped_elsewhere += n;
}

int xcap_pcap_close(struct xcap_pcap *p)
{
	int err;

	if (!p)
		return 0;
	err = xcap_pcap_flush(p);
	if (!err && p->format == XCAP_PCAPNG) {
		put_isbs(p);
		err = xcap_pcap_flush(p);
	}
	/* The space allocated past the data goes back to the file system. */
	if (p->reserved > p->size && ftruncate(p->fd, p->size))
		pr_warn("cannot give back the space allocated ahead for a capture file: %s\n",
			strerror(errno));
	if (close(p->fd) && !err)
		err = -errno;
	free(p);
	return err;
}

/* --- reading --- */

int xcap_pcap_sniff(const void *head, size_t len, enum xcap_pcap_format *f)
{
	uint32_t magic;

	if (len < 4)
		return -EINVAL;
	memcpy(&magic, head, 4);
	if (magic == PCAP_MAGIC_NS)
		*f = XCAP_PCAP;
	else if (magic == NG_SHB)
		*f = XCAP_PCAPNG;
	else
		return -EINVAL;
	return 0;
}

int xcap_pcap_record(enum xcap_pcap_format f, uint64_t off, const void *head, size_t avail,
		     uint32_t *len, bool *packet)
{
	const uint8_t *b = head;
	uint32_t v[2];
	enum xcap_pcap_format sniffed;

	if (!off) {
		if (avail < 12)
			return -EAGAIN;
		if (xcap_pcap_sniff(b, avail, &sniffed) || sniffed != f)
			return -EINVAL;
	}
	if (f == XCAP_PCAP && !off) {
		*len = sizeof(struct pcap_file_hdr);
		*packet = false;
		return 0;
	}
	if (f == XCAP_PCAP) {
		if (avail < sizeof(struct pcap_rec_hdr))
			return -EAGAIN;
		memcpy(v, b + offsetof(struct pcap_rec_hdr, incl_len), sizeof(v[0]));
		if (v[0] > PCAP_RECORD_MAX)
			return -EINVAL;
		*len = sizeof(struct pcap_rec_hdr) + v[0];
		*packet = true;
		return 0;
	}
	if (avail < 8)
		return -EAGAIN;
	memcpy(v, b, sizeof(v));
	if (v[1] < 12 || v[1] % 4 || v[1] > PCAP_RECORD_MAX || (!off && v[0] != NG_SHB))
		return -EINVAL;
	*len = v[1];
	*packet = v[0] == NG_EPB;
	return 0;
}

int xcap_pcap_count(const char *path, uint64_t *packets, uint64_t *bytes)
{
	uint8_t head[NG_EPB_HDR];
	enum xcap_pcap_format fmt;
	uint32_t len, cap_len;
	long size, pos = 0;
	bool packet;
	int err = 0;
	size_t n;
	FILE *f;

	*packets = *bytes = 0;
	f = fopen(path, "rb");
	if (!f)
		return -errno;
	if (fseek(f, 0, SEEK_END) || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) ||
	    fread(head, 1, 4, f) != 4 || xcap_pcap_sniff(head, 4, &fmt)) {
		err = -EINVAL;
		goto out;
	}
	/* Record by record: a torn last one ends the count, as a reader would see it. */
	while (!fseek(f, pos, SEEK_SET) && (n = fread(head, 1, sizeof(head), f)) > 0) {
		if (xcap_pcap_record(fmt, pos, head, n, &len, &packet) || pos + (long)len > size)
			break;
		if (packet) {
			/* pcap: incl_len at 8 of the record; pcapng: the EPB's captured length at 20. */
			if (n < (fmt == XCAP_PCAP ? 12U : 24U))
				break;
			memcpy(&cap_len, head + (fmt == XCAP_PCAP ? 8 : 20), sizeof(cap_len));
			/* An EPB holds its header, the data and the trailing length. */
			if (fmt == XCAP_PCAPNG &&
			    (len < NG_EPB_HDR + 4 || cap_len > len - NG_EPB_HDR - 4))
				break;
			(*packets)++;
			*bytes += cap_len;
		}
		pos += len;
	}
	if (!pos)
		err = -EINVAL; /* not even a whole header */
out:
	fclose(f);
	return err;
}

size_t xcap_pcapng_comment_packet(const void *epb, size_t len, const char *comment, void *out,
				  size_t size)
{
	const uint8_t *in = epb;
	size_t clen = strlen(comment), data_end, opt_len, total;
	uint16_t opt[2] = { NG_OPT_COMMENT, 0 };
	uint32_t type, cap_len;
	uint8_t *o = out;

	if (len < NG_EPB_HDR + 4)
		return 0;
	memcpy(&type, in, 4);
	memcpy(&cap_len, in + 20, 4);
	data_end = NG_EPB_HDR + ((cap_len + 3) & ~3U);
	if (type != NG_EPB || data_end + 4 > len)
		return 0;
	if (clen > NG_COMMENT_MAX)
		clen = NG_COMMENT_MAX;
	opt[1] = clen;
	opt_len = 4 + ((clen + 3) & ~3U);
	total = len + opt_len;
	if (total > size || total > UINT32_MAX)
		return 0;
	/* Header and data, the comment, then the block's own options and its length. */
	memcpy(o, in, data_end);
	memcpy(o + 4, &(uint32_t){ total }, 4);
	memset(o + data_end, 0, opt_len);
	memcpy(o + data_end, opt, sizeof(opt));
	memcpy(o + data_end + 4, comment, clen);
	memcpy(o + data_end + opt_len, in + data_end, len - data_end - 4);
	memcpy(o + total - 4, &(uint32_t){ total }, 4);
	return total;
}
