/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* pcap file writer: nanosecond magic (0xa1b23c4d), Ethernet link type. */
#ifndef XCAP_PCAP_H
#define XCAP_PCAP_H

#include <stdint.h>

struct xcap_pcap;

/* Opens `path` for writing ("-" is stdout) and writes the file header. NULL + errno on error. */
struct xcap_pcap *xcap_pcap_open(const char *path, uint32_t snaplen);
/*
 * The same for a file of xcapd's own that must not exist yet: created 0600,
 * never through a link or over a file someone put there (EEXIST, ELOOP).
 */
struct xcap_pcap *xcap_pcap_create(const char *path, uint32_t snaplen);
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
