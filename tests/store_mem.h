/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A store in memory, for unit tests of what sits on the store seam (the API,
 * the jobs): the same answers as store_sqlite.c for the same calls, without a
 * file. Credentials and accounts are a config's, as on one host. A test can
 * count the capture puts (to see that a path writes nothing), read the
 * statuses they stored in order, make the next puts fail as on a full disk,
 * and hold bucket puts (a handler that waits on a peer) or the capture puts
 * of one status (a worker that waits) until it releases them.
 */
#ifndef XCAP_STORE_MEM_H
#define XCAP_STORE_MEM_H

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "server/credentials.h"
#include "server/store.h"

#define STORE_MEM_MAX 256
#define STORE_MEM_LOG_MAX 64

struct store_mem {
	struct xcap_store base;
	pthread_mutex_t lock; /* the delivery worker stores too */
	const struct xcap_config *cfg;
	struct xcap_capture_rec caps[STORE_MEM_MAX];
	uint64_t cap_seq[STORE_MEM_MAX]; /* insertion order: the tie breaker of equal times */
	int n_caps;
	struct xcap_bucket_rec buckets[STORE_MEM_MAX];
	uint64_t bucket_seq[STORE_MEM_MAX];
	int n_buckets;
	uint64_t seq;
	struct xcap_store_window windows[XCAP_CFG_MAX_ACCOUNTS];
	int capture_puts; /* attempted, failed ones included */
	int fail_puts; /* the next this many capture puts fail with -ENOSPC */
	/* The capture puts that succeeded, in order (the first STORE_MEM_LOG_MAX). */
	struct {
		char id[XCAP_ID_LEN + 1];
		enum xcap_status status;
	} log[STORE_MEM_LOG_MAX];
	int n_log;
	/* store_mem_hold_*: the puts held wait outside the store's lock, on their thread. */
	pthread_mutex_t gate_lock;
	pthread_cond_t gate_open;
	bool hold_buckets;
	bool hold_captures; /* those whose status is hold_status */
	enum xcap_status hold_status;
	int gate_waiting; /* puts waiting now */
};

static inline struct store_mem *store_mem_of(struct xcap_store *base)
{
	return (struct store_mem *)base;
}

/* One call of an implementation below, under the store's lock. */
#define MEM_LOCKED(base, call)                             \
	({                                                 \
		struct store_mem *m_ = store_mem_of(base); \
		int ret_;                                  \
                                                           \
		pthread_mutex_lock(&m_->lock);             \
		ret_ = (call);                             \
		pthread_mutex_unlock(&m_->lock);           \
		ret_;                                      \
	})

static int mem_capture_put_locked(struct xcap_store *base, const struct xcap_capture_rec *r)
{
	struct store_mem *m = store_mem_of(base);
	int i;

	m->capture_puts++;
	if (m->fail_puts > 0) {
		m->fail_puts--;
		return -ENOSPC;
	}
	for (i = 0; i < m->n_caps && strcmp(m->caps[i].id, r->id); i++)
		;
	if (i < m->n_caps && strcmp(m->caps[i].account, r->account))
		return -EEXIST;
	if (i == m->n_caps) {
		if (m->n_caps == STORE_MEM_MAX)
			return -ENOSPC;
		m->cap_seq[m->n_caps++] = ++m->seq;
	}
	m->caps[i] = *r;
	if (m->n_log < STORE_MEM_LOG_MAX) {
		snprintf(m->log[m->n_log].id, sizeof(m->log[0].id), "%s", r->id);
		m->log[m->n_log++].status = r->status;
	}
	return 0;
}

static int mem_capture_get_locked(struct xcap_store *base, const char *account, const char *id,
				  struct xcap_capture_rec *out)
{
	struct store_mem *m = store_mem_of(base);
	int i;

	for (i = 0; i < m->n_caps; i++) {
		if (!strcmp(m->caps[i].id, id) && !strcmp(m->caps[i].account, account)) {
			*out = m->caps[i];
			return 0;
		}
	}
	return -ENOENT;
}

/* A record's place in a list: newest first, the later insert first among equal times. */
struct mem_key {
	int64_t time;
	uint64_t seq;
	int idx;
};

static int mem_newest_first(const void *a, const void *b)
{
	const struct mem_key *x = a, *y = b;

	if (x->time != y->time)
		return x->time < y->time ? 1 : -1;
	return x->seq < y->seq ? 1 : x->seq > y->seq ? -1 : 0;
}

/* Sorts keys[0..n) newest first and leaves their indexes in idx; n. */
static int mem_sort(struct mem_key *keys, int n, int *idx)
{
	int i;

	qsort(keys, n, sizeof(*keys), mem_newest_first);
	for (i = 0; i < n; i++)
		idx[i] = keys[i].idx;
	return n;
}

/* Indexes of the captures of account (NULL: all) whose status is in mask, newest first. */
static int mem_capture_select(struct store_mem *m, const char *account, uint32_t mask, int *idx)
{
	struct mem_key keys[STORE_MEM_MAX];
	int i, n = 0;

	for (i = 0; i < m->n_caps; i++)
		if ((!account || !strcmp(m->caps[i].account, account)) &&
		    (mask & (1U << m->caps[i].status)))
			keys[n++] = (struct mem_key){ m->caps[i].submitted_ns, m->cap_seq[i], i };
	return mem_sort(keys, n, idx);
}

static int mem_capture_list_locked(struct xcap_store *base, const char *account,
				   struct xcap_capture_rec *out, int max, int *n)
{
	struct store_mem *m = store_mem_of(base);
	int idx[STORE_MEM_MAX], i, found = mem_capture_select(m, account, ~0U, idx);

	for (i = 0; i < found && i < max; i++)
		out[i] = m->caps[idx[i]];
	*n = i;
	return 0;
}

static int mem_capture_count_locked(struct xcap_store *base, const char *account)
{
	int idx[STORE_MEM_MAX];

	return mem_capture_select(store_mem_of(base), account, ~0U, idx);
}

/* Oldest first, on copies: fn may put. */
static int mem_capture_each(struct xcap_store *base, uint32_t statuses,
			    int (*fn)(void *arg, struct xcap_capture_rec *r), void *arg)
{
	struct xcap_capture_rec *recs = calloc(STORE_MEM_MAX, sizeof(*recs));
	struct store_mem *m = store_mem_of(base);
	int idx[STORE_MEM_MAX], i, n, err = 0;

	if (!recs)
		return -ENOMEM;
	pthread_mutex_lock(&m->lock);
	n = mem_capture_select(m, NULL, statuses, idx);
	for (i = 0; i < n; i++)
		recs[i] = m->caps[idx[n - 1 - i]];
	pthread_mutex_unlock(&m->lock);
	for (i = 0; i < n && !err; i++)
		err = fn(arg, &recs[i]);
	free(recs);
	return err;
}

static int mem_capture_count_active_full_locked(struct xcap_store *base, const char *account)
{
	struct store_mem *m = store_mem_of(base);
	int idx[STORE_MEM_MAX], i, n, active = 0;

	n = mem_capture_select(m, account, 1U << XCAP_ST_PENDING | 1U << XCAP_ST_RUNNING, idx);
	for (i = 0; i < n; i++)
		active += m->caps[idx[i]].type == XCAP_TYPE_FULL;
	return active;
}

static int mem_capture_stored_bytes_locked(struct xcap_store *base, const char *account,
					   uint64_t *bytes)
{
	struct store_mem *m = store_mem_of(base);
	const struct xcap_capture_rec *r;
	int i;

	*bytes = 0;
	for (i = 0; i < m->n_caps; i++) {
		r = &m->caps[i];
		if (strcmp(r->account, account))
			continue;
		if (r->type == XCAP_TYPE_SIMPLE ? r->status == XCAP_ST_SUCCESS :
						  r->status == XCAP_ST_CONVERSION_PENDING ||
							  r->status == XCAP_ST_CONVERSION_RUNNING ||
							  r->status == XCAP_ST_FAILED)
			*bytes += r->bytes_captured + 16 * r->packets_captured + 24;
	}
	return 0;
}

static int mem_capture_expired_locked(struct xcap_store *base, int64_t before_ns,
				      struct xcap_capture_rec *out, int max, int *n)
{
	uint32_t ended = 1U << XCAP_ST_SUCCESS | 1U << XCAP_ST_COMPLETE | 1U << XCAP_ST_FAILED;
	struct store_mem *m = store_mem_of(base);
	int idx[STORE_MEM_MAX], i, found = mem_capture_select(m, NULL, ended, idx);

	*n = 0;
	for (i = found - 1; i >= 0 && *n < max; i--)
		if (m->caps[idx[i]].submitted_ns < before_ns)
			out[(*n)++] = m->caps[idx[i]];
	return 0;
}

static int mem_capture_delete_locked(struct xcap_store *base, const char *account, const char *id)
{
	struct store_mem *m = store_mem_of(base);
	int i;

	for (i = 0; i < m->n_caps; i++) {
		if (!strcmp(m->caps[i].id, id) && !strcmp(m->caps[i].account, account)) {
			m->n_caps--;
			memmove(&m->caps[i], &m->caps[i + 1], (m->n_caps - i) * sizeof(m->caps[0]));
			memmove(&m->cap_seq[i], &m->cap_seq[i + 1],
				(m->n_caps - i) * sizeof(m->cap_seq[0]));
			return 0;
		}
	}
	return -ENOENT;
}

static int mem_bucket_put_locked(struct xcap_store *base, const struct xcap_bucket_rec *r)
{
	struct store_mem *m = store_mem_of(base);
	int i;

	for (i = 0; i < m->n_buckets && strcmp(m->buckets[i].id, r->id); i++)
		;
	if (i < m->n_buckets && strcmp(m->buckets[i].account, r->account))
		return -EEXIST;
	if (i == m->n_buckets) {
		if (m->n_buckets == STORE_MEM_MAX)
			return -ENOSPC;
		m->bucket_seq[m->n_buckets++] = ++m->seq;
	}
	m->buckets[i] = *r;
	return 0;
}

/* Indexes of the buckets of account (with this conf, unless NULL), newest first. */
static int mem_bucket_select(struct store_mem *m, const char *account, const char *conf, int *idx)
{
	struct mem_key keys[STORE_MEM_MAX];
	int i, n = 0;

	for (i = 0; i < m->n_buckets; i++)
		if (!strcmp(m->buckets[i].account, account) &&
		    (!conf || !strcmp(m->buckets[i].destination_conf, conf)))
			keys[n++] =
				(struct mem_key){ m->buckets[i].submitted_ns, m->bucket_seq[i], i };
	return mem_sort(keys, n, idx);
}

static int mem_bucket_find_locked(struct xcap_store *base, const char *account, const char *conf,
				  struct xcap_bucket_rec *out)
{
	struct store_mem *m = store_mem_of(base);
	int idx[STORE_MEM_MAX];

	if (!mem_bucket_select(m, account, conf, idx))
		return -ENOENT;
	*out = m->buckets[idx[0]];
	return 0;
}

static int mem_bucket_list_locked(struct xcap_store *base, const char *account,
				  struct xcap_bucket_rec *out, int max, int *n)
{
	struct store_mem *m = store_mem_of(base);
	int idx[STORE_MEM_MAX], i, found = mem_bucket_select(m, account, NULL, idx);

	for (i = 0; i < found && i < max; i++)
		out[i] = m->buckets[idx[i]];
	*n = i;
	return 0;
}

static int mem_bucket_delete_locked(struct xcap_store *base, const char *account, const char *id)
{
	struct store_mem *m = store_mem_of(base);
	int i;

	for (i = 0; i < m->n_buckets; i++) {
		if (!strcmp(m->buckets[i].id, id) && !strcmp(m->buckets[i].account, account)) {
			m->n_buckets--;
			memmove(&m->buckets[i], &m->buckets[i + 1],
				(m->n_buckets - i) * sizeof(m->buckets[0]));
			memmove(&m->bucket_seq[i], &m->bucket_seq[i + 1],
				(m->n_buckets - i) * sizeof(m->bucket_seq[0]));
			return 0;
		}
	}
	return -ENOENT;
}

static int mem_credential_find(struct xcap_store *base, const struct xcap_auth *auth,
			       const char *account, struct xcap_grant *out)
{
	struct store_mem *m = store_mem_of(base);

	return m->cfg ? xcap_credentials_grant(m->cfg, auth, account, out) : -ENOENT;
}

static int mem_account_get(struct xcap_store *base, const char *id, struct xcap_account *out)
{
	struct store_mem *m = store_mem_of(base);
	int i = m->cfg ? xcap_config_account(m->cfg, id) : -1;

	if (i < 0)
		return -ENOENT;
	*out = m->cfg->accounts[i];
	return 0;
}

static int mem_rate_take_locked(struct xcap_store *base, const char *account, int64_t now_ns,
				int64_t window_ns, uint32_t limit, int64_t *retry_ns)
{
	struct store_mem *m = store_mem_of(base);
	int i = m->cfg ? xcap_config_account(m->cfg, account) : -1;

	if (i < 0)
		return -ENOENT;
	return xcap_store_window_take(&m->windows[i], now_ns, window_ns, limit, retry_ns);
}

static void mem_rate_refund_locked(struct xcap_store *base, const char *account)
{
	struct store_mem *m = store_mem_of(base);
	int i = m->cfg ? xcap_config_account(m->cfg, account) : -1;

	if (i >= 0)
		xcap_store_window_refund(&m->windows[i]);
}

static bool mem_gate_holds(struct store_mem *m, bool bucket, enum xcap_status st)
{
	return bucket ? m->hold_buckets : m->hold_captures && st == m->hold_status;
}

/* A held put waits here, on its caller's thread, before it takes the store's lock. */
static void mem_gate_pass(struct store_mem *m, bool bucket, enum xcap_status st)
{
	pthread_mutex_lock(&m->gate_lock);
	if (mem_gate_holds(m, bucket, st)) {
		m->gate_waiting++;
		while (mem_gate_holds(m, bucket, st))
			pthread_cond_wait(&m->gate_open, &m->gate_lock);
		m->gate_waiting--;
	}
	pthread_mutex_unlock(&m->gate_lock);
}

static int mem_capture_put(struct xcap_store *base, const struct xcap_capture_rec *r)
{
	mem_gate_pass(store_mem_of(base), false, r->status);
	return MEM_LOCKED(base, mem_capture_put_locked(base, r));
}

static int mem_capture_get(struct xcap_store *base, const char *account, const char *id,
			   struct xcap_capture_rec *out)
{
	return MEM_LOCKED(base, mem_capture_get_locked(base, account, id, out));
}

static int mem_capture_list(struct xcap_store *base, const char *account,
			    struct xcap_capture_rec *out, int max, int *n)
{
	return MEM_LOCKED(base, mem_capture_list_locked(base, account, out, max, n));
}

static int mem_capture_count(struct xcap_store *base, const char *account)
{
	return MEM_LOCKED(base, mem_capture_count_locked(base, account));
}

static int mem_capture_count_active_full(struct xcap_store *base, const char *account)
{
	return MEM_LOCKED(base, mem_capture_count_active_full_locked(base, account));
}

static int mem_bucket_put(struct xcap_store *base, const struct xcap_bucket_rec *r)
{
	mem_gate_pass(store_mem_of(base), true, 0);
	return MEM_LOCKED(base, mem_bucket_put_locked(base, r));
}

static int mem_bucket_find(struct xcap_store *base, const char *account, const char *conf,
			   struct xcap_bucket_rec *out)
{
	return MEM_LOCKED(base, mem_bucket_find_locked(base, account, conf, out));
}

static int mem_bucket_list(struct xcap_store *base, const char *account,
			   struct xcap_bucket_rec *out, int max, int *n)
{
	return MEM_LOCKED(base, mem_bucket_list_locked(base, account, out, max, n));
}

static int mem_capture_stored_bytes(struct xcap_store *base, const char *account, uint64_t *bytes)
{
	return MEM_LOCKED(base, mem_capture_stored_bytes_locked(base, account, bytes));
}

static int mem_capture_expired(struct xcap_store *base, int64_t before_ns,
			       struct xcap_capture_rec *out, int max, int *n)
{
	return MEM_LOCKED(base, mem_capture_expired_locked(base, before_ns, out, max, n));
}

static int mem_capture_delete(struct xcap_store *base, const char *account, const char *id)
{
	return MEM_LOCKED(base, mem_capture_delete_locked(base, account, id));
}

static int mem_bucket_count(struct xcap_store *base, const char *account)
{
	int idx[STORE_MEM_MAX];

	return MEM_LOCKED(base, mem_bucket_select(store_mem_of(base), account, NULL, idx));
}

static int mem_bucket_delete(struct xcap_store *base, const char *account, const char *id)
{
	return MEM_LOCKED(base, mem_bucket_delete_locked(base, account, id));
}

static int mem_rate_take(struct xcap_store *base, const char *account, int64_t now_ns,
			 int64_t window_ns, uint32_t limit, int64_t *retry_ns)
{
	return MEM_LOCKED(base,
			  mem_rate_take_locked(base, account, now_ns, window_ns, limit, retry_ns));
}

static void mem_rate_refund(struct xcap_store *base, const char *account)
{
	struct store_mem *m = store_mem_of(base);

	pthread_mutex_lock(&m->lock);
	mem_rate_refund_locked(base, account);
	pthread_mutex_unlock(&m->lock);
}

static int mem_schema_version(struct xcap_store *base)
{
	(void)base;
	return 1;
}

static void mem_close(struct xcap_store *base)
{
	struct store_mem *m = store_mem_of(base);

	pthread_cond_destroy(&m->gate_open);
	pthread_mutex_destroy(&m->gate_lock);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

static const struct xcap_store_ops store_mem_ops = {
	.name = "memory",
	.close = mem_close,
	.schema_version = mem_schema_version,
	.capture_put = mem_capture_put,
	.capture_get = mem_capture_get,
	.capture_list = mem_capture_list,
	.capture_count = mem_capture_count,
	.capture_each = mem_capture_each,
	.capture_count_active_full = mem_capture_count_active_full,
	.capture_stored_bytes = mem_capture_stored_bytes,
	.capture_expired = mem_capture_expired,
	.capture_delete = mem_capture_delete,
	.bucket_put = mem_bucket_put,
	.bucket_find = mem_bucket_find,
	.bucket_list = mem_bucket_list,
	.bucket_count = mem_bucket_count,
	.bucket_delete = mem_bucket_delete,
	.credential_find = mem_credential_find,
	.account_get = mem_account_get,
	.rate_take = mem_rate_take,
	.rate_refund = mem_rate_refund,
};

/* cfg (NULL: no credentials, no accounts) must outlive the store. */
static inline struct store_mem *store_mem_new(const struct xcap_config *cfg)
{
	struct store_mem *m = calloc(1, sizeof(*m));

	if (m) {
		m->base.ops = &store_mem_ops;
		pthread_mutex_init(&m->lock, NULL);
		pthread_mutex_init(&m->gate_lock, NULL);
		pthread_cond_init(&m->gate_open, NULL);
		m->cfg = cfg;
	}
	return m;
}

/* From now on, bucket puts wait until store_mem_release_puts. */
static inline void store_mem_hold_bucket_puts(struct store_mem *m)
{
	pthread_mutex_lock(&m->gate_lock);
	m->hold_buckets = true;
	pthread_mutex_unlock(&m->gate_lock);
}

/* From now on, capture puts of status st wait until store_mem_release_puts. */
static inline void store_mem_hold_capture_puts(struct store_mem *m, enum xcap_status st)
{
	pthread_mutex_lock(&m->gate_lock);
	m->hold_captures = true;
	m->hold_status = st;
	pthread_mutex_unlock(&m->gate_lock);
}

/* Lets every held put go on, and holds none from now on. */
static inline void store_mem_release_puts(struct store_mem *m)
{
	pthread_mutex_lock(&m->gate_lock);
	m->hold_buckets = false;
	m->hold_captures = false;
	pthread_cond_broadcast(&m->gate_open);
	pthread_mutex_unlock(&m->gate_lock);
}

/* Puts waiting at the gate now. */
static inline int store_mem_puts_held(struct store_mem *m)
{
	int n;

	pthread_mutex_lock(&m->gate_lock);
	n = m->gate_waiting;
	pthread_mutex_unlock(&m->gate_lock);
	return n;
}

/* Buckets of all accounts, under the lock (other threads may put). */
static inline int store_mem_n_buckets(struct store_mem *m)
{
	int n;

	pthread_mutex_lock(&m->lock);
	n = m->n_buckets;
	pthread_mutex_unlock(&m->lock);
	return n;
}

/* The statuses stored for capture id, in order, into st (max of them); how many. */
static inline int store_mem_statuses(struct store_mem *m, const char *id, enum xcap_status *st,
				     int max)
{
	int i, n = 0;

	pthread_mutex_lock(&m->lock);
	for (i = 0; i < m->n_log; i++)
		if (!strcmp(m->log[i].id, id) && n < max)
			st[n++] = m->log[i].status;
	pthread_mutex_unlock(&m->lock);
	return n;
}

#endif /* XCAP_STORE_MEM_H */
