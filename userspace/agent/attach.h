/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Attaching the programs to interfaces. The XDP program (received frames)
 * through libxdp: native mode first, then generic. The TC programs: at egress
 * (sent frames), and at ingress on an interface XDP cannot attach to; each a
 * tcx link where the kernel has them (6.6), else a clsact filter of xcap's own
 * handle and priority. A program or filter another live
 * process owns, or that xcap did not load, is never replaced or moved; an xcap
 * program or filter whose owner died is removed first.
 */
#ifndef XCAP_ATTACH_H
#define XCAP_ATTACH_H

#include <stdbool.h>
#include <xdp/libxdp.h>
#include "xcap_abi.h"

#define XCAP_PROG_NAME "xcap_xdp"
#define XCAP_TC_PROG_NAME "xcap_tc"
#define XCAP_TC_IN_PROG_NAME "xcap_tc_in"
/*
 * The clsact filter's handle ("xc") and priority. Lower priorities run first
 * (tc numbers filters from 49152 down): xcap sees what is sent before another
 * filter's verdict ends the walk, as its tcx link goes in front of the others.
 */
#define XCAP_TC_HANDLE 0x7863
#define XCAP_TC_PRIORITY 1

struct xcap_attachment {
	int ifindex;
	bool xdp; /* the XDP program is attached, in `mode` */
	enum xdp_attach_mode mode;
	int tc_link[2]; /* by enum xcap_dir: fd of the TC program's tcx link; -1: none */
	bool tc_filter[2]; /* by enum xcap_dir: the TC program is xcap's clsact filter */
};

/* Starts *a for ifname, with nothing attached: 0, or -ENODEV named in the log. */
int xcap_attach_init(struct xcap_attachment *a, const char *ifname);
/*
 * Attaches prog to ifname (a from xcap_attach_init); a negative errno names
 * the failure in the log. A live xcap on the interface is -EBUSY.
 */
int xcap_attach_xdp(struct xdp_program *prog, const char *ifname, bool skb_mode,
		    struct xcap_attachment *a);
/*
 * Attaches the TC program (prog_fd) of direction dir (XCAP_DIR_OUT: egress)
 * to a->ifindex: a tcx link in front of the others when tcx is true, else a
 * clsact filter. 0 or a negative errno, named in the log.
 */
int xcap_attach_tc(int prog_fd, bool tcx, enum xcap_dir dir, struct xcap_attachment *a);
/* Detaches what xcap_attach_xdp and xcap_attach_tc attached to a; failures are logged. */
void xcap_attach_detach(struct xdp_program *prog, const struct xcap_attachment *a);

#endif /* XCAP_ATTACH_H */
