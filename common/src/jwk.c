/*
 * jwk.c - JWK / JWK set import into OpenSSL 3 EVP_PKEYs, and the one
 * signature check every JWS algorithm goes through.
 *
 * Import is where keys are judged: whatever survives clr_jwk_parse_one is a
 * public key of an acceptable size on a known curve, usable for signatures,
 * with the exact set of algorithms it may verify.  Verification then only
 * has to check the signature encoding, never the key.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include "clearance/jwk.h"
#include "clearance/util.h"

#define RSA_MIN_BITS 2048
/* Above this a single verification gets expensive enough to be a DoS lever. */
#define RSA_MAX_BITS 8192
#define SKIP_KID_MAX 64
#define WHY_MAX 96

enum key_family { FAM_RSA, FAM_EC, FAM_OKP };

struct clr_jwk {
	EVP_PKEY *pkey;
	enum key_family fam;
	unsigned algs;	/* CLR_JWS_ALG_BIT()s this key may verify */
	size_t sigsize; /* exact signature bytes: RSA modulus, EC 2*coord, 64 */
	char *kid;	/* NULL if absent; kid_len bytes plus a NUL */
	size_t kid_len;
};

struct jwks_skip {
	size_t index;
	char kid[SKIP_KID_MAX];
	char reason[WHY_MAX];
};

struct clr_jwks {
	struct clr_jwk *keys; /* n entries, owned */
	size_t n;
	struct jwks_skip *skips;
	size_t nskips;
};

/* Parallel to enum clr_jws_alg. */
static const char *const alg_names[CLR_JWS_ALG__MAX] = {
    [CLR_JWS_RS256] = "RS256", [CLR_JWS_RS384] = "RS384", [CLR_JWS_RS512] = "RS512",
    [CLR_JWS_PS256] = "PS256", [CLR_JWS_PS384] = "PS384", [CLR_JWS_PS512] = "PS512",
    [CLR_JWS_ES256] = "ES256", [CLR_JWS_ES384] = "ES384", [CLR_JWS_ES512] = "ES512",
    [CLR_JWS_EDDSA] = "EdDSA",
};

#define RSA_ALGS                                                                                   \
	(CLR_JWS_ALG_BIT(CLR_JWS_RS256) | CLR_JWS_ALG_BIT(CLR_JWS_RS384) |                         \
	 CLR_JWS_ALG_BIT(CLR_JWS_RS512) | CLR_JWS_ALG_BIT(CLR_JWS_PS256) |                         \
	 CLR_JWS_ALG_BIT(CLR_JWS_PS384) | CLR_JWS_ALG_BIT(CLR_JWS_PS512))

/* The curves a JWS EC algorithm is defined on (RFC 7518 s.3.4): one each. */
static const struct {
	const char *crv;   /* JWK name */
	const char *group; /* OpenSSL group name */
	size_t coord;	   /* bytes per coordinate */
	enum clr_jws_alg alg;
} ec_curves[] = {
    {"P-256", "prime256v1", 32, CLR_JWS_ES256},
    {"P-384", "secp384r1", 48, CLR_JWS_ES384},
    {"P-521", "secp521r1", 66, CLR_JWS_ES512},
};

/* Members that only a private (or symmetric) key has (RFC 7518 s.6). */
static const char *const private_members[] = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"};

const char *clr_jws_alg_name(enum clr_jws_alg a)
{
	if ((unsigned)a >= CLR_JWS_ALG__MAX)
		return NULL;
	return alg_names[a];
}

enum clr_rc clr_jws_alg_parse(const char *s, size_t len, enum clr_jws_alg *out)
{
	for (unsigned i = 0; i < CLR_JWS_ALG__MAX; i++) {
		if (strlen(alg_names[i]) == len && memcmp(alg_names[i], s, len) == 0) {
			*out = (enum clr_jws_alg)i;
			return CLR_OK;
		}
	}
	return CLR_ERR_NOTFOUND;
}

enum clr_rc clr_jws_alg_mask_parse(const char *list, unsigned *mask, struct clr_err *e)
{
	const char *p = list;
	unsigned m = 0;
	enum clr_jws_alg a;

	*mask = 0;
	if (list == NULL)
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_config", "alg", "empty alg list");
	while (*p != '\0') {
		size_t n;

		p += strspn(p, ", \t");
		n = strcspn(p, ", \t");
		if (n == 0)
			break;
		if (clr_jws_alg_parse(p, n, &a) != CLR_OK)
			return clr_err_set(e, CLR_ERR_PARAM, "invalid_config", "alg",
					   "unsupported alg \"%.*s\"", (int)(n > 32 ? 32 : n), p);
		m |= CLR_JWS_ALG_BIT(a);
		p += n;
	}
	if (m == 0)
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_config", "alg", "empty alg list");
	*mask = m;
	return CLR_OK;
}

/* ---- import ---------------------------------------------------------- */

/*
 * String member equality that counts the length: sets are parsed with
 * JSON_ALLOW_NUL (a kid may hold any byte), so "RSA\u0000x" must not read
 * as "RSA".
 */
static int jstr_eq(json_t *v, const char *lit)
{
	size_t n = strlen(lit);

	return json_is_string(v) && json_string_length(v) == n &&
	       memcmp(json_string_value(v), lit, n) == 0;
}

/*
 * Decodes the base64url string member `name` of o.  CLR_ERR_PARAM (with
 * why) if absent, not a string, or not strict base64url.
 */
static enum clr_rc b64_member(json_t *o, const char *name, unsigned char **out, size_t *len,
			      char *why)
{
	json_t *v = json_object_get(o, name);
	enum clr_rc rc;

	*out = NULL;
	if (!json_is_string(v)) {
		snprintf(why, WHY_MAX, "missing or non-string \"%s\"", name);
		return CLR_ERR_PARAM;
	}
	rc = clr_b64url_decode(json_string_value(v), json_string_length(v), out, len);
	if (rc == CLR_ERR_NOMEM)
		return rc;
	if (rc != CLR_OK) {
		snprintf(why, WHY_MAX, "\"%s\" is not base64url", name);
		return CLR_ERR_PARAM;
	}
	return CLR_OK;
}

/* Builds pkey of type `name` from params; 0 on failure. */
static int pkey_fromdata(const char *name, OSSL_PARAM_BLD *bld, EVP_PKEY **pkey)
{
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *ctx = NULL;
	int ok = 0;

	if (params == NULL)
		goto out;
	ctx = EVP_PKEY_CTX_new_from_name(NULL, name, NULL);
	if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
		goto out;
	ok = 1;
out:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	return ok;
}

/* OpenSSL's own public-key validation (point on curve, not infinity, ...). */
static int pkey_public_ok(EVP_PKEY *pkey)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	int ok = ctx != NULL && EVP_PKEY_public_check(ctx) == 1;

	EVP_PKEY_CTX_free(ctx);
	return ok;
}

/*
 * ROCA (CVE-2017-15361) fingerprint: Infineon's weak primes make n mod p
 * fall in the subgroup generated by 65537 for each of these small primes.
 * A random modulus passes all of them with negligible probability, so a
 * match means a factorable key (Wycheproof jws_rsa_roca_key).
 */
static int rsa_roca_weak(const BIGNUM *n)
{
	static const unsigned char primes[] = {3,   5,	 7,   11,  13,	17,  19,  23,  29,  31,
					       37,  41,	 43,  47,  53,	59,  61,  67,  71,  73,
					       79,  83,	 89,  97,  101, 103, 107, 109, 113, 127,
					       131, 137, 139, 149, 151, 157, 163, 167};

	for (size_t i = 0; i < sizeof(primes); i++) {
		unsigned p = primes[i], g = 65537u % p, x = 1, r;
		BN_ULONG m = BN_mod_word(n, p);
		int in = 0;

		if (m == (BN_ULONG)-1)
			return 0;
		r = (unsigned)m;
		do {
			if (x == r)
				in = 1;
			x = (x * g) % p;
		} while (x != 1 && !in);
		if (!in)
			return 0;
	}
	return 1;
}

static enum clr_rc import_rsa(json_t *o, struct clr_jwk *k, char *why)
{
	unsigned char *nb = NULL, *eb = NULL;
	size_t nlen = 0, elen = 0;
	BIGNUM *n = NULL, *ebn = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	enum clr_rc rc;
	int bits;

	if ((rc = b64_member(o, "n", &nb, &nlen, why)) != CLR_OK)
		goto out;
	if ((rc = b64_member(o, "e", &eb, &elen, why)) != CLR_OK)
		goto out;
	rc = CLR_ERR_PARAM;
	/* Length caps before any bignum work; a leading zero byte is tolerated. */
	if (nlen > RSA_MAX_BITS / 8 + 1 || elen > 32) {
		snprintf(why, WHY_MAX, "RSA modulus or exponent too long");
		goto out;
	}
	rc = CLR_ERR_NOMEM;
	n = BN_bin2bn(nb, (int)nlen, NULL);
	ebn = BN_bin2bn(eb, (int)elen, NULL);
	if (n == NULL || ebn == NULL)
		goto out;
	rc = CLR_ERR_PARAM;
	bits = BN_num_bits(n);
	if (bits > RSA_MAX_BITS) {
		snprintf(why, WHY_MAX, "RSA modulus over %d bits", RSA_MAX_BITS);
		goto out;
	}
	if (bits < RSA_MIN_BITS) {
		snprintf(why, WHY_MAX, "RSA key of %d bits (minimum %d)", bits, RSA_MIN_BITS);
		goto out;
	}
	/* e = 1 makes every "signature" its own message (Wycheproof exponentOne). */
	if (!BN_is_odd(n) || !BN_is_odd(ebn) || BN_num_bits(ebn) < 2) {
		snprintf(why, WHY_MAX, "RSA modulus or exponent is invalid");
		goto out;
	}
	if (rsa_roca_weak(n)) {
		snprintf(why, WHY_MAX, "RSA key has the ROCA weakness");
		goto out;
	}
	rc = CLR_ERR_NOMEM;
	bld = OSSL_PARAM_BLD_new();
	if (bld == NULL || OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, ebn) != 1)
		goto out;
	if (!pkey_fromdata("RSA", bld, &k->pkey)) {
		rc = CLR_ERR_PARAM;
		snprintf(why, WHY_MAX, "OpenSSL refused the RSA key");
		goto out;
	}
	k->fam = FAM_RSA;
	k->algs = RSA_ALGS;
	k->sigsize = (size_t)(bits + 7) / 8;
	rc = CLR_OK;
out:
	BN_free(n);
	BN_free(ebn);
	OSSL_PARAM_BLD_free(bld);
	free(nb);
	free(eb);
	return rc;
}

static enum clr_rc import_ec(json_t *o, struct clr_jwk *k, char *why)
{
	json_t *crv = json_object_get(o, "crv");
	unsigned char *x = NULL, *y = NULL, pub[1 + 2 * 66];
	size_t xlen = 0, ylen = 0, c = 0, i;
	OSSL_PARAM_BLD *bld = NULL;
	enum clr_rc rc = CLR_ERR_PARAM;

	for (i = 0; i < sizeof(ec_curves) / sizeof(ec_curves[0]); i++)
		if (jstr_eq(crv, ec_curves[i].crv))
			break;
	if (i == sizeof(ec_curves) / sizeof(ec_curves[0])) {
		snprintf(why, WHY_MAX, "unsupported or missing EC crv");
		goto out;
	}
	c = ec_curves[i].coord;
	if ((rc = b64_member(o, "x", &x, &xlen, why)) != CLR_OK)
		goto out;
	if ((rc = b64_member(o, "y", &y, &ylen, why)) != CLR_OK)
		goto out;
	rc = CLR_ERR_PARAM;
	/*
	 * RFC 7518 s.6.2.1.2: each coordinate is exactly the curve's size.  A
	 * shorter one (leading zeros dropped) is refused rather than padded, so
	 * one key has exactly one encoding.
	 */
	if (xlen != c || ylen != c) {
		snprintf(why, WHY_MAX, "EC coordinates are not %zu bytes", c);
		goto out;
	}
	memset(pub, 0, sizeof(pub));
	pub[0] = 0x04;
	memcpy(pub + 1, x, c);
	memcpy(pub + 1 + c, y, c);
	rc = CLR_ERR_NOMEM;
	bld = OSSL_PARAM_BLD_new();
	if (bld == NULL ||
	    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, ec_curves[i].group,
					    0) != 1 ||
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, 1 + 2 * c) != 1)
		goto out;
	rc = CLR_ERR_PARAM;
	if (!pkey_fromdata("EC", bld, &k->pkey) || !pkey_public_ok(k->pkey)) {
		snprintf(why, WHY_MAX, "EC point is not on the curve");
		goto out;
	}
	k->fam = FAM_EC;
	k->algs = CLR_JWS_ALG_BIT(ec_curves[i].alg);
	k->sigsize = 2 * c;
	rc = CLR_OK;
out:
	OSSL_PARAM_BLD_free(bld);
	free(x);
	free(y);
	return rc;
}

/*
 * 1 if the Ed25519 encoding x is a point of small order (1, 2, 4 or 8),
 * canonical or not, whatever its sign bit.  Such a "public key" verifies a
 * signature with R = that point and S = 0 for every message (RFC 8032
 * leaves it to the verifier; libsodium refuses these too).  The y values
 * are 0, 1, p-1, p, p+1 and the two of order 8; checked by the unit tests.
 */
static int ed25519_small_order(const unsigned char x[32])
{
	static const unsigned char order8[2][32] = {
	    {0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4,
	     0x89, 0xf2, 0xef, 0x98, 0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6,
	     0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x05},
	    {0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b,
	     0x76, 0x0d, 0x10, 0x67, 0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39,
	     0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a},
	};
	unsigned char y[32];
	int mid_zero = 1, mid_ff = 1;

	memcpy(y, x, 32);
	y[31] &= 0x7f; /* the sign of x does not change the order */
	for (int i = 0; i < 2; i++)
		if (memcmp(y, order8[i], 32) == 0)
			return 1;
	for (int i = 1; i < 31; i++) {
		mid_zero &= y[i] == 0x00;
		mid_ff &= y[i] == 0xff;
	}
	/* y = 0 or 1 */
	if (mid_zero && y[31] == 0x00 && (y[0] == 0x00 || y[0] == 0x01))
		return 1;
	/* y = p-1, p, p+1 (p = 2^255 - 19: ec ff .. ff 7f little-endian) */
	if (mid_ff && y[31] == 0x7f && (y[0] == 0xec || y[0] == 0xed || y[0] == 0xee))
		return 1;
	return 0;
}

static enum clr_rc import_okp(json_t *o, struct clr_jwk *k, char *why)
{
	unsigned char *x = NULL;
	size_t xlen = 0;
	OSSL_PARAM_BLD *bld = NULL;
	enum clr_rc rc = CLR_ERR_PARAM;

	if (!jstr_eq(json_object_get(o, "crv"), "Ed25519")) {
		snprintf(why, WHY_MAX, "unsupported or missing OKP crv");
		goto out;
	}
	if ((rc = b64_member(o, "x", &x, &xlen, why)) != CLR_OK)
		goto out;
	rc = CLR_ERR_PARAM;
	if (xlen != 32) {
		snprintf(why, WHY_MAX, "Ed25519 key is not 32 bytes");
		goto out;
	}
	if (ed25519_small_order(x)) {
		snprintf(why, WHY_MAX, "Ed25519 key is a small-order point");
		goto out;
	}
	rc = CLR_ERR_NOMEM;
	bld = OSSL_PARAM_BLD_new();
	if (bld == NULL ||
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, x, xlen) != 1)
		goto out;
	rc = CLR_ERR_PARAM;
	if (!pkey_fromdata("ED25519", bld, &k->pkey)) {
		snprintf(why, WHY_MAX, "OpenSSL refused the Ed25519 key");
		goto out;
	}
	k->fam = FAM_OKP;
	k->algs = CLR_JWS_ALG_BIT(CLR_JWS_EDDSA);
	k->sigsize = 64;
	rc = CLR_OK;
out:
	OSSL_PARAM_BLD_free(bld);
	free(x);
	return rc;
}

/* key_ops, if present, must be an array of strings that includes "verify". */
static int key_ops_ok(json_t *ops)
{
	size_t i;
	json_t *v;
	int verify = 0;

	if (!json_is_array(ops))
		return 0;
	json_array_foreach(ops, i, v)
	{
		if (!json_is_string(v))
			return 0;
		if (jstr_eq(v, "verify"))
			verify = 1;
	}
	return verify;
}

static void jwk_clear(struct clr_jwk *k)
{
	EVP_PKEY_free(k->pkey);
	free(k->kid);
	memset(k, 0, sizeof(*k));
}

/*
 * Fills k from JWK object o.  CLR_ERR_PARAM with a reason in why (WHY_MAX)
 * when we refuse the key; k is then cleared.
 */
static enum clr_rc jwk_from_json(json_t *o, struct clr_jwk *k, char *why)
{
	json_t *kty, *use, *ops, *kid, *alg_j;
	unsigned pinned = CLR_JWS_ALG_ALL;
	enum clr_jws_alg alg;
	enum clr_rc rc = CLR_ERR_PARAM;

	memset(k, 0, sizeof(*k));
	if (!json_is_object(o)) {
		snprintf(why, WHY_MAX, "not a JSON object");
		goto out;
	}
	kty = json_object_get(o, "kty");
	if (!json_is_string(kty)) {
		snprintf(why, WHY_MAX, "missing or non-string kty");
		goto out;
	}
	if (jstr_eq(kty, "oct")) {
		snprintf(why, WHY_MAX, "symmetric (oct) keys are never accepted");
		goto out;
	}
	for (size_t i = 0; i < sizeof(private_members) / sizeof(private_members[0]); i++) {
		if (json_object_get(o, private_members[i]) != NULL) {
			snprintf(why, WHY_MAX, "contains private key material");
			goto out;
		}
	}
	use = json_object_get(o, "use");
	if (use != NULL && !jstr_eq(use, "sig")) {
		snprintf(why, WHY_MAX, "use is not \"sig\"");
		goto out;
	}
	ops = json_object_get(o, "key_ops");
	if (ops != NULL && !key_ops_ok(ops)) {
		snprintf(why, WHY_MAX, "key_ops malformed or without \"verify\"");
		goto out;
	}
	kid = json_object_get(o, "kid");
	if (kid != NULL && (!json_is_string(kid) || json_string_length(kid) > CLR_JWK_KID_MAX)) {
		snprintf(why, WHY_MAX, "kid is not a string of at most %u bytes", CLR_JWK_KID_MAX);
		goto out;
	}
	alg_j = json_object_get(o, "alg");
	if (alg_j != NULL) {
		if (!json_is_string(alg_j) ||
		    clr_jws_alg_parse(json_string_value(alg_j), json_string_length(alg_j), &alg) !=
			CLR_OK) {
			snprintf(why, WHY_MAX, "unsupported alg");
			goto out;
		}
		pinned = CLR_JWS_ALG_BIT(alg);
	}
	if (jstr_eq(kty, "RSA"))
		rc = import_rsa(o, k, why);
	else if (jstr_eq(kty, "EC"))
		rc = import_ec(o, k, why);
	else if (jstr_eq(kty, "OKP"))
		rc = import_okp(o, k, why);
	else
		snprintf(why, WHY_MAX, "unsupported kty");
	if (rc != CLR_OK)
		goto out;
	rc = CLR_ERR_PARAM;
	k->algs &= pinned;
	if (k->algs == 0) {
		snprintf(why, WHY_MAX, "alg does not fit the key type or curve");
		goto out;
	}
	if (kid != NULL) {
		rc = CLR_ERR_NOMEM;
		k->kid_len = json_string_length(kid);
		k->kid = malloc(k->kid_len + 1);
		if (k->kid == NULL)
			goto out;
		memcpy(k->kid, json_string_value(kid), k->kid_len + 1);
	}
	rc = CLR_OK;
out:
	if (rc != CLR_OK)
		jwk_clear(k);
	/* A refused key may leave OpenSSL errors behind; they are not ours to keep. */
	ERR_clear_error();
	return rc;
}

enum clr_rc clr_jwk_parse_one(const char *json, size_t len, struct clr_jwk **out, struct clr_err *e)
{
	json_error_t jerr;
	json_t *o = NULL;
	struct clr_jwk *k = NULL;
	char why[WHY_MAX] = "";
	enum clr_rc rc;

	*out = NULL;
	if (len > CLR_JWKS_MAX_BYTES)
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_key", "jwk", "JWK too large");
	o = json_loadb(json, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
	if (o == NULL)
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_key", "jwk", "JWK is not valid JSON");
	rc = CLR_ERR_NOMEM;
	k = malloc(sizeof(*k));
	if (k == NULL)
		goto out;
	rc = jwk_from_json(o, k, why);
	if (rc == CLR_OK) {
		*out = k;
		k = NULL;
	} else if (rc == CLR_ERR_PARAM) {
		clr_err_set(e, rc, "invalid_key", "jwk", "%s", why);
	}
out:
	if (rc == CLR_ERR_NOMEM)
		clr_err_set(e, rc, "server_error", "jwk", "out of memory");
	free(k);
	json_decref(o);
	return rc;
}

void clr_jwk_free(struct clr_jwk *k)
{
	if (k == NULL)
		return;
	jwk_clear(k);
	free(k);
}

unsigned clr_jwk_algs(const struct clr_jwk *k)
{
	return k != NULL ? k->algs : 0;
}

const char *clr_jwk_kid(const struct clr_jwk *k, size_t *len)
{
	if (len != NULL)
		*len = k != NULL ? k->kid_len : 0;
	return k != NULL ? k->kid : NULL;
}

/* ---- verification ---------------------------------------------------- */

static const EVP_MD *alg_md(enum clr_jws_alg alg)
{
	switch (alg) {
	case CLR_JWS_RS256:
	case CLR_JWS_PS256:
	case CLR_JWS_ES256:
		return EVP_sha256();
	case CLR_JWS_RS384:
	case CLR_JWS_PS384:
	case CLR_JWS_ES384:
		return EVP_sha384();
	case CLR_JWS_RS512:
	case CLR_JWS_PS512:
	case CLR_JWS_ES512:
		return EVP_sha512();
	default:
		return NULL; /* EdDSA hashes internally */
	}
}

/*
 * JWS carries ECDSA as raw r||s (RFC 7518 s.3.4); OpenSSL wants DER.  The
 * caller has checked siglen == 2*coord, so there is exactly one way to read
 * it.  Returns the DER length in der (cap bytes), 0 on failure.
 */
static size_t ecdsa_raw_to_der(const unsigned char *sig, size_t coord, unsigned char *der,
			       size_t cap)
{
	ECDSA_SIG *es = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(sig, (int)coord, NULL);
	BIGNUM *s = BN_bin2bn(sig + coord, (int)coord, NULL);
	unsigned char *p = der;
	size_t n = 0;
	int len;

	if (es == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(es, r, s) != 1)
		goto fail;
	r = s = NULL; /* owned by es now */
	len = i2d_ECDSA_SIG(es, NULL);
	if (len <= 0 || (size_t)len > cap || i2d_ECDSA_SIG(es, &p) != len)
		goto fail;
	n = (size_t)len;
fail:
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(es);
	return n;
}

static int is_pss(enum clr_jws_alg alg)
{
	return alg == CLR_JWS_PS256 || alg == CLR_JWS_PS384 || alg == CLR_JWS_PS512;
}

enum clr_rc clr_jwk_verify(const struct clr_jwk *k, enum clr_jws_alg alg, const void *data,
			   size_t n, const unsigned char *sig, size_t siglen)
{
	EVP_MD_CTX *ctx = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	const EVP_MD *md;
	unsigned char der[16 + 2 * 70];
	const unsigned char *s = sig;
	size_t slen = siglen;
	enum clr_rc rc = CLR_ERR_DENIED;

	if (k == NULL || (unsigned)alg >= CLR_JWS_ALG__MAX || !(k->algs & CLR_JWS_ALG_BIT(alg)))
		return CLR_ERR_DENIED;
	/* Exact length first: no leading zeros, no truncation, no DER in disguise. */
	if (sig == NULL || siglen != k->sigsize)
		return CLR_ERR_DENIED;
	if (k->fam == FAM_EC) {
		slen = ecdsa_raw_to_der(sig, k->sigsize / 2, der, sizeof(der));
		if (slen == 0)
			goto out;
		s = der;
	}
	md = alg_md(alg);
	ctx = EVP_MD_CTX_new();
	if (ctx == NULL) {
		rc = CLR_ERR_NOMEM;
		goto out;
	}
	if (EVP_DigestVerifyInit(ctx, &pctx, md, NULL, k->pkey) != 1)
		goto out;
	if (is_pss(alg) && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
			    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1 ||
			    EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) != 1))
		goto out;
	if (EVP_DigestVerify(ctx, s, slen, data, n) == 1)
		rc = CLR_OK;
out:
	EVP_MD_CTX_free(ctx);
	/* Failed verifications queue errors on this thread; never let them pile up. */
	ERR_clear_error();
	return rc;
}

/* ---- sets ------------------------------------------------------------ */

static void skip_add(struct clr_jwks *set, size_t index, json_t *o, const char *why)
{
	struct jwks_skip *sk = &set->skips[set->nskips++];
	json_t *kid = json_object_get(o, "kid");
	size_t j = 0;

	sk->index = index;
	/* A label for an admin page, not a lookup key: printable ASCII only. */
	if (json_is_string(kid)) {
		const char *p = json_string_value(kid);
		size_t n = json_string_length(kid);

		for (; j < n && j < SKIP_KID_MAX - 1; j++)
			sk->kid[j] = isprint((unsigned char)p[j]) ? p[j] : '?';
	}
	sk->kid[j] = '\0';
	snprintf(sk->reason, sizeof(sk->reason), "%s", why);
}

/* 1 if an accepted key already has k's kid for one of k's algorithms. */
static int kid_clash(const struct clr_jwks *set, const struct clr_jwk *k)
{
	for (size_t i = 0; i < set->n; i++) {
		const struct clr_jwk *o = &set->keys[i];

		if ((o->kid == NULL) != (k->kid == NULL) || !(o->algs & k->algs))
			continue;
		if (o->kid == NULL ||
		    (o->kid_len == k->kid_len && memcmp(o->kid, k->kid, k->kid_len) == 0))
			return 1;
	}
	return 0;
}

/* CLR_JWKS_STRICT: private members or a repeated kid refuse the whole set. */
static enum clr_rc strict_check(json_t *keys, struct clr_err *e)
{
	size_t i, j;
	json_t *o, *p;

	json_array_foreach(keys, i, o)
	{
		json_t *kid = json_object_get(o, "kid");

		for (size_t m = 0; m < sizeof(private_members) / sizeof(private_members[0]); m++) {
			if (json_object_get(o, private_members[m]) != NULL) {
				clr_err_set(e, CLR_ERR_PARAM, "invalid_jwks", "jwks",
					    "key %zu carries private key material", i);
				return CLR_ERR_PARAM;
			}
		}
		if (!json_is_string(kid))
			continue;
		json_array_foreach(keys, j, p)
		{
			if (j >= i)
				break;
			if (json_equal(kid, json_object_get(p, "kid"))) {
				clr_err_set(e, CLR_ERR_PARAM, "invalid_jwks", "jwks",
					    "keys %zu and %zu share a kid", j, i);
				return CLR_ERR_PARAM;
			}
		}
	}
	return CLR_OK;
}

enum clr_rc clr_jwks_parse(const char *json, size_t len, struct clr_jwks **out, struct clr_err *e)
{
	return clr_jwks_parse_ex(json, len, 0, out, e);
}

enum clr_rc clr_jwks_parse_ex(const char *json, size_t len, unsigned flags, struct clr_jwks **out,
			      struct clr_err *e)
{
	json_error_t jerr;
	json_t *root = NULL, *keys, *o;
	struct clr_jwks *set = NULL;
	char why[WHY_MAX];
	size_t i, nkeys;
	enum clr_rc rc = CLR_ERR_PARAM;

	*out = NULL;
	if (json == NULL || len > CLR_JWKS_MAX_BYTES) {
		clr_err_set(e, rc, "invalid_jwks", "jwks", "JWKS larger than %u bytes",
			    CLR_JWKS_MAX_BYTES);
		goto out;
	}
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
	keys = json_object_get(root, "keys");
	if (!json_is_object(root) || !json_is_array(keys)) {
		clr_err_set(e, rc, "invalid_jwks", "jwks", "not a JWK set (no \"keys\" array)");
		goto out;
	}
	nkeys = json_array_size(keys);
	if (nkeys > CLR_JWKS_MAX_KEYS) {
		clr_err_set(e, rc, "invalid_jwks", "jwks", "more than %u keys", CLR_JWKS_MAX_KEYS);
		goto out;
	}
	rc = CLR_ERR_NOMEM;
	set = calloc(1, sizeof(*set));
	if (set == NULL ||
	    (nkeys > 0 && ((set->keys = calloc(nkeys, sizeof(*set->keys))) == NULL ||
			   (set->skips = calloc(nkeys, sizeof(*set->skips))) == NULL)))
		goto nomem;
	if ((flags & CLR_JWKS_STRICT) && (rc = strict_check(keys, e)) != CLR_OK) {
		clr_jwks_free(set);
		set = NULL;
		goto out;
	}
	json_array_foreach(keys, i, o)
	{
		struct clr_jwk *k = &set->keys[set->n];

		rc = jwk_from_json(o, k, why);
		if (rc == CLR_ERR_NOMEM)
			goto nomem;
		if (rc == CLR_OK && kid_clash(set, k)) {
			jwk_clear(k);
			snprintf(why, sizeof(why), "duplicate kid");
			rc = CLR_ERR_PARAM;
		}
		if (rc != CLR_OK)
			skip_add(set, i, o, why);
		else
			set->n++;
	}
	rc = CLR_OK;
	if (set->n == 0 && !(flags & CLR_JWKS_ALLOW_EMPTY)) {
		rc = CLR_ERR_PARAM;
		if (set->nskips > 0)
			clr_err_set(e, rc, "invalid_jwks", "jwks",
				    "no usable key (first refusal: %s)", set->skips[0].reason);
		else
			clr_err_set(e, rc, "invalid_jwks", "jwks", "no usable key (empty set)");
		goto out;
	}
	*out = set;
	set = NULL;
	goto out;
nomem:
	clr_err_set(e, rc, "server_error", "jwks", "out of memory");
out:
	clr_jwks_free(set);
	json_decref(root);
	return rc;
}

void clr_jwks_free(struct clr_jwks *set)
{
	if (set == NULL)
		return;
	for (size_t i = 0; i < set->n; i++)
		jwk_clear(&set->keys[i]);
	free(set->keys);
	free(set->skips);
	free(set);
}

size_t clr_jwks_count(const struct clr_jwks *set)
{
	return set != NULL ? set->n : 0;
}

const struct clr_jwk *clr_jwks_key(const struct clr_jwks *set, size_t i)
{
	return set != NULL && i < set->n ? &set->keys[i] : NULL;
}

const char *clr_jwks_kid(const struct clr_jwks *set, size_t i, size_t *len)
{
	return clr_jwk_kid(clr_jwks_key(set, i), len);
}

const struct clr_jwk *clr_jwks_find(const struct clr_jwks *set, const char *kid, size_t kid_len,
				    enum clr_jws_alg alg)
{
	const struct clr_jwk *found = NULL;

	if (set == NULL || (unsigned)alg >= CLR_JWS_ALG__MAX)
		return NULL;
	for (size_t i = 0; i < set->n; i++) {
		const struct clr_jwk *k = &set->keys[i];

		if (!(k->algs & CLR_JWS_ALG_BIT(alg)))
			continue;
		if (kid != NULL) {
			if (k->kid != NULL && k->kid_len == kid_len &&
			    memcmp(k->kid, kid, kid_len) == 0)
				return k;
			continue;
		}
		if (found != NULL)
			return NULL; /* ambiguous without a kid */
		found = k;
	}
	return found;
}

size_t clr_jwks_skipped_count(const struct clr_jwks *set)
{
	return set != NULL ? set->nskips : 0;
}

enum clr_rc clr_jwks_skipped(const struct clr_jwks *set, size_t i, size_t *index, const char **kid,
			     const char **reason)
{
	if (set == NULL || i >= set->nskips)
		return CLR_ERR_NOTFOUND;
	*index = set->skips[i].index;
	*kid = set->skips[i].kid;
	*reason = set->skips[i].reason;
	return CLR_OK;
}
