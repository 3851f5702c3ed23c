/* Unit tests for flt/dsse.h: PAE, sign/serialise/parse/verify round trip, every
 * flipped bit and every truncation of a small envelope, the threshold of
 * DISTINCT trusted keys, unknown signers ignored, and strict parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "flt/alloc.h"
#include "flt/dsse.h"
#include "flt/config.h"

/* Exhaustive bit loops run ECDSA verifications by the thousand: instant on the
 * build host, minutes under qemu. Cross builds sample every few bits; native
 * and ASan runs cover every bit. */
static size_t bit_stride(size_t native)
{
	return strcmp(FLT_ARCH, "x86_64") == 0 ? native : native * 7;
}

#define TYPE "application/vnd.flotilla.test+json"

static flt_key *keys[4]; /* a, b trusted; c, d not */
static flt_rng *rng;

static int setup(void **state)
{
	(void)state;
	if (flt_rng_new("dsse-test", &rng) != FLT_OK)
		return -1;
	for (int i = 0; i < 4; i++)
		if (flt_key_generate(rng, &keys[i]) != FLT_OK)
			return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (int i = 0; i < 4; i++)
		flt_key_free(keys[i]);
	flt_rng_free(rng);
	return 0;
}

static struct flt_trust_set trust(unsigned threshold, size_t n, const flt_key *const *k)
{
	struct flt_trust_set ts = {.threshold = threshold, .nkeys = n};
	for (size_t i = 0; i < n; i++)
		ts.keys[i] = k[i];
	return ts;
}

static flt_dsse *sign(const char *payload, size_t nk, const flt_key *const *k)
{
	flt_dsse *env = NULL;
	assert_int_equal(
	    flt_dsse_sign(TYPE, (const uint8_t *)payload, strlen(payload), k, nk, rng, &env),
	    FLT_OK);
	return env;
}

static char *serialize(const flt_dsse *env, size_t *len)
{
	char *s = NULL;
	assert_int_equal(flt_dsse_serialize(env, &s, len), FLT_OK);
	return s;
}

static void test_pae(void **state)
{
	(void)state;
	/* The example from the DSSE specification. */
	uint8_t *pae = NULL, h1[32], h2[32];
	size_t n = 0;
	const char *exp = "DSSEv1 29 http://example.com/HelloWorld 11 hello world";
	assert_int_equal(flt_dsse_pae("http://example.com/HelloWorld",
	                              (const uint8_t *)"hello world", 11, &pae, &n),
	                 FLT_OK);
	assert_int_equal(n, strlen(exp));
	assert_memory_equal(pae, exp, n);
	assert_int_equal(flt_sha256(pae, n, h1), FLT_OK);
	assert_int_equal(flt_dsse_pae_hash("http://example.com/HelloWorld",
	                                   (const uint8_t *)"hello world", 11, h2),
	                 FLT_OK);
	assert_memory_equal(h1, h2, 32);
	flt_free(pae);
	assert_int_equal(flt_dsse_pae("has space", (const uint8_t *)"x", 1, &pae, &n), FLT_EINVAL);
	assert_int_equal(flt_dsse_pae("", (const uint8_t *)"x", 1, &pae, &n), FLT_EINVAL);
}

static void test_roundtrip(void **state)
{
	(void)state;
	const flt_key *a[] = {keys[0]};
	flt_dsse *env = sign("{\"hello\":1}", 1, a), *back = NULL;
	size_t len = 0;
	char *json = serialize(env, &len);
	struct flt_json_err err;
	assert_int_equal(flt_dsse_parse(json, len, 0, &back, &err), FLT_OK);
	assert_string_equal(back->payload_type, TYPE);
	assert_int_equal(back->payload_len, 11);
	assert_memory_equal(back->payload, "{\"hello\":1}", 11);
	assert_int_equal(back->nsigs, 1);
	assert_string_equal(back->sigs[0].keyid, flt_key_id(keys[0]));

	struct flt_trust_set ts = trust(1, 1, a);
	unsigned nvalid = 99;
	assert_int_equal(flt_dsse_verify(back, TYPE, &ts, &nvalid, NULL), FLT_OK);
	assert_int_equal(nvalid, 1);

	/* Re-serialising the parsed envelope gives the same text. */
	size_t len2 = 0;
	char *json2 = serialize(back, &len2);
	assert_int_equal(len2, len);
	assert_memory_equal(json2, json, len);

	enum flt_reason why = FLT_REASON_NONE;
	assert_int_equal(flt_dsse_verify(back, "application/other", &ts, NULL, &why), FLT_EVERIFY);
	assert_int_equal(why, FLT_REASON_WRONG_PAYLOAD_TYPE);
	ts.threshold = 0;
	assert_int_equal(flt_dsse_verify(back, TYPE, &ts, NULL, NULL), FLT_EINVAL);

	flt_free(json);
	flt_free(json2);
	flt_dsse_free(env);
	flt_dsse_free(back);
}

/* Every single-bit flip of the envelope text either fails to parse or fails
 * to verify: payload, signature, keyid, payloadType and the keys themselves. */
static void test_every_bit_flip_fails(void **state)
{
	(void)state;
	const flt_key *a[] = {keys[0]};
	flt_dsse *env = sign("{\"n\":42}", 1, a);
	size_t len = 0;
	char *json = serialize(env, &len);
	struct flt_trust_set ts = trust(1, 1, a);
	size_t parsed = 0;

	for (size_t bit = 0; bit < len * 8; bit += bit_stride(1)) {
		flt_dsse *x = NULL;
		json[bit / 8] ^= (char)(1u << (bit % 8));
		if (flt_dsse_parse(json, len, 0, &x, NULL) == FLT_OK) {
			parsed++;
			assert_int_equal(flt_dsse_verify(x, TYPE, &ts, NULL, NULL), FLT_EVERIFY);
			flt_dsse_free(x);
		}
		json[bit / 8] ^= (char)(1u << (bit % 8));
	}
	/* The loop did exercise verification, not just the parser. */
	assert_true(parsed > 50 / bit_stride(1));

	/* The same on the decoded struct, bit by bit. */
	for (size_t bit = 0; bit < env->payload_len * 8; bit++) {
		env->payload[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_int_equal(flt_dsse_verify(env, TYPE, &ts, NULL, NULL), FLT_EVERIFY);
		env->payload[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	for (size_t bit = 0; bit < env->sigs[0].sig_len * 8; bit += bit_stride(1)) {
		env->sigs[0].sig[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_int_equal(flt_dsse_verify(env, TYPE, &ts, NULL, NULL), FLT_EVERIFY);
		env->sigs[0].sig[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	for (size_t bit = 0; bit < FLT_KEYID_LEN * 8; bit++) {
		enum flt_reason why = FLT_REASON_NONE;
		env->sigs[0].keyid[bit / 8] ^= (char)(1u << (bit % 8));
		assert_int_equal(flt_dsse_verify(env, TYPE, &ts, NULL, &why), FLT_EVERIFY);
		assert_int_equal(why, FLT_REASON_UNTRUSTED_KEY);
		env->sigs[0].keyid[bit / 8] ^= (char)(1u << (bit % 8));
	}
	assert_int_equal(flt_dsse_verify(env, TYPE, &ts, NULL, NULL), FLT_OK);
	flt_free(json);
	flt_dsse_free(env);
}

static void test_every_truncation_fails(void **state)
{
	(void)state;
	const flt_key *a[] = {keys[0]};
	flt_dsse *env = sign("{}", 1, a);
	size_t len = 0;
	char *json = serialize(env, &len);
	for (size_t n = 0; n < len; n++) {
		/* A heap copy of exactly n bytes, so ASan sees any over-read. */
		char *cut = flt_malloc(n ? n : 1);
		memcpy(cut, json, n);
		flt_dsse *x = NULL;
		assert_int_not_equal(flt_dsse_parse(cut, n, 0, &x, NULL), FLT_OK);
		assert_null(x);
		flt_free(cut);
	}
	flt_free(json);
	flt_dsse_free(env);
}

static void test_threshold_distinct_keys(void **state)
{
	(void)state;
	const flt_key *ab[] = {keys[0], keys[1]};
	struct flt_trust_set ts = trust(2, 2, ab);
	unsigned nvalid = 0;
	enum flt_reason why = FLT_REASON_NONE;

	/* One key signing twice counts once. */
	const flt_key *aa[] = {keys[0], keys[0]};
	flt_dsse *env = sign("payload", 2, aa);
	assert_int_equal(env->nsigs, 2);
	assert_int_equal(flt_dsse_verify(env, TYPE, &ts, &nvalid, &why), FLT_EVERIFY);
	assert_int_equal(nvalid, 1);
	assert_int_equal(why, FLT_REASON_THRESHOLD_UNMET);
	flt_dsse_free(env);

	/* flt_trust_set_add skips a key already present. */
	struct flt_trust_set built = {.threshold = 2};
	assert_int_equal(flt_trust_set_add(&built, keys[0]), FLT_OK);
	assert_int_equal(flt_trust_set_add(&built, keys[0]), FLT_OK);
	assert_int_equal(built.nkeys, 1);
	assert_int_equal(flt_trust_set_add(&built, keys[1]), FLT_OK);
	assert_int_equal(built.nkeys, 2);
	/* Filled up (directly, as the add would refuse duplicates): full. */
	while (built.nkeys < FLT_TRUST_MAX_KEYS)
		built.keys[built.nkeys++] = keys[2];
	assert_int_equal(flt_trust_set_add(&built, keys[2]), FLT_OK); /* present */
	assert_int_equal(flt_trust_set_add(&built, keys[3]), FLT_ELIMIT);

	/* The same key listed twice in the trust set also counts once. */
	struct flt_trust_set twice = trust(2, 2, aa);
	env = sign("payload", 1, aa);
	assert_int_equal(flt_dsse_verify(env, TYPE, &twice, &nvalid, NULL), FLT_EVERIFY);
	assert_int_equal(nvalid, 1);
	flt_dsse_free(env);

	/* Two trusted keys plus an unknown one: the unknown one is ignored. */
	const flt_key *abc[] = {keys[0], keys[2], keys[1]};
	env = sign("payload", 3, abc);
	assert_int_equal(flt_dsse_verify(env, TYPE, &ts, &nvalid, NULL), FLT_OK);
	assert_int_equal(nvalid, 2);
	/* ... even when the unknown signature is garbage. */
	env->sigs[1].sig[10] ^= 0x55;
	assert_int_equal(flt_dsse_verify(env, TYPE, &ts, &nvalid, NULL), FLT_OK);
	/* A broken trusted signature does not count. */
	env->sigs[2].sig[10] ^= 0x55;
	assert_int_equal(flt_dsse_verify(env, TYPE, &ts, &nvalid, &why), FLT_EVERIFY);
	assert_int_equal(nvalid, 1);
	assert_int_equal(why, FLT_REASON_BAD_SIGNATURE);
	/* ... but with threshold 1 the other trusted one suffices. */
	ts.threshold = 1;
	assert_int_equal(flt_dsse_verify(env, TYPE, &ts, &nvalid, NULL), FLT_OK);
	flt_dsse_free(env);

	/* Only untrusted signers. */
	const flt_key *cd[] = {keys[2], keys[3]};
	env = sign("payload", 2, cd);
	assert_int_equal(flt_dsse_verify(env, TYPE, &ts, &nvalid, &why), FLT_EVERIFY);
	assert_int_equal(nvalid, 0);
	assert_int_equal(why, FLT_REASON_UNTRUSTED_KEY);

	/* A signature by c under a's keyid is a bad signature, not a valid one. */
	memcpy(env->sigs[0].keyid, flt_key_id(keys[0]), FLT_KEYID_LEN + 1);
	assert_int_equal(flt_dsse_verify(env, TYPE, &ts, &nvalid, &why), FLT_EVERIFY);
	assert_int_equal(why, FLT_REASON_BAD_SIGNATURE);
	flt_dsse_free(env);
}

static void test_add_signature_limits(void **state)
{
	(void)state;
	flt_dsse *env = NULL;
	flt_key *pub = NULL;
	assert_int_equal(flt_dsse_sign(TYPE, (const uint8_t *)"x", 1, NULL, 0, rng, &env), FLT_OK);
	assert_int_equal(env->nsigs, 0);
	assert_int_equal(flt_key_public_copy(keys[0], &pub), FLT_OK);
	assert_int_equal(flt_dsse_add_signature(env, pub, rng), FLT_EINVAL);
	for (int i = 0; i < FLT_DSSE_MAX_SIGS; i++)
		assert_int_equal(flt_dsse_add_signature(env, keys[i % 4], rng), FLT_OK);
	assert_int_equal(flt_dsse_add_signature(env, keys[0], rng), FLT_ELIMIT);

	/* 16 signatures parse; a 17th is refused at parse. */
	size_t len = 0;
	char *json = NULL;
	assert_int_equal(flt_dsse_serialize(env, &json, &len), FLT_OK);
	flt_dsse *back = NULL;
	assert_int_equal(flt_dsse_parse(json, len, 0, &back, NULL), FLT_OK);
	flt_dsse_free(back);
	back = NULL;
	char *p = strstr(json, "[{");
	assert_non_null(p);
	char *end = strchr(p, '}');
	size_t one = (size_t)(end - p); /* "[{...": the first signature object without '}' */
	char *bigger = flt_malloc(len + one + 2);
	size_t at = (size_t)(p - json) + 1;
	memcpy(bigger, json, at);
	memcpy(bigger + at, p + 1, one); /* "{...}" */
	bigger[at + one] = ',';
	memcpy(bigger + at + one + 1, json + at, len - at);
	struct flt_json_err err;
	assert_int_equal(flt_dsse_parse(bigger, len + one + 1, 0, &back, &err), FLT_ELIMIT);
	assert_null(back);

	/* Empty payload and over-long payloads are refused when signing. */
	assert_int_equal(flt_dsse_sign(TYPE, (const uint8_t *)"", 0, NULL, 0, rng, &back),
	                 FLT_EINVAL);
	assert_int_equal(flt_dsse_sign("bad type", (const uint8_t *)"x", 1, NULL, 0, rng, &back),
	                 FLT_EINVAL);

	flt_free(bigger);
	flt_free(json);
	flt_key_free(pub);
	flt_dsse_free(env);
}

static void expect_parse(const char *json, flt_err want)
{
	flt_dsse *x = NULL;
	struct flt_json_err err = {.reason = FLT_REASON_NONE};
	flt_err got = flt_dsse_parse(json, strlen(json), 64, &x, &err);
	if (got != want)
		fail_msg("%s: got %s want %s (%s)", json, flt_errname(got), flt_errname(want),
		         err.msg);
	if (got == FLT_OK)
		flt_dsse_free(x);
	else
		assert_int_equal(err.reason,
		                 got == FLT_ELIMIT ? FLT_REASON_TOO_LARGE : FLT_REASON_MALFORMED);
}

#define KID "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
/* base64 of a minimal DER signature 30 06 02 01 01 02 01 01 */
#define SIG "MAYCAQECAQE="

static void test_strict_parse(void **state)
{
	(void)state;
	expect_parse("{\"payloadType\":\"t\",\"payload\":\"eA==\",\"signatures\":[{\"keyid\":\"" KID
	             "\",\"sig\":\"" SIG "\"}]}",
	             FLT_OK);
	/* unknown, missing and duplicated keys */
	expect_parse("{\"payloadType\":\"t\",\"payload\":\"eA==\",\"signatures\":[{\"keyid\":\"" KID
	             "\",\"sig\":\"" SIG "\"}],\"x\":1}",
	             FLT_EPARSE);
	expect_parse("{\"payloadType\":\"t\",\"signatures\":[{\"keyid\":\"" KID "\",\"sig\":\"" SIG
	             "\"}]}",
	             FLT_EPARSE);
	expect_parse("{\"payloadType\":\"t\",\"payload\":\"eA==\",\"payload\":\"eA==\","
	             "\"signatures\":[{\"keyid\":\"" KID "\",\"sig\":\"" SIG "\"}]}",
	             FLT_EPARSE);
	expect_parse("{\"payloadType\":\"t\",\"payload\":\"eA==\",\"signatures\":[{\"keyid\":\"" KID
	             "\",\"sig\":\"" SIG "\",\"extra\":0}]}",
	             FLT_EPARSE);
	/* ill-typed */
	expect_parse("{\"payloadType\":1,\"payload\":\"eA==\",\"signatures\":[{\"keyid\":\"" KID
	             "\",\"sig\":\"" SIG "\"}]}",
	             FLT_EPARSE);
	expect_parse("{\"payloadType\":\"t\",\"payload\":\"eA==\",\"signatures\":{}}", FLT_EPARSE);
	expect_parse("{\"payloadType\":\"t\",\"payload\":\"eA==\",\"signatures\":[1]}", FLT_EPARSE);
	expect_parse("[]", FLT_EPARSE);
	/* no signatures, empty payload, bad payloadType */
	expect_parse("{\"payloadType\":\"t\",\"payload\":\"eA==\",\"signatures\":[]}", FLT_EPARSE);
	expect_parse("{\"payloadType\":\"t\",\"payload\":\"\",\"signatures\":[{\"keyid\":\"" KID
	             "\",\"sig\":\"" SIG "\"}]}",
	             FLT_EPARSE);
	expect_parse(
	    "{\"payloadType\":\"a b\",\"payload\":\"eA==\",\"signatures\":[{\"keyid\":\"" KID
	    "\",\"sig\":\"" SIG "\"}]}",
	    FLT_EPARSE);
	expect_parse("{\"payloadType\":\"\",\"payload\":\"eA==\",\"signatures\":[{\"keyid\":\"" KID
	             "\",\"sig\":\"" SIG "\"}]}",
	             FLT_EPARSE);
	/* keyid: uppercase, short; sig: non-canonical base64, too short */
	expect_parse("{\"payloadType\":\"t\",\"payload\":\"eA==\",\"signatures\":[{\"keyid\":"
	             "\"0123456789ABCDEF0123456789"
	             "abcdef0123456789abcdef0123456789abcdef\",\"sig\":\"" SIG "\"}]}",
	             FLT_EPARSE);
	expect_parse("{\"payloadType\":\"t\",\"payload\":\"eA==\",\"signatures\":[{\"keyid\":"
	             "\"abc\",\"sig\":\"" SIG "\"}]}",
	             FLT_EPARSE);
	expect_parse("{\"payloadType\":\"t\",\"payload\":\"eB==\",\"signatures\":[{\"keyid\":\"" KID
	             "\",\"sig\":\"" SIG "\"}]}",
	             FLT_EPARSE);
	expect_parse("{\"payloadType\":\"t\",\"payload\":\"eA==\",\"signatures\":[{\"keyid\":\"" KID
	             "\",\"sig\":\"MAQCAQE=\"}]}",
	             FLT_EPARSE);
	/* payload over the caller's limit (64 bytes here) */
	expect_parse("{\"payloadType\":\"t\",\"payload\":"
	             "\"QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB"
	             "QUFBQUFBQUFBQUFBQUFBQUFBQUFB\",\"signatures\":[{\"keyid\":\"" KID
	             "\",\"sig\":\"" SIG "\"}]}",
	             FLT_ELIMIT);
	/* nesting deeper than an envelope needs */
	expect_parse("{\"payloadType\":\"t\",\"payload\":\"eA==\",\"signatures\":[{\"keyid\":\"" KID
	             "\",\"sig\":[[]]}]}",
	             FLT_ELIMIT);
}

/* Every allocation failure during parse surfaces as FLT_ENOMEM with nothing
 * leaked and no out-param set (ASan checks the leaks). */
static void test_parse_alloc_failures(void **state)
{
	(void)state;
	const flt_key *ab[] = {keys[0], keys[1]};
	flt_dsse *env = sign("{\"alloc\":true}", 2, ab);
	size_t len = 0;
	char *json = NULL;
	assert_int_equal(flt_dsse_serialize(env, &json, &len), FLT_OK);
	long n;
	for (n = 0; n < 1000; n++) {
		flt_dsse *x = NULL;
		flt_alloc_fail_after(n);
		flt_err e = flt_dsse_parse(json, len, 0, &x, NULL);
		flt_alloc_fail_reset();
		if (e == FLT_OK) {
			flt_dsse_free(x);
			break;
		}
		assert_int_equal(e, FLT_ENOMEM);
		assert_null(x);
	}
	assert_true(n > 0 && n < 1000);
	flt_free(json);
	flt_dsse_free(env);
}

/* An envelope made outside Flotilla: PAE built by a Python script and signed
 * with `openssl dgst -sha256 -sign`, keyid from `openssl pkey -pubout -outform
 * DER | sha256sum`. Guards against an implementation that only agrees with
 * itself (PAE spacing, DER signatures, keyid over SPKI DER). */
static void test_openssl_interop(void **state)
{
	(void)state;
	static const char pub_pem[] =
	    "-----BEGIN PUBLIC KEY-----\n"
	    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEcIL/3Xz4D2tCeY3W59pN3WTp53aF\n"
	    "eh+FbkzpjY602uWXYEuVjkiKj4wj4Zkzc6hWTiQYRr3AFi4CEBIjeTciBg==\n"
	    "-----END PUBLIC KEY-----\n";
	static const char env_json[] =
	    "{\"payloadType\":\"application/vnd.flotilla.test+json\",\"payload\":"
	    "\"eyJpbnRlcm9wIjoib3BlbnNzbCJ9\",\"signatures\":[{\"keyid\":"
	    "\"467d4beb79b090527a51e9f870c4c0c67d36c3680c8a62e3076ea20af9ba3157\",\"sig\":"
	    "\"MEUCIQCCkeiP4mnOaZp+JfsXC5Bj7zJl2Q7MeIcH9uaL0F7XawIgG5J+"
	    "A43L8Iyd86422NWYVwQMGzlyzY3a6yebCne1vOg=\"}]}";
	flt_key *pub = NULL;
	flt_dsse *env = NULL;
	assert_int_equal(flt_key_import_public((const uint8_t *)pub_pem, sizeof pub_pem - 1, &pub),
	                 FLT_OK);
	assert_string_equal(flt_key_id(pub),
	                    "467d4beb79b090527a51e9f870c4c0c67d36c3680c8a62e3076ea20af9ba3157");
	assert_int_equal(flt_dsse_parse(env_json, sizeof env_json - 1, 0, &env, NULL), FLT_OK);
	assert_memory_equal(env->payload, "{\"interop\":\"openssl\"}", env->payload_len);
	const flt_key *k1[] = {pub};
	struct flt_trust_set ts = trust(1, 1, k1);
	assert_int_equal(flt_dsse_verify(env, TYPE, &ts, NULL, NULL), FLT_OK);
	env->payload[0] = '[';
	assert_int_equal(flt_dsse_verify(env, TYPE, &ts, NULL, NULL), FLT_EVERIFY);
	flt_dsse_free(env);
	flt_key_free(pub);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pae),
	    cmocka_unit_test(test_openssl_interop),
	    cmocka_unit_test(test_roundtrip),
	    cmocka_unit_test(test_every_bit_flip_fails),
	    cmocka_unit_test(test_every_truncation_fails),
	    cmocka_unit_test(test_threshold_distinct_keys),
	    cmocka_unit_test(test_add_signature_limits),
	    cmocka_unit_test(test_strict_parse),
	    cmocka_unit_test(test_parse_alloc_failures),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
