/*
 * password.c - scrypt password hashing through OpenSSL's EVP_KDF.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "clearance/password.h"
#include "clearance/util.h"

/* N = 2^15, r = 8, p = 1: 32 MiB and tens of milliseconds per attempt. */
#define PW_LN 15
#define PW_R 8
#define PW_P 1
#define PW_SALT 16
#define PW_KEY 32
/*
 * Bounds for stored parameters: a tampered or hostile row must not cost a
 * login gigabytes or seconds.  The old bounds (ln 20, r 32, p 16, 1 GiB)
 * let one stored hash take 1 GiB and ~16x the CPU of ours per attempt, on
 * every worker thread at once.  Now: 128 * r * N <= 128 MiB (4x ours) and
 * p <= 4, so an attempt costs at most 16x ours.
 */
#define PW_LN_MIN 10
#define PW_LN_MAX 17
#define PW_R_MAX 16
#define PW_P_MAX 4
#define PW_MEM_MAX (128ULL * 1024 * 1024)
/* OpenSSL's own cap, with room for its B buffer and the XY scratch. */
#define PW_MAXMEM (PW_MEM_MAX + 16ULL * 1024 * 1024)

enum clr_rc clr_password_check(const char *pw, size_t len, const char *email, struct clr_err *e)
{
	unsigned char seen[256] = {0};
	size_t i, distinct = 0;

	if (pw == NULL || len == 0)
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", "password",
				   "a password is required");
	if (len < CLR_PASSWORD_MIN)
		return clr_err_set(e, CLR_ERR_PARAM, "weak_password", "password",
				   "the password must be at least %d characters long",
				   CLR_PASSWORD_MIN);
	if (len > CLR_PASSWORD_MAX)
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", "password",
				   "the password must be at most %d bytes long", CLR_PASSWORD_MAX);
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)pw[i];

		if (c < 0x20 || c == 0x7f)
			return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", "password",
					   "the password must not contain control characters");
		if (!seen[c]) {
			seen[c] = 1;
			distinct++;
		}
	}
	if (distinct < 5)
		return clr_err_set(e, CLR_ERR_PARAM, "weak_password", "password",
				   "the password must use at least 5 different characters");
	if (email != NULL && strlen(email) == len && strncasecmp(email, pw, len) == 0)
		return clr_err_set(e, CLR_ERR_PARAM, "weak_password", "password",
				   "the password must not be the e-mail address");
	return CLR_OK;
}

static enum clr_rc derive(const char *pw, size_t len, const unsigned char *salt, size_t saltlen,
			  unsigned ln, unsigned r, unsigned p, unsigned char key[PW_KEY])
{
	EVP_KDF *kdf = NULL;
	EVP_KDF_CTX *ctx = NULL;
	OSSL_PARAM params[6];
	uint64_t n = (uint64_t)1 << ln;
	uint32_t r32 = r, p32 = p;
	uint64_t maxmem = PW_MAXMEM;
	enum clr_rc rc = CLR_ERR_INTERNAL;

	kdf = EVP_KDF_fetch(NULL, "SCRYPT", NULL);
	if (kdf == NULL)
		goto out;
	ctx = EVP_KDF_CTX_new(kdf);
	if (ctx == NULL)
		goto out;
	/* An empty password is refused earlier; "" still needs a valid pointer. */
	params[0] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD,
						      (void *)(len ? pw : ""), len);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, saltlen);
	params[2] = OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n);
	params[3] = OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r32);
	params[4] = OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p32);
	params[5] = OSSL_PARAM_construct_end();
	if (EVP_KDF_CTX_set_params(ctx, params) != 1)
		goto out;
	{
		OSSL_PARAM mm[2];

		mm[0] = OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM, &maxmem);
		mm[1] = OSSL_PARAM_construct_end();
		if (EVP_KDF_CTX_set_params(ctx, mm) != 1)
			goto out;
	}
	if (EVP_KDF_derive(ctx, key, PW_KEY, NULL) != 1)
		goto out;
	rc = CLR_OK;
out:
	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
	return rc;
}

enum clr_rc clr_password_hash(const char *pw, size_t len, char **out)
{
	unsigned char salt[PW_SALT], key[PW_KEY];
	char *s64 = NULL, *k64 = NULL, *buf = NULL;
	size_t n;
	enum clr_rc rc;

	*out = NULL;
	if (pw == NULL || len > CLR_PASSWORD_MAX)
		return CLR_ERR_PARAM;
	if (RAND_bytes(salt, sizeof(salt)) != 1)
		return CLR_ERR_INTERNAL;
	if ((rc = derive(pw, len, salt, sizeof(salt), PW_LN, PW_R, PW_P, key)) != CLR_OK)
		goto out;
	if ((rc = clr_b64url_encode(salt, sizeof(salt), &s64)) != CLR_OK ||
	    (rc = clr_b64url_encode(key, sizeof(key), &k64)) != CLR_OK)
		goto out;
	n = strlen(s64) + strlen(k64) + 64;
	buf = malloc(n);
	if (buf == NULL) {
		rc = CLR_ERR_NOMEM;
		goto out;
	}
	snprintf(buf, n, "$scrypt$ln=%d,r=%d,p=%d$%s$%s", PW_LN, PW_R, PW_P, s64, k64);
	*out = buf;
	rc = CLR_OK;
out:
	OPENSSL_cleanse(key, sizeof(key));
	free(s64);
	if (k64 != NULL) {
		OPENSSL_cleanse(k64, strlen(k64));
		free(k64);
	}
	return rc;
}

/* Parses an unsigned decimal of at most 3 digits at *s, advancing it. */
static int parse_small(const char **s, unsigned *out)
{
	unsigned v = 0;
	int digits = 0;

	while (**s >= '0' && **s <= '9' && digits < 3) {
		v = v * 10 + (unsigned)(**s - '0');
		(*s)++;
		digits++;
	}
	if (digits == 0 || (**s >= '0' && **s <= '9'))
		return 0;
	*out = v;
	return 1;
}

enum clr_rc clr_password_verify(const char *pw, size_t len, const char *encoded, int *ok)
{
	static const unsigned char dummy_salt[PW_SALT] = "clearance-dummy";
	unsigned char key[PW_KEY];
	unsigned char *salt = NULL, *want = NULL;
	size_t saltlen = 0, wantlen = 0;
	unsigned ln, r, p;
	const char *s, *d1, *d2;
	enum clr_rc rc = CLR_ERR_PARAM;

	*ok = 0;
	if (pw == NULL || len > CLR_PASSWORD_MAX)
		len = 0;
	if (encoded == NULL) {
		rc = derive(pw != NULL ? pw : "", len, dummy_salt, sizeof(dummy_salt), PW_LN, PW_R,
			    PW_P, key);
		OPENSSL_cleanse(key, sizeof(key));
		return rc;
	}
	if (strncmp(encoded, "$scrypt$ln=", 11) != 0)
		return CLR_ERR_PARAM;
	s = encoded + 11;
	if (!parse_small(&s, &ln) || strncmp(s, ",r=", 3) != 0)
		return CLR_ERR_PARAM;
	s += 3;
	if (!parse_small(&s, &r) || strncmp(s, ",p=", 3) != 0)
		return CLR_ERR_PARAM;
	s += 3;
	if (!parse_small(&s, &p) || *s != '$')
		return CLR_ERR_PARAM;
	if (ln < PW_LN_MIN || ln > PW_LN_MAX || r < 1 || r > PW_R_MAX || p < 1 || p > PW_P_MAX ||
	    ((uint64_t)128 * r << ln) > PW_MEM_MAX)
		return CLR_ERR_PARAM;
	d1 = s + 1;
	d2 = strchr(d1, '$');
	if (d2 == NULL)
		return CLR_ERR_PARAM;
	if (clr_b64url_decode(d1, (size_t)(d2 - d1), &salt, &saltlen) != CLR_OK ||
	    clr_b64url_decode(d2 + 1, strlen(d2 + 1), &want, &wantlen) != CLR_OK)
		goto out;
	if (saltlen < 8 || wantlen != PW_KEY)
		goto out;
	if (pw == NULL || len > CLR_PASSWORD_MAX) {
		/* Still spend the work, then refuse. */
		pw = "";
		len = 0;
	}
	if ((rc = derive(pw, len, salt, saltlen, ln, r, p, key)) != CLR_OK)
		goto out;
	*ok = CRYPTO_memcmp(key, want, PW_KEY) == 0;
	rc = CLR_OK;
out:
	OPENSSL_cleanse(key, sizeof(key));
	free(salt);
	if (want != NULL) {
		OPENSSL_cleanse(want, wantlen);
		free(want);
	}
	return rc;
}
