/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Rule tables: turns the filters of the armed captures into the per-field
 * accept sets the program looks up. New entries go in before stale ones
 * leave, so an armed capture never misses a packet while another changes.
 */
#ifndef XCAP_RULES_H
#define XCAP_RULES_H

#include <stdbool.h>
#include "common/filter.h"
#include "xcap_abi.h"

struct bpf_object;

struct xcap_rules {
	struct bpf_object *obj; /* the loaded program's maps */
	struct xcap_cfg *cfg; /* mmap of the xcap_cfg map: the wild masks */
	bool used[XCAP_MAX_CAPTURES];
	struct xcap_filter filter[XCAP_MAX_CAPTURES];
};

/* Puts the filter of `slot` into the tables (the slot must be free). */
int xcap_rules_add(struct xcap_rules *r, int slot, const struct xcap_filter *f);
/* Takes the filter of `slot` out of the tables. */
int xcap_rules_remove(struct xcap_rules *r, int slot);

#endif /* XCAP_RULES_H */
