/*
 * seal.c - AES-256-GCM sealing of secrets at rest (seal.h).
 *
 * A sealed value carries its key id so that keys can rotate: the first key
 * of the spec seals, every listed key unseals.  The AAD binds the value to
 * its column and row, so copying a sealed value elsewhere in the database
 * makes it undecryptable rather than silently valid.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "clearance/seal.h"
#include "clearance/util.h"

#define SEAL_KEY_LEN 32
#define SEAL_NONCE_LEN 12
#define SEAL_TAG_LEN 16
#define SEAL_KID_MAX 32
#define SEAL_MAX_KEYS 16
/* Sealed values are short secrets; the cap keeps int casts for EVP safe. */
#define SEAL_MAX_PT (1 << 20)

struct seal_key {
	char kid[SEAL_KID_MAX + 1];
	unsigned char key[SEAL_KEY_LEN];
};

struct clr_sealer {
	size_t nkeys;
	struct seal_key keys[SEAL_MAX_KEYS];
};

static int kid_valid(const char *kid, size_t len)
{
	size_t i;

	if (len == 0 || len > SEAL_KID_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		char c = kid[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

static const struct seal_key *find_key(const struct clr_sealer *s, const char *kid, size_t len)
{
	size_t i;

	for (i = 0; i < s->nkeys; i++) {
		if (strlen(s->keys[i].kid) == len && memcmp(s->keys[i].kid, kid, len) == 0)
			return &s->keys[i];
	}
	return NULL;
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/*
 * Parses one "kid:base64" entry [p, p+len) into s->keys[s->nkeys].  Error
 * messages name the entry by position and (once it is known good) its kid,
 * never any part of the key.
 */
static enum clr_rc parse_entry(struct clr_sealer *s, const char *p, size_t len, size_t idx,
			       struct clr_err *e)
{
	const char *colon;
	unsigned char *key = NULL;
	size_t kidlen, keylen = 0;
	struct seal_key *k;
	enum clr_rc rc;

	while (len > 0 && is_blank(*p)) {
		p++;
		len--;
	}
	while (len > 0 && is_blank(p[len - 1]))
		len--;
	if (len == 0)
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_config", "seal_keys",
				   "entry %zu is empty", idx + 1);
	if (s->nkeys >= SEAL_MAX_KEYS)
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_config", "seal_keys",
				   "more than %d keys", SEAL_MAX_KEYS);
	colon = memchr(p, ':', len);
	if (colon == NULL)
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_config", "seal_keys",
				   "entry %zu is not kid:base64key", idx + 1);
	kidlen = (size_t)(colon - p);
	if (!kid_valid(p, kidlen))
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_config", "seal_keys",
				   "entry %zu: kid must be 1..%d chars of [A-Za-z0-9_-]", idx + 1,
				   SEAL_KID_MAX);
	if (find_key(s, p, kidlen) != NULL)
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_config", "seal_keys",
				   "entry %zu: kid \"%.*s\" is listed twice", idx + 1, (int)kidlen,
				   p);
	rc = clr_b64_decode(colon + 1, len - kidlen - 1, &key, &keylen);
	if (rc == CLR_ERR_NOMEM)
		return clr_err_set(e, rc, "server_error", "seal_keys", "out of memory");
	if (rc != CLR_OK)
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_config", "seal_keys",
				   "entry %zu (kid \"%.*s\"): key is not valid base64", idx + 1,
				   (int)kidlen, p);
	if (keylen != SEAL_KEY_LEN) {
		OPENSSL_cleanse(key, keylen);
		free(key);
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_config", "seal_keys",
				   "entry %zu (kid \"%.*s\"): key is %zu bytes, must be %d",
				   idx + 1, (int)kidlen, p, keylen, SEAL_KEY_LEN);
	}
	k = &s->keys[s->nkeys++];
	memcpy(k->kid, p, kidlen);
	k->kid[kidlen] = '\0';
	memcpy(k->key, key, SEAL_KEY_LEN);
	OPENSSL_cleanse(key, keylen);
	free(key);
	return CLR_OK;
}

enum clr_rc clr_sealer_new(const char *spec, struct clr_sealer **out, struct clr_err *e)
{
	struct clr_sealer *s;
	const char *p, *comma;
	size_t idx = 0;
	enum clr_rc rc;

	*out = NULL;
	if (spec == NULL || *spec == '\0')
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_config", "seal_keys",
				   "no keys given");
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return clr_err_set(e, CLR_ERR_NOMEM, "server_error", "seal_keys", "out of memory");
	for (p = spec;; p = comma + 1, idx++) {
		comma = strchr(p, ',');
		rc = parse_entry(s, p, comma != NULL ? (size_t)(comma - p) : strlen(p), idx, e);
		if (rc != CLR_OK)
			goto out;
		if (comma == NULL)
			break;
	}
	*out = s;
	s = NULL;
	rc = CLR_OK;
out:
	clr_sealer_free(s);
	return rc;
}

void clr_sealer_free(struct clr_sealer *s)
{
	if (s == NULL)
		return;
	OPENSSL_cleanse(s, sizeof(*s));
	free(s);
}

/* "<table_col>:<row_id>", new.  A ':' in table_col would make it ambiguous. */
const char *clr_sealer_kid(const struct clr_sealer *s)
{
	return s->keys[0].kid;
}

static enum clr_rc make_aad(const char *table_col, const char *row_id, char **out, size_t *outlen)
{
	size_t tl, rl;
	char *a;

	*out = NULL;
	if (table_col == NULL || row_id == NULL || *table_col == '\0' ||
	    strchr(table_col, ':') != NULL)
		return CLR_ERR_PARAM;
	tl = strlen(table_col);
	rl = strlen(row_id);
	if (tl > 1024 || rl > 1024)
		return CLR_ERR_PARAM;
	a = malloc(tl + rl + 2);
	if (a == NULL)
		return CLR_ERR_NOMEM;
	memcpy(a, table_col, tl);
	a[tl] = ':';
	memcpy(a + tl + 1, row_id, rl + 1);
	*out = a;
	*outlen = tl + rl + 1;
	return CLR_OK;
}

enum clr_rc clr_seal(const struct clr_sealer *s, const char *table_col, const char *row_id,
		     const void *pt, size_t ptlen, char **out)
{
	const struct seal_key *k;
	EVP_CIPHER_CTX *ctx = NULL;
	unsigned char nonce[SEAL_NONCE_LEN], tag[SEAL_TAG_LEN];
	unsigned char *ct = NULL;
	char *aad = NULL, *b_nonce = NULL, *b_ct = NULL, *b_tag = NULL, *res;
	size_t aadlen = 0, total;
	int n, fin;
	enum clr_rc rc;

	*out = NULL;
	if (s == NULL || s->nkeys == 0 || ptlen > SEAL_MAX_PT || (pt == NULL && ptlen > 0))
		return CLR_ERR_PARAM;
	k = &s->keys[0];
	rc = make_aad(table_col, row_id, &aad, &aadlen);
	if (rc != CLR_OK)
		return rc;
	rc = CLR_ERR_INTERNAL;
	if (RAND_bytes(nonce, sizeof(nonce)) != 1)
		goto out;
	ct = malloc(ptlen + 1);
	ctx = EVP_CIPHER_CTX_new();
	if (ct == NULL || ctx == NULL) {
		rc = CLR_ERR_NOMEM;
		goto out;
	}
	if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, SEAL_NONCE_LEN, NULL) != 1 ||
	    EVP_EncryptInit_ex(ctx, NULL, NULL, k->key, nonce) != 1 ||
	    EVP_EncryptUpdate(ctx, NULL, &n, (const unsigned char *)aad, (int)aadlen) != 1)
		goto out;
	n = 0;
	if (ptlen > 0 && EVP_EncryptUpdate(ctx, ct, &n, pt, (int)ptlen) != 1)
		goto out;
	if (EVP_EncryptFinal_ex(ctx, ct + n, &fin) != 1 || (size_t)(n + fin) != ptlen ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, SEAL_TAG_LEN, tag) != 1)
		goto out;
	if ((rc = clr_b64url_encode(nonce, sizeof(nonce), &b_nonce)) != CLR_OK ||
	    (rc = clr_b64url_encode(ct, ptlen, &b_ct)) != CLR_OK ||
	    (rc = clr_b64url_encode(tag, sizeof(tag), &b_tag)) != CLR_OK)
		goto out;
	total = 3 + strlen(k->kid) + 1 + strlen(b_nonce) + 1 + strlen(b_ct) + 1 + strlen(b_tag) + 1;
	res = malloc(total);
	if (res == NULL) {
		rc = CLR_ERR_NOMEM;
		goto out;
	}
	if (snprintf(res, total, "v1.%s.%s.%s.%s", k->kid, b_nonce, b_ct, b_tag) !=
	    (int)(total - 1)) {
		free(res);
		rc = CLR_ERR_INTERNAL;
		goto out;
	}
	*out = res;
	rc = CLR_OK;
out:
	EVP_CIPHER_CTX_free(ctx);
	free(aad);
	free(ct);
	free(b_nonce);
	free(b_ct);
	free(b_tag);
	return rc;
}

/* Splits "v1.kid.nonce.ct.tag" into its five parts, borrowed from s. */
static int split_sealed(const char *s, struct clr_str part[5])
{
	const char *p = s, *dot;
	int i;

	for (i = 0; i < 5; i++) {
		dot = strchr(p, '.');
		if ((i < 4) != (dot != NULL))
			return 0;
		part[i].p = p;
		part[i].len = dot != NULL ? (size_t)(dot - p) : strlen(p);
		if (dot != NULL)
			p = dot + 1;
	}
	return 1;
}

enum clr_rc clr_unseal(const struct clr_sealer *s, const char *table_col, const char *row_id,
		       const char *sealed, char **pt, size_t *ptlen)
{
	struct clr_str part[5];
	const struct seal_key *k;
	unsigned char *nonce = NULL, *ct = NULL, *tag = NULL, *plain = NULL;
	size_t nlen = 0, ctlen = 0, tlen = 0, aadlen = 0;
	char *aad = NULL;
	EVP_CIPHER_CTX *ctx = NULL;
	int n = 0, fin = 0;
	enum clr_rc rc;

	*pt = NULL;
	*ptlen = 0;
	if (s == NULL || sealed == NULL || !split_sealed(sealed, part) || part[0].len != 2 ||
	    memcmp(part[0].p, "v1", 2) != 0)
		return CLR_ERR_PARAM;
	k = find_key(s, part[1].p, part[1].len);
	if (k == NULL)
		return CLR_ERR_PARAM;
	rc = make_aad(table_col, row_id, &aad, &aadlen);
	if (rc != CLR_OK)
		return rc;
	rc = CLR_ERR_PARAM;
	if (part[3].len > (size_t)SEAL_MAX_PT * 4 / 3 + 4 ||
	    clr_b64url_decode(part[2].p, part[2].len, &nonce, &nlen) != CLR_OK ||
	    clr_b64url_decode(part[3].p, part[3].len, &ct, &ctlen) != CLR_OK ||
	    clr_b64url_decode(part[4].p, part[4].len, &tag, &tlen) != CLR_OK ||
	    nlen != SEAL_NONCE_LEN || tlen != SEAL_TAG_LEN)
		goto out;
	plain = malloc(ctlen + 1);
	ctx = EVP_CIPHER_CTX_new();
	if (plain == NULL || ctx == NULL) {
		rc = CLR_ERR_NOMEM;
		goto out;
	}
	rc = CLR_ERR_INTERNAL;
	if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, SEAL_NONCE_LEN, NULL) != 1 ||
	    EVP_DecryptInit_ex(ctx, NULL, NULL, k->key, nonce) != 1 ||
	    EVP_DecryptUpdate(ctx, NULL, &n, (const unsigned char *)aad, (int)aadlen) != 1)
		goto out;
	n = 0;
	if (ctlen > 0 && EVP_DecryptUpdate(ctx, plain, &n, ct, (int)ctlen) != 1)
		goto out;
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, SEAL_TAG_LEN, tag) != 1)
		goto out;
	/* The tag check: wrong key, tampering or another row's AAD end here. */
	if (EVP_DecryptFinal_ex(ctx, plain + n, &fin) != 1 || (size_t)(n + fin) != ctlen) {
		rc = CLR_ERR_PARAM;
		goto out;
	}
	plain[ctlen] = '\0';
	*pt = (char *)plain;
	*ptlen = ctlen;
	plain = NULL;
	rc = CLR_OK;
out:
	EVP_CIPHER_CTX_free(ctx);
	if (plain != NULL) {
		/* Unauthenticated plaintext must not linger either. */
		OPENSSL_cleanse(plain, ctlen);
		free(plain);
	}
	free(aad);
	free(nonce);
	free(ct);
	free(tag);
	return rc;
}

void clr_unsealed_free(char *pt, size_t ptlen)
{
	if (pt == NULL)
		return;
	OPENSSL_cleanse(pt, ptlen);
	free(pt);
}
