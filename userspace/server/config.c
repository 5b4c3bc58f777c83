// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xcapd's configuration: defaults, a JSON file, flags, and the first-start credentials.
 *
 * Keys of the file (all optional; userspace/xcapd.example.json is a full example):
 *   listen       string  "HOST:PORT": an IPv4 address, or an IPv6 one in brackets
 *                        ("[::1]:8080"); port 0..65535, 0 = any free port. Default 127.0.0.1:8080.
 *   tls_cert     string  PEM certificate path; tls_key is its private key. Both or neither
 *   tls_key      string  (neither = plain HTTP).
 *   state_dir    string  where xcapd keeps its state. Default "xcap-state", relative to the
 *                        working directory.
 *   interfaces   array   of interface names, at most 16, each 1..15 characters without '/', ':',
 *                        ',' or white space (the kernel's rule, and ',' that records use
 *                        between names), no duplicates. Default: none.
 *   colo         string  this host's site, e.g. "ord02"; metro its metro, e.g. "ORD": 1..63
 *   metro        string  characters of [0-9A-Za-z._-]. Defaults "local" and "LOCAL".
 *   sample_rate  integer the sampler keeps 1 packet in N; 0 = off; 0..1000000. Default 100.
 *   history_hours  integer  the sampled history keeps samples this long: 1..24. Default 24.
 *   history_mib    integer  ... within this disk budget in MiB: 16..1048576. Default 4096.
 *   history_rate   integer  ... at most this many samples per second: 1..1000000. Default 5000.
 *                           Whichever limit is hit first wins; the oldest minutes go first.
 *   frames_ring_mib integer the rings that carry captured frames to xcapd, in MiB, shared
 *                           by the CPUs (one ring each): a power of 2 in 1..1024. Default 32
 *                           (about 21000 frames of 1500 bytes in all).
 *   file_bucket_roots array of at most 16 absolute directory paths (no "..", not "/"): a
 *                        file:// bucket must be one of them or below one, once links are
 *                        resolved. Default: STATE_DIR/buckets. One that is missing is
 *                        created private (0700) at start.
 *   s3_endpoints array   of at most 16 "http(s)://HOST[:PORT]": the only endpoints that an
 *                        s3://, r2:// or gs:// URI may name with &endpoint=, written the same
 *                        way. Default: none (the services' own endpoints only).
 *   http_connections integer  the API's connections open at once: 16..65536. Default 512. The
 *                        last quarter of them is kept for addresses that have none open.
 *   http_connections_per_ip integer  ... from one address: 1..65536, at most
 *                        http_connections. Default 32.
 *   http_request_timeout integer  seconds a client has to send a whole request (headers and
 *                        body) from its connection or its previous answer on, 1..3600; then
 *                        the connection is closed. Default 10.
 *   retention_days integer simple captures (their files) and the records of ended captures are
 *                        deleted this many days after they were submitted: 0..3650, 0 = keep
 *                        forever. Default 7.
 *   buckets_per_account integer bucket records one account may have: 1..1000. Default 100.
 *   account_storage_mib integer capture files one account may keep in the state folder (simple
 *                        captures, full captures not yet delivered or kept after a failure),
 *                        in MiB: 0..1048576, 0 = no limit. Default 1024. A create beyond it is
 *                        refused, and a full capture stops at what is left of it.
 *   full_slots_per_account integer full captures pending or running for one account, whatever its
 *                        full_active: 1..64 (the host has 64). Default 16.
 *   database     string  fleet mode (xcapd agent, xcapd api): the PostgreSQL database, a libpq
 *                        connection string or URL ("host=/run/postgresql dbname=xcap",
 *                        "postgresql://xcap@db1/xcap"), 1..1023 characters.
 *   fleet_secret string  fleet mode: the secret the API processes sign their requests to the
 *                        agents' endpoints with, the same on every process: 16..255 printable
 *                        ASCII characters without spaces.
 *   agent_endpoint string  xcapd agent: "IPV4:PORT" where its internal endpoint listens,
 *                        registered for the API processes to reach (port 1..65535).
 *   host_name    string  xcapd agent: its name in the fleet and in its objects' names
 *                        (pcap_<id>_<host>.pcap): 1..63 characters of [0-9A-Za-z._-].
 *                        Default: the system's host name.
 *   vxlan_port   integer the UDP destination ports whose payload is read as VXLAN and as
 *   geneve_port          GENEVE (a tunnel, whose packet filters match too): 0..65535, 0 =
 *                        none. Defaults 4789 and 6081.
 *   accounts     array   of at most 64 objects:
 *     id                 1..32 characters of [0-9A-Za-z], unique (required)
 *     limits             object, optional; each member an integer, 0 = no limit:
 *       simple_per_minute  simple captures created per minute (default 1)
 *       full_active        full captures pending or running at once (default 1; 0 = up to
 *                          full_slots_per_account)
 *     s3_access_key_id      keys for the account's s3:// buckets, both or neither (else
 *     s3_secret_access_key  xcapd's AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY apply): 1..127
 *     s3_session_token      printable ASCII characters without spaces; the optional session
 *                           token (1..2047 of them) needs both keys
 *   credentials  array   of at most 256 objects, each either an API token (Bearer) or an
 *                        e-mail + key pair; the same token or pair twice is an error:
 *     token              \  1..255 printable ASCII characters without spaces
 *     email, key         /
 *     permission         "read" or "write" (required)
 *     accounts           non-empty array of ids from "accounts" (required); accounts are read
 *                        before credentials, so their order in the file does not matter.
 * Numbers are JSON integers: 1.0, 1e3 and "1" are refused. Unknown keys are refused at every
 * level. A file replaces what it names: its interfaces replace the list, and if it has accounts
 * or credentials, both lists are replaced together (credentials point at accounts by index).
 *
 * Flags (xcap_config_set) take the scalar keys by the same names, "interface" appending one
 * name where the file has the "interfaces" array (and "file_bucket_root", "s3_endpoint" one item
 * of theirs); one table below serves both.
 *
 * With no account configured, STATE_DIR/credentials.json holds them: the same format limited
 * to accounts and credentials, created on first start with one account and one write token.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <json-c/json.h>
#include "common/util.h"
#include "server/config.h"
#include "xcap_abi.h"
#include "common/file.h"
#include "common/ids.h"
#include "common/filter.h"
#include "common/log.h"
#include "server/dest.h"
#include "xcap_abi.h"

#define CREDS_FILE "credentials.json"
#define SECRET_MAX 255
#define TOKEN_LEN 40
#define FILE_MAX (4 << 20) /* far above the largest valid file (256 credentials) */
/* struct xcap_credential keeps its accounts as bits of a uint64_t. */
_Static_assert(XCAP_CFG_MAX_ACCOUNTS <= 64, "accounts do not fit the credential bit mask");

#define WHERE_MAX 128 /* a JSON path in messages, e.g. credentials[12].accounts[3] */

/* The caller's message buffer; prefix (a file name) starts every message if set. */
struct errbuf {
	char *buf;
	size_t size;
	const char *prefix;
};

static int __attribute__((format(printf, 3, 4)))
fail(struct errbuf *e, int ret, const char *fmt, ...)
{
	size_t n = 0;
	va_list ap;

	if (!e->size)
		return ret;
	if (e->prefix)
		n = snprintf(e->buf, e->size, "%s: ", e->prefix);
	if (n < e->size) {
		va_start(ap, fmt);
		vsnprintf(e->buf + n, e->size - n, fmt, ap);
		va_end(ap);
	}
	return ret;
}

static void clear_error(struct errbuf *e)
{
	if (e->size)
		e->buf[0] = '\0';
}

/* Value checks shared by the file and the flags. */

static bool valid_chars(const char *s, size_t max, const char *extra)
{
	size_t len = strlen(s);

	if (!len || len > max)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr(extra, *s))
			return false;
	return true;
}

static bool valid_permission(const char *s)
{
	return !strcmp(s, "read") || !strcmp(s, "write");
}

static bool valid_path(const char *s)
{
	return *s;
}

/* Absolute, without a ".." component: bootstrap resolves links, not climbs. */
static bool valid_root(const char *s)
{
	const char *p;

	if (s[0] != '/' || !s[strspn(s, "/")])
		return false;
	for (p = strstr(s, ".."); p; p = strstr(p + 1, ".."))
		if (p[-1] == '/' && (!p[2] || p[2] == '/'))
			return false;
	return true;
}

static bool valid_site(const char *s)
{
	return valid_chars(s, 63, "._-");
}

static bool valid_account_id(const char *s)
{
	return valid_chars(s, 32, "");
}

/* What HTTP headers can carry as one token: printable ASCII, no spaces. */
static bool valid_token(const char *s, size_t max)
{
	size_t len = strlen(s);

	if (!len || len > max)
		return false;
	for (; *s; s++)
		if (*s < 0x21 || *s > 0x7e)
			return false;
	return true;
}

static bool valid_fleet_secret(const char *s)
{
	return strlen(s) >= 16 && valid_token(s, SECRET_MAX);
}

static bool valid_database(const char *s)
{
	return *s;
}

/* IPv4:PORT, port 1..65535: an address the API processes can reach. */
static bool valid_endpoint(const char *s)
{
	const char *colon = strrchr(s, ':');
	char addr[INET_ADDRSTRLEN];
	struct in_addr a;
	uint64_t port;

	if (!colon || colon == s || (size_t)(colon - s) >= sizeof(addr))
		return false;
	memcpy(addr, s, colon - s);
	addr[colon - s] = '\0';
	return inet_pton(AF_INET, addr, &a) == 1 &&
	       !xcap_filter_parse_uint(colon + 1, 1, 65535, &port);
}

static bool valid_secret(const char *s)
{
	return valid_token(s, SECRET_MAX);
}

static bool valid_s3_key(const char *s)
{
	return valid_token(s, sizeof(((struct xcap_account *)0)->s3_access_key_id) - 1);
}

static bool valid_s3_token(const char *s)
{
	return valid_token(s, sizeof(((struct xcap_account *)0)->s3_session_token) - 1);
}

/* The kernel's dev_valid_name(), so that a name we accept is one the kernel could have. */
/*
 * The scalar keys. A setter returns 0, -EINVAL (the value is not what `expect` says), -E2BIG
 * (a list is full) or -EEXIST (a list has it already), and changes nothing on error.
 */
struct scalar_key {
	const char *name; /* the flag, and the file key unless file_list is set */
	const char *file_list; /* the file's key: an array whose items are set as flags */
	const char *expect;
	int (*set)(struct xcap_config *c, const struct scalar_key *k, const char *s, uint64_t n);
	bool number; /* a JSON integer or decimal flag min..max; else a string */
	uint64_t min; /* numbers: the smallest value */
	uint64_t max; /* numbers: the largest value; lists: the most items */
	size_t off, size; /* the field that set_string and set_u32 fill; a list's items */
	size_t count_off; /* lists: the int that counts the items */
	bool (*valid)(const char *s); /* set_string's check */
};

static int set_string(struct xcap_config *c, const struct scalar_key *k, const char *s, uint64_t n)
{
	(void)n;
	if (strlen(s) >= k->size || !k->valid(s))
		return -EINVAL;
	strcpy((char *)c + k->off, s);
	return 0;
}

static int set_u32(struct xcap_config *c, const struct scalar_key *k, const char *s, uint64_t n)
{
	(void)s;
	*(uint32_t *)((char *)c + k->off) = n;
	return 0;
}

/* HOST:PORT, HOST an address literal: the listener binds it without a name lookup. */
/* A ring's size: the kernel wants a power of 2. */
static int set_pow2(struct xcap_config *c, const struct scalar_key *k, const char *s, uint64_t n)
{
	if (n & (n - 1))
		return -EINVAL;
	return set_u32(c, k, s, n);
}

static int set_listen(struct xcap_config *c, const struct scalar_key *k, const char *s, uint64_t n)
{
	char addr[sizeof(c->listen_addr)];
	const char *host = s, *colon;
	int family = AF_INET;
	uint8_t bin[16];
	uint64_t port;
	size_t len;

	(void)k;
	(void)n;
	if (*s == '[') {
		host = s + 1;
		colon = strchr(host, ']');
		if (!colon || colon[1] != ':')
			return -EINVAL;
		len = colon++ - host;
		family = AF_INET6;
	} else {
		colon = strchr(s, ':');
		if (!colon)
			return -EINVAL;
		len = colon - s;
	}
	if (!len || len >= sizeof(addr))
		return -EINVAL;
	memcpy(addr, host, len);
	addr[len] = '\0';
	if (inet_pton(family, addr, bin) != 1 || xcap_filter_parse_uint(colon + 1, 0, 65535, &port))
		return -EINVAL;
	strcpy(c->listen_addr, addr);
	c->listen_port = port;
	return 0;
}

/* Appends one item to a list: k->max items of k->size bytes at k->off, their count at count_off. */
static int set_list(struct xcap_config *c, const struct scalar_key *k, const char *s, uint64_t n)
{
	int *count = (int *)((char *)c + k->count_off);
	char *items = (char *)c + k->off;
	int i;

	(void)n;
	if (strlen(s) >= k->size || !k->valid(s))
		return -EINVAL;
	for (i = 0; i < *count; i++)
		if (!strcmp(items + i * k->size, s))
			return -EEXIST;
	if ((uint64_t)*count == k->max)
		return -E2BIG;
	strcpy(items + (*count)++ * k->size, s);
	return 0;
}

#define STR_KEY(key, field, check, what)                                                         \
	{                                                                                        \
		.name = key, .set = set_string, .off = offsetof(struct xcap_config, field),      \
		.size = sizeof(((struct xcap_config *)0)->field), .valid = check, .expect = what \
	}

#define U32_KEY(key, field, lo, hi, what)                                          \
	{                                                                          \
		.name = key, .set = set_u32, .number = true, .min = lo, .max = hi, \
		.off = offsetof(struct xcap_config, field), .expect = what         \
	}

#define LIST_KEY(key, list, field, count, most, check, what)                                     \
	{                                                                                        \
		.name = key, .file_list = list, .set = set_list, .max = most,                    \
		.off = offsetof(struct xcap_config, field),                                      \
		.size = sizeof(((struct xcap_config *)0)->field[0]),                             \
		.count_off = offsetof(struct xcap_config, count), .valid = check, .expect = what \
	}

static const struct scalar_key scalar_keys[] = {
	{ .name = "listen",
	  .set = set_listen,
	  .expect = "HOST:PORT with HOST an IPv4 address or a bracketed IPv6 one ([::1]:8080) "
		    "and PORT 0..65535" },
	STR_KEY("tls_cert", tls_cert, valid_path, "a non-empty file path"),
	STR_KEY("tls_key", tls_key, valid_path, "a non-empty file path"),
	STR_KEY("state_dir", state_dir, valid_path, "a non-empty directory path"),
	LIST_KEY("interface", "interfaces", ifaces, n_ifaces, XCAP_MAX_IFACES,
		 xcap_filter_valid_ifname,
		 "an interface name of 1..15 characters without '/', ':', ',' or white space"),
	STR_KEY("colo", colo, valid_site, "1..63 characters of [0-9A-Za-z._-]"),
	STR_KEY("metro", metro, valid_site, "1..63 characters of [0-9A-Za-z._-]"),
	{ .name = "sample_rate",
	  .set = set_u32,
	  .number = true,
	  .max = 1000000,
	  .off = offsetof(struct xcap_config, sample_every),
	  .expect = "an integer 0..1000000 (1 packet in N, 0 = off)" },
	U32_KEY("history_hours", history_hours, 1, 24, "an integer 1..24 (hours)"),
	U32_KEY("history_mib", history_mib, 16, 1048576, "an integer 16..1048576 (MiB)"),
	U32_KEY("history_rate", history_rate, 1, 1000000, "an integer 1..1000000 (samples/s)"),
	{ .name = "frames_ring_mib",
	  .set = set_pow2,
	  .number = true,
	  .min = 1,
	  .max = 1024,
	  .off = offsetof(struct xcap_config, frames_ring_mib),
	  .expect = "a power of 2 in 1..1024 (MiB)" },
	LIST_KEY("file_bucket_root", "file_bucket_roots", file_bucket_roots, n_roots,
		 XCAP_CFG_MAX_ROOTS, valid_root,
		 "an absolute directory path without '..', other than /"),
	LIST_KEY("s3_endpoint", "s3_endpoints", s3_endpoints, n_endpoints, XCAP_CFG_MAX_ENDPOINTS,
		 xcap_dest_endpoint_valid, "an endpoint http(s)://HOST[:PORT]"),
	U32_KEY("http_connections", http_connections, 16, 65536,
		"an integer 16..65536 (connections open at once)"),
	U32_KEY("http_connections_per_ip", http_connections_per_ip, 1, 65536,
		"an integer 1..65536 (connections from one address)"),
	U32_KEY("http_request_timeout", http_request_timeout, 1, 3600,
		"an integer 1..3600 (seconds to send a whole request)"),
	U32_KEY("retention_days", retention_days, 0, 3650,
		"an integer 0..3650 (days; 0 = keep forever)"),
	U32_KEY("buckets_per_account", buckets_per_account, 1, XCAP_BUCKETS_MAX,
		"an integer 1..1000"),
	U32_KEY("account_storage_mib", account_storage_mib, 0, 1048576,
		"an integer 0..1048576 (MiB; 0 = no limit)"),
	U32_KEY("full_slots_per_account", full_slots_per_account, 1, XCAP_MAX_CAPTURES,
		"an integer 1..64 (full captures pending or running per account)"),
	STR_KEY("database", database, valid_database,
		"a PostgreSQL connection string or URL (fleet mode)"),
	STR_KEY("fleet_secret", fleet_secret, valid_fleet_secret,
		"16..255 printable ASCII characters without spaces"),
	STR_KEY("agent_endpoint", agent_endpoint, valid_endpoint,
		"IPV4:PORT with PORT 1..65535 (the agent's internal endpoint)"),
	STR_KEY("host_name", host_name, valid_site, "1..63 characters of [0-9A-Za-z._-]"),
	/* Tunnels. */
	U32_KEY("vxlan_port", vxlan_port, 0, 65535, "a UDP port 0..65535 (0 = no VXLAN)"),
	U32_KEY("geneve_port", geneve_port, 0, 65535, "a UDP port 0..65535 (0 = no GENEVE)"),
};

static const struct scalar_key *find_key(const char *name, bool file)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(scalar_keys); i++) {
		const struct scalar_key *k = &scalar_keys[i];

		if (!strcmp(name, file && k->file_list ? k->file_list : k->name))
			return k;
	}
	return NULL;
}

/* Runs the setter and words its error; `where` names the value, e.g. interfaces[2]. */
static int apply_key(struct xcap_config *c, const struct scalar_key *k, const char *where,
		     const char *s, uint64_t n, struct errbuf *e)
{
	switch (k->set(c, k, s, n)) {
	case 0:
		return 0;
	case -E2BIG:
		return fail(e, -EINVAL, "%s: too many values (at most %llu)", where,
			    (unsigned long long)k->max);
	case -EEXIST:
		return fail(e, -EINVAL, "%s: \"%s\" is listed twice", where, s);
	default:
		return fail(e, -EINVAL, "%s: expected %s", where, k->expect);
	}
}

/* JSON value access: an integer in [0, max], or a string without NUL bytes. */

static bool json_uint(struct json_object *v, uint64_t max, uint64_t *out)
{
	int64_t n;

	/* json-c saturates integers beyond 64 bits, so the range check still holds. */
	if (!json_object_is_type(v, json_type_int))
		return false;
	n = json_object_get_int64(v);
	if (n < 0 || (uint64_t)n > max)
		return false;
	*out = n;
	return true;
}

static const char *json_str(struct json_object *v)
{
	const char *s;

	if (!json_object_is_type(v, json_type_string))
		return NULL;
	s = json_object_get_string(v);
	return strlen(s) == (size_t)json_object_get_string_len(v) ? s : NULL;
}

static int apply_json(struct xcap_config *c, const struct scalar_key *k, const char *where,
		      struct json_object *v, struct errbuf *e)
{
	const char *s = "";
	uint64_t n = 0;

	if (k->number ? !json_uint(v, k->max, &n) || n < k->min : !(s = json_str(v)))
		return fail(e, -EINVAL, "%s: expected %s", where, k->expect);
	return apply_key(c, k, where, s, n, e);
}

/* A file list replaces the current one, so the file and its flags do not mix silently. */
static int apply_json_list(struct xcap_config *c, const struct scalar_key *k,
			   struct json_object *arr, struct errbuf *e)
{
	char where[WHERE_MAX];
	size_t i, len;
	int ret;

	if (!json_object_is_type(arr, json_type_array))
		return fail(e, -EINVAL, "%s: expected an array of %s", k->file_list, k->expect);
	len = json_object_array_length(arr);
	if (len > k->max)
		return fail(e, -EINVAL, "%s: too many values (at most %llu)", k->file_list,
			    (unsigned long long)k->max);
	*(int *)((char *)c + k->count_off) = 0;
	for (i = 0; i < len; i++) {
		snprintf(where, sizeof(where), "%s[%zu]", k->file_list, i);
		ret = apply_json(c, k, where, json_object_array_get_idx(arr, i), e);
		if (ret)
			return ret;
	}
	return 0;
}

/* Objects: `where` is the object's JSON path, "" at the top level. */

static void member_path(char *buf, size_t size, const char *where, const char *key)
{
	snprintf(buf, size, "%s%s%s", where, *where ? "." : "", key);
}

static int check_keys(struct json_object *obj, const char *where, const char *const *keys,
		      struct errbuf *e)
{
	char path[WHERE_MAX];
	size_t i;

	if (!json_object_is_type(obj, json_type_object))
		return fail(e, -EINVAL, "%s: expected an object", where);
	json_object_object_foreach(obj, key, val)
	{
		(void)val;
		for (i = 0; keys[i] && strcmp(keys[i], key); i++)
			;
		if (!keys[i]) {
			member_path(path, sizeof(path), where, key);
			return fail(e, -EINVAL, "%s: unknown key", path);
		}
	}
	return 0;
}

/*
 * obj.key as a string passing check: 0 with *out set (NULL if absent and optional), or an
 * error that says what is expected.
 */
static int member_str(struct json_object *obj, const char *where, const char *key, bool required,
		      bool (*check)(const char *s), const char *expect, const char **out,
		      struct errbuf *e)
{
	struct json_object *v;

	*out = NULL;
	if (!json_object_object_get_ex(obj, key, &v)) {
		if (!required)
			return 0;
		return fail(e, -EINVAL, "%s.%s: missing (expected %s)", where, key, expect);
	}
	*out = json_str(v);
	if (!*out || !check(*out))
		return fail(e, -EINVAL, "%s.%s: expected %s", where, key, expect);
	return 0;
}

static const struct {
	const char *name;
	size_t off;
} limit_keys[] = {
	{ "simple_per_minute", offsetof(struct xcap_account, simple_per_minute) },
	{ "full_active", offsetof(struct xcap_account, full_active) },
};

static int parse_limits(struct xcap_account *a, struct json_object *obj, const char *where,
			struct errbuf *e)
{
	static const char *const keys[] = { "simple_per_minute", "full_active", NULL };
	struct json_object *v;
	uint64_t n;
	size_t i;
	int ret;

	ret = check_keys(obj, where, keys, e);
	if (ret)
		return ret;
	for (i = 0; i < ARRAY_SIZE(limit_keys); i++) {
		if (!json_object_object_get_ex(obj, limit_keys[i].name, &v))
			continue;
		if (!json_uint(v, UINT32_MAX, &n))
			return fail(e, -EINVAL, "%s.%s: expected an integer 0..%u (0 = no limit)",
				    where, limit_keys[i].name, UINT32_MAX);
		*(uint32_t *)((char *)a + limit_keys[i].off) = n;
	}
	return 0;
}

/* The account's S3 keys: both or neither, and a session token only with them. */
static int parse_s3_keys(struct xcap_account *a, struct json_object *obj, const char *where,
			 struct errbuf *e)
{
	static const char expect[] = "1..127 printable ASCII characters without spaces";
	const char *id, *secret, *token;
	int ret;

	ret = member_str(obj, where, "s3_access_key_id", false, valid_s3_key, expect, &id, e);
	if (!ret)
		ret = member_str(obj, where, "s3_secret_access_key", false, valid_s3_key, expect,
				 &secret, e);
	if (!ret)
		ret = member_str(obj, where, "s3_session_token", false, valid_s3_token,
				 "1..2047 printable ASCII characters without spaces", &token, e);
	if (ret)
		return ret;
	if (!id != !secret)
		return fail(
			e, -EINVAL,
			"%s.%s: missing (s3_access_key_id and s3_secret_access_key go together)",
			where, id ? "s3_secret_access_key" : "s3_access_key_id");
	if (token && !id)
		return fail(e, -EINVAL,
			    "%s.s3_session_token: needs s3_access_key_id and s3_secret_access_key",
			    where);
	snprintf(a->s3_access_key_id, sizeof(a->s3_access_key_id), "%s", id ?: "");
	snprintf(a->s3_secret_access_key, sizeof(a->s3_secret_access_key), "%s", secret ?: "");
	snprintf(a->s3_session_token, sizeof(a->s3_session_token), "%s", token ?: "");
	return 0;
}

static int parse_account(struct xcap_config *c, struct json_object *obj, const char *where,
			 struct errbuf *e)
{
	static const char *const keys[] = {
		"id", "limits", "s3_access_key_id", "s3_secret_access_key", "s3_session_token", NULL
	};
	struct xcap_account *a = &c->accounts[c->n_accounts];
	char path[WHERE_MAX];
	struct json_object *limits;
	const char *id;
	int ret;

	ret = check_keys(obj, where, keys, e);
	if (!ret)
		ret = member_str(obj, where, "id", true, valid_account_id,
				 "1..32 characters of [0-9A-Za-z]", &id, e);
	if (ret)
		return ret;
	if (xcap_config_account(c, id) >= 0)
		return fail(e, -EINVAL, "%s.id: duplicate account id \"%s\"", where, id);
	memset(a, 0, sizeof(*a));
	strcpy(a->id, id);
	a->simple_per_minute = 1;
	a->full_active = 1;
	ret = parse_s3_keys(a, obj, where, e);
	if (ret)
		return ret;
	if (json_object_object_get_ex(obj, "limits", &limits)) {
		member_path(path, sizeof(path), where, "limits");
		ret = parse_limits(a, limits, path, e);
		if (ret)
			return ret;
	}
	c->n_accounts++;
	return 0;
}

static int parse_cred_accounts(struct xcap_config *c, struct xcap_credential *cr,
			       struct json_object *obj, const char *where, struct errbuf *e)
{
	struct json_object *arr;
	const char *id;
	size_t i, len;
	int idx;

	if (!json_object_object_get_ex(obj, "accounts", &arr) ||
	    !json_object_is_type(arr, json_type_array) || !json_object_array_length(arr))
		return fail(e, -EINVAL, "%s.accounts: expected a non-empty array of account ids",
			    where);
	len = json_object_array_length(arr);
	for (i = 0; i < len; i++) {
		id = json_str(json_object_array_get_idx(arr, i));
		if (!id)
			return fail(e, -EINVAL, "%s.accounts[%zu]: expected an account id", where,
				    i);
		idx = xcap_config_account(c, id);
		if (idx < 0)
			return fail(e, -EINVAL,
				    "%s.accounts[%zu]: unknown account \"%s\" (not in accounts)",
				    where, i, id);
		cr->accounts |= 1ULL << idx;
	}
	return 0;
}

static int check_unique_cred(const struct xcap_config *c, const struct xcap_credential *cr,
			     const char *where, struct errbuf *e)
{
	int i;

	for (i = 0; i < c->n_creds; i++) {
		if (strcmp(c->creds[i].email, cr->email) || strcmp(c->creds[i].secret, cr->secret))
			continue;
		/* Never echo the secret itself. */
		return fail(e, -EINVAL, "%s: same %s as credentials[%d]", where,
			    *cr->email ? "email and key" : "token", i);
	}
	return 0;
}

static int parse_credential(struct xcap_config *c, struct json_object *obj, const char *where,
			    struct errbuf *e)
{
	static const char *const keys[] = {
		"token", "email", "key", "permission", "accounts", NULL
	};
	static const char secret_expect[] = "1..255 printable ASCII characters without spaces";
	struct xcap_credential *cr = &c->creds[c->n_creds];
	const char *token, *email, *key, *perm;
	int ret;

	ret = check_keys(obj, where, keys, e);
	if (!ret)
		ret = member_str(obj, where, "token", false, valid_secret, secret_expect, &token,
				 e);
	if (!ret)
		ret = member_str(obj, where, "email", false, valid_secret, secret_expect, &email,
				 e);
	if (!ret)
		ret = member_str(obj, where, "key", false, valid_secret, secret_expect, &key, e);
	if (ret)
		return ret;
	if (token && (email || key))
		return fail(e, -EINVAL, "%s: expected either token, or email and key, not both",
			    where);
	if (!token && !email && !key)
		return fail(e, -EINVAL, "%s: expected token, or email and key", where);
	if (!token && (!email || !key))
		return fail(e, -EINVAL, "%s.%s: missing (email and key go together)", where,
			    email ? "key" : "email");

	ret = member_str(obj, where, "permission", true, valid_permission, "\"read\" or \"write\"",
			 &perm, e);
	if (ret)
		return ret;

	memset(cr, 0, sizeof(*cr));
	strcpy(cr->email, token ? "" : email);
	strcpy(cr->secret, token ?: key);
	cr->write = !strcmp(perm, "write");
	ret = parse_cred_accounts(c, cr, obj, where, e);
	if (!ret)
		ret = check_unique_cred(c, cr, where, e);
	if (!ret)
		c->n_creds++;
	return ret;
}

typedef int (*parse_item_fn)(struct xcap_config *c, struct json_object *obj, const char *where,
			     struct errbuf *e);

static int parse_list(struct xcap_config *c, struct json_object *root, const char *key, int max,
		      const char *what, parse_item_fn parse_item, struct errbuf *e)
{
	char where[WHERE_MAX];
	struct json_object *arr;
	size_t i, len;
	int ret;

	if (!json_object_object_get_ex(root, key, &arr))
		return 0;
	if (!json_object_is_type(arr, json_type_array))
		return fail(e, -EINVAL, "%s: expected an array of %s objects", key, what);
	len = json_object_array_length(arr);
	if (len > (size_t)max)
		return fail(e, -EINVAL, "%s: too many %ss (at most %d)", key, what, max);
	for (i = 0; i < len; i++) {
		snprintf(where, sizeof(where), "%s[%zu]", key, i);
		ret = parse_item(c, json_object_array_get_idx(arr, i), where, e);
		if (ret)
			return ret;
	}
	return 0;
}

static bool root_key_known(const char *key, bool creds_only)
{
	if (!strcmp(key, "accounts") || !strcmp(key, "credentials"))
		return true;
	return !creds_only && find_key(key, true);
}

static int parse_root(struct xcap_config *c, struct json_object *root, bool creds_only,
		      struct errbuf *e)
{
	struct json_object *v;
	size_t i;
	int ret;

	if (!json_object_is_type(root, json_type_object))
		return fail(e, -EINVAL, "expected a JSON object at the top level, not %s",
			    json_type_to_name(json_object_get_type(root)));
	json_object_object_foreach(root, key, val)
	{
		(void)val;
		if (!root_key_known(key, creds_only))
			return fail(e, -EINVAL, "%s: unknown key%s", key,
				    creds_only ? " (this file holds accounts and credentials)" :
						 "");
	}
	for (i = 0; i < ARRAY_SIZE(scalar_keys) && !creds_only; i++) {
		const struct scalar_key *k = &scalar_keys[i];
		const char *name = k->file_list ?: k->name;

		if (!json_object_object_get_ex(root, name, &v))
			continue;
		ret = k->file_list ? apply_json_list(c, k, v, e) : apply_json(c, k, name, v, e);
		if (ret)
			return ret;
	}
	if (!json_object_object_get_ex(root, "accounts", NULL) &&
	    !json_object_object_get_ex(root, "credentials", NULL))
		return 0;
	/* Accounts first, wherever they are in the file: credentials refer to them. */
	c->n_accounts = 0;
	c->n_creds = 0;
	ret = parse_list(c, root, "accounts", XCAP_CFG_MAX_ACCOUNTS, "account", parse_account, e);
	if (!ret)
		ret = parse_list(c, root, "credentials", XCAP_CFG_MAX_CREDS, "credential",
				 parse_credential, e);
	return ret;
}

/* Whole-config rules, checked once every source has been applied. */
static int check_rules(const struct xcap_config *c, struct errbuf *e)
{
	if (!*c->tls_cert != !*c->tls_key)
		return fail(e, -EINVAL, "%s: missing (tls_cert and tls_key go together)",
			    *c->tls_cert ? "tls_key" : "tls_cert");
	if (c->http_connections_per_ip > c->http_connections)
		return fail(e, -EINVAL,
			    "http_connections_per_ip: %u is more than http_connections (%u)",
			    c->http_connections_per_ip, c->http_connections);
	return 0;
}

static void line_col(const char *buf, size_t off, int *line, int *col)
{
	const char *nl = NULL;
	size_t i;

	*line = 1;
	for (i = 0; i < off; i++) {
		if (buf[i] == '\n') {
			(*line)++;
			nl = buf + i;
		}
	}
	*col = buf + off - (nl ? nl + 1 : buf) + 1;
}

/* buf is NUL-terminated: passing the NUL lets json-c finish a value that ends the input. */
static int parse_json(const char *buf, size_t len, struct json_object **out, struct errbuf *e)
{
	struct json_tokener *tok;
	const char *what = NULL;
	size_t end;
	int line, col;

	tok = json_tokener_new();
	if (!tok)
		return fail(e, -ENOMEM, "out of memory");
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	*out = json_tokener_parse_ex(tok, buf, len + 1);
	end = json_tokener_get_parse_end(tok);
	if (!*out)
		what = json_tokener_error_desc(json_tokener_get_error(tok));
	else if (end < len && buf[end + strspn(buf + end, " \t\r\n")])
		what = "unexpected data after the JSON value"; /* a NUL byte in the file */
	json_tokener_free(tok);
	if (!what)
		return 0;
	json_object_put(*out);
	*out = NULL;
	line_col(buf, end > len ? len : end, &line, &col);
	return fail(e, -EINVAL, "not valid JSON: %s at line %d, column %d", what, line, col);
}

/* Parses into a copy, so that a bad file changes nothing. */
static int load_file(struct xcap_config *c, const char *path, bool creds_only, struct errbuf *e)
{
	struct xcap_config *tmp = NULL;
	struct json_object *root = NULL;
	char *buf = NULL;
	size_t len = 0;
	int ret;

	e->prefix = path;
	/* A pipe works too, e.g. --config <(...). */
	ret = xcap_file_read(path, FILE_MAX, &buf, &len);
	if (ret) {
		ret = fail(e, ret, "%s", ret == -EFBIG ? "larger than 4 MiB" : strerror(-ret));
		goto out;
	}
	ret = parse_json(buf, len, &root, e);
	if (ret)
		goto out;
	tmp = malloc(sizeof(*tmp));
	if (!tmp) {
		ret = fail(e, -ENOMEM, "out of memory");
		goto out;
	}
	*tmp = *c;
	ret = parse_root(tmp, root, creds_only, e);
	if (!ret)
		ret = check_rules(tmp, e);
	if (!ret)
		*c = *tmp;
out:
	free(tmp);
	json_object_put(root);
	free(buf);
	e->prefix = NULL;
	return ret;
}

void xcap_config_init(struct xcap_config *c)
{
	memset(c, 0, sizeof(*c));
	strcpy(c->listen_addr, "127.0.0.1");
	c->listen_port = 8080;
	strcpy(c->state_dir, "xcap-state");
	strcpy(c->colo, "local");
	strcpy(c->metro, "LOCAL");
	c->sample_every = 100;
	c->history_hours = 24;
	c->history_mib = 4096;
	c->history_rate = 5000;
	c->frames_ring_mib = 32;
	c->http_connections = 512;
	c->http_connections_per_ip = 32;
	c->http_request_timeout = 10;
	c->retention_days = 7;
	c->buckets_per_account = 100;
	c->account_storage_mib = 1024;
	c->full_slots_per_account = 16;
	c->vxlan_port = XCAP_VXLAN_PORT;
	c->geneve_port = XCAP_GENEVE_PORT;
}

int xcap_config_load(struct xcap_config *c, const char *path, char *err, size_t err_size)
{
	struct errbuf e = { err, err_size, NULL };

	return load_file(c, path, false, &e);
}

int xcap_config_set(struct xcap_config *c, const char *key, const char *value, char *err,
		    size_t err_size)
{
	const struct scalar_key *k = find_key(key, false);
	struct errbuf e = { err, err_size, NULL };
	uint64_t n = 0;

	if (!k)
		return fail(&e, -EINVAL, "%s: unknown key", key);
	if (!value)
		return fail(&e, -EINVAL, "%s: expected %s", key, k->expect);
	if (k->number && xcap_filter_parse_uint(value, k->min, k->max, &n))
		return fail(&e, -EINVAL, "%s: expected %s", key, k->expect);
	return apply_key(c, k, key, value, n, &e);
}

int xcap_config_key(size_t i, const char **name, const char **expect, bool *number)
{
	if (i >= ARRAY_SIZE(scalar_keys))
		return -ENOENT;
	*name = scalar_keys[i].name;
	*expect = scalar_keys[i].expect;
	*number = scalar_keys[i].number;
	return 0;
}

int xcap_config_account(const struct xcap_config *c, const char *id)
{
	int i;

	for (i = 0; i < c->n_accounts; i++)
		if (!strcmp(c->accounts[i].id, id))
			return i;
	return -1;
}

/* First start: a random account and write token, stored before they are shown. */
/* 32 lowercase hex (the API's id form) and 40 of a 64-symbol alphabet (240 bits). */
static int random_ids(char id[33], char token[TOKEN_LEN + 1])
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	uint8_t rnd[TOKEN_LEN];
	int i, ret;

	ret = xcap_ids_random_hex(id, 16) ?: xcap_ids_random_bytes(rnd, sizeof(rnd));
	if (ret)
		return ret;
	for (i = 0; i < TOKEN_LEN; i++)
		token[i] = b64[rnd[i] & 63];
	token[TOKEN_LEN] = '\0';
	return 0;
}

/* mkdir -p; the folders we create are private (0700), existing ones are left as they are. */
static int mkdir_p(const char *dir)
{
	char buf[PATH_MAX];
	char *p;

	if (strlen(dir) >= sizeof(buf))
		return -ENAMETOOLONG;
	strcpy(buf, dir);
	for (p = buf + 1;; p++) {
		if (*p && *p != '/')
			continue;
		if (p[-1] != '/') {
			char c = *p;

			*p = '\0';
			if (mkdir(buf, 0700) && errno != EEXIST)
				return -errno;
			*p = c;
		}
		if (!*p)
			return 0;
	}
}

/*
 * The state folder: created private (0700), and made private when it is not: it holds the store
 * (with r2 keys), capture files and credentials.json, whatever the umask was when it was made.
 */
static int make_state_dir(const struct xcap_config *c, struct errbuf *e)
{
	struct stat st;
	int ret = mkdir_p(c->state_dir);

	if (!ret && stat(c->state_dir, &st))
		ret = -errno;
	if (ret)
		return fail(e, ret, "state_dir: cannot create %s: %s", c->state_dir,
			    strerror(-ret));
	if (!S_ISDIR(st.st_mode))
		return fail(e, -ENOTDIR, "state_dir: %s is not a directory", c->state_dir);
	if (!(st.st_mode & 077))
		return 0;
	if (chmod(c->state_dir, 0700))
		return fail(e, -errno, "state_dir: cannot make %s private (chmod 700): %s",
			    c->state_dir, strerror(errno));
	pr_info("state_dir %s: mode %03o made 700\n", c->state_dir, st.st_mode & 0777);
	return 0;
}

static int fill_text(int fd, const void *text)
{
	return xcap_file_write_all(fd, text, strlen(text));
}

/*
 * Writes DIR/NAME (0600) without replacing it: if another xcapd created the file meanwhile,
 * -EEXIST says to load that one.
 */
static int write_private_file(const char *dir, const char *name, const char *data)
{
	int dirfd, ret;

	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return -errno;
	ret = xcap_file_put_new(dirfd, name, fill_text, data);
	close(dirfd);
	return ret;
}

static const char creds_template[] =
	"{\n"
	"\t\"accounts\": [\n"
	"\t\t{\"id\": \"%s\", \"limits\": {\"simple_per_minute\": 1, \"full_active\": 1}}\n"
	"\t],\n"
	"\t\"credentials\": [\n"
	"\t\t{\"token\": \"%s\", \"permission\": \"write\", \"accounts\": [\"%s\"]}\n"
	"\t]\n"
	"}\n";

static int create_creds(struct xcap_config *c, const char *path, FILE *out, struct errbuf *e)
{
	char id[33], token[TOKEN_LEN + 1], data[sizeof(creds_template) + 2 * 32 + TOKEN_LEN];
	struct xcap_credential *cr = &c->creds[0];
	struct xcap_account *a = &c->accounts[0];
	int ret;

	ret = random_ids(id, token);
	if (ret)
		return fail(e, ret, "getrandom: %s", strerror(-ret));
	ret = make_state_dir(c, e);
	if (ret)
		return ret;
	snprintf(data, sizeof(data), creds_template, id, token, id);
	ret = write_private_file(c->state_dir, CREDS_FILE, data);
	if (ret == -EEXIST)
		return -EEXIST;
	if (ret)
		return fail(e, ret, "cannot write %s: %s", path, strerror(-ret));

	memset(a, 0, sizeof(*a));
	strcpy(a->id, id);
	a->simple_per_minute = 1;
	a->full_active = 1;
	c->n_accounts = 1;
	memset(cr, 0, sizeof(*cr));
	strcpy(cr->secret, token);
	cr->write = true;
	cr->accounts = 1;
	c->n_creds = 1;
	/* Not into a log or a journal: whoever may read the file may read the token. */
	if (out) {
		fprintf(out, "account: %s\ntoken: %s\nstored in: %s\n", id, token, path);
		fflush(out);
	} else {
		pr_info("first start: created account %s and a write token; the token is in %s\n",
			id, path);
	}
	return 0;
}

/* The secrets file should be private; say so rather than refuse, the owner may have reasons. */
static void warn_if_shared(const char *path)
{
	struct stat st;

	if (!stat(path, &st) && (st.st_mode & 077))
		pr_warn("%s is readable by other users (mode %03o): chmod 600 it\n", path,
			st.st_mode & 0777);
}

/*
 * mkdir_p would make dir: the nearest part of it that exists is a folder we
 * may write in. Nothing is created; a path that is not a folder is named.
 */
static int check_creatable(const char *key, const char *dir, struct errbuf *e)
{
	char buf[PATH_MAX], *slash;
	struct stat st;

	if (strlen(dir) >= sizeof(buf))
		return fail(e, -ENAMETOOLONG, "%s: too long", key);
	strcpy(buf, dir);
	while (stat(buf, &st)) {
		/* ENOTDIR: a file on the way, which the loop reaches and names. */
		if (errno != ENOENT && errno != ENOTDIR)
			return fail(e, -errno, "%s: cannot create %s: %s: %s", key, dir, buf,
				    strerror(errno));
		slash = strrchr(buf, '/');
		while (slash && slash > buf && slash[-1] == '/')
			slash--;
		if (!slash)
			strcpy(buf, ".");
		else
			slash[slash == buf] = '\0'; /* "/x" leaves "/" */
	}
	if (!S_ISDIR(st.st_mode))
		return fail(e, -ENOTDIR, "%s: cannot create %s: %s is not a folder", key, dir, buf);
	if (access(buf, W_OK | X_OK))
		return fail(e, -errno, "%s: cannot create %s in %s: %s", key, dir, buf,
			    strerror(errno));
	return 0;
}

/* A file the start reads later (http.c parses the TLS pair): named now if it cannot be read. */
static int check_readable(const char *key, const char *path, struct errbuf *e)
{
	if (!*path || !access(path, R_OK))
		return 0;
	return fail(e, -errno, "%s: cannot read %s: %s", key, path, strerror(errno));
}

/* One root as a real path: a directory, not "/" once links are resolved. Nothing changes. */
static int resolve_root(struct xcap_config *c, int i, struct errbuf *e)
{
	char *root = c->file_bucket_roots[i], *real = c->file_bucket_real[i];
	struct stat st;

	if (!realpath(root, real) || stat(real, &st))
		return fail(e, -errno, "file_bucket_roots[%d]: %s: %s", i, root, strerror(errno));
	if (!S_ISDIR(st.st_mode) || !strcmp(real, "/"))
		return fail(e, -EINVAL, "file_bucket_roots[%d]: %s%s is not a directory below /", i,
			    root, strcmp(root, real) ? " (resolved)" : "");
	return 0;
}

/* A root that does not exist yet is one make_state can create. */
static int check_root(struct xcap_config *c, int i, struct errbuf *e)
{
	char key[32];
	int ret = resolve_root(c, i, e);

	if (ret != -ENOENT)
		return ret;
	clear_error(e);
	snprintf(key, sizeof(key), "file_bucket_roots[%d]", i);
	return check_creatable(key, c->file_bucket_roots[i], e);
}

int xcap_config_prepare(struct xcap_config *c, char *err, size_t err_size)
{
	struct errbuf e = { err, err_size, NULL };
	char path[PATH_MAX];
	int i, ret;

	/* The last step after the file and the flags: a flag may have set half of the pair. */
	ret = check_rules(c, &e);
	if (!ret)
		ret = check_readable("tls_cert", c->tls_cert, &e) ?:
			      check_readable("tls_key", c->tls_key, &e);
	for (i = 0; !ret && i < c->n_roots; i++)
		ret = check_root(c, i, &e);
	if (!ret && !c->n_accounts) {
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", c->state_dir, CREDS_FILE) >=
		    sizeof(path))
			return fail(&e, -ENAMETOOLONG, "state_dir: too long");
		ret = load_file(c, path, true, &e);
		/* No file, or no folder for it: bootstrap creates them, if it can. */
		if (ret == -ENOENT || ret == -ENOTDIR) {
			clear_error(&e);
			return check_creatable("state_dir", c->state_dir, &e);
		}
		if (!ret)
			warn_if_shared(path);
	}
	if (ret)
		return ret;
	if (!c->n_accounts)
		return fail(&e, -EINVAL, "accounts: at least one account is needed");
	if (!c->n_creds)
		return fail(&e, -EINVAL, "credentials: at least one credential is needed");
	return 0;
}

int xcap_config_bootstrap(struct xcap_config *c, FILE *out, char *err, size_t err_size)
{
	struct errbuf e = { err, err_size, NULL };
	char path[PATH_MAX];
	int ret;

	ret = xcap_config_prepare(c, err, err_size);
	if (ret || c->n_accounts)
		return ret;
	snprintf(path, sizeof(path), "%s/%s", c->state_dir, CREDS_FILE);
	ret = create_creds(c, path, out, &e);
	if (ret == -EEXIST) /* another xcapd won the race: use its file */
		ret = load_file(c, path, true, &e);
	return ret ?: xcap_config_prepare(c, err, err_size);
}

int xcap_config_make_state(struct xcap_config *c, char *err, size_t err_size)
{
	struct errbuf e = { err, err_size, NULL };
	char *root = c->file_bucket_roots[0];
	int i, ret;

	ret = make_state_dir(c, &e);
	if (ret)
		return ret;
	if (!c->n_roots) {
		if (snprintf(root, PATH_MAX, "%s/buckets", c->state_dir) >= PATH_MAX)
			return fail(&e, -ENAMETOOLONG, "state_dir: too long");
		if (mkdir(root, 0700) && errno != EEXIST)
			return fail(&e, -errno, "file_bucket_roots: cannot create %s: %s", root,
				    strerror(errno));
		c->n_roots = 1;
	}
	for (i = 0; i < c->n_roots && !ret; i++) {
		/* A root that is missing is made private, as the default one. */
		ret = mkdir_p(c->file_bucket_roots[i]);
		if (ret)
			return fail(&e, ret, "file_bucket_roots[%d]: cannot create %s: %s", i,
				    c->file_bucket_roots[i], strerror(-ret));
		ret = resolve_root(c, i, &e);
	}
	return ret;
}
