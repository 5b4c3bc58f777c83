// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The reference parser (see frame.h): rule for rule the XDP program's
 * (bpf/parse.bpf.h), written again for plain memory so that the packet
 * fuzzer compares two readings of the same rules, not one with itself.
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include "common/frame.h"

#define XCAP_ETH_HLEN 14
#define XCAP_ETH_P_IP 0x0800
#define XCAP_ETH_P_IPV6 0x86DD
#define XCAP_ETH_P_8021Q 0x8100
#define XCAP_ETH_P_8021AD 0x88A8
#define XCAP_VLAN_MAX 2
#define XCAP_IPV6_EXT_MAX 6
#define XCAP_ETH_P_TEB 0x6558
#define XCAP_GRE_CSUM 0x8000
#define XCAP_GRE_ROUTING 0x4000
#define XCAP_GRE_KEY 0x2000
#define XCAP_GRE_SEQ 0x1000
#define XCAP_GRE_VERSION 0x0007
#define XCAP_VXLAN_FLAG_I 0x08

/* The program's xcap_cfg.vxlan_port and geneve_port (xcap_frame_set_udp_ports). */
static uint16_t vxlan_port = XCAP_VXLAN_PORT, geneve_port = XCAP_GENEVE_PORT;

struct frame_cursor {
	const uint8_t *pos;
	const uint8_t *end;
};

static const uint8_t *frame_pull(struct frame_cursor *c, size_t len)
{
	const uint8_t *p = c->pos;

	if (len > (size_t)(c->end - p))
		return NULL;
	c->pos = p + len;
	return p;
}

static bool frame_has(const struct frame_cursor *c, size_t len)
{
	return len <= (size_t)(c->end - c->pos);
}

static uint16_t frame_get16(const uint8_t *p)
{
	return p[0] << 8 | p[1];
}

static void tuple_num(struct xcap_tuple *t, int id, uint32_t value)
{
	t->v[id].num = value;
	t->has |= 1U << id;
}

static void tuple_addr(struct xcap_tuple *t, int id, uint8_t family, const uint8_t *addr)
{
	struct xcap_prefix *p = &t->v[id].prefix;

	p->family = family;
	p->len = family == 4 ? 32 : 128;
	memcpy(p->addr, addr, family == 4 ? 4 : 16);
	t->has |= 1U << id;
}

/* Returns the ethertype after up to two VLAN tags, or -1 on a truncated frame. */
static int frame_parse_eth(struct frame_cursor *c)
{
	const uint8_t *p = frame_pull(c, XCAP_ETH_HLEN);
	uint16_t proto;
	int i;

	if (!p)
		return -1;
	proto = frame_get16(p + 12);
	for (i = 0; i < XCAP_VLAN_MAX; i++) {
		if (proto != XCAP_ETH_P_8021Q && proto != XCAP_ETH_P_8021AD)
			break;
		p = frame_pull(c, 4);
		if (!p)
			return -1;
		proto = frame_get16(p + 2);
	}
	return proto;
}

/* Returns 1 when the L4 header follows (first fragment or unfragmented), 0 if not, -1 on error. */
static int frame_parse_ipv4(struct frame_cursor *c, struct xcap_tuple *t)
{
	const uint8_t *ip = c->pos;
	size_t hlen;

	if (!frame_has(c, 20))
		return -1;
	hlen = (ip[0] & 0xf) * 4;
	if (ip[0] >> 4 != 4 || hlen < 20 || !frame_pull(c, hlen))
		return -1;
	tuple_addr(t, XCAP_FIELD_SADDR, 4, ip + 12);
	tuple_addr(t, XCAP_FIELD_DADDR, 4, ip + 16);
	tuple_num(t, XCAP_FIELD_PROTO, ip[9]);
	return (frame_get16(ip + 6) & 0x1fff) == 0;
}

/* Length of an IPv6 option-style extension header from its first two bytes. */
static size_t frame_ext_len(uint8_t type, const uint8_t *h)
{
	return type == IPPROTO_AH ? (h[1] + 2) * 4 : (h[1] + 1) * 8;
}

static int frame_parse_ipv6(struct frame_cursor *c, struct xcap_tuple *t)
{
	const uint8_t *ip = frame_pull(c, 40), *h;
	uint8_t next;
	int i;

	if (!ip || ip[0] >> 4 != 6)
		return -1;
	tuple_addr(t, XCAP_FIELD_SADDR, 6, ip + 8);
	tuple_addr(t, XCAP_FIELD_DADDR, 6, ip + 24);
	next = ip[6];
	for (i = 0; i < XCAP_IPV6_EXT_MAX; i++) {
		switch (next) {
		case IPPROTO_HOPOPTS:
		case IPPROTO_ROUTING:
		case IPPROTO_DSTOPTS:
		case IPPROTO_AH:
			h = c->pos;
			if (!frame_has(c, 2) || !frame_pull(c, frame_ext_len(next, h)))
				return -1;
			next = h[0];
			break;
		case IPPROTO_FRAGMENT:
			h = frame_pull(c, 8);
			if (!h)
				return -1;
			tuple_num(t, XCAP_FIELD_PROTO, h[0]);
			/* A non-first fragment carries no L4 header. */
			if (frame_get16(h + 2) & 0xfff8)
				return 0;
			next = h[0];
			break;
		default:
			tuple_num(t, XCAP_FIELD_PROTO, next);
			return 1;
		}
	}
	/* Too many extension headers: the protocol is unknown. */
	return -1;
}

/* Returns 1 (the cursor after the ports when the protocol has them), or -1 when they are cut. */
static int frame_parse_ports(struct frame_cursor *c, struct xcap_tuple *t)
{
	uint32_t proto = t->v[XCAP_FIELD_PROTO].num;
	const uint8_t *p;

	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP && proto != IPPROTO_SCTP)
		return 1;
	/* TCP, UDP and SCTP all start with source and destination port. */
	p = frame_pull(c, 4);
	if (!p)
		return -1;
	tuple_num(t, XCAP_FIELD_SPORT, frame_get16(p));
	tuple_num(t, XCAP_FIELD_DPORT, frame_get16(p + 2));
	return 1;
}

/* 1: the L4 header follows (ports read), 0: it does not (a later fragment, not IP), -1: error. */
static int frame_parse_ip(struct frame_cursor *c, struct xcap_tuple *t, int proto)
{
	int l4;

	if (proto == XCAP_ETH_P_IP)
		l4 = frame_parse_ipv4(c, t);
	else if (proto == XCAP_ETH_P_IPV6)
		l4 = frame_parse_ipv6(c, t);
	else
		return 0;
	return l4 > 0 ? frame_parse_ports(c, t) : l4;
}

/* An L3 interface's frame: the ethertype of its IP version, 0 when not IP, -1 when empty. */
static int frame_parse_l3(const struct frame_cursor *c)
{
	if (!frame_has(c, 1))
		return -1;
	if (c->pos[0] >> 4 == 4)
		return XCAP_ETH_P_IP;
	return c->pos[0] >> 4 == 6 ? XCAP_ETH_P_IPV6 : 0;
}

/*
 * Tunnel headers: each returns what follows it (XCAP_ETH_P_IP, _IPV6 or _TEB),
 * 0 for a payload that is not looked into, -1 for a malformed or cut header.
 */
static int frame_tunnel_payload(uint16_t type)
{
	return type == XCAP_ETH_P_IP || type == XCAP_ETH_P_IPV6 || type == XCAP_ETH_P_TEB ? type :
											    0;
}

static int frame_parse_gre(struct frame_cursor *c)
{
	const uint8_t *p = frame_pull(c, 4);
	uint16_t flags;
	size_t opt;

	if (!p)
		return -1;
	flags = frame_get16(p);
	if (flags & XCAP_GRE_VERSION)
		return 0;
	if (flags & XCAP_GRE_ROUTING)
		return -1;
	opt = (flags & XCAP_GRE_CSUM ? 4 : 0) + (flags & XCAP_GRE_KEY ? 4 : 0) +
	      (flags & XCAP_GRE_SEQ ? 4 : 0);
	if (!frame_pull(c, opt))
		return -1;
	return frame_tunnel_payload(frame_get16(p + 2));
}

/* After the UDP ports: the rest of the UDP header, then the 8-byte VXLAN header. */
static int frame_parse_vxlan(struct frame_cursor *c)
{
	const uint8_t *p;

	if (!frame_pull(c, 4))
		return -1;
	p = frame_pull(c, 8);
	return p && p[0] & XCAP_VXLAN_FLAG_I ? XCAP_ETH_P_TEB : -1;
}

static int frame_parse_geneve(struct frame_cursor *c)
{
	const uint8_t *p;

	if (!frame_pull(c, 4))
		return -1;
	p = frame_pull(c, 8);
	if (!p || p[0] >> 6 || !frame_pull(c, (p[0] & 0x3f) * 4))
		return -1;
	return frame_tunnel_payload(frame_get16(p + 2));
}

/* The tunnel that the outer level t carries, its L4 header under the cursor. */
static int frame_parse_tunnel(struct frame_cursor *c, const struct xcap_tuple *t,
			      enum xcap_encap *encap)
{
	uint32_t proto = t->v[XCAP_FIELD_PROTO].num, dport = t->v[XCAP_FIELD_DPORT].num;

	*encap = XCAP_ENCAP_IPIP;
	if (proto == IPPROTO_IPIP)
		return XCAP_ETH_P_IP;
	if (proto == IPPROTO_IPV6)
		return XCAP_ETH_P_IPV6;
	*encap = XCAP_ENCAP_GRE;
	if (proto == IPPROTO_GRE)
		return frame_parse_gre(c);
	*encap = XCAP_ENCAP_VXLAN;
	if (proto == IPPROTO_UDP && vxlan_port && dport == vxlan_port)
		return frame_parse_vxlan(c);
	*encap = XCAP_ENCAP_GENEVE;
	if (proto == IPPROTO_UDP && geneve_port && dport == geneve_port)
		return frame_parse_geneve(c);
	*encap = XCAP_ENCAP_NONE;
	return 0;
}

int xcap_frame_parse_levels(const uint8_t *data, size_t len, uint32_t rec_flags,
			    struct xcap_frame *fr)
{
	struct frame_cursor c = { .pos = data, .end = data + len };
	struct xcap_tuple *outer = &fr->lvl[XCAP_LEVEL_OUTER], *inner = &fr->lvl[XCAP_LEVEL_INNER];
	int proto, l4, next;

	memset(fr, 0, sizeof(*fr));
	proto = rec_flags & XCAP_REC_L3 ? frame_parse_l3(&c) : frame_parse_eth(&c);
	if (proto < 0)
		return -EINVAL;
	l4 = frame_parse_ip(&c, outer, proto);
	if (l4 < 0) {
		memset(outer, 0, sizeof(*outer));
		return -EINVAL;
	}
	/* The program's bound on where a tunnel starts: past it, none is looked for. */
	if (!l4 || c.pos - data > XCAP_INNER_MAX)
		return 0;
	next = frame_parse_tunnel(&c, outer, &fr->encap);
	if (!next)
		return 0;
	if (next > 0 && c.pos - data <= XCAP_INNER_MAX) {
		if (next == XCAP_ETH_P_TEB)
			next = frame_parse_eth(&c);
		if (next >= 0 && frame_parse_ip(&c, inner, next) >= 0) {
			fr->inner = true;
			return 0;
		}
	}
	memset(inner, 0, sizeof(*inner));
	fr->tunnel_err = true;
	return 0;
}

void xcap_frame_set_udp_ports(uint16_t vxlan, uint16_t geneve)
{
	vxlan_port = vxlan;
	geneve_port = geneve;
}

int xcap_frame_parse(const uint8_t *data, size_t len, struct xcap_tuple *t)
{
	struct xcap_frame fr;
	int err = xcap_frame_parse_levels(data, len, 0, &fr);

	*t = fr.lvl[XCAP_LEVEL_OUTER];
	return err;
}
