// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Capture filters: parsing of addresses, prefixes, ports and protocols. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "filter.h"

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
	{ "icmp", 1 }, { "tcp", 6 }, { "udp", 17 }, { "icmp6", 58 }, { "icmpv6", 58 }, { "sctp", 132 },
};

int xcap_filter_parse_proto(const char *s, int32_t *out)
{
	uint64_t v;
	size_t i;

	for (i = 0; s && i < sizeof(proto_names) / sizeof(proto_names[0]); i++) {
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
