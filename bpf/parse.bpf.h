/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Bounds-checked header parsing through a cursor over (data, data_end):
 * Ethernet, two VLAN tags, IPv4 (options, fragments), IPv6 (extension
 * headers), TCP/UDP/SCTP ports; frames of L3 interfaces from the IP header on;
 * and one tunnel level: GRE, IP in IP, VXLAN, GENEVE, whose inner packet
 * fills a second struct xcap_pkt. It never sees the program's context, so any
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
#define XCAP_PKT_ADDRS 2 /* the addresses a frame has: source and destination */
/* Tunnels. */
#define ETH_P_TEB 0x6558 /* transparent Ethernet bridging: an Ethernet frame follows */
#define XCAP_GRE_CSUM 0x8000
#define XCAP_GRE_ROUTING 0x4000
#define XCAP_GRE_KEY 0x2000
#define XCAP_GRE_SEQ 0x1000
#define XCAP_GRE_VERSION 0x0007
#define XCAP_VXLAN_FLAG_I 0x08

/*
 * What the matcher needs to know about a frame: the value of each filter field
 * (XCAP_FIELD_*) that it has. A frame without a field (no ports, not IP) is
 * taken only by the captures that accept any value of it. Either-direction
 * fields have no value of their own: the matcher reads the source's and the
 * destination's (match.bpf.h), so only those two addresses are kept. Only
 * `has` is set before parsing: a field's members are written, and read, under
 * its bit, so that clang need not carry zeros for every member to each early
 * exit.
 */
struct xcap_pkt {
	__u32 has; /* bit (1 << id): the frame has a value of field id */
	__u32 num[XCAP_FIELD_N]; /* number fields, host order */
	__u8 family[XCAP_PKT_ADDRS]; /* XCAP_FIELD_SADDR, XCAP_FIELD_DADDR: 4 or 6 */
	__u8 pad[2];
	__u8 addr[XCAP_PKT_ADDRS][16]; /* network order; IPv4 in the first 4 bytes */
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

struct xcap_parse_opts {
	__u16 vxlan_port; /* UDP destination ports of VXLAN and GENEVE; 0 = none */
	__u16 geneve_port;
	bool l3; /* the frame begins with its IP header (an L3 interface) */
};

/* What the parser found, in bits. */
#define XCAP_PARSE_ERR 1 /* the frame cannot be parsed: its level describes a non-IP frame */
/* The protocol, or the UDP port (opts), may carry a tunnel: the cursor is at its header. */
#define XCAP_PARSE_TUNNEL 2
#define XCAP_PARSE_INNER \
	4 /* the inner level holds the packet inside a tunnel (if IP, its fields) */
#define XCAP_PARSE_TUNNEL_ERR 8 /* a tunnel header or its packet is malformed: no inner level */

/*
 * The ports of TCP, UDP and SCTP into p, the cursor after them. Returns
 * XCAP_PARSE_TUNNEL when the L4 header may carry a tunnel, else 0; -1 when
 * the ports are cut. The parser tells the tunnels here, where the protocol
 * and the port are at hand: a frame without one pays a compare or two.
 */
static __always_inline int xcap_parse_ports(struct xcap_cursor *c, struct xcap_pkt *p,
					    const struct xcap_parse_opts *o)
{
	__u32 proto = p->num[XCAP_FIELD_PROTO];
	__be16 *ports;
	__u16 dport;

	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP && proto != IPPROTO_SCTP)
		return proto == IPPROTO_IPIP || proto == IPPROTO_IPV6 || proto == IPPROTO_GRE ?
			       XCAP_PARSE_TUNNEL :
			       0;
	/* TCP, UDP and SCTP all start with source and destination port. */
	ports = xcap_pull(c, 4);
	if (!ports)
		return -1;
	dport = bpf_ntohs(ports[1]);
	xcap_pkt_num(p, XCAP_FIELD_SPORT, bpf_ntohs(ports[0]));
	xcap_pkt_num(p, XCAP_FIELD_DPORT, dport);
	if (proto != IPPROTO_UDP || !dport)
		return 0;
	return dport == o->vxlan_port || dport == o->geneve_port ? XCAP_PARSE_TUNNEL : 0;
}

/*
 * An IPv4 or IPv6 packet (ethertype proto) and its ports into p. Returns
 * XCAP_PARSE_TUNNEL when its L4 header follows and may carry a tunnel (the
 * cursor at the tunnel's header), 0 when it does not or is not IP, -1 when
 * the headers are malformed or cut short.
 */
static __always_inline int xcap_parse_ip(struct xcap_cursor *c, struct xcap_pkt *p, int proto,
					 const struct xcap_parse_opts *o)
{
	int l4;

	if (proto == ETH_P_IP)
		l4 = xcap_parse_ipv4(c, p);
	else if (proto == ETH_P_IPV6)
		l4 = xcap_parse_ipv6(c, p);
	else
		return 0;
	return l4 > 0 ? xcap_parse_ports(c, p, o) : l4;
}

/* A frame of an L3 interface: the ethertype its IP version gives, 0 when not IP, -1 when empty. */
static __always_inline int xcap_parse_l3(struct xcap_cursor *c)
{
	__u8 *v = c->pos;

	if ((void *)(v + 1) > c->end)
		return -1;
	if (*v >> 4 == 4)
		return ETH_P_IP;
	return *v >> 4 == 6 ? ETH_P_IPV6 : 0;
}

/*
 * The tunnel headers below return what follows them: ETH_P_IP, ETH_P_IPV6 or
 * ETH_P_TEB (an Ethernet frame), 0 for a payload that is not parsed (no inner
 * level, not an error), -1 for a malformed or cut short header.
 */

/* GRE (RFC 2784, 2890): checksum, key and sequence number when their bits say so. */
static __always_inline int xcap_parse_gre(struct xcap_cursor *c)
{
	__be16 *gre = xcap_pull(c, 4);
	__u16 flags, type;
	__u32 opt;

	if (!gre)
		return -1;
	flags = bpf_ntohs(gre[0]);
	type = bpf_ntohs(gre[1]);
	/* Version 1 is PPTP's enhanced GRE: not a tunnel of packets. */
	if (flags & XCAP_GRE_VERSION)
		return 0;
	/* RFC 1701 source routing: deprecated, and refused by Linux. */
	if (flags & XCAP_GRE_ROUTING)
		return -1;
	opt = (flags & XCAP_GRE_CSUM ? 4 : 0) + (flags & XCAP_GRE_KEY ? 4 : 0) +
	      (flags & XCAP_GRE_SEQ ? 4 : 0);
	if (opt && !xcap_pull(c, opt))
		return -1;
	return type == ETH_P_IP || type == ETH_P_IPV6 || type == ETH_P_TEB ? type : 0;
}

/* VXLAN (RFC 7348) after the UDP ports: the rest of the UDP header, 8 bytes, the I flag set. */
static __always_inline int xcap_parse_vxlan(struct xcap_cursor *c)
{
	__u8 *vx;

	if (!xcap_pull(c, 4))
		return -1;
	vx = xcap_pull(c, 8);
	if (!vx || !(vx[0] & XCAP_VXLAN_FLAG_I))
		return -1;
	return ETH_P_TEB;
}

/* GENEVE (RFC 8926) after the UDP ports: version 0, options skipped, then its protocol type. */
static __always_inline int xcap_parse_geneve(struct xcap_cursor *c)
{
	__u8 *g;
	__u32 opt;
	__u16 type;

	if (!xcap_pull(c, 4))
		return -1;
	g = xcap_pull(c, 8);
	if (!g || g[0] >> 6)
		return -1;
	opt = (g[0] & 0x3f) * 4;
	type = g[2] << 8 | g[3];
	if (opt && !xcap_pull(c, opt))
		return -1;
	return type == ETH_P_IP || type == ETH_P_IPV6 || type == ETH_P_TEB ? type : 0;
}

/* The tunnel that the outer level p (whose L4 header is under the cursor) carries. */
static __always_inline int xcap_parse_tunnel(struct xcap_cursor *c, const struct xcap_pkt *p,
					     const struct xcap_parse_opts *o)
{
	__u32 proto = p->num[XCAP_FIELD_PROTO], dport;

	if (proto == IPPROTO_IPIP)
		return ETH_P_IP;
	if (proto == IPPROTO_IPV6)
		return ETH_P_IPV6;
	if (proto == IPPROTO_GRE)
		return xcap_parse_gre(c);
	if (proto != IPPROTO_UDP)
		return 0;
	dport = p->num[XCAP_FIELD_DPORT];
	if (o->vxlan_port && dport == o->vxlan_port)
		return xcap_parse_vxlan(c);
	if (o->geneve_port && dport == o->geneve_port)
		return xcap_parse_geneve(c);
	return 0;
}

/*
 * Fills p, the outer level, from the bytes under the cursor (the linear part
 * of the frame). Returns XCAP_PARSE_ERR, or XCAP_PARSE_TUNNEL when the cursor
 * is at the header of a tunnel it may carry, else 0. A frame that cannot be
 * parsed has no field, so that no rule naming an address, port or protocol
 * matches it.
 */
static __always_inline int xcap_parse(struct xcap_cursor *c, struct xcap_pkt *p,
				      const struct xcap_parse_opts *o)
{
	int proto, l4;

	proto = o->l3 ? xcap_parse_l3(c) : xcap_parse_eth(c);
	if (proto < 0)
		return XCAP_PARSE_ERR;
	l4 = xcap_parse_ip(c, p, proto, o);
	if (l4 < 0) {
		p->has = 0;
		return XCAP_PARSE_ERR;
	}
	return l4;
}

/*
 * The offset of the cursor from start, the frame's first byte, as a value the
 * verifier does not know: it follows each path through the headers apart
 * (their lengths differ), and from here on they are one again. A pointer
 * difference is such a value; the barrier keeps clang from folding it away.
 * Returns -1 when it is beyond XCAP_INNER_MAX.
 */
static __always_inline long xcap_cursor_off(const struct xcap_cursor *c, void *start)
{
	__u64 off = c->pos - start;

	barrier_var(off);
	return off <= XCAP_INNER_MAX ? (long)off : -1;
}

/*
 * After xcap_parse found an L4 header at offset off (xcap_cursor_off) of the
 * frame [start, end): the packet inside the tunnel that the outer level
 * carries, into inner. Returns XCAP_PARSE_INNER, XCAP_PARSE_TUNNEL_ERR (inner
 * has no field), or 0 when the outer level carries no tunnel. The caller
 * keeps inner in map memory: the verifier then does not know its fields, and
 * the paths through the inner headers meet again before the matcher.
 */
static __always_inline int xcap_parse_inner(void *start, void *end, long off,
					    const struct xcap_pkt *outer, struct xcap_pkt *inner,
					    const struct xcap_parse_opts *o)
{
	struct xcap_cursor c = { .end = end };
	int next;

	if (off < 0 || off > XCAP_INNER_MAX)
		return 0;
	c.pos = start + off;
	next = xcap_parse_tunnel(&c, outer, o);
	if (!next)
		return 0;
	off = xcap_cursor_off(&c, start);
	inner->has = 0;
	if (next > 0 && off >= 0) {
		c.pos = start + off;
		if (next == ETH_P_TEB)
			next = xcap_parse_eth(&c);
		if (next >= 0 && xcap_parse_ip(&c, inner, next, o) >= 0)
			return XCAP_PARSE_INNER;
	}
	inner->has = 0;
	return XCAP_PARSE_TUNNEL_ERR;
}

#endif /* XCAP_PARSE_BPF_H */
