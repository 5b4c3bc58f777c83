/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * pcap file writer: nanosecond magic (0xa1b23c4d), Ethernet link type, or raw
 * IP (101) for a file of frames from L3 interfaces only.
 */
#ifndef XCAP_PCAP_H
#define XCAP_PCAP_H

#include <stdint.h>

struct xcap_pcap;

/* Opens `path` for writing ("-" is stdout) and writes the file header. NULL + errno on error. */
struct xcap_pcap *xcap_pcap_open(const char *path, uint32_t snaplen);
/*
 * The same with a link type: XCAP_LINKTYPE_ETHERNET or XCAP_LINKTYPE_RAW
 * (agent/link.h). An Ethernet file may hold raw IP frames too (write_frame).
 */
struct xcap_pcap *xcap_pcap_open_link(const char *path, uint32_t snaplen, uint32_t linktype);
/*
 * Appends a record of the engine (its XCAP_REC_* flags): a raw IP frame
 * (XCAP_REC_L3) in an Ethernet file gets a made-up Ethernet header first (zero
 * addresses, the type of its IP version), which its lengths count.
 */
int xcap_pcap_write_frame(struct xcap_pcap *p, uint64_t ts_ns, const void *data, uint32_t cap_len,
			  uint32_t orig_len, uint32_t flags);
/* Appends one record; ts_ns is nanoseconds since the epoch. */
int xcap_pcap_write(struct xcap_pcap *p, uint64_t ts_ns, const void *data, uint32_t cap_len,
		    uint32_t orig_len);
int xcap_pcap_flush(struct xcap_pcap *p);
/* Records that xcap_pcap_write accepted but a flush could not write. */
uint64_t xcap_pcap_lost(const struct xcap_pcap *p);
/* Flushes and closes; returns the first error of the file's life, if any. */
int xcap_pcap_close(struct xcap_pcap *p);

/*
 * Counts the complete records of a pcap file written by this module (a torn
 * last record, from a crash, is not counted). 0 or -errno (-EINVAL: not ours).
 */
int xcap_pcap_count(const char *path, uint64_t *packets, uint64_t *bytes);

#endif /* XCAP_PCAP_H */
