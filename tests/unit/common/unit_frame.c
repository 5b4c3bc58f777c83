// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Unit tier: the reference frame parser (common/frame.c), which reads the
 * filter fields of a frame with the XDP program's rules. No privileges.
 */
#include <arpa/inet.h>
#include <errno.h>
#include "common/frame.h"
#include "frames.h"
#include "test.h"

static bool has(const struct xcap_tuple *t, int id)
{
	return t->has & (1U << id);
}

static int num(const struct xcap_tuple *t, int id)
{
	return has(t, id) ? (int)t->v[id].num : -1;
}

/* The family of the addresses, 0 when the frame has none. */
static int family_of(const struct xcap_tuple *t)
{
	return has(t, XCAP_FIELD_SADDR) ? t->v[XCAP_FIELD_SADDR].prefix.family : 0;
}

struct want {
	int rc;
	int family;
	int proto;
	bool ports;
	int sport, dport;
};

#define WANT_PORTS(fam, pr, s, d) \
	(&(struct want){          \
		.family = (fam), .proto = (pr), .ports = true, .sport = (s), .dport = (d) })
#define WANT_IP(fam, pr) (&(struct want){ .family = (fam), .proto = (pr) })
#define WANT_NON_IP (&(struct want){ .family = 0 })
#define WANT_ERROR (&(struct want){ .rc = -EINVAL })

static void check_parse(const char *what, const uint8_t *buf, size_t len, const struct want *w)
{
	struct xcap_tuple t;
	int rc;

	memset(&t, 0x55, sizeof(t));
	rc = xcap_frame_parse(buf, len, &t);
	CHECK(rc == w->rc, "%s: rc %d, want %d", what, rc, w->rc);
	CHECK(family_of(&t) == w->family, "%s: family %d, want %d", what, family_of(&t), w->family);
	CHECK(has(&t, XCAP_FIELD_DADDR) == !!w->family, "%s: destination address", what);
	CHECK(has(&t, XCAP_FIELD_PROTO) == !!w->family, "%s: protocol", what);
	if (w->family)
		CHECK(num(&t, XCAP_FIELD_PROTO) == w->proto, "%s: proto %d, want %d", what,
		      num(&t, XCAP_FIELD_PROTO), w->proto);
	CHECK(has(&t, XCAP_FIELD_SPORT) == w->ports && has(&t, XCAP_FIELD_DPORT) == w->ports,
	      "%s: ports %d, want %d", what, has(&t, XCAP_FIELD_SPORT), w->ports);
	if (w->ports)
		CHECK(num(&t, XCAP_FIELD_SPORT) == w->sport &&
			      num(&t, XCAP_FIELD_DPORT) == w->dport,
		      "%s: ports %d > %d", what, num(&t, XCAP_FIELD_SPORT),
		      num(&t, XCAP_FIELD_DPORT));
	if (!w->family) {
		static const struct xcap_tuple zero;

		CHECK(!memcmp(&t, &zero, sizeof(t)), "%s: tuple of a non-IP frame is not zero",
		      what);
	}
}

/* Builds o, cut to len bytes when len is not 0, and checks how it parses. */
static void check_frame(const char *what, struct frame_opts o, size_t cut, const struct want *w)
{
	uint8_t buf[512];
	size_t len = frame_build(buf, sizeof(buf), &o);

	CHECK(len, "%s: cannot build", what);
	check_parse(what, buf, cut && cut < len ? cut : len, w);
}

static void parser_reads_ip_frames(void)
{
	const struct want *tcp = WANT_PORTS(4, IPPROTO_TCP, 1234, 80);
	struct frame_opts o = { .family = 4, .proto = IPPROTO_TCP, .sport = 1234, .dport = 80 };
	uint8_t buf[256], saddr[4];
	struct xcap_tuple t;

	check_frame("v4 tcp", o, 0, tcp);
	o.proto = IPPROTO_UDP;
	check_frame("v4 udp", o, 0, WANT_PORTS(4, IPPROTO_UDP, 1234, 80));
	o.proto = IPPROTO_SCTP;
	check_frame("v4 sctp", o, 0, WANT_PORTS(4, IPPROTO_SCTP, 1234, 80));
	o.proto = IPPROTO_ICMP;
	check_frame("v4 icmp", o, 0, WANT_IP(4, IPPROTO_ICMP));
	o = (struct frame_opts){ .family = 6, .proto = IPPROTO_TCP, .sport = 1234, .dport = 80 };
	check_frame("v6 tcp", o, 0, WANT_PORTS(6, IPPROTO_TCP, 1234, 80));
	o.proto = IPPROTO_UDP;
	check_frame("v6 udp", o, 0, WANT_PORTS(6, IPPROTO_UDP, 1234, 80));
	o.proto = IPPROTO_ICMPV6;
	check_frame("v6 icmp6", o, 0, WANT_IP(6, IPPROTO_ICMPV6));
	check_frame("arp", (struct frame_opts){ .family = 0 }, 0, WANT_NON_IP);

	o = (struct frame_opts){ .family = 4, .src = "10.1.2.3", .dst = "10.4.5.6", .proto = 6 };
	xcap_frame_parse(buf, frame_build(buf, sizeof(buf), &o), &t);
	inet_pton(AF_INET, "10.1.2.3", saddr);
	CHECK(!memcmp(t.v[XCAP_FIELD_SADDR].prefix.addr, saddr, 4), "source address");
	inet_pton(AF_INET, "10.4.5.6", saddr);
	CHECK(!memcmp(t.v[XCAP_FIELD_DADDR].prefix.addr, saddr, 4), "destination address");
	CHECK(t.v[XCAP_FIELD_SADDR].prefix.len == 32, "an address is a full-length prefix");
}

static void parser_reads_vlans_and_options(void)
{
	struct frame_opts o = { .family = 4, .proto = IPPROTO_TCP, .sport = 1, .dport = 2 };
	const struct want *tcp4 = WANT_PORTS(4, IPPROTO_TCP, 1, 2);
	uint8_t buf[256];
	size_t len;

	o.vlans = 1;
	check_frame("802.1Q", o, 0, tcp4);
	o.vlans = 2;
	check_frame("QinQ", o, 0, tcp4);
	/* A third tag: the ethertype after two tags is a tag, so the frame is not IP. */
	len = frame_build(buf + 4, sizeof(buf) - 4, &o);
	memmove(buf, buf + 4, 12);
	memcpy(buf + 12, "\x81\x00\x00\x66", 4);
	check_parse("three tags", buf, len + 4, WANT_NON_IP);
	o.vlans = 0;
	o.ip_opts = 40;
	check_frame("v4 40 bytes of options", o, 0, tcp4);
	o = (struct frame_opts){ .family = 6, .proto = IPPROTO_UDP, .sport = 1, .dport = 2 };
	o.hop_by_hop = o.dest_opts = true;
	o.vlans = 2;
	check_frame("v6 hop-by-hop, dstopts, QinQ", o, 0, WANT_PORTS(6, IPPROTO_UDP, 1, 2));
}

static void parser_handles_fragments(void)
{
	struct frame_opts o = { .family = 4, .proto = IPPROTO_TCP, .sport = 1, .dport = 2 };

	o.more_frags = true;
	check_frame("v4 first fragment", o, 0, WANT_PORTS(4, IPPROTO_TCP, 1, 2));
	o.frag_off = 100;
	o.len = 120;
	check_frame("v4 later fragment", o, 0, WANT_IP(4, IPPROTO_TCP));
	o.family = 6;
	o.frag_off = 0;
	o.len = 0;
	check_frame("v6 first fragment", o, 0, WANT_PORTS(6, IPPROTO_TCP, 1, 2));
	o.frag_off = 100;
	o.len = 120;
	check_frame("v6 later fragment", o, 0, WANT_IP(6, IPPROTO_TCP));
}

/* Ethernet + IPv6 + a chain of extension headers + TCP ports 7 > 8. */
static size_t v6_chain(uint8_t *buf, const uint8_t *types, int n)
{
	size_t off = 14 + 40, len;
	uint8_t *next = buf + 14 + 6;
	int i;

	memset(buf, 0, 256);
	buf[12] = 0x86;
	buf[13] = 0xdd;
	buf[14] = 0x60;
	for (i = 0; i < n; i++) {
		*next = types[i];
		next = buf + off;
		/* AH counts 4-byte words minus 2; the others 8-byte units minus 1. */
		len = types[i] == IPPROTO_AH ? 12 : 8;
		buf[off + 1] = types[i] == IPPROTO_AH ? 1 : 0;
		off += len;
	}
	*next = IPPROTO_TCP;
	buf[off + 1] = 7;
	buf[off + 3] = 8;
	return off + 20;
}

static void parser_limits_ipv6_extension_headers(void)
{
	static const uint8_t types[] = { IPPROTO_HOPOPTS,  IPPROTO_ROUTING, IPPROTO_AH,
					 IPPROTO_FRAGMENT, IPPROTO_DSTOPTS, IPPROTO_DSTOPTS };
	const struct want *tcp = WANT_PORTS(6, IPPROTO_TCP, 7, 8);
	uint8_t buf[256];
	size_t len;

	check_parse("v6 no ext", buf, v6_chain(buf, types, 0), tcp);
	check_parse("v6 5 ext (AH, fragment)", buf, v6_chain(buf, types, 5), tcp);
	/* The kernel looks at 6 next-header values: the protocol must be among them. */
	check_parse("v6 6 ext", buf, v6_chain(buf, types, 6), WANT_ERROR);
	/* A header longer than the 160 bytes of a sample. */
	len = v6_chain(buf, types, 1);
	buf[14 + 40 + 1] = 20;
	check_parse("v6 ext cut by the sample", buf, len < 160 ? 160 : len, WANT_ERROR);
}

static void parser_rejects_runts_and_bad_headers(void)
{
	struct frame_opts o = { .family = 4, .proto = IPPROTO_TCP, .sport = 1, .dport = 2 };
	const struct want *bad = WANT_ERROR;
	uint8_t buf[256] = {};
	size_t len;

	check_parse("empty", buf, 0, bad);
	check_frame("13 bytes", o, 13, bad);
	check_frame("v4 cut in the IP header", o, 14 + 19, bad);
	check_frame("v4 cut in the ports", o, 14 + 20 + 3, bad);
	check_frame("v4 ports only", o, 14 + 20 + 4, WANT_PORTS(4, IPPROTO_TCP, 1, 2));
	o.ip_opts = 8;
	check_frame("v4 cut in the options", o, 14 + 24, bad);
	o.vlans = 1;
	check_frame("cut in the tag", o, 16, bad);
	o = (struct frame_opts){ .family = 4, .proto = IPPROTO_ICMP };
	check_frame("v4 icmp, no L4 bytes", o, 14 + 20, WANT_IP(4, IPPROTO_ICMP));
	o.family = 6;
	check_frame("v6 cut in the IP header", o, 14 + 39, bad);
	o = (struct frame_opts){ .family = 6, .proto = IPPROTO_UDP, .hop_by_hop = true };
	check_frame("v6 cut in an ext header", o, 14 + 40 + 7, bad);

	o = (struct frame_opts){ .family = 4, .proto = IPPROTO_TCP };
	len = frame_build(buf, sizeof(buf), &o);
	buf[14] = 0x45 + 0x10; /* version 5 */
	check_parse("v4 version 5", buf, len, bad);
	buf[14] = 0x44; /* ihl 4 */
	check_parse("v4 ihl 4", buf, len, bad);
	o.family = 6;
	len = frame_build(buf, sizeof(buf), &o);
	buf[14] = 0x40;
	check_parse("v6 version 4", buf, len, bad);
}

int main(void)
{
	RUN_TEST(parser_reads_ip_frames);
	RUN_TEST(parser_reads_vlans_and_options);
	RUN_TEST(parser_handles_fragments);
	RUN_TEST(parser_limits_ipv6_extension_headers);
	RUN_TEST(parser_rejects_runts_and_bad_headers);
	return tests_failed_total ? 1 : 0;
}
