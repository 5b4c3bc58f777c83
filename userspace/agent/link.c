// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Link types (see link.h). SIOCGIFHWADDR names the device type of the
 * interface in the caller's network namespace; /sys/class/net would show the
 * namespace that mounted /sys, which `nsenter --net` does not remount.
 */
#include <errno.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include "common/log.h"
#include "agent/link.h"

/* Newer than glibc's <net/if_arp.h>. */
#ifndef ARPHRD_RAWIP
#define ARPHRD_RAWIP 519
#endif
#ifndef ARPHRD_IP6GRE
#define ARPHRD_IP6GRE 823
#endif

int xcap_link_of(const char *ifname, enum xcap_link *link, uint16_t *arphrd)
{
	struct ifreq ifr = {};
	int fd, err = 0;

	if (strlen(ifname) >= sizeof(ifr.ifr_name))
		return -ENODEV;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	strcpy(ifr.ifr_name, ifname);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr))
		err = -errno;
	close(fd);
	if (err)
		return err;
	*arphrd = ifr.ifr_hwaddr.sa_family;
	switch (*arphrd) {
	case ARPHRD_NONE: /* tun, WireGuard */
	case ARPHRD_IPGRE:
	case ARPHRD_TUNNEL: /* ipip */
	case ARPHRD_TUNNEL6: /* ip6tnl */
	case ARPHRD_SIT:
	case ARPHRD_IP6GRE:
	case ARPHRD_RAWIP:
		*link = XCAP_LINK_L3;
		break;
	case ARPHRD_ETHER:
	case ARPHRD_LOOPBACK:
		*link = XCAP_LINK_ETHER;
		break;
	default:
		pr_warn("%s: device type %u: its frames are parsed as Ethernet\n", ifname, *arphrd);
		*link = XCAP_LINK_ETHER;
	}
	return 0;
}

uint32_t xcap_link_pcap_type(enum xcap_link link)
{
	return link == XCAP_LINK_L3 ? XCAP_LINKTYPE_RAW : XCAP_LINKTYPE_ETHERNET;
}
