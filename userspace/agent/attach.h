/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Attaching the program to interfaces through libxdp: native mode first, then
 * generic; a program another live process owns, or that xcap did not load, is
 * never replaced; an xcap program whose owner died is removed first.
 */
#ifndef XCAP_ATTACH_H
#define XCAP_ATTACH_H

#include <stdbool.h>
#include <xdp/libxdp.h>

#define XCAP_PROG_NAME "xcap_xdp"

struct xcap_attachment {
	int ifindex;
	enum xdp_attach_mode mode;
};

/* Attaches prog to ifname and fills *out; a negative errno names the failure in the log. */
int xcap_attach_xdp(struct xdp_program *prog, const char *ifname, bool skb_mode,
		    struct xcap_attachment *out);
/* Detaches what xcap_attach_xdp attached; failures are logged. */
void xcap_attach_detach(struct xdp_program *prog, const struct xcap_attachment *a);

#endif /* XCAP_ATTACH_H */
