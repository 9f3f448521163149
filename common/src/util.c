/*
 * util.c - random ids and tokens, SHA-256, base64 and base64url, constant-time
 * compare.  OpenSSL does the work; this file only adds the strictness the
 * callers rely on (canonical encodings only, so a token has one spelling).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "clearance/log.h"
#include "clearance/util.h"

static const char b64_std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* EVP_EncodeBlock/EVP_DecodeBlock take int lengths; stay well inside them. */
#define B64_MAX_IN ((size_t)(INT_MAX / 4) * 3 - 3)

enum clr_rc clr_uuid_new(char out[37])
{
	unsigned char b[16];

	if (RAND_bytes(b, sizeof(b)) != 1)
		return CLR_ERR_INTERNAL;
	b[6] = (unsigned char)((b[6] & 0x0F) | 0x40); /* version 4 */
	b[8] = (unsigned char)((b[8] & 0x3F) | 0x80); /* RFC 4122 variant */
	snprintf(out, 37,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		 "%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
		 b[13], b[14], b[15]);
	return CLR_OK;
}

int clr_uuid_valid(const char *s)
{
	int i, lower = 0, upper = 0;

	if (s == NULL)
		return 0;
	for (i = 0; i < 36; i++) {
		char c = s[i];

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (c != '-')
				return 0;
		} else if (c >= '0' && c <= '9') {
			continue;
		} else if (c >= 'a' && c <= 'f') {
			lower = 1;
		} else if (c >= 'A' && c <= 'F') {
			upper = 1;
		} else {
			return 0; /* includes an early NUL */
		}
	}
	/* Canonical text is one case throughout. */
	return s[36] == '\0' && !(lower && upper);
}

enum clr_rc clr_random_token(const char *prefix, size_t nbytes, char **out)
{
	unsigned char raw[64];
	char *enc = NULL, *tok = NULL;
	size_t plen = prefix != NULL ? strlen(prefix) : 0, elen;
	enum clr_rc rc;

	*out = NULL;
	if (nbytes < 16 || nbytes > sizeof(raw))
		return CLR_ERR_PARAM;
	if (RAND_bytes(raw, (int)nbytes) != 1) {
		rc = CLR_ERR_INTERNAL;
		goto out;
	}
	rc = clr_b64url_encode(raw, nbytes, &enc);
	if (rc != CLR_OK)
		goto out;
	elen = strlen(enc);
	tok = malloc(plen + elen + 1);
	if (tok == NULL) {
		rc = CLR_ERR_NOMEM;
		goto out;
	}
	if (plen > 0)
		memcpy(tok, prefix, plen);
	memcpy(tok + plen, enc, elen + 1);
	*out = tok;
out:
	OPENSSL_cleanse(raw, sizeof(raw));
	if (enc != NULL) {
		OPENSSL_cleanse(enc, strlen(enc));
		free(enc);
	}
	return rc;
}

void clr_sha256_hex(const void *data, size_t len, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;

	if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32) {
		/* An empty hash matches no stored hash, so lookups fail closed. */
		clr_log(NULL, CLR_LOG_ERROR, "sha256: EVP_Digest failed");
		out[0] = '\0';
		return;
	}
	for (i = 0; i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 0x0F];
	}
	out[64] = '\0';
}

/* Encodes with padding; *outlen is the text length (without the NUL). */
static enum clr_rc b64_encode_padded(const void *in, size_t len, char **out, size_t *outlen)
{
	char *buf;
	int n;

	*out = NULL;
	if (len > B64_MAX_IN)
		return CLR_ERR_TOOBIG;
	buf = malloc((len + 2) / 3 * 4 + 1);
	if (buf == NULL)
		return CLR_ERR_NOMEM;
	n = len > 0 ? EVP_EncodeBlock((unsigned char *)buf, in, (int)len) : 0;
	if (n < 0) {
		free(buf);
		return CLR_ERR_INTERNAL;
	}
	buf[n] = '\0';
	*out = buf;
	*outlen = (size_t)n;
	return CLR_OK;
}

enum clr_rc clr_b64_encode(const void *in, size_t len, char **out)
{
	size_t n;

	return b64_encode_padded(in, len, out, &n);
}

enum clr_rc clr_b64url_encode(const void *in, size_t len, char **out)
{
	enum clr_rc rc;
	size_t n, i;
	char *s;

	rc = b64_encode_padded(in, len, out, &n);
	if (rc != CLR_OK)
		return rc;
	s = *out;
	while (n > 0 && s[n - 1] == '=')
		s[--n] = '\0';
	for (i = 0; i < n; i++) {
		if (s[i] == '+')
			s[i] = '-';
		else if (s[i] == '/')
			s[i] = '_';
	}
	return CLR_OK;
}

/*
 * Decodes `len` characters of the alphabet `alpha` with `pad` '=' already
 * counted off the end.  Checks every character and that the unused low bits
 * of the last one are zero (RFC 4648 s.3.5), then hands a padded standard
 * string to EVP_DecodeBlock.  EVP_DecodeBlock counts padding as zero bytes,
 * so the real length is 3 * groups minus the padding.
 */
/*
 * Index of c in alpha (one of the two alphabets above), or -1.  Ranges, not
 * strchr: this runs for every character of every new token on the
 * gateway's hot path.
 */
static int b64_index(const char *alpha, unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == (unsigned char)alpha[62])
		return 62;
	if (c == (unsigned char)alpha[63])
		return 63;
	return -1;
}

static enum clr_rc b64_decode_strict(const char *in, size_t len, const char *alpha,
				     unsigned char **out, size_t *outlen)
{
	unsigned char *std = NULL, *buf = NULL;
	size_t rem = len % 4, padded, i, pad;
	unsigned last;
	int n;
	enum clr_rc rc = CLR_ERR_PARAM;

	*out = NULL;
	*outlen = 0;
	if (rem == 1)
		return CLR_ERR_PARAM;
	if (len > B64_MAX_IN)
		return CLR_ERR_TOOBIG;
	for (i = 0; i < len; i++) {
		if (b64_index(alpha, (unsigned char)in[i]) < 0)
			return CLR_ERR_PARAM;
	}
	if (rem != 0) {
		last = (unsigned)b64_index(alpha, (unsigned char)in[len - 1]);
		if ((rem == 2 && (last & 0x0F) != 0) || (rem == 3 && (last & 0x03) != 0))
			return CLR_ERR_PARAM;
	}
	pad = rem == 0 ? 0 : 4 - rem;
	padded = len + pad;

	std = malloc(padded + 1);
	buf = malloc(padded / 4 * 3 + 1);
	if (std == NULL || buf == NULL) {
		rc = CLR_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < len; i++)
		std[i] = (unsigned char)b64_std[b64_index(alpha, (unsigned char)in[i])];
	for (; i < padded; i++)
		std[i] = '=';
	std[padded] = '\0';
	n = padded > 0 ? EVP_DecodeBlock(buf, std, (int)padded) : 0;
	if (n < 0 || (size_t)n != padded / 4 * 3) {
		rc = CLR_ERR_PARAM;
		goto out;
	}
	*outlen = (size_t)n - pad;
	buf[*outlen] = '\0';
	*out = buf;
	buf = NULL;
	rc = CLR_OK;
out:
	/* The input may be a key or a client secret. */
	if (std != NULL) {
		OPENSSL_cleanse(std, padded);
		free(std);
	}
	if (buf != NULL) {
		OPENSSL_cleanse(buf, padded / 4 * 3);
		free(buf);
	}
	return rc;
}

enum clr_rc clr_b64url_decode(const char *in, size_t len, unsigned char **out, size_t *outlen)
{
	return b64_decode_strict(in, len, b64_url, out, outlen);
}

enum clr_rc clr_b64_decode(const char *in, size_t len, unsigned char **out, size_t *outlen)
{
	size_t pad = 0;

	*out = NULL;
	*outlen = 0;
	if (len % 4 != 0)
		return CLR_ERR_PARAM;
	/*
	 * At most two '=' come off; a third, or one mid-string, is then an
	 * invalid character for the strict decoder.
	 */
	while (pad < 2 && len - pad > 0 && in[len - pad - 1] == '=')
		pad++;
	return b64_decode_strict(in, len - pad, b64_std, out, outlen);
}

int clr_secret_eq(const void *a, size_t alen, const void *b, size_t blen)
{
	/*
	 * Lengths are not secret, contents are: on a length mismatch still run
	 * the full comparison (of a against itself) so timing does not depend
	 * on where the bytes differ.
	 */
	int same_len = alen == blen;
	int diff = CRYPTO_memcmp(a, same_len ? b : a, alen);

	return same_len & (diff == 0);
}

long long clr_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000LL + ts.tv_nsec / 1000000L;
}
