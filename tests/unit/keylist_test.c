/* Unit tests for flt/keylist.h: build/sign/accept round trip, root threshold
 * (provisioned and the list's own), bad root signature, expiry, serial rules
 * (lower refused, equal is idempotent re-delivery), the trust questions
 * (untrusted, revoked, wrong role, expired key) and strict payload decoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "flt/alloc.h"
#include "flt/keylist.h"
#include "flt/protocol.h"
#include "flt/config.h"

/* Exhaustive bit loops run ECDSA verifications by the thousand: instant on the
 * build host, minutes under qemu. Cross builds sample every few bits; native
 * and ASan runs cover every bit. */
static size_t bit_stride(size_t native)
{
	return strcmp(FLT_ARCH, "x86_64") == 0 ? native : native * 7;
}

#define NOW 1800000000LL

enum { ROOT1, ROOT2, REL1, REL2, DIR1, REVOKED, OTHER, NKEYS };
static flt_key *k[NKEYS];
static flt_rng *rng;

static int setup(void **state)
{
	(void)state;
	if (flt_rng_new("keylist-test", &rng) != FLT_OK)
		return -1;
	for (int i = 0; i < NKEYS; i++)
		if (flt_key_generate(rng, &k[i]) != FLT_OK)
			return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (int i = 0; i < NKEYS; i++)
		flt_key_free(k[i]);
	flt_rng_free(rng);
	return 0;
}

#define R(x) (1u << FLT_ROLE_##x)

/* A list valid around NOW: two release keys, one director key, one release
 * key that is also revoked, and REL2 expiring at NOW. */
static flt_keylist *make_list(uint64_t serial)
{
	flt_keylist *kl = NULL;
	assert_int_equal(flt_keylist_new(&kl), FLT_OK);
	kl->serial = serial;
	kl->issued_at = NOW - 100;
	kl->expires_at = NOW + 1000;
	assert_int_equal(flt_keylist_add_key(kl, k[REL1], R(RELEASE), NOW + 500), FLT_OK);
	assert_int_equal(flt_keylist_add_key(kl, k[REL2], R(RELEASE), NOW), FLT_OK);
	assert_int_equal(flt_keylist_add_key(kl, k[DIR1], R(DIRECTOR), NOW + 500), FLT_OK);
	assert_int_equal(flt_keylist_add_key(kl, k[REVOKED], R(RELEASE) | R(DIRECTOR), NOW + 500),
	                 FLT_OK);
	assert_int_equal(flt_keylist_revoke(kl, flt_key_id(k[REVOKED])), FLT_OK);
	return kl;
}

static char *sign_list(const flt_keylist *kl, size_t n, const flt_key *const *roots, size_t *len)
{
	char *json = NULL;
	assert_int_equal(flt_keylist_sign(kl, roots, n, rng, &json, len), FLT_OK);
	return json;
}

static struct flt_trust_set roots_set(unsigned threshold)
{
	struct flt_trust_set ts = {
	    .threshold = threshold, .nkeys = 2, .keys = {k[ROOT1], k[ROOT2]}};
	return ts;
}

static void test_accept_roundtrip_and_trust(void **state)
{
	(void)state;
	flt_keylist *kl = make_list(5), *got = NULL;
	const flt_key *roots[] = {k[ROOT1]};
	size_t len = 0;
	char *json = sign_list(kl, 1, roots, &len);
	struct flt_trust_set rs = roots_set(1);
	struct flt_json_err err = {.reason = FLT_REASON_NONE};
	bool again = true;

	assert_int_equal(flt_keylist_accept(json, len, &rs, NULL, NOW - 1, &got, &again, &err),
	                 FLT_OK);
	assert_false(again);
	assert_int_equal(got->serial, 5);
	assert_int_equal(got->nkeys, 4);
	assert_int_equal(got->nrevoked, 1);
	assert_int_equal(got->threshold[FLT_ROLE_RELEASE], 1);

	const char *rel1 = flt_key_id(k[REL1]), *rel2 = flt_key_id(k[REL2]),
	           *dir = flt_key_id(k[DIR1]);
	assert_true(flt_keylist_is_trusted(got, rel1, FLT_ROLE_RELEASE, NOW - 1));
	assert_int_equal(flt_keylist_key_status(got, rel1, FLT_ROLE_DIRECTOR, NOW - 1),
	                 FLT_REASON_WRONG_ROLE);
	assert_int_equal(flt_keylist_key_status(got, dir, FLT_ROLE_DIRECTOR, NOW - 1),
	                 FLT_REASON_NONE);
	assert_int_equal(
	    flt_keylist_key_status(got, flt_key_id(k[REVOKED]), FLT_ROLE_RELEASE, NOW - 1),
	    FLT_REASON_KEY_REVOKED);
	assert_int_equal(
	    flt_keylist_key_status(got, flt_key_id(k[OTHER]), FLT_ROLE_RELEASE, NOW - 1),
	    FLT_REASON_UNTRUSTED_KEY);
	/* REL2 expires at NOW: trusted one second before, not at it. */
	assert_true(flt_keylist_is_trusted(got, rel2, FLT_ROLE_RELEASE, NOW - 1));
	assert_int_equal(flt_keylist_key_status(got, rel2, FLT_ROLE_RELEASE, NOW),
	                 FLT_REASON_EXPIRED);
	/* The whole list expires at NOW + 1000. */
	assert_int_equal(flt_keylist_key_status(got, rel1, FLT_ROLE_RELEASE, NOW + 1000),
	                 FLT_REASON_EXPIRED);

	struct flt_trust_set ts;
	assert_int_equal(flt_keylist_trust_set(got, FLT_ROLE_RELEASE, NOW - 1, &ts), FLT_OK);
	assert_int_equal(ts.nkeys, 2); /* REL1, REL2; not the revoked one */
	assert_int_equal(ts.threshold, 1);
	assert_int_equal(flt_keylist_trust_set(got, FLT_ROLE_RELEASE, NOW, &ts), FLT_OK);
	assert_int_equal(ts.nkeys, 1);
	assert_int_equal(flt_keylist_trust_set(got, FLT_ROLE_DIRECTOR, NOW, &ts), FLT_OK);
	assert_int_equal(ts.nkeys, 1);
	assert_string_equal(flt_key_id(ts.keys[0]), dir);

	/* Encoding the decoded list reproduces the signed payload byte for byte. */
	char *p1 = NULL, *p2 = NULL;
	size_t l1 = 0, l2 = 0;
	assert_int_equal(flt_keylist_encode(kl, &p1, &l1), FLT_OK);
	assert_int_equal(flt_keylist_encode(got, &p2, &l2), FLT_OK);
	assert_int_equal(l1, l2);
	assert_memory_equal(p1, p2, l1);

	flt_free(p1);
	flt_free(p2);
	flt_free(json);
	flt_keylist_free(kl);
	flt_keylist_free(got);
}

static void test_verify_envelope_roles(void **state)
{
	(void)state;
	flt_keylist *kl = make_list(1);
	const char *type = FLT_PAYLOAD_RELEASE;
	const uint8_t payload[] = "{\"v\":1}";
	enum flt_reason why;

	struct {
		int signer;
		enum flt_role role;
		int64_t now;
		flt_err want;
		enum flt_reason reason;
	} cases[] = {
	    {REL1, FLT_ROLE_RELEASE, NOW, FLT_OK, FLT_REASON_NONE},
	    {DIR1, FLT_ROLE_RELEASE, NOW, FLT_EVERIFY, FLT_REASON_WRONG_ROLE},
	    {REL1, FLT_ROLE_DIRECTOR, NOW, FLT_EVERIFY, FLT_REASON_WRONG_ROLE},
	    {REVOKED, FLT_ROLE_RELEASE, NOW, FLT_EVERIFY, FLT_REASON_KEY_REVOKED},
	    {OTHER, FLT_ROLE_RELEASE, NOW, FLT_EVERIFY, FLT_REASON_UNTRUSTED_KEY},
	    {ROOT1, FLT_ROLE_RELEASE, NOW, FLT_EVERIFY, FLT_REASON_UNTRUSTED_KEY},
	    {REL2, FLT_ROLE_RELEASE, NOW - 1, FLT_OK, FLT_REASON_NONE},
	    {REL2, FLT_ROLE_RELEASE, NOW, FLT_EVERIFY, FLT_REASON_EXPIRED},
	    {REL1, FLT_ROLE_RELEASE, NOW + 1000, FLT_EVERIFY, FLT_REASON_EXPIRED},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		flt_dsse *env = NULL;
		const flt_key *signer[] = {k[cases[i].signer]};
		assert_int_equal(
		    flt_dsse_sign(type, payload, sizeof payload - 1, signer, 1, rng, &env), FLT_OK);
		why = FLT_REASON_NONE;
		flt_err e =
		    flt_keylist_verify_envelope(kl, env, type, cases[i].role, cases[i].now, &why);
		if (e != cases[i].want || why != cases[i].reason)
			fail_msg("case %zu: %s/%s", i, flt_errname(e), flt_reason_name(why));
		flt_dsse_free(env);
	}

	/* Threshold 2 for releases: REL1 twice is not enough, REL1 + REL2 is, and
	 * an extra unknown signer does not hurt. A revoked co-signer is named. */
	kl->threshold[FLT_ROLE_RELEASE] = 2;
	flt_dsse *env = NULL;
	const flt_key *twice[] = {k[REL1], k[REL1]};
	assert_int_equal(flt_dsse_sign(type, payload, sizeof payload - 1, twice, 2, rng, &env),
	                 FLT_OK);
	assert_int_equal(
	    flt_keylist_verify_envelope(kl, env, type, FLT_ROLE_RELEASE, NOW - 1, &why),
	    FLT_EVERIFY);
	assert_int_equal(why, FLT_REASON_THRESHOLD_UNMET);
	flt_dsse_free(env);
	const flt_key *both[] = {k[OTHER], k[REL2], k[REL1]};
	assert_int_equal(flt_dsse_sign(type, payload, sizeof payload - 1, both, 3, rng, &env),
	                 FLT_OK);
	assert_int_equal(
	    flt_keylist_verify_envelope(kl, env, type, FLT_ROLE_RELEASE, NOW - 1, &why), FLT_OK);
	assert_int_equal(flt_keylist_verify_envelope(kl, env, FLT_PAYLOAD_DESIRED, FLT_ROLE_RELEASE,
	                                             NOW - 1, &why),
	                 FLT_EVERIFY);
	assert_int_equal(why, FLT_REASON_WRONG_PAYLOAD_TYPE);
	flt_dsse_free(env);
	const flt_key *withrev[] = {k[REL1], k[REVOKED]};
	assert_int_equal(flt_dsse_sign(type, payload, sizeof payload - 1, withrev, 2, rng, &env),
	                 FLT_OK);
	assert_int_equal(
	    flt_keylist_verify_envelope(kl, env, type, FLT_ROLE_RELEASE, NOW - 1, &why),
	    FLT_EVERIFY);
	assert_int_equal(why, FLT_REASON_KEY_REVOKED);
	flt_dsse_free(env);
	flt_keylist_free(kl);
}

static flt_err accept(const char *json, size_t len, unsigned root_threshold,
                      const struct flt_keylist_state *last, int64_t now, bool *again,
                      enum flt_reason *why)
{
	struct flt_trust_set rs = roots_set(root_threshold);
	struct flt_json_err err = {.reason = FLT_REASON_NONE};
	flt_keylist *got = NULL;
	flt_err e = flt_keylist_accept(json, len, &rs, last, now, &got, again, &err);
	*why = err.reason;
	if (e == FLT_OK)
		assert_non_null(got);
	else
		assert_null(got);
	flt_keylist_free(got);
	return e;
}

static void test_accept_refusals(void **state)
{
	(void)state;
	flt_keylist *kl = make_list(7);
	const flt_key *one_root[] = {k[ROOT1]}, *two_roots[] = {k[ROOT1], k[ROOT2]};
	const flt_key *not_root[] = {k[REL1]}, *root_twice[] = {k[ROOT1], k[ROOT1]};
	enum flt_reason why;
	bool again = false;
	size_t len = 0;
	char *json;

	/* Signed by a release key instead of a root key. */
	json = sign_list(kl, 1, not_root, &len);
	assert_int_equal(accept(json, len, 1, NULL, NOW, &again, &why), FLT_EVERIFY);
	assert_int_equal(why, FLT_REASON_UNTRUSTED_KEY);
	flt_free(json);

	/* Provisioned root threshold 2: one root (even signing twice) is not enough. */
	json = sign_list(kl, 2, root_twice, &len);
	assert_int_equal(accept(json, len, 2, NULL, NOW, &again, &why), FLT_EVERIFY);
	assert_int_equal(why, FLT_REASON_THRESHOLD_UNMET);
	assert_int_equal(accept(json, len, 1, NULL, NOW, &again, &why), FLT_OK);
	/* The list may raise its own root threshold above the provisioned one. */
	kl->root_threshold = 2;
	flt_free(json);
	json = sign_list(kl, 2, root_twice, &len);
	assert_int_equal(accept(json, len, 1, NULL, NOW, &again, &why), FLT_EVERIFY);
	assert_int_equal(why, FLT_REASON_THRESHOLD_UNMET);
	flt_free(json);
	json = sign_list(kl, 2, two_roots, &len);
	assert_int_equal(accept(json, len, 1, NULL, NOW, &again, &why), FLT_OK);
	kl->root_threshold = 1;
	flt_free(json);

	/* Expired: at expires_at and after. */
	json = sign_list(kl, 1, one_root, &len);
	assert_int_equal(accept(json, len, 1, NULL, NOW + 1000, &again, &why), FLT_EVERIFY);
	assert_int_equal(why, FLT_REASON_EXPIRED);
	assert_int_equal(accept(json, len, 1, NULL, NOW + 999, &again, &why), FLT_OK);

	/* Serial: lower refused, equal same bytes is a re-delivery, equal other
	 * bytes refused, higher accepted. */
	struct flt_keylist_state last = {.valid = true, .serial = 8};
	assert_int_equal(accept(json, len, 1, &last, NOW, &again, &why), FLT_ECONFLICT);
	assert_int_equal(why, FLT_REASON_OLD_SERIAL);
	flt_keylist *got = NULL;
	struct flt_trust_set rs = roots_set(1);
	assert_int_equal(flt_keylist_accept(json, len, &rs, NULL, NOW, &got, NULL, NULL), FLT_OK);
	flt_keylist_state_of(got, &last);
	flt_keylist_free(got);
	assert_int_equal(last.serial, 7);
	assert_int_equal(accept(json, len, 1, &last, NOW, &again, &why), FLT_OK);
	assert_true(again);
	/* A new signature over the same payload is still the same list. */
	char *json2 = NULL;
	size_t len2 = 0;
	json2 = sign_list(kl, 1, one_root, &len2);
	assert_int_equal(accept(json2, len2, 1, &last, NOW, &again, &why), FLT_OK);
	assert_true(again);
	flt_free(json2);
	kl->issued_at++;
	json2 = sign_list(kl, 1, one_root, &len2);
	assert_int_equal(accept(json2, len2, 1, &last, NOW, &again, &why), FLT_ECONFLICT);
	assert_int_equal(why, FLT_REASON_OLD_SERIAL);
	flt_free(json2);
	kl->serial = 8;
	json2 = sign_list(kl, 1, one_root, &len2);
	assert_int_equal(accept(json2, len2, 1, &last, NOW, &again, &why), FLT_OK);
	assert_false(again);
	flt_free(json2);

	/* Flipped bits anywhere in the text never yield an accepted list. */
	for (size_t bit = 0; bit < len * 8; bit += bit_stride(7)) {
		json[bit / 8] ^= (char)(1u << (bit % 8));
		assert_int_not_equal(accept(json, len, 1, NULL, NOW, &again, &why), FLT_OK);
		json[bit / 8] ^= (char)(1u << (bit % 8));
	}
	flt_free(json);

	/* A key-list payload signed under another payloadType. */
	char *payload = NULL;
	size_t plen = 0;
	flt_dsse *env = NULL;
	assert_int_equal(flt_keylist_encode(kl, &payload, &plen), FLT_OK);
	assert_int_equal(
	    flt_dsse_sign(FLT_PAYLOAD_RELEASE, (uint8_t *)payload, plen, one_root, 1, rng, &env),
	    FLT_OK);
	assert_int_equal(flt_dsse_serialize(env, &json, &len), FLT_OK);
	assert_int_equal(accept(json, len, 1, NULL, NOW, &again, &why), FLT_EVERIFY);
	assert_int_equal(why, FLT_REASON_WRONG_PAYLOAD_TYPE);
	flt_free(json);
	flt_free(payload);
	flt_dsse_free(env);
	flt_keylist_free(kl);
}

static void expect_decode(const char *json, flt_err want)
{
	flt_keylist *kl = NULL;
	struct flt_json_err err = {.reason = FLT_REASON_NONE};
	flt_err got = flt_keylist_decode((const uint8_t *)json, strlen(json), &kl, &err);
	if (got != want)
		fail_msg("%s: got %s want %s (%s)", json, flt_errname(got), flt_errname(want),
		         err.msg);
	if (got == FLT_OK)
		flt_keylist_free(kl);
	else
		assert_int_not_equal(err.reason, FLT_REASON_NONE);
}

/* Replaces the first occurrence of `from` in s with `to`; returns a new string. */
static char *replace(const char *s, const char *from, const char *to)
{
	const char *p = strstr(s, from);
	assert_non_null(p);
	size_t n = strlen(s) - strlen(from) + strlen(to);
	char *r = flt_malloc(n + 1);
	size_t pre = (size_t)(p - s);
	memcpy(r, s, pre);
	memcpy(r + pre, to, strlen(to));
	memcpy(r + pre + strlen(to), p + strlen(from), strlen(p + strlen(from)) + 1);
	return r;
}

static void test_decode_strict(void **state)
{
	(void)state;
	flt_keylist *kl = make_list(3);
	char *good = NULL;
	size_t len = 0;
	assert_int_equal(flt_keylist_encode(kl, &good, &len), FLT_OK);
	expect_decode(good, FLT_OK);

	char buf[256];
	const char *rel1 = flt_key_id(k[REL1]), *rel2 = flt_key_id(k[REL2]);
	struct {
		const char *from, *to;
		flt_err want;
	} cases[] = {
	    {"{\"v\":1", "{\"v\":2", FLT_EUNSUPPORTED},
	    {"{\"v\":1", "{\"x\":0,\"v\":1", FLT_EPARSE},
	    {"\"serial\":3", "\"serial\":0", FLT_EPARSE},
	    {"\"serial\":3", "\"serial\":-3", FLT_EPARSE},
	    {"\"serial\":3", "\"serial\":3.5", FLT_EPARSE},
	    {"\"serial\":3", "\"serial\":9007199254740992", FLT_EPARSE},
	    {"\"serial\":3", "\"serial\":\"3\"", FLT_EPARSE},
	    {"\"serial\":3", "\"serial\":3,\"serial\":4", FLT_EPARSE},
	    {"\"root\":1", "\"root\":0", FLT_EPARSE},
	    {"\"root\":1", "\"root\":17", FLT_ELIMIT},
	    {"\"release\":1", "\"release\":1,\"other\":1", FLT_EPARSE},
	    {"[\"release\"]", "[\"root\"]", FLT_EPARSE},
	    {"[\"release\"]", "[\"release\",\"release\"]", FLT_EPARSE},
	    {"[\"release\"]", "[]", FLT_EPARSE},
	    {"\"revoked\":[", "\"revoked\":[\"ABC\",", FLT_EPARSE},
	    {rel1, rel2, FLT_EPARSE}, /* keyid is not the hash of public_key */
	    {"\"public_key\":\"", "\"public_key\":\"AAAA", FLT_EPARSE},
	    {"\"keys\":[", "\"keys\":[1,", FLT_EPARSE},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *bad = replace(good, cases[i].from, cases[i].to);
		snprintf(buf, sizeof buf, "case %zu", i);
		flt_keylist *x = NULL;
		struct flt_json_err err = {.reason = FLT_REASON_NONE};
		flt_err got = flt_keylist_decode((const uint8_t *)bad, strlen(bad), &x, &err);
		if (got != cases[i].want)
			fail_msg("%s: got %s want %s (%s)", buf, flt_errname(got),
			         flt_errname(cases[i].want), err.msg);
		assert_null(x);
		flt_free(bad);
	}
	/* The same key listed twice. */
	const char *keys = strstr(good, "\"keys\":[") + 8;
	const char *end = strstr(keys, "},") + 1;
	char *first = flt_strndup(keys, (size_t)(end - keys));
	size_t tolen = 2 * strlen(first) + 2;
	char *to = flt_malloc(tolen);
	snprintf(to, tolen, "%s,%s", first, first);
	char *dup = replace(good, first, to);
	expect_decode(dup, FLT_EPARSE);
	flt_free(dup);
	flt_free(first);
	flt_free(to);

	/* Every truncation fails cleanly. */
	for (size_t n = 0; n < len; n++) {
		char *cut = flt_memdup(good, n ? n : 1);
		flt_keylist *x = NULL;
		assert_int_not_equal(flt_keylist_decode((const uint8_t *)cut, n, &x, NULL), FLT_OK);
		flt_free(cut);
	}

	/* Building refuses what decoding would refuse. */
	char *out = NULL;
	kl->serial = 0;
	assert_int_equal(flt_keylist_encode(kl, &out, &len), FLT_EINVAL);
	kl->serial = 1;
	kl->expires_at = kl->issued_at;
	assert_int_equal(flt_keylist_encode(kl, &out, &len), FLT_EINVAL);
	assert_int_equal(flt_keylist_add_key(kl, k[REL1], R(RELEASE), 0), FLT_ECONFLICT);
	assert_int_equal(flt_keylist_add_key(kl, k[OTHER], 0, 0), FLT_EINVAL);
	assert_int_equal(flt_keylist_revoke(kl, "nothex"), FLT_EINVAL);

	enum flt_role r;
	assert_true(flt_role_from_name("director", &r));
	assert_int_equal(r, FLT_ROLE_DIRECTOR);
	assert_false(flt_role_from_name("root", &r));
	assert_string_equal(flt_role_name(FLT_ROLE_RELEASE), "release");

	flt_free(good);
	flt_keylist_free(kl);
}

/* Every allocation failure while accepting surfaces as FLT_ENOMEM with
 * nothing leaked (ASan) and no list returned. */
static void test_accept_alloc_failures(void **state)
{
	(void)state;
	flt_keylist *kl = make_list(2);
	const flt_key *one_root[] = {k[ROOT1]};
	size_t len = 0;
	char *json = sign_list(kl, 1, one_root, &len);
	struct flt_trust_set rs = roots_set(1);
	long n;
	for (n = 0; n < 1000; n++) {
		flt_keylist *got = NULL;
		flt_alloc_fail_after(n);
		flt_err e = flt_keylist_accept(json, len, &rs, NULL, NOW, &got, NULL, NULL);
		flt_alloc_fail_reset();
		if (e == FLT_OK) {
			assert_int_equal(got->nkeys, 4);
			flt_keylist_free(got);
			break;
		}
		assert_int_equal(e, FLT_ENOMEM);
		assert_null(got);
	}
	assert_true(n > 4 && n < 1000);
	flt_free(json);
	flt_keylist_free(kl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_accept_roundtrip_and_trust),
	    cmocka_unit_test(test_verify_envelope_roles),
	    cmocka_unit_test(test_accept_refusals),
	    cmocka_unit_test(test_decode_strict),
	    cmocka_unit_test(test_accept_alloc_failures),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
