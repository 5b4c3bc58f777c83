/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The reference parser: a frame's filter fields as the XDP program's parser
 * (bpf/parse.bpf.h) sees them, for matching stored samples in userspace and
 * for the packet fuzzer, which holds the kernel to it.
 */
#ifndef XCAP_FRAME_H
#define XCAP_FRAME_H

#include <stddef.h>
#include <stdint.h>
#include "common/fields.h"

/* A frame's filter fields; an address is a prefix of full length. */
struct xcap_tuple {
	uint32_t has; /* bit (1 << id): the frame has a value of field id (XCAP_FIELD_*) */
	struct xcap_value v[XCAP_FIELD_N];
};

/*
 * Parses the first len bytes of a frame with the rules of the XDP program:
 * Ethernet, up to two 802.1Q/802.1ad tags, IPv4 (options; a non-first fragment
 * has no ports), IPv6 (extension headers hop-by-hop, routing, destination
 * options, AH, fragment: the upper-layer protocol must be among the first 6
 * next-header values, so at most 5 of them), TCP/UDP/SCTP ports. A header cut
 * short (a runt, or a sample cut at 160 bytes) is a parse error. Returns 0
 * (non-IP frames included), or -EINVAL when the frame cannot be parsed; then
 * *t is all zero, like a non-IP frame, so that only a filter naming nothing
 * matches it.
 */
int xcap_frame_parse(const uint8_t *data, size_t len, struct xcap_tuple *t);

#endif /* XCAP_FRAME_H */
