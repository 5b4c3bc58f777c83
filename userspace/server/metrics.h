/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * /metrics: the Prometheus text of every counter xcapd shows, and the one
 * set of counters no other module owns (API requests by route and status).
 * The host's and the deliveries' counters come from the jobs, which gather
 * them from the runner and the delivery worker.
 */
#ifndef XCAP_METRICS_H
#define XCAP_METRICS_H

#include <stdint.h>
#include <stdio.h>

struct xcap_jobs_stats;
struct xcap_metrics;

struct xcap_metrics *xcap_metrics_new(void);
void xcap_metrics_free(struct xcap_metrics *m);
/* Counts one answer; route is a string that lives as long as m (a route table's name). */
void xcap_metrics_count_request(struct xcap_metrics *m, const char *route, int status);
/* Writes the Prometheus text (format 0.0.4): the requests, then the jobs' counters. */
void xcap_metrics_write(struct xcap_metrics *m, const struct xcap_jobs_stats *st, FILE *out);

#endif /* XCAP_METRICS_H */
