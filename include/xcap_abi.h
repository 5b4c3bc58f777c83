/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The ABI shared by the programs (bpf/: XDP on receive, TC on send) and xcapd
 * (userspace/): ring record headers, the run-time configuration, capture slots
 * and counters.
 * Fixed-width types, explicit padding, sizes pinned by _Static_assert.
 */
#ifndef XCAP_ABI_H
#define XCAP_ABI_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define XCAP_MAX_CAPTURES 64 /* one bit each in a __u64 capture set */
#define XCAP_SAMPLE_BYTES 160 /* bytes of a sampled packet kept in the history */
#define XCAP_FRAME_MAX 16384 /* largest copy of one frame (jumbo frames fit) */
#define XCAP_IFACE_SLOTS 16 /* interfaces whose losses are counted apart ("xcap_ifslot") */

/* Directions of a packet at an interface: which program saw it. */
enum xcap_dir {
	XCAP_DIR_IN, /* received: the XDP program */
	XCAP_DIR_OUT, /* sent: the TC egress program */
	XCAP_DIR_N,
};

/* The two kinds of ring, as the index of the program's xcap_wake_every (set before load). */
enum xcap_ring {
	XCAP_RING_SAMPLES,
	XCAP_RING_FRAMES,
	XCAP_RINGS,
};

/* xcap_rec.flags */
#define XCAP_REC_SAMPLE (1U << 0) /* record came from the sampler */
#define XCAP_REC_PARSE_ERR (1U << 1) /* headers could not be parsed */
#define XCAP_REC_FRAGS (1U << 2) /* frame goes beyond its linear part (xdp frags, skb pages) */
#define XCAP_REC_OUT (1U << 3) /* the interface sent the frame (XCAP_DIR_OUT); else received it */
/* Tunnels and L3 interfaces (bpf/parse.bpf.h): bits 8 and up. */
#define XCAP_REC_L3 (1U << 8) /* the frame begins with its IP header (gre, ipip, tun, wg...) */
#define XCAP_REC_TUNNEL_ERR (1U << 9) /* a tunnel header, or the packet in it, is malformed */

/*
 * Header of every record on the "samples" and "frames" rings, followed by
 * cap_len bytes of the frame. ts_ns is CLOCK_MONOTONIC; userspace adds the
 * realtime offset to get nanoseconds since the epoch.
 */
struct xcap_rec {
	__u64 ts_ns;
	__u64 captures; /* frames: set of capture slots this copy serves */
	__u32 ifindex;
	__u32 rx_queue; /* the receive queue; sent frames (XCAP_REC_OUT): the transmit queue */
	__u32 orig_len;
	__u32 cap_len;
	__u32 flags;
	__u32 pad;
};
_Static_assert(sizeof(struct xcap_rec) == 40, "xcap_rec layout");

/* A sample as reserved on the "samples" ring: fixed size for bpf_ringbuf_reserve. */
struct xcap_sample {
	struct xcap_rec hdr;
	__u8 data[XCAP_SAMPLE_BYTES];
};
_Static_assert(sizeof(struct xcap_sample) == 200, "xcap_sample layout");

/*
 * Filter fields. A capture restricts any of them; the program narrows the set
 * of armed captures one field at a time. An id indexes xcap_cfg.wild and the
 * userspace field table (userspace/common/fields.c). Address fields take the
 * ids below XCAP_FIELD_ADDR_N: their prefixes share the "xcap_addr" LPM trie,
 * keyed by field. The others are numbers of at most 16 bits: each has its
 * slice of the "xcap_num" array, indexed by XCAP_NUM_KEY. An either-direction
 * field (ADDR, PORT) has no value of its own in a frame: its rule table is
 * looked up with the frame's source value and with its destination value,
 * and a capture takes the frame when it accepts either (bpf/match.bpf.h).
 */
enum xcap_field_id {
	XCAP_FIELD_SADDR, /* source address */
	XCAP_FIELD_DADDR, /* destination address */
	XCAP_FIELD_ADDR, /* source or destination address */
	XCAP_FIELD_SPORT, /* TCP, UDP or SCTP source port */
	XCAP_FIELD_DPORT, /* destination port */
	XCAP_FIELD_PORT, /* source or destination port */
	XCAP_FIELD_PROTO, /* IP protocol, after IPv6 extension headers */
	XCAP_FIELD_N,
};
#define XCAP_FIELD_ADDR_N 3
#define XCAP_NUM_SLICE (1U << 16)
#define XCAP_NUM_ENTRIES ((XCAP_FIELD_N - XCAP_FIELD_ADDR_N) * XCAP_NUM_SLICE)
#define XCAP_NUM_KEY(id, value) (((id)-XCAP_FIELD_ADDR_N) * XCAP_NUM_SLICE + (value))

/*
 * Levels of a frame: its own (outer) headers, and those of the packet that a
 * tunnel (GRE, IP in IP, VXLAN, GENEVE) carries in it. A capture's filter
 * matches at the levels its xcap_cfg.level bits name, the whole filter at one
 * level: "any" level is outer or inner.
 */
enum xcap_level {
	XCAP_LEVEL_OUTER,
	XCAP_LEVEL_INNER,
	XCAP_LEVEL_N,
};
#define XCAP_L3_IFACES 16 /* interfaces without Ethernet header the program knows */
#define XCAP_VXLAN_PORT 4789 /* default UDP destination ports of the tunnels */
#define XCAP_GENEVE_PORT 6081
#define XCAP_INNER_MAX 16384 /* an inner packet starts within a frame's first 16 KiB */

/*
 * Run-time configuration (array map "xcap_cfg", one entry). A capture is armed
 * when its bit is in `active`; it takes packets of direction d when its bit is
 * in dir[d] too. wild[id] holds the captures that accept any value of field
 * id; the others accept what the field's rule table says. Likewise for the
 * interface of a frame: iface_any holds the captures that take every
 * interface, iface[s] those restricted to interfaces that include the one of
 * slot s ("xcap_ifslot").
 */
struct xcap_cfg {
	__u32 sample_every; /* sample 1 packet in N per CPU; 0 = off */
	__u32 pad;
	__u64 active;
	__u64 dir[XCAP_DIR_N];
	__u64 wild[XCAP_FIELD_N];
	__u64 iface_any;
	__u64 iface[XCAP_IFACE_SLOTS];
	/* Tunnels and L3 interfaces. */
	__u64 level[XCAP_LEVEL_N]; /* the captures that match at level l (XCAP_LEVEL_*) */
	__u16 vxlan_port; /* UDP destination ports read as VXLAN and GENEVE; 0 = none */
	__u16 geneve_port;
	__u32 pad2;
	__u32 l3_ifindex[XCAP_L3_IFACES]; /* frames of these begin with IP; a 0 ends the list */
};
_Static_assert(sizeof(struct xcap_cfg) == 24 + 8 * XCAP_DIR_N + 8 * XCAP_FIELD_N +
						  8 * XCAP_IFACE_SLOTS + 8 * XCAP_LEVEL_N + 8 +
						  4 * XCAP_L3_IFACES,
	       "xcap_cfg layout");

/* Per capture slot (array map "xcap_slots"): limits and the budget taken so far. */
struct xcap_slot {
	__u64 pkt_limit; /* 0 = no limit */
	__u64 byte_limit; /* 0 = no limit; counts captured bytes */
	__u64 pkts_taken; /* updated atomically by the program */
	__u64 bytes_taken;
	__u32 snaplen;
	__u32 pad;
};
_Static_assert(sizeof(struct xcap_slot) == 40, "xcap_slot layout");

/*
 * Per capture counters (per-CPU array "xcap_cnt"). Every matched packet ends in
 * exactly one of written, over_budget and ring_full.
 */
struct xcap_cap_counters {
	__u64 matched;
	__u64 written; /* copied to the frames ring */
	__u64 bytes; /* bytes copied for this capture */
	__u64 over_budget;
	__u64 ring_full;
};
_Static_assert(sizeof(struct xcap_cap_counters) == 40, "xcap_cap_counters layout");

/* Global counters (per-CPU array "xcap_gcnt", one entry). */
struct xcap_counters {
	__u64 seen;
	__u64 sampled;
	__u64 sample_ring_full;
	__u64 parse_errors;
	__u64 tunnel_errors; /* malformed or cut short tunnel headers (XCAP_REC_TUNNEL_ERR) */
};
_Static_assert(sizeof(struct xcap_counters) == 40, "xcap_counters layout");

/*
 * Key of the "xcap_addr" LPM trie: a prefix of one address field. The field
 * and family lead every key, so that a prefix covers addresses of its own
 * field and family only.
 */
struct xcap_lpm {
	__u32 prefixlen; /* XCAP_LPM_LEAD_BITS + the prefix length */
	__u8 field; /* XCAP_FIELD_* */
	__u8 family; /* 4 or 6 */
	__u8 pad[2]; /* zero */
	__u8 addr[16]; /* network order; IPv4 in the first 4 bytes, the rest zero */
};
_Static_assert(sizeof(struct xcap_lpm) == 24, "xcap_lpm layout");
#define XCAP_LPM_LEAD_BITS 32

#endif /* XCAP_ABI_H */
