/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Kernel features, probed once at start in one place: what the program needs
 * (refused with the missing feature named) and the faster paths it may take.
 */
#ifndef XCAP_PROBE_H
#define XCAP_PROBE_H

#include <stdbool.h>

/* uapi values of Linux 6.6 that Debian 12's headers (6.1) do not have. */
#define XCAP_BPF_TCX_INGRESS 46 /* enum bpf_attach_type */
#define XCAP_BPF_TCX_EGRESS 47
#define XCAP_BPF_F_BEFORE \
	(1U << 3) /* link_create flag: before the others (all, without a relative) */

struct xcap_features {
	bool frags; /* XDP multi-buffer frames (BPF_F_XDP_HAS_FRAGS) */
	bool tcx; /* tcx links for the TC programs (Linux 6.6); else clsact filters */
	bool xdp; /* received frames through XDP; false: at TC ingress (XCAP_PROBE_NO_XDP, tests) */
};

/* Returns 0 with *f filled in, or -EOPNOTSUPP naming what the kernel lacks. */
int xcap_probe_features(struct xcap_features *f);

#endif /* XCAP_PROBE_H */
