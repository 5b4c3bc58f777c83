// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The one object xcapd loads (build/xcap.bpf.o, skeleton xcap_bpf): both entry
 * points in one compilation unit, so that they share every map of
 * maps.bpf.h (rules, budgets, counters, rings) rather than each having its own.
 */
#include "xdp.bpf.c"
#include "tc.bpf.c"

char LICENSE[] SEC("license") = "Dual BSD/GPL";
