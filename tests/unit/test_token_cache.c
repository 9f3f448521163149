/*
 * test_token_cache.c - services/introspect/token_cache.c: a verified
 * token's verdict is reused only for the same SHA-256 key, before its
 * deadline and under the same provider policy generation; a colliding
 * token replaces the slot; references keep an entry alive after eviction.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "../../services/introspect/token_cache.h"

static struct clr_jwt_claims claims(const char *id)
{
	struct clr_jwt_claims c = CLR_JWT_CLAIMS_INIT;

	/* jwt.c keeps every claim string in scope_buf, freed by claims_clear */
	c.scope_buf = strdup(id);
	c.identity = c.scope_buf;
	c.exp = 2000000000;
	return c;
}

START_TEST(hit_miss_expiry_generation)
{
	struct ix_tcache *tc;
	unsigned char k1[32], k2[32];
	struct clr_jwt_claims c = claims("client-1");
	struct ix_tok *t;

	memset(k1, 1, sizeof(k1));
	memset(k2, 1, sizeof(k2));
	k2[31] = 2; /* same slot (first bytes equal), different key */
	ck_assert_int_eq(ix_tcache_new(16, &tc), CLR_OK);
	ck_assert_ptr_null(ix_tcache_get(tc, k1, 0, 7));
	ck_assert_int_eq(ix_tcache_put(tc, k1, 1000, 7, 0, "prov", &c, NULL), CLR_OK);
	ck_assert_ptr_null(c.identity); /* moved into the entry */
	t = ix_tcache_get(tc, k1, 999, 7);
	ck_assert_ptr_nonnull(t);
	ck_assert_str_eq(t->claims.identity, "client-1");
	ck_assert_str_eq(t->prov_id, "prov");
	ix_tok_release(t);
	ck_assert_ptr_null(ix_tcache_get(tc, k1, 1000, 7)); /* deadline reached */
	ck_assert_ptr_null(ix_tcache_get(tc, k1, 500, 8));  /* provider policy changed */
	ck_assert_ptr_null(ix_tcache_get(tc, k2, 500, 7));  /* other token, same slot */
	ix_tcache_free(tc);
}
END_TEST

START_TEST(eviction_keeps_held_reference)
{
	struct ix_tcache *tc;
	unsigned char k1[32], k2[32];
	struct clr_jwt_claims c1 = claims("one"), c2 = claims("two");
	struct ix_tok *held = NULL, *t;
	unsigned long hits, misses;

	memset(k1, 3, sizeof(k1));
	memset(k2, 3, sizeof(k2));
	k2[20] = 9;
	ck_assert_int_eq(ix_tcache_new(16, &tc), CLR_OK);
	ck_assert_int_eq(ix_tcache_put(tc, k1, 1000, 1, 0, "p", &c1, &held), CLR_OK);
	ck_assert_int_eq(ix_tcache_put(tc, k2, 1000, 1, 0, "p", &c2, NULL), CLR_OK);
	ck_assert_ptr_null(ix_tcache_get(tc, k1, 0, 1)); /* evicted by k2 */
	ck_assert_str_eq(held->claims.identity, "one");	 /* still valid for its holder */
	ix_tok_release(held);
	t = ix_tcache_get(tc, k2, 0, 1);
	ck_assert_ptr_nonnull(t);
	ix_tok_release(t);
	ix_tcache_stats(tc, &hits, &misses);
	ck_assert_uint_eq(hits, 1);
	ck_assert_uint_eq(misses, 1);
	ix_tcache_free(tc);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("token_cache");
	TCase *tc = tcase_create("ix_tcache");

	tcase_add_test(tc, hit_miss_expiry_generation);
	tcase_add_test(tc, eviction_keeps_held_reference);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
