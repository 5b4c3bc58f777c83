// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The delivery worker: a bounded queue and one thread that uploads through dest. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "agent/pcap.h"
#include "common/log.h"
#include "server/deliver.h"
#include "server/dest.h"

/* A finished capture waiting for the worker. */
struct delivery {
	struct delivery *next;
	struct xcap_capture_rec rec;
	char path[PATH_MAX];
};

struct xcap_deliver {
	const struct xcap_config *cfg; /* the rules destinations follow */
	struct xcap_store *store;
	struct xcap_deliver_cb cb;
	pthread_t worker;
	bool started;
	pthread_mutex_t lock; /* the queue, stopping, busy */
	pthread_cond_t wake;
	bool stopping;
	struct delivery *head;
	struct delivery **tail;
	int queued;
	bool busy; /* the worker is uploading */
	uint64_t ok; /* updated by the worker: atomics */
	uint64_t failed;
};

/* Copies the file to the bucket of r: 0, or -errno and why in msg. */
static int upload(struct xcap_deliver *d, const struct delivery *item, char *msg, size_t size)
{
	const struct xcap_capture_rec *r = &item->rec;
	struct xcap_account acc;
	struct xcap_dest dest;
	char name[160];
	int err;

	xcap_deliver_object_name(r, name, sizeof(name));
	err = xcap_dest_parse(r->destination_conf, d->cfg,
			      xcap_store_account_get(d->store, r->account, &acc) ? NULL : &acc,
			      &dest, msg, size);
	if (err)
		return err;
	err = xcap_dest_deliver(&dest, item->path, name, msg, size);
	xcap_dest_close(&dest);
	return err;
}

static void *worker(void *arg)
{
	struct xcap_deliver *d = arg;
	struct delivery *item;
	char msg[512];
	int err;

	for (;;) {
		pthread_mutex_lock(&d->lock);
		d->busy = false;
		while (!d->head && !d->stopping)
			pthread_cond_wait(&d->wake, &d->lock);
		item = d->head;
		if (item) {
			d->head = item->next;
			if (!d->head)
				d->tail = &d->head;
			d->queued--;
			d->busy = true;
		}
		pthread_mutex_unlock(&d->lock);
		if (!item)
			return NULL; /* stopping, and the queue is empty */
		d->cb.begin(d->cb.arg, &item->rec);
		msg[0] = '\0';
		err = upload(d, item, msg, sizeof(msg));
		__atomic_add_fetch(err ? &d->failed : &d->ok, 1, __ATOMIC_RELAXED);
		d->cb.end(d->cb.arg, &item->rec, err, msg);
		free(item);
	}
}

struct xcap_deliver *xcap_deliver_start(const struct xcap_config *cfg, struct xcap_store *store,
					const struct xcap_deliver_cb *cb)
{
	struct xcap_deliver *d = calloc(1, sizeof(*d));
	int err;

	if (!d)
		return NULL;
	d->cfg = cfg;
	d->store = store;
	d->cb = *cb;
	d->tail = &d->head;
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->wake, NULL);
	err = pthread_create(&d->worker, NULL, worker, d);
	if (err) {
		pr_err("cannot start the delivery worker: %s\n", strerror(err));
		xcap_deliver_stop(d);
		errno = err;
		return NULL;
	}
	d->started = true;
	return d;
}

int xcap_deliver_submit(struct xcap_deliver *d, const struct xcap_capture_rec *r, const char *path)
{
	struct delivery *item;
	int err = 0;

	pthread_mutex_lock(&d->lock);
	if (d->queued >= XCAP_DELIVER_QUEUE_MAX) {
		err = -EAGAIN;
		goto out;
	}
	item = calloc(1, sizeof(*item));
	if (!item) {
		err = -ENOMEM;
		goto out;
	}
	item->rec = *r;
	snprintf(item->path, sizeof(item->path), "%s", path);
	*d->tail = item;
	d->tail = &item->next;
	d->queued++;
	pthread_cond_signal(&d->wake);
out:
	pthread_mutex_unlock(&d->lock);
	return err;
}

void xcap_deliver_object_name(const struct xcap_capture_rec *r, char *buf, size_t size)
{
	if (r->object_key[0])
		snprintf(buf, size, "%s", r->object_key);
	else
		snprintf(buf, size, "pcap_%s.%s", r->id, xcap_pcap_format_name(r->format));
}

int xcap_deliver_pending(struct xcap_deliver *d)
{
	int n;

	pthread_mutex_lock(&d->lock);
	n = d->queued + d->busy;
	pthread_mutex_unlock(&d->lock);
	return n;
}

void xcap_deliver_counts(struct xcap_deliver *d, uint64_t *ok, uint64_t *failed)
{
	*ok = __atomic_load_n(&d->ok, __ATOMIC_RELAXED);
	*failed = __atomic_load_n(&d->failed, __ATOMIC_RELAXED);
}

void xcap_deliver_stop(struct xcap_deliver *d)
{
	if (!d)
		return;
	pthread_mutex_lock(&d->lock);
	d->stopping = true;
	pthread_cond_signal(&d->wake);
	pthread_mutex_unlock(&d->lock);
	if (d->started)
		pthread_join(d->worker, NULL);
	pthread_mutex_destroy(&d->lock);
	pthread_cond_destroy(&d->wake);
	free(d);
}
