/*
 * test_redirect_host.c - the public-host part of clr_redirect_uri_check and
 * the operator's allowance (clr_redirect_allow_set), issue 10: redirect URIs
 * of apps and registrations refuse link-local, private, CGNAT, unspecified,
 * multicast, metadata and other non-public hosts in every spelling a
 * resolver accepts, unless the operator allows them; loopback http stays
 * allowed for native apps (RFC 8252 s.7.3).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "clearance/oauth.h"

/* Refused with no allowance; `allowed_by` (NULL: refused in every case) lets it pass. */
struct host_case {
	const char *uri;
	const char *allowed_by;
};

static const struct host_case refused[] = {
    {"https://169.254.169.254/latest/meta-data/", "169.254.0.0/16"},
    {"https://10.0.0.1/cb", "10.0.0.0/8"},
    {"https://10.0.0.1:8443/cb", "10.0.0.1"},
    {"https://172.16.0.1/cb", "172.16.0.0/12"},
    {"https://172.31.255.254/cb", "172.16.0.0/12"},
    {"https://192.168.1.1/cb", "192.168.1.0/24"},
    {"https://100.64.0.1/cb", "100.64.0.0/10"},
    {"https://100.127.255.1/cb", "all"},
    {"https://0.0.0.0/cb", "0.0.0.0/8"},
    {"https://224.0.0.1/cb", "1"},
    {"https://255.255.255.255/cb", "1"},
    {"https://198.18.0.1/cb", "1"},
    {"https://192.0.2.10/cb", "192.0.2.0/24"},
    {"https://[fe80::1]/cb", "fe80::/10"},
    {"https://[fc00::1]/cb", "fc00::/7"},
    {"https://[fd12:3456::1]/cb", "fd00::/8"},
    {"https://[::]/cb", "::/128"},
    {"https://[ff02::1]/cb", "ff00::/8"},
    {"https://[2001:db8::1]/cb", "2001:db8::/32"},
    {"https://[::ffff:10.0.0.1]/cb", "10.0.0.0/8"},
    {"https://[::ffff:a00:1]/cb", "10.0.0.0/8"},
    {"https://[::ffff:169.254.169.254]/cb", "169.254.169.254/32"},
    {"https://[64:ff9b::a9fe:a9fe]/cb", "169.254.0.0/16"},
    {"https://[2002:a00:1::1]/cb", "10.0.0.0/8"},
    {"https://[fe80::1%25eth0]/cb", NULL}, /* zone ids: never */
    {"https://metadata.google.internal/computeMetadata/v1/", ".internal"},
    {"https://metadata.google.internal./cb", "metadata.google.internal"},
    {"https://printer.local/cb", ".local"},
    {"https://router.home.arpa/cb", ".home.arpa"},
    {"https://metadata/cb", "metadata"},
    {"https://intranet/cb", "all"},
    /* Spellings a resolver (inet_aton) reads as IPv4: never accepted. */
    {"https://2130706433/cb", NULL},
    {"https://167772161/cb", NULL},
    {"https://0x0a.0.0.1/cb", NULL},
    {"https://0xa9fea9fe/cb", NULL},
    {"https://012.0.0.1/cb", NULL},
    {"https://10.1/cb", NULL},
    {"https://010.000.000.001/cb", NULL},
    {"https://10.0.0.1./cb", "10.0.0.0/8"},
    {"https://1.2.3.4.5/cb", NULL},
    {"http://2130706433/cb", NULL},
    {"http://0x7f000001/cb", NULL},
    {"http://127.1/cb", NULL},
    /* http only on loopback, whatever the allowance. */
    {"http://10.0.0.1/cb", NULL},
    {"http://[::ffff:127.0.0.1]/cb", NULL},
    {"http://app.localhost/cb", NULL},
    /* Non-ASCII and percent-encoded hosts. */
    {"https://\xef\xbc\x91\xef\xbc\x90.0.0.1/cb", NULL},
    {"https://%31%30.0.0.1/cb", NULL},
    {"https://a..test/cb", NULL},
};

static const char *const accepted[] = {
    "https://app.example.com/cb",
    "https://8.8.8.8/cb",
    "https://93.184.216.34:8443/cb",
    "https://172.32.0.1/cb",
    "https://100.128.0.1/cb",
    "https://192.169.0.1/cb",
    "https://[2606:4700::1111]/cb",
    "https://[::ffff:8.8.8.8]/cb",
    "https://app.example.com./cb",
    "https://internal.example.com/cb",
    "https://a.test/cb",
    "http://127.0.0.1:8080/cb",
    "http://127.0.0.2/cb",
    "http://127.255.255.254:9/cb",
    "http://[::1]:9000/cb",
    "http://localhost/cb",
    "http://LOCALHOST:3000/cb",
    "https://127.0.0.1/cb",
    "https://localhost/cb",
    "https://[::1]/cb",
};

static void allow(const char *list)
{
	struct clr_err e = {0};

	ck_assert_msg(clr_redirect_allow_set(list, &e) == CLR_OK, "allow \"%s\": %s",
		      list != NULL ? list : "(null)", e.msg);
}

START_TEST(non_public_refused)
{
	struct clr_err e = {0};

	allow(NULL);
	ck_assert_msg(clr_redirect_uri_check(refused[_i].uri, "redirect_uris", &e) == CLR_ERR_PARAM,
		      "accepted: %s", refused[_i].uri);
	ck_assert_str_eq(e.error, "invalid_redirect_uri");
	ck_assert_str_eq(e.field, "redirect_uris");
}
END_TEST

START_TEST(refusal_names_the_rule)
{
	struct clr_err e = {0};

	allow(NULL);
	ck_assert_int_eq(clr_redirect_uri_check("https://169.254.169.254/", "redirect_uris", &e),
			 CLR_ERR_PARAM);
	ck_assert_ptr_nonnull(strstr(e.msg, "link-local"));
	ck_assert_ptr_nonnull(strstr(e.msg, "public host"));
	ck_assert_ptr_nonnull(strstr(e.msg, "CLEARANCE_REDIRECT_ALLOW_PRIVATE"));
	ck_assert_int_eq(clr_redirect_uri_check("https://0x0a.0.0.1/", "redirect_uris", &e),
			 CLR_ERR_PARAM);
	ck_assert_ptr_nonnull(strstr(e.msg, "four decimal numbers"));
}
END_TEST

START_TEST(operator_allows)
{
	struct clr_err e = {0};
	const struct host_case *c = &refused[_i];

	if (c->allowed_by == NULL) {
		allow("all");
		ck_assert_msg(clr_redirect_uri_check(c->uri, "redirect_uris", &e) == CLR_ERR_PARAM,
			      "accepted with \"all\": %s", c->uri);
	} else {
		allow(c->allowed_by);
		ck_assert_msg(clr_redirect_uri_check(c->uri, "redirect_uris", &e) == CLR_OK,
			      "refused with \"%s\": %s: %s", c->allowed_by, c->uri, e.msg);
	}
	allow(NULL);
}
END_TEST

START_TEST(public_accepted)
{
	struct clr_err e = {0};

	allow(NULL);
	ck_assert_msg(clr_redirect_uri_check(accepted[_i], "redirect_uris", &e) == CLR_OK,
		      "refused: %s: %s", accepted[_i], e.msg);
}
END_TEST

/* An allowance covers only what it names. */
START_TEST(allowance_is_narrow)
{
	struct clr_err e = {0};

	allow("10.20.0.0/16, fd00::/8 ,.corp.internal");
	ck_assert_int_eq(clr_redirect_uri_check("https://10.20.3.4/cb", "u", &e), CLR_OK);
	ck_assert_int_eq(clr_redirect_uri_check("https://10.21.0.1/cb", "u", &e), CLR_ERR_PARAM);
	ck_assert_int_eq(clr_redirect_uri_check("https://[fd00::5]/cb", "u", &e), CLR_OK);
	ck_assert_int_eq(clr_redirect_uri_check("https://[fc00::5]/cb", "u", &e), CLR_ERR_PARAM);
	ck_assert_int_eq(clr_redirect_uri_check("https://[::ffff:10.20.0.1]/cb", "u", &e), CLR_OK);
	ck_assert_int_eq(clr_redirect_uri_check("https://[::ffff:10.21.0.1]/cb", "u", &e),
			 CLR_ERR_PARAM);
	ck_assert_int_eq(clr_redirect_uri_check("https://app.corp.internal/cb", "u", &e), CLR_OK);
	ck_assert_int_eq(clr_redirect_uri_check("https://corp.internal/cb", "u", &e),
			 CLR_ERR_PARAM);
	ck_assert_int_eq(clr_redirect_uri_check("https://metadata.google.internal/", "u", &e),
			 CLR_ERR_PARAM);
	ck_assert_int_eq(clr_redirect_uri_check("https://169.254.169.254/", "u", &e),
			 CLR_ERR_PARAM);
	allow(NULL);
}
END_TEST

START_TEST(bad_allowance_refused)
{
	static const char *const bad[] = {
	    "10.0.0.0/33", "fd00::/129", "10.0.0.0/", "10.0.0.0/x", "10.0.0.0/-1", "a b",
	    ",",	   "10.0.0.1,,", "host/8",    ".",	    "0x0a.0.0.1",  "%41.test",
	};
	struct clr_err e = {0};
	size_t i;

	allow("10.0.0.0/8");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&e, 0, sizeof(e));
		ck_assert_msg(clr_redirect_allow_set(bad[i], &e) == CLR_ERR_PARAM, "took \"%s\"",
			      bad[i]);
		ck_assert(e.msg[0] != '\0');
	}
	/* A refused list leaves the previous allowance in force. */
	ck_assert_int_eq(clr_redirect_uri_check("https://10.1.2.3/", "u", &e), CLR_OK);
	allow("0");
	ck_assert_int_eq(clr_redirect_uri_check("https://10.1.2.3/", "u", &e), CLR_ERR_PARAM);
}
END_TEST

static Suite *redirect_host_suite(void)
{
	Suite *s = suite_create("redirect_host");
	TCase *tc = tcase_create("clr_redirect_uri_check host rule");

	tcase_add_loop_test(tc, non_public_refused, 0, sizeof(refused) / sizeof(refused[0]));
	tcase_add_loop_test(tc, operator_allows, 0, sizeof(refused) / sizeof(refused[0]));
	tcase_add_loop_test(tc, public_accepted, 0, sizeof(accepted) / sizeof(accepted[0]));
	tcase_add_test(tc, refusal_names_the_rule);
	suite_add_tcase(s, tc);
	tc = tcase_create("clr_redirect_allow_set");
	tcase_add_test(tc, allowance_is_narrow);
	tcase_add_test(tc, bad_allowance_refused);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(redirect_host_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
