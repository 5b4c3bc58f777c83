/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The one table of filter fields. Every part of xcap that knows a field reads
 * it here: the rule sync (agent/rules.c), the reference matcher (filter.c),
 * the recorder's index, the API's filter_v1 and the flags of xcapd capture and
 * xcapctl create. Adding a field is its id in include/xcap_abi.h, its row
 * below, and its parsing in bpf/parse.bpf.h (and in frame.c, the reference
 * the packet fuzzer holds the kernel to). An either-direction field parses
 * nothing: its row names the source and destination fields whose values it
 * takes, as xcap_value_of in bpf/match.bpf.h does for the program.
 */
#ifndef XCAP_FIELDS_H
#define XCAP_FIELDS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "xcap_abi.h"

/* An address prefix; the address of a frame is a prefix of full length. */
struct xcap_prefix {
	uint8_t family; /* 4 or 6; 0 = no address */
	uint8_t len; /* prefix length in bits */
	uint8_t addr[16]; /* network byte order, host bits cleared */
};

/* A value of one field, in a filter or in a frame. */
struct xcap_value {
	uint32_t num; /* number fields */
	struct xcap_prefix prefix; /* address fields */
};

/* What a field holds; it decides the rule table of the program and the syntax. */
enum xcap_field_kind {
	XCAP_KIND_ADDR, /* an IPv4 or IPv6 prefix: the "xcap_addr" trie; ids below XCAP_FIELD_ADDR_N */
	XCAP_KIND_NUM, /* a number of `bits` bits: its slice of the "xcap_num" array */
};

/*
 * How the recorder's index summarizes a field. Part of its file format: a
 * change to an indexed field (or a new indexed one) needs a new IDX_VERSION
 * in agent/recorder.c, or older indexes would answer "no sample" for it.
 */
enum xcap_field_index {
	XCAP_INDEX_NONE, /* not summarized: a query on it reads every segment */
	XCAP_INDEX_BITMAP, /* the index's one 256-bit bitmap (a field of 8 bits) */
	XCAP_INDEX_BLOOM, /* keys tagged bloom_tag in the Bloom filter */
};

/* A name that the flags take for a value ("tcp" for protocol 6). */
struct xcap_field_name {
	const char *name;
	uint32_t value;
};

struct xcap_field {
	const char *flag; /* "sport": --sport of xcapd capture and xcapctl create */
	const char *member; /* "source_port": its member of the API's filter_v1 */
	enum xcap_field_kind kind;
	uint8_t bits; /* number fields: values are 0 .. 2^bits - 1, bits <= 16 */
	const struct xcap_field_name *names; /* number fields: NULL or {NULL}-terminated */
	enum xcap_field_index index;
	uint8_t bloom_tag; /* XCAP_INDEX_BLOOM: the key tag, unique, never reused */
	const char *metavar; /* "PORT": the flag's value in help texts */
	const char *help; /* what the flag selects, for help texts */
	const char *what; /* what a good flag value is, for error messages */
	/*
	 * Either-direction fields (XCAP_FIELD_ADDR, XCAP_FIELD_PORT): a frame's
	 * value is its source's or its destination's, the fields dir names;
	 * the filter takes the frame when it covers either.
	 */
	bool either;
	uint8_t dir[2];
};

/* Indexed by field id (XCAP_FIELD_*). */
extern const struct xcap_field xcap_fields[XCAP_FIELD_N];

/*
 * The field whose value in a frame field id is matched against: id itself, or
 * for an either-direction field the source's (dir 0) or destination's (dir 1).
 */
int xcap_field_value_of(int id, int dir);
/* The largest value of number field id. */
uint32_t xcap_field_max(int id);
/*
 * True when `rule` (a filter's value of field id) takes `v`: the same number,
 * or a prefix of the same family whose bits v shares. v may be a frame's
 * address or another prefix: a /8 covers the /16s inside it.
 */
bool xcap_field_covers(int id, const struct xcap_value *rule, const struct xcap_value *v);
/* Prints one help line per field flag, the text of each starting at `column`. */
void xcap_fields_usage(FILE *out, int column);

#endif /* XCAP_FIELDS_H */
