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

static int frame_parse_ports(struct frame_cursor *c, struct xcap_tuple *t)
{
	uint32_t proto = t->v[XCAP_FIELD_PROTO].num;
	const uint8_t *p;

	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP && proto != IPPROTO_SCTP)
		return 0;
	/* TCP, UDP and SCTP all start with source and destination port. */
	p = frame_pull(c, 4);
	if (!p)
		return -1;
	tuple_num(t, XCAP_FIELD_SPORT, frame_get16(p));
	tuple_num(t, XCAP_FIELD_DPORT, frame_get16(p + 2));
	return 0;
}

int xcap_frame_parse(const uint8_t *data, size_t len, struct xcap_tuple *t)
{
	struct frame_cursor c = { .pos = data, .end = data + len };
	int proto, l4;

	memset(t, 0, sizeof(*t));
	proto = frame_parse_eth(&c);
	if (proto == XCAP_ETH_P_IP)
		l4 = frame_parse_ipv4(&c, t);
	else if (proto == XCAP_ETH_P_IPV6)
		l4 = frame_parse_ipv6(&c, t);
	else
		return proto < 0 ? -EINVAL : 0;
	if (l4 > 0)
		l4 = frame_parse_ports(&c, t);
	if (l4 < 0) {
		memset(t, 0, sizeof(*t));
		return -EINVAL;
	}
	return 0;
}
