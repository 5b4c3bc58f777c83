/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Credentials: what a request presents (an API token, or an e-mail and a key)
 * and what it grants, looked up in the config's credentials in time that
 * does not depend on how much of a secret matched.
 */
#ifndef XCAP_CREDENTIALS_H
#define XCAP_CREDENTIALS_H

#include <stdbool.h>
#include "server/config.h"

/* The credential headers of a request, well formed (the API checked their form). */
struct xcap_auth {
	const char *token; /* Authorization: Bearer TOKEN; NULL when e-mail and key are used */
	const char *email; /* X-Auth-Email, with */
	const char *key; /* X-Auth-Key */
};

/* What a known credential may do. */
struct xcap_grant {
	bool write; /* POST, PUT and DELETE */
	bool account; /* it reaches the account asked for, which exists */
};

/* The configured credential that auth presents, or NULL. */
const struct xcap_credential *xcap_credentials_find(const struct xcap_config *cfg,
						    const struct xcap_auth *auth);
/*
 * What the credential presented by auth grants on `account` (NULL: none, as
 * for /metrics). -ENOENT when no credential matches.
 */
int xcap_credentials_grant(const struct xcap_config *cfg, const struct xcap_auth *auth,
			   const char *account, struct xcap_grant *out);

#endif /* XCAP_CREDENTIALS_H */
