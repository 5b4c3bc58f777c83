// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The rule tables of the program: for each field, the set of armed captures
 * that accept a value (hash maps for ports and protocol, LPM tries for
 * prefixes) and the set that accepts any value (the wild_* masks).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "agent/rules.h"

static int map_fd(const struct xcap_rules *r, const char *name)
{
	struct bpf_map *map = bpf_object__find_map_by_name(r->obj, name);

	return map ? bpf_map__fd(map) : -ENOENT;
}

static uint64_t field_mask(const struct xcap_rules *r, int which, int32_t value)
{
	uint64_t mask = 0;
	int i;

	for (i = 0; i < XCAP_MAX_CAPTURES; i++) {
		const struct xcap_filter *f = &r->filter[i];
		int32_t v = which == 0 ? f->sport : which == 1 ? f->dport : f->proto;

		if (r->used[i] && v == value)
			mask |= 1ULL << i;
	}
	return mask;
}

/* Recomputes the accept set of one port or protocol value. */
static int sync_value(struct xcap_rules *r, int which, int32_t value)
{
	static const char *const maps[] = { "xcap_sport", "xcap_dport", "xcap_proto" };
	uint64_t mask;
	uint32_t key;

	if (value < 0)
		return 0;
	key = value;
	mask = field_mask(r, which, value);
	return bpf_map_update_elem(map_fd(r, maps[which]), &key, &mask, BPF_ANY);
}

static bool prefix_covers(const struct xcap_prefix *outer, const struct xcap_prefix *inner)
{
	int full = outer->len / 8, rest = outer->len % 8;

	if (outer->family != inner->family || outer->len > inner->len)
		return false;
	if (memcmp(outer->addr, inner->addr, full))
		return false;
	return !rest || !((outer->addr[full] ^ inner->addr[full]) & (0xff << (8 - rest)));
}

static const struct xcap_prefix *slot_prefix(const struct xcap_rules *r, int i, bool src)
{
	return src ? &r->filter[i].src : &r->filter[i].dst;
}

/* Sets the key of the LPM trie for a prefix; returns the key size. */
static size_t lpm_key(const struct xcap_prefix *p, void *key)
{
	struct xcap_lpm4 *k4 = key;
	struct xcap_lpm6 *k6 = key;

	if (p->family == 4) {
		k4->prefixlen = p->len;
		memcpy(k4->addr, p->addr, 4);
		return sizeof(*k4);
	}
	k6->prefixlen = p->len;
	memcpy(k6->addr, p->addr, 16);
	return sizeof(*k6);
}

/*
 * Rewrites one address trie: each armed prefix maps to every capture whose
 * prefix covers it, since an LPM lookup returns only the longest match. New
 * entries go in before stale ones leave, so no armed capture misses a packet.
 */
static int sync_trie(struct xcap_rules *r, bool src, int family)
{
	char name[16];
	struct xcap_lpm6 key, next, want;
	uint64_t mask;
	int fd, i, j, err = 0;
	bool wanted;

	snprintf(name, sizeof(name), "xcap_%caddr%d", src ? 's' : 'd', family);
	fd = map_fd(r, name);
	for (i = 0; i < XCAP_MAX_CAPTURES && !err; i++) {
		const struct xcap_prefix *p = slot_prefix(r, i, src);

		if (!r->used[i] || p->family != family)
			continue;
		mask = 0;
		for (j = 0; j < XCAP_MAX_CAPTURES; j++)
			if (r->used[j] && prefix_covers(slot_prefix(r, j, src), p))
				mask |= 1ULL << j;
		lpm_key(p, &key);
		err = bpf_map_update_elem(fd, &key, &mask, BPF_ANY);
	}
	/* Deleting the current key would end the walk, so restart after each removal. */
	for (err = err ?: bpf_map_get_next_key(fd, NULL, &key); !err;) {
		wanted = false;
		for (i = 0; i < XCAP_MAX_CAPTURES && !wanted; i++) {
			const struct xcap_prefix *p = slot_prefix(r, i, src);

			wanted = r->used[i] && p->family == family &&
				 !memcmp(&key, &want, lpm_key(p, &want));
		}
		if (!wanted) {
			err = bpf_map_delete_elem(fd, &key);
			if (!err)
				err = bpf_map_get_next_key(fd, NULL, &key);
			continue;
		}
		err = bpf_map_get_next_key(fd, &key, &next);
		key = next;
	}
	return err == -ENOENT ? 0 : err;
}

static uint64_t wild_mask(const struct xcap_rules *r, int field)
{
	uint64_t mask = 0;
	int i;

	for (i = 0; i < XCAP_MAX_CAPTURES; i++) {
		const struct xcap_filter *f = &r->filter[i];
		bool wild = field == 0 ? !f->src.family :
			    field == 1 ? !f->dst.family :
			    field == 2 ? f->sport < 0 :
			    field == 3 ? f->dport < 0 :
					 f->proto < 0;

		if (r->used[i] && wild)
			mask |= 1ULL << i;
	}
	return mask;
}

/* Brings every table in line with the used slots; `f` is the filter that changed. */
static int sync(struct xcap_rules *r, const struct xcap_filter *f)
{
	int err;

	err = sync_value(r, 0, f->sport);
	err = err ?: sync_value(r, 1, f->dport);
	err = err ?: sync_value(r, 2, f->proto);
	if (!err && f->src.family)
		err = sync_trie(r, true, f->src.family);
	if (!err && f->dst.family)
		err = sync_trie(r, false, f->dst.family);
	if (err)
		return err;
	r->cfg->wild_saddr = wild_mask(r, 0);
	r->cfg->wild_daddr = wild_mask(r, 1);
	r->cfg->wild_sport = wild_mask(r, 2);
	r->cfg->wild_dport = wild_mask(r, 3);
	r->cfg->wild_proto = wild_mask(r, 4);
	return 0;
}

int xcap_rules_add(struct xcap_rules *r, int slot, const struct xcap_filter *f)
{
	int err;

	r->filter[slot] = *f;
	r->used[slot] = true;
	err = sync(r, f);
	if (err) {
		r->used[slot] = false;
		sync(r, f);
	}
	return err;
}

int xcap_rules_remove(struct xcap_rules *r, int slot)
{
	r->used[slot] = false;
	return sync(r, &r->filter[slot]);
}
