// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Unit tier: the field table (common/fields.c) against the ABI and itself:
 * what a new row must get right for the program, the index, the API and the
 * flags to take it. No privileges.
 */
#include <errno.h>
#include <stdlib.h>
#include "common/fields.h"
#include "common/filter.h"
#include "test.h"

static void fields_agree_with_the_abi(void)
{
	const struct xcap_field *fd;
	int id;

	for (id = 0; id < XCAP_FIELD_N; id++) {
		fd = &xcap_fields[id];
		CHECK(fd->flag && fd->member && fd->metavar && fd->help && fd->what,
		      "field %d: a name or a text is missing", id);
		/* The program looks addresses up in the trie by id, the others in xcap_num. */
		CHECK((id < XCAP_FIELD_ADDR_N) == (fd->kind == XCAP_KIND_ADDR),
		      "field %d: address fields take the ids below XCAP_FIELD_ADDR_N", id);
		if (fd->kind == XCAP_KIND_NUM)
			CHECK(fd->bits >= 1 && (1ULL << fd->bits) <= XCAP_NUM_SLICE,
			      "field %d: %u bits do not fit its slice of xcap_num", id, fd->bits);
		else
			CHECK(!fd->bits && !fd->names, "field %d: an address has no bits or names",
			      id);
	}
	CHECK(XCAP_FIELD_N <= 32, "xcap_filter.set and xcap_tuple.has hold 32 fields");
	CHECK_EQ(XCAP_NUM_KEY(XCAP_FIELD_ADDR_N, 0), 0);
	CHECK_EQ(XCAP_NUM_KEY(XCAP_FIELD_N - 1, XCAP_NUM_SLICE - 1), XCAP_NUM_ENTRIES - 1);
}

/*
 * Either-direction rows: two directional fields of their own kind and size,
 * the pairs bpf/match.bpf.h's xcap_value_of looks up, and no index (the
 * recorder summarizes values a frame has, and a frame has none of its own).
 */
static void either_direction_fields_name_their_directions(void)
{
	const struct xcap_field *fd, *d;
	int id, dir, n = 0;

	for (id = 0; id < XCAP_FIELD_N; id++) {
		fd = &xcap_fields[id];
		if (!fd->either) {
			CHECK(xcap_field_value_of(id, 0) == id && xcap_field_value_of(id, 1) == id,
			      "--%s takes its own value", fd->flag);
			continue;
		}
		n++;
		CHECK(fd->dir[0] != fd->dir[1], "--%s: two directions", fd->flag);
		CHECK(fd->index == XCAP_INDEX_NONE, "--%s: an either field is not indexed",
		      fd->flag);
		for (dir = 0; dir < 2; dir++) {
			CHECK(fd->dir[dir] < XCAP_FIELD_N, "--%s: direction %d", fd->flag, dir);
			if (fd->dir[dir] >= XCAP_FIELD_N)
				continue;
			d = &xcap_fields[fd->dir[dir]];
			CHECK(!d->either && d->kind == fd->kind && d->bits == fd->bits,
			      "--%s: direction --%s is not a plain field of its kind", fd->flag,
			      d->flag);
			CHECK_EQ(xcap_field_value_of(id, dir), fd->dir[dir]);
		}
	}
	CHECK_EQ(n, 2);
	/* What the program's xcap_value_of says. */
	CHECK_EQ(xcap_field_value_of(XCAP_FIELD_ADDR, 0), XCAP_FIELD_SADDR);
	CHECK_EQ(xcap_field_value_of(XCAP_FIELD_ADDR, 1), XCAP_FIELD_DADDR);
	CHECK_EQ(xcap_field_value_of(XCAP_FIELD_PORT, 0), XCAP_FIELD_SPORT);
	CHECK_EQ(xcap_field_value_of(XCAP_FIELD_PORT, 1), XCAP_FIELD_DPORT);
}

static void fields_have_unique_names_and_index_tags(void)
{
	const struct xcap_field *a, *b;
	int i, j, bitmaps = 0;

	for (i = 0; i < XCAP_FIELD_N; i++) {
		a = &xcap_fields[i];
		bitmaps += a->index == XCAP_INDEX_BITMAP;
		if (a->index == XCAP_INDEX_BITMAP)
			CHECK(a->kind == XCAP_KIND_NUM && a->bits <= 8,
			      "%s: the index bitmap has 256 bits", a->flag);
		if (a->index == XCAP_INDEX_BLOOM)
			CHECK(a->bloom_tag, "%s: a Bloom field needs a tag", a->flag);
		for (j = i + 1; j < XCAP_FIELD_N; j++) {
			b = &xcap_fields[j];
			CHECK(strcmp(a->flag, b->flag), "flag --%s twice", a->flag);
			CHECK(strcmp(a->member, b->member), "member %s twice", a->member);
			CHECK(a->index != XCAP_INDEX_BLOOM || b->index != XCAP_INDEX_BLOOM ||
				      a->bloom_tag != b->bloom_tag,
			      "%s and %s share Bloom tag %u", a->flag, b->flag, a->bloom_tag);
		}
	}
	CHECK(bitmaps <= 1, "%d fields share the one index bitmap", bitmaps);
}

static void field_names_are_values_of_the_field(void)
{
	const struct xcap_field_name *n;
	struct xcap_value v;
	int id;

	for (id = 0; id < XCAP_FIELD_N; id++) {
		for (n = xcap_fields[id].names; n && n->name; n++) {
			CHECK(n->value <= xcap_field_max(id), "--%s %s: %u is out of range",
			      xcap_fields[id].flag, n->name, n->value);
			CHECK(!xcap_filter_parse_value(id, n->name, &v) && v.num == n->value,
			      "--%s %s does not parse", xcap_fields[id].flag, n->name);
		}
	}
}

/* Every field's canonical text reads back as the same value: what xcapctl sends, the API takes. */
static void field_values_print_and_read_back(void)
{
	static const char *const addrs[] = { "10.1.2.3/8", "0.0.0.0/0", "2001:db8:aa::/48", "::1" };
	struct xcap_value v, back;
	char text[64], max[16];
	const char *sample;
	int id, i;

	for (id = 0; id < XCAP_FIELD_N; id++) {
		snprintf(max, sizeof(max), "%u", xcap_field_max(id));
		for (i = 0; i < 4; i++) {
			if (xcap_fields[id].kind == XCAP_KIND_ADDR)
				sample = addrs[i];
			else
				sample = i == 0 ? "0" : i == 1 ? max : "1";
			if (xcap_filter_parse_value(id, sample, &v)) {
				CHECK(0, "--%s %s does not parse", xcap_fields[id].flag, sample);
				continue;
			}
			xcap_filter_format_value(id, &v, text, sizeof(text));
			CHECK(!xcap_filter_parse_value(id, text, &back) &&
				      xcap_field_covers(id, &v, &back) &&
				      xcap_field_covers(id, &back, &v),
			      "--%s %s prints as %s, which reads back otherwise",
			      xcap_fields[id].flag, sample, text);
		}
		if (xcap_fields[id].kind == XCAP_KIND_NUM) {
			snprintf(max, sizeof(max), "%u", xcap_field_max(id) + 1);
			CHECK(xcap_filter_parse_value(id, max, &v) == -EINVAL, "--%s %s accepted",
			      xcap_fields[id].flag, max);
		}
	}
}

static void prefixes_cover_their_own_family_and_bits(void)
{
	static const struct {
		const char *outer, *inner;
		bool covers;
	} cases[] = {
		{ "10.0.0.0/8", "10.1.0.0/16", true },
		{ "10.1.0.0/16", "10.0.0.0/8", false },
		{ "10.0.0.0/8", "10.255.1.2", true },
		{ "10.0.0.0/8", "11.0.0.1", false },
		{ "198.51.100.0/23", "198.51.101.7", true },
		{ "198.51.100.0/24", "198.51.101.7", false },
		{ "0.0.0.0/0", "255.1.2.3", true },
		{ "0.0.0.0/0", "::1", false },
		{ "::/0", "10.0.0.1", false },
		{ "2001:db8::/121", "2001:db8::7f", true },
		{ "2001:db8::80/121", "2001:db8::7f", false },
		{ "2001:db8::1", "2001:db8::1", true },
	};
	struct xcap_value outer, inner;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK(!xcap_filter_parse_value(XCAP_FIELD_SADDR, cases[i].outer, &outer) &&
			      !xcap_filter_parse_value(XCAP_FIELD_SADDR, cases[i].inner, &inner),
		      "case %zu does not parse", i);
		CHECK(xcap_field_covers(XCAP_FIELD_SADDR, &outer, &inner) == cases[i].covers,
		      "%s covers %s: want %d", cases[i].outer, cases[i].inner, cases[i].covers);
	}
	outer.num = 80;
	inner.num = 80;
	CHECK(xcap_field_covers(XCAP_FIELD_DPORT, &outer, &inner), "80 takes 80");
	inner.num = 81;
	CHECK(!xcap_field_covers(XCAP_FIELD_DPORT, &outer, &inner), "80 takes 81");
}

/* The flags' help lists every field at the column asked for. */
static void field_usage_lists_every_flag(void)
{
	char buf[4096] = "", want[64], *line;
	FILE *f = fmemopen(buf, sizeof(buf) - 1, "w");
	int id;

	CHECK(f, "fmemopen: %s", strerror(errno));
	if (!f)
		return;
	xcap_fields_usage(f, 25);
	fclose(f);
	for (id = 0; id < XCAP_FIELD_N; id++) {
		snprintf(want, sizeof(want), "      --%s %s", xcap_fields[id].flag,
			 xcap_fields[id].metavar);
		line = strstr(buf, want);
		CHECK(line, "no line for --%s", xcap_fields[id].flag);
		if (line)
			CHECK(!strncmp(line + 25, xcap_fields[id].help,
				       strlen(xcap_fields[id].help)),
			      "--%s: the help does not start at column 25", xcap_fields[id].flag);
	}
}

int main(void)
{
	RUN_TEST(fields_agree_with_the_abi);
	RUN_TEST(either_direction_fields_name_their_directions);
	RUN_TEST(fields_have_unique_names_and_index_tags);
	RUN_TEST(field_names_are_values_of_the_field);
	RUN_TEST(field_values_print_and_read_back);
	RUN_TEST(prefixes_cover_their_own_family_and_bits);
	RUN_TEST(field_usage_lists_every_flag);
	return tests_failed_total ? 1 : 0;
}
