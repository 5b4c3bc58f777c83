/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A capture's filter: a value for each field it restricts (the fields are the
 * table of fields.h). Read from flag text (xcapd capture, xcapctl) or from
 * the API's filter_v1, written back as canonical JSON, and matched against a
 * frame's fields as the XDP program matches them.
 */
#ifndef XCAP_FILTER_H
#define XCAP_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <net/if.h>
#include "common/fields.h"
#include "common/util.h"

struct json_object;
struct xcap_tuple;
struct xcap_frame;

/* The levels of a frame (XCAP_LEVEL_*) at which a filter matches: the API's `tunnel`. */
enum xcap_tunnel {
	XCAP_TUNNEL_ANY, /* the outer headers, or those of the packet inside a tunnel */
	XCAP_TUNNEL_OUTER, /* the outer headers only: a tunnel is not looked into */
	XCAP_TUNNEL_INNER, /* the packet inside a tunnel only: frames without one never match */
	XCAP_TUNNEL_N,
};

struct xcap_filter {
	uint32_t
		set; /* bit (1 << id): the filter restricts field id to v[id]; 0 takes every frame */
	/* bit (1 << XCAP_DIR_*): the directions taken (received, sent); 0 takes both */
	uint32_t dirs;
	struct xcap_value v[XCAP_FIELD_N];
	/*
	 * The interfaces taken, by name (the extension `interfaces`); 0 takes
	 * every interface. A host that has none of them takes nothing.
	 */
	uint32_t n_ifaces;
	char ifaces[XCAP_MAX_IFACES][IF_NAMESIZE];
	enum xcap_tunnel tunnel; /* XCAP_TUNNEL_ANY unless set */
};

/* True when f takes packets of direction dir (XCAP_DIR_*). */
static inline bool xcap_filter_takes_dir(const struct xcap_filter *f, int dir)
{
	return !f->dirs || (f->dirs & (1U << dir));
}

/* "in", "out" or "inout" (tcpdump's -Q) as a filter's dirs. Returns 0 or -EINVAL. */
int xcap_filter_parse_dirs(const char *s, uint32_t *dirs);
/* The name of a filter's dirs: "in", "out" or "inout" (both, and 0). */
const char *xcap_filter_dirs_name(uint32_t dirs);

/* 1..15 characters without '/', ':', ',' or white space (',' separates them in records). */
bool xcap_filter_valid_ifname(const char *s);
/*
 * Restricts f to one more interface (a name taken twice counts once).
 * Returns 0, -EINVAL (not an interface name) or -E2BIG (XCAP_MAX_IFACES already).
 */
int xcap_filter_add_iface(struct xcap_filter *f, const char *name);
/* The interfaces as "eth0,eth1" ("" for every interface), as records keep them. */
void xcap_filter_format_ifaces(const struct xcap_filter *f, char *buf, size_t size);
/* Adds the interfaces of s, as xcap_filter_format_ifaces writes them, to f. 0, -EINVAL or -E2BIG. */
int xcap_filter_parse_ifaces(struct xcap_filter *f, const char *s);
/*
 * The indexes of f's interfaces that this host (its network namespace) has;
 * returns how many (names it lacks are left out). f must restrict interfaces.
 */
int xcap_filter_ifindexes(const struct xcap_filter *f, uint32_t ifindexes[XCAP_MAX_IFACES]);

/* A filter that accepts every packet. */
void xcap_filter_init(struct xcap_filter *f);
/* "ADDR" or "ADDR/LEN", IPv4 or IPv6. Returns 0 or -EINVAL. */
int xcap_filter_parse_prefix(const char *s, struct xcap_prefix *out);
/* A decimal number in [min, max], nothing else. Returns 0 or -EINVAL. */
int xcap_filter_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* Writes "ADDR/LEN" (or "ADDR" for a host prefix) into buf. */
void xcap_filter_format_prefix(const struct xcap_prefix *p, char *buf, size_t size);

/* A value of field id as a flag gives it (a prefix; a number or a name). 0 or -EINVAL. */
int xcap_filter_parse_value(int id, const char *s, struct xcap_value *v);
/* Restricts field id of f to the value that text s gives. 0 or -EINVAL (f unchanged). */
int xcap_filter_set(struct xcap_filter *f, int id, const char *s);
void xcap_filter_set_value(struct xcap_filter *f, int id, const struct xcap_value *v);
void xcap_filter_set_num(struct xcap_filter *f, int id, uint32_t num);

/* Writes a value as the flags take it ("10.0.0.0/8", "443"; a name as its number). */
void xcap_filter_format_value(int id, const struct xcap_value *v, char *buf, size_t size);
/* The canonical JSON of a value (a number, or a prefix with its host bits cleared). */
struct json_object *xcap_filter_value_json(int id, const struct xcap_value *v);
/* filter_v1 as canonical JSON: a member per restricted field, in field order. */
struct json_object *xcap_filter_to_json(const struct xcap_filter *f);

/* Why filter_v1 was refused, for the API to answer with its error table. */
enum xcap_filter_error_kind {
	XCAP_FILTER_ETYPE, /* "<member> must be <want>" */
	XCAP_FILTER_ERANGE, /* "<member> must be between <min> and <max>" */
	XCAP_FILTER_EADDRESS, /* "<member> must be an IPv4 or IPv6 address or prefix" */
	XCAP_FILTER_EFAMILY, /* "<member> must be <want>": another address is of the other family */
};

struct xcap_filter_error {
	enum xcap_filter_error_kind kind;
	char pointer[64]; /* JSON pointer of the member: "/filter_v1/source_port" */
	const char *member; /* "source_port", or "filter_v1" when it is not an object */
	const char *want;
	long long min, max;
	char text[96]; /* where `want` points when it is made up for the case */
};

/*
 * Reads filter_v1 (NULL: absent, a filter naming nothing) into f, and its
 * canonical JSON into canon. Returns 0, or -EINVAL with *e saying why.
 */
int xcap_filter_from_json(struct xcap_filter *f, struct json_object *filter_v1, char *canon,
			  size_t size, struct xcap_filter_error *e);

/* True when f accepts t, as the XDP program's matcher decides (one level; f->tunnel aside). */
bool xcap_filter_match(const struct xcap_filter *f, const struct xcap_tuple *t);

/* Tunnels: the levels of a filter and the frames it takes. */
/* "any", "outer" or "inner" into *out; 0 or -EINVAL. */
int xcap_filter_parse_tunnel(const char *s, enum xcap_tunnel *out);
const char *xcap_filter_tunnel_name(enum xcap_tunnel t);
/* True when f matches at level l (XCAP_LEVEL_*). */
bool xcap_filter_at_level(const struct xcap_filter *f, int level);
/*
 * True when f accepts the frame at one of its levels, as the XDP program
 * decides: the whole filter at the outer level or the whole filter at the
 * inner one, among the levels f->tunnel names and the frame has.
 */
bool xcap_filter_match_frame(const struct xcap_filter *f, const struct xcap_frame *fr);

/*
 * True when two address fields of f are of different families, which no
 * packet can match (it has one family): *a and *b are the first such pair of
 * ids, a < b.
 */
bool xcap_filter_mixed_families(const struct xcap_filter *f, int *a, int *b);

/*
 * A filter put together from flags (xcapd capture, xcapctl create) and a
 * filter expression, with the text that set each field ("--dport 80", "dst
 * port 80"), so that a message names what the user wrote (filter_expr.c).
 */
struct xcap_filter_build {
	struct xcap_filter f;
	uint8_t family; /* 4 or 6 once `ip` or `ip6` is given; 0 = any */
	char family_part[16];
	char part[XCAP_FIELD_N][96];
};

void xcap_filter_build_init(struct xcap_filter_build *b);
/*
 * Restricts field id to v, as `part` says. Returns 0, or -EINVAL with a
 * message in err when the field is restricted to another value already.
 */
int xcap_filter_build_add(struct xcap_filter_build *b, int id, const struct xcap_value *v,
			  const char *part, char *err, size_t size);
/*
 * Adds a filter expression: the subset of tcpdump's language that maps onto
 * the fields, `words` joined with spaces (see XCAP_FILTER_EXPR_HELP). Returns
 * 0, or -EINVAL with a message in err naming the part that cannot be done.
 */
int xcap_filter_build_expr(struct xcap_filter_build *b, char *const *words, int n, char *err,
			   size_t size);
/*
 * Ends the build: refuses address families that no packet can have together,
 * and turns `ip` or `ip6` without an address into a source prefix of length
 * 0. Returns 0 (b->f is the filter), or -EINVAL with a message in err.
 */
int xcap_filter_build_done(struct xcap_filter_build *b, char *err, size_t size);
/* The filter as an expression that xcap_filter_build_expr reads back ("" for none). */
void xcap_filter_format_expr(const struct xcap_filter *f, char *buf, size_t size);

/* What an expression may hold, for help texts (lines indented by two spaces). */
#define XCAP_FILTER_EXPR_HELP                                                           \
	"  [src|dst] host ADDR[/LEN]   [src|dst] net NET[/LEN]   [src|dst] port PORT\n" \
	"  tcp  udp  icmp  icmp6  sctp  [ip|ip6] proto N   ip  ip6\n"                   \
	"  joined with 'and'; host and port take either direction, as in tcpdump\n"

#endif /* XCAP_FILTER_H */
