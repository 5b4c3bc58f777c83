/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Shared by trafgen and its XDP program: the per-flow frame heads. */
#ifndef TRAFGEN_H
#define TRAFGEN_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define TRAFGEN_MAX_FLOWS 16 /* a power of 2 */
#define TRAFGEN_HEAD_LEN 48 /* Ethernet, VLAN tag, IPv4, UDP and the first payload bytes */
#define TRAFGEN_MIN_FRAME 60 /* the Ethernet minimum without the FCS */

struct trafgen_head {
	__u8 bytes[TRAFGEN_HEAD_LEN];
};

#endif /* TRAFGEN_H */
