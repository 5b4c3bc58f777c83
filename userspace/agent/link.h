/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Link types: whether an interface's frames begin with an Ethernet header or
 * with the IP header (tunnels, tun, WireGuard: no link-layer header), read
 * from its device type (ARPHRD_*), and the pcap link type of such frames.
 */
#ifndef XCAP_LINK_H
#define XCAP_LINK_H

#include <stdbool.h>
#include <stdint.h>

enum xcap_link {
	XCAP_LINK_ETHER, /* Ethernet (and loopback, which has a zero Ethernet header) */
	XCAP_LINK_L3, /* the frame is the IP packet: gre, ipip, sit, ip6tnl, ip6gre, tun, wg */
};

#define XCAP_LINKTYPE_ETHERNET 1 /* pcap and pcapng link types */
#define XCAP_LINKTYPE_RAW 101

/*
 * The link type of interface ifname from its device type, as the kernel
 * reports it in this network namespace (*arphrd, for the log). Types xcap
 * does not know are taken as Ethernet, with a warning. 0 or -errno.
 */
int xcap_link_of(const char *ifname, enum xcap_link *link, uint16_t *arphrd);
/* The pcap link type of frames of that link type. */
uint32_t xcap_link_pcap_type(enum xcap_link link);

#endif /* XCAP_LINK_H */
