/*
 * fuzz_jwks.c - libFuzzer target: clr_jwks_parse and clr_jwks_parse_ex
 * (with CLR_JWKS_ALLOW_EMPTY) on arbitrary documents.
 *
 * Properties: a set that parses has at least one key (unless ALLOW_EMPTY),
 * never more than CLR_JWKS_MAX_KEYS entries in all, every key may verify at
 * least one algorithm, lookups by each key's own kid find a key, and every
 * skipped entry has a reason.  A failure leaves *out NULL.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "clearance/jwk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_set(const struct clr_jwks *s, int allow_empty)
{
	size_t n = clr_jwks_count(s), skipped = clr_jwks_skipped_count(s);

	if ((!allow_empty && n == 0) || n + skipped > CLR_JWKS_MAX_KEYS)
		abort();
	for (size_t i = 0; i < n; i++) {
		const struct clr_jwk *k = clr_jwks_key(s, i);
		size_t kl = 0;
		const char *kid = clr_jwks_kid(s, i, &kl);
		unsigned algs = clr_jwk_algs(k);

		if (k == NULL || algs == 0 || (algs & ~CLR_JWS_ALG_ALL) != 0)
			abort();
		if (kid != NULL && kl > CLR_JWK_KID_MAX)
			abort();
		for (int a = 0; a < CLR_JWS_ALG__MAX; a++) {
			if (!(algs & CLR_JWS_ALG_BIT(a)) || kid == NULL)
				continue;
			if (clr_jwks_find(s, kid, kl, (enum clr_jws_alg)a) == NULL)
				abort();
		}
	}
	for (size_t i = 0; i < skipped; i++) {
		size_t idx;
		const char *kid, *reason;

		if (clr_jwks_skipped(s, i, &idx, &kid, &reason) != CLR_OK || kid == NULL ||
		    reason == NULL || reason[0] == '\0')
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct clr_jwks *s = NULL;
	struct clr_err e;

	memset(&e, 0, sizeof(e));
	if (clr_jwks_parse((const char *)data, size, &s, &e) == CLR_OK)
		check_set(s, 0);
	else if (s != NULL)
		abort();
	clr_jwks_free(s);
	s = NULL;
	memset(&e, 0, sizeof(e));
	if (clr_jwks_parse_ex((const char *)data, size, CLR_JWKS_ALLOW_EMPTY, &s, &e) == CLR_OK)
		check_set(s, 1);
	else if (s != NULL)
		abort();
	clr_jwks_free(s);
	return 0;
}
