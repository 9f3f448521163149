/*
 * test_jwt.c - token verification as the gateway does it: keys generated
 * here, published as a JWKS text, parsed by clr_jwks_parse, tokens signed
 * with EVP_DigestSign, verified by clr_jwt_verify; then every attack and
 * claim rule from the introspect issue, and the RFC 7520 examples.
 */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "clearance/jwk.h"
#include "clearance/jwt.h"
#include "test_jose_kit.h"

#define NOW 1800000000LL
#define ISS "https://idp.example"
#define AUD "api://gateway"

enum { K_RSA, K_EC256, K_EC384, K_EC521, K_ED, K_EVIL_EC, K_EVIL_RSA, K__MAX };
static EVP_PKEY *keys[K__MAX];
static const char *const kids[K__MAX] = {"rsa-1", "ec256", "ec384", "ec521", "ed", NULL, NULL};
static struct clr_jwks *jwks; /* the IdP's published set: the first five keys */

static void keys_setup(void)
{
	json_t *arr = json_array(), *set;
	struct clr_err e = {0};
	char *s;

	keys[K_RSA] = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	keys[K_EC256] = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	keys[K_EC384] = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	keys[K_EC521] = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-521");
	keys[K_ED] = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	keys[K_EVIL_EC] = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	keys[K_EVIL_RSA] = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	for (int i = 0; i < K__MAX; i++)
		ck_assert_ptr_nonnull(keys[i]);
	for (int i = 0; i <= K_ED; i++)
		json_array_append_new(arr, kit_jwk_json(keys[i], kids[i], NULL));
	set = json_pack("{s:o}", "keys", arr);
	s = json_dumps(set, JSON_COMPACT);
	ck_assert_int_eq(clr_jwks_parse(s, strlen(s), &jwks, &e), CLR_OK);
	ck_assert_uint_eq(clr_jwks_count(jwks), 5);
	free(s);
	json_decref(set);
}

static void keys_teardown(void)
{
	clr_jwks_free(jwks);
	for (int i = 0; i < K__MAX; i++)
		EVP_PKEY_free(keys[i]);
}

static struct clr_jwt_policy policy(void)
{
	struct clr_jwt_policy p = {
	    .issuer = ISS,
	    .audience = AUD,
	    .alg_mask = CLR_JWS_ALG_ALL,
	    .leeway_s = 30,
	    .identity_claim = NULL,
	    .now = NOW,
	};
	return p;
}

/* Standard claims with `extra` spliced in (",\"k\":v" or ""); printf-style times. */
static char *claims_with(const char *extra)
{
	char *s = NULL;

	ck_assert_int_ge(asprintf(&s,
				  "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":%lld,"
				  "\"iat\":%lld,\"client_id\":\"c1\",\"sub\":\"u1\","
				  "\"scope\":\"read  write\",\"jti\":\"j1\"%s}",
				  NOW + 300, NOW - 10, extra),
			 0);
	return s;
}

/* Signed token: header {"alg":alg,"kid":kid<hdr_extra>}, payload claims. */
static char *mint(int key, const char *alg, const char *kid, const char *hdr_extra,
		  const char *claims)
{
	char *hdr = NULL, *tok;
	int n;

	if (kid != NULL)
		n = asprintf(&hdr, "{\"alg\":\"%s\",\"kid\":\"%s\"%s}", alg, kid, hdr_extra);
	else
		n = asprintf(&hdr, "{\"alg\":\"%s\"%s}", alg, hdr_extra);
	ck_assert_int_ge(n, 0);
	tok = kit_jws(keys[key], alg, hdr, claims, NULL, 0);
	free(hdr);
	return tok;
}

/* Verifies tok with the default policy (or p); returns rc, msg copied to why. */
static enum clr_rc check_tok(const char *tok, const struct clr_jwt_policy *p,
			     struct clr_jwt_claims *c, char *why)
{
	struct clr_jwt_policy def = policy();
	struct clr_err e = {0};
	enum clr_rc rc = clr_jwt_verify(tok, strlen(tok), jwks, p ? p : &def, c, &e);

	snprintf(why, 240, "%s", rc == CLR_OK ? "" : e.msg);
	if (rc != CLR_OK) /* a refusal leaves nothing behind */
		ck_assert_ptr_null(c->identity);
	return rc;
}

/* Asserts the token is refused with rc and a message containing `msg`. */
static void refused(const char *tok, const struct clr_jwt_policy *p, enum clr_rc rc,
		    const char *msg)
{
	struct clr_jwt_claims c = CLR_JWT_CLAIMS_INIT;
	char why[240];

	ck_assert_int_eq(check_tok(tok, p, &c, why), rc);
	ck_assert_msg(strstr(why, msg) != NULL, "expected \"%s\", got \"%s\"", msg, why);
	clr_jwt_claims_clear(&c);
}

static void accepted(const char *tok, const struct clr_jwt_policy *p, struct clr_jwt_claims *c)
{
	char why[240];

	ck_assert_msg(check_tok(tok, p, c, why) == CLR_OK, "refused: %s", why);
}

/* ---- every algorithm, JWK -> verify ---------------------------------- */

static const struct {
	const char *alg;
	int key;
} algs[] = {
    {"RS256", K_RSA}, {"RS384", K_RSA},	  {"RS512", K_RSA},   {"PS256", K_RSA},	  {"PS384", K_RSA},
    {"PS512", K_RSA}, {"ES256", K_EC256}, {"ES384", K_EC384}, {"ES512", K_EC521}, {"EdDSA", K_ED},
};

START_TEST(each_alg)
{
	char *cl = claims_with(""),
	     *tok = mint(algs[_i].key, algs[_i].alg, kids[algs[_i].key], "", cl);
	struct clr_jwt_claims c = CLR_JWT_CLAIMS_INIT;
	struct clr_jwt *t = NULL;
	struct clr_err e = {0};
	size_t klen;
	size_t n = strlen(tok);

	accepted(tok, NULL, &c);
	ck_assert_str_eq(clr_jws_alg_name(c.alg), algs[_i].alg);
	ck_assert_str_eq(c.identity, "c1");
	ck_assert_str_eq(c.identity_claim, "client_id");
	ck_assert_str_eq(c.iss, ISS);
	ck_assert_str_eq(c.sub, "u1");
	ck_assert_str_eq(c.jti, "j1");
	ck_assert_str_eq(c.aud, AUD);
	ck_assert_str_eq(c.scope, "read write");
	ck_assert_uint_eq(c.nscopes, 2);
	ck_assert_str_eq(c.scopes[0], "read");
	ck_assert_str_eq(c.scopes[1], "write");
	ck_assert_int_eq(c.exp, NOW + 300);
	ck_assert_int_eq(c.iat, NOW - 10);
	clr_jwt_claims_clear(&c);
	ck_assert_ptr_null(c.scope);

	/* parse once, read the untrusted lookup data, then check */
	ck_assert_int_eq(clr_jwt_parse(tok, n, &t, &e), CLR_OK);
	ck_assert_str_eq(clr_jwt_issuer(t), ISS);
	{
		const char *kid = clr_jwt_kid(t, &klen);

		ck_assert_uint_eq(klen, strlen(kids[algs[_i].key]));
		ck_assert_mem_eq(kid, kids[algs[_i].key], klen);
	}
	ck_assert_str_eq(clr_jws_alg_name(clr_jwt_alg(t)), algs[_i].alg);
	{
		struct clr_jwt_policy p = policy();

		ck_assert_int_eq(clr_jwt_check(t, jwks, &p, &c, &e), CLR_OK);
		/* allow-list without this alg */
		p.alg_mask = CLR_JWS_ALG_ALL & ~CLR_JWS_ALG_BIT(c.alg);
		ck_assert_int_eq(clr_jwt_check(t, jwks, &p, &c, &e), CLR_ERR_DENIED);
		ck_assert_str_eq(e.msg, "alg not allowed");
		ck_assert_ptr_null(c.identity);
	}
	clr_jwt_free(t);

	/* one changed signature byte: the middle of the signature segment */
	tok[n - 20] = tok[n - 20] == 'A' ? 'B' : 'A';
	refused(tok, NULL, CLR_ERR_DENIED, "bad signature");
	free(tok);
	free(cl);
}
END_TEST

/* The same signature relabelled with a sibling algorithm fails. */
START_TEST(alg_relabel)
{
	char *cl = claims_with("");
	char *tok = mint(K_RSA, "RS256", "rsa-1", "", cl);
	char *dot = strchr(tok, '.');
	const char *ps = "{\"alg\":\"PS256\",\"kid\":\"rsa-1\"}";
	char *hdr = kit_b64(ps, strlen(ps));
	char *re = NULL;

	ck_assert_int_ge(asprintf(&re, "%s%s", hdr, dot), 0);
	refused(re, NULL, CLR_ERR_DENIED, "bad signature");
	free(re);
	free(hdr);
	free(tok);
	/* ES384 header on the P-256 key's kid: the key pins ES256 */
	tok = mint(K_EC384, "ES384", "ec256", "", cl);
	refused(tok, NULL, CLR_ERR_DENIED, "alg does not fit the key");
	free(tok);
	free(cl);
}
END_TEST

/* ---- attacks ----------------------------------------------------------- */

START_TEST(alg_none)
{
	char *cl = claims_with("");
	char *t1 = kit_jws(NULL, "none", "{\"alg\":\"none\"}", cl, NULL, 0);
	char *t2 = kit_jws(NULL, "none", "{\"alg\":\"none\",\"kid\":\"rsa-1\"}", cl,
			   (const unsigned char *)"sig", 3);

	refused(t1, NULL, CLR_ERR_DENIED, "missing signature");
	refused(t2, NULL, CLR_ERR_DENIED, "alg none refused");
	free(t1);
	free(t2);
	free(cl);
}
END_TEST

/* CVE-2015-9235 style: HS256 keyed with the RSA public key's bytes. */
START_TEST(hs256_with_rsa_public_key)
{
	char *cl = claims_with("");
	const char *hdr = "{\"alg\":\"HS256\",\"kid\":\"rsa-1\"}";
	char *h = kit_b64(hdr, strlen(hdr)), *p = kit_b64(cl, strlen(cl)), *input = NULL, *tok;
	unsigned char *der = NULL, mac[32];
	int derlen = i2d_PUBKEY(keys[K_RSA], &der);
	size_t maclen = 0;

	ck_assert_int_gt(derlen, 0);
	ck_assert_int_ge(asprintf(&input, "%s.%s", h, p), 0);
	ck_assert_ptr_nonnull(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, der, (size_t)derlen,
					(const unsigned char *)input, strlen(input), mac,
					sizeof(mac), &maclen));
	tok = kit_jws(NULL, "HS256", hdr, cl, mac, maclen);
	refused(tok, NULL, CLR_ERR_DENIED, "alg not supported");
	free(tok);
	free(input);
	free(h);
	free(p);
	OPENSSL_free(der);
	free(cl);
}
END_TEST

/* A token that brings its own key, or a URL for one, is refused even when validly signed. */
START_TEST(key_bearing_headers)
{
	char *cl = claims_with(""), *tok, *evil_jwk, extra[2048];
	json_t *j = kit_jwk_json(keys[K_EVIL_EC], NULL, NULL);

	evil_jwk = json_dumps(j, JSON_COMPACT);
	/* attacker key embedded and used */
	snprintf(extra, sizeof(extra), ",\"jwk\":%s", evil_jwk);
	tok = mint(K_EVIL_EC, "ES256", NULL, extra, cl);
	refused(tok, NULL, CLR_ERR_DENIED, "header carries a key");
	free(tok);
	/* even with a real kid and a real signature */
	tok = mint(K_EC256, "ES256", "ec256", extra, cl);
	refused(tok, NULL, CLR_ERR_DENIED, "header carries a key");
	free(tok);
	tok = mint(K_RSA, "RS256", "rsa-1", ",\"jku\":\"https://evil.example/jwks\"", cl);
	refused(tok, NULL, CLR_ERR_DENIED, "header carries a key");
	free(tok);
	tok = mint(K_RSA, "RS256", "rsa-1", ",\"x5u\":\"https://evil.example/c.pem\"", cl);
	refused(tok, NULL, CLR_ERR_DENIED, "header carries a key");
	free(tok);
	tok = mint(K_RSA, "RS256", "rsa-1", ",\"x5c\":[\"MIIB\"]", cl);
	refused(tok, NULL, CLR_ERR_DENIED, "header carries a key");
	free(tok);
	/* control: the same token without the extra header is fine */
	tok = mint(K_RSA, "RS256", "rsa-1", ",\"typ\":\"at+jwt\"", cl);
	{
		struct clr_jwt_claims c = CLR_JWT_CLAIMS_INIT;

		accepted(tok, NULL, &c);
		clr_jwt_claims_clear(&c);
	}
	free(tok);
	free(evil_jwk);
	json_decref(j);
	free(cl);
}
END_TEST

/* kid is a lookup key only: injection-looking kids are simply unknown. */
static const char *const odd_kids[] = {
    "../../../etc/passwd", "' OR 1=1 --",  "rsa-1/../rsa-1", "RSA-1", "rsa-1 ",
    "%2e%2e%2f",	   "rsa-1\\u0000",
};

START_TEST(odd_kid)
{
	char *cl = claims_with(""), *tok = mint(K_RSA, "RS256", odd_kids[_i], "", cl);

	refused(tok, NULL, CLR_ERR_NOTFOUND, "unknown kid");
	free(tok);
	free(cl);
}
END_TEST

START_TEST(no_kid)
{
	char *cl = claims_with(""), *tok = mint(K_ED, "EdDSA", NULL, "", cl);
	struct clr_jwt_claims c = CLR_JWT_CLAIMS_INIT;
	struct clr_jwks *two;
	struct clr_err e = {0};
	struct clr_jwt_policy p = policy();
	json_t *set;
	char *s;

	/* exactly one key can do EdDSA: no kid needed */
	accepted(tok, NULL, &c);
	clr_jwt_claims_clear(&c);
	free(tok);
	/* two ES256 keys and no kid: we do not guess */
	set = json_pack("{s:[o,o]}", "keys", kit_jwk_json(keys[K_EC256], "a", NULL),
			kit_jwk_json(keys[K_EVIL_EC], "b", NULL));
	s = json_dumps(set, JSON_COMPACT);
	ck_assert_int_eq(clr_jwks_parse(s, strlen(s), &two, &e), CLR_OK);
	tok = mint(K_EC256, "ES256", NULL, "", cl);
	ck_assert_int_eq(clr_jwt_verify(tok, strlen(tok), two, &p, &c, &e), CLR_ERR_DENIED);
	ck_assert_str_eq(e.msg, "no kid and more than one key fits");
	free(tok);
	/* an attacker's key signs, claims the kid of ours */
	tok = mint(K_EVIL_EC, "ES256", "a", "", cl);
	ck_assert_int_eq(clr_jwt_verify(tok, strlen(tok), two, &p, &c, &e), CLR_ERR_DENIED);
	ck_assert_str_eq(e.msg, "bad signature");
	free(tok);
	clr_jwks_free(two);
	free(s);
	json_decref(set);
	free(cl);
}
END_TEST

START_TEST(size_caps)
{
	char *filler = malloc(CLR_JWT_MAX_TOKEN), *extra = NULL, *cl, *tok;

	memset(filler, 'a', CLR_JWT_MAX_TOKEN - 1);
	filler[CLR_JWT_MAX_TOKEN - 1] = '\0';
	ck_assert_int_ge(asprintf(&extra, ",\"pad\":\"%s\"", filler), 0);
	cl = claims_with(extra);
	tok = mint(K_EC256, "ES256", "ec256", "", cl);
	ck_assert_uint_gt(strlen(tok), CLR_JWT_MAX_TOKEN);
	refused(tok, NULL, CLR_ERR_DENIED, "token too large");
	free(tok);
	free(cl);
	/* a header over 1 KiB decoded, in a token under the token cap */
	filler[CLR_JWT_MAX_HEADER] = '\0';
	free(extra);
	ck_assert_int_ge(asprintf(&extra, ",\"typ\":\"%s\"", filler), 0);
	cl = claims_with("");
	tok = mint(K_EC256, "ES256", "ec256", extra, cl);
	ck_assert_uint_lt(strlen(tok), CLR_JWT_MAX_TOKEN);
	refused(tok, NULL, CLR_ERR_DENIED, "header too large");
	free(tok);
	free(cl);
	free(extra);
	free(filler);
}
END_TEST

/* Damage to a good token in ways a lax decoder would forgive. */
static const struct {
	const char *what;
	int at;		/* 0 header, 1 payload, 2 signature segment; -1 whole token */
	const char *op; /* "append:X", "prepend:X", "replace0:X" */
	const char *msg;
} mangles[] = {
    {"padding on payload", 1, "append:=", "bad base64url"},
    {"padding on signature", 2, "append:==", "bad base64url"},
    {"std alphabet", 0, "replace0:+", "bad base64url"},
    {"slash", 1, "replace0:/", "bad base64url"},
    {"space", 1, "prepend: ", "bad base64url"},
    {"newline", 2, "append:\n", "bad base64url"},
    {"extra part", -1, "append:.AAAA", "malformed token"},
    {"JWE shape", -1, "append:.AAAA.AAAA", "JWE not supported"},
    {"empty header", 0, "replace_all:", "malformed token"},
    {"empty signature", 2, "replace_all:", "missing signature"},
};

START_TEST(mangled)
{
	char *cl = claims_with(""), *tok = mint(K_EC256, "ES256", "ec256", "", cl);
	char *parts[3], *out = NULL, *save = NULL, *copy = strdup(tok);
	const char *op = mangles[_i].op, *arg = strchr(op, ':') + 1;
	int at = mangles[_i].at;

	parts[0] = strtok_r(copy, ".", &save);
	parts[1] = strtok_r(NULL, ".", &save);
	parts[2] = strtok_r(NULL, ".", &save);
	if (at < 0) {
		ck_assert_int_ge(asprintf(&out, "%s%s", tok, arg), 0);
	} else {
		char *seg = NULL;

		if (strncmp(op, "append", 6) == 0)
			ck_assert_int_ge(asprintf(&seg, "%s%s", parts[at], arg), 0);
		else if (strncmp(op, "prepend", 7) == 0)
			ck_assert_int_ge(asprintf(&seg, "%s%s", arg, parts[at]), 0);
		else if (strncmp(op, "replace0", 8) == 0)
			ck_assert_int_ge(asprintf(&seg, "%s%s", arg, parts[at] + 1), 0);
		else
			seg = strdup(arg);
		parts[at] = seg;
		ck_assert_int_ge(asprintf(&out, "%s.%s.%s", parts[0], parts[1], parts[2]), 0);
		free(seg);
	}
	refused(out, NULL, CLR_ERR_DENIED, mangles[_i].msg);
	free(out);
	free(copy);
	free(tok);
	free(cl);
}
END_TEST

/* Header and payload texts that are signed correctly but must be refused. */
static const struct {
	const char *header; /* %s = kid "ec256" is not used: literal texts */
	const char *claims_extra;
	const char *msg;
} bad_headers[] = {
    {"{\"alg\":\"ES256\",\"kid\":\"ec256\",\"alg\":\"none\"}", "", "header is not valid JSON"},
    {"{\"alg\":\"ES256\",\"kid\":\"ec256\",\"crit\":[\"exp\"],\"exp\":1}", "", "crit"},
    {"{\"alg\":\"ES256\",\"kid\":\"ec256\",\"crit\":[]}", "", "crit"},
    {"{\"alg\":\"ES256\",\"kid\":\"ec256\",\"b64\":false}", "", "b64"},
    {"{\"alg\":\"ES256\",\"kid\":\"ec256\",\"enc\":\"A128GCM\"}", "", "JWE"},
    {"{\"alg\":\"ES256\",\"kid\":7}", "", "bad kid"},
    {"{\"kid\":\"ec256\"}", "", "no alg"},
    {"{\"alg\":[\"ES256\"],\"kid\":\"ec256\"}", "", "no alg"},
    {"[\"ES256\"]", "", "not a JSON object"},
    {"{\"alg\":\"ES256\",\"kid\":\"ec256\"}", ",\"iss\":\"https://evil.example\"",
     "claims are not a JSON object"},
    {"{\"alg\":\"ES256\",\"kid\":\"ec256\"}", ",\"sub2\":\"a\\u0000b\"",
     "claims are not a JSON object"},
};

START_TEST(bad_header)
{
	char *cl = claims_with(bad_headers[_i].claims_extra);
	char *tok = kit_jws(keys[K_EC256], "ES256", bad_headers[_i].header, cl, NULL, 0);

	refused(tok, NULL, CLR_ERR_DENIED, bad_headers[_i].msg);
	free(tok);
	free(cl);
}
END_TEST

START_TEST(b64_true_is_fine)
{
	char *cl = claims_with("");
	char *tok = kit_jws(keys[K_EC256], "ES256",
			    "{\"alg\":\"ES256\",\"kid\":\"ec256\",\"b64\":true}", cl, NULL, 0);
	struct clr_jwt_claims c = CLR_JWT_CLAIMS_INIT;

	accepted(tok, NULL, &c);
	clr_jwt_claims_clear(&c);
	free(tok);
	free(cl);
}
END_TEST

START_TEST(json_serialization_refused)
{
	const char *j = "{\"payload\":\"e30\",\"protected\":\"eyJhbGciOiJFUzI1NiJ9\","
			"\"signature\":\"AAAA\"}";

	refused(j, NULL, CLR_ERR_DENIED, "malformed token");
	refused("", NULL, CLR_ERR_DENIED, "malformed token");
	refused("..", NULL, CLR_ERR_DENIED, "malformed token");
}
END_TEST

/* ---- claims ------------------------------------------------------------ */

/* Claims texts as full JSON (no defaults), with the expected outcome. */
static const struct {
	const char *name;
	const char *claims; /* %lld = NOW, used up to 3 times */
	const char *msg;    /* NULL: accepted */
	const char *scope;  /* when accepted */
	const char *identity;
} claim_cases[] = {
    {"wrong iss",
     "{\"iss\":\"https://idp.example/\",\"aud\":\"" AUD "\",\"exp\":%lld,\"client_id\":\"c\"}",
     "wrong issuer", NULL, NULL},
    {"iss differs in case",
     "{\"iss\":\"https://IDP.example\",\"aud\":\"" AUD "\",\"exp\":%lld,\"client_id\":\"c\"}",
     "wrong issuer", NULL, NULL},
    {"no iss", "{\"aud\":\"" AUD "\",\"exp\":%lld,\"client_id\":\"c\"}", "wrong issuer", NULL,
     NULL},
    {"iss not a string",
     "{\"iss\":[\"" ISS "\"],\"aud\":\"" AUD "\",\"exp\":%lld,\"client_id\":\"c\"}", "wrong issuer",
     NULL, NULL},
    {"wrong aud", "{\"iss\":\"" ISS "\",\"aud\":\"api://other\",\"exp\":%lld,\"client_id\":\"c\"}",
     "wrong audience", NULL, NULL},
    {"aud array without ours",
     "{\"iss\":\"" ISS "\",\"aud\":[\"a\",\"b\"],\"exp\":%lld,\"client_id\":\"c\"}",
     "wrong audience", NULL, NULL},
    {"no aud", "{\"iss\":\"" ISS "\",\"exp\":%lld,\"client_id\":\"c\"}", "wrong audience", NULL,
     NULL},
    {"aud array with ours",
     "{\"iss\":\"" ISS "\",\"aud\":[\"a\",\"" AUD "\"],\"exp\":%lld,\"client_id\":\"c\"}", NULL, "",
     "c"},
    {"missing exp", "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"client_id\":\"c\"}", "exp", NULL,
     NULL},
    {"exp as string",
     "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":\"%lld\",\"client_id\":\"c\"}", "exp", NULL,
     NULL},
    {"expired", "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":%lld-31,\"client_id\":\"c\"}",
     "token expired", NULL, NULL},
    {"scope and scp",
     "{\"iss\":\"" ISS "\",\"aud\":\"" AUD
     "\",\"exp\":%lld,\"client_id\":\"c\",\"scope\":\" a  b \",\"scp\":[\"z\"]}",
     NULL, "a b", "c"},
    {"scp array",
     "{\"iss\":\"" ISS "\",\"aud\":\"" AUD
     "\",\"exp\":%lld,\"client_id\":\"c\",\"scp\":[\"a\",\"b:c\"]}",
     NULL, "a b:c", "c"},
    {"scp string",
     "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":%lld,\"client_id\":\"c\",\"scp\":\"x y\"}",
     NULL, "x y", "c"},
    {"scp entry with space",
     "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":%lld,\"client_id\":\"c\",\"scp\":[\"a b\"]}",
     "bad scope", NULL, NULL},
    {"scope as array",
     "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":%lld,\"client_id\":\"c\",\"scope\":[\"a\"]}",
     "bad scope", NULL, NULL},
    {"scope with quote",
     "{\"iss\":\"" ISS "\",\"aud\":\"" AUD
     "\",\"exp\":%lld,\"client_id\":\"c\",\"scope\":\"a \\\"b\"}",
     "bad scope", NULL, NULL},
    {"scope with tab",
     "{\"iss\":\"" ISS "\",\"aud\":\"" AUD
     "\",\"exp\":%lld,\"client_id\":\"c\",\"scope\":\"a\\tb\"}",
     "bad scope", NULL, NULL},
    {"identity azp",
     "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":%lld,\"azp\":\"z\",\"sub\":\"s\"}", NULL, "",
     "z"},
    {"identity sub", "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":%lld,\"sub\":\"s\"}", NULL,
     "", "s"},
    {"client_id not a string",
     "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":%lld,\"client_id\":1,\"sub\":\"s\"}",
     "no identity claim", NULL, NULL},
    {"empty client_id",
     "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":%lld,\"client_id\":\"\",\"sub\":\"s\"}",
     "no identity claim", NULL, NULL},
    {"no identity", "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":%lld}", "no identity claim",
     NULL, NULL},
    {"claims not an object", "[\"%lld\"]", "claims are not a JSON object", NULL, NULL},
};

/* The case table holds the format strings; they are ours, not input. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
START_TEST(claim_rules)
{
	char cl[1024], *tok;
	struct clr_jwt_claims c = CLR_JWT_CLAIMS_INIT;
	char why[240];
	enum clr_rc rc;

	/* "%lld-31" in a case means NOW-31, computed here since JSON has no arithmetic */
	if (strstr(claim_cases[_i].claims, "%lld-31") != NULL) {
		char tmpl[1024];

		snprintf(tmpl, sizeof(tmpl), "%s", claim_cases[_i].claims);
		memcpy(strstr(tmpl, "%lld-31"), "%lld   ", 7);
		snprintf(cl, sizeof(cl), tmpl, NOW - 31);
	} else {
		snprintf(cl, sizeof(cl), claim_cases[_i].claims, NOW + 60);
	}
	tok = mint(K_ED, "EdDSA", "ed", "", cl);
	rc = check_tok(tok, NULL, &c, why);
	if (claim_cases[_i].msg == NULL) {
		ck_assert_msg(rc == CLR_OK, "%s: %s", claim_cases[_i].name, why);
		ck_assert_str_eq(c.scope, claim_cases[_i].scope);
		ck_assert_str_eq(c.identity, claim_cases[_i].identity);
	} else {
		ck_assert_msg(rc == CLR_ERR_DENIED && strstr(why, claim_cases[_i].msg) != NULL,
			      "%s: rc %d \"%s\"", claim_cases[_i].name, rc, why);
	}
	clr_jwt_claims_clear(&c);
	free(tok);
}
END_TEST
#pragma GCC diagnostic pop

/* exp/nbf/iat against the leeway, at the boundaries. */
static const struct {
	const char *claim;
	long long offset;
	const char *msg; /* NULL: accepted */
} time_cases[] = {
    {"exp", -29, NULL},
    {"exp", -30, "token expired"},
    {"exp", -31, "token expired"},
    {"exp", 1, NULL},
    {"nbf", 30, NULL},
    {"nbf", 31, "token not yet valid"},
    {"nbf", -1000, NULL},
    {"iat", 30, NULL},
    {"iat", 100, "token issued in the future"},
    {"nbf", -1, NULL},
};

START_TEST(time_rules)
{
	char cl[512], *tok;
	long long exp =
	    strcmp(time_cases[_i].claim, "exp") == 0 ? NOW + time_cases[_i].offset : NOW + 3600;
	struct clr_jwt_claims c = CLR_JWT_CLAIMS_INIT;
	char why[240];
	enum clr_rc rc;

	if (strcmp(time_cases[_i].claim, "exp") == 0)
		snprintf(cl, sizeof(cl),
			 "{\"iss\":\"" ISS "\",\"aud\":\"" AUD
			 "\",\"exp\":%lld,\"client_id\":\"c\"}",
			 exp);
	else
		snprintf(cl, sizeof(cl),
			 "{\"iss\":\"" ISS "\",\"aud\":\"" AUD
			 "\",\"exp\":%lld,\"%s\":%lld.5,\"client_id\":\"c\"}",
			 exp, time_cases[_i].claim, NOW + time_cases[_i].offset);
	tok = mint(K_EC256, "ES256", "ec256", "", cl);
	rc = check_tok(tok, NULL, &c, why);
	if (time_cases[_i].msg == NULL)
		ck_assert_msg(rc == CLR_OK, "%s %+lld: %s", time_cases[_i].claim,
			      time_cases[_i].offset, why);
	else
		ck_assert_msg(rc == CLR_ERR_DENIED && strcmp(why, time_cases[_i].msg) == 0,
			      "%s %+lld: %s", time_cases[_i].claim, time_cases[_i].offset, why);
	clr_jwt_claims_clear(&c);
	free(tok);
}
END_TEST

/* RFC 7662 answers carry "aud" as the token has it (issue 10). */
START_TEST(aud_kept_as_given)
{
	char cl[512], *tok;
	struct clr_jwt_claims c = CLR_JWT_CLAIMS_INIT;
	char why[240];

	snprintf(cl, sizeof(cl),
		 "{\"iss\":\"" ISS "\",\"aud\":[\"" AUD "\", \"b/\\u00e9\"],"
		 "\"exp\":%lld,\"client_id\":\"c\"}",
		 NOW + 60);
	tok = mint(K_ED, "EdDSA", "ed", "", cl);
	ck_assert_int_eq(check_tok(tok, NULL, &c, why), CLR_OK);
	ck_assert_ptr_nonnull(c.aud_array);
	ck_assert_str_eq(c.aud_array, "[\"" AUD "\",\"b/\u00e9\"]");
	ck_assert_str_eq(c.aud, AUD);
	clr_jwt_claims_clear(&c);
	free(tok);

	snprintf(cl, sizeof(cl),
		 "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":%lld,\"client_id\":\"c\"}",
		 NOW + 60);
	tok = mint(K_ED, "EdDSA", "ed", "", cl);
	ck_assert_int_eq(check_tok(tok, NULL, &c, why), CLR_OK);
	ck_assert_ptr_null(c.aud_array);
	ck_assert_str_eq(c.aud, AUD);
	clr_jwt_claims_clear(&c);
	free(tok);
}
END_TEST

START_TEST(policy_options)
{
	char *cl = claims_with(",\"email\":\"a@b\"");
	char *tok = mint(K_RSA, "PS256", "rsa-1", "", cl);
	struct clr_jwt_policy p = policy();
	struct clr_jwt_claims c = CLR_JWT_CLAIMS_INIT;
	struct clr_err e = {0};

	/* a configured identity claim, no audience check */
	p.identity_claim = "email";
	p.audience = NULL;
	accepted(tok, &p, &c);
	ck_assert_str_eq(c.identity, "a@b");
	ck_assert_str_eq(c.identity_claim, "email");
	ck_assert_str_eq(c.aud, AUD);
	/* a second verify into the same struct clears the first result */
	accepted(tok, &p, &c);
	p.identity_claim = "missing";
	refused(tok, &p, CLR_ERR_DENIED, "no identity claim");
	/* allow-list without PS256 */
	p = policy();
	p.alg_mask = CLR_JWS_ALG_BIT(CLR_JWS_RS256) | CLR_JWS_ALG_BIT(CLR_JWS_ES256);
	refused(tok, &p, CLR_ERR_DENIED, "alg not allowed");
	/* negative leeway means the default 30 s */
	p = policy();
	p.leeway_s = -1;
	p.now = NOW + 300 + 29;
	accepted(tok, &p, &c);
	p.now = NOW + 300 + 30;
	refused(tok, &p, CLR_ERR_DENIED, "token expired");
	/* a policy without an issuer is a caller bug */
	p = policy();
	p.issuer = NULL;
	ck_assert_int_eq(clr_jwt_verify(tok, strlen(tok), jwks, &p, &c, &e), CLR_ERR_PARAM);
	clr_jwt_claims_clear(&c);
	free(tok);
	free(cl);
}
END_TEST

/* ---- threads share one key set ---------------------------------------- */

struct th_arg {
	const char *tok;
	int ok;
};

static void *verify_loop(void *p)
{
	struct th_arg *a = p;
	struct clr_jwt_policy pol = policy();

	for (int i = 0; i < 200; i++) {
		struct clr_jwt_claims c = CLR_JWT_CLAIMS_INIT;
		struct clr_err e = {0};

		if (clr_jwt_verify(a->tok, strlen(a->tok), jwks, &pol, &c, &e) == CLR_OK &&
		    strcmp(c.identity, "c1") == 0)
			a->ok++;
		clr_jwt_claims_clear(&c);
	}
	return NULL;
}

START_TEST(threads_share_keys)
{
	char *cl = claims_with("");
	char *toks[4] = {mint(K_RSA, "RS256", "rsa-1", "", cl),
			 mint(K_EC256, "ES256", "ec256", "", cl), mint(K_ED, "EdDSA", "ed", "", cl),
			 mint(K_RSA, "PS512", "rsa-1", "", cl)};
	pthread_t th[4];
	struct th_arg args[4];

	for (int i = 0; i < 4; i++) {
		args[i].tok = toks[i];
		args[i].ok = 0;
		ck_assert_int_eq(pthread_create(&th[i], NULL, verify_loop, &args[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		ck_assert_int_eq(args[i].ok, 200);
		free(toks[i]);
	}
	free(cl);
}
END_TEST

/* ---- RFC 7520 ---------------------------------------------------------- */

static const struct {
	const char *file;
	const char *output; /* "compact", "json" or "json_flat" */
	int ok;
} cookbook[] = {
    {"4_1.rsa_v15_signature", "compact", 1},
    {"4_2.rsa-pss_signature", "compact", 1},
    {"4_3.ecdsa_signature", "compact", 1},
    {"4_1.rsa_v15_signature", "json_flat", 0},		   /* JSON serialization */
    {"4_4.hmac-sha2_integrity_protection", "compact", 0},  /* HS256 */
    {"4_5.signature_with_detached_content", "compact", 0}, /* detached + HS256 */
    {"4_6.protecting_specific_header_fields", "json", 0},
    {"4_7.protecting_content_only", "json_flat", 0},
    {"4_8.multiple_signatures", "json", 0},
};

START_TEST(rfc7520)
{
	char path[256], *keys_text = NULL, *tok;
	json_t *doc, *out, *set;
	struct clr_jwks *ks;
	struct clr_err e = {0};
	unsigned char *payload = NULL;
	size_t plen = 0;
	enum clr_rc rc;

	if (!kit_have_data("jose-cookbook"))
		return;
	/* the cookbook's public keys (RSA 3.3, EC P-521 3.1) as our JWKS */
	set = json_pack("{s:[o,o]}", "keys",
			kit_load_json("jose-cookbook/jwk/3_3.rsa_public_key.json"),
			kit_load_json("jose-cookbook/jwk/3_1.ec_public_key.json"));
	ck_assert_ptr_nonnull(set);
	keys_text = json_dumps(set, JSON_COMPACT);
	ck_assert_int_eq(clr_jwks_parse(keys_text, strlen(keys_text), &ks, &e), CLR_OK);
	ck_assert_uint_eq(clr_jwks_count(ks), 2);

	snprintf(path, sizeof(path), "jose-cookbook/jws/%s.json", cookbook[_i].file);
	doc = kit_load_json(path);
	ck_assert_ptr_nonnull(doc);
	out = json_object_get(json_object_get(doc, "output"), cookbook[_i].output);
	ck_assert_ptr_nonnull(out);
	tok = json_is_string(out) ? strdup(json_string_value(out)) : json_dumps(out, JSON_COMPACT);
	rc = clr_jws_verify(tok, strlen(tok), ks, CLR_JWS_ALG_ALL, &payload, &plen, &e);
	if (cookbook[_i].ok) {
		const char *want =
		    json_string_value(json_object_get(json_object_get(doc, "input"), "payload"));

		ck_assert_msg(rc == CLR_OK, "%s: %s", cookbook[_i].file, e.msg);
		ck_assert_uint_eq(plen, strlen(want));
		ck_assert_mem_eq(payload, want, plen);
	} else {
		ck_assert_msg(rc != CLR_OK, "%s %s accepted", cookbook[_i].file,
			      cookbook[_i].output);
		ck_assert_ptr_null(payload);
	}
	free(payload);
	free(tok);
	json_decref(doc);
	free(keys_text);
	json_decref(set);
	clr_jwks_free(ks);
}
END_TEST

/* ---- explicit typing and ID tokens (issue 8) -------------------------- */

static const struct {
	const char *hdr_extra; /* spliced into the header */
	const char *typs;      /* policy list, NULL = default */
	int ok;
	const char *why;
} typ_cases[] = {
    {",\"typ\":\"at+jwt\"", NULL, 1, NULL},
    {",\"typ\":\"application/at+jwt\"", NULL, 1, NULL},
    {",\"typ\":\"AT+JWT\"", NULL, 1, NULL}, /* media types are case-insensitive */
    {",\"typ\":\"JWT\"", NULL, 1, NULL},
    {"", NULL, 1, NULL}, /* untyped: "none" is in the default list */
    {",\"typ\":\"id+jwt\"", NULL, 0, "typ not accepted"},
    {",\"typ\":\"dpop+jwt\"", NULL, 0, "typ not accepted"},
    {",\"typ\":\"logout+jwt\"", NULL, 0, "typ not accepted"},
    {",\"typ\":7", NULL, 0, "bad typ"},
    {"", "at+jwt", 0, "typ not accepted"}, /* a strict provider wants it typed */
    {",\"typ\":\"JWT\"", "at+jwt", 0, "typ not accepted"},
    {",\"typ\":\"application/at+jwt\"", "at+jwt", 1, NULL},
    {",\"typ\":\"at+jwt\",\"cty\":\"JWT\"", NULL, 0, "nested JWT"},
    {",\"cty\":\"json\"", NULL, 0, "nested JWT"},
};

START_TEST(typ_rules)
{
	struct clr_jwt_policy p = policy();
	struct clr_jwt_claims c = CLR_JWT_CLAIMS_INIT;
	char *cl = claims_with("");
	char *tok = mint(K_RSA, "RS256", "rsa-1", typ_cases[_i].hdr_extra, cl);

	p.typs = typ_cases[_i].typs;
	if (typ_cases[_i].ok)
		accepted(tok, &p, &c);
	else
		refused(tok, &p, CLR_ERR_DENIED, typ_cases[_i].why);
	clr_jwt_claims_clear(&c);
	free(tok);
	free(cl);
}
END_TEST

START_TEST(id_token_refused)
{
	struct clr_jwt_claims c = CLR_JWT_CLAIMS_INIT;
	char *cl, *tok;

	/* nonce or at_hash: an ID token, whatever its typ */
	cl = claims_with(",\"nonce\":\"n-1\"");
	tok = mint(K_RSA, "RS256", "rsa-1", ",\"typ\":\"JWT\"", cl);
	refused(tok, NULL, CLR_ERR_DENIED, "ID token");
	free(tok);
	free(cl);
	cl = claims_with(",\"at_hash\":\"abc\"");
	tok = mint(K_RSA, "RS256", "rsa-1", ",\"typ\":\"at+jwt\"", cl);
	refused(tok, NULL, CLR_ERR_DENIED, "ID token");
	free(tok);
	free(cl);
	/* aud = the client itself and not typed at+jwt: an ID token */
	cl = NULL;
	ck_assert_int_ge(asprintf(&cl,
				  "{\"iss\":\"" ISS "\",\"aud\":[\"c1\"],\"exp\":%lld,"
				  "\"client_id\":\"c1\",\"sub\":\"u1\"}",
				  NOW + 300),
			 0);
	{
		struct clr_jwt_policy p = policy();
		p.audience = NULL;
		tok = mint(K_RSA, "RS256", "rsa-1", "", cl);
		refused(tok, &p, CLR_ERR_DENIED, "ID token");
		free(tok);
		tok = mint(K_RSA, "RS256", "rsa-1", ",\"typ\":\"JWT\"", cl);
		refused(tok, &p, CLR_ERR_DENIED, "ID token");
		free(tok);
		/* the same claims typed as an access token are one */
		tok = mint(K_RSA, "RS256", "rsa-1", ",\"typ\":\"at+jwt\"", cl);
		accepted(tok, &p, &c);
		ck_assert_str_eq(c.identity, "c1");
		clr_jwt_claims_clear(&c);
		free(tok);
	}
	free(cl);
}
END_TEST

/* Kong's "app.clientId", Okta's "cid": the identity claim per provider. */
START_TEST(identity_claim_paths)
{
	struct clr_jwt_policy p = policy();
	struct clr_jwt_claims c = CLR_JWT_CLAIMS_INIT;
	char *cl = claims_with(",\"app\":{\"clientId\":\"kong-app\",\"n\":{\"x\":\"deep\"}},"
			       "\"cid\":\"okta-app\",\"a.b\":\"literal\"");
	char *tok = mint(K_RSA, "RS256", "rsa-1", "", cl);

	p.identity_claim = "app.clientId";
	accepted(tok, &p, &c);
	ck_assert_str_eq(c.identity, "kong-app");
	clr_jwt_claims_clear(&c);
	p.identity_claim = "app.n.x";
	accepted(tok, &p, &c);
	ck_assert_str_eq(c.identity, "deep");
	clr_jwt_claims_clear(&c);
	p.identity_claim = "cid";
	accepted(tok, &p, &c);
	ck_assert_str_eq(c.identity, "okta-app");
	clr_jwt_claims_clear(&c);
	p.identity_claim = "a.b"; /* a member with the dotted name wins */
	accepted(tok, &p, &c);
	ck_assert_str_eq(c.identity, "literal");
	clr_jwt_claims_clear(&c);
	for (size_t i = 0; i < 5; i++) {
		static const char *const bad[] = {"app", "app.missing", "app..clientId", "app.n",
						  "app.clientId.more"};
		p.identity_claim = bad[i];
		refused(tok, &p, CLR_ERR_DENIED, "no identity claim");
	}
	free(tok);
	free(cl);
}
END_TEST

static Suite *jwt_suite(void)
{
	Suite *s = suite_create("jwt");
	TCase *tc = tcase_create("clr_jwt_verify");

	tcase_set_timeout(tc, 60);
	tcase_add_unchecked_fixture(tc, keys_setup, keys_teardown);
	tcase_add_loop_test(tc, each_alg, 0, (int)(sizeof(algs) / sizeof(algs[0])));
	tcase_add_test(tc, alg_relabel);
	tcase_add_test(tc, alg_none);
	tcase_add_test(tc, hs256_with_rsa_public_key);
	tcase_add_test(tc, key_bearing_headers);
	tcase_add_loop_test(tc, odd_kid, 0, (int)(sizeof(odd_kids) / sizeof(odd_kids[0])));
	tcase_add_test(tc, no_kid);
	tcase_add_test(tc, size_caps);
	tcase_add_loop_test(tc, mangled, 0, (int)(sizeof(mangles) / sizeof(mangles[0])));
	tcase_add_loop_test(tc, bad_header, 0, (int)(sizeof(bad_headers) / sizeof(bad_headers[0])));
	tcase_add_test(tc, b64_true_is_fine);
	tcase_add_test(tc, json_serialization_refused);
	tcase_add_loop_test(tc, claim_rules, 0,
			    (int)(sizeof(claim_cases) / sizeof(claim_cases[0])));
	tcase_add_loop_test(tc, time_rules, 0, (int)(sizeof(time_cases) / sizeof(time_cases[0])));
	tcase_add_test(tc, aud_kept_as_given);
	tcase_add_test(tc, policy_options);
	tcase_add_test(tc, threads_share_keys);
	tcase_add_loop_test(tc, typ_rules, 0, (int)(sizeof(typ_cases) / sizeof(typ_cases[0])));
	tcase_add_test(tc, id_token_refused);
	tcase_add_test(tc, identity_claim_paths);
	suite_add_tcase(s, tc);

	tc = tcase_create("clr_jws_verify");
	tcase_add_loop_test(tc, rfc7520, 0, (int)(sizeof(cookbook) / sizeof(cookbook[0])));
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(jwt_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
