// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Capture filters: parsing of addresses, prefixes, ports and protocols. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "common/util.h"
#include "common/filter.h"

void xcap_filter_init(struct xcap_filter *f)
{
	memset(f, 0, sizeof(*f));
	f->sport = -1;
	f->dport = -1;
	f->proto = -1;
}

int xcap_filter_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static void clear_host_bits(struct xcap_prefix *p)
{
	int bytes = p->family == 4 ? 4 : 16;
	int i;

	for (i = 0; i < bytes; i++) {
		int keep = p->len - i * 8;

		if (keep <= 0)
			p->addr[i] = 0;
		else if (keep < 8)
			p->addr[i] &= 0xff << (8 - keep);
	}
}

int xcap_filter_parse_prefix(const char *s, struct xcap_prefix *out)
{
	char buf[INET6_ADDRSTRLEN + 8];
	struct xcap_prefix p = {};
	uint64_t len;
	char *slash;

	if (!s || strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	if (inet_pton(AF_INET, buf, p.addr) == 1)
		p.family = 4;
	else if (inet_pton(AF_INET6, buf, p.addr) == 1)
		p.family = 6;
	else
		return -EINVAL;
	p.len = p.family == 4 ? 32 : 128;
	if (slash) {
		if (xcap_filter_parse_uint(slash + 1, 0, p.len, &len))
			return -EINVAL;
		p.len = len;
	}
	clear_host_bits(&p);
	*out = p;
	return 0;
}

static const struct {
	const char *name;
	int32_t proto;
} proto_names[] = {
	{ "icmp", 1 },	 { "tcp", 6 },	   { "udp", 17 },
	{ "icmp6", 58 }, { "icmpv6", 58 }, { "sctp", 132 },
};

int xcap_filter_parse_proto(const char *s, int32_t *out)
{
	uint64_t v;
	size_t i;

	for (i = 0; s && i < ARRAY_SIZE(proto_names); i++) {
		if (!strcasecmp(s, proto_names[i].name)) {
			*out = proto_names[i].proto;
			return 0;
		}
	}
	if (xcap_filter_parse_uint(s, 0, 255, &v))
		return -EINVAL;
	*out = v;
	return 0;
}

void xcap_filter_format_prefix(const struct xcap_prefix *p, char *buf, size_t size)
{
	char addr[INET6_ADDRSTRLEN] = "";
	int full = p->family == 4 ? 32 : 128;

	inet_ntop(p->family == 4 ? AF_INET : AF_INET6, p->addr, addr, sizeof(addr));
	if (p->len == full)
		snprintf(buf, size, "%s", addr);
	else
		snprintf(buf, size, "%s/%u", addr, p->len);
}

/*
 * Frame parsing and matching in userspace, rule for rule the XDP program's
 * (bpf/parse.bpf.h, bpf/match.bpf.h), so that stored samples are filtered as
 * armed captures are, and a fuzzer can compare both.
 */
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
	t->family = 4;
	t->proto = ip[9];
	memcpy(t->saddr, ip + 12, 4);
	memcpy(t->daddr, ip + 16, 4);
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
	t->family = 6;
	memcpy(t->saddr, ip + 8, 16);
	memcpy(t->daddr, ip + 24, 16);
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
			t->proto = h[0];
			/* A non-first fragment carries no L4 header. */
			if (frame_get16(h + 2) & 0xfff8)
				return 0;
			next = h[0];
			break;
		default:
			t->proto = next;
			return 1;
		}
	}
	/* Too many extension headers: the protocol is unknown. */
	return -1;
}

static int frame_parse_ports(struct frame_cursor *c, struct xcap_tuple *t)
{
	const uint8_t *p;

	if (t->proto != IPPROTO_TCP && t->proto != IPPROTO_UDP && t->proto != IPPROTO_SCTP)
		return 0;
	/* TCP, UDP and SCTP all start with source and destination port. */
	p = frame_pull(c, 4);
	if (!p)
		return -1;
	t->sport = frame_get16(p);
	t->dport = frame_get16(p + 2);
	t->has_ports = 1;
	return 0;
}

int xcap_filter_parse_frame(const uint8_t *data, size_t len, struct xcap_tuple *t)
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

/* An address rule: any address (family 0), or a prefix of the tuple's family. */
static bool prefix_match(const struct xcap_prefix *p, uint8_t family, const uint8_t *addr)
{
	int bytes = p->len / 8, bits = p->len % 8;

	if (!p->family)
		return true;
	if (p->family != family || memcmp(addr, p->addr, bytes))
		return false;
	return !bits || !((addr[bytes] ^ p->addr[bytes]) & (uint8_t)(0xff << (8 - bits)));
}

bool xcap_filter_match(const struct xcap_filter *f, const struct xcap_tuple *t)
{
	/* A non-IP or unparsable frame (family 0) has no protocol, ports or addresses. */
	if (f->proto >= 0 && (!t->family || t->proto != f->proto))
		return false;
	if (f->sport >= 0 && (!t->has_ports || t->sport != f->sport))
		return false;
	if (f->dport >= 0 && (!t->has_ports || t->dport != f->dport))
		return false;
	return prefix_match(&f->src, t->family, t->saddr) &&
	       prefix_match(&f->dst, t->family, t->daddr);
}
