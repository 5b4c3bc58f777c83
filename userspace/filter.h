/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* A capture's 5-tuple filter and the parsers of its textual fields (CLI and API share them). */
#ifndef XCAP_FILTER_H
#define XCAP_FILTER_H

#include <stdbool.h>
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

#endif /* XCAP_FILTER_H */
