/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Kernel features, probed once at start in one place: what the program needs
 * (refused with the missing feature named) and the faster paths it may take.
 */
#ifndef XCAP_PROBE_H
#define XCAP_PROBE_H

#include <stdbool.h>

struct xcap_features {
	bool frags; /* XDP multi-buffer frames (BPF_F_XDP_HAS_FRAGS) */
};

/* Returns 0 with *f filled in, or -EOPNOTSUPP naming what the kernel lacks. */
int xcap_probe_features(struct xcap_features *f);

#endif /* XCAP_PROBE_H */
