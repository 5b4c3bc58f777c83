/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * xcapd's configuration: a JSON file (--config FILE), every scalar key also
 * settable by a flag of the same name, and the embedded default (loopback,
 * a state folder under the working directory, one account and one write token
 * created on first start). Unknown keys and invalid values are refused with a
 * message that names the key.
 */
#ifndef XCAP_CONFIG_H
#define XCAP_CONFIG_H

#include "common/util.h"
#include <limits.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define XCAP_CFG_MAX_ACCOUNTS 64
#define XCAP_CFG_MAX_CREDS 256
#define XCAP_CFG_MAX_ROOTS 16
#define XCAP_CFG_MAX_ENDPOINTS 16
#define XCAP_CFG_ENDPOINT_MAX 256 /* "http(s)://HOST[:PORT]" and its NUL */
#define XCAP_BUCKETS_MAX 1000 /* buckets_per_account at most */

struct xcap_account {
	char id[33]; /* 1..32 chars of [0-9a-zA-Z] */
	uint32_t simple_per_minute; /* simple creates per minute (default 1) */
	uint32_t full_active; /* full captures pending or running at once (default 1) */
	/* Keys for the account's s3:// buckets; empty: the AWS_* environment variables. */
	char s3_access_key_id[128];
	char s3_secret_access_key[128];
	char s3_session_token[2048]; /* optional, with the two above */
};

struct xcap_credential {
	char email[256]; /* empty: an API token (Bearer); else an e-mail + key pair */
	char secret[256]; /* the token or the key */
	bool write; /* write permission (else read only) */
	uint64_t accounts; /* bit i: accounts[i] of the config */
};

struct xcap_config {
	char listen_addr[64]; /* default 127.0.0.1 */
	uint16_t listen_port; /* default 8080; 0 = any free port (tests) */
	char tls_cert[PATH_MAX]; /* both empty = plain HTTP */
	char tls_key[PATH_MAX];
	char state_dir[PATH_MAX]; /* default ./xcap-state */
	char ifaces[XCAP_MAX_IFACES][IF_NAMESIZE];
	int n_ifaces;
	char colo[64]; /* this host's site name, e.g. ord02 (default: "local") */
	char metro[64]; /* its metro, e.g. ORD (default: "LOCAL") */
	uint32_t sample_every; /* sampler: 1 packet in N; 0 = off (default 100) */
	uint32_t history_hours; /* sampled history kept at most (default 24) */
	uint32_t history_mib; /* its disk budget in MiB (default 4096) */
	uint32_t history_rate; /* its cap in samples per second (default 5000) */
	uint32_t frames_ring_mib; /* the ring that carries captured frames (default 32) */
	/*
	 * The directories file:// buckets may be in, at any depth (default: STATE_DIR/buckets),
	 * as configured and (xcap_config_prepare) as real paths.
	 */
	char file_bucket_roots[XCAP_CFG_MAX_ROOTS][PATH_MAX];
	char file_bucket_real[XCAP_CFG_MAX_ROOTS][PATH_MAX]; /* each root's real path */
	int n_roots;
	/* The only endpoints an s3://, r2:// or gs:// URI may name with endpoint= (default none). */
	char s3_endpoints[XCAP_CFG_MAX_ENDPOINTS][XCAP_CFG_ENDPOINT_MAX];
	int n_endpoints;
	/* The API's connections (slow clients): */
	uint32_t http_connections; /* open at once, all clients (512) */
	uint32_t http_connections_per_ip; /* open at once from one address (32) */
	uint32_t http_request_timeout; /* seconds to send a whole request (10) */
	/* Per account: */
	uint32_t retention_days; /* simple files and ended capture records kept (7; 0 = forever) */
	uint32_t buckets_per_account; /* bucket records (100; 1..XCAP_BUCKETS_MAX) */
	uint32_t account_storage_mib; /* capture files kept in the state folder (1024; 0 = none) */
	uint32_t
		full_slots_per_account; /* full captures pending or running, whatever full_active */
	/* Fleet mode (xcapd agent, xcapd api); empty when not set. */
	char database[1024]; /* libpq connection string or URL */
	char fleet_secret[256]; /* signs the API's requests to the agents' endpoints */
	char agent_endpoint[64]; /* IPv4:PORT the agent listens on and registers */
	char host_name[64]; /* the agent's name in the fleet (default: the system's host name) */
	uint32_t vxlan_port; /* UDP destination ports of VXLAN and GENEVE; 0 = none */
	uint32_t geneve_port; /* (default 4789, 6081) */
	struct xcap_account accounts[XCAP_CFG_MAX_ACCOUNTS];
	int n_accounts;
	struct xcap_credential creds[XCAP_CFG_MAX_CREDS];
	int n_creds;
};

/* The embedded default, without accounts. */
void xcap_config_init(struct xcap_config *c);
/*
 * Reads a JSON config file over the current values. On error returns -EINVAL
 * (or -errno for I/O) and writes a message naming the key into err.
 */
int xcap_config_load(struct xcap_config *c, const char *path, char *err, size_t err_size);
/*
 * Sets one scalar key from a flag value, e.g. ("listen", "0.0.0.0:8443"),
 * ("interface", "eth0") (appends), ("sample_rate", "100"). Same errors as load.
 */
int xcap_config_set(struct xcap_config *c, const char *key, const char *value, char *err,
		    size_t err_size);
/*
 * What bootstrap needs, checked without changing anything: the TLS pair, the
 * file_bucket_roots (their real paths into file_bucket_real, or a place where
 * a missing one can be created), and with no
 * account configured, STATE_DIR/credentials.json (loaded when it exists) or a
 * state_dir where it can be created. 0 with no account means that bootstrap
 * will create it.
 */
int xcap_config_prepare(struct xcap_config *c, char *err, size_t err_size);
/*
 * xcap_config_prepare, then with still no account: creates
 * STATE_DIR/credentials.json with one account and one write token and prints
 * them once to `out`; with out NULL (stdout is no terminal: a journal, a log
 * file) the log says where the token is instead.
 */
int xcap_config_bootstrap(struct xcap_config *c, FILE *out, char *err, size_t err_size);
/*
 * Before serving, once bootstrap is done: makes the state folder private
 * (0700, whatever its mode was) and the bucket roots that are missing (the
 * default one, STATE_DIR/buckets, too; 0700), and finds the real path of
 * each of file_bucket_roots (file_bucket_real). Same errors as load.
 */
int xcap_config_make_state(struct xcap_config *c, char *err, size_t err_size);
/*
 * The i-th scalar key (every one is also an xcapd flag, '_' written '-'): its
 * name, what it expects and whether it is a number. -ENOENT past the last.
 */
int xcap_config_key(size_t i, const char **name, const char **expect, bool *number);
/* Index of the account with this id, or -1. */
int xcap_config_account(const struct xcap_config *c, const char *id);

#endif /* XCAP_CONFIG_H */
