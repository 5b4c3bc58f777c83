/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Durable state in SQLite (WAL, synchronous=FULL): capture records and bucket
 * (ownership) records, per account. A put returns once the record is on disk,
 * so the API may answer 200 after it.
 */
#ifndef XCAP_STORE_H
#define XCAP_STORE_H

#include <stdbool.h>
#include <stdint.h>

#define XCAP_ID_LEN 32 /* lowercase hex of a random 128-bit value */
#define XCAP_LIST_MAX 50 /* the list routes return the 50 newest */

enum xcap_status {
	XCAP_ST_UNKNOWN,
	XCAP_ST_SUCCESS,
	XCAP_ST_PENDING,
	XCAP_ST_RUNNING,
	XCAP_ST_CONVERSION_PENDING,
	XCAP_ST_CONVERSION_RUNNING,
	XCAP_ST_COMPLETE,
	XCAP_ST_FAILED,
};

enum xcap_capture_type {
	XCAP_TYPE_SIMPLE,
	XCAP_TYPE_FULL,
};

struct xcap_capture_rec {
	char id[XCAP_ID_LEN + 1];
	char account[XCAP_ID_LEN + 1];
	enum xcap_capture_type type;
	enum xcap_status status;
	int64_t submitted_ns; /* epoch */
	int64_t stop_requested_ns; /* 0 = not requested */
	uint32_t time_limit; /* seconds */
	uint32_t packet_limit; /* 0 = not given */
	uint64_t byte_limit; /* 0 = not given */
	int64_t offset_time_ns; /* simple: end of the window; 0 = not given */
	char filter_json[512]; /* filter_v1 as canonical JSON ("{}" when empty) */
	char colo_name[64];
	char destination_conf[1024];
	uint64_t packets_captured;
	uint64_t bytes_captured;
	uint64_t packets_matched;
	uint64_t packets_lost;
	char error_message[512];
};

enum xcap_bucket_status {
	XCAP_BUCKET_PENDING,
	XCAP_BUCKET_SUCCESS,
	XCAP_BUCKET_FAILED,
};

struct xcap_bucket_rec {
	char id[XCAP_ID_LEN + 1];
	char account[XCAP_ID_LEN + 1];
	char destination_conf[1024];
	char filename[64]; /* ownership-challenge-<hex>.txt */
	char token[65]; /* the secret content of the challenge file */
	enum xcap_bucket_status status;
	int64_t submitted_ns;
	int64_t validated_ns; /* 0 = not validated */
};

struct xcap_store;

/* Opens (creating if needed) DIR/xcap.db. NULL + errno on error, logged. */
struct xcap_store *xcap_store_open(const char *dir);
void xcap_store_close(struct xcap_store *s);

/* Inserts or replaces the record with this id. 0 or -errno (-EIO on an SQLite error). */
int xcap_store_capture_put(struct xcap_store *s, const struct xcap_capture_rec *r);
/* -ENOENT when the id is not a capture of this account. */
int xcap_store_capture_get(struct xcap_store *s, const char *account, const char *id,
			   struct xcap_capture_rec *out);
/* The newest `max` captures of the account, newest first; *n is set to how many. */
int xcap_store_capture_list(struct xcap_store *s, const char *account, struct xcap_capture_rec *out,
			    int max, int *n);
/* Number of captures of the account, all of them (for result_info.total_count). */
int xcap_store_capture_count(struct xcap_store *s, const char *account);
/* Calls fn for every capture (any account) whose status is in `statuses` (bit 1 << status). */
int xcap_store_capture_each(struct xcap_store *s, uint32_t statuses,
			    int (*fn)(void *arg, struct xcap_capture_rec *r), void *arg);
/* Full captures of the account that are pending or running. */
int xcap_store_capture_count_active_full(struct xcap_store *s, const char *account);

int xcap_store_bucket_put(struct xcap_store *s, const struct xcap_bucket_rec *r);
int xcap_store_bucket_get(struct xcap_store *s, const char *account, const char *id,
			  struct xcap_bucket_rec *out);
/* The bucket record of the account with this destination_conf (newest), or -ENOENT. */
int xcap_store_bucket_find(struct xcap_store *s, const char *account, const char *conf,
			   struct xcap_bucket_rec *out);
int xcap_store_bucket_list(struct xcap_store *s, const char *account, struct xcap_bucket_rec *out,
			   int max, int *n);
/* -ENOENT when the id is not a bucket of this account. */
int xcap_store_bucket_delete(struct xcap_store *s, const char *account, const char *id);

#endif /* XCAP_STORE_H */
