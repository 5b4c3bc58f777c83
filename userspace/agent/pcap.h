/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Capture files, in one of two formats:
 * - pcap: the classic format with nanosecond timestamps (magic 0xa1b23c4d),
 *   Ethernet link type, or raw IP (101) for a file of frames from L3
 *   interfaces only; what Cloudflare's API delivers.
 * - pcapng: a section whose comment names xcap, the capture and its filter;
 *   an Interface Description Block per interface (if_name, if_tsresol 9,
 *   Ethernet or raw IP, snaplen); Enhanced Packet Blocks with the interface and the
 *   direction (epb_flags inbound or outbound); at the end an Interface
 *   Statistics Block per interface with what was delivered and lost there.
 * Also the reading side that xcap needs: counting the packets of a file it
 * wrote, and walking its records while it is being written (the live stream).
 */
#ifndef XCAP_PCAP_H
#define XCAP_PCAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "agent/engine.h"

enum xcap_pcap_format {
	XCAP_PCAP,
	XCAP_PCAPNG,
};

struct xcap_pcap;

struct xcap_pcap_opts {
	enum xcap_pcap_format format;
	uint32_t snaplen;
	const char *comment; /* pcapng: the section's comment; NULL: none */
	/*
	 * pcapng: the interfaces described up front, in this order (their ids in
	 * the file); a packet of another interface gets its description when
	 * the first one is written.
	 */
	const uint32_t *ifindexes;
	int n_ifaces;
	/*
	 * Link types (XCAP_LINKTYPE_*, agent/link.h): pcap, the file's (0:
	 * Ethernet); pcapng, those of ifindexes (NULL: Ethernet). A packet of an
	 * interface described later has the one its XCAP_REC_L3 flag says. A raw
	 * IP frame (XCAP_REC_L3) written where the link type is Ethernet gets a
	 * made-up Ethernet header (zero addresses, the type of its IP version),
	 * which its lengths count.
	 */
	uint32_t linktype;
	const uint32_t *linktypes;
	/*
	 * The file must not exist: created 0600, never through a link or over a
	 * file someone put there (EEXIST, ELOOP): xcapd's own spool and simple files.
	 */
	bool create_new;
};

/*
 * Sets o's link type for a file of n frames, l3 of them raw IP (XCAP_REC_L3):
 * raw IP when all are; else Ethernet, where those get a made-up Ethernet
 * header: pcap, 14 bytes beyond o->snaplen (pcapng: each interface has its own).
 */
void xcap_pcap_opts_frames(struct xcap_pcap_opts *o, size_t n, size_t l3);

/* "pcap" or "pcapng" into *f; 0 or -EINVAL. */
int xcap_pcap_format_parse(const char *s, enum xcap_pcap_format *f);
const char *xcap_pcap_format_name(enum xcap_pcap_format f);
/* The media type of a file of format f, for HTTP answers. */
const char *xcap_pcap_media_type(enum xcap_pcap_format f);

/*
 * Opens `path` for writing ("-" is stdout) and writes the file header (pcapng:
 * the section and the interfaces given). NULL + errno on error.
 */
struct xcap_pcap *xcap_pcap_open_opts(const char *path, const struct xcap_pcap_opts *o);
/* A pcap file of that snaplen. */
struct xcap_pcap *xcap_pcap_open(const char *path, uint32_t snaplen);
/*
 * Appends one packet: its time (ns since the epoch), interface and direction
 * (pcapng), and with XCAP_REC_L3 in its flags, a raw IP frame.
 */
int xcap_pcap_write_packet(struct xcap_pcap *p, const struct xcap_packet *pkt);
/* Appends one packet without an interface. */
int xcap_pcap_write(struct xcap_pcap *p, uint64_t ts_ns, const void *data, uint32_t cap_len,
		    uint32_t orig_len);
int xcap_pcap_flush(struct xcap_pcap *p);
/* Records that xcap_pcap_write accepted but a flush could not write. */
uint64_t xcap_pcap_lost(const struct xcap_pcap *p);
/*
 * pcapng: n more packets of interface ifindex that were lost before they
 * reached the file (ring full...); 0: of no known interface. They go into the
 * statistics blocks at the end: isb_osdrop, or a comment.
 */
void xcap_pcap_add_dropped(struct xcap_pcap *p, uint32_t ifindex, uint64_t n);
/* Flushes and closes (pcapng: after the statistics blocks); the first error of the file's life. */
int xcap_pcap_close(struct xcap_pcap *p);

/*
 * Counts the complete packet records of a pcap or pcapng file written by this
 * module (a torn last record, from a crash, is not counted). 0 or -errno
 * (-EINVAL: not ours).
 */
int xcap_pcap_count(const char *path, uint64_t *packets, uint64_t *bytes);

/* The format of a file from its first 4 bytes; -EINVAL when it is neither. */
int xcap_pcap_sniff(const void *head, size_t len, enum xcap_pcap_format *f);
/*
 * One record of a file of format f that this module wrote: the pcap file
 * header (at offset 0) or a packet record, or a pcapng block. `head` holds
 * the first `avail` bytes of the record at offset `off`. Returns 0 with its
 * length and whether it holds a packet, -EAGAIN when more bytes are needed to
 * tell, or -EINVAL when the bytes are not such a record.
 */
int xcap_pcap_record(enum xcap_pcap_format f, uint64_t off, const void *head, size_t avail,
		     uint32_t *len, bool *packet);
/*
 * Writes into out a copy of the pcapng Enhanced Packet Block epb (len bytes)
 * that carries `comment` too. Returns the copy's length, or 0 when out is too
 * small or epb is not such a block.
 */
size_t xcap_pcapng_comment_packet(const void *epb, size_t len, const char *comment, void *out,
				  size_t size);

#endif /* XCAP_PCAP_H */
