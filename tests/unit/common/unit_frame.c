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

/* --- tunnels and L3 frames: the levels of xcap_frame_parse_levels --- */

struct want_levels {
	enum xcap_encap encap;
	bool inner, tunnel_err;
	int outer_proto; /* the outer level's protocol, -1 when it has none */
	int family, proto, sport, dport; /* the inner level's (family 0: no address) */
};

static void check_levels(const char *what, const uint8_t *buf, size_t len, uint32_t flags,
			 const struct want_levels *w)
{
	const struct xcap_tuple *in;
	struct xcap_frame fr;
	int rc;

	memset(&fr, 0x55, sizeof(fr));
	rc = xcap_frame_parse_levels(buf, len, flags, &fr);
	in = &fr.lvl[XCAP_LEVEL_INNER];
	CHECK(!rc, "%s: rc %d", what, rc);
	CHECK(fr.encap == w->encap, "%s: encap %d, want %d", what, fr.encap, w->encap);
	CHECK(fr.inner == w->inner && fr.tunnel_err == w->tunnel_err,
	      "%s: inner %d tunnel_err %d, want %d %d", what, fr.inner, fr.tunnel_err, w->inner,
	      w->tunnel_err);
	CHECK(num(&fr.lvl[XCAP_LEVEL_OUTER], XCAP_FIELD_PROTO) == w->outer_proto,
	      "%s: outer proto %d, want %d", what, num(&fr.lvl[XCAP_LEVEL_OUTER], XCAP_FIELD_PROTO),
	      w->outer_proto);
	CHECK(family_of(in) == w->family, "%s: inner family %d, want %d", what, family_of(in),
	      w->family);
	CHECK(num(in, XCAP_FIELD_PROTO) == (w->family ? w->proto : -1) &&
		      num(in, XCAP_FIELD_SPORT) == w->sport &&
		      num(in, XCAP_FIELD_DPORT) == w->dport,
	      "%s: inner proto %d ports %d > %d, want %d %d > %d", what, num(in, XCAP_FIELD_PROTO),
	      num(in, XCAP_FIELD_SPORT), num(in, XCAP_FIELD_DPORT), w->proto, w->sport, w->dport);
	if (!w->inner) {
		static const struct xcap_tuple zero;

		CHECK(!memcmp(in, &zero, sizeof(*in)), "%s: inner level without a tunnel", what);
	}
}

static void check_tunnel(const char *what, const struct tunnel_opts *t, const struct want_levels *w)
{
	uint8_t buf[1024];
	size_t len = frame_build_tunnel(buf, sizeof(buf), t);

	CHECK(len, "%s: cannot build", what);
	check_levels(what, buf, len, t->outer.l3 ? XCAP_REC_L3 : 0, w);
}

#define TCP_IN4                                                                          \
	{                                                                                \
		.family = 4, .src = "10.9.0.1", .dst = "10.9.0.2", .proto = IPPROTO_TCP, \
		.sport = 1111, .dport = 443                                              \
	}
#define UDP_IN6                                                               \
	{                                                                     \
		.family = 6, .proto = IPPROTO_UDP, .sport = 2222, .dport = 53 \
	}
#define IN_TCP4(enc, outer) \
	(&(struct want_levels){ enc, true, false, outer, 4, IPPROTO_TCP, 1111, 443 })
#define IN_UDP6(enc, outer) \
	(&(struct want_levels){ enc, true, false, outer, 6, IPPROTO_UDP, 2222, 53 })
#define TUNNEL_ERR(enc, outer) (&(struct want_levels){ enc, false, true, outer, 0, 0, -1, -1 })
#define NO_TUNNEL(enc, outer) (&(struct want_levels){ enc, false, false, outer, 0, 0, -1, -1 })

static void parser_reads_every_encapsulation(void)
{
	struct tunnel_opts t = { .outer = { .family = 4 }, .inner = TCP_IN4 };
	int o4 = IPPROTO_UDP;

	t.encap = FRAME_IPIP;
	check_tunnel("v4 in v4", &t, IN_TCP4(XCAP_ENCAP_IPIP, IPPROTO_IPIP));
	t.inner = (struct frame_opts)UDP_IN6;
	check_tunnel("v6 in v4 (sit)", &t, IN_UDP6(XCAP_ENCAP_IPIP, IPPROTO_IPV6));
	t.outer.family = 6;
	check_tunnel("v6 in v6", &t, IN_UDP6(XCAP_ENCAP_IPIP, IPPROTO_IPV6));
	t.inner = (struct frame_opts)TCP_IN4;
	check_tunnel("v4 in v6", &t, IN_TCP4(XCAP_ENCAP_IPIP, IPPROTO_IPIP));
	t.outer.hop_by_hop = true;
	check_tunnel("v4 in v6 after hop-by-hop", &t, IN_TCP4(XCAP_ENCAP_IPIP, IPPROTO_IPIP));

	t = (struct tunnel_opts){ .encap = FRAME_GRE, .outer = { .family = 4 }, .inner = TCP_IN4 };
	check_tunnel("gre v4 in v4", &t, IN_TCP4(XCAP_ENCAP_GRE, IPPROTO_GRE));
	t.gre_csum = t.gre_key = t.gre_seq = true;
	check_tunnel("gre checksum, key, sequence", &t, IN_TCP4(XCAP_ENCAP_GRE, IPPROTO_GRE));
	t.gre_csum = t.gre_seq = false;
	t.outer.vlans = 2;
	t.inner = (struct frame_opts)UDP_IN6;
	check_tunnel("gre key, v6 inside, outer QinQ", &t, IN_UDP6(XCAP_ENCAP_GRE, IPPROTO_GRE));
	t.inner_eth = true;
	t.inner.vlans = 1;
	check_tunnel("gre ethernet (0x6558) with a tag", &t, IN_UDP6(XCAP_ENCAP_GRE, IPPROTO_GRE));
	t.outer = (struct frame_opts){ .family = 6, .dest_opts = true };
	check_tunnel("gre ethernet in v6", &t, IN_UDP6(XCAP_ENCAP_GRE, IPPROTO_GRE));

	t = (struct tunnel_opts){ .encap = FRAME_VXLAN,
				  .outer = { .family = 4 },
				  .inner = TCP_IN4 };
	check_tunnel("vxlan v4", &t, IN_TCP4(XCAP_ENCAP_VXLAN, o4));
	t.outer.family = 6;
	t.inner = (struct frame_opts)UDP_IN6;
	t.inner.vlans = 2;
	check_tunnel("vxlan in v6, QinQ inside", &t, IN_UDP6(XCAP_ENCAP_VXLAN, o4));
	t.inner = (struct frame_opts){ .family = 0 };
	check_tunnel("vxlan carrying arp: an inner level without fields", &t,
		     &(struct want_levels){ XCAP_ENCAP_VXLAN, true, false, o4, 0, 0, -1, -1 });

	t = (struct tunnel_opts){ .encap = FRAME_GENEVE,
				  .outer = { .family = 4 },
				  .inner = TCP_IN4 };
	check_tunnel("geneve ip", &t, IN_TCP4(XCAP_ENCAP_GENEVE, o4));
	t.opt_words = 63;
	check_tunnel("geneve 252 bytes of options", &t, IN_TCP4(XCAP_ENCAP_GENEVE, o4));
	t.opt_words = 3;
	t.inner_eth = true;
	t.outer.family = 6;
	check_tunnel("geneve ethernet with options in v6", &t, IN_TCP4(XCAP_ENCAP_GENEVE, o4));
}

static void parser_counts_malformed_tunnels(void)
{
	struct tunnel_opts t = { .encap = FRAME_GRE, .outer = { .family = 4 }, .inner = TCP_IN4 };
	int gre = IPPROTO_GRE, udp = IPPROTO_UDP;
	uint8_t buf[512];
	size_t len;

	/* The outer level stays: only the inner one is lost. */
	t.len = 14 + 20 + 3;
	check_tunnel("gre header cut", &t, TUNNEL_ERR(XCAP_ENCAP_GRE, gre));
	t.len = 14 + 20 + 4 + 8 + 3;
	t.gre_key = t.gre_seq = true;
	check_tunnel("gre sequence field cut", &t, TUNNEL_ERR(XCAP_ENCAP_GRE, gre));
	t.len = 14 + 20 + 4 + 8 + 19;
	check_tunnel("inner v4 header cut", &t, TUNNEL_ERR(XCAP_ENCAP_GRE, gre));
	t.len = 14 + 20 + 4 + 8 + 20 + 3;
	check_tunnel("inner ports cut", &t, TUNNEL_ERR(XCAP_ENCAP_GRE, gre));
	t.len = 0;
	t.gre_flags = 0x4000;
	check_tunnel("gre routing bit", &t, TUNNEL_ERR(XCAP_ENCAP_GRE, gre));
	t.gre_flags = 1;
	check_tunnel("gre version 1 (pptp): not looked into", &t, NO_TUNNEL(XCAP_ENCAP_GRE, gre));
	t.gre_flags = 0;
	t.gre_key = t.gre_seq = false;
	len = frame_build_tunnel(buf, sizeof(buf), &t);
	buf[14 + 20 + 2] = 0x88; /* protocol type 0x88be (ERSPAN) */
	buf[14 + 20 + 3] = 0xbe;
	check_levels("gre erspan: not looked into", buf, len, 0, NO_TUNNEL(XCAP_ENCAP_GRE, gre));
	buf[14 + 20 + 2] = 0x08;
	buf[14 + 20 + 3] = 0x00;
	buf[14 + 20 + 4] = 0x65; /* the inner packet is not version 4 */
	check_levels("gre inner version 6 under 0x0800", buf, len, 0,
		     TUNNEL_ERR(XCAP_ENCAP_GRE, gre));

	t = (struct tunnel_opts){ .encap = FRAME_VXLAN,
				  .outer = { .family = 4 },
				  .inner = TCP_IN4 };
	t.vxlan_flags = 0x04;
	check_tunnel("vxlan without the I flag", &t, TUNNEL_ERR(XCAP_ENCAP_VXLAN, udp));
	t.vxlan_flags = 0;
	t.len = 14 + 20 + 8 + 7;
	check_tunnel("vxlan header cut", &t, TUNNEL_ERR(XCAP_ENCAP_VXLAN, udp));
	t.len = 14 + 20 + 8 + 8 + 13;
	check_tunnel("vxlan inner ethernet cut", &t, TUNNEL_ERR(XCAP_ENCAP_VXLAN, udp));
	t.len = 14 + 20 + 6;
	check_tunnel("udp header cut before vxlan", &t, TUNNEL_ERR(XCAP_ENCAP_VXLAN, udp));

	t = (struct tunnel_opts){ .encap = FRAME_GENEVE,
				  .outer = { .family = 4 },
				  .inner = TCP_IN4 };
	t.geneve_ver = 1;
	check_tunnel("geneve version 1", &t, TUNNEL_ERR(XCAP_ENCAP_GENEVE, udp));
	t.geneve_ver = 0;
	t.opt_words = 10;
	t.len = 14 + 20 + 8 + 8 + 39;
	check_tunnel("geneve options cut", &t, TUNNEL_ERR(XCAP_ENCAP_GENEVE, udp));

	t = (struct tunnel_opts){ .encap = FRAME_IPIP, .outer = { .family = 6 }, .inner = TCP_IN4 };
	t.len = 14 + 40 + 10;
	check_tunnel("v4 in v6 cut", &t, TUNNEL_ERR(XCAP_ENCAP_IPIP, IPPROTO_IPIP));
}

static void parser_follows_the_configured_udp_ports(void)
{
	struct tunnel_opts t = { .encap = FRAME_VXLAN, .outer = { .family = 4 }, .inner = TCP_IN4 };
	int udp = IPPROTO_UDP;

	t.port = 8472;
	check_tunnel("vxlan to 8472, default ports", &t, NO_TUNNEL(XCAP_ENCAP_NONE, udp));
	xcap_frame_set_udp_ports(8472, 0);
	check_tunnel("vxlan to 8472, vxlan_port 8472", &t, IN_TCP4(XCAP_ENCAP_VXLAN, udp));
	t.encap = FRAME_GENEVE;
	t.port = 0;
	check_tunnel("geneve to 6081, geneve_port 0", &t, NO_TUNNEL(XCAP_ENCAP_NONE, udp));
	xcap_frame_set_udp_ports(XCAP_VXLAN_PORT, XCAP_GENEVE_PORT);
	check_tunnel("geneve to 6081, defaults again", &t, IN_TCP4(XCAP_ENCAP_GENEVE, udp));
}

static void parser_reads_l3_frames_from_the_ip_header(void)
{
	struct frame_opts o = {
		.family = 4, .proto = IPPROTO_TCP, .sport = 5, .dport = 6, .l3 = true
	};
	struct tunnel_opts t = { .encap = FRAME_GRE,
				 .outer = { .family = 4, .l3 = true },
				 .inner = TCP_IN4 };
	uint8_t buf[256];
	size_t len;

	len = frame_build(buf, sizeof(buf), &o);
	check_levels(
		"l3 v4 tcp", buf, len, XCAP_REC_L3,
		&(struct want_levels){ XCAP_ENCAP_NONE, false, false, IPPROTO_TCP, 0, 0, -1, -1 });
	/* Read as Ethernet, the same bytes are something else. */
	CHECK(xcap_frame_parse(buf, len, &(struct xcap_tuple){}) == 0, "l3 frame as ethernet");
	o.family = 6;
	len = frame_build(buf, sizeof(buf), &o);
	check_levels(
		"l3 v6 tcp", buf, len, XCAP_REC_L3,
		&(struct want_levels){ XCAP_ENCAP_NONE, false, false, IPPROTO_TCP, 0, 0, -1, -1 });
	buf[0] = 0x20;
	check_levels("l3 version 2: not IP", buf, len, XCAP_REC_L3,
		     &(struct want_levels){ XCAP_ENCAP_NONE, false, false, -1, 0, 0, -1, -1 });
	CHECK(xcap_frame_parse_levels(buf, 0, XCAP_REC_L3, &(struct xcap_frame){}) == -EINVAL,
	      "an empty l3 frame is an error");
	/* A gre device without a remote hands XDP the outer IP and GRE headers too. */
	check_tunnel("l3 gre as an nbma gre device shows it", &t,
		     IN_TCP4(XCAP_ENCAP_GRE, IPPROTO_GRE));
}

int main(void)
{
	RUN_TEST(parser_reads_ip_frames);
	RUN_TEST(parser_reads_vlans_and_options);
	RUN_TEST(parser_handles_fragments);
	RUN_TEST(parser_limits_ipv6_extension_headers);
	RUN_TEST(parser_rejects_runts_and_bad_headers);
	RUN_TEST(parser_reads_every_encapsulation);
	RUN_TEST(parser_counts_malformed_tunnels);
	RUN_TEST(parser_follows_the_configured_udp_ports);
	RUN_TEST(parser_reads_l3_frames_from_the_ip_header);
	return tests_failed_total ? 1 : 0;
}
