/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Bounds-checked header parsing through a cursor over (data, data_end):
 * Ethernet, two VLAN tags, IPv4 (options, fragments), IPv6 (extension
 * headers), TCP/UDP/SCTP ports. It never sees the program's context, so any
 * hook that has the frame's linear bytes can use it.
 */
#ifndef XCAP_PARSE_BPF_H
#define XCAP_PARSE_BPF_H

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88A8
#define IPPROTO_HOPOPTS 0
#define IPPROTO_ROUTING 43
#define IPPROTO_FRAGMENT 44
#define IPPROTO_AH 51
#define IPPROTO_DSTOPTS 60
#define IP_MF 0x2000
#define IP_OFFSET 0x1FFF
#define XCAP_VLAN_MAX 2
#define XCAP_IPV6_EXT_MAX 6

/*
 * What the matcher needs to know about a frame: the value of each filter field
 * (XCAP_FIELD_*) that it has. A frame without a field (no ports, not IP) is
 * taken only by the captures that accept any value of it. Only `has` is set
 * before parsing: a field's members are written, and read, under its bit, so
 * that clang need not carry zeros for every member to each early exit.
 */
struct xcap_pkt {
	__u32 has; /* bit (1 << id): the frame has a value of field id */
	__u32 num[XCAP_FIELD_N]; /* number fields, host order */
	__u8 family[XCAP_FIELD_ADDR_N]; /* address fields: 4 or 6 */
	__u8 pad[2];
	__u8 addr[XCAP_FIELD_ADDR_N][16]; /* network order; IPv4 in the first 4 bytes */
};

static __always_inline void xcap_pkt_num(struct xcap_pkt *p, int id, __u32 value)
{
	p->num[id] = value;
	p->has |= 1U << id;
}

/* The caller copies the address: from its typed header field, clang loads it in one piece. */
static __always_inline void xcap_pkt_addr(struct xcap_pkt *p, int id, __u8 family)
{
	p->family[id] = family;
	p->has |= 1U << id;
}

struct xcap_cursor {
	void *pos;
	void *end;
};

static __always_inline void *xcap_pull(struct xcap_cursor *c, __u32 len)
{
	void *p = c->pos;

	if (p + len > c->end)
		return NULL;
	c->pos = p + len;
	return p;
}

/* Returns the ethertype after up to two VLAN tags, or -1 on a truncated frame. */
static __always_inline int xcap_parse_eth(struct xcap_cursor *c)
{
	struct ethhdr *eth = xcap_pull(c, sizeof(*eth));
	struct vlan_hdr *vh;
	__u16 proto;
	int i;

	if (!eth)
		return -1;
	proto = eth->h_proto;
#pragma unroll
	for (i = 0; i < XCAP_VLAN_MAX; i++) {
		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		vh = xcap_pull(c, sizeof(*vh));
		if (!vh)
			return -1;
		proto = vh->h_vlan_encapsulated_proto;
	}
	return bpf_ntohs(proto);
}

/* Returns 1 when the L4 header follows (first fragment or unfragmented), 0 if not, -1 on error. */
static __always_inline int xcap_parse_ipv4(struct xcap_cursor *c, struct xcap_pkt *p)
{
	struct iphdr *iph = c->pos;
	__u32 hlen;

	if ((void *)(iph + 1) > c->end)
		return -1;
	hlen = iph->ihl * 4;
	if (iph->version != 4 || hlen < sizeof(*iph))
		return -1;
	if (!xcap_pull(c, hlen))
		return -1;
	__builtin_memcpy(p->addr[XCAP_FIELD_SADDR], &iph->saddr, 4);
	__builtin_memcpy(p->addr[XCAP_FIELD_DADDR], &iph->daddr, 4);
	xcap_pkt_addr(p, XCAP_FIELD_SADDR, 4);
	xcap_pkt_addr(p, XCAP_FIELD_DADDR, 4);
	xcap_pkt_num(p, XCAP_FIELD_PROTO, iph->protocol);
	return (iph->frag_off & bpf_htons(IP_OFFSET)) == 0;
}

static __always_inline int xcap_parse_ipv6(struct xcap_cursor *c, struct xcap_pkt *p)
{
	struct ipv6hdr *ip6 = xcap_pull(c, sizeof(*ip6));
	struct ipv6_opt_hdr *opt;
	struct frag_hdr *fh;
	__u8 next;
	int i;

	if (!ip6 || ip6->version != 6)
		return -1;
	__builtin_memcpy(p->addr[XCAP_FIELD_SADDR], &ip6->saddr, 16);
	__builtin_memcpy(p->addr[XCAP_FIELD_DADDR], &ip6->daddr, 16);
	xcap_pkt_addr(p, XCAP_FIELD_SADDR, 6);
	xcap_pkt_addr(p, XCAP_FIELD_DADDR, 6);
	next = ip6->nexthdr;
#pragma unroll
	for (i = 0; i < XCAP_IPV6_EXT_MAX; i++) {
		switch (next) {
		case IPPROTO_HOPOPTS:
		case IPPROTO_ROUTING:
		case IPPROTO_DSTOPTS:
			opt = c->pos;
			if ((void *)(opt + 1) > c->end)
				return -1;
			next = opt->nexthdr;
			if (!xcap_pull(c, (opt->hdrlen + 1) * 8))
				return -1;
			break;
		case IPPROTO_AH:
			opt = c->pos;
			if ((void *)(opt + 1) > c->end)
				return -1;
			next = opt->nexthdr;
			if (!xcap_pull(c, (opt->hdrlen + 2) * 4))
				return -1;
			break;
		case IPPROTO_FRAGMENT:
			fh = xcap_pull(c, sizeof(*fh));
			if (!fh)
				return -1;
			xcap_pkt_num(p, XCAP_FIELD_PROTO, fh->nexthdr);
			/* A non-first fragment carries no L4 header. */
			if (fh->frag_off & bpf_htons(0xFFF8))
				return 0;
			next = fh->nexthdr;
			break;
		default:
			xcap_pkt_num(p, XCAP_FIELD_PROTO, next);
			return 1;
		}
	}
	/* Too many extension headers: the protocol is unknown. */
	return -1;
}

static __always_inline int xcap_parse_ports(struct xcap_cursor *c, struct xcap_pkt *p)
{
	__u32 proto = p->num[XCAP_FIELD_PROTO];
	__be16 *ports;

	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP && proto != IPPROTO_SCTP)
		return 0;
	/* TCP, UDP and SCTP all start with source and destination port. */
	ports = xcap_pull(c, 4);
	if (!ports)
		return -1;
	xcap_pkt_num(p, XCAP_FIELD_SPORT, bpf_ntohs(ports[0]));
	xcap_pkt_num(p, XCAP_FIELD_DPORT, bpf_ntohs(ports[1]));
	return 0;
}

/*
 * Fills p from the bytes under the cursor (the linear part of the frame).
 * Returns 0, or -1 when the frame cannot be parsed; then p describes a non-IP
 * frame, so that no rule naming an address, port or protocol matches it.
 */
static __always_inline int xcap_parse(struct xcap_cursor *c, struct xcap_pkt *p)
{
	int proto, l4;

	proto = xcap_parse_eth(c);
	if (proto == ETH_P_IP)
		l4 = xcap_parse_ipv4(c, p);
	else if (proto == ETH_P_IPV6)
		l4 = xcap_parse_ipv6(c, p);
	else
		return proto < 0 ? -1 : 0;
	if (l4 > 0)
		l4 = xcap_parse_ports(c, p);
	if (l4 < 0) {
		p->has = 0;
		return -1;
	}
	return 0;
}

#endif /* XCAP_PARSE_BPF_H */
