/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The delivery worker: finished full captures wait in a bounded queue, and
 * one thread copies each spool file to its bucket as pcap_<id>.pcap. Uploads
 * can take minutes (retries, large files): they never run on the thread that
 * queued them. The jobs state machine hears of each delivery through two
 * callbacks, both on the worker.
 */
#ifndef XCAP_DELIVER_H
#define XCAP_DELIVER_H

#include <stddef.h>
#include <stdint.h>
#include "server/store.h"

#define XCAP_DELIVER_QUEUE_MAX 64 /* as many as can finish at once: one per capture slot */

struct xcap_deliver;

struct xcap_deliver_cb {
	/* The upload of r starts. */
	void (*begin)(void *arg, struct xcap_capture_rec *r);
	/* It ended: err 0 once the bucket confirmed the object, else -errno and why in msg. */
	void (*end)(void *arg, struct xcap_capture_rec *r, int err, const char *msg);
	void *arg;
};

/*
 * Starts the worker; destinations follow cfg's rules (bucket roots, endpoints)
 * and use the keys of their account in store. NULL + errno.
 */
struct xcap_deliver *xcap_deliver_start(const struct xcap_config *cfg, struct xcap_store *store,
					const struct xcap_deliver_cb *cb);
/*
 * Queues the delivery of the file at path for record r (copied). -EAGAIN when
 * XCAP_DELIVER_QUEUE_MAX deliveries wait already; -ENOMEM.
 */
int xcap_deliver_submit(struct xcap_deliver *d, const struct xcap_capture_rec *r, const char *path);
/* The object a delivery of r writes: r->object_key, else pcap_<id>.pcap (or .pcapng). */
void xcap_deliver_object_name(const struct xcap_capture_rec *r, char *buf, size_t size);
/* Deliveries queued or running. */
int xcap_deliver_pending(struct xcap_deliver *d);
/* Deliveries that ended, since the start: confirmed by the bucket, and failed. */
void xcap_deliver_counts(struct xcap_deliver *d, uint64_t *ok, uint64_t *failed);
/* Delivers what is queued, then ends the worker and frees everything. */
void xcap_deliver_stop(struct xcap_deliver *d);

#endif /* XCAP_DELIVER_H */
