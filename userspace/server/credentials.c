// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Credentials: the config's, matched against what a request presents. */
#include <errno.h>
#include <string.h>
#include <strings.h>
#include "server/credentials.h"

/* Compares secrets in time that depends on their lengths only. */
static bool secret_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i;
	unsigned char diff = la != lb;

	for (i = 0; i < la; i++)
		diff |= a[i] ^ b[i < lb ? i : 0];
	return !diff;
}

const struct xcap_credential *xcap_credentials_find(const struct xcap_config *cfg,
						    const struct xcap_auth *auth)
{
	int i;

	for (i = 0; i < cfg->n_creds; i++) {
		const struct xcap_credential *cr = &cfg->creds[i];

		if (auth->token ? !cr->email[0] && secret_equal(cr->secret, auth->token) :
				  cr->email[0] && !strcasecmp(cr->email, auth->email) &&
					  secret_equal(cr->secret, auth->key))
			return cr;
	}
	return NULL;
}

int xcap_credentials_grant(const struct xcap_config *cfg, const struct xcap_auth *auth,
			   const char *account, struct xcap_grant *out)
{
	const struct xcap_credential *cr = xcap_credentials_find(cfg, auth);
	int idx = account ? xcap_config_account(cfg, account) : -1;

	if (!cr)
		return -ENOENT;
	out->write = cr->write;
	out->account = idx >= 0 && (cr->accounts & (1ULL << idx));
	return 0;
}
