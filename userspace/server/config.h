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
 * With no account configured: loads STATE_DIR/credentials.json, or creates it
 * with one account and one write token and prints them once to `out`.
 */
int xcap_config_bootstrap(struct xcap_config *c, FILE *out, char *err, size_t err_size);
/*
 * The i-th scalar key (every one is also an xcapd flag, '_' written '-'): its
 * name, what it expects and whether it is a number. -ENOENT past the last.
 */
int xcap_config_key(size_t i, const char **name, const char **expect, bool *number);
/* Index of the account with this id, or -1. */
int xcap_config_account(const struct xcap_config *c, const char *id);

#endif /* XCAP_CONFIG_H */
