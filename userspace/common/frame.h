/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The reference parser: a frame's filter fields as the XDP program's parser
 * (bpf/parse.bpf.h) sees them, for matching stored samples in userspace and
 * for the packet fuzzer, which holds the kernel to it.
 */
#ifndef XCAP_FRAME_H
#define XCAP_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/fields.h"

/*
 * A frame's filter fields (at one level); an address is a prefix of full
 * length. An either-direction field has no value here: the matcher reads the
 * values of its source and destination fields (xcap_field_value_of).
 */
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

/* The tunnels the parser looks into. */
enum xcap_encap {
	XCAP_ENCAP_NONE,
	XCAP_ENCAP_IPIP, /* IPv4 or IPv6 in IPv4 or IPv6 (protocols 4 and 41) */
	XCAP_ENCAP_GRE, /* RFC 2784/2890 GRE: IPv4, IPv6 or Ethernet (0x6558) */
	XCAP_ENCAP_VXLAN, /* an Ethernet frame in UDP to the VXLAN port */
	XCAP_ENCAP_GENEVE, /* Ethernet, IPv4 or IPv6 in UDP to the GENEVE port */
};

/* A frame's fields at each level (XCAP_LEVEL_*: its own headers, and those inside a tunnel). */
struct xcap_frame {
	struct xcap_tuple lvl[XCAP_LEVEL_N];
	bool inner; /* lvl[XCAP_LEVEL_INNER] is the packet a tunnel carries (all zero: not IP) */
	bool tunnel_err; /* a tunnel header, or the packet in it, is malformed or cut short */
	enum xcap_encap encap; /* the tunnel found (also when tunnel_err) */
};

/*
 * Parses a frame as the XDP program does, its levels too: after the outer
 * headers, IP in IP (protocols 4 and 41), GRE version 0 (checksum, key and
 * sequence fields as its flags say; the routing bit is an error; versions 1-7
 * and payloads other than IPv4, IPv6 and Ethernet are not looked into), UDP
 * to the VXLAN port (8 bytes, the I flag set) or to the GENEVE port (version
 * 0, options skipped; Ethernet, IPv4 or IPv6) are read as tunnels: their
 * packet, after an Ethernet header (up to two VLAN tags) where the tunnel
 * carries Ethernet, is the inner level, parsed with the rules of the outer
 * one. Only one tunnel is looked into; it must start within the frame's first
 * XCAP_INNER_MAX bytes. rec_flags are the record's XCAP_REC_* flags:
 * with XCAP_REC_L3 the frame begins with its IP header (the version nibble
 * says which; another version is a frame that is not IP). Returns 0 or
 * -EINVAL as xcap_frame_parse, whose result is lvl[XCAP_LEVEL_OUTER]; a
 * malformed tunnel is not an error of the frame: it sets tunnel_err and has
 * no inner level.
 */
int xcap_frame_parse_levels(const uint8_t *data, size_t len, uint32_t rec_flags,
			    struct xcap_frame *fr);
/*
 * The UDP destination ports read as VXLAN and GENEVE (0: none); by default
 * XCAP_VXLAN_PORT and XCAP_GENEVE_PORT. The engine sets the program's and
 * these together; set them before any thread parses.
 */
void xcap_frame_set_udp_ports(uint16_t vxlan, uint16_t geneve);

#endif /* XCAP_FRAME_H */
