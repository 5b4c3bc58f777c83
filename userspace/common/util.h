/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Definitions every module shares, stated once: array length, time units, product limits. */
#ifndef XCAP_UTIL_H
#define XCAP_UTIL_H

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define NSEC_PER_SEC 1000000000LL
#define NSEC_PER_MSEC 1000000LL

/* The Makefile passes the changelog's version; a build without it still says what it is. */
#ifndef XCAP_VERSION
#define XCAP_VERSION "unknown"
#endif

/* Interfaces one xcapd (or one one-shot capture) attaches to. */
#define XCAP_MAX_IFACES 16

#endif /* XCAP_UTIL_H */
