/*
 * test_form.c - the common request kit's codecs and rules: form encoding
 * and decoding (form.h), the scope rule (oauth.h) and the field table
 * checker's partial and integer cases (fields.h).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "clearance/fields.h"
#include "clearance/form.h"
#include "clearance/oauth.h"

START_TEST(escape_space_is_plus)
{
	static const char raw[] = "a b+c&d=e/~-._\xc3\xa9";
	char *s = clr_form_escape(raw, strlen(raw));

	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(s, "a+b%2Bc%26d%3De%2F~-._%C3%A9");
	free(s);
	s = clr_form_escape("", 0);
	ck_assert_str_eq(s, "");
	free(s);
}
END_TEST

START_TEST(value_round_trip)
{
	static const char raw[] = "s3cr:t&x y+z%";
	char *enc = clr_form_escape(raw, strlen(raw)), *form = NULL, *out = NULL;
	size_t n;

	ck_assert_ptr_nonnull(enc);
	n = strlen(enc) + 32;
	form = malloc(n);
	snprintf(form, n, "token=%s&x=1", enc);
	ck_assert_int_eq(clr_form_value(form, strlen(form), "token", &out, NULL), CLR_OK);
	ck_assert_str_eq(out, raw);
	free(out);
	free(form);
	free(enc);
}
END_TEST

START_TEST(value_cases)
{
	static const char f[] = "a=1&b=x%20y+z&empty=&bare&a=2&k%65y=v";
	char *out = NULL;
	int dup = 0;

	ck_assert_int_eq(clr_form_value(f, strlen(f), "b", &out, &dup), CLR_OK);
	ck_assert_str_eq(out, "x y z");
	ck_assert_int_eq(dup, 0);
	free(out);
	ck_assert_int_eq(clr_form_value(f, strlen(f), "a", &out, &dup), CLR_OK);
	ck_assert_str_eq(out, "1"); /* the first, and the repeat is reported */
	ck_assert_int_eq(dup, 1);
	free(out);
	ck_assert_int_eq(clr_form_value(f, strlen(f), "empty", &out, NULL), CLR_OK);
	ck_assert_str_eq(out, "");
	free(out);
	ck_assert_int_eq(clr_form_value(f, strlen(f), "bare", &out, NULL), CLR_OK);
	ck_assert_str_eq(out, "");
	free(out);
	ck_assert_int_eq(clr_form_value(f, strlen(f), "key", &out, NULL), CLR_OK);
	ck_assert_str_eq(out, "v");
	free(out);
	ck_assert_int_eq(clr_form_value(f, strlen(f), "nope", &out, NULL), CLR_OK);
	ck_assert_ptr_null(out);
	/* Only len bytes are read. */
	ck_assert_int_eq(clr_form_value(f, 3, "b", &out, NULL), CLR_OK);
	ck_assert_ptr_null(out);
	/* Malformed escapes and a decoded NUL are refused. */
	ck_assert_int_eq(clr_form_value("a=%4", 4, "a", &out, NULL), CLR_ERR_PARAM);
	ck_assert_ptr_null(out);
	ck_assert_int_eq(clr_form_value("a=%zz", 5, "a", &out, NULL), CLR_ERR_PARAM);
	ck_assert_int_eq(clr_form_value("a=x%00", 6, "a", &out, NULL), CLR_ERR_PARAM);
	/* A repeat is reported at once; the caller refuses the request. */
	ck_assert_int_eq(clr_form_value("a=1&a=%zz", 9, "a", &out, &dup), CLR_OK);
	ck_assert_int_eq(dup, 1);
	free(out);
}
END_TEST

START_TEST(scope_rule)
{
	ck_assert_int_eq(clr_scope_valid(""), 1);
	ck_assert_int_eq(clr_scope_valid("orders:read plan:gold"), 1);
	ck_assert_int_eq(clr_scope_valid(" a"), 0);
	ck_assert_int_eq(clr_scope_valid("a "), 0);
	ck_assert_int_eq(clr_scope_valid("a  b"), 0);
	ck_assert_int_eq(clr_scope_valid("a\\b"), 0);
	ck_assert_int_eq(clr_scope_valid("\xc3\xa9"), 0);
}
END_TEST

static const struct clr_field f_int[] = {
    {"n", CLR_FT_INT, 1, 0, 1, 10, 0, 0},
    {"s", CLR_FT_STR, 0, 1, 0, 5, 0, 0},
};

static enum clr_rc check(const char *js, int partial, struct clr_err *e)
{
	const struct clr_body b = {f_int, 2, partial, "invalid_client_metadata"};
	json_t *o = json_loads(js, 0, NULL);
	enum clr_rc rc;

	memset(e, 0, sizeof(*e));
	rc = clr_fields_check(o, &b, e);
	json_decref(o);
	return rc;
}

START_TEST(fields_ints_and_partial)
{
	struct clr_err e;

	ck_assert_int_eq(check("{\"n\":3}", 0, &e), CLR_OK);
	ck_assert_int_eq(check("{\"n\":0}", 0, &e), CLR_ERR_PARAM);
	ck_assert_str_eq(e.error, "invalid_client_metadata");
	ck_assert_str_eq(e.field, "n");
	ck_assert_int_eq(check("{\"n\":11}", 0, &e), CLR_ERR_PARAM);
	ck_assert_int_eq(check("{\"n\":1.5}", 0, &e), CLR_ERR_PARAM);
	ck_assert_int_eq(check("{\"s\":\"x\"}", 0, &e), CLR_ERR_PARAM);
	ck_assert_str_eq(e.field, "n");
	ck_assert_int_eq(check("{\"s\":null}", 1, &e), CLR_OK);
	ck_assert_int_eq(check("{}", 1, &e), CLR_ERR_PARAM);
	ck_assert_int_eq(check("{\"owner\":\"me\"}", 1, &e), CLR_ERR_PARAM);
	ck_assert_str_eq(e.error, "invalid_request");
	ck_assert_ptr_nonnull(strstr(e.msg, "\"owner\""));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("form");
	TCase *tc = tcase_create("clr_form");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, escape_space_is_plus);
	tcase_add_test(tc, value_round_trip);
	tcase_add_test(tc, value_cases);
	suite_add_tcase(s, tc);
	tc = tcase_create("rules");
	tcase_add_test(tc, scope_rule);
	tcase_add_test(tc, fields_ints_and_partial);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
