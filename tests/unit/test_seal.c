/*
 * test_seal.c - seal.h: spec parsing, round trips, and every way a sealed
 * value must fail to unseal (wrong key, unknown kid, tampering, other AAD).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clearance/rc.h"
#include "clearance/seal.h"
#include "clearance/util.h"

/* Three distinct 32-byte keys, base64: 0x00.., 0x11.., 0x22.. patterns. */
static char key_a[64], key_b[64], key_c[64];
static char *spec_a, *spec_ba, *spec_c;

static void make_key(char out[64], unsigned char fill)
{
	unsigned char raw[32];
	char *b = NULL;
	int i;

	for (i = 0; i < 32; i++)
		raw[i] = (unsigned char)(fill + i);
	ck_assert_int_eq(clr_b64_encode(raw, sizeof(raw), &b), CLR_OK);
	ck_assert_uint_eq(strlen(b), 44);
	strcpy(out, b);
	free(b);
}

static char *spec2(const char *k1, const char *v1, const char *k2, const char *v2)
{
	char *s = malloc(256);

	ck_assert_ptr_nonnull(s);
	if (k2 != NULL)
		snprintf(s, 256, "%s:%s,%s:%s", k1, v1, k2, v2);
	else
		snprintf(s, 256, "%s:%s", k1, v1);
	return s;
}

static void setup(void)
{
	make_key(key_a, 0x00);
	make_key(key_b, 0x40);
	make_key(key_c, 0x80);
	spec_a = spec2("a1", key_a, NULL, NULL);
	spec_ba = spec2("b2", key_b, "a1", key_a); /* b2 new, a1 still unseals */
	spec_c = spec2("a1", key_c, NULL, NULL);   /* same kid, other key */
}

static void teardown(void)
{
	free(spec_a);
	free(spec_ba);
	free(spec_c);
}

static struct clr_sealer *sealer(const char *spec)
{
	struct clr_sealer *s = NULL;
	struct clr_err e;

	memset(&e, 0, sizeof(e));
	ck_assert_msg(clr_sealer_new(spec, &s, &e) == CLR_OK, "sealer: %s", e.msg);
	ck_assert_ptr_nonnull(s);
	return s;
}

static char *seal_str(const struct clr_sealer *s, const char *col, const char *row, const char *pt)
{
	char *out = NULL;

	ck_assert_int_eq(clr_seal(s, col, row, pt, strlen(pt), &out), CLR_OK);
	ck_assert_ptr_nonnull(out);
	return out;
}

static enum clr_rc unseal_rc(const struct clr_sealer *s, const char *col, const char *row,
			     const char *sealed)
{
	char *pt = (char *)1;
	size_t n = 5;
	enum clr_rc rc = clr_unseal(s, col, row, sealed, &pt, &n);

	if (rc == CLR_OK) {
		clr_unsealed_free(pt, n);
	} else {
		ck_assert_ptr_null(pt);
		ck_assert_uint_eq(n, 0);
	}
	return rc;
}

/* ---- clr_sealer_new ---- */

START_TEST(sealer_new_valid)
{
	struct clr_sealer *s = sealer(spec_ba);
	char *sp;

	clr_sealer_free(s);
	clr_sealer_free(NULL);
	/* Blanks around entries are tolerated; kid alphabet edges. */
	sp = malloc(256);
	snprintf(sp, 256, " k_-Z9:%s ,\tx:%s", key_a, key_b);
	s = sealer(sp);
	clr_sealer_free(s);
	free(sp);
}
END_TEST

START_TEST(sealer_new_errors)
{
	struct {
		const char *kid, *key;
		const char *want; /* substring of e.msg */
	} cases[] = {
	    {"", NULL, "no keys given"},
	    {"bad kid", "K", "entry 1: kid"},
	    {"abcdefghijklmnopqrstuvwxyz0123456", "K", "entry 1: kid"},
	    {"k.1", "K", "entry 1: kid"},
	    {"k1", "AAAA", "entry 1 (kid \"k1\"): key is 3 bytes"},
	    {"k1", "not*base64", "entry 1 (kid \"k1\"): key is not valid base64"},
	};
	struct clr_sealer *s = (struct clr_sealer *)1;
	struct clr_err e;
	char spec[256];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (cases[i].key != NULL) {
			snprintf(spec, sizeof(spec), "%s:%s", cases[i].kid,
				 strcmp(cases[i].key, "K") == 0 ? key_a : cases[i].key);
		} else {
			snprintf(spec, sizeof(spec), "%s", cases[i].kid);
		}
		memset(&e, 0, sizeof(e));
		ck_assert_int_eq(clr_sealer_new(spec, &s, &e), CLR_ERR_PARAM);
		ck_assert_ptr_null(s);
		ck_assert_int_eq(e.rc, CLR_ERR_PARAM);
		ck_assert_msg(strstr(e.msg, cases[i].want) != NULL, "case %zu: \"%s\"", i, e.msg);
		ck_assert_ptr_null(strstr(e.msg, key_a));
	}
	memset(&e, 0, sizeof(e));
	ck_assert_int_eq(clr_sealer_new(NULL, &s, &e), CLR_ERR_PARAM);
	ck_assert_int_eq(clr_sealer_new("", &s, NULL), CLR_ERR_PARAM);

	/* Second entry wrong: named by index; duplicate kid refused. */
	snprintf(spec, sizeof(spec), "k1:%s,k2", key_a);
	ck_assert_int_eq(clr_sealer_new(spec, &s, &e), CLR_ERR_PARAM);
	ck_assert_ptr_nonnull(strstr(e.msg, "entry 2"));
	snprintf(spec, sizeof(spec), "k1:%s,k1:%s", key_a, key_b);
	ck_assert_int_eq(clr_sealer_new(spec, &s, &e), CLR_ERR_PARAM);
	ck_assert_ptr_nonnull(strstr(e.msg, "listed twice"));
	snprintf(spec, sizeof(spec), "k1:%s,", key_a);
	ck_assert_int_eq(clr_sealer_new(spec, &s, &e), CLR_ERR_PARAM);
	ck_assert_ptr_nonnull(strstr(e.msg, "entry 2 is empty"));
	/* A key with the right length but url-safe alphabet is not base64. */
	snprintf(spec, sizeof(spec), "k1:%s", key_a);
	spec[3] = '-';
	ck_assert_int_eq(clr_sealer_new(spec, &s, &e), CLR_ERR_PARAM);
	ck_assert_ptr_null(strstr(e.msg, key_a + 1));
}
END_TEST

/* ---- clr_seal ---- */

START_TEST(seal_format)
{
	struct clr_sealer *s = sealer(spec_ba);
	char *v = seal_str(s, "registrations.client_secret", "row-1", "hunter2hunter2");
	char *v2 = seal_str(s, "registrations.client_secret", "row-1", "hunter2hunter2");
	char *dup = strdup(v), *tok, *save = NULL;
	const char *want_len[] = {"v1", "b2", "16", "19", "22"};
	int i = 0;

	/* Fresh nonce every time: same input, different output. */
	ck_assert_str_ne(v, v2);
	ck_assert_ptr_null(strstr(v, "hunter2"));
	for (tok = strtok_r(dup, ".", &save); tok != NULL; tok = strtok_r(NULL, ".", &save), i++) {
		ck_assert_int_lt(i, 5);
		if (i < 2)
			ck_assert_str_eq(tok, want_len[i]);
		else
			ck_assert_uint_eq(strlen(tok), (size_t)atoi(want_len[i]));
	}
	ck_assert_int_eq(i, 5);
	free(dup);
	free(v);
	free(v2);

	ck_assert_int_eq(clr_seal(s, "t.c:x", "1", "a", 1, &v), CLR_ERR_PARAM);
	ck_assert_int_eq(clr_seal(s, NULL, "1", "a", 1, &v), CLR_ERR_PARAM);
	ck_assert_int_eq(clr_seal(s, "t.c", NULL, "a", 1, &v), CLR_ERR_PARAM);
	ck_assert_ptr_null(v);
	clr_sealer_free(s);
}
END_TEST

/* ---- clr_unseal ---- */

START_TEST(unseal_roundtrip)
{
	struct clr_sealer *s = sealer(spec_a);
	static const char bin[] = "bin\0ary\xff";
	char *v, *pt = NULL;
	size_t n = 0;

	v = seal_str(s, "providers.initial_token", "r1", "s3cret");
	ck_assert_int_eq(clr_unseal(s, "providers.initial_token", "r1", v, &pt, &n), CLR_OK);
	ck_assert_uint_eq(n, 6);
	ck_assert_str_eq(pt, "s3cret");
	clr_unsealed_free(pt, n);
	free(v);

	/* Empty and binary plaintexts. */
	v = seal_str(s, "t.c", "r1", "");
	ck_assert_int_eq(clr_unseal(s, "t.c", "r1", v, &pt, &n), CLR_OK);
	ck_assert_uint_eq(n, 0);
	ck_assert_str_eq(pt, "");
	clr_unsealed_free(pt, n);
	free(v);
	ck_assert_int_eq(clr_seal(s, "t.c", "r1", bin, sizeof(bin), &v), CLR_OK);
	ck_assert_int_eq(clr_unseal(s, "t.c", "r1", v, &pt, &n), CLR_OK);
	ck_assert_uint_eq(n, sizeof(bin));
	ck_assert_mem_eq(pt, bin, n);
	ck_assert_int_eq(pt[n], '\0');
	clr_unsealed_free(pt, n);
	clr_unsealed_free(NULL, 0);
	free(v);
	clr_sealer_free(s);
}
END_TEST

START_TEST(unseal_wrong_key)
{
	struct clr_sealer *a = sealer(spec_a), *c = sealer(spec_c);
	char *v = seal_str(a, "t.c", "r1", "secret");

	/* Same kid "a1", different key material: the tag check fails. */
	ck_assert_int_eq(unseal_rc(c, "t.c", "r1", v), CLR_ERR_PARAM);
	ck_assert_int_eq(unseal_rc(a, "t.c", "r1", v), CLR_OK);
	free(v);
	clr_sealer_free(a);
	clr_sealer_free(c);
}
END_TEST

START_TEST(unseal_unknown_kid)
{
	struct clr_sealer *ba = sealer(spec_ba), *a = sealer(spec_a);
	char *v = seal_str(ba, "t.c", "r1", "secret");

	ck_assert_int_eq(strncmp(v, "v1.b2.", 6), 0);
	ck_assert_int_eq(unseal_rc(a, "t.c", "r1", v), CLR_ERR_PARAM);
	free(v);
	clr_sealer_free(ba);
	clr_sealer_free(a);
}
END_TEST

START_TEST(unseal_rotation)
{
	struct clr_sealer *old = sealer(spec_a), *rot = sealer(spec_ba);
	char *v_old = seal_str(old, "t.c", "r1", "old secret");
	char *v_new = seal_str(rot, "t.c", "r1", "new secret");
	char *pt = NULL;
	size_t n = 0;

	ck_assert_int_eq(strncmp(v_old, "v1.a1.", 6), 0);
	ck_assert_int_eq(strncmp(v_new, "v1.b2.", 6), 0);
	ck_assert_int_eq(clr_unseal(rot, "t.c", "r1", v_old, &pt, &n), CLR_OK);
	ck_assert_str_eq(pt, "old secret");
	clr_unsealed_free(pt, n);
	ck_assert_int_eq(clr_unseal(rot, "t.c", "r1", v_new, &pt, &n), CLR_OK);
	ck_assert_str_eq(pt, "new secret");
	clr_unsealed_free(pt, n);
	free(v_old);
	free(v_new);
	clr_sealer_free(old);
	clr_sealer_free(rot);
}
END_TEST

START_TEST(unseal_swapped_aad)
{
	struct clr_sealer *s = sealer(spec_a);
	char *v = seal_str(s, "registrations.client_secret", "row-1", "secret");

	ck_assert_int_eq(unseal_rc(s, "registrations.client_secret", "row-1", v), CLR_OK);
	ck_assert_int_eq(unseal_rc(s, "registrations.client_secret", "row-2", v), CLR_ERR_PARAM);
	ck_assert_int_eq(unseal_rc(s, "registrations.rat", "row-1", v), CLR_ERR_PARAM);
	ck_assert_int_eq(unseal_rc(s, "providers.client_secret", "row-1", v), CLR_ERR_PARAM);
	ck_assert_int_eq(unseal_rc(s, "registrations.client_secret", "", v), CLR_ERR_PARAM);
	/* The ':' separator cannot be moved between column and row. */
	ck_assert_int_eq(unseal_rc(s, "registrations.client_secret:row", "-1", v), CLR_ERR_PARAM);
	free(v);
	clr_sealer_free(s);
}
END_TEST

/* Flips one character of part `idx` (2 nonce, 3 ct, 4 tag) of a sealed value. */
static char *tamper(const char *v, int idx)
{
	char *t = strdup(v), *p = t;
	int i;

	for (i = 0; i < idx; i++)
		p = strchr(p, '.') + 1;
	/* First char: flipping it changes high bits, so the decode stays canonical. */
	*p = *p == 'A' ? 'B' : 'A';
	return t;
}

START_TEST(unseal_tampered)
{
	struct clr_sealer *s = sealer(spec_a);
	char *v = seal_str(s, "t.c", "r1", "a secret value"), *t;
	size_t len = strlen(v);
	int idx;

	for (idx = 2; idx <= 4; idx++) {
		t = tamper(v, idx);
		ck_assert_str_ne(t, v);
		ck_assert_msg(unseal_rc(s, "t.c", "r1", t) == CLR_ERR_PARAM, "part %d", idx);
		free(t);
	}
	/* Truncated tag, extra part, wrong version, garbage. */
	t = strdup(v);
	t[len - 2] = '\0';
	ck_assert_int_eq(unseal_rc(s, "t.c", "r1", t), CLR_ERR_PARAM);
	free(t);
	t = malloc(len + 3);
	snprintf(t, len + 3, "%s.A", v);
	ck_assert_int_eq(unseal_rc(s, "t.c", "r1", t), CLR_ERR_PARAM);
	t[1] = '2';
	t[len] = '\0';
	ck_assert_int_eq(unseal_rc(s, "t.c", "r1", t), CLR_ERR_PARAM);
	free(t);
	ck_assert_int_eq(unseal_rc(s, "t.c", "r1", ""), CLR_ERR_PARAM);
	ck_assert_int_eq(unseal_rc(s, "t.c", "r1", "v1.a1...."), CLR_ERR_PARAM);
	ck_assert_int_eq(unseal_rc(s, "t.c", "r1", "v1.a1"), CLR_ERR_PARAM);
	ck_assert_int_eq(unseal_rc(s, "t.c", "r1", NULL), CLR_ERR_PARAM);
	/* Untouched value still fine (the loop above worked on copies). */
	ck_assert_int_eq(unseal_rc(s, "t.c", "r1", v), CLR_OK);
	free(v);
	clr_sealer_free(s);
}
END_TEST

static Suite *seal_suite(void)
{
	Suite *s = suite_create("seal");
	TCase *tc;

	tc = tcase_create("clr_sealer_new");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, sealer_new_valid);
	tcase_add_test(tc, sealer_new_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("clr_seal");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, seal_format);
	suite_add_tcase(s, tc);

	tc = tcase_create("clr_unseal");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, unseal_roundtrip);
	tcase_add_test(tc, unseal_wrong_key);
	tcase_add_test(tc, unseal_unknown_kid);
	tcase_add_test(tc, unseal_rotation);
	tcase_add_test(tc, unseal_swapped_aad);
	tcase_add_test(tc, unseal_tampered);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(seal_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
