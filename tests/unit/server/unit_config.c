// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Unit tier: the configuration (defaults, file, flags, first-start credentials). */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include "server/config.h"
#include "test.h"

#define EXAMPLE "userspace/xcapd.example.json" /* tests run from the repo root */

static char test_tmpdir[] = "/tmp/xcap-config-XXXXXX";
static struct xcap_config cfg; /* 150 KB: not on the stack */
static struct xcap_config before;

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -errno;
	fputs(text, f);
	return fclose(f) ? -errno : 0;
}

/* Loads text as a config file over the defaults. */
static int load_text(const char *text, char *err, size_t err_size)
{
	char path[256];
	int ret;

	test_path(path, sizeof(path), "config.json");
	xcap_config_init(&cfg);
	ret = write_file(path, text);
	return ret ?: xcap_config_load(&cfg, path, err, err_size);
}

struct bad_case {
	const char *text; /* a file, or a flag value */
	const char *msg; /* a part of the expected message */
};

/* Each file must be refused with a message holding msg, and leave the config as it was. */
static void check_bad_files(const struct bad_case *cases, size_t n)
{
	char err[512];
	size_t i;
	int ret;

	for (i = 0; i < n; i++) {
		err[0] = '\0';
		ret = load_text(cases[i].text, err, sizeof(err));
		xcap_config_init(&before);
		CHECK(ret == -EINVAL, "%s: returned %d (%s)", cases[i].text, ret, err);
		CHECK(strstr(err, cases[i].msg), "%s: message \"%s\" lacks \"%s\"", cases[i].text,
		      err, cases[i].msg);
		CHECK(!memcmp(&cfg, &before, sizeof(cfg)), "%s: the config changed", cases[i].text);
	}
}

#define CHECK_BAD_FILES(cases) check_bad_files(cases, sizeof(cases) / sizeof(cases[0]))

/* A minimal valid accounts + credentials pair, to splice into files. */
#define ACCT "{\"id\": \"acc1\"}"
#define CRED "{\"token\": \"tok1\", \"permission\": \"write\", \"accounts\": [\"acc1\"]}"

static void defaults(void)
{
	xcap_config_init(&cfg);
	CHECK(!strcmp(cfg.listen_addr, "127.0.0.1"), "%s", cfg.listen_addr);
	CHECK_EQ(cfg.listen_port, 8080);
	CHECK(!strcmp(cfg.state_dir, "xcap-state"), "%s", cfg.state_dir);
	CHECK(!strcmp(cfg.colo, "local"), "%s", cfg.colo);
	CHECK(!strcmp(cfg.metro, "LOCAL"), "%s", cfg.metro);
	CHECK(!cfg.tls_cert[0] && !cfg.tls_key[0], "tls set");
	CHECK_EQ(cfg.sample_every, 100);
	CHECK_EQ(cfg.history_hours, 24);
	CHECK_EQ(cfg.history_mib, 4096);
	CHECK_EQ(cfg.history_rate, 5000);
	CHECK_EQ(cfg.frames_ring_mib, 32);
	CHECK_EQ(cfg.vxlan_port, 4789);
	CHECK_EQ(cfg.geneve_port, 6081);
	CHECK_EQ(cfg.n_ifaces, 0);
	CHECK_EQ(cfg.n_accounts, 0);
	CHECK_EQ(cfg.n_creds, 0);
	/* Issue 14: bounded by default, nothing reachable that the config does not list. */
	CHECK_EQ(cfg.n_roots, 0);
	CHECK_EQ(cfg.n_endpoints, 0);
	CHECK_EQ(cfg.retention_days, 7);
	CHECK_EQ(cfg.buckets_per_account, 100);
	CHECK_EQ(cfg.account_storage_mib, 1024);
	CHECK_EQ(cfg.full_slots_per_account, 16);
	CHECK(cfg.http_connections == 512 && cfg.http_connections_per_ip == 32 &&
		      cfg.http_request_timeout == 10,
	      "http limits");
}

static void example_file_loads(void)
{
	char err[512] = "";
	int a0, a1;

	xcap_config_init(&cfg);
	CHECK_EQ(xcap_config_load(&cfg, EXAMPLE, err, sizeof(err)), 0);
	CHECK(!err[0], "%s", err);
	CHECK(!strcmp(cfg.listen_addr, "0.0.0.0"), "%s", cfg.listen_addr);
	CHECK_EQ(cfg.listen_port, 8443);
	CHECK(!strcmp(cfg.tls_cert, "/etc/xcap/cert.pem"), "%s", cfg.tls_cert);
	CHECK(!strcmp(cfg.tls_key, "/etc/xcap/key.pem"), "%s", cfg.tls_key);
	CHECK(!strcmp(cfg.state_dir, "/var/lib/xcap"), "%s", cfg.state_dir);
	CHECK_EQ(cfg.n_ifaces, 2);
	CHECK(!strcmp(cfg.ifaces[0], "eth0") && !strcmp(cfg.ifaces[1], "eth1"), "ifaces");
	CHECK(!strcmp(cfg.colo, "ord02") && !strcmp(cfg.metro, "ORD"), "%s %s", cfg.colo,
	      cfg.metro);
	CHECK_EQ(cfg.sample_every, 100);
	CHECK(cfg.n_roots == 1 && !strcmp(cfg.file_bucket_roots[0], "/srv/pcaps"), "roots");
	CHECK(cfg.n_endpoints == 1 &&
		      !strcmp(cfg.s3_endpoints[0], "https://minio.example.net:9000"),
	      "endpoints");
	CHECK(cfg.retention_days == 7 && cfg.buckets_per_account == 100 &&
		      cfg.account_storage_mib == 1024 && cfg.full_slots_per_account == 16,
	      "quotas");

	CHECK_EQ(cfg.n_accounts, 2);
	a0 = xcap_config_account(&cfg, "023e105f4ecef8ad9ca31a8372d0c353");
	a1 = xcap_config_account(&cfg, "9a7806061c88ada191ed06f989cc3dac");
	CHECK(a0 == 0 && a1 == 1, "indexes %d %d", a0, a1);
	CHECK_EQ(xcap_config_account(&cfg, "nope"), -1);
	CHECK_EQ(cfg.accounts[0].simple_per_minute, 1);
	CHECK_EQ(cfg.accounts[0].full_active, 1);
	CHECK_EQ(cfg.accounts[1].simple_per_minute, 10);
	CHECK_EQ(cfg.accounts[1].full_active, 0);

	CHECK_EQ(cfg.n_creds, 2);
	CHECK(!cfg.creds[0].email[0], "a token has no email");
	CHECK(!strcmp(cfg.creds[0].secret, "CHANGE_ME-Sn3lZJTBX6kkg7OdcBUAxOO963GEI"), "%s",
	      cfg.creds[0].secret);
	CHECK(cfg.creds[0].write, "token is write");
	CHECK_EQ(cfg.creds[0].accounts, 1);
	CHECK(!strcmp(cfg.creds[1].email, "user@example.com"), "%s", cfg.creds[1].email);
	CHECK(!strcmp(cfg.creds[1].secret, "CHANGE_ME-144c9defac04969c7bfad8efaa8ea1"), "%s",
	      cfg.creds[1].secret);
	CHECK(!cfg.creds[1].write, "key is read");
	CHECK_EQ(cfg.creds[1].accounts, 3);
}

static void file_values_and_forms(void)
{
	char err[512] = "";

	/* Credentials may come before the accounts they name; limits default per member. */
	CHECK_EQ(load_text("{\"credentials\": [" CRED "], \"listen\": \"[::1]:0\","
			   " \"accounts\": [{\"id\": \"acc1\", \"limits\": {\"full_active\": 5}}],"
			   " \"sample_rate\": 0}",
			   err, sizeof(err)),
		 0);
	CHECK(!err[0], "%s", err);
	CHECK(!strcmp(cfg.listen_addr, "::1"), "%s", cfg.listen_addr);
	CHECK_EQ(cfg.listen_port, 0);
	CHECK_EQ(cfg.sample_every, 0);
	CHECK_EQ(cfg.n_accounts, 1);
	CHECK_EQ(cfg.accounts[0].simple_per_minute, 1);
	CHECK_EQ(cfg.accounts[0].full_active, 5);
	CHECK_EQ(cfg.n_creds, 1);
	CHECK_EQ(cfg.creds[0].accounts, 1);

	/* An empty object is the defaults; values go over what is set. */
	CHECK_EQ(load_text(" {}\n", err, sizeof(err)), 0);
	xcap_config_init(&before);
	CHECK(!memcmp(&cfg, &before, sizeof(cfg)), "an empty file changed the config");
	CHECK_EQ(load_text("{\"listen\": \"[2001:db8::1]:65535\", \"sample_rate\": 1000000}", err,
			   sizeof(err)),
		 0);
	CHECK(!strcmp(cfg.listen_addr, "2001:db8::1"), "%s", cfg.listen_addr);
	CHECK_EQ(cfg.listen_port, 65535);
	CHECK_EQ(cfg.sample_every, 1000000);

	/* An account limit takes every uint32_t. */
	CHECK_EQ(load_text("{\"accounts\": [{\"id\": \"a\", \"limits\": {\"simple_per_minute\":"
			   " 4294967295, \"full_active\": 2147483648}}]}",
			   err, sizeof(err)),
		 0);
	CHECK(!err[0], "%s", err);
	CHECK_EQ(cfg.accounts[0].simple_per_minute, 4294967295u);
	CHECK_EQ(cfg.accounts[0].full_active, 2147483648u);
}

/* The history and ring keys: bounds in the file and as flags; each sets its own field. */
static void history_and_ring_keys(void)
{
	static const struct bad_case bad_files[] = {
		{ "{\"history_hours\": 0}", "history_hours: expected an integer 1..24 (hours)" },
		{ "{\"history_hours\": 25}", "history_hours: expected" },
		{ "{\"history_mib\": 15}", "history_mib: expected an integer 16..1048576 (MiB)" },
		{ "{\"history_mib\": 1048577}", "history_mib: expected" },
		{ "{\"history_rate\": 0}", "history_rate: expected an integer 1..1000000" },
		{ "{\"history_rate\": 1000001}", "history_rate: expected" },
		{ "{\"frames_ring_mib\": 0}", "frames_ring_mib: expected a power of 2 in 1..1024" },
		{ "{\"frames_ring_mib\": 48}", "frames_ring_mib: expected a power of 2" },
		{ "{\"frames_ring_mib\": 2048}", "frames_ring_mib: expected" },
	};
	static const struct bad_case bad_flags[] = {
		{ "history_hours=0", "history_hours: expected an integer 1..24" },
		{ "history_mib=15", "history_mib: expected an integer 16..1048576" },
		{ "history_rate=0", "history_rate: expected" },
		{ "frames_ring_mib=48", "frames_ring_mib: expected a power of 2" },
		{ "frames_ring_mib=0", "frames_ring_mib: expected" },
	};
	char err[512] = "", key[64];
	size_t i;

	CHECK_BAD_FILES(bad_files);
	/* The smallest and the largest values; then distinct ones, so that a swap shows. */
	CHECK_EQ(load_text("{\"history_hours\": 1, \"history_mib\": 16, \"history_rate\": 1,"
			   " \"frames_ring_mib\": 1}",
			   err, sizeof(err)),
		 0);
	CHECK(!err[0], "%s", err);
	CHECK(cfg.history_hours == 1 && cfg.history_mib == 16 && cfg.history_rate == 1 &&
		      cfg.frames_ring_mib == 1,
	      "minima: %u %u %u %u", cfg.history_hours, cfg.history_mib, cfg.history_rate,
	      cfg.frames_ring_mib);
	CHECK_EQ(load_text("{\"history_hours\": 24, \"history_mib\": 1048576,"
			   " \"history_rate\": 1000000, \"frames_ring_mib\": 1024}",
			   err, sizeof(err)),
		 0);
	CHECK(cfg.history_hours == 24 && cfg.history_mib == 1048576 &&
		      cfg.history_rate == 1000000 && cfg.frames_ring_mib == 1024,
	      "maxima: %u %u %u %u", cfg.history_hours, cfg.history_mib, cfg.history_rate,
	      cfg.frames_ring_mib);
	CHECK_EQ(load_text("{\"history_hours\": 7, \"history_mib\": 300, \"history_rate\": 2500,"
			   " \"frames_ring_mib\": 64}",
			   err, sizeof(err)),
		 0);
	CHECK(cfg.history_hours == 7 && cfg.history_mib == 300 && cfg.history_rate == 2500 &&
		      cfg.frames_ring_mib == 64 && cfg.sample_every == 100,
	      "values: %u %u %u %u", cfg.history_hours, cfg.history_mib, cfg.history_rate,
	      cfg.frames_ring_mib);

	/* The same as flags, one at a time. */
	xcap_config_init(&cfg);
	CHECK_EQ(xcap_config_set(&cfg, "history_hours", "3", err, sizeof(err)), 0);
	CHECK_EQ(xcap_config_set(&cfg, "history_mib", "16", err, sizeof(err)), 0);
	CHECK_EQ(xcap_config_set(&cfg, "history_rate", "123", err, sizeof(err)), 0);
	CHECK_EQ(xcap_config_set(&cfg, "frames_ring_mib", "512", err, sizeof(err)), 0);
	CHECK(cfg.history_hours == 3 && cfg.history_mib == 16 && cfg.history_rate == 123 &&
		      cfg.frames_ring_mib == 512,
	      "flags: %u %u %u %u", cfg.history_hours, cfg.history_mib, cfg.history_rate,
	      cfg.frames_ring_mib);
	before = cfg;
	for (i = 0; i < sizeof(bad_flags) / sizeof(bad_flags[0]); i++) {
		const char *eq = strchr(bad_flags[i].text, '=');

		snprintf(key, sizeof(key), "%.*s", (int)(eq - bad_flags[i].text),
			 bad_flags[i].text);
		err[0] = '\0';
		CHECK(xcap_config_set(&cfg, key, eq + 1, err, sizeof(err)) == -EINVAL, "%s taken",
		      bad_flags[i].text);
		CHECK(strstr(err, bad_flags[i].msg), "%s: message \"%s\" lacks \"%s\"",
		      bad_flags[i].text, err, bad_flags[i].msg);
		CHECK(!memcmp(&cfg, &before, sizeof(cfg)), "%s changed the config",
		      bad_flags[i].text);
	}
}

static void tunnel_port_keys(void)
{
	static const struct bad_case bad_files[] = {
		{ "{\"vxlan_port\": 65536}",
		  "vxlan_port: expected a UDP port 0..65535 (0 = no VXLAN)" },
		{ "{\"geneve_port\": -1}", "geneve_port: expected a UDP port 0..65535" },
		{ "{\"vxlan_port\": \"4789\"}", "vxlan_port" },
	};
	char err[512] = "";

	CHECK_BAD_FILES(bad_files);
	CHECK_EQ(load_text("{\"vxlan_port\": 8472, \"geneve_port\": 0}", err, sizeof(err)), 0);
	CHECK(cfg.vxlan_port == 8472 && cfg.geneve_port == 0, "file: %u %u", cfg.vxlan_port,
	      cfg.geneve_port);
	xcap_config_init(&cfg);
	CHECK_EQ(xcap_config_set(&cfg, "geneve_port", "7081", err, sizeof(err)), 0);
	CHECK_EQ(xcap_config_set(&cfg, "vxlan_port", "0", err, sizeof(err)), 0);
	CHECK(cfg.vxlan_port == 0 && cfg.geneve_port == 7081, "flags: %u %u", cfg.vxlan_port,
	      cfg.geneve_port);
	CHECK_EQ(xcap_config_set(&cfg, "vxlan_port", "70000", err, sizeof(err)), -EINVAL);
	CHECK_EQ(cfg.vxlan_port, 0);
}

static void file_missing(void)
{
	char err[512] = "";

	xcap_config_init(&cfg);
	CHECK_EQ(xcap_config_load(&cfg, "/nonexistent/xcapd.json", err, sizeof(err)), -ENOENT);
	CHECK(strstr(err, "/nonexistent/xcapd.json"), "%s", err);
}

static void file_unknown_keys(void)
{
	static const struct bad_case cases[] = {
		{ "{\"listen\": \"127.0.0.1:1\", \"lisen\": 1}", "lisen: unknown key" },
		{ "{\"interface\": \"eth0\"}", "interface: unknown key" },
		{ "{\"accounts\": [{\"id\": \"a\", \"limits\": {\"foo\": 1}}]}",
		  "accounts[0].limits.foo: unknown key" },
		{ "{\"accounts\": [" ACCT ", {\"id\": \"b\", \"name\": \"x\"}]}",
		  "accounts[1].name: unknown key" },
		{ "{\"accounts\": [" ACCT "], \"credentials\": [{\"token\": \"t\", \"permission\":"
		  " \"read\", \"accounts\": [\"acc1\"], \"scope\": 1}]}",
		  "credentials[0].scope: unknown key" },
	};

	CHECK_BAD_FILES(cases);
}

static void file_wrong_types(void)
{
	static const struct bad_case cases[] = {
		{ "{\"listen\": 8080}", "listen: expected HOST:PORT" },
		{ "{\"tls_cert\": true, \"tls_key\": \"k\"}",
		  "tls_cert: expected a non-empty file" },
		{ "{\"state_dir\": \"\"}", "state_dir: expected a non-empty directory path" },
		{ "{\"state_dir\": \"a\\u0000b\"}", "state_dir: expected" },
		{ "{\"colo\": [\"ord02\"]}", "colo: expected 1..63 characters" },
		{ "{\"metro\": \"O R D\"}", "metro: expected 1..63 characters" },
		{ "{\"interfaces\": \"eth0\"}", "interfaces: expected an array" },
		{ "{\"interfaces\": [\"eth0\", 3]}", "interfaces[1]: expected an interface name" },
		{ "{\"interfaces\": [\"a/b\"]}", "interfaces[0]: expected an interface name" },
		{ "{\"interfaces\": [\"abcdefghijklmnop\"]}", "interfaces[0]: expected" },
		{ "{\"interfaces\": [\"eth0\", \"eth0\"]}",
		  "interfaces[1]: \"eth0\" is listed twice" },
		{ "{\"sample_rate\": 1000001}", "sample_rate: expected an integer 0..1000000" },
		{ "{\"sample_rate\": -1}", "sample_rate: expected an integer" },
		{ "{\"sample_rate\": null}", "sample_rate: expected an integer" },
		{ "{\"accounts\": {}}", "accounts: expected an array of account objects" },
		{ "{\"accounts\": [\"acc1\"]}", "accounts[0]: expected an object" },
		{ "{\"accounts\": [{\"id\": 5}]}", "accounts[0].id: expected 1..32 characters" },
		{ "{\"accounts\": [{\"limits\": {}}]}", "accounts[0].id: missing" },
		{ "{\"accounts\": [{\"id\": \"a\", \"limits\": 1}]}",
		  "accounts[0].limits: expected an object" },
		{ "{\"accounts\": [{\"id\": \"a\", \"limits\": {\"full_active\": -1}}]}",
		  "accounts[0].limits.full_active: expected an integer" },
		{ "{\"accounts\": [{\"id\": \"a\","
		  " \"limits\": {\"simple_per_minute\": 4294967296}}]}",
		  "accounts[0].limits.simple_per_minute: expected an integer 0..4294967295" },
		{ "{\"credentials\": {}}", "credentials: expected an array of credential objects" },
	};

	CHECK_BAD_FILES(cases);
}

static void file_numbers_are_integers(void)
{
	static const struct bad_case cases[] = {
		{ "{\"sample_rate\": 1.5}", "sample_rate: expected an integer" },
		{ "{\"sample_rate\": 100.0}", "sample_rate: expected an integer" },
		{ "{\"sample_rate\": 1e2}", "sample_rate: expected an integer" },
		{ "{\"sample_rate\": \"100\"}", "sample_rate: expected an integer" },
		{ "{\"sample_rate\": true}", "sample_rate: expected an integer" },
		{ "{\"sample_rate\": 99999999999999999999}", "sample_rate: expected an integer" },
		{ "{\"accounts\": [{\"id\": \"a\", \"limits\": {\"full_active\": \"1\"}}]}",
		  "accounts[0].limits.full_active: expected an integer" },
		{ "{\"accounts\": [{\"id\": \"a\", \"limits\": {\"full_active\": 0.5}}]}",
		  "accounts[0].limits.full_active: expected an integer" },
	};

	CHECK_BAD_FILES(cases);
}

static void file_listen_forms(void)
{
	static const struct bad_case cases[] = {
		{ "{\"listen\": \"127.0.0.1\"}", "listen: expected HOST:PORT" },
		{ "{\"listen\": \"127.0.0.1:\"}", "listen: expected HOST:PORT" },
		{ "{\"listen\": \":8080\"}", "listen: expected HOST:PORT" },
		{ "{\"listen\": \"127.0.0.1:65536\"}", "PORT 0..65535" },
		{ "{\"listen\": \"127.0.0.1:-1\"}", "listen: expected" },
		{ "{\"listen\": \"127.0.0.1:80x\"}", "listen: expected" },
		{ "{\"listen\": \"localhost:8080\"}", "listen: expected" },
		{ "{\"listen\": \"::1:8080\"}", "listen: expected" },
		{ "{\"listen\": \"[::1]8080\"}", "listen: expected" },
		{ "{\"listen\": \"[::1:8080\"}", "listen: expected" },
		{ "{\"listen\": \"[127.0.0.1]:8080\"}", "listen: expected" },
		{ "{\"listen\": \"300.0.0.1:8080\"}", "listen: expected" },
	};

	CHECK_BAD_FILES(cases);
}

static void file_tls_pair(void)
{
	static const struct bad_case cases[] = {
		{ "{\"tls_cert\": \"/c.pem\"}", "tls_key: missing" },
		{ "{\"tls_key\": \"/k.pem\"}", "tls_cert: missing" },
	};

	CHECK_BAD_FILES(cases);
}

static void file_accounts_and_credentials(void)
{
	static const struct bad_case cases[] = {
		{ "{\"accounts\": [{\"id\": \"\"}]}", "accounts[0].id: expected 1..32 characters" },
		{ "{\"accounts\": [{\"id\": \"abc-def\"}]}", "accounts[0].id: expected" },
		{ "{\"accounts\": [{\"id\": \"023e105f4ecef8ad9ca31a8372d0c3531\"}]}",
		  "accounts[0].id: expected" },
		{ "{\"accounts\": [" ACCT ", " ACCT "]}", "accounts[1].id: duplicate account id" },
		{ "{\"accounts\": [" ACCT "], \"credentials\": [{\"token\": \"t\", \"permission\":"
		  " \"write\", \"accounts\": [\"acc2\"]}]}",
		  "credentials[0].accounts[0]: unknown account \"acc2\"" },
		{ "{\"credentials\": [" CRED "]}", "credentials[0].accounts[0]: unknown account" },
		{ "{\"accounts\": [" ACCT "], \"credentials\": [{\"token\": \"t\", \"permission\":"
		  " \"write\", \"accounts\": []}]}",
		  "credentials[0].accounts: expected a non-empty array" },
		{ "{\"accounts\": [" ACCT "], \"credentials\": [{\"token\": \"t\", \"permission\":"
		  " \"write\"}]}",
		  "credentials[0].accounts: expected" },
		{ "{\"accounts\": [" ACCT "], \"credentials\": [{\"token\": \"t\", \"permission\":"
		  " \"admin\", \"accounts\": [\"acc1\"]}]}",
		  "credentials[0].permission: expected \"read\" or \"write\"" },
		{ "{\"accounts\": [" ACCT "], \"credentials\": [{\"token\": \"t\","
		  " \"accounts\": [\"acc1\"]}]}",
		  "credentials[0].permission: missing" },
		{ "{\"accounts\": [" ACCT "], \"credentials\": [{\"permission\": \"read\","
		  " \"accounts\": [\"acc1\"]}]}",
		  "credentials[0]: expected token, or email and key" },
		{ "{\"accounts\": [" ACCT
		  "], \"credentials\": [{\"email\": \"a@b.c\", \"permission\":"
		  " \"read\", \"accounts\": [\"acc1\"]}]}",
		  "credentials[0].key: missing" },
		{ "{\"accounts\": [" ACCT "], \"credentials\": [{\"token\": \"t\", \"key\": \"k\","
		  " \"permission\": \"read\", \"accounts\": [\"acc1\"]}]}",
		  "credentials[0]: expected either token, or email and key" },
		{ "{\"accounts\": [" ACCT
		  "], \"credentials\": [{\"token\": \"a b\", \"permission\":"
		  " \"read\", \"accounts\": [\"acc1\"]}]}",
		  "credentials[0].token: expected 1..255 printable ASCII" },
		{ "{\"accounts\": [" ACCT "], \"credentials\": [{\"token\": \"\", \"permission\":"
		  " \"read\", \"accounts\": [\"acc1\"]}]}",
		  "credentials[0].token: expected" },
		{ "{\"accounts\": [" ACCT "], \"credentials\": [" CRED ", {\"token\": \"tok1\","
		  " \"permission\": \"read\", \"accounts\": [\"acc1\"]}]}",
		  "credentials[1]: same token as credentials[0]" },
		{ "{\"accounts\": [" ACCT
		  "], \"credentials\": [{\"email\": \"a@b.c\", \"key\": \"k\","
		  " \"permission\": \"read\", \"accounts\": [\"acc1\"]}, {\"email\": \"a@b.c\","
		  " \"key\": \"k\", \"permission\": \"write\", \"accounts\": [\"acc1\"]}]}",
		  "credentials[1]: same email and key as credentials[0]" },
	};
	char err[512] = "";

	CHECK_BAD_FILES(cases);
	/* Same key under two e-mails, or a key equal to a token, are different credentials. */
	CHECK_EQ(load_text("{\"accounts\": [" ACCT "], \"credentials\": [" CRED ","
			   " {\"email\": \"a@b.c\", \"key\": \"tok1\", \"permission\": \"read\","
			   " \"accounts\": [\"acc1\"]}, {\"email\": \"d@b.c\", \"key\": \"tok1\","
			   " \"permission\": \"read\", \"accounts\": [\"acc1\"]}]}",
			   err, sizeof(err)),
		 0);
	CHECK(!err[0], "%s", err);
	CHECK_EQ(cfg.n_creds, 3);
}

/* S3 keys of an account: both or neither, a session token only with them. */
static void file_account_s3_keys(void)
{
	static const struct bad_case cases[] = {
		{ "{\"accounts\": [{\"id\": \"a1\", \"s3_access_key_id\": \"AK\"}]}",
		  "accounts[0].s3_secret_access_key: missing (s3_access_key_id and" },
		{ "{\"accounts\": [{\"id\": \"a1\", \"s3_secret_access_key\": \"sk\"}]}",
		  "accounts[0].s3_access_key_id: missing" },
		{ "{\"accounts\": [{\"id\": \"a1\", \"s3_session_token\": \"t\"}]}",
		  "accounts[0].s3_session_token: needs s3_access_key_id" },
		{ "{\"accounts\": [{\"id\": \"a1\", \"s3_access_key_id\": \"A K\","
		  " \"s3_secret_access_key\": \"sk\"}]}",
		  "accounts[0].s3_access_key_id: expected 1..127 printable ASCII" },
		{ "{\"accounts\": [{\"id\": \"a1\", \"s3_access_key_id\": \"AK\","
		  " \"s3_secret_access_key\": 5}]}",
		  "accounts[0].s3_secret_access_key: expected" },
		{ "{\"accounts\": [{\"id\": \"a1\", \"s3_key\": \"AK\"}]}",
		  "accounts[0].s3_key: unknown key" },
	};
	char err[512] = "";
	int ret;

	CHECK_BAD_FILES(cases);
	ret = load_text("{\"accounts\": [{\"id\": \"a1\", \"s3_access_key_id\": \"AKID\","
			" \"s3_secret_access_key\": \"se/cr+et\", \"s3_session_token\": \"tok\"},"
			" {\"id\": \"a2\"}]}",
			err, sizeof(err));
	CHECK_EQ(ret, 0);
	CHECK(!err[0], "%s", err);
	CHECK(!strcmp(cfg.accounts[0].s3_access_key_id, "AKID"), "%s",
	      cfg.accounts[0].s3_access_key_id);
	CHECK(!strcmp(cfg.accounts[0].s3_secret_access_key, "se/cr+et"), "secret differs");
	CHECK(!strcmp(cfg.accounts[0].s3_session_token, "tok"), "token differs");
	CHECK(!cfg.accounts[1].s3_access_key_id[0] && !cfg.accounts[1].s3_secret_access_key[0] &&
		      !cfg.accounts[1].s3_session_token[0],
	      "a2 has keys");
}

/* Builds {"key": [item, item, ...]} with n copies of a numbered item format. */
static char *repeat_file(const char *prefix, const char *item_fmt, int n, const char *suffix)
{
	size_t size = strlen(prefix) + strlen(suffix) + n * (strlen(item_fmt) + 16) + 1;
	char *buf = malloc(size), *p = buf;
	int i;

	if (!buf)
		return NULL;
	p += sprintf(p, "%s", prefix);
	for (i = 0; i < n; i++)
		p += sprintf(p, item_fmt, i ? "," : "", i);
	strcpy(p, suffix);
	return buf;
}

static void file_too_many(void)
{
	struct {
		const char *prefix, *item, *suffix, *msg;
		int max;
	} lists[] = {
		{ "{\"interfaces\": [", "%s\"eth%d\"", "]}",
		  "interfaces: too many values (at most 16)", XCAP_MAX_IFACES },
		{ "{\"accounts\": [", "%s{\"id\": \"a%d\"}", "]}",
		  "accounts: too many accounts (at most 64)", XCAP_CFG_MAX_ACCOUNTS },
		{ "{\"accounts\": [" ACCT "], \"credentials\": [",
		  "%s{\"token\": \"t%d\", \"permission\": \"read\", \"accounts\": [\"acc1\"]}",
		  "]}", "credentials: too many credentials (at most 256)", XCAP_CFG_MAX_CREDS },
	};
	char err[512];
	size_t i;
	char *text;

	for (i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		text = repeat_file(lists[i].prefix, lists[i].item, lists[i].max, lists[i].suffix);
		err[0] = '\0';
		CHECK(text && !load_text(text, err, sizeof(err)), "%zu: the maximum refused: %s", i,
		      err);
		free(text);
		text = repeat_file(lists[i].prefix, lists[i].item, lists[i].max + 1,
				   lists[i].suffix);
		CHECK(text && load_text(text, err, sizeof(err)) == -EINVAL, "%zu: max + 1 taken",
		      i);
		CHECK(strstr(err, lists[i].msg), "message \"%s\", want \"%s\"", err, lists[i].msg);
		free(text);
	}
}

static void file_not_json_or_not_object(void)
{
	static const struct bad_case cases[] = {
		{ "", "not valid JSON: unexpected end of data at line 1, column 1" },
		{ "{\n  \"listen\": \"127.0.0.1:1\",\n  oops\n}",
		  "not valid JSON: quoted object property name expected at line 3, column 3" },
		{ "{\"listen\": \"127.0.0.1:1\",}", "not valid JSON" },
		{ "{\"listen\": \"127.0.0.1:1\"", "not valid JSON: unexpected end of data" },
		{ "{} {}", "not valid JSON" },
		{ "{/* no comments */}", "not valid JSON" },
		{ "[1, 2]", "expected a JSON object at the top level, not array" },
		{ "42", "expected a JSON object at the top level, not int" },
		{ "\"x\"", "expected a JSON object at the top level" },
	};
	char path[256], err[512] = "";

	CHECK_BAD_FILES(cases);
	/* Messages start with the file's name. */
	test_path(path, sizeof(path), "config.json");
	CHECK(load_text("[]", err, sizeof(err)) == -EINVAL && !strncmp(err, path, strlen(path)),
	      "%s", err);
}

static void set_flags(void)
{
	static const struct bad_case bad[] = {
		{ "listen=127.0.0.1", "listen: expected HOST:PORT" },
		{ "listen=127.0.0.1:70000", "listen: expected" },
		{ "tls_cert=", "tls_cert: expected a non-empty file path" },
		{ "tls_key=", "tls_key: expected" },
		{ "state_dir=", "state_dir: expected" },
		{ "interface=a b", "interface: expected an interface name" },
		{ "interface=eth0", "interface: \"eth0\" is listed twice" },
		{ "colo=ord 02", "colo: expected" },
		{ "metro=", "metro: expected" },
		{ "sample_rate=1.0", "sample_rate: expected an integer 0..1000000" },
		{ "sample_rate=-1", "sample_rate: expected" },
		{ "sample_rate=0x10", "sample_rate: expected" },
		{ "sample_rate=1000001", "sample_rate: expected" },
		{ "interfaces=eth1", "interfaces: unknown key" },
		{ "accounts=a", "accounts: unknown key" },
		{ "nope=1", "nope: unknown key" },
	};
	char err[512], key[64], name[IF_NAMESIZE];
	size_t i;
	int n;

	xcap_config_init(&cfg);
	CHECK_EQ(xcap_config_set(&cfg, "listen", "[::]:0", err, sizeof(err)), 0);
	CHECK(!strcmp(cfg.listen_addr, "::") && cfg.listen_port == 0, "%s", cfg.listen_addr);
	CHECK_EQ(xcap_config_set(&cfg, "listen", "10.1.2.3:443", err, sizeof(err)), 0);
	CHECK(!strcmp(cfg.listen_addr, "10.1.2.3") && cfg.listen_port == 443, "%s",
	      cfg.listen_addr);
	CHECK_EQ(xcap_config_set(&cfg, "tls_cert", "c.pem", err, sizeof(err)), 0);
	CHECK_EQ(xcap_config_set(&cfg, "tls_key", "k.pem", err, sizeof(err)), 0);
	CHECK(!strcmp(cfg.tls_cert, "c.pem") && !strcmp(cfg.tls_key, "k.pem"), "tls");
	CHECK_EQ(xcap_config_set(&cfg, "state_dir", "/srv/xcap", err, sizeof(err)), 0);
	CHECK(!strcmp(cfg.state_dir, "/srv/xcap"), "%s", cfg.state_dir);
	CHECK_EQ(xcap_config_set(&cfg, "interface", "eth0", err, sizeof(err)), 0);
	CHECK_EQ(xcap_config_set(&cfg, "interface", "veth-a.10", err, sizeof(err)), 0);
	CHECK(cfg.n_ifaces == 2 && !strcmp(cfg.ifaces[1], "veth-a.10"), "%d", cfg.n_ifaces);
	CHECK_EQ(xcap_config_set(&cfg, "colo", "fra01", err, sizeof(err)), 0);
	CHECK_EQ(xcap_config_set(&cfg, "metro", "FRA", err, sizeof(err)), 0);
	CHECK(!strcmp(cfg.colo, "fra01") && !strcmp(cfg.metro, "FRA"), "%s", cfg.colo);
	CHECK_EQ(xcap_config_set(&cfg, "sample_rate", "1000", err, sizeof(err)), 0);
	CHECK_EQ(cfg.sample_every, 1000);

	/* Errors name the key and change nothing. */
	before = cfg;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *eq = strchr(bad[i].text, '=');

		snprintf(key, sizeof(key), "%.*s", (int)(eq - bad[i].text), bad[i].text);
		err[0] = '\0';
		CHECK(xcap_config_set(&cfg, key, eq + 1, err, sizeof(err)) == -EINVAL, "%s taken",
		      bad[i].text);
		CHECK(strstr(err, bad[i].msg), "%s: message \"%s\" lacks \"%s\"", bad[i].text, err,
		      bad[i].msg);
		CHECK(!memcmp(&cfg, &before, sizeof(cfg)), "%s changed the config", bad[i].text);
	}

	/* interface appends up to the maximum. */
	for (n = cfg.n_ifaces; n < XCAP_MAX_IFACES; n++) {
		snprintf(name, sizeof(name), "if%d", n);
		CHECK_EQ(xcap_config_set(&cfg, "interface", name, err, sizeof(err)), 0);
	}
	CHECK(xcap_config_set(&cfg, "interface", "one-more", err, sizeof(err)) == -EINVAL,
	      "17th interface taken");
	CHECK(strstr(err, "interface: too many values (at most 16)"), "%s", err);
	CHECK_EQ(cfg.n_ifaces, XCAP_MAX_IFACES);
}

/* The keys of issue 14: roots, endpoints, retention and quotas, checked with the key's name. */
static void security_keys(void)
{
	static const struct bad_case bad[] = {
		{ "{\"file_bucket_roots\": [\"relative/dir\"]}",
		  "file_bucket_roots[0]: expected an "
		  "absolute directory path" },
		{ "{\"file_bucket_roots\": [\"/\"]}", "file_bucket_roots[0]: expected" },
		{ "{\"file_bucket_roots\": [\"/srv/../etc\"]}", "file_bucket_roots[0]: expected" },
		{ "{\"file_bucket_roots\": [\"/a\", \"/a\"]}", "file_bucket_roots[1]: \"/a\" is "
							       "listed twice" },
		{ "{\"file_bucket_roots\": \"/srv\"}", "file_bucket_roots: expected an array" },
		{ "{\"s3_endpoints\": [\"minio:9000\"]}", "s3_endpoints[0]: expected an endpoint "
							  "http(s)://HOST[:PORT]" },
		{ "{\"s3_endpoints\": [\"http://h/path\"]}", "s3_endpoints[0]: expected" },
		{ "{\"retention_days\": 3651}", "retention_days: expected an integer 0..3650" },
		{ "{\"buckets_per_account\": 0}",
		  "buckets_per_account: expected an integer 1..1000" },
		{ "{\"account_storage_mib\": -1}", "account_storage_mib: expected" },
		{ "{\"full_slots_per_account\": 0}", "full_slots_per_account: expected an integer "
						     "1..64" },
		{ "{\"full_slots_per_account\": 65}", "full_slots_per_account: expected" },
		{ "{\"http_connections\": 15}", "http_connections: expected an integer 16..65536" },
		{ "{\"http_request_timeout\": 0}",
		  "http_request_timeout: expected an integer 1..3600" },
		{ "{\"http_connections\": 16, \"http_connections_per_ip\": 17}",
		  "http_connections_per_ip: 17 is more than http_connections (16)" },
	};
	char err[512] = "";

	CHECK_EQ(load_text("{\"file_bucket_roots\": [\"/srv/pcaps\", \"/data/x\"],"
			   " \"s3_endpoints\": [\"http://127.0.0.1:9000\", \"https://[::1]\"],"
			   " \"retention_days\": 0, \"buckets_per_account\": 1000,"
			   " \"account_storage_mib\": 0, \"full_slots_per_account\": 64}",
			   err, sizeof(err)),
		 0);
	CHECK(!err[0], "%s", err);
	CHECK(cfg.n_roots == 2 && !strcmp(cfg.file_bucket_roots[1], "/data/x"), "roots");
	CHECK(cfg.n_endpoints == 2 && !strcmp(cfg.s3_endpoints[1], "https://[::1]"), "endpoints");
	CHECK(cfg.retention_days == 0 && cfg.buckets_per_account == 1000 &&
		      cfg.account_storage_mib == 0 && cfg.full_slots_per_account == 64,
	      "quotas");
	CHECK_BAD_FILES(bad);
	/* The flags append one item each, as interface does. */
	xcap_config_init(&cfg);
	CHECK_EQ(xcap_config_set(&cfg, "file_bucket_root", "/srv/a", err, sizeof(err)), 0);
	CHECK_EQ(xcap_config_set(&cfg, "file_bucket_root", "/srv/b", err, sizeof(err)), 0);
	CHECK_EQ(xcap_config_set(&cfg, "s3_endpoint", "http://10.0.0.1:9000", err, sizeof(err)), 0);
	CHECK_EQ(xcap_config_set(&cfg, "retention_days", "30", err, sizeof(err)), 0);
	CHECK(cfg.n_roots == 2 && cfg.n_endpoints == 1 && cfg.retention_days == 30, "flags");
	CHECK(xcap_config_set(&cfg, "file_bucket_root", "..", err, sizeof(err)) == -EINVAL &&
		      strstr(err, "file_bucket_root: expected"),
	      "%s", err);
}

/*
 * Before serving: the state folder is made private whatever the umask or its
 * mode, the default bucket root is created in it, and roots become real paths.
 */
static void make_state_makes_it_private_and_roots_real(void)
{
	char dir[256], root[300], link[300], real[PATH_MAX], err[512] = "";
	mode_t old = umask(0);
	struct stat st;

	test_path(dir, sizeof(dir), "prepared");
	mkdir(dir, 0755);
	xcap_config_init(&cfg);
	strcpy(cfg.state_dir, dir);
	CHECK_EQ(xcap_config_make_state(&cfg, err, sizeof(err)), 0);
	CHECK(!stat(dir, &st) && (st.st_mode & 0777) == 0700, "state mode %o", st.st_mode & 0777);
	snprintf(root, sizeof(root), "%s/buckets", dir);
	CHECK(!stat(root, &st) && (st.st_mode & 0777) == 0700, "root mode %o", st.st_mode & 0777);
	CHECK(cfg.n_roots == 1 && realpath(root, real) && !strcmp(cfg.file_bucket_real[0], real),
	      "default root %s", cfg.file_bucket_real[0]);

	/*
	 * A configured root through a link: its real path; a missing one: created
	 * private; one that cannot be: an error naming it, from the check too.
	 */
	snprintf(link, sizeof(link), "%s/link", dir);
	CHECK(!symlink(root, link), "symlink");
	xcap_config_init(&cfg);
	strcpy(cfg.state_dir, dir);
	CHECK_EQ(xcap_config_set(&cfg, "file_bucket_root", link, err, sizeof(err)), 0);
	CHECK_EQ(xcap_config_make_state(&cfg, err, sizeof(err)), 0);
	CHECK(!strcmp(cfg.file_bucket_roots[0], link) && !strcmp(cfg.file_bucket_real[0], real),
	      "%s -> %s", cfg.file_bucket_roots[0], cfg.file_bucket_real[0]);
	snprintf(root, sizeof(root), "%s/new/root", dir);
	CHECK_EQ(xcap_config_set(&cfg, "file_bucket_root", root, err, sizeof(err)), 0);
	CHECK_EQ(xcap_config_make_state(&cfg, err, sizeof(err)), 0);
	CHECK(!stat(root, &st) && (st.st_mode & 0777) == 0700, "new root mode %o",
	      st.st_mode & 0777);
	snprintf(link, sizeof(link), "%s/a-file", dir);
	CHECK_EQ(write_file(link, "x"), 0);
	snprintf(root, sizeof(root), "%s/root", link);
	CHECK_EQ(xcap_config_set(&cfg, "file_bucket_root", root, err, sizeof(err)), 0);
	CHECK(xcap_config_prepare(&cfg, err, sizeof(err)) == -ENOTDIR &&
		      strstr(err, "file_bucket_roots[2]: "),
	      "%s", err);
	CHECK(xcap_config_make_state(&cfg, err, sizeof(err)) == -ENOTDIR &&
		      strstr(err, "file_bucket_roots[2]: cannot create"),
	      "%s", err);
	umask(old);
}

/* Reads a whole small file into buf; returns its length or -1. */
static long read_small(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return -1;
	n = fread(buf, 1, size - 1, f);
	buf[n] = '\0';
	fclose(f);
	return n;
}

static bool all_of(const char *s, size_t len, const char *set)
{
	return strlen(s) == len && strspn(s, set) == len;
}

static void bootstrap_creates_then_loads(void)
{
	char dir[256], path[300], err[512] = "", id[33] = "", token[41] = "", line[3][300];
	char *printed = NULL, file[4096];
	size_t printed_len = 0;
	struct stat st;
	FILE *out;

	test_path(dir, sizeof(dir), "state/sub");
	snprintf(path, sizeof(path), "%s/credentials.json", dir);
	xcap_config_init(&cfg);
	strcpy(cfg.state_dir, dir);
	out = open_memstream(&printed, &printed_len);
	if (!out) {
		CHECK(0, "open_memstream: %s", strerror(errno));
		return;
	}
	CHECK_EQ(xcap_config_bootstrap(&cfg, out, err, sizeof(err)), 0);
	CHECK(!err[0], "%s", err);
	fclose(out);

	/* Three lines: account, token, where they are. */
	CHECK(printed && sscanf(printed, "account: %299s\ntoken: %299s\nstored in: %299s", line[0],
				line[1], line[2]) == 3,
	      "printed: %s", printed ?: "");
	CHECK(all_of(line[0], 32, "0123456789abcdef"), "account %s", line[0]);
	CHECK(all_of(line[1], 40,
		     "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
	      "token %s", line[1]);
	CHECK(!strcmp(line[2], path), "path %s", line[2]);
	free(printed);

	CHECK(cfg.n_accounts == 1 && cfg.n_creds == 1, "%d %d", cfg.n_accounts, cfg.n_creds);
	CHECK(!strcmp(cfg.accounts[0].id, line[0]), "%s", cfg.accounts[0].id);
	CHECK(!strcmp(cfg.creds[0].secret, line[1]) && !cfg.creds[0].email[0], "secret");
	CHECK(cfg.creds[0].write && cfg.creds[0].accounts == 1, "write token of account 0");
	CHECK(cfg.accounts[0].simple_per_minute == 1 && cfg.accounts[0].full_active == 1, "limits");
	snprintf(id, sizeof(id), "%s", cfg.accounts[0].id);
	snprintf(token, sizeof(token), "%s", cfg.creds[0].secret);

	CHECK(!stat(path, &st) && (st.st_mode & 0777) == 0600, "file mode %o", st.st_mode & 0777);
	CHECK(!stat(dir, &st) && (st.st_mode & 0777) == 0700, "dir mode %o", st.st_mode & 0777);
	CHECK(read_small(path, file, sizeof(file)) > 0 && strstr(file, id) && strstr(file, token),
	      "file: %s", file);

	/* The second start loads the same account and token and prints nothing. */
	xcap_config_init(&cfg);
	strcpy(cfg.state_dir, dir);
	printed = NULL;
	out = open_memstream(&printed, &printed_len);
	if (!out)
		return;
	CHECK_EQ(xcap_config_bootstrap(&cfg, out, err, sizeof(err)), 0);
	fclose(out);
	CHECK_EQ(printed_len, 0);
	free(printed);
	CHECK(cfg.n_accounts == 1 && !strcmp(cfg.accounts[0].id, id), "%s", cfg.accounts[0].id);
	CHECK(cfg.n_creds == 1 && !strcmp(cfg.creds[0].secret, token), "%s", cfg.creds[0].secret);
	CHECK(cfg.creds[0].write && cfg.creds[0].accounts == 1, "write token of account 0");
}

/*
 * Finding 9: with stdout no terminal (out NULL), the first token goes to the
 * file only (0600 whatever the umask), never to the output or the log.
 */
static void bootstrap_prints_the_token_only_to_a_terminal(void)
{
	char dir[256], path[300], err[512] = "", file[4096];
	mode_t old = umask(0);
	struct stat st;

	test_path(dir, sizeof(dir), "quiet-state");
	snprintf(path, sizeof(path), "%s/credentials.json", dir);
	xcap_config_init(&cfg);
	strcpy(cfg.state_dir, dir);
	CHECK_EQ(xcap_config_bootstrap(&cfg, NULL, err, sizeof(err)), 0);
	umask(old);
	CHECK(cfg.n_creds == 1, "no credential");
	CHECK(!stat(path, &st) && (st.st_mode & 0777) == 0600, "file mode %o", st.st_mode & 0777);
	CHECK(!stat(dir, &st) && (st.st_mode & 0777) == 0700, "dir mode %o", st.st_mode & 0777);
	CHECK(read_small(path, file, sizeof(file)) > 0 && strstr(file, cfg.creds[0].secret),
	      "the token is not in %s", path);
}

static void bootstrap_keeps_configured_accounts(void)
{
	char dir[256], err[512] = "";
	struct stat st;

	test_path(dir, sizeof(dir), "unused-state");
	CHECK_EQ(load_text("{\"accounts\": [" ACCT "], \"credentials\": [" CRED "]}", err,
			   sizeof(err)),
		 0);
	strcpy(cfg.state_dir, dir);
	before = cfg;
	CHECK_EQ(xcap_config_bootstrap(&cfg, stdout, err, sizeof(err)), 0);
	CHECK(!memcmp(&cfg, &before, sizeof(cfg)), "bootstrap changed a configured config");
	CHECK(stat(dir, &st) && errno == ENOENT, "bootstrap created %s", dir);
}

static void bootstrap_errors(void)
{
	static const struct bad_case cases[] = {
		{ "{\"accounts\": [" ACCT "], \"credentials\": [" CRED
		  "], \"listen\": \"1.2.3.4:5\"}",
		  "credentials.json: listen: unknown key" },
		{ "{\"accounts\": [" ACCT "]", "credentials.json: not valid JSON" },
		{ "{\"accounts\": [" ACCT "]}", "credentials: at least one credential is needed" },
		{ "{}", "accounts: at least one account is needed" },
	};
	char dir[256], path[300], err[512];
	size_t i;

	test_path(dir, sizeof(dir), "bad-state");
	snprintf(path, sizeof(path), "%s/credentials.json", dir);
	mkdir(dir, 0700);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK_EQ(write_file(path, cases[i].text), 0);
		chmod(path, 0600);
		xcap_config_init(&cfg);
		strcpy(cfg.state_dir, dir);
		err[0] = '\0';
		CHECK(xcap_config_bootstrap(&cfg, stdout, err, sizeof(err)) == -EINVAL, "%s: taken",
		      cases[i].text);
		CHECK(strstr(err, cases[i].msg), "%s: message \"%s\" lacks \"%s\"", cases[i].text,
		      err, cases[i].msg);
	}

	/* Accounts from the file with no credential are refused too. */
	CHECK_EQ(load_text("{\"accounts\": [" ACCT "]}", err, sizeof(err)), 0);
	CHECK(xcap_config_bootstrap(&cfg, stdout, err, sizeof(err)) == -EINVAL, "no credential");
	CHECK(strstr(err, "credentials: at least one credential is needed"), "%s", err);

	/* A flag completed only half of the TLS pair. */
	xcap_config_init(&cfg);
	CHECK_EQ(xcap_config_set(&cfg, "tls_key", "k.pem", err, sizeof(err)), 0);
	CHECK(xcap_config_bootstrap(&cfg, stdout, err, sizeof(err)) == -EINVAL, "half TLS");
	CHECK(strstr(err, "tls_cert: missing"), "%s", err);
}

int main(void)
{
	if (test_tmpdir_init("config"))
		return 1;
	RUN_TEST(defaults);
	RUN_TEST(example_file_loads);
	RUN_TEST(file_values_and_forms);
	RUN_TEST(file_missing);
	RUN_TEST(file_unknown_keys);
	RUN_TEST(file_wrong_types);
	RUN_TEST(file_numbers_are_integers);
	RUN_TEST(file_listen_forms);
	RUN_TEST(history_and_ring_keys);
	RUN_TEST(tunnel_port_keys);
	RUN_TEST(file_tls_pair);
	RUN_TEST(file_accounts_and_credentials);
	RUN_TEST(file_account_s3_keys);
	RUN_TEST(file_too_many);
	RUN_TEST(file_not_json_or_not_object);
	RUN_TEST(set_flags);
	RUN_TEST(security_keys);
	RUN_TEST(make_state_makes_it_private_and_roots_real);
	RUN_TEST(bootstrap_creates_then_loads);
	RUN_TEST(bootstrap_prints_the_token_only_to_a_terminal);
	RUN_TEST(bootstrap_keeps_configured_accounts);
	RUN_TEST(bootstrap_errors);
	return tests_failed_total ? 1 : 0;
}
