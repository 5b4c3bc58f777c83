// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The rule tables of the program (bpf/maps.bpf.h), field by field from the
 * field table: for a number field, the set of armed captures that accept each
 * value (its slice of "xcap_num"); for an address field, the set under each
 * armed prefix (the "xcap_addr" trie); for every field, the set that accepts
 * any value (xcap_cfg.wild); for each direction, the set that takes it
 * (xcap_cfg.dir); for each level of a frame, the set that matches there
 * (xcap_cfg.level); for each interface slot, the set restricted to interfaces
 * that include it, and the set that takes every interface (xcap_cfg.iface).
 */
#include <errno.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "agent/rules.h"

static int map_fd(const struct xcap_rules *r, const char *name)
{
	struct bpf_map *map = bpf_object__find_map_by_name(r->obj, name);

	return map ? bpf_map__fd(map) : -ENOENT;
}

static bool restricts(const struct xcap_rules *r, int slot, int id)
{
	return r->used[slot] && (r->filter[slot].set & (1U << id));
}

/* The armed captures whose rule for field id takes v: a number, or a prefix they cover. */
static uint64_t accept_mask(const struct xcap_rules *r, int id, const struct xcap_value *v)
{
	uint64_t mask = 0;
	int i;

	for (i = 0; i < XCAP_MAX_CAPTURES; i++)
		if (restricts(r, i, id) && xcap_field_covers(id, &r->filter[i].v[id], v))
			mask |= 1ULL << i;
	return mask;
}

/* Recomputes the accept set of one value of a number field. */
static int sync_num(struct xcap_rules *r, int id, const struct xcap_value *v)
{
	uint32_t key = XCAP_NUM_KEY(id, v->num);
	uint64_t mask = accept_mask(r, id, v);

	return bpf_map_update_elem(map_fd(r, "xcap_num"), &key, &mask, BPF_ANY);
}

static void lpm_key(int id, const struct xcap_prefix *p, struct xcap_lpm *key)
{
	memset(key, 0, sizeof(*key));
	key->prefixlen = XCAP_LPM_LEAD_BITS + p->len;
	key->field = id;
	key->family = p->family;
	memcpy(key->addr, p->addr, p->family == 4 ? 4 : 16);
}

/* True when an armed capture's prefix has this key. */
static bool lpm_wanted(const struct xcap_rules *r, const struct xcap_lpm *key)
{
	struct xcap_lpm want;
	int i, id;

	for (i = 0; i < XCAP_MAX_CAPTURES; i++) {
		for (id = 0; id < XCAP_FIELD_ADDR_N; id++) {
			if (!restricts(r, i, id))
				continue;
			lpm_key(id, &r->filter[i].v[id].prefix, &want);
			if (!memcmp(key, &want, sizeof(want)))
				return true;
		}
	}
	return false;
}

/*
 * Rewrites the address trie: each armed prefix maps to every capture whose
 * prefix covers it, since an LPM lookup returns only the longest match. New
 * entries go in before stale ones leave, so no armed capture misses a packet.
 */
static int sync_addr(struct xcap_rules *r)
{
	int fd = map_fd(r, "xcap_addr"), i, id, err = 0;
	struct xcap_lpm key, next;
	uint64_t mask;

	for (i = 0; i < XCAP_MAX_CAPTURES && !err; i++) {
		for (id = 0; id < XCAP_FIELD_ADDR_N && !err; id++) {
			if (!restricts(r, i, id))
				continue;
			mask = accept_mask(r, id, &r->filter[i].v[id]);
			lpm_key(id, &r->filter[i].v[id].prefix, &key);
			err = bpf_map_update_elem(fd, &key, &mask, BPF_ANY);
		}
	}
	/* Deleting the current key would end the walk, so restart after each removal. */
	for (err = err ?: bpf_map_get_next_key(fd, NULL, &key); !err;) {
		if (!lpm_wanted(r, &key)) {
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

/*
 * The interface sets: a capture restricted to interfaces is in the set of the
 * slot of each one the program is attached to (the others match nothing here).
 */
static void sync_ifaces(struct xcap_rules *r)
{
	uint64_t any = 0, by_slot[XCAP_IFACE_SLOTS] = {};
	uint32_t ifindexes[XCAP_MAX_IFACES], slot;
	int fd = map_fd(r, "xcap_ifslot"), i, k, n;

	for (i = 0; i < XCAP_MAX_CAPTURES; i++) {
		if (!r->used[i])
			continue;
		if (!r->filter[i].n_ifaces) {
			any |= 1ULL << i;
			continue;
		}
		n = xcap_filter_ifindexes(&r->filter[i], ifindexes);
		for (k = 0; k < n; k++)
			if (!bpf_map_lookup_elem(fd, &ifindexes[k], &slot) &&
			    slot < XCAP_IFACE_SLOTS)
				by_slot[slot] |= 1ULL << i;
	}
	for (i = 0; i < XCAP_IFACE_SLOTS; i++)
		r->cfg->iface[i] = by_slot[i];
	r->cfg->iface_any = any;
}

/* The used slots whose filter `takes` k: a direction (XCAP_DIR_*), a level (XCAP_LEVEL_*). */
static uint64_t slots_taking(const struct xcap_rules *r,
			     bool (*takes)(const struct xcap_filter *f, int k), int k)
{
	uint64_t set = 0;
	int i;

	for (i = 0; i < XCAP_MAX_CAPTURES; i++)
		if (r->used[i] && takes(&r->filter[i], k))
			set |= 1ULL << i;
	return set;
}

/* Brings every table in line with the used slots; `f` is the filter that changed. */
static int sync(struct xcap_rules *r, const struct xcap_filter *f)
{
	bool addr = false;
	uint64_t wild;
	int err = 0, id, i;

	for (id = 0; id < XCAP_FIELD_N && !err; id++) {
		if (!(f->set & (1U << id)))
			continue;
		if (xcap_fields[id].kind == XCAP_KIND_ADDR)
			addr = true;
		else
			err = sync_num(r, id, &f->v[id]);
	}
	if (!err && addr)
		err = sync_addr(r);
	if (err)
		return err;
	for (id = 0; id < XCAP_FIELD_N; id++) {
		wild = 0;
		for (i = 0; i < XCAP_MAX_CAPTURES; i++)
			if (r->used[i] && !restricts(r, i, id))
				wild |= 1ULL << i;
		r->cfg->wild[id] = wild;
	}
	for (id = 0; id < XCAP_DIR_N; id++)
		r->cfg->dir[id] = slots_taking(r, xcap_filter_takes_dir, id);
	for (id = 0; id < XCAP_LEVEL_N; id++)
		r->cfg->level[id] = slots_taking(r, xcap_filter_at_level, id);
	sync_ifaces(r);
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
