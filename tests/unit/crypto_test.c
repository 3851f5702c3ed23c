/* Unit tests for flt/crypto.h: SHA-256 (one-shot, streaming, hex), strict
 * base64, constant-time compare, and P-256 keys (generate, import/export,
 * keyid, sign/verify, refusal of other curves and malformed encodings). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>

#include "flt/alloc.h"
#include "flt/crypto.h"
#include "flt/config.h"

/* Exhaustive bit loops run ECDSA verifications by the thousand: instant on the
 * build host, minutes under qemu. Cross builds sample every few bits; native
 * and ASan runs cover every bit. */
static size_t bit_stride(size_t native)
{
	return strcmp(FLT_ARCH, "x86_64") == 0 ? native : native * 7;
}

static void test_sha256_vectors(void **state)
{
	(void)state;
	char hex[FLT_SHA256_HEX_LEN + 1];
	assert_int_equal(flt_sha256_hex("abc", 3, hex), FLT_OK);
	assert_string_equal(hex,
	                    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_int_equal(flt_sha256_hex(NULL, 0, hex), FLT_OK);
	assert_string_equal(hex,
	                    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");

	/* Streaming over any split equals one-shot. */
	uint8_t data[200], whole[32], part[32];
	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (uint8_t)(i * 7 + 3);
	assert_int_equal(flt_sha256(data, sizeof data, whole), FLT_OK);
	for (size_t cut = 0; cut <= sizeof data; cut += 13) {
		flt_sha256_ctx c;
		flt_sha256_init(&c);
		flt_sha256_update(&c, data, cut);
		flt_sha256_update(&c, data + cut, sizeof data - cut);
		assert_int_equal(flt_sha256_final(&c, part), FLT_OK);
		assert_memory_equal(part, whole, 32);
	}
}

static void test_hex(void **state)
{
	(void)state;
	uint8_t b[3] = {0x00, 0xab, 0xff}, back[3];
	char s[7];
	assert_int_equal(flt_hex_encode(b, 3, s, sizeof s), FLT_OK);
	assert_string_equal(s, "00abff");
	assert_int_equal(flt_hex_encode(b, 3, s, 6), FLT_EINVAL);
	assert_int_equal(flt_hex_decode("00abff", 6, back, 3), FLT_OK);
	assert_memory_equal(back, b, 3);
	assert_int_equal(flt_hex_decode("00ABff", 6, back, 3), FLT_EPARSE);
	assert_int_equal(flt_hex_decode("00abf", 5, back, 3), FLT_EPARSE);
	assert_int_equal(flt_hex_decode("00abfg", 6, back, 3), FLT_EPARSE);
	assert_int_equal(flt_hex_decode("00abff00", 8, back, 3), FLT_EPARSE);

	char id[65];
	memset(id, 'a', 64);
	id[64] = '\0';
	assert_true(flt_is_sha256_hex(id));
	id[10] = 'A';
	assert_false(flt_is_sha256_hex(id));
	id[10] = 'a';
	id[63] = '\0';
	assert_false(flt_is_sha256_hex(id));
	assert_false(flt_is_sha256_hex(NULL));

	assert_true(flt_ct_equal("abcd", "abcd", 4));
	assert_false(flt_ct_equal("abcd", "abce", 4));
	assert_true(flt_ct_equal("a", "b", 0));
}

static void test_base64_roundtrip(void **state)
{
	(void)state;
	uint8_t data[10];
	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (uint8_t)(0xf0 + i);
	for (size_t n = 0; n <= sizeof data; n++) {
		char *s = NULL;
		uint8_t *back = NULL;
		size_t slen = 0, blen = 99;
		assert_int_equal(flt_base64_encode(data, n, &s, &slen), FLT_OK);
		assert_int_equal(slen, (n + 2) / 3 * 4);
		assert_int_equal(strlen(s), slen);
		assert_int_equal(flt_base64_decode(s, slen, 100, &back, &blen), FLT_OK);
		assert_int_equal(blen, n);
		if (n)
			assert_memory_equal(back, data, n);
		/* One byte short of the decoded size is over the limit. */
		if (n) {
			uint8_t *x = NULL;
			size_t xl = 0;
			assert_int_equal(flt_base64_decode(s, slen, n - 1, &x, &xl), FLT_ELIMIT);
			assert_null(x);
		}
		flt_free(s);
		flt_free(back);
	}
}

static void test_base64_strict(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "QQ=",      /* length not a multiple of 4 */
	    "Q Q=",     /* whitespace */
	    "QQ==\n",   /* trailing newline */
	    "QR==",     /* nonzero unused bits: non-canonical */
	    "QUI=QUI=", /* padding in the middle */
	    "=QQ=",     /* padding first */
	    "A===",     /* three pads */
	    "====",     /* only padding */
	    "QQ-_",     /* URL-safe alphabet */
	    "QUJD\x80", /* high byte */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		uint8_t *out = NULL;
		size_t n = 0;
		assert_int_equal(flt_base64_decode(bad[i], strlen(bad[i]), 100, &out, &n),
		                 FLT_EPARSE);
		assert_null(out);
	}
	uint8_t *out = NULL;
	size_t n = 0;
	assert_int_equal(flt_base64_decode("QQ==", 4, 100, &out, &n), FLT_OK);
	assert_int_equal(n, 1);
	assert_int_equal(out[0], 'A');
	flt_free(out);
}

static void test_key_roundtrips(void **state)
{
	(void)state;
	flt_key *k = NULL, *priv = NULL, *pub = NULL, *pub2 = NULL;
	char *pem = NULL, *ppem = NULL;
	uint8_t *der = NULL;
	size_t pemlen = 0, ppemlen = 0, derlen = 0;
	char hex[65];

	assert_int_equal(flt_key_generate(NULL, &k), FLT_OK);
	assert_true(flt_key_has_private(k));
	assert_true(flt_is_sha256_hex(flt_key_id(k)));

	/* keyid is the hash of the SPKI DER. */
	assert_int_equal(flt_key_export_public_der(k, &der, &derlen), FLT_OK);
	assert_int_equal(derlen, 91);
	assert_int_equal(flt_sha256_hex(der, derlen, hex), FLT_OK);
	assert_string_equal(hex, flt_key_id(k));

	assert_int_equal(flt_key_export_private_pem(k, &pem, &pemlen), FLT_OK);
	assert_non_null(strstr(pem, "-----BEGIN EC PRIVATE KEY-----"));
	assert_int_equal(flt_key_import_private((const uint8_t *)pem, pemlen, &priv), FLT_OK);
	assert_string_equal(flt_key_id(priv), flt_key_id(k));
	assert_true(flt_key_has_private(priv));

	assert_int_equal(flt_key_export_public_pem(k, &ppem, &ppemlen), FLT_OK);
	assert_non_null(strstr(ppem, "-----BEGIN PUBLIC KEY-----"));
	assert_int_equal(flt_key_import_public((const uint8_t *)ppem, ppemlen, &pub), FLT_OK);
	assert_string_equal(flt_key_id(pub), flt_key_id(k));
	assert_false(flt_key_has_private(pub));
	assert_int_equal(flt_key_import_public(der, derlen, &pub2), FLT_OK);
	assert_string_equal(flt_key_id(pub2), flt_key_id(k));

	/* A public key cannot sign nor export a private key. */
	char *x = NULL;
	size_t xl = 0;
	uint8_t sig[FLT_ECDSA_SIG_MAX];
	assert_int_equal(flt_key_export_private_pem(pub, &x, &xl), FLT_EINVAL);
	assert_int_equal(flt_key_sign(pub, NULL, "m", 1, sig, &xl), FLT_EINVAL);
	/* A public PEM is not a private key. */
	flt_key *none = NULL;
	assert_int_not_equal(flt_key_import_private((const uint8_t *)ppem, ppemlen, &none), FLT_OK);
	assert_null(none);

	flt_key_free(k);
	flt_key_free(priv);
	flt_key_free(pub);
	flt_key_free(pub2);
	flt_free(pem);
	flt_free(ppem);
	flt_free(der);
	flt_key_free(NULL);
}

static void test_key_import_refusals(void **state)
{
	(void)state;
	flt_key *k = NULL, *out = NULL;
	uint8_t *der = NULL, *longer = NULL;
	size_t derlen = 0;
	assert_int_equal(flt_key_generate(NULL, &k), FLT_OK);
	assert_int_equal(flt_key_export_public_der(k, &der, &derlen), FLT_OK);

	/* Trailing bytes after the SPKI: one key, one encoding. */
	longer = flt_malloc(derlen + 1);
	memcpy(longer, der, derlen);
	longer[derlen] = 0;
	assert_int_equal(flt_key_import_public(longer, derlen + 1, &out), FLT_EPARSE);
	/* Every truncation fails cleanly. */
	for (size_t n = 0; n < derlen; n++)
		assert_int_not_equal(flt_key_import_public(der, n, &out), FLT_OK);
	/* A point off the curve. */
	longer[derlen - 1] ^= 1;
	assert_int_not_equal(flt_key_import_public(longer, derlen, &out), FLT_OK);
	assert_int_equal(flt_key_import_public((const uint8_t *)"junk", 4, &out), FLT_EPARSE);
	assert_int_equal(
	    flt_key_import_public((const uint8_t *)"-----BEGIN PUBLIC KEY-----\nxx", 29, &out),
	    FLT_EPARSE);
	assert_null(out);

	/* P-384 parses but is not ours. */
	mbedtls_pk_context pk;
	mbedtls_entropy_context ent;
	mbedtls_ctr_drbg_context drbg;
	uint8_t buf[256];
	mbedtls_pk_init(&pk);
	mbedtls_entropy_init(&ent);
	mbedtls_ctr_drbg_init(&drbg);
	assert_int_equal(mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &ent, NULL, 0), 0);
	assert_int_equal(mbedtls_pk_setup(&pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)), 0);
	assert_int_equal(mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP384R1, mbedtls_pk_ec(pk),
	                                     mbedtls_ctr_drbg_random, &drbg),
	                 0);
	int n = mbedtls_pk_write_pubkey_der(&pk, buf, sizeof buf);
	assert_true(n > 0);
	assert_int_equal(flt_key_import_public(buf + sizeof buf - n, (size_t)n, &out),
	                 FLT_EUNSUPPORTED);
	n = mbedtls_pk_write_key_der(&pk, buf, sizeof buf);
	assert_true(n > 0);
	assert_int_equal(flt_key_import_private(buf + sizeof buf - n, (size_t)n, &out),
	                 FLT_EUNSUPPORTED);
	assert_null(out);
	mbedtls_pk_free(&pk);
	mbedtls_ctr_drbg_free(&drbg);
	mbedtls_entropy_free(&ent);

	flt_key_free(k);
	flt_free(der);
	flt_free(longer);
}

static void test_sign_verify(void **state)
{
	(void)state;
	flt_key *a = NULL, *b = NULL;
	flt_rng *rng = NULL;
	uint8_t sig[FLT_ECDSA_SIG_MAX];
	size_t siglen = 0;
	const char msg[] = "flotilla";

	assert_int_equal(flt_rng_new("test", &rng), FLT_OK);
	assert_int_equal(flt_key_generate(rng, &a), FLT_OK);
	assert_int_equal(flt_key_generate(rng, &b), FLT_OK);
	assert_string_not_equal(flt_key_id(a), flt_key_id(b));
	assert_int_equal(flt_key_sign(a, rng, msg, sizeof msg, sig, &siglen), FLT_OK);
	assert_in_range(siglen, FLT_ECDSA_SIG_MIN, FLT_ECDSA_SIG_MAX);
	assert_int_equal(flt_key_verify(a, msg, sizeof msg, sig, siglen), FLT_OK);
	assert_int_equal(flt_key_verify(b, msg, sizeof msg, sig, siglen), FLT_EVERIFY);
	assert_int_equal(flt_key_verify(a, msg, sizeof msg - 1, sig, siglen), FLT_EVERIFY);
	for (size_t i = 0; i < siglen * 8; i += bit_stride(1)) {
		sig[i / 8] ^= (uint8_t)(1u << (i % 8));
		assert_int_equal(flt_key_verify(a, msg, sizeof msg, sig, siglen), FLT_EVERIFY);
		sig[i / 8] ^= (uint8_t)(1u << (i % 8));
	}
	assert_int_equal(flt_key_verify(a, msg, sizeof msg, sig, siglen - 1), FLT_EVERIFY);
	uint8_t longer[FLT_ECDSA_SIG_MAX + 1];
	memcpy(longer, sig, siglen);
	longer[siglen] = 0;
	assert_int_equal(flt_key_verify(a, msg, sizeof msg, longer, siglen + 1), FLT_EVERIFY);

	uint8_t r1[16], r2[16];
	assert_int_equal(flt_rng_bytes(rng, r1, sizeof r1), FLT_OK);
	assert_int_equal(flt_rng_bytes(rng, r2, sizeof r2), FLT_OK);
	assert_memory_not_equal(r1, r2, sizeof r1);

	flt_key_free(a);
	flt_key_free(b);
	flt_rng_free(rng);
	flt_rng_free(NULL);
}

static void test_alloc_failures(void **state)
{
	(void)state;
	/* Every allocation failure inside import/export surfaces as an error
	 * and leaks nothing (ASan checks the leak part). */
	flt_key *k = NULL;
	char *pem = NULL;
	size_t len = 0;
	assert_int_equal(flt_key_generate(NULL, &k), FLT_OK);
	assert_int_equal(flt_key_export_private_pem(k, &pem, &len), FLT_OK);
	for (long n = 0; n < 40; n++) {
		flt_key *x = NULL;
		flt_alloc_fail_after(n);
		flt_err e = flt_key_import_private((const uint8_t *)pem, len, &x);
		flt_alloc_fail_reset();
		if (e == FLT_OK) {
			assert_string_equal(flt_key_id(x), flt_key_id(k));
			flt_key_free(x);
			break;
		}
		assert_null(x);
	}
	flt_free(pem);
	flt_key_free(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sha256_vectors),   cmocka_unit_test(test_hex),
	    cmocka_unit_test(test_base64_roundtrip), cmocka_unit_test(test_base64_strict),
	    cmocka_unit_test(test_key_roundtrips),   cmocka_unit_test(test_key_import_refusals),
	    cmocka_unit_test(test_sign_verify),      cmocka_unit_test(test_alloc_failures),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
