/*
 * fuzz_jwt.c - libFuzzer target: clr_jwt_parse, then clr_jwt_check against a
 * fixed JWK set (fixed_jwks.h, public keys from gen-corpus.mjs) with a fixed
 * clock, so the committed seed tokens verify and mutations explore the
 * header, claim and signature paths alike.
 *
 * Properties beyond "no crash, no leak": a token that passes must carry an
 * identity, and the access-token claims must hold for the fixed policy
 * (exp after now - leeway); anything a parser refuses must say so with
 * CLR_ERR_DENIED or CLR_ERR_NOTFOUND (unknown kid), never another code.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "clearance/jwt.h"
#include "fixed_jwks.h"

#define FUZZ_NOW 1700000000LL

static struct clr_jwks *keys;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct clr_err e;

	(void)argc;
	(void)argv;
	memset(&e, 0, sizeof(e));
	if (clr_jwks_parse(fixed_jwks, sizeof(fixed_jwks) - 1, &keys, &e) != CLR_OK)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct clr_jwt *t = NULL;
	struct clr_jwt_claims c = CLR_JWT_CLAIMS_INIT;
	struct clr_jwt_policy pol;
	struct clr_err e;
	enum clr_rc rc;
	size_t kidlen = 0;

	memset(&e, 0, sizeof(e));
	rc = clr_jwt_parse((const char *)data, size, &t, &e);
	if (rc != CLR_OK) {
		if (t != NULL || (rc != CLR_ERR_DENIED && rc != CLR_ERR_NOMEM))
			abort();
		return 0;
	}
	if (size > CLR_JWT_MAX_TOKEN)
		abort();
	(void)clr_jwt_kid(t, &kidlen);
	(void)clr_jwt_issuer(t);
	if (clr_jws_alg_name(clr_jwt_alg(t)) == NULL)
		abort();
	memset(&pol, 0, sizeof(pol));
	pol.issuer = "https://idp.fuzz.test";
	pol.audience = (size & 1) ? "https://api.fuzz.test" : NULL;
	pol.alg_mask = CLR_JWS_ALG_ALL;
	pol.leeway_s = 30;
	pol.now = FUZZ_NOW;
	rc = clr_jwt_check(t, keys, &pol, &c, &e);
	if (rc == CLR_OK) {
		if (c.identity == NULL || c.exp + 30 < FUZZ_NOW || c.scope == NULL)
			abort();
		for (size_t i = 0; i < c.nscopes; i++)
			if (c.scopes[i] == NULL || c.scopes[i][0] == '\0')
				abort();
	} else if (rc != CLR_ERR_DENIED && rc != CLR_ERR_NOTFOUND && rc != CLR_ERR_NOMEM) {
		abort();
	} else if (c.identity != NULL || c.scopes != NULL) {
		abort(); /* on error *out is left zeroed */
	}
	clr_jwt_claims_clear(&c);
	clr_jwt_free(t);
	return 0;
}
