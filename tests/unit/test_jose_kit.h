/*
 * test_jose_kit.h - helpers shared by test_jwk.c, test_jwt.c and
 * test_wycheproof.c: locating the shared test data, hex, key generation,
 * building a JWK from an EVP_PKEY's public parameters and signing JWS
 * compact tokens, so the tests exercise JWK import -> verify end to end.
 *
 * Header-only (static inline) because the Makefile links every non-test_
 * .c file into every unit test; these helpers concern only the JOSE tests.
 */
#ifndef CLEARANCE_TEST_JOSE_KIT_H
#define CLEARANCE_TEST_JOSE_KIT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "clearance/jwk.h"
#include "clearance/util.h"

/* $CLEARANCE_SHARED_DIR/testdata/<rel>, default ../shared (tests run from the repo root). */
static inline void kit_data_path(char *buf, size_t cap, const char *rel)
{
	const char *dir = getenv("CLEARANCE_SHARED_DIR");

	snprintf(buf, cap, "%s/testdata/%s", dir != NULL && *dir ? dir : "../shared", rel);
}

/* 1 if the shared test data dir is there; prints a skip notice otherwise. */
static inline int kit_have_data(const char *rel)
{
	char p[1024];
	struct stat st;

	kit_data_path(p, sizeof(p), rel);
	if (stat(p, &st) == 0)
		return 1;
	printf("SKIP: %s not found (set CLEARANCE_SHARED_DIR)\n", p);
	return 0;
}

/* Whole file, NUL-terminated; new (free()).  NULL if unreadable. */
static inline char *kit_read(const char *rel, size_t *len)
{
	char p[1024];
	FILE *f;
	char *buf = NULL;
	long n;

	kit_data_path(p, sizeof(p), rel);
	f = fopen(p, "rb");
	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)n + 1)) != NULL) {
		if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		} else {
			buf[n] = '\0';
			if (len != NULL)
				*len = (size_t)n;
		}
	}
	fclose(f);
	return buf;
}

static inline json_t *kit_load_json(const char *rel)
{
	json_error_t err;
	char p[1024];

	kit_data_path(p, sizeof(p), rel);
	return json_load_file(p, 0, &err);
}

/* Hex to bytes; new (free()), never NULL for valid hex (1 byte spare). */
static inline unsigned char *kit_unhex(const char *hex, size_t *len)
{
	size_t n = strlen(hex) / 2;
	unsigned char *b = malloc(n + 1);

	*len = n;
	for (size_t i = 0; b != NULL && i < n; i++) {
		unsigned v;

		if (sscanf(hex + 2 * i, "%2x", &v) != 1) {
			free(b);
			return NULL;
		}
		b[i] = (unsigned char)v;
	}
	return b;
}

/* base64url of bytes, new (free()). */
static inline char *kit_b64(const void *p, size_t n)
{
	char *out = NULL;

	if (clr_b64url_encode(p, n, &out) != CLR_OK)
		return NULL;
	return out;
}

static inline void kit_set_b64(json_t *o, const char *name, const void *p, size_t n)
{
	char *s = kit_b64(p, n);

	json_object_set_new(o, name, json_string(s));
	free(s);
}

static inline void kit_set_bn(json_t *o, const char *name, const BIGNUM *bn, size_t pad)
{
	size_t n = pad ? pad : (size_t)BN_num_bytes(bn);
	unsigned char *b = malloc(n ? n : 1);

	BN_bn2binpad(bn, b, (int)n);
	kit_set_b64(o, name, b, n);
	free(b);
}

/*
 * Public JWK of pk (RSA, EC P-256/384/521, Ed25519) as a new json_t, with
 * kid and alg members when not NULL.  NULL on an unsupported key.
 */
static inline json_t *kit_jwk_json(EVP_PKEY *pk, const char *kid, const char *alg)
{
	json_t *o = json_object();
	BIGNUM *a = NULL, *b = NULL;

	if (EVP_PKEY_is_a(pk, "RSA")) {
		EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_N, &a);
		EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_E, &b);
		json_object_set_new(o, "kty", json_string("RSA"));
		kit_set_bn(o, "n", a, 0);
		kit_set_bn(o, "e", b, 0);
	} else if (EVP_PKEY_is_a(pk, "EC")) {
		char grp[64] = "";
		size_t c;
		const char *crv;

		EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME, grp, sizeof(grp),
					       NULL);
		if (strcmp(grp, "prime256v1") == 0 || strcmp(grp, "P-256") == 0)
			crv = "P-256", c = 32;
		else if (strcmp(grp, "secp384r1") == 0 || strcmp(grp, "P-384") == 0)
			crv = "P-384", c = 48;
		else if (strcmp(grp, "secp521r1") == 0 || strcmp(grp, "P-521") == 0)
			crv = "P-521", c = 66;
		else {
			json_decref(o);
			return NULL;
		}
		EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_EC_PUB_X, &a);
		EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_EC_PUB_Y, &b);
		json_object_set_new(o, "kty", json_string("EC"));
		json_object_set_new(o, "crv", json_string(crv));
		kit_set_bn(o, "x", a, c);
		kit_set_bn(o, "y", b, c);
	} else if (EVP_PKEY_is_a(pk, "ED25519")) {
		unsigned char raw[32];
		size_t n = sizeof(raw);

		EVP_PKEY_get_raw_public_key(pk, raw, &n);
		json_object_set_new(o, "kty", json_string("OKP"));
		json_object_set_new(o, "crv", json_string("Ed25519"));
		kit_set_b64(o, "x", raw, n);
	} else {
		json_decref(o);
		return NULL;
	}
	if (kid != NULL)
		json_object_set_new(o, "kid", json_string(kid));
	if (alg != NULL)
		json_object_set_new(o, "alg", json_string(alg));
	BN_free(a);
	BN_free(b);
	return o;
}

/* Parses a json_t JWK through the library; the JSON text path as in production. */
static inline struct clr_jwk *kit_jwk_parse(json_t *jwk, struct clr_err *e)
{
	char *s = json_dumps(jwk, JSON_COMPACT);
	struct clr_jwk *k = NULL;

	if (s == NULL || clr_jwk_parse_one(s, strlen(s), &k, e) != CLR_OK)
		k = NULL;
	free(s);
	return k;
}

static inline struct clr_jwks *kit_jwks_parse(json_t *set, struct clr_err *e)
{
	char *s = json_dumps(set, JSON_COMPACT);
	struct clr_jwks *ks = NULL;

	if (s == NULL || clr_jwks_parse(s, strlen(s), &ks, e) != CLR_OK)
		ks = NULL;
	free(s);
	return ks;
}

static inline const EVP_MD *kit_md(const char *alg)
{
	if (strstr(alg, "256") != NULL)
		return EVP_sha256();
	if (strstr(alg, "384") != NULL)
		return EVP_sha384();
	if (strstr(alg, "512") != NULL)
		return EVP_sha512();
	return NULL;
}

/*
 * Signs data with priv as JWS alg (RS*, PS*, ES*, EdDSA) into the JWS
 * signature encoding; new (free()), length in *siglen.
 */
static inline unsigned char *kit_sign(EVP_PKEY *priv, const char *alg, const void *data, size_t n,
				      size_t *siglen)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	const EVP_MD *md = strcmp(alg, "EdDSA") == 0 ? NULL : kit_md(alg);
	unsigned char *sig = NULL;
	size_t len = 0;

	if (EVP_DigestSignInit(ctx, &pctx, md, NULL, priv) != 1)
		goto fail;
	if (alg[0] == 'P') {
		EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
		EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST);
		EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md);
	}
	if (EVP_DigestSign(ctx, NULL, &len, data, n) != 1 || (sig = malloc(len)) == NULL ||
	    EVP_DigestSign(ctx, sig, &len, data, n) != 1)
		goto fail;
	if (alg[0] == 'E' && alg[1] == 'S') {
		/* DER -> raw r||s, each left-padded to the coordinate size. */
		const unsigned char *p = sig;
		ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)len);
		size_t c = (size_t)(EVP_PKEY_get_bits(priv) + 7) / 8;
		unsigned char *raw = malloc(2 * c);

		BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, (int)c);
		BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + c, (int)c);
		ECDSA_SIG_free(es);
		free(sig);
		sig = raw;
		len = 2 * c;
	}
	EVP_MD_CTX_free(ctx);
	*siglen = len;
	return sig;
fail:
	EVP_MD_CTX_free(ctx);
	free(sig);
	return NULL;
}

/*
 * Compact JWS of header and payload texts (taken verbatim, so tests can
 * craft duplicate members and such), signed with priv as alg; or with the
 * given raw signature bytes when priv is NULL.  New (free()).
 */
static inline char *kit_jws(EVP_PKEY *priv, const char *alg, const char *header,
			    const char *payload, const unsigned char *rawsig, size_t rawlen)
{
	char *h = kit_b64(header, strlen(header)), *p = kit_b64(payload, strlen(payload));
	size_t in_len = strlen(h) + 1 + strlen(p);
	char *input = malloc(in_len + 1), *s = NULL, *tok;
	unsigned char *sig = NULL;
	size_t siglen = rawlen;

	snprintf(input, in_len + 1, "%s.%s", h, p);
	if (priv != NULL)
		sig = kit_sign(priv, alg, input, in_len, &siglen);
	s = kit_b64(priv != NULL ? sig : rawsig, siglen);
	tok = malloc(in_len + 1 + strlen(s) + 1);
	sprintf(tok, "%s.%s", input, s);
	free(h);
	free(p);
	free(input);
	free(sig);
	free(s);
	return tok;
}

#endif
