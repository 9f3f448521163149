/*
 * jwt.c - JWS compact verification and JWT claim checks for the gateway.
 *
 * Order matters: every cheap structural check (size, shape, base64url,
 * JSON, header rules) runs before any signature work, and no claim is
 * looked at before the signature is good.  The only things read from an
 * unverified token are alg (checked against key and allow-list), kid (a
 * lookup key) and, for the caller's provider choice, iss.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include "clearance/jwt.h"
#include "clearance/util.h"

/* Longest base64url text that decodes to at most n bytes. */
#define B64URL_LEN(n) (((n) / 3) * 4 + ((n) % 3 ? (n) % 3 + 1 : 0))
/* RSA 8192 is the largest key we import: 1024 signature bytes. */
#define MAX_SIG 1024u

struct clr_jwt {
	const char *token; /* borrowed */
	size_t signed_len; /* header.payload: the JWS signing input */
	enum clr_jws_alg alg;
	json_t *hdr;
	const char *kid; /* borrowed from hdr; NULL if absent */
	size_t kid_len;
	unsigned char *payload;
	size_t payload_len;
	unsigned char *sig;
	size_t sig_len;
	json_t *claims; /* NULL for plain JWS */
};

static enum clr_rc deny(struct clr_err *e, const char *msg)
{
	return clr_err_set(e, CLR_ERR_DENIED, "invalid_token", "token", "%s", msg);
}

static enum clr_rc nomem(struct clr_err *e)
{
	return clr_err_set(e, CLR_ERR_NOMEM, "server_error", "token", "out of memory");
}

void clr_jwt_free(struct clr_jwt *t)
{
	if (t == NULL)
		return;
	json_decref(t->hdr);
	json_decref(t->claims);
	free(t->payload);
	free(t->sig);
	free(t);
}

/* Header members that would let the token choose its own key. */
static const char *const key_bearing[] = {"jwk", "jku", "x5u", "x5c"};

static enum clr_rc header_check(struct clr_jwt *t, struct clr_err *e)
{
	json_t *h = t->hdr, *alg, *kid, *b64;
	const char *a;

	if (!json_is_object(h))
		return deny(e, "header is not a JSON object");
	alg = json_object_get(h, "alg");
	if (!json_is_string(alg))
		return deny(e, "header has no alg");
	a = json_string_value(alg);
	if (strcmp(a, "none") == 0)
		return deny(e, "alg none refused");
	if (clr_jws_alg_parse(a, json_string_length(alg), &t->alg) != CLR_OK)
		return deny(e, "alg not supported");
	for (size_t i = 0; i < sizeof(key_bearing) / sizeof(key_bearing[0]); i++)
		if (json_object_get(h, key_bearing[i]) != NULL)
			return deny(e, "header carries a key or key URL");
	/* We implement no extension, so any "crit" (even an empty one) is refused. */
	if (json_object_get(h, "crit") != NULL)
		return deny(e, "crit not supported");
	b64 = json_object_get(h, "b64");
	if (b64 != NULL && !json_is_true(b64))
		return deny(e, "unencoded payload (b64) not supported");
	if (json_object_get(h, "enc") != NULL || json_object_get(h, "zip") != NULL)
		return deny(e, "JWE not supported");
	kid = json_object_get(h, "kid");
	if (kid != NULL) {
		if (!json_is_string(kid) || json_string_length(kid) > CLR_JWK_KID_MAX)
			return deny(e, "bad kid");
		t->kid = json_string_value(kid);
		t->kid_len = json_string_length(kid);
	}
	return CLR_OK;
}

static enum clr_rc b64_part(const char *p, size_t n, unsigned char **out, size_t *outlen,
			    struct clr_err *e)
{
	enum clr_rc rc = clr_b64url_decode(p, n, out, outlen);

	if (rc == CLR_ERR_NOMEM)
		return nomem(e);
	if (rc != CLR_OK)
		return deny(e, "bad base64url");
	return CLR_OK;
}

/* Everything up to, not including, the signature check. */
static enum clr_rc jws_parse(const char *token, size_t len, int want_claims, struct clr_jwt **out,
			     struct clr_err *e)
{
	struct clr_jwt *t = NULL;
	const char *d1, *d2;
	unsigned char *hdr = NULL;
	size_t hlen = 0, dots = 0;
	json_error_t jerr;
	enum clr_rc rc;

	*out = NULL;
	if (token == NULL || len == 0)
		return deny(e, "malformed token");
	if (len > CLR_JWT_MAX_TOKEN)
		return deny(e, "token too large");
	for (size_t i = 0; i < len; i++)
		dots += token[i] == '.';
	if (dots != 2)
		return deny(e, dots == 4 ? "JWE not supported" : "malformed token");
	d1 = memchr(token, '.', len);
	d2 = memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token));
	if (d1 == token)
		return deny(e, "malformed token");
	if ((size_t)(d1 - token) > B64URL_LEN(CLR_JWT_MAX_HEADER))
		return deny(e, "header too large");
	if ((size_t)(token + len - (d2 + 1)) > B64URL_LEN(MAX_SIG))
		return deny(e, "signature too large");
	if (d2 + 1 == token + len)
		return deny(e, "missing signature");

	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return nomem(e);
	t->token = token;
	t->signed_len = (size_t)(d2 - token);
	if ((rc = b64_part(token, (size_t)(d1 - token), &hdr, &hlen, e)) != CLR_OK)
		goto out;
	/* Kid may be any bytes (NUL included): it is compared with its length. */
	t->hdr =
	    json_loadb((const char *)hdr, hlen, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
	if (t->hdr == NULL) {
		rc = deny(e, "header is not valid JSON");
		goto out;
	}
	if ((rc = header_check(t, e)) != CLR_OK)
		goto out;
	if ((rc = b64_part(d1 + 1, (size_t)(d2 - d1 - 1), &t->payload, &t->payload_len, e)) !=
	    CLR_OK)
		goto out;
	if ((rc = b64_part(d2 + 1, (size_t)(token + len - d2 - 1), &t->sig, &t->sig_len, e)) !=
	    CLR_OK)
		goto out;
	if (want_claims) {
		/* No JSON_ALLOW_NUL: a claim with a NUL inside could read as another in C. */
		t->claims = json_loadb((const char *)t->payload, t->payload_len,
				       JSON_REJECT_DUPLICATES, &jerr);
		if (!json_is_object(t->claims)) {
			rc = deny(e, "claims are not a JSON object");
			goto out;
		}
	}
	*out = t;
	t = NULL;
	rc = CLR_OK;
out:
	free(hdr);
	clr_jwt_free(t);
	return rc;
}

enum clr_rc clr_jwt_parse(const char *token, size_t len, struct clr_jwt **out, struct clr_err *e)
{
	return jws_parse(token, len, 1, out, e);
}

enum clr_jws_alg clr_jwt_alg(const struct clr_jwt *t)
{
	return t->alg;
}

const char *clr_jwt_kid(const struct clr_jwt *t, size_t *len)
{
	if (len != NULL)
		*len = t->kid_len;
	return t->kid;
}

const char *clr_jwt_issuer(const struct clr_jwt *t)
{
	return json_string_value(json_object_get(t->claims, "iss"));
}

/* Key lookup and signature check, shared by JWT and plain JWS. */
static enum clr_rc sig_check(const struct clr_jwt *t, const struct clr_jwks *keys,
			     unsigned alg_mask, struct clr_err *e)
{
	const struct clr_jwk *k;
	enum clr_rc rc;

	if (!(alg_mask & CLR_JWS_ALG_BIT(t->alg)))
		return deny(e, "alg not allowed");
	k = clr_jwks_find(keys, t->kid, t->kid_len, t->alg);
	if (k == NULL) {
		size_t n = clr_jwks_count(keys), klen;

		for (size_t i = 0; i < n; i++) {
			const char *kid = clr_jwks_kid(keys, i, &klen);

			if (t->kid == NULL &&
			    (clr_jwk_algs(clr_jwks_key(keys, i)) & CLR_JWS_ALG_BIT(t->alg)))
				return deny(e, "no kid and more than one key fits");
			if (t->kid != NULL && kid != NULL && klen == t->kid_len &&
			    memcmp(kid, t->kid, klen) == 0)
				return deny(e, "alg does not fit the key");
		}
		return clr_err_set(e, CLR_ERR_NOTFOUND, "invalid_token", "kid", "unknown kid");
	}
	rc = clr_jwk_verify(k, t->alg, t->token, t->signed_len, t->sig, t->sig_len);
	if (rc == CLR_ERR_NOMEM)
		return nomem(e);
	if (rc != CLR_OK)
		return deny(e, "bad signature");
	return CLR_OK;
}

enum clr_rc clr_jws_verify(const char *token, size_t len, const struct clr_jwks *keys,
			   unsigned alg_mask, unsigned char **payload, size_t *payload_len,
			   struct clr_err *e)
{
	struct clr_jwt *t = NULL;
	enum clr_rc rc;

	*payload = NULL;
	*payload_len = 0;
	if ((rc = jws_parse(token, len, 0, &t, e)) != CLR_OK)
		return rc;
	if ((rc = sig_check(t, keys, alg_mask, e)) == CLR_OK) {
		*payload = t->payload;
		*payload_len = t->payload_len;
		t->payload = NULL;
	}
	clr_jwt_free(t);
	return rc;
}

/* ---- claims ---------------------------------------------------------- */

void clr_jwt_claims_clear(struct clr_jwt_claims *c)
{
	if (c == NULL)
		return;
	free(c->scope_buf);
	memset(c, 0, sizeof(*c));
}

/* A NumericDate (RFC 7519 s.2): a non-negative finite number of seconds. */
static int numeric_date(json_t *v, long long *out)
{
	double d;

	if (!json_is_number(v))
		return 0;
	d = json_number_value(v);
	if (!isfinite(d) || d < 0 || d > 1e13)
		return 0;
	*out = (long long)d;
	return 1;
}

/* RFC 6749 s.3.3 scope-token characters. */
static int scope_char(unsigned char c)
{
	return c == 0x21 || (c >= 0x23 && c <= 0x5B) || (c >= 0x5D && c <= 0x7E);
}

/*
 * Walks the scope tokens of s (space-separated).  Appends each, NUL-ended,
 * to out (if not NULL).  Returns the token count, or -1 on a bad character.
 * *bytes gets the bytes the tokens need with their NULs.
 */
static long scope_split(const char *s, size_t n, char *out, size_t *bytes)
{
	long count = 0;
	size_t i = 0, used = 0;

	while (i < n) {
		size_t start;

		while (i < n && s[i] == ' ')
			i++;
		start = i;
		while (i < n && s[i] != ' ') {
			if (!scope_char((unsigned char)s[i]))
				return -1;
			i++;
		}
		if (i == start)
			break;
		if (out != NULL) {
			memcpy(out + used, s + start, i - start);
			out[used + i - start] = '\0';
		}
		used += i - start + 1;
		count++;
	}
	*bytes = used;
	return count;
}

/*
 * The scope tokens: "scope" (string), else "scp" (string, as some IdPs
 * send it, or array of strings).  Calls scope_split on each piece; with
 * out == NULL only measures.  -1 if malformed.
 */
static long scopes_walk(json_t *claims, char *out, size_t *bytes)
{
	json_t *src = json_object_get(claims, "scope"), *v;
	size_t i, total = 0, b;
	long count = 0, c;

	if (src == NULL)
		src = json_object_get(claims, "scp");
	*bytes = 0;
	if (src == NULL)
		return 0;
	if (json_is_string(src)) {
		c = scope_split(json_string_value(src), json_string_length(src), out, bytes);
		return c;
	}
	if (!json_is_array(src) || json_object_get(claims, "scope") == src)
		return -1;
	json_array_foreach(src, i, v)
	{
		if (!json_is_string(v))
			return -1;
		/* One array entry is exactly one scope token. */
		c = scope_split(json_string_value(v), json_string_length(v),
				out != NULL ? out + total : NULL, &b);
		if (c != 1 || b != json_string_length(v) + 1)
			return -1;
		total += b;
		count++;
	}
	*bytes = total;
	return count;
}

static int aud_has(json_t *aud, const char *want)
{
	size_t i;
	json_t *v;

	if (json_is_string(aud))
		return strcmp(json_string_value(aud), want) == 0;
	if (!json_is_array(aud))
		return 0;
	json_array_foreach(aud, i, v) if (json_is_string(v) &&
					  strcmp(json_string_value(v), want) == 0) return 1;
	return 0;
}

static const char *const default_identity[] = {"client_id", "azp", "sub"};

/* Accepted "typ" values when the policy names none (see jwt.h). */
#define DEFAULT_TYPS "at+jwt application/at+jwt JWT none"

/* typ without a leading "application/" (RFC 7515 s.4.1.9), lowercased into buf. */
static const char *typ_norm(const char *s, size_t n, char *buf, size_t cap)
{
	size_t i;

	if (n >= 12 && strncasecmp(s, "application/", 12) == 0) {
		s += 12;
		n -= 12;
	}
	if (n == 0 || n >= cap)
		return NULL;
	for (i = 0; i < n; i++)
		buf[i] = (char)((s[i] >= 'A' && s[i] <= 'Z') ? s[i] + 32 : s[i]);
	buf[i] = '\0';
	return buf;
}

/* 1 if typ (NULL: absent) is in the space separated list ("none" = absent). */
static int typ_allowed(const char *list, const char *typ)
{
	char want[64], have[64];
	const char *p = list, *h = NULL;

	if (typ != NULL && (h = typ_norm(typ, strlen(typ), have, sizeof(have))) == NULL)
		return 0;
	while (*p) {
		size_t n;
		while (*p == ' ')
			p++;
		n = strcspn(p, " ");
		if (n == 0)
			break;
		if (typ == NULL && n == 4 && strncmp(p, "none", 4) == 0)
			return 1;
		if (h != NULL && typ_norm(p, n, want, sizeof(want)) != NULL && strcmp(want, h) == 0)
			return 1;
		p += n;
	}
	return 0;
}

/*
 * Explicit typing (RFC 8725 s.3.11, RFC 9068 s.2.1): the header's typ must
 * be one the policy accepts, and a nested JWT (cty) is never taken.
 */
static enum clr_rc typ_check(const struct clr_jwt *t, const struct clr_jwt_policy *pol,
			     struct clr_err *e)
{
	json_t *typ = json_object_get(t->hdr, "typ");

	if (json_object_get(t->hdr, "cty") != NULL)
		return deny(e, "nested JWT (cty) refused");
	if (typ != NULL && !json_is_string(typ))
		return deny(e, "bad typ");
	if (!typ_allowed(pol->typs != NULL ? pol->typs : DEFAULT_TYPS, json_string_value(typ)))
		return deny(e, "typ not accepted for access tokens");
	return CLR_OK;
}

/* 1 if the header types the token as an RFC 9068 access token. */
static int typed_at(const struct clr_jwt *t)
{
	const char *typ = json_string_value(json_object_get(t->hdr, "typ"));
	char buf[16];

	return typ != NULL && typ_norm(typ, strlen(typ), buf, sizeof(buf)) != NULL &&
	       strcmp(buf, "at+jwt") == 0;
}

/*
 * The identity claim: a member name, or when no member has that exact name
 * and it contains dots, a path into nested objects ("app.clientId", Kong).
 */
static json_t *claim_at(json_t *cl, const char *name)
{
	json_t *v = json_object_get(cl, name);
	const char *p = name, *dot;
	char seg[128];

	if (v != NULL || strchr(name, '.') == NULL)
		return v;
	v = cl;
	while (v != NULL) {
		size_t n;
		dot = strchr(p, '.');
		n = dot ? (size_t)(dot - p) : strlen(p);
		if (n == 0 || n >= sizeof(seg) || !json_is_object(v))
			return NULL;
		memcpy(seg, p, n);
		seg[n] = '\0';
		v = json_object_get(v, seg);
		if (dot == NULL)
			return v;
		p = dot + 1;
	}
	return NULL;
}

/* Copies a string claim into *dst from the arena at *cur (NULL if absent). */
static void arena_put(char **cur, const char *src, char **dst)
{
	size_t n;

	if (src == NULL) {
		*dst = NULL;
		return;
	}
	n = strlen(src) + 1;
	memcpy(*cur, src, n);
	*dst = *cur;
	*cur += n;
}

static enum clr_rc claims_check(const struct clr_jwt *t, const struct clr_jwt_policy *pol,
				struct clr_jwt_claims *c, struct clr_err *e)
{
	json_t *cl = t->claims, *v;
	const char *iss, *ident = NULL, *ident_name = NULL, *sub, *jti, *aud = NULL;
	long long now = pol->now != 0 ? pol->now : (long long)time(NULL);
	long long leeway = pol->leeway_s < 0 ? CLR_JWT_DEFAULT_LEEWAY : pol->leeway_s;
	long long exp = 0, nbf = 0, iat = 0;
	size_t scope_bytes = 0, total;
	long nscopes;
	char *mem, *cur, *aud_array = NULL;

	iss = json_string_value(json_object_get(cl, "iss"));
	if (iss == NULL || strcmp(iss, pol->issuer) != 0)
		return deny(e, "wrong issuer");
	if (pol->audience != NULL && !aud_has(json_object_get(cl, "aud"), pol->audience))
		return deny(e, "wrong audience");
	if (!numeric_date(json_object_get(cl, "exp"), &exp))
		return deny(e, "missing or bad exp");
	if (now >= exp + leeway)
		return deny(e, "token expired");
	if ((v = json_object_get(cl, "nbf")) != NULL) {
		if (!numeric_date(v, &nbf))
			return deny(e, "bad nbf");
		if (nbf > now + leeway)
			return deny(e, "token not yet valid");
	}
	if ((v = json_object_get(cl, "iat")) != NULL) {
		if (!numeric_date(v, &iat))
			return deny(e, "bad iat");
		if (iat > now + leeway)
			return deny(e, "token issued in the future");
	}
	/*
	 * The first candidate present decides: one that is present but not a
	 * non-empty string is an error, not a reason to fall through to "sub".
	 */
	for (size_t i = 0; i < 3; i++) {
		ident_name =
		    pol->identity_claim != NULL ? pol->identity_claim : default_identity[i];
		if ((v = claim_at(cl, ident_name)) != NULL || pol->identity_claim != NULL)
			break;
	}
	ident = json_string_value(v);
	if (ident == NULL || ident[0] == '\0')
		return deny(e, "no identity claim");
	/*
	 * An ID token is not an access token (RFC 9068 s.4, RFC 8725 s.2.8):
	 * nonce and at_hash only occur in ID tokens, and an untyped token whose
	 * audience is the client itself is one.
	 */
	if (json_object_get(cl, "nonce") != NULL || json_object_get(cl, "at_hash") != NULL)
		return deny(e, "an ID token is not an access token");
	if (!typed_at(t) && aud_has(json_object_get(cl, "aud"), ident))
		return deny(e, "an ID token is not an access token");
	nscopes = scopes_walk(cl, NULL, &scope_bytes);
	if (nscopes < 0)
		return deny(e, "bad scope");
	sub = json_string_value(json_object_get(cl, "sub"));
	jti = json_string_value(json_object_get(cl, "jti"));
	v = json_object_get(cl, "aud");
	aud = pol->audience != NULL ? pol->audience : json_string_value(v);
	if (json_is_array(v) && (aud_array = json_dumps(v, JSON_COMPACT)) == NULL)
		return nomem(e);

	/* One allocation per verified token: scopes[], then every string. */
	total = (size_t)nscopes * sizeof(char *) + scope_bytes + (nscopes > 0 ? scope_bytes : 1) +
		strlen(ident) + 1 + strlen(iss) + 1 + (sub ? strlen(sub) + 1 : 0) +
		(jti ? strlen(jti) + 1 : 0) + (aud ? strlen(aud) + 1 : 0) +
		(aud_array ? strlen(aud_array) + 1 : 0);
	mem = malloc(total);
	if (mem == NULL) {
		free(aud_array);
		return nomem(e);
	}
	c->scope_buf = mem;
	c->scopes = (char **)(void *)mem;
	c->nscopes = (size_t)nscopes;
	cur = mem + (size_t)nscopes * sizeof(char *);
	/* NUL-separated tokens for scopes[] ... */
	(void)scopes_walk(cl, cur, &scope_bytes);
	for (long i = 0; i < nscopes; i++) {
		c->scopes[i] = cur;
		cur += strlen(cur) + 1;
	}
	/* ... and the same joined by single spaces for scope. */
	c->scope = cur;
	for (long i = 0; i < nscopes; i++) {
		size_t n = strlen(c->scopes[i]);

		memcpy(cur, c->scopes[i], n);
		cur += n;
		*cur++ = i + 1 < nscopes ? ' ' : '\0';
	}
	if (nscopes == 0)
		*cur++ = '\0';
	arena_put(&cur, ident, &c->identity);
	arena_put(&cur, iss, &c->iss);
	arena_put(&cur, sub, &c->sub);
	arena_put(&cur, jti, &c->jti);
	arena_put(&cur, aud, &c->aud);
	arena_put(&cur, aud_array, &c->aud_array);
	free(aud_array);
	c->identity_claim = ident_name;
	c->alg = t->alg;
	c->exp = exp;
	c->iat = iat;
	c->nbf = nbf;
	return CLR_OK;
}

enum clr_rc clr_jwt_check(const struct clr_jwt *t, const struct clr_jwks *keys,
			  const struct clr_jwt_policy *pol, struct clr_jwt_claims *out,
			  struct clr_err *e)
{
	enum clr_rc rc;

	clr_jwt_claims_clear(out);
	if (t == NULL || pol == NULL || pol->issuer == NULL || t->claims == NULL)
		return clr_err_set(e, CLR_ERR_PARAM, "server_error", "policy",
				   "token check without an issuer policy");
	if ((rc = typ_check(t, pol, e)) != CLR_OK)
		return rc;
	if ((rc = sig_check(t, keys, pol->alg_mask, e)) != CLR_OK)
		return rc;
	if ((rc = claims_check(t, pol, out, e)) != CLR_OK)
		clr_jwt_claims_clear(out);
	return rc;
}

enum clr_rc clr_jwt_verify(const char *token, size_t len, const struct clr_jwks *keys,
			   const struct clr_jwt_policy *pol, struct clr_jwt_claims *out,
			   struct clr_err *e)
{
	struct clr_jwt *t = NULL;
	enum clr_rc rc;

	clr_jwt_claims_clear(out);
	if ((rc = clr_jwt_parse(token, len, &t, e)) != CLR_OK)
		return rc;
	rc = clr_jwt_check(t, keys, pol, out, e);
	clr_jwt_free(t);
	return rc;
}
