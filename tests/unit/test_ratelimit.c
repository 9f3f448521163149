/*
 * test_ratelimit.c - services/introspect/ratelimit.c: the plan rate limit
 * is exact within one process (a burst of exactly `limit`, then one more
 * per window/limit), per client and per plan, and stays exact under
 * concurrent callers.
 */
#include <check.h>
#include <pthread.h>
#include <stdio.h>

#include "../../services/introspect/ratelimit.h"

START_TEST(burst_is_exact)
{
	struct ix_rl *rl;
	struct ix_rl_result r;
	long long t = 1000000;

	ck_assert_int_eq(ix_rl_new(0, &rl), CLR_OK);
	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(ix_rl_take(rl, "c1", "p1", 5, 60, t, &r), CLR_OK);
		ck_assert_int_eq(r.allowed, 1);
		ck_assert_int_eq(r.limit, 5);
		ck_assert_int_eq(r.remaining, 4 - i);
	}
	ck_assert_int_eq(ix_rl_take(rl, "c1", "p1", 5, 60, t, &r), CLR_OK);
	ck_assert_int_eq(r.allowed, 0);
	ck_assert_int_eq(r.remaining, 0);
	/* one request per 12 s comes back */
	ck_assert_int_eq(r.retry_after_s, 12);
	ck_assert_int_eq(ix_rl_take(rl, "c1", "p1", 5, 60, t + 11999, &r), CLR_OK);
	ck_assert_int_eq(r.allowed, 0);
	ck_assert_int_eq(r.retry_after_s, 1);
	ck_assert_int_eq(ix_rl_take(rl, "c1", "p1", 5, 60, t + 12000, &r), CLR_OK);
	ck_assert_int_eq(r.allowed, 1);
	ck_assert_int_eq(r.remaining, 0);
	ck_assert_int_eq(ix_rl_take(rl, "c1", "p1", 5, 60, t + 12000, &r), CLR_OK);
	ck_assert_int_eq(r.allowed, 0);
	/* after a whole idle window the bucket is full again, not fuller */
	ck_assert_int_eq(ix_rl_take(rl, "c1", "p1", 5, 60, t + 10000000, &r), CLR_OK);
	ck_assert_int_eq(r.remaining, 4);
	ix_rl_free(rl);
}
END_TEST

START_TEST(keys_are_independent)
{
	struct ix_rl *rl;
	struct ix_rl_result r;

	ck_assert_int_eq(ix_rl_new(0, &rl), CLR_OK);
	ck_assert_int_eq(ix_rl_take(rl, "a", "p", 1, 1, 0, &r), CLR_OK);
	ck_assert_int_eq(r.allowed, 1);
	ck_assert_int_eq(ix_rl_take(rl, "a", "p", 1, 1, 0, &r), CLR_OK);
	ck_assert_int_eq(r.allowed, 0);
	ck_assert_int_eq(ix_rl_take(rl, "b", "p", 1, 1, 0, &r), CLR_OK);
	ck_assert_int_eq(r.allowed, 1);
	ck_assert_int_eq(ix_rl_take(rl, "a", "q", 1, 1, 0, &r), CLR_OK);
	ck_assert_int_eq(r.allowed, 1);
	/* the separator matters: ("ab","c") is not ("a","bc") */
	ck_assert_int_eq(ix_rl_take(rl, "ab", "c", 1, 1, 0, &r), CLR_OK);
	ck_assert_int_eq(r.allowed, 1);
	ck_assert_int_eq(ix_rl_take(rl, "a", "bc", 1, 1, 0, &r), CLR_OK);
	ck_assert_int_eq(r.allowed, 1);
	ck_assert_uint_eq(ix_rl_count(rl), 5);
	ix_rl_free(rl);
}
END_TEST

START_TEST(plan_change_restarts_bucket)
{
	struct ix_rl *rl;
	struct ix_rl_result r;

	ck_assert_int_eq(ix_rl_new(0, &rl), CLR_OK);
	ck_assert_int_eq(ix_rl_take(rl, "a", "p", 1, 60, 0, &r), CLR_OK);
	ck_assert_int_eq(ix_rl_take(rl, "a", "p", 1, 60, 0, &r), CLR_OK);
	ck_assert_int_eq(r.allowed, 0);
	ck_assert_int_eq(ix_rl_take(rl, "a", "p", 3, 60, 0, &r), CLR_OK);
	ck_assert_int_eq(r.allowed, 1);
	ck_assert_int_eq(r.remaining, 2);
	ck_assert_int_eq(ix_rl_take(rl, "a", "p", 0, 60, 0, &r), CLR_ERR_PARAM);
	ck_assert_int_eq(ix_rl_take(rl, "a", "p", 1, 0, 0, &r), CLR_ERR_PARAM);
	ix_rl_free(rl);
}
END_TEST

START_TEST(bounded_memory)
{
	struct ix_rl *rl;
	struct ix_rl_result r;
	char id[32];
	int refused = 0;

	/* cap 64 -> 2 per shard; idle (full) buckets are dropped to make room */
	ck_assert_int_eq(ix_rl_new(64, &rl), CLR_OK);
	for (int i = 0; i < 1000; i++) {
		snprintf(id, sizeof(id), "c%d", i);
		if (ix_rl_take(rl, id, "p", 10, 1, 0, &r) != CLR_OK)
			refused++;
	}
	ck_assert_uint_le(ix_rl_count(rl), 64 + 64);
	ck_assert_int_gt(refused, 0);
	/* once a bucket has refilled (1 s window) it may be recycled */
	for (int i = 0; i < 50; i++) {
		snprintf(id, sizeof(id), "d%d", i);
		ck_assert_int_eq(ix_rl_take(rl, id, "p", 10, 1, 5000 + 2000LL * i, &r), CLR_OK);
		ck_assert_int_eq(r.allowed, 1);
	}
	ix_rl_free(rl);
}
END_TEST

struct race {
	struct ix_rl *rl;
	int allowed;
};

static void *racer(void *arg)
{
	struct race *ra = arg;
	struct ix_rl_result r;

	for (int i = 0; i < 500; i++)
		if (ix_rl_take(ra->rl, "hot", "p", 1000, 3600, 42, &r) == CLR_OK && r.allowed)
			ra->allowed++;
	return NULL;
}

START_TEST(exact_under_threads)
{
	struct ix_rl *rl;
	pthread_t t[8];
	struct race ra[8];
	int total = 0;

	ck_assert_int_eq(ix_rl_new(0, &rl), CLR_OK);
	for (int i = 0; i < 8; i++) {
		ra[i].rl = rl;
		ra[i].allowed = 0;
		ck_assert_int_eq(pthread_create(&t[i], NULL, racer, &ra[i]), 0);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		total += ra[i].allowed;
	}
	/* 4000 attempts at one instant against a limit of 1000 */
	ck_assert_int_eq(total, 1000);
	ix_rl_free(rl);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("ratelimit");
	TCase *tc = tcase_create("ix_rl_take");

	tcase_add_test(tc, burst_is_exact);
	tcase_add_test(tc, keys_are_independent);
	tcase_add_test(tc, plan_change_restarts_bucket);
	tcase_add_test(tc, bounded_memory);
	tcase_add_test(tc, exact_under_threads);
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
