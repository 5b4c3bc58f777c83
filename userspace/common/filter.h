/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* A capture's 5-tuple filter and the parsers of its textual fields (CLI and API share them). */
#ifndef XCAP_FILTER_H
#define XCAP_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct xcap_prefix {
	uint8_t family; /* 0 = any address, 4 or 6 */
	uint8_t len; /* prefix length in bits */
	uint8_t addr[16]; /* network byte order, host bits cleared */
};

struct xcap_filter {
	struct xcap_prefix src;
	struct xcap_prefix dst;
	int32_t sport; /* -1 = any */
	int32_t dport;
	int32_t proto;
};

/* A filter that accepts every packet. */
void xcap_filter_init(struct xcap_filter *f);
/* "ADDR" or "ADDR/LEN", IPv4 or IPv6. Returns 0 or -EINVAL. */
int xcap_filter_parse_prefix(const char *s, struct xcap_prefix *out);
/* A decimal number in [min, max], nothing else. Returns 0 or -EINVAL. */
int xcap_filter_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* An IP protocol number 0..255 or a name (tcp, udp, icmp, icmp6, sctp). */
int xcap_filter_parse_proto(const char *s, int32_t *out);
/* Writes "ADDR/LEN" (or "ADDR" for a host prefix) into buf. */
void xcap_filter_format_prefix(const struct xcap_prefix *p, char *buf, size_t size);

/*
 * The header fields of a frame as the XDP program's parser sees them
 * (bpf/parse.bpf.h), for matching stored samples in userspace.
 */
struct xcap_tuple {
	uint8_t family; /* 4 or 6; 0 when not IP or not parsed */
	uint8_t proto; /* IP protocol (after IPv6 extension headers); valid when family != 0 */
	uint8_t has_ports;
	uint8_t pad;
	uint16_t sport; /* host order, valid when has_ports */
	uint16_t dport;
	uint8_t saddr[16]; /* network order; IPv4 uses the first 4 bytes */
	uint8_t daddr[16];
};

/*
 * Parses the first len bytes of a frame with the rules of the XDP program:
 * Ethernet, up to two 802.1Q/802.1ad tags, IPv4 (options; a non-first fragment
 * has no ports), IPv6 (extension headers hop-by-hop, routing, destination
 * options, AH, fragment: the upper-layer protocol must be among the first 6
 * next-header values, so at most 5 of them), TCP/UDP/SCTP ports. A header cut short
 * (a runt, or a sample cut at 160 bytes) is a parse error. Returns 0 (non-IP
 * frames included), or -EINVAL when the frame cannot be parsed; then *t is all
 * zero, like a non-IP frame, so that only a filter naming nothing matches it.
 */
int xcap_filter_parse_frame(const uint8_t *data, size_t len, struct xcap_tuple *t);
/* True when f accepts t, as the XDP program's matcher decides. */
bool xcap_filter_match(const struct xcap_filter *f, const struct xcap_tuple *t);

#endif /* XCAP_FILTER_H */
