/*
 * test_jwk.c - JWK import and JWK sets: what we accept, what we refuse and
 * why (libjwt's bad keys, RFC 7520 keys, Wycheproof's broken keys), kid
 * lookup, duplicate kids and the size caps.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clearance/jwk.h"
#include "clearance/util.h"
#include "test_jose_kit.h"

/* ---- algorithm names ------------------------------------------------- */

START_TEST(alg_names)
{
	enum clr_jws_alg a;
	unsigned mask;
	struct clr_err e = {0};
	static const char *const refused[] = {"none",	"HS256",   "HS512", "rs256", "RS256 ",
					      "ES256K", "Ed25519", "",	    "RS2"};

	for (unsigned i = 0; i < CLR_JWS_ALG__MAX; i++) {
		const char *n = clr_jws_alg_name((enum clr_jws_alg)i);

		ck_assert_ptr_nonnull(n);
		ck_assert_int_eq(clr_jws_alg_parse(n, strlen(n), &a), CLR_OK);
		ck_assert_int_eq(a, (int)i);
	}
	ck_assert_ptr_null(clr_jws_alg_name(CLR_JWS_ALG__MAX));
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		ck_assert_int_eq(clr_jws_alg_parse(refused[i], strlen(refused[i]), &a),
				 CLR_ERR_NOTFOUND);
	/* The length bounds the name: "RS256" followed by junk is not RS256. */
	ck_assert_int_eq(clr_jws_alg_parse("RS256x", 5, &a), CLR_OK);
	ck_assert_int_eq(clr_jws_alg_parse("RS256x", 6, &a), CLR_ERR_NOTFOUND);

	ck_assert_int_eq(clr_jws_alg_mask_parse("RS256, ES256 EdDSA", &mask, &e), CLR_OK);
	ck_assert_uint_eq(mask, CLR_JWS_ALG_BIT(CLR_JWS_RS256) | CLR_JWS_ALG_BIT(CLR_JWS_ES256) |
				    CLR_JWS_ALG_BIT(CLR_JWS_EDDSA));
	ck_assert_int_eq(clr_jws_alg_mask_parse("RS256,HS256", &mask, &e), CLR_ERR_PARAM);
	ck_assert_ptr_nonnull(strstr(e.msg, "HS256"));
	ck_assert_int_eq(clr_jws_alg_mask_parse("none", &mask, &e), CLR_ERR_PARAM);
	ck_assert_int_eq(clr_jws_alg_mask_parse(" , ", &mask, &e), CLR_ERR_PARAM);
	ck_assert_uint_eq(mask, 0);
}
END_TEST

/* ---- single keys from files ------------------------------------------ */

struct file_key {
	const char *file;
	const char *why; /* NULL: accepted; else a substring of the refusal */
	unsigned algs;	 /* when accepted: exactly these */
};

#define RSA_ALL                                                                                    \
	(CLR_JWS_ALG_BIT(CLR_JWS_RS256) | CLR_JWS_ALG_BIT(CLR_JWS_RS384) |                         \
	 CLR_JWS_ALG_BIT(CLR_JWS_RS512) | CLR_JWS_ALG_BIT(CLR_JWS_PS256) |                         \
	 CLR_JWS_ALG_BIT(CLR_JWS_PS384) | CLR_JWS_ALG_BIT(CLR_JWS_PS512))

static const struct file_key file_keys[] = {
    {"jose-cookbook/jwk/3_1.ec_public_key.json", NULL, CLR_JWS_ALG_BIT(CLR_JWS_ES512)},
    {"jose-cookbook/jwk/3_2.ec_private_key.json", "private", 0},
    {"jose-cookbook/jwk/3_3.rsa_public_key.json", NULL, RSA_ALL},
    {"jose-cookbook/jwk/3_4.rsa_private_key.json", "private", 0},
    {"jose-cookbook/jwk/3_5.symmetric_key_mac_computation.json", "symmetric", 0},
    {"jose-cookbook/jwk/3_6.symmetric_key_encryption.json", "symmetric", 0},
    {"libjwt-keys/rsa_key_1024.json", "private", 0},
    {"libjwt-keys/jwks_test-1.json", "private", 0},
    {"libjwt-keys/jwks_test-2.json", "private", 0},
};

START_TEST(file_key)
{
	const struct file_key *fk = &file_keys[_i];
	struct clr_jwk *k = NULL;
	struct clr_err e = {0};
	size_t len;
	char *json;
	enum clr_rc rc;

	if (!kit_have_data(fk->file))
		return;
	json = kit_read(fk->file, &len);
	ck_assert_ptr_nonnull(json);
	rc = clr_jwk_parse_one(json, len, &k, &e);
	if (fk->why == NULL) {
		ck_assert_msg(rc == CLR_OK, "%s refused: %s", fk->file, e.msg);
		ck_assert_uint_eq(clr_jwk_algs(k), fk->algs);
	} else {
		ck_assert_int_eq(rc, CLR_ERR_PARAM);
		ck_assert_ptr_null(k);
		ck_assert_msg(strstr(e.msg, fk->why) != NULL, "%s: reason \"%s\"", fk->file, e.msg);
	}
	clr_jwk_free(k);
	free(json);
}
END_TEST

/* libjwt's rsa_key_1024 without its private half is still refused: too small. */
START_TEST(rsa_1024_public_refused)
{
	json_t *j;
	char *s;
	struct clr_jwk *k = NULL;
	struct clr_err e = {0};
	static const char *const priv[] = {"d", "p", "q", "dp", "dq", "qi"};

	if (!kit_have_data("libjwt-keys"))
		return;
	j = kit_load_json("libjwt-keys/rsa_key_1024.json");
	ck_assert_ptr_nonnull(j);
	for (size_t i = 0; i < 6; i++)
		json_object_del(j, priv[i]);
	s = json_dumps(j, JSON_COMPACT);
	ck_assert_int_eq(clr_jwk_parse_one(s, strlen(s), &k, &e), CLR_ERR_PARAM);
	ck_assert_ptr_nonnull(strstr(e.msg, "1024 bits"));
	free(s);
	json_decref(j);
}
END_TEST

/* ---- sets from files -------------------------------------------------- */

struct file_set {
	const char *file;
	size_t usable;	 /* keys accepted */
	const char *why; /* when usable == 0: substring of the first refusal */
};

static const struct file_set file_sets[] = {
    {"libjwt-keys/bad_keys.json", 0, "symmetric"},
    /*
     * 9 public keys we can use; its P-521 key has 65-byte coordinates (a
     * stripped leading zero, refused by RFC 7518 s.6.2.1.2), and Ed448,
     * secp256k1, oct and private ones are refused.
     */
    {"libjwt-keys/jwks_keyring.json", 9, NULL},
    {"libjwt-keys/eddsa_key_ed25519_pub_fake_es256.json", 1, NULL},
    {"libjwt-keys/oct_key_128_too_small.json", 0, "symmetric"},
    {"libjwt-keys/oct_key_256_invalid_base64.json", 0, "symmetric"},
    {"libjwt-keys/rsa_key_2048_pub_alg_hs256.json", 0, "unsupported alg"},
    {"libjwt-keys/rsa_key_i37_pub.json", 1, NULL},
};

START_TEST(file_set)
{
	const struct file_set *fs = &file_sets[_i];
	struct clr_jwks *ks = NULL;
	struct clr_err e = {0};
	size_t len, total, idx;
	char *json;
	json_t *doc;
	const char *kid, *why;

	if (!kit_have_data(fs->file))
		return;
	json = kit_read(fs->file, &len);
	doc = kit_load_json(fs->file);
	ck_assert_ptr_nonnull(json);
	ck_assert_ptr_nonnull(doc);
	total = json_array_size(json_object_get(doc, "keys"));
	ck_assert_uint_gt(total, 0);

	/* The strict parse refuses a set without a usable key. */
	ck_assert_int_eq(clr_jwks_parse(json, len, &ks, &e), fs->usable ? CLR_OK : CLR_ERR_PARAM);
	if (fs->usable == 0) {
		ck_assert_ptr_null(ks);
		ck_assert_ptr_nonnull(strstr(e.msg, "no usable key"));
		ck_assert_msg(strstr(e.msg, fs->why) != NULL, "%s: %s", fs->file, e.msg);
	}
	clr_jwks_free(ks);

	/* The admin view sees every refusal with a reason. */
	ck_assert_int_eq(clr_jwks_parse_ex(json, len, CLR_JWKS_ALLOW_EMPTY, &ks, &e), CLR_OK);
	ck_assert_uint_eq(clr_jwks_count(ks), fs->usable);
	ck_assert_uint_eq(clr_jwks_skipped_count(ks), total - fs->usable);
	for (size_t i = 0; i < clr_jwks_skipped_count(ks); i++) {
		ck_assert_int_eq(clr_jwks_skipped(ks, i, &idx, &kid, &why), CLR_OK);
		ck_assert_uint_lt(idx, total);
		ck_assert_ptr_nonnull(kid);
		ck_assert_uint_gt(strlen(why), 0);
		printf("%s[%zu] \"%s\": %s\n", fs->file, idx, kid, why);
	}
	ck_assert_int_eq(clr_jwks_skipped(ks, total, &idx, &kid, &why), CLR_ERR_NOTFOUND);
	for (size_t i = 0; i < clr_jwks_count(ks); i++)
		ck_assert_ptr_nonnull(clr_jwks_key(ks, i));
	clr_jwks_free(ks);
	json_decref(doc);
	free(json);
}
END_TEST

/* The key mislabelled "alg": "HS256" must never serve RS256, even by kid. */
START_TEST(rsa_alg_hs256_not_for_rs256)
{
	json_t *doc, *key;
	struct clr_jwks *ks;
	struct clr_err e = {0};
	char *s;

	if (!kit_have_data("libjwt-keys"))
		return;
	doc = kit_load_json("libjwt-keys/rsa_key_2048_pub_alg_hs256.json");
	ck_assert_ptr_nonnull(doc);
	key = json_array_get(json_object_get(doc, "keys"), 0);
	s = json_dumps(doc, JSON_COMPACT);
	ck_assert_int_eq(clr_jwks_parse_ex(s, strlen(s), CLR_JWKS_ALLOW_EMPTY, &ks, &e), CLR_OK);
	ck_assert_ptr_null(clr_jwks_find(ks, "rsa-mislabeled-hs256", 20, CLR_JWS_RS256));
	clr_jwks_free(ks);
	free(s);
	/* Control: the same key with "alg" RS256 is fine, so the alg is the reason. */
	json_object_set_new(key, "alg", json_string("RS256"));
	s = json_dumps(doc, JSON_COMPACT);
	ck_assert_int_eq(clr_jwks_parse(s, strlen(s), &ks, &e), CLR_OK);
	ck_assert_ptr_nonnull(clr_jwks_find(ks, "rsa-mislabeled-hs256", 20, CLR_JWS_RS256));
	ck_assert_ptr_null(clr_jwks_find(ks, "rsa-mislabeled-hs256", 20, CLR_JWS_PS256));
	clr_jwks_free(ks);
	free(s);
	json_decref(doc);
}
END_TEST

/* The Ed25519 key that claims nothing cannot be used for ES256. */
START_TEST(ed25519_not_es256)
{
	char *json;
	size_t len;
	struct clr_jwks *ks;
	struct clr_err e = {0};
	const char *kid = "bf160513-a400-4bc9-ba52-bc90c5e55f60";

	if (!kit_have_data("libjwt-keys"))
		return;
	json = kit_read("libjwt-keys/eddsa_key_ed25519_pub_fake_es256.json", &len);
	ck_assert_int_eq(clr_jwks_parse(json, len, &ks, &e), CLR_OK);
	ck_assert_uint_eq(clr_jwk_algs(clr_jwks_key(ks, 0)), CLR_JWS_ALG_BIT(CLR_JWS_EDDSA));
	ck_assert_ptr_null(clr_jwks_find(ks, kid, strlen(kid), CLR_JWS_ES256));
	ck_assert_ptr_nonnull(clr_jwks_find(ks, kid, strlen(kid), CLR_JWS_EDDSA));
	clr_jwks_free(ks);
	free(json);
}
END_TEST

/* ---- Wycheproof's deliberately broken keys ---------------------------- */

static const struct {
	const char *group;
	const char *why;
} wp_bad_keys[] = {
    {"jws_rsa_roca_key", "ROCA"},
    {"keysize_too_small", "1024 bits"},
    {"exponentOne", "exponent"},
    {"invalid_point", "not on the curve"},
    {"wrong_curve", "EC coordinates"},
    {"wrong_kty", "\"n\""},
    {"invalid_use", "use"},
    {"wrong_algorithm", "unsupported alg"},
};

START_TEST(wycheproof_bad_key)
{
	const char *f = "wycheproof/json_web_key_test.json";
	json_t *doc, *g;
	size_t gi, seen = 0;

	if (!kit_have_data(f))
		return;
	doc = kit_load_json(f);
	ck_assert_ptr_nonnull(doc);
	json_array_foreach(json_object_get(doc, "testGroups"), gi, g)
	{
		json_t *pub = json_object_get(g, "public");
		char *s;
		struct clr_jwks *ks = NULL;
		struct clr_err e = {0};

		if (strcmp(json_string_value(json_object_get(g, "comment")),
			   wp_bad_keys[_i].group) != 0)
			continue;
		ck_assert_ptr_nonnull(pub);
		s = json_dumps(pub, JSON_COMPACT);
		ck_assert_int_eq(clr_jwks_parse(s, strlen(s), &ks, &e), CLR_ERR_PARAM);
		ck_assert_msg(strstr(e.msg, wp_bad_keys[_i].why) != NULL, "%s: %s",
			      wp_bad_keys[_i].group, e.msg);
		free(s);
		seen++;
	}
	ck_assert_uint_gt(seen, 0);
	json_decref(doc);
}
END_TEST

/* ---- generated keys: lookup rules and caps ---------------------------- */

static EVP_PKEY *ec1, *ec2, *rsa;

static void keys_setup(void)
{
	ec1 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	ec2 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	ck_assert(ec1 && ec2 && rsa);
}

static void keys_teardown(void)
{
	EVP_PKEY_free(ec1);
	EVP_PKEY_free(ec2);
	EVP_PKEY_free(rsa);
}

static char *set_text(json_t *keys_array)
{
	json_t *set = json_pack("{s:o}", "keys", keys_array);
	char *s = json_dumps(set, JSON_COMPACT);

	json_decref(set);
	return s;
}

START_TEST(kid_lookup_exact)
{
	json_t *a = kit_jwk_json(ec1, NULL, NULL), *b = kit_jwk_json(ec2, NULL, NULL);
	struct clr_jwks *ks;
	struct clr_err e = {0};
	size_t klen;
	char *s;

	/* kids that differ only after an embedded NUL, and a path-like kid */
	json_object_set_new(a, "kid", json_stringn("k\0one", 5));
	json_object_set_new(b, "kid", json_string("../../etc/passwd"));
	s = set_text(json_pack("[o,o]", a, b));
	ck_assert_int_eq(clr_jwks_parse(s, strlen(s), &ks, &e), CLR_OK);
	ck_assert_uint_eq(clr_jwks_count(ks), 2);
	ck_assert_ptr_eq(clr_jwks_find(ks, "k\0one", 5, CLR_JWS_ES256), clr_jwks_key(ks, 0));
	ck_assert_ptr_null(clr_jwks_find(ks, "k", 1, CLR_JWS_ES256));
	ck_assert_ptr_null(clr_jwks_find(ks, "k\0on", 4, CLR_JWS_ES256));
	ck_assert_ptr_eq(clr_jwks_find(ks, "../../etc/passwd", 16, CLR_JWS_ES256),
			 clr_jwks_key(ks, 1));
	ck_assert_ptr_null(clr_jwks_find(ks, "../../etc/passwd", 16, CLR_JWS_ES384));
	ck_assert_mem_eq(clr_jwks_kid(ks, 0, &klen), "k\0one", 5);
	ck_assert_uint_eq(klen, 5);
	/* Without a kid, two ES256 keys are ambiguous. */
	ck_assert_ptr_null(clr_jwks_find(ks, NULL, 0, CLR_JWS_ES256));
	clr_jwks_free(ks);
	free(s);
}
END_TEST

START_TEST(no_kid_single_key)
{
	char *s = set_text(
	    json_pack("[o,o]", kit_jwk_json(ec1, NULL, NULL), kit_jwk_json(rsa, NULL, NULL)));
	struct clr_jwks *ks;
	struct clr_err e = {0};

	ck_assert_int_eq(clr_jwks_parse(s, strlen(s), &ks, &e), CLR_OK);
	ck_assert_ptr_eq(clr_jwks_find(ks, NULL, 0, CLR_JWS_ES256), clr_jwks_key(ks, 0));
	ck_assert_ptr_eq(clr_jwks_find(ks, NULL, 0, CLR_JWS_PS512), clr_jwks_key(ks, 1));
	ck_assert_ptr_null(clr_jwks_find(ks, NULL, 0, CLR_JWS_EDDSA));
	ck_assert_ptr_null(
	    clr_jwks_find(ks, "x", 1, CLR_JWS_ES256)); /* kid given, keys have none */
	clr_jwks_free(ks);
	free(s);
}
END_TEST

START_TEST(duplicate_kid_skipped)
{
	char *s =
	    set_text(json_pack("[o,o,o]", kit_jwk_json(ec1, "same", NULL),
			       kit_jwk_json(ec2, "same", NULL), kit_jwk_json(rsa, "same", NULL)));
	struct clr_jwks *ks;
	struct clr_err e = {0};
	size_t idx;
	const char *kid, *why;

	ck_assert_int_eq(clr_jwks_parse(s, strlen(s), &ks, &e), CLR_OK);
	/* the second EC key clashes; the RSA key has the same kid but other algs */
	ck_assert_uint_eq(clr_jwks_count(ks), 2);
	ck_assert_int_eq(clr_jwks_skipped(ks, 0, &idx, &kid, &why), CLR_OK);
	ck_assert_uint_eq(idx, 1);
	ck_assert_str_eq(kid, "same");
	ck_assert_str_eq(why, "duplicate kid");
	ck_assert_ptr_eq(clr_jwks_find(ks, "same", 4, CLR_JWS_ES256), clr_jwks_key(ks, 0));
	ck_assert_ptr_eq(clr_jwks_find(ks, "same", 4, CLR_JWS_RS256), clr_jwks_key(ks, 1));
	clr_jwks_free(ks);
	free(s);
}
END_TEST

/* Members a usable key may or may not carry. */
static const struct {
	const char *member;
	const char *json_value;
	int ok;
} member_cases[] = {
    {"use", "\"sig\"", 1},
    {"use", "\"enc\"", 0},
    {"use", "1", 0},
    {"key_ops", "[\"verify\"]", 1},
    {"key_ops", "[\"sign\"]", 0},
    {"key_ops", "[\"verify\",2]", 0},
    {"key_ops", "\"verify\"", 0},
    {"alg", "\"ES256\"", 1},
    {"alg", "\"ES384\"", 0},
    {"alg", "\"HS256\"", 0},
    {"alg", "\"none\"", 0},
    {"kid", "7", 0},
    {"d", "\"AAAA\"", 0},
    {"crv", "\"P-384\"", 0},
    {"crv", "\"secp256k1\"", 0},
    {"x", "\"AAAA\"", 0},
    {"x", "\"\"", 0},
    {"x", "\"AAAA====\"", 0},
    {"kty", "\"OKP\"", 0},
    {"x5c", "[\"MIIB\"]", 1},
    {"kty", "\"oct\"", 0},
    {"kty", "\"EC\\u0000\"", 0},
    {"crv", "\"P-256\\u0000\"", 0},
    {"use", "\"sig\\u0000x\"", 0},
};

START_TEST(key_members)
{
	json_t *jwk = kit_jwk_json(ec1, "k1", NULL), *v;
	json_error_t jerr;
	struct clr_jwk *k;
	struct clr_err e = {0};

	v = json_loads(member_cases[_i].json_value, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
	ck_assert_ptr_nonnull(v);
	json_object_set_new(jwk, member_cases[_i].member, v);
	k = kit_jwk_parse(jwk, &e);
	ck_assert_msg((k != NULL) == member_cases[_i].ok, "%s=%s: %s", member_cases[_i].member,
		      member_cases[_i].json_value, k ? "accepted" : e.msg);
	clr_jwk_free(k);
	json_decref(jwk);
}
END_TEST

START_TEST(set_caps)
{
	struct clr_jwks *ks;
	struct clr_err e = {0};
	json_t *arr = json_array(), *one = kit_jwk_json(ec1, NULL, NULL);
	char *s, *big;
	const char *dup = "{\"keys\":[],\"keys\":[]}";

	/* more than CLR_JWKS_MAX_KEYS entries */
	for (unsigned i = 0; i <= CLR_JWKS_MAX_KEYS; i++)
		json_array_append(arr, one);
	s = set_text(arr);
	ck_assert_int_eq(clr_jwks_parse(s, strlen(s), &ks, &e), CLR_ERR_PARAM);
	ck_assert_ptr_nonnull(strstr(e.msg, "more than"));
	free(s);
	/* over the byte cap, checked before parsing */
	big = malloc(CLR_JWKS_MAX_BYTES + 2);
	memset(big, ' ', CLR_JWKS_MAX_BYTES + 1);
	memcpy(big, "{\"keys\":[]}", 11);
	ck_assert_int_eq(clr_jwks_parse(big, CLR_JWKS_MAX_BYTES + 1, &ks, &e), CLR_ERR_PARAM);
	ck_assert_ptr_nonnull(strstr(e.msg, "larger"));
	free(big);
	ck_assert_int_eq(clr_jwks_parse(dup, strlen(dup), &ks, &e), CLR_ERR_PARAM);
	ck_assert_int_eq(clr_jwks_parse("[]", 2, &ks, &e), CLR_ERR_PARAM);
	ck_assert_int_eq(clr_jwks_parse("{\"keys\":{}}", 11, &ks, &e), CLR_ERR_PARAM);
	ck_assert_int_eq(clr_jwks_parse("{\"keys\":[]}", 11, &ks, &e), CLR_ERR_PARAM);
	ck_assert_ptr_nonnull(strstr(e.msg, "empty"));
	ck_assert_int_eq(clr_jwks_parse("{\"keys\":[", 9, &ks, &e), CLR_ERR_PARAM);
	ck_assert_ptr_null(ks);
	json_decref(one);
	clr_jwks_free(NULL);
	clr_jwk_free(NULL);
}
END_TEST

/* clr_jwk_verify refuses algorithms outside the key's pin and bad lengths. */
START_TEST(verify_pins)
{
	struct clr_err e = {0};
	json_t *jr = kit_jwk_json(rsa, NULL, "PS256"), *je = kit_jwk_json(ec1, NULL, NULL);
	struct clr_jwk *kr = kit_jwk_parse(jr, &e), *ke = kit_jwk_parse(je, &e);
	const char *msg = "hello";
	size_t rl, el;
	unsigned char *rs = kit_sign(rsa, "PS256", msg, 5, &rl);
	unsigned char *es = kit_sign(ec1, "ES256", msg, 5, &el);
	unsigned char *rs1 = kit_sign(rsa, "RS256", msg, 5, &rl);

	ck_assert(kr && ke && rs && es && rs1);
	ck_assert_int_eq(clr_jwk_verify(kr, CLR_JWS_PS256, msg, 5, rs, rl), CLR_OK);
	ck_assert_int_eq(clr_jwk_verify(kr, CLR_JWS_PS384, msg, 5, rs, rl), CLR_ERR_DENIED);
	/* pinned to PS256, a valid RS256 signature by the same key is refused */
	ck_assert_int_eq(clr_jwk_verify(kr, CLR_JWS_RS256, msg, 5, rs1, rl), CLR_ERR_DENIED);
	ck_assert_int_eq(clr_jwk_verify(kr, CLR_JWS_PS256, msg, 4, rs, rl), CLR_ERR_DENIED);
	ck_assert_int_eq(clr_jwk_verify(ke, CLR_JWS_ES256, msg, 5, es, el), CLR_OK);
	ck_assert_int_eq(clr_jwk_verify(ke, CLR_JWS_ES256, msg, 5, es, el - 1), CLR_ERR_DENIED);
	{
		/* trailing bytes after a valid r||s are not ignored */
		unsigned char longer[600];

		ck_assert_uint_lt(rl, sizeof(longer) - 1);
		memcpy(longer, es, el);
		longer[el] = 0;
		ck_assert_int_eq(clr_jwk_verify(ke, CLR_JWS_ES256, msg, 5, longer, el + 1),
				 CLR_ERR_DENIED);
		memcpy(longer + 1, rs, rl);
		longer[0] = 0; /* a leading zero byte on the RSA signature */
		ck_assert_int_eq(clr_jwk_verify(kr, CLR_JWS_PS256, msg, 5, longer, rl + 1),
				 CLR_ERR_DENIED);
		ck_assert_int_eq(clr_jwk_verify(kr, CLR_JWS_PS256, msg, 5, longer + 1, rl), CLR_OK);
	}
	ck_assert_int_eq(clr_jwk_verify(ke, CLR_JWS_ES384, msg, 5, es, el), CLR_ERR_DENIED);
	ck_assert_int_eq(clr_jwk_verify(ke, CLR_JWS_ALG__MAX, msg, 5, es, el), CLR_ERR_DENIED);
	ck_assert_int_eq(clr_jwk_verify(NULL, CLR_JWS_ES256, msg, 5, es, el), CLR_ERR_DENIED);
	es[10] ^= 1;
	ck_assert_int_eq(clr_jwk_verify(ke, CLR_JWS_ES256, msg, 5, es, el), CLR_ERR_DENIED);
	free(rs);
	free(rs1);
	free(es);
	clr_jwk_free(kr);
	clr_jwk_free(ke);
	json_decref(jr);
	json_decref(je);
}
END_TEST

/* ---- strictness (issue 8) ---------------------------------------------- */

/* {"kty":"OKP","crv":"Ed25519","x":<x>} parsed alone; rc of clr_jwk_parse_one. */
static enum clr_rc okp_rc(const unsigned char x[32], char *why)
{
	json_t *o = json_object();
	struct clr_jwk *k = NULL;
	struct clr_err e = {0};
	enum clr_rc rc;
	char *s;

	json_object_set_new(o, "kty", json_string("OKP"));
	json_object_set_new(o, "crv", json_string("Ed25519"));
	kit_set_b64(o, "x", x, 32);
	s = json_dumps(o, JSON_COMPACT);
	rc = clr_jwk_parse_one(s, strlen(s), &k, &e);
	snprintf(why, 240, "%s", e.msg);
	clr_jwk_free(k);
	free(s);
	json_decref(o);
	return rc;
}

/*
 * Every small-order Ed25519 encoding (y = 0, 1, p-1, p, p+1 and the two
 * points of order 8), with either sign bit: with such a key, R = that point
 * and S = 0 "verify" any message.  The identity is "AQAAAA...".
 */
START_TEST(ed25519_small_order_refused)
{
	static const unsigned char order8[2][32] = {
	    {0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4,
	     0x89, 0xf2, 0xef, 0x98, 0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6,
	     0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x05},
	    {0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b,
	     0x76, 0x0d, 0x10, 0x67, 0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39,
	     0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a},
	};
	unsigned char x[32], raw[32];
	size_t n = sizeof(raw);
	char why[240];
	EVP_PKEY *good;

	for (int sign = 0; sign < 2; sign++) {
		for (int v = 0; v < 7; v++) {
			memset(x, 0, sizeof(x));
			if (v < 2) {
				x[0] = (unsigned char)v; /* y = 0, 1 */
			} else if (v < 5) {
				memset(x, 0xff, sizeof(x)); /* y = p-1, p, p+1 */
				x[0] = (unsigned char)(0xec + (v - 2));
				x[31] = 0x7f;
			} else {
				memcpy(x, order8[v - 5], 32);
			}
			x[31] |= (unsigned char)(sign << 7);
			ck_assert_int_eq(okp_rc(x, why), CLR_ERR_PARAM);
			ck_assert_msg(strstr(why, "small-order") != NULL, "case %d/%d: %s", v, sign,
				      why);
		}
	}
	/* a real key still imports */
	good = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	ck_assert_ptr_nonnull(good);
	ck_assert_int_eq(EVP_PKEY_get_raw_public_key(good, raw, &n), 1);
	ck_assert_int_eq(okp_rc(raw, why), CLR_OK);
	EVP_PKEY_free(good);
}
END_TEST

/* RFC 7518 s.6.2.1.2: a P-256 x of 31 bytes (a leading zero dropped) is refused. */
START_TEST(ec_coordinate_exact_length)
{
	json_t *o = kit_jwk_json(ec1, "short", NULL);
	unsigned char *x = NULL;
	size_t xlen = 0;
	struct clr_jwk *k = NULL;
	struct clr_err e = {0};
	char *s;

	ck_assert_int_eq(clr_b64url_decode(json_string_value(json_object_get(o, "x")),
					   json_string_length(json_object_get(o, "x")), &x, &xlen),
			 CLR_OK);
	ck_assert_uint_eq(xlen, 32);
	s = json_dumps(o, JSON_COMPACT);
	ck_assert_int_eq(clr_jwk_parse_one(s, strlen(s), &k, &e), CLR_OK);
	clr_jwk_free(k);
	free(s);
	kit_set_b64(o, "x", x + 1, 31);
	s = json_dumps(o, JSON_COMPACT);
	ck_assert_int_eq(clr_jwk_parse_one(s, strlen(s), &k, &e), CLR_ERR_PARAM);
	ck_assert_ptr_nonnull(strstr(e.msg, "EC coordinates are not 32 bytes"));
	free(s);
	kit_set_b64(o, "x", x, 32);
	kit_set_b64(o, "y", x, 31);
	s = json_dumps(o, JSON_COMPACT);
	ck_assert_int_eq(clr_jwk_parse_one(s, strlen(s), &k, &e), CLR_ERR_PARAM);
	free(s);
	free(x);
	json_decref(o);
}
END_TEST

/* CLR_JWKS_STRICT: private members or a repeated kid refuse the whole set. */
START_TEST(strict_set_refused_whole)
{
	json_t *priv = kit_jwk_json(ec2, "p", NULL);
	char *s;
	struct clr_jwks *ks = NULL;
	struct clr_err e = {0};

	json_object_set_new(priv, "d", json_string("AAAA"));
	s = set_text(json_pack("[o,o]", kit_jwk_json(ec1, "a", NULL), priv));
	/* lenient: the bad key is skipped and the other used */
	ck_assert_int_eq(clr_jwks_parse(s, strlen(s), &ks, &e), CLR_OK);
	ck_assert_uint_eq(clr_jwks_count(ks), 1);
	clr_jwks_free(ks);
	ks = NULL;
	ck_assert_int_eq(clr_jwks_parse_ex(s, strlen(s), CLR_JWKS_STRICT, &ks, &e), CLR_ERR_PARAM);
	ck_assert_ptr_null(ks);
	ck_assert_ptr_nonnull(strstr(e.msg, "private key material"));
	free(s);
	for (int i = 0; i < 3; i++) {
		static const char *const m[] = {"k", "p", "qi"};
		json_t *o = kit_jwk_json(rsa, "r", NULL);
		json_object_set_new(o, m[i], json_string("AAAA"));
		s = set_text(json_pack("[o]", o));
		ck_assert_int_eq(clr_jwks_parse_ex(s, strlen(s), CLR_JWKS_STRICT, &ks, &e),
				 CLR_ERR_PARAM);
		free(s);
	}
	/* the same kid twice, even for keys of other algorithms */
	s = set_text(
	    json_pack("[o,o]", kit_jwk_json(ec1, "same", NULL), kit_jwk_json(rsa, "same", NULL)));
	ck_assert_int_eq(clr_jwks_parse_ex(s, strlen(s), CLR_JWKS_STRICT, &ks, &e), CLR_ERR_PARAM);
	ck_assert_ptr_nonnull(strstr(e.msg, "share a kid"));
	free(s);
	/* a clean set passes */
	s = set_text(
	    json_pack("[o,o]", kit_jwk_json(ec1, "a", NULL), kit_jwk_json(rsa, "b", NULL)));
	ck_assert_int_eq(clr_jwks_parse_ex(s, strlen(s), CLR_JWKS_STRICT, &ks, &e), CLR_OK);
	ck_assert_uint_eq(clr_jwks_count(ks), 2);
	clr_jwks_free(ks);
	free(s);
}
END_TEST

static Suite *jwk_suite(void)
{
	Suite *s = suite_create("jwk");
	TCase *tc;

	tc = tcase_create("clr_jws_alg_parse");
	tcase_add_test(tc, alg_names);
	suite_add_tcase(s, tc);

	tc = tcase_create("clr_jwk_parse_one");
	tcase_add_loop_test(tc, file_key, 0, (int)(sizeof(file_keys) / sizeof(file_keys[0])));
	tcase_add_test(tc, rsa_1024_public_refused);
	tcase_add_loop_test(tc, wycheproof_bad_key, 0,
			    (int)(sizeof(wp_bad_keys) / sizeof(wp_bad_keys[0])));
	suite_add_tcase(s, tc);

	tc = tcase_create("clr_jwks_parse");
	tcase_add_loop_test(tc, file_set, 0, (int)(sizeof(file_sets) / sizeof(file_sets[0])));
	tcase_add_test(tc, rsa_alg_hs256_not_for_rs256);
	tcase_add_test(tc, ed25519_not_es256);
	suite_add_tcase(s, tc);

	tc = tcase_create("generated");
	tcase_set_timeout(tc, 30);
	tcase_add_unchecked_fixture(tc, keys_setup, keys_teardown);
	tcase_add_test(tc, kid_lookup_exact);
	tcase_add_test(tc, no_kid_single_key);
	tcase_add_test(tc, duplicate_kid_skipped);
	tcase_add_loop_test(tc, key_members, 0,
			    (int)(sizeof(member_cases) / sizeof(member_cases[0])));
	tcase_add_test(tc, set_caps);
	tcase_add_test(tc, verify_pins);
	tcase_add_test(tc, ed25519_small_order_refused);
	tcase_add_test(tc, ec_coordinate_exact_length);
	tcase_add_test(tc, strict_set_refused_whole);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(jwk_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
