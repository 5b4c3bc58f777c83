// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libFuzzer harness: xcapd's config file parser, xcap_config_load() (config.c).
 * The input is the file, written to a memfd that is loaded by its
 * /proc/self/fd path (the loader takes a path; no disk is touched).
 *
 * Invariants:
 *   - 0, or a negative errno with a message; on error the config is unchanged.
 *   - On success the config is consistent: counts in range, strings
 *     terminated, account ids valid and unique, credentials pointing at
 *     existing accounts with printable secrets, TLS both or neither.
 *   - Differential: when the input is JSON, it is loaded again with every
 *     secret (credentials' token and key, accounts' s3_* keys) rotated (same
 *     length and validity, other letters and digits): same result, same
 *     message, so no message shows a secret.
 */
#define _GNU_SOURCE /* memfd_create */
#include <arpa/inet.h>
#include <sys/mman.h>
#include <json-c/json.h>
#include "server/config.h"
#include "fuzz_common.h"

static int fd = -1;
static char path[64];
static struct xcap_config *cfg, *before;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet();
	fd = memfd_create("xcap-fuzz-config", MFD_CLOEXEC);
	if (fd < 0) {
		perror("memfd_create");
		abort();
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	cfg = malloc(sizeof(*cfg));
	before = malloc(sizeof(*before));
	if (!cfg || !before)
		abort();
	return 0;
}

static void put_input(const void *data, size_t size)
{
	if (ftruncate(fd, 0) || (size && pwrite(fd, data, size, 0) != (ssize_t)size)) {
		perror("memfd write");
		abort();
	}
}

static void check_str(const char *s, size_t size, const char *what)
{
	FUZZ_CHECK(memchr(s, '\0', size), "%s is not NUL-terminated", what);
}

static bool printable(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < 0x21 || *s > 0x7e)
			return false;
	return true;
}

static void check_config(const struct xcap_config *c)
{
	uint8_t bin[16];
	int i, j;

	check_str(c->listen_addr, sizeof(c->listen_addr), "listen_addr");
	FUZZ_CHECK(inet_pton(strchr(c->listen_addr, ':') ? AF_INET6 : AF_INET, c->listen_addr,
			     bin) == 1,
		   "listen_addr %s", c->listen_addr);
	check_str(c->tls_cert, sizeof(c->tls_cert), "tls_cert");
	check_str(c->tls_key, sizeof(c->tls_key), "tls_key");
	FUZZ_CHECK(!c->tls_cert[0] == !c->tls_key[0], "tls_cert without tls_key");
	check_str(c->state_dir, sizeof(c->state_dir), "state_dir");
	FUZZ_CHECK(c->state_dir[0], "empty state_dir");
	FUZZ_CHECK(c->n_ifaces >= 0 && c->n_ifaces <= XCAP_MAX_IFACES, "%d ifaces",
		   c->n_ifaces);
	for (i = 0; i < c->n_ifaces; i++) {
		check_str(c->ifaces[i], sizeof(c->ifaces[i]), "iface");
		FUZZ_CHECK(c->ifaces[i][0] && !strpbrk(c->ifaces[i], "/: \t\n"), "iface %s",
			   c->ifaces[i]);
		for (j = 0; j < i; j++)
			FUZZ_CHECK(strcmp(c->ifaces[i], c->ifaces[j]), "iface %s twice",
				   c->ifaces[i]);
	}
	check_str(c->colo, sizeof(c->colo), "colo");
	check_str(c->metro, sizeof(c->metro), "metro");
	FUZZ_CHECK(c->colo[0] && c->metro[0], "empty colo or metro");
	FUZZ_CHECK(c->sample_every <= 1000000, "sample_rate %u", c->sample_every);
	FUZZ_CHECK(c->history_hours >= 1 && c->history_hours <= 24, "history_hours %u",
		   c->history_hours);
	FUZZ_CHECK(c->history_mib >= 16 && c->history_mib <= 1048576, "history_mib %u",
		   c->history_mib);
	FUZZ_CHECK(c->history_rate >= 1 && c->history_rate <= 1000000, "history_rate %u",
		   c->history_rate);
	FUZZ_CHECK(c->n_accounts >= 0 && c->n_accounts <= XCAP_CFG_MAX_ACCOUNTS, "%d accounts",
		   c->n_accounts);
	for (i = 0; i < c->n_accounts; i++) {
		const struct xcap_account *a = &c->accounts[i];

		check_str(a->id, sizeof(a->id), "account id");
		FUZZ_CHECK(a->id[0] && strspn(a->id, "0123456789abcdefghijklmnopqrstuvwxyz"
						     "ABCDEFGHIJKLMNOPQRSTUVWXYZ") == strlen(a->id),
			   "account id %s", a->id);
		for (j = 0; j < i; j++)
			FUZZ_CHECK(strcmp(a->id, c->accounts[j].id), "account %s twice", a->id);
		check_str(a->s3_access_key_id, sizeof(a->s3_access_key_id), "s3 key id");
		check_str(a->s3_secret_access_key, sizeof(a->s3_secret_access_key), "s3 secret");
		check_str(a->s3_session_token, sizeof(a->s3_session_token), "s3 token");
		FUZZ_CHECK(!a->s3_access_key_id[0] == !a->s3_secret_access_key[0],
			   "half an S3 key pair");
		FUZZ_CHECK(!a->s3_session_token[0] || a->s3_access_key_id[0],
			   "a session token without keys");
	}
	FUZZ_CHECK(c->n_creds >= 0 && c->n_creds <= XCAP_CFG_MAX_CREDS, "%d creds", c->n_creds);
	for (i = 0; i < c->n_creds; i++) {
		const struct xcap_credential *cr = &c->creds[i];

		check_str(cr->email, sizeof(cr->email), "email");
		check_str(cr->secret, sizeof(cr->secret), "secret");
		FUZZ_CHECK(printable(cr->secret), "credential %d: secret not printable", i);
		FUZZ_CHECK(!cr->email[0] || printable(cr->email), "credential %d: email", i);
		FUZZ_CHECK(cr->accounts, "credential %d without accounts", i);
		FUZZ_CHECK(c->n_accounts == 64 || !(cr->accounts >> c->n_accounts),
			   "credential %d points at a missing account", i);
		for (j = 0; j < i; j++)
			FUZZ_CHECK(strcmp(cr->email, c->creds[j].email) ||
					   strcmp(cr->secret, c->creds[j].secret),
				   "credential %d twice", i);
	}
}

static int load(const void *data, size_t size, char *err, size_t err_size)
{
	int ret;

	put_input(data, size);
	xcap_config_init(cfg);
	*before = *cfg;
	memset(err, 0, err_size);
	ret = xcap_config_load(cfg, path, err, err_size);
	FUZZ_CHECK(ret <= 0, "ret %d", ret);
	if (ret) {
		FUZZ_CHECK(err[0] && memchr(err, '\0', err_size), "error %d without a message",
			   ret);
		FUZZ_CHECK(!memcmp(cfg, before, sizeof(*cfg)), "a refused file changed the config");
	} else {
		check_config(cfg);
	}
	return ret;
}

static bool is_secret_key(const char *list, const char *key)
{
	if (!strcmp(list, "credentials"))
		return !strcmp(key, "token") || !strcmp(key, "key");
	return !strcmp(key, "s3_access_key_id") || !strcmp(key, "s3_secret_access_key") ||
	       !strcmp(key, "s3_session_token");
}

/* Rotates the secrets of root's credentials and accounts in place; returns how many changed. */
static int rotate_secrets(json_object *root)
{
	static const char *const lists[] = { "credentials", "accounts" };
	json_object *arr, *item;
	size_t i, k, n, len;
	int changed = 0;
	char *s;

	for (k = 0; k < 2; k++) {
		if (!json_object_object_get_ex(root, lists[k], &arr) ||
		    !json_object_is_type(arr, json_type_array))
			continue;
		n = json_object_array_length(arr);
		for (i = 0; i < n; i++) {
			item = json_object_array_get_idx(arr, i);
			if (!json_object_is_type(item, json_type_object))
				continue;
			json_object_object_foreach(item, key, val)
			{
				if (!is_secret_key(lists[k], key) ||
				    !json_object_is_type(val, json_type_string))
					continue;
				len = json_object_get_string_len(val);
				s = malloc(len + 1);
				if (!s)
					abort();
				memcpy(s, json_object_get_string(val), len + 1);
				for (size_t j = 0; j < len; j++)
					s[j] = fuzz_rot(s[j]);
				changed += memcmp(s, json_object_get_string(val), len) != 0;
				json_object_set_string_len(val, s, len);
				free(s);
			}
		}
	}
	return changed;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char err[1024], twin_err[1024];
	json_object *root;
	struct json_tokener *tok;
	char *orig_text = NULL;
	const char *text;
	int ret, twin_ret;

	load(data, size, err, sizeof(err));

	/* The differential run, on JSON inputs only (both sides re-serialized by json-c). */
	tok = json_tokener_new();
	if (!tok)
		abort();
	root = json_tokener_parse_ex(tok, (const char *)data, size);
	json_tokener_free(tok);
	if (!root || !json_object_is_type(root, json_type_object))
		goto out;
	text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN);
	orig_text = strdup(text);
	if (!orig_text)
		abort();
	if (!rotate_secrets(root))
		goto out;
	ret = load(orig_text, strlen(orig_text), err, sizeof(err));
	text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN);
	twin_ret = load(text, strlen(text), twin_err, sizeof(twin_err));
	FUZZ_CHECK(ret == twin_ret, "a secret's content changed the result: %d vs %d\n  %s\n  %s",
		   ret, twin_ret, err, twin_err);
	FUZZ_CHECK(!strcmp(err, twin_err), "a message depends on a secret:\n  %s\n  %s", err,
		   twin_err);
out:
	free(orig_text);
	json_object_put(root);
	return 0;
}
