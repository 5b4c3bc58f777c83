/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Canned frames for the bpf tests and the benchmark: Ethernet with 0-2 VLAN
 * tags (or none: the frame of an L3 interface), IPv4 (options, fragments) or
 * IPv6 (extension headers, fragments), TCP/UDP/SCTP/ICMP/ICMPv6 or an ARP
 * request, padded or cut to a given length; and such a frame inside a tunnel
 * (frame_build_tunnel: GRE, IP in IP, VXLAN, GENEVE). Payload byte i of a
 * frame is (i & 0xff), so a test knows what a parser that read payload as
 * headers would see. Only the IPv4 header has a checksum.
 */
#ifndef XCAP_TEST_FRAMES_H
#define XCAP_TEST_FRAMES_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <net/ethernet.h>
#include <net/if_arp.h>
#include <netinet/icmp6.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/ip_icmp.h>
#include <netinet/tcp.h>

#define FRAME_HDR_MAX 256 /* room for the longest header chain built here */
#define FRAME_PAD 2 /* puts the IP header on a 4-byte boundary, like NET_IP_ALIGN */

struct frame_opts {
	int vlans; /* 0, 1 (802.1Q) or 2 (802.1ad outer, 802.1Q inner) */
	int family; /* 4, 6, or 0 for an ARP request */
	const char *src, *dst; /* addresses; NULL = documentation addresses */
	uint8_t proto; /* IPPROTO_TCP, _UDP, _SCTP, _ICMP or _ICMPV6 */
	uint16_t sport, dport;
	uint8_t ip_opts; /* IPv4: bytes of NOP options, a multiple of 4 up to 40 */
	bool hop_by_hop, dest_opts; /* IPv6: add that 8-byte extension header */
	uint16_t frag_off; /* fragment offset in 8-byte units */
	bool more_frags; /* IPv6 gets a fragment header when this or frag_off is set */
	uint32_t len; /* frame length: padded with payload or cut short; 0 = headers only */
	bool l3; /* no Ethernet header: the frame of an L3 interface, or a tunnel's payload */
};

/* Headers are laid out in a scratch area, then copied out with the payload. */
struct frame_ctx {
	uint8_t hdr[FRAME_HDR_MAX] __attribute__((aligned(8)));
	size_t off; /* where the next header goes; the frame starts at FRAME_PAD */
	size_t l3, l4; /* offsets of the IP and L4 headers; 0 when absent */
};

static inline void *frame_put(struct frame_ctx *c, size_t n)
{
	void *p = c->hdr + c->off;

	memset(p, 0, n);
	c->off += n;
	return p;
}

static inline void frame_put16(struct frame_ctx *c, uint16_t v)
{
	uint16_t be = htons(v);

	memcpy(frame_put(c, 2), &be, 2);
}

static inline void frame_put_eth(struct frame_ctx *c, const struct frame_opts *o, uint16_t type)
{
	static const uint8_t dst_mac[ETH_ALEN] = { 2, 0, 0, 0, 0, 2 };
	static const uint8_t src_mac[ETH_ALEN] = { 2, 0, 0, 0, 0, 1 };
	int i;

	memcpy(frame_put(c, ETH_ALEN), dst_mac, ETH_ALEN);
	memcpy(frame_put(c, ETH_ALEN), src_mac, ETH_ALEN);
	for (i = 0; i < o->vlans; i++) {
		frame_put16(c, o->vlans - i == 2 ? ETH_P_8021AD : ETH_P_8021Q);
		frame_put16(c, 100 + i); /* TCI: the VLAN id */
	}
	frame_put16(c, type);
}

static inline bool frame_put_addr(int family, const char *text, const char *dflt, void *addr)
{
	return inet_pton(family == 4 ? AF_INET : AF_INET6, text ?: dflt, addr) == 1;
}

static inline bool frame_put_arp(struct frame_ctx *c, const struct frame_opts *o)
{
	struct arphdr *arp = frame_put(c, sizeof(*arp));
	uint8_t *addrs = frame_put(c, 2 * (ETH_ALEN + 4));

	arp->ar_hrd = htons(ARPHRD_ETHER);
	arp->ar_pro = htons(ETH_P_IP);
	arp->ar_hln = ETH_ALEN;
	arp->ar_pln = 4;
	arp->ar_op = htons(ARPOP_REQUEST);
	return frame_put_addr(4, o->src, "192.0.2.1", addrs + ETH_ALEN) &&
	       frame_put_addr(4, o->dst, "198.51.100.1", addrs + 2 * ETH_ALEN + 4);
}

static inline bool frame_put_ipv4(struct frame_ctx *c, const struct frame_opts *o)
{
	struct iphdr *ip;

	if (o->ip_opts % 4 || o->ip_opts > 40)
		return false;
	c->l3 = c->off;
	ip = frame_put(c, sizeof(*ip) + o->ip_opts);
	ip->version = 4;
	ip->ihl = (sizeof(*ip) + o->ip_opts) / 4;
	ip->ttl = 64;
	ip->protocol = o->proto;
	ip->frag_off = htons((o->more_frags ? IP_MF : 0) | o->frag_off);
	memset(ip + 1, IPOPT_NOP, o->ip_opts);
	return frame_put_addr(4, o->src, "192.0.2.1", &ip->saddr) &&
	       frame_put_addr(4, o->dst, "198.51.100.1", &ip->daddr);
}

/* Appends an 8-byte IPv6 extension header of `type` to the chain of next-header fields. */
static inline void *frame_put_ext(struct frame_ctx *c, uint8_t **next, uint8_t type)
{
	struct ip6_ext *ext = frame_put(c, 8);
	uint8_t *padn = (uint8_t *)(ext + 1);

	**next = type;
	*next = &ext->ip6e_nxt; /* the first byte of every extension header */
	if (type != IPPROTO_FRAGMENT) {
		padn[0] = 1; /* one PadN option fills the 6 bytes of options */
		padn[1] = 4;
	}
	return ext;
}

static inline bool frame_put_ipv6(struct frame_ctx *c, const struct frame_opts *o)
{
	struct ip6_frag *fh;
	struct ip6_hdr *ip6;
	uint8_t *next;

	c->l3 = c->off;
	ip6 = frame_put(c, sizeof(*ip6));
	ip6->ip6_vfc = 6 << 4;
	ip6->ip6_hlim = 64;
	next = &ip6->ip6_nxt;
	if (o->hop_by_hop)
		frame_put_ext(c, &next, IPPROTO_HOPOPTS);
	if (o->dest_opts)
		frame_put_ext(c, &next, IPPROTO_DSTOPTS);
	if (o->frag_off || o->more_frags) {
		fh = frame_put_ext(c, &next, IPPROTO_FRAGMENT);
		fh->ip6f_offlg = htons(o->frag_off << 3) | (o->more_frags ? IP6F_MORE_FRAG : 0);
	}
	*next = o->proto;
	return frame_put_addr(6, o->src, "2001:db8::1", &ip6->ip6_src) &&
	       frame_put_addr(6, o->dst, "2001:db8::2", &ip6->ip6_dst);
}

static inline void frame_put_l4(struct frame_ctx *c, const struct frame_opts *o)
{
	struct tcphdr *th;
	uint16_t *ports;

	/* A non-first fragment carries payload only. */
	if (o->frag_off)
		return;
	c->l4 = c->off;
	switch (o->proto) {
	case IPPROTO_TCP:
		th = frame_put(c, sizeof(*th));
		th->doff = sizeof(*th) / 4;
		th->ack = 1;
		break;
	case IPPROTO_UDP:
		frame_put(c, 8);
		break;
	case IPPROTO_SCTP:
		frame_put(c, 12); /* common header: ports, verification tag, checksum */
		break;
	case IPPROTO_ICMP:
		*(uint8_t *)frame_put(c, 8) = ICMP_ECHO;
		return;
	case IPPROTO_ICMPV6:
		*(uint8_t *)frame_put(c, 8) = ICMP6_ECHO_REQUEST;
		return;
	default:
		c->l4 = 0;
		return;
	}
	/* TCP, UDP and SCTP all start with the source and destination ports. */
	ports = (uint16_t *)(c->hdr + c->l4);
	ports[0] = htons(o->sport);
	ports[1] = htons(o->dport);
}

static inline uint16_t frame_ip_csum(const void *hdr, size_t len)
{
	const uint16_t *w = hdr;
	uint32_t sum = 0;

	for (; len > 1; len -= 2)
		sum += *w++;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ~sum;
}

/* Sets the length fields for a whole (uncut) frame that ends at hdr[end]. */
static inline void frame_set_lengths(struct frame_ctx *c, const struct frame_opts *o, size_t end)
{
	struct iphdr *ip = (struct iphdr *)(c->hdr + c->l3);
	struct ip6_hdr *ip6 = (struct ip6_hdr *)ip;

	if (o->family == 4) {
		ip->tot_len = htons(end - c->l3);
		ip->check = frame_ip_csum(ip, ip->ihl * 4);
	} else if (o->family == 6) {
		ip6->ip6_plen = htons(end - c->l3 - sizeof(*ip6));
	}
	if (c->l4 && o->proto == IPPROTO_UDP)
		((uint16_t *)(c->hdr + c->l4))[2] = htons(end - c->l4);
}

/*
 * Builds the frame described by o into buf (cap bytes). Returns its length, or
 * 0 when the options are invalid or the frame does not fit.
 */
static inline size_t frame_build(void *buf, size_t cap, const struct frame_opts *o)
{
	struct frame_ctx c = { .off = FRAME_PAD };
	size_t hdr_len, len, i;
	bool ok;

	if (o->vlans < 0 || o->vlans > 2 || (o->l3 && (o->vlans || !o->family)))
		return 0;
	if (o->family == 4) {
		if (!o->l3)
			frame_put_eth(&c, o, ETH_P_IP);
		ok = frame_put_ipv4(&c, o);
	} else if (o->family == 6) {
		if (!o->l3)
			frame_put_eth(&c, o, ETH_P_IPV6);
		ok = frame_put_ipv6(&c, o);
	} else {
		frame_put_eth(&c, o, ETH_P_ARP);
		ok = frame_put_arp(&c, o);
	}
	if (o->family)
		frame_put_l4(&c, o);
	hdr_len = c.off - FRAME_PAD;
	len = o->len ?: hdr_len;
	if (!ok || len > cap)
		return 0;
	frame_set_lengths(&c, o, FRAME_PAD + (len > hdr_len ? len : hdr_len));
	memcpy(buf, c.hdr + FRAME_PAD, len < hdr_len ? len : hdr_len);
	for (i = hdr_len; i < len; i++)
		((uint8_t *)buf)[i] = i;
	return len;
}

/* --- tunnels --- */

enum frame_encap {
	FRAME_IPIP, /* the inner IP packet right after the outer IP header (protocol 4 or 41) */
	FRAME_GRE, /* GRE version 0; protocol type 0x0800/0x86dd, or 0x6558 with inner_eth */
	FRAME_VXLAN, /* UDP to port (4789 when 0), VXLAN header, inner Ethernet frame */
	FRAME_GENEVE, /* UDP to port (6081 when 0), GENEVE with opt_words of options */
};

struct tunnel_opts {
	enum frame_encap encap;
	struct frame_opts outer; /* family, src, dst, vlans, l3; proto and ports are set here */
	struct frame_opts inner; /* the packet carried (its own l3 is ignored) */
	bool inner_eth; /* GRE, GENEVE: carry an Ethernet frame (VXLAN always does) */
	bool gre_csum, gre_key, gre_seq; /* GRE optional fields */
	uint16_t gre_flags; /* more GRE flag bits, as given (version, routing...) */
	uint16_t port; /* UDP destination port of VXLAN or GENEVE; 0 = the default */
	uint8_t opt_words; /* GENEVE options, in 4-byte words (0..63) */
	uint8_t geneve_ver; /* GENEVE version bits (0 is the only valid one) */
	uint8_t vxlan_flags; /* VXLAN flags byte; 0 = 0x08 (the I flag) */
	uint32_t len; /* cut the whole frame to len bytes; 0 = whole */
};

/*
 * Builds the frame of a tunnel: the outer headers (Ethernet unless outer.l3,
 * IPv4 or IPv6), the tunnel header, and the inner packet (inner, with an
 * Ethernet header for VXLAN and where inner_eth says). Returns its length or 0.
 */
static inline size_t frame_build_tunnel(void *buf, size_t cap, const struct tunnel_opts *t)
{
	uint8_t inner[1024], *p = buf;
	struct frame_opts in = t->inner, out = t->outer;
	size_t n_in, hdr, len, l4, i;
	uint16_t flags, type;
	bool eth = t->encap == FRAME_VXLAN || (t->inner_eth && t->encap != FRAME_IPIP);

	in.l3 = !eth;
	n_in = frame_build(inner, sizeof(inner), &in);
	if (!n_in)
		return 0;
	type = eth ? 0x6558 : in.family == 4 ? ETH_P_IP : ETH_P_IPV6;
	out.len = 0;
	out.frag_off = 0;
	out.sport = 49152;
	switch (t->encap) {
	case FRAME_IPIP:
		out.proto = in.family == 4 ? IPPROTO_IPIP : IPPROTO_IPV6;
		break;
	case FRAME_GRE:
		out.proto = IPPROTO_GRE;
		break;
	case FRAME_VXLAN:
		out.proto = IPPROTO_UDP;
		out.dport = t->port ?: 4789;
		break;
	case FRAME_GENEVE:
		out.proto = IPPROTO_UDP;
		out.dport = t->port ?: 6081;
		break;
	}
	hdr = frame_build(buf, cap, &out);
	if (!hdr)
		return 0;
	l4 = hdr - (out.proto == IPPROTO_UDP ? 8 : 0);
	/* frame_build ends UDP with its 8-byte header; IP protocols 4, 41, 47 with none. */
	p += hdr;
	switch (t->encap) {
	case FRAME_IPIP:
		break;
	case FRAME_GRE:
		flags = (t->gre_csum ? 0x8000 : 0) | (t->gre_key ? 0x2000 : 0) |
			(t->gre_seq ? 0x1000 : 0) | t->gre_flags;
		*p++ = flags >> 8;
		*p++ = flags;
		*p++ = type >> 8;
		*p++ = type;
		for (i = 0; i < 4u * (t->gre_csum + t->gre_key + t->gre_seq); i++)
			*p++ = 0x10 + i; /* checksum, key 0x14151617..., sequence */
		break;
	case FRAME_VXLAN:
		memset(p, 0, 8);
		p[0] = t->vxlan_flags ?: 0x08;
		p[6] = 42; /* VNI 42 */
		p += 8;
		break;
	case FRAME_GENEVE:
		memset(p, 0, 8);
		p[0] = t->geneve_ver << 6 | (t->opt_words & 0x3f);
		p[2] = type >> 8;
		p[3] = type;
		p[6] = 42;
		p += 8;
		/* Options: class 0x0102, type 0x80, then length words of data. */
		for (i = 0; i < t->opt_words; i++) {
			memset(p, 0, 4);
			if (!i) {
				p[0] = 1;
				p[1] = 2;
				p[2] = 0x80;
				p[3] = t->opt_words - 1;
			}
			p += 4;
		}
		break;
	}
	hdr = p - (uint8_t *)buf;
	len = hdr + n_in;
	if (len > cap)
		return 0;
	memcpy(p, inner, n_in);
	/* The outer lengths: IPv4 total length and checksum, IPv6 payload, UDP length. */
	p = (uint8_t *)buf + (out.l3 ? 0 : 14 + 4 * out.vlans);
	if (out.family == 4) {
		struct iphdr *ip = (struct iphdr *)p;

		ip->tot_len = htons(len - (p - (uint8_t *)buf));
		ip->check = 0;
		ip->check = frame_ip_csum(ip, ip->ihl * 4);
	} else {
		struct ip6_hdr *ip6 = (struct ip6_hdr *)p;

		ip6->ip6_plen = htons(len - (p - (uint8_t *)buf) - sizeof(*ip6));
	}
	p = (uint8_t *)buf + l4;
	if (out.proto == IPPROTO_UDP) {
		p[4] = (len - l4) >> 8;
		p[5] = len - l4;
	}
	return t->len && t->len < len ? t->len : len;
}

#endif /* XCAP_TEST_FRAMES_H */
