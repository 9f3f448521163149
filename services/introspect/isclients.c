/*
 * isclients.c - see isclients.h.  A sorted array of {id, hash}, replaced
 * whole on reload; lookups are a binary search under a read lock.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "clearance/auth.h"
#include "clearance/util.h"
#include "isclients.h"

struct ix_isc {
	pthread_rwlock_t lock;
	struct ix_isc_entry *v;
	size_t n;
};

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct ix_isc_entry *)a)->id, ((const struct ix_isc_entry *)b)->id);
}

enum clr_rc ix_isc_new(struct ix_isc **out)
{
	struct ix_isc *s = calloc(1, sizeof(*s));

	*out = NULL;
	if (s == NULL)
		return CLR_ERR_NOMEM;
	pthread_rwlock_init(&s->lock, NULL);
	*out = s;
	return CLR_OK;
}

void ix_isc_free(struct ix_isc *s)
{
	if (s == NULL)
		return;
	OPENSSL_cleanse(s->v, s->n * sizeof(*s->v));
	free(s->v);
	pthread_rwlock_destroy(&s->lock);
	free(s);
}

enum clr_rc ix_isc_replace(struct ix_isc *s, const struct ix_isc_entry *v, size_t n)
{
	struct ix_isc_entry *nv = NULL, *old;
	size_t oldn;

	if (n > 0) {
		nv = malloc(n * sizeof(*nv));
		if (nv == NULL)
			return CLR_ERR_NOMEM;
		memcpy(nv, v, n * sizeof(*nv));
		for (size_t i = 0; i < n; i++)
			nv[i].id[IX_ISC_ID_LEN] = '\0';
		qsort(nv, n, sizeof(*nv), entry_cmp);
	}
	pthread_rwlock_wrlock(&s->lock);
	old = s->v;
	oldn = s->n;
	s->v = nv;
	s->n = n;
	pthread_rwlock_unlock(&s->lock);
	if (old != NULL)
		OPENSSL_cleanse(old, oldn * sizeof(*old));
	free(old);
	return CLR_OK;
}

static int hexbyte(const char *h, unsigned char *out)
{
	unsigned v = 0;

	for (int i = 0; i < 2; i++) {
		char c = h[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else
			return -1;
	}
	*out = (unsigned char)v;
	return 0;
}

enum clr_rc ix_isc_reload(struct ix_isc *s, struct clr_db *db)
{
	static const char q[] = "SELECT id::text, secret_hash, hash_alg = '" CLR_HASH_ALG_LEGACY
				"' FROM introspection_clients"
				" WHERE revoked_at IS NULL";
	PGresult *res = NULL;
	struct ix_isc_entry *v = NULL;
	size_t k = 0;
	int n;
	enum clr_rc rc;

	if ((rc = clr_db_exec_sql(db, q, 0, NULL, &res)) != CLR_OK)
		return rc;
	n = PQntuples(res);
	v = calloc((size_t)n + 1, sizeof(*v));
	if (v == NULL) {
		rc = CLR_ERR_NOMEM;
		goto out;
	}
	for (int i = 0; i < n; i++) {
		const char *id = PQgetvalue(res, i, 0), *h = PQgetvalue(res, i, 1);
		int bad = strlen(id) != IX_ISC_ID_LEN || strlen(h) != 64;

		for (int j = 0; !bad && j < 32; j++)
			bad = hexbyte(h + 2 * j, &v[k].hash[j]) != 0;
		if (bad)
			continue; /* the table's CHECKs make this unreachable */
		memcpy(v[k].id, id, IX_ISC_ID_LEN + 1);
		v[k].legacy = PQgetvalue(res, i, 2)[0] == 't';
		k++;
	}
	rc = ix_isc_replace(s, v, k);
out:
	if (v != NULL)
		OPENSSL_cleanse(v, ((size_t)n + 1) * sizeof(*v));
	free(v);
	PQclear(res);
	return rc;
}

int ix_isc_check(struct ix_isc *s, const char *id, size_t idlen, const char *secret, size_t slen)
{
	static const unsigned char dummy[32];
	unsigned char h[32], hs[32], want[32];
	unsigned int hl = 0;
	struct ix_isc_entry key;
	const struct ix_isc_entry *e = NULL;
	int found = 0, legacy = 0, ok;

	/*
	 * Both digests every time: the work does not depend on the row.  An
	 * unusable pepper fails closed, legacy rows included.
	 */
	if (clr_token_digest(secret, slen, h) < 0)
		return 0;
	if (!EVP_Digest(secret, slen, hs, &hl, EVP_sha256(), NULL))
		return 0;
	memcpy(want, dummy, sizeof(want));
	if (idlen == IX_ISC_ID_LEN && memchr(id, '\0', idlen) == NULL) {
		memcpy(key.id, id, idlen);
		key.id[idlen] = '\0';
		pthread_rwlock_rdlock(&s->lock);
		if (s->n > 0)
			e = bsearch(&key, s->v, s->n, sizeof(*s->v), entry_cmp);
		if (e != NULL) {
			memcpy(want, e->hash, sizeof(want));
			legacy = e->legacy;
			found = 1;
		}
		pthread_rwlock_unlock(&s->lock);
	}
	/* Always one full comparison, found or not. */
	ok = CRYPTO_memcmp(legacy ? hs : h, want, sizeof(h)) == 0;
	OPENSSL_cleanse(h, sizeof(h));
	OPENSSL_cleanse(hs, sizeof(hs));
	OPENSSL_cleanse(want, sizeof(want));
	return found & ok;
}

int ix_isc_check_basic(struct ix_isc *s, const char *authz, char id_out[IX_ISC_ID_LEN + 1])
{
	unsigned char *dec = NULL;
	size_t dlen = 0, n;
	const char *colon;
	int ok = 0;

	id_out[0] = '\0';
	if (authz == NULL || strncasecmp(authz, "Basic ", 6) != 0)
		return 0;
	authz += 6;
	while (*authz == ' ')
		authz++;
	n = strlen(authz);
	if (n == 0 || n > 512 || clr_b64_decode(authz, n, &dec, &dlen) != CLR_OK)
		return 0;
	colon = memchr(dec, ':', dlen);
	if (colon != NULL) {
		size_t idlen = (size_t)(colon - (const char *)dec);
		ok = ix_isc_check(s, (const char *)dec, idlen, colon + 1, dlen - idlen - 1);
		if (ok) {
			memcpy(id_out, dec, IX_ISC_ID_LEN);
			id_out[IX_ISC_ID_LEN] = '\0';
		}
	}
	OPENSSL_cleanse(dec, dlen);
	free(dec);
	return ok;
}

size_t ix_isc_count(struct ix_isc *s)
{
	size_t n;

	pthread_rwlock_rdlock(&s->lock);
	n = s->n;
	pthread_rwlock_unlock(&s->lock);
	return n;
}

enum clr_rc ix_isc_secret_new(char **secret, char hex[65])
{
	static const char digits[] = "0123456789abcdef";
	unsigned char raw[32], h[32];
	char *b64 = NULL, *s = NULL;
	size_t pl = strlen(IX_ISC_SECRET_PREFIX), bl;
	enum clr_rc rc = CLR_ERR_NOMEM;

	*secret = NULL;
	if (RAND_bytes(raw, sizeof(raw)) != 1) {
		rc = CLR_ERR_INTERNAL;
		goto out;
	}
	if (clr_b64url_encode(raw, sizeof(raw), &b64) != CLR_OK)
		goto out;
	bl = strlen(b64);
	s = malloc(pl + bl + 1);
	if (s == NULL)
		goto out;
	memcpy(s, IX_ISC_SECRET_PREFIX, pl);
	memcpy(s + pl, b64, bl + 1);
	if (clr_token_digest(s, pl + bl, h) < 0) {
		OPENSSL_cleanse(s, pl + bl);
		free(s);
		s = NULL;
		goto out;
	}
	for (int i = 0; i < 32; i++) {
		hex[2 * i] = digits[h[i] >> 4];
		hex[2 * i + 1] = digits[h[i] & 15];
	}
	hex[64] = '\0';
	*secret = s;
	rc = CLR_OK;
out:
	OPENSSL_cleanse(raw, sizeof(raw));
	if (b64 != NULL) {
		OPENSSL_cleanse(b64, strlen(b64));
		free(b64);
	}
	return rc;
}
